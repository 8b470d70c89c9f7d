/* testdev.h: a synthetic PCIe endpoint with chosen BARs, for tests and planning. */
#ifndef DEVICES_PCI_TESTDEV_H
#define DEVICES_PCI_TESTDEV_H

#include "devices/pci/pci.h"

#define TESTDEV_VENDOR 0x1b36 /* Red Hat, Inc.: QEMU's virtual devices */
#define TESTDEV_DEVICE 0x0005 /* "PCI test device" */
#define TESTDEV_REGS   4096 /* register file at the start of each BAR */
#define TESTDEV_MAGIC  0x4454564d /* "MVTD" at offset 0 of every BAR */

struct testdev {
	struct pci_function fn;
	pthread_mutex_t lock;
	uint8_t regs[6][TESTDEV_REGS];
};

/*
 * Initialise the function: PCIe endpoint, class "unassigned", BARs as
 * given by sizes/flags (PCI_BAR_* flags; size 0 = absent). Each BAR
 * starts with a 4 KiB register file that reads back what was written;
 * offset 0 holds TESTDEV_MAGIC, 4 the BAR index, 8 the BAR size (64-bit).
 */
__attribute__((warn_unused_result)) int
testdev_init(struct testdev *t, const char *name, const uint64_t size[6],
	     const unsigned int flags[6]);
void testdev_destroy(struct testdev *t);

#endif
