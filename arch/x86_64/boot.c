/* boot.c: parses bzImage and PVH ELF kernels and builds the x86 boot tables (pure logic). */
#include "arch/x86_64/boot.h"

#include <asm/bootparam.h>
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "arch/x86_64/layout.h"

#define HDR_OFF			 0x1f1
#define XEN_ELFNOTE_PHYS32_ENTRY 18

const uint64_t x86_boot_gdt[X86_GDT_ENTRIES] = {
	0,
	0,
	0x00af9b000000ffffull, /* 0x10: 64-bit code, DPL0 */
	0x00cf93000000ffffull, /* 0x18: data, 4 GiB flat */
	0x00cf9b000000ffffull, /* 0x20: 32-bit code, 4 GiB flat */
};

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
	return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

int bzimage_parse(const uint8_t *img, size_t size, struct bzimage_info *out,
		  char *err, size_t errlen)
{
	unsigned int setup_sects;
	uint16_t xloadflags;

	memset(out, 0, sizeof(*out));
	if (size < 0x270 || rd16(img + 0x1fe) != 0xaa55 ||
	    memcmp(img + 0x202, "HdrS", 4) != 0) {
		snprintf(err, errlen,
			 "not a Linux kernel: no bzImage header (boot flag "
			 "0xAA55 and \"HdrS\" magic)");
		return -ENOEXEC;
	}
	out->version = rd16(img + 0x206);
	if (out->version < 0x020c) {
		snprintf(err, errlen,
			 "bzImage boot protocol %u.%02u is too old: need 2.12 "
			 "or later (Linux 3.8+) for the 64-bit entry",
			 out->version >> 8, out->version & 0xff);
		return -ENOEXEC;
	}
	xloadflags = rd16(img + 0x236);
	if (!(xloadflags & XLF_KERNEL_64)) {
		snprintf(err, errlen,
			 "bzImage has no 64-bit entry point (XLF_KERNEL_64 "
			 "unset): a 32-bit kernel cannot be booted");
		return -ENOEXEC;
	}
	setup_sects = img[HDR_OFF];
	if (!setup_sects)
		setup_sects = 4;
	out->setup_size = (size_t)(setup_sects + 1) * 512;
	if (out->setup_size >= size) {
		snprintf(err, errlen,
			 "bzImage is truncated: setup (%zu bytes) is larger "
			 "than the file (%zu bytes)",
			 out->setup_size, size);
		return -ENOEXEC;
	}
	out->kernel_size = size - out->setup_size;
	out->pref_address = rd64(img + 0x258);
	out->init_size = rd32(img + 0x260);
	out->initrd_addr_max = rd32(img + 0x22c);
	out->cmdline_size = rd32(img + 0x238);
	out->relocatable = img[0x234] != 0;
	if (!out->pref_address)
		out->pref_address = X86_HIMEM_START;
	if (out->init_size < out->kernel_size)
		out->init_size = (uint32_t)out->kernel_size;
	return 0;
}

bool elf_is_elf(const uint8_t *img, size_t size)
{
	return size >= SELFMAG && memcmp(img, ELFMAG, SELFMAG) == 0;
}

static int elf_find_pvh_note(const uint8_t *note, size_t len, uint32_t *entry)
{
	size_t off = 0;

	while (off + sizeof(Elf64_Nhdr) <= len) {
		const Elf64_Nhdr *nh = (const void *)(note + off);
		size_t namesz = (nh->n_namesz + 3) & ~3u;
		size_t descsz = (nh->n_descsz + 3) & ~3u;
		size_t desc = off + sizeof(*nh) + namesz;

		if (desc > len || descsz > len - desc)
			return -ENOEXEC;
		if (nh->n_type == XEN_ELFNOTE_PHYS32_ENTRY &&
		    nh->n_namesz == 4 &&
		    memcmp(note + off + sizeof(*nh), "Xen", 4) == 0 &&
		    nh->n_descsz >= 4) {
			*entry = rd32(note + desc);
			return 0;
		}
		off = desc + descsz;
	}
	return -ENOENT;
}

