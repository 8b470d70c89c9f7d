/* virtio.h: the virtio 1.x modern PCI transport and the interface device models implement. */
#ifndef DEVICES_VIRTIO_VIRTIO_H
#define DEVICES_VIRTIO_VIRTIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/pci/pci.h"
#include "devices/pci/plan.h"
#include "devices/virtio/virtqueue.h"

struct machine;
struct ev_source;
struct virtio_dev;

#define VIRTIO_MAX_QUEUES 8

/*
 * BAR0 layout (32-bit memory BAR of VIRTIO_BAR_SIZE bytes): the common,
 * ISR, device-specific and notification structures, then the MSI-X table
 * and pending bits. Queue q is notified at VIRTIO_NOTIFY_OFF + 4 * q.
 */
#define VIRTIO_BAR_SIZE 0x8000
#define VIRTIO_COMMON_OFF 0x0000
#define VIRTIO_COMMON_SIZE 0x38
#define VIRTIO_ISR_OFF 0x1000
#define VIRTIO_DEVICE_OFF 0x2000
#define VIRTIO_DEVICE_MAX 0x1000
#define VIRTIO_NOTIFY_OFF 0x3000
#define VIRTIO_NOTIFY_MULT 4
#define VIRTIO_MSIX_TABLE_OFF 0x4000
#define VIRTIO_MSIX_PBA_OFF 0x5000

/* What a device model provides. Callbacks run with the device lock held. */
struct virtio_dev_ops {
	const char *name;	/* "virtio-rng" */
	uint16_t device_id;	/* VIRTIO_ID_* */
	uint32_t pci_class;	/* 24-bit class code */
	uint64_t features;	/* device features (transport bits added) */
	unsigned int nqueues;
	uint16_t queue_max;	/* largest queue size offered */
	unsigned int config_size; /* bytes of device-specific config */
	void (*config_read)(struct virtio_dev *d, unsigned int off,
			    uint8_t *data, unsigned int len);
	void (*config_write)(struct virtio_dev *d, unsigned int off,
			     const uint8_t *data, unsigned int len);
	/* DRIVER_OK: the queues are live. Return -errno to refuse. */
	int (*activate)(struct virtio_dev *d);
	/* Device reset by the driver, or teardown: stop using the queues. */
	void (*reset)(struct virtio_dev *d);
	/*
	 * The driver kicked queue q. Runs on the event loop thread WITHOUT
	 * the device lock (take it around queue accesses as needed).
	 */
	void (*queue_notify)(struct virtio_dev *d, unsigned int q);
};

struct virtio_queue {
	struct virtq vq;
	uint16_t size;
	bool enabled;
	bool live; /* attached at DRIVER_OK */
	uint16_t msix_vector;
	uint64_t desc, driver, device;
	int kick_fd;
	struct ev_source *kick_src;
	uint64_t ioeventfd_addr; /* 0: none registered */
};

struct virtio_msix_vec {
	uint32_t addr_lo, addr_hi, data, ctrl;
	bool pending;
	unsigned int gsi;
	int fd; /* irqfd */
};

/* Which device and queue a kick eventfd belongs to. */
struct virtio_kick_ctx {
	struct virtio_dev *d;
	unsigned int q;
};

struct virtio_dev {
	struct pci_function fn;
	const struct virtio_dev_ops *ops;
	void *priv;
	struct machine *mach;
	pthread_mutex_t lock;

	uint64_t device_features;
	uint64_t driver_features;
	uint32_t dfselect, gfselect;
	uint8_t status;
	uint8_t isr;
	uint8_t config_generation;
	uint16_t queue_sel;
	uint16_t msix_config;
	struct virtio_queue q[VIRTIO_MAX_QUEUES];
	struct virtio_kick_ctx kick[VIRTIO_MAX_QUEUES];

	unsigned int msix_cap;
	unsigned int pci_cfg_cap; /* VIRTIO_PCI_CAP_PCI_CFG window */
	unsigned int nvectors;
	struct virtio_msix_vec vec[VIRTIO_MAX_QUEUES + 1];
	struct ratelimit rl;
};

/* The planner's view of a virtio device: its one BAR. */
void virtio_pci_dev_req(struct pci_dev_req *req, const char *name);

/*
 * Set up `d` (embedded in the device model's state) as a PCI function with
 * the virtio capabilities, MSI-X and queue kick eventfds on the loop.
 */
__attribute__((warn_unused_result)) int
virtio_pci_init(struct virtio_dev *d, struct machine *mach,
		const struct virtio_dev_ops *ops, void *priv, const char *name);
void virtio_pci_destroy(struct virtio_dev *d);

/*
 * Tell the driver that queue q has used buffers (honours event idx /
 * NO_INTERRUPT and MSI-X masking). Call with the device lock held.
 */
void virtio_notify_queue(struct virtio_dev *d, unsigned int q);

/* Device config changed: bump the generation and interrupt. Lock held. */
void virtio_notify_config(struct virtio_dev *d);

/*
 * The ring of queue q is malformed: set DEVICE_NEEDS_RESET and tell the
 * driver; the queue is no longer processed. Lock held.
 */
void virtio_queue_broken(struct virtio_dev *d, unsigned int q,
			 const char *why);

/*
 * Take the next request of queue q: 1 with `elem` filled, 0 when the queue
 * is empty (the driver is then asked to kick for the next one, with event
 * idx), -EIO when the ring is malformed (the queue is marked broken and
 * the driver told). Lock held.
 */
__attribute__((warn_unused_result)) int
virtio_pop(struct virtio_dev *d, unsigned int q, struct virtq_elem *elem);

/* Whether the driver accepted `bit`. */
static inline bool virtio_has_feature(const struct virtio_dev *d,
				      unsigned int bit)
{
	return d->driver_features & (1ull << bit);
}

#endif
