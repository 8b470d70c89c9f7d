/* blk.c: virtio-blk: raw files and block devices, requests run on io_uring through the event loop. */
#include "devices/virtio/blk.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "devices/pci/host.h"
#include "devices/virtio/devices.h"
#include "devices/virtio/virtio.h"
#include "vmm/evloop.h"
#include "devices/machine.h"

#define BLK_QUEUE_SIZE 256
/* Data segments per request: the chain also holds header and status. */
#define BLK_SEG_MAX (BLK_QUEUE_SIZE - 2)
/* Requests popped per round before they go to the loop. */
#define BLK_BATCH 64
/* How often the size of the backing file is looked at. */
#define BLK_SIZE_CHECK_S 1
/* How long a device reset waits for requests in flight. */
#define BLK_DRAIN_TIMEOUT_S 10
/* The device config up to the discard/write-zeroes fields (no secure erase). */
#define BLK_CONFIG_SIZE                                     \
	(offsetof(struct virtio_blk_config, unused1) +      \
	 sizeof(((struct virtio_blk_config *)0)->unused1))
/* Request queues: one per vCPU up to this (the transport's limit). */
#define BLK_MAX_QUEUES VIRTIO_MAX_QUEUES
/* How DISCARD and WRITE_ZEROES ask the backing file. */
#define BLK_PUNCH (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)
#define BLK_ZERO  (FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE)

/* ---- the device ---- */

struct virtio_blk;

/* A request handed to the event loop. */
struct blk_io {
	struct ev_io io; /* first: the completion gets this pointer */
	struct virtio_blk *blk;
	struct blk_io *next; /* in a batch being submitted */
	uint32_t gen;	     /* blk->gen when it was popped */
	uint16_t q;	     /* the request queue it came from */
	uint16_t head;
	uint32_t type;
	uint8_t *status;
	int mode;	  /* DISCARD, WRITE_ZEROES: the fallocate(2) mode */
	bool retried;	  /* WRITE_ZEROES: the other mode was tried */
	uint64_t off;	  /* byte offset of the next transfer */
	uint32_t len;	  /* data bytes in all (DISCARD, WRITE_ZEROES: 0) */
	uint64_t range;	  /* DISCARD, WRITE_ZEROES: bytes */
	uint32_t done;	  /* data bytes transferred so far */
	unsigned int cur; /* first iovec not fully transferred */
	unsigned int niov;
	struct iovec iov[]; /* guest buffers, advanced as bytes move */
};

struct virtio_blk {
	struct virtio_dev vdev;
	struct virtio_dev_ops ops;
	struct machine *mach;
	char name[24];
	char *path;
	int fd;
	bool readonly;
	bool is_blkdev;
	bool can_zero; /* DISCARD and WRITE_ZEROES offered */
	char id[VIRTIO_BLK_ID_BYTES]; /* zero padded */
	int timer_fd;

	/* Under vdev.lock. */
	uint64_t size;	   /* bytes, last seen */
	uint64_t capacity; /* sectors */
	uint32_t gen;	   /* bumped by reset: older completions are dropped */
	unsigned int inflight; /* popped and not completed */
	unsigned int max_inflight;
	uint64_t requests; /* handed to the loop, in all */
	uint64_t queue_requests[BLK_MAX_QUEUES]; /* the same, per queue */
	unsigned int nqueues;
	bool draining;	       /* a reset waits for inflight to reach 0 */
	pthread_cond_t drained;
	struct virtq_elem elem; /* scratch */
	struct iovec data[VIRTQ_MAX_SEGS]; /* scratch */
	struct ratelimit rl;
};

static const char *blk_type_name(uint32_t type)
{
	switch (type) {
	case VIRTIO_BLK_T_IN:
		return "read";
	case VIRTIO_BLK_T_OUT:
		return "write";
	case VIRTIO_BLK_T_FLUSH:
		return "flush";
	case VIRTIO_BLK_T_DISCARD:
		return "discard";
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return "write-zeroes";
	default:
		return "request";
	}
}

static int blk_get_size(int fd, bool is_blkdev, uint64_t *size)
{
	struct stat st;

	if (is_blkdev)
		return ioctl(fd, BLKGETSIZE64, size) < 0 ? -errno : 0;
	if (fstat(fd, &st) < 0)
		return -errno;
	*size = (uint64_t)st.st_size;
	return 0;
}

