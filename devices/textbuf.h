/* textbuf.h: formatted text into a caller's fixed buffer, -ENOSPC when it does not fit. */
#ifndef MICROVM_DEVICES_TEXTBUF_H
#define MICROVM_DEVICES_TEXTBUF_H

#include <stdbool.h>
#include <stddef.h>

struct textbuf {
	char *buf;
	size_t len, pos;
	bool full; /* something did not fit: the rest is dropped */
};

void textbuf_init(struct textbuf *t, char *buf, size_t len);
void textbuf_printf(struct textbuf *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The length written, or -ENOSPC if anything did not fit. */
int textbuf_finish(const struct textbuf *t);

/*
 * The one-line error message of a pure function into the caller's
 * err[errlen] (either may be NULL/0: no message wanted).
 */
void errbuf_printf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
