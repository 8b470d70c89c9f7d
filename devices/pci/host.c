/* host.c: instantiates the planned topology: packed root ports with ACS, test endpoints, ECAM. */
#include "devices/pci/host.h"

#include <errno.h>
#include <linux/pci_regs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/pci/pcie.h"
#include "devices/pci/testdev.h"
#include "vmm/vm.h"

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

static unsigned int bar_flags(enum pci_bar_kind k)
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

static int vm_pci_map(void *opaque, uint64_t addr, uint64_t len,
		      bus_access_fn fn, void *ctx, const char *name)
{
	return vm_mmio_map(opaque, addr, len, fn, ctx, name);
}

static void vm_pci_unmap(void *opaque, uint64_t addr)
{
	vm_mmio_unmap(opaque, addr);
}

static const struct pci_root_ops vm_pci_ops = {vm_pci_map, vm_pci_unmap};

static int pci_host_add_testdev(struct pci_host *h, unsigned int i)
{
	const struct pci_plan_dev *d = &h->plan->dev[i];
	uint64_t size[6] = {0};
	unsigned int flags[6] = {0};
	struct testdev *t;
	int r;

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	h->devs[i] = t;
	for (unsigned int b = 0; b < 6; b++) {
		size[b] = d->bar[b].kind ? d->bar[b].size : 0;
		flags[b] = bar_flags(d->bar[b].kind);
	}
	r = testdev_init(t, d->name, size, flags);
	if (r < 0)
		return r;
	for (unsigned int b = 0; b < 6; b++)
		if (size[b])
			pci_bar_set_addr(&t->fn.cfg, b, d->bar[b].addr);
	pci_set16(&t->fn.cfg, PCI_COMMAND,
		  PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	r = pci_root_add_endpoint(&h->root, &h->ports[d->port], &t->fn);
	if (r < 0)
		return r;
	pthread_mutex_lock(&h->root.lock);
	pci_function_update_bars(&t->fn);
	pthread_mutex_unlock(&h->root.lock);
	return 0;
}

int pci_host_create(struct vm *vm, uint64_t ecam_base, struct pci_host **out)
{
	const struct pci_plan *plan = vm->pci_plan;
	struct pci_host *h = calloc(1, sizeof(*h));
	int r;

	if (!h)
		return -ENOMEM;
	*out = h;
	h->plan = plan;
	h->ecam_base = ecam_base;
	pci_root_init(&h->root, &vm->log, plan->bus_first, plan->bus_last,
		      ecam_base, &vm_pci_ops, vm);
	h->ports = calloc(plan->nports ? plan->nports : 1, sizeof(*h->ports));
	h->devs = calloc(plan->ndevs ? plan->ndevs : 1, sizeof(*h->devs));
	if (!h->ports || !h->devs)
		return -ENOMEM;
	for (unsigned int i = 0; i < plan->nports; i++) {
		const struct pci_plan_port *p = &plan->port[i];

		r = pci_root_port_init(&h->ports[i], plan, i);
		if (!r)
			r = pci_root_add_port(
				&h->root, &h->ports[i],
				(uint8_t)(p->device << 3 | p->function));
		if (r < 0) {
			log_err(&vm->log, "pci", "root port %u: %s", i,
				strerror(-r));
			return r;
		}
	}
	for (unsigned int i = 0; i < plan->ndevs; i++) {
		r = pci_host_add_testdev(h, i);
		if (r < 0) {
			log_err(&vm->log, "pci", "%s: %s", plan->dev[i].name,
				strerror(-r));
			return r;
		}
	}
	r = vm_mmio_map(vm, ecam_base, h->root.ecam_size, pci_ecam_access,
			&h->root, "ecam");
	if (r < 0)
		log_err(&vm->log, "pci", "ECAM at 0x%llx: %s",
			(unsigned long long)ecam_base, strerror(-r));
	return r;
}

void pci_host_destroy(struct pci_host *h)
{
	if (!h)
		return;
	for (unsigned int i = 0; h->devs && i < h->plan->ndevs; i++) {
		if (h->devs[i]) {
			testdev_destroy(h->devs[i]);
			free(h->devs[i]);
		}
	}
	free(h->devs);
	free(h->ports);
	pci_root_destroy(&h->root);
	free(h);
}
