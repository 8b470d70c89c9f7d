/* bus.h: MMIO and PIO buses as sorted range tables that reject overlaps. */
#ifndef VMM_BUS_H
#define VMM_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Access callback. `offset` is relative to the range base; `data` holds
 * `len` (1, 2, 4 or 8) bytes, little-endian; on reads the callback fills it.
 */
typedef void (*bus_access_fn)(void *opaque, uint64_t offset, uint8_t *data,
			      unsigned int len, bool is_write);

struct bus_range {
	uint64_t base;
	uint64_t len;
	bus_access_fn access;
	void *opaque;
	const char *name;
};

struct bus {
	struct bus_range *ranges; /* sorted by base, non-overlapping */
	size_t count;
	size_t cap;
};

void bus_init(struct bus *bus);
void bus_free(struct bus *bus);

/* 0, -EINVAL (empty or wrapping range), -EEXIST (overlap) or -ENOMEM. */
__attribute__((warn_unused_result)) int
bus_insert(struct bus *bus, uint64_t base, uint64_t len, bus_access_fn access,
	   void *opaque, const char *name);

/* Remove the range starting exactly at `base`; 0 or -ENOENT. */
int bus_remove(struct bus *bus, uint64_t base);

/* The range containing `addr`, or NULL. */
const struct bus_range *bus_find(const struct bus *bus, uint64_t addr);

/*
 * Dispatch one access. Returns true if a range claimed it. An access that
 * starts inside a range but runs past its end is not claimed.
 */
bool bus_access(const struct bus *bus, uint64_t addr, uint8_t *data,
		unsigned int len, bool is_write);

#endif
