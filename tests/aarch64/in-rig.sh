#!/bin/sh
# in-rig.sh TINY_IMAGE LINUX_IMAGE L2_INITRD SOCK_HELPER: runs inside the aarch64 rig (busybox sh, real
# /dev/kvm): the arm64 microvm against the tiny arm64 guest's modes and Debian's arm64 kernel, with
# no initrd and with our initramfs (L2_INITRD: /bin/a64check and /bin/sock-helper appended);
# prints ok / not ok lines and "# timing:" lines. A 5th argument "vfio" runs only the VFIO cases at the
# end (run.sh's second rig, with QEMU's SMMUv3 and edu endpoints); without it they run only if the rig
# has both.
cd "$(dirname "$0")/../.." || exit 1
VMM=build-aarch64/microvm
TINY=$1
LINUX=$2
L2_INITRD=$3
SOCKH=$4
T=$(mktemp -d)

ok() { echo "ok - $1"; }
nok() { echo "not ok - $1: $2"; }

# expect NAME STATUS PATTERN ARGS...: microvm run ARGS ends with STATUS and prints PATTERN (ERE).
expect() {
	name=$1 want=$2 pat=$3
	shift 3
	timeout 120 "$VMM" run "$@" >"$T/$name.out" 2>&1 </dev/null
	rc=$?
	if [ "$rc" != "$want" ]; then
		nok "$name" "status $rc, want $want: $(tail -c 400 "$T/$name.out" | tr '\n' ' ')"
	elif ! grep -qE -- "$pat" "$T/$name.out"; then
		nok "$name" "no /$pat/ in: $(tail -c 400 "$T/$name.out" | tr '\n' ' ')"
	else
		ok "$name"
	fi
}
tiny() { echo --kernel "$TINY" --cmdline "tiny.mode=$1"; }

if [ "${5:-}" != vfio ]; then # all but the VFIO cases (not indented: the fi is above "VFIO through")

expect a64-hello 0 'TINY: hello from the guest' $(tiny hello)
# The console on a real terminal (a pty): raw mode, the guest echoes keys through the PL011,
# Ctrl-A Ctrl-A sends one Ctrl-A, Ctrl-A x stops the VM (status 6), the mode comes back.
if out=$(timeout 120 build-aarch64/tests/aarch64/tty-escape "$VMM" "$TINY" 2>&1); then
	ok a64-tty-escape
else
	nok a64-tty-escape "$out"
fi
# The blob the guest booted with, for run.sh to decompile on the host (no dtc in the rig).
rm -f build-aarch64/tests/aarch64/dump.dtb
mkdir -p build-aarch64/tests/aarch64
expect a64-dump-fdt 0 'TINY: hello from the guest' $(tiny hello) --cpus 2 \
	--dump-fdt build-aarch64/tests/aarch64/dump.dtb
expect a64-reboot 3 'reboot: guest requested a reset' $(tiny reboot)
expect a64-psci-version 0 'TINY: psci version 1\.' $(tiny psci-version)
expect a64-smp-4 0 'TINY: smp cpus 4 up 4' $(tiny smp) --cpus 4
# 9 root ports packed 8 to a device with ACS, two synthetic endpoints with a 32-bit and a
# 64-bit prefetchable BAR: the guest walks ECAM and checks windows against the FDT's ranges.
expect a64-pci 0 'TINY: pci ok' $(tiny pci) --pcie-root-ports 9 \
	--pci-testdev bar0=16M:32 --pci-testdev bar0=1G:64pref
if grep -q 'TINY: pci ports 9 mf-devices 1 acs-ports 9 acs-mask 0x5f devices 2 bars 2' "$T/a64-pci.out"; then
	ok a64-pci-packing-acs
else
	nok a64-pci-packing-acs "$(grep 'TINY: pci ports' "$T/a64-pci.out")"
fi
# A spinning vCPU stops on SIGTERM within the bound.
"$VMM" run $(tiny spin) --cpus 2 >"$T/spin.out" 2>&1 </dev/null &
pid=$!
sleep 3
kill -TERM "$pid"
n=0
while kill -0 "$pid" 2>/dev/null && [ "$n" -lt 30 ]; do sleep 0.1; n=$((n + 1)); done
if kill -0 "$pid" 2>/dev/null; then
	kill -9 "$pid"
	nok a64-stop-spinning "still running 3 s after SIGTERM"
