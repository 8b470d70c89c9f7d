/* pci.c: the PCI helpers of pci.h and the "pci" mode's walk of ECAM (packing, ACS, windows, BAR placement), shared by the x86 and aarch64 tiny guests. */
#include "pci.h"

#define TESTDEV_MAGIC 0x4454564d

volatile uint8_t *ecam_cfg(const struct ecam *e, unsigned int bus,
			   unsigned int dev, unsigned int fn)
{
	return (volatile uint8_t *)(uintptr_t)(e->base +
					       ((uint64_t)(bus - e->bus_first)
						<< 20) +
					       ((uint64_t)dev << 15) +
					       ((uint64_t)fn << 12));
}

unsigned int pci_find_ext_cap(volatile uint8_t *c, unsigned int id)
{
	unsigned int off = 0x100;

	for (int guard = 0; off && guard < 64; guard++) {
		uint32_t h = c32(c, off);

		if ((h & 0xffff) == id)
			return off;
		off = h >> 20;
	}
	return 0;
}

unsigned int pci_find_cap(volatile uint8_t *c, unsigned int id)
{
	unsigned int off = c8(c, 0x34);

	for (int guard = 0; off && guard < 48; guard++) {
		if (c8(c, off) == id)
			return off;
		off = c8(c, off + 1);
	}
	return 0;
}

static bool failed;

static void fail(const char *what, unsigned int a, unsigned int b)
{
	puts_uart("TINY: pci FAIL ");
	puts_uart(what);
	puts_uart(" ");
	put_hex(a);
	puts_uart(" ");
	put_hex(b);
	puts_uart("\n");
	failed = true;
}

/* `digits` hex digits, no prefix. */
static void put_hexw(uint64_t v, unsigned int digits)
{
	char buf[17];

	buf[digits] = 0;
	while (digits--) {
		buf[digits] = "0123456789abcdef"[v & 15];
		v >>= 4;
	}
	puts_uart(buf);
}

/* "TINY: pci BB:DD.F " */
static void put_bdf(unsigned int bus, unsigned int dev, unsigned int fn)
{
	puts_uart("TINY: pci ");
	put_hexw(bus, 2);
	puts_uart(":");
	put_hexw(dev, 2);
	puts_uart(".");
	put_hexw(fn, 1);
	puts_uart(" ");
}

/* One function: "TINY: pci 00:01.0 1b36:000c class 0x060400 hdr 0x81 ...". */
static void list_function(volatile uint8_t *c, unsigned int bus,
			  unsigned int dev, unsigned int fn)
{
	uint8_t hdr = c8(c, 0x0e);

	put_bdf(bus, dev, fn);
	put_hexw(c16(c, 0), 4);
	puts_uart(":");
	put_hexw(c16(c, 2), 4);
	puts_uart(" class 0x");
	put_hexw(c32(c, 0x08) >> 8, 6);
	puts_uart(" hdr 0x");
	put_hexw(hdr, 2);
	puts_uart(hdr & 0x80 ? " multi-function\n" : "\n");
}

static void put_window(const char *name, uint64_t lo, uint64_t hi)
{
	puts_uart(name);
	if (lo > hi) {
		puts_uart(" off");
		return;
	}
	puts_uart(" ");
	put_hex(lo);
	puts_uart("-");
	put_hex(hi);
}

/* A bridge window [lo, hi] (lo > hi: off) inside the host bridge's one. */
static void check_window(const char *what, uint64_t lo, uint64_t hi,
			 uint64_t base, uint64_t size, unsigned int dev,
			 unsigned int fn)
{
	if (!size || lo > hi)
		return;
	if (lo < base || hi > base + size - 1)
		fail(what, dev, fn);
}

