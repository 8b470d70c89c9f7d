/* aml.c: AML byte-code builder: names, integers, scopes, methods, resources. */
#include <errno.h>
#include <string.h>

#include "aml.h"

/* Opcodes and prefixes, ACPI 6.5 section 20.3 (AML grammar). */
#define AML_ZERO_OP	       0x00
#define AML_ONE_OP	       0x01
#define AML_NAME_OP	       0x08
#define AML_BYTE_PREFIX	       0x0a
#define AML_WORD_PREFIX	       0x0b
#define AML_DWORD_PREFIX       0x0c
#define AML_STRING_PREFIX      0x0d
#define AML_QWORD_PREFIX       0x0e
#define AML_SCOPE_OP	       0x10
#define AML_BUFFER_OP	       0x11
#define AML_PACKAGE_OP	       0x12
#define AML_METHOD_OP	       0x14
#define AML_DUAL_NAME_PREFIX   0x2e
#define AML_MULTI_NAME_PREFIX  0x2f
#define AML_EXT_OP_PREFIX      0x5b
#define AML_DEVICE_OP	       0x82 /* after AML_EXT_OP_PREFIX */
#define AML_ROOT_CHAR	       0x5c
#define AML_PARENT_PREFIX_CHAR 0x5e
#define AML_RETURN_OP	       0xa4
#define AML_ONES_OP	       0xff

/* Resource descriptor tags, ACPI 6.5 section 6.4. */
#define AML_RD_IRQ_NOFLAGS    0x22 /* small item 0x04, length 2 */
#define AML_RD_IO	      0x47 /* small item 0x08, length 7 */
#define AML_RD_FIXED_IO	      0x4b /* small item 0x09, length 3 */
#define AML_RD_END_TAG	      0x79 /* small item 0x0f, length 1 */
#define AML_RD_MEMORY32_FIXED 0x86
#define AML_RD_DWORD_ADDRESS  0x87
#define AML_RD_WORD_ADDRESS   0x88
#define AML_RD_EXT_IRQ	      0x89
#define AML_RD_QWORD_ADDRESS  0x8a

/* Address space descriptor resource types and general flags. */
#define AML_RES_MEMORY	    0
#define AML_RES_IO	    1
#define AML_RES_BUS	    2
#define AML_GF_MAX_FIXED    0x08
#define AML_GF_MIN_FIXED    0x04
#define AML_IO_ENTIRE_RANGE 0x03

#define AML_NAMESEG_LEN 4
#define AML_PKGLEN_MAX	0x0fffffff

static void aml_fail(struct aml *a, int err)
{
	if (!a->err)
		a->err = err;
}

static void aml_put(struct aml *a, const void *data, size_t len)
{
	if (a->err)
		return;
	if (len > a->size - a->len) {
		aml_fail(a, -ENOSPC);
		return;
	}
	memcpy(a->buf + a->len, data, len);
	a->len += len;
}

static void aml_put8(struct aml *a, uint8_t v)
{
	aml_put(a, &v, 1);
}

