/* edu_msi.c: the x86 tiny guest's "edu" mode: the shared edu checks on the MCFG's ECAM, then one MSI into the local APIC. */
#include "edu.h"
#include "tiny.h"

#define PCI_CAP_ID_MSI	    0x05
#define PCI_MSI_FLAGS_64    0x80
#define PCI_MSI_FLAGS_QSIZE 0x70

#define MSR_APIC_BASE	 0x1b
#define APIC_BASE_ENABLE (1u << 11)
#define APIC_BASE_X2APIC (1u << 10)
#define LAPIC_SVR	 0xf0
#define LAPIC_SVR_ENABLE 0x100
#define LAPIC_IRR	 0x200
#define MSI_ADDR	 0xfee00000u /* destination APIC ID 0 (vCPU 0) */
#define MSI_VECTOR	 0x51 /* data: fixed delivery, edge */

static uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return (uint64_t)hi << 32 | lo;
}

static bool test_msi(volatile uint8_t *c)
{
	unsigned int cap = pci_find_cap(c, PCI_CAP_ID_MSI), n;
	uint64_t apic_base = rdmsr(MSR_APIC_BASE);
	volatile uint32_t *lapic, *irr;
	uint32_t bit = 1u << (MSI_VECTOR % 32);
	uint16_t flags;

	if (!cap) {
		edu_fail("msi", "no MSI capability", c16(c, 0x06), c[0x34]);
		return false;
	}
	if (!(apic_base & APIC_BASE_ENABLE) || (apic_base & APIC_BASE_X2APIC)) {
		edu_fail("msi", "local APIC not in xAPIC mode, APIC_BASE",
		     apic_base, 0);
		return false;
	}
	/* Below 4 GiB: inside the VMM's identity map. */
	lapic = (volatile uint32_t *)(apic_base & ~0xfffull);
	map_1g((uint64_t)lapic);
	irr = &lapic[(LAPIC_IRR + 0x10 * (MSI_VECTOR / 32)) / 4];
	lapic[LAPIC_SVR / 4] |= LAPIC_SVR_ENABLE;
	if (*irr & bit) {
		edu_fail("msi", "vector pending before the interrupt, IRR", *irr,
		     0);
		return false;
	}
	/* Address, data, then enable with one vector (Linux's order). */
	flags = c16(c, cap + 2);
	w32(c, cap + 4, MSI_ADDR);
	if (flags & PCI_MSI_FLAGS_64) {
		w32(c, cap + 8, 0);
		w16(c, cap + 12, MSI_VECTOR);
	} else {
		w16(c, cap + 8, MSI_VECTOR);
	}
	w16(c, cap + 2, (uint16_t)((flags & ~PCI_MSI_FLAGS_QSIZE) | 1));
	if (!(c16(c, cap + 2) & 1)) {
		edu_fail("msi", "MSI enable did not stick, flags", c16(c, cap + 2),
		     flags);
		return false;
	}
	/* Interrupts stay disabled: the vector waits in the IRR. */
	edu_wr(EDU_IRQ_RAISE, 1);
	for (n = 1; n <= EDU_POLL_MAX && !(*irr & bit); n++)
		edu_delay();
	if (!(*irr & bit)) {
		edu_fail("msi", "vector 0x51 not in the IRR, edu status",
		     edu_rd(EDU_IRQ_STATUS), *irr);
		edu_wr(EDU_IRQ_ACK, 1);
		return false;
	}
	edu_wr(EDU_IRQ_ACK, 1);
	puts_uart("TINY: edu msi vector 0x51 pending after ");
	put_dec(n);
	puts_uart(" polls\n");
	if (edu_rd(EDU_IRQ_STATUS) & 1) {
		edu_fail("msi", "edu status still set after the ack",
		     edu_rd(EDU_IRQ_STATUS), 0);
		return false;
	}
	puts_uart("TINY: edu msi PASS\n");
	return true;
}

void tiny_edu(uint64_t rsdp)
{
	struct ecam e;

	if (!ecam_find(rsdp, &e)) {
		puts_uart("TINY: edu FAIL no MCFG\n");
		return;
	}
	tiny_edu_run(&e, test_msi);
}