/* Set size and capacity from `size` bytes, rounding down to sectors. */
static void blk_set_size(struct virtio_blk *blk, uint64_t size)
{
	blk->size = size;
	blk->capacity = size / BLK_SECTOR_SIZE;
	if (size % BLK_SECTOR_SIZE)
		log_warn(blk->mach->log, blk->name,
			 "--disk '%s': size %llu is not a multiple of 512 "
			 "bytes; the guest sees only the first %llu",
			 blk->path, (unsigned long long)size,
			 (unsigned long long)(blk->capacity * BLK_SECTOR_SIZE));
}

/*
 * Look at the backing file's size again; when it changed, the guest is
 * told through a config change interrupt. Lock held.
 */
static void blk_check_size(struct virtio_blk *blk)
{
	uint64_t size, old = blk->capacity;

	if (blk_get_size(blk->fd, blk->is_blkdev, &size) < 0 ||
	    size == blk->size)
		return;
	log_msg(blk->mach->log,
		size < blk->size ? MICROVM_LOG_WARN : MICROVM_LOG_INFO,
		blk->name, "'%s' changed size: %llu -> %llu bytes%s",
		blk->path, (unsigned long long)blk->size,
		(unsigned long long)size,
		size < blk->size ? " (shrank under the guest)" : "");
	blk_set_size(blk, size);
	if (blk->capacity != old)
		virtio_notify_config(&blk->vdev);
}

static void blk_config_read(struct virtio_dev *d, unsigned int off,
			    uint8_t *data, unsigned int len)
{
	struct virtio_blk *blk = d->priv;
	struct virtio_blk_config c;

	memset(&c, 0, sizeof(c));
	c.capacity = htole64(blk->capacity);
	c.seg_max = htole32(BLK_SEG_MAX);
	c.blk_size = htole32(BLK_SECTOR_SIZE);
	c.num_queues = htole16((uint16_t)blk->nqueues);
	if (blk->can_zero) {
		c.max_discard_sectors = htole32(BLK_MAX_ZERO_SECTORS);
		c.max_discard_seg = htole32(1);
		c.discard_sector_alignment = htole32(BLK_ZERO_ALIGN_SECTORS);
		c.max_write_zeroes_sectors = htole32(BLK_MAX_ZERO_SECTORS);
		c.max_write_zeroes_seg = htole32(1);
		c.write_zeroes_may_unmap = 1;
	}
	/* The transport keeps off + len within BLK_CONFIG_SIZE. */
	memcpy(data, (uint8_t *)&c + off, len);
}

/* Answer a request: status, used ring, interrupt. Lock held. */
static void blk_complete(struct virtio_blk *blk, unsigned int q,
			 uint16_t head, uint8_t *status, uint8_t st,
			 uint32_t written)
{
	struct virtio_dev *d = &blk->vdev;

	if (!d->q[q].live)
		return;
	*status = st;
	virtq_push(&d->q[q].vq, d->mach->mem, head, written + 1);
	virtio_notify_queue(d, q);
}

static void blk_io_done(struct ev_io *e, int res);

/* Hand a request (or its rest after a short transfer) to the loop. */
static void blk_submit(struct blk_io *io)
{
	struct virtio_blk *blk = io->blk;
	struct evloop *loop = blk->mach->loop;
	int r;

	switch (io->type) {
	case VIRTIO_BLK_T_IN:
		r = evloop_io_readv(loop, &io->io, blk->fd, io->iov + io->cur,
				    io->niov - io->cur, io->off, blk_io_done);
		break;
	case VIRTIO_BLK_T_OUT:
		r = evloop_io_writev(loop, &io->io, blk->fd, io->iov + io->cur,
				     io->niov - io->cur, io->off, blk_io_done);
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		r = evloop_io_fallocate(loop, &io->io, blk->fd, io->mode,
					io->off, io->range, blk_io_done);
		break;
	default:
		r = evloop_io_fdatasync(loop, &io->io, blk->fd, blk_io_done);
		break;
	}
	if (r < 0)
		blk_io_done(&io->io, r);
}

