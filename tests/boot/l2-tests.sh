#!/usr/bin/env bash
# l2-tests.sh: the L2 checks, run inside the rig by tests/boot/run.sh: boots our Linux guest with microvm and checks what it reports.
#
# Prints "# plan N", then one "ok - NAME" / "not ok - NAME: WHY" line per test and
# "# timing: ..." lines. Logs of each boot: $BUILD/tests/boot/<name>.log.
# Env: BUILD (default build), MICROVM (default $BUILD/microvm), L2_KERNEL, L2_INITRD,
#      L2_BOOT_TIMEOUT (seconds per boot, default 240), L2_ONLY (run only tests whose
#      name matches this extended regex).
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
BUILD="${BUILD:-build}"
MICROVM="${MICROVM:-$BUILD/microvm}"
KERNEL="${L2_KERNEL:-build/guest/vmlinuz}"
INITRD="${L2_INITRD:-build/guest/initramfs.cpio.gz}"
BOOT_TIMEOUT="${L2_BOOT_TIMEOUT:-240}"
BAD_TIMEOUT=20
LOGDIR="$BUILD/tests/boot"
mkdir -p "$LOGDIR"
. tests/lib.sh

TESTS=(boot-smp-mem pvh-vmlinux hugepages cpu-features pcie-topology shell panic reboot missing-kernel not-a-kernel memory-1m
	memory-below-kernel unknown-flag cpus-zero)
# Device tests live in tests/boot/devices/*.sh: each appends its names to
# TESTS and defines test_<name> (dashes become underscores).
for f in tests/boot/devices/*.sh; do
	[[ -e "$f" ]] && . "$f"
done
# Every way a guest stops, with Linux's defaults (tests/boot/stops.sh).
. tests/boot/stops.sh
selected=()
for t in "${TESTS[@]}"; do
	if [[ -z "${L2_ONLY:-}" || "$t" =~ ${L2_ONLY} ]]; then
		selected+=("$t")
	fi
done
echo "# plan ${#selected[@]}"

# Seconds between two $EPOCHREALTIME values, 3 decimals.
secs() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'
}

BOOT_PREFIX=()
# boot NAME CMDLINE [MORE ARGS...]: runs microvm on our guest with a timeout
# (behind the command in the BOOT_PREFIX array, e.g. ip netns exec NS, if set).
# Sets: status, log (each line prefixed with its $EPOCHREALTIME), t0, wall.
boot() {
	local name=$1 cmdline=$2
	shift 2
	log="$LOGDIR/$name.log"
	t0=$EPOCHREALTIME
	# No stdin (EOF): the console is output only here.
	"${BOOT_PREFIX[@]}" timeout -k 5 "$BOOT_TIMEOUT" "$MICROVM" run --kernel "$KERNEL" --initrd "$INITRD" \
		--cmdline "$cmdline" --console stdio "$@" </dev/null 2>&1 |
		while IFS= read -r line; do
			printf '%s %s\n' "$EPOCHREALTIME" "${line%$'\r'}"
		done >"$log"
	status=${PIPESTATUS[0]}
	wall=$(secs "$t0" "$EPOCHREALTIME")
}

# First time (seconds since t0) a log line matches ERE $1, or "n/a".
when() {
	local t
	t=$(grep -E -m1 -- "$1" "$log" | cut -d' ' -f1)
	if [[ -n "$t" ]]; then secs "$t0" "$t"; else echo "n/a"; fi
}

# The number (ms) the VMM logged in the first line matching ERE (with one group), or "n/a".
vmm_ms() {
	local v
	v=$(cut -d' ' -f2- "$log" | sed -nE "s/.*$1.*/\1/p" | head -n1)
	echo "${v:-n/a}"
}

# has ERE: the guest/VMM output contains a line matching ERE.
has() {
	cut -d' ' -f2- "$log" | grep -qE -- "$1"
}

# Last lines of the log, for failure messages.
tail_of() {
	cut -d' ' -f2- "$log" | grep -v '^\s*$' | tail -n "${1:-3}" | tr '\n' '|' | cut -c1-300
}

status_why() {
	if [[ $status = 124 || $status = 137 ]]; then
		echo "timed out after ${BOOT_TIMEOUT}s (last output: $(tail_of 3))"
	else
		echo "exit status $status, expected $1 (last output: $(tail_of 3))"
	fi
}

