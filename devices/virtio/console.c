/* console.c: virtio-console: hvc0 (one port, no multiport) on the console fds, in place of the UART. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/virtio_console.h>
#include <linux/virtio_ids.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <termios.h>
#include <unistd.h>

#include "devices/pci/host.h"
#include "devices/virtio/devices.h"
#include "devices/virtio/virtio.h"
#include "vmm/console.h"
#include "vmm/evloop.h"
#include "devices/machine.h"

#define CON_QUEUE_SIZE 128
#define CON_RX 0 /* receiveq: host -> guest */
#define CON_TX 1 /* transmitq: guest -> host */
/*
 * Output goes out at most this much per write(2) once poll(2) said the
 * fd is writable: a blocking pipe then never blocks the loop.
 */
#define CON_OUT_CHUNK PIPE_BUF
#define CON_OUT_IOVS  16
#define CON_IN_CHUNK  256

struct virtio_con {
	struct virtio_dev vdev;
	struct virtio_dev_ops ops;
	struct machine *mach;
	int in_fd;  /* the embedder's; -1: no input */
	int out_fd; /* our dup of the embedder's; -1: output discarded */
	bool out_nonblock; /* O_NONBLOCK already: no poll before writes */
	unsigned char escape;
	uint16_t cols, rows; /* 0: not known yet; under vdev.lock */

	/* Loop thread only. */
	struct ev_source *in_src, *out_src;
	bool escape_seen;
	bool in_eof;
	bool in_waiting; /* input paused until the guest adds buffers */
	/* Input read but not yet in a guest buffer. */
	uint8_t pending[2 * CON_IN_CHUNK];
	size_t pending_off, pending_len;

	/* Under vdev.lock. */
	bool out_waiting; /* out_src armed for POLLOUT */
	bool out_broken;
	bool tx_active; /* txe is being written, tx_off bytes done */
	uint32_t tx_off;
	struct virtq_elem txe, rxe;
};

static void con_config_read(struct virtio_dev *d, unsigned int off,
			    uint8_t *data, unsigned int len)
{
	struct virtio_con *con = d->priv;
	struct virtio_console_config c;

	memset(&c, 0, sizeof(c));
	c.cols = htole16(con->cols);
	c.rows = htole16(con->rows);
	memcpy(data, (uint8_t *)&c + off, len);
}

/* ---- output: transmitq -> out fd ---- */

static bool con_out_ready(void *opaque, int fd, uint32_t revents);

/* Wait for POLLOUT on the out fd. Lock held. */
static int con_out_wait(struct virtio_con *con)
{
	int r;

	if (con->out_waiting)
		return 0;
	if (con->out_src)
		r = evloop_rearm(con->mach->loop, con->out_src);
	else
		r = evloop_add(con->mach->loop, con->out_fd, POLLOUT,
			       con_out_ready, con, &con->out_src);
	if (r == 0)
		con->out_waiting = true;
	return r;
}

/*
 * Write the next piece of the current transmit buffer. Bytes written,
 * 0 when the fd is full (POLLOUT is then awaited), or -errno. Lock held.
 */
static ssize_t con_write(struct virtio_con *con)
{
	struct iovec iov[CON_OUT_IOVS];
	size_t skip = con->tx_off, room = CON_OUT_CHUNK;
	unsigned int n = 0;
	ssize_t w;

	for (unsigned int i = 0; i < con->txe.nout && n < CON_OUT_IOVS && room;
	     i++) {
		size_t l = con->txe.iov[i].len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		l -= skip;
		if (l > room)
			l = room;
		iov[n].iov_base = (uint8_t *)con->txe.iov[i].base + skip;
		iov[n].iov_len = l;
		n++;
		room -= l;
		skip = 0;
	}
	if (!con->out_nonblock) {
		struct pollfd p = {.fd = con->out_fd, .events = POLLOUT};

		if (poll(&p, 1, 0) == 0)
			return con_out_wait(con);
	}
	do {
		w = writev(con->out_fd, iov, (int)n);
	} while (w < 0 && errno == EINTR);
	if (w < 0 && errno == EAGAIN)
		return con_out_wait(con);
	if (w < 0)
		return -errno;
	return w ? w : -EIO;
}

