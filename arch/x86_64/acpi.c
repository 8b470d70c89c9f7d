/* acpi.c: lays out and checksums the x86 ACPI tables in the BIOS area. */
#include <errno.h>
#include <string.h>

#include "acpi.h"

#define ACPI_OEM_REVISION     1
#define ACPI_CREATOR_REVISION 1

#define ACPI_XSDT_REVISION	 1
#define ACPI_FADT_REVISION	 6
#define ACPI_FADT_MINOR_REVISION 5 /* ACPI 6.5, whose layout we fill */
#define ACPI_MADT_REVISION	 5
#define ACPI_DSDT_REVISION	 2 /* 64-bit AML integers */
#define ACPI_MCFG_REVISION	 1

/* FADT field offsets (ACPI 6.5, table 5.9). */
#define FADT_DSDT	       40
#define FADT_IAPC_BOOT_ARCH    109
#define FADT_FLAGS	       112
#define FADT_RESET_REG	       116
#define FADT_RESET_VALUE       128
#define FADT_MINOR_REVISION    131
#define FADT_X_DSDT	       140
#define FADT_SLEEP_CONTROL_REG 244
#define FADT_SLEEP_STATUS_REG  256

/* FADT flags. */
#define FADT_F_PWR_BUTTON      (1u << 4) /* no fixed-feature power button */
#define FADT_F_SLP_BUTTON      (1u << 5) /* no fixed-feature sleep button */
#define FADT_F_RESET_REG_SUP   (1u << 10)
#define FADT_F_HW_REDUCED_ACPI (1u << 20)

/*
 * IA-PC boot architecture flags. Clear: LEGACY_DEVICES (no ISA devices
 * beyond the UART, which the DSDT describes) and 8042 (Linux then skips
 * probing a keyboard controller we do not have). Set: no VGA, no CMOS RTC
 * (Linux then registers no RTC platform device). MSI stays supported.
 */
#define IAPC_BOOT_ARCH_VGA_NOT_PRESENT	    (1u << 2)
#define IAPC_BOOT_ARCH_CMOS_RTC_NOT_PRESENT (1u << 5)

/* Generic Address Structure. */
#define ACPI_GAS_LEN	     12
#define ACPI_GAS_SYSTEM_IO   1
#define ACPI_GAS_ACCESS_BYTE 1

/* MADT. */
#define MADT_PCAT_COMPAT	  1u
#define MADT_LOCAL_APIC		  0
#define MADT_IO_APIC		  1
#define MADT_INT_SRC_OVERRIDE	  2
#define MADT_LOCAL_APIC_NMI	  4
#define MADT_LOCAL_APIC_LEN	  8
#define MADT_IO_APIC_LEN	  12
#define MADT_INT_SRC_OVERRIDE_LEN 10
#define MADT_LOCAL_APIC_NMI_LEN	  6
#define MADT_LAPIC_ENABLED	  1u
#define MADT_ALL_PROCESSORS	  0xff

#define MCFG_ENTRY_LEN 16

/* Where the tables go: buf[0..size) lives at guest address base. */
struct acpi_area {
	uint8_t *buf;
	size_t size;
	size_t off; /* first free byte */
	uint64_t base;
};

static void acpi_le(uint8_t *p, uint64_t v, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

uint8_t acpi_checksum(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint8_t sum = 0;

	while (len--)
		sum = (uint8_t)(sum + *p++);
	return sum;
}

/* Reserve len zeroed bytes at the next aligned offset. */
static int acpi_alloc(struct acpi_area *area, size_t len, size_t *off)
{
	size_t start = (area->off + ACPI_TABLE_ALIGN - 1) &
		       ~(size_t)(ACPI_TABLE_ALIGN - 1);

	if (start > area->size || len > area->size - start)
		return -ENOSPC;
	memset(area->buf + start, 0, len);
	area->off = start + len;
	*off = start;
	return 0;
}

static uint64_t acpi_gpa(const struct acpi_area *area, size_t off)
{
	return area->base + off;
}

/* Standard header; the checksum is filled by acpi_table_seal(). */
static void acpi_header(uint8_t *p, const char sig[4], uint32_t len,
			uint8_t rev)
{
	memcpy(p, sig, 4);
	acpi_le(p + 4, len, 4);
	p[8] = rev;
	p[9] = 0;
	memcpy(p + 10, ACPI_OEM_ID, 6);
	memcpy(p + 16, ACPI_OEM_TABLE_ID, 8);
	acpi_le(p + 24, ACPI_OEM_REVISION, 4);
	memcpy(p + 28, ACPI_CREATOR_ID, 4);
	acpi_le(p + 32, ACPI_CREATOR_REVISION, 4);
}

static void acpi_table_seal(uint8_t *p, size_t len)
{
	p[9] = 0;
	p[9] = (uint8_t)(0x100 - acpi_checksum(p, len));
}

/* A one-byte System I/O register. */
static void acpi_gas_io8(uint8_t *p, uint16_t port)
{
	p[0] = ACPI_GAS_SYSTEM_IO;
	p[1] = 8; /* bit width */
	p[2] = 0; /* bit offset */
	p[3] = ACPI_GAS_ACCESS_BYTE;
	acpi_le(p + 4, port, 8);
}

void acpi_config_init(struct acpi_config *cfg, unsigned int ncpus)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->ncpus = ncpus;
	cfg->base = 0xe0000;
	cfg->lapic_addr = 0xfee00000;
	cfg->ioapic_addr = 0xfec00000;
	cfg->sleep_ctl_port = 0x600;
	cfg->sleep_sts_port = 0x601;
	cfg->reset_port = 0xcf9;
	cfg->reset_value = 0x06;
	cfg->pvpanic_port = 0x505;
	cfg->serial_port = 0x3f8;
	cfg->serial_irq = 4;
}

