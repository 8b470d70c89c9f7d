/* plan_format.h: a PCIe plan as the text `microvm plan` prints and as topology JSON. */
#ifndef DEVICES_PCI_PLAN_FORMAT_H
#define DEVICES_PCI_PLAN_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "devices/pci/plan.h"

/* Enough for either format of any plan (256 ports, 255 six-BAR devices). */
#define PCI_PLAN_FORMAT_MAX (512 * 1024)

/*
 * The human layout: the root complex (with the ECAM line when ecam_size is
 * not 0), the low/high windows (base, size, need, use %), where low RAM
 * ends, one line per root port (index, dev.fn, multifunction, secondary bus,
 * ACS mask, windows) and one block per device (name, BDF, PCI path, port,
 * then each BAR's kind, address range and size). Returns 0, -EINVAL or
 * -ENOSPC when `len` is too small (buf then holds a truncated string).
 */
__attribute__((warn_unused_result)) int
pci_plan_format_text(const struct pci_plan *p, uint64_t ecam_base,
		     uint64_t ecam_size, char *buf, size_t len);

/*
 * The same as one JSON document, format described in docs/topology-json.md
 * (addresses and sizes as "0x..." strings). Returns 0, -EINVAL or -ENOSPC.
 */
__attribute__((warn_unused_result)) int
pci_plan_format_json(const struct pci_plan *p, uint64_t ecam_base,
		     uint64_t ecam_size, char *buf, size_t len);

#endif
