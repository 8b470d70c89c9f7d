/* cpuid.c: pure x86 CPUID table logic: feature edits, vCPU topology, address width. */
#include "cpuid.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

enum cpuid_reg {
	EAX,
	EBX,
	ECX,
	EDX
};

/*
 * The features we know: X(id, "name", leaf, subleaf, register, bit,
 * prerequisite, prerequisite). Names are Linux's /proc/cpuinfo flags.
 * Clearing a feature clears everything that lists it as a prerequisite,
 * transitively (as in Linux's cpuid-deps.c, with a few extra edges where
 * an instruction set architecturally needs another one's state: f16c and
 * the VEX/EVEX sets need avx, the SSE levels form a chain).
 */
#define CPUID_FEATURES(X)                                                      \
	/* leaf 1 EDX */                                                       \
	X(FPU, "fpu", 0x1, 0, EDX, 0, NONE, NONE)                              \
	X(VME, "vme", 0x1, 0, EDX, 1, NONE, NONE)                              \
	X(DE, "de", 0x1, 0, EDX, 2, NONE, NONE)                                \
	X(PSE, "pse", 0x1, 0, EDX, 3, NONE, NONE)                              \
	X(TSC, "tsc", 0x1, 0, EDX, 4, NONE, NONE)                              \
	X(MSR, "msr", 0x1, 0, EDX, 5, NONE, NONE)                              \
	X(PAE, "pae", 0x1, 0, EDX, 6, NONE, NONE)                              \
	X(MCE, "mce", 0x1, 0, EDX, 7, NONE, NONE)                              \
	X(CX8, "cx8", 0x1, 0, EDX, 8, NONE, NONE)                              \
	X(SEP, "sep", 0x1, 0, EDX, 11, NONE, NONE)                             \
	X(MTRR, "mtrr", 0x1, 0, EDX, 12, NONE, NONE)                           \
	X(PGE, "pge", 0x1, 0, EDX, 13, NONE, NONE)                             \
	X(MCA, "mca", 0x1, 0, EDX, 14, NONE, NONE)                             \
	X(CMOV, "cmov", 0x1, 0, EDX, 15, FXSR, NONE)                           \
	X(PAT, "pat", 0x1, 0, EDX, 16, NONE, NONE)                             \
	X(PSE36, "pse36", 0x1, 0, EDX, 17, NONE, NONE)                         \
	X(CLFLUSH, "clflush", 0x1, 0, EDX, 19, NONE, NONE)                     \
	X(MMX, "mmx", 0x1, 0, EDX, 23, FXSR, NONE)                             \
	X(FXSR, "fxsr", 0x1, 0, EDX, 24, FPU, NONE)                            \
	X(SSE, "sse", 0x1, 0, EDX, 25, FXSR, NONE)                             \
	X(SSE2, "sse2", 0x1, 0, EDX, 26, SSE, NONE)                            \
	X(SS, "ss", 0x1, 0, EDX, 27, NONE, NONE)                               \
	/* leaf 1 ECX */                                                       \
	X(PNI, "pni", 0x1, 0, ECX, 0, SSE2, NONE)                              \
	X(PCLMULQDQ, "pclmulqdq", 0x1, 0, ECX, 1, SSE2, NONE)                  \
	X(MONITOR, "monitor", 0x1, 0, ECX, 3, NONE, NONE)                      \
	X(VMX, "vmx", 0x1, 0, ECX, 5, NONE, NONE)                              \
	X(SSSE3, "ssse3", 0x1, 0, ECX, 9, PNI, NONE)                           \
	X(FMA, "fma", 0x1, 0, ECX, 12, AVX, NONE)                              \
	X(CX16, "cx16", 0x1, 0, ECX, 13, NONE, NONE)                           \
	X(PDCM, "pdcm", 0x1, 0, ECX, 15, NONE, NONE)                           \
	X(PCID, "pcid", 0x1, 0, ECX, 17, NONE, NONE)                           \
	X(SSE4_1, "sse4_1", 0x1, 0, ECX, 19, SSSE3, NONE)                      \
	X(SSE4_2, "sse4_2", 0x1, 0, ECX, 20, SSE4_1, NONE)                     \
	X(X2APIC, "x2apic", 0x1, 0, ECX, 21, NONE, NONE)                       \
	X(MOVBE, "movbe", 0x1, 0, ECX, 22, NONE, NONE)                         \
	X(POPCNT, "popcnt", 0x1, 0, ECX, 23, NONE, NONE)                       \
	X(TSC_DEADLINE, "tsc_deadline_timer", 0x1, 0, ECX, 24, NONE, NONE)     \
	X(AES, "aes", 0x1, 0, ECX, 25, SSE2, NONE)                             \
	X(XSAVE, "xsave", 0x1, 0, ECX, 26, FXSR, NONE)                         \
	X(AVX, "avx", 0x1, 0, ECX, 28, XSAVE, SSE2)                            \
	X(F16C, "f16c", 0x1, 0, ECX, 29, AVX, NONE)                            \
	X(RDRAND, "rdrand", 0x1, 0, ECX, 30, NONE, NONE)                       \
	X(HYPERVISOR, "hypervisor", 0x1, 0, ECX, 31, NONE, NONE)               \
	/* leaf 6 EAX */                                                       \
	X(ARAT, "arat", 0x6, 0, EAX, 2, NONE, NONE)                            \
	/* leaf 7.0 EBX */                                                     \
	X(FSGSBASE, "fsgsbase", 0x7, 0, EBX, 0, NONE, NONE)                    \
	X(TSC_ADJUST, "tsc_adjust", 0x7, 0, EBX, 1, NONE, NONE)                \
	X(SGX, "sgx", 0x7, 0, EBX, 2, NONE, NONE)                              \
	X(BMI1, "bmi1", 0x7, 0, EBX, 3, NONE, NONE)                            \
	X(HLE, "hle", 0x7, 0, EBX, 4, NONE, NONE)                              \
	X(AVX2, "avx2", 0x7, 0, EBX, 5, AVX, NONE)                             \
	X(SMEP, "smep", 0x7, 0, EBX, 7, NONE, NONE)                            \
	X(BMI2, "bmi2", 0x7, 0, EBX, 8, NONE, NONE)                            \
	X(ERMS, "erms", 0x7, 0, EBX, 9, NONE, NONE)                            \
	X(INVPCID, "invpcid", 0x7, 0, EBX, 10, NONE, NONE)                     \
	X(RTM, "rtm", 0x7, 0, EBX, 11, NONE, NONE)                             \
	X(MPX, "mpx", 0x7, 0, EBX, 14, XSAVE, NONE)                            \
	X(AVX512F, "avx512f", 0x7, 0, EBX, 16, AVX2, NONE)                     \
	X(AVX512DQ, "avx512dq", 0x7, 0, EBX, 17, AVX512F, NONE)                \
	X(RDSEED, "rdseed", 0x7, 0, EBX, 18, NONE, NONE)                       \
	X(ADX, "adx", 0x7, 0, EBX, 19, NONE, NONE)                             \
	X(SMAP, "smap", 0x7, 0, EBX, 20, NONE, NONE)                           \
	X(AVX512IFMA, "avx512ifma", 0x7, 0, EBX, 21, AVX512F, NONE)            \
	X(CLFLUSHOPT, "clflushopt", 0x7, 0, EBX, 23, NONE, NONE)               \
	X(CLWB, "clwb", 0x7, 0, EBX, 24, NONE, NONE)                           \
	X(INTEL_PT, "intel_pt", 0x7, 0, EBX, 25, NONE, NONE)                   \
	X(AVX512PF, "avx512pf", 0x7, 0, EBX, 26, AVX512F, NONE)                \
	X(AVX512ER, "avx512er", 0x7, 0, EBX, 27, AVX512F, NONE)                \
	X(AVX512CD, "avx512cd", 0x7, 0, EBX, 28, AVX512F, NONE)                \
	X(SHA_NI, "sha_ni", 0x7, 0, EBX, 29, SSE2, NONE)                       \
	X(AVX512BW, "avx512bw", 0x7, 0, EBX, 30, AVX512F, NONE)                \
	X(AVX512VL, "avx512vl", 0x7, 0, EBX, 31, AVX512F, NONE)                \
	/* leaf 7.0 ECX */                                                     \
	X(AVX512VBMI, "avx512vbmi", 0x7, 0, ECX, 1, AVX512F, NONE)             \
	X(UMIP, "umip", 0x7, 0, ECX, 2, NONE, NONE)                            \
	X(PKU, "pku", 0x7, 0, ECX, 3, XSAVE, NONE)                             \
	X(WAITPKG, "waitpkg", 0x7, 0, ECX, 5, NONE, NONE)                      \
	X(AVX512_VBMI2, "avx512_vbmi2", 0x7, 0, ECX, 6, AVX512VL, NONE)        \
	X(SHSTK, "shstk", 0x7, 0, ECX, 7, XSAVES, NONE)                        \
	X(GFNI, "gfni", 0x7, 0, ECX, 8, SSE2, NONE)                            \
	X(VAES, "vaes", 0x7, 0, ECX, 9, AVX, AES)                              \
	X(VPCLMULQDQ, "vpclmulqdq", 0x7, 0, ECX, 10, AVX, PCLMULQDQ)           \
	X(AVX512_VNNI, "avx512_vnni", 0x7, 0, ECX, 11, AVX512VL, NONE)         \
	X(AVX512_BITALG, "avx512_bitalg", 0x7, 0, ECX, 12, AVX512VL, NONE)     \
	X(AVX512_VPOPCNTDQ, "avx512_vpopcntdq", 0x7, 0, ECX, 14, AVX512F,      \
	  NONE)                                                                \
	X(LA57, "la57", 0x7, 0, ECX, 16, NONE, NONE)                           \
	X(RDPID, "rdpid", 0x7, 0, ECX, 22, NONE, NONE)                         \
	X(BUS_LOCK_DETECT, "bus_lock_detect", 0x7, 0, ECX, 24, NONE, NONE)     \
	X(CLDEMOTE, "cldemote", 0x7, 0, ECX, 25, NONE, NONE)                   \
	X(MOVDIRI, "movdiri", 0x7, 0, ECX, 27, NONE, NONE)                     \
	X(MOVDIR64B, "movdir64b", 0x7, 0, ECX, 28, NONE, NONE)                 \
	X(ENQCMD, "enqcmd", 0x7, 0, ECX, 29, XSAVES, NONE)                     \
	X(SGX_LC, "sgx_lc", 0x7, 0, ECX, 30, SGX, NONE)                        \
	/* leaf 7.0 EDX */                                                     \
	X(AVX512_4VNNIW, "avx512_4vnniw", 0x7, 0, EDX, 2, AVX512F, NONE)       \
	X(AVX512_4FMAPS, "avx512_4fmaps", 0x7, 0, EDX, 3, AVX512F, NONE)       \
	X(FSRM, "fsrm", 0x7, 0, EDX, 4, NONE, NONE)                            \
	X(AVX512_VP2INTERSECT, "avx512_vp2intersect", 0x7, 0, EDX, 8,          \
	  AVX512VL, NONE)                                                      \
	X(MD_CLEAR, "md_clear", 0x7, 0, EDX, 10, NONE, NONE)                   \
	X(SERIALIZE, "serialize", 0x7, 0, EDX, 14, NONE, NONE)                 \
	X(TSXLDTRK, "tsxldtrk", 0x7, 0, EDX, 16, RTM, NONE)                    \
	X(PCONFIG, "pconfig", 0x7, 0, EDX, 18, NONE, NONE)                     \
	X(ARCH_LBR, "arch_lbr", 0x7, 0, EDX, 19, XSAVES, NONE)                 \
	X(IBT, "ibt", 0x7, 0, EDX, 20, XSAVES, NONE)                           \
	X(AMX_BF16, "amx_bf16", 0x7, 0, EDX, 22, AMX_TILE, NONE)               \
	X(AVX512_FP16, "avx512_fp16", 0x7, 0, EDX, 23, AVX512BW, NONE)         \
	X(AMX_TILE, "amx_tile", 0x7, 0, EDX, 24, XFD, NONE)                    \
	X(AMX_INT8, "amx_int8", 0x7, 0, EDX, 25, AMX_TILE, NONE)               \
	X(SPEC_CTRL, "spec_ctrl", 0x7, 0, EDX, 26, NONE, NONE)                 \
	X(INTEL_STIBP, "intel_stibp", 0x7, 0, EDX, 27, SPEC_CTRL, NONE)        \
	X(FLUSH_L1D, "flush_l1d", 0x7, 0, EDX, 28, NONE, NONE)                 \
	X(ARCH_CAPABILITIES, "arch_capabilities", 0x7, 0, EDX, 29, NONE, NONE) \
	X(CORE_CAPABILITIES, "core_capabilities", 0x7, 0, EDX, 30, NONE, NONE) \
	X(SPEC_CTRL_SSBD, "spec_ctrl_ssbd", 0x7, 0, EDX, 31, SPEC_CTRL, NONE)  \
	/* leaf 7.1 EAX */                                                     \
	X(SHA512, "sha512", 0x7, 1, EAX, 0, AVX2, NONE)                        \
	X(SM3, "sm3", 0x7, 1, EAX, 1, AVX, NONE)                               \
	X(SM4, "sm4", 0x7, 1, EAX, 2, AVX2, NONE)                              \
	X(AVX_VNNI, "avx_vnni", 0x7, 1, EAX, 4, AVX2, NONE)                    \
	X(AVX512_BF16, "avx512_bf16", 0x7, 1, EAX, 5, AVX512VL, NONE)          \
	X(CMPCCXADD, "cmpccxadd", 0x7, 1, EAX, 7, NONE, NONE)                  \
	X(FZRM, "fzrm", 0x7, 1, EAX, 10, NONE, NONE)                           \
	X(FSRS, "fsrs", 0x7, 1, EAX, 11, NONE, NONE)                           \
	X(FSRC, "fsrc", 0x7, 1, EAX, 12, NONE, NONE)                           \
	X(FRED, "fred", 0x7, 1, EAX, 17, LKGS, NONE)                           \
	X(LKGS, "lkgs", 0x7, 1, EAX, 18, NONE, NONE)                           \
	X(WRMSRNS, "wrmsrns", 0x7, 1, EAX, 19, NONE, NONE)                     \
	X(AMX_FP16, "amx_fp16", 0x7, 1, EAX, 21, AMX_TILE, NONE)               \
	X(AVX_IFMA, "avx_ifma", 0x7, 1, EAX, 23, AVX2, NONE)                   \
	X(LAM, "lam", 0x7, 1, EAX, 26, NONE, NONE)                             \
	/* leaf 0xD.1 EAX */                                                   \
	X(XSAVEOPT, "xsaveopt", 0xd, 1, EAX, 0, XSAVE, NONE)                   \
	X(XSAVEC, "xsavec", 0xd, 1, EAX, 1, XSAVE, NONE)                       \
	X(XGETBV1, "xgetbv1", 0xd, 1, EAX, 2, XSAVE, NONE)                     \
	X(XSAVES, "xsaves", 0xd, 1, EAX, 3, XSAVE, NONE)                       \
	X(XFD, "xfd", 0xd, 1, EAX, 4, XSAVES, XGETBV1)                         \
	/* leaf 0x80000001 ECX */                                              \
	X(LAHF_LM, "lahf_lm", 0x80000001, 0, ECX, 0, NONE, NONE)               \
	X(SVM, "svm", 0x80000001, 0, ECX, 2, NONE, NONE)                       \
	X(CR8_LEGACY, "cr8_legacy", 0x80000001, 0, ECX, 4, NONE, NONE)         \
	X(ABM, "abm", 0x80000001, 0, ECX, 5, NONE, NONE)                       \
	X(SSE4A, "sse4a", 0x80000001, 0, ECX, 6, PNI, NONE)                    \
	X(MISALIGNSSE, "misalignsse", 0x80000001, 0, ECX, 7, SSE, NONE)        \
	X(PREFETCHW, "3dnowprefetch", 0x80000001, 0, ECX, 8, NONE, NONE)       \
	X(OSVW, "osvw", 0x80000001, 0, ECX, 9, NONE, NONE)                     \
	X(XOP, "xop", 0x80000001, 0, ECX, 11, AVX, NONE)                       \
	X(FMA4, "fma4", 0x80000001, 0, ECX, 16, AVX, NONE)                     \
	X(TBM, "tbm", 0x80000001, 0, ECX, 21, NONE, NONE)                      \
	X(TOPOEXT, "topoext", 0x80000001, 0, ECX, 22, NONE, NONE)              \
	X(PERFCTR_CORE, "perfctr_core", 0x80000001, 0, ECX, 23, NONE, NONE)    \
	X(MWAITX, "mwaitx", 0x80000001, 0, ECX, 29, NONE, NONE)                \
	/* leaf 0x80000001 EDX */                                              \
	X(SYSCALL, "syscall", 0x80000001, 0, EDX, 11, NONE, NONE)              \
	X(NX, "nx", 0x80000001, 0, EDX, 20, NONE, NONE)                        \
	X(MMXEXT, "mmxext", 0x80000001, 0, EDX, 22, MMX, NONE)                 \
	X(FXSR_OPT, "fxsr_opt", 0x80000001, 0, EDX, 25, FXSR, NONE)            \
	X(PDPE1GB, "pdpe1gb", 0x80000001, 0, EDX, 26, NONE, NONE)              \
	X(RDTSCP, "rdtscp", 0x80000001, 0, EDX, 27, NONE, NONE)                \
	X(LM, "lm", 0x80000001, 0, EDX, 29, NONE, NONE)                        \
	X(3DNOWEXT, "3dnowext", 0x80000001, 0, EDX, 30, 3DNOW, NONE)           \
	X(3DNOW, "3dnow", 0x80000001, 0, EDX, 31, MMX, NONE)                   \
	/* leaf 0x80000007 EDX */                                              \
	X(INVTSC, "invtsc", 0x80000007, 0, EDX, 8, NONE, NONE)                 \
	/* leaf 0x80000008 EBX */                                              \
	X(CLZERO, "clzero", 0x80000008, 0, EBX, 0, NONE, NONE)                 \
	X(IRPERF, "irperf", 0x80000008, 0, EBX, 1, NONE, NONE)                 \
	X(XSAVEERPTR, "xsaveerptr", 0x80000008, 0, EBX, 2, NONE, NONE)         \
	X(RDPRU, "rdpru", 0x80000008, 0, EBX, 4, NONE, NONE)                   \
	X(WBNOINVD, "wbnoinvd", 0x80000008, 0, EBX, 9, NONE, NONE)             \
	X(AMD_IBPB, "amd_ibpb", 0x80000008, 0, EBX, 12, NONE, NONE)            \
	X(AMD_IBRS, "amd_ibrs", 0x80000008, 0, EBX, 14, NONE, NONE)            \
	X(AMD_STIBP, "amd_stibp", 0x80000008, 0, EBX, 15, NONE, NONE)          \
	X(AMD_SSBD, "amd_ssbd", 0x80000008, 0, EBX, 24, NONE, NONE)            \
	X(VIRT_SSBD, "virt_ssbd", 0x80000008, 0, EBX, 25, NONE, NONE)          \
	X(AMD_SSB_NO, "amd_ssb_no", 0x80000008, 0, EBX, 26, NONE, NONE)        \
	X(AMD_PSFD, "amd_psfd", 0x80000008, 0, EBX, 28, NONE, NONE)

