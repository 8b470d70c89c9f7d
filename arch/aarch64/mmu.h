/* mmu.h: pure walk of a guest's EL1 stage-1 page tables (4 KiB granule), to show the instruction a vCPU stopped at. */
#ifndef AARCH64_MMU_H
#define AARCH64_MMU_H

#include <stdint.h>

/* The EL1 registers that define the translation. */
struct a64_mmu_regs {
	uint64_t sctlr; /* SCTLR_EL1: M (bit 0) turns stage 1 on */
	uint64_t tcr; /* TCR_EL1: T0SZ, TG0, EPD0, T1SZ, TG1, EPD1, TBI0/1 */
	uint64_t ttbr0, ttbr1;
};

/* Read the 8-byte descriptor at guest-physical `pa`; 0 or -errno. */
typedef int (*a64_read64_fn)(void *opaque, uint64_t pa, uint64_t *val);

/*
 * Translate virtual address `va` as the guest's EL1&0 stage 1 would
 * (ARM ARM D8): the identity with the MMU off; otherwise a walk from
 * TTBR0 or TTBR1 (by VA bit 55) of 4 KiB-granule tables with up to 48-bit
 * addresses, blocks at levels 1 and 2. 0 with *pa; -ENOTSUP for a
 * translation this walk does not do (16K/64K granule, 52-bit addresses);
 * -EFAULT when the address is not mapped or a table cannot be read.
 * Permissions and attributes are not checked: this is for messages.
 */
int a64_translate(const struct a64_mmu_regs *r, uint64_t va, a64_read64_fn read,
		  void *opaque, uint64_t *pa);

#endif
