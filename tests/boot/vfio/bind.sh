#!/usr/bin/env bash
# bind.sh: inside the VFIO rig (tests/boot/vfio/rig.sh), binds its endpoints to vfio-pci and prints where they are as shell assignments.
#
# Usage (as root in the rig): eval "$(tests/boot/vfio/bind.sh)"
# Binds, with driver_override and drivers_probe (only these devices, not every match):
#   VFIO_NVME         the nvme (1b36:0010) on its own root port
#   VFIO_EDU          the edu (1234:11e8) alone in its IOMMU group
#   VFIO_IVSHMEM      ivshmem-plain (1af4:1110), the 1 GiB prefetchable BAR2
#   VFIO_SHARED_EDU   the edu behind the pcie-pci-bridge, whose group has other members
# and leaves on its driver (virtio-pci)
#   VFIO_SHARED_RNG   the virtio-rng in VFIO_SHARED_EDU's group
# Prints VAR=BDF lines, VFIO_GROUP_<NAME>=N lines (the IOMMU group of each), and an export
# line for them all; waits (bounded) until /dev/vfio/<group> exists for each bound device.
# Idempotent: a device already on vfio-pci is left as it is. Messages go to stderr; exits 1
# if an endpoint is missing or cannot be bound.
set -euo pipefail

me="bind.sh"
WAIT_S=10

die() {
	echo "$me: error: $*" >&2
	exit 1
}

sysfs_pci=/sys/bus/pci/devices
groups=(/sys/kernel/iommu_groups/*)
[[ -d "${groups[0]}" ]] ||
	die "no IOMMU groups: not the VFIO rig? (. tests/boot/vfio/rig.sh sets intel-iommu and intel_iommu=on)"
[[ -d /sys/bus/pci/drivers/vfio-pci ]] ||
	die "vfio-pci is not loaded (tests/rig/x86-rig-init.sh loads it before the chroot; see the rig console log)"

# BDFs of every device with vendor $1 and device $2.
find_ids() {
	local d
	for d in "$sysfs_pci"/*; do
		if [[ "$(<"$d/vendor")" == "$1" && "$(<"$d/device")" == "$2" ]]; then
			echo "${d##*/}"
		fi
	done
}

group_of() {
	local g
	g=$(readlink "$sysfs_pci/$1/iommu_group") || die "$1 has no IOMMU group"
	echo "${g##*/}"
}

members() {
	local m out=""
	for m in /sys/kernel/iommu_groups/"$1"/devices/*; do
		out+="${out:+ }${m##*/}"
	done
	echo "$out"
}

group_size() {
	local -a m=(/sys/kernel/iommu_groups/"$1"/devices/*)
	echo "${#m[@]}"
}

driver_of() {
	local drv
	drv=$(readlink "$sysfs_pci/$1/driver" 2>/dev/null) || return 0
	echo "${drv##*/}"
}

bind_vfio() {
	local bdf=$1 d="$sysfs_pci/$1" drv
	drv=$(driver_of "$bdf")
	[[ "$drv" == vfio-pci ]] && return 0
	echo vfio-pci >"$d/driver_override"
	if [[ -n "$drv" ]]; then
		echo "$bdf" >"$d/driver/unbind" || die "cannot unbind $bdf from $drv"
	fi
	echo "$bdf" >/sys/bus/pci/drivers_probe 2>/dev/null || true
	drv=$(driver_of "$bdf")
	[[ "$drv" == vfio-pci ]] ||
		die "$bdf did not bind to vfio-pci (driver now '${drv:-none}'): $(dmesg | grep -i vfio | tail -n 2 | tr '\n' ' ')"
}

wait_group_node() {
	local g=$1 i
	for ((i = 0; i < WAIT_S * 10; i++)); do
		[[ -c /dev/vfio/$g ]] && return 0
		sleep 0.1
	done
	die "/dev/vfio/$g did not appear within ${WAIT_S}s (group $g: $(members "$g"))"
}

one() {
	local ids
	ids=$(find_ids "$1" "$2")
	[[ -n "$ids" ]] || die "no $3 endpoint ($1:$2) in $sysfs_pci: is this the VFIO rig (tests/boot/vfio/rig.sh)?"
	echo "${ids%%$'\n'*}"
}

nvme=$(one 0x1b36 0x0010 nvme)
ivshmem=$(one 0x1af4 0x1110 ivshmem-plain)
edu="" shared_edu=""
for bdf in $(find_ids 0x1234 0x11e8); do
	if (($(group_size "$(group_of "$bdf")") > 1)); then
		[[ -n "$shared_edu" ]] || shared_edu=$bdf
	else
		[[ -n "$edu" ]] || edu=$bdf
	fi
done
[[ -n "$edu" ]] || die "no edu endpoint (0x1234:0x11e8) alone in its IOMMU group"
[[ -n "$shared_edu" ]] || die "no edu endpoint (0x1234:0x11e8) in a group with other devices (behind the pcie-pci-bridge)"
for v in nvme ivshmem; do
	g=$(group_of "${!v}")
	(($(group_size "$g") == 1)) ||
		die "$v ${!v} is not alone in IOMMU group $g: $(members "$g")"
done

# The virtio-rng (transitional 0x1005 behind a conventional bridge, or modern 0x1044) in
# the shared edu's group.
shared_group=$(group_of "$shared_edu")
shared_rng=""
for m in /sys/kernel/iommu_groups/"$shared_group"/devices/*; do
	if [[ "$(<"$m/vendor")" == 0x1af4 && "$(<"$m/device")" =~ ^0x(1005|1044)$ ]]; then
		shared_rng=${m##*/}
		break
	fi
done
[[ -n "$shared_rng" ]] || die "no virtio-rng (1af4:1005 or 1af4:1044) in group $shared_group with $shared_edu"
rng_drv=$(driver_of "$shared_rng")
[[ "$rng_drv" == virtio-pci ]] ||
	echo "$me: warning: $shared_rng is on driver '${rng_drv:-none}', not virtio-pci" >&2

names=(NVME EDU IVSHMEM SHARED_EDU SHARED_RNG)
bdfs=("$nvme" "$edu" "$ivshmem" "$shared_edu" "$shared_rng")
for i in 0 1 2 3; do
	bind_vfio "${bdfs[$i]}"
done
[[ -c /dev/vfio/vfio ]] || die "/dev/vfio/vfio is missing although vfio-pci is loaded"
for i in 0 1 2 3; do
	wait_group_node "$(group_of "${bdfs[$i]}")"
done

vars=()
for i in "${!names[@]}"; do
	echo "VFIO_${names[$i]}=${bdfs[$i]}"
	vars+=("VFIO_${names[$i]}")
done
for i in "${!names[@]}"; do
	echo "VFIO_GROUP_${names[$i]}=$(group_of "${bdfs[$i]}")"
	vars+=("VFIO_GROUP_${names[$i]}")
done
echo "export ${vars[*]}"
