/*
 * cgroup.c: vCPU threads into a threaded cgroup v2, guest RAM charged to a
 * memory cgroup by a helper process born inside it (docs/embedding.md).
 */
#include "vmm/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <linux/sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmm/parse.h"

/* A small cgroup file of `dfd` into buf, without its newline. */
static int read_knob(int dfd, const char *name, char *buf, size_t len)
{
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

/* This process's cgroup v2 path ("0::/a/b" in /proc/self/cgroup). */
static void self_cgroup(char *buf, size_t len)
{
	char line[512];
	FILE *f = fopen("/proc/self/cgroup", "re");

	snprintf(buf, len, "(unknown)");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "0::", 3)) {
			line[strcspn(line, "\n")] = 0;
			snprintf(buf, len, "%s", line + 3);
			break;
		}
	}
	fclose(f);
}

/* Open a cgroup v2 directory; logs why not. */
static int open_cgroup_dir(const struct logger *log, const char *what,
			   const char *path)
{
	struct statfs sf;
	int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0) {
		log_err(log, "cgroup", "%s %s: %s", what, path,
			strerror(errno));
		return -EINVAL;
	}
	if (fstatfs(dfd, &sf) < 0 || sf.f_type != CGROUP2_SUPER_MAGIC) {
		log_err(log, "cgroup",
			"%s %s is not a cgroup v2 directory (cgroup2 is "
			"usually mounted at /sys/fs/cgroup)",
			what, path);
		close(dfd);
		return -EINVAL;
	}
	return dfd;
}

int cgroup_join(int threads_fd)
{
	/* "0" is the writing thread itself. */
	return pwrite(threads_fd, "0", 1, 0) == 1 ? 0 : -errno;
}

static void *probe_thread(void *arg)
{
	int *fd_r = arg;

	fd_r[1] = cgroup_join(fd_r[0]);
	return NULL;
}

/* Move a throw-away thread there, so a refusal is a create-time error. */
static int probe_join(int threads_fd)
{
	int fd_r[2] = {threads_fd, 0};
	sigset_t all, old;
	pthread_t t;
	int r;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&t, NULL, probe_thread, fd_r);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r)
		return r;
	pthread_join(t, NULL);
	return fd_r[1];
}

int cgroup_vcpu_open(const struct logger *log, const char *path)
{
	char type[64], self[512];
	int dfd, fd, r;

	dfd = open_cgroup_dir(log, "vcpu cgroup", path);
	if (dfd < 0)
		return dfd;
	self_cgroup(self, sizeof(self));
	r = read_knob(dfd, "cgroup.type", type, sizeof(type));
	if (r < 0) {
		log_err(log, "cgroup", "vcpu cgroup %s: cgroup.type: %s", path,
			strerror(-r));
		goto err;
	}
	if (!strcmp(type, "domain invalid")) {
		log_err(log, "cgroup",
			"vcpu cgroup %s is an invalid domain (its parent is "
			"threaded); make it threaded: echo threaded > "
			"%s/cgroup.type",
			path, path);
		goto err;
	}
	if (strcmp(type, "threaded")) {
		log_err(log, "cgroup",
			"vcpu cgroup %s is a %s cgroup: vCPU threads can only "
			"move into a threaded cgroup below this process's own "
			"(%s); make it threaded: echo threaded > "
			"%s/cgroup.type",
			path, type, self, path);
		goto err;
	}
	fd = openat(dfd, "cgroup.threads", O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		log_err(log, "cgroup", "vcpu cgroup %s: cgroup.threads: %s",
			path, strerror(errno));
		goto err;
	}
	r = probe_join(fd);
	if (r == -EOPNOTSUPP) {
		log_err(log, "cgroup",
			"vcpu cgroup %s is not in this process's threaded "
			"subtree (the process is in %s): threads can only move "
			"between cgroups of one threaded domain, so create it "
			"below the process's cgroup",
			path, self);
	} else if (r == -EACCES || r == -EPERM) {
		log_err(log, "cgroup",
			"not allowed to move threads into %s: %s (needs write "
			"access to its cgroup.threads and to the "
			"cgroup.threads "
			"of the common ancestor with %s)",
			path, strerror(-r), self);
	} else if (r < 0) {
		log_err(log, "cgroup", "moving a thread into %s: %s", path,
			strerror(-r));
	}
	if (r < 0) {
		close(fd);
		goto err;
	}
	close(dfd);
	return fd;
err:
	close(dfd);
	return -EINVAL;
}

/*
 * Every ancestor with a limit must leave room for `size` more bytes
 * (pages charged to a cgroup count in all its ancestors too).
 */
