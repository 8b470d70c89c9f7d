/* virtio_pci.c: virtio 1.x modern PCI transport: capabilities, common config, MSI-X, ioeventfd kicks. */
#include <errno.h>
#include <linux/pci_regs.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/pci/pcie.h"
#include "devices/virtio/virtio.h"
#include "vmm/evloop.h"
#include "devices/machine.h"

#define VIRTIO_PCI_VENDOR      0x1af4
#define VIRTIO_PCI_DEVICE_BASE 0x1040 /* + device id: modern devices */

#define MSIX_CTRL_MASKED 1u

void virtio_pci_dev_req(struct pci_dev_req *req, const char *name)
{
	memset(req, 0, sizeof(*req));
	snprintf(req->name, sizeof(req->name), "%s", name);
	req->bar[0].kind = PCI_BAR_KIND_MEM32;
	req->bar[0].size = VIRTIO_BAR_SIZE;
}

/* ---- MSI-X ---- */

static bool msix_enabled(const struct virtio_dev *d)
{
	return pci_get16(&d->fn.cfg, d->msix_cap + PCI_MSIX_FLAGS) &
	       PCI_MSIX_FLAGS_ENABLE;
}

static bool msix_function_masked(const struct virtio_dev *d)
{
	return pci_get16(&d->fn.cfg, d->msix_cap + PCI_MSIX_FLAGS) &
	       PCI_MSIX_FLAGS_MASKALL;
}

/* Raise vector v now, or remember it as pending while masked. Lock held. */
static void msix_fire(struct virtio_dev *d, unsigned int v)
{
	struct virtio_msix_vec *e;
	uint64_t one = 1;

	if (v >= d->nvectors || !msix_enabled(d))
		return;
	e = &d->vec[v];
	if (msix_function_masked(d) || (e->ctrl & MSIX_CTRL_MASKED)) {
		e->pending = true;
		return;
	}
	log_debug(d->mach->log, d->fn.name, "MSI-X vector %u (gsi %u)", v,
		  e->gsi);
	(void)!write(e->fd, &one, sizeof(one));
}

/* Re-deliver pending vectors that are no longer masked. Lock held. */
static void msix_flush_pending(struct virtio_dev *d)
{
	for (unsigned int v = 0; v < d->nvectors; v++) {
		if (d->vec[v].pending && msix_enabled(d) &&
		    !msix_function_masked(d) &&
		    !(d->vec[v].ctrl & MSIX_CTRL_MASKED)) {
			d->vec[v].pending = false;
			msix_fire(d, v);
		}
	}
}

static void msix_table_access(struct virtio_dev *d, uint64_t off, uint8_t *data,
			      unsigned int len, bool is_write)
{
	unsigned int v = (unsigned int)(off / 16), word = (off % 16) / 4;
	struct virtio_msix_vec *e;
	uint32_t *field, val = 0;

	if (v >= d->nvectors || len != 4 || (off & 3)) {
		/* 8-byte accesses split into two dwords. */
		if (len == 8 && !(off & 7) && v < d->nvectors) {
			msix_table_access(d, off, data, 4, is_write);
			msix_table_access(d, off + 4, data + 4, 4, is_write);
		} else if (!is_write) {
			memset(data, 0, len);
		}
		return;
	}
	e = &d->vec[v];
	field = word == 0   ? &e->addr_lo
		: word == 1 ? &e->addr_hi
		: word == 2 ? &e->data
			    : &e->ctrl;
	if (!is_write) {
		memcpy(data, field, 4);
		return;
	}
	memcpy(&val, data, 4);
	if (word == 3)
		val &= MSIX_CTRL_MASKED;
	if (*field == val)
		return;
	*field = val;
	if (word < 3) {
		int r = d->mach->ops->msi_route(d->mach, e->gsi, (uint64_t)e->addr_hi << 32 | e->addr_lo,
			e->data, pci_function_requester_id(&d->fn));

		if (r < 0 && ratelimit_ok(&d->rl, 5))
			log_warn(d->mach->log, d->fn.name,
				 "MSI-X vector %u: route update failed: %s", v,
				 strerror(-r));
	} else {
		msix_flush_pending(d);
	}
}

