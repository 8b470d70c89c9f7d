/* test_pci_config.c: L0 tests of config-space masks, BAR sizing, capability chains, ACS, ECAM routing. */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/pci_regs.h>
#include <stdlib.h>
#include <string.h>

#include "devices/pci/config.h"
#include "devices/pci/pci.h"
#include "devices/pci/pcie.h"
#include "devices/pci/testdev.h"

static struct pci_config *new_cfg(bool bridge)
{
	struct pci_config *c = malloc(sizeof(*c));

	pci_config_init(c, 0x1b36, 0x000c, 0x060400, 0, bridge);
	return c;
}

Test(pci_config, write_mask_and_w1c)
{
	struct pci_config *c = new_cfg(false);

	/* Read-only IDs ignore writes. */
	pci_config_write(c, PCI_VENDOR_ID, 0xdeadbeef, 4);
	cr_assert_eq(pci_config_read(c, PCI_VENDOR_ID, 4), 0x000c1b36);
	/* Command: only the writable bits stick. */
	pci_config_write(c, PCI_COMMAND, 0xffff, 2);
	cr_assert_eq(pci_config_read(c, PCI_COMMAND, 2),
		     PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
			     PCI_COMMAND_PARITY | PCI_COMMAND_SERR |
			     PCI_COMMAND_INTX_DISABLE);
	/* Status error bits: set by the device, cleared by writing 1. */
	pci_set16(c, PCI_STATUS,
		  PCI_STATUS_CAP_LIST | PCI_STATUS_REC_MASTER_ABORT |
			  PCI_STATUS_SIG_SYSTEM_ERROR);
	pci_config_write(c, PCI_STATUS, PCI_STATUS_REC_MASTER_ABORT, 2);
	cr_assert_eq(pci_config_read(c, PCI_STATUS, 2),
		     PCI_STATUS_CAP_LIST | PCI_STATUS_SIG_SYSTEM_ERROR);
	pci_config_write(c, PCI_STATUS, 0, 2);
	cr_assert_eq(pci_config_read(c, PCI_STATUS, 2),
		     PCI_STATUS_CAP_LIST | PCI_STATUS_SIG_SYSTEM_ERROR,
		     "writing 0 clears nothing");
	/* Byte writes inside a dword. */
	pci_config_write(c, PCI_INTERRUPT_LINE, 0x0a, 1);
	cr_assert_eq(c->cfg[PCI_INTERRUPT_LINE], 0x0a);
	/* Out of range accesses are harmless. */
	pci_config_write(c, 4094, 0xffffffff, 4);
	cr_assert_eq(pci_config_read(c, 4094, 4), 0xffffffff);
	free(c);
}

Test(pci_config, bar_sizing_32bit)
{
	struct pci_config *c = new_cfg(false);

	cr_assert_eq(pci_bar_init(c, 0, 16 << 20, 0), 0);
	pci_config_write(c, PCI_BASE_ADDRESS_0, 0xffffffff, 4);
	cr_assert_eq(pci_config_read(c, PCI_BASE_ADDRESS_0, 4), 0xff000000);
	pci_config_write(c, PCI_BASE_ADDRESS_0, 0xc1234567, 4);
	cr_assert_eq(pci_config_read(c, PCI_BASE_ADDRESS_0, 4), 0xc1000000);
	cr_assert_eq(pci_bar_addr(c, 0), 0xc1000000);
	/* 32-bit prefetchable: type bits read back. */
	cr_assert_eq(pci_bar_init(c, 1, 4096, PCI_BAR_PREFETCH), 0);
	pci_config_write(c, PCI_BASE_ADDRESS_1, 0xffffffff, 4);
	cr_assert_eq(pci_config_read(c, PCI_BASE_ADDRESS_1, 4),
		     0xfffff000 | PCI_BASE_ADDRESS_MEM_PREFETCH);
	/* An unimplemented BAR reads 0 whatever is written. */
	pci_config_write(c, PCI_BASE_ADDRESS_5, 0xffffffff, 4);
	cr_assert_eq(pci_config_read(c, PCI_BASE_ADDRESS_5, 4), 0);
	free(c);
}

