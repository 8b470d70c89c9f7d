/* evloop.c: io_uring (liburing) poll and file I/O loop, with an epoll fallback where io_uring is disabled. */
#include "vmm/evloop.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <liburing.h>
#include <poll.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

struct ev_source {
	int fd;
	uint32_t events;
	ev_cb cb;
	void *opaque;
	bool armed;
	/*
	 * epoll: an fd epoll refuses (a regular file, /dev/null) is always
	 * ready, as poll(2) says: dispatched on every round while armed.
	 */
	bool always;
	struct ev_source *next;
};

/* SQ entries; the CQ is larger so that many requests can be in flight. */
#define EVLOOP_SQ_ENTRIES 256
#define EVLOOP_CQ_ENTRIES 4096

/* CQE user data: an ev_source pointer, or an ev_io pointer with bit 0 set. */
#define EVLOOP_TAG_IO 1ul
/*
 * At teardown, how long to wait for I/O still in flight before cancelling
 * it, and after that before abandoning it: a disk that stopped answering
 * (a dead NFS server, a stuck device) must not make a stop hang.
 */
#define EVLOOP_DRAIN_MS	 2000
#define EVLOOP_CANCEL_MS 500

enum ev_io_op { EV_IO_READV, EV_IO_WRITEV, EV_IO_FDATASYNC, EV_IO_FALLOCATE };

struct evloop {
	const struct logger *log;
	bool use_uring;
	struct io_uring ring;
	int epfd;
	int wake_fd;
	struct ev_source wake;
	pthread_mutex_t lock; /* submission queue, source list, the below */
	struct ev_source *sources;
	atomic_bool stop;
	bool running; /* inside evloop_run(), on `thread` */
	pthread_t thread;
	unsigned int always_armed; /* epoll: armed `always` sources */
	unsigned long io_inflight; /* io_uring: queued, not yet completed */
	bool drain_timed_out; /* a drain is cancelling what is left */
	struct ev_io *done_head, *done_tail; /* epoll: done, callback due */
};

static bool wake_cb(void *opaque, int fd, uint32_t revents)
{
	uint64_t v;

	(void)!read(fd, &v, sizeof(v));
	return true;
}

/* Whether the caller is the loop thread. Caller holds loop->lock. */
static bool on_loop_thread_locked(const struct evloop *loop)
{
	return loop->running && pthread_equal(loop->thread, pthread_self());
}

static void wake_loop(struct evloop *loop)
{
	uint64_t one = 1;

	(void)!write(loop->wake_fd, &one, sizeof(one));
}

/* Caller holds loop->lock. */
static int arm_locked(struct evloop *loop, struct ev_source *src)
{
	if (src->armed)
		return 0;
	if (loop->use_uring) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&loop->ring);
		int r;

		if (!sqe) {
			r = io_uring_submit(&loop->ring);
			if (r < 0)
				return r;
			sqe = io_uring_get_sqe(&loop->ring);
			if (!sqe)
				return -EBUSY;
		}
		io_uring_prep_poll_add(sqe, src->fd, src->events);
		io_uring_sqe_set_data(sqe, src);
		r = io_uring_submit(&loop->ring);
		if (r < 0)
			return r;
	} else if (src->always) {
		loop->always_armed++;
	} else {
		struct epoll_event ev = {
			.events = src->events | EPOLLONESHOT,
			.data.ptr = src,
		};

		if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, src->fd, &ev) < 0 &&
		    (errno != ENOENT ||
		     epoll_ctl(loop->epfd, EPOLL_CTL_ADD, src->fd, &ev) < 0)) {
			if (errno != EPERM)
				return -errno;
			src->always = true;
			loop->always_armed++;
		}
	}
	src->armed = true;
	return 0;
}

static int uring_init(struct io_uring *ring)
{
	struct io_uring_params p = {
		.flags = IORING_SETUP_CQSIZE,
		.cq_entries = EVLOOP_CQ_ENTRIES,
	};
	int r = io_uring_queue_init_params(EVLOOP_SQ_ENTRIES, ring, &p);

	if (r == -EINVAL) /* kernels before 5.5: no CQSIZE */
		r = io_uring_queue_init(EVLOOP_SQ_ENTRIES, ring, 0);
	return r;
}

