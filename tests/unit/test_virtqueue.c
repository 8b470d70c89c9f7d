/* test_virtqueue.c: L0 tests of the split virtqueue: good and bad rings. */
#include <criterion/criterion.h>
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "devices/virtio/virtqueue.h"

#define VT_PAGE	    4096ull
#define VT_RAM	    0x100000ull /* bytes per region */
#define VT_GAP_GPA  0x10000000ull /* region 1 when not adjacent */
#define VT_BIG_GPA  0x100000000ull /* region 1 of the "big" layout */
#define VT_BIG_SIZE 0xc0000000ull /* reserved, never touched */

/* Ring placement for queues up to 2048 entries. */
#define VT_DESC	 0x40000ull
#define VT_AVAIL 0x50000ull
#define VT_USED	 0x58000ull
#define VT_TBL	 0x60000ull /* indirect tables */
#define VT_DATA	 0x80000ull /* data buffers */

#define VT_F_EVENT    (1ull << VIRTIO_RING_F_EVENT_IDX)
#define VT_F_INDIRECT (1ull << VIRTIO_RING_F_INDIRECT_DESC)

#define NEXT  VRING_DESC_F_NEXT
#define WRITE VRING_DESC_F_WRITE
#define INDIR VRING_DESC_F_INDIRECT

enum vt_layout {
	VT_ONE, /* one region at 0 */
	VT_ADJ, /* a second region right after the first in guest-physical space */
	VT_GAP, /* a second region after a hole */
	VT_BIG, /* a second 3 GiB region nobody may touch */
};

struct vt {
	struct guest_mem mem;
	uint8_t *map[2];
	size_t maplen[2];
	uint8_t *snap[2];
	struct virtq q;
	uint16_t aidx; /* the driver's avail idx */
	char err[256];
	struct virtq_elem elem;
};

/*
 * A region with an inaccessible guard page on each side: a stray access
 * just outside guest RAM crashes the test instead of passing unseen.
 */
static uint8_t *vt_map(size_t len, bool usable, size_t *maplen)
{
	uint8_t *p;

	*maplen = len + 2 * VT_PAGE;
	p = mmap(NULL, *maplen, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	cr_assert_neq(p, MAP_FAILED);
	if (usable)
		cr_assert_eq(mprotect(p + VT_PAGE, len, PROT_READ | PROT_WRITE),
			     0);
	return p;
}

static struct vt *vt_new(enum vt_layout layout)
{
	struct vt *t = calloc(1, sizeof(*t));

	cr_assert_not_null(t);
	t->mem.fd = -1;
	t->map[0] = vt_map(VT_RAM, true, &t->maplen[0]);
	t->mem.regions[0] = (struct mem_region){
		.gpa = 0, .size = VT_RAM, .hva = t->map[0] + VT_PAGE};
	t->mem.nregions = 1;
	if (layout == VT_ONE)
		return t;
	if (layout == VT_BIG) {
		t->map[1] = vt_map(VT_BIG_SIZE, false, &t->maplen[1]);
		t->mem.regions[1] =
			(struct mem_region){.gpa = VT_BIG_GPA,
					    .size = VT_BIG_SIZE,
					    .hva = t->map[1] + VT_PAGE};
	} else {
		t->map[1] = vt_map(VT_RAM, true, &t->maplen[1]);
		t->mem.regions[1] = (struct mem_region){
			.gpa = layout == VT_ADJ ? VT_RAM : VT_GAP_GPA,
			.size = VT_RAM,
			.hva = t->map[1] + VT_PAGE};
	}
	t->mem.nregions = 2;
	return t;
}

static void vt_free(struct vt *t)
{
	for (int i = 0; i < 2; i++) {
		if (t->map[i])
			munmap(t->map[i], t->maplen[i]);
		free(t->snap[i]);
	}
	free(t);
}

/* The standard queue: rings at VT_DESC/VT_AVAIL/VT_USED. */
static struct vt *vt_queue(enum vt_layout layout, uint16_t size,
			   uint64_t features)
{
	struct vt *t = vt_new(layout);

	cr_assert_eq(virtq_init(&t->q, &t->mem, size, VT_DESC, VT_AVAIL,
				VT_USED, features),
		     0);
	return t;
}

static void *vt_ptr(struct vt *t, uint64_t gpa, uint64_t len)
{
	void *p = guest_mem_ptr(&t->mem, gpa, len);

	cr_assert_not_null(p, "test bug: gpa 0x%llx not in RAM",
			   (unsigned long long)gpa);
	return p;
}

static void vt_w16(struct vt *t, uint64_t gpa, uint16_t v)
{
	v = htole16(v);
	memcpy(vt_ptr(t, gpa, 2), &v, 2);
}

static uint16_t vt_r16(struct vt *t, uint64_t gpa)
{
	uint16_t v;

	memcpy(&v, vt_ptr(t, gpa, 2), 2);
	return le16toh(v);
}

static uint32_t vt_r32(struct vt *t, uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, vt_ptr(t, gpa, 4), 4);
	return le32toh(v);
}

/* Write descriptor `idx` of the table at `table`. */
static void vt_tdesc(struct vt *t, uint64_t table, uint16_t idx, uint64_t addr,
		     uint32_t len, uint16_t flags, uint16_t next)
{
	struct vring_desc d = {
		.addr = htole64(addr),
		.len = htole32(len),
		.flags = htole16(flags),
		.next = htole16(next),
	};

	memcpy(vt_ptr(t, table + 16ull * idx, 16), &d, 16);
}

static void vt_desc(struct vt *t, uint16_t idx, uint64_t addr, uint32_t len,
		    uint16_t flags, uint16_t next)
{
	vt_tdesc(t, t->q.desc_gpa, idx, addr, len, flags, next);
}

/* Make the chain at `head` available, as a driver does. */
static void vt_avail(struct vt *t, uint16_t head)
{
	vt_w16(t, t->q.avail_gpa + 4 + 2ull * (t->aidx % t->q.size), head);
	t->aidx++;
	vt_w16(t, t->q.avail_gpa + 2, t->aidx);
}

/* Start both sides at `idx` (to test the 16-bit wrap). */
static void vt_start_at(struct vt *t, uint16_t idx)
{
	t->q.last_avail = t->q.used_idx = idx;
	t->aidx = idx;
	vt_w16(t, t->q.avail_gpa + 2, idx);
	vt_w16(t, t->q.used_gpa + 2, idx);
}

static void vt_snapshot(struct vt *t)
{
	for (unsigned int i = 0; i < t->mem.nregions; i++) {
		if (t->mem.regions[i].size != VT_RAM)
			continue;
		free(t->snap[i]);
		t->snap[i] = malloc(VT_RAM);
		cr_assert_not_null(t->snap[i]);
		memcpy(t->snap[i], t->mem.regions[i].hva, VT_RAM);
	}
}

