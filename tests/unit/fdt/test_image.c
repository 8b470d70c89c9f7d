/* test_image.c: L0 tests of the arm64 Image header parser and of naming kernel files that are not Images. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "arch/aarch64/image.h"

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A header as Linux 6.1 writes it: EFI stub "MZ", text_offset 0, 4K pages. */
static void t_header(uint8_t *h, uint64_t text_offset, uint64_t image_size,
		     uint64_t flags)
{
	memset(h, 0, 64);
	h[0] = 'M';
	h[1] = 'Z';
	put64(h + 8, text_offset);
	put64(h + 16, image_size);
	put64(h + 24, flags);
	memcpy(h + 56, "ARM\x64", 4);
	put32(h + 60, 0x40); /* PE header offset */
}

Test(image, parses_the_header)
{
	uint8_t h[64];
	struct a64_image img;
	char err[256] = "";

	t_header(h, 0x80000, 0x2010000, 0xa); /* 4K pages, anywhere */
	cr_assert_eq(a64_image_parse(h, sizeof(h), &img, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(img.text_offset, 0x80000);
	cr_assert_eq(img.image_size, 0x2010000);
	cr_assert_eq(img.flags, 0xa);
	cr_assert_eq(img.page_kib, 4);
	t_header(h, 0, 0x1000000, 3 << 1);
	cr_assert_eq(a64_image_parse(h, sizeof(h), &img, err, sizeof(err)), 0);
	cr_assert_eq(img.page_kib, 64);
}

Test(image, rejects_what_it_cannot_boot)
{
	static const struct {
		uint64_t text_offset, image_size, flags;
		const char *want;
	} c[] = {
		{0, 0x1000000, 1, "big-endian"},
		{0x80000, 0, 0, "image_size 0 (Linux before 3.17)"},
		{0x200000, 0x1000000, 0, "text_offset 0x200000 is not below"},
	};
	uint8_t h[64];
	struct a64_image img;
	char err[256];

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		t_header(h, c[i].text_offset, c[i].image_size, c[i].flags);
		err[0] = 0;
		cr_assert_eq(
			a64_image_parse(h, sizeof(h), &img, err, sizeof(err)),
			-ENOEXEC);
		cr_assert(strstr(err, c[i].want), "'%s' lacks '%s'", err,
			  c[i].want);
	}
	t_header(h, 0, 0x1000000, 0);
	cr_assert_eq(a64_image_parse(h, 63, &img, err, sizeof(err)), -ENOEXEC);
	cr_assert(strstr(err, "too short"), "%s", err);
	h[56] = 'X';
	cr_assert_eq(a64_image_parse(h, 64, &img, err, sizeof(err)), -ENOEXEC);
	cr_assert(strstr(err, "ARM\\x64"), "%s", err);
}

Test(image, identifies_an_image_and_gzip)
{
	static uint8_t f[4096];
	struct a64_kernel_file kf;
	char err[256] = "";

	t_header(f, 0, 0x1000000, 2);
	cr_assert_eq(a64_kernel_identify(f, sizeof(f), &kf, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(kf.pack, A64_KERNEL_IMAGE);
	cr_assert_eq(kf.offset, 0);
	cr_assert_eq(kf.size, sizeof(f));

	/* Debian's vmlinuz: a gzip stream (deflate, max compression). */
	memset(f, 0, sizeof(f));
	f[0] = 0x1f;
	f[1] = 0x8b;
	f[2] = 8;
	cr_assert_eq(a64_kernel_identify(f, sizeof(f), &kf, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(kf.pack, A64_KERNEL_GZIP);
	cr_assert_eq(kf.size, sizeof(f));
}

/* An EFI zboot image: "MZ", "zimg", payload offset and size, "gzip". */
static void t_zboot(uint8_t *f, uint32_t off, uint32_t size, const char *comp)
{
	memset(f, 0, 4096);
	f[0] = 'M';
	f[1] = 'Z';
	memcpy(f + 4, "zimg", 4);
	put32(f + 8, off);
	put32(f + 12, size);
	strcpy((char *)f + 24, comp);
	memcpy(f + 0x38, "PE\0\0", 4);
	f[off] = 0x1f;
	f[off + 1] = 0x8b;
	f[off + 2] = 8;
}

Test(image, identifies_the_gzip_payload_of_an_efi_zboot_image)
{
	static uint8_t f[4096];
	struct a64_kernel_file kf;
	char err[256] = "";

	t_zboot(f, 0x1000 - 0x200, 0x100, "gzip");
	cr_assert_eq(a64_kernel_identify(f, sizeof(f), &kf, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(kf.pack, A64_KERNEL_GZIP);
	cr_assert_eq(kf.offset, 0x1000 - 0x200);
	cr_assert_eq(kf.size, 0x100);

	t_zboot(f, 0x800, 0x100, "zstd22");
	cr_assert_eq(a64_kernel_identify(f, sizeof(f), &kf, err, sizeof(err)),
		     -ENOEXEC);
	cr_assert(strstr(err, "zboot image compressed with 'zstd22'"), "%s",
		  err);

	t_zboot(f, 0xf80, 0x100, "gzip");
	cr_assert_eq(a64_kernel_identify(f, sizeof(f), &kf, err, sizeof(err)),
		     -ENOEXEC);
	cr_assert(strstr(err, "outside the file"), "%s", err);
}

Test(image, names_what_a_non_image_is)
{
	static const struct {
		const uint8_t magic[8];
		size_t len;
		size_t at;
		const char *want;
	} c[] = {
		{{'H', 'd', 'r', 'S'}, 4, 0x202, "an x86 bzImage"},
		{{0xfd, '7', 'z', 'X', 'Z', 0}, 6, 0, "compressed with xz"},
		{{0x28, 0xb5, 0x2f, 0xfd}, 4, 0, "compressed with zstd"},
		{{'B', 'Z', 'h', '9'}, 4, 0, "compressed with bzip2"},
		{{0x04, 0x22, 0x4d, 0x18}, 4, 0, "compressed with lz4"},
		{{'M', 'Z'},
		 2,
		 0,
		 "a PE/EFI executable but not an arm64 Image"},
		{{'x'}, 1, 0, "not an arm64 Image"},
	};
	static uint8_t f[4096];
	struct a64_kernel_file kf;
	char err[256];

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		memset(f, 0, sizeof(f));
		memcpy(f + c[i].at, c[i].magic, c[i].len);
		err[0] = 0;
		cr_assert_eq(a64_kernel_identify(f, sizeof(f), &kf, err,
						 sizeof(err)),
			     -ENOEXEC, "%s", c[i].want);
		cr_assert(strstr(err, c[i].want), "'%s' lacks '%s'", err,
			  c[i].want);
	}
	/* An ELF vmlinux, x86_64 and arm64. */
	memset(f, 0, sizeof(f));
	memcpy(f,
	       "\x7f"
	       "ELF",
	       4);
	f[18] = 62;
	cr_assert_eq(a64_kernel_identify(f, sizeof(f), &kf, err, sizeof(err)),
		     -ENOEXEC);
	cr_assert(strstr(err, "an ELF file (for x86_64)"), "%s", err);
	f[18] = 183;
	cr_assert_eq(a64_kernel_identify(f, sizeof(f), &kf, err, sizeof(err)),
		     -ENOEXEC);
	cr_assert(strstr(err, "an arm64 vmlinux?"), "%s", err);
}
