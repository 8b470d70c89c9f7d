/* config.c: PCI config-space core: masked writes, capability lists, BAR sizing semantics. */
#include "devices/pci/config.h"

#include <errno.h>
#include <linux/pci_regs.h>
#include <string.h>

void pci_set8(struct pci_config *c, unsigned int off, uint8_t v)
{
	c->cfg[off] = v;
}

void pci_set16(struct pci_config *c, unsigned int off, uint16_t v)
{
	c->cfg[off] = (uint8_t)v;
	c->cfg[off + 1] = (uint8_t)(v >> 8);
}

void pci_set32(struct pci_config *c, unsigned int off, uint32_t v)
{
	for (unsigned int i = 0; i < 4; i++)
		c->cfg[off + i] = (uint8_t)(v >> (8 * i));
}

uint16_t pci_get16(const struct pci_config *c, unsigned int off)
{
	return (uint16_t)(c->cfg[off] | c->cfg[off + 1] << 8);
}

uint32_t pci_get32(const struct pci_config *c, unsigned int off)
{
	return (uint32_t)pci_get16(c, off) | (uint32_t)pci_get16(c, off + 2)
						     << 16;
}

void pci_wmask16(struct pci_config *c, unsigned int off, uint16_t m)
{
	c->wmask[off] = (uint8_t)m;
	c->wmask[off + 1] = (uint8_t)(m >> 8);
}

void pci_wmask32(struct pci_config *c, unsigned int off, uint32_t m)
{
	for (unsigned int i = 0; i < 4; i++)
		c->wmask[off + i] = (uint8_t)(m >> (8 * i));
}

void pci_w1cmask16(struct pci_config *c, unsigned int off, uint16_t m)
{
	c->w1cmask[off] = (uint8_t)m;
	c->w1cmask[off + 1] = (uint8_t)(m >> 8);
}

void pci_config_init(struct pci_config *c, uint16_t vendor, uint16_t device,
		     uint32_t class_code, uint8_t revision, bool bridge)
{
	memset(c, 0, sizeof(*c));
	pci_set16(c, PCI_VENDOR_ID, vendor);
	pci_set16(c, PCI_DEVICE_ID, device);
	pci_set8(c, PCI_REVISION_ID, revision);
	pci_set8(c, PCI_CLASS_PROG, (uint8_t)class_code);
	pci_set16(c, PCI_CLASS_DEVICE, (uint16_t)(class_code >> 8));
	pci_set8(c, PCI_HEADER_TYPE,
		 bridge ? PCI_HEADER_TYPE_BRIDGE : PCI_HEADER_TYPE_NORMAL);
	pci_wmask16(c, PCI_COMMAND,
		    PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
			    PCI_COMMAND_PARITY | PCI_COMMAND_SERR |
			    PCI_COMMAND_INTX_DISABLE);
	/* Error bits in the status register are write-1-to-clear. */
	pci_w1cmask16(c, PCI_STATUS,
		      PCI_STATUS_PARITY | PCI_STATUS_SIG_TARGET_ABORT |
			      PCI_STATUS_REC_TARGET_ABORT |
			      PCI_STATUS_REC_MASTER_ABORT |
			      PCI_STATUS_SIG_SYSTEM_ERROR |
			      PCI_STATUS_DETECTED_PARITY);
	c->wmask[PCI_CACHE_LINE_SIZE] = 0xff;
	c->wmask[PCI_INTERRUPT_LINE] = 0xff;
	if (bridge) {
		c->wmask[PCI_PRIMARY_BUS] = 0xff;
		c->wmask[PCI_SECONDARY_BUS] = 0xff;
		c->wmask[PCI_SUBORDINATE_BUS] = 0xff;
		c->wmask[PCI_SEC_LATENCY_TIMER] = 0xff;
		/* Memory windows, 1 MiB granularity; 64-bit prefetchable. */
		pci_wmask16(c, PCI_MEMORY_BASE, 0xfff0);
		pci_wmask16(c, PCI_MEMORY_LIMIT, 0xfff0);
		pci_set16(c, PCI_PREF_MEMORY_BASE, PCI_PREF_RANGE_TYPE_64);
		pci_set16(c, PCI_PREF_MEMORY_LIMIT, PCI_PREF_RANGE_TYPE_64);
		pci_wmask16(c, PCI_PREF_MEMORY_BASE, 0xfff0);
		pci_wmask16(c, PCI_PREF_MEMORY_LIMIT, 0xfff0);
		pci_wmask32(c, PCI_PREF_BASE_UPPER32, 0xffffffff);
		pci_wmask32(c, PCI_PREF_LIMIT_UPPER32, 0xffffffff);
		pci_wmask16(c, PCI_BRIDGE_CONTROL,
			    PCI_BRIDGE_CTL_PARITY | PCI_BRIDGE_CTL_SERR |
				    PCI_BRIDGE_CTL_ISA | PCI_BRIDGE_CTL_VGA |
				    PCI_BRIDGE_CTL_BUS_RESET);
		pci_w1cmask16(c, PCI_SEC_STATUS,
			      PCI_STATUS_PARITY | PCI_STATUS_SIG_TARGET_ABORT |
				      PCI_STATUS_REC_TARGET_ABORT |
				      PCI_STATUS_REC_MASTER_ABORT |
				      PCI_STATUS_SIG_SYSTEM_ERROR |
				      PCI_STATUS_DETECTED_PARITY);
	}
	c->cap_free = 0x40;
	c->ext_cap_free = PCI_CFG_SPACE_SIZE;
}

