/* vcpu.c: one thread per vCPU running KVM_RUN and dispatching exits to the buses. */
#include "vmm/vcpu.h"

#include <errno.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/arch.h"
#include "vmm/cgroup.h"
#include "vmm/haltwatch.h"
#include "vmm/kvm.h"
#include "vmm/vm.h"

int vcpu_create(struct vm *vm, struct vcpu *vcpu, unsigned int id)
{
	int r;

	memset(vcpu, 0, sizeof(*vcpu));
	vcpu->vm = vm;
	vcpu->id = id;
	vcpu->hw.stats_fd = -1;
	snprintf(vcpu->name, sizeof(vcpu->name), "vcpu%u", id);
	r = kvm_ioctl(&vm->log, vcpu->name, vm->vm_fd, KVM_CREATE_VCPU, id);
	if (r < 0) {
		vcpu->fd = -1;
		return r;
	}
	vcpu->fd = r;
	vcpu->run = mmap(NULL, (size_t)vm->vcpu_mmap_size,
			 PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED) {
		r = -errno;
		vcpu->run = NULL;
		log_err(&vm->log, vcpu->name, "mapping kvm_run: %s",
			strerror(-r));
		goto err_close;
	}
	return 0;

err_close:
	close(vcpu->fd);
	vcpu->fd = -1;
	return r;
}

int vcpu_init(struct vcpu *vcpu)
{
	int r = arch_vcpu_init(vcpu);

	if (r < 0)
		return r;
	halt_watch_vcpu_init(vcpu);
	return 0;
}

void vcpu_destroy(struct vcpu *vcpu)
{
	halt_watch_vcpu_destroy(vcpu);
	if (vcpu->run)
		munmap(vcpu->run, (size_t)vcpu->vm->vcpu_mmap_size);
	if (vcpu->fd >= 0)
		close(vcpu->fd);
	vcpu->run = NULL;
	vcpu->fd = -1;
}

static void vcpu_pio(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;

	const struct bus_range *r = bus_find(&vcpu->vm->pio, run->io.port);

	vcpu_stats_count_device(&vcpu->stats, r ? r->name : NULL);
	for (uint32_t i = 0; i < run->io.count; i++) {
		if (!bus_access(&vcpu->vm->pio, run->io.port, data,
				run->io.size, is_write)) {
			if (!is_write)
				memset(data, 0xff, run->io.size);
			if (ratelimit_ok(&vcpu->rl_unhandled, 10))
				log_debug(&vcpu->vm->log, vcpu->name,
					  "unhandled port %s 0x%x (size %u)",
					  is_write ? "write" : "read",
					  run->io.port, run->io.size);
		}
		data += run->io.size;
	}
}

static void vcpu_mmio(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	unsigned int len = run->mmio.len;
	const char *name;
	bool found;

	if (len > sizeof(run->mmio.data))
		len = sizeof(run->mmio.data);
	found = vm_mmio_dispatch(vcpu->vm, run->mmio.phys_addr, run->mmio.data,
				 len, run->mmio.is_write, &name);
	vcpu_stats_count_device(&vcpu->stats, name);
	if (!found) {
		if (!run->mmio.is_write)
			memset(run->mmio.data, 0xff, len);
		if (ratelimit_ok(&vcpu->rl_unhandled, 10))
			log_debug(&vcpu->vm->log, vcpu->name,
				  "unhandled MMIO %s 0x%llx (size %u)",
				  run->mmio.is_write ? "write" : "read",
				  (unsigned long long)run->mmio.phys_addr, len);
	}
}

static void vcpu_internal_error(struct vcpu *vcpu)
{
	char desc[512];

	arch_describe_internal_error(vcpu, desc, sizeof(desc));
	vm_request_exit(vcpu->vm, MICROVM_EXIT_ERROR, (int)vcpu->id, -EIO, "%s",
			desc);
	log_err(&vcpu->vm->log, vcpu->name, "%s", desc);
	if (vcpu->vm->kvm_emulates_kernel)
		log_err(&vcpu->vm->log, vcpu->name,
			"This host's KVM (kvm_pvm) runs guest kernel code in "
			"an instruction emulator that cannot execute some "
			"instructions (cmpxchg16b, xsave, int3); a stock "
			"Linux kernel cannot boot here. Run Linux guests in "
			"the x86 rig (make run, tests/rig) or on a host with "
			"hardware virtualization.");
}

