#!/usr/bin/env bash
# l2-vfio.sh: the L2 VFIO checks, run inside the VFIO rig by tests/boot/vfio/run.sh: real endpoints bound to vfio-pci, passed through by microvm.
#
# Prints "# plan N", then "ok - NAME" / "not ok - NAME: WHY" lines (with --plan, only the
# plan line). Logs: $BUILD/tests/vfio/<name>.log.
# Env: BUILD, MICROVM (default $BUILD/microvm), MICROVM_TEST_NVME_SHA (sha256 of the first MiB
#      of the nvme's backing file), MICROVM_TEST_SHM_MAGIC (the word at offset 0 of the
#      ivshmem memory), L2_ONLY (an extended regex of test names to run),
#      L2_VFIO_IOMMU (auto, iommufd or legacy: appended to the device cases' --vfio as
#      iommu=; unset: microvm's default), L2_VFIO_BACKEND (the back-end the timings must name;
#      default: iommufd where /dev/iommu exists and L2_VFIO_IOMMU is not legacy, else
#      container), L2_VFIO_DMA_METHOD (map_file or map, when the timings must name it),
#      L2_NAME_PREFIX (put before every test name, for several runs in one rig).
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../../.." || exit 1
BUILD="${BUILD:-build}"
MICROVM="${MICROVM:-$BUILD/microvm}"
KERNEL="${L2_KERNEL:-build/guest/vmlinuz}"
INITRD="${L2_INITRD:-build/guest/initramfs.cpio.gz}"
TINY="$BUILD/firmware/tiny.bzImage"
LOGDIR="$BUILD/tests/vfio"
BOOT_TIMEOUT=240
BAD_TIMEOUT=30
mkdir -p "$LOGDIR"
. tests/lib.sh
IOMMU="${L2_VFIO_IOMMU:-}"
if [[ -n "${L2_VFIO_BACKEND:-}" ]]; then
	WANT_BACKEND=$L2_VFIO_BACKEND
elif [[ -e /dev/iommu && "$IOMMU" != legacy ]]; then
	WANT_BACKEND=iommufd
else
	WANT_BACKEND=container
fi
if [[ -n "${L2_NAME_PREFIX:-}" ]]; then
	eval "$(declare -f t_ok t_fail t_skip | sed "s/\\\$1/${L2_NAME_PREFIX}\$1/")"
fi
# --vfio SPEC for the device cases: with iommu= when L2_VFIO_IOMMU says.
vspec() {
	echo "$1${IOMMU:+,iommu=$IOMMU}"
}

TESTS=(vfio-check-ready vfio-check-member-bound vfio-check-json plan-vfio bad-bdf missing-bdf
	not-bound member-bound no-dev-vfio group-busy iommufd-missing nvme nvme-intx edu-tiny multi)
selected=()
for t in "${TESTS[@]}"; do
	if [[ -z "${L2_ONLY:-}" || "$t" =~ ${L2_ONLY} ]]; then
		selected+=("$t")
	fi
done
echo "# plan ${#selected[@]}"
# --plan: only that line (for a caller that runs some of these cases after its own).
[[ "${1:-}" != --plan ]] || exit 0

if ! bindings=$(tests/boot/vfio/bind.sh); then
	for t in "${selected[@]}"; do
		t_fail "$t" "binding the rig's endpoints to vfio-pci failed (see above)"
	done
	exit 1
fi
eval "$bindings"

secs() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'
}

# boot NAME KERNEL CMDLINE [ARGS...]: microvm run with a timeout; sets status, log, wall.
boot() {
	local name=$1 kernel=$2 cmdline=$3 t0
	shift 3
	log="$LOGDIR/$name.log"
	t0=$EPOCHREALTIME
	timeout -k 5 "$BOOT_TIMEOUT" "$MICROVM" run --kernel "$kernel" --initrd "$INITRD" \
		--cmdline "$cmdline" --console stdio "$@" </dev/null >"$log" 2>&1
	status=$?
	wall=$(secs "$t0" "$EPOCHREALTIME")
}

has() {
	tr -d '\r' <"$log" | grep -qE -- "$1"
}

tail_of() {
	tr -d '\r' <"$log" | grep -v '^\s*$' | tail -n "${1:-3}" | tr '\n' '|' | cut -c1-400
}