#define F_ENUM(id, name, leaf, sub, reg, bit, d1, d2) F_##id,
enum cpuid_feature_id {
	CPUID_FEATURES(F_ENUM) F__COUNT
};
#undef F_ENUM
#define F_NONE 0xff

_Static_assert(F__COUNT <= CPUID_MAX_FEATURES, "grow CPUID_MAX_FEATURES");
_Static_assert(F__COUNT < F_NONE, "feature ids must fit in uint8_t");

struct cpuid_feature {
	const char *name;
	uint32_t leaf;
	uint8_t sub, reg, bit;
	uint8_t dep[2]; /* prerequisites, F_NONE if unused */
};

#define F_DESC(id, nm, lf, sb, rg, bt, d1, d2) \
	[F_##id] = {.name = nm,                \
		    .leaf = lf,                \
		    .sub = sb,                 \
		    .reg = rg,                 \
		    .bit = bt,                 \
		    .dep = {F_##d1, F_##d2}},
static const struct cpuid_feature features[F__COUNT] = {CPUID_FEATURES(F_DESC)};
#undef F_DESC

#define F_NAME(id, name, leaf, sub, reg, bit, d1, d2) ", " name
static const char feature_names[] = "" CPUID_FEATURES(F_NAME);
#undef F_NAME

static const struct {
	const char *alias;
	uint8_t id;
} feature_aliases[] = {
	{"sse3", F_PNI},
	{"lzcnt", F_ABM},
	{"sha", F_SHA_NI},
	{"user_shstk", F_SHSTK},
	{"gbpages", F_PDPE1GB},
	{"constant_tsc", F_INVTSC},
	{"nonstop_tsc", F_INVTSC},
	{"mwait", F_MONITOR},
	{"prefetchw", F_PREFETCHW},
	{"tsc_deadline", F_TSC_DEADLINE},
};

/*
 * XSAVE state components and the features that own them: a component stays
 * in XCR0/XSS while at least one owner is enabled. Bits 0 (x87) and 1 (SSE)
 * live and die with xsave itself.
 */
static const struct {
	uint8_t comp;
	uint8_t owner[2];
} xstate_owners[] = {
	{2, {F_AVX, F_NONE}}, /* YMM_Hi128 */
	{3, {F_MPX, F_NONE}}, /* BNDREGS */
	{4, {F_MPX, F_NONE}}, /* BNDCSR */
	{5, {F_AVX512F, F_NONE}}, /* opmask */
	{6, {F_AVX512F, F_NONE}}, /* ZMM_Hi256 */
	{7, {F_AVX512F, F_NONE}}, /* Hi16_ZMM */
	{8, {F_INTEL_PT, F_NONE}}, /* PT (XSS) */
	{9, {F_PKU, F_NONE}}, /* PKRU */
	{10, {F_ENQCMD, F_NONE}}, /* PASID (XSS) */
	{11, {F_SHSTK, F_IBT}}, /* CET_U (XSS) */
	{12, {F_SHSTK, F_IBT}}, /* CET_S (XSS) */
	{15, {F_ARCH_LBR, F_NONE}}, /* LBR (XSS) */
	{17, {F_AMX_TILE, F_NONE}}, /* XTILECFG */
	{18, {F_AMX_TILE, F_NONE}}, /* XTILEDATA */
};

#define XSTATE_LEGACY_SIZE 576 /* 512-byte legacy area + 64-byte header */

/* Leaf 1 / 0x80000001 / 0x80000008 bits managed by topology. */
#define LEAF1_EDX_HTT	     (1u << 28)
#define LEAF1_ECX_HYPERVISOR (1u << 31)
#define LEAF1_EDX_CLFLUSH    (1u << 19)
#define EXT1_ECX_CMP_LEGACY  (1u << 1)

/* ---- small helpers ---- */

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	int len;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	len = vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	/* Say so when the message did not fit (the list of names is long). */
	if (len >= 0 && (size_t)len >= errlen && errlen > 5)
		memcpy(err + errlen - 5, "...)", 5);
}

static bool bm_test(const uint64_t *bm, unsigned int i)
{
	return bm[i / 64] >> (i % 64) & 1;
}

static void bm_set(uint64_t *bm, unsigned int i)
{
	bm[i / 64] |= 1ull << (i % 64);
}

static void bm_clear(uint64_t *bm, unsigned int i)
{
	bm[i / 64] &= ~(1ull << (i % 64));
}

static const struct cpuid_entry *find_const(const struct cpuid_entry *e,
					    size_t n, uint32_t function,
					    uint32_t index)
{
	for (size_t i = 0; i < n; i++) {
		if (e[i].function != function)
			continue;
		if ((e[i].flags & CPUID_FLAG_SIGNIFCANT_INDEX) &&
		    e[i].index != index)
			continue;
		return &e[i];
	}
	return NULL;
}

struct cpuid_entry *cpuid_find(struct cpuid_entry *e, size_t n,
			       uint32_t function, uint32_t index)
{
	return (struct cpuid_entry *)find_const(e, n, function, index);
}

static uint32_t *reg_ptr(struct cpuid_entry *ent, unsigned int reg)
{
	switch (reg) {
	case EAX:
		return &ent->eax;
	case EBX:
		return &ent->ebx;
	case ECX:
		return &ent->ecx;
	default:
		return &ent->edx;
	}
}

static uint32_t reg_val(const struct cpuid_entry *ent, unsigned int reg)
{
	return *reg_ptr((struct cpuid_entry *)ent, reg);
}

/* Is feature `id` set in the table? Absent leaves count as clear. */
static bool feature_has(const struct cpuid_entry *e, size_t n, unsigned int id)
{
	const struct cpuid_feature *f = &features[id];
	const struct cpuid_entry *ent = find_const(e, n, f->leaf, f->sub);

	return ent && (reg_val(ent, f->reg) >> f->bit & 1);
}

static void feature_write(struct cpuid_entry *e, size_t n, unsigned int id,
			  bool on)
{
	const struct cpuid_feature *f = &features[id];
	struct cpuid_entry *ent = cpuid_find(e, n, f->leaf, f->sub);
	uint32_t *r;

	if (!ent)
		return;
	r = reg_ptr(ent, f->reg);
	if (on)
		*r |= 1u << f->bit;
	else
		*r &= ~(1u << f->bit);
}

/* Feature id for a name (case-insensitive, `len` bytes), or -1. */
static int feature_lookup(const char *name, size_t len)
{
	for (unsigned int i = 0; i < F__COUNT; i++)
		if (strlen(features[i].name) == len &&
		    !strncasecmp(features[i].name, name, len))
			return (int)i;
	for (size_t i = 0;
	     i < sizeof(feature_aliases) / sizeof(feature_aliases[0]); i++)
		if (strlen(feature_aliases[i].alias) == len &&
		    !strncasecmp(feature_aliases[i].alias, name, len))
			return feature_aliases[i].id;
	return -1;
}

/* Does feature `id` need `anc`, directly or transitively? */
static bool feature_needs(unsigned int id, unsigned int anc)
{
	for (int k = 0; k < 2; k++) {
		unsigned int d = features[id].dep[k];

		if (d == F_NONE)
			continue;
		if (d == anc || feature_needs(d, anc))
			return true;
	}
	return false;
}

const char *cpuid_feature_names(void)
{
	return feature_names + 2; /* skip the leading ", " */
}

/* ---- parsing ---- */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

int cpuid_edits_empty(const struct cpuid_edits *ed)
{
	for (size_t i = 0; i < CPUID_MAX_FEATURES / 64; i++)
		if (ed->set[i] || ed->clear[i])
			return 0;
	return 1;
}

int cpuid_edits_parse(const char *spec, struct cpuid_edits *out, char *err,
		      size_t errlen)
{
	const char *p = spec;

	memset(out, 0, sizeof(*out));
	if (err && errlen)
		err[0] = '\0';
	if (!spec || !*spec)
		return 0;

	for (;;) {
		const char *item = p, *end = strchr(p, ',');
		size_t len;
		int id;
		char sign;

		if (!end)
			end = p + strlen(p);
		while (item < end && is_blank(*item))
			item++;
		len = (size_t)(end - item);
		while (len && is_blank(item[len - 1]))
			len--;

		if (!len) {
			set_err(err, errlen,
				"empty entry in CPU feature list '%.64s'",
				spec);
			goto err_inval;
		}
		sign = item[0];
		if ((sign != '+' && sign != '-') || len == 1) {
			set_err(err, errlen,
				"expected +name or -name, got '%.*s'",
				(int)(len > 40 ? 40 : len), item);
			goto err_inval;
		}
		id = feature_lookup(item + 1, len - 1);
		if (id < 0) {
			set_err(err, errlen,
				"unknown CPU feature '%.*s' (known: %s)",
				(int)(len - 1 > 40 ? 40 : len - 1), item + 1,
				cpuid_feature_names());
			goto err_inval;
		}
		if (sign == '+') {
			bm_set(out->set, (unsigned int)id);
			bm_clear(out->clear, (unsigned int)id);
		} else {
			bm_set(out->clear, (unsigned int)id);
			bm_clear(out->set, (unsigned int)id);
		}

		if (!*end)
			break;
		p = end + 1;
	}

	/* '+x' cannot survive a '-y' that x needs. */
	for (unsigned int i = 0; i < F__COUNT; i++) {
		if (!bm_test(out->set, i))
			continue;
		for (unsigned int j = 0; j < F__COUNT; j++) {
			if (bm_test(out->clear, j) && feature_needs(i, j)) {
				set_err(err, errlen,
					"'+%s' conflicts with '-%s' (%s needs "
					"%s)",
					features[i].name, features[j].name,
					features[i].name, features[j].name);
				goto err_inval;
			}
		}
	}
	return 0;

err_inval:
	memset(out, 0, sizeof(*out));
	return -EINVAL;
}

/* ---- applying ---- */

static bool xstate_related(unsigned int id)
{
	if (id == F_XSAVE || id == F_XSAVES)
		return true;
	for (size_t i = 0; i < sizeof(xstate_owners) / sizeof(xstate_owners[0]);
	     i++)
		if (xstate_owners[i].owner[0] == id ||
		    xstate_owners[i].owner[1] == id)
			return true;
	return false;
}

static void entry_zero(struct cpuid_entry *ent)
{
	ent->eax = ent->ebx = ent->ecx = ent->edx = 0;
}

/* Copy the registers of (function, index) from `sup` into `e` if both have it. */
static void entry_restore(struct cpuid_entry *e, size_t n,
			  const struct cpuid_entry *sup, size_t nsup,
			  uint32_t function, uint32_t index)
{
	struct cpuid_entry *dst = cpuid_find(e, n, function, index);
	const struct cpuid_entry *src = find_const(sup, nsup, function, index);

	if (!dst || !src || dst->index != index)
		return;
	dst->eax = src->eax;
	dst->ebx = src->ebx;
	dst->ecx = src->ecx;
	dst->edx = src->edx;
}

/* Largest standard-format XSAVE area for the user components in `xcr0`. */
static uint32_t xstate_max_size(const struct cpuid_entry *e, size_t n,
				uint64_t xcr0, uint32_t fallback)
{
	uint32_t size = XSTATE_LEGACY_SIZE;

	for (unsigned int i = 2; i < 64; i++) {
		const struct cpuid_entry *c;

		if (!(xcr0 >> i & 1))
			continue;
		c = find_const(e, n, 0xd, i);
		if (!c || c->index != i || !c->eax)
			return fallback; /* can't tell: keep what was there */
		if (c->ebx + c->eax > size)
			size = c->ebx + c->eax;
	}
	return size;
}

/*
 * Make leaf 0xD agree with the feature bits after an edit. `plus` are the
 * features just enabled: their components are brought back from `sup`.
 */
static void xstate_fixup(struct cpuid_entry *e, size_t n,
			 const struct cpuid_entry *sup, size_t nsup,
			 const uint64_t *plus)
{
	struct cpuid_entry *d0 = cpuid_find(e, n, 0xd, 0);
	struct cpuid_entry *d1 = cpuid_find(e, n, 0xd, 1);
	const struct cpuid_entry *s0 = find_const(sup, nsup, 0xd, 0);
	const struct cpuid_entry *s1 = find_const(sup, nsup, 0xd, 1);
	uint64_t xcr0, xss, old_xcr0, sup_xcr0, sup_xss;

	if (!d0 || d0->index != 0)
		return;
	if (d1 && d1->index != 1)
		d1 = NULL;

	if (!feature_has(e, n, F_XSAVE)) {
		/* No XSAVE: no state components, no 0xD at all. */
		for (size_t i = 0; i < n; i++)
			if (e[i].function == 0xd)
				entry_zero(&e[i]);
		return;
	}

	old_xcr0 = xcr0 = d0->eax | (uint64_t)d0->edx << 32;
	xss = d1 ? d1->ecx | (uint64_t)d1->edx << 32 : 0;
	sup_xcr0 = s0 ? s0->eax | (uint64_t)s0->edx << 32 : 0;
	sup_xss = s1 && s1->index == 1 ? s1->ecx | (uint64_t)s1->edx << 32 : 0;

	/* Components of features being enabled come back from `sup`. */
	if (bm_test(plus, F_XSAVE))
		xcr0 |= sup_xcr0 & 3;
	for (size_t i = 0; i < sizeof(xstate_owners) / sizeof(xstate_owners[0]);
	     i++) {
		unsigned int c = xstate_owners[i].comp;
		uint64_t bit = 1ull << c;
		bool restore = false;

		for (int k = 0; k < 2; k++)
			if (xstate_owners[i].owner[k] != F_NONE &&
			    bm_test(plus, xstate_owners[i].owner[k]))
				restore = true;
		if (!restore || !((sup_xcr0 | sup_xss) & bit))
			continue;
		xcr0 |= sup_xcr0 & bit;
		xss |= sup_xss & bit;
		entry_restore(e, n, sup, nsup, 0xd, c);
	}

	/* Components whose every owner is disabled go away. */
	for (size_t i = 0; i < sizeof(xstate_owners) / sizeof(xstate_owners[0]);
	     i++) {
		uint64_t bit = 1ull << xstate_owners[i].comp;
		bool keep = false;

		for (int k = 0; k < 2; k++)
			if (xstate_owners[i].owner[k] != F_NONE &&
			    feature_has(e, n, xstate_owners[i].owner[k]))
				keep = true;
		if (!keep) {
			xcr0 &= ~bit;
			xss &= ~bit;
		}
	}
	if (!feature_has(e, n, F_XSAVES))
		xss = 0; /* supervisor state needs XSAVES */

	d0->eax = (uint32_t)xcr0;
	d0->edx = (uint32_t)(xcr0 >> 32);
	if (d1) {
		d1->ecx = (uint32_t)xss;
		d1->edx = (uint32_t)(xss >> 32);
	}
	for (size_t i = 0; i < n; i++) {
		if (e[i].function != 0xd || e[i].index < 2 || e[i].index >= 64)
			continue;
		if (!((xcr0 | xss) >> e[i].index & 1))
			entry_zero(&e[i]);
	}

	if (xcr0 != old_xcr0 || !d0->ecx) {
		/* ECX: size for every supported user component. EBX is the
		 * size for the current XCR0, which KVM keeps up to date. */
		d0->ecx = xstate_max_size(e, n, xcr0, d0->ecx);
		if (d0->ecx < XSTATE_LEGACY_SIZE)
			d0->ecx = XSTATE_LEGACY_SIZE;
		if (!d0->ebx || d0->ebx > d0->ecx)
			d0->ebx = d0->ebx ? d0->ecx : XSTATE_LEGACY_SIZE;
	}
}

int cpuid_edits_apply(struct cpuid_entry *e, size_t n,
		      const struct cpuid_edits *ed,
		      const struct cpuid_entry *supported, size_t nsupported,
		      char *err, size_t errlen)
{
	uint64_t clear[CPUID_MAX_FEATURES / 64];
	bool changed, xstate = false;

	if (err && errlen)
		err[0] = '\0';

	/* Everything that depends on a cleared feature is cleared too. */
	memcpy(clear, ed->clear, sizeof(clear));
	do {
		changed = false;
		for (unsigned int i = 0; i < F__COUNT; i++) {
			if (bm_test(clear, i))
				continue;
			for (int k = 0; k < 2; k++) {
				unsigned int d = features[i].dep[k];

				if (d != F_NONE && bm_test(clear, d)) {
					bm_set(clear, i);
					changed = true;
					break;
				}
			}
		}
	} while (changed);

	/* Validate every '+' before writing anything. */
	for (unsigned int i = 0; i < F__COUNT; i++) {
		const struct cpuid_feature *f = &features[i];
		const struct cpuid_entry *ent;

		if (!bm_test(ed->set, i))
			continue;
		if (!feature_has(supported, nsupported, i)) {
			set_err(err, errlen,
				"CPU feature '%s' is not supported by this "
				"host's KVM",
				f->name);
			return -ENOTSUP;
		}
		ent = find_const(e, n, f->leaf, f->sub);
		if (!ent || ent->index != f->sub) {
			set_err(err, errlen,
				"CPU feature '%s' needs CPUID leaf 0x%x.%u, "
				"which the VM's table lacks",
				f->name, f->leaf, f->sub);
			return -ENOTSUP;
		}
		for (int k = 0; k < 2; k++) {
			unsigned int d = f->dep[k];

			if (d == F_NONE || bm_test(ed->set, d))
				continue;
			if (bm_test(clear, d) || !feature_has(e, n, d)) {
				set_err(err, errlen,
					"CPU feature '%s' needs '%s', which is "
					"not enabled",
					f->name, features[d].name);
				return -EINVAL;
			}
		}
	}

	for (unsigned int i = 0; i < F__COUNT; i++) {
		if (bm_test(clear, i)) {
			feature_write(e, n, i, false);
			xstate |= xstate_related(i);
		} else if (bm_test(ed->set, i)) {
			feature_write(e, n, i, true);
			xstate |= xstate_related(i);
		}
	}
	if (xstate)
		xstate_fixup(e, n, supported, nsupported, ed->set);
	return 0;
}

int cpuid_add_topology_subleaves(struct cpuid_entry *e, size_t *n, size_t cap)
{
	static const uint32_t leaves[] = {0xb, 0x1f};
	size_t need = 0, m = *n;

	for (int pass = 0; pass < 2; pass++) {
		for (size_t l = 0; l < 2; l++) {
			bool present = false;

			for (size_t i = 0; i < m; i++)
				if (e[i].function == leaves[l])
					present = true;
			if (!present)
				continue;
			for (uint32_t sub = 0; sub < 3; sub++) {
				bool have = false;

				for (size_t i = 0; i < m; i++)
					if (e[i].function == leaves[l] &&
					    e[i].index == sub &&
					    (e[i].flags &
					     CPUID_FLAG_SIGNIFCANT_INDEX))
						have = true;
				if (have)
					continue;
				if (pass == 0) {
					need++;
					continue;
				}
				e[m] = (struct cpuid_entry){
					.function = leaves[l],
					.index = sub,
					.flags = CPUID_FLAG_SIGNIFCANT_INDEX,
				};
				m++;
			}
		}
		if (pass == 0 && *n + need > cap)
			return -ENOSPC;
	}
	/* A non-indexed entry for these leaves would shadow the new ones. */
	for (size_t i = 0; i < m; i++)
		if (e[i].function == 0xb || e[i].function == 0x1f)
			e[i].flags |= CPUID_FLAG_SIGNIFCANT_INDEX;
	*n = m;
	return 0;
}

/* ---- topology ---- */

/* Number of bits needed to hold values 0..count-1. */
static unsigned int id_bits(unsigned int count)
{
	unsigned int b = 0;

	while ((1u << b) < count)
		b++;
	return b;
}

static bool vendor_is_amd(const struct cpuid_entry *e, size_t n)
{
	const struct cpuid_entry *l0 = find_const(e, n, 0, 0);
	char v[12];

	if (!l0)
		return false;
	memcpy(v, &l0->ebx, 4);
	memcpy(v + 4, &l0->edx, 4);
	memcpy(v + 8, &l0->ecx, 4);
	return !memcmp(v, "AuthenticAMD", 12) || !memcmp(v, "HygonGenuine", 12);
}

/* Cache sharing (EAX[25:14]) for leaf 4 / 0x8000001D style entries. */
static uint32_t cache_sharing(uint32_t eax, unsigned int ncpus)
{
	unsigned int level = eax >> 5 & 7;
	uint32_t share = level >= 3 ? ncpus - 1 : 0;

	return (eax & ~(0xfffu << 14)) | share << 14;
}

void cpuid_set_topology(struct cpuid_entry *e, size_t n, unsigned int vcpu,
			unsigned int ncpus)
{
	unsigned int core_bits;
	bool amd = vendor_is_amd(e, n);

	if (ncpus < 1)
		ncpus = 1;
	if (ncpus > 254)
		ncpus = 254;
	if (vcpu >= ncpus)
		vcpu = ncpus - 1;
	core_bits = id_bits(ncpus);

	for (size_t i = 0; i < n; i++) {
		struct cpuid_entry *x = &e[i];

		switch (x->function) {
		case 0x1:
			x->ebx = (x->ebx & 0xffff) | vcpu << 24 | ncpus << 16;
			if (!(x->ebx & 0xff00) && (x->edx & LEAF1_EDX_CLFLUSH))
				x->ebx |= 8 << 8; /* 64-byte lines */
			if (ncpus > 1)
				x->edx |= LEAF1_EDX_HTT;
			else
				x->edx &= ~LEAF1_EDX_HTT;
			x->ecx |= LEAF1_ECX_HYPERVISOR;
			break;
		case 0x4: {
			unsigned int cores = ncpus > 64 ? 64 : ncpus;

			if (!(x->eax & 0x1f))
				break; /* no cache here */
			x->eax = cache_sharing(x->eax, ncpus);
			x->eax = (x->eax & 0x03ffffff) | (cores - 1) << 26;
			break;
		}
		case 0xb:
		case 0x1f:
			x->edx = vcpu;
			if (x->index == 0) { /* SMT: one thread per core */
				x->eax = 0;
				x->ebx = 1;
				x->ecx = 1 << 8;
			} else if (x->index == 1) { /* core: the package */
				x->eax = core_bits;
				x->ebx = ncpus;
				x->ecx = 2 << 8 | 1;
			} else { /* invalid: ends the enumeration */
				x->eax = 0;
				x->ebx = 0;
				x->ecx = x->index & 0xff;
			}
			break;
		case 0x80000001:
			if (!amd)
				break;
			if (ncpus > 1)
				x->ecx |= EXT1_ECX_CMP_LEGACY;
			else
				x->ecx &= ~EXT1_ECX_CMP_LEGACY;
			break;
		case 0x80000008:
			if (!amd)
				break;
			x->ecx &= ~0xf0ffu;
			x->ecx |= core_bits << 12 | (ncpus - 1);
			break;
		case 0x8000001d:
			if (x->eax & 0x1f)
				x->eax = cache_sharing(x->eax, ncpus);
			break;
		case 0x8000001e:
			x->eax = vcpu; /* extended APIC id */
			x->ebx = vcpu & 0xff; /* core id; 1 thread per core */
			x->ecx = 0; /* node 0, one node per package */
			x->edx = 0;
			break;
		default:
			break;
		}
	}
}

/* ---- address width ---- */

unsigned int cpuid_phys_bits(const struct cpuid_entry *e, size_t n)
{
	const struct cpuid_entry *x = find_const(e, n, 0x80000008, 0);

	if (!x || !(x->eax & 0xff))
		return 36;
	return x->eax & 0xff;
}

unsigned int cpuid_limit_phys_bits(struct cpuid_entry *e, size_t n,
				   unsigned int bits)
{
	struct cpuid_entry *x = cpuid_find(e, n, 0x80000008, 0);

	if (x && bits) {
		if (bits > 0xff)
			bits = 0xff;
		if ((x->eax & 0xff) > bits)
			x->eax = (x->eax & ~0xffu) | bits;
		if ((x->eax >> 16 & 0xff) > bits)
			x->eax = (x->eax & ~0xff0000u) | bits << 16;
	}
	return cpuid_phys_bits(e, n);
}
