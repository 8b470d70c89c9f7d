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

#endif
