# stops.sh: sourced by l2-tests.sh: every way a guest stops ends the VM, with a guest command line
# that has no reboot= and (but for the pvpanic case) an initramfs with nothing of ours in it.
#
# The plain initramfs is busybox and a shell /init that reads stop=ACTION from /proc/cmdline
# and does it: no pvpanic module, no microvm /init. Linux's defaults are what is under test:
# with a hardware-reduced FADT and no EFI its reboot code ends in a jump to the BIOS reset
# vector, which hung microvm before it put a reset stub there.

STOPS=(reboot poweroff panic1 panic-1 pvpanic triple halt)
for s in "${STOPS[@]}"; do
	TESTS+=("stop-$s-1cpu" "stop-$s-2cpu")
done
for cpus in 1 2; do
	for s in "${STOPS[@]}"; do
		eval "test_stop_${s//-/_}_${cpus}cpu() { stop_case $s $cpus; }"
	done
done

STOP_BOUND=15 # seconds from the guest's last word to microvm's exit

plain_initramfs() {
	local out="$LOGDIR/plain-initramfs.cpio.gz" init="$LOGDIR/plain-init"
	if [[ ! -f "$out" || tests/boot/stops.sh -nt "$out" ]]; then
		cat >"$init" <<'INIT'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for w in $(cat /proc/cmdline); do
	case "$w" in stop=*) action=${w#stop=} ;; esac
done
# Through the kernel log, not the tty: a panic flushes printk's buffer to the
# console, but drops what the 8250 driver still holds to transmit (seen in CI:
# with 2 vCPUs the line was lost to the panic that followed it at once).
msg="plain-init: cpus $(grep -c ^processor /proc/cpuinfo), stopping by $action"
echo "<2>$msg" >/dev/kmsg 2>/dev/null || echo "$msg"
case "$action" in
panic) echo c >/proc/sysrq-trigger ;;
reboot) reboot -f ;;
poweroff) poweroff -f ;;
halt) halt -f ;;
esac
echo "plain-init: $action returned"
sleep 1000
INIT
		scripts/mkinitramfs.sh -o "$out" --init "$init" >&2 || return 1
	fi
	echo "$out"
}

# stop_case WHAT CPUS: boot, stop the guest that way, check the status and how fast it came.
stop_case() {
	local what=$1 cpus=$2 n="stop-$1-$2cpu" initrd cmd want end BOOT_TIMEOUT=120
	local base="console=ttyS0 quiet"
	case "$what" in
	reboot) cmd="$base stop=reboot"; want=3 ;;
	poweroff) cmd="$base stop=poweroff"; want=0 ;;
	panic1) cmd="$base panic=1 stop=panic"; want=3 ;;
	panic-1) cmd="$base panic=-1 stop=panic"; want=3 ;;
	# Our initramfs loads pvpanic; panic=0 would otherwise wait for ever.
	pvpanic) cmd="$base panic=0 microvm.init=panic"; want=4 ;;
	# The one way to ask Linux for a triple fault: reboot=t.
	triple) cmd="$base reboot=t stop=reboot"; want=5 ;;
	halt) cmd="$base stop=halt"; want=7 ;;
	esac
	if [[ $what = pvpanic ]]; then
		initrd=$INITRD
	elif ! initrd=$(plain_initramfs); then
		t_fail "$n" "could not pack the plain initramfs"
		return
	fi
	INITRD=$initrd boot "$n" "$cmd" --cpus "$cpus" --memory 256M
	end=$(when 'plain-init: cpus|sysrq: Trigger a crash|microvm-init: panicking')
	echo "# timing: $n: ->stop ${end}s, ->exit ${wall}s (status $status)"
	if [[ $status != "$want" ]]; then
		t_fail "$n" "$(status_why "$want")"
	elif [[ $what != pvpanic ]] && ! has "plain-init: cpus $cpus, stopping by"; then
		t_fail "$n" "status $status, but the guest never said it was stopping with $cpus vCPUs"
	elif [[ $end = n/a ]] || awk -v e="$end" -v w="$wall" -v b="$STOP_BOUND" 'BEGIN { exit !(w - e > b) }'; then
		t_fail "$n" "microvm exited $(secs 0 "$wall")s after launch, more than ${STOP_BOUND}s after the guest stopped (at ${end}s)"
	else
		t_ok "$n"
	fi
}
