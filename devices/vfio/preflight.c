/* preflight.c: the VFIO preflight: reads sysfs, /dev and /proc below given roots and says in plain words whether a host PCI device can be passed through, why not, and the commands that fix it. */
#include "devices/vfio/preflight.h"

#include "devices/textbuf.h"
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* include/linux/ioport.h (not a uapi header): the bits sysfs `resource` shows. */
#define IORESOURCE_IO	    0x00000100ull
#define IORESOURCE_MEM	    0x00000200ull
#define IORESOURCE_PREFETCH 0x00002000ull
#define IORESOURCE_MEM_64   0x00100000ull

#define PF_READ_MAX  4096 /* the longest sysfs file read (reserved_regions) */
#define PF_LIST_MAX  320 /* a list of regions or holders inside a message */
#define PF_FIX_SLOTS 2 /* findings kept free for the device nodes */

/* ---- reading files below the roots ---- */

static int __attribute__((format(printf, 3, 4)))
pf_path(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

static bool pf_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* The file's text, NUL-terminated, at most len - 1 bytes; length or -errno. */
static int pf_read(const char *path, char *buf, size_t len)
{
	size_t pos = 0;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	while (pos + 1 < len) {
		ssize_t n = read(fd, buf + pos, len - 1 - pos);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (!n)
			break;
		pos += (size_t)n;
	}
	close(fd);
	buf[pos] = '\0';
	return r < 0 ? r : (int)pos;
}

/* One value of a sysfs attribute, trailing white space removed. */
static int pf_read_line(const char *path, char *buf, size_t len)
{
	int n = pf_read(path, buf, len);

	if (n < 0)
		return n;
	while (n > 0 && isspace((unsigned char)buf[n - 1]))
		buf[--n] = '\0';
	return n;
}

static int pf_read_hex(const char *path, uint64_t *v)
{
	char buf[32], *end;
	int r = pf_read_line(path, buf, sizeof(buf));

	if (r < 0)
		return r;
	errno = 0;
	*v = strtoull(buf, &end, 16);
	if (end == buf || *end || errno)
		return -EINVAL;
	return 0;
}

/* The last component of a symlink's target ("vfio-pci", "3"). */
static int pf_link_base(const char *path, char *buf, size_t len)
{
	char target[PATH_MAX];
	const char *base;
	ssize_t n = readlink(path, target, sizeof(target) - 1);

	if (n < 0)
		return -errno;
	target[n] = '\0';
	while (n > 1 && target[n - 1] == '/')
		target[--n] = '\0';
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (!*base || strlen(base) >= len)
		return -EINVAL;
	memcpy(buf, base, strlen(base) + 1);
	return 0;
}

static bool pf_all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* ---- small pure helpers ---- */

static int pf_hex_field(const char **p, unsigned int digits, unsigned long *v)
{
	unsigned int i;

	*v = 0;
	for (i = 0; i < digits; i++) {
		int c = (unsigned char)(*p)[i];

		if (!isxdigit(c))
			return -EINVAL;
		*v = *v * 16 + (unsigned long)(isdigit(c)
						       ? c - '0'
						       : tolower(c) - 'a' + 10);
	}
	*p += digits;
	return 0;
}

int vfio_bdf_parse(const char *in, char *out, size_t len)
{
	unsigned long seg = 0, bus, dev, fn;
	const char *p = in, *c;
	int n;

	if (!in || !out)
		return -EINVAL;
	c = strchr(in, ':');
	if (c && strchr(c + 1, ':')) {
		if (pf_hex_field(&p, 4, &seg) || *p++ != ':')
			return -EINVAL;
	}
	if (pf_hex_field(&p, 2, &bus) || *p++ != ':')
		return -EINVAL;
	if (pf_hex_field(&p, 2, &dev) || *p++ != '.')
		return -EINVAL;
	if (pf_hex_field(&p, 1, &fn) || *p)
		return -EINVAL;
	if (dev > 0x1f || fn > 7)
		return -EINVAL;
	n = snprintf(out, len, "%04lx:%02lx:%02lx.%lx", seg, bus, dev, fn);
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return 0;
}

int vfio_pf_parse_regions(const char *text, struct vfio_pf_region *out,
			  unsigned int max)
{
	unsigned int n = 0;
	const char *p = text;

	if (!text || !out)
		return 0;
	while (*p && n < max) {
		const char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t)(nl - p) : strlen(p);
		char line[128], type[sizeof(out->type)];
		uint64_t start, end;
		char extra;

		if (l < sizeof(line)) {
			memcpy(line, p, l);
			line[l] = '\0';
			if (sscanf(line, "%" SCNx64 " %" SCNx64 " %23s %c",
				   &start, &end, type, &extra) == 3 &&
			    start <= end) {
				out[n].start = start;
				out[n].end = end;
				snprintf(out[n].type, sizeof(out[n].type), "%s",
					 type);
				n++;
			}
		}
		p += l + (nl ? 1 : 0);
	}
	return (int)n;
}

