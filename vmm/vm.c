/* vm.c: VM lifecycle: create (in an explicit init order), start, wait, stop, destroy. */
#include "vmm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "devices/pci/host.h"
#include "devices/pci/plan.h"
#include "devices/vfio/vfio.h"
#include "devices/virtio/devices.h"
#include "vmm/arch.h"
#include "vmm/cgroup.h"
#include "vmm/console.h"
#include "vmm/evloop.h"
#include "vmm/haltwatch.h"
#include "vmm/kvm.h"
#include "vmm/machine.h"
#include "vmm/parse.h"
#include "vmm/vcpu.h"

uint64_t vm_now_ns(void)
{
	return machine_now_ns();
}

void vm_kick_vcpus(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (v->thread_started)
			pthread_kill(v->thread, vm->cfg.kick_signal);
	}
}

void vm_request_exit(struct vm *vm, enum microvm_exit_reason reason, int vcpu,
		     int error, const char *fmt, ...)
{
	uint64_t one = 1;
	bool first = false;
	va_list ap;

	pthread_mutex_lock(&vm->lock);
	if (!vm->exited) {
		first = true;
		vm->exited = true;
		vm_phase(vm, VM_PH_STOP);
		vm->exit_info.reason = reason;
		vm->exit_info.vcpu = vcpu;
		vm->exit_info.error = error;
		va_start(ap, fmt);
		vsnprintf(vm->exit_info.message, sizeof(vm->exit_info.message),
			  fmt, ap);
		va_end(ap);
	}
	atomic_store(&vm->stopping, true);
	/* Once joining starts, the threads may be gone: never kick them. */
	if (!vm->joining)
		vm_kick_vcpus(vm);
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	if (first) {
		log_info(&vm->log, "vm", "stopping: %s (%s)",
			 microvm_exit_reason_name(reason),
			 vm->exit_info.message);
		(void)!write(vm->exit_efd, &one, sizeof(one));
		if (vm->exit_cb_efd >= 0)
			(void)!write(vm->exit_cb_efd, &one, sizeof(one));
	}
}

/* cfg.on_exit, once, with no lock of ours held. */
static void vm_deliver_exit(struct vm *vm)
{
	struct microvm_exit e;

	if (!vm->cfg.on_exit || atomic_exchange(&vm->exit_delivered, true))
		return;
	pthread_mutex_lock(&vm->lock);
	e = vm->exit_info;
	pthread_mutex_unlock(&vm->lock);
	vm->cfg.on_exit(vm->cfg.on_exit_opaque, &e);
}

static bool vm_exit_cb_ready(void *opaque, int fd, uint32_t revents)
{
	struct vm *vm = opaque;
	uint64_t v;

	(void)revents;
	(void)!read(fd, &v, sizeof(v));
	vm_deliver_exit(vm);
	return false;
}

int vm_mmio_map(struct vm *vm, uint64_t addr, uint64_t len, bus_access_fn fn,
		void *opaque, const char *name)
{
	int r;

	pthread_rwlock_wrlock(&vm->mmio_lock);
	r = bus_insert(&vm->mmio, addr, len, fn, opaque, name);
	pthread_rwlock_unlock(&vm->mmio_lock);
	return r;
}

void vm_mmio_unmap(struct vm *vm, uint64_t addr)
{
	pthread_rwlock_wrlock(&vm->mmio_lock);
	(void)bus_remove(&vm->mmio, addr);
	pthread_rwlock_unlock(&vm->mmio_lock);
}

bool vm_mmio_dispatch(struct vm *vm, uint64_t addr, uint8_t *data,
		      unsigned int len, bool is_write, const char **name)
{
	const struct bus_range *r;
	struct bus_range copy;
	bool found = false;

	pthread_rwlock_rdlock(&vm->mmio_lock);
	r = bus_find(&vm->mmio, addr);
	if (r && len <= r->len - (addr - r->base)) {
		copy = *r;
		found = true;
	}
	pthread_rwlock_unlock(&vm->mmio_lock);
	if (found)
		copy.access(copy.opaque, addr - copy.base, data, len, is_write);
	*name = found ? copy.name : NULL;
	return found;
}

int vm_memslot_add(struct vm *vm, uint64_t gpa, uint64_t size, void *hva,
		   int *slot)
{
	struct kvm_userspace_memory_region kr = {
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)hva,
	};
	int r = -ENOSPC, s;

	pthread_mutex_lock(&vm->memslot_lock);
	for (s = 0; s < VM_MAX_MEMSLOTS; s++)
		if (!(vm->memslot_used[s / 64] & (1ull << (s % 64))))
			break;
	if (s < VM_MAX_MEMSLOTS) {
		kr.slot = (uint32_t)s;
		r = __kvm_ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION,
				(unsigned long)&kr);
		if (r >= 0) {
			vm->memslot_used[s / 64] |= 1ull << (s % 64);
			*slot = s;
			r = 0;
		}
	}
	pthread_mutex_unlock(&vm->memslot_lock);
	return r;
}

