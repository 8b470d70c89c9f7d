/* vfio_cfg.h: pure config-space logic of a passed-through device: the shadow, which bytes reach the device, MSI/MSI-X decode. */
#ifndef DEVICES_VFIO_VFIO_CFG_H
#define DEVICES_VFIO_VFIO_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/pci/config.h"
#include "devices/pci/plan.h"

/*
 * The guest sees a shadow of the device's config space (as VFIO's config
 * region presents it) in which some bytes are ours and the rest are the
 * device's:
 * - ours (virtualized): the header identity (vendor, device, class,
 *   subsystem, header type with the multi-function bit cleared), the BARs
 *   (sized as VFIO's region info says, type bits as the device has them,
 *   programmed by us), the expansion ROM BAR (off: reads 0), the
 *   capability pointer and every capability header, the interrupt line
 *   and pin (pin 0 here: the device model shows the device's pin once it
 *   has routed INTx, see intx_pin), and the whole MSI and MSI-X
 *   capabilities (emulated: the device is driven through VFIO's interrupt
 *   ioctls, never through its own MSI registers);
 * - the device's (passthrough): everything else, such as the command and
 *   status registers and the bodies of other capabilities. Reads fetch
 *   them from the device each time, writes go to the device.
 * I/O BARs are not passed through (the planner places memory BARs only).
 */

struct vfio_msix_info {
	bool present;
	unsigned int cap; /* offset of the capability */
	unsigned int table_size; /* entries */
	unsigned int table_bar, pba_bar;
	uint64_t table_off, pba_off; /* within their BARs */
};

struct vfio_msi_info {
	bool present;
	unsigned int cap;
	bool is64; /* 64-bit message address */
	bool maskable; /* per-vector masking */
	unsigned int max_vectors; /* 1, 2, 4, .. 32 */
	unsigned int data_off, mask_off; /* within config space; 0: none */
};

struct vfio_shadow {
	struct pci_config cfg;
	uint8_t passthru[PCI_CFG_SIZE / 8]; /* bit per byte: the device's */
	unsigned int cfg_size; /* 256 (PCI) or 4096 (PCIe) */
	struct vfio_msix_info msix;
	struct vfio_msi_info msi;
	uint64_t io_bar_size[6]; /* I/O BARs left out, for messages */
	uint8_t intx_pin; /* the device's interrupt pin (1-4), 0: none */
};

/*
 * Build the shadow from `raw` (the device's config space, `raw_len` bytes:
 * 256 or 4096) and the BAR sizes VFIO reports (0: no such region). Checks
 * the capability chains (loops, pointers out of range, MSI-X tables outside
 * their BAR). Returns 0 or -EINVAL with a message in `err`.
 */
__attribute__((warn_unused_result)) int
vfio_shadow_build(const uint8_t *raw, size_t raw_len,
		  const uint64_t bar_size[6], struct vfio_shadow *out,
		  char *err, size_t errlen);

/* Is config byte `off` the device's (forwarded) rather than ours? */
static inline bool vfio_shadow_passthru(const struct vfio_shadow *s,
					unsigned int off)
{
	return off < s->cfg_size && (s->passthru[off / 8] >> (off % 8)) & 1;
}

/* The planner's view of the shadowed BARs, named `name`. */
void vfio_shadow_dev_req(const struct vfio_shadow *s, const char *name,
			 struct pci_dev_req *out);

/* ---- MSI-X table and PBA emulation (pure) ---- */

#define VFIO_MSIX_MAX 2048

struct vfio_msix_entry {
	uint32_t addr_lo, addr_hi, data, ctrl;
};

/*
 * One access to the emulated MSI-X table at byte `off` (4 or 8 bytes,
 * naturally aligned; anything else reads 0 and is ignored). On a write,
 * returns the entry index whose address/data changed in *route_changed
 * (or -1) and the one whose mask bit changed in *mask_changed (or -1).
 */
void vfio_msix_table_access(struct vfio_msix_entry *t, unsigned int n,
			    uint64_t off, uint8_t *data, unsigned int len,
			    bool is_write, int *route_changed,
			    int *mask_changed);

/* Bytes of the PBA at `off` from a pending bitmap of `n` entries. */
void vfio_msix_pba_read(const uint64_t *pending, unsigned int n, uint64_t off,
			uint8_t *data, unsigned int len);

/*
 * Page-aligned [start, end) of a BAR that must trap because the MSI-X
 * table or PBA lie in it (up to two ranges, merged when they touch);
 * returns how many.
 */
unsigned int vfio_msix_trap_ranges(const struct vfio_msix_info *m,
				   unsigned int bar, uint64_t page,
				   uint64_t start[2], uint64_t end[2]);

#endif
