/* image.c: the arm64 Image header, and naming the kernel files that are not one. */
#include "arch/aarch64/image.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "devices/textbuf.h"

/* Header offsets (booting.rst, "Call the kernel image"). */
#define IMG_TEXT_OFFSET 8
#define IMG_IMAGE_SIZE	16
#define IMG_FLAGS	24
#define IMG_MAGIC	56

/* The EFI zboot header (drivers/firmware/efi/libstub/zboot-header.S). */
#define ZBOOT_TYPE	   4 /* "zimg" */
#define ZBOOT_PAYLOAD_OFF  8
#define ZBOOT_PAYLOAD_SIZE 12
#define ZBOOT_COMP_TYPE	   24 /* NUL-terminated, up to the PE magic at 0x38 */
#define ZBOOT_COMP_MAX	   (0x38 - ZBOOT_COMP_TYPE)

/* The x86 boot protocol's "HdrS" at 0x202: a bzImage. */
#define BZ_HEADER_OFF 0x202

#define EM_X86_64_	62
#define EM_AARCH64_	183
#define ELF_MACHINE_OFF 18

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

int a64_image_parse(const uint8_t *hdr, size_t len, struct a64_image *out,
		    char *err, size_t errlen)
{
	static const unsigned int page_kib[4] = {0, 4, 16, 64};

	if (len < A64_IMAGE_HEADER_SIZE) {
		errbuf_printf(
			err, errlen,
			"%zu bytes: too short for an arm64 Image header (64)",
			len);
		return -ENOEXEC;
	}
	if (le32(hdr + IMG_MAGIC) != A64_IMAGE_MAGIC) {
		errbuf_printf(
			err, errlen,
			"not an arm64 Image (no \"ARM\\x64\" magic at offset "
			"56)");
		return -ENOEXEC;
	}
	out->text_offset = le64(hdr + IMG_TEXT_OFFSET);
	out->image_size = le64(hdr + IMG_IMAGE_SIZE);
	out->flags = le64(hdr + IMG_FLAGS);
	out->page_kib = page_kib[(out->flags >> A64_IMAGE_FLAG_PAGE_SHIFT) & 3];
	if (out->flags & A64_IMAGE_FLAG_BE) {
		errbuf_printf(err, errlen,
			      "a big-endian arm64 kernel; microvm boots "
			      "little-endian "
			      "kernels only");
		return -ENOEXEC;
	}
	/*
	 * Before Linux 3.17 image_size was 0 and the kernel's real extent
	 * unknown: booting.rst asks the loader to guess. We do not.
	 */
	if (!out->image_size) {
		errbuf_printf(
			err, errlen,
			"an arm64 Image with image_size 0 (Linux before 3.17), "
			"whose size in memory is unknown; microvm boots 3.17 "
			"or later");
		return -ENOEXEC;
	}
	/* Linux's own text_offset is 0 or 0x80000, always below 2 MiB. */
	if (out->text_offset >= A64_IMAGE_ALIGN) {
		errbuf_printf(
			err, errlen,
			"arm64 Image text_offset 0x%llx is not below 2 MiB",
			(unsigned long long)out->text_offset);
		return -ENOEXEC;
	}
	return 0;
}

/* The compressors Linux's Image.* targets and Debian use, by magic. */
static const char *compression_name(const uint8_t *d, size_t n)
{
	static const struct {
		const char *name;
		uint8_t magic[6];
		size_t len;
	} m[] = {
		{"xz", {0xfd, '7', 'z', 'X', 'Z', 0x00}, 6},
		{"zstd", {0x28, 0xb5, 0x2f, 0xfd}, 4},
		{"lz4", {0x04, 0x22, 0x4d, 0x18}, 4},
		{"lz4 (legacy)", {0x02, 0x21, 0x4c, 0x18}, 4},
		{"bzip2", {'B', 'Z', 'h'}, 3},
		{"lzo", {0x89, 'L', 'Z', 'O'}, 4},
		{"lzma", {0x5d, 0x00, 0x00}, 3},
	};

	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		if (n >= m[i].len && !memcmp(d, m[i].magic, m[i].len))
			return m[i].name;
	return NULL;
}

static bool is_gzip(const uint8_t *d, size_t n)
{
	return n >= 3 && d[0] == 0x1f && d[1] == 0x8b &&
	       d[2] == 8; /* deflate */
}

