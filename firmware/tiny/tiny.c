/* tiny.c: the tiny bare-metal guest's test modes, chosen by tiny.mode= on the command line. */
#include "tiny.h"

/* Offsets in struct boot_params (Documentation/arch/x86/zero-page.rst). */
#define BP_ACPI_RSDP	0x070
#define BP_E820_ENTRIES 0x1e8
#define BP_CMD_LINE_PTR 0x228
#define BP_E820_TABLE	0x2d0

static uint64_t rd64(const void *p)
{
	return *(const volatile uint64_t *)p;
}

static uint32_t rd32(const void *p)
{
	return *(const volatile uint32_t *)p;
}

static void mode_info(const struct tiny_boot *b)
{
	uint64_t ram = 0;

	for (unsigned int i = 0; i < b->nmm; i++) {
		puts_uart("TINY: e820 ");
		put_hex(b->mm[i].addr);
		puts_uart(" ");
		put_hex(b->mm[i].size);
		puts_uart(" type ");
		put_dec(b->mm[i].type);
		puts_uart("\n");
		if (b->mm[i].type == 1)
			ram += b->mm[i].size;
	}
	puts_uart("TINY: ram-kib ");
	put_dec(ram >> 10);
	puts_uart("\n");
}

static bool acpi_sum_ok(const uint8_t *p, uint32_t len)
{
	uint8_t s = 0;

	for (uint32_t i = 0; i < len; i++)
		s += p[i];
	return s == 0;
}

/* Walk RSDP -> XSDT -> tables, checking every checksum. */
static void mode_acpi(const struct tiny_boot *b)
{
	const uint8_t *rsdp = (const uint8_t *)b->rsdp;
	const uint8_t *xsdt;
	uint32_t n;
	bool ok = true;

	if (!rsdp || tiny_memcmp(rsdp, "RSD PTR ", 8) ||
	    !acpi_sum_ok(rsdp, 20) || !acpi_sum_ok(rsdp, rd32(rsdp + 20))) {
		puts_uart("TINY: acpi FAIL rsdp\n");
		return;
	}
	xsdt = (const uint8_t *)rd64(rsdp + 24);
	if (tiny_memcmp(xsdt, "XSDT", 4) ||
	    !acpi_sum_ok(xsdt, rd32(xsdt + 4))) {
		puts_uart("TINY: acpi FAIL xsdt\n");
		return;
	}
	n = (rd32(xsdt + 4) - 36) / 8;
	puts_uart("TINY: acpi tables");
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *t = (const uint8_t *)rd64(xsdt + 36 + i * 8);
		char sig[5] = {(char)t[0], (char)t[1], (char)t[2], (char)t[3],
			       0};

		puts_uart(" ");
		puts_uart(sig);
		if (!acpi_sum_ok(t, rd32(t + 4))) {
			puts_uart("(bad-checksum)");
			ok = false;
		}
		if (!tiny_memcmp(sig, "FACP", 4)) {
			const uint8_t *dsdt = (const uint8_t *)rd64(t + 140);

			puts_uart(" DSDT");
			if (tiny_memcmp(dsdt, "DSDT", 4) ||
			    !acpi_sum_ok(dsdt, rd32(dsdt + 4))) {
				puts_uart("(bad)");
				ok = false;
			}
		}
	}
	puts_uart(ok ? "\nTINY: acpi ok\n" : "\nTINY: acpi FAIL checksum\n");
}

static void mode_cpuid(void)
{
	uint32_t r[4];

	cpuid(1, 0, r);
	puts_uart("TINY: cpuid.1 ecx=");
	put_hex(r[2]);
	puts_uart(" edx=");
	put_hex(r[3]);
	puts_uart(" apic-id=");
	put_dec(r[1] >> 24);
	puts_uart("\n");
}

static void triple_fault(void)
{
	struct __attribute__((packed)) {
		uint16_t limit;
		uint64_t base;
	} idtr = {0, 0};

	__asm__ volatile("lidt %0; ud2" : : "m"(idtr));
}

