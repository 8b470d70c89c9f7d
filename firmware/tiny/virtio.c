/* virtio.c: tiny guest mode "virtio": drives virtio-rng through the PCI transport with a polled split ring. */
#include "tiny.h"

#define VIRTIO_VENDOR	  0x1af4
#define VIRTIO_RNG_DEVICE 0x1044
#define CAP_VNDR	  0x09
#define COMMON		  1
#define NOTIFY		  2
#define PCI_CFG		  5

/* Common configuration registers (virtio 1.x, 4.1.4.3). */
#define DFSELECT 0x00
#define DF	 0x04
#define GFSELECT 0x08
#define GF	 0x0c
#define NUMQ	 0x12
#define STATUS	 0x14
#define QSELECT	 0x16
#define QSIZE	 0x18
#define QENABLE	 0x1c
#define QNOFF	 0x1e
#define QDESC	 0x20
#define QAVAIL	 0x28
#define QUSED	 0x30

#define S_ACK	      1
#define S_DRIVER      2
#define S_DRIVER_OK   4
#define S_FEATURES_OK 8

#define QSZ 8

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

static struct desc ring_desc[QSZ] __attribute__((aligned(16)));
static struct {
	uint16_t flags, idx, ring[QSZ], used_event;
} ring_avail __attribute__((aligned(2)));
static struct {
	uint16_t flags, idx;
	struct {
		uint32_t id, len;
	} ring[QSZ];
	uint16_t avail_event;
} ring_used __attribute__((aligned(4)));
static uint8_t rng_buf[64];

static uint64_t rd64(const volatile void *p)
{
	return *(const volatile uint64_t *)p;
}

static uint32_t rd32(const volatile void *p)
{
	return *(const volatile uint32_t *)p;
}

static bool vfail;

