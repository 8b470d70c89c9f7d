/* mmu.c: stage-1 translation of a guest virtual address, 4 KiB granule (for error messages). */
#include "arch/aarch64/mmu.h"

#include <errno.h>
#include <stdbool.h>

#define SCTLR_M (1ull << 0)

/* TCR_EL1 fields (ARM ARM D17.2.131). */
#define TCR_T0SZ(t) ((unsigned int)((t)&0x3f))
#define TCR_EPD0    (1ull << 7)
#define TCR_TG0(t)  ((unsigned int)(((t) >> 14) & 3))
#define TCR_T1SZ(t) ((unsigned int)(((t) >> 16) & 0x3f))
#define TCR_EPD1    (1ull << 23)
#define TCR_TG1(t)  ((unsigned int)(((t) >> 30) & 3))
#define TCR_TBI0    (1ull << 37)
#define TCR_TBI1    (1ull << 38)
#define TG0_4K	    0
#define TG1_4K	    2

#define DESC_VALID (1ull << 0)
#define DESC_TABLE (1ull << 1) /* table (levels 0-2) or page (level 3) */
/* Output address bits 47:12 of a 4 KiB-granule descriptor. */
#define DESC_ADDR 0x0000fffffffff000ull
/* TTBR BADDR, bits 47:1 (bit 0 is CnP; 63:48 the ASID). */
#define TTBR_BADDR 0x0000fffffffffffeull

#define PAGE_SHIFT  12
#define LEVEL_BITS  9
#define MAX_IA_BITS 48
#define MIN_IA_BITS 16 /* T0SZ at most 48 (FEAT_TTST allows more) */

int a64_translate(const struct a64_mmu_regs *r, uint64_t va, a64_read64_fn read,
		  void *opaque, uint64_t *pa)
{
	bool upper = (va >> 55) & 1;
	unsigned int txsz, ia_bits, level, shift;
	uint64_t table, desc, top;
	int rc;

	if (!(r->sctlr & SCTLR_M)) {
		*pa = va;
		return 0;
	}
	if (upper) {
		if (TCR_TG1(r->tcr) != TG1_4K)
			return -ENOTSUP;
		if (r->tcr & TCR_EPD1)
			return -EFAULT;
		txsz = TCR_T1SZ(r->tcr);
		table = r->ttbr1 & TTBR_BADDR;
	} else {
		if (TCR_TG0(r->tcr) != TG0_4K)
			return -ENOTSUP;
		if (r->tcr & TCR_EPD0)
			return -EFAULT;
		txsz = TCR_T0SZ(r->tcr);
		table = r->ttbr0 & TTBR_BADDR;
	}
	ia_bits = 64 - txsz;
	if (ia_bits > MAX_IA_BITS)
		return -ENOTSUP;
	if (ia_bits < MIN_IA_BITS)
		return -EFAULT;
	/* With top-byte-ignore the tag in bits 63:56 is not address. */
	if (r->tcr & (upper ? TCR_TBI1 : TCR_TBI0))
		va = upper ? va | 0xff00000000000000ull
			   : va & 0x00ffffffffffffffull;
	/* Bits above the input size must all equal bit 55. */
	top = ia_bits < 64 ? va >> ia_bits : 0;
	if (top != (upper ? (~0ull >> ia_bits) : 0))
		return -EFAULT;

	/* The walk starts at the level whose index takes the top bits. */
	level = 4 - (ia_bits - PAGE_SHIFT + LEVEL_BITS - 1) / LEVEL_BITS;
	for (;; level++) {
		unsigned int bits;
		uint64_t index;

		shift = PAGE_SHIFT + LEVEL_BITS * (3 - level);
		bits = ia_bits - shift;
		if (bits > LEVEL_BITS)
			bits = LEVEL_BITS;
		index = (va >> shift) & ((1ull << bits) - 1);
		rc = read(opaque, table + index * 8, &desc);
		if (rc < 0)
			return -EFAULT;
		if (!(desc & DESC_VALID))
			return -EFAULT;
		if (level == 3) {
			if (!(desc & DESC_TABLE))
				return -EFAULT; /* reserved encoding */
			break;
		}
		if (!(desc & DESC_TABLE)) {
			/* A block: 1 GiB at level 1, 2 MiB at level 2. */
			if (level == 0)
				return -EFAULT;
			break;
		}
		table = desc & DESC_ADDR;
	}
	*pa = (desc & DESC_ADDR & ~((1ull << shift) - 1)) |
	      (va & ((1ull << shift) - 1));
	return 0;
}
