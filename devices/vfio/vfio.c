/* vfio.c: a VM's passed-through devices: preflight, registration with the PCIe host, guest RAM mapped for DMA, teardown, timings. */
#include "devices/vfio/vfio.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/pci/host.h"
#include "devices/vfio/preflight.h"
#include "vmm/parse.h"
#include "devices/machine.h"

static const struct vfio_pf_roots host_roots = {"/sys", "/dev", "/proc"};

int vfio_kvm_add_file(struct vfio_vm *vv, int fd)
{
	int r;

	if (vv->nkvm_files == sizeof(vv->kvm_files) / sizeof(vv->kvm_files[0]))
		return -E2BIG;
	r = vv->m->ops->vfio_file_add(vv->m, fd);
	if (r < 0)
		return r;
	vv->kvm_files[vv->nkvm_files++] = fd;
	return 0;
}

static int vfio_slot_create(struct machine *m, struct pci_dev_slot *slot,
			    const struct pci_plan_dev *pd)
{
	struct vfio_dev *d = slot->priv;
	int r;

	if (!d)
		return -EINVAL; /* planned only */
	r = vfio_dev_realize(
		d, m->ops->intx_gsi(m, pd, d->sh.intx_pin ? d->sh.intx_pin : 1));
	slot->fn = &d->fn;
	return r;
}

/* The VM owns the device; the slot only closes it with the PCIe host. */
static void vfio_slot_destroy(struct pci_dev_slot *slot)
{
	if (slot->priv)
		vfio_dev_close(slot->priv);
	slot->priv = NULL;
}

/* Every fatal finding, with its fix, in the preflight's own words. */
static void log_findings(struct logger *log, const struct vfio_pf_device *pf)
{
	for (unsigned int i = 0; i < pf->nfindings; i++) {
		const struct vfio_pf_finding *f = &pf->findings[i];
		const char *p = f->fix;

		if (!f->fatal)
			continue;
		log_err(log, "vfio", "%s", f->msg);
		while (*p) {
			const char *nl = strchr(p, '\n');
			int n = nl ? (int)(nl - p) : (int)strlen(p);

			log_err(log, "vfio", "  %s%.*s",
				p == f->fix ? "fix: " : "     ", n, p);
			p += n + (nl ? 1 : 0);
		}
	}
}

static struct vfio_dev *vfio_dev_new(struct vfio_vm *vv, const char *bdf,
				     const char *name, int group)
{
	struct vfio_dev **n, *d;

	n = realloc(vv->devs, (vv->ndevs + 1) * sizeof(*n));
	if (!n)
		return NULL;
	vv->devs = n;
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->mach = vv->m;
	d->vv = vv;
	d->fd = -1;
	d->group = group;
	snprintf(d->bdf, sizeof(d->bdf), "%s", bdf);
	snprintf(d->name, sizeof(d->name), "%s", name);
	for (unsigned int i = 0; i < 32; i++)
		d->msi_vec[i].efd = -1;
	d->intx_efd = d->intx_resample_fd = -1;
	for (unsigned int b = 0; b < 6; b++)
		for (unsigned int a = 0; a < VFIO_MAX_AREAS; a++)
			d->bar[b].area[a].slot = -1;
	pthread_mutex_init(&d->lock, NULL);
	d->lock_init = true;
	vv->devs[vv->ndevs++] = d;
	return d;
}

int vfio_iommu_choose(enum vfio_iommu_want want, bool have_dev_iommu,
		      bool all_cdevs, char *why, size_t len)
{
	switch (want) {
	case VFIO_WANT_LEGACY:
		snprintf(why, len, "iommu=legacy");
		return 0;
	case VFIO_WANT_IOMMUFD:
		if (!have_dev_iommu || !all_cdevs) {
			snprintf(why, len,
				 "iommu=iommufd, but this host has %s (the "
				 "kernel needs CONFIG_IOMMUFD and "
				 "CONFIG_VFIO_DEVICE_CDEV, Linux 6.6+); "
				 "iommu=legacy or auto uses the VFIO container",
				 !have_dev_iommu ? "no /dev/iommu"
						 : "no VFIO cdev for a device");
			return -ENODEV;
		}
		snprintf(why, len, "iommu=iommufd");
		return 1;
	case VFIO_WANT_AUTO:
	default:
		if (have_dev_iommu && all_cdevs) {
			snprintf(why, len,
				 "auto: /dev/iommu and the devices' VFIO cdevs "
				 "are there");
			return 1;
		}
		snprintf(why, len, "auto: %s, so the legacy VFIO container",
			 !have_dev_iommu ? "no /dev/iommu"
					 : "a device has no VFIO cdev");
		return 0;
	}
}

