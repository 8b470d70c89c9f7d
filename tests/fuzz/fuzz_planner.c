/* fuzz_planner.c: libFuzzer target: pci_plan_build on random device sets and layouts; every plan that succeeds must fit its windows and overlap nothing. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "devices/pci/plan.h"
#include "tests/fuzz/fuzz.h"

/*
 * Input: the plan input first (see read_input: every field from a few
 * bytes, mapped onto the ranges callers pass, with some out of range
 * values to reach the errors), then per device one byte per BAR: kind
 * (bits 0-2, 5-7 meaning none) and log2 size (bits 3-7 plus a second
 * byte for 64-bit BARs). Missing bytes read as zero.
 */
#define GiB (1ull << 30)
#define MiB (1ull << 20)

static struct pci_dev_req devs[PCI_PLAN_MAX_PORTS];
static struct pci_plan plan;

static uint64_t pick_size(uint8_t sel, uint64_t unit, unsigned int max_log)
{
	if (!(sel & 0x80))
		return 0; /* automatic */
	return unit << ((sel & 0x7f) % (max_log + 1));
}

static void read_input(struct fz_in *in, struct pci_plan_input *pi)
{
	uint8_t flags, ndevs;

	pci_plan_input_init(pi);
	flags = fz_u8(in);
	ndevs = fz_u8(in);
	pi->ndevs = (flags & 1) ? ndevs : ndevs % 16;
	pi->root_ports = (flags & 2) ? fz_u16(in) % 300 : 0;
	pi->first_device = fz_u8(in) % 33;
	pi->bus_first = fz_u8(in);
	pi->bus_last = (flags & 4) ? fz_u16(in) % 258 : 255;
	pi->acs_enabled = !(flags & 8);
	pi->acs_mask = (flags & 16) ? fz_u8(in) : 0x5f;
	pi->low_size = pick_size(fz_u8(in), MiB, 12);
	if (pi->low_size && (flags & 32))
		pi->low_size += fz_u16(in) * MiB;
	pi->high_size = pick_size(fz_u8(in), GiB, 30);
	if (flags & 64) {
		pi->low_top = 4 * GiB - (uint64_t)fz_u8(in) * 16 * MiB;
		pi->low_floor = (uint64_t)fz_u8(in) * 16 * MiB;
		pi->hole_default = (uint64_t)fz_u16(in) << 16;
		/* Callers pass max(4 GiB, end of RAM above 4 GiB). */
		pi->high_floor = 4 * GiB + ((uint64_t)fz_u32(in) << 20);
	}
	pi->phys_bits = (flags & 128) ? 30 + fz_u8(in) % 36 : 40;
	pi->devs = devs;
}

static void read_devs(struct fz_in *in, unsigned int n)
{
	for (unsigned int d = 0; d < n; d++) {
		struct pci_dev_req *r = &devs[d];

		memset(r, 0, sizeof(*r));
		for (unsigned int b = 0; b < PCI_PLAN_MAX_BARS; b++) {
			uint8_t v = fz_u8(in);
			unsigned int kind = v & 7, lg = v >> 3;

			if (kind > PCI_BAR_KIND_MEM64_PREF)
				continue;
			r->bar[b].kind = (enum pci_bar_kind)kind;
			if (kind == PCI_BAR_KIND_MEM64 ||
			    kind == PCI_BAR_KIND_MEM64_PREF)
				lg += (fz_u8(in) & 1) * 24;
			r->bar[b].size = kind ? 16ull << lg : 0;
			/* Mostly as the rules want: bar + 1 free. */
			if (kind >= PCI_BAR_KIND_MEM64 && !(lg & 1))
				b++;
		}
	}
}

static bool high_kind(enum pci_bar_kind k)
{
	return k == PCI_BAR_KIND_MEM64_PREF;
}

/* [a, a + an) inside [b, b + bn) */
static bool within(uint64_t a, uint64_t an, uint64_t b, uint64_t bn)
{
	return a >= b && an <= bn && a - b <= bn - an;
}

static bool overlap(uint64_t a, uint64_t an, uint64_t b, uint64_t bn)
{
	return an && bn && a < b + bn && b < a + an;
}

struct range {
	uint64_t base, size;
};

static struct range ranges[PCI_PLAN_MAX_PORTS * (PCI_PLAN_MAX_BARS + 2)];

static void no_overlaps(unsigned int n)
{
	/* Small n: a plain double loop. */
	for (unsigned int i = 0; i < n; i++)
		for (unsigned int j = i + 1; j < n; j++)
			FZ_CHECK(!overlap(ranges[i].base, ranges[i].size,
					  ranges[j].base, ranges[j].size));
}

