/* layout.h: the aarch64 guest-physical memory map (a GICv3 "virt"-like machine). */
#ifndef AARCH64_LAYOUT_H
#define AARCH64_LAYOUT_H

/*
 * The map, low to high:
 *
 *   0x08000000  GICv3 distributor             64 KiB
 *   0x08080000  GICv3 ITS                    128 KiB
 *   0x080a0000  GICv3 redistributors         128 KiB per vCPU, up to the UART
 *   0x09000000  PL011 UART                     4 KiB, SPI 1
 *   0x09010000  boot-timer marker device       4 KiB
 *   0x09020000  pvpanic (MMIO)                 2 bytes
 *   0x30000000  PCIe ECAM                    256 MiB (buses 0-255)
 *   0x40000000  PCIe low MMIO window range     1 GiB (32-bit, non-prefetchable)
 *   0x80000000  RAM                          up to the high window
 *   512 GiB     PCIe high MMIO window floor  (64-bit prefetchable)
 *
 * The GIC and UART sit where QEMU's virt machine puts them, so guests and
 * tools that assume those addresses (earlycon=pl011,0x9000000) work. RAM
 * starts at 2 GiB (Firecracker's choice) rather than virt's 1 GiB so the low
 * window can span 1 GiB below it: 8 GPUs and 6 NVSwitches need more than
 * 320 MiB of low MMIO once bridge alignment is counted. The high window
 * floor is fixed at 512 GiB, which the default 40-bit IPA space can hold,
 * so RAM can grow to 510 GiB without moving it and the layout does not
 * depend on the RAM size.
 */

#define AARCH64_GIC_DIST_BASE	0x08000000ull
#define AARCH64_GIC_DIST_SIZE	0x10000ull /* GICD: one 64 KiB frame */
#define AARCH64_GIC_ITS_BASE	0x08080000ull
#define AARCH64_GIC_ITS_SIZE	0x20000ull /* ITS control + translation frames */
#define AARCH64_GIC_REDIST_BASE 0x080a0000ull
/* Per vCPU: the RD_base and SGI_base 64 KiB frames (no VLPI frames). */
#define AARCH64_GIC_REDIST_STRIDE 0x20000ull
#define AARCH64_GIC_REDIST_LIMIT  AARCH64_UART_BASE
/* vCPUs whose redistributors fit in one region below the UART: 123. */
#define AARCH64_MAX_CPUS                                                       \
	((unsigned int)((AARCH64_GIC_REDIST_LIMIT - AARCH64_GIC_REDIST_BASE) / \
			AARCH64_GIC_REDIST_STRIDE))

#define AARCH64_UART_BASE     0x09000000ull
#define AARCH64_UART_SIZE     0x1000ull
#define AARCH64_UART_SPI      1
#define AARCH64_UART_CLOCK_HZ 24000000u /* the apb_pclk fixed clock */

#define AARCH64_BOOT_TIMER_BASE 0x09010000ull
#define AARCH64_BOOT_TIMER_SIZE 0x1000ull

/* QEMU's pvpanic-mmio: one event byte; Linux's pvpanic-mmio module binds it. */
#define AARCH64_PVPANIC_BASE 0x09020000ull
#define AARCH64_PVPANIC_SIZE 0x2ull

/* ECAM base is the config space of bus_first (as vm->ecam_base on x86). */
#define AARCH64_PCI_ECAM_BASE 0x30000000ull
#define AARCH64_PCI_ECAM_SIZE 0x10000000ull
/* Planner input: the low window lies in [LOW_FLOOR, LOW_TOP). */
#define AARCH64_PCI_LOW_FLOOR  0x40000000ull
#define AARCH64_PCI_LOW_TOP    0x80000000ull
#define AARCH64_PCI_HIGH_FLOOR 0x8000000000ull
/* INTx: INTA-INTD of the root bus swizzle onto SPIs 3-6. */
#define AARCH64_PCI_INTX_SPI 3

#define AARCH64_RAM_BASE 0x80000000ull

/* PPIs (INTID - 16) of the GIC maintenance interrupt and the timers. */
#define AARCH64_PPI_GIC_MAINT  9
#define AARCH64_PPI_TIMER_HYP  10
#define AARCH64_PPI_TIMER_VIRT 11
#define AARCH64_PPI_TIMER_SEC  13
#define AARCH64_PPI_TIMER_PHYS 14

/* Linux's arm64 boot protocol: the blob is at most 2 MiB, 8-byte aligned. */
#define AARCH64_FDT_MAX_SIZE 0x200000ull

#endif
