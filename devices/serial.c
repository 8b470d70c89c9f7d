/* serial.c: 16550A UART: registers, FIFO, loopback and interrupt identification. */
#include "devices/serial.h"

#include <linux/serial_reg.h>
#include <string.h>

void serial_init(struct serial *s, const struct uart_ops *ops, void *opaque)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->ops = ops;
	s->opaque = opaque;
	s->lsr = UART_LSR_TEMT | UART_LSR_THRE;
	s->msr = UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
	s->dll = 0x0c; /* 9600 baud */
}

void serial_destroy(struct serial *s)
{
	pthread_mutex_destroy(&s->lock);
}

/* Interrupt identification, highest priority first. */
static uint8_t serial_iir(const struct serial *s)
{
	uint8_t fifo = (s->fcr & UART_FCR_ENABLE_FIFO) ? 0xc0 : 0;

	if ((s->ier & UART_IER_RLSI) && (s->lsr & UART_LSR_OE))
		return fifo | UART_IIR_RLSI;
	if ((s->ier & UART_IER_RDI) && s->rx_count)
		return fifo | UART_IIR_RDI;
	if ((s->ier & UART_IER_THRI) && s->thr_ipending)
		return fifo | UART_IIR_THRI;
	if ((s->ier & UART_IER_MSI) && (s->msr & UART_MSR_ANY_DELTA))
		return fifo | UART_IIR_MSI;
	return fifo | UART_IIR_NO_INT;
}

/* Caller holds the lock. */
static void serial_update_irq(struct serial *s)
{
	int level = !(serial_iir(s) & UART_IIR_NO_INT);

	if (level != s->irq_level) {
		s->irq_level = level;
		s->ops->irq(s->opaque, level);
	}
}

static void rx_push(struct serial *s, uint8_t c)
{
	if (s->rx_count == SERIAL_RX_BUF) {
		s->lsr |= UART_LSR_OE;
		return;
	}
	s->rx[(s->rx_head + s->rx_count) % SERIAL_RX_BUF] = c;
	s->rx_count++;
	s->lsr |= UART_LSR_DR;
}

static uint8_t rx_pop(struct serial *s)
{
	uint8_t c;

	if (!s->rx_count)
		return 0;
	c = s->rx[s->rx_head];
	s->rx_head = (s->rx_head + 1) % SERIAL_RX_BUF;
	if (--s->rx_count == 0)
		s->lsr &= ~UART_LSR_DR;
	return c;
}

/* Loopback wiring of modem control outputs to status inputs. */
static uint8_t loopback_msr(uint8_t mcr)
{
	uint8_t msr = 0;

	if (mcr & UART_MCR_RTS)
		msr |= UART_MSR_CTS;
	if (mcr & UART_MCR_DTR)
		msr |= UART_MSR_DSR;
	if (mcr & UART_MCR_OUT1)
		msr |= UART_MSR_RI;
	if (mcr & UART_MCR_OUT2)
		msr |= UART_MSR_DCD;
	return msr;
}

static void serial_write(struct serial *s, unsigned int reg, uint8_t v)
{
	bool dlab = s->lcr & UART_LCR_DLAB;

	switch (reg) {
	case UART_TX:
		if (dlab) {
			s->dll = v;
			break;
		}
		if (s->mcr & UART_MCR_LOOP)
			rx_push(s, v);
		else
			s->ops->tx(s->opaque, &v, 1);
		/* Transmission is instantaneous: THR is empty again. */
		s->thr_ipending = true;
		break;
	case UART_IER:
		if (dlab) {
			s->dlm = v;
			break;
		}
		if ((v & UART_IER_THRI) && !(s->ier & UART_IER_THRI))
			s->thr_ipending = true;
		s->ier = v & 0x0f;
		break;
	case UART_FCR:
		if (v & UART_FCR_CLEAR_RCVR) {
			s->rx_head = s->rx_count = 0;
			s->lsr &= ~UART_LSR_DR;
		}
		s->fcr = v & (UART_FCR_ENABLE_FIFO | 0xc0);
		break;
	case UART_LCR:
		s->lcr = v;
		break;
	case UART_MCR: {
		uint8_t old = s->msr & 0xf0, now;

		s->mcr = v & 0x1f;
		now = (s->mcr & UART_MCR_LOOP)
			      ? loopback_msr(s->mcr)
			      : (UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS);
		/* Delta bits: CTS, DSR, trailing-edge RI, DCD. */
		s->msr = (s->msr & 0x0f) | now;
		s->msr |= ((old ^ now) & (UART_MSR_CTS | UART_MSR_DSR)) >> 4;
		s->msr |= ((old ^ now) & UART_MSR_DCD) >> 4;
		if ((old & UART_MSR_RI) && !(now & UART_MSR_RI))
			s->msr |= UART_MSR_TERI;
		break;
	}
	case UART_SCR:
		s->scr = v;
		break;
	default: /* LSR and MSR are read-only */
		break;
	}
}

static uint8_t serial_read(struct serial *s, unsigned int reg)
{
	bool dlab = s->lcr & UART_LCR_DLAB;
	uint8_t v;

	switch (reg) {
	case UART_RX:
		if (dlab)
			return s->dll;
		v = rx_pop(s);
		if (s->rx_wanted && s->rx_count <= SERIAL_RX_BUF / 2) {
			s->rx_wanted = false;
			if (s->ops->rx_space)
				s->ops->rx_space(s->opaque);
		}
		return v;
	case UART_IER:
		return dlab ? s->dlm : s->ier;
	case UART_IIR:
		v = serial_iir(s);
		/* Reading IIR acknowledges a THRE interrupt. */
		if ((v & 0x0f) == UART_IIR_THRI)
			s->thr_ipending = false;
		return v;
	case UART_LCR:
		return s->lcr;
	case UART_MCR:
		return s->mcr;
	case UART_LSR:
		v = s->lsr;
		s->lsr &= ~(UART_LSR_OE | UART_LSR_BI | UART_LSR_FE |
			    UART_LSR_PE);
		return v;
	case UART_MSR:
		v = s->msr;
		s->msr &= 0xf0;
		return v;
	case UART_SCR:
		return s->scr;
	}
	return 0xff;
}

void serial_access(void *opaque, uint64_t offset, uint8_t *data,
		   unsigned int len, bool is_write)
{
	struct serial *s = opaque;

	pthread_mutex_lock(&s->lock);
	if (offset < 8) {
		if (is_write)
			serial_write(s, (unsigned int)offset, data[0]);
		else
			data[0] = serial_read(s, (unsigned int)offset);
		serial_update_irq(s);
	}
	if (!is_write && len > 1)
		memset(data + 1, 0, len - 1);
	pthread_mutex_unlock(&s->lock);
}

size_t serial_receive(void *uart, const uint8_t *buf, size_t len)
{
	struct serial *s = uart;
	size_t n = 0;

	pthread_mutex_lock(&s->lock);
	while (n < len && s->rx_count < SERIAL_RX_BUF)
		rx_push(s, buf[n++]);
	if (n < len)
		s->rx_wanted = true;
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return n;
}
