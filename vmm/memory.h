/* memory.h: guest RAM: one memfd split into regions at guest-physical addresses. */
#ifndef VMM_MEMORY_H
#define VMM_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GUEST_MEM_MAX_REGIONS 4

struct mem_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
};

struct guest_mem {
	int fd;
	uint8_t *base; /* one mapping of the whole memfd */
	uint64_t total;
	bool hugepages;
	struct mem_region regions[GUEST_MEM_MAX_REGIONS];
	unsigned int nregions;
};

/*
 * Host address of [gpa, gpa+len) if it lies entirely inside one RAM region,
 * else NULL. Pure: usable in unit tests with hand-made regions.
 */
void *guest_mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len);

/* Copy into / out of guest RAM; -EFAULT if the range is not all RAM. */
__attribute__((warn_unused_result)) int
guest_mem_write(const struct guest_mem *mem, uint64_t gpa, const void *src,
		uint64_t len);
__attribute__((warn_unused_result)) int
guest_mem_read(const struct guest_mem *mem, uint64_t gpa, void *dst,
	       uint64_t len);

/* End of the RAM region that contains `gpa` (exclusive), or 0. */
uint64_t guest_mem_region_end(const struct guest_mem *mem, uint64_t gpa);

/* What backs guest RAM. */
enum guest_mem_backing {
	GUEST_MEM_MEMFD, /* a memfd (shmem): shareable, loadable by sendfile */
	GUEST_MEM_HUGETLB, /* a MFD_HUGETLB memfd of reserved 2 MiB pages */
	/*
	 * Private anonymous memory with transparent huge pages where the host
	 * allows them: what pins fastest for VFIO (fd stays -1).
	 */
	GUEST_MEM_ANON,
};

/*
 * Create the backing, map it and lay out `n` regions back to back in it.
 * 0 or -errno.
 */
__attribute__((warn_unused_result)) int
guest_mem_create(struct guest_mem *mem, const struct mem_region *layout,
		 unsigned int n, enum guest_mem_backing backing);
#define GUEST_MEM_PREFAULT_MAX_THREADS 8

/*
 * Allocate every page of guest RAM now (charged to this process's cgroup)
 * and map it in our page tables (MADV_POPULATE_WRITE; fallocate(2) of the
 * memfd before Linux 5.14), in `threads` slices at once (0: as
 * guest_mem_prefault_threads() says), so that pinning it for DMA later
 * finds every page present. 0 or -errno.
 */
__attribute__((warn_unused_result)) int
guest_mem_prefault(struct guest_mem *mem, unsigned int threads);
/* Threads for `total` bytes: one per online CPU, slices of >= 256 MiB, at most 8. */
unsigned int guest_mem_prefault_threads(uint64_t total);
/*
 * Unmap guest RAM and close its fd; with `io_abandoned` (I/O the kernel may
 * still complete into it) the address range stays reserved, PROT_NONE.
 */
void guest_mem_destroy(struct guest_mem *mem, bool io_abandoned);

#endif
