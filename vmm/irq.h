/* irq.h: MSI routes (GSI routing table), irqfds and ioeventfds. */
#ifndef VMM_IRQ_H
#define VMM_IRQ_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct vm;
struct kvm_irq_routing_entry;

#define VM_MAX_GSI 1024

struct vm_irq {
	pthread_mutex_t lock;
	struct kvm_irq_routing_entry *routes; /* arch defaults, then MSI */
	unsigned int nroutes, ndefault;
	unsigned int next_gsi;
};

/* Set up the routing table with the arch's default entries. */
__attribute__((warn_unused_result)) int vm_irq_init(struct vm *vm);
void vm_irq_destroy(struct vm *vm);

/* A new GSI for an MSI vector (initially routed to nothing). */
__attribute__((warn_unused_result)) int vm_msi_gsi_alloc(struct vm *vm,
							 unsigned int *gsi);

/*
 * Point `gsi` at the MSI message (address, data) of the device with
 * requester ID `devid` (pci_function_requester_id); pushes the table.
 */
__attribute__((warn_unused_result)) int
vm_msi_route(struct vm *vm, unsigned int gsi, uint64_t addr, uint32_t data,
	     uint32_t devid);

/* Inject GSI `gsi` whenever `efd` is written. */
__attribute__((warn_unused_result)) int
vm_irqfd(struct vm *vm, int efd, unsigned int gsi, bool assign);

/*
 * A level-triggered line: inject GSI `gsi` while `efd` was written, and
 * signal `resample_fd` when the guest ends the interrupt (EOI), so the
 * source can assert it again if it still needs service (INTx).
 */
__attribute__((warn_unused_result)) int
vm_irqfd_resample(struct vm *vm, int efd, int resample_fd, unsigned int gsi,
		  bool assign);

/*
 * Signal `efd` instead of exiting to userspace when the guest writes to
 * MMIO [addr, addr+len) (any value). 0, or -errno if KVM refuses.
 */
__attribute__((warn_unused_result)) int
vm_ioeventfd(struct vm *vm, uint64_t addr, unsigned int len, int efd,
	     bool assign);

#endif
