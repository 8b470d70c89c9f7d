/* main.c: the microvm command line, a thin user of the libmicrovm API. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "microvm.h"
#include "vmm/parse.h"

/* Exit statuses: documented in --help and the README. */
enum {
	EXIT_POWEROFF = 0,
	EXIT_VMM_ERROR = 1,
	EXIT_USAGE = 2,
	EXIT_REBOOT = 3,
	EXIT_PANIC = 4,
	EXIT_TRIPLE_FAULT = 5,
	EXIT_STOPPED = 6,
	EXIT_HALTED = 7,
};

#define ESCAPE_CHAR 0x01 /* Ctrl-A */

struct cli {
	struct microvm_config cfg;
	bool plan; /* `microvm plan`: no kernel, no boot */
	const char *topology_json; /* --topology-json PATH */
	const char *timings_json; /* --timings-json PATH */
	const char **testdevs;
	unsigned int ntestdevs;
	struct microvm_disk *disks;
	struct microvm_net *nets;
	struct microvm_vsock vsock;
	struct microvm_vfio *vfio;
	bool vfio_iommu_given; /* some --vfio said iommu= */
	char **specs; /* copies the device structs point into */
	unsigned int nspecs;
	const char *console;
	int console_file_fd;
	bool raw_tty;
	struct termios saved_tio;
	volatile sig_atomic_t stop_signal;
	struct microvm *vm;
	pthread_t sig_thread;
};

/* Only for the fatal-signal handler, which must restore the terminal. */
static struct cli *cli_for_crash;