int elf_kernel_parse(const uint8_t *img, size_t size, struct elf_kernel *out,
		     char *err, size_t errlen)
{
	const Elf64_Ehdr *eh = (const void *)img;
	bool have_entry = false;

	memset(out, 0, sizeof(*out));
	out->lowest = UINT64_MAX;
	if (size < sizeof(*eh) || !elf_is_elf(img, size) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_ident[EI_DATA] != ELFDATA2LSB || eh->e_machine != EM_X86_64) {
		snprintf(err, errlen, "not an x86-64 ELF64 kernel");
		return -ENOEXEC;
	}
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phoff >= size ||
	    eh->e_phnum > (size - eh->e_phoff) / sizeof(Elf64_Phdr)) {
		snprintf(err, errlen, "ELF program headers are malformed");
		return -ENOEXEC;
	}
	for (unsigned int i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph =
			(const void *)(img + eh->e_phoff + i * sizeof(*ph));

		if (ph->p_offset > size || ph->p_filesz > size - ph->p_offset ||
		    (ph->p_type == PT_LOAD && ph->p_filesz > ph->p_memsz)) {
			snprintf(err, errlen,
				 "ELF segment %u lies outside the file", i);
			return -ENOEXEC;
		}
		if (ph->p_type == PT_NOTE && !have_entry) {
			if (elf_find_pvh_note(img + ph->p_offset, ph->p_filesz,
					      &out->pvh_entry) == 0)
				have_entry = true;
		} else if (ph->p_type == PT_LOAD && ph->p_memsz) {
			if (out->nloads == ELF_MAX_LOADS) {
				snprintf(err, errlen,
					 "ELF has more than %d loadable "
					 "segments",
					 ELF_MAX_LOADS);
				return -ENOEXEC;
			}
			if (ph->p_paddr + ph->p_memsz < ph->p_paddr) {
				snprintf(err, errlen,
					 "ELF segment %u wraps around", i);
				return -ENOEXEC;
			}
			out->load[out->nloads].paddr = ph->p_paddr;
			out->load[out->nloads].offset = ph->p_offset;
			out->load[out->nloads].filesz = ph->p_filesz;
			out->load[out->nloads].memsz = ph->p_memsz;
			out->nloads++;
			if (ph->p_paddr < out->lowest)
				out->lowest = ph->p_paddr;
			if (ph->p_paddr + ph->p_memsz > out->highest)
				out->highest = ph->p_paddr + ph->p_memsz;
		}
	}
	if (!out->nloads) {
		snprintf(err, errlen, "ELF kernel has no loadable segments");
		return -ENOEXEC;
	}
	if (!have_entry) {
		snprintf(err, errlen,
			 "ELF kernel has no PVH entry note "
			 "(XEN_ELFNOTE_PHYS32_ENTRY): build it with "
			 "CONFIG_PVH=y or boot the bzImage instead");
		return -ENOEXEC;
	}
	if (out->lowest < X86_HIMEM_START) {
		snprintf(err, errlen,
			 "ELF kernel loads at 0x%llx, below 1 MiB where the "
			 "boot tables live",
			 (unsigned long long)out->lowest);
		return -ENOEXEC;
	}
	return 0;
}

static int e820_add(struct e820_ent *out, unsigned int *n, unsigned int max,
		    uint64_t addr, uint64_t size, uint32_t type)
{
	if (!size)
		return 0;
	if (*n == max)
		return -ENOSPC;
	out[(*n)++] = (struct e820_ent){addr, size, type};
	return 0;
}

