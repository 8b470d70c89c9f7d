#!/bin/sh
# aarch64-in-rig.sh OUT QEMU_ROOT ITERATIONS: the aarch64 benchmark's driver inside the aarch64 rig (busybox sh, no python): alternating Linux boots of microvm and QEMU through bench-launch, one JSON line per run into OUT.
#
# Started by bench/run.sh through tests/rig/aarch64-rig.sh (RIG_SHARE=QEMU_ROOT: the arm64
# root of scripts/arm64-qemu-root.sh, read-only with the page cache on). Both VMMs boot
# the same Debian arm64 Image and initramfs (build/guest-arm64, GUEST_ARCH=arm64
# scripts/guest-assets.sh) with the same command line, 1 vCPU and 128 MiB, from copies on
# the rig's RAM-backed root: microvm directly, QEMU (-M virt, KVM) chrooted into QEMU_ROOT
# (bench-launch --chroot: launch is taken after the chroot, right before execve), where
# the copies are bound on /bench. OUT's first line is {"meta": ...} (the rig, QEMU's version,
# what tracefs has); then one bench-launch JSON object per run, on one line, with "log"
# and (microvm) "timings" added: the paths, in the checkout, of the run's console log and
# microvm's --timings-json. bench/bench.py aarch64-raw turns OUT into a report section.
# Env: BUILD (build), A64_BUILD (build-aarch64), BENCH_A64_TIMEOUT (300 s per boot),
#      BENCH_A64_CMDLINE (the guest's command line), BENCH_A64_SHMEM_THP (written to the
#      rig's transparent_hugepage/shmem_enabled before the runs; unset: left as it is).
cd "$(dirname "$0")/.." || exit 1
OUT=$1
QROOT=$2
N=${3:-3}
BUILD=${BUILD:-build}
A64=${A64_BUILD:-build-aarch64}
TIMEOUT=${BENCH_A64_TIMEOUT:-300}
CMDLINE=${BENCH_A64_CMDLINE:-console=ttyAMA0 panic=-1 quiet microvm.init=poweroff}
INIT_LINE="microvm-init: started"
POWEROFF_LINE="reboot: Power down"
RAM_MIB=128
LOGDIR=$BUILD/bench/logs/aarch64
TRACE=microvm-bench-a64-$$

die() {
	echo "aarch64-in-rig: error: $*" >&2
	exit 1
}

for f in "$A64/microvm" "$A64/bench/launch" build/guest-arm64/Image build/guest-arm64/initramfs.cpio.gz; do
	[ -f "$f" ] || die "$f missing (bench/run.sh builds it: make ARCH=aarch64 BUILD=$A64, GUEST_ARCH=arm64 scripts/guest-assets.sh)"
done
[ -x "$QROOT/usr/bin/qemu-system-aarch64" ] ||
	die "no $QROOT/usr/bin/qemu-system-aarch64 (is RIG_SHARE=$QROOT set? scripts/arm64-qemu-root.sh makes it)"

# The staged copies: a real host has its VMM and guest files in the page cache; the
# checkout's 9p share (writable, so uncached) would charge every byte to each run.
stage=$(mktemp -d /tmp/a64bench.XXXXXX) || die "mktemp failed"
if ! cp "$A64/microvm" "$A64/bench/launch" build/guest-arm64/initramfs.cpio.gz "$stage/" ||
	! cp -L build/guest-arm64/Image "$stage/Image"; then
	die "cannot copy the VMM and guest files to $stage"
fi
LAUNCH=$stage/launch
mounted=""
cleanup() {
	"$LAUNCH" --trace-remove "$TRACE" 2>/dev/null
	for m in $mounted; do umount "$m" 2>/dev/null; done
	rm -rf "$stage"
}
trap cleanup EXIT
mnt() { # mnt WHERE ARGS...: mount, remembered for the cleanup (the last first)
	w=$1
	shift
	mount "$@" "$w" || die "mount $* $w failed"
	mounted="$w $mounted"
}
mnt "$QROOT/proc" -t proc proc
mnt "$QROOT/sys" -t sysfs sysfs
mnt "$QROOT/dev" -o bind /dev
mnt "$QROOT/bench" -o bind,ro "$stage"

if [ ! -d /sys/kernel/tracing/instances ]; then
	mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null
fi
export BENCH_TRACEFS=/sys/kernel/tracing
caps=$("$LAUNCH" --trace-setup "$TRACE" --trace-kvm-exit --buffer-kb 16384 2>&1 | tr -d '\n')
case "$caps" in
"{"*) ;;
*) caps="{\"error\": \"$(echo "$caps" | tr -d '"\\')\"}" ;;
esac

