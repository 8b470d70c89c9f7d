# sock-helper.sh: shared by net.sh and vsock.sh (sourced by l2-tests.sh, adds no tests): builds sock-helper and an initramfs that has it, loads rig modules.
SOCKH_SRC=tests/boot/devices/sock-helper.c
SOCKH_BIN="$BUILD/tests/boot/sock-helper"
SOCKH_INITRD="$BUILD/tests/boot/initramfs-sockh.cpio.gz"

# sockh_build: $SOCKH_BIN (static: it also runs in the guest) and $SOCKH_INITRD (our guest
# initramfs with /bin/sock-helper appended as a second cpio archive), rebuilt when stale.
# On failure prints why and returns 1.
sockh_build() {
	local stage
	mkdir -p "$(dirname "$SOCKH_BIN")"
	if [[ ! -x "$SOCKH_BIN" || "$SOCKH_SRC" -nt "$SOCKH_BIN" ]]; then
		cc -std=gnu11 -O2 -Wall -Wextra -static -o "$SOCKH_BIN.tmp" "$SOCKH_SRC" 2>&1 | head -n 5 | tr '\n' ' '
		[[ ${PIPESTATUS[0]} = 0 ]] || return 1
		mv -f "$SOCKH_BIN.tmp" "$SOCKH_BIN"
	fi
	if [[ ! -f "$SOCKH_INITRD" || "$SOCKH_BIN" -nt "$SOCKH_INITRD" || "$INITRD" -nt "$SOCKH_INITRD" ]]; then
		stage=$(mktemp -d) || return 1
		mkdir -p "$stage/bin"
		cp "$SOCKH_BIN" "$stage/bin/sock-helper"
		# The kernel unpacks concatenated (compressed) cpio archives in order.
		if ! (cd "$stage" && find . | cpio -o -H newc --owner=0:0 --quiet | gzip -9) >"$stage.cpio.gz" ||
			! cat "$INITRD" "$stage.cpio.gz" >"$SOCKH_INITRD.tmp"; then
			echo "packing $SOCKH_INITRD failed"
			rm -rf "$stage" "$stage.cpio.gz"
			return 1
		fi
		rm -rf "$stage" "$stage.cpio.gz"
		mv -f "$SOCKH_INITRD.tmp" "$SOCKH_INITRD"
	fi
}

# sockh_summary FILE: the helper's last result line in FILE, for failure messages.
sockh_summary() {
	grep -a 'SOCKH' "$1" 2>/dev/null | grep -avE 'listening|bytes echoed in|echo: [0-9]+ bytes$' | tail -n 2 | tr '\n' ' ' | cut -c1-200
}
