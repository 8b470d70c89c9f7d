#!/usr/bin/env bash
# guest-assets.sh: builds build/guest/{vmlinuz,initramfs.cpio.gz} (Debian kernel, busybox, our /init) when missing or stale; GUEST_ARCH=arm64 the arm64 ones.
#
# Env: GUEST_ARCH (Debian's name: amd64, the default, or arm64) is the guest's architecture.
#      amd64: BUILD (default build) is where the guest /init was built ($BUILD/firmware/init);
#      GUEST_DIR (default build/guest) is where the assets go. Prints nothing but progress on
#      stderr; the assets' paths are fixed: $GUEST_DIR/vmlinuz (bzImage),
#      $GUEST_DIR/initramfs.cpio.gz, and $GUEST_DIR/vmlinux (the same kernel as an ELF with
#      a PVH note: a symlink into the kernel cache, when it could be unpacked).
#      arm64: Debian's arm64 kernel (the rig's: MICROVM_RIG_KERNEL_PKG picks another), the
#      arm64 busybox-static (scripts/debian-pkg.sh, unpacked, never installed) and the /init
#      of the aarch64 build (A64_BUILD, default build-aarch64: make ARCH=aarch64); GUEST_DIR
#      defaults to build/guest-arm64, with $GUEST_DIR/Image (a symlink into the kernel cache)
#      and $GUEST_DIR/initramfs.cpio.gz.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
GUEST_ARCH="${GUEST_ARCH:-amd64}"
case "$GUEST_ARCH" in
amd64)
	BUILD="${BUILD:-build}"
	GUEST_DIR="${GUEST_DIR:-build/guest}"
	busybox=/bin/busybox
	;;
arm64)
	BUILD="${A64_BUILD:-build-aarch64}"
	GUEST_DIR="${GUEST_DIR:-build/guest-arm64}"
	# The x86 guests' MICROVM_KERNEL_PKG (an amd64 package) does not apply here.
	export MICROVM_KERNEL_ARCH=arm64 MICROVM_KERNEL_PKG="${MICROVM_RIG_KERNEL_PKG:-}"
	;;
*)
	echo "guest-assets: error: GUEST_ARCH=$GUEST_ARCH: amd64 or arm64" >&2
	exit 2
	;;
esac

# Modules in the guest initramfs (dependencies are added by mkinitramfs.sh). nvme is for
# passed-through NVMe controllers (microvm.modules=nvme; it brings nvme-core). The same list
# serves arm64, whose kernel has virtio, virtio_ring and the PCIe port driver built in and
# no pvpanic (mkinitramfs.sh skips what is built in or absent).
GUEST_MODULES="pvpanic pvpanic-mmio virtio virtio_ring virtio_pci virtio_pci_modern_dev
virtio_pci_legacy_dev virtio_mmio virtio_blk virtio_net virtio_console virtio_rng vsock
vmw_vsock_virtio_transport vmw_vsock_virtio_transport_common nvme"

log() {
	echo "guest-assets: $*" >&2
}

. scripts/debian-kernel.sh

init_bin="$BUILD/firmware/init"
# Build the /init if needed (make knows when it is stale).
if [[ "$GUEST_ARCH" = amd64 ]]; then
	make --no-print-directory -s BUILD="$BUILD" "$init_bin" >&2
else
	make --no-print-directory -s ARCH=aarch64 BUILD="$BUILD" "$init_bin" >&2
	busybox="$(scripts/debian-pkg.sh busybox-static:arm64)/bin/busybox"
fi

vmlinuz="$GUEST_DIR/vmlinuz"
# arm64: the kernel is the cache's uncompressed Image, linked (kept fresh below).
[[ "$GUEST_ARCH" = amd64 ]] || vmlinuz="$GUEST_DIR/Image"
initramfs="$GUEST_DIR/initramfs.cpio.gz"
stamp="$GUEST_DIR/kernel-pkg"
mkdir -p "$GUEST_DIR"
# One builder at a time (make run beside make test-boot, or two checkouts' rigs).
exec {lockfd}>"$GUEST_DIR/.lock"
flock "$lockfd"

want="$DEBIAN_KERNEL_PKG $DEBIAN_KERNEL_VERSION"
have="$(cat "$stamp" 2>/dev/null || true)"

stale=0
if [[ "$have" != "$want" || ! -f "$vmlinuz" || ! -f "$initramfs" ]]; then
	stale=1
else
	for input in "$init_bin" scripts/mkinitramfs.sh scripts/guest-assets.sh "$busybox" \
		firmware/init/pcicheck.sh firmware/init/vfiocheck.sh; do
		if [[ "$input" -nt "$initramfs" ]]; then
			stale=1
			break
		fi
	done
fi

# link_cached NAME: $GUEST_DIR/NAME, a relative symlink to the kernel cache's NAME, if it has one.
link_cached() {
	local target
	[[ -f "$DEBIAN_KERNEL_DIR/$1" ]] || return 0
	target=$(realpath --relative-to="$GUEST_DIR" "$DEBIAN_KERNEL_DIR/$1")
	if [[ "$(readlink "$GUEST_DIR/$1" 2>/dev/null || true)" != "$target" ]]; then
		ln -sfn "$target" "$GUEST_DIR/$1"
	fi
}
if [[ "$GUEST_ARCH" = amd64 ]]; then
	# The uncompressed ELF (PVH entry) skips the guest's own decompression.
	link_cached vmlinux
else
	link_cached Image
fi

if [[ $stale = 0 ]]; then
	exit 0
fi

log "building $initramfs for $DEBIAN_KERNEL_KVER"
if [[ "$GUEST_ARCH" = amd64 ]]; then
	cp -f "$DEBIAN_KERNEL_DIR/vmlinuz" "$vmlinuz.tmp"
	mv -f "$vmlinuz.tmp" "$vmlinuz"
fi
scripts/mkinitramfs.sh -o "$initramfs" --init "$init_bin" --busybox "$busybox" \
	--kernel-dir "$DEBIAN_KERNEL_DIR" --modules "$GUEST_MODULES" \
	--add firmware/init/pcicheck.sh:/bin/pcicheck \
	--add firmware/init/vfiocheck.sh:/bin/vfiocheck
echo "$want" >"$stamp"
log "$vmlinuz ($(du -hL "$vmlinuz" | cut -f1)), $initramfs ($(du -h "$initramfs" | cut -f1))"