static void vcheck(bool ok, const char *what)
{
	if (!ok) {
		puts_uart("TINY: virtio FAIL ");
		puts_uart(what);
		puts_uart("\n");
		vfail = true;
	}
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

void tiny_virtio(uint64_t rsdp)
{
	const uint8_t *mcfg = acpi_table(rsdp, "MCFG");
	volatile uint8_t *ecam, *cfg = 0, *common = 0, *notify = 0;
	unsigned int cap, cfgcap = 0, notify_mult = 0, bus_first;
	uint64_t bar;
	uint16_t noff, used_before;
	bool found = false;

	if (!mcfg) {
		puts_uart("TINY: virtio FAIL no MCFG\n");
		return;
	}
	ecam = (volatile uint8_t *)rd64(mcfg + 44);
	bus_first = mcfg[54];
	/* The device sits behind a root port: scan the buses. */
	for (unsigned int bus = bus_first; bus <= mcfg[55] && !found; bus++) {
		volatile uint8_t *c = ecam + ((uint64_t)bus << 20);

		if (*(volatile uint16_t *)c == VIRTIO_VENDOR &&
		    *(volatile uint16_t *)(c + 2) == VIRTIO_RNG_DEVICE) {
			cfg = c;
			found = true;
		}
	}
	vcheck(found, "no virtio-rng function");
	if (!found)
		return;
	bar = *(volatile uint32_t *)(cfg + 0x10) & ~0xfull;
	for (cap = cfg[0x34]; cap; cap = cfg[cap + 1]) {
		if (cfg[cap] != CAP_VNDR)
			continue;
		if (cfg[cap + 3] == COMMON)
			common =
				(volatile uint8_t *)(bar + rd32(cfg + cap + 8));
		if (cfg[cap + 3] == NOTIFY) {
			notify =
				(volatile uint8_t *)(bar + rd32(cfg + cap + 8));
			notify_mult = rd32(cfg + cap + 16);
		}
		if (cfg[cap + 3] == PCI_CFG)
			cfgcap = cap;
	}
	vcheck(common && notify && cfgcap, "missing virtio capabilities");
	if (!common || !notify || !cfgcap)
		return;
	vcheck(*(volatile uint16_t *)(common + NUMQ) == 1, "num_queues != 1");

	/* Reset, then negotiate: an unoffered feature must be refused. */
	common[STATUS] = 0;
	common[STATUS] = S_ACK | S_DRIVER;
	*(volatile uint32_t *)(common + DFSELECT) = 1;
	vcheck(*(volatile uint32_t *)(common + DF) & 1,
	       "VERSION_1 not offered");
	*(volatile uint32_t *)(common + GFSELECT) = 1;
	*(volatile uint32_t *)(common + GF) = 1 | 0x80000000u; /* bit 63 */
	common[STATUS] = S_ACK | S_DRIVER | S_FEATURES_OK;
	vcheck(!(common[STATUS] & S_FEATURES_OK), "unoffered feature accepted");
	common[STATUS] = 0;
	common[STATUS] = S_ACK | S_DRIVER;
	*(volatile uint32_t *)(common + GFSELECT) = 0;
	*(volatile uint32_t *)(common + GF) = 0;
	*(volatile uint32_t *)(common + GFSELECT) = 1;
	*(volatile uint32_t *)(common + GF) = 1; /* VERSION_1 only */
	/* Set FEATURES_OK through the PCI config window, read it back
	 * through the BAR. */
	cfg[cfgcap + 4] = 0;
	*(volatile uint32_t *)(cfg + cfgcap + 8) = STATUS;
	*(volatile uint32_t *)(cfg + cfgcap + 12) = 1;
	cfg[cfgcap + 16] = S_ACK | S_DRIVER | S_FEATURES_OK;
	vcheck(common[STATUS] & S_FEATURES_OK, "config window write");
	vcheck(cfg[cfgcap + 16] == (S_ACK | S_DRIVER | S_FEATURES_OK),
	       "config window read");

	/* One queue of QSZ entries in our own memory; no interrupts. */
	*(volatile uint16_t *)(common + QSELECT) = 0;
	*(volatile uint16_t *)(common + QSIZE) = QSZ;
	noff = *(volatile uint16_t *)(common + QNOFF);
	*(volatile uint64_t *)(common + QDESC) = (uint64_t)ring_desc;
	*(volatile uint64_t *)(common + QAVAIL) = (uint64_t)&ring_avail;
	*(volatile uint64_t *)(common + QUSED) = (uint64_t)&ring_used;
	*(volatile uint16_t *)(common + QENABLE) = 1;
	common[STATUS] = S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK;

	ring_desc[0].addr = (uint64_t)rng_buf;
	ring_desc[0].len = sizeof(rng_buf);
	ring_desc[0].flags = 2; /* device-writable */
	ring_avail.ring[0] = 0;
	used_before = ring_used.idx;
	__asm__ volatile("" ::: "memory");
	ring_avail.idx = 1;
	__asm__ volatile("mfence" ::: "memory");
	*(volatile uint16_t *)(notify + noff * notify_mult) = 0; /* kick */
	for (unsigned long spin = 0; spin < 50000000ul; spin++) {
		if (*(volatile uint16_t *)&ring_used.idx != used_before)
			break;
		__asm__ volatile("pause");
	}
	vcheck(ring_used.idx == (uint16_t)(used_before + 1), "no used entry");
	vcheck(ring_used.ring[0].id == 0 &&
		       ring_used.ring[0].len == sizeof(rng_buf),
	       "used entry");
	{
		unsigned int nonzero = 0;

		for (unsigned int i = 0; i < sizeof(rng_buf); i++)
			nonzero += rng_buf[i] != 0;
		vcheck(nonzero > 32, "buffer not filled with random bytes");
	}
	common[STATUS] = 0; /* reset */
	vcheck(common[STATUS] == 0, "reset");
	puts_uart(vfail ? "TINY: virtio FAIL\n" : "TINY: virtio ok\n");
}
