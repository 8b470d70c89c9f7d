/* fuzz_vsock.c: libFuzzer target: the virtio-vsock packet checks, connection state machine and credit accounting (vsock_proto.c) under random packet sequences. */
#include <endian.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "devices/virtio/vsock_proto.h"
#include "tests/fuzz/fuzz.h"

/*
 * Input: u32 buf_alloc (our receive buffer per connection; 0 means
 * vsock.c's 256 KiB), then ops, an opcode byte and its fields each:
 *   0, 1, 2: a packet from the guest: the 44-byte header as the guest
 *            wrote it, and u32 payload (device-readable bytes after it)
 *   3: a host client connects to port u16 (HANDSHAKE, then on its
 *      "CONNECT" line the REQUEST to the guest: CONNECTING)
 *   4: u16 n of the bytes we hold are written to the host socket
 *   5: we send data to connection u16 (u32 length, capped at its credit)
 *   6: we send a CREDIT_UPDATE, SHUTDOWN (u8 flags) or RST to u16
 *   7: u16 host clients connect at once (to reach the connection limit)
 * Connections live in a table as vsock.c keeps them: keyed by (host port,
 * guest port), at most FZ_MAX_CONNS, removed on RST or CLOSE.
 */
#define FZ_MAX_CONNS 1024 /* vsock.c's VSOCK_MAX_CONNS */
#define FZ_MAX_OPS   2048
#define FZ_GUEST_CID 42

struct conn {
	struct vsock_conn_state st;
};

static struct conn table[FZ_MAX_CONNS];
static unsigned int nconns;
static uint32_t buf_alloc;
static uint32_t next_port; /* bursts use ports from 128 on, each once */

static struct conn *find(uint32_t local, uint32_t peer)
{
	for (unsigned int i = 0; i < nconns; i++)
		if (table[i].st.local_port == local &&
		    table[i].st.peer_port == peer)
			return &table[i];
	return NULL;
}

static void drop(struct conn *c)
{
	*c = table[--nconns];
}

static struct conn *add(enum vsock_state state, uint32_t local, uint32_t peer)
{
	struct conn *c;

	if (nconns >= FZ_MAX_CONNS)
		return NULL;
	c = &table[nconns++];
	vsock_conn_init(&c->st, state, local, peer, buf_alloc);
	return c;
}

/* Credit holds at every step, whatever the guest said. */
static void check_conn(const struct vsock_conn_state *c)
{
	uint32_t held = vsock_rx_pending(c);
	uint32_t unseen = c->fwd_cnt - c->fwd_cnt_sent;
	uint32_t seen_used = c->rx_cnt - c->fwd_cnt_sent;

	FZ_CHECK(c->state <= VSOCK_ST_CLOSED);
	/* We never hold more of the guest's data than we advertised. */
	FZ_CHECK(held <= c->buf_alloc);
	FZ_CHECK(vsock_rx_space(c) == c->buf_alloc - held);
	/* What we told the guest is behind what we forwarded, which is
	 * behind what we accepted (free-running counters). */
	FZ_CHECK(unseen <= seen_used);
	FZ_CHECK(vsock_peer_credit(c) <= c->peer_buf_alloc);
	FZ_CHECK(!(c->peer_shut & ~VSOCK_SHUTDOWN_BOTH));
	FZ_CHECK(!(c->local_shut & ~VSOCK_SHUTDOWN_BOTH));
	/* A guest waiting for room always hears back once we hold nothing. */
	if (c->state == VSOCK_ST_ESTABLISHED &&
	    !(c->peer_shut & VIRTIO_VSOCK_SHUTDOWN_SEND) && !held &&
	    c->buf_alloc - (seen_used < c->buf_alloc ? seen_used
						     : c->buf_alloc) <
		    c->buf_alloc / 2)
		FZ_CHECK(vsock_want_credit_update(c));
}

