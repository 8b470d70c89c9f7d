/* plan.c: pure PCIe topology planner: ports, buses, BAR and window placement. */
#include "devices/pci/plan.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "devices/textbuf.h"
#include "devices/size.h"

#define PLAN_MiB	   (1ull << 20)
#define PLAN_GiB	   (1ull << 30)
#define PLAN_4GiB	   (4ull << 30)
#define PLAN_BRIDGE_GRAN   PLAN_MiB /* bridge memory window granule */
#define PLAN_LOW_HEADROOM  (64 * PLAN_MiB) /* and rounding of the low window */
#define PLAN_HIGH_HEADROOM PLAN_GiB /* and rounding of the high window */
#define PLAN_BAR_MIN	   16ull
#define PLAN_BAR32_MAX	   (1ull << 31)
#define PLAN_BAR64_MAX	   (1ull << 52)
#define PLAN_ACS_BITS	   0x7f
#define PLAN_PORTS_PER_DEV 8
#define PLAN_DEVS_PER_BUS  32

static bool plan_is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

/* Round x up to a power-of-two a; false on overflow. */
static bool plan_align_up(uint64_t x, uint64_t a, uint64_t *out)
{
	if (x > UINT64_MAX - (a - 1))
		return false;
	*out = (x + a - 1) & ~(a - 1);
	return true;
}

/* The same where the BAR limits rule out overflow (see plan_pack). */
static uint64_t plan_round_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) & ~(a - 1);
}

