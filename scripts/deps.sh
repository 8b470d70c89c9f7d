#!/usr/bin/env bash
# deps.sh: `make deps`: installs every Debian package that building microvm and running all its tests needs.
set -euo pipefail

PACKAGES=(
	# build
	gcc make pkg-config libc6-dev linux-libc-dev libfdt-dev liburing-dev binutils
	# tests: L0 (Criterion), ACPI tables (iasl), FDT (dtc), make check-format
	libcriterion-dev acpica-tools device-tree-compiler clang-format
	# guest assets and rigs: kernel download/unpack (apt, dpkg-deb), initramfs, modules, QEMU
	busybox-static cpio gzip xz-utils zstd kmod qemu-system-x86
	# make fuzz: libFuzzer (clang's runtime)
	clang libclang-rt-14-dev
	# make bench: the driver, the chart
	python3 gnuplot-nox
	# the Rust binding (bindings/rust, no crates from outside)
	cargo rustc
)
# Also used, from Debian's essential set: bash, coreutils (timeout), util-linux (flock),
# findutils, grep, sed, mawk, apt, dpkg.

if [[ "$(id -u)" = 0 ]]; then
	sudo=()
elif command -v sudo >/dev/null; then
	sudo=(sudo)
else
	echo "deps: error: not root and sudo is missing; run as root" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"
