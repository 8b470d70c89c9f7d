/* aarch64.c: the aarch64 arch interface: the GICv3 virt board (memory map, PL011, boot timer, pvpanic), IRQ numbering, VM set-up. */
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/aarch64/aarch64.h"
#include "arch/aarch64/layout.h"
#include "devices/boot_timer.h"
#include "devices/pci/plan.h"
#include "devices/pvpanic.h"
#include "vmm/arch.h"
#include "vmm/console.h"
#include "vmm/kvm.h"
#include "vmm/parse.h"
#include "vmm/util.h"
#include "vmm/vm.h"

static int a64_arch_alloc(struct vm *vm)
{
	int r;

	if (vm->arch)
		return 0;
	vm->arch = calloc(1, sizeof(*vm->arch));
	if (!vm->arch)
		return -ENOMEM;
	vm->arch->gic_fd = vm->arch->its_fd = -1;
	vm->arch->ipa_bits = AARCH64_DEFAULT_IPA_BITS;
	/*
	 * The widest guest physical address space KVM offers (0: only the
	 * default 40 bits), so large 64-bit BARs fit above RAM. Known here
	 * before the VM exists, as the VM type must say it.
	 */
	r = vm->kvm_fd >= 0 ? __kvm_ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION,
					  KVM_CAP_ARM_VM_IPA_SIZE)
			    : 0;
	if (r > 0) {
		vm->arch->ipa_bits = (unsigned int)r;
		vm->arch->ipa_from_kvm = true;
	}
	return 0;
}

