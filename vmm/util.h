/* util.h: small helpers shared by the VMM: mapping input files read-only. */
#ifndef VMM_UTIL_H
#define VMM_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/log.h"

struct mapped_file {
	const uint8_t *data;
	size_t size;
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

#define ARRAY_SIZE(a)	 (sizeof(a) / sizeof((a)[0]))
#define ALIGN_UP(x, a)	 (((x) + (a)-1) & ~((uint64_t)(a)-1))
#define ALIGN_DOWN(x, a) ((x) & ~((uint64_t)(a)-1))

#endif
