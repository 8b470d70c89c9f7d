/* edu.c: tiny guest mode "edu" on every arch: finds QEMU's edu device (passed through with --vfio), checks ID and liveness, DMAs both ways through the IOMMU. */
#include "edu.h"

#define EDU_VENDOR 0x1234
#define EDU_DEVICE 0x11e8

/* BAR0 registers (QEMU docs/specs/edu.rst); all used with 32-bit accesses. */
#define EDU_ID	       0x00 /* 0xRRrr00ed: major, minor */
#define EDU_LIVENESS   0x04 /* reads back the inverse of what was written */
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

#define PCI_COMMAND	   0x04
#define PCI_COMMAND_MEMORY 0x2
#define PCI_COMMAND_MASTER 0x4

#define DELAY_SPINS 10000u /* empty loops per edu_delay() */

/* Guest RAM for DMA: the address is the guest-physical one on every arch. */
static uint32_t dma_out[1024] __attribute__((aligned(4096)));
static uint32_t dma_in[1024] __attribute__((aligned(4096)));

static volatile uint8_t *bar0;

uint32_t edu_rd(unsigned int off)
{
	return mmio_read32(bar0 + off);
}

void edu_wr(unsigned int off, uint32_t v)
{
	mmio_write32(bar0 + off, v);
}

void edu_delay(void)
{
	for (unsigned int i = 0; i < DELAY_SPINS; i++)
		__asm__ volatile("" ::: "memory");
}

void edu_fail(const char *test, const char *why, uint64_t a, uint64_t b)
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
static unsigned int edu_dma(uint64_t src, uint64_t dst, uint32_t cmd)
{
	/* The buffers' stores must reach RAM before the device reads them. */
	__asm__ volatile("" ::: "memory");
	/* 32-bit writes: edu zero-extends them (its 0x84 and 0x8c are no registers). */
	edu_wr(EDU_DMA_SRC, (uint32_t)src);
	edu_wr(EDU_DMA_DST, (uint32_t)dst);
	edu_wr(EDU_DMA_COUNT, EDU_DMA_LEN);
	edu_wr(EDU_DMA_CMD, cmd | EDU_DMA_RUN);
	for (unsigned int n = 1; n <= EDU_POLL_MAX; n++) {
		if (!(edu_rd(EDU_DMA_CMD) & EDU_DMA_RUN)) {
			__asm__ volatile("" ::: "memory");
			return n;
		}
		edu_delay();
	}
	return 0;
}

static bool test_dma(void)
{
	/* Identity-mapped (x86) or no MMU (aarch64): physical addresses. */
	uint64_t out = (uint64_t)(uintptr_t)dma_out;
	uint64_t in = (uint64_t)(uintptr_t)dma_in;
	unsigned int to_dev, to_ram, n = EDU_DMA_LEN / 4;

	if ((out | in) >> 32) {
		edu_fail("dma", "buffers above 4 GiB, at", out, in);
		return false;
	}
	for (unsigned int i = 0; i < 1024; i++) {
		dma_out[i] = 0xed000000u ^ (i * 0x9e3779b1u);
		dma_in[i] = 0;
	}
	to_dev = edu_dma(out, EDU_DMA_BUF, 0);
	if (!to_dev) {
		edu_fail("dma", "timeout RAM->edu, cmd", edu_rd(EDU_DMA_CMD), EDU_POLL_MAX);
		return false;
	}
	to_ram = edu_dma(EDU_DMA_BUF, in, EDU_DMA_TO_RAM);
	if (!to_ram) {
		edu_fail("dma", "timeout edu->RAM, cmd", edu_rd(EDU_DMA_CMD), EDU_POLL_MAX);
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
			edu_fail("dma",
			     zero ? "nothing came back, at" : "mismatch at",
			     i * 4, dma_in[i]);
			return false;
		}
	}
	for (unsigned int i = n; i < 1024; i++) {
		if (dma_in[i]) {
			edu_fail("dma", "written past the transfer, at", i * 4,
			     dma_in[i]);
			return false;
		}
	}
	puts_uart("TINY: edu dma PASS\n");
	return true;
}

void tiny_edu_run(const struct ecam *e,
		  bool (*irq_test)(volatile uint8_t *cfg))
{
	volatile uint8_t *c;
	uint64_t addr;
	uint32_t id, lo;
	uint16_t cmd;
	bool ok = true;

	c = edu_find(e);
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
		edu_fail("bar0", "not an assigned memory BAR", lo, 0);
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
	id = edu_rd(EDU_ID);
	puts_uart("TINY: edu id ");
	put_hex(id);
	puts_uart(" bar0 ");
	put_hex(addr);
	puts_uart("\n");
	if ((id & 0xff) != 0xed) {
		edu_fail("id", "not 0x..ed", id, 0);
		return;
	}
	edu_wr(EDU_LIVENESS, 0x1234abcd);
	if (edu_rd(EDU_LIVENESS) != ~0x1234abcdu) {
		edu_fail("liveness", "not the inverse", edu_rd(EDU_LIVENESS),
		     ~0x1234abcdu);
		return;
	}
	ok = test_dma() && ok;
	if (irq_test)
		ok = irq_test(c) && ok;
	else
		puts_uart("TINY: edu interrupt test: none on this arch\n");
	if (ok)
		puts_uart("TINY: edu PASS\n");
	else
		puts_uart("TINY: edu FAIL\n");
}
