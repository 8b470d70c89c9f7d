/* tiny.c: the aarch64 tiny bare-metal guest's test modes, chosen by tiny.mode= in the FDT's /chosen/bootargs; addresses come from the FDT too. */
#include "board.h"
#include "dt.h"
#include "edu.h"
#include "pci.h"

#include "arch/aarch64/layout.h"

#define MAX_CPUS     512 /* FDT_MACHINE_MAX_CPUS */
#define SMP_WAIT_SEC 10

static struct dt dt;
static bool have_dt;
static unsigned int root_ac = 2,
		    root_sc = 1; /* the root's #address/#size-cells */
static uint64_t cpu_mpidr[MAX_CPUS];
static unsigned int ncpus;
static volatile bool secondary_bad;
volatile uint32_t secondary_up;

static void note(const char *what, uint64_t fallback)
{
	puts_uart("TINY: note: ");
	puts_uart(what);
	puts_uart(", using layout.h's ");
	put_hex(fallback);
	puts_uart("\n");
}

/* The first reg entry's address (a node on the root: the root's cells). */
static bool reg_of(int node, uint64_t *addr, uint64_t *size)
{
	uint32_t len;
	const uint8_t *reg = dt_prop(&dt, node, "reg", &len);

	if (!reg || len < 4 * (root_ac + root_sc))
		return false;
	*addr = dt_cells(reg, root_ac);
	if (size)
		*size = dt_cells(reg + 4 * root_ac, root_sc);
	return true;
}

/*
 * The console: the node /chosen/stdout-path names (a path or an alias, up to
 * any ":options"), if it is a PL011; else the first PL011; else layout.h's.
 * Returns what to say about it once it can be said.
 */
static const char *find_uart(void)
{
	int chosen = dt_path(&dt, "/chosen"), node = -1;
	const char *sp = dt_prop_str(&dt, chosen, "stdout-path");
	char path[128];
	size_t n = 0;

	if (sp) {
		while (sp[n] && sp[n] != ':' && n + 1 < sizeof(path)) {
			path[n] = sp[n];
			n++;
		}
		path[n] = 0;
		if (path[0] == '/') {
			node = dt_path(&dt, path);
		} else {
			const char *alias = dt_prop_str(
				&dt, dt_path(&dt, "/aliases"), path);

			node = alias ? dt_path(&dt, alias) : -1;
		}
		if (node >= 0 && dt_compatible(&dt, node, "arm,pl011") &&
		    reg_of(node, &board.uart, 0))
			return 0;
	}
	node = dt_find_compatible(&dt, -1, "arm,pl011");
	if (node >= 0 && reg_of(node, &board.uart, 0))
		return sp ? "stdout-path is no PL011; the first arm,pl011 node"
			  : "no /chosen/stdout-path; the first arm,pl011 node";
	board.uart = AARCH64_UART_BASE;
	return "no arm,pl011 node";
}

/* The PSCI conduit from /psci's method ("hvc" or "smc"). */
static void find_psci(void)
{
	int node = dt_find_compatible(&dt, -1, "arm,psci-0.2");
	const char *method;

	if (node < 0) {
		puts_uart("TINY: note: no arm,psci-0.2 node, assuming "
			  "PSCI 0.2 function IDs\n");
		node = dt_path(&dt, "/psci");
	}
	method = dt_prop_str(&dt, node, "method");
	if (method && str_eq(method, "smc")) {
		board.smc = true;
	} else if (!method || !str_eq(method, "hvc")) {
		puts_uart("TINY: note: no psci method, using hvc\n");
	}
}

/* /cpus: each cpu node's reg is its MPIDR (#address-cells 1 or 2). */
static void find_cpus(void)
{
	int cpus = dt_path(&dt, "/cpus");
	unsigned int ac = dt_prop_u32(&dt, cpus, "#address-cells", 2);

	ncpus = 0;
	for (int c = dt_first_child(&dt, cpus); c >= 0 && ncpus < MAX_CPUS;
	     c = dt_next_sibling(&dt, c)) {
		const char *type = dt_prop_str(&dt, c, "device_type");
		uint32_t len;
		const uint8_t *reg = dt_prop(&dt, c, "reg", &len);

		if (!type || !str_eq(type, "cpu") || !reg || len < 4 * ac ||
		    ac < 1 || ac > 2)
			continue;
		cpu_mpidr[ncpus++] = dt_cells(reg, ac) & MPIDR_AFF_MASK;
	}
}

