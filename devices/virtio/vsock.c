/* vsock.c: virtio-vsock: guest AF_VSOCK streams to host Unix sockets (Firecracker's convention), or the kernel's vhost-vsock. */
#include <errno.h>
#include <fcntl.h>
#include <linux/vhost.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_vsock.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/pci/host.h"
#include "devices/virtio/devices.h"
#include "devices/virtio/virtio.h"
#include "devices/virtio/vsock_proto.h"
#include "vmm/evloop.h"
#include "devices/machine.h"

/*
 * The Unix-socket back-end. All of its state is under the device lock and
 * all of its I/O runs on the event loop thread: one source on the loop, a
 * private epoll set holding the listening socket, a timer and every
 * connection's socket, so connections come and go without touching the
 * loop. Nothing blocks: sockets are non-blocking, host data is read
 * straight into the guest's receive buffers only when the guest has both a
 * buffer and credit for it, and guest data the host socket cannot take yet
 * waits in a per-connection buffer no larger than the credit we advertise.
 *
 * Packets for the guest wait as state, not as copies: RSTs for packets that
 * have no connection in a bounded queue, the other control packets as bits
 * on their connection, and data in the host sockets. Guest tx processing
 * stops while that queue could overflow, so a guest that posts no receive
 * buffers only slows itself down.
 */

#define VSOCK_RXQ	 0
#define VSOCK_TXQ	 1
#define VSOCK_EVQ	 2
#define VSOCK_QUEUE_SIZE 256
#define VSOCK_MAX_CONNS	 1024
#define VSOCK_BUF_ALLOC	 (256u * 1024) /* our receive buffer per connection */
/* RSTs waiting for a guest buffer: one per live connection, plus slack. */
#define VSOCK_RST_SLACK 256
#define VSOCK_RSTQ_CAP	(VSOCK_MAX_CONNS + VSOCK_RST_SLACK)
#define VSOCK_BUDGET	256 /* packets per queue per loop callback */
#define VSOCK_EP_EVENTS 64
#define VSOCK_HASH	256
/* Host ports of host-initiated connections start here. */
#define VSOCK_PORT_FIRST   (1u << 30)
#define VSOCK_LINE_MAX	   64 /* "CONNECT <port>\n" */
#define NS_PER_MS	   1000000ull
#define VSOCK_HANDSHAKE_NS (5000 * NS_PER_MS) /* host client: send CONNECT */
#define VSOCK_CONNECT_NS   (2000 * NS_PER_MS) /* guest: answer our REQUEST */
#define VSOCK_LINGER_NS	   (10000 * NS_PER_MS) /* both sides done: close it */
#define VSOCK_TICK_NS	   (250 * NS_PER_MS)

#define container_of(p, type, member) \
	((type *)((char *)(p)-offsetof(type, member)))

/* Intrusive list: heads are circular, an unlinked node has next == NULL. */
struct vlink {
	struct vlink *prev, *next;
};

static void vl_head(struct vlink *h)
{
	h->prev = h->next = h;
}

static bool vl_empty(const struct vlink *h)
{
	return h->next == h;
}

static void vl_del(struct vlink *n)
{
	if (!n->next)
		return;
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n->next = NULL;
}

static void vl_add_tail(struct vlink *h, struct vlink *n)
{
	vl_del(n);
	n->prev = h->prev;
	n->next = h;
	h->prev->next = n;
	h->prev = n;
}

/* Control packets a connection waits to send, in this order. */
enum {
	CTL_REQUEST = 1 << 0,
	CTL_RESPONSE = 1 << 1,
	CTL_CREDIT_UPDATE = 1 << 2,
	CTL_CREDIT_REQUEST = 1 << 3,
	CTL_SHUTDOWN = 1 << 4,
};

struct virtio_vsock;

struct vsock_conn {
	struct vsock_conn_state st;
	struct virtio_vsock *v;
	int fd; /* the host's Unix socket; -1 once closed */
	bool registered; /* in v->epfd */
	uint32_t ep_events;
	uint8_t ctl; /* CTL_* waiting for a guest buffer */
	uint8_t shut_flags; /* of the pending SHUTDOWN */
	bool close_after_ctl; /* nothing left to do after the control packets */
	bool rx_ready; /* host socket readable: on v->ready */
	bool host_eof; /* the host client will send no more */
	bool host_hup; /* the host client will receive no more */
	bool host_wr_shut; /* we shut down writing to the host client */
	bool credit_requested;
	bool dead; /* closed, on v->dead until the callback ends */
	uint64_t deadline; /* CLOCK_MONOTONIC ns; 0: none */
	char line[VSOCK_LINE_MAX]; /* the CONNECT line so far */
	unsigned int line_len;
	/* Guest data the host socket has not taken yet: a ring of
	 * st.buf_alloc bytes, allocated while it holds anything. */
	uint8_t *rbuf;
	uint32_t rhead, rlen;
	struct vsock_conn *hnext; /* hash chain (local, peer port) */
	bool hashed;
	struct vlink all; /* v->conns, then v->dead */
	struct vlink ctl_link;
	struct vlink ready_link;
};

struct virtio_vsock {
	struct virtio_dev vdev;
	struct machine *mach;
	uint64_t guest_cid;
	char name[32];
	struct ratelimit rl;

	/* Unix socket back-end */
	char *uds;
	dev_t uds_dev;
	ino_t uds_ino;
	int listen_fd;
	bool listen_paused;
	int timer_fd;
	bool timer_armed;
	int epfd;
	struct ev_source *ep_src;
	struct vsock_conn *hash[VSOCK_HASH];
	struct vlink conns, dead, ctl, ready;
	unsigned int nconns, ndeadlines;
	uint32_t next_port;
	struct vsock_pkt rstq[VSOCK_RSTQ_CAP];
	unsigned int rst_head, rst_len;
	bool rx_held; /* rxe is a popped guest buffer not used yet */
	bool rx_pushed, tx_stalled;
	struct virtq_elem rxe, txe;
	struct iovec iov[VIRTQ_MAX_SEGS];

	/* vhost back-end */
	bool use_vhost;
	int vhost_fd;
	uint64_t vhost_features;
	bool vhost_running;
};

