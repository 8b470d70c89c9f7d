/* boot.c: the arm64 boot protocol: Image (or gzip'd Image) and initrd into RAM, the device tree with /chosen, --dump-fdt. */
#include <errno.h>
#include <fcntl.h>
#include <libfdt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "arch/aarch64/aarch64.h"
#include "arch/aarch64/fdt.h"
#include "arch/aarch64/image.h"
#include "arch/aarch64/layout.h"
#include "devices/pci/plan.h"
#include "vmm/arch.h"
#include "vmm/parse.h"
#include "vmm/util.h"
#include "vmm/vm.h"

/*
 * Guest RAM, low to high (booting.rst):
 *
 *   RAM base (2 GiB, so 2 MiB-aligned)
 *   + text_offset   the Image; image_size bytes are the kernel's
 *   64 KiB-aligned  the initrd, right after it: the initrd must sit in a
 *                   1 GiB-aligned window of at most 32 GiB that also
 *                   holds the kernel, which "right after" always meets
 *   ...             free RAM
 *   last 2 MiB      the device tree (at most 2 MiB, 8-byte aligned, in a
 *                   2 MiB block of its own as the kernel maps it so)
 */
#define A64_INITRD_ALIGN	(64ull << 10) /* a page for 4K, 16K and 64K kernels */
#define A64_INITRD_WINDOW	(32ull << 30)
#define A64_INITRD_WINDOW_ALIGN (1ull << 30)
/* Room the kernel needs beyond image_size early on (page tables, ...). */
#define A64_KERNEL_HEADROOM (8ull << 20)

static const char *const page_names[] = {"unspecified", "4K", "16K", "64K"};

/* Guest RAM is one region from AARCH64_RAM_BASE (arch_mem_layout). */
static uint64_t a64_ram_end(const struct vm *vm)
{
	return guest_mem_region_end(&vm->mem, AARCH64_RAM_BASE);
}

/*
 * Guest RAM the kernel (its footprint: image_size, or what it decompressed
 * to if larger) and an initrd of `initrd_size` bytes need, with the
 * headroom and the device tree's 2 MiB block, as --memory takes it.
 */
static uint64_t a64_need(const struct a64_image *img, uint64_t kernel_size,
			 uint64_t initrd_size)
{
	uint64_t k =
		img->image_size > kernel_size ? img->image_size : kernel_size;

	return ALIGN_UP(ALIGN_UP(img->text_offset + k, A64_INITRD_ALIGN) +
				initrd_size + A64_KERNEL_HEADROOM,
			AARCH64_FDT_MAX_SIZE) +
	       AARCH64_FDT_MAX_SIZE;
}

static int a64_too_small(struct vm *vm, uint64_t need, bool initrd)
{
	char have_s[32], need_s[32];

	format_size(vm->cfg.memory, have_s, sizeof(have_s));
	format_size(ALIGN_UP(need, 1ull << 20), need_s, sizeof(need_s));
	log_err(&vm->log, "loader",
		"guest memory %s is too small for this kernel%s: it needs at "
		"least %s (use --memory)",
		have_s, initrd ? " and initrd" : "", need_s);
	return -EINVAL;
}

static const char *a64_zlib_error(const z_stream *z, int zr)
{
	if (z->msg)
		return z->msg;
	return zr == Z_MEM_ERROR ? "out of memory" : "corrupt data";
}

/*
 * Decompress a gzip'd Image straight into guest RAM: first its header,
 * which says where it goes (text_offset), then the rest to there, up to
 * `limit` (exclusive). The decompressed size comes back in *size: -ENOSPC
 * if it does not fit (*img is valid then, and *size what did fit).
 */