static uint64_t plan_max(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static uint64_t plan_min(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static bool plan_kind_valid(enum pci_bar_kind k)
{
	return k >= PCI_BAR_KIND_NONE && k <= PCI_BAR_KIND_MEM64_PREF;
}

static bool plan_kind_is64(enum pci_bar_kind k)
{
	return k == PCI_BAR_KIND_MEM64 || k == PCI_BAR_KIND_MEM64_PREF;
}

/* High window BARs: 64-bit prefetchable. Everything else goes low. */
static bool plan_kind_is_high(enum pci_bar_kind k)
{
	return k == PCI_BAR_KIND_MEM64_PREF;
}

void pci_plan_size_str(uint64_t bytes, char *buf, size_t len)
{
	static const char units[] = "KMGT";
	int u = -1;
	uint64_t v = bytes;

	while (v && !(v & 1023) && u < 3) {
		v >>= 10;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%" PRIu64, v);
	else
		snprintf(buf, len, "%" PRIu64 "%c", v, units[u]);
}

const char *pci_bar_kind_name(enum pci_bar_kind kind)
{
	switch (kind) {
	case PCI_BAR_KIND_MEM32:
		return "mem32";
	case PCI_BAR_KIND_MEM32_PREF:
		return "mem32pref";
	case PCI_BAR_KIND_MEM64:
		return "mem64";
	case PCI_BAR_KIND_MEM64_PREF:
		return "mem64pref";
	default:
		return "none";
	}
}

void pci_plan_input_init(struct pci_plan_input *in)
{
	memset(in, 0, sizeof(*in));
	in->root_ports = 0;
	in->first_device = 0;
	in->bus_first = 0;
	in->bus_last = 255;
	in->acs_enabled = true;
	in->acs_mask = 0x5f;
	in->low_top = 0xe0000000ull;
	in->low_floor = 0x80000000ull;
	in->hole_default = 0xc0000000ull;
	in->high_floor = PLAN_4GiB;
	in->phys_bits = 40;
}

static int plan_check_bars(const struct pci_dev_req *d, const char *name,
			   char *err, size_t errlen)
{
	unsigned int b;

	for (b = 0; b < PCI_PLAN_MAX_BARS; b++) {
		enum pci_bar_kind k = d->bar[b].kind;
		uint64_t size = d->bar[b].size;

		if (!plan_kind_valid(k)) {
			errbuf_printf(err, errlen, "%s: bar%u has unknown kind %d",
				 name, b, (int)k);
			return -EINVAL;
		}
		if (k == PCI_BAR_KIND_NONE)
			continue;
		if (plan_kind_is64(k) && b == PCI_PLAN_MAX_BARS - 1) {
			errbuf_printf(err, errlen,
				 "%s: bar%u is 64-bit but a 64-bit BAR must "
				 "start at bar0-bar4",
				 name, b);
			return -EINVAL;
		}
		if (plan_kind_is64(k) &&
		    d->bar[b + 1].kind != PCI_BAR_KIND_NONE) {
			errbuf_printf(err, errlen,
				 "%s: bar%u is 64-bit and needs bar%u free",
				 name, b, b + 1);
			return -EINVAL;
		}
		if (!plan_is_pow2(size)) {
			errbuf_printf(err, errlen,
				 "%s: bar%u size 0x%" PRIx64
				 " is not a power of two",
				 name, b, size);
			return -EINVAL;
		}
		if (size < PLAN_BAR_MIN) {
			errbuf_printf(
				err, errlen,
				"%s: bar%u size 0x%" PRIx64
				" is below the 16-byte minimum of a memory BAR",
				name, b, size);
			return -EINVAL;
		}
		if (!plan_kind_is64(k) && size > PLAN_BAR32_MAX) {
			errbuf_printf(err, errlen,
				 "%s: bar%u size 0x%" PRIx64
				 " is too large for a 32-bit BAR (at most "
				 "0x%llx)",
				 name, b, size, PLAN_BAR32_MAX);
			return -EINVAL;
		}
		if (size > PLAN_BAR64_MAX) {
			errbuf_printf(err, errlen,
				 "%s: bar%u size 0x%" PRIx64
				 " is larger than 0x%llx (52 address bits)",
				 name, b, size, PLAN_BAR64_MAX);
			return -EINVAL;
		}
		if (plan_kind_is64(k))
			b++; /* the upper half, checked free above */
	}
	return 0;
}

int pci_dev_req_check(const struct pci_dev_req *d, char *err, size_t errlen)
{
	char name[PCI_PLAN_NAME_LEN];

	if (!d)
		return -EINVAL;
	snprintf(name, sizeof(name), "%.*s", PCI_PLAN_NAME_LEN - 1,
		 d->name[0] ? d->name : "device");
	return plan_check_bars(d, name, err, errlen);
}

/* One barN=SIZE:KIND item of a --pci-testdev value, [s, s + n). */
static int plan_parse_bar(const char *s, size_t n, struct pci_dev_req *out,
			  bool *seen, char *err, size_t errlen)
{
	static const struct {
		const char *name;
		enum pci_bar_kind kind;
	} kinds[] = {
		{"32", PCI_BAR_KIND_MEM32},
		{"32pref", PCI_BAR_KIND_MEM32_PREF},
		{"64", PCI_BAR_KIND_MEM64},
		{"64pref", PCI_BAR_KIND_MEM64_PREF},
	};
	const char *colon, *kind;
	char size_s[32];
	size_t size_n, kind_n, i;
	unsigned int b;
	uint64_t size;

	if (n < 5 || strncmp(s, "bar", 3) || s[3] < '0' || s[3] > '9' ||
	    s[4] != '=') {
		errbuf_printf(err, errlen, "%s: '%.*s' is not barN=SIZE:KIND",
			 out->name, (int)n, s);
		return -EINVAL;
	}
	b = (unsigned int)(s[3] - '0');
	if (b >= PCI_PLAN_MAX_BARS) {
		errbuf_printf(err, errlen, "%s: bar%u does not exist (bar0-bar5)",
			 out->name, b);
		return -EINVAL;
	}
	if (seen[b]) {
		errbuf_printf(err, errlen, "%s: bar%u is given twice", out->name, b);
		return -EINVAL;
	}
	seen[b] = true;
	s += 5;
	n -= 5;
	colon = memchr(s, ':', n);
	if (!colon) {
		errbuf_printf(err, errlen,
			 "%s: bar%u=%.*s has no kind (:32, :32pref, :64 or "
			 ":64pref)",
			 out->name, b, (int)n, s);
		return -EINVAL;
	}
	size_n = (size_t)(colon - s);
	kind = colon + 1;
	kind_n = n - size_n - 1;
	if (size_n >= sizeof(size_s)) {
		errbuf_printf(err, errlen, "%s: bar%u size '%.*s' is not a size",
			 out->name, b, (int)size_n, s);
		return -EINVAL;
	}
	memcpy(size_s, s, size_n);
	size_s[size_n] = '\0';
	if (parse_size(size_s, 1, &size)) {
		errbuf_printf(err, errlen,
			 "%s: bar%u size '%s' is not a size (e.g. 16M)",
			 out->name, b, size_s);
		return -EINVAL;
	}
	if (kind_n == 2 && !strncasecmp(kind, "io", 2)) {
		errbuf_printf(err, errlen, "%s: bar%u: I/O BARs are not supported",
			 out->name, b);
		return -EINVAL;
	}
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strlen(kinds[i].name) == kind_n &&
		    !strncmp(kinds[i].name, kind, kind_n))
			break;
	}
	if (i == sizeof(kinds) / sizeof(kinds[0])) {
		errbuf_printf(err, errlen,
			 "%s: bar%u kind '%.*s' is unknown (32, 32pref, 64 or "
			 "64pref)",
			 out->name, b, (int)kind_n, kind);
		return -EINVAL;
	}
	out->bar[b].kind = kinds[i].kind;
	out->bar[b].size = size;
	return 0;
}

int pci_testdev_parse(const char *spec, unsigned int index,
		      struct pci_dev_req *out, char *err, size_t errlen)
{
	bool seen[PCI_PLAN_MAX_BARS] = {false};
	const char *p, *comma;
	int ret;

	if (err && errlen)
		err[0] = '\0';
	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "testdev%u", index);
	if (!spec || !*spec) {
		errbuf_printf(err, errlen, "%s: no BARs given (e.g. bar0=16M:32)",
			 out->name);
		return -EINVAL;
	}
	for (p = spec;; p = comma + 1) {
		comma = strchr(p, ',');
		ret = plan_parse_bar(p, comma ? (size_t)(comma - p) : strlen(p),
				     out, seen, err, errlen);
		if (ret)
			return ret;
		if (!comma)
			break;
	}
	return plan_check_bars(out, out->name, err, errlen);
}

