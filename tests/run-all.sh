#!/usr/bin/env bash
# run-all.sh: body of `make test`: L0 unit, L1 tiny guests, L2 Linux in the rig; one summary line.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
passed=0
failed=0
skipped=0

# add_counts LINE: adds "N passed, N failed, N skipped" from a layer's summary.
add_counts() {
	local p f s
	p=$(grep -oE '[0-9]+ passed' <<<"$1" | grep -oE '[0-9]+' || echo 0)
	f=$(grep -oE '[0-9]+ failed' <<<"$1" | grep -oE '[0-9]+' || echo 0)
	s=$(grep -oE '[0-9]+ skipped' <<<"$1" | grep -oE '[0-9]+' || echo 0)
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
}

# run_layer NAME SUMMARY-REGEX CMD...: runs a layer, streams its output and
# counts its summary line; a layer that dies without one counts as a failure.
failures=$(mktemp)

run_layer() {
	local name=$1 re=$2 log line rc
	shift 2
	echo "==== $name"
	log=$(mktemp)
	"$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	line=$(grep -E "$re" "$log" | tail -1)
	# Kept for the summary, which CI logs cut short may be all that shows.
	grep -E '^ *not ok - ' "$log" | cut -c1-300 >>"$failures"
	rm -f "$log"
	if [ -z "$line" ]; then
		echo "$name: no summary (exit status $rc)"
		failed=$((failed + 1))
	else
		add_counts "$line"
		# A layer may exit non-zero with a clean summary only if it says why.
		if [ "$rc" != 0 ] && ! grep -qE '[1-9][0-9]* failed' <<<"$line"; then
			echo "$name: exit status $rc"
			failed=$((failed + 1))
		fi
	fi
}

criterion_summary() {
	# Criterion: "Synthesis: Tested: N | Passing: N | Failing: N | Crashing: N"
	# per binary (unit-fdt: the aarch64 FDT builder, built on any host);
	# skips show only as --verbose's "[SKIP] test: reason" lines.
	local out rc=0 bin p f c tp=0 tf=0 ts=0 missing=0
	for bin in "$BUILD/tests/unit" "$BUILD/tests/unit-fdt"; do
		out=$("$bin" --jobs 2 --verbose 2>&1) || rc=$?
		echo "$out" | grep -vE '^\[(----|RUN |PASS)\]|^\[====\] Running' || true
		p=$(grep -oE 'Passing: [0-9]+' <<<"$out" | grep -oE '[0-9]+')
		f=$(grep -oE 'Failing: [0-9]+' <<<"$out" | grep -oE '[0-9]+')
		c=$(grep -oE 'Crashing: [0-9]+' <<<"$out" | grep -oE '[0-9]+')
		[ -n "$p" ] || missing=1
		tp=$((tp + ${p:-0})) tf=$((tf + ${f:-0} + ${c:-0}))
		ts=$((ts + $(grep -c '^\[SKIP\]' <<<"$out")))
	done
	[ "$missing" = 0 ] && echo "L0: $tp passed, $tf failed, $ts skipped"
	return "$rc"
}

run_layer "L0 unit (Criterion)" '^L0: ' criterion_summary
run_layer "ABI (exports, SONAME, make install, pkg-config, examples/embed.c)" '^ABI: ' env BUILD="$BUILD" tests/abi.sh
run_layer "L1 tiny guests on /dev/kvm" '^L1: ' env BUILD="$BUILD" tests/kvm/run.sh
run_layer "Rust binding (cargo test; its VM test in the rig)" '^RUST: ' env BUILD="$BUILD" tests/rust.sh
run_layer "L2 Linux in the x86 rig" '^L2: ' env BUILD="$BUILD" tests/boot/run.sh
run_layer "aarch64: cross build, microvm on KVM in the nested aarch64 rig" '^A64: ' env BUILD="$BUILD" tests/aarch64/run.sh
run_layer "fuzz (libFuzzer, brief)" '^FUZZ: ' tests/fuzz-smoke.sh
run_layer "bench smoke (2 iterations)" '^BENCH: ' env BUILD="$BUILD" tests/bench-smoke.sh

echo "==== summary"
if [ -s "$failures" ]; then
	echo "failed tests:"
	sed 's/^ */  /' "$failures"
fi
rm -f "$failures"
[ "$skipped" -gt 0 ] && echo "($skipped skipped; see the skip lines above for why)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
