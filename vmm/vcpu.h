/* vcpu.h: vCPU creation and the KVM_RUN thread. */
#ifndef VMM_VCPU_H
#define VMM_VCPU_H

struct vm;
struct vcpu;

/* KVM_CREATE_VCPU and map kvm_run. */
__attribute__((warn_unused_result)) int
vcpu_create(struct vm *vm, struct vcpu *vcpu, unsigned int id);

/*
 * The arch set-up and the halt watch of a created vCPU, once every vCPU
 * exists: arm64's KVM_ARM_VCPU_INIT asks for that (api.rst: "all vcpus
 * should be created before this ioctl is invoked").
 */
__attribute__((warn_unused_result)) int vcpu_init(struct vcpu *vcpu);
void vcpu_destroy(struct vcpu *vcpu);

/* Start the thread (signals blocked as the caller arranged). */
__attribute__((warn_unused_result)) int vcpu_start(struct vcpu *vcpu);

#endif
