/* test_parse.c: L0 tests of size and number parsing used by the CLI. */
#include <criterion/criterion.h>
#include <errno.h>

#include "vmm/parse.h"

Test(parse, sizes_with_suffixes)
{
	uint64_t v;

	cr_assert_eq(parse_size("512M", 1, &v), 0);
	cr_assert_eq(v, 512ull << 20);
	cr_assert_eq(parse_size("2g", 1, &v), 0);
	cr_assert_eq(v, 2ull << 30);
	cr_assert_eq(parse_size("4096K", 1, &v), 0);
	cr_assert_eq(v, 4ull << 20);
	cr_assert_eq(parse_size("1T", 1, &v), 0);
	cr_assert_eq(v, 1ull << 40);
	cr_assert_eq(parse_size("512MiB", 1, &v), 0);
	cr_assert_eq(v, 512ull << 20);
	cr_assert_eq(parse_size("64MB", 1, &v), 0);
	cr_assert_eq(v, 64ull << 20);
	cr_assert_eq(parse_size("100B", 1 << 20, &v), 0);
	cr_assert_eq(v, 100);
}

Test(parse, bare_number_uses_default_unit)
{
	uint64_t v;

	cr_assert_eq(parse_size("512", 1ull << 20, &v), 0);
	cr_assert_eq(v, 512ull << 20);
	cr_assert_eq(parse_size("512", 1, &v), 0);
	cr_assert_eq(v, 512);
}

Test(parse, size_rejects_garbage_and_overflow)
{
	uint64_t v;

	cr_assert_eq(parse_size("", 1, &v), -EINVAL);
	cr_assert_eq(parse_size("M", 1, &v), -EINVAL);
	cr_assert_eq(parse_size("-1M", 1, &v), -EINVAL);
	cr_assert_eq(parse_size(" 1M", 1, &v), -EINVAL);
	cr_assert_eq(parse_size("1Q", 1, &v), -EINVAL);
	cr_assert_eq(parse_size("1MM", 1, &v), -EINVAL);
	cr_assert_eq(parse_size("1.5G", 1, &v), -EINVAL);
	cr_assert_eq(parse_size("lots", 1, &v), -EINVAL);
	cr_assert_eq(parse_size("16384P", 1, &v), -ERANGE);
	cr_assert_eq(parse_size("99999999999999999999", 1, &v), -ERANGE);
	cr_assert_eq(parse_size(NULL, 1, &v), -EINVAL);
}

Test(parse, u64_decimal_and_hex)
{
	uint64_t v;

	cr_assert_eq(parse_u64("254", &v), 0);
	cr_assert_eq(v, 254);
	cr_assert_eq(parse_u64("0x5f", &v), 0);
	cr_assert_eq(v, 0x5f);
	cr_assert_eq(parse_u64("", &v), -EINVAL);
	cr_assert_eq(parse_u64("-1", &v), -EINVAL);
	cr_assert_eq(parse_u64("12abc", &v), -EINVAL);
	cr_assert_eq(parse_u64("18446744073709551616", &v), -ERANGE);
}

Test(parse, format_size_picks_largest_exact_unit)
{
	char buf[32];

	format_size(512ull << 20, buf, sizeof(buf));
	cr_assert_str_eq(buf, "512MiB");
	format_size(3ull << 30, buf, sizeof(buf));
	cr_assert_str_eq(buf, "3GiB");
	format_size(1536ull << 20, buf, sizeof(buf));
	cr_assert_str_eq(buf, "1536MiB");
	format_size(1000, buf, sizeof(buf));
	cr_assert_str_eq(buf, "1000 bytes");
}
