/* boot_timer.c: records guest boot markers with their time since microvm_create(). */
#include "devices/boot_timer.h"

#include <string.h>

#include "devices/machine.h"

static void m_marker(void *opaque, uint32_t value, const char *source)
{
	struct machine *m = opaque;

	m->ops->boot_marker(m, value, source);
}

void boot_timer_mmio_access(void *opaque, uint64_t offset, uint8_t *data,
			    unsigned int len, bool is_write)
{
	uint32_t v = 0;

	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	if (offset != 0)
		return;
	memcpy(&v, data, len < 4 ? len : 4);
	m_marker(opaque, v, "mmio");
}

void boot_timer_port_access(void *opaque, uint64_t offset, uint8_t *data,
			    unsigned int len, bool is_write)
{
	if (!is_write) {
		memset(data, 0xff, len);
		return;
	}
	m_marker(opaque, data[0], "port 0x80");
}