static void tiny_run(const struct tiny_boot *b)
{
	char mode[32] = "hello";

	cmdline_get(b->cmdline, "tiny.mode", mode, sizeof(mode));
	puts_uart("TINY: mode ");
	puts_uart(mode);
	puts_uart(" (");
	puts_uart(b->how);
	puts_uart(" entry)\n");
	if (str_eq(mode, "hello")) {
		puts_uart("TINY: hello from the guest\n");
	} else if (str_eq(mode, "info")) {
		mode_info(b);
	} else if (str_eq(mode, "acpi")) {
		mode_acpi(b);
	} else if (str_eq(mode, "pci")) {
		char list[4] = "0";

		cmdline_get(b->cmdline, "tiny.list", list, sizeof(list));
		tiny_pci(b->rsdp, str_eq(list, "1"));
	} else if (str_eq(mode, "virtio")) {
		tiny_virtio(b->rsdp);
	} else if (str_eq(mode, "virtio-blk")) {
		char ro[4] = "0";

		cmdline_get(b->cmdline, "tiny.ro", ro, sizeof(ro));
		tiny_virtio_blk(b->rsdp, str_eq(ro, "1"));
	} else if (str_eq(mode, "edu")) {
		tiny_edu(b->rsdp);
	} else if (str_eq(mode, "chaos")) {
		tiny_chaos(b->rsdp);
	} else if (str_eq(mode, "cpuid")) {
		mode_cpuid();
	} else if (str_eq(mode, "marker")) {
		/* Boot markers: debug port, then the MMIO boot timer. */
		outb(0x80, 42);
		*(volatile uint32_t *)0xfeb00000ull = 123;
		puts_uart("TINY: markers written\n");
	} else if (str_eq(mode, "echo")) {
		tiny_echo();
	} else if (str_eq(mode, "reboot")) {
		outb(0x64, 0xfe);
		halt_forever();
	} else if (str_eq(mode, "reset-reg")) {
		outb(0xcf9, 0x06);
		halt_forever();
	} else if (str_eq(mode, "panic")) {
		outb(0x505, 1);
		halt_forever();
	} else if (str_eq(mode, "triple")) {
		triple_fault();
	} else if (str_eq(mode, "int3")) {
		/* KVM's instruction emulator (kvm_pvm hosts) cannot run this. */
		__asm__ volatile("int3");
	} else if (str_eq(mode, "halt")) {
		halt_forever();
	} else if (str_eq(mode, "spam")) {
		/* Console output for ever, a byte per exit, for a reader. */
		for (;;)
			puts_uart("TINY: spam spam spam spam spam spam spam\n");
	} else if (str_eq(mode, "flood")) {
		/*
		 * Console output for ever, for a reader that stops reading.
		 * rep outsb hands KVM a page at a time, so the console buffer
		 * fills in a few hundred exits even where exits are slow.
		 */
		static char spam[4096];
		static const char line[] = "TINY: spam spam spam spam spam\r\n";

		for (size_t i = 0; i < sizeof(spam); i++)
			spam[i] = line[i % (sizeof(line) - 1)];
		for (;;) {
			const char *p = spam;
			size_t n = sizeof(spam);

			__asm__ volatile("rep outsb"
					 : "+S"(p), "+c"(n)
					 : "d"(0x3f8)
					 : "memory");
		}
	} else if (str_eq(mode, "spin")) {
		/* A vCPU that never exits to the VMM by itself. */
		for (;;)
			__asm__ volatile("cli; pause");
	} else if (str_eq(mode, "idle")) {
		/* Interrupts on, none programmed: an idle guest, never dead. */
		for (;;)
			__asm__ volatile("sti; hlt");
	} else {
		puts_uart("TINY: unknown mode\n");
	}
	poweroff();
}

/* 64-bit boot protocol: RSI pointed at struct boot_params. */
void tiny_main(const uint8_t *bp);
void tiny_main(const uint8_t *bp)
{
	static struct tiny_boot b;
	unsigned int n = bp[BP_E820_ENTRIES];

	b.how = "64-bit";
	b.cmdline = (const char *)(uint64_t)rd32(bp + BP_CMD_LINE_PTR);
	b.rsdp = rd64(bp + BP_ACPI_RSDP);
	for (unsigned int i = 0; i < n && i < 32; i++) {
		const uint8_t *e = bp + BP_E820_TABLE + i * 20;

		b.mm[i].addr = rd64(e);
		b.mm[i].size = rd64(e + 8);
		b.mm[i].type = rd32(e + 16);
	}
	b.nmm = n < 32 ? n : 32;
	tiny_run(&b);
}

/* PVH: EBX pointed at struct hvm_start_info. */
void tiny_main_pvh(const uint8_t *si);
void tiny_main_pvh(const uint8_t *si)
{
	static struct tiny_boot b;
	const uint8_t *mm;
	unsigned int n;

	if (rd32(si) != 0x336ec578u) {
		puts_uart("TINY: pvh FAIL bad start info magic\n");
		poweroff();
	}
	b.how = "PVH";
	b.cmdline = (const char *)rd64(si + 0x18);
	b.rsdp = rd64(si + 0x20);
	mm = (const uint8_t *)rd64(si + 0x28);
	n = rd32(si + 0x30);
	for (unsigned int i = 0; i < n && i < 32; i++) {
		b.mm[i].addr = rd64(mm + i * 24);
		b.mm[i].size = rd64(mm + i * 24 + 8);
		b.mm[i].type = rd32(mm + i * 24 + 16);
	}
	b.nmm = n < 32 ? n : 32;
	puts_uart("TINY: pvh start info version ");
	put_dec(rd32(si + 4));
	puts_uart(" modules ");
	put_dec(rd32(si + 12));
	puts_uart("\n");
	tiny_run(&b);
}
