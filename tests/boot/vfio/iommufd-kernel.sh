#!/usr/bin/env bash
# iommufd-kernel.sh: L2 check of the iommufd rig kernel (scripts/rig-kernel.sh): the VFIO rig boots it, and both iommufd (/dev/iommu, VFIO cdevs) and the legacy container work there.
#
# Usage: tests/boot/vfio/iommufd-kernel.sh            (on this machine: builds the kernel if
#                                                       missing, which takes minutes, then runs the rig)
#        tests/boot/vfio/iommufd-kernel.sh --in-rig   (what runs inside the rig)
# Prints "# plan N", "ok - NAME" / "not ok - NAME: WHY" lines and ends with
# "L2-IOMMUFD: N passed, N failed, N skipped". Not wired into tests/boot/run.sh yet.
# Checks, in the VFIO rig profile (tests/boot/vfio/rig.sh) with --kernel iommufd:
#   rig-kernel        the kernel is built and cached (outside the checkout)
#   uapi-map-file     its installed uapi headers have IOMMU_IOAS_MAP_FILE (linux/iommufd.h)
#   kernel-booted     the rig runs it: release >= 6.13, no module support (all built in)
#   dev-kvm           /dev/kvm, kvm_amd with nested SVM
#   dev-iommu         /dev/iommu (IOMMUFD)
#   irq-remapping     intel-iommu's interrupt remapping is on
#   nvme-unbound      no driver took the nvme endpoint before bind.sh (NVMe is not built in)
#   bind              tests/boot/vfio/bind.sh binds the endpoints to vfio-pci
#   vfio-cdev         the edu's /sys/bus/pci/devices/BDF/vfio-dev/vfioN has its
#                     /dev/vfio/devices/vfioN (same device number), beside /dev/vfio/<group>
#   iommufd-dma       tests/boot/vfio/iommufd-probe.py: bind, attach, IOMMU_IOAS_MAP_FILE of a
#                     memfd, the edu's DMA engine copies a page through it
#   vfio-check-ready, edu-tiny   the legacy container path: those cases of l2-vfio.sh
#                     (IOMMUFD_L2_CASES, an extended regex of l2-vfio.sh names, changes the set)
# Env: BUILD (default build); IOMMUFD_RIG_TIMEOUT (default 900 s).
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../../.." || exit 1
export BUILD="${BUILD:-build}"
. tests/lib.sh

L2_CASES="${IOMMUFD_L2_CASES:-^(vfio-check-ready|edu-tiny)$}"
RIG_CHECKS=(kernel-booted dev-kvm dev-iommu irq-remapping nvme-unbound bind vfio-cdev iommufd-dma)

# ---- inside the rig ----

pci_find() {
	local d
	for d in /sys/bus/pci/devices/*; do
		if [[ "$(<"$d/vendor")" == "$1" && "$(<"$d/device")" == "$2" ]]; then
			echo "${d##*/}"
			return 0
		fi
	done
	return 1
}

check_kernel() {
	local rel
	rel=$(uname -r)
	if [[ "$(printf '6.13\n%s\n' "${rel%%-*}" | sort -V | head -n1)" != 6.13 ]]; then
		t_fail kernel-booted "the rig runs $rel, not a 6.13+ kernel (was --kernel iommufd given?)"
	elif [[ -e /proc/modules ]]; then
		t_fail kernel-booted "the rig's $rel has module support: not the iommufd rig kernel"
	else
		t_ok kernel-booted
		echo "# kernel-booted: $rel"
	fi
}

check_kvm() {
	local nested
	nested=$(cat /sys/module/kvm_amd/parameters/nested 2>/dev/null)
	if [[ ! -c /dev/kvm ]]; then
		t_fail dev-kvm "no /dev/kvm: $(dmesg | grep -i -e kvm -e svm | tail -n 2 | tr '\n' ' ')"
	elif [[ "$nested" != 1 && "$nested" != Y ]]; then
		t_fail dev-kvm "kvm_amd's nested is '${nested:-missing}', not 1"
	else
		t_ok dev-kvm
	fi
}

# The IOAPIC's lines show as IR-IO-APIC once they are remapped (dmesg may have rotated).
check_irq_remapping() {
	if grep -q ' IR-IO-APIC ' /proc/interrupts || dmesg | grep -q "Enabled IRQ remapping"; then
		t_ok irq-remapping
	else
		t_fail irq-remapping "no IR-IO-APIC in /proc/interrupts, no 'Enabled IRQ remapping' in dmesg: $(dmesg | grep -i -e DMAR -e remap | tail -n 2 | tr '\n' ' ')"
	fi
}

check_nvme_unbound() {
	local bdf
	if ! bdf=$(pci_find 0x1b36 0x0010); then
		t_fail nvme-unbound "no nvme endpoint (1b36:0010): not the VFIO rig?"
	elif [[ -e /sys/bus/pci/devices/$bdf/driver ]]; then
		t_fail nvme-unbound "$bdf is on driver $(basename "$(readlink "/sys/bus/pci/devices/$bdf/driver")") before bind.sh"
	else
		t_ok nvme-unbound
	fi
}

