/* util.c: kernel and initrd files: read-only mappings with clear errors, and copies into guest RAM. */
#include "vmm/util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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