#define vs_warn(v, ...)                                                  \
	do {                                                             \
		if (ratelimit_ok(&(v)->rl, 10))                          \
			log_warn((v)->mach->log, (v)->name, __VA_ARGS__); \
	} while (0)
#define vs_debug(v, ...) log_debug((v)->mach->log, (v)->name, __VA_ARGS__)

/* ---- connections ---- */

static unsigned int conn_hash(uint32_t local, uint32_t peer)
{
	uint32_t h = local * 0x9e3779b1u ^ peer * 0x85ebca6bu;

	return (h ^ (h >> 16)) % VSOCK_HASH;
}

static struct vsock_conn *conn_find(struct virtio_vsock *v, uint32_t local,
				    uint32_t peer)
{
	struct vsock_conn *c = v->hash[conn_hash(local, peer)];

	while (c && (c->st.local_port != local || c->st.peer_port != peer))
		c = c->hnext;
	return c;
}

static void conn_hash_add(struct vsock_conn *c)
{
	struct vsock_conn **b =
		&c->v->hash[conn_hash(c->st.local_port, c->st.peer_port)];

	c->hnext = *b;
	*b = c;
	c->hashed = true;
}

static void conn_hash_del(struct vsock_conn *c)
{
	struct vsock_conn **p =
		&c->v->hash[conn_hash(c->st.local_port, c->st.peer_port)];

	if (!c->hashed)
		return;
	while (*p && *p != c)
		p = &(*p)->hnext;
	if (*p)
		*p = c->hnext;
	c->hashed = false;
}

static void conn_set_deadline(struct vsock_conn *c, uint64_t ns_from_now)
{
	uint64_t t = ns_from_now ? machine_now_ns() + ns_from_now : 0;

	if (!c->deadline != !t)
		c->v->ndeadlines += t ? 1 : -1;
	c->deadline = t;
}

/*
 * Room for one more RST without breaking the promise that every live
 * connection can still queue its own: guest tx processing and new
 * connections wait for this.
 */
static bool rst_room(const struct virtio_vsock *v)
{
	return v->rst_len + v->nconns + 1 <= VSOCK_RSTQ_CAP;
}

static void rst_push(struct virtio_vsock *v, const struct vsock_pkt *p)
{
	if (v->rst_len == VSOCK_RSTQ_CAP) {
		vs_warn(v, "RST queue full; dropping a reset"); /* our bug */
		return;
	}
	v->rstq[(v->rst_head + v->rst_len++) % VSOCK_RSTQ_CAP] = *p;
}

static void conn_ctl(struct vsock_conn *c, uint8_t bit)
{
	c->ctl |= bit;
	if (!c->ctl_link.next)
		vl_add_tail(&c->v->ctl, &c->ctl_link);
}

/*
 * Close the host side, drop the connection from every list and leave it
 * for reaping at the end of this callback (pointers to it may still be in
 * hand). With `rst` the guest is told.
 */