static void msix_pba_read(struct virtio_dev *d, uint64_t off, uint8_t *data,
			  unsigned int len)
{
	uint64_t bits = 0;

	for (unsigned int v = 0; v < d->nvectors; v++)
		if (d->vec[v].pending)
			bits |= 1ull << v;
	memset(data, 0, len);
	if (off < 8)
		memcpy(data, (uint8_t *)&bits + off,
		       len < 8 - off ? len : 8 - off);
}

/* ---- interrupts to the driver ---- */

void virtio_notify_queue(struct virtio_dev *d, unsigned int q)
{
	struct virtio_queue *vq = &d->q[q];

	if (!virtq_need_notify(&vq->vq))
		return;
	d->isr |= 1;
	if (vq->msix_vector != VIRTIO_MSI_NO_VECTOR)
		msix_fire(d, vq->msix_vector);
}

void virtio_notify_config(struct virtio_dev *d)
{
	d->config_generation++;
	d->isr |= 2;
	if (d->msix_config != VIRTIO_MSI_NO_VECTOR)
		msix_fire(d, d->msix_config);
}

void virtio_queue_broken(struct virtio_dev *d, unsigned int q, const char *why)
{
	if (ratelimit_ok(&d->rl, 5))
		log_warn(d->mach->log, d->fn.name,
			 "queue %u is malformed (%s); device needs reset", q,
			 why);
	d->q[q].live = false;
	if (!(d->status & VIRTIO_CONFIG_S_NEEDS_RESET)) {
		d->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
		virtio_notify_config(d);
	}
}

int virtio_pop(struct virtio_dev *d, unsigned int q, struct virtq_elem *elem)
{
	struct virtio_queue *vq = &d->q[q];
	char err[160];
	int r;

	if (q >= d->ops->nqueues || !vq->live)
		return 0;
	r = virtq_pop(&vq->vq, d->mach->mem, elem, err, sizeof(err));
	if (r == 0) {
		/* Ask for a kick past what we consumed, then look again in
		 * case the driver added a request in between. */
		virtq_set_avail_event(&vq->vq);
		r = virtq_pop(&vq->vq, d->mach->mem, elem, err, sizeof(err));
	}
	if (r < 0)
		virtio_queue_broken(d, q, err);
	return r;
}

/* ---- device status, reset, activation ---- */

static void virtio_reset(struct virtio_dev *d)
{
	if (d->ops->reset)
		d->ops->reset(d);
	d->driver_features = 0;
	d->dfselect = d->gfselect = 0;
	d->status = 0;
	d->isr = 0;
	d->queue_sel = 0;
	d->msix_config = VIRTIO_MSI_NO_VECTOR;
	for (unsigned int i = 0; i < d->ops->nqueues; i++) {
		struct virtio_queue *q = &d->q[i];

		virtq_reset(&q->vq);
		q->size = d->ops->queue_max;
		q->enabled = q->live = false;
		q->msix_vector = VIRTIO_MSI_NO_VECTOR;
		q->desc = q->driver = q->device = 0;
	}
	for (unsigned int v = 0; v < d->nvectors; v++)
		d->vec[v].pending = false;
}

static void virtio_activate(struct virtio_dev *d)
{
	for (unsigned int i = 0; i < d->ops->nqueues; i++) {
		struct virtio_queue *q = &d->q[i];
		int r;

		if (!q->enabled)
			continue;
		r = virtq_init(&q->vq, d->mach->mem, q->size, q->desc, q->driver,
			       q->device, d->driver_features);
		if (r < 0) {
			virtio_queue_broken(d, i,
					    "rings outside guest RAM "
					    "or misaligned");
			return;
		}
		q->live = true;
	}
	if (d->ops->activate && d->ops->activate(d) < 0) {
		d->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
		virtio_notify_config(d);
	}
}

