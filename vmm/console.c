/* console.c: UART <-> fds: output writes, input through the event loop, the escape key. */
#include "vmm/console.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/serial.h"
#include "vmm/evloop.h"
#include "vmm/vm.h"

struct console {
	struct vm *vm;
	int in_fd;
	int out_fd;
	bool out_broken;
	unsigned char escape;
	bool escape_seen;
	int space_efd; /* the UART has room again */
	struct ev_source *in_src;
	/* Input read but not yet accepted by the UART. */
	uint8_t pending[256];
	size_t pending_off, pending_len;
};

static void console_tx(void *opaque, const uint8_t *buf, size_t len)
{
	struct console *c = opaque;

	while (len && !c->out_broken && c->out_fd >= 0) {
		ssize_t n = write(c->out_fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd p = {.fd = c->out_fd, .events = POLLOUT};

			(void)poll(&p, 1, 1000);
			continue;
		}
		if (n <= 0) {
			log_warn(&c->vm->log, "console",
				 "writing console output failed (%s); "
				 "discarding further output",
				 n < 0 ? strerror(errno) : "short write");
			c->out_broken = true;
			return;
		}
		buf += n;
		len -= (size_t)n;
	}
}

static void console_irq(void *opaque, int level)
{
	struct console *c = opaque;

	vm_irq_line(c->vm, c->vm->serial_gsi, level);
}

static void console_rx_space(void *opaque)
{
	struct console *c = opaque;
	uint64_t one = 1;

	/* Called under the UART lock: only poke the event loop. */
	(void)!write(c->space_efd, &one, sizeof(one));
}

static const struct serial_ops console_serial_ops = {
	.tx = console_tx,
	.irq = console_irq,
	.rx_space = console_rx_space,
};

/* Push pending input into the UART; true when all of it went in. */
static bool console_flush_pending(struct console *c)
{
	while (c->pending_off < c->pending_len) {
		size_t n = serial_receive(c->vm->serial,
					  c->pending + c->pending_off,
					  c->pending_len - c->pending_off);
		if (!n)
			return false;
		c->pending_off += n;
	}
	c->pending_off = c->pending_len = 0;
	return true;
}

size_t console_escape_filter(struct vm *vm, uint8_t escape, bool *seen,
			     const uint8_t *in, size_t n, uint8_t *out)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		uint8_t ch = in[i];

		if (*seen) {
			*seen = false;
			if (ch == 'x' || ch == 'X') {
				vm_request_exit(vm, MICROVM_EXIT_STOPPED, -1, 0,
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
	c->pending_len = console_escape_filter(c->vm, c->escape, &c->escape_seen,
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
	vm->serial = calloc(1, sizeof(*vm->serial));
	if (!vm->serial) {
		r = -ENOMEM;
		goto err_free;
	}
	c->vm = vm;
	c->in_fd = vm->cfg.console_in_fd;
	c->out_fd = vm->cfg.console_out_fd;
	c->escape = vm->cfg.console_escape;
	c->space_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->space_efd < 0) {
		r = -errno;
		goto err_serial;
	}
	serial_init(vm->serial, &console_serial_ops, c);
	vm->console = c;
	return 0;

err_serial:
	free(vm->serial);
	vm->serial = NULL;
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

	if (vm->serial) {
		serial_destroy(vm->serial);
		free(vm->serial);
		vm->serial = NULL;
	}
	if (!c)
		return;
	close(c->space_efd);
	free(c);
	vm->console = NULL;
}
