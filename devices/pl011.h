/* pl011.h: ARM PrimeCell PL011 UART model (the aarch64 console, ttyAMA0). */
#ifndef DEVICES_PL011_H
#define DEVICES_PL011_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/uart.h"

/*
 * Enough of the PL011 (ARM DDI 0183) for Linux's amba-pl011 driver and its
 * earlycon: data, flags, the baud rate and line control registers (kept,
 * not acted on), interrupt mask, raw and masked status and clear, loopback,
 * and the PrimeCell identification the AMBA bus matches the driver by.
 * Transmission is instantaneous: the transmit FIFO is always empty, so the
 * transmit interrupt is raised by every write to the data register and
 * cleared through ICR. The receive interrupts follow the receive buffer:
 * raised while it holds data, cleared by draining it. No DMA, no modem
 * lines (CTS, DSR and DCD read as asserted).
 */

/* Register offsets (PL011 TRM, table 3-1). */
#define PL011_DR	0x000
#define PL011_RSR	0x004 /* receive status / error clear */
#define PL011_FR	0x018
#define PL011_ILPR	0x020
#define PL011_IBRD	0x024
#define PL011_FBRD	0x028
#define PL011_LCR_H	0x02c
#define PL011_CR	0x030
#define PL011_IFLS	0x034
#define PL011_IMSC	0x038
#define PL011_RIS	0x03c
#define PL011_MIS	0x040
#define PL011_ICR	0x044
#define PL011_DMACR	0x048
#define PL011_PERIPH_ID 0xfe0 /* four registers, one byte each */
#define PL011_PCELL_ID	0xff0

/* Flag register bits. */
#define PL011_FR_CTS  (1u << 0)
#define PL011_FR_DSR  (1u << 1)
#define PL011_FR_DCD  (1u << 2)
#define PL011_FR_BUSY (1u << 3)
#define PL011_FR_RXFE (1u << 4)
#define PL011_FR_TXFF (1u << 5)
#define PL011_FR_RXFF (1u << 6)
#define PL011_FR_TXFE (1u << 7)

/* Control register bits. */
#define PL011_CR_UARTEN (1u << 0)
#define PL011_CR_LBE	(1u << 7)
#define PL011_CR_TXE	(1u << 8)
#define PL011_CR_RXE	(1u << 9)

/* Interrupt bits of IMSC, RIS, MIS and ICR. */
#define PL011_INT_RX  (1u << 4)
#define PL011_INT_TX  (1u << 5)
#define PL011_INT_RT  (1u << 6) /* receive timeout */
#define PL011_INT_ALL 0x7ffu

/* What the AMBA bus reads: part 0x011, designer ARM (0x41), revision 0. */
#define PL011_PERIPH_ID_VALUE 0x00041011u
#define PL011_PCELL_ID_VALUE  0xb105f00du

#define PL011_RX_BUF 1024

struct pl011 {
	pthread_mutex_t lock;
	const struct uart_ops *ops;
	void *opaque;

	uint32_t ilpr, ibrd, fbrd, lcr_h, cr, ifls, imsc, dmacr;
	uint32_t int_level; /* latched interrupt bits (TX); RX bits derive */
	int irq_level;
	bool rx_wanted; /* rx_space() owed once room frees up */

	uint8_t rx[PL011_RX_BUF];
	size_t rx_head, rx_count;
};

void pl011_init(struct pl011 *u, const struct uart_ops *ops, void *opaque);
void pl011_destroy(struct pl011 *u);

/* MMIO access callback for the 4 KiB register frame; `opaque` is the struct pl011. */
void pl011_access(void *opaque, uint64_t offset, uint8_t *data,
		  unsigned int len, bool is_write);

/* Queue received bytes (a uart_receive_fn; `uart` is the struct pl011). */
size_t pl011_receive(void *uart, const uint8_t *buf, size_t len);

#endif