static const char usage_run[] =
	"Usage: microvm run --kernel PATH [OPTIONS]\n"
	"\n"
	"Boot a Linux kernel in a KVM microVM (x86_64: a bzImage, or an ELF\n"
	"vmlinux with a PVH note; aarch64: an Image, or a gzip-compressed one\n"
	"such as Debian's vmlinuz). The process lives exactly as long as the\n"
	"guest.\n"
	"\n"
	"Options:\n"
	"  --kernel PATH           kernel image (required)\n"
	"  --initrd PATH           initramfs / initrd\n"
	"  --cmdline STR           kernel command line (default on x86_64:\n"
	"                          \"" MICROVM_DEFAULT_CMDLINE "\", on "
	"aarch64:\n"
	"                          \"" MICROVM_DEFAULT_CMDLINE_AARCH64 "\")\n"
	"  --cpus N                vCPUs, 1.."
	"254"
	" (aarch64: 1..123; default 1)\n"
	"  --memory SIZE[,hugepages=on][,prefault=on][,charge-cgroup=PATH]\n"
	"                          guest RAM, e.g. 512M or 2G; a bare number "
	"is MiB\n"
	"                          (default 256M); hugepages=on backs it with "
	"2 MiB pages;\n"
	"                          prefault=on allocates all of it before "
	"boot;\n"
	"                          charge-cgroup=PATH allocates it from a "
	"helper process\n"
	"                          in that cgroup v2 memory cgroup, which it "
	"is then\n"
	"                          charged to (docs/embedding.md)\n"
	"  --vcpu-cgroup PATH      move the vCPU threads into that threaded "
	"cgroup v2,\n"
	"                          below this process's own, so its cpu.max "
	"limits them\n"
	"                          and not the VMM's other threads\n"
	"  --cpu-features LIST     x86 CPUID changes, e.g. -cx16,-xsave (Linux "
	"names)\n"
	"  --console MODE          stdio (default), file:PATH, or none; the "
	"console is a\n"
	"                          16550 UART (ttyS0; aarch64: a PL011, "
	"ttyAMA0). On a\n"
	"                          terminal, Ctrl-A x stops the VM and Ctrl-A "
	"Ctrl-A\n"
	"                          sends Ctrl-A.\n"
	"  --dump-fdt PATH         aarch64: write the device tree blob the "
	"guest boots\n"
	"                          with to PATH (dtc -I dtb PATH shows it)\n"
	"  --log-level LEVEL       error, warn (default), info or debug; logs "
	"go to stderr\n"
	"  -h, --help              show this help\n"
	"\n"
	"Devices (virtio over PCIe, each behind its own root port; see\n"
	"docs/virtio.md):\n"
	"  --disk PATH[,ro][,id=NAME]\n"
	"                          virtio-blk on a raw file or block device "
	"(io_uring);\n"
	"                          ro: guest writes fail; id: what the guest "
	"reads as\n"
	"                          serial. Repeatable.\n"
	"  --net tap=NAME[,mac=MAC]\n"
	"                          virtio-net on a tap interface. Repeatable.\n"
	"  --vsock cid=N,uds=PATH  virtio-vsock; guest connections to port P "
	"reach the\n"
	"                          Unix socket PATH_P; host programs connect "
	"to PATH and\n"
	"                          send \"CONNECT P\\n\". vhost=on uses "
	"/dev/vhost-vsock.\n"
	"  --virtio-console        the console on virtio-console (hvc0) "
	"instead of ttyS0;\n"
	"                          hvc0 follows this terminal's size\n"
	"  --rng                   virtio-rng, fed from getrandom(2) "
	"(/dev/hwrng)\n"
	"\n"
	"Passthrough (VFIO; see docs/vfio.md and `microvm vfio-check`):\n"
	"  --vfio BDF[,id=NAME][,iommu=auto|iommufd|legacy]\n"
	"                          pass the host PCI device BDF (0000:17:00.0 "
	"or\n"
	"                          17:00.0, bound to vfio-pci) through, behind "
	"its own\n"
	"                          root port; its BARs size the MMIO windows. "
	"The\n"
	"                          preflight runs first: a device that cannot "
	"be passed\n"
	"                          through is exit status 2 with the reason. "
	"Repeatable.\n"
	"                          iommu=: the DMA back-end of all devices "
	"(default\n"
	"                          auto: iommufd where /dev/iommu and the "
	"device's\n"
	"                          VFIO cdev exist, else the legacy "
	"container)\n"
	"\n"
	"PCIe (see docs/pcie.md; `microvm plan` shows the layout without "
	"booting):\n"
	"  --pcie-root-ports N     root ports, 1..256, packed 8 per device as "
	"functions\n"
	"                          (default: one per attached device)\n"
	"  --acs MASK|off          ACS capability bits on every root port "
	"(default 0x5f:\n"
	"                          SV|TB|RR|CR|UF|DT), or no ACS capability\n"
	"  --low-mmio SIZE         32-bit MMIO window below 4 GiB (default: "
	"sized from the\n"
	"                          devices, need + max(need/4, 64M))\n"
	"  --high-mmio SIZE        64-bit prefetchable window (default: need + "
	"max(need/4, 1G))\n"
	"  --pcie-buses FIRST-LAST bus range of the root complex (default: "
	"from "
	"0,\n"
	"                          one bus per root port)\n"
	"  --pci-testdev BARS      synthetic endpoint behind its own root "
	"port, e.g.\n"
	"                          "
	"bar0=16M:32,bar1=128G:64pref,bar3=32M:64pref\n"
	"                          (kinds 32, 32pref, 64, 64pref); repeatable\n"
	"  --topology-json PATH    write where every port and device landed, "
	"as JSON\n"
	"                          (docs/topology-json.md)\n"
	"\n"
	"Measurement:\n"
	"  --timings-json PATH     at exit, write phase timings, guest boot "
	"markers\n"
	"                          (boot timer, port 0x80), VMM CPU time and "
	"VM exits by\n"
	"                          reason and device (docs/timings-json.md)\n"
	"\n"
	"Exit status:\n"
	"  0  the guest powered off        4  the guest kernel panicked "
	"(pvpanic)\n"
	"  1  VMM or KVM error             5  triple fault (vCPU shutdown)\n"
	"  2  bad usage                    6  stopped from the console (Ctrl-A "
	"x)\n"
	"  3  the guest rebooted (any way) 7  every vCPU halted with "
	"interrupts off\n"
	"                                     (halt -f)\n"
	"  128+N  stopped by signal N (SIGINT: 130, SIGTERM: 143)\n";

static const char usage_top[] =
	"Usage: microvm COMMAND [OPTIONS]\n"
	"\n"
	"Commands:\n"
	"  run       boot a microVM (microvm run --help)\n"
	"  plan      print the PCIe layout `run` would build, without booting; "
	"takes\n"
	"            the same options (--kernel not needed); exits 2 if it "
	"does not fit\n"
	"  vfio-check BDF...\n"
	"            say whether host PCI devices can be passed through with "
	"VFIO,\n"
	"            and if not, why and how to fix it (microvm vfio-check "
	"--help)\n"
	"  version   print the version\n"
	"  help      show this help\n";

static void restore_tty(struct cli *c)
{
	if (c->raw_tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &c->saved_tio);
		c->raw_tty = false;
	}
}

