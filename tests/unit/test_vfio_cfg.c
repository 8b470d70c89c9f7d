/* test_vfio_cfg.c: L0 tests of a passed-through device's config shadow: BAR sizing, capability walk, passthrough bytes, MSI/MSI-X decode and table emulation. */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/pci_regs.h>
#include <stdlib.h>
#include <string.h>

#include "devices/vfio/vfio_cfg.h"

#define KIB 1024ull
#define GIB (1024ull * 1024 * 1024)

static void put16(uint8_t *r, unsigned int off, uint16_t v)
{
	r[off] = (uint8_t)v;
	r[off + 1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *r, unsigned int off, uint32_t v)
{
	put16(r, off, (uint16_t)v);
	put16(r, off + 2, (uint16_t)(v >> 16));
}

/*
 * An NVMe-like PCIe function as VFIO's config region shows it: MSI-X (65
 * vectors, table at BAR0+0x2000, PBA at BAR0+0x3000), MSI (64-bit,
 * maskable, 4 vectors), a PCIe capability, AER and Resizable BAR extended
 * capabilities; BAR0 16 KiB 64-bit, BAR2 1 GiB 64-bit prefetchable, BAR4
 * 256 bytes of I/O.
 */
static uint8_t *nvme_like(uint64_t size[6])
{
	uint8_t *r = calloc(1, PCI_CFG_SIZE);

	put16(r, PCI_VENDOR_ID, 0x1b36);
	put16(r, PCI_DEVICE_ID, 0x0010);
	put16(r, PCI_COMMAND, 0);
	put16(r, PCI_STATUS, PCI_STATUS_CAP_LIST);
	r[PCI_REVISION_ID] = 2;
	r[PCI_CLASS_PROG] = 0x02;
	put16(r, PCI_CLASS_DEVICE, 0x0108);
	r[PCI_HEADER_TYPE] = 0x80; /* multi-function on the host */
	put32(r, PCI_BASE_ADDRESS_0, 0xfebf0004);
	put32(r, PCI_BASE_ADDRESS_1, 0);
	put32(r, PCI_BASE_ADDRESS_2, 0x0000000c);
	put32(r, PCI_BASE_ADDRESS_3, 0x00000080);
	put32(r, PCI_BASE_ADDRESS_4, 0x0000c001);
	put16(r, PCI_SUBSYSTEM_VENDOR_ID, 0x1af4);
	put16(r, PCI_SUBSYSTEM_ID, 0x1100);
	put32(r, PCI_ROM_ADDRESS, 0xfeb80000);
	r[PCI_CAPABILITY_LIST] = 0x40;
	r[PCI_INTERRUPT_LINE] = 11;
	r[PCI_INTERRUPT_PIN] = 1;
	/* 0x40 MSI-X */
	r[0x40] = PCI_CAP_ID_MSIX;
	r[0x41] = 0x50;
	put16(r, 0x42, 64 | PCI_MSIX_FLAGS_ENABLE);
	put32(r, 0x44, 0x2000 | 0);
	put32(r, 0x48, 0x3000 | 0);
	/* 0x50 MSI: 64-bit, per-vector mask, 4 vectors capable */
	r[0x50] = PCI_CAP_ID_MSI;
	r[0x51] = 0x70;
	put16(r, 0x52,
	      PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_MASKBIT | (2 << 1) |
		      PCI_MSI_FLAGS_ENABLE);
	put32(r, 0x54, 0xfee00000);
	/* 0x70 PCIe */
	r[0x70] = PCI_CAP_ID_EXP;
	r[0x71] = 0;
	put16(r, 0x72, 0x0002);
	put32(r, 0x74, 0x8000);
	/* 0x100 AER -> 0x150 ReBAR (one BAR) */
	put32(r, 0x100, PCI_EXT_CAP_ID_ERR | 2 << 16 | 0x150u << 20);
	put32(r, 0x150, PCI_EXT_CAP_ID_REBAR | 1 << 16);
	put32(r, 0x154, 0x0000fff0);
	put32(r, 0x158, 1 << PCI_REBAR_CTRL_NBAR_SHIFT | 2);
	memset(size, 0, 6 * sizeof(size[0]));
	size[0] = 16 * KIB;
	size[2] = GIB;
	size[4] = 256;
	return r;
}

static struct vfio_shadow *build_ok(const uint8_t *raw, size_t len,
				    const uint64_t size[6])
{
	struct vfio_shadow *s = malloc(sizeof(*s));
	char err[256] = "";

	cr_assert_eq(vfio_shadow_build(raw, len, size, s, err, sizeof(err)), 0,
		     "%s", err);
	return s;
}

static int build_err(const uint8_t *raw, const uint64_t size[6], char *err,
		     size_t len)
{
	struct vfio_shadow *s = malloc(sizeof(*s));
	int r = vfio_shadow_build(raw, PCI_CFG_SIZE, size, s, err, len);

	free(s);
	return r;
}

Test(vfio_cfg, identity_kept_header_single_function)
{
	uint64_t size[6];
	uint8_t *raw = nvme_like(size);
	struct vfio_shadow *s = build_ok(raw, PCI_CFG_SIZE, size);
	struct pci_config *c = &s->cfg;

	cr_assert_eq(pci_config_read(c, PCI_VENDOR_ID, 4), 0x00101b36);
	cr_assert_eq(pci_config_read(c, PCI_CLASS_REVISION, 4), 0x01080202);
	cr_assert_eq(c->cfg[PCI_HEADER_TYPE], 0, "multi-function bit cleared");
	cr_assert_eq(pci_config_read(c, PCI_SUBSYSTEM_VENDOR_ID, 4),
		     0x11001af4);
	pci_config_write(c, PCI_VENDOR_ID, 0xffffffff, 4);
	cr_assert_eq(pci_config_read(c, PCI_VENDOR_ID, 4), 0x00101b36);
	cr_assert_eq(s->cfg_size, PCI_CFG_SIZE);
	free(s);
	free(raw);
}

Test(vfio_cfg, bars_sized_as_vfio_reports_with_device_type_bits)
{
	uint64_t size[6];
	uint8_t *raw = nvme_like(size);
	struct vfio_shadow *s = build_ok(raw, PCI_CFG_SIZE, size);
	struct pci_config *c = &s->cfg;
	struct pci_dev_req req;

	/* Programmed addresses of the host are not shown: only type bits. */
	cr_assert_eq(pci_config_read(c, PCI_BASE_ADDRESS_0, 4), 0x4);
	cr_assert_eq(pci_config_read(c, PCI_BASE_ADDRESS_2, 4), 0xc);
	/* Sizing as in hardware. */
	pci_config_write(c, PCI_BASE_ADDRESS_0, 0xffffffff, 4);
	pci_config_write(c, PCI_BASE_ADDRESS_1, 0xffffffff, 4);
	cr_assert_eq(pci_config_read(c, PCI_BASE_ADDRESS_0, 4), 0xffffc004);
	cr_assert_eq(pci_config_read(c, PCI_BASE_ADDRESS_1, 4), 0xffffffff);
	pci_config_write(c, PCI_BASE_ADDRESS_2, 0xffffffff, 4);
	pci_config_write(c, PCI_BASE_ADDRESS_3, 0xffffffff, 4);
	cr_assert_eq(pci_config_read(c, PCI_BASE_ADDRESS_2, 4), 0xc000000c);
	cr_assert_eq(pci_config_read(c, PCI_BASE_ADDRESS_3, 4), 0xffffffff);
	/* The I/O BAR is left out, and said so. */
	cr_assert_eq(c->bar_size[4], 0);
	cr_assert_eq(pci_config_read(c, PCI_BASE_ADDRESS_4, 4), 0);
	cr_assert_eq(s->io_bar_size[4], 256);
	/* ROM off: reads 0, writes are dropped. */
	pci_config_write(c, PCI_ROM_ADDRESS, 0xffffffff, 4);
	cr_assert_eq(pci_config_read(c, PCI_ROM_ADDRESS, 4), 0);
	/* The pin is the device model's to show, once INTx is routed. */
	cr_assert_eq(c->cfg[PCI_INTERRUPT_PIN], 0);
	cr_assert_eq(s->intx_pin, 1);

	vfio_shadow_dev_req(s, "nvme0", &req);
	cr_assert_str_eq(req.name, "nvme0");
	cr_assert_eq(req.bar[0].kind, PCI_BAR_KIND_MEM64);
	cr_assert_eq(req.bar[0].size, 16 * KIB);
	cr_assert_eq(req.bar[1].kind, PCI_BAR_KIND_NONE);
	cr_assert_eq(req.bar[2].kind, PCI_BAR_KIND_MEM64_PREF);
	cr_assert_eq(req.bar[2].size, GIB);
	cr_assert_eq(req.bar[4].kind, PCI_BAR_KIND_NONE);
	cr_assert_eq(pci_dev_req_check(&req, NULL, 0), 0);
	free(s);
	free(raw);
}

Test(vfio_cfg, passthrough_bytes)
{
	uint64_t size[6];
	uint8_t *raw = nvme_like(size);
	struct vfio_shadow *s = build_ok(raw, PCI_CFG_SIZE, size);

	cr_assert(vfio_shadow_passthru(s, PCI_COMMAND));
	cr_assert(vfio_shadow_passthru(s, PCI_STATUS + 1));
	cr_assert_not(vfio_shadow_passthru(s, PCI_VENDOR_ID));
	cr_assert_not(vfio_shadow_passthru(s, PCI_BASE_ADDRESS_0 + 2));
	cr_assert_not(vfio_shadow_passthru(s, PCI_ROM_ADDRESS));
	cr_assert_not(vfio_shadow_passthru(s, PCI_CAPABILITY_LIST));
	cr_assert_not(vfio_shadow_passthru(s, PCI_INTERRUPT_LINE));
	/* MSI and MSI-X are ours entirely; other capability bodies are not. */
	for (unsigned int o = 0x40; o < 0x4c; o++)
		cr_assert_not(vfio_shadow_passthru(s, o), "msix 0x%x", o);
	for (unsigned int o = 0x50; o < 0x68; o++)
		cr_assert_not(vfio_shadow_passthru(s, o), "msi 0x%x", o);
	cr_assert_not(vfio_shadow_passthru(s, 0x70));
	cr_assert_not(vfio_shadow_passthru(s, 0x71));
	cr_assert(vfio_shadow_passthru(s, 0x72));
	cr_assert(vfio_shadow_passthru(s, 0x78));
	/* Extended capabilities pass through, Resizable BAR does not. */
	cr_assert(vfio_shadow_passthru(s, 0x104));
	cr_assert_not(vfio_shadow_passthru(s, 0x158));
	cr_assert(vfio_shadow_passthru(s, 0x800));
	/* Passthrough bytes keep what the guest wrote, for forwarding. */
	pci_config_write(&s->cfg, PCI_COMMAND, 0x0406, 2);
	cr_assert_eq(pci_config_read(&s->cfg, PCI_COMMAND, 2), 0x0406);
	free(s);
	free(raw);
}

Test(vfio_cfg, msi_and_msix_decoded_and_start_disabled)
{
	uint64_t size[6];
	uint8_t *raw = nvme_like(size);
	struct vfio_shadow *s = build_ok(raw, PCI_CFG_SIZE, size);
	struct pci_config *c = &s->cfg;

	cr_assert(s->msix.present);
	cr_assert_eq(s->msix.cap, 0x40);
	cr_assert_eq(s->msix.table_size, 65);
	cr_assert_eq(s->msix.table_bar, 0);
	cr_assert_eq(s->msix.table_off, 0x2000);
	cr_assert_eq(s->msix.pba_bar, 0);
	cr_assert_eq(s->msix.pba_off, 0x3000);
	cr_assert(s->msi.present);
	cr_assert_eq(s->msi.cap, 0x50);
	cr_assert(s->msi.is64);
	cr_assert(s->msi.maskable);
	cr_assert_eq(s->msi.max_vectors, 4);
	cr_assert_eq(s->msi.data_off, 0x5c);
	cr_assert_eq(s->msi.mask_off, 0x60);
	/* The device had them enabled; the guest starts with them off. */
	cr_assert_eq(pci_get16(c, 0x42), 64);
	cr_assert_eq(pci_get16(c, 0x52) & PCI_MSI_FLAGS_ENABLE, 0);
	/* MSI-X control: only enable and function mask are writable. */
	pci_config_write(c, 0x42, 0xffff, 2);
	cr_assert_eq(pci_get16(c, 0x42),
		     64 | PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	pci_config_write(c, 0x44, 0xffffffff, 4);
	cr_assert_eq(pci_get32(c, 0x44), 0x2000);
	/* MSI: enable and MME, the address (dword aligned), data, mask. */
	pci_config_write(c, 0x52, 0xffff, 2);
	cr_assert_eq(pci_get16(c, 0x52),
		     PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_MASKBIT | (2 << 1) |
			     PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE);
	pci_config_write(c, 0x54, 0xfee01003, 4);
	cr_assert_eq(pci_get32(c, 0x54), 0xfee01000);
	pci_config_write(c, 0x5c, 0x4041, 2);
	cr_assert_eq(pci_get16(c, 0x5c), 0x4041);
	pci_config_write(c, 0x60, 0xffffffff, 4);
	cr_assert_eq(pci_get32(c, 0x60), 0xf, "4 vectors: 4 mask bits");
	pci_config_write(c, 0x64, 0xffffffff, 4);
	cr_assert_eq(pci_get32(c, 0x64), 0, "pending bits are read-only");
	free(s);
	free(raw);
}

Test(vfio_cfg, conventional_256_byte_space_and_32bit_msi)
{
	uint64_t size[6] = {1024 * KIB};
	uint8_t raw[256] = {0};
	struct vfio_shadow *s;

	put16(raw, PCI_VENDOR_ID, 0x1234);
	put16(raw, PCI_DEVICE_ID, 0x11e8);
	put16(raw, PCI_STATUS, PCI_STATUS_CAP_LIST);
	put32(raw, PCI_BASE_ADDRESS_0, 0);
	raw[PCI_CAPABILITY_LIST] = 0x42; /* low bits are reserved */
	raw[0x40] = PCI_CAP_ID_MSI;
	put16(raw, 0x42, 0);
	s = build_ok(raw, sizeof(raw), size);
	cr_assert_eq(s->cfg_size, 256);
	cr_assert_eq(s->cfg.cfg[PCI_CAPABILITY_LIST], 0x40);
	cr_assert(s->msi.present);
	cr_assert_not(s->msi.is64);
	cr_assert_eq(s->msi.data_off, 0x48);
	cr_assert_eq(s->msi.mask_off, 0);
	cr_assert_eq(s->msi.max_vectors, 1);
	cr_assert_not(s->msix.present);
	cr_assert_not(vfio_shadow_passthru(s, 0x300), "beyond 256 bytes");
	cr_assert_eq(s->cfg.bar_size[0], 1024 * KIB);
	free(s);
}

Test(vfio_cfg, broken_devices_refused_with_reason)
{
	uint64_t size[6];
	uint8_t *raw = nvme_like(size);
	char err[256];

	/* A capability loop. */
	raw[0x71] = 0x40;
	cr_assert_eq(build_err(raw, size, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "loop"), "%s", err);
	/* A pointer into the header. */
	raw[0x71] = 0x20;
	cr_assert_eq(build_err(raw, size, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "out of range"), "%s", err);
	raw[0x71] = 0;
	/* An MSI-X table past the end of its BAR. */
	put32(raw, 0x44, 0x3f00);
	cr_assert_eq(build_err(raw, size, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "MSI-X table"), "%s", err);
	put32(raw, 0x44, 0x2000);
	/* A BAR size that is not a power of two. */
	size[0] = 12 * KIB;
	cr_assert_eq(build_err(raw, size, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "BAR0"), "%s", err);
	size[0] = 16 * KIB;
	/* A bridge. */
	raw[PCI_HEADER_TYPE] = PCI_HEADER_TYPE_BRIDGE;
	cr_assert_eq(build_err(raw, size, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "header type 1"), "%s", err);
	free(raw);
}

Test(vfio_cfg, msix_table_emulation)
{
	struct vfio_msix_entry t[4] = {0};
	uint8_t b[8];
	uint32_t v;
	uint64_t q;
	int route, mask;

	for (unsigned int i = 0; i < 4; i++)
		t[i].ctrl = PCI_MSIX_ENTRY_CTRL_MASKBIT;
	v = 0xfee00000;
	vfio_msix_table_access(t, 4, 16 + 0, (uint8_t *)&v, 4, true, &route,
			       &mask);
	cr_assert_eq(route, 1);
	cr_assert_eq(mask, -1);
	cr_assert_eq(t[1].addr_lo, 0xfee00000);
	/* The same value again changes nothing. */
	vfio_msix_table_access(t, 4, 16, (uint8_t *)&v, 4, true, &route, &mask);
	cr_assert_eq(route, -1);
	/* Data and control in one 8-byte write: both reported. */
	q = (uint64_t)0 << 32 | 0x41;
	vfio_msix_table_access(t, 4, 16 + 8, (uint8_t *)&q, 8, true, &route,
			       &mask);
	cr_assert_eq(route, 1);
	cr_assert_eq(mask, 1);
	cr_assert_eq(t[1].data, 0x41);
	cr_assert_eq(t[1].ctrl, 0);
	/* Only the mask bit of the control word is writable. */
	v = 0xffffffff;
	vfio_msix_table_access(t, 4, 16 + 12, (uint8_t *)&v, 4, true, &route,
			       &mask);
	cr_assert_eq(t[1].ctrl, 1);
	/* Reads, 4 and 8 bytes. */
	vfio_msix_table_access(t, 4, 16, b, 8, false, &route, &mask);
	memcpy(&q, b, 8);
	cr_assert_eq(q, 0xfee00000);
	/* Unaligned or odd sizes: ignored, read as 0. */
	memset(b, 0xaa, sizeof(b));
	vfio_msix_table_access(t, 4, 18, b, 4, false, &route, &mask);
	memcpy(&v, b, 4);
	cr_assert_eq(v, 0);
	vfio_msix_table_access(t, 4, 16, b, 2, true, &route, &mask);
	cr_assert_eq(route, -1);
	cr_assert_eq(t[1].addr_lo, 0xfee00000);
	/* Past the table. */
	vfio_msix_table_access(t, 4, 64, b, 4, false, &route, &mask);
	memcpy(&v, b, 4);
	cr_assert_eq(v, 0);
}

Test(vfio_cfg, msix_pba_read)
{
	uint64_t pending[2] = {0x8000000000000001ull, 0x3};
	uint8_t b[8];
	uint64_t q;
	uint32_t v;

	vfio_msix_pba_read(pending, 66, 0, b, 8);
	memcpy(&q, b, 8);
	cr_assert_eq(q, 0x8000000000000001ull);
	vfio_msix_pba_read(pending, 66, 8, b, 4);
	memcpy(&v, b, 4);
	cr_assert_eq(v, 3);
	vfio_msix_pba_read(pending, 66, 16, b, 4);
	memcpy(&v, b, 4);
	cr_assert_eq(v, 0, "beyond the PBA");
}

Test(vfio_cfg, msix_trap_ranges)
{
	struct vfio_msix_info m = {.present = true,
				   .table_size = 65,
				   .table_bar = 0,
				   .table_off = 0x2000,
				   .pba_bar = 0,
				   .pba_off = 0x3000};
	uint64_t s[2], e[2];

	/* Table page and PBA page touch: one range. */
	cr_assert_eq(vfio_msix_trap_ranges(&m, 0, 4096, s, e), 1);
	cr_assert_eq(s[0], 0x2000);
	cr_assert_eq(e[0], 0x4000);
	cr_assert_eq(vfio_msix_trap_ranges(&m, 1, 4096, s, e), 0);
	/* An NVIDIA-like layout: table deep inside a 16 MiB BAR0, PBA apart. */
	m.table_size = 9;
	m.table_off = 0xb90000;
	m.pba_off = 0xba0000;
	cr_assert_eq(vfio_msix_trap_ranges(&m, 0, 4096, s, e), 2);
	cr_assert_eq(s[0], 0xb90000);
	cr_assert_eq(e[0], 0xb91000);
	cr_assert_eq(s[1], 0xba0000);
	cr_assert_eq(e[1], 0xba1000);
	/* 64 KiB host pages: adjacent pages merge; one page holds both. */
	cr_assert_eq(vfio_msix_trap_ranges(&m, 0, 65536, s, e), 1);
	cr_assert_eq(s[0], 0xb90000);
	cr_assert_eq(e[0], 0xbb0000);
	m.pba_off = 0xb90800;
	cr_assert_eq(vfio_msix_trap_ranges(&m, 0, 65536, s, e), 1);
	cr_assert_eq(s[0], 0xb90000);
	cr_assert_eq(e[0], 0xba0000);
	/* PBA in another BAR, before the table's. */
	m.pba_bar = 2;
	m.pba_off = 0;
	cr_assert_eq(vfio_msix_trap_ranges(&m, 2, 4096, s, e), 1);
	cr_assert_eq(s[0], 0);
	cr_assert_eq(e[0], 0x1000);
	m.present = false;
	cr_assert_eq(vfio_msix_trap_ranges(&m, 0, 4096, s, e), 0);
}
