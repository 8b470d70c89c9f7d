/* virtqueue.c: split virtqueue parsing that trusts nothing the guest wrote. */
#include "devices/virtio/virtqueue.h"

#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <linux/virtio_config.h>

#include "devices/textbuf.h"

/*
 * What virtq_pop() refuses (each sets q->broken and consumes nothing):
 * avail->idx more than the queue size ahead; a head or next index outside
 * its table; a buffer of length 0, outside guest RAM or wrapping 2^64 (one
 * that crosses into an adjacent RAM region is split instead); a readable
 * buffer after a writable one; INDIRECT not negotiated, with NEXT, nested,
 * or a table that is empty, not a multiple of 16 bytes, longer than the
 * queue or not inside one RAM region; a loop (more descriptors visited
 * than the table holds); more than q->size buffers or more than 4 GiB in
 * one chain; more than VIRTQ_MAX_SEGS iovecs.
 */
#define DESC_BYTES	sizeof(struct vring_desc)
#define CHAIN_MAX_BYTES 0xffffffffull /* spec: a chain is < 2^32 bytes */

/* A descriptor as read, once, from guest memory, in host byte order. */
struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/* Where a chain walk is, for error messages. */
struct walk {
	uint16_t head;
	uint16_t idx; /* descriptor index in the current table */
	bool indirect; /* inside an indirect table */
	char *err;
	size_t errlen;
};

static uint64_t desc_area_bytes(uint16_t size)
{
	return DESC_BYTES * size;
}

static uint64_t avail_area_bytes(uint16_t size)
{
	return 6 + 2ull * size;
}

static uint64_t used_area_bytes(uint16_t size)
{
	return 6 + 8ull * size;
}

/*
 * Ring fields are naturally aligned (checked at init), so single loads and
 * stores of them are atomic; the guest's concurrent writes are data races
 * only the atomics make well defined.
 */
static uint16_t ring_load16(const uint16_t *p)
{
	return le16toh(__atomic_load_n(p, __ATOMIC_RELAXED));
}

static void ring_store16(uint16_t *p, uint16_t v)
{
	__atomic_store_n(p, htole16(v), __ATOMIC_RELAXED);
}

static void ring_store32(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, htole32(v), __ATOMIC_RELAXED);
}

/* avail->idx, ordered before the ring entries and descriptors it covers. */
static uint16_t avail_idx_acquire(const struct virtq *q)
{
	return le16toh(__atomic_load_n(&q->avail->idx, __ATOMIC_ACQUIRE));
}

static uint16_t *used_event_ptr(const struct virtq *q)
{
	return &q->avail->ring[q->size];
}

static uint16_t *avail_event_ptr(const struct virtq *q)
{
	return (uint16_t *)&q->used->ring[q->size];
}

/*
 * Copy one descriptor out of guest memory. Indirect tables need not be
 * aligned, hence memcpy; the compiler barrier keeps it from reading the
 * guest's copy again later instead of ours (no double fetch).
 */
static void desc_fetch(struct desc *d, const void *src)
{
	struct vring_desc raw;

	memcpy(&raw, src, sizeof(raw));
	__asm__ __volatile__("" : : : "memory");
	d->addr = le64toh(raw.addr);
	d->len = le32toh(raw.len);
	d->flags = le16toh(raw.flags);
	d->next = le16toh(raw.next);
}

