/* host.h: builds the PCIe root complex (root ports, endpoints, ECAM) from the plan. */
#ifndef DEVICES_PCI_HOST_H
#define DEVICES_PCI_HOST_H

#include <stdint.h>

#include "devices/pci/pci.h"
#include "devices/pci/plan.h"

#define PCI_ROOT_PORT_VENDOR 0x1b36 /* Red Hat, Inc. */
#define PCI_ROOT_PORT_DEVICE \
	0x000c /* "QEMU PCIe Root port": generic, no quirks */

struct vm;
struct testdev;

struct pci_host {
	struct pci_root root;
	const struct pci_plan *plan;
	struct pci_function *ports; /* plan->nports */
	struct testdev **devs; /* plan->ndevs */
	uint64_t ecam_base;
};

/*
 * Create the root complex described by vm->pci_plan with its ECAM at
 * `ecam_base`: root ports with bus numbers, windows and ACS programmed,
 * endpoints with BARs assigned and decoding. Registers ECAM and BARs on
 * the VM's MMIO bus. 0 or -errno (logged).
 */
__attribute__((warn_unused_result)) int
pci_host_create(struct vm *vm, uint64_t ecam_base, struct pci_host **out);
void pci_host_destroy(struct pci_host *h);

/* Program a root port's config space from its plan entry (pure). */
__attribute__((warn_unused_result)) int
pci_root_port_init(struct pci_function *f, const struct pci_plan *plan,
		   unsigned int index);

#endif