else
	wait "$pid"
	rc=$?
	[ "$rc" = 143 ] && ok a64-stop-spinning || nok a64-stop-spinning "status $rc, want 143"
fi
expect a64-bad-kernel 2 'not an arm64 Image|is an x86' --kernel "$T/spin.out"

# Debian's arm64 kernel, no initrd: it finds 2 CPUs, the GIC's ITS, the PL011 console and
# the PCIe tree (3 packed root ports, virtio-rng behind the first), then panics on the
# missing root and panic=-1 reboots: status 3, with no reboot= on the command line.
expect a64-linux-boot 3 'Kernel panic - not syncing: VFS: Unable to mount root fs' \
	--kernel "$LINUX" --cmdline "console=ttyAMA0 panic=-1" --cpus 2 --memory 512M \
	--rng --pcie-root-ports 3
for check in 'smp: Brought up 1 node, 2 CPUs' 'ITS@0x0000000008080000' \
	'ttyAMA0 at MMIO 0x9000000' 'pci-host-generic 30000000.pcie: ECAM at' \
	'pci 0000:00:00.2: \[1b36:000c\] type 01' 'pci 0000:01:00.0: \[1af4:1044\]'; do
	if grep -q -- "$check" "$T/a64-linux-boot.out"; then
		ok "a64-linux: $check"
	else
		nok "a64-linux: $check" "not in the guest's log"
	fi
done

# ---- L2: Debian's arm64 kernel with our initramfs ----
# A guest command line as in the wild: panic=1, no reboot=.
L2_TIMEOUT=240
STOP_BOUND=15 # seconds from the guest's last word to microvm's exit
L2_SECTORS=16384 # the disk: 8 MiB

# now: cs = the rig's uptime in centiseconds (no fork: the rig has one slow CPU).
now() {
	read -r up _ </proc/uptime
	cs=${up%.*}${up#*.}
}
# secs CS: centiseconds as seconds, or n/a.
secs() {
	case "$1" in
	n/a) echo n/a ;;
	*) printf '%d.%02d' $(($1 / 100)) $(($1 % 100)) ;;
	esac
}

# linux NAME STOP_ERE ARGS...: microvm run --kernel LINUX --initrd L2_INITRD ARGS in the
# background, bounded by L2_TIMEOUT s; its output goes to $T/NAME.out. Polls it every 0.5 s
# for the kernel's banner, our /init and STOP_ERE (the guest's last word). Sets rc and, in
# centiseconds since launch (or n/a), t_banner, t_init, t_stop, t_exit.
linux() {
	name=$1 stop=$2
	shift 2
	out="$T/$name.out"
	now
	t0=$cs
	timeout "$L2_TIMEOUT" "$VMM" run --kernel "$LINUX" --initrd "$L2_INITRD" "$@" >"$out" 2>&1 </dev/null &
	pid=$!
	t_banner=n/a t_init=n/a t_stop=n/a
	while kill -0 "$pid" 2>/dev/null; do
		now
		[ "$t_banner" = n/a ] && grep -q 'Linux version' "$out" && t_banner=$((cs - t0))
		[ "$t_init" = n/a ] && grep -q 'microvm-init: started' "$out" && t_init=$((cs - t0))
		[ "$t_stop" = n/a ] && grep -qE -- "$stop" "$out" && t_stop=$((cs - t0))
		sleep 0.5
	done
	wait "$pid"
	rc=$?
	now
	t_exit=$((cs - t0))
	# The guest's tty ends its lines with \r\n.
	tr -d '\r' <"$out" >"$out.n" && mv -f "$out.n" "$out"
	# A last look: the stop may have come between the last poll and the exit.
	[ "$t_stop" = n/a ] && grep -qE -- "$stop" "$out" && t_stop=$t_exit
	echo "# timing: $name: ->Linux banner $(secs "$t_banner")s, ->/init $(secs "$t_init")s," \
		"->'$stop' $(secs "$t_stop")s, ->exit $(secs "$t_exit")s (status $rc)"
}
# l2_tail: the end of the boot's output, for a failure message.
l2_tail() {
	tail -c 600 "$out" | tr '\n' ' '
}
# l2_line ERE: the first output line matching ERE, or "none".
l2_line() {
	l=$(grep -m1 -E -- "$1" "$out" | cut -c1-300)
	echo "${l:-none}"
}
# l2_status NAME WANT: ok if rc is WANT and the exit came within STOP_BOUND s of the stop.
l2_status() {
	if [ "$rc" != "$2" ]; then
		nok "$1" "status $rc, want $2 (124: timed out after ${L2_TIMEOUT}s): $(l2_tail)"
	elif [ "$t_stop" = n/a ]; then
		nok "$1" "status $rc, but the guest never said /$stop/: $(l2_tail)"
	elif [ $((t_exit - t_stop)) -gt $((STOP_BOUND * 100)) ]; then
		nok "$1" "microvm exited $(secs "$t_exit")s after launch, more than ${STOP_BOUND}s after /$stop/ (at $(secs "$t_stop")s)"
	else
		ok "$1"
	fi
}

