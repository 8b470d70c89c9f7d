/* pci.h: the tiny guest's PCI helpers (ACPI tables, ECAM from MCFG, config space, capabilities, MMIO maps), shared by pci.c and the device modes. */
#ifndef TINY_PCI_H
#define TINY_PCI_H

#include "tiny.h"

#define PCI_CLASS_BRIDGE_PCI 0x0604

/* The ECAM of one PCI segment, as MCFG describes it. */
struct ecam {
	uint64_t base; /* config space of bus_first */
	unsigned int bus_first, bus_last;
};

/* The ACPI table with signature `sig` (via the XSDT), or 0. */
const uint8_t *acpi_find_table(uint64_t rsdp, const char *sig);
/* The first MCFG allocation; false if there is no MCFG. */
bool ecam_find(uint64_t rsdp, struct ecam *e);
volatile uint8_t *ecam_cfg(const struct ecam *e, unsigned int bus,
			   unsigned int dev, unsigned int fn);
/* Offset of capability `id` (standard list, or extended from 0x100), or 0. */
unsigned int pci_find_cap(volatile uint8_t *c, unsigned int id);
unsigned int pci_find_ext_cap(volatile uint8_t *c, unsigned int id);
/*
 * Identity-map the 1 GiB region holding `addr`, for MMIO above the 4 GiB the
 * VMM maps (below 4 GiB: nothing to do). Only one such region at a time.
 */
void map_1g(uint64_t addr);

static inline uint32_t c32(volatile uint8_t *c, unsigned int off)
{
	return *(volatile uint32_t *)(c + off);
}

static inline uint16_t c16(volatile uint8_t *c, unsigned int off)
{
	return *(volatile uint16_t *)(c + off);
}

static inline void w32(volatile uint8_t *c, unsigned int off, uint32_t v)
{
	*(volatile uint32_t *)(c + off) = v;
}

static inline void w16(volatile uint8_t *c, unsigned int off, uint16_t v)
{
	*(volatile uint16_t *)(c + off) = v;
}

#endif
