/* container.c: the legacy VFIO DMA back-end: IOMMU groups in one type1v2 container, guest RAM mapped at IOVA = guest physical address. */
#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "devices/vfio/iommu.h"

#define CONTAINER_MAX_GROUPS 64

struct container_group {
	int number;
	int fd;
};

struct container {
	struct vfio_iommu io;
	int fd;
	char dev_root[256];
	bool iommu_set;
	struct container_group groups[CONTAINER_MAX_GROUPS];
	unsigned int ngroups;
	struct vfio_dma_ledger maps; /* what we mapped, to unmap at the end */
};

static struct container *to_container(struct vfio_iommu *io)
{
	return (struct container *)io;
}

static int xioctl(int fd, unsigned long req, void *arg)
{
	int r = ioctl(fd, req, arg);

	return r < 0 ? -errno : r;
}

/* Open /dev/vfio/N, saying plainly why it cannot be. */
static int group_open(struct container *c, const char *bdf, int number)
{
	char path[300];
	int fd;

	snprintf(path, sizeof(path), "%s/vfio/%d", c->dev_root, number);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	fd = -errno;
	if (fd == -EBUSY)
		log_err(c->io.log, "vfio",
			"%s: %s is busy: another process (another VM?) has "
			"IOMMU group %d open; `microvm vfio-check %s` names it",
			bdf, path, number, bdf);
	else if (fd == -ENOENT)
		log_err(c->io.log, "vfio",
			"%s: %s does not exist: bind the device to vfio-pci "
			"(`microvm vfio-check %s` says how)",
			bdf, path, bdf);
	else
		log_err(c->io.log, "vfio", "%s: cannot open %s: %s", bdf, path,
			strerror(-fd));
	return fd;
}

