# console.sh: L2 tests of virtio-console: hvc0 carries the kernel console and ~100 KiB of output out, ~100 KiB typed in (past every buffer) reaches the guest intact, and hvc0 takes the terminal's size and follows resizes.
TESTS+=(virtio-console)

HVC_LINES=20000 # `seq 1 $HVC_LINES` each way: ~106 KiB

# has ERE for a long log: reads it all (grep -q may close the pipe early and
# then cut's SIGPIPE fails the pipeline under pipefail).
hvc_has() {
	cut -d' ' -f2- "$log" | grep -E -- "$1" >/dev/null
}

test_virtio_console() {
	local n=virtio-console deadline vm_pid cat_pid raw sent=0 want got
	# Output: a kernel message (printk to the hvc0 console), then seq;
	# input: seq typed into the console while the guest reads it slowly.
	# raw: without it n_tty writes every line in two pieces (ONLCR), each
	# its own virtio buffer. quiet keeps kernel messages out of the seq
	# lines; <2> (crit) still gets through it.
	local script="exec 3<>/dev/hvc0; stty -F /dev/hvc0 raw -echo; echo \\<2\\>HVC-KMSG-\$((6 * 7)) >/dev/kmsg;"
	script+=" seq 1 $HVC_LINES | cat >&3; echo HVC-READY >&3;"
	script+=" timeout 60 head -n $HVC_LINES <&3 | (sleep 1; md5sum) | sed s/^/HVC-IN-MD5=/ >&3"
	log="$LOGDIR/$n.log"
	raw="$LOGDIR/$n.raw"
	t0=$EPOCHREALTIME
	deadline=$((SECONDS + BOOT_TIMEOUT))
	want=$(seq 1 "$HVC_LINES" | md5sum | cut -d' ' -f1)
	coproc VM {
		exec timeout -k 5 "$BOOT_TIMEOUT" "$MICROVM" run --kernel "$KERNEL" \
			--initrd "$INITRD" --cpus 1 --memory 256M --console stdio --virtio-console \
			--cmdline "console=hvc0 reboot=k panic=-1 quiet microvm.modules=virtio_pci,virtio_console microvm.init=cmd microvm.cmd=\"$script\"" 2>&1
	}
	vm_pid=$VM_PID
	exec {vm_in}>&"${VM[1]}" {vm_out}<&"${VM[0]}"
	# cat, not a read loop: bash reads a pipe a byte at a time, too slow
	# for 100 KiB in the rig (the VMM then waits on a full pipe).
	cat <&"$vm_out" >"$raw" &
	cat_pid=$!
	while ((SECONDS < deadline)) && kill -0 "$vm_pid" 2>/dev/null; do
		if grep -q '^HVC-READY' "$raw"; then
			# In the background: the guest reads slower than this.
			seq 1 "$HVC_LINES" >&"$vm_in" &
			sent=1
			break
		fi
		sleep 0.2
	done
	exec {vm_in}>&- {vm_out}<&-
	wait "$vm_pid"
	status=$?
	wait "$cat_pid"
	wall=$(secs "$t0" "$EPOCHREALTIME")
	# The usual log format: "TIME LINE".
	tr -d '\r' <"$raw" | sed "s/^/$EPOCHREALTIME /" >"$log"
	got=$(sed -n 's/^HVC-IN-MD5=\([0-9a-f]*\).*/\1/p' "$raw" | head -n1)
	echo "# timing: $n: ->exit ${wall}s (status $status)"
	if [[ $status != 0 ]]; then
		t_fail "$n" "$(status_why 0)"
	elif ! hvc_has 'HVC-KMSG-42'; then
		t_fail "$n" "a kernel message did not come out on the hvc0 console (last output: $(tail_of 3))"
	elif [[ "$(grep -cxE '[0-9]+' "$raw")" -lt "$HVC_LINES" ]] || ! hvc_has "^$HVC_LINES\$"; then
		t_fail "$n" "guest output on hvc0 is incomplete: $(grep -cxE '[0-9]+' "$raw") of $HVC_LINES lines"
	elif [[ $sent = 0 ]]; then
		t_fail "$n" "the guest never said HVC-READY (last output: $(tail_of 3))"
	elif [[ "$got" != "$want" ]]; then
		t_fail "$n" "input through hvc0 arrived damaged or not at all (md5 '${got:-none}', want $want)"
	else
		t_ok "$n"
	fi
}

# Resizes: microvm runs on a pty it controls (as from an interactive shell);
# hvc0 must start at the terminal's size and follow a resize (SIGWINCH).
TESTS+=(virtio-console-resize)

test_virtio_console_resize() {
	local n=virtio-console-resize out first second
	# stty reads hvc0's window size; the guest waits up to 60 s for it to
	# change. No double quotes: they would end microvm.cmd="..." early.
	local script="exec 3<>/dev/hvc0; s=\$(stty size <&3 | tr ' ' x); echo SIZE1=\$s >&3; echo RESIZE-NOW >&3;"
	script+=" i=0; t=\$s; while [ \$t = \$s ] && [ \$i -lt 60 ]; do sleep 1; t=\$(stty size <&3 | tr ' ' x); i=\$((i + 1)); done;"
	script+=" echo SIZE2=\$t >&3"
	log="$LOGDIR/$n.log"
	t0=$EPOCHREALTIME
	out=$(python3 tests/boot/devices/pty-resize.py 31 101 47 133 "$BOOT_TIMEOUT" "$LOGDIR/$n.raw" -- \
		"$MICROVM" run --kernel "$KERNEL" --initrd "$INITRD" --cpus 1 --memory 256M \
		--console stdio --virtio-console \
		--cmdline "console=hvc0 reboot=k panic=-1 quiet microvm.init=cmd microvm.cmd=\"$script\"")
	wall=$(secs "$t0" "$EPOCHREALTIME")
	tr -d '\r' <"$LOGDIR/$n.raw" | sed "s/^/$EPOCHREALTIME /" >"$log"
	status=$(sed -n 's/^status //p' <<<"$out")
	first=$(cut -d' ' -f2- "$log" | sed -n 's/^SIZE1=//p' | head -n1)
	second=$(cut -d' ' -f2- "$log" | sed -n 's/^SIZE2=//p' | head -n1)
	echo "# timing: $n: ->exit ${wall}s (status $status); sizes '$first' then '$second'"
	if [[ "$status" != 0 ]]; then
		t_fail "$n" "$(status_why 0)"
	elif [[ "$first" != "31x101" ]]; then
		t_fail "$n" "hvc0 started at '${first:-no answer}', not the terminal's 31x101 (rows x columns) (last output: $(tail_of 3))"
	elif ! grep -q '^resized yes' <<<"$out"; then
		t_fail "$n" "the guest never said RESIZE-NOW"
	elif [[ "$second" != "47x133" ]]; then
		t_fail "$n" "after the terminal became 47x133, hvc0 says '${second:-nothing}' (last output: $(tail_of 3))"
	else
		t_ok "$n"
	fi
}
