/* memory.c: guest RAM backed by one memfd (optionally hugetlb) or anonymous memory, mapped once. */
#include "vmm/memory.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

void *guest_mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	for (unsigned int i = 0; i < mem->nregions; i++) {
		const struct mem_region *r = &mem->regions[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->size &&
		    len <= r->size - (gpa - r->gpa))
			return r->hva + (gpa - r->gpa);
	}
	return NULL;
}

uint64_t guest_mem_region_end(const struct guest_mem *mem, uint64_t gpa)
{
	for (unsigned int i = 0; i < mem->nregions; i++) {
		const struct mem_region *r = &mem->regions[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->size)
			return r->gpa + r->size;
	}
	return 0;
}

int guest_mem_write(const struct guest_mem *mem, uint64_t gpa, const void *src,
		    uint64_t len)
{
	void *p = guest_mem_ptr(mem, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	return 0;
}

int guest_mem_read(const struct guest_mem *mem, uint64_t gpa, void *dst,
		   uint64_t len)
{
	void *p = guest_mem_ptr(mem, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(dst, p, len);
	return 0;
}

int guest_mem_create(struct guest_mem *mem, const struct mem_region *layout,
		     unsigned int n, enum guest_mem_backing backing)
{
	bool hugepages = backing == GUEST_MEM_HUGETLB;
	unsigned int flags = MFD_CLOEXEC;
	uint64_t total = 0, off = 0;
	int err;

	memset(mem, 0, sizeof(*mem));
	mem->fd = -1;
	if (!n || n > GUEST_MEM_MAX_REGIONS)
		return -EINVAL;
	for (unsigned int i = 0; i < n; i++) {
		if (!layout[i].size || (layout[i].size & 0xfff) ||
		    (layout[i].gpa & 0xfff))
			return -EINVAL;
		total += layout[i].size;
	}
	if (backing == GUEST_MEM_ANON) {
		mem->base = mmap(NULL, total, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
				 -1, 0);
		if (mem->base == MAP_FAILED) {
			mem->base = NULL;
			return -errno;
		}
		/* Advice only: the host's THP setting decides. */
		(void)madvise(mem->base, total, MADV_HUGEPAGE);
		goto layout;
	}
	if (hugepages)
		flags |= MFD_HUGETLB;
	mem->fd = memfd_create("microvm-ram", flags);
	if (mem->fd < 0)
		return -errno;
	if (ftruncate(mem->fd, (off_t)total) < 0) {
		err = -errno;
		goto err_close;
	}
	/*
	 * hugetlb pages are reserved at mmap time without MAP_NORESERVE, so a
	 * shortage fails here with ENOMEM instead of SIGBUS at first touch.
	 */
	mem->base =
		mmap(NULL, total, PROT_READ | PROT_WRITE,
		     MAP_SHARED | (hugepages ? 0 : MAP_NORESERVE), mem->fd, 0);
	if (mem->base == MAP_FAILED) {
		err = -errno;
		mem->base = NULL;
		goto err_close;
	}
layout:
	mem->total = total;
	mem->hugepages = hugepages;
	for (unsigned int i = 0; i < n; i++) {
		mem->regions[i] = layout[i];
		mem->regions[i].hva = mem->base + off;
		off += layout[i].size;
	}
	mem->nregions = n;
	return 0;

err_close:
	close(mem->fd);
	mem->fd = -1;
	return err;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

int guest_mem_prefault(struct guest_mem *mem)
{
	if (mem->fd >= 0)
		return fallocate(mem->fd, 0, 0, (off_t)mem->total) < 0 ? -errno
								       : 0;
	return madvise(mem->base, mem->total, MADV_POPULATE_WRITE) < 0 ? -errno
								       : 0;
}

void guest_mem_destroy(struct guest_mem *mem, bool io_abandoned)
{
	/*
	 * The kernel may still finish abandoned I/O into guest RAM: keep its
	 * addresses reserved (and inaccessible) so that no later mapping of
	 * the embedder's lands there. The memory itself is freed.
	 */
	if (mem->base && io_abandoned &&
	    mmap(mem->base, mem->total, PROT_NONE,
		 MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
		 0) != MAP_FAILED)
		mem->base = NULL;
	if (mem->base)
		munmap(mem->base, mem->total);
	if (mem->fd >= 0)
		close(mem->fd);
	memset(mem, 0, sizeof(*mem));
	mem->fd = -1;
}