/* Guest RAM equals the snapshot, except [skip, skip+skiplen). */
static bool vt_unchanged_except(struct vt *t, uint64_t skip, uint64_t skiplen)
{
	for (unsigned int i = 0; i < t->mem.nregions; i++) {
		const struct mem_region *r = &t->mem.regions[i];

		if (!t->snap[i])
			continue;
		for (uint64_t off = 0; off < r->size; off++) {
			uint64_t gpa = r->gpa + off;

			if (gpa >= skip && gpa - skip < skiplen)
				continue;
			if (r->hva[off] != t->snap[i][off])
				return false;
		}
	}
	return true;
}

static bool vt_unchanged(struct vt *t)
{
	return vt_unchanged_except(t, 0, 0);
}

static int vt_pop(struct vt *t)
{
	t->err[0] = 0;
	return virtq_pop(&t->q, &t->mem, &t->elem, t->err, sizeof(t->err));
}

static void vt_expect_iov(struct vt *t, unsigned int i, uint64_t gpa,
			  uint32_t len)
{
	cr_assert_lt(i, t->elem.nout + t->elem.nin);
	cr_assert_eq(t->elem.iov[i].base, vt_ptr(t, gpa, len),
		     "iov %u: wrong host address", i);
	cr_assert_eq(t->elem.iov[i].len, len, "iov %u: len %u, want %u", i,
		     t->elem.iov[i].len, len);
}

/*
 * The malformed request at the front must be refused: -EIO with a message
 * that names the fault, the queue broken, nothing consumed, nothing in
 * guest RAM written, and every later call refused too.
 */
static void vt_expect_bad(struct vt *t, const char *why)
{
	uint16_t last = t->q.last_avail;

	vt_snapshot(t);
	cr_assert_eq(vt_pop(t), -EIO, "malformed chain accepted (want: %s)",
		     why);
	cr_assert(t->q.broken);
	cr_assert_not_null(strstr(t->err, why), "error \"%s\", want \"%s\"",
			   t->err, why);
	cr_assert_eq(t->q.last_avail, last);
	cr_assert_eq(t->elem.nout + t->elem.nin, 0);
	cr_assert(vt_unchanged(t), "guest RAM written by a failed pop");
	cr_assert_eq(vt_pop(t), -EIO);
	cr_assert_eq(virtq_pending(&t->q), -EIO);
	cr_assert_eq(t->q.last_avail, last);
	cr_assert_eq(t->q.used_idx, 0);
}

/* ---- attaching rings ---- */

Test(virtq, init_accepts_spec_layout)
{
	struct vt *t = vt_new(VT_ONE);

	cr_assert_eq(virtq_init(&t->q, &t->mem, 16, VT_DESC, VT_AVAIL, VT_USED,
				VT_F_EVENT | VT_F_INDIRECT),
		     0);
	cr_assert_eq(t->q.size, 16);
	cr_assert(t->q.event_idx);
	cr_assert(t->q.indirect);
	cr_assert_eq(t->q.desc_gpa, VT_DESC);
	cr_assert_eq((void *)t->q.desc, vt_ptr(t, VT_DESC, 1));
	cr_assert_eq((void *)t->q.avail, vt_ptr(t, VT_AVAIL, 1));
	cr_assert_eq((void *)t->q.used, vt_ptr(t, VT_USED, 1));
	cr_assert_eq(
		virtq_init(&t->q, &t->mem, 1, VT_DESC, VT_AVAIL, VT_USED, 0),
		0);
	cr_assert_not(t->q.event_idx);
	cr_assert_not(t->q.indirect);
	/* Minimal alignment, areas packed back to back, largest size. */
	cr_assert_eq(virtq_init(&t->q, &t->mem, 32768, 0x10, 0x80010 + 2,
				0x90018, 0),
		     0);
	vt_free(t);
}

Test(virtq, init_rejects_bad_size)
{
	struct vt *t = vt_new(VT_ONE);
	const uint16_t bad[] = {0, 3, 6, 100, 32767, 32769, 65535};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(virtq_init(&t->q, &t->mem, bad[i], VT_DESC,
					VT_AVAIL, VT_USED, 0),
			     -EINVAL, "size %u accepted", bad[i]);
		cr_assert_eq(t->q.size, 0);
	}
	vt_free(t);
}

Test(virtq, init_rejects_misaligned_rings)
{
	struct vt *t = vt_new(VT_ONE);

	cr_assert_eq(virtq_init(&t->q, &t->mem, 16, VT_DESC + 8, VT_AVAIL,
				VT_USED, 0),
		     -EINVAL);
	cr_assert_eq(virtq_init(&t->q, &t->mem, 16, VT_DESC, VT_AVAIL + 1,
				VT_USED, 0),
		     -EINVAL);
	cr_assert_eq(virtq_init(&t->q, &t->mem, 16, VT_DESC, VT_AVAIL,
				VT_USED + 2, 0),
		     -EINVAL);
	cr_assert_eq(t->q.size, 0);
	vt_free(t);
}

Test(virtq, init_checks_guest_and_host_alignment)
{
	struct vt *t = vt_new(VT_GAP);
	const uint64_t r1 = VT_GAP_GPA;

	/*
	 * Region 1 moved off its natural alignment, so guest-physical and host
	 * alignment differ inside it: each must hold on its own.
	 */
	t->mem.regions[1].gpa = r1 + 1;
	cr_assert_eq(
		virtq_init(&t->q, &t->mem, 16, VT_DESC, r1 + 0x101, VT_USED, 0),
		-EINVAL, "odd avail gpa");
	cr_assert_eq(
		virtq_init(&t->q, &t->mem, 16, VT_DESC, r1 + 0x102, VT_USED, 0),
		-EINVAL, "odd avail host address");
	t->mem.regions[1].gpa = r1 + 2;
	cr_assert_eq(virtq_init(&t->q, &t->mem, 16, VT_DESC, VT_AVAIL,
				r1 + 0x102, 0),
		     -EINVAL, "used gpa not 4-aligned");
	cr_assert_eq(virtq_init(&t->q, &t->mem, 16, VT_DESC, VT_AVAIL,
				r1 + 0x104, 0),
		     -EINVAL, "used host address not 4-aligned");
	t->mem.regions[1].gpa = r1 + 4;
	cr_assert_eq(virtq_init(&t->q, &t->mem, 16, r1 + 0x104, VT_AVAIL,
				VT_USED, 0),
		     -EINVAL, "desc gpa not 16-aligned");
	/* The table is read with memcpy: its host alignment does not matter. */
	cr_assert_eq(virtq_init(&t->q, &t->mem, 16, r1 + 0x110, VT_AVAIL,
				VT_USED, 0),
		     0);
	cr_assert_eq((uintptr_t)t->q.desc % 16, 12);
	vt_desc(t, 0, VT_DATA, 16, 0, 0);
	vt_avail(t, 0);
	cr_assert_eq(vt_pop(t), 1, "%s", t->err);
	vt_free(t);
}

