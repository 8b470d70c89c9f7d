#!/usr/bin/env bash
# run.sh: L1 tests: the VMM boots tiny bare-metal guests on this machine's own /dev/kvm.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/lib.sh

BUILD=${BUILD:-build}
VMM=$BUILD/microvm
TINY=$BUILD/firmware/tiny.bzImage
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# Without a /dev/kvm of our own, the x86 rig has one: run this layer there.
if [ ! -e /dev/kvm ] && [ -z "${RIG:-}" ] && command -v qemu-system-x86_64 >/dev/null; then
	echo "# L1: no /dev/kvm on this machine; running the layer inside the x86 rig (~60 s)"
	tests/rig/x86-rig.sh --timeout 900 -- env BUILD="$BUILD" EMBED_SAN="${EMBED_SAN:-}" SAN="${SAN:-}" \
		tests/kvm/run.sh
	exit $?
fi
if [ ! -e /dev/kvm ]; then
	t_skip "L1" "no /dev/kvm on this machine"
	t_summary L1
	exit 0
fi
if ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
	t_skip "L1" "/dev/kvm is not accessible to $(id -un)"
	t_summary L1
	exit 0
fi

# vm NAME [microvm run args...]: runs with a 30 s timeout; sets rc, out, err.
vm() {
	local name=$1
	shift
	timeout -k 5 30 "$VMM" run "$@" >"$T/$name.out" 2>"$T/$name.err" </dev/null
	rc=$?
	out=$(tr -d '\r' <"$T/$name.out")
	err=$(cat "$T/$name.err")
}

# expect NAME STATUS PATTERN [microvm args...]: exit status and output match.
expect() {
	local name=$1 status=$2 pattern=$3
	shift 3
	vm "$name" "$@"
	if [ "$rc" != "$status" ]; then
		t_fail "$name" "exit status $rc, want $status; stderr: $(head -c 400 <<<"$err")"
	elif ! grep -qE -- "$pattern" <<<"$out$err"; then
		t_fail "$name" "output lacks /$pattern/: $(head -c 400 <<<"$out$err")"
	else
		t_ok "$name"
	fi
}

tiny() { echo --kernel "$TINY" --cmdline "tiny.mode=$1"; }

# --- lifecycle: each way a guest can stop, and the CLI's exit status ---
expect hello 0 'TINY: hello from the guest' $(tiny hello)
expect reboot-i8042 3 'reboot: guest requested a reset \(i8042' $(tiny reboot)
expect reboot-reset-register 3 'reset register' $(tiny reset-reg)
expect panic-pvpanic 4 'panic: guest kernel panicked' $(tiny panic)
expect triple-fault 5 'triple fault' $(tiny triple)
expect halted-irqs-off 7 'halted every vCPU with interrupts disabled' $(tiny halt) --cpus 2
# An idle guest (sti; hlt, nothing programmed to wake it) is not dead.
"$VMM" run $(tiny idle) --cpus 2 >"$T/idle.out" 2>"$T/idle.err" </dev/null &
pid=$!
sleep 4
if kill -0 "$pid" 2>/dev/null; then
	kill -TERM "$pid"
	wait "$pid"
	t_ok idle-keeps-running
else
	wait "$pid"
	t_fail idle-keeps-running "ended by itself (status $?) within 4 s: $(cat "$T/idle.err")"
fi
expect smp-4-vcpus 0 'TINY: hello' $(tiny hello) --cpus 4

# A KVM internal error is reported with RIP and instruction bytes; on an
# emulating host (kvm_pvm) int3 in kernel mode is one.
if [ -e /sys/module/kvm_pvm ]; then
	expect internal-error-report 1 'KVM internal error on vcpu0: .*RIP 0x[0-9a-f]+.*instruction bytes: cc' $(tiny int3)
	grep -q 'kvm_pvm' <<<"$err" && t_ok internal-error-explains-pvm ||
		t_fail internal-error-explains-pvm "no sentence about kvm_pvm: $err"
else
	t_skip internal-error-report "this host's KVM executes int3 natively (no kvm_pvm)"
fi

# --- PVH: the same guest as an ELF vmlinux entered in 32-bit mode ---
PVH=$BUILD/firmware/tiny-pvh.elf
printf 'initrd-bytes' >"$T/initrd"
expect pvh-boot 0 'TINY: pvh start info version 1 modules 1' --kernel "$PVH" --initrd "$T/initrd" \
	--cmdline tiny.mode=hello
