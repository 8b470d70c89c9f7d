/* vfio_pci.c: the passed-through PCI function: shadowed config space, BARs in KVM memory slots, MSI/MSI-X through irqfds. */
#include <errno.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devices/vfio/vfio.h"
#include "devices/machine.h"

static int xioctl(int fd, unsigned long req, void *arg)
{
	int r = ioctl(fd, req, arg);

	return r < 0 ? -errno : r;
}

/* ---- regions ---- */

/* Region info with its capability chain (caller frees). */
static int region_info(struct vfio_dev *d, unsigned int index,
		       struct vfio_region_info **out)
{
	uint32_t argsz = sizeof(struct vfio_region_info);
	struct vfio_region_info *ri;
	int r;

	for (;;) {
		ri = calloc(1, argsz);
		if (!ri)
			return -ENOMEM;
		ri->argsz = argsz;
		ri->index = index;
		r = xioctl(d->fd, VFIO_DEVICE_GET_REGION_INFO, ri);
		if (r < 0 || ri->argsz <= argsz || argsz > 65536)
			break;
		argsz = ri->argsz;
		free(ri);
	}
	if (r < 0) {
		free(ri);
		return r;
	}
	*out = ri;
	return 0;
}

/*
 * Offset of the region info's capability `id`, or 0. Capabilities need not
 * be 8-byte aligned: callers copy them out with memcpy.
 */
static uint32_t region_cap(const struct vfio_region_info *ri, uint16_t id)
{
	uint32_t off =
		ri->flags & VFIO_REGION_INFO_FLAG_CAPS ? ri->cap_offset : 0;
	struct vfio_info_cap_header h;

	while (off && off + sizeof(h) <= ri->argsz) {
		memcpy(&h, (const uint8_t *)ri + off, sizeof(h));
		if (h.id == id)
			return off;
		if (h.next <= off)
			break;
		off = h.next;
	}
	return 0;
}

static struct vfio_area new_area(uint64_t off, uint64_t size)
{
	return (struct vfio_area){.off = off, .size = size, .slot = -1};
}

/* Where the BAR may be mmapped: sparse areas, or all of it. */
static void bar_areas(struct vfio_dev *d, unsigned int b,
		      const struct vfio_region_info *ri)
{
	const uint8_t *base = (const uint8_t *)ri;
	struct vfio_bar *bar = &d->bar[b];
	uint32_t off, nr;

	bar->nareas = 0;
	if (!(ri->flags & VFIO_REGION_INFO_FLAG_MMAP))
		return;
	off = region_cap(ri, VFIO_REGION_INFO_CAP_SPARSE_MMAP);
	if (!off || off + 16 > ri->argsz) {
		bar->area[0] = new_area(0, ri->size);
		bar->nareas = 1;
		return;
	}
	/* header (8), nr_areas, reserved, then {offset, size} pairs */
	memcpy(&nr, base + off + 8, sizeof(nr));
	for (uint32_t i = 0; i < nr && bar->nareas < VFIO_MAX_AREAS &&
			     off + 16 + 16 * (i + 1) <= ri->argsz;
	     i++) {
		uint64_t ao, as;

		memcpy(&ao, base + off + 16 + 16 * i, 8);
		memcpy(&as, base + off + 24 + 16 * i, 8);
		if (!as || ao + as > ri->size || ao + as < ao)
			continue;
		bar->area[bar->nareas++] = new_area(ao, as);
	}
}

/* Cut the pages that hold the MSI-X table or PBA out of the areas. */
static void bar_trap_msix(struct vfio_dev *d, unsigned int b, uint64_t page)
{
	struct vfio_bar *bar = &d->bar[b];
	uint64_t ts[2], te[2];
	unsigned int nt = vfio_msix_trap_ranges(&d->sh.msix, b, page, ts, te);

	for (unsigned int t = 0; t < nt; t++) {
		struct vfio_area out[VFIO_MAX_AREAS];
		unsigned int n = 0;

		for (unsigned int i = 0; i < bar->nareas; i++) {
			struct vfio_area a = bar->area[i];
			uint64_t end = a.off + a.size;

			if (end <= ts[t] || a.off >= te[t]) {
				out[n++] = a;
				continue;
			}
			if (a.off < ts[t] && n < VFIO_MAX_AREAS)
				out[n++] = new_area(a.off, ts[t] - a.off);
			if (end > te[t] && n < VFIO_MAX_AREAS)
				out[n++] = new_area(te[t], end - te[t]);
		}
		memcpy(bar->area, out, n * sizeof(out[0]));
		bar->nareas = n;
	}
}

