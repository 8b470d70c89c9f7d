/* iommu.c: what both DMA back-ends share: the ledger of their mappings and its lock. */
#include "devices/vfio/iommu.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/ioctl.h>

void vfio_ledger_init(struct vfio_dma_ledger *l)
{
	*l = (struct vfio_dma_ledger){.v = NULL};
	pthread_mutex_init(&l->lock, NULL);
}

static int ledger_add(struct vfio_dma_ledger *l, uint64_t iova, uint64_t size)
{
	if (l->n == l->cap) {
		unsigned int cap = l->cap ? 2 * l->cap : 16;
		struct vfio_dma_entry *n = realloc(l->v, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		l->v = n;
		l->cap = cap;
	}
	l->v[l->n].iova = iova;
	l->v[l->n++].size = size;
	return 0;
}

static void ledger_drop(struct vfio_dma_ledger *l, uint64_t iova,
			uint64_t size)
{
	/* From the end: a failed map drops the entry it just added. */
	for (unsigned int i = l->n; i-- > 0;) {
		if (l->v[i].iova == iova && l->v[i].size == size) {
			l->v[i] = l->v[--l->n];
			return;
		}
	}
}

int vfio_ledger_ioctl(struct vfio_dma_ledger *l, int fd, unsigned long req,
		      void *arg, uint64_t iova, uint64_t size, bool map)
{
	int r = 0;

	pthread_mutex_lock(&l->lock);
	if (map)
		r = ledger_add(l, iova, size);
	if (!r) {
		r = ioctl(fd, req, arg) < 0 ? -errno : 0;
		/* A failed map takes its entry back; a done unmap drops it. */
		if (map ? r < 0 : r == 0)
			ledger_drop(l, iova, size);
	}
	pthread_mutex_unlock(&l->lock);
	return r;
}

void vfio_ledger_unmap_all(struct vfio_dma_ledger *l, struct vfio_iommu *io)
{
	while (l->n) {
		unsigned int n = l->n;

		if (io->ops->unmap(io, l->v[n - 1].iova, l->v[n - 1].size) < 0 ||
		    l->n == n)
			l->n = n - 1; /* closing the back-end drops it anyway */
	}
	free(l->v);
	l->v = NULL;
	l->cap = 0;
	pthread_mutex_destroy(&l->lock);
}
