/* test_vfio_preflight.c: L0 tests of the VFIO preflight against fixture sysfs/dev/proc trees: findings, fixes, BARs as a planner request, text and JSON. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/vfio/preflight.h"

#define FIX "tests/unit/fixtures/vfio/"

/* Roots of fixture case `c` (no /proc). */
#define ROOTS(c)                                 \
	{                                        \
		FIX c "/sys", FIX c "/dev", NULL \
	}

static struct vfio_pf_device *pf_run(const struct vfio_pf_roots *roots,
				     const char *bdf)
{
	struct vfio_pf_device *d = malloc(sizeof(*d));

	cr_assert_not_null(d);
	cr_assert_eq(vfio_preflight(roots, bdf, d), 0, "preflight of %s", bdf);
	return d;
}

/* The only finding of `d`, which must have code `code` and be fatal. */
static const struct vfio_pf_finding *only(const struct vfio_pf_device *d,
					  enum vfio_pf_code code)
{
	cr_assert_eq(d->nfindings, 1, "%s: %u findings, first: %s", d->bdf,
		     d->nfindings, d->nfindings ? d->findings[0].msg : "");
	cr_assert_eq(d->findings[0].code, code, "%s: %s", d->bdf,
		     d->findings[0].msg);
	cr_assert(d->findings[0].fatal);
	cr_assert_not(d->ready);
	return &d->findings[0];
}

#define has(s, sub)   cr_assert(strstr(s, sub), "no \"%s\" in:\n%s", sub, s)
#define hasnt(s, sub) cr_assert_not(strstr(s, sub), "\"%s\" in:\n%s", sub, s)

/* ---- temporary trees, for what git cannot store or a test must vary ---- */

static void __attribute__((format(printf, 2, 3)))
tmp_path(char *buf, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, 512, fmt, ap);
	va_end(ap);
	cr_assert(n > 0 && n < 512);
}

/* mkdir -p of the directory part of `path` (or all of it with `whole`). */
static void mkdirs(const char *path, bool whole)
{
	char p[512];

	snprintf(p, sizeof(p), "%s", path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		mkdir(p, 0755);
		*s = '/';
	}
	if (whole)
		mkdir(p, 0755);
}

static void put(const char *path, const char *text)
{
	FILE *f;

	mkdirs(path, false);
	f = fopen(path, "w");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
}

static void link_to(const char *target, const char *path)
{
	mkdirs(path, false);
	cr_assert_eq(symlink(target, path), 0, "%s: %s", path, strerror(errno));
}

static char *tmp_tree(void)
{
	char *t = strdup("/tmp/vfio-pf-XXXXXX");

	cr_assert_not_null(mkdtemp(t));
	return t;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	return remove(path);
}

