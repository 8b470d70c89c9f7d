/* test_boot.c: L0 tests of x86 kernel parsing, e820, zero page and page tables. */
#include <asm/bootparam.h>
#include <criterion/criterion.h>
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/boot.h"
#include "arch/x86_64/layout.h"
#include "vmm/memory.h"

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

/* A minimal bzImage: 4 setup sectors (setup_sects = 0 means 4) + payload. */
static uint8_t *fake_bzimage(size_t *size)
{
	size_t n = 5 * 512 + 8192;
	uint8_t *img = calloc(1, n);

	img[0x1f1] = 0;
	put16(img + 0x1fe, 0xaa55);
	img[0x201] = 0x6a; /* header ends at 0x26c */
	memcpy(img + 0x202, "HdrS", 4);
	put16(img + 0x206, 0x020f);
	put32(img + 0x22c, 0x7fffffff);
	put32(img + 0x230, 0x200000);
	img[0x234] = 1;
	put16(img + 0x236, XLF_KERNEL_64);
	put32(img + 0x238, 2047);
	put64(img + 0x258, 0x1000000);
	put32(img + 0x260, 0x2000000);
	*size = n;
	return img;
}

Test(bzimage, parses_header)
{
	size_t size;
	uint8_t *img = fake_bzimage(&size);
	struct bzimage_info bz;
	char err[128];

	cr_assert_eq(bzimage_parse(img, size, &bz, err, sizeof(err)), 0);
	cr_assert_eq(bz.version, 0x020f);
	cr_assert_eq(bz.setup_size, 5 * 512, "setup_sects 0 means 4");
	cr_assert_eq(bz.kernel_size, 8192);
	cr_assert_eq(bz.pref_address, 0x1000000);
	cr_assert_eq(bz.init_size, 0x2000000);
	cr_assert_eq(bz.cmdline_size, 2047);
	cr_assert(bz.relocatable);
	free(img);
}

Test(bzimage, rejects_what_we_cannot_boot)
{
	size_t size;
	uint8_t *img = fake_bzimage(&size);
	struct bzimage_info bz;
	char err[256];

	cr_assert_eq(bzimage_parse(img, 100, &bz, err, sizeof(err)), -ENOEXEC);
	img[0x202] = 'X';
	cr_assert_eq(bzimage_parse(img, size, &bz, err, sizeof(err)), -ENOEXEC);
	cr_assert(strstr(err, "not a Linux kernel"), "%s", err);
	img[0x202] = 'H';
	put16(img + 0x206, 0x020a);
	cr_assert_eq(bzimage_parse(img, size, &bz, err, sizeof(err)), -ENOEXEC);
	cr_assert(strstr(err, "too old"), "%s", err);
	put16(img + 0x206, 0x020f);
	put16(img + 0x236, 0);
	cr_assert_eq(bzimage_parse(img, size, &bz, err, sizeof(err)), -ENOEXEC);
	cr_assert(strstr(err, "64-bit"), "%s", err);
	put16(img + 0x236, XLF_KERNEL_64);
	img[0x1f1] = 100; /* setup larger than the file */
	cr_assert_eq(bzimage_parse(img, size, &bz, err, sizeof(err)), -ENOEXEC);
	cr_assert(strstr(err, "truncated"), "%s", err);
	free(img);
}

static struct guest_mem fake_mem(uint64_t low, uint64_t high)
{
	struct guest_mem m = {.fd = -1};

	m.regions[0] = (struct mem_region){0, low, NULL};
	m.nregions = 1;
	if (high) {
		m.regions[1] =
			(struct mem_region){X86_MMIO_HOLE_END, high, NULL};
		m.nregions = 2;
	}
	return m;
}

Test(e820, small_guest)
{
	struct guest_mem m = fake_mem(64ull << 20, 0);
	struct e820_ent e[8];
	int n = e820_build(&m, NULL, 0, e, 8);

	cr_assert_eq(n, 3);
	cr_assert_eq(e[0].addr, 0);
	cr_assert_eq(e[0].size, X86_EBDA_START);
	cr_assert_eq(e[0].type, E820_RAM);
	cr_assert_eq(e[1].addr, X86_EBDA_START);
	cr_assert_eq(e[1].addr + e[1].size, X86_HIMEM_START);
	cr_assert_eq(e[1].type, E820_RESERVED);
	cr_assert_eq(e[2].addr, X86_HIMEM_START);
	cr_assert_eq(e[2].addr + e[2].size, 64ull << 20);
}

