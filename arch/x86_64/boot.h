/* boot.h: x86 kernel formats (bzImage, PVH ELF) and boot tables, pure logic. */
#ifndef X86_BOOT_H
#define X86_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/memory.h"

struct bzimage_info {
	uint16_t version; /* boot protocol version, e.g. 0x020f */
	size_t setup_size; /* bytes of real-mode setup incl. boot sector */
	size_t kernel_size; /* bytes of protected-mode kernel */
	uint64_t pref_address; /* where it prefers to run */
	uint32_t init_size; /* bytes it needs from pref_address */
	uint32_t initrd_addr_max;
	uint32_t cmdline_size; /* max command line length, excl. NUL */
	bool relocatable;
};

/* Parse a bzImage header; -ENOEXEC with a message if it is not one we boot. */
__attribute__((warn_unused_result)) int bzimage_parse(const uint8_t *img,
						      size_t size,
						      struct bzimage_info *out,
						      char *err, size_t errlen);

#define ELF_MAX_LOADS 16
struct elf_kernel {
	uint32_t pvh_entry; /* XEN_ELFNOTE_PHYS32_ENTRY */
	unsigned int nloads;
	struct {
		uint64_t paddr, offset, filesz, memsz;
	} load[ELF_MAX_LOADS];
	uint64_t lowest, highest; /* physical extent of the loads */
};

/* 1 if the image starts with the ELF magic. */
bool elf_is_elf(const uint8_t *img, size_t size);

/* Parse an ELF64 x86-64 vmlinux with a PVH note; -ENOEXEC + message. */
__attribute__((warn_unused_result)) int
elf_kernel_parse(const uint8_t *img, size_t size, struct elf_kernel *out,
		 char *err, size_t errlen);

/* A memory map entry (E820 type: 1 RAM, 2 reserved, 3 ACPI). */
struct e820_ent {
	uint64_t addr, size;
	uint32_t type;
};
#define E820_RAM      1
#define E820_RESERVED 2

/*
 * Build the guest memory map: RAM below the EBDA, the reserved legacy
 * area up to 1 MiB, the remaining RAM regions, plus `extra` reserved
 * ranges (e.g. ECAM). Returns the number of entries or -ENOSPC.
 */
int e820_build(const struct guest_mem *mem, const struct e820_ent *extra,
	       unsigned int nextra, struct e820_ent *out, unsigned int max);

/*
 * Fill a zero page (struct boot_params, 4096 bytes) for a bzImage: copy
 * its setup header, set loader type, command line, initrd, e820 and RSDP.
 */
__attribute__((warn_unused_result)) int
bzimage_boot_params(uint8_t *zero_page, const uint8_t *img, size_t size,
		    uint64_t cmdline_gpa, uint64_t initrd_gpa,
		    uint64_t initrd_size, const struct e820_ent *e820,
		    unsigned int ne820, uint64_t rsdp_gpa);

/* PVH start info: magic and the structures Linux reads. */
#define HVM_START_MAGIC 0x336ec578u
struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};
struct hvm_modlist_entry {
	uint64_t paddr, size, cmdline_paddr, reserved;
};
struct hvm_memmap_entry {
	uint64_t addr, size;
	uint32_t type, reserved;
};

/* Identity-map the first 4 GiB with 2 MiB pages; writes 6 pages. */
__attribute__((warn_unused_result)) int
x86_write_page_tables(const struct guest_mem *mem, uint64_t pml4, uint64_t pdpt,
		      uint64_t pd);

/* Boot GDT: null, null, code64 (0x10), data (0x18), code32 (0x20). */
#define X86_GDT_ENTRIES 5
extern const uint64_t x86_boot_gdt[X86_GDT_ENTRIES];

#endif
