#!/usr/bin/env bash
# x86-rig.sh: runs a command inside an emulated x86 host (QEMU TCG, -cpu max) that has a working /dev/kvm (kvm_amd).
#
# Usage: tests/rig/x86-rig.sh [--interactive] [--smp N] [--mem SIZE] [--timeout SECS]
#                            [--kernel debian|iommufd] -- CMD [ARGS...]
#
# The rig boots the cached Debian kernel with a small initramfs (tests/rig/x86-rig-init.sh),
# mounts this machine's / read-only over 9p, mounts this checkout writable at the same path,
# loads kvm_amd, and runs CMD with bash in a chroot of it, in the checkout (so build/microvm works).
#   --interactive  CMD gets the rig's serial console (your terminal) as its controlling tty.
#                  Ctrl-] x leaves QEMU; Ctrl-A reaches CMD (e.g. microvm's Ctrl-A x).
#   --smp N        rig vCPUs (default 1; see below)   --mem SIZE  rig memory (default 2G)
#   --timeout S    kill the rig after S seconds (default 600; 0: none)
#   --kernel K     the rig host's kernel (default $RIG_KERNEL_FLAVOUR, or debian):
#                  debian   Debian's generic kernel and its modules (scripts/debian-kernel.sh)
#                  iommufd  ours, from Debian's linux-source with IOMMUFD and VFIO cdevs, all
#                           built in (scripts/rig-kernel.sh: cached outside the checkout,
#                           built when missing, which takes minutes and says so on stderr)
#                  CMD sees MICROVM_RIG_KERNEL=debian|iommufd.
# Otherwise CMD's stdin is /dev/null and its stdout and stderr come out on our stdout.
# The rig kernel's console goes to build/cache/rig/jobs/<job>/console.log (kept when the
# run fails), never to our output.
# Env passed through to CMD: CI, BUILD, SKIP_L2, V, TERM and every MICROVM_* variable.
# RIG_CPU overrides the rig's -cpu (default max,phys-bits=46,family=23,model=1).
# RIG_KERNEL_ARGS is appended to the rig kernel's command line; RIG_QEMU_ARGS (words) to
# QEMU's (e.g. "-device intel-iommu -device edu"); RIG_VERBOSE=1 reports the rig's wall time.
#
# One rig vCPU by default: with two, the rig kernel sometimes livelocks in its int3
# text-patching handler under QEMU 7.2's multi-threaded TCG (seen here 3 times in ~10
# runs, once the rig starts KVM guests), and single-threaded TCG lost an L2 boot at SMP
# bring-up; with one rig vCPU, L2 guests with 2 vCPUs boot as fast and did not hang.
# RIG_TCG_THREAD=single|multi picks QEMU's TCG threading (default multi).
#
# Exit status: CMD's, or 124 if the rig timed out, or 125 if the rig itself failed
# (with a message on stderr).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
me="x86-rig"
. "$repo/tests/rig/rig-lib.sh"

rig_parse_args "$@"
set -- "${rig_cmd[@]}"

command -v qemu-system-x86_64 >/dev/null ||
	rig_fail "qemu-system-x86_64 not found (install qemu-system-x86: scripts/deps.sh)"
[[ "$repo" != *[[:space:]]* ]] || rig_fail "the checkout path '$repo' contains whitespace"

# ---- rig assets: the kernel and a cached rig initramfs ----
cd "$repo"
rig_cache="$repo/build/cache/rig"
mkdir -p "$rig_cache/jobs"

