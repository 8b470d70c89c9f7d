/* vfio.h: host PCI devices passed through with VFIO: registration with the PCIe host, guest RAM for DMA, the device model. */
#ifndef DEVICES_VFIO_VFIO_H
#define DEVICES_VFIO_VFIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/pci/pci.h"
#include "devices/vfio/iommu.h"
#include "devices/vfio/vfio_cfg.h"
#include "vmm/memory.h"

struct logger;
struct machine;
struct microvm_vfio;

#define VFIO_MAX_AREAS 8 /* mmapped pieces of one BAR */

/* One mmapped piece of a BAR and the KVM memory slot that shows it. */
struct vfio_area {
	uint64_t off, size; /* within the BAR */
	void *hva;
	int slot; /* -1: not in a memory slot */
	uint64_t gpa;
	bool dma; /* also mapped for DMA at gpa (peer-to-peer) */
};

struct vfio_bar {
	uint64_t size, offset; /* region size and its offset in the device fd */
	uint32_t flags; /* VFIO_REGION_INFO_FLAG_* */
	struct vfio_area area[VFIO_MAX_AREAS];
	unsigned int nareas;
};

/* An interrupt vector: VFIO signals `efd`, KVM injects it as `gsi`. */
struct vfio_vec {
	int efd; /* -1: none yet */
	unsigned int gsi;
	bool routed; /* gsi allocated and routed to addr/data */
	bool irqfd; /* KVM irqfd assigned (vector live) */
	bool in_vfio; /* VFIO signals efd for this vector */
	uint64_t addr; /* the MSI message it is routed to */
	uint32_t data;
};

struct vfio_dev {
	struct machine *mach;
	struct vfio_vm *vv; /* the VM's VFIO state: DMA gate, KVM files */
	struct pci_function fn;
	char bdf[16]; /* host */
	char name[32];
	int group;
	int fd; /* VFIO device fd, -1 */
	struct vfio_iommu *iommu; /* the one that attached it */
	bool resettable;
	uint64_t cfg_offset; /* config region in the device fd */
	struct vfio_bar bar[6];
	struct vfio_shadow sh;
	pthread_mutex_t lock; /* MSI and MSI-X state */
	bool lock_init;
	/* MSI-X */
	struct vfio_msix_entry *msix_table;
	struct vfio_vec *msix_vec;
	unsigned int msix_nvfio; /* vectors enabled in VFIO (0: off) */
	bool msix_on;
	/* MSI */
	struct vfio_vec msi_vec[32];
	unsigned int msi_nvec; /* enabled vectors, 0: off */
	/* INTx: level-triggered through a resampling irqfd */
	bool intx; /* the device has a pin and VFIO offers INTx */
	bool intx_on;
	unsigned int intx_gsi;
	int intx_efd, intx_resample_fd; /* -1 */
	struct ratelimit rl;
	/* timings, ns */
	uint64_t open_ns, reset_ns, bar_map_ns;
	uint64_t bar_bytes_mapped;
};

/* How a VM wants its devices' DMA set up. */
struct vfio_options {
	enum vfio_iommu_want iommu; /* auto, iommufd, legacy */
	bool no_map_file; /* test switch: iommufd maps guest RAM by address */
	bool prefaulted; /* prefault=on did it already: do not again */
};

/* The VM's VFIO state: one DMA back-end shared by all its devices. */
struct vfio_vm {
	struct vfio_iommu *iommu;
	int kvm_dev_fd; /* KVM_DEV_TYPE_VFIO, -1 */
	int kvm_files[64]; /* group fds told to KVM */
	unsigned int nkvm_files;
	struct vfio_dev **devs;
	unsigned int ndevs;
	/*
	 * Guest RAM is pinned and mapped by a thread of its own while the
	 * guest boots; a device's bus mastering waits for it (dma_lock).
	 */
	struct machine *m;
	struct vfio_options opt;
	const char *dma_method; /* "map_file" or "map" (by address), dma_lock */
	bool by_address; /* the DMA thread's: map_file is not used */
	void (*mapped)(void *opaque); /* guest RAM is mapped */
	void *mapped_opaque;
	pthread_t dma_thread;
	bool dma_thread_started;
	pthread_mutex_t dma_lock;
	pthread_cond_t dma_cond;
	bool dma_done; /* the thread finished, dma_err says how */
	int dma_err;
	_Atomic bool dma_cancel;
	uint64_t dma_bytes, dma_ns, prefault_ns;
};

/*
 * Check the config's --vfio list before anything is opened: well-formed
 * BDFs, each given once, usable ids. 0 or -EINVAL (logged).
 */
__attribute__((warn_unused_result)) int
vfio_check_config(struct logger *log, const struct microvm_vfio *list,
		  unsigned int n);

/*
 * Put the --vfio devices `list` on the machine's PCIe fabric, each after
 * its preflight (when the machine only plans, the BARs come from sysfs
 * and nothing is opened). *out (NULL without devices) is the VM's VFIO
 * state, set even on failure: vfio_vm_destroy() it. 0 or -errno; -EINVAL
 * when the preflight says a device cannot be passed through (logged in
 * its words).
 */
__attribute__((warn_unused_result)) int
vfio_add_devices(struct machine *m, const struct microvm_vfio *list,
		 unsigned int n, const struct vfio_options *opt,
		 struct vfio_vm **out);

/*
 * Check guest RAM against the IOMMU's IOVA ranges, then start mapping all
 * of it for DMA (IOVA = guest physical) in a thread of its own, so the
 * guest boots meanwhile; vfio_dma_wait() is the gate. That thread calls
 * mapped(opaque) once all of it is mapped; a failure to map ends the VM
 * with MICROVM_EXIT_ERROR. 0 or -errno (logged).
 */
__attribute__((warn_unused_result)) int
vfio_map_guest_ram(struct vfio_vm *vv, void (*mapped)(void *opaque),
		   void *opaque);

/*
 * Is every region of guest RAM inside one of the IOMMU's `n` IOVA ranges
 * (n 0: the IOMMU does not say; taken as yes)? 0, or -EINVAL with what is
 * not and the fix in `msg`.
 */
int vfio_ram_check_iova(const struct guest_mem *mem,
			const struct vfio_iommu_range *rg, int n, char *msg,
			size_t len);

/*
 * Wait until guest RAM is mapped for DMA (a device may not master the bus
 * before). Returns the mapping's result: 0 or -errno.
 */
int vfio_dma_wait(struct vfio_vm *vv);

/* The "vfio" member of the timings JSON ("" without devices); length or -ENOSPC. */
int vfio_timings_json(const struct vfio_vm *vv, char *buf, size_t len);

/* Tell KVM's VFIO pseudo-device about a group (or device) fd. */
__attribute__((warn_unused_result)) int vfio_kvm_add_file(struct vfio_vm *vv,
							  int fd);

/* Unmap DMA, close groups, container and the KVM device (after the devices). */
void vfio_vm_destroy(struct vfio_vm *vv);

/* ---- the device model (vfio_pci.c) ---- */

/* Open `d->bdf` through `io`, reset it, read its regions and config space. */
__attribute__((warn_unused_result)) int vfio_dev_open(struct vfio_dev *d,
						      struct vfio_iommu *io);
/*
 * Build the guest-visible function (after the plan assigned its BARs);
 * `intx_gsi` is where its INTx pin is wired (arch_pci_intx_gsi).
 */
__attribute__((warn_unused_result)) int vfio_dev_realize(struct vfio_dev *d,
							 unsigned int intx_gsi);
/* Interrupts off, memory slots and mappings gone, reset, fd closed. */
void vfio_dev_close(struct vfio_dev *d);

#endif
