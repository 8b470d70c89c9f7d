/* boot_timer.h: the guest marks boot progress by writing to a register (Firecracker's value 123 = init started). */
#ifndef DEVICES_BOOT_TIMER_H
#define DEVICES_BOOT_TIMER_H

#include <stdbool.h>
#include <stdint.h>

#define BOOT_TIMER_INIT_MARKER 123

/* MMIO boot timer: a write at offset 0 records its value; opaque: machine. */
void boot_timer_mmio_access(void *opaque, uint64_t offset, uint8_t *data,
			    unsigned int len, bool is_write);

/* x86 debug port 0x80: every byte written is a marker; opaque: machine. */
void boot_timer_port_access(void *opaque, uint64_t offset, uint8_t *data,
			    unsigned int len, bool is_write);

#endif