/* ---- config space ---- */

static int cfg_pread(struct vfio_dev *d, void *buf, size_t len, uint64_t off)
{
	ssize_t n = pread(d->fd, buf, len, (off_t)(d->cfg_offset + off));

	return n == (ssize_t)len ? 0 : n < 0 ? -errno : -EIO;
}

static int cfg_pwrite(struct vfio_dev *d, const void *buf, size_t len,
		      uint64_t off)
{
	ssize_t n = pwrite(d->fd, buf, len, (off_t)(d->cfg_offset + off));

	return n == (ssize_t)len ? 0 : n < 0 ? -errno : -EIO;
}

/* Fresh device bytes for the passthrough part of a config read. */
static void vfio_config_read_hook(struct pci_function *f, unsigned int off,
				  unsigned int len)
{
	struct vfio_dev *d = f->opaque;
	uint8_t buf[4];
	bool any = false;

	for (unsigned int i = 0; i < len; i++)
		any |= vfio_shadow_passthru(&d->sh, off + i);
	if (!any || cfg_pread(d, buf, len, off) < 0)
		return;
	for (unsigned int i = 0; i < len; i++)
		if (vfio_shadow_passthru(&d->sh, off + i))
			f->cfg.cfg[off + i] = buf[i];
}

static bool touches(unsigned int off, unsigned int len, unsigned int start,
		    unsigned int size)
{
	return off < start + size && off + len > start;
}

static void msi_sync(struct vfio_dev *d);
static void msix_sync(struct vfio_dev *d);

static void vfio_config_written(struct pci_function *f, unsigned int off,
				unsigned int len)
{
	struct vfio_dev *d = f->opaque;
	const struct vfio_msi_info *mi = &d->sh.msi;
	const struct vfio_msix_info *mx = &d->sh.msix;
	unsigned int npass = 0;
	int r = 0;

	/*
	 * Bus mastering waits until guest RAM is mapped for DMA (it is
	 * mapped while the guest boots); if that failed, the device never
	 * masters the bus.
	 */
	if (touches(off, len, PCI_COMMAND, 1) &&
	    (f->cfg.cfg[PCI_COMMAND] & PCI_COMMAND_MASTER) &&
	    vfio_dma_wait(d->vv) < 0)
		f->cfg.cfg[PCI_COMMAND] &= (uint8_t)~PCI_COMMAND_MASTER;
	for (unsigned int i = 0; i < len; i++)
		npass += vfio_shadow_passthru(&d->sh, off + i);
	if (npass == len) {
		r = cfg_pwrite(d, &f->cfg.cfg[off], len, off);
	} else {
		for (unsigned int i = 0; npass && i < len && !r; i++)
			if (vfio_shadow_passthru(&d->sh, off + i))
				r = cfg_pwrite(d, &f->cfg.cfg[off + i], 1,
					       off + i);
	}
	if (r < 0 && ratelimit_ok(&d->rl, 5))
		log_warn(d->mach->log, d->name, "config write at 0x%x: %s", off,
			 strerror(-r));
	if (mi->present &&
	    touches(off, len, mi->cap,
		    (mi->maskable ? mi->mask_off + 8 : mi->data_off + 2) -
			    mi->cap)) {
		pthread_mutex_lock(&d->lock);
		msi_sync(d);
		pthread_mutex_unlock(&d->lock);
	}
	if (mx->present && touches(off, len, mx->cap + PCI_MSIX_FLAGS, 2)) {
		pthread_mutex_lock(&d->lock);
		msix_sync(d);
		pthread_mutex_unlock(&d->lock);
	}
}

/* ---- interrupts ---- */

static int set_irqs_action(struct vfio_dev *d, unsigned int index,
			   uint32_t action, unsigned int start,
			   unsigned int count, const int32_t *fds)
{
	size_t sz = sizeof(struct vfio_irq_set) + (fds ? count * 4u : 0);
	struct vfio_irq_set *s = calloc(1, sz);
	int r;

	if (!s)
		return -ENOMEM;
	s->argsz = (uint32_t)sz;
	s->flags = action |
		   (fds ? VFIO_IRQ_SET_DATA_EVENTFD : VFIO_IRQ_SET_DATA_NONE);
	s->index = index;
	s->start = start;
	s->count = count;
	if (fds)
		memcpy(s->data, fds, count * 4u);
	r = xioctl(d->fd, VFIO_DEVICE_SET_IRQS, s);
	free(s);
	return r < 0 ? r : 0;
}

