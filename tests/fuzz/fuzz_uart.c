/* fuzz_uart.c: libFuzzer target: register access sequences to the 16550 and PL011 models with receive() calls interleaved, checked against a model of the receive FIFO. */
#include <linux/serial_reg.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "devices/pl011.h"
#include "devices/serial.h"
#include "tests/fuzz/fuzz.h"

/*
 * Input: byte 0 bit 0 picks the UART (0: 16550, 1: PL011); then ops, each
 * an opcode byte and its fields:
 *   op % 4 = 0, 1: write: u16 offset, u8 length selector, u32 value
 *   op % 4 = 2: read: u16 offset, u8 length selector
 *   op % 4 = 3: receive: u8 n (% 80), then n bytes of input
 * Offsets are taken modulo 16 (16550) or 0x1000 (PL011), lengths are 1, 2,
 * 4 or 8. The target keeps its own copy of the receive FIFO and of what
 * was transmitted and checks the device against it after every op.
 */
#define FZ_MAX_OPS 4096
#define FZ_FIFO	   1024 /* SERIAL_RX_BUF == PL011_RX_BUF */

struct fake {
	bool pl011;
	struct serial s;
	struct pl011 u;
	uint8_t fifo[FZ_FIFO]; /* the model's receive FIFO */
	size_t head, count;
	size_t tx_expected, tx_seen;
	uint8_t tx_last;
	int level; /* as the irq op last set it */
};

static size_t dev_count(const struct fake *f)
{
	return f->pl011 ? f->u.rx_count : f->s.rx_count;
}

static void f_tx(void *o, const uint8_t *b, size_t n)
{
	struct fake *f = o;

	/* Never more bytes than the guest wrote, each as written. */
	FZ_CHECK(n == 1 && f->tx_seen < f->tx_expected);
	FZ_CHECK(b[0] == f->tx_last);
	f->tx_seen += n;
}

static void f_irq(void *o, int level)
{
	struct fake *f = o;

	FZ_CHECK(level == 0 || level == 1);
	FZ_CHECK(level != f->level); /* only changes are signalled */
	f->level = level;
}

static void f_space(void *o)
{
	struct fake *f = o;

	/* Room is announced only once half the FIFO is free. */
	FZ_CHECK(dev_count(f) <= FZ_FIFO / 2);
}

static const struct uart_ops ops = {f_tx, f_irq, f_space};

static void model_push(struct fake *f, uint8_t c)
{
	if (f->count == FZ_FIFO)
		return;
	f->fifo[(f->head + f->count) % FZ_FIFO] = c;
	f->count++;
}

static int model_pop(struct fake *f)
{
	uint8_t c;

	if (!f->count)
		return -1;
	c = f->fifo[f->head];
	f->head = (f->head + 1) % FZ_FIFO;
	f->count--;
	return c;
}

static void check_state(struct fake *f)
{
	if (f->pl011) {
		const struct pl011 *u = &f->u;
		uint32_t ris = u->int_level |
			       (u->rx_count ? PL011_INT_RX | PL011_INT_RT : 0);

		FZ_CHECK(u->rx_count <= PL011_RX_BUF &&
			 u->rx_head < PL011_RX_BUF);
		FZ_CHECK(u->irq_level == ((ris & u->imsc) != 0));
		FZ_CHECK(u->irq_level == f->level);
		FZ_CHECK(!(u->imsc & ~PL011_INT_ALL));
	} else {
		const struct serial *s = &f->s;

		FZ_CHECK(s->rx_count <= SERIAL_RX_BUF &&
			 s->rx_head < SERIAL_RX_BUF);
		FZ_CHECK(!!(s->lsr & UART_LSR_DR) == (s->rx_count != 0));
		FZ_CHECK(s->irq_level == f->level);
		FZ_CHECK(!(s->ier & 0xf0));
	}
	FZ_CHECK(dev_count(f) == f->count);
	FZ_CHECK(f->tx_seen == f->tx_expected);
}

