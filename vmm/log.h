/* log.h: the one log path: levels, a component prefix, the embedder's callback. */
#ifndef VMM_LOG_H
#define VMM_LOG_H

#include <stdarg.h>
#include <stdint.h>

#include "microvm.h"

struct logger {
	microvm_log_fn fn;
	void *opaque;
	enum microvm_log_level level;
};

__attribute__((format(printf, 4, 5))) void log_msg(const struct logger *lg,
						   enum microvm_log_level level,
						   const char *dev,
						   const char *fmt, ...);

/*
 * Rate limit for guest-caused messages: at most `burst` messages, then one
 * per `interval_ns`. Returns 1 if this message may be logged.
 */
struct ratelimit {
	uint64_t last_ns;
	unsigned int count;
};
int ratelimit_ok(struct ratelimit *rl, unsigned int burst);

#define log_err(lg, dev, ...)	log_msg(lg, MICROVM_LOG_ERROR, dev, __VA_ARGS__)
#define log_warn(lg, dev, ...)	log_msg(lg, MICROVM_LOG_WARN, dev, __VA_ARGS__)
#define log_info(lg, dev, ...)	log_msg(lg, MICROVM_LOG_INFO, dev, __VA_ARGS__)
#define log_debug(lg, dev, ...) log_msg(lg, MICROVM_LOG_DEBUG, dev, __VA_ARGS__)

#endif
