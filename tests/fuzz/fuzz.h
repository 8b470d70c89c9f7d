/* fuzz.h: what the libFuzzer targets share: a failed-check abort and a reader that takes fields from the input. */
#ifndef TESTS_FUZZ_FUZZ_H
#define TESTS_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant of the target: on violation libFuzzer keeps the input. */
#define FZ_CHECK(c)                                                            \
	do {                                                                   \
		if (!(c)) {                                                    \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #c);                                 \
			abort();                                               \
		}                                                              \
	} while (0)

/* The input as a stream of little-endian fields; past its end, zeros. */
struct fz_in {
	const uint8_t *p;
	size_t left;
};

static inline uint64_t fz_take(struct fz_in *in, unsigned int bytes)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < bytes && in->left; i++, in->left--)
		v |= (uint64_t)*in->p++ << (8 * i);
	return v;
}

static inline uint8_t fz_u8(struct fz_in *in)
{
	return (uint8_t)fz_take(in, 1);
}

static inline uint16_t fz_u16(struct fz_in *in)
{
	return (uint16_t)fz_take(in, 2);
}

static inline uint32_t fz_u32(struct fz_in *in)
{
	return (uint32_t)fz_take(in, 4);
}

static inline uint64_t fz_u64(struct fz_in *in)
{
	return fz_take(in, 8);
}

#endif
