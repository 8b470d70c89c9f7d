/* blk_req.c: virtio-blk request checking: pure (no device state), shared with the unit tests and the fuzzer. */
#include "devices/virtio/blk.h"

#include <endian.h>
#include <errno.h>
#include <linux/virtio_blk.h>
#include <stddef.h>
#include <string.h>

/*
 * The `len` bytes of `iov` (n entries) that start `skip` bytes in, as
 * iovecs in `out`. Returns how many.
 */
static unsigned int blk_slice(const struct virtq_iov *iov, unsigned int n,
			      size_t skip, size_t len, struct iovec *out)
{
	unsigned int k = 0;

	for (unsigned int i = 0; i < n && len; i++) {
		size_t l = iov[i].len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		l -= skip;
		if (l > len)
			l = len;
		out[k].iov_base = (uint8_t *)iov[i].base + skip;
		out[k].iov_len = l;
		k++;
		len -= l;
		skip = 0;
	}
	return k;
}

/* The one range of a DISCARD or WRITE_ZEROES request. */
static int blk_parse_range(const struct virtq_elem *elem, uint64_t capacity,
			   bool readonly, struct blk_request *req)
{
	struct virtio_blk_discard_write_zeroes seg;
	const size_t hdr_len = sizeof(struct virtio_blk_outhdr);
	uint32_t unknown;

	if (elem->in_len != 1) {
		req->why = "device-writable data in a discard/write-zeroes "
			   "request";
		return VIRTIO_BLK_S_IOERR;
	}
	if (elem->out_len != hdr_len + sizeof(seg)) {
		req->why = elem->out_len > hdr_len + sizeof(seg) &&
					   (elem->out_len - hdr_len) %
							   sizeof(seg) ==
						   0 ?
				   "more ranges than the 1 offered" :
				   "not one 16-byte range after the header";
		return VIRTIO_BLK_S_IOERR;
	}
	if (readonly) {
		req->why = "discard/write-zeroes on a read-only disk";
		return VIRTIO_BLK_S_IOERR;
	}
	if (virtq_iov_to_buf(elem->iov, elem->nout, hdr_len, &seg,
			     sizeof(seg)) != sizeof(seg)) {
		req->why = "range unreadable";
		return VIRTIO_BLK_S_IOERR;
	}
	req->sector = le64toh(seg.sector);
	req->num_sectors = le32toh(seg.num_sectors);
	req->flags = le32toh(seg.flags);
	unknown = req->flags & ~(uint32_t)VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
	if (unknown || (req->type == VIRTIO_BLK_T_DISCARD && req->flags)) {
		req->why = "flags not supported";
		return VIRTIO_BLK_S_UNSUPP;
	}
	if (req->num_sectors > BLK_MAX_ZERO_SECTORS) {
		req->why = "range longer than the maximum offered";
		return VIRTIO_BLK_S_IOERR;
	}
	if (req->sector > capacity || req->num_sectors > capacity - req->sector) {
		req->why = "sectors beyond the end of the disk";
		return VIRTIO_BLK_S_IOERR;
	}
	return VIRTIO_BLK_S_OK;
}

int blk_parse_request(const struct virtq_elem *elem, uint64_t capacity,
		      bool readonly, struct blk_request *req, struct iovec *data)
{
	const struct virtq_iov *in = elem->iov + elem->nout;
	struct virtio_blk_outhdr hdr;
	uint64_t sectors;

	memset(req, 0, sizeof(*req));
	if (!elem->nin || !elem->in_len || !in[elem->nin - 1].len) {
		req->why = "no device-writable status byte";
		return -EINVAL;
	}
	req->status =
		(uint8_t *)in[elem->nin - 1].base + in[elem->nin - 1].len - 1;
	if (elem->out_len < sizeof(hdr)) {
		req->why = "header shorter than 16 device-readable bytes";
		return VIRTIO_BLK_S_IOERR;
	}
	if (virtq_iov_to_buf(elem->iov, elem->nout, 0, &hdr, sizeof(hdr)) !=
	    sizeof(hdr)) {
		req->why = "header unreadable";
		return VIRTIO_BLK_S_IOERR;
	}
	req->type = le32toh(hdr.type);
	req->sector = le64toh(hdr.sector);

	switch (req->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_GET_ID:
		if (elem->out_len != sizeof(hdr)) {
			req->why = "device-readable data in a read request";
			return VIRTIO_BLK_S_IOERR;
		}
		req->data_len = elem->in_len - 1;
		req->ndata = blk_slice(in, elem->nin, 0, req->data_len, data);
		if (req->type == VIRTIO_BLK_T_GET_ID)
			return VIRTIO_BLK_S_OK;
		break;
	case VIRTIO_BLK_T_OUT:
		if (elem->in_len != 1) {
			req->why = "device-writable data in a write request";
			return VIRTIO_BLK_S_IOERR;
		}
		req->data_len = elem->out_len - (uint32_t)sizeof(hdr);
		if (readonly) {
			req->why = "write to a read-only disk";
			return VIRTIO_BLK_S_IOERR;
		}
		req->ndata = blk_slice(elem->iov, elem->nout, sizeof(hdr),
				       req->data_len, data);
		break;
	case VIRTIO_BLK_T_FLUSH:
		if (elem->out_len != sizeof(hdr) || elem->in_len != 1) {
			req->why = "data in a flush request";
			return VIRTIO_BLK_S_IOERR;
		}
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return blk_parse_range(elem, capacity, readonly, req);
	default:
		req->why = "request type not supported";
		return VIRTIO_BLK_S_UNSUPP;
	}

	/* T_IN, T_OUT: whole sectors inside the disk. */
	if (req->data_len % BLK_SECTOR_SIZE) {
		req->why = "data length not a multiple of 512 bytes";
		return VIRTIO_BLK_S_IOERR;
	}
	sectors = req->data_len / BLK_SECTOR_SIZE;
	if (req->sector > capacity || sectors > capacity - req->sector) {
		req->why = "sectors beyond the end of the disk";
		return VIRTIO_BLK_S_IOERR;
	}
	return VIRTIO_BLK_S_OK;
}