static void virtio_set_status(struct virtio_dev *d, uint8_t v)
{
	uint8_t old = d->status;

	if (v == 0) {
		virtio_reset(d);
		return;
	}
	if ((v & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    !(old & VIRTIO_CONFIG_S_FEATURES_OK)) {
		/* Refuse what we did not offer, and legacy drivers. */
		if ((d->driver_features & ~d->device_features) ||
		    !virtio_has_feature(d, VIRTIO_F_VERSION_1)) {
			if (ratelimit_ok(&d->rl, 5))
				log_warn(
					d->mach->log, d->fn.name,
					"driver asked for features 0x%llx "
					"beyond "
					"0x%llx (or no VERSION_1); refusing",
					(unsigned long long)d->driver_features,
					(unsigned long long)d->device_features);
			v &= (uint8_t)~VIRTIO_CONFIG_S_FEATURES_OK;
		}
	}
	d->status = v | (old & VIRTIO_CONFIG_S_NEEDS_RESET);
	if ((v & VIRTIO_CONFIG_S_DRIVER_OK) &&
	    !(old & VIRTIO_CONFIG_S_DRIVER_OK))
		virtio_activate(d);
}

/* ---- the common configuration structure ---- */

static uint64_t common_read(struct virtio_dev *d, unsigned int off)
{
	struct virtio_queue *q =
		d->queue_sel < d->ops->nqueues ? &d->q[d->queue_sel] : NULL;

	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT:
		return d->dfselect;
	case VIRTIO_PCI_COMMON_DF:
		return d->dfselect < 2 ? (uint32_t)(d->device_features >>
						    (32 * d->dfselect))
				       : 0;
	case VIRTIO_PCI_COMMON_GFSELECT:
		return d->gfselect;
	case VIRTIO_PCI_COMMON_GF:
		return d->gfselect < 2 ? (uint32_t)(d->driver_features >>
						    (32 * d->gfselect))
				       : 0;
	case VIRTIO_PCI_COMMON_MSIX:
		return d->msix_config;
	case VIRTIO_PCI_COMMON_NUMQ:
		return d->ops->nqueues;
	case VIRTIO_PCI_COMMON_STATUS:
		return d->status;
	case VIRTIO_PCI_COMMON_CFGGENERATION:
		return d->config_generation;
	case VIRTIO_PCI_COMMON_Q_SELECT:
		return d->queue_sel;
	case VIRTIO_PCI_COMMON_Q_SIZE:
		return q ? q->size : 0;
	case VIRTIO_PCI_COMMON_Q_MSIX:
		return q ? q->msix_vector : VIRTIO_MSI_NO_VECTOR;
	case VIRTIO_PCI_COMMON_Q_ENABLE:
		return q ? q->enabled : 0;
	case VIRTIO_PCI_COMMON_Q_NOFF:
		return d->queue_sel;
	case VIRTIO_PCI_COMMON_Q_DESCLO:
		return q ? q->desc : 0;
	case VIRTIO_PCI_COMMON_Q_AVAILLO:
		return q ? q->driver : 0;
	case VIRTIO_PCI_COMMON_Q_USEDLO:
		return q ? q->device : 0;
	}
	return 0;
}

/* Field at `off` of the common config: its start and width. */
static int common_field(unsigned int off, unsigned int *start)
{
	static const struct {
		uint8_t start, width;
	} f[] = {
		{VIRTIO_PCI_COMMON_DFSELECT, 4},
		{VIRTIO_PCI_COMMON_DF, 4},
		{VIRTIO_PCI_COMMON_GFSELECT, 4},
		{VIRTIO_PCI_COMMON_GF, 4},
		{VIRTIO_PCI_COMMON_MSIX, 2},
		{VIRTIO_PCI_COMMON_NUMQ, 2},
		{VIRTIO_PCI_COMMON_STATUS, 1},
		{VIRTIO_PCI_COMMON_CFGGENERATION, 1},
		{VIRTIO_PCI_COMMON_Q_SELECT, 2},
		{VIRTIO_PCI_COMMON_Q_SIZE, 2},
		{VIRTIO_PCI_COMMON_Q_MSIX, 2},
		{VIRTIO_PCI_COMMON_Q_ENABLE, 2},
		{VIRTIO_PCI_COMMON_Q_NOFF, 2},
		{VIRTIO_PCI_COMMON_Q_DESCLO, 8},
		{VIRTIO_PCI_COMMON_Q_AVAILLO, 8},
		{VIRTIO_PCI_COMMON_Q_USEDLO, 8},
	};

	for (unsigned int i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		if (off >= f[i].start && off < f[i].start + f[i].width) {
			*start = f[i].start;
			return f[i].width;
		}
	}
	return -1;
}

