/* fdt.c: pure builder of the aarch64 virt machine's device tree (libfdt sequential write). */
#include "arch/aarch64/fdt.h"

#include <errno.h>
#include <inttypes.h>
#include <libfdt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "arch/aarch64/layout.h"
#include "devices/textbuf.h"

/* MPIDR_EL1 affinity fields: what Linux compares a cpu node's reg with. */
#define FM_MPIDR_AFF_MASK UINT64_C(0xff00ffffff)

/* The GIC binding's interrupt specifier: <type number flags>. */
#define FM_GIC_SPI	  0
#define FM_GIC_PPI	  1
#define FM_IRQ_LEVEL_HIGH 4
#define FM_GIC_MAX_SPI	  987 /* INTID 1019, the last SPI */

/* PCI unit address phys.hi: the space code of a ranges entry. */
#define FM_PCI_SPACE_MEM32	0x02000000u
#define FM_PCI_SPACE_MEM64_PREF 0x43000000u
#define FM_PCI_DEVFN_SHIFT	8 /* phys.hi bits 15:8 hold devfn */
#define FM_PCI_PINS		4
/*
 * The swizzle repeats every 4 device slots, so the map keys on the low two
 * bits of the device number (phys.hi bits 12:11) and the pin: 16 entries
 * cover all 32 slots, as on QEMU's virt machine.
 */
#define FM_PCI_DEV_MASK	 0x1800u /* phys.hi bits 12:11 */
#define FM_PCI_PIN_MASK	 7
#define FM_PCI_MAP_SLOTS FM_PCI_PINS
#define FM_PCI_BUS_SHIFT 20 /* ECAM: 1 MiB of config space per bus */
#define FM_PCI_MAX_RID	 0x10000u

#define FM_4GiB (1ull << 32)

void fdt_machine_init(struct fdt_machine *m)
{
	memset(m, 0, sizeof(*m));
	m->gic_dist_base = AARCH64_GIC_DIST_BASE;
	m->gic_redist_base = AARCH64_GIC_REDIST_BASE;
	m->gic_its_base = AARCH64_GIC_ITS_BASE;
	m->uart_base = AARCH64_UART_BASE;
	m->uart_spi = AARCH64_UART_SPI;
	m->uart_clock_hz = AARCH64_UART_CLOCK_HZ;
	m->boot_timer = true;
	m->boot_timer_base = AARCH64_BOOT_TIMER_BASE;
	m->pvpanic_base = AARCH64_PVPANIC_BASE;
	m->ecam_base = AARCH64_PCI_ECAM_BASE;
	m->bus_first = 0;
	m->bus_last = 255;
	/* What pci_plan_build() gives the layout's limits with no devices. */
	m->pci_low.size = 64ull << 20;
	m->pci_low.base = AARCH64_PCI_LOW_TOP - m->pci_low.size;
	m->pci_high.base = AARCH64_PCI_HIGH_FLOOR;
	m->pci_high.size = 1ull << 30;
	m->pci_intx_spi = AARCH64_PCI_INTX_SPI;
}

/* ---- checks ---- */

/* One range of the guest-physical map, for the overlap check. */
struct fm_region {
	char name[48];
	uint64_t base, size;
};

enum {
	FM_R_DIST,
	FM_R_REDIST,
	FM_R_ITS,
	FM_R_UART,
	FM_R_BOOT_TIMER,
	FM_R_PVPANIC,
	FM_R_ECAM,
	FM_R_PCI_LOW,
	FM_R_PCI_HIGH,
	FM_R_RAM, /* RAM region i is FM_R_RAM + i */
};

static uint64_t fm_ecam_size(const struct fdt_machine *m)
{
	return (uint64_t)(m->bus_last - m->bus_first + 1) << FM_PCI_BUS_SHIFT;
}