uint32_t pci_config_read(const struct pci_config *c, unsigned int off,
			 unsigned int len)
{
	uint32_t v = 0;

	if (off >= PCI_CFG_SIZE || len > PCI_CFG_SIZE - off || len > 4)
		return 0xffffffff;
	for (unsigned int i = 0; i < len; i++)
		v |= (uint32_t)c->cfg[off + i] << (8 * i);
	return v;
}

void pci_config_write(struct pci_config *c, unsigned int off, uint32_t val,
		      unsigned int len)
{
	if (off >= PCI_CFG_SIZE || len > PCI_CFG_SIZE - off || len > 4)
		return;
	for (unsigned int i = 0; i < len; i++) {
		uint8_t b = (uint8_t)(val >> (8 * i));
		unsigned int o = off + i;

		c->cfg[o] = (uint8_t)((c->cfg[o] & ~c->wmask[o]) |
				      (b & c->wmask[o]));
		c->cfg[o] &= (uint8_t) ~(b & c->w1cmask[o]);
	}
}

int pci_cap_add(struct pci_config *c, uint8_t id, unsigned int size)
{
	unsigned int off = (c->cap_free + 3u) & ~3u, p;

	if (size < 2 || off + size > PCI_CFG_SPACE_SIZE)
		return -ENOSPC;
	c->cfg[off] = id;
	c->cfg[off + PCI_CAP_LIST_NEXT] = 0;
	/* Append at the tail so the chain follows creation order. */
	if (!c->cfg[PCI_CAPABILITY_LIST]) {
		c->cfg[PCI_CAPABILITY_LIST] = (uint8_t)off;
	} else {
		for (p = c->cfg[PCI_CAPABILITY_LIST];
		     c->cfg[p + PCI_CAP_LIST_NEXT];
		     p = c->cfg[p + PCI_CAP_LIST_NEXT])
			;
		c->cfg[p + PCI_CAP_LIST_NEXT] = (uint8_t)off;
	}
	pci_set16(c, PCI_STATUS,
		  pci_get16(c, PCI_STATUS) | PCI_STATUS_CAP_LIST);
	c->cap_free = (uint16_t)(off + size);
	return (int)off;
}

int pci_ext_cap_add(struct pci_config *c, uint16_t id, uint8_t version,
		    unsigned int size)
{
	unsigned int off = (c->ext_cap_free + 3u) & ~3u;

	if (size < 4 || off + size > PCI_CFG_SIZE)
		return -ENOSPC;
	pci_set32(c, off, (uint32_t)id | (uint32_t)(version & 0xf) << 16);
	if (c->last_ext_cap) {
		uint32_t h = pci_get32(c, c->last_ext_cap);

		h = (h & 0x000fffffu) | (uint32_t)off << 20;
		pci_set32(c, c->last_ext_cap, h);
	}
	c->last_ext_cap = (uint16_t)off;
	c->ext_cap_free = (uint16_t)(off + size);
	return (int)off;
}

