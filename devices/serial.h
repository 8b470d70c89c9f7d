/* serial.h: 16550A UART model (console on x86 at 0x3f8, IRQ 4). */
#ifndef DEVICES_SERIAL_H
#define DEVICES_SERIAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SERIAL_RX_BUF 1024

struct serial_ops {
	/* Transmit bytes (called with the device lock held). */
	void (*tx)(void *opaque, const uint8_t *buf, size_t len);
	/* Set the interrupt line level. */
	void (*irq)(void *opaque, int level);
	/* The guest drained receive data: more input can be accepted. */
	void (*rx_space)(void *opaque);
};

struct serial {
	pthread_mutex_t lock;
	const struct serial_ops *ops;
	void *opaque;

	uint8_t ier, lcr, mcr, lsr, msr, scr, fcr;
	uint8_t dll, dlm;
	bool thr_ipending;
	int irq_level;
	bool rx_wanted; /* rx_space() owed once room frees up */

	uint8_t rx[SERIAL_RX_BUF];
	size_t rx_head, rx_count;
};

void serial_init(struct serial *s, const struct serial_ops *ops, void *opaque);
void serial_destroy(struct serial *s);

/* Bus access callback; `opaque` is the struct serial. */
void serial_access(void *opaque, uint64_t offset, uint8_t *data,
		   unsigned int len, bool is_write);

/*
 * Queue received bytes; returns how many were accepted. When fewer than
 * `len` fit, ops->rx_space() is called once room frees up.
 */
size_t serial_receive(struct serial *s, const uint8_t *buf, size_t len);

#endif