check_vfio_cdev() {
	local sys cdev name
	sys=(/sys/bus/pci/devices/"$VFIO_EDU"/vfio-dev/vfio*)
	if [[ ! -d "${sys[0]}" ]]; then
		t_fail vfio-cdev "no /sys/bus/pci/devices/$VFIO_EDU/vfio-dev/vfioN (VFIO_DEVICE_CDEV?)"
		return
	fi
	name=${sys[0]##*/}
	cdev=/dev/vfio/devices/$name
	if [[ ! -c "$cdev" ]]; then
		t_fail vfio-cdev "$cdev is missing or not a character device"
	elif [[ "$(cat "${sys[0]}/dev")" != "$(printf '%d:%d' "0x$(stat -c %t "$cdev")" "0x$(stat -c %T "$cdev")")" ]]; then
		t_fail vfio-cdev "$cdev is $(stat -c '%t:%T' "$cdev") (hex), sysfs says $(cat "${sys[0]}/dev")"
	elif [[ ! -c /dev/vfio/$VFIO_GROUP_EDU ]]; then
		t_fail vfio-cdev "the legacy group node /dev/vfio/$VFIO_GROUP_EDU is missing beside $cdev"
	else
		t_ok vfio-cdev
		echo "# vfio-cdev: edu $VFIO_EDU is $cdev and group $VFIO_GROUP_EDU"
	fi
}

check_iommufd_dma() {
	local out
	if out=$(python3 tests/boot/vfio/iommufd-probe.py "$VFIO_EDU" 2>&1); then
		t_ok iommufd-dma
	else
		t_fail iommufd-dma "$(echo "$out" | grep -m1 'FAIL' || echo "$out" | tail -n 1)"
	fi
	echo "$out" | sed 's/^/# iommufd-dma: /'
}

in_rig() {
	local nl2 bindings t
	nl2=$(L2_ONLY="$L2_CASES" tests/boot/vfio/l2-vfio.sh --plan 2>/dev/null | sed -n 's/^# plan //p')
	echo "# plan $((${#RIG_CHECKS[@]} + ${nl2:-0}))"
	check_kernel
	check_kvm
	t_check dev-iommu "/dev/iommu is missing (IOMMUFD)" test -c /dev/iommu
	check_irq_remapping
	check_nvme_unbound
	if ! bindings=$(tests/boot/vfio/bind.sh); then
		t_fail bind "tests/boot/vfio/bind.sh failed (see above)"
		for t in vfio-cdev iommufd-dma; do t_fail "$t" "no endpoints bound"; done
		return 1
	fi
	eval "$bindings"
	t_ok bind
	check_vfio_cdev
	check_iommufd_dma
	# The legacy container on the same kernel: l2-vfio.sh's own cases, its plan line dropped.
	L2_ONLY="$L2_CASES" tests/boot/vfio/l2-vfio.sh | grep -v '^# plan '
	t=${PIPESTATUS[0]}
	[[ $T_FAIL = 0 && $t = 0 ]]
}

# ---- on this machine ----

main() {
	local kdir out rig_status plan
	echo "# rig-kernel: building it if it is not cached (scripts/rig-kernel.sh says so)"
	if ! kdir=$(scripts/rig-kernel.sh); then
		t_fail rig-kernel "scripts/rig-kernel.sh failed (see above)"
		t_summary L2-IOMMUFD
		return
	fi
	t_ok rig-kernel
	echo "# rig-kernel: $kdir ($(cat "$kdir/kver"), built in $(cat "$kdir/build-seconds" 2>/dev/null || echo '?') s)"
	t_check uapi-map-file "$kdir/usr/include/linux/iommufd.h has no IOMMU_IOAS_MAP_FILE" \
		grep -q '#define IOMMU_IOAS_MAP_FILE' "$kdir/usr/include/linux/iommufd.h"

	# l2-vfio.sh wants the L2 guest's kernel and initramfs even for its tiny-guest cases.
	scripts/guest-assets.sh || { t_fail guest-assets "scripts/guest-assets.sh failed"; t_summary L2-IOMMUFD; return; }
	mkdir -p "$BUILD/tests/vfio-iommufd"
	export VFIO_NVME_IMG="$BUILD/tests/vfio-iommufd/nvme.img"
	export VFIO_SHM="/dev/shm/microvm-vfio-iommufd-$$"
	trap 'rm -f "$VFIO_SHM"' EXIT
	# shellcheck source=tests/boot/vfio/rig.sh
	. tests/boot/vfio/rig.sh || { t_fail vfio-rig "the VFIO rig profile failed"; t_summary L2-IOMMUFD; return; }
	out=$(mktemp)
	tests/rig/x86-rig.sh --kernel iommufd --timeout "${IOMMUFD_RIG_TIMEOUT:-900}" -- \
		env IOMMUFD_L2_CASES="$L2_CASES" tests/boot/vfio/iommufd-kernel.sh --in-rig | tee "$out"
	rig_status=${PIPESTATUS[0]}
	T_PASS=$((T_PASS + $(grep -c '^ok - ' "$out")))
	T_FAIL=$((T_FAIL + $(grep -c '^not ok - ' "$out")))
	plan=$(sed -n 's/^# plan \([0-9]*\)$/\1/p' "$out" | head -n1)
	if [[ -z "$plan" ]]; then
		t_fail vfio-iommufd-rig "no plan line (rig status $rig_status)"
	elif (($(grep -cE '^(not )?ok - ' "$out") < plan)); then
		t_fail vfio-iommufd-rig "only $(grep -cE '^(not )?ok - ' "$out") of $plan checks reported (rig status $rig_status)"
	fi
	rm -f "$out"
	t_summary L2-IOMMUFD
}

if [[ "${1:-}" = --in-rig ]]; then
	in_rig
else
	main
fi
