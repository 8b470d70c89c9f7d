/* irq.c: the VM's GSI routing table (arch defaults plus MSI routes), irqfds and ioeventfds. */
#include "vmm/irq.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/arch.h"
#include "vmm/kvm.h"
#include "vmm/vm.h"

/* Caller holds irq->lock. */
static int vm_irq_push(struct vm *vm)
{
	struct vm_irq *irq = &vm->irq;
	struct kvm_irq_routing *t;
	int r;

	t = calloc(1, sizeof(*t) + irq->nroutes * sizeof(t->entries[0]));
	if (!t)
		return -ENOMEM;
	t->nr = irq->nroutes;
	memcpy(t->entries, irq->routes, irq->nroutes * sizeof(t->entries[0]));
	r = kvm_ioctl(&vm->log, "irq", vm->vm_fd, KVM_SET_GSI_ROUTING, t);
	free(t);
	return r < 0 ? r : 0;
}

int vm_irq_init(struct vm *vm)
{
	struct vm_irq *irq = &vm->irq;
	int n;

	pthread_mutex_init(&irq->lock, NULL);
	irq->routes = calloc(VM_MAX_GSI, sizeof(*irq->routes));
	if (!irq->routes)
		return -ENOMEM;
	n = arch_irq_default_routes(irq->routes, VM_MAX_GSI, &irq->next_gsi);
	if (n < 0)
		return n;
	irq->nroutes = irq->ndefault = (unsigned int)n;
	return 0;
}

void vm_irq_destroy(struct vm *vm)
{
	if (!vm->irq.routes)
		return;
	free(vm->irq.routes);
	vm->irq.routes = NULL;
	pthread_mutex_destroy(&vm->irq.lock);
}

int vm_msi_gsi_alloc(struct vm *vm, unsigned int *gsi)
{
	struct vm_irq *irq = &vm->irq;
	int r = 0;

	pthread_mutex_lock(&irq->lock);
	if (irq->next_gsi >= VM_MAX_GSI || irq->nroutes >= VM_MAX_GSI)
		r = -ENOSPC;
	else
		*gsi = irq->next_gsi++;
	pthread_mutex_unlock(&irq->lock);
	return r;
}

int vm_msi_route(struct vm *vm, unsigned int gsi, uint64_t addr, uint32_t data,
		 uint32_t devid)
{
	struct vm_irq *irq = &vm->irq;
	struct kvm_irq_routing_entry *e = NULL;
	int r;

	pthread_mutex_lock(&irq->lock);
	for (unsigned int i = irq->ndefault; i < irq->nroutes; i++)
		if (irq->routes[i].gsi == gsi)
			e = &irq->routes[i];
	if (!e) {
		if (irq->nroutes >= VM_MAX_GSI) {
			pthread_mutex_unlock(&irq->lock);
			return -ENOSPC;
		}
		e = &irq->routes[irq->nroutes++];
	}
	memset(e, 0, sizeof(*e));
	e->gsi = gsi;
	e->type = KVM_IRQ_ROUTING_MSI;
	e->u.msi.address_lo = (uint32_t)addr;
	e->u.msi.address_hi = (uint32_t)(addr >> 32);
	e->u.msi.data = data;
	arch_msi_route_devid(vm, e, devid);
	r = vm_irq_push(vm);
	pthread_mutex_unlock(&irq->lock);
	return r;
}

int vm_irqfd(struct vm *vm, int efd, unsigned int gsi, bool assign)
{
	struct kvm_irqfd f = {
		.fd = (uint32_t)efd,
		.gsi = gsi,
		.flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN,
	};

	int r = kvm_ioctl(&vm->log, "irq", vm->vm_fd, KVM_IRQFD, &f);

	return r < 0 ? r : 0;
}

int vm_irqfd_resample(struct vm *vm, int efd, int resample_fd, unsigned int gsi,
		      bool assign)
{
	struct kvm_irqfd f = {
		.fd = (uint32_t)efd,
		.gsi = gsi,
		.flags = assign ? KVM_IRQFD_FLAG_RESAMPLE : KVM_IRQFD_FLAG_DEASSIGN,
		.resamplefd = assign ? (uint32_t)resample_fd : 0,
	};
	int r = kvm_ioctl(&vm->log, "irq", vm->vm_fd, KVM_IRQFD, &f);

	return r < 0 ? r : 0;
}

int vm_ioeventfd(struct vm *vm, uint64_t addr, unsigned int len, int efd,
		 bool assign)
{
	struct kvm_ioeventfd e = {
		.addr = addr,
		.len = len,
		.fd = efd,
		.flags = assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN,
	};
	int r = __kvm_ioctl(vm->vm_fd, KVM_IOEVENTFD, (unsigned long)&e);

	return r < 0 ? r : 0;
}
