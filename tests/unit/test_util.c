/* test_util.c: L0 tests of input files: mapping errors, file_copy_out() into a buffer, file_load_to_guest() into memfd RAM. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/memory.h"
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

/* Two RAM regions with a hole between them, as the x86 layout has. */
static void two_regions(struct guest_mem *mem)
{
	const struct mem_region layout[2] = {
		{.gpa = 0, .size = 64 << 10},
		{.gpa = 1 << 20, .size = 128 << 10},
	};

	cr_assert(guest_mem_create(mem, layout, 2, GUEST_MEM_MEMFD) == 0);
}

/*
 * I/O the kernel may still finish into guest RAM: its range stays reserved
 * and inaccessible after destroy, so nothing else is mapped there; without
 * that, it is unmapped.
 */
Test(guest_mem, abandoned_io_keeps_range_reserved)
{
	struct guest_mem mem;
	void *base, *p;
	size_t total;

	for (int abandoned = 0; abandoned < 2; abandoned++) {
		two_regions(&mem);
		base = mem.base;
		total = mem.total;
		guest_mem_destroy(&mem, abandoned);
		cr_assert(mem.fd == -1 && !mem.base);
		p = mmap(base, 4096, PROT_READ,
			 MAP_FIXED_NOREPLACE | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (abandoned) {
			cr_assert(p == MAP_FAILED && errno == EEXIST,
				  "the range was not kept reserved");
			cr_assert(munmap(base, total) == 0);
		} else {
			cr_assert(p == base, "the range was not unmapped");
			cr_assert(munmap(p, 4096) == 0);
		}
	}
}

static void check_loaded(const struct guest_mem *mem, uint64_t gpa,
			 uint64_t off, size_t len)
{
	uint8_t *buf = malloc(len);

	cr_assert(buf);
	cr_assert(guest_mem_read(mem, gpa, buf, len) == 0);
	for (size_t i = 0; i < len; i++)
		cr_assert_eq(buf[i], (uint8_t)((off + i) * 7 + 3), "byte %zu", i);
	free(buf);
}

/* Through sendfile into the memfd: the bytes land where the mapping sees them. */
Test(file, load_to_guest)
{
	struct guest_mem mem;
	struct mapped_file f;
	uint8_t before, after;

	write_file(100000);
	cr_assert(file_map(&quiet, "kernel", path, &f) == 0);
	two_regions(&mem);
	cr_assert(guest_mem_write(&mem, (1 << 20) + 999, &(uint8_t){0xaa}, 1) == 0);
	cr_assert(file_load_to_guest(&f, 777, 70000, &mem, (1 << 20) + 1000) == 0);
	check_loaded(&mem, (1 << 20) + 1000, 777, 70000);
	/* Neighbours untouched, and the memfd's file position is back at 0. */
	cr_assert(guest_mem_read(&mem, (1 << 20) + 999, &before, 1) == 0);
	cr_assert(guest_mem_read(&mem, (1 << 20) + 71000, &after, 1) == 0);
	cr_assert(before == 0xaa && after == 0);
	cr_assert(lseek(mem.fd, 0, SEEK_CUR) == 0);
	/* In the first region too (memfd offset 0). */
	cr_assert(file_load_to_guest(&f, 0, 4096, &mem, 0) == 0);
	check_loaded(&mem, 0, 0, 4096);
	guest_mem_destroy(&mem, false);
	file_unmap(&f);
}

/* Huge-page RAM cannot be written through its file: the copy path. */
Test(file, load_to_guest_by_copy)
{
	struct guest_mem mem;
	struct mapped_file f;

	write_file(20000);
	cr_assert(file_map(&quiet, "initrd", path, &f) == 0);
	two_regions(&mem);
	mem.hugepages = true;
	cr_assert(file_load_to_guest(&f, 5, 19995, &mem, 4096) == 0);
	check_loaded(&mem, 4096, 5, 19995);
	mem.hugepages = false;
	guest_mem_destroy(&mem, false);
	file_unmap(&f);
}

Test(file, load_to_guest_errors)
{
	struct guest_mem mem;
	struct mapped_file f;

	write_file(8192);
	cr_assert(file_map(&quiet, "kernel", path, &f) == 0);
	two_regions(&mem);
	/* Outside the file, outside RAM (the hole, past a region's end). */
	cr_assert(file_load_to_guest(&f, 4096, 4097, &mem, 0) == -EINVAL);
	cr_assert(file_load_to_guest(&f, 0, 4096, &mem, 64 << 10) == -EFAULT);
	cr_assert(file_load_to_guest(&f, 0, 8192, &mem, (64 << 10) - 4096) ==
		  -EFAULT);
	cr_assert(file_load_to_guest(&f, 0, 1, &mem, (1 << 20) + (128 << 10)) ==
		  -EFAULT);
	cr_assert(file_load_to_guest(&f, 8192, 0, &mem, 0) == 0);
	/* The file shrank after it was mapped: an error on both paths. */
	cr_assert(truncate(path, 4096) == 0);
	cr_assert(file_load_to_guest(&f, 0, 8192, &mem, 1 << 20) == -EIO);
	mem.hugepages = true;
	cr_assert(file_load_to_guest(&f, 0, 8192, &mem, 1 << 20) == -EIO);
	mem.hugepages = false;
	guest_mem_destroy(&mem, false);
	file_unmap(&f);
}
