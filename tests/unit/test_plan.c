/* test_plan.c: L0 tests of the PCIe planner: packing, buses, BARs, windows, output. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "devices/pci/plan.h"
#include "devices/pci/plan_format.h"

#define TP_MiB (1ull << 20)
#define TP_GiB (1ull << 30)
#define TP_TiB (1ull << 40)

static const char tp_gpu[] = "bar0=16M:32,bar1=128G:64pref,bar3=32M:64pref";
static const char tp_nvswitch[] = "bar0=32M:32";

/* Fill d[0..n) from specs (NULL-terminated list, reused cyclically). */
static void tp_parse_all(struct pci_dev_req *d, unsigned int n,
			 const char *const *specs)
{
	char err[256];
	unsigned int i, nspecs = 0;

	while (specs[nspecs])
		nspecs++;
	for (i = 0; i < n; i++)
		cr_assert_eq(pci_testdev_parse(specs[i % nspecs], i, &d[i], err,
					       sizeof(err)),
			     0, "%s", err);
}

/* The field report: 8 GPU-like then 6 NVSwitch-like testdevs. */
static void tp_scenario(struct pci_dev_req d[14])
{
	static const char *const gpu[] = {tp_gpu, NULL};
	static const char *const nvs[] = {tp_nvswitch, NULL};
	char err[256];
	unsigned int i;

	tp_parse_all(d, 8, gpu);
	for (i = 8; i < 14; i++)
		cr_assert_eq(
			pci_testdev_parse(nvs[0], i, &d[i], err, sizeof(err)),
			0, "%s", err);
}

static void tp_input(struct pci_plan_input *in, const struct pci_dev_req *d,
		     unsigned int n)
{
	pci_plan_input_init(in);
	in->devs = d;
	in->ndevs = n;
	in->phys_bits = 46;
}

static bool tp_kind_high(enum pci_bar_kind k)
{
	return k == PCI_BAR_KIND_MEM64_PREF;
}

/* Invariants every successful plan must keep. */
static void tp_check_plan(const struct pci_plan_input *in,
			  const struct pci_plan *p)
{
	unsigned int i, j, b;

	cr_assert_leq(p->low.need, p->low.size);
	cr_assert_geq(p->low.base, in->low_floor);
	cr_assert_leq(p->low.base + p->low.size, in->low_top);
	cr_assert_leq(p->high.need, p->high.size);
	cr_assert_geq(p->high.base, in->high_floor);
	cr_assert_leq(p->high.base + p->high.size, 1ull << in->phys_bits);
	cr_assert_leq(p->hole_start, p->low.base);
	cr_assert_leq(p->hole_start, in->hole_default);
	for (i = 0; i < p->nports; i++) {
		const struct pci_plan_port *pp = &p->port[i];

		cr_assert_eq(pp->mem_size % TP_MiB, 0);
		cr_assert_eq(pp->mem_base % TP_MiB, 0);
		cr_assert_eq(pp->pref_size % TP_MiB, 0);
		cr_assert_eq(pp->pref_base % TP_MiB, 0);
		if (pp->mem_size) {
			cr_assert_geq(pp->mem_base, p->low.base);
			cr_assert_leq(pp->mem_base + pp->mem_size,
				      p->low.base + p->low.need);
		}
		if (pp->pref_size) {
			cr_assert_geq(pp->pref_base, p->high.base);
			cr_assert_leq(pp->pref_base + pp->pref_size,
				      p->high.base + p->high.need);
		}
		for (j = 0; j < i; j++) {
			const struct pci_plan_port *q = &p->port[j];

			if (pp->mem_size && q->mem_size)
				cr_assert(pp->mem_base >= q->mem_base +
								  q->mem_size ||
						  q->mem_base >=
							  pp->mem_base +
								  pp->mem_size,
					  "ports %u and %u overlap", i, j);
			if (pp->pref_size && q->pref_size)
				cr_assert(
					pp->pref_base >= q->pref_base +
								 q->pref_size ||
						q->pref_base >=
							pp->pref_base +
								pp->pref_size,
					"ports %u and %u overlap", i, j);
		}
	}
	for (j = 0; j < p->ndevs; j++) {
		const struct pci_plan_dev *d = &p->dev[j];
		const struct pci_plan_port *pp = &p->port[d->port];

		cr_assert_eq(pp->dev_index, (int)j);
		cr_assert_eq((int)d->bus, pp->secondary_bus);
		for (b = 0; b < PCI_PLAN_MAX_BARS; b++) {
			const struct pci_plan_bar *bar = &d->bar[b];
			uint64_t wb, ws;

			if (bar->kind == PCI_BAR_KIND_NONE)
				continue;
			cr_assert_eq(bar->addr % bar->size, 0,
				     "dev %u bar%u at 0x%llx not aligned", j, b,
				     (unsigned long long)bar->addr);
			wb = tp_kind_high(bar->kind) ? pp->pref_base
						     : pp->mem_base;
			ws = tp_kind_high(bar->kind) ? pp->pref_size
						     : pp->mem_size;
			cr_assert_geq(bar->addr, wb);
			cr_assert_leq(bar->addr + bar->size, wb + ws);
			if (!tp_kind_high(bar->kind))
				cr_assert_leq(bar->addr + bar->size,
					      1ull << 32);
		}
	}
}

/* Build a plan expected to fail; return its error, check the code. */
static const char *tp_fail(const struct pci_plan_input *in, int code)
{
	static struct pci_plan p;
	static char err[512];

	cr_assert_eq(pci_plan_build(in, &p, err, sizeof(err)), code, "got: %s",
		     err);
	return err;
}

