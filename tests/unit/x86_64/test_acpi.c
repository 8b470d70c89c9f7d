/* test_acpi.c: unit tests of the AML builder and x86 ACPI tables, with iasl. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arch/x86_64/acpi.h"
#include "arch/x86_64/aml.h"

/* ---- helpers ---- */

static uint64_t t_acpi_le(const uint8_t *p, unsigned int n)
{
	uint64_t v = 0;

	while (n--)
		v = (v << 8) | p[n];
	return v;
}

/* Decode a PkgLength: its value, and its size in *nbytes. */
static size_t t_aml_pkglen(const uint8_t *p, unsigned int *nbytes)
{
	unsigned int n = (p[0] >> 6) + 1, i;
	size_t v = n == 1 ? p[0] & 0x3f : p[0] & 0x0f;

	for (i = 1; i < n; i++)
		v |= (size_t)p[i] << (4 + 8 * (i - 1));
	*nbytes = n;
	return v;
}

static void t_aml_expect(const struct aml *a, const uint8_t *want, size_t len)
{
	size_t i;

	cr_assert_eq(aml_finish(a), 0, "aml error %d", aml_finish(a));
	cr_assert_eq(a->len, len, "length %zu, want %zu", a->len, len);
	for (i = 0; i < len; i++)
		cr_assert_eq(a->buf[i], want[i],
			     "byte %zu: 0x%02x, want 0x%02x", i, a->buf[i],
			     want[i]);
}

/* ---- AML: encoders ---- */

Test(aml, pkglen_boundaries)
{
	static const struct {
		size_t body;
		int n;
		uint8_t b[4];
	} cases[] = {
		{0, 1, {0x01}},
		{62, 1, {0x3f}}, /* 63: the largest 1-byte length */
		{63, 2, {0x41, 0x04}}, /* 63 + 2 = 65 */
		{4093, 2, {0x4f, 0xff}}, /* 4095 */
		{4094, 3, {0x81, 0x00, 0x01}}, /* 4097 */
		{0xffffc, 3, {0x8f, 0xff, 0xff}}, /* 0xfffff */
		{0xffffd, 4, {0xc1, 0x00, 0x00, 0x01}}, /* 0x100001 */
		{0xffffffb, 4, {0xcf, 0xff, 0xff, 0xff}}, /* 0xfffffff */
	};
	uint8_t out[4];
	size_t i;
	int n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(out, 0xaa, sizeof(out));
		n = aml_pkglen_encode(cases[i].body, out);
		cr_assert_eq(n, cases[i].n, "body %zu: %d bytes, want %d",
			     cases[i].body, n, cases[i].n);
		cr_assert_arr_eq(out, cases[i].b, (size_t)n, "body %zu",
				 cases[i].body);
	}
	cr_assert_eq(aml_pkglen_encode(0xffffffc, out), -EINVAL);
}

Test(aml, int_encoding_picks_shortest)
{
	static const struct {
		uint64_t v;
		uint8_t b[9];
		int n;
	} cases[] = {
		{0, {0x00}, 1},
		{1, {0x01}, 1},
		{2, {0x0a, 0x02}, 2},
		{0xff, {0x0a, 0xff}, 2},
		{0x100, {0x0b, 0x00, 0x01}, 3},
		{0xffff, {0x0b, 0xff, 0xff}, 3},
		{0x10000, {0x0c, 0x00, 0x00, 0x01, 0x00}, 5},
		{0xffffffff, {0x0c, 0xff, 0xff, 0xff, 0xff}, 5},
		{0x100000000ull, {0x0e, 0, 0, 0, 0, 1, 0, 0, 0}, 9},
		{0xfffffffffffffffeull,
		 {0x0e, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		 9},
		{UINT64_MAX, {0xff}, 1}, /* Ones */
	};
	uint8_t out[9];
	size_t i;
	int n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = aml_int_encode(cases[i].v, out);
		cr_assert_eq(n, cases[i].n, "0x%llx: %d bytes",
			     (unsigned long long)cases[i].v, n);
		cr_assert_arr_eq(out, cases[i].b, (size_t)n, "0x%llx",
				 (unsigned long long)cases[i].v);
	}
}

Test(aml, eisaid)
{
	uint32_t v;

	cr_assert_eq(aml_eisaid_value("PNP0A08", &v), 0);
	cr_assert_eq(v, 0x080ad041, "PNP0A08 = 0x%08x", v);
	cr_assert_eq(aml_eisaid_value("PNP0A03", &v), 0);
	cr_assert_eq(v, 0x030ad041);
	cr_assert_eq(aml_eisaid_value("PNP0501", &v), 0);
	cr_assert_eq(v, 0x0105d041);
	cr_assert_eq(aml_eisaid_value("PNP0C0F", &v), 0);
	cr_assert_eq(v, 0x0f0cd041);

	cr_assert_eq(aml_eisaid_value("pnp0a08", &v), -EINVAL);
	cr_assert_eq(aml_eisaid_value("PNP0A0", &v), -EINVAL);
	cr_assert_eq(aml_eisaid_value("PNP0A080", &v), -EINVAL);
	cr_assert_eq(aml_eisaid_value("PNP0A0G", &v), -EINVAL);
	cr_assert_eq(aml_eisaid_value("P1P0A08", &v), -EINVAL);
	cr_assert_eq(aml_eisaid_value(NULL, &v), -EINVAL);
}

static void t_aml_name_is(const char *path, const uint8_t *want, size_t len)
{
	uint8_t out[64];
	int n = aml_namestring_encode(path, out, sizeof(out));

	cr_assert_eq(n, (int)len, "\"%s\": %d bytes, want %zu", path, n, len);
	cr_assert_arr_eq(out, want, len, "\"%s\"", path);
}

