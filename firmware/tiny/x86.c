/* x86.c: the x86 tiny guest's board: COM1 UART, ACPI S5 power-off, halting, and identity maps for MMIO above 4 GiB. */
#include "pci.h"
#include "tiny.h"

#define COM1	     0x3f8
#define PM_SLEEP_CTL 0x600

void putc_uart(char c)
{
	while (!(inb(COM1 + 5) & 0x20))
		;
	outb(COM1, (uint8_t)c);
}

int getc_uart(void)
{
	while (!(inb(COM1 + 5) & 0x01))
		;
	return inb(COM1);
}

void halt_forever(void)
{
	for (;;)
		__asm__ volatile("cli; hlt");
}

void poweroff(void)
{
	/* ACPI S5: SLP_TYP 5, SLP_EN. */
	outb(PM_SLEEP_CTL, (5 << 2) | (1 << 5));
	halt_forever();
}

/* Extra page tables to reach MMIO above the 4 GiB the VMM identity-maps. */
static uint64_t pdpt_hi[512] __attribute__((aligned(4096)));
static uint64_t pd_hi[512] __attribute__((aligned(4096)));

static uint64_t read_cr3(void)
{
	uint64_t v;

	__asm__ volatile("mov %%cr3, %0" : "=r"(v));
	return v;
}

void map_1g(uint64_t addr)
{
	uint64_t *pml4 = (uint64_t *)(read_cr3() & ~0xfffull);
	uint64_t *pdpt;
	uint64_t base = addr & ~((1ull << 30) - 1);

	if (addr < (1ull << 32))
		return;
	if (!(pml4[addr >> 39 & 511] & 1)) {
		for (int i = 0; i < 512; i++)
			pdpt_hi[i] = 0;
		pml4[addr >> 39 & 511] = (uint64_t)pdpt_hi | 3;
	}
	pdpt = (uint64_t *)(pml4[addr >> 39 & 511] & ~0xfffull);
	for (int i = 0; i < 512; i++)
		pd_hi[i] = (base + ((uint64_t)i << 21)) | 0x83;
	pdpt[addr >> 30 & 511] = (uint64_t)pd_hi | 3;
	__asm__ volatile("mov %0, %%cr3" : : "r"(read_cr3()) : "memory");
}