static void common_write(struct virtio_dev *d, unsigned int start, uint64_t v)
{
	struct virtio_queue *q =
		d->queue_sel < d->ops->nqueues ? &d->q[d->queue_sel] : NULL;
	/* Queue set-up is only allowed before DRIVER_OK. */
	bool setup = !(d->status & VIRTIO_CONFIG_S_DRIVER_OK);

	switch (start) {
	case VIRTIO_PCI_COMMON_DFSELECT:
		d->dfselect = (uint32_t)v;
		break;
	case VIRTIO_PCI_COMMON_GFSELECT:
		d->gfselect = (uint32_t)v;
		break;
	case VIRTIO_PCI_COMMON_GF:
		if (d->gfselect < 2 &&
		    !(d->status & VIRTIO_CONFIG_S_FEATURES_OK)) {
			unsigned int sh = 32 * d->gfselect;

			d->driver_features &= ~(0xffffffffull << sh);
			d->driver_features |= (v & 0xffffffffull) << sh;
		}
		break;
	case VIRTIO_PCI_COMMON_MSIX:
		d->msix_config = (uint16_t)v < d->nvectors
					 ? (uint16_t)v
					 : VIRTIO_MSI_NO_VECTOR;
		break;
	case VIRTIO_PCI_COMMON_STATUS:
		virtio_set_status(d, (uint8_t)v);
		break;
	case VIRTIO_PCI_COMMON_Q_SELECT:
		d->queue_sel = (uint16_t)v;
		break;
	case VIRTIO_PCI_COMMON_Q_SIZE:
		/* A power of two up to the maximum, else ignored. */
		if (q && setup && v && v <= d->ops->queue_max && !(v & (v - 1)))
			q->size = (uint16_t)v;
		break;
	case VIRTIO_PCI_COMMON_Q_MSIX:
		if (q)
			q->msix_vector = (uint16_t)v < d->nvectors
						 ? (uint16_t)v
						 : VIRTIO_MSI_NO_VECTOR;
		break;
	case VIRTIO_PCI_COMMON_Q_ENABLE:
		if (q && setup && v == 1)
			q->enabled = true;
		break;
	case VIRTIO_PCI_COMMON_Q_DESCLO:
		if (q && setup)
			q->desc = v;
		break;
	case VIRTIO_PCI_COMMON_Q_AVAILLO:
		if (q && setup)
			q->driver = v;
		break;
	case VIRTIO_PCI_COMMON_Q_USEDLO:
		if (q && setup)
			q->device = v;
		break;
	default: /* read-only */
		break;
	}
}

static void common_access(struct virtio_dev *d, unsigned int off, uint8_t *data,
			  unsigned int len, bool is_write)
{
	unsigned int start;
	int width = common_field(off, &start);
	uint64_t v;

	/* Accesses stay within one field (64-bit ones come as halves). */
	if (width < 0 || off + len > start + (unsigned int)width) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	v = common_read(d, start);
	if (!is_write) {
		v >>= 8 * (off - start);
		memcpy(data, &v, len);
		return;
	}
	{
		uint64_t mask = (len == 8 ? ~0ull : ((1ull << (8 * len)) - 1))
				<< (8 * (off - start));
		uint64_t in = 0;

		memcpy(&in, data, len);
		v = (v & ~mask) | ((in << (8 * (off - start))) & mask);
		common_write(d, start, v);
	}
}

/* ---- BAR0 ---- */

static void kick(struct virtio_dev *d, unsigned int q)
{
	uint64_t one = 1;

	if (q < d->ops->nqueues)
		(void)!write(d->q[q].kick_fd, &one, sizeof(one));
}

