/* machine.c: the VM's side of devices/machine.h: the one door through which device models reach KVM, the buses and the VM's lifecycle. */
#include "vmm/machine.h"

#include <stdatomic.h>
#include <stddef.h>

#include "devices/pci/host.h"
#include "devices/pci/plan.h"
#include "vmm/arch.h"
#include "vmm/irq.h"
#include "vmm/vm.h"

static struct vm *to_vm(struct machine *m)
{
	return (struct vm *)((char *)m - offsetof(struct vm, machine));
}

static int m_mmio_map(struct machine *m, uint64_t addr, uint64_t len,
		      bus_access_fn fn, void *opaque, const char *name)
{
	return vm_mmio_map(to_vm(m), addr, len, fn, opaque, name);
}

static void m_mmio_unmap(struct machine *m, uint64_t addr)
{
	vm_mmio_unmap(to_vm(m), addr);
}

static int m_pio_map(struct machine *m, uint64_t port, uint64_t len,
		     bus_access_fn fn, void *opaque, const char *name)
{
	return bus_insert(&to_vm(m)->pio, port, len, fn, opaque, name);
}

static int m_irq_line(struct machine *m, unsigned int gsi, int level)
{
	return vm_irq_line(to_vm(m), gsi, level);
}

static int m_msi_alloc(struct machine *m, unsigned int *gsi)
{
	return vm_msi_gsi_alloc(to_vm(m), gsi);
}

static int m_msi_route(struct machine *m, unsigned int gsi, uint64_t addr,
		       uint32_t data, uint32_t devid)
{
	return vm_msi_route(to_vm(m), gsi, addr, data, devid);
}

static int m_irqfd(struct machine *m, int efd, int resample_fd,
		   unsigned int gsi, bool assign)
{
	if (assign && resample_fd >= 0)
		return vm_irqfd_resample(to_vm(m), efd, resample_fd, gsi,
					 assign);
	return vm_irqfd(to_vm(m), efd, gsi, assign);
}

static int m_ioeventfd(struct machine *m, uint64_t addr, unsigned int len,
		       int efd, bool assign)
{
	return vm_ioeventfd(to_vm(m), addr, len, efd, assign);
}

static int m_memslot_add(struct machine *m, uint64_t gpa, uint64_t size,
			 void *hva, int *slot)
{
	return vm_memslot_add(to_vm(m), gpa, size, hva, slot);
}

static void m_memslot_del(struct machine *m, int slot)
{
	vm_memslot_del(to_vm(m), slot);
}

static int m_vfio_file_add(struct machine *m, int fd)
{
	return vm_vfio_file_add(to_vm(m), fd);
}

static void m_vfio_file_del(struct machine *m, int fd)
{
	vm_vfio_file_del(to_vm(m), fd);
}

static bool m_stopping(struct machine *m)
{
	return atomic_load(&to_vm(m)->stopping);
}

static unsigned int m_intx_gsi(struct machine *m,
			       const struct pci_plan_dev *pd, unsigned int pin)
{
	const struct pci_plan *plan = to_vm(m)->pci_plan;

	return arch_pci_intx_gsi(plan->port[pd->port].device, pin);
}

static void m_end(struct machine *m, enum microvm_exit_reason reason,
		  int error, const char *message)
{
	vm_request_exit(to_vm(m), reason, -1, error, "%s", message);
}

static void m_boot_marker(struct machine *m, uint32_t value,
			  const char *source)
{
	vm_boot_marker(to_vm(m), value, source);
}

static int m_pci_add(struct machine *m, const struct pci_dev_req *req,
		     pci_dev_create_fn create, pci_dev_destroy_fn destroy,
		     void *priv)
{
	return pci_host_add_device(&to_vm(m)->pci_devs, req, create, destroy,
				   priv);
}

static const struct machine_ops vm_machine_ops = {
	.mmio_map = m_mmio_map,
	.mmio_unmap = m_mmio_unmap,
	.pio_map = m_pio_map,
	.irq_line = m_irq_line,
	.msi_alloc = m_msi_alloc,
	.msi_route = m_msi_route,
	.irqfd = m_irqfd,
	.ioeventfd = m_ioeventfd,
	.memslot_add = m_memslot_add,
	.memslot_del = m_memslot_del,
	.vfio_file_add = m_vfio_file_add,
	.vfio_file_del = m_vfio_file_del,
	.stopping = m_stopping,
	.intx_gsi = m_intx_gsi,
	.end = m_end,
	.boot_marker = m_boot_marker,
	.pci_add = m_pci_add,
};

void vm_machine_init(struct vm *vm)
{
	vm->machine = (struct machine){
		.ops = &vm_machine_ops,
		.log = &vm->log,
		.mem = &vm->mem,
		.cpus = vm->cfg.cpus,
		.plan_only = vm->vm_fd < 0,
	};
}
