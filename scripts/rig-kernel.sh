#!/usr/bin/env bash
# rig-kernel.sh: builds once and caches the x86 rig host's own kernel (IOMMUFD, VFIO cdevs, all built in) from Debian's linux-source package; prints the cache entry.
#
# Usage: scripts/rig-kernel.sh            prints the entry dir, building it first if missing
#        scripts/rig-kernel.sh --cached   prints the entry dir if it is built, else exits 1
#
# Debian's own kernels have no CONFIG_IOMMUFD (bookworm's 6.1, trixie's 6.12), and
# IOMMU_IOAS_MAP_FILE needs 6.13, so this takes linux-source-X.Y of $RIG_KERNEL_SUITE
# (default sid; through scripts/debian-apt-suite.sh, downloaded and unpacked, never
# installed), configures it as allnoconfig with tests/rig/iommufd.config forced
# (KCONFIG_ALLCONFIG; every =y of it must survive), and builds vmlinux (ELF, PVH entry) and
# bzImage with make -j$(nproc). The entry, outside the checkout:
#   ${MICROVM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/microvm}/rig-kernel/<version>-<hash>/
#     vmlinux bzImage config System.map kver pkg version build-seconds build-cpu-seconds
#     usr/include/   the kernel's uapi headers (make headers_install): linux/iommufd.h
# <hash> covers the fragment and this script's configure and compile steps: the entry is
# reused while they are unchanged.
# RIG_KERNEL_PKG (e.g. linux-source-7.2) overrides the package that the suite's
# linux-source metapackage depends on. Offline (no apt index), the newest complete entry
# with the same <hash> is used. A lock keeps concurrent callers to one build; a failed or
# interrupted build leaves no entry (its log is kept as rig-kernel/last-failed-build.log).
set -euo pipefail

MIN_VERSION=6.13 # IOMMU_IOAS_MAP_FILE
BUILD_MINUTES=16 # measured cold here: 16m10s with -j2 while another rig ran (22.5 CPU-minutes)

die() {
	echo "rig-kernel: error: $*" >&2
	exit 1
}

log() {
	echo "rig-kernel: $*" >&2
}

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fragment="$repo/tests/rig/iommufd.config"
cache="${MICROVM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/microvm}"
root="$cache/rig-kernel"
suite="${RIG_KERNEL_SUITE:-sid}"

# What decides the kernel besides its source version: the fragment and the two functions
# that configure and make it (declare -f: their code without comments), not the rest of this
# script, so that editing messages or caching logic does not cost a rebuild.
inputs_hash() {
	{
		cat "$fragment"
		declare -f configure compile
	} | sha256sum | cut -c1-16
}

# children_cpu OUT: user+sys seconds of this shell's finished children (bash's times
# builtin, run in this shell: in a $(...) it would count the subshell's) into OUT.
children_cpu() {
	times >"$tmp/times"
	awk 'END { s = 0; for (i = 1; i <= NF; i++) { split($i, p, /[ms]/); s += p[1] * 60 + p[2] }
		printf "%d\n", s }' "$tmp/times" >"$1"
}

# Prints "<pkg> <version>": RIG_KERNEL_PKG, or what the suite's linux-source depends on.
resolve() {
	local conf pkg="${RIG_KERNEL_PKG:-}" ver
	conf=$(CACHE="$cache" "$repo/scripts/debian-apt-suite.sh" "$suite") || return 1
	if [[ -z "$pkg" ]]; then
		pkg=$(APT_CONFIG="$conf" apt-cache show --no-all-versions linux-source 2>/dev/null |
			sed -n 's/^Depends: .*\(linux-source-[0-9][^ ,]*\).*/\1/p' | head -n1)
	fi
	[[ -n "$pkg" ]] || return 1
	ver=$(APT_CONFIG="$conf" apt-cache show --no-all-versions "$pkg:all" 2>/dev/null |
		sed -n 's/^Version: //p' | head -n1)
	[[ -n "$ver" ]] || return 1
	echo "$pkg $ver"
}

