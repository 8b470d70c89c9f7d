#!/usr/bin/env bash
# run.sh: body of `make bench`: measures microvm (and QEMU where it can run) on this machine and inside the x86 and aarch64 rigs, then writes bench/results/.
#
# Env: BUILD (default build); BENCH_OUT (default bench/results): where results.{json,md}
#      and chart.png go; BENCH_ITERATIONS (10) Linux boots per VMM; BENCH_TINY_RUNS (10)
#      tiny-guest runs per VMM; BENCH_MEMORY_RUNS (3); BENCH_RATE_RUNS (20) VMs per VMM in
#      the start/stop rate; BENCH_QEMU_MACHINE (auto: the faster of -M microvm and -M q35
#      that reaches /init; or microvm, q35); BENCH_RIG_TIMEOUT (2400 s) bounds the rig run;
#      BENCH_SECTIONS ("host rig vfio aarch64") which parts to measure (host is left out, with a
#      note, where this machine has no /dev/kvm); BENCH_VFIO_ITERATIONS (5) boots per VMM
#      with QEMU's nvme endpoint passed through, inside a rig with an IOMMU
#      (tests/boot/vfio/rig.sh); BENCH_KERNEL (bzimage: the guest's build/guest/vmlinuz;
#      pvh: the ELF build/guest/vmlinux). Section aarch64: microvm against QEMU -M virt
#      inside the aarch64 rig (bench/aarch64-in-rig.sh; ~13 s per pair of boots, ~2.5 min
#      for the section; QEMU from scripts/arm64-qemu-root.sh, built once, ~2 min, and
#      cached outside the checkout), BENCH_A64_ITERATIONS (10) boots per VMM;
#      BENCH_A64_RIG_TIMEOUT (1800 s) bounds that rig; BENCH_A64_TIMEOUT (300 s) each boot;
#      BENCH_A64_CMDLINE the guest's command line; BENCH_A64_SHMEM_THP (e.g. always) is
#      written to the rig's transparent_hugepage/shmem_enabled first (an experiment: huge
#      pages for microvm's memfd guest RAM, as QEMU's anonymous RAM gets by default).
# Raw per-run data and each run's console log stay under $BUILD/bench/.
# Exit status: 0, or 1 when a run went wrong (the report is written anyway and lists it).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export BUILD="${BUILD:-build}"
out="${BENCH_OUT:-bench/results}"
raw="$BUILD/bench/raw"
sections="${BENCH_SECTIONS:-host rig vfio aarch64}"
if [[ " $sections " == *" host "* && ! -e /dev/kvm ]]; then
	echo "bench: this machine has no /dev/kvm: no host section (the rig sections have one)" >&2
	sections="${sections//host/}"
fi
args=(--iterations "${BENCH_ITERATIONS:-10}" --tiny-runs "${BENCH_TINY_RUNS:-10}"
	--memory-runs "${BENCH_MEMORY_RUNS:-3}" --rate-runs "${BENCH_RATE_RUNS:-20}"
	--qemu-machine "${BENCH_QEMU_MACHINE:-auto}" --kernel "${BENCH_KERNEL:-bzimage}")

# The bench binaries (make bench has built them; a direct call builds them here).
make --no-print-directory -s BUILD="$BUILD" "$BUILD/microvm" "$BUILD/bench/launch" \
	"$BUILD/bench/guest-stop.elf" "$BUILD/bench/guest-halt.elf"
if [[ " $sections " == *" rig "* || " $sections " == *" vfio "* ]]; then
	scripts/guest-assets.sh
fi

rm -rf "$raw" "$BUILD/bench/logs"
mkdir -p "$raw"
status=0
files=()
t0=$SECONDS
if [[ " $sections " == *" host "* ]]; then
	echo "bench: on this machine" >&2
	python3 bench/bench.py measure --section host --out "$raw/host.json" "${args[@]}" || status=1
	[[ -f "$raw/host.json" ]] && files+=("$raw/host.json")
fi
if [[ " $sections " == *" rig "* ]]; then
	echo "bench: inside the x86 rig (Linux boots take ~20 s each there)" >&2
	tests/rig/x86-rig.sh --timeout "${BENCH_RIG_TIMEOUT:-2400}" -- \
		python3 bench/bench.py measure --section rig --out "$raw/rig.json" "${args[@]}" || status=1
	[[ -f "$raw/rig.json" ]] && files+=("$raw/rig.json")
fi
if [[ " $sections " == *" vfio "* ]]; then
	echo "bench: VFIO passthrough inside the x86 rig with an IOMMU and an nvme endpoint" >&2
	# shellcheck disable=SC2016 # expanded inside the rig
	(. tests/boot/vfio/rig.sh && tests/rig/x86-rig.sh --timeout "${BENCH_RIG_TIMEOUT:-2400}" -- \
		bash -c 'eval "$(tests/boot/vfio/bind.sh)" && exec python3 bench/bench.py measure "$@"' _ \
		--section vfio --out "$raw/vfio.json" --vfio-iterations "${BENCH_VFIO_ITERATIONS:-5}" \
		"${args[@]}") || status=1
	[[ -f "$raw/vfio.json" ]] && files+=("$raw/vfio.json")
fi
if [[ " $sections " == *" aarch64 "* ]]; then
	echo "bench: inside the aarch64 rig (microvm and QEMU -M virt; Linux boots take ~6 s each there)" >&2
	a64_missing=""
	for t in aarch64-linux-gnu-gcc qemu-system-aarch64 debootstrap; do
		command -v "$t" >/dev/null || a64_missing+=" $t"
	done
	if [[ -n "$a64_missing" ]]; then
		echo "bench: aarch64: missing$a64_missing (scripts/deps.sh; apt-get install debootstrap)" >&2
		status=1
	elif ! make --no-print-directory -s -j2 ARCH=aarch64 BUILD=build-aarch64 \
		build-aarch64/microvm build-aarch64/bench/launch ||
		! GUEST_ARCH=arm64 scripts/guest-assets.sh || ! qroot=$(scripts/arm64-qemu-root.sh); then
		echo "bench: aarch64: building the arm64 VMM, guest or QEMU root failed (see above)" >&2
		status=1
	else
		# The rig passes only MICROVM_* and a few others through: the driver's knobs go by env.
		a64_env=()
		for v in BENCH_A64_TIMEOUT BENCH_A64_CMDLINE BENCH_A64_SHMEM_THP; do
			[[ -n "${!v:-}" ]] && a64_env+=("$v=${!v}")
		done
		RIG_SHARE="$(dirname "$qroot")" tests/rig/aarch64-rig.sh \
			--timeout "${BENCH_A64_RIG_TIMEOUT:-1800}" -- \
			env "${a64_env[@]}" bench/aarch64-in-rig.sh "$raw/aarch64.jsonl" "$qroot" "${BENCH_A64_ITERATIONS:-10}" ||
			status=1
		if [[ -s "$raw/aarch64.jsonl" ]]; then
			python3 bench/bench.py aarch64-raw "$raw/aarch64.jsonl" --out "$raw/aarch64.json" || status=1
			[[ -f "$raw/aarch64.json" ]] && files+=("$raw/aarch64.json")
		fi
	fi
fi
if ((${#files[@]} == 0)); then
	echo "bench: no measurements" >&2
	exit 1
fi
python3 bench/bench.py report "${files[@]}" --out "$out" --workdir "$BUILD/bench"
echo "bench: done in $((SECONDS - t0)) s; see $out/results.md" >&2
exit "$status"