# One boot checks the machine and its devices: 2 vCPUs, 512 MiB, 9 packed root ports (8
# functions of device 0, one of device 1) with ACS, a virtio-blk disk (a file on the
# checkout's 9p share; the guest reads the host's pattern and writes its own), vsock
# (echoes both ways through the Unix socket back-end) and rng, all on MSI-X through the ITS.
# The guest's own checks: tests/aarch64/l2-guest.sh.
l2_devices() {
	n=a64-l2 img=build-aarch64/tests/aarch64/l2-disk.img uds=$T/v.sock vbytes=262144 vconns=2
	mkdir -p "${img%/*}"
	rm -f "$img"
	{ printf 'A64-DISK-PATTERN\n'; seq 1 400000; } | head -c 2097152 >"$img"
	truncate -s $((L2_SECTORS * 512)) "$img"
	md5=$(head -c 2097152 "$img" | md5sum | cut -d' ' -f1)
	SOCKH_TIMEOUT=$L2_TIMEOUT "$SOCKH" echo "unix:${uds}_5000" "$vconns" >"$T/host-echo.out" 2>&1 &
	epid=$!
	# Once the guest listens on 6000 (connects are retried meanwhile).
	SOCKH_TIMEOUT=$L2_TIMEOUT "$SOCKH" send "fc:$uds:6000" "$vbytes" "$vconns" 200 >"$T/host-send.out" 2>&1 &
	spid=$!
	linux "$n" 'MICROVM-CMD status=' --cmdline \
		"console=ttyAMA0 panic=1 microvm.init=cmd microvm.cmd=\"a64check 2 512 9 0x5f $L2_SECTORS $vbytes $vconns\"" \
		--cpus 2 --memory 512M --pcie-root-ports 9 --disk "$img" --vsock "cid=3,uds=$uds" --rng \
		--log-level info
	kvm_run=$(sed -n 's/.*first KVM_RUN \([0-9.]*\) ms after.*/\1/p' "$out" | head -n1)
	marker=$(sed -n 's/.*guest boot marker 123 (mmio) at \([0-9.]*\) ms.*/\1/p' "$out" | head -n1)
	echo "# timing: $n: VMM: first KVM_RUN ${kvm_run:-n/a} ms after create, /init's marker at ${marker:-n/a} ms"
	# The helpers end with the VM (their peer is gone) or their own bound.
	i=0
	while { kill -0 "$epid" || kill -0 "$spid"; } 2>/dev/null && [ "$i" -lt 30 ]; do
		sleep 0.5
		i=$((i + 1))
	done
	kill "$epid" "$spid" 2>/dev/null
	wait "$epid"
	est=$?
	wait "$spid"
	sst=$?

	if [ "$rc" != 0 ] || ! grep -q 'MICROVM-CMD status=' "$out"; then
		l2_status "$n-poweroff" 0
		for t in init-marker cpus-mem pcie-acs pcie-packing msix-its virtio-blk vsock rng guest-checks; do
			nok "$n-$t" "the boot failed (see $n-poweroff)"
		done
		return
	fi
	l2_status "$n-poweroff" 0
	# Our /init's boot marker, on the FDT's boot-timer (MMIO: arm64 has no port 0x80).
	if [ -n "$marker" ]; then
		ok "$n-init-marker"
	else
		nok "$n-init-marker" "the VMM logged no boot marker 123 from the boot-timer: $(l2_line 'boot marker')"
	fi
	if grep -q 'A64 cpus=2 online=0-1 memtotal_kib=[0-9]* PASS' "$out"; then
		ok "$n-cpus-mem"
	else
		nok "$n-cpus-mem" "$(l2_line 'A64 cpus=')"
	fi
	if grep -q 'A64 PCICHECK PASS' "$out" && grep -q 'A64 PCICHECK ports=9 devices=2 acs-ok=9/9 bad-log-lines=0' "$out"; then
		ok "$n-pcie-acs"
	else
		nok "$n-pcie-acs" "$(l2_line 'A64 PCICHECK ports') $(l2_line 'A64 PCICHECK (PASS|FAIL)')"
	fi
	if grep -q 'A64 pci root-ports: 00.0 00.1 00.2 00.3 00.4 00.5 00.6 00.7 01.0 multi-function: 00$' "$out"; then
		ok "$n-pcie-packing"
	else
		nok "$n-pcie-packing" "$(l2_line 'A64 pci root-ports') (want 00.0-00.7 and 01.0, multi-function: 00)"
	fi
	# blk (1042), rng (1044) and vsock (1053), each alone on the bus behind a port.
	v=$(l2_line 'A64 virtio:')
	nmsix=$(grep -c 'A64 msix .* vectors=[1-9]' "$out")
	if ! echo "$v" | grep -qE '0000:0[1-9]:00.0=0x1042' || ! echo "$v" | grep -qE '0000:0[1-9]:00.0=0x1044' ||
		! echo "$v" | grep -qE '0000:0[1-9]:00.0=0x1053'; then
		nok "$n-msix-its" "the guest did not find the three virtio functions behind root ports: $v"
	elif [ "$nmsix" != 3 ]; then
		nok "$n-msix-its" "$nmsix of 3 virtio functions have MSI-X vectors: $(grep 'A64 msix' "$out" | tr '\n' ' ')"
	elif ! grep -q 'A64 its-msi virtio-irqs=[1-9][0-9]* fired=[1-9]' "$out"; then
		nok "$n-msix-its" "$(l2_line 'A64 its-msi')"
	else
		ok "$n-msix-its"
	fi
	blk_read=$(l2_line 'A64 blk size=')
	got_seq=$(tail -c +$((1024 * 4096 + 1)) "$img" | head -c "$(seq 1 100000 | wc -c)" | md5sum | cut -d' ' -f1)
	want_seq=$(seq 1 100000 | md5sum | cut -d' ' -f1)
	got_last=$(tail -c +$(((L2_SECTORS - 1) * 512 + 1)) "$img" | head -c 12)
	if [ "$blk_read" != "A64 blk size=$L2_SECTORS read-md5=$md5" ]; then
		nok "$n-virtio-blk" "the guest read: $blk_read (want size=$L2_SECTORS read-md5=$md5)"
	elif [ "$got_seq" != "$want_seq" ]; then
		nok "$n-virtio-blk" "the 572 KiB the guest wrote at 4 MiB differ in the image"
	elif [ "$got_last" != a64-blk-last ]; then
		nok "$n-virtio-blk" "the last sector holds '$got_last', not what the guest wrote"
	elif grep -q 'A64 blk flushes=0' "$out" || ! grep -q 'A64 blk flushes=[0-9]' "$out"; then
		nok "$n-virtio-blk" "no FLUSH completed: $(l2_line 'A64 blk flushes')"
	else
		ok "$n-virtio-blk"
	fi
	if ! grep -q 'SOCKH refused: Connection reset by peer' "$out"; then
		nok "$n-vsock" "the guest's connect to a host port nobody serves: $(l2_line 'SOCKH refused')"
	elif ! grep -q "SOCKH send: $vconns connections of $vbytes bytes, 0 failed" "$out"; then
		nok "$n-vsock" "guest -> host echo: $(grep SOCKH "$out" | grep -v listening | tail -n 2 | tr '\n' ' ')"
	elif ! grep -q "SOCKH echo: $vconns connections, 0 failed" "$out"; then
		nok "$n-vsock" "host -> guest echo, the guest's side: $(grep SOCKH "$out" | tail -n 2 | tr '\n' ' ')"
	elif [ "$sst" != 0 ] || ! grep -q "SOCKH send: $vconns connections of $vbytes bytes, 0 failed" "$T/host-send.out"; then
		nok "$n-vsock" "host -> guest echo (status $sst): $(tail -c 300 "$T/host-send.out" | tr '\n' ' ')"
	elif [ "$est" != 0 ]; then
		nok "$n-vsock" "the host's echo server (status $est): $(tail -c 300 "$T/host-echo.out" | tr '\n' ' ')"
	elif [ -e "$uds" ]; then
		nok "$n-vsock" "$uds is still there after the VM stopped"
	else
		ok "$n-vsock"
	fi
	if grep -q 'A64 rng current=virtio_rng.0 read=65536' "$out"; then
		ok "$n-rng"
	else
		nok "$n-rng" "$(l2_line 'A64 rng')"
	fi
	if ! grep -q 'A64 PASS' "$out"; then
		nok "$n-guest-checks" "$(l2_line 'A64 (PASS|FAIL)')"
	elif ! grep -q 'MICROVM-CMD status=0' "$out"; then
		nok "$n-guest-checks" "$(l2_line 'MICROVM-CMD')"
	else
		ok "$n-guest-checks"
	fi
	rm -f "$img"
}

