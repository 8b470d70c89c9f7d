#!/usr/bin/env bash
# fuzz-smoke.sh: the fuzz layer of `make test`: builds the libFuzzer targets and runs each briefly (FUZZ_SECONDS, default 30).
set -uo pipefail
cd "$(dirname "$0")/.."

if ! command -v "${FUZZ_CC:-clang}" >/dev/null; then
	if [[ "${CI:-}" = true ]]; then
		echo "not ok - fuzz: clang missing under CI (run scripts/deps.sh)"
		echo "FUZZ: 0 passed, 1 failed, 0 skipped"
		exit 1
	fi
	echo "skip - fuzz: clang not installed (scripts/deps.sh installs it)"
	echo "FUZZ: 0 passed, 0 failed, 1 skipped"
	exit 0
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
if make --no-print-directory fuzz-run FUZZ_SECONDS="${FUZZ_SECONDS:-30}" >"$log" 2>&1; then
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	echo "ok - fuzz_virtqueue: ${runs:-?} inputs in ${FUZZ_SECONDS:-30} s, no crash"
	echo "FUZZ: 1 passed, 0 failed, 0 skipped"
else
	tail -40 "$log"
	echo "not ok - fuzz_virtqueue: crash, leak, timeout or build failure (see above; inputs in build/fuzz/artifacts/)"
	echo "FUZZ: 0 passed, 1 failed, 0 skipped"
	exit 1
fi