/* An EFI zboot image: an EFI application that decompresses its payload. */
static int identify_zboot(const uint8_t *d, size_t n,
			  struct a64_kernel_file *out, char *err, size_t errlen)
{
	char comp[ZBOOT_COMP_MAX + 1];
	uint64_t off, size;

	if (n < 0x40) {
		errbuf_printf(err, errlen, "a truncated EFI zboot image");
		return -ENOEXEC;
	}
	memcpy(comp, d + ZBOOT_COMP_TYPE, ZBOOT_COMP_MAX);
	comp[ZBOOT_COMP_MAX] = 0;
	off = le32(d + ZBOOT_PAYLOAD_OFF);
	size = le32(d + ZBOOT_PAYLOAD_SIZE);
	if (off >= n || size > n - off) {
		errbuf_printf(
			err, errlen,
			"an EFI zboot image whose payload [0x%llx, +0x%llx) "
			"lies outside the file",
			(unsigned long long)off, (unsigned long long)size);
		return -ENOEXEC;
	}
	if (strcmp(comp, "gzip") || !is_gzip(d + off, (size_t)size)) {
		errbuf_printf(
			err, errlen,
			"an EFI zboot image compressed with '%s'; microvm "
			"decompresses gzip only: boot the plain Image "
			"(arch/arm64/boot/Image) instead",
			comp);
		return -ENOEXEC;
	}
	out->pack = A64_KERNEL_GZIP;
	out->offset = off;
	out->size = size;
	return 0;
}

int a64_kernel_identify(const uint8_t *data, size_t size,
			struct a64_kernel_file *out, char *err, size_t errlen)
{
	struct a64_image img;
	const char *comp;

	memset(out, 0, sizeof(*out));
	/* An Image with the EFI stub starts with "MZ" too: check it first. */
	if (size >= A64_IMAGE_HEADER_SIZE &&
	    le32(data + IMG_MAGIC) == A64_IMAGE_MAGIC) {
		out->pack = A64_KERNEL_IMAGE;
		out->size = size;
		return a64_image_parse(data, size, &img, err, errlen);
	}
	if (is_gzip(data, size)) {
		out->pack = A64_KERNEL_GZIP;
		out->size = size;
		return 0;
	}
	if (size >= 8 && data[0] == 'M' && data[1] == 'Z' &&
	    !memcmp(data + ZBOOT_TYPE, "zimg", 4))
		return identify_zboot(data, size, out, err, errlen);
	if (size >= BZ_HEADER_OFF + 4 &&
	    !memcmp(data + BZ_HEADER_OFF, "HdrS", 4)) {
		errbuf_printf(
			err, errlen,
			"an x86 bzImage, not an arm64 kernel: give the arm64 "
			"Image (arch/arm64/boot/Image, or Debian's "
			"linux-image-*-arm64 vmlinuz)");
		return -ENOEXEC;
	}
	if (size >= 20 && !memcmp(data,
				  "\x7f"
				  "ELF",
				  4)) {
		unsigned int machine = data[ELF_MACHINE_OFF] |
				       (unsigned int)data[ELF_MACHINE_OFF + 1]
					       << 8;

		errbuf_printf(err, errlen,
			      "an ELF file (%s); arm64 boots the Image "
			      "(arch/arm64/boot/Image, objcopy -O binary of "
			      "vmlinux), not the ELF vmlinux",
			      machine == EM_AARCH64_  ? "an arm64 vmlinux?"
			      : machine == EM_X86_64_ ? "for x86_64"
						      : "not arm64");
		return -ENOEXEC;
	}
	comp = compression_name(data, size);
	if (comp) {
		errbuf_printf(
			err, errlen,
			"compressed with %s; microvm decompresses gzip only: "
			"decompress it first (e.g. with %s -dc) to the Image",
			comp,
			!strcmp(comp, "zstd")	   ? "zstd"
			: !strcmp(comp, "bzip2")   ? "bzip2"
			: !strncmp(comp, "lz4", 3) ? "lz4"
			: !strcmp(comp, "lzo")	   ? "lzop"
						   : "xz");
		return -ENOEXEC;
	}
	if (size >= 2 && data[0] == 'M' && data[1] == 'Z') {
		errbuf_printf(err, errlen,
			      "a PE/EFI executable but not an arm64 Image (no "
			      "\"ARM\\x64\" magic at offset 56)");
		return -ENOEXEC;
	}
	return a64_image_parse(data, size, &img, err, errlen);
}
