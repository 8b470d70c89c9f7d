/* evloop.h: the one event loop for device back-ends, console input and control. */
#ifndef VMM_EVLOOP_H
#define VMM_EVLOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vmm/log.h"

struct evloop;
struct ev_source;

/*
 * Called on the loop thread when `fd` is ready (poll(2) events in
 * `revents`). Return true to wait for the fd again, false to leave it
 * disarmed until evloop_rearm().
 */
typedef bool (*ev_cb)(void *opaque, int fd, uint32_t revents);

__attribute__((warn_unused_result)) int evloop_create(struct evloop **out,
						      const struct logger *lg);

/* Watch `fd` for `events` (POLLIN, ...). The source lives until destroy. */
__attribute__((warn_unused_result)) int evloop_add(struct evloop *loop, int fd,
						   uint32_t events, ev_cb cb,
						   void *opaque,
						   struct ev_source **out);

/* Wait for a disarmed source again. Any thread. */
int evloop_rearm(struct evloop *loop, struct ev_source *src);

/* Run callbacks until evloop_stop(). Returns 0 or -errno. */
int evloop_run(struct evloop *loop);

/* Make evloop_run() return. Any thread. */
void evloop_stop(struct evloop *loop);

/* "io_uring" or "epoll". */
const char *evloop_backend(const struct evloop *loop);

/*
 * ---- File I/O on the loop ----
 *
 * Device back-ends (virtio-blk) queue reads, writes, syncs and fallocates here. With
 * io_uring they run asynchronously, many at a time, on the caller's iovecs
 * (no copies); an SQE queued from the loop thread is submitted when the
 * loop next waits, so one kick's requests go to the kernel in one batch.
 * With the epoll fallback the call does the I/O synchronously (preadv(2),
 * pwritev(2), fdatasync(2), fallocate(2)) before returning. Either way `done` runs later,
 * exactly once, on the loop thread (or in evloop_io_drain()), never inside
 * the submitting call, so the caller may hold its own locks while
 * submitting and take them again in `done`.
 */
struct ev_io;

/*
 * `res`: bytes transferred (may be short, as with preadv(2)), 0 for a
 * sync, or -errno. The evloop no longer touches `io` once this runs.
 */
typedef void (*ev_io_cb)(struct ev_io *io, int res);

/* One request: embed it in the caller's state, keep it alive until done. */
struct ev_io {
	ev_io_cb done;
	/* Private to the loop. */
	struct ev_io *next;
	int res;
};

/*
 * Queue preadv/pwritev of `iov` (n entries, at most IOV_MAX) at byte
 * offset `off` of `fd`, or fdatasync of `fd`. `iov` and the buffers must
 * stay valid until `done`. 0: queued, `done` will run; -errno: not
 * queued (no SQE could be had), `done` will not run. Any thread.
 */
__attribute__((warn_unused_result)) int
evloop_io_readv(struct evloop *loop, struct ev_io *io, int fd,
		const struct iovec *iov, unsigned int n, uint64_t off,
		ev_io_cb done);
__attribute__((warn_unused_result)) int
evloop_io_writev(struct evloop *loop, struct ev_io *io, int fd,
		 const struct iovec *iov, unsigned int n, uint64_t off,
		 ev_io_cb done);
__attribute__((warn_unused_result)) int
evloop_io_fdatasync(struct evloop *loop, struct ev_io *io, int fd,
		    ev_io_cb done);
/* fallocate(2) of `fd` with `mode` (FALLOC_FL_*); `res` is 0 or -errno. */
__attribute__((warn_unused_result)) int
evloop_io_fallocate(struct evloop *loop, struct ev_io *io, int fd, int mode,
		    uint64_t off, uint64_t len, ev_io_cb done);

/*
 * Wait for every queued request and run its `done` on the calling thread.
 * Only while evloop_run() is not running (before the loop thread starts or
 * after it returned): a device's teardown calls it so that no request
 * still points at its state. Poll sources that fire meanwhile stay
 * disarmed. Requests still in flight after 2 s are cancelled, and after
 * another 0.5 s abandoned (-ETIMEDOUT; their `done` never runs). 0,
 * -EBUSY if the loop is running, or -errno.
 */
int evloop_io_drain(struct evloop *loop);

/*
 * Whether requests are still in flight after evloop_io_drain() gave up on
 * them: the kernel may still write into their buffers, so guest RAM must
 * not be unmapped (only made inaccessible) at teardown.
 */
bool evloop_io_abandoned(struct evloop *loop);

void evloop_destroy(struct evloop *loop);

#endif