static void crash_handler(int sig)
{
	if (cli_for_crash && cli_for_crash->raw_tty)
		tcsetattr(STDIN_FILENO, TCSANOW, &cli_for_crash->saved_tio);
	raise(sig); /* SA_RESETHAND: default action now */
}

static void log_to_stderr(void *opaque, enum microvm_log_level level,
			  const char *dev, const char *msg)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	struct cli *c = opaque;

	/* A raw terminal does not turn \n into \r\n for us. */
	fprintf(stderr, "microvm: %s: %s: %s%s", names[level], dev, msg,
		c->raw_tty ? "\r\n" : "\n");
}

static int usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("microvm: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'microvm run --help'.\n", stderr);
	return EXIT_USAGE;
}

static char *keep_spec(struct cli *c, const char *arg);

static int parse_memory(struct cli *c, const char *arg)
{
	/* Kept: charge-cgroup points into it. */
	char *s = keep_spec(c, arg), *opt;
	uint64_t v;
	int r;

	if (!s)
		return usage_error("out of memory");
	opt = strchr(s, ',');
	if (opt)
		*opt++ = 0;
	r = parse_size(s, 1ull << 20, &v);
	if (r < 0 || v == 0)
		return usage_error(
			"--memory: invalid size '%s' (try 512M or 2G)", arg);
	c->cfg.memory = v;
	while (opt && *opt) {
		char *next = strchr(opt, ',');

		if (next)
			*next++ = 0;
		if (!strcmp(opt, "hugepages=on")) {
			c->cfg.hugepages = true;
		} else if (!strcmp(opt, "hugepages=off")) {
			c->cfg.hugepages = false;
		} else if (!strcmp(opt, "prefault=on")) {
			c->cfg.prefault = true;
		} else if (!strcmp(opt, "prefault=off")) {
			c->cfg.prefault = false;
		} else if (!strncmp(opt, "charge-cgroup=", 14) && opt[14]) {
			c->cfg.memory_cgroup = opt + 14;
		} else {
			return usage_error("--memory: unknown option '%s' "
					   "(known: hugepages=on|off, "
					   "prefault=on|off, "
					   "charge-cgroup=PATH)",
					   opt);
		}
		opt = next;
	}
	return 0;
}

static int parse_log_level(struct cli *c, const char *arg)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};

	for (unsigned int i = 0; i < 4; i++) {
		if (!strcasecmp(arg, names[i])) {
			c->cfg.log_level = (enum microvm_log_level)i;
			return 0;
		}
	}
	return usage_error(
		"--log-level: unknown level '%s' (error, warn, info, "
		"debug)",
		arg);
}

enum {
	OPT_KERNEL = 256,
	OPT_INITRD,
	OPT_CMDLINE,
	OPT_CPUS,
	OPT_MEMORY,
	OPT_CPU_FEATURES,
	OPT_CONSOLE,
	OPT_LOG_LEVEL,
	OPT_ROOT_PORTS,
	OPT_ACS,
	OPT_LOW_MMIO,
	OPT_HIGH_MMIO,
	OPT_BUSES,
	OPT_TESTDEV,
	OPT_TOPOLOGY_JSON,
	OPT_TIMINGS_JSON,
	OPT_RNG,
	OPT_DISK,
	OPT_NET,
	OPT_VSOCK,
	OPT_VIRTIO_CONSOLE,
	OPT_VFIO,
	OPT_VCPU_CGROUP,
	OPT_DUMP_FDT,
};