/* Skip `n` transferred bytes of the request's iovecs. */
static void blk_advance(struct blk_io *io, size_t n)
{
	while (n && io->cur < io->niov) {
		struct iovec *v = &io->iov[io->cur];

		if (v->iov_len <= n) {
			n -= v->iov_len;
			io->cur++;
		} else {
			v->iov_base = (uint8_t *)v->iov_base + n;
			v->iov_len -= n;
			n = 0;
		}
	}
}

/* A transfer finished (loop thread, no lock held). */
static void blk_io_done(struct ev_io *e, int res)
{
	struct blk_io *io = (struct blk_io *)e;
	struct virtio_blk *blk = io->blk;
	struct virtio_dev *d = &blk->vdev;
	uint8_t st = VIRTIO_BLK_S_OK;
	const char *why = NULL;

	if (res < 0 && io->type == VIRTIO_BLK_T_DISCARD &&
	    (res == -EOPNOTSUPP || res == -EINVAL)) {
		/* A hint the file cannot take: its bytes are left as they are. */
		res = 0;
	} else if (res < 0 && io->type == VIRTIO_BLK_T_WRITE_ZEROES &&
		   (res == -EOPNOTSUPP || res == -EINVAL) && !io->retried) {
		/*
		 * The other way once: tmpfs has no ZERO_RANGE but its holes
		 * read as zeroes; a block device that cannot unmap (punch)
		 * can still write zeroes.
		 */
		io->mode = io->mode == BLK_ZERO ? BLK_PUNCH : BLK_ZERO;
		io->retried = true;
		blk_submit(io);
		return;
	}
	if (res < 0) {
		st = VIRTIO_BLK_S_IOERR;
		why = strerror(-res);
	} else if (io->type == VIRTIO_BLK_T_IN ||
		   io->type == VIRTIO_BLK_T_OUT) {
		io->done += (uint32_t)res;
		io->off += (uint32_t)res;
		if (io->done < io->len && res > 0) {
			/* Short transfer: go on with the rest. */
			blk_advance(io, (size_t)res);
			blk_submit(io);
			return;
		}
		if (io->done < io->len) {
			st = VIRTIO_BLK_S_IOERR;
			why = "end of file (the backing file shrank?)";
		}
	}

	pthread_mutex_lock(&d->lock);
	if (why) {
		if (ratelimit_ok(&blk->rl, 10))
			log_warn(blk->mach->log, blk->name,
				 "%s of %llu bytes at byte %llu of '%s' failed "
				 "(%s): I/O error for the guest",
				 blk_type_name(io->type),
				 (unsigned long long)(io->len ? io->len :
								io->range),
				 (unsigned long long)(io->off - io->done),
				 blk->path, why);
		blk_check_size(blk);
	}
	if (io->gen == blk->gen)
		blk_complete(blk, io->q, io->head, io->status, st,
			     io->type == VIRTIO_BLK_T_IN && !why ? io->len : 0);
	if (!--blk->inflight && blk->draining)
		pthread_cond_broadcast(&blk->drained);
	pthread_mutex_unlock(&d->lock);
	free(io);
}

/*
 * Check the request in blk->elem; answer it now, or return it to be
 * handed to the loop (counted in flight). Lock held.
 */
static struct blk_io *blk_start(struct virtio_blk *blk, unsigned int q)
{
	struct virtio_dev *d = &blk->vdev;
	struct virtq_elem *elem = &blk->elem;
	struct blk_request req;
	struct blk_io *io;
	int st;