grep -q 'TINY: mode hello (PVH entry)' <<<"$out" && t_ok pvh-cmdline || t_fail pvh-cmdline "$out"
expect pvh-memmap 0 'TINY: e820 0x100000 0x3f00000 type 1' --kernel "$PVH" --cmdline tiny.mode=info --memory 64M
expect pvh-acpi 0 'TINY: acpi ok' --kernel "$PVH" --cmdline tiny.mode=acpi
expect pvh-pci 0 'TINY: pci ok' --kernel "$PVH" --cmdline tiny.mode=pci --pci-testdev bar0=1M:32,bar2=1G:64pref

# --- timings: phases, boot markers and exit counts ---
vm timings $(tiny marker) --timings-json "$T/timings.json"
if [ "$rc" = 0 ] && python3 - "$T/timings.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
p = t["phases_ms"]
order = ["create", "kvm_open", "vm_created", "memory", "kernel", "vcpus",
         "devices", "start", "first_kvm_run", "stop", "joined"]
assert [k for k in order if k in p] == order, p
assert all(p[a] <= p[b] for a, b in zip(order, order[1:])), p
m = t["boot_markers"]
assert [(x["value"], x["source"]) for x in m] == [(42, "port 0x80"), (123, "mmio")], m
assert m[0]["ms"] <= m[1]["ms"] <= p["stop"], (m, p)
assert t["exits"]["io"] >= 3 and t["exits"]["mmio"] == 1, t["exits"]
assert t["exits_by_device"]["boot-timer"] == 1 and t["exits_by_device"]["acpi-sleep"] == 1
assert t["exits_total"] == sum(t["exits"].values())
assert t["exit_reason"] == "poweroff" and t["teardown_ms"] > 0
assert 0 < t["vmm_cpu_ms"]["to_first_kvm_run"] <= t["vmm_cpu_ms"]["total"]
PY
then t_ok timings-json; else t_fail timings-json "rc=$rc: $(cat "$T/timings.json" 2>/dev/null | head -c 600)"; fi

# --- memory map ---
vm info64 $(tiny info) --memory 64M
if [ "$rc" = 0 ] && grep -q 'TINY: e820 0x100000 0x3f00000 type 1' <<<"$out" &&
	grep -q 'TINY: e820 0x0 0x9fc00 type 1' <<<"$out"; then
	t_ok e820-64M
else
	t_fail e820-64M "rc=$rc: $out"
fi
vm info4g $(tiny info) --memory 4G
if [ "$rc" = 0 ] && grep -q 'TINY: e820 0x100000000 0x40000000 type 1' <<<"$out" &&
	grep -q 'TINY: e820 0x100000 0xbff00000 type 1' <<<"$out"; then
	t_ok e820-4G-split-around-mmio-hole
else
	t_fail e820-4G-split-around-mmio-hole "rc=$rc: $out"
fi

# --- ACPI tables as the guest sees them (checksums walked in the guest) ---
expect acpi-tables 0 'TINY: acpi tables FACP DSDT APIC.*' $(tiny acpi)
grep -q 'TINY: acpi ok' <<<"$out" && t_ok acpi-checksums || t_fail acpi-checksums "$out"

# --- PCIe: the guest walks ECAM (found through MCFG) and checks what it sees ---
GPU="--pci-testdev bar0=16M:32,bar1=128G:64pref,bar3=32M:64pref"
NVS="--pci-testdev bar0=32M:32"
SCENARIO="$GPU $GPU $GPU $GPU $GPU $GPU $GPU $GPU $NVS $NVS $NVS $NVS $NVS $NVS"
expect pci-14-devices-40-ports 0 'pci ports 40 mf-devices 5 acs-ports 40 acs-mask 0x5f devices 14 bars 30' \
	$(tiny pci) --memory 1G --pcie-root-ports 40 $SCENARIO
grep -q 'TINY: pci ok' <<<"$out" && t_ok pci-14-devices-bars-in-windows ||
	t_fail pci-14-devices-bars-in-windows "$out"
