/* host.c: instantiates the planned topology: packed root ports with ACS, test endpoints, ECAM. */
#include "devices/pci/host.h"

#include <errno.h>
#include <linux/pci_regs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/pci/pcie.h"
#include "devices/pci/testdev.h"
#include "devices/machine.h"

static void set_mem_window(struct pci_config *c, uint64_t base, uint64_t size)
{
	if (!size) { /* base above limit: window closed */
		pci_set16(c, PCI_MEMORY_BASE, 0xfff0);
		pci_set16(c, PCI_MEMORY_LIMIT, 0x0000);
		return;
	}
	pci_set16(c, PCI_MEMORY_BASE, (uint16_t)((base >> 16) & 0xfff0));
	pci_set16(c, PCI_MEMORY_LIMIT,
		  (uint16_t)(((base + size - 1) >> 16) & 0xfff0));
}

static void set_pref_window(struct pci_config *c, uint64_t base, uint64_t size)
{
	uint64_t limit = base + size - 1;

	if (!size) {
		pci_set16(c, PCI_PREF_MEMORY_BASE,
			  0xfff0 | PCI_PREF_RANGE_TYPE_64);
		pci_set16(c, PCI_PREF_MEMORY_LIMIT, PCI_PREF_RANGE_TYPE_64);
		pci_set32(c, PCI_PREF_BASE_UPPER32, 0);
		pci_set32(c, PCI_PREF_LIMIT_UPPER32, 0);
		return;
	}
	pci_set16(c, PCI_PREF_MEMORY_BASE,
		  (uint16_t)(((base >> 16) & 0xfff0) | PCI_PREF_RANGE_TYPE_64));
	pci_set16(
		c, PCI_PREF_MEMORY_LIMIT,
		(uint16_t)(((limit >> 16) & 0xfff0) | PCI_PREF_RANGE_TYPE_64));
	pci_set32(c, PCI_PREF_BASE_UPPER32, (uint32_t)(base >> 32));
	pci_set32(c, PCI_PREF_LIMIT_UPPER32, (uint32_t)(limit >> 32));
}

