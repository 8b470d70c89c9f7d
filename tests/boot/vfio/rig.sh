# rig.sh: the VFIO rig profile (sourced by bash): sets RIG_QEMU_ARGS and RIG_KERNEL_ARGS for an x86 rig host with an IOMMU and real PCIe endpoints.
# shellcheck shell=bash
#
# Usage: . tests/boot/vfio/rig.sh && tests/rig/x86-rig.sh -- CMD...
#        (inside the rig, tests/boot/vfio/bind.sh binds the endpoints to vfio-pci)
#
# The rig host gets an emulated intel-iommu (interrupt remapping on, 48-bit IOVAs) with
# intel_iommu=on, and, each alone behind its own pcie-root-port (so alone in its IOMMU group):
#   nvme           1b36:0010  QEMU's NVMe controller, serial mvnvme, on the raw file
#                             $VFIO_NVME_IMG (default build/tests/vfio/nvme.img; 64 MiB of
#                             zeros made here if missing)
#   edu            1234:11e8  QEMU's edu (DMA engine, MSI), DMA mask 48 bits (its default is 28)
#   ivshmem-plain  1af4:1110  a 1 GiB 64-bit prefetchable BAR2 on the shared file $VFIO_SHM
#                             (default /dev/shm/microvm-vfio-ivshmem; sparse, made by QEMU if
#                             missing), readable here after the rig exits
# and, behind a pcie-pci-bridge (conventional PCI: one IOMMU group for both), a second edu
# and a virtio-rng-pci that the rig's virtio_pci driver claims: a group with a member that
# is not bound to vfio-pci, for negative tests.
# The 1 GiB memdev is on top of the rig's 2 GiB of RAM (QEMU maps the file; the rig kernel
# sees 2 GiB and the BAR at 4 GiB), so QEMU needs ~3 GiB here, the file stays sparse.
# Returns non-zero (with a message) if a backing file cannot be made.

vfio_rig_repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
VFIO_NVME_IMG="${VFIO_NVME_IMG:-build/tests/vfio/nvme.img}"
VFIO_SHM="${VFIO_SHM:-/dev/shm/microvm-vfio-ivshmem}"
# QEMU runs in the checkout; an absolute path keeps the profile usable from anywhere.
[[ "$VFIO_NVME_IMG" = /* ]] || VFIO_NVME_IMG="$vfio_rig_repo/$VFIO_NVME_IMG"

vfio_rig_setup() {
	local f
	for f in "$VFIO_NVME_IMG" "$VFIO_SHM"; do
		# QEMU option values: a comma would split them, whitespace the words.
		if [[ "$f" == *[,[:space:]]* ]]; then
			echo "vfio rig: error: '$f' contains a comma or whitespace" >&2
			return 1
		fi
	done
	if [[ ! -f "$VFIO_NVME_IMG" ]]; then
		if ! { mkdir -p "$(dirname "$VFIO_NVME_IMG")" && truncate -s 64M "$VFIO_NVME_IMG"; }; then
			echo "vfio rig: error: cannot make $VFIO_NVME_IMG" >&2
			return 1
		fi
	fi
	# QEMU sizes an empty or missing file itself, but refuses a shorter non-empty one.
	if [[ -s "$VFIO_SHM" ]] && (($(stat -c %s "$VFIO_SHM") < 1 << 30)); then
		echo "vfio rig: error: $VFIO_SHM is smaller than 1 GiB (remove it or truncate -s 1G)" >&2
		return 1
	fi

	# QEMU's docs want intel-iommu before other PCI devices, and x86-rig.sh's two -virtfs
	# devices come before these words. QEMU 7.2 takes that: it gives cold-plugged devices
	# their DMA address spaces at machine-done, so the 9p devices are translated too (measured:
	# they get IOMMU groups of type DMA-FQ and the rig's 9p mounts work).
	# shellcheck disable=SC2054 # commas inside QEMU option values
	local -a a=(-device intel-iommu,intremap=on,aw-bits=48
		-drive "file=$VFIO_NVME_IMG,if=none,id=mvnvme0,format=raw"
		-device pcie-root-port,id=rp1,chassis=1,slot=1
		-device nvme,bus=rp1,drive=mvnvme0,serial=mvnvme
		-device pcie-root-port,id=rp2,chassis=2,slot=2
		-device edu,bus=rp2,dma_mask=0xffffffffffff
		-object "memory-backend-file,id=mvshm,size=1G,mem-path=$VFIO_SHM,share=on"
		-device pcie-root-port,id=rp3,chassis=3,slot=3
		-device ivshmem-plain,bus=rp3,memdev=mvshm
		-device pcie-root-port,id=rp4,chassis=4,slot=4
		-device pcie-pci-bridge,id=br4,bus=rp4
		-device edu,bus=br4,addr=1,dma_mask=0xffffffffffff
		-device virtio-rng-pci,bus=br4,addr=2)
	RIG_QEMU_ARGS="${a[*]}"
	case " ${RIG_KERNEL_ARGS:-} " in
	*" intel_iommu=on "*) ;;
	*) RIG_KERNEL_ARGS="${RIG_KERNEL_ARGS:+$RIG_KERNEL_ARGS }intel_iommu=on" ;;
	esac
	export RIG_QEMU_ARGS RIG_KERNEL_ARGS VFIO_NVME_IMG VFIO_SHM
}
vfio_rig_setup
