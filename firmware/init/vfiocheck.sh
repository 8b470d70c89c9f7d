#!/bin/sh
# vfiocheck.sh: L2 guest checks of passed-through devices, with Linux's own drivers and tools as the clients.
# Usage (microvm.cmd="vfiocheck MODE ARGS"):
#   vfiocheck nvme SHA256 [intx]
#                              Linux's nvme driver: the first MiB of the namespace must hash to
#                              SHA256 (the host wrote it), then the first MiB of /bin/busybox is
#                              written at 1 MiB with O_DIRECT and read back; MSI-X counted (with
#                              intx, as under pci=nomsi: interrupts on the IO-APIC, no MSI-X)
#   vfiocheck ivshmem MAGIC    the 64-bit prefetchable BAR2: reads MAGIC (the host wrote it at
#                              offset 0), writes 0x600dcafe at offset 8 and at its last word
#   vfiocheck topology N       N passed-through devices, each alone behind a root port with ACS
# Prints "VFIOCHECK <what> ..." lines and "VFIOCHECK PASS" or "VFIOCHECK FAIL: <why>".
mode=$1
fail=""

# Little-endian 32-bit word at byte offset $2 of config file $1, as a number.
word() {
	set -- $(od -An -tu4 -j "$2" -N4 "$1")
	echo "${1:-0}"
}

# The BDF of the first device with vendor $1 and device $2, or nothing.
find_dev() {
	for d in /sys/bus/pci/devices/*; do
		if [ "$(cat "$d/vendor")" = "$1" ] && [ "$(cat "$d/device")" = "$2" ]; then
			echo "${d##*/}"
			return
		fi
	done
}

# ACS capability bits of the root port above device $1 (0 if none).
parent_acs() {
	p=$(readlink -f "/sys/bus/pci/devices/$1/..")
	off=256 n=0
	while [ "$off" -ne 0 ] && [ "$n" -lt 64 ]; do
		h=$(word "$p/config" "$off")
		[ "$h" -eq 0 ] && break
		if [ $((h & 0xffff)) -eq 13 ]; then
			echo $(($(word "$p/config" $((off + 4))) & 0xffff))
			return
		fi
		off=$((h >> 20))
		n=$((n + 1))
	done
	echo 0
}

# Start address of BAR $2 of device $1, from sysfs.
bar_start() {
	sed -n "$(($2 + 1))p" "/sys/bus/pci/devices/$1/resource" | cut -d' ' -f1
}

bar_size() {
	set -- $(sed -n "$(($2 + 1))p" "/sys/bus/pci/devices/$1/resource")
	echo $(($2 - $1 + 1))
}

check_behind_port() {
	rp=$(basename "$(readlink -f "/sys/bus/pci/devices/$1/..")")
	acs=$(parent_acs "$1")
	echo "VFIOCHECK $1 behind root port $rp $(cat /sys/bus/pci/devices/$rp/vendor):$(cat /sys/bus/pci/devices/$rp/device) acs=$(printf 0x%x "$acs")"
	[ "$(cat "/sys/bus/pci/devices/$rp/class")" = 0x060400 ] || fail="$fail $1:parent-not-a-bridge"
	[ "$acs" -eq $((0x5f)) ] || fail="$fail $1:acs=$(printf 0x%x "$acs")"
}