static void tp_ports_only(struct pci_plan *p, unsigned int nports)
{
	struct pci_plan_input in;
	char err[256];

	pci_plan_input_init(&in);
	in.root_ports = nports;
	cr_assert_eq(pci_plan_build(&in, p, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(p->nports, nports);
	tp_check_plan(&in, p);
}

/* Port i at device i/8 function i%8, mf only on function 0 of shared devices. */
static void tp_check_packing(const struct pci_plan *p, unsigned int first)
{
	unsigned int i;

	for (i = 0; i < p->nports; i++) {
		const struct pci_plan_port *pp = &p->port[i];
		unsigned int on_dev = p->nports - (i / 8) * 8;

		cr_assert_eq(pp->index, i);
		cr_assert_eq(pp->device, first + i / 8);
		cr_assert_eq(pp->function, i % 8);
		cr_assert_eq(pp->multifunction, i % 8 == 0 && on_dev > 1,
			     "port %u", i);
	}
}

Test(plan, pack_one_port)
{
	static struct pci_plan p;

	tp_ports_only(&p, 1);
	tp_check_packing(&p, 0);
	cr_assert_eq(p.port[0].device, 0);
	cr_assert_eq(p.port[0].function, 0);
	cr_assert_not(p.port[0].multifunction);
	cr_assert_eq(p.port[0].secondary_bus, 1);
	cr_assert_eq(p.port[0].dev_index, -1);
	cr_assert_eq(p.port[0].mem_size, 0);
	cr_assert_eq(p.port[0].pref_size, 0);
}

Test(plan, pack_eight_ports)
{
	static struct pci_plan p;
	unsigned int i;

	tp_ports_only(&p, 8);
	tp_check_packing(&p, 0);
	for (i = 0; i < 8; i++) {
		cr_assert_eq(p.port[i].device, 0);
		cr_assert_eq(p.port[i].function, i);
		cr_assert_eq(p.port[i].multifunction, i == 0);
	}
}

Test(plan, pack_nine_ports)
{
	static struct pci_plan p;

	tp_ports_only(&p, 9);
	tp_check_packing(&p, 0);
	cr_assert(p.port[0].multifunction);
	cr_assert_eq(p.port[8].device, 1);
	cr_assert_eq(p.port[8].function, 0);
	cr_assert_not(p.port[8].multifunction);
}

Test(plan, pack_forty_ports)
{
	static struct pci_plan p;
	unsigned int d;

	tp_ports_only(&p, 40);
	tp_check_packing(&p, 0);
	for (d = 0; d < 5; d++)
		cr_assert(p.port[d * 8].multifunction);
	cr_assert_eq(p.port[39].device, 4);
	cr_assert_eq(p.port[39].function, 7);
	cr_assert_eq(p.port[39].secondary_bus, 40);
}

Test(plan, pack_256_ports)
{
	static struct pci_plan p;
	unsigned int i;

	tp_ports_only(&p, 256);
	tp_check_packing(&p, 0);
	cr_assert_eq(p.port[255].device, 31);
	cr_assert_eq(p.port[255].function, 7);
	cr_assert(p.port[248].multifunction);
	/* buses 1-255 for ports 0-254; port 255 is empty so may go without */
	for (i = 0; i < 255; i++)
		cr_assert_eq(p.port[i].secondary_bus, (int)i + 1);
	cr_assert_eq(p.port[255].secondary_bus, -1);
}

Test(plan, error_at_257_ports)
{
	struct pci_plan_input in;

	pci_plan_input_init(&in);
	in.root_ports = 257;
	cr_assert_str_eq(tp_fail(&in, -E2BIG),
			 "257 root ports requested: at most 256 fit on bus 0 "
			 "(32 devices x 8 functions)");
	in.root_ports = 249;
	in.first_device = 1;
	cr_assert_str_eq(tp_fail(&in, -E2BIG),
			 "249 root ports requested: at most 248 fit on bus 0 "
			 "(31 devices x 8 functions)");
}

Test(plan, first_device_offset)
{
	static struct pci_dev_req d[9];
	static const char *const specs[] = {"bar0=1M:32", NULL};
	static struct pci_plan p;
	struct pci_plan_input in;
	char err[256], buf[32];

	tp_parse_all(d, 9, specs);
	tp_input(&in, d, 9);
	in.first_device = 2;
	cr_assert_eq(pci_plan_build(&in, &p, err, sizeof(err)), 0, "%s", err);
	tp_check_packing(&p, 2);
	pci_plan_dev_path(&p, 8, buf, sizeof(buf));
	cr_assert_str_eq(buf, "03.0/00");
	pci_plan_port_bdf(&p, 7, buf, sizeof(buf));
	cr_assert_str_eq(buf, "0000:00:02.7");
	in.root_ports = 248;
	cr_assert_eq(pci_plan_build(&in, &p, err, sizeof(err)), -E2BIG);
}

Test(plan, fewer_root_ports_than_devices)
{
	static struct pci_dev_req d[14];
	struct pci_plan_input in;

	tp_scenario(d);
	tp_input(&in, d, 14);
	in.root_ports = 4;
	cr_assert_str_eq(tp_fail(&in, -EINVAL),
			 "--pcie-root-ports 4 is fewer than the 14 devices "
			 "that each need a root port");
}

Test(plan, bus_numbers_in_port_order)
{
	static struct pci_dev_req d[3];
	static const char *const specs[] = {"bar0=1M:32", NULL};
	static struct pci_plan p;
	struct pci_plan_input in;
	char err[256], buf[32];
	unsigned int i;

	tp_parse_all(d, 3, specs);
	tp_input(&in, d, 3);
	in.root_ports = 20;
	in.bus_first = 0x10;
	in.bus_last = 0x40;
	cr_assert_eq(pci_plan_build(&in, &p, err, sizeof(err)), 0, "%s", err);
	tp_check_plan(&in, &p);
	cr_assert_eq(p.bus_first, 0x10);
	cr_assert_eq(p.bus_last, 0x40);
	for (i = 0; i < 20; i++)
		cr_assert_eq(p.port[i].secondary_bus, 0x11 + (int)i);
	for (i = 0; i < 3; i++) {
		cr_assert_eq(p.dev[i].bus, 0x11 + i);
		cr_assert_eq(p.dev[i].device, 0);
		cr_assert_eq(p.dev[i].function, 0);
		cr_assert_eq(p.dev[i].port, i);
	}
	pci_plan_dev_bdf(&p, 2, buf, sizeof(buf));
	cr_assert_str_eq(buf, "0000:13:00.0");
	pci_plan_port_bdf(&p, 2, buf, sizeof(buf));
	cr_assert_str_eq(buf, "0000:10:00.2");
}

Test(plan, bus_range_exhausted)
{
	static struct pci_dev_req d[4];
	static const char *const specs[] = {"bar0=1M:32", NULL};
	static struct pci_plan p;
	struct pci_plan_input in;
	char err[256];

	tp_parse_all(d, 4, specs);
	tp_input(&in, d, 4);
	in.bus_last = 3;
	cr_assert_str_eq(tp_fail(&in, -ENOSPC),
			 "bus range 0-3 leaves no bus number for root port 3, "
			 "which has a device attached");
	/* empty ports past the range are fine */
	in.ndevs = 3;
	in.root_ports = 5;
	cr_assert_eq(pci_plan_build(&in, &p, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(p.port[2].secondary_bus, 3);
	cr_assert_eq(p.port[3].secondary_bus, -1);
	cr_assert_eq(p.port[4].secondary_bus, -1);
}

Test(plan, bridge_windows_1mib_granular_and_aligned)
{
	static const char *const specs[] = {
		"bar0=4K:32",
		"bar0=64M:32,bar1=4K:32",
		"bar0=8G:64pref,bar2=16K:64pref",
		NULL,
	};
	static struct pci_dev_req d[3];
	static struct pci_plan p;
	struct pci_plan_input in;
	char err[256];

	tp_parse_all(d, 3, specs);
	tp_input(&in, d, 3);
	cr_assert_eq(pci_plan_build(&in, &p, err, sizeof(err)), 0, "%s", err);
	tp_check_plan(&in, &p);
	cr_assert_eq(p.port[0].mem_size, TP_MiB);
	cr_assert_eq(p.port[0].mem_base % TP_MiB, 0);
	cr_assert_eq(p.port[0].pref_size, 0);
	cr_assert_eq(p.port[1].mem_size, 65 * TP_MiB);
	cr_assert_eq(p.port[1].mem_base % (64 * TP_MiB), 0);
	cr_assert_eq(p.port[2].mem_size, 0);
	cr_assert_eq(p.port[2].pref_size, 8 * TP_GiB + TP_MiB);
	cr_assert_eq(p.port[2].pref_base % (8 * TP_GiB), 0);
	cr_assert_eq(p.dev[2].bar[0].addr, p.port[2].pref_base);
	cr_assert_eq(p.dev[2].bar[2].addr, p.port[2].pref_base + 8 * TP_GiB);
	/* low: 64M-aligned port 1 first, then port 0 right after its 65M */
	cr_assert_eq(p.port[1].mem_base, p.low.base);
	cr_assert_eq(p.port[0].mem_base, p.low.base + 65 * TP_MiB);
	cr_assert_eq(p.low.need, 66 * TP_MiB);
	cr_assert_eq(p.low.base % (64 * TP_MiB), 0);
	cr_assert_eq(p.high.base % (8 * TP_GiB), 0);
	cr_assert_eq(p.high.need, 8 * TP_GiB + TP_MiB);
}

Test(plan, bars_descending_size_stable_by_index)
{
	static struct pci_dev_req d[1];
	static struct pci_plan p;
	struct pci_plan_input in;
	char err[256];
	uint64_t base;

	cr_assert_eq(pci_testdev_parse("bar0=4K:32,bar1=1M:32,bar2=64K:32pref,"
				       "bar3=64K:32,bar4=1M:64",
				       0, &d[0], err, sizeof(err)),
		     0, "%s", err);
	tp_input(&in, d, 1);
	cr_assert_eq(pci_plan_build(&in, &p, err, sizeof(err)), 0, "%s", err);
	tp_check_plan(&in, &p);
	base = p.port[0].mem_base;
	cr_assert_eq(p.dev[0].bar[1].addr, base);
	cr_assert_eq(p.dev[0].bar[4].addr, base + TP_MiB);
	cr_assert_eq(p.dev[0].bar[2].addr, base + 2 * TP_MiB);
	cr_assert_eq(p.dev[0].bar[3].addr, base + 2 * TP_MiB + 64 * 1024);
	cr_assert_eq(p.dev[0].bar[0].addr, base + 2 * TP_MiB + 128 * 1024);
	cr_assert_eq(p.dev[0].bar[5].kind, PCI_BAR_KIND_NONE);
	cr_assert_eq(p.port[0].mem_size, 3 * TP_MiB);
	cr_assert_eq(p.port[0].pref_size, 0);
}

Test(plan, root_windows_descending_alignment)
{
	static const char *const specs[] = {
		"bar0=1M:32,bar1=1G:64pref",
		"bar0=32M:32,bar1=4G:64pref",
		"bar0=2M:32,bar1=1G:64pref",
		NULL,
	};
	static struct pci_dev_req d[3];
	static struct pci_plan p;
	struct pci_plan_input in;
	char err[256];

	tp_parse_all(d, 3, specs);
	tp_input(&in, d, 3);
	cr_assert_eq(pci_plan_build(&in, &p, err, sizeof(err)), 0, "%s", err);
	tp_check_plan(&in, &p);
	cr_assert_eq(p.port[1].mem_base, p.low.base);
	cr_assert_eq(p.port[2].mem_base, p.low.base + 32 * TP_MiB);
	cr_assert_eq(p.port[0].mem_base, p.low.base + 34 * TP_MiB);
	cr_assert_eq(p.low.need, 35 * TP_MiB);
	/* high: the 4G window first, then the two 1G ones by port index */
	cr_assert_eq(p.high.base, 4 * TP_GiB);
	cr_assert_eq(p.port[1].pref_base, p.high.base);
	cr_assert_eq(p.port[0].pref_base, p.high.base + 4 * TP_GiB);
	cr_assert_eq(p.port[2].pref_base, p.high.base + 5 * TP_GiB);
	cr_assert_eq(p.high.need, 6 * TP_GiB);
}

Test(plan, bar64_pairs_and_windows)
{
	static struct pci_dev_req d[2];
	static struct pci_plan p;
	struct pci_plan_input in;
	char err[256];

	memset(d, 0, sizeof(d));
	strcpy(d[0].name, "testdev2");
	d[0].bar[1] = (struct pci_bar_req){PCI_BAR_KIND_MEM64, 1 * TP_MiB};
	d[0].bar[2] = (struct pci_bar_req){PCI_BAR_KIND_MEM32, 1 * TP_MiB};
	tp_input(&in, d, 1);
	cr_assert_str_eq(tp_fail(&in, -EINVAL),
			 "testdev2: bar1 is 64-bit and needs bar2 free");
	cr_assert_eq(pci_dev_req_check(&d[0], err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "testdev2: bar1 is 64-bit and needs bar2 free");

	memset(d, 0, sizeof(d));
	d[0].bar[5] = (struct pci_bar_req){PCI_BAR_KIND_MEM64_PREF, 1 * TP_MiB};
	cr_assert_str_eq(tp_fail(&in, -EINVAL),
			 "device0: bar5 is 64-bit but a 64-bit BAR must start "
			 "at bar0-bar4");

	/* 64-bit non-prefetchable goes low, 64-bit prefetchable high */
	memset(d, 0, sizeof(d));
	d[0].bar[0] = (struct pci_bar_req){PCI_BAR_KIND_MEM64, 2 * TP_MiB};
	d[0].bar[2] = (struct pci_bar_req){PCI_BAR_KIND_MEM64_PREF, 2 * TP_MiB};
	d[0].bar[4] = (struct pci_bar_req){PCI_BAR_KIND_MEM32_PREF, 2 * TP_MiB};
	d[1].bar[4] = (struct pci_bar_req){PCI_BAR_KIND_MEM64_PREF, 16};
	tp_input(&in, d, 2);
	cr_assert_eq(pci_plan_build(&in, &p, err, sizeof(err)), 0, "%s", err);
	tp_check_plan(&in, &p);
	cr_assert_str_eq(p.dev[0].name, "device0");
	cr_assert_eq(p.dev[0].bar[1].kind, PCI_BAR_KIND_NONE);
	cr_assert_eq(p.dev[0].bar[3].kind, PCI_BAR_KIND_NONE);
	cr_assert_lt(p.dev[0].bar[0].addr, 1ull << 32);
	cr_assert_lt(p.dev[0].bar[4].addr, 1ull << 32);
	cr_assert_geq(p.dev[0].bar[2].addr, 4 * TP_GiB);
	cr_assert_eq(p.port[0].mem_size, 4 * TP_MiB);
	cr_assert_eq(p.port[0].pref_size, 2 * TP_MiB);
	cr_assert_eq(p.port[1].mem_size, 0);
	cr_assert_eq(p.port[1].pref_size, TP_MiB);
	cr_assert_eq(p.dev[1].bar[4].addr, p.port[1].pref_base);
}

Test(plan, bar_size_rules)
{
	static struct pci_dev_req d[1];
	struct pci_plan_input in;

	memset(d, 0, sizeof(d));
	strcpy(d[0].name, "gpu");
	tp_input(&in, d, 1);
	d[0].bar[0] = (struct pci_bar_req){PCI_BAR_KIND_MEM32, 0x3000};
	cr_assert_str_eq(tp_fail(&in, -EINVAL),
			 "gpu: bar0 size 0x3000 is not a power of two");
	d[0].bar[0] = (struct pci_bar_req){PCI_BAR_KIND_MEM32, 0};
	cr_assert_str_eq(tp_fail(&in, -EINVAL),
			 "gpu: bar0 size 0x0 is not a power of two");
	d[0].bar[0] = (struct pci_bar_req){PCI_BAR_KIND_MEM32, 8};
	cr_assert_str_eq(tp_fail(&in, -EINVAL),
			 "gpu: bar0 size 0x8 is below the 16-byte minimum of a "
			 "memory BAR");
	d[0].bar[0] = (struct pci_bar_req){PCI_BAR_KIND_MEM32_PREF, 4 * TP_GiB};
	cr_assert_str_eq(tp_fail(&in, -EINVAL),
			 "gpu: bar0 size 0x100000000 is too large for a 32-bit "
			 "BAR (at most 0x80000000)");
	d[0].bar[0] = (struct pci_bar_req){PCI_BAR_KIND_MEM64_PREF, 1ull << 53};
	cr_assert_str_eq(tp_fail(&in, -EINVAL),
			 "gpu: bar0 size 0x20000000000000 is larger than "
			 "0x10000000000000 (52 address bits)");
	d[0].bar[0] = (struct pci_bar_req){(enum pci_bar_kind)9, 16};
	cr_assert_str_eq(tp_fail(&in, -EINVAL), "gpu: bar0 has unknown kind 9");
	/* the smallest and the largest legal 32-bit BARs */
	d[0].bar[0] = (struct pci_bar_req){PCI_BAR_KIND_MEM32, 16};
	d[0].bar[1] = (struct pci_bar_req){PCI_BAR_KIND_MEM32_PREF, 2 * TP_GiB};
	in.low_floor = TP_GiB;
	in.low_top = 4 * TP_GiB;
	cr_assert_str_eq(tp_fail(&in, -ENOSPC),
			 "low MMIO window exhausted: need 0x80100000 bytes, at "
			 "most 0x80000000 fits below 4 GiB (between 0x40000000 "
			 "and 0x100000000)");
	d[0].bar[0].kind = PCI_BAR_KIND_NONE;
	{
		static struct pci_plan p;
		char err[256];

		cr_assert_eq(pci_plan_build(&in, &p, err, sizeof(err)), 0, "%s",
			     err);
		tp_check_plan(&in, &p);
		cr_assert_eq(p.low.base, 2 * TP_GiB);
		cr_assert_eq(p.low.size, 2 * TP_GiB);
		cr_assert_eq(p.dev[0].bar[1].addr, 2 * TP_GiB);
		d[0].bar[1] = (struct pci_bar_req){PCI_BAR_KIND_MEM32, 16};
		cr_assert_eq(pci_plan_build(&in, &p, err, sizeof(err)), 0, "%s",
			     err);
		cr_assert_eq(p.port[0].mem_size, TP_MiB);
	}
}

Test(plan, scenario_automatic_sizing)
{
	static struct pci_dev_req d[14];
	static struct pci_plan p;
	struct pci_plan_input in;
	char err[256], buf[32];
	unsigned int i;

	tp_scenario(d);
	tp_input(&in, d, 14);
	cr_assert_eq(pci_plan_build(&in, &p, err, sizeof(err)), 0, "%s", err);
	tp_check_plan(&in, &p);
	cr_assert_eq(p.nports, 14);
	cr_assert_eq(p.ndevs, 14);
	/* 8 x 16M + 6 x 32M, no padding; + max(80M, 64M) -> 448M */
	cr_assert_eq(p.low.need, 0x14000000);
	cr_assert_eq(p.low.size, 0x1c000000);
	cr_assert_eq(p.low.base, 0xc4000000);
	cr_assert_eq(p.hole_start, 0xc0000000);
	/* each GPU window is 128G + 32M at a 128G boundary */
	cr_assert_eq(p.high.base, 128 * TP_GiB);
	cr_assert_eq(p.high.need,
		     7 * 256 * TP_GiB + 128 * TP_GiB + 32 * TP_MiB);
	cr_assert_eq(p.high.size, 2401 * TP_GiB);
	for (i = 0; i < 8; i++) {
		cr_assert_eq(p.port[i].mem_size, 16 * TP_MiB);
		cr_assert_eq(p.port[i].pref_size, 128 * TP_GiB + 32 * TP_MiB);
		cr_assert_eq(p.dev[i].bar[1].addr, p.port[i].pref_base);
		cr_assert_eq(p.dev[i].bar[3].addr,
			     p.port[i].pref_base + 128 * TP_GiB);
		cr_assert_eq(p.dev[i].bar[2].kind, PCI_BAR_KIND_NONE);
		cr_assert_eq(p.dev[i].bar[4].kind, PCI_BAR_KIND_NONE);
	}
	for (i = 8; i < 14; i++) {
		cr_assert_eq(p.port[i].mem_size, 32 * TP_MiB);
		cr_assert_eq(p.port[i].pref_size, 0);
	}
	/* the NVSwitch windows (32M aligned) come first */
	cr_assert_eq(p.port[8].mem_base, 0xc4000000);
	cr_assert_eq(p.port[0].mem_base, 0xd0000000);
	pci_plan_dev_bdf(&p, 13, buf, sizeof(buf));
	cr_assert_str_eq(buf, "0000:0e:00.0");
	pci_plan_dev_path(&p, 13, buf, sizeof(buf));
	cr_assert_str_eq(buf, "01.5/00");
}

Test(plan, scenario_low_320M_fits_exactly)
{
	static struct pci_dev_req d[14];
	static struct pci_plan p;
	struct pci_plan_input in;
	char err[256];

	tp_scenario(d);
	tp_input(&in, d, 14);
	in.low_size = 320 * TP_MiB;
	cr_assert_eq(pci_plan_build(&in, &p, err, sizeof(err)), 0, "%s", err);
	tp_check_plan(&in, &p);
	cr_assert_eq(p.low.size, 320 * TP_MiB);
	cr_assert_eq(p.low.need, 320 * TP_MiB);
	cr_assert_eq(p.low.base, 0xcc000000);
	cr_assert_eq(p.hole_start, 0xc0000000);
}

Test(plan, scenario_low_too_small)
{
	static struct pci_dev_req d[14];
	struct pci_plan_input in;

	tp_scenario(d);
	tp_input(&in, d, 14);
	in.low_size = 319 * TP_MiB;
	cr_assert_str_eq(tp_fail(&in, -ENOSPC),
			 "low MMIO window exhausted: need 0x14000000 bytes, "
			 "have 0x13f00000; use --low-mmio 320M");
	in.low_size = 256 * TP_MiB;
	cr_assert_str_eq(tp_fail(&in, -ENOSPC),
			 "low MMIO window exhausted: need 0x14000000 bytes, "
			 "have 0x10000000; use --low-mmio 320M");
}

Test(plan, field_report_message)
{
	static struct pci_dev_req d[19];
	struct pci_plan_input in;
	char err[256];
	unsigned int i;

	/* 5 more 1M devices make the field report's 0x14500000 */
	tp_scenario(d);
	for (i = 14; i < 19; i++)
		cr_assert_eq(pci_testdev_parse("bar0=1M:32", i, &d[i], err,
					       sizeof(err)),
			     0);
	tp_input(&in, d, 19);
	in.low_size = 320 * TP_MiB;
	cr_assert_str_eq(tp_fail(&in, -ENOSPC),
			 "low MMIO window exhausted: need 0x14500000 bytes, "
			 "have 0x14000000; use --low-mmio 384M");
}

Test(plan, scenario_phys_bits_40)
{
	static struct pci_dev_req d[14];
	struct pci_plan_input in;

	tp_scenario(d);
	tp_input(&in, d, 14);
	in.phys_bits = 40;
	cr_assert_str_eq(tp_fail(&in, -ERANGE),
			 "high MMIO window does not fit the guest's 40-bit "
			 "physical address space: need 0x1e002000000 bytes "
			 "from 0x2000000000 but the limit is 0x10000000000; "
			 "run on a host with more physical address bits");
	/* the default is 40 bits too: callers must pass the guest's width */
	pci_plan_input_init(&in);
	in.devs = d;
	in.ndevs = 14;
	tp_fail(&in, -ERANGE);
}

Test(plan, scenario_forty_root_ports)
{
	static struct pci_dev_req d[14];
	static struct pci_plan p;
	struct pci_plan_input in;
	char err[256], path[32], want[32];
	unsigned int i;

	tp_scenario(d);
	tp_input(&in, d, 14);
	in.root_ports = 40;
	cr_assert_eq(pci_plan_build(&in, &p, err, sizeof(err)), 0, "%s", err);
	tp_check_plan(&in, &p);
	tp_check_packing(&p, 0);
	cr_assert_eq(p.nports, 40);
	cr_assert_eq(p.low.need, 0x14000000);
	for (i = 0; i < 14; i++) {
		pci_plan_dev_path(&p, i, path, sizeof(path));
		snprintf(want, sizeof(want), "%02x.%x/00", i / 8, i % 8);
		cr_assert_str_eq(path, want);
		cr_assert_eq(p.dev[i].bus, i + 1);
	}
	for (i = 8; i < 14; i++)
		cr_assert_eq(p.port[i].pref_base, 0);
	for (i = 14; i < 40; i++) {
		cr_assert_eq(p.port[i].dev_index, -1);
		cr_assert_eq(p.port[i].secondary_bus, (int)i + 1);
		cr_assert_eq(p.port[i].mem_size, 0);
		cr_assert_eq(p.port[i].mem_base, 0);
		cr_assert_eq(p.port[i].pref_size, 0);
		cr_assert_eq(p.port[i].pref_base, 0);
		cr_assert(p.port[i].acs);
	}
}

Test(plan, high_fixed_size)
{
	static const char *const specs[] = {"bar0=1T:64pref", NULL};
	static struct pci_dev_req d[14];
	static struct pci_plan p;
	struct pci_plan_input in;
	char err[256];

	tp_parse_all(d, 2, specs);
	tp_input(&in, d, 2);
	in.high_size = TP_TiB;
	cr_assert_str_eq(tp_fail(&in, -ENOSPC),
			 "high MMIO window exhausted: need 0x20000000000 "
			 "bytes, have 0x10000000000; use --high-mmio 2T");
	in.high_size = 2 * TP_TiB;
	cr_assert_eq(pci_plan_build(&in, &p, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(p.high.base, TP_TiB);
	cr_assert_eq(p.high.size, 2 * TP_TiB);

	tp_scenario(d);
	tp_input(&in, d, 14);
	in.high_size = TP_TiB;
	cr_assert_str_eq(tp_fail(&in, -ENOSPC),
			 "high MMIO window exhausted: need 0x1e002000000 "
			 "bytes, have 0x10000000000; use --high-mmio 1921G");
}

Test(plan, high_fixed_beyond_phys_bits)
{
	static struct pci_dev_req d[1];
	static struct pci_plan p;
	struct pci_plan_input in;
	char err[256];

	cr_assert_eq(
		pci_testdev_parse("bar0=1G:64pref", 0, &d[0], err, sizeof(err)),
		0);
	tp_input(&in, d, 1);
	in.phys_bits = 40;
	in.high_size = 2 * TP_TiB;
	cr_assert_str_eq(
		tp_fail(&in, -ERANGE),
		"high MMIO window does not fit the guest's 40-bit physical "
		"address space: --high-mmio 2T from 0x100000000 ends past the "
		"limit 0x10000000000; the devices need 0x40000000 bytes, use "
		"--high-mmio 1020G or less");
	in.high_size = 1020 * TP_GiB;
	cr_assert_eq(pci_plan_build(&in, &p, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(p.high.base + p.high.size, TP_TiB);
}

Test(plan, automatic_headroom)
{
	static const char *const specs[] = {"bar0=16M:32,bar1=32M:64pref",
					    NULL};
	static struct pci_dev_req d[1];
	static struct pci_plan p;
	struct pci_plan_input in;
	char err[256];

	tp_parse_all(d, 1, specs);
	tp_input(&in, d, 1);
	cr_assert_eq(pci_plan_build(&in, &p, err, sizeof(err)), 0, "%s", err);
	tp_check_plan(&in, &p);
	cr_assert_eq(p.low.need, 16 * TP_MiB);
	cr_assert_eq(p.low.size, 128 * TP_MiB); /* 16M + 64M -> 128M */
	cr_assert_eq(p.low.base, 0xe0000000 - 128 * TP_MiB);
	cr_assert_eq(p.high.need, 32 * TP_MiB);
	cr_assert_eq(p.high.size, 2 * TP_GiB); /* 32M + 1G -> 2G */
	cr_assert_eq(p.high.base, 4 * TP_GiB);

	/* nothing attached: the minimum headroom alone */
	tp_input(&in, NULL, 0);
	cr_assert_eq(pci_plan_build(&in, &p, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(p.nports, 0);
	cr_assert_eq(p.low.size, 64 * TP_MiB);
	cr_assert_eq(p.high.size, TP_GiB);

	/* the caller's high floor, aligned up to the window's alignment */
	tp_input(&in, d, 1);
	in.high_floor = 64 * TP_GiB + 1;
	cr_assert_eq(pci_plan_build(&in, &p, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(p.high.base, 64 * TP_GiB + 32 * TP_MiB);
}

Test(plan, automatic_high_shrinks_to_phys_limit)
{
	static const char *const specs[] = {"bar0=1T:64pref", NULL};
	static struct pci_dev_req d[1];
	static struct pci_plan p;
	struct pci_plan_input in;
	char err[256];

	/* 1T at 1T: 1T + 256G of headroom would pass the 41-bit limit */
	tp_parse_all(d, 1, specs);
	tp_input(&in, d, 1);
	in.phys_bits = 41;
	cr_assert_eq(pci_plan_build(&in, &p, err, sizeof(err)), 0, "%s", err);
	tp_check_plan(&in, &p);
	cr_assert_eq(p.high.base, TP_TiB);
	cr_assert_eq(p.high.size, TP_TiB);
	cr_assert_eq(p.high.need, TP_TiB);
	in.phys_bits = 42;
	cr_assert_eq(pci_plan_build(&in, &p, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(p.high.size, 1280 * TP_GiB);
}

Test(plan, automatic_low_shrinks_or_fails)
{
	static const char *const fit[] = {"bar0=1G:32", "bar0=256M:32", NULL};
	static const char *const nofit[] = {"bar0=1G:32", NULL};
	static struct pci_dev_req d[2];
	static struct pci_plan p;
	struct pci_plan_input in;
	char err[256];

	/* need 1.25G; 1.25G + 320M rounds to more than the 1.5G there is */
	tp_parse_all(d, 2, fit);
	tp_input(&in, d, 2);
	cr_assert_eq(pci_plan_build(&in, &p, err, sizeof(err)), 0, "%s", err);
	tp_check_plan(&in, &p);
	cr_assert_eq(p.low.need, 0x50000000);
	cr_assert_eq(p.low.size, 0x60000000);
	cr_assert_eq(p.low.base, 0x80000000);
	cr_assert_eq(p.hole_start, 0x80000000);

	tp_parse_all(d, 2, nofit);
	cr_assert_str_eq(tp_fail(&in, -ENOSPC),
			 "low MMIO window exhausted: need 0x80000000 bytes, at "
			 "most 0x60000000 fits below 4 GiB (between 0x80000000 "
			 "and 0xe0000000)");
	in.low_size = 512 * TP_MiB;
	cr_assert_str_eq(tp_fail(&in, -ENOSPC),
			 "low MMIO window exhausted: need 0x80000000 bytes, at "
			 "most 0x60000000 fits below 4 GiB (between 0x80000000 "
			 "and 0xe0000000)");
}

Test(plan, low_fixed_size_placement)
{
	static const char *const specs[] = {"bar0=256M:32", NULL};
	static struct pci_dev_req d[1];
	static struct pci_plan p;
	struct pci_plan_input in;
	char err[256];

	tp_parse_all(d, 1, specs);
	tp_input(&in, d, 1);
	in.low_size = 2 * TP_GiB;
	cr_assert_str_eq(tp_fail(&in, -ENOSPC),
			 "--low-mmio 2G does not fit below 4 GiB: at most "
			 "0x60000000 fits between 0x80000000 and 0xe0000000");
	in.low_size = TP_GiB;
	cr_assert_eq(pci_plan_build(&in, &p, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(p.low.base, 0xa0000000);
	cr_assert_eq(p.hole_start, 0xa0000000);
	/* 752M below 0xe0000000 is not 256M aligned: the window moves down */
	in.low_size = 0x2f000000;
	cr_assert_eq(pci_plan_build(&in, &p, err, sizeof(err)), 0, "%s", err);
	tp_check_plan(&in, &p);
	cr_assert_eq(p.low.base, 0xb0000000);
	cr_assert_eq(p.low.size, 0x2f000000);
	cr_assert_eq(p.port[0].mem_base, 0xb0000000);
}

Test(plan, acs_per_port)
{
	static struct pci_plan p;
	struct pci_plan_input in;
	char err[256];
	unsigned int i;

	pci_plan_input_init(&in);
	cr_assert(in.acs_enabled);
	cr_assert_eq(in.acs_mask, 0x5f);
	in.root_ports = 9;
	cr_assert_eq(pci_plan_build(&in, &p, err, sizeof(err)), 0, "%s", err);
	for (i = 0; i < 9; i++) {
		cr_assert(p.port[i].acs);
		cr_assert_eq(p.port[i].acs_mask, 0x5f);
	}
	in.acs_mask = 0x1f;
	cr_assert_eq(pci_plan_build(&in, &p, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(p.port[8].acs_mask, 0x1f);
	in.acs_enabled = false;
	cr_assert_eq(pci_plan_build(&in, &p, err, sizeof(err)), 0, "%s", err);
	for (i = 0; i < 9; i++) {
		cr_assert_not(p.port[i].acs);
		cr_assert_eq(p.port[i].acs_mask, 0);
	}
	in.acs_enabled = true;
	in.acs_mask = 0x15f;
	cr_assert_str_eq(tp_fail(&in, -EINVAL),
			 "ACS mask 0x15f has bits outside 0x7f");
}

Test(plan, input_validation)
{
	struct pci_plan_input in;

	pci_plan_input_init(&in);
	in.phys_bits = 31;
	cr_assert_str_eq(
		tp_fail(&in, -EINVAL),
		"physical address width of 31 bits is out of range (32-63)");
	pci_plan_input_init(&in);
	in.bus_first = 5;
	in.bus_last = 4;
	cr_assert_str_eq(tp_fail(&in, -EINVAL),
			 "bus range 5-4 is invalid (0-255, first <= last)");
	pci_plan_input_init(&in);
	in.first_device = 32;
	cr_assert_str_eq(tp_fail(&in, -EINVAL),
			 "first root port device 32 is out of range (0-31)");
	pci_plan_input_init(&in);
	in.ndevs = 1;
	tp_fail(&in, -EINVAL);
	pci_plan_input_init(&in);
	in.low_top = 5 * TP_GiB;
	tp_fail(&in, -EINVAL);
	cr_assert_eq(pci_plan_build(NULL, NULL, NULL, 0), -EINVAL);
}

Test(plan, path_and_bdf_helpers)
{
	static struct pci_dev_req d[14];
	static struct pci_plan p;
	struct pci_plan_input in;
	char err[256], buf[32];

	tp_scenario(d);
	tp_input(&in, d, 14);
	in.bus_first = 0x80;
	cr_assert_eq(pci_plan_build(&in, &p, err, sizeof(err)), 0, "%s", err);
	pci_plan_dev_bdf(&p, 11, buf, sizeof(buf));
	cr_assert_str_eq(buf, "0000:8c:00.0");
	pci_plan_dev_path(&p, 11, buf, sizeof(buf));
	cr_assert_str_eq(buf, "01.3/00");
	pci_plan_port_bdf(&p, 11, buf, sizeof(buf));
	cr_assert_str_eq(buf, "0000:80:01.3");
	strcpy(buf, "x");
	pci_plan_dev_path(&p, 14, buf, sizeof(buf));
	cr_assert_str_eq(buf, "");
	strcpy(buf, "x");
	pci_plan_dev_bdf(&p, 14, buf, sizeof(buf));
	cr_assert_str_eq(buf, "");
}

/* ---- pci_testdev_parse ---- */

Test(plan_parse, gpu_spec)
{
	struct pci_dev_req d;
	char err[256];

	cr_assert_eq(pci_testdev_parse(tp_gpu, 3, &d, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_str_eq(d.name, "testdev3");
	cr_assert_eq(d.bar[0].kind, PCI_BAR_KIND_MEM32);
	cr_assert_eq(d.bar[0].size, 16 * TP_MiB);
	cr_assert_eq(d.bar[1].kind, PCI_BAR_KIND_MEM64_PREF);
	cr_assert_eq(d.bar[1].size, 128 * TP_GiB);
	cr_assert_eq(d.bar[2].kind, PCI_BAR_KIND_NONE);
	cr_assert_eq(d.bar[3].kind, PCI_BAR_KIND_MEM64_PREF);
	cr_assert_eq(d.bar[3].size, 32 * TP_MiB);
	cr_assert_eq(d.bar[4].kind, PCI_BAR_KIND_NONE);
	cr_assert_eq(d.bar[5].kind, PCI_BAR_KIND_NONE);
}

Test(plan_parse, every_kind)
{
	struct pci_dev_req d;
	char err[256];

	cr_assert_eq(pci_testdev_parse("bar5=16:32,bar0=4K:32pref,bar1=1M:64,"
				       "bar3=2T:64pref",
				       0, &d, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(d.bar[0].kind, PCI_BAR_KIND_MEM32_PREF);
	cr_assert_eq(d.bar[0].size, 4096);
	cr_assert_eq(d.bar[1].kind, PCI_BAR_KIND_MEM64);
	cr_assert_eq(d.bar[1].size, TP_MiB);
	cr_assert_eq(d.bar[3].kind, PCI_BAR_KIND_MEM64_PREF);
	cr_assert_eq(d.bar[3].size, 2 * TP_TiB);
	cr_assert_eq(d.bar[5].kind, PCI_BAR_KIND_MEM32);
	cr_assert_eq(d.bar[5].size, 16);
}

Test(plan_parse, errors)
{
	static const struct {
		const char *spec, *msg;
	} cases[] = {
		{"bar0=256:io", "testdev2: bar0: I/O BARs are not supported"},
		{"bar0=12K:32",
		 "testdev2: bar0 size 0x3000 is not a power of two"},
		{"bar1=1M:64,bar2=1M:32",
		 "testdev2: bar1 is 64-bit and needs bar2 free"},
		{"bar2=1M:32,bar1=1M:64pref",
		 "testdev2: bar1 is 64-bit and needs bar2 free"},
		{"bar5=1M:64", "testdev2: bar5 is 64-bit but a 64-bit BAR must "
			       "start at bar0-bar4"},
		{"bar6=1M:32", "testdev2: bar6 does not exist (bar0-bar5)"},
		{"bar0=1M:32,bar0=2M:32", "testdev2: bar0 is given twice"},
		{"bar0=1M", "testdev2: bar0=1M has no kind (:32, :32pref, :64 "
			    "or :64pref)"},
		{"bar0=1M:16", "testdev2: bar0 kind '16' is unknown (32, "
			       "32pref, 64 or 64pref)"},
		{"bar0=lots:32",
		 "testdev2: bar0 size 'lots' is not a size (e.g. 16M)"},
		{"bar0=1M:32,", "testdev2: '' is not barN=SIZE:KIND"},
		{"bar10=1M:32",
		 "testdev2: 'bar10=1M:32' is not barN=SIZE:KIND"},
		{"rom=1M:32", "testdev2: 'rom=1M:32' is not barN=SIZE:KIND"},
		{"bar0=8:32", "testdev2: bar0 size 0x8 is below the 16-byte "
			      "minimum of a memory BAR"},
		{"bar0=4G:32", "testdev2: bar0 size 0x100000000 is too large "
			       "for a 32-bit BAR (at most 0x80000000)"},
		{"", "testdev2: no BARs given (e.g. bar0=16M:32)"},
	};
	struct pci_dev_req d;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(pci_testdev_parse(cases[i].spec, 2, &d, err,
					       sizeof(err)),
			     -EINVAL, "'%s' parsed", cases[i].spec);
		cr_assert_str_eq(err, cases[i].msg, "'%s'", cases[i].spec);
	}
	cr_assert_eq(pci_testdev_parse(NULL, 2, &d, err, sizeof(err)), -EINVAL);
}

/* ---- output ---- */

/* A strict little JSON checker (RFC 8259 grammar, no semantics). */
struct tp_json {
	const char *s;
	int depth;
};

static bool tp_json_value(struct tp_json *j);

static void tp_json_ws(struct tp_json *j)
{
	while (*j->s == ' ' || *j->s == '\n' || *j->s == '\t' || *j->s == '\r')
		j->s++;
}

static bool tp_json_string(struct tp_json *j)
{
	int k;

	if (*j->s++ != '"')
		return false;
	for (;;) {
		unsigned char c = (unsigned char)*j->s++;

		if (c == '"')
			return true;
		if (c < 0x20)
			return false;
		if (c != '\\')
			continue;
		c = (unsigned char)*j->s++;
		if (c == 'u') {
			for (k = 0; k < 4; k++)
				if (!isxdigit((unsigned char)*j->s++))
					return false;
		} else if (!strchr("\"\\/bfnrt", c) || !c) {
			return false;
		}
	}
}

static bool tp_json_number(struct tp_json *j)
{
	if (*j->s == '-')
		j->s++;
	if (*j->s == '0')
		j->s++;
	else if (*j->s >= '1' && *j->s <= '9')
		while (isdigit((unsigned char)*j->s))
			j->s++;
	else
		return false;
	if (*j->s == '.') {
		j->s++;
		if (!isdigit((unsigned char)*j->s))
			return false;
		while (isdigit((unsigned char)*j->s))
			j->s++;
	}
	if (*j->s == 'e' || *j->s == 'E') {
		j->s++;
		if (*j->s == '+' || *j->s == '-')
			j->s++;
		if (!isdigit((unsigned char)*j->s))
			return false;
		while (isdigit((unsigned char)*j->s))
			j->s++;
	}
	return true;
}

static bool tp_json_list(struct tp_json *j, char close, bool object)
{
	j->s++;
	if (++j->depth > 64)
		return false;
	tp_json_ws(j);
	if (*j->s == close) {
		j->s++;
		j->depth--;
		return true;
	}
	for (;;) {
		tp_json_ws(j);
		if (object) {
			if (!tp_json_string(j))
				return false;
			tp_json_ws(j);
			if (*j->s++ != ':')
				return false;
		}
		if (!tp_json_value(j))
			return false;
		tp_json_ws(j);
		if (*j->s == ',') {
			j->s++;
			continue;
		}
		if (*j->s++ != close)
			return false;
		j->depth--;
		return true;
	}
}

static bool tp_json_value(struct tp_json *j)
{
	tp_json_ws(j);
	switch (*j->s) {
	case '{':
		return tp_json_list(j, '}', true);
	case '[':
		return tp_json_list(j, ']', false);
	case '"':
		return tp_json_string(j);
	case 't':
		return !strncmp(j->s, "true", 4) && (j->s += 4);
	case 'f':
		return !strncmp(j->s, "false", 5) && (j->s += 5);
	case 'n':
		return !strncmp(j->s, "null", 4) && (j->s += 4);
	default:
		return tp_json_number(j);
	}
}

static bool tp_json_valid(const char *s)
{
	struct tp_json j = {s, 0};

	if (!tp_json_value(&j))
		return false;
	tp_json_ws(&j);
	return *j.s == '\0';
}

Test(plan_format, json_checker_rejects_bad_json)
{
	cr_assert(tp_json_valid(
		"{\"a\": [1, -2.5e3, \"x\\u0001\", true, null]}"));
	cr_assert_not(tp_json_valid("{\"a\": [1, 2,]}"));
	cr_assert_not(tp_json_valid("{\"a\": 1"));
	cr_assert_not(tp_json_valid("{\"a\" 1}"));
	cr_assert_not(tp_json_valid("{a: 1}"));
	cr_assert_not(tp_json_valid("{\"a\": 0x10}"));
	cr_assert_not(tp_json_valid("{\"a\": \"\n\"}"));
	cr_assert_not(tp_json_valid("{\"a\": \"\\q\"}"));
	cr_assert_not(tp_json_valid("{} {}"));
	cr_assert_not(tp_json_valid("[tru]"));
}

static struct pci_plan *tp_scenario_plan(unsigned int root_ports)
{
	static struct pci_dev_req d[14];
	static struct pci_plan p;
	struct pci_plan_input in;
	char err[256];

	tp_scenario(d);
	tp_input(&in, d, 14);
	in.root_ports = root_ports;
	cr_assert_eq(pci_plan_build(&in, &p, err, sizeof(err)), 0, "%s", err);
	return &p;
}

Test(plan_format, text_lists_windows_ports_and_devices)
{
	static char buf[PCI_PLAN_FORMAT_MAX];
	const struct pci_plan *p = tp_scenario_plan(40);
	char bdf[32], path[32], line[160], name[32];
	unsigned int i;

	cr_assert_eq(pci_plan_format_text(p, 0xe0000000, 0x10000000, buf,
					  sizeof(buf)),
		     0);
	cr_assert(strstr(buf, "ECAM 0xe0000000-0xefffffff (256M)"), "%s", buf);
	cr_assert(strstr(buf,
			 "low  MMIO window: base 0xc4000000 size 0x1c000000 "
			 "(448M), need 0x14000000 (320M), 71% used"),
		  "%s", buf);
	cr_assert(
		strstr(buf,
		       "high MMIO window: base 0x2000000000 size 0x25840000000 "
		       "(2.34T), need 0x1e002000000 (1.88T), 79% used"),
		"%s", buf);
	cr_assert(strstr(buf, "root ports: 40\n"));
	cr_assert(strstr(buf, "devices: 14\n"));
	cr_assert(strstr(buf, "\n   8  01.0   mf  09   0x5f  "
			      "0xc4000000-0xc5ffffff (32M)"),
		  "%s", buf);
	cr_assert(strstr(buf, "\n  39  04.7       28   0x5f  -"), "%s", buf);
	for (i = 0; i < 14; i++) {
		pci_plan_dev_bdf(p, i, bdf, sizeof(bdf));
		pci_plan_dev_path(p, i, path, sizeof(path));
		snprintf(name, sizeof(name), "testdev%u", i);
		snprintf(line, sizeof(line),
			 "%-10s  bdf %s  path %s  port %u\n", name, bdf, path,
			 i);
		cr_assert(strstr(buf, line), "missing '%s'", line);
	}
	cr_assert(strstr(
		buf, "bar1  mem64pref  0x2000000000-0x3fffffffff (128G)\n"));
	/* no ECAM line without an ECAM size */
	cr_assert_eq(pci_plan_format_text(p, 0, 0, buf, sizeof(buf)), 0);
	cr_assert_null(strstr(buf, "ECAM"));
}

Test(plan_format, text_reports_enospc)
{
	char buf[64];
	const struct pci_plan *p = tp_scenario_plan(0);

	cr_assert_eq(pci_plan_format_text(p, 0, 0, buf, sizeof(buf)), -ENOSPC);
	cr_assert_lt(strlen(buf), sizeof(buf));
	cr_assert_eq(pci_plan_format_text(p, 0, 0, buf, 0), -ENOSPC);
	cr_assert_eq(pci_plan_format_text(NULL, 0, 0, buf, sizeof(buf)),
		     -EINVAL);
}

Test(plan_format, json_valid_with_every_bdf_and_path)
{
	static char buf[PCI_PLAN_FORMAT_MAX];
	const struct pci_plan *p = tp_scenario_plan(40);
	char bdf[32], path[32], want[160];
	unsigned int i;

	cr_assert_eq(pci_plan_format_json(p, 0xe0000000, 0x10000000, buf,
					  sizeof(buf)),
		     0);
	cr_assert(tp_json_valid(buf), "%s", buf);
	for (i = 0; i < 14; i++) {
		pci_plan_dev_bdf(p, i, bdf, sizeof(bdf));
		pci_plan_dev_path(p, i, path, sizeof(path));
		snprintf(want, sizeof(want),
			 "\"name\": \"testdev%u\", \"bdf\": \"%s\", "
			 "\"pci_path\": \"%s\", \"root_port\": %u",
			 i, bdf, path, i);
		cr_assert(strstr(buf, want), "missing %s", want);
	}
	cr_assert(strstr(buf,
			 "\"low_mmio\": {\"base\": \"0xc4000000\", \"size\": "
			 "\"0x1c000000\", \"need\": \"0x14000000\"}"));
	cr_assert(strstr(buf, "\"ecam\": {\"base\": \"0xe0000000\", \"size\": "
			      "\"0x10000000\"}"));
	cr_assert(strstr(buf, "\"hole_start\": \"0xc0000000\""));
	cr_assert(strstr(buf,
			 "{\"index\": 1, \"kind\": \"mem64pref\", \"size\": "
			 "\"0x2000000000\", \"address\": \"0x2000000000\"}"));
	cr_assert(
		strstr(buf,
		       "{\"index\": 39, \"bdf\": \"0000:00:04.7\", \"device\": "
		       "4, \"function\": 7, \"multifunction\": false,\n     "
		       "\"secondary_bus\": 40, \"device_index\": null, "
		       "\"acs\": true, \"acs_mask\": \"0x5f\",\n     "
		       "\"mem_window\": null, \"pref_window\": null}"),
		"%s", buf);
	cr_assert_eq(pci_plan_format_json(p, 0, 0, buf, 100), -ENOSPC);
	cr_assert_lt(strlen(buf), 100);
}

Test(plan_format, json_acs_off_no_bus_and_odd_names)
{
	static struct pci_dev_req d[2];
	static struct pci_plan p;
	static char buf[PCI_PLAN_FORMAT_MAX];
	struct pci_plan_input in;
	char err[256];

	memset(d, 0, sizeof(d));
	strcpy(d[0].name, "a\"b\\c\n\x01");
	d[0].bar[0] = (struct pci_bar_req){PCI_BAR_KIND_MEM32, 4096};
	tp_input(&in, d, 1);
	in.acs_enabled = false;
	in.root_ports = 3;
	in.bus_last = 1;
	cr_assert_eq(pci_plan_build(&in, &p, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(pci_plan_format_json(&p, 0, 0, buf, sizeof(buf)), 0);
	cr_assert(tp_json_valid(buf), "%s", buf);
	cr_assert(strstr(buf, "\"name\": \"a\\\"b\\\\c\\u000a\\u0001\""), "%s",
		  buf);
	cr_assert(strstr(buf, "\"ecam\": null"));
	cr_assert(strstr(buf, "\"secondary_bus\": null"));
	cr_assert(strstr(buf, "\"acs\": false, \"acs_mask\": null"));
	cr_assert_eq(pci_plan_format_text(&p, 0, 0, buf, sizeof(buf)), 0);
	cr_assert(strstr(buf, "a\"b\\c??     bdf 0000:01:00.0"), "%s", buf);
	cr_assert(strstr(buf, "   2  00.2       --   off"), "%s", buf);

	/* no ports at all is still a document */
	tp_input(&in, NULL, 0);
	cr_assert_eq(pci_plan_build(&in, &p, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(pci_plan_format_json(&p, 0, 0, buf, sizeof(buf)), 0);
	cr_assert(tp_json_valid(buf), "%s", buf);
	cr_assert(strstr(buf, "\"root_ports\": [],"));
	cr_assert(strstr(buf, "\"devices\": []\n}"));
}

Test(plan_format, worst_case_fits_format_max)
{
	static struct pci_dev_req d[PCI_PLAN_MAX_PORTS];
	static struct pci_plan p;
	static char buf[PCI_PLAN_FORMAT_MAX];
	struct pci_plan_input in;
	char err[256];
	unsigned int i, b;

	for (i = 0; i < PCI_PLAN_MAX_PORTS; i++) {
		memset(d[i].name, '\x01', sizeof(d[i].name) - 1);
		d[i].name[sizeof(d[i].name) - 1] = '\0';
		for (b = 0; b < PCI_PLAN_MAX_BARS; b++)
			d[i].bar[b] =
				(struct pci_bar_req){PCI_BAR_KIND_MEM32, 16};
	}
	tp_input(&in, d, PCI_PLAN_MAX_PORTS);
	in.bus_first = 0;
	in.bus_last = 255;
	in.first_device = 0;
	/* 256 devices would need 257 bus numbers: 255 is the most */
	cr_assert_eq(pci_plan_build(&in, &p, err, sizeof(err)), -ENOSPC);
	in.ndevs = 255;
	in.root_ports = 256;
	cr_assert_eq(pci_plan_build(&in, &p, err, sizeof(err)), 0, "%s", err);
	tp_check_plan(&in, &p);
	cr_assert_eq(pci_plan_format_json(&p, UINT64_MAX - 0xfffffff,
					  0x10000000, buf, sizeof(buf)),
		     0);
	cr_assert(tp_json_valid(buf));
	cr_assert_eq(pci_plan_format_text(&p, UINT64_MAX - 0xfffffff,
					  0x10000000, buf, sizeof(buf)),
		     0);
}