Test(aml, namestring_forms)
{
	static const uint8_t hid[] = "_HID";
	static const uint8_t foo[] = "FOO_";
	static const uint8_t root_sb[] = "\\_SB_";
	static const uint8_t dual[] = "\\\x2e_SB_PCI0";
	static const uint8_t dual_rel[] = "\x2e_SB_PCI0";
	static const uint8_t multi[] = "\\\x2f\x03_SB_PCI0RP00";
	static const uint8_t parent[] = "^^FOO_";
	static const uint8_t root[] = {0x5c, 0x00};
	static const uint8_t up[] = {0x5e, 0x00};
	static const char *bad[] = {
		"",	"1ABC", "ABCDE", "A..B", "A.",	   ".A",   "abc",
		"\\^A", "^\\A", "\\.A",	 "A-B",	 "\\_SB.", "_S 5",
	};
	uint8_t out[8];
	size_t i;

	t_aml_name_is("_HID", hid, 4);
	t_aml_name_is("FOO", foo, 4);
	t_aml_name_is("\\_SB", root_sb, 5);
	t_aml_name_is("\\_SB_", root_sb, 5);
	t_aml_name_is("\\_SB_.PCI0", dual, 10);
	t_aml_name_is("\\_SB.PCI0", dual, 10);
	t_aml_name_is("_SB.PCI0", dual_rel, 9);
	t_aml_name_is("\\_SB.PCI0.RP00", multi, 15);
	t_aml_name_is("^^FOO", parent, 6);
	t_aml_name_is("\\", root, 2);
	t_aml_name_is("^", up, 2);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(aml_namestring_encode(bad[i], out, sizeof(out)),
			     -EINVAL, "\"%s\" accepted", bad[i]);
	cr_assert_eq(aml_namestring_encode(NULL, out, sizeof(out)), -EINVAL);
	cr_assert_eq(aml_namestring_encode("\\_SB.PCI0", out, 8), -ENOSPC);
	cr_assert_eq(aml_namestring_encode("_HID", out, 3), -ENOSPC);
}

/* ---- AML: builder ---- */

Test(aml, name_objects)
{
	static const uint8_t want[] = {
		0x08, '_',  'U',  'I', 'D', 0x00, /* Zero */
		0x08, '_',  'A',  'D', 'R', 0x0c, 0x00, 0x00, 0x01,
		0x00, 0x08, '_',  'H', 'I', 'D',  0x0c, 0x41, 0xd0,
		0x0a, 0x08, 0x08, 'S', 'T', 'R',  '_',	0x0d, 'h',
		'i',  0x00, 0x08, '_', 'B', 'B',  'N',	0x0a, 0x80,
	};
	uint8_t buf[128];
	struct aml a;

	aml_init(&a, buf, sizeof(buf));
	aml_name_int(&a, "_UID", 0);
	aml_name_int(&a, "_ADR", 0x10000);
	aml_name_eisaid(&a, "_HID", "PNP0A08");
	aml_name_string(&a, "STR", "hi");
	aml_name_int(&a, "_BBN", 0x80);
	t_aml_expect(&a, want, sizeof(want));
}

Test(aml, s5_package)
{
	/* Name(\_S5_, Package(){5, 5, 0, 0}) as iasl compiles it. */
	static const uint8_t want[] = {
		0x08, 0x5c, '_',  'S',	'5',  '_',  0x12, 0x08,
		0x04, 0x0a, 0x05, 0x0a, 0x05, 0x00, 0x00,
	};
	uint8_t buf[64];
	struct aml a;

	aml_init(&a, buf, sizeof(buf));
	aml_name(&a, "\\_S5_");
	aml_package_begin(&a);
	aml_int(&a, 5);
	aml_int(&a, 5);
	aml_int(&a, 0);
	aml_int(&a, 0);
	aml_end(&a);
	t_aml_expect(&a, want, sizeof(want));
}

Test(aml, package_counts_elements)
{
	uint8_t buf[512];
	struct aml a;
	unsigned int i;

	/* Package(){1, "a", Package(){2, 3}, Buffer(){}, EISAID, REF} */
	aml_init(&a, buf, sizeof(buf));
	aml_package_begin(&a);
	aml_int(&a, 1);
	aml_string(&a, "a");
	aml_package_begin(&a);
	aml_int(&a, 2);
	aml_int(&a, 3);
	aml_end(&a);
	aml_buffer(&a, "xy", 2);
	aml_eisaid(&a, "PNP0A03");
	aml_name_ref(&a, "\\_SB.PCI0");
	aml_end(&a);
	cr_assert_eq(aml_finish(&a), 0);
	cr_assert_eq(buf[0], 0x12);
	cr_assert_eq(buf[2], 6, "outer NumElements %u", buf[2]);
	/* The inner package follows 1 (1 byte) and "a" (3 bytes). */
	cr_assert_eq(buf[7], 0x12);
	cr_assert_eq(buf[9], 2, "inner NumElements %u", buf[9]);

	/* 255 elements fit, 256 do not (VarPackage is not supported). */
	aml_init(&a, buf, sizeof(buf));
	aml_package_begin(&a);
	for (i = 0; i < 255; i++)
		aml_int(&a, 0);
	aml_end(&a);
	cr_assert_eq(aml_finish(&a), 0);
	cr_assert_eq(buf[3], 255);
	aml_init(&a, buf, sizeof(buf));
	aml_package_begin(&a);
	for (i = 0; i < 256; i++)
		aml_int(&a, 0);
	aml_end(&a);
	cr_assert_eq(aml_finish(&a), -EINVAL);
}

Test(aml, device_method_return)
{
	/* Device(PEVT){ Method(_STA, 0, NotSerialized){ Return(0x0F) } } */
	static const uint8_t want[] = {
		0x5b, 0x82, 0x0f, 'P', 'E',  'V',  'T',	 0x14, 0x09,
		'_',  'S',  'T',  'A', 0x00, 0xa4, 0x0a, 0x0f,
	};
	uint8_t buf[64];
	struct aml a;

	aml_init(&a, buf, sizeof(buf));
	aml_device_begin(&a, "PEVT");
	aml_method_begin(&a, "_STA", 0, false);
	aml_return_int(&a, 0x0f);
	aml_end(&a);
	aml_end(&a);
	t_aml_expect(&a, want, sizeof(want));

	aml_init(&a, buf, sizeof(buf));
	aml_method_begin(&a, "FOO", 2, true);
	aml_end(&a);
	cr_assert_eq(aml_finish(&a), 0);
	cr_assert_eq(buf[6], 0x0a, "MethodFlags 0x%02x", buf[6]);

	aml_init(&a, buf, sizeof(buf));
	aml_method_begin(&a, "FOO", 8, false);
	cr_assert_eq(aml_finish(&a), -EINVAL);
}

