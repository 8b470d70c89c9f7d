/* iommufd.c: the iommufd DMA back-end: /dev/iommu, one IOAS per VM, devices opened through their VFIO cdevs and attached to it, guest RAM mapped from its memfd. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "devices/vfio/iommu.h"
#include "devices/vfio/iommufd_abi.h"

struct iommufd {
	struct vfio_iommu io;
	int fd; /* /dev/iommu */
	uint32_t ioas;
	bool ioas_made;
	char sys_root[256], dev_root[256];
	struct vfio_dma_ledger maps; /* to unmap at the end */
};

static struct iommufd *to_iommufd(struct vfio_iommu *io)
{
	return (struct iommufd *)io;
}

static int xioctl(int fd, unsigned long req, void *arg)
{
	int r = ioctl(fd, req, arg);

	return r < 0 ? -errno : r;
}

int vfio_cdev_name(const char *sys_root, const char *bdf, char *name,
		   size_t len)
{
	char path[512];
	struct dirent *e;
	DIR *d;
	int r = -ENOENT;

	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/vfio-dev", sys_root,
		 bdf);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		if (!strncmp(e->d_name, "vfio", 4) && e->d_name[4] >= '0' &&
		    e->d_name[4] <= '9') {
			snprintf(name, len, "%s", e->d_name);
			r = 0;
			break;
		}
	}
	closedir(d);
	return r;
}

/* Open the device's cdev, /dev/vfio/devices/vfioN; logged. */
static int cdev_open(struct iommufd *f, const char *bdf)
{
	char name[32], path[320];
	int fd, r;

	r = vfio_cdev_name(f->sys_root, bdf, name, sizeof(name));
	if (r < 0) {
		log_err(f->io.log, "vfio",
			"%s: no VFIO device cdev (%s/bus/pci/devices/%s/vfio-dev/): "
			"%s; the kernel needs CONFIG_VFIO_DEVICE_CDEV (Linux 6.6+), "
			"or use iommu=legacy",
			bdf, f->sys_root, bdf, strerror(-r));
		return r;
	}
	snprintf(path, sizeof(path), "%s/vfio/devices/%s", f->dev_root, name);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		log_err(f->io.log, "vfio", "%s: cannot open %s: %s%s", bdf,
			path, strerror(-r),
			r == -EBUSY ? " (another process has the device open)"
				    : "");
		return r;
	}
	return fd;
}

static int iommufd_attach(struct vfio_iommu *io, const char *bdf, int group,
			  int (*kvm_add)(void *opaque, int fd), void *opaque,
			  int *device_fd)
{
	struct iommufd *f = to_iommufd(io);
	struct mv_vfio_device_bind_iommufd bind = {
		.argsz = sizeof(bind),
		.iommufd = f->fd,
	};
	struct mv_vfio_device_attach_iommufd_pt at = {
		.argsz = sizeof(at),
		.pt_id = f->ioas,
	};
	int fd, r;

	(void)group;
	fd = cdev_open(f, bdf);
	if (fd < 0)
		return fd;
	/*
	 * KVM first: it must know the device before the bind, or a device
	 * whose interrupts KVM routes (and non-coherent DMA) is set up
	 * without it.
	 */
	r = kvm_add ? kvm_add(opaque, fd) : 0;
	if (r < 0)
		goto err;
	r = xioctl(fd, MV_VFIO_DEVICE_BIND_IOMMUFD, &bind);
	if (r < 0) {
		if (r == -EINVAL)
			log_err(io->log, "vfio",
				"%s: the kernel refused to bind the device to "
				"iommufd (VFIO_DEVICE_BIND_IOMMUFD: Invalid "
				"argument); if its group has reserved regions "
				"of type direct, the firmware demands a 1:1 "
				"IOMMU mapping and passthrough is not possible "
				"on this platform (dmesg says more)",
				bdf);
		else
			log_err(io->log, "vfio",
				"%s: VFIO_DEVICE_BIND_IOMMUFD: %s", bdf,
				strerror(-r));
		goto err;
	}
	r = xioctl(fd, MV_VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at);
	if (r < 0) {
		log_err(io->log, "vfio",
			"%s: attaching it to the VM's IOAS %u: %s", bdf,
			f->ioas, strerror(-r));
		goto err;
	}
	*device_fd = fd;
	return 0;
err:
	close(fd);
	return r;
}

static void iommufd_detach(struct vfio_iommu *io, int device_fd)
{
	/* Closing the cdev detaches and unbinds it. */
	if (device_fd >= 0)
		close(device_fd);
}

static int iommufd_iova_ranges(struct vfio_iommu *io,
			       struct vfio_iommu_range *out, unsigned int max)
{
	struct iommufd *f = to_iommufd(io);
	struct mv_iommu_iova_range rg[VFIO_IOMMU_MAX_RANGES];
	struct mv_iommu_ioas_iova_ranges q = {
		.size = sizeof(q),
		.ioas_id = f->ioas,
		.num_iovas = VFIO_IOMMU_MAX_RANGES,
		.allowed_iovas = (uint64_t)(uintptr_t)rg,
	};
	int r = xioctl(f->fd, MV_IOMMU_IOAS_IOVA_RANGES, &q);