static void check_plan(const struct pci_plan_input *in)
{
	const struct pci_plan *p = &plan;
	uint64_t limit = 1ull << in->phys_bits;
	unsigned int nr = 0;
	bool bus_used[256] = {false};

	FZ_CHECK(p->ndevs == in->ndevs);
	FZ_CHECK(p->nports == (in->root_ports ? in->root_ports : in->ndevs));
	FZ_CHECK(p->bus_first == in->bus_first && p->bus_last == in->bus_last);

	/* The low window: below low_top, above low_floor, RAM below it. */
	FZ_CHECK(p->low.size >= p->low.need);
	FZ_CHECK(p->low.base >= in->low_floor);
	FZ_CHECK(p->low.base + p->low.size <= in->low_top);
	FZ_CHECK(!in->low_size || p->low.size == in->low_size);
	FZ_CHECK(p->hole_start == (p->low.base < in->hole_default
					   ? p->low.base
					   : in->hole_default));
	/* The high window: above high RAM (and 4 GiB), below the limit. */
	FZ_CHECK(p->high.size >= p->high.need);
	FZ_CHECK(p->high.base >= in->high_floor && p->high.base >= 4 * GiB);
	/* With nothing to hold and no room below the limit its size is 0
	 * (plan.h), and then its base may lie past the limit. */
	FZ_CHECK(p->high.size <= limit);
	FZ_CHECK(!p->high.size || p->high.base <= limit - p->high.size);
	FZ_CHECK(!in->high_size || p->high.size == in->high_size);
	FZ_CHECK(
		!overlap(p->low.base, p->low.size, p->high.base, p->high.size));

	for (unsigned int i = 0; i < p->nports; i++) {
		const struct pci_plan_port *pp = &p->port[i];
		unsigned int ports_here;

		FZ_CHECK(pp->index == i);
		FZ_CHECK(pp->device == in->first_device + i / 8 &&
			 pp->device < 32 && pp->function == i % 8);
		ports_here = p->nports - (i & ~7u);
		FZ_CHECK(pp->multifunction ==
			 (pp->function == 0 && ports_here > 1));
		if (pp->secondary_bus >= 0) {
			FZ_CHECK((unsigned int)pp->secondary_bus >
					 in->bus_first &&
				 (unsigned int)pp->secondary_bus <=
					 in->bus_last);
			FZ_CHECK(!bus_used[pp->secondary_bus]);
			bus_used[pp->secondary_bus] = true;
		}
		FZ_CHECK(pp->dev_index == (i < p->ndevs ? (int)i : -1));
		if (pp->dev_index >= 0)
			FZ_CHECK(pp->secondary_bus >= 0);
		FZ_CHECK(pp->acs == in->acs_enabled);
		FZ_CHECK(pp->acs_mask == (in->acs_enabled ? in->acs_mask : 0));
		/* Bridge windows: 1 MiB granular, inside their window. */
		FZ_CHECK(!(pp->mem_base % MiB) && !(pp->mem_size % MiB));
		FZ_CHECK(!(pp->pref_base % MiB) && !(pp->pref_size % MiB));
		if (pp->mem_size) {
			FZ_CHECK(within(pp->mem_base, pp->mem_size, p->low.base,
					p->low.size));
			ranges[nr++] =
				(struct range){pp->mem_base, pp->mem_size};
		}
		if (pp->pref_size) {
			FZ_CHECK(within(pp->pref_base, pp->pref_size,
					p->high.base, p->high.size));
			ranges[nr++] =
				(struct range){pp->pref_base, pp->pref_size};
		}
	}
	no_overlaps(nr);

	nr = 0;
	for (unsigned int d = 0; d < p->ndevs; d++) {
		const struct pci_plan_dev *pd = &p->dev[d];
		const struct pci_plan_port *pp = &p->port[pd->port];

		FZ_CHECK(pd->port == d && pd->device == 0 && pd->function == 0);
		FZ_CHECK((int)pd->bus == pp->secondary_bus);
		for (unsigned int b = 0; b < PCI_PLAN_MAX_BARS; b++) {
			const struct pci_plan_bar *bar = &pd->bar[b];
			const struct pci_bar_req *req = &devs[d].bar[b];

			FZ_CHECK(bar->kind == req->kind);
			if (!bar->kind)
				continue;
			FZ_CHECK(bar->size == req->size);
			/* Naturally aligned, inside its port's window. */
			FZ_CHECK(bar->size && !(bar->addr & (bar->size - 1)));
			if (high_kind(bar->kind))
				FZ_CHECK(within(bar->addr, bar->size,
						pp->pref_base, pp->pref_size));
			else
				FZ_CHECK(within(bar->addr, bar->size,
						pp->mem_base, pp->mem_size) &&
					 bar->addr + bar->size <= 4 * GiB);
			ranges[nr++] = (struct range){bar->addr, bar->size};
		}
	}
	no_overlaps(nr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = {data, size};
	struct pci_plan_input pi;
	char err[256];
	int r;

	read_input(&in, &pi);
	if (pi.ndevs > PCI_PLAN_MAX_PORTS)
		pi.ndevs = PCI_PLAN_MAX_PORTS;
	read_devs(&in, pi.ndevs);
	memset(err, 0xa5, sizeof(err));
	r = pci_plan_build(&pi, &plan, err, sizeof(err));
	if (r < 0) {
		FZ_CHECK(r == -EINVAL || r == -ENOSPC || r == -E2BIG ||
			 r == -ERANGE);
		FZ_CHECK(memchr(err, 0, sizeof(err)) && err[0]);
		return 0;
	}
	check_plan(&pi);
	return 0;
}
