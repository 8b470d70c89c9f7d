#!/bin/sh
# x86-rig-init.sh: /init of the x86 rig host (busybox sh): mounts this machine's root over 9p, loads kvm_amd, runs the job, powers off.
#
# ttyS0 is the rig's kernel console (a log file on the host); ttyS1 carries only the job's
# terminal (or its stdout/stderr) and our markers, so no rig kernel message mixes with them.
#
# Kernel command line (set by tests/rig/x86-rig.sh):
#   rig.token=T        marks our own ttyS1 lines: RIG-BEGIN T, RIG-END T status=N, RIG-ERROR T ...
#   rig.repo=PATH      the checkout, shared writable as mount_tag "repo", mounted at PATH in /host
#   rig.job=PATH       job dir (inside the repo): job.sh to run; we write "status" there
#   rig.interactive=1  the job gets /dev/ttyS0 as its controlling tty
#   rig.rows=R rig.cols=C  terminal size for the interactive tty
#   rig.msize=N        9p msize
export PATH=/usr/sbin:/usr/bin:/sbin:/bin

mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
# A task stuck for 30 s gets its stack printed (KERN_ERR reaches the console log).
echo 30 >/proc/sys/kernel/hung_task_timeout_secs 2>/dev/null

token="" repo="" job="" interactive=0 rows="" cols="" msize=512000
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	rig.token=*) token="${arg#rig.token=}" ;;
	rig.repo=*) repo="${arg#rig.repo=}" ;;
	rig.job=*) job="${arg#rig.job=}" ;;
	rig.interactive=*) interactive="${arg#rig.interactive=}" ;;
	rig.rows=*) rows="${arg#rig.rows=}" ;;
	rig.cols=*) cols="${arg#rig.cols=}" ;;
	rig.msize=*) msize="${arg#rig.msize=}" ;;
	esac
done

out=/dev/ttyS1

finish() {
	echo "rig: powering off (status $1)"
	# Interactive runs show the user only the command itself.
	[ "$interactive" = 1 ] || echo "RIG-END $token status=$1" >"$out"
	sync
	poweroff -f
	sleep 10
}

fail() {
	echo "rig: error: $*"
	echo "RIG-ERROR $token $*" >"$out"
	finish 125
}

[ -c "$out" ] || { out=/dev/console; fail "no /dev/ttyS1 (the second serial port)"; }
# Hold ttyS1 open: a tty forgets its settings (size, onlcr) when the last user closes it.
exec 3<>"$out"

# A kernel without module support (the iommufd rig kernel, scripts/rig-kernel.sh) has no
# /proc/modules and has all of these built in: load nothing; the checks below (the 9p
# mounts, /dev/kvm) still tell when something is missing.
if [ -e /proc/modules ]; then
	load() { modprobe "$1"; }
else
	echo "rig: the kernel has no module support: everything is built in"
	load() { :; }
fi

for m in virtio_pci 9pnet_virtio 9p; do
	load "$m" || fail "modprobe $m failed"
done
mkdir -p /host
# The root is read-only, so the page cache may keep what it reads (cache=loose).
mount -t 9p -o trans=virtio,version=9p2000.L,msize="$msize",ro,cache=loose hostroot /host ||
	fail "cannot mount this machine's root (9p tag hostroot) on /host"
mount -t proc proc /host/proc
mount -t sysfs sysfs /host/sys
mount -t devtmpfs devtmpfs /host/dev
mkdir -p /host/dev/pts /host/dev/shm 2>/dev/null
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /host/dev/pts
mount -t tmpfs -o mode=1777 tmpfs /host/dev/shm
mount -t tmpfs -o mode=1777 tmpfs /host/tmp
mount -t tmpfs -o mode=0755 tmpfs /host/run
# The checkout last: it may live under /tmp (now a tmpfs, so make its mount point).
[ -n "$repo" ] || fail "no rig.repo= on the command line"
mkdir -p "/host$repo" 2>/dev/null
[ -d "/host$repo" ] || fail "cannot find or make '$repo' under /host"
mount -t 9p -o trans=virtio,version=9p2000.L,msize="$msize" repo "/host$repo" ||
	fail "cannot mount the repo (9p tag repo) on /host$repo"
ip link set lo up 2>/dev/null

if ! load kvm_amd; then
	fail "modprobe kvm_amd failed: $(dmesg | grep -i -e kvm -e svm | grep -v "command line" | tail -n 3 | tr '\n' ' ')"
fi
# For microvm's --net (taps) and --vsock vhost=on, in tests and `make run`; and VFIO
# (the legacy container), for rigs with an IOMMU and endpoints (tests/boot/vfio/rig.sh).
for m in tun vhost_vsock vfio_iommu_type1 vfio-pci; do
	load "$m" || echo "rig: modprobe $m failed"
done
if [ ! -e /proc/modules ]; then
	for f in /dev/net/tun /dev/vhost-vsock /dev/vfio/vfio /dev/iommu /sys/bus/pci/drivers/vfio-pci; do
		[ -e "$f" ] || echo "rig: note: $f is missing (not built into this kernel?)"
	done
fi
if [ ! -c /dev/kvm ]; then
	fail "kvm_amd loaded but /dev/kvm is missing (does the rig CPU expose SVM? need -cpu max): $(dmesg | grep -i kvm | grep -v "command line" | tail -n 3 | tr '\n' ' ')"
fi

[ -f "/host$job/job.sh" ] || fail "job script $job/job.sh not found"

echo "rig: running the job"
if [ "$interactive" = 1 ]; then
	[ -n "$rows" ] && [ -n "$cols" ] && stty -F "$out" rows "$rows" cols "$cols"
	setsid -c chroot /host /bin/bash "$job/job.sh" <"$out" >"$out" 2>&1
	status=$?
else
	# Plain "\n" line ends: the host side reads a pipe, not a terminal.
	stty -F "$out" -onlcr 2>/dev/null
	echo "RIG-BEGIN $token" >"$out"
	chroot /host /bin/bash "$job/job.sh" </dev/null >"$out" 2>&1
	status=$?
fi
echo "$status" >"/host$job/status"
finish "$status"
