/* arch.h: the small interface each arch/ implements; no #ifdef outside arch/. */
#ifndef VMM_ARCH_H
#define VMM_ARCH_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/memory.h"

struct vm;
struct vcpu;

/* Check the KVM capabilities this arch needs; log what is missing. */
int arch_check_kvm(struct vm *vm);

/*
 * The machine type KVM_CREATE_VM gets (x86: 0; arm64: the guest physical
 * address width). Called after arch_check_kvm(), before the VM exists.
 */
unsigned long arch_vm_type(struct vm *vm);

/* The kernel command line when the config gives none. */
const char *arch_default_cmdline(void);

struct pci_plan_input;

/*
 * Fill the arch parts of the PCIe plan input (window limits, address
 * width) and the ECAM base. Works without a KVM VM (vm->kvm_fd may be -1).
 */
int arch_pci_layout(struct vm *vm, struct pci_plan_input *in,
		    uint64_t *ecam_base);

struct kvm_irq_routing_entry;

/*
 * The GSI routes the in-kernel irqchip has by default (KVM_SET_GSI_ROUTING
 * replaces the whole table, so they must be kept). Returns their number
 * and the first GSI free for MSI routes.
 */
int arch_irq_default_routes(struct kvm_irq_routing_entry *out,
			    unsigned int max, unsigned int *first_free_gsi);

/*
 * The GSI that INTx `pin` (1 = INTA .. 4 = INTD) of root-bus device
 * `device` is wired to, as the platform description (ACPI _PRT, FDT
 * interrupt-map) says. An endpoint behind a root port swizzles its pin by
 * its own device number (always 0 here), so it keeps its pin.
 */
unsigned int arch_pci_intx_gsi(unsigned int device, unsigned int pin);

/*
 * The `irq` field of KVM_IRQ_LINE for interrupt line `gsi` of the
 * in-kernel irqchip (x86: the GSI; arm64: an SPI, which KVM_IRQ_LINE
 * names by type and INTID rather than through the GSI routing).
 */
uint32_t arch_irq_line_number(unsigned int gsi);

/*
 * Complete MSI route `e` for a device whose messages carry requester ID
 * `devid` (bus << 8 | devfn): an arm64 ITS tells devices apart by it
 * (KVM_MSI_VALID_DEVID); x86 needs nothing.
 */
void arch_msi_route_devid(struct vm *vm, struct kvm_irq_routing_entry *e,
			  uint32_t devid);

/* Minimum guest RAM this arch can lay out, in bytes. */
uint64_t arch_min_memory(void);

/* Lay out `size` bytes of guest RAM as regions; fills out[], returns count. */
int arch_mem_layout(struct vm *vm, uint64_t size, struct mem_region *out,
		    unsigned int max);

/* Create the irqchip and timers, and register platform devices on buses. */
int arch_vm_init(struct vm *vm);

/* Load kernel, initrd and command line; write boot tables. */
int arch_load_kernel(struct vm *vm);

/*
 * Per-vCPU set-up (x86: CPUID, MSRs, registers, local APIC; arm64:
 * KVM_ARM_VCPU_INIT, the boot vCPU's registers).
 */
int arch_vcpu_init(struct vcpu *vcpu);

/*
 * After every vCPU exists and is initialised, before any runs: what needs
 * them all (arm64: initialise the GIC, write the device tree with the
 * vCPUs' MPIDRs).
 */
int arch_vcpus_created(struct vm *vm);

/*
 * Handle a KVM exit reason the generic loop does not know. Returns 0 to
 * keep running, 1 if the VM is stopping (vm_request_exit was called).
 */
int arch_vcpu_exit(struct vcpu *vcpu);

/*
 * On the vCPU's thread: 1 if it is halted (KVM_MP_STATE_HALTED or the
 * arch's equivalent) with interrupts masked, so that only another vCPU
 * could wake it (x86: HLT with RFLAGS.IF clear, or an AP still
 * waiting for INIT/SIPI; arm64: powered off through PSCI, see
 * arch/aarch64/cpu.c); 0 if not; -errno.
 */
int arch_vcpu_halted_irqs_off(struct vcpu *vcpu);

/*
 * Describe a KVM internal error for the user: exit reason, instruction
 * pointer and the bytes there. Writes a NUL-terminated string.
 */
void arch_describe_internal_error(struct vcpu *vcpu, char *buf, size_t len);

void arch_vm_destroy(struct vm *vm);

#endif
