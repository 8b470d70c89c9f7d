/* edu.c: tiny guest mode "edu": drives QEMU's edu device (passed through with --vfio): ID, liveness, DMA both ways through the IOMMU, one MSI into the local APIC. */
#include "pci.h"
#include "tiny.h"

#define EDU_VENDOR 0x1234
#define EDU_DEVICE 0x11e8

/* BAR0 registers (QEMU docs/specs/edu.rst); all used with 32-bit accesses. */
#define EDU_ID	       0x00 /* 0xRRrr00ed: major, minor */
#define EDU_LIVENESS   0x04 /* reads back the inverse of what was written */
#define EDU_IRQ_STATUS 0x24
#define EDU_IRQ_RAISE  0x60
#define EDU_IRQ_ACK    0x64
#define EDU_DMA_SRC    0x80
#define EDU_DMA_DST    0x88
#define EDU_DMA_COUNT  0x90
#define EDU_DMA_CMD    0x98
#define EDU_DMA_RUN    1
#define EDU_DMA_TO_RAM 2 /* direction: edu -> RAM (0: RAM -> edu) */
#define EDU_DMA_BUF    0x40000 /* the edu's 4 KiB buffer */
/*
 * Bytes a DMA moves: half the edu's buffer. QEMU 7.2's edu rejects a transfer
 * that ends at the end of its buffer (an off-by-one in edu_check_range) with
 * hw_error(), which aborts QEMU and with it the whole rig.
 */
#define EDU_DMA_LEN 2048

#define PCI_COMMAND	    0x04
#define PCI_COMMAND_MEMORY  0x2
#define PCI_COMMAND_MASTER  0x4
#define PCI_CAP_ID_MSI	    0x05
#define PCI_MSI_FLAGS_64    0x80
#define PCI_MSI_FLAGS_QSIZE 0x70

#define MSR_APIC_BASE	 0x1b
#define APIC_BASE_ENABLE (1u << 11)
#define APIC_BASE_X2APIC (1u << 10)
#define LAPIC_SVR	 0xf0
#define LAPIC_SVR_ENABLE 0x100
#define LAPIC_IRR	 0x200
#define MSI_ADDR	 0xfee00000u /* destination APIC ID 0 (vCPU 0) */
#define MSI_VECTOR	 0x51 /* data: fixed delivery, edge */

/*
 * Polls of a register before giving up, DELAY_SPINS empty loops apart. An edu
 * DMA takes 100 ms of QEMU's virtual clock: ~10,000 polls in the rig's L2
 * (measured), so this gives up after ~5 s there.
 */
#define POLL_MAX    500000u
#define DELAY_SPINS 10000u

/* Guest RAM for DMA; identity-mapped: the address is the guest-physical one. */
static uint32_t dma_out[1024] __attribute__((aligned(4096)));
static uint32_t dma_in[1024] __attribute__((aligned(4096)));

static volatile uint8_t *bar0;

static uint32_t rd(unsigned int off)
{
	return *(volatile uint32_t *)(bar0 + off);
}

static void wr(unsigned int off, uint32_t v)
{
	*(volatile uint32_t *)(bar0 + off) = v;
}

static void delay(void)
{
	for (unsigned int i = 0; i < DELAY_SPINS; i++)
		__asm__ volatile("" ::: "memory");
}

static uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return (uint64_t)hi << 32 | lo;
}

static void fail(const char *test, const char *why, uint64_t a, uint64_t b)
{
	puts_uart("TINY: edu ");
	puts_uart(test);
	puts_uart(" FAIL ");
	puts_uart(why);
	puts_uart(" ");
	put_hex(a);
	puts_uart(" ");
	put_hex(b);
	puts_uart("\n");
}

