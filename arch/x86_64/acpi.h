/* acpi.h: builds the x86 ACPI tables (RSDP, XSDT, FADT, MADT, DSDT, MCFG). */
#ifndef ARCH_X86_64_ACPI_H
#define ARCH_X86_64_ACPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aml.h"

#define ACPI_MAX_CPUS	      254 /* xAPIC ids 0..253, the I/O APIC takes ncpus */
#define ACPI_MAX_EXTRA_TABLES 16
#define ACPI_MAX_MCFG_ENTRIES 256

#define ACPI_OEM_ID	  "MICROV"
#define ACPI_OEM_TABLE_ID "MICROVM "
#define ACPI_CREATOR_ID	  "MVMM"

#define ACPI_RSDP_LEN	 36
#define ACPI_HEADER_LEN	 36
#define ACPI_FADT_LEN	 276
#define ACPI_TABLE_ALIGN 16

/*
 * HW-reduced ACPI sleep control (FADT SLEEP_CONTROL_REG, one byte): the guest
 * writes (SLP_TYP << 2) | SLP_EN. SLP_TYP is the first element of the _Sx_
 * package in the DSDT; we only describe S5 (soft off), with SLP_TYP 5, so
 * the VMM powers off on a write where acpi_sleep_ctl_is_s5() holds.
 */
#define ACPI_SLEEP_CTL_SLP_EN	     0x20
#define ACPI_SLEEP_CTL_SLP_TYP_SHIFT 2
#define ACPI_SLEEP_CTL_SLP_TYP_MASK  0x1c
#define ACPI_SLP_TYP_S5		     5
/* SLEEP_STATUS_REG: WAK_STS. Reads of 0 are fine for a VM that never wakes. */
#define ACPI_SLEEP_STS_WAK_STS 0x80

static inline bool acpi_sleep_ctl_is_s5(uint8_t val)
{
	return (val & ACPI_SLEEP_CTL_SLP_EN) &&
	       ((val & ACPI_SLEEP_CTL_SLP_TYP_MASK) >>
		ACPI_SLEEP_CTL_SLP_TYP_SHIFT) == ACPI_SLP_TYP_S5;
}

/* One MCFG allocation: an ECAM region covering buses start_bus..end_bus. */
struct acpi_mcfg_entry {
	uint64_t base; /* guest-physical address of bus 0's config space */
	uint16_t segment;
	uint8_t start_bus;
	uint8_t end_bus;
};

/*
 * A table acpi_build() does not know: it writes the 36-byte header, the
 * checksum and the XSDT entry; build() writes the body (everything after the
 * header) into body[0..size) and sets *len, or returns -errno (-ENOSPC if
 * size is too small).
 */
struct acpi_extra_table {
	char signature[4];
	uint8_t revision;
	int (*build)(void *opaque, uint8_t *body, size_t size, size_t *len);
	void *opaque;
};

struct acpi_config {
	unsigned int ncpus; /* 1..254, LAPIC ids 0..ncpus-1 */
	uint64_t base; /* guest-physical address of buf[0], 16-aligned */
	uint32_t lapic_addr; /* 0xFEE00000 */
	uint32_t ioapic_addr; /* 0xFEC00000, IOAPIC id = ncpus, GSI base 0 */
	uint16_t sleep_ctl_port; /* 0x600: HW-reduced sleep control (1 byte) */
	uint16_t sleep_sts_port; /* 0x601: sleep status (1 byte) */
	uint16_t reset_port; /* 0xCF9 */
	uint8_t reset_value; /* 0x06 */
	uint16_t pvpanic_port; /* 0x505, 0 = no pvpanic device */
	uint16_t serial_port; /* 0x3F8: a PNP0501 16550 in the DSDT; 0 = none */
	uint8_t serial_irq; /* 4 */

	/* Optional: an MCFG table with these ECAM regions (none if 0). */
	const struct acpi_mcfg_entry *mcfg;
	size_t nmcfg;

	/*
	 * Optional: called inside the DSDT's Scope(\_SB_) to add devices
	 * (e.g. the PCI0 host bridge). Return 0 or -errno; errors recorded
	 * in aml->err are reported too.
	 */
	int (*dsdt_sb_hook)(void *opaque, struct aml *aml);
	void *dsdt_sb_opaque;

	/* Optional: up to 16 more tables, listed in the XSDT after ours. */
	const struct acpi_extra_table *extra;
	size_t nextra;
};

/* Fill cfg with the defaults above for ncpus CPUs, base 0xE0000. */
void acpi_config_init(struct acpi_config *cfg, unsigned int ncpus);

/*
 * Build RSDP, XSDT, FADT, DSDT, MADT (and MCFG and extra tables if asked
 * for) into buf, whose first byte lives at cfg->base in the guest. The RSDP
 * comes first, at cfg->base, so Linux's 0xE0000-0xFFFFF scan finds it; every
 * table starts 16-byte aligned. *used receives the bytes written and
 * *rsdp_gpa the RSDP's guest address. Returns 0, -EINVAL (bad config) or
 * -ENOSPC (buf too small), or an error from a hook.
 */
__attribute__((warn_unused_result)) int
acpi_build(const struct acpi_config *cfg, uint8_t *buf, size_t size,
	   size_t *used, uint64_t *rsdp_gpa);

/* Sum of len bytes modulo 256: 0 for a table with a correct checksum. */
uint8_t acpi_checksum(const void *data, size_t len);

#endif
