/* test_vsock.c: L0 tests of the virtio-vsock protocol logic: packet checks, connection states, credit. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "devices/virtio/vsock_proto.h"

#define GUEST 42
#define BUF   (256u * 1024)

/* A well-formed packet from the guest (port 1234) to host port 5000. */
static struct vsock_pkt guest_pkt(uint16_t op, uint32_t len)
{
	return (struct vsock_pkt){
		.src_cid = GUEST,
		.dst_cid = VSOCK_HOST_CID,
		.src_port = 1234,
		.dst_port = 5000,
		.len = len,
		.type = VIRTIO_VSOCK_TYPE_STREAM,
		.op = op,
		.buf_alloc = BUF,
		.fwd_cnt = 0,
	};
}

static enum vsock_verdict check(struct vsock_pkt p, uint32_t payload)
{
	const char *why = NULL;
	enum vsock_verdict v = vsock_pkt_check(&p, payload, GUEST, &why);

	if (v != VSOCK_PKT_OK)
		cr_assert_not_null(why, "a rejected packet says why");
	return v;
}

/* A guest-initiated connection as the device sets it up. */
static struct vsock_conn_state established(void)
{
	struct vsock_conn_state c;

	vsock_conn_init(&c, VSOCK_ST_ESTABLISHED, 5000, 1234, BUF);
	c.peer_buf_alloc = BUF;
	return c;
}

Test(vsock, header_is_44_bytes_little_endian)
{
	struct vsock_pkt p = guest_pkt(VIRTIO_VSOCK_OP_RW, 7), q;
	struct virtio_vsock_hdr h;
	const uint8_t *b = (const uint8_t *)&h;

	cr_assert_eq(VSOCK_HDR_SIZE, 44);
	p.flags = 0x01020304;
	p.fwd_cnt = 0xa1b2c3d4;
	vsock_hdr_encode(&p, &h);
	cr_assert_eq(b[0], GUEST); /* src_cid, low byte first */
	cr_assert_eq(b[8], VSOCK_HOST_CID);
	cr_assert_eq(b[16], 1234 & 0xff);
	cr_assert_eq(b[24], 7); /* len */
	cr_assert_eq(b[28], VIRTIO_VSOCK_TYPE_STREAM);
	cr_assert_eq(b[30], VIRTIO_VSOCK_OP_RW);
	cr_assert_eq(b[32], 0x04); /* flags */
	cr_assert_eq(b[36], BUF & 0xff);
	cr_assert_eq(b[40], 0xd4); /* fwd_cnt */
	vsock_hdr_decode(&h, &q);
	cr_assert_eq(memcmp(&p, &q, sizeof(p)), 0);
}

Test(vsock, good_packets_pass)
{
	cr_assert_eq(check(guest_pkt(VIRTIO_VSOCK_OP_REQUEST, 0), 0),
		     VSOCK_PKT_OK);
	cr_assert_eq(check(guest_pkt(VIRTIO_VSOCK_OP_RW, 4096), 4096),
		     VSOCK_PKT_OK);
	/* More buffer than payload is fine. */
	cr_assert_eq(check(guest_pkt(VIRTIO_VSOCK_OP_RW, 10), 4096),
		     VSOCK_PKT_OK);
	cr_assert_eq(check(guest_pkt(VIRTIO_VSOCK_OP_RW, VSOCK_MAX_PAYLOAD),
			   VSOCK_MAX_PAYLOAD),
		     VSOCK_PKT_OK);
	cr_assert_eq(check(guest_pkt(VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0), 0),
		     VSOCK_PKT_OK);
}

Test(vsock, foreign_source_cid_is_dropped)
{
	struct vsock_pkt p = guest_pkt(VIRTIO_VSOCK_OP_REQUEST, 0);

	p.src_cid = GUEST + 1;
	cr_assert_eq(check(p, 0), VSOCK_PKT_DROP);
	p.src_cid = VSOCK_HOST_CID;
	cr_assert_eq(check(p, 0), VSOCK_PKT_DROP);
}