int evloop_create(struct evloop **out, const struct logger *lg)
{
	struct evloop *loop = calloc(1, sizeof(*loop));
	const char *force = getenv("MICROVM_EVLOOP");
	int r;

	if (!loop)
		return -ENOMEM;
	loop->log = lg;
	loop->epfd = -1;
	pthread_mutex_init(&loop->lock, NULL);
	/* MICROVM_EVLOOP=epoll: test the fallback where io_uring works. */
	if (force && !strcmp(force, "epoll"))
		r = -EPERM;
	else
		r = uring_init(&loop->ring);
	if (r == 0) {
		loop->use_uring = true;
	} else {
		log_info(lg, "evloop", "io_uring unavailable (%s), using epoll",
			 force && !strcmp(force, "epoll") ?
				 "MICROVM_EVLOOP=epoll" :
				 strerror(-r));
		loop->epfd = epoll_create1(EPOLL_CLOEXEC);
		if (loop->epfd < 0) {
			r = -errno;
			goto err_free;
		}
	}
	loop->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (loop->wake_fd < 0) {
		r = -errno;
		goto err_backend;
	}
	loop->wake = (struct ev_source){
		.fd = loop->wake_fd, .events = POLLIN, .cb = wake_cb};
	pthread_mutex_lock(&loop->lock);
	r = arm_locked(loop, &loop->wake);
	pthread_mutex_unlock(&loop->lock);
	if (r < 0)
		goto err_wake;
	*out = loop;
	return 0;

err_wake:
	close(loop->wake_fd);
err_backend:
	if (loop->use_uring)
		io_uring_queue_exit(&loop->ring);
	else if (loop->epfd >= 0)
		close(loop->epfd);
err_free:
	pthread_mutex_destroy(&loop->lock);
	free(loop);
	return r;
}

int evloop_add(struct evloop *loop, int fd, uint32_t events, ev_cb cb,
	       void *opaque, struct ev_source **out)
{
	struct ev_source *src = calloc(1, sizeof(*src));
	bool wake;
	int r;

	if (!src)
		return -ENOMEM;
	*src = (struct ev_source){
		.fd = fd, .events = events, .cb = cb, .opaque = opaque};
	pthread_mutex_lock(&loop->lock);
	r = arm_locked(loop, src);
	if (r == 0) {
		src->next = loop->sources;
		loop->sources = src;
	}
	wake = r == 0 && src->always && !on_loop_thread_locked(loop);
	pthread_mutex_unlock(&loop->lock);
	if (r < 0) {
		free(src);
		return r;
	}
	if (wake)
		wake_loop(loop);
	if (out)
		*out = src;
	return 0;
}

int evloop_rearm(struct evloop *loop, struct ev_source *src)
{
	bool wake;
	int r;

	pthread_mutex_lock(&loop->lock);
	r = arm_locked(loop, src);
	/* An always-ready source must not wait for epoll_wait(-1) to end. */
	wake = r == 0 && src->always && !on_loop_thread_locked(loop);
	pthread_mutex_unlock(&loop->lock);
	if (wake)
		wake_loop(loop);
	return r;
}

static void dispatch(struct evloop *loop, struct ev_source *src,
		     uint32_t revents)
{
	pthread_mutex_lock(&loop->lock);
	if (src->always && src->armed)
		loop->always_armed--;
	src->armed = false;
	pthread_mutex_unlock(&loop->lock);
	if (src->cb(src->opaque, src->fd, revents)) {
		int r = evloop_rearm(loop, src);

		if (r < 0)
			log_err(loop->log, "evloop", "re-arming fd %d: %s",
				src->fd, strerror(-r));
	}
}

