/* dt.c: the aarch64 tiny guest's flattened device tree reader (Devicetree Specification, chapter 5: header, structure block, strings). */
#include "dt.h"

#include <mmio.h>

#define FDT_MAGIC      0xd00dfeedu
#define FDT_BEGIN_NODE 1u
#define FDT_END_NODE   2u
#define FDT_PROP       3u
#define FDT_NOP	       4u
#define FDT_END	       9u

uint32_t dt_be32(const uint8_t *p)
{
	return __builtin_bswap32(mmio_read32(p));
}

uint64_t dt_cells(const uint8_t *p, unsigned int n)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < n; i++)
		v = v << 32 | dt_be32(p + 4 * i);
	return v;
}

bool dt_init(struct dt *dt, uint64_t addr)
{
	const uint8_t *b = (const uint8_t *)(uintptr_t)addr;
	uint32_t total, off_struct, off_strings;

	if (!addr || (addr & 7) || dt_be32(b) != FDT_MAGIC ||
	    dt_be32(b + 20) < 16)
		return false;
	total = dt_be32(b + 4);
	off_struct = dt_be32(b + 8);
	off_strings = dt_be32(b + 12);
	dt->blob = b;
	dt->structs = b + off_struct;
	dt->strings = b + off_strings;
	dt->structs_size = dt_be32(b + 36);
	dt->strings_size = dt_be32(b + 32);
	return !(off_struct & 3) && off_struct < total &&
	       dt->structs_size <= total - off_struct && off_strings < total &&
	       dt->strings_size <= total - off_strings;
}

uint32_t dt_totalsize(const struct dt *dt)
{
	return dt_be32(dt->blob + 4);
}

static size_t bounded_strlen(const uint8_t *s, size_t max)
{
	size_t n = 0;

	while (n < max && s[n])
		n++;
	return n;
}

/* The tag at `off`; *next is the offset after it. FDT_END if malformed. */
static uint32_t next_tag(const struct dt *dt, int off, int *next)
{
	uint32_t tag, len;
	size_t n;

	if (off < 0 || (uint32_t)off + 4 > dt->structs_size)
		return FDT_END;
	tag = dt_be32(dt->structs + off);
	off += 4;
	switch (tag) {
	case FDT_BEGIN_NODE:
		n = bounded_strlen(dt->structs + off, dt->structs_size - off);
		if (off + n >= dt->structs_size)
			return FDT_END;
		off += (int)((n + 1 + 3) & ~3ul);
		break;
	case FDT_PROP:
		if ((uint32_t)off + 8 > dt->structs_size)
			return FDT_END;
		len = dt_be32(dt->structs + off);
		if (len > dt->structs_size - off - 8)
			return FDT_END;
		off += 8 + (int)((len + 3) & ~3u);
		break;
	case FDT_END_NODE:
	case FDT_NOP:
		break;
	default:
		return FDT_END;
	}
	*next = off;
	return tag;
}

const char *dt_name(const struct dt *dt, int node)
{
	return (const char *)dt->structs + node + 4;
}

/* The offset after node's BEGIN_NODE token and name. */
static int node_body(const struct dt *dt, int node)
{
	int next;

	if (next_tag(dt, node, &next) != FDT_BEGIN_NODE)
		return -1;
	return next;
}

const uint8_t *dt_prop(const struct dt *dt, int node, const char *name,
		       uint32_t *len)
{
	int off = node_body(dt, node), next;
	uint32_t tag, nameoff;

	for (; off >= 0; off = next) {
		tag = next_tag(dt, off, &next);
		if (tag == FDT_NOP)
			continue;
		if (tag != FDT_PROP)
			return 0;
		nameoff = dt_be32(dt->structs + off + 8);

		if (nameoff < dt->strings_size &&
		    str_eq((const char *)dt->strings + nameoff, name)) {
			if (len)
				*len = dt_be32(dt->structs + off + 4);
			return dt->structs + off + 12;
		}
	}
	return 0;
}

const char *dt_prop_str(const struct dt *dt, int node, const char *name)
{
	uint32_t len;
	const uint8_t *p = dt_prop(dt, node, name, &len);

	if (!p || !len || p[len - 1])
		return 0;
	return (const char *)p;
}

uint32_t dt_prop_u32(const struct dt *dt, int node, const char *name,
		     uint32_t def)
{
	uint32_t len;
	const uint8_t *p = dt_prop(dt, node, name, &len);

	return p && len == 4 ? dt_be32(p) : def;
}

bool dt_compatible(const struct dt *dt, int node, const char *compat)
{
	uint32_t len, i = 0;
	const uint8_t *p = dt_prop(dt, node, "compatible", &len);

	while (p && i < len) {
		size_t n = bounded_strlen(p + i, len - i);

		if (i + n < len && str_eq((const char *)p + i, compat))
			return true;
		i += (uint32_t)n + 1;
	}
	return false;
}

/* The first BEGIN_NODE at or after `off`, skipping properties and NOPs. */
static int node_at(const struct dt *dt, int off)
{
	int next;

	for (; off >= 0; off = next) {
		uint32_t tag = next_tag(dt, off, &next);

		if (tag == FDT_BEGIN_NODE)
			return off;
		if (tag != FDT_PROP && tag != FDT_NOP)
			return -1;
	}
	return -1;
}

int dt_first_child(const struct dt *dt, int node)
{
	return node_at(dt, node_body(dt, node));
}

int dt_next_sibling(const struct dt *dt, int node)
{
	int off = node, next, depth = 0;

	for (; off >= 0; off = next) {
		uint32_t tag = next_tag(dt, off, &next);

		if (tag == FDT_BEGIN_NODE) {
			depth++;
		} else if (tag == FDT_END_NODE) {
			if (--depth == 0)
				return node_at(dt, next);
		} else if (tag == FDT_END) {
			return -1;
		}
	}
	return -1;
}

/* Whether a node called `name` answers to the path component comp[0..n). */
static bool name_matches(const char *name, const char *comp, size_t n)
{
	bool unit = false;

	for (size_t i = 0; i < n; i++)
		unit |= comp[i] == '@';
	if (tiny_memcmp(name, comp, n))
		return false;
	return !name[n] || (!unit && name[n] == '@');
}

int dt_path(const struct dt *dt, const char *path)
{
	int node = node_at(dt, 0);

	if (*path != '/')
		return -1;
	while (node >= 0 && *path) {
		size_t n = 0;

		while (*path == '/')
			path++;
		if (!*path)
			break;
		while (path[n] && path[n] != '/')
			n++;
		for (node = dt_first_child(dt, node); node >= 0;
		     node = dt_next_sibling(dt, node))
			if (name_matches(dt_name(dt, node), path, n))
				break;
		path += n;
	}
	return node;
}

int dt_find_compatible(const struct dt *dt, int from, const char *compat)
{
	int off = from < 0 ? 0 : node_body(dt, from), next;

	for (; off >= 0; off = next) {
		uint32_t tag = next_tag(dt, off, &next);

		if (tag == FDT_END)
			return -1;
		if (tag == FDT_BEGIN_NODE && dt_compatible(dt, off, compat))
			return off;
	}
	return -1;
}
