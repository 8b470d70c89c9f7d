#!/usr/bin/env bash
# bench-smoke.sh: the benchmark harness on a short run (2 Linux boots per VMM in the rig, 1 in the aarch64 rig, a few tiny runs); checks its JSON, Markdown and PNG, prints "BENCH: ..." for run-all.sh.
#
# Env: BUILD (default build); SKIP_L2=1 skips it (it needs the x86 rig); BENCH_SMOKE_OUT
#      (default $BUILD/bench-smoke) gets the results, so bench/results/ is left alone.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
export BUILD="${BUILD:-build}"
. tests/lib.sh

skip() {
	echo "skip - bench: $1"
	echo "BENCH: skipped ($1): 0 passed, 0 failed, 1 skipped"
	exit 0
}

if [[ "${SKIP_L2:-}" = 1 ]]; then
	[[ "${CI:-}" = true ]] && echo "note: SKIP_L2=1 is set under CI=true" >&2
	skip "SKIP_L2=1"
fi
for tool in qemu-system-x86_64 gnuplot python3; do
	if ! command -v "$tool" >/dev/null; then
		if [[ "${CI:-}" = true ]]; then
			echo "not ok - bench: $tool missing under CI (run scripts/deps.sh)"
			echo "BENCH: 0 passed, 1 failed, 0 skipped"
			exit 1
		fi
		skip "$tool not installed"
	fi
done

# The aarch64 section (~40 s here; ~2 min more the first time, for the arm64 QEMU root)
# needs the cross compiler, qemu-system-aarch64 and debootstrap.
sections="host rig vfio aarch64"
for tool in aarch64-linux-gnu-gcc qemu-system-aarch64 debootstrap; do
	if ! command -v "$tool" >/dev/null; then
		if [[ "${CI:-}" = true ]]; then
			echo "not ok - bench: $tool missing under CI (run scripts/deps.sh)"
			echo "BENCH: 0 passed, 1 failed, 0 skipped"
			exit 1
		fi
		echo "skip - bench aarch64 section: $tool not installed (scripts/deps.sh)"
		sections="host rig vfio"
	fi
done
export BENCH_SECTIONS="$sections"

out="${BENCH_SMOKE_OUT:-$BUILD/bench-smoke}"
rm -rf "$out"
t0=$SECONDS
# q35 for QEMU's Linux boots (no calibration runs); the tiny guest uses -M microvm.
BENCH_OUT="$out" BENCH_ITERATIONS=2 BENCH_TINY_RUNS=2 BENCH_MEMORY_RUNS=1 BENCH_RATE_RUNS=3 \
	BENCH_VFIO_ITERATIONS=1 BENCH_QEMU_MACHINE=q35 BENCH_RIG_TIMEOUT=600 \
	BENCH_A64_ITERATIONS=1 BENCH_A64_RIG_TIMEOUT=600 bench/run.sh
status=$?
echo "# timing: bench smoke: $((SECONDS - t0)) s (bench/run.sh status $status)"

t_check "bench-run-status" "bench/run.sh exited with status $status" [ "$status" = 0 ]
t_check "results-md" "$out/results.md missing or without tables" \
	grep -q '^| launch → first KVM_RUN' "$out/results.md"
# shellcheck disable=SC2016 # expanded by the inner bash
t_check "chart-png" "$out/chart.png missing or not a PNG" \
	bash -c '[[ "$(head -c 8 "$1" | od -An -tx1 | tr -d " \n")" = 89504e470d0a1a0a ]]' _ "$out/chart.png"
# Every metric, both VMMs, in the rig's section; microvm alone on a kvm_pvm host.
check_json() {
	python3 - "$out/results.json" "$BENCH_SECTIONS" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
secs = {s["section"]: s for s in r["sections"]}
bad = []
for want in ("rig", "vfio") + (("aarch64",) if "aarch64" in sys.argv[2].split() else ()):
    if want not in secs:
        bad.append(f"no {want} section")
for name, s in secs.items():
    vmms = ["microvm"] + (["qemu"] if s["qemu"]["available"] else [])
    if name in ("rig", "vfio", "aarch64") and vmms != ["microvm", "qemu"]:
        bad.append(f"{name}: QEMU missing ({s['qemu'].get('reason')})")
    if s["failures"]:
        bad.append(f"{name}: run problems: {s['failures'][:3]}")
    if name == "vfio":
        for row in s["linux"]["metrics"]:
            for v in vmms:
                if row.get(v) is None and not (row["metric"] == "dma_map_ms" and v == "qemu"):
                    bad.append(f"vfio: {row['metric']} missing for {v}")
        if s["linux"]["targets"].get("guest_entry_ms", {}).get("met") is None:
            bad.append("vfio: no verdict for target guest_entry_ms")
        continue
    if name == "aarch64":
        # Linux only; the boot-timer marker is microvm's own (QEMU's virt has no such device).
        for row in s["linux"]["metrics"]:
            for v in vmms:
                if row.get(v) is None and not (row["metric"] == "vmm_marker_ms" and v == "qemu"):
                    bad.append(f"aarch64: {row['metric']} missing for {v}")
        continue
    tables = [("tiny", s["tiny"]["metrics"]), ("tiny memory", s["tiny"]["memory_metrics"])]
    if "linux" in s:
        tables.append(("linux", s["linux"]["metrics"]))
    elif name == "rig":
        bad.append("rig: no Linux runs")
    # Metrics a host may lack: kvm_entry/kvm_exit do not fire on kvm_pvm; microvm's own
    # numbers exist only for microvm.
    optional = {"guest_entry_ms", "kvm_exits_to_marker"} if name == "host" else set()
    for tname, rows in tables:
        for row in rows:
            for v in vmms:
                if row["metric"].startswith("vmm_own_") and v != "microvm":
                    continue
                st = row.get(v)
                if st is None and row["metric"] not in optional:
                    bad.append(f"{name} {tname}: {row['metric']} missing for {v}")
                elif st is not None and not all(isinstance(st[k], (int, float))
                                                for k in ("median", "min", "max")):
                    bad.append(f"{name} {tname}: {row['metric']} malformed for {v}")
    for v in vmms:
        rate = s["tiny"]["rate"].get(v)
        if not rate or not rate.get("vms_per_s"):
            bad.append(f"{name}: no start/stop rate for {v}")
    if name == "rig":
        for t in ("guest_entry_ms", "userspace_exits_to_marker", "overhead_rss_kib",
                  "init_marker_ms"):
            if s["linux"]["targets"].get(t, {}).get("met") is None:
                bad.append(f"rig: no verdict for target {t}")
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
PY
}
if why=$(check_json 2>&1); then
	t_ok "results-json"
else
	t_fail "results-json" "$(echo "$why" | tr '\n' ';' | cut -c1-600)"
fi
t_summary BENCH
