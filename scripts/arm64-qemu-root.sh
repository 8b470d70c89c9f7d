#!/usr/bin/env bash
# arm64-qemu-root.sh: builds, once, an arm64 Debian root holding qemu-system-aarch64 and its library closure (for the aarch64 rig's benchmark); prints its path.
#
# Usage: scripts/arm64-qemu-root.sh        prints DIR: DIR/usr/bin/qemu-system-aarch64 exists
#
# The root is made with debootstrap's first stage only (--foreign: download and unpack,
# no arm64 code runs here), --variant=minbase --include=qemu-system-arm,ipxe-qemu
# (Debian bookworm; qemu-system-arm's arm64 build provides qemu-system-aarch64;
# ipxe-qemu holds the option ROM of -M virt's default virtio-net NIC). The first stage
# unpacks only the "required" packages and leaves the rest as .debs for the second stage:
# those are unpacked here with tar (no maintainer scripts: QEMU needs none), then
# the .debs are dropped. The dynamic library closure of the QEMU binary is checked with
# readelf. Nothing is ever installed on this machine (never `apt-get install` an :arm64
# package: it replaces native binaries).
#
# Cached outside the checkout, as it is big (~250 MB) and the same for every checkout:
#   ${MICROVM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/microvm}/arm64-qemu-root/<hash>/root
# keyed by this script and the env below; other hashes' roots are removed after a build.
# Env: A64_QEMU_SUITE (bookworm), A64_QEMU_MIRROR (http://deb.debian.org/debian).
# Needs debootstrap (apt-get install debootstrap) and network access to the mirror the
# first time; offline afterwards.
set -euo pipefail

die() {
	echo "arm64-qemu-root: error: $*" >&2
	exit 1
}

suite="${A64_QEMU_SUITE:-bookworm}"
mirror="${A64_QEMU_MIRROR:-http://deb.debian.org/debian}"
include="qemu-system-arm,ipxe-qemu"
cache="${MICROVM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/microvm}/arm64-qemu-root"
hash=$( (cat "${BASH_SOURCE[0]}"; echo "$suite $mirror $include") | sha256sum | cut -c1-16)
dir="$cache/$hash"
if [[ -f "$dir/.complete" ]]; then
	echo "$dir/root"
	exit 0
fi

command -v debootstrap >/dev/null || die "debootstrap not found (apt-get install debootstrap)"
command -v readelf >/dev/null || die "readelf not found (apt-get install binutils)"
mkdir -p "$cache"
exec {lockfd}>"$cache/.lock"
flock "$lockfd"
if [[ ! -f "$dir/.complete" ]]; then
	tmp=$(mktemp -d "$cache/.build.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	root="$tmp/root"
	echo "arm64-qemu-root: debootstrap --foreign $suite arm64 ($include) into $dir (a few minutes)" >&2
	debootstrap --foreign --arch=arm64 --variant=minbase --include="$include" \
		"$suite" "$root" "$mirror" >"$tmp/debootstrap.log" 2>&1 ||
		die "debootstrap failed (log: $(tail -n 5 "$tmp/debootstrap.log" | tr '\n' ' '))"
	n=0
	for deb in "$root"/var/cache/apt/archives/*.deb; do
		# Not dpkg-deb -x: its tar would replace the usr-merge symlinks (lib -> usr/lib)
		# with directories.
		dpkg-deb --fsys-tarfile "$deb" | tar -C "$root" --keep-directory-symlink -xf - ||
			die "unpacking $deb failed"
		n=$((n + 1))
	done
	((n > 0)) || die "debootstrap left no .debs in $root/var/cache/apt/archives"
	qdeb=$(ls "$root"/var/cache/apt/archives/qemu-system-arm_*.deb | head -n1)
	echo "$suite qemu-system-arm $(dpkg-deb -f "$qdeb" Version) ($n packages)" >"$tmp/info"
	rm -f "$root"/var/cache/apt/archives/*.deb
	[[ -L "$root/lib" ]] || die "the root's /lib is no longer a symlink to usr/lib (usr-merge broken)"
	qemu="$root/usr/bin/qemu-system-aarch64"
	[[ -x "$qemu" ]] || die "no usr/bin/qemu-system-aarch64 in the root (did $include unpack?)"
	readelf -h "$qemu" | grep -q 'Machine:.*AArch64' || die "$qemu is not an arm64 binary"
	# Every DT_NEEDED of QEMU and of the libraries it pulls in, found in the root's
	# multiarch library directory (usr-merged: lib is usr/lib).
	libdir="$root/usr/lib/aarch64-linux-gnu"
	todo=("$qemu") seen=" " missing=()
	while ((${#todo[@]})); do
		f="${todo[0]}"
		todo=("${todo[@]:1}")
		for lib in $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
			[[ "$seen" == *" $lib "* ]] && continue
			seen+="$lib "
			if [[ -e "$libdir/$lib" ]]; then
				todo+=("$(readlink -f "$libdir/$lib")")
			else
				missing+=("$lib")
			fi
		done
	done
	((${#missing[@]} == 0)) || die "libraries missing from the root: ${missing[*]}"
	# Mount points for the rig's chroot (the rig shares the root read-only) and the
	# directory the benchmark's staged guest files are bound on.
	mkdir -p "$root"/{proc,sys,dev,tmp,bench}
	rm -rf "$dir"
	mkdir -p "$dir"
	mv "$root" "$dir/root"
	mv "$tmp/info" "$dir/info"
	touch "$dir/.complete"
	find "$cache" -mindepth 1 -maxdepth 1 -type d ! -name "$hash" ! -name '.build.*' -exec rm -rf {} +
	echo "arm64-qemu-root: ready: $dir/root ($(du -sm "$dir/root" | cut -f1) MiB)" >&2
fi
echo "$dir/root"
