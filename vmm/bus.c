/* bus.c: sorted, overlap-free range table used for MMIO and port I/O. */
#include "vmm/bus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void bus_init(struct bus *bus)
{
	memset(bus, 0, sizeof(*bus));
}

void bus_free(struct bus *bus)
{
	free(bus->ranges);
	bus_init(bus);
}

/* Index of the first range whose base is > addr. */
static size_t upper_bound(const struct bus *bus, uint64_t addr)
{
	size_t lo = 0, hi = bus->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (bus->ranges[mid].base <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int bus_insert(struct bus *bus, uint64_t base, uint64_t len,
	       bus_access_fn access, void *opaque, const char *name)
{
	uint64_t last;
	size_t i;

	if (!len || !access || __builtin_add_overflow(base, len - 1, &last))
		return -EINVAL;
	i = upper_bound(bus, base);
	/* The range before must end below base... */
	if (i > 0) {
		const struct bus_range *prev = &bus->ranges[i - 1];

		if (prev->base + (prev->len - 1) >= base)
			return -EEXIST;
	}
	/* ...and the range after must start above our last byte. */
	if (i < bus->count && bus->ranges[i].base <= last)
		return -EEXIST;
	if (bus->count == bus->cap) {
		size_t ncap = bus->cap ? bus->cap * 2 : 16;
		struct bus_range *n =
			realloc(bus->ranges, ncap * sizeof(*bus->ranges));

		if (!n)
			return -ENOMEM;
		bus->ranges = n;
		bus->cap = ncap;
	}
	memmove(&bus->ranges[i + 1], &bus->ranges[i],
		(bus->count - i) * sizeof(*bus->ranges));
	bus->ranges[i] = (struct bus_range){base, len, access, opaque, name};
	bus->count++;
	return 0;
}

int bus_remove(struct bus *bus, uint64_t base)
{
	size_t i = upper_bound(bus, base);

	if (i == 0 || bus->ranges[i - 1].base != base)
		return -ENOENT;
	i--;
	memmove(&bus->ranges[i], &bus->ranges[i + 1],
		(bus->count - i - 1) * sizeof(*bus->ranges));
	bus->count--;
	return 0;
}

const struct bus_range *bus_find(const struct bus *bus, uint64_t addr)
{
	size_t i = upper_bound(bus, addr);
	const struct bus_range *r;

	if (i == 0)
		return NULL;
	r = &bus->ranges[i - 1];
	return addr - r->base < r->len ? r : NULL;
}

bool bus_access(const struct bus *bus, uint64_t addr, uint8_t *data,
		unsigned int len, bool is_write)
{
	const struct bus_range *r = bus_find(bus, addr);
	uint64_t off;

	if (!r)
		return false;
	off = addr - r->base;
	if (len > r->len - off)
		return false;
	r->access(r->opaque, off, data, len, is_write);
	return true;
}