void vm_memslot_del(struct vm *vm, int slot)
{
	struct kvm_userspace_memory_region kr = {.slot = (uint32_t)slot};

	if (slot < 0 || slot >= VM_MAX_MEMSLOTS)
		return;
	pthread_mutex_lock(&vm->memslot_lock);
	/* Size 0 deletes the slot. */
	if (vm->vm_fd >= 0 && __kvm_ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION,
					  (unsigned long)&kr) < 0)
		log_warn(&vm->log, "memory", "deleting memory slot %d failed",
			 slot);
	vm->memslot_used[slot / 64] &= ~(1ull << (slot % 64));
	pthread_mutex_unlock(&vm->memslot_lock);
}

int vm_vfio_file_add(struct vm *vm, int fd)
{
	struct kvm_device_attr a = {
		.group = KVM_DEV_VFIO_GROUP,
		.attr = KVM_DEV_VFIO_GROUP_ADD,
		.addr = (uint64_t)(uintptr_t)&fd,
	};
	int r;

	if (vm->kvm_vfio_fd < 0) {
		struct kvm_create_device cd = {.type = KVM_DEV_TYPE_VFIO};

		r = kvm_ioctl(&vm->log, "vfio", vm->vm_fd, KVM_CREATE_DEVICE,
			      &cd);
		if (r < 0)
			return r;
		vm->kvm_vfio_fd = (int)cd.fd;
	}
	r = kvm_ioctl(&vm->log, "vfio", vm->kvm_vfio_fd, KVM_SET_DEVICE_ATTR,
		      &a);
	return r < 0 ? r : 0;
}

void vm_vfio_file_del(struct vm *vm, int fd)
{
	struct kvm_device_attr a = {
		.group = KVM_DEV_VFIO_GROUP,
		.attr = KVM_DEV_VFIO_GROUP_DEL,
		.addr = (uint64_t)(uintptr_t)&fd,
	};

	if (vm->kvm_vfio_fd >= 0)
		(void)!__kvm_ioctl(vm->kvm_vfio_fd, KVM_SET_DEVICE_ATTR,
				   (unsigned long)&a);
}

void vm_phase(struct vm *vm, enum vm_phase p)
{
	if (!vm->phase[p])
		vm->phase[p] = vm_now_ns();
}

void vm_boot_marker(struct vm *vm, uint32_t value, const char *source)
{
	uint64_t ns = vm_now_ns() - vm->phase[VM_PH_CREATE];

	pthread_mutex_lock(&vm->lock);
	if (vm->nmarkers < VM_MAX_MARKERS)
		vm->markers[vm->nmarkers++] =
			(struct vm_marker){value, ns, source};
	pthread_mutex_unlock(&vm->lock);
	log_info(&vm->log, "boot", "guest boot marker %u (%s) at %.3f ms",
		 value, source, (double)ns / 1e6);
}

uint64_t vm_process_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int vm_timings_json(struct vm *vm, char *buf, size_t len)
{
	struct vcpu_stats *st = calloc(vm->ncpus ? vm->ncpus : 1, sizeof(*st));
	struct vm_stats_view v = {0};
	char *extra = malloc(MICROVM_TIMINGS_MAX / 2);
	char *vfio = malloc(MICROVM_TIMINGS_MAX / 4);
	int r;

	if (!st || !extra || !vfio) {
		free(st);
		free(extra);
		free(vfio);
		return -ENOMEM;
	}
	/* Extra members: "memory" with prefault=on, "vfio" with devices. */
	r = vfio_timings_json(vm->vfio, vfio, MICROVM_TIMINGS_MAX / 4);
	if (r < 0)
		vfio[0] = 0;
	extra[0] = 0;
	if (vm->prefault_ns)
		snprintf(extra, MICROVM_TIMINGS_MAX / 2,
			 "\"memory\": {\"prefault_ms\": %.3f, "
			 "\"prefault_gbps\": %.3f}%s%s",
			 (double)vm->prefault_ns / 1e6,
			 (double)vm->mem.total / (double)vm->prefault_ns,
			 vfio[0] ? ",\n  " : "", vfio);
	else
		snprintf(extra, MICROVM_TIMINGS_MAX / 2, "%s", vfio);
	v.extra_json = extra;
	/* Exit counters are final once the threads are joined. */
	for (unsigned int i = 0; i < vm->ncpus; i++)
		st[i] = vm->vcpus[i].stats;
	pthread_mutex_lock(&vm->lock);
	v.phase = vm->phase;
	v.vcpu = st;
	v.nvcpus = vm->ncpus;
	v.markers = vm->markers;
	v.nmarkers = vm->nmarkers;
	v.cpu_ns_first_run = vm->cpu_ns_first_run;
	v.cpu_ns_stop = vm->cpu_ns_stop;
	v.exit_reason = vm->exited
				? microvm_exit_reason_name(vm->exit_info.reason)
				: NULL;
	r = vm_stats_format_json(&v, buf, len);
	pthread_mutex_unlock(&vm->lock);
	free(st);
	free(extra);
	free(vfio);
	return r;
}

