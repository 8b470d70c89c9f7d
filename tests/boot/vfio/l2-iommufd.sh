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
# The nvme cases are left out unless L2_IOMMUFD_NVME=1: on this rig host (Linux 7.2) Linux's
# nvme driver in the guest reads and writes through either back-end, but the guest then
# hangs as it powers off (its timer's interrupts stop, the vCPU sleeps in the host) in about
# half the runs, through iommufd and through the container alike; on Debian's 6.1 host
# (the first VFIO rig) it never has (docs/vfio.md).
if [[ "${L2_IOMMUFD_NVME:-0}" = 1 ]]; then
	cases='^(nvme|edu-tiny|multi)$' auto='^(nvme|edu-tiny)$'
else
	cases='^edu-tiny$' auto='^edu-tiny$'
fi
run iommufd- "$cases" L2_VFIO_IOMMU=iommufd L2_VFIO_DMA_METHOD=map
# The default, auto, on a host with /dev/iommu and cdevs: it must choose iommufd.
run auto- "$auto" L2_VFIO_IOMMU= L2_VFIO_DMA_METHOD=map
# The legacy container still works beside iommufd.
run legacy- "$([[ "${L2_IOMMUFD_NVME:-0}" = 1 ]] && echo '^(nvme|edu-tiny)$' || echo '^edu-tiny$')" \
	L2_VFIO_IOMMU=legacy L2_VFIO_BACKEND=container
