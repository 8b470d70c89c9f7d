/* dt.h: a minimal reader of the flattened device tree the aarch64 tiny guest gets in x0 (nodes by path or compatible, properties, cells). */
#ifndef TINY_DT_H
#define TINY_DT_H

#include "lib.h"

/*
 * Nodes are offsets of their FDT_BEGIN_NODE token in the structure block
 * (as libfdt's); -1 is "none". Every read is an aligned one: the guest runs
 * with the MMU off, where all memory is Device memory.
 */
struct dt {
	const uint8_t *blob;
	const uint8_t *structs, *strings;
	uint32_t structs_size, strings_size;
};

/* False unless `addr` holds an FDT (magic, version >= 16, sane offsets). */
bool dt_init(struct dt *dt, uint64_t addr);
uint32_t dt_totalsize(const struct dt *dt);

/* "/chosen", "/cpus": a component without "@" matches "name@unit" too. */
int dt_path(const struct dt *dt, const char *path);
int dt_first_child(const struct dt *dt, int node);
int dt_next_sibling(const struct dt *dt, int node);
/* The first node after `from` (-1: from the root on) with `compat`. */
int dt_find_compatible(const struct dt *dt, int from, const char *compat);
const char *dt_name(const struct dt *dt, int node);

/* The property's value and length, or 0 if the node lacks it. */
const uint8_t *dt_prop(const struct dt *dt, int node, const char *name,
		       uint32_t *len);
/* A NUL-terminated string property, or 0. */
const char *dt_prop_str(const struct dt *dt, int node, const char *name);
/* A one-cell property, or `def` if it is missing or not one cell. */
uint32_t dt_prop_u32(const struct dt *dt, int node, const char *name,
		     uint32_t def);
/* Whether the node's "compatible" list holds `compat`. */
bool dt_compatible(const struct dt *dt, int node, const char *compat);

/* Big-endian cells at a 4-byte aligned p: one, or n (1 or 2) as a number. */
uint32_t dt_be32(const uint8_t *p);
uint64_t dt_cells(const uint8_t *p, unsigned int n);

#endif