expect pci-9-ports-multifunction 0 'pci ports 9 mf-devices 1 acs-ports 9 acs-mask 0x5f devices 1 bars 1' \
	$(tiny pci) --pcie-root-ports 9 --pci-testdev bar0=1M:32
expect pci-256-ports 0 'pci ports 256 mf-devices 32 acs-ports 256' $(tiny pci) --pcie-root-ports 256
expect pci-acs-off 0 'pci ports 2 mf-devices 1 acs-ports 0 ' $(tiny pci) --pcie-root-ports 2 --acs off
expect pci-acs-mask 0 'acs-ports 3 acs-mask 0x1d ' $(tiny pci) --pcie-root-ports 3 --acs 0x1d
expect pci-bus-range 0 'pci ports 2 mf-devices 1 acs-ports 2 acs-mask 0x5f devices 2 bars 4' \
	$(tiny pci) --pcie-buses 16-40 --pci-testdev bar0=64K:32 $GPU
grep -q 'TINY: pci ok' <<<"$out" && t_ok pci-bus-range-ok || t_fail pci-bus-range-ok "$out"
expect pci-low-mmio-exhausted 2 'low MMIO window exhausted: need 0x14000000 bytes, have 0x13f00000; use --low-mmio 320M' \
	$(tiny pci) --memory 1G --low-mmio 319M $SCENARIO
expect pci-257-ports 2 'pcie-root-ports: must be a number from 1 to 256' $(tiny pci) --pcie-root-ports 257
expect pci-bad-testdev 2 'bar1 is 64-bit and needs bar2 free' $(tiny pci) \
	--pci-testdev bar1=1M:64,bar2=1M:32
# --- VFIO: bad input fails before the VM exists (no device here to pass through) ---
expect vfio-missing-device 2 '0000:00:1f.7 is not a PCI device on this host' $(tiny hello) \
	--vfio 0000:00:1f.7
expect vfio-bad-bdf 2 "'1f.7' is not a PCI address" $(tiny hello) --vfio 1f.7
expect vfio-bad-id 2 "--vfio 00:03.0,id=a/b: id 'a/b'" $(tiny hello) --vfio 00:03.0,id=a/b
expect vfio-twice 2 '0000:00:03.0 is given twice' $(tiny hello) --vfio 00:03.0 --vfio 0000:00:03.0
# The preflight CLI on the unit tests' sysfs fixtures: the aarch64 field report's group.
FX=tests/unit/fixtures/vfio
out=$("$VMM" vfio-check --sysfs-root $FX/direct/sys --dev-root $FX/direct/dev 000f:01:00.0 2>&1)
rc=$?
if [ "$rc" = 1 ] && grep -q '1:1' <<<"$out" && grep -q '0x200000000-0x302ffffff' <<<"$out"; then
	t_ok vfio-check-direct-mapping
else
	t_fail vfio-check-direct-mapping "rc=$rc: $(head -c 400 <<<"$out")"
fi
out=$("$VMM" vfio-check --json --sysfs-root $FX/clean/sys --dev-root $FX/clean/dev 0000:01:00.0 2>&1)
rc=$?
if [ "$rc" = 0 ] && python3 -c 'import json, sys; d = json.loads(sys.argv[1])["devices"][0]; assert d["ready"] and d["iommu_group"] == 3, d' "$out"; then
	t_ok vfio-check-json-clean
else
	t_fail vfio-check-json-clean "rc=$rc: $(head -c 400 <<<"$out")"
fi
out=$("$VMM" vfio-check 2>&1)
rc=$?
[ "$rc" = 2 ] && grep -q 'needs a BDF' <<<"$out" && t_ok vfio-check-usage || t_fail vfio-check-usage "rc=$rc: $out"

vm topology-json $(tiny hello) --memory 1G $SCENARIO --topology-json "$T/topo.json"
if [ "$rc" = 0 ] && python3 - "$T/topo.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
paths = [d["pci_path"] for d in t["devices"]]
assert len(paths) == 14, paths
assert paths[0] == "00.0/00" and paths[8] == "01.0/00", paths
assert t["devices"][13]["bdf"] == "0000:0e:00.0", t["devices"][13]
assert all(p["acs_mask"] == "0x5f" for p in t["root_ports"])
PY
then t_ok topology-json; else t_fail topology-json "rc=$rc"; fi