/* Scope(\){ `body` filler bytes }: check the PkgLength and the body. */
static void t_aml_scope_of(size_t body, unsigned int want_nbytes)
{
	size_t size = body + 16, value, i;
	uint8_t *buf = malloc(size), *fill = malloc(body);
	unsigned int nbytes;
	struct aml a;

	cr_assert(buf && fill);
	for (i = 0; i < body; i++)
		fill[i] = (uint8_t)(i * 7 + 3);
	aml_init(&a, buf, size);
	aml_scope_begin(&a, "\\");
	aml_bytes(&a, fill, body);
	aml_end(&a);
	cr_assert_eq(aml_finish(&a), 0, "body %zu", body);
	cr_assert_eq(buf[0], 0x10);
	value = t_aml_pkglen(buf + 1, &nbytes);
	cr_assert_eq(nbytes, want_nbytes, "body %zu: %u-byte PkgLength", body,
		     nbytes);
	cr_assert_eq(value, a.len - 1, "body %zu: PkgLength %zu, object %zu",
		     body, value, a.len);
	cr_assert_eq(buf[1 + nbytes], 0x5c);
	cr_assert_eq(buf[2 + nbytes], 0x00);
	cr_assert_arr_eq(buf + 3 + nbytes, fill, body, "body %zu moved", body);
	free(fill);
	free(buf);
}

Test(aml, scope_pkglen_boundaries)
{
	/* The body also holds the 2-byte name "\" (root, NullName). */
	t_aml_scope_of(0, 1);
	t_aml_scope_of(60, 1); /* 63 */
	t_aml_scope_of(61, 2); /* 64 + 1 */
	t_aml_scope_of(62, 2);
	t_aml_scope_of(4091, 2); /* 4095 */
	t_aml_scope_of(4092, 3); /* 4096 + 1 */
	t_aml_scope_of(0xffffa, 3); /* 0xfffff */
	t_aml_scope_of(0xffffb, 4); /* 0x100000 + 1 */
	t_aml_scope_of(3 << 20, 4);
}

Test(aml, nested_scopes_any_size)
{
	static uint8_t buf[1 << 17];
	static uint8_t fill[70000];
	size_t sizes[] = {0, 50, 70, 4000, 4100, 70000}, i, outer, inner;
	unsigned int n1, n2, n3;
	struct aml a;

	memset(fill, 0x5a, sizeof(fill));
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		aml_init(&a, buf, sizeof(buf));
		aml_scope_begin(&a, "\\_SB_");
		aml_device_begin(&a, "DEV0");
		aml_method_begin(&a, "MTH0", 1, false);
		aml_bytes(&a, fill, sizes[i]);
		aml_end(&a);
		aml_end(&a);
		aml_name_int(&a, "LAST", 0x1234);
		aml_end(&a);
		cr_assert_eq(aml_finish(&a), 0);

		outer = t_aml_pkglen(buf + 1, &n1);
		cr_assert_eq(outer, a.len - 1, "size %zu", sizes[i]);
		/* ScopeOp PkgLength "\_SB_" then ExtOp DeviceOp PkgLength */
		cr_assert_eq(buf[1 + n1 + 5], 0x5b);
		cr_assert_eq(buf[1 + n1 + 6], 0x82);
		inner = t_aml_pkglen(buf + 1 + n1 + 7, &n2);
		/* The device ends where Name(LAST, 0x1234) (8 bytes) starts */
		cr_assert_eq(1 + n1 + 7 + inner, a.len - 8, "size %zu",
			     sizes[i]);
		cr_assert_eq(buf[1 + n1 + 7 + n2 + 4], 0x14);
		cr_assert_eq(t_aml_pkglen(buf + 1 + n1 + 7 + n2 + 5, &n3),
			     n3 + 4 + 1 + sizes[i], "size %zu", sizes[i]);
		cr_assert_eq(buf[a.len - 8], 0x08);
		cr_assert_eq(buf[a.len - 1], 0x12);
	}
}

Test(aml, resource_template_bytes)
{
	/* Name(_CRS, ResourceTemplate(){ IO(Decode16, 0x505, 0x505, 1, 1) })
	 * as iasl compiles it. */
	static const uint8_t want[] = {
		0x08, '_',  'C',  'R',	'S',  0x11, 0x0d, 0x0a, 0x0a, 0x47,
		0x01, 0x05, 0x05, 0x05, 0x05, 0x01, 0x01, 0x79, 0x00,
	};
	uint8_t buf[64];
	struct aml a;

	aml_init(&a, buf, sizeof(buf));
	aml_name(&a, "_CRS");
	aml_rt_begin(&a);
	aml_io(&a, true, 0x505, 0x505, 1, 1);
	aml_end(&a);
	t_aml_expect(&a, want, sizeof(want));
}