static void conn_close(struct vsock_conn *c, bool rst)
{
	struct virtio_vsock *v = c->v;

	if (c->dead)
		return;
	if (rst && c->hashed) {
		struct vsock_pkt p;

		vsock_conn_make_pkt(&c->st, v->guest_cid, VIRTIO_VSOCK_OP_RST,
				    0, 0, &p);
		rst_push(v, &p);
	}
	if (c->fd >= 0) {
		if (c->registered)
			epoll_ctl(v->epfd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = -1;
	c->dead = true;
	c->registered = false;
	c->st.state = VSOCK_ST_CLOSED;
	conn_hash_del(c);
	conn_set_deadline(c, 0);
	vl_del(&c->ctl_link);
	vl_del(&c->ready_link);
	c->rx_ready = false;
	vl_add_tail(&v->dead, &c->all);
	v->nconns--;
	free(c->rbuf);
	c->rbuf = NULL;
	c->rlen = 0;
}

static void reap(struct virtio_vsock *v)
{
	while (!vl_empty(&v->dead)) {
		struct vsock_conn *c =
			container_of(v->dead.next, struct vsock_conn, all);

		vl_del(&c->all);
		free(c);
	}
}

static struct vsock_conn *conn_new(struct virtio_vsock *v, int fd,
				   enum vsock_state state, uint32_t local,
				   uint32_t peer)
{
	struct vsock_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->v = v;
	c->fd = fd;
	vsock_conn_init(&c->st, state, local, peer, VSOCK_BUF_ALLOC);
	vl_add_tail(&v->conns, &c->all);
	v->nconns++;
	if (state != VSOCK_ST_HANDSHAKE)
		conn_hash_add(c);
	return c;
}

static bool conn_can_read(const struct vsock_conn *c)
{
	return c->st.state == VSOCK_ST_ESTABLISHED && !c->host_eof &&
	       !(c->st.peer_shut & VIRTIO_VSOCK_SHUTDOWN_RCV);
}

/*
 * Watch the host socket for what the connection can use now. An
 * established connection stays in the set (with no events) to see the
 * host client hang up.
 */
static void conn_update(struct vsock_conn *c)
{
	struct epoll_event e = {.data.ptr = c};
	bool reg = false;
	uint32_t ev = 0;

	if (c->fd < 0)
		return;
	if (c->st.state == VSOCK_ST_HANDSHAKE) {
		ev = EPOLLIN;
		reg = true;
	} else if (c->st.state == VSOCK_ST_ESTABLISHED) {
		if (conn_can_read(c) && !c->rx_ready &&
		    vsock_peer_credit(&c->st))
			ev |= EPOLLIN;
		if (c->rlen)
			ev |= EPOLLOUT;
		reg = ev || !c->host_hup;
	}
	if (!reg) {
		if (c->registered)
			epoll_ctl(c->v->epfd, EPOLL_CTL_DEL, c->fd, NULL);
		c->registered = false;
		return;
	}
	if (c->registered && c->ep_events == ev)
		return;
	e.events = ev;
	if (epoll_ctl(c->v->epfd, c->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD,
		      c->fd, &e) < 0) {
		vs_warn(c->v, "port %u: epoll: %s; resetting", c->st.local_port,
			strerror(errno));
		conn_close(c, true);
		return;
	}
	c->registered = true;
	c->ep_events = ev;
}

static void conn_maybe_credit_update(struct vsock_conn *c)
{
	if (vsock_want_credit_update(&c->st))
		conn_ctl(c, CTL_CREDIT_UPDATE);
}

/* Both data directions are finished or the guest closed: wind down. */
static void conn_check_shutdown(struct vsock_conn *c)
{
	uint8_t ps = c->st.peer_shut;

	if (c->fd < 0)
		return;
	if (c->rlen) {
		/* Guest data to deliver first; a closed guest waits a while. */
		if (ps == VSOCK_SHUTDOWN_BOTH && !c->deadline)
			conn_set_deadline(c, VSOCK_LINGER_NS);
		return;
	}
	if ((ps & VIRTIO_VSOCK_SHUTDOWN_SEND) && !c->host_wr_shut) {
		shutdown(c->fd, SHUT_WR);
		c->host_wr_shut = true;
	}
	if (ps == VSOCK_SHUTDOWN_BOTH) {
		/* The guest closed: confirm with RST, as Linux hosts do. */
		conn_close(c, true);
		return;
	}
	if ((ps & VIRTIO_VSOCK_SHUTDOWN_SEND) && c->host_eof && !c->deadline)
		conn_set_deadline(c, VSOCK_LINGER_NS);
}

/* Write buffered guest data to the host. */
static void conn_flush(struct vsock_conn *c)
{
	uint32_t cap = c->st.buf_alloc, first;
	struct iovec iov[2];
	struct msghdr m = {.msg_iov = iov};
	ssize_t n;

	if (!c->rlen)
		return;
	first = c->rlen < cap - c->rhead ? c->rlen : cap - c->rhead;
	iov[0] = (struct iovec){c->rbuf + c->rhead, first};
	iov[1] = (struct iovec){c->rbuf, c->rlen - first};
	m.msg_iovlen = iov[1].iov_len ? 2 : 1;
	n = sendmsg(c->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		vs_debug(c->v, "port %u: host socket: %s; resetting",
			 c->st.local_port, strerror(errno));
		conn_close(c, true);
		return;
	}
	c->rhead = (uint32_t)((c->rhead + (uint32_t)n) % cap);
	c->rlen -= (uint32_t)n;
	vsock_conn_forwarded(&c->st, (uint32_t)n);
	if (!c->rlen) {
		free(c->rbuf);
		c->rbuf = NULL;
		c->rhead = 0;
	}
	conn_maybe_credit_update(c);
	conn_check_shutdown(c);
}

/*
 * Host iovecs for bytes [skip, skip + len) of guest iovecs; returns the
 * count and the bytes covered in *got.
 */
static unsigned int iov_slice(const struct virtq_iov *src, unsigned int n,
			      size_t skip, size_t len, struct iovec *dst,
			      size_t *got)
{
	unsigned int k = 0;
	size_t have = 0;

	for (unsigned int i = 0; i < n && have < len; i++) {
		size_t l = src[i].len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		l -= skip;
		if (l > len - have)
			l = len - have;
		dst[k++] = (struct iovec){(uint8_t *)src[i].base + skip, l};
		have += l;
		skip = 0;
	}
	*got = have;
	return k;
}

/* RW payload from the guest: to the host socket, the rest into the ring. */
static void conn_take_data(struct vsock_conn *c, const struct virtq_elem *e,
			   uint32_t len)
{
	struct virtio_vsock *v = c->v;
	uint32_t done = 0, cap = c->st.buf_alloc;

	if (!c->rlen) {
		struct msghdr m = {.msg_iov = v->iov};
		size_t got;
		ssize_t n;

		m.msg_iovlen = iov_slice(e->iov, e->nout, VSOCK_HDR_SIZE, len,
					 v->iov, &got);
		n = sendmsg(c->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR) {
			vs_debug(v, "port %u: host socket: %s; resetting",
				 c->st.local_port, strerror(errno));
			conn_close(c, true);
			return;
		}
		if (n > 0)
			done = (uint32_t)n;
		vsock_conn_forwarded(&c->st, done);
	}
	if (done < len) {
		uint32_t rest = len - done, tail, first;

		/* vsock_conn_recv() checked the credit; the ring fits. */
		if (c->rlen + rest > cap) {
			vs_warn(v, "port %u: buffer overrun; resetting",
				c->st.local_port);
			conn_close(c, true);
			return;
		}
		if (!c->rbuf) {
			c->rbuf = malloc(cap);
			if (!c->rbuf) {
				conn_close(c, true);
				return;
			}
			c->rhead = 0;
		}
		tail = (c->rhead + c->rlen) % cap;
		first = rest < cap - tail ? rest : cap - tail;
		virtq_iov_to_buf(e->iov, e->nout, VSOCK_HDR_SIZE + done,
				 c->rbuf + tail, first);
		virtq_iov_to_buf(e->iov, e->nout, VSOCK_HDR_SIZE + done + first,
				 c->rbuf, rest - first);
		c->rlen += rest;
	}
	conn_maybe_credit_update(c);
}

/* ---- host side: listener, handshake, guest-initiated connects ---- */

static uint32_t alloc_local_port(struct virtio_vsock *v, uint32_t peer)
{
	for (;;) {
		uint32_t p = v->next_port++;

		if (p < VSOCK_PORT_FIRST) {
			p = VSOCK_PORT_FIRST;
			v->next_port = p + 1;
		}
		/* At most nconns ports are taken: this ends. */
		if (!conn_find(v, p, peer))
			return p;
	}
}

/* A host client on PATH: read "CONNECT <port>\n", then ask the guest. */
static void conn_handshake(struct vsock_conn *c)
{
	struct virtio_vsock *v = c->v;
	size_t room = sizeof(c->line) - c->line_len;
	char *at = c->line + c->line_len, *nl;
	uint32_t port;
	ssize_t n;

	/*
	 * Peek, then take only the line: the data after it stays in the
	 * socket for the guest.
	 */
	n = recv(c->fd, at, room, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 &&
	    (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0)
		goto close;
	nl = memchr(at, '\n', (size_t)n);
	if (nl)
		n = nl - at + 1;
	if (recv(c->fd, at, (size_t)n, MSG_DONTWAIT) != n)
		goto close;
	c->line_len += (unsigned int)n;
	if (!nl) {
		if (c->line_len == sizeof(c->line))
			goto close; /* no line of a sane length */
		return;
	}
	if (vsock_parse_connect(c->line, c->line_len - 1, &port) < 0)
		goto close;
	c->st.peer_port = port;
	c->st.local_port = alloc_local_port(v, port);
	c->st.state = VSOCK_ST_CONNECTING;
	conn_hash_add(c);
	conn_set_deadline(c, VSOCK_CONNECT_NS);
	conn_ctl(c, CTL_REQUEST);
	vs_debug(v, "host connects to guest port %u (host port %u)", port,
		 c->st.local_port);
	conn_update(c);
	return;
close:
	vs_debug(v, "host client sent no valid CONNECT line; closing");
	conn_close(c, false);
}

static void listener_pause(struct virtio_vsock *v, bool pause)
{
	struct epoll_event e = {.events = pause ? 0 : EPOLLIN,
				.data.ptr = &v->listen_fd};

	if (v->listen_paused == pause)
		return;
	v->listen_paused = pause;
	epoll_ctl(v->epfd, EPOLL_CTL_MOD, v->listen_fd, &e);
}

static void listener_accept(struct virtio_vsock *v)
{
	while (!v->listen_paused) {
		struct vsock_conn *c;
		int fd;

		if (v->nconns >= VSOCK_MAX_CONNS || !rst_room(v)) {
			listener_pause(v, true); /* until the next tick */
			return;
		}
		fd = accept4(v->listen_fd, NULL, NULL,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EPROTO)
				continue;
			vs_warn(v, "accept on %s: %s", v->uds, strerror(errno));
			listener_pause(v, true);
			return;
		}
		c = conn_new(v, fd, VSOCK_ST_HANDSHAKE, 0, 0);
		if (!c) {
			close(fd);
			continue;
		}
		conn_set_deadline(c, VSOCK_HANDSHAKE_NS);
		conn_update(c);
	}
}

/* The guest asks for host port p->dst_port: connect to PATH_<port>. */
static void guest_connect(struct virtio_vsock *v, const struct vsock_pkt *p)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	struct vsock_conn *c;
	struct vsock_pkt rst;
	int fd;

	vsock_pkt_rst_reply(p, &rst);
	if (v->nconns >= VSOCK_MAX_CONNS) {
		vs_warn(v, "%u connections open; refusing guest port %u",
			v->nconns, p->src_port);
		rst_push(v, &rst);
		return;
	}
	snprintf(a.sun_path, sizeof(a.sun_path), "%s_%u", v->uds, p->dst_port);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		vs_debug(v, "guest connects to port %u: %s: %s", p->dst_port,
			 a.sun_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		rst_push(v, &rst);
		return;
	}
	c = conn_new(v, fd, VSOCK_ST_ESTABLISHED, p->dst_port, p->src_port);
	if (!c) {
		close(fd);
		rst_push(v, &rst);
		return;
	}
	c->st.peer_buf_alloc = p->buf_alloc;
	c->st.peer_fwd_cnt = p->fwd_cnt;
	conn_ctl(c, CTL_RESPONSE);
	vs_debug(v, "guest port %u connected to %s", p->src_port, a.sun_path);
	conn_update(c);
}

static void conn_connected(struct vsock_conn *c)
{
	char ok[32];
	int n = snprintf(ok, sizeof(ok), "OK %u\n", c->st.local_port);

	conn_set_deadline(c, 0);
	/* A fresh socket has room for a line; anything else is an error. */
	if (send(c->fd, ok, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) != n) {
		vs_debug(c->v, "host client of port %u went away",
			 c->st.peer_port);
		conn_close(c, true);
	}
}

/* ---- guest tx: packets from the guest ---- */

static void tx_packet(struct virtio_vsock *v, const struct virtq_elem *e)
{
	struct virtio_vsock_hdr h;
	struct vsock_conn *c;
	struct vsock_pkt p, rst;
	const char *why = "";
	unsigned int act;

	if (e->out_len < VSOCK_HDR_SIZE) {
		vs_warn(v, "tx buffer of %u bytes has no header; dropped",
			e->out_len);
		return;
	}
	/* One copy of the header: the guest cannot change it under us. */
	virtq_iov_to_buf(e->iov, e->nout, 0, &h, sizeof(h));
	vsock_hdr_decode(&h, &p);
	switch (vsock_pkt_check(&p, e->out_len - VSOCK_HDR_SIZE, v->guest_cid,
				&why)) {
	case VSOCK_PKT_DROP:
		vs_warn(v, "dropped a packet (op %u): %s", p.op, why);
		return;
	case VSOCK_PKT_RST:
		vs_warn(v, "bad packet (op %u, port %u -> %u): %s; reset", p.op,
			p.src_port, p.dst_port, why);
		vsock_pkt_rst_reply(&p, &rst);
		rst_push(v, &rst);
		/* The connection, if any, is broken now. */
		if (p.dst_cid == VSOCK_HOST_CID &&
		    (c = conn_find(v, p.dst_port, p.src_port)))
			conn_close(c, false);
		return;
	case VSOCK_PKT_OK:
		break;
	}
	c = conn_find(v, p.dst_port, p.src_port);
	if (!c) {
		if (p.op == VIRTIO_VSOCK_OP_REQUEST) {
			guest_connect(v, &p);
		} else if (p.op != VIRTIO_VSOCK_OP_RST) {
			vsock_pkt_rst_reply(&p, &rst);
			rst_push(v, &rst);
		}
		return;
	}
	act = vsock_conn_recv(&c->st, &p);
	if (act & VSOCK_ACT_CLOSE) {
		conn_close(c, false);
		return;
	}
	if (act & VSOCK_ACT_RST) {
		vs_debug(v, "guest port %u broke the protocol (op %u); reset",
			 p.src_port, p.op);
		conn_close(c, true);
		return;
	}
	if (act & VSOCK_ACT_CREDIT)
		c->credit_requested = false;
	if (act & VSOCK_ACT_CONNECTED)
		conn_connected(c);
	if (c->fd >= 0 && (act & VSOCK_ACT_DATA))
		conn_take_data(c, e, p.len);
	if (c->fd >= 0 && (act & VSOCK_ACT_CREDIT_UPDATE))
		conn_ctl(c, CTL_CREDIT_UPDATE);
	if (c->fd >= 0 && (act & VSOCK_ACT_SHUTDOWN))
		conn_check_shutdown(c);
	conn_update(c);
}

static void self_kick(struct virtio_vsock *v, unsigned int q)
{
	uint64_t one = 1;

	(void)!write(v->vdev.q[q].kick_fd, &one, sizeof(one));
}

static void tx_process(struct virtio_vsock *v)
{
	struct virtio_dev *d = &v->vdev;
	unsigned int budget = VSOCK_BUDGET;
	bool pushed = false;

	v->tx_stalled = false;
	while (budget) {
		if (!rst_room(v)) {
			v->tx_stalled = true; /* until the guest takes RSTs */
			break;
		}
		if (virtio_pop(d, VSOCK_TXQ, &v->txe) <= 0)
			break;
		tx_packet(v, &v->txe);
		virtq_push(&d->q[VSOCK_TXQ].vq, d->mach->mem, v->txe.head, 0);
		pushed = true;
		budget--;
	}
	if (!budget)
		self_kick(v, VSOCK_TXQ); /* more later: let others run */
	if (pushed)
		virtio_notify_queue(d, VSOCK_TXQ);
}

/* ---- guest rx: packets to the guest ---- */

/* A guest receive buffer in v->rxe, if it has given us one. */
static bool rx_get(struct virtio_vsock *v)
{
	struct virtio_dev *d = &v->vdev;

	while (!v->rx_held) {
		if (virtio_pop(d, VSOCK_RXQ, &v->rxe) <= 0)
			return false;
		if (v->rxe.in_len >= VSOCK_HDR_SIZE) {
			v->rx_held = true;
			break;
		}
		vs_warn(v, "rx buffer of %u bytes is too small; returned empty",
			v->rxe.in_len);
		virtq_push(&d->q[VSOCK_RXQ].vq, d->mach->mem, v->rxe.head, 0);
		v->rx_pushed = true;
	}
	return true;
}

static void rx_put(struct virtio_vsock *v, const struct vsock_pkt *p)
{
	struct virtio_dev *d = &v->vdev;
	struct virtio_vsock_hdr h;

	vsock_hdr_encode(p, &h);
	virtq_buf_to_iov(&v->rxe.iov[v->rxe.nout], v->rxe.nin, 0, &h,
			 sizeof(h));
	virtq_push(&d->q[VSOCK_RXQ].vq, d->mach->mem, v->rxe.head,
		   VSOCK_HDR_SIZE + p->len);
	v->rx_held = false;
	v->rx_pushed = true;
}

static void rx_send_ctl(struct virtio_vsock *v, struct vsock_conn *c)
{
	static const uint16_t ops[] = {
		VIRTIO_VSOCK_OP_REQUEST,       VIRTIO_VSOCK_OP_RESPONSE,
		VIRTIO_VSOCK_OP_CREDIT_UPDATE, VIRTIO_VSOCK_OP_CREDIT_REQUEST,
		VIRTIO_VSOCK_OP_SHUTDOWN,
	};
	unsigned int i = (unsigned int)__builtin_ctz(c->ctl);
	struct vsock_pkt p;

	c->ctl &= (uint8_t) ~(1u << i);
	vsock_conn_make_pkt(
		&c->st, v->guest_cid, ops[i],
		ops[i] == VIRTIO_VSOCK_OP_SHUTDOWN ? c->shut_flags : 0, 0, &p);
	rx_put(v, &p);
	if (!c->ctl) {
		vl_del(&c->ctl_link);
		if (c->close_after_ctl)
			conn_close(c, false);
	}
}

/* The host client will not receive any more (it closed): tell the guest. */
static void conn_host_gone(struct vsock_conn *c)
{
	c->shut_flags |= VSOCK_SHUTDOWN_BOTH;
	conn_ctl(c, CTL_SHUTDOWN);
	/* Nothing can flow any more: the guest's later packets get RSTs. */
	c->close_after_ctl = true;
}

/* Read host data for connection c into the held guest buffer. */
static void rx_send_data(struct virtio_vsock *v, struct vsock_conn *c)
{
	uint32_t credit = vsock_peer_credit(&c->st);
	size_t want = v->rxe.in_len - VSOCK_HDR_SIZE, got;
	struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
	struct vsock_pkt p;
	unsigned int n;
	ssize_t r;

	if (!conn_can_read(c) || !credit) {
		vl_del(&c->ready_link);
		c->rx_ready = false;
		if (conn_can_read(c) && !c->credit_requested) {
			c->credit_requested = true;
			conn_ctl(c, CTL_CREDIT_REQUEST);
		}
		conn_update(c);
		return;
	}
	if (want > credit)
		want = credit;
	if (want > VSOCK_MAX_PAYLOAD)
		want = VSOCK_MAX_PAYLOAD;
	n = iov_slice(&v->rxe.iov[v->rxe.nout], v->rxe.nin, VSOCK_HDR_SIZE,
		      want, v->iov, &got);
	r = n ? readv(c->fd, v->iov, (int)n) : 0;
	if (r < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
			vl_del(&c->ready_link);
			c->rx_ready = false;
			conn_update(c);
		} else {
			conn_close(c, true);
		}
		return;
	}
	if (r == 0 && n) {
		/* EOF. Half-closed (SHUT_WR) or gone altogether (HUP)? */
		c->host_eof = true;
		vl_del(&c->ready_link);
		c->rx_ready = false;
		if (!c->host_hup && poll(&pfd, 1, 0) == 1 &&
		    (pfd.revents & (POLLHUP | POLLERR)))
			c->host_hup = true;
		if (c->host_hup) {
			conn_host_gone(c);
		} else {
			c->shut_flags |= VIRTIO_VSOCK_SHUTDOWN_SEND;
			conn_ctl(c, CTL_SHUTDOWN);
			conn_check_shutdown(c);
		}
		conn_update(c);
		return;
	}
	vsock_conn_make_pkt(&c->st, v->guest_cid, VIRTIO_VSOCK_OP_RW, 0,
			    (uint32_t)r, &p);
	rx_put(v, &p);
	/* Round robin between readable connections. */
	vl_add_tail(&v->ready, &c->ready_link);
}

