/* fuzz_pci_config.c: libFuzzer target: config reads and writes through ECAM and conf1 against a whole root complex (root ports, test endpoints) on a fake machine; masks, BAR mappings, windows and bus numbers checked after every write. */
#include <errno.h>
#include <linux/pci_regs.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "devices/pci/host.h"
#include "devices/pci/plan.h"
#include "tests/fuzz/fake_machine.h"
#include "tests/fuzz/fuzz.h"

/*
 * Input: the topology, then ops.
 *   u8 ndevs (1 + n % 6), u8 extra root ports (% 4), u8 bus_first,
 *   u8 spare buses; per device 6 BAR bytes: kind (bits 0-2; 5-7: none),
 *   log2 size (bits 3-7, capped by kind); they become --pci-testdev specs.
 * Each op is an opcode byte and its fields:
 *   0-2: ECAM write: u8 function, u16 register, u8 length, u32 value
 *   3:   ECAM read:  u8 function, u16 register, u8 length
 *   4:   ECAM access at a raw offset: u32 offset, u8 length, u32 value
 *   5:   0xcf8 latch: u8 function, u8 register, u8 flags (bit 0: raw u32)
 *   6:   0xcfc-0xcff: u8 offset, u8 length, u8 write, u32 value
 *   7:   MMIO access to whatever the bus has at range u8: u16 offset,
 *        u8 length, u8 write, u32 value
 * A function byte picks one of the ports and endpoints (modulo their
 * count) and addresses it where the guest would find it now (an
 * endpoint: on its port's secondary bus).
 */
#define FZ_ECAM	   0xe0000000ull
#define FZ_MAX_OPS 1024
#define FZ_MAXFN   (PCI_PLAN_MAX_PORTS * 2)

static struct pci_plan plan;
static struct fake_machine fm;
static struct pci_host *host;
static struct pci_function *fns[FZ_MAXFN];
static unsigned int nfns;
static struct pci_config before;
static uint32_t cf8;

static const unsigned int lens[8] = {1, 2, 4, 8, 1, 2, 4, 3};

static unsigned int fn_bus(const struct pci_function *f)
{
	return f->parent ? f->parent->cfg.cfg[PCI_SECONDARY_BUS]
			 : host->root.bus_first;
}

/* Where the guest reaches function f now, as an ECAM offset. */
static uint64_t fn_ecam(const struct pci_function *f, unsigned int reg)
{
	unsigned int bus = fn_bus(f) - host->root.bus_first;

	return (uint64_t)(bus & 0xff) << 20 | (uint64_t)f->devfn << 12 | reg;
}

static bool bar_decodes(const struct pci_function *f, unsigned int i,
			uint64_t *addr)
{
	uint64_t size = f->cfg.bar_size[i];

	*addr = pci_bar_addr(&f->cfg, i);
	return size && !(f->cfg.bar_type[i] & PCI_BAR_IO) && f->bar_access &&
	       pci_mem_enabled(&f->cfg) && *addr && *addr + size > *addr;
}

static bool bus_overlaps(uint64_t base, uint64_t len)
{
	for (size_t i = 0; i < fm.mmio.count; i++) {
		const struct bus_range *r = &fm.mmio.ranges[i];

		if (base < r->base + r->len && r->base < base + len)
			return true;
	}
	return false;
}

