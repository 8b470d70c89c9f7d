/* evloop.h: the one event loop for device back-ends, console input and control. */
#ifndef VMM_EVLOOP_H
#define VMM_EVLOOP_H

#include <stdbool.h>
#include <stdint.h>

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

void evloop_destroy(struct evloop *loop);

#endif
