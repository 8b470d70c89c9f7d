/* test_fdt.c: L0 tests of the aarch64 FDT builder: golden source, properties by path, errors. */
#include <criterion/criterion.h>
#include <errno.h>
#include <libfdt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arch/aarch64/fdt.h"
#include "arch/aarch64/layout.h"
#include "devices/pci/plan.h"

#define T_GOLDEN "tests/unit/fixtures/aarch64/virt-ref.dts"
#define T_BUF	 (64 * 1024)
#define T_MiB	 (1ull << 20)
#define T_GiB	 (1ull << 30)

/* The reference configuration: 2 vCPUs, 256 MiB, an initrd, bootargs. */
static const struct fdt_mem_region t_ref_mem[] = {
	{AARCH64_RAM_BASE, 256 * T_MiB},
};
/* MPIDR_EL1 as KVM reports it for vCPUs 0 and 1 (bit 31 is RES1). */
static const uint64_t t_ref_mpidr[] = {0x80000000, 0x80000001};
static const char t_ref_bootargs[] = "console=ttyAMA0 earlycon panic=1";
#define T_REF_INITRD_BASE 0x8c000000ull
#define T_REF_INITRD_SIZE 0x00345000ull

static void t_ref(struct fdt_machine *m)
{
	fdt_machine_init(m);
	m->mem = t_ref_mem;
	m->nmem = 1;
	m->mpidr = t_ref_mpidr;
	m->ncpus = 2;
	m->bootargs = t_ref_bootargs;
	m->initrd_base = T_REF_INITRD_BASE;
	m->initrd_size = T_REF_INITRD_SIZE;
}

/* An 8-byte-aligned buffer for one blob. */
struct t_blob {
	uint64_t words[T_BUF / 8];
};

