/* kvm.c: ioctl wrappers with EINTR retry and named errors. */
#include "vmm/kvm.h"

#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>

int __kvm_ioctl(int fd, unsigned long req, unsigned long arg)
{
	int r;

	do {
		r = ioctl(fd, req, arg);
	} while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

int kvm_ioctl_named(const struct logger *lg, const char *dev, int fd,
		    unsigned long req, unsigned long arg, const char *name)
{
	int r = __kvm_ioctl(fd, req, arg);

	if (r < 0)
		log_err(lg, dev, "%s: %s", name, strerror(-r));
	return r;
}

int kvm_check_caps(const struct logger *lg, int kvm_fd,
		   const struct kvm_cap_need *need, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		if (__kvm_ioctl(kvm_fd, KVM_CHECK_EXTENSION, need[i].cap) <=
		    0) {
			log_err(lg, "kvm",
				"this host's KVM lacks a capability microvm "
				"needs: %s",
				need[i].name);
			return -ENOSYS;
		}
	}
	return 0;
}

const char *kvm_internal_suberror_name(unsigned int suberror)
{
	switch (suberror) {
	case KVM_INTERNAL_ERROR_EMULATION:
		return "emulation failure";
	case KVM_INTERNAL_ERROR_SIMUL_EX:
		return "exception while delivering an exception";
	case KVM_INTERNAL_ERROR_DELIVERY_EV:
		return "event delivery failed";
	case KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON:
		return "unexpected exit reason";
	default:
		return "unknown";
	}
}