/* The VM's DMA back-end, chosen once for all its devices. */
static int vfio_backend_open(struct vfio_vm *vv,
			     const struct microvm_vfio *list, unsigned int n)
{
	char path[300], bdf[VFIO_PF_BDF_LEN], name[32], why[256];
	bool cdevs = true;
	int r;

	snprintf(path, sizeof(path), "%s/iommu", host_roots.dev);
	for (unsigned int i = 0; cdevs && i < n; i++)
		cdevs = vfio_bdf_parse(list[i].bdf, bdf, sizeof(bdf)) == 0 &&
			vfio_cdev_name(host_roots.sysfs, bdf, name,
				       sizeof(name)) == 0;
	r = vfio_iommu_choose(vv->opt.iommu, access(path, F_OK) == 0, cdevs,
			      why, sizeof(why));
	if (r < 0) {
		/* The host cannot do what was asked: bad input, as a preflight finding is. */
		log_err(vv->m->log, "vfio", "%s", why);
		return -EINVAL;
	}
	log_info(vv->m->log, "vfio", "DMA back-end: %s (%s)",
		 r ? "iommufd" : "container", why);
	if (r)
		return vfio_iommufd_create(vv->m->log, host_roots.sysfs,
					   host_roots.dev, &vv->iommu);
	return vfio_container_create(vv->m->log, host_roots.dev, &vv->iommu);
}

/* One --vfio device: checked, opened (unless planning) and registered. */
static int vfio_add_one(struct vfio_vm *vv, const struct microvm_vfio *list,
			unsigned int n, unsigned int i,
			struct vfio_pf_device *pf)
{
	const struct microvm_vfio *cfg = &list[i];
	struct machine *m = vv->m;
	struct pci_dev_req req;
	struct vfio_dev *d;
	char bdf[VFIO_PF_BDF_LEN], name[PCI_PLAN_NAME_LEN];
	int r;

	if (vfio_bdf_parse(cfg->bdf, bdf, sizeof(bdf)) < 0)
		return -EINVAL; /* vfio_check_config() said why */
	snprintf(name, sizeof(name), "%s", cfg->id ? cfg->id : "");
	if (!name[0])
		snprintf(name, sizeof(name), "vfio%u", i);
	r = vfio_preflight(&host_roots, bdf, pf);
	if (r < 0)
		return r;
	if (m->plan_only) {
		/* Plan from what sysfs says; nothing is opened. */
		if (!pf->exists) {
			log_findings(m->log, pf);
			return -EINVAL;
		}
		r = vfio_pf_dev_req(pf, name, &req);
		if (r < 0) {
			log_err(m->log, "vfio", "%s: unusable BARs", bdf);
			return r;
		}
		snprintf(req.host_bdf, sizeof(req.host_bdf), "%s", bdf);
		return m->ops->pci_add(m, &req, vfio_slot_create,
				       vfio_slot_destroy, NULL);
	}
	if (!pf->ready) {
		log_findings(m->log, pf);
		return -EINVAL;
	}
	if (!vv->iommu) {
		r = vfio_backend_open(vv, list, n);
		if (r < 0)
			return r;
	}
	d = vfio_dev_new(vv, bdf, name, pf->group);
	if (!d)
		return -ENOMEM;
	r = vfio_dev_open(d, vv->iommu);
	if (r < 0)
		return r;
	vfio_shadow_dev_req(&d->sh, name, &req);
	snprintf(req.host_bdf, sizeof(req.host_bdf), "%s", bdf);
	log_info(m->log, d->name,
		 "%s (%04x:%04x) in IOMMU group %d, through the %s back-end%s",
		 bdf, pci_get16(&d->sh.cfg, 0), pci_get16(&d->sh.cfg, 2),
		 d->group, vv->iommu->ops->name,
		 d->sh.msix.present  ? ", MSI-X"
		 : d->sh.msi.present ? ", MSI"
		 : d->sh.intx_pin    ? ", INTx only"
				     : ", no interrupts");
	return m->ops->pci_add(m, &req, vfio_slot_create, vfio_slot_destroy,
			       d);
}

