/* iommu.h: the DMA back-end a VM's passed-through devices share: attach a device, map/unmap guest RAM, detach (legacy container today, iommufd next). */
#ifndef DEVICES_VFIO_IOMMU_H
#define DEVICES_VFIO_IOMMU_H

#include <stdint.h>

#include "vmm/log.h"

struct vfio_iommu;

/* One IOVA range the IOMMU can translate, inclusive. */
struct vfio_iommu_range {
	uint64_t start, last;
};

#define VFIO_IOMMU_MAX_RANGES 32

struct vfio_iommu_ops {
	const char *name; /* "container", "iommufd" */
	/*
	 * Open host device `bdf` (IOMMU group `group`) for use and put it in
	 * this back-end's address space. Returns its VFIO device fd in
	 * *device_fd and, in *kvm_fd, the fd to tell KVM's VFIO pseudo-device
	 * about (the group fd, or the device fd itself; -1 if already told).
	 * Both stay owned by the back-end. 0 or -errno, logged with the
	 * device's name.
	 */
	int (*attach)(struct vfio_iommu *io, const char *bdf, int group,
		      int *device_fd, int *kvm_fd);
	/* Release a device attach() returned. */
	void (*detach)(struct vfio_iommu *io, int device_fd);
	/*
	 * The IOVA ranges the IOMMU translates (after the first attach).
	 * Returns their number (0: the IOMMU does not say), or -errno.
	 */
	int (*iova_ranges)(struct vfio_iommu *io, struct vfio_iommu_range *out,
			   unsigned int max);
	/*
	 * Map [iova, iova+size) to host memory `hva` (RAM, or a device's
	 * mmapped BAR) for device reads and writes. Not logged: the caller
	 * knows what the range is.
	 */
	int (*map)(struct vfio_iommu *io, uint64_t iova, uint64_t size,
		   void *hva);
	int (*unmap)(struct vfio_iommu *io, uint64_t iova, uint64_t size);
	/* Unmap everything and close every fd. */
	void (*destroy)(struct vfio_iommu *io);
};

struct vfio_iommu {
	const struct vfio_iommu_ops *ops;
	const struct logger *log;
};

/*
 * The legacy VFIO container (/dev/vfio/vfio, type1v2 IOMMU): groups are
 * opened as devices are attached and share one container.
 */
__attribute__((warn_unused_result)) int
vfio_container_create(const struct logger *lg, const char *dev_root,
		      struct vfio_iommu **out);

#endif
