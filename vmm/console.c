/* console.c: the console UART (16550 or PL011) <-> fds: output through a bounded buffer, input through the event loop, the escape key. */
#include "vmm/console.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "devices/uart.h"
#include "vmm/evloop.h"
#include "vmm/vm.h"

/*
 * Guest output waits here for the event loop to write it. A vCPU never
 * blocks on the console fd: when nobody reads and the buffer is full,
 * output is dropped and counted.
 */
#define CONSOLE_OUT_BUF (64u * 1024)
/* At the end, how long to wait for a reader that takes nothing. */
#define CONSOLE_FLUSH_MS 1000

/* How output reaches out_fd without blocking the thread that writes. */
enum console_out_mode {
	OUT_WRITE, /* non-blocking, or a file: plain write(2) */
	OUT_SEND, /* a socket: send(2) with MSG_DONTWAIT */
	OUT_POLL, /* blocking pipe or tty: poll first, PIPE_BUF at most */
};

struct console {
	struct vm *vm;
	int in_fd;
	int out_fd; /* the embedder's, or our own non-blocking open of it */
	int own_out_fd; /* ours to close, or -1 */
	enum console_out_mode out_mode;
	bool out_broken;
	unsigned char escape;
	bool escape_seen;
	int space_efd; /* the UART has room again */
	struct ev_source *in_src;
	/* The board's UART (console_attach_uart), its interrupt line. */
	uart_receive_fn uart_receive;
	void *uart;
	unsigned int uart_gsi;
	/* Input read but not yet accepted by the UART. */
	uint8_t pending[256];
	size_t pending_off, pending_len;

	/* Output: a ring filled by vCPUs, drained by the loop thread. */
	pthread_mutex_t out_lock;
	uint8_t *out_buf;
	size_t out_head, out_len;
	uint64_t out_dropped;
	int out_efd; /* output waits in the ring */
	struct ev_source *out_src; /* out_fd, while it is full */
};

/* On a vCPU thread, under the UART lock: queue, never block. */
static void console_tx(void *opaque, const uint8_t *buf, size_t len)
{
	struct console *c = opaque;
	bool was_empty, first_drop = false;
	uint64_t one = 1;

	pthread_mutex_lock(&c->out_lock);
	if (c->out_broken || c->out_fd < 0) {
		pthread_mutex_unlock(&c->out_lock);
		return;
	}
	was_empty = c->out_len == 0;
	while (len && c->out_len < CONSOLE_OUT_BUF) {
		size_t tail = (c->out_head + c->out_len) % CONSOLE_OUT_BUF;
		size_t n = tail < c->out_head ? c->out_head - tail
					      : CONSOLE_OUT_BUF - tail;

		if (n > len)
			n = len;
		memcpy(c->out_buf + tail, buf, n);
		c->out_len += n;
		buf += n;
		len -= n;
	}
	if (len) {
		first_drop = c->out_dropped == 0;
		c->out_dropped += len;
	}
	pthread_mutex_unlock(&c->out_lock);
	if (first_drop)
		log_warn(&c->vm->log, "console",
			 "console output is not being read: dropping guest "
			 "output (the vCPUs go on)");
	if (was_empty)
		(void)!write(c->out_efd, &one, sizeof(one));
}

/*
 * Write some of the ring to out_fd without blocking. Bytes written, 0 if
 * the fd is full or the ring empty, -errno when output is broken. Only the
 * loop thread (or the final flush, after it) calls this.
 */
