/* test_util.c: L0 tests of input files: mapping errors and file_copy_out() into a buffer. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/util.h"

static const struct logger quiet = {0};
static char path[64];

static void write_file(size_t n)
{
	int fd;

	snprintf(path, sizeof(path), "/tmp/microvm-test-util-XXXXXX");
	fd = mkstemp(path);
	cr_assert(fd >= 0);
	for (size_t i = 0; i < n; i++) {
		uint8_t b = (uint8_t)(i * 7 + 3);

		cr_assert(write(fd, &b, 1) == 1);
	}
	close(fd);
}

static void cleanup(void)
{
	unlink(path);
}

TestSuite(file, .fini = cleanup);

Test(file, copy_out_a_range)
{
	struct mapped_file f;
	uint8_t buf[5000];

	write_file(20000);
	cr_assert(file_map(&quiet, "kernel", path, &f) == 0);
	cr_assert(f.fd >= 0);
	cr_assert(file_copy_out(&f, 12345, sizeof(buf), buf) == 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		cr_assert_eq(buf[i], (uint8_t)((12345 + i) * 7 + 3), "byte %zu", i);
	cr_assert(file_copy_out(&f, 20000, 0, buf) == 0);
	file_unmap(&f);
	cr_assert(f.fd == -1 && !f.data);
}

Test(file, copy_out_beyond_the_end)
{
	struct mapped_file f;
	uint8_t buf[16];

	write_file(100);
	cr_assert(file_map(&quiet, "kernel", path, &f) == 0);
	cr_assert(file_copy_out(&f, 90, 16, buf) == -EINVAL);
	cr_assert(file_copy_out(&f, 101, 0, buf) == -EINVAL);
	cr_assert(file_copy_out(&f, UINT64_MAX, 2, buf) == -EINVAL);
	file_unmap(&f);
}

/* The file shrank after it was mapped: an error, never stale bytes. */
Test(file, copy_out_of_a_file_that_shrank)
{
	struct mapped_file f;
	uint8_t buf[4096];

	write_file(8192);
	cr_assert(file_map(&quiet, "initrd", path, &f) == 0);
	cr_assert(truncate(path, 4096) == 0);
	cr_assert(file_copy_out(&f, 2048, sizeof(buf), buf) == -EIO);
	file_unmap(&f);
}

Test(file, map_errors)
{
	struct mapped_file f;

	cr_assert(file_map(&quiet, "kernel", "/nonexistent/kernel", &f) ==
		  -ENOENT);
	cr_assert(f.fd == -1);
	cr_assert(file_map(&quiet, "kernel", "/tmp", &f) == -EINVAL);
	write_file(0);
	cr_assert(file_map(&quiet, "kernel", path, &f) == -EINVAL);
}
