/* net.c: virtio-net on a tap interface: one rx/tx queue pair, checksum and TSO offloads passed through to the tap. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "devices/pci/host.h"
#include "devices/virtio/devices.h"
#include "devices/virtio/virtio.h"
#include "vmm/evloop.h"
#include "devices/machine.h"

/*
 * The tap speaks the same virtio_net_hdr as the guest (IFF_VNET_HDR, 12
 * bytes: the VERSION_1 layout), so frames pass between the guest's buffers
 * and the tap with one readv/writev each and no copy of the payload.
 *
 * Offloads, when the tap supports them: the guest may hand us partially
 * checksummed frames and TCP segments up to 64 KiB (CSUM, HOST_TSO4/6,
 * HOST_ECN), and the tap may hand the guest the same (GUEST_CSUM,
 * GUEST_TSO4/6, GUEST_ECN: TUNSETOFFLOAD is set from what the driver
 * accepted, at DRIVER_OK, and cleared on reset). No UFO. Headers the guest
 * sends are checked against what it negotiated before the tap sees them.
 *
 * Mergeable rx buffers (MRG_RXBUF): a frame may span several small
 * buffers, so a driver posts page-sized ones instead of 64 KiB chains
 * for every slot (Linux's "big packets" hold ~19 MiB of guest RAM for a
 * 256-entry ring). The frame is read into a bounce buffer, copied into as
 * many buffers as it needs, and all of them are returned together, the
 * first carrying num_buffers. Without MRG_RXBUF, the tap reads straight
 * into the one buffer (no copy).
 *
 * rx: the tap is polled on the loop while the guest has buffers; when it
 * has none, the tap is left alone (its queue holds the frames) until the
 * guest kicks the rx queue.
 */

#define NET_RXQ	       0
#define NET_TXQ	       1
#define NET_QUEUE_SIZE 256
#define NET_HDR_SIZE   ((uint32_t)sizeof(struct virtio_net_hdr_v1)) /* 12 */
#define NET_RX_BUDGET  64 /* frames per callback before others run */
/* A frame from the tap: header, and up to 64 KiB of GSO payload + L2. */
#define NET_FRAME_MAX (NET_HDR_SIZE + 65536 + 14 + 4)
#define NET_TX_BUDGET  256

#define F(bit) (1ull << (bit))
#define NET_OFFLOADS                                               \
	(F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_GUEST_CSUM) |       \
	 F(VIRTIO_NET_F_GUEST_TSO4) | F(VIRTIO_NET_F_GUEST_TSO6) | \
	 F(VIRTIO_NET_F_GUEST_ECN) | F(VIRTIO_NET_F_HOST_TSO4) |   \
	 F(VIRTIO_NET_F_HOST_TSO6) | F(VIRTIO_NET_F_HOST_ECN))
#define TUN_OFFLOADS (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN)

struct virtio_net {
	struct virtio_dev vdev;
	struct virtio_dev_ops ops; /* features depend on the tap */
	struct machine *mach;
	char name[32];
	char ifname[IFNAMSIZ];
	int tap_fd;
	uint8_t mac[6];
	struct ev_source *tap_src;
	bool rx_waiting; /* tap not polled until the guest adds buffers */
	bool rx_held; /* rxe is a popped buffer not filled yet */
	bool tap_broken; /* the tap failed for good (deleted) */
	struct ratelimit rl;
	uint64_t rx_frames, tx_frames, rx_dropped, tx_dropped;
	uint64_t rx_merged; /* frames that took more than one buffer */
	struct virtq_elem rxe, txe;
	struct iovec iov[VIRTQ_MAX_SEGS + 1];

	/* MRG_RXBUF: the frame being placed (frame_len 0: none). */
	uint8_t *frame; /* NET_FRAME_MAX bytes, from the first activation */
	uint32_t frame_len, frame_off;
	struct virtq_elem *first; /* its first buffer, filled last */
	uint32_t first_len;
	unsigned int nbufs; /* buffers taken: first + rest[] */
	uint16_t rest_head[NET_QUEUE_SIZE];
	uint32_t rest_len[NET_QUEUE_SIZE];
};

#define net_warn(n, ...)                                                 \
	do {                                                             \
		if (ratelimit_ok(&(n)->rl, 10))                          \
			log_warn((n)->mach->log, (n)->name, __VA_ARGS__); \
	} while (0)