/* The pci-host-ecam-generic node's reg, bus-range and memory ranges. */
static void find_ecam(struct ecam *e)
{
	int node = dt_find_compatible(&dt, -1, "pci-host-ecam-generic");
	uint64_t size = AARCH64_PCI_ECAM_SIZE;
	uint32_t len;
	const uint8_t *p;
	unsigned int ac, sc, entry;

	e->mem_base = e->mem_size = e->pref_base = e->pref_size = 0;
	e->bus_first = 0;
	e->bus_last = 255;
	if (node < 0 || !reg_of(node, &e->base, &size)) {
		e->base = AARCH64_PCI_ECAM_BASE;
		note("no pci-host-ecam-generic node with a reg", e->base);
	}
	p = dt_prop(&dt, node, "bus-range", &len);
	if (p && len == 8) {
		e->bus_first = dt_be32(p) & 0xff;
		e->bus_last = dt_be32(p + 4) & 0xff;
	} else {
		puts_uart("TINY: note: no bus-range, assuming 0-255\n");
	}
	if (e->bus_last < e->bus_first ||
	    size < ((uint64_t)(e->bus_last - e->bus_first + 1) << 20)) {
		puts_uart("TINY: pci FAIL ecam reg ");
		put_hex(size);
		puts_uart(" is too small for the bus-range\n");
		e->bus_last = e->bus_first + (unsigned int)(size >> 20) - 1;
	}
	/* ranges: <phys.hi pci.mid pci.lo> <cpu address> <size>. */
	ac = dt_prop_u32(&dt, node, "#address-cells", 3);
	sc = dt_prop_u32(&dt, node, "#size-cells", 2);
	entry = 4 * (ac + root_ac + sc);
	p = dt_prop(&dt, node, "ranges", &len);
	if (!p || ac != 3 || sc < 1 || sc > 2) {
		puts_uart("TINY: note: no usable ranges, windows unchecked\n");
		return;
	}
	for (uint32_t off = 0; off + entry <= len; off += entry) {
		uint32_t hi = dt_be32(p + off);
		uint64_t pci = dt_cells(p + off + 4, 2);
		uint64_t cpu = dt_cells(p + off + 12, root_ac);
		uint64_t sz = dt_cells(p + off + 12 + 4 * root_ac, sc);

		puts_uart("TINY: pci range ");
		put_hex(hi);
		puts_uart(" pci ");
		put_hex(pci);
		puts_uart(" cpu ");
		put_hex(cpu);
		puts_uart(" size ");
		put_hex(sz);
		puts_uart("\n");
		/* I/O space (1) is never identity-mapped, and unused. */
		if (((hi >> 24) & 3) >= 2 && pci != cpu)
			puts_uart("TINY: note: memory range is not "
				  "identity-mapped; BARs are checked as PCI "
				  "addresses\n");
		if (((hi >> 24) & 3) == 2) {
			e->mem_base = pci;
			e->mem_size = sz;
		} else if (((hi >> 24) & 3) == 3) {
			e->pref_base = pci;
			e->pref_size = sz;
		}
	}
}

static void mode_pci(const char *bootargs)
{
	char list[4] = "1";
	struct ecam e;

	cmdline_get(bootargs, "tiny.list", list, sizeof(list));
	find_ecam(&e);
	pci_walk(&e, !str_eq(list, "0"));
}

/*
 * QEMU's edu through VFIO: ID, liveness and DMA both ways. No interrupt
 * test: its MSI goes to the ITS, which this guest does not program.
 */
static void mode_edu(void)
{
	struct ecam e;

	find_ecam(&e);
	tiny_edu_run(&e, 0);
}

