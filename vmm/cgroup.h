/*
 * cgroup.h: cgroup v2 placement an embedder asks for (docs/embedding.md):
 * vCPU threads into a threaded cgroup, guest RAM charged to a memory cgroup.
 */
#ifndef VMM_CGROUP_H
#define VMM_CGROUP_H

#include <stdint.h>

#include "vmm/log.h"

/*
 * Check that `path` is a threaded cgroup v2 directory this process's
 * threads can move into (a short-lived thread tries it), and open its
 * cgroup.threads for the vCPU threads. Returns the fd, or -EINVAL with the
 * reason and its fix logged.
 */
int cgroup_vcpu_open(const struct logger *log, const char *path);

/* From the thread to move: put the calling thread in it. 0 or -errno. */
int cgroup_join(int threads_fd);

/*
 * Charge all of `size` bytes of the memfd `memfd` to the memory cgroup
 * `path`: check that it and its ancestors have room, then allocate every
 * page from a short-lived child process created inside it (pages stay
 * charged to the cgroup that first allocated them). -EINVAL for a cgroup
 * that cannot take the guest (logged with the numbers), else -errno.
 */
int cgroup_charge_memfd(const struct logger *log, const char *path, int memfd,
			uint64_t size);

#endif
