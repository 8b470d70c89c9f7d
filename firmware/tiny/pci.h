/* pci.h: the tiny guests' PCI helpers (ECAM config space, capabilities, the "pci" mode's walk), shared by every arch; ACPI's MCFG lookup is x86's. */
#ifndef TINY_PCI_H
#define TINY_PCI_H

#include "lib.h"
/* Each guest's own directory, first on its include path, supplies mmio.h. */
#include <mmio.h>

#define PCI_CLASS_BRIDGE_HOST 0x0600
#define PCI_CLASS_BRIDGE_PCI  0x0604

/* The ECAM of one PCI segment, as MCFG or the FDT describes it. */
struct ecam {
	uint64_t base; /* config space of bus_first */
	unsigned int bus_first, bus_last;
	/*
	 * The host bridge's windows where the platform describes them (the
	 * FDT's ranges; MCFG has none): 32-bit memory and 64-bit (prefetchable)
	 * memory, CPU address = PCI address. Size 0: not described, not checked.
	 */
	uint64_t mem_base, mem_size;
	uint64_t pref_base, pref_size;
};

/* acpi.c (x86): the ACPI table with signature `sig` (via the XSDT), or 0. */
const uint8_t *acpi_find_table(uint64_t rsdp, const char *sig);
/* acpi.c (x86): the first MCFG allocation; false if there is no MCFG. */
bool ecam_find(uint64_t rsdp, struct ecam *e);

volatile uint8_t *ecam_cfg(const struct ecam *e, unsigned int bus,
			   unsigned int dev, unsigned int fn);
/* Offset of capability `id` (standard list, or extended from 0x100), or 0. */
unsigned int pci_find_cap(volatile uint8_t *c, unsigned int id);
unsigned int pci_find_ext_cap(volatile uint8_t *c, unsigned int id);
/*
 * The "pci" mode: walk the root bus and the bus below each root port, check
 * packing, ACS, windows and BAR placement, print the summary line (and with
 * `list` one line per function, port and BAR), then "TINY: pci ok" or FAIL.
 */
void pci_walk(const struct ecam *e, bool list);
/*
 * From the board: make the 1 GiB region holding `addr` reachable (x86:
 * identity-map it, for MMIO above the 4 GiB the VMM maps; only one such
 * region at a time; with the MMU off, as on aarch64: nothing to do).
 */
void map_1g(uint64_t addr);

static inline uint8_t c8(volatile uint8_t *c, unsigned int off)
{
	return mmio_read8(c + off);
}

static inline uint32_t c32(volatile uint8_t *c, unsigned int off)
{
	return mmio_read32(c + off);
}

static inline uint16_t c16(volatile uint8_t *c, unsigned int off)
{
	return mmio_read16(c + off);
}

static inline void w32(volatile uint8_t *c, unsigned int off, uint32_t v)
{
	mmio_write32(c + off, v);
}

static inline void w16(volatile uint8_t *c, unsigned int off, uint16_t v)
{
	mmio_write16(c + off, v);
}

#endif