test_boot_smp_mem() {
	local n=boot-smp-mem
	boot "$n" "console=ttyS0 reboot=k panic=-1 microvm.init=check microvm.expect_cpus=2 microvm.expect_mem_mib=512" \
		--cpus 2 --memory 512M --log-level info
	# Wall clock from launch, as seen here, and what the VMM measured itself.
	echo "# timing: $n: launch->first KVM_RUN $(when 'first KVM_RUN')s," \
		"->Linux banner $(when 'Linux version')s, ->/init $(when 'microvm-init: started')s," \
		"->PASS $(when 'MICROVM-CHECK .* PASS')s, ->exit ${wall}s (status $status);" \
		"VMM: first KVM_RUN $(vmm_ms 'first KVM_RUN ([0-9.]+) ms') ms after create," \
		"init marker at $(vmm_ms 'boot marker 123 .* at ([0-9.]+) ms') ms"
	if [[ $status != 0 ]]; then
		t_fail "$n" "$(status_why 0)"
	elif has 'MICROVM-CHECK .* PASS'; then
		t_ok "$n"
	elif has 'MICROVM-CHECK'; then
		t_fail "$n" "$(cut -d' ' -f2- "$log" | grep -m1 'MICROVM-CHECK')"
	else
		t_fail "$n" "powered off without a MICROVM-CHECK line (last output: $(tail_of 3))"
	fi
}

# The default mode: type into the console once the shell is up; the shell must
# evaluate it, and busybox poweroff (SIGUSR2 to our /init) must power off.
test_shell() {
	local n=shell line deadline vm_pid
	log="$LOGDIR/$n.log"
	t0=$EPOCHREALTIME
	deadline=$((SECONDS + BOOT_TIMEOUT))
	coproc VM {
		exec timeout -k 5 "$BOOT_TIMEOUT" "$MICROVM" run --kernel "$KERNEL" \
			--initrd "$INITRD" --cpus 1 --memory 256M --console stdio \
			--cmdline "console=ttyS0 reboot=k panic=-1 quiet microvm.init=shell" 2>&1
	}
	vm_pid=$VM_PID
	exec {vm_in}>&"${VM[1]}" {vm_out}<&"${VM[0]}"
	: >"$log"
	while ((SECONDS < deadline)) && IFS= read -r line <&"$vm_out"; do
		printf '%s %s\n' "$EPOCHREALTIME" "${line%$'\r'}" >>"$log"
		# busybox sh prints this banner when it starts interactively.
		if [[ "$line" == *"Enter 'help'"* ]]; then
			printf 'echo shell-$((6 * 7)); poweroff\n' >&"$vm_in"
		fi
	done
	exec {vm_in}>&- {vm_out}<&-
	wait "$vm_pid"
	status=$?
	wall=$(secs "$t0" "$EPOCHREALTIME")
	echo "# timing: $n: ->/init $(when 'microvm-init: started')s, ->exit ${wall}s (status $status)"
	if [[ $status != 0 ]]; then
		t_fail "$n" "$(status_why 0)"
	elif ! has '^shell-42'; then
		t_fail "$n" "powered off, but the shell never printed the result of the typed command"
	else
		t_ok "$n"
	fi
}

test_panic() {
	local n=panic
	boot "$n" "console=ttyS0 reboot=k panic=-1 quiet microvm.init=panic" --cpus 1 --memory 256M
	echo "# timing: $n: ->/init $(when 'microvm-init: started')s, ->exit ${wall}s (status $status)"
	if [[ $status != 4 ]]; then
		t_fail "$n" "$(status_why 4)"
	elif ! has 'microvm-init: panicking'; then
		t_fail "$n" "status 4 but the guest never said it was panicking"
	else
		t_ok "$n"
	fi
}

test_reboot() {
	local n=reboot
	boot "$n" "console=ttyS0 reboot=k panic=-1 quiet microvm.init=reboot" --cpus 1 --memory 256M
	echo "# timing: $n: ->/init $(when 'microvm-init: started')s, ->exit ${wall}s (status $status)"
	if [[ $status != 3 ]]; then
		t_fail "$n" "$(status_why 3)"
	elif ! has 'microvm-init: rebooting'; then
		t_fail "$n" "status 3 but the guest never said it was rebooting"
	else
		t_ok "$n"
	fi
}

