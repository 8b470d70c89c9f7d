/* aarch64.h: what the aarch64 arch files share: the arch state of a VM, the GIC and loader steps. */
#ifndef AARCH64_AARCH64_H
#define AARCH64_AARCH64_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/pl011.h"

struct vm;

/*
 * SGIs and PPIs (32) plus 96 SPIs: the UART (SPI 1) and the four INTx lines
 * (SPIs 3-6) need few; MSIs are LPIs through the ITS and take none.
 */
#define AARCH64_GIC_NR_IRQS 128
#define AARCH64_GIC_NR_SPIS (AARCH64_GIC_NR_IRQS - 32)

/* The guest physical address width KVM gives a VM of type 0. */
#define AARCH64_DEFAULT_IPA_BITS 40

struct arch_vm {
	unsigned int ipa_bits; /* guest physical address width */
	bool ipa_from_kvm; /* KVM_CAP_ARM_VM_IPA_SIZE said it: name it */
	struct kvm_vcpu_init vcpu_init; /* target and features, boot vCPU */
	int gic_fd, its_fd; /* KVM devices, -1 */
	bool msi_devid; /* KVM_CAP_MSI_DEVID: MSI routes carry a device ID */
	struct pl011 uart;
	bool uart_init;
	uint64_t *mpidr; /* MPIDR_EL1 of each vCPU, for the device tree */
	/* Where arch_load_kernel() put things. */
	uint64_t entry; /* the Image's first byte */
	uint64_t fdt_addr; /* 2 MiB reserved for the blob */
	uint64_t initrd_base, initrd_size;
};

/* gic.c: create the GICv3 and its ITS (before the vCPUs). 0 or -errno. */
int a64_gic_create(struct vm *vm);
/* gic.c: initialise them once every vCPU exists. 0 or -errno. */
int a64_gic_init(struct vm *vm);
void a64_gic_destroy(struct vm *vm);

/* boot.c: build the device tree into guest RAM (and --dump-fdt it). */
int a64_write_fdt(struct vm *vm);

#endif
