/* test_pl011.c: L0 tests of the PL011 model: IDs as the AMBA bus reads them, TX/RX interrupts, flags, loopback, access widths. */
#include <criterion/criterion.h>
#include <string.h>

#include "devices/pl011.h"

struct fake {
	uint8_t tx[4096];
	size_t ntx;
	int level;
	int edges;
	int space_calls;
};

static void f_tx(void *o, const uint8_t *b, size_t n)
{
	struct fake *f = o;

	memcpy(f->tx + f->ntx, b, n);
	f->ntx += n;
}

static void f_irq(void *o, int level)
{
	struct fake *f = o;

	if (level && !f->level)
		f->edges++;
	f->level = level;
}

static void f_space(void *o)
{
	((struct fake *)o)->space_calls++;
}

static const struct uart_ops ops = {f_tx, f_irq, f_space};

static uint32_t rd32(struct pl011 *u, uint64_t reg)
{
	uint32_t v = 0xdeadbeef;

	pl011_access(u, reg, (uint8_t *)&v, 4, false);
	return v;
}

static uint16_t rd16(struct pl011 *u, uint64_t reg)
{
	uint16_t v = 0xdead;

	pl011_access(u, reg, (uint8_t *)&v, 2, false);
	return v;
}

static void wr16(struct pl011 *u, uint64_t reg, uint16_t v)
{
	pl011_access(u, reg, (uint8_t *)&v, 2, true);
}

/* What Linux's amba_read_periphid() reads: the low byte of each word. */
Test(pl011, primecell_ids_match_the_amba_driver)
{
	struct fake f = {0};
	struct pl011 u;
	uint32_t pid = 0, cid = 0;

	pl011_init(&u, &ops, &f);
	for (unsigned int i = 0; i < 4; i++) {
		pid |= (rd32(&u, 0x1000 - 0x20 + 4 * i) & 255) << (i * 8);
		cid |= (rd32(&u, 0x1000 - 0x10 + 4 * i) & 255) << (i * 8);
	}
	cr_assert_eq(pid, 0x00041011, "periphid 0x%08x", pid);
	cr_assert_eq(cid, 0xb105f00d, "cellid 0x%08x", cid);
	/* amba-pl011 matches id 0x00041011 under mask 0x000fffff. */
	cr_assert_eq(pid & 0x000fffff, 0x00041011);
	pl011_destroy(&u);
}

Test(pl011, reset_state)
{
	struct fake f = {0};
	struct pl011 u;

	pl011_init(&u, &ops, &f);
	cr_assert_eq(rd16(&u, PL011_FR) & (PL011_FR_TXFE | PL011_FR_RXFE |
					   PL011_FR_TXFF | PL011_FR_BUSY),
		     PL011_FR_TXFE | PL011_FR_RXFE);
	cr_assert_eq(rd16(&u, PL011_CR), PL011_CR_TXE | PL011_CR_RXE);
	cr_assert_eq(rd16(&u, PL011_IFLS), 0x12);
	cr_assert_eq(rd16(&u, PL011_IMSC), 0);
	cr_assert_eq(rd16(&u, PL011_RIS), 0);
	cr_assert_eq(f.level, 0);
	pl011_destroy(&u);
}

/* earlycon=pl011: byte writes to DR, 32-bit polls of FR for TXFF/BUSY. */
Test(pl011, earlycon_transmit_out_of_reset)
{
	struct fake f = {0};
	struct pl011 u;
	const char *msg = "Booting Linux";

	pl011_init(&u, &ops, &f);
	for (const char *p = msg; *p; p++) {
		uint8_t c = (uint8_t)*p;

		cr_assert_eq(rd32(&u, PL011_FR) & PL011_FR_TXFF, 0);
		pl011_access(&u, PL011_DR, &c, 1, true);
		cr_assert_eq(rd32(&u, PL011_FR) & PL011_FR_BUSY, 0);
	}
	cr_assert_eq(f.ntx, strlen(msg));
	cr_assert_eq(memcmp(f.tx, msg, f.ntx), 0);
	/* TX is latched but masked: no interrupt. */
	cr_assert(rd16(&u, PL011_RIS) & PL011_INT_TX);
	cr_assert_eq(f.level, 0);
	pl011_destroy(&u);
}

Test(pl011, transmit_interrupt_mask_and_clear)
{
	struct fake f = {0};
	struct pl011 u;

	pl011_init(&u, &ops, &f);
	wr16(&u, PL011_IMSC, PL011_INT_TX);
	cr_assert_eq(f.level, 0, "no TX interrupt before anything was sent");
	wr16(&u, PL011_DR, 'a');
	cr_assert_eq(f.level, 1);
	cr_assert_eq(rd16(&u, PL011_MIS), PL011_INT_TX);
	wr16(&u, PL011_ICR, PL011_INT_TX);
	cr_assert_eq(f.level, 0);
	cr_assert_eq(rd16(&u, PL011_RIS) & PL011_INT_TX, 0);
	/* Masking a latched interrupt lowers the line; unmasking raises it. */
	wr16(&u, PL011_DR, 'b');
	cr_assert_eq(f.level, 1);
	wr16(&u, PL011_IMSC, 0);
	cr_assert_eq(f.level, 0);
	wr16(&u, PL011_IMSC, PL011_INT_TX);
	cr_assert_eq(f.level, 1);
	cr_assert_eq(f.edges, 3);
	pl011_destroy(&u);
}