static void check_verdict(const struct vsock_pkt *p, uint32_t payload,
			  enum vsock_verdict v, const char *why)
{
	FZ_CHECK(v == VSOCK_PKT_OK || v == VSOCK_PKT_DROP ||
		 v == VSOCK_PKT_RST);
	if (v != VSOCK_PKT_OK)
		FZ_CHECK(why && *why);
	if (p->src_cid != FZ_GUEST_CID)
		FZ_CHECK(v == VSOCK_PKT_DROP);
	if (v == VSOCK_PKT_RST)
		FZ_CHECK(p->op != VIRTIO_VSOCK_OP_RST);
	if (v != VSOCK_PKT_OK)
		return;
	FZ_CHECK(p->len <= payload && p->len <= VSOCK_MAX_PAYLOAD);
	FZ_CHECK(p->dst_cid == VSOCK_HOST_CID);
	FZ_CHECK(p->type == VIRTIO_VSOCK_TYPE_STREAM);
	FZ_CHECK(p->op >= VIRTIO_VSOCK_OP_REQUEST &&
		 p->op <= VIRTIO_VSOCK_OP_CREDIT_REQUEST);
	FZ_CHECK(p->op == VIRTIO_VSOCK_OP_RW || !p->len);
}

static void guest_packet(struct fz_in *in)
{
	struct virtio_vsock_hdr h, again;
	struct vsock_pkt p, rst;
	const char *why = NULL;
	enum vsock_verdict v;
	uint32_t payload;
	struct conn *c;
	uint8_t sel;

	memset(&h, 0, sizeof(h));
	for (size_t i = 0; i < sizeof(h); i++)
		((uint8_t *)&h)[i] = fz_u8(in);
	payload = fz_u32(in);
	vsock_hdr_decode(&h, &p);
	vsock_hdr_encode(&p, &again);
	FZ_CHECK(!memcmp(&h, &again, sizeof(h)));
	/* Mostly well-addressed, so that the state machine is reached. */
	sel = (uint8_t)p.flags;
	if (!(sel & 0x80)) {
		p.src_cid = FZ_GUEST_CID;
		p.dst_cid = VSOCK_HOST_CID;
		p.type = VIRTIO_VSOCK_TYPE_STREAM;
		p.op = (uint16_t)(p.op % 8);
		p.src_port %= 128;
		/* A guest port, or one of a host client's (below). */
		p.dst_port = (sel & 0x20) ? 1u << 31 | p.dst_port % 128
					  : p.dst_port % 64;
		if (sel & 0x40)
			p.len %= 4096;
		if (p.op != VIRTIO_VSOCK_OP_RW)
			p.len = 0;
		if (payload < p.len)
			payload = p.len;
	}
	v = vsock_pkt_check(&p, payload, FZ_GUEST_CID, &why);
	check_verdict(&p, payload, v, why);
	if (v != VSOCK_PKT_OK) {
		if (v == VSOCK_PKT_RST) {
			vsock_pkt_rst_reply(&p, &rst);
			FZ_CHECK(rst.dst_cid == p.src_cid &&
				 rst.src_port == p.dst_port &&
				 rst.dst_port == p.src_port &&
				 rst.op == VIRTIO_VSOCK_OP_RST && !rst.len);
		}
		return;
	}
	c = find(p.dst_port, p.src_port);
	if (!c) {
		/* A new guest connection, as vsock.c's guest_connect. */
		if (p.op == VIRTIO_VSOCK_OP_REQUEST) {
			c = add(VSOCK_ST_ESTABLISHED, p.dst_port, p.src_port);
			if (c) {
				c->st.peer_buf_alloc = p.buf_alloc;
				c->st.peer_fwd_cnt = p.fwd_cnt;
			}
		}
		return;
	}
	{
		struct vsock_conn_state before = c->st;
		unsigned int act = vsock_conn_recv(&c->st, &p);

		FZ_CHECK(!(act & ~0x7fu));
		check_conn(&c->st);
		if (act & (VSOCK_ACT_RST | VSOCK_ACT_CLOSE)) {
			FZ_CHECK(c->st.state == VSOCK_ST_CLOSED);
			FZ_CHECK(!(act & VSOCK_ACT_DATA));
			drop(c);
			return;
		}
		FZ_CHECK(c->st.state != VSOCK_ST_CLOSED);
		FZ_CHECK(c->st.rx_cnt - before.rx_cnt ==
			 ((act & VSOCK_ACT_DATA) ? p.len : 0));
		if (act & VSOCK_ACT_DATA)
			FZ_CHECK(p.len <= vsock_rx_space(&before));
		if (act & VSOCK_ACT_CONNECTED)
			FZ_CHECK(before.state == VSOCK_ST_CONNECTING &&
				 c->st.state == VSOCK_ST_ESTABLISHED);
		else
			FZ_CHECK(c->st.state == before.state);
		FZ_CHECK((before.peer_shut & ~c->st.peer_shut) == 0);
	}
}