static const struct option run_options[] = {
	{"kernel", required_argument, NULL, OPT_KERNEL},
	{"initrd", required_argument, NULL, OPT_INITRD},
	{"cmdline", required_argument, NULL, OPT_CMDLINE},
	{"cpus", required_argument, NULL, OPT_CPUS},
	{"memory", required_argument, NULL, OPT_MEMORY},
	{"cpu-features", required_argument, NULL, OPT_CPU_FEATURES},
	{"console", required_argument, NULL, OPT_CONSOLE},
	{"log-level", required_argument, NULL, OPT_LOG_LEVEL},
	{"pcie-root-ports", required_argument, NULL, OPT_ROOT_PORTS},
	{"acs", required_argument, NULL, OPT_ACS},
	{"low-mmio", required_argument, NULL, OPT_LOW_MMIO},
	{"high-mmio", required_argument, NULL, OPT_HIGH_MMIO},
	{"pcie-buses", required_argument, NULL, OPT_BUSES},
	{"pci-testdev", required_argument, NULL, OPT_TESTDEV},
	{"topology-json", required_argument, NULL, OPT_TOPOLOGY_JSON},
	{"timings-json", required_argument, NULL, OPT_TIMINGS_JSON},
	{"rng", no_argument, NULL, OPT_RNG},
	{"disk", required_argument, NULL, OPT_DISK},
	{"net", required_argument, NULL, OPT_NET},
	{"vsock", required_argument, NULL, OPT_VSOCK},
	{"virtio-console", no_argument, NULL, OPT_VIRTIO_CONSOLE},
	{"vfio", required_argument, NULL, OPT_VFIO},
	{"vcpu-cgroup", required_argument, NULL, OPT_VCPU_CGROUP},
	{"dump-fdt", required_argument, NULL, OPT_DUMP_FDT},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static int parse_pcie_option(struct cli *c, int opt, const char *arg)
{
	unsigned int first, last;
	uint64_t v;
	char *end;
	const char **n;

	switch (opt) {
	case OPT_ROOT_PORTS:
		if (parse_u64(arg, &v) < 0 || v < 1 || v > 256)
			return usage_error(
				"--pcie-root-ports: must be a number "
				"from 1 to 256, got '%s'",
				arg);
		c->cfg.pcie_root_ports = (unsigned int)v;
		return 0;
	case OPT_ACS:
		if (!strcmp(arg, "off")) {
			c->cfg.acs_off = true;
			return 0;
		}
		if (parse_u64(arg, &v) < 0 || v == 0 || v > 0xffff)
			return usage_error("--acs: expected a capability mask "
					   "such as 0x5f, or off; got '%s'",
					   arg);
		if (v & ~0x5full)
			return usage_error(
				"--acs 0x%llx: only the bits of 0x5f "
				"(SV|TB|RR|CR|UF|DT) are supported; "
				"egress control (0x20) is not",
				(unsigned long long)v);
		c->cfg.acs_off = false;
		c->cfg.acs_mask = (uint16_t)v;
		return 0;
	case OPT_LOW_MMIO:
	case OPT_HIGH_MMIO:
		if (parse_size(arg, 1ull << 20, &v) < 0 || v == 0)
			return usage_error("--%s: invalid size '%s' (try 640M "
					   "or 2T)",
					   opt == OPT_LOW_MMIO ? "low-mmio"
							       : "high-mmio",
					   arg);
		if (opt == OPT_LOW_MMIO)
			c->cfg.low_mmio = v;
		else
			c->cfg.high_mmio = v;
		return 0;
	case OPT_BUSES:
		first = (unsigned int)strtoul(arg, &end, 0);
		if (end == arg || *end != '-')
			return usage_error("--pcie-buses: expected FIRST-LAST "
					   "such as 0-255, got '%s'",
					   arg);
		last = (unsigned int)strtoul(end + 1, &end, 0);
		if (*end || first > last || last > 255)
			return usage_error("--pcie-buses: expected FIRST-LAST "
					   "within 0-255, got '%s'",
					   arg);
		c->cfg.pcie_bus_first = first;
		c->cfg.pcie_bus_last = last;
		return 0;
	case OPT_TESTDEV:
		n = realloc(c->testdevs, (c->ntestdevs + 1) * sizeof(*n));
		if (!n)
			return usage_error("out of memory");
		c->testdevs = n;
		c->testdevs[c->ntestdevs++] = arg;
		c->cfg.pci_testdevs = c->testdevs;
		c->cfg.n_pci_testdevs = c->ntestdevs;
		return 0;
	case OPT_TOPOLOGY_JSON:
		c->topology_json = arg;
		return 0;
	}
	return -1;
}

/* A private copy of a device spec that the parsed struct points into. */
static char *keep_spec(struct cli *c, const char *arg)
{
	char **n = realloc(c->specs, (c->nspecs + 1) * sizeof(*n));

	if (!n)
		return NULL;
	c->specs = n;
	n[c->nspecs] = strdup(arg);
	return n[c->nspecs] ? n[c->nspecs++] : NULL;
}

static int parse_device_option(struct cli *c, int opt, const char *arg)
{
	char err[160], *spec = keep_spec(c, arg);
	void *n;
	int r, iommu;

	if (!spec)
		return usage_error("out of memory");
	switch (opt) {
	case OPT_DISK:
		n = realloc(c->disks, (c->cfg.ndisks + 1) * sizeof(*c->disks));
		if (!n)
			return usage_error("out of memory");
		c->disks = n;
		r = parse_disk_spec(spec, &c->disks[c->cfg.ndisks], err,
				    sizeof(err));
		if (r < 0)
			return usage_error("--disk %s: %s", arg, err);
		c->cfg.disks = c->disks;
		c->cfg.ndisks++;
		return 0;
	case OPT_NET:
		n = realloc(c->nets, (c->cfg.nnets + 1) * sizeof(*c->nets));
		if (!n)
			return usage_error("out of memory");
		c->nets = n;
		r = parse_net_spec(spec, &c->nets[c->cfg.nnets], err,
				   sizeof(err));
		if (r < 0)
			return usage_error("--net %s: %s", arg, err);
		c->cfg.nets = c->nets;
		c->cfg.nnets++;
		return 0;
	case OPT_VSOCK:
		if (c->cfg.vsock)
			return usage_error("--vsock: only one vsock device");
		r = parse_vsock_spec(spec, &c->vsock, err, sizeof(err));
		if (r < 0)
			return usage_error("--vsock %s: %s", arg, err);
		c->cfg.vsock = &c->vsock;
		return 0;
	case OPT_VFIO:
		n = realloc(c->vfio, (c->cfg.nvfio + 1) * sizeof(*c->vfio));
		if (!n)
			return usage_error("out of memory");
		c->vfio = n;
		r = parse_vfio_spec(spec, &c->vfio[c->cfg.nvfio], &iommu, err,
				    sizeof(err));
		if (r < 0)
			return usage_error("--vfio %s: %s", arg, err);
		if (iommu >= 0) {
			/* One DMA back-end serves all the VM's devices. */
			if (c->vfio_iommu_given &&
			    (int)c->cfg.vfio_iommu != iommu)
				return usage_error(
					"--vfio %s: every device shares one DMA "
					"back-end, and an earlier --vfio chose "
					"another iommu=",
					arg);
			c->cfg.vfio_iommu = (enum microvm_vfio_iommu)iommu;
			c->vfio_iommu_given = true;
		}
		c->cfg.vfio = c->vfio;
		c->cfg.nvfio++;
		return 0;
	}
	return -1;
}

static void free_cli(struct cli *c)
{
	for (unsigned int i = 0; i < c->nspecs; i++)
		free(c->specs[i]);
	free(c->specs);
	free(c->disks);
	free(c->nets);
	free(c->vfio);
	free(c->testdevs);
}

/* Returns -1 to go on, else an exit status. */
static int parse_run_args(struct cli *c, int argc, char **argv)
{
	uint64_t v;
	int opt, r;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":h", run_options, NULL)) != -1) {
		switch (opt) {
		case OPT_KERNEL:
			c->cfg.kernel = optarg;
			break;
		case OPT_INITRD:
			c->cfg.initrd = optarg;
			break;
		case OPT_CMDLINE:
			c->cfg.cmdline = optarg;
			break;
		case OPT_CPUS:
			if (parse_u64(optarg, &v) < 0 || v < 1 ||
			    v > MICROVM_MAX_CPUS)
				return usage_error("--cpus: must be a number "
						   "from 1 to %d, got '%s'",
						   MICROVM_MAX_CPUS, optarg);
			c->cfg.cpus = (unsigned int)v;
			break;
		case OPT_MEMORY:
			r = parse_memory(c, optarg);
			if (r)
				return r;
			break;
		case OPT_CPU_FEATURES:
			c->cfg.cpu_features = optarg;
			break;
		case OPT_VCPU_CGROUP:
			c->cfg.vcpu_cgroup = optarg;
			break;
		case OPT_DUMP_FDT:
			c->cfg.dump_fdt = optarg;
			break;
		case OPT_CONSOLE:
			if (strcmp(optarg, "stdio") && strcmp(optarg, "none") &&
			    (strncmp(optarg, "file:", 5) || !optarg[5]))
				return usage_error(
					"--console: expected stdio, "
					"file:PATH or none, got '%s'",
					optarg);
			c->console = optarg;
			break;
		case OPT_LOG_LEVEL:
			r = parse_log_level(c, optarg);
			if (r)
				return r;
			break;
		case OPT_ROOT_PORTS:
		case OPT_ACS:
		case OPT_LOW_MMIO:
		case OPT_HIGH_MMIO:
		case OPT_BUSES:
		case OPT_TESTDEV:
		case OPT_TOPOLOGY_JSON:
			r = parse_pcie_option(c, opt, optarg);
			if (r)
				return r;
			break;
		case OPT_TIMINGS_JSON:
			c->timings_json = optarg;
			break;
		case OPT_RNG:
			c->cfg.rng = true;
			break;
		case OPT_VIRTIO_CONSOLE:
			c->cfg.virtio_console = true;
			break;
		case OPT_DISK:
		case OPT_NET:
		case OPT_VSOCK:
		case OPT_VFIO:
			r = parse_device_option(c, opt, optarg);
			if (r)
				return r;
			break;
		case 'h':
			fputs(usage_run, stdout);
			return 0;
		case ':':
			return usage_error("option '%s' needs a value",
					   argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'",
					   argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (!c->cfg.kernel && !c->plan)
		return usage_error("--kernel is required");
	return -1;
}

static int setup_console(struct cli *c)
{
	struct termios raw;

	if (!strcmp(c->console, "none")) {
		c->cfg.console = MICROVM_CONSOLE_NONE;
		return 0;
	}
	c->cfg.console = MICROVM_CONSOLE_FDS;
	if (!strncmp(c->console, "file:", 5)) {
		c->console_file_fd =
			open(c->console + 5,
			     O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (c->console_file_fd < 0) {
			fprintf(stderr,
				"microvm: --console: cannot open '%s': %s\n",
				c->console + 5, strerror(errno));
			return EXIT_VMM_ERROR;
		}
		c->cfg.console_out_fd = c->console_file_fd;
		c->cfg.console_in_fd = -1;
		return 0;
	}
	c->cfg.console_in_fd = STDIN_FILENO;
	c->cfg.console_out_fd = STDOUT_FILENO;
	if (isatty(STDIN_FILENO) &&
	    tcgetattr(STDIN_FILENO, &c->saved_tio) == 0) {
		raw = c->saved_tio;
		cfmakeraw(&raw);
		if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) == 0) {
			c->raw_tty = true;
			c->cfg.console_escape = ESCAPE_CHAR;
		}
	}
	return 0;
}

/*
 * The signals our signal thread takes: those that stop the VM, SIGWINCH
 * (terminal resized) and SIGUSR1 that ends the thread.
 */
static void stop_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGWINCH);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGQUIT);
	sigaddset(set, SIGUSR1);
}

