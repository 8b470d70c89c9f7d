/* test_memory.c: L0 tests of guest RAM pre-faulting: every page present afterwards, whatever the thread count, on the memfd and on anonymous RAM. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/memory.h"

/* Pages of [p, p+len) in memory, by mincore(2). */
static size_t resident(void *p, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), n = len / page, in = 0;
	unsigned char *v = malloc(n);

	cr_assert(v);
	cr_assert_eq(mincore(p, len, v), 0);
	for (size_t i = 0; i < n; i++)
		in += v[i] & 1;
	free(v);
	return in;
}

static void prefault_case(enum guest_mem_backing b, unsigned int threads)
{
	/* Two regions with a gap in guest-physical space, back to back in the backing. */
	struct mem_region layout[2] = {{0, 24ull << 20, NULL},
				       {1ull << 32, 40ull << 20, NULL}};
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	struct guest_mem m;

	cr_assert_eq(guest_mem_create(&m, layout, 2, b), 0);
	cr_assert_eq(m.total, 64ull << 20);
	cr_expect_lt(resident(m.base, m.total), m.total / page / 2,
		     "pages present before the prefault");
	cr_assert_eq(guest_mem_prefault(&m, threads), 0);
	cr_expect_eq(resident(m.base, m.total), m.total / page,
		     "%u threads: not every page present", threads);
	guest_mem_destroy(&m, false);
}

Test(memory, prefault_memfd_one_thread)
{
	prefault_case(GUEST_MEM_MEMFD, 1);
}

Test(memory, prefault_memfd_in_slices)
{
	/* 64 MiB in 3 slices: the last one shorter, done by the caller. */
	prefault_case(GUEST_MEM_MEMFD, 3);
}

Test(memory, prefault_anonymous_in_slices)
{
	prefault_case(GUEST_MEM_ANON, 4);
}

Test(memory, prefault_more_threads_than_allowed)
{
	prefault_case(GUEST_MEM_MEMFD, 100);
}

Test(memory, prefault_thread_count)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned int want = cpus > GUEST_MEM_PREFAULT_MAX_THREADS
				    ? GUEST_MEM_PREFAULT_MAX_THREADS
				    : (unsigned int)cpus;

	/* Below 512 MiB one thread; slices never below 256 MiB. */
	cr_expect_eq(guest_mem_prefault_threads(128ull << 20), 1);
	cr_expect_eq(guest_mem_prefault_threads(512ull << 20),
		     want < 2 ? want : 2);
	cr_expect_eq(guest_mem_prefault_threads(1ull << 40), want);
}