static ssize_t console_out_some(struct console *c)
{
	uint8_t chunk[PIPE_BUF];
	size_t n;
	ssize_t w;

	pthread_mutex_lock(&c->out_lock);
	n = c->out_len;
	if (n > sizeof(chunk))
		n = sizeof(chunk);
	if (n > CONSOLE_OUT_BUF - c->out_head)
		n = CONSOLE_OUT_BUF - c->out_head;
	memcpy(chunk, c->out_buf + c->out_head, n);
	pthread_mutex_unlock(&c->out_lock);
	if (!n || c->out_broken)
		return 0;
	if (c->out_mode == OUT_POLL) {
		struct pollfd p = {.fd = c->out_fd, .events = POLLOUT};

		if (poll(&p, 1, 0) == 0)
			return 0;
	}
	do {
		if (c->out_mode == OUT_SEND)
			w = send(c->out_fd, chunk, n,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		else
			w = write(c->out_fd, chunk, n);
	} while (w < 0 && errno == EINTR);
	if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (w <= 0) {
		int e = w < 0 ? errno : EIO;

		log_warn(&c->vm->log, "console",
			 "writing console output failed (%s); discarding "
			 "further output",
			 strerror(e));
		pthread_mutex_lock(&c->out_lock);
		c->out_broken = true;
		c->out_len = 0;
		pthread_mutex_unlock(&c->out_lock);
		return -e;
	}
	pthread_mutex_lock(&c->out_lock);
	c->out_head = (c->out_head + (size_t)w) % CONSOLE_OUT_BUF;
	c->out_len -= (size_t)w;
	pthread_mutex_unlock(&c->out_lock);
	return w;
}

/* Write what the fd takes; true if output is left over (the fd is full). */
static bool console_out_drain(struct console *c)
{
	ssize_t w;
	bool left;

	while ((w = console_out_some(c)) > 0)
		;
	pthread_mutex_lock(&c->out_lock);
	left = w == 0 && c->out_len > 0;
	pthread_mutex_unlock(&c->out_lock);
	return left;
}

/* out_fd has room again: keep waiting while output is left. */
static bool console_out_ready(void *opaque, int fd, uint32_t revents)
{
	(void)fd;
	(void)revents;
	return console_out_drain(opaque);
}

static bool console_out_queued(void *opaque, int fd, uint32_t revents)
{
	struct console *c = opaque;
	uint64_t v;
	int r = 0;

	(void)revents;
	(void)!read(fd, &v, sizeof(v));
	if (!console_out_drain(c))
		return true;
	if (c->out_src)
		r = evloop_rearm(c->vm->loop, c->out_src);
	else
		r = evloop_add(c->vm->loop, c->out_fd, POLLOUT,
			       console_out_ready, c, &c->out_src);
	if (r < 0)
		log_warn(&c->vm->log, "console",
			 "cannot wait for console output fd %d: %s", c->out_fd,
			 strerror(-r));
	return true;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void console_flush(struct vm *vm)
{
	struct console *c = vm->console;
	long long last = now_ms();
	uint64_t dropped;
	size_t left;

	if (!c)
		return;
	for (;;) {
		ssize_t w = console_out_some(c);
		struct pollfd p = {.fd = c->out_fd, .events = POLLOUT};

		pthread_mutex_lock(&c->out_lock);
		left = c->out_len;
		pthread_mutex_unlock(&c->out_lock);
		if (w < 0 || !left)
			break;
		if (w > 0) {
			last = now_ms();
			continue;
		}
		if (now_ms() - last >= CONSOLE_FLUSH_MS)
			break;
		(void)poll(&p, 1, 50);
	}
	pthread_mutex_lock(&c->out_lock);
	left = c->out_broken ? 0 : c->out_len;
	c->out_dropped += left;
	c->out_len = 0;
	dropped = c->out_dropped;
	pthread_mutex_unlock(&c->out_lock);
	if (dropped)
		log_warn(&vm->log, "console",
			 "%llu bytes of guest console output were dropped: "
			 "nobody read them",
			 (unsigned long long)dropped);
}

uint64_t console_dropped(const struct vm *vm)
{
	struct console *c = vm->console;
	uint64_t n;

	if (!c)
		return 0;
	pthread_mutex_lock(&c->out_lock);
	n = c->out_dropped;
	pthread_mutex_unlock(&c->out_lock);
	return n;
}

/*
 * Pick how to write out_fd without blocking: a socket takes MSG_DONTWAIT;
 * a blocking pipe or tty is opened again, non-blocking, as a description
 * of our own (O_NONBLOCK on the embedder's would change it for them too);
 * files and other devices do not block for long.
 */
static void console_out_setup(struct console *c)
{
	struct stat st;
	int fl, fd;
	char path[32];

	c->out_mode = OUT_WRITE;
	if (c->out_fd < 0 || fstat(c->out_fd, &st) < 0)
		return;
	if (S_ISSOCK(st.st_mode)) {
		c->out_mode = OUT_SEND;
		return;
	}
	fl = fcntl(c->out_fd, F_GETFL);
	if (fl < 0 || (fl & O_NONBLOCK) ||
	    !(S_ISFIFO(st.st_mode) || isatty(c->out_fd)))
		return;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", c->out_fd);
	fd = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		c->out_mode = OUT_POLL;
		return;
	}
	c->own_out_fd = c->out_fd = fd;
}

static void console_irq(void *opaque, int level)
{
	struct console *c = opaque;

	vm_irq_line(c->vm, c->uart_gsi, level);
}

static void console_rx_space(void *opaque)
{
	struct console *c = opaque;
	uint64_t one = 1;

	/* Called under the UART lock: only poke the event loop. */
	(void)!write(c->space_efd, &one, sizeof(one));
}

const struct uart_ops console_uart_ops = {
	.tx = console_tx,
	.irq = console_irq,
	.rx_space = console_rx_space,
};

void console_attach_uart(struct vm *vm, uart_receive_fn receive, void *uart,
			 unsigned int gsi)
{
	struct console *c = vm->console;

	c->uart_receive = receive;
	c->uart = uart;
	c->uart_gsi = gsi;
}

/* Push pending input into the UART; true when all of it went in. */
static bool console_flush_pending(struct console *c)
{
	/* No UART to take it (a board bug): input is dropped, not queued. */
	if (!c->uart_receive)
		c->pending_off = c->pending_len;
	while (c->pending_off < c->pending_len) {
		size_t n = c->uart_receive(c->uart, c->pending + c->pending_off,
					   c->pending_len - c->pending_off);
		if (!n)
			return false;
		c->pending_off += n;
	}
	c->pending_off = c->pending_len = 0;
	return true;
}

size_t console_escape_filter(struct machine *m, uint8_t escape, bool *seen,
			     const uint8_t *in, size_t n, uint8_t *out)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		uint8_t ch = in[i];

		if (*seen) {
			*seen = false;
			if (ch == 'x' || ch == 'X') {
				machine_end(m, MICROVM_EXIT_STOPPED, 0,
					    "stopped from the console "
					    "(escape sequence)");
				return k;
			}
			if (ch != escape)
				out[k++] = escape;
			out[k++] = ch;
		} else if (escape && ch == escape) {
			*seen = true;
		} else {
			out[k++] = ch;
		}
	}
	return k;
}

