/* test_smbios.c: L0 tests of the SMBIOS 3.0 entry point and structures. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "arch/x86_64/smbios.h"

static uint8_t smbios_sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

Test(smbios, entry_point_and_structures)
{
	static uint8_t buf[4096];
	const uint8_t *t;
	uint32_t len;
	uint64_t addr;
	int n = smbios_build(buf, sizeof(buf), 0xf0000, "9.8.7");
	int types[8], nt = 0;

	cr_assert_gt(n, 24);
	cr_assert_eq(memcmp(buf, "_SM3_", 5), 0);
	cr_assert_eq(buf[6], 24);
	cr_assert_eq(buf[7], 3);
	cr_assert_eq(smbios_sum(buf, 24), 0, "entry point checksum");
	memcpy(&len, buf + 12, 4);
	memcpy(&addr, buf + 16, 8);
	cr_assert_eq(addr, 0xf0000 + 24);
	cr_assert_eq(len, (uint32_t)n - 24);
	/* Walk the structures: formatted area, strings, double NUL. */
	t = buf + 24;
	while (t < buf + n && nt < 8) {
		const uint8_t *p = t + t[1];

		types[nt++] = t[0];
		while (p[0] || p[1])
			p++;
		t = p + 2;
	}
	cr_assert_eq(t, buf + n, "structures fill the table exactly");
	cr_assert_eq(nt, 3);
	cr_assert_eq(types[0], 0);
	cr_assert_eq(types[1], 1);
	cr_assert_eq(types[2], 127);
	cr_assert_not_null(memmem(buf, (size_t)n, "microvm\0" "9.8.7\0" "11/22/2026\0", 25),
			   "BIOS vendor, version and date strings");
	cr_assert_eq(buf[24 + 19] & 0x10, 0x10, "virtual machine bit");
}

Test(smbios, too_small)
{
	static uint8_t buf[64];

	cr_assert_eq(smbios_build(buf, 10, 0xf0000, "1"), -ENOSPC);
	cr_assert_eq(smbios_build(buf, sizeof(buf), 0xf0000, "1"), -ENOSPC);
}