Test(pci_config, bar_sizing_64bit_pair)
{
	struct pci_config *c = new_cfg(false);
	uint32_t lo, hi;
	uint64_t mask;

	cr_assert_eq(pci_bar_init(c, 1, 128ull << 30,
				  PCI_BAR_MEM64 | PCI_BAR_PREFETCH),
		     0);
	pci_config_write(c, PCI_BASE_ADDRESS_1, 0xffffffff, 4);
	pci_config_write(c, PCI_BASE_ADDRESS_2, 0xffffffff, 4);
	lo = pci_config_read(c, PCI_BASE_ADDRESS_1, 4);
	hi = pci_config_read(c, PCI_BASE_ADDRESS_2, 4);
	cr_assert_eq(lo & 0xf, PCI_BASE_ADDRESS_MEM_TYPE_64 |
				       PCI_BASE_ADDRESS_MEM_PREFETCH);
	mask = ((uint64_t)hi << 32) | (lo & ~0xfu);
	cr_assert_eq(~mask + 1, 128ull << 30, "size from the sizing dance");
	pci_bar_set_addr(c, 1, 0x2000000000ull);
	cr_assert_eq(pci_bar_addr(c, 1), 0x2000000000ull);
	/* A 64-bit BAR may not start at BAR5, nor overlap a used BAR. */
	cr_assert_eq(pci_bar_init(c, 5, 4096, PCI_BAR_MEM64), -EINVAL);
	cr_assert_eq(pci_bar_init(c, 1, 4096, 0), -EINVAL);
	cr_assert_eq(pci_bar_init(c, 0, 4096, PCI_BAR_MEM64), -EINVAL,
		     "BAR1 is taken");
	cr_assert_eq(pci_bar_init(c, 3, 3000, 0), -EINVAL, "not a power of 2");
	cr_assert_eq(pci_bar_init(c, 3, 8, 0), -EINVAL, "memory BAR < 16");
	cr_assert_eq(pci_bar_init(c, 3, 8ull << 30, 0), -EINVAL,
		     "32-bit BAR over 2 GiB");
	free(c);
}

Test(pci_config, capability_chains)
{
	struct pci_config *c = new_cfg(true);
	int a, b, e1, e2;

	a = pci_cap_add(c, PCI_CAP_ID_EXP, 0x3c);
	b = pci_cap_add(c, PCI_CAP_ID_MSI, 14);
	cr_assert_eq(a, 0x40);
	cr_assert_eq(b, 0x7c);
	cr_assert_eq(c->cfg[PCI_CAPABILITY_LIST], 0x40);
	cr_assert_eq(c->cfg[a + 1], b);
	cr_assert_eq(c->cfg[b + 1], 0);
	cr_assert(pci_get16(c, PCI_STATUS) & PCI_STATUS_CAP_LIST);
	cr_assert_eq(pci_cap_find(c, PCI_CAP_ID_MSI), (unsigned)b);
	cr_assert_eq(pci_cap_find(c, PCI_CAP_ID_MSIX), 0);
	cr_assert_eq(pci_cap_add(c, 0x09, 200), -ENOSPC);

	e1 = pci_ext_cap_add(c, PCI_EXT_CAP_ID_ACS, 1, 8);
	e2 = pci_ext_cap_add(c, PCI_EXT_CAP_ID_ERR, 2, 0x48);
	cr_assert_eq(e1, 0x100);
	cr_assert_eq(e2, 0x108);
	cr_assert_eq(PCI_EXT_CAP_NEXT(pci_get32(c, e1)), (unsigned)e2);
	cr_assert_eq(PCI_EXT_CAP_NEXT(pci_get32(c, e2)), 0);
	cr_assert_eq(PCI_EXT_CAP_VER(pci_get32(c, e2)), 2);
	cr_assert_eq(pci_ext_cap_find(c, PCI_EXT_CAP_ID_ERR), (unsigned)e2);
	/* Capability headers are read-only. */
	pci_config_write(c, e1, 0xffffffff, 4);
	cr_assert_eq(PCI_EXT_CAP_ID(pci_get32(c, e1)), PCI_EXT_CAP_ID_ACS);
	free(c);
}

Test(pci_config, acs_bits_and_control_mask)
{
	struct pci_config *c = new_cfg(true);
	int off = pcie_acs_init(c, PCIE_ACS_DEFAULT_MASK);

	cr_assert_geq(off, 0x100);
	cr_assert_eq(pci_config_read(c, off + PCI_ACS_CAP, 2), 0x5f);
	pci_config_write(c, off + PCI_ACS_CTRL, 0xffff, 2);
	cr_assert_eq(pci_config_read(c, off + PCI_ACS_CTRL, 2), 0x5f,
		     "control writable only where the capability says so");
	free(c);
	c = new_cfg(true);
	off = pcie_acs_init(c, PCI_ACS_SV | PCI_ACS_RR);
	pci_config_write(c, off + PCI_ACS_CTRL, 0xffff, 2);
	cr_assert_eq(pci_config_read(c, off + PCI_ACS_CTRL, 2),
		     PCI_ACS_SV | PCI_ACS_RR);
	cr_assert_eq(pcie_acs_init(c, 0x7f), -EINVAL, "egress control");
	free(c);
}