Test(virtq, init_rejects_rings_outside_ram)
{
	struct vt *t = vt_new(VT_GAP);
	const uint64_t end = VT_RAM;

	/* Each area runs past the end of region 0 by a little. */
	cr_assert_eq(virtq_init(&t->q, &t->mem, 16, end - 16 * 16 + 16,
				VT_AVAIL, VT_USED, 0),
		     -EFAULT);
	cr_assert_eq(virtq_init(&t->q, &t->mem, 16, VT_DESC,
				end - 6 - 2 * 16 + 2, VT_USED, 0),
		     -EFAULT);
	cr_assert_eq(
		virtq_init(&t->q, &t->mem, 16, VT_DESC, VT_AVAIL, end - 132, 0),
		-EFAULT);
	/* Exactly fitting is fine. */
	cr_assert_eq(virtq_init(&t->q, &t->mem, 16, end - 256, end - 294,
				end - 432, 0),
		     0);
	/* In the hole, at the top of the address space, wrapping. */
	cr_assert_eq(
		virtq_init(&t->q, &t->mem, 16, 0x2000000, VT_AVAIL, VT_USED, 0),
		-EFAULT);
	cr_assert_eq(virtq_init(&t->q, &t->mem, 16, VT_DESC, VT_AVAIL,
				0xfffffffffffffff0ull, 0),
		     -EFAULT);
	cr_assert_eq(t->q.size, 0);
	vt_free(t);
}

Test(virtq, init_rejects_ring_straddling_regions)
{
	/* Contiguous in guest-physical space, not in host memory. */
	struct vt *t = vt_new(VT_ADJ);

	cr_assert_eq(virtq_init(&t->q, &t->mem, 16, VT_RAM - 128, VT_AVAIL,
				VT_USED, 0),
		     -EFAULT);
	cr_assert_eq(virtq_init(&t->q, &t->mem, 16, VT_DESC, VT_AVAIL,
				VT_RAM - 64, 0),
		     -EFAULT);
	vt_free(t);
}

Test(virtq, detached_queue_is_inert)
{
	struct vt *t = vt_new(VT_ONE);

	vt_snapshot(t);
	virtq_reset(&t->q);
	cr_assert_eq(vt_pop(t), 0);
	cr_assert_eq(virtq_pending(&t->q), 0);
	virtq_push(&t->q, &t->mem, 0, 0);
	cr_assert_not(virtq_need_notify(&t->q));
	virtq_set_avail_event(&t->q);
	cr_assert(vt_unchanged(t));
	/* A failed init leaves it detached as well. */
	cr_assert_eq(
		virtq_init(&t->q, &t->mem, 16, VT_DESC, VT_AVAIL, VT_RAM, 0),
		-EFAULT);
	cr_assert_eq(vt_pop(t), 0);
	vt_free(t);
}

Test(virtq, reset_forgets_everything)
{
	struct vt *t = vt_queue(VT_ONE, 16, VT_F_EVENT);

	t->q.last_avail = 7;
	t->q.broken = true;
	virtq_reset(&t->q);
	cr_assert_eq(t->q.size, 0);
	cr_assert_eq(t->q.last_avail, 0);
	cr_assert_not(t->q.broken);
	cr_assert_null(t->q.desc);
	vt_free(t);
}

/* ---- good chains ---- */

Test(virtq, empty_ring)
{
	struct vt *t = vt_queue(VT_ONE, 16, 0);

	cr_assert_eq(virtq_pending(&t->q), 0);
	cr_assert_eq(vt_pop(t), 0);
	cr_assert_not(t->q.broken);
	vt_free(t);
}

Test(virtq, single_readable_buffer)
{
	struct vt *t = vt_queue(VT_ONE, 16, 0);

	vt_desc(t, 3, VT_DATA, 100, 0, 0);
	vt_avail(t, 3);
	cr_assert_eq(virtq_pending(&t->q), 1);
	cr_assert_eq(vt_pop(t), 1, "%s", t->err);
	cr_assert_eq(t->elem.head, 3);
	cr_assert_eq(t->elem.nout, 1);
	cr_assert_eq(t->elem.nin, 0);
	cr_assert_eq(t->elem.out_len, 100);
	cr_assert_eq(t->elem.in_len, 0);
	vt_expect_iov(t, 0, VT_DATA, 100);
	cr_assert_eq(t->q.last_avail, 1);
	cr_assert_eq(virtq_pending(&t->q), 0);
	cr_assert_eq(vt_pop(t), 0);
	vt_free(t);
}

Test(virtq, out_then_in_segments)
{
	struct vt *t = vt_queue(VT_ONE, 16, 0);

	/* A block request shape: header, two data buffers, status byte. */
	vt_desc(t, 0, VT_DATA, 16, NEXT, 5);
	vt_desc(t, 5, VT_DATA + 0x1000, 512, NEXT, 2);
	vt_desc(t, 2, VT_DATA + 0x2000, 4096, WRITE | NEXT, 9);
	vt_desc(t, 9, VT_DATA + 0x4000, 1, WRITE, 0);
	vt_avail(t, 0);
	cr_assert_eq(vt_pop(t), 1, "%s", t->err);
	cr_assert_eq(t->elem.head, 0);
	cr_assert_eq(t->elem.nout, 2);
	cr_assert_eq(t->elem.nin, 2);
	cr_assert_eq(t->elem.out_len, 528);
	cr_assert_eq(t->elem.in_len, 4097);
	vt_expect_iov(t, 0, VT_DATA, 16);
	vt_expect_iov(t, 1, VT_DATA + 0x1000, 512);
	vt_expect_iov(t, 2, VT_DATA + 0x2000, 4096);
	vt_expect_iov(t, 3, VT_DATA + 0x4000, 1);
	vt_free(t);
}

Test(virtq, only_writable_buffers)
{
	struct vt *t = vt_queue(VT_ONE, 16, 0);

	vt_desc(t, 7, VT_DATA, 64, WRITE | NEXT, 8);
	vt_desc(t, 8, VT_DATA + 64, 64, WRITE, 0);
	vt_avail(t, 7);
	cr_assert_eq(vt_pop(t), 1, "%s", t->err);
	cr_assert_eq(t->elem.nout, 0);
	cr_assert_eq(t->elem.nin, 2);
	cr_assert_eq(t->elem.in_len, 128);
	vt_free(t);
}

Test(virtq, chain_of_whole_queue)
{
	struct vt *t = vt_queue(VT_ONE, 8, 0);

	/* All 8 descriptors, in a scrambled order, is the longest legal chain. */
	const uint16_t order[8] = {4, 0, 7, 1, 6, 2, 5, 3};

	for (int i = 0; i < 8; i++)
		vt_desc(t, order[i], VT_DATA + 0x100 * i, 0x10,
			i < 7 ? NEXT : 0, i < 7 ? order[i + 1] : 0);
	vt_avail(t, 4);
	cr_assert_eq(vt_pop(t), 1, "%s", t->err);
	cr_assert_eq(t->elem.nout, 8);
	for (int i = 0; i < 8; i++)
		vt_expect_iov(t, i, VT_DATA + 0x100 * i, 0x10);
	vt_free(t);
}

