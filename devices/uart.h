/* uart.h: what a console UART model (16550, PL011) needs from the machine, and how input reaches it. */
#ifndef DEVICES_UART_H
#define DEVICES_UART_H

#include <stddef.h>
#include <stdint.h>

/*
 * Both UART models hand their output to, and take their input from, the
 * same bounded console path (vmm/console.c): the board code creates the
 * model with these ops and tells the console how to feed it.
 */
struct uart_ops {
	/* Transmit bytes (called with the device lock held). */
	void (*tx)(void *opaque, const uint8_t *buf, size_t len);
	/* Set the interrupt line level. */
	void (*irq)(void *opaque, int level);
	/* The guest drained receive data: more input can be accepted. */
	void (*rx_space)(void *opaque);
};

/*
 * Queue received bytes in the UART `uart`; returns how many were accepted.
 * When fewer than `len` fit, the model calls ops->rx_space() once room
 * frees up.
 */
typedef size_t (*uart_receive_fn)(void *uart, const uint8_t *buf, size_t len);

#endif
