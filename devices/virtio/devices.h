/* devices.h: how the VM registers each virtio device model before planning. */
#ifndef DEVICES_VIRTIO_DEVICES_H
#define DEVICES_VIRTIO_DEVICES_H

struct vm;

/* virtio-rng (--rng): entropy from getrandom(2). */
__attribute__((warn_unused_result)) int virtio_rng_add(struct vm *vm);

#endif
