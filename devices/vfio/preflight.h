/* preflight.h: what the host says about a device before VFIO is tried: driver, IOMMU group and its members, reserved regions, device nodes. */
#ifndef DEVICES_VFIO_PREFLIGHT_H
#define DEVICES_VFIO_PREFLIGHT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/pci/plan.h"

/*
 * The preflight only reads files (sysfs, /dev, /proc) below roots it is
 * given, so tests run it against fixture trees kept in the tree
 * (tests/unit/fixtures/vfio/). It never opens a VFIO group for use and
 * makes no ioctls: if DEV/vfio/N exists it is opened (O_RDWR) and closed at
 * once, only to learn whether another process holds it (EBUSY: a legacy
 * group is exclusive) or this user may not open it (EACCES/EPERM).
 * Messages and fixes name the host's paths (/sys, /dev), whatever the roots.
 */
struct vfio_pf_roots {
	const char *sysfs; /* "/sys" */
	const char *dev; /* "/dev" */
	const char *proc; /* "/proc": who holds a busy group; NULL: skip */
};

#define VFIO_PF_BDF_LEN	     16 /* "0000:17:00.0" + NUL */
#define VFIO_PF_NAME_LEN     48
#define VFIO_PF_MAX_MEMBERS  64
#define VFIO_PF_MAX_REGIONS  32
#define VFIO_PF_MAX_FINDINGS 8
#define VFIO_PF_TEXT_LEN     768

/* Problems the preflight can find; each has a message and, where one exists, a fix. */
enum vfio_pf_code {
	VFIO_PF_NO_DEVICE, /* no /sys/bus/pci/devices/BDF */
	VFIO_PF_NO_IOMMU, /* no iommu_group link: IOMMU off or absent */
	VFIO_PF_NOT_BOUND, /* no driver, or a driver other than vfio-pci */
	VFIO_PF_MEMBER_BOUND, /* another group member on a host driver */
	VFIO_PF_DIRECT_MAPPING, /* reserved region of type "direct" */
	VFIO_PF_NO_VFIO_NODE, /* /dev/vfio/vfio missing: vfio not loaded */
	VFIO_PF_NO_GROUP_NODE, /* /dev/vfio/N missing */
	VFIO_PF_GROUP_BUSY, /* /dev/vfio/N open elsewhere (EBUSY) */
	VFIO_PF_GROUP_NO_ACCESS, /* /dev/vfio/N not accessible (EACCES) */
	VFIO_PF_BRIDGE, /* the device is a bridge (class 0x0604, 0x0609) */
};

struct vfio_pf_finding {
	enum vfio_pf_code code;
	bool fatal; /* passthrough cannot work until it is fixed */
	char msg[VFIO_PF_TEXT_LEN]; /* one sentence, names what is wrong */
	char fix[VFIO_PF_TEXT_LEN]; /* commands or a sentence; "" if none */
};

/* One line of /sys/kernel/iommu_groups/N/reserved_regions. */
struct vfio_pf_region {
	uint64_t start, end; /* inclusive, as the kernel prints them */
	char type
		[24]; /* "direct", "direct-relaxable", "msi", "reserved", ... */
};

struct vfio_pf_member {
	char bdf[VFIO_PF_BDF_LEN];
	char driver[VFIO_PF_NAME_LEN]; /* "" when no driver is bound */
	uint32_t class_code; /* 24-bit class, 0 if unreadable */
	bool ok; /* no driver, vfio-pci, pci-stub or pcieport */
};

/* One BAR as /sys/bus/pci/devices/BDF/resource lists it. */
struct vfio_pf_bar {
	uint64_t start, end; /* 0, 0: not implemented */
	uint64_t flags; /* IORESOURCE_* bits */
};