static void aml_le(uint8_t *p, uint64_t v, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Insert `len` bytes at `pos`, moving what follows up. */
static void aml_insert(struct aml *a, size_t pos, const uint8_t *data,
		       size_t len)
{
	if (a->err)
		return;
	if (len > a->size - a->len) {
		aml_fail(a, -ENOSPC);
		return;
	}
	memmove(a->buf + pos + len, a->buf + pos, a->len - pos);
	memcpy(a->buf + pos, data, len);
	a->len += len;
}

static struct aml_open *aml_top(struct aml *a)
{
	return a->depth ? &a->open[a->depth - 1] : NULL;
}

/* A data object is about to be emitted: count it if it is in a Package. */
static void aml_count_elem(struct aml *a)
{
	struct aml_open *top = aml_top(a);

	if (a->err || !top || top->kind != AML_OPEN_PACKAGE)
		return;
	if (top->count == 255) {
		aml_fail(a, -EINVAL); /* VarPackage is not supported */
		return;
	}
	top->count++;
}

static void aml_push(struct aml *a, enum aml_open_kind kind)
{
	if (a->err)
		return;
	if (a->depth == AML_MAX_DEPTH) {
		aml_fail(a, -EINVAL);
		return;
	}
	a->open[a->depth].kind = kind;
	a->open[a->depth].start = a->len;
	a->open[a->depth].count = 0;
	a->depth++;
}

void aml_init(struct aml *a, uint8_t *buf, size_t size)
{
	memset(a, 0, sizeof(*a));
	a->buf = buf;
	a->size = buf ? size : 0;
}

int aml_finish(const struct aml *a)
{
	if (a->err)
		return a->err;
	return a->depth ? -EINVAL : 0;
}

void aml_bytes(struct aml *a, const void *data, size_t len)
{
	aml_put(a, data, len);
}

int aml_pkglen_encode(size_t body_len, uint8_t out[4])
{
	unsigned int n, i;
	size_t total;

	if (body_len + 1 <= 0x3f) {
		out[0] = (uint8_t)(body_len + 1);
		return 1;
	}
	/* n bytes hold 4 + 8 * (n - 1) bits; the length counts itself. */
	for (n = 2; n <= 4; n++) {
		total = body_len + n;
		if (total >= (size_t)1 << (4 + 8 * (n - 1)))
			continue;
		out[0] = (uint8_t)(((n - 1) << 6) | (total & 0x0f));
		for (i = 1; i < n; i++)
			out[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
		return (int)n;
	}
	return -EINVAL;
}

int aml_int_encode(uint64_t value, uint8_t out[9])
{
	if (value == 0) {
		out[0] = AML_ZERO_OP;
		return 1;
	}
	if (value == 1) {
		out[0] = AML_ONE_OP;
		return 1;
	}
	/* Ones is all 64 bits set: our tables are revision 2 (64-bit). */
	if (value == UINT64_MAX) {
		out[0] = AML_ONES_OP;
		return 1;
	}
	if (value <= UINT8_MAX) {
		out[0] = AML_BYTE_PREFIX;
		out[1] = (uint8_t)value;
		return 2;
	}
	if (value <= UINT16_MAX) {
		out[0] = AML_WORD_PREFIX;
		aml_le(out + 1, value, 2);
		return 3;
	}
	if (value <= UINT32_MAX) {
		out[0] = AML_DWORD_PREFIX;
		aml_le(out + 1, value, 4);
		return 5;
	}
	out[0] = AML_QWORD_PREFIX;
	aml_le(out + 1, value, 8);
	return 9;
}

static bool aml_lead_char_ok(char c)
{
	return (c >= 'A' && c <= 'Z') || c == '_';
}

static bool aml_name_char_ok(char c)
{
	return aml_lead_char_ok(c) || (c >= '0' && c <= '9');
}

int aml_namestring_encode(const char *path, uint8_t *out, size_t size)
{
	const char *p = path, *seg;
	size_t n = 0, nsegs = 0, seglen, i;
	bool prefixed = false;

	if (!path)
		return -EINVAL;
	if (*p == '\\') {
		if (n == size)
			return -ENOSPC;
		out[n++] = AML_ROOT_CHAR;
		p++;
		prefixed = true;
	} else {
		while (*p == '^') {
			if (n == size)
				return -ENOSPC;
			out[n++] = AML_PARENT_PREFIX_CHAR;
			p++;
			prefixed = true;
		}
	}
	if (!*p) {
		/* "\" or "^": a prefix followed by NullName. */
		if (!prefixed)
			return -EINVAL;
		if (n == size)
			return -ENOSPC;
		out[n++] = 0x00;
		return (int)n;
	}

	/* Validate and count the segments first. */
	for (seg = p;;) {
		seglen = strcspn(seg, ".");
		if (seglen < 1 || seglen > AML_NAMESEG_LEN ||
		    !aml_lead_char_ok(seg[0]))
			return -EINVAL;
		for (i = 1; i < seglen; i++)
			if (!aml_name_char_ok(seg[i]))
				return -EINVAL;
		nsegs++;
		if (!seg[seglen])
			break;
		seg += seglen + 1;
	}
	if (nsegs > 255)
		return -EINVAL;

	if (nsegs == 2) {
		if (n == size)
			return -ENOSPC;
		out[n++] = AML_DUAL_NAME_PREFIX;
	} else if (nsegs > 2) {
		if (size - n < 2)
			return -ENOSPC;
		out[n++] = AML_MULTI_NAME_PREFIX;
		out[n++] = (uint8_t)nsegs;
	}
	if (size - n < nsegs * AML_NAMESEG_LEN)
		return -ENOSPC;
	for (seg = p;; seg += seglen + 1) {
		seglen = strcspn(seg, ".");
		for (i = 0; i < AML_NAMESEG_LEN; i++)
			out[n++] = i < seglen ? (uint8_t)seg[i] : '_';
		if (!seg[seglen])
			break;
	}
	return (int)n;
}

static int aml_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int aml_eisaid_value(const char *id, uint32_t *value)
{
	uint32_t v = 0;
	unsigned int i;
	int d;

	if (!id || strlen(id) != 7)
		return -EINVAL;
	/* Three letters, 5 bits each ('A' = 1), then four hex digits. */
	for (i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z')
			return -EINVAL;
		v = (v << 5) | (uint32_t)(id[i] - 'A' + 1);
	}
	for (i = 3; i < 7; i++) {
		d = aml_hex_digit(id[i]);
		if (d < 0)
			return -EINVAL;
		v = (v << 4) | (uint32_t)d;
	}
	/* The 32-bit big-endian id is stored as a little-endian DWord. */
	*value = __builtin_bswap32(v);
	return 0;
}

static void aml_namestring(struct aml *a, const char *path)
{
	/* Longest sane path: root, MultiNamePrefix, count, 255 segments. */
	uint8_t tmp[3 + 255 * AML_NAMESEG_LEN];
	int n;

	if (a->err)
		return;
	n = aml_namestring_encode(path, tmp, sizeof(tmp));
	if (n < 0) {
		aml_fail(a, -EINVAL);
		return;
	}
	aml_put(a, tmp, (size_t)n);
}

void aml_int(struct aml *a, uint64_t value)
{
	uint8_t tmp[9];
	int n = aml_int_encode(value, tmp);

	aml_count_elem(a);
	aml_put(a, tmp, (size_t)n);
}

void aml_string(struct aml *a, const char *s)
{
	const unsigned char *p;

	if (!s) {
		aml_fail(a, -EINVAL);
		return;
	}
	for (p = (const unsigned char *)s; *p; p++) {
		if (*p > 0x7f) {
			aml_fail(a, -EINVAL);
			return;
		}
	}
	aml_count_elem(a);
	aml_put8(a, AML_STRING_PREFIX);
	aml_put(a, s, strlen(s) + 1);
}

void aml_eisaid(struct aml *a, const char *id)
{
	uint8_t tmp[5];
	uint32_t v;

	if (aml_eisaid_value(id, &v)) {
		aml_fail(a, -EINVAL);
		return;
	}
	/* Always a DWord, as ASL's EISAID() compiles. */
	tmp[0] = AML_DWORD_PREFIX;
	aml_le(tmp + 1, v, 4);
	aml_count_elem(a);
	aml_put(a, tmp, sizeof(tmp));
}

void aml_name_ref(struct aml *a, const char *path)
{
	aml_count_elem(a);
	aml_namestring(a, path);
}

void aml_buffer(struct aml *a, const void *data, size_t len)
{
	uint8_t tmp[4 + 9];
	int n, m;

	if (a->err)
		return;
	if (!data && len) {
		aml_fail(a, -EINVAL);
		return;
	}
	/* BufferOp PkgLength BufferSize ByteList */
	m = aml_int_encode(len, tmp + 4);
	n = aml_pkglen_encode((size_t)m + len, tmp);
	if (n < 0) {
		aml_fail(a, -EINVAL);
		return;
	}
	memmove(tmp + n, tmp + 4, (size_t)m);
	aml_count_elem(a);
	aml_put8(a, AML_BUFFER_OP);
	aml_put(a, tmp, (size_t)(n + m));
	aml_put(a, data, len);
}

void aml_package_begin(struct aml *a)
{
	aml_count_elem(a);
	aml_put8(a, AML_PACKAGE_OP);
	aml_push(a, AML_OPEN_PACKAGE);
	aml_put8(a, 0); /* NumElements, set by aml_end() */
}

void aml_name(struct aml *a, const char *name)
{
	aml_put8(a, AML_NAME_OP);
	aml_namestring(a, name);
}

void aml_name_int(struct aml *a, const char *name, uint64_t value)
{
	aml_name(a, name);
	aml_int(a, value);
}

void aml_name_string(struct aml *a, const char *name, const char *s)
{
	aml_name(a, name);
	aml_string(a, s);
}

void aml_name_eisaid(struct aml *a, const char *name, const char *id)
{
	aml_name(a, name);
	aml_eisaid(a, id);
}

void aml_scope_begin(struct aml *a, const char *path)
{
	aml_put8(a, AML_SCOPE_OP);
	aml_push(a, AML_OPEN_PKG);
	aml_namestring(a, path);
}

void aml_device_begin(struct aml *a, const char *name)
{
	static const uint8_t op[] = {AML_EXT_OP_PREFIX, AML_DEVICE_OP};

	aml_put(a, op, sizeof(op));
	aml_push(a, AML_OPEN_PKG);
	aml_namestring(a, name);
}

void aml_method_begin(struct aml *a, const char *name, unsigned int nargs,
		      bool serialized)
{
	if (nargs > 7) {
		aml_fail(a, -EINVAL);
		return;
	}
	aml_put8(a, AML_METHOD_OP);
	aml_push(a, AML_OPEN_PKG);
	aml_namestring(a, name);
	/* MethodFlags: ArgCount [2:0], SerializeFlag [3], SyncLevel [7:4] */
	aml_put8(a, (uint8_t)(nargs | (serialized ? 0x08 : 0)));
}

void aml_return(struct aml *a)
{
	aml_put8(a, AML_RETURN_OP);
}

void aml_return_int(struct aml *a, uint64_t value)
{
	aml_return(a);
	aml_int(a, value);
}

void aml_rt_begin(struct aml *a)
{
	aml_count_elem(a);
	aml_put8(a, AML_BUFFER_OP);
	aml_push(a, AML_OPEN_RT);
}

void aml_end(struct aml *a)
{
	uint8_t tmp[4 + 9];
	struct aml_open *top;
	size_t body;
	int n, m = 0;

	if (a->err)
		return;
	top = aml_top(a);
	if (!top) {
		aml_fail(a, -EINVAL);
		return;
	}
	if (top->kind == AML_OPEN_PACKAGE)
		a->buf[top->start] = (uint8_t)top->count;
	if (top->kind == AML_OPEN_RT) {
		static const uint8_t end_tag[] = {AML_RD_END_TAG, 0};

		aml_put(a, end_tag, sizeof(end_tag));
		/* BufferSize goes between PkgLength and the descriptors. */
		m = aml_int_encode(a->len - top->start, tmp + 4);
	}
	body = a->len - top->start + (size_t)m;
	n = aml_pkglen_encode(body, tmp);
	if (n < 0) {
		aml_fail(a, -EINVAL);
		return;
	}
	memmove(tmp + n, tmp + 4, (size_t)m);
	aml_insert(a, top->start, tmp, (size_t)(n + m));
	if (!a->err)
		a->depth--;
}

/* Resource descriptors may only appear inside a resource template. */
static bool aml_in_rt(struct aml *a)
{
	struct aml_open *top = aml_top(a);

	if (top && top->kind == AML_OPEN_RT)
		return true;
	aml_fail(a, -EINVAL);
	return false;
}

void aml_io(struct aml *a, bool decode16, uint16_t min, uint16_t max,
	    uint8_t align, uint8_t len)
{
	uint8_t d[8] = {AML_RD_IO, decode16 ? 1 : 0};

	if (!aml_in_rt(a))
		return;
	if (min > max) {
		aml_fail(a, -EINVAL);
		return;
	}
	aml_le(d + 2, min, 2);
	aml_le(d + 4, max, 2);
	d[6] = align;
	d[7] = len;
	aml_put(a, d, sizeof(d));
}

void aml_fixed_io(struct aml *a, uint16_t base, uint8_t len)
{
	uint8_t d[4] = {AML_RD_FIXED_IO};

	if (!aml_in_rt(a))
		return;
	if (base > 0x3ff) {
		aml_fail(a, -EINVAL);
		return;
	}
	aml_le(d + 1, base, 2);
	d[3] = len;
	aml_put(a, d, sizeof(d));
}

void aml_irq_noflags(struct aml *a, unsigned int irq)
{
	uint8_t d[3] = {AML_RD_IRQ_NOFLAGS};

	if (!aml_in_rt(a))
		return;
	if (irq > 15) {
		aml_fail(a, -EINVAL);
		return;
	}
	aml_le(d + 1, 1u << irq, 2);
	aml_put(a, d, sizeof(d));
}

void aml_interrupt(struct aml *a, unsigned int flags, uint32_t irq)
{
	/* Tag, length 6, flags, one interrupt, no resource source. */
	uint8_t d[9] = {AML_RD_EXT_IRQ, 6, 0};

	if (!aml_in_rt(a))
		return;
	if (flags & ~0x1fu) {
		aml_fail(a, -EINVAL);
		return;
	}
	d[3] = (uint8_t)flags;
	d[4] = 1;
	aml_le(d + 5, irq, 4);
	aml_put(a, d, sizeof(d));
}

void aml_memory32_fixed(struct aml *a, bool rw, uint32_t base, uint32_t len)
{
	uint8_t d[12] = {AML_RD_MEMORY32_FIXED, 9, 0};

	if (!aml_in_rt(a))
		return;
	d[3] = rw ? 1 : 0;
	aml_le(d + 4, base, 4);
	aml_le(d + 8, len, 4);
	aml_put(a, d, sizeof(d));
}

/*
 * Word (n = 2), DWord (4) and QWord (8) address space descriptors: tag,
 * 16-bit length, resource type, general flags, type-specific flags, then
 * granularity, min, max, translation offset and length, n bytes each.
 */
static void aml_addr_space(struct aml *a, uint8_t tag, unsigned int n,
			   uint8_t type, uint8_t tflags, uint64_t min,
			   uint64_t max, uint64_t translation)
{
	uint8_t d[3 + 3 + 5 * 8];
	size_t len = 3 + 5 * n;

	if (!aml_in_rt(a))
		return;
	/* min..max must have a length that the descriptor can hold. */
	if (min > max || (n == 8 && min == 0 && max == UINT64_MAX)) {
		aml_fail(a, -EINVAL);
		return;
	}
	d[0] = tag;
	aml_le(d + 1, len, 2);
	d[3] = type;
	d[4] = AML_GF_MIN_FIXED | AML_GF_MAX_FIXED; /* producer, PosDecode */
	d[5] = tflags;
	aml_le(d + 6, 0, n);
	aml_le(d + 6 + n, min, n);
	aml_le(d + 6 + 2 * n, max, n);
	aml_le(d + 6 + 3 * n, translation, n);
	aml_le(d + 6 + 4 * n, max - min + 1, n);
	aml_put(a, d, 3 + len);
}

void aml_word_bus_number(struct aml *a, uint16_t min, uint16_t max)
{
	aml_addr_space(a, AML_RD_WORD_ADDRESS, 2, AML_RES_BUS, 0, min, max, 0);
}

void aml_word_io(struct aml *a, uint16_t min, uint16_t max,
		 uint16_t translation)
{
	aml_addr_space(a, AML_RD_WORD_ADDRESS, 2, AML_RES_IO,
		       AML_IO_ENTIRE_RANGE, min, max, translation);
}

/* Memory type-specific flags: _MEM [2:1], _RW [0]; AddressRangeMemory. */
static uint8_t aml_mem_flags(struct aml *a, enum aml_mem_cache cache, bool rw)
{
	if ((unsigned int)cache > AML_PREFETCHABLE)
		aml_fail(a, -EINVAL);
	return (uint8_t)((((unsigned int)cache & 3) << 1) | (rw ? 1 : 0));
}

void aml_dword_memory(struct aml *a, enum aml_mem_cache cache, bool rw,
		      uint32_t min, uint32_t max, uint32_t translation)
{
	aml_addr_space(a, AML_RD_DWORD_ADDRESS, 4, AML_RES_MEMORY,
		       aml_mem_flags(a, cache, rw), min, max, translation);
}

void aml_qword_memory(struct aml *a, enum aml_mem_cache cache, bool rw,
		      uint64_t min, uint64_t max, uint64_t translation)
{
	aml_addr_space(a, AML_RD_QWORD_ADDRESS, 8, AML_RES_MEMORY,
		       aml_mem_flags(a, cache, rw), min, max, translation);
}
