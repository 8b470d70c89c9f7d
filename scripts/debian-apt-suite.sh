#!/usr/bin/env bash
# debian-apt-suite.sh: a private apt configuration for another Debian suite (e.g. sid), for apt-get download and apt-cache only; prints its apt.conf.
#
# Usage: APT_CONFIG=$(scripts/debian-apt-suite.sh SUITE) apt-cache show PKG
#   prints $CACHE/apt-suite/<suite>/apt.conf (CACHE defaults to build/cache in the repo).
# The suite's main amd64 index comes from the mirror this machine's own apt uses (the URI
# serving its codename in /etc/apt/sources.list{,.d}), into the private lists dir; it is
# refreshed when over a day old (when that fails, the old index is used, with a note).
# The system's apt sources, lists and dpkg state are never touched, and nothing is
# installed: never `apt-get install` with this APT_CONFIG (it would pull another
# suite's libraries onto this machine).
set -euo pipefail

die() {
	echo "debian-apt-suite: error: $*" >&2
	exit 1
}

# The mirror URI for this machine's Debian codename, from deb822 .sources or one-line lists.
system_mirror() {
	local codename="$1" f uri=""
	for f in /etc/apt/sources.list.d/*.sources; do
		[[ -f "$f" ]] || continue
		# Paragraphs: the first one whose Suites has the bare codename.
		uri=$(awk -v c="$codename" '
			/^[[:space:]]*$/ { if (ok && u != "") { print u; exit } ok = 0; u = ""; next }
			/^URIs:/ { u = $2 }
			/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == c) ok = 1 }
			END { if (ok && u != "") print u }' "$f" | head -n1)
		[[ -n "$uri" ]] && break
	done
	if [[ -z "$uri" ]]; then
		uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
			awk -v c="$codename" '$1 == "deb" {
				i = 2; if ($i ~ /^\[/) while ($i !~ /\]$/) i++; if ($i ~ /\]$/ && $i ~ /^\[|=/) i++
				if ($(i + 1) == c) { print $i; exit } }')
	fi
	[[ -n "$uri" ]] && echo "$uri"
}

suite="${1:-}"
[[ "$suite" =~ ^[a-z][a-z0-9-]*$ ]] || {
	echo "usage: $0 SUITE   (e.g. sid)" >&2
	exit 2
}

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${CACHE:-build/cache}"
[[ "$cache" = /* ]] || cache="$repo/$cache"
dir="$cache/apt-suite/$suite"
mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/sources.list.d"
# apt drops privileges to _apt when run as root: let it write its downloads here.
chmod 0777 "$dir/lists/partial" "$dir/cache/archives/partial"
exec {lockfd}>"$dir/.lock"
flock "$lockfd"

codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[[ -n "$codename" ]] || die "no VERSION_CODENAME in /etc/os-release: not Debian?"
mirror=$(system_mirror "$codename") ||
	die "no apt source for '$codename' in /etc/apt/sources.list{,.d}: cannot tell which Debian mirror to use"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[[ -f "$keyring" ]] || die "$keyring is missing (install debian-archive-keyring)"

echo "deb [arch=amd64 signed-by=$keyring] $mirror $suite main" >"$dir/sources.list"
cat >"$dir/apt.conf" <<EOF
// Written by scripts/debian-apt-suite.sh: $suite's index only, for apt-get download and apt-cache.
Dir::Etc::sourcelist "$dir/sources.list";
Dir::Etc::sourceparts "$dir/sources.list.d";
Dir::State::Lists "$dir/lists";
Dir::Cache "$dir/cache";
Acquire::Languages "none";
EOF

stamp="$dir/lists/.updated"
if [[ ! -f "$stamp" ]] || [[ -n "$(find "$stamp" -mmin +1440)" ]]; then
	echo "debian-apt-suite: fetching the $suite index from $mirror" >&2
	if APT_CONFIG="$dir/apt.conf" apt-get update -q >&2; then
		touch "$stamp"
	elif [[ -f "$stamp" ]]; then
		echo "debian-apt-suite: note: apt-get update for $suite failed; using the index from $(date -r "$stamp")" >&2
	else
		die "apt-get update for $suite failed and no index is cached under $dir/lists (is $mirror reachable?)"
	fi
fi
echo "$dir/apt.conf"
