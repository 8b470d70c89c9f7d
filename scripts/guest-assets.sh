#!/usr/bin/env bash
# guest-assets.sh: builds build/guest/{vmlinuz,initramfs.cpio.gz} (Debian kernel, busybox, our /init) when missing or stale.
#
# Env: BUILD (default build) is where the guest /init was built ($BUILD/firmware/init);
#      GUEST_DIR (default build/guest) is where the assets go. Prints nothing but progress on
#      stderr; the assets' paths are fixed: $GUEST_DIR/vmlinuz (bzImage),
#      $GUEST_DIR/initramfs.cpio.gz, and $GUEST_DIR/vmlinux (the same kernel as an ELF with
#      a PVH note: a symlink into the kernel cache, when it could be unpacked).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
BUILD="${BUILD:-build}"
GUEST_DIR="${GUEST_DIR:-build/guest}"

# Modules in the guest initramfs (dependencies are added by mkinitramfs.sh). nvme is for
# passed-through NVMe controllers (microvm.modules=nvme; it brings nvme-core).
GUEST_MODULES="pvpanic pvpanic-mmio virtio virtio_ring virtio_pci virtio_pci_modern_dev
virtio_pci_legacy_dev virtio_mmio virtio_blk virtio_net virtio_console virtio_rng vsock
vmw_vsock_virtio_transport vmw_vsock_virtio_transport_common nvme"

log() {
	echo "guest-assets: $*" >&2
}

. scripts/debian-kernel.sh

init_bin="$BUILD/firmware/init"
# Build the /init if needed (make knows when it is stale).
make --no-print-directory -s BUILD="$BUILD" "$init_bin" >&2

vmlinuz="$GUEST_DIR/vmlinuz"
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
	for input in "$init_bin" scripts/mkinitramfs.sh scripts/guest-assets.sh /bin/busybox \
		firmware/init/pcicheck.sh firmware/init/vfiocheck.sh; do
		if [[ "$input" -nt "$initramfs" ]]; then
			stale=1
			break
		fi
	done
fi

# The uncompressed ELF (PVH entry) skips the guest's own decompression.
if [[ -f "$DEBIAN_KERNEL_DIR/vmlinux" ]]; then
	target=$(realpath --relative-to="$GUEST_DIR" "$DEBIAN_KERNEL_DIR/vmlinux")
	if [[ "$(readlink "$GUEST_DIR/vmlinux" 2>/dev/null || true)" != "$target" ]]; then
		ln -sfn "$target" "$GUEST_DIR/vmlinux"
	fi
fi

if [[ $stale = 0 ]]; then
	exit 0
fi

log "building $initramfs for $DEBIAN_KERNEL_KVER"
cp -f "$DEBIAN_KERNEL_DIR/vmlinuz" "$vmlinuz.tmp"
mv -f "$vmlinuz.tmp" "$vmlinuz"
scripts/mkinitramfs.sh -o "$initramfs" --init "$init_bin" \
	--kernel-dir "$DEBIAN_KERNEL_DIR" --modules "$GUEST_MODULES" \
	--add firmware/init/pcicheck.sh:/bin/pcicheck \
	--add firmware/init/vfiocheck.sh:/bin/vfiocheck
echo "$want" >"$stamp"
log "$vmlinuz ($(du -h "$vmlinuz" | cut -f1)), $initramfs ($(du -h "$initramfs" | cut -f1))"