int vfio_check_config(struct logger *log, const struct microvm_vfio *list,
		      unsigned int n)
{
	char bdf[VFIO_PF_BDF_LEN], other[VFIO_PF_BDF_LEN];

	for (unsigned int i = 0; i < n; i++) {
		const struct microvm_vfio *cfg = &list[i];

		if (vfio_bdf_parse(cfg->bdf, bdf, sizeof(bdf)) < 0) {
			log_err(log, "vfio",
				"'%s' is not a PCI address (want DDDD:BB:DD.F "
				"such as 0000:17:00.0, or BB:DD.F)",
				cfg->bdf);
			return -EINVAL;
		}
		if (cfg->id && check_device_name(cfg->id) < 0) {
			log_err(log, "vfio",
				"%s: id '%s': use 1-31 letters, digits, '-', "
				"'_' or '.'",
				bdf, cfg->id);
			return -EINVAL;
		}
		for (unsigned int j = 0; j < i; j++) {
			if (vfio_bdf_parse(list[j].bdf, other,
					   sizeof(other)) == 0 &&
			    !strcmp(other, bdf)) {
				log_err(log, "vfio", "%s is given twice",
					bdf);
				return -EINVAL;
			}
		}
	}
	return 0;
}

int vfio_add_devices(struct machine *m, const struct microvm_vfio *list,
		     unsigned int n, const struct vfio_options *opt,
		     struct vfio_vm **out)
{
	struct vfio_pf_device *pf;
	struct vfio_vm *vv;
	int r = 0;

	if (!n)
		return 0;
	vv = calloc(1, sizeof(*vv));
	pf = malloc(sizeof(*pf));
	if (!vv || !pf) {
		free(vv);
		free(pf);
		return -ENOMEM;
	}
	vv->m = m;
	vv->opt = *opt;
	pthread_mutex_init(&vv->dma_lock, NULL);
	pthread_cond_init(&vv->dma_cond, NULL);
	*out = vv; /* vfio_vm_destroy() releases what was done */
	for (unsigned int i = 0; !r && i < n; i++)
		r = vfio_add_one(vv, list, n, i, pf);
	free(pf);
	return r;
}

/* Is [start, last] inside one of the ranges? */
static bool in_ranges(const struct vfio_iommu_range *rg, int n, uint64_t start,
		      uint64_t last)
{
	for (int i = 0; i < n; i++)
		if (start >= rg[i].start && last <= rg[i].last)
			return true;
	return false;
}

/* Pinning is mapped in pieces of this size, so a stop need not wait long. */
#define DMA_CHUNK (256ull << 20)

/*
 * Map one piece of a RAM region: from guest RAM's memfd where the back-end
 * can (no walk of our page tables), by address otherwise, or when the
 * kernel turns out not to have it (said once).
 */
static int dma_map_piece(struct vfio_vm *vv, const struct mem_region *m,
			 uint64_t off, uint64_t len)
{
	const struct guest_mem *mem = vv->m->mem;
	struct vfio_iommu *io = vv->iommu;

	if (io->ops->map_file && !vv->opt.no_map_file && mem->fd >= 0 &&
	    !vv->by_address) {
		int r = io->ops->map_file(io, m->gpa + off, len, mem->fd,
					  (uint64_t)(m->hva - mem->base) + off);

		if (r != -EOPNOTSUPP)
			return r;
		log_info(vv->m->log, "vfio",
			 "this kernel has no IOMMU_IOAS_MAP_FILE (Linux 6.13): "
			 "mapping guest RAM by address");
	}
	vv->by_address = true;
	return io->ops->map(io, m->gpa + off, len, m->hva + off);
}

