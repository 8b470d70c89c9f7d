# all.sh: L2 test of the README's device example: disk, net, vsock and rng in one VM, drivers loaded by our /init without microvm.modules; the disk is a block device (a loop device).
TESTS+=(virtio-all)

test_virtio_all() {
	local n=virtio-all img=/tmp/mv-virtio-all.img sock=/tmp/mv-virtio-all.sock tap=mvtap-all
	local loopdev out got
	[[ -c /dev/net/tun ]] || rig_modprobe tun >/dev/null
	ip link del "$tap" 2>/dev/null
	rm -f "$img" "$sock"
	truncate -s 64M "$img"
	# A block device backs the disk (BLKGETSIZE64 for its size). /tmp is the
	# rig's own tmpfs: Unix sockets cannot live on its 9p share.
	if ! out=$(rig_modprobe loop) || ! loopdev=$(losetup -f --show "$img" 2>&1); then
		t_fail "$n" "no loop device for the disk: ${out:-} ${loopdev:-}"
		rm -f "$img"
		return
	fi
	# The tap does not exist: microvm makes it (root in the rig) and it goes with the VM.
	boot "$n" "console=ttyS0 reboot=k panic=-1 quiet microvm.init=cmd microvm.cmd=\"printf microvm-all | dd of=/dev/vda bs=512 seek=7 conv=notrunc,fsync 2>/dev/null; echo ALL \$(cat /sys/block/vda/size) \$(cat /sys/class/net/eth0/address) \$(test -c /dev/vsock && echo vsock) \$(cat /sys/class/misc/hw_random/rng_current)\"" \
		--cpus 1 --memory 256M --disk "$loopdev" --net "tap=$tap,mac=52:54:00:12:34:56" \
		--vsock "cid=3,uds=$sock" --rng
	losetup -d "$loopdev"
	got=$(dd if="$img" bs=512 skip=7 count=1 2>/dev/null | head -c 11)
	if [[ $status != 0 ]]; then
		t_fail "$n" "$(status_why 0)"
	elif ! has '^ALL 131072 52:54:00:12:34:56 vsock virtio_rng\.0'; then
		t_fail "$n" "the guest saw: $(cut -d' ' -f2- "$log" | grep -m1 '^ALL' || tail_of 3) (want: ALL 131072 52:54:00:12:34:56 vsock virtio_rng.0)"
	elif [[ "$got" != microvm-all ]]; then
		t_fail "$n" "sector 7 of the loop device's file holds '$got', not what the guest wrote"
	elif ip link show "$tap" >/dev/null 2>&1; then
		t_fail "$n" "the tap microvm made is still there after the VM stopped"
	elif [[ -e "$sock" ]]; then
		t_fail "$n" "the vsock socket $sock is still there after the VM stopped"
	else
		t_ok "$n"
	fi
	ip link del "$tap" 2>/dev/null
	rm -f "$img"
}