# --- virtio transport: the tiny guest drives virtio-rng with a polled ring ---
expect virtio-rng-transport 0 'TINY: virtio ok' $(tiny virtio) --rng
grep -q 'refusing' <<<"$err" && t_ok virtio-refuses-unoffered-feature ||
	t_fail virtio-refuses-unoffered-feature "no refusal logged: $err"
expect virtio-rng-transport-pvh 0 'TINY: virtio ok' --kernel "$PVH" --cmdline tiny.mode=virtio --rng \
	--pcie-root-ports 9 --pci-testdev bar0=1M:32

# --- virtio-blk: four reads posted before one kick, a write, a flush and a
# malformed chain; firmware/tiny/virtio_blk.c checks the answers ---
# blk_image FILE WRITTEN: 64 sectors, word k of sector s is s << 16 | k;
# with WRITTEN=1, sector 2 holds the complement the guest writes there.
blk_image() {
	python3 - "$@" <<'PY'
import struct, sys
def sector(s):
    x = 0xffffffff if sys.argv[2] == "1" and s == 2 else 0
    return struct.pack("<128I", *[(s << 16 | k) ^ x for k in range(128)])
open(sys.argv[1], "wb").write(b"".join(sector(s) for s in range(64)))
PY
}
# blk_case NAME BACKEND REQUESTS WRITTEN [microvm args...]: on a fresh image
# (read-only unless WRITTEN=1), the guest's verdict, the event loop's back-end,
# the teardown count of REQUESTS with at most 4 in flight (all four reads: one
# kick, none completed inside it), the malformed chain's warning, and the
# image afterwards.
blk_case() {
	local name=$1 backend=$2 requests=$3 written=$4 disk=$T/blk.img
	shift 4
	[ "$written" = 1 ] || disk+=,ro
	blk_image "$T/blk.img" 0
	expect "$name" 0 'TINY: virtio-blk ok' --disk "$disk" --log-level info "$@"
	if grep -qE "virtio-blk0: '.*': 64 sectors(, read-only)?(, discard)? \($backend\)" <<<"$err"; then
		t_ok "$name-backend"
	elif grep -q 'io_uring unavailable' <<<"$err"; then
		t_skip "$name-backend" "$(grep -o 'io_uring unavailable.*' <<<"$err")"
	else
		t_fail "$name-backend" "$err"
	fi
	grep -q "virtio-blk0: $requests requests, at most 4 in flight" <<<"$err" &&
		t_ok "$name-4-in-flight" || t_fail "$name-4-in-flight" "$err"
	grep -qF 'queue 0 is malformed (head 9, descriptor 10: buffer 0xfff00000000+0x200 not in guest RAM)' <<<"$err" &&
		t_ok "$name-malformed-chain" || t_fail "$name-malformed-chain" "$err"
	blk_image "$T/want.img" "$written"
	cmp "$T/blk.img" "$T/want.img" >"$T/cmp.out" 2>&1 && t_ok "$name-image" ||
		t_fail "$name-image" "$(head -c 200 "$T/cmp.out")"
}
blk_case virtio-blk-batch io_uring 8 1 $(tiny virtio-blk)
MICROVM_EVLOOP=epoll blk_case virtio-blk-batch-epoll epoll 8 1 $(tiny virtio-blk)
# Read-only: the guest wants IOERR for its write, which never reaches the loop.
blk_case virtio-blk-ro io_uring 7 0 --kernel "$TINY" --cmdline 'tiny.mode=virtio-blk tiny.ro=1'
grep -q 'sector 2, 512 bytes): write to a read-only disk' <<<"$err" && t_ok virtio-blk-ro-write-refused ||
	t_fail virtio-blk-ro-write-refused "$err"

# --- CPUID as the guest sees it ---
cpuid_ecx() { grep -o 'cpuid.1 ecx=0x[0-9a-f]*' <<<"$out" | cut -d= -f2; }
vm cpuid-default $(tiny cpuid) --cpus 2
ecx=$(cpuid_ecx)
if [ -n "$ecx" ] && (((ecx >> 31) & 1)); then t_ok cpuid-hypervisor-bit; else
	t_fail cpuid-hypervisor-bit "ecx=$ecx"; fi
