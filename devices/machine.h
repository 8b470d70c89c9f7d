/* machine.h: everything a device model may ask of the machine it is plugged into; each arch's board composes its devices on it. */
#ifndef DEVICES_MACHINE_H
#define DEVICES_MACHINE_H

#include <stdbool.h>
#include <stdint.h>

#include "microvm.h"
#include "vmm/bus.h"
#include "vmm/log.h"
#include "vmm/memory.h"

struct evloop;
struct machine;
struct pci_dev_req;
struct pci_dev_slot;
struct pci_plan_dev;

/*
 * Device models see the VM only through this: they never include vmm/vm.h,
 * so the same models serve the x86 board (PIO, IOAPIC GSIs) and the aarch64
 * one (MMIO only, GIC SPIs), and a test can plug a model into a fake.
 * Every op is safe from any thread unless it says otherwise.
 */
struct machine_ops {
	/*
	 * Add or remove a guest-physical MMIO range; dispatch calls `fn`
	 * without holding the bus lock, so a callback may remap ranges.
	 * 0 or -errno (-EEXIST: overlap).
	 */
	int (*mmio_map)(struct machine *m, uint64_t addr, uint64_t len,
			bus_access_fn fn, void *opaque, const char *name);
	void (*mmio_unmap)(struct machine *m, uint64_t addr);
	/* An I/O port range (set-up only; only x86 guests reach ports). */
	int (*pio_map)(struct machine *m, uint64_t port, uint64_t len,
		       bus_access_fn fn, void *opaque, const char *name);
	/* Set the level of an interrupt line (a GSI of the machine's irqchip). */
	int (*irq_line)(struct machine *m, unsigned int gsi, int level);
	/* A new GSI for an MSI vector, routed to nothing yet. */
	int (*msi_alloc)(struct machine *m, unsigned int *gsi);
	/*
	 * Point `gsi` at the MSI message (addr, data) of requester `devid`
	 * (pci_function_requester_id; the ITS needs it on aarch64).
	 */
	int (*msi_route)(struct machine *m, unsigned int gsi, uint64_t addr,
			 uint32_t data, uint32_t devid);
	/*
	 * Inject `gsi` whenever `efd` is signalled (assign), or stop. With
	 * `resample_fd` >= 0 the line is level-triggered and `resample_fd` is
	 * signalled at EOI (INTx).
	 */
	int (*irqfd)(struct machine *m, int efd, int resample_fd,
		     unsigned int gsi, bool assign);
	/* Signal `efd` on guest writes of `len` bytes to MMIO `addr`. */
	int (*ioeventfd)(struct machine *m, uint64_t addr, unsigned int len,
			 int efd, bool assign);
	/* Show host memory to the guest in a memory slot of its own. */
	int (*memslot_add)(struct machine *m, uint64_t gpa, uint64_t size,
			   void *hva, int *slot);
	void (*memslot_del)(struct machine *m, int slot);
	/* Tell the hypervisor's VFIO pseudo-device about a group or device fd. */
	int (*vfio_file_add)(struct machine *m, int fd);
	void (*vfio_file_del)(struct machine *m, int fd);
	/* The GSI of INTx `pin` (1 = INTA) of the device the plan placed at `pd`. */
	unsigned int (*intx_gsi)(struct machine *m,
				 const struct pci_plan_dev *pd,
				 unsigned int pin);
	/* Is the VM stopping? (long work on a thread of its own gives up) */
	bool (*stopping)(struct machine *m);
	/* End the VM: the first reason given wins. */
	void (*end)(struct machine *m, enum microvm_exit_reason reason,
		    int error, const char *message);
	/* The guest wrote a boot marker (boot timer, port 0x80). */
	void (*boot_marker)(struct machine *m, uint32_t value,
			    const char *source);
	/*
	 * Put a device on the PCIe fabric: registered before planning, built
	 * by `create` once the plan has placed it (devices/pci/host.h).
	 */
	int (*pci_add)(struct machine *m, const struct pci_dev_req *req,
		       int (*create)(struct machine *m,
				     struct pci_dev_slot *slot,
				     const struct pci_plan_dev *pd),
		       void (*destroy)(struct pci_dev_slot *slot), void *priv);
};

struct machine {
	const struct machine_ops *ops;
	struct logger *log;
	struct guest_mem *mem; /* guest RAM, for DMA by emulated devices */
	struct evloop *loop;   /* the event loop thread's; NULL when planning */
	unsigned int cpus;
	bool plan_only; /* no hypervisor VM: devices only describe themselves */
};

__attribute__((format(printf, 4, 5))) void
machine_end(struct machine *m, enum microvm_exit_reason reason, int error,
	    const char *fmt, ...);

/* CLOCK_MONOTONIC in nanoseconds (the clock of the VM's timings). */
uint64_t machine_now_ns(void);

#endif
