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

#include "microvm.h"

Test(parse, disk_spec)
{
	char s1[] = "/tmp/d.img,ro,id=serial-1", s2[] = "/dev/vdb",
	     s3[] = "/x,rw,bogus", s4[] = ",ro",
	     s5[] = "/x,id=123456789012345678901";
	struct microvm_disk d;
	char err[128];

	cr_assert_eq(parse_disk_spec(s1, &d, err, sizeof(err)), 0);
	cr_assert_str_eq(d.path, "/tmp/d.img");
	cr_assert(d.readonly);
	cr_assert_str_eq(d.id, "serial-1");
	cr_assert_eq(parse_disk_spec(s2, &d, err, sizeof(err)), 0);
	cr_assert_not(d.readonly);
	cr_assert_null(d.id);
	cr_assert_eq(parse_disk_spec(s3, &d, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "unknown option 'bogus'"), "%s", err);
	cr_assert_eq(parse_disk_spec(s4, &d, err, sizeof(err)), -EINVAL);
	cr_assert_eq(parse_disk_spec(s5, &d, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "20 bytes"), "%s", err);
}

Test(parse, net_spec_and_mac)
{
	char s1[] = "tap=tap0,mac=52:54:00:12:34:56", s2[] = "mac=52:54:00:00:00:01",
	     s3[] = "tap=t,mac=01:00:5e:00:00:01", s4[] = "tap=abcdefghijklmnop";
	struct microvm_net n;
	uint8_t mac[6];
	char err[128];

	cr_assert_eq(parse_net_spec(s1, &n, err, sizeof(err)), 0);
	cr_assert_str_eq(n.tap, "tap0");
	cr_assert(n.mac_set);
	cr_assert_eq(n.mac[5], 0x56);
	cr_assert_eq(parse_net_spec(s2, &n, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "tap=NAME"), "%s", err);
	cr_assert_eq(parse_net_spec(s3, &n, err, sizeof(err)), -EINVAL,
		     "multicast MAC");
	cr_assert_eq(parse_net_spec(s4, &n, err, sizeof(err)), -EINVAL,
		     "name longer than IFNAMSIZ");
	cr_assert_eq(parse_mac("52:54:00:12:34", mac), -EINVAL);
	cr_assert_eq(parse_mac("52:54:00:12:34:56:78", mac), -EINVAL);
	cr_assert_eq(parse_mac("zz:54:00:12:34:56", mac), -EINVAL);
}

Test(parse, vsock_spec)
{
	char s1[] = "cid=3,uds=/tmp/v.sock", s2[] = "cid=2,uds=/x",
	     s3[] = "uds=/x", s4[] = "cid=7", s5[] = "cid=7,vhost=on";
	struct microvm_vsock v;
	char err[128];

	cr_assert_eq(parse_vsock_spec(s1, &v, err, sizeof(err)), 0);
	cr_assert_eq(v.guest_cid, 3);
	cr_assert_str_eq(v.uds, "/tmp/v.sock");
	cr_assert_eq(parse_vsock_spec(s2, &v, err, sizeof(err)), -EINVAL,
		     "CID 2 is the host");
	cr_assert_eq(parse_vsock_spec(s3, &v, err, sizeof(err)), -EINVAL);
	cr_assert_eq(parse_vsock_spec(s4, &v, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "uds=PATH"), "%s", err);
	cr_assert_eq(parse_vsock_spec(s5, &v, err, sizeof(err)), 0);
	cr_assert(v.vhost);
}
