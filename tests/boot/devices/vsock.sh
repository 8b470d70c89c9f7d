# vsock.sh: L2 tests of virtio-vsock: streams echoed both ways, many at once, refusals, through the Unix socket back-end and through vhost-vsock.
TESTS+=(virtio-vsock vsock-bad-uds vsock-uds-on-9p virtio-vsock-vhost)

# vsock_run NAME HOST_ECHO HOST_SEND HOST_REFUSED HOST_ABUSE MICROVM-ARGS...: the rig
# serves HOST_ECHO (guest port 2:5000) and connects to the guest's port 6000
# through HOST_SEND, then checks that HOST_REFUSED (guest port 6999, nobody
# listens) is refused. The guest does the same the other way (its refusal:
# host port 5999). Four connections of 1 MiB each way at once: more than one
# credit window. HOST_ABUSE (may be empty) is an fc: address of the guest's
# port 6001 for misbehaving host clients; a last connection to port 6000 then
# shows the device still serves. Sets why (empty: passed).
vsock_run() {
	local n=$1 hecho=$2 hsend=$3 hrefused=$4 habuse=$5 bytes=1048576 conns=4 rounds=3
	local out gcmd epid spid est sst
	shift 5
	why=""
	if ! out=$(sockh_build); then
		why="building the sock-helper initramfs failed: $out"
		return
	fi
	"$SOCKH_BIN" echo "$hecho" "$conns" >"$LOGDIR/$n.host-echo.log" 2>&1 &
	epid=$!
	# Once the guest listens: the echo check, the refusal, then one last
	# connection (whatever happened) that lets the guest finish.
	{
		"$SOCKH_BIN" send "$hsend" "$bytes" "$conns" 150 && "$SOCKH_BIN" refused "$hrefused"
		r=$?
		if [[ -n "$habuse" ]]; then
			"$SOCKH_BIN" abuse "$habuse" "$rounds" || r=1
		fi
		"$SOCKH_BIN" send "$hsend" 1 1 20 || r=1
		exit $r
	} >"$LOGDIR/$n.host-send.log" 2>&1 &
	spid=$!
	# Port 6001 serves the misbehaving clients; its result does not count.
	gcmd="sock-helper echo vsock:any:6001 $((3 * rounds)) >/dev/null &"
	gcmd+=" sock-helper echo vsock:any:6000 $((conns + 1)) & e=\$!;"
	gcmd+=" sock-helper refused vsock:2:5999 && sock-helper send vsock:2:5000 $bytes $conns 30;"
	gcmd+=" r=\$?; wait \$e || r=1; exit \$r"
	INITRD="$SOCKH_INITRD" boot "$n" \
		"console=ttyS0 reboot=k panic=-1 quiet microvm.modules=virtio_pci,vmw_vsock_virtio_transport microvm.init=cmd microvm.cmd=\"$gcmd\"" \
		--cpus 1 --memory 256M --log-level info "$@"
	wait_pids 15 "$epid" "$spid"
	wait "$epid"
	est=$?
	wait "$spid"
	sst=$?
	echo "# $n: $(grep -ah -e 'echoed in' -e 'refused:' -e 'abuse:' "$log" "$LOGDIR/$n.host-send.log" |
		sed 's/.*SOCKH //' | tr '\n' ' ')"
	if [[ $status != 0 ]]; then
		why=$(status_why 0)
	elif ! has 'SOCKH refused: Connection reset by peer'; then
		why="the guest's connect to a host port nobody serves was not reset: $(cut -d' ' -f2- "$log" | grep -a 'SOCKH refused' | head -n1)"
	elif ! has "SOCKH send: $conns connections of $bytes bytes, 0 failed"; then
		why="guest -> host echo failed: $(cut -d' ' -f2- "$log" | grep -a SOCKH | grep -v listening | tail -n 2 | tr '\n' ' ')"
	elif ! has "SOCKH echo: $((conns + 1)) connections, 0 failed"; then
		why="host -> guest echo failed in the guest: $(cut -d' ' -f2- "$log" | grep -a SOCKH | tail -n 2 | tr '\n' ' ')"
	elif [[ $sst != 0 ]]; then
		why="host -> guest echo, refusal or abuse failed (status $sst): $(sockh_summary "$LOGDIR/$n.host-send.log")"
	elif [[ $est != 0 ]]; then
		why="the host's echo server failed (status $est): $(sockh_summary "$LOGDIR/$n.host-echo.log")"
	elif ! has 'MICROVM-CMD status=0'; then
		why="the guest command failed (last output: $(tail_of 3))"
	fi
}

test_virtio_vsock() {
	local n=virtio-vsock dir=/tmp/mv-vsock uds
	uds=$dir/v.sock
	mkdir -p "$dir"
	rm -f "$dir"/v.sock*
	vsock_run "$n" "unix:${uds}_5000" "fc:$uds:6000" "fc:$uds:6999" "fc:$uds:6001" \
		--vsock "cid=3,uds=$uds"
	if [[ -z "$why" && -e "$uds" ]]; then
		why="$uds is still there after the VM stopped"
	fi
	rm -f "$dir"/v.sock*
	if [[ -n "$why" ]]; then t_fail "$n" "$why"; else t_ok "$n"; fi
}

test_vsock_bad_uds() {
	bad_input vsock-bad-uds '--vsock uds=/nonexistent-dir/v.sock' --kernel "$KERNEL" --initrd "$INITRD" \
		--vsock cid=3,uds=/nonexistent-dir/v.sock
}

# The checkout is on the rig's 9p share, where Unix sockets cannot live.
test_vsock_uds_on_9p() {
	bad_input vsock-uds-on-9p 'cannot hold Unix sockets' --kernel "$KERNEL" --initrd "$INITRD" \
		--vsock "cid=3,uds=$LOGDIR/vsock-on-9p.sock"
}

# The same through the kernel's vhost-vsock: the rig host is CID 2 for the guest.
test_virtio_vsock_vhost() {
	local n=virtio-vsock-vhost out
	if [[ ! -c /dev/vhost-vsock ]] && ! out=$(rig_modprobe vhost_vsock); then
		t_fail "$n" "modprobe vhost_vsock failed in the rig: $out"
		return
	fi
	vsock_run "$n" "vsock:any:5000" "vsock:4:6000" "vsock:4:6999" "" --vsock cid=4,vhost=on
	if [[ -z "$why" ]] && ! has 'vhost-vsock running'; then
		why="the VMM did not start vhost-vsock"
	fi
	if [[ -n "$why" ]]; then t_fail "$n" "$why"; else t_ok "$n"; fi
}
