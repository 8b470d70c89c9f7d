/* net.c: virtio-net: placeholder until the device model lands; refuses --net. */
#include <errno.h>

#include "devices/virtio/devices.h"
#include "microvm.h"
#include "vmm/vm.h"

int virtio_net_add(struct vm *vm, const struct microvm_net *net, unsigned int index)
{
	log_err(&vm->log, "virtio", "--net: virtio-net is not part of this build");
	return -ENOSYS;
}
