#!/usr/bin/env bash
# deps.sh: `make deps`: installs every Debian package that building microvm and running all its tests needs.
set -euo pipefail

PACKAGES=(
	# build
	gcc make pkg-config libc6-dev linux-libc-dev libfdt-dev liburing-dev binutils
	# tests: L0 (Criterion), ACPI tables (iasl), FDT (dtc), make check-format
	libcriterion-dev acpica-tools device-tree-compiler clang-format
	# guest assets and rigs: kernel download/unpack (apt, dpkg-deb), initramfs, modules, QEMU
	busybox-static cpio gzip xz-utils zstd kmod qemu-system-x86 qemu-system-arm
	# the iommufd rig kernel (scripts/rig-kernel.sh builds it from Debian's linux-source)
	bc bison flex libelf-dev libssl-dev
	# make fuzz: libFuzzer (clang's runtime)
	clang libclang-rt-14-dev
	# make bench: the driver, the chart; the aarch64 section's arm64 QEMU root
	# (scripts/arm64-qemu-root.sh: debootstrap's first stage, nothing arm64 is installed)
	python3 gnuplot-nox debootstrap
	# the Rust binding (bindings/rust, no crates from outside)
	cargo rustc
	# aarch64: gzip-compressed kernels (Debian's arm64 vmlinuz) are decompressed with zlib
	zlib1g-dev
)
# Also used, from Debian's essential set: bash, coreutils (timeout), util-linux (flock),
# findutils, grep, sed, mawk, apt, dpkg.
# make ARCH=aarch64 (a cross build from amd64): the toolchain, and the arm64
# builds of the libraries the VMM links, through Debian multiarch. Only
# libraries that are Multi-Arch: same come from arm64 (an arm64 program, or
# a package without it, would replace the host's own).
CROSS_PACKAGES=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
ARM64_LIBRARIES=(liburing-dev:arm64 zlib1g-dev:arm64 libfdt1:arm64)
# libfdt-dev is not Multi-Arch: same: installing libfdt-dev:arm64 removes
# the amd64 libfdt-dev the native build needs (and back). Its arm64 static
# and link libraries are unpacked from the package into A64_LIBDIR instead,
# which `make ARCH=aarch64` links from (the header is the same for both).
A64_LIBDIR=/usr/local/lib/aarch64-linux-gnu

if [[ "$(id -u)" = 0 ]]; then
	sudo=()
elif command -v sudo >/dev/null; then
	sudo=(sudo)
else
	echo "deps: error: not root and sudo is missing; run as root" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# On an arm64 host those are the native packages: nothing to cross.
if [[ "$(dpkg --print-architecture)" != arm64 ]]; then
	if ! dpkg --print-foreign-architectures | grep -qx arm64; then
		"${sudo[@]}" dpkg --add-architecture arm64
	fi
	PACKAGES+=("${CROSS_PACKAGES[@]}" "${ARM64_LIBRARIES[@]}")
fi
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"

# The arm64 libfdt for the cross build, once per libfdt version.
install_arm64_libfdt() {
	local ver tmp
	ver=$(dpkg-query -W -f '${Version}' libfdt1:arm64)
	if [[ -e "$A64_LIBDIR/libfdt.a" && "$(cat "$A64_LIBDIR/.libfdt-version" 2>/dev/null)" = "$ver" ]]; then
		return 0
	fi
	tmp=$(mktemp -d)
	(cd "$tmp" && apt-get download -q "libfdt-dev:arm64=$ver")
	dpkg-deb -x "$tmp"/libfdt-dev_*_arm64.deb "$tmp/root"
	"${sudo[@]}" install -d "$A64_LIBDIR"
	"${sudo[@]}" install -m 0644 "$tmp/root/usr/lib/aarch64-linux-gnu/libfdt.a" "$A64_LIBDIR/"
	# The shared library itself is libfdt1:arm64's.
	"${sudo[@]}" ln -sfn /usr/lib/aarch64-linux-gnu/libfdt.so.1 "$A64_LIBDIR/libfdt.so"
	echo "$ver" | "${sudo[@]}" tee "$A64_LIBDIR/.libfdt-version" >/dev/null
	rm -rf "$tmp"
}
if [[ "$(dpkg --print-architecture)" != arm64 ]]; then
	install_arm64_libfdt
fi