/* The first edu endpoint below a root port of the first segment, or 0. */
static volatile uint8_t *edu_find(const struct ecam *e)
{
	for (unsigned int dev = 0; dev < 32; dev++) {
		for (unsigned int fn = 0; fn < 8; fn++) {
			volatile uint8_t *c =
				ecam_cfg(e, e->bus_first, dev, fn);
			volatile uint8_t *ep;
			unsigned int sec;

			if (c16(c, 0) == 0xffff) {
				if (fn == 0)
					break;
				continue;
			}
			if (c16(c, 0x0a) != PCI_CLASS_BRIDGE_PCI)
				continue;
			sec = c[0x19];
			if (sec <= e->bus_first || sec > e->bus_last)
				continue;
			ep = ecam_cfg(e, sec, 0, 0);
			if (c16(ep, 0) == EDU_VENDOR &&
			    c16(ep, 2) == EDU_DEVICE)
				return ep;
		}
	}
	return 0;
}

/* Start a DMA and wait for the edu to clear its run bit; polls used, or 0. */
static unsigned int edu_dma(uint32_t src, uint32_t dst, uint32_t cmd)
{
	/* The buffers' stores must reach RAM before the device reads them. */
	__asm__ volatile("" ::: "memory");
	wr(EDU_DMA_SRC, src);
	wr(EDU_DMA_DST, dst);
	wr(EDU_DMA_COUNT, EDU_DMA_LEN);
	wr(EDU_DMA_CMD, cmd | EDU_DMA_RUN);
	for (unsigned int n = 1; n <= POLL_MAX; n++) {
		if (!(rd(EDU_DMA_CMD) & EDU_DMA_RUN)) {
			__asm__ volatile("" ::: "memory");
			return n;
		}
		delay();
	}
	return 0;
}

static bool test_dma(void)
{
	uint32_t out = (uint32_t)(uint64_t)dma_out;
	uint32_t in = (uint32_t)(uint64_t)dma_in;
	unsigned int to_dev, to_ram, n = EDU_DMA_LEN / 4;

	for (unsigned int i = 0; i < 1024; i++) {
		dma_out[i] = 0xed000000u ^ (i * 0x9e3779b1u);
		dma_in[i] = 0;
	}
	to_dev = edu_dma(out, EDU_DMA_BUF, 0);
	if (!to_dev) {
		fail("dma", "timeout RAM->edu, cmd", rd(EDU_DMA_CMD), POLL_MAX);
		return false;
	}
	to_ram = edu_dma(EDU_DMA_BUF, in, EDU_DMA_TO_RAM);
	if (!to_ram) {
		fail("dma", "timeout edu->RAM, cmd", rd(EDU_DMA_CMD), POLL_MAX);
		return false;
	}
	puts_uart("TINY: edu dma ");
	put_dec(EDU_DMA_LEN);
	puts_uart(" bytes ");
	put_hex(out);
	puts_uart(" -> edu -> ");
	put_hex(in);
	puts_uart(" polls ");
	put_dec(to_dev);
	puts_uart(" ");
	put_dec(to_ram);
	puts_uart("\n");
	for (unsigned int i = 0; i < n; i++) {
		if (dma_in[i] != dma_out[i]) {
			bool zero = true;

			for (unsigned int j = 0; j < n; j++)
				zero = zero && !dma_in[j];
			fail("dma",
			     zero ? "nothing came back, at" : "mismatch at",
			     i * 4, dma_in[i]);
			return false;
		}
	}
	for (unsigned int i = n; i < 1024; i++) {
		if (dma_in[i]) {
			fail("dma", "written past the transfer, at", i * 4,
			     dma_in[i]);
			return false;
		}
	}
	puts_uart("TINY: edu dma PASS\n");
	return true;
}