static int container_add_group(struct container *c, const char *bdf, int number,
			       int *group_fd, bool *added)
{
	struct vfio_group_status st = {.argsz = sizeof(st)};
	struct container_group *g;
	int fd, r;

	*added = false;
	for (unsigned int i = 0; i < c->ngroups; i++) {
		if (c->groups[i].number == number) {
			*group_fd = c->groups[i].fd;
			return 0;
		}
	}
	if (c->ngroups == CONTAINER_MAX_GROUPS) {
		log_err(c->io.log, "vfio", "%s: more than %d IOMMU groups", bdf,
			CONTAINER_MAX_GROUPS);
		return -E2BIG;
	}
	fd = group_open(c, bdf, number);
	if (fd < 0)
		return fd;
	r = xioctl(fd, VFIO_GROUP_GET_STATUS, &st);
	if (r < 0) {
		log_err(c->io.log, "vfio", "%s: VFIO_GROUP_GET_STATUS: %s", bdf,
			strerror(-r));
		goto err;
	}
	if (!(st.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		log_err(c->io.log, "vfio",
			"%s: IOMMU group %d is not viable: another device in "
			"it "
			"is bound to a host driver (`microvm vfio-check %s` "
			"names it)",
			bdf, number, bdf);
		r = -EBUSY;
		goto err;
	}
	r = xioctl(fd, VFIO_GROUP_SET_CONTAINER, &c->fd);
	if (r < 0) {
		log_err(c->io.log, "vfio",
			"%s: adding IOMMU group %d to the container: %s", bdf,
			number, strerror(-r));
		goto err;
	}
	if (!c->iommu_set) {
		r = xioctl(c->fd, VFIO_SET_IOMMU,
			   (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU);
		if (r < 0) {
			log_err(c->io.log, "vfio",
				"%s: VFIO_SET_IOMMU (type1v2): %s", bdf,
				strerror(-r));
			goto err;
		}
		c->iommu_set = true;
	}
	g = &c->groups[c->ngroups++];
	g->number = number;
	g->fd = fd;
	*group_fd = fd;
	*added = true;
	return 0;
err:
	close(fd);
	return r;
}

static int container_attach(struct vfio_iommu *io, const char *bdf, int group,
			    int (*kvm_add)(void *opaque, int fd), void *opaque,
			    int *device_fd)
{
	struct container *c = to_container(io);
	bool added;
	int gfd, r;

	r = container_add_group(c, bdf, group, &gfd, &added);
	if (r < 0)
		return r;
	r = ioctl(gfd, VFIO_GROUP_GET_DEVICE_FD, bdf);
	if (r < 0) {
		r = -errno;
		if (r == -EINVAL)
			log_err(io->log, "vfio",
				"%s: the kernel refused to hand the device to "
				"VFIO (VFIO_GROUP_GET_DEVICE_FD: Invalid "
				"argument); if its group has reserved regions "
				"of type direct, the firmware demands a 1:1 "
				"IOMMU mapping and passthrough is not possible "
				"on this platform (dmesg says more)",
				bdf);
		else
			log_err(io->log, "vfio",
				"%s: VFIO_GROUP_GET_DEVICE_FD: %s", bdf,
				strerror(-r));
		return r;
	}
	*device_fd = r;
	if (added && kvm_add) {
		int k = kvm_add(opaque, gfd);

		if (k < 0) {
			close(*device_fd);
			*device_fd = -1;
			return k;
		}
	}
	return 0;
}

static void container_detach(struct vfio_iommu *io, int device_fd)
{
	if (device_fd >= 0)
		close(device_fd);
}

static int container_iova_ranges(struct vfio_iommu *io,
				 struct vfio_iommu_range *out, unsigned int max)
{
	struct container *c = to_container(io);
	struct vfio_iommu_type1_info *info;
	uint32_t argsz = sizeof(*info);
	int r, n = 0;

	for (int tries = 0; tries < 2; tries++) {
		info = calloc(1, argsz);
		if (!info)
			return -ENOMEM;
		info->argsz = argsz;
		r = xioctl(c->fd, VFIO_IOMMU_GET_INFO, info);
		if (r < 0 || info->argsz <= argsz)
			break;
		argsz = info->argsz;
		free(info);
		info = NULL;
	}
	if (!info)
		return -ENOMEM;
	if (r < 0) {
		free(info);
		return r;
	}
	if ((info->flags & VFIO_IOMMU_INFO_CAPS) && info->cap_offset) {
		uint32_t off = info->cap_offset;

		/* Caps are only 4-byte aligned: copy them out to read them. */
		while (off && off + sizeof(struct vfio_info_cap_header) <=
				      info->argsz) {
			const uint8_t *base = (const uint8_t *)info + off;
			struct vfio_info_cap_header h;
			uint32_t nr;

			memcpy(&h, base, sizeof(h));
			if (h.id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE &&
			    off + 16 <= info->argsz) {
				memcpy(&nr, base + 8, sizeof(nr));
				for (uint32_t i = 0;
				     i < nr && (unsigned int)n < max &&
				     off + 16 + 16 * (i + 1) <= info->argsz;
				     i++) {
					memcpy(&out[n].start,
					       base + 16 + 16 * i, 8);
					memcpy(&out[n].last, base + 24 + 16 * i,
					       8);
					n++;
				}
			}
			if (h.next <= off)
				break;
			off = h.next;
		}
	}
	free(info);
	return n;
}

static int container_map(struct vfio_iommu *io, uint64_t iova, uint64_t size,
			 void *hva)
{
	struct container *c = to_container(io);
	struct vfio_iommu_type1_dma_map m = {
		.argsz = sizeof(m),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uint64_t)(uintptr_t)hva,
		.iova = iova,
		.size = size,
	};

	return vfio_ledger_ioctl(&c->maps, c->fd, VFIO_IOMMU_MAP_DMA, &m, iova,
				 size, true);
}

static int container_unmap(struct vfio_iommu *io, uint64_t iova, uint64_t size)
{
	struct container *c = to_container(io);
	struct vfio_iommu_type1_dma_unmap u = {
		.argsz = sizeof(u),
		.iova = iova,
		.size = size,
	};

	return vfio_ledger_ioctl(&c->maps, c->fd, VFIO_IOMMU_UNMAP_DMA, &u,
				 iova, size, false);
}

static void container_destroy(struct vfio_iommu *io)
{
	struct container *c = to_container(io);

	vfio_ledger_unmap_all(&c->maps, io);
	for (unsigned int i = 0; i < c->ngroups; i++)
		close(c->groups[i].fd);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

static const struct vfio_iommu_ops container_ops = {
	.name = "container",
	.attach = container_attach,
	.detach = container_detach,
	.iova_ranges = container_iova_ranges,
	.map = container_map,
	.unmap = container_unmap,
	.destroy = container_destroy,
};

int vfio_container_create(const struct logger *lg, const char *dev_root,
			  struct vfio_iommu **out)
{
	struct container *c = calloc(1, sizeof(*c));
	char path[300];
	int r;

	if (!c)
		return -ENOMEM;
	c->io.ops = &container_ops;
	vfio_ledger_init(&c->maps);
	c->io.log = lg;
	snprintf(c->dev_root, sizeof(c->dev_root), "%s", dev_root);
	snprintf(path, sizeof(path), "%s/vfio/vfio", dev_root);
	c->fd = open(path, O_RDWR | O_CLOEXEC);
	if (c->fd < 0) {
		r = -errno;
		log_err(lg, "vfio", "cannot open %s: %s%s", path, strerror(-r),
			r == -ENOENT ? " (load VFIO: modprobe vfio-pci)" : "");
		goto err;
	}
	r = xioctl(c->fd, VFIO_GET_API_VERSION, NULL);
	if (r != VFIO_API_VERSION) {
		log_err(lg, "vfio", "VFIO API version %d, need %d", r,
			VFIO_API_VERSION);
		r = -ENOSYS;
		goto err;
	}
	if (xioctl(c->fd, VFIO_CHECK_EXTENSION,
		   (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU) <= 0) {
		log_err(lg, "vfio",
			"this kernel's VFIO has no type1v2 IOMMU back-end");
		r = -ENOSYS;
		goto err;
	}
	*out = &c->io;
	return 0;
err:
	if (c->fd >= 0)
		close(c->fd);
	free(c);
	return r;
}
