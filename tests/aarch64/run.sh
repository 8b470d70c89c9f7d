#!/usr/bin/env bash
# run.sh: the aarch64 layer: `make ARCH=aarch64`, then the nested aarch64 rig (tests/rig/aarch64-rig.sh) runs
# tests/aarch64/in-rig.sh: the arm64 microvm boots the tiny arm64 guest and Debian's arm64 kernel on real KVM.
#
# Env: BUILD (default build; the arm64 build goes to build-aarch64); SKIP_AARCH64=1 skips the layer.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
. tests/lib.sh
export BUILD="${BUILD:-build}"

skip() {
	t_skip aarch64 "$1"
	t_summary A64
	exit 0
}

[[ "${SKIP_AARCH64:-}" = 1 ]] && skip "SKIP_AARCH64=1"
for tool in aarch64-linux-gnu-gcc qemu-system-aarch64; do
	if ! command -v "$tool" >/dev/null; then
		[[ "${CI:-}" = true ]] && { t_fail aarch64 "$tool missing under CI (scripts/deps.sh installs it)"; t_summary A64; exit 1; }
		skip "$tool not installed (scripts/deps.sh)"
	fi
done

# The cross build: warnings are errors there too.
if ! out=$(make -s -j2 ARCH=aarch64 BUILD=build-aarch64 2>&1); then
	t_fail aarch64-cross-build "$(tail -c 600 <<<"$out")"
	t_summary A64
	exit 1
fi
t_ok aarch64-cross-build
if file build-aarch64/microvm | grep -q 'ARM aarch64.*statically linked'; then
	t_ok aarch64-static-binary
else
	t_fail aarch64-static-binary "$(file build-aarch64/microvm)"
fi
[[ -f "$BUILD/firmware/tiny-aarch64.Image" ]] || make -s "$BUILD/firmware/tiny-aarch64.Image"

# The arm64 kernel the rig boots is also the one its microvm boots.
kdir=$(MICROVM_KERNEL_ARCH=arm64 scripts/debian-kernel.sh) || { t_fail aarch64-kernel "cannot fetch Debian's arm64 kernel"; t_summary A64; exit 1; }

res=$(mktemp)
trap 'rm -f "$res"' EXIT
tests/rig/aarch64-rig.sh --timeout "${A64_RIG_TIMEOUT:-900}" -- \
	tests/aarch64/in-rig.sh "$BUILD/firmware/tiny-aarch64.Image" "$kdir/Image" | tee "$res"
rig=${PIPESTATUS[0]}
T_PASS=$((T_PASS + $(grep -c '^ok - ' "$res")))
T_FAIL=$((T_FAIL + $(grep -c '^not ok - ' "$res")))
[[ "$rig" = 0 ]] || t_fail aarch64-rig "the rig run ended with status $rig"
grep -q '^# in-rig done' "$res" || t_fail aarch64-rig "the in-rig script did not finish"
t_summary A64
