/* virtio.h: the tiny guest's virtio 1.x PCI driver: find a function, negotiate, one polled split queue. */
#ifndef TINY_VIRTIO_H
#define TINY_VIRTIO_H

#include "tiny.h"

/* Common configuration registers (virtio 1.x, 4.1.4.3). */
#define DFSELECT 0x00
#define DF	 0x04
#define GFSELECT 0x08
#define GF	 0x0c
#define NUMQ	 0x12
#define STATUS	 0x14
#define QSELECT	 0x16
#define QSIZE	 0x18
#define QENABLE	 0x1c
#define QNOFF	 0x1e
#define QDESC	 0x20
#define QAVAIL	 0x28
#define QUSED	 0x30

#define COMMON8(v, off)	 (*(volatile uint8_t *)((v)->common + (off)))
#define COMMON16(v, off) (*(volatile uint16_t *)((v)->common + (off)))
#define COMMON32(v, off) (*(volatile uint32_t *)((v)->common + (off)))
#define COMMON64(v, off) (*(volatile uint64_t *)((v)->common + (off)))

/* Device status (virtio 1.x, 2.1). */
#define S_ACK	      1
#define S_DRIVER      2
#define S_DRIVER_OK   4
#define S_FEATURES_OK 8
#define S_NEEDS_RESET 0x40

#define F_VERSION_1 (1ull << 32)

#define VQ_SIZE	   16
#define VQ_F_NEXT  1
#define VQ_F_WRITE 2

struct vq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

/* A split queue in the guest's own memory, polled (no interrupts). */
struct vq {
	struct vq_desc desc[VQ_SIZE] __attribute__((aligned(16)));
	struct {
		uint16_t flags, idx, ring[VQ_SIZE], used_event;
	} avail __attribute__((aligned(2)));
	struct {
		uint16_t flags, idx;
		struct {
			uint32_t id, len;
		} ring[VQ_SIZE];
		uint16_t avail_event;
	} used __attribute__((aligned(4)));
	volatile uint16_t *notify;
	uint16_t index;
};

/* One virtio PCI function as found in ECAM. */
struct vdev {
	const char *mode; /* messages read "TINY: <mode> FAIL <what>" */
	bool fail;
	volatile uint8_t *cfg, *common, *notify, *device;
	unsigned int notify_mult, cfgcap;
};

/* Print a failure unless ok; returns ok. */
bool vcheck(struct vdev *v, bool ok, const char *what);
/* Find the function with PCI device ID `id` and its capabilities. */
bool virtio_find(struct vdev *v, uint64_t rsdp, uint16_t id);
/*
 * Reset, ACKNOWLEDGE | DRIVER, and write the driver features. FEATURES_OK
 * is left to the caller.
 */
void virtio_driver(struct vdev *v, uint64_t features);
/* virtio_driver(), then FEATURES_OK: whether the device kept it set. */
bool virtio_features(struct vdev *v, uint64_t features);
/* Set up and enable queue `index` on the fresh ring `q`. */
void vq_setup(struct vdev *v, struct vq *q, uint16_t index);
/* Make the chain at `head` available (no kick). */
void vq_post(struct vq *q, uint16_t head);
void vq_kick(struct vq *q);
/* Wait until the device has used every posted chain; whether it did. */
bool vq_wait_all(struct vq *q);

#endif
