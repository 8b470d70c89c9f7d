/* iommu.h: the DMA back-end a VM's passed-through devices share: attach a device, map/unmap guest RAM, detach (the legacy container or iommufd). */
#ifndef DEVICES_VFIO_IOMMU_H
#define DEVICES_VFIO_IOMMU_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
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
	 * this back-end's address space; its VFIO device fd comes back in
	 * *device_fd. kvm_add(opaque, fd) is called with what KVM's VFIO
	 * pseudo-device must be told about (a group fd the first time the
	 * group is seen, or the device fd itself), at the point the kernel
	 * wants it: for iommufd, before the device is bound. Every fd stays
	 * owned by the back-end. 0 or -errno, logged with the device's name.
	 */
	int (*attach)(struct vfio_iommu *io, const char *bdf, int group,
		      int (*kvm_add)(void *opaque, int fd), void *opaque,
		      int *device_fd);
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
	/*
	 * The same from [offset, offset+size) of file `fd` (guest RAM's
	 * memfd), which pins its pages without walking our page tables.
	 * NULL, or -EOPNOTSUPP, where the kernel cannot (map() then).
	 */
	int (*map_file)(struct vfio_iommu *io, uint64_t iova, uint64_t size,
			int fd, uint64_t offset);
	int (*unmap)(struct vfio_iommu *io, uint64_t iova, uint64_t size);
	/* Unmap everything and close every fd. */
	void (*destroy)(struct vfio_iommu *io);
};

struct vfio_iommu {
	const struct vfio_iommu_ops *ops;
	const struct logger *log;
};

/*
 * What a back-end mapped (iova, size), so that destroy() can unmap it all,
 * and the lock that makes its maps and unmaps one at a time (the DMA thread
 * maps RAM while vCPUs map BARs, peer-to-peer).
 */
struct vfio_dma_ledger {
	pthread_mutex_t lock;
	struct vfio_dma_entry {
		uint64_t iova, size;
	} *v;
	unsigned int n, cap;
};

void vfio_ledger_init(struct vfio_dma_ledger *l);
/*
 * Map or unmap [iova, iova+size) with ioctl `req` on `fd` (its argument
 * `arg` says the same range) and note it; 0 or -errno.
 */
int vfio_ledger_ioctl(struct vfio_dma_ledger *l, int fd, unsigned long req,
		      void *arg, uint64_t iova, uint64_t size, bool map);
/* Unmap everything noted (through io->ops->unmap) and free the ledger. */
void vfio_ledger_unmap_all(struct vfio_dma_ledger *l, struct vfio_iommu *io);

/*
 * The legacy VFIO container (/dev/vfio/vfio, type1v2 IOMMU): groups are
 * opened as devices are attached and share one container.
 */
__attribute__((warn_unused_result)) int
vfio_container_create(const struct logger *lg, const char *dev_root,
		      struct vfio_iommu **out);

/*
 * iommufd (/dev/iommu, Linux 6.2; device cdevs 6.6; map_file 6.13): one IOAS
 * for the VM, devices opened through sys_root/bus/pci/devices/BDF/vfio-dev/
 * -> dev_root/vfio/devices/vfioN. 0 or -errno (logged, with the fix).
 */
__attribute__((warn_unused_result)) int
vfio_iommufd_create(const struct logger *lg, const char *sys_root,
		    const char *dev_root, struct vfio_iommu **out);

/* The name ("vfio3") of the VFIO cdev of `bdf`, or -errno (-ENOENT: none). */
int vfio_cdev_name(const char *sys_root, const char *bdf, char *name,
		   size_t len);

/* Which back-end a VM asks for (cfg.vfio_iommu). */
enum vfio_iommu_want { VFIO_WANT_AUTO, VFIO_WANT_IOMMUFD, VFIO_WANT_LEGACY };

/*
 * The choice, from what the host has: iommufd when asked for, or for auto
 * when /dev/iommu exists and every device has a cdev; the container
 * otherwise. Returns 1 (iommufd), 0 (container) or -ENODEV (iommufd asked
 * for and missing), with the reason in `why`.
 */
int vfio_iommu_choose(enum vfio_iommu_want want, bool have_dev_iommu,
		      bool all_cdevs, char *why, size_t len);

#endif
