#!/usr/bin/env bash
# probe.sh: inside the VFIO rig, reports what tests/boot/vfio/bind.sh set up (groups, members, reserved regions, drivers, /dev/vfio) and what busybox offers (dd O_DIRECT, devmem).
#
# Usage (as root in the rig): tests/boot/vfio/probe.sh   (runs bind.sh itself if VFIO_NVME is unset)
# Prints lines of "name: facts"; exits 1 if a bound device or its /dev/vfio node is missing.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
if [[ -z "${VFIO_NVME:-}" ]]; then
	eval "$(tests/boot/vfio/bind.sh)"
fi
BUILD="${BUILD:-build}"
status=0

echo "kernel: $(uname -r) cmdline: $(tr ' ' '\n' </proc/cmdline | grep -E '^(intel_iommu|iommu)' | tr '\n' ' ')"
echo "dev-vfio-vfio: $([[ -c /dev/vfio/vfio ]] && echo present || echo MISSING)"
[[ -c /dev/vfio/vfio ]] || status=1
echo "dev-iommu: $([[ -c /dev/iommu ]] && echo present || echo absent)"

driver_of() {
	local drv
	drv=$(readlink "/sys/bus/pci/devices/$1/driver" 2>/dev/null) || { echo none; return; }
	echo "${drv##*/}"
}

for name in NVME EDU IVSHMEM SHARED_EDU SHARED_RNG; do
	var="VFIO_$name" gvar="VFIO_GROUP_$name"
	bdf=${!var:-} group=${!gvar:-}
	if [[ -z "$bdf" || ! -d /sys/bus/pci/devices/$bdf ]]; then
		echo "$name: MISSING (bind.sh gave '${bdf}')"
		status=1
		continue
	fi
	d=/sys/bus/pci/devices/$bdf
	members=""
	for m in /sys/kernel/iommu_groups/"$group"/devices/*; do
		members+=" ${m##*/}($(<"$m/vendor"):$(<"$m/device"),$(driver_of "${m##*/}"))"
	done
	node=/dev/vfio/$group
	echo "$name: $bdf $(<"$d/vendor"):$(<"$d/device") driver $(driver_of "$bdf") group $group" \
		"type $(cat /sys/kernel/iommu_groups/"$group"/type 2>/dev/null || echo '?')" \
		"$node $([[ -c $node ]] && echo present || echo absent)"
	echo "$name:   members$members"
	while read -r start end type; do
		echo "$name:   reserved $start $end $type"
	done </sys/kernel/iommu_groups/"$group"/reserved_regions
	# Memory BARs from sysfs "resource": start end flags, one line per BAR (0-5), ROM (6).
	i=0
	while read -r start end flags; do
		if ((start != 0 && i < 6)); then
			kind=io
			((flags & 0x200)) && kind=mem32
			((flags & 0x100000)) && kind=mem64
			((flags & 0x2000)) && kind+=pref
			size=$((end - start + 1))
			if ((size >= 1 << 20)); then
				size="$((size >> 20))M"
			elif ((size >= 1 << 10)); then
				size="$((size >> 10))K"
			fi
			echo "$name:   bar$i $start-$end $kind $size"
		fi
		i=$((i + 1))
	done <"$d/resource"
	if [[ "$name" != SHARED_RNG && "$(driver_of "$bdf")" != vfio-pci ]]; then
		status=1
	fi
	if [[ "$name" != SHARED_RNG && ! -c $node ]]; then
		status=1
	fi
done

# busybox (Debian's busybox-static, as in our guest initramfs).
bb=/bin/busybox
echo "busybox: $($bb 2>&1 | head -n 1)"
help=$($bb dd --help 2>&1 || true)
echo "busybox-dd-help: $(echo "$help" | grep -oE '\[[io]flag=[^]]*\]' | head -n 2 | tr '\n' ' ')"
# O_DIRECT fails on tmpfs; the checkout is a 9p mount in the rig (no cache).
f="$BUILD/tests/vfio/probe-direct.bin"
mkdir -p "$(dirname "$f")"
rm -f "$f"
fs=$(awk -v p="$PWD" '$2 == p { t = $3 } END { print t }' /proc/mounts)
if out=$($bb dd if=/dev/zero of="$f" bs=4096 count=4 oflag=direct 2>&1); then
	echo "busybox-dd-oflag-direct: works on ${fs:-?} ($(stat -c %s "$f") bytes)"
else
	echo "busybox-dd-oflag-direct: FAILED on ${fs:-?}: $(echo "$out" | tr '\n' ' ')"
fi
if out=$($bb dd if="$f" of=/dev/null bs=4096 iflag=direct 2>&1); then
	echo "busybox-dd-iflag-direct: works ($(echo "$out" | tail -n 1))"
else
	echo "busybox-dd-iflag-direct: FAILED: $(echo "$out" | tr '\n' ' ')"
fi
rm -f "$f"
if $bb --list | grep -qx devmem; then
	echo "busybox-devmem: yes"
else
	echo "busybox-devmem: no"
fi
exit "$status"