if [ -z "$L2_INITRD" ] || [ ! -f "$L2_INITRD" ] || [ ! -x "$SOCKH" ]; then
	nok a64-l2 "no L2 initramfs ('$L2_INITRD') or sock-helper ('$SOCKH'): tests/aarch64/run.sh builds them"
else
	l2_devices
	# busybox reboot -f: PSCI SYSTEM_RESET, status 3.
	linux a64-l2-reboot 'reboot: Restarting system' --cmdline \
		'console=ttyAMA0 panic=1 quiet microvm.init=cmd microvm.cmd="reboot -f"' --cpus 2 --memory 512M
	l2_status a64-l2-reboot 3
	# A crash with panic=1 and no pvpanic (Debian's arm64 kernel has none): the kernel
	# restarts after 1 s, status 3.
	linux a64-l2-panic 'Kernel panic - not syncing: sysrq triggered crash' --cmdline \
		'console=ttyAMA0 panic=1 quiet microvm.init=cmd microvm.cmd="echo c >/proc/sysrq-trigger"' \
		--cpus 2 --memory 512M
	l2_status a64-l2-panic 3
	# The console on virtio-console (hvc0), as x86's L2 does it: the driver is a module,
	# so the guest writes to /dev/hvc0 itself, and a kernel message must come out there
	# too once hvc0 is the kernel's console.
	linux a64-l2-hvc0 'A64-HVC-KMSG' --cmdline \
		'console=hvc0 panic=1 quiet microvm.modules=virtio_pci,virtio_console microvm.init=cmd microvm.cmd="exec 3<>/dev/hvc0; echo A64-active-console=$(cat /sys/class/tty/console/active) >&3; echo \<2\>A64-HVC-KMSG >/dev/kmsg; sleep 1"' \
		--cpus 1 --memory 256M --virtio-console
	l2_status a64-l2-hvc0 0
	if grep -q 'A64-active-console=hvc0' "$out"; then
		ok a64-l2-hvc0-output
	else
		nok a64-l2-hvc0-output "no hvc0 console in: $(l2_tail)"
	fi
