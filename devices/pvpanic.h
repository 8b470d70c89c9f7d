/* pvpanic.h: pvpanic device (QEMU0001), how a guest reports a panic. */
#ifndef DEVICES_PVPANIC_H
#define DEVICES_PVPANIC_H

#include <stdbool.h>
#include <stdint.h>

/* Bus access callback; `opaque` is the struct machine. */
void pvpanic_access(void *opaque, uint64_t offset, uint8_t *data,
		    unsigned int len, bool is_write);

#endif
