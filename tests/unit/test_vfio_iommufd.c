/* test_vfio_iommufd.c: L0 tests of choosing the DMA back-end (iommufd or the legacy container), finding a device's VFIO cdev, the --vfio iommu= option, and guest RAM against the IOMMU's IOVA ranges. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "devices/vfio/iommu.h"
#include "devices/vfio/vfio.h"
#include "vmm/parse.h"

#define FIX "tests/unit/fixtures/vfio/"

Test(vfio_iommu, auto_takes_iommufd_only_with_dev_iommu_and_every_cdev)
{
	char why[256];

	cr_expect_eq(vfio_iommu_choose(VFIO_WANT_AUTO, true, true, why,
				       sizeof(why)),
		     1);
	cr_expect(strstr(why, "auto"), "%s", why);
	cr_expect_eq(vfio_iommu_choose(VFIO_WANT_AUTO, false, true, why,
				       sizeof(why)),
		     0);
	cr_expect(strstr(why, "no /dev/iommu"), "%s", why);
	cr_expect_eq(vfio_iommu_choose(VFIO_WANT_AUTO, true, false, why,
				       sizeof(why)),
		     0);
	cr_expect(strstr(why, "no VFIO cdev"), "%s", why);
}

Test(vfio_iommu, explicit_choices)
{
	char why[256];

	cr_expect_eq(vfio_iommu_choose(VFIO_WANT_LEGACY, true, true, why,
				       sizeof(why)),
		     0);
	cr_expect_eq(vfio_iommu_choose(VFIO_WANT_IOMMUFD, true, true, why,
				       sizeof(why)),
		     1);
	/* Asked for and missing: an error that names what is missing and the way out. */
	cr_expect_eq(vfio_iommu_choose(VFIO_WANT_IOMMUFD, false, true, why,
				       sizeof(why)),
		     -ENODEV);
	cr_expect(strstr(why, "no /dev/iommu") && strstr(why, "iommu=legacy"),
		  "%s", why);
	cr_expect_eq(vfio_iommu_choose(VFIO_WANT_IOMMUFD, true, false, why,
				       sizeof(why)),
		     -ENODEV);
	cr_expect(strstr(why, "CONFIG_VFIO_DEVICE_CDEV"), "%s", why);
}

Test(vfio_iommu, cdev_name_from_sysfs)
{
	char name[32];

	cr_assert_eq(vfio_cdev_name(FIX "cdev/sys", "0000:01:00.0", name,
				    sizeof(name)),
		     0);
	cr_expect_str_eq(name, "vfio3");
	/* Debian's kernels: no vfio-dev directory at all. */
	cr_expect_eq(vfio_cdev_name(FIX "clean/sys", "0000:01:00.0", name,
				    sizeof(name)),
		     -ENOENT);
	cr_expect_lt(vfio_cdev_name(FIX "cdev/sys", "0000:02:00.0", name,
				    sizeof(name)),
		     0);
}

Test(vfio_iommu, cdev_open_failure_is_a_clear_error)
{
	struct vfio_iommu *io = NULL;
	struct logger lg = {NULL, NULL, MICROVM_LOG_ERROR};

	/* A fixture /dev/iommu is a plain file: IOMMU_IOAS_ALLOC fails, nothing leaks. */
	cr_expect_lt(vfio_iommufd_create(&lg, FIX "cdev/sys", FIX "cdev/dev",
					 &io),
		     0);
	cr_expect_null(io);
	cr_expect_eq(vfio_iommufd_create(&lg, FIX "clean/sys", FIX "clean/dev",
					 &io),
		     -ENOENT);
}

Test(vfio_iommu, parse_iommu_option)
{
	struct microvm_vfio v;
	char spec[64], err[160];
	int iommu;

	strcpy(spec, "0000:17:00.0,id=gpu0,iommu=iommufd");
	cr_assert_eq(parse_vfio_spec(spec, &v, &iommu, err, sizeof(err)), 0,
		     "%s", err);
	cr_expect_str_eq(v.bdf, "0000:17:00.0");
	cr_expect_str_eq(v.id, "gpu0");
	cr_expect_eq(iommu, MICROVM_VFIO_IOMMU_IOMMUFD);
	strcpy(spec, "17:00.0,iommu=legacy");
	cr_assert_eq(parse_vfio_spec(spec, &v, &iommu, err, sizeof(err)), 0);
	cr_expect_eq(iommu, MICROVM_VFIO_IOMMU_LEGACY);
	strcpy(spec, "17:00.0,iommu=auto");
	cr_assert_eq(parse_vfio_spec(spec, &v, &iommu, err, sizeof(err)), 0);
	cr_expect_eq(iommu, MICROVM_VFIO_IOMMU_AUTO);
	strcpy(spec, "17:00.0");
	cr_assert_eq(parse_vfio_spec(spec, &v, &iommu, err, sizeof(err)), 0);
	cr_expect_eq(iommu, -1, "not given");
	strcpy(spec, "17:00.0,iommu=smmu");
	cr_expect_eq(parse_vfio_spec(spec, &v, &iommu, err, sizeof(err)),
		     -EINVAL);
	cr_expect(strstr(err, "auto, iommufd or legacy"), "%s", err);
}

