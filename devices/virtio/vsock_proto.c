/* vsock_proto.c: the virtio-vsock stream protocol as pure logic: packet checks, connection state machine, credit accounting. */
#include "devices/virtio/vsock_proto.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

void vsock_hdr_decode(const struct virtio_vsock_hdr *h, struct vsock_pkt *p)
{
	p->src_cid = le64toh(h->src_cid);
	p->dst_cid = le64toh(h->dst_cid);
	p->src_port = le32toh(h->src_port);
	p->dst_port = le32toh(h->dst_port);
	p->len = le32toh(h->len);
	p->type = le16toh(h->type);
	p->op = le16toh(h->op);
	p->flags = le32toh(h->flags);
	p->buf_alloc = le32toh(h->buf_alloc);
	p->fwd_cnt = le32toh(h->fwd_cnt);
}

void vsock_hdr_encode(const struct vsock_pkt *p, struct virtio_vsock_hdr *h)
{
	h->src_cid = htole64(p->src_cid);
	h->dst_cid = htole64(p->dst_cid);
	h->src_port = htole32(p->src_port);
	h->dst_port = htole32(p->dst_port);
	h->len = htole32(p->len);
	h->type = htole16(p->type);
	h->op = htole16(p->op);
	h->flags = htole32(p->flags);
	h->buf_alloc = htole32(p->buf_alloc);
	h->fwd_cnt = htole32(p->fwd_cnt);
}

enum vsock_verdict vsock_pkt_check(const struct vsock_pkt *p, uint32_t payload,
				   uint64_t guest_cid, const char **why)
{
	const char *w = NULL;

	if (p->src_cid != guest_cid) {
		/* Spoofed or garbage: there is nobody to answer. */
		if (why)
			*why = "source CID is not the guest's";
		return VSOCK_PKT_DROP;
	}
	if (p->len > payload)
		w = "length beyond the buffer";
	else if (p->dst_cid != VSOCK_HOST_CID)
		w = "not addressed to the host (CID 2)";
	else if (p->type != VIRTIO_VSOCK_TYPE_STREAM)
		w = "not a stream packet";
	else if (p->op == VIRTIO_VSOCK_OP_INVALID ||
		 p->op > VIRTIO_VSOCK_OP_CREDIT_REQUEST)
		w = "unknown op";
	else if (p->op != VIRTIO_VSOCK_OP_RW && p->len)
		w = "payload on a control packet";
	else if (p->len > VSOCK_MAX_PAYLOAD)
		w = "payload over 64 KiB";
	if (!w)
		return VSOCK_PKT_OK;
	if (why)
		*why = w;
	/* Never answer a reset with a reset. */
	return p->op == VIRTIO_VSOCK_OP_RST ? VSOCK_PKT_DROP : VSOCK_PKT_RST;
}

void vsock_pkt_rst_reply(const struct vsock_pkt *p, struct vsock_pkt *out)
{
	memset(out, 0, sizeof(*out));
	out->src_cid = p->dst_cid;
	out->dst_cid = p->src_cid;
	out->src_port = p->dst_port;
	out->dst_port = p->src_port;
	out->type = VIRTIO_VSOCK_TYPE_STREAM;
	out->op = VIRTIO_VSOCK_OP_RST;
}

void vsock_conn_init(struct vsock_conn_state *c, enum vsock_state state,
		     uint32_t local_port, uint32_t peer_port,
		     uint32_t buf_alloc)
{
	memset(c, 0, sizeof(*c));
	c->state = state;
	c->local_port = local_port;
	c->peer_port = peer_port;
	c->buf_alloc = buf_alloc;
}

uint32_t vsock_peer_credit(const struct vsock_conn_state *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;

	/* A fwd_cnt ahead of what we sent wraps to a huge in_flight: 0. */
	return in_flight >= c->peer_buf_alloc ? 0
					      : c->peer_buf_alloc - in_flight;
}

uint32_t vsock_rx_space(const struct vsock_conn_state *c)
{
	uint32_t held = vsock_rx_pending(c);

	return held >= c->buf_alloc ? 0 : c->buf_alloc - held;
}

void vsock_conn_forwarded(struct vsock_conn_state *c, uint32_t n)
{
	if (n > vsock_rx_pending(c))
		n = vsock_rx_pending(c); /* our bug; never count beyond */
	c->fwd_cnt += n;
}