static int a64_gunzip_image(struct vm *vm, const uint8_t *src, uint64_t len,
			    uint64_t limit, struct a64_image *img,
			    uint64_t *load, uint64_t *size)
{
	uint8_t hdr[A64_IMAGE_HEADER_SIZE];
	const char *path = vm->cfg.kernel;
	z_stream z;
	uint8_t *dst;
	uint64_t room;
	char err[256];
	int zr, r = 0;

	*size = 0;
	if (len > UINT_MAX) {
		log_err(&vm->log, "loader",
			"kernel '%s': a gzip stream over 4 GiB is not a kernel",
			path);
		return -ENOEXEC;
	}
	memset(&z, 0, sizeof(z));
	/* 16 + MAX_WBITS: a gzip header and trailer (CRC and size checked). */
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return -ENOMEM;
	z.next_in = (Bytef *)src;
	z.avail_in = (uInt)len;
	z.next_out = hdr;
	z.avail_out = sizeof(hdr);
	do
		zr = inflate(&z, Z_NO_FLUSH);
	while (zr == Z_OK && z.avail_out);
	if (z.avail_out) {
		log_err(&vm->log, "loader",
			"kernel '%s': decompressing its gzip stream: %s", path,
			zr == Z_STREAM_END  ? "too short for an Image"
			: zr == Z_BUF_ERROR ? "it is truncated"
					    : a64_zlib_error(&z, zr));
		r = -ENOEXEC;
		goto out;
	}
	r = a64_image_parse(hdr, sizeof(hdr), img, err, sizeof(err));
	if (r < 0) {
		log_err(&vm->log, "loader", "kernel '%s' (gzip) is %s", path,
			err);
		goto out;
	}
	*load = AARCH64_RAM_BASE + img->text_offset;
	room = limit > *load ? limit - *load : 0;
	dst = room >= sizeof(hdr) ? guest_mem_ptr(&vm->mem, *load, room) : NULL;
	if (!dst) {
		r = -ENOSPC;
		goto out;
	}
	memcpy(dst, hdr, sizeof(hdr));
	dst += sizeof(hdr);
	room -= sizeof(hdr);
	while (zr == Z_OK) {
		/* avail_out is 32 bits wide: feed RAM in 1 GiB pieces. */
		uInt chunk = room > (1u << 30) ? (1u << 30) : (uInt)room;

		z.next_out = dst;
		z.avail_out = chunk;
		zr = inflate(&z, Z_NO_FLUSH);
		dst += chunk - z.avail_out;
		room -= chunk - z.avail_out;
		if (zr == Z_BUF_ERROR && !z.avail_out && room)
			zr = Z_OK; /* that piece is full: the next one */
	}
	*size = z.total_out;
	if (zr == Z_BUF_ERROR && !room) {
		r = -ENOSPC;
	} else if (zr != Z_STREAM_END) {
		log_err(&vm->log, "loader",
			"kernel '%s': decompressing its gzip stream: %s", path,
			zr == Z_BUF_ERROR ? "it is truncated"
					  : a64_zlib_error(&z, zr));
		r = -ENOEXEC;
	}
out:
	inflateEnd(&z);
	return r;
}

/*
 * A plain Image: checked in place, then copied (sendfile) to its address
 * below `limit`; -ENOSPC if it does not fit there.
 */
static int a64_copy_image(struct vm *vm, const struct mapped_file *k,
			  uint64_t limit, struct a64_image *img, uint64_t *load)
{
	char err[256];
	int r = a64_image_parse(k->data, k->size, img, err, sizeof(err));

	if (r < 0) {
		log_err(&vm->log, "loader", "kernel '%s' is %s", vm->cfg.kernel,
			err);
		return r;
	}
	*load = AARCH64_RAM_BASE + img->text_offset;
	if (*load + k->size > limit)
		return -ENOSPC;
	r = file_load_to_guest(k, 0, k->size, &vm->mem, *load);
	if (r < 0)
		log_err(&vm->log, "loader", "kernel '%s': reading it: %s",
			vm->cfg.kernel, strerror(-r));
	return r;
}

