/* image.h: pure parser of the arm64 Linux Image header, and what a kernel file is when it is not one. */
#ifndef AARCH64_IMAGE_H
#define AARCH64_IMAGE_H

#include <stddef.h>
#include <stdint.h>

/*
 * The arm64 boot protocol (Documentation/arch/arm64/booting.rst) boots a
 * decompressed Image: a 64-byte little-endian header (two instructions,
 * text_offset, image_size, flags, three reserved words, the magic
 * "ARM\x64", a PE offset) followed by the kernel. It is loaded text_offset
 * bytes above a 2 MiB-aligned base and entered at its first byte; at
 * least image_size bytes from there belong to the kernel. No code here
 * makes a syscall, so the L0 tests link it alone.
 */

#define A64_IMAGE_HEADER_SIZE 64
#define A64_IMAGE_MAGIC	      0x644d5241u /* "ARM\x64", little endian */
#define A64_IMAGE_ALIGN	      (2ull << 20)

/* Header flags. */
#define A64_IMAGE_FLAG_BE (1ull << 0)
#define A64_IMAGE_FLAG_PAGE_SHIFT \
	1 /* 2 bits: 0 unspecified, 1 4K, 2 16K, 3 64K */
#define A64_IMAGE_FLAG_PHYS_ANYWHERE (1ull << 3)

struct a64_image {
	uint64_t text_offset; /* load offset from the 2 MiB-aligned base */
	uint64_t image_size; /* bytes the kernel owns from its load address */
	uint64_t flags;
	unsigned int
		page_kib; /* 4, 16, 64, or 0 when the header does not say */
};

/*
 * Parse the header at `hdr` (`len` bytes available). 0, or -ENOEXEC with a
 * one-line reason in `err`: too short, no magic, a big-endian kernel, or
 * image_size 0 (a kernel older than Linux 3.17, whose size is unknown).
 */
__attribute__((warn_unused_result)) int
a64_image_parse(const uint8_t *hdr, size_t len, struct a64_image *out,
		char *err, size_t errlen);

/* How a kernel file is packed. */
enum a64_kernel_pack {
	A64_KERNEL_IMAGE, /* an Image as it is */
	A64_KERNEL_GZIP, /* a gzip stream of an Image (Debian's vmlinuz) */
};

struct a64_kernel_file {
	enum a64_kernel_pack pack;
	/* The Image, or the gzip stream: for an EFI zboot image its payload. */
	uint64_t offset, size;
};

/*
 * Say what the kernel file `data` (`size` bytes) is: an Image, a gzip
 * stream (plain, or the gzip payload of an EFI zboot image), or -ENOEXEC
 * with a one-line reason that names what it is instead (an x86 bzImage, an
 * ELF vmlinux, an Image compressed with something other than gzip, ...)
 * and what to do about it.
 */
__attribute__((warn_unused_result)) int
a64_kernel_identify(const uint8_t *data, size_t size,
		    struct a64_kernel_file *out, char *err, size_t errlen);

#endif
