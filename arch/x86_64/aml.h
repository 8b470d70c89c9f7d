/* aml.h: builds ACPI Machine Language (AML) byte code into a caller buffer. */
#ifndef ARCH_X86_64_AML_H
#define ARCH_X86_64_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Usage: point a struct aml at a buffer with aml_init(), emit objects, then
 * call aml_finish() once. Emitters do not return errors one by one: the
 * first failure (-ENOSPC: buffer too small, -EINVAL: bad name, value or
 * nesting) is kept in `err`, every later emitter does nothing, and
 * aml_finish() reports it. So a whole device can be written without a check
 * after every line.
 *
 * Objects with a PkgLength (Scope, Device, Method, Package, Buffer and
 * resource templates) are opened by an *_begin() call and closed by
 * aml_end(), which encodes the PkgLength in its shortest (1 to 4 byte) form
 * and moves the body up behind it. They nest up to AML_MAX_DEPTH deep.
 *
 * Names are ACPI NameStrings: an optional root prefix '\' or parent
 * prefixes '^', then zero or more 1-4 character segments joined by '.'.
 * Short segments are padded with '_': "\\_SB.PCI0" and "\\_SB_.PCI0" are the
 * same path. Segments use A-Z, 0-9 and '_', and do not start with a digit.
 *
 * Where an emitter says "the next object is ...", the caller emits exactly
 * one data object next (aml_int(), aml_string(), aml_eisaid(),
 * aml_name_ref(), aml_package_begin(), aml_buffer(), aml_rt_begin()).
 */

#define AML_MAX_DEPTH 32

enum aml_open_kind {
	AML_OPEN_PKG, /* Scope, Device, Method: PkgLength only */
	AML_OPEN_PACKAGE, /* Package: PkgLength NumElements */
	AML_OPEN_RT, /* Buffer holding a resource template */
};

struct aml_open {
	enum aml_open_kind kind;
	size_t start; /* where the PkgLength goes */
	unsigned int count; /* Package: elements emitted so far */
};

struct aml {
	uint8_t *buf;
	size_t size; /* capacity of buf */
	size_t len; /* bytes emitted so far */
	int err; /* first error, 0 if none */
	unsigned int depth;
	struct aml_open open[AML_MAX_DEPTH];
};

/* Flags of aml_interrupt(), the spec's bit positions. */
#define AML_IRQ_CONSUMER   0x01 /* ResourceConsumer (else ResourceProducer) */
#define AML_IRQ_EDGE	   0x02 /* Edge (else Level) */
#define AML_IRQ_ACTIVE_LOW 0x04 /* ActiveLow (else ActiveHigh) */
#define AML_IRQ_SHARED	   0x08 /* Shared (else Exclusive) */
#define AML_IRQ_WAKE	   0x10 /* ExclusiveAndWake / SharedAndWake */

/* _MEM of DWordMemory/QWordMemory. */
enum aml_mem_cache {
	AML_NON_CACHEABLE = 0,
	AML_CACHEABLE = 1,
	AML_WRITE_COMBINING = 2,
	AML_PREFETCHABLE = 3,
};

/* Start building into buf[0..size). */
void aml_init(struct aml *a, uint8_t *buf, size_t size);

/*
 * Check that every opened object was closed and return the first error, or
 * 0 (then a->len bytes of a->buf are valid AML).
 */
__attribute__((warn_unused_result)) int aml_finish(const struct aml *a);

/* Raw bytes, for anything the helpers below do not cover. */
void aml_bytes(struct aml *a, const void *data, size_t len);

/* Data objects. */
void aml_int(struct aml *a, uint64_t value); /* shortest encoding */
void aml_string(struct aml *a, const char *s); /* ASCII 0x01-0x7f */
void aml_eisaid(struct aml *a, const char *id); /* "PNP0A08", as DWord */
void aml_name_ref(struct aml *a, const char *path); /* a bare NameString */
void aml_buffer(struct aml *a, const void *data, size_t len);

