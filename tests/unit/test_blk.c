/* test_blk.c: L0 tests of virtio-blk request checking and the event loop's file I/O (both back-ends). */
#include <criterion/criterion.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_blk.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/virtio/blk.h"
#include "vmm/evloop.h"

#define CAP 1000ull /* sectors */

static struct virtq_elem *elem;
static struct blk_request req;
static struct iovec data[VIRTQ_MAX_SEGS];
static uint8_t hdrbuf[64], buf[8192], st[4];

/* Also called again inside a test for a fresh request. */
static void setup(void)
{
	free(elem);
	elem = calloc(1, sizeof(*elem));
	cr_assert(elem);
	memset(&req, 0, sizeof(req));
	memset(data, 0, sizeof(data));
	memset(st, 0xaa, sizeof(st));
}

static void teardown(void)
{
	free(elem);
	elem = NULL;
}

static void hdr(uint32_t type, uint64_t sector)
{
	struct virtio_blk_outhdr h = {
		.type = htole32(type),
		.ioprio = 0,
		.sector = htole64(sector),
	};

	memcpy(hdrbuf, &h, sizeof(h));
}

/* Append one buffer: device-readable ones must all come first. */
static void add(void *base, uint32_t len, bool writable)
{
	unsigned int i = elem->nout + elem->nin;

	elem->iov[i].base = base;
	elem->iov[i].len = len;
	if (writable) {
		elem->nin++;
		elem->in_len += len;
	} else {
		cr_assert_eq(elem->nin, 0, "readable after writable");
		elem->nout++;
		elem->out_len += len;
	}
}

static int parse(bool ro)
{
	return blk_parse_request(elem, CAP, ro, &req, data);
}

TestSuite(blk_parse, .init = setup, .fini = teardown);

Test(blk_parse, read_three_descriptors)
{
	hdr(VIRTIO_BLK_T_IN, 8);
	add(hdrbuf, 16, false);
	add(buf, 1024, true);
	add(st, 1, true);
	cr_assert_eq(parse(false), VIRTIO_BLK_S_OK, "%s", req.why);
	cr_assert_eq(req.type, VIRTIO_BLK_T_IN);
	cr_assert_eq(req.sector, 8);
	cr_assert_eq(req.status, st);
	cr_assert_eq(req.data_len, 1024);
	cr_assert_eq(req.ndata, 1);
	cr_assert_eq(data[0].iov_base, buf);
	cr_assert_eq(data[0].iov_len, 1024);
}

/* Any framing: header and data in one buffer, data and status in one. */
Test(blk_parse, write_any_layout)
{
	struct virtio_blk_outhdr h = {.type = htole32(VIRTIO_BLK_T_OUT),
				      .sector = htole64(CAP - 2)};

	memcpy(buf, &h, sizeof(h));
	add(buf, 16 + 600, false);
	add(buf + 2000, 424, false);
	add(st, 1, true);
	cr_assert_eq(parse(false), VIRTIO_BLK_S_OK, "%s", req.why);
	cr_assert_eq(req.data_len, 1024);
	cr_assert_eq(req.ndata, 2);
	cr_assert_eq(data[0].iov_base, buf + 16);
	cr_assert_eq(data[0].iov_len, 600);
	cr_assert_eq(data[1].iov_base, buf + 2000);
	cr_assert_eq(data[1].iov_len, 424);
}

Test(blk_parse, read_data_and_status_in_one_buffer)
{
	hdr(VIRTIO_BLK_T_IN, 0);
	add(hdrbuf, 8, false);
	add(hdrbuf + 8, 8, false);
	add(buf, 512, true);
	add(buf + 4096, 513, true);
	cr_assert_eq(parse(false), VIRTIO_BLK_S_OK, "%s", req.why);
	cr_assert_eq(req.status, buf + 4096 + 512);
	cr_assert_eq(req.data_len, 1024);
	cr_assert_eq(req.ndata, 2);
	cr_assert_eq(data[1].iov_base, buf + 4096);
	cr_assert_eq(data[1].iov_len, 512);
}