static int set_irqs(struct vfio_dev *d, unsigned int index, unsigned int start,
		    unsigned int count, const int32_t *fds)
{
	return set_irqs_action(d, index, VFIO_IRQ_SET_ACTION_TRIGGER, start,
			       count, fds);
}

/*
 * INTx, while neither MSI nor MSI-X is on: VFIO signals intx_efd and masks
 * the line; KVM raises the GSI and, at the guest's EOI, signals the
 * resample fd, which VFIO takes as "unmask".
 */
static void intx_enable(struct vfio_dev *d)
{
	int32_t fd;
	int r;

	if (!d->intx || d->intx_on)
		return;
	r = d->mach->ops->irqfd(d->mach, d->intx_efd, d->intx_resample_fd,
			      d->intx_gsi, true);
	if (!r) {
		fd = d->intx_efd;
		r = set_irqs(d, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &fd);
		if (r < 0)
			(void)!d->mach->ops->irqfd(d->mach, d->intx_efd, -1,
						 d->intx_gsi, false);
	}
	if (!r) {
		fd = d->intx_resample_fd;
		r = set_irqs_action(d, VFIO_PCI_INTX_IRQ_INDEX,
				    VFIO_IRQ_SET_ACTION_UNMASK, 0, 1, &fd);
	}
	d->intx_on = r == 0;
	if (r < 0 && ratelimit_ok(&d->rl, 5))
		log_warn(d->mach->log, d->name, "enabling INTx (GSI %u): %s",
			 d->intx_gsi, strerror(-r));
}

static void intx_disable(struct vfio_dev *d)
{
	if (!d->intx_on)
		return;
	(void)!set_irqs(d, VFIO_PCI_INTX_IRQ_INDEX, 0, 0, NULL);
	(void)!d->mach->ops->irqfd(d->mach, d->intx_efd, -1, d->intx_gsi, false);
	d->intx_on = false;
}

/* Give the vector an eventfd and a GSI routed to (addr, data). */
static int vec_setup(struct vfio_dev *d, struct vfio_vec *e, uint64_t addr,
		     uint32_t data)
{
	int r;

	if (e->efd < 0) {
		e->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (e->efd < 0)
			return -errno;
	}
	if (!e->routed) {
		r = d->mach->ops->msi_alloc(d->mach, &e->gsi);
		if (r < 0)
			return r;
		e->addr = ~addr;
	}
	if (e->addr != addr || e->data != data || !e->routed) {
		r = d->mach->ops->msi_route(d->mach, e->gsi, addr, data,
				 pci_function_requester_id(&d->fn));
		if (r < 0)
			return r;
		e->addr = addr;
		e->data = data;
		e->routed = true;
	}
	return 0;
}

static void vec_irqfd(struct vfio_dev *d, struct vfio_vec *e, bool on)
{
	if (e->irqfd == on || e->efd < 0 || !e->routed)
		return;
	if (d->mach->ops->irqfd(d->mach, e->efd, -1, e->gsi, on) == 0)
		e->irqfd = on;
}

static void vec_free(struct vfio_dev *d, struct vfio_vec *e)
{
	vec_irqfd(d, e, false);
	if (e->efd >= 0)
		close(e->efd);
	e->efd = -1;
}

static bool efd_pending(const struct vfio_vec *e)
{
	struct pollfd p = {.fd = e->efd, .events = POLLIN};

	return e->efd >= 0 && poll(&p, 1, 0) == 1;
}

static void irq_warn(struct vfio_dev *d, const char *what, int r)
{
	if (ratelimit_ok(&d->rl, 5))
		log_warn(d->mach->log, d->name, "%s: %s", what, strerror(-r));
}