Test(pci_config, root_port_pcie_cap)
{
	struct pci_config *c = new_cfg(true);
	int off = pcie_cap_init_root_port(c, 3, 4);
	uint16_t flags;

	cr_assert_eq(off, 0x40);
	flags = pci_get16(c, off + PCI_EXP_FLAGS);
	cr_assert_eq((flags & PCI_EXP_FLAGS_TYPE) >> 4, PCI_EXP_TYPE_ROOT_PORT);
	cr_assert(flags & PCI_EXP_FLAGS_SLOT);
	cr_assert_eq(flags & PCI_EXP_FLAGS_VERS, 2);
	cr_assert_eq(pci_get32(c, off + PCI_EXP_LNKCAP) >> 24, 3);
	cr_assert_eq(pci_get32(c, off + PCI_EXP_SLTCAP) >> 19, 4);
	cr_assert_not(pci_get16(c, off + PCI_EXP_SLTSTA) & PCI_EXP_SLTSTA_PDS);
	pcie_root_port_set_present(c, true);
	cr_assert(pci_get16(c, off + PCI_EXP_SLTSTA) & PCI_EXP_SLTSTA_PDS);
	cr_assert(pci_get16(c, off + PCI_EXP_LNKSTA) & PCI_EXP_LNKSTA_DLLLA);
	free(c);
}

/* A fake MMIO bus recording maps, for the routing test. */
struct fake_bus {
	uint64_t addr[16], len[16];
	int n;
};

static int fb_map(void *o, uint64_t addr, uint64_t len, bus_access_fn fn,
		  void *ctx, const char *name)
{
	struct fake_bus *b = o;

	b->addr[b->n] = addr;
	b->len[b->n++] = len;
	return 0;
}

static void fb_unmap(void *o, uint64_t addr)
{
	struct fake_bus *b = o;

	for (int i = 0; i < b->n; i++)
		if (b->addr[i] == addr) {
			b->addr[i] = b->addr[--b->n];
			b->len[i] = b->len[b->n];
		}
}

static const struct pci_root_ops fb_ops = {fb_map, fb_unmap};

static uint32_t ecam_rd(struct pci_root *r, unsigned bus, unsigned devfn,
			unsigned reg, unsigned len)
{
	uint32_t v = 0;

	pci_ecam_access(r, ((uint64_t)bus << 20) | devfn << 12 | reg,
			(uint8_t *)&v, len, false);
	return v;
}

static void ecam_wr(struct pci_root *r, unsigned bus, unsigned devfn,
		    unsigned reg, uint32_t v, unsigned len)
{
	pci_ecam_access(r, ((uint64_t)bus << 20) | devfn << 12 | reg,
			(uint8_t *)&v, len, true);
}