Test(virtq, queue_of_one)
{
	struct vt *t = vt_queue(VT_ONE, 1, VT_F_INDIRECT);

	vt_desc(t, 0, VT_DATA, 8, 0, 0);
	vt_avail(t, 0);
	cr_assert_eq(vt_pop(t), 1, "%s", t->err);
	virtq_push(&t->q, &t->mem, 0, 0);
	/* An indirect table of one entry fits a queue of one. */
	vt_desc(t, 0, VT_TBL, 16, INDIR, 0);
	vt_tdesc(t, VT_TBL, 0, VT_DATA, 4, WRITE, 0);
	vt_avail(t, 0);
	cr_assert_eq(vt_pop(t), 1, "%s", t->err);
	cr_assert_eq(t->elem.nin, 1);
	vt_free(t);
}

Test(virtq, several_requests_in_avail_order)
{
	struct vt *t = vt_queue(VT_ONE, 16, 0);

	vt_desc(t, 10, VT_DATA, 1, 0, 0);
	vt_desc(t, 2, VT_DATA + 1, 2, 0, 0);
	vt_desc(t, 6, VT_DATA + 3, 3, WRITE, 0);
	vt_avail(t, 6);
	vt_avail(t, 10);
	vt_avail(t, 2);
	cr_assert_eq(virtq_pending(&t->q), 3);
	cr_assert_eq(vt_pop(t), 1);
	cr_assert_eq(t->elem.head, 6);
	cr_assert_eq(t->elem.in_len, 3);
	cr_assert_eq(vt_pop(t), 1);
	cr_assert_eq(t->elem.head, 10);
	cr_assert_eq(t->elem.out_len, 1);
	cr_assert_eq(vt_pop(t), 1);
	cr_assert_eq(t->elem.head, 2);
	cr_assert_eq(t->elem.out_len, 2);
	cr_assert_eq(vt_pop(t), 0);
	vt_free(t);
}

Test(virtq, indirect_table)
{
	struct vt *t = vt_queue(VT_ONE, 16, VT_F_INDIRECT);

	vt_tdesc(t, VT_TBL, 0, VT_DATA, 16, NEXT, 2);
	vt_tdesc(t, VT_TBL, 2, VT_DATA + 0x100, 200, NEXT, 1);
	vt_tdesc(t, VT_TBL, 1, VT_DATA + 0x400, 1, WRITE, 0);
	vt_desc(t, 4, VT_TBL, 3 * 16, INDIR, 0);
	vt_avail(t, 4);
	cr_assert_eq(vt_pop(t), 1, "%s", t->err);
	cr_assert_eq(t->elem.head, 4);
	cr_assert_eq(t->elem.nout, 2);
	cr_assert_eq(t->elem.nin, 1);
	cr_assert_eq(t->elem.out_len, 216);
	cr_assert_eq(t->elem.in_len, 1);
	vt_expect_iov(t, 0, VT_DATA, 16);
	vt_expect_iov(t, 1, VT_DATA + 0x100, 200);
	vt_expect_iov(t, 2, VT_DATA + 0x400, 1);
	vt_free(t);
}

Test(virtq, indirect_write_flag_ignored_and_unaligned_table)
{
	struct vt *t = vt_queue(VT_ONE, 16, VT_F_INDIRECT);

	/* Spec 2.7.5.3.2: WRITE on the pointer means nothing. */
	vt_tdesc(t, VT_TBL + 4, 0, VT_DATA, 16, NEXT, 1);
	vt_tdesc(t, VT_TBL + 4, 1, VT_DATA + 16, 16, WRITE, 0);
	vt_desc(t, 0, VT_TBL + 4, 32, INDIR | WRITE, 0);
	vt_avail(t, 0);
	cr_assert_eq(vt_pop(t), 1, "%s", t->err);
	cr_assert_eq(t->elem.nout, 1);
	cr_assert_eq(t->elem.nin, 1);
	vt_free(t);
}

Test(virtq, direct_descriptors_then_indirect)
{
	struct vt *t = vt_queue(VT_ONE, 16, VT_F_INDIRECT);

	/* Spec 2.7.5.3.2: zero or more normal descriptors, then a table. */
	vt_desc(t, 1, VT_DATA, 16, NEXT, 3);
	vt_desc(t, 3, VT_TBL, 2 * 16, INDIR, 0);
	vt_tdesc(t, VT_TBL, 0, VT_DATA + 0x100, 32, NEXT, 1);
	vt_tdesc(t, VT_TBL, 1, VT_DATA + 0x200, 64, WRITE, 0);
	vt_avail(t, 1);
	cr_assert_eq(vt_pop(t), 1, "%s", t->err);
	cr_assert_eq(t->elem.head, 1);
	cr_assert_eq(t->elem.nout, 2);
	cr_assert_eq(t->elem.nin, 1);
	vt_expect_iov(t, 0, VT_DATA, 16);
	vt_expect_iov(t, 1, VT_DATA + 0x100, 32);
	vt_expect_iov(t, 2, VT_DATA + 0x200, 64);
	vt_free(t);
}

Test(virtq, indirect_table_of_queue_size)
{
	struct vt *t = vt_queue(VT_ONE, 16, VT_F_INDIRECT);

	for (int i = 0; i < 16; i++)
		vt_tdesc(t, VT_TBL, i, VT_DATA + 8 * i, 8, i < 15 ? NEXT : 0,
			 i + 1);
	vt_desc(t, 0, VT_TBL, 16 * 16, INDIR, 0);
	vt_avail(t, 0);
	cr_assert_eq(vt_pop(t), 1, "%s", t->err);
	cr_assert_eq(t->elem.nout, 16);
	cr_assert_eq(t->elem.out_len, 128);
	vt_free(t);
}

Test(virtq, buffer_across_adjacent_regions_is_split)
{
	struct vt *t = vt_queue(VT_ADJ, 16, 0);

	/* 0x20 bytes before the boundary, 0x30 after: two iovecs. */
	vt_desc(t, 0, VT_DATA, 8, NEXT, 1);
	vt_desc(t, 1, VT_RAM - 0x20, 0x50, WRITE, 0);
	vt_avail(t, 0);
	cr_assert_eq(vt_pop(t), 1, "%s", t->err);
	cr_assert_eq(t->elem.nout, 1);
	cr_assert_eq(t->elem.nin, 2);
	cr_assert_eq(t->elem.in_len, 0x50);
	vt_expect_iov(t, 1, VT_RAM - 0x20, 0x20);
	vt_expect_iov(t, 2, VT_RAM, 0x30);
	cr_assert_eq(t->elem.iov[2].base, t->map[1] + VT_PAGE);
	vt_free(t);
}

Test(virtq, chain_of_exactly_4g_minus_1_bytes)
{
	struct vt *t = vt_queue(VT_BIG, 16, 0);

	/* Validation must not touch the buffers: this region is PROT_NONE. */
	vt_desc(t, 0, VT_BIG_GPA, 0x80000000u, NEXT, 1);
	vt_desc(t, 1, VT_BIG_GPA, 0x7fffffffu, WRITE, 0);
	vt_avail(t, 0);
	cr_assert_eq(vt_pop(t), 1, "%s", t->err);
	cr_assert_eq(t->elem.out_len, 0x80000000u);
	cr_assert_eq(t->elem.in_len, 0x7fffffffu);
	vt_free(t);
}