/* Write out what the guest queued, as far as the fd takes it. Lock held. */
static void con_tx_run(struct virtio_con *con)
{
	struct virtio_dev *d = &con->vdev;

	for (;;) {
		if (!con->tx_active) {
			if (virtio_pop(d, CON_TX, &con->txe) <= 0)
				return;
			con->tx_active = true;
			con->tx_off = 0;
		}
		while (con->tx_off < con->txe.out_len && con->out_fd >= 0 &&
		       !con->out_broken) {
			ssize_t w = con_write(con);

			if (w == 0)
				return; /* POLLOUT will bring us back */
			if (w < 0) {
				log_warn(con->mach->log, d->fn.name,
					 "writing console output failed (%s); "
					 "discarding further output",
					 strerror((int)-w));
				con->out_broken = true;
				break;
			}
			con->tx_off += (uint32_t)w;
		}
		con->tx_active = false;
		virtq_push(&d->q[CON_TX].vq, d->mach->mem, con->txe.head, 0);
		virtio_notify_queue(d, CON_TX);
	}
}

static bool con_out_ready(void *opaque, int fd, uint32_t revents)
{
	struct virtio_con *con = opaque;

	pthread_mutex_lock(&con->vdev.lock);
	con->out_waiting = false;
	con_tx_run(con);
	pthread_mutex_unlock(&con->vdev.lock);
	return false; /* con_tx_run re-armed it if it has to wait again */
}

/* ---- input: in fd -> receiveq ---- */

/* Move pending input into the guest's buffers; true when all went in. */
static bool con_flush_pending(struct virtio_con *con)
{
	struct virtio_dev *d = &con->vdev;
	bool done;

	pthread_mutex_lock(&d->lock);
	while (con->pending_off < con->pending_len &&
	       virtio_pop(d, CON_RX, &con->rxe) > 0) {
		size_t n = virtq_buf_to_iov(con->rxe.iov + con->rxe.nout,
					    con->rxe.nin, 0,
					    con->pending + con->pending_off,
					    con->pending_len - con->pending_off);

		con->pending_off += n;
		virtq_push(&d->q[CON_RX].vq, d->mach->mem, con->rxe.head,
			   (uint32_t)n);
		virtio_notify_queue(d, CON_RX);
	}
	done = con->pending_off == con->pending_len;
	pthread_mutex_unlock(&d->lock);
	if (done)
		con->pending_off = con->pending_len = 0;
	return done;
}