newest_cached() {
	local d best=""
	for d in "$root"/*-"$1"; do
		[[ -f "$d/.complete" ]] || continue
		[[ -z "$best" || "$d" -nt "$best" ]] && best="$d"
	done
	[[ -n "$best" ]] && echo "$best"
}

# configure SRC: .config from allnoconfig with the fragment's values forced (everything else
# off, even what olddefconfig would turn on by default); fails naming any =y that was dropped.
configure() {
	local src="$1" sym missing=()
	make -C "$src" -s ARCH=x86_64 allnoconfig KCONFIG_ALLCONFIG="$fragment" >/dev/null
	for sym in $(sed -n 's/^\(CONFIG_[A-Za-z0-9_]*\)=y$/\1/p' "$fragment"); do
		grep -qx "$sym=y" "$src/.config" || missing+=("$sym")
	done
	((${#missing[@]} == 0)) ||
		die "allnoconfig dropped ${missing[*]} of $fragment (a dependency is off, or the symbol is gone in this kernel): fix the fragment"
}

# compile SRC OUT LOG: vmlinux, bzImage, and the uapi headers into OUT/usr/include.
# Warnings are the kernel's, not ours: only make's status counts.
# (make headers and a copy, not headers_install: that one needs rsync.)
compile() {
	local src="$1" out="$2" log="$3"
	make -C "$src" ARCH=x86_64 -j"$(nproc)" vmlinux bzImage headers >"$log" 2>&1 &&
		mkdir -p "$out/usr" && cp -a "$src/usr/include" "$out/usr/" &&
		find "$out/usr/include" -name '.*' -type f -delete
}

# Everything the build needs, checked before minutes are spent on it.
check_tools() {
	local t missing=()
	for t in make gcc ld bc bison flex perl xz tar; do
		command -v "$t" >/dev/null || missing+=("$t")
	done
	[[ -f /usr/include/libelf.h ]] || missing+=("libelf.h (libelf-dev)")
	[[ -f /usr/include/openssl/opensslv.h ]] || missing+=("openssl headers (libssl-dev)")
	((${#missing[@]} == 0)) || die "missing for the kernel build: ${missing[*]} (run scripts/deps.sh)"
}

# build PKG VER DEST: the whole build in a temporary dir next to DEST, moved into place at the end.
build() {
	local pkg="$1" ver="$2" dest="$3" pkgroot tarball src out t0 secs
	pkgroot=$(CACHE="$cache" "$repo/scripts/debian-pkg.sh" --suite "$suite" "$pkg:all") ||
		die "cannot fetch $pkg=$ver from $suite (see above)"
	tarball="$pkgroot/usr/src/$pkg.tar.xz"
	[[ -f "$tarball" ]] || die "$pkg has no usr/src/$pkg.tar.xz"

	tmp=$(mktemp -d "$root/.build.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	log "building the iommufd rig kernel from $pkg $ver (takes ~$BUILD_MINUTES min with 2 cores; log: $tmp/build.log)"
	t0=$SECONDS
	tar -xJf "$tarball" -C "$tmp" || die "cannot unpack $tarball"
	src="$tmp/$pkg"
	[[ -f "$src/Makefile" ]] || die "$tarball has no $pkg/Makefile"
	configure "$src"
	out="$tmp/out"
	mkdir -p "$out"
	children_cpu "$tmp/cpu0"
	if ! compile "$src" "$out" "$tmp/build.log"; then
		cp "$tmp/build.log" "$root/last-failed-build.log"
		tail -n 30 "$tmp/build.log" | sed 's/^/rig-kernel: | /' >&2
		die "the kernel build failed; its log is $root/last-failed-build.log"
	fi
	cp "$src/vmlinux" "$src/arch/x86/boot/bzImage" "$src/System.map" "$out/"
	cp "$src/.config" "$out/config"
	make -C "$src" -s ARCH=x86_64 kernelrelease >"$out/kver"
	echo "$pkg" >"$out/pkg"
	echo "$ver" >"$out/version"
	secs=$((SECONDS - t0))
	echo "$secs" >"$out/build-seconds"
	children_cpu "$tmp/cpu1"
	echo $(($(cat "$tmp/cpu1") - $(cat "$tmp/cpu0"))) >"$out/build-cpu-seconds"
	touch "$out/.complete"
	rm -rf "$dest"
	mv "$out" "$dest"
	rm -rf "$tmp"
	trap - EXIT
	log "built $dest in $((secs / 60))m$((secs % 60))s ($(cat "$dest/build-cpu-seconds") s of CPU)"
}

version_ok() {
	local base="${1#linux-source-}"
	[[ "$(printf '%s\n%s\n' "$MIN_VERSION" "$base" | sort -V | head -n1)" = "$MIN_VERSION" ]]
}

main() {
	local cached_only=0 hash resolved pkg ver dest lockfd
	case "${1:-}" in
	--cached) cached_only=1 ;;
	"") ;;
	*) echo "usage: $0 [--cached]" >&2; exit 2 ;;
	esac
	[[ -f "$fragment" ]] || die "$fragment is missing"
	hash=$(inputs_hash)
	mkdir -p "$root"

	if ((cached_only)); then
		newest_cached "$hash" || exit 1
		return 0
	fi
	if ! resolved=$(resolve); then
		dest=$(newest_cached "$hash") ||
			die "cannot resolve linux-source in $suite (apt index: scripts/debian-apt-suite.sh $suite) and no entry for these inputs is cached under $root"
		log "note: apt cannot resolve linux-source in $suite; using the cached $dest"
		echo "$dest"
		return 0
	fi
	pkg="${resolved% *}" ver="${resolved#* }"
	version_ok "$pkg" || die "$pkg is older than $MIN_VERSION (IOMMU_IOAS_MAP_FILE); set RIG_KERNEL_PKG or RIG_KERNEL_SUITE"
	dest="$root/${ver//:/%3a}-$hash"
	if [[ ! -f "$dest/.complete" ]]; then
		exec {lockfd}>"$root/.lock"
		if ! flock -n "$lockfd"; then
			log "another caller is building the rig kernel; waiting for it"
			flock "$lockfd"
		fi
		if [[ ! -f "$dest/.complete" ]]; then
			# Holding the lock, any build dir left is from a killed run.
			rm -rf "$root"/.build.*
			check_tools
			build "$pkg" "$ver" "$dest"
		fi
		exec {lockfd}>&-
	fi
	echo "$dest"
}

main "$@"