int pci_root_port_init(struct pci_function *f, const struct pci_plan *plan,
		       unsigned int index)
{
	const struct pci_plan_port *p = &plan->port[index];
	struct pci_config *c = &f->cfg;
	int r;

	memset(f, 0, sizeof(*f));
	pci_config_init(c, PCI_ROOT_PORT_VENDOR, PCI_ROOT_PORT_DEVICE, 0x060400,
			0, true);
	snprintf(f->name, sizeof(f->name), "rp%u", index);
	if (p->multifunction)
		c->cfg[PCI_HEADER_TYPE] |= 0x80;
	r = pcie_cap_init_root_port(c, (uint8_t)index, (uint16_t)(index + 1));
	if (r < 0)
		return r;
	if (p->acs) {
		r = pcie_acs_init(c, p->acs_mask);
		if (r < 0)
			return r;
	}
	c->cfg[PCI_PRIMARY_BUS] = (uint8_t)plan->bus_first;
	if (p->secondary_bus >= 0) {
		c->cfg[PCI_SECONDARY_BUS] = (uint8_t)p->secondary_bus;
		c->cfg[PCI_SUBORDINATE_BUS] = (uint8_t)p->secondary_bus;
	}
	/* No I/O window: read-only, base above limit (closed). */
	c->cfg[PCI_IO_BASE] = 0xf0;
	c->cfg[PCI_IO_LIMIT] = 0x00;
	set_mem_window(c, p->mem_base, p->mem_size);
	set_pref_window(c, p->pref_base, p->pref_size);
	pcie_root_port_set_present(c, p->dev_index >= 0);
	pci_set16(c, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	f->port_index = index;
	return 0;
}

unsigned int pci_bar_kind_flags(enum pci_bar_kind k)
{
	switch (k) {
	case PCI_BAR_KIND_MEM32_PREF:
		return PCI_BAR_PREFETCH;
	case PCI_BAR_KIND_MEM64:
		return PCI_BAR_MEM64;
	case PCI_BAR_KIND_MEM64_PREF:
		return PCI_BAR_MEM64 | PCI_BAR_PREFETCH;
	default:
		return 0;
	}
}

static int machine_pci_map(void *opaque, uint64_t addr, uint64_t len,
			   bus_access_fn fn, void *ctx, const char *name)
{
	struct machine *m = opaque;

	return m->ops->mmio_map(m, addr, len, fn, ctx, name);
}

static void machine_pci_unmap(void *opaque, uint64_t addr)
{
	struct machine *m = opaque;

	m->ops->mmio_unmap(m, addr);
}

static const struct pci_root_ops machine_pci_ops = {machine_pci_map,
						    machine_pci_unmap};

int pci_host_add_device(struct pci_dev_list *l, const struct pci_dev_req *req,
			pci_dev_create_fn create, pci_dev_destroy_fn destroy,
			void *priv)
{
	struct pci_dev_slot *n;

	if (l->n >= PCI_PLAN_MAX_PORTS)
		return -E2BIG;
	n = realloc(l->slot, (l->n + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	l->slot = n;
	n[l->n++] = (struct pci_dev_slot){*req, create, destroy, priv, NULL};
	return 0;
}

void pci_host_free_devices(struct pci_dev_list *l)
{
	for (unsigned int i = 0; i < l->n; i++)
		if (l->slot[i].destroy)
			l->slot[i].destroy(&l->slot[i]);
	free(l->slot);
	l->slot = NULL;
	l->n = 0;
}

static int testdev_create(struct machine *m, struct pci_dev_slot *slot,
			  const struct pci_plan_dev *pd)
{
	struct testdev *t = calloc(1, sizeof(*t));
	uint64_t size[6] = {0};

	(void)m;
	unsigned int flags[6] = {0};
	int r;

	if (!t)
		return -ENOMEM;
	slot->priv = t;
	for (unsigned int b = 0; b < 6; b++) {
		size[b] = pd->bar[b].kind ? pd->bar[b].size : 0;
		flags[b] = pci_bar_kind_flags(pd->bar[b].kind);
	}
	r = testdev_init(t, pd->name, size, flags);
	slot->fn = &t->fn;
	return r;
}

static void testdev_free(struct pci_dev_slot *slot)
{
	struct testdev *t = slot->priv;

	if (!t)
		return;
	testdev_destroy(t);
	free(t);
	slot->priv = NULL;
}

int pci_host_add_testdevs(struct machine *m, char *const *specs, unsigned int n)
{
	struct pci_dev_req req;
	char err[256];
	int r;

	for (unsigned int i = 0; i < n; i++) {
		r = pci_testdev_parse(specs[i], i, &req, err, sizeof(err));
		if (r < 0) {
			log_err(m->log, "pci", "--pci-testdev %s: %s", specs[i],
				err);
			return -EINVAL;
		}
		r = m->ops->pci_add(m, &req, testdev_create, testdev_free,
				    NULL);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Create device `i`, program its BARs from the plan, attach it. */
static int pci_host_realize(struct machine *m, struct pci_host *h,
			    unsigned int i)
{
	const struct pci_plan_dev *d = &h->plan->dev[i];
	struct pci_dev_slot *slot = &h->devs->slot[i];
	struct pci_function *fn;
	int r;

	r = slot->create(m, slot, d);
	if (r < 0)
		return r;
	fn = slot->fn;
	for (unsigned int b = 0; b < 6; b++)
		if (d->bar[b].kind && fn->cfg.bar_size[b])
			pci_bar_set_addr(&fn->cfg, b, d->bar[b].addr);
	pci_set16(&fn->cfg, PCI_COMMAND,
		  PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	r = pci_root_add_endpoint(&h->root, &h->ports[d->port], fn);
	if (r < 0)
		return r;
	pthread_mutex_lock(&h->root.lock);
	pci_function_update_bars(fn);
	pthread_mutex_unlock(&h->root.lock);
	return 0;
}

int pci_host_create(struct machine *m, const struct pci_plan *plan,
		    struct pci_dev_list *devs, uint64_t ecam_base,
		    struct pci_host **out)
{
	struct pci_host *h;
	int r;

	if (plan->ndevs > devs->n)
		return -EINVAL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	*out = h;
	h->plan = plan;
	h->devs = devs;
	h->ecam_base = ecam_base;
	pci_root_init(&h->root, m->log, plan->bus_first, plan->bus_last,
		      ecam_base, &machine_pci_ops, m);
	h->ports = calloc(plan->nports ? plan->nports : 1, sizeof(*h->ports));
	if (!h->ports)
		return -ENOMEM;
	for (unsigned int i = 0; i < plan->nports; i++) {
		const struct pci_plan_port *p = &plan->port[i];

		r = pci_root_port_init(&h->ports[i], plan, i);
		if (!r)
			r = pci_root_add_port(
				&h->root, &h->ports[i],
				(uint8_t)(p->device << 3 | p->function));
		if (r < 0) {
			log_err(m->log, "pci", "root port %u: %s", i,
				strerror(-r));
			return r;
		}
	}
	for (unsigned int i = 0; i < plan->ndevs; i++) {
		r = pci_host_realize(m, h, i);
		if (r < 0) {
			log_err(m->log, "pci", "%s: %s", plan->dev[i].name,
				strerror(-r));
			return r;
		}
	}
	r = m->ops->mmio_map(m, ecam_base, h->root.ecam_size, pci_ecam_access,
			     &h->root, "ecam");
	if (r < 0)
		log_err(m->log, "pci", "ECAM at 0x%llx: %s",
			(unsigned long long)ecam_base, strerror(-r));
	return r;
}

void pci_host_destroy(struct pci_host *h)
{
	if (!h)
		return;
	free(h->ports);
	pci_root_destroy(&h->root);
	free(h);
}
