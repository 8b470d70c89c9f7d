/* blk.h: virtio-blk request checking (blk_req.c), a pure function shared with the unit tests and the fuzzer. */
#ifndef DEVICES_VIRTIO_BLK_H
#define DEVICES_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/virtio/virtqueue.h"

#define BLK_SECTOR_SIZE 512
/*
 * DISCARD and WRITE_ZEROES: one range per request (max_*_seg), at most
 * this many sectors (2 GiB - 512), aligned as the guest likes to 4 KiB.
 */
#define BLK_MAX_ZERO_SECTORS 0x3fffffu
#define BLK_ZERO_ALIGN_SECTORS 8

/* One request as the device carries it out. */
struct blk_request {
	uint32_t type;	 /* VIRTIO_BLK_T_* */
	uint64_t sector; /* T_IN, T_OUT; the range's for DISCARD/WRITE_ZEROES */
	uint32_t num_sectors; /* T_DISCARD, T_WRITE_ZEROES */
	uint32_t flags;	      /* VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP or 0 */
	uint8_t *status; /* the status byte, in guest memory */
	/*
	 * The data part: device-readable bytes after the 16-byte header for
	 * T_OUT, device-writable bytes before the status byte for T_IN and
	 * T_GET_ID; none for T_FLUSH.
	 */
	uint32_t data_len;
	unsigned int ndata; /* iovecs of it */
	const char *why;    /* what is wrong, when not VIRTIO_BLK_S_OK */
};

/*
 * Check a popped request against the spec and the disk (`capacity` in
 * 512-byte sectors, `readonly`) and describe its data part in `data`
 * (room for VIRTQ_MAX_SEGS entries), trimmed of header and status byte
 * whatever the descriptor framing. The header must be at least 16
 * device-readable bytes and the status the last device-writable byte;
 * T_IN and T_OUT must move whole sectors inside the capacity, in the
 * direction of their type; T_FLUSH and T_GET_ID carry no device-readable
 * data; T_DISCARD and T_WRITE_ZEROES carry exactly one 16-byte range
 * inside the capacity and no larger than BLK_MAX_ZERO_SECTORS (UNSUPP for
 * unknown flags, or the unmap flag on a discard). Whether the driver
 * negotiated a type is the caller's to check.
 *
 * Returns VIRTIO_BLK_S_OK: carry it out; VIRTIO_BLK_S_IOERR or
 * VIRTIO_BLK_S_UNSUPP: answer with that status at once (req->status is
 * set); -EINVAL: no device-writable byte for the status, so the request
 * cannot be answered. req->why says what was wrong.
 */
__attribute__((warn_unused_result)) int
blk_parse_request(const struct virtq_elem *elem, uint64_t capacity,
		  bool readonly, struct blk_request *req, struct iovec *data);

#endif
