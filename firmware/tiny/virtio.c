/* virtio.c: the tiny guest's virtio PCI driver, and mode "virtio": drives virtio-rng through the transport with a polled split ring. */
#include "virtio.h"

#define VIRTIO_VENDOR	  0x1af4
#define VIRTIO_RNG_DEVICE 0x1044
#define CAP_VNDR	  0x09
#define COMMON		  1
#define NOTIFY		  2
#define DEVICE		  4
#define PCI_CFG		  5
/* Polls of the used ring before giving up: seconds on an emulating host. */
#define SPIN_MAX 50000000ul

static uint64_t rd64(const volatile void *p)
{
	return *(const volatile uint64_t *)p;
}

static uint32_t rd32(const volatile void *p)
{
	return *(const volatile uint32_t *)p;
}

bool vcheck(struct vdev *v, bool ok, const char *what)
{
	if (!ok) {
		puts_uart("TINY: ");
		puts_uart(v->mode);
		puts_uart(" FAIL ");
		puts_uart(what);
		puts_uart("\n");
		v->fail = true;
	}
	return ok;
}

static const uint8_t *acpi_table(uint64_t rsdp, const char *sig)
{
	const uint8_t *xsdt = (const uint8_t *)rd64((const uint8_t *)rsdp + 24);
	uint32_t n = (rd32(xsdt + 4) - 36) / 8;

	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *t = (const uint8_t *)rd64(xsdt + 36 + i * 8);

		if (!tiny_memcmp(t, sig, 4))
			return t;
	}
	return 0;
}

bool virtio_find(struct vdev *v, uint64_t rsdp, uint16_t id)
{
	const uint8_t *mcfg = acpi_table(rsdp, "MCFG");
	volatile uint8_t *ecam, *cfg = 0;
	uint64_t bar;

	if (!vcheck(v, mcfg, "no MCFG"))
		return false;
	ecam = (volatile uint8_t *)rd64(mcfg + 44);
	/* Each device sits behind a root port: scan the buses. */
	for (unsigned int bus = mcfg[54]; bus <= mcfg[55] && !cfg; bus++) {
		volatile uint8_t *c = ecam + ((uint64_t)bus << 20);

		if (*(volatile uint16_t *)c == VIRTIO_VENDOR &&
		    *(volatile uint16_t *)(c + 2) == id)
			cfg = c;
	}
	if (!vcheck(v, cfg, "no such virtio function"))
		return false;
	v->cfg = cfg;
	bar = *(volatile uint32_t *)(cfg + 0x10) & ~0xfull;
	for (unsigned int cap = cfg[0x34]; cap; cap = cfg[cap + 1]) {
		volatile uint8_t *at;

		if (cfg[cap] != CAP_VNDR)
			continue;
		at = (volatile uint8_t *)(bar + rd32(cfg + cap + 8));
		if (cfg[cap + 3] == COMMON)
			v->common = at;
		if (cfg[cap + 3] == NOTIFY) {
			v->notify = at;
			v->notify_mult = rd32(cfg + cap + 16);
		}
		if (cfg[cap + 3] == DEVICE)
			v->device = at;
		if (cfg[cap + 3] == PCI_CFG)
			v->cfgcap = cap;
	}
	return vcheck(v, v->common && v->notify && v->cfgcap,
		      "missing virtio capabilities");
}

void virtio_driver(struct vdev *v, uint64_t features)
{
	COMMON8(v, STATUS) = 0;
	COMMON8(v, STATUS) = S_ACK | S_DRIVER;
	COMMON32(v, DFSELECT) = 1;
	vcheck(v, COMMON32(v, DF) & (F_VERSION_1 >> 32),
	       "VERSION_1 not offered");
	COMMON32(v, GFSELECT) = 0;
	COMMON32(v, GF) = (uint32_t)features;
	COMMON32(v, GFSELECT) = 1;
	COMMON32(v, GF) = (uint32_t)(features >> 32);
}

bool virtio_features(struct vdev *v, uint64_t features)
{
	virtio_driver(v, features);
	COMMON8(v, STATUS) = S_ACK | S_DRIVER | S_FEATURES_OK;
	return COMMON8(v, STATUS) & S_FEATURES_OK;
}