/* MSI: the emulated capability decides; lock held. */
static void msi_sync(struct vfio_dev *d)
{
	const struct vfio_msi_info *mi = &d->sh.msi;
	struct pci_config *c = &d->fn.cfg;
	uint16_t ctrl = pci_get16(c, mi->cap + PCI_MSI_FLAGS);
	unsigned int nvec = 1u << ((ctrl & PCI_MSI_FLAGS_QSIZE) >> 4);
	uint64_t addr = pci_get32(c, mi->cap + PCI_MSI_ADDRESS_LO);
	uint32_t data = pci_get16(c, mi->data_off);
	uint32_t mask = mi->maskable ? pci_get32(c, mi->mask_off) : 0;
	int32_t fds[32];
	int r;

	if (nvec > mi->max_vectors)
		nvec = mi->max_vectors;
	if (mi->is64)
		addr |= (uint64_t)pci_get32(c, mi->cap + PCI_MSI_ADDRESS_HI)
			<< 32;
	if (d->msi_nvec &&
	    (!(ctrl & PCI_MSI_FLAGS_ENABLE) || nvec != d->msi_nvec)) {
		for (unsigned int i = 0; i < d->msi_nvec; i++)
			vec_irqfd(d, &d->msi_vec[i], false);
		r = set_irqs(d, VFIO_PCI_MSI_IRQ_INDEX, 0, 0, NULL);
		if (r < 0)
			irq_warn(d, "disabling MSI", r);
		d->msi_nvec = 0;
	}
	if (!(ctrl & PCI_MSI_FLAGS_ENABLE)) {
		if (!d->msix_on)
			intx_enable(d);
		return;
	}
	for (unsigned int i = 0; i < nvec; i++) {
		/* Multiple messages differ in the low bits of the data. */
		r = vec_setup(d, &d->msi_vec[i], addr,
			      (data & ~(nvec - 1)) | i);
		if (r < 0) {
			irq_warn(d, "MSI vector set-up", r);
			return;
		}
		fds[i] = d->msi_vec[i].efd;
	}
	if (!d->msi_nvec) {
		intx_disable(d); /* VFIO has one interrupt type at a time */
		r = set_irqs(d, VFIO_PCI_MSI_IRQ_INDEX, 0, nvec, fds);
		if (r < 0) {
			irq_warn(d, "enabling MSI", r);
			return;
		}
		d->msi_nvec = nvec;
		log_debug(d->mach->log, d->name, "MSI on: %u vector%s", nvec,
			  nvec == 1 ? "" : "s");
	}
	for (unsigned int i = 0; i < nvec; i++)
		vec_irqfd(d, &d->msi_vec[i], !(mask & (1u << i)));
}

static bool msix_live(const struct vfio_dev *d, unsigned int v)
{
	uint16_t ctrl = pci_get16(&d->fn.cfg, d->sh.msix.cap + PCI_MSIX_FLAGS);

	return (ctrl & PCI_MSIX_FLAGS_ENABLE) &&
	       !(ctrl & PCI_MSIX_FLAGS_MASKALL) &&
	       !(d->msix_table[v].ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT);
}

/* Enable MSI-X in VFIO with `count` vectors, handing over the eventfds we have. */
static int msix_vfio_enable(struct vfio_dev *d, unsigned int count)
{
	int32_t *fds = calloc(count, sizeof(*fds));
	int r;

	if (!fds)
		return -ENOMEM;
	for (unsigned int v = 0; v < count; v++)
		fds[v] = d->msix_vec[v].efd;
	r = set_irqs(d, VFIO_PCI_MSIX_IRQ_INDEX, 0, count, fds);
	free(fds);
	if (r < 0)
		return r;
	for (unsigned int v = 0; v < count; v++)
		d->msix_vec[v].in_vfio = d->msix_vec[v].efd >= 0;
	d->msix_nvfio = count;
	return 0;
}

static void msix_vfio_disable(struct vfio_dev *d)
{
	int r = set_irqs(d, VFIO_PCI_MSIX_IRQ_INDEX, 0, 0, NULL);

	if (r < 0)
		irq_warn(d, "disabling MSI-X", r);
	for (unsigned int v = 0; v < d->sh.msix.table_size; v++)
		d->msix_vec[v].in_vfio = false;
	d->msix_nvfio = 0;
}

/*
 * Grow the vectors VFIO has enabled to `count`: the kernel can only do
 * that by disabling and enabling again, so signal every live vector once
 * afterwards in case an interrupt fell in between (a spurious MSI is
 * harmless to drivers; a lost one is not).
 */
