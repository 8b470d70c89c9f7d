/* fake_machine.c: a machine with no hypervisor for the fuzz targets (as tests/unit/test_machine.c's): buses in memory, the rest faked. */
#include "tests/fuzz/fake_machine.h"

#include <string.h>

#include "tests/fuzz/fuzz.h"

static struct fake_machine *to_fake(struct machine *m)
{
	return (struct fake_machine *)m;
}

static int f_mmio_map(struct machine *m, uint64_t addr, uint64_t len,
		      bus_access_fn fn, void *opaque, const char *name)
{
	return bus_insert(&to_fake(m)->mmio, addr, len, fn, opaque, name);
}

static void f_mmio_unmap(struct machine *m, uint64_t addr)
{
	/* Only what was mapped is ever unmapped. */
	FZ_CHECK(bus_remove(&to_fake(m)->mmio, addr) == 0);
}

static int f_pio_map(struct machine *m, uint64_t port, uint64_t len,
		     bus_access_fn fn, void *opaque, const char *name)
{
	return bus_insert(&to_fake(m)->pio, port, len, fn, opaque, name);
}

static int f_msi_alloc(struct machine *m, unsigned int *gsi)
{
	*gsi = 24 + to_fake(m)->next_gsi++;
	return 0;
}

static int f_msi_route(struct machine *m, unsigned int gsi, uint64_t addr,
		       uint32_t data, uint32_t devid)
{
	FZ_CHECK(gsi >= 24 && gsi < 24 + to_fake(m)->next_gsi);
	to_fake(m)->msi_routes++;
	return 0;
}

static int f_irqfd(struct machine *m, int efd, int resample_fd,
		   unsigned int gsi, bool assign)
{
	struct fake_machine *f = to_fake(m);

	FZ_CHECK(efd >= 0);
	if (assign) {
		f->irqfds++;
	} else {
		FZ_CHECK(f->irqfds > 0);
		f->irqfds--;
	}
	return 0;
}

static int f_ioeventfd(struct machine *m, uint64_t addr, unsigned int len,
		       int efd, bool assign)
{
	struct fake_machine *f = to_fake(m);

	FZ_CHECK(efd >= 0 && addr);
	if (assign) {
		f->ioeventfds++;
	} else {
		FZ_CHECK(f->ioeventfds > 0);
		f->ioeventfds--;
	}
	return 0;
}

static void f_end(struct machine *m, enum microvm_exit_reason reason, int error,
		  const char *message)
{
	to_fake(m)->ends++;
}

static int f_pci_add(struct machine *m, const struct pci_dev_req *req,
		     pci_dev_create_fn create, pci_dev_destroy_fn destroy,
		     void *priv)
{
	return pci_host_add_device(&to_fake(m)->devs, req, create, destroy,
				   priv);
}

static bool f_stopping(struct machine *m)
{
	return false;
}

static const struct machine_ops fake_ops = {
	.mmio_map = f_mmio_map,
	.mmio_unmap = f_mmio_unmap,
	.pio_map = f_pio_map,
	.msi_alloc = f_msi_alloc,
	.msi_route = f_msi_route,
	.irqfd = f_irqfd,
	.ioeventfd = f_ioeventfd,
	.stopping = f_stopping,
	.end = f_end,
	.pci_add = f_pci_add,
};

void fake_machine_init(struct fake_machine *f)
{
	memset(f, 0, sizeof(*f));
	/* Errors only: a guest's garbage is logged at warn, rate-limited. */
	f->log = (struct logger){NULL, NULL, MICROVM_LOG_ERROR};
	f->m = (struct machine){.ops = &fake_ops, .log = &f->log, .cpus = 1};
	bus_init(&f->mmio);
	bus_init(&f->pio);
}

void fake_machine_fini(struct fake_machine *f)
{
	pci_host_free_devices(&f->devs);
	bus_free(&f->mmio);
	bus_free(&f->pio);
}

void fake_machine_check_bus(const struct bus *b)
{
	for (size_t i = 0; i < b->count; i++) {
		const struct bus_range *r = &b->ranges[i];

		FZ_CHECK(r->len && r->base + r->len - 1 >= r->base);
		if (i)
			FZ_CHECK(b->ranges[i - 1].base + b->ranges[i - 1].len <=
				 r->base);
	}
}
