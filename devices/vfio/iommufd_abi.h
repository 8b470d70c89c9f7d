/* iommufd_abi.h: the kernel's iommufd and VFIO-cdev ioctls microvm uses, written out here because Debian's linux-libc-dev 6.1 has neither (iommufd came in 6.2, VFIO cdevs in 6.6, IOAS_MAP_FILE in 6.13). */
#ifndef DEVICES_VFIO_IOMMUFD_ABI_H
#define DEVICES_VFIO_IOMMUFD_ABI_H

#include <linux/ioctl.h>
#include <stdint.h>

/*
 * Our own names (mv_*), so these never clash with a newer <linux/iommufd.h>.
 * Every struct starts with its own size: the kernel accepts a shorter
 * (older) one and zero-fills what it does not get. The layouts and numbers
 * are checked against a kernel's uapi headers by
 * tests/boot/vfio/iommufd-abi.sh where the rig kernel's are at hand.
 */
#define MV_IOMMUFD_TYPE ';'
#define MV_VFIO_TYPE	';'
#define MV_VFIO_BASE	100

struct mv_iommu_destroy {
	uint32_t size;
	uint32_t id;
};
#define MV_IOMMU_DESTROY _IO(MV_IOMMUFD_TYPE, 0x80)

struct mv_iommu_ioas_alloc {
	uint32_t size;
	uint32_t flags;
	uint32_t out_ioas_id;
};
#define MV_IOMMU_IOAS_ALLOC _IO(MV_IOMMUFD_TYPE, 0x81)

struct mv_iommu_iova_range {
	uint64_t start;
	uint64_t last;
};

struct mv_iommu_ioas_iova_ranges {
	uint32_t size;
	uint32_t ioas_id;
	uint32_t num_iovas; /* in: room in allowed_iovas; out: how many */
	uint32_t reserved;
	uint64_t allowed_iovas; /* struct mv_iommu_iova_range[] */
	uint64_t out_iova_alignment;
};
#define MV_IOMMU_IOAS_IOVA_RANGES _IO(MV_IOMMUFD_TYPE, 0x84)

#define MV_IOMMU_IOAS_MAP_FIXED_IOVA (1u << 0)
#define MV_IOMMU_IOAS_MAP_WRITEABLE  (1u << 1)
#define MV_IOMMU_IOAS_MAP_READABLE   (1u << 2)

struct mv_iommu_ioas_map {
	uint32_t size;
	uint32_t flags;
	uint32_t ioas_id;
	uint32_t reserved;
	uint64_t user_va;
	uint64_t length;
	uint64_t iova;
};
#define MV_IOMMU_IOAS_MAP _IO(MV_IOMMUFD_TYPE, 0x85)

struct mv_iommu_ioas_unmap {
	uint32_t size;
	uint32_t ioas_id;
	uint64_t iova;
	uint64_t length;
};
#define MV_IOMMU_IOAS_UNMAP _IO(MV_IOMMUFD_TYPE, 0x86)

/* Linux 6.13: map a range of a file (a memfd) rather than of our address space. */
struct mv_iommu_ioas_map_file {
	uint32_t size;
	uint32_t flags;
	uint32_t ioas_id;
	int32_t fd;
	uint64_t start; /* offset in the file */
	uint64_t length;
	uint64_t iova;
};
#define MV_IOMMU_IOAS_MAP_FILE _IO(MV_IOMMUFD_TYPE, 0x8f)

/* VFIO device cdevs (/dev/vfio/devices/vfioN), Linux 6.6. */
struct mv_vfio_device_bind_iommufd {
	uint32_t argsz;
	uint32_t flags;
	int32_t iommufd;
	uint32_t out_devid;
};
#define MV_VFIO_DEVICE_BIND_IOMMUFD _IO(MV_VFIO_TYPE, MV_VFIO_BASE + 18)

struct mv_vfio_device_attach_iommufd_pt {
	uint32_t argsz;
	uint32_t flags;
	uint32_t pt_id;
};
#define MV_VFIO_DEVICE_ATTACH_IOMMUFD_PT _IO(MV_VFIO_TYPE, MV_VFIO_BASE + 19)

#endif