static int check_room(const struct logger *log, const char *path, uint64_t size)
{
	char *level = realpath(path, NULL), *slash;
	char max[64], cur[64], a[32], b[32], c[32], s[32];
	int r = 0;

	if (!level)
		return -errno;
	for (;;) {
		struct statfs sf;
		uint64_t m, u;
		int dfd = open(level, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (dfd < 0)
			break;
		if (fstatfs(dfd, &sf) < 0 || sf.f_type != CGROUP2_SUPER_MAGIC ||
		    read_knob(dfd, "memory.max", max, sizeof(max)) < 0 ||
		    read_knob(dfd, "memory.current", cur, sizeof(cur)) < 0) {
			close(dfd); /* the root: no limit of its own */
			break;
		}
		close(dfd);
		if (strcmp(max, "max") && sscanf(max, "%" SCNu64, &m) == 1 &&
		    sscanf(cur, "%" SCNu64, &u) == 1 &&
		    (u > m || m - u < size)) {
			format_size(size, s, sizeof(s));
			format_size(m, a, sizeof(a));
			format_size(u, b, sizeof(b));
			format_size(u > m ? 0 : m - u, c, sizeof(c));
			log_err(log, "cgroup",
				"guest RAM (%s) does not fit in memory cgroup "
				"%s: its memory.max is %s and %s is in use, "
				"%s free; raise memory.max or give the VM "
				"less memory",
				s, level, a, b, c);
			r = -EINVAL;
			break;
		}
		slash = strrchr(level, '/');
		if (!slash || slash == level)
			break;
		*slash = 0;
	}
	free(level);
	return r;
}

/* The helper: allocate every page of the memfd, then exit, nothing else. */
static __attribute__((noreturn)) void charge_child(int memfd, uint64_t size)
{
	long r = syscall(SYS_fallocate, memfd, 0, (off_t)0, (off_t)size);

	syscall(SYS_exit_group, r < 0 ? (errno & 0x7f) : 0);
	for (;;)
		;
}

int cgroup_charge_memfd(const struct logger *log, const char *path, int memfd,
			uint64_t size)
{
	struct clone_args args;
	char type[64], s[32], max[64];
	int dfd, st, r;
	pid_t pid;

	dfd = open_cgroup_dir(log, "memory cgroup", path);
	if (dfd < 0)
		return dfd;
	if (faccessat(dfd, "memory.max", F_OK, 0) < 0) {
		log_err(log, "cgroup",
			"memory cgroup %s has no memory controller: enable it "
			"in its parent (echo +memory > PARENT/"
			"cgroup.subtree_control)",
			path);
		r = -EINVAL;
		goto out;
	}
	if (read_knob(dfd, "cgroup.type", type, sizeof(type)) == 0 &&
	    (!strcmp(type, "threaded") || !strcmp(type, "domain invalid"))) {
		log_err(log, "cgroup",
			"memory cgroup %s is %s: the helper process that "
			"charges guest RAM needs a domain cgroup",
			path, type);
		r = -EINVAL;
		goto out;
	}
	r = check_room(log, path, size);
	if (r < 0)
		goto out;
	/*
	 * A child process, not a thread: memory is charged to the cgroup of
	 * the mm that allocates it. No SIGCHLD (exit_signal 0), so an
	 * embedder's own reaper of SIGCHLD children does not take its status.
	 */
	memset(&args, 0, sizeof(args));
	args.flags = CLONE_INTO_CGROUP;
	args.cgroup = (uint64_t)dfd;
	pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
	if (pid == 0)
		charge_child(memfd, size);
	if (pid < 0) {
		r = -errno;
		log_err(log, "cgroup",
			"cannot start the process that charges guest RAM to "
			"%s: %s%s",
			path, strerror(-r),
			r == -ENOSYS ? " (clone3 with CLONE_INTO_CGROUP needs "
				       "Linux 5.7)"
				     : "");
		goto out;
	}
	while (waitpid(pid, &st, __WALL) < 0) {
		if (errno != EINTR) {
			r = -errno;
			log_err(log, "cgroup", "waiting for pid %d: %s",
				(int)pid, strerror(-r));
			goto out;
		}
	}
	format_size(size, s, sizeof(s));
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		r = 0;
	} else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) {
		if (read_knob(dfd, "memory.max", max, sizeof(max)) < 0)
			snprintf(max, sizeof(max), "?");
		log_err(log, "cgroup",
			"the process charging guest RAM (%s) to %s was killed, "
			"by the OOM killer if the cgroup ran out (memory.max "
			"%s)",
			s, path, max);
		r = -EINVAL;
	} else if (WIFEXITED(st)) {
		log_err(log, "cgroup", "charging guest RAM (%s) to %s: %s", s,
			path, strerror(WEXITSTATUS(st)));
		r = WEXITSTATUS(st) == ENOMEM || WEXITSTATUS(st) == ENOSPC
			    ? -EINVAL
			    : -WEXITSTATUS(st);
	} else {
		log_err(log, "cgroup",
			"the process charging guest RAM to %s died of signal "
			"%d",
			path, WTERMSIG(st));
		r = -EIO;
	}
out:
	close(dfd);
	return r;
}
