/* serial.h: 16550A UART model (console on x86 at 0x3f8, IRQ 4). */
#ifndef DEVICES_SERIAL_H
#define DEVICES_SERIAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/uart.h"

#define SERIAL_RX_BUF 1024

struct serial {
	pthread_mutex_t lock;
	const struct uart_ops *ops;
	void *opaque;

	uint8_t ier, lcr, mcr, lsr, msr, scr, fcr;
	uint8_t dll, dlm;
	bool thr_ipending;
	int irq_level;
	bool rx_wanted; /* rx_space() owed once room frees up */

	uint8_t rx[SERIAL_RX_BUF];
	size_t rx_head, rx_count;
};

void serial_init(struct serial *s, const struct uart_ops *ops, void *opaque);
void serial_destroy(struct serial *s);

/* Bus access callback; `opaque` is the struct serial. */
void serial_access(void *opaque, uint64_t offset, uint8_t *data,
		   unsigned int len, bool is_write);

/* Queue received bytes (a uart_receive_fn; `uart` is the struct serial). */
size_t serial_receive(void *uart, const uint8_t *buf, size_t len);

#endif
