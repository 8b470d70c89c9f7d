/* size.c: byte sizes as people write them ("512M", "1GiB") and as messages show them. */
#include "devices/size.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int parse_size(const char *s, uint64_t default_unit, uint64_t *out)
{
	static const char units[] = "KMGTPE";
	unsigned long long v;
	uint64_t mult = default_unit;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (*end) {
		char u = (char)toupper((unsigned char)*end);
		const char *p = u ? strchr(units, u) : NULL;

		if (p) {
			mult = 1ull << (10 * (p - units + 1));
			end++;
			if (!strcasecmp(end, "iB") || !strcasecmp(end, "B"))
				end += strlen(end);
		} else if (!strcasecmp(end, "B")) {
			mult = 1;
			end++;
		}
		if (*end)
			return -EINVAL;
	}
	if (v && mult > UINT64_MAX / v)
		return -ERANGE;
	*out = v * mult;
	return 0;
}

void format_size(uint64_t bytes, char *buf, size_t len)
{
	static const char units[] = "KMGTPE";
	int u = -1;

	while (bytes && !(bytes & 1023) && u < 5) {
		bytes >>= 10;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%llu bytes", (unsigned long long)bytes);
	else
		snprintf(buf, len, "%llu%ciB", (unsigned long long)bytes,
			 units[u]);
}