/*
 * Lay out one endpoint's BARs of one window kind (high: 64-bit prefetchable)
 * in descending size, ties by index. Each BAR's addr becomes its offset in
 * the bridge window; the window's size (1 MiB granular) and alignment come
 * back, both 0 when the endpoint has no such BAR.
 */
static void plan_layout_bars(struct pci_plan_dev *pd, bool high, uint64_t *size,
			     uint64_t *align)
{
	unsigned int idx[PCI_PLAN_MAX_BARS], n = 0, b, i, j;
	uint64_t off = 0;

	for (b = 0; b < PCI_PLAN_MAX_BARS; b++) {
		if (pd->bar[b].kind == PCI_BAR_KIND_NONE ||
		    plan_kind_is_high(pd->bar[b].kind) != high)
			continue;
		/* insertion sort: equal sizes keep index order */
		for (i = n; i > 0 && pd->bar[idx[i - 1]].size < pd->bar[b].size;
		     i--)
			idx[i] = idx[i - 1];
		idx[i] = b;
		n++;
	}
	for (j = 0; j < n; j++) {
		/* descending powers of two: off is already aligned */
		pd->bar[idx[j]].addr = off;
		off += pd->bar[idx[j]].size;
	}
	if (!n) {
		*size = 0;
		*align = 0;
		return;
	}
	*size = plan_round_up(off, PLAN_BRIDGE_GRAN);
	*align = plan_max(PLAN_BRIDGE_GRAN, pd->bar[idx[0]].size);
}

/*
 * Pack windows (size 0 = absent) in descending alignment, ties by index.
 * Offsets go to offs[]; returns the end of the last one in *need and the
 * largest alignment (at least 1 MiB) in *align. Bounded by the BAR limits:
 * 256 windows of at most 3 x 2^52 bytes each stay below 2^63.
 */
static void plan_pack(const uint64_t *sizes, const uint64_t *aligns,
		      unsigned int n, uint64_t *offs, uint64_t *need,
		      uint64_t *align)
{
	unsigned int order[PCI_PLAN_MAX_PORTS], m = 0, i, j;
	uint64_t cur = 0;

	for (i = 0; i < n; i++) {
		if (!sizes[i])
			continue;
		for (j = m; j > 0 && aligns[order[j - 1]] < aligns[i]; j--)
			order[j] = order[j - 1];
		order[j] = i;
		m++;
	}
	*align = PLAN_BRIDGE_GRAN;
	for (j = 0; j < m; j++) {
		i = order[j];
		offs[i] = plan_round_up(cur, aligns[i]);
		cur = offs[i] + sizes[i];
		*align = plan_max(*align, aligns[i]);
	}
	*need = cur;
}