struct vfio_pf_device {
	char bdf[VFIO_PF_BDF_LEN]; /* normalized: "0000:17:00.0" */
	bool exists;
	uint16_t vendor, device;
	uint32_t class_code;
	char driver[VFIO_PF_NAME_LEN]; /* "" when unbound */
	int group; /* IOMMU group number, -1: none */
	char group_type[24]; /* "DMA", "DMA-FQ", "identity", ...; "" unknown */
	struct vfio_pf_member members[VFIO_PF_MAX_MEMBERS];
	unsigned int nmembers;
	struct vfio_pf_region regions[VFIO_PF_MAX_REGIONS];
	unsigned int nregions;
	struct vfio_pf_bar bars[6];
	bool vfio_node; /* DEV/vfio/vfio exists */
	bool group_node; /* DEV/vfio/N exists */
	bool iommu_node; /* DEV/iommu exists (iommufd) */
	char cdev[16]; /* "vfio0" from .../vfio-dev/, "" if none */
	bool cdev_node; /* DEV/vfio/devices/<cdev> exists */
	struct vfio_pf_finding findings[VFIO_PF_MAX_FINDINGS];
	unsigned int nfindings;
	bool ready; /* no fatal finding */
};

/*
 * "0000:17:00.0" or "17:00.0" (segment 0) into the normalized form,
 * lower-case hex. -EINVAL for anything else (bad hex, device > 0x1f,
 * function > 7, trailing text).
 */
__attribute__((warn_unused_result)) int vfio_bdf_parse(const char *in,
						       char *out, size_t len);

/*
 * Everything the host says about `bdf` (already normalized) into `out`.
 * Missing files are findings, not errors: returns 0 whenever `out` was
 * filled (check out->ready), -ENOMEM or -EINVAL (bad arguments) otherwise.
 */
__attribute__((warn_unused_result)) int
vfio_preflight(const struct vfio_pf_roots *roots, const char *bdf,
	       struct vfio_pf_device *out);

/* Parse reserved_regions text; returns the number of lines kept (<= max). */
int vfio_pf_parse_regions(const char *text, struct vfio_pf_region *out,
			  unsigned int max);

/*
 * The device's memory BARs from its sysfs `resource` lines as a planner
 * request named `name` (I/O BARs are left out; 64-bit and prefetchable as
 * the flags say). -EINVAL if a memory BAR's size is not a power of two.
 * Also sets host_bdf to the device's BDF and runs pci_dev_req_check() on
 * the result (-EINVAL if it fails); -ENODEV if the device does not exist.
 */
__attribute__((warn_unused_result)) int
vfio_pf_dev_req(const struct vfio_pf_device *d, const char *name,
		struct pci_dev_req *out);

/*
 * Human-readable report of `n` devices (the `microvm vfio-check` output),
 * or JSON (docs/vfio.md). Return the length, or -ENOSPC.
 */
__attribute__((warn_unused_result)) int
vfio_pf_format_text(const struct vfio_pf_device *d, unsigned int n, char *buf,
		    size_t len);
__attribute__((warn_unused_result)) int
vfio_pf_format_json(const struct vfio_pf_device *d, unsigned int n, char *buf,
		    size_t len);

/*
 * The first fatal finding's message and fix in one line, for `run`:
 * "BDF: <message> (fix: <first line of the fix>)" (the "BDF: " prefix is
 * left out when the message starts with the BDF), or "BDF: ready for
 * passthrough".
 */
void vfio_pf_summary(const struct vfio_pf_device *d, char *buf, size_t len);

/* The stable JSON name of a finding: "no-device", "direct-mapping", ... */
const char *vfio_pf_code_name(enum vfio_pf_code code);

/*
 * Processes other than this one that hold /dev/vfio/`group` open, from the
 * PROC/<pid>/fd/ links: "pid 1234 (qemu-system-x86), pid 99 (sleep)" in
 * `buf` (cut short with "..." if it does not fit). `*self` (may be NULL)
 * says whether this process holds it too. Returns how many other holders
 * it found, or -errno (-EINVAL without roots->proc). The preflight calls
 * it on EBUSY; tests call it directly, as no plain file can be made to
 * fail open() with EBUSY.
 */
__attribute__((warn_unused_result)) int
vfio_pf_group_holders(const struct vfio_pf_roots *roots, int group, char *buf,
		      size_t len, bool *self);

#endif