static int msix_grow(struct vfio_dev *d, unsigned int count)
{
	uint64_t one = 1;
	int r;

	msix_vfio_disable(d);
	r = msix_vfio_enable(d, count);
	if (r < 0)
		return r;
	for (unsigned int v = 0; v < count; v++)
		if (d->msix_vec[v].in_vfio && msix_live(d, v))
			(void)!write(d->msix_vec[v].efd, &one, sizeof(one));
	return 0;
}

/* MSI-X: the emulated capability and table decide; lock held. */
static void msix_sync(struct vfio_dev *d)
{
	unsigned int n = d->sh.msix.table_size;
	uint16_t ctrl = pci_get16(&d->fn.cfg, d->sh.msix.cap + PCI_MSIX_FLAGS);
	int r;

	if (!(ctrl & PCI_MSIX_FLAGS_ENABLE)) {
		for (unsigned int v = 0; v < n; v++)
			vec_irqfd(d, &d->msix_vec[v], false);
		if (d->msix_nvfio)
			msix_vfio_disable(d);
		d->msix_on = false;
		if (!d->msi_nvec)
			intx_enable(d);
		return;
	}
	if (!d->msix_on) {
		intx_disable(d); /* VFIO has one interrupt type at a time */
		/* All vectors at once if the host has them, else as used. */
		r = msix_vfio_enable(d, n);
		if (r < 0) {
			log_info(d->mach->log, d->name,
				 "MSI-X: the host refused all %u vectors "
				 "(%s); enabling them as the guest uses them",
				 n, strerror(-r));
			r = msix_vfio_enable(d, 1);
		}
		if (r < 0) {
			irq_warn(d, "enabling MSI-X", r);
			return;
		}
		d->msix_on = true;
		log_debug(d->mach->log, d->name, "MSI-X on: %u of %u vectors",
			  d->msix_nvfio, n);
	}
	for (unsigned int v = 0; v < n; v++) {
		struct vfio_msix_entry *t = &d->msix_table[v];
		struct vfio_vec *e = &d->msix_vec[v];

		if (!msix_live(d, v)) {
			vec_irqfd(d, e, false);
			continue;
		}
		r = vec_setup(d, e, (uint64_t)t->addr_hi << 32 | t->addr_lo,
			      t->data);
		if (r < 0) {
			irq_warn(d, "MSI-X vector set-up", r);
			continue;
		}
		if (v >= d->msix_nvfio) {
			r = msix_grow(d, v + 1);
		} else if (!e->in_vfio) {
			int32_t fd = e->efd;

			r = set_irqs(d, VFIO_PCI_MSIX_IRQ_INDEX, v, 1, &fd);
			e->in_vfio = r == 0;
		}
		if (r < 0)
			irq_warn(d, "MSI-X vector", r);
		vec_irqfd(d, e, true);
	}
}

static void msix_table_rw(struct vfio_dev *d, uint64_t off, uint8_t *data,
			  unsigned int len, bool is_write)
{
	int route, mask;

	pthread_mutex_lock(&d->lock);
	vfio_msix_table_access(d->msix_table, d->sh.msix.table_size, off, data,
			       len, is_write, &route, &mask);
	if (route >= 0) {
		struct vfio_msix_entry *t = &d->msix_table[route];
		struct vfio_vec *e = &d->msix_vec[route];

		/* A live vector follows its new message at once. */
		if (e->routed &&
		    vec_setup(d, e, (uint64_t)t->addr_hi << 32 | t->addr_lo,
			      t->data) < 0 &&
		    ratelimit_ok(&d->rl, 5))
			log_warn(d->mach->log, d->name,
				 "MSI-X vector %d: route update failed", route);
	}
	if (mask >= 0 && d->msix_on)
		msix_sync(d);
	pthread_mutex_unlock(&d->lock);
}

static void msix_pba_rw(struct vfio_dev *d, uint64_t off, uint8_t *data,
			unsigned int len, bool is_write)
{
	unsigned int n = d->sh.msix.table_size;
	uint64_t pending[VFIO_MSIX_MAX / 64] = {0};

	if (is_write || len > 8)
		return;
	pthread_mutex_lock(&d->lock);
	/* Only the vectors this access reads. */
	for (uint64_t v = off * 8; v < (off + len) * 8 && v < n; v++) {
		const struct vfio_vec *e = &d->msix_vec[v];

		if (!e->irqfd && e->in_vfio && efd_pending(e))
			pending[v / 64] |= 1ull << (v % 64);
	}
	pthread_mutex_unlock(&d->lock);
	vfio_msix_pba_read(pending, n, off, data, len);
}

