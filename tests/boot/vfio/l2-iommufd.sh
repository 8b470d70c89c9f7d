#!/usr/bin/env bash
# l2-iommufd.sh: runs inside the VFIO rig booted on the iommufd kernel (tests/boot/vfio/run.sh with L2_VFIO_RIG_KERNEL=iommufd): l2-vfio.sh's device cases through iommufd, with auto (which must choose it), and through the legacy container on the same host.
#
# Prints each run's "# plan N" and its "ok - <prefix>NAME" / "not ok - ..." lines.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../../.." || exit 1

if [[ ! -e /dev/iommu ]]; then
	echo "# plan 1"
	echo "not ok - iommufd-rig: this rig host has no /dev/iommu (kernel: ${MICROVM_RIG_KERNEL:-?})"
	exit 1
fi
# run PREFIX ONLY [VAR=VALUE...]: l2-vfio.sh's cases ONLY, their names prefixed.
run() {
	local prefix=$1 only=$2
	shift 2
	env "$@" L2_NAME_PREFIX="$prefix" L2_ONLY="$only" tests/boot/vfio/l2-vfio.sh
}
# iommu=iommufd: guest RAM (anonymous, transparent huge pages) mapped by address
# (IOMMU_IOAS_MAP); IOAS_MAP_FILE is experimental (MICROVM_IOMMUFD_MAP_FILE=1, docs/vfio.md).
run iommufd- '^(nvme|edu-tiny|multi)$' L2_VFIO_IOMMU=iommufd L2_VFIO_DMA_METHOD=map
# The default, auto, on a host with /dev/iommu and cdevs.
run auto- '^nvme$' L2_VFIO_IOMMU= L2_VFIO_DMA_METHOD=map
# The legacy container still works beside iommufd.
run legacy- '^edu-tiny$' L2_VFIO_IOMMU=legacy L2_VFIO_BACKEND=container