/* Our terminal changed size: hvc0 follows (the UART cannot). */
static void console_resized(struct cli *c)
{
	struct winsize ws;

	if (c->cfg.console_out_fd >= 0 &&
	    ioctl(c->cfg.console_out_fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col &&
	    ws.ws_row)
		microvm_console_set_size(c->vm, ws.ws_col, ws.ws_row);
}

static void *signal_thread(void *arg)
{
	struct cli *c = arg;
	sigset_t set;
	int sig;

	stop_signals(&set);
	for (;;) {
		if (sigwait(&set, &sig))
			continue;
		if (sig == SIGUSR1) /* main thread: we are done */
			return NULL;
		if (sig == SIGWINCH) {
			console_resized(c);
			continue;
		}
		if (!c->stop_signal)
			c->stop_signal = sig;
		microvm_stop(c->vm);
	}
}

static int write_file(const char *what, const char *path, const char *data)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(data, f) < 0) {
		fprintf(stderr, "microvm: %s: cannot write '%s': %s\n", what,
			path, strerror(errno));
		if (f)
			fclose(f);
		return EXIT_VMM_ERROR;
	}
	if (fclose(f)) {
		fprintf(stderr, "microvm: %s: '%s': %s\n", what, path,
			strerror(errno));
		return EXIT_VMM_ERROR;
	}
	return 0;
}