/* The first six lines of `resource`: BARs 0-5 (later lines: ROM, windows). */
static void pf_parse_resource(const char *text, struct vfio_pf_bar *bars)
{
	const char *p = text;

	for (unsigned int i = 0; i < 6 && *p; i++) {
		unsigned long long s, e, f;

		if (sscanf(p, "%llx %llx %llx", &s, &e, &f) == 3) {
			bars[i].start = s;
			bars[i].end = e;
			bars[i].flags = f;
		}
		p = strchr(p, '\n');
		if (!p)
			break;
		p++;
	}
}

/* vfio-pci and its variants (nvgrace-gpu-vfio-pci, mlx5_vfio_pci, ...). */
static bool pf_driver_is_vfio(const char *drv)
{
	return strstr(drv, "vfio") != NULL;
}

/* What VFIO accepts in a group besides itself: no driver, pci-stub, pcieport. */
static bool pf_driver_ok_in_group(const char *drv)
{
	return !*drv || pf_driver_is_vfio(drv) || !strcmp(drv, "pci-stub") ||
	       !strcmp(drv, "pcieport");
}

/* PCI-to-PCI bridges (06/04, and 06/09 semi-transparent): type 1 headers. */
static bool pf_class_is_bridge(uint32_t class_code)
{
	return (class_code >> 8) == 0x0604 || (class_code >> 8) == 0x0609;
}

static int pf_member_cmp(const void *a, const void *b)
{
	const struct vfio_pf_member *x = a, *y = b;

	return strcmp(x->bdf, y->bdf);
}

const char *vfio_pf_code_name(enum vfio_pf_code code)
{
	switch (code) {
	case VFIO_PF_NO_DEVICE:
		return "no-device";
	case VFIO_PF_NO_IOMMU:
		return "no-iommu";
	case VFIO_PF_NOT_BOUND:
		return "not-bound";
	case VFIO_PF_MEMBER_BOUND:
		return "member-bound";
	case VFIO_PF_DIRECT_MAPPING:
		return "direct-mapping";
	case VFIO_PF_NO_VFIO_NODE:
		return "no-vfio-node";
	case VFIO_PF_NO_GROUP_NODE:
		return "no-group-node";
	case VFIO_PF_GROUP_BUSY:
		return "group-busy";
	case VFIO_PF_GROUP_NO_ACCESS:
		return "group-no-access";
	case VFIO_PF_BRIDGE:
		return "bridge";
	}
	return "unknown";
}

/* ---- findings ---- */

static void __attribute__((format(printf, 5, 6)))
pf_add(struct vfio_pf_device *d, enum vfio_pf_code code, bool fatal,
       const char *fix, const char *fmt, ...)
{
	struct vfio_pf_finding *f;
	va_list ap;

	if (fatal)
		d->ready = false;
	if (d->nfindings == VFIO_PF_MAX_FINDINGS)
		return;
	f = &d->findings[d->nfindings++];
	f->code = code;
	f->fatal = fatal;
	va_start(ap, fmt);
	vsnprintf(f->msg, sizeof(f->msg), fmt, ap);
	va_end(ap);
	snprintf(f->fix, sizeof(f->fix), "%s", fix ? fix : "");
}

/* The commands that give `bdf` to vfio-pci; `bound`: it has a driver now. */
static void pf_bind_fix(char *buf, size_t len, const char *bdf, bool bound)
{
	char unbind[128] = "";

	if (bound)
		snprintf(unbind, sizeof(unbind),
			 "echo %s > /sys/bus/pci/devices/%s/driver/unbind\n",
			 bdf, bdf);
	snprintf(buf, len,
		 "modprobe vfio-pci\n"
		 "%s"
		 "echo vfio-pci > /sys/bus/pci/devices/%s/driver_override\n"
		 "echo %s > /sys/bus/pci/drivers_probe",
		 unbind, bdf, bdf);
}

/* Appends `s` to a ", "-separated list, or "..." once it no longer fits. */
static void pf_list_add(char *list, size_t len, bool *cut, const char *s)
{
	size_t pos = strlen(list), need = strlen(s) + (pos ? 2 : 0);

	if (*cut)
		return;
	/* Keep room for ", ..." in case a later item does not fit. */
	if (pos + need + 6 > len) {
		snprintf(list + pos, len - pos, "%s...", pos ? ", " : "");
		*cut = true;
		return;
	}
	snprintf(list + pos, len - pos, "%s%s", pos ? ", " : "", s);
}

