# rng.sh: L2 test of virtio-rng: the guest binds virtio_rng (loaded by our /init because the device is there) and reads /dev/hwrng.
TESTS+=(virtio-rng)

test_virtio_rng() {
	local n=virtio-rng
	boot "$n" "console=ttyS0 reboot=k panic=-1 quiet microvm.init=cmd microvm.cmd=\"cat /sys/class/misc/hw_random/rng_current && test \$(dd if=/dev/hwrng bs=4096 count=64 2>/dev/null | wc -c) = 262144\"" \
		--cpus 1 --memory 256M --rng
	if [[ $status != 0 ]]; then
		t_fail "$n" "$(status_why 0)"
	elif ! has '^virtio_rng\.0'; then
		t_fail "$n" "virtio_rng is not the current hwrng (last output: $(tail_of 3))"
	elif ! has 'MICROVM-CMD status=0'; then
		t_fail "$n" "reading 256 KiB from /dev/hwrng failed (last output: $(tail_of 3))"
	else
		t_ok "$n"
	fi
}
