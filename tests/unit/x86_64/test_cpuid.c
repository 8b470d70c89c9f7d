/* test_cpuid.c: unit tests for the pure CPUID logic in arch/x86_64/cpuid.c. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "arch/x86_64/cpuid.h"

#define SIG    CPUID_FLAG_SIGNIFCANT_INDEX
#define BIT(n) (1u << (n))

/*
 * Modelled on KVM_GET_SUPPORTED_CPUID (Linux 6.x) on a Sapphire Rapids
 * host: leaf 0xB/0x1F reduced to an all-zero subleaf 0, leaf 1 EBX and
 * leaf 4 as the host reports them, AMX and CET state in leaf 0xD.
 */
static const struct cpuid_entry cpuidt_intel[] = {
	{0x00000000, 0, 0, 0x00000020, 0x756e6547, 0x6c65746e, 0x49656e69},
	{0x00000001, 0, 0, 0x000806f8, 0x3a400800, 0xf7fab223, 0x0f8bfbff},
	{0x00000002, 0, 0, 0x00feff01, 0x000000f0, 0x00000000, 0x00000000},
	{0x00000004, 0, SIG, 0xfc004121, 0x02c0003f, 0x0000003f, 0x00000000},
	{0x00000004, 1, SIG, 0xfc004122, 0x01c0003f, 0x0000003f, 0x00000000},
	{0x00000004, 2, SIG, 0xfc004143, 0x03c0003f, 0x000007ff, 0x00000000},
	{0x00000004, 3, SIG, 0xfc1fc163, 0x0380003f, 0x0000efff, 0x00000004},
	{0x00000004, 4, SIG, 0x00000000, 0x00000000, 0x00000000, 0x00000000},
	{0x00000006, 0, 0, 0x00000004, 0x00000000, 0x00000000, 0x00000000},
	{0x00000007, 0, SIG, 0x00000001, 0xf1bf0fbb, 0x1a415fee, 0xbfd14410},
	{0x00000007, 1, SIG, 0x00001c30, 0x00000000, 0x00000000, 0x00000000},
	{0x0000000a, 0, 0, 0x07300802, 0x00000000, 0x00000000, 0x00000603},
	{0x0000000b, 0, SIG, 0x00000000, 0x00000000, 0x00000000, 0x00000000},
	{0x0000000d, 0, SIG, 0x000602e7, 0x00002b00, 0x00002b00, 0x00000000},
	{0x0000000d, 1, SIG, 0x0000001f, 0x00002b00, 0x00001800, 0x00000000},
	{0x0000000d, 2, SIG, 0x00000100, 0x00000240, 0x00000000, 0x00000000},
	{0x0000000d, 5, SIG, 0x00000040, 0x00000440, 0x00000000, 0x00000000},
	{0x0000000d, 6, SIG, 0x00000200, 0x00000480, 0x00000000, 0x00000000},
	{0x0000000d, 7, SIG, 0x00000400, 0x00000680, 0x00000000, 0x00000000},
	{0x0000000d, 9, SIG, 0x00000008, 0x00000a80, 0x00000000, 0x00000000},
	{0x0000000d, 11, SIG, 0x00000010, 0x00000000, 0x00000001, 0x00000000},
	{0x0000000d, 12, SIG, 0x00000018, 0x00000000, 0x00000001, 0x00000000},
	{0x0000000d, 17, SIG, 0x00000040, 0x00000ac0, 0x00000000, 0x00000000},
	{0x0000000d, 18, SIG, 0x00002000, 0x00000b00, 0x00000002, 0x00000000},
	{0x0000001d, 0, SIG, 0x00000001, 0x00000000, 0x00000000, 0x00000000},
	{0x0000001d, 1, SIG, 0x04002000, 0x00080040, 0x00000010, 0x00000000},
	{0x0000001e, 0, SIG, 0x00000000, 0x00004010, 0x00000000, 0x00000000},
	{0x0000001f, 0, SIG, 0x00000000, 0x00000000, 0x00000000, 0x00000000},
	{0x80000000, 0, 0, 0x80000008, 0x00000000, 0x00000000, 0x00000000},
	{0x80000001, 0, 0, 0x00000000, 0x00000000, 0x00000121, 0x2c100800},
	{0x80000002, 0, 0, 0x65746e49, 0x2952286c, 0x6f655820, 0x2952286e},
	{0x80000003, 0, 0, 0x616c5020, 0x756e6974, 0x3438206d, 0x00003038},
	{0x80000004, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000},
	{0x80000006, 0, 0, 0x00000000, 0x00000000, 0x08007040, 0x00000000},
	{0x80000007, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000100},
	{0x80000008, 0, 0, 0x0000392e, 0x00000200, 0x00000000, 0x00000000},
	{0x40000000, 0, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x0000004d},
	{0x40000001, 0, 0, 0x01007afb, 0x00000000, 0x00000000, 0x00000000},
};

/*
 * Modelled on KVM_GET_SUPPORTED_CPUID on an AMD EPYC (Milan) host:
 * 0x8000001E zeroed by KVM, 0x80000008 ECX keeps NC/ApicIdCoreIdSize,
 * 0x8000001D cache topology as the host reports it.
 */