Test(vsock, malformed_packets_get_rst)
{
	struct vsock_pkt p;

	/* len beyond the buffer */
	cr_assert_eq(check(guest_pkt(VIRTIO_VSOCK_OP_RW, 4097), 4096),
		     VSOCK_PKT_RST);
	cr_assert_eq(check(guest_pkt(VIRTIO_VSOCK_OP_RW, 0xffffffff), 0),
		     VSOCK_PKT_RST);
	/* over 64 KiB even with the buffer for it */
	cr_assert_eq(check(guest_pkt(VIRTIO_VSOCK_OP_RW, VSOCK_MAX_PAYLOAD + 1),
			   VSOCK_MAX_PAYLOAD + 1),
		     VSOCK_PKT_RST);
	/* not for the host */
	p = guest_pkt(VIRTIO_VSOCK_OP_REQUEST, 0);
	p.dst_cid = 7;
	cr_assert_eq(check(p, 0), VSOCK_PKT_RST);
	/* seqpacket was not offered */
	p = guest_pkt(VIRTIO_VSOCK_OP_REQUEST, 0);
	p.type = VIRTIO_VSOCK_TYPE_SEQPACKET;
	cr_assert_eq(check(p, 0), VSOCK_PKT_RST);
	/* ops out of range */
	cr_assert_eq(check(guest_pkt(VIRTIO_VSOCK_OP_INVALID, 0), 0),
		     VSOCK_PKT_RST);
	cr_assert_eq(check(guest_pkt(VIRTIO_VSOCK_OP_CREDIT_REQUEST + 1, 0), 0),
		     VSOCK_PKT_RST);
	cr_assert_eq(check(guest_pkt(0xffff, 0), 0), VSOCK_PKT_RST);
	/* payload on a control packet */
	cr_assert_eq(check(guest_pkt(VIRTIO_VSOCK_OP_SHUTDOWN, 4), 4),
		     VSOCK_PKT_RST);
}

Test(vsock, bad_rst_is_dropped_not_answered)
{
	struct vsock_pkt p = guest_pkt(VIRTIO_VSOCK_OP_RST, 0);

	p.dst_cid = 9;
	cr_assert_eq(check(p, 0), VSOCK_PKT_DROP);
	p = guest_pkt(VIRTIO_VSOCK_OP_RST, 8);
	cr_assert_eq(check(p, 4), VSOCK_PKT_DROP);
}

Test(vsock, rst_reply_swaps_addresses)
{
	struct vsock_pkt p = guest_pkt(VIRTIO_VSOCK_OP_REQUEST, 0), r;

	p.dst_cid = 7;
	vsock_pkt_rst_reply(&p, &r);
	cr_assert_eq(r.src_cid, 7);
	cr_assert_eq(r.dst_cid, GUEST);
	cr_assert_eq(r.src_port, 5000);
	cr_assert_eq(r.dst_port, 1234);
	cr_assert_eq(r.op, VIRTIO_VSOCK_OP_RST);
	cr_assert_eq(r.type, VIRTIO_VSOCK_TYPE_STREAM);
	cr_assert_eq(r.len, 0);
}

Test(vsock, data_within_credit_is_accepted)
{
	struct vsock_conn_state c = established();
	struct vsock_pkt p = guest_pkt(VIRTIO_VSOCK_OP_RW, 1000);

	cr_assert_eq(vsock_conn_recv(&c, &p), VSOCK_ACT_DATA);
	cr_assert_eq(c.rx_cnt, 1000);
	cr_assert_eq(vsock_rx_pending(&c), 1000);
	cr_assert_eq(vsock_rx_space(&c), BUF - 1000);
	vsock_conn_forwarded(&c, 600);
	cr_assert_eq(vsock_rx_pending(&c), 400);
	cr_assert_eq(vsock_rx_space(&c), BUF - 400);
	/* Never count more than was received. */
	vsock_conn_forwarded(&c, 10000);
	cr_assert_eq(c.fwd_cnt, 1000);
	/* An empty RW is harmless. */
	p.len = 0;
	cr_assert_eq(vsock_conn_recv(&c, &p), 0);
	cr_assert_eq(c.state, VSOCK_ST_ESTABLISHED);
}

