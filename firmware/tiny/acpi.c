/* acpi.c: the x86 tiny guest's ACPI lookups (a table via the XSDT, the ECAM from MCFG) and its "pci" mode, which walks that ECAM. */
#include "pci.h"
#include "tiny.h"

static uint64_t rd64(const volatile void *p)
{
	return *(const volatile uint64_t *)p;
}

static uint32_t rd32(const volatile void *p)
{
	return *(const volatile uint32_t *)p;
}

const uint8_t *acpi_find_table(uint64_t rsdp_addr, const char *sig)
{
	const uint8_t *rsdp = (const uint8_t *)rsdp_addr;
	const uint8_t *xsdt;
	uint32_t n;

	if (!rsdp)
		return 0;
	xsdt = (const uint8_t *)rd64(rsdp + 24);
	n = (rd32(xsdt + 4) - 36) / 8;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *t = (const uint8_t *)rd64(xsdt + 36 + i * 8);

		if (!tiny_memcmp(t, sig, 4))
			return t;
	}
	return 0;
}

bool ecam_find(uint64_t rsdp, struct ecam *e)
{
	const uint8_t *mcfg = acpi_find_table(rsdp, "MCFG");

	if (!mcfg)
		return false;
	e->base = rd64(mcfg + 44);
	e->bus_first = mcfg[44 + 10];
	e->bus_last = mcfg[44 + 11];
	e->base += (uint64_t)e->bus_first << 20;
	/* MCFG says nothing of the host bridge's windows. */
	e->mem_base = e->mem_size = 0;
	e->pref_base = e->pref_size = 0;
	return true;
}

void tiny_pci(uint64_t rsdp, bool list)
{
	struct ecam e;

	if (!ecam_find(rsdp, &e)) {
		puts_uart("TINY: pci FAIL no MCFG\n");
		return;
	}
	pci_walk(&e, list);
}