# Debian's kernel: the initramfs carries the modules the rig loads.
debian_assets() {
	. scripts/debian-kernel.sh

	RIG_MODULES="virtio_pci 9p 9pnet 9pnet_virtio irqbypass kvm kvm_amd ccp
vfio vfio_iommu_type1 vfio-pci vfio_virqfd tun vhost_vsock"

	inputs_hash=$(cat tests/rig/x86-rig-init.sh scripts/mkinitramfs.sh /bin/busybox |
		cat - <(echo "$RIG_MODULES $DEBIAN_KERNEL_PKG $DEBIAN_KERNEL_VERSION") |
		sha256sum | cut -c1-16)
	rig_initrd="$rig_cache/initramfs-$DEBIAN_KERNEL_KVER-$inputs_hash.cpio.gz"
	if [[ ! -f "$rig_initrd" ]]; then
		echo "$me: building $rig_initrd" >&2
		scripts/mkinitramfs.sh -o "$rig_initrd" --init tests/rig/x86-rig-init.sh \
			--kernel-dir "$DEBIAN_KERNEL_DIR" --modules "$RIG_MODULES" ||
			rig_fail "building the rig initramfs failed"
		find "$rig_cache" -maxdepth 1 -name 'initramfs-*.cpio.gz' ! -path "$rig_initrd" -delete
	fi
	# The ELF vmlinux boots through PVH: no kernel decompression on the emulated CPU (~4 s).
	rig_kernel="$DEBIAN_KERNEL_DIR/vmlinux"
	[[ -f "$rig_kernel" ]] || rig_kernel="$DEBIAN_KERNEL_DIR/vmlinuz"
}

# Our iommufd kernel: everything built in, so the initramfs has no modules. Its initramfs
# lives in a subdir, so that the Debian one beside it is kept.
iommufd_assets() {
	local kdir dir
	kdir=$(scripts/rig-kernel.sh) || rig_fail "no iommufd rig kernel (scripts/rig-kernel.sh failed; see above)"
	dir="$rig_cache/iommufd"
	mkdir -p "$dir"
	inputs_hash=$(cat tests/rig/x86-rig-init.sh scripts/mkinitramfs.sh /bin/busybox | sha256sum | cut -c1-16)
	rig_initrd="$dir/initramfs-$inputs_hash.cpio.gz"
	if [[ ! -f "$rig_initrd" ]]; then
		echo "$me: building $rig_initrd" >&2
		scripts/mkinitramfs.sh -o "$rig_initrd" --init tests/rig/x86-rig-init.sh ||
			rig_fail "building the rig initramfs failed"
		find "$dir" -maxdepth 1 -name 'initramfs-*.cpio.gz' ! -path "$rig_initrd" -delete
	fi
	rig_kernel="$kdir/vmlinux"
	[[ -f "$rig_kernel" ]] || rig_fail "$kdir has no vmlinux (remove that dir to rebuild it)"
}

case "$kernel_flavour" in
debian) debian_assets ;;
iommufd) iommufd_assets ;;
*) rig_fail "unknown --kernel '$kernel_flavour' (debian or iommufd)" ;;
esac
export MICROVM_RIG_KERNEL="$kernel_flavour"

# ---- the job: a bash script in the writable checkout, read by the rig ----
rig_new_job "$rig_cache"
rig_write_job "# job.sh: generated by tests/rig/x86-rig.sh; runs inside the rig's chroot." x86 \
	/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@" >"$job/job.sh"

append="console=ttyS0 loglevel=7 panic=-1 rig.token=$token rig.repo=$repo rig.job=$job ${RIG_KERNEL_ARGS:-}"
# 46 physical address bits, as on real GPU hosts (TCG's default is 40, too
# few for the 64-bit BARs of 8 GPUs). Family 23 (Zen): with TCG's default
# family 15, Linux guests believe an AMD GART is present and sweep all 256
# buses twice through port 0xcf8 (~33,000 exits per boot) looking for it.
qemu=(qemu-system-x86_64 -accel "tcg,thread=${RIG_TCG_THREAD:-multi}" -M q35
	-cpu "${RIG_CPU:-max,phys-bits=46,family=23,model=1}" -smp "$smp" -m "$mem"
	-nodefaults -no-user-config -display none -no-reboot
	-kernel "$rig_kernel" -initrd "$rig_initrd"
	-virtfs "local,path=/,mount_tag=hostroot,readonly=on,security_model=none,multidevs=remap"
	-virtfs "local,path=$repo,mount_tag=repo,security_model=none,multidevs=remap")
# shellcheck disable=SC2206 # words on purpose
qemu+=(${RIG_QEMU_ARGS:-})

# The job's channel is the second serial port (ttyS1 in the rig).
rig_con_args=(-serial chardev:con)
rig_boot_hint="~6 s"
rig_run