Test(vsock, data_beyond_credit_resets)
{
	struct vsock_conn_state c = established();
	struct vsock_pkt p = guest_pkt(VIRTIO_VSOCK_OP_RW, 65536);

	for (int i = 0; i < 4; i++)
		cr_assert_eq(vsock_conn_recv(&c, &p), VSOCK_ACT_DATA);
	cr_assert_eq(vsock_rx_space(&c), 0);
	p.len = 1;
	cr_assert_eq(vsock_conn_recv(&c, &p), VSOCK_ACT_RST);
	cr_assert_eq(c.state, VSOCK_ST_CLOSED);
	/* A closed connection ignores everything. */
	cr_assert_eq(vsock_conn_recv(&c, &p), 0);
}

Test(vsock, data_after_shutdown_send_resets)
{
	struct vsock_conn_state c = established();
	struct vsock_pkt s = guest_pkt(VIRTIO_VSOCK_OP_SHUTDOWN, 0);
	struct vsock_pkt d = guest_pkt(VIRTIO_VSOCK_OP_RW, 1);

	s.flags = VIRTIO_VSOCK_SHUTDOWN_SEND;
	cr_assert_eq(vsock_conn_recv(&c, &s), VSOCK_ACT_SHUTDOWN);
	cr_assert_eq(vsock_conn_recv(&c, &d), VSOCK_ACT_RST);
}

Test(vsock, shutdown_flags_accumulate)
{
	struct vsock_conn_state c = established();
	struct vsock_pkt s = guest_pkt(VIRTIO_VSOCK_OP_SHUTDOWN, 0);

	s.flags = VIRTIO_VSOCK_SHUTDOWN_RCV;
	cr_assert_eq(vsock_conn_recv(&c, &s), VSOCK_ACT_SHUTDOWN);
	/* The same again: nothing new. */
	cr_assert_eq(vsock_conn_recv(&c, &s), 0);
	/* Unknown flag bits are ignored. */
	s.flags = VIRTIO_VSOCK_SHUTDOWN_SEND | 0x80;
	cr_assert_eq(vsock_conn_recv(&c, &s), VSOCK_ACT_SHUTDOWN);
	cr_assert_eq(c.peer_shut, VSOCK_SHUTDOWN_BOTH);
	cr_assert_eq(c.state, VSOCK_ST_ESTABLISHED);
}

Test(vsock, guest_rst_closes_without_answer)
{
	struct vsock_conn_state c = established();
	struct vsock_pkt p = guest_pkt(VIRTIO_VSOCK_OP_RST, 0);

	cr_assert_eq(vsock_conn_recv(&c, &p), VSOCK_ACT_CLOSE);
	cr_assert_eq(c.state, VSOCK_ST_CLOSED);
}

Test(vsock, duplicate_request_resets)
{
	struct vsock_conn_state c = established();
	struct vsock_pkt p = guest_pkt(VIRTIO_VSOCK_OP_REQUEST, 0);

	cr_assert_eq(vsock_conn_recv(&c, &p), VSOCK_ACT_RST);
}

Test(vsock, credit_request_asks_for_update)
{
	struct vsock_conn_state c = established();
	struct vsock_pkt p = guest_pkt(VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0);

	cr_assert_eq(vsock_conn_recv(&c, &p), VSOCK_ACT_CREDIT_UPDATE);
}