/* Finish the timings JSON with the teardown time the library cannot see. */
static int write_timings(const char *path, char *json, double teardown_ms)
{
	char *end = strrchr(json, '}'), *tail;
	size_t n;

	if (!end)
		return EXIT_VMM_ERROR;
	*end = 0; /* reopen the top-level object */
	n = strlen(json);
	while (n && json[n - 1] == '\n')
		json[--n] = 0;
	if (asprintf(&tail, "%s,\n  \"teardown_ms\": %.3f\n}\n", json,
		     teardown_ms) < 0)
		return EXIT_VMM_ERROR;
	n = (size_t)write_file("--timings-json", path, tail);
	free(tail);
	return (int)n;
}

static int cmd_plan(int argc, char **argv)
{
	struct cli c = {.plan = true, .console = "none"};
	char *text = malloc(MICROVM_TOPOLOGY_MAX);
	char *json = malloc(MICROVM_TOPOLOGY_MAX);
	int status, r;

	microvm_config_init(&c.cfg);
	c.cfg.log_fn = log_to_stderr;
	c.cfg.log_opaque = &c;
	status = parse_run_args(&c, argc, argv);
	if (status >= 0)
		goto out;
	if (!text || !json) {
		status = EXIT_VMM_ERROR;
		goto out;
	}
	r = microvm_plan(&c.cfg, text, MICROVM_TOPOLOGY_MAX,
			 c.topology_json ? json : NULL, MICROVM_TOPOLOGY_MAX);
	if (r < 0) {
		/* The reason was logged. */
		status = r == -EINVAL ? EXIT_USAGE : EXIT_VMM_ERROR;
		goto out;
	}
	fputs(text, stdout);
	status = c.topology_json
			 ? write_file("--topology-json", c.topology_json, json)
			 : 0;
out:
	free(text);
	free(json);
	free_cli(&c);
	return status;
}