# bad NAME STATUS ERE ARGS...: microvm ARGS must exit STATUS within BAD_TIMEOUT seconds and
# say something matching ERE (case-insensitive) on stderr or stdout.
bad() {
	local n=$1 want=$2 re=$3 t0
	shift 3
	log="$LOGDIR/$n.log"
	t0=$EPOCHREALTIME
	timeout -k 5 "$BAD_TIMEOUT" "$MICROVM" "$@" </dev/null >"$log" 2>&1
	status=$?
	if [[ $status != "$want" ]]; then
		t_fail "$n" "exit status $status, want $want: $(tail_of 4)"
	elif ! grep -qiE -- "$re" "$log"; then
		t_fail "$n" "output does not match /$re/: $(tail_of 4)"
	else
		t_ok "$n"
		echo "#   $n: status $status in $(secs "$t0" "$EPOCHREALTIME")s: $(head -c 300 "$log" | tr '\n' ' ')"
	fi
}

run_tiny=(run --kernel "$TINY" --cmdline "tiny.mode=hello" --console none)

test_vfio_check_ready() {
	bad vfio-check-ready 0 "ready for passthrough" vfio-check "$VFIO_NVME"
}

test_vfio_check_member_bound() {
	bad vfio-check-member-bound 1 "$VFIO_SHARED_RNG.*virtio-pci|virtio-pci.*$VFIO_SHARED_RNG" \
		vfio-check "$VFIO_SHARED_EDU"
}

test_vfio_check_json() {
	local n=vfio-check-json
	log="$LOGDIR/$n.log"
	"$MICROVM" vfio-check --json "$VFIO_NVME" "$VFIO_SHARED_EDU" >"$log" 2>&1
	status=$?
	if [[ $status != 1 ]]; then
		t_fail "$n" "exit status $status, want 1 (one device is not ready): $(tail_of 3)"
	elif ! python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))["devices"]
assert d[0]["ready"] is True and d[0]["iommu_group"] is not None, d[0]
assert d[1]["ready"] is False, d[1]
assert any(f["code"] == "member-bound" for f in d[1]["findings"]), d[1]["findings"]
' "$log" 2>>"$log.err"; then
		t_fail "$n" "JSON does not say what it should: $(tail -c 300 "$log.err")"
	else
		t_ok "$n"
	fi
}

# microvm plan reads the BARs from sysfs and attaches nothing: the 1 GiB BAR is in the high window.
test_plan_vfio() {
	local n=plan-vfio
	log="$LOGDIR/$n.log"
	"$MICROVM" plan --vfio "$VFIO_IVSHMEM,id=shm" --topology-json "$LOGDIR/$n.json" >"$log" 2>&1
	status=$?
	if [[ $status != 0 ]]; then
		t_fail "$n" "exit status $status: $(tail_of 3)"
	elif ! grep -qE "shm .*host $VFIO_IVSHMEM" "$log"; then
		t_fail "$n" "the plan does not name the host device: $(tail_of 6)"
	elif ! grep -qE "bar2 +mem64pref .*\(1G\)" "$log"; then
		t_fail "$n" "no 1G mem64pref BAR2 in the plan: $(tail_of 6)"
	elif ! python3 -c 'import json, sys
t = json.load(open(sys.argv[1]))
d = t["devices"][0]
assert d["host_bdf"] == sys.argv[2], d
b = [x for x in d["bars"] if x["index"] == 2][0]
assert int(b["size"], 16) == 1 << 30 and int(b["address"], 16) >= int(t["high_mmio"]["base"], 16), b
' "$LOGDIR/$n.json" "$VFIO_IVSHMEM" 2>"$log.err"; then
		t_fail "$n" "topology JSON: $(tail -c 300 "$log.err")"
	else
		t_ok "$n"
	fi
}

test_bad_bdf() {
	bad bad-bdf 2 "not a PCI address" "${run_tiny[@]}" --vfio 0000:zz:00.0
}

test_missing_bdf() {
	bad missing-bdf 2 "0000:00:1f.7.*(no such|does not exist|not found)" "${run_tiny[@]}" --vfio 0000:00:1f.7
}

test_not_bound() {
	bad not-bound 2 "$VFIO_SHARED_RNG.*virtio-pci.*|driver_override" "${run_tiny[@]}" --vfio "$VFIO_SHARED_RNG"
}

test_member_bound() {
	bad member-bound 2 "$VFIO_SHARED_RNG.*virtio-pci" "${run_tiny[@]}" --vfio "$VFIO_SHARED_EDU"
}