static void rx_flush(struct virtio_vsock *v)
{
	unsigned int budget = VSOCK_BUDGET;

	v->rx_pushed = false;
	while (budget &&
	       (v->rst_len || !vl_empty(&v->ctl) || !vl_empty(&v->ready))) {
		if (!rx_get(v))
			break; /* the guest's next rx kick resumes */
		if (v->rst_len) {
			rx_put(v, &v->rstq[v->rst_head]);
			v->rst_head = (v->rst_head + 1) % VSOCK_RSTQ_CAP;
			v->rst_len--;
			budget--;
		} else if (!vl_empty(&v->ctl)) {
			rx_send_ctl(v,
				    container_of(v->ctl.next, struct vsock_conn,
						 ctl_link));
			budget--;
		} else {
			bool held = v->rx_held;

			rx_send_data(v, container_of(v->ready.next,
						     struct vsock_conn,
						     ready_link));
			if (held && !v->rx_held)
				budget--;
		}
	}
	if (!budget)
		self_kick(v, VSOCK_RXQ);
	if (v->rx_pushed)
		virtio_notify_queue(&v->vdev, VSOCK_RXQ);
}

/* ---- the private epoll set ---- */

static void timer_tick(struct virtio_vsock *v)
{
	uint64_t now = machine_now_ns(), ticks;
	struct vlink *l, *next;

	(void)!read(v->timer_fd, &ticks, sizeof(ticks));
	for (l = v->conns.next; l != &v->conns; l = next) {
		struct vsock_conn *c = container_of(l, struct vsock_conn, all);

		next = l->next;
		if (!c->deadline || now < c->deadline)
			continue;
		if (c->st.state == VSOCK_ST_HANDSHAKE) {
			vs_debug(v, "host client sent no CONNECT line in time");
			conn_close(c, false);
		} else if (c->st.state == VSOCK_ST_CONNECTING) {
			vs_debug(v,
				 "guest did not answer a connection to "
				 "port %u in time",
				 c->st.peer_port);
			conn_close(c, true);
		} else {
			conn_close(c, true);
		}
	}
	listener_pause(v, false);
}

