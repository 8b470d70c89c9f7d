/* textbuf.c: formatted text into a caller's fixed buffer. */
#include "devices/textbuf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

void textbuf_init(struct textbuf *t, char *buf, size_t len)
{
	t->buf = buf;
	t->len = len;
	t->pos = 0;
	t->full = !buf || !len;
	if (!t->full)
		buf[0] = '\0';
}

void textbuf_printf(struct textbuf *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->buf + t->pos, t->len - t->pos, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= t->len - t->pos) {
		t->full = true;
		return;
	}
	t->pos += (size_t)n;
}

int textbuf_finish(const struct textbuf *t)
{
	return t->full ? -ENOSPC : (int)t->pos;
}

void errbuf_printf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}