static bool console_input_ready(void *opaque, int fd, uint32_t revents)
{
	struct console *c = opaque;
	/* Half of pending: filtering can add a held-back escape byte. */
	uint8_t buf[sizeof(c->pending) / 2];
	ssize_t n;

	if (!console_flush_pending(c))
		return false; /* wait for rx_space */
	n = read(fd, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return true;
	if (n <= 0) {
		log_debug(&c->vm->log, "console", "console input closed");
		return false;
	}
	c->pending_len = console_escape_filter(&c->vm->machine, c->escape, &c->escape_seen,
					       buf, (size_t)n, c->pending);
	c->pending_off = 0;
	return console_flush_pending(c);
}

static bool console_space_ready(void *opaque, int fd, uint32_t revents)
{
	struct console *c = opaque;
	uint64_t v;

	(void)!read(fd, &v, sizeof(v));
	if (c->in_src && console_flush_pending(c))
		evloop_rearm(c->vm->loop, c->in_src);
	return true;
}

int console_create(struct vm *vm)
{
	struct console *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	c->vm = vm;
	c->in_fd = vm->cfg.console_in_fd;
	c->out_fd = vm->cfg.console_out_fd;
	c->own_out_fd = -1;
	c->escape = vm->cfg.console_escape;
	c->out_efd = -1;
	c->space_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->space_efd < 0) {
		r = -errno;
		goto err_free;
	}
	c->out_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	c->out_buf = malloc(CONSOLE_OUT_BUF);
	if (c->out_efd < 0 || !c->out_buf) {
		r = c->out_efd < 0 ? -errno : -ENOMEM;
		goto err_efd;
	}
	pthread_mutex_init(&c->out_lock, NULL);
	console_out_setup(c);
	vm->console = c;
	return 0;

err_efd:
	if (c->out_efd >= 0)
		close(c->out_efd);
	free(c->out_buf);
	close(c->space_efd);
err_free:
	free(c);
	return r;
}

int console_start(struct vm *vm)
{
	struct console *c = vm->console;
	int r;

	r = evloop_add(vm->loop, c->space_efd, POLLIN, console_space_ready, c,
		       NULL);
	if (!r)
		r = evloop_add(vm->loop, c->out_efd, POLLIN, console_out_queued,
			       c, NULL);
	if (r < 0)
		return r;
	if (c->in_fd >= 0) {
		r = evloop_add(vm->loop, c->in_fd, POLLIN, console_input_ready,
			       c, &c->in_src);
		if (r < 0) {
			log_err(&vm->log, "console",
				"cannot watch console input fd %d: %s",
				c->in_fd, strerror(-r));
			return r;
		}
	}
	return 0;
}

void console_destroy(struct vm *vm)
{
	struct console *c = vm->console;

	if (!c)
		return;
	close(c->space_efd);
	close(c->out_efd);
	if (c->own_out_fd >= 0)
		close(c->own_out_fd);
	pthread_mutex_destroy(&c->out_lock);
	free(c->out_buf);
	free(c);
	vm->console = NULL;
}