/* Region i of the map; false if it is absent (size 0). */
static bool fm_region(const struct fdt_machine *m, unsigned int i,
		      struct fm_region *r)
{
	switch (i) {
	case FM_R_DIST:
		snprintf(r->name, sizeof(r->name), "GIC distributor");
		r->base = m->gic_dist_base;
		r->size = AARCH64_GIC_DIST_SIZE;
		break;
	case FM_R_REDIST:
		snprintf(r->name, sizeof(r->name),
			 "GIC redistributors for %u vCPUs", m->ncpus);
		r->base = m->gic_redist_base;
		r->size = (uint64_t)m->ncpus * AARCH64_GIC_REDIST_STRIDE;
		break;
	case FM_R_ITS:
		snprintf(r->name, sizeof(r->name), "GIC ITS");
		r->base = m->gic_its_base;
		r->size = AARCH64_GIC_ITS_SIZE;
		break;
	case FM_R_UART:
		snprintf(r->name, sizeof(r->name), "UART");
		r->base = m->uart_base;
		r->size = AARCH64_UART_SIZE;
		break;
	case FM_R_BOOT_TIMER:
		snprintf(r->name, sizeof(r->name), "boot timer");
		r->base = m->boot_timer_base;
		r->size = m->boot_timer ? AARCH64_BOOT_TIMER_SIZE : 0;
		break;
	case FM_R_PVPANIC:
		snprintf(r->name, sizeof(r->name), "pvpanic");
		r->base = m->pvpanic_base;
		r->size = m->pvpanic ? AARCH64_PVPANIC_SIZE : 0;
		break;
	case FM_R_ECAM:
		snprintf(r->name, sizeof(r->name), "PCIe ECAM");
		r->base = m->ecam_base;
		r->size = fm_ecam_size(m);
		break;
	case FM_R_PCI_LOW:
		snprintf(r->name, sizeof(r->name), "PCIe low window");
		r->base = m->pci_low.base;
		r->size = m->pci_low.size;
		break;
	case FM_R_PCI_HIGH:
		snprintf(r->name, sizeof(r->name), "PCIe high window");
		r->base = m->pci_high.base;
		r->size = m->pci_high.size;
		break;
	default:
		snprintf(r->name, sizeof(r->name), "RAM region %u",
			 i - FM_R_RAM);
		r->base = m->mem[i - FM_R_RAM].base;
		r->size = m->mem[i - FM_R_RAM].size;
		break;
	}
	return r->size != 0;
}

/* Every pair of present regions is disjoint and none wraps past 2^64. */
static int fm_check_overlaps(const struct fdt_machine *m, char *err,
			     size_t errlen)
{
	static const char redist_hint[] =
		": too many vCPUs for the room above the redistributor base";
	unsigned int n = FM_R_RAM + m->nmem, i, j;
	struct fm_region a, b;

	for (i = 0; i < n; i++) {
		if (!fm_region(m, i, &a))
			continue;
		if (a.size > UINT64_MAX - a.base) {
			errbuf_printf(err, errlen,
			       "%s at 0x%" PRIx64 " size 0x%" PRIx64
			       " wraps past the end of the address space",
			       a.name, a.base, a.size);
			return -EINVAL;
		}
	}
	for (i = 0; i < n; i++) {
		if (!fm_region(m, i, &a))
			continue;
		for (j = i + 1; j < n; j++) {
			if (!fm_region(m, j, &b))
				continue;
			/* Disjoint if neither starts inside the other. */
			if (a.base - b.base >= b.size &&
			    b.base - a.base >= a.size)
				continue;
			errbuf_printf(err, errlen,
			       "%s [0x%" PRIx64 ", 0x%" PRIx64
			       ") overlaps %s [0x%" PRIx64 ", 0x%" PRIx64 ")%s",
			       a.name, a.base, a.base + a.size, b.name, b.base,
			       b.base + b.size,
			       i == FM_R_REDIST ? redist_hint : "");
			return -EINVAL;
		}
	}
	return 0;
}