static void uart_write(struct fake *f, uint64_t off, unsigned int len,
		       uint32_t v)
{
	uint8_t data[8] = {0};

	memcpy(data, &v, 4);
	if (f->pl011) {
		/* DR is written by an access at its first byte. */
		if (off == PL011_DR && len <= 4) {
			if (f->u.cr & PL011_CR_LBE) {
				model_push(f, (uint8_t)v);
			} else {
				f->tx_expected++;
				f->tx_last = (uint8_t)v;
			}
		}
		pl011_access(&f->u, off, data, len, true);
		return;
	}
	if (off == UART_TX && !(f->s.lcr & UART_LCR_DLAB)) {
		if (f->s.mcr & UART_MCR_LOOP) {
			model_push(f, (uint8_t)v);
		} else {
			f->tx_expected++;
			f->tx_last = (uint8_t)v;
		}
	}
	if (off == UART_FCR && (v & UART_FCR_CLEAR_RCVR))
		f->head = f->count = 0;
	serial_access(&f->s, off, data, len, true);
}

static void uart_read(struct fake *f, uint64_t off, unsigned int len)
{
	uint8_t data[8];
	int want = -2;

	memset(data, 0xee, sizeof(data));
	if (f->pl011) {
		/* Any read of DR takes a byte, the value only at offset 0. */
		if ((off & ~3ull) == PL011_DR && len <= 4 &&
		    (off & 3) * 8 + 8 * len <= 32) {
			want = model_pop(f);
			if (off)
				want = -2;
		}
		pl011_access(&f->u, off, data, len, false);
	} else {
		if (off == UART_RX && !(f->s.lcr & UART_LCR_DLAB))
			want = model_pop(f);
		serial_access(&f->s, off, data, len, false);
		/* Bytes past the register read as zero. */
		for (unsigned int i = 1; i < len && off < 8; i++)
			FZ_CHECK(data[i] == 0);
	}
	if (want == -1)
		FZ_CHECK(data[0] == 0);
	else if (want >= 0)
		FZ_CHECK(data[0] == want);
}

static void uart_receive(struct fake *f, const uint8_t *buf, size_t n)
{
	size_t room = FZ_FIFO - f->count, took;

	took = f->pl011 ? pl011_receive(&f->u, buf, n)
			: serial_receive(&f->s, buf, n);
	/* All that fits, in order, and no more. */
	FZ_CHECK(took == (n < room ? n : room));
	for (size_t i = 0; i < took; i++)
		model_push(f, buf[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fake f;
	struct fz_in in = {data, size};
	static const unsigned int lens[4] = {1, 2, 4, 8};

	if (!size)
		return 0;
	memset(&f, 0, sizeof(f));
	f.pl011 = fz_u8(&in) & 1;
	if (f.pl011)
		pl011_init(&f.u, &ops, &f);
	else
		serial_init(&f.s, &ops, &f);
	for (unsigned int i = 0; i < FZ_MAX_OPS && in.left; i++) {
		uint8_t op = fz_u8(&in);
		uint64_t off = fz_u16(&in) % (f.pl011 ? 0x1000 : 16);

		switch (op % 4) {
		case 0:
		case 1: {
			unsigned int len = lens[fz_u8(&in) % 4];

			uart_write(&f, off, len, fz_u32(&in));
			break;
		}
		case 2:
			uart_read(&f, off, lens[fz_u8(&in) % 4]);
			break;
		case 3: {
			/* Big enough to fill the FIFO in a few calls. */
			size_t n = (size_t)(off % 4) * 256 + fz_u8(&in) % 80;
			uint8_t buf[1024];

			if (n > sizeof(buf))
				n = sizeof(buf);
			for (size_t j = 0; j < n; j++)
				buf[j] = (uint8_t)(in.left ? fz_u8(&in) : j);
			uart_receive(&f, buf, n);
			break;
		}
		}
		check_state(&f);
	}
	if (f.pl011)
		pl011_destroy(&f.u);
	else
		serial_destroy(&f.s);
	return 0;
}