/* ---- BARs ---- */

/* A BAR access that exits: MSI-X emulation, else the device through its region. */
static void vfio_bar_access(struct pci_function *f, unsigned int b,
			    uint64_t off, uint8_t *data, unsigned int len,
			    bool is_write)
{
	struct vfio_dev *d = f->opaque;
	const struct vfio_msix_info *m = &d->sh.msix;
	ssize_t n;

	if (m->present && b == m->table_bar && off >= m->table_off &&
	    off < m->table_off + 16ull * m->table_size) {
		msix_table_rw(d, off - m->table_off, data, len, is_write);
		return;
	}
	if (m->present && b == m->pba_bar && off >= m->pba_off &&
	    off < m->pba_off + (m->table_size + 63u) / 64u * 8u) {
		if (!is_write)
			memset(data, 0, len);
		msix_pba_rw(d, off - m->pba_off, data, len, is_write);
		return;
	}
	if (is_write)
		n = pwrite(d->fd, data, len, (off_t)(d->bar[b].offset + off));
	else
		n = pread(d->fd, data, len, (off_t)(d->bar[b].offset + off));
	if (n != (ssize_t)len) {
		if (!is_write)
			memset(data, 0xff, len);
		if (ratelimit_ok(&d->rl, 5))
			log_warn(d->mach->log, d->name,
				 "BAR%u+0x%llx: %u-byte %s failed: %s", b,
				 (unsigned long long)off, len,
				 is_write ? "write" : "read",
				 n < 0 ? strerror(errno) : "short");
	}
}

/* The BARs moved (or decoding changed): put the mmapped areas where they are now. */
static void vfio_bars_changed(struct pci_function *f)
{
	struct vfio_dev *d = f->opaque;
	uint64_t t0 = machine_now_ns();

	for (unsigned int b = 0; b < 6; b++) {
		struct vfio_bar *bar = &d->bar[b];

		for (unsigned int i = 0; i < bar->nareas; i++) {
			struct vfio_area *a = &bar->area[i];
			uint64_t want =
				f->mapped[b] ? f->mapped[b] + a->off : 0;
			int r;

			if (!a->hva || (a->slot >= 0 && a->gpa == want))
				continue;
			if (a->dma)
				(void)!d->iommu->ops->unmap(d->iommu, a->gpa,
							    a->size);
			a->dma = false;
			if (a->slot >= 0) {
				d->mach->ops->memslot_del(d->mach, a->slot);
				a->slot = -1;
			}
			if (!want)
				continue;
			r = d->mach->ops->memslot_add(d->mach, want, a->size, a->hva,
					   &a->slot);
			if (r < 0) {
				a->slot = -1;
				if (ratelimit_ok(&d->rl, 5))
					log_warn(d->mach->log, d->name,
						 "BAR%u+0x%llx at 0x%llx: no "
						 "memory slot (%s); its "
						 "accesses exit instead",
						 b, (unsigned long long)a->off,
						 (unsigned long long)want,
						 strerror(-r));
				continue;
			}
			a->gpa = want;
			/*
			 * Peer-to-peer: another device's DMA to this guest
			 * address reaches the BAR, as on bare metal.
			 */
			r = d->iommu->ops->map(d->iommu, want, a->size, a->hva);
			a->dma = r == 0;
			if (r < 0 && ratelimit_ok(&d->rl, 5))
				log_info(d->mach->log, d->name,
					 "BAR%u+0x%llx: not mapped for "
					 "peer-to-peer DMA (%s)",
					 b, (unsigned long long)a->off,
					 strerror(-r));
		}
	}
	d->bar_map_ns += machine_now_ns() - t0;
}

/* ---- open, realize, close ---- */

static int kvm_add(void *opaque, int fd)
{
	return vfio_kvm_add_file(opaque, fd);
}

