#!/usr/bin/env bash
# run.sh: the aarch64 layer: `make ARCH=aarch64`, then the nested aarch64 rig (tests/rig/aarch64-rig.sh) runs
# tests/aarch64/in-rig.sh: the arm64 microvm boots the tiny arm64 guest and Debian's arm64 kernel on real KVM,
# with no initrd and with our arm64 initramfs (the L2 checks: CPUs, memory, PCIe, MSI-X, blk, vsock, rng, stops);
# then a second rig with QEMU's SMMUv3 and edu endpoints runs its VFIO cases.
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

# The L2 guest: the arm64 kernel the rig boots (it is also the one its microvm boots) and our
# arm64 initramfs (scripts/guest-assets.sh), with a second cpio appended for the tests: the
# guest's checks (tests/aarch64/l2-guest.sh as /bin/a64check) and the arm64 sock-helper,
# which also serves the rig's side of vsock.
if ! out=$(GUEST_ARCH=arm64 scripts/guest-assets.sh 2>&1); then
	t_fail aarch64-guest-assets "$(tail -c 600 <<<"$out")"
	t_summary A64
	exit 1
fi
guest=build/guest-arm64
a64t=build-aarch64/tests/aarch64
sockh=$a64t/sock-helper
l2_initrd=$a64t/initramfs-l2.cpio.gz
mkdir -p "$a64t"
if [[ ! -x "$sockh" || tests/boot/devices/sock-helper.c -nt "$sockh" ]] &&
	! out=$(aarch64-linux-gnu-gcc -std=gnu11 -O2 -Wall -Wextra -Werror -static -s \
		-o "$sockh" tests/boot/devices/sock-helper.c 2>&1); then
	t_fail aarch64-sock-helper "$(tail -c 600 <<<"$out")"
fi
# The escape-key test's pty driver (the rig has no python or script(1)).
if [[ ! -x "$a64t/tty-escape" || tests/aarch64/tty-escape.c -nt "$a64t/tty-escape" ]] &&
	! out=$(aarch64-linux-gnu-gcc -std=gnu11 -O2 -Wall -Wextra -Werror -static -s \
		-o "$a64t/tty-escape" tests/aarch64/tty-escape.c 2>&1); then
	t_fail aarch64-tty-escape-build "$(tail -c 600 <<<"$out")"
fi
stage=$(mktemp -d)
chmod 0755 "$stage"
mkdir -p "$stage/bin"
install -m 0755 "$sockh" "$stage/bin/sock-helper"
install -m 0755 tests/aarch64/l2-guest.sh "$stage/bin/a64check"
# The kernel unpacks concatenated (compressed) cpio archives in order.
(cd "$stage" && find . | LC_ALL=C sort | cpio -o -H newc --owner=0:0 --quiet) | gzip -6n >"$stage.cpio.gz"
cat "$guest/initramfs.cpio.gz" "$stage.cpio.gz" >"$l2_initrd"
rm -rf "$stage" "$stage.cpio.gz"

res=$(mktemp)
trap 'rm -f "$res"' EXIT
tests/rig/aarch64-rig.sh --timeout "${A64_RIG_TIMEOUT:-900}" -- \
	tests/aarch64/in-rig.sh "$BUILD/firmware/tiny-aarch64.Image" "$guest/Image" "$l2_initrd" "$sockh" | tee "$res"
rig=${PIPESTATUS[0]}
T_PASS=$((T_PASS + $(grep -c '^ok - ' "$res")))
T_FAIL=$((T_FAIL + $(grep -c '^not ok - ' "$res")))
[[ "$rig" = 0 ]] || t_fail aarch64-rig "the rig run ended with status $rig"
grep -q '^# in-rig done' "$res" || t_fail aarch64-rig "the in-rig script did not finish"

# VFIO through QEMU's SMMUv3 (~2 min): a second rig with iommu=smmuv3, two edu endpoints (DMA
# mask wide enough for guest RAM), one behind a pcie-root-port and one on the root bus, and an
# nvme behind its own root port on a file of this machine's; only in-rig.sh's VFIO cases run
# there (bind to vfio-pci, vfio-check, the tiny guest finds each edu and DMAs through it, Linux
# enumerates one and its nvme driver reads and writes the nvme).
nvme_img=$a64t/nvme.img
rm -f "$nvme_img"
head -c 1048576 /dev/urandom >"$nvme_img"
truncate -s 64M "$nvme_img"
MICROVM_TEST_NVME_SHA=$(head -c 1048576 "$nvme_img" | sha256sum | cut -d' ' -f1)
export MICROVM_TEST_NVME_SHA
# shellcheck disable=SC2054 # commas inside QEMU options
RIG_MACHINE=virt,virtualization=on,gic-version=3,iommu=smmuv3 \
	RIG_QEMU_ARGS="-device pcie-root-port,id=a64rp1,chassis=1,slot=1 -device edu,bus=a64rp1,dma_mask=0xffffffffffff -device edu,bus=pcie.0,addr=0x5,dma_mask=0xffffffffffff -drive file=$nvme_img,if=none,id=a64nvme,format=raw -device pcie-root-port,id=a64rp2,chassis=2,slot=2 -device nvme,bus=a64rp2,drive=a64nvme,serial=a64nvme" \
	tests/rig/aarch64-rig.sh --timeout "${A64_RIG_TIMEOUT:-900}" -- \
	tests/aarch64/in-rig.sh "$BUILD/firmware/tiny-aarch64.Image" "$guest/Image" "$l2_initrd" "" vfio | tee "$res"
rig=${PIPESTATUS[0]}
T_PASS=$((T_PASS + $(grep -c '^ok - ' "$res")))
T_FAIL=$((T_FAIL + $(grep -c '^not ok - ' "$res")))
[[ "$rig" = 0 ]] || t_fail aarch64-vfio-rig "the SMMUv3 rig run ended with status $rig"
grep -q '^# in-rig done' "$res" || t_fail aarch64-vfio-rig "the in-rig script did not finish"
grep -q '^ok - a64-vfio-0000:01:00.0-guest-sees-edu' "$res" ||
	t_fail aarch64-vfio-rig "the VFIO cases did not run or did not pass (no SMMUv3 or edu in the rig?)"
# What the guest's nvme driver wrote at 1 MiB is the first MiB of its /bin/busybox (arm64).
if grep -q '^ok - a64-vfio-nvme$' "$res"; then
	bb="$(scripts/debian-pkg.sh busybox-static:arm64)/bin/busybox"
	if cmp -s <(head -c 2097152 "$nvme_img" | tail -c 1048576) <(head -c 1048576 "$bb"); then
		t_ok a64-vfio-nvme-backing-file
	else
		t_fail a64-vfio-nvme-backing-file "bytes 1M-2M of $nvme_img are not what the guest wrote"
	fi
fi
# --dump-fdt wrote the guest's device tree: it decompiles, and says what the guest was given.
dts=$(dtc -q -I dtb -O dts build-aarch64/tests/aarch64/dump.dtb 2>&1)
if [[ $? -ne 0 ]]; then
	t_fail a64-dump-fdt-decompiles "$(head -c 300 <<<"$dts")"
elif ! grep -q 'bootargs = "tiny.mode=hello"' <<<"$dts" || ! grep -q 'compatible = "pci-host-ecam-generic"' <<<"$dts" ||
	[[ $(grep -c 'device_type = "cpu"' <<<"$dts") != 2 ]]; then
	t_fail a64-dump-fdt-decompiles "bootargs, the ECAM host bridge or 2 cpus missing"
else
	t_ok a64-dump-fdt-decompiles
fi
t_summary A64
