/* log.c: formats log lines and hands them to the embedder's callback. */
#include "vmm/log.h"

#include <stdio.h>
#include <time.h>

void log_msg(const struct logger *lg, enum microvm_log_level level,
	     const char *dev, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if (!lg || !lg->fn || level > lg->level)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	lg->fn(lg->opaque, level, dev ? dev : "vm", buf);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int ratelimit_ok(struct ratelimit *rl, unsigned int burst)
{
	uint64_t now = now_ns();

	if (now - rl->last_ns > 1000000000ull) {
		rl->last_ns = now;
		rl->count = 0;
	}
	return rl->count++ < burst;
}