static void timer_update(struct virtio_vsock *v)
{
	bool want = v->ndeadlines || v->listen_paused;
	struct itimerspec its = {0};

	if (want == v->timer_armed || v->timer_fd < 0)
		return;
	if (want) {
		its.it_value.tv_nsec = (long)VSOCK_TICK_NS;
		its.it_interval.tv_nsec = (long)VSOCK_TICK_NS;
	}
	if (timerfd_settime(v->timer_fd, 0, &its, NULL) == 0)
		v->timer_armed = want;
}

static void conn_event(struct vsock_conn *c, uint32_t events)
{
	if (c->fd < 0)
		return;
	if (c->st.state == VSOCK_ST_HANDSHAKE) {
		conn_handshake(c);
		return;
	}
	if (c->st.state != VSOCK_ST_ESTABLISHED) {
		conn_update(c);
		return;
	}
	if (events & (EPOLLHUP | EPOLLERR))
		c->host_hup = true;
	if (c->rlen && (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)))
		conn_flush(c);
	if (c->fd < 0)
		return;
	if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && conn_can_read(c) &&
	    !c->rx_ready) {
		c->rx_ready = true;
		vl_add_tail(&c->v->ready, &c->ready_link);
	} else if (c->host_hup && c->host_eof && !c->close_after_ctl) {
		/* Half-closed earlier, now gone: nothing more can flow. */
		conn_host_gone(c);
	}
	conn_update(c);
}