/* Host iovecs for the guest iovecs from byte `skip` on; returns the count. */
static unsigned int iov_from(const struct virtq_iov *src, unsigned int n,
			     size_t skip, struct iovec *dst)
{
	unsigned int k = 0;

	for (unsigned int i = 0; i < n; i++) {
		if (skip >= src[i].len) {
			skip -= src[i].len;
			continue;
		}
		dst[k++] = (struct iovec){(uint8_t *)src[i].base + skip,
					  src[i].len - skip};
		skip = 0;
	}
	return k;
}

/* TUN_F_* for the offloads the driver accepted. */
static unsigned int net_tun_offloads(uint64_t f)
{
	unsigned int t;

	if (!(f & F(VIRTIO_NET_F_GUEST_CSUM)))
		return 0;
	t = TUN_F_CSUM;
	if (f & F(VIRTIO_NET_F_GUEST_TSO4))
		t |= TUN_F_TSO4;
	if (f & F(VIRTIO_NET_F_GUEST_TSO6))
		t |= TUN_F_TSO6;
	if ((f & F(VIRTIO_NET_F_GUEST_ECN)) && (t & (TUN_F_TSO4 | TUN_F_TSO6)))
		t |= TUN_F_TSO_ECN;
	return t;
}

static void self_kick(struct virtio_net *n, unsigned int q)
{
	uint64_t one = 1;

	(void)!write(n->vdev.q[q].kick_fd, &one, sizeof(one));
}

/* ---- rx: tap -> guest ---- */

/* Fill guest buffers from the tap. Returns whether to keep polling it. */
static bool net_rx(struct virtio_net *n)
{
	struct virtio_dev *d = &n->vdev;
	struct virtio_queue *q = &d->q[NET_RXQ];
	unsigned int budget = NET_RX_BUDGET;
	bool pushed = false, keep = true;

	if (n->tap_broken)
		return false;
	while (budget) {
		unsigned int k;
		uint16_t one = htole16(1);
		ssize_t r;

		if (!n->rx_held) {
			if (virtio_pop(d, NET_RXQ, &n->rxe) <= 0) {
				/* No buffer: wait for the guest's kick. */
				n->rx_waiting = true;
				keep = false;
				break;
			}
			if (n->rxe.in_len < NET_HDR_SIZE) {
				net_warn(n,
					 "rx buffer of %u bytes is too "
					 "small; returned empty",
					 n->rxe.in_len);
				virtq_push(&q->vq, d->mach->mem, n->rxe.head, 0);
				pushed = true;
				budget--;
				continue;
			}
			n->rx_held = true;
		}
		k = iov_from(&n->rxe.iov[n->rxe.nout], n->rxe.nin, 0, n->iov);
		r = readv(n->tap_fd, n->iov, (int)k);
		if (r < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == EINTR)
				break;
			if (errno == EFAULT || errno == EINVAL ||
			    errno == EMSGSIZE) {
				/* The tap dropped a frame it could not
				 * describe or fit; the buffer stays ours. */
				n->rx_dropped++;
				budget--;
				continue;
			}
			log_err(n->mach->log, n->name,
				"reading tap %s: %s; the network is down",
				n->ifname, strerror(errno));
			n->tap_broken = true;
			keep = false;
			break;
		}
		if ((size_t)r < NET_HDR_SIZE || (size_t)r > n->rxe.in_len) {
			/* The tap reports a frame's full length even when it
			 * truncated it to the buffer: drop it. */
			net_warn(n,
				 "a %zd-byte frame does not fit a %u-byte "
				 "rx buffer; dropped",
				 r, n->rxe.in_len);
			n->rx_dropped++;
			budget--;
			continue;
		}
		/* num_buffers: one (no mergeable buffers). */
		virtq_buf_to_iov(
			&n->rxe.iov[n->rxe.nout], n->rxe.nin,
			offsetof(struct virtio_net_hdr_v1, num_buffers), &one,
			sizeof(one));
		virtq_push(&q->vq, d->mach->mem, n->rxe.head, (uint32_t)r);
		n->rx_held = false;
		n->rx_frames++;
		pushed = true;
		budget--;
	}
	if (pushed)
		virtio_notify_queue(d, NET_RXQ);
	return keep;
}

