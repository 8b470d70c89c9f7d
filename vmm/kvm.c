/* kvm.c: ioctl wrappers with EINTR retry and named errors. */
#include "vmm/kvm.h"

#include <errno.h>
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
