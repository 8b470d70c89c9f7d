/* vfio_cfg.c: the config-space shadow of a passed-through device, and MSI-X table/PBA emulation; pure, unit-tested. */
#include "devices/vfio/vfio_cfg.h"

#include <errno.h>
#include <linux/pci_regs.h>
#include <stdio.h>
#include <string.h>

static void set_passthru(struct vfio_shadow *s, unsigned int off,
			 unsigned int len, bool on)
{
	for (unsigned int i = off; i < off + len && i < PCI_CFG_SIZE; i++) {
		if (on)
			s->passthru[i / 8] |= (uint8_t)(1u << (i % 8));
		else
			s->passthru[i / 8] &= (uint8_t) ~(1u << (i % 8));
	}
}

/* Make [off, off+len) ours and read-only (writes are dropped). */
static void virt_ro(struct vfio_shadow *s, unsigned int off, unsigned int len)
{
	set_passthru(s, off, len, false);
	memset(&s->cfg.wmask[off], 0, len);
	memset(&s->cfg.w1cmask[off], 0, len);
}

static int bars_init(struct vfio_shadow *s, const uint8_t *raw,
		     const uint64_t bar_size[6], char *err, size_t errlen)
{
	struct pci_config *c = &s->cfg;

	virt_ro(s, PCI_BASE_ADDRESS_0, 24);
	memset(&c->cfg[PCI_BASE_ADDRESS_0], 0, 24);
	for (unsigned int i = 0; i < 6; i++) {
		uint32_t v;
		unsigned int flags = 0;
		bool is64;

		memcpy(&v, &raw[PCI_BASE_ADDRESS_0 + 4 * i], 4);
		if (!bar_size[i])
			continue;
		if (v & PCI_BASE_ADDRESS_SPACE_IO) {
			s->io_bar_size[i] = bar_size[i];
			continue;
		}
		is64 = (v & PCI_BASE_ADDRESS_MEM_TYPE_MASK) ==
		       PCI_BASE_ADDRESS_MEM_TYPE_64;
		if (is64)
			flags |= PCI_BAR_MEM64;
		if (v & PCI_BASE_ADDRESS_MEM_PREFETCH)
			flags |= PCI_BAR_PREFETCH;
		if (pci_bar_init(c, i, bar_size[i], flags) < 0) {
			snprintf(err, errlen,
				 "BAR%u: cannot shadow a %s%s BAR of 0x%llx "
				 "bytes (a power of two of at least 16 bytes%s "
				 "is needed)",
				 i, is64 ? "64-bit" : "32-bit",
				 flags & PCI_BAR_PREFETCH ? " prefetchable"
							  : "",
				 (unsigned long long)bar_size[i],
				 is64 ? "" : ", at most 2 GiB");
			return -EINVAL;
		}
		if (is64)
			i++;
	}
	return 0;
}

static void msi_init(struct vfio_shadow *s, unsigned int p)
{
	struct pci_config *c = &s->cfg;
	struct vfio_msi_info *m = &s->msi;
	uint16_t ctrl = pci_get16(c, p + PCI_MSI_FLAGS);
	unsigned int size;

	m->present = true;
	m->cap = p;
	m->is64 = ctrl & PCI_MSI_FLAGS_64BIT;
	m->maskable = ctrl & PCI_MSI_FLAGS_MASKBIT;
	m->max_vectors = 1u << ((ctrl & PCI_MSI_FLAGS_QMASK) >> 1);
	if (m->max_vectors > 32)
		m->max_vectors = 32;
	m->data_off = p + (m->is64 ? PCI_MSI_DATA_64 : PCI_MSI_DATA_32);
	m->mask_off =
		m->maskable ? p + (m->is64 ? PCI_MSI_MASK_64 : PCI_MSI_MASK_32)
			    : 0;
	size = m->maskable ? m->mask_off - p + 8 : m->data_off - p + 2;
	virt_ro(s, p, size);
	/* The emulated state starts disabled, whatever the device had. */
	pci_set16(c, p + PCI_MSI_FLAGS,
		  ctrl & (uint16_t) ~(PCI_MSI_FLAGS_ENABLE |
				      PCI_MSI_FLAGS_QSIZE));
	pci_wmask16(c, p + PCI_MSI_FLAGS,
		    PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE);
	pci_set32(c, p + PCI_MSI_ADDRESS_LO, 0);
	pci_wmask32(c, p + PCI_MSI_ADDRESS_LO, 0xfffffffc);
	if (m->is64) {
		pci_set32(c, p + PCI_MSI_ADDRESS_HI, 0);
		pci_wmask32(c, p + PCI_MSI_ADDRESS_HI, 0xffffffff);
	}
	pci_set16(c, m->data_off, 0);
	pci_wmask16(c, m->data_off, 0xffff);
	if (m->maskable) {
		pci_set32(c, m->mask_off, 0);
		pci_set32(c, m->mask_off + 4, 0);
		pci_wmask32(c, m->mask_off,
			    m->max_vectors == 32 ? 0xffffffffu
						 : (1u << m->max_vectors) - 1);
	}
}

