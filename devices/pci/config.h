/* config.h: PCI config space: config/wmask/w1cmask bytes, one write rule, capability chains, BARs. */
#ifndef DEVICES_PCI_CONFIG_H
#define DEVICES_PCI_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PCI_CFG_SIZE	 4096
#define PCI_STD_CFG_SIZE 256

/* BAR types for pci_bar_init(). */
#define PCI_BAR_IO	 0x1
#define PCI_BAR_MEM64	 0x2
#define PCI_BAR_PREFETCH 0x4

struct pci_config {
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t wmask[PCI_CFG_SIZE]; /* bits the guest may write */
	uint8_t w1cmask[PCI_CFG_SIZE]; /* bits a guest 1 clears */
	uint16_t cap_free; /* next free offset for standard caps */
	uint16_t ext_cap_free; /* next free offset for extended caps */
	uint16_t last_ext_cap; /* 0: none yet */
	uint64_t bar_size[6]; /* 0: BAR not implemented */
	uint8_t bar_type[6];
};

/*
 * A type 0 (endpoint) or type 1 (bridge) header. class_code is the 24-bit
 * base/sub/prog-if value. Command gets writable MEM/IO/bus master bits.
 */
void pci_config_init(struct pci_config *c, uint16_t vendor, uint16_t device,
		     uint32_t class_code, uint8_t revision, bool bridge);

/* Reads of 1, 2 or 4 bytes at any offset within the 4 KiB space. */
uint32_t pci_config_read(const struct pci_config *c, unsigned int off,
			 unsigned int len);

/*
 * The one write rule, per byte:
 *   cfg = (cfg & ~wmask) | (val & wmask); cfg &= ~(val & w1cmask)
 */
void pci_config_write(struct pci_config *c, unsigned int off, uint32_t val,
		      unsigned int len);

/* Raw little-endian setters used while building (no masks applied). */
void pci_set8(struct pci_config *c, unsigned int off, uint8_t v);
void pci_set16(struct pci_config *c, unsigned int off, uint16_t v);
void pci_set32(struct pci_config *c, unsigned int off, uint32_t v);
uint16_t pci_get16(const struct pci_config *c, unsigned int off);
uint32_t pci_get32(const struct pci_config *c, unsigned int off);
void pci_wmask16(struct pci_config *c, unsigned int off, uint16_t m);
void pci_wmask32(struct pci_config *c, unsigned int off, uint32_t m);
void pci_w1cmask16(struct pci_config *c, unsigned int off, uint16_t m);

/*
 * Append a standard capability of `size` bytes (id and next pointer
 * included) to the list that starts at 0x34; sets the status bit.
 * Returns its offset or -ENOSPC.
 */
__attribute__((warn_unused_result)) int
pci_cap_add(struct pci_config *c, uint8_t id, unsigned int size);

/* Append an extended capability (chained from 0x100); offset or -ENOSPC. */
__attribute__((warn_unused_result)) int pci_ext_cap_add(struct pci_config *c,
							uint16_t id,
							uint8_t version,
							unsigned int size);

/* Offset of the first capability with `id`, or 0. */
unsigned int pci_cap_find(const struct pci_config *c, uint8_t id);
unsigned int pci_ext_cap_find(const struct pci_config *c, uint16_t id);

/*
 * Implement BAR `bar` (0-5) of `size` bytes (a power of two: >= 16 for
 * memory, >= 4 for I/O), PCI_BAR_* flags. A 64-bit BAR also takes
 * bar + 1. Sizing works as in hardware: writing all ones reads back
 * ~(size - 1) with the type bits. -EINVAL for bad input.
 */
__attribute__((warn_unused_result)) int pci_bar_init(struct pci_config *c,
						     unsigned int bar,
						     uint64_t size,
						     unsigned int flags);

/* The address currently programmed in BAR `bar` (type bits masked). */
uint64_t pci_bar_addr(const struct pci_config *c, unsigned int bar);

/* Program BAR `bar` (as firmware would, bypassing wmask). */
void pci_bar_set_addr(struct pci_config *c, unsigned int bar, uint64_t addr);

/* Whether the command register enables memory / I/O decoding. */
bool pci_mem_enabled(const struct pci_config *c);

#endif