static int exit_status(const struct cli *c, const struct microvm_exit *e)
{
	switch (e->reason) {
	case MICROVM_EXIT_POWEROFF:
		return EXIT_POWEROFF;
	case MICROVM_EXIT_REBOOT:
		return EXIT_REBOOT;
	case MICROVM_EXIT_PANIC:
		return EXIT_PANIC;
	case MICROVM_EXIT_TRIPLE_FAULT:
		return EXIT_TRIPLE_FAULT;
	case MICROVM_EXIT_STOPPED:
		return c->stop_signal ? 128 + c->stop_signal : EXIT_STOPPED;
	case MICROVM_EXIT_HALTED:
		return EXIT_HALTED;
	case MICROVM_EXIT_NONE:
	case MICROVM_EXIT_ERROR:
		break;
	}
	return EXIT_VMM_ERROR;
}

static int cmd_run(int argc, char **argv)
{
	struct cli c = {.console = "stdio", .console_file_fd = -1};
	struct microvm_exit ex = MICROVM_EXIT_INIT;
	struct sigaction sa;
	sigset_t set;
	int r, status;

	microvm_config_init(&c.cfg);
	c.cfg.log_fn = log_to_stderr;
	c.cfg.log_opaque = &c;
	status = parse_run_args(&c, argc, argv);
	if (status >= 0) {
		/* --help, or a usage error: nothing was started. */
		free_cli(&c);
		return status;
	}

	/* Signals go to our signal thread only; library threads block all. */
	stop_signals(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	status = setup_console(&c);
	if (status)
		return status;
	cli_for_crash = &c;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = crash_handler;
	sa.sa_flags = (int)SA_RESETHAND;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGABRT, &sa, NULL);
	sigaction(SIGFPE, &sa, NULL);
	sigaction(SIGILL, &sa, NULL);

	r = microvm_create(&c.cfg, &c.vm);
	if (r < 0) {
		restore_tty(&c);
		/* The library logged the reason; classify it. */
		switch (r) {
		case -EINVAL: /* bad value, memory too small for the kernel */
		case -ENOEXEC: /* not a kernel we can boot */
		case -E2BIG: /* command line too long */
		case -ENOENT: /* kernel or initrd missing */
		case -EACCES: /* kernel or initrd unreadable */
		case -ENOTSUP: /* a CPU feature the host lacks */
			status = EXIT_USAGE;
			break;
		default:
			status = EXIT_VMM_ERROR;
		}
		goto out;
	}
	if (c.topology_json) {
		char *json = malloc(MICROVM_TOPOLOGY_MAX);

		status = json && microvm_topology_json(
					 c.vm, json, MICROVM_TOPOLOGY_MAX) >= 0
				 ? write_file("--topology-json",
					      c.topology_json, json)
				 : EXIT_VMM_ERROR;
		free(json);
		if (status)
			goto out_destroy;
	}
	if (pthread_create(&c.sig_thread, NULL, signal_thread, &c)) {
		status = EXIT_VMM_ERROR;
		goto out_destroy;
	}
	if (c.raw_tty)
		fputs("microvm: console on this terminal; Ctrl-A x stops the "
		      "VM\r\n",
		      stderr);
	r = microvm_start(c.vm);
	if (r == 0)
		r = microvm_wait(c.vm, &ex);
	pthread_kill(c.sig_thread, SIGUSR1);
	pthread_join(c.sig_thread, NULL);
	if (r < 0) {
		fprintf(stderr, "microvm: %s\n", strerror(-r));
		status = EXIT_VMM_ERROR;
		goto out_destroy;
	}
	status = exit_status(&c, &ex);
	restore_tty(&c);
	if (c.timings_json) {
		char *tj = malloc(MICROVM_TIMINGS_MAX);
		struct timespec a, b;
		int w;

		if (!tj ||
		    microvm_timings_json(c.vm, tj, MICROVM_TIMINGS_MAX) < 0) {
			free(tj);
			status = EXIT_VMM_ERROR;
			goto out_destroy;
		}
		clock_gettime(CLOCK_MONOTONIC, &a);
		microvm_destroy(c.vm);
		clock_gettime(CLOCK_MONOTONIC, &b);
		c.vm = NULL;
		w = write_timings(c.timings_json, tj,
				  (double)(b.tv_sec - a.tv_sec) * 1e3 +
					  (double)(b.tv_nsec - a.tv_nsec) /
						  1e6);
		free(tj);
		if (w && status == EXIT_POWEROFF)
			status = w;
	}
	/* Errors were logged where they happened; say how others ended. */
	if (ex.reason != MICROVM_EXIT_POWEROFF &&
	    ex.reason != MICROVM_EXIT_ERROR)
		fprintf(stderr, "microvm: %s: %s\n",
			microvm_exit_reason_name(ex.reason), ex.message);
out_destroy:
	microvm_destroy(c.vm);
out:
	restore_tty(&c);
	cli_for_crash = NULL;
	if (c.console_file_fd >= 0)
		close(c.console_file_fd);
	free_cli(&c);
	return status;
}

