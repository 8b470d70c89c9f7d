/* api.c: the public libmicrovm functions, thin wrappers over struct vm. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/pci/plan.h"
#include "devices/pci/plan_format.h"
#include "devices/vfio/preflight.h"
#include "devices/virtio/devices.h"
#include "microvm.h"
#include "vmm/vm.h"

struct microvm {
	struct vm *vm;
};

#define MICROVM_VERSION "0.1.0"

void microvm_config_init(struct microvm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->cpus = 1;
	cfg->memory = 256ull << 20;
	cfg->console = MICROVM_CONSOLE_NONE;
	cfg->console_in_fd = -1;
	cfg->console_out_fd = -1;
	cfg->log_level = MICROVM_LOG_WARN;
	cfg->pcie_bus_first = 0;
	cfg->pcie_bus_last = 0; /* automatic */
}

int microvm_create(const struct microvm_config *cfg, struct microvm **out)
{
	struct microvm *m;
	int r;

	if (!cfg || !out)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	r = vm_create(cfg, &m->vm);
	if (r < 0) {
		free(m);
		return r;
	}
	*out = m;
	return 0;
}

int microvm_start(struct microvm *m)
{
	return m ? vm_start(m->vm) : -EINVAL;
}

int microvm_exit_fd(const struct microvm *m)
{
	return m ? m->vm->exit_efd : -EINVAL;
}

int microvm_wait(struct microvm *m, struct microvm_exit *exit)
{
	return m ? vm_wait(m->vm, exit) : -EINVAL;
}

int microvm_poll(struct microvm *m, struct microvm_exit *exit)
{
	int done;

	if (!m)
		return -EINVAL;
	pthread_mutex_lock(&m->vm->lock);
	done = m->vm->exited;
	if (done && exit)
		*exit = m->vm->exit_info;
	pthread_mutex_unlock(&m->vm->lock);
	return done;
}

void microvm_stop(struct microvm *m)
{
	if (m)
		vm_request_exit(m->vm, MICROVM_EXIT_STOPPED, -1, 0,
				"stopped by the host");
}

void microvm_destroy(struct microvm *m)
{
	if (!m)
		return;
	vm_destroy(m->vm);
	free(m);
}

int microvm_console_set_size(struct microvm *m, unsigned int cols,
			     unsigned int rows)
{
	if (!m || !cols || !rows || cols > UINT16_MAX || rows > UINT16_MAX)
		return -EINVAL;
	return virtio_console_set_size(m->vm, (uint16_t)cols, (uint16_t)rows);
}

int microvm_vcpu_tids(const struct microvm *m, pid_t *tids, size_t n)
{
	const struct vm *vm;

	if (!m)
		return -EINVAL;
	vm = m->vm;
	if (!vm->started)
		return -EAGAIN;
	for (unsigned int i = 0; i < vm->ncpus; i++) {
		/* The thread publishes its id as its first act. */
		while (vm->vcpus[i].thread_started && !vm->vcpus[i].tid)
			sched_yield();
		if (i < n)
			tids[i] = vm->vcpus[i].tid;
	}
	return (int)vm->ncpus;
}

int microvm_device_count(const struct microvm *m)
{
	if (!m)
		return -EINVAL;
	return m->vm->pci_plan ? (int)m->vm->pci_plan->ndevs : 0;
}

int microvm_device_info(const struct microvm *m, unsigned int index,
			struct microvm_device_info *info)
{
	const struct pci_plan *p;

	if (!m || !info)
		return -EINVAL;
	p = m->vm->pci_plan;
	if (!p || index >= p->ndevs)
		return -ENOENT;
	memset(info, 0, sizeof(*info));
	snprintf(info->name, sizeof(info->name), "%s", p->dev[index].name);
	pci_plan_dev_bdf(p, index, info->bdf, sizeof(info->bdf));
	pci_plan_dev_path(p, index, info->pci_path, sizeof(info->pci_path));
	pci_plan_port_bdf(p, p->dev[index].port, info->root_port_bdf,
			  sizeof(info->root_port_bdf));
	snprintf(info->host_bdf, sizeof(info->host_bdf), "%s",
		 p->dev[index].host_bdf);
	return 0;
}

static uint64_t ecam_size(const struct vm *vm)
{
	const struct pci_plan *p = vm->pci_plan;

	return (uint64_t)(p->bus_last - p->bus_first + 1) << 20;
}

int microvm_topology_json(const struct microvm *m, char *buf, size_t len)
{
	int r;

	if (!m || !buf || !m->vm->pci_plan)
		return -EINVAL;
	r = pci_plan_format_json(m->vm->pci_plan, m->vm->ecam_base,
				 ecam_size(m->vm), buf, len);
	return r < 0 ? r : (int)strlen(buf);
}

int microvm_plan(const struct microvm_config *cfg, char *text, size_t text_len,
		 char *json, size_t json_len)
{
	struct vm *vm;
	int r;

	if (!cfg)
		return -EINVAL;
	r = vm_plan_only(cfg, &vm);
	if (r < 0)
		return r;
	if (text)
		r = pci_plan_format_text(vm->pci_plan, vm->ecam_base,
					 ecam_size(vm), text, text_len);
	if (!r && json)
		r = pci_plan_format_json(vm->pci_plan, vm->ecam_base,
					 ecam_size(vm), json, json_len);
	vm_destroy(vm);
	return r;
}

int microvm_timings_json(const struct microvm *m, char *buf, size_t len)
{
	if (!m || !buf)
		return -EINVAL;
	return vm_timings_json(m->vm, buf, len);
}

int microvm_vfio_check(const char *const *bdfs, unsigned int n,
		       const char *sysfs_root, const char *dev_root, char *text,
		       size_t text_len, char *json, size_t json_len)
{
	struct vfio_pf_roots roots = {
		sysfs_root ? sysfs_root : "/sys",
		dev_root ? dev_root : "/dev",
		/* Holders of a busy group are only looked for on the host. */
		!dev_root || !strcmp(dev_root, "/dev") ? "/proc" : NULL,
	};
	struct vfio_pf_device *d;
	int r = 0, ready = 1;

	if (!bdfs || !n)
		return -EINVAL;
	d = calloc(n, sizeof(*d));
	if (!d)
		return -ENOMEM;
	for (unsigned int i = 0; !r && i < n; i++) {
		char bdf[VFIO_PF_BDF_LEN];

		r = vfio_bdf_parse(bdfs[i], bdf, sizeof(bdf));
		if (!r)
			r = vfio_preflight(&roots, bdf, &d[i]);
		if (!r && !d[i].ready)
			ready = 0;
	}
	if (!r && text)
		r = vfio_pf_format_text(d, n, text, text_len);
	if (r >= 0 && json)
		r = vfio_pf_format_json(d, n, json, json_len);
	free(d);
	return r < 0 ? r : ready;
}

const char *microvm_exit_reason_name(enum microvm_exit_reason reason)
{
	switch (reason) {
	case MICROVM_EXIT_NONE:
		return "running";
	case MICROVM_EXIT_POWEROFF:
		return "poweroff";
	case MICROVM_EXIT_REBOOT:
		return "reboot";
	case MICROVM_EXIT_PANIC:
		return "panic";
	case MICROVM_EXIT_TRIPLE_FAULT:
		return "triple-fault";
	case MICROVM_EXIT_STOPPED:
		return "stopped";
	case MICROVM_EXIT_ERROR:
		return "error";
	case MICROVM_EXIT_HALTED:
		return "halted";
	}
	return "unknown";
}

const char *microvm_version(void)
{
	return MICROVM_VERSION;
}
