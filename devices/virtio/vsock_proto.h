/* vsock_proto.h: the virtio-vsock stream protocol as pure logic: packet checks, connection state machine, credit accounting. */
#ifndef DEVICES_VIRTIO_VSOCK_PROTO_H
#define DEVICES_VIRTIO_VSOCK_PROTO_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/virtio_vsock.h>

/*
 * The host side of one virtio-vsock device, without I/O: what a packet from
 * the guest means for a connection, what we may send back and when. The
 * device model (vsock.c) owns the sockets and the queues and does what the
 * returned actions say. Nothing here makes a syscall.
 *
 * Credit (virtio spec 5.10.6.3): each side advertises buf_alloc (its
 * receive buffer for the connection) and fwd_cnt (bytes it has consumed
 * from that buffer). A sender may have at most buf_alloc - (sent -
 * fwd_cnt) bytes in flight. All counters are free-running u32s.
 */

#define VSOCK_HOST_CID 2
#define VSOCK_HDR_SIZE ((uint32_t)sizeof(struct virtio_vsock_hdr)) /* 44 */
/* Largest payload we accept or send in one packet (Linux: 64 KiB). */
#define VSOCK_MAX_PAYLOAD 65536u
#define VSOCK_SHUTDOWN_BOTH \
	(VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND)

/* A header in host byte order. */
struct vsock_pkt {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port;
	uint32_t len;
	uint16_t type, op;
	uint32_t flags;
	uint32_t buf_alloc, fwd_cnt;
};

void vsock_hdr_decode(const struct virtio_vsock_hdr *h, struct vsock_pkt *p);
void vsock_hdr_encode(const struct vsock_pkt *p, struct virtio_vsock_hdr *h);

enum vsock_verdict {
	VSOCK_PKT_OK, /* well formed: find its connection */
	VSOCK_PKT_DROP, /* cannot be answered (not from the guest's CID) */
	VSOCK_PKT_RST, /* malformed or not for us: answer with RST */
};

/*
 * Check a packet the guest put on its tx queue. `payload` is the number of
 * device-readable bytes after the header. `why` (may be NULL) gets a static
 * description of a fault. The header is a copy: the guest cannot change it
 * after the check.
 */
enum vsock_verdict vsock_pkt_check(const struct vsock_pkt *p, uint32_t payload,
				   uint64_t guest_cid, const char **why);

/* The RST that answers `p` (addresses swapped, no payload, no credit). */
void vsock_pkt_rst_reply(const struct vsock_pkt *p, struct vsock_pkt *out);

enum vsock_state {
	VSOCK_ST_HANDSHAKE, /* host client accepted; waiting for "CONNECT" */
	VSOCK_ST_CONNECTING, /* REQUEST sent to the guest, no RESPONSE yet */
	VSOCK_ST_ESTABLISHED, /* data flows (until both sides shut down) */
	VSOCK_ST_CLOSED, /* reset or closed: only waiting to be freed */
};

/* Protocol state of one connection, host byte order. */
struct vsock_conn_state {
	enum vsock_state state;
	uint32_t local_port; /* host side */
	uint32_t peer_port; /* guest side */
	/* guest -> host: what we advertise and count */
	uint32_t buf_alloc; /* our receive buffer for this connection */
	uint32_t rx_cnt; /* payload bytes accepted from the guest */
	uint32_t fwd_cnt; /* of those, bytes written to the host socket */
	uint32_t fwd_cnt_sent; /* fwd_cnt in the last header we sent */
	/* host -> guest: the guest's credit */
	uint32_t peer_buf_alloc;
	uint32_t peer_fwd_cnt;
	uint32_t tx_cnt; /* payload bytes sent to the guest */
	uint8_t peer_shut; /* VIRTIO_VSOCK_SHUTDOWN_* the guest announced */
	uint8_t local_shut; /* VIRTIO_VSOCK_SHUTDOWN_* we announced */
};

/* What the device model must do after vsock_conn_recv() (a bitmask). */
enum {
	VSOCK_ACT_DATA = 1 << 0, /* write the payload to the host socket */
	VSOCK_ACT_CONNECTED = 1 << 1, /* our REQUEST was accepted */
	VSOCK_ACT_CREDIT_UPDATE = 1 << 2, /* send the guest a CREDIT_UPDATE */
	VSOCK_ACT_SHUTDOWN = 1 << 3, /* the guest shut a direction down */
	VSOCK_ACT_CREDIT = 1 << 4, /* the guest's credit changed */
	VSOCK_ACT_RST = 1 << 5, /* protocol error: RST, drop it */
	VSOCK_ACT_CLOSE = 1 << 6, /* the guest reset it: drop it */
};

/*
 * Start the state of a connection. A guest-initiated one is ESTABLISHED
 * at once (the device answers RESPONSE); a host-initiated one starts in
 * HANDSHAKE. `buf_alloc` is our receive buffer per connection.
 */
void vsock_conn_init(struct vsock_conn_state *c, enum vsock_state state,
		     uint32_t local_port, uint32_t peer_port,
		     uint32_t buf_alloc);

/*
 * A packet `p` (already passed vsock_pkt_check) for this connection: update
 * the state and the guest's credit and return VSOCK_ACT_* bits. RW payload
 * is accounted (rx_cnt) here; the device reports what it wrote to the host
 * with vsock_conn_forwarded(). RST or CLOSE leave the state CLOSED.
 */
unsigned int vsock_conn_recv(struct vsock_conn_state *c,
			     const struct vsock_pkt *p);

/* Bytes we may send the guest now (its free receive space). */
uint32_t vsock_peer_credit(const struct vsock_conn_state *c);

/* Bytes the guest may still send us: buf_alloc minus what we hold. */
uint32_t vsock_rx_space(const struct vsock_conn_state *c);

/* Bytes accepted from the guest and not yet written to the host. */
static inline uint32_t vsock_rx_pending(const struct vsock_conn_state *c)
{
	return c->rx_cnt - c->fwd_cnt;
}

/* `n` bytes of the guest's data reached the host socket. */
void vsock_conn_forwarded(struct vsock_conn_state *c, uint32_t n);

/*
 * Should we tell the guest about freed space now? Yes when its view of our
 * free space has dropped below half of buf_alloc and we have freed an
 * eighth of it since the last header: a sender that waits for credit
 * always hears back, without one update per packet.
 */
bool vsock_want_credit_update(const struct vsock_conn_state *c);

/*
 * Fill a packet from the host to the guest for this connection: addresses,
 * op, payload length and our credit (which also counts as sent, for
 * vsock_want_credit_update). RW payload is added to tx_cnt; a SHUTDOWN's
 * flags to local_shut.
 */
void vsock_conn_make_pkt(struct vsock_conn_state *c, uint64_t guest_cid,
			 uint16_t op, uint32_t flags, uint32_t len,
			 struct vsock_pkt *out);

/*
 * Parse the host client's "CONNECT <port>\n" (the line without its "\n";
 * a trailing "\r" is allowed). 0 with *port set, or -EINVAL.
 */
int vsock_parse_connect(const char *line, unsigned int len, uint32_t *port);

#endif