static int msix_init(struct vfio_shadow *s, unsigned int p, char *err,
		     size_t errlen)
{
	struct pci_config *c = &s->cfg;
	struct vfio_msix_info *m = &s->msix;
	uint16_t ctrl = pci_get16(c, p + PCI_MSIX_FLAGS);
	uint32_t t = pci_get32(c, p + PCI_MSIX_TABLE);
	uint32_t b = pci_get32(c, p + PCI_MSIX_PBA);
	uint64_t pba_len;

	m->present = true;
	m->cap = p;
	m->table_size = (ctrl & PCI_MSIX_FLAGS_QSIZE) + 1u;
	m->table_bar = t & PCI_MSIX_TABLE_BIR;
	m->table_off = t & PCI_MSIX_TABLE_OFFSET;
	m->pba_bar = b & PCI_MSIX_PBA_BIR;
	m->pba_off = b & PCI_MSIX_PBA_OFFSET;
	pba_len = (m->table_size + 63u) / 64u * 8u;
	if (m->table_bar > 5 || m->pba_bar > 5 || !c->bar_size[m->table_bar] ||
	    !c->bar_size[m->pba_bar] ||
	    m->table_off + 16ull * m->table_size > c->bar_size[m->table_bar] ||
	    m->pba_off + pba_len > c->bar_size[m->pba_bar]) {
		snprintf(err, errlen,
			 "MSI-X table (BAR%u+0x%llx, %u entries) or PBA "
			 "(BAR%u+0x%llx) lies outside its memory BAR",
			 m->table_bar, (unsigned long long)m->table_off,
			 m->table_size, m->pba_bar,
			 (unsigned long long)m->pba_off);
		return -EINVAL;
	}
	virt_ro(s, p, PCI_CAP_MSIX_SIZEOF);
	pci_set16(c, p + PCI_MSIX_FLAGS,
		  ctrl & (uint16_t) ~(PCI_MSIX_FLAGS_ENABLE |
				      PCI_MSIX_FLAGS_MASKALL));
	pci_wmask16(c, p + PCI_MSIX_FLAGS,
		    PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	return 0;
}

static int caps_init(struct vfio_shadow *s, char *err, size_t errlen)
{
	struct pci_config *c = &s->cfg;
	uint8_t seen[PCI_STD_CFG_SIZE / 4] = {0};
	unsigned int p;
	int r;

	virt_ro(s, PCI_CAPABILITY_LIST, 1);
	if (!(pci_get16(c, PCI_STATUS) & PCI_STATUS_CAP_LIST)) {
		c->cfg[PCI_CAPABILITY_LIST] = 0;
		return 0;
	}
	c->cfg[PCI_CAPABILITY_LIST] &= 0xfc;
	for (p = c->cfg[PCI_CAPABILITY_LIST]; p;
	     p = c->cfg[p + PCI_CAP_LIST_NEXT]) {
		if (p < PCI_STD_HEADER_SIZEOF || p > PCI_STD_CFG_SIZE - 4 ||
		    seen[p / 4]) {
			snprintf(err, errlen,
				 "capability list is broken at 0x%x (%s)", p,
				 seen[p / 4] ? "a loop" : "out of range");
			return -EINVAL;
		}
		seen[p / 4] = 1;
		c->cfg[p + PCI_CAP_LIST_NEXT] &= 0xfc;
		virt_ro(s, p, 2);
		if (c->cfg[p] == PCI_CAP_ID_MSI && !s->msi.present) {
			msi_init(s, p);
		} else if (c->cfg[p] == PCI_CAP_ID_MSIX && !s->msix.present) {
			r = msix_init(s, p, err, errlen);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* Extended capabilities pass through, except Resizable BAR (read-only). */
static int ext_caps_init(struct vfio_shadow *s, char *err, size_t errlen)
{
	struct pci_config *c = &s->cfg;
	unsigned int p = PCI_CFG_SPACE_SIZE, guard = 0;

	if (s->cfg_size <= PCI_CFG_SPACE_SIZE)
		return 0;
	while (p) {
		uint32_t h = pci_get32(c, p);
		unsigned int next = PCI_EXT_CAP_NEXT(h);

		if (!h || h == 0xffffffff)
			return 0;
		if (++guard > 512 || (next && (next < PCI_CFG_SPACE_SIZE ||
					       next > PCI_CFG_SIZE - 4))) {
			snprintf(err, errlen,
				 "extended capability list is broken at 0x%x",
				 p);
			return -EINVAL;
		}
		if (PCI_EXT_CAP_ID(h) == PCI_EXT_CAP_ID_REBAR) {
			unsigned int n = (c->cfg[p + PCI_REBAR_CTRL] &
					  PCI_REBAR_CTRL_NBAR_MASK) >>
					 PCI_REBAR_CTRL_NBAR_SHIFT;

			virt_ro(s, p, 4 + 8 * (n ? n : 1));
		}
		p = next;
	}
	return 0;
}

int vfio_shadow_build(const uint8_t *raw, size_t raw_len,
		      const uint64_t bar_size[6], struct vfio_shadow *out,
		      char *err, size_t errlen)
{
	struct pci_config *c = &out->cfg;
	int r;

	memset(out, 0, sizeof(*out));
	if (raw_len != PCI_STD_CFG_SIZE && raw_len != PCI_CFG_SIZE) {
		snprintf(err, errlen,
			 "config space of %zu bytes (want 256 or "
			 "4096)",
			 raw_len);
		return -EINVAL;
	}
	if ((raw[PCI_HEADER_TYPE] & 0x7f) != PCI_HEADER_TYPE_NORMAL) {
		snprintf(err, errlen,
			 "header type %u: only endpoints (type 0) can be "
			 "passed through",
			 raw[PCI_HEADER_TYPE] & 0x7f);
		return -EINVAL;
	}
	out->cfg_size = (unsigned int)raw_len;
	memcpy(c->cfg, raw, raw_len);
	/* By default every byte is the device's and written through. */
	set_passthru(out, 0, out->cfg_size, true);
	memset(c->wmask, 0xff, out->cfg_size);

	virt_ro(out, PCI_VENDOR_ID, 4);
	virt_ro(out, PCI_CLASS_REVISION, 4);
	virt_ro(out, PCI_HEADER_TYPE, 1);
	c->cfg[PCI_HEADER_TYPE] &= 0x7f; /* alone behind its root port */
	virt_ro(out, PCI_CARDBUS_CIS, 8); /* CIS, subsystem ids */
	virt_ro(out, PCI_ROM_ADDRESS, 4);
	memset(&c->cfg[PCI_ROM_ADDRESS], 0, 4);
	virt_ro(out, PCI_CAPABILITY_LIST + 1, 7); /* reserved */
	virt_ro(out, PCI_INTERRUPT_LINE, 4);
	c->cfg[PCI_INTERRUPT_LINE] = 0;
	c->wmask[PCI_INTERRUPT_LINE] = 0xff;
	out->intx_pin =
		raw[PCI_INTERRUPT_PIN] <= 4 ? raw[PCI_INTERRUPT_PIN] : 0;
	c->cfg[PCI_INTERRUPT_PIN] = 0;
	r = bars_init(out, raw, bar_size, err, errlen);
	if (!r)
		r = caps_init(out, err, errlen);
	if (!r)
		r = ext_caps_init(out, err, errlen);
	return r;
}

void vfio_shadow_dev_req(const struct vfio_shadow *s, const char *name,
			 struct pci_dev_req *out)
{
	const struct pci_config *c = &s->cfg;

	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", name);
	for (unsigned int i = 0; i < 6; i++) {
		unsigned int t = c->bar_type[i];

		if (!c->bar_size[i])
			continue;
		out->bar[i].size = c->bar_size[i];
		if (t & PCI_BAR_MEM64)
			out->bar[i].kind = t & PCI_BAR_PREFETCH
						   ? PCI_BAR_KIND_MEM64_PREF
						   : PCI_BAR_KIND_MEM64;
		else
			out->bar[i].kind = t & PCI_BAR_PREFETCH
						   ? PCI_BAR_KIND_MEM32_PREF
						   : PCI_BAR_KIND_MEM32;
	}
}

/* ---- MSI-X table and PBA ---- */

void vfio_msix_table_access(struct vfio_msix_entry *t, unsigned int n,
			    uint64_t off, uint8_t *data, unsigned int len,
			    bool is_write, int *route_changed,
			    int *mask_changed)
{
	unsigned int v = (unsigned int)(off / 16), word = (off % 16) / 4;
	uint32_t *field, val;

	*route_changed = *mask_changed = -1;
	if (off / 16 >= n || (len != 4 && len != 8) || (off & (len - 1))) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	for (unsigned int i = 0; i < len / 4; i++, word++) {
		struct vfio_msix_entry *e = &t[v];

		field = word == 0   ? &e->addr_lo
			: word == 1 ? &e->addr_hi
			: word == 2 ? &e->data
				    : &e->ctrl;
		if (!is_write) {
			memcpy(data + 4 * i, field, 4);
			continue;
		}
		memcpy(&val, data + 4 * i, 4);
		if (word == 3)
			val &= PCI_MSIX_ENTRY_CTRL_MASKBIT;
		if (*field == val)
			continue;
		*field = val;
		if (word == 3)
			*mask_changed = (int)v;
		else
			*route_changed = (int)v;
	}
}

void vfio_msix_pba_read(const uint64_t *pending, unsigned int n, uint64_t off,
			uint8_t *data, unsigned int len)
{
	uint64_t words = (n + 63u) / 64u;

	for (unsigned int i = 0; i < len; i++) {
		uint64_t b = off + i;

		data[i] = b / 8 < words
				  ? (uint8_t)(pending[b / 8] >> (8 * (b % 8)))
				  : 0;
	}
}

unsigned int vfio_msix_trap_ranges(const struct vfio_msix_info *m,
				   unsigned int bar, uint64_t page,
				   uint64_t start[2], uint64_t end[2])
{
	unsigned int k = 0;

	if (!m->present)
		return 0;
	if (m->table_bar == bar) {
		start[k] = m->table_off & ~(page - 1);
		end[k++] = (m->table_off + 16ull * m->table_size + page - 1) &
			   ~(page - 1);
	}
	if (m->pba_bar == bar) {
		uint64_t s = m->pba_off & ~(page - 1);
		uint64_t e = (m->pba_off + (m->table_size + 63u) / 64u * 8u +
			      page - 1) &
			     ~(page - 1);

		if (k && s <= end[0] && e >= start[0]) {
			start[0] = s < start[0] ? s : start[0];
			end[0] = e > end[0] ? e : end[0];
		} else {
			start[k] = s;
			end[k++] = e;
		}
	}
	if (k == 2 && start[1] < start[0]) {
		uint64_t ts = start[0], te = end[0];

		start[0] = start[1];
		end[0] = end[1];
		start[1] = ts;
		end[1] = te;
	}
	return k;
}
