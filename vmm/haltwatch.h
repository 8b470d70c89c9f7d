/* haltwatch.h: notice a guest that halted every vCPU with interrupts disabled, which nothing can wake. */
#ifndef VMM_HALTWATCH_H
#define VMM_HALTWATCH_H

struct vm;
struct vcpu;

/*
 * Find the vCPU's "blocking" and "halt_wakeup" counters in its KVM binary
 * statistics (KVM_GET_STATS_FD, Linux 5.16+). Without them the VM is not
 * watched; that is logged, never an error.
 */
void halt_watch_vcpu_init(struct vcpu *v);
void halt_watch_vcpu_destroy(struct vcpu *v);

/*
 * After the vCPUs exist: a timer on the event loop that, while every vCPU
 * is blocked in KVM, asks each (kick, then halt_watch_vcpu_probe on its
 * own thread) whether it halted with interrupts off. When all did and none
 * was woken since, the VM ends with MICROVM_EXIT_HALTED. 0 or -errno.
 */
__attribute__((warn_unused_result)) int halt_watch_start(struct vm *vm);
void halt_watch_destroy(struct vm *vm);

/* On the vCPU's thread, out of KVM_RUN: answer a pending question. */
void halt_watch_vcpu_probe(struct vcpu *v);

#endif
