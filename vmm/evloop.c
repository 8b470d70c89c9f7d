/* evloop.c: io_uring (liburing) poll loop, with an epoll fallback where io_uring is disabled. */
#include "vmm/evloop.h"

#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct ev_source {
	int fd;
	uint32_t events;
	ev_cb cb;
	void *opaque;
	bool armed;
	struct ev_source *next;
};

struct evloop {
	const struct logger *log;
	bool use_uring;
	struct io_uring ring;
	int epfd;
	int wake_fd;
	struct ev_source wake;
	pthread_mutex_t lock; /* submission queue and source list */
	struct ev_source *sources;
	atomic_bool stop;
};

static bool wake_cb(void *opaque, int fd, uint32_t revents)
{
	uint64_t v;

	(void)!read(fd, &v, sizeof(v));
	return true;
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
	} else {
		struct epoll_event ev = {
			.events = src->events | EPOLLONESHOT,
			.data.ptr = src,
		};

		if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, src->fd, &ev) < 0 &&
		    (errno != ENOENT ||
		     epoll_ctl(loop->epfd, EPOLL_CTL_ADD, src->fd, &ev) < 0))
			return -errno;
	}
	src->armed = true;
	return 0;
}

int evloop_create(struct evloop **out, const struct logger *lg)
{
	struct evloop *loop = calloc(1, sizeof(*loop));
	int r;

	if (!loop)
		return -ENOMEM;
	loop->log = lg;
	loop->epfd = -1;
	pthread_mutex_init(&loop->lock, NULL);
	r = io_uring_queue_init(64, &loop->ring, 0);
	if (r == 0) {
		loop->use_uring = true;
	} else {
		log_info(lg, "evloop", "io_uring unavailable (%s), using epoll",
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
	pthread_mutex_unlock(&loop->lock);
	if (r < 0) {
		free(src);
		return r;
	}
	if (out)
		*out = src;
	return 0;
}

int evloop_rearm(struct evloop *loop, struct ev_source *src)
{
	int r;

	pthread_mutex_lock(&loop->lock);
	r = arm_locked(loop, src);
	pthread_mutex_unlock(&loop->lock);
	return r;
}

static void dispatch(struct evloop *loop, struct ev_source *src,
		     uint32_t revents)
{
	pthread_mutex_lock(&loop->lock);
	src->armed = false;
	pthread_mutex_unlock(&loop->lock);
	if (src->cb(src->opaque, src->fd, revents)) {
		int r = evloop_rearm(loop, src);

		if (r < 0)
			log_err(loop->log, "evloop", "re-arming fd %d: %s",
				src->fd, strerror(-r));
	}
}

int evloop_run(struct evloop *loop)
{
	while (!atomic_load(&loop->stop)) {
		if (loop->use_uring) {
			struct io_uring_cqe *cqe;
			struct ev_source *src;
			int res, r;

			r = io_uring_wait_cqe(&loop->ring, &cqe);
			if (r == -EINTR)
				continue;
			if (r < 0)
				return r;
			src = io_uring_cqe_get_data(cqe);
			res = cqe->res;
			io_uring_cqe_seen(&loop->ring, cqe);
			if (!src)
				continue;
			if (res < 0) {
				log_err(loop->log, "evloop",
					"poll on fd %d: %s", src->fd,
					strerror(-res));
				pthread_mutex_lock(&loop->lock);
				src->armed = false;
				pthread_mutex_unlock(&loop->lock);
				continue;
			}
			dispatch(loop, src, (uint32_t)res);
		} else {
			struct epoll_event ev[16];
			int n = epoll_wait(loop->epfd, ev, 16, -1);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return -errno;
			for (int i = 0; i < n; i++) {
				uint32_t re = ev[i].events;
				uint32_t pe = (re & EPOLLIN ? POLLIN : 0) |
					      (re & EPOLLOUT ? POLLOUT : 0) |
					      (re & EPOLLHUP ? POLLHUP : 0) |
					      (re & EPOLLERR ? POLLERR : 0);

				dispatch(loop, ev[i].data.ptr, pe);
			}
		}
	}
	return 0;
}

void evloop_stop(struct evloop *loop)
{
	uint64_t one = 1;

	atomic_store(&loop->stop, true);
	(void)!write(loop->wake_fd, &one, sizeof(one));
}

const char *evloop_backend(const struct evloop *loop)
{
	return loop->use_uring ? "io_uring" : "epoll";
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