# /dev/vfio hidden under an empty tmpfs: as if VFIO were not loaded.
test_no_dev_vfio() {
	if ! mount -t tmpfs -o size=64k tmpfs /dev/vfio; then
		t_fail no-dev-vfio "cannot mount a tmpfs over /dev/vfio"
		return
	fi
	bad no-dev-vfio 2 "/dev/vfio/vfio.*(modprobe vfio|missing|does not exist)" "${run_tiny[@]}" --vfio "$VFIO_EDU"
	umount /dev/vfio
}

# Another process holds the group open (legacy groups are exclusive).
test_group_busy() {
	local holder
	sleep 60 3<>"/dev/vfio/$VFIO_GROUP_EDU" &
	holder=$!
	sleep 0.5
	bad group-busy 2 "busy|held by|another process" "${run_tiny[@]}" --vfio "$VFIO_EDU"
	kill "$holder" 2>/dev/null
	wait "$holder" 2>/dev/null
}

# iommu=iommufd on a kernel without it (Debian's): a clear error naming what is missing.
test_iommufd_missing() {
	if [[ -e /dev/iommu ]]; then
		t_skip iommufd-missing "this rig kernel has /dev/iommu"
		return
	fi
	bad iommufd-missing 2 "iommu=iommufd, but this host has no /dev/iommu.*iommu=legacy" \
		"${run_tiny[@]}" --vfio "$VFIO_EDU,iommu=iommufd"
}

vfio_cmdline() {
	echo "console=ttyS0 reboot=k panic=-1 microvm.init=cmd microvm.modules=nvme microvm.cmd=\"$1\""
}

# Linux's own nvme driver on QEMU's nvme endpoint: DMA both ways, MSI-X.
test_nvme() {
	local n=nvme
	boot "$n" "$KERNEL" "$(vfio_cmdline "vfiocheck nvme $MICROVM_TEST_NVME_SHA")" \
		--memory 512M --vfio "$(vspec "$VFIO_NVME,id=nvme")" --log-level info \
		--timings-json "$LOGDIR/$n.timings.json" --topology-json "$LOGDIR/$n.topology.json"
	tr -d '\r' <"$log" | grep -E '^VFIOCHECK|mapped for DMA' | sed "s/^/# $n: /"
	if [[ $status != 0 ]]; then
		t_fail "$n" "exit status $status, want 0 (last output: $(tail_of 3))"
	elif ! has '^VFIOCHECK PASS'; then
		t_fail "$n" "$(tr -d '\r' <"$log" | grep -m1 'VFIOCHECK FAIL' || tail_of 3)"
	elif [[ ! -e /dev/iommu && -z "$IOMMU" ]] && ! has 'vfio: DMA back-end: container \(auto: no /dev/iommu'; then
		t_fail "$n" "auto on a kernel without iommufd did not say it fell back to the container: $(grep -m1 'back-end' "$log")"
	elif [[ -e /dev/iommu && -z "$IOMMU" ]] && ! has 'vfio: DMA back-end: iommufd \(auto: /dev/iommu'; then
		t_fail "$n" "auto on a kernel with iommufd did not choose it: $(grep -m1 'back-end' "$log")"
	elif ! WANT_BACKEND=$WANT_BACKEND WANT_METHOD="${L2_VFIO_DMA_METHOD:-}" python3 -c 'import json, os, sys
t = json.load(open(sys.argv[1]))
v = t["vfio"]
assert v["backend"] == os.environ["WANT_BACKEND"] and v["dma_bytes"] == 512 << 20, v
assert not os.environ["WANT_METHOD"] or v["dma_method"] == os.environ["WANT_METHOD"], v
assert v["devices"][0]["host_bdf"] == sys.argv[2], v
assert json.load(open(sys.argv[3]))["devices"][0]["host_bdf"] == sys.argv[2]
print("# nvme: %s (%s): DMA map %.1f ms (%.3f GB/s), device open %.1f ms, reset %.1f ms, BAR map %.1f ms" % (
    v["backend"], v["dma_method"], v["dma_map_ms"], v["dma_gbps"], v["devices"][0]["open_ms"],
    v["devices"][0]["reset_ms"], v["devices"][0]["bar_map_ms"]))
' "$LOGDIR/$n.timings.json" "$VFIO_NVME" "$LOGDIR/$n.topology.json"; then
		t_fail "$n" "timings or topology JSON lack the VFIO device"
	else
		t_ok "$n"
	fi
}

