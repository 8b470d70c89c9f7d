/* plan.h: pure PCIe topology planner: root ports, bus numbers, BARs and MMIO windows. */
#ifndef DEVICES_PCI_PLAN_H
#define DEVICES_PCI_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The planner decides everything about the PCIe topology before the guest
 * boots. It makes no syscalls and keeps no state; the VMM (config space,
 * ACPI/FDT, memory layout) programs what it reports.
 *
 * Topology (one root complex, segment 0):
 * - Bus `bus_first` holds only root ports (no host-bridge function). Root
 *   port i sits at device `first_device + i/8`, function `i%8`. Function 0 of
 *   every device with more than one port reports `multifunction` (the header
 *   type bit); no other function does. At most (32 - first_device) * 8 ports.
 * - Endpoint j sits alone behind root port j, as device 0 function 0 of that
 *   port's secondary bus. `root_ports` = 0 means one port per endpoint;
 *   more ports than endpoints leave the extra ports empty.
 * - Secondary bus numbers go in port order from bus_first + 1 (secondary =
 *   subordinate: nothing sits below an endpoint). A port past bus_last gets
 *   secondary_bus = -1, which is an error only if an endpoint is behind it.
 *
 * BARs (memory only; I/O BARs are rejected): sizes are powers of two of at
 * least 16 bytes; 32-bit BARs at most 2 GiB, 64-bit BARs at most 2^52. A
 * 64-bit BAR takes index i (0..4) and i + 1, which must be PCI_BAR_KIND_NONE.
 *
 * Placement:
 * - The low window (32-bit, non-prefetchable) holds every BAR that is not
 *   64-bit prefetchable; the high window (64-bit, prefetchable) holds the
 *   64-bit prefetchable BARs.
 * - Each port with an endpoint gets a memory window with the endpoint's low
 *   BARs and a prefetchable window with its high BARs. Inside a window BARs
 *   go in descending size (ties by BAR index), each naturally aligned, so
 *   there is no padding. A bridge window's size is rounded up to 1 MiB and
 *   its alignment is max(1 MiB, its largest BAR). An empty window has size 0
 *   (disabled).
 * - The port windows are packed into the low/high window in descending
 *   alignment (ties by port index). `need` is the end offset of the last
 *   packed window. Power-of-two windows leave no padding: 8 x 16 MiB plus
 *   6 x 32 MiB BARs need exactly 320 MiB.
 * - The low window ends at `low_top` (exclusive) and starts no lower than
 *   `low_floor`; its base is aligned to its largest port window. If
 *   low_top - size is not so aligned, the base is rounded down and the
 *   window ends below low_top. `hole_start` = min(low.base, hole_default):
 *   where low RAM must end.
 * - The high window starts at the first address >= `high_floor` aligned to
 *   its largest port window, and must end at or below 1 << phys_bits. With
 *   nothing to hold and no room left below the limit its size is 0.
 *
 * Sizes: `low_size`/`high_size` fix a window's size; 0 sizes it from the
 * devices: need + max(need / 4, 64 MiB) rounded up to 64 MiB (low), need +
 * max(need / 4, 1 GiB) rounded up to 1 GiB (high). If that does not fit
 * (low: between low_floor and low_top; high: below the physical address
 * limit) the window shrinks to what fits, as long as that still holds need.
 *
 * Errors name the window, the numbers in hex and the flag that fixes it,
 * e.g. "low MMIO window exhausted: need 0x14500000 bytes, have 0x14000000;
 * use --low-mmio 384M" (the suggestion is need rounded up to 64 MiB for low,
 * 1 GiB for high, capped at what fits).
 */

#define PCI_PLAN_MAX_PORTS 256
#define PCI_PLAN_MAX_BARS  6
#define PCI_PLAN_NAME_LEN  32

enum pci_bar_kind {
	PCI_BAR_KIND_NONE, /* unused (or the upper half of a 64-bit BAR) */
	PCI_BAR_KIND_MEM32, /* 32-bit memory */
	PCI_BAR_KIND_MEM32_PREF, /* 32-bit prefetchable memory */
	PCI_BAR_KIND_MEM64, /* 64-bit memory, non-prefetchable */
	PCI_BAR_KIND_MEM64_PREF, /* 64-bit prefetchable memory */
};

struct pci_bar_req {
	enum pci_bar_kind kind;
	uint64_t size;
};

#define PCI_PLAN_BDF_LEN 16

/* One endpoint: a name for messages and output, and its BARs. */
struct pci_dev_req {
	char name[PCI_PLAN_NAME_LEN]; /* "" becomes "device<N>" */
	struct pci_bar_req bar[PCI_PLAN_MAX_BARS];
	char host_bdf[PCI_PLAN_BDF_LEN]; /* passed-through host device, or "" */
};

