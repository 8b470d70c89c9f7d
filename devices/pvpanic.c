/* pvpanic.c: the guest announces a kernel panic by writing to this register. */
#include "devices/pvpanic.h"

#include "devices/machine.h"

#define PVPANIC_PANICKED     (1u << 0)
#define PVPANIC_CRASH_LOADED (1u << 1)

void pvpanic_access(void *opaque, uint64_t offset, uint8_t *data,
		    unsigned int len, bool is_write)
{
	struct machine *m = opaque;

	if (!is_write) {
		/* Reading returns the events we support. */
		data[0] = PVPANIC_PANICKED | PVPANIC_CRASH_LOADED;
		for (unsigned int i = 1; i < len; i++)
			data[i] = 0;
		return;
	}
	if (data[0] & PVPANIC_PANICKED)
		machine_end(m, MICROVM_EXIT_PANIC, 0,
			    "guest kernel panicked (pvpanic event 0x%x)",
			    data[0]);
	else if (data[0] & PVPANIC_CRASH_LOADED)
		log_info(m->log, "pvpanic",
			 "guest crashed; a crash kernel is loaded");
}