static void virtio_bar_access(struct pci_function *f, unsigned int bar,
			      uint64_t off, uint8_t *data, unsigned int len,
			      bool is_write)
{
	struct virtio_dev *d = f->opaque;

	pthread_mutex_lock(&d->lock);
	if (off < VIRTIO_COMMON_OFF + VIRTIO_COMMON_SIZE) {
		common_access(d, (unsigned int)off, data, len, is_write);
	} else if (off == VIRTIO_ISR_OFF && !is_write) {
		/* Reading the ISR clears it. */
		memset(data, 0, len);
		data[0] = d->isr;
		d->isr = 0;
	} else if (off >= VIRTIO_DEVICE_OFF &&
		   off + len <= VIRTIO_DEVICE_OFF + d->ops->config_size) {
		unsigned int o = (unsigned int)(off - VIRTIO_DEVICE_OFF);

		if (is_write && d->ops->config_write)
			d->ops->config_write(d, o, data, len);
		else if (!is_write && d->ops->config_read)
			d->ops->config_read(d, o, data, len);
		else if (!is_write)
			memset(data, 0, len);
	} else if (off >= VIRTIO_NOTIFY_OFF &&
		   off < VIRTIO_NOTIFY_OFF +
				   VIRTIO_NOTIFY_MULT * d->ops->nqueues) {
		/* Without an ioeventfd the kick arrives here. */
		if (is_write)
			kick(d, (unsigned int)(off - VIRTIO_NOTIFY_OFF) /
					VIRTIO_NOTIFY_MULT);
		else
			memset(data, 0, len);
	} else if (off >= VIRTIO_MSIX_TABLE_OFF &&
		   off < VIRTIO_MSIX_TABLE_OFF + 16 * d->nvectors) {
		msix_table_access(d, off - VIRTIO_MSIX_TABLE_OFF, data, len,
				  is_write);
	} else if (off >= VIRTIO_MSIX_PBA_OFF &&
		   off < VIRTIO_MSIX_PBA_OFF + 8) {
		if (!is_write)
			msix_pba_read(d, off - VIRTIO_MSIX_PBA_OFF, data, len);
	} else if (!is_write) {
		memset(data, 0, len);
	}
	pthread_mutex_unlock(&d->lock);
}

/* BAR0 moved: register the queue notify addresses with KVM again. */
static void virtio_bars_changed(struct pci_function *f)
{
	struct virtio_dev *d = f->opaque;
	uint64_t base = f->mapped[0];

	for (unsigned int i = 0; i < d->ops->nqueues; i++) {
		struct virtio_queue *q = &d->q[i];
		uint64_t addr =
			base ? base + VIRTIO_NOTIFY_OFF + VIRTIO_NOTIFY_MULT * i
			     : 0;

		if (q->ioeventfd_addr == addr)
			continue;
		if (q->ioeventfd_addr)
			(void)!d->mach->ops->ioeventfd(d->mach, q->ioeventfd_addr, 2,
					    q->kick_fd, false);
		q->ioeventfd_addr = 0;
		/* Linux writes the queue index as 16 bits; other widths exit. */
		if (addr && d->mach->ops->ioeventfd(d->mach, addr, 2, q->kick_fd, true) == 0)
			q->ioeventfd_addr = addr;
		log_debug(d->mach->log, d->fn.name,
			  "queue %u notify at 0x%llx (%s)", i,
			  (unsigned long long)addr,
			  q->ioeventfd_addr ? "ioeventfd" : "exit");
	}
}

/*
 * The VIRTIO_PCI_CAP_PCI_CFG window: the driver puts a BAR offset and a
 * length (1, 2 or 4) in the capability, then reads or writes
 * pci_cfg_data to reach BAR0 through config space.
 */
static bool pci_cfg_window(struct virtio_dev *d, unsigned int off,
			   unsigned int len, uint32_t *bar_off,
			   unsigned int *blen)
{
	unsigned int data = d->pci_cfg_cap + sizeof(struct virtio_pci_cap);
	struct pci_config *c = &d->fn.cfg;

	if (!d->pci_cfg_cap || off >= data + 4 || off + len <= data)
		return false;
	*bar_off = pci_get32(c, d->pci_cfg_cap + 8);
	*blen = pci_get32(c, d->pci_cfg_cap + 12);
	return c->cfg[d->pci_cfg_cap + 4] == 0 &&
	       (*blen == 1 || *blen == 2 || *blen == 4) &&
	       *bar_off <= VIRTIO_BAR_SIZE - *blen && !(*bar_off % *blen);
}

static void virtio_config_read_hook(struct pci_function *f, unsigned int off,
				    unsigned int len)
{
	struct virtio_dev *d = f->opaque;
	unsigned int data = d->pci_cfg_cap + sizeof(struct virtio_pci_cap);
	uint8_t buf[4] = {0};
	uint32_t bar_off;
	unsigned int blen;

	if (!pci_cfg_window(d, off, len, &bar_off, &blen))
		return;
	virtio_bar_access(f, 0, bar_off, buf, blen, false);
	memcpy(&f->cfg.cfg[data], buf, 4);
}