bool vsock_want_credit_update(const struct vsock_conn_state *c)
{
	uint32_t unseen = c->fwd_cnt - c->fwd_cnt_sent;
	uint32_t seen_used = c->rx_cnt - c->fwd_cnt_sent;
	uint32_t seen_free;

	if (c->state != VSOCK_ST_ESTABLISHED ||
	    (c->peer_shut & VIRTIO_VSOCK_SHUTDOWN_SEND) || !unseen)
		return false;
	seen_free = seen_used >= c->buf_alloc ? 0 : c->buf_alloc - seen_used;
	if (seen_free >= c->buf_alloc / 2)
		return false;
	/* A stalled guest sees no room at all: once everything we hold is
	 * written, unseen is the whole buffer, so it always hears back. */
	return unseen >= c->buf_alloc / 8;
}

unsigned int vsock_conn_recv(struct vsock_conn_state *c,
			     const struct vsock_pkt *p)
{
	unsigned int act = 0;
	uint32_t credit;

	if (c->state == VSOCK_ST_CLOSED)
		return 0;
	if (p->op == VIRTIO_VSOCK_OP_RST) {
		c->state = VSOCK_ST_CLOSED;
		return VSOCK_ACT_CLOSE;
	}
	/* Only RESPONSE (or RST) may answer our REQUEST; a handshaking
	 * connection has no port the guest could know. */
	if (c->state == VSOCK_ST_HANDSHAKE ||
	    (c->state == VSOCK_ST_CONNECTING &&
	     p->op != VIRTIO_VSOCK_OP_RESPONSE))
		goto rst;

	credit = vsock_peer_credit(c);
	c->peer_buf_alloc = p->buf_alloc;
	c->peer_fwd_cnt = p->fwd_cnt;
	if (vsock_peer_credit(c) != credit)
		act |= VSOCK_ACT_CREDIT;

	switch (p->op) {
	case VIRTIO_VSOCK_OP_REQUEST: /* for a connection that exists */
		goto rst;
	case VIRTIO_VSOCK_OP_RESPONSE:
		if (c->state != VSOCK_ST_CONNECTING)
			goto rst;
		c->state = VSOCK_ST_ESTABLISHED;
		return act | VSOCK_ACT_CONNECTED;
	case VIRTIO_VSOCK_OP_SHUTDOWN: {
		uint8_t add = (uint8_t)(p->flags & VSOCK_SHUTDOWN_BOTH) &
			      (uint8_t)~c->peer_shut;

		c->peer_shut |= add;
		return add ? act | VSOCK_ACT_SHUTDOWN : act;
	}
	case VIRTIO_VSOCK_OP_RW:
		/* Data after the guest said it would send no more, or
		 * beyond the credit we gave: the stream is corrupt. */
		if ((c->peer_shut & VIRTIO_VSOCK_SHUTDOWN_SEND) ||
		    p->len > vsock_rx_space(c))
			goto rst;
		c->rx_cnt += p->len;
		return p->len ? act | VSOCK_ACT_DATA : act;
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		return act;
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		return act | VSOCK_ACT_CREDIT_UPDATE;
	}
rst:
	c->state = VSOCK_ST_CLOSED;
	return VSOCK_ACT_RST;
}

void vsock_conn_make_pkt(struct vsock_conn_state *c, uint64_t guest_cid,
			 uint16_t op, uint32_t flags, uint32_t len,
			 struct vsock_pkt *out)
{
	*out = (struct vsock_pkt){
		.src_cid = VSOCK_HOST_CID,
		.dst_cid = guest_cid,
		.src_port = c->local_port,
		.dst_port = c->peer_port,
		.len = len,
		.type = VIRTIO_VSOCK_TYPE_STREAM,
		.op = op,
		.flags = flags,
		.buf_alloc = c->buf_alloc,
		.fwd_cnt = c->fwd_cnt,
	};
	c->fwd_cnt_sent = c->fwd_cnt;
	if (op == VIRTIO_VSOCK_OP_RW)
		c->tx_cnt += len;
	else if (op == VIRTIO_VSOCK_OP_SHUTDOWN)
		c->local_shut |= (uint8_t)(flags & VSOCK_SHUTDOWN_BOTH);
}

int vsock_parse_connect(const char *line, unsigned int len, uint32_t *port)
{
	static const char verb[] = "CONNECT ";
	uint64_t v = 0;
	unsigned int i = sizeof(verb) - 1, digits = 0;

	if (len && line[len - 1] == '\r')
		len--;
	if (len <= i || memcmp(line, verb, i) != 0)
		return -EINVAL;
	for (; i < len; i++, digits++) {
		if (line[i] < '0' || line[i] > '9' || digits >= 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(line[i] - '0');
	}
	if (v > UINT32_MAX)
		return -EINVAL;
	*port = (uint32_t)v;
	return 0;
}
