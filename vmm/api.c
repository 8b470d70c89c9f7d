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

/* The first published layout: a caller's config is never smaller. */
#define CONFIG_SIZE_0                                                         \
	(offsetof(struct microvm_config, on_exit_opaque) + sizeof(void *))

/*
 * The caller's config as this library's: fields it was built without get
 * their defaults; fields of a newer header we do not know must be zero.
 */
static int config_from_caller(const struct microvm_config *in,
			      struct microvm_config *out)
{
	if (in->size < CONFIG_SIZE_0)
		return -EINVAL; /* not from microvm_config_init() */
	for (size_t i = sizeof(*out); i < in->size; i++) {
		if (((const unsigned char *)in)[i])
			return -E2BIG;
	}
	microvm_config_init(out);
	memcpy(out, in, in->size < sizeof(*out) ? in->size : sizeof(*out));
	out->size = sizeof(*out);
	return 0;
}

/* The first published layouts of the structs the library fills. */
#define EXIT_SIZE_0 (offsetof(struct microvm_exit, message) + 256)
#define DEVICE_INFO_SIZE_0                                                    \
	(offsetof(struct microvm_device_info, host_bdf) + 16)

/*
 * Copy `src` (this library's struct, `len` bytes, starting with its size)
 * into the caller's `dst`, no further than the caller's size says.
 */
static void fill_out(void *dst, const void *src, size_t len)
{
	size_t have;

	memcpy(&have, dst, sizeof(have));
	if (have > len)
		have = len;
	memcpy((char *)dst + sizeof(have), (const char *)src + sizeof(have),
	       have - sizeof(have));
	memcpy(dst, &have, sizeof(have));
}

void microvm_config_init_sized(struct microvm_config *cfg, size_t size)
{
	struct microvm_config d;

	if (!cfg || size < sizeof(d.size))
		return;
	memset(&d, 0, sizeof(d));
	d.cpus = 1;
	d.memory = 256ull << 20;
	d.console = MICROVM_CONSOLE_NONE;
	d.console_in_fd = -1;
	d.console_out_fd = -1;
	d.log_level = MICROVM_LOG_WARN;
	d.pcie_bus_first = 0;
	d.pcie_bus_last = 0; /* automatic */
	/* A newer caller's fields we do not know stay zero, their default. */
	memset(cfg, 0, size);
	memcpy(cfg, &d, size < sizeof(d) ? size : sizeof(d));
	cfg->size = size;
}

int microvm_create(const struct microvm_config *cfg, struct microvm **out)
{
	struct microvm_config c;
	struct microvm *m;
	int r;

	if (!cfg || !out)
		return -EINVAL;
	r = config_from_caller(cfg, &c);
	if (r < 0)
		return r;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	r = vm_create(&c, &m->vm);
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
	struct microvm_exit e;
	int r;

	if (!m || (exit && exit->size < EXIT_SIZE_0))
		return -EINVAL;
	r = vm_wait(m->vm, &e);
	if (r == 0 && exit)
		fill_out(exit, &e, sizeof(e));
	return r;
}

int microvm_poll(struct microvm *m, struct microvm_exit *exit)
{
	int done;

	struct microvm_exit e;

	if (!m || (exit && exit->size < EXIT_SIZE_0))
		return -EINVAL;
	pthread_mutex_lock(&m->vm->lock);
	done = m->vm->exited;
	e = m->vm->exit_info;
	pthread_mutex_unlock(&m->vm->lock);
	if (done && exit)
		fill_out(exit, &e, sizeof(e));
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
	return virtio_console_set_size(m->vm->vcon, (uint16_t)cols,
				       (uint16_t)rows);
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
	struct microvm_device_info d = {.size = sizeof(d)};
	const struct pci_plan *p;

	if (!m || !info || info->size < DEVICE_INFO_SIZE_0)
		return -EINVAL;
	p = m->vm->pci_plan;
	if (!p || index >= p->ndevs)
		return -ENOENT;
	snprintf(d.name, sizeof(d.name), "%s", p->dev[index].name);
	pci_plan_dev_bdf(p, index, d.bdf, sizeof(d.bdf));
	pci_plan_dev_path(p, index, d.pci_path, sizeof(d.pci_path));
	pci_plan_port_bdf(p, p->dev[index].port, d.root_port_bdf,
			  sizeof(d.root_port_bdf));
	snprintf(d.host_bdf, sizeof(d.host_bdf), "%s", p->dev[index].host_bdf);
	fill_out(info, &d, sizeof(d));
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
	struct microvm_config c;
	struct vm *vm;
	int r;

	if (!cfg)
		return -EINVAL;
	r = config_from_caller(cfg, &c);
	if (r < 0)
		return r;
	r = vm_plan_only(&c, &vm);
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