static struct conn *pick(struct fz_in *in)
{
	uint16_t i = fz_u16(in);

	return nconns ? &table[i % nconns] : NULL;
}

static void host_connect(uint32_t port, bool fresh)
{
	struct vsock_pkt p;
	struct conn *c;
	uint32_t local = 1u << 31 | port; /* vsock.c's ephemeral ports */

	if (!fresh && find(local, port))
		return;
	c = add(VSOCK_ST_HANDSHAKE, local, port);
	if (!c)
		return;
	if (port & 1) { /* the client said "CONNECT <port>" */
		c->st.state = VSOCK_ST_CONNECTING;
		vsock_conn_make_pkt(&c->st, FZ_GUEST_CID,
				    VIRTIO_VSOCK_OP_REQUEST, 0, 0, &p);
		FZ_CHECK(p.op == VIRTIO_VSOCK_OP_REQUEST && !p.len);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = {data, size};

	nconns = 0;
	next_port = 128;
	buf_alloc = fz_u32(&in);
	if (!buf_alloc)
		buf_alloc = 256u * 1024;
	for (unsigned int op = 0; op < FZ_MAX_OPS && in.left; op++) {
		uint8_t code = fz_u8(&in) % 8;
		struct vsock_pkt p;
		struct conn *c;

		switch (code) {
		case 0:
		case 1:
		case 2:
			guest_packet(&in);
			break;
		case 3:
			host_connect(fz_u16(&in) % 128, false);
			break;
		case 4:
			c = pick(&in);
			if (c) {
				uint32_t held = vsock_rx_pending(&c->st);
				uint32_t n = fz_u16(&in), fwd = c->st.fwd_cnt;

				vsock_conn_forwarded(&c->st, n);
				FZ_CHECK(c->st.fwd_cnt - fwd ==
					 (n < held ? n : held));
			}
			break;
		case 5:
			c = pick(&in);
			if (c && c->st.state == VSOCK_ST_ESTABLISHED) {
				uint32_t credit = vsock_peer_credit(&c->st);
				uint32_t len =
					fz_u32(&in) % (VSOCK_MAX_PAYLOAD + 1);

				if (len > credit)
					len = credit;
				vsock_conn_make_pkt(&c->st, FZ_GUEST_CID,
						    VIRTIO_VSOCK_OP_RW, 0, len,
						    &p);
				FZ_CHECK(p.len == len);
				/* Never beyond the guest's credit. */
				FZ_CHECK(vsock_peer_credit(&c->st) ==
					 credit - len);
				FZ_CHECK(p.fwd_cnt == c->st.fwd_cnt &&
					 p.buf_alloc == c->st.buf_alloc);
			}
			break;
		case 6:
			c = pick(&in);
			if (c) {
				uint8_t f = fz_u8(&in);
				uint16_t ops[3] = {
					VIRTIO_VSOCK_OP_CREDIT_UPDATE,
					VIRTIO_VSOCK_OP_SHUTDOWN,
					VIRTIO_VSOCK_OP_RST};
				uint16_t o = ops[f % 3];

				vsock_conn_make_pkt(&c->st, FZ_GUEST_CID, o,
						    f >> 2, 0, &p);
				FZ_CHECK(!vsock_want_credit_update(&c->st));
				if (o == VIRTIO_VSOCK_OP_RST)
					drop(c);
			}
			break;
		case 7: {
			unsigned int n = fz_u16(&in) % 1100;

			/* Past the limit only the first refusal is news. */
			for (unsigned int i = 0; i < n; i++) {
				bool full = nconns >= FZ_MAX_CONNS;

				host_connect(next_port++, true);
				if (full)
					break;
			}
			break;
		}
		}
		FZ_CHECK(nconns <= FZ_MAX_CONNS);
		/* Every connection now and then (a full table is slow). */
		if (nconns < 32 || !(op % 64))
			for (unsigned int i = 0; i < nconns; i++)
				check_conn(&table[i].st);
	}
	for (unsigned int i = 0; i < nconns; i++)
		check_conn(&table[i].st);
	return 0;
}
