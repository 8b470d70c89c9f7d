#!/bin/sh
# pcicheck.sh: L2 guest check of the PCIe topology as Linux sees it: ports, devices, ACS from config space, clean kernel log.
# Usage: pcicheck.sh EXPECT_PORTS EXPECT_DEVICES EXPECT_ACS_MASK (e.g. 40 14 0x5f)
want_ports=$1 want_devs=$2 want_acs=$3
ports=0 devs=0 acs_ok=0 fail=""

# Little-endian 32-bit word at byte offset $2 of config file $1, as a number.
word() {
	set -- $(od -An -tu4 -j "$2" -N4 "$1")
	echo "${1:-0}"
}

for d in /sys/bus/pci/devices/*; do
	class=$(cat "$d/class")
	case "$class" in
	0x060400)
		ports=$((ports + 1))
		size=$(wc -c <"$d/config")
		if [ "$size" -lt 4096 ]; then
			fail="$fail ${d##*/}:no-extended-config($size)"
			continue
		fi
		off=256 found=0 n=0
		while [ "$off" -ne 0 ] && [ "$n" -lt 64 ]; do
			h=$(word "$d/config" "$off")
			[ "$h" -eq 0 ] && break
			if [ $((h & 0xffff)) -eq 13 ]; then
				cap=$(( $(word "$d/config" $((off + 4))) & 0xffff ))
				if [ "$cap" -eq $((want_acs)) ]; then
					acs_ok=$((acs_ok + 1))
				else
					fail="$fail ${d##*/}:acs=$(printf 0x%x "$cap")"
				fi
				found=1
				break
			fi
			off=$((h >> 20))
			n=$((n + 1))
		done
		[ "$found" = 1 ] || fail="$fail ${d##*/}:no-acs"
		;;
	0xff0000)
		devs=$((devs + 1))
		;;
	esac
done

bad=$(dmesg | grep -ciE "can't assign|no space|failed to assign")
echo "PCICHECK ports=$ports devices=$devs acs-ok=$acs_ok/$ports bad-log-lines=$bad"
[ "$ports" -eq "$want_ports" ] || fail="$fail ports=$ports!=$want_ports"
[ "$devs" -eq "$want_devs" ] || fail="$fail devices=$devs!=$want_devs"
[ "$acs_ok" -eq "$want_ports" ] || fail="$fail acs-ok=$acs_ok"
[ "$bad" -eq 0 ] || fail="$fail $(dmesg | grep -iE "can't assign|no space|failed to assign" | head -3 | tr '\n' '|')"
if [ -z "$fail" ]; then
	echo "PCICHECK PASS"
else
	echo "PCICHECK FAIL:$fail"
fi