# The same with MSI off in the guest (pci=nomsi): INTx through the _PRT, a resampling irqfd.
test_nvme_intx() {
	local n=nvme-intx
	boot "$n" "$KERNEL" "$(vfio_cmdline "vfiocheck nvme $MICROVM_TEST_NVME_SHA intx") pci=nomsi" \
		--memory 256M --vfio "$(vspec "$VFIO_NVME,id=nvme")"
	tr -d '\r' <"$log" | grep -E '^VFIOCHECK' | sed "s/^/# $n: /"
	if [[ $status != 0 ]]; then
		t_fail "$n" "exit status $status, want 0 (last output: $(tail_of 3))"
	elif ! has '^VFIOCHECK PASS'; then
		t_fail "$n" "$(tr -d '\r' <"$log" | grep -m1 'VFIOCHECK FAIL' || tail_of 3)"
	else
		t_ok "$n"
	fi
}

# QEMU's edu endpoint and a bare-metal guest: DMA into guest RAM and back, one MSI.
test_edu_tiny() {
	local n=edu-tiny
	log="$LOGDIR/$n.log"
	timeout -k 5 60 "$MICROVM" run --kernel "$TINY" --cmdline "tiny.mode=edu" --console stdio \
		--vfio "$(vspec "$VFIO_EDU,id=edu")" --log-level info </dev/null >"$log" 2>&1
	status=$?
	tr -d '\r' <"$log" | grep -E '^TINY: edu' | sed "s/^/# $n: /"
	if [[ $status != 0 ]]; then
		t_fail "$n" "exit status $status, want 0 (last output: $(tail_of 3))"
	elif ! has '^TINY: edu PASS'; then
		t_fail "$n" "$(tr -d '\r' <"$log" | grep -m1 -E 'TINY: edu .*FAIL' || tail_of 3)"
	elif ! has "vfio: DMA back-end: $WANT_BACKEND"; then
		t_fail "$n" "want the $WANT_BACKEND back-end: $(grep -m1 'back-end' "$log")"
	elif [[ -e /dev/iommu && -z "$IOMMU" ]] && ! has 'vfio: DMA back-end: iommufd \(auto: /dev/iommu'; then
		t_fail "$n" "auto on a kernel with iommufd did not choose it: $(grep -m1 'back-end' "$log")"
	else
		t_ok "$n"
	fi
}

# Three endpoints at once, one with a 1 GiB 64-bit prefetchable BAR (the high window).
test_multi() {
	local n=multi
	boot "$n" "$KERNEL" "$(vfio_cmdline "vfiocheck topology 3 && vfiocheck ivshmem $MICROVM_TEST_SHM_MAGIC && vfiocheck nvme $MICROVM_TEST_NVME_SHA")" \
		--memory 512M --cpus 2 --vfio "$(vspec "$VFIO_NVME,id=nvme")" --vfio "$(vspec "$VFIO_EDU,id=edu")" \
		--vfio "$(vspec "$VFIO_IVSHMEM,id=shm")" --log-level info --topology-json "$LOGDIR/$n.topology.json" \
		--timings-json "$LOGDIR/$n.timings.json"
	tr -d '\r' <"$log" | grep -E '^VFIOCHECK' | sed "s/^/# $n: /"
	if [[ $status != 0 ]]; then
		t_fail "$n" "exit status $status, want 0 (last output: $(tail_of 3))"
	elif [[ $(tr -d '\r' <"$log" | grep -c '^VFIOCHECK PASS') != 3 ]]; then
		t_fail "$n" "$(tr -d '\r' <"$log" | grep -m1 'VFIOCHECK FAIL' || tail_of 3)"
	elif ! python3 -c 'import json, sys
t = json.load(open(sys.argv[1]))
x = json.load(open(sys.argv[2]))
shm = [d for d in t["devices"] if d["name"] == "shm"][0]
bar2 = [b for b in shm["bars"] if b["index"] == 2][0]
assert int(bar2["address"], 16) >= int(t["high_mmio"]["base"], 16), (bar2, t["high_mmio"])
# BAR2 is in a memory slot: the guest touched it without any exit to us.
assert x["exits_by_device"].get("shm", 0) == 0, x["exits_by_device"]
assert len(x["vfio"]["devices"]) == 3
' "$LOGDIR/$n.topology.json" "$LOGDIR/$n.timings.json"; then
		t_fail "$n" "topology or timings JSON: the 1 GiB BAR is misplaced or its accesses exited"
	else
		t_ok "$n"
	fi
}

for f in "$MICROVM" "$KERNEL" "$INITRD" "$TINY"; do
	if [[ ! -e "$f" ]]; then
		for t in "${selected[@]}"; do
			t_fail "$t" "$f missing"
		done
		exit 1
	fi
done
for t in "${selected[@]}"; do
	"test_${t//-/_}"
done
[[ $T_FAIL = 0 ]]