/* After any work: deliver what waits, resume a stalled tx, free the dead. */
static void vsock_settle(struct virtio_vsock *v)
{
	rx_flush(v);
	if (v->tx_stalled && rst_room(v))
		self_kick(v, VSOCK_TXQ);
	reap(v);
	timer_update(v);
}

static bool vsock_ep_cb(void *opaque, int fd, uint32_t revents)
{
	struct virtio_vsock *v = opaque;
	struct epoll_event ev[VSOCK_EP_EVENTS];
	int n;

	pthread_mutex_lock(&v->vdev.lock);
	/* Under the lock: a device reset cannot free what we are told. */
	n = epoll_wait(v->epfd, ev, VSOCK_EP_EVENTS, 0);
	for (int i = 0; i < n; i++) {
		if (ev[i].data.ptr == &v->listen_fd)
			listener_accept(v);
		else if (ev[i].data.ptr == &v->timer_fd)
			timer_tick(v);
		else
			conn_event(ev[i].data.ptr, ev[i].events);
	}
	vsock_settle(v);
	pthread_mutex_unlock(&v->vdev.lock);
	return true;
}

/* ---- vhost-vsock back-end ---- */

static int vhost_ioctl(struct virtio_vsock *v, unsigned long req,
		       const char *what, void *arg)
{
	if (ioctl(v->vhost_fd, req, arg) < 0) {
		int e = errno;

		log_err(v->mach->log, v->name, "vhost-vsock: %s: %s", what,
			strerror(e));
		return -e;
	}
	return 0;
}

static int vhost_open(struct virtio_vsock *v)
{
	const uint64_t need = (1ull << VIRTIO_F_VERSION_1) |
			      (1ull << VIRTIO_RING_F_INDIRECT_DESC) |
			      (1ull << VIRTIO_RING_F_EVENT_IDX);
	uint64_t cid = v->guest_cid;
	int r;

	v->vhost_fd = open("/dev/vhost-vsock", O_RDWR | O_CLOEXEC);
	if (v->vhost_fd < 0) {
		r = -errno;
		if (r == -ENOENT)
			log_err(v->mach->log, v->name,
				"--vsock vhost=on: /dev/vhost-vsock does not "
				"exist (modprobe vhost_vsock, or use "
				"uds=PATH without vhost=on)");
		else
			log_err(v->mach->log, v->name,
				"--vsock vhost=on: /dev/vhost-vsock: %s",
				strerror(-r));
		return r == -EACCES ? -EPERM : r;
	}
	r = vhost_ioctl(v, VHOST_SET_OWNER, "VHOST_SET_OWNER", NULL);
	if (!r)
		r = vhost_ioctl(v, VHOST_GET_FEATURES, "VHOST_GET_FEATURES",
				&v->vhost_features);
	if (r)
		return r;
	if ((v->vhost_features & need) != need) {
		log_err(v->mach->log, v->name,
			"--vsock vhost=on: the kernel's vhost-vsock lacks "
			"features 0x%llx",
			(unsigned long long)(need & ~v->vhost_features));
		return -ENOTSUP;
	}
	if (ioctl(v->vhost_fd, VHOST_VSOCK_SET_GUEST_CID, &cid) < 0) {
		r = -errno;
		if (r == -EADDRINUSE)
			log_err(v->mach->log, v->name,
				"--vsock cid=%llu: another VM on this host "
				"has that CID",
				(unsigned long long)cid);
		else
			log_err(v->mach->log, v->name,
				"--vsock cid=%llu: vhost-vsock refused it: %s",
				(unsigned long long)cid, strerror(-r));
		return r;
	}
	return 0;
}

