/* size.h: byte sizes as people write them and as messages show them (pure; shared by the planner, the devices and the CLI). */
#ifndef DEVICES_SIZE_H
#define DEVICES_SIZE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parse "512M", "2G", "4096K", "1T", "123" (bytes times `default_unit`
 * when there is no suffix). Suffixes are binary (K = 1024) and
 * case-insensitive; an optional trailing "B"/"iB" is accepted ("512MiB").
 * Returns 0, -EINVAL (malformed) or -ERANGE (overflow).
 */
__attribute__((warn_unused_result)) int
parse_size(const char *s, uint64_t default_unit, uint64_t *out);

/* "512M", "1.5G" style, for messages. */
void format_size(uint64_t bytes, char *buf, size_t len);

#endif
