# rig-lib.sh: what the rigs (tests/rig/x86-rig.sh, tests/rig/aarch64-rig.sh) share: options, the job dir, running QEMU, CMD's output and exit status.
#
# Sourced (bash) after the rig sets: repo (the checkout), me (its name, e.g. x86-rig).
# Its rig-init.sh speaks the protocol below on the job channel, a serial line or console
# that carries nothing else (the rig kernel's console goes to a log file):
#   RIG-BEGIN <token>           CMD's output follows, line by line
#   RIG-END <token> status=N    CMD is done (its status is also in <job>/status)
#   RIG-ERROR <token> MESSAGE   the rig itself failed
# shellcheck shell=bash disable=SC2034,SC2154 # variables shared with the sourcing rig

RIG_TIMEOUT_STATUS=124
RIG_FAIL_STATUS=125

usage() {
	sed -n '4,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//' >&2
	exit 2
}

rig_fail() {
	echo "$me: error: $*" >&2
	exit "$RIG_FAIL_STATUS"
}

# rig_parse_args "$@": sets interactive, smp, mem, timeout_s, kernel_flavour (--kernel, or
# $RIG_KERNEL_FLAVOUR, or debian), and rig_cmd (CMD [ARGS...]).
rig_parse_args() {
	interactive=0 smp=1 mem=2G timeout_s=600 kernel_flavour="${RIG_KERNEL_FLAVOUR:-debian}"
	while [[ $# -gt 0 ]]; do
		case "$1" in
		--interactive) interactive=1; shift ;;
		--kernel) kernel_flavour="${2:?--kernel needs a flavour (debian, iommufd)}"; shift 2 ;;
		--smp) smp="${2:?--smp needs a value}"; shift 2 ;;
		--mem) mem="${2:?--mem needs a value}"; shift 2 ;;
		--timeout) timeout_s="${2:?--timeout needs a value}"; shift 2 ;;
		--) shift; break ;;
		-h | --help) usage ;;
		*) echo "$me: unknown option $1" >&2; usage ;;
		esac
	done
	[[ $# -gt 0 ]] || { echo "$me: no command given" >&2; usage; }
	[[ "$timeout_s" =~ ^[0-9]+$ ]] || rig_fail "--timeout must be a number of seconds"
	[[ "$smp" =~ ^[0-9]+$ && "$smp" -ge 1 ]] || rig_fail "--smp must be a positive number"
	rig_cmd=("$@")
}

# rig_new_job RIG_CACHE: sets job (a fresh dir under RIG_CACHE/jobs) and token; drops job
# dirs of runs that ended over a day ago.
rig_new_job() {
	mkdir -p "$1/jobs"
	find "$1/jobs" -mindepth 1 -maxdepth 1 -type d -mmin +1440 -exec rm -rf {} + 2>/dev/null || true
	job=$(mktemp -d "$1/jobs/job.XXXXXX")
	token=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
}

# rig_write_job HEADER RIGNAME PATH CMD [ARGS...]: job.sh on stdout, for the rig's sh/bash:
# the environment passed through (CI, BUILD, SKIP_L2, V, TERM, LANG, MICROVM_*), RIG=RIGNAME,
# cd to the checkout, CMD.
rig_write_job() {
	local header="$1" name="$2" path="$3" v
	shift 3
	echo "$header"
	echo "export PATH=$path"
	echo "export HOME=/tmp RIG=$name"
	for v in CI BUILD SKIP_L2 V TERM LANG $(compgen -e | grep '^MICROVM_' || true); do
		if [[ -n "${!v+set}" ]]; then
			printf 'export %s=%q\n' "$v" "${!v}"
		fi
	done
	printf 'cd %q || exit 125\n' "$repo"
	printf '%q ' "$@"
	echo
}

# rig_run: boots "${qemu[@]}" with -append "$append" and exits with CMD's status (or 124,
# 125). Needs job, token, interactive, timeout_s, and:
#   rig_con_args  QEMU args that attach the job channel to chardev "con"
#                 (x86: -serial chardev:con; aarch64: a virtconsole)
#   rig_boot_hint shown when an interactive rig starts (e.g. "~6 s")
# Serial 0 (the rig kernel's console) goes to $job/console.log.
rig_run() {
	# A QEMU monitor (HMP) for post-mortems of a stuck rig, e.g. "info registers -a":
	# socat - UNIX-CONNECT:$job/monitor.sock
	monitor=()
	if ((${#job} < 90)); then
		monitor=(-monitor "unix:$job/monitor.sock,server=on,wait=off")
	fi
	log="$job/console.log"
	pidfile="$job/qemu.pid"
	trap kill_qemu EXIT

	t_start=$(date +%s.%N)
	set +e
	if [[ $interactive = 1 ]]; then
		if [[ -t 0 ]]; then
			append+=" rig.interactive=1 rig.rows=$(tput lines 2>/dev/null || echo 24) rig.cols=$(tput cols 2>/dev/null || echo 80)"
		else
			append+=" rig.interactive=1"
		fi
		echo "$me: booting the rig (${rig_boot_hint:-a few s}); Ctrl-] x leaves QEMU, Ctrl-A is passed through" >&2
		# Serial and monitor share the terminal; the escape is Ctrl-] so that Ctrl-A
		# sequences (microvm's Ctrl-A x) reach the command.
		timeout --foreground -k 10 "$timeout_s" "${qemu[@]}" -append "$append" -pidfile "$pidfile" \
			-serial "file:$log" -chardev stdio,id=con,mux=on,signal=off "${rig_con_args[@]}" \
			-mon chardev=con,mode=readline -echr 0x1d
		qemu_status=$?
	else
		run_qemu | filter_console &
		pipe_pid=$!
		trap 'kill_qemu; wait "$pipe_pid"; echo "$me: interrupted" >&2; exit 130' INT TERM HUP
		wait "$pipe_pid"
		trap - INT TERM HUP
		qemu_status=$(cat "$job/qemu-status" 2>/dev/null || echo 125)
	fi
	set -e
	t_end=$(date +%s.%N)
	elapsed=$(awk -v a="$t_start" -v b="$t_end" 'BEGIN { printf "%.1f", b - a }')

	if [[ -f "$job/status" ]]; then
		status=$(cat "$job/status")
		[[ "$status" =~ ^[0-9]+$ ]] || rig_fail "bad status '$status' in $job/status"
		if [[ -n "${RIG_VERBOSE:-}" ]]; then
			local began=""
			if [[ -f "$job/t-begin" ]]; then
				began=$(awk -v a="$t_start" -v b="$(cat "$job/t-begin")" \
					'BEGIN { printf " (it started %.1fs after launch)", b - a }')
			fi
			echo "$me: CMD exited with status $status after ${elapsed}s$began" >&2
		fi
		if [[ $status = 0 ]]; then
			rm -rf "$job"
		fi
		exit "$status"
	fi

	if [[ $qemu_status = 124 || $qemu_status = 137 ]]; then
		echo "$me: error: timed out after ${timeout_s}s; QEMU was killed" >&2
		show_log
		exit "$RIG_TIMEOUT_STATUS"
	fi
	echo "$me: error: the rig stopped (QEMU status $qemu_status after ${elapsed}s) before CMD finished" >&2
	show_log
	exit "$RIG_FAIL_STATUS"
}

# Only our own QEMU: its command line carries this run's token (pids get reused).
# shellcheck disable=SC2317 # called from traps
kill_qemu() {
	local pid
	pid=$(cat "$pidfile" 2>/dev/null || true)
	if [[ "$pid" =~ ^[0-9]+$ ]] && grep -qa "rig.token=$token" "/proc/$pid/cmdline" 2>/dev/null; then
		kill "$pid" 2>/dev/null || true
	fi
}

# The rig's console goes to the log; only what lies between our markers is CMD's output
# and goes to stdout, line by line. QEMU runs in the background so that a signal to us
# (timeout(1) of a caller, Ctrl-C) stops it at once.
run_qemu() {
	timeout --foreground -k 10 "$timeout_s" "${qemu[@]}" -append "$append" \
		-pidfile "$pidfile" -serial "file:$log" -chardev stdio,id=con \
		"${rig_con_args[@]}" "${monitor[@]}" </dev/null
	echo $? >"$job/qemu-status"
}

# Line by line in bash: awk implementations may buffer a pipe's input.
filter_console() {
	local line inside=0
	while IFS= read -r line || [[ -n "$line" ]]; do
		line="${line%$'\r'}"
		# A marker may follow CMD's last line if that had no newline.
		if [[ "$line" == ?*"RIG-END $token"* ]]; then
			((inside)) && printf '%s\n' "${line%%"RIG-END $token"*}"
			line="RIG-END $token${line#*"RIG-END $token"}"
		fi
		case "$line" in
		"RIG-BEGIN $token"*)
			inside=1
			printf '%s\n' "${EPOCHREALTIME/,/.}" >"$job/t-begin"
			;;
		"RIG-END $token"*) inside=0 ;;
		"RIG-ERROR $token"*)
			printf '%s: rig: %s\n' "$me" "${line#"RIG-ERROR $token "}" >&2
			;;
		*)
			if ((inside)); then
				printf '%s\n' "$line"
			else
				printf '%s: unexpected rig output: %s\n' "$me" "$line" >&2
			fi
			;;
		esac
	done
}

show_log() {
	if [[ -s "$log" ]]; then
		echo "$me: last lines of the rig console ($log):" >&2
		tail -n 20 "$log" | sed "s/^/$me: | /" >&2
	fi
}