static int fm_check(const struct fdt_machine *m, char *err, size_t errlen)
{
	unsigned int i, j;
	bool in_ram = false;

	if (!m->ncpus || !m->mpidr) {
		errbuf_printf(err, errlen, "no vCPUs to describe");
		return -EINVAL;
	}
	if (m->ncpus > FDT_MACHINE_MAX_CPUS) {
		errbuf_printf(err, errlen, "%u vCPUs: at most %u", m->ncpus,
		       FDT_MACHINE_MAX_CPUS);
		return -E2BIG;
	}
	for (i = 0; i < m->ncpus; i++)
		for (j = i + 1; j < m->ncpus; j++)
			if (!((m->mpidr[i] ^ m->mpidr[j]) &
			      FM_MPIDR_AFF_MASK)) {
				errbuf_printf(err, errlen,
				       "vCPUs %u and %u have the same MPIDR "
				       "affinity 0x%" PRIx64,
				       i, j, m->mpidr[i] & FM_MPIDR_AFF_MASK);
				return -EINVAL;
			}
	if (!m->nmem || !m->mem) {
		errbuf_printf(err, errlen, "no RAM to describe");
		return -EINVAL;
	}
	for (i = 0; i < m->nmem; i++)
		if (!m->mem[i].size) {
			errbuf_printf(err, errlen, "RAM region %u has size 0", i);
			return -EINVAL;
		}
	if (m->bus_first > m->bus_last || m->bus_last > 255) {
		errbuf_printf(err, errlen, "PCIe bus range %u-%u is not within 0-255",
		       m->bus_first, m->bus_last);
		return -EINVAL;
	}
	/* The 32-bit space code of its ranges entry says it is below 4 GiB. */
	if (m->pci_low.size && (m->pci_low.base >= FM_4GiB ||
				m->pci_low.size > FM_4GiB - m->pci_low.base)) {
		errbuf_printf(err, errlen,
		       "PCIe low window [0x%" PRIx64 ", 0x%" PRIx64
		       ") is not below 4 GiB",
		       m->pci_low.base, m->pci_low.base + m->pci_low.size);
		return -EINVAL;
	}
	if (m->uart_spi > FM_GIC_MAX_SPI ||
	    m->pci_intx_spi > FM_GIC_MAX_SPI - (FM_PCI_PINS - 1)) {
		errbuf_printf(err, errlen,
		       "SPI beyond %u: UART SPI %u, PCIe INTx SPIs %u-%u",
		       FM_GIC_MAX_SPI, m->uart_spi, m->pci_intx_spi,
		       m->pci_intx_spi + FM_PCI_PINS - 1);
		return -EINVAL;
	}
	for (i = 0; i < m->nmem && m->initrd_size; i++)
		if (m->initrd_base >= m->mem[i].base &&
		    m->initrd_base - m->mem[i].base < m->mem[i].size &&
		    m->initrd_size <=
			    m->mem[i].size - (m->initrd_base - m->mem[i].base))
			in_ram = true;
	if (m->initrd_size && !in_ram) {
		errbuf_printf(err, errlen,
		       "initrd [0x%" PRIx64 ", 0x%" PRIx64
		       ") is not inside one RAM region",
		       m->initrd_base, m->initrd_base + m->initrd_size);
		return -EINVAL;
	}
	return fm_check_overlaps(m, err, errlen);
}

/* ---- writing ---- */

/*
 * Sequential-write state. The first libfdt error sticks and every later
 * call is a no-op, so the tree reads as a straight list of nodes and the
 * error is looked at once, at the end.
 */
struct fm_writer {
	void *fdt;
	int err; /* first libfdt error (-FDT_ERR_*), or 0 */
};

static void fm_rc(struct fm_writer *w, int rc)
{
	if (rc < 0 && !w->err)
		w->err = rc;
}