Test(aml, resource_descriptors)
{
	static const uint8_t irq4[] = {0x22, 0x10, 0x00};
	static const uint8_t ext_irq[] = {0x89, 0x06, 0x00, 0x0f, 0x01,
					  0x05, 0x00, 0x00, 0x00};
	static const uint8_t fixed[] = {0x86, 0x09, 0x00, 0x01, 0x00, 0x00,
					0x00, 0xfe, 0x00, 0x10, 0x00, 0x00};
	static const uint8_t bus[] = {0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00,
				      0x00, 0x00, 0x00, 0x00, 0xff, 0x00,
				      0x00, 0x00, 0x00, 0x01};
	uint8_t buf[512];
	const uint8_t *d;
	struct aml a;

	aml_init(&a, buf, sizeof(buf));
	aml_rt_begin(&a);
	aml_irq_noflags(&a, 4);
	aml_interrupt(&a,
		      AML_IRQ_CONSUMER | AML_IRQ_EDGE | AML_IRQ_ACTIVE_LOW |
			      AML_IRQ_SHARED,
		      5);
	aml_memory32_fixed(&a, true, 0xfe000000, 0x1000);
	aml_word_bus_number(&a, 0, 0xff);
	aml_word_io(&a, 0x1000, 0x1fff, 0);
	aml_dword_memory(&a, AML_NON_CACHEABLE, true, 0xc0000000, 0xdfffffff,
			 0);
	aml_qword_memory(&a, AML_PREFETCHABLE, false, 0x8000000000ull,
			 0xffffffffffull, 0x100);
	aml_fixed_io(&a, 0x60, 1);
	aml_end(&a);
	cr_assert_eq(aml_finish(&a), 0);

	/*
	 * Descriptors: 3 + 9 + 12 + 16 + 16 + 26 + 46 + 4 + 2 = 134 bytes.
	 * BufferOp, 2-byte PkgLength (136 + 2), BytePrefix 134.
	 */
	cr_assert_eq(buf[0], 0x11);
	cr_assert_eq(buf[1], 0x4a);
	cr_assert_eq(buf[2], 0x08);
	cr_assert_eq(buf[3], 0x0a);
	cr_assert_eq(buf[4], 134);
	d = buf + 5;
	cr_assert_arr_eq(d, irq4, sizeof(irq4));
	d += sizeof(irq4);
	cr_assert_arr_eq(d, ext_irq, sizeof(ext_irq));
	d += sizeof(ext_irq);
	cr_assert_arr_eq(d, fixed, sizeof(fixed));
	d += sizeof(fixed);
	cr_assert_arr_eq(d, bus, sizeof(bus));
	d += sizeof(bus);
	/* WordIO: type 1, flags 0x0c, EntireRange, length 0x1000 */
	cr_assert_eq(d[0], 0x88);
	cr_assert_eq(d[3], 1);
	cr_assert_eq(d[4], 0x0c);
	cr_assert_eq(d[5], 0x03);
	cr_assert_eq(t_acpi_le(d + 14, 2), 0x1000);
	d += 16;
	/* DWordMemory: length 23, NonCacheable ReadWrite */
	cr_assert_eq(d[0], 0x87);
	cr_assert_eq(t_acpi_le(d + 1, 2), 23);
	cr_assert_eq(d[5], 0x01);
	cr_assert_eq(t_acpi_le(d + 10, 4), 0xc0000000);
	cr_assert_eq(t_acpi_le(d + 22, 4), 0x20000000);
	d += 26;
	/* QWordMemory: length 43, Prefetchable ReadOnly, translation */
	cr_assert_eq(d[0], 0x8a);
	cr_assert_eq(t_acpi_le(d + 1, 2), 43);
	cr_assert_eq(d[5], 0x06);
	cr_assert_eq(t_acpi_le(d + 14, 8), 0x8000000000ull);
	cr_assert_eq(t_acpi_le(d + 22, 8), 0xffffffffffull);
	cr_assert_eq(t_acpi_le(d + 30, 8), 0x100);
	cr_assert_eq(t_acpi_le(d + 38, 8), 0x8000000000ull);
	d += 46;
	cr_assert_eq(d[0], 0x4b);
	cr_assert_eq(t_acpi_le(d + 1, 2), 0x60);
	cr_assert_eq(d[3], 1);
	d += 4;
	cr_assert_eq(d[0], 0x79);
	cr_assert_eq(d[1], 0x00);
	cr_assert_eq((size_t)(d + 2 - buf), a.len);
}

Test(aml, errors_are_sticky)
{
	uint8_t buf[64];
	struct aml a;

	/* Descriptors outside a resource template. */
	aml_init(&a, buf, sizeof(buf));
	aml_io(&a, true, 0x3f8, 0x3f8, 0, 8);
	cr_assert_eq(aml_finish(&a), -EINVAL);

	/* Bad values. */
	aml_init(&a, buf, sizeof(buf));
	aml_rt_begin(&a);
	aml_word_io(&a, 0x2000, 0x1000, 0);
	cr_assert_eq(aml_finish(&a), -EINVAL);
	aml_init(&a, buf, sizeof(buf));
	aml_rt_begin(&a);
	aml_irq_noflags(&a, 16);
	cr_assert_eq(aml_finish(&a), -EINVAL);
	aml_init(&a, buf, sizeof(buf));
	aml_rt_begin(&a);
	aml_fixed_io(&a, 0x400, 1);
	cr_assert_eq(aml_finish(&a), -EINVAL);
	aml_init(&a, buf, sizeof(buf));
	aml_name_string(&a, "STR", "\xff");
	cr_assert_eq(aml_finish(&a), -EINVAL);
	aml_init(&a, buf, sizeof(buf));
	aml_name_int(&a, "bad", 0);
	cr_assert_eq(aml_finish(&a), -EINVAL);

	/* Unbalanced begin/end. */
	aml_init(&a, buf, sizeof(buf));
	aml_end(&a);
	cr_assert_eq(aml_finish(&a), -EINVAL);
	aml_init(&a, buf, sizeof(buf));
	aml_scope_begin(&a, "\\_SB_");
	cr_assert_eq(aml_finish(&a), -EINVAL);

	/* The first error wins and later calls do nothing. */
	aml_init(&a, buf, 4);
	aml_name_int(&a, "_UID", 0);
	cr_assert_eq(a.err, -ENOSPC);
	aml_name_int(&a, "bad", 0);
	cr_assert_eq(aml_finish(&a), -ENOSPC);
	cr_assert_eq(a.len, 1);
}

Test(aml, enospc_at_every_size)
{
	uint8_t ref[256], buf[256];
	size_t len, size;
	struct aml a;

	/* Build once to learn the length, then at every smaller size. */
	for (size = 0;; size++) {
		aml_init(&a, size == 0 ? ref : buf, size == 0 ? 256 : size);
		aml_scope_begin(&a, "\\_SB_");
		aml_device_begin(&a, "COM1");
		aml_name_eisaid(&a, "_HID", "PNP0501");
		aml_name(&a, "_CRS");
		aml_rt_begin(&a);
		aml_io(&a, true, 0x3f8, 0x3f8, 0, 8);
		aml_irq_noflags(&a, 4);
		aml_end(&a);
		aml_end(&a);
		aml_end(&a);
		if (size == 0) {
			cr_assert_eq(aml_finish(&a), 0);
			len = a.len;
			continue;
		}
		if (size < len) {
			cr_assert_eq(aml_finish(&a), -ENOSPC, "size %zu", size);
			continue;
		}
		cr_assert_eq(aml_finish(&a), 0);
		cr_assert_arr_eq(buf, ref, len);
		break;
	}
}

