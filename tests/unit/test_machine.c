/* test_machine.c: L0 tests that device models need nothing but devices/machine.h: the board devices and a whole root complex on a fake machine. */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/pci_regs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/acpi_pm.h"
#include "devices/boot_timer.h"
#include "devices/machine.h"
#include "devices/pci/host.h"
#include "devices/pci/plan.h"
#include "devices/pvpanic.h"

/* A machine with no hypervisor behind it: buses in memory, a record of calls. */
struct fake {
	struct machine m;
	struct logger log;
	struct bus mmio, pio;
	struct pci_dev_list devs;
	int ends;
	enum microvm_exit_reason reason;
	char message[256];
	int markers;
	uint32_t marker;
	char marker_source[32];
};

static struct fake *to_fake(struct machine *m)
{
	return (struct fake *)m; /* m is the first member */
}

static int f_mmio_map(struct machine *m, uint64_t addr, uint64_t len,
		      bus_access_fn fn, void *opaque, const char *name)
{
	return bus_insert(&to_fake(m)->mmio, addr, len, fn, opaque, name);
}

static void f_mmio_unmap(struct machine *m, uint64_t addr)
{
	(void)bus_remove(&to_fake(m)->mmio, addr);
}

static int f_pio_map(struct machine *m, uint64_t port, uint64_t len,
		     bus_access_fn fn, void *opaque, const char *name)
{
	return bus_insert(&to_fake(m)->pio, port, len, fn, opaque, name);
}

static void f_end(struct machine *m, enum microvm_exit_reason reason,
		  int error, const char *message)
{
	struct fake *f = to_fake(m);

	if (!f->ends++) {
		f->reason = reason;
		snprintf(f->message, sizeof(f->message), "%s", message);
	}
}

static void f_boot_marker(struct machine *m, uint32_t value,
			  const char *source)
{
	struct fake *f = to_fake(m);

	f->markers++;
	f->marker = value;
	snprintf(f->marker_source, sizeof(f->marker_source), "%s", source);
}

static int f_pci_add(struct machine *m, const struct pci_dev_req *req,
		     pci_dev_create_fn create, pci_dev_destroy_fn destroy,
		     void *priv)
{
	return pci_host_add_device(&to_fake(m)->devs, req, create, destroy,
				   priv);
}

/* Only what these devices use: a model calling anything else crashes here. */
static const struct machine_ops fake_ops = {
	.mmio_map = f_mmio_map,
	.mmio_unmap = f_mmio_unmap,
	.pio_map = f_pio_map,
	.end = f_end,
	.boot_marker = f_boot_marker,
	.pci_add = f_pci_add,
};

static void fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	f->log = (struct logger){NULL, NULL, MICROVM_LOG_ERROR};
	f->m = (struct machine){.ops = &fake_ops, .log = &f->log, .cpus = 1};
	bus_init(&f->mmio);
	bus_init(&f->pio);
}

static void fake_fini(struct fake *f)
{
	pci_host_free_devices(&f->devs);
	bus_free(&f->mmio);
	bus_free(&f->pio);
}

static void wr8(const struct bus *b, uint64_t addr, uint8_t v)
{
	cr_assert(bus_access(b, addr, &v, 1, true), "nothing at 0x%llx",
		  (unsigned long long)addr);
}

static uint32_t rd(const struct bus *b, uint64_t addr, unsigned int len)
{
	uint32_t v = 0;

	cr_assert(bus_access(b, addr, (uint8_t *)&v, len, false),
		  "nothing at 0x%llx", (unsigned long long)addr);
	return v;
}

