#!/usr/bin/env bash
# rust.sh: the Rust binding (bindings/rust): `cargo test` on this machine, and its KVM test (boots the tiny guest) inside the x86 rig when this machine has no /dev/kvm.
#
# Env: BUILD (default build): libmicrovm.a and the tiny guest are taken from it, cargo
#      builds into $BUILD/rust; RUST_RIG=0 leaves out the rig run (reported as skipped).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh

BUILD=${BUILD:-build}
CRATE=bindings/rust/Cargo.toml
KVM_TEST=tests::boots_tiny_guest
export CARGO_TARGET_DIR=$PWD/$BUILD/rust
export MICROVM_LIB_DIR=$PWD/$BUILD
export MICROVM_TINY=${MICROVM_TINY:-$PWD/$BUILD/firmware/tiny.bzImage}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# report FILE: an ok / not ok line for each `test NAME ... ok|FAILED` line of
# cargo's output (ignored tests are skips); a failure quotes its panic message.
# Sets REPORTED to the number of test lines seen.
report() {
	local line name res why
	REPORTED=0
	while IFS= read -r line; do
		[[ "$line" =~ ^test\ (.+)\ \.\.\.\ (ok|FAILED|ignored)$ ]] || continue
		name=${BASH_REMATCH[1]} res=${BASH_REMATCH[2]}
		REPORTED=$((REPORTED + 1))
		case "$res" in
		ok) t_ok "rust: $name" ;;
		ignored) t_skip "rust: $name" "ignored" ;;
		FAILED)
			why=$(awk -v h="---- $name stdout ----" '$0 == h { f = 1; next }
				f && /^(---- |failures:$)/ { exit } f' "$1" | grep -m1 -A2 'panicked at' | tr '\n' ' ')
			t_fail "rust: $name" "${why:-see the cargo output above}"
			;;
		esac
	done <"$1"
}

if [[ -n "${SAN:-}" ]]; then
	# cargo links the archive without the sanitizer runtimes; the C tests cover SAN builds.
	t_skip rust "not under SAN=$SAN (the crate links the plain libmicrovm.a)"
	t_summary RUST
	exit
fi
if ! command -v cargo >/dev/null; then
	if [[ "${CI:-}" = true ]]; then
		t_fail rust "cargo missing under CI (apt-get install cargo)"
	else
		t_skip rust "cargo not installed"
	fi
	t_summary RUST
	exit
fi
if [[ ! -f "$MICROVM_LIB_DIR/libmicrovm.a" ]]; then
	t_fail rust "$MICROVM_LIB_DIR/libmicrovm.a not built (run make)"
	t_summary RUST
	exit
fi
echo "# rust: $(cargo --version), $(rustc --version 2>/dev/null)"

# --- host tests (the KVM test too when this machine has /dev/kvm) ---
skip=()
[[ -e /dev/kvm ]] || skip=(--skip "$KVM_TEST")
cargo test --release --offline --manifest-path "$CRATE" -- "${skip[@]}" >"$T/host.out" 2>&1
rc=$?
report "$T/host.out"
if [[ "$rc" != 0 ]] && ! grep -q '^test .* \.\.\. FAILED$' "$T/host.out"; then
	t_fail "rust: cargo test" "status $rc: $(tail -c 1500 "$T/host.out")"
elif [[ "$rc" != 0 ]]; then
	grep -A20 '^failures:$' "$T/host.out" | head -60 | sed 's/^/#   /'
elif [[ "$REPORTED" = 0 ]]; then
	t_fail "rust: cargo test" "no test results in its output: $(tail -c 600 "$T/host.out")"
fi

# --- the KVM test inside the x86 rig ---
if [[ -e /dev/kvm ]]; then
	: # ran above
elif [[ "${RUST_RIG:-1}" = 0 ]]; then
	t_skip "rust: $KVM_TEST (rig)" "RUST_RIG=0"
elif ! command -v qemu-system-x86_64 >/dev/null; then
	if [[ "${CI:-}" = true ]]; then
		t_fail "rust: $KVM_TEST (rig)" "no /dev/kvm and qemu-system-x86_64 missing under CI"
	else
		t_skip "rust: $KVM_TEST (rig)" "no /dev/kvm and no qemu-system-x86_64 for the rig"
	fi
else
	bin=$(cargo test --release --offline --manifest-path "$CRATE" --no-run --message-format=json 2>"$T/build.err" |
		grep -o '"executable":"[^"]*"' | head -1 | cut -d'"' -f4)
	if [[ -z "$bin" || ! -x "$bin" ]]; then
		t_fail "rust: $KVM_TEST (rig)" "test binary not found: $(tail -c 400 "$T/build.err")"
	else
		echo "# rust: no /dev/kvm on this machine; running $KVM_TEST inside the x86 rig"
		tests/rig/x86-rig.sh --timeout 300 -- env MICROVM_TINY="$MICROVM_TINY" \
			"$bin" "$KVM_TEST" --exact --nocapture >"$T/rig.out" 2>&1
		rc=$?
		sed 's/^/#   /' "$T/rig.out"
		if [[ "$rc" = 0 ]] && grep -q '^test result: ok\. 1 passed' "$T/rig.out" &&
			! grep -q 'skipping boots_tiny_guest' "$T/rig.out"; then
			t_ok "rust: $KVM_TEST (rig)"
		elif grep -q 'skipping boots_tiny_guest' "$T/rig.out"; then
			t_fail "rust: $KVM_TEST (rig)" "skipped inside the rig: no /dev/kvm there"
		else
			t_fail "rust: $KVM_TEST (rig)" "status $rc: $(grep -m1 -A3 'panicked at' "$T/rig.out" | tr '\n' ' ')"
		fi
	fi
fi

t_summary RUST