/* Check the endpoint below a port: BARs inside the windows, registers. */
static unsigned int check_endpoint(const struct ecam *e, unsigned int bus,
				   uint64_t mem_lo, uint64_t mem_hi,
				   uint64_t pref_lo, uint64_t pref_hi,
				   bool list)
{
	volatile uint8_t *c = ecam_cfg(e, bus, 0, 0);
	unsigned int nbars = 0;
	/* Only microvm's test device has the read-back register files. */
	bool testdev;

	if (c16(c, 0) == 0xffff)
		return 0;
	testdev = c32(c, 0) == 0x00051b36;
	if (list) {
		list_function(c, bus, 0, 0);
		for (unsigned int fn = 1; fn < 8 && (c8(c, 0x0e) & 0x80);
		     fn++) {
			volatile uint8_t *f = ecam_cfg(e, bus, 0, fn);

			if (c16(f, 0) != 0xffff)
				list_function(f, bus, 0, fn);
		}
	}
	for (unsigned int i = 0; i < 6; i++) {
		uint32_t lo = c32(c, 0x10 + 4 * i), hi = 0;
		uint16_t save;
		uint64_t addr, size, mask;
		bool is64 = (lo & 6) == 4, pref = lo & 8;
		volatile uint8_t *regs;

		if (!lo)
			continue;
		if (is64)
			hi = c32(c, 0x14 + 4 * i);
		addr = ((uint64_t)hi << 32) | (lo & ~0xfu);
		/* Size the BAR the way an OS does: decode off, all ones. */
		save = c16(c, 4);
		w16(c, 4, (uint16_t)(save & ~2u));
		w32(c, 0x10 + 4 * i, 0xffffffff);
		mask = c32(c, 0x10 + 4 * i) & ~0xfull;
		if (is64) {
			w32(c, 0x14 + 4 * i, 0xffffffff);
			mask |= (uint64_t)c32(c, 0x14 + 4 * i) << 32;
			w32(c, 0x14 + 4 * i, hi);
		} else {
			mask |= 0xffffffff00000000ull;
		}
		w32(c, 0x10 + 4 * i, lo);
		w16(c, 4, save);
		size = ~mask + 1;
		if (list) {
			put_bdf(bus, 0, 0);
			puts_uart("bar");
			put_dec(i);
			puts_uart(" ");
			put_hex(addr);
			puts_uart(" size ");
			put_hex(size);
			puts_uart(is64 ? " mem64" : " mem32");
			puts_uart(pref ? " pref\n" : "\n");
		}
		if (addr & (size - 1))
			fail("bar-misaligned", bus, i);
		if (is64 && pref) {
			if (addr < pref_lo || addr + size - 1 > pref_hi)
				fail("bar-outside-pref-window", bus, i);
		} else if (addr < mem_lo || addr + size - 1 > mem_hi) {
			fail("bar-outside-mem-window", bus, i);
		}
		if (!testdev) {
			nbars++;
			if (is64)
				i++;
			continue;
		}
		map_1g(addr);
		regs = (volatile uint8_t *)(uintptr_t)addr;
		if (c32(regs, 0) != TESTDEV_MAGIC || c32(regs, 4) != i ||
		    mmio_read64(regs + 8) != size)
			fail("bar-registers", bus, i);
		w32(regs, 0x100, 0xc0de0000u | (bus << 8) | i);
		if (c32(regs, 0x100) != (0xc0de0000u | (bus << 8) | i))
			fail("bar-readback", bus, i);
		nbars++;
		if (is64)
			i++;
	}
	return nbars;
}