Test(machine, board_devices_end_the_vm_through_the_interface)
{
	static const struct {
		bus_access_fn fn;
		uint8_t value;
		enum microvm_exit_reason reason;
		const char *words;
	} cases[] = {
		{pvpanic_access, 1, MICROVM_EXIT_PANIC, "panicked"},
		{acpi_pm_sleep_access, ACPI_PM_SLP_EN | ACPI_PM_SLP_TYP_S5 << 2,
		 MICROVM_EXIT_POWEROFF, "S5"},
		{acpi_pm_reset_access, 0x06, MICROVM_EXIT_REBOOT,
		 "reset register"},
		{i8042_access, 0xfe, MICROVM_EXIT_REBOOT, "i8042"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fake f;

		fake_init(&f);
		cr_assert_eq(f.m.ops->pio_map(&f.m, 0x500, 1, cases[i].fn,
					      &f.m, "dev"),
			     0);
		wr8(&f.pio, 0x500, cases[i].value);
		cr_expect_eq(f.ends, 1, "case %zu", i);
		cr_expect_eq(f.reason, cases[i].reason, "case %zu", i);
		cr_expect(strstr(f.message, cases[i].words), "case %zu: '%s'",
			  i, f.message);
		fake_fini(&f);
	}
}

Test(machine, harmless_writes_do_not_end_the_vm)
{
	struct fake f;

	fake_init(&f);
	cr_assert_eq(f.m.ops->pio_map(&f.m, 0x505, 1, pvpanic_access, &f.m,
				      "pvpanic"),
		     0);
	cr_assert_eq(f.m.ops->pio_map(&f.m, 0x600, 2, acpi_pm_sleep_access,
				      &f.m, "acpi"),
		     0);
	/* pvpanic reads back its capabilities; a crash-loaded event only logs. */
	cr_expect_eq(rd(&f.pio, 0x505, 1), 3);
	wr8(&f.pio, 0x505, 2);
	/* Sleep type S3 with SLP_EN is refused, not a power-off. */
	wr8(&f.pio, 0x600, ACPI_PM_SLP_EN | 3 << 2);
	cr_expect_eq(f.ends, 0, "ended: %s", f.message);
	fake_fini(&f);
}

Test(machine, boot_timer_reports_markers)
{
	struct fake f;
	uint32_t v = 0xb007;

	fake_init(&f);
	cr_assert_eq(f.m.ops->mmio_map(&f.m, 0x1000, 4096,
				       boot_timer_mmio_access, &f.m, "bt"),
		     0);
	cr_assert_eq(f.m.ops->pio_map(&f.m, 0x80, 1, boot_timer_port_access,
				      &f.m, "port80"),
		     0);
	cr_assert(bus_access(&f.mmio, 0x1000, (uint8_t *)&v, 4, true));
	cr_expect_eq(f.markers, 1);
	cr_expect_eq(f.marker, 0xb007);
	cr_expect_str_eq(f.marker_source, "mmio");
	/* Only offset 0 is the register. */
	cr_assert(bus_access(&f.mmio, 0x1004, (uint8_t *)&v, 4, true));
	cr_expect_eq(f.markers, 1);
	wr8(&f.pio, 0x80, 0x42);
	cr_expect_eq(f.markers, 2);
	cr_expect_eq(f.marker, 0x42);
	cr_expect_str_eq(f.marker_source, "port 0x80");
	fake_fini(&f);
}

Test(machine, machine_end_formats_the_message)
{
	struct fake f;

	fake_init(&f);
	machine_end(&f.m, MICROVM_EXIT_ERROR, -EIO, "disk %s gone after %d s",
		    "vda", 5);
	cr_expect_eq(f.reason, MICROVM_EXIT_ERROR);
	cr_expect_str_eq(f.message, "disk vda gone after 5 s");
	fake_fini(&f);
}

/* A root complex with two test endpoints, built on the fake machine alone. */
Test(machine, root_complex_on_a_fake_machine)
{
	static char spec0[] = "bar0=1M:32";
	static char spec1[] = "bar0=64K:32,bar2=2G:64pref";
	char *const specs[] = {spec0, spec1};
	const uint64_t ecam = 0xe0000000;
	struct pci_dev_req reqs[2];
	struct pci_plan_input in;
	struct pci_plan *plan = calloc(1, sizeof(*plan));
	struct pci_host *h = NULL;
	struct fake f;
	char err[256];

	cr_assert(plan);
	fake_init(&f);
	cr_assert_eq(pci_host_add_testdevs(&f.m, specs, 2), 0);
	cr_assert_eq(f.devs.n, 2);
	for (unsigned int i = 0; i < 2; i++)
		reqs[i] = f.devs.slot[i].req;
	pci_plan_input_init(&in);
	in.devs = reqs;
	in.ndevs = 2;
	in.bus_last = 8;
	in.phys_bits = 46;
	cr_assert_eq(pci_plan_build(&in, plan, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(pci_host_create(&f.m, plan, &f.devs, ecam, &h), 0);

	/* The packed root ports answer on bus 0 through the ECAM the fake mapped. */
	for (unsigned int p = 0; p < plan->nports; p++) {
		uint64_t fn = ecam + ((uint64_t)(plan->port[p].device << 3 |
						 plan->port[p].function)
				      << 12);

		cr_expect_eq(rd(&f.mmio, fn, 2), PCI_ROOT_PORT_VENDOR);
		cr_expect_eq(rd(&f.mmio, fn + 2, 2), PCI_ROOT_PORT_DEVICE);
	}
	/* Each endpoint is below its port, and its BARs decode where planned. */
	for (unsigned int d = 0; d < plan->ndevs; d++) {
		const struct pci_plan_dev *pd = &plan->dev[d];
		uint64_t cfg = ecam + ((uint64_t)pd->bus << 20);

		cr_expect_neq(rd(&f.mmio, cfg, 2), 0xffff, "dev %u", d);
		for (unsigned int b = 0; b < PCI_PLAN_MAX_BARS; b++) {
			const struct bus_range *r;

			if (!pd->bar[b].kind)
				continue;
			r = bus_find(&f.mmio, pd->bar[b].addr);
			cr_expect(r && r->base == pd->bar[b].addr &&
					  r->len == pd->bar[b].size,
				  "dev %u BAR%u at 0x%llx", d, b,
				  (unsigned long long)pd->bar[b].addr);
		}
	}
	pci_host_destroy(h);
	fake_fini(&f);
	free(plan);
}

Test(machine, a_bad_testdev_spec_is_refused_before_any_device)
{
	static char bad[] = "bar0=3M:32";
	char *const specs[] = {bad};
	struct fake f;

	fake_init(&f);
	cr_expect_eq(pci_host_add_testdevs(&f.m, specs, 1), -EINVAL);
	cr_expect_eq(f.devs.n, 0);
	fake_fini(&f);
}

static void wr32(const struct bus *b, uint64_t addr, uint32_t v)
{
	cr_assert(bus_access(b, addr, (uint8_t *)&v, 4, true),
		  "nothing at 0x%llx", (unsigned long long)addr);
}

/* A guest swapping two BARs overlaps them for a moment (found by fuzz_pci_config). */
Test(machine, a_bar_refused_for_an_overlap_decodes_once_the_other_moves)
{
	static char spec0[] = "bar0=1M:32";
	static char spec1[] = "bar0=1M:32";
	char *const specs[] = {spec0, spec1};
	const uint64_t ecam = 0xe0000000;
	struct pci_dev_req reqs[2];
	struct pci_plan_input in;
	struct pci_plan *plan = calloc(1, sizeof(*plan));
	struct pci_host *h = NULL;
	uint64_t cfg0, cfg1, a0, a1;
	struct fake f;
	char err[256];

	cr_assert(plan);
	fake_init(&f);
	cr_assert_eq(pci_host_add_testdevs(&f.m, specs, 2), 0);
	for (unsigned int i = 0; i < 2; i++)
		reqs[i] = f.devs.slot[i].req;
	pci_plan_input_init(&in);
	in.devs = reqs;
	in.ndevs = 2;
	cr_assert_eq(pci_plan_build(&in, plan, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(pci_host_create(&f.m, plan, &f.devs, ecam, &h), 0);
	cfg0 = ecam + ((uint64_t)plan->dev[0].bus << 20);
	cfg1 = ecam + ((uint64_t)plan->dev[1].bus << 20);
	a0 = plan->dev[0].bar[0].addr;
	a1 = plan->dev[1].bar[0].addr;

	/* dev1's BAR0 onto dev0's: refused, dev0 keeps decoding there. */
	wr32(&f.mmio, cfg1 + PCI_BASE_ADDRESS_0, (uint32_t)a0);
	cr_expect_eq(bus_find(&f.mmio, a0)->opaque,
		     &f.devs.slot[0].fn->bar_ctx[0]);
	cr_expect_null(bus_find(&f.mmio, a1));
	/* dev0 moves to dev1's old place: now both decode. */
	wr32(&f.mmio, cfg0 + PCI_BASE_ADDRESS_0, (uint32_t)a1);
	cr_assert_not_null(bus_find(&f.mmio, a0));
	cr_expect_eq(bus_find(&f.mmio, a0)->opaque,
		     &f.devs.slot[1].fn->bar_ctx[0]);
	cr_assert_not_null(bus_find(&f.mmio, a1));
	cr_expect_eq(bus_find(&f.mmio, a1)->opaque,
		     &f.devs.slot[0].fn->bar_ctx[0]);
	pci_host_destroy(h);
	fake_fini(&f);
	free(plan);
}