	st = blk_parse_request(elem, blk->capacity, blk->readonly, &req,
			       blk->data);
	if (st < 0) {
		virtio_queue_broken(d, q, req.why);
		return NULL;
	}
	if (st == VIRTIO_BLK_S_OK &&
	    ((req.type == VIRTIO_BLK_T_DISCARD &&
	      !(d->driver_features & (1ull << VIRTIO_BLK_F_DISCARD))) ||
	     (req.type == VIRTIO_BLK_T_WRITE_ZEROES &&
	      !(d->driver_features & (1ull << VIRTIO_BLK_F_WRITE_ZEROES))))) {
		req.why = "request type not negotiated";
		st = VIRTIO_BLK_S_UNSUPP;
	}
	if (st != VIRTIO_BLK_S_OK) {
		if (ratelimit_ok(&blk->rl, 10))
			log_warn(blk->mach->log, blk->name,
				 "request type %u (sector %llu, %u bytes): "
				 "%s",
				 req.type, (unsigned long long)req.sector,
				 req.data_len, req.why);
		blk_complete(blk, q, elem->head, req.status, (uint8_t)st, 0);
		return NULL;
	}
	if (req.type == VIRTIO_BLK_T_GET_ID) {
		uint32_t n = req.data_len < VIRTIO_BLK_ID_BYTES ?
				     req.data_len :
				     VIRTIO_BLK_ID_BYTES;

		n = (uint32_t)virtq_buf_to_iov(elem->iov + elem->nout,
					       elem->nin, 0, blk->id, n);
		blk_complete(blk, q, elem->head, req.status, VIRTIO_BLK_S_OK, n);
		return NULL;
	}
	if (req.type == VIRTIO_BLK_T_FLUSH)
		blk_check_size(blk);
	else if (req.type == VIRTIO_BLK_T_DISCARD ||
		 req.type == VIRTIO_BLK_T_WRITE_ZEROES) {
		if (!req.num_sectors) {
			blk_complete(blk, q, elem->head, req.status,
				     VIRTIO_BLK_S_OK, 0);
			return NULL;
		}
	} else if (!req.data_len) {
		blk_complete(blk, q, elem->head, req.status, VIRTIO_BLK_S_OK, 0);
		return NULL;
	}

	io = malloc(sizeof(*io) + req.ndata * sizeof(io->iov[0]));
	if (!io) {
		blk_complete(blk, q, elem->head, req.status, VIRTIO_BLK_S_IOERR,
			     0);
		return NULL;
	}
	*io = (struct blk_io){
		.blk = blk,
		.gen = blk->gen,
		.q = (uint16_t)q,
		.head = elem->head,
		.type = req.type,
		.status = req.status,
		.off = req.sector * BLK_SECTOR_SIZE,
		.len = req.data_len,
		.niov = req.ndata,
		.range = (uint64_t)req.num_sectors * BLK_SECTOR_SIZE,
		.mode = req.type == VIRTIO_BLK_T_DISCARD ||
				(req.flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) ?
			BLK_PUNCH :
			BLK_ZERO,
	};
	memcpy(io->iov, blk->data, req.ndata * sizeof(io->iov[0]));
	blk->requests++;
	blk->queue_requests[q]++;
	if (++blk->inflight > blk->max_inflight)
		blk->max_inflight = blk->inflight;
	return io;
}

/* The driver kicked the queue (loop thread, no lock held). */
static void blk_queue_notify(struct virtio_dev *d, unsigned int q)
{
	struct virtio_blk *blk = d->priv;
	bool more = true;

	while (more) {
		struct blk_io *batch = NULL, **tail = &batch, *io, *next;
		unsigned int n = 0;

		pthread_mutex_lock(&d->lock);
		while (!blk->draining && n < BLK_BATCH &&
		       virtio_pop(d, q, &blk->elem) > 0) {
			io = blk_start(blk, q);
			if (io) {
				*tail = io;
				tail = &io->next;
				n++;
			}
		}
		more = n == BLK_BATCH;
		if (n)
			log_debug(blk->mach->log, blk->name,
				  "%u requests to the loop, %u in flight", n,
				  blk->inflight);
		pthread_mutex_unlock(&d->lock);
		/*
		 * Outside the lock: in the epoll fallback the I/O happens
		 * right here, and vCPUs must not wait for it.
		 */
		for (io = batch; io; io = next) {
			next = io->next;
			blk_submit(io);
		}
	}
}

/*
 * The driver resets the device (vCPU thread) or it goes away: wait until
 * no request points into the queue any more. Lock held; completions need
 * it, so the wait releases it.
 */
static void blk_reset(struct virtio_dev *d)
{
	struct virtio_blk *blk = d->priv;
	struct timespec deadline;

	blk->gen++;
	if (!blk->inflight)
		return;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += BLK_DRAIN_TIMEOUT_S;
	blk->draining = true;
	while (blk->inflight) {
		if (pthread_cond_timedwait(&blk->drained, &d->lock,
					   &deadline) == ETIMEDOUT) {
			log_warn(blk->mach->log, blk->name,
				 "reset: %u requests still in flight after "
				 "%d s; their results are dropped",
				 blk->inflight, BLK_DRAIN_TIMEOUT_S);
			break;
		}
	}
	blk->draining = false;
}

