/* cpuid.h: pure x86 CPUID table logic: feature edits, vCPU topology, address width. */
#ifndef MICROVM_ARCH_X86_64_CPUID_H
#define MICROVM_ARCH_X86_64_CPUID_H

#include <stddef.h>
#include <stdint.h>

/*
 * One CPUID leaf/subleaf, as in struct kvm_cpuid_entry2 without its padding.
 * The VMM converts KVM_GET_SUPPORTED_CPUID's entries into these and back for
 * KVM_SET_CPUID2; nothing here includes <linux/kvm.h> or makes a syscall.
 */
struct cpuid_entry {
	uint32_t function, index, flags, eax, ebx, ecx, edx;
};

/* Same value (and spelling) as KVM_CPUID_FLAG_SIGNIFCANT_INDEX. */
#define CPUID_FLAG_SIGNIFCANT_INDEX 1

/* Upper bound on the number of features in the name table (see cpuid.c). */
#define CPUID_MAX_FEATURES 256

/*
 * Parsed feature changes. Fixed size, no allocation; treat the fields as
 * private. Within one spec the last mention of a feature wins.
 */
struct cpuid_edits {
	uint64_t set[CPUID_MAX_FEATURES / 64]; /* '+name' */
	uint64_t clear[CPUID_MAX_FEATURES / 64]; /* '-name' */
};

/*
 * Parse "-cx16,-xsave,+x2apic" into `out`. Names are the Linux
 * /proc/cpuinfo flag names (see cpuid_feature_names(); a few aliases such as
 * sse3=pni, lzcnt=abm, sha=sha_ni, user_shstk=shstk, gbpages=pdpe1gb,
 * constant_tsc/nonstop_tsc=invtsc are accepted too), case-insensitive,
 * separated by commas; blanks around an entry are ignored; each entry must
 * start with '+' or '-'. NULL or "" means no edits. Empty entries (",,",
 * a trailing comma) are errors. '+x' together with '-y' where x needs y is
 * an error. On error returns -EINVAL, leaves `out` empty and writes a
 * one-line message into `err` (if errlen > 0), e.g.
 *   unknown CPU feature 'foo' (known: fpu, vme, ...)
 *   expected +name or -name, got 'cx16'
 */
__attribute__((warn_unused_result)) int
cpuid_edits_parse(const char *spec, struct cpuid_edits *out, char *err,
		  size_t errlen);

/* True if `ed` changes nothing. */
int cpuid_edits_empty(const struct cpuid_edits *ed);

/*
 * Apply `ed` to a CPUID table in place (the per-VM table derived from
 * `supported`, the KVM_GET_SUPPORTED_CPUID list).
 *
 * '-name' clears the feature and, transitively, everything that needs it
 * (e.g. -xsave clears avx, avx2, fma, f16c, avx512*, pku, mpx, amx*,
 * xsaveopt/xsavec/xgetbv1/xsaves/xfd; -avx clears avx2, fma, f16c, vaes,
 * avx512*, ...; -sse2 clears pni, ssse3, sse4_1, sse4_2, aes, ...).
 * Leaf 0xD follows the feature bits: without xsave every 0xD subleaf is
 * zeroed; otherwise XCR0/XSS components whose feature is gone (YMM for avx,
 * opmask/ZMM for avx512f, PKRU for pku, tiles for amx_tile, CET for
 * shstk+ibt, ...) are removed from 0xD.0/0xD.1, their subleaves are zeroed
 * and 0xD.0 ECX (max save area size) is recomputed.
 * OSXSAVE (leaf 1 ECX bit 27) and OSPKE are dynamic: KVM recomputes them
 * from the guest's CR4, so they are left alone and are not editable; the
 * same holds for the APIC bit (APIC base MSR). HTT and CmpLegacy belong to
 * cpuid_set_topology().
 *
 * '+name' sets the bit if `supported` has it; otherwise -ENOTSUP with
 * "CPU feature 'x' is not supported by this host's KVM". A '+name' whose
 * prerequisite is not enabled gives -EINVAL. Validation happens before
 * anything is written: on error the table is unchanged.
 *
 * The hypervisor leaves 0x40000000.. are never touched. cpuid_set_topology()
 * sets ECX.hypervisor, so apply the edits after it (per vCPU) if
 * '-hypervisor' is to stick; every other edit is order-independent.
 */
__attribute__((warn_unused_result)) int
cpuid_edits_apply(struct cpuid_entry *e, size_t n, const struct cpuid_edits *ed,
		  const struct cpuid_entry *supported, size_t nsupported,
		  char *err, size_t errlen);

/*
 * Modern KVM reports leaves 0xB and 0x1F as a single all-zero subleaf 0
 * ("no topology"). Append the missing subleaves 0..2 of each of these leaves
 * that is present, so that cpuid_set_topology() can describe SMT and core
 * levels. `*n` is the number of entries used, `cap` the array's capacity.
 * Returns 0 or -ENOSPC (table unchanged). Leaves absent from the table are
 * not added.
 */
__attribute__((warn_unused_result)) int
cpuid_add_topology_subleaves(struct cpuid_entry *e, size_t *n, size_t cap);

/*
 * Topology and identity for vCPU `vcpu` of `ncpus` (1..254; out-of-range
 * values are clamped): one socket, ncpus cores, one thread per core, APIC
 * id = x2APIC id = vcpu index.
 *  - leaf 1: EBX[31:24] APIC id, EBX[23:16] ncpus, EDX.HTT iff ncpus > 1,
 *    ECX.hypervisor set; CLFLUSH size defaults to 64 bytes if zero;
 *  - leaf 4 (each valid cache): EAX[31:26] = min(ncpus, 64) - 1,
 *    EAX[25:14] = 0 for L1/L2 (per core), ncpus - 1 for L3 (per package);
 *  - leaves 0xB/0x1F (each subleaf present): 0 = SMT (shift 0, 1 thread),
 *    1 = core (shift ceil(log2 ncpus), ncpus), others invalid; EDX = x2APIC id;
 *  - AMD/Hygon: 0x80000001 ECX.CmpLegacy iff ncpus > 1, 0x80000008 ECX
 *    NC = ncpus - 1 and ApicIdCoreIdSize = ceil(log2 ncpus);
 *  - 0x8000001D sharing like leaf 4; 0x8000001E ext APIC id / core id =
 *    vcpu, 1 thread per core, node 0.
 * Leaves absent from the table stay absent; 0x40000000.. are untouched.
 */
void cpuid_set_topology(struct cpuid_entry *e, size_t n, unsigned int vcpu,
			unsigned int ncpus);

/*
 * Limit the guest physical address width (0x80000008 EAX[7:0], and the
 * GuestPhysAddrSize field EAX[23:16] if non-zero) to min(current, bits);
 * bits == 0 changes nothing. Returns the resulting width as the guest sees
 * it (cpuid_phys_bits(); 36 when the leaf is absent).
 */
unsigned int cpuid_limit_phys_bits(struct cpuid_entry *e, size_t n,
				   unsigned int bits);

/* Guest physical address width: 0x80000008 EAX[7:0], or 36 if absent/0. */
unsigned int cpuid_phys_bits(const struct cpuid_entry *e, size_t n);

/*
 * The entry for (function, index): entries flagged SIGNIFCANT_INDEX must
 * match `index`, others match any index. NULL if none.
 */
struct cpuid_entry *cpuid_find(struct cpuid_entry *e, size_t n,
			       uint32_t function, uint32_t index);

/* Known feature names, ", "-separated, for --help and error messages. */
const char *cpuid_feature_names(void);

#endif /* MICROVM_ARCH_X86_64_CPUID_H */