static int acpi_config_check(const struct acpi_config *cfg)
{
	size_t i;

	if (cfg->ncpus < 1 || cfg->ncpus > ACPI_MAX_CPUS)
		return -EINVAL;
	if (cfg->base % ACPI_TABLE_ALIGN)
		return -EINVAL;
	if (!cfg->sleep_ctl_port || !cfg->sleep_sts_port || !cfg->reset_port)
		return -EINVAL;
	if (cfg->serial_port && cfg->serial_irq > 15)
		return -EINVAL;
	if (cfg->nmcfg > ACPI_MAX_MCFG_ENTRIES || (cfg->nmcfg && !cfg->mcfg))
		return -EINVAL;
	for (i = 0; i < cfg->nmcfg; i++)
		if (cfg->mcfg[i].start_bus > cfg->mcfg[i].end_bus)
			return -EINVAL;
	if (cfg->nextra > ACPI_MAX_EXTRA_TABLES || (cfg->nextra && !cfg->extra))
		return -EINVAL;
	for (i = 0; i < cfg->nextra; i++)
		if (!cfg->extra[i].build)
			return -EINVAL;
	return 0;
}

static void acpi_build_fadt(const struct acpi_config *cfg, uint8_t *p,
			    uint64_t dsdt_gpa)
{
	acpi_header(p, "FACP", ACPI_FADT_LEN, ACPI_FADT_REVISION);
	/* Both DSDT pointers agree; the 32-bit one only if it can. */
	if (dsdt_gpa <= UINT32_MAX)
		acpi_le(p + FADT_DSDT, dsdt_gpa, 4);
	acpi_le(p + FADT_IAPC_BOOT_ARCH,
		IAPC_BOOT_ARCH_VGA_NOT_PRESENT |
			IAPC_BOOT_ARCH_CMOS_RTC_NOT_PRESENT,
		2);
	acpi_le(p + FADT_FLAGS,
		FADT_F_HW_REDUCED_ACPI | FADT_F_RESET_REG_SUP |
			FADT_F_PWR_BUTTON | FADT_F_SLP_BUTTON,
		4);
	acpi_gas_io8(p + FADT_RESET_REG, cfg->reset_port);
	p[FADT_RESET_VALUE] = cfg->reset_value;
	p[FADT_MINOR_REVISION] = ACPI_FADT_MINOR_REVISION;
	acpi_le(p + FADT_X_DSDT, dsdt_gpa, 8);
	acpi_gas_io8(p + FADT_SLEEP_CONTROL_REG, cfg->sleep_ctl_port);
	acpi_gas_io8(p + FADT_SLEEP_STATUS_REG, cfg->sleep_sts_port);
	acpi_table_seal(p, ACPI_FADT_LEN);
}

static size_t acpi_madt_len(const struct acpi_config *cfg)
{
	return ACPI_HEADER_LEN + 8 + cfg->ncpus * MADT_LOCAL_APIC_LEN +
	       MADT_IO_APIC_LEN + MADT_INT_SRC_OVERRIDE_LEN +
	       MADT_LOCAL_APIC_NMI_LEN;
}

/*
 * Local APICs 0..ncpus-1 (ACPI processor UID = APIC id), one I/O APIC with
 * id ncpus at GSI 0, ISA IRQ 0 (the PIT) on GSI 2, and LINT1 as NMI on all
 * processors. No override for IRQ 9: HW-reduced ACPI has no SCI.
 */