/* ---- ACPI tables ---- */

struct t_acpi {
	uint8_t buf[1 << 16];
	size_t used;
	uint64_t rsdp_gpa;
	uint64_t base;
	const uint8_t *rsdp, *xsdt, *fadt, *madt, *dsdt, *mcfg;
};

/* The table at guest address gpa, checked to lie inside the area. */
static const uint8_t *t_acpi_table(const struct t_acpi *t, uint64_t gpa)
{
	const uint8_t *p;
	uint32_t len;

	cr_assert(gpa >= t->base && gpa + 36 <= t->base + t->used,
		  "table at 0x%llx outside the area", (unsigned long long)gpa);
	cr_assert_eq(gpa % 16, 0, "table at 0x%llx not 16-byte aligned",
		     (unsigned long long)gpa);
	p = t->buf + (gpa - t->base);
	len = (uint32_t)t_acpi_le(p + 4, 4);
	cr_assert(len >= 36 && gpa + len <= t->base + t->used,
		  "%.4s: bad length %u", (const char *)p, len);
	cr_assert_eq(acpi_checksum(p, len), 0, "%.4s: bad checksum",
		     (const char *)p);
	cr_assert_arr_eq(p + 10, "MICROV", 6);
	cr_assert_arr_eq(p + 16, "MICROVM ", 8);
	cr_assert_arr_eq(p + 28, "MVMM", 4);
	return p;
}

/* Walk RSDP -> XSDT -> tables, checking every pointer and checksum. */
static void t_acpi_walk(struct t_acpi *t)
{
	uint32_t xlen;
	size_t i, n;

	t->rsdp = t->buf + (t->rsdp_gpa - t->base);
	cr_assert_arr_eq(t->rsdp, "RSD PTR ", 8);
	cr_assert_eq(acpi_checksum(t->rsdp, 20), 0, "RSDP checksum");
	cr_assert_eq(acpi_checksum(t->rsdp, 36), 0, "RSDP extended checksum");
	cr_assert_eq(t->rsdp[15], 2, "RSDP revision");
	cr_assert_eq(t_acpi_le(t->rsdp + 20, 4), 36);
	cr_assert_arr_eq(t->rsdp + 9, "MICROV", 6);

	t->xsdt = t_acpi_table(t, t_acpi_le(t->rsdp + 24, 8));
	cr_assert_arr_eq(t->xsdt, "XSDT", 4);
	xlen = (uint32_t)t_acpi_le(t->xsdt + 4, 4);
	cr_assert_eq((xlen - 36) % 8, 0);
	n = (xlen - 36) / 8;
	t->fadt = t->madt = t->dsdt = t->mcfg = NULL;
	for (i = 0; i < n; i++) {
		const uint8_t *p =
			t_acpi_table(t, t_acpi_le(t->xsdt + 36 + 8 * i, 8));

		if (!memcmp(p, "FACP", 4))
			t->fadt = p;
		else if (!memcmp(p, "APIC", 4))
			t->madt = p;
		else if (!memcmp(p, "MCFG", 4))
			t->mcfg = p;
	}
	cr_assert(t->fadt, "XSDT lists no FADT");
	cr_assert(t->madt, "XSDT lists no MADT");
	t->dsdt = t_acpi_table(t, t_acpi_le(t->fadt + 140, 8));
	cr_assert_arr_eq(t->dsdt, "DSDT", 4);
}

static struct t_acpi *t_acpi_build(const struct acpi_config *cfg)
{
	struct t_acpi *t = calloc(1, sizeof(*t));
	int ret;

	cr_assert(t);
	t->base = cfg->base;
	ret = acpi_build(cfg, t->buf, sizeof(t->buf), &t->used, &t->rsdp_gpa);
	cr_assert_eq(ret, 0, "acpi_build: %d", ret);
	cr_assert_eq(t->rsdp_gpa, cfg->base, "RSDP not first");
	cr_assert(t->used > 0 && t->used <= sizeof(t->buf));
	t_acpi_walk(t);
	return t;
}

static bool t_acpi_has(const uint8_t *table, const void *s, size_t len)
{
	return memmem(table, t_acpi_le(table + 4, 4), s, len) != NULL;
}

Test(acpi, rsdp_xsdt_and_checksums)
{
	struct acpi_config cfg;
	struct t_acpi *t;

	acpi_config_init(&cfg, 2);
	t = t_acpi_build(&cfg);
	cr_assert_eq(t->rsdp_gpa, 0xe0000);
	cr_assert_eq(t_acpi_le(t->rsdp + 16, 4), 0, "no RSDT expected");
	cr_assert_eq(t_acpi_le(t->xsdt + 4, 4), 36 + 2 * 8);
	cr_assert_null(t->mcfg);
	free(t);
}

