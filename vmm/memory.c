/* memory.c: guest RAM backed by one memfd (optionally hugetlb) or anonymous memory, mapped once. */
#include "vmm/memory.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
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

/* One thread's slice of guest RAM. */
struct prefault_slice {
	struct guest_mem *mem;
	uint64_t off, len;
	int err;
	pthread_t thread;
	bool started;
};

static int prefault_range(struct guest_mem *mem, uint64_t off, uint64_t len)
{
	if (madvise(mem->base + off, len, MADV_POPULATE_WRITE) == 0)
		return 0;
	/* Before Linux 5.14: allocate the memfd's pages at least. */
	if (errno == EINVAL && mem->fd >= 0)
		return fallocate(mem->fd, 0, (off_t)off, (off_t)len) < 0
			       ? -errno
			       : 0;
	return -errno;
}

static void *prefault_worker(void *arg)
{
	struct prefault_slice *s = arg;

	pthread_setname_np(pthread_self(), "microvm-fault");
	s->err = prefault_range(s->mem, s->off, s->len);
	return NULL;
}

unsigned int guest_mem_prefault_threads(uint64_t total)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	uint64_t n = cpus < 1 ? 1 : (uint64_t)cpus;

	/* Slices of at least 256 MiB: below that a thread costs more than it saves. */
	if (n > total / (256ull << 20))
		n = total / (256ull << 20);
	if (n > GUEST_MEM_PREFAULT_MAX_THREADS)
		n = GUEST_MEM_PREFAULT_MAX_THREADS;
	return n ? (unsigned int)n : 1;
}

int guest_mem_prefault(struct guest_mem *mem, unsigned int threads)
{
	struct prefault_slice s[GUEST_MEM_PREFAULT_MAX_THREADS];
	uint64_t slice, align = mem->hugepages ? 2ull << 20 : 4096;
	sigset_t all, old;
	int r = 0;

	if (!threads)
		threads = guest_mem_prefault_threads(mem->total);
	if (threads > GUEST_MEM_PREFAULT_MAX_THREADS)
		threads = GUEST_MEM_PREFAULT_MAX_THREADS;
	slice = (mem->total / threads + align - 1) & ~(align - 1);
	memset(s, 0, sizeof(s));
	/* Our threads never take the embedder's signals. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (unsigned int i = 0; i < threads; i++) {
		s[i].mem = mem;
		s[i].off = (uint64_t)i * slice;
		if (s[i].off >= mem->total)
			break;
		s[i].len = mem->total - s[i].off < slice ? mem->total - s[i].off
							 : slice;
		/* The last slice is this thread's own. */
		if (i + 1 < threads && s[i].off + s[i].len < mem->total)
			s[i].started = pthread_create(&s[i].thread, NULL,
						      prefault_worker,
						      &s[i]) == 0;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	for (unsigned int i = 0; i < threads; i++)
		if (s[i].len && !s[i].started)
			s[i].err = prefault_range(mem, s[i].off, s[i].len);
	for (unsigned int i = 0; i < threads; i++) {
		if (s[i].started)
			pthread_join(s[i].thread, NULL);
		if (s[i].err && !r)
			r = s[i].err;
	}
	return r;
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