# The same check, booting the uncompressed ELF vmlinux through its PVH note.
test_pvh_vmlinux() {
	local n=pvh-vmlinux vmlinux="${L2_VMLINUX:-build/guest/vmlinux}"
	if [[ ! -f "$vmlinux" ]]; then
		t_fail "$n" "$vmlinux missing (scripts/guest-assets.sh unpacks it)"
		return
	fi
	KERNEL="$vmlinux" boot "$n" \
		"console=ttyS0 reboot=k panic=-1 quiet microvm.init=check microvm.expect_cpus=2 microvm.expect_mem_mib=384" \
		--cpus 2 --memory 384M --log-level info
	echo "# timing: $n: ->/init $(when 'microvm-init: started')s, ->exit ${wall}s (status $status)"
	if [[ $status != 0 ]]; then
		t_fail "$n" "$(status_why 0)"
	elif ! has 'loader: ELF kernel, PVH entry'; then
		t_fail "$n" "did not boot through the PVH entry"
	elif ! has 'MICROVM-CHECK .* PASS'; then
		t_fail "$n" "no PASS line (last output: $(tail_of 3))"
	else
		t_ok "$n"
	fi
}

# Guest RAM from huge pages the rig reserves for the test: the boot must
# take them (free minus reserved drops by 128 while it runs) and load the kernel
# by copying (hugetlbfs cannot be written through its file).
test_hugepages() {
	local n=hugepages old free min watcher
	old=$(cat /proc/sys/vm/nr_hugepages)
	echo $((old + 128)) >/proc/sys/vm/nr_hugepages 2>/dev/null
	free=$(awk '/^HugePages_Free/ { print $2 }' /proc/meminfo)
	if [[ "${free:-0}" -lt 128 ]]; then
		echo "$old" >/proc/sys/vm/nr_hugepages 2>/dev/null
		t_fail "$n" "could not reserve 128 huge pages in the rig (free: ${free:-?})"
		return
	fi
	(
		m=$free
		while sleep 0.5; do
			# Free less reserved: mmap reserves them all, faults take them.
			f=$(awk '/^HugePages_Free/ { f = $2 } /^HugePages_Rsvd/ { r = $2 } END { print f - r }' /proc/meminfo)
			((f < m)) && m=$f && echo "$m" >"$LOGDIR/$n.min"
		done
	) &
	watcher=$!
	echo "$free" >"$LOGDIR/$n.min"
	boot "$n" "console=ttyS0 reboot=k panic=-1 quiet microvm.init=check microvm.expect_mem_mib=256" \
		--memory 256M,hugepages=on --log-level info
	kill "$watcher" 2>/dev/null
	wait "$watcher" 2>/dev/null
	min=$(cat "$LOGDIR/$n.min")
	echo "$old" >/proc/sys/vm/nr_hugepages
	echo "# timing: $n: ->exit ${wall}s (status $status); huge pages free $free, lowest unreserved while running $min"
	if [[ $status != 0 ]]; then
		t_fail "$n" "$(status_why 0)"
	elif ! has 'guest RAM 256MiB in [0-9]+ regions? \(memfd, huge pages\)'; then
		t_fail "$n" "the VMM did not say it backs RAM with huge pages"
	elif ! has 'MICROVM-CHECK .* PASS'; then
		t_fail "$n" "no PASS line (last output: $(tail_of 3))"
	elif ((free - min < 128)); then
		t_fail "$n" "free huge pages less reserved went from $free only down to $min while the VM ran"
	else
		t_ok "$n"
	fi
}

# --cpu-features as the guest kernel sees it (on a real KVM, unlike kvm_pvm).
test_cpu_features() {
	local n=cpu-features
	boot "$n" "console=ttyS0 reboot=k panic=-1 quiet microvm.init=cmd microvm.cmd=\"grep -m1 ^flags /proc/cpuinfo | grep -qvwE 'xsave|cx16|avx'\"" \
		--cpus 1 --memory 256M --cpu-features=-cx16,-xsave
	if [[ $status != 0 ]]; then
		t_fail "$n" "$(status_why 0)"
	elif ! has 'MICROVM-CMD status=0'; then
		t_fail "$n" "the guest still lists xsave, cx16 or avx (last output: $(tail_of 3))"
	else
		t_ok "$n"
	fi
}