/* Handle one exit; returns true when the VM is stopping. */
static bool vcpu_handle_exit(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	struct vm *vm = vcpu->vm;

	vcpu->stats.exits[run->exit_reason < VM_EXIT_REASONS
				  ? run->exit_reason
				  : VM_EXIT_REASONS - 1]++;
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		vcpu_pio(vcpu);
		return false;
	case KVM_EXIT_MMIO:
		vcpu_mmio(vcpu);
		return false;
	case KVM_EXIT_INTR:
		return false;
	case KVM_EXIT_SHUTDOWN:
		vm_request_exit(vm, MICROVM_EXIT_TRIPLE_FAULT, (int)vcpu->id, 0,
				"%s: triple fault (KVM_EXIT_SHUTDOWN)",
				vcpu->name);
		return true;
	case KVM_EXIT_SYSTEM_EVENT:
		switch (run->system_event.type) {
		case KVM_SYSTEM_EVENT_SHUTDOWN:
			vm_request_exit(vm, MICROVM_EXIT_POWEROFF,
					(int)vcpu->id, 0,
					"guest powered off (system event)");
			return true;
		case KVM_SYSTEM_EVENT_RESET:
			vm_request_exit(vm, MICROVM_EXIT_REBOOT, (int)vcpu->id,
					0, "guest requested a reset");
			return true;
		case KVM_SYSTEM_EVENT_CRASH:
			vm_request_exit(vm, MICROVM_EXIT_PANIC, (int)vcpu->id,
					0, "guest crashed (system event)");
			return true;
		default:
			log_warn(&vm->log, vcpu->name,
				 "ignoring system event %u",
				 run->system_event.type);
			return false;
		}
	case KVM_EXIT_INTERNAL_ERROR:
		vcpu_internal_error(vcpu);
		return true;
	case KVM_EXIT_FAIL_ENTRY:
		vm_request_exit(vm, MICROVM_EXIT_ERROR, (int)vcpu->id, -EIO,
				"%s: KVM could not enter the guest (hardware "
				"entry failure reason 0x%llx)",
				vcpu->name,
				(unsigned long long)run->fail_entry
					.hardware_entry_failure_reason);
		return true;
	default:
		return arch_vcpu_exit(vcpu) != 0;
	}
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	struct vm *vm = vcpu->vm;
	struct {
		struct kvm_signal_mask m;
		uint8_t set[8];
	} kmask;
	sigset_t cur, kick;
	struct timespec zero = {0, 0};
	int r;

	vcpu->tid = gettid();
	if (vm->vcpu_cgroup_fd >= 0) {
		r = cgroup_join(vm->vcpu_cgroup_fd);
		if (r < 0) {
			vm_request_exit(vm, MICROVM_EXIT_ERROR, (int)vcpu->id,
					r, "%s: moving into vcpu cgroup %s: %s",
					vcpu->name, vm->cfg.vcpu_cgroup,
					strerror(-r));
			return NULL;
		}
	}
	sigemptyset(&kick);
	sigaddset(&kick, vm->cfg.kick_signal);
	/* Inside KVM_RUN only the kick signal is unblocked. */
	pthread_sigmask(SIG_SETMASK, NULL, &cur);
	sigdelset(&cur, vm->cfg.kick_signal);
	kmask.m.len = 8;
	memcpy(kmask.set, &cur, 8);
	r = kvm_ioctl(&vm->log, vcpu->name, vcpu->fd, KVM_SET_SIGNAL_MASK,
		      &kmask);
	if (r < 0) {
		vm_request_exit(vm, MICROVM_EXIT_ERROR, (int)vcpu->id, r,
				"%s: KVM_SET_SIGNAL_MASK: %s", vcpu->name,
				strerror(-r));
		return NULL;
	}
	if (vcpu->id == 0) {
		vm->cpu_ns_first_run = vm_process_cpu_ns();
		vm_phase(vm, VM_PH_FIRST_RUN);
		log_info(&vm->log, vcpu->name,
			 "first KVM_RUN %.3f ms after microvm_create()",
			 (double)(vm->phase[VM_PH_FIRST_RUN] -
				  vm->phase[VM_PH_CREATE]) /
				 1e6);
	}
	while (!atomic_load(&vm->stopping)) {
		r = ioctl(vcpu->fd, KVM_RUN, 0);
		if (r < 0) {
			int e = errno;

			if (e == EINTR || e == EAGAIN) {
				/* Consume a pending kick, if any. */
				(void)sigtimedwait(&kick, NULL, &zero);
				halt_watch_vcpu_probe(vcpu);
				continue;
			}
			vm_request_exit(vm, MICROVM_EXIT_ERROR, (int)vcpu->id,
					-e, "%s: KVM_RUN: %s", vcpu->name,
					strerror(e));
			log_err(&vm->log, vcpu->name, "KVM_RUN: %s",
				strerror(e));
			break;
		}
		if (vcpu_handle_exit(vcpu))
			break;
	}
	(void)sigtimedwait(&kick, NULL, &zero);
	return NULL;
}

int vcpu_start(struct vcpu *vcpu)
{
	int r = pthread_create(&vcpu->thread, NULL, vcpu_thread, vcpu);

	if (r)
		return -r;
	pthread_setname_np(vcpu->thread, vcpu->name);
	vcpu->thread_started = true;
	return 0;
}
