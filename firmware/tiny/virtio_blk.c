/* virtio_blk.c: tiny guest mode "virtio-blk": four reads in flight from one kick, a write and a flush, and a malformed chain that breaks only the queue. */
#include "virtio.h"

#define VIRTIO_BLK_DEVICE  0x1042
#define VIRTIO_BLK_F_FLUSH (1ull << 9)
#define VIRTIO_BLK_F_RO	   5
#define T_IN		   0
#define T_OUT		   1
#define T_FLUSH		   4
#define BLK_S_OK	   0
#define BLK_S_IOERR	   1
#define SECTOR_WORDS	   128 /* 512 bytes */
#define NREAD		   4
/* The sector the guest writes; tests/kvm/run.sh looks for it in the image. */
#define WRITE_SECTOR 2
/* Guest-physical, and RAM on no layout the VMM makes. */
#define NOT_RAM 0xfff00000000ull
/* Status reads (each an exit) while waiting for DEVICE_NEEDS_RESET. */
#define STATUS_POLLS 100000

/* Slot i: descriptor 3i the header, 3i + 1 the data, 3i + 2 the status. */
#define NSLOTS (VQ_SIZE / 3)

static struct vq q;
static struct {
	uint32_t type, reserved;
	uint64_t sector;
} hdr[NSLOTS];
static uint8_t status[NSLOTS];
static uint32_t buf[NSLOTS][SECTOR_WORDS];

/* Word k of sector s as tests/kvm/run.sh fills the image. */
static uint32_t disk_word(uint64_t s, unsigned int k)
{
	return (uint32_t)s << 16 | k;
}

/* Whether slot i's buffer holds sector s, each word XORed with x. */
static bool sector_is(unsigned int i, uint64_t s, uint32_t x)
{
	for (unsigned int k = 0; k < SECTOR_WORDS; k++)
		if (buf[i][k] != (disk_word(s, k) ^ x))
			return false;
	return true;
}

/* Post a request in slot i: header, 512 data bytes at addr (if any), status. */
static void blk_post(unsigned int i, uint32_t type, uint64_t sector,
		     uint64_t addr)
{
	struct vq_desc *d = &q.desc[3 * i];
	uint16_t head = (uint16_t)(3 * i);

	hdr[i].type = type;
	hdr[i].reserved = 0;
	hdr[i].sector = sector;
	status[i] = 0xff;
	d[0].addr = (uint64_t)&hdr[i];
	d[0].len = sizeof(hdr[i]);
	d[0].flags = VQ_F_NEXT;
	d[0].next = addr ? head + 1 : head + 2;
	d[1].addr = addr;
	d[1].len = sizeof(buf[i]);
	d[1].flags = VQ_F_NEXT | (type == T_OUT ? 0 : VQ_F_WRITE);
	d[1].next = head + 2;
	d[2].addr = (uint64_t)&status[i];
	d[2].len = 1;
	d[2].flags = VQ_F_WRITE;
	vq_post(&q, head);
}

/* One request on its own: post, kick, wait; its status byte. */
static uint8_t blk_do(struct vdev *v, unsigned int i, uint32_t type,
		      uint64_t sector, uint64_t addr)
{
	uint32_t len = 1; /* the status byte, and the data of a good read */

	blk_post(i, type, sector, addr);
	vq_kick(&q);
	if (vcheck(v, vq_wait_all(&q), "request not answered")) {
		uint16_t last = (uint16_t)(q.used.idx - 1) % VQ_SIZE;

		if (type == T_IN && status[i] == BLK_S_OK)
			len += sizeof(buf[i]);
		vcheck(v,
		       q.used.ring[last].id == 3 * i &&
			       q.used.ring[last].len == len,
		       "used entry");
	}
	return status[i];
}

/* Negotiate, set up the queue, DRIVER_OK. */
static bool blk_start(struct vdev *v)
{
	if (!vcheck(v, virtio_features(v, F_VERSION_1 | VIRTIO_BLK_F_FLUSH),
		    "features refused"))
		return false;
	vq_setup(v, &q, 0);
	COMMON8(v, STATUS) = S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK;
	return vcheck(v,
		      COMMON8(v, STATUS) ==
			      (S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK),
		      "DRIVER_OK");
}