static void pf_check_direct(struct vfio_pf_device *d)
{
	char list[PF_LIST_MAX] = "", fix[VFIO_PF_TEXT_LEN];
	unsigned int n = 0;
	bool cut = false;

	for (unsigned int i = 0; i < d->nregions; i++) {
		char one[48];

		if (strcmp(d->regions[i].type, "direct"))
			continue;
		snprintf(one, sizeof(one), "0x%" PRIx64 "-0x%" PRIx64,
			 d->regions[i].start, d->regions[i].end);
		pf_list_add(list, sizeof(list), &cut, one);
		n++;
	}
	if (!n)
		return;
	snprintf(fix, sizeof(fix),
		 "none on this host: the kernel refuses, and writing identity "
		 "to /sys/kernel/iommu_groups/%d/type is refused too\n"
		 "the platform vendor's firmware must drop the requirement; "
		 "until then the device stays with its host driver",
		 d->group);
	pf_add(d, VFIO_PF_DIRECT_MAPPING, true, fix,
	       "%s cannot be passed through on this platform with this kernel: "
	       "the firmware requires an identity (1:1) IOMMU mapping for it "
	       "(IOMMU group %d has %u direct reserved region%s: %s), and the "
	       "kernel refuses to give such a device to VFIO (\"Invalid "
	       "argument\"; its log says \"Firmware has requested this device "
	       "have a 1:1 IOMMU mapping\")",
	       d->bdf, d->group, n, n == 1 ? "" : "s", list);
}

/* Any IOMMU registered with the kernel (/sys/class/iommu/<name>). */
static bool pf_host_has_iommu(const struct vfio_pf_roots *roots)
{
	char path[PATH_MAX];
	struct dirent *e;
	bool any = false;
	DIR *dir;

	if (pf_path(path, sizeof(path), "%s/class/iommu", roots->sysfs))
		return false;
	dir = opendir(path);
	if (!dir)
		return false;
	while (!any && (e = readdir(dir)))
		any = e->d_name[0] != '.';
	closedir(dir);
	return any;
}

static void pf_check_bound(struct vfio_pf_device *d)
{
	char fix[VFIO_PF_TEXT_LEN];

	if (pf_driver_is_vfio(d->driver))
		return;
	pf_bind_fix(fix, sizeof(fix), d->bdf, d->driver[0]);
	if (d->driver[0])
		pf_add(d, VFIO_PF_NOT_BOUND, true, fix,
		       "%s is bound to %s, not vfio-pci: VFIO can only pass "
		       "through a device bound to vfio-pci (the host loses it "
		       "meanwhile)",
		       d->bdf, d->driver);
	else
		pf_add(d, VFIO_PF_NOT_BOUND, true, fix,
		       "%s has no driver: VFIO can only pass through a device "
		       "bound to vfio-pci",
		       d->bdf);
}

/*
 * One finding per other group member on a host driver while there is room;
 * the rest (rare: big groups) share one finding.
 */
static void pf_check_members(struct vfio_pf_device *d, unsigned int extra_bad,
			     const char *extra_list)
{
	char fix[VFIO_PF_TEXT_LEN], list[PF_LIST_MAX] = "";
	unsigned int bad = extra_bad, slots, shown = 0, rest = 0;
	bool cut = false;

	for (unsigned int i = 0; i < d->nmembers; i++)
		if (!d->members[i].ok && strcmp(d->members[i].bdf, d->bdf))
			bad++;
	if (!bad)
		return;
	slots = VFIO_PF_MAX_FINDINGS - d->nfindings;
	slots = slots > PF_FIX_SLOTS ? slots - PF_FIX_SLOTS : 1;
	for (unsigned int i = 0; i < d->nmembers; i++) {
		const struct vfio_pf_member *m = &d->members[i];
		char one[VFIO_PF_BDF_LEN + VFIO_PF_NAME_LEN + 4];

		if (m->ok || !strcmp(m->bdf, d->bdf))
			continue;
		if (bad <= slots || shown + 1 < slots) {
			pf_bind_fix(fix, sizeof(fix), m->bdf, true);
			pf_add(d, VFIO_PF_MEMBER_BOUND, true, fix,
			       "%s, in IOMMU group %d with %s, is bound to %s: "
			       "VFIO needs the whole group, so every device in "
			       "it must be bound to vfio-pci (or have no "
			       "driver)",
			       m->bdf, d->group, d->bdf, m->driver);
			shown++;
			continue;
		}
		snprintf(one, sizeof(one), "%s (%s)", m->bdf, m->driver);
		pf_list_add(list, sizeof(list), &cut, one);
		rest++;
	}
	if (extra_bad) {
		pf_list_add(list, sizeof(list), &cut, extra_list);
		rest += extra_bad;
	}
	if (!rest)
		return;
	pf_add(d, VFIO_PF_MEMBER_BOUND, true,
	       "for each of them (BDF): echo BDF > "
	       "/sys/bus/pci/devices/BDF/driver/unbind\n"
	       "then, to give it to vfio-pci: echo vfio-pci > "
	       "/sys/bus/pci/devices/BDF/driver_override; echo BDF > "
	       "/sys/bus/pci/drivers_probe",
	       "%u more devices in IOMMU group %d with %s are bound to host "
	       "drivers: %s; VFIO needs the whole group",
	       rest, d->group, d->bdf, list);
}

