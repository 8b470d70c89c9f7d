/* util.h: small helpers shared by the VMM: input files mapped read-only for parsing, loaded into guest RAM with sendfile(2) or pread(2). */
#ifndef VMM_UTIL_H
#define VMM_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/log.h"

struct mapped_file {
	const uint8_t *data; /* for parsing headers: only touched pages fault in */
	size_t size;
	int fd; /* open until file_unmap(), for file_copy_out() */
};

/*
 * Map a regular file read-only. On failure logs "<what> '<path>': <why>"
 * and returns -errno (-EINVAL for an empty file or a non-regular file).
 */
__attribute__((warn_unused_result)) int file_map(const struct logger *lg,
						 const char *what,
						 const char *path,
						 struct mapped_file *out);
void file_unmap(struct mapped_file *f);

/*
 * Copy `len` bytes at `off` of the file to `dst` (guest RAM) with large
 * pread(2)s rather than through the mapping: no user page fault per 4 KiB
 * of the file. In the rig (TCG, files on 9p) this cut loading the Debian
 * kernel and initrd from 1.1-1.9 s to 0.1-0.3 s. 0, -errno, or -EIO if
 * the file got shorter.
 */
__attribute__((warn_unused_result)) int
file_copy_out(const struct mapped_file *f, uint64_t off, uint64_t len,
	      void *dst);

struct guest_mem;

/*
 * Load `len` bytes at `off` of the file into guest RAM at `gpa`: written
 * into the RAM memfd with sendfile(2) (one copy from the page cache, no
 * page fault or zeroing per page: 2.3x faster than file_copy_out() for
 * the Debian kernel, here and in the rig), or with file_copy_out() where
 * the kernel cannot splice (hugetlb RAM, some filesystems). 0, -EINVAL
 * for a range outside the file, -EFAULT for one outside RAM, -errno, or
 * -EIO if the file got shorter.
 */
__attribute__((warn_unused_result)) int
file_load_to_guest(const struct mapped_file *f, uint64_t off, uint64_t len,
		   const struct guest_mem *mem, uint64_t gpa);

#define ARRAY_SIZE(a)	 (sizeof(a) / sizeof((a)[0]))
#define ALIGN_UP(x, a)	 (((x) + (a)-1) & ~((uint64_t)(a)-1))
#define ALIGN_DOWN(x, a) ((x) & ~((uint64_t)(a)-1))

#endif