static void check_root(void)
{
	unsigned int mapped = 0;
	const struct bus_range *ecam;

	fake_machine_check_bus(&fm.mmio);
	/* The ECAM stays where it was put, whole. */
	ecam = bus_find(&fm.mmio, FZ_ECAM);
	FZ_CHECK(ecam && ecam->base == FZ_ECAM &&
		 ecam->len == host->root.ecam_size &&
		 ecam->opaque == &host->root);
	for (unsigned int k = 0; k < nfns; k++) {
		const struct pci_function *f = fns[k];
		const struct pci_config *c = &f->cfg;

		for (unsigned int i = 0; i < 6; i++) {
			const struct bus_range *r;
			uint64_t addr;

			if (!bar_decodes(f, i, &addr)) {
				FZ_CHECK(!f->mapped[i]);
				continue;
			}
			if (!f->mapped[i]) {
				/* Refused only because something is there. */
				FZ_CHECK(bus_overlaps(addr, c->bar_size[i]));
				continue;
			}
			mapped++;
			FZ_CHECK(f->mapped[i] == addr);
			r = bus_find(&fm.mmio, addr);
			FZ_CHECK(r && r->base == addr &&
				 r->len == c->bar_size[i] &&
				 r->opaque == &f->bar_ctx[i]);
		}
		if (!f->is_root_port)
			continue;
		/* Bridge windows: granularity and types are read-only. */
		FZ_CHECK(!(c->cfg[PCI_MEMORY_BASE] & 0xf) &&
			 !(c->cfg[PCI_MEMORY_LIMIT] & 0xf));
		FZ_CHECK((c->cfg[PCI_PREF_MEMORY_BASE] & 0xf) ==
				 PCI_PREF_RANGE_TYPE_64 &&
			 (c->cfg[PCI_PREF_MEMORY_LIMIT] & 0xf) ==
				 PCI_PREF_RANGE_TYPE_64);
		FZ_CHECK(c->cfg[PCI_IO_BASE] == 0xf0 &&
			 c->cfg[PCI_IO_LIMIT] == 0);
		FZ_CHECK(f->root == &host->root);
		FZ_CHECK(!f->child || f->child->parent == f);
	}
	/* Nothing on the bus but the ECAM and mapped BARs. */
	FZ_CHECK(fm.mmio.count == mapped + 1);
}

/* The function a config access reaches, as pci_root_lookup decides. */
static struct pci_function *target(unsigned int bus, unsigned int devfn)
{
	struct pci_function *f =
		pci_root_lookup(&host->root, bus, (uint8_t)devfn);

	if (f) {
		bool known = false;

		for (unsigned int k = 0; k < nfns && !known; k++)
			known = fns[k] == f;
		FZ_CHECK(known);
		/* An endpoint answers only on its port's secondary bus. */
		if (f->parent)
			FZ_CHECK(fn_bus(f) == bus && bus != 0 &&
				 bus != host->root.bus_first && !devfn);
	}
	return f;
}

static void check_write(const struct pci_function *f, unsigned int reg,
			unsigned int len)
{
	const struct pci_config *c = &f->cfg;

	for (unsigned int o = 0; o < PCI_CFG_SIZE; o++) {
		uint8_t diff = before.cfg[o] ^ c->cfg[o];

		if (!diff)
			continue;
		/* Only the bytes written, only their writable bits, and
		 * write-1-to-clear bits only cleared. */
		FZ_CHECK(o >= reg && o < reg + len);
		FZ_CHECK(!(diff & ~(c->wmask[o] | c->w1cmask[o])));
		FZ_CHECK(!(diff & c->cfg[o] & c->w1cmask[o] & ~c->wmask[o]));
	}
	FZ_CHECK(!memcmp(before.wmask, c->wmask, sizeof(c->wmask)) &&
		 !memcmp(before.w1cmask, c->w1cmask, sizeof(c->w1cmask)));
}

/* One config access as the root complex sees it, with its checks. */
static void config_access(unsigned int bus, unsigned int devfn,
			  unsigned int reg, uint8_t *data, unsigned int len,
			  bool is_write, void (*issue)(uint8_t *, void *),
			  void *ctx)
{
	bool valid = (len == 1 || len == 2 || len == 4) && !(reg & (len - 1));
	struct pci_function *f = valid ? target(bus, devfn) : NULL;
	uint32_t want = 0xffffffffu;

	if (f) {
		before = f->cfg;
		want = pci_config_read(&f->cfg, reg, len);
	}
	issue(data, ctx);
	if (is_write) {
		if (f)
			check_write(f, reg, len);
		check_root();
	} else {
		uint32_t got = 0;

		memcpy(&got, data, len < 4 ? len : 4);
		if (len < 4)
			want &= (1u << (8 * len)) - 1;
		FZ_CHECK(got == want);
	}
}