/* epoll: one round of the armed sources that are always ready. */
static void dispatch_always(struct evloop *loop)
{
	struct ev_source *src;

	pthread_mutex_lock(&loop->lock);
	src = loop->always_armed ? loop->sources : NULL;
	pthread_mutex_unlock(&loop->lock);
	/* Sources are only ever prepended: this walk stays valid. */
	for (; src; src = src->next) {
		bool ready;

		pthread_mutex_lock(&loop->lock);
		ready = src->always && src->armed;
		pthread_mutex_unlock(&loop->lock);
		if (ready)
			dispatch(loop, src, src->events & (POLLIN | POLLOUT));
	}
}

/* epoll: run the callbacks of the I/O done so far. */
static void run_done(struct evloop *loop)
{
	struct ev_io *io, *next;

	pthread_mutex_lock(&loop->lock);
	io = loop->done_head;
	loop->done_head = loop->done_tail = NULL;
	pthread_mutex_unlock(&loop->lock);
	for (; io; io = next) {
		next = io->next;
		io->done(io, io->res);
	}
}

/*
 * io_uring: one completion. An I/O request runs its callback; a poll
 * source is dispatched, or only marked disarmed when `dispatch_polls` is
 * false (draining while the loop is not running).
 */
static void uring_complete(struct evloop *loop, struct io_uring_cqe *cqe,
			   bool dispatch_polls)
{
	uintptr_t data = (uintptr_t)io_uring_cqe_get_data(cqe);
	int res = cqe->res;
	struct ev_source *src;

	io_uring_cqe_seen(&loop->ring, cqe);
	if (data & EVLOOP_TAG_IO) {
		struct ev_io *io = (struct ev_io *)(data & ~EVLOOP_TAG_IO);

		pthread_mutex_lock(&loop->lock);
		loop->io_inflight--;
		pthread_mutex_unlock(&loop->lock);
		io->done(io, res);
		return;
	}
	src = (struct ev_source *)data;
	if (!src)
		return;
	if (res < 0 || !dispatch_polls) {
		/* Cancelled: evloop_io_drain() gave up on a request. */
		if (res < 0 && res != -ECANCELED)
			log_err(loop->log, "evloop", "poll on fd %d: %s",
				src->fd, strerror(-res));
		pthread_mutex_lock(&loop->lock);
		src->armed = false;
		pthread_mutex_unlock(&loop->lock);
		return;
	}
	dispatch(loop, src, (uint32_t)res);
}

/* io_uring: submit what the loop thread queued. Caller holds loop->lock. */
static void uring_flush_locked(struct evloop *loop)
{
	int r;

	if (!io_uring_sq_ready(&loop->ring))
		return;
	r = io_uring_submit(&loop->ring);
	/* -EBUSY/-EAGAIN: completions first; the entries stay queued. */
	if (r < 0 && r != -EBUSY && r != -EAGAIN && r != -EINTR)
		log_err(loop->log, "evloop", "io_uring submit: %s",
			strerror(-r));
}

int evloop_run(struct evloop *loop)
{
	int r = 0;

	pthread_mutex_lock(&loop->lock);
	loop->thread = pthread_self();
	loop->running = true;
	pthread_mutex_unlock(&loop->lock);
	while (!atomic_load(&loop->stop)) {
		if (loop->use_uring) {
			struct io_uring_cqe *cqe;

			pthread_mutex_lock(&loop->lock);
			uring_flush_locked(loop);
			pthread_mutex_unlock(&loop->lock);
			r = io_uring_wait_cqe(&loop->ring, &cqe);
			if (r == -EINTR) {
				r = 0;
				continue;
			}
			if (r < 0)
				break;
			uring_complete(loop, cqe, true);
		} else {
			struct epoll_event ev[16];
			int n;

			run_done(loop);
			if (atomic_load(&loop->stop))
				break;
			pthread_mutex_lock(&loop->lock);
			n = loop->always_armed ? 0 : -1; /* the timeout */
			pthread_mutex_unlock(&loop->lock);
			n = epoll_wait(loop->epfd, ev, 16, n);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				r = -errno;
				break;
			}
			for (int i = 0; i < n; i++) {
				uint32_t re = ev[i].events;
				uint32_t pe = (re & EPOLLIN ? POLLIN : 0) |
					      (re & EPOLLOUT ? POLLOUT : 0) |
					      (re & EPOLLHUP ? POLLHUP : 0) |
					      (re & EPOLLERR ? POLLERR : 0);

				dispatch(loop, ev[i].data.ptr, pe);
			}
			dispatch_always(loop);
		}
	}
	pthread_mutex_lock(&loop->lock);
	loop->running = false;
	pthread_mutex_unlock(&loop->lock);
	return r;
}