int vfio_pf_group_holders(const struct vfio_pf_roots *roots, int group,
			  char *buf, size_t len, bool *self)
{
	char want[32], path[PATH_MAX];
	pid_t me = getpid();
	bool cut = false;
	struct dirent *e;
	int n = 0;
	DIR *pd;

	if (self)
		*self = false;
	if (buf && len)
		buf[0] = '\0';
	if (!roots || !roots->proc || group < 0 || !buf || !len)
		return -EINVAL;
	snprintf(want, sizeof(want), "/dev/vfio/%d", group);
	pd = opendir(roots->proc);
	if (!pd)
		return -errno;
	while ((e = readdir(pd))) {
		char comm[32] = "?", one[64];
		bool holds = false;
		long pid;
		struct dirent *f;
		DIR *fd;

		if (!pf_all_digits(e->d_name) ||
		    pf_path(path, sizeof(path), "%s/%s/fd", roots->proc,
			    e->d_name))
			continue;
		fd = opendir(
			path); /* fails for others' processes unless root */
		if (!fd)
			continue;
		while (!holds && (f = readdir(fd))) {
			char link[PATH_MAX], target[64];
			ssize_t l;

			if (f->d_name[0] == '.' ||
			    pf_path(link, sizeof(link), "%s/%s", path,
				    f->d_name))
				continue;
			l = readlink(link, target, sizeof(target) - 1);
			if (l < 0)
				continue;
			target[l] = '\0';
			holds = !strcmp(target, want);
		}
		closedir(fd);
		if (!holds)
			continue;
		pid = strtol(e->d_name, NULL, 10);
		if (pid == (long)me) {
			if (self)
				*self = true;
			continue;
		}
		if (!pf_path(path, sizeof(path), "%s/%s/comm", roots->proc,
			     e->d_name) &&
		    pf_read_line(path, comm, sizeof(comm)) <= 0)
			snprintf(comm, sizeof(comm), "?");
		snprintf(one, sizeof(one), "pid %ld (%s)", pid, comm);
		pf_list_add(buf, len, &cut, one);
		n++;
	}
	closedir(pd);
	return n;
}

/* Opens and closes DEV/vfio/N at once: who else has it, may we have it. */
static void pf_check_group_open(const struct vfio_pf_roots *roots,
				struct vfio_pf_device *d)
{
	char path[PATH_MAX], holders[PF_LIST_MAX], fix[VFIO_PF_TEXT_LEN];
	bool self = false;
	int fd, err, n = -EINVAL;

	if (pf_path(path, sizeof(path), "%s/vfio/%d", roots->dev, d->group))
		return;
	fd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd >= 0) {
		close(fd);
		return;
	}
	err = errno;
	if (err == EACCES || err == EPERM) {
		snprintf(fix, sizeof(fix),
			 "sudo chown \"$(id -un)\" /dev/vfio/%d    # or run "
			 "microvm as root",
			 d->group);
		pf_add(d, VFIO_PF_GROUP_NO_ACCESS, true, fix,
		       "%s: this user (uid %u) may not open /dev/vfio/%d, its "
		       "IOMMU group's node: %s",
		       d->bdf, (unsigned int)getuid(), d->group, strerror(err));
		return;
	}
	if (err != EBUSY)
		return; /* not a char device (EROFS, ...): nothing to say */
	if (roots->proc)
		n = vfio_pf_group_holders(roots, d->group, holders,
					  sizeof(holders), &self);
	if (n == 0 && self)
		return; /* this process holds it: a group shared by two devices */
	if (n > 0) {
		pf_add(d, VFIO_PF_GROUP_BUSY, true,
		       "stop that process first (often a running VM that uses "
		       "the group), then try again",
		       "%s: IOMMU group %d is busy: /dev/vfio/%d is held by %s "
		       "(a VFIO group can be open in one process only)",
		       d->bdf, d->group, d->group, holders);
		return;
	}
	snprintf(fix, sizeof(fix),
		 "fuser -v /dev/vfio/%d    # names the process holding it "
		 "(often a running VM); stop it first",
		 d->group);
	pf_add(d, VFIO_PF_GROUP_BUSY, true, fix,
	       "%s: IOMMU group %d is busy: another process holds /dev/vfio/%d "
	       "open (a VFIO group can be open in one process only)",
	       d->bdf, d->group, d->group);
}

/* ---- reading the host ---- */

static void pf_read_members(const struct vfio_pf_roots *roots,
			    struct vfio_pf_device *d, unsigned int *extra_bad,
			    char *extra_list, size_t extra_len)
{
	char path[PATH_MAX];
	bool cut = false;
	struct dirent *e;
	DIR *dir;

	if (pf_path(path, sizeof(path), "%s/kernel/iommu_groups/%d/devices",
		    roots->sysfs, d->group))
		return;
	dir = opendir(path);
	if (!dir)
		return;
	while ((e = readdir(dir))) {
		struct vfio_pf_member m = {0};
		uint64_t cls;

		if (vfio_bdf_parse(e->d_name, m.bdf, sizeof(m.bdf)) ||
		    strcmp(m.bdf, e->d_name))
			continue;
		if (!pf_path(path, sizeof(path), "%s/bus/pci/devices/%s/driver",
			     roots->sysfs, m.bdf) &&
		    pf_link_base(path, m.driver, sizeof(m.driver)) < 0)
			m.driver[0] = '\0';
		if (!pf_path(path, sizeof(path), "%s/bus/pci/devices/%s/class",
			     roots->sysfs, m.bdf) &&
		    !pf_read_hex(path, &cls))
			m.class_code = (uint32_t)cls & 0xffffff;
		m.ok = pf_driver_ok_in_group(m.driver);
		if (d->nmembers < VFIO_PF_MAX_MEMBERS) {
			d->members[d->nmembers++] = m;
		} else if (!m.ok) {
			char one[VFIO_PF_BDF_LEN + VFIO_PF_NAME_LEN + 4];

			snprintf(one, sizeof(one), "%s (%s)", m.bdf, m.driver);
			pf_list_add(extra_list, extra_len, &cut, one);
			(*extra_bad)++;
		}
	}
	closedir(dir);
	qsort(d->members, d->nmembers, sizeof(d->members[0]), pf_member_cmp);
}