/* Read one frame from the tap into n->frame. 1, 0 (none), -1 (tap gone). */
static int net_rx_read_frame(struct virtio_net *n)
{
	for (;;) {
		ssize_t r = read(n->tap_fd, n->frame, NET_FRAME_MAX);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (r < 0 && (errno == EFAULT || errno == EINVAL ||
			      errno == EMSGSIZE)) {
			n->rx_dropped++;
			continue;
		}
		if (r < 0) {
			log_err(n->mach->log, n->name,
				"reading tap %s: %s; the network is down",
				n->ifname, strerror(errno));
			n->tap_broken = true;
			return -1;
		}
		if ((size_t)r < NET_HDR_SIZE || (size_t)r > NET_FRAME_MAX) {
			net_warn(n, "a %zd-byte frame from the tap; dropped",
				 r);
			n->rx_dropped++;
			continue;
		}
		n->frame_len = (uint32_t)r;
		n->frame_off = 0;
		n->nbufs = 0;
		return 1;
	}
}

/*
 * Place the pending frame into guest buffers. Returns true when it is
 * done (all buffers returned), false when the guest ran out of buffers
 * (the frame waits for its kick). Lock held.
 */
static bool net_rx_place(struct virtio_net *n)
{
	struct virtio_dev *d = &n->vdev;
	struct virtio_queue *q = &d->q[NET_RXQ];
	struct virtq_elem *e = &n->rxe;
	uint16_t count;

	while (n->frame_off < n->frame_len) {
		uint32_t take;

		if (n->nbufs == q->size || n->nbufs == NET_QUEUE_SIZE) {
			/* The whole ring cannot hold it: give it all back. */
			net_warn(n, "a %u-byte frame needs more than %u rx "
				    "buffers; dropped",
				 n->frame_len, n->nbufs);
			virtq_push(&q->vq, d->mach->mem, n->first->head, 0);
			for (unsigned int i = 0; i + 1 < n->nbufs; i++)
				virtq_push(&q->vq, d->mach->mem, n->rest_head[i],
					   0);
			n->rx_dropped++;
			n->frame_len = 0;
			virtio_notify_queue(d, NET_RXQ);
			return true;
		}
		if (virtio_pop(d, NET_RXQ, n->nbufs ? e : n->first) <= 0)
			return false;
		if (!n->nbufs && n->first->in_len < NET_HDR_SIZE) {
			net_warn(n, "rx buffer of %u bytes is too small; "
				    "returned empty",
				 n->first->in_len);
			virtq_push(&q->vq, d->mach->mem, n->first->head, 0);
			virtio_notify_queue(d, NET_RXQ);
			continue;
		}
		if (!n->nbufs) {
			take = n->first->in_len;
			if (take > n->frame_len)
				take = n->frame_len;
			n->first_len = take;
		} else {
			take = (uint32_t)virtq_buf_to_iov(
				&e->iov[e->nout], e->nin, 0,
				n->frame + n->frame_off,
				n->frame_len - n->frame_off);
			n->rest_head[n->nbufs - 1] = e->head;
			n->rest_len[n->nbufs - 1] = take;
		}
		n->frame_off += take;
		n->nbufs++;
	}
	/* All taken: the count goes in the header, then the first buffer. */
	count = htole16((uint16_t)n->nbufs);
	memcpy(n->frame + offsetof(struct virtio_net_hdr_v1, num_buffers),
	       &count, sizeof(count));
	virtq_buf_to_iov(&n->first->iov[n->first->nout], n->first->nin, 0,
			 n->frame, n->first_len);
	virtq_push(&q->vq, d->mach->mem, n->first->head, n->first_len);
	for (unsigned int i = 0; i + 1 < n->nbufs; i++)
		virtq_push(&q->vq, d->mach->mem, n->rest_head[i], n->rest_len[i]);
	n->frame_len = 0;
	n->rx_frames++;
	n->rx_merged += n->nbufs > 1;
	return true;
}

/* net_rx with MRG_RXBUF. Returns whether to keep polling the tap. */
static bool net_rx_mergeable(struct virtio_net *n)
{
	unsigned int budget = NET_RX_BUDGET;
	bool pushed = false, keep = true;

	while (budget && !n->tap_broken) {
		if (!n->frame_len) {
			int r = net_rx_read_frame(n);

			if (r <= 0) {
				keep = r == 0;
				break;
			}
		}
		if (!net_rx_place(n)) {
			n->rx_waiting = true;
			keep = false;
			break;
		}
		pushed = true;
		budget--;
	}
	if (pushed)
		virtio_notify_queue(&n->vdev, NET_RXQ);
	return keep;
}