static void *dma_thread(void *arg)
{
	struct vfio_vm *vv = arg;
	struct machine *mach = vv->m;
	uint64_t t0 = machine_now_ns(), bytes = 0;
	unsigned int threads;
	char sz[32];
	int r = 0;

	pthread_setname_np(pthread_self(), "microvm-dma");
	/*
	 * Fault all of guest RAM in first, a slice per core: pinning then
	 * finds every page present instead of faulting them in one by one
	 * in a single thread. With one thread that is only a second pass
	 * (measured in the 1-CPU rig: 3.9 s + 0.27 s against 3.4 s for
	 * 512 MiB), so then pinning faults them in itself.
	 */
	threads = guest_mem_prefault_threads(mach->mem->total);
	if (!vv->opt.prefaulted && threads > 1) {
		uint64_t p0 = machine_now_ns();

		r = guest_mem_prefault(mach->mem, threads);
		pthread_mutex_lock(&vv->dma_lock);
		vv->prefault_ns = machine_now_ns() - p0;
		pthread_mutex_unlock(&vv->dma_lock);
		if (r < 0)
			log_err(mach->log, "vfio",
				"faulting in guest RAM before mapping it: %s",
				strerror(-r));
	}
	t0 = machine_now_ns();
	for (unsigned int i = 0; !r && i < mach->mem->nregions; i++) {
		const struct mem_region *m = &mach->mem->regions[i];

		for (uint64_t off = 0; !r && off < m->size; off += DMA_CHUNK) {
			uint64_t len = m->size - off < DMA_CHUNK ? m->size - off
								 : DMA_CHUNK;

			if (atomic_load(&vv->dma_cancel) ||
			    mach->ops->stopping(mach)) {
				r = -ECANCELED;
				break;
			}
			r = dma_map_piece(vv, m, off, len);
			if (r < 0)
				log_err(mach->log, "vfio",
					"mapping guest RAM 0x%llx-0x%llx for "
					"DMA: %s%s",
					(unsigned long long)(m->gpa + off),
					(unsigned long long)(m->gpa + off +
							     len - 1),
					strerror(-r),
					r == -ENOMEM
						? " (pinned memory counts "
						  "against RLIMIT_MEMLOCK: "
						  "raise `ulimit -l` or run "
						  "with CAP_IPC_LOCK)"
						: "");
			else
				bytes += len;
		}
	}
	pthread_mutex_lock(&vv->dma_lock);
	vv->dma_bytes = bytes;
	vv->dma_ns = machine_now_ns() - t0;
	vv->dma_method = !bytes ? "none" : vv->by_address ? "map" : "map_file";
	vv->dma_err = r;
	vv->dma_done = true;
	pthread_cond_broadcast(&vv->dma_cond);
	pthread_mutex_unlock(&vv->dma_lock);
	if (r == -ECANCELED)
		return NULL;
	if (r < 0) {
		machine_end(mach, MICROVM_EXIT_ERROR, r,
			    "mapping guest RAM for DMA failed: %s",
			    strerror(-r));
		return NULL;
	}
	if (vv->mapped)
		vv->mapped(vv->mapped_opaque);
	format_size(bytes, sz, sizeof(sz));
	if (vv->prefault_ns)
		log_info(mach->log, "vfio",
			 "guest RAM (%s) faulted in by %u threads in %.1f ms "
			 "(%.2f GB/s) before pinning",
			 sz, threads, (double)vv->prefault_ns / 1e6,
			 (double)bytes / (double)vv->prefault_ns);
	log_info(mach->log, "vfio",
		 "guest RAM (%s) mapped for DMA in %.1f ms (%.2f GB/s; %s "
		 "through %s), while the guest started",
		 sz, (double)vv->dma_ns / 1e6,
		 vv->dma_ns ? (double)bytes / (double)vv->dma_ns : 0.0,
		 vv->by_address ? "by address" : "from the memfd",
		 vv->iommu->ops->name);
	return NULL;
}

int vfio_ram_check_iova(const struct guest_mem *mem,
			const struct vfio_iommu_range *rg, int n, char *msg,
			size_t len)
{
	char list[512];

	for (unsigned int i = 0; n > 0 && i < mem->nregions; i++) {
		const struct mem_region *m = &mem->regions[i];
		size_t off = 0;

		if (in_ranges(rg, n, m->gpa, m->gpa + m->size - 1))
			continue;
		list[0] = 0;
		for (int k = 0; k < n && off < sizeof(list); k++)
			off += (size_t)snprintf(list + off, sizeof(list) - off,
						"%s0x%llx-0x%llx",
						k ? ", " : "",
						(unsigned long long)rg[k].start,
						(unsigned long long)rg[k].last);
		snprintf(msg, len,
			 "guest RAM 0x%llx-0x%llx is not inside the IOVA ranges "
			 "this host's IOMMU translates (%s), so devices could "
			 "not reach it by DMA; give the VM less --memory",
			 (unsigned long long)m->gpa,
			 (unsigned long long)(m->gpa + m->size - 1), list);
		return -EINVAL;
	}
	return 0;
}