int arch_check_kvm(struct vm *vm)
{
	static const struct kvm_cap_need caps[] = {
		{KVM_CAP_ARM_PSCI_0_2, "KVM_CAP_ARM_PSCI_0_2"},
		{KVM_CAP_ONE_REG, "KVM_CAP_ONE_REG"},
		{KVM_CAP_DEVICE_CTRL, "KVM_CAP_DEVICE_CTRL"},
		{KVM_CAP_IRQFD, "KVM_CAP_IRQFD"},
		{KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING"},
	};
	int max, r;

	r = kvm_check_caps(&vm->log, vm->kvm_fd, caps, ARRAY_SIZE(caps));
	if (r < 0)
		return r;
	if (vm->cfg.cpus > AARCH64_MAX_CPUS) {
		log_err(&vm->log, "vm",
			"%u vCPUs: the aarch64 machine has GIC redistributor "
			"room for %u",
			vm->cfg.cpus, AARCH64_MAX_CPUS);
		return -EINVAL;
	}
	max = __kvm_ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (max > 0 && vm->cfg.cpus > (unsigned int)max) {
		log_err(&vm->log, "vm", "%u vCPUs: this host's KVM allows %d",
			vm->cfg.cpus, max);
		return -EINVAL;
	}
	return a64_arch_alloc(vm);
}

unsigned long arch_vm_type(struct vm *vm)
{
	const struct arch_vm *a = vm->arch;

	return a && a->ipa_from_kvm ? KVM_VM_TYPE_ARM_IPA_SIZE(a->ipa_bits) : 0;
}

const char *arch_default_cmdline(void)
{
	return MICROVM_DEFAULT_CMDLINE_AARCH64;
}

int arch_pci_layout(struct vm *vm, struct pci_plan_input *in,
		    uint64_t *ecam_base)
{
	int r = a64_arch_alloc(vm);

	if (r < 0)
		return r;
	in->low_top = AARCH64_PCI_LOW_TOP;
	in->low_floor = AARCH64_PCI_LOW_FLOOR;
	/* RAM starts above the low window: it never has to end early. */
	in->hole_default = AARCH64_PCI_LOW_TOP;
	in->high_floor = AARCH64_PCI_HIGH_FLOOR;
	in->phys_bits = vm->arch->ipa_bits;
	*ecam_base = AARCH64_PCI_ECAM_BASE;
	return 0;
}

/*
 * KVM's own default table, which KVM_SET_GSI_ROUTING replaces: GSI n is
 * SPI n (INTID 32 + n) of the GIC, for every SPI.
 */
int arch_irq_default_routes(struct kvm_irq_routing_entry *out, unsigned int max,
			    unsigned int *first_free_gsi)
{
	if (max < AARCH64_GIC_NR_SPIS)
		return -ENOSPC;
	for (unsigned int spi = 0; spi < AARCH64_GIC_NR_SPIS; spi++)
		out[spi] = (struct kvm_irq_routing_entry){
			.gsi = spi,
			.type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = {0, spi},
		};
	*first_free_gsi = AARCH64_GIC_NR_SPIS;
	return AARCH64_GIC_NR_SPIS;
}

/* The device tree's interrupt-map (fdt.c): INTA of device D on SPI 3 + D % 4. */
unsigned int arch_pci_intx_gsi(unsigned int device, unsigned int pin)
{
	return AARCH64_PCI_INTX_SPI + (device + pin - 1) % 4;
}

/*
 * With an in-kernel GIC, KVM_IRQ_LINE names an SPI by type and INTID
 * (api.rst, KVM_IRQ_LINE: irq_type 1, irq_id 32-1019), not by GSI.
 */
uint32_t arch_irq_line_number(unsigned int gsi)
{
	return (uint32_t)KVM_ARM_IRQ_TYPE_SPI << KVM_ARM_IRQ_TYPE_SHIFT |
	       ((32 + gsi) & KVM_ARM_IRQ_NUM_MASK);
}

/* The device tree's msi-map makes the ITS device ID the requester ID. */
void arch_msi_route_devid(struct vm *vm, struct kvm_irq_routing_entry *e,
			  uint32_t devid)
{
	if (!vm->arch || !vm->arch->msi_devid)
		return;
	e->flags = KVM_MSI_VALID_DEVID;
	e->u.msi.devid = devid;
}

/* The device tree's 2 MiB block and room for a small guest. */
uint64_t arch_min_memory(void)
{
	return 4ull << 20;
}

int arch_mem_layout(struct vm *vm, uint64_t size, struct mem_region *out,
		    unsigned int max)
{
	uint64_t top = AARCH64_PCI_HIGH_FLOOR, room;
	char sz[32], room_s[32];
	int r = a64_arch_alloc(vm);

	if (r < 0)
		return r;
	if (max < 1)
		return -EINVAL;
	/*
	 * One region: from 2 GiB up to the high PCIe window at 512 GiB, or
	 * to the end of a smaller guest physical address space.
	 */
	if (vm->arch->ipa_bits < 64 && top > 1ull << vm->arch->ipa_bits)
		top = 1ull << vm->arch->ipa_bits;
	room = top - AARCH64_RAM_BASE;
	if (size > room) {
		format_size(size, sz, sizeof(sz));
		format_size(room, room_s, sizeof(room_s));
		log_err(&vm->log, "memory",
			"guest memory %s does not fit: aarch64 RAM lies "
			"between 2 GiB and 0x%llx (the PCIe high window, or "
			"the end of this host's %u-bit guest address space): "
			"at most %s",
			sz, (unsigned long long)top, vm->arch->ipa_bits,
			room_s);
		return -EINVAL;
	}
	out[0] = (struct mem_region){.gpa = AARCH64_RAM_BASE, .size = size};
	return 1;
}

/*
 * What every vCPU's KVM_ARM_VCPU_INIT asks for (secondaries add
 * POWER_OFF, cpu.c): the host's preferred target, PSCI 0.2 and later in
 * KVM, and pointer authentication where KVM offers both halves (it takes
 * them only together).
 */
static int a64_vcpu_features(struct vm *vm)
{
	struct arch_vm *a = vm->arch;
	int r;

	memset(&a->vcpu_init, 0, sizeof(a->vcpu_init));
	r = kvm_ioctl(&vm->log, "vm", vm->vm_fd, KVM_ARM_PREFERRED_TARGET,
		      &a->vcpu_init);
	if (r < 0)
		return r;
	a->vcpu_init.features[0] |= 1u << KVM_ARM_VCPU_PSCI_0_2;
	if (__kvm_ioctl(vm->vm_fd, KVM_CHECK_EXTENSION,
			KVM_CAP_ARM_PTRAUTH_ADDRESS) > 0 &&
	    __kvm_ioctl(vm->vm_fd, KVM_CHECK_EXTENSION,
			KVM_CAP_ARM_PTRAUTH_GENERIC) > 0)
		a->vcpu_init.features[0] |= 1u << KVM_ARM_VCPU_PTRAUTH_ADDRESS |
					    1u << KVM_ARM_VCPU_PTRAUTH_GENERIC;
	return 0;
}

/* The virt board's fixed devices, composed on the machine interface. */
static int a64_board_devices(struct vm *vm)
{
	struct machine *m = &vm->machine;
	const struct {
		uint64_t base, len;
		bus_access_fn fn;
		void *opaque;
		const char *name;
	} dev[] = {
		{AARCH64_UART_BASE, AARCH64_UART_SIZE, pl011_access,
		 &vm->arch->uart, "pl011"},
		{AARCH64_BOOT_TIMER_BASE, AARCH64_BOOT_TIMER_SIZE,
		 boot_timer_mmio_access, m, "boot-timer"},
		{AARCH64_PVPANIC_BASE, AARCH64_PVPANIC_SIZE, pvpanic_access, m,
		 "pvpanic"},
	};

	for (size_t i = 0; i < sizeof(dev) / sizeof(dev[0]); i++) {
		int r = m->ops->mmio_map(m, dev[i].base, dev[i].len, dev[i].fn,
					 dev[i].opaque, dev[i].name);

		if (r < 0) {
			log_err(m->log, "vm", "MMIO 0x%llx for %s: %s",
				(unsigned long long)dev[i].base, dev[i].name,
				strerror(-r));
			return r;
		}
	}
	return 0;
}

int arch_vm_init(struct vm *vm)
{
	struct kvm_enable_cap nisv = {.cap = KVM_CAP_ARM_NISV_TO_USER};
	struct arch_vm *a;
	int r;

	if (vm->cfg.cpu_features) {
		log_err(&vm->log, "vm",
			"--cpu-features edits x86 CPUID; aarch64 has none");
		return -EINVAL;
	}
	r = a64_arch_alloc(vm);
	if (r < 0)
		return r;
	a = vm->arch;
	a->mpidr = calloc(vm->cfg.cpus, sizeof(*a->mpidr));
	if (!a->mpidr)
		return -ENOMEM;
	if (a->ipa_from_kvm)
		log_info(&vm->log, "vm", "guest physical addresses: %u bits",
			 a->ipa_bits);
	r = a64_vcpu_features(vm);
	if (r < 0)
		return r;
	/*
	 * An MMIO access KVM cannot decode then exits to us with its address
	 * (KVM_EXIT_ARM_NISV), and we can say so, instead of KVM_RUN failing
	 * with ENOSYS.
	 */
	if (__kvm_ioctl(vm->vm_fd, KVM_CHECK_EXTENSION,
			KVM_CAP_ARM_NISV_TO_USER) > 0)
		(void)!__kvm_ioctl(vm->vm_fd, KVM_ENABLE_CAP,
				   (unsigned long)&nisv);
	r = a64_gic_create(vm);
	if (r < 0)
		return r;

	pl011_init(&a->uart, &console_uart_ops, vm->console);
	a->uart_init = true;
	console_attach_uart(vm, pl011_receive, &a->uart, AARCH64_UART_SPI);
	return a64_board_devices(vm);
}

int arch_vcpus_created(struct vm *vm)
{
	int r = a64_gic_init(vm);

	return r < 0 ? r : a64_write_fdt(vm);
}

void arch_vm_destroy(struct vm *vm)
{
	struct arch_vm *a = vm->arch;

	if (!a)
		return;
	a64_gic_destroy(vm);
	if (a->uart_init)
		pl011_destroy(&a->uart);
	free(a->mpidr);
	free(a);
	vm->arch = NULL;
}