void evloop_stop(struct evloop *loop)
{
	atomic_store(&loop->stop, true);
	wake_loop(loop);
}

const char *evloop_backend(const struct evloop *loop)
{
	return loop->use_uring ? "io_uring" : "epoll";
}

/* ---- file I/O ---- */


/* The epoll fallback: the I/O itself, synchronously. */
static int io_sync(enum ev_io_op op, int fd, const struct iovec *iov,
		   unsigned int n, uint64_t off, int mode, uint64_t len)
{
	ssize_t r;

	do {
		switch (op) {
		case EV_IO_READV:
			r = preadv(fd, iov, (int)n, (off_t)off);
			break;
		case EV_IO_WRITEV:
			r = pwritev(fd, iov, (int)n, (off_t)off);
			break;
		case EV_IO_FALLOCATE:
			r = fallocate(fd, mode, (off_t)off, (off_t)len);
			break;
		default:
			r = fdatasync(fd);
			break;
		}
	} while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : (int)r;
}

static int io_queue(struct evloop *loop, struct ev_io *io, enum ev_io_op op,
		    int fd, const struct iovec *iov, unsigned int n,
		    uint64_t off, int mode, uint64_t len, ev_io_cb done)
{
	struct io_uring_sqe *sqe;
	bool wake = false;
	int r = 0;

	if (n > IOV_MAX || off > INT64_MAX || len > INT64_MAX - off)
		return -EINVAL;
	io->done = done;
	io->next = NULL;
	io->res = 0;
	if (!loop->use_uring) {
		io->res = io_sync(op, fd, iov, n, off, mode, len);
		pthread_mutex_lock(&loop->lock);
		if (loop->done_tail)
			loop->done_tail->next = io;
		else
			loop->done_head = io;
		loop->done_tail = io;
		wake = !on_loop_thread_locked(loop);
		pthread_mutex_unlock(&loop->lock);
		if (wake)
			wake_loop(loop);
		return 0;
	}

	pthread_mutex_lock(&loop->lock);
	sqe = io_uring_get_sqe(&loop->ring);
	if (!sqe) {
		(void)io_uring_submit(&loop->ring);
		sqe = io_uring_get_sqe(&loop->ring);
	}
	if (!sqe) {
		pthread_mutex_unlock(&loop->lock);
		return -EBUSY;
	}
	switch (op) {
	case EV_IO_READV:
		io_uring_prep_readv(sqe, fd, iov, n, off);
		break;
	case EV_IO_WRITEV:
		io_uring_prep_writev(sqe, fd, iov, n, off);
		break;
	case EV_IO_FALLOCATE:
		io_uring_prep_fallocate(sqe, fd, mode, off, len);
		break;
	default:
		io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
		break;
	}
	io_uring_sqe_set_data(sqe, (void *)((uintptr_t)io | EVLOOP_TAG_IO));
	loop->io_inflight++;
	/* The loop thread submits its batch when it next waits. */
	if (!on_loop_thread_locked(loop)) {
		r = io_uring_submit(&loop->ring);
		/* Still queued in the SQ ring: the loop retries. */
		wake = r < 0;
	}
	pthread_mutex_unlock(&loop->lock);
	if (wake)
		wake_loop(loop);
	return 0;
}

int evloop_io_readv(struct evloop *loop, struct ev_io *io, int fd,
		    const struct iovec *iov, unsigned int n, uint64_t off,
		    ev_io_cb done)
{
	return io_queue(loop, io, EV_IO_READV, fd, iov, n, off, 0, 0, done);
}

