/* embed.c: embeds libmicrovm, boots and stops VMs (with virtio devices) in one process, proves nothing leaks. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "microvm.h"

static int failures;

#define CHECK(cond, ...)                                 \
	do {                                             \
		if (cond) {                              \
			printf("ok - " __VA_ARGS__);     \
		} else {                                 \
			printf("not ok - " __VA_ARGS__); \
			failures++;                      \
		}                                        \
		printf("\n");                            \
	} while (0)

static int count_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

struct captured_log {
	int lines;
	char first[512]; /* the first line since lines was 0 */
	char last[512];
};

static void log_cb(void *opaque, enum microvm_log_level level, const char *dev,
		   const char *msg)
{
	struct captured_log *l = opaque;

	if (!l->lines++)
		snprintf(l->first, sizeof(l->first), "%s: %s", dev, msg);
	snprintf(l->last, sizeof(l->last), "%s: %s", dev, msg);
}

/* Read the console pipe until `marker` shows up or 20 s pass. */
static int wait_for(int fd, const char *marker)
{
	char buf[4096];
	size_t len = 0;
	time_t end = time(NULL) + 20;

	while (time(NULL) < end) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, 200) <= 0)
			continue;
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			return -1;
		len += (size_t)n;
		buf[len] = 0;
		if (strstr(buf, marker))
			return 0;
		if (len == sizeof(buf) - 1)
			len = 0;
	}
	return -1;
}

static bool fd_readable(int fd, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, timeout_ms) == 1;
}

/* What the on_exit callback saw. */
struct exit_seen {
	struct microvm *vm; /* set before start */
	_Atomic int calls;
	enum microvm_exit_reason reason;
	size_t size;
	int poll; /* microvm_poll() from inside the callback */
	pid_t tid;
};

static void on_exit_cb(void *opaque, const struct microvm_exit *e)
{
	struct exit_seen *s = opaque;
	struct microvm_exit mine = MICROVM_EXIT_INIT;

	s->reason = e->reason;
	s->size = e->size;
	s->tid = gettid();
	/* No library lock is held: poll (which takes it) must not hang. */
	s->poll = s->vm ? microvm_poll(s->vm, &mine) : -1;
	s->calls++;
}

/* Boot `mode`; if stop, stop it from the host once it is running. */
static void run_vm(const char *kernel, const char *mode, bool stop,
		   enum microvm_exit_reason want)
{
	struct microvm_config cfg;
	struct captured_log log = {0};
	struct microvm_exit ex = MICROVM_EXIT_INIT;
	struct exit_seen seen = {0};
	struct microvm *vm = NULL;
	char cmdline[64];
	pid_t tids[4] = {0};
	char path[64];
	struct stat st;
	int pipefd[2], r, n;

	if (pipe2(pipefd, O_CLOEXEC)) {
		CHECK(0, "pipe: %s", strerror(errno));
		return;
	}
	microvm_config_init(&cfg);
	snprintf(cmdline, sizeof(cmdline), "tiny.mode=%s", mode);
	cfg.kernel = kernel;
	cfg.cmdline = cmdline;
	cfg.cpus = 2;
	cfg.memory = 32 << 20;
	cfg.console = MICROVM_CONSOLE_FDS;
	cfg.console_in_fd = -1;
	cfg.console_out_fd = pipefd[1];
	cfg.log_fn = log_cb;
	cfg.log_opaque = &log;
	cfg.log_level = MICROVM_LOG_DEBUG;
	cfg.on_exit = on_exit_cb;
	cfg.on_exit_opaque = &seen;

