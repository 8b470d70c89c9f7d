# lib.sh: tiny TAP-like helpers shared by the shell test layers (sourced).
T_PASS=0
T_FAIL=0
T_SKIP=0

t_ok() { T_PASS=$((T_PASS + 1)); echo "ok - $1"; }
t_fail() { T_FAIL=$((T_FAIL + 1)); echo "not ok - $1: $2"; }
t_skip() { T_SKIP=$((T_SKIP + 1)); echo "skip - $1: $2"; }

# t_check NAME CONDITION-DESCRIPTION COMMAND...: ok if COMMAND succeeds.
t_check() {
	local name=$1 why=$2
	shift 2
	if "$@"; then t_ok "$name"; else t_fail "$name" "$why"; fi
}

# t_summary LAYER: prints "LAYER: N passed, N failed, N skipped"; status 1 on failures.
t_summary() {
	echo "$1: $T_PASS passed, $T_FAIL failed, $T_SKIP skipped"
	[ "$T_FAIL" -eq 0 ]
}

# rig_modprobe MODULE: load a module of the running (rig) kernel. The chroot has no
# /lib/modules for it, but the cached Debian kernel it booted from has. A kernel without
# module support (no /proc/modules: the iommufd rig kernel) has built in all it has, and
# there is nothing to load: the caller's next step tells whether the feature is there.
rig_modprobe() {
	local m=$1 d
	[[ -e "/sys/module/$m" ]] && return 0
	[[ -e /proc/modules ]] || return 0
	for d in build/cache/debian-kernel/*/; do
		if [[ "$(cat "$d/kver" 2>/dev/null)" = "$(uname -r)" ]]; then
			modprobe -d "$d" "$m" 2>&1 && return 0
		fi
	done
	modprobe "$m" 2>&1
}
