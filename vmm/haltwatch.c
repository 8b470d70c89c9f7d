/* haltwatch.c: notice a guest that halted every vCPU with interrupts disabled (Linux's halt -f). */
#include "vmm/haltwatch.h"

#include <errno.h>
#include <linux/kvm.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "vmm/arch.h"
#include "vmm/evloop.h"
#include "vmm/vm.h"

/*
 * How often to look while the guest runs, and how long to give kicked
 * vCPUs to answer. A look costs one pread per vCPU; a question (a kick
 * and two ioctls per vCPU) is only asked while every vCPU is blocked in
 * KVM and one of them has woken since it last answered.
 */
#define HALT_WATCH_PERIOD_NS (1000ull * 1000 * 1000)
#define HALT_WATCH_ANSWER_NS (50ull * 1000 * 1000)

static int stat_read(const struct vcpu *v, uint32_t off, uint64_t *val)
{
	ssize_t n = pread(v->hw.stats_fd, val, sizeof(*val), off);

	return n == (ssize_t)sizeof(*val) ? 0 : -EIO;
}

void halt_watch_vcpu_init(struct vcpu *v)
{
	struct kvm_stats_header h;
	size_t dsz;
	char *descs = NULL;
	int fd;

	v->hw.stats_fd = -1;
	fd = ioctl(v->fd, KVM_GET_STATS_FD, NULL);
	if (fd < 0) {
		log_debug(&v->vm->log, v->name,
			  "no KVM statistics (%s): halted guests are not "
			  "noticed",
			  strerror(errno));
		return;
	}
	if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    h.num_desc == 0 || h.num_desc > 4096 || h.name_size > 4096)
		goto out;
	dsz = sizeof(struct kvm_stats_desc) + h.name_size;
	descs = malloc(dsz * h.num_desc);
	if (!descs || pread(fd, descs, dsz * h.num_desc, h.desc_offset) !=
			      (ssize_t)(dsz * h.num_desc))
		goto out;
	for (uint32_t i = 0; i < h.num_desc; i++) {
		struct kvm_stats_desc *d = (void *)(descs + i * dsz);

		d->name[h.name_size - 1] = '\0';
		if (d->size != 1)
			continue;
		if (strcmp(d->name, "blocking") == 0)
			v->hw.off_blocking = h.data_offset + d->offset;
		else if (strcmp(d->name, "halt_wakeup") == 0)
			v->hw.off_wakeup = h.data_offset + d->offset;
	}
out:
	free(descs);
	if (v->hw.off_blocking && v->hw.off_wakeup) {
		v->hw.stats_fd = fd;
		return;
	}
	log_debug(&v->vm->log, v->name,
		  "KVM statistics without blocking/halt_wakeup: halted "
		  "guests are not noticed");
	close(fd);
}

void halt_watch_vcpu_destroy(struct vcpu *v)
{
	if (v->hw.stats_fd >= 0)
		close(v->hw.stats_fd);
	v->hw.stats_fd = -1;
}

void halt_watch_vcpu_probe(struct vcpu *v)
{
	unsigned int q = atomic_load(&v->vm->hw_question);
	uint64_t wakeups = 0;
	int r;

	if (q == atomic_load(&v->hw.answered))
		return;
	r = arch_vcpu_halted_irqs_off(v);
	/* Read after the kick woke us: a later wake-up changes it. */
	if (stat_read(v, v->hw.off_wakeup, &wakeups) < 0)
		r = -EIO;
	atomic_store(&v->hw.halted_irqs_off, r > 0);
	atomic_store(&v->hw.wakeups, wakeups);
	atomic_store(&v->hw.answered, q);
}

static void arm(struct vm *vm, uint64_t ns)
{
	struct itimerspec its = {
		.it_value = {(time_t)(ns / 1000000000ull),
			     (long)(ns % 1000000000ull)}};

	(void)timerfd_settime(vm->hw_timer_fd, 0, &its, NULL);
}

/* Ask every vCPU that has no current answer. */
static void ask(struct vm *vm, const bool *stale)
{
	atomic_fetch_add(&vm->hw_question, 1);
	pthread_mutex_lock(&vm->lock);
	if (!vm->joining && !atomic_load(&vm->stopping)) {
		for (unsigned int i = 0; i < vm->ncpus; i++) {
			struct vcpu *v = &vm->vcpus[i];

			if (stale[i] && v->thread_started)
				pthread_kill(v->thread, vm->cfg.kick_signal);
		}
	}
	pthread_mutex_unlock(&vm->lock);
}

/*
 * Returns the delay to the next look. The guest is dead when every vCPU
 * is blocked, answered "halted with interrupts off" to the current
 * question, and was not woken since answering (nothing but an NMI, INIT
 * or SMI wakes such a vCPU, and only another vCPU could send one).
 */
static uint64_t look(struct vm *vm)
{
	bool stale[MICROVM_MAX_CPUS];
	bool any_stale = false, all_halted = true;

	for (unsigned int i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		uint64_t blocking, wakeups;

		if (stat_read(v, v->hw.off_blocking, &blocking) < 0 ||
		    stat_read(v, v->hw.off_wakeup, &wakeups) < 0 || !blocking)
			return HALT_WATCH_PERIOD_NS; /* running, or unknowable */
		/* An answer holds until the vCPU is woken again. */
		stale[i] = atomic_load(&v->hw.answered) == 0 ||
			   wakeups != atomic_load(&v->hw.wakeups);
		if (stale[i])
			any_stale = true;
		else if (!atomic_load(&v->hw.halted_irqs_off))
			all_halted = false;
	}
	if (!all_halted)
		return HALT_WATCH_PERIOD_NS; /* idle, waiting for interrupts */
	if (any_stale) {
		ask(vm, stale);
		return HALT_WATCH_ANSWER_NS;
	}
	vm_request_exit(vm, MICROVM_EXIT_HALTED, -1, 0,
			"the guest halted every vCPU with interrupts disabled");
	return 0;
}

static bool halt_tick(void *opaque, int fd, uint32_t revents)
{
	struct vm *vm = opaque;
	uint64_t n, next;

	(void)revents;
	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return false;
	if (atomic_load(&vm->stopping))
		return false;
	next = look(vm);
	if (next)
		arm(vm, next);
	return next != 0;
}

int halt_watch_start(struct vm *vm)
{
	int r;

	vm->hw_timer_fd = -1;
	for (unsigned int i = 0; i < vm->ncpus; i++) {
		if (vm->vcpus[i].hw.stats_fd < 0)
			return 0;
	}
	vm->hw_timer_fd =
		timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (vm->hw_timer_fd < 0) {
		r = -errno;
		log_err(&vm->log, "vm", "timerfd: %s", strerror(-r));
		return r;
	}
	r = evloop_add(vm->loop, vm->hw_timer_fd, POLLIN, halt_tick, vm, NULL);
	if (r < 0) {
		log_err(&vm->log, "vm", "halt watch: %s", strerror(-r));
		return r;
	}
	arm(vm, HALT_WATCH_PERIOD_NS);
	return 0;
}

void halt_watch_destroy(struct vm *vm)
{
	if (vm->hw_timer_fd >= 0)
		close(vm->hw_timer_fd);
	vm->hw_timer_fd = -1;
}