	r = microvm_create(&cfg, &vm);
	CHECK(r == 0, "%s: microvm_create (%s)", mode, r ? log.last : "");
	if (r)
		goto out;
	seen.vm = vm;
	CHECK(microvm_vcpu_tids(vm, tids, 4) == -EAGAIN,
	      "%s: vcpu tids unavailable before start", mode);
	CHECK(microvm_wait(vm, &ex) == -EINVAL, "%s: wait before start fails",
	      mode);
	CHECK(microvm_start(vm) == 0, "%s: microvm_start", mode);
	n = microvm_vcpu_tids(vm, tids, 4);
	snprintf(path, sizeof(path), "/proc/self/task/%d", tids[1]);
	CHECK(n == 2 && tids[0] > 0 && tids[1] > 0 && stat(path, &st) == 0,
	      "%s: 2 vCPU thread ids, threads of this process (%d %d)", mode,
	      tids[0], tids[1]);
	if (stop) {
		CHECK(wait_for(pipefd[0], "TINY: mode") == 0,
		      "%s: guest console output arrives", mode);
		/* Longer than the halt watch's period: idle is not dead. */
		CHECK(!fd_readable(microvm_exit_fd(vm), 2500),
		      "%s: exit eventfd not readable while running", mode);
		CHECK(microvm_poll(vm, &ex) == 0, "%s: poll says running",
		      mode);
		microvm_stop(vm);
	}
	CHECK(fd_readable(microvm_exit_fd(vm), 20000),
	      "%s: exit eventfd becomes readable", mode);
	r = microvm_wait(vm, &ex);
	CHECK(r == 0 && ex.reason == want, "%s: stops with %s (got %s: %s)",
	      mode, microvm_exit_reason_name(want),
	      microvm_exit_reason_name(ex.reason), ex.message);
	CHECK(microvm_poll(vm, &ex) == 1 && ex.reason == want,
	      "%s: poll agrees after wait", mode);
	CHECK(seen.calls == 1 && seen.reason == want && seen.poll == 1 &&
		      seen.size == sizeof(ex) && seen.tid != gettid(),
	      "%s: on_exit called once, on a library thread, no lock held "
	      "(%d calls, %s, poll %d)",
	      mode, (int)seen.calls, microvm_exit_reason_name(seen.reason),
	      seen.poll);
	ex.size = 8;
	CHECK(microvm_poll(vm, &ex) == -EINVAL && microvm_wait(vm, &ex) == -EINVAL,
	      "%s: an exit struct with a bad size is -EINVAL", mode);
out:
	microvm_destroy(vm);
	close(pipefd[0]);
	close(pipefd[1]);
}

/*
 * virtio devices from the API: the tiny guest's virtio-blk mode on a disk
 * image (word k of sector s is s << 16 | k; it writes the complement to
 * sector 2), next to virtio-rng and a vsock device whose socket must be
 * gone after destroy.
 */
