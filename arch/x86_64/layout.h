/* layout.h: the x86_64 guest-physical memory map. */
#ifndef X86_LAYOUT_H
#define X86_LAYOUT_H

#define X86_GDT_ADDR	    0x500ull /* boot GDT, 5 entries */
#define X86_PVH_INFO_ADDR   0x6000ull /* hvm_start_info + modlist */
#define X86_PVH_MEMMAP_ADDR 0x6100ull /* hvm memmap entries */
#define X86_ZERO_PAGE_ADDR  0x7000ull /* struct boot_params */
#define X86_BOOT_STACK	    0x8ff0ull
#define X86_PML4_ADDR	    0x9000ull
#define X86_PDPT_ADDR	    0xa000ull
#define X86_PD_ADDR	    0xb000ull /* 4 pages: identity map of 4 GiB */
#define X86_CMDLINE_ADDR    0x20000ull
#define X86_CMDLINE_MAX	    0x10000ull
#define X86_EBDA_START	    0x9fc00ull /* reserved from here to 1 MiB */
#define X86_ACPI_ADDR	    0xe0000ull /* RSDP first: Linux scans here */
#define X86_ACPI_SIZE	    0x10000ull
#define X86_SMBIOS_ADDR	    0xf0000ull /* Linux scans 0xf0000-0xfffff */
#define X86_SMBIOS_SIZE	    0x1000ull
#define X86_RESET_VECTOR    0xffff0ull /* real-mode f000:fff0, where a BIOS reset starts */
#define X86_HIMEM_START	    0x100000ull /* kernel load address */

/* 32-bit MMIO hole: PCIe windows, ECAM, IOAPIC, LAPIC. */
#define X86_MMIO_HOLE_START   0xc0000000ull
#define X86_MMIO_HOLE_END     0x100000000ull
#define X86_BOOT_TIMER_ADDR   0xfeb00000ull /* 4 KiB MMIO boot timer */
#define X86_IOAPIC_ADDR	      0xfec00000ull
#define X86_LAPIC_ADDR	      0xfee00000ull
#define X86_TSS_ADDR	      0xfffbd000ull
#define X86_IDENTITY_MAP_ADDR 0xfffbc000ull

/* Port I/O. */
#define X86_COM1_PORT	   0x3f8
#define X86_COM1_IRQ	   4
#define X86_I8042_CMD_PORT 0x64
#define X86_DEBUG_PORT	   0x80 /* POST codes: boot markers */
#define X86_PVPANIC_PORT   0x505
#define X86_PM_PORT	   0x600 /* sleep control 0x600, sleep status 0x601 */
#define X86_PCI_CONF1_PORT 0xcf8 /* 0xcf8-0xcff; a byte at 0xcf9: reset */
#define X86_RESET_PORT	   0xcf9
#define X86_RESET_VALUE	   0x06

#endif