struct bus_op {
	uint64_t addr;
	unsigned int len;
	bool is_write;
	bool claimed;
};

static void issue_ecam(uint8_t *data, void *ctx)
{
	struct bus_op *op = ctx;

	op->claimed = bus_access(&fm.mmio, FZ_ECAM + op->addr, data, op->len,
				 op->is_write);
}

static void ecam_op(uint64_t off, unsigned int len, bool is_write, uint32_t v)
{
	uint8_t data[8] = {0};
	struct bus_op op = {off, len, is_write, false};
	unsigned int bus = host->root.bus_first + (unsigned int)(off >> 20);

	memcpy(data, &v, 4);
	if (off + len > host->root.ecam_size) {
		issue_ecam(data, &op);
		return;
	}
	config_access(bus, (off >> 12) & 0xff, off & 0xfff, data, len, is_write,
		      issue_ecam, &op);
	FZ_CHECK(op.claimed);
}

struct conf1_op {
	unsigned int offset, len;
	bool is_write;
};

static void issue_conf1(uint8_t *data, void *ctx)
{
	struct conf1_op *op = ctx;

	pci_conf1_data(&host->root, cf8, op->offset, data, op->len,
		       op->is_write);
}

static void conf1_op(unsigned int offset, unsigned int len, bool is_write,
		     uint32_t v)
{
	uint8_t data[8] = {0};
	struct conf1_op op = {offset, len, is_write};
	unsigned int bus = (cf8 >> 16) & 0xff;

	memcpy(data, &v, 4);
	/* Ports 0xcfc-0xcff: the bus refuses what runs past them. */
	if (offset + len > 4)
		return;
	if (!(cf8 & 0x80000000u) || bus < host->root.bus_first ||
	    bus > host->root.bus_last) {
		issue_conf1(data, &op);
		if (!is_write)
			for (unsigned int i = 0; i < len; i++)
				FZ_CHECK(data[i] == 0xff);
		check_root();
		return;
	}
	config_access(bus, (cf8 >> 8) & 0xff, (cf8 & 0xfc) + offset, data, len,
		      is_write, issue_conf1, &op);
}

static void mmio_op(unsigned int range, uint64_t off, unsigned int len,
		    bool is_write, uint32_t v)
{
	uint8_t data[8] = {0};
	const struct bus_range *r;

	if (fm.mmio.count < 2)
		return;
	r = &fm.mmio.ranges[range % fm.mmio.count];
	if (r->opaque == &host->root)
		return; /* the ECAM has its own ops */
	memcpy(data, &v, 4);
	(void)bus_access(&fm.mmio, r->base + off % r->len, data, len, is_write);
}