static bool test_msi(volatile uint8_t *c)
{
	unsigned int cap = pci_find_cap(c, PCI_CAP_ID_MSI), n;
	uint64_t apic_base = rdmsr(MSR_APIC_BASE);
	volatile uint32_t *lapic, *irr;
	uint32_t bit = 1u << (MSI_VECTOR % 32);
	uint16_t flags;

	if (!cap) {
		fail("msi", "no MSI capability", c16(c, 0x06), c[0x34]);
		return false;
	}
	if (!(apic_base & APIC_BASE_ENABLE) || (apic_base & APIC_BASE_X2APIC)) {
		fail("msi", "local APIC not in xAPIC mode, APIC_BASE",
		     apic_base, 0);
		return false;
	}
	/* Below 4 GiB: inside the VMM's identity map. */
	lapic = (volatile uint32_t *)(apic_base & ~0xfffull);
	map_1g((uint64_t)lapic);
	irr = &lapic[(LAPIC_IRR + 0x10 * (MSI_VECTOR / 32)) / 4];
	lapic[LAPIC_SVR / 4] |= LAPIC_SVR_ENABLE;
	if (*irr & bit) {
		fail("msi", "vector pending before the interrupt, IRR", *irr,
		     0);
		return false;
	}
	/* Address, data, then enable with one vector (Linux's order). */
	flags = c16(c, cap + 2);
	w32(c, cap + 4, MSI_ADDR);
	if (flags & PCI_MSI_FLAGS_64) {
		w32(c, cap + 8, 0);
		w16(c, cap + 12, MSI_VECTOR);
	} else {
		w16(c, cap + 8, MSI_VECTOR);
	}
	w16(c, cap + 2, (uint16_t)((flags & ~PCI_MSI_FLAGS_QSIZE) | 1));
	if (!(c16(c, cap + 2) & 1)) {
		fail("msi", "MSI enable did not stick, flags", c16(c, cap + 2),
		     flags);
		return false;
	}
	/* Interrupts stay disabled: the vector waits in the IRR. */
	wr(EDU_IRQ_RAISE, 1);
	for (n = 1; n <= POLL_MAX && !(*irr & bit); n++)
		delay();
	if (!(*irr & bit)) {
		fail("msi", "vector 0x51 not in the IRR, edu status",
		     rd(EDU_IRQ_STATUS), *irr);
		wr(EDU_IRQ_ACK, 1);
		return false;
	}
	wr(EDU_IRQ_ACK, 1);
	puts_uart("TINY: edu msi vector 0x51 pending after ");
	put_dec(n);
	puts_uart(" polls\n");
	if (rd(EDU_IRQ_STATUS) & 1) {
		fail("msi", "edu status still set after the ack",
		     rd(EDU_IRQ_STATUS), 0);
		return false;
	}
	puts_uart("TINY: edu msi PASS\n");
	return true;
}

void tiny_edu(uint64_t rsdp)
{
	struct ecam e;
	volatile uint8_t *c;
	uint64_t addr;
	uint32_t id, lo;
	uint16_t cmd;
	bool ok = true;

	if (!ecam_find(rsdp, &e)) {
		puts_uart("TINY: edu FAIL no MCFG\n");
		return;
	}
	c = edu_find(&e);
	if (!c) {
		puts_uart("TINY: edu FAIL no edu device (1234:11e8) behind a "
			  "root port\n");
		return;
	}
	lo = c32(c, 0x10);
	addr = lo & ~0xfull;
	if ((lo & 6) == 4)
		addr |= (uint64_t)c32(c, 0x14) << 32;
	if ((lo & 1) || !addr) {
		fail("bar0", "not an assigned memory BAR", lo, 0);
		return;
	}
	cmd = c16(c, PCI_COMMAND);
	if ((cmd & (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER)) !=
	    (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER)) {
		puts_uart("TINY: edu command ");
		put_hex(cmd);
		puts_uart(": setting memory and bus master\n");
		w16(c, PCI_COMMAND,
		    cmd | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	}
	map_1g(addr);
	bar0 = (volatile uint8_t *)addr;
	id = rd(EDU_ID);
	puts_uart("TINY: edu id ");
	put_hex(id);
	puts_uart(" bar0 ");
	put_hex(addr);
	puts_uart("\n");
	if ((id & 0xff) != 0xed) {
		fail("id", "not 0x..ed", id, 0);
		return;
	}
	wr(EDU_LIVENESS, 0x1234abcd);
	if (rd(EDU_LIVENESS) != ~0x1234abcdu) {
		fail("liveness", "not the inverse", rd(EDU_LIVENESS),
		     ~0x1234abcdu);
		return;
	}
	ok = test_dma() && ok;
	ok = test_msi(c) && ok;
	if (ok)
		puts_uart("TINY: edu PASS\n");
	else
		puts_uart("TINY: edu FAIL\n");
}
