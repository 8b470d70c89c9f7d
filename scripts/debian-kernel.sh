#!/usr/bin/env bash
# debian-kernel.sh: the one place that resolves, fetches and caches the Debian kernel used by guests and rigs.
#
# Usage:
#   scripts/debian-kernel.sh [--arch A]        prints the cache dir (vmlinuz, vmlinux (ELF, PVH),
#                                              config, lib/modules/<kver>/...)
#   scripts/debian-kernel.sh [--arch A] --kver prints the kernel release (e.g. 6.1.0-56-amd64)
#   . scripts/debian-kernel.sh                 (from bash) sets DEBIAN_KERNEL_DIR, DEBIAN_KERNEL_KVER,
#                                              DEBIAN_KERNEL_PKG, DEBIAN_KERNEL_VERSION,
#                                              DEBIAN_KERNEL_ARCH
#
# The Debian architecture is --arch, or $MICROVM_KERNEL_ARCH, or amd64. The package is the one
# linux-image-<arch> depends on (apt-cache), or $MICROVM_KERNEL_PKG (e.g.
# linux-image-6.1.0-56-amd64). It is cached under $CACHE/debian-kernel/<pkg>_<version>/
# (CACHE defaults to build/cache in the repo). With the cache present no network is needed:
# if apt cannot resolve the package, the newest complete cache entry of that architecture
# (its kernel release ends in -<arch>) is used.
# A foreign architecture (arm64 here) goes through multiarch (dpkg --add-architecture arm64;
# apt-get update): the package is downloaded and unpacked, never installed. For arm64 the
# entry also has Image, the uncompressed arm64 Image (what a VMM loads as it is).

dk_die() {
	echo "debian-kernel: error: $*" >&2
	return 1
}

dk_log() {
	echo "debian-kernel: $*" >&2
}

# apt's name suffix for the architecture: none for the machine's own, ":arm64" otherwise.
dk_apt_suffix() {
	local native

	native=$(dpkg --print-architecture 2>/dev/null || echo amd64)
	[[ "$DK_ARCH" = "$native" ]] || echo ":$DK_ARCH"
}

# Prints "<pkg> <version>" for the kernel image package to use, or fails.
dk_resolve() {
	local pkg="${MICROVM_KERNEL_PKG:-}" ver="" dep sfx

	sfx=$(dk_apt_suffix)
	if [[ -z "$pkg" ]]; then
		# The metapackage pins the image exactly: "Depends: linux-image-X (= V)".
		dep=$(apt-cache show --no-all-versions "linux-image-$DK_ARCH$sfx" 2>/dev/null |
			sed -n 's/^Depends: .*\(linux-image-[0-9][^ ,]*\) (= \([^)]*\)).*/\1 \2/p' |
			head -n1)
		pkg="${dep% *}"
		ver="${dep#* }"
	fi
	if [[ -z "$pkg" ]]; then
		return 1
	fi
	if [[ -z "$ver" || "$ver" = "$pkg" ]]; then
		ver=$(apt-cache show --no-all-versions "$pkg$sfx" 2>/dev/null |
			sed -n 's/^Version: //p' | head -n1)
	fi
	if [[ -z "$ver" ]]; then
		return 1
	fi
	echo "$pkg $ver"
}

