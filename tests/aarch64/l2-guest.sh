#!/bin/sh
# l2-guest.sh: the aarch64 L2 guest's checks (as /bin/a64check, run by our /init): CPUs, memory, the PCIe tree and ACS, MSI-X through the ITS, virtio-blk, vsock, rng.
# Usage (microvm.cmd="a64check CPUS MEM_MIB PORTS ACS_MASK DISK_SECTORS VSOCK_BYTES VSOCK_CONNS"):
# prints one "A64 <what> ..." line per check for tests/aarch64/in-rig.sh, which asserts them;
# the CPU and memory rule is our /init's check mode's (online CPUs, MemTotal 75-100%), the
# PCIe one pcicheck's (plus the packing: root port i at 00:i/8.i%8, multi-function bit on
# function 0 of a device with more than one). Exit status: 0 if every check here passed.
cpus=$1 mem_mib=$2 ports=$3 acs=$4 sectors=$5 vbytes=$6 vconns=$7
fail=""

# Little-endian 32-bit word / byte at offset $2 of config file $1, as a number.
word() {
	set -- $(od -An -tu4 -j "$2" -N4 "$1")
	echo "${1:-0}"
}
byte() {
	set -- $(od -An -tu1 -j "$2" -N1 "$1")
	echo "${1:-0}"
}

# CPUs and memory, as microvm.init=check counts them.
online=$(cat /sys/devices/system/cpu/online)
n=$(grep -c '^processor' /proc/cpuinfo)
kib=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)
lo=$((mem_mib * 1024 * 75 / 100)) hi=$((mem_mib * 1024))
if [ "$online" = "0-$((cpus - 1))" ] && [ "$n" = "$cpus" ] && [ "$kib" -ge "$lo" ] && [ "$kib" -le "$hi" ]; then
	echo "A64 cpus=$n online=$online memtotal_kib=$kib PASS"
else
	echo "A64 cpus=$n online=$online memtotal_kib=$kib FAIL (want $cpus CPUs, MemTotal in [$lo, $hi] KiB)"
	fail="$fail cpus-mem"
fi

# The PCIe tree: ports, ACS from config space (pcicheck), then the packing. pcicheck counts
# the functions of class 0xff0000: here virtio-rng and virtio-vsock.
pci=$(pcicheck "$ports" 2 "$acs")
echo "$pci" | sed 's/^/A64 /'
echo "$pci" | grep -q '^PCICHECK PASS' || fail="$fail pcicheck"
list="" mf=""
for d in /sys/bus/pci/devices/0000:00:*; do
	[ "$(cat "$d/class")" = 0x060400 ] || continue
	bdf=${d##*/0000:00:}
	list="$list $bdf"
	# Header type bit 7 on function 0: the device has more functions.
	case "$bdf" in *.0) [ $(($(byte "$d/config" 14) & 0x80)) -ne 0 ] && mf="$mf ${bdf%.0}" ;; esac
done
want="" i=0
while [ "$i" -lt "$ports" ]; do
	want="$want $(printf '%02x.%x' $((i / 8)) $((i % 8)))"
	i=$((i + 1))
done
want_mf="" i=0
while [ $((i * 8)) -lt "$ports" ]; do
	[ $((ports - i * 8)) -gt 1 ] && want_mf="$want_mf $(printf '%02x' "$i")"
	i=$((i + 1))
done
echo "A64 pci root-ports:$list multi-function:$mf"
[ "$list" = "$want" ] || fail="$fail ports($list != $want)"
[ "$mf" = "$want_mf" ] || fail="$fail multi-function($mf != $want_mf)"

# The virtio functions, each behind a root port of its own.
virtio=""
for d in /sys/bus/pci/devices/*; do
	[ "$(cat "$d/vendor")" = 0x1af4 ] || continue
	virtio="$virtio ${d##*/}=$(cat "$d/device")"
done
echo "A64 virtio:$virtio"

# rng: virtio_rng is the current hwrng and gives bytes.
got=$(dd if=/dev/hwrng bs=4096 count=16 2>/dev/null | wc -c)
echo "A64 rng current=$(cat /sys/class/misc/hw_random/rng_current) read=$got"

# virtio-blk: read what the host wrote, write what the host checks, flush.
d=/sys/block/vda
echo "A64 blk size=$(cat $d/size) read-md5=$(dd if=/dev/vda bs=1M count=2 iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)"
seq 1 100000 | dd of=/dev/vda bs=4096 seek=1024 conv=fsync 2>/dev/null || fail="$fail blk-write"
printf a64-blk-last | dd of=/dev/vda bs=512 seek=$((sectors - 1)) conv=fsync 2>/dev/null || fail="$fail blk-write-last"
sync
set -- $(cat $d/stat)
echo "A64 blk flushes=${16:-0}"

# vsock: the host's port 5000 echoes, ours (6000) echoes the host's; a host port nobody
# serves (5999) refuses.
sock-helper echo vsock:any:6000 "$vconns" &
e=$!
if sock-helper refused vsock:2:5999 && sock-helper send vsock:2:5000 "$vbytes" "$vconns" 30; then
	:
else
	fail="$fail vsock-send"
fi
wait "$e" || fail="$fail vsock-echo"

# MSI-X through the ITS: every virtio function has MSI-X vectors, and their interrupts
# (ITS-MSI in /proc/interrupts) fired. Only the per-CPU columns are counted (the ITS's
# hwirq number is a number too).
for d in /sys/bus/pci/devices/*; do
	[ "$(cat "$d/vendor")" = 0x1af4 ] || continue
	n=$(for f in "$d"/msi_irqs/*; do
		if [ -d "$f" ]; then cat "$f/mode"; else cat "$f"; fi
	done 2>/dev/null | grep -c msix)
	echo "A64 msix ${d##*/} vectors=$n"
	[ "$n" -gt 0 ] || fail="$fail no-msix(${d##*/})"
done
set -- $(awk 'NR == 1 { n = NF; next }
	/ITS-MSI/ && /virtio/ { v++; for (i = 2; i <= n + 1; i++) s += $i }
	END { print v + 0, s + 0 }' /proc/interrupts)
echo "A64 its-msi virtio-irqs=$1 fired=$2"
[ "$1" -gt 0 ] && [ "$2" -gt 0 ] || fail="$fail no-its-msi"
grep -E 'ITS-MSI.*virtio' /proc/interrupts | sed 's/^ */A64 irq /'

if [ -z "$fail" ]; then
	echo "A64 PASS"
else
	echo "A64 FAIL:$fail"
	exit 1
fi