/*
 * Package(){...}: elements are counted as they are emitted (at most 255).
 * Close with aml_end().
 */
void aml_package_begin(struct aml *a);

/* Name(name, ...): the next object is the value. */
void aml_name(struct aml *a, const char *name);
void aml_name_int(struct aml *a, const char *name, uint64_t value);
void aml_name_string(struct aml *a, const char *name, const char *s);
void aml_name_eisaid(struct aml *a, const char *name, const char *id);

/* Scope(path){...}, Device(name){...}: close with aml_end(). */
void aml_scope_begin(struct aml *a, const char *path);
void aml_device_begin(struct aml *a, const char *name);

/*
 * Method(name, nargs (0-7), Serialized/NotSerialized){...}, sync level 0.
 * Close with aml_end().
 */
void aml_method_begin(struct aml *a, const char *name, unsigned int nargs,
		      bool serialized);

/* Return(...): the next object is the value. */
void aml_return(struct aml *a);
void aml_return_int(struct aml *a, uint64_t value);

/*
 * ResourceTemplate(){...}: a Buffer of resource descriptors. aml_end()
 * appends the EndTag (checksum 0) and sets the buffer size.
 */
void aml_rt_begin(struct aml *a);

/* Resource descriptors, only inside a resource template. */
/* IO(Decode16 or Decode10, min, max, alignment, length) */
void aml_io(struct aml *a, bool decode16, uint16_t min, uint16_t max,
	    uint8_t align, uint8_t len);
/* FixedIO(base (10 bits), length) */
void aml_fixed_io(struct aml *a, uint16_t base, uint8_t len);
/* IRQNoFlags(){irq}, irq 0-15 */
void aml_irq_noflags(struct aml *a, unsigned int irq);
/* Interrupt(flags, ...){irq}, flags AML_IRQ_* */
void aml_interrupt(struct aml *a, unsigned int flags, uint32_t irq);
/* Memory32Fixed(ReadWrite or ReadOnly, base, length) */
void aml_memory32_fixed(struct aml *a, bool rw, uint32_t base, uint32_t len);

/*
 * Address space descriptors as a host bridge uses them: ResourceProducer,
 * MinFixed, MaxFixed, PosDecode, granularity 0, length max - min + 1.
 * `translation` is added to a bus address to get the host address (0 for
 * identity mappings). min > max is -EINVAL.
 */
void aml_word_bus_number(struct aml *a, uint16_t min, uint16_t max);
void aml_word_io(struct aml *a, uint16_t min, uint16_t max,
		 uint16_t translation); /* EntireRange */
void aml_dword_memory(struct aml *a, enum aml_mem_cache cache, bool rw,
		      uint32_t min, uint32_t max, uint32_t translation);
void aml_qword_memory(struct aml *a, enum aml_mem_cache cache, bool rw,
		      uint64_t min, uint64_t max, uint64_t translation);

/* Close the innermost object opened by a *_begin() call. */
void aml_end(struct aml *a);

/*
 * Pure encoders, exposed for tests and for callers that lay out AML
 * themselves. They return the number of bytes written to `out`.
 */

/*
 * PkgLength for an object whose body (what follows the PkgLength) is
 * `body_len` bytes: 1-4 bytes, or -EINVAL if it does not fit in 28 bits.
 */
__attribute__((warn_unused_result)) int aml_pkglen_encode(size_t body_len,
							  uint8_t out[4]);

/* Integer: 1, 2, 3, 5 or 9 bytes. */
__attribute__((warn_unused_result)) int aml_int_encode(uint64_t value,
						       uint8_t out[9]);

/* NameString into out[0..size): length, -EINVAL or -ENOSPC. */
__attribute__((warn_unused_result)) int
aml_namestring_encode(const char *path, uint8_t *out, size_t size);

/* EISA id "AAA####" (A-Z letters, hex digits) to its 32-bit value. */
__attribute__((warn_unused_result)) int aml_eisaid_value(const char *id,
							 uint32_t *value);

#endif