vm cpuid-masked $(tiny cpuid) --cpu-features=-cx16,-xsave,-hypervisor
ecx=$(cpuid_ecx)
if [ -n "$ecx" ] && ! (((ecx >> 13) & 1)) && ! (((ecx >> 31) & 1)); then
	t_ok cpuid-mask-cx16-hypervisor
else
	t_fail cpuid-mask-cx16-hypervisor "ecx=$ecx (bits 13 and 31 must be clear)"
fi
# kvm_pvm re-enables XSAVE in the guest whatever CPUID says (its emulator
# owns that state); elsewhere the bit must be gone.
if [ -e /sys/module/kvm_pvm ]; then
	t_skip cpuid-mask-xsave "kvm_pvm overrides XSAVE in guest CPUID; checked in the rig (L2)"
elif [ -n "$ecx" ] && ! (((ecx >> 26) & 1)); then
	t_ok cpuid-mask-xsave
else
	t_fail cpuid-mask-xsave "ecx=$ecx (bit 26 must be clear)"
fi
expect cpuid-plus-unsupported 2 "not supported by this host's KVM" $(tiny cpuid) --cpu-features=+vmx

# --- console ---
printf 'ping-42q' | timeout 30 "$VMM" run $(tiny echo) >"$T/echo.out" 2>"$T/echo.err"
rc=$?
if [ "$rc" = 0 ] && grep -q 'ping-42' "$T/echo.out"; then t_ok console-input-echo; else
	t_fail console-input-echo "rc=$rc: $(cat "$T/echo.out" "$T/echo.err")"; fi
if out=$(timeout 60 python3 tests/kvm/tty-escape.py "$VMM" "$TINY" 2>&1); then
	t_ok console-tty-raw-escape-restore
else
	t_fail console-tty-raw-escape-restore "$out"
fi
vm console-file $(tiny hello) --console "file:$T/console.txt"
if [ "$rc" = 0 ] && grep -q 'hello from the guest' "$T/console.txt" && ! grep -q TINY <<<"$out"; then
	t_ok console-file
else
	t_fail console-file "rc=$rc, stdout: $out"
fi
vm console-none $(tiny hello) --console none
if [ "$rc" = 0 ] && [ -z "$out" ]; then t_ok console-none; else t_fail console-none "rc=$rc out=$out"; fi

# --- signals stop a running guest cleanly ---
for sig in TERM INT; do
	"$VMM" run $(tiny idle) >"$T/sig.out" 2>"$T/sig.err" </dev/null &
	pid=$!
	for _ in $(seq 50); do grep -q 'mode idle' "$T/sig.out" 2>/dev/null && break; sleep 0.1; done
	kill -s "$sig" "$pid"
	for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$pid" 2>/dev/null; then
		kill -9 "$pid"
		t_fail "sig$sig-stops-vm" "still running 15 s after SIG$sig"
	else
		wait "$pid"
		rc=$?
		want=$((128 + $(kill -l "$sig")))
		[ "$rc" = "$want" ] && t_ok "sig$sig-stops-vm" || t_fail "sig$sig-stops-vm" "status $rc, want $want"
	fi
done

# --- examples/embed.c, built against the installed tree by tests/abi.sh ---
if [ -x "$BUILD/abi/embed" ]; then
	LD_LIBRARY_PATH=$BUILD/abi/root/usr/lib timeout -k 5 30 "$BUILD/abi/embed" "$TINY" tiny.mode=hello \
		>"$T/example.out" 2>"$T/example.err" </dev/null
	rc=$?
	if [ "$rc" = 0 ] && grep -q 'hello from the guest' "$T/example.out" && grep -q 'stopped: poweroff' "$T/example.err"; then
		t_ok example-embed-boots
	else
		t_fail example-embed-boots "status $rc: $(head -c 300 "$T/example.err")"
	fi
else
	t_skip example-embed-boots "$BUILD/abi/embed not built (tests/abi.sh builds it)"
fi