static void fm_begin(struct fm_writer *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void fm_begin(struct fm_writer *w, const char *fmt, ...)
{
	char name[64];
	va_list ap;

	if (w->err)
		return;
	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	fm_rc(w, fdt_begin_node(w->fdt, name));
}

static void fm_end(struct fm_writer *w)
{
	if (!w->err)
		fm_rc(w, fdt_end_node(w->fdt));
}

static void fm_str(struct fm_writer *w, const char *name, const char *val)
{
	if (!w->err)
		fm_rc(w, fdt_property_string(w->fdt, name, val));
}

/* A string list: `len` bytes of NUL-terminated strings. */
static void fm_strs(struct fm_writer *w, const char *name, const char *val,
		    size_t len)
{
	if (!w->err)
		fm_rc(w, fdt_property(w->fdt, name, val, (int)len));
}

static void fm_empty(struct fm_writer *w, const char *name)
{
	if (!w->err)
		fm_rc(w, fdt_property(w->fdt, name, NULL, 0));
}

static void fm_u32(struct fm_writer *w, const char *name, uint32_t val)
{
	if (!w->err)
		fm_rc(w, fdt_property_u32(w->fdt, name, val));
}

static void fm_u64(struct fm_writer *w, const char *name, uint64_t val)
{
	if (!w->err)
		fm_rc(w, fdt_property_u64(w->fdt, name, val));
}

/* Reserve `n` cells for `name`; NULL once an error has stuck. */
static fdt32_t *fm_cells(struct fm_writer *w, const char *name, unsigned int n)
{
	void *val = NULL;

	if (w->err)
		return NULL;
	fm_rc(w, fdt_property_placeholder(w->fdt, name,
					  (int)(n * sizeof(fdt32_t)), &val));
	return w->err ? NULL : val;
}

/* A list of (base, size) pairs of two cells each, as the root's cells say. */
static void fm_reg(struct fm_writer *w, const uint64_t *pairs, unsigned int n)
{
	fdt32_t *c = fm_cells(w, "reg", 4 * n);
	unsigned int i;

	for (i = 0; c && i < 2 * n; i++) {
		c[2 * i] = cpu_to_fdt32((uint32_t)(pairs[i] >> 32));
		c[2 * i + 1] = cpu_to_fdt32((uint32_t)pairs[i]);
	}
}

static void fm_reg1(struct fm_writer *w, uint64_t base, uint64_t size)
{
	const uint64_t pair[2] = {base, size};

	fm_reg(w, pair, 1);
}

static void fm_irqs(struct fm_writer *w, const uint32_t (*spec)[3],
		    unsigned int n)
{
	fdt32_t *c = fm_cells(w, "interrupts", 3 * n);
	unsigned int i;

	for (i = 0; c && i < 3 * n; i++)
		c[i] = cpu_to_fdt32(spec[i / 3][i % 3]);
}

static void fm_root_props(struct fm_writer *w)
{
	fm_str(w, "compatible", "linux,dummy-virt");
	fm_str(w, "model", "microvm");
	fm_u32(w, "#address-cells", 2);
	fm_u32(w, "#size-cells", 2);
	fm_u32(w, "interrupt-parent", FDT_MACHINE_PHANDLE_GIC);
}

static void fm_psci(struct fm_writer *w)
{
	static const char compat[] = "arm,psci-1.0\0arm,psci-0.2";

	fm_begin(w, "psci");
	fm_strs(w, "compatible", compat, sizeof(compat));
	fm_str(w, "method", "hvc");
	fm_end(w);
}

static void fm_memory(struct fm_writer *w, const struct fdt_machine *m)
{
	unsigned int i;

	for (i = 0; i < m->nmem; i++) {
		fm_begin(w, "memory@%" PRIx64, m->mem[i].base);
		fm_str(w, "device_type", "memory");
		fm_reg1(w, m->mem[i].base, m->mem[i].size);
		fm_end(w);
	}
}

static void fm_cpus(struct fm_writer *w, const struct fdt_machine *m)
{
	unsigned int i;

	fm_begin(w, "cpus");
	/* Two cells: Aff3 does not fit in one next to Aff2-Aff0. */
	fm_u32(w, "#address-cells", 2);
	fm_u32(w, "#size-cells", 0);
	for (i = 0; i < m->ncpus; i++) {
		uint64_t id = m->mpidr[i] & FM_MPIDR_AFF_MASK;
		fdt32_t *c;

		fm_begin(w, "cpu@%" PRIx64, id);
		fm_str(w, "device_type", "cpu");
		fm_str(w, "compatible", "arm,arm-v8");
		fm_str(w, "enable-method", "psci");
		c = fm_cells(w, "reg", 2);
		if (c) {
			c[0] = cpu_to_fdt32((uint32_t)(id >> 32));
			c[1] = cpu_to_fdt32((uint32_t)id);
		}
		fm_end(w);
	}
	fm_end(w);
}

static void fm_gic(struct fm_writer *w, const struct fdt_machine *m)
{
	static const uint32_t maint[1][3] = {
		{FM_GIC_PPI, AARCH64_PPI_GIC_MAINT, FM_IRQ_LEVEL_HIGH}};
	const uint64_t reg[4] = {
		m->gic_dist_base,
		AARCH64_GIC_DIST_SIZE,
		m->gic_redist_base,
		(uint64_t)m->ncpus * AARCH64_GIC_REDIST_STRIDE,
	};

	fm_begin(w, "intc@%" PRIx64, m->gic_dist_base);
	fm_str(w, "compatible", "arm,gic-v3");
	fm_u32(w, "#interrupt-cells", 3);
	fm_empty(w, "interrupt-controller");
	fm_reg(w, reg, 2);
	fm_u32(w, "#redistributor-regions", 1);
	fm_irqs(w, maint, 1);
	/* The ITS child is addressed like the root's children. */
	fm_u32(w, "#address-cells", 2);
	fm_u32(w, "#size-cells", 2);
	fm_empty(w, "ranges");
	fm_u32(w, "phandle", FDT_MACHINE_PHANDLE_GIC);

	fm_begin(w, "its@%" PRIx64, m->gic_its_base);
	fm_str(w, "compatible", "arm,gic-v3-its");
	fm_empty(w, "msi-controller");
	fm_u32(w, "#msi-cells", 1);
	fm_reg1(w, m->gic_its_base, AARCH64_GIC_ITS_SIZE);
	fm_u32(w, "phandle", FDT_MACHINE_PHANDLE_ITS);
	fm_end(w);

	fm_end(w);
}

static void fm_timer(struct fm_writer *w)
{
	/* The binding's order: secure, non-secure physical, virtual, hyp. */
	static const uint32_t ppi[4][3] = {
		{FM_GIC_PPI, AARCH64_PPI_TIMER_SEC, FM_IRQ_LEVEL_HIGH},
		{FM_GIC_PPI, AARCH64_PPI_TIMER_PHYS, FM_IRQ_LEVEL_HIGH},
		{FM_GIC_PPI, AARCH64_PPI_TIMER_VIRT, FM_IRQ_LEVEL_HIGH},
		{FM_GIC_PPI, AARCH64_PPI_TIMER_HYP, FM_IRQ_LEVEL_HIGH},
	};

	fm_begin(w, "timer");
	fm_str(w, "compatible", "arm,armv8-timer");
	fm_irqs(w, ppi, 4);
	/* KVM keeps the counter running while a vCPU idles. */
	fm_empty(w, "always-on");
	fm_end(w);
}

static void fm_uart(struct fm_writer *w, const struct fdt_machine *m)
{
	static const char compat[] = "arm,pl011\0arm,primecell";
	/* The AMBA bus enables "apb_pclk"; the PL011 driver takes the first. */
	static const char clock_names[] = "uartclk\0apb_pclk";
	const uint32_t irq[1][3] = {
		{FM_GIC_SPI, m->uart_spi, FM_IRQ_LEVEL_HIGH}};
	fdt32_t *c;

	fm_begin(w, "apb-pclk");
	fm_str(w, "compatible", "fixed-clock");
	fm_u32(w, "#clock-cells", 0);
	fm_u32(w, "clock-frequency", m->uart_clock_hz);
	fm_str(w, "clock-output-names", "clk24mhz");
	fm_u32(w, "phandle", FDT_MACHINE_PHANDLE_APB_PCLK);
	fm_end(w);

	fm_begin(w, "pl011@%" PRIx64, m->uart_base);
	fm_strs(w, "compatible", compat, sizeof(compat));
	fm_reg1(w, m->uart_base, AARCH64_UART_SIZE);
	fm_irqs(w, irq, 1);
	fm_strs(w, "clock-names", clock_names, sizeof(clock_names));
	c = fm_cells(w, "clocks", 2);
	if (c)
		c[0] = c[1] = cpu_to_fdt32(FDT_MACHINE_PHANDLE_APB_PCLK);
	fm_end(w);
}

static void fm_boot_timer(struct fm_writer *w, const struct fdt_machine *m)
{
	if (!m->boot_timer)
		return;
	/* No driver binds it: the guest's /init finds its address here. */
	fm_begin(w, "boot-timer@%" PRIx64, m->boot_timer_base);
	fm_str(w, "compatible", "microvm,boot-timer");
	fm_reg1(w, m->boot_timer_base, AARCH64_BOOT_TIMER_SIZE);
	fm_end(w);
}

static void fm_pvpanic(struct fm_writer *w, const struct fdt_machine *m)
{
	if (!m->pvpanic)
		return;
	/* Linux's pvpanic-mmio driver reports panics here (it is a module). */
	fm_begin(w, "pvpanic@%" PRIx64, m->pvpanic_base);
	fm_str(w, "compatible", "qemu,pvpanic-mmio");
	fm_reg1(w, m->pvpanic_base, AARCH64_PVPANIC_SIZE);
	fm_end(w);
}

/* One ranges entry: PCI address (3 cells) = CPU address (2), size (2). */
static fdt32_t *fm_pci_range(fdt32_t *c, uint32_t space,
			     const struct pci_plan_window *win)
{
	c[0] = cpu_to_fdt32(space);
	c[1] = c[3] = cpu_to_fdt32((uint32_t)(win->base >> 32));
	c[2] = c[4] = cpu_to_fdt32((uint32_t)win->base);
	c[5] = cpu_to_fdt32((uint32_t)(win->size >> 32));
	c[6] = cpu_to_fdt32((uint32_t)win->size);
	return c + 7;
}

static void fm_pci(struct fm_writer *w, const struct fdt_machine *m)
{
	const uint32_t bus_range[2] = {m->bus_first, m->bus_last};
	unsigned int nranges = !!m->pci_low.size + !!m->pci_high.size;
	unsigned int d, p, i;
	fdt32_t *c;

	fm_begin(w, "pcie@%" PRIx64, m->ecam_base);
	fm_str(w, "compatible", "pci-host-ecam-generic");
	fm_str(w, "device_type", "pci");
	fm_reg1(w, m->ecam_base, fm_ecam_size(m));
	c = fm_cells(w, "bus-range", 2);
	for (i = 0; c && i < 2; i++)
		c[i] = cpu_to_fdt32(bus_range[i]);
	fm_u32(w, "#address-cells", 3);
	fm_u32(w, "#size-cells", 2);
	fm_u32(w, "#interrupt-cells", 1);
	fm_u32(w, "linux,pci-domain", 0);
	c = fm_cells(w, "ranges", 7 * nranges);
	if (c && m->pci_low.size)
		c = fm_pci_range(c, FM_PCI_SPACE_MEM32, &m->pci_low);
	if (c && m->pci_high.size)
		fm_pci_range(c, FM_PCI_SPACE_MEM64_PREF, &m->pci_high);

	/* Every requester ID is its ITS device ID. */
	c = fm_cells(w, "msi-map", 4);
	if (c) {
		c[0] = cpu_to_fdt32(0);
		c[1] = cpu_to_fdt32(FDT_MACHINE_PHANDLE_ITS);
		c[2] = cpu_to_fdt32(0);
		c[3] = cpu_to_fdt32(FM_PCI_MAX_RID);
	}

	/* Device number mod 4 and the pin pick the entry; bus and fn do not. */
	c = fm_cells(w, "interrupt-map-mask", 4);
	if (c) {
		c[0] = cpu_to_fdt32(FM_PCI_DEV_MASK);
		c[1] = c[2] = cpu_to_fdt32(0);
		c[3] = cpu_to_fdt32(FM_PCI_PIN_MASK);
	}
	/*
	 * Entry: child unit address (3) and pin (1), the GIC's phandle, its
	 * unit address (2, from its #address-cells) and specifier (3).
	 */
	c = fm_cells(w, "interrupt-map", FM_PCI_MAP_SLOTS * FM_PCI_PINS * 10);
	for (d = 0; c && d < FM_PCI_MAP_SLOTS; d++)
		for (p = 1; p <= FM_PCI_PINS; p++) {
			uint32_t spi =
				m->pci_intx_spi + (d + p - 1) % FM_PCI_PINS;
			const uint32_t e[10] = {
				d << (FM_PCI_DEVFN_SHIFT + 3),
				0,
				0,
				p,
				FDT_MACHINE_PHANDLE_GIC,
				0,
				0,
				FM_GIC_SPI,
				spi,
				FM_IRQ_LEVEL_HIGH,
			};

			for (i = 0; i < 10; i++)
				*c++ = cpu_to_fdt32(e[i]);
		}
	fm_empty(w, "dma-coherent");
	fm_end(w);
}

static void fm_chosen(struct fm_writer *w, const struct fdt_machine *m)
{
	char path[32];

	snprintf(path, sizeof(path), "/pl011@%" PRIx64, m->uart_base);
	fm_begin(w, "chosen");
	fm_str(w, "bootargs", m->bootargs ? m->bootargs : "");
	fm_str(w, "stdout-path", path);
	if (m->initrd_size) {
		fm_u64(w, "linux,initrd-start", m->initrd_base);
		fm_u64(w, "linux,initrd-end", m->initrd_base + m->initrd_size);
	}
	fm_end(w);
}

int fdt_machine_build(const struct fdt_machine *m, void *buf, size_t len,
		      char *err, size_t errlen)
{
	size_t cap = len < AARCH64_FDT_MAX_SIZE ? len : AARCH64_FDT_MAX_SIZE;
	struct fm_writer w = {buf, 0};
	int r;

	if ((uintptr_t)buf & 7) {
		errbuf_printf(err, errlen, "device tree buffer is not 8-byte aligned");
		return -EINVAL;
	}
	r = fm_check(m, err, errlen);
	if (r < 0)
		return r;

	fm_rc(&w, fdt_create(buf, (int)cap));
	if (!w.err)
		fm_rc(&w, fdt_finish_reservemap(buf));
	fm_begin(&w, "%s", "");
	fm_root_props(&w);
	fm_psci(&w);
	fm_memory(&w, m);
	fm_cpus(&w, m);
	fm_gic(&w, m);
	fm_timer(&w);
	fm_uart(&w, m);
	fm_boot_timer(&w, m);
	fm_pvpanic(&w, m);
	fm_pci(&w, m);
	fm_chosen(&w, m);
	fm_end(&w);
	if (!w.err)
		fm_rc(&w, fdt_finish(buf));

	if (w.err == -FDT_ERR_NOSPACE && cap < len) {
		errbuf_printf(err, errlen,
		       "device tree exceeds the 2 MiB Linux allows (%u vCPUs, "
		       "%u RAM regions)",
		       m->ncpus, m->nmem);
		return -ENOSPC;
	}
	if (w.err == -FDT_ERR_NOSPACE) {
		errbuf_printf(err, errlen,
		       "device tree does not fit in a %zu-byte buffer", len);
		return -ENOSPC;
	}
	if (w.err) {
		/* Our own bug: the builder drove libfdt wrongly. */
		errbuf_printf(err, errlen, "libfdt: %s", fdt_strerror(w.err));
		return -EIO;
	}
	return 0;
}