static uint64_t counter(void)
{
	__asm__ volatile("isb" ::: "memory");
	return read_sysreg(cntvct_el0);
}

static void mode_smp(void)
{
	uint64_t self = read_sysreg(mpidr_el1) & MPIDR_AFF_MASK;
	uint64_t freq = read_sysreg(cntfrq_el0);
	uint64_t entry = (uint64_t)(uintptr_t)secondary_entry;
	unsigned int up = 1, boot = MAX_CPUS;

	find_cpus();
	for (unsigned int i = 0; i < ncpus; i++)
		if (cpu_mpidr[i] == self)
			boot = i;
	puts_uart("TINY: smp cpus ");
	put_dec(ncpus);
	puts_uart(" boot mpidr ");
	put_hex(self);
	puts_uart("\n");
	if (boot == MAX_CPUS) {
		puts_uart("TINY: smp FAIL the boot CPU is not in /cpus\n");
		return;
	}
	if (!freq)
		freq = 1000000000; /* a counter at 1 GHz at most */
	for (unsigned int i = 0; i < ncpus; i++) {
		int64_t r;
		uint64_t t0;

		if (i == boot)
			continue;
		secondary_up = UINT32_MAX;
		r = psci_call(PSCI_CPU_ON_64, cpu_mpidr[i], entry, i);
		if (r) {
			puts_uart("TINY: smp FAIL CPU_ON cpu ");
			put_dec(i);
			puts_uart(r < 0 ? " returned -" : " returned ");
			put_dec(r < 0 ? (uint64_t)-r : (uint64_t)r);
			puts_uart("\n");
			continue;
		}
		t0 = counter();
		while (secondary_up != i &&
		       counter() - t0 < SMP_WAIT_SEC * freq)
			;
		if (secondary_up != i) {
			puts_uart("TINY: smp FAIL cpu ");
			put_dec(i);
			puts_uart(" did not come up\n");
			continue;
		}
		up++;
	}
	puts_uart("TINY: smp cpus ");
	put_dec(ncpus);
	puts_uart(" up ");
	put_dec(up);
	puts_uart(up == ncpus && !secondary_bad ? "\nTINY: smp ok\n"
						: "\nTINY: smp FAIL\n");
}

uint32_t tiny_secondary(uint64_t index)
{
	uint64_t mpidr = read_sysreg(mpidr_el1) & MPIDR_AFF_MASK;

	puts_uart("TINY: cpu ");
	put_dec(index);
	puts_uart(" up mpidr ");
	put_hex(mpidr);
	puts_uart("\n");
	if (index >= ncpus || mpidr != cpu_mpidr[index]) {
		puts_uart("TINY: smp FAIL cpu's MPIDR is not its FDT reg\n");
		secondary_bad = true;
	}
	return (uint32_t)index;
}

void tiny_exception(uint64_t kind, uint64_t esr, uint64_t elr, uint64_t far)
{
	puts_uart("TINY: FAIL exception vector ");
	put_dec(kind);
	puts_uart(" esr ");
	put_hex(esr);
	puts_uart(" elr ");
	put_hex(elr);
	puts_uart(" far ");
	put_hex(far);
	puts_uart("\n");
	poweroff();
}

static void mode_psci_version(void)
{
	int64_t v = psci_call(PSCI_VERSION, 0, 0, 0);

	puts_uart("TINY: psci version ");
	put_dec((uint64_t)v >> 16 & 0xffff);
	puts_uart(".");
	put_dec((uint64_t)v & 0xffff);
	puts_uart(" (");
	put_hex((uint64_t)v);
	puts_uart(")\n");
}

