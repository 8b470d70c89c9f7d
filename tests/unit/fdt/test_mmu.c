/* test_mmu.c: L0 tests of the stage-1 walk that finds the instruction a stopped aarch64 vCPU was at. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "arch/aarch64/mmu.h"

/* Guest RAM for page tables: 64 KiB at 0x80000000, 16 tables. */
#define T_BASE 0x80000000ull
#define T_SIZE 0x10000ull
static uint64_t t_ram[T_SIZE / 8];

static int t_read(void *opaque, uint64_t pa, uint64_t *val)
{
	(void)opaque;
	if (pa < T_BASE || pa + 8 > T_BASE + T_SIZE || (pa & 7))
		return -EFAULT;
	*val = t_ram[(pa - T_BASE) / 8];
	return 0;
}

static uint64_t t_table(unsigned int n)
{
	return T_BASE + 0x1000ull * n;
}

static void t_set(unsigned int table, unsigned int index, uint64_t desc)
{
	t_ram[(t_table(table) - T_BASE) / 8 + index] = desc;
}

#define T_TABLE_DESC(n)	 (t_table(n) | 3)
#define T_PAGE_DESC(pa)	 ((pa) | 0x403) /* AF, page, valid */
#define T_BLOCK_DESC(pa) ((pa) | 0x401) /* AF, block, valid */

/* TCR as Linux sets it for 48-bit VAs and 4 KiB pages: T0SZ = T1SZ = 16. */
#define T_TCR_48 (16ull | 16ull << 16 | 2ull << 30)

Test(mmu, identity_with_the_mmu_off)
{
	struct a64_mmu_regs r = {0};
	uint64_t pa = 0;

	cr_assert_eq(a64_translate(&r, 0x80012344, t_read, NULL, &pa), 0);
	cr_assert_eq(pa, 0x80012344);
}

/* A kernel address through TTBR1, four levels, to a 4 KiB page. */
Test(mmu, ttbr1_walk_to_a_page)
{
	struct a64_mmu_regs r = {.sctlr = 1, .tcr = T_TCR_48};
	const uint64_t va = 0xffff800008010abcull;
	uint64_t pa = 0;

	memset(t_ram, 0, sizeof(t_ram));
	r.ttbr1 = t_table(0) | (5ull << 48); /* an ASID must not matter */
	t_set(0, (va >> 39) & 511, T_TABLE_DESC(1));
	t_set(1, (va >> 30) & 511, T_TABLE_DESC(2));
	t_set(2, (va >> 21) & 511, T_TABLE_DESC(3));
	t_set(3, (va >> 12) & 511, T_PAGE_DESC(0x40123000ull));
	cr_assert_eq(a64_translate(&r, va, t_read, NULL, &pa), 0);
	cr_assert_eq(pa, 0x40123abcull, "pa 0x%llx", (unsigned long long)pa);
	/* The page next to it is not mapped. */
	cr_assert_eq(a64_translate(&r, va + 0x1000, t_read, NULL, &pa),
		     -EFAULT);
}

/* A 2 MiB block at level 2 through TTBR0, with a 39-bit VA (3 levels). */
Test(mmu, ttbr0_block_with_three_levels)
{
	struct a64_mmu_regs r = {.sctlr = 1, .tcr = 25 | 2ull << 30};
	const uint64_t va = 0x40312345ull;
	uint64_t pa = 0;

	memset(t_ram, 0, sizeof(t_ram));
	r.ttbr0 = t_table(4);
	t_set(4, (va >> 30) & 511, T_TABLE_DESC(5));
	t_set(5, (va >> 21) & 511, T_BLOCK_DESC(0x80200000ull));
	cr_assert_eq(a64_translate(&r, va, t_read, NULL, &pa), 0);
	cr_assert_eq(pa, 0x80312345ull, "pa 0x%llx", (unsigned long long)pa);
	/* Above the 39-bit range of TTBR0: a translation fault. */
	cr_assert_eq(a64_translate(&r, 1ull << 39, t_read, NULL, &pa), -EFAULT);
}

Test(mmu, what_it_does_not_walk)
{
	struct a64_mmu_regs r = {.sctlr = 1, .tcr = T_TCR_48};
	uint64_t pa;

	memset(t_ram, 0, sizeof(t_ram));
	r.ttbr1 = t_table(0);
	/* 64 KiB granule for TTBR1 (TG1 = 3). */
	r.tcr = 16 | 16ull << 16 | 3ull << 30;
	cr_assert_eq(
		a64_translate(&r, 0xffff000000000000ull, t_read, NULL, &pa),
		-ENOTSUP);
	/* Walks disabled for TTBR1 (EPD1). */
	r.tcr = T_TCR_48 | 1ull << 23;
	cr_assert_eq(
		a64_translate(&r, 0xffff000000000000ull, t_read, NULL, &pa),
		-EFAULT);
	/* An empty table: not mapped. */
	r.tcr = T_TCR_48;
	cr_assert_eq(
		a64_translate(&r, 0xffff000000000000ull, t_read, NULL, &pa),
		-EFAULT);
	/* Tables outside RAM cannot be read. */
	r.ttbr1 = 0x1000;
	cr_assert_eq(
		a64_translate(&r, 0xffff000000000000ull, t_read, NULL, &pa),
		-EFAULT);
}