int vfio_map_guest_ram(struct vfio_vm *vv, void (*mapped)(void *opaque),
		       void *opaque)
{
	const struct guest_mem *mem;
	struct logger *log;
	struct vfio_iommu_range rg[VFIO_IOMMU_MAX_RANGES];
	char msg[768];
	sigset_t all, old;
	int n, r;

	if (!vv || !vv->iommu)
		return 0;
	mem = vv->m->mem;
	log = vv->m->log;
	vv->mapped = mapped;
	vv->mapped_opaque = opaque;
	n = vv->iommu->ops->iova_ranges(vv->iommu, rg, VFIO_IOMMU_MAX_RANGES);
	if (n < 0) {
		log_err(log, "vfio",
			"asking the IOMMU for its IOVA "
			"ranges: %s",
			strerror(-n));
		return n;
	}
	r = vfio_ram_check_iova(mem, rg, n, msg, sizeof(msg));
	if (r < 0) {
		log_err(log, "vfio", "%s", msg);
		return r;
	}
	/* Our threads never take the embedder's signals. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&vv->dma_thread, NULL, dma_thread, vv);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0) {
		log_err(log, "vfio", "starting the DMA-map thread: %s",
			strerror(-r));
		return r;
	}
	vv->dma_thread_started = true;
	return 0;
}

int vfio_dma_wait(struct vfio_vm *vv)
{
	int r;

	pthread_mutex_lock(&vv->dma_lock);
	while (vv->dma_thread_started && !vv->dma_done)
		pthread_cond_wait(&vv->dma_cond, &vv->dma_lock);
	r = vv->dma_err;
	pthread_mutex_unlock(&vv->dma_lock);
	return r;
}

int vfio_timings_json(const struct vfio_vm *vv, char *buf, size_t len)
{
	uint64_t dma_ns, dma_bytes, prefault_ns;
	const char *method;
	size_t off = 0;
	int n;

#define EMIT(...)                                                \
	do {                                                     \
		n = snprintf(buf + off, len - off, __VA_ARGS__); \
		if (n < 0 || (size_t)n >= len - off)             \
			return -ENOSPC;                          \
		off += (size_t)n;                                \
	} while (0)

	if (!len)
		return -ENOSPC;
	buf[0] = 0;
	if (!vv || !vv->ndevs)
		return 0;
	pthread_mutex_lock((pthread_mutex_t *)&vv->dma_lock);
	dma_ns = vv->dma_ns;
	dma_bytes = vv->dma_bytes;
	method = vv->dma_method;
	prefault_ns = vv->prefault_ns;
	pthread_mutex_unlock((pthread_mutex_t *)&vv->dma_lock);
	EMIT("\"vfio\": {\"backend\": \"%s\", \"dma_method\": \"%s\", "
	     "\"prefault_ms\": %.3f, \"prefault_gbps\": %.3f, "
	     "\"dma_map_ms\": %.3f, "
	     "\"dma_bytes\": %llu, \"dma_gbps\": %.3f,\n    \"devices\": [",
	     vv->iommu ? vv->iommu->ops->name : "none",
	     method ? method : "none", (double)prefault_ns / 1e6,
	     prefault_ns ? (double)dma_bytes / (double)prefault_ns : 0.0,
	     (double)dma_ns / 1e6, (unsigned long long)dma_bytes,
	     dma_ns ? (double)dma_bytes / (double)dma_ns : 0.0);
	for (unsigned int i = 0; i < vv->ndevs; i++) {
		const struct vfio_dev *d = vv->devs[i];

		EMIT("%s\n      {\"name\": \"%s\", \"host_bdf\": \"%s\", "
		     "\"open_ms\": %.3f, \"reset_ms\": %.3f, \"bar_map_ms\": "
		     "%.3f, \"bar_bytes_mmapped\": %llu}",
		     i ? "," : "", d->fn.name[0] ? d->fn.name : d->name, d->bdf,
		     (double)d->open_ns / 1e6, (double)d->reset_ns / 1e6,
		     (double)d->bar_map_ns / 1e6,
		     (unsigned long long)d->bar_bytes_mapped);
	}
	EMIT("\n    ]}");
#undef EMIT
	return (int)off;
}

void vfio_vm_destroy(struct vfio_vm *vv)
{
	if (!vv)
		return;
	if (vv->dma_thread_started) {
		atomic_store(&vv->dma_cancel, true);
		pthread_join(vv->dma_thread, NULL);
	}
	for (unsigned int i = 0; i < vv->ndevs; i++) {
		struct vfio_dev *d = vv->devs[i];

		vfio_dev_close(d); /* again is harmless */
		if (d->lock_init)
			pthread_mutex_destroy(&d->lock);
		free(d);
	}
	free(vv->devs);
	for (unsigned int i = 0; i < vv->nkvm_files; i++)
		vv->m->ops->vfio_file_del(vv->m, vv->kvm_files[i]);
	if (vv->iommu)
		vv->iommu->ops->destroy(vv->iommu);
	pthread_cond_destroy(&vv->dma_cond);
	pthread_mutex_destroy(&vv->dma_lock);
	free(vv);
}
