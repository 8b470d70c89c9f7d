/* kvm.h: ioctl wrappers that name the ioctl in their error message. */
#ifndef VMM_KVM_H
#define VMM_KVM_H

#include "vmm/log.h"

/*
 * __kvm_ioctl returns the raw result (>= 0) or -errno; kvm_ioctl also logs
 * "<name>: <error>" at error level on failure, prefixed by `dev`.
 */
int __kvm_ioctl(int fd, unsigned long req, unsigned long arg);
int kvm_ioctl_named(const struct logger *lg, const char *dev, int fd,
		    unsigned long req, unsigned long arg, const char *name);

#define kvm_ioctl(lg, dev, fd, req, arg) \
	kvm_ioctl_named(lg, dev, fd, req, (unsigned long)(arg), #req)

/* A KVM capability an arch requires, with its name for the message. */
struct kvm_cap_need {
	unsigned long cap;
	const char *name;
};

/*
 * Every capability of need[] on the /dev/kvm fd, or -ENOSYS with the first
 * missing one named.
 */
int kvm_check_caps(const struct logger *lg, int kvm_fd,
		   const struct kvm_cap_need *need, unsigned int n);

/* What a KVM_EXIT_INTERNAL_ERROR suberror means, for the user. */
const char *kvm_internal_suberror_name(unsigned int suberror);

#endif