static int plan_low_window(const struct pci_plan_input *in, uint64_t need,
			   uint64_t align, struct pci_plan_window *w, char *err,
			   size_t errlen)
{
	uint64_t floor_al, max_fit = 0, size, sugg;
	char s[32];

	if (plan_align_up(in->low_floor, align, &floor_al) &&
	    floor_al < in->low_top)
		max_fit = in->low_top - floor_al;
	w->need = need;
	if (need > max_fit) {
		errbuf_printf(err, errlen,
			 "low MMIO window exhausted: need 0x%" PRIx64
			 " bytes, at most 0x%" PRIx64
			 " fits below 4 GiB (between 0x%" PRIx64
			 " and 0x%" PRIx64 ")",
			 need, max_fit, in->low_floor, in->low_top);
		return -ENOSPC;
	}
	if (in->low_size) {
		if (in->low_size < need) {
			sugg = plan_round_up(need, PLAN_LOW_HEADROOM);
			pci_plan_size_str(plan_min(sugg, max_fit), s,
					  sizeof(s));
			errbuf_printf(err, errlen,
				 "low MMIO window exhausted: need 0x%" PRIx64
				 " bytes, have 0x%" PRIx64
				 "; use --low-mmio %s",
				 need, in->low_size, s);
			return -ENOSPC;
		}
		if (in->low_size > max_fit) {
			pci_plan_size_str(in->low_size, s, sizeof(s));
			errbuf_printf(err, errlen,
				 "--low-mmio %s does not fit below 4 GiB: at "
				 "most 0x%" PRIx64 " fits between 0x%" PRIx64
				 " and 0x%" PRIx64,
				 s, max_fit, in->low_floor, in->low_top);
			return -ENOSPC;
		}
		size = in->low_size;
	} else {
		/* need < 4 GiB here: no overflow */
		size = plan_round_up(
			need + plan_max(need / 4, PLAN_LOW_HEADROOM),
			PLAN_LOW_HEADROOM);
		size = plan_min(size, max_fit);
	}
	w->size = size;
	w->base = (in->low_top - size) & ~(align - 1);
	return 0;
}

static int plan_high_window(const struct pci_plan_input *in, uint64_t need,
			    uint64_t align, struct pci_plan_window *w,
			    char *err, size_t errlen)
{
	uint64_t limit = 1ull << in->phys_bits, base, avail = 0, size, sugg;
	char s[32], s2[32];

	if (plan_align_up(in->high_floor, align, &base)) {
		if (base < limit)
			avail = limit - base;
	} else {
		base = in->high_floor;
	}
	w->need = need;
	if (need > avail) {
		errbuf_printf(err, errlen,
			 "high MMIO window does not fit the guest's %u-bit "
			 "physical address space: need 0x%" PRIx64
			 " bytes from 0x%" PRIx64 " but the limit is 0x%" PRIx64
			 "; run on a host with more physical address bits",
			 in->phys_bits, need, base, limit);
		return -ERANGE;
	}
	if (in->high_size) {
		if (in->high_size < need) {
			sugg = plan_round_up(need, PLAN_HIGH_HEADROOM);
			pci_plan_size_str(plan_min(sugg, avail), s, sizeof(s));
			errbuf_printf(err, errlen,
				 "high MMIO window exhausted: need 0x%" PRIx64
				 " bytes, have 0x%" PRIx64
				 "; use --high-mmio %s",
				 need, in->high_size, s);
			return -ENOSPC;
		}
		if (in->high_size > avail) {
			sugg = avail & ~(PLAN_HIGH_HEADROOM - 1);
			if (sugg < need)
				sugg = avail;
			pci_plan_size_str(in->high_size, s, sizeof(s));
			pci_plan_size_str(sugg, s2, sizeof(s2));
			errbuf_printf(err, errlen,
				 "high MMIO window does not fit the guest's "
				 "%u-bit physical address space: --high-mmio "
				 "%s from 0x%" PRIx64
				 " ends past the limit 0x%" PRIx64
				 "; the devices need 0x%" PRIx64
				 " bytes, use --high-mmio %s or less",
				 in->phys_bits, s, base, limit, need, s2);
			return -ERANGE;
		}
		size = in->high_size;
	} else {
		/* need < 2^63 (see plan_pack): no overflow */
		size = plan_round_up(
			need + plan_max(need / 4, PLAN_HIGH_HEADROOM),
			PLAN_HIGH_HEADROOM);
		size = plan_min(size, avail);
	}
	w->base = base;
	w->size = size;
	return 0;
}