static void pf_read_group(const struct vfio_pf_roots *roots,
			  struct vfio_pf_device *d)
{
	char path[PATH_MAX], text[PF_READ_MAX];
	int r;

	if (!pf_path(path, sizeof(path), "%s/kernel/iommu_groups/%d/type",
		     roots->sysfs, d->group) &&
	    pf_read_line(path, d->group_type, sizeof(d->group_type)) < 0)
		d->group_type[0] = '\0';
	if (!pf_path(path, sizeof(path),
		     "%s/kernel/iommu_groups/%d/reserved_regions", roots->sysfs,
		     d->group) &&
	    pf_read(path, text, sizeof(text)) >= 0) {
		r = vfio_pf_parse_regions(text, d->regions,
					  VFIO_PF_MAX_REGIONS);
		d->nregions = r > 0 ? (unsigned int)r : 0;
	}
}

/* The device's own files: ids, driver, group, BARs, VFIO cdev. */
static void pf_read_device(const struct vfio_pf_roots *roots,
			   struct vfio_pf_device *d, const char *dir)
{
	char path[PATH_MAX], text[PF_READ_MAX], num[16];
	uint64_t v;
	struct dirent *e;
	DIR *vd;

	if (!pf_path(path, sizeof(path), "%s/vendor", dir) &&
	    !pf_read_hex(path, &v))
		d->vendor = (uint16_t)v;
	if (!pf_path(path, sizeof(path), "%s/device", dir) &&
	    !pf_read_hex(path, &v))
		d->device = (uint16_t)v;
	if (!pf_path(path, sizeof(path), "%s/class", dir) &&
	    !pf_read_hex(path, &v))
		d->class_code = (uint32_t)v & 0xffffff;
	if (!pf_path(path, sizeof(path), "%s/driver", dir) &&
	    pf_link_base(path, d->driver, sizeof(d->driver)) < 0)
		d->driver[0] = '\0';
	if (!pf_path(path, sizeof(path), "%s/iommu_group", dir) &&
	    !pf_link_base(path, num, sizeof(num)) && pf_all_digits(num))
		d->group = (int)strtol(num, NULL, 10);
	if (!pf_path(path, sizeof(path), "%s/resource", dir) &&
	    pf_read(path, text, sizeof(text)) >= 0)
		pf_parse_resource(text, d->bars);
	if (pf_path(path, sizeof(path), "%s/vfio-dev", dir))
		return;
	vd = opendir(path);
	if (!vd)
		return;
	while ((e = readdir(vd))) {
		if (!strncmp(e->d_name, "vfio", 4) &&
		    strlen(e->d_name) < sizeof(d->cdev)) {
			snprintf(d->cdev, sizeof(d->cdev), "%s", e->d_name);
			break;
		}
	}
	closedir(vd);
	if (d->cdev[0] && !pf_path(path, sizeof(path), "%s/vfio/devices/%s",
				   roots->dev, d->cdev))
		d->cdev_node = pf_exists(path);
}

int vfio_preflight(const struct vfio_pf_roots *roots, const char *bdf,
		   struct vfio_pf_device *out)
{
	char dir[PATH_MAX], path[PATH_MAX], extra[PF_LIST_MAX] = "";
	char fix[VFIO_PF_TEXT_LEN];
	unsigned int extra_bad = 0;
	struct vfio_pf_device *d = out;
	bool vfio_bound;

	if (!roots || !roots->sysfs || !roots->dev || !bdf || !out)
		return -EINVAL;
	memset(d, 0, sizeof(*d));
	if (vfio_bdf_parse(bdf, d->bdf, sizeof(d->bdf)))
		return -EINVAL;
	d->group = -1;
	d->ready = true;
	if (pf_path(dir, sizeof(dir), "%s/bus/pci/devices/%s", roots->sysfs,
		    d->bdf))
		return -EINVAL;
	d->exists = pf_exists(dir);
	if (!d->exists) {
		pf_add(d, VFIO_PF_NO_DEVICE, true,
		       "lspci -D    # or: ls /sys/bus/pci/devices; both list "
		       "this host's PCI addresses",
		       "%s is not a PCI device on this host: "
		       "/sys/bus/pci/devices/%s does not exist",
		       d->bdf, d->bdf);
		return 0;
	}
	pf_read_device(roots, d, dir);
	if (d->group >= 0) {
		pf_read_group(roots, d);
		pf_read_members(roots, d, &extra_bad, extra, sizeof(extra));
	}
	if (!pf_path(path, sizeof(path), "%s/vfio/vfio", roots->dev))
		d->vfio_node = pf_exists(path);
	if (!pf_path(path, sizeof(path), "%s/iommu", roots->dev))
		d->iommu_node = pf_exists(path);
	if (d->group >= 0 &&
	    !pf_path(path, sizeof(path), "%s/vfio/%d", roots->dev, d->group))
		d->group_node = pf_exists(path);

