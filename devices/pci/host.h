/* host.h: builds the PCIe root complex (root ports, endpoints, ECAM) from the plan. */
#ifndef DEVICES_PCI_HOST_H
#define DEVICES_PCI_HOST_H

#include <stdint.h>

#include "devices/pci/pci.h"
#include "devices/pci/plan.h"

#define PCI_ROOT_PORT_VENDOR 0x1b36 /* Red Hat, Inc. */
#define PCI_ROOT_PORT_DEVICE \
	0x000c /* "QEMU PCIe Root port": generic, no quirks */

struct machine;
struct pci_dev_slot;

/*
 * Build the device's function once the plan has given it its place: set up
 * config space and BARs and store it in slot->fn (the host then programs
 * the BAR addresses from the plan, turns decoding on and attaches it below
 * its root port).
 */
typedef int (*pci_dev_create_fn)(struct machine *m, struct pci_dev_slot *slot,
				 const struct pci_plan_dev *pd);
typedef void (*pci_dev_destroy_fn)(struct pci_dev_slot *slot);

/* A device to attach: registered before planning, realized after. */
struct pci_dev_slot {
	struct pci_dev_req req; /* name and BARs, for the planner */
	pci_dev_create_fn create;
	pci_dev_destroy_fn destroy;
	void *priv;		 /* the device model's state */
	struct pci_function *fn; /* set by create() */
};

/* The devices registered so far, in guest order. */
struct pci_dev_list {
	struct pci_dev_slot *slot;
	unsigned int n;
};

struct pci_host {
	struct pci_root root;
	const struct pci_plan *plan;
	struct pci_dev_list *devs;
	struct pci_function *ports; /* plan->nports */
	uint64_t ecam_base;
};

/*
 * Register a device before the plan is made (registration order is the
 * order of devices in the guest). `priv` is handed to create/destroy.
 */
__attribute__((warn_unused_result)) int
pci_host_add_device(struct pci_dev_list *l, const struct pci_dev_req *req,
		    pci_dev_create_fn create, pci_dev_destroy_fn destroy,
		    void *priv);

/* Release every registered device (after the host is gone). */
void pci_host_free_devices(struct pci_dev_list *l);

/*
 * Create the root complex described by `plan` with its ECAM at
 * `ecam_base`: root ports with bus numbers, windows and ACS programmed,
 * the devices of `devs` (plan->dev[i] is devs->slot[i]) created, their
 * BARs assigned and decoding. Registers ECAM and BARs on the machine's
 * MMIO bus. 0 or -errno (logged).
 */
__attribute__((warn_unused_result)) int
pci_host_create(struct machine *m, const struct pci_plan *plan,
		struct pci_dev_list *devs, uint64_t ecam_base,
		struct pci_host **out);
void pci_host_destroy(struct pci_host *h);

/* PCI_BAR_* flags (devices/pci/config.h) of a planner BAR kind. */
unsigned int pci_bar_kind_flags(enum pci_bar_kind k);

/* Register the --pci-testdev devices `specs`. */
__attribute__((warn_unused_result)) int
pci_host_add_testdevs(struct machine *m, char *const *specs, unsigned int n);

/* Program a root port's config space from its plan entry (pure). */
__attribute__((warn_unused_result)) int
pci_root_port_init(struct pci_function *f, const struct pci_plan *plan,
		   unsigned int index);

#endif