static void rm_tree(char *t)
{
	nftw(t, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(t);
}

/* One device below `sys`, as sysfs links it (driver "" for none). */
static void tmp_dev(const char *sys, const char *bdf, const char *driver,
		    int group)
{
	char p[512], t[512];

	tmp_path(p, "%s/bus/pci/devices/%s/class", sys, bdf);
	put(p, "0x020000\n");
	tmp_path(p, "%s/bus/pci/devices/%s/vendor", sys, bdf);
	put(p, "0x8086\n");
	tmp_path(p, "%s/bus/pci/devices/%s/device", sys, bdf);
	put(p, "0x10d3\n");
	if (*driver) {
		tmp_path(p, "%s/bus/pci/drivers/%s", sys, driver);
		mkdirs(p, true);
		tmp_path(t, "../../../../bus/pci/drivers/%s", driver);
		tmp_path(p, "%s/bus/pci/devices/%s/driver", sys, bdf);
		link_to(t, p);
	}
	tmp_path(t, "../../../../kernel/iommu_groups/%d", group);
	tmp_path(p, "%s/bus/pci/devices/%s/iommu_group", sys, bdf);
	link_to(t, p);
	tmp_path(t, "../../../../bus/pci/devices/%s", bdf);
	tmp_path(p, "%s/kernel/iommu_groups/%d/devices/%s", sys, group, bdf);
	link_to(t, p);
}

/* ---- vfio_bdf_parse ---- */

Test(vfio_preflight, bdf_parse_good_forms)
{
	static const char *const good[][2] = {
		{"0000:17:00.0", "0000:17:00.0"}, {"17:00.0", "0000:17:00.0"},
		{"000F:01:00.0", "000f:01:00.0"}, {"Ab:1F.7", "0000:ab:1f.7"},
		{"ffff:ff:1f.7", "ffff:ff:1f.7"},
	};
	char out[VFIO_PF_BDF_LEN];

	for (unsigned int i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		cr_assert_eq(vfio_bdf_parse(good[i][0], out, sizeof(out)), 0,
			     "%s", good[i][0]);
		cr_assert_str_eq(out, good[i][1]);
	}
}

Test(vfio_preflight, bdf_parse_bad_forms)
{
	static const char *const bad[] = {
		"",
		"17:00",
		"17:00.8",
		"17:20.0",
		"17:0.0",
		"1:00.0",
		"0:17:00.0",
		"00000:17:00.0",
		"zz:00.0",
		"0000:17:00.0x",
		"0000:17:00.0 ",
		" 17:00.0",
		"0000-17:00.0",
		"0000:17:00:0",
		"0000:17:00.",
		"0000:17:00.00",
		"0000:0x:00.0",
		":17:00.0",
	};
	char out[VFIO_PF_BDF_LEN];

	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(vfio_bdf_parse(bad[i], out, sizeof(out)), -EINVAL,
			     "'%s' accepted", bad[i]);
	cr_assert_eq(vfio_bdf_parse(NULL, out, sizeof(out)), -EINVAL);
	cr_assert_eq(vfio_bdf_parse("17:00.0", out, 12), -ENOSPC);
}

/* ---- vfio_pf_parse_regions ---- */

Test(vfio_preflight, parse_regions_as_the_kernel_prints_them)
{
	static const char gb10[] =
		"0x0000000008000000 0x00000000080fffff msi\n"
		"0x00000000a1600000 0x00000000b97fffff direct\n"
		"0x0000000200000000 0x0000000302ffffff direct\n";
	struct vfio_pf_region r[4];

	cr_assert_eq(vfio_pf_parse_regions(gb10, r, 4), 3);
	cr_assert_eq(r[0].start, 0x8000000);
	cr_assert_eq(r[0].end, 0x80fffff);
	cr_assert_str_eq(r[0].type, "msi");
	cr_assert_eq(r[1].start, 0xa1600000);
	cr_assert_eq(r[1].end, 0xb97fffff);
	cr_assert_str_eq(r[1].type, "direct");
	cr_assert_eq(r[2].start, 0x200000000ull);
	cr_assert_eq(r[2].end, 0x302ffffffull);
	/* max is respected. */
	cr_assert_eq(vfio_pf_parse_regions(gb10, r, 2), 2);
	/* No trailing newline; malformed lines are skipped, not fatal. */
	cr_assert_eq(
		vfio_pf_parse_regions("garbage\n"
				      "0x10 0x0f msi\n"
				      "0x0 0xff reserved extra\n"
				      "\n"
				      "0x0000000000000000 0x0000000000ffffff "
				      "direct-relaxable",
				      r, 4),
		1);
	cr_assert_eq(r[0].end, 0xffffff);
	cr_assert_str_eq(r[0].type, "direct-relaxable");
	cr_assert_eq(vfio_pf_parse_regions("", r, 4), 0);
	cr_assert_eq(vfio_pf_parse_regions(NULL, r, 4), 0);
}

/* ---- fixture cases ---- */

Test(vfio_preflight, clean_nvme_is_ready)
{
	static const struct vfio_pf_roots roots = ROOTS("clean");
	struct vfio_pf_device *d = pf_run(&roots, "01:00.0");
	struct pci_dev_req req;
	char err[128];

	cr_assert(d->exists);
	cr_assert(d->ready);
	cr_assert_eq(d->nfindings, 0, "%s", d->findings[0].msg);
	cr_assert_str_eq(d->bdf, "0000:01:00.0");
	cr_assert_eq(d->vendor, 0x1b36);
	cr_assert_eq(d->device, 0x0010);
	cr_assert_eq(d->class_code, 0x010802);
	cr_assert_str_eq(d->driver, "vfio-pci");
	cr_assert_eq(d->group, 3);
	cr_assert_str_eq(d->group_type, "DMA-FQ");
	cr_assert_eq(d->nmembers, 1);
	cr_assert_str_eq(d->members[0].bdf, "0000:01:00.0");
	cr_assert_str_eq(d->members[0].driver, "vfio-pci");
	cr_assert_eq(d->members[0].class_code, 0x010802);
	cr_assert(d->members[0].ok);
	cr_assert_eq(d->nregions, 1);
	cr_assert_eq(d->regions[0].start, 0xfee00000);
	cr_assert_str_eq(d->regions[0].type, "msi");
	cr_assert(d->vfio_node && d->group_node);
	cr_assert_not(d->iommu_node);
	cr_assert_str_eq(d->cdev, "");
	cr_assert_eq(d->bars[0].flags, 0x140204);

	/* BAR0 16 KiB 64-bit; the ROM (line 7) is not a BAR. */
	cr_assert_eq(vfio_pf_dev_req(d, "nvme0", &req), 0);
	cr_assert_str_eq(req.name, "nvme0");
	cr_assert_str_eq(req.host_bdf, "0000:01:00.0");
	cr_assert_eq(req.bar[0].kind, PCI_BAR_KIND_MEM64);
	cr_assert_eq(req.bar[0].size, 0x4000);
	for (unsigned int i = 1; i < 6; i++)
		cr_assert_eq(req.bar[i].kind, PCI_BAR_KIND_NONE, "bar%u", i);
	cr_assert_eq(pci_dev_req_check(&req, err, sizeof(err)), 0, "%s", err);
	free(d);
}

Test(vfio_preflight, clean_text_report)
{
	static const struct vfio_pf_roots roots = ROOTS("clean");
	static const char want[] =
		"0000:01:00.0  1b36:0010 class 010802  driver vfio-pci\n"
		"  IOMMU group 3 (DMA-FQ): 0000:01:00.0 (vfio-pci)\n"
		"  reserved regions: 0xfee00000-0xfeefffff msi\n"
		"  /dev/vfio/vfio yes, /dev/vfio/3 yes, /dev/iommu no, cdev "
		"none\n"
		"  ready for passthrough\n";
	struct vfio_pf_device *d = pf_run(&roots, "0000:01:00.0");
	char buf[2048], line[256];

	cr_assert_eq(vfio_pf_format_text(d, 1, buf, sizeof(buf)),
		     (int)strlen(want));
	cr_assert_str_eq(buf, want);
	vfio_pf_summary(d, line, sizeof(line));
	cr_assert_str_eq(line, "0000:01:00.0: ready for passthrough");
	free(d);
}

Test(vfio_preflight, member_on_host_driver_blamed_bridge_not)
{
	static const struct vfio_pf_roots roots = ROOTS("member-bound");
	struct vfio_pf_device *d = pf_run(&roots, "0000:02:01.0");
	const struct vfio_pf_finding *f = only(d, VFIO_PF_MEMBER_BOUND);
	char buf[4096];

	has(f->msg, "0000:02:02.0");
	has(f->msg, "virtio-pci");
	has(f->msg, "IOMMU group 7");
	hasnt(f->msg, "0000:01:00.0");
	has(f->fix, "echo 0000:02:02.0 > "
		    "/sys/bus/pci/devices/0000:02:02.0/driver/unbind\n");
	has(f->fix, "echo vfio-pci > "
		    "/sys/bus/pci/devices/0000:02:02.0/driver_override\n");
	has(f->fix, "echo 0000:02:02.0 > /sys/bus/pci/drivers_probe");
	/* Members sorted; the driverless bridge and vfio-pci are fine. */
	cr_assert_eq(d->nmembers, 3);
	cr_assert_str_eq(d->members[0].bdf, "0000:01:00.0");
	cr_assert_str_eq(d->members[0].driver, "");
	cr_assert_eq(d->members[0].class_code, 0x060400);
	cr_assert(d->members[0].ok);
	cr_assert(d->members[1].ok);
	cr_assert_str_eq(d->members[2].driver, "virtio-pci");
	cr_assert_not(d->members[2].ok);

	cr_assert_gt(vfio_pf_format_text(d, 1, buf, sizeof(buf)), 0);
	has(buf, "  IOMMU group 7 (DMA): 0000:01:00.0 (no driver), "
		 "0000:02:01.0 (vfio-pci), 0000:02:02.0 (virtio-pci)\n");
	has(buf, "  error: 0000:02:02.0, in IOMMU group 7");
	has(buf, "    fix: modprobe vfio-pci\n"
		 "         echo 0000:02:02.0 > ");
	has(buf, "  not ready\n");
	free(d);
}

Test(vfio_preflight, bridge_refused)
{
	static const struct vfio_pf_roots roots = ROOTS("member-bound");
	struct vfio_pf_device *d = pf_run(&roots, "0000:01:00.0");
	const struct vfio_pf_finding *f = only(d, VFIO_PF_BRIDGE);

	has(f->msg, "0000:01:00.0 is a PCI bridge (class 060400)");
	has(f->fix, "/sys/bus/pci/devices/0000:01:00.0/");
	free(d);
}

Test(vfio_preflight, gb10_direct_regions_cannot_be_passed_through)
{
	static const struct vfio_pf_roots roots = ROOTS("direct");
	struct vfio_pf_device *d = pf_run(&roots, "000f:01:00.0");
	const struct vfio_pf_finding *f = only(d, VFIO_PF_DIRECT_MAPPING);
	char line[1024];

	cr_assert_str_eq(d->driver, "vfio-pci");
	cr_assert_eq(d->vendor, 0x10de);
	cr_assert_eq(d->group, 20);
	cr_assert_str_eq(d->group_type, "DMA");
	cr_assert_eq(d->nregions, 3);
	has(f->msg, "000f:01:00.0 cannot be passed through on this platform "
		    "with this kernel");
	has(f->msg, "identity (1:1) IOMMU mapping");
	has(f->msg, "2 direct reserved regions: 0xa1600000-0xb97fffff, "
		    "0x200000000-0x302ffffff)");
	hasnt(f->msg, "0x8000000");
	hasnt(f->msg, "msi");
	has(f->fix, "writing identity to /sys/kernel/iommu_groups/20/type is "
		    "refused too");
	has(f->fix, "firmware");
	hasnt(f->fix, "echo ");
	vfio_pf_summary(d, line, sizeof(line));
	cr_assert_eq(strncmp(line, "000f:01:00.0 cannot be passed through", 37),
		     0, "%s", line);
	has(line, " (fix: none on this host");
	cr_assert_null(strchr(line, '\n'), "%s", line);
	free(d);
}

Test(vfio_preflight, direct_relaxable_and_identity_type_are_fine)
{
	static const struct vfio_pf_roots roots = ROOTS("relaxable");
	struct vfio_pf_device *d = pf_run(&roots, "0000:00:1f.0");
	char buf[2048];

	cr_assert(d->ready);
	cr_assert_eq(d->nfindings, 0, "%s", d->findings[0].msg);
	cr_assert_eq(d->nregions, 2);
	cr_assert_str_eq(d->regions[0].type, "direct-relaxable");
	cr_assert_str_eq(d->group_type, "identity");
	cr_assert_str_eq(d->cdev, "vfio0");
	cr_assert(d->cdev_node);
	cr_assert(d->iommu_node);
	cr_assert_gt(vfio_pf_format_text(d, 1, buf, sizeof(buf)), 0);
	has(buf, "IOMMU group 9 (identity): 0000:00:1f.0 (vfio-pci)\n");
	has(buf, "reserved regions: 0x0-0xffffff direct-relaxable, "
		 "0xfee00000-0xfeefffff msi\n");
	has(buf, "/dev/iommu yes, cdev vfio0 (/dev/vfio/devices/vfio0 yes)\n");
	has(buf, "ready for passthrough");
	free(d);
}

Test(vfio_preflight, bound_to_another_driver)
{
	static const struct vfio_pf_roots roots = ROOTS("unbound");
	struct vfio_pf_device *d = pf_run(&roots, "0000:01:00.0");
	const struct vfio_pf_finding *f = only(d, VFIO_PF_NOT_BOUND);
	char line[1024];

	/* vfio is not loaded either, but the fix loads it: one finding. */
	cr_assert_not(d->vfio_node);
	has(f->msg, "0000:01:00.0 is bound to nvme, not vfio-pci");
	cr_assert_str_eq(
		f->fix,
		"modprobe vfio-pci\n"
		"echo 0000:01:00.0 > /sys/bus/pci/devices/0000:01:00.0/driver/"
		"unbind\n"
		"echo vfio-pci > /sys/bus/pci/devices/0000:01:00.0/"
		"driver_override\n"
		"echo 0000:01:00.0 > /sys/bus/pci/drivers_probe");
	vfio_pf_summary(d, line, sizeof(line));
	cr_assert_eq(strncmp(line, "0000:01:00.0 is bound to nvme", 29), 0,
		     "%s", line);
	has(line, " (fix: modprobe vfio-pci; ...)");
	free(d);
}

Test(vfio_preflight, no_driver_at_all)
{
	static const struct vfio_pf_roots roots = ROOTS("unbound");
	struct vfio_pf_device *d = pf_run(&roots, "0000:03:00.0");
	const struct vfio_pf_finding *f = only(d, VFIO_PF_NOT_BOUND);

	cr_assert_str_eq(d->driver, "");
	has(f->msg, "0000:03:00.0 has no driver");
	/* Nothing to unbind. */
	cr_assert_str_eq(f->fix,
			 "modprobe vfio-pci\n"
			 "echo vfio-pci > /sys/bus/pci/devices/0000:03:00.0/"
			 "driver_override\n"
			 "echo 0000:03:00.0 > /sys/bus/pci/drivers_probe");
	free(d);
}

Test(vfio_preflight, no_iommu_group)
{
	static const struct vfio_pf_roots roots = ROOTS("no-iommu");
	struct vfio_pf_device *d = pf_run(&roots, "0000:01:00.0");
	const struct vfio_pf_finding *f = only(d, VFIO_PF_NO_IOMMU);
	char buf[2048];

	cr_assert_eq(d->group, -1);
	has(f->msg, "0000:01:00.0 has no IOMMU group");
	has(f->fix, "boot the host with intel_iommu=on");
	has(f->fix, "AMD-Vi");
	has(f->fix, "VT-d");
	cr_assert_gt(vfio_pf_format_text(d, 1, buf, sizeof(buf)), 0);
	has(buf, "driver e1000e\n  IOMMU group: none\n");
	has(buf, "  /dev/vfio/vfio no, /dev/iommu no, cdev none\n");
	free(d);
}

/*
 * A device-tree host with an SMMU (the aarch64 rig, QEMU's smmuv3): an
 * unbound device has no group until a driver probes it. Binding is the fix,
 * not enabling an IOMMU the host has.
 */
Test(vfio_preflight, dt_host_no_group_until_bound)
{
	static const struct vfio_pf_roots roots = ROOTS("dt-no-group");
	struct vfio_pf_device *d = pf_run(&roots, "0000:01:00.0");
	const struct vfio_pf_finding *f = only(d, VFIO_PF_NOT_BOUND);

	cr_assert_eq(d->group, -1);
	has(f->msg, "0000:01:00.0 has no driver and no IOMMU group yet");
	has(f->msg, "/sys/class/iommu");
	has(f->fix, "vfio-pci");
	cr_assert_null(strstr(f->fix, "intel_iommu"), "%s", f->fix);
	free(d);
}

Test(vfio_preflight, no_dev_vfio)
{
	static const struct vfio_pf_roots roots = ROOTS("no-dev-vfio");
	struct vfio_pf_device *d = pf_run(&roots, "0000:02:01.0");
	const struct vfio_pf_finding *f = only(d, VFIO_PF_NO_VFIO_NODE);

	cr_assert_not(d->group_node);
	has(f->msg, "0000:02:01.0 is bound to vfio-pci but /dev/vfio/vfio "
		    "does not exist");
	cr_assert_eq(strncmp(f->fix, "modprobe vfio-pci", 17), 0, "%s", f->fix);
	free(d);
}

Test(vfio_preflight, no_such_device)
{
	static const struct vfio_pf_roots roots = ROOTS("clean");
	struct vfio_pf_device *d = pf_run(&roots, "0000:00:1f.7");
	const struct vfio_pf_finding *f = only(d, VFIO_PF_NO_DEVICE);
	char buf[2048];

	cr_assert_not(d->exists);
	has(f->msg, "0000:00:1f.7 is not a PCI device on this host: "
		    "/sys/bus/pci/devices/0000:00:1f.7 does not exist");
	has(f->fix, "lspci -D");
	has(f->fix, "ls /sys/bus/pci/devices");
	cr_assert_gt(vfio_pf_format_text(d, 1, buf, sizeof(buf)), 0);
	cr_assert_eq(strncmp(buf, "0000:00:1f.7  not found\n  error: ", 33), 0,
		     "%s", buf);
	cr_assert_eq(vfio_pf_dev_req(d, "x", &(struct pci_dev_req){0}),
		     -ENODEV);
	free(d);
}

Test(vfio_preflight, bad_arguments)
{
	static const struct vfio_pf_roots roots = ROOTS("clean");
	struct vfio_pf_device *d = malloc(sizeof(*d));

	cr_assert_eq(vfio_preflight(&roots, "01:00", d), -EINVAL);
	cr_assert_eq(vfio_preflight(NULL, "01:00.0", d), -EINVAL);
	cr_assert_eq(vfio_preflight(&roots, "01:00.0", NULL), -EINVAL);
	free(d);
}

/*
 * A big group: more members on host drivers than findings fit. The first
 * ones get a finding each, the rest share one; none is lost.
 */
Test(vfio_preflight, many_members_on_host_drivers)
{
	char *t = tmp_tree(), sys[512], dev[512], p[512];
	struct vfio_pf_roots roots;
	struct vfio_pf_device *d;

	tmp_path(sys, "%s/sys", t);
	tmp_path(dev, "%s/dev", t);
	roots = (struct vfio_pf_roots){sys, dev, NULL};
	tmp_dev(sys, "0000:05:00.0", "vfio-pci", 11);
	for (unsigned int i = 1; i <= 7; i++) {
		tmp_path(p, "0000:05:00.%u", i);
		tmp_dev(sys, p, "e1000e", 11);
	}
	tmp_path(p, "%s/vfio/vfio", dev);
	put(p, "");
	tmp_path(p, "%s/vfio/11", dev);
	put(p, "");
	d = pf_run(&roots, "0000:05:00.0");
	cr_assert_not(d->ready);
	cr_assert_eq(d->nmembers, 8);
	cr_assert_eq(d->nfindings, VFIO_PF_MAX_FINDINGS - 2);
	for (unsigned int i = 0; i < d->nfindings; i++)
		cr_assert_eq(d->findings[i].code, VFIO_PF_MEMBER_BOUND);
	/* 0000:05:00.1-5 one each, then the last two together. */
	for (unsigned int i = 0; i + 1 < d->nfindings; i++) {
		tmp_path(p, "0000:05:00.%u, in IOMMU group 11", i + 1);
		has(d->findings[i].msg, p);
	}
	has(d->findings[d->nfindings - 1].msg,
	    "2 more devices in IOMMU group 11 with 0000:05:00.0 are bound "
	    "to host drivers: 0000:05:00.6 (e1000e), 0000:05:00.7 (e1000e)");
	free(d);
	rm_tree(t);
}

/* ---- the group node: there, who holds it, may we open it ---- */

/* Bound to vfio-pci, vfio loaded, but no /dev/vfio/N (e.g. not the host's /dev). */
Test(vfio_preflight, no_group_node)
{
	char *t = tmp_tree(), p[512];
	struct vfio_pf_roots roots = {FIX "clean/sys", t, NULL};
	const struct vfio_pf_finding *f;
	struct vfio_pf_device *d;

	tmp_path(p, "%s/vfio/vfio", t);
	put(p, "");
	d = pf_run(&roots, "0000:01:00.0");
	f = only(d, VFIO_PF_NO_GROUP_NODE);
	cr_assert(d->vfio_node);
	has(f->msg, "0000:01:00.0 is bound to vfio-pci but /dev/vfio/3");
	has(f->fix, "echo 0000:01:00.0 > "
		    "/sys/bus/pci/devices/0000:01:00.0/driver/unbind\n");
	has(f->fix, "echo 0000:01:00.0 > /sys/bus/pci/drivers_probe");
	free(d);
	rm_tree(t);
}

/*
 * EBUSY comes only from a real VFIO group node already open elsewhere; no
 * plain file can fail open() that way, so the holder scan the preflight
 * runs on EBUSY is tested directly against a fake /proc (and the whole
 * path in the L2 rig, tests/boot/vfio).
 */
Test(vfio_preflight, group_holders_named_from_proc)
{
	char *t = tmp_tree(), p[512], buf[256];
	struct vfio_pf_roots roots = {"/nonexistent", "/nonexistent", t};
	bool self = false;

	tmp_path(p, "%s/4242/comm", t);
	put(p, "qemu-system-x86\n");
	tmp_path(p, "%s/4242/fd/0", t);
	link_to("/dev/null", p);
	tmp_path(p, "%s/4242/fd/7", t);
	link_to("/dev/vfio/3", p);
	tmp_path(p, "%s/77/fd/3", t); /* no comm file; not group 3 */
	link_to("/dev/vfio/30", p);
	tmp_path(p, "%s/%d/fd/5", t, (int)getpid());
	link_to("/dev/vfio/3", p);
	tmp_path(p, "%s/self/fd/5", t); /* not a pid: skipped */
	link_to("/dev/vfio/3", p);

	cr_assert_eq(vfio_pf_group_holders(&roots, 3, buf, sizeof(buf), &self),
		     1);
	cr_assert_str_eq(buf, "pid 4242 (qemu-system-x86)");
	cr_assert(self);
	cr_assert_eq(vfio_pf_group_holders(&roots, 30, buf, sizeof(buf), &self),
		     1);
	cr_assert_str_eq(buf, "pid 77 (?)");
	cr_assert_not(self);
	cr_assert_eq(vfio_pf_group_holders(&roots, 4, buf, sizeof(buf), NULL),
		     0);
	cr_assert_str_eq(buf, "");
	/* Too small for the entry: cut short, still a string. */
	cr_assert_eq(vfio_pf_group_holders(&roots, 3, buf, 12, NULL), 1);
	cr_assert_str_eq(buf, "...");
	roots.proc = NULL;
	cr_assert_eq(vfio_pf_group_holders(&roots, 3, buf, sizeof(buf), NULL),
		     -EINVAL);
	rm_tree(t);
}

/* A group node this user may not open (as root: a read-only sysfs file). */
Test(vfio_preflight, group_node_not_accessible)
{
	char *t = tmp_tree(), p[512];
	struct vfio_pf_roots roots = {FIX "clean/sys", t, NULL};
	const struct vfio_pf_finding *f;
	struct vfio_pf_device *d;
	int fd;

	tmp_path(p, "%s/vfio/vfio", t);
	put(p, "");
	tmp_path(p, "%s/vfio/3", t);
	put(p, "");
	chmod(p, 0);
	fd = open(p, O_RDWR);
	if (fd >= 0) {
		close(fd);
		unlink(p);
		link_to("/sys/kernel/uevent_seqnum", p);
		fd = open(p, O_RDWR);
	}
	if (fd >= 0 || (errno != EACCES && errno != EPERM)) {
		if (fd >= 0)
			close(fd);
		rm_tree(t);
		cr_skip_test("cannot make a file this user may not open");
	}
	d = pf_run(&roots, "0000:01:00.0");
	f = only(d, VFIO_PF_GROUP_NO_ACCESS);
	has(f->msg, "0000:01:00.0: this user (uid ");
	has(f->msg, "may not open /dev/vfio/3");
	has(f->fix, "chown \"$(id -un)\" /dev/vfio/3");
	has(f->fix, "root");
	free(d);
	rm_tree(t);
}

/* ---- planner request from sysfs BARs ---- */

Test(vfio_preflight, dev_req_kinds_from_resource_flags)
{
	struct vfio_pf_device *d = calloc(1, sizeof(*d));
	struct pci_dev_req req;

	d->exists = true;
	snprintf(d->bdf, sizeof(d->bdf), "0000:17:00.0");
	/* bar0 I/O, bar1 32-bit pref 1 MiB, bar2+3 64-bit pref 128 GiB, bar4 32-bit 16 MiB */
	d->bars[0] = (struct vfio_pf_bar){0xc000, 0xc0ff, 0x40101};
	d->bars[1] = (struct vfio_pf_bar){0xe0000000, 0xe00fffff, 0x42208};
	d->bars[2] = (struct vfio_pf_bar){0x4000000000ull, 0x5fffffffffull,
					  0x14220c};
	d->bars[4] = (struct vfio_pf_bar){0xf0000000, 0xf0ffffff, 0x40200};
	cr_assert_eq(vfio_pf_dev_req(d, "gpu", &req), 0);
	cr_assert_eq(req.bar[0].kind, PCI_BAR_KIND_NONE);
	cr_assert_eq(req.bar[1].kind, PCI_BAR_KIND_MEM32_PREF);
	cr_assert_eq(req.bar[1].size, 1ull << 20);
	cr_assert_eq(req.bar[2].kind, PCI_BAR_KIND_MEM64_PREF);
	cr_assert_eq(req.bar[2].size, 128ull << 30);
	cr_assert_eq(req.bar[3].kind, PCI_BAR_KIND_NONE);
	cr_assert_eq(req.bar[4].kind, PCI_BAR_KIND_MEM32);
	cr_assert_eq(req.bar[4].size, 16ull << 20);
	cr_assert_eq(req.bar[5].kind, PCI_BAR_KIND_NONE);

	/* Not a power of two. */
	d->bars[4].end = 0xf0fffffe;
	cr_assert_eq(vfio_pf_dev_req(d, "gpu", &req), -EINVAL);
	d->bars[4].end = 0xf0ffffff;
	/* A 64-bit BAR needs the next index free: pci_dev_req_check says no. */
	d->bars[3] = d->bars[4];
	cr_assert_eq(vfio_pf_dev_req(d, "gpu", &req), -EINVAL);
	free(d);
}

/* ---- output ---- */

/* Braces and brackets balance outside strings, and strings close. */
static void json_balanced(const char *s)
{
	char stack[64];
	unsigned int depth = 0;
	bool in_str = false;

	for (; *s; s++) {
		if (in_str) {
			cr_assert((unsigned char)*s >= 0x20,
				  "raw control byte in a string");
			if (*s == '\\')
				s++;
			else if (*s == '"')
				in_str = false;
			continue;
		}
		if (*s == '"') {
			in_str = true;
		} else if (*s == '{' || *s == '[') {
			cr_assert_lt(depth, sizeof(stack));
			stack[depth++] = *s == '{' ? '}' : ']';
		} else if (*s == '}' || *s == ']') {
			cr_assert_gt(depth, 0);
			cr_assert_eq(stack[--depth], *s);
		}
	}
	cr_assert_not(in_str);
	cr_assert_eq(depth, 0);
}

Test(vfio_preflight, json_report)
{
	static const struct vfio_pf_roots clean = ROOTS("clean");
	static const struct vfio_pf_roots direct = ROOTS("direct");
	struct vfio_pf_device *d = calloc(3, sizeof(*d));
	char *buf = malloc(VFIO_PF_MAX_FINDINGS * 4096);
	int n;

	cr_assert_eq(vfio_preflight(&clean, "0000:01:00.0", &d[0]), 0);
	cr_assert_eq(vfio_preflight(&direct, "000f:01:00.0", &d[1]), 0);
	cr_assert_eq(vfio_preflight(&clean, "0000:00:1f.7", &d[2]), 0);
	n = vfio_pf_format_json(d, 3, buf, VFIO_PF_MAX_FINDINGS * 4096);
	cr_assert_gt(n, 0);
	cr_assert_eq((size_t)n, strlen(buf));
	json_balanced(buf);
	has(buf, "{\n  \"devices\": [\n    {\n      \"bdf\": \"0000:01:00.0\"");
	has(buf, "\"vendor\": \"0x1b36\", \"device\": \"0x0010\", \"class\": "
		 "\"0x010802\"");
	has(buf, "\"driver\": \"vfio-pci\",\n      \"iommu_group\": 3,\n"
		 "      \"group_type\": \"DMA-FQ\"");
	has(buf, "{\"bdf\": \"0000:01:00.0\", \"driver\": \"vfio-pci\", "
		 "\"ok\": true}");
	has(buf, "{\"start\": \"0xfee00000\", \"end\": \"0xfeefffff\", "
		 "\"type\": \"msi\"}");
	has(buf, "\"dev_vfio\": true, \"dev_group\": true, \"dev_iommu\": "
		 "false,\n      \"cdev\": null, \"cdev_node\": false,\n"
		 "      \"ready\": true,\n      \"findings\": []");
	has(buf, "\"iommu_group\": 20");
	has(buf, "{\"start\": \"0x200000000\", \"end\": \"0x302ffffff\", "
		 "\"type\": \"direct\"}");
	has(buf, "{\"code\": \"direct-mapping\", \"fatal\": true, "
		 "\"message\": \"000f:01:00.0 cannot be passed through");
	/* The kernel's words are quoted inside the message: escaped. */
	has(buf, "(\\\"Invalid argument\\\";");
	has(buf, "\"bdf\": \"0000:00:1f.7\",\n      \"exists\": false,\n"
		 "      \"vendor\": null, \"device\": null, \"class\": null,\n"
		 "      \"driver\": null,\n      \"iommu_group\": null,\n"
		 "      \"group_type\": null,\n      \"members\": []");
	has(buf, "\"code\": \"no-device\"");
	cr_assert_str_eq(buf + n - 6, "  ]\n}\n");
	free(buf);
	free(d);
}

Test(vfio_preflight, json_escapes_and_fix_lines)
{
	struct vfio_pf_device *d = calloc(1, sizeof(*d));
	char buf[8192];

	d->exists = true;
	d->group = -1;
	snprintf(d->bdf, sizeof(d->bdf), "0000:01:00.0");
	snprintf(d->driver, sizeof(d->driver), "we\"ird\\drv");
	d->nfindings = 1;
	d->findings[0] = (struct vfio_pf_finding){.code = VFIO_PF_GROUP_BUSY,
						  .fatal = true};
	snprintf(d->findings[0].msg, sizeof(d->findings[0].msg), "tab\there");
	snprintf(d->findings[0].fix, sizeof(d->findings[0].fix),
		 "line one\nline two");
	cr_assert_gt(vfio_pf_format_json(d, 1, buf, sizeof(buf)), 0);
	json_balanced(buf);
	has(buf, "\"driver\": \"we\\\"ird\\\\drv\"");
	has(buf, "\"code\": \"group-busy\"");
	has(buf, "\"message\": \"tab\\u0009here\"");
	has(buf, "\"fix\": \"line one\\nline two\"");
	cr_assert_gt(vfio_pf_format_text(d, 1, buf, sizeof(buf)), 0);
	has(buf, "  error: tab\there\n"
		 "    fix: line one\n"
		 "         line two\n"
		 "  not ready\n");
	free(d);
}

Test(vfio_preflight, enospc_on_a_tiny_buffer)
{
	static const struct vfio_pf_roots roots = ROOTS("clean");
	struct vfio_pf_device *d = pf_run(&roots, "0000:01:00.0");
	char buf[1024];
	int n;

	cr_assert_eq(vfio_pf_format_text(d, 1, buf, 32), -ENOSPC);
	cr_assert_eq(vfio_pf_format_json(d, 1, buf, 32), -ENOSPC);
	cr_assert_eq(vfio_pf_format_text(d, 1, buf, 0), -ENOSPC);
	cr_assert_eq(vfio_pf_format_json(d, 1, buf, 0), -ENOSPC);
	/* Exactly enough is the length plus the NUL; one byte less is not. */
	n = vfio_pf_format_text(d, 1, buf, sizeof(buf));
	cr_assert_gt(n, 0);
	cr_assert_eq(vfio_pf_format_text(d, 1, buf, (size_t)n + 1), n);
	cr_assert_eq(vfio_pf_format_text(d, 1, buf, (size_t)n), -ENOSPC);
	n = vfio_pf_format_json(d, 1, buf, sizeof(buf));
	cr_assert_gt(n, 0);
	cr_assert_eq(vfio_pf_format_json(d, 1, buf, (size_t)n + 1), n);
	cr_assert_eq(vfio_pf_format_json(d, 1, buf, (size_t)n), -ENOSPC);
	free(d);
}

Test(vfio_preflight, two_devices_in_one_text_report)
{
	static const struct vfio_pf_roots clean = ROOTS("clean");
	static const struct vfio_pf_roots mb = ROOTS("member-bound");
	struct vfio_pf_device *d = calloc(2, sizeof(*d));
	char buf[8192];

	cr_assert_eq(vfio_preflight(&clean, "0000:01:00.0", &d[0]), 0);
	cr_assert_eq(vfio_preflight(&mb, "0000:02:01.0", &d[1]), 0);
	cr_assert_gt(vfio_pf_format_text(d, 2, buf, sizeof(buf)), 0);
	has(buf, "  ready for passthrough\n\n0000:02:01.0  1234:11e8 class "
		 "00ff00  driver vfio-pci\n");
	cr_assert_eq(strcmp(buf + strlen(buf) - 12, "  not ready\n"), 0, "%s",
		     buf);
	free(d);
}

Test(vfio_preflight, code_names_are_stable)
{
	cr_assert_str_eq(vfio_pf_code_name(VFIO_PF_NO_DEVICE), "no-device");
	cr_assert_str_eq(vfio_pf_code_name(VFIO_PF_NO_IOMMU), "no-iommu");
	cr_assert_str_eq(vfio_pf_code_name(VFIO_PF_NOT_BOUND), "not-bound");
	cr_assert_str_eq(vfio_pf_code_name(VFIO_PF_MEMBER_BOUND),
			 "member-bound");
	cr_assert_str_eq(vfio_pf_code_name(VFIO_PF_DIRECT_MAPPING),
			 "direct-mapping");
	cr_assert_str_eq(vfio_pf_code_name(VFIO_PF_NO_VFIO_NODE),
			 "no-vfio-node");
	cr_assert_str_eq(vfio_pf_code_name(VFIO_PF_NO_GROUP_NODE),
			 "no-group-node");
	cr_assert_str_eq(vfio_pf_code_name(VFIO_PF_GROUP_BUSY), "group-busy");
	cr_assert_str_eq(vfio_pf_code_name(VFIO_PF_GROUP_NO_ACCESS),
			 "group-no-access");
	cr_assert_str_eq(vfio_pf_code_name(VFIO_PF_BRIDGE), "bridge");
}
