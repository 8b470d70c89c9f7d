/* gic.c: the in-kernel GICv3 and its ITS through the KVM device API, in the order the KVM documentation gives. */
#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <unistd.h>

#include "arch/aarch64/aarch64.h"
#include "arch/aarch64/layout.h"
#include "vmm/kvm.h"
#include "vmm/vm.h"

/*
 * The order (Documentation/virt/kvm/devices/arm-vgic-v3.rst and
 * arm-vgic-its.rst, as kvmtool does it):
 *   1. KVM_CREATE_DEVICE(VGIC_V3), its distributor and redistributor
 *      addresses (GRP_ADDR) and the number of interrupts (GRP_NR_IRQS);
 *   2. KVM_CREATE_DEVICE(VGIC_ITS) and its address: before the GIC is
 *      initialised, which sets up LPIs (and MSI device IDs) only for a
 *      GIC that has an ITS by then;
 *   3. the vCPUs: KVM_CREATE_VCPU for every one, then KVM_ARM_VCPU_INIT
 *      for each (vmm/vm.c, cpu.c);
 *   4. KVM_DEV_ARM_VGIC_CTRL_INIT of the GIC ("must be called after all
 *      VCPUs have been created"), then of the ITS.
 * One redistributor region (KVM_VGIC_V3_ADDR_TYPE_REDIST): KVM lays out
 * a 128 KiB frame pair per vCPU from its base and checks that they stay
 * clear of the distributor; layout.h keeps them below the UART.
 */

static int gic_attr(struct vm *vm, int fd, uint32_t group, uint64_t attr,
		    const void *val, const char *what)
{
	struct kvm_device_attr a = {
		.group = group,
		.attr = attr,
		.addr = (uint64_t)(uintptr_t)val,
	};
	int r = __kvm_ioctl(fd, KVM_SET_DEVICE_ATTR, (unsigned long)&a);

	if (r < 0)
		log_err(&vm->log, "gic", "KVM_SET_DEVICE_ATTR (%s): %s", what,
			strerror(-r));
	return r < 0 ? r : 0;
}

static int gic_create_device(struct vm *vm, uint32_t type, const char *what,
			     int *fd)
{
	struct kvm_create_device cd = {.type = type};
	int r = __kvm_ioctl(vm->vm_fd, KVM_CREATE_DEVICE, (unsigned long)&cd);

	if (r < 0) {
		if (r == -ENODEV || r == -ENXIO || r == -EINVAL)
			log_err(&vm->log, "gic",
				"this host's KVM cannot create a %s "
				"(KVM_CREATE_DEVICE: %s): microvm's aarch64 "
				"machine needs a host GICv3",
				what, strerror(-r));
		else
			log_err(&vm->log, "gic", "KVM_CREATE_DEVICE (%s): %s",
				what, strerror(-r));
		return r;
	}
	*fd = (int)cd.fd;
	return 0;
}

int a64_gic_create(struct vm *vm)
{
	struct arch_vm *a = vm->arch;
	const uint64_t dist = AARCH64_GIC_DIST_BASE;
	const uint64_t redist = AARCH64_GIC_REDIST_BASE;
	const uint64_t its = AARCH64_GIC_ITS_BASE;
	const uint32_t nr_irqs = AARCH64_GIC_NR_IRQS;
	int r;

	r = gic_create_device(vm, KVM_DEV_TYPE_ARM_VGIC_V3, "GICv3",
			      &a->gic_fd);
	if (!r)
		r = gic_attr(vm, a->gic_fd, KVM_DEV_ARM_VGIC_GRP_ADDR,
			     KVM_VGIC_V3_ADDR_TYPE_DIST, &dist,
			     "GICv3 distributor address");
	if (!r)
		r = gic_attr(vm, a->gic_fd, KVM_DEV_ARM_VGIC_GRP_ADDR,
			     KVM_VGIC_V3_ADDR_TYPE_REDIST, &redist,
			     "GICv3 redistributor address");
	if (!r)
		r = gic_attr(vm, a->gic_fd, KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0,
			     &nr_irqs, "GICv3 number of interrupts");
	if (!r)
		r = gic_create_device(vm, KVM_DEV_TYPE_ARM_VGIC_ITS,
				      "GICv3 ITS", &a->its_fd);
	if (!r)
		r = gic_attr(vm, a->its_fd, KVM_DEV_ARM_VGIC_GRP_ADDR,
			     KVM_VGIC_ITS_ADDR_TYPE, &its, "ITS address");
	return r;
}

int a64_gic_init(struct vm *vm)
{
	struct arch_vm *a = vm->arch;
	int r;

	/*
	 * KVM also installs its default GSI routing here (GSI n -> SPI n),
	 * which replaces any table set before: ours (vmm/irq.c) is pushed
	 * only when the guest programs its first MSI, later.
	 */
	r = gic_attr(vm, a->gic_fd, KVM_DEV_ARM_VGIC_GRP_CTRL,
		     KVM_DEV_ARM_VGIC_CTRL_INIT, NULL, "GICv3 init");
	/*
	 * A new ITS is in its reset state already, so no ITS_CTRL_RESET
	 * (that is for restoring a saved one).
	 */
	if (!r)
		r = gic_attr(vm, a->its_fd, KVM_DEV_ARM_VGIC_GRP_CTRL,
			     KVM_DEV_ARM_VGIC_CTRL_INIT, NULL, "ITS init");
	if (r < 0)
		return r;
	/*
	 * A per-VM capability, true with an ITS (newer kernels set it when
	 * the ITS is created, older ones when the GIC is initialised: so it
	 * is asked here).
	 * MSI routes must then name the device (KVM_MSI_VALID_DEVID): the ITS
	 * translates (device ID, event ID), not the address alone.
	 */
	a->msi_devid = __kvm_ioctl(vm->vm_fd, KVM_CHECK_EXTENSION,
				   KVM_CAP_MSI_DEVID) > 0;
	if (!a->msi_devid)
		log_warn(&vm->log, "gic",
			 "KVM_CAP_MSI_DEVID is missing with an ITS: MSIs may "
			 "not reach the guest");
	return 0;
}

void a64_gic_destroy(struct vm *vm)
{
	struct arch_vm *a = vm->arch;

	if (a->its_fd >= 0)
		close(a->its_fd);
	if (a->gic_fd >= 0)
		close(a->gic_fd);
	a->its_fd = a->gic_fd = -1;
}
