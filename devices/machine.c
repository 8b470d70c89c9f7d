/* machine.c (devices): helpers over the machine interface that every device model shares. */
#include "devices/machine.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

void machine_end(struct machine *m, enum microvm_exit_reason reason, int error,
		 const char *fmt, ...)
{
	char msg[sizeof(((struct microvm_exit *)0)->message)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	m->ops->end(m, reason, error, msg);
}

uint64_t machine_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
