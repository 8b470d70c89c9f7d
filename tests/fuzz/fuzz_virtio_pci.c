/* fuzz_virtio_pci.c: libFuzzer target: random accesses to the virtio-pci BAR (common config, ISR, device config, notify, MSI-X) and config space of a virtio-rng on a fake machine with 64 KiB of guest RAM. */
#include <errno.h>
#include <linux/pci_regs.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "devices/pci/host.h"
#include "devices/virtio/devices.h"
#include "devices/virtio/virtio.h"
#include "tests/fuzz/fake_machine.h"
#include "tests/fuzz/fuzz.h"
#include "vmm/evloop.h"

/*
 * Input: ops, each an opcode byte and its fields:
 *   0-3: BAR0 write: u16 offset (% 0x8000; opcode bit 2 set: within the
 *        common config), u8 length, u64 value
 *   4:   BAR0 read: u16 offset, u8 length
 *   5:   config space write through ECAM: u8 register (the header, and
 *        the capabilities: MSI-X control, the VIRTIO_PCI_CAP_PCI_CFG
 *        window), u8 length, u32 value
 *   6:   guest RAM write: u16 address, u8 n, n bytes (rings, buffers)
 *   7:   run the queue kicks the device was sent, as the event loop does
 * Queue addresses are whatever the guest wrote: RAM is 64 KiB at 0, so
 * most are outside it and must never be dereferenced (ASan would tell:
 * the RAM is a mapping of exactly its size and the BAR is far from it).
 */
#define FZ_ECAM	   0xe0000000ull
#define FZ_RAM	   (64u << 10)
#define FZ_MAX_OPS 1024

static const unsigned int lens[8] = {1, 2, 4, 8, 1, 2, 4, 3};

static struct fake_machine fm;
static struct pci_plan plan;

static void check_dev(const struct virtio_dev *d, struct guest_mem *mem)
{
	const struct bus_range *r;

	fake_machine_check_bus(&fm.mmio);
	for (unsigned int i = 0; i < d->ops->nqueues; i++) {
		const struct virtio_queue *q = &d->q[i];
		uint64_t n = q->vq.size;

		FZ_CHECK(q->size && q->size <= d->ops->queue_max &&
			 !(q->size & (q->size - 1)));
		FZ_CHECK(q->msix_vector == VIRTIO_MSI_NO_VECTOR ||
			 q->msix_vector < d->nvectors);
		if (!q->live)
			continue;
		/* A live queue's rings lie inside guest RAM. */
		FZ_CHECK(n && guest_mem_ptr(mem, q->vq.desc_gpa, 16 * n) &&
			 guest_mem_ptr(mem, q->vq.avail_gpa, 6 + 2 * n) &&
			 guest_mem_ptr(mem, q->vq.used_gpa, 6 + 8 * n));
	}
	FZ_CHECK(d->msix_config == VIRTIO_MSI_NO_VECTOR ||
		 d->msix_config < d->nvectors);
	/* Features only as offered once FEATURES_OK stuck. */
	if (d->status & VIRTIO_CONFIG_S_FEATURES_OK)
		FZ_CHECK(!(d->driver_features & ~d->device_features));
	FZ_CHECK(fm.irqfds == d->nvectors);
	/* One ioeventfd per queue while BAR0 decodes, none otherwise. */
	r = d->fn.mapped[0] ? bus_find(&fm.mmio, d->fn.mapped[0]) : NULL;
	FZ_CHECK(!d->fn.mapped[0] || (r && r->base == d->fn.mapped[0] &&
				      r->len == VIRTIO_BAR_SIZE));
	FZ_CHECK(fm.ioeventfds == (d->fn.mapped[0] ? d->ops->nqueues : 0));
}

static void run_kicks(struct virtio_dev *d)
{
	for (unsigned int i = 0; i < d->ops->nqueues; i++) {
		uint64_t v;

		if (read(d->q[i].kick_fd, &v, sizeof(v)) == sizeof(v) &&
		    d->ops->queue_notify)
			d->ops->queue_notify(d, i);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = {data, size};
	struct mem_region layout = {0, FZ_RAM, NULL};
	struct pci_plan_input pi;
	struct guest_mem mem;
	struct pci_host *h = NULL;
	struct evloop *loop;
	struct virtio_dev *d;
	uint64_t bar, cfg;
	char err[256];

	fake_machine_init(&fm);
	if (evloop_create(&loop, &fm.log) < 0)
		abort();
	if (guest_mem_create(&mem, &layout, 1, GUEST_MEM_ANON) < 0)
		abort();
	fm.m.mem = &mem;
	fm.m.loop = loop;
	FZ_CHECK(virtio_rng_add(&fm.m) == 0);
	pci_plan_input_init(&pi);
	pi.devs = &fm.devs.slot[0].req;
	pi.ndevs = 1;
	FZ_CHECK(pci_plan_build(&pi, &plan, err, sizeof(err)) == 0);
	FZ_CHECK(pci_host_create(&fm.m, &plan, &fm.devs, FZ_ECAM, &h) == 0);
	d = fm.devs.slot[0].priv; /* struct virtio_rng starts with it */
	bar = plan.dev[0].bar[0].addr;
	cfg = FZ_ECAM + ((uint64_t)plan.dev[0].bus << 20);
	check_dev(d, &mem);

	for (unsigned int i = 0; i < FZ_MAX_OPS && in.left; i++) {
		uint8_t op = fz_u8(&in) % 8, buf[8] = {0};
		uint64_t off, v;
		unsigned int len;

		switch (op) {
		case 0:
		case 1:
		case 2:
		case 3:
		case 4:
			off = fz_u16(&in) % VIRTIO_BAR_SIZE;
			if (op & 1)
				off %= VIRTIO_COMMON_SIZE;
			len = lens[fz_u8(&in) % 8];
			v = op == 4 ? 0 : fz_u64(&in);
			memcpy(buf, &v, 8);
			/* Through the bus, as a vCPU's exit would come. */
			(void)bus_access(&fm.mmio, bar + off, buf, len,
					 op != 4);
			break;
		case 5: {
			/* The header too: decode, BAR moves, ioeventfds. */
			unsigned int reg = fz_u8(&in);

			len = lens[fz_u8(&in) % 8];
			v = fz_u32(&in);
			memcpy(buf, &v, 4);
			(void)bus_access(&fm.mmio, cfg + (reg & ~(len - 1)),
					 buf, len, true);
			break;
		}
		case 6: {
			uint64_t gpa = fz_u16(&in);
			unsigned int n = fz_u8(&in);
			uint8_t tmp[256];

			for (unsigned int j = 0; j < n; j++)
				tmp[j] = fz_u8(&in);
			if (gpa + n <= FZ_RAM)
				FZ_CHECK(guest_mem_write(&mem, gpa, tmp, n) ==
					 0);
			break;
		}
		case 7:
			run_kicks(d);
			break;
		}
		check_dev(d, &mem);
	}
#ifdef FZ_DEBUG
	fprintf(stderr, "live %d used idx %u status 0x%x\n", d->q[0].live,
		d->q[0].vq.used_idx, d->status);
#endif
	pci_host_destroy(h);
	fake_machine_fini(&fm);
	evloop_destroy(loop);
	guest_mem_destroy(&mem, false);
	return 0;
}