static void mode_info(uint64_t fdt)
{
	int mem;

	puts_uart("TINY: fdt ");
	put_hex(fdt);
	puts_uart(" size ");
	put_hex(have_dt ? dt_totalsize(&dt) : 0);
	puts_uart(" uart ");
	put_hex(board.uart);
	puts_uart(board.smc ? " psci smc\n" : " psci hvc\n");
	for (mem = dt_first_child(&dt, dt_path(&dt, "/")); mem >= 0;
	     mem = dt_next_sibling(&dt, mem)) {
		const char *type = dt_prop_str(&dt, mem, "device_type");
		uint64_t base, size;

		if (type && str_eq(type, "memory") &&
		    reg_of(mem, &base, &size)) {
			puts_uart("TINY: memory ");
			put_hex(base);
			puts_uart(" size ");
			put_hex(size);
			puts_uart("\n");
		}
	}
	find_cpus();
	puts_uart("TINY: cpus ");
	put_dec(ncpus);
	puts_uart(" mpidr ");
	put_hex(read_sysreg(mpidr_el1) & MPIDR_AFF_MASK);
	puts_uart(" image ");
	put_hex((uint64_t)(uintptr_t)tiny_main);
	puts_uart("\n");
}

static void mode_marker(void)
{
	int node = dt_find_compatible(&dt, -1, "microvm,boot-timer");
	uint64_t base;

	if (node < 0 || !reg_of(node, &base, 0)) {
		base = AARCH64_BOOT_TIMER_BASE;
		note("no microvm,boot-timer node", base);
	}
	mmio_write32((volatile void *)(uintptr_t)base, 123);
	puts_uart("TINY: markers written\n");
}

void tiny_main(uint64_t fdt)
{
	const char *uart_note = 0, *bootargs = 0;
	char mode[32] = "hello";
	uint64_t el = read_sysreg(CurrentEL) >> 2 & 3;

	board.uart = AARCH64_UART_BASE;
	have_dt = dt_init(&dt, fdt);
	if (have_dt) {
		int root = dt_path(&dt, "/");

		root_ac = dt_prop_u32(&dt, root, "#address-cells", 2);
		root_sc = dt_prop_u32(&dt, root, "#size-cells", 1);
		uart_note = find_uart();
		bootargs =
			dt_prop_str(&dt, dt_path(&dt, "/chosen"), "bootargs");
	}
	cmdline_get(bootargs, "tiny.mode", mode, sizeof(mode));
	puts_uart("TINY: mode ");
	puts_uart(mode);
	puts_uart(" (arm64 Image entry, EL");
	put_dec(el);
	puts_uart(")\n");
	if (!have_dt) {
		puts_uart("TINY: FAIL no FDT at x0 ");
		put_hex(fdt);
		puts_uart(", using layout.h's addresses and hvc\n");
	} else {
		if (uart_note)
			note(uart_note, AARCH64_UART_BASE);
		find_psci();
	}
	if (el != 1)
		puts_uart("TINY: note: not entered at EL1\n");

	if (str_eq(mode, "hello")) {
		puts_uart("TINY: hello from the guest\n");
	} else if (str_eq(mode, "poweroff")) {
		/* Nothing to say: SYSTEM_OFF below. */
	} else if (str_eq(mode, "reboot")) {
		int64_t r = psci_call(PSCI_SYSTEM_RESET, 0, 0, 0);

		puts_uart("TINY: FAIL psci SYSTEM_RESET returned ");
		put_hex((uint64_t)r);
		puts_uart("\n");
	} else if (str_eq(mode, "psci-version")) {
		mode_psci_version();
	} else if (str_eq(mode, "info")) {
		mode_info(fdt);
	} else if (str_eq(mode, "pci")) {
		mode_pci(bootargs);
	} else if (str_eq(mode, "echo")) {
		tiny_echo();
	} else if (str_eq(mode, "edu")) {
		mode_edu();
	} else if (str_eq(mode, "smp")) {
		mode_smp();
	} else if (str_eq(mode, "marker")) {
		mode_marker();
	} else if (str_eq(mode, "spin")) {
		/* A vCPU that never exits to the VMM by itself. */
		for (;;)
			__asm__ volatile("msr daifset, #0xf" ::: "memory");
	} else if (str_eq(mode, "halt")) {
		halt_forever();
	} else if (str_eq(mode, "undef")) {
		/* The exception vectors report it (and power off). */
		__asm__ volatile("udf #0");
	} else {
		puts_uart("TINY: unknown mode ");
		puts_uart(mode);
		puts_uart(", powering off\n");
	}
	poweroff();
}