static void run_devices_vm(const char *kernel)
{
	struct microvm_config cfg;
	struct captured_log log = {0};
	struct microvm_exit ex = MICROVM_EXIT_INIT;
	struct microvm *vm = NULL;
	struct microvm_disk disk = {0};
	struct microvm_vsock vsock = {.guest_cid = 3};
	char img[] = "/tmp/microvm-embed-disk-XXXXXX", uds[64];
	uint32_t sector[128];
	bool good = true;
	int pipefd[2], fd, r;

	fd = mkstemp(img);
	if (fd < 0 || pipe2(pipefd, O_CLOEXEC)) {
		CHECK(0, "devices: temp file or pipe: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	for (uint32_t s = 0; s < 64; s++) {
		for (uint32_t k = 0; k < 128; k++)
			sector[k] = s << 16 | k;
		if (write(fd, sector, sizeof(sector)) != sizeof(sector))
			good = false;
	}
	CHECK(good, "devices: disk image written");
	snprintf(uds, sizeof(uds), "/tmp/microvm-embed-%d.sock", getpid());
	disk.path = img;
	disk.id = "embed";
	vsock.uds = uds;
	microvm_config_init(&cfg);
	cfg.kernel = kernel;
	cfg.cmdline = "tiny.mode=virtio-blk";
	cfg.memory = 32 << 20;
	cfg.disks = &disk;
	cfg.ndisks = 1;
	cfg.vsock = &vsock;
	cfg.rng = true;
	cfg.console = MICROVM_CONSOLE_FDS;
	cfg.console_in_fd = -1;
	cfg.console_out_fd = pipefd[1];
	cfg.log_fn = log_cb;
	cfg.log_opaque = &log;

	r = microvm_create(&cfg, &vm);
	CHECK(r == 0, "devices: microvm_create with a disk, vsock and rng (%s)",
	      r ? log.last : "");
	if (r == 0) {
		CHECK(microvm_start(vm) == 0, "devices: microvm_start");
		CHECK(wait_for(pipefd[0], "TINY: virtio-blk ok") == 0,
		      "devices: the guest drove virtio-blk");
		CHECK(fd_readable(microvm_exit_fd(vm), 20000) &&
			      microvm_wait(vm, &ex) == 0 &&
			      ex.reason == MICROVM_EXIT_POWEROFF,
		      "devices: the guest powered off (%s)",
		      microvm_exit_reason_name(ex.reason));
	}
	microvm_destroy(vm);
	CHECK(access(uds, F_OK) < 0 && errno == ENOENT,
	      "devices: the vsock socket is gone after destroy");
	CHECK(pread(fd, sector, sizeof(sector), 2 * 512) == sizeof(sector) &&
		      sector[0] == ~(2u << 16) &&
		      sector[127] == ~(2u << 16 | 127),
	      "devices: the guest's write reached sector 2 of the file");
	close(fd);
	unlink(img);
	close(pipefd[0]);
	close(pipefd[1]);
}

/* Where PCI devices landed, through the API and as JSON. */
static void check_devices(const char *kernel)
{
	static const char *const devs[] = {"bar0=16M:32,bar1=1G:64pref",
					   "bar0=32M:32"};
	static char json[MICROVM_TOPOLOGY_MAX];
	struct microvm_config cfg;
	struct microvm_device_info info = MICROVM_DEVICE_INFO_INIT;
	struct microvm *vm = NULL;
	int r;

	microvm_config_init(&cfg);
	cfg.kernel = kernel;
	cfg.memory = 32 << 20;
	cfg.pcie_root_ports = 9;
	cfg.pci_testdevs = devs;
	cfg.n_pci_testdevs = 2;
	r = microvm_create(&cfg, &vm);
	CHECK(r == 0, "devices: create with 9 root ports and 2 test devices");
	if (r)
		return;
	CHECK(microvm_device_count(vm) == 2, "devices: count is 2");
	r = microvm_device_info(vm, 1, &info);
	CHECK(r == 0 && !strcmp(info.bdf, "0000:02:00.0") &&
		      !strcmp(info.pci_path, "00.1/00") &&
		      !strcmp(info.root_port_bdf, "0000:00:00.1") &&
		      !strcmp(info.name, "testdev1"),
	      "devices: testdev1 at %s path %s port %s", info.bdf,
	      info.pci_path, info.root_port_bdf);
	CHECK(microvm_device_info(vm, 2, &info) == -ENOENT,
	      "devices: index 2 does not exist");
	r = microvm_topology_json(vm, json, sizeof(json));
	CHECK(r > 0 && strstr(json, "\"pci_path\": \"00.1/00\"") &&
		      strstr(json, "\"index\": 8"),
	      "devices: topology JSON names the paths and all 9 ports");
	CHECK(microvm_topology_json(vm, json, 10) == -ENOSPC,
	      "devices: a short buffer is -ENOSPC");
	CHECK(microvm_console_set_size(vm, 80, 24) == -ENODEV,
	      "console size: -ENODEV on the UART");
	microvm_destroy(vm);
}

/* Console sizes through the API (the guest side is L2's virtio-console-resize). */
static void check_console_size(const char *kernel)
{
	struct microvm_config cfg;
	struct microvm *vm = NULL;
	int pipefd[2], r;

	if (pipe2(pipefd, O_CLOEXEC)) {
		CHECK(0, "pipe: %s", strerror(errno));
		return;
	}
	microvm_config_init(&cfg);
	cfg.kernel = kernel;
	cfg.memory = 32 << 20;
	cfg.virtio_console = true;
	cfg.console = MICROVM_CONSOLE_FDS;
	cfg.console_in_fd = -1;
	cfg.console_out_fd = pipefd[1];
	r = microvm_create(&cfg, &vm);
	CHECK(r == 0, "console size: create with virtio-console");
	if (r == 0) {
		CHECK(microvm_console_set_size(vm, 132, 43) == 0 &&
			      microvm_console_set_size(vm, 132, 43) == 0,
		      "console size: 132x43 taken (twice)");
		CHECK(microvm_console_set_size(vm, 0, 43) == -EINVAL &&
			      microvm_console_set_size(vm, 80, 0) == -EINVAL &&
			      microvm_console_set_size(vm, 65536, 1) == -EINVAL,
		      "console size: zero or over 65535 is -EINVAL");
	}
	CHECK(microvm_console_set_size(NULL, 80, 24) == -EINVAL,
	      "console size: NULL vm is -EINVAL");
	microvm_destroy(vm);
	close(pipefd[0]);
	close(pipefd[1]);
}

static _Atomic int console_dropping;

static void drop_log_cb(void *opaque, enum microvm_log_level level,
			const char *dev, const char *msg)
{
	(void)opaque;
	(void)level;
	(void)dev;
	if (strstr(msg, "not being read"))
		console_dropping = 1;
}

/*
 * A console consumer that stopped reading: the guest prints for ever into
 * a pipe nobody reads. The vCPUs must not block on it, and stop must end
 * the VM within a bound (the last second goes to flushing).
 */
static void check_stop_unread_console(const char *kernel)
{
	struct microvm_config cfg;
	struct microvm_exit ex = MICROVM_EXIT_INIT;
	struct microvm *vm = NULL;
	struct timespec a, b;
	int pipefd[2], r;
	long ms;

	if (pipe2(pipefd, O_CLOEXEC)) {
		CHECK(0, "pipe: %s", strerror(errno));
		return;
	}
	microvm_config_init(&cfg);
	cfg.kernel = kernel;
	cfg.cmdline = "tiny.mode=flood";
	cfg.memory = 32 << 20;
	cfg.cpus = 2;
	cfg.console = MICROVM_CONSOLE_FDS;
	cfg.console_in_fd = -1;
	cfg.console_out_fd = pipefd[1];
	cfg.log_fn = drop_log_cb;
	cfg.log_level = MICROVM_LOG_WARN;
	r = microvm_create(&cfg, &vm);
	CHECK(r == 0, "unread console: create");
	if (r == 0 && microvm_start(vm) == 0) {
		/*
		 * Until the pipe and the console buffer are full: seconds, but
		 * once over 30 s under ASan in a rig on a loaded host.
		 */
		for (int i = 0; i < 1800 && !console_dropping; i++)
			usleep(50 * 1000);
		CHECK(console_dropping,
		      "unread console: output is dropped, the guest goes on");
		clock_gettime(CLOCK_MONOTONIC, &a);
		microvm_stop(vm);
		CHECK(fd_readable(microvm_exit_fd(vm), 4000),
		      "unread console: stop ends the VM within 4 s");
		r = microvm_wait(vm, &ex);
		clock_gettime(CLOCK_MONOTONIC, &b);
		ms = (b.tv_sec - a.tv_sec) * 1000 +
		     (b.tv_nsec - a.tv_nsec) / 1000000;
		CHECK(r == 0 && ex.reason == MICROVM_EXIT_STOPPED && ms < 4000,
		      "unread console: stopped in %ld ms (%s)", ms,
		      microvm_exit_reason_name(ex.reason));
	}
	microvm_destroy(vm);
	close(pipefd[0]);
	close(pipefd[1]);
}

static void check_plan(void)
{
	static const char *const gpu[] = {"bar0=16M:32", "bar0=16M:32"};
	static char text[MICROVM_TOPOLOGY_MAX];
	struct microvm_config cfg;

	microvm_config_init(&cfg);
	cfg.pci_testdevs = gpu;
	cfg.n_pci_testdevs = 2;
	CHECK(microvm_plan(&cfg, text, sizeof(text), NULL, 0) == 0 &&
		      strstr(text, "testdev1"),
	      "plan: no kernel needed");
	cfg.low_mmio = 16 << 20;
	CHECK(microvm_plan(&cfg, text, sizeof(text), NULL, 0) == -EINVAL,
	      "plan: a too small low window is -EINVAL");
}

/*
 * Growth of struct microvm_config: a caller built with a newer header
 * passes a bigger struct; what this library does not know must be zero.
 */
/*
 * A program built against the first header, whose config ends at
 * on_exit_opaque: config_init writes only its bytes, and they plan.
 */
static void check_old_config_size(char *text, size_t len)
{
	const size_t old = offsetof(struct microvm_config, on_exit_opaque) +
			   sizeof(void *);
	_Alignas(8) unsigned char buf[sizeof(struct microvm_config) + 64];
	size_t i;

	memset(buf, 0x5a, sizeof(buf));
	microvm_config_init_sized((struct microvm_config *)buf, old);
	for (i = old; i < sizeof(buf) && buf[i] == 0x5a; i++)
		;
	CHECK(i == sizeof(buf) && ((struct microvm_config *)buf)->size == old &&
		      ((struct microvm_config *)buf)->cpus == 1,
	      "config size: init of an older caller's config stays in its "
	      "size");
	CHECK(microvm_plan((struct microvm_config *)buf, text, len, NULL, 0) ==
		      0,
	      "config size: an older caller's config plans");
}

static void check_config_size(void)
{
	static char text[MICROVM_TOPOLOGY_MAX];
	struct {
		struct microvm_config cfg;
		uint64_t newer;
	} big;
	struct microvm_config cfg;
	struct microvm *vm = NULL;

	microvm_config_init(&cfg);
	CHECK(cfg.size == sizeof(cfg), "config size: set by config_init");
	cfg.size = 0;
	CHECK(microvm_plan(&cfg, text, sizeof(text), NULL, 0) == -EINVAL &&
		      microvm_create(&cfg, &vm) == -EINVAL && !vm,
	      "config size: 0 (not from config_init) is -EINVAL");
	cfg.size = offsetof(struct microvm_config, on_exit_opaque);
	CHECK(microvm_plan(&cfg, text, sizeof(text), NULL, 0) == -EINVAL,
	      "config size: smaller than the first layout is -EINVAL");
	memset(&big, 0, sizeof(big));
	microvm_config_init(&big.cfg);
	big.cfg.size = sizeof(big);
	CHECK(microvm_plan(&big.cfg, text, sizeof(text), NULL, 0) == 0,
	      "config size: a newer caller's zero fields are accepted");
	big.newer = 1;
	CHECK(microvm_plan(&big.cfg, text, sizeof(text), NULL, 0) == -E2BIG,
	      "config size: a newer caller's unknown field set is -E2BIG");
	check_old_config_size(text, sizeof(text));
}

/*
 * VFIO without a device to pass through: bad input fails microvm_create()
 * with -EINVAL and the preflight's words, and leaks nothing (the fd and
 * thread counts at the end, LeakSanitizer under ASan). The preflight API
 * runs against the sysfs fixtures of the unit tests.
 */
static void check_vfio(const char *kernel)
{
	static char text[MICROVM_VFIO_CHECK_MAX];
	const char *direct[] = {"000f:01:00.0"}, *clean[] = {"01:00.0"};
	const char *fx = "tests/unit/fixtures/vfio";
	struct microvm_vfio dev[2] = {{"0000:00:1f.7", "gpu"}, {"zz", NULL}};
	struct captured_log log = {0};
	struct microvm_config cfg;
	struct microvm *vm = NULL;
	char sys[256], dv[256];
	int r;

	microvm_config_init(&cfg);
	cfg.kernel = kernel;
	cfg.log_fn = log_cb;
	cfg.log_opaque = &log;
	cfg.log_level = MICROVM_LOG_ERROR;
	cfg.vfio = dev;
	cfg.nvfio = 1;
	r = microvm_create(&cfg, &vm);
	CHECK(r == -EINVAL && !vm &&
		      strstr(log.first, "0000:00:1f.7 is not a PCI device"),
	      "vfio: a device the host does not have is -EINVAL (%d: %s)", r,
	      log.first);
	cfg.vfio = &dev[1];
	log.lines = 0;
	r = microvm_create(&cfg, &vm);
	CHECK(r == -EINVAL && strstr(log.first, "not a PCI address"),
	      "vfio: a malformed BDF is -EINVAL (%s)", log.first);

	snprintf(sys, sizeof(sys), "%s/direct/sys", fx);
	snprintf(dv, sizeof(dv), "%s/direct/dev", fx);
	r = microvm_vfio_check(direct, 1, sys, dv, text, sizeof(text), NULL, 0);
	CHECK(r == 0 && strstr(text, "1:1") && strstr(text, "0xa1600000"),
	      "vfio: preflight says a direct-mapped group cannot be passed "
	      "through (%d)",
	      r);
	snprintf(sys, sizeof(sys), "%s/clean/sys", fx);
	snprintf(dv, sizeof(dv), "%s/clean/dev", fx);
	r = microvm_vfio_check(clean, 1, sys, dv, NULL, 0, text, sizeof(text));
	CHECK(r == 1 && strstr(text, "\"ready\": true"),
	      "vfio: preflight JSON says a clean device is ready (%d)", r);
	CHECK(microvm_vfio_check(direct, 1, sys, dv, text, 16, NULL, 0) ==
		      -ENOSPC,
	      "vfio: preflight: a small buffer is -ENOSPC");
}

static void snapshot_sigactions(struct sigaction *sa)
{
	for (int s = 1; s < NSIG; s++)
		sigaction(s, NULL, &sa[s]);
}

int main(int argc, char **argv)
{
	static struct sigaction before[NSIG], after[NSIG];
	char tmpl[] = "/tmp/microvm-embed-XXXXXX";
	int fds0, tasks0, fds1, tasks1, saved_out, saved_err, cap;
	struct stat st;
	bool same = true;

	if (argc != 2) {
		fprintf(stderr, "usage: %s TINY_BZIMAGE\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	snapshot_sigactions(before);
	fds0 = count_dir("/proc/self/fd");
	tasks0 = count_dir("/proc/self/task");

	/* The library must never write to stdout/stderr: capture both. */
	fflush(stdout);
	cap = mkstemp(tmpl);
	saved_out = dup(1);
	saved_err = dup(2);
	dup2(cap, 1);
	dup2(cap, 2);

	for (int round = 0; round < 2; round++) {
		run_vm(argv[1], "idle", true, MICROVM_EXIT_STOPPED);
		run_vm(argv[1], "halt", false, MICROVM_EXIT_HALTED);
		run_vm(argv[1], "hello", false, MICROVM_EXIT_POWEROFF);
		run_devices_vm(argv[1]);
	}
	check_devices(argv[1]);
	check_console_size(argv[1]);
	check_stop_unread_console(argv[1]);
	check_plan();
	check_config_size();
	check_vfio(argv[1]);
	/* Our own CHECK lines went to the capture too: count only others. */
	fflush(stdout);
	dup2(saved_out, 1);
	dup2(saved_err, 2);
	close(saved_out);
	close(saved_err);
	{
		FILE *f = fopen(tmpl, "r");
		char line[512];
		int foreign = 0;

		while (f && fgets(line, sizeof(line), f)) {
			fputs(line, stdout);
			if (strncmp(line, "ok - ", 5) &&
			    strncmp(line, "not ok - ", 9))
				foreign++;
		}
		if (f)
			fclose(f);
		CHECK(f && foreign == 0,
		      "library wrote nothing to stdout/stderr (%d lines)",
		      foreign);
	}
	close(cap);
	unlink(tmpl);
	(void)st;

	snapshot_sigactions(after);
	for (int s = 1; s < NSIG; s++)
		if (before[s].sa_handler != after[s].sa_handler)
			same = false;
	CHECK(same, "no signal handler installed by the library");
	fds1 = count_dir("/proc/self/fd");
	tasks1 = count_dir("/proc/self/task");
	CHECK(fds1 == fds0, "no fd leaked (%d before, %d after)", fds0, fds1);
	CHECK(tasks1 == tasks0, "no thread leaked (%d before, %d after)",
	      tasks0, tasks1);
	printf("%s\n", failures ? "FAIL" : "PASS");
	return failures ? 1 : 0;
}