int vfio_dev_open(struct vfio_dev *d, struct vfio_iommu *io)
{
	struct vfio_device_info info = {.argsz = sizeof(info)};
	struct vfio_region_info *ri;
	uint64_t size[6] = {0}, t0 = machine_now_ns();
	uint8_t raw[PCI_CFG_SIZE];
	size_t raw_len;
	char err[256];
	int r;

	r = io->ops->attach(io, d->bdf, d->group, kvm_add, d->vv, &d->fd);
	if (r < 0)
		return r;
	d->iommu = io;
	r = xioctl(d->fd, VFIO_DEVICE_GET_INFO, &info);
	if (r < 0 || !(info.flags & VFIO_DEVICE_FLAGS_PCI) ||
	    info.num_regions <= VFIO_PCI_CONFIG_REGION_INDEX) {
		log_err(d->mach->log, d->name, "%s is not a VFIO PCI device%s%s",
			d->bdf, r < 0 ? ": " : "", r < 0 ? strerror(-r) : "");
		return r < 0 ? r : -ENODEV;
	}
	d->resettable = info.flags & VFIO_DEVICE_FLAGS_RESET;
	d->open_ns = machine_now_ns() - t0;
	if (d->resettable) {
		t0 = machine_now_ns();
		r = xioctl(d->fd, VFIO_DEVICE_RESET, NULL);
		d->reset_ns = machine_now_ns() - t0;
		if (r < 0)
			log_warn(d->mach->log, d->name,
				 "VFIO_DEVICE_RESET: %s; going on",
				 strerror(-r));
	} else {
		log_info(d->mach->log, d->name,
			 "%s has no reset the kernel can do; it starts "
			 "as the host left it",
			 d->bdf);
	}
	for (unsigned int b = 0; b < 6; b++) {
		r = region_info(d, VFIO_PCI_BAR0_REGION_INDEX + b, &ri);
		if (r < 0) {
			log_err(d->mach->log, d->name, "BAR%u region info: %s",
				b, strerror(-r));
			return r;
		}
		d->bar[b].size = size[b] = ri->size;
		d->bar[b].offset = ri->offset;
		d->bar[b].flags = ri->flags;
		bar_areas(d, b, ri);
		free(ri);
	}
	r = region_info(d, VFIO_PCI_CONFIG_REGION_INDEX, &ri);
	if (r < 0) {
		log_err(d->mach->log, d->name, "config region info: %s",
			strerror(-r));
		return r;
	}
	d->cfg_offset = ri->offset;
	raw_len = ri->size >= PCI_CFG_SIZE ? PCI_CFG_SIZE : PCI_STD_CFG_SIZE;
	free(ri);
	r = cfg_pread(d, raw, raw_len, 0);
	if (r < 0) {
		log_err(d->mach->log, d->name, "reading config space: %s",
			strerror(-r));
		return r;
	}
	r = vfio_shadow_build(raw, raw_len, size, &d->sh, err, sizeof(err));
	if (r < 0) {
		log_err(d->mach->log, d->name, "%s: %s", d->bdf, err);
		return r;
	}
	for (unsigned int b = 0; b < 6; b++) {
		if (d->sh.io_bar_size[b])
			log_warn(d->mach->log, d->name,
				 "I/O BAR%u (%llu bytes) is not passed through",
				 b, (unsigned long long)d->sh.io_bar_size[b]);
		if (!d->sh.cfg.bar_size[b])
			d->bar[b].nareas = 0;
	}
	return 0;
}

/* Does VFIO offer the device's INTx? Then route its pin to `gsi`. */
static int intx_setup(struct vfio_dev *d, unsigned int gsi)
{
	struct vfio_irq_info ii = {.argsz = sizeof(ii),
				   .index = VFIO_PCI_INTX_IRQ_INDEX};

	if (!d->sh.intx_pin ||
	    xioctl(d->fd, VFIO_DEVICE_GET_IRQ_INFO, &ii) < 0 || !ii.count)
		return 0;
	d->intx_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	d->intx_resample_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->intx_efd < 0 || d->intx_resample_fd < 0)
		return -errno;
	d->intx = true;
	d->intx_gsi = gsi;
	d->fn.cfg.cfg[PCI_INTERRUPT_PIN] = d->sh.intx_pin;
	d->fn.cfg.cfg[PCI_INTERRUPT_LINE] = (uint8_t)gsi;
	intx_enable(d);
	return 0;
}