Test(virtq, max_segments)
{
	struct vt *t = vt_queue(VT_ONE, 2048, 0);

	for (int i = 0; i < VIRTQ_MAX_SEGS; i++)
		vt_desc(t, i, VT_DATA + i, 1, i < VIRTQ_MAX_SEGS - 1 ? NEXT : 0,
			i + 1);
	vt_avail(t, 0);
	cr_assert_eq(vt_pop(t), 1, "%s", t->err);
	cr_assert_eq(t->elem.nout, VIRTQ_MAX_SEGS);
	cr_assert_eq(t->elem.out_len, VIRTQ_MAX_SEGS);
	vt_expect_iov(t, VIRTQ_MAX_SEGS - 1, VT_DATA + VIRTQ_MAX_SEGS - 1, 1);
	vt_free(t);
}

Test(virtq, index_wraparound)
{
	struct vt *t = vt_queue(VT_ONE, 16, 0);

	/* avail and used indexes run through 65535 -> 0. */
	vt_start_at(t, 65533);
	for (int i = 0; i < 6; i++) {
		vt_desc(t, i, VT_DATA + 0x10 * i, 0x10, WRITE, 0);
		vt_avail(t, i);
	}
	cr_assert_eq(t->aidx, 3);
	cr_assert_eq(virtq_pending(&t->q), 6);
	for (int i = 0; i < 6; i++) {
		cr_assert_eq(vt_pop(t), 1, "pop %d: %s", i, t->err);
		cr_assert_eq(t->elem.head, i);
		virtq_push(&t->q, &t->mem, t->elem.head, 0x10 - i);
	}
	cr_assert_eq(vt_pop(t), 0);
	cr_assert_eq(t->q.last_avail, 3);
	cr_assert_eq(t->q.used_idx, 3);
	cr_assert_eq(vt_r16(t, VT_USED + 2), 3);
	for (int i = 0; i < 6; i++) {
		uint16_t slot = (uint16_t)(65533 + i) % 16;

		cr_assert_eq(vt_r32(t, VT_USED + 4 + 8 * slot), (uint32_t)i);
		cr_assert_eq(vt_r32(t, VT_USED + 8 + 8 * slot),
			     (uint32_t)(0x10 - i));
	}
	vt_free(t);
}

Test(virtq, full_ring_after_wrap)
{
	struct vt *t = vt_queue(VT_ONE, 4, 0);

	/* Exactly `size` pending across the wrap is legal. */
	vt_start_at(t, 65534);
	for (int i = 0; i < 4; i++) {
		vt_desc(t, i, VT_DATA, 1, 0, 0);
		vt_avail(t, i);
	}
	cr_assert_eq(virtq_pending(&t->q), 4);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(vt_pop(t), 1, "%s", t->err);
	cr_assert_eq(vt_pop(t), 0);
	vt_free(t);
}

Test(virtq, push_publishes_element_then_idx)
{
	struct vt *t = vt_queue(VT_ONE, 16, 0);

	virtq_push(&t->q, &t->mem, 9, 1234);
	cr_assert_eq(vt_r32(t, VT_USED + 4), 9);
	cr_assert_eq(vt_r32(t, VT_USED + 8), 1234);
	cr_assert_eq(vt_r16(t, VT_USED + 2), 1);
	cr_assert_eq(t->q.used_idx, 1);
	virtq_push(&t->q, &t->mem, 3, 0);
	cr_assert_eq(vt_r32(t, VT_USED + 12), 3);
	cr_assert_eq(vt_r16(t, VT_USED + 2), 2);
	vt_free(t);
}

Test(virtq, push_writes_only_the_used_area)
{
	struct vt *t = vt_queue(VT_ONE, 8, VT_F_EVENT);

	/* Many laps of the ring, odd heads: never a byte outside used. */
	vt_snapshot(t);
	for (int i = 0; i < 1000; i++)
		virtq_push(&t->q, &t->mem, (uint16_t)(i * 7919), i);
	virtq_set_avail_event(&t->q);
	cr_assert(vt_unchanged_except(t, VT_USED, 6 + 8 * 8));
	cr_assert_eq(vt_r16(t, VT_USED + 2), 1000);
	/* The flags the driver owns were left alone. */
	cr_assert_eq(vt_r16(t, VT_USED), 0);
	vt_free(t);
}

Test(virtq, pop_never_writes_guest_ram)
{
	struct vt *t = vt_queue(VT_ONE, 16, VT_F_INDIRECT | VT_F_EVENT);

	vt_desc(t, 0, VT_DATA, 16, NEXT, 1);
	vt_desc(t, 1, VT_TBL, 32, INDIR, 0);
	vt_tdesc(t, VT_TBL, 0, VT_DATA, 16, WRITE | NEXT, 1);
	vt_tdesc(t, VT_TBL, 1, VT_DATA, 16, WRITE, 0);
	vt_avail(t, 0);
	vt_snapshot(t);
	cr_assert_eq(vt_pop(t), 1, "%s", t->err);
	cr_assert(vt_unchanged(t));
	vt_free(t);
}

/* ---- notifications ---- */

Test(virtq, no_interrupt_flag_without_event_idx)
{
	struct vt *t = vt_queue(VT_ONE, 16, 0);

	virtq_push(&t->q, &t->mem, 0, 0);
	cr_assert(virtq_need_notify(&t->q));
	vt_w16(t, VT_AVAIL, VRING_AVAIL_F_NO_INTERRUPT);
	virtq_push(&t->q, &t->mem, 0, 0);
	cr_assert_not(virtq_need_notify(&t->q));
	/* used_event means nothing without the feature. */
	vt_w16(t, VT_AVAIL + 4 + 2 * 16, 1);
	cr_assert_not(virtq_need_notify(&t->q));
	vt_w16(t, VT_AVAIL, 0);
	vt_w16(t, VT_AVAIL + 4 + 2 * 16, 100);
	cr_assert(virtq_need_notify(&t->q));
	vt_free(t);
}

Test(virtq, event_idx_notify_decisions)
{
	struct vt *t = vt_queue(VT_ONE, 16, VT_F_EVENT);
	const uint64_t used_event = VT_AVAIL + 4 + 2 * 16;

	/* The first decision after init notifies, whatever used_event says. */
	vt_w16(t, used_event, 100);
	virtq_push(&t->q, &t->mem, 0, 0);
	cr_assert(virtq_need_notify(&t->q));
	virtq_push(&t->q, &t->mem, 0, 0);
	cr_assert_not(virtq_need_notify(&t->q));
	cr_assert_eq(virtq_init(&t->q, &t->mem, 16, VT_DESC, VT_AVAIL, VT_USED,
				VT_F_EVENT),
		     0);
	vt_w16(t, VT_USED + 2, 0);

	/* The flag is ignored with event idx. */
	vt_w16(t, VT_AVAIL, VRING_AVAIL_F_NO_INTERRUPT);
	vt_w16(t, used_event, 0);
	virtq_push(&t->q, &t->mem, 0, 0); /* entry 0 == used_event */
	cr_assert(virtq_need_notify(&t->q));
	cr_assert_eq(t->q.signalled_used, 1);
	cr_assert(t->q.signalled_valid);
	/* Driver wants an interrupt once entry 4 is used. */
	vt_w16(t, used_event, 4);
	for (int i = 1; i < 4; i++) {
		virtq_push(&t->q, &t->mem, 0, 0);
		cr_assert_not(virtq_need_notify(&t->q), "entry %d", i);
	}
	virtq_push(&t->q, &t->mem, 0, 0); /* entry 4 */
	cr_assert(virtq_need_notify(&t->q));
	/* Nothing new since the last notify: no second one. */
	cr_assert_not(virtq_need_notify(&t->q));
	/* A batch that steps over used_event still notifies. */
	vt_w16(t, used_event, 6);
	for (int i = 0; i < 3; i++)
		virtq_push(&t->q, &t->mem, 0, 0); /* entries 5, 6, 7 */
	cr_assert(virtq_need_notify(&t->q));
	/* A stale used_event behind us: no notify. */
	vt_w16(t, used_event, 2);
	virtq_push(&t->q, &t->mem, 0, 0);
	cr_assert_not(virtq_need_notify(&t->q));
	vt_free(t);
}