Test(e820, large_guest_split_around_hole_plus_extra)
{
	struct guest_mem m = fake_mem(X86_MMIO_HOLE_START, 1ull << 30);
	struct e820_ent extra = {0xe0000000, 0x10000000, E820_RESERVED};
	struct e820_ent e[8];
	int n = e820_build(&m, &extra, 1, e, 8);

	cr_assert_eq(n, 5);
	cr_assert_eq(e[2].addr + e[2].size, X86_MMIO_HOLE_START);
	cr_assert_eq(e[3].addr, 1ull << 32);
	cr_assert_eq(e[3].size, 1ull << 30);
	cr_assert_eq(e[4].addr, 0xe0000000);
	cr_assert_eq(e820_build(&m, &extra, 1, e, 4), -ENOSPC);
}

Test(zero_page, fields)
{
	size_t size;
	uint8_t *img = fake_bzimage(&size);
	struct guest_mem m = fake_mem(256ull << 20, 0);
	struct e820_ent e[8];
	struct boot_params *bp = calloc(1, 4096);
	int n = e820_build(&m, NULL, 0, e, 8);

	cr_assert_eq(bzimage_boot_params((uint8_t *)bp, img, size, 0x20000,
					 0x8000000, 12345, e, (unsigned)n,
					 0xe0000),
		     0);
	cr_assert_eq(bp->hdr.header, 0x53726448); /* "HdrS" */
	cr_assert_eq(bp->hdr.version, 0x020f);
	cr_assert_eq(bp->hdr.type_of_loader, 0xff);
	cr_assert(bp->hdr.loadflags & LOADED_HIGH);
	cr_assert_eq(bp->hdr.cmd_line_ptr, 0x20000);
	cr_assert_eq(bp->hdr.ramdisk_image, 0x8000000);
	cr_assert_eq(bp->hdr.ramdisk_size, 12345);
	cr_assert_eq(bp->hdr.pref_address, 0x1000000);
	cr_assert_eq(bp->acpi_rsdp_addr, 0xe0000);
	cr_assert_eq(bp->e820_entries, 3);
	cr_assert_eq(bp->e820_table[2].addr, X86_HIMEM_START);
	cr_assert_eq(bp->e820_table[2].type, E820_RAM);
	free(bp);
	free(img);
}

/* ELF64 with one PT_LOAD and (optionally) a Xen PVH entry note. */
static uint8_t *fake_elf(size_t *size, bool with_note, uint64_t paddr)
{
	size_t n = 0x2000;
	uint8_t *img = calloc(1, n);
	Elf64_Ehdr *eh = (Elf64_Ehdr *)img;
	Elf64_Phdr *ph = (Elf64_Phdr *)(img + sizeof(*eh));
	Elf64_Nhdr *nh = (Elf64_Nhdr *)(img + 0x200);

	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_machine = EM_X86_64;
	eh->e_phoff = sizeof(*eh);
	eh->e_phentsize = sizeof(*ph);
	eh->e_phnum = 2;
	ph[0] = (Elf64_Phdr){.p_type = PT_LOAD,
			     .p_offset = 0x1000,
			     .p_paddr = paddr,
			     .p_filesz = 0x1000,
			     .p_memsz = 0x3000};
	ph[1] = (Elf64_Phdr){.p_type = PT_NOTE,
			     .p_offset = 0x200,
			     .p_filesz = sizeof(*nh) + 4 + 4};
	nh->n_namesz = 4;
	nh->n_descsz = 4;
	nh->n_type = with_note ? 18 : 5;
	memcpy(img + 0x200 + sizeof(*nh), "Xen", 4);
	put32(img + 0x200 + sizeof(*nh) + 4, 0x1000123);
	*size = n;
	return img;
}