Test(acpi, fadt_hw_reduced)
{
	struct acpi_config cfg;
	const uint8_t *f;
	struct t_acpi *t;
	uint32_t flags;
	uint64_t dsdt_gpa;

	acpi_config_init(&cfg, 1);
	t = t_acpi_build(&cfg);
	f = t->fadt;
	cr_assert_eq(t_acpi_le(f + 4, 4), 276);
	cr_assert_eq(f[8], 6, "FADT revision");
	cr_assert_eq(f[131], 5, "FADT minor revision");
	flags = (uint32_t)t_acpi_le(f + 112, 4);
	cr_assert(flags & (1u << 20), "HW_REDUCED_ACPI");
	cr_assert(flags & (1u << 10), "RESET_REG_SUP");
	/* IAPC_BOOT_ARCH: no VGA, no CMOS RTC, no 8042, no legacy devices */
	cr_assert_eq(t_acpi_le(f + 109, 2), 0x24);
	/* DSDT and X_DSDT agree */
	dsdt_gpa = t_acpi_le(f + 140, 8);
	cr_assert_eq(t_acpi_le(f + 40, 4), dsdt_gpa);
	cr_assert_eq(t->dsdt, t->buf + (dsdt_gpa - t->base));
	/* RESET_REG: System I/O, 8 bits, 0xcf9, value 6 */
	cr_assert_eq(f[116], 1);
	cr_assert_eq(f[117], 8);
	cr_assert_eq(t_acpi_le(f + 120, 8), 0xcf9);
	cr_assert_eq(f[128], 6);
	/* SLEEP_CONTROL_REG and SLEEP_STATUS_REG */
	cr_assert_eq(f[244], 1);
	cr_assert_eq(f[245], 8);
	cr_assert_eq(t_acpi_le(f + 248, 8), 0x600);
	cr_assert_eq(f[256], 1);
	cr_assert_eq(f[257], 8);
	cr_assert_eq(t_acpi_le(f + 260, 8), 0x601);
	/* No SCI, no PM1 blocks, no FACS */
	cr_assert_eq(t_acpi_le(f + 46, 2), 0);
	cr_assert_eq(t_acpi_le(f + 64, 4), 0);
	cr_assert_eq(t_acpi_le(f + 36, 4), 0);
	cr_assert_eq(t_acpi_le(f + 132, 8), 0);
	free(t);
}

static void t_acpi_check_madt(unsigned int ncpus)
{
	unsigned int lapics = 0, ioapics = 0, isos = 0, nmis = 0;
	struct acpi_config cfg;
	const uint8_t *m, *e, *end;
	struct t_acpi *t;

	acpi_config_init(&cfg, ncpus);
	t = t_acpi_build(&cfg);
	m = t->madt;
	cr_assert_eq(t_acpi_le(m + 36, 4), 0xfee00000);
	cr_assert_eq(t_acpi_le(m + 40, 4), 1, "PCAT_COMPAT");
	end = m + t_acpi_le(m + 4, 4);
	for (e = m + 44; e < end; e += e[1]) {
		cr_assert(e[1] >= 2 && e + e[1] <= end, "bad MADT entry");
		switch (e[0]) {
		case 0:
			cr_assert_eq(e[1], 8);
			cr_assert_eq(e[2], lapics, "UID");
			cr_assert_eq(e[3], lapics, "APIC id");
			cr_assert_eq(t_acpi_le(e + 4, 4), 1, "enabled");
			lapics++;
			break;
		case 1:
			cr_assert_eq(e[1], 12);
			cr_assert_eq(e[2], ncpus, "I/O APIC id");
			cr_assert_eq(t_acpi_le(e + 4, 4), 0xfec00000);
			cr_assert_eq(t_acpi_le(e + 8, 4), 0, "GSI base");
			ioapics++;
			break;
		case 2:
			cr_assert_eq(e[1], 10);
			cr_assert_eq(e[3], 0, "IRQ 0");
			cr_assert_eq(t_acpi_le(e + 4, 4), 2, "to GSI 2");
			isos++;
			break;
		case 4:
			cr_assert_eq(e[1], 6);
			cr_assert_eq(e[2], 0xff, "all processors");
			cr_assert_eq(e[5], 1, "LINT1");
			nmis++;
			break;
		default:
			cr_assert_fail("unexpected MADT entry type %u", e[0]);
		}
	}
	cr_assert_eq(e, end);
	cr_assert_eq(lapics, ncpus, "%u LAPICs for %u CPUs", lapics, ncpus);
	cr_assert_eq(ioapics, 1);
	cr_assert_eq(isos, 1);
	cr_assert_eq(nmis, 1);
	free(t);
}

Test(acpi, madt_cpus)
{
	t_acpi_check_madt(1);
	t_acpi_check_madt(2);
	t_acpi_check_madt(64);
	t_acpi_check_madt(254);
}

Test(acpi, rejects_bad_config)
{
	static uint8_t buf[1 << 16];
	struct acpi_config cfg;
	uint64_t rsdp;
	size_t used;

	acpi_config_init(&cfg, 0);
	cr_assert_eq(acpi_build(&cfg, buf, sizeof(buf), &used, &rsdp), -EINVAL);
	acpi_config_init(&cfg, 255);
	cr_assert_eq(acpi_build(&cfg, buf, sizeof(buf), &used, &rsdp), -EINVAL);
	acpi_config_init(&cfg, 1);
	cfg.base = 0xe0008;
	cr_assert_eq(acpi_build(&cfg, buf, sizeof(buf), &used, &rsdp), -EINVAL);
	acpi_config_init(&cfg, 1);
	cfg.serial_irq = 16;
	cr_assert_eq(acpi_build(&cfg, buf, sizeof(buf), &used, &rsdp), -EINVAL);
	acpi_config_init(&cfg, 1);
	cfg.nmcfg = 1;
	cr_assert_eq(acpi_build(&cfg, buf, sizeof(buf), &used, &rsdp), -EINVAL);
	acpi_config_init(&cfg, 1);
	cr_assert_eq(acpi_build(&cfg, buf, sizeof(buf), NULL, &rsdp), -EINVAL);
	cr_assert_eq(acpi_build(NULL, buf, sizeof(buf), &used, &rsdp), -EINVAL);
}

Test(acpi, enospc_when_too_small)
{
	static uint8_t buf[1 << 14];
	struct acpi_config cfg;
	size_t used, need, size;
	uint64_t rsdp;
	int ret;

	acpi_config_init(&cfg, 8);
	cr_assert_eq(acpi_build(&cfg, buf, sizeof(buf), &used, &rsdp), 0);
	need = used;
	for (size = 0; size < need; size++) {
		ret = acpi_build(&cfg, buf, size, &used, &rsdp);
		cr_assert_eq(ret, -ENOSPC, "size %zu of %zu: %d", size, need,
			     ret);
	}
	cr_assert_eq(acpi_build(&cfg, buf, need, &used, &rsdp), 0);
	cr_assert_eq(used, need);
	cr_assert_eq(acpi_build(&cfg, NULL, 0, &used, &rsdp), -ENOSPC);
}