static const char usage_vfio_check[] =
	"Usage: microvm vfio-check [--json] [--sysfs-root DIR] [--dev-root "
	"DIR] "
	"BDF...\n"
	"\n"
	"Say, for each host PCI device (0000:17:00.0 or 17:00.0), whether it "
	"can\n"
	"be passed through with VFIO: its driver, its IOMMU group and every\n"
	"member with its driver, the group's type and reserved regions, the\n"
	"device nodes; and if it cannot, why, and the commands that fix it.\n"
	"`microvm run --vfio` runs the same checks before it starts.\n"
	"\n"
	"  --json             JSON instead of text (docs/vfio.md)\n"
	"  --sysfs-root DIR   read sysfs from DIR instead of /sys\n"
	"  --dev-root DIR     look for device nodes in DIR instead of /dev\n"
	"\n"
	"Exit status: 0 every device can be passed through, 1 some cannot,\n"
	"2 bad usage.\n";

static int cmd_vfio_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"sysfs-root", required_argument, NULL, 's'},
		{"dev-root", required_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *sysfs = NULL, *dev = NULL;
	bool json = false;
	char *out;
	int opt, r;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			json = true;
			break;
		case 's':
			sysfs = optarg;
			break;
		case 'd':
			dev = optarg;
			break;
		case 'h':
			fputs(usage_vfio_check, stdout);
			return 0;
		case ':':
			fprintf(stderr, "microvm: option '%s' needs a value\n",
				argv[optind - 1]);
			return EXIT_USAGE;
		default:
			fprintf(stderr, "microvm: unknown option '%s'\n%s",
				argv[optind - 1], usage_vfio_check);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "microvm: vfio-check needs a BDF\n%s",
			usage_vfio_check);
		return EXIT_USAGE;
	}
	out = malloc(MICROVM_VFIO_CHECK_MAX);
	if (!out)
		return EXIT_VMM_ERROR;
	r = microvm_vfio_check((const char *const *)argv + optind,
			       (unsigned int)(argc - optind), sysfs, dev,
			       json ? NULL : out, MICROVM_VFIO_CHECK_MAX,
			       json ? out : NULL, MICROVM_VFIO_CHECK_MAX);
	if (r == -EINVAL) {
		fprintf(stderr, "microvm: vfio-check: a BDF is malformed (want "
				"0000:17:00.0 or 17:00.0)\n");
		free(out);
		return EXIT_USAGE;
	}
	if (r < 0) {
		fprintf(stderr, "microvm: vfio-check: %s\n", strerror(-r));
		free(out);
		return EXIT_VMM_ERROR;
	}
	fputs(out, stdout);
	free(out);
	return r == 1 ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage_top, stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "plan"))
		return cmd_plan(argc - 1, argv + 1);
	if (!strcmp(argv[1], "vfio-check"))
		return cmd_vfio_check(argc - 1, argv + 1);
	if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
		printf("microvm %s\n", microvm_version());
		return 0;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "-h")) {
		fputs(usage_top, stdout);
		return 0;
	}
	fprintf(stderr, "microvm: unknown command '%s'\n", argv[1]);
	fputs(usage_top, stderr);
	return EXIT_USAGE;
}
