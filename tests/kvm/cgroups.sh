# cgroups.sh: sourced by tests/kvm/run.sh (uses its VMM, TINY, T, expect): --vcpu-cgroup and
# --memory charge-cgroup= / prefault=on in a real cgroup v2 hierarchy with the cpu and memory
# controllers, built here (the x86 rig runs this layer as root on a Debian kernel).
#
#   $CG/mvt-PID            domain; +cpu +memory for its children
#   ├── vmm                the VMM process; a threaded domain, +cpu for vcpu
#   │   ├── vcpu           threaded: --vcpu-cgroup
#   │   └── dom            a domain child, so "domain invalid": refused as a vCPU cgroup
#   ├── guestmem           domain: --memory ...,charge-cgroup= (and refused as a vCPU cgroup)
#   └── other/t            threaded, but in another threaded domain: refused

CG=/sys/fs/cgroup

# cg_ready: a cgroup v2 hierarchy with cpu and memory is mounted at $CG, or say why not.
cg_ready() {
	if [ "$(id -u)" != 0 ]; then
		echo "needs root to build a cgroup hierarchy (the x86 rig runs this layer as root)"
		return 1
	fi
	if [ "$(stat -f -c %T "$CG" 2>/dev/null)" != cgroup2fs ]; then
		if mountpoint -q "$CG" 2>/dev/null; then
			echo "$CG holds a cgroup v1 hierarchy; these tests need cgroup v2 there"
			return 1
		fi
		mkdir -p "$CG" && mount -t cgroup2 none "$CG" 2>/dev/null ||
			{ echo "cannot mount cgroup2 at $CG"; return 1; }
	fi
	for c in cpu memory; do
		grep -qw "$c" "$CG/cgroup.controllers" ||
			{ echo "the kernel's cgroup v2 has no $c controller"; return 1; }
	done
	echo "+cpu +memory" >"$CG/cgroup.subtree_control" 2>/dev/null ||
		{ echo "cannot enable cpu and memory in $CG/cgroup.subtree_control"; return 1; }
}

# cg_spawn DIR NAME CMD...: start CMD in the background as a process of cgroup DIR, its
# output in $T/NAME.{out,err}; sets pid (CMD's own: the shell execs it).
cg_spawn() {
	local dir=$1 name=$2
	shift 2
	sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$dir" "$@" \
		>"$T/$name.out" 2>"$T/$name.err" </dev/null &
	pid=$!
}

# task_ticks PID TID: user+system clock ticks of one thread.
task_ticks() { awk '{ print $14 + $15 }' "/proc/$1/task/$2/stat"; }

# tid_of PID NAME: the thread of PID whose comm is NAME.
tid_of() {
	local t
	for t in /proc/"$1"/task/*; do
		[ "$(cat "$t/comm" 2>/dev/null)" = "$2" ] && { echo "${t##*/}"; return 0; }
	done
	return 1
}

# wait_log FILE PATTERN: up to 20 s for PATTERN in FILE.
wait_log() {
	for _ in $(seq 200); do grep -q "$2" "$1" && return 0; sleep 0.1; done
	return 1
}

# stop_vm NAME PID: SIGTERM, which must end it within 5 s.
stop_vm() {
	local name=$1 pid=$2
	kill -TERM "$pid"
	for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$pid" 2>/dev/null; then
		kill -9 "$pid"
		wait "$pid"
		t_fail "$name-stop" "still running 5 s after SIGTERM"
		return 1
	fi
	wait "$pid"
	return 0
}