static bool net_tap_cb(void *opaque, int fd, uint32_t revents)
{
	struct virtio_net *n = opaque;
	bool keep;

	pthread_mutex_lock(&n->vdev.lock);
	if (n->vdev.driver_features & F(VIRTIO_NET_F_MRG_RXBUF))
		keep = net_rx_mergeable(n);
	else
		keep = net_rx(n);
	pthread_mutex_unlock(&n->vdev.lock);
	return keep;
}

/* The guest has buffers again (or the queues just went live). Lock held. */
static void net_rx_resume(struct virtio_net *n)
{
	int r;

	if (!n->rx_waiting || n->tap_broken || !n->tap_src)
		return;
	/* A frame read before the buffers ran out goes first. */
	if (n->frame_len) {
		if (!net_rx_place(n))
			return;
		virtio_notify_queue(&n->vdev, NET_RXQ);
	}
	n->rx_waiting = false;
	r = evloop_rearm(n->mach->loop, n->tap_src);
	if (r < 0)
		log_err(n->mach->log, n->name, "polling tap %s: %s", n->ifname,
			strerror(-r));
}

/* ---- tx: guest -> tap ---- */

/* Is the header one the driver may send, given what it negotiated? */
static bool net_tx_hdr_ok(const struct virtio_net *n,
			  const struct virtio_net_hdr_v1 *h)
{
	uint64_t f = n->vdev.driver_features;
	uint8_t gso = h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;

	if (h->flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM)
		return false;
	if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
	    !(f & F(VIRTIO_NET_F_CSUM)))
		return false;
	if ((h->gso_type & VIRTIO_NET_HDR_GSO_ECN) &&
	    (gso == VIRTIO_NET_HDR_GSO_NONE || !(f & F(VIRTIO_NET_F_HOST_ECN))))
		return false;
	switch (gso) {
	case VIRTIO_NET_HDR_GSO_NONE:
		return true;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		return f & F(VIRTIO_NET_F_HOST_TSO4);
	case VIRTIO_NET_HDR_GSO_TCPV6:
		return f & F(VIRTIO_NET_F_HOST_TSO6);
	}
	return false;
}

static void net_tx_one(struct virtio_net *n, const struct virtq_elem *e)
{
	struct virtio_net_hdr_v1 h;
	unsigned int k;

	if (e->out_len < NET_HDR_SIZE) {
		net_warn(n, "tx buffer of %u bytes has no header; dropped",
			 e->out_len);
		n->tx_dropped++;
		return;
	}
	/* Our own copy of the header: checked, then what the tap reads. */
	virtq_iov_to_buf(e->iov, e->nout, 0, &h, sizeof(h));
	if (!net_tx_hdr_ok(n, &h)) {
		net_warn(n,
			 "tx header (flags 0x%x, gso 0x%x) uses offloads "
			 "the driver did not negotiate; dropped",
			 h.flags, h.gso_type);
		n->tx_dropped++;
		return;
	}
	if (n->tap_broken) {
		n->tx_dropped++;
		return;
	}
	n->iov[0] = (struct iovec){&h, sizeof(h)};
	k = 1 + iov_from(e->iov, e->nout, NET_HDR_SIZE, n->iov + 1);
	if (writev(n->tap_fd, n->iov, (int)k) < 0) {
		/* A full or down tap drops, like a wire. */
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EIO)
			net_warn(n, "writing a %u-byte frame to tap %s: %s",
				 e->out_len - NET_HDR_SIZE, n->ifname,
				 strerror(errno));
		n->tx_dropped++;
		return;
	}
	n->tx_frames++;
}

static void net_tx(struct virtio_net *n)
{
	struct virtio_dev *d = &n->vdev;
	unsigned int budget = NET_TX_BUDGET;
	bool pushed = false;

	while (budget && virtio_pop(d, NET_TXQ, &n->txe) > 0) {
		net_tx_one(n, &n->txe);
		virtq_push(&d->q[NET_TXQ].vq, d->mach->mem, n->txe.head, 0);
		pushed = true;
		budget--;
	}
	if (!budget)
		self_kick(n, NET_TXQ); /* more later: let others run */
	if (pushed)
		virtio_notify_queue(d, NET_TXQ);
}

/* ---- the device model ---- */

