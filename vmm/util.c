/* util.c: kernel and initrd files: read-only mappings with clear errors, and copies into guest RAM. */
#include "vmm/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/memory.h"

int file_map(const struct logger *lg, const char *what, const char *path,
	     struct mapped_file *out)
{
	struct stat st;
	void *p;
	int fd, r;

	out->data = NULL;
	out->size = 0;
	out->fd = -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		log_err(lg, "loader", "%s '%s': %s", what, path, strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		log_err(lg, "loader", "%s '%s': %s", what, path, strerror(-r));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		log_err(lg, "loader", "%s '%s' is not a regular file", what,
			path);
		goto out;
	}
	if (st.st_size == 0) {
		r = -EINVAL;
		log_err(lg, "loader", "%s '%s' is empty", what, path);
		goto out;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED) {
		r = -errno;
		log_err(lg, "loader", "%s '%s': %s", what, path, strerror(-r));
		goto out;
	}
	out->data = p;
	out->size = (size_t)st.st_size;
	out->fd = fd;
	return 0;
out:
	close(fd);
	return r;
}

void file_unmap(struct mapped_file *f)
{
	if (f->data)
		munmap((void *)f->data, f->size);
	if (f->fd >= 0)
		close(f->fd);
	f->data = NULL;
	f->size = 0;
	f->fd = -1;
}

int file_copy_out(const struct mapped_file *f, uint64_t off, uint64_t len,
		  void *dst)
{
	uint8_t *p = dst;

	if (off > f->size || len > f->size - off)
		return -EINVAL;
	while (len) {
		size_t chunk = len > (1u << 30) ? (1u << 30) : (size_t)len;
		ssize_t n = pread(f->fd, p, chunk, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

/*
 * sendfile(2) from the input file into the RAM memfd at `moff`: 0, -errno,
 * -EIO if the file got shorter, or 1 when the kernel cannot splice between
 * these two files (nothing was written then; the caller copies instead).
 */
static int file_send_to_memfd(const struct mapped_file *f, uint64_t off,
			      uint64_t len, int memfd, uint64_t moff)
{
	off_t in = (off_t)off;
	bool first = true;
	int r = 0;

	/* The memfd is ours and nothing else uses its file position. */
	if (lseek(memfd, (off_t)moff, SEEK_SET) < 0)
		return 1;
	while (len) {
		size_t chunk = len > (1u << 30) ? (1u << 30) : (size_t)len;
		ssize_t n = sendfile(memfd, f->fd, &in, chunk);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && first &&
		    (errno == EINVAL || errno == ENOSYS ||
		     errno == EOPNOTSUPP)) {
			r = 1;
			break;
		}
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0) {
			r = -EIO;
			break;
		}
		first = false;
		len -= (uint64_t)n;
	}
	lseek(memfd, 0, SEEK_SET);
	return r;
}

int file_load_to_guest(const struct mapped_file *f, uint64_t off, uint64_t len,
		       const struct guest_mem *mem, uint64_t gpa)
{
	uint8_t *dst;
	int r;

	if (off > f->size || len > f->size - off)
		return -EINVAL;
	dst = guest_mem_ptr(mem, gpa, len);
	if (!dst)
		return -EFAULT;
	if (!len)
		return 0;
	/*
	 * Writing the memfd through the file skips what a copy into the
	 * mapping costs: a page fault and a zeroed page per 4 KiB. hugetlbfs
	 * has no write path, so huge-page RAM takes the copy.
	 */
	if (!mem->hugepages && mem->fd >= 0 && mem->base && dst >= mem->base) {
		r = file_send_to_memfd(f, off, len, mem->fd,
				       (uint64_t)(dst - mem->base));
		if (r <= 0)
			return r;
	}
	return file_copy_out(f, off, len, dst);
}