static int plan_check_input(const struct pci_plan_input *in, char *err,
			    size_t errlen)
{
	if (in->ndevs && !in->devs) {
		errbuf_printf(err, errlen, "%u devices given without a device list",
			 in->ndevs);
		return -EINVAL;
	}
	if (in->first_device >= PLAN_DEVS_PER_BUS) {
		errbuf_printf(err, errlen,
			 "first root port device %u is out of range (0-31)",
			 in->first_device);
		return -EINVAL;
	}
	if (in->bus_first > in->bus_last || in->bus_last > 255) {
		errbuf_printf(err, errlen,
			 "bus range %u-%u is invalid (0-255, first <= last)",
			 in->bus_first, in->bus_last);
		return -EINVAL;
	}
	if (in->phys_bits < 32 || in->phys_bits > 63) {
		errbuf_printf(err, errlen,
			 "physical address width of %u bits is out of range "
			 "(32-63)",
			 in->phys_bits);
		return -EINVAL;
	}
	if (in->acs_enabled && (in->acs_mask & ~PLAN_ACS_BITS)) {
		errbuf_printf(err, errlen, "ACS mask 0x%x has bits outside 0x%x",
			 in->acs_mask, PLAN_ACS_BITS);
		return -EINVAL;
	}
	if (in->low_floor >= in->low_top || in->low_top > PLAN_4GiB) {
		errbuf_printf(err, errlen,
			 "low MMIO range 0x%" PRIx64 "-0x%" PRIx64
			 " is invalid (it must lie below 4 GiB)",
			 in->low_floor, in->low_top);
		return -EINVAL;
	}
	return 0;
}

static int plan_ports(const struct pci_plan_input *in, struct pci_plan *out,
		      char *err, size_t errlen)
{
	unsigned int ndev_slots = PLAN_DEVS_PER_BUS - in->first_device;
	unsigned int max = ndev_slots * PLAN_PORTS_PER_DEV;
	unsigned int n = in->root_ports ? in->root_ports : in->ndevs;
	unsigned int i;

	if (n > max) {
		errbuf_printf(err, errlen,
			 "%u root ports %s: at most %u fit on bus %u (%u "
			 "devices x 8 functions)",
			 n,
			 in->root_ports ? "requested"
					: "needed, one per device",
			 max, in->bus_first, ndev_slots);
		return -E2BIG;
	}
	if (in->root_ports && in->root_ports < in->ndevs) {
		errbuf_printf(err, errlen,
			 "--pcie-root-ports %u is fewer than the %u devices "
			 "that each need a root port",
			 in->root_ports, in->ndevs);
		return -EINVAL;
	}
	out->nports = n;
	for (i = 0; i < n; i++) {
		struct pci_plan_port *pp = &out->port[i];
		unsigned int bus = in->bus_first + 1 + i;

		pp->index = i;
		pp->device = in->first_device + i / PLAN_PORTS_PER_DEV;
		pp->function = i % PLAN_PORTS_PER_DEV;
		pp->multifunction = pp->function == 0 && i + 1 < n;
		pp->dev_index = i < in->ndevs ? (int)i : -1;
		pp->secondary_bus = bus <= in->bus_last ? (int)bus : -1;
		pp->acs = in->acs_enabled;
		pp->acs_mask = in->acs_enabled ? in->acs_mask : 0;
		if (pp->secondary_bus < 0 && pp->dev_index >= 0) {
			errbuf_printf(err, errlen,
				 "bus range %u-%u leaves no bus number for "
				 "root port %u, which has a device attached",
				 in->bus_first, in->bus_last, i);
			return -ENOSPC;
		}
	}
	return 0;
}

static int plan_devs(const struct pci_plan_input *in, struct pci_plan *out,
		     char *err, size_t errlen)
{
	unsigned int j, b;
	int ret;

	out->ndevs = in->ndevs;
	for (j = 0; j < in->ndevs; j++) {
		const struct pci_dev_req *req = &in->devs[j];
		struct pci_plan_dev *pd = &out->dev[j];

		if (req->name[0])
			snprintf(pd->name, sizeof(pd->name), "%.*s",
				 PCI_PLAN_NAME_LEN - 1, req->name);
		else
			snprintf(pd->name, sizeof(pd->name), "device%u", j);
		ret = plan_check_bars(req, pd->name, err, errlen);
		if (ret)
			return ret;
		snprintf(pd->host_bdf, sizeof(pd->host_bdf), "%.*s",
			 PCI_PLAN_BDF_LEN - 1, req->host_bdf);
		pd->port = j;
		pd->bus = (unsigned int)out->port[j].secondary_bus;
		pd->device = 0;
		pd->function = 0;
		for (b = 0; b < PCI_PLAN_MAX_BARS; b++) {
			pd->bar[b].kind = req->bar[b].kind;
			pd->bar[b].size = pd->bar[b].kind != PCI_BAR_KIND_NONE
						  ? req->bar[b].size
						  : 0;
			pd->bar[b].addr = 0;
		}
	}
	return 0;
}