void vq_setup(struct vdev *v, struct vq *q, uint16_t index)
{
	q->avail.idx = 0;
	q->used.idx = 0;
	q->index = index;
	COMMON16(v, QSELECT) = index;
	COMMON16(v, QSIZE) = VQ_SIZE;
	vcheck(v, COMMON16(v, QSIZE) == VQ_SIZE, "queue size not taken");
	q->notify = (volatile uint16_t *)(v->notify +
					  COMMON16(v, QNOFF) * v->notify_mult);
	COMMON64(v, QDESC) = (uint64_t)q->desc;
	COMMON64(v, QAVAIL) = (uint64_t)&q->avail;
	COMMON64(v, QUSED) = (uint64_t)&q->used;
	COMMON16(v, QENABLE) = 1;
}

void vq_post(struct vq *q, uint16_t head)
{
	q->avail.ring[q->avail.idx % VQ_SIZE] = head;
	__asm__ volatile("" ::: "memory");
	q->avail.idx++;
}

void vq_kick(struct vq *q)
{
	__asm__ volatile("mfence" ::: "memory");
	*q->notify = q->index;
}

bool vq_wait_all(struct vq *q)
{
	for (unsigned long spin = 0; spin < SPIN_MAX; spin++) {
		if (*(volatile uint16_t *)&q->used.idx == q->avail.idx)
			break;
		__asm__ volatile("pause");
	}
	__asm__ volatile("" ::: "memory");
	return q->used.idx == q->avail.idx;
}

static struct vq rng_q;
static uint8_t rng_buf[64];

void tiny_virtio(uint64_t rsdp)
{
	struct vdev v = {.mode = "virtio"};
	volatile uint8_t *cfg;
	unsigned int cfgcap;

	if (!virtio_find(&v, rsdp, VIRTIO_RNG_DEVICE))
		return;
	cfg = v.cfg;
	cfgcap = v.cfgcap;
	vcheck(&v, COMMON16(&v, NUMQ) == 1, "num_queues != 1");

	/* An unoffered feature (bit 63) must be refused. */
	vcheck(&v, !virtio_features(&v, F_VERSION_1 | 1ull << 63),
	       "unoffered feature accepted");
	virtio_driver(&v, F_VERSION_1);
	/* Set FEATURES_OK through the PCI config window, read it back
	 * through the BAR. */
	cfg[cfgcap + 4] = 0;
	*(volatile uint32_t *)(cfg + cfgcap + 8) = STATUS;
	*(volatile uint32_t *)(cfg + cfgcap + 12) = 1;
	cfg[cfgcap + 16] = S_ACK | S_DRIVER | S_FEATURES_OK;
	vcheck(&v, COMMON8(&v, STATUS) & S_FEATURES_OK, "config window write");
	vcheck(&v, cfg[cfgcap + 16] == (S_ACK | S_DRIVER | S_FEATURES_OK),
	       "config window read");

	vq_setup(&v, &rng_q, 0);
	COMMON8(&v, STATUS) = S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK;

	rng_q.desc[0].addr = (uint64_t)rng_buf;
	rng_q.desc[0].len = sizeof(rng_buf);
	rng_q.desc[0].flags = VQ_F_WRITE;
	vq_post(&rng_q, 0);
	vq_kick(&rng_q);
	vcheck(&v, vq_wait_all(&rng_q), "no used entry");
	vcheck(&v,
	       rng_q.used.ring[0].id == 0 &&
		       rng_q.used.ring[0].len == sizeof(rng_buf),
	       "used entry");
	{
		unsigned int nonzero = 0;

		for (unsigned int i = 0; i < sizeof(rng_buf); i++)
			nonzero += rng_buf[i] != 0;
		vcheck(&v, nonzero > 32, "buffer not filled with random bytes");
	}
	COMMON8(&v, STATUS) = 0; /* reset */
	vcheck(&v, COMMON8(&v, STATUS) == 0, "reset");
	puts_uart(v.fail ? "TINY: virtio FAIL\n" : "TINY: virtio ok\n");
}