int vm_irq_line(struct vm *vm, unsigned int gsi, int level)
{
	struct kvm_irq_level irq = {.irq = arch_irq_line_number(gsi),
				    .level = (uint32_t)level};

	return kvm_ioctl(&vm->log, "irq", vm->vm_fd, KVM_IRQ_LINE, &irq);
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void vm_config_free(struct vm_config *c)
{
	for (unsigned int i = 0; i < c->ndisks; i++) {
		free((char *)c->disks[i].path);
		free((char *)c->disks[i].id);
	}
	free(c->disks);
	for (unsigned int i = 0; i < c->nnets; i++)
		free((char *)c->nets[i].tap);
	free(c->nets);
	free((char *)c->vsock.uds);
	for (unsigned int i = 0; i < c->n_pci_testdevs; i++)
		free(c->pci_testdevs[i]);
	free(c->pci_testdevs);
	for (unsigned int i = 0; i < c->nvfio; i++) {
		free((char *)c->vfio[i].bdf);
		free((char *)c->vfio[i].id);
	}
	free(c->vfio);
	free(c->kernel);
	free(c->initrd);
	free(c->cmdline);
	free(c->cpu_features);
	free(c->memory_cgroup);
	free(c->vcpu_cgroup);
	free(c->dump_fdt);
}

/* Deep copies of the virtio device lists; the strings stay ours. */
static int vm_config_copy_virtio(struct vm *vm, const struct microvm_config *in)
{
	struct vm_config *c = &vm->cfg;

	if (in->ndisks) {
		c->disks = calloc(in->ndisks, sizeof(*c->disks));
		if (!c->disks)
			return -ENOMEM;
	}
	for (unsigned int i = 0; i < in->ndisks; i++) {
		if (!in->disks[i].path || !*in->disks[i].path) {
			log_err(&vm->log, "vm", "disk %u has no path", i);
			return -EINVAL;
		}
		c->disks[i] = in->disks[i];
		c->disks[i].path = strdup(in->disks[i].path);
		c->disks[i].id = dup_or_null(in->disks[i].id);
		c->ndisks = i + 1;
		if (!c->disks[i].path || (in->disks[i].id && !c->disks[i].id))
			return -ENOMEM;
	}
	if (in->nnets) {
		c->nets = calloc(in->nnets, sizeof(*c->nets));
		if (!c->nets)
			return -ENOMEM;
	}
	for (unsigned int i = 0; i < in->nnets; i++) {
		if (!in->nets[i].tap || !*in->nets[i].tap) {
			log_err(&vm->log, "vm", "network %u has no tap name",
				i);
			return -EINVAL;
		}
		c->nets[i] = in->nets[i];
		c->nets[i].tap = strdup(in->nets[i].tap);
		c->nnets = i + 1;
		if (!c->nets[i].tap)
			return -ENOMEM;
	}
	if (in->vsock) {
		if (in->vsock->guest_cid < 3) {
			log_err(&vm->log, "vm",
				"vsock guest CID must be 3 or more, got %u",
				in->vsock->guest_cid);
			return -EINVAL;
		}
		if (!in->vsock->vhost &&
		    (!in->vsock->uds || !*in->vsock->uds)) {
			log_err(&vm->log, "vm", "vsock needs a uds path");
			return -EINVAL;
		}
		c->vsock = *in->vsock;
		c->vsock.uds = dup_or_null(in->vsock->uds);
		if (in->vsock->uds && !c->vsock.uds)
			return -ENOMEM;
		c->has_vsock = true;
	}
	return 0;
}

static int vm_config_copy_pcie(struct vm *vm, const struct microvm_config *in)
{
	struct vm_config *c = &vm->cfg;
	int r;

	if ((in->pcie_bus_last && in->pcie_bus_first > in->pcie_bus_last) ||
	    in->pcie_bus_first > 255 || in->pcie_bus_last > 255) {
		log_err(&vm->log, "pci", "bad PCIe bus range %u-%u (0-255)",
			in->pcie_bus_first, in->pcie_bus_last);
		return -EINVAL;
	}
	if (in->acs_mask & ~0x5f) {
		log_err(&vm->log, "pci",
			"ACS mask 0x%x has bits outside 0x5f (SV|TB|RR|CR|UF|"
			"DT); egress control (0x20) is not implemented",
			in->acs_mask);
		return -EINVAL;
	}
	c->pcie_root_ports = in->pcie_root_ports;
	c->acs_off = in->acs_off;
	c->acs_mask = in->acs_mask ? in->acs_mask : 0x5f;
	c->low_mmio = in->low_mmio;
	c->high_mmio = in->high_mmio;
	c->pcie_bus_first = in->pcie_bus_first;
	c->pcie_bus_last = in->pcie_bus_last;
	c->rng = in->rng;
	c->virtio_console = in->virtio_console;
	if (in->vfio_iommu > MICROVM_VFIO_IOMMU_LEGACY) {
		log_err(&vm->log, "vfio", "unknown vfio_iommu %d",
			(int)in->vfio_iommu);
		return -EINVAL;
	}
	c->vfio_iommu = in->vfio_iommu;
	/*
	 * iommufd maps guest RAM by address from anonymous memory unless
	 * MICROVM_IOMMUFD_MAP_FILE=1: from a memfd with IOAS_MAP_FILE it mapped
	 * slower in the rig than anonymous huge pages by address (docs/vfio.md).
	 */
	c->vfio_no_map_file = !getenv("MICROVM_IOMMUFD_MAP_FILE") ||
			      strcmp(getenv("MICROVM_IOMMUFD_MAP_FILE"), "1");
	r = vm_config_copy_virtio(vm, in);
	if (r < 0)
		return r;
	if (in->nvfio) {
		c->vfio = calloc(in->nvfio, sizeof(*c->vfio));
		if (!c->vfio)
			return -ENOMEM;
	}
	for (unsigned int i = 0; i < in->nvfio; i++) {
		if (!in->vfio[i].bdf || !*in->vfio[i].bdf) {
			log_err(&vm->log, "vfio", "VFIO device %u has no BDF",
				i);
			return -EINVAL;
		}
		c->vfio[i].bdf = strdup(in->vfio[i].bdf);
		c->vfio[i].id = dup_or_null(in->vfio[i].id);
		c->nvfio = i + 1;
		if (!c->vfio[i].bdf || (in->vfio[i].id && !c->vfio[i].id))
			return -ENOMEM;
	}
	if (!in->n_pci_testdevs)
		return 0;
	c->pci_testdevs = calloc(in->n_pci_testdevs, sizeof(char *));
	if (!c->pci_testdevs)
		return -ENOMEM;
	for (unsigned int i = 0; i < in->n_pci_testdevs; i++) {
		c->pci_testdevs[i] = strdup(in->pci_testdevs[i]);
		if (!c->pci_testdevs[i])
			return -ENOMEM;
		c->n_pci_testdevs = i + 1;
	}
	return 0;
}

/* Validate and copy the embedder's config; logs the first problem. */
static int vm_config_copy(struct vm *vm, const struct microvm_config *in,
			  bool need_kernel)
{
	struct vm_config *c = &vm->cfg;
	char sz[32];
	int r;

	if (need_kernel && (!in->kernel || !*in->kernel)) {
		log_err(&vm->log, "vm", "no kernel given");
		return -EINVAL;
	}
	if (in->cpus < 1 || in->cpus > MICROVM_MAX_CPUS) {
		log_err(&vm->log, "vm", "cpus must be 1..%d, got %u",
			MICROVM_MAX_CPUS, in->cpus);
		return -EINVAL;
	}
	if (in->memory < arch_min_memory()) {
		format_size(arch_min_memory(), sz, sizeof(sz));
		log_err(&vm->log, "vm", "memory must be at least %s", sz);
		return -EINVAL;
	}
	if (in->memory_cgroup && in->hugepages) {
		/* hugetlb pages are charged by the hugetlb controller. */
		log_err(&vm->log, "vm",
			"memory_cgroup (charge-cgroup) does not work with "
			"hugepages yet");
		return -EINVAL;
	}
	if (in->memory & 0xfff || (in->hugepages && (in->memory & 0x1fffff))) {
		log_err(&vm->log, "vm", "memory must be a multiple of %s",
			in->hugepages ? "2 MiB with hugepages" : "4 KiB");
		return -EINVAL;
	}
	r = vm_config_copy_pcie(vm, in);
	if (!r)
		r = vfio_check_config(&vm->log, vm->cfg.vfio, vm->cfg.nvfio);
	if (r < 0)
		return r;
	c->kernel = dup_or_null(in->kernel);
	c->initrd = dup_or_null(in->initrd);
	c->cmdline = strdup(in->cmdline ? in->cmdline : arch_default_cmdline());
	c->dump_fdt = dup_or_null(in->dump_fdt);
	c->cpu_features = dup_or_null(in->cpu_features);
	c->memory_cgroup = dup_or_null(in->memory_cgroup);
	c->vcpu_cgroup = dup_or_null(in->vcpu_cgroup);
	if ((in->kernel && !c->kernel) || !c->cmdline ||
	    (in->initrd && !c->initrd) ||
	    (in->cpu_features && !c->cpu_features) ||
	    (in->memory_cgroup && !c->memory_cgroup) ||
	    (in->vcpu_cgroup && !c->vcpu_cgroup) ||
	    (in->dump_fdt && !c->dump_fdt))
		return -ENOMEM;
	c->cpus = in->cpus;
	c->memory = in->memory;
	c->hugepages = in->hugepages;
	c->prefault = in->prefault;
	c->console_in_fd =
		in->console == MICROVM_CONSOLE_FDS ? in->console_in_fd : -1;
	c->console_out_fd =
		in->console == MICROVM_CONSOLE_FDS ? in->console_out_fd : -1;
	c->console_escape = in->console_escape;
	c->on_exit = in->on_exit;
	c->on_exit_opaque = in->on_exit_opaque;
	c->kick_signal = in->kick_signal ? in->kick_signal : SIGRTMIN + 7;
	if (c->kick_signal < SIGRTMIN || c->kick_signal > SIGRTMAX) {
		log_err(&vm->log, "vm",
			"kick_signal must be a real-time signal (%d..%d)",
			SIGRTMIN, SIGRTMAX);
		return -EINVAL;
	}
	return 0;
}

static int vm_open_kvm(struct vm *vm)
{
	int r;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		r = -errno;
		if (r == -ENOENT)
			log_err(&vm->log, "kvm",
				"/dev/kvm does not exist: this host has no "
				"KVM (x86: load kvm_intel or kvm_amd; arm64: "
				"the host kernel must boot at EL2; or enable "
				"virtualization in the firmware)");
		else if (r == -EACCES || r == -EPERM)
			log_err(&vm->log, "kvm",
				"permission denied opening /dev/kvm: add "
				"your user to the 'kvm' group or run as root");
		else
			log_err(&vm->log, "kvm", "cannot open /dev/kvm: %s",
				strerror(-r));
		/* Distinct from a missing or unreadable kernel file. */
		return r == -ENOENT ? -ENODEV : r == -EACCES ? -EPERM : r;
	}
	r = __kvm_ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (r != KVM_API_VERSION) {
		log_err(&vm->log, "kvm", "KVM API version %d, need %d", r,
			KVM_API_VERSION);
		return -ENOSYS;
	}
	vm->kvm_emulates_kernel = access("/sys/module/kvm_pvm", F_OK) == 0;
	vm_phase(vm, VM_PH_KVM_OPEN);
	return 0;
}