/* DRIVER_OK: hand the rx and tx rings to the kernel. Lock held. */
static int vhost_start(struct virtio_vsock *v)
{
	struct virtio_dev *d = &v->vdev;
	const struct guest_mem *mem = v->mach->mem;
	uint64_t features = d->driver_features & v->vhost_features;
	struct {
		struct vhost_memory m;
		struct vhost_memory_region r[GUEST_MEM_MAX_REGIONS];
	} table = {0};
	int running = 1, r;

	table.m.nregions = mem->nregions;
	for (unsigned int i = 0; i < mem->nregions; i++)
		table.m.regions[i] = (struct vhost_memory_region){
			.guest_phys_addr = mem->regions[i].gpa,
			.memory_size = mem->regions[i].size,
			.userspace_addr =
				(uint64_t)(uintptr_t)mem->regions[i].hva,
		};
	r = vhost_ioctl(v, VHOST_SET_FEATURES, "VHOST_SET_FEATURES", &features);
	if (!r)
		r = vhost_ioctl(v, VHOST_SET_MEM_TABLE, "VHOST_SET_MEM_TABLE",
				&table);
	for (unsigned int i = VSOCK_RXQ; !r && i <= VSOCK_TXQ; i++) {
		struct virtio_queue *q = &d->q[i];
		struct vhost_vring_state num = {i, q->size}, base = {i, 0};
		struct vhost_vring_addr addr = {
			.index = i,
			.desc_user_addr = (uint64_t)(uintptr_t)q->vq.desc,
			.avail_user_addr = (uint64_t)(uintptr_t)q->vq.avail,
			.used_user_addr = (uint64_t)(uintptr_t)q->vq.used,
		};
		struct vhost_vring_file kick = {i, q->kick_fd};
		struct vhost_vring_file call = {
			i, q->msix_vector < d->nvectors
				   ? d->vec[q->msix_vector].fd
				   : -1};

		if (!q->live) {
			log_err(v->mach->log, v->name,
				"vhost-vsock: the driver did not enable "
				"queue %u",
				i);
			return -EINVAL;
		}
		r = vhost_ioctl(v, VHOST_SET_VRING_NUM, "VHOST_SET_VRING_NUM",
				&num);
		if (!r)
			r = vhost_ioctl(v, VHOST_SET_VRING_BASE,
					"VHOST_SET_VRING_BASE", &base);
		if (!r)
			r = vhost_ioctl(v, VHOST_SET_VRING_ADDR,
					"VHOST_SET_VRING_ADDR", &addr);
		if (!r)
			r = vhost_ioctl(v, VHOST_SET_VRING_KICK,
					"VHOST_SET_VRING_KICK", &kick);
		if (!r)
			r = vhost_ioctl(v, VHOST_SET_VRING_CALL,
					"VHOST_SET_VRING_CALL", &call);
	}
	if (!r)
		r = vhost_ioctl(v, VHOST_VSOCK_SET_RUNNING,
				"VHOST_VSOCK_SET_RUNNING", &running);
	if (!r) {
		v->vhost_running = true;
		log_info(v->mach->log, v->name,
			 "vhost-vsock running (guest CID %llu)",
			 (unsigned long long)v->guest_cid);
	}
	return r;
}

static void vhost_stop(struct virtio_vsock *v)
{
	int running = 0;

	if (!v->vhost_running)
		return;
	(void)vhost_ioctl(v, VHOST_VSOCK_SET_RUNNING, "VHOST_VSOCK_SET_RUNNING",
			  &running);
	v->vhost_running = false;
}

/* ---- the device model ---- */

static void vsock_config_read(struct virtio_dev *d, unsigned int off,
			      uint8_t *data, unsigned int len)
{
	struct virtio_vsock *v = d->priv;
	uint64_t cid = htole64(v->guest_cid);

	/* The transport keeps off + len within config_size (8). */
	memcpy(data, (uint8_t *)&cid + off, len);
}

static int vsock_activate(struct virtio_dev *d)
{
	struct virtio_vsock *v = d->priv;

	if (v->use_vhost)
		return vhost_start(v);
	/* Host connections may be waiting for the guest's buffers. */
	self_kick(v, VSOCK_RXQ);
	return 0;
}

static void vsock_reset(struct virtio_dev *d)
{
	struct virtio_vsock *v = d->priv;
	struct vlink *l, *next;

	if (v->use_vhost) {
		vhost_stop(v);
		return;
	}
	/* The guest's sockets are gone: so are ours (no RSTs to send). */
	for (l = v->conns.next; l != &v->conns; l = next) {
		next = l->next;
		conn_close(container_of(l, struct vsock_conn, all), false);
	}
	reap(v);
	v->rst_len = v->rst_head = 0;
	v->rx_held = false;
	v->tx_stalled = false;
	timer_update(v);
}

static void vsock_queue_notify(struct virtio_dev *d, unsigned int q)
{
	struct virtio_vsock *v = d->priv;

	if (v->use_vhost)
		return; /* the kernel listens to the same kick eventfd */
	pthread_mutex_lock(&d->lock);
	if (q == VSOCK_TXQ)
		tx_process(v);
	/* rx: new buffers. The event queue is never used (no migration). */
	vsock_settle(v);
	pthread_mutex_unlock(&d->lock);
}

static const struct virtio_dev_ops vsock_ops = {
	.name = "virtio-vsock",
	.device_id = VIRTIO_ID_VSOCK,
	.pci_class = 0xff0000,
	.features = 0, /* stream sockets only: no SEQPACKET */
	.nqueues = 3,
	.queue_max = VSOCK_QUEUE_SIZE,
	.config_size = sizeof(uint64_t), /* guest_cid */
	.config_read = vsock_config_read,
	.activate = vsock_activate,
	.reset = vsock_reset,
	.queue_notify = vsock_queue_notify,
};