Test(elf, pvh_note_and_loads)
{
	size_t size;
	uint8_t *img = fake_elf(&size, true, 0x1000000);
	struct elf_kernel ek;
	char err[256];

	cr_assert(elf_is_elf(img, size));
	cr_assert_eq(elf_kernel_parse(img, size, &ek, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(ek.pvh_entry, 0x1000123);
	cr_assert_eq(ek.nloads, 1);
	cr_assert_eq(ek.lowest, 0x1000000);
	cr_assert_eq(ek.highest, 0x1003000);
	free(img);
}

Test(elf, rejects_missing_note_low_load_and_bad_headers)
{
	size_t size;
	uint8_t *img = fake_elf(&size, false, 0x1000000);
	struct elf_kernel ek;
	char err[256];

	cr_assert_eq(elf_kernel_parse(img, size, &ek, err, sizeof(err)),
		     -ENOEXEC);
	cr_assert(strstr(err, "no PVH entry note"), "%s", err);
	free(img);
	img = fake_elf(&size, true, 0x1000);
	cr_assert_eq(elf_kernel_parse(img, size, &ek, err, sizeof(err)),
		     -ENOEXEC);
	cr_assert(strstr(err, "below 1 MiB"), "%s", err);
	((Elf64_Ehdr *)img)->e_ident[EI_CLASS] = ELFCLASS32;
	cr_assert_eq(elf_kernel_parse(img, size, &ek, err, sizeof(err)),
		     -ENOEXEC);
	((Elf64_Ehdr *)img)->e_ident[EI_CLASS] = ELFCLASS64;
	((Elf64_Phdr *)(img + sizeof(Elf64_Ehdr)))->p_filesz = 0x100000;
	cr_assert_eq(elf_kernel_parse(img, size, &ek, err, sizeof(err)),
		     -ENOEXEC);
	cr_assert(strstr(err, "outside the file"), "%s", err);
	((Elf64_Ehdr *)img)->e_phnum = 60000;
	cr_assert_eq(elf_kernel_parse(img, size, &ek, err, sizeof(err)),
		     -ENOEXEC);
	free(img);
}

Test(paging, identity_maps_4g_with_2m_pages)
{
	uint8_t *ram = calloc(1, 0x10000);
	struct guest_mem m = {.fd = -1};
	uint64_t *pd;

	m.regions[0] = (struct mem_region){0, 0x10000, ram};
	m.nregions = 1;
	cr_assert_eq(x86_write_page_tables(&m, X86_PML4_ADDR, X86_PDPT_ADDR,
					   X86_PD_ADDR),
		     0);
	cr_assert_eq(*(uint64_t *)(ram + X86_PML4_ADDR), X86_PDPT_ADDR | 3);
	cr_assert_eq(((uint64_t *)(ram + X86_PDPT_ADDR))[3],
		     (X86_PD_ADDR + 3 * 4096) | 3);
	pd = (uint64_t *)(ram + X86_PD_ADDR);
	cr_assert_eq(pd[0], 0x83);
	cr_assert_eq(pd[2047], (2047ull << 21) | 0x83);
	/* tables outside RAM are refused */
	cr_assert_eq(
		x86_write_page_tables(&m, 0x20000, X86_PDPT_ADDR, X86_PD_ADDR),
		-EFAULT);
	free(ram);
}

Test(memory, ptr_respects_region_bounds)
{
	uint8_t *a = calloc(1, 4096), *b = calloc(1, 8192);
	struct guest_mem m = {.fd = -1};
	uint8_t buf[16] = {1, 2, 3};

	m.regions[0] = (struct mem_region){0, 4096, a};
	m.regions[1] = (struct mem_region){1ull << 32, 8192, b};
	m.nregions = 2;
	cr_assert_eq(guest_mem_ptr(&m, 0, 4096), a);
	cr_assert_null(guest_mem_ptr(&m, 1, 4096));
	cr_assert_null(guest_mem_ptr(&m, 4096, 1));
	cr_assert_eq(guest_mem_ptr(&m, (1ull << 32) + 100, 8092), b + 100);
	cr_assert_null(guest_mem_ptr(&m, (1ull << 32) + 100, 8093));
	cr_assert_null(guest_mem_ptr(&m, UINT64_MAX, 2));
	cr_assert_eq(guest_mem_write(&m, 4090, buf, 6), 0);
	cr_assert_eq(guest_mem_write(&m, 4090, buf, 7), -EFAULT);
	cr_assert_eq(guest_mem_region_end(&m, 5), 4096);
	cr_assert_eq(guest_mem_region_end(&m, 5000), 0);
	free(a);
	free(b);
}