unsigned int pci_cap_find(const struct pci_config *c, uint8_t id)
{
	unsigned int p = c->cfg[PCI_CAPABILITY_LIST], guard = 0;

	while (p && guard++ < 64) {
		if (c->cfg[p] == id)
			return p;
		p = c->cfg[p + PCI_CAP_LIST_NEXT];
	}
	return 0;
}

unsigned int pci_ext_cap_find(const struct pci_config *c, uint16_t id)
{
	unsigned int p = PCI_CFG_SPACE_SIZE, guard = 0;

	while (p && guard++ < 512) {
		uint32_t h = pci_get32(c, p);

		if (h == 0)
			return 0;
		if (PCI_EXT_CAP_ID(h) == id)
			return p;
		p = PCI_EXT_CAP_NEXT(h);
	}
	return 0;
}

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

int pci_bar_init(struct pci_config *c, unsigned int bar, uint64_t size,
		 unsigned int flags)
{
	bool bridge =
		(c->cfg[PCI_HEADER_TYPE] & 0x7f) == PCI_HEADER_TYPE_BRIDGE;
	unsigned int nbars = bridge ? 2 : 6;
	unsigned int off = PCI_BASE_ADDRESS_0 + 4 * bar;
	bool io = flags & PCI_BAR_IO, is64 = flags & PCI_BAR_MEM64;
	uint32_t type;
	uint64_t mask;

	if (bar >= nbars || !is_pow2(size) || size < (io ? 4u : 16u) ||
	    (is64 && (io || bar + 1 >= nbars)) ||
	    (!is64 && size > 1ull << 31) || (io && size > 256) ||
	    c->bar_size[bar] || (is64 && c->bar_size[bar + 1]))
		return -EINVAL;
	if (io) {
		type = PCI_BASE_ADDRESS_SPACE_IO;
	} else {
		type = is64 ? PCI_BASE_ADDRESS_MEM_TYPE_64
			    : PCI_BASE_ADDRESS_MEM_TYPE_32;
		if (flags & PCI_BAR_PREFETCH)
			type |= PCI_BASE_ADDRESS_MEM_PREFETCH;
	}
	mask = ~(size - 1);
	pci_set32(c, off, type);
	pci_wmask32(c, off, (uint32_t)mask & (io ? ~3u : ~0xfu));
	if (is64) {
		pci_set32(c, off + 4, 0);
		pci_wmask32(c, off + 4, (uint32_t)(mask >> 32));
		c->bar_size[bar + 1] = 0;
	}
	c->bar_size[bar] = size;
	c->bar_type[bar] = (uint8_t)flags;
	return 0;
}

uint64_t pci_bar_addr(const struct pci_config *c, unsigned int bar)
{
	unsigned int off = PCI_BASE_ADDRESS_0 + 4 * bar;
	uint64_t lo = pci_get32(c, off);

	if (c->bar_type[bar] & PCI_BAR_IO)
		return lo & PCI_BASE_ADDRESS_IO_MASK;
	lo &= PCI_BASE_ADDRESS_MEM_MASK;
	if (c->bar_type[bar] & PCI_BAR_MEM64)
		lo |= (uint64_t)pci_get32(c, off + 4) << 32;
	return lo;
}

void pci_bar_set_addr(struct pci_config *c, unsigned int bar, uint64_t addr)
{
	unsigned int off = PCI_BASE_ADDRESS_0 + 4 * bar;
	bool io = c->bar_type[bar] & PCI_BAR_IO;
	uint32_t tmask = io ? 0x3u : 0xfu;
	uint32_t type = pci_get32(c, off) & tmask;

	pci_set32(c, off, ((uint32_t)addr & ~tmask) | type);
	if (c->bar_type[bar] & PCI_BAR_MEM64)
		pci_set32(c, off + 4, (uint32_t)(addr >> 32));
}

bool pci_mem_enabled(const struct pci_config *c)
{
	return pci_get16(c, PCI_COMMAND) & PCI_COMMAND_MEMORY;
}
