/* api.c: the public libmicrovm functions, thin wrappers over struct vm. */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

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
	}
	return "unknown";
}

const char *microvm_version(void)
{
	return MICROVM_VERSION;
}
