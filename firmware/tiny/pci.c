/* pci.c: the PCI helpers of pci.h, and tiny guest mode "pci": walks ECAM as found in MCFG and checks packing, ACS and BAR placement. */
#include "pci.h"

#define TESTDEV_MAGIC 0x4454564d

static uint64_t rd64(const volatile void *p)
{
	return *(const volatile uint64_t *)p;
}

static uint32_t rd32(const volatile void *p)
{
	return *(const volatile uint32_t *)p;
}

/* Extra page tables to reach MMIO above the 4 GiB the VMM identity-maps. */
static uint64_t pdpt_hi[512] __attribute__((aligned(4096)));
static uint64_t pd_hi[512] __attribute__((aligned(4096)));

static uint64_t read_cr3(void)
{
	uint64_t v;

	__asm__ volatile("mov %%cr3, %0" : "=r"(v));
	return v;
}

void map_1g(uint64_t addr)
{
	uint64_t *pml4 = (uint64_t *)(read_cr3() & ~0xfffull);
	uint64_t *pdpt;
	uint64_t base = addr & ~((1ull << 30) - 1);

	if (addr < (1ull << 32))
		return;
	if (!(pml4[addr >> 39 & 511] & 1)) {
		for (int i = 0; i < 512; i++)
			pdpt_hi[i] = 0;
		pml4[addr >> 39 & 511] = (uint64_t)pdpt_hi | 3;
	}
	pdpt = (uint64_t *)(pml4[addr >> 39 & 511] & ~0xfffull);
	for (int i = 0; i < 512; i++)
		pd_hi[i] = (base + ((uint64_t)i << 21)) | 0x83;
	pdpt[addr >> 30 & 511] = (uint64_t)pd_hi | 3;
	__asm__ volatile("mov %0, %%cr3" : : "r"(read_cr3()) : "memory");
}

const uint8_t *acpi_find_table(uint64_t rsdp_addr, const char *sig)
{
	const uint8_t *rsdp = (const uint8_t *)rsdp_addr;
	const uint8_t *xsdt;
	uint32_t n;

	if (!rsdp)
		return 0;
	xsdt = (const uint8_t *)rd64(rsdp + 24);
	n = (rd32(xsdt + 4) - 36) / 8;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *t = (const uint8_t *)rd64(xsdt + 36 + i * 8);

		if (!tiny_memcmp(t, sig, 4))
			return t;
	}
	return 0;
}

bool ecam_find(uint64_t rsdp, struct ecam *e)
{
	const uint8_t *mcfg = acpi_find_table(rsdp, "MCFG");

	if (!mcfg)
		return false;
	e->base = rd64(mcfg + 44);
	e->bus_first = mcfg[44 + 10];
	e->bus_last = mcfg[44 + 11];
	e->base += (uint64_t)e->bus_first << 20;
	return true;
}

volatile uint8_t *ecam_cfg(const struct ecam *e, unsigned int bus,
			   unsigned int dev, unsigned int fn)
{
	return (volatile uint8_t *)(e->base +
				    ((uint64_t)(bus - e->bus_first) << 20) +
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
	unsigned int off = c[0x34];

	for (int guard = 0; off && guard < 48; guard++) {
		if (c[off] == id)
			return off;
		off = c[off + 1];
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

/* Check the endpoint below a port: BARs inside the windows, registers. */
static unsigned int check_endpoint(const struct ecam *e, unsigned int bus,
				   uint64_t mem_lo, uint64_t mem_hi,
				   uint64_t pref_lo, uint64_t pref_hi)
{
	volatile uint8_t *c = ecam_cfg(e, bus, 0, 0);
	unsigned int nbars = 0;
	/* Only microvm's test device has the read-back register files. */
	bool testdev = c32(c, 0) == 0x00051b36;

	if (c16(c, 0) == 0xffff)
		return 0;
	for (unsigned int i = 0; i < 6; i++) {
		uint32_t lo = c32(c, 0x10 + 4 * i), hi = 0, save;
		uint64_t addr, size, mask;
		bool is64 = (lo & 6) == 4, pref = lo & 8;
		volatile uint32_t *regs;

		if (!lo)
			continue;
		if (is64)
			hi = c32(c, 0x14 + 4 * i);
		addr = ((uint64_t)hi << 32) | (lo & ~0xfu);
		/* Size the BAR the way an OS does: decode off, all ones. */
		save = c16(c, 4);
		*(volatile uint16_t *)(c + 4) = (uint16_t)(save & ~2u);
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
		*(volatile uint16_t *)(c + 4) = (uint16_t)save;
		size = ~mask + 1;
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
		regs = (volatile uint32_t *)addr;
		if (regs[0] != TESTDEV_MAGIC || regs[1] != i ||
		    rd64(&regs[2]) != size)
			fail("bar-registers", bus, i);
		regs[0x40] = 0xc0de0000u | (bus << 8) | i;
		if (regs[0x40] != (0xc0de0000u | (bus << 8) | i))
			fail("bar-readback", bus, i);
		nbars++;
		if (is64)
			i++;
	}
	return nbars;
}

void tiny_pci(uint64_t rsdp)
{
	unsigned int ports = 0, mf_devices = 0, acs_ports = 0, devices = 0;
	unsigned int bars = 0;
	uint32_t acs_mask = 0;
	struct ecam e;

	if (!ecam_find(rsdp, &e)) {
		puts_uart("TINY: pci FAIL no MCFG\n");
		return;
	}
	puts_uart("TINY: pci ecam ");
	put_hex(e.base);
	puts_uart("\n");
	for (unsigned int dev = 0; dev < 32; dev++) {
		volatile uint8_t *f0 = ecam_cfg(&e, e.bus_first, dev, 0);
		unsigned int nfn = 0;

		if (c16(f0, 0) == 0xffff)
			continue;
		for (unsigned int fn = 0; fn < 8; fn++) {
			volatile uint8_t *c =
				ecam_cfg(&e, e.bus_first, dev, fn);
			unsigned int acs, exp, sec;
			uint64_t mlo, mhi, plo, phi;

			if (c16(c, 0) == 0xffff)
				continue;
			nfn++;
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
			sec = c[0x19];
			mlo = (uint64_t)(c16(c, 0x20) & 0xfff0) << 16;
			mhi = ((uint64_t)(c16(c, 0x22) & 0xfff0) << 16) |
			      0xfffff;
			plo = ((uint64_t)(c16(c, 0x24) & 0xfff0) << 16) |
			      (uint64_t)c32(c, 0x28) << 32;
			phi = ((uint64_t)(c16(c, 0x26) & 0xfff0) << 16) |
			      0xfffff | (uint64_t)c32(c, 0x2c) << 32;
			if (sec) {
				unsigned int n = check_endpoint(&e, sec, mlo,
								mhi, plo, phi);
				if (n) {
					devices++;
					bars += n;
				}
			}
		}
		/* Multi-function bit: set exactly when a device has >1 port. */
		if ((nfn > 1) != !!(f0[0x0e] & 0x80))
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