static void net_config_read(struct virtio_dev *d, unsigned int off,
			    uint8_t *data, unsigned int len)
{
	struct virtio_net *n = d->priv;
	struct virtio_net_config c = {0};

	memcpy(c.mac, n->mac, sizeof(c.mac));
	c.status = htole16(VIRTIO_NET_S_LINK_UP);
	c.max_virtqueue_pairs = htole16(1);
	/* The transport keeps off + len within config_size. */
	memcpy(data, (uint8_t *)&c + off, len);
}

static int net_activate(struct virtio_dev *d)
{
	struct virtio_net *n = d->priv;
	unsigned int t = net_tun_offloads(d->driver_features);

	if ((d->driver_features & F(VIRTIO_NET_F_MRG_RXBUF)) && !n->frame) {
		n->frame = malloc(NET_FRAME_MAX);
		n->first = malloc(sizeof(*n->first));
		if (!n->frame || !n->first)
			return -ENOMEM;
	}
	if (ioctl(n->tap_fd, TUNSETOFFLOAD, (unsigned long)t) < 0) {
		log_err(n->mach->log, n->name,
			"tap %s: setting offloads 0x%x: %s", n->ifname, t,
			strerror(errno));
		return -errno;
	}
	log_debug(n->mach->log, n->name,
		  "driver features 0x%llx, tap offloads 0x%x",
		  (unsigned long long)d->driver_features, t);
	net_rx_resume(n);
	return 0;
}

static void net_reset(struct virtio_dev *d)
{
	struct virtio_net *n = d->priv;

	n->rx_held = false;
	n->frame_len = 0; /* its buffers went with the queue */
	/* The next driver may not take offloaded frames. */
	if (n->tap_fd >= 0)
		(void)!ioctl(n->tap_fd, TUNSETOFFLOAD, 0ul);
}

static void net_queue_notify(struct virtio_dev *d, unsigned int q)
{
	struct virtio_net *n = d->priv;

	pthread_mutex_lock(&d->lock);
	if (q == NET_TXQ)
		net_tx(n);
	else
		net_rx_resume(n);
	pthread_mutex_unlock(&d->lock);
}

static void net_free(struct virtio_net *n)
{
	if (n->tap_fd >= 0)
		close(n->tap_fd);
	free(n->frame);
	free(n->first);
	free(n);
}

static int net_create(struct machine *mach, struct pci_dev_slot *slot,
		      const struct pci_plan_dev *pd)
{
	struct virtio_net *n = slot->priv;
	int r;

	r = virtio_pci_init(&n->vdev, mach, &n->ops, n, pd->name);
	slot->fn = &n->vdev.fn;
	snprintf(n->name, sizeof(n->name), "%s", pd->name);
	if (r < 0)
		return r;
	return evloop_add(mach->loop, n->tap_fd, POLLIN, net_tap_cb, n,
			  &n->tap_src);
}

static void net_destroy(struct pci_dev_slot *slot)
{
	struct virtio_net *n = slot->priv;

	if (!n)
		return;
	virtio_pci_destroy(&n->vdev);
	log_info(n->mach->log, n->name,
		  "rx %llu frames (%llu in several buffers, %llu dropped), "
		  "tx %llu (%llu dropped)",
		  (unsigned long long)n->rx_frames,
		  (unsigned long long)n->rx_merged,
		  (unsigned long long)n->rx_dropped,
		  (unsigned long long)n->tx_frames,
		  (unsigned long long)n->tx_dropped);
	net_free(n);
	slot->priv = NULL;
}