static void *t_build(const struct fdt_machine *m, struct t_blob *b)
{
	char err[256] = "";

	memset(b, 0xa5, sizeof(*b));
	cr_assert_eq(fdt_machine_build(m, b, sizeof(*b), err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(fdt_check_header(b), 0);
	return b;
}

static int t_node(const void *fdt, const char *path)
{
	int off = fdt_path_offset(fdt, path);

	cr_assert_geq(off, 0, "no node %s (%s)", path, fdt_strerror(off));
	return off;
}

/* Property `name` of `path` as `n` cells (its length must be exactly n). */
static const fdt32_t *t_cells(const void *fdt, const char *path,
			      const char *name, int n)
{
	int len;
	const fdt32_t *p = fdt_getprop(fdt, t_node(fdt, path), name, &len);

	cr_assert_not_null(p, "%s has no %s", path, name);
	cr_assert_eq(len, n * 4, "%s:%s is %d bytes, want %d", path, name, len,
		     n * 4);
	return p;
}

static uint32_t t_u32(const void *fdt, const char *path, const char *name)
{
	return fdt32_to_cpu(t_cells(fdt, path, name, 1)[0]);
}

static uint64_t t_cell64(const fdt32_t *c)
{
	return (uint64_t)fdt32_to_cpu(c[0]) << 32 | fdt32_to_cpu(c[1]);
}

static void t_str(const void *fdt, const char *path, const char *name,
		  const char *want)
{
	const char *s = fdt_getprop(fdt, t_node(fdt, path), name, NULL);

	cr_assert_not_null(s, "%s has no %s", path, name);
	cr_assert_str_eq(s, want, "%s:%s", path, name);
}

static bool t_has(const void *fdt, const char *path, const char *name)
{
	return fdt_getprop(fdt, t_node(fdt, path), name, NULL) != NULL;
}

/* The node a phandle cell names; fails if it names none. */
static int t_phandle_target(const void *fdt, const fdt32_t *cell)
{
	int off = fdt_node_offset_by_phandle(fdt, fdt32_to_cpu(*cell));

	cr_assert_geq(off, 0, "phandle %u resolves to nothing",
		      fdt32_to_cpu(*cell));
	return off;
}

/* ---- header, determinism ---- */

Test(fdt, header_valid_and_blob_deterministic)
{
	static struct t_blob a, b;
	struct fdt_machine m;

	t_ref(&m);
	t_build(&m, &a);
	t_build(&m, &b);
	cr_assert_eq(fdt_magic(&a), FDT_MAGIC);
	cr_assert_leq(fdt_totalsize(&a), sizeof(a));
	cr_assert_eq(fdt_totalsize(&a), fdt_totalsize(&b));
	cr_assert_eq(memcmp(&a, &b, fdt_totalsize(&a)), 0);
	cr_assert_eq(fdt_num_mem_rsv(&a), 0);
}

/* ---- dtc: decompile against the golden source, and compile it ---- */

static int t_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int t_sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return st == -1 || !WIFEXITED(st) ? -1 : WEXITSTATUS(st);
}

static void t_need_dtc(void)
{
	if (t_sh("command -v dtc >/dev/null 2>&1") != 0)
		cr_skip_test("dtc not found: install Debian's "
			     "device-tree-compiler (make deps installs it)");
}

static void t_write(const char *path, const void *p, size_t len)
{
	FILE *f = fopen(path, "wb");

	cr_assert_not_null(f, "open %s", path);
	cr_assert_eq(fwrite(p, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
}

Test(fdt, decompiles_to_golden_source, .timeout = 30)
{
	static struct t_blob b;
	char dir[] = "/tmp/microvm-fdt-XXXXXX";
	char path[128];
	struct fdt_machine m;
	int rc;

	t_need_dtc();
	cr_assert_not_null(mkdtemp(dir));
	t_ref(&m);
	t_build(&m, &b);
	snprintf(path, sizeof(path), "%s/virt-ref.dtb", dir);
	t_write(path, &b, fdt_totalsize(&b));

	rc = t_sh("dtc -I dtb -O dts -o %s/virt-ref.dts %s 2>%s/dtc.err", dir,
		  path, dir);
	cr_assert_eq(rc, 0, "dtc -I dtb failed (%d): see %s/dtc.err", rc, dir);
	cr_assert_eq(t_sh("test -s %s/dtc.err", dir), 1,
		     "dtc warned while decompiling: see %s/dtc.err", dir);
	rc = t_sh("cmp -s %s %s/virt-ref.dts", T_GOLDEN, dir);
	cr_assert_eq(rc, 0,
		     "the blob differs from the golden source: diff -u %s "
		     "%s/virt-ref.dts (if the change is intended, copy it "
		     "over the golden after reading the diff)",
		     T_GOLDEN, dir);
	t_sh("rm -rf %s", dir);
}

/*
 * dtc's default checks (unit addresses, reg formats, interrupts, PCI bridge
 * and bus-range rules) pass on the golden source. Two warnings are
 * expected and allowed: the decompiler writes phandles as plain numbers,
 * and dtc's clocks check wants a source-level &label reference there. It is
 * a property of the .dts text, not of the tree: the same check run on the
 * blob above (dtc -I dtb) resolves both clocks phandles and stays silent.
 */
#define T_DTC_EXPECTED                                                     \
	"Warning \\(clocks_property\\): /pl011@9000000:clocks: cell [01] " \
	"is not a phandle reference$"

Test(fdt, golden_compiles_without_warnings, .timeout = 30)
{
	char dir[] = "/tmp/microvm-fdt-XXXXXX";
	int rc;

	t_need_dtc();
	cr_assert_not_null(mkdtemp(dir));
	rc = t_sh("dtc -I dts -O dtb -o %s/golden.dtb %s 2>%s/dtc.err", dir,
		  T_GOLDEN, dir);
	cr_assert_eq(rc, 0, "dtc -I dts failed (%d): see %s/dtc.err", rc, dir);
	rc = t_sh("grep -vE '%s' %s/dtc.err >%s/dtc.unexpected", T_DTC_EXPECTED,
		  dir, dir);
	cr_assert_eq(rc, 1,
		     "dtc warned about the golden source: see "
		     "%s/dtc.unexpected",
		     dir);
	t_sh("rm -rf %s", dir);
}

/* ---- properties by path ---- */

Test(fdt, root_cells_and_interrupt_parent)
{
	static struct t_blob b;
	struct fdt_machine m;
	void *fdt;
	int gic;

	t_ref(&m);
	fdt = t_build(&m, &b);
	t_str(fdt, "/", "compatible", "linux,dummy-virt");
	cr_assert_eq(t_u32(fdt, "/", "#address-cells"), 2);
	cr_assert_eq(t_u32(fdt, "/", "#size-cells"), 2);
	gic = t_phandle_target(fdt, t_cells(fdt, "/", "interrupt-parent", 1));
	cr_assert_eq(gic, t_node(fdt, "/intc@8000000"));
	cr_assert_eq(fdt_node_check_compatible(fdt, gic, "arm,gic-v3"), 0);
	cr_assert_eq(fdt_get_phandle(fdt, gic), FDT_MACHINE_PHANDLE_GIC);
}

Test(fdt, psci_and_memory)
{
	static struct t_blob b;
	struct fdt_mem_region mem[2] = {
		{AARCH64_RAM_BASE, 2 * T_GiB},
		{0x100000000ull + 2 * T_GiB, 6 * T_GiB},
	};
	struct fdt_machine m;
	const fdt32_t *c;
	void *fdt;
	int off;

	t_ref(&m);
	m.mem = mem;
	m.nmem = 2;
	fdt = t_build(&m, &b);
	off = t_node(fdt, "/psci");
	cr_assert_eq(fdt_node_check_compatible(fdt, off, "arm,psci-1.0"), 0);
	cr_assert_eq(fdt_node_check_compatible(fdt, off, "arm,psci-0.2"), 0);
	t_str(fdt, "/psci", "method", "hvc");

	t_str(fdt, "/memory@80000000", "device_type", "memory");
	c = t_cells(fdt, "/memory@80000000", "reg", 4);
	cr_assert_eq(t_cell64(c), AARCH64_RAM_BASE);
	cr_assert_eq(t_cell64(c + 2), 2 * T_GiB);
	c = t_cells(fdt, "/memory@180000000", "reg", 4);
	cr_assert_eq(t_cell64(c), 0x180000000ull);
	cr_assert_eq(t_cell64(c + 2), 6 * T_GiB);
}

Test(fdt, cpus_carry_mpidr_affinity)
{
	static struct t_blob b;
	/* Aff0 1, Aff1 1, Aff2 1, Aff3 1; bit 31 and the MT bit 24 drop. */
	static const uint64_t mpidr[] = {0x80000000, 0x81000001, 0x80000100,
					 0x80010000, 0x180000000};
	static const char *const path[] = {
		"/cpus/cpu@0",	   "/cpus/cpu@1",	  "/cpus/cpu@100",
		"/cpus/cpu@10000", "/cpus/cpu@100000000",
	};
	static const uint64_t reg[] = {0, 1, 0x100, 0x10000, 0x100000000};
	struct fdt_machine m;
	unsigned int i;
	void *fdt;
	int off, n = 0;

	t_ref(&m);
	m.mpidr = mpidr;
	m.ncpus = 5;
	fdt = t_build(&m, &b);
	cr_assert_eq(t_u32(fdt, "/cpus", "#address-cells"), 2);
	cr_assert_eq(t_u32(fdt, "/cpus", "#size-cells"), 0);
	for (i = 0; i < 5; i++) {
		cr_assert_eq(t_cell64(t_cells(fdt, path[i], "reg", 2)), reg[i],
			     "%s", path[i]);
		t_str(fdt, path[i], "device_type", "cpu");
		t_str(fdt, path[i], "enable-method", "psci");
		t_str(fdt, path[i], "compatible", "arm,arm-v8");
	}
	for (off = fdt_first_subnode(fdt, t_node(fdt, "/cpus")); off >= 0;
	     off = fdt_next_subnode(fdt, off))
		n++;
	cr_assert_eq(n, 5);
}

Test(fdt, gic_redistributors_sized_for_vcpus_and_its)
{
	static struct t_blob b;
	static uint64_t mpidr[AARCH64_MAX_CPUS];
	struct fdt_machine m;
	const fdt32_t *c;
	unsigned int i;
	void *fdt;
	int its, gic, len;

	for (i = 0; i < AARCH64_MAX_CPUS; i++)
		mpidr[i] = 0x80000000 | (i & 15) | (uint64_t)(i >> 4) << 8;
	t_ref(&m);
	m.mpidr = mpidr;
	m.ncpus = AARCH64_MAX_CPUS; /* exactly fills the room to the UART */
	fdt = t_build(&m, &b);
	gic = t_node(fdt, "/intc@8000000");
	cr_assert_eq(fdt_node_check_compatible(fdt, gic, "arm,gic-v3"), 0);
	cr_assert(t_has(fdt, "/intc@8000000", "interrupt-controller"));
	cr_assert_eq(t_u32(fdt, "/intc@8000000", "#interrupt-cells"), 3);
	cr_assert_eq(t_u32(fdt, "/intc@8000000", "#redistributor-regions"), 1);
	c = t_cells(fdt, "/intc@8000000", "reg", 8);
	cr_assert_eq(t_cell64(c), AARCH64_GIC_DIST_BASE);
	cr_assert_eq(t_cell64(c + 2), 0x10000);
	cr_assert_eq(t_cell64(c + 4), AARCH64_GIC_REDIST_BASE);
	cr_assert_eq(t_cell64(c + 6), AARCH64_MAX_CPUS * 0x20000ull);
	cr_assert_eq(t_cell64(c + 4) + t_cell64(c + 6), AARCH64_UART_BASE);
	/* The maintenance interrupt: PPI 9, level-high. */
	c = t_cells(fdt, "/intc@8000000", "interrupts", 3);
	cr_assert_eq(fdt32_to_cpu(c[0]), 1);
	cr_assert_eq(fdt32_to_cpu(c[1]), 9);
	cr_assert_eq(fdt32_to_cpu(c[2]), 4);

	its = t_node(fdt, "/intc@8000000/its@8080000");
	cr_assert_eq(fdt_parent_offset(fdt, its), gic);
	cr_assert_eq(fdt_node_check_compatible(fdt, its, "arm,gic-v3-its"), 0);
	cr_assert_not_null(fdt_getprop(fdt, its, "msi-controller", &len));
	cr_assert_eq(len, 0);
	cr_assert_eq(t_u32(fdt, "/intc@8000000/its@8080000", "#msi-cells"), 1);
	c = t_cells(fdt, "/intc@8000000/its@8080000", "reg", 4);
	cr_assert_eq(t_cell64(c), AARCH64_GIC_ITS_BASE);
	cr_assert_eq(t_cell64(c + 2), 0x20000);
	cr_assert_eq(fdt_get_phandle(fdt, its), FDT_MACHINE_PHANDLE_ITS);
}

Test(fdt, timer_ppis)
{
	static struct t_blob b;
	static const uint32_t want[12] = {1, 13, 4, 1, 14, 4,
					  1, 11, 4, 1, 10, 4};
	struct fdt_machine m;
	const fdt32_t *c;
	unsigned int i;
	void *fdt;

	t_ref(&m);
	fdt = t_build(&m, &b);
	cr_assert_eq(fdt_node_check_compatible(fdt, t_node(fdt, "/timer"),
					       "arm,armv8-timer"),
		     0);
	c = t_cells(fdt, "/timer", "interrupts", 12);
	for (i = 0; i < 12; i++)
		cr_assert_eq(fdt32_to_cpu(c[i]), want[i], "cell %u", i);
	cr_assert(t_has(fdt, "/timer", "always-on"));
}

Test(fdt, uart_clock_and_stdout_path)
{
	static struct t_blob b;
	struct fdt_machine m;
	const fdt32_t *c;
	const char *stdout_path;
	void *fdt;
	int uart, clk;

	t_ref(&m);
	fdt = t_build(&m, &b);
	uart = t_node(fdt, "/pl011@9000000");
	cr_assert_eq(fdt_node_check_compatible(fdt, uart, "arm,pl011"), 0);
	cr_assert_eq(fdt_node_check_compatible(fdt, uart, "arm,primecell"), 0);
	c = t_cells(fdt, "/pl011@9000000", "reg", 4);
	cr_assert_eq(t_cell64(c), AARCH64_UART_BASE);
	cr_assert_eq(t_cell64(c + 2), 0x1000);
	c = t_cells(fdt, "/pl011@9000000", "interrupts", 3);
	cr_assert_eq(fdt32_to_cpu(c[0]), 0); /* SPI */
	cr_assert_eq(fdt32_to_cpu(c[1]), AARCH64_UART_SPI);
	cr_assert_eq(fdt32_to_cpu(c[2]), 4);
	/* Both clocks ("uartclk", "apb_pclk") are the fixed clock. */
	c = t_cells(fdt, "/pl011@9000000", "clocks", 2);
	clk = t_phandle_target(fdt, c);
	cr_assert_eq(t_phandle_target(fdt, c + 1), clk);
	cr_assert_eq(clk, t_node(fdt, "/apb-pclk"));
	cr_assert_eq(fdt_node_check_compatible(fdt, clk, "fixed-clock"), 0);
	cr_assert_eq(t_u32(fdt, "/apb-pclk", "clock-frequency"), 24000000);
	cr_assert_eq(t_u32(fdt, "/apb-pclk", "#clock-cells"), 0);
	cr_assert_eq(
		fdt_stringlist_search(fdt, uart, "clock-names", "apb_pclk"), 1);
	/* stdout-path names the UART node itself. */
	stdout_path =
		fdt_getprop(fdt, t_node(fdt, "/chosen"), "stdout-path", NULL);
	cr_assert_not_null(stdout_path);
	cr_assert_eq(fdt_path_offset(fdt, stdout_path), uart);
}

Test(fdt, chosen_with_initrd)
{
	static struct t_blob b;
	struct fdt_machine m;
	void *fdt;

	t_ref(&m);
	fdt = t_build(&m, &b);
	t_str(fdt, "/chosen", "bootargs", t_ref_bootargs);
	cr_assert_eq(t_cell64(t_cells(fdt, "/chosen", "linux,initrd-start", 2)),
		     T_REF_INITRD_BASE);
	cr_assert_eq(t_cell64(t_cells(fdt, "/chosen", "linux,initrd-end", 2)),
		     T_REF_INITRD_BASE + T_REF_INITRD_SIZE);
}

Test(fdt, chosen_without_initrd_or_bootargs)
{
	static struct t_blob b;
	struct fdt_machine m;
	void *fdt;
	int len;

	t_ref(&m);
	m.initrd_size = 0;
	m.bootargs = NULL;
	fdt = t_build(&m, &b);
	cr_assert_null(fdt_getprop(fdt, t_node(fdt, "/chosen"),
				   "linux,initrd-start", &len));
	cr_assert_eq(len, -FDT_ERR_NOTFOUND);
	cr_assert_null(fdt_getprop(fdt, t_node(fdt, "/chosen"),
				   "linux,initrd-end", &len));
	cr_assert_eq(len, -FDT_ERR_NOTFOUND);
	t_str(fdt, "/chosen", "bootargs", "");
	t_str(fdt, "/chosen", "stdout-path", "/pl011@9000000");
}

Test(fdt, boot_timer_node_only_when_asked)
{
	static struct t_blob b;
	struct fdt_machine m;
	const fdt32_t *c;
	void *fdt;

	t_ref(&m);
	fdt = t_build(&m, &b);
	c = t_cells(fdt, "/boot-timer@9010000", "reg", 4);
	cr_assert_eq(t_cell64(c), AARCH64_BOOT_TIMER_BASE);
	cr_assert_eq(t_cell64(c + 2), 0x1000);
	t_str(fdt, "/boot-timer@9010000", "compatible", "microvm,boot-timer");

	m.boot_timer = false;
	fdt = t_build(&m, &b);
	cr_assert_eq(fdt_path_offset(fdt, "/boot-timer@9010000"),
		     -FDT_ERR_NOTFOUND);
}

Test(fdt, pvpanic_node_only_when_asked)
{
	static struct t_blob b;
	struct fdt_machine m;
	const fdt32_t *c;
	void *fdt;

	t_ref(&m);
	fdt = t_build(&m, &b);
	cr_assert_eq(fdt_path_offset(fdt, "/pvpanic@9020000"),
		     -FDT_ERR_NOTFOUND, "the reference has no pvpanic");

	m.pvpanic = true;
	fdt = t_build(&m, &b);
	c = t_cells(fdt, "/pvpanic@9020000", "reg", 4);
	cr_assert_eq(t_cell64(c), AARCH64_PVPANIC_BASE);
	cr_assert_eq(t_cell64(c + 2), AARCH64_PVPANIC_SIZE);
	t_str(fdt, "/pvpanic@9020000", "compatible", "qemu,pvpanic-mmio");
}

/* ---- PCIe host bridge ---- */

#define T_PCI "/pcie@30000000"

/* Decode the ranges entries of T_PCI into (space, pci, cpu, size). */
struct t_range {
	uint32_t space;
	uint64_t pci, cpu, size;
};

static int t_ranges(const void *fdt, struct t_range *r, int max)
{
	int len, i, n;
	const fdt32_t *c = fdt_getprop(fdt, t_node(fdt, T_PCI), "ranges", &len);

	cr_assert_not_null(c);
	cr_assert_eq(len % 28, 0, "ranges is %d bytes, not 7-cell entries",
		     len);
	n = len / 28;
	cr_assert_leq(n, max);
	for (i = 0; i < n; i++, c += 7) {
		r[i].space = fdt32_to_cpu(c[0]);
		r[i].pci = t_cell64(c + 1);
		r[i].cpu = t_cell64(c + 3);
		r[i].size = t_cell64(c + 5);
	}
	return n;
}

static void t_check_ranges(const void *fdt, const struct fdt_machine *m)
{
	struct t_range r[4];

	cr_assert_eq(t_ranges(fdt, r, 4), 2);
	cr_assert_eq(r[0].space, 0x02000000); /* 32-bit, non-prefetchable */
	cr_assert_eq(r[0].pci, m->pci_low.base);
	cr_assert_eq(r[0].cpu, m->pci_low.base);
	cr_assert_eq(r[0].size, m->pci_low.size);
	cr_assert_leq(r[0].cpu + r[0].size, 1ull << 32);
	cr_assert_eq(r[1].space, 0x43000000); /* 64-bit, prefetchable */
	cr_assert_eq(r[1].pci, m->pci_high.base);
	cr_assert_eq(r[1].cpu, m->pci_high.base);
	cr_assert_eq(r[1].size, m->pci_high.size);
}

Test(fdt, pci_host_bridge_basics)
{
	static struct t_blob b;
	struct fdt_machine m;
	const fdt32_t *c;
	void *fdt;
	int its, pci;

	t_ref(&m);
	fdt = t_build(&m, &b);
	pci = t_node(fdt, T_PCI);
	cr_assert_eq(
		fdt_node_check_compatible(fdt, pci, "pci-host-ecam-generic"),
		0);
	t_str(fdt, T_PCI, "device_type", "pci");
	cr_assert_eq(t_u32(fdt, T_PCI, "#address-cells"), 3);
	cr_assert_eq(t_u32(fdt, T_PCI, "#size-cells"), 2);
	cr_assert_eq(t_u32(fdt, T_PCI, "#interrupt-cells"), 1);
	c = t_cells(fdt, T_PCI, "reg", 4);
	cr_assert_eq(t_cell64(c), AARCH64_PCI_ECAM_BASE);
	cr_assert_eq(t_cell64(c + 2), 256 * T_MiB); /* buses 0-255 */
	c = t_cells(fdt, T_PCI, "bus-range", 2);
	cr_assert_eq(fdt32_to_cpu(c[0]), 0);
	cr_assert_eq(fdt32_to_cpu(c[1]), 255);
	cr_assert(t_has(fdt, T_PCI, "dma-coherent"));
	t_check_ranges(fdt, &m);

	/* msi-map = <rid-base &its msi-base length>: every RID to the ITS. */
	c = t_cells(fdt, T_PCI, "msi-map", 4);
	cr_assert_eq(fdt32_to_cpu(c[0]), 0);
	its = t_phandle_target(fdt, c + 1);
	cr_assert_eq(its, t_node(fdt, "/intc@8000000/its@8080000"));
	cr_assert_eq(fdt32_to_cpu(c[2]), 0);
	cr_assert_eq(fdt32_to_cpu(c[3]), 0x10000);
}

/*
 * Resolve INTx pin `pin` of root-bus device `dev` (bus `bus`, function `fn`)
 * the way Linux's of_irq_parse_raw() does: mask the child unit address and
 * pin, find the matching interrupt-map entry, return its GIC specifier.
 */
static void t_intx(const void *fdt, unsigned int bus, unsigned int dev,
		   unsigned int fn, unsigned int pin, uint32_t out[3])
{
	const fdt32_t *mask = t_cells(fdt, T_PCI, "interrupt-map-mask", 4);
	uint32_t key[4] = {bus << 16 | dev << 11 | fn << 8, 0, 0, pin};
	int len, i, k, hits = 0;
	const fdt32_t *map =
		fdt_getprop(fdt, t_node(fdt, T_PCI), "interrupt-map", &len);

	cr_assert_not_null(map);
	for (k = 0; k < 4; k++)
		key[k] &= fdt32_to_cpu(mask[k]);
	for (i = 0; i < len / 40; i++) {
		const fdt32_t *e = map + 10 * i;

		for (k = 0; k < 4; k++)
			if (fdt32_to_cpu(e[k]) != key[k])
				break;
		if (k < 4)
			continue;
		cr_assert_eq(t_phandle_target(fdt, e + 4),
			     t_node(fdt, "/intc@8000000"));
		for (k = 0; k < 3; k++)
			out[k] = fdt32_to_cpu(e[7 + k]);
		hits++;
	}
	cr_assert_eq(hits, 1, "%u:%u.%u pin %u matches %d entries", bus, dev,
		     fn, pin, hits);
}

Test(fdt, pci_interrupt_map_swizzles_four_pins)
{
	static struct t_blob b;
	struct fdt_machine m;
	const fdt32_t *c;
	unsigned int d, p, i;
	uint32_t spec[3];
	void *fdt;
	int len;

	t_ref(&m);
	fdt = t_build(&m, &b);
	/* Device number mod 4 (phys.hi bits 12:11) and the pin. */
	c = t_cells(fdt, T_PCI, "interrupt-map-mask", 4);
	cr_assert_eq(fdt32_to_cpu(c[0]), 0x1800);
	cr_assert_eq(fdt32_to_cpu(c[1]), 0);
	cr_assert_eq(fdt32_to_cpu(c[2]), 0);
	cr_assert_eq(fdt32_to_cpu(c[3]), 7);

	/* 4 slots x 4 pins, 10 cells each (3 + 1 + phandle + 2 + 3). */
	c = fdt_getprop(fdt, t_node(fdt, T_PCI), "interrupt-map", &len);
	cr_assert_not_null(c);
	cr_assert_eq(len, 4 * 4 * 10 * 4);
	for (i = 0; i < 16; i++, c += 10) {
		d = i / 4;
		p = i % 4 + 1;
		cr_assert_eq(fdt32_to_cpu(c[0]), d << 11, "entry %u", i);
		cr_assert_eq(fdt32_to_cpu(c[1]) | fdt32_to_cpu(c[2]), 0);
		cr_assert_eq(fdt32_to_cpu(c[3]), p);
		cr_assert_eq(fdt32_to_cpu(c[4]), FDT_MACHINE_PHANDLE_GIC);
		cr_assert_eq(fdt32_to_cpu(c[5]) | fdt32_to_cpu(c[6]), 0);
		cr_assert_eq(fdt32_to_cpu(c[7]), 0, "entry %u not an SPI", i);
		cr_assert_eq(fdt32_to_cpu(c[8]), 3 + (d + p - 1) % 4,
			     "device %u pin %u", d, p);
		cr_assert_eq(fdt32_to_cpu(c[9]), 4, "entry %u not level", i);
	}

	/*
	 * Every pin of every slot resolves to exactly one entry, the one
	 * vmm/arch.h's rule names, whatever the root port's function.
	 */
	for (d = 0; d < 32; d++)
		for (p = 1; p <= 4; p++) {
			t_intx(fdt, 0, d, d % 8, p, spec);
			cr_assert_eq(spec[0], 0);
			cr_assert_eq(spec[1], 3 + (d + p - 1) % 4,
				     "device %u pin %u", d, p);
			cr_assert_eq(spec[2], 4);
		}
	/* INTA-INTD of slot 0 are SPIs 3-6; slot 1 rotates by one. */
	for (p = 1; p <= 4; p++) {
		t_intx(fdt, 0, 0, 0, p, spec);
		cr_assert_eq(spec[1], 2 + p);
	}
	t_intx(fdt, 0, 1, 0, 1, spec);
	cr_assert_eq(spec[1], 4);
	t_intx(fdt, 0, 1, 7, 4, spec);
	cr_assert_eq(spec[1], 3);
	/* The bus number (bus_first need not be 0) is masked out too. */
	t_intx(fdt, 5, 31, 3, 2, spec);
	cr_assert_eq(spec[1], 3 + (31 + 2 - 1) % 4);
}

Test(fdt, pci_bus_range_and_ecam_follow_description)
{
	static struct t_blob b;
	struct fdt_machine m;
	const fdt32_t *c;
	void *fdt;

	t_ref(&m);
	m.bus_first = 16;
	m.bus_last = 31;
	m.ecam_base = 0x3f000000;
	m.pci_intx_spi = 40;
	fdt = t_build(&m, &b);
	c = t_cells(fdt, "/pcie@3f000000", "reg", 4);
	cr_assert_eq(t_cell64(c), 0x3f000000);
	cr_assert_eq(t_cell64(c + 2), 16 * T_MiB);
	c = t_cells(fdt, "/pcie@3f000000", "bus-range", 2);
	cr_assert_eq(fdt32_to_cpu(c[0]), 16);
	cr_assert_eq(fdt32_to_cpu(c[1]), 31);
	c = t_cells(fdt, "/pcie@3f000000", "interrupt-map", 160);
	cr_assert_eq(fdt32_to_cpu(c[10 * 5 + 8]), 40 + (1 + 2 - 1) % 4);
}

Test(fdt, pci_empty_high_window_left_out)
{
	static struct t_blob b;
	struct t_range r[4];
	struct fdt_machine m;
	void *fdt;

	t_ref(&m);
	m.pci_high.size = 0;
	fdt = t_build(&m, &b);
	cr_assert_eq(t_ranges(fdt, r, 4), 1);
	cr_assert_eq(r[0].space, 0x02000000);
	cr_assert_eq(r[0].cpu, m.pci_low.base);
}

/* The planner with arch/aarch64/layout.h's limits (what arch code passes). */
static void t_plan_input(struct pci_plan_input *in)
{
	pci_plan_input_init(in);
	in->low_floor = AARCH64_PCI_LOW_FLOOR;
	in->low_top = AARCH64_PCI_LOW_TOP;
	in->hole_default = AARCH64_PCI_LOW_FLOOR; /* no RAM below the window */
	in->high_floor = AARCH64_PCI_HIGH_FLOOR;
	in->phys_bits = 40; /* KVM's default IPA size */
}

Test(fdt, reference_windows_are_the_planners)
{
	static struct pci_plan plan;
	struct pci_plan_input in;
	struct fdt_machine m;
	char err[256] = "";

	t_plan_input(&in);
	cr_assert_eq(pci_plan_build(&in, &plan, err, sizeof(err)), 0, "%s",
		     err);
	fdt_machine_init(&m);
	cr_assert_eq(plan.low.base, m.pci_low.base);
	cr_assert_eq(plan.low.size, m.pci_low.size);
	cr_assert_eq(plan.high.base, m.pci_high.base);
	cr_assert_eq(plan.high.size, m.pci_high.size);
	cr_assert_eq(plan.bus_first, m.bus_first);
	cr_assert_eq(plan.bus_last, m.bus_last);
}

/* The field report's 8 GPUs and 6 NVSwitches, planned, then described. */
Test(fdt, pci_ranges_from_a_gpu_plan)
{
	static struct pci_plan plan;
	static struct t_blob b;
	struct pci_dev_req dev[14];
	struct pci_plan_input in;
	struct fdt_machine m;
	char err[256] = "";
	unsigned int i;
	void *fdt;

	for (i = 0; i < 14; i++)
		cr_assert_eq(pci_testdev_parse(i < 8 ? "bar0=16M:32,"
						       "bar1=128G:64pref,"
						       "bar3=32M:64pref"
						     : "bar0=32M:32",
					       i, &dev[i], err, sizeof(err)),
			     0, "%s", err);
	t_plan_input(&in);
	in.devs = dev;
	in.ndevs = 14;
	in.phys_bits = 44; /* 8 x 128 GiB BARs need more than 40 bits */
	cr_assert_eq(pci_plan_build(&in, &plan, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_geq(plan.low.need, 320 * T_MiB);

	t_ref(&m);
	m.pci_low = plan.low;
	m.pci_high = plan.high;
	fdt = t_build(&m, &b);
	t_check_ranges(fdt, &m);
	cr_assert_geq(m.pci_low.base, AARCH64_PCI_LOW_FLOOR);
	cr_assert_leq(m.pci_low.base + m.pci_low.size, AARCH64_RAM_BASE);
	cr_assert_geq(m.pci_high.base, AARCH64_PCI_HIGH_FLOOR);
}

/* ---- errors ---- */

static void t_build_err(const struct fdt_machine *m, int want,
			const char *needle)
{
	static struct t_blob b;
	char err[256] = "";
	int r = fdt_machine_build(m, &b, sizeof(b), err, sizeof(err));

	cr_assert_eq(r, want, "got %d (%s), want %d", r, err, want);
	cr_assert_not_null(strstr(err, needle), "message \"%s\" lacks \"%s\"",
			   err, needle);
}

Test(fdt, error_buffer_too_small)
{
	static struct t_blob b;
	struct fdt_machine m;
	char err[256] = "";
	size_t len;

	t_ref(&m);
	t_build(&m, &b);
	len = fdt_totalsize(&b);
	/* One byte short of the blob, a header's worth, nothing at all. */
	cr_assert_eq(fdt_machine_build(&m, &b, len - 1, err, sizeof(err)),
		     -ENOSPC);
	cr_assert_not_null(strstr(err, "does not fit in a"), "%s", err);
	cr_assert_eq(fdt_machine_build(&m, &b, 40, err, sizeof(err)), -ENOSPC);
	cr_assert_eq(fdt_machine_build(&m, &b, 0, NULL, 0), -ENOSPC);
	/* Exactly the blob's size is enough. */
	cr_assert_eq(fdt_machine_build(&m, &b, len, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(fdt_totalsize(&b), len);
}

Test(fdt, error_unaligned_buffer)
{
	static struct t_blob b;
	struct fdt_machine m;
	char err[256] = "";

	t_ref(&m);
	cr_assert_eq(fdt_machine_build(&m, (char *)&b + 4, sizeof(b) - 8, err,
				       sizeof(err)),
		     -EINVAL);
	cr_assert_not_null(strstr(err, "8-byte aligned"), "%s", err);
}

Test(fdt, error_vcpu_counts)
{
	static uint64_t mpidr[FDT_MACHINE_MAX_CPUS + 1];
	struct fdt_machine m;
	unsigned int i;

	for (i = 0; i <= FDT_MACHINE_MAX_CPUS; i++)
		mpidr[i] = 0x80000000 | (i & 15) | (uint64_t)(i >> 4) << 8;
	t_ref(&m);
	m.ncpus = 0;
	t_build_err(&m, -EINVAL, "no vCPUs");

	/* One more than the layout has redistributor room for. */
	m.mpidr = mpidr;
	m.ncpus = AARCH64_MAX_CPUS + 1;
	t_build_err(&m, -EINVAL,
		    "GIC redistributors for 124 vCPUs [0x80a0000, 0x9020000) "
		    "overlaps UART [0x9000000, 0x9001000): too many vCPUs");

	m.ncpus = FDT_MACHINE_MAX_CPUS + 1;
	t_build_err(&m, -E2BIG, "513 vCPUs: at most 512");
}

Test(fdt, error_duplicate_mpidr)
{
	/* Only bit 31 differs: the same affinity, the same cpu node. */
	static const uint64_t mpidr[] = {0x80000000, 0x80000001, 0x00000001};
	struct fdt_machine m;

	t_ref(&m);
	m.mpidr = mpidr;
	m.ncpus = 3;
	t_build_err(&m, -EINVAL,
		    "vCPUs 1 and 2 have the same MPIDR affinity 0x1");
}

Test(fdt, error_bad_ram_and_initrd)
{
	struct fdt_mem_region mem[2] = {
		{AARCH64_RAM_BASE, 256 * T_MiB},
		{0x7e000000, 0x4000000}, /* runs into the low window */
	};
	struct fdt_machine m;

	t_ref(&m);
	m.nmem = 0;
	t_build_err(&m, -EINVAL, "no RAM");

	m.mem = mem;
	m.nmem = 2;
	t_build_err(&m, -EINVAL,
		    "PCIe low window [0x7c000000, 0x80000000) overlaps RAM "
		    "region 1 [0x7e000000, 0x82000000)");

	mem[1].size = 0;
	t_build_err(&m, -EINVAL, "RAM region 1 has size 0");

	t_ref(&m);
	m.initrd_base = AARCH64_RAM_BASE + 256 * T_MiB - 0x1000;
	t_build_err(&m, -EINVAL, "is not inside one RAM region");
	m.initrd_base = 0x1000;
	t_build_err(&m, -EINVAL, "initrd [0x1000, 0x346000)");
}

Test(fdt, error_bad_pci_description)
{
	struct fdt_machine m;

	t_ref(&m);
	m.pci_low.base = 0xf0000000;
	m.pci_low.size = 0x20000000;
	t_build_err(&m, -EINVAL, "is not below 4 GiB");

	t_ref(&m);
	m.bus_first = 3;
	m.bus_last = 2;
	t_build_err(&m, -EINVAL, "bus range 3-2");

	t_ref(&m);
	m.ecam_base = 0x3ff00000; /* 256 buses from here reach the window */
	m.pci_low.base = 0x40000000;
	t_build_err(&m, -EINVAL,
		    "PCIe ECAM [0x3ff00000, 0x4ff00000) overlaps "
		    "PCIe low window");

	t_ref(&m);
	m.pci_high.base = UINT64_MAX - 0xfff;
	t_build_err(&m, -EINVAL, "wraps past the end");

	t_ref(&m);
	m.pci_intx_spi = 986;
	t_build_err(&m, -EINVAL, "SPI beyond 987");
}