static const struct cpuid_entry cpuidt_amd[] = {
	{0x00000000, 0, 0, 0x00000010, 0x68747541, 0x444d4163, 0x69746e65},
	{0x00000001, 0, 0, 0x00a00f11, 0x3f800800, 0xf7fa3203, 0x078bfbff},
	{0x00000006, 0, 0, 0x00000004, 0x00000000, 0x00000000, 0x00000000},
	{0x00000007, 0, SIG, 0x00000000, 0x219c07a9, 0x0040060c, 0x00000010},
	{0x0000000b, 0, SIG, 0x00000000, 0x00000000, 0x00000000, 0x00000000},
	{0x0000000d, 0, SIG, 0x00000207, 0x00000988, 0x00000988, 0x00000000},
	{0x0000000d, 1, SIG, 0x0000000f, 0x00000348, 0x00000000, 0x00000000},
	{0x0000000d, 2, SIG, 0x00000100, 0x00000240, 0x00000000, 0x00000000},
	{0x0000000d, 9, SIG, 0x00000008, 0x00000980, 0x00000000, 0x00000000},
	{0x80000000, 0, 0, 0x80000021, 0x68747541, 0x444d4163, 0x69746e65},
	{0x80000001, 0, 0, 0x00a00f11, 0x00000000, 0x00c003f7, 0x2fd3fbff},
	{0x80000005, 0, 0, 0xff40ff40, 0xff40ff40, 0x20080140, 0x20080140},
	{0x80000006, 0, 0, 0x48002200, 0x68004200, 0x02006140, 0x01009140},
	{0x80000007, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000100},
	{0x80000008, 0, 0, 0x00003030, 0x0300d207, 0x0000707f, 0x00000000},
	{0x8000000a, 0, 0, 0x00000001, 0x00008000, 0x00000000, 0x0001bcff},
	{0x8000001d, 0, SIG, 0x00004121, 0x01c0003f, 0x0000003f, 0x00000000},
	{0x8000001d, 1, SIG, 0x00004122, 0x01c0003f, 0x0000003f, 0x00000000},
	{0x8000001d, 2, SIG, 0x00004143, 0x01c0003f, 0x000003ff, 0x00000002},
	{0x8000001d, 3, SIG, 0x0003c163, 0x03c0003f, 0x00007fff, 0x00000001},
	{0x8000001d, 4, SIG, 0x00000000, 0x00000000, 0x00000000, 0x00000000},
	{0x8000001e, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000},
	{0x80000021, 0, 0, 0x00000045, 0x00000000, 0x00000000, 0x00000000},
	{0x40000000, 0, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x0000004d},
	{0x40000001, 0, 0, 0x01007afb, 0x00000000, 0x00000000, 0x00000000},
};

/*
 * Excerpt of what this build host's nested kvm_pvm returns: xsave is not
 * offered in leaf 1 but leaf 0xD still lists x87/SSE/AVX/AVX-512 state.
 */
static const struct cpuid_entry cpuidt_pvm[] = {
	{0x00000000, 0, 0, 0x0000001c, 0x756e6547, 0x6c65746e, 0x49656e69},
	{0x00000001, 0, 0, 0x000c06f2, 0x00020800, 0x81202000, 0x0f8bfbff},
	{0x00000007, 0, SIG, 0x00000002, 0x01802852, 0x1a010104, 0x20010000},
	{0x00000007, 1, SIG, 0x00001c00, 0x00000000, 0x00000000, 0x00000000},
	{0x0000000b, 0, SIG, 0x00000000, 0x00000000, 0x00000000, 0x00000000},
	{0x0000000d, 0, SIG, 0x000000e7, 0x00000a80, 0x00000a80, 0x00000000},
	{0x0000000d, 1, SIG, 0x00000000, 0x00000000, 0x00000000, 0x00000000},
	{0x0000000d, 2, SIG, 0x00000100, 0x00000240, 0x00000000, 0x00000000},
	{0x0000000d, 5, SIG, 0x00000040, 0x00000440, 0x00000000, 0x00000000},
	{0x0000000d, 6, SIG, 0x00000200, 0x00000480, 0x00000000, 0x00000000},
	{0x0000000d, 7, SIG, 0x00000400, 0x00000680, 0x00000000, 0x00000000},
	{0x80000000, 0, 0, 0x80000021, 0x00000000, 0x00000000, 0x00000000},
	{0x80000001, 0, 0, 0x00000000, 0x00000000, 0x00000101, 0x20100800},
	{0x80000008, 0, 0, 0x00003930, 0x00000000, 0x00000000, 0x00000000},
	{0x40000000, 0, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x0000004d},
	{0x40000001, 0, 0, 0x01007efb, 0x00000000, 0x00000000, 0x00000000},
};

#define NTAB(t)	   (sizeof(t) / sizeof((t)[0]))
#define CPUIDT_CAP 64

struct cpuidt_table {
	struct cpuid_entry e[CPUIDT_CAP];
	size_t n;
};

static void cpuidt_load(struct cpuidt_table *t, const struct cpuid_entry *src,
			size_t n)
{
	cr_assert_leq(n, (size_t)CPUIDT_CAP);
	memset(t, 0, sizeof(*t));
	memcpy(t->e, src, n * sizeof(*src));
	t->n = n;
}

#define LOAD(t, src) cpuidt_load((t), (src), NTAB(src))

static struct cpuid_entry *cpuidt_get(struct cpuidt_table *t, uint32_t fn,
				      uint32_t idx)
{
	struct cpuid_entry *x = cpuid_find(t->e, t->n, fn, idx);

	cr_assert_not_null(x, "leaf 0x%x.%u missing", fn, idx);
	return x;
}

/* Parse and apply against the pristine table `sup`; assert the result. */
static int cpuidt_edit(struct cpuidt_table *t, const struct cpuid_entry *sup,
		       size_t nsup, const char *spec, char *err, size_t errlen)
{
	struct cpuid_edits ed;
	int ret = cpuid_edits_parse(spec, &ed, err, errlen);

	cr_assert_eq(ret, 0, "parse '%s': %s", spec, err);
	return cpuid_edits_apply(t->e, t->n, &ed, sup, nsup, err, errlen);
}

#define EDIT_OK(t, sup, spec)                                             \
	do {                                                              \
		char e_[256];                                             \
		int r_ = cpuidt_edit((t), (sup), NTAB(sup), (spec), e_,   \
				     sizeof(e_));                         \
		cr_assert_eq(r_, 0, "apply '%s': %d %s", (spec), r_, e_); \
	} while (0)

static void cpuidt_assert_kvm_leaves(struct cpuidt_table *t)
{
	struct cpuid_entry *a = cpuidt_get(t, 0x40000000, 0);
	struct cpuid_entry *b = cpuidt_get(t, 0x40000001, 0);

	cr_assert_eq(a->eax, 0x40000001);
	cr_assert_eq(a->ebx, 0x4b4d564b);
	cr_assert_eq(a->ecx, 0x564b4d56);
	cr_assert_eq(a->edx, 0x4d);
	cr_assert(b->eax == 0x01007afb || b->eax == 0x01007efb);
}

/* ---- parsing ---- */

Test(cpuid, parse_valid)
{
	struct cpuid_edits ed;
	char err[128] = "junk";

	cr_assert_eq(cpuid_edits_parse("-cx16,-xsave,+x2apic", &ed, err,
				       sizeof(err)),
		     0);
	cr_assert_str_eq(err, "");
	cr_assert_not(cpuid_edits_empty(&ed));
}