cg_cpu_tests() {
	local vmm=$1 pid vcpu io a0 a1 b0 b1 pct_free pct_lim thr
	cg_spawn "$vmm" cg-cpu "$VMM" run $(tiny spin) --vcpu-cgroup "$vmm/vcpu" --log-level info
	if ! wait_log "$T/cg-cpu.err" 'first KVM_RUN' || ! vcpu=$(tid_of "$pid" vcpu0) ||
		! io=$(tid_of "$pid" microvm-io); then
		t_fail cgroup-vcpu-threads "the VM did not start: $(tail -c 300 "$T/cg-cpu.err")"
		kill -9 "$pid"
		wait "$pid"
		return
	fi
	sleep 0.5 # the vCPU moves itself once its thread runs
	if grep -qx "$vcpu" "$vmm/vcpu/cgroup.threads" && ! grep -qx "$io" "$vmm/vcpu/cgroup.threads" &&
		grep -qx "$io" "$vmm/cgroup.threads"; then
		t_ok cgroup-vcpu-threads
	else
		t_fail cgroup-vcpu-threads "vcpu0 $vcpu, microvm-io $io; vcpu cgroup has: $(tr '\n' ' ' <"$vmm/vcpu/cgroup.threads")"
	fi
	# Unlimited first, so the limit is seen to make the difference.
	a0=$(task_ticks "$pid" "$vcpu")
	sleep 3
	a1=$(task_ticks "$pid" "$vcpu")
	echo "20000 100000" >"$vmm/vcpu/cpu.max"
	sleep 1
	b0=$(task_ticks "$pid" "$vcpu")
	sleep 5
	b1=$(task_ticks "$pid" "$vcpu")
	pct_free=$(((a1 - a0) * 100 / (3 * $(getconf CLK_TCK))))
	pct_lim=$(((b1 - b0) * 100 / (5 * $(getconf CLK_TCK))))
	thr=$(awk '$1 == "nr_throttled" { print $2 }' "$vmm/vcpu/cpu.stat")
	echo "# cgroup-vcpu-cpu-max: spinning vCPU at ${pct_free}% unlimited, ${pct_lim}% under cpu.max 20%, throttled $thr times; VMM cgroup throttled $(awk '$1 == "nr_throttled" { print $2 }' "$vmm/cpu.stat") times"
	if [ "$pct_free" -lt 50 ]; then
		t_fail cgroup-vcpu-cpu-max "the spinning vCPU had only ${pct_free}% of a CPU without a limit"
	elif [ "$pct_lim" -lt 10 ] || [ "$pct_lim" -gt 30 ]; then
		t_fail cgroup-vcpu-cpu-max "the vCPU ran at ${pct_lim}% under a 20% cpu.max"
	elif [ "${thr:-0}" -eq 0 ]; then
		t_fail cgroup-vcpu-cpu-max "the vcpu cgroup was never throttled"
	else
		t_ok cgroup-vcpu-cpu-max
	fi
	# The event loop is not limited: it answers SIGTERM at once.
	stop_vm cgroup-vcpu "$pid" && t_ok cgroup-vcpu-stop
}

cg_mem_tests() {
	local base=$1 pid cur vcur size=$((256 << 20))
	# Charged to guestmem, not to the VMM's cgroup, while the VM runs.
	cg_spawn "$base/vmm" cg-mem "$VMM" run $(tiny idle) \
		--memory 256M,charge-cgroup="$base/guestmem" --log-level info
	if wait_log "$T/cg-mem.err" 'first KVM_RUN'; then
		cur=$(cat "$base/guestmem/memory.current")
		vcur=$(cat "$base/vmm/memory.current")
		echo "# cgroup-memory-charge: guest 256 MiB; guestmem memory.current $((cur >> 20)) MiB, VMM's cgroup $((vcur >> 20)) MiB"
		if [ "$cur" -lt $((size - (8 << 20))) ] || [ "$cur" -gt $((size + (32 << 20))) ]; then
			t_fail cgroup-memory-charge "guestmem holds $((cur >> 20)) MiB for a 256 MiB guest"
		elif [ "$vcur" -gt $((64 << 20)) ]; then
			t_fail cgroup-memory-charge "the VMM's own cgroup holds $((vcur >> 20)) MiB"
		elif ! grep -q "charged to $base/guestmem" "$T/cg-mem.err"; then
			t_fail cgroup-memory-charge "the log does not say where guest RAM went"
		else
			t_ok cgroup-memory-charge
		fi
		stop_vm cgroup-memory "$pid"
	else
		t_fail cgroup-memory-charge "the VM did not start: $(tail -c 300 "$T/cg-mem.err")"
		kill -9 "$pid"
		wait "$pid"
	fi
	# prefault=on: all of it, up front, in the VMM's own cgroup.
	cg_spawn "$base/vmm" cg-pre "$VMM" run $(tiny idle) --memory 256M,prefault=on --log-level info
	if wait_log "$T/cg-pre.err" 'first KVM_RUN'; then
		vcur=$(cat "$base/vmm/memory.current")
		echo "# cgroup-memory-prefault: VMM's cgroup $((vcur >> 20)) MiB with a prefaulted 256 MiB guest"
		if [ "$vcur" -lt $((size - (8 << 20))) ]; then
			t_fail cgroup-memory-prefault "the VMM's cgroup holds $((vcur >> 20)) MiB"
		else
			t_ok cgroup-memory-prefault
		fi
		stop_vm cgroup-memory-prefault "$pid"
	else
		t_fail cgroup-memory-prefault "the VM did not start: $(tail -c 300 "$T/cg-pre.err")"
		kill -9 "$pid"
		wait "$pid"
	fi
	# Too small: an error at create time, naming the cgroup and the numbers.
	echo $((64 << 20)) >"$base/guestmem/memory.max"
	expect cgroup-memory-too-small 2 "guest RAM \(256MiB\) does not fit in memory cgroup $base/guestmem: its memory.max is 64MiB" \
		$(tiny hello) --memory 256M,charge-cgroup="$base/guestmem"
	# Room by the numbers, but not for the helper's own pages on top: its OOM kill (or
	# ENOMEM) is still an error at create time, and the VMM is not what gets killed.
	echo $((size + (16 << 10))) >"$base/guestmem/memory.max"
	expect cgroup-memory-oom-at-create 2 'charging guest RAM \(256MiB\) to .* (was killed|Cannot allocate memory)' \
		$(tiny hello) --memory 256M,charge-cgroup="$base/guestmem"
	echo max >"$base/guestmem/memory.max"
	# An ancestor's limit counts too.
	echo $((128 << 20)) >"$base/memory.max"
	expect cgroup-memory-parent-too-small 2 "does not fit in memory cgroup $base: its memory.max is 128MiB" \
		$(tiny hello) --memory 256M,charge-cgroup="$base/guestmem"
	echo max >"$base/memory.max"
	expect cgroup-memory-no-controller 2 'has no memory controller' \
		$(tiny hello) --memory 64M,charge-cgroup="$base/vmm/vcpu"
	expect cgroup-memory-hugepages 2 'does not work with hugepages' \
		$(tiny hello) --memory 64M,hugepages=on,charge-cgroup="$base/guestmem"
}