static int tap_open(struct virtio_net *n)
{
	const struct logger *lg = n->mach->log;
	struct ifreq ifr = {0};
	int hdr = (int)NET_HDR_SIZE, r;
	bool existed = if_nametoindex(n->ifname) != 0;

	n->tap_fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (n->tap_fd < 0) {
		r = -errno;
		if (r == -ENOENT)
			log_err(lg, n->name,
				"--net tap=%s: /dev/net/tun does not exist "
				"(modprobe tun)",
				n->ifname);
		else
			log_err(lg, n->name, "--net tap=%s: /dev/net/tun: %s",
				n->ifname, strerror(-r));
		return r == -EACCES ? -EPERM : r;
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", n->ifname);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(n->tap_fd, TUNSETIFF, &ifr) < 0) {
		r = -errno;
		if (r == -EPERM)
			log_err(lg, n->name,
				"--net tap=%s: not permitted (use a tap this "
				"user owns, e.g. ip tuntap add mode tap user "
				"USER name %s, or run with CAP_NET_ADMIN)",
				n->ifname, n->ifname);
		else if (r == -EBUSY)
			log_err(lg, n->name,
				"--net tap=%s: in use by another process",
				n->ifname);
		else if (r == -EINVAL)
			log_err(lg, n->name,
				"--net tap=%s: %s is not a single-queue tap "
				"interface",
				n->ifname, n->ifname);
		else
			log_err(lg, n->name, "--net tap=%s: %s", n->ifname,
				strerror(-r));
		return r;
	}
	if (ioctl(n->tap_fd, TUNSETVNETHDRSZ, &hdr) < 0) {
		r = -errno;
		log_err(lg, n->name,
			"--net tap=%s: setting the vnet header "
			"size: %s",
			n->ifname, strerror(-r));
		return r;
	}
	/* Offer offloads only if the tap can take them back. */
	if (ioctl(n->tap_fd, TUNSETOFFLOAD, (unsigned long)TUN_OFFLOADS) == 0)
		n->ops.features |= NET_OFFLOADS;
	else
		log_info(lg, n->name,
			 "tap %s takes no offloads (%s): offering none",
			 n->ifname, strerror(errno));
	(void)!ioctl(n->tap_fd, TUNSETOFFLOAD, 0ul);
	log_info(lg, n->name, "%s tap %s, MAC %02x:%02x:%02x:%02x:%02x:%02x",
		 existed ? "attached to" : "created", n->ifname, n->mac[0],
		 n->mac[1], n->mac[2], n->mac[3], n->mac[4], n->mac[5]);
	return 0;
}

/* A stable, locally administered unicast MAC from the tap name. */
static void net_derive_mac(const char *tap, unsigned int index, uint8_t *mac)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (const char *p = tap; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	h = (h ^ index) * 16777619u;
	mac[0] = 0x06;
	mac[1] = 0x6d;
	mac[2] = (uint8_t)(h >> 24);
	mac[3] = (uint8_t)(h >> 16);
	mac[4] = (uint8_t)(h >> 8);
	mac[5] = (uint8_t)h;
}

int virtio_net_add(struct machine *mach, const struct microvm_net *net,
		   unsigned int index)
{
	struct virtio_net *n = calloc(1, sizeof(*n));
	struct pci_dev_req req;
	int r = 0;

	if (!n)
		return -ENOMEM;
	n->mach = mach;
	n->tap_fd = -1;
	snprintf(n->name, sizeof(n->name), "virtio-net%u", index);
	n->ops = (struct virtio_dev_ops){
		.name = "virtio-net",
		.device_id = VIRTIO_ID_NET,
		.pci_class = 0x020000, /* Ethernet controller */
		.features = F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_STATUS) |
			    F(VIRTIO_NET_F_MRG_RXBUF),
		.nqueues = 2,
		.queue_max = NET_QUEUE_SIZE,
		.config_size = offsetof(struct virtio_net_config, mtu),
		.config_read = net_config_read,
		.activate = net_activate,
		.reset = net_reset,
		.queue_notify = net_queue_notify,
	};
	if (!net->tap || !*net->tap || strlen(net->tap) >= IFNAMSIZ) {
		log_err(mach->log, n->name,
			"--net tap=%s: want an interface name of 1 to %d "
			"characters",
			net->tap ? net->tap : "", IFNAMSIZ - 1);
		r = -EINVAL;
	} else if (net->mac_set && ((net->mac[0] & 1) ||
				    !memcmp(net->mac, "\0\0\0\0\0\0", 6))) {
		log_err(mach->log, n->name,
			"--net tap=%s: the MAC is a multicast or zero address",
			net->tap);
		r = -EINVAL;
	} else {
		snprintf(n->ifname, sizeof(n->ifname), "%s", net->tap);
		if (net->mac_set)
			memcpy(n->mac, net->mac, sizeof(n->mac));
		else
			net_derive_mac(net->tap, index, n->mac);
		/* Planning only (no VM): open no back-end. */
		if (!mach->plan_only)
			r = tap_open(n);
	}
	if (!r) {
		virtio_pci_dev_req(&req, n->name);
		r = mach->ops->pci_add(mach, &req, net_create, net_destroy, n);
	}
	if (r < 0)
		net_free(n);
	return r;
}