Test(cpuid, parse_empty_spec)
{
	struct cpuid_edits ed;
	char err[64];

	cr_assert_eq(cpuid_edits_parse("", &ed, err, sizeof(err)), 0);
	cr_assert(cpuid_edits_empty(&ed));
	cr_assert_eq(cpuid_edits_parse(NULL, &ed, err, sizeof(err)), 0);
	cr_assert(cpuid_edits_empty(&ed));
}

Test(cpuid, parse_unknown_name)
{
	struct cpuid_edits ed;
	char err[4096];

	cr_assert_eq(cpuid_edits_parse("-cx16,-foo", &ed, err, sizeof(err)),
		     -EINVAL);
	cr_assert(cpuid_edits_empty(&ed), "failed parse must leave no edits");
	cr_assert_not_null(strstr(err, "unknown CPU feature 'foo' (known: "),
			   "%s", err);
	cr_assert_not_null(strstr(err, "cx16"), "%s", err);
	cr_assert_not_null(strstr(err, "xsave"), "%s", err);
	cr_assert_eq(err[strlen(err) - 1], ')');
	cr_assert_null(strchr(err, '\n'));

	/* A small buffer gets a truncated, still well-formed line. */
	char small[64];
	cr_assert_eq(cpuid_edits_parse("+bogus", &ed, small, sizeof(small)),
		     -EINVAL);
	cr_assert_eq(strlen(small), sizeof(small) - 1);
	cr_assert_not_null(strstr(small, "unknown CPU feature 'bogus'"));
	cr_assert_str_eq(small + strlen(small) - 4, "...)");
}

