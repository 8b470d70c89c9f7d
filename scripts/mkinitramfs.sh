#!/usr/bin/env bash
# mkinitramfs.sh: packs a busybox-static initramfs (newc cpio, gzip) with a given /init and kernel modules.
#
# Usage: scripts/mkinitramfs.sh -o OUT.cpio.gz --init FILE [--kernel-dir DIR] [--modules "m1 m2 ..."]
#                               [--add SRC:DST]... [--busybox PATH]
#   --init FILE       becomes /init (mode 0755)
#   --kernel-dir DIR  a scripts/debian-kernel.sh cache dir (vmlinuz, kver, lib/modules/<kver>/)
#   --modules LIST    module names (space or comma separated); their dependencies are added and
#                     modules.dep is made with depmod -b, so busybox modprobe resolves them.
#                     Modules that are built in or absent are reported and skipped.
#   --add SRC:DST     copy SRC into the image at DST (absolute path inside the image)
#   --busybox PATH    a static busybox to use instead of /bin/busybox; one this machine cannot
#                     run (another architecture's) gets only /bin/sh linked: /init must run
#                     "/bin/busybox --install -s" first
# Everything is owned by root (cpio --owner=0:0); no fakeroot needed.
set -euo pipefail

die() {
	echo "mkinitramfs: error: $*" >&2
	exit 1
}

usage() {
	sed -n '3,14p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

out="" init="" kdir="" modules="" adds=() busybox=/bin/busybox
while [[ $# -gt 0 ]]; do
	case "$1" in
	-o) out="${2:?}"; shift 2 ;;
	--init) init="${2:?}"; shift 2 ;;
	--kernel-dir) kdir="${2:?}"; shift 2 ;;
	--modules) modules="${2//,/ }"; shift 2 ;;
	--add) adds+=("${2:?}"); shift 2 ;;
	--busybox) busybox="${2:?}"; shift 2 ;;
	-h | --help) usage ;;
	*) echo "mkinitramfs: unknown argument: $1" >&2; usage ;;
	esac
done
[[ -n "$out" && -n "$init" ]] || usage
[[ -f "$init" ]] || die "init $init does not exist"
if [[ -n "$modules" && -z "$kdir" ]]; then
	die "--modules needs --kernel-dir"
fi
export PATH="$PATH:/sbin:/usr/sbin"
for tool in cpio gzip; do
	command -v "$tool" >/dev/null || die "$tool not found (run scripts/deps.sh)"
done

[[ -x "$busybox" ]] || die "$busybox not found (install busybox-static: scripts/deps.sh)"
if command -v readelf >/dev/null && readelf -l "$busybox" 2>/dev/null | grep -q 'INTERP'; then
	die "$busybox is dynamically linked; install busybox-static (scripts/deps.sh)"
fi

stage=$(mktemp -d "${TMPDIR:-/tmp}/mkinitramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT

mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,root,etc,mnt,lib/modules}
chmod 1777 "$stage/tmp"
cp "$busybox" "$stage/bin/busybox"
if ! "$busybox" true 2>/dev/null; then
	echo "mkinitramfs: note: cannot run $busybox here; linking only /bin/sh (/init must run busybox --install -s)" >&2
	ln -s /bin/busybox "$stage/bin/sh"
fi
# One symlink per applet, at the path busybox itself lists (bin/sh, usr/bin/awk, ...).
# (A pipe, not <(...): the rig's minimal /dev has no /dev/fd.)
[[ -L "$stage/bin/sh" ]] || "$busybox" --list-full | while read -r applet; do
	[[ -n "$applet" && "$applet" != bin/busybox ]] || continue
	[[ -e "$stage/$applet" || -L "$stage/$applet" ]] && continue
	mkdir -p "$stage/$(dirname "$applet")"
	ln -s /bin/busybox "$stage/$applet"
done
[[ -L "$stage/bin/sh" ]] || die "busybox has no sh applet"

install -m 0755 "$init" "$stage/init"
echo "root:x:0:0:root:/root:/bin/sh" >"$stage/etc/passwd"
echo "root:x:0:" >"$stage/etc/group"
# With /dev/console in the image the kernel hands init stdin/stdout/stderr.
if [[ "$(id -u)" = 0 ]]; then
	mknod -m 0600 "$stage/dev/console" c 5 1
	mknod -m 0666 "$stage/dev/null" c 1 3
fi

for a in "${adds[@]}"; do
	src="${a%%:*}"
	dst="${a#*:}"
	[[ -e "$src" ]] || die "--add: $src does not exist"
	[[ "$dst" = /* ]] || die "--add: destination $dst must be absolute"
	mkdir -p "$stage$(dirname "$dst")"
	cp -a "$src" "$stage$dst"
done

if [[ -n "$modules" ]]; then
	kver=$(cat "$kdir/kver") || die "$kdir/kver missing: not a debian-kernel.sh cache dir"
	mroot="$kdir/lib/modules/$kver"
	[[ -d "$mroot" ]] || die "$mroot missing"
	declare -A seen=()
	for m in $modules; do
		if ! deps=$(modprobe -d "$kdir" -S "$kver" --show-depends "$m" 2>&1); then
			echo "mkinitramfs: note: module $m not found for $kver; skipped" >&2
			continue
		fi
		while read -r verb path _; do
			case "$verb" in
			insmod) ;;
			builtin) continue ;;
			*) continue ;;
			esac
			# modprobe -d prints paths with the root dir in front.
			src="$path"
			path="${path#"$kdir"}"
			[[ -n "${seen[$path]:-}" ]] && continue
			seen[$path]=1
			[[ -f "$src" ]] || die "dependency $src of $m missing"
			mkdir -p "$stage$(dirname "$path")"
			case "$src" in
			*.ko.xz) xz -dc "$src" >"$stage${path%.xz}" ;;
			*.ko.zst) zstd -q -dc "$src" >"$stage${path%.zst}" ;;
			*.ko.gz) gzip -dc "$src" >"$stage${path%.gz}" ;;
			*) cp "$src" "$stage$path" ;;
			esac
		done <<<"$deps"
	done
	mkdir -p "$stage/lib/modules/$kver"
	for f in modules.builtin modules.builtin.modinfo modules.order; do
		[[ -f "$mroot/$f" ]] && cp "$mroot/$f" "$stage/lib/modules/$kver/"
	done
	depmod -b "$stage" "$kver" || die "depmod -b $stage $kver failed"
fi

mkdir -p "$(dirname "$out")"
tmp_out="$out.tmp.$$"
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
	cpio -o -H newc --owner=0:0 --quiet --reproducible) | gzip -6n >"$tmp_out"
mv -f "$tmp_out" "$out"