# 8 GPU-like and 6 NVSwitch-like endpoints behind 40 packed root ports: Linux
# enumerates all of them from its own config-space reads, finds ACS 0x5f on
# every root port, and assigns nothing itself.
test_pcie_topology() {
	local n=pcie-topology gpu="bar0=16M:32,bar1=128G:64pref,bar3=32M:64pref" nvs="bar0=32M:32"
	local args=(--pcie-root-ports 40) i
	for i in 1 2 3 4 5 6 7 8; do args+=(--pci-testdev "$gpu"); done
	for i in 1 2 3 4 5 6; do args+=(--pci-testdev "$nvs"); done
	boot "$n" "console=ttyS0 reboot=k panic=-1 microvm.init=cmd microvm.cmd=\"pcicheck 40 14 0x5f\"" \
		--cpus 1 --memory 512M "${args[@]}" --topology-json "$LOGDIR/$n.json"
	echo "# $n: $(cut -d' ' -f2- "$log" | grep -m1 'PCICHECK ports')"
	if [[ $status != 0 ]]; then
		t_fail "$n" "$(status_why 0)"
	elif ! has 'PCICHECK PASS'; then
		t_fail "$n" "$(cut -d' ' -f2- "$log" | grep -m1 -E 'PCICHECK (FAIL|ports)' || tail_of 3)"
	elif has "can't assign|no space|failed to assign"; then
		t_fail "$n" "$(cut -d' ' -f2- "$log" | grep -m1 -E "can't assign|no space|failed to assign")"
	elif ! has 'MMCONFIG at .* reserved'; then
		t_fail "$n" "the guest kernel did not take ECAM (MMCONFIG) into use"
	elif ! has 'DMI: microvm microvm, BIOS'; then
		t_fail "$n" "the guest kernel found no SMBIOS"
	elif has 'PCI: Fatal|not using MMCONFIG'; then
		t_fail "$n" "$(cut -d' ' -f2- "$log" | grep -m1 -E 'PCI: Fatal|not using MMCONFIG')"
	else
		t_ok "$n"
	fi
}

# bad_input NAME ERE ARGS...: microvm run ARGS must fail with status 1 or 2 within
# BAD_TIMEOUT seconds and say something matching ERE (case-insensitive) on stderr.
bad_input() {
	local n=$1 re=$2 err t
	shift 2
	log="$LOGDIR/$n.log"
	t=$EPOCHREALTIME
	timeout -k 5 "$BAD_TIMEOUT" "$MICROVM" run "$@" --console none </dev/null >/dev/null 2>"$log"
	status=$?
	err=$(head -c 300 "$log" | tr '\n' ' ')
	if [[ $status = 124 || $status = 137 ]]; then
		t_fail "$n" "still running after ${BAD_TIMEOUT}s"
	elif [[ $status != 1 && $status != 2 ]]; then
		t_fail "$n" "exit status $status, expected 1 or 2 (stderr: $err)"
	elif ! grep -qiE -- "$re" "$log"; then
		t_fail "$n" "stderr does not mention /$re/: $err"
	else
		t_ok "$n"
		echo "#   $n: status $status in $(secs "$t" "$EPOCHREALTIME")s: $err"
	fi
}

test_missing_kernel() {
	bad_input missing-kernel '/nonexistent-kernel.*(no such|not found|missing)' \
		--kernel /nonexistent-kernel
}

test_not_a_kernel() {
	bad_input not-a-kernel '/etc/hostname.*not .*kernel|not .*kernel.*/etc/hostname' \
		--kernel /etc/hostname
}

test_memory_1m() {
	bad_input memory-1m 'memory' --kernel "$KERNEL" --initrd "$INITRD" --memory 1M
}

test_memory_below_kernel() {
	bad_input memory-below-kernel 'memory.*(small|at least|need)' \
		--kernel "$KERNEL" --initrd "$INITRD" --memory 16M
}

test_unknown_flag() {
	bad_input unknown-flag '--no-such-flag' --kernel "$KERNEL" --no-such-flag
}

test_cpus_zero() {
	bad_input cpus-zero 'cpus' --kernel "$KERNEL" --cpus 0
}

if [[ ! -x "$MICROVM" ]]; then
	for t in "${selected[@]}"; do
		t_fail "$t" "$MICROVM not built"
	done
	exit 1
fi
for f in "$KERNEL" "$INITRD"; do
	if [[ ! -f "$f" ]]; then
		for t in "${selected[@]}"; do
			t_fail "$t" "$f missing (scripts/guest-assets.sh)"
		done
		exit 1
	fi
done

for t in "${selected[@]}"; do
	"test_${t//-/_}"
done
[[ $T_FAIL = 0 ]]
