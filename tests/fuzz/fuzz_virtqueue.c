/* fuzz_virtqueue.c: libFuzzer target: virtqueue rounds on input-made RAM, each popped request also checked as a virtio-blk one. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include <linux/virtio_blk.h>

#include "devices/virtio/blk.h"
#include "devices/virtio/virtqueue.h"

/*
 * Input layout (little endian), then guest RAM bytes:
 *   0  u8  size: bit 7 set: size_raw below, else 1 << (bits 0-3)
 *   1  u8  flags: FZ_F_*
 *   2  u16 size_raw
 *   4  u32 desc, 8 u32 avail, 12 u32 used: ring offsets from the RAM base
 *   16 u16 last_avail, 18 u16 used_idx: where both sides start
 *   20 u32 split: bytes of RAM in region 0 (modulo the RAM size + 1)
 *   24 u32 gap: guest-physical hole between region 0 and region 1
 *   28 u16 base: guest-physical base of region 0, in 16-byte units
 *   30 u8  rounds: pop/push rounds (capped)
 *   31 u8  blk: bit 0 read-only; bits 1-7 n: a disk of 2^(n % 48) sectors
 *          (n = 0: 1024) for the virtio-blk check of each request
 *   32 u32 ram_size: with FZ_F_CHAIN, the RAM bytes are zero-padded up
 *          to this (modulo FZ_MAX_PAD)
 *   36 u16 chain_n: with FZ_F_CHAIN, a linear chain of this many
 *          descriptors is written at desc[0] and made available (long
 *          chains are out of reach of mutation alone)
 *   38 u16 chain_write: descriptors from this one on are device-writable
 *   40 u32 chain_addr: the first buffer, as an offset from the RAM base
 *   44 u16 chain_len, 46 u16 chain_stride: buffer length and spacing
 */
#define FZ_HDR	      48
#define FZ_MAX_RAM    (1u << 20)
#define FZ_MAX_ROUNDS 64
#define FZ_MAX_PAD    (96u << 10) /* RAM size with ram_size padding */

#define FZ_F_EVENT_IDX	 0x01 /* negotiate VIRTIO_RING_F_EVENT_IDX */
#define FZ_F_INDIRECT	 0x02 /* negotiate VIRTIO_RING_F_INDIRECT_DESC */
#define FZ_F_TWO_REGIONS 0x04 /* RAM split in two regions */
#define FZ_F_WRITE_IN	 0x08 /* the device writes the device-writable iovecs */
#define FZ_F_HIGH	 0x10 /* RAM ends at the top of the address space */
#define FZ_F_ALL_FEAT	 0x20 /* every feature bit set */
#define FZ_F_CHAIN	 0x40 /* write the synthetic chain (see above) */