	/*
	 * Findings, most basic first; each one that makes the later advice
	 * moot (a bridge, no IOMMU, a firmware 1:1 mapping) ends the list.
	 */
	if (pf_class_is_bridge(d->class_code)) {
		snprintf(fix, sizeof(fix),
			 "ls -d /sys/bus/pci/devices/%s/????:*    # the "
			 "devices behind it: pass those through instead",
			 d->bdf);
		pf_add(d, VFIO_PF_BRIDGE, true, fix,
		       "%s is a PCI bridge (class %06x): passing a bridge "
		       "through is not supported",
		       d->bdf, d->class_code);
		return 0;
	}
	if (d->group < 0 && !d->driver[0] && pf_host_has_iommu(roots)) {
		/*
		 * Device-tree hosts (arm64 with an SMMU) make a device's group
		 * only when a driver probes it: binding vfio-pci makes it.
		 */
		pf_bind_fix(fix, sizeof(fix), d->bdf, false);
		pf_add(d, VFIO_PF_NOT_BOUND, true, fix,
		       "%s has no driver and no IOMMU group yet: this host has "
		       "an IOMMU (/sys/class/iommu), which gives a device its "
		       "group when a driver binds it; bind it to vfio-pci",
		       d->bdf);
		return 0;
	}
	if (d->group < 0) {
		pf_add(d, VFIO_PF_NO_IOMMU, true,
		       "enable the IOMMU in the firmware setup (VT-d on Intel, "
		       "AMD-Vi/IOMMU on AMD, the SMMU on Arm)\n"
		       "and on Intel boot the host with intel_iommu=on "
		       "(iommu=pt keeps host DMA fast); AMD's IOMMU is on "
		       "once the firmware enables it",
		       "%s has no IOMMU group (no "
		       "/sys/bus/pci/devices/%s/iommu_group): the host has no "
		       "IOMMU enabled for it, and VFIO needs one",
		       d->bdf, d->bdf);
		return 0;
	}
	pf_check_direct(d);
	if (!d->ready)
		return 0;
	pf_check_bound(d);
	vfio_bound = pf_driver_is_vfio(d->driver);
	pf_check_members(d, extra_bad, extra);
	/* Binding to vfio-pci loads vfio and makes both nodes: said already. */
	if (!vfio_bound)
		return 0;
	if (!d->vfio_node) {
		pf_add(d, VFIO_PF_NO_VFIO_NODE, true,
		       "modprobe vfio-pci    # loads vfio, which makes "
		       "/dev/vfio/vfio",
		       "%s is bound to %s but /dev/vfio/vfio does not exist: "
		       "vfio is not loaded, /dev is not the host's, or the "
		       "kernel lacks the legacy VFIO container "
		       "(CONFIG_VFIO_CONTAINER) microvm uses",
		       d->bdf, d->driver);
	} else if (!d->group_node) {
		snprintf(fix, sizeof(fix),
			 "echo %s > /sys/bus/pci/devices/%s/driver/unbind\n"
			 "echo vfio-pci > /sys/bus/pci/devices/%s/"
			 "driver_override\n"
			 "echo %s > /sys/bus/pci/drivers_probe",
			 d->bdf, d->bdf, d->bdf, d->bdf);
		pf_add(d, VFIO_PF_NO_GROUP_NODE, true, fix,
		       "%s is bound to %s but /dev/vfio/%d (its IOMMU group's "
		       "node) does not exist: rebinding makes it, unless /dev "
		       "is not the host's",
		       d->bdf, d->driver, d->group);
	}
	if (d->group_node)
		pf_check_group_open(roots, d);
	return 0;
}

/* ---- planner request ---- */

int vfio_pf_dev_req(const struct vfio_pf_device *d, const char *name,
		    struct pci_dev_req *out)
{
	char err[128];

