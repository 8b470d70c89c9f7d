#!/usr/bin/env bash
# abi.sh: the ABI layer: libmicrovm.so exports the microvm_ API only, under SONAME
# libmicrovm.so.0; `make install` gives a tree that pkg-config and examples/embed.c build
# against, shared and static. The built example is left in $BUILD/abi/ for L1 to boot.
set -uo pipefail
cd "$(dirname "$0")/.."
. tests/lib.sh

BUILD=${BUILD:-build}
SO=$BUILD/libmicrovm.so.0
OUT=$BUILD/abi
rm -rf "$OUT"
mkdir -p "$OUT"

if [ ! -f "$SO" ]; then
	t_fail abi-built "$SO missing (make)"
	t_summary ABI
	exit 1
fi

others=$(nm -D --defined-only "$SO" | awk '$2 != "A" { print $3 }' | grep -v '^microvm_')
if [ -z "$others" ]; then
	t_ok abi-exports-only-the-api
else
	t_fail abi-exports-only-the-api "$(wc -l <<<"$others") other names, e.g. $(head -n 5 <<<"$others" | tr '\n' ' ')"
fi
# Every function the header declares is exported (and versioned); its static inline
# wrappers (microvm_config_init) are compiled into the caller instead.
declared=$(grep -vE '^static inline|^[[:space:]]*(/?\*)' include/microvm.h |
	sed -nE 's/(^|.*[ *])(microvm_[a-z_0-9]+)\(.*/\2/p' | sort -u)
exported=$(nm -D --defined-only "$SO" | awk '{ print $3 }' | sed 's/@.*//' | sort -u)
missing=$(comm -23 <(echo "$declared") <(echo "$exported"))
[ -z "$missing" ] && t_ok abi-exports-every-declared-function ||
	t_fail abi-exports-every-declared-function "not exported: $missing"
versioned=$(objdump -T "$SO" | grep -c ' MICROVM_0 *microvm_')
[ "$versioned" -ge "$(wc -l <<<"$declared")" ] && t_ok abi-symbols-versioned ||
	t_fail abi-symbols-versioned "$versioned of $(wc -l <<<"$declared") in version node MICROVM_0"
soname=$(readelf -d "$SO" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$soname" = libmicrovm.so.0 ] && t_ok abi-soname || t_fail abi-soname "SONAME '$soname'"

# make install into a staging tree, then build the example the way a user would.
dest=$OUT/root
if make -s --no-print-directory install BUILD="$BUILD" DESTDIR="$dest" PREFIX=/usr >"$OUT/install.log" 2>&1; then
	t_ok install
else
	t_fail install "$(tail -n 5 "$OUT/install.log")"
fi
for f in usr/bin/microvm usr/lib/libmicrovm.a usr/lib/libmicrovm.so.0 usr/lib/libmicrovm.so \
	usr/include/microvm.h usr/lib/pkgconfig/microvm.pc; do
	[ -e "$dest/$f" ] || t_fail "install-$f" "missing from the installed tree"
done
export PKG_CONFIG_SYSROOT_DIR=$dest PKG_CONFIG_LIBDIR=$dest/usr/lib/pkgconfig
if cflags=$(pkg-config --cflags microvm) && libs=$(pkg-config --libs microvm) &&
	slibs=$(pkg-config --static --libs microvm); then
	t_ok pkg-config
else
	t_fail pkg-config "pkg-config cannot read the installed microvm.pc"
fi
if nm -D "$SO" | grep -q __asan_init; then
	# A sanitized library needs the sanitizer runtime at link time too.
	t_skip example-builds "a sanitizer build ($BUILD): the example links the plain build only"
	t_summary ABI
	exit $?
fi
# shellcheck disable=SC2086 # word lists from pkg-config
if cc -std=c11 -Wall -Wextra -Werror $cflags examples/embed.c $libs -o "$OUT/embed" 2>"$OUT/cc.log" &&
	readelf -d "$OUT/embed" | grep -q 'NEEDED.*libmicrovm.so.0'; then
	t_ok example-builds-shared
else
	t_fail example-builds-shared "$(head -c 400 "$OUT/cc.log")"
fi
# shellcheck disable=SC2086
if cc -std=c11 -Wall -Wextra -Werror $cflags examples/embed.c -Wl,-Bstatic -lmicrovm -Wl,-Bdynamic \
	${slibs/-lmicrovm/} -o "$OUT/embed-static" 2>"$OUT/cc-static.log"; then
	t_ok example-builds-static
else
	t_fail example-builds-static "$(head -c 400 "$OUT/cc-static.log")"
fi
# It loads and runs against the installed library (usage error: no KVM needed).
LD_LIBRARY_PATH=$dest/usr/lib "$OUT/embed" >/dev/null 2>"$OUT/run.err"
rc=$?
[ "$rc" = 2 ] && grep -q usage "$OUT/run.err" && t_ok example-loads ||
	t_fail example-loads "status $rc: $(head -c 300 "$OUT/run.err")"
t_summary ABI
