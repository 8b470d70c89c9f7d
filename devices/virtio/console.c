/* console.c: virtio-console: placeholder until the device model lands; refuses --virtio-console. */
#include <errno.h>

#include "devices/virtio/devices.h"
#include "microvm.h"
#include "vmm/vm.h"

int virtio_console_add(struct vm *vm)
{
	log_err(&vm->log, "virtio", "--virtio-console: virtio-console is not part of this build");
	return -ENOSYS;
}