int arch_load_kernel(struct vm *vm)
{
	struct arch_vm *a = vm->arch;
	struct a64_kernel_file kf;
	struct a64_image img = {0};
	struct mapped_file k, initrd = {.fd = -1};
	uint64_t ram_end = a64_ram_end(vm), load = 0, size = 0, base;
	char err[320];
	int r;

	a->initrd_base = a->initrd_size = 0;
	/* The blob's 2 MiB block at the top of RAM; everything else below. */
	if (ram_end < AARCH64_RAM_BASE + 2 * AARCH64_FDT_MAX_SIZE) {
		log_err(&vm->log, "loader",
			"guest memory must hold at least the device tree's "
			"2 MiB and a kernel (use --memory)");
		return -EINVAL;
	}
	a->fdt_addr = ALIGN_DOWN(ram_end - AARCH64_FDT_MAX_SIZE,
				 AARCH64_FDT_MAX_SIZE);

	r = file_map(&vm->log, "kernel", vm->cfg.kernel, &k);
	if (r < 0)
		return r;
	r = a64_kernel_identify(k.data, k.size, &kf, err, sizeof(err));
	if (r < 0) {
		log_err(&vm->log, "loader", "kernel '%s' is %s", vm->cfg.kernel,
			err);
		goto out;
	}
	/* Mapped first: a memory shortfall is then told for both at once. */
	if (vm->cfg.initrd) {
		r = file_map(&vm->log, "initrd", vm->cfg.initrd, &initrd);
		if (r < 0)
			goto out;
	}
	if (kf.pack == A64_KERNEL_GZIP) {
		r = a64_gunzip_image(vm, k.data + kf.offset, kf.size,
				     a->fdt_addr, &img, &load, &size);
	} else {
		r = a64_copy_image(vm, &k, a->fdt_addr, &img, &load);
		size = k.size;
	}
	if (r == -ENOSPC) {
		r = a64_too_small(vm, a64_need(&img, size, initrd.size),
				  vm->cfg.initrd);
		goto out;
	}
	if (r < 0)
		goto out;
	/* The kernel owns image_size bytes (its BSS, early page tables). */
	base = ALIGN_UP(load + (img.image_size > size ? img.image_size : size),
			A64_INITRD_ALIGN);
	if (base + initrd.size + A64_KERNEL_HEADROOM > a->fdt_addr) {
		r = a64_too_small(vm, a64_need(&img, size, initrd.size),
				  vm->cfg.initrd);
		goto out;
	}
	if (initrd.size) {
		if (base + initrd.size -
			    ALIGN_DOWN(AARCH64_RAM_BASE,
				       A64_INITRD_WINDOW_ALIGN) >
		    A64_INITRD_WINDOW) {
			log_err(&vm->log, "loader",
				"initrd '%s' (%zu bytes) would end beyond the "
				"32 GiB window from the kernel that arm64 "
				"Linux requires",
				vm->cfg.initrd, initrd.size);
			r = -EINVAL;
			goto out;
		}
		r = file_load_to_guest(&initrd, 0, initrd.size, &vm->mem, base);
		if (r < 0) {
			log_err(&vm->log, "loader",
				"initrd '%s': reading it: %s", vm->cfg.initrd,
				strerror(-r));
			goto out;
		}
		a->initrd_base = base;
		a->initrd_size = initrd.size;
	}
	a->entry = load;
	log_info(&vm->log, "loader",
		 "arm64 Image%s, %llu bytes at 0x%llx (text_offset 0x%llx, "
		 "image_size 0x%llx, %s pages); initrd %llu bytes at 0x%llx; "
		 "device tree at 0x%llx",
		 kf.pack == A64_KERNEL_GZIP ? " (decompressed from gzip)" : "",
		 (unsigned long long)size, (unsigned long long)load,
		 (unsigned long long)img.text_offset,
		 (unsigned long long)img.image_size,
		 page_names[(img.flags >> A64_IMAGE_FLAG_PAGE_SHIFT) & 3],
		 (unsigned long long)a->initrd_size,
		 (unsigned long long)a->initrd_base,
		 (unsigned long long)a->fdt_addr);
out:
	if (initrd.data)
		file_unmap(&initrd);
	file_unmap(&k);
	return r;
}

static int a64_dump_fdt(struct vm *vm, const void *fdt)
{
	const char *path = vm->cfg.dump_fdt;
	const uint8_t *p = fdt;
	size_t left = fdt_totalsize(fdt);
	int fd, r = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		r = -errno;
		log_err(&vm->log, "fdt", "--dump-fdt '%s': %s", path,
			strerror(-r));
		return r;
	}
	while (left) {
		ssize_t w = write(fd, p, left);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			r = w < 0 ? -errno : -EIO;
			log_err(&vm->log, "fdt", "--dump-fdt '%s': %s", path,
				strerror(-r));
			break;
		}
		p += w;
		left -= (size_t)w;
	}
	if (close(fd) < 0 && !r) {
		r = -errno;
		log_err(&vm->log, "fdt", "--dump-fdt '%s': %s", path,
			strerror(-r));
	}
	return r;
}

int a64_write_fdt(struct vm *vm)
{
	struct arch_vm *a = vm->arch;
	const struct pci_plan *p = vm->pci_plan;
	struct fdt_mem_region mem[GUEST_MEM_MAX_REGIONS];
	struct fdt_machine m;
	char err[320];
	void *buf;
	int r;

	fdt_machine_init(&m);
	for (unsigned int i = 0; i < vm->mem.nregions; i++)
		mem[i] = (struct fdt_mem_region){vm->mem.regions[i].gpa,
						 vm->mem.regions[i].size};
	m.mem = mem;
	m.nmem = vm->mem.nregions;
	m.mpidr = a->mpidr;
	m.ncpus = vm->ncpus;
	m.pvpanic = true;
	m.ecam_base = vm->ecam_base;
	m.bus_first = p->bus_first;
	m.bus_last = p->bus_last;
	m.pci_low = p->low;
	m.pci_high = p->high;
	m.bootargs = vm->cfg.cmdline;
	m.initrd_base = a->initrd_base;
	m.initrd_size = a->initrd_size;
	/* Built in place: the 2 MiB at fdt_addr are the blob's alone. */
	buf = guest_mem_ptr(&vm->mem, a->fdt_addr, AARCH64_FDT_MAX_SIZE);
	if (!buf)
		return -EFAULT;
	r = fdt_machine_build(&m, buf, AARCH64_FDT_MAX_SIZE, err, sizeof(err));
	if (r < 0) {
		log_err(&vm->log, "fdt", "building the device tree: %s", err);
		return r == -ENOSPC || r == -E2BIG ? -EINVAL : r;
	}
	log_info(&vm->log, "fdt", "device tree: %u bytes at 0x%llx",
		 fdt_totalsize(buf), (unsigned long long)a->fdt_addr);
	return vm->cfg.dump_fdt ? a64_dump_fdt(vm, buf) : 0;
}