static bool con_in_ready(void *opaque, int fd, uint32_t revents)
{
	struct virtio_con *con = opaque;
	uint8_t buf[CON_IN_CHUNK];
	ssize_t n;

	/* Read only when what came before is in the guest: backpressure. */
	if (!con_flush_pending(con)) {
		con->in_waiting = true;
		return false;
	}
	n = read(fd, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return true;
	if (n <= 0) {
		log_debug(con->mach->log, con->vdev.fn.name,
			  "console input closed");
		con->in_eof = true;
		return false;
	}
	con->pending_len = console_escape_filter(con->mach, con->escape,
						 &con->escape_seen, buf,
						 (size_t)n, con->pending);
	con->pending_off = 0;
	if (!con_flush_pending(con)) {
		con->in_waiting = true;
		return false;
	}
	return true;
}

/* ---- virtio ops ---- */

static void con_queue_notify(struct virtio_dev *d, unsigned int q)
{
	struct virtio_con *con = d->priv;

	if (q == CON_TX) {
		pthread_mutex_lock(&d->lock);
		con_tx_run(con);
		pthread_mutex_unlock(&d->lock);
		return;
	}
	/* New receive buffers: deliver what waits, then read again. */
	if (con->in_waiting && con_flush_pending(con)) {
		int r = evloop_rearm(con->mach->loop, con->in_src);

		if (r < 0)
			log_err(con->mach->log, d->fn.name,
				"console input: %s", strerror(-r));
		else
			con->in_waiting = false;
	}
}

/* Whether the driver has taken F_SIZE and is up to hear of a size. */
static bool con_size_live(const struct virtio_dev *d)
{
	return (d->status & VIRTIO_CONFIG_S_DRIVER_OK) &&
	       (d->driver_features & (1ull << VIRTIO_CONSOLE_F_SIZE));
}

/*
 * Linux reads cols/rows only on a config change interrupt, never at probe:
 * without one at DRIVER_OK, hvc0 stays 0x0 until the first resize.
 */
static int con_activate(struct virtio_dev *d)
{
	struct virtio_con *con = d->priv;

	if (con->cols && con->rows && con_size_live(d))
		virtio_notify_config(d);
	return 0;
}

int virtio_console_set_size(struct virtio_con *con, uint16_t cols,
			    uint16_t rows)
{
	if (!con)
		return -ENODEV;
	pthread_mutex_lock(&con->vdev.lock);
	if (con->cols != cols || con->rows != rows) {
		log_debug(con->mach->log, con->vdev.fn.name, "console size %ux%u%s",
			  cols, rows,
			  con_size_live(&con->vdev) ? "" : " (driver not up)");
		con->cols = cols;
		con->rows = rows;
		if (con_size_live(&con->vdev))
			virtio_notify_config(&con->vdev);
	}
	pthread_mutex_unlock(&con->vdev.lock);
	return 0;
}

static void con_reset(struct virtio_dev *d)
{
	struct virtio_con *con = d->priv;

	/* Forget the buffer being written; the driver takes it back. */
	con->tx_active = false;
}

static int con_create(struct machine *mach, struct pci_dev_slot *slot,
		      const struct pci_plan_dev *pd)
{
	struct virtio_con *con = slot->priv;
	int r;

	r = virtio_pci_init(&con->vdev, mach, &con->ops, con, pd->name);
	slot->fn = &con->vdev.fn;
	if (r < 0)
		return r;
	if (con->in_fd >= 0) {
		r = evloop_add(mach->loop, con->in_fd, POLLIN, con_in_ready, con,
			       &con->in_src);
		if (r < 0) {
			log_err(mach->log, pd->name,
				"cannot watch console input fd %d: %s",
				con->in_fd, strerror(-r));
			return r;
		}
	}
	return 0;
}

static void con_free(struct virtio_con *con)
{
	if (con->out_fd >= 0)
		close(con->out_fd);
	free(con);
}

static void con_destroy(struct pci_dev_slot *slot)
{
	struct virtio_con *con = slot->priv;

	if (!con)
		return;
	slot->priv = NULL;
	virtio_pci_destroy(&con->vdev);
	con_free(con);
}

int virtio_console_add(struct machine *mach, int *in_fd, int *out_fd,
		       unsigned char escape, struct virtio_con **out)
{
	struct virtio_con *con = calloc(1, sizeof(*con));
	struct pci_dev_req req;
	struct winsize ws;
	int fl, r;

	if (!con)
		return -ENOMEM;
	con->mach = mach;
	con->in_fd = *in_fd;
	con->out_fd = -1;
	con->escape = escape;
	if (*out_fd >= 0) {
		/* Our own fd number: its poll source is separate from the
		 * input's even when the embedder gave one fd for both. */
		con->out_fd = fcntl(*out_fd, F_DUPFD_CLOEXEC, 0);
		if (con->out_fd < 0) {
			r = -errno;
			log_err(mach->log, "virtio-console",
				"console output fd %d: %s",
				*out_fd, strerror(-r));
			free(con);
			return r;
		}
		fl = fcntl(con->out_fd, F_GETFL);
		con->out_nonblock = fl >= 0 && (fl & O_NONBLOCK);
		if (ioctl(con->out_fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col &&
		    ws.ws_row) {
			con->cols = ws.ws_col;
			con->rows = ws.ws_row;
		}
	}
	/*
	 * hvc0 takes the console fds over. The UART is created later from
	 * the same config (console_create() in vm_init) and so finds none:
	 * it stays present for the guest, its output is discarded and it
	 * gets no input.
	 */
	*in_fd = -1;
	*out_fd = -1;

	con->ops = (struct virtio_dev_ops){
		.name = "virtio-console",
		.device_id = VIRTIO_ID_CONSOLE,
		.pci_class = 0x078000, /* simple communication controller */
		/* Always: the embedder may give a size later. */
		.features = 1ull << VIRTIO_CONSOLE_F_SIZE,
		.nqueues = 2,
		.queue_max = CON_QUEUE_SIZE,
		.config_size = sizeof(struct virtio_console_config),
		.config_read = con_config_read,
		.activate = con_activate,
		.reset = con_reset,
		.queue_notify = con_queue_notify,
	};
	virtio_pci_dev_req(&req, "virtio-console");
	r = mach->ops->pci_add(mach, &req, con_create, con_destroy, con);
	if (r < 0)
		con_free(con);
	else
		*out = con;
	return r;
}
