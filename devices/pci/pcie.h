/* pcie.h: PCI Express capability and ACS extended capability helpers. */
#ifndef DEVICES_PCI_PCIE_H
#define DEVICES_PCI_PCIE_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/pci/config.h"

/*
 * ACS capability bits: SV | TB | RR | CR | UF | DT (0x5f) is the default
 * and also every bit we support: egress control (0x20) would need an
 * egress control vector, which we do not offer.
 */
#define PCIE_ACS_DEFAULT_MASK 0x5f
#define PCIE_ACS_VALID_MASK   0x5f

/*
 * PCIe capability (version 2) for a root port: slot implemented, link
 * reporting capable, 16 GT/s x16. `port_number` goes into the link
 * capabilities, `slot` into the slot capabilities. Returns the offset.
 */
__attribute__((warn_unused_result)) int
pcie_cap_init_root_port(struct pci_config *c, uint8_t port_number,
			uint16_t slot);

/* PCIe capability for an endpoint; returns the offset. */
__attribute__((warn_unused_result)) int
pcie_cap_init_endpoint(struct pci_config *c);

/*
 * Report whether a device sits below the root port: presence detect in
 * the slot status and data link layer link active in the link status.
 */
void pcie_root_port_set_present(struct pci_config *c, bool present);

/*
 * ACS extended capability advertising `mask` (within PCIE_ACS_VALID_MASK,
 * else -EINVAL). Control bits are writable exactly where the capability
 * bit is set. Returns the offset.
 */
__attribute__((warn_unused_result)) int pcie_acs_init(struct pci_config *c,
						      uint16_t mask);

#endif