static void two_regions(struct guest_mem *m)
{
	memset(m, 0, sizeof(*m));
	m->fd = -1;
	/* x86: low RAM below the PCI hole, the rest from 4 GiB. */
	m->regions[0] = (struct mem_region){0, 3ull << 30, NULL};
	m->regions[1] = (struct mem_region){4ull << 30, 2ull << 30, NULL};
	m->nregions = 2;
}

Test(vfio_iommu, ram_inside_ranges_with_holes)
{
	/* Intel's MSI window 0xfee00000-0xfeefffff is a hole below 4 GiB. */
	struct vfio_iommu_range rg[] = {
		{0, 0xfedfffff},
		{0xfef00000, (1ull << 48) - 1},
	};
	struct guest_mem m;
	char msg[768];

	two_regions(&m);
	cr_expect_eq(vfio_ram_check_iova(&m, rg, 2, msg, sizeof(msg)), 0,
		     "%s", msg);
	/* The IOMMU says nothing: taken as everything. */
	cr_expect_eq(vfio_ram_check_iova(&m, rg, 0, msg, sizeof(msg)), 0);
}

Test(vfio_iommu, ram_colliding_with_a_hole_is_refused)
{
	/* arm64 SMMUv3: the software MSI window at 0x8000000 inside RAM. */
	struct vfio_iommu_range rg[] = {
		{0, 0x7ffffff},
		{0x8100000, (1ull << 48) - 1},
	};
	struct vfio_iommu_range narrow[] = {{0, (1ull << 39) - 1}};
	struct guest_mem m;
	char msg[768];

	memset(&m, 0, sizeof(m));
	m.regions[0] = (struct mem_region){0x4000000, 1ull << 30, NULL};
	m.nregions = 1;
	cr_expect_eq(vfio_ram_check_iova(&m, rg, 2, msg, sizeof(msg)),
		     -EINVAL);
	cr_expect(strstr(msg, "0x4000000-0x43ffffff") &&
			  strstr(msg, "0x8100000-0xffffffffffff") &&
			  strstr(msg, "less --memory"),
		  "%s", msg);
	/* RAM above the IOMMU's address width. */
	two_regions(&m);
	m.regions[1].gpa = 1ull << 39;
	cr_expect_eq(vfio_ram_check_iova(&m, narrow, 1, msg, sizeof(msg)),
		     -EINVAL);
	cr_expect(strstr(msg, "0x8000000000-"), "%s", msg);
}

/* A back-end whose unmap fails for one range: the ledger still empties. */
static unsigned int unmaps;
static struct vfio_dma_ledger *fake_ledger;
static int ok_fd;

static int fake_unmap(struct vfio_iommu *io, uint64_t iova, uint64_t size)
{
	int n;

	(void)io;
	unmaps++;
	if (iova == 0x2000)
		return -EIO;
	/* FIONREAD on a pipe: an ioctl that succeeds. */
	return vfio_ledger_ioctl(fake_ledger, ok_fd, FIONREAD, &n, iova, size,
				 false);
}

Test(vfio_iommu, ledger_unmaps_everything_once)
{
	static const struct vfio_iommu_ops ops = {.name = "fake",
						  .unmap = fake_unmap};
	struct vfio_iommu io = {&ops, NULL};
	struct vfio_dma_ledger l;
	int p[2], n;

	cr_assert_eq(pipe(p), 0);
	ok_fd = p[0];
	vfio_ledger_init(&l);
	fake_ledger = &l;
	for (uint64_t i = 0; i < 40; i++)
		cr_assert_eq(vfio_ledger_ioctl(&l, p[0], FIONREAD, &n,
					       i * 0x1000, 0x1000, true),
			     0);
	/* A map the kernel refuses is not noted; neither is an unmap that fails. */
	cr_expect_eq(vfio_ledger_ioctl(&l, p[0], 0xdead, &n, 0x100000, 0x1000,
				       true),
		     -ENOTTY);
	cr_expect_eq(l.n, 40);
	cr_expect_eq(vfio_ledger_ioctl(&l, p[0], 0xdead, &n, 0x1000, 0x1000,
				       false),
		     -ENOTTY);
	cr_expect_eq(l.n, 40);
	vfio_ledger_unmap_all(&l, &io);
	cr_expect_eq(unmaps, 40);
	cr_expect_eq(l.n, 0);
	cr_expect_null(l.v);
	close(p[0]);
	close(p[1]);
}
