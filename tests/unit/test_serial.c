/* test_serial.c: L0 tests of the 16550 model: THRE/RDA interrupts, FIFO, loopback, DLAB. */
#include <criterion/criterion.h>
#include <linux/serial_reg.h>
#include <string.h>

#include "devices/serial.h"

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

static uint8_t rd(struct serial *s, unsigned int reg)
{
	uint8_t v = 0;

	serial_access(s, reg, &v, 1, false);
	return v;
}

static void wr(struct serial *s, unsigned int reg, uint8_t v)
{
	serial_access(s, reg, &v, 1, true);
}

Test(serial, transmit_and_thre_interrupt)
{
	struct fake f = {0};
	struct serial s;

	serial_init(&s, &ops, &f);
	cr_assert_eq(rd(&s, UART_IIR) & 0x0f, UART_IIR_NO_INT);
	cr_assert(rd(&s, UART_LSR) & UART_LSR_THRE);
	wr(&s, UART_TX, 'h');
	wr(&s, UART_TX, 'i');
	cr_assert_eq(f.ntx, 2);
	cr_assert_eq(memcmp(f.tx, "hi", 2), 0);
	cr_assert_eq(f.level, 0, "THRE interrupt masked by IER");
	/* Enabling THRI with an empty THR raises the interrupt at once... */
	wr(&s, UART_IER, UART_IER_THRI);
	cr_assert_eq(f.level, 1);
	cr_assert_eq(rd(&s, UART_IIR) & 0x0f, UART_IIR_THRI);
	/* ...and reading IIR acknowledges it. */
	cr_assert_eq(f.level, 0);
	cr_assert_eq(rd(&s, UART_IIR) & 0x0f, UART_IIR_NO_INT);
	/* Linux's THRE re-assert test: IER 0 then THRI again re-raises. */
	wr(&s, UART_IER, 0);
	wr(&s, UART_IER, UART_IER_THRI);
	cr_assert_eq(rd(&s, UART_IIR) & 0x0f, UART_IIR_THRI);
	serial_destroy(&s);
}

Test(serial, receive_data_ready_interrupt)
{
	struct fake f = {0};
	struct serial s;

	serial_init(&s, &ops, &f);
	wr(&s, UART_IER, UART_IER_RDI);
	cr_assert_eq(serial_receive(&s, (const uint8_t *)"ab", 2), 2);
	cr_assert_eq(f.level, 1);
	cr_assert(rd(&s, UART_LSR) & UART_LSR_DR);
	cr_assert_eq(rd(&s, UART_IIR) & 0x0f, UART_IIR_RDI);
	cr_assert_eq(rd(&s, UART_RX), 'a');
	cr_assert_eq(f.level, 1, "still data");
	cr_assert_eq(rd(&s, UART_RX), 'b');
	cr_assert_eq(f.level, 0);
	cr_assert_not(rd(&s, UART_LSR) & UART_LSR_DR);
	serial_destroy(&s);
}

Test(serial, receive_backpressure_and_space_callback)
{
	static uint8_t big[SERIAL_RX_BUF + 100];
	struct fake f = {0};
	struct serial s;

	serial_init(&s, &ops, &f);
	memset(big, 'x', sizeof(big));
	cr_assert_eq(serial_receive(&s, big, sizeof(big)), SERIAL_RX_BUF);
	cr_assert_not(rd(&s, UART_LSR) & UART_LSR_OE, "no data lost");
	for (int i = 0; i < SERIAL_RX_BUF / 2; i++)
		rd(&s, UART_RX);
	cr_assert_eq(f.space_calls, 1);
	cr_assert_eq(serial_receive(&s, big, 100), 100);
	serial_destroy(&s);
}

Test(serial, fifo_clear_dlab_scratch)
{
	struct fake f = {0};
	struct serial s;

	serial_init(&s, &ops, &f);
	cr_assert_eq(serial_receive(&s, (const uint8_t *)"zz", 2), 2);
	wr(&s, UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_CLEAR_RCVR);
	cr_assert_not(rd(&s, UART_LSR) & UART_LSR_DR);
	cr_assert_eq(rd(&s, UART_IIR) & 0xc0, 0xc0, "FIFO enabled bits");
	wr(&s, UART_LCR, UART_LCR_DLAB | UART_LCR_WLEN8);
	wr(&s, UART_DLL, 0x01);
	wr(&s, UART_DLM, 0x02);
	cr_assert_eq(f.ntx, 0, "DLL write is not a transmit");
	cr_assert_eq(rd(&s, UART_DLL), 0x01);
	cr_assert_eq(rd(&s, UART_DLM), 0x02);
	wr(&s, UART_LCR, UART_LCR_WLEN8);
	cr_assert_eq(rd(&s, UART_IER), 0);
	wr(&s, UART_SCR, 0x5a);
	cr_assert_eq(rd(&s, UART_SCR), 0x5a);
	serial_destroy(&s);
}

Test(serial, loopback)
{
	struct fake f = {0};
	struct serial s;
	uint8_t msr;

	serial_init(&s, &ops, &f);
	wr(&s, UART_MCR, UART_MCR_LOOP | UART_MCR_RTS | UART_MCR_OUT2);
	msr = rd(&s, UART_MSR);
	cr_assert(msr & UART_MSR_CTS);
	cr_assert(msr & UART_MSR_DCD);
	cr_assert_not(msr & UART_MSR_DSR);
	cr_assert(msr & UART_MSR_DDSR, "DSR dropped: delta set");
	cr_assert_eq(rd(&s, UART_MSR) & 0x0f, 0, "deltas clear on read");
	wr(&s, UART_TX, 'Q');
	cr_assert_eq(f.ntx, 0, "loopback does not transmit");
	cr_assert_eq(rd(&s, UART_RX), 'Q');
	serial_destroy(&s);
}
