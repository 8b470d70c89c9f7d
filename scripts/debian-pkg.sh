#!/usr/bin/env bash
# debian-pkg.sh: fetches a Debian package of any architecture and unpacks it into the cache (never installs it); prints the unpacked root.
#
# Usage: scripts/debian-pkg.sh [--suite SUITE] PKG:ARCH   e.g. busybox-static:arm64
#   prints $CACHE/debian-pkg/<pkg>_<version>_<arch>/root (CACHE defaults to build/cache in
#   the repo), made with apt-get download and dpkg-deb -x. Dependencies are not followed:
#   it is meant for static binaries (busybox-static) and data.
#   --suite SUITE takes PKG from another Debian suite (e.g. sid, for linux-source-7.2:all)
#   through the private apt configuration of scripts/debian-apt-suite.sh.
# For a foreign architecture, multiarch must know it (dpkg --add-architecture arm64;
# apt-get update). Never `apt-get install` a foreign binary package: busybox-static:arm64
# replaces this machine's own /bin/busybox. Without apt metadata, the newest complete
# cache entry of PKG and ARCH is used (offline runs).
set -euo pipefail

die() {
	echo "debian-pkg: error: $*" >&2
	exit 1
}

suite=""
if [[ "${1:-}" = --suite ]]; then
	suite="${2:?--suite needs a Debian suite (e.g. sid)}"
	shift 2
fi
spec="${1:-}"
[[ "$spec" =~ ^([a-z0-9][a-z0-9.+-]*):([a-z0-9]+)$ ]] || {
	echo "usage: $0 [--suite SUITE] PKG:ARCH" >&2
	exit 2
}
pkg="${BASH_REMATCH[1]}" arch="${BASH_REMATCH[2]}"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${CACHE:-build/cache}"
[[ "$cache" = /* ]] || cache="$repo/$cache"
root="$cache/debian-pkg"
if [[ -n "$suite" ]]; then
	APT_CONFIG=$(CACHE="$cache" "$repo/scripts/debian-apt-suite.sh" "$suite") ||
		die "no apt index for suite $suite (see the message above)"
	export APT_CONFIG
fi
mkdir -p "$root"
exec {lockfd}>"$root/.lock"
flock "$lockfd"

ver=$(apt-cache show --no-all-versions "$pkg:$arch" 2>/dev/null | sed -n 's/^Version: //p' | head -n1 || true)
if [[ -z "$ver" ]]; then
	best=""
	for d in "$root/${pkg}_"*"_$arch"; do
		[[ -f "$d/.complete" ]] || continue
		[[ -z "$best" || "$d" -nt "$best" ]] && best="$d"
	done
	[[ -n "$best" ]] || die "apt-cache knows no $pkg:$arch and nothing is cached under $root (apt-get update; dpkg --add-architecture $arch)"
	echo "$best/root"
	exit 0
fi
# The version names a directory: an epoch's ':' becomes '%3a', as in .deb file names.
dir="$root/${pkg}_${ver//:/%3a}_$arch"
if [[ ! -f "$dir/.complete" ]]; then
	tmp=$(mktemp -d "$root/.fetch.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	# apt-get download drops privileges to _apt when run as root: let it write here.
	chmod 0777 "$tmp"
	echo "debian-pkg: downloading $pkg:$arch=$ver" >&2
	(cd "$tmp" && apt-get download -q "$pkg:$arch=$ver" >&2) || die "apt-get download $pkg:$arch=$ver failed"
	deb=$(ls "$tmp"/*.deb 2>/dev/null | head -n1)
	[[ -n "$deb" ]] || die "apt-get download $pkg:$arch=$ver produced no .deb"
	mkdir -p "$tmp/out/root"
	dpkg-deb -x "$deb" "$tmp/out/root" || die "dpkg-deb -x $deb failed"
	echo "$pkg $ver $arch" >"$tmp/out/pkg"
	touch "$tmp/out/.complete"
	rm -rf "$dir"
	mv "$tmp/out" "$dir"
fi
echo "$dir/root"