cg_bad_vcpu_tests() {
	local base=$1
	expect cgroup-vcpu-domain 2 "vcpu cgroup $base/guestmem is a domain cgroup: vCPU threads can only move into a threaded cgroup" \
		$(tiny hello) --vcpu-cgroup "$base/guestmem"
	# A domain child of a threaded domain is "domain invalid".
	expect cgroup-vcpu-invalid-domain 2 "vcpu cgroup $base/vmm/dom is an invalid domain .*echo threaded > $base/vmm/dom/cgroup.type" \
		$(tiny hello) --vcpu-cgroup "$base/vmm/dom"
	expect cgroup-vcpu-elsewhere 2 "is not in this process's threaded subtree" \
		$(tiny hello) --vcpu-cgroup "$base/other/t"
	expect cgroup-vcpu-missing 2 "vcpu cgroup $base/nope: No such file or directory" \
		$(tiny hello) --vcpu-cgroup "$base/nope"
	expect cgroup-vcpu-not-cgroup 2 'is not a cgroup v2 directory' \
		$(tiny hello) --vcpu-cgroup "$T"
}

cgroup_tests() {
	local why base
	if ! why=$(cg_ready); then
		t_skip cgroups "$why"
		return
	fi
	base=$CG/mvt-$$
	mkdir "$base" "$base/vmm" "$base/vmm/vcpu" "$base/guestmem" "$base/other" "$base/other/t" &&
		echo "+cpu +memory" >"$base/cgroup.subtree_control" &&
		echo threaded >"$base/vmm/vcpu/cgroup.type" &&
		echo threaded >"$base/other/t/cgroup.type" &&
		echo +cpu >"$base/vmm/cgroup.subtree_control" &&
		mkdir "$base/vmm/dom" || {
		t_fail cgroups "cannot build the hierarchy under $base"
		return
	}
	cg_cpu_tests "$base/vmm"
	cg_mem_tests "$base"
	# The bad-input runs go from the VMM's cgroup, as a runtime would.
	local save=$VMM
	VMM=$T/vmm-in-cgroup
	printf '#!/bin/sh\necho $$ >%s/cgroup.procs && exec %s "$@"\n' "$base/vmm" "$save" >"$VMM"
	chmod +x "$VMM"
	cg_bad_vcpu_tests "$base"
	VMM=$save
	# Empty the hierarchy (every VM has exited) and remove it, leaves first.
	for d in vmm/dom vmm/vcpu vmm guestmem other/t other ""; do rmdir "$base/$d" 2>/dev/null; done
}