int pci_plan_build(const struct pci_plan_input *in, struct pci_plan *out,
		   char *err, size_t errlen)
{
	uint64_t mem_size[PCI_PLAN_MAX_PORTS] = {0};
	uint64_t mem_align[PCI_PLAN_MAX_PORTS] = {0};
	uint64_t pref_size[PCI_PLAN_MAX_PORTS] = {0};
	uint64_t pref_align[PCI_PLAN_MAX_PORTS] = {0};
	uint64_t mem_off[PCI_PLAN_MAX_PORTS] = {0};
	uint64_t pref_off[PCI_PLAN_MAX_PORTS] = {0};
	uint64_t need, align;
	unsigned int i, j, b;
	int ret;

	if (err && errlen)
		err[0] = '\0';
	if (!in || !out)
		return -EINVAL;
	ret = plan_check_input(in, err, errlen);
	if (ret)
		return ret;
	memset(out, 0, sizeof(*out));
	out->bus_first = in->bus_first;
	out->bus_last = in->bus_last;
	ret = plan_ports(in, out, err, errlen);
	if (ret)
		return ret;
	ret = plan_devs(in, out, err, errlen);
	if (ret)
		return ret;

	/* bridge windows of each port; BAR addrs become window offsets */
	for (j = 0; j < out->ndevs; j++) {
		plan_layout_bars(&out->dev[j], false, &mem_size[j],
				 &mem_align[j]);
		plan_layout_bars(&out->dev[j], true, &pref_size[j],
				 &pref_align[j]);
	}

	plan_pack(mem_size, mem_align, out->nports, mem_off, &need, &align);
	ret = plan_low_window(in, need, align, &out->low, err, errlen);
	if (ret)
		return ret;
	plan_pack(pref_size, pref_align, out->nports, pref_off, &need, &align);
	ret = plan_high_window(in, need, align, &out->high, err, errlen);
	if (ret)
		return ret;
	out->hole_start = plan_min(out->low.base, in->hole_default);

	for (i = 0; i < out->nports; i++) {
		struct pci_plan_port *pp = &out->port[i];

		pp->mem_size = mem_size[i];
		pp->mem_base = mem_size[i] ? out->low.base + mem_off[i] : 0;
		pp->pref_size = pref_size[i];
		pp->pref_base = pref_size[i] ? out->high.base + pref_off[i] : 0;
	}
	for (j = 0; j < out->ndevs; j++) {
		const struct pci_plan_port *pp = &out->port[j];
		struct pci_plan_dev *pd = &out->dev[j];

		for (b = 0; b < PCI_PLAN_MAX_BARS; b++) {
			if (pd->bar[b].kind == PCI_BAR_KIND_NONE)
				continue;
			pd->bar[b].addr += plan_kind_is_high(pd->bar[b].kind)
						   ? pp->pref_base
						   : pp->mem_base;
		}
	}
	return 0;
}

void pci_plan_dev_path(const struct pci_plan *p, unsigned int dev, char *buf,
		       size_t len)
{
	const struct pci_plan_dev *d;
	const struct pci_plan_port *pp;

	if (!len)
		return;
	if (!p || dev >= p->ndevs || p->dev[dev].port >= p->nports) {
		buf[0] = '\0';
		return;
	}
	d = &p->dev[dev];
	pp = &p->port[d->port];
	snprintf(buf, len, "%02x.%x/%02x", pp->device, pp->function, d->device);
}

void pci_plan_dev_bdf(const struct pci_plan *p, unsigned int dev, char *buf,
		      size_t len)
{
	const struct pci_plan_dev *d;

	if (!len)
		return;
	if (!p || dev >= p->ndevs) {
		buf[0] = '\0';
		return;
	}
	d = &p->dev[dev];
	snprintf(buf, len, "0000:%02x:%02x.%x", d->bus, d->device, d->function);
}

void pci_plan_port_bdf(const struct pci_plan *p, unsigned int port, char *buf,
		       size_t len)
{
	const struct pci_plan_port *pp;

	if (!len)
		return;
	if (!p || port >= p->nports) {
		buf[0] = '\0';
		return;
	}
	pp = &p->port[port];
	snprintf(buf, len, "0000:%02x:%02x.%x", p->bus_first, pp->device,
		 pp->function);
}
