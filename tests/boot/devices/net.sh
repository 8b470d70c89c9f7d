# net.sh: L2 test of virtio-net: a tap in a network namespace of the rig host; the guest pings it and TCP data is echoed both ways through it, with offloads and mergeable rx buffers negotiated.
TESTS+=(virtio-net net-bad-tap)

# wait_pids SECS PID...: give background jobs SECS seconds to finish, then kill the rest.
wait_pids() {
	local secs=$1 p i
	shift
	for ((i = 0; i < secs * 5; i++)); do
		for p in "$@"; do
			kill -0 "$p" 2>/dev/null && break
		done
		kill -0 "$p" 2>/dev/null || return 0
		sleep 0.2
	done
	for p in "$@"; do
		kill "$p" 2>/dev/null
	done
}

test_virtio_net() {
	local n=virtio-net ns=mv-net-test tap=mvtap0 hip=10.0.2.1 gip=10.0.2.15 bytes=1048576 conns=2
	local out gcmd epid spid est sst feat why=""
	if ! out=$(sockh_build); then
		t_fail "$n" "building the sock-helper initramfs failed: $out"
		return
	fi
	if [[ ! -c /dev/net/tun ]] && ! out=$(rig_modprobe tun); then
		t_fail "$n" "no /dev/net/tun and modprobe tun failed: $out"
		return
	fi
	if ! command -v ip >/dev/null; then
		t_fail "$n" "the rig has no ip (iproute2) to make the tap"
		return
	fi
	# Everything on the host side (tap, helpers, microvm) lives in a network
	# namespace of our own, so the test touches none of the host's interfaces.
	ip netns del "$ns" 2>/dev/null
	if ! out=$(ip netns add "$ns" 2>&1 && ip -n "$ns" tuntap add mode tap name "$tap" 2>&1 &&
		ip -n "$ns" addr add "$hip/24" dev "$tap" 2>&1 && ip -n "$ns" link set "$tap" up 2>&1 &&
		ip -n "$ns" link set lo up 2>&1); then
		t_fail "$n" "making namespace $ns with tap $tap failed: $out"
		ip netns del "$ns" 2>/dev/null
		return
	fi
	# Rig side: an echo server for the guest's connections, and a sender that
	# connects to the guest's echo server as soon as it answers.
	ip netns exec "$ns" "$SOCKH_BIN" echo "tcp:$hip:5001" "$conns" >"$LOGDIR/$n.host-echo.log" 2>&1 &
	epid=$!
	ip netns exec "$ns" "$SOCKH_BIN" send "tcp:$gip:6001" "$bytes" "$conns" 150 >"$LOGDIR/$n.host-send.log" 2>&1 &
	spid=$!
	gcmd="echo FEATURES \$(cat /sys/class/net/eth0/device/features);"
	gcmd+=" ip link set eth0 up && ip addr add $gip/24 dev eth0 && ping -c 3 -W 10 $hip &&"
	gcmd+=" { sock-helper echo tcp:0.0.0.0:6001 $conns & e=\$!;"
	gcmd+=" sock-helper send tcp:$hip:5001 $bytes $conns 30; r=\$?; wait \$e || r=1;"
	gcmd+=" cd /sys/class/net/eth0/statistics;"
	gcmd+=" echo NETSTAT rx \$(cat rx_packets) \$(cat rx_bytes) tx \$(cat tx_packets) \$(cat tx_bytes);"
	gcmd+=" echo NETERR \$(cat rx_dropped) \$(cat rx_errors) \$(cat rx_length_errors) \$(cat rx_frame_errors); exit \$r; }"
	BOOT_PREFIX=(ip netns exec "$ns")
	INITRD="$SOCKH_INITRD" boot "$n" \
		"console=ttyS0 reboot=k panic=-1 quiet microvm.modules=virtio_pci,virtio_net microvm.init=cmd microvm.cmd=\"$gcmd\"" \
		--cpus 1 --memory 256M --net "tap=$tap" --log-level info
	BOOT_PREFIX=()
	wait_pids 15 "$epid" "$spid"
	wait "$epid"
	est=$?
	wait "$spid"
	sst=$?
	ip netns del "$ns"
	feat=$(cut -d' ' -f2- "$log" | sed -n 's/^FEATURES \([01]*\).*/\1/p' | head -n1)
	# Frames over 1514 bytes on average mean TSO passed through the tap.
	echo "# $n: guest features ${feat:-?}; $(cut -d' ' -f2- "$log" | grep -a '^NETSTAT' |
		awk '{ printf "rx %d frames, %d bytes avg; tx %d frames, %d bytes avg", $3, $4 / ($3 ? $3 : 1), $6, $7 / ($6 ? $6 : 1) }');" \
		"$(grep -ah 'echoed in' "$log" "$LOGDIR/$n.host-send.log" | sed 's/.*SOCKH //' | tr '\n' ' ')" \
		"$(grep -ao 'virtio-net0: rx .*' "$log" | head -n1)"
	if [[ $status != 0 ]]; then
		why=$(status_why 0)
	elif ! has 'attached to tap mvtap0'; then
		why="the VMM did not attach to tap $tap"
	elif ! has 'bytes from 10\.0\.2\.1'; then
		why="no ping reply from the rig (last output: $(tail_of 3))"
	elif ! has "SOCKH send: $conns connections of $bytes bytes, 0 failed"; then
		why="guest -> rig TCP echo failed: $(cut -d' ' -f2- "$log" | grep -a SOCKH | tail -n 2 | tr '\n' ' ')"
	elif ! has "SOCKH echo: $conns connections, 0 failed"; then
		why="rig -> guest TCP echo failed in the guest: $(cut -d' ' -f2- "$log" | grep -a SOCKH | tail -n 2 | tr '\n' ' ')"
	elif [[ $sst != 0 ]]; then
		why="rig -> guest TCP echo failed (status $sst): $(sockh_summary "$LOGDIR/$n.host-send.log")"
	elif [[ $est != 0 ]]; then
		why="the rig's echo server failed (status $est): $(sockh_summary "$LOGDIR/$n.host-echo.log")"
	elif ! has 'MICROVM-CMD status=0'; then
		why="the guest command failed (last output: $(tail_of 3))"
	elif ! has '^NETERR 0 0 0 0'; then
		# Wrong num_buffers shows here (TCP would recover and hide it).
		why="the guest dropped or rejected received frames (rx dropped, errors, length, frame): $(cut -d' ' -f2- "$log" | grep -a '^NETERR')"
	elif ! has 'virtio-net0: rx [0-9]+ frames \([1-9][0-9]* in several buffers'; then
		# The echoes above checked every byte; this says the multi-buffer path ran.
		why="no received frame spanned several mergeable buffers: $(grep -ao 'virtio-net0: rx .*' "$log" | head -n1)"
	elif [[ ${#feat} -lt 17 || ${feat:0:1}${feat:1:1}${feat:5:1}${feat:7:1}${feat:11:1}${feat:15:1}${feat:16:1} != 1111111 ]]; then
		# CSUM, GUEST_CSUM, MAC, GUEST_TSO4, HOST_TSO4, MRG_RXBUF, STATUS
		why="offloads, MAC, MRG_RXBUF or STATUS not negotiated (features ${feat:-unknown})"
	fi
	if [[ -n "$why" ]]; then t_fail "$n" "$why"; else t_ok "$n"; fi
}

# Not a tap: the user's words come back, with status 2.
test_net_bad_tap() {
	[[ -c /dev/net/tun ]] || rig_modprobe tun >/dev/null
	bad_input net-bad-tap '--net tap=lo: .*not .*tap' --kernel "$KERNEL" --initrd "$INITRD" --net tap=lo
}