struct pci_plan_input {
	unsigned int root_ports; /* 0: one per device */
	unsigned int first_device; /* device of root port 0 on bus 0 */
	unsigned int bus_first, bus_last; /* bus range of the root complex */
	bool acs_enabled; /* false: no ACS capability */
	uint16_t acs_mask; /* ACS capability bits (<= 0x7f) */
	uint64_t low_size, high_size; /* 0 = automatic */
	uint64_t low_top; /* low window end (exclusive) */
	uint64_t low_floor; /* low window lowest base */
	uint64_t hole_default; /* highest low-RAM end */
	uint64_t high_floor; /* high window lowest base */
	unsigned int phys_bits; /* guest physical address width */
	const struct pci_dev_req *devs;
	unsigned int ndevs;
};

/*
 * Defaults, with x86 numbers: root_ports 0, first_device 0, buses 0-255, ACS
 * on with mask 0x5f, automatic sizes, low_top 0xe0000000 (ECAM base),
 * low_floor 0x80000000, hole_default 0xc0000000, high_floor 4 GiB (callers
 * pass max(4 GiB, end of RAM above 4 GiB)), phys_bits 40 (callers pass the
 * guest's CPUID 0x80000008 width), no devices.
 */
void pci_plan_input_init(struct pci_plan_input *in);

struct pci_plan_port {
	unsigned int index; /* port number, 0.. */
	unsigned int device, function; /* on bus_first */
	bool multifunction; /* header type bit (function 0 only) */
	int secondary_bus; /* = subordinate; -1: none */
	int dev_index; /* endpoint behind it; -1: none */
	uint64_t mem_base, mem_size; /* memory window; size 0: disabled */
	uint64_t pref_base, pref_size; /* 64-bit prefetchable window */
	bool acs; /* ACS capability present */
	uint16_t acs_mask; /* its capability bits (0 if !acs) */
};

struct pci_plan_bar {
	enum pci_bar_kind kind; /* PCI_BAR_KIND_NONE: unused or upper half */
	uint64_t size, addr;
};

struct pci_plan_dev {
	char name[PCI_PLAN_NAME_LEN];
	char host_bdf[PCI_PLAN_BDF_LEN]; /* from the request; "" if none */
	unsigned int port; /* root port index */
	unsigned int bus, device, function; /* device is always 0.0 */
	struct pci_plan_bar bar[PCI_PLAN_MAX_BARS];
};

struct pci_plan_window {
	uint64_t base, size; /* guest physical */
	uint64_t need; /* bytes the packed port windows take */
};

struct pci_plan {
	unsigned int nports, ndevs;
	struct pci_plan_port port[PCI_PLAN_MAX_PORTS];
	struct pci_plan_dev dev[PCI_PLAN_MAX_PORTS];
	struct pci_plan_window low, high;
	uint64_t hole_start; /* low RAM ends here (at most) */
	unsigned int bus_first, bus_last;
};

/*
 * Plan the topology. Returns 0, or -EINVAL (bad input), -ENOSPC (a window
 * or the bus range is exhausted), -E2BIG (too many ports) or -ERANGE
 * (beyond the physical address width), with a one-line message in `err`
 * (may be NULL). `out` is meaningful only on success.
 */
__attribute__((warn_unused_result)) int
pci_plan_build(const struct pci_plan_input *in, struct pci_plan *out, char *err,
	       size_t errlen);

/*
 * Guest PCI path of endpoint `dev` in the "RR.F/DD" form runtimes use: root
 * port device.function on the root bus / device on the secondary bus, in
 * hex, e.g. "01.3/00". The function is always written.
 */
void pci_plan_dev_path(const struct pci_plan *p, unsigned int dev, char *buf,
		       size_t len);

/* Guest BDF of endpoint `dev`, "0000:05:00.0". */
void pci_plan_dev_bdf(const struct pci_plan *p, unsigned int dev, char *buf,
		      size_t len);

/* Guest BDF of root port `port` on the root bus, "0000:00:01.3". */
void pci_plan_port_bdf(const struct pci_plan *p, unsigned int port, char *buf,
		       size_t len);

/*
 * A size in the form the --low-mmio/--high-mmio flags take, in the largest
 * binary unit that divides it exactly: "384M", "2T", "1536K", "4097".
 */
void pci_plan_size_str(uint64_t bytes, char *buf, size_t len);

/* "mem32", "mem32pref", "mem64", "mem64pref" or "none". */
const char *pci_bar_kind_name(enum pci_bar_kind kind);

/*
 * Check one endpoint's BARs against the rules above. Messages are prefixed
 * with the device's name ("testdev2: bar1 is 64-bit and needs bar2 free").
 * Returns 0 or -EINVAL.
 */
__attribute__((warn_unused_result)) int
pci_dev_req_check(const struct pci_dev_req *d, char *err, size_t errlen);

/*
 * Parse one --pci-testdev value into endpoint `index`, named "testdev<index>":
 * a comma list of barN=SIZE:KIND, e.g. "bar0=16M:32,bar1=128G:64pref",
 * with KIND one of 32, 32pref, 64, 64pref (io is rejected) and SIZE as
 * parse_size() takes it (bytes, or a binary K/M/G/T suffix). The result is
 * checked with pci_dev_req_check(). Returns 0 or -EINVAL.
 */
__attribute__((warn_unused_result)) int
pci_testdev_parse(const char *spec, unsigned int index, struct pci_dev_req *out,
		  char *err, size_t errlen);

#endif
