/* fdt.h: pure builder of the flattened device tree of the aarch64 GICv3 virt machine. */
#ifndef AARCH64_FDT_H
#define AARCH64_FDT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/pci/plan.h"

/*
 * The builder turns a plain description of the machine into a device tree
 * blob for Linux's arm64 boot protocol. It makes no syscalls and keeps no
 * state, so the L0 tests link it alone; the board code fills the
 * description from what it created (RAM, vCPU MPIDRs, the PCIe plan).
 *
 * The tree (node order is fixed, so the blob is a function of the input):
 *
 *   / compatible "linux,dummy-virt", #address-cells = #size-cells = 2,
 *     interrupt-parent = GIC
 *   /psci             "arm,psci-1.0", "arm,psci-0.2", method "hvc"
 *   /memory@BASE      one node per RAM region
 *   /cpus/cpu@ID      #address-cells 2: reg = MPIDR affinity, "psci" enable
 *   /intc@DIST        "arm,gic-v3": distributor, one redistributor region of
 *                     ncpus * 128 KiB, maintenance PPI 9
 *   /intc@DIST/its@   "arm,gic-v3-its", msi-controller, #msi-cells 1
 *   /timer            "arm,armv8-timer": PPIs 13, 14, 11, 10, always-on
 *   /apb-pclk         fixed clock of the UART
 *   /pl011@BASE       "arm,pl011", "arm,primecell", SPI uart_spi
 *   /boot-timer@BASE  "microvm,boot-timer" (if boot_timer)
 *   /pvpanic@BASE     "qemu,pvpanic-mmio" (if pvpanic)
 *   /pcie@ECAM        "pci-host-ecam-generic" (see below)
 *   /chosen           bootargs, stdout-path = the UART, initrd if any
 *
 * Phandles are fixed (enum fdt_machine_phandle), so every blob numbers them alike.
 *
 * PCIe: reg is the ECAM of bus_first..bus_last (ecam_base is the config
 * space of bus_first, 1 MiB per bus); ranges map the low window as 32-bit
 * non-prefetchable memory (0x02000000) and the high window as 64-bit
 * prefetchable memory (0x43000000), PCI address = CPU address, a window of
 * size 0 left out; msi-map sends requester IDs 0-0xffff to the ITS as device
 * IDs 0-0xffff. interrupt-map sends pin P (INTA = 1 .. INTD = 4) of device
 * D on the root bus to SPI pci_intx_spi + (D + P - 1) % 4, level-high; as
 * that depends on D % 4 only, interrupt-map-mask keeps the low two device
 * bits and 16 entries cover all 32 slots. Only root ports sit on the
 * root bus; an endpoint behind one is its port's device 0, which keeps its
 * pin through the bridge swizzle (as vmm/arch.h's arch_pci_intx_gsi says).
 *
 * Checks, each a -errno and one line in `err`: no vCPUs or more than
 * FDT_MACHINE_MAX_CPUS (-EINVAL, -E2BIG), a duplicate MPIDR, no RAM or an empty
 * region, a bad bus range, a low window not below 4 GiB, an initrd outside
 * RAM (-EINVAL), two regions of the map overlapping (-EINVAL, naming both
 * with their ranges; too many vCPUs for the room above the redistributor
 * base shows up here), an SPI beyond the GIC's range (-EINVAL), the blob not
 * fitting in the buffer or in Linux's 2 MiB (-ENOSPC).
 */

/* KVM's arm64 limit (KVM_MAX_VCPUS); the layout may allow fewer. */
#define FDT_MACHINE_MAX_CPUS 512

enum fdt_machine_phandle {
	FDT_MACHINE_PHANDLE_GIC = 1,
	FDT_MACHINE_PHANDLE_ITS = 2,
	FDT_MACHINE_PHANDLE_APB_PCLK = 3,
};

struct fdt_mem_region {
	uint64_t base, size;
};

struct fdt_machine {
	const struct fdt_mem_region *mem; /* guest RAM */
	unsigned int nmem;
	/*
	 * MPIDR_EL1 of each vCPU as KVM reports it; only the affinity fields
	 * (Aff3 in bits 39:32, Aff2-Aff0 in 23:0) go into the tree.
	 */
	const uint64_t *mpidr;
	unsigned int ncpus;

	uint64_t gic_dist_base, gic_redist_base, gic_its_base;

	uint64_t uart_base;
	unsigned int uart_spi; /* SPI number (INTID - 32) */
	uint32_t uart_clock_hz;

	bool boot_timer; /* describe the boot-timer marker device */
	uint64_t boot_timer_base;

	bool pvpanic; /* describe the pvpanic device (off in the reference) */
	uint64_t pvpanic_base;

	uint64_t ecam_base; /* config space of bus_first */
	unsigned int bus_first, bus_last;
	struct pci_plan_window pci_low, pci_high; /* base/size; need unused */
	unsigned int pci_intx_spi; /* SPI of INTA on device 0: 4 from here */

	const char *bootargs; /* NULL: "" */
	uint64_t initrd_base, initrd_size; /* size 0: no initrd */
};

/*
 * The reference description of arch/aarch64/layout.h: GIC, ITS, UART, boot
 * timer, ECAM for buses 0-255, INTx SPIs, and the windows the planner makes
 * for that layout with no devices (low: the top 64 MiB below RAM; high:
 * 1 GiB at 512 GiB). RAM, vCPUs, bootargs and initrd are left empty: the
 * caller points them at its own storage.
 */
void fdt_machine_init(struct fdt_machine *m);

/*
 * Build the blob into buf[0..len). Returns 0 (the blob's size is then
 * fdt_totalsize(buf)) or a negative errno with a one-line message in `err`
 * (may be NULL). buf must be 8-byte aligned, as libfdt and Linux want it;
 * all of it is scratch while building (libfdt keeps the strings at its end).
 */
__attribute__((warn_unused_result)) int
fdt_machine_build(const struct fdt_machine *m, void *buf, size_t len, char *err,
		  size_t errlen);

#endif