/* MSI-X enable or function mask changed in config space. */
static void virtio_config_written(struct pci_function *f, unsigned int off,
				  unsigned int len)
{
	struct virtio_dev *d = f->opaque;
	uint32_t bar_off;
	unsigned int blen;

	if (pci_cfg_window(d, off, len, &bar_off, &blen)) {
		uint8_t buf[4];

		memcpy(buf,
		       &f->cfg.cfg[d->pci_cfg_cap +
				   sizeof(struct virtio_pci_cap)],
		       4);
		virtio_bar_access(f, 0, bar_off, buf, blen, true);
		return;
	}

	if (off < d->msix_cap + PCI_MSIX_FLAGS + 2 &&
	    off + len > d->msix_cap + PCI_MSIX_FLAGS) {
		pthread_mutex_lock(&d->lock);
		msix_flush_pending(d);
		pthread_mutex_unlock(&d->lock);
	}
}

static bool virtio_kick(void *opaque, int fd, uint32_t revents)
{
	struct virtio_kick_ctx *k = opaque;
	uint64_t v;

	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return true;
	log_debug(k->d->mach->log, k->d->fn.name, "queue %u kicked", k->q);
	if (k->d->ops->queue_notify)
		k->d->ops->queue_notify(k->d, k->q);
	return true;
}

static int add_vendor_cap(struct pci_config *c, uint8_t type, uint32_t off,
			  uint32_t len, unsigned int extra)
{
	int cap = pci_cap_add(c, PCI_CAP_ID_VNDR,
			      sizeof(struct virtio_pci_cap) + extra);

	if (cap < 0)
		return cap;
	c->cfg[cap + 2] = (uint8_t)(sizeof(struct virtio_pci_cap) + extra);
	c->cfg[cap + 3] = type;
	c->cfg[cap + 4] = 0; /* BAR0 */
	pci_set32(c, (unsigned int)cap + 8, off);
	pci_set32(c, (unsigned int)cap + 12, len);
	return cap;
}