static void acpi_build_madt(const struct acpi_config *cfg, uint8_t *p,
			    size_t len)
{
	uint8_t *e;
	unsigned int i;

	acpi_header(p, "APIC", (uint32_t)len, ACPI_MADT_REVISION);
	acpi_le(p + 36, cfg->lapic_addr, 4);
	acpi_le(p + 40, MADT_PCAT_COMPAT, 4);
	e = p + 44;
	for (i = 0; i < cfg->ncpus; i++) {
		e[0] = MADT_LOCAL_APIC;
		e[1] = MADT_LOCAL_APIC_LEN;
		e[2] = (uint8_t)i; /* ACPI processor UID */
		e[3] = (uint8_t)i; /* APIC id */
		acpi_le(e + 4, MADT_LAPIC_ENABLED, 4);
		e += MADT_LOCAL_APIC_LEN;
	}
	e[0] = MADT_IO_APIC;
	e[1] = MADT_IO_APIC_LEN;
	e[2] = (uint8_t)cfg->ncpus;
	acpi_le(e + 4, cfg->ioapic_addr, 4);
	acpi_le(e + 8, 0, 4); /* GSI base */
	e += MADT_IO_APIC_LEN;

	e[0] = MADT_INT_SRC_OVERRIDE;
	e[1] = MADT_INT_SRC_OVERRIDE_LEN;
	e[2] = 0; /* ISA */
	e[3] = 0; /* IRQ 0 */
	acpi_le(e + 4, 2, 4); /* GSI 2 */
	acpi_le(e + 8, 0, 2); /* conforms to the bus: edge, active high */
	e += MADT_INT_SRC_OVERRIDE_LEN;

	e[0] = MADT_LOCAL_APIC_NMI;
	e[1] = MADT_LOCAL_APIC_NMI_LEN;
	e[2] = MADT_ALL_PROCESSORS;
	acpi_le(e + 3, 0, 2); /* conforms to the bus */
	e[5] = 1; /* LINT1 */

	acpi_table_seal(p, len);
}

/* The DSDT's AML: \_S5_ and the devices under \_SB_. */
static int acpi_dsdt_aml(const struct acpi_config *cfg, struct aml *a)
{
	int ret = 0;

	/* SLP_TYPa, SLP_TYPb, reserved, reserved */
	aml_name(a, "\\_S5_");
	aml_package_begin(a);
	aml_int(a, ACPI_SLP_TYP_S5);
	aml_int(a, ACPI_SLP_TYP_S5);
	aml_int(a, 0);
	aml_int(a, 0);
	aml_end(a);

	aml_scope_begin(a, "\\_SB_");
	if (cfg->serial_port) {
		aml_device_begin(a, "COM1");
		aml_name_eisaid(a, "_HID", "PNP0501");
		aml_name_int(a, "_UID", 1);
		aml_name(a, "_CRS");
		aml_rt_begin(a);
		aml_io(a, true, cfg->serial_port, cfg->serial_port, 0, 8);
		aml_irq_noflags(a, cfg->serial_irq);
		aml_end(a);
		aml_end(a);
	}
	if (cfg->pvpanic_port) {
		/* Bound by Linux's pvpanic-mmio driver, which takes I/O too. */
		aml_device_begin(a, "PEVT");
		aml_name_string(a, "_HID", "QEMU0001");
		aml_name(a, "_CRS");
		aml_rt_begin(a);
		aml_io(a, true, cfg->pvpanic_port, cfg->pvpanic_port, 1, 1);
		aml_end(a);
		aml_method_begin(a, "_STA", 0, false);
		aml_return_int(a, 0x0f); /* present, enabled, shown, working */
		aml_end(a);
		aml_end(a);
	}
	if (cfg->dsdt_sb_hook && !a->err)
		ret = cfg->dsdt_sb_hook(cfg->dsdt_sb_opaque, a);
	aml_end(a);
	if (ret)
		return ret;
	return aml_finish(a);
}

static int acpi_build_dsdt(const struct acpi_config *cfg,
			   struct acpi_area *area, size_t *off)
{
	struct aml a;
	size_t len;
	int ret;

	ret = acpi_alloc(area, ACPI_HEADER_LEN, off);
	if (ret)
		return ret;
	aml_init(&a, area->buf + area->off, area->size - area->off);
	ret = acpi_dsdt_aml(cfg, &a);
	if (ret)
		return ret;
	len = ACPI_HEADER_LEN + a.len;
	if (len > UINT32_MAX)
		return -EINVAL;
	area->off += a.len;
	acpi_header(area->buf + *off, "DSDT", (uint32_t)len,
		    ACPI_DSDT_REVISION);
	acpi_table_seal(area->buf + *off, len);
	return 0;
}

static int acpi_build_mcfg(const struct acpi_config *cfg,
			   struct acpi_area *area, size_t *off)
{
	size_t len = ACPI_HEADER_LEN + 8 + cfg->nmcfg * MCFG_ENTRY_LEN, i;
	uint8_t *p, *e;
	int ret;