Test(virtq, event_idx_across_wrap)
{
	struct vt *t = vt_queue(VT_ONE, 16, VT_F_EVENT);
	const uint64_t used_event = VT_AVAIL + 4 + 2 * 16;

	vt_start_at(t, 65534);
	t->q.signalled_used = 65534;
	t->q.signalled_valid = true;
	vt_w16(t, used_event, 0); /* entry 65536 == 0 */
	virtq_push(&t->q, &t->mem, 0, 0); /* entry 65534 */
	cr_assert_not(virtq_need_notify(&t->q));
	virtq_push(&t->q, &t->mem, 0, 0); /* entry 65535 */
	cr_assert_not(virtq_need_notify(&t->q));
	virtq_push(&t->q, &t->mem, 0, 0); /* entry 0 */
	cr_assert(virtq_need_notify(&t->q));
	cr_assert_eq(t->q.signalled_used, 1);
	vt_free(t);
}

Test(virtq, set_avail_event)
{
	struct vt *t = vt_queue(VT_ONE, 16, VT_F_EVENT);
	const uint64_t avail_event = VT_USED + 4 + 8 * 16;

	vt_desc(t, 0, VT_DATA, 1, 0, 0);
	vt_avail(t, 0);
	vt_avail(t, 0);
	cr_assert_eq(vt_pop(t), 1);
	cr_assert_eq(vt_pop(t), 1);
	virtq_set_avail_event(&t->q);
	cr_assert_eq(vt_r16(t, avail_event), 2);
	vt_free(t);

	/* Without the feature the field is not ours to write. */
	t = vt_queue(VT_ONE, 16, 0);
	vt_snapshot(t);
	t->q.last_avail = 5;
	virtq_set_avail_event(&t->q);
	cr_assert(vt_unchanged(t));
	vt_free(t);
}

/* ---- iovec helpers ---- */

Test(virtq, iov_copies_with_skip)
{
	uint8_t a[3] = {1, 2, 3}, b[2] = {4, 5}, c[4] = {6, 7, 8, 9};
	struct virtq_iov iov[3] = {{a, 3}, {b, 2}, {c, 4}};
	uint8_t buf[16];
	const uint8_t want[] = {3, 4, 5, 6, 7};

	memset(buf, 0, sizeof(buf));
	cr_assert_eq(virtq_iov_to_buf(iov, 3, 2, buf, 5), 5);
	cr_assert_arr_eq(buf, want, 5);
	/* Short iovecs: copy what there is. */
	cr_assert_eq(virtq_iov_to_buf(iov, 3, 7, buf, 16), 2);
	cr_assert_eq(buf[0], 8);
	cr_assert_eq(buf[1], 9);
	cr_assert_eq(virtq_iov_to_buf(iov, 3, 9, buf, 16), 0);
	cr_assert_eq(virtq_iov_to_buf(iov, 3, 100, buf, 16), 0);
	cr_assert_eq(virtq_iov_to_buf(iov, 0, 0, buf, 16), 0);

	const uint8_t src[] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5};

	cr_assert_eq(virtq_buf_to_iov(iov, 3, 1, src, 6), 6);
	cr_assert_eq(a[0], 1);
	cr_assert_eq(a[1], 0xa0);
	cr_assert_eq(a[2], 0xa1);
	cr_assert_eq(b[0], 0xa2);
	cr_assert_eq(b[1], 0xa3);
	cr_assert_eq(c[0], 0xa4);
	cr_assert_eq(c[1], 0xa5);
	cr_assert_eq(c[2], 8);
	cr_assert_eq(virtq_buf_to_iov(iov, 3, 8, src, 6), 1);
	cr_assert_eq(c[3], 0xa0);
}

/* ---- malformed rings and chains: each one breaks the queue ---- */

Test(virtq_bad, head_index_out_of_range)
{
	struct vt *t = vt_queue(VT_ONE, 16, 0);

	vt_avail(t, 16);
	vt_expect_bad(t, "index out of range");
	vt_free(t);
}

Test(virtq_bad, next_index_out_of_range)
{
	struct vt *t = vt_queue(VT_ONE, 16, 0);

	vt_desc(t, 0, VT_DATA, 16, NEXT, 0xffff);
	vt_avail(t, 0);
	vt_expect_bad(t, "next 65535 out of range");
	vt_free(t);
}

Test(virtq_bad, avail_idx_too_far_ahead)
{
	struct vt *t = vt_queue(VT_ONE, 16, 0);

	vt_desc(t, 0, VT_DATA, 16, 0, 0);
	vt_w16(t, VT_AVAIL + 2, 17);
	vt_expect_bad(t, "17 entries past 0");
	vt_free(t);

	/* Behind last_avail is "far ahead" too (the driver went backwards). */
	t = vt_queue(VT_ONE, 16, 0);
	vt_start_at(t, 5);
	vt_w16(t, VT_AVAIL + 2, 4);
	cr_assert_eq(virtq_pending(&t->q), -EIO);
	cr_assert(t->q.broken);
	vt_free(t);
}

Test(virtq_bad, buffer_outside_ram)
{
	struct vt *t = vt_queue(VT_GAP, 16, 0);

	vt_desc(t, 0, 0x3000000, 16, 0, 0);
	vt_avail(t, 0);
	vt_expect_bad(t, "not in guest RAM");
	vt_free(t);
}

Test(virtq_bad, buffer_runs_past_end_of_ram)
{
	struct vt *t = vt_queue(VT_ONE, 16, 0);

	vt_desc(t, 0, VT_DATA, 16, NEXT, 1);
	vt_desc(t, 1, VT_RAM - 8, 9, WRITE, 0);
	vt_avail(t, 0);
	vt_expect_bad(t, "not in guest RAM");
	vt_free(t);
}

Test(virtq_bad, buffer_runs_into_hole)
{
	/* Regions 0 and 1 with a hole between: no split can help. */
	struct vt *t = vt_queue(VT_GAP, 16, 0);

	vt_desc(t, 0, VT_RAM - 0x10, 0x20, 0, 0);
	vt_avail(t, 0);
	vt_expect_bad(t, "not in guest RAM");
	vt_free(t);
}

