#!/usr/bin/env bash
# iommufd-abi.sh: checks devices/vfio/iommufd_abi.h (our own copy of the iommufd and VFIO-cdev ioctls) against the uapi headers of the iommufd rig kernel: every struct's size and field offsets, every ioctl number.
#
# Usage: tests/boot/vfio/iommufd-abi.sh HEADERS_DIR   (the rig kernel's usr/include, from
#        scripts/rig-kernel.sh's cache entry). Prints "ok - ..." / "not ok - ..." lines.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."

hdrs=${1:?usage: $0 HEADERS_DIR}
[[ -f "$hdrs/linux/iommufd.h" && -f "$hdrs/linux/vfio.h" ]] ||
	{ echo "not ok - iommufd-abi: no linux/iommufd.h and linux/vfio.h under $hdrs"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/abi.c" <<'C'
#include <stddef.h>
#include <linux/iommufd.h>
#include <linux/vfio.h>
#include "devices/vfio/iommufd_abi.h"

/* Ours may be a prefix of a newer, longer kernel struct (sizes in the first field say which). */
#define SAME_FIELD(ours, theirs, f_ours, f_theirs)                              \
	_Static_assert(offsetof(struct ours, f_ours) ==                         \
			       offsetof(struct theirs, f_theirs) &&             \
		       sizeof(((struct ours *)0)->f_ours) ==                    \
			       sizeof(((struct theirs *)0)->f_theirs),          \
		       #ours "." #f_ours)
#define PREFIX(ours, theirs) \
	_Static_assert(sizeof(struct ours) <= sizeof(struct theirs), #ours " size")
#define SAME_SIZE(ours, theirs) \
	_Static_assert(sizeof(struct ours) == sizeof(struct theirs), #ours " size")
#define SAME_IOCTL(ours, theirs) _Static_assert((ours) == (theirs), #ours)

SAME_SIZE(mv_iommu_destroy, iommu_destroy);
SAME_FIELD(mv_iommu_destroy, iommu_destroy, id, id);
SAME_SIZE(mv_iommu_ioas_alloc, iommu_ioas_alloc);
SAME_FIELD(mv_iommu_ioas_alloc, iommu_ioas_alloc, out_ioas_id, out_ioas_id);
SAME_SIZE(mv_iommu_iova_range, iommu_iova_range);
SAME_SIZE(mv_iommu_ioas_iova_ranges, iommu_ioas_iova_ranges);
SAME_FIELD(mv_iommu_ioas_iova_ranges, iommu_ioas_iova_ranges, num_iovas, num_iovas);
SAME_FIELD(mv_iommu_ioas_iova_ranges, iommu_ioas_iova_ranges, allowed_iovas, allowed_iovas);
SAME_FIELD(mv_iommu_ioas_iova_ranges, iommu_ioas_iova_ranges, out_iova_alignment, out_iova_alignment);
SAME_SIZE(mv_iommu_ioas_map, iommu_ioas_map);
SAME_FIELD(mv_iommu_ioas_map, iommu_ioas_map, flags, flags);
SAME_FIELD(mv_iommu_ioas_map, iommu_ioas_map, user_va, user_va);
SAME_FIELD(mv_iommu_ioas_map, iommu_ioas_map, length, length);
SAME_FIELD(mv_iommu_ioas_map, iommu_ioas_map, iova, iova);
SAME_SIZE(mv_iommu_ioas_unmap, iommu_ioas_unmap);
SAME_FIELD(mv_iommu_ioas_unmap, iommu_ioas_unmap, iova, iova);
SAME_FIELD(mv_iommu_ioas_unmap, iommu_ioas_unmap, length, length);
SAME_SIZE(mv_iommu_ioas_map_file, iommu_ioas_map_file);
SAME_FIELD(mv_iommu_ioas_map_file, iommu_ioas_map_file, fd, fd);
SAME_FIELD(mv_iommu_ioas_map_file, iommu_ioas_map_file, start, start);
SAME_FIELD(mv_iommu_ioas_map_file, iommu_ioas_map_file, length, length);
SAME_FIELD(mv_iommu_ioas_map_file, iommu_ioas_map_file, iova, iova);
PREFIX(mv_vfio_device_bind_iommufd, vfio_device_bind_iommufd);
SAME_FIELD(mv_vfio_device_bind_iommufd, vfio_device_bind_iommufd, iommufd, iommufd);
SAME_FIELD(mv_vfio_device_bind_iommufd, vfio_device_bind_iommufd, out_devid, out_devid);
PREFIX(mv_vfio_device_attach_iommufd_pt, vfio_device_attach_iommufd_pt);
SAME_FIELD(mv_vfio_device_attach_iommufd_pt, vfio_device_attach_iommufd_pt, pt_id, pt_id);
_Static_assert(MV_IOMMU_IOAS_MAP_FIXED_IOVA == IOMMU_IOAS_MAP_FIXED_IOVA &&
		       MV_IOMMU_IOAS_MAP_WRITEABLE == IOMMU_IOAS_MAP_WRITEABLE &&
		       MV_IOMMU_IOAS_MAP_READABLE == IOMMU_IOAS_MAP_READABLE,
	       "map flags");
SAME_IOCTL(MV_IOMMU_DESTROY, IOMMU_DESTROY);
SAME_IOCTL(MV_IOMMU_IOAS_ALLOC, IOMMU_IOAS_ALLOC);
SAME_IOCTL(MV_IOMMU_IOAS_IOVA_RANGES, IOMMU_IOAS_IOVA_RANGES);
SAME_IOCTL(MV_IOMMU_IOAS_MAP, IOMMU_IOAS_MAP);
SAME_IOCTL(MV_IOMMU_IOAS_UNMAP, IOMMU_IOAS_UNMAP);
SAME_IOCTL(MV_IOMMU_IOAS_MAP_FILE, IOMMU_IOAS_MAP_FILE);
SAME_IOCTL(MV_VFIO_DEVICE_BIND_IOMMUFD, VFIO_DEVICE_BIND_IOMMUFD);
SAME_IOCTL(MV_VFIO_DEVICE_ATTACH_IOMMUFD_PT, VFIO_DEVICE_ATTACH_IOMMUFD_PT);
C
if out=$(cc -std=gnu11 -fsyntax-only -Werror -isystem "$hdrs" -I. "$tmp/abi.c" 2>&1); then
	echo "ok - iommufd-abi: our iommufd and VFIO-cdev definitions match $hdrs"
else
	echo "not ok - iommufd-abi: $(grep -m3 'error' <<<"$out" | tr '\n' ' ')"
	exit 1
fi