# --- stop completes in every state, within a bound ---
# stop_within NAME SECS [microvm run args...]: start it with stdout already
# redirected by the caller (fd 1 here goes to $T/NAME.out unless STOP_OUT
# names another file), SIGTERM it after 2 s (or once stderr matches the ERE
# STOP_READY), want status 143 within SECS.
stop_within() {
	local name=$1 bound=$2 t0 t1 rc
	shift 2
	"$VMM" run "$@" >"${STOP_OUT:-$T/$name.out}" 2>"$T/$name.err" </dev/null &
	local pid=$!
	sleep 2
	# STOP_READY: an ERE to wait for (30 s at most) in stderr first.
	for _ in $(seq 300); do
		[ -z "${STOP_READY:-}" ] || grep -qE "$STOP_READY" "$T/$name.err" && break
		sleep 0.1
	done
	t0=$EPOCHREALTIME
	kill -TERM "$pid"
	for _ in $(seq $((bound * 20))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
	t1=$EPOCHREALTIME
	if kill -0 "$pid" 2>/dev/null; then
		kill -9 "$pid"
		wait "$pid"
		t_fail "$name" "still running ${bound} s after SIGTERM: $(head -c 300 "$T/$name.err")"
		return 1
	fi
	wait "$pid"
	rc=$?
	echo "# timing: $name: SIGTERM -> exit $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s"
	if [ "$rc" != 143 ]; then
		t_fail "$name" "status $rc, want 143: $(head -c 300 "$T/$name.err")"
		return 1
	fi
	return 0
}
# A console reader that stopped reading: a FIFO held open but never read.
mkfifo "$T/unread"
exec 7<>"$T/unread"
if STOP_OUT="$T/unread" STOP_READY='not being read' stop_within stop-console-unread 4 $(tiny flood) --cpus 2; then
	if grep -q 'not being read' "$T/stop-console-unread.err" && grep -q 'bytes of guest console output were dropped' "$T/stop-console-unread.err"; then
		t_ok stop-console-unread
	else
		t_fail stop-console-unread "no word of the dropped output: $(head -c 300 "$T/stop-console-unread.err")"
	fi
fi
exec 7<&-
# The same guest with a reader keeps every byte in order: nothing dropped.
if stop_within console-spam-read 4 $(tiny spam); then
	if grep -q 'dropped' "$T/console-spam-read.err"; then
		t_fail console-spam-read "output dropped with a reader: $(head -c 300 "$T/console-spam-read.err")"
	elif tr -d '\r' <"$T/console-spam-read.out" | sed '1,/TINY: mode spam/d;$d' | grep -vqx 'TINY: spam spam spam spam spam spam spam'; then
		t_fail console-spam-read "a mangled line in $(wc -l <"$T/console-spam-read.out") lines"
	else
		t_ok console-spam-read
	fi
fi
stop_within stop-spinning-vcpus 3 $(tiny spin) --cpus 2 && t_ok stop-spinning-vcpus
# A disk that stopped answering: a device-mapper delay target holds every
# request for a minute. The guest's reads are in flight when SIGTERM comes.
if [ "$(id -u)" != 0 ] || ! command -v dmsetup >/dev/null || ! rig_modprobe loop >/dev/null ||
	! rig_modprobe dm_delay >/dev/null; then
	t_skip stop-disk-stuck "needs root, dmsetup and the loop and dm_delay modules (the x86 rig has them)"
else
	truncate -s 4M "$T/stuck.img"
	loopdev=$(losetup -f --show "$T/stuck.img")
	dm=mv-stuck-$$
	if [ -n "$loopdev" ] && dmsetup create "$dm" --noudevsync --table "0 8192 delay $loopdev 0 60000"; then
		dev=/dev/mapper/$dm
		[ -e "$dev" ] || dev=/dev/dm-$(dmsetup info -c --noheadings -o minor "$dm" | tr -d " ")
		# The VMM is done within the bound; the process itself exits only once
		# the kernel lets go of the reads in flight (as for any process), which
		# suspending the delay target does: it flushes the held requests.
		# Abandoned requests keep their buffers and ring on purpose (the kernel
		# may still write into them), which LeakSanitizer would report.
		ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
			"$VMM" run $(tiny virtio-blk) --disk "$dev" >"$T/stuck.out" 2>"$T/stuck.err" </dev/null &
		pid=$!
		sleep 2
		t0=$EPOCHREALTIME
		kill -TERM "$pid"
		for _ in $(seq 160); do grep -q 'did not complete' "$T/stuck.err" && break; sleep 0.05; done
		t1=$EPOCHREALTIME
		dmsetup suspend "$dm"
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		if kill -0 "$pid" 2>/dev/null; then
			kill -9 "$pid"
			wait "$pid"
			t_fail stop-disk-stuck "still running 10 s after its disk answered: $(tail -c 300 "$T/stuck.err")"
		else
			wait "$pid"
			rc=$?
			secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
			echo "# timing: stop-disk-stuck: SIGTERM -> requests abandoned ${secs} s"
			if ! grep -q 'stopped: stopped by the host' "$T/stuck.err" || ! grep -q 'did not complete' "$T/stuck.err"; then
				t_fail stop-disk-stuck "status $rc; no stop, or no word of the abandoned requests: $(tail -c 400 "$T/stuck.err")"
			elif awk -v s="$secs" 'BEGIN { exit !(s > 6) }'; then
				t_fail stop-disk-stuck "the VMM took ${secs} s to stop"
			elif [ "$rc" != 143 ]; then
				t_fail stop-disk-stuck "status $rc, want 143"
			else
				t_ok stop-disk-stuck
			fi
		fi
		dmsetup remove --force "$dm" 2>/dev/null
	else
		t_fail stop-disk-stuck "could not set up the delay target on $loopdev"
	fi
	[ -n "$loopdev" ] && losetup -d "$loopdev"
fi

# --- bad input: clear message, right status, no hang ---
expect bad-missing-kernel 2 "kernel '/nonexistent/bzImage': No such file" --kernel /nonexistent/bzImage
printf 'not a kernel\n' >"$T/notakernel"
expect bad-not-a-kernel 2 'not a Linux kernel' --kernel "$T/notakernel"
: >"$T/empty"
expect bad-empty-kernel 2 'is empty' --kernel "$T/empty"
expect bad-kernel-is-dir 2 'is not a regular file' --kernel /tmp
expect bad-memory-too-small 2 'too small for this kernel: it needs at least' --kernel "$TINY" --memory 4M
expect bad-unknown-flag 2 "unknown option '--frobnicate'" --kernel "$TINY" --frobnicate
expect bad-cpus-0 2 'cpus: must be a number from 1 to' --kernel "$TINY" --cpus 0
expect bad-cpus-255 2 'cpus: must be a number from 1 to' --kernel "$TINY" --cpus 255
expect bad-memory-garbage 2 "memory: invalid size 'lots'" --kernel "$TINY" --memory lots
expect bad-memory-option 2 "unknown option 'hugepages=maybe'" --kernel "$TINY" --memory 64M,hugepages=maybe
expect bad-no-kernel 2 'kernel is required' --cpus 1
expect bad-cpu-feature 2 "unknown CPU feature 'nosuchflag'" --kernel "$TINY" --cpu-features=-nosuchflag
expect bad-console 2 'console: expected stdio' --kernel "$TINY" --console tty
expect bad-missing-initrd 2 "initrd '/nonexistent': No such file" --kernel "$TINY" --initrd /nonexistent
# No KVM, or no access to it: one clear sentence, VMM-error status.
if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
	unshare -m sh -c "mount -t tmpfs none /dev && exec $VMM run --kernel $TINY" \
		>"$T/nokvm.out" 2>"$T/nokvm.err" </dev/null
	rc=$?
	if [ "$rc" = 1 ] && grep -q '/dev/kvm does not exist' "$T/nokvm.err"; then
		t_ok no-dev-kvm
	else
		t_fail no-dev-kvm "rc=$rc: $(cat "$T/nokvm.err")"
	fi
	setpriv --reuid=65534 --regid=65534 --clear-groups "$VMM" run --kernel "$TINY" \
		>"$T/perm.out" 2>"$T/perm.err" </dev/null
	rc=$?
	if [ "$rc" = 1 ] && grep -q 'permission denied opening /dev/kvm' "$T/perm.err"; then
		t_ok dev-kvm-permission-denied
	else
		t_fail dev-kvm-permission-denied "rc=$rc: $(cat "$T/perm.err")"
	fi
else
	t_skip no-dev-kvm "needs root and mount namespaces to hide /dev/kvm"
	t_skip dev-kvm-permission-denied "needs root to drop privileges"
fi

vm help --help
[ "$rc" = 0 ] && grep -q 'Exit status' <<<"$out" && t_ok help || t_fail help "rc=$rc"

# --- hugepages: works when reserved, clear error when not ---
if [ "$(cat /proc/sys/vm/nr_hugepages)" -ge 32 ]; then
	expect hugepages-on 0 'TINY: hello' $(tiny hello) --memory 64M,hugepages=on
else
	expect hugepages-none-reserved 1 'nr_hugepages' $(tiny hello) --memory 64M,hugepages=on
fi

# --- cgroups: vCPU threads under a cpu.max, guest RAM charged elsewhere ---
. tests/kvm/cgroups.sh
cgroup_tests

# --- a hostile guest: garbage into every emulated port (those that end the VM aside), every
# BAR register of every device and every config-space dword of every function (endpoints,
# then the root ports); the VMM stays up, logs a bounded amount and ends with the guest's own
# power-off ---
truncate -s 8M "$T/chaos.img"
t0=$SECONDS
timeout -k 5 120 "$VMM" run --kernel "$TINY" --cmdline tiny.mode=chaos --memory 64M --rng \
	--disk "$T/chaos.img" --vsock cid=3,uds="$T/chaos.sock" \
	--pci-testdev bar0=1M:32,bar2=64M:64pref --log-level debug \
	>"$T/chaos.out" 2>"$T/chaos.err" </dev/null
rc=$?
lines=$(wc -l <"$T/chaos.err")
done_line=$(tr -d '\r' <"$T/chaos.out" | grep -a -o 'TINY: chaos done: .*')
echo "# chaos: ${done_line#TINY: chaos done: } in $((SECONDS - t0)) s; $lines log lines"
if [ "$rc" != 0 ]; then
	t_fail hostile-guest-chaos "status $rc, want 0 (the guest's power-off): $(tail -c 300 "$T/chaos.err")"
elif ! grep -q 'on 8 functions' <<<"$done_line"; then
	t_fail hostile-guest-chaos "the guest did not get through every function: '$done_line'"
elif [ "$lines" -gt 1000 ]; then
	t_fail hostile-guest-chaos "$lines log lines: not rate-limited"
elif ! grep -q 'stopping: poweroff' "$T/chaos.err"; then
	t_fail hostile-guest-chaos "no power-off in the log: $(tail -c 300 "$T/chaos.err")"
else
	t_ok hostile-guest-chaos
fi

# --- the embedding API: two VMs in one process, no leaks ---
for bin in "$BUILD/tests/kvm/embed" ${EMBED_SAN:+"$EMBED_SAN"}; do
	[ -x "$bin" ] || { t_fail "embed" "$bin not built"; continue; }
	if "$bin" "$TINY" >"$T/embed.out" 2>&1; then
		t_ok "embed-api ($bin)"
	else
		t_fail "embed-api ($bin)" "$(tail -20 "$T/embed.out")"
	fi
	grep -E '^(ok|not ok)' "$T/embed.out" | sed 's/^/    /'
done

# --- a long-lived embedder: 1000 VMs in a row with fds, threads and RSS flat, then 20 at
# once stopped from 20 threads at random moments; under ASan a shorter run (100 and 20) ---
soak() {
	local bin=$1 n=$2 name=$3 rss=$4
	if [ ! -x "$bin" ]; then
		t_fail "$name" "$bin not built"
		return
	fi
	if timeout -k 5 600 "$bin" "$TINY" "$n" 20 "$rss" >"$T/$name.out" 2>&1; then
		t_ok "$name ($n VMs in a row, 20 at once)"
	else
		t_fail "$name" "$(grep -E '^not ok|ERROR|runtime error' "$T/$name.out" | head -5 | tr '\n' ' ')$(tail -c 300 "$T/$name.out")"
	fi
	grep -E '^(ok|not ok|#)' "$T/$name.out" | sed 's/^/    /'
}
# A SAN=... build is all ASan: no RSS bound there either.
soak "$BUILD/tests/kvm/soak" "${SOAK_VMS:-1000}" soak "$([ -n "${SAN:-}" ] && echo 0 || echo 2048)"
# ASan's quarantine keeps freed memory on purpose: no RSS bound there, LeakSanitizer instead.
[ -n "${EMBED_SAN:-}" ] && soak "$(dirname "$EMBED_SAN")/soak" 100 soak-asan 0

t_summary L1
