/* rng.c: virtio-rng: fills the guest's buffers from getrandom(2). */
#include <errno.h>
#include <linux/virtio_ids.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "devices/pci/host.h"
#include "devices/virtio/devices.h"
#include "devices/virtio/virtio.h"
#include "devices/machine.h"

#define RNG_QUEUE_SIZE 256
#define RNG_MAX_REQUEST 65536 /* bytes per request; the guest asks again */

struct virtio_rng {
	struct virtio_dev vdev;
	struct virtq_elem elem;
};

static void rng_fill(struct virtio_rng *rng)
{
	struct virtio_dev *d = &rng->vdev;
	struct virtio_queue *q = &d->q[0];

	while (virtio_pop(d, 0, &rng->elem) > 0) {
		uint32_t done = 0;

		for (unsigned int i = rng->elem.nout;
		     i < rng->elem.nout + rng->elem.nin && done < RNG_MAX_REQUEST;
		     i++) {
			struct virtq_iov *v = &rng->elem.iov[i];
			size_t want = v->len;
			ssize_t n;

			if (want > RNG_MAX_REQUEST - done)
				want = RNG_MAX_REQUEST - done;
			n = getrandom(v->base, want, 0);
			if (n <= 0)
				break;
			done += (uint32_t)n;
			if ((size_t)n < want)
				break;
		}
		log_debug(d->mach->log, d->fn.name, "request %u: %u bytes",
			  rng->elem.head, done);
		virtq_push(&q->vq, d->mach->mem, rng->elem.head, done);
		virtio_notify_queue(d, 0);
	}
}

static void rng_queue_notify(struct virtio_dev *d, unsigned int q)
{
	pthread_mutex_lock(&d->lock);
	rng_fill(d->priv);
	pthread_mutex_unlock(&d->lock);
}

static const struct virtio_dev_ops rng_ops = {
	.name = "virtio-rng",
	.device_id = VIRTIO_ID_RNG,
	.pci_class = 0xff0000,
	.nqueues = 1,
	.queue_max = RNG_QUEUE_SIZE,
	.queue_notify = rng_queue_notify,
};

static int rng_create(struct machine *mach, struct pci_dev_slot *slot,
		      const struct pci_plan_dev *pd)
{
	struct virtio_rng *rng = calloc(1, sizeof(*rng));
	int r;

	if (!rng)
		return -ENOMEM;
	slot->priv = rng;
	r = virtio_pci_init(&rng->vdev, mach, &rng_ops, rng, pd->name);
	slot->fn = &rng->vdev.fn;
	return r;
}

static void rng_destroy(struct pci_dev_slot *slot)
{
	struct virtio_rng *rng = slot->priv;

	if (!rng)
		return;
	virtio_pci_destroy(&rng->vdev);
	free(rng);
	slot->priv = NULL;
}

int virtio_rng_add(struct machine *mach)
{
	struct pci_dev_req req;

	virtio_pci_dev_req(&req, "virtio-rng");
	return mach->ops->pci_add(mach, &req, rng_create, rng_destroy, NULL);
}