void pci_walk(const struct ecam *e, bool list)
{
	unsigned int ports = 0, mf_devices = 0, acs_ports = 0, devices = 0;
	unsigned int bars = 0;
	uint32_t acs_mask = 0;

	failed = false;
	puts_uart("TINY: pci ecam ");
	put_hex(e->base);
	puts_uart(" buses ");
	put_dec(e->bus_first);
	puts_uart("-");
	put_dec(e->bus_last);
	puts_uart("\n");
	if (e->mem_size || e->pref_size) {
		puts_uart("TINY: pci ranges mem ");
		put_hex(e->mem_base);
		puts_uart(" size ");
		put_hex(e->mem_size);
		puts_uart(" pref ");
		put_hex(e->pref_base);
		puts_uart(" size ");
		put_hex(e->pref_size);
		puts_uart("\n");
	}
	for (unsigned int dev = 0; dev < 32; dev++) {
		volatile uint8_t *f0 = ecam_cfg(e, e->bus_first, dev, 0);
		unsigned int nfn = 0;

		if (c16(f0, 0) == 0xffff)
			continue;
		for (unsigned int fn = 0; fn < 8; fn++) {
			volatile uint8_t *c =
				ecam_cfg(e, e->bus_first, dev, fn);
			unsigned int acs, exp, sec, sub, n;
			uint64_t mlo, mhi, plo, phi;

			if (c16(c, 0) == 0xffff)
				continue;
			nfn++;
			if (list)
				list_function(c, e->bus_first, dev, fn);
			/* A host bridge function (QEMU's virt has one) is no port. */
			if (c16(c, 0x0a) == PCI_CLASS_BRIDGE_HOST)
				continue;
			if (c16(c, 0x0a) != PCI_CLASS_BRIDGE_PCI) {
				fail("not-a-bridge", dev, fn);
				continue;
			}
			ports++;
			exp = pci_find_cap(c, 0x10);
			if (!exp || ((c16(c, exp + 2) >> 4) & 0xf) != 4)
				fail("not-a-root-port", dev, fn);
			acs = pci_find_ext_cap(c, 0x0d);
			if (acs) {
				acs_ports++;
				if (acs_ports == 1)
					acs_mask = c16(c, acs + 4);
				else if (c16(c, acs + 4) != acs_mask)
					fail("acs-mask-differs", dev, fn);
			}
			sec = c8(c, 0x19);
			sub = c8(c, 0x1a);
			mlo = (uint64_t)(c16(c, 0x20) & 0xfff0) << 16;
			mhi = ((uint64_t)(c16(c, 0x22) & 0xfff0) << 16) |
			      0xfffff;
			plo = ((uint64_t)(c16(c, 0x24) & 0xfff0) << 16) |
			      (uint64_t)c32(c, 0x28) << 32;
			phi = ((uint64_t)(c16(c, 0x26) & 0xfff0) << 16) |
			      0xfffff | (uint64_t)c32(c, 0x2c) << 32;
			if (list) {
				put_bdf(e->bus_first, dev, fn);
				puts_uart("port bus ");
				put_dec(sec);
				puts_uart("-");
				put_dec(sub);
				put_window(" mem", mlo, mhi);
				put_window(" pref", plo, phi);
				if (acs) {
					puts_uart(" acs cap ");
					put_hex(c16(c, acs + 4));
					puts_uart(" ctrl ");
					put_hex(c16(c, acs + 6));
					puts_uart("\n");
				} else {
					puts_uart(" acs none\n");
				}
			}
			/* Bus 0 below a port: not configured, nothing to check. */
			if (!sec)
				continue;
			if (sec <= e->bus_first || sec > e->bus_last) {
				fail("secondary-bus-outside-range", dev, fn);
				continue;
			}
			check_window("mem-window-outside-ranges", mlo, mhi,
				     e->mem_base, e->mem_size, dev, fn);
			check_window("pref-window-outside-ranges", plo, phi,
				     e->pref_base, e->pref_size, dev, fn);
			n = check_endpoint(e, sec, mlo, mhi, plo, phi, list);
			if (n) {
				devices++;
				bars += n;
			}
		}
		/* Multi-function bit: set exactly when a device has >1 port. */
		if ((nfn > 1) != !!(c8(f0, 0x0e) & 0x80))
			fail("multifunction-bit", dev, nfn);
		if (nfn > 1)
			mf_devices++;
	}
	puts_uart("TINY: pci ports ");
	put_dec(ports);
	puts_uart(" mf-devices ");
	put_dec(mf_devices);
	puts_uart(" acs-ports ");
	put_dec(acs_ports);
	puts_uart(" acs-mask ");
	put_hex(acs_mask);
	puts_uart(" devices ");
	put_dec(devices);
	puts_uart(" bars ");
	put_dec(bars);
	puts_uart(failed ? "\nTINY: pci FAIL\n" : "\nTINY: pci ok\n");
}
