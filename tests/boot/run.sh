#!/usr/bin/env bash
# run.sh: the L2 layer (`make test-boot`): an x86 rig runs tests/boot/l2-tests.sh, a second one with an IOMMU and endpoints tests/boot/vfio/run.sh; prints their results and "L2: ..." summary.
#
# Env: BUILD (default build); SKIP_L2=1 skips the layer (CI never sets it);
#      L2_RIG_TIMEOUT (default 1500 s) bounds the first rig run; L2_ONLY selects tests
#      (of both runs); L2_VFIO=0 leaves out the VFIO rig, L2_IOMMUFD=0 the iommufd one.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export BUILD="${BUILD:-build}"

skip() {
	echo "skip - L2: $1"
	echo "L2: skipped ($1): 0 passed, 0 failed, 1 skipped"
	exit 0
}

if [[ "${SKIP_L2:-}" = 1 ]]; then
	[[ "${CI:-}" = true ]] && echo "note: SKIP_L2=1 is set under CI=true" >&2
	skip "SKIP_L2=1"
fi
if ! command -v qemu-system-x86_64 >/dev/null; then
	[[ "${CI:-}" = true ]] && { echo "L2: 0 passed, 1 failed, 0 skipped (qemu-system-x86_64 missing under CI; run scripts/deps.sh)"; exit 1; }
	skip "qemu-system-x86_64 not installed"
fi

scripts/guest-assets.sh

out=$(mktemp)
trap 'rm -f "$out"' EXIT
set +e
# shellcheck disable=SC2016 # expanded inside the rig
tests/rig/x86-rig.sh --timeout "${L2_RIG_TIMEOUT:-1500}" -- \
	env L2_ONLY="${L2_ONLY:-}" tests/boot/l2-tests.sh | tee "$out"
rig_status=${PIPESTATUS[0]}
set -e

passed=$(grep -c '^ok - ' "$out" || true)
failed=$(grep -c '^not ok - ' "$out" || true)
plan=$(sed -n 's/^# plan \([0-9]*\)$/\1/p' "$out" | head -n1)
if [[ $rig_status = 124 || $rig_status = 125 ]]; then
	echo "not ok - rig: the x86 rig failed (status $rig_status; see the messages above)"
	failed=$((failed + 1))
elif [[ -z "$plan" ]]; then
	echo "not ok - l2-tests: no plan line (l2-tests.sh status $rig_status)"
	failed=$((failed + 1))
elif ((passed + failed < plan)); then
	echo "not ok - l2-tests: only $((passed + failed)) of $plan tests reported (status $rig_status)"
	failed=$((failed + plan - passed - failed))
elif ((failed == 0 && rig_status != 0)); then
	echo "not ok - l2-tests: all passed but l2-tests.sh exited with status $rig_status"
	failed=$((failed + 1))
fi

# VFIO passthrough of real (emulated) endpoints: a rig host with intel-iommu.
if [[ "${L2_VFIO:-1}" != 0 ]]; then
	echo "# L2 VFIO: a second rig with an IOMMU and nvme, edu and ivshmem endpoints"
	# Its failures are counted from its summary: they must not end this script (set -e).
	tests/boot/vfio/run.sh | tee "$out" || true
	line=$(grep -E '^L2-VFIO: ' "$out" | tail -n1)
	if [[ -z "$line" ]]; then
		echo "not ok - l2-vfio: no summary line"
		failed=$((failed + 1))
	else
		passed=$((passed + $(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+')))
		failed=$((failed + $(grep -oE '[0-9]+ failed' <<<"$line" | grep -oE '[0-9]+')))
	fi
fi
# iommufd: the VFIO rig again, its host on our kernel with IOMMUFD and VFIO cdevs
# (scripts/rig-kernel.sh: built into its cache outside the checkout when missing, ~16 min
# on 2 cores, said on stderr): the kernel's own checks, then the device cases through iommufd.
# count_summary FILE LABEL: add FILE's "LABEL: N passed, N failed" line to the totals.
count_summary() {
	local line
	line=$(grep -E "^$2: " "$1" | tail -n1)
	if [[ -z "$line" ]]; then
		echo "not ok - ${2,,}: no summary line"
		failed=$((failed + 1))
	else
		passed=$((passed + $(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+')))
		failed=$((failed + $(grep -oE '[0-9]+ failed' <<<"$line" | grep -oE '[0-9]+')))
	fi
}
if [[ "${L2_IOMMUFD:-1}" != 0 ]]; then
	echo "# L2 iommufd: the VFIO rig on a kernel with IOMMUFD and VFIO cdevs"
	tests/boot/vfio/iommufd-kernel.sh | tee "$out" || true
	count_summary "$out" L2-IOMMUFD
	L2_VFIO_RIG_KERNEL=iommufd tests/boot/vfio/run.sh | tee "$out" || true
	count_summary "$out" L2-IOMMUFD-VFIO
fi
echo "L2: $passed passed, $failed failed, 0 skipped"
[[ $failed = 0 ]]