int vfio_dev_realize(struct vfio_dev *d, unsigned int intx_gsi)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), t0 = machine_now_ns();
	/* Decoding on; bus mastering is the guest driver's to enable. */
	uint16_t cmd = PCI_COMMAND_MEMORY;
	int r;

	d->fn.cfg = d->sh.cfg;
	snprintf(d->fn.name, sizeof(d->fn.name), "%s", d->name);
	if (d->sh.msix.present) {
		unsigned int n = d->sh.msix.table_size;

		d->msix_table = calloc(n, sizeof(*d->msix_table));
		d->msix_vec = calloc(n, sizeof(*d->msix_vec));
		if (!d->msix_table || !d->msix_vec)
			return -ENOMEM;
		for (unsigned int v = 0; v < n; v++) {
			d->msix_table[v].ctrl = PCI_MSIX_ENTRY_CTRL_MASKBIT;
			d->msix_vec[v].efd = -1;
		}
	}
	for (unsigned int b = 0; b < 6; b++) {
		struct vfio_bar *bar = &d->bar[b];

		bar_trap_msix(d, b, page);
		for (unsigned int i = 0; i < bar->nareas; i++) {
			struct vfio_area *a = &bar->area[i];
			void *p;

			if ((a->off | a->size) & (page - 1))
				continue; /* KVM maps whole pages only */
			p = mmap(NULL, a->size, PROT_READ | PROT_WRITE,
				 MAP_SHARED, d->fd,
				 (off_t)(bar->offset + a->off));
			if (p == MAP_FAILED) {
				log_info(d->mach->log, d->name,
					 "BAR%u+0x%llx: mmap failed (%s); "
					 "accesses exit instead",
					 b, (unsigned long long)a->off,
					 strerror(errno));
				continue;
			}
			a->hva = p;
			d->bar_bytes_mapped += a->size;
		}
	}
	r = cfg_pwrite(d, &cmd, 2, PCI_COMMAND);
	if (r < 0) {
		log_err(d->mach->log, d->name, "enabling the device: %s",
			strerror(-r));
		return r;
	}
	r = intx_setup(d, intx_gsi);
	if (r < 0)
		return r;
	d->fn.bar_access = vfio_bar_access;
	d->fn.bars_changed = vfio_bars_changed;
	d->fn.config_read_hook = vfio_config_read_hook;
	d->fn.config_written = vfio_config_written;
	d->fn.opaque = d;
	d->bar_map_ns += machine_now_ns() - t0;
	return 0;
}

void vfio_dev_close(struct vfio_dev *d)
{
	if (d->fd >= 0) {
		if (d->msix_nvfio)
			(void)!set_irqs(d, VFIO_PCI_MSIX_IRQ_INDEX, 0, 0, NULL);
		if (d->msi_nvec)
			(void)!set_irqs(d, VFIO_PCI_MSI_IRQ_INDEX, 0, 0, NULL);
		intx_disable(d);
	}
	if (d->intx_efd >= 0)
		close(d->intx_efd);
	if (d->intx_resample_fd >= 0)
		close(d->intx_resample_fd);
	d->intx_efd = d->intx_resample_fd = -1;
	d->intx = false;
	for (unsigned int v = 0; d->msix_vec && v < d->sh.msix.table_size; v++)
		vec_free(d, &d->msix_vec[v]);
	for (unsigned int i = 0; i < 32; i++)
		vec_free(d, &d->msi_vec[i]);
	for (unsigned int b = 0; b < 6; b++) {
		for (unsigned int i = 0; i < d->bar[b].nareas; i++) {
			struct vfio_area *a = &d->bar[b].area[i];

			if (a->dma)
				(void)!d->iommu->ops->unmap(d->iommu, a->gpa,
							    a->size);
			a->dma = false;
			if (a->slot >= 0)
				d->mach->ops->memslot_del(d->mach, a->slot);
			if (a->hva)
				munmap(a->hva, a->size);
			a->slot = -1;
			a->hva = NULL;
		}
	}
	if (d->fd >= 0) {
		if (d->resettable && xioctl(d->fd, VFIO_DEVICE_RESET, NULL) < 0)
			log_warn(d->mach->log, d->name,
				 "reset at release failed");
		d->iommu->ops->detach(d->iommu, d->fd);
		d->fd = -1;
	}
	free(d->msix_table);
	free(d->msix_vec);
	d->msix_table = NULL;
	d->msix_vec = NULL;
}
