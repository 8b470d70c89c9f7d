/* smbios.h: a minimal SMBIOS 3.0 table (BIOS and system information), pure logic. */
#ifndef X86_SMBIOS_H
#define X86_SMBIOS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Build an SMBIOS 3.0 entry point at guest address `base` (buf[0]) with
 * the structure table right after it: type 0 (BIOS: vendor "microvm",
 * `version`, a release date, "virtual machine"), type 1 (system:
 * "microvm", product "microvm") and type 127. Linux reads the BIOS year
 * from it, which its x86 PCI probe uses. Returns bytes used or -ENOSPC.
 */
__attribute__((warn_unused_result)) int
smbios_build(uint8_t *buf, size_t size, uint64_t base, const char *version);

#endif