Test(pl011, receive_interrupt_follows_the_buffer)
{
	struct fake f = {0};
	struct pl011 u;

	pl011_init(&u, &ops, &f);
	wr16(&u, PL011_IMSC, PL011_INT_RX | PL011_INT_RT);
	cr_assert_eq(pl011_receive(&u, (const uint8_t *)"hi", 2), 2);
	cr_assert_eq(f.level, 1);
	cr_assert_eq(rd16(&u, PL011_FR) & PL011_FR_RXFE, 0);
	cr_assert_eq(rd16(&u, PL011_MIS), PL011_INT_RX | PL011_INT_RT);
	/* The driver's ICR write in its handler does not drop pending data. */
	wr16(&u, PL011_ICR, PL011_INT_ALL);
	cr_assert_eq(f.level, 1);
	cr_assert_eq(rd16(&u, PL011_DR) & 0xff, 'h');
	cr_assert_eq(f.level, 1);
	cr_assert_eq(rd16(&u, PL011_DR) & 0xff, 'i');
	cr_assert_eq(f.level, 0);
	cr_assert(rd16(&u, PL011_FR) & PL011_FR_RXFE);
	/* An empty FIFO reads as 0 with no error bits. */
	cr_assert_eq(rd16(&u, PL011_DR), 0);
	pl011_destroy(&u);
}

Test(pl011, receive_backpressure_and_space_callback)
{
	struct fake f = {0};
	struct pl011 u;
	static uint8_t big[PL011_RX_BUF + 100];

	pl011_init(&u, &ops, &f);
	memset(big, 'x', sizeof(big));
	cr_assert_eq(pl011_receive(&u, big, sizeof(big)), PL011_RX_BUF);
	cr_assert(rd16(&u, PL011_FR) & PL011_FR_RXFF);
	for (unsigned int i = 0; i < PL011_RX_BUF / 2 - 1; i++)
		(void)rd16(&u, PL011_DR);
	cr_assert_eq(f.space_calls, 0);
	(void)rd16(&u, PL011_DR);
	cr_assert_eq(f.space_calls, 1);
	cr_assert_eq(rd16(&u, PL011_FR) & PL011_FR_RXFF, 0);
	cr_assert_eq(pl011_receive(&u, big, 100), 100);
	pl011_destroy(&u);
}

Test(pl011, loopback_sends_to_receive)
{
	struct fake f = {0};
	struct pl011 u;

	pl011_init(&u, &ops, &f);
	wr16(&u, PL011_CR,
	     PL011_CR_UARTEN | PL011_CR_TXE | PL011_CR_RXE | PL011_CR_LBE);
	wr16(&u, PL011_DR, 0x5a);
	cr_assert_eq(f.ntx, 0, "looped-back bytes stay off the console");
	cr_assert_eq(rd16(&u, PL011_DR), 0x5a);
	wr16(&u, PL011_CR, PL011_CR_UARTEN | PL011_CR_TXE | PL011_CR_RXE);
	wr16(&u, PL011_DR, 0x41);
	cr_assert_eq(f.ntx, 1);
	pl011_destroy(&u);
}

Test(pl011, registers_keep_their_width)
{
	struct fake f = {0};
	struct pl011 u;
	uint8_t b = 0;

	pl011_init(&u, &ops, &f);
	wr16(&u, PL011_IBRD, 0xffff);
	wr16(&u, PL011_FBRD, 0xffff);
	wr16(&u, PL011_LCR_H, 0x70);
	wr16(&u, PL011_IMSC, 0xffff);
	cr_assert_eq(rd16(&u, PL011_IBRD), 0xffff);
	cr_assert_eq(rd16(&u, PL011_FBRD), 0x3f);
	cr_assert_eq(rd16(&u, PL011_LCR_H), 0x70);
	cr_assert_eq(rd16(&u, PL011_IMSC), 0x7ff);
	/* A byte read of a register's upper half. */
	pl011_access(&u, PL011_IMSC + 1, &b, 1, false);
	cr_assert_eq(b, 0x07);
	/* A write to an upper byte changes nothing. */
	b = 0;
	pl011_access(&u, PL011_IMSC + 1, &b, 1, true);
	cr_assert_eq(rd16(&u, PL011_IMSC), 0x7ff);
	/* Read-only registers ignore writes. */
	wr16(&u, PL011_FR, 0);
	cr_assert(rd16(&u, PL011_FR) & PL011_FR_TXFE);
	pl011_destroy(&u);
}