# QEMU's binary, libraries and ROMs, read once into the rig's page cache (the share is
# cache=loose), as on a host that has run QEMU before; --version checks it runs at all.
cat "$QROOT/usr/bin/qemu-system-aarch64" "$QROOT"/usr/lib/aarch64-linux-gnu/*.so* \
	"$QROOT"/usr/share/qemu/* "$QROOT"/usr/lib/ipxe/qemu/* >/dev/null 2>&1
qver=$(chroot "$QROOT" /usr/bin/qemu-system-aarch64 --version 2>&1 | head -n1 | tr -d '"\\')
case "$qver" in
"QEMU emulator"*) ;;
*) die "QEMU does not run in its root: $qver" ;;
esac

js() { # js STRING: STRING with what JSON cannot take raw removed
	printf '%s' "$1" | tr -d '"\\' | tr '\n\t' '  '
}
mem=$(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo)
cpu=$(sed -n 's/^CPU part[^:]*: *//p' /proc/cpuinfo | head -n1)
kvm=$(dmesg | grep -m1 -oE 'kvm \[[0-9]+\]: (Hyp|VHE|nVHE|Protected nVHE) mode initialized successfully' | sed 's/^kvm \[[0-9]*\]: //')
# Transparent huge pages: anonymous memory (QEMU's guest RAM) and shmem (a memfd's).
if [ -n "${BENCH_A64_SHMEM_THP:-}" ]; then
	echo "$BENCH_A64_SHMEM_THP" >/sys/kernel/mm/transparent_hugepage/shmem_enabled ||
		die "cannot set transparent_hugepage/shmem_enabled to '$BENCH_A64_SHMEM_THP' (always, within_size, advise, never)"
fi
thp="enabled $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null), shmem_enabled $(cat /sys/kernel/mm/transparent_hugepage/shmem_enabled 2>/dev/null)"
mkdir -p "$(dirname "$OUT")" "$LOGDIR" || die "cannot make $(dirname "$OUT") or $LOGDIR"
printf '{"meta": {"kernel": "%s", "cpus_online": %s, "mem_total_mib": %s, "cpu_part": "%s", "kvm_mode": "%s", "qemu_version": "%s", "qemu_root": "%s", "cmdline": "%s", "ram_mib": %s, "cpus": 1, "iterations": %s, "tracing": %s, "thp": "%s", "rig_uptime_s": "%s"}}\n' \
	"$(js "$(uname -r)")" "$(grep -c '^processor' /proc/cpuinfo)" "$((mem / 1024))" "$(js "$cpu")" \
	"$(js "${kvm:-unknown}")" "$qver" "$(js "$QROOT")" "$(js "$CMDLINE")" "$RAM_MIB" "$N" "$caps" "$(js "$thp")" \
	"$(cut -d' ' -f1 /proc/uptime)" >"$OUT" || die "cannot write $OUT"

seq=0
# run VMM: one measured boot; appends its JSON line to OUT.
run() {
	vmm=$1
	seq=$((seq + 1))
	name=$(printf '%03d-%s' "$seq" "$vmm")
	log=$stage/$name.log
	tj=""
	set -- --label "$vmm" --log "$log" --timeout "$TIMEOUT" --ram-mib "$RAM_MIB" \
		--sample-at "$INIT_LINE" --end-line "$POWEROFF_LINE"
	case "$caps" in *'"error"'*) ;; *) set -- "$@" --trace "$TRACE" ;; esac
	if [ "$vmm" = microvm ]; then
		tj=$stage/$name.timings.json
		"$LAUNCH" "$@" -- "$stage/microvm" run --kernel "$stage/Image" --cpus 1 \
			--memory "${RAM_MIB}M" --console stdio --initrd "$stage/initramfs.cpio.gz" \
			--cmdline "$CMDLINE" --timings-json "$tj" >"$stage/res.json" 2>"$stage/err"
	else
		"$LAUNCH" "$@" --chroot "$QROOT" -- /usr/bin/qemu-system-aarch64 -accel kvm \
			-M virt,gic-version=3 -cpu host -smp 1 -m "${RAM_MIB}M" -nographic -no-reboot \
			-kernel /bench/Image -initrd /bench/initramfs.cpio.gz -append "$CMDLINE" \
			>"$stage/res.json" 2>"$stage/err"
	fi
	rc=$?
	# Outside the measured window: the logs go to the checkout.
	cp "$log" "$LOGDIR/$name.log" 2>/dev/null
	extra=", \"log\": \"$LOGDIR/$name.log\", \"launch_status\": $rc, \"launch_stderr\": \"$(js "$(head -c 300 "$stage/err")")\""
	if [ -n "$tj" ]; then
		cp "$tj" "$LOGDIR/$name.timings.json" 2>/dev/null &&
			extra="$extra, \"timings\": \"$LOGDIR/$name.timings.json\""
	fi
	line=$(tr -d '\n' <"$stage/res.json")
	case "$line" in
	"{"*"}") printf '%s%s}\n' "$(printf '%s' "$line" | sed 's/}$//')" "$extra" >>"$OUT" ;;
	*) printf '{"vmm": "%s", "launch_failed": true%s}\n' "$vmm" "$extra" >>"$OUT" ;;
	esac
	echo "aarch64-in-rig: $name: $(sed -n 's/^ *"\(sample_line_ms\|exit_status\)": \(.*\),$/\1 \2/p' "$stage/res.json" | tr '\n' ' ')"
}

t0=$(cut -d' ' -f1 /proc/uptime)
i=1
while [ "$i" -le "$N" ]; do
	if [ $((i % 2)) = 1 ]; then
		run microvm
		run qemu
	else
		run qemu
		run microvm
	fi
	i=$((i + 1))
done
echo "aarch64-in-rig: $((2 * N)) boots in $(awk -v a="$t0" -v b="$(cut -d' ' -f1 /proc/uptime)" 'BEGIN { printf "%.0f", b - a }') s"
