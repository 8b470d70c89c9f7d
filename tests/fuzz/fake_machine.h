/* fake_machine.h: a machine with no hypervisor for the fuzz targets: buses in memory, interrupts and eventfd registrations that succeed and are only counted. */
#ifndef TESTS_FUZZ_FAKE_MACHINE_H
#define TESTS_FUZZ_FAKE_MACHINE_H

#include "devices/machine.h"
#include "devices/pci/host.h"

struct fake_machine {
	struct machine m; /* first: ops get &m */
	struct logger log;
	struct bus mmio, pio;
	struct pci_dev_list devs;
	unsigned int next_gsi;
	unsigned int msi_routes, irqfds, ioeventfds; /* registered now */
	int ends;
};

void fake_machine_init(struct fake_machine *f);
void fake_machine_fini(struct fake_machine *f);

/* The MMIO bus is a sorted table of disjoint, non-wrapping ranges. */
void fake_machine_check_bus(const struct bus *b);

#endif