static bool blk_timer(void *opaque, int fd, uint32_t revents)
{
	struct virtio_blk *blk = opaque;
	uint64_t ticks;

	(void)!read(fd, &ticks, sizeof(ticks));
	pthread_mutex_lock(&blk->vdev.lock);
	blk_check_size(blk);
	pthread_mutex_unlock(&blk->vdev.lock);
	return true;
}

static int blk_create(struct machine *mach, struct pci_dev_slot *slot,
		      const struct pci_plan_dev *pd)
{
	struct virtio_blk *blk = slot->priv;
	struct itimerspec its = {
		.it_interval = {.tv_sec = BLK_SIZE_CHECK_S},
		.it_value = {.tv_sec = BLK_SIZE_CHECK_S},
	};
	int r;

	r = virtio_pci_init(&blk->vdev, mach, &blk->ops, blk, pd->name);
	slot->fn = &blk->vdev.fn;
	if (r < 0)
		return r;
	blk->timer_fd = timerfd_create(CLOCK_MONOTONIC,
				       TFD_NONBLOCK | TFD_CLOEXEC);
	if (blk->timer_fd < 0)
		return -errno;
	if (timerfd_settime(blk->timer_fd, 0, &its, NULL) < 0)
		return -errno;
	r = evloop_add(mach->loop, blk->timer_fd, POLLIN, blk_timer, blk, NULL);
	if (r < 0)
		return r;
	log_info(mach->log, blk->name, "'%s': %llu sectors%s%s%s%s (%s)",
		 blk->path, (unsigned long long)blk->capacity,
		 blk->readonly ? ", read-only" : "",
		 blk->can_zero ? ", discard" : "", blk->id[0] ? ", id " : "",
		 blk->id[0] ? blk->id : "", evloop_backend(mach->loop));
	return 0;
}

static void blk_free(struct virtio_blk *blk)
{
	if (blk->timer_fd >= 0)
		close(blk->timer_fd);
	if (blk->fd >= 0)
		close(blk->fd);
	pthread_cond_destroy(&blk->drained);
	free(blk->path);
	free(blk);
}

static void blk_destroy(struct pci_dev_slot *slot)
{
	struct virtio_blk *blk = slot->priv;

	if (!blk)
		return;
	slot->priv = NULL;
	/* The loop has stopped: finish what it still had of ours. */
	if (blk->mach->loop) {
		int r = evloop_io_drain(blk->mach->loop);

		if (r < 0 && blk->inflight) {
			log_err(blk->mach->log, blk->name,
				"cannot wait for %u requests in flight (%s); "
				"leaking the device",
				blk->inflight, strerror(-r));
			return;
		}
	}
	if (blk->requests) {
		char byq[BLK_MAX_QUEUES * 22] = "";
		size_t o = 0;

		for (unsigned int i = 0; blk->nqueues > 1 && i < blk->nqueues;
		     i++)
			o += (size_t)snprintf(
				byq + o, sizeof(byq) - o, "%s%llu",
				i ? "/" : ", by queue ",
				(unsigned long long)blk->queue_requests[i]);
		log_info(blk->mach->log, blk->name,
			 "%llu requests, at most %u in flight%s",
			 (unsigned long long)blk->requests, blk->max_inflight,
			 byq);
	}
	virtio_pci_destroy(&blk->vdev);
	blk_free(blk);
}

/*
 * Whether DISCARD and WRITE_ZEROES can be offered: a block device takes
 * both (the kernel writes zeroes where it cannot unmap); a file only where
 * its filesystem punches holes, asked past its end so no byte changes.
 */
static bool blk_can_punch(int fd, bool is_blkdev, uint64_t size)
{
	uint64_t end = (size + 4095) & ~4095ull;

	if (is_blkdev)
		return true;
	return end <= INT64_MAX - 8192 &&
	       fallocate(fd, BLK_PUNCH, (off_t)end + 4096, 4096) == 0;
}

