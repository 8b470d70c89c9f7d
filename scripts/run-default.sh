#!/usr/bin/env bash
# run-default.sh: `make run`: boots the guest (Debian kernel + our /init) to a busybox shell, directly or inside the x86 rig.
#
# Usage: scripts/run-default.sh [EXTRA MICROVM RUN ARGS...]   (make run ARGS="...")
# Env: BUILD (default build). The exit status is microvm's (0 poweroff, 3 reboot, 4 panic,
# 6 Ctrl-A x, ...); inside the rig, 124/125 mean the rig timed out / failed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD="${BUILD:-build}"
export BUILD

[[ -x "$BUILD/microvm" ]] || { echo "run-default: $BUILD/microvm is not built (run make)" >&2; exit 1; }
scripts/guest-assets.sh

cmdline="console=ttyS0 reboot=k panic=-1 quiet microvm.init=shell"
# A serial console cannot report the terminal's size; hand it to our /init.
if [[ -t 0 ]] && size=$(stty size 2>/dev/null) && [[ "$size" =~ ^[1-9][0-9]*\ [1-9][0-9]*$ ]]; then
	cmdline+=" microvm.rows=${size% *} microvm.cols=${size#* }"
fi
cmd=("$BUILD/microvm" run --kernel build/guest/vmlinuz --initrd build/guest/initramfs.cpio.gz
	--cpus 2 --memory 512M --cmdline "$cmdline" "$@")

why=""
if [[ -d /sys/module/kvm_pvm ]]; then
	why="this host's KVM (kvm_pvm) emulates guest kernel code and cannot run a Linux guest"
elif [[ ! -e /dev/kvm ]]; then
	why="this host has no /dev/kvm"
elif [[ ! -r /dev/kvm || ! -w /dev/kvm ]]; then
	why="/dev/kvm is not accessible to $(id -un)"
fi

if [[ -z "$why" ]]; then
	exec "${cmd[@]}"
fi
echo "run-default: $why, so the microVM runs inside the x86 rig (QEMU TCG): about a minute to the shell; Ctrl-A x stops the microVM, Ctrl-] x leaves QEMU." >&2
exec tests/rig/x86-rig.sh --interactive --timeout 0 -- "${cmd[@]}"
