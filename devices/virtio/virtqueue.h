/* virtqueue.h: split virtqueue: checked chains, used ring, notifications. */
#ifndef DEVICES_VIRTIO_VIRTQUEUE_H
#define DEVICES_VIRTIO_VIRTQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/virtio_ring.h>

#include "vmm/memory.h"

#define VIRTQ_MAX_SIZE 32768
/* iovecs per request after flattening; a longer chain is malformed */
#define VIRTQ_MAX_SEGS 1024

/*
 * One split virtqueue as the device sees it. The guest writes the rings from
 * other CPUs at any time, so nothing read from them is trusted: every index,
 * address and length is checked against the queue size and guest RAM, and
 * each descriptor is read once into a local copy before it is looked at.
 *
 * Not thread safe: the device serialises calls for one queue (its lock).
 * The host pointers are cached by virtq_init(): re-init after guest RAM is
 * remapped.
 */
struct virtq {
	uint16_t size; /* power of two, 1..VIRTQ_MAX_SIZE; 0: not attached */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	bool event_idx; /* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool indirect; /* VIRTIO_RING_F_INDIRECT_DESC negotiated */
	uint16_t last_avail; /* next avail entry to consume */
	uint16_t used_idx; /* shadow of used->idx */
	uint16_t signalled_used; /* event idx: used idx at the last notify */
	bool signalled_valid;
	bool broken; /* a malformed ring or chain was seen: NEEDS_RESET */
	struct vring_desc *desc; /* 16 * size bytes */
	struct vring_avail *avail; /* 6 + 2 * size bytes (used_event last) */
	struct vring_used *used; /* 6 + 8 * size bytes (avail_event last) */
};

/* A host pointer into guest RAM and its length. */
struct virtq_iov {
	void *base;
	uint32_t len;
};

/* One request: device-readable iovecs first, then device-writable ones. */
struct virtq_elem {
	uint16_t head; /* descriptor index to return in the used ring */
	unsigned int nout, nin;
	uint32_t out_len, in_len; /* byte totals */
	struct virtq_iov iov[VIRTQ_MAX_SEGS]; /* out iovecs then in iovecs */
};

/*
 * Validate and attach the rings: size a power of two up to VIRTQ_MAX_SIZE,
 * the spec's alignment (desc 16, avail 2, used 4) and each area (with its
 * event index field) entirely inside one guest RAM region. `features` are
 * the negotiated ones (VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC
 * matter here). 0, -EINVAL (size, alignment) or -EFAULT (not in RAM); on
 * error the queue is left reset (not attached).
 */
__attribute__((warn_unused_result)) int
virtq_init(struct virtq *q, const struct guest_mem *mem, uint16_t size,
	   uint64_t desc, uint64_t avail, uint64_t used, uint64_t features);

/* Detach and forget all state (device reset or queue disable). */
void virtq_reset(struct virtq *q);

/*
 * Take the next available request. 1: popped into `elem`; 0: nothing
 * available (or the queue is not attached); -EIO: the ring or the chain is
 * malformed: q->broken is set, the entry is not consumed and every later
 * call fails too, so the device must set DEVICE_NEEDS_RESET. A description
 * of the fault goes to `err` (may be NULL) for the device's log.
 *
 * A buffer that spans two guest RAM regions adjacent in guest-physical
 * space is split into one iovec per region; one that touches anything
 * else is malformed. Indirect tables must lie inside one region.
 */
__attribute__((warn_unused_result)) int virtq_pop(struct virtq *q,
						  const struct guest_mem *mem,
						  struct virtq_elem *elem,
						  char *err, size_t errlen);

/*
 * Return a request: write the used element {head, len} (len: bytes written
 * to the device-writable part), then publish used->idx with release order.
 */
void virtq_push(struct virtq *q, const struct guest_mem *mem, uint16_t head,
		uint32_t len);

/*
 * After virtq_push(): must the driver be interrupted now? Honours
 * VRING_AVAIL_F_NO_INTERRUPT, or used_event when event idx is negotiated
 * (vring_need_event() against the used index of the last decision, which
 * it records; the first decision after virtq_init() is always yes).
 */
bool virtq_need_notify(struct virtq *q);

/*
 * With event idx: publish avail_event = last_avail, so the driver kicks
 * when it adds the next entry. Call before sleeping, then check
 * virtq_pending() once more: a kick may have been skipped just before.
 */
void virtq_set_avail_event(struct virtq *q);

/*
 * Avail entries not consumed yet, or -EIO (and q->broken) if avail->idx is
 * more than `size` ahead of last_avail or the queue is already broken.
 */
__attribute__((warn_unused_result)) int virtq_pending(struct virtq *q);

/*
 * Copy between `n` iovecs (from byte `skip`) and a flat buffer of `len`
 * bytes. Return the bytes copied: less than `len` if the iovecs are short.
 */
size_t virtq_iov_to_buf(const struct virtq_iov *iov, unsigned int n,
			size_t skip, void *buf, size_t len);
size_t virtq_buf_to_iov(const struct virtq_iov *iov, unsigned int n,
			size_t skip, const void *buf, size_t len);

#endif