	ret = acpi_alloc(area, len, off);
	if (ret)
		return ret;
	p = area->buf + *off;
	acpi_header(p, "MCFG", (uint32_t)len, ACPI_MCFG_REVISION);
	e = p + ACPI_HEADER_LEN + 8; /* 8 reserved bytes */
	for (i = 0; i < cfg->nmcfg; i++, e += MCFG_ENTRY_LEN) {
		acpi_le(e, cfg->mcfg[i].base, 8);
		acpi_le(e + 8, cfg->mcfg[i].segment, 2);
		e[10] = cfg->mcfg[i].start_bus;
		e[11] = cfg->mcfg[i].end_bus;
	}
	acpi_table_seal(p, len);
	return 0;
}

static int acpi_build_extra(const struct acpi_extra_table *t,
			    struct acpi_area *area, size_t *off)
{
	size_t avail, len = 0;
	int ret;

	ret = acpi_alloc(area, ACPI_HEADER_LEN, off);
	if (ret)
		return ret;
	avail = area->size - area->off;
	ret = t->build(t->opaque, area->buf + area->off, avail, &len);
	if (ret)
		return ret;
	if (len > avail || ACPI_HEADER_LEN + len > UINT32_MAX)
		return -EINVAL;
	area->off += len;
	acpi_header(area->buf + *off, t->signature,
		    (uint32_t)(ACPI_HEADER_LEN + len), t->revision);
	acpi_table_seal(area->buf + *off, ACPI_HEADER_LEN + len);
	return 0;
}

static void acpi_build_rsdp(uint8_t *p, uint64_t xsdt_gpa)
{
	memcpy(p, "RSD PTR ", 8);
	memcpy(p + 9, ACPI_OEM_ID, 6);
	p[15] = 2; /* revision: ACPI 2.0+, has an XSDT */
	acpi_le(p + 16, 0, 4); /* no RSDT */
	acpi_le(p + 20, ACPI_RSDP_LEN, 4);
	acpi_le(p + 24, xsdt_gpa, 8);
	p[8] = (uint8_t)(0x100 - acpi_checksum(p, 20));
	p[32] = (uint8_t)(0x100 - acpi_checksum(p, ACPI_RSDP_LEN));
}

int acpi_build(const struct acpi_config *cfg, uint8_t *buf, size_t size,
	       size_t *used, uint64_t *rsdp_gpa)
{
	struct acpi_area area = {.buf = buf, .size = buf ? size : 0};
	size_t rsdp, xsdt, fadt, dsdt, madt, off, xsdt_len, nent = 0, i;
	uint64_t ent[2 + 1 + ACPI_MAX_EXTRA_TABLES]; /* FADT MADT MCFG extra */
	int ret;

	if (!cfg || !used || !rsdp_gpa)
		return -EINVAL;
	ret = acpi_config_check(cfg);
	if (ret)
		return ret;
	area.base = cfg->base;

	xsdt_len =
		ACPI_HEADER_LEN + 8 * (2 + (cfg->nmcfg ? 1 : 0) + cfg->nextra);

	ret = acpi_alloc(&area, ACPI_RSDP_LEN, &rsdp);
	if (ret)
		return ret;
	ret = acpi_alloc(&area, xsdt_len, &xsdt);
	if (ret)
		return ret;
	ret = acpi_alloc(&area, ACPI_FADT_LEN, &fadt);
	if (ret)
		return ret;
	ret = acpi_build_dsdt(cfg, &area, &dsdt);
	if (ret)
		return ret;
	acpi_build_fadt(cfg, buf + fadt, acpi_gpa(&area, dsdt));
	ent[nent++] = acpi_gpa(&area, fadt);

	ret = acpi_alloc(&area, acpi_madt_len(cfg), &madt);
	if (ret)
		return ret;
	acpi_build_madt(cfg, buf + madt, acpi_madt_len(cfg));
	ent[nent++] = acpi_gpa(&area, madt);

	if (cfg->nmcfg) {
		ret = acpi_build_mcfg(cfg, &area, &off);
		if (ret)
			return ret;
		ent[nent++] = acpi_gpa(&area, off);
	}
	for (i = 0; i < cfg->nextra; i++) {
		ret = acpi_build_extra(&cfg->extra[i], &area, &off);
		if (ret)
			return ret;
		ent[nent++] = acpi_gpa(&area, off);
	}

	acpi_header(buf + xsdt, "XSDT", (uint32_t)xsdt_len, ACPI_XSDT_REVISION);
	for (i = 0; i < nent; i++)
		acpi_le(buf + xsdt + ACPI_HEADER_LEN + 8 * i, ent[i], 8);
	acpi_table_seal(buf + xsdt, xsdt_len);

	acpi_build_rsdp(buf + rsdp, acpi_gpa(&area, xsdt));
	*used = area.off;
	*rsdp_gpa = acpi_gpa(&area, rsdp);
	return 0;
}
