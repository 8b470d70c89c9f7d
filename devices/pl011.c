/* pl011.c: ARM PL011 UART: data and flags, interrupt mask/status/clear, loopback, PrimeCell IDs. */
#include "devices/pl011.h"

#include <string.h>

/* Reset values (PL011 TRM, table 3-1): TX and RX enabled, UART off. */
#define PL011_CR_RESET	 (PL011_CR_RXE | PL011_CR_TXE)
#define PL011_IFLS_RESET 0x12 /* both FIFO triggers at half full */

void pl011_init(struct pl011 *u, const struct uart_ops *ops, void *opaque)
{
	memset(u, 0, sizeof(*u));
	pthread_mutex_init(&u->lock, NULL);
	u->ops = ops;
	u->opaque = opaque;
	u->cr = PL011_CR_RESET;
	u->ifls = PL011_IFLS_RESET;
}

void pl011_destroy(struct pl011 *u)
{
	pthread_mutex_destroy(&u->lock);
}

/* Raw interrupt status: RX and RX timeout for as long as data waits. */
static uint32_t pl011_ris(const struct pl011 *u)
{
	return u->int_level | (u->rx_count ? PL011_INT_RX | PL011_INT_RT : 0);
}

/* Caller holds the lock. The line is the OR of the unmasked interrupts. */
static void pl011_update_irq(struct pl011 *u)
{
	int level = (pl011_ris(u) & u->imsc) != 0;

	if (level != u->irq_level) {
		u->irq_level = level;
		u->ops->irq(u->opaque, level);
	}
}

static void rx_push(struct pl011 *u, uint8_t c)
{
	/* Only loopback gets here with the buffer full: drop, as an overrun. */
	if (u->rx_count == PL011_RX_BUF)
		return;
	u->rx[(u->rx_head + u->rx_count) % PL011_RX_BUF] = c;
	u->rx_count++;
}

static uint8_t rx_pop(struct pl011 *u)
{
	uint8_t c;

	if (!u->rx_count)
		return 0;
	c = u->rx[u->rx_head];
	u->rx_head = (u->rx_head + 1) % PL011_RX_BUF;
	u->rx_count--;
	if (u->rx_wanted && u->rx_count <= PL011_RX_BUF / 2) {
		u->rx_wanted = false;
		if (u->ops->rx_space)
			u->ops->rx_space(u->opaque);
	}
	return c;
}

static uint32_t pl011_flags(const struct pl011 *u)
{
	uint32_t fr =
		PL011_FR_TXFE | PL011_FR_CTS | PL011_FR_DSR | PL011_FR_DCD;

	if (!u->rx_count)
		fr |= PL011_FR_RXFE;
	if (u->rx_count == PL011_RX_BUF)
		fr |= PL011_FR_RXFF;
	return fr;
}

/* One identification byte of the four at `base` (PeriphID or PCellID). */
static uint32_t pl011_id_byte(uint32_t id, uint64_t reg, uint64_t base)
{
	return (id >> (8 * ((reg - base) / 4))) & 0xff;
}

static uint32_t pl011_read(struct pl011 *u, uint64_t reg)
{
	switch (reg) {
	case PL011_DR:
		return rx_pop(u);
	case PL011_RSR:
		return 0; /* no framing, parity, break or overrun errors */
	case PL011_FR:
		return pl011_flags(u);
	case PL011_ILPR:
		return u->ilpr;
	case PL011_IBRD:
		return u->ibrd;
	case PL011_FBRD:
		return u->fbrd;
	case PL011_LCR_H:
		return u->lcr_h;
	case PL011_CR:
		return u->cr;
	case PL011_IFLS:
		return u->ifls;
	case PL011_IMSC:
		return u->imsc;
	case PL011_RIS:
		return pl011_ris(u);
	case PL011_MIS:
		return pl011_ris(u) & u->imsc;
	case PL011_DMACR:
		return u->dmacr;
	}
	if (reg >= PL011_PERIPH_ID && reg < PL011_PCELL_ID)
		return pl011_id_byte(PL011_PERIPH_ID_VALUE, reg,
				     PL011_PERIPH_ID);
	if (reg >= PL011_PCELL_ID && reg < PL011_PCELL_ID + 16)
		return pl011_id_byte(PL011_PCELL_ID_VALUE, reg, PL011_PCELL_ID);
	return 0; /* reserved and test registers, and write-only ICR */
}

static void pl011_write(struct pl011 *u, uint64_t reg, uint32_t v)
{
	uint8_t c;

	switch (reg) {
	case PL011_DR:
		c = (uint8_t)v;
		/*
		 * UARTEN and TXE are not checked: with no firmware to enable
		 * the UART, earlycon writes to it as it comes out of reset.
		 */
		if (u->cr & PL011_CR_LBE)
			rx_push(u, c);
		else
			u->ops->tx(u->opaque, &c, 1);
		/* Sent at once: the transmit FIFO is empty again. */
		u->int_level |= PL011_INT_TX;
		break;
	case PL011_RSR:
		break; /* clears errors; there are none */
	case PL011_ILPR:
		u->ilpr = v & 0xff;
		break;
	case PL011_IBRD:
		u->ibrd = v & 0xffff;
		break;
	case PL011_FBRD:
		u->fbrd = v & 0x3f;
		break;
	case PL011_LCR_H:
		u->lcr_h = v & 0xff;
		break;
	case PL011_CR:
		u->cr = v & 0xffff;
		break;
	case PL011_IFLS:
		u->ifls = v & 0x3f;
		break;
	case PL011_IMSC:
		u->imsc = v & PL011_INT_ALL;
		break;
	case PL011_ICR:
		/* RX and RX timeout come back at once while data waits. */
		u->int_level &= ~v;
		break;
	case PL011_DMACR:
		u->dmacr = v & 0x7;
		break;
	default: /* FR, RIS, MIS and the IDs are read-only */
		break;
	}
}

/*
 * Linux reads and writes the registers 16 bits wide (32 with
 * reg-io-width = 4) and earlycon writes DR a byte at a time: any width
 * works, at any offset within a register.
 */
void pl011_access(void *opaque, uint64_t offset, uint8_t *data,
		  unsigned int len, bool is_write)
{
	struct pl011 *u = opaque;
	uint64_t reg = offset & ~3ull;
	unsigned int shift = (unsigned int)(offset & 3) * 8;
	uint32_t v = 0;

	if (len > 4 || shift + 8 * len > 32) {
		/* Not a register access: reads as zeros, writes are lost. */
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	pthread_mutex_lock(&u->lock);
	if (is_write) {
		/* Bytes past a register's first are its upper bits: kept out. */
		memcpy(&v, data, len);
		if (!shift)
			pl011_write(u, reg, v);
	} else {
		v = pl011_read(u, reg) >> shift;
		memcpy(data, &v, len);
	}
	pl011_update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

size_t pl011_receive(void *uart, const uint8_t *buf, size_t len)
{
	struct pl011 *u = uart;
	size_t n = 0;

	pthread_mutex_lock(&u->lock);
	while (n < len && u->rx_count < PL011_RX_BUF)
		rx_push(u, buf[n++]);
	if (n < len)
		u->rx_wanted = true;
	pl011_update_irq(u);
	pthread_mutex_unlock(&u->lock);
	return n;
}