int e820_build(const struct guest_mem *mem, const struct e820_ent *extra,
	       unsigned int nextra, struct e820_ent *out, unsigned int max)
{
	unsigned int n = 0;
	int r = 0;

	for (unsigned int i = 0; i < mem->nregions && !r; i++) {
		const struct mem_region *reg = &mem->regions[i];
		uint64_t start = reg->gpa, end = reg->gpa + reg->size;

		if (start < X86_EBDA_START) {
			uint64_t low_end =
				end < X86_EBDA_START ? end : X86_EBDA_START;

			r = e820_add(out, &n, max, start, low_end - start,
				     E820_RAM);
			if (!r)
				r = e820_add(out, &n, max, X86_EBDA_START,
					     X86_HIMEM_START - X86_EBDA_START,
					     E820_RESERVED);
			start = X86_HIMEM_START;
		}
		if (!r && end > start)
			r = e820_add(out, &n, max, start, end - start,
				     E820_RAM);
	}
	for (unsigned int i = 0; i < nextra && !r; i++)
		r = e820_add(out, &n, max, extra[i].addr, extra[i].size,
			     extra[i].type);
	return r ? r : (int)n;
}

int bzimage_boot_params(uint8_t *zero_page, const uint8_t *img, size_t size,
			uint64_t cmdline_gpa, uint64_t initrd_gpa,
			uint64_t initrd_size, const struct e820_ent *e820,
			unsigned int ne820, uint64_t rsdp_gpa)
{
	struct boot_params *bp = (struct boot_params *)zero_page;
	size_t hdr_end = 0x202 + img[0x201];

	_Static_assert(sizeof(struct boot_params) == 4096, "zero page size");
	if (ne820 > E820_MAX_ENTRIES_ZEROPAGE)
		return -ENOSPC;
	if (hdr_end > HDR_OFF + sizeof(bp->hdr))
		hdr_end = HDR_OFF + sizeof(bp->hdr);
	if (hdr_end > size)
		return -EINVAL;
	memset(bp, 0, sizeof(*bp));
	memcpy(&bp->hdr, img + HDR_OFF, hdr_end - HDR_OFF);
	bp->hdr.type_of_loader = 0xff; /* undefined boot loader */
	bp->hdr.loadflags |= LOADED_HIGH | CAN_USE_HEAP;
	bp->hdr.loadflags &= ~KEEP_SEGMENTS;
	bp->hdr.heap_end_ptr = 0xfe00;
	bp->hdr.cmd_line_ptr = (uint32_t)cmdline_gpa;
	bp->ext_cmd_line_ptr = (uint32_t)(cmdline_gpa >> 32);
	bp->hdr.ramdisk_image = (uint32_t)initrd_gpa;
	bp->hdr.ramdisk_size = (uint32_t)initrd_size;
	bp->ext_ramdisk_image = (uint32_t)(initrd_gpa >> 32);
	bp->ext_ramdisk_size = (uint32_t)(initrd_size >> 32);
	bp->hdr.code32_start = (uint32_t)X86_HIMEM_START;
	bp->acpi_rsdp_addr = rsdp_gpa;
	for (unsigned int i = 0; i < ne820; i++) {
		bp->e820_table[i].addr = e820[i].addr;
		bp->e820_table[i].size = e820[i].size;
		bp->e820_table[i].type = e820[i].type;
	}
	bp->e820_entries = (uint8_t)ne820;
	return 0;
}

int x86_write_page_tables(const struct guest_mem *mem, uint64_t pml4,
			  uint64_t pdpt, uint64_t pd)
{
	uint64_t *p4 = guest_mem_ptr(mem, pml4, 4096);
	uint64_t *p3 = guest_mem_ptr(mem, pdpt, 4096);
	uint64_t *p2 = guest_mem_ptr(mem, pd, 4 * 4096);

	if (!p4 || !p3 || !p2)
		return -EFAULT;
	memset(p4, 0, 4096);
	memset(p3, 0, 4096);
	p4[0] = pdpt | 0x3; /* present, writable */
	for (unsigned int i = 0; i < 4; i++)
		p3[i] = (pd + i * 4096ull) | 0x3;
	for (unsigned int i = 0; i < 4 * 512; i++)
		p2[i] = ((uint64_t)i << 21) | 0x83; /* present, rw, 2 MiB */
	return 0;
}