	if (r == -EMSGSIZE)
		return -E2BIG; /* more holes than we keep: refuse, not guess */
	if (r < 0)
		return r;
	if (q.num_iovas > max)
		return -E2BIG;
	for (uint32_t i = 0; i < q.num_iovas; i++) {
		out[i].start = rg[i].start;
		out[i].last = rg[i].last;
	}
	return (int)q.num_iovas;
}

static int iommufd_map(struct vfio_iommu *io, uint64_t iova, uint64_t size,
		       void *hva)
{
	struct iommufd *f = to_iommufd(io);
	struct mv_iommu_ioas_map m = {
		.size = sizeof(m),
		.flags = MV_IOMMU_IOAS_MAP_FIXED_IOVA |
			 MV_IOMMU_IOAS_MAP_READABLE |
			 MV_IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = f->ioas,
		.user_va = (uint64_t)(uintptr_t)hva,
		.length = size,
		.iova = iova,
	};

	return vfio_ledger_ioctl(&f->maps, f->fd, MV_IOMMU_IOAS_MAP, &m, iova,
				 size, true);
}

static int iommufd_map_file(struct vfio_iommu *io, uint64_t iova,
			    uint64_t size, int fd, uint64_t offset)
{
	struct iommufd *f = to_iommufd(io);
	struct mv_iommu_ioas_map_file m = {
		.size = sizeof(m),
		.flags = MV_IOMMU_IOAS_MAP_FIXED_IOVA |
			 MV_IOMMU_IOAS_MAP_READABLE |
			 MV_IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = f->ioas,
		.fd = fd,
		.start = offset,
		.length = size,
		.iova = iova,
	};
	int r = vfio_ledger_ioctl(&f->maps, f->fd, MV_IOMMU_IOAS_MAP_FILE, &m,
				  iova, size, true);

	/* Before 6.13 the ioctl number is unknown (ENOTTY). */
	return r == -ENOTTY ? -EOPNOTSUPP : r;
}

static int iommufd_unmap(struct vfio_iommu *io, uint64_t iova, uint64_t size)
{
	struct iommufd *f = to_iommufd(io);
	struct mv_iommu_ioas_unmap u = {
		.size = sizeof(u),
		.ioas_id = f->ioas,
		.iova = iova,
		.length = size,
	};

	return vfio_ledger_ioctl(&f->maps, f->fd, MV_IOMMU_IOAS_UNMAP, &u, iova,
				 size, false);
}

static void iommufd_destroy(struct vfio_iommu *io)
{
	struct iommufd *f = to_iommufd(io);

	vfio_ledger_unmap_all(&f->maps, io);
	if (f->ioas_made) {
		struct mv_iommu_destroy d = {.size = sizeof(d), .id = f->ioas};

		(void)xioctl(f->fd, MV_IOMMU_DESTROY, &d);
	}
	if (f->fd >= 0)
		close(f->fd);
	free(f);
}

static const struct vfio_iommu_ops iommufd_ops = {
	.name = "iommufd",
	.attach = iommufd_attach,
	.detach = iommufd_detach,
	.iova_ranges = iommufd_iova_ranges,
	.map = iommufd_map,
	.map_file = iommufd_map_file,
	.unmap = iommufd_unmap,
	.destroy = iommufd_destroy,
};

int vfio_iommufd_create(const struct logger *lg, const char *sys_root,
			const char *dev_root, struct vfio_iommu **out)
{
	struct iommufd *f = calloc(1, sizeof(*f));
	struct mv_iommu_ioas_alloc a = {.size = sizeof(a)};
	char path[300];
	int r;

	if (!f)
		return -ENOMEM;
	f->io.ops = &iommufd_ops;
	f->io.log = lg;
	vfio_ledger_init(&f->maps);
	snprintf(f->sys_root, sizeof(f->sys_root), "%s", sys_root);
	snprintf(f->dev_root, sizeof(f->dev_root), "%s", dev_root);
	snprintf(path, sizeof(path), "%s/iommu", dev_root);
	f->fd = open(path, O_RDWR | O_CLOEXEC);
	if (f->fd < 0) {
		r = -errno;
		log_err(lg, "vfio", "cannot open %s: %s%s", path, strerror(-r),
			r == -ENOENT ? " (the kernel needs CONFIG_IOMMUFD; or "
				       "use iommu=legacy)"
				     : "");
		goto err;
	}
	r = xioctl(f->fd, MV_IOMMU_IOAS_ALLOC, &a);
	if (r < 0) {
		log_err(lg, "vfio", "IOMMU_IOAS_ALLOC: %s", strerror(-r));
		goto err;
	}
	f->ioas = a.out_ioas_id;
	f->ioas_made = true;
	*out = &f->io;
	return 0;
err:
	iommufd_destroy(&f->io);
	return r;
}
