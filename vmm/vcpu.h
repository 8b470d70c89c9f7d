/* vcpu.h: vCPU creation and the KVM_RUN thread. */
#ifndef VMM_VCPU_H
#define VMM_VCPU_H

struct vm;
struct vcpu;

/* KVM_CREATE_VCPU, map kvm_run, then arch set-up. */
__attribute__((warn_unused_result)) int
vcpu_create(struct vm *vm, struct vcpu *vcpu, unsigned int id);
void vcpu_destroy(struct vcpu *vcpu);

/* Start the thread (signals blocked as the caller arranged). */
__attribute__((warn_unused_result)) int vcpu_start(struct vcpu *vcpu);

#endif