int virtio_pci_init(struct virtio_dev *d, struct machine *mach,
		    const struct virtio_dev_ops *ops, void *priv,
		    const char *name)
{
	struct pci_config *c = &d->fn.cfg;
	int r, cap;

	if (ops->nqueues > VIRTIO_MAX_QUEUES ||
	    ops->config_size > VIRTIO_DEVICE_MAX)
		return -EINVAL;
	d->ops = ops;
	d->priv = priv;
	d->mach = mach;
	pthread_mutex_init(&d->lock, NULL);
	for (unsigned int i = 0; i < VIRTIO_MAX_QUEUES; i++)
		d->q[i].kick_fd = -1;
	for (unsigned int v = 0; v < VIRTIO_MAX_QUEUES + 1; v++)
		d->vec[v].fd = -1;
	d->nvectors = ops->nqueues + 1;
	d->device_features = ops->features | (1ull << VIRTIO_F_VERSION_1) |
			     (1ull << VIRTIO_RING_F_INDIRECT_DESC) |
			     (1ull << VIRTIO_RING_F_EVENT_IDX);

	pci_config_init(c, VIRTIO_PCI_VENDOR,
			(uint16_t)(VIRTIO_PCI_DEVICE_BASE + ops->device_id),
			ops->pci_class, 1, false);
	pci_set16(c, PCI_SUBSYSTEM_VENDOR_ID, VIRTIO_PCI_VENDOR);
	pci_set16(c, PCI_SUBSYSTEM_ID,
		  (uint16_t)(VIRTIO_PCI_DEVICE_BASE + ops->device_id));
	snprintf(d->fn.name, sizeof(d->fn.name), "%s", name);
	r = pci_bar_init(c, 0, VIRTIO_BAR_SIZE, 0);
	if (r < 0)
		return r;
	r = pcie_cap_init_endpoint(c);
	if (r < 0)
		return r;
	/* The four structures the driver uses, all in BAR0. */
	r = add_vendor_cap(c, VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_COMMON_OFF,
			   VIRTIO_COMMON_SIZE, 0);
	if (r >= 0)
		r = add_vendor_cap(c, VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_ISR_OFF, 1,
				   0);
	if (r >= 0 && ops->config_size)
		r = add_vendor_cap(c, VIRTIO_PCI_CAP_DEVICE_CFG,
				   VIRTIO_DEVICE_OFF, ops->config_size, 0);
	if (r >= 0) {
		cap = add_vendor_cap(c, VIRTIO_PCI_CAP_NOTIFY_CFG,
				     VIRTIO_NOTIFY_OFF,
				     VIRTIO_NOTIFY_MULT * ops->nqueues, 4);
		if (cap >= 0)
			pci_set32(c, (unsigned int)cap + 16,
				  VIRTIO_NOTIFY_MULT);
		r = cap;
	}
	if (r < 0)
		return r;
	/* Config-space access to BAR0, which the spec requires. */
	cap = add_vendor_cap(c, VIRTIO_PCI_CAP_PCI_CFG, 0, 0, 4);
	if (cap < 0)
		return cap;
	d->pci_cfg_cap = (unsigned int)cap;
	pci_wmask16(c, (unsigned int)cap + 4, 0x00ff); /* bar */
	pci_wmask32(c, (unsigned int)cap + 8, 0xffffffff); /* offset */
	pci_wmask32(c, (unsigned int)cap + 12, 0xffffffff); /* length */
	pci_wmask32(c, (unsigned int)cap + 16, 0xffffffff); /* data */
	/* MSI-X: one vector per queue plus one for config changes. */
	cap = pci_cap_add(c, PCI_CAP_ID_MSIX, PCI_CAP_MSIX_SIZEOF);
	if (cap < 0)
		return cap;
	d->msix_cap = (unsigned int)cap;
	pci_set16(c, (unsigned int)cap + PCI_MSIX_FLAGS,
		  (uint16_t)(d->nvectors - 1));
	pci_wmask16(c, (unsigned int)cap + PCI_MSIX_FLAGS,
		    PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	pci_set32(c, (unsigned int)cap + PCI_MSIX_TABLE,
		  VIRTIO_MSIX_TABLE_OFF); /* BIR 0 */
	pci_set32(c, (unsigned int)cap + PCI_MSIX_PBA, VIRTIO_MSIX_PBA_OFF);

	for (unsigned int v = 0; v < d->nvectors; v++) {
		struct virtio_msix_vec *e = &d->vec[v];

		e->ctrl = MSIX_CTRL_MASKED;
		e->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (e->fd < 0)
			return -errno;
		r = mach->ops->msi_alloc(mach, &e->gsi);
		if (!r)
			r = mach->ops->irqfd(mach, e->fd, -1, e->gsi, true);
		if (r < 0)
			return r;
	}
	for (unsigned int i = 0; i < ops->nqueues; i++) {
		struct virtio_queue *q = &d->q[i];
		struct virtio_kick_ctx *k = &d->kick[i];

		q->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (q->kick_fd < 0)
			return -errno;
		*k = (struct virtio_kick_ctx){d, i};
		r = evloop_add(mach->loop, q->kick_fd, POLLIN, virtio_kick, k,
			       &q->kick_src);
		if (r < 0)
			return r;
	}
	d->fn.bar_access = virtio_bar_access;
	d->fn.bars_changed = virtio_bars_changed;
	d->fn.config_written = virtio_config_written;
	d->fn.config_read_hook = virtio_config_read_hook;
	d->fn.opaque = d;
	virtio_reset(d);
	return 0;
}

void virtio_pci_destroy(struct virtio_dev *d)
{
	if (!d->ops)
		return;
	pthread_mutex_lock(&d->lock);
	if (d->ops->reset)
		d->ops->reset(d);
	pthread_mutex_unlock(&d->lock);
	for (unsigned int i = 0; i < d->ops->nqueues; i++) {
		struct virtio_queue *q = &d->q[i];

		if (q->ioeventfd_addr)
			(void)!d->mach->ops->ioeventfd(d->mach, q->ioeventfd_addr, 2,
					    q->kick_fd, false);
		if (q->kick_fd >= 0)
			close(q->kick_fd);
	}
	for (unsigned int v = 0; v < d->nvectors; v++) {
		if (d->vec[v].fd >= 0) {
			(void)!d->mach->ops->irqfd(d->mach, d->vec[v].fd, -1, d->vec[v].gsi,
					false);
			close(d->vec[v].fd);
		}
	}
	pthread_mutex_destroy(&d->lock);
}
