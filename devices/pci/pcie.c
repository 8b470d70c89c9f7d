/* pcie.c: PCIe capability (root port, endpoint) and ACS; each helper opens only its own bits. */
#include "devices/pci/pcie.h"

#include <errno.h>
#include <linux/pci_regs.h>

#define LINK_SPEED_16GT	 4 /* supported link speeds vector index */
#define LINK_WIDTH	 16
#define PCIE_CAP_SIZE_V2 0x3c /* through slot status 2 */

static int pcie_cap_common(struct pci_config *c, uint16_t type_flags)
{
	int off = pci_cap_add(c, PCI_CAP_ID_EXP, PCIE_CAP_SIZE_V2);

	if (off < 0)
		return off;
	pci_set16(c, off + PCI_EXP_FLAGS, 2 | type_flags);
	/* Device control: error reporting, relaxed ordering, payload sizes. */
	pci_wmask16(c, off + PCI_EXP_DEVCTL,
		    PCI_EXP_DEVCTL_CERE | PCI_EXP_DEVCTL_NFERE |
			    PCI_EXP_DEVCTL_FERE | PCI_EXP_DEVCTL_URRE |
			    PCI_EXP_DEVCTL_RELAX_EN | PCI_EXP_DEVCTL_PAYLOAD |
			    PCI_EXP_DEVCTL_EXT_TAG | PCI_EXP_DEVCTL_NOSNOOP_EN |
			    PCI_EXP_DEVCTL_READRQ);
	pci_w1cmask16(c, off + PCI_EXP_DEVSTA,
		      PCI_EXP_DEVSTA_CED | PCI_EXP_DEVSTA_NFED |
			      PCI_EXP_DEVSTA_FED | PCI_EXP_DEVSTA_URD);
	pci_set32(c, off + PCI_EXP_LNKCAP, LINK_SPEED_16GT | LINK_WIDTH << 4);
	pci_wmask16(c, off + PCI_EXP_LNKCTL,
		    PCI_EXP_LNKCTL_ASPMC | PCI_EXP_LNKCTL_RCB |
			    PCI_EXP_LNKCTL_CCC | PCI_EXP_LNKCTL_ES);
	pci_set16(c, off + PCI_EXP_LNKSTA,
		  LINK_SPEED_16GT | LINK_WIDTH << PCI_EXP_LNKSTA_NLW_SHIFT);
	pci_set32(c, off + PCI_EXP_LNKCAP2, 0x1e); /* 2.5 to 16 GT/s */
	pci_wmask16(c, off + PCI_EXP_LNKCTL2, PCI_EXP_LNKCTL2_TLS);
	pci_set16(c, off + PCI_EXP_LNKCTL2, LINK_SPEED_16GT);
	return off;
}

int pcie_cap_init_root_port(struct pci_config *c, uint8_t port_number,
			    uint16_t slot)
{
	int off = pcie_cap_common(c, PCI_EXP_TYPE_ROOT_PORT << 4 |
					     PCI_EXP_FLAGS_SLOT);
	uint32_t lnkcap;

	if (off < 0)
		return off;
	pci_set32(c, off + PCI_EXP_DEVCAP, PCI_EXP_DEVCAP_RBER);
	lnkcap = pci_get32(c, off + PCI_EXP_LNKCAP);
	pci_set32(c, off + PCI_EXP_LNKCAP,
		  lnkcap | PCI_EXP_LNKCAP_DLLLARC |
			  (uint32_t)port_number << 24);
	/* A slot without hot-plug: just its physical slot number. */
	pci_set32(c, off + PCI_EXP_SLTCAP, (uint32_t)(slot & 0x1fff) << 19);
	pci_wmask16(c, off + PCI_EXP_SLTCTL, 0x1fff);
	pci_wmask16(c, off + PCI_EXP_RTCTL,
		    PCI_EXP_RTCTL_SECEE | PCI_EXP_RTCTL_SENFEE |
			    PCI_EXP_RTCTL_SEFEE | PCI_EXP_RTCTL_PMEIE);
	pci_set32(c, off + PCI_EXP_RTSTA, 0);
	pci_wmask16(c, off + PCI_EXP_DEVCTL2, PCI_EXP_DEVCTL2_COMP_TIMEOUT);
	return off;
}

int pcie_cap_init_endpoint(struct pci_config *c)
{
	int off = pcie_cap_common(c, PCI_EXP_TYPE_ENDPOINT << 4);

	if (off < 0)
		return off;
	pci_set32(c, off + PCI_EXP_DEVCAP, PCI_EXP_DEVCAP_RBER);
	pci_wmask16(c, off + PCI_EXP_DEVCTL2, PCI_EXP_DEVCTL2_COMP_TIMEOUT);
	/* The link of an endpoint is always up. */
	pci_set16(c, off + PCI_EXP_LNKSTA,
		  pci_get16(c, off + PCI_EXP_LNKSTA) | PCI_EXP_LNKSTA_DLLLA);
	return off;
}

void pcie_root_port_set_present(struct pci_config *c, bool present)
{
	unsigned int off = pci_cap_find(c, PCI_CAP_ID_EXP);
	uint16_t sta;

	if (!off)
		return;
	sta = pci_get16(c, off + PCI_EXP_SLTSTA);
	sta = present ? sta | PCI_EXP_SLTSTA_PDS : sta & ~PCI_EXP_SLTSTA_PDS;
	pci_set16(c, off + PCI_EXP_SLTSTA, sta);
	sta = pci_get16(c, off + PCI_EXP_LNKSTA);
	sta = present ? sta | PCI_EXP_LNKSTA_DLLLA
		      : sta & ~PCI_EXP_LNKSTA_DLLLA;
	pci_set16(c, off + PCI_EXP_LNKSTA, sta);
}

int pcie_acs_init(struct pci_config *c, uint16_t mask)
{
	int off;

	/* Egress control would need a vector register; we do not offer it. */
	if (mask & ~PCIE_ACS_VALID_MASK)
		return -EINVAL;
	off = pci_ext_cap_add(c, PCI_EXT_CAP_ID_ACS, 1, 8);
	if (off < 0)
		return off;
	pci_set16(c, off + PCI_ACS_CAP, mask);
	pci_set16(c, off + PCI_ACS_CTRL, 0);
	pci_wmask16(c, off + PCI_ACS_CTRL, mask);
	return off;
}