#define FZ_CHECK(c)                                                          \
	do {                                                                 \
		if (!(c)) {                                                  \
			fprintf(stderr,                                      \
				"fuzz_virtqueue: %s:%d: check failed: %s\n", \
				__FILE__, __LINE__, #c);                     \
			abort();                                             \
		}                                                            \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint16_t fz_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t fz_get32(const uint8_t *p)
{
	return (uint32_t)fz_get16(p) | (uint32_t)fz_get16(p + 2) << 16;
}

static void fz_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void fz_put32(uint8_t *p, uint32_t v)
{
	fz_put16(p, (uint16_t)v);
	fz_put16(p + 2, (uint16_t)(v >> 16));
}

static void fz_put64(uint8_t *p, uint64_t v)
{
	fz_put32(p, (uint32_t)v);
	fz_put32(p + 4, (uint32_t)(v >> 32));
}

/* Write `len` bytes at `gpa` if all of it is RAM (the driver's view). */
static void fz_poke(const struct guest_mem *mem, uint64_t gpa, const void *src,
		    size_t len)
{
	void *p = guest_mem_ptr(mem, gpa, len);

	if (p)
		memcpy(p, src, len);
}

/* The synthetic driver: chain 0 -> 1 -> ... -> n-1, made available. */
static void fz_chain(const struct guest_mem *mem, const uint8_t *hdr,
		     uint16_t qsize, uint64_t base, uint64_t desc,
		     uint64_t avail, uint16_t last_avail)
{
	uint32_t n = fz_get16(hdr + 36), wr = fz_get16(hdr + 38);
	uint64_t addr = base + fz_get32(hdr + 40);
	uint16_t len = fz_get16(hdr + 44), stride = fz_get16(hdr + 46);
	uint8_t d[16];

	if (!qsize)
		return;
	if (n > qsize)
		n = qsize;
	for (uint32_t i = 0; i < n; i++) {
		fz_put64(d, addr + (uint64_t)i * stride);
		fz_put32(d + 8, len);
		fz_put16(d + 12,
			 (uint16_t)((i + 1 < n ? VRING_DESC_F_NEXT : 0) |
				    (i >= wr ? VRING_DESC_F_WRITE : 0)));
		fz_put16(d + 14, (uint16_t)(i + 1));
		fz_poke(mem, desc + 16ull * i, d, 16);
	}
	fz_put16(d, 0);
	fz_poke(mem, avail + 4 + 2ull * (last_avail % qsize), d, 2);
	fz_put16(d, (uint16_t)(last_avail + 1));
	fz_poke(mem, avail + 2, d, 2);
}

/* True if [p, p+len) lies inside one region's host memory. */
static bool fz_in_ram(const struct guest_mem *mem, const void *p, size_t len)
{
	for (unsigned int i = 0; i < mem->nregions; i++) {
		uintptr_t lo = (uintptr_t)mem->regions[i].hva;
		uintptr_t b = (uintptr_t)p;

		if (b >= lo && b - lo <= mem->regions[i].size &&
		    len <= mem->regions[i].size - (b - lo))
			return true;
	}
	return false;
}

/* Every iovec in RAM, non-empty, and the totals add up. */
static void fz_check_elem(const struct virtq *q, const struct guest_mem *mem,
			  const struct virtq_elem *e)
{
	uint64_t out = 0, in = 0;

	FZ_CHECK(e->head < q->size);
	FZ_CHECK(e->nout + e->nin >= 1);
	FZ_CHECK(e->nout + e->nin <= VIRTQ_MAX_SEGS);
	for (unsigned int i = 0; i < e->nout + e->nin; i++) {
		FZ_CHECK(e->iov[i].len > 0);
		FZ_CHECK(fz_in_ram(mem, e->iov[i].base, e->iov[i].len));
		if (i < e->nout)
			out += e->iov[i].len;
		else
			in += e->iov[i].len;
	}
	FZ_CHECK(out == e->out_len);
	FZ_CHECK(in == e->in_len);
	FZ_CHECK(out + in <= 0xffffffffull);
}

/* Is [p, p+len) inside one of the element's iovecs? */
static bool fz_in_elem(const struct virtq_elem *e, unsigned int first,
		       unsigned int n, const void *p, size_t len)
{
	for (unsigned int i = first; i < first + n; i++) {
		const uint8_t *b = e->iov[i].base;

		if ((const uint8_t *)p >= b && len <= e->iov[i].len &&
		    (size_t)((const uint8_t *)p - b) <= e->iov[i].len - len)
			return true;
	}
	return false;
}

/*
 * The element as a virtio-blk request: whatever the guest wrote, the
 * verdict is one of the four, the status byte is the last writable byte,
 * and what is to be carried out lies inside the element and the disk.
 */
static void fz_check_blk(const struct virtq_elem *e, uint8_t blkbyte)
{
	static struct iovec data[VIRTQ_MAX_SEGS];
	const bool ro = blkbyte & 1;
	const uint64_t cap = blkbyte >> 1 ? 1ull << ((blkbyte >> 1) % 48) : 1024;
	const struct virtq_iov *last = &e->iov[e->nout + e->nin - 1];
	struct blk_request req;
	uint64_t sum = 0;
	int r = blk_parse_request(e, cap, ro, &req, data);

	FZ_CHECK(r == -EINVAL || r == VIRTIO_BLK_S_OK ||
		 r == VIRTIO_BLK_S_IOERR || r == VIRTIO_BLK_S_UNSUPP);
	if (r == -EINVAL) {
		FZ_CHECK(!e->nin);
		return;
	}
	FZ_CHECK(e->nin && req.status == (uint8_t *)last->base + last->len - 1);
	FZ_CHECK((r == VIRTIO_BLK_S_OK) == !req.why);
	if (r != VIRTIO_BLK_S_OK)
		return;
	FZ_CHECK(req.ndata <= VIRTQ_MAX_SEGS);
	for (unsigned int i = 0; i < req.ndata; i++) {
		bool in = req.type != VIRTIO_BLK_T_OUT;

		FZ_CHECK(data[i].iov_len > 0);
		/*
		 * Inside the element's buffers of the right direction. (Not
		 * "apart from the status byte": a guest may alias its own
		 * buffers; the lengths below keep the data to in_len - 1.)
		 */
		FZ_CHECK(fz_in_elem(e, in ? e->nout : 0, in ? e->nin : e->nout,
				    data[i].iov_base, data[i].iov_len));
		sum += data[i].iov_len;
	}
	FZ_CHECK(sum == req.data_len);
	switch (req.type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		FZ_CHECK(req.data_len % BLK_SECTOR_SIZE == 0);
		FZ_CHECK(req.sector <= cap &&
			 req.data_len / BLK_SECTOR_SIZE <= cap - req.sector);
		FZ_CHECK(req.type == VIRTIO_BLK_T_IN ?
				 req.data_len == e->in_len - 1 :
				 req.data_len == e->out_len - 16 && !ro);
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		FZ_CHECK(!ro && !req.data_len && e->in_len == 1);
		FZ_CHECK(req.num_sectors <= BLK_MAX_ZERO_SECTORS &&
			 req.sector <= cap && req.num_sectors <= cap - req.sector);
		FZ_CHECK(!(req.flags & ~(uint32_t)VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP));
		FZ_CHECK(req.type == VIRTIO_BLK_T_WRITE_ZEROES || !req.flags);
		break;
	case VIRTIO_BLK_T_FLUSH:
		FZ_CHECK(!req.data_len && e->in_len == 1 && e->out_len == 16);
		break;
	case VIRTIO_BLK_T_GET_ID:
		FZ_CHECK(req.data_len == e->in_len - 1);
		break;
	default:
		FZ_CHECK(!"a request type blk_parse_request does not know");
	}
}

/*
 * Touch the ends of every iovec (ASan checks them) and, for requests small
 * enough, copy all of it through the helpers devices use.
 */
static void fz_touch(const struct virtq_elem *e, bool write_in)
{
	uint8_t buf[4096];
	volatile uint8_t sink;
	size_t off = 0, n;

	for (unsigned int i = 0; i < e->nout + e->nin; i++) {
		uint8_t *p = e->iov[i].base;

		sink = p[0];
		sink = p[e->iov[i].len - 1];
		if (write_in && i >= e->nout)
			p[0] = p[e->iov[i].len - 1] = 0xa5;
	}
	(void)sink;
	if ((uint64_t)e->out_len + e->in_len > 0x2000)
		return;
	do {
		n = virtq_iov_to_buf(e->iov, e->nout, off, buf, sizeof(buf));
		off += n;
	} while (n == sizeof(buf));
	FZ_CHECK(off == e->out_len);
	if (!write_in)
		return;
	memset(buf, 0x5a, sizeof(buf));
	off = 0;
	do {
		n = virtq_buf_to_iov(e->iov + e->nout, e->nin, off, buf,
				     sizeof(buf));
		off += n;
	} while (n == sizeof(buf));
	FZ_CHECK(off == e->in_len);
}

/*
 * One input: requests popped (>= 0), -EIO if the queue ended up broken, or
 * the virtq_init() error.
 */
static int fz_run(const uint8_t *data, size_t size)
{
	struct guest_mem mem = {.fd = -1};
	uint8_t *ram, *snap[GUEST_MEM_MAX_REGIONS] = {NULL};
	struct virtq q;
	struct virtq_elem *elem;
	uint64_t features = 0, base, span, r1_gpa;
	uint64_t desc, avail, used;
	size_t ram_len, split;
	uint16_t qsize, last_avail, used_idx;
	unsigned int rounds;
	uint8_t flags, *used_host = NULL;
	size_t used_bytes = 0;
	char err[160];
	int ret, popped = 0;

	if (size <= FZ_HDR || size - FZ_HDR > FZ_MAX_RAM)
		return -EINVAL;
	flags = data[1];
	ram_len = size - FZ_HDR;
	if (flags & FZ_F_CHAIN && fz_get32(data + 32) % FZ_MAX_PAD > ram_len)
		ram_len = fz_get32(data + 32) % FZ_MAX_PAD;
	qsize = data[0] & 0x80 ? fz_get16(data + 2) : 1u << (data[0] & 0xf);
	last_avail = fz_get16(data + 16);
	used_idx = fz_get16(data + 18);
	split = flags & FZ_F_TWO_REGIONS ? fz_get32(data + 20) % (ram_len + 1)
					 : ram_len;
	rounds = data[30] % (FZ_MAX_ROUNDS + 1);
	if (flags & FZ_F_EVENT_IDX)
		features |= 1ull << VIRTIO_RING_F_EVENT_IDX;
	if (flags & FZ_F_INDIRECT)
		features |= 1ull << VIRTIO_RING_F_INDIRECT_DESC;
	if (flags & FZ_F_ALL_FEAT)
		features = ~0ull;

	/* Lay out one or two regions; none may wrap past 2^64. */
	span = split;
	if (ram_len > split)
		span += (uint64_t)fz_get32(data + 24) + (ram_len - split);
	base = (uint64_t)fz_get16(data + 28) << 4;
	if (flags & FZ_F_HIGH)
		base = (0 - span) & ~0xfull;
	r1_gpa = base + span - (ram_len - split);

	/* Exactly sized copies: ASan flags any access past them. */
	ram = calloc(1, ram_len);
	FZ_CHECK(ram);
	memcpy(ram, data + FZ_HDR, size - FZ_HDR);
	if (split) {
		mem.regions[mem.nregions].gpa = base;
		mem.regions[mem.nregions].size = split;
		mem.regions[mem.nregions].hva = malloc(split);
		FZ_CHECK(mem.regions[mem.nregions].hva);
		memcpy(mem.regions[mem.nregions].hva, ram, split);
		mem.nregions++;
	}
	if (ram_len > split) {
		mem.regions[mem.nregions].gpa = r1_gpa;
		mem.regions[mem.nregions].size = ram_len - split;
		mem.regions[mem.nregions].hva = malloc(ram_len - split);
		FZ_CHECK(mem.regions[mem.nregions].hva);
		memcpy(mem.regions[mem.nregions].hva, ram + split,
		       ram_len - split);
		mem.nregions++;
	}
	free(ram);

	desc = base + fz_get32(data + 4);
	avail = base + fz_get32(data + 8);
	used = base + fz_get32(data + 12);
	if (flags & FZ_F_CHAIN)
		fz_chain(&mem, data, qsize, base, desc, avail, last_avail);
	for (unsigned int i = 0; i < mem.nregions; i++) {
		snap[i] = malloc(mem.regions[i].size);
		FZ_CHECK(snap[i]);
		memcpy(snap[i], mem.regions[i].hva, mem.regions[i].size);
	}
	elem = malloc(sizeof(*elem));
	FZ_CHECK(elem);

	ret = virtq_init(&q, &mem, qsize, desc, avail, used, features);
	FZ_CHECK(ret == 0 || ret == -EINVAL || ret == -EFAULT);
	if (ret) {
		popped = ret;
		goto out;
	}
	used_bytes = 6 + 8 * (size_t)qsize;
	used_host = guest_mem_ptr(&mem, used, used_bytes);
	FZ_CHECK(used_host && (void *)used_host == (void *)q.used);
	q.last_avail = last_avail;
	q.used_idx = used_idx;

	for (unsigned int r = 0; r < rounds; r++) {
		uint16_t before = q.last_avail;
		int pending = virtq_pending(&q);

		FZ_CHECK(pending == -EIO || (pending >= 0 && pending <= qsize));
		ret = virtq_pop(&q, &mem, elem, err, sizeof(err));
		FZ_CHECK(ret >= -EIO && ret <= 1);
		if (ret < 0) {
			FZ_CHECK(ret == -EIO);
			FZ_CHECK(q.broken);
			FZ_CHECK(q.last_avail == before);
			FZ_CHECK(err[0]);
			FZ_CHECK(virtq_pop(&q, &mem, elem, NULL, 0) == -EIO);
			FZ_CHECK(virtq_pending(&q) == -EIO);
			popped = -EIO;
			break;
		}
		if (ret == 0) {
			FZ_CHECK(q.last_avail == before);
			break;
		}
		FZ_CHECK(q.last_avail == (uint16_t)(before + 1));
		popped++;
		fz_check_elem(&q, &mem, elem);
		fz_check_blk(elem, data[31]);
		fz_touch(elem, flags & FZ_F_WRITE_IN);
		virtq_push(&q, &mem, elem->head, elem->in_len);
		(void)virtq_need_notify(&q);
		if (r & 1)
			virtq_set_avail_event(&q);
	}

	/* Unless the device wrote buffers, only the used area may change. */
	if (!(flags & FZ_F_WRITE_IN)) {
		for (unsigned int i = 0; i < mem.nregions; i++) {
			uintptr_t h = (uintptr_t)mem.regions[i].hva;
			uintptr_t u = (uintptr_t)used_host;
			size_t n = mem.regions[i].size, lo = n, hi = n;

			if (u + used_bytes > h && u < h + n) {
				lo = u > h ? u - h : 0;
				hi = u + used_bytes < h + n ? u + used_bytes - h
							    : n;
			}
			FZ_CHECK(!memcmp(mem.regions[i].hva, snap[i], lo));
			FZ_CHECK(!memcmp(mem.regions[i].hva + hi, snap[i] + hi,
					 n - hi));
		}
	}
out:
	free(elem);
	for (unsigned int i = 0; i < mem.nregions; i++) {
		free(mem.regions[i].hva);
		free(snap[i]);
	}
	return popped;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_run(data, size);
	return 0;
}

#ifdef FUZZ_VIRTQUEUE_SEEDS
/*
 * Seed writer (`make fuzz-seeds`): the unit tests' scenarios as inputs.
 * Each seed is a 48-byte header and 2 KiB of RAM: a queue of 8 with the
 * descriptor table at 0x0, avail at 0x80, used at 0xa0, an indirect table
 * at 0x100 and data from 0x200.
 */
#define SD_RAM	 0x800
#define SD_DESC	 0x000
#define SD_AVAIL 0x080
#define SD_USED	 0x0a0
#define SD_TBL	 0x100
#define SD_DATA	 0x200

struct seed {
	uint8_t b[FZ_HDR + SD_RAM];
	uint16_t aidx;
};

static void sd_init(struct seed *s, uint8_t flags, uint16_t start)
{
	memset(s, 0, sizeof(*s));
	s->b[0] = 3; /* 1 << 3 = 8 entries */
	s->b[1] = flags;
	fz_put32(s->b + 4, SD_DESC);
	fz_put32(s->b + 8, SD_AVAIL);
	fz_put32(s->b + 12, SD_USED);
	fz_put16(s->b + 16, start);
	fz_put16(s->b + 18, start);
	fz_put32(s->b + 20, SD_RAM / 2);
	s->b[30] = 16;
	s->aidx = start;
	fz_put16(s->b + FZ_HDR + SD_AVAIL + 2, start);
	fz_put16(s->b + FZ_HDR + SD_USED + 2, start);
}

static void sd_tdesc(struct seed *s, uint32_t table, uint16_t i, uint64_t addr,
		     uint32_t len, uint16_t fl, uint16_t next)
{
	uint8_t *p = s->b + FZ_HDR + table + 16 * i;

	fz_put64(p, addr);
	fz_put32(p + 8, len);
	fz_put16(p + 12, fl);
	fz_put16(p + 14, next);
}

static void sd_desc(struct seed *s, uint16_t i, uint64_t addr, uint32_t len,
		    uint16_t fl, uint16_t next)
{
	sd_tdesc(s, SD_DESC, i, addr, len, fl, next);
}

static void sd_avail(struct seed *s, uint16_t head)
{
	fz_put16(s->b + FZ_HDR + SD_AVAIL + 4 + 2 * (s->aidx % 8), head);
	s->aidx++;
	fz_put16(s->b + FZ_HDR + SD_AVAIL + 2, s->aidx);
}

/*
 * A queue of 2048 in 64 KiB of zero-padded RAM, with the synthetic chain
 * of `n` one-byte buffers at 0xf000, writable from `wr` on.
 */
static void sd_chain(struct seed *s, uint8_t flags, uint16_t n, uint16_t wr)
{
	sd_init(s, flags | FZ_F_CHAIN, 0);
	s->b[0] = 11;
	fz_put32(s->b + 4, 0);
	fz_put32(s->b + 8, 0x8000);
	fz_put32(s->b + 12, 0xa000);
	fz_put32(s->b + 32, 0x10000);
	fz_put16(s->b + 36, n);
	fz_put16(s->b + 38, wr);
	fz_put32(s->b + 40, 0xf000);
	fz_put16(s->b + 44, 1);
	fz_put16(s->b + 46, 1);
	/* The RAM bytes of the seed would overlay the table: no need. */
	memset(s->b + FZ_HDR, 0, SD_RAM);
}

/* Check the seed does what it is for (`want` requests, or -EIO), save it. */
static int sd_write(const char *dir, const char *name, struct seed *s, int want)
{
	char path[512];
	FILE *f;
	int got = fz_run(s->b, sizeof(s->b));

	if (got != want) {
		fprintf(stderr, "seed %s: got %d, want %d\n", name, got, want);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(s->b, sizeof(s->b), 1, f) != 1) {
		perror(path);
		return 1;
	}
	return fclose(f) ? 1 : 0;
}

int main(int argc, char **argv)
{
	const uint16_t N = VRING_DESC_F_NEXT, W = VRING_DESC_F_WRITE,
		       I = VRING_DESC_F_INDIRECT;
	const uint8_t EV = FZ_F_EVENT_IDX, IN = FZ_F_INDIRECT,
		      TWO = FZ_F_TWO_REGIONS, WR = FZ_F_WRITE_IN;
	struct seed s;
	int bad = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	const char *d = argv[1];

	sd_init(&s, WR, 0);
	sd_desc(&s, 3, SD_DATA, 100, 0, 0);
	sd_avail(&s, 3);
	bad |= sd_write(d, "single", &s, 1);

	sd_init(&s, WR | EV, 0);
	sd_desc(&s, 0, SD_DATA, 16, N, 5);
	sd_desc(&s, 5, SD_DATA + 0x10, 0x80, N, 2);
	sd_desc(&s, 2, SD_DATA + 0x100, 0x100, W | N, 7);
	sd_desc(&s, 7, SD_DATA + 0x200, 1, W, 0);
	sd_avail(&s, 0);
	sd_desc(&s, 1, SD_DATA + 0x300, 0x40, W, 0);
	sd_avail(&s, 1);
	bad |= sd_write(d, "out_then_in", &s, 2);

	/* virtio-blk shaped: a read of one sector, and a discard range. */
	sd_init(&s, WR, 0);
	s.b[31] = 10 << 1; /* a disk of 1024 sectors */
	fz_put32(s.b + FZ_HDR + SD_DATA, VIRTIO_BLK_T_IN);
	fz_put64(s.b + FZ_HDR + SD_DATA + 8, 2);
	sd_desc(&s, 0, SD_DATA, 16, N, 1);
	sd_desc(&s, 1, SD_DATA + 0x100, 512, W | N, 2);
	sd_desc(&s, 2, SD_DATA + 0x400, 1, W, 0);
	sd_avail(&s, 0);
	bad |= sd_write(d, "blk_read", &s, 1);

	sd_init(&s, 0, 0);
	s.b[31] = 10 << 1;
	fz_put32(s.b + FZ_HDR + SD_DATA, VIRTIO_BLK_T_DISCARD);
	fz_put64(s.b + FZ_HDR + SD_DATA + 16, 8);      /* sector */
	fz_put32(s.b + FZ_HDR + SD_DATA + 24, 16);     /* num_sectors */
	sd_desc(&s, 0, SD_DATA, 32, N, 1);
	sd_desc(&s, 1, SD_DATA + 0x400, 1, W, 0);
	sd_avail(&s, 0);
	bad |= sd_write(d, "blk_discard", &s, 1);

	sd_init(&s, IN | EV, 0);
	sd_tdesc(&s, SD_TBL, 0, SD_DATA, 16, N, 2);
	sd_tdesc(&s, SD_TBL, 2, SD_DATA + 0x100, 200, N, 1);
	sd_tdesc(&s, SD_TBL, 1, SD_DATA + 0x300, 1, W, 0);
	sd_desc(&s, 4, SD_TBL, 3 * 16, I, 0);
	sd_avail(&s, 4);
	bad |= sd_write(d, "indirect", &s, 1);

	sd_init(&s, IN | WR, 0);
	sd_desc(&s, 1, SD_DATA, 16, N, 3);
	sd_desc(&s, 3, SD_TBL, 2 * 16, I | W, 0);
	sd_tdesc(&s, SD_TBL, 0, SD_DATA + 0x100, 32, N, 1);
	sd_tdesc(&s, SD_TBL, 1, SD_DATA + 0x200, 64, W, 0);
	sd_avail(&s, 1);
	bad |= sd_write(d, "direct_then_indirect", &s, 1);

	sd_init(&s, EV | WR, 65533);
	for (int i = 0; i < 6; i++) {
		sd_desc(&s, i, SD_DATA + 0x10 * i, 0x10, W, 0);
		sd_avail(&s, i);
	}
	fz_put16(s.b + FZ_HDR + SD_AVAIL + 4 + 2 * 8, 1); /* used_event */
	bad |= sd_write(d, "wraparound", &s, 6);

	/* Region 1 right after region 0: a buffer across the boundary. */
	sd_init(&s, TWO | WR, 0);
	sd_desc(&s, 0, SD_DATA, 8, N, 1);
	sd_desc(&s, 1, SD_RAM / 2 - 0x20, 0x50, W, 0);
	sd_avail(&s, 0);
	bad |= sd_write(d, "split_regions", &s, 1);

	/* The same with a hole between the regions. */
	sd_init(&s, TWO, 0);
	fz_put32(s.b + 24, 0x1000);
	sd_desc(&s, 0, SD_RAM / 2 - 0x10, 0x20, 0, 0);
	sd_avail(&s, 0);
	bad |= sd_write(d, "bad_hole", &s, -EIO);

	/* RAM at the top of the address space, a buffer wrapping past it. */
	sd_init(&s, FZ_F_HIGH, 0);
	sd_desc(&s, 0, 0xfffffffffffffff0ull, 0x20, 0, 0);
	sd_avail(&s, 0);
	bad |= sd_write(d, "bad_wrap_high", &s, -EIO);

	sd_init(&s, 0, 0);
	sd_desc(&s, 0, SD_DATA, 16, N, 1);
	sd_desc(&s, 1, SD_DATA, 16, N, 0);
	sd_avail(&s, 0);
	bad |= sd_write(d, "bad_loop", &s, -EIO);

	sd_init(&s, 0, 0);
	sd_desc(&s, 0, SD_DATA, 16, N, 1);
	sd_desc(&s, 1, SD_DATA, 16, W | N, 2);
	sd_desc(&s, 2, SD_DATA, 16, 0, 0);
	sd_avail(&s, 0);
	bad |= sd_write(d, "bad_direction", &s, -EIO);

	sd_init(&s, 0, 0);
	sd_desc(&s, 0, SD_DATA, 0, 0, 0);
	sd_avail(&s, 0);
	bad |= sd_write(d, "bad_zero_len", &s, -EIO);

	sd_init(&s, IN, 0);
	sd_desc(&s, 0, SD_TBL, 32, I, 0);
	sd_tdesc(&s, SD_TBL, 0, SD_DATA, 16, N, 1);
	sd_tdesc(&s, SD_TBL, 1, SD_TBL + 0x40, 16, I, 0);
	sd_avail(&s, 0);
	bad |= sd_write(d, "bad_nested_indirect", &s, -EIO);

	sd_init(&s, IN, 0);
	sd_desc(&s, 0, SD_TBL, 24, I | N, 1);
	sd_avail(&s, 0);
	bad |= sd_write(d, "bad_indirect_len", &s, -EIO);

	/* 2 direct buffers and a table of 8: 10 in a queue of 8. */
	sd_init(&s, IN, 0);
	sd_desc(&s, 0, SD_DATA, 1, N, 1);
	sd_desc(&s, 1, SD_DATA, 1, N, 2);
	sd_desc(&s, 2, SD_TBL, 8 * 16, I, 0);
	for (int i = 0; i < 8; i++)
		sd_tdesc(&s, SD_TBL, i, SD_DATA, 1, i < 7 ? N : 0, i + 1);
	sd_avail(&s, 0);
	bad |= sd_write(d, "bad_chain_too_long", &s, -EIO);

	sd_chain(&s, 0, VIRTQ_MAX_SEGS, VIRTQ_MAX_SEGS / 2);
	bad |= sd_write(d, "max_segs", &s, 1);

	sd_chain(&s, 0, VIRTQ_MAX_SEGS + 1, VIRTQ_MAX_SEGS);
	bad |= sd_write(d, "bad_too_many_segs", &s, -EIO);

	sd_init(&s, 0, 0);
	sd_avail(&s, 9);
	bad |= sd_write(d, "bad_head", &s, -EIO);

	sd_init(&s, 0, 0);
	fz_put16(s.b + FZ_HDR + SD_AVAIL + 2, 9);
	bad |= sd_write(d, "bad_avail_idx", &s, -EIO);
	return bad;
}
#endif