# Newest complete cache entry (matching MICROVM_KERNEL_PKG if set), for offline use.
dk_newest_cached() {
	local root="$1" d best=""

	for d in "$root"/*/; do
		d="${d%/}"
		[[ -f "$d/.complete" ]] || continue
		[[ "$(cat "$d/kver" 2>/dev/null)" = *-"$DK_ARCH" ]] || continue
		if [[ -n "${MICROVM_KERNEL_PKG:-}" && "$(basename "$d")" != "${MICROVM_KERNEL_PKG}_"* ]]; then
			continue
		fi
		if [[ -z "$best" || "$d" -nt "$best" ]]; then
			best="$d"
		fi
	done
	[[ -n "$best" ]] && echo "$best"
}

# Unpack the ELF vmlinux (it has a PVH note) from a bzImage: QEMU boots it directly,
# which saves the several seconds an emulated CPU spends decompressing the kernel.
dk_extract_vmlinux() {
	local bz="$1" out="$2" magic pat tool off

	for magic in xz zstd gzip; do
		case "$magic" in
		xz) tool=(xz -dc --single-stream); pat='\xfd7zXZ\x00' ;;
		zstd) tool=(zstd -dcq); pat='\x28\xb5\x2f\xfd' ;;
		gzip) tool=(gzip -dc); pat='\x1f\x8b\x08' ;;
		esac
		off=$(LC_ALL=C grep -obUaP -m1 "$pat" "$bz" | head -n1 | cut -d: -f1)
		[[ -n "$off" ]] || continue
		tail -c +$((off + 1)) "$bz" | "${tool[@]}" >"$out.tmp" 2>/dev/null || true
		if [[ "$(head -c 4 "$out.tmp" 2>/dev/null | od -An -tx1 | tr -d ' ')" = 7f454c46 ]]; then
			mv -f "$out.tmp" "$out"
			return 0
		fi
	done
	rm -f "$out.tmp"
	dk_log "note: could not unpack an ELF vmlinux from $bz (rigs will boot the bzImage)"
	return 1
}

# arm64: Image, the kernel as the arm64 boot protocol has it (magic "ARM\x64" at offset 56).
# Debian 12's vmlinuz already is one (then Image is a symlink to it); where a vmlinuz is
# gzip-compressed, Image is it unpacked.
dk_is_arm64_image() {
	[[ "$(od -An -j56 -N4 -tx1 "$1" 2>/dev/null | tr -d ' ')" = 41524d64 ]]
}

dk_extract_image() {
	local vmlinuz="$1" out="$2"

	if dk_is_arm64_image "$vmlinuz"; then
		ln -sfn "$(basename "$vmlinuz")" "$out"
		return 0
	fi
	if gzip -dc "$vmlinuz" >"$out.tmp" 2>/dev/null && dk_is_arm64_image "$out.tmp"; then
		mv -f "$out.tmp" "$out"
		return 0
	fi
	rm -f "$out.tmp"
	dk_die "$vmlinuz is neither an arm64 Image nor a gzip-compressed one"
}

dk_fetch() {
	local pkg="$1" ver="$2" dest="$3" tmp deb kver

	tmp=$(mktemp -d "$(dirname "$dest")/.fetch.XXXXXX") || return 1
	# apt-get download drops privileges to _apt when run as root: let it write here.
	chmod 0777 "$tmp"
	dk_log "downloading $pkg$(dk_apt_suffix)=$ver"
	if ! (cd "$tmp" && apt-get download -q "$pkg$(dk_apt_suffix)=$ver" >&2); then
		rm -rf "$tmp"
		dk_die "apt-get download $pkg=$ver failed"
		return 1
	fi
	deb=$(ls "$tmp"/*.deb 2>/dev/null | head -n1)
	if [[ -z "$deb" ]]; then
		rm -rf "$tmp"
		dk_die "apt-get download $pkg=$ver produced no .deb"
		return 1
	fi
	dk_log "extracting $(basename "$deb")"
	mkdir -p "$tmp/root"
	if ! dpkg-deb -x "$deb" "$tmp/root"; then
		rm -rf "$tmp"
		dk_die "dpkg-deb -x $deb failed"
		return 1
	fi
	kver=$(ls "$tmp/root/lib/modules" 2>/dev/null | head -n1)
	if [[ -z "$kver" || ! -f "$tmp/root/boot/vmlinuz-$kver" ]]; then
		rm -rf "$tmp"
		dk_die "$pkg has no boot/vmlinuz-<kver> and lib/modules/<kver>"
		return 1
	fi
	mkdir -p "$tmp/out/lib"
	mv "$tmp/root/boot/vmlinuz-$kver" "$tmp/out/vmlinuz"
	[[ -f "$tmp/root/boot/config-$kver" ]] && mv "$tmp/root/boot/config-$kver" "$tmp/out/config"
	[[ -f "$tmp/root/boot/System.map-$kver" ]] && mv "$tmp/root/boot/System.map-$kver" "$tmp/out/System.map"
	mv "$tmp/root/lib/modules" "$tmp/out/lib/modules"
	# The package leaves modules.dep to its postinst; make it here so that
	# modprobe -d can resolve dependencies against the cache.
	if command -v depmod >/dev/null 2>&1 || [[ -x /sbin/depmod ]]; then
		PATH="$PATH:/sbin:/usr/sbin" depmod -b "$tmp/out" "$kver" ||
			{ rm -rf "$tmp"; dk_die "depmod -b failed"; return 1; }
	else
		rm -rf "$tmp"
		dk_die "depmod not found (install kmod: scripts/deps.sh)"
		return 1
	fi
	echo "$kver" >"$tmp/out/kver"
	echo "$pkg" >"$tmp/out/pkg"
	echo "$ver" >"$tmp/out/version"
	touch "$tmp/out/.complete"
	rm -rf "$dest"
	mv "$tmp/out" "$dest"
	rm -rf "$tmp"
}

dk_main() {
	local repo cache root resolved pkg ver dir lockfd
	# Seen by the functions called from here (dynamic scope).
	local DK_ARCH="${dk_arch_opt:-${MICROVM_KERNEL_ARCH:-amd64}}"

	repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
	[[ "$DK_ARCH" =~ ^[a-z0-9]+$ ]] || { dk_die "bad architecture '$DK_ARCH'"; return 1; }
	cache="${CACHE:-build/cache}"
	[[ "$cache" = /* ]] || cache="$repo/$cache"
	root="$cache/debian-kernel"
	mkdir -p "$root" || return 1

	# One fetch at a time (parallel make or a rig run beside a host build).
	exec {lockfd}>"$root/.lock"
	flock "$lockfd"

	if ! resolved=$(dk_resolve); then
		dir=$(dk_newest_cached "$root" || true)
		if [[ -z "$dir" ]] && [[ "$(id -u)" = 0 ]]; then
			dk_log "apt metadata missing; running apt-get update"
			apt-get update -q >&2 || true
			resolved=$(dk_resolve || true)
		fi
		if [[ -z "$resolved" && -z "$dir" ]]; then
			exec {lockfd}>&-
			dk_die "cannot resolve the kernel package (${MICROVM_KERNEL_PKG:-the Depends of linux-image-$DK_ARCH}) with apt-cache and nothing is cached under $root; run 'apt-get update' (scripts/deps.sh)"
			return 1
		fi
	fi
	if [[ -n "${resolved:-}" ]]; then
		pkg="${resolved% *}"
		ver="${resolved#* }"
		dir="$root/${pkg}_${ver}"
		if [[ ! -f "$dir/.complete" ]]; then
			if ! dk_fetch "$pkg" "$ver" "$dir"; then
				exec {lockfd}>&-
				return 1
			fi
		fi
	fi
	if [[ "$DK_ARCH" = arm64 ]]; then
		if [[ ! -f "$dir/Image" ]] && ! dk_extract_image "$dir/vmlinuz" "$dir/Image"; then
			exec {lockfd}>&-
			return 1
		fi
	elif [[ ! -f "$dir/vmlinux" && ! -f "$dir/.no-vmlinux" ]]; then
		dk_extract_vmlinux "$dir/vmlinuz" "$dir/vmlinux" || touch "$dir/.no-vmlinux"
	fi
	exec {lockfd}>&-

	DEBIAN_KERNEL_DIR="$dir"
	DEBIAN_KERNEL_KVER="$(cat "$dir/kver")"
	DEBIAN_KERNEL_PKG="$(cat "$dir/pkg")"
	DEBIAN_KERNEL_VERSION="$(cat "$dir/version")"
	DEBIAN_KERNEL_ARCH="$DK_ARCH"
	export DEBIAN_KERNEL_DIR DEBIAN_KERNEL_KVER DEBIAN_KERNEL_PKG DEBIAN_KERNEL_VERSION DEBIAN_KERNEL_ARCH
}

if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then
	# Sourced: set the variables; the caller decides what a failure means.
	dk_main
else
	set -euo pipefail
	if [[ "${1:-}" = --arch ]]; then
		dk_arch_opt="${2:?--arch needs a Debian architecture (amd64, arm64)}"
		shift 2
	fi
	dk_main
	case "${1:-}" in
	--kver) echo "$DEBIAN_KERNEL_KVER" ;;
	"") echo "$DEBIAN_KERNEL_DIR" ;;
	*)
		echo "usage: $0 [--arch ARCH] [--kver]" >&2
		exit 2
		;;
	esac
fi