Test(virtq_bad, buffer_wraps_address_space)
{
	struct vt *t = vt_queue(VT_ONE, 16, 0);

	vt_desc(t, 0, 0xfffffffffffffff0ull, 0x20, 0, 0);
	vt_avail(t, 0);
	vt_expect_bad(t, "wraps");
	vt_free(t);
}

Test(virtq_bad, self_loop)
{
	struct vt *t = vt_queue(VT_ONE, 16, 0);

	vt_desc(t, 5, VT_DATA, 16, NEXT, 5);
	vt_avail(t, 5);
	vt_expect_bad(t, "chain loops");
	vt_free(t);
}

Test(virtq_bad, two_descriptor_loop)
{
	struct vt *t = vt_queue(VT_ONE, 16, 0);

	vt_desc(t, 0, VT_DATA, 16, NEXT, 1);
	vt_desc(t, 1, VT_DATA, 16, NEXT, 0);
	vt_avail(t, 0);
	vt_expect_bad(t, "chain loops");
	vt_free(t);
}

Test(virtq_bad, chain_longer_than_queue)
{
	struct vt *t = vt_queue(VT_ONE, 8, 0);

	/* Every descriptor once, then back to the start. */
	for (int i = 0; i < 8; i++)
		vt_desc(t, i, VT_DATA, 1, NEXT, (i + 1) % 8);
	vt_avail(t, 0);
	vt_expect_bad(t, "chain loops");
	vt_free(t);
}

Test(virtq_bad, direct_plus_indirect_longer_than_queue)
{
	struct vt *t = vt_queue(VT_ONE, 8, VT_F_INDIRECT);

	/* 2 direct + an 8-entry table = 10 buffers in a queue of 8. */
	vt_desc(t, 0, VT_DATA, 1, NEXT, 1);
	vt_desc(t, 1, VT_DATA, 1, NEXT, 2);
	vt_desc(t, 2, VT_TBL, 8 * 16, INDIR, 0);
	for (int i = 0; i < 8; i++)
		vt_tdesc(t, VT_TBL, i, VT_DATA, 1, i < 7 ? NEXT : 0, i + 1);
	vt_avail(t, 0);
	vt_expect_bad(t, "chain longer than queue size");
	vt_free(t);
}

Test(virtq_bad, readable_after_writable)
{
	struct vt *t = vt_queue(VT_ONE, 16, 0);

	vt_desc(t, 0, VT_DATA, 16, NEXT, 1);
	vt_desc(t, 1, VT_DATA + 16, 16, WRITE | NEXT, 2);
	vt_desc(t, 2, VT_DATA + 32, 16, 0, 0);
	vt_avail(t, 0);
	vt_expect_bad(t, "readable buffer after a writable one");
	vt_free(t);
}

Test(virtq_bad, readable_after_writable_in_indirect)
{
	struct vt *t = vt_queue(VT_ONE, 16, VT_F_INDIRECT);

	vt_desc(t, 0, VT_DATA, 16, WRITE | NEXT, 1);
	vt_desc(t, 1, VT_TBL, 16, INDIR, 0);
	vt_tdesc(t, VT_TBL, 0, VT_DATA, 16, 0, 0);
	vt_avail(t, 0);
	vt_expect_bad(t, "readable buffer after a writable one");
	vt_free(t);
}

Test(virtq_bad, zero_length_buffer)
{
	struct vt *t = vt_queue(VT_ONE, 16, 0);

	vt_desc(t, 0, VT_DATA, 16, NEXT, 1);
	vt_desc(t, 1, VT_DATA, 0, WRITE, 0);
	vt_avail(t, 0);
	vt_expect_bad(t, "zero-length buffer");
	vt_free(t);
}

Test(virtq_bad, zero_length_buffer_in_indirect)
{
	struct vt *t = vt_queue(VT_ONE, 16, VT_F_INDIRECT);

	vt_desc(t, 0, VT_TBL, 32, INDIR, 0);
	vt_tdesc(t, VT_TBL, 0, VT_DATA, 16, NEXT, 1);
	vt_tdesc(t, VT_TBL, 1, VT_DATA, 0, 0, 0);
	vt_avail(t, 0);
	vt_expect_bad(t, "zero-length buffer");
	vt_free(t);
}

Test(virtq_bad, indirect_not_negotiated)
{
	struct vt *t = vt_queue(VT_ONE, 16, 0);

	vt_desc(t, 0, VT_TBL, 16, INDIR, 0);
	vt_tdesc(t, VT_TBL, 0, VT_DATA, 16, 0, 0);
	vt_avail(t, 0);
	vt_expect_bad(t, "not negotiated");
	vt_free(t);
}

Test(virtq_bad, indirect_with_next)
{
	struct vt *t = vt_queue(VT_ONE, 16, VT_F_INDIRECT);

	vt_desc(t, 0, VT_TBL, 16, INDIR | NEXT, 1);
	vt_desc(t, 1, VT_DATA, 16, WRITE, 0);
	vt_tdesc(t, VT_TBL, 0, VT_DATA, 16, 0, 0);
	vt_avail(t, 0);
	vt_expect_bad(t, "indirect descriptor with NEXT");
	vt_free(t);
}

Test(virtq_bad, nested_indirect)
{
	struct vt *t = vt_queue(VT_ONE, 16, VT_F_INDIRECT);

	vt_desc(t, 0, VT_TBL, 32, INDIR, 0);
	vt_tdesc(t, VT_TBL, 0, VT_DATA, 16, NEXT, 1);
	vt_tdesc(t, VT_TBL, 1, VT_TBL + 0x100, 16, INDIR, 0);
	vt_tdesc(t, VT_TBL + 0x100, 0, VT_DATA, 16, WRITE, 0);
	vt_avail(t, 0);
	vt_expect_bad(t, "nested indirect");
	vt_free(t);
}

Test(virtq_bad, indirect_table_empty)
{
	struct vt *t = vt_queue(VT_ONE, 16, VT_F_INDIRECT);

	vt_desc(t, 0, VT_TBL, 0, INDIR, 0);
	vt_avail(t, 0);
	vt_expect_bad(t, "empty indirect table");
	vt_free(t);
}

Test(virtq_bad, indirect_table_length_not_multiple_of_16)
{
	struct vt *t = vt_queue(VT_ONE, 16, VT_F_INDIRECT);

	vt_desc(t, 0, VT_TBL, 24, INDIR, 0);
	vt_tdesc(t, VT_TBL, 0, VT_DATA, 16, 0, 0);
	vt_avail(t, 0);
	vt_expect_bad(t, "24: not a multiple of 16");
	vt_free(t);
}

Test(virtq_bad, indirect_table_larger_than_queue)
{
	struct vt *t = vt_queue(VT_ONE, 16, VT_F_INDIRECT);

	vt_desc(t, 0, VT_TBL, 17 * 16, INDIR, 0);
	vt_tdesc(t, VT_TBL, 0, VT_DATA, 16, 0, 0);
	vt_avail(t, 0);
	vt_expect_bad(t, "indirect table of 17 entries > queue size 16");
	vt_free(t);

	/* A huge length must be refused before anything is mapped. */
	t = vt_queue(VT_ONE, 16, VT_F_INDIRECT);
	vt_desc(t, 0, VT_TBL, 0xfffffff0u, INDIR, 0);
	vt_avail(t, 0);
	vt_expect_bad(t, "entries > queue size 16");
	vt_free(t);
}