Test(acpi, dsdt_s5_pvpanic_serial)
{
	static const uint8_t s5[] = {0x08, 0x5c, '_',  'S',  '5',
				     '_',  0x12, 0x08, 0x04, 0x0a,
				     0x05, 0x0a, 0x05, 0x00, 0x00};
	static const uint8_t io505[] = {0x47, 0x01, 0x05, 0x05,
					0x05, 0x05, 0x01, 0x01};
	static const uint8_t io3f8[] = {0x47, 0x01, 0xf8, 0x03,
					0xf8, 0x03, 0x00, 0x08};
	struct acpi_config cfg;
	struct t_acpi *t;

	acpi_config_init(&cfg, 1);
	t = t_acpi_build(&cfg);
	cr_assert_eq(t->dsdt[8], 2, "DSDT revision (64-bit integers)");
	cr_assert(t_acpi_has(t->dsdt, s5, sizeof(s5)), "no _S5_");
	cr_assert(t_acpi_has(t->dsdt, "\\_SB_", 5), "no \\_SB_ scope");
	cr_assert(t_acpi_has(t->dsdt, "PEVT", 4));
	cr_assert(t_acpi_has(t->dsdt, "QEMU0001", 9));
	cr_assert(t_acpi_has(t->dsdt, io505, sizeof(io505)));
	cr_assert(t_acpi_has(t->dsdt, "COM1", 4));
	cr_assert(t_acpi_has(t->dsdt, io3f8, sizeof(io3f8)));
	free(t);

	/* Without pvpanic and serial, neither device is described. */
	cfg.pvpanic_port = 0;
	cfg.serial_port = 0;
	t = t_acpi_build(&cfg);
	cr_assert(t_acpi_has(t->dsdt, s5, sizeof(s5)));
	cr_assert_not(t_acpi_has(t->dsdt, "QEMU0001", 8));
	cr_assert_not(t_acpi_has(t->dsdt, "COM1", 4));
	free(t);

	/* The sleep control decode matches the _S5_ value. */
	cr_assert(acpi_sleep_ctl_is_s5((5 << 2) | 0x20));
	cr_assert_not(acpi_sleep_ctl_is_s5(5 << 2));
	cr_assert_not(acpi_sleep_ctl_is_s5((3 << 2) | 0x20));
}

/* What the PCIe work will add: a PNP0A08 host bridge in \_SB_. */
static int t_acpi_pci0_hook(void *opaque, struct aml *a)
{
	int *calls = opaque;

	(*calls)++;
	aml_device_begin(a, "PCI0");
	aml_name_eisaid(a, "_HID", "PNP0A08");
	aml_name_eisaid(a, "_CID", "PNP0A03");
	aml_name_int(a, "_SEG", 0);
	aml_name_int(a, "_BBN", 0);
	aml_name_int(a, "_UID", 0);
	aml_name(a, "_CRS");
	aml_rt_begin(a);
	aml_word_bus_number(a, 0, 0xff);
	aml_word_io(a, 0x0000, 0x0cf7, 0);
	aml_word_io(a, 0x0d00, 0xffff, 0);
	aml_dword_memory(a, AML_NON_CACHEABLE, true, 0xc0000000, 0xdfffffff, 0);
	aml_qword_memory(a, AML_PREFETCHABLE, true, 0x8000000000ull,
			 0xffffffffffull, 0);
	aml_end(a);
	aml_end(a);
	return 0;
}

static int t_acpi_failing_hook(void *opaque, struct aml *a)
{
	return -EBUSY;
}

static int t_acpi_extra_body(void *opaque, uint8_t *body, size_t size,
			     size_t *len)
{
	if (size < 4)
		return -ENOSPC;
	memcpy(body, "abcd", 4);
	*len = 4;
	return 0;
}

static const struct acpi_mcfg_entry t_acpi_mcfg_entry = {
	.base = 0xb0000000,
	.segment = 0,
	.start_bus = 0,
	.end_bus = 255,
};

static const struct acpi_extra_table t_acpi_extra = {
	.signature = {'T', 'E', 'S', 'T'},
	.revision = 3,
	.build = t_acpi_extra_body,
};

static void t_acpi_full_config(struct acpi_config *cfg, int *calls)
{
	acpi_config_init(cfg, 4);
	cfg->dsdt_sb_hook = t_acpi_pci0_hook;
	cfg->dsdt_sb_opaque = calls;
	cfg->mcfg = &t_acpi_mcfg_entry;
	cfg->nmcfg = 1;
	cfg->extra = &t_acpi_extra;
	cfg->nextra = 1;
}

Test(acpi, hooks_mcfg_and_extra_tables)
{
	struct acpi_config cfg;
	const uint8_t *m, *x;
	struct t_acpi *t;
	int calls = 0;
	uint64_t rsdp;
	size_t used;

	t_acpi_full_config(&cfg, &calls);
	t = t_acpi_build(&cfg);
	cr_assert_eq(calls, 1);
	cr_assert(t_acpi_has(t->dsdt, "PCI0", 4));
	/* XSDT: FADT, MADT, MCFG, TEST */
	cr_assert_eq(t_acpi_le(t->xsdt + 4, 4), 36 + 4 * 8);
	m = t->mcfg;
	cr_assert(m, "no MCFG");
	cr_assert_eq(t_acpi_le(m + 4, 4), 36 + 8 + 16);
	cr_assert_eq(t_acpi_le(m + 44, 8), 0xb0000000);
	cr_assert_eq(m[54], 0);
	cr_assert_eq(m[55], 255);
	x = t_acpi_table(t, t_acpi_le(t->xsdt + 36 + 3 * 8, 8));
	cr_assert_arr_eq(x, "TEST", 4);
	cr_assert_eq(x[8], 3);
	cr_assert_eq(t_acpi_le(x + 4, 4), 40);
	cr_assert_arr_eq(x + 36, "abcd", 4);
	free(t);

	/* A hook's error comes back. */
	cfg.dsdt_sb_hook = t_acpi_failing_hook;
	t = calloc(1, sizeof(*t));
	cr_assert(t);
	cr_assert_eq(acpi_build(&cfg, t->buf, sizeof(t->buf), &used, &rsdp),
		     -EBUSY);
	free(t);
}

