/* devices.h: how the VM registers each virtio device model before planning. */
#ifndef DEVICES_VIRTIO_DEVICES_H
#define DEVICES_VIRTIO_DEVICES_H

#include <stdint.h>

struct machine;
struct microvm_disk;
struct microvm_net;
struct microvm_vsock;
struct virtio_con;

/*
 * Each adds one device to the VM's PCI slots (before planning). They open
 * their back-end here, so a missing file or tap is an error with the
 * user's words in it, before anything runs. Order of registration is the
 * guest order: disks, networks, vsock, console, rng.
 */

/* virtio-blk (--disk): `index` names it "virtio-blk<index>". */
__attribute__((warn_unused_result)) int
virtio_blk_add(struct machine *mach, const struct microvm_disk *disk,
	       unsigned int index);

/* virtio-net (--net) on a tap device. */
__attribute__((warn_unused_result)) int
virtio_net_add(struct machine *mach, const struct microvm_net *net,
	       unsigned int index);

/* virtio-vsock (--vsock), Unix socket or vhost back-end. */
__attribute__((warn_unused_result)) int
virtio_vsock_add(struct machine *mach, const struct microvm_vsock *vsock);

/*
 * virtio-console (--virtio-console): hvc0 on the console fds *in_fd and
 * *out_fd (-1: none), which it takes over: both are set to -1, so the UART
 * created later finds none (it stays present for the guest, its output is
 * discarded). *out is the device, for resizes, until the PCI devices are
 * freed.
 */
__attribute__((warn_unused_result)) int
virtio_console_add(struct machine *mach, int *in_fd, int *out_fd,
		   unsigned char escape, struct virtio_con **out);

/*
 * The terminal behind the virtio-console is now cols x rows: the guest is
 * told with a config change interrupt (once its driver is up). Safe from
 * any thread. 0, or -ENODEV without a virtio-console.
 */
int virtio_console_set_size(struct virtio_con *con, uint16_t cols,
			    uint16_t rows);

/* virtio-rng (--rng): entropy from getrandom(2). */
__attribute__((warn_unused_result)) int virtio_rng_add(struct machine *mach);

#endif