Test(virtq_bad, indirect_table_outside_ram)
{
	struct vt *t = vt_queue(VT_GAP, 16, VT_F_INDIRECT);

	vt_desc(t, 0, 0x3000000, 16, INDIR, 0);
	vt_avail(t, 0);
	vt_expect_bad(t, "indirect table 0x3000000+0x10 not in guest RAM");
	vt_free(t);

	/* Running off the end of RAM. */
	t = vt_queue(VT_ONE, 16, VT_F_INDIRECT);
	vt_desc(t, 0, VT_RAM - 16, 32, INDIR, 0);
	vt_tdesc(t, VT_RAM - 16, 0, VT_DATA, 16, 0, 0);
	vt_avail(t, 0);
	vt_expect_bad(t, "not in guest RAM");
	vt_free(t);

	/* Wrapping the address space. */
	t = vt_queue(VT_ONE, 16, VT_F_INDIRECT);
	vt_desc(t, 0, 0xfffffffffffffff0ull, 32, INDIR, 0);
	vt_avail(t, 0);
	vt_expect_bad(t, "not in guest RAM");
	vt_free(t);
}

Test(virtq_bad, indirect_table_straddling_regions)
{
	/* Tables must be in one region (documented); buffers may straddle. */
	struct vt *t = vt_queue(VT_ADJ, 16, VT_F_INDIRECT);

	vt_desc(t, 0, VT_RAM - 16, 32, INDIR, 0);
	vt_tdesc(t, VT_RAM - 16, 0, VT_DATA, 16, NEXT, 1);
	vt_tdesc(t, VT_RAM - 16, 1, VT_DATA, 16, 0, 0);
	vt_avail(t, 0);
	vt_expect_bad(t, "not in guest RAM");
	vt_free(t);
}

Test(virtq_bad, indirect_next_out_of_range)
{
	struct vt *t = vt_queue(VT_ONE, 16, VT_F_INDIRECT);

	/* Index 2 is inside the queue but outside this 2-entry table. */
	vt_desc(t, 0, VT_TBL, 32, INDIR, 0);
	vt_tdesc(t, VT_TBL, 0, VT_DATA, 16, NEXT, 2);
	vt_tdesc(t, VT_TBL, 2, VT_DATA, 16, 0, 0);
	vt_avail(t, 0);
	vt_expect_bad(t, "next 2 out of range (2 entries)");
	vt_free(t);
}

Test(virtq_bad, indirect_loop)
{
	struct vt *t = vt_queue(VT_ONE, 16, VT_F_INDIRECT);

	vt_desc(t, 0, VT_TBL, 48, INDIR, 0);
	vt_tdesc(t, VT_TBL, 0, VT_DATA, 16, NEXT, 1);
	vt_tdesc(t, VT_TBL, 1, VT_DATA, 16, NEXT, 2);
	vt_tdesc(t, VT_TBL, 2, VT_DATA, 16, NEXT, 1);
	vt_avail(t, 0);
	vt_expect_bad(t, "chain loops");
	vt_free(t);
}

Test(virtq_bad, chain_over_4g)
{
	struct vt *t = vt_queue(VT_BIG, 16, 0);

	vt_desc(t, 0, VT_BIG_GPA, 0x80000000u, NEXT, 1);
	vt_desc(t, 1, VT_BIG_GPA, 0x80000000u, WRITE, 0);
	vt_avail(t, 0);
	vt_expect_bad(t, "chain longer than 4 GiB");
	vt_free(t);
}

Test(virtq_bad, too_many_segments)
{
	struct vt *t = vt_queue(VT_ONE, 2048, 0);

	for (int i = 0; i <= VIRTQ_MAX_SEGS; i++)
		vt_desc(t, i, VT_DATA + i, 1, i < VIRTQ_MAX_SEGS ? NEXT : 0,
			i + 1);
	vt_avail(t, 0);
	vt_expect_bad(t, "more than 1024 segments");
	vt_free(t);
}

Test(virtq_bad, too_many_segments_after_split)
{
	struct vt *t = vt_new(VT_ADJ);

	/* 1023 buffers plus one split in two makes 1025 iovecs. */
	cr_assert_eq(
		virtq_init(&t->q, &t->mem, 2048, VT_DESC, VT_AVAIL, VT_USED, 0),
		0);
	for (int i = 0; i < VIRTQ_MAX_SEGS - 1; i++)
		vt_desc(t, i, VT_DATA + i, 1, NEXT, i + 1);
	vt_desc(t, VIRTQ_MAX_SEGS - 1, VT_RAM - 1, 2, 0, 0);
	vt_avail(t, 0);
	vt_expect_bad(t, "more than 1024 segments");
	vt_free(t);
}

Test(virtq_bad, stays_broken_and_consumes_nothing_after)
{
	struct vt *t = vt_queue(VT_ONE, 16, 0);

	/* A good request, a bad one, a good one. */
	vt_desc(t, 0, VT_DATA, 16, 0, 0);
	vt_desc(t, 1, VT_DATA, 0, 0, 0);
	vt_avail(t, 0);
	vt_avail(t, 1);
	vt_avail(t, 0);
	cr_assert_eq(vt_pop(t), 1, "%s", t->err);
	virtq_push(&t->q, &t->mem, t->elem.head, 0);
	vt_snapshot(t);
	cr_assert_eq(vt_pop(t), -EIO);
	cr_assert_eq(t->q.last_avail, 1);
	cr_assert_eq(vt_pop(t), -EIO);
	cr_assert_not_null(strstr(t->err, "broken"), "%s", t->err);
	cr_assert_eq(t->q.last_avail, 1);
	cr_assert(vt_unchanged(t));
	/* Only a reset (re-init) brings the queue back. */
	cr_assert_eq(
		virtq_init(&t->q, &t->mem, 16, VT_DESC, VT_AVAIL, VT_USED, 0),
		0);
	cr_assert_not(t->q.broken);
	vt_free(t);
}

Test(virtq_bad, error_text_is_optional_and_bounded)
{
	struct vt *t = vt_queue(VT_ONE, 16, 0);
	char small[8];

	vt_desc(t, 3, VT_DATA, 0, 0, 0);
	vt_avail(t, 3);
	memset(small, 'x', sizeof(small));
	cr_assert_eq(virtq_pop(&t->q, &t->mem, &t->elem, small, sizeof(small)),
		     -EIO);
	cr_assert_eq(small[7], 0);
	cr_assert_str_eq(small, "head 3,");
	cr_assert_eq(virtq_pop(&t->q, &t->mem, &t->elem, NULL, 0), -EIO);
	cr_assert_eq(virtq_pop(&t->q, &t->mem, &t->elem, small, 0), -EIO);
	vt_free(t);
}
