/* test_bus.c: L0 tests of the MMIO/PIO range table: ordering, overlaps, dispatch. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "vmm/bus.h"

struct rec {
	uint64_t off;
	unsigned int len;
	bool write;
	int calls;
};

static void rec_access(void *opaque, uint64_t offset, uint8_t *data,
		       unsigned int len, bool is_write)
{
	struct rec *r = opaque;

	r->off = offset;
	r->len = len;
	r->write = is_write;
	r->calls++;
	if (!is_write)
		memset(data, 0xab, len);
}

Test(bus, insert_sorted_and_find)
{
	struct bus b;
	struct rec r1 = {0}, r2 = {0}, r3 = {0};

	bus_init(&b);
	cr_assert_eq(bus_insert(&b, 0x2000, 0x100, rec_access, &r2, "b"), 0);
	cr_assert_eq(bus_insert(&b, 0x1000, 0x100, rec_access, &r1, "a"), 0);
	cr_assert_eq(bus_insert(&b, 0x3000, 0x1, rec_access, &r3, "c"), 0);
	cr_assert_eq(b.count, 3);
	cr_assert_eq(b.ranges[0].base, 0x1000);
	cr_assert_eq(b.ranges[1].base, 0x2000);
	cr_assert_eq(b.ranges[2].base, 0x3000);
	cr_assert_eq(bus_find(&b, 0x1000)->opaque, &r1);
	cr_assert_eq(bus_find(&b, 0x10ff)->opaque, &r1);
	cr_assert_null(bus_find(&b, 0x1100));
	cr_assert_null(bus_find(&b, 0xfff));
	cr_assert_eq(bus_find(&b, 0x3000)->opaque, &r3);
	cr_assert_null(bus_find(&b, 0x3001));
	bus_free(&b);
}

Test(bus, rejects_every_kind_of_overlap)
{
	struct bus b;
	struct rec r = {0};

	bus_init(&b);
	cr_assert_eq(bus_insert(&b, 0x1000, 0x100, rec_access, &r, "a"), 0);
	/* identical, inside, straddling start, straddling end, enclosing */
	cr_assert_eq(bus_insert(&b, 0x1000, 0x100, rec_access, &r, "x"),
		     -EEXIST);
	cr_assert_eq(bus_insert(&b, 0x1010, 0x10, rec_access, &r, "x"),
		     -EEXIST);
	cr_assert_eq(bus_insert(&b, 0xf00, 0x101, rec_access, &r, "x"),
		     -EEXIST);
	cr_assert_eq(bus_insert(&b, 0x10ff, 0x10, rec_access, &r, "x"),
		     -EEXIST);
	cr_assert_eq(bus_insert(&b, 0x0, 0x10000, rec_access, &r, "x"),
		     -EEXIST);
	/* exactly adjacent on both sides is fine */
	cr_assert_eq(bus_insert(&b, 0xf00, 0x100, rec_access, &r, "lo"), 0);
	cr_assert_eq(bus_insert(&b, 0x1100, 0x100, rec_access, &r, "hi"), 0);
	cr_assert_eq(b.count, 3);
	bus_free(&b);
}

Test(bus, rejects_empty_and_wrapping_ranges)
{
	struct bus b;
	struct rec r = {0};

	bus_init(&b);
	cr_assert_eq(bus_insert(&b, 0x1000, 0, rec_access, &r, "z"), -EINVAL);
	cr_assert_eq(bus_insert(&b, UINT64_MAX, 2, rec_access, &r, "w"),
		     -EINVAL);
	cr_assert_eq(bus_insert(&b, UINT64_MAX, 1, rec_access, &r, "top"), 0);
	cr_assert_eq(bus_find(&b, UINT64_MAX)->opaque, &r);
	cr_assert_eq(bus_insert(&b, 0x10, 1, NULL, &r, "nofn"), -EINVAL);
	bus_free(&b);
}

Test(bus, dispatch_offsets_and_partial_accesses)
{
	struct bus b;
	struct rec r = {0};
	uint8_t data[8] = {0};

	bus_init(&b);
	cr_assert_eq(bus_insert(&b, 0x3f8, 8, rec_access, &r, "uart"), 0);
	cr_assert(bus_access(&b, 0x3fd, data, 1, false));
	cr_assert_eq(r.off, 5);
	cr_assert_eq(data[0], 0xab);
	cr_assert(bus_access(&b, 0x3f8, data, 4, true));
	cr_assert_eq(r.off, 0);
	cr_assert(r.write);
	/* starts inside but runs past the end: not claimed */
	cr_assert_not(bus_access(&b, 0x3fe, data, 4, false));
	cr_assert_not(bus_access(&b, 0x400, data, 1, false));
	cr_assert_eq(r.calls, 2);
	bus_free(&b);
}

Test(bus, remove_and_many_ranges)
{
	struct bus b;
	struct rec r = {0};

	bus_init(&b);
	for (uint64_t i = 0; i < 1000; i++)
		cr_assert_eq(bus_insert(&b, (999 - i) * 0x10, 0x10, rec_access,
					&r, "n"),
			     0);
	for (uint64_t i = 1; i < 1000; i++)
		cr_assert_gt(b.ranges[i].base, b.ranges[i - 1].base);
	cr_assert_eq(bus_remove(&b, 0x50), 0);
	cr_assert_eq(bus_remove(&b, 0x50), -ENOENT);
	cr_assert_eq(bus_remove(&b, 0x51), -ENOENT);
	cr_assert_null(bus_find(&b, 0x55));
	cr_assert_not_null(bus_find(&b, 0x65));
	cr_assert_eq(b.count, 999);
	bus_free(&b);
}