__attribute__((format(printf, 2, 3))) static int walk_fail(struct walk *w,
							   const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!w->err || !w->errlen)
		return -EIO;
	n = snprintf(w->err, w->errlen, "head %u, %sdescriptor %u: ", w->head,
		     w->indirect ? "indirect " : "", w->idx);
	if (n >= 0 && (size_t)n < w->errlen) {
		va_start(ap, fmt);
		vsnprintf(w->err + n, w->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EIO;
}

int virtq_init(struct virtq *q, const struct guest_mem *mem, uint16_t size,
	       uint64_t desc, uint64_t avail, uint64_t used, uint64_t features)
{
	void *d, *a, *u;

	virtq_reset(q);
	if (!size || size > VIRTQ_MAX_SIZE || (size & (size - 1)))
		return -EINVAL;
	if (desc % VRING_DESC_ALIGN_SIZE || avail % VRING_AVAIL_ALIGN_SIZE ||
	    used % VRING_USED_ALIGN_SIZE)
		return -EINVAL;
	d = guest_mem_ptr(mem, desc, desc_area_bytes(size));
	a = guest_mem_ptr(mem, avail, avail_area_bytes(size));
	u = guest_mem_ptr(mem, used, used_area_bytes(size));
	if (!d || !a || !u)
		return -EFAULT;
	/* Only a RAM layout of ours could break this; atomics need it. */
	if ((uintptr_t)a % VRING_AVAIL_ALIGN_SIZE ||
	    (uintptr_t)u % VRING_USED_ALIGN_SIZE)
		return -EINVAL;
	q->size = size;
	q->desc_gpa = desc;
	q->avail_gpa = avail;
	q->used_gpa = used;
	q->event_idx = features & (1ull << VIRTIO_RING_F_EVENT_IDX);
	q->indirect = features & (1ull << VIRTIO_RING_F_INDIRECT_DESC);
	q->desc = d;
	q->avail = a;
	q->used = u;
	return 0;
}

void virtq_reset(struct virtq *q)
{
	memset(q, 0, sizeof(*q));
}

/* Entries the driver made available past last_avail; -EIO if implausible. */
static int avail_pending(struct virtq *q, char *err, size_t errlen)
{
	uint16_t idx, n;

	if (q->broken) {
		errbuf_printf(err, errlen, "queue is broken (needs reset)");
		return -EIO;
	}
	if (!q->size)
		return 0;
	idx = avail_idx_acquire(q);
	n = idx - q->last_avail;
	if (n > q->size) {
		q->broken = true;
		errbuf_printf(err, errlen,
			"avail idx %u is %u entries past %u: queue size is %u",
			idx, n, q->last_avail, q->size);
		return -EIO;
	}
	return n;
}

int virtq_pending(struct virtq *q)
{
	return avail_pending(q, NULL, 0);
}

/*
 * Append [addr, addr+len) to the request as iovecs: one, or one per RAM
 * region if it runs from one region into another adjacent in guest-physical
 * space. len > 0.
 */
static int map_buffer(struct walk *w, const struct guest_mem *mem,
		      struct virtq_elem *elem, uint64_t addr, uint32_t len,
		      bool write)
{
	uint64_t gpa = addr, left = len;

	if (addr > UINT64_MAX - (left - 1))
		return walk_fail(w, "buffer 0x%llx+0x%x wraps",
				 (unsigned long long)addr, len);
	while (left) {
		uint64_t chunk = left, end;
		void *p = guest_mem_ptr(mem, gpa, chunk);

		if (!p) {
			/* The part up to the end of gpa's region, if any. */
			end = guest_mem_region_end(mem, gpa);
			if (end > gpa && end - gpa < chunk) {
				chunk = end - gpa;
				p = guest_mem_ptr(mem, gpa, chunk);
			}
		}
		if (!p)
			return walk_fail(w,
					 "buffer 0x%llx+0x%x not in guest RAM",
					 (unsigned long long)addr, len);
		if (elem->nout + elem->nin >= VIRTQ_MAX_SEGS)
			return walk_fail(w, "more than %u segments",
					 VIRTQ_MAX_SEGS);
		elem->iov[elem->nout + elem->nin].base = p;
		elem->iov[elem->nout + elem->nin].len = (uint32_t)chunk;
		if (write)
			elem->nin++;
		else
			elem->nout++;
		gpa += chunk;
		left -= chunk;
	}
	return 0;
}

/*
 * Check the descriptor `d` that points to an indirect table and move the
 * walk into that table. Its WRITE flag means nothing (spec 2.7.5.3.2).
 */
static int indirect_enter(const struct virtq *q, const struct guest_mem *mem,
			  struct walk *w, const struct desc *d,
			  const uint8_t **table, uint32_t *table_n)
{
	const char *why = NULL;

	if (w->indirect)
		why = "nested indirect table";
	else if (!q->indirect)
		why = "indirect descriptor, not negotiated";
	else if (d->flags & VRING_DESC_F_NEXT)
		why = "indirect descriptor with NEXT";
	else if (!d->len)
		why = "empty indirect table";
	if (why)
		return walk_fail(w, "%s", why);
	if (d->len % DESC_BYTES)
		return walk_fail(
			w, "indirect table length %u: not a multiple of 16",
			d->len);
	/* Spec 2.7.5.3.1: no chain is longer than the queue. */
	if (d->len / DESC_BYTES > q->size)
		return walk_fail(w,
				 "indirect table of %u entries > queue size %u",
				 d->len / (uint32_t)DESC_BYTES, q->size);
	*table = guest_mem_ptr(mem, d->addr, d->len);
	if (!*table)
		return walk_fail(w,
				 "indirect table 0x%llx+0x%x not in guest RAM",
				 (unsigned long long)d->addr, d->len);
	*table_n = d->len / DESC_BYTES;
	w->indirect = true;
	w->idx = 0;
	return 0;
}

/*
 * Walk the chain at `head` into `elem`. Terminates whatever the guest
 * wrote: each table visit is bounded by that table's size, a chain holds
 * at most q->size buffers (spec 2.7.5.3.1) and at most one indirect table.
 */
static int walk_chain(struct virtq *q, const struct guest_mem *mem,
		      struct virtq_elem *elem, struct walk *w)
{
	const uint8_t *table = (const uint8_t *)q->desc;
	uint32_t table_n = q->size; /* entries in the current table */
	uint32_t visited = 0; /* descriptors visited in the current table */
	uint32_t budget = q->size; /* buffers the chain may still hold */
	uint64_t total = 0;
	struct desc d;

	w->idx = w->head;
	if (w->head >= q->size)
		return walk_fail(w, "index out of range (queue size %u)",
				 q->size);
	for (;;) {
		desc_fetch(&d, table + (size_t)w->idx * DESC_BYTES);
		visited++;
		if (d.flags & VRING_DESC_F_INDIRECT) {
			if (indirect_enter(q, mem, w, &d, &table, &table_n))
				return -EIO;
			visited = 0;
			continue;
		}
		if (!budget)
			return walk_fail(w, "chain longer than queue size %u",
					 q->size);
		budget--;
		if (!d.len)
			return walk_fail(w, "zero-length buffer");
		if (!(d.flags & VRING_DESC_F_WRITE) && elem->nin)
			return walk_fail(
				w, "readable buffer after a writable one");
		total += d.len;
		if (total > CHAIN_MAX_BYTES)
			return walk_fail(w, "chain longer than 4 GiB");
		if (map_buffer(w, mem, elem, d.addr, d.len,
			       d.flags & VRING_DESC_F_WRITE))
			return -EIO;
		if (d.flags & VRING_DESC_F_WRITE)
			elem->in_len += d.len;
		else
			elem->out_len += d.len;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		if (d.next >= table_n)
			return walk_fail(w, "next %u out of range (%u entries)",
					 d.next, table_n);
		if (visited >= table_n)
			return walk_fail(w, "chain loops");
		w->idx = d.next;
	}
}

int virtq_pop(struct virtq *q, const struct guest_mem *mem,
	      struct virtq_elem *elem, char *err, size_t errlen)
{
	struct walk w = {.err = err, .errlen = errlen};
	int n;

	elem->nout = elem->nin = 0;
	elem->out_len = elem->in_len = 0;
	n = avail_pending(q, err, errlen);
	if (n <= 0)
		return n;
	w.head = ring_load16(&q->avail->ring[q->last_avail & (q->size - 1)]);
	if (walk_chain(q, mem, elem, &w)) {
		q->broken = true;
		elem->nout = elem->nin = 0;
		elem->out_len = elem->in_len = 0;
		return -EIO;
	}
	elem->head = w.head;
	q->last_avail++;
	return 1;
}

void virtq_push(struct virtq *q, const struct guest_mem *mem, uint16_t head,
		uint32_t len)
{
	struct vring_used_elem *e;

	if (!q->size)
		return;
	/* The index is masked: whatever the caller passes, we stay in the area. */
	e = &q->used->ring[q->used_idx & (q->size - 1)];
	ring_store32(&e->id, head);
	ring_store32(&e->len, len);
	q->used_idx++;
	/* The element is visible before the index that covers it. */
	__atomic_store_n(&q->used->idx, htole16(q->used_idx), __ATOMIC_RELEASE);
}

bool virtq_need_notify(struct virtq *q)
{
	uint16_t old, event;
	bool valid;

	if (!q->size)
		return false;
	/*
	 * Our used->idx store must be visible before we read the driver's
	 * suppression fields, or both sides may skip (store-load order).
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!q->event_idx)
		return !(ring_load16(&q->avail->flags) &
			 VRING_AVAIL_F_NO_INTERRUPT);
	event = ring_load16(used_event_ptr(q));
	old = q->signalled_used;
	valid = q->signalled_valid;
	q->signalled_used = q->used_idx;
	q->signalled_valid = true;
	return !valid || vring_need_event(event, q->used_idx, old);
}

void virtq_set_avail_event(struct virtq *q)
{
	if (!q->size || !q->event_idx)
		return;
	ring_store16(avail_event_ptr(q), q->last_avail);
	/* Visible before we look at avail->idx again (store-load order). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

size_t virtq_iov_to_buf(const struct virtq_iov *iov, unsigned int n,
			size_t skip, void *buf, size_t len)
{
	size_t done = 0;

	for (unsigned int i = 0; i < n && done < len; i++) {
		size_t chunk;

		if (skip >= iov[i].len) {
			skip -= iov[i].len;
			continue;
		}
		chunk = iov[i].len - skip;
		if (chunk > len - done)
			chunk = len - done;
		memcpy((uint8_t *)buf + done,
		       (const uint8_t *)iov[i].base + skip, chunk);
		done += chunk;
		skip = 0;
	}
	return done;
}

size_t virtq_buf_to_iov(const struct virtq_iov *iov, unsigned int n,
			size_t skip, const void *buf, size_t len)
{
	size_t done = 0;

	for (unsigned int i = 0; i < n && done < len; i++) {
		size_t chunk;

		if (skip >= iov[i].len) {
			skip -= iov[i].len;
			continue;
		}
		chunk = iov[i].len - skip;
		if (chunk > len - done)
			chunk = len - done;
		memcpy((uint8_t *)iov[i].base + skip,
		       (const uint8_t *)buf + done, chunk);
		done += chunk;
		skip = 0;
	}
	return done;
}