/* ---- iasl (ACPICA) cross-check ---- */

static int t_acpi_sh(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static int t_acpi_sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return st == -1 || !WIFEXITED(st) ? -1 : WEXITSTATUS(st);
}

static void t_acpi_write(const char *dir, const char *name, const uint8_t *p,
			 size_t len)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	cr_assert(f, "open %s", path);
	cr_assert_eq(fwrite(p, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
}

static void t_acpi_dump(const char *dir, const char *name, const uint8_t *p)
{
	t_acpi_write(dir, name, p, t_acpi_le(p + 4, 4));
}

/* Disassemble dir/name.dat; fail on a non-zero status or a complaint. */
static void t_acpi_iasl_d(const char *dir, const char *name)
{
	int rc;

	rc = t_acpi_sh("cd %s && iasl -d %s.dat >%s.log 2>&1", dir, name, name);
	cr_assert_eq(rc, 0, "iasl -d %s/%s.dat failed (%d), see %s/%s.log", dir,
		     name, rc, dir, name);
	rc = t_acpi_sh("test -s %s/%s.dsl", dir, name);
	cr_assert_eq(rc, 0, "no %s/%s.dsl", dir, name);
	rc = t_acpi_sh("grep -qiE 'incorrect checksum|error|warning' "
		       "%s/%s.dsl %s/%s.log",
		       dir, name, dir, name);
	cr_assert_neq(rc, 0, "iasl complained about %s/%s.dat", dir, name);
}

static void t_acpi_grep(const char *dir, const char *name, const char *re)
{
	cr_assert_eq(t_acpi_sh("grep -qE '%s' %s/%s.dsl", re, dir, name), 0,
		     "%s/%s.dsl lacks /%s/", dir, name, re);
}

Test(acpi, iasl_disassembles_every_table, .timeout = 60)
{
	char dir[] = "/tmp/microvm-acpi-XXXXXX";
	struct acpi_config cfg;
	struct t_acpi *t;
	int calls = 0;

	if (t_acpi_sh("command -v iasl >/dev/null 2>&1") != 0)
		cr_assert_fail("iasl not found: the ACPI tests need Debian's "
			       "acpica-tools (apt-get install acpica-tools; "
			       "make deps installs it)");
	cr_assert(mkdtemp(dir), "mkdtemp");

	t_acpi_full_config(&cfg, &calls);
	t = t_acpi_build(&cfg);
	t_acpi_dump(dir, "xsdt.dat", t->xsdt);
	t_acpi_dump(dir, "facp.dat", t->fadt);
	t_acpi_dump(dir, "apic.dat", t->madt);
	t_acpi_dump(dir, "mcfg.dat", t->mcfg);
	t_acpi_dump(dir, "dsdt.dat", t->dsdt);

	t_acpi_iasl_d(dir, "xsdt");
	t_acpi_grep(dir, "xsdt", "ACPI Table Address   1 : 00000000000E0");

	t_acpi_iasl_d(dir, "facp");
	t_acpi_grep(dir, "facp", "Hardware Reduced \\(V5\\) : 1");
	t_acpi_grep(dir, "facp", "Reset Register Supported \\(V2\\) : 1");
	t_acpi_grep(dir, "facp", "Address : 0000000000000600");
	t_acpi_grep(dir, "facp", "Address : 0000000000000601");
	t_acpi_grep(dir, "facp", "Address : 0000000000000CF9");
	t_acpi_grep(dir, "facp", "CMOS RTC Not Present \\(V5\\) : 1");

	t_acpi_iasl_d(dir, "apic");
	t_acpi_grep(dir, "apic", "I/O Apic ID : 04");
	t_acpi_grep(dir, "apic", "Local Apic ID : 03");
	t_acpi_grep(dir, "apic", "Interrupt Input LINT : 01");

	t_acpi_iasl_d(dir, "mcfg");
	t_acpi_grep(dir, "mcfg", "Base Address : 00000000B0000000");

	t_acpi_iasl_d(dir, "dsdt");
	t_acpi_grep(dir, "dsdt", "Name \\(\\\\_S5, Package \\(0x04\\)");
	t_acpi_grep(dir, "dsdt", "Scope \\(\\\\_SB\\)");
	t_acpi_grep(dir, "dsdt", "Name \\(_HID, \"QEMU0001\"\\)");
	t_acpi_grep(dir, "dsdt", "IO \\(Decode16,");
	t_acpi_grep(dir, "dsdt", "0x0505, +// Range Minimum");
	t_acpi_grep(dir, "dsdt", "Method \\(_STA, 0, NotSerialized\\)");
	t_acpi_grep(dir, "dsdt", "EisaId \\(\"PNP0501\"\\)");
	t_acpi_grep(dir, "dsdt", "IRQNoFlags");
	t_acpi_grep(dir, "dsdt", "EisaId \\(\"PNP0A08\"\\)");
	t_acpi_grep(dir, "dsdt", "WordBusNumber \\(ResourceProducer");
	t_acpi_grep(dir, "dsdt",
		    "QWordMemory \\(ResourceProducer, PosDecode, "
		    "MinFixed, MaxFixed, Prefetchable, "
		    "ReadWrite");

	/*
	 * Recompile the disassembly without optimizations: iasl must produce
	 * exactly our AML (everything after the 36-byte header).
	 */
	cr_assert_eq(
		t_acpi_sh("cd %s && iasl -oa -p rt dsdt.dsl >rt.log 2>&1", dir),
		0, "iasl could not recompile %s/dsdt.dsl", dir);
	cr_assert_eq(t_acpi_sh("cd %s && tail -c +37 dsdt.dat >ours.body && "
			       "tail -c +37 rt.aml >iasl.body && "
			       "cmp ours.body iasl.body >cmp.log 2>&1",
			       dir),
		     0, "iasl recompiles %s/dsdt.dsl to different AML", dir);

	free(t);
	cr_assert_eq(t_acpi_sh("rm -rf %s", dir), 0);
}
