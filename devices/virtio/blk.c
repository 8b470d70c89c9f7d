/* blk.c: virtio-blk: placeholder until the device model lands; refuses --disk. */
#include <errno.h>

#include "devices/virtio/devices.h"
#include "microvm.h"
#include "vmm/vm.h"

int virtio_blk_add(struct vm *vm, const struct microvm_disk *disk, unsigned int index)
{
	log_err(&vm->log, "virtio", "--disk: virtio-blk is not part of this build");
	return -ENOSYS;
}
