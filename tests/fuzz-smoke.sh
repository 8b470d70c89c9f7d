#!/usr/bin/env bash
# fuzz-smoke.sh: the fuzz layer of `make test`: builds every libFuzzer target and runs each briefly (FUZZ_SECONDS each, default 20).
set -uo pipefail
cd "$(dirname "$0")/.."

secs=${FUZZ_SECONDS:-20}
targets=$(make --no-print-directory -s fuzz-targets)
ntargets=$(wc -w <<<"$targets")

if ! command -v "${FUZZ_CC:-clang}" >/dev/null; then
	if [[ "${CI:-}" = true ]]; then
		echo "not ok - fuzz: clang missing under CI (run scripts/deps.sh)"
		echo "FUZZ: 0 passed, $ntargets failed, 0 skipped"
		exit 1
	fi
	echo "skip - fuzz: clang not installed (scripts/deps.sh installs it)"
	echo "FUZZ: 0 passed, 0 failed, $ntargets skipped"
	exit 0
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
pass=0 fail=0
if ! make --no-print-directory fuzz >"$log" 2>&1; then
	tail -40 "$log"
	echo "not ok - fuzz: build failed (see above)"
	echo "FUZZ: 0 passed, $ntargets failed, 0 skipped"
	exit 1
fi
for t in $targets; do
	if make --no-print-directory "fuzz-run-$t" FUZZ_SECONDS="$secs" \
		>"$log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" |
			tail -1)
		echo "ok - fuzz_$t: ${runs:-?} inputs in $secs s, no crash"
		pass=$((pass + 1))
	else
		tail -40 "$log"
		echo "not ok - fuzz_$t: crash, leak or timeout (see above; inputs in build/fuzz/artifacts/$t/)"
		fail=$((fail + 1))
	fi
done
echo "FUZZ: $pass passed, $fail failed, 0 skipped"
[[ $fail -eq 0 ]]
