/* chaos.c: tiny guest mode "chaos": a hostile guest: garbage into every emulated I/O port, every BAR's registers and every config-space byte of every function, then a clean power-off the VMM must still see. */
#include "pci.h"
#include "tiny.h"

#define UART 0x3f8
#define PM_PORT 0x600 /* ACPI sleep control: the power-off we want at the end */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

/* xorshift64*: the same garbage every run, so a failure replays. */
static uint32_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

/* Ports whose writes end the VM on purpose: reset, power-off, panic. */
static bool port_ends_vm(unsigned int p)
{
	return p == 0x64 || p == 0xcf9 || p == 0x505 || p == PM_PORT ||
	       p == PM_PORT + 1 || p == 0x92;
}

/* Every port below 0x1000 (where PC devices live) and a sample of the rest. */
static unsigned int chaos_ports(void)
{
	unsigned int n = 0;

	for (unsigned int p = 0; p < 0x10000; p += p < 0x1000 ? 1 : 0x101) {
		if (port_ends_vm(p))
			continue;
		outb((uint16_t)p, (uint8_t)rnd());
		(void)inb((uint16_t)p);
		outl((uint16_t)(p & ~3u), rnd());
		n += 3;
	}
	/* The port 0xcf8/0xcfc pair: random config addresses and data. */
	for (unsigned int i = 0; i < 4096; i++) {
		outl(0xcf8, 0x80000000u | (rnd() & 0x00fffffcu));
		outl(0xcfc, rnd());
		n += 2;
	}
	return n;
}

/* Garbage into a function's memory BARs' registers while they still decode. */
static unsigned int chaos_bars(volatile uint8_t *c)
{
	unsigned int n = 0;

	for (unsigned int b = 0; b < 6; b++) {
		uint32_t lo = c32(c, 0x10 + 4 * b);
		uint64_t addr = lo & ~0xfull;

		if (lo & 1)
			continue; /* I/O BAR */
		if ((lo & 6) == 4) {
			addr |= (uint64_t)c32(c, 0x14 + 4 * b) << 32;
			b++;
		}
		if (!addr)
			continue;
		map_1g(addr);
		/* The first 16 KiB: virtio's common, ISR, device and notify windows. */
		for (unsigned int off = 0; off < 0x4000; off += 4) {
			mmio_write32((volatile uint8_t *)addr + off, rnd());
			(void)mmio_read32((volatile uint8_t *)addr + off);
			n += 2;
		}
	}
	return n;
}

/* Every dword of a function's config space, command register included. */
static unsigned int chaos_config(volatile uint8_t *c)
{
	unsigned int n = 0;

	for (unsigned int off = 4; off < 0x1000; off += 4) {
		w32(c, off, rnd());
		(void)c32(c, off);
		n += 2;
	}
	/* And byte and word writes at odd places. */
	for (unsigned int i = 0; i < 64; i++) {
		unsigned int off = rnd() & 0xfff;

		mmio_write8(c + off, (uint8_t)rnd());
		if (off < 0xffe)
			mmio_write16(c + (off & ~1u), (uint16_t)rnd());
		n += 2;
	}
	return n;
}

void tiny_chaos(uint64_t rsdp)
{
	unsigned int ports, bars = 0, cfg = 0, fns = 0;
	struct ecam e;

	ports = chaos_ports();
	/* Our own UART is in the chaos too: set it back up to say what happened. */
	outb(UART + 3, 0x03); /* LCR: 8N1, DLAB off */
	outb(UART + 1, 0x00); /* IER */
	outb(UART + 4, 0x03); /* MCR */
	puts_uart("TINY: chaos ports done\n");
	if (!ecam_find(rsdp, &e)) {
		puts_uart("TINY: chaos FAIL no MCFG\n");
		return;
	}
	map_1g(e.base);
	/*
	 * BAR registers first, while the VMM's layout still decodes; then
	 * config space, the buses below the root ports first (garbage in a
	 * port's bus numbers hides what is below it).
	 */
	for (unsigned int pass = 0; pass < 2; pass++) {
		for (unsigned int i = 0; i <= e.bus_last - e.bus_first; i++) {
			unsigned int bus = pass ? e.bus_last - i : e.bus_first + i;

			for (unsigned int dev = 0; dev < 32; dev++) {
				for (unsigned int fn = 0; fn < 8; fn++) {
					volatile uint8_t *c =
						ecam_cfg(&e, bus, dev, fn);

					if (c16(c, 0) == 0xffff)
						continue;
					if (pass == 0) {
						bars += chaos_bars(c);
					} else {
						cfg += chaos_config(c);
						fns++;
					}
				}
			}
		}
	}
	puts_uart("TINY: chaos done: ");
	put_dec(ports);
	puts_uart(" port accesses, ");
	put_dec(bars);
	puts_uart(" BAR accesses, ");
	put_dec(cfg);
	puts_uart(" config accesses on ");
	put_dec(fns);
	puts_uart(" functions\n");
}