case "$mode" in
nvme)
	want=$2 irq_mode=${3:-msix}
	bdf=$(find_dev 0x1b36 0x0010)
	if [ -z "$bdf" ]; then
		fail="no nvme device (1b36:0010) in /sys/bus/pci/devices"
	else
		check_behind_port "$bdf"
		i=0
		while [ ! -b /dev/nvme0n1 ] && [ $i -lt 100 ]; do
			sleep 0.2
			i=$((i + 1))
		done
		if [ ! -b /dev/nvme0n1 ]; then
			fail="$fail no /dev/nvme0n1 after 20 s: $(dmesg | grep -i nvme | tail -2 | tr '\n' '|')"
		else
			got=$(dd if=/dev/nvme0n1 bs=65536 count=16 iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)
			echo "VFIOCHECK nvme read sha256 $got"
			[ "$got" = "$want" ] || fail="$fail read-sha256=$got!=$want"
			head -c 1048576 /bin/busybox >/tmp/pattern
			dd if=/tmp/pattern of=/dev/nvme0n1 bs=65536 seek=16 count=16 oflag=direct 2>/dev/null ||
				fail="$fail write-failed"
			dd if=/dev/nvme0n1 bs=65536 skip=16 count=16 iflag=direct of=/tmp/back 2>/dev/null
			cmp -s /tmp/pattern /tmp/back || fail="$fail read-back-differs"
			# Per-CPU counts are the numbers before the chip's name (arm64's ITS-MSI
			# lines go on with the hwirq number, which is no count).
			irqs=$(awk '/nvme/ { for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i } END { print s + 0 }' /proc/interrupts)
			# msi_irqs/<irq> says "msi" or "msix" (a file; in newer kernels a directory with "mode").
			msix=$(for f in /sys/bus/pci/devices/"$bdf"/msi_irqs/*; do
				if [ -d "$f" ]; then cat "$f/mode"; else cat "$f"; fi
			done 2>/dev/null | grep -c msix)
			echo "VFIOCHECK nvme interrupts $irqs on $msix MSI-X vectors"
			grep nvme /proc/interrupts | head -3 | sed 's/^/VFIOCHECK irq /'
			[ "$irqs" -gt 0 ] || fail="$fail no-nvme-interrupts"
			if [ "$irq_mode" = intx ]; then
				[ "$msix" -eq 0 ] || fail="$fail msix-under-intx"
				grep nvme /proc/interrupts | grep -q IO-APIC || fail="$fail not-on-the-ioapic"
			else
				[ "$msix" -gt 0 ] || fail="$fail no-msix-vectors"
			fi
		fi
	fi
	;;
ivshmem)
	magic=$2
	bdf=$(find_dev 0x1af4 0x1110)
	if [ -z "$bdf" ]; then
		fail="no ivshmem device (1af4:1110)"
	else
		check_behind_port "$bdf"
		base=$(bar_start "$bdf" 2)
		size=$(bar_size "$bdf" 2)
		echo "VFIOCHECK ivshmem bar2 $base size $size"
		got=$(devmem "$base" 32)
		echo "VFIOCHECK ivshmem read $got"
		[ "$((got))" = "$((magic))" ] || fail="$fail read=$got!=$magic"
		devmem $((base + 8)) 32 0x600dcafe
		devmem $((base + size - 4)) 32 0x600dcafe
		[ "$(($(devmem $((base + size - 4)) 32)))" = $((0x600dcafe)) ] || fail="$fail last-word-readback"
	fi
	;;
topology)
	n=0
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat "$d/class")" = 0x060400 ] && continue
		n=$((n + 1))
		check_behind_port "${d##*/}"
		echo "VFIOCHECK device ${d##*/} $(cat "$d/vendor"):$(cat "$d/device") bars: $(head -6 "$d/resource" | awk '$1 != "0x0000000000000000" { printf "%s-%s ", $1, $2 }')"
	done
	[ "$n" -eq "$2" ] || fail="$fail devices=$n!=$2"
	;;
*)
	fail="unknown mode '$mode'"
	;;
esac

bad=$(dmesg | grep -ciE "can't assign|no space|failed to assign|BAR .* invalid")
[ "$bad" -eq 0 ] || fail="$fail $(dmesg | grep -iE "can't assign|no space|failed to assign|invalid" | head -2 | tr '\n' '|')"
if [ -z "$fail" ]; then
	echo "VFIOCHECK PASS"
else
	echo "VFIOCHECK FAIL:$fail"
fi
[ -z "$fail" ]