/* On a fresh queue: four reads posted, then one kick; every answer checked. */
static void blk_reads(struct vdev *v, uint64_t cap)
{
	const uint64_t sectors[NREAD] = {cap - 1, 0, cap / 2, 3};
	unsigned int seen = 0;

	for (unsigned int i = 0; i < NREAD; i++)
		blk_post(i, T_IN, sectors[i], (uint64_t)buf[i]);
	vq_kick(&q);
	if (!vcheck(v, vq_wait_all(&q), "reads not all answered"))
		return;
	for (unsigned int j = 0; j < NREAD; j++) {
		uint32_t id = q.used.ring[j].id;
		bool ok = id % 3 == 0 && id / 3 < NREAD &&
			  !(seen >> id / 3 & 1) &&
			  q.used.ring[j].len == sizeof(buf[0]) + 1;

		if (vcheck(v, ok, "used entry of a read"))
			seen |= 1u << id / 3;
	}
	for (unsigned int i = 0; i < NREAD; i++) {
		vcheck(v, status[i] == BLK_S_OK, "read status");
		vcheck(v, sector_is(i, sectors[i], 0), "read data");
	}
}

/*
 * A read past the end is answered IOERR. A data buffer outside guest RAM
 * makes the device refuse the chain, use nothing and set
 * DEVICE_NEEDS_RESET; a reset brings it back.
 */
static void blk_malformed(struct vdev *v, uint64_t cap)
{
	uint16_t used;
	unsigned int n;

	vcheck(v, blk_do(v, 3, T_IN, cap, (uint64_t)buf[3]) == BLK_S_IOERR,
	       "read past the end not IOERR");
	used = q.used.idx;
	blk_post(3, T_IN, 0, NOT_RAM);
	vq_kick(&q);
	for (n = 0; n < STATUS_POLLS; n++)
		if (COMMON8(v, STATUS) & S_NEEDS_RESET)
			break;
	vcheck(v, n < STATUS_POLLS, "no DEVICE_NEEDS_RESET");
	vcheck(v, q.used.idx == used && status[3] == 0xff,
	       "malformed chain used");
	COMMON8(v, STATUS) = 0;
	vcheck(v, COMMON8(v, STATUS) == 0, "reset");
	if (blk_start(v)) {
		vcheck(v, blk_do(v, 0, T_IN, 1, (uint64_t)buf[0]) == BLK_S_OK,
		       "read after reset");
		vcheck(v, sector_is(0, 1, 0), "data after reset");
	}
}

void tiny_virtio_blk(uint64_t rsdp, bool ro)
{
	struct vdev v = {.mode = "virtio-blk"};
	uint64_t cap;
	uint8_t st;

	if (!virtio_find(&v, rsdp, VIRTIO_BLK_DEVICE) ||
	    !vcheck(&v, v.device, "no device config capability"))
		goto out;
	COMMON32(&v, DFSELECT) = 0;
	vcheck(&v, !(COMMON32(&v, DF) >> VIRTIO_BLK_F_RO & 1) == !ro,
	       "RO feature offered or not as tiny.ro says");
	if (!blk_start(&v))
		goto out;
	cap = *(volatile uint64_t *)v.device;
	puts_uart("TINY: virtio-blk capacity ");
	put_dec(cap);
	puts_uart("\n");
	/* Sector numbers must fit the image's 16-bit pattern. */
	if (!vcheck(&v, cap >= 8 && cap <= 0x10000, "capacity"))
		goto out;

	blk_reads(&v, cap);

	for (unsigned int k = 0; k < SECTOR_WORDS; k++)
		buf[0][k] = ~disk_word(WRITE_SECTOR, k);
	st = blk_do(&v, 0, T_OUT, WRITE_SECTOR, (uint64_t)buf[0]);
	vcheck(&v, st == (ro ? BLK_S_IOERR : BLK_S_OK), "write status");
	vcheck(&v, blk_do(&v, 1, T_FLUSH, 0, 0) == BLK_S_OK, "flush status");
	st = blk_do(&v, 2, T_IN, WRITE_SECTOR, (uint64_t)buf[2]);
	vcheck(&v, st == BLK_S_OK && sector_is(2, WRITE_SECTOR, ro ? 0 : ~0u),
	       "read back");

	blk_malformed(&v, cap);
out:
	puts_uart(v.fail ? "TINY: virtio-blk FAIL\n" : "TINY: virtio-blk ok\n");
}