int evloop_io_writev(struct evloop *loop, struct ev_io *io, int fd,
		     const struct iovec *iov, unsigned int n, uint64_t off,
		     ev_io_cb done)
{
	return io_queue(loop, io, EV_IO_WRITEV, fd, iov, n, off, 0, 0, done);
}

int evloop_io_fdatasync(struct evloop *loop, struct ev_io *io, int fd,
			ev_io_cb done)
{
	return io_queue(loop, io, EV_IO_FDATASYNC, fd, NULL, 0, 0, 0, 0, done);
}

int evloop_io_fallocate(struct evloop *loop, struct ev_io *io, int fd,
			int mode, uint64_t off, uint64_t len, ev_io_cb done)
{
	return io_queue(loop, io, EV_IO_FALLOCATE, fd, NULL, 0, off, mode,
			len, done);
}

/* Wait for one completion until `deadline_ms` (CLOCK_MONOTONIC). */
static int uring_wait_until(struct evloop *loop, long long deadline_ms)
{
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts;
	struct timespec now;
	long long left;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &now);
	left = deadline_ms - ((long long)now.tv_sec * 1000 +
			      now.tv_nsec / 1000000);
	if (left <= 0)
		return -ETIME;
	ts.tv_sec = left / 1000;
	ts.tv_nsec = (left % 1000) * 1000000;
	r = io_uring_wait_cqe_timeout(&loop->ring, &cqe, &ts);
	if (r == 0)
		uring_complete(loop, cqe, false);
	return r == -EINTR ? 0 : r;
}

/* Ask the kernel to cancel every request of the ring. Caller holds lock. */
static void uring_cancel_all_locked(struct evloop *loop)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&loop->ring);

	if (!sqe)
		return;
	io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
	io_uring_sqe_set_data(sqe, NULL);
	(void)io_uring_submit(&loop->ring);
}

int evloop_io_drain(struct evloop *loop)
{
	struct timespec now;
	long long deadline;
	bool cancelled = false;

	pthread_mutex_lock(&loop->lock);
	if (loop->running) {
		pthread_mutex_unlock(&loop->lock);
		return -EBUSY;
	}
	pthread_mutex_unlock(&loop->lock);
	if (!loop->use_uring) {
		run_done(loop);
		return 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	/* Once one drain gave up, the next (another disk's) waits less. */
	deadline = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000 +
		   (loop->drain_timed_out ? EVLOOP_CANCEL_MS : EVLOOP_DRAIN_MS);
	for (;;) {
		unsigned long n;
		int r;

		pthread_mutex_lock(&loop->lock);
		n = loop->io_inflight;
		if (n)
			uring_flush_locked(loop);
		if (n && loop->drain_timed_out && !cancelled) {
			uring_cancel_all_locked(loop);
			cancelled = true;
		}
		pthread_mutex_unlock(&loop->lock);
		if (!n)
			return 0;
		r = uring_wait_until(loop, deadline);
		if (r == -ETIME && !cancelled) {
			/* Stuck below us: cancel, and wait a little more. */
			loop->drain_timed_out = true;
			deadline += EVLOOP_CANCEL_MS;
			continue;
		}
		if (r == -ETIME) {
			log_err(loop->log, "evloop",
				"%lu I/O requests did not complete within "
				"%d ms, even cancelled; abandoning them",
				n, EVLOOP_DRAIN_MS + EVLOOP_CANCEL_MS);
			return -ETIMEDOUT;
		}
		if (r < 0)
			return r;
	}
}

bool evloop_io_abandoned(struct evloop *loop)
{
	bool r;

	if (!loop)
		return false;
	pthread_mutex_lock(&loop->lock);
	r = loop->io_inflight > 0;
	pthread_mutex_unlock(&loop->lock);
	return r;
}

void evloop_destroy(struct evloop *loop)
{
	struct ev_source *s, *next;

	if (!loop)
		return;
	if (loop->use_uring)
		io_uring_queue_exit(&loop->ring);
	else
		close(loop->epfd);
	close(loop->wake_fd);
	for (s = loop->sources; s; s = next) {
		next = s->next;
		free(s);
	}
	pthread_mutex_destroy(&loop->lock);
	free(loop);
}
