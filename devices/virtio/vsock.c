/* vsock.c: virtio-vsock: placeholder until the device model lands; refuses --vsock. */
#include <errno.h>

#include "devices/virtio/devices.h"
#include "microvm.h"
#include "vmm/vm.h"

int virtio_vsock_add(struct vm *vm, const struct microvm_vsock *vsock)
{
	log_err(&vm->log, "virtio", "--vsock: virtio-vsock is not part of this build");
	return -ENOSYS;
}