Test(blk_parse, no_status_byte)
{
	hdr(VIRTIO_BLK_T_OUT, 0);
	add(hdrbuf, 16, false);
	add(buf, 512, false);
	cr_assert_eq(parse(false), -EINVAL);
	cr_assert_not_null(req.why);
}

Test(blk_parse, short_header)
{
	hdr(VIRTIO_BLK_T_IN, 0);
	add(hdrbuf, 12, false);
	add(st, 1, true);
	cr_assert_eq(parse(false), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(req.status, st);
}

Test(blk_parse, header_writable)
{
	hdr(VIRTIO_BLK_T_IN, 0);
	add(hdrbuf, 16, true);
	add(st, 1, true);
	cr_assert_eq(parse(false), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(req.status, st);
}

Test(blk_parse, read_with_readable_data)
{
	hdr(VIRTIO_BLK_T_IN, 0);
	add(hdrbuf, 16, false);
	add(buf, 512, false);
	add(st, 1, true);
	cr_assert_eq(parse(false), VIRTIO_BLK_S_IOERR);
}

Test(blk_parse, write_with_writable_data)
{
	hdr(VIRTIO_BLK_T_OUT, 0);
	add(hdrbuf, 16, false);
	add(buf, 512, true);
	add(st, 1, true);
	cr_assert_eq(parse(false), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(req.status, st);
}

Test(blk_parse, write_read_only)
{
	hdr(VIRTIO_BLK_T_OUT, 0);
	add(hdrbuf, 16, false);
	add(buf, 512, false);
	add(st, 1, true);
	cr_assert_eq(parse(true), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(parse(false), VIRTIO_BLK_S_OK);
}

Test(blk_parse, read_read_only_is_fine)
{
	hdr(VIRTIO_BLK_T_IN, 0);
	add(hdrbuf, 16, false);
	add(buf, 512, true);
	add(st, 1, true);
	cr_assert_eq(parse(true), VIRTIO_BLK_S_OK);
}

Test(blk_parse, capacity)
{
	hdr(VIRTIO_BLK_T_IN, CAP - 2);
	add(hdrbuf, 16, false);
	add(buf, 1024, true);
	add(st, 1, true);
	cr_assert_eq(parse(false), VIRTIO_BLK_S_OK, "last two sectors");
	hdr(VIRTIO_BLK_T_IN, CAP - 1);
	cr_assert_eq(parse(false), VIRTIO_BLK_S_IOERR, "one past the end");
	hdr(VIRTIO_BLK_T_IN, CAP);
	cr_assert_eq(parse(false), VIRTIO_BLK_S_IOERR, "at the end");
	hdr(VIRTIO_BLK_T_IN, UINT64_MAX - 1);
	cr_assert_eq(parse(false), VIRTIO_BLK_S_IOERR, "wrapping");
	hdr(VIRTIO_BLK_T_IN, UINT64_MAX / 512 + 1);
	cr_assert_eq(parse(false), VIRTIO_BLK_S_IOERR, "byte offset wraps");
}

Test(blk_parse, zero_length_at_the_end)
{
	hdr(VIRTIO_BLK_T_IN, CAP);
	add(hdrbuf, 16, false);
	add(st, 1, true);
	cr_assert_eq(parse(false), VIRTIO_BLK_S_OK);
	cr_assert_eq(req.data_len, 0);
	hdr(VIRTIO_BLK_T_IN, CAP + 1);
	cr_assert_eq(parse(false), VIRTIO_BLK_S_IOERR);
}

Test(blk_parse, partial_sector)
{
	hdr(VIRTIO_BLK_T_IN, 0);
	add(hdrbuf, 16, false);
	add(buf, 511, true);
	add(st, 1, true);
	cr_assert_eq(parse(false), VIRTIO_BLK_S_IOERR);
}

Test(blk_parse, unsupported_types)
{
	static const uint32_t types[] = {VIRTIO_BLK_T_SCSI_CMD,
					 VIRTIO_BLK_T_SECURE_ERASE, 0x80000001u,
					 99};

	add(hdrbuf, 16, false);
	add(st, 1, true);
	for (unsigned int i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		hdr(types[i], 0);
		cr_assert_eq(parse(false), VIRTIO_BLK_S_UNSUPP, "type %u",
			     types[i]);
		cr_assert_eq(req.status, st);
	}
}

/* DISCARD / WRITE_ZEROES: header, one 16-byte range, status. */
static struct virtio_blk_discard_write_zeroes seg[2];

static void range_req(uint32_t type, uint64_t sector, uint32_t n,
		      uint32_t flags)
{
	hdr(type, 777); /* the header's sector is not the range's */
	seg[0] = (struct virtio_blk_discard_write_zeroes){
		.sector = htole64(sector),
		.num_sectors = htole32(n),
		.flags = htole32(flags),
	};
	add(hdrbuf, 16, false);
	add(seg, sizeof(seg[0]), false);
	add(st, 1, true);
}

Test(blk_parse, discard_and_write_zeroes)
{
	range_req(VIRTIO_BLK_T_DISCARD, 8, 16, 0);
	cr_assert_eq(parse(false), VIRTIO_BLK_S_OK, "%s", req.why);
	cr_assert(req.sector == 8 && req.num_sectors == 16 && !req.flags);
	cr_assert_eq(req.data_len, 0);
	cr_assert_eq(req.status, st);
	setup();
	range_req(VIRTIO_BLK_T_WRITE_ZEROES, CAP - 4, 4,
		  VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	cr_assert_eq(parse(false), VIRTIO_BLK_S_OK, "%s", req.why);
	cr_assert(req.sector == CAP - 4 && req.num_sectors == 4 &&
		  req.flags == VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	/* Header and range in one buffer parse the same. */
	setup();
	hdr(VIRTIO_BLK_T_WRITE_ZEROES, 0);
	seg[0] = (struct virtio_blk_discard_write_zeroes){
		.sector = htole64(3), .num_sectors = htole32(5)};
	memcpy(hdrbuf + 16, seg, 16);
	add(hdrbuf, 32, false);
	add(st, 1, true);
	cr_assert_eq(parse(false), VIRTIO_BLK_S_OK, "%s", req.why);
	cr_assert(req.sector == 3 && req.num_sectors == 5);
}

Test(blk_parse, range_errors)
{
	/* Past the end, and a range longer than offered. */
	range_req(VIRTIO_BLK_T_DISCARD, CAP - 4, 5, 0);
	cr_assert_eq(parse(false), VIRTIO_BLK_S_IOERR);
	setup();
	range_req(VIRTIO_BLK_T_WRITE_ZEROES, UINT64_MAX, 1, 0);
	cr_assert_eq(parse(false), VIRTIO_BLK_S_IOERR);
	setup();
	range_req(VIRTIO_BLK_T_DISCARD, 0, BLK_MAX_ZERO_SECTORS + 1, 0);
	cr_assert_eq(parse(false), VIRTIO_BLK_S_IOERR);
	/* Read-only disk. */
	setup();
	range_req(VIRTIO_BLK_T_WRITE_ZEROES, 0, 1, 0);
	cr_assert_eq(parse(true), VIRTIO_BLK_S_IOERR);
	/* Unmap on a discard, unknown flag bits: unsupported. */
	setup();
	range_req(VIRTIO_BLK_T_DISCARD, 0, 1, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	cr_assert_eq(parse(false), VIRTIO_BLK_S_UNSUPP);
	setup();
	range_req(VIRTIO_BLK_T_WRITE_ZEROES, 0, 1, 2);
	cr_assert_eq(parse(false), VIRTIO_BLK_S_UNSUPP);
	/* No range, half a range, two ranges (one offered). */
	setup();
	hdr(VIRTIO_BLK_T_DISCARD, 0);
	add(hdrbuf, 16, false);
	add(st, 1, true);
	cr_assert_eq(parse(false), VIRTIO_BLK_S_IOERR);
	setup();
	hdr(VIRTIO_BLK_T_DISCARD, 0);
	add(hdrbuf, 16, false);
	add(seg, 8, false);
	add(st, 1, true);
	cr_assert_eq(parse(false), VIRTIO_BLK_S_IOERR);
	setup();
	hdr(VIRTIO_BLK_T_DISCARD, 0);
	memset(seg, 0, sizeof(seg));
	add(hdrbuf, 16, false);
	add(seg, sizeof(seg), false);
	add(st, 1, true);
	cr_assert_eq(parse(false), VIRTIO_BLK_S_IOERR);
	cr_assert(strstr(req.why, "more ranges"), "%s", req.why);
	/* Device-writable data besides the status. */
	setup();
	hdr(VIRTIO_BLK_T_WRITE_ZEROES, 0);
	add(hdrbuf, 16, false);
	add(seg, 16, false);
	add(buf, 512, true);
	add(st, 1, true);
	cr_assert_eq(parse(false), VIRTIO_BLK_S_IOERR);
}

Test(blk_parse, flush)
{
	hdr(VIRTIO_BLK_T_FLUSH, 12345678);
	add(hdrbuf, 16, false);
	add(st, 1, true);
	cr_assert_eq(parse(true), VIRTIO_BLK_S_OK, "sector is ignored");
	cr_assert_eq(req.data_len, 0);
	add(st + 1, 1, true);
	cr_assert_eq(parse(false), VIRTIO_BLK_S_IOERR, "flush with data");
}

Test(blk_parse, get_id)
{
	hdr(VIRTIO_BLK_T_GET_ID, 0);
	add(hdrbuf, 16, false);
	add(buf, VIRTIO_BLK_ID_BYTES, true);
	add(st, 1, true);
	cr_assert_eq(parse(true), VIRTIO_BLK_S_OK);
	cr_assert_eq(req.data_len, VIRTIO_BLK_ID_BYTES);
	cr_assert_eq(data[0].iov_base, buf);
}

/* ---- evloop file I/O, io_uring and epoll ---- */

struct io_done {
	struct ev_io io;
	atomic_int res;
	atomic_int calls;
};

static void io_cb(struct ev_io *io, int res)
{
	struct io_done *d = (struct io_done *)io;

	atomic_store(&d->res, res);
	atomic_fetch_add(&d->calls, 1);
}

static void *run_loop(void *arg)
{
	return (void *)(intptr_t)evloop_run(arg);
}

static void wait_calls(struct io_done *d, int n)
{
	for (int i = 0; i < 5000 && atomic_load(&d->calls) < n; i++)
		usleep(1000);
	cr_assert_eq(atomic_load(&d->calls), n, "callback ran %d times",
		     atomic_load(&d->calls));
}

static void io_roundtrip(const char *backend)
{
	static struct logger lg;
	char path[] = "/tmp/microvm-test-blk-XXXXXX";
	struct io_done w = {0}, s = {0}, r = {0}, late = {0};
	uint8_t out[3000], in[3000];
	struct iovec wv[2] = {{out, 1000}, {out + 1000, 2000}};
	struct iovec rv[3] = {{in, 100}, {in + 100, 2900}};
	struct evloop *loop;
	pthread_t t;
	int fd;

	if (!strcmp(backend, "epoll"))
		setenv("MICROVM_EVLOOP", "epoll", 1);
	else
		unsetenv("MICROVM_EVLOOP");
	cr_assert_eq(evloop_create(&loop, &lg), 0);
	unsetenv("MICROVM_EVLOOP");
	if (strcmp(evloop_backend(loop), backend)) {
		evloop_destroy(loop);
		cr_skip_test("%s unavailable here", backend);
	}
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	unlink(path);
	for (unsigned int i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t)(i * 7 + 3);
	memset(in, 0, sizeof(in));

	cr_assert_eq(pthread_create(&t, NULL, run_loop, loop), 0);
	usleep(10000);
	cr_assert_eq(evloop_io_drain(loop), -EBUSY, "drain while running");
	cr_assert_eq(evloop_io_writev(loop, &w.io, fd, wv, 2, 4096, io_cb), 0);
	wait_calls(&w, 1);
	cr_assert_eq(atomic_load(&w.res), 3000);
	cr_assert_eq(evloop_io_fdatasync(loop, &s.io, fd, io_cb), 0);
	wait_calls(&s, 1);
	cr_assert_eq(atomic_load(&s.res), 0);
	cr_assert_eq(evloop_io_readv(loop, &r.io, fd, rv, 2, 4096, io_cb), 0);
	wait_calls(&r, 1);
	cr_assert_eq(atomic_load(&r.res), 3000);
	cr_assert_eq(memcmp(in, out, sizeof(in)), 0);
	/* Punch a hole where bytes 4096..8191 were: they read as zeroes. */
	cr_assert_eq(evloop_io_fallocate(loop, &s.io, fd,
					 FALLOC_FL_PUNCH_HOLE |
						 FALLOC_FL_KEEP_SIZE,
					 4096, 4096, io_cb),
		     0);
	wait_calls(&s, 2);
	cr_assert_eq(atomic_load(&s.res), 0, "punch: %d", atomic_load(&s.res));
	cr_assert_eq(pread(fd, in, 3000, 4096), 3000);
	for (unsigned int i = 0; i < 3000; i++)
		cr_assert_eq(in[i], 0, "byte %u after the punch", i);
	cr_assert_eq(evloop_io_fallocate(loop, &s.io, -1, 0, 0, 4096, io_cb), 0);
	wait_calls(&s, 3);
	cr_assert_eq(atomic_load(&s.res), -EBADF);
	/* Past the end: a short (empty) read, as preadv says. */
	cr_assert_eq(evloop_io_readv(loop, &r.io, fd, rv, 2, 8192, io_cb), 0);
	wait_calls(&r, 2);
	cr_assert_eq(atomic_load(&r.res), 0);
	/* Errors come back as -errno. */
	cr_assert_eq(evloop_io_readv(loop, &r.io, -1, rv, 2, 0, io_cb), 0);
	wait_calls(&r, 3);
	cr_assert_eq(atomic_load(&r.res), -EBADF);

	evloop_stop(loop);
	pthread_join(t, NULL);
	/* Queued after the loop stopped: drain runs it here. */
	cr_assert_eq(evloop_io_readv(loop, &late.io, fd, rv, 1, 4096, io_cb),
		     0);
	cr_assert_eq(evloop_io_drain(loop), 0);
	cr_assert_eq(atomic_load(&late.calls), 1);
	cr_assert_eq(atomic_load(&late.res), 100);
	evloop_destroy(loop);
	close(fd);
}

Test(evloop_io, uring)
{
	io_roundtrip("io_uring");
}

Test(evloop_io, epoll)
{
	io_roundtrip("epoll");
}

/* A source epoll refuses (/dev/null) is always ready, as poll(2) says. */
static atomic_int null_calls;

static bool null_cb(void *opaque, int fd, uint32_t revents)
{
	cr_assert(revents & POLLIN);
	atomic_fetch_add(&null_calls, 1);
	return false;
}

static void always_ready(const char *backend)
{
	static struct logger lg;
	struct ev_source *src;
	struct evloop *loop;
	pthread_t t;
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	cr_assert_geq(fd, 0);
	if (!strcmp(backend, "epoll"))
		setenv("MICROVM_EVLOOP", "epoll", 1);
	cr_assert_eq(evloop_create(&loop, &lg), 0);
	unsetenv("MICROVM_EVLOOP");
	if (strcmp(evloop_backend(loop), backend)) {
		evloop_destroy(loop);
		cr_skip_test("%s unavailable here", backend);
	}
	atomic_store(&null_calls, 0);
	cr_assert_eq(pthread_create(&t, NULL, run_loop, loop), 0);
	usleep(10000);
	/* Added and re-armed from another thread while the loop waits. */
	cr_assert_eq(evloop_add(loop, fd, POLLIN, null_cb, NULL, &src), 0);
	for (int i = 0; i < 5000 && atomic_load(&null_calls) < 1; i++)
		usleep(1000);
	cr_assert_eq(atomic_load(&null_calls), 1);
	usleep(20000);
	cr_assert_eq(atomic_load(&null_calls), 1, "dispatched while disarmed");
	cr_assert_eq(evloop_rearm(loop, src), 0);
	for (int i = 0; i < 5000 && atomic_load(&null_calls) < 2; i++)
		usleep(1000);
	cr_assert_eq(atomic_load(&null_calls), 2);
	evloop_stop(loop);
	pthread_join(t, NULL);
	evloop_destroy(loop);
	close(fd);
}

Test(evloop_io, uring_dev_null)
{
	always_ready("io_uring");
}

Test(evloop_io, epoll_dev_null)
{
	always_ready("epoll");
}
