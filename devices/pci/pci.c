/* pci.c: ECAM config access, routing through root ports by bus number, BAR (un)mapping. */
#include "devices/pci/pci.h"

#include <errno.h>
#include <linux/pci_regs.h>
#include <stdlib.h>
#include <string.h>

void pci_root_init(struct pci_root *r, const struct logger *lg,
		   unsigned int bus_first, unsigned int bus_last,
		   uint64_t ecam_base, const struct pci_root_ops *ops,
		   void *ops_opaque)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	r->log = lg;
	r->bus_first = bus_first;
	r->bus_last = bus_last;
	r->ecam_base = ecam_base;
	r->ecam_size = (uint64_t)(bus_last - bus_first + 1) << 20;
	r->ops = ops;
	r->ops_opaque = ops_opaque;
}

void pci_root_destroy(struct pci_root *r)
{
	free(r->ports);
	pthread_mutex_destroy(&r->lock);
}

int pci_root_add_port(struct pci_root *r, struct pci_function *port,
		      uint8_t devfn)
{
	struct pci_function **n;

	if (r->bus0[devfn])
		return -EEXIST;
	n = realloc(r->ports, (r->nports + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	r->ports = n;
	r->ports[r->nports++] = port;
	r->bus0[devfn] = port;
	port->root = r;
	port->is_root_port = true;
	port->devfn = devfn;
	return 0;
}

int pci_root_add_endpoint(struct pci_root *r, struct pci_function *port,
			  struct pci_function *ep)
{
	if (port->child)
		return -EEXIST;
	port->child = ep;
	ep->parent = port;
	ep->root = r;
	ep->devfn = 0;
	return 0;
}

uint16_t pci_function_requester_id(const struct pci_function *f)
{
	/*
	 * Read without the root's lock: callers update MSI routes from
	 * config and BAR accesses that may hold it, and the byte only
	 * changes while the guest enumerates, before it enables MSI.
	 */
	unsigned int bus = f->parent ? f->parent->cfg.cfg[PCI_SECONDARY_BUS]
				     : f->root->bus_first;

	return (uint16_t)(bus << 8 | f->devfn);
}

struct pci_function *pci_root_lookup(struct pci_root *r, unsigned int bus,
				     uint8_t devfn)
{
	if (bus == r->bus_first)
		return r->bus0[devfn];
	/*
	 * A downstream port forwards type 0 accesses to device 0 only, and
	 * every endpoint here is a single function (0).
	 */
	if (devfn)
		return NULL;
	for (unsigned int i = 0; i < r->nports; i++) {
		struct pci_function *p = r->ports[i];
		unsigned int sec = p->cfg.cfg[PCI_SECONDARY_BUS];

		if (p->child && sec == bus && sec != 0)
			return p->child;
	}
	return NULL;
}

static void pci_bar_bus_access(void *opaque, uint64_t offset, uint8_t *data,
			       unsigned int len, bool is_write)
{
	struct pci_bar_ctx *ctx = opaque;

	ctx->f->bar_access(ctx->f, ctx->bar, offset, data, len, is_write);
}

/* The address BAR i decodes at now, or 0 (not decoded). */
static uint64_t bar_decode_addr(const struct pci_function *f, unsigned int i)
{
	uint64_t size = f->cfg.bar_size[i], addr;

	if (!size || (f->cfg.bar_type[i] & PCI_BAR_IO) || !f->bar_access ||
	    !pci_mem_enabled(&f->cfg))
		return 0;
	addr = pci_bar_addr(&f->cfg, i);
	/* Unassigned, or mid-sizing (all ones): not decoded. */
	return addr + size < addr ? 0 : addr;
}

static bool map_bar(struct pci_function *f, unsigned int i, uint64_t addr)
{
	struct pci_root *r = f->root;

	f->bar_ctx[i] = (struct pci_bar_ctx){f, i};
	if (r->ops->map(r->ops_opaque, addr, f->cfg.bar_size[i],
			pci_bar_bus_access, &f->bar_ctx[i], f->name) < 0)
		return false;
	f->mapped[i] = addr;
	return true;
}

/*
 * Map the BARs of `f` that decode but were refused because another range
 * was in the way; some range just went away. Caller holds r->lock.
 */
static void retry_bars(struct pci_function *f)
{
	bool changed = false;

	for (unsigned int i = 0; i < 6; i++) {
		uint64_t addr = bar_decode_addr(f, i);

		if (addr && !f->mapped[i] && map_bar(f, i, addr))
			changed = true;
	}
	if (changed && f->bars_changed)
		f->bars_changed(f);
}

void pci_function_update_bars(struct pci_function *f)
{
	struct pci_root *r = f->root;
	bool changed = false, freed = false;

	for (unsigned int i = 0; i < 6; i++) {
		uint64_t addr = bar_decode_addr(f, i);

		if (addr == f->mapped[i])
			continue;
		changed = true;
		if (f->mapped[i]) {
			r->ops->unmap(r->ops_opaque, f->mapped[i]);
			f->mapped[i] = 0;
			freed = true;
		}
		if (addr && !map_bar(f, i, addr) && ratelimit_ok(&r->rl, 10))
			log_warn(r->log, f->name,
				 "BAR%u at 0x%llx (0x%llx bytes) overlaps "
				 "another region; not decoding it until that "
				 "moves",
				 i, (unsigned long long)addr,
				 (unsigned long long)f->cfg.bar_size[i]);
	}
	if (changed && f->bars_changed)
		f->bars_changed(f);
	/*
	 * A guest that swaps two BARs overlaps them for a moment: the one
	 * refused then must decode once the other has moved away.
	 */
	if (!freed)
		return;
	for (unsigned int p = 0; p < r->nports; p++) {
		retry_bars(r->ports[p]);
		if (r->ports[p]->child)
			retry_bars(r->ports[p]->child);
	}
}

/* Does a config write at [off, off+len) touch the BARs or command? */
static bool touches_decode(const struct pci_function *f, unsigned int off,
			   unsigned int len)
{
	unsigned int end = off + len;
	unsigned int bar_end =
		f->is_root_port ? PCI_BASE_ADDRESS_2 : PCI_BASE_ADDRESS_5 + 4;

	return (off < PCI_COMMAND + 2 && end > PCI_COMMAND) ||
	       (off < bar_end && end > PCI_BASE_ADDRESS_0);
}

/* One config access to bus/devfn/reg, already decoded. */
static void pci_config_access(struct pci_root *r, unsigned int bus,
			      uint8_t devfn, unsigned int reg, uint8_t *data,
			      unsigned int len, bool is_write)
{
	struct pci_function *f;
	uint32_t v = 0;

	/* Config accesses are 1, 2 or 4 bytes and naturally aligned. */
	if ((len != 1 && len != 2 && len != 4) || (reg & (len - 1))) {
		if (!is_write)
			memset(data, 0xff, len);
		if (ratelimit_ok(&r->rl, 10))
			log_debug(r->log, "pci",
				  "ignoring %u-byte config access at "
				  "%02x:%02x.%u+0x%x",
				  len, bus, devfn >> 3, devfn & 7, reg);
		return;
	}
	pthread_mutex_lock(&r->lock);
	f = pci_root_lookup(r, bus, devfn);
	if (!is_write) {
		if (f && f->config_read_hook)
			f->config_read_hook(f, reg, len);
		v = f ? pci_config_read(&f->cfg, reg, len) : 0xffffffffu;
		memcpy(data, &v, len);
	} else if (f) {
		memcpy(&v, data, len);
		pci_config_write(&f->cfg, reg, v, len);
		if (touches_decode(f, reg, len))
			pci_function_update_bars(f);
		if (f->config_written)
			f->config_written(f, reg, len);
	}
	pthread_mutex_unlock(&r->lock);
}

void pci_ecam_access(void *opaque, uint64_t offset, uint8_t *data,
		     unsigned int len, bool is_write)
{
	struct pci_root *r = opaque;

	pci_config_access(r, r->bus_first + (unsigned int)(offset >> 20),
			  (uint8_t)(offset >> 12),
			  (unsigned int)(offset & 0xfff), data, len, is_write);
}

void pci_conf1_data(struct pci_root *r, uint32_t addr, unsigned int offset,
		    uint8_t *data, unsigned int len, bool is_write)
{
	unsigned int bus = (addr >> 16) & 0xff;

	/* Disabled, or a bus outside the root complex: master abort. */
	if (!(addr & 0x80000000u) || bus < r->bus_first || bus > r->bus_last) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pci_config_access(r, bus, (uint8_t)(addr >> 8),
			  (addr & 0xfc) + (offset & 3), data, len, is_write);
}
