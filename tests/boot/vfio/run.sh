#!/usr/bin/env bash
# run.sh: the L2 VFIO checks: a rig with an IOMMU and real endpoints (tests/boot/vfio/rig.sh) runs l2-vfio.sh, then this side checks what the devices' backing files hold.
#
# Prints "ok - ..." / "not ok - ..." lines and ends with "L2-VFIO: N passed, N failed, 0 skipped".
# Env: BUILD (default build); L2_VFIO_RIG_TIMEOUT (default 1500 s); L2_ONLY selects tests;
#      L2_VFIO_RIG_KERNEL=iommufd boots the rig host on the iommufd kernel (scripts/rig-kernel.sh,
#      built into its cache when missing) and runs tests/boot/vfio/l2-iommufd.sh there instead,
#      then checks our iommufd ABI against that kernel's headers; the summary is "L2-IOMMUFD-VFIO: ...".
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../../.." || exit 1
export BUILD="${BUILD:-build}"
. tests/lib.sh

dir="$BUILD/tests/vfio"
mkdir -p "$dir"
export VFIO_NVME_IMG="$dir/nvme.img"
export VFIO_SHM="/dev/shm/microvm-vfio-ivshmem-$$"
trap 'rm -f "$VFIO_SHM"' EXIT

# The nvme namespace: a random first MiB the guest must read back (its hash goes in), the
# rest zero; the guest writes the first MiB of busybox at 1 MiB.
rm -f "$VFIO_NVME_IMG"
head -c 1048576 /dev/urandom >"$VFIO_NVME_IMG"
truncate -s 64M "$VFIO_NVME_IMG"
export MICROVM_TEST_NVME_SHA
MICROVM_TEST_NVME_SHA=$(head -c 1048576 "$VFIO_NVME_IMG" | sha256sum | cut -d' ' -f1)
# The ivshmem memory: a random word at offset 0 for the guest to read.
export MICROVM_TEST_SHM_MAGIC
MICROVM_TEST_SHM_MAGIC=$(printf '0x%08x' $(( $(od -An -tu4 -N4 /dev/urandom) | 1 )))
truncate -s 1G "$VFIO_SHM"
python3 -c 'import sys, struct
with open(sys.argv[1], "r+b") as f:
    f.write(struct.pack("<I", int(sys.argv[2], 16)))' "$VFIO_SHM" "$MICROVM_TEST_SHM_MAGIC"

# shellcheck source=tests/boot/vfio/rig.sh
. tests/boot/vfio/rig.sh
out=$(mktemp)
kernel=${L2_VFIO_RIG_KERNEL:-debian} inner=tests/boot/vfio/l2-vfio.sh label=L2-VFIO
if [[ $kernel = iommufd ]]; then
	inner=tests/boot/vfio/l2-iommufd.sh label=L2-IOMMUFD-VFIO
fi
tests/rig/x86-rig.sh --kernel "$kernel" --timeout "${L2_VFIO_RIG_TIMEOUT:-1500}" -- \
	env L2_ONLY="${L2_ONLY:-}" MICROVM="${MICROVM:-}" "$inner" | tee "$out"
rig_status=${PIPESTATUS[0]}

T_PASS=$(grep -c '^ok - ' "$out")
T_FAIL=$(grep -c '^not ok - ' "$out")
T_SKIP=$(grep -c '^skip - ' "$out")
# l2-iommufd.sh runs several plans one after the other.
plan=$(sed -n 's/^# plan \([0-9]*\)$/\1/p' "$out" | awk '{ s += $1 } END { if (NR) print s }')
if [[ -z "$plan" ]]; then
	t_fail vfio-rig "no plan line (rig status $rig_status)"
elif ((T_PASS + T_FAIL + T_SKIP < plan)); then
	t_fail vfio-rig "only $((T_PASS + T_FAIL + T_SKIP)) of $plan tests reported (rig status $rig_status)"
fi
# Our own copy of the iommufd ioctls against the headers of the kernel that just ran them.
if [[ $kernel = iommufd ]]; then
	if hdrs="$(scripts/rig-kernel.sh 2>/dev/null)/usr/include" && [[ -d "$hdrs" ]]; then
		if line=$(tests/boot/vfio/iommufd-abi.sh "$hdrs"); then
			t_ok iommufd-abi
		else
			t_fail iommufd-abi "$line"
		fi
	else
		t_fail iommufd-abi "scripts/rig-kernel.sh gave no headers"
	fi
fi

# What the guest wrote went through the device to its backing store on this machine.
if grep -qE '^ok - ([a-z]+-)?nvme$' "$out"; then
	if cmp -s <(head -c 2097152 "$VFIO_NVME_IMG" | tail -c 1048576) <(head -c 1048576 /bin/busybox); then
		t_ok nvme-backing-file
	else
		t_fail nvme-backing-file "bytes 1M-2M of $VFIO_NVME_IMG are not what the guest wrote"
	fi
fi
if grep -qE '^ok - ([a-z]+-)?multi$' "$out"; then
	w8=$(od -An -tx4 -j8 -N4 "$VFIO_SHM" | tr -d ' ')
	wl=$(od -An -tx4 -j$((1073741824 - 4)) -N4 "$VFIO_SHM" | tr -d ' ')
	if [[ "$w8" = 600dcafe && "$wl" = 600dcafe ]]; then
		t_ok ivshmem-backing-file
	else
		t_fail ivshmem-backing-file "the ivshmem memory holds 0x$w8 at 8 and 0x$wl at its end, not 0x600dcafe"
	fi
fi
rm -f "$out"
t_summary "$label"
