#!/bin/sh
# in-rig.sh TINY_IMAGE LINUX_IMAGE: runs inside the aarch64 rig (busybox sh, real /dev/kvm): the arm64
# microvm against the tiny arm64 guest's modes and Debian's arm64 kernel; prints ok / not ok lines.
cd "$(dirname "$0")/../.." || exit 1
VMM=build-aarch64/microvm
TINY=$1
LINUX=$2
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

expect a64-hello 0 'TINY: hello from the guest' $(tiny hello)
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
echo "# in-rig done"
rm -rf "$T"