/* An open(2) error as the status the CLI maps to a usage error. */
static int blk_open_error(int err)
{
	switch (err) {
	case ENOENT:
	case ENOTDIR:
		return -ENOENT;
	case EACCES:
	case EPERM:
	case EROFS:
		return -EACCES;
	case EISDIR:
		return -EINVAL;
	default:
		return -err;
	}
}

int virtio_blk_add(struct machine *mach, const struct microvm_disk *disk,
		   unsigned int index)
{
	struct virtio_blk *blk;
	struct pci_dev_req req;
	pthread_condattr_t ca;
	struct stat st;
	uint64_t size;
	int r;

	blk = calloc(1, sizeof(*blk));
	if (!blk)
		return -ENOMEM;
	blk->mach = mach;
	blk->fd = blk->timer_fd = -1;
	blk->readonly = disk->readonly;
	snprintf(blk->name, sizeof(blk->name), "virtio-blk%u", index);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&blk->drained, &ca);
	pthread_condattr_destroy(&ca);
	blk->path = strdup(disk->path);
	if (!blk->path) {
		r = -ENOMEM;
		goto err;
	}

	blk->fd = open(disk->path,
		       (disk->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (blk->fd < 0) {
		int e = errno;

		log_err(mach->log, blk->name, "--disk '%s': %s%s", disk->path,
			strerror(e),
			e == EROFS || (e == EACCES && !disk->readonly) ?
				" (add ,ro for a read-only disk)" :
				"");
		r = blk_open_error(e);
		goto err;
	}
	if (fstat(blk->fd, &st) < 0) {
		r = -errno;
		log_err(mach->log, blk->name, "--disk '%s': %s", disk->path,
			strerror(-r));
		goto err;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		log_err(mach->log, blk->name,
			"--disk '%s': not a regular file or block device",
			disk->path);
		r = -EINVAL;
		goto err;
	}
	blk->is_blkdev = S_ISBLK(st.st_mode);
	r = blk_get_size(blk->fd, blk->is_blkdev, &size);
	if (r < 0) {
		log_err(mach->log, blk->name, "--disk '%s': size: %s",
			disk->path, strerror(-r));
		goto err;
	}
	blk_set_size(blk, size);
	/* One request queue per vCPU: the guest's blk-mq maps each CPU to one. */
	blk->nqueues = mach->cpus < 1		     ? 1 :
		       mach->cpus > BLK_MAX_QUEUES ? BLK_MAX_QUEUES :
						       mach->cpus;
	blk->can_zero = !disk->readonly && blk_can_punch(blk->fd, blk->is_blkdev,
							 size);
	if (disk->id) {
		if (strlen(disk->id) > VIRTIO_BLK_ID_BYTES)
			log_warn(mach->log, blk->name,
				 "--disk '%s': id '%s' cut to %d bytes",
				 disk->path, disk->id, VIRTIO_BLK_ID_BYTES);
		memcpy(blk->id, disk->id,
		       strnlen(disk->id, VIRTIO_BLK_ID_BYTES));
	}

	blk->ops = (struct virtio_dev_ops){
		.name = "virtio-blk",
		.device_id = VIRTIO_ID_BLOCK,
		.pci_class = 0x010000, /* mass storage, as other VMMs */
		.features = (1ull << VIRTIO_BLK_F_SEG_MAX) |
			    (1ull << VIRTIO_BLK_F_BLK_SIZE) |
			    (1ull << VIRTIO_BLK_F_FLUSH) |
			    (disk->readonly ? 1ull << VIRTIO_BLK_F_RO : 0) |
			    (blk->nqueues > 1 ? 1ull << VIRTIO_BLK_F_MQ : 0) |
			    (blk->can_zero ? (1ull << VIRTIO_BLK_F_DISCARD) |
						     (1ull << VIRTIO_BLK_F_WRITE_ZEROES) :
					     0),
		.nqueues = blk->nqueues,
		.queue_max = BLK_QUEUE_SIZE,
		.config_size = BLK_CONFIG_SIZE,
		.config_read = blk_config_read,
		.reset = blk_reset,
		.queue_notify = blk_queue_notify,
	};
	virtio_pci_dev_req(&req, blk->name);
	r = mach->ops->pci_add(mach, &req, blk_create, blk_destroy, blk);
	if (r < 0)
		goto err;
	return 0;

err:
	blk_free(blk);
	return r;
}