	if (!d || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (!d->exists)
		return -ENODEV;
	snprintf(out->name, sizeof(out->name), "%s", name ? name : "");
	snprintf(out->host_bdf, sizeof(out->host_bdf), "%s", d->bdf);
	for (unsigned int i = 0; i < 6; i++) {
		const struct vfio_pf_bar *b = &d->bars[i];
		uint64_t size;

		if (!(b->flags & IORESOURCE_MEM) || (!b->start && !b->end))
			continue; /* I/O, or not implemented */
		if (b->end < b->start)
			return -EINVAL;
		size = b->end - b->start + 1;
		if (!size || (size & (size - 1)))
			return -EINVAL;
		out->bar[i].size = size;
		if (b->flags & IORESOURCE_MEM_64)
			out->bar[i].kind = b->flags & IORESOURCE_PREFETCH
						   ? PCI_BAR_KIND_MEM64_PREF
						   : PCI_BAR_KIND_MEM64;
		else
			out->bar[i].kind = b->flags & IORESOURCE_PREFETCH
						   ? PCI_BAR_KIND_MEM32_PREF
						   : PCI_BAR_KIND_MEM32;
	}
	return pci_dev_req_check(out, err, sizeof(err));
}

/* ---- output ---- */


/* `text` line by line, the first after `first`, the rest after `rest`. */
static void pf_lines(struct textbuf *o, const char *first, const char *rest,
		     const char *text)
{
	const char *p = text;

	while (*p) {
		const char *nl = strchr(p, '\n');
		int n = nl ? (int)(nl - p) : (int)strlen(p);

		textbuf_printf(o, "%s%.*s\n", p == text ? first : rest, n, p);
		p += n + (nl ? 1 : 0);
	}
}

static void pf_text_one(struct textbuf *o, const struct vfio_pf_device *d)
{
	if (!d->exists) {
		textbuf_printf(o, "%s  not found\n", d->bdf);
	} else {
		textbuf_printf(o, "%s  %04x:%04x class %06x  driver %s\n", d->bdf,
			  d->vendor, d->device, d->class_code,
			  d->driver[0] ? d->driver : "none");
		if (d->group < 0) {
			textbuf_printf(o, "  IOMMU group: none\n");
		} else {
			textbuf_printf(o, "  IOMMU group %d", d->group);
			if (d->group_type[0])
				textbuf_printf(o, " (%s)", d->group_type);
			textbuf_printf(o, ":");
			for (unsigned int i = 0; i < d->nmembers; i++)
				textbuf_printf(o, "%s %s (%s)", i ? "," : "",
					  d->members[i].bdf,
					  d->members[i].driver[0]
						  ? d->members[i].driver
						  : "no driver");
			if (!d->nmembers)
				textbuf_printf(o, " no devices listed");
			textbuf_printf(o, "\n  reserved regions:");
			for (unsigned int i = 0; i < d->nregions; i++)
				textbuf_printf(
					o, "%s 0x%" PRIx64 "-0x%" PRIx64 " %s",
					i ? "," : "", d->regions[i].start,
					d->regions[i].end, d->regions[i].type);
			if (!d->nregions)
				textbuf_printf(o, " none");
			textbuf_printf(o, "\n");
		}
		textbuf_printf(o, "  /dev/vfio/vfio %s, ",
			  d->vfio_node ? "yes" : "no");
		if (d->group >= 0)
			textbuf_printf(o, "/dev/vfio/%d %s, ", d->group,
				  d->group_node ? "yes" : "no");
		textbuf_printf(o, "/dev/iommu %s, ", d->iommu_node ? "yes" : "no");
		if (d->cdev[0])
			textbuf_printf(o, "cdev %s (/dev/vfio/devices/%s %s)\n",
				  d->cdev, d->cdev,
				  d->cdev_node ? "yes" : "no");
		else
			textbuf_printf(o, "cdev none\n");
	}
	for (unsigned int i = 0; i < d->nfindings; i++) {
		const struct vfio_pf_finding *f = &d->findings[i];

		textbuf_printf(o, "  %s: %s\n", f->fatal ? "error" : "warning",
			  f->msg);
		pf_lines(o, "    fix: ", "         ", f->fix);
	}
	textbuf_printf(o, "  %s\n",
		  d->ready ? "ready for passthrough" : "not ready");
}

int vfio_pf_format_text(const struct vfio_pf_device *d, unsigned int n,
			char *buf, size_t len)
{
	struct textbuf o;

	if (!d && n)
		return -EINVAL;
	textbuf_init(&o, buf, len);
	for (unsigned int i = 0; i < n; i++) {
		if (i)
			textbuf_printf(&o, "\n");
		pf_text_one(&o, &d[i]);
	}
	return textbuf_finish(&o);
}

/* A JSON string; "" becomes null when `empty_null`. */
static void pf_json_str(struct textbuf *o, const char *s, bool empty_null)
{
	if (empty_null && !*s) {
		textbuf_printf(o, "null");
		return;
	}
	textbuf_printf(o, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			textbuf_printf(o, "\\%c", c);
		else if (c == '\n')
			textbuf_printf(o, "\\n");
		else if (c < 0x20 || c == 0x7f)
			textbuf_printf(o, "\\u%04x", c);
		else
			textbuf_printf(o, "%c", c);
	}
	textbuf_printf(o, "\"");
}

static const char *pf_bool(bool b)
{
	return b ? "true" : "false";
}

static void pf_json_one(struct textbuf *o, const struct vfio_pf_device *d)
{
	textbuf_printf(o, "    {\n      \"bdf\": ");
	pf_json_str(o, d->bdf, false);
	textbuf_printf(o, ",\n      \"exists\": %s,\n", pf_bool(d->exists));
	if (d->exists)
		textbuf_printf(
			o,
			"      \"vendor\": \"0x%04x\", \"device\": \"0x%04x\", "
			"\"class\": \"0x%06x\",\n",
			d->vendor, d->device, d->class_code);
	else
		textbuf_printf(o, "      \"vendor\": null, \"device\": null, "
			     "\"class\": null,\n");
	textbuf_printf(o, "      \"driver\": ");
	pf_json_str(o, d->driver, true);
	if (d->group >= 0)
		textbuf_printf(o, ",\n      \"iommu_group\": %d", d->group);
	else
		textbuf_printf(o, ",\n      \"iommu_group\": null");
	textbuf_printf(o, ",\n      \"group_type\": ");
	pf_json_str(o, d->group_type, true);
	textbuf_printf(o, ",\n      \"members\": [");
	for (unsigned int i = 0; i < d->nmembers; i++) {
		const struct vfio_pf_member *m = &d->members[i];

		textbuf_printf(o, "%s\n        {\"bdf\": ", i ? "," : "");
		pf_json_str(o, m->bdf, false);
		textbuf_printf(o, ", \"driver\": ");
		pf_json_str(o, m->driver, true);
		textbuf_printf(o, ", \"ok\": %s}", pf_bool(m->ok));
	}
	textbuf_printf(o, "%s],\n      \"reserved_regions\": [",
		  d->nmembers ? "\n      " : "");
	for (unsigned int i = 0; i < d->nregions; i++) {
		const struct vfio_pf_region *r = &d->regions[i];

		textbuf_printf(o,
			  "%s\n        {\"start\": \"0x%" PRIx64
			  "\", \"end\": \"0x%" PRIx64 "\", \"type\": ",
			  i ? "," : "", r->start, r->end);
		pf_json_str(o, r->type, false);
		textbuf_printf(o, "}");
	}
	textbuf_printf(o,
		  "%s],\n      \"dev_vfio\": %s, \"dev_group\": %s, "
		  "\"dev_iommu\": %s,\n      \"cdev\": ",
		  d->nregions ? "\n      " : "", pf_bool(d->vfio_node),
		  pf_bool(d->group_node), pf_bool(d->iommu_node));
	pf_json_str(o, d->cdev, true);
	textbuf_printf(o, ", \"cdev_node\": %s,\n      \"ready\": %s,\n",
		  pf_bool(d->cdev_node), pf_bool(d->ready));
	textbuf_printf(o, "      \"findings\": [");
	for (unsigned int i = 0; i < d->nfindings; i++) {
		const struct vfio_pf_finding *f = &d->findings[i];

		textbuf_printf(o, "%s\n        {\"code\": \"%s\", \"fatal\": %s, ",
			  i ? "," : "", vfio_pf_code_name(f->code),
			  pf_bool(f->fatal));
		textbuf_printf(o, "\"message\": ");
		pf_json_str(o, f->msg, false);
		textbuf_printf(o, ", \"fix\": ");
		pf_json_str(o, f->fix, true);
		textbuf_printf(o, "}");
	}
	textbuf_printf(o, "%s]\n    }", d->nfindings ? "\n      " : "");
}

int vfio_pf_format_json(const struct vfio_pf_device *d, unsigned int n,
			char *buf, size_t len)
{
	struct textbuf o;

	if (!d && n)
		return -EINVAL;
	textbuf_init(&o, buf, len);
	textbuf_printf(&o, "{\n  \"devices\": [");
	for (unsigned int i = 0; i < n; i++) {
		textbuf_printf(&o, "%s\n", i ? "," : "");
		pf_json_one(&o, &d[i]);
	}
	textbuf_printf(&o, "%s]\n}\n", n ? "\n  " : "");
	return textbuf_finish(&o);
}

void vfio_pf_summary(const struct vfio_pf_device *d, char *buf, size_t len)
{
	const struct vfio_pf_finding *f = NULL;
	size_t bl;
	int nl;

	if (!buf || !len)
		return;
	buf[0] = '\0';
	if (!d)
		return;
	for (unsigned int i = 0; i < d->nfindings && !f; i++)
		if (d->findings[i].fatal)
			f = &d->findings[i];
	if (!f) {
		snprintf(buf, len, "%s: %s", d->bdf,
			 d->ready ? "ready for passthrough" : "not ready");
		return;
	}
	bl = strlen(d->bdf);
	nl = (int)strcspn(f->fix, "\n");
	snprintf(buf, len, "%s%s%s%s%.*s%s%s", d->bdf,
		 !strncmp(f->msg, d->bdf, bl) ? "" : ": ",
		 !strncmp(f->msg, d->bdf, bl) ? f->msg + bl : f->msg,
		 f->fix[0] ? " (fix: " : "", nl, f->fix,
		 f->fix[nl] ? "; ..." : "", f->fix[0] ? ")" : "");
}