Test(pci_root, ecam_routing_and_bar_mapping)
{
	static struct pci_root r;
	static struct pci_function port;
	static struct testdev td;
	struct fake_bus fb = {0};
	struct logger lg = {0};
	uint64_t size[6] = {16 << 20};
	unsigned int flags[6] = {0};

	pci_root_init(&r, &lg, 0, 255, 0xe0000000, &fb_ops, &fb);
	pci_config_init(&port.cfg, 0x1b36, 0x000c, 0x060400, 0, true);
	cr_assert_eq(pci_root_add_port(&r, &port, 0x08), 0); /* 01.0 */
	cr_assert_eq(testdev_init(&td, "td0", size, flags), 0);
	cr_assert_eq(pci_root_add_endpoint(&r, &port, &td.fn), 0);
	port.cfg.cfg[PCI_SECONDARY_BUS] = 5;

	cr_assert_eq(ecam_rd(&r, 0, 0x08, 0, 4), 0x000c1b36);
	cr_assert_eq(ecam_rd(&r, 0, 0x00, 0, 4), 0xffffffff, "empty slot");
	cr_assert_eq(ecam_rd(&r, 5, 0, 0, 2), TESTDEV_VENDOR);
	cr_assert_eq(ecam_rd(&r, 5, 0x08, 0, 4), 0xffffffff,
		     "only device 0 below a downstream port");
	cr_assert_eq(ecam_rd(&r, 6, 0, 0, 4), 0xffffffff);
	/* The guest renumbers the bus: routing follows the bridge. */
	ecam_wr(&r, 0, 0x08, PCI_SECONDARY_BUS, 7, 1);
	cr_assert_eq(ecam_rd(&r, 7, 0, 0, 2), TESTDEV_VENDOR);
	cr_assert_eq(ecam_rd(&r, 5, 0, 0, 4), 0xffffffff);
	/* Misaligned access reads all ones. */
	cr_assert_eq(ecam_rd(&r, 7, 0, 1, 2), 0xffff);

	/* BAR decode follows memory enable and the BAR address. */
	ecam_wr(&r, 7, 0, PCI_BASE_ADDRESS_0, 0xc0000000, 4);
	cr_assert_eq(fb.n, 0, "decode off");
	ecam_wr(&r, 7, 0, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	cr_assert_eq(fb.n, 1);
	cr_assert_eq(fb.addr[0], 0xc0000000);
	cr_assert_eq(fb.len[0], 16 << 20);
	ecam_wr(&r, 7, 0, PCI_BASE_ADDRESS_0, 0xc1000000, 4);
	cr_assert_eq(fb.n, 1);
	cr_assert_eq(fb.addr[0], 0xc1000000, "moved");
	ecam_wr(&r, 7, 0, PCI_COMMAND, 0, 2);
	cr_assert_eq(fb.n, 0, "unmapped when decode is off");
	testdev_destroy(&td);
	pci_root_destroy(&r);
}

Test(pci_root, testdev_registers_read_back)
{
	static struct testdev td;
	uint64_t size[6] = {0, 1 << 20};
	unsigned int flags[6] = {0, PCI_BAR_MEM64 | PCI_BAR_PREFETCH};
	uint32_t v = 0;
	uint64_t sz = 0;

	cr_assert_eq(testdev_init(&td, "td", size, flags), 0);
	td.fn.bar_access(&td.fn, 1, 0, (uint8_t *)&v, 4, false);
	cr_assert_eq(v, TESTDEV_MAGIC);
	td.fn.bar_access(&td.fn, 1, 8, (uint8_t *)&sz, 8, false);
	cr_assert_eq(sz, 1 << 20);
	v = 0x12345678;
	td.fn.bar_access(&td.fn, 1, 0x100, (uint8_t *)&v, 4, true);
	v = 0;
	td.fn.bar_access(&td.fn, 1, 0x100, (uint8_t *)&v, 4, false);
	cr_assert_eq(v, 0x12345678);
	v = 0xffffffff;
	td.fn.bar_access(&td.fn, 1, 0x10000, (uint8_t *)&v, 4, false);
	cr_assert_eq(v, 0, "beyond the register file reads 0");
	testdev_destroy(&td);
}

Test(pci_root, conf1_reaches_the_first_256_bytes)
{
	static struct pci_root r;
	static struct pci_function port;
	struct fake_bus fb = { 0 };
	struct logger lg = { 0 };
	uint32_t v = 0;

	pci_root_init(&r, &lg, 0, 255, 0xe0000000, &fb_ops, &fb);
	pci_config_init(&port.cfg, 0x1b36, 0x000c, 0x060400, 0, true);
	cr_assert_eq(pci_root_add_port(&r, &port, 0x09), 0); /* 01.1 */
	pci_conf1_data(&r, 0x80000000u | 0x09 << 8 | 0x00, 0, (uint8_t *)&v,
		       4, false);
	cr_assert_eq(v, 0x000c1b36);
	v = 0;
	pci_conf1_data(&r, 0x80000000u | 0x09 << 8 | 0x08, 3, (uint8_t *)&v,
		       1, false);
	cr_assert_eq(v, 0x06, "class byte via the data port offset");
	v = 0;
	pci_conf1_data(&r, 0x09 << 8, 0, (uint8_t *)&v, 4, false);
	cr_assert_eq(v, 0xffffffff, "enable bit clear: master abort");
	v = 0x12;
	pci_conf1_data(&r, 0x80000000u | 0x09 << 8 | 0x18, 1, (uint8_t *)&v,
		       1, true);
	cr_assert_eq(port.cfg.cfg[PCI_SECONDARY_BUS], 0x12);
	pci_root_destroy(&r);
}
