/* smbios.c: builds the SMBIOS 3.0 entry point and a few structures (pure logic). */
#include "arch/x86_64/smbios.h"

#include <errno.h>
#include <string.h>

#define SMBIOS_EP_SIZE 24
#define SMBIOS_RELEASE_DATE "11/22/2026" /* of this SMBIOS layout */

struct sb {
	uint8_t *buf;
	size_t size, off;
	int err;
};

static void put(struct sb *b, const void *p, size_t n)
{
	if (b->err || n > b->size - b->off) {
		b->err = -ENOSPC;
		return;
	}
	memcpy(b->buf + b->off, p, n);
	b->off += n;
}

/* A structure: formatted area, then its strings, then a double NUL. */
static void structure(struct sb *b, const uint8_t *fmt, size_t len,
		      const char *const *strs, unsigned int nstrs)
{
	put(b, fmt, len);
	for (unsigned int i = 0; i < nstrs; i++)
		put(b, strs[i], strlen(strs[i]) + 1);
	put(b, "\0", nstrs ? 1 : 2);
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

int smbios_build(uint8_t *buf, size_t size, uint64_t base, const char *version)
{
	const char *const bios_strs[] = { "microvm", version,
					  SMBIOS_RELEASE_DATE };
	const char *const sys_strs[] = { "microvm", "microvm", version };
	struct sb b = { buf, size, SMBIOS_EP_SIZE, 0 };
	uint8_t t0[0x18] = { 0 }, t1[0x1b] = { 0 };
	uint8_t end[4] = { 127, 4, 2, 0 };
	uint8_t *ep = buf;
	uint32_t table_len;
	uint64_t table = base + SMBIOS_EP_SIZE;

	if (size < SMBIOS_EP_SIZE)
		return -ENOSPC;
	/* Type 0: BIOS information. */
	t0[0] = 0;
	t0[1] = sizeof(t0);
	t0[4] = 1; /* vendor */
	t0[5] = 2; /* version */
	t0[8] = 3; /* release date */
	t0[10] = 0x08; /* characteristics not supported */
	t0[19] = 0x10; /* extension byte 2: virtual machine */
	t0[20] = 0;    /* BIOS release */
	t0[21] = 1;
	t0[22] = 0xff; /* no embedded controller */
	t0[23] = 0xff;
	structure(&b, t0, sizeof(t0), bios_strs, 3);
	/* Type 1: system information. */
	t1[0] = 1;
	t1[1] = sizeof(t1);
	t1[2] = 1; /* handle */
	t1[4] = 1; /* manufacturer */
	t1[5] = 2; /* product */
	t1[6] = 3; /* version */
	t1[24] = 6; /* wake-up: power switch */
	structure(&b, t1, sizeof(t1), sys_strs, 3);
	structure(&b, end, sizeof(end), NULL, 0);
	if (b.err)
		return b.err;
	table_len = (uint32_t)(b.off - SMBIOS_EP_SIZE);

	memset(ep, 0, SMBIOS_EP_SIZE);
	memcpy(ep, "_SM3_", 5);
	ep[6] = SMBIOS_EP_SIZE;
	ep[7] = 3; /* SMBIOS 3.0.0 */
	ep[8] = 0;
	ep[9] = 0;
	ep[10] = 1; /* entry point revision */
	memcpy(ep + 12, &table_len, 4);
	memcpy(ep + 16, &table, 8);
	ep[5] = (uint8_t)(0x100 - sum(ep, SMBIOS_EP_SIZE));
	return (int)b.off;
}