static int build(struct fz_in *in)
{
	static const char *const kinds[] = {"32", "32pref", "64", "64pref"};
	char specs[8][160], *spec_ptr[8];
	struct pci_dev_req reqs[8];
	struct pci_plan_input pi;
	unsigned int ndevs = 1 + fz_u8(in) % 6, extra = fz_u8(in) % 4;
	char err[256];
	int r;

	pci_plan_input_init(&pi);
	pi.bus_first = fz_u8(in);
	pi.bus_last = pi.bus_first + ndevs + extra + fz_u8(in) % 8;
	if (pi.bus_last > 255)
		pi.bus_last = 255;
	pi.root_ports = extra ? ndevs + extra : 0;
	pi.phys_bits = 40;
	for (unsigned int d = 0; d < ndevs; d++) {
		size_t n = 0;

		spec_ptr[d] = specs[d];
		specs[d][0] = 0;
		for (unsigned int b = 0; b < 6; b++) {
			uint8_t v = fz_u8(in);
			unsigned int kind = v & 7, lg = 4 + (v >> 3);

			if (kind >= 4 || (kind >= 2 && b == 5))
				continue;
			/* 32-bit BARs up to 16 MiB, 64-bit up to 16 GiB. */
			if (kind < 2 && lg > 24)
				lg = 24;
			n += (size_t)snprintf(specs[d] + n,
					      sizeof(specs[d]) - n,
					      "%sbar%u=%llu:%s", n ? "," : "",
					      b, 1ull << lg, kinds[kind]);
			if (kind >= 2)
				b++;
		}
		if (!n)
			snprintf(specs[d], sizeof(specs[d]), "bar0=4096:32");
	}
	if (pci_host_add_testdevs(&fm.m, spec_ptr, ndevs) < 0)
		abort(); /* the specs are made valid above */
	for (unsigned int d = 0; d < ndevs; d++)
		reqs[d] = fm.devs.slot[d].req;
	pi.devs = reqs;
	pi.ndevs = ndevs;
	r = pci_plan_build(&pi, &plan, err, sizeof(err));
	if (r < 0)
		return r;
	r = pci_host_create(&fm.m, &plan, &fm.devs, FZ_ECAM, &host);
	FZ_CHECK(r == 0);
	nfns = 0;
	for (unsigned int i = 0; i < plan.nports; i++)
		fns[nfns++] = &host->ports[i];
	for (unsigned int d = 0; d < ndevs; d++)
		fns[nfns++] = fm.devs.slot[d].fn;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = {data, size};

	fake_machine_init(&fm);
	host = NULL;
	cf8 = 0;
	if (build(&in) < 0)
		goto out;
	check_root();
	for (unsigned int i = 0; i < FZ_MAX_OPS && in.left; i++) {
		uint8_t op = fz_u8(&in) % 8;
		struct pci_function *f;
		unsigned int reg, len;
		uint32_t v;

		switch (op) {
		case 0:
		case 1:
		case 2:
		case 3:
			f = fns[fz_u8(&in) % nfns];
			reg = fz_u16(&in) % PCI_CFG_SIZE;
			len = lens[fz_u8(&in) % 8];
			/* Mostly the header and capabilities, aligned. */
			if (!(reg & 0x800))
				reg = (reg % 0x140) & ~(len - 1);
			v = op == 3 ? 0 : fz_u32(&in);
			ecam_op(fn_ecam(f, reg), len, op != 3, v);
			break;
		case 4: {
			uint64_t off = fz_u32(&in) % host->root.ecam_size;

			len = lens[fz_u8(&in) % 8];
			ecam_op(off, len, true, fz_u32(&in));
			break;
		}
		case 5: {
			uint8_t fsel = fz_u8(&in), r8 = fz_u8(&in);

			f = fns[fsel % nfns];
			if (fz_u8(&in) & 1)
				cf8 = fz_u32(&in);
			else
				cf8 = 0x80000000u | fn_bus(f) << 16 |
				      (uint32_t)f->devfn << 8 | (r8 & 0xfc);
			break;
		}
		case 6: {
			unsigned int off = fz_u8(&in) % 4;
			bool w;

			len = lens[fz_u8(&in) % 8];
			w = fz_u8(&in) & 1;
			conf1_op(off, len, w, fz_u32(&in));
			break;
		}
		case 7: {
			unsigned int range = fz_u8(&in);
			uint64_t off = fz_u16(&in);
			bool w;

			len = lens[fz_u8(&in) % 8];
			w = fz_u8(&in) & 1;
			mmio_op(range, off, len, w, fz_u32(&in));
			break;
		}
		}
	}
	check_root();
out:
	pci_host_destroy(host);
	fake_machine_fini(&fm);
	return 0;
}
