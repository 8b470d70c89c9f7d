#!/bin/sh
# aarch64-rig-init.sh: /init of the aarch64 rig host (arm64 busybox sh): mounts the checkout over 9p, checks /dev/kvm, runs the job, powers off.
#
# ttyAMA0 is the rig's kernel console (a log file on the host); hvc0 (a virtio console)
# carries only the job's terminal (or its stdout/stderr) and our markers, so no rig kernel
# message mixes with them. The job runs in this initramfs, not in a chroot: this machine's
# binaries are amd64. See tests/rig/rig-lib.sh for the markers.
#
# Kernel command line (set by tests/rig/aarch64-rig.sh):
#   rig.token=T        marks our own hvc0 lines: RIG-BEGIN T, RIG-END T status=N, RIG-ERROR T ...
#   rig.repo=PATH      the checkout, shared writable as mount_tag "repo", mounted at PATH
#   rig.job=PATH       job dir (inside the repo): job.sh to run; we write "status" there
#   rig.interactive=1  the job gets /dev/hvc0 as its controlling tty
#   rig.rows=R rig.cols=C  terminal size for the interactive tty
#   rig.msize=N        9p msize
#   rig.share=PATH     a read-only share (mount_tag "share", RIG_SHARE), mounted at PATH
# The image links only /bin/sh to busybox (mkinitramfs.sh cannot run an arm64 busybox).
/bin/busybox --install -s
export PATH=/usr/sbin:/usr/bin:/sbin:/bin

mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
# A task stuck for 30 s gets its stack printed (KERN_ERR reaches the console log).
echo 30 >/proc/sys/kernel/hung_task_timeout_secs 2>/dev/null
echo "rig: init started at $(cut -d' ' -f1 /proc/uptime) s"

token="" repo="" job="" share="" interactive=0 rows="" cols="" msize=512000
# shellcheck disable=SC2013 # words on purpose
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	rig.token=*) token="${arg#rig.token=}" ;;
	rig.repo=*) repo="${arg#rig.repo=}" ;;
	rig.job=*) job="${arg#rig.job=}" ;;
	rig.interactive=*) interactive="${arg#rig.interactive=}" ;;
	rig.rows=*) rows="${arg#rig.rows=}" ;;
	rig.cols=*) cols="${arg#rig.cols=}" ;;
	rig.msize=*) msize="${arg#rig.msize=}" ;;
	rig.share=*) share="${arg#rig.share=}" ;;
	esac
done

out=/dev/hvc0

finish() {
	echo "rig: powering off (status $1) at $(cut -d' ' -f1 /proc/uptime) s"
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

for m in virtio_pci virtio_console; do
	modprobe "$m" || { out=/dev/console; fail "modprobe $m failed"; }
done
# The port comes up a little after modprobe returns: devtmpfs makes /dev/hvc0, and even
# then opening it may fail (ENODEV) for a moment. Test for the node first: <> would
# create a plain file in its place.
hvc_ready() {
	[ -c "$out" ] && (exec 3<>"$out") 2>/dev/null
}
i=0
while ! hvc_ready && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
hvc_ready || { out=/dev/console; fail "cannot open /dev/hvc0 (the virtio console)"; }
# Hold hvc0 open: a tty forgets its settings (size, onlcr) when the last user closes it.
exec 3<>"$out"

for m in 9pnet_virtio 9p; do
	modprobe "$m" || fail "modprobe $m failed"
done
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
[ -n "$repo" ] || fail "no rig.repo= on the command line"
mkdir -p "$repo" || fail "cannot make '$repo'"
mount -t 9p -o trans=virtio,version=9p2000.L,msize="$msize" repo "$repo" ||
	fail "cannot mount the repo (9p tag repo) on $repo"
if [ -n "$share" ]; then
	# Read-only, so the page cache may keep what it reads (cache=loose).
	mkdir -p "$share" || fail "cannot make '$share'"
	mount -t 9p -o trans=virtio,version=9p2000.L,msize="$msize",ro,cache=loose share "$share" ||
		fail "cannot mount the read-only share (9p tag share) on $share"
fi
ip link set lo up 2>/dev/null

# For microvm's --net (taps) and --vsock vhost=on, and VFIO (the legacy container) for
# rigs with an IOMMU (RIG_MACHINE=...,iommu=smmuv3) and endpoints.
for m in tun vhost_vsock vfio_iommu_type1 vfio-pci; do
	modprobe "$m" || echo "rig: modprobe $m failed"
done
if [ ! -c /dev/kvm ]; then
	fail "no /dev/kvm (KVM is built in; does the rig boot at EL2? need -M virt,virtualization=on): $(dmesg | grep -i kvm | grep -v "command line" | tail -n 3 | tr '\n' ' ')"
fi

[ -f "$job/job.sh" ] || fail "job script $job/job.sh not found"

echo "rig: running the job at $(cut -d' ' -f1 /proc/uptime) s"
if [ "$interactive" = 1 ]; then
	[ -n "$rows" ] && [ -n "$cols" ] && stty -F "$out" rows "$rows" cols "$cols"
	setsid -c /bin/sh "$job/job.sh" <"$out" >"$out" 2>&1
	status=$?
else
	# Plain "\n" line ends: the host side reads a pipe, not a terminal.
	stty -F "$out" -onlcr 2>/dev/null
	echo "RIG-BEGIN $token" >"$out"
	/bin/sh "$job/job.sh" </dev/null >"$out" 2>&1
	status=$?
fi
echo "$status" >"$job/status"
finish "$status"