Test(vsock, host_initiated_connect)
{
	struct vsock_conn_state c;
	struct vsock_pkt out, p;

	vsock_conn_init(&c, VSOCK_ST_CONNECTING, 1u << 30, 6000, BUF);
	vsock_conn_make_pkt(&c, GUEST, VIRTIO_VSOCK_OP_REQUEST, 0, 0, &out);
	cr_assert_eq(out.src_cid, VSOCK_HOST_CID);
	cr_assert_eq(out.dst_cid, GUEST);
	cr_assert_eq(out.src_port, 1u << 30);
	cr_assert_eq(out.dst_port, 6000);
	cr_assert_eq(out.buf_alloc, BUF);
	cr_assert_eq(vsock_peer_credit(&c), 0, "no credit before RESPONSE");

	/* Data before the guest accepted: reset. */
	p = (struct vsock_pkt){.src_cid = GUEST,
			       .dst_cid = 2,
			       .src_port = 6000,
			       .dst_port = 1u << 30,
			       .type = VIRTIO_VSOCK_TYPE_STREAM,
			       .op = VIRTIO_VSOCK_OP_RW,
			       .len = 1,
			       .buf_alloc = 4096};
	{
		struct vsock_conn_state c2 = c;

		cr_assert_eq(vsock_conn_recv(&c2, &p), VSOCK_ACT_RST);
	}
	p.op = VIRTIO_VSOCK_OP_RESPONSE;
	p.len = 0;
	cr_assert(vsock_conn_recv(&c, &p) & VSOCK_ACT_CONNECTED);
	cr_assert_eq(c.state, VSOCK_ST_ESTABLISHED);
	cr_assert_eq(vsock_peer_credit(&c), 4096);
	/* A second RESPONSE is a protocol error. */
	cr_assert_eq(vsock_conn_recv(&c, &p), VSOCK_ACT_RST);
}

Test(vsock, refused_connect_closes)
{
	struct vsock_conn_state c;
	struct vsock_pkt p = {.src_cid = GUEST,
			      .dst_cid = 2,
			      .src_port = 6000,
			      .dst_port = 77,
			      .type = VIRTIO_VSOCK_TYPE_STREAM,
			      .op = VIRTIO_VSOCK_OP_RST};

	vsock_conn_init(&c, VSOCK_ST_CONNECTING, 77, 6000, BUF);
	cr_assert_eq(vsock_conn_recv(&c, &p), VSOCK_ACT_CLOSE);
}

Test(vsock, peer_credit_tracks_what_we_sent)
{
	struct vsock_conn_state c = established();
	struct vsock_pkt out, p = guest_pkt(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0);

	c.peer_buf_alloc = 1000;
	cr_assert_eq(vsock_peer_credit(&c), 1000);
	vsock_conn_make_pkt(&c, GUEST, VIRTIO_VSOCK_OP_RW, 0, 600, &out);
	cr_assert_eq(out.len, 600);
	cr_assert_eq(vsock_peer_credit(&c), 400);
	vsock_conn_make_pkt(&c, GUEST, VIRTIO_VSOCK_OP_RW, 0, 400, &out);
	cr_assert_eq(vsock_peer_credit(&c), 0);
	/* The guest consumed 600 bytes. */
	p.buf_alloc = 1000;
	p.fwd_cnt = 600;
	cr_assert_eq(vsock_conn_recv(&c, &p), VSOCK_ACT_CREDIT);
	cr_assert_eq(vsock_peer_credit(&c), 600);
	/* The same update again changes nothing. */
	cr_assert_eq(vsock_conn_recv(&c, &p), 0);
	/* A fwd_cnt beyond what we sent is a lie: no credit at all. */
	p.fwd_cnt = 5000;
	vsock_conn_recv(&c, &p);
	cr_assert_eq(vsock_peer_credit(&c), 0);
	/* A shrunk buffer below what is in flight: no credit. */
	p.fwd_cnt = 600;
	p.buf_alloc = 100;
	vsock_conn_recv(&c, &p);
	cr_assert_eq(vsock_peer_credit(&c), 0);
}

Test(vsock, counters_wrap)
{
	struct vsock_conn_state c = established();
	struct vsock_pkt out;

	c.tx_cnt = 0xffffff00u;
	c.peer_fwd_cnt = 0xffffff00u;
	c.peer_buf_alloc = 0x1000;
	vsock_conn_make_pkt(&c, GUEST, VIRTIO_VSOCK_OP_RW, 0, 0x200, &out);
	cr_assert_eq(c.tx_cnt, 0x100);
	cr_assert_eq(vsock_peer_credit(&c), 0xe00);

	c.rx_cnt = 0xfffffff0u;
	c.fwd_cnt = 0xfffffff0u;
	c.rx_cnt += 0x20; /* wrapped */
	cr_assert_eq(vsock_rx_pending(&c), 0x20);
	cr_assert_eq(vsock_rx_space(&c), BUF - 0x20);
}