fi
fi # all but the VFIO cases

# ---- VFIO through QEMU's SMMUv3 (only in a rig with RIG_MACHINE=...,iommu=smmuv3 and edu endpoints) ----
# Measured with QEMU 7.2 and Debian's 6.1 arm64 kernel: the legacy container works through the
# SMMUv3 (group attach, type1v2, guest RAM mapped for DMA with IOVA = GPA) and the tiny guest
# finds each edu behind its own root port. What the cases pin down:
# - on this DT host an endpoint has no IOMMU group until a driver binds it (the kernel adds it
#   at probe time, of_dma_configure), so the preflight of an unbound edu says to bind it;
# - the group's only reserved region is the SMMUv3's software MSI window, 0x8000000-0x80fffff msi;
# - the kernel leaves ACS off in QEMU's pcie-root-port (ACS Control 0: 6.1 requests ACS only at
#   the first of_iommu_configure, after the ports were enumerated), so an edu behind a root port
#   shares its group with the port (pcieport, which VFIO accepts); an edu on the root bus is alone.
a64_vfio_edus() {
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat "$d/vendor")" = 0x1234 ] && [ "$(cat "$d/device")" = 0x11e8 ] && echo "${d##*/}"
	done
}
# a64_bind BDF NAME: bind BDF to vfio-pci; sets g (its IOMMU group) and rr (the group's
# reserved regions); ok/not ok NAME-bind; fails if it did not bind.
a64_bind() {
	d=/sys/bus/pci/devices/$1
	echo vfio-pci >"$d/driver_override"
	[ -e "$d/driver" ] && echo "$1" >"$d/driver/unbind"
	echo "$1" >/sys/bus/pci/drivers_probe
	drv=$(readlink "$d/driver")
	g=$(readlink "$d/iommu_group")
	g=${g##*/}
	i=0
	while [ -n "$g" ] && [ ! -c "/dev/vfio/$g" ] && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	rr=$(tr '\n' ';' 2>/dev/null <"/sys/kernel/iommu_groups/$g/reserved_regions")
	if [ "${drv##*/}" != vfio-pci ] || [ -z "$g" ] || [ ! -c "/dev/vfio/$g" ]; then
		nok "$2-bind" "driver '${drv##*/}', group '$g': $(dmesg | grep -i vfio | tail -n 2 | tr '\n' ' ')"
		return 1
	fi
	ok "$2-bind"
}
# Linux's own nvme driver in the arm64 guest on QEMU's nvme endpoint behind the SMMUv3: it
# reads what the host wrote (MICROVM_TEST_NVME_SHA: sha256 of the first MiB) and writes a
# pattern at 1 MiB that run.sh finds in the backing file after the rig exits; its MSI-X
# vectors go through the ITS.
a64_vfio_nvme() {
	for nv in /sys/bus/pci/devices/*; do
		[ "$(cat "$nv/vendor")" = 0x1b36 ] && [ "$(cat "$nv/device")" = 0x0010 ] && break
		nv=""
	done
	if [ -z "$nv" ] || [ -z "${MICROVM_TEST_NVME_SHA:-}" ]; then
		nok a64-vfio-nvme "no nvme endpoint (1b36:0010) in the rig or no MICROVM_TEST_NVME_SHA"
		return
	fi
	a64_bind "${nv##*/}" a64-vfio-nvme || return
	if [ -z "$L2_INITRD" ] || [ ! -f "$L2_INITRD" ]; then
		nok a64-vfio-nvme "no L2 initramfs ('$L2_INITRD'): tests/aarch64/run.sh builds it"
		return
	fi
	timeout 300 "$VMM" run --kernel "$LINUX" --initrd "$L2_INITRD" --cpus 1 --memory 512M \
		--cmdline "console=ttyAMA0 panic=-1 quiet microvm.init=cmd microvm.modules=nvme microvm.cmd=\"vfiocheck nvme $MICROVM_TEST_NVME_SHA\"" \
		--vfio "${nv##*/},id=nvme" --log-level info >"$T/a64-vfio-nvme.out" 2>&1 </dev/null
	rc=$?
	tr -d '\r' <"$T/a64-vfio-nvme.out" | grep -E '^VFIOCHECK|mapped for DMA' | sed 's/^/# a64-vfio-nvme: /'
	if [ "$rc" != 0 ]; then
		nok a64-vfio-nvme "status $rc, want 0: $(tail -c 400 "$T/a64-vfio-nvme.out" | tr '\n' ' ')"
	elif ! grep -q '^VFIOCHECK PASS' "$T/a64-vfio-nvme.out"; then
		nok a64-vfio-nvme "$(grep -m1 'VFIOCHECK FAIL' "$T/a64-vfio-nvme.out" || tail -c 400 "$T/a64-vfio-nvme.out" | tr '\n' ' ')"
	else
		ok a64-vfio-nvme
	fi
}
a64_vfio() {
	edu=$1 d=/sys/bus/pci/devices/$1 n=a64-vfio-$1
	"$VMM" vfio-check "$edu" >"$T/$n-pre.out" 2>&1
	rc=$?
	# Before binding: no group yet, and the preflight says to bind it, not that the
	# host lacks an IOMMU.
	if [ -e "$d/iommu_group" ]; then
		nok "$n-unbound-no-group" "$edu already has an IOMMU group before any driver bound it"
	elif [ "$rc" = 0 ] || ! grep -q "has no driver and no IOMMU group yet" "$T/$n-pre.out" ||
		grep -q 'intel_iommu' "$T/$n-pre.out"; then
		nok "$n-unbound-no-group" "status $rc: $(tr '\n' ' ' <"$T/$n-pre.out" | tail -c 300)"
	else
		ok "$n-unbound-no-group"
	fi
	a64_bind "$edu" "$n" || return
	if [ "$rr" = '0x0000000008000000 0x00000000080fffff msi;' ]; then
		ok "$n-reserved-msi-window"
	else
		nok "$n-reserved-msi-window" "group $g: '$rr' (want only the SMMUv3 MSI window 0x8000000-0x80fffff msi)"
	fi
	"$VMM" vfio-check "$edu" >"$T/$n-check.out" 2>&1
	rc=$?
	if [ "$rc" != 0 ] || ! grep -q 'ready for passthrough' "$T/$n-check.out" ||
		! grep -q 'reserved regions: 0x8000000-0x80fffff msi' "$T/$n-check.out"; then
		nok "$n-check" "status $rc: $(tr '\n' ' ' <"$T/$n-check.out" | tail -c 400)"
	else
		ok "$n-check"
	fi
	# Behind a root port the group holds the port too (ACS off); on the root bus it is alone.
	case "$edu" in
	0000:00:*) want="IOMMU group $g (DMA): $edu (vfio-pci)" ;;
	*) want="IOMMU group $g (DMA): [0-9a-f:.]* (pcieport), $edu (vfio-pci)" ;;
	esac
	if grep -q "$want\$" "$T/$n-check.out"; then
		ok "$n-group-members"
	else
		nok "$n-group-members" "want /$want/: $(grep 'IOMMU group' "$T/$n-check.out")"
	fi
	expect "$n-run" 0 'TINY: pci ok' $(tiny pci) --vfio "$edu" --log-level info
	if grep -q "TINY: pci 01:00.0 1234:11e8 class 0x00ff00" "$T/$n-run.out" &&
		grep -q "TINY: pci 01:00.0 bar0 0x78000000 size 0x100000 mem32" "$T/$n-run.out" &&
		grep -q "in IOMMU group $g, through the container back-end" "$T/$n-run.out"; then
		ok "$n-guest-sees-edu"
	else
		nok "$n-guest-sees-edu" "$(grep -E 'TINY: pci 01|vfio' "$T/$n-run.out" | tr '\n' ' ' | tail -c 400)"
	fi
	# DMA both ways through the SMMUv3: the tiny guest has the edu copy a pattern from its RAM
	# and back (IOVA = guest physical) and compares. Its MSI would go to the ITS, which the
	# tiny guest does not program: no interrupt case here.
	expect "$n-dma" 0 'TINY: edu PASS' $(tiny edu) --vfio "$edu"
	if grep -q 'TINY: edu dma 2048 bytes 0x[0-9a-f]* -> edu -> 0x[0-9a-f]*' "$T/$n-dma.out"; then
		ok "$n-dma-both-ways"
	else
		nok "$n-dma-both-ways" "$(grep 'TINY: edu' "$T/$n-dma.out" | tr '\n' ' ' | tail -c 400)"
	fi
	echo "# timing: $n: $(grep -o 'guest RAM ([0-9A-Za-z]*) mapped for DMA in [0-9.]* ms ([0-9.]* GB/s[^)]*)' "$T/$n-run.out")"
}
a64_smmu=""
for i in /sys/class/iommu/smmu3.*; do [ -e "$i" ] && a64_smmu=${i##*/}; done
if [ -n "$a64_smmu" ] && [ -n "$(a64_vfio_edus)" ]; then
	for e in $(a64_vfio_edus); do a64_vfio "$e"; done
	a64_vfio_nvme
	# Debian's arm64 kernel (code we did not write) enumerates the first one behind its root
	# port and assigns its BAR, then panics on the missing root fs (status 3, as a64-linux-boot).
	e=$(a64_vfio_edus | head -n 1)
	expect a64-vfio-linux-enumerates 3 'pci 0000:01:00\.0: \[1234:11e8\] type 00 class 0x00ff00' \
		--kernel "$LINUX" --cmdline "console=ttyAMA0 panic=-1" --cpus 1 --memory 512M --vfio "$e"
	if ! grep -q 'pci 0000:01:00.0: BAR 0 \[mem 0x78000000-0x780fffff\]' "$T/a64-vfio-linux-enumerates.out"; then
		nok a64-vfio-linux-bar0 "$(grep '01:00.0' "$T/a64-vfio-linux-enumerates.out" | tr '\n' ' ' | tail -c 300)"
	else
		ok a64-vfio-linux-bar0
	fi
else
	echo "# skip a64-vfio: this rig has no SMMUv3 or no edu (RIG_MACHINE=...,iommu=smmuv3, RIG_QEMU_ARGS=-device edu)"
fi
echo "# in-rig done"
rm -rf "$T"