Test(cpuid, parse_missing_sign)
{
	struct cpuid_edits ed;
	char err[128];

	cr_assert_eq(cpuid_edits_parse("cx16", &ed, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "expected +name or -name, got 'cx16'");
	cr_assert_eq(cpuid_edits_parse("-cx16,xsave", &ed, err, sizeof(err)),
		     -EINVAL);
	cr_assert_str_eq(err, "expected +name or -name, got 'xsave'");
	cr_assert_eq(cpuid_edits_parse("+", &ed, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "expected +name or -name, got '+'");
	cr_assert_eq(cpuid_edits_parse("*cx16", &ed, err, sizeof(err)),
		     -EINVAL);
	cr_assert(cpuid_edits_empty(&ed));
}

Test(cpuid, parse_empty_items)
{
	static const char *const bad[] = {
		"-cx16,,-xsave", "-cx16,", ",-cx16", ",", " , ", "  "};
	struct cpuid_edits ed;
	char err[128];

	for (size_t i = 0; i < NTAB(bad); i++) {
		cr_assert_eq(cpuid_edits_parse(bad[i], &ed, err, sizeof(err)),
			     -EINVAL, "'%s' accepted", bad[i]);
		cr_assert_not_null(strstr(err, "empty entry"), "%s", err);
	}
}

Test(cpuid, parse_case_and_blanks)
{
	struct cpuidt_table a, b;
	char err[128];

	LOAD(&a, cpuidt_intel);
	LOAD(&b, cpuidt_intel);
	cr_assert_eq(cpuidt_edit(&a, cpuidt_intel, NTAB(cpuidt_intel),
				 "-CX16,-XSave, +X2APIC ", err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(cpuidt_edit(&b, cpuidt_intel, NTAB(cpuidt_intel),
				 "-cx16,-xsave,+x2apic", err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(memcmp(a.e, b.e, sizeof(a.e)), 0);
	cr_assert_not(cpuidt_get(&a, 1, 0)->ecx & BIT(13));
}

Test(cpuid, parse_aliases_and_last_wins)
{
	struct cpuidt_table t;

	LOAD(&t, cpuidt_intel);
	EDIT_OK(&t, cpuidt_intel, "-xsave,+xsave,-sse3,-lzcnt");
	cr_assert(cpuidt_get(&t, 1, 0)->ecx & BIT(26), "last mention wins");
	cr_assert_not(cpuidt_get(&t, 1, 0)->ecx & BIT(0), "sse3 = pni");
	cr_assert_not(cpuidt_get(&t, 0x80000001, 0)->ecx & BIT(5),
		      "lzcnt = abm");
}

Test(cpuid, parse_conflict)
{
	struct cpuid_edits ed;
	char err[128];

	cr_assert_eq(cpuid_edits_parse("-avx,+avx2", &ed, err, sizeof(err)),
		     -EINVAL);
	cr_assert_str_eq(err, "'+avx2' conflicts with '-avx' (avx2 needs avx)");
	cr_assert_eq(
		cpuid_edits_parse("-xsave,+avx512bw", &ed, err, sizeof(err)),
		-EINVAL);
	cr_assert(cpuid_edits_empty(&ed));
}

Test(cpuid, every_listed_name_parses)
{
	const char *names = cpuid_feature_names();
	char buf[64];
	size_t count = 0;

	cr_assert_neq(names[0], ',');
	cr_assert_neq(names[strlen(names) - 1], ' ');
	for (const char *p = names; *p;) {
		size_t len = strcspn(p, ",");
		struct cpuid_edits ed;
		char err[64];

		cr_assert_lt(len, sizeof(buf) - 1);
		buf[0] = '-';
		memcpy(buf + 1, p, len);
		buf[len + 1] = '\0';
		cr_assert_eq(cpuid_edits_parse(buf, &ed, err, sizeof(err)), 0,
			     "'%s': %s", buf, err);
		count++;
		p += len;
		if (*p)
			p += 2; /* ", " */
	}
	cr_assert_geq(count, 150);
	for (const char *const *w =
		     (const char *const[]){"cx16", "xsave", "x2apic", "rdrand",
					   "rdseed", "pcid", "invpcid", "smep",
					   "smap", "la57", "pdpe1gb",
					   "tsc_deadline_timer", "hypervisor",
					   "avx512f", "xsaves", "3dnowprefetch",
					   "invtsc", NULL};
	     *w; w++)
		cr_assert_not_null(strstr(names, *w), "%s missing", *w);
}

/* ---- applying ---- */

Test(cpuid, empty_edits_change_nothing)
{
	struct cpuidt_table t;

	LOAD(&t, cpuidt_intel);
	EDIT_OK(&t, cpuidt_intel, "");
	cr_assert_eq(memcmp(t.e, cpuidt_intel, sizeof(cpuidt_intel)), 0);
}

Test(cpuid, nested_host_cx16_xsave_intel)
{
	struct cpuidt_table t;
	struct cpuid_entry *l1, *l7, *l71, *d1;

	LOAD(&t, cpuidt_intel);
	/* Pretend the guest OS already set CR4.OSXSAVE: KVM owns that bit. */
	cpuidt_get(&t, 1, 0)->ecx |= BIT(27);
	EDIT_OK(&t, cpuidt_intel, "-cx16,-xsave");

	l1 = cpuidt_get(&t, 1, 0);
	cr_assert_not(l1->ecx & BIT(13), "cx16");
	cr_assert_not(l1->ecx & BIT(26), "xsave");
	cr_assert_not(l1->ecx & BIT(28), "avx");
	cr_assert_not(l1->ecx & BIT(12), "fma");
	cr_assert_not(l1->ecx & BIT(29), "f16c");
	cr_assert(l1->ecx & BIT(27), "osxsave is dynamic, left to KVM");
	/* Unrelated bits survive. */
	cr_assert_eq(l1->ecx | BIT(13) | BIT(26) | BIT(28) | BIT(12) | BIT(29),
		     0xf7fab223 | BIT(27));
	cr_assert_eq(l1->edx, 0x0f8bfbff);

	l7 = cpuidt_get(&t, 7, 0);
	cr_assert_eq(l7->ebx & (BIT(5) | BIT(16) | BIT(17) | BIT(21) | BIT(28) |
				BIT(30) | BIT(31)),
		     0, "avx2/avx512*: %08x", l7->ebx);
	cr_assert_eq(l7->ebx & (BIT(0) | BIT(7) | BIT(10) | BIT(18) | BIT(20)),
		     BIT(0) | BIT(7) | BIT(10) | BIT(18) | BIT(20),
		     "fsgsbase/smep/invpcid/rdseed/smap kept");
	cr_assert_eq(l7->ecx & (BIT(1) | BIT(3) | BIT(6) | BIT(7) | BIT(9) |
				BIT(10) | BIT(11) | BIT(12) | BIT(14)),
		     0, "avx512 ecx, pku, shstk, vaes, vpclmulqdq: %08x",
		     l7->ecx);
	cr_assert(l7->ecx & BIT(16), "la57 kept");
	cr_assert(l7->ecx & BIT(8), "gfni (SSE-encoded) kept");
	cr_assert_eq(l7->edx &
			     (BIT(20) | BIT(22) | BIT(23) | BIT(24) | BIT(25)),
		     0, "ibt, amx*, avx512_fp16: %08x", l7->edx);
	cr_assert(l7->edx & BIT(4), "fsrm kept");
	cr_assert(l7->edx & BIT(29), "arch_capabilities kept");

	l71 = cpuidt_get(&t, 7, 1);
	cr_assert_eq(l71->eax, 0x00001c00, "avx_vnni, avx512_bf16: %08x",
		     l71->eax);

	/* Leaf 0xD: every subleaf empty. */
	for (size_t i = 0; i < t.n; i++)
		if (t.e[i].function == 0xd)
			cr_assert(!t.e[i].eax && !t.e[i].ebx && !t.e[i].ecx &&
					  !t.e[i].edx,
				  "0xd.%u not zeroed", t.e[i].index);
	d1 = cpuidt_get(&t, 0xd, 1);
	cr_assert_eq(d1->eax, 0, "xsaveopt/xsavec/xgetbv1/xsaves/xfd");
	cr_assert_eq(t.n, NTAB(cpuidt_intel), "entries are kept, not removed");
	cpuidt_assert_kvm_leaves(&t);
}

Test(cpuid, nested_host_cx16_xsave_amd)
{
	struct cpuidt_table t;
	struct cpuid_entry *l1;

	LOAD(&t, cpuidt_amd);
	EDIT_OK(&t, cpuidt_amd, "-cx16,-xsave");
	l1 = cpuidt_get(&t, 1, 0);
	cr_assert_eq(l1->ecx, 0xf7fa3203 & ~(BIT(13) | BIT(26) | BIT(28) |
					     BIT(12) | BIT(29)));
	cr_assert_eq(cpuidt_get(&t, 7, 0)->ebx, 0x219c07a9 & ~BIT(5));
	cr_assert_eq(cpuidt_get(&t, 7, 0)->ecx,
		     0x0040060c & ~(BIT(3) | BIT(9) | BIT(10)));
	cr_assert_eq(cpuidt_get(&t, 0xd, 0)->eax, 0);
	cr_assert_eq(cpuidt_get(&t, 0xd, 0)->ecx, 0);
	cr_assert_eq(cpuidt_get(&t, 0xd, 1)->eax, 0);
	cr_assert_eq(cpuidt_get(&t, 0xd, 9)->eax, 0);
	cr_assert_eq(cpuidt_get(&t, 0x80000001, 0)->ecx, 0x00c003f7,
		     "no xop/fma4 here; nothing else touched");
	cpuidt_assert_kvm_leaves(&t);
}

Test(cpuid, nested_host_cx16_xsave_real_pvm_table)
{
	struct cpuidt_table t;

	LOAD(&t, cpuidt_pvm);
	EDIT_OK(&t, cpuidt_pvm, "-cx16,-xsave");
	cr_assert_eq(cpuidt_get(&t, 1, 0)->ecx, 0x81200000);
	for (size_t i = 0; i < t.n; i++)
		if (t.e[i].function == 0xd)
			cr_assert(!t.e[i].eax && !t.e[i].ebx && !t.e[i].ecx,
				  "0xd.%u", t.e[i].index);
	cr_assert_eq(cpuidt_get(&t, 7, 1)->eax, 0x00001c00);
	cpuidt_assert_kvm_leaves(&t);
}

Test(cpuid, clear_avx_and_xstate_components)
{
	struct cpuidt_table t;
	struct cpuid_entry *d0;

	LOAD(&t, cpuidt_intel);
	EDIT_OK(&t, cpuidt_intel, "-avx");
	cr_assert(cpuidt_get(&t, 1, 0)->ecx & BIT(26), "xsave stays");
	cr_assert_not(cpuidt_get(&t, 1, 0)->ecx & BIT(28));
	cr_assert_not(cpuidt_get(&t, 7, 0)->ebx & BIT(16), "avx512f");
	cr_assert(cpuidt_get(&t, 7, 0)->ecx & BIT(3), "pku stays");
	cr_assert(cpuidt_get(&t, 7, 0)->edx & BIT(24), "amx_tile stays");
	d0 = cpuidt_get(&t, 0xd, 0);
	cr_assert_eq(d0->eax, 0x00060203, "x87|SSE|PKRU|tiles: %08x", d0->eax);
	cr_assert_eq(d0->ecx, 0x2b00, "tiles still end the area");
	for (uint32_t i = 2; i <= 7; i++) {
		struct cpuid_entry *c = cpuid_find(t.e, t.n, 0xd, i);

		if (c)
			cr_assert_eq(c->eax | c->ebx, 0, "0xd.%u", i);
	}
	cr_assert_eq(cpuidt_get(&t, 0xd, 9)->eax, 8, "PKRU subleaf kept");
	cr_assert_eq(cpuidt_get(&t, 0xd, 1)->ecx, 0x1800, "XSS kept");

	/* Dropping the tiles too shrinks the maximum size to PKRU's end. */
	LOAD(&t, cpuidt_intel);
	EDIT_OK(&t, cpuidt_intel, "-avx512f,-amx_tile");
	d0 = cpuidt_get(&t, 0xd, 0);
	cr_assert_eq(d0->eax, 0x00000207, "%08x", d0->eax);
	cr_assert_eq(d0->ecx, 0xa88, "%x", d0->ecx);
	cr_assert_eq(d0->ebx, 0xa88, "%x", d0->ebx);
	cr_assert_eq(cpuidt_get(&t, 0xd, 18)->eax, 0);
	cr_assert_not(cpuidt_get(&t, 7, 0)->edx & (BIT(22) | BIT(25)),
		      "amx_bf16/amx_int8 follow amx_tile");
	cr_assert(cpuidt_get(&t, 7, 0)->ebx & BIT(5), "avx2 stays");
}

Test(cpuid, clear_xsaves_drops_supervisor_state)
{
	struct cpuidt_table t;

	LOAD(&t, cpuidt_intel);
	EDIT_OK(&t, cpuidt_intel, "-xsaves");
	cr_assert_eq(cpuidt_get(&t, 0xd, 1)->eax, 0x7,
		     "xsaveopt|xsavec|xgetbv1");
	cr_assert_eq(cpuidt_get(&t, 0xd, 1)->ecx, 0, "XSS");
	cr_assert_eq(cpuidt_get(&t, 0xd, 11)->eax, 0);
	cr_assert_eq(cpuidt_get(&t, 0xd, 12)->eax, 0);
	cr_assert_not(cpuidt_get(&t, 7, 0)->ecx & BIT(7), "shstk");
	cr_assert_not(cpuidt_get(&t, 7, 0)->edx & BIT(20), "ibt");
	cr_assert_not(cpuidt_get(&t, 7, 0)->edx & BIT(24), "amx_tile via xfd");
	cr_assert_eq(cpuidt_get(&t, 0xd, 0)->eax, 0x000002e7);
	cr_assert_eq(cpuidt_get(&t, 0xd, 0)->ecx, 0xa88);
	cr_assert(cpuidt_get(&t, 1, 0)->ecx & BIT(28), "avx stays");

	/* PT state (XSS bit 8) whose owner, intel_pt, survives -xsaves. */
	struct cpuid_entry pt[NTAB(cpuidt_intel)];
	memcpy(pt, cpuidt_intel, sizeof(pt));
	cpuid_find(pt, NTAB(pt), 7, 0)->ebx |= BIT(25);
	cpuid_find(pt, NTAB(pt), 0xd, 1)->ecx |= BIT(8);
	LOAD(&t, pt);
	EDIT_OK(&t, pt, "-xsaves");
	cr_assert(cpuidt_get(&t, 7, 0)->ebx & BIT(25), "intel_pt stays");
	cr_assert_eq(cpuidt_get(&t, 0xd, 1)->ecx, 0, "no XSS without xsaves");
	LOAD(&t, pt);
	EDIT_OK(&t, pt, "-intel_pt");
	cr_assert_eq(cpuidt_get(&t, 0xd, 1)->ecx, 0x1800, "PT bit dropped");
}

Test(cpuid, clear_sse2_chain)
{
	struct cpuidt_table t;
	struct cpuid_entry *l1;

	LOAD(&t, cpuidt_amd);
	EDIT_OK(&t, cpuidt_amd, "-sse2");
	l1 = cpuidt_get(&t, 1, 0);
	cr_assert(l1->edx & BIT(25), "sse stays");
	cr_assert_not(l1->edx & BIT(26), "sse2");
	cr_assert_eq(l1->ecx & (BIT(0) | BIT(1) | BIT(9) | BIT(19) | BIT(20) |
				BIT(25) | BIT(28)),
		     0, "pni/pclmulqdq/ssse3/sse4_*/aes/avx: %08x", l1->ecx);
	cr_assert(l1->ecx & BIT(23), "popcnt is not SSE");
	cr_assert(l1->ecx & BIT(13), "cx16 is not SSE");
	cr_assert_not(cpuidt_get(&t, 7, 0)->ebx & BIT(29), "sha_ni");
	cr_assert_not(cpuidt_get(&t, 0x80000001, 0)->ecx & BIT(6), "sse4a");
	cr_assert_eq(cpuidt_get(&t, 0xd, 0)->eax, 0x203, "YMM gone");

	LOAD(&t, cpuidt_intel);
	EDIT_OK(&t, cpuidt_intel, "-ssse3");
	l1 = cpuidt_get(&t, 1, 0);
	cr_assert_eq(l1->ecx & (BIT(9) | BIT(19) | BIT(20)), 0);
	cr_assert(l1->ecx & BIT(0), "pni stays");
	cr_assert(l1->ecx & BIT(28), "avx stays");
}

Test(cpuid, clear_simple_features)
{
	static const struct {
		const char *name;
		uint32_t fn, idx;
		int reg; /* 0..3 = eax..edx */
		unsigned int bit;
	} cases[] = {
		{"x2apic", 1, 0, 2, 21},
		{"rdrand", 1, 0, 2, 30},
		{"pcid", 1, 0, 2, 17},
		{"tsc_deadline_timer", 1, 0, 2, 24},
		{"hypervisor", 1, 0, 2, 31},
		{"rdseed", 7, 0, 1, 18},
		{"invpcid", 7, 0, 1, 10},
		{"smep", 7, 0, 1, 7},
		{"smap", 7, 0, 1, 20},
		{"la57", 7, 0, 2, 16},
		{"pdpe1gb", 0x80000001, 0, 3, 26},
		{"invtsc", 0x80000007, 0, 3, 8},
		{"xsaveopt", 0xd, 1, 0, 0},
		{"arat", 6, 0, 0, 2},
		{"wbnoinvd", 0x80000008, 0, 1, 9},
		{"fzrm", 7, 1, 0, 10},
	};

	for (size_t i = 0; i < NTAB(cases); i++) {
		struct cpuidt_table t, ref;
		char spec[64];
		struct cpuid_entry *x, *r;
		uint32_t *xr, *rr;

		LOAD(&t, cpuidt_intel);
		LOAD(&ref, cpuidt_intel);
		snprintf(spec, sizeof(spec), "-%s", cases[i].name);
		EDIT_OK(&t, cpuidt_intel, spec);
		x = cpuidt_get(&t, cases[i].fn, cases[i].idx);
		r = cpuidt_get(&ref, cases[i].fn, cases[i].idx);
		xr = &x->eax + cases[i].reg;
		rr = &r->eax + cases[i].reg;
		cr_assert(*rr & BIT(cases[i].bit), "%s not in fixture",
			  cases[i].name);
		cr_assert_eq(*xr, *rr & ~BIT(cases[i].bit), "%s",
			     cases[i].name);
		/* Exactly one bit changed in the whole table. */
		*xr |= BIT(cases[i].bit);
		cr_assert_eq(memcmp(t.e, ref.e, sizeof(t.e)), 0, "%s",
			     cases[i].name);
	}
}

Test(cpuid, plus_unsupported_is_an_error)
{
	struct cpuidt_table t;
	char err[128];

	LOAD(&t, cpuidt_amd);
	cr_assert_eq(cpuidt_edit(&t, cpuidt_amd, NTAB(cpuidt_amd),
				 "-cx16,+avx512f", err, sizeof(err)),
		     -ENOTSUP);
	cr_assert_str_eq(
		err,
		"CPU feature 'avx512f' is not supported by this host's KVM");
	cr_assert_eq(memcmp(t.e, cpuidt_amd, sizeof(cpuidt_amd)), 0,
		     "table untouched on error");

	LOAD(&t, cpuidt_pvm);
	cr_assert_eq(cpuidt_edit(&t, cpuidt_pvm, NTAB(cpuidt_pvm), "+xsave",
				 err, sizeof(err)),
		     -ENOTSUP);
	cr_assert_str_eq(
		err, "CPU feature 'xsave' is not supported by this host's KVM");
}

Test(cpuid, plus_supported_sets_bit)
{
	struct cpuidt_table t;

	LOAD(&t, cpuidt_intel);
	cpuidt_get(&t, 1, 0)->ecx &= ~BIT(21);
	cpuidt_get(&t, 7, 0)->ebx &= ~BIT(18);
	EDIT_OK(&t, cpuidt_intel, "+x2apic,+rdseed");
	cr_assert_eq(memcmp(t.e, cpuidt_intel, sizeof(cpuidt_intel)), 0);
}

Test(cpuid, plus_needs_enabled_prerequisite)
{
	struct cpuidt_table t;
	char err[128];

	LOAD(&t, cpuidt_intel);
	EDIT_OK(&t, cpuidt_intel, "-avx");
	cr_assert_eq(cpuidt_edit(&t, cpuidt_intel, NTAB(cpuidt_intel), "+avx2",
				 err, sizeof(err)),
		     -EINVAL);
	cr_assert_str_eq(
		err, "CPU feature 'avx2' needs 'avx', which is not enabled");
	/* Both at once is fine. */
	EDIT_OK(&t, cpuidt_intel, "+avx2,+avx");
	cr_assert(cpuidt_get(&t, 7, 0)->ebx & BIT(5));
}

Test(cpuid, plus_restores_xstate_components)
{
	struct cpuidt_table t;
	struct cpuid_entry *d0;

	LOAD(&t, cpuidt_intel);
	EDIT_OK(&t, cpuidt_intel, "-avx");
	cr_assert_eq(cpuidt_get(&t, 0xd, 2)->eax, 0);
	EDIT_OK(&t, cpuidt_intel, "+avx");
	d0 = cpuidt_get(&t, 0xd, 0);
	cr_assert_eq(d0->eax, 0x00060207, "%08x", d0->eax);
	cr_assert_eq(cpuidt_get(&t, 0xd, 2)->eax, 0x100);
	cr_assert_eq(cpuidt_get(&t, 0xd, 2)->ebx, 0x240);
	cr_assert_eq(d0->ecx, 0x2b00);
	cr_assert_not(cpuidt_get(&t, 7, 0)->ebx & BIT(5),
		      "'+avx' does not bring back avx2");

	/* All the way back from -xsave. */
	LOAD(&t, cpuidt_amd);
	EDIT_OK(&t, cpuidt_amd, "-xsave");
	EDIT_OK(&t, cpuidt_amd,
		"+xsave,+avx,+avx2,+fma,+f16c,+pku,+xsaveopt,+xsavec,+xgetbv1,"
		"+xsaves,+vaes,+vpclmulqdq");
	d0 = cpuidt_get(&t, 0xd, 0);
	cr_assert_eq(d0->eax, 0x207, "%08x", d0->eax);
	cr_assert_eq(d0->ecx, 0x988, "%x", d0->ecx);
	cr_assert_eq(cpuidt_get(&t, 0xd, 9)->ebx, 0x980);
	cr_assert_eq(cpuidt_get(&t, 1, 0)->ecx, 0xf7fa3203);
	cr_assert_eq(cpuidt_get(&t, 7, 0)->ebx, 0x219c07a9);
	cr_assert_eq(cpuidt_get(&t, 7, 0)->ecx, 0x0040060c);
}

/* ---- topology ---- */

static unsigned int cpuidt_bits(unsigned int n)
{
	unsigned int b = 0;

	while ((1u << b) < n)
		b++;
	return b;
}

static void cpuidt_check_ext_topology(struct cpuidt_table *t, uint32_t leaf,
				      unsigned int vcpu, unsigned int ncpus)
{
	struct cpuid_entry *s0 = cpuidt_get(t, leaf, 0);
	struct cpuid_entry *s1 = cpuidt_get(t, leaf, 1);
	struct cpuid_entry *s2 = cpuidt_get(t, leaf, 2);

	cr_assert_eq(s0->index, 0);
	cr_assert_eq(s0->eax & 0x1f, 0, "SMT shift");
	cr_assert_eq(s0->ebx & 0xffff, 1, "threads per core");
	cr_assert_eq(s0->ecx, 1 << 8, "level 0 type SMT");
	cr_assert_eq(s0->edx, vcpu);
	cr_assert_eq(s1->index, 1);
	cr_assert_eq(s1->eax & 0x1f, cpuidt_bits(ncpus), "core shift, n=%u",
		     ncpus);
	cr_assert_eq(s1->ebx & 0xffff, ncpus);
	cr_assert_eq(s1->ecx, 2 << 8 | 1, "level 1 type core");
	cr_assert_eq(s1->edx, vcpu);
	cr_assert_eq(s2->index, 2);
	cr_assert_eq(s2->eax, 0);
	cr_assert_eq(s2->ebx, 0);
	cr_assert_eq(s2->ecx, 2, "level 2 invalid");
	cr_assert_eq(s2->edx, vcpu);
	/* Every vCPU's x2APIC id fits below the package shift. */
	cr_assert_lt(vcpu >> (s1->eax & 0x1f), 1u);
}

static const unsigned int cpuidt_counts[] = {1, 2, 8, 254};

Test(cpuid, topology_intel)
{
	for (size_t c = 0; c < NTAB(cpuidt_counts); c++) {
		unsigned int ncpus = cpuidt_counts[c];
		unsigned int vcpus[] = {0, ncpus / 2, ncpus - 1};

		for (size_t v = 0; v < NTAB(vcpus); v++) {
			unsigned int vcpu = vcpus[v];
			struct cpuidt_table t;
			struct cpuid_entry *l1, *l4;

			LOAD(&t, cpuidt_intel);
			cr_assert_eq(cpuid_add_topology_subleaves(t.e, &t.n,
								  CPUIDT_CAP),
				     0);
			cr_assert_eq(t.n, NTAB(cpuidt_intel) + 4);
			cpuid_set_topology(t.e, t.n, vcpu, ncpus);

			l1 = cpuidt_get(&t, 1, 0);
			cr_assert_eq(l1->ebx >> 24, vcpu, "APIC id");
			cr_assert_eq(l1->ebx >> 16 & 0xff, ncpus);
			cr_assert_eq(l1->ebx & 0xffff, 0x0800, "CLFLUSH kept");
			cr_assert_eq(!!(l1->edx & BIT(28)), ncpus > 1, "HTT");
			cr_assert(l1->ecx & BIT(31), "hypervisor");
			cr_assert_eq(l1->ecx, 0xf7fab223);
			cr_assert_eq(l1->edx & ~BIT(28), 0x0f8bfbff);

			for (uint32_t i = 0; i < 4; i++) {
				l4 = cpuidt_get(&t, 4, i);
				cr_assert_eq(l4->eax >> 26,
					     (ncpus > 64 ? 64 : ncpus) - 1);
				cr_assert_eq(l4->eax >> 14 & 0xfff,
					     i == 3 ? ncpus - 1 : 0,
					     "sharing of cache %u", i);
				cr_assert_eq(l4->eax & 0x3fff,
					     cpuidt_intel[3 + i].eax & 0x3fff);
			}
			cr_assert_eq(cpuidt_get(&t, 4, 4)->eax, 0,
				     "terminator untouched");

			cpuidt_check_ext_topology(&t, 0xb, vcpu, ncpus);
			cpuidt_check_ext_topology(&t, 0x1f, vcpu, ncpus);

			/* Intel: AMD-only fields untouched, no AMD leaves. */
			cr_assert_eq(cpuidt_get(&t, 0x80000001, 0)->ecx, 0x121);
			cr_assert_eq(cpuidt_get(&t, 0x80000008, 0)->ecx, 0);
			cr_assert_null(cpuid_find(t.e, t.n, 0x8000001e, 0));
			cr_assert_null(cpuid_find(t.e, t.n, 0x8000001d, 0));
			cpuidt_assert_kvm_leaves(&t);
		}
	}
}

Test(cpuid, topology_amd)
{
	for (size_t c = 0; c < NTAB(cpuidt_counts); c++) {
		unsigned int ncpus = cpuidt_counts[c];
		unsigned int vcpu = ncpus - 1;
		struct cpuidt_table t;
		struct cpuid_entry *x;

		LOAD(&t, cpuidt_amd);
		cr_assert_eq(
			cpuid_add_topology_subleaves(t.e, &t.n, CPUIDT_CAP), 0);
		cr_assert_eq(t.n, NTAB(cpuidt_amd) + 2, "0xb only; no 0x1f");
		cpuid_set_topology(t.e, t.n, vcpu, ncpus);

		x = cpuidt_get(&t, 1, 0);
		cr_assert_eq(x->ebx, vcpu << 24 | ncpus << 16 | 0x0800);
		cr_assert_eq(!!(x->edx & BIT(28)), ncpus > 1);
		cpuidt_check_ext_topology(&t, 0xb, vcpu, ncpus);
		cr_assert_null(cpuid_find(t.e, t.n, 0x1f, 0),
			       "absent stays absent");

		x = cpuidt_get(&t, 0x80000001, 0);
		cr_assert_eq(!!(x->ecx & BIT(1)), ncpus > 1, "CmpLegacy");
		cr_assert_eq(x->ecx & ~BIT(1), 0x00c003f7 & ~BIT(1));

		x = cpuidt_get(&t, 0x80000008, 0);
		cr_assert_eq(x->ecx & 0xff, ncpus - 1, "NC");
		cr_assert_eq(x->ecx >> 12 & 0xf, cpuidt_bits(ncpus),
			     "ApicIdCoreIdSize");
		cr_assert_eq(x->eax, 0x3030);

		for (uint32_t i = 0; i < 4; i++) {
			x = cpuidt_get(&t, 0x8000001d, i);
			cr_assert_eq(x->eax >> 14 & 0xfff,
				     i == 3 ? ncpus - 1 : 0);
			cr_assert_eq(x->eax & 0x3fff,
				     cpuidt_amd[16 + i].eax & 0x3fff);
		}
		x = cpuidt_get(&t, 0x8000001e, 0);
		cr_assert_eq(x->eax, vcpu, "extended APIC id");
		cr_assert_eq(x->ebx & 0xff, vcpu & 0xff, "core id");
		cr_assert_eq(x->ebx >> 8 & 0xff, 0, "1 thread per core");
		cr_assert_eq(x->ecx, 0);
		cpuidt_assert_kvm_leaves(&t);
	}
}

Test(cpuid, topology_overwrites_host_subleaves)
{
	/* Older KVM: leaf 0xB with the host's own levels and x2APIC id. */
	static const struct cpuid_entry host_0xb[] = {
		{0x0, 0, 0, 0xd, 0x756e6547, 0x6c65746e, 0x49656e69},
		{0x1, 0, 0, 0x000306f2, 0x24100800, 0xf7fa3203, 0x0f8bfbff},
		{0xb, 0, SIG, 0x1, 0x2, 0x100, 0x24},
		{0xb, 1, SIG, 0x5, 0x10, 0x201, 0x24},
		{0xb, 2, SIG, 0x0, 0x0, 0x2, 0x24},
	};
	struct cpuidt_table t;

	LOAD(&t, host_0xb);
	cr_assert_eq(cpuid_add_topology_subleaves(t.e, &t.n, CPUIDT_CAP), 0);
	cr_assert_eq(t.n, NTAB(host_0xb), "nothing to add");
	cpuid_set_topology(t.e, t.n, 3, 8);
	cpuidt_check_ext_topology(&t, 0xb, 3, 8);
}

Test(cpuid, topology_absent_leaves_stay_absent)
{
	static const struct cpuid_entry minimal[] = {
		{0x0, 0, 0, 0x1, 0x756e6547, 0x6c65746e, 0x49656e69},
		{0x1, 0, 0, 0x000306f2, 0x00000000, 0x00000000, 0x0f8bfbff},
	};
	struct cpuidt_table t;

	LOAD(&t, minimal);
	cr_assert_eq(cpuid_add_topology_subleaves(t.e, &t.n, CPUIDT_CAP), 0);
	cr_assert_eq(t.n, 2);
	cpuid_set_topology(t.e, t.n, 1, 2);
	cr_assert_eq(t.e[1].ebx, 0x01020800, "CLFLUSH size defaults to 64");
	cr_assert_eq(t.e[1].ecx, BIT(31), "hypervisor set");
	cr_assert_eq(t.n, 2);
	for (size_t i = 2; i < CPUIDT_CAP; i++)
		cr_assert_eq(t.e[i].function, 0, "nothing written past n");
	cr_assert_eq(cpuid_phys_bits(t.e, t.n), 36);
}

Test(cpuid, add_topology_subleaves_capacity)
{
	struct cpuidt_table t;
	size_t n;

	LOAD(&t, cpuidt_intel);
	n = t.n;
	cr_assert_eq(cpuid_add_topology_subleaves(t.e, &n, t.n + 3), -ENOSPC);
	cr_assert_eq(n, t.n, "unchanged on error");
	cr_assert_eq(memcmp(t.e, cpuidt_intel, sizeof(cpuidt_intel)), 0);
	cr_assert_eq(t.e[t.n].function, 0);
	cr_assert_eq(cpuid_add_topology_subleaves(t.e, &n, t.n + 4), 0);
	cr_assert_eq(n, t.n + 4);
}

Test(cpuid, minus_hypervisor_after_topology)
{
	struct cpuidt_table t;

	LOAD(&t, cpuidt_intel);
	cpuid_set_topology(t.e, t.n, 0, 2);
	EDIT_OK(&t, cpuidt_intel, "-hypervisor");
	cr_assert_not(cpuidt_get(&t, 1, 0)->ecx & BIT(31));
	cr_assert(cpuidt_get(&t, 1, 0)->edx & BIT(28), "topology kept");
	cpuidt_assert_kvm_leaves(&t);
}

/* ---- address width, lookup ---- */

Test(cpuid, phys_bits)
{
	struct cpuidt_table t;
	struct cpuid_entry *x;

	LOAD(&t, cpuidt_intel);
	cr_assert_eq(cpuid_phys_bits(t.e, t.n), 46);
	cr_assert_eq(cpuid_limit_phys_bits(t.e, t.n, 52), 46, "never grows");
	cr_assert_eq(cpuid_limit_phys_bits(t.e, t.n, 0), 46, "0: no change");
	cr_assert_eq(cpuid_limit_phys_bits(t.e, t.n, 40), 40);
	x = cpuidt_get(&t, 0x80000008, 0);
	cr_assert_eq(x->eax, 0x3928, "virtual bits kept: %08x", x->eax);
	cr_assert_eq(x->ebx, 0x200);
	cr_assert_eq(cpuid_phys_bits(t.e, t.n), 40);

	/* GuestPhysAddrSize, when reported, is capped too. */
	x->eax = 0x00303930;
	cr_assert_eq(cpuid_limit_phys_bits(t.e, t.n, 39), 39);
	cr_assert_eq(x->eax, 0x00273927);
	cr_assert_eq(cpuid_limit_phys_bits(t.e, t.n, 44), 39);

	/* Absent leaf: nothing written, the architectural default. */
	LOAD(&t, cpuidt_intel);
	x = cpuidt_get(&t, 0x80000008, 0);
	x->function = 0x80000009;
	cr_assert_eq(cpuid_phys_bits(t.e, t.n), 36);
	cr_assert_eq(cpuid_limit_phys_bits(t.e, t.n, 32), 36);
	cr_assert_eq(x->eax, 0x392e);
}

Test(cpuid, find_honours_significant_index)
{
	struct cpuidt_table t;

	LOAD(&t, cpuidt_intel);
	cr_assert_eq(cpuidt_get(&t, 4, 2)->ecx, 0x7ff);
	cr_assert_eq(cpuidt_get(&t, 0xd, 18)->eax, 0x2000);
	cr_assert_null(cpuid_find(t.e, t.n, 0xd, 3), "no such subleaf");
	cr_assert_null(cpuid_find(t.e, t.n, 4, 5));
	cr_assert_eq(cpuidt_get(&t, 1, 7)->eax, 0x000806f8,
		     "index ignored without the flag");
	cr_assert_null(cpuid_find(t.e, t.n, 0x12345, 0));
	cr_assert_null(cpuid_find(t.e, 0, 1, 0));
}