Test(vsock, credit_updates_are_batched_but_never_withheld)
{
	struct vsock_conn_state c = established();
	struct vsock_pkt out;

	/* 100 KiB in and out: the guest still sees plenty of room. */
	c.rx_cnt = c.fwd_cnt = 100 * 1024;
	cr_assert_not(vsock_want_credit_update(&c));
	/* 200 KiB: under half of the buffer as the guest sees it. */
	c.rx_cnt = c.fwd_cnt = 200 * 1024;
	cr_assert(vsock_want_credit_update(&c));
	vsock_conn_make_pkt(&c, GUEST, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, 0,
			    &out);
	cr_assert_eq(out.fwd_cnt, 200 * 1024);
	cr_assert_not(vsock_want_credit_update(&c));

	/* A stalled sender (buffer full), the host drains slowly. */
	c = established();
	c.rx_cnt = BUF;
	c.fwd_cnt = 10 * 1024;
	cr_assert_not(vsock_want_credit_update(&c), "a little freed: wait");
	c.fwd_cnt = BUF / 8;
	cr_assert(vsock_want_credit_update(&c), "an eighth freed: tell");
	vsock_conn_make_pkt(&c, GUEST, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, 0,
			    &out);
	/* The guest refilled the buffer; the host took all of it. */
	c.rx_cnt = c.fwd_cnt_sent + BUF;
	c.fwd_cnt = c.rx_cnt;
	cr_assert(vsock_want_credit_update(&c), "everything drained: tell");

	/* Nobody to tell. */
	c.peer_shut = VIRTIO_VSOCK_SHUTDOWN_SEND;
	cr_assert_not(vsock_want_credit_update(&c));
	c.peer_shut = 0;
	c.state = VSOCK_ST_CLOSED;
	cr_assert_not(vsock_want_credit_update(&c));
}

Test(vsock, shutdown_we_send_is_remembered)
{
	struct vsock_conn_state c = established();
	struct vsock_pkt out;

	vsock_conn_make_pkt(&c, GUEST, VIRTIO_VSOCK_OP_SHUTDOWN,
			    VIRTIO_VSOCK_SHUTDOWN_SEND, 0, &out);
	cr_assert_eq(out.flags, VIRTIO_VSOCK_SHUTDOWN_SEND);
	cr_assert_eq(c.local_shut, VIRTIO_VSOCK_SHUTDOWN_SEND);
	cr_assert_eq(c.tx_cnt, 0);
}

Test(vsock, connect_line)
{
	uint32_t port = 0;

	cr_assert_eq(vsock_parse_connect("CONNECT 5000", 12, &port), 0);
	cr_assert_eq(port, 5000);
	cr_assert_eq(vsock_parse_connect("CONNECT 7\r", 10, &port), 0);
	cr_assert_eq(port, 7);
	cr_assert_eq(vsock_parse_connect("CONNECT 4294967295", 18, &port), 0);
	cr_assert_eq(port, 4294967295u);
	cr_assert_eq(vsock_parse_connect("CONNECT 4294967296", 18, &port),
		     -EINVAL);
	cr_assert_eq(vsock_parse_connect("CONNECT 00000000001", 19, &port),
		     -EINVAL, "more than 10 digits");
	cr_assert_eq(vsock_parse_connect("CONNECT ", 8, &port), -EINVAL);
	cr_assert_eq(vsock_parse_connect("CONNECT", 7, &port), -EINVAL);
	cr_assert_eq(vsock_parse_connect("connect 1", 9, &port), -EINVAL);
	cr_assert_eq(vsock_parse_connect("CONNECT  1", 10, &port), -EINVAL);
	cr_assert_eq(vsock_parse_connect("CONNECT 12a", 11, &port), -EINVAL);
	cr_assert_eq(vsock_parse_connect("CONNECT -1", 10, &port), -EINVAL);
	cr_assert_eq(vsock_parse_connect("", 0, &port), -EINVAL);
}