static int vm_check_cap(struct vm *vm, unsigned long cap, const char *name)
{
	if (__kvm_ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, cap) <= 0) {
		log_err(&vm->log, "kvm",
			"this host's KVM lacks a capability microvm needs: %s",
			name);
		return -ENOSYS;
	}
	return 0;
}

static int vm_create_kvm_vm(struct vm *vm)
{
	int r;

	r = vm_check_cap(vm, KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY");
	if (!r)
		r = vm_check_cap(vm, KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP");
	if (!r)
		r = arch_check_kvm(vm);
	if (r)
		return r;
	r = kvm_ioctl(&vm->log, "kvm", vm->kvm_fd, KVM_CREATE_VM,
		      arch_vm_type(vm));
	if (r < 0)
		return r;
	vm->vm_fd = r;
	vm_phase(vm, VM_PH_VM_CREATED);
	r = kvm_ioctl(&vm->log, "kvm", vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (r < 0)
		return r;
	vm->vcpu_mmap_size = r;
	return 0;
}

/* Register every PCI device of the config, in guest order. */
static int vm_add_devices(struct vm *vm)
{
	struct machine *m = &vm->machine;
	struct vm_config *c = &vm->cfg;
	int r;

	vm_machine_init(vm);
	r = pci_host_add_testdevs(m, c->pci_testdevs, c->n_pci_testdevs);
	/* Without a KVM VM (microvm plan) VFIO only reads sysfs. */
	if (!r)
		r = vfio_add_devices(
			m, c->vfio, c->nvfio,
			&(struct vfio_options){
				.iommu = c->vfio_iommu == MICROVM_VFIO_IOMMU_IOMMUFD
						 ? VFIO_WANT_IOMMUFD
					 : c->vfio_iommu == MICROVM_VFIO_IOMMU_LEGACY
						 ? VFIO_WANT_LEGACY
						 : VFIO_WANT_AUTO,
				.no_map_file = c->vfio_no_map_file,
				.prefaulted = c->prefault,
			},
			&vm->vfio);
	for (unsigned int i = 0; !r && i < c->ndisks; i++)
		r = virtio_blk_add(m, &c->disks[i], i);
	for (unsigned int i = 0; !r && i < c->nnets; i++)
		r = virtio_net_add(m, &c->nets[i], i);
	if (!r && c->has_vsock)
		r = virtio_vsock_add(m, &c->vsock);
	if (!r && c->virtio_console)
		r = virtio_console_add(m, &c->console_in_fd, &c->console_out_fd,
				       c->console_escape, &vm->vcon);
	if (!r && c->rng)
		r = virtio_rng_add(m);
	return r;
}

/* Decide the PCIe topology and the MMIO windows before RAM is laid out. */
static int vm_plan_pci(struct vm *vm)
{
	struct pci_plan_input in;
	struct pci_dev_req *devs = NULL;
	char err[512];
	int r;

	r = vm_add_devices(vm);
	if (r < 0)
		return r;
	pci_plan_input_init(&in);
	in.root_ports = vm->cfg.pcie_root_ports;
	in.bus_first = vm->cfg.pcie_bus_first;
	in.bus_last = vm->cfg.pcie_bus_last;
	if (!in.bus_last) {
		/* One bus per root port, and no spare ones for Linux to probe. */
		unsigned int ports = vm->cfg.pcie_root_ports > vm->pci_devs.n
					     ? vm->cfg.pcie_root_ports
					     : vm->pci_devs.n;

		in.bus_last =
			in.bus_first + ports > 255 ? 255 : in.bus_first + ports;
	}
	in.acs_enabled = !vm->cfg.acs_off;
	in.acs_mask = vm->cfg.acs_mask;
	in.low_size = vm->cfg.low_mmio;
	in.high_size = vm->cfg.high_mmio;
	r = arch_pci_layout(vm, &in, &vm->ecam_base);
	if (r < 0)
		return r;
	if (vm->pci_devs.n) {
		devs = calloc(vm->pci_devs.n, sizeof(*devs));
		if (!devs)
			return -ENOMEM;
	}
	for (unsigned int i = 0; i < vm->pci_devs.n; i++)
		devs[i] = vm->pci_devs.slot[i].req;
	in.devs = devs;
	in.ndevs = vm->pci_devs.n;
	vm->pci_plan = calloc(1, sizeof(*vm->pci_plan));
	if (!vm->pci_plan) {
		r = -ENOMEM;
		goto out;
	}
	r = pci_plan_build(&in, vm->pci_plan, err, sizeof(err));
	if (r < 0)
		log_err(&vm->log, "pci", "%s", err);
out:
	free(devs);
	/* Every planning failure is a configuration the user must change. */
	return r < 0 && r != -ENOMEM ? -EINVAL : r;
}

/*
 * Will the DMA back-end map guest RAM from its memfd (iommufd's
 * IOAS_MAP_FILE)? Then RAM stays a memfd; the container pins anonymous
 * RAM (transparent huge pages) faster.
 */
static bool vm_dma_from_memfd(const struct vm *vm)
{
	return vm->vfio && vm->vfio->iommu && vm->vfio->iommu->ops->map_file &&
	       !vm->cfg.vfio_no_map_file;
}

static int vm_create_memory(struct vm *vm)
{
	struct mem_region layout[GUEST_MEM_MAX_REGIONS];
	/*
	 * A memfd, unless devices are passed through: VFIO pins all of RAM,
	 * and pinning anonymous memory with THP is 2.2x faster than a memfd's
	 * shmem pages (measured in the rig: 1 GiB in 2.8 s against 6.4 s).
	 */
	enum guest_mem_backing backing = GUEST_MEM_MEMFD;
	static const char *const backing_name[] = {
		[GUEST_MEM_MEMFD] = "memfd",
		[GUEST_MEM_HUGETLB] = "memfd, huge pages",
		[GUEST_MEM_ANON] = "anonymous, transparent huge pages where the "
				   "host allows, for VFIO",
	};
	char sz[32];
	int n, r;

	if (vm->cfg.hugepages)
		backing = GUEST_MEM_HUGETLB;
	else if (vm->cfg.nvfio && !vm->cfg.memory_cgroup &&
		 !vm_dma_from_memfd(vm))
		backing = GUEST_MEM_ANON; /* a memory cgroup needs the memfd */
	n = arch_mem_layout(vm, vm->cfg.memory, layout, GUEST_MEM_MAX_REGIONS);
	if (n < 0)
		return n;
	r = guest_mem_create(&vm->mem, layout, (unsigned int)n, backing);
	if (r < 0) {
		format_size(vm->cfg.memory, sz, sizeof(sz));
		if (vm->cfg.hugepages)
			log_err(&vm->log, "memory",
				"cannot allocate %s of guest RAM from huge "
				"pages: %s (reserve them in "
				"/proc/sys/vm/nr_hugepages)",
				sz, strerror(-r));
		else
			log_err(&vm->log, "memory",
				"cannot allocate %s of guest RAM: %s", sz,
				strerror(-r));
		return r;
	}
	format_size(vm->cfg.memory, sz, sizeof(sz));
	log_info(&vm->log, "memory", "guest RAM %s in %u region%s (%s)", sz,
		 vm->mem.nregions, vm->mem.nregions == 1 ? "" : "s",
		 backing_name[backing]);
	if (vm->cfg.memory_cgroup) {
		/*
		 * A memfd even with VFIO: only its pages can be allocated by
		 * another process, the one in that cgroup.
		 */
		r = cgroup_charge_memfd(&vm->log, vm->cfg.memory_cgroup,
					vm->mem.fd, vm->mem.total);
		if (r < 0)
			return r;
		log_info(&vm->log, "memory", "guest RAM charged to %s",
			 vm->cfg.memory_cgroup);
	} else if (vm->cfg.prefault) {
		unsigned int threads = guest_mem_prefault_threads(vm->mem.total);
		uint64_t t0 = vm_now_ns(), ns;

		r = guest_mem_prefault(&vm->mem, threads);
		if (r < 0) {
			log_err(&vm->log, "memory",
				"cannot allocate %s of guest RAM up front: %s",
				sz, strerror(-r));
			return r == -ENOMEM || r == -ENOSPC ? -EINVAL : r;
		}
		ns = vm_now_ns() - t0;
		vm->prefault_ns = ns;
		log_info(&vm->log, "memory",
			 "guest RAM allocated up front in %.1f ms (%.2f GB/s, "
			 "%u thread%s)",
			 (double)ns / 1e6,
			 ns ? (double)vm->mem.total / (double)ns : 0.0, threads,
			 threads == 1 ? "" : "s");
	}
	for (unsigned int i = 0; i < vm->mem.nregions; i++) {
		const struct mem_region *m = &vm->mem.regions[i];
		struct kvm_userspace_memory_region kr = {
			.slot = i,
			.guest_phys_addr = m->gpa,
			.memory_size = m->size,
			.userspace_addr = (uint64_t)(uintptr_t)m->hva,
		};

		r = kvm_ioctl(&vm->log, "memory", vm->vm_fd,
			      KVM_SET_USER_MEMORY_REGION, &kr);
		if (r < 0)
			return r;
		vm->memslot_used[i / 64] |= 1ull << (i % 64);
	}
	vm_phase(vm, VM_PH_MEMORY);
	return 0;
}

static int vm_create_vcpus(struct vm *vm)
{
	int r;

	vm->vcpus = calloc(vm->cfg.cpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return -ENOMEM;
	for (unsigned int i = 0; i < vm->cfg.cpus; i++) {
		r = vcpu_create(vm, &vm->vcpus[i], i);
		if (r < 0)
			return r;
		vm->ncpus++;
	}
	for (unsigned int i = 0; i < vm->ncpus; i++) {
		r = vcpu_init(&vm->vcpus[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Passed-through devices may master the bus from now on. */
static void vm_dma_mapped(void *opaque)
{
	vm_phase(opaque, VM_PH_DMA);
}

/*
 * The init order. Each step may rely on the ones before it; vm_destroy
 * undoes whatever was done, so a failing step just returns.
 */
static int vm_init(struct vm *vm, const struct microvm_config *cfg)
{
	int r;

	r = vm_config_copy(vm, cfg, true);
	if (!r)
		r = vm_open_kvm(vm);
	if (!r)
		r = vm_create_kvm_vm(vm);
	if (!r)
		r = vm_plan_pci(vm);
	if (!r && vm->cfg.vcpu_cgroup) {
		r = cgroup_vcpu_open(&vm->log, vm->cfg.vcpu_cgroup);
		if (r >= 0)
			vm->vcpu_cgroup_fd = r;
	}
	if (r >= 0)
		r = vm_create_memory(vm);
	if (!r)
		r = vfio_map_guest_ram(vm->vfio, vm_dma_mapped, vm);
	if (!r)
		r = evloop_create(&vm->loop, &vm->log);
	if (!r) {
		vm->machine.loop = vm->loop;
		r = console_create(vm);
	}
	if (!r)
		r = arch_vm_init(vm);
	if (!r)
		r = vm_irq_init(vm);
	if (!r)
		r = arch_load_kernel(vm);
	if (!r) {
		vm_phase(vm, VM_PH_KERNEL);
		r = vm_create_vcpus(vm);
	}
	if (!r)
		r = arch_vcpus_created(vm);
	if (!r)
		r = halt_watch_start(vm);
	/*
	 * Devices after the vCPUs: an arm64 VM takes irqfds only once its
	 * GIC is initialised, which needs every vCPU (arch_vcpus_created).
	 */
	if (!r) {
		vm_phase(vm, VM_PH_VCPUS);
		r = pci_host_create(&vm->machine, vm->pci_plan, &vm->pci_devs,
				    vm->ecam_base, &vm->pci);
	}
	if (!r) {
		vm_phase(vm, VM_PH_DEVICES);
		r = console_start(vm);
	}
	if (!r && vm->cfg.on_exit) {
		vm->exit_cb_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		r = vm->exit_cb_efd < 0 ? -errno
					: evloop_add(vm->loop, vm->exit_cb_efd,
						     POLLIN, vm_exit_cb_ready,
						     vm, NULL);
	}
	return r;
}

static struct vm *vm_alloc(const struct microvm_config *cfg)
{
	struct vm *vm = calloc(1, sizeof(*vm));

	if (!vm)
		return NULL;
	vm_phase(vm, VM_PH_CREATE);
	vm->log = (struct logger){cfg->log_fn, cfg->log_opaque, cfg->log_level};
	vm->kvm_fd = vm->vm_fd = -1;
	vm->kvm_vfio_fd = -1;
	vm->vcpu_cgroup_fd = -1;
	vm->mem.fd = -1;
	pthread_mutex_init(&vm->memslot_lock, NULL);
	bus_init(&vm->pio);
	bus_init(&vm->mmio);
	pthread_mutex_init(&vm->lock, NULL);
	pthread_cond_init(&vm->cond, NULL);
	pthread_rwlock_init(&vm->mmio_lock, NULL);
	vm->exit_info.size = sizeof(vm->exit_info);
	vm->exit_info.vcpu = -1;
	vm->exit_efd = -1;
	vm->exit_cb_efd = -1;
	vm->hw_timer_fd = -1;
	return vm;
}

int vm_plan_only(const struct microvm_config *cfg, struct vm **out)
{
	struct vm *vm = vm_alloc(cfg);
	int r;

	if (!vm)
		return -ENOMEM;
	r = vm_config_copy(vm, cfg, false);
	/* KVM is only asked for the guest address width; it may be absent. */
	if (!r)
		vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (!r)
		r = vm_plan_pci(vm);
	if (r < 0) {
		vm_destroy(vm);
		return r;
	}
	*out = vm;
	return 0;
}

int vm_create(const struct microvm_config *cfg, struct vm **out)
{
	struct vm *vm = vm_alloc(cfg);
	int r;

	if (!vm)
		return -ENOMEM;
	vm->exit_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->exit_efd < 0) {
		r = -errno;
		vm_destroy(vm);
		return r;
	}
	r = vm_init(vm, cfg);
	if (r < 0) {
		vm_destroy(vm);
		return r;
	}
	*out = vm;
	return 0;
}

static void *loop_thread(void *arg)
{
	struct vm *vm = arg;
	int r = evloop_run(vm->loop);

	if (r < 0)
		vm_request_exit(vm, MICROVM_EXIT_ERROR, -1, r,
				"event loop failed: %s", strerror(-r));
	atomic_store(&vm->loop_returned, true);
	return NULL;
}

/*
 * Join the loop thread, but not for ever once it has left our code: a
 * thread that submitted io_uring requests cannot finish exiting while the
 * kernel's workers still wait on them (a disk that stopped answering), and
 * nothing of ours runs on it any more. evloop_io_drain() deals with those
 * requests.
 */
static void vm_join_loop(struct vm *vm)
{
	struct timespec ts;
	int r;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 1;
	r = pthread_timedjoin_np(vm->loop_thread, NULL, &ts);
	if (r != ETIMEDOUT)
		return;
	if (atomic_load(&vm->loop_returned)) {
		log_warn(&vm->log, "vm",
			 "the I/O thread waits for the kernel to finish "
			 "requests in flight; not waiting for it");
		pthread_detach(vm->loop_thread);
		return;
	}
	log_warn(&vm->log, "vm", "waiting for the I/O thread to return");
	pthread_join(vm->loop_thread, NULL);
}

int vm_start(struct vm *vm)
{
	sigset_t all, old;
	int r = 0;

	pthread_mutex_lock(&vm->lock);
	if (vm->started) {
		pthread_mutex_unlock(&vm->lock);
		return -EALREADY;
	}
	vm->started = true;
	vm_phase(vm, VM_PH_START);
	/* Our threads never take the embedder's signals. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&vm->loop_thread, NULL, loop_thread, vm);
	if (!r) {
		vm->loop_started = true;
		pthread_setname_np(vm->loop_thread, "microvm-io");
	}
	for (unsigned int i = 0; !r && i < vm->ncpus; i++)
		r = vcpu_start(&vm->vcpus[i]);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_mutex_unlock(&vm->lock);
	if (r < 0)
		vm_request_exit(vm, MICROVM_EXIT_ERROR, -1, r,
				"starting threads: %s", strerror(-r));
	return r;
}

/* Join every thread once; later callers wait for the first. */
static void vm_join(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	if (vm->joined || vm->joining) {
		while (!vm->joined)
			pthread_cond_wait(&vm->cond, &vm->lock);
		pthread_mutex_unlock(&vm->lock);
		return;
	}
	vm->joining = true;
	pthread_mutex_unlock(&vm->lock);

	for (unsigned int i = 0; i < vm->ncpus; i++) {
		if (vm->vcpus[i].thread_started)
			pthread_join(vm->vcpus[i].thread, NULL);
	}
	if (vm->loop_started) {
		/* Let the I/O thread make the on_exit call (bounded). */
		for (int ms = 0; vm->cfg.on_exit && ms < 1000 &&
				 !atomic_load(&vm->exit_delivered);
		     ms++)
			usleep(1000);
		evloop_stop(vm->loop);
		vm_join_loop(vm);
	}
	console_flush(vm);
	/* If the loop stopped before it could tell the embedder. */
	vm_deliver_exit(vm);
	pthread_mutex_lock(&vm->lock);
	vm_phase(vm, VM_PH_JOINED);
	vm->cpu_ns_stop = vm_process_cpu_ns();
	vm->joined = true;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
}

int vm_wait(struct vm *vm, struct microvm_exit *exit)
{
	pthread_mutex_lock(&vm->lock);
	if (!vm->started) {
		pthread_mutex_unlock(&vm->lock);
		return -EINVAL;
	}
	while (!vm->exited)
		pthread_cond_wait(&vm->cond, &vm->lock);
	pthread_mutex_unlock(&vm->lock);
	vm_join(vm);
	if (exit)
		*exit = vm->exit_info;
	return 0;
}

void vm_destroy(struct vm *vm)
{
	bool io_abandoned;

	if (!vm)
		return;
	if (vm->started) {
		vm_request_exit(vm, MICROVM_EXIT_STOPPED, -1, 0,
				"VM destroyed");
		vm_join(vm);
	}
	for (unsigned int i = 0; i < vm->ncpus; i++)
		vcpu_destroy(&vm->vcpus[i]);
	free(vm->vcpus);
	pci_host_destroy(vm->pci);
	vm->vcon = NULL;
	pci_host_free_devices(&vm->pci_devs);
	vfio_vm_destroy(vm->vfio);
	vm->vfio = NULL;
	free(vm->pci_plan);
	vm_irq_destroy(vm);
	arch_vm_destroy(vm);
	console_destroy(vm);
	io_abandoned = evloop_io_abandoned(vm->loop);
	evloop_destroy(vm->loop);
	halt_watch_destroy(vm);
	bus_free(&vm->pio);
	bus_free(&vm->mmio);
	if (vm->vcpu_cgroup_fd >= 0)
		close(vm->vcpu_cgroup_fd);
	/*
	 * Close the VM before unmapping its RAM: KVM then frees its page
	 * tables wholesale instead of zapping them through MMU notifiers
	 * page range by page range.
	 */
	if (vm->kvm_vfio_fd >= 0)
		close(vm->kvm_vfio_fd);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	guest_mem_destroy(&vm->mem, io_abandoned);
	if (vm->exit_efd >= 0)
		close(vm->exit_efd);
	if (vm->exit_cb_efd >= 0)
		close(vm->exit_cb_efd);
	vm_config_free(&vm->cfg);
	pthread_rwlock_destroy(&vm->mmio_lock);
	pthread_mutex_destroy(&vm->memslot_lock);
	pthread_cond_destroy(&vm->cond);
	pthread_mutex_destroy(&vm->lock);
	free(vm);
}