static void vsock_free(struct virtio_vsock *v)
{
	struct stat st;

	if (v->listen_fd >= 0) {
		close(v->listen_fd);
		/* Remove the socket file if it is still the one we made. */
		if (v->uds && stat(v->uds, &st) == 0 && S_ISSOCK(st.st_mode) &&
		    st.st_dev == v->uds_dev && st.st_ino == v->uds_ino)
			unlink(v->uds);
	}
	if (v->timer_fd >= 0)
		close(v->timer_fd);
	if (v->epfd >= 0)
		close(v->epfd);
	if (v->vhost_fd >= 0)
		close(v->vhost_fd);
	free(v->uds);
	free(v);
}

static int vsock_create(struct machine *mach, struct pci_dev_slot *slot,
			const struct pci_plan_dev *pd)
{
	struct virtio_vsock *v = slot->priv;
	int r;

	r = virtio_pci_init(&v->vdev, mach, &vsock_ops, v, pd->name);
	slot->fn = &v->vdev.fn;
	snprintf(v->name, sizeof(v->name), "%s", pd->name);
	if (r < 0 || v->use_vhost)
		return r;
	return evloop_add(mach->loop, v->epfd, POLLIN, vsock_ep_cb, v,
			  &v->ep_src);
}

static void vsock_destroy(struct pci_dev_slot *slot)
{
	struct virtio_vsock *v = slot->priv;

	if (!v)
		return;
	virtio_pci_destroy(&v->vdev); /* resets: closes every connection */
	vsock_free(v);
	slot->priv = NULL;
}

/* Is a live server behind the socket file at `path`? */
static bool uds_in_use(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool used;

	if (fd < 0)
		return true;
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	used = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 ||
	       errno != ECONNREFUSED;
	close(fd);
	return used;
}

static int uds_listen(struct virtio_vsock *v)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	struct epoll_event e = {.events = EPOLLIN};
	const struct logger *lg = v->mach->log;
	struct stat st;
	int r;

	/* Room for "_<port>" (up to 10 digits) after the path. */
	if (strlen(v->uds) + 12 > sizeof(a.sun_path)) {
		log_err(lg, v->name,
			"--vsock uds=%s: path too long (at most %zu bytes, "
			"to leave room for _<port>)",
			v->uds, sizeof(a.sun_path) - 12);
		return -EINVAL;
	}
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", v->uds);
	v->listen_fd =
		socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (v->listen_fd < 0)
		return -errno;
	if (lstat(v->uds, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_err(lg, v->name,
				"--vsock uds=%s: exists and is not a socket",
				v->uds);
			return -EINVAL;
		}
		if (uds_in_use(v->uds)) {
			log_err(lg, v->name,
				"--vsock uds=%s: another process listens "
				"there",
				v->uds);
			return -EADDRINUSE;
		}
		unlink(v->uds); /* stale, from a VMM that is gone */
	}
	if (bind(v->listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(v->listen_fd, 128) < 0) {
		r = -errno;
		if (r == -ENOENT)
			log_err(lg, v->name,
				"--vsock uds=%s: its directory does not exist",
				v->uds);
		else if (r == -ENXIO || r == -EOPNOTSUPP)
			log_err(lg, v->name,
				"--vsock uds=%s: %s: this filesystem cannot "
				"hold Unix sockets (9p, some FUSE); use a "
				"local one such as /run or /tmp",
				v->uds, strerror(-r));
		else
			log_err(lg, v->name, "--vsock uds=%s: %s", v->uds,
				strerror(-r));
		if (r == -ENXIO || r == -EOPNOTSUPP)
			return -EINVAL; /* a bad path: usage, status 2 */
		return r == -EACCES ? -EPERM : r;
	}
	if (stat(v->uds, &st) == 0) {
		v->uds_dev = st.st_dev;
		v->uds_ino = st.st_ino;
	}
	v->epfd = epoll_create1(EPOLL_CLOEXEC);
	v->timer_fd =
		timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (v->epfd < 0 || v->timer_fd < 0)
		return -errno;
	e.data.ptr = &v->listen_fd;
	if (epoll_ctl(v->epfd, EPOLL_CTL_ADD, v->listen_fd, &e) < 0)
		return -errno;
	e.data.ptr = &v->timer_fd;
	if (epoll_ctl(v->epfd, EPOLL_CTL_ADD, v->timer_fd, &e) < 0)
		return -errno;
	return 0;
}

int virtio_vsock_add(struct machine *mach, const struct microvm_vsock *vsock)
{
	struct virtio_vsock *v = calloc(1, sizeof(*v));
	struct pci_dev_req req;
	int r = 0;

	if (!v)
		return -ENOMEM;
	v->mach = mach;
	v->guest_cid = vsock->guest_cid;
	v->use_vhost = vsock->vhost;
	v->listen_fd = v->timer_fd = v->epfd = v->vhost_fd = -1;
	v->next_port = VSOCK_PORT_FIRST;
	snprintf(v->name, sizeof(v->name), "virtio-vsock");
	vl_head(&v->conns);
	vl_head(&v->dead);
	vl_head(&v->ctl);
	vl_head(&v->ready);
	if (vsock->guest_cid < 3 || vsock->guest_cid > 0xfffffffeull) {
		log_err(mach->log, v->name,
			"--vsock cid=%u: the guest CID must be 3 to "
			"4294967294",
			vsock->guest_cid);
		r = -EINVAL;
	} else if (!v->use_vhost && (!vsock->uds || !*vsock->uds)) {
		log_err(mach->log, v->name, "--vsock: uds=PATH is required");
		r = -EINVAL;
	} else if (!v->use_vhost && !(v->uds = strdup(vsock->uds))) {
		r = -ENOMEM;
	} else if (mach->plan_only) {
		/* Planning only (no VM): open no back-end. */
	} else if (v->use_vhost) {
		r = vhost_open(v);
	} else {
		r = uds_listen(v);
	}
	if (!r) {
		virtio_pci_dev_req(&req, "virtio-vsock");
		r = mach->ops->pci_add(mach, &req, vsock_create, vsock_destroy,
					v);
	}
	if (r < 0)
		vsock_free(v);
	return r;
}
