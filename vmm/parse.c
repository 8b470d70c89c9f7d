/* parse.c: size and number parsing shared by the CLI and the config checks. */
#include "vmm/parse.h"

#include "microvm.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-' || *s == '+' || isspace((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno == ERANGE)
		return -ERANGE;
	if (end == s || *end)
		return -EINVAL;
	*out = v;
	return 0;
}


int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	char tail;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
		   &b[4], &b[5], &tail) != 6 ||
	    strlen(s) != 17)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	/* A multicast address cannot be a NIC's. */
	return (mac[0] & 1) ? -EINVAL : 0;
}

/* Split "a,b,c" in place; returns the next option or NULL. */
static char *next_opt(char **p)
{
	char *o = *p, *c;

	if (!o)
		return NULL;
	c = strchr(o, ',');
	if (c) {
		*c = 0;
		*p = c + 1;
	} else {
		*p = NULL;
	}
	return o;
}

int parse_disk_spec(char *spec, struct microvm_disk *out, char *err, size_t len)
{
	char *p = spec, *o;

	memset(out, 0, sizeof(*out));
	out->path = next_opt(&p);
	if (!out->path || !*out->path) {
		snprintf(err, len, "expected PATH[,ro][,id=NAME]");
		return -EINVAL;
	}
	while ((o = next_opt(&p))) {
		if (!strcmp(o, "ro") || !strcmp(o, "readonly=on")) {
			out->readonly = true;
		} else if (!strcmp(o, "rw") || !strcmp(o, "readonly=off")) {
			out->readonly = false;
		} else if (!strncmp(o, "id=", 3) && o[3]) {
			if (strlen(o + 3) > 20) {
				snprintf(err, len,
					 "id '%s' is longer than the 20 bytes "
					 "virtio-blk carries",
					 o + 3);
				return -EINVAL;
			}
			out->id = o + 3;
		} else {
			snprintf(err, len,
				 "unknown option '%s' (known: ro, "
				 "id=NAME)",
				 o);
			return -EINVAL;
		}
	}
	return 0;
}

int check_device_name(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 31)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("-_.", s[i]))
			return -EINVAL;
	return 0;
}

int parse_vfio_spec(char *spec, struct microvm_vfio *out, int *iommu,
		    char *err, size_t len)
{
	static const char *const names[] = {
		[MICROVM_VFIO_IOMMU_AUTO] = "auto",
		[MICROVM_VFIO_IOMMU_IOMMUFD] = "iommufd",
		[MICROVM_VFIO_IOMMU_LEGACY] = "legacy",
	};
	char *p = spec, *o;

	memset(out, 0, sizeof(*out));
	*iommu = -1;
	out->bdf = next_opt(&p);
	if (!out->bdf || !*out->bdf || strchr(out->bdf, '=')) {
		snprintf(err, len,
			 "expected BDF[,id=NAME][,iommu=auto|iommufd|legacy], "
			 "e.g. 0000:17:00.0");
		return -EINVAL;
	}
	while ((o = next_opt(&p))) {
		if (!strncmp(o, "id=", 3)) {
			if (check_device_name(o + 3) < 0) {
				snprintf(err, len,
					 "id '%s': use 1-31 letters, digits, "
					 "'-', '_' or '.'",
					 o + 3);
				return -EINVAL;
			}
			out->id = o + 3;
		} else if (!strncmp(o, "iommu=", 6)) {
			for (int i = 0; i < 3; i++)
				if (!strcmp(o + 6, names[i]))
					*iommu = i;
			if (*iommu < 0) {
				snprintf(err, len,
					 "iommu=%s: want auto, iommufd or "
					 "legacy",
					 o + 6);
				return -EINVAL;
			}
		} else {
			snprintf(err, len,
				 "unknown option '%s' (known: id=NAME, "
				 "iommu=auto|iommufd|legacy)",
				 o);
			return -EINVAL;
		}
	}
	return 0;
}

int parse_net_spec(char *spec, struct microvm_net *out, char *err, size_t len)
{
	char *p = spec, *o;

	memset(out, 0, sizeof(*out));
	while ((o = next_opt(&p))) {
		if (!strncmp(o, "tap=", 4) && o[4]) {
			if (strlen(o + 4) >= 16) {
				snprintf(err, len,
					 "tap name '%s' is longer than 15 "
					 "characters",
					 o + 4);
				return -EINVAL;
			}
			out->tap = o + 4;
		} else if (!strncmp(o, "mac=", 4)) {
			if (parse_mac(o + 4, out->mac) < 0) {
				snprintf(
					err, len,
					"bad MAC '%s' (want aa:bb:cc:dd:ee:ff, "
					"not multicast)",
					o + 4);
				return -EINVAL;
			}
			out->mac_set = true;
		} else {
			snprintf(err, len,
				 "unknown option '%s' (known: tap=NAME, "
				 "mac=MAC)",
				 o);
			return -EINVAL;
		}
	}
	if (!out->tap) {
		snprintf(err, len, "expected tap=NAME[,mac=MAC]");
		return -EINVAL;
	}
	return 0;
}

int parse_vsock_spec(char *spec, struct microvm_vsock *out, char *err,
		     size_t len)
{
	char *p = spec, *o;
	uint64_t v;

	memset(out, 0, sizeof(*out));
	while ((o = next_opt(&p))) {
		if (!strncmp(o, "cid=", 4)) {
			if (parse_u64(o + 4, &v) < 0 || v < 3 ||
			    v > 0xfffffffeull) {
				snprintf(err, len,
					 "cid must be a number from 3 to "
					 "4294967294, got '%s'",
					 o + 4);
				return -EINVAL;
			}
			out->guest_cid = (uint32_t)v;
		} else if (!strncmp(o, "uds=", 4) && o[4]) {
			out->uds = o + 4;
		} else if (!strcmp(o, "vhost=on")) {
			out->vhost = true;
		} else if (!strcmp(o, "vhost=off")) {
			out->vhost = false;
		} else {
			snprintf(err, len,
				 "unknown option '%s' (known: cid=N, uds=PATH, "
				 "vhost=on)",
				 o);
			return -EINVAL;
		}
	}
	if (!out->guest_cid) {
		snprintf(err, len, "cid=N is required");
		return -EINVAL;
	}
	if (!out->vhost && !out->uds) {
		snprintf(err, len, "uds=PATH is required (or vhost=on)");
		return -EINVAL;
	}
	return 0;
}
