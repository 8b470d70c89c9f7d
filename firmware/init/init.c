/* init.c: the guest /init: mounts, pvpanic, then the microvm.init= mode. */
/*
 * Kernel command line parameters (read from /proc/cmdline):
 *   microvm.init=shell     (default) busybox sh on the console with job
 *                          control; power off when it exits
 *   microvm.init=check     check microvm.expect_cpus=N,
 *                          microvm.expect_mem_mib=M (MemTotal within 75-100%)
 *                          and, if given, microvm.expect_pvpanic=1; print
 *                          "MICROVM-CHECK cpus=<n> memtotal_kib=<k> PASS"
 *                          (or "... FAIL: <why>"), power off
 *   microvm.init=cmd       run microvm.cmd="<shell command>", print
 *                          "MICROVM-CMD status=<n>", power off
 *   microvm.init=panic     crash the kernel through sysrq (pvpanic reports it)
 *   microvm.init=poweroff  power off at once
 *   microvm.init=reboot    reboot at once
 *   microvm.init=halt      halt at once
 *   microvm.modules=a,b    more modules to load (pvpanic-mmio is always tried,
 *                          and the driver of every virtio PCI device present)
 *   microvm.rows=R microvm.cols=C   the shell's terminal size (a serial
 *                          console cannot tell)
 *
 * As PID 1 it reaps orphans, and busybox poweroff/reboot/halt (SIGUSR2/SIGTERM/
 * SIGUSR1 to PID 1) sync and power off/reboot/halt.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PFX		 "microvm-init: "
#define MAX_PARAMS	 256
#define MAX_MODULE_DEPTH 16
/* Firecracker's "init reached" boot marker value, written to port 0x80. */
#define BOOT_MARKER_INIT 123

struct param {
	char *key;
	char *val; /* "" when the parameter has no '=' */
};

static struct param params[MAX_PARAMS];
static int nparams;
static char cmdline_buf[8192];
static int console_fd = 2;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(console_fd, buf, n) < 0) {
		/* Nowhere else to report it. */
	}
}

/*
 * Tell the VMM that init was reached: value 123 on the POST port 0x80, written
 * by the kernel through /dev/port (userspace port I/O after ioperm() is not
 * reliable under every hypervisor; the kernel's own outb is).
 *
 * Port I/O is x86's. Elsewhere /dev/port reaches the PCI I/O space, which need
 * not be mapped at all (arm64 with no I/O window in the host bridge's ranges:
 * the write oopses the kernel in logic_outb and kills us), so there the marker
 * goes to the boot-timer MMIO device the FDT describes (boot_marker_mmio, once
 * /sys is mounted).
 */
#if defined(__x86_64__) || defined(__i386__)
static void boot_marker(void)
{
	unsigned char v = BOOT_MARKER_INIT;
	int fd = open("/dev/port", O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	if (pwrite(fd, &v, 1, 0x80) != 1) {
		/* Best effort: the marker is only for timing. */
	}
	close(fd);
}

static void boot_marker_mmio(void)
{
}
#else
static void boot_marker(void)
{
}

static ssize_t read_file(const char *path, char *buf, size_t size);

/*
 * The FDT's boot-timer node (compatible "microvm,boot-timer", two address and
 * two size cells) gives the register; the value goes there through /dev/mem
 * (arm64 allows mmap of what is not RAM; read/write only reach RAM).
 */
static void boot_marker_mmio(void)
{
	const char *base = "/sys/firmware/devicetree/base";
	unsigned char reg[16];
	char path[PATH_MAX], compat[64];
	uint64_t addr = 0;
	struct dirent *e;
	long page = sysconf(_SC_PAGESIZE);
	volatile uint32_t *r;
	void *map;
	DIR *d = opendir(base);
	int fd;

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "boot-timer@", 11) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s/compatible", base,
			 e->d_name);
		if (read_file(path, compat, sizeof(compat)) <= 0 ||
		    strcmp(compat, "microvm,boot-timer") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s/reg", base, e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (read(fd, reg, sizeof(reg)) == (ssize_t)sizeof(reg))
			for (int i = 0; i < 8; i++)
				addr = addr << 8 | reg[i];
		close(fd);
		break;
	}
	closedir(d);
	if (!addr || page <= 0)
		return;
	fd = open("/dev/mem", O_RDWR | O_SYNC | O_CLOEXEC);
	if (fd < 0)
		return;
	map = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		   (off_t)(addr & ~(uint64_t)(page - 1)));
	close(fd);
	if (map == MAP_FAILED)
		return;
	r = (volatile uint32_t *)((char *)map + (addr & (page - 1)));
	*r = BOOT_MARKER_INIT;
	munmap(map, page);
}
#endif

static void mount_fs(const char *src, const char *target, const char *type,
		     unsigned long flags, const char *data)
{
	mkdir(target, 0755);
	if (mount(src, target, type, flags, data) < 0 && errno != EBUSY)
		say(PFX "mount %s on %s: %s", type, target, strerror(errno));
}

/* Point fds 0-2 and our own console fd at /dev/console. */
static void open_console(void)
{
	int fd = open("/dev/console", O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (fd < 0)
		return;
	for (int i = 0; i < 3; i++)
		dup2(fd, i);
	console_fd = fd;
}

static ssize_t read_file(const char *path, char *buf, size_t size)
{
	ssize_t n, total = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while ((size_t)total < size - 1) {
		n = read(fd, buf + total, size - 1 - total);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		total += n;
	}
	close(fd);
	buf[total] = '\0';
	return total;
}

/* Split /proc/cmdline into key=value pairs; "..." quotes may hold spaces. */
static void parse_cmdline(void)
{
	char *p = cmdline_buf, *dst;

	if (read_file("/proc/cmdline", cmdline_buf, sizeof(cmdline_buf)) < 0) {
		say(PFX "cannot read /proc/cmdline: %s", strerror(errno));
		return;
	}
	while (*p && nparams < MAX_PARAMS) {
		bool quoted = false;

		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		params[nparams].key = dst = p;
		params[nparams].val = NULL;
		for (; *p && (quoted || !isspace((unsigned char)*p)); p++) {
			if (*p == '"') {
				quoted = !quoted;
				continue;
			}
			if (*p == '=' && !params[nparams].val) {
				*dst++ = '\0';
				params[nparams].val = dst;
				continue;
			}
			*dst++ = *p;
		}
		if (*p)
			p++;
		*dst = '\0';
		if (!params[nparams].val)
			params[nparams].val = dst;
		nparams++;
	}
}

/* Last value of `key` on the command line, or NULL. */
static const char *param(const char *key)
{
	for (int i = nparams - 1; i >= 0; i--)
		if (strcmp(params[i].key, key) == 0)
			return params[i].val;
	return NULL;
}

/* Module names compare with '-' and '_' as equals, as modprobe does. */
static bool modname_eq(const char *a, const char *b, size_t blen)
{
	size_t i;

	for (i = 0; a[i] && i < blen; i++) {
		char ca = a[i] == '-' ? '_' : a[i];
		char cb = b[i] == '-' ? '_' : b[i];

		if (ca != cb)
			return false;
	}
	return !a[i] && i == blen;
}

struct modules {
	char dir[PATH_MAX];
	char *dep; /* modules.dep, NUL-terminated */
	char *builtin; /* modules.builtin */
};

static char *slurp(const char *path)
{
	struct stat st;
	char *buf;

	if (stat(path, &st) < 0)
		return NULL;
	buf = malloc(st.st_size + 1);
	if (!buf)
		return NULL;
	if (read_file(path, buf, st.st_size + 1) < 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static bool modules_open(struct modules *m)
{
	struct utsname uts;
	char path[PATH_MAX + 32];

	if (uname(&uts) < 0)
		return false;
	snprintf(m->dir, sizeof(m->dir), "/lib/modules/%s", uts.release);
	snprintf(path, sizeof(path), "%s/modules.dep", m->dir);
	m->dep = slurp(path);
	snprintf(path, sizeof(path), "%s/modules.builtin", m->dir);
	m->builtin = slurp(path);
	return m->dep != NULL;
}

/*
 * Find the line in a modules.dep-style buffer whose module (basename without
 * .ko*) is `name`. Returns the line start and sets *len to the line length.
 */
static const char *find_module_line(const char *buf, const char *name,
				    bool dep_format, size_t *len)
{
	const char *line = buf;

	while (line && *line) {
		const char *eol = strchrnul(line, '\n');
		const char *end =
			dep_format ? memchr(line, ':', eol - line) : eol;
		const char *base, *dot;

		if (end) {
			base = line;
			for (const char *q = line; q < end; q++)
				if (*q == '/')
					base = q + 1;
			dot = memchr(base, '.', end - base);
			if (!dot)
				dot = end;
			if (modname_eq(name, base, dot - base)) {
				*len = eol - line;
				return line;
			}
		}
		line = *eol ? eol + 1 : NULL;
	}
	return NULL;
}

static int insert_module_file(const char *dir, const char *relpath, size_t len)
{
	char path[PATH_MAX];
	int fd, ret = 0;

	if ((size_t)snprintf(path, sizeof(path), "%s/%.*s", dir, (int)len,
			     relpath) >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST)
		ret = -errno;
	close(fd);
	return ret;
}

/* Load `name` and (first) everything it depends on. 0, or -ENOENT if absent. */
static int load_module(struct modules *m, const char *name, int depth)
{
	const char *line, *colon, *p, *end;
	size_t len;
	int ret;

	if (depth > MAX_MODULE_DEPTH)
		return -ELOOP;
	if (m->builtin && find_module_line(m->builtin, name, false, &len))
		return 0;
	line = find_module_line(m->dep, name, true, &len);
	if (!line)
		return -ENOENT;
	end = line + len;
	colon = memchr(line, ':', len);
	for (p = colon + 1; p < end;) {
		const char *tok, *base, *dot;
		char dep[128];

		while (p < end && isspace((unsigned char)*p))
			p++;
		tok = p;
		while (p < end && !isspace((unsigned char)*p))
			p++;
		if (p == tok)
			break;
		base = tok;
		for (const char *q = tok; q < p; q++)
			if (*q == '/')
				base = q + 1;
		dot = memchr(base, '.', p - base);
		if (!dot)
			dot = p;
		snprintf(dep, sizeof(dep), "%.*s", (int)(dot - base), base);
		ret = load_module(m, dep, depth + 1);
		if (ret < 0)
			return ret;
	}
	return insert_module_file(m->dir, line, colon - line);
}

/* Reads a sysfs attribute holding one hex number; -1 if it cannot. */
static long read_hex_attr(const char *dir, const char *name)
{
	char path[PATH_MAX], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return strtol(buf, NULL, 16);
}

/*
 * Appends ",driver" to `list` for each virtio (1.x, vendor 0x1af4, device
 * 0x1040 + type) PCI function present, so that `--disk` and friends work
 * without naming modules on the command line.
 */
static void add_virtio_drivers(char *list, size_t size)
{
	static const struct {
		long device;
		const char *driver;
	} drivers[] = {
		{0x1041, "virtio_net"},
		{0x1042, "virtio_blk"},
		{0x1043, "virtio_console"},
		{0x1044, "virtio_rng"},
		{0x1053, "vmw_vsock_virtio_transport"},
	};
	const char *base = "/sys/bus/pci/devices";
	bool any = false, seen[sizeof(drivers) / sizeof(drivers[0])] = {0};
	DIR *d = opendir(base);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char dir[PATH_MAX];
		long device;

		if (e->d_name[0] == '.')
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", base, e->d_name);
		if (read_hex_attr(dir, "vendor") != 0x1af4)
			continue;
		device = read_hex_attr(dir, "device");
		for (size_t i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++)
			if (drivers[i].device == device)
				seen[i] = any = true;
	}
	closedir(d);
	if (any)
		strncat(list, ",virtio_pci", size - strlen(list) - 1);
	for (size_t i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++) {
		if (!seen[i])
			continue;
		strncat(list, ",", size - strlen(list) - 1);
		strncat(list, drivers[i].driver, size - strlen(list) - 1);
	}
}

static void load_modules(void)
{
	struct modules m = {0};
	const char *extra = param("microvm.modules");
	char list[768], *save = NULL, *name;
	int ret;

	if (!modules_open(&m))
		return; /* no modules in this initramfs */
	snprintf(list, sizeof(list), "pvpanic-mmio");
	add_virtio_drivers(list, sizeof(list));
	if (extra && *extra) {
		strncat(list, ",", sizeof(list) - strlen(list) - 1);
		strncat(list, extra, sizeof(list) - strlen(list) - 1);
	}
	for (name = strtok_r(list, ",", &save); name;
	     name = strtok_r(NULL, ",", &save)) {
		ret = load_module(&m, name, 0);
		if (ret == -ENOENT && strcmp(name, "pvpanic-mmio") == 0)
			continue; /* optional */
		if (ret < 0)
			say(PFX "module %s: %s", name, strerror(-ret));
	}
	free(m.dep);
	free(m.builtin);
}

enum shutdown_how {
	POWER_OFF,
	REBOOT,
	HALT,
};

/* Kill everything else, sync, and power off / reboot / halt. Never returns. */
static void __attribute__((noreturn)) shutdown_system(enum shutdown_how how)
{
	static const char *const what[] = {
		[POWER_OFF] = "powering off",
		[REBOOT] = "rebooting",
		[HALT] = "halting",
	};
	static const int cmd[] = {
		[POWER_OFF] = RB_POWER_OFF,
		[REBOOT] = RB_AUTOBOOT,
		[HALT] = RB_HALT_SYSTEM,
	};
	struct timespec ts = {0, 10 * 1000 * 1000};

	say(PFX "%s", what[how]);
	if (kill(-1, SIGTERM) == 0) {
		/* Give the others up to 300 ms to go. */
		for (int i = 0; i < 30; i++) {
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;
			if (kill(-1, 0) < 0 && errno == ESRCH)
				break;
			nanosleep(&ts, NULL);
		}
		kill(-1, SIGKILL);
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	}
	sync();
	reboot(cmd[how]);
	say(PFX "reboot(%s) failed: %s", what[how], strerror(errno));
	for (;;)
		pause();
}

/* The tty behind /dev/console (last entry of /sys/class/tty/console/active). */
static void console_tty(char *path, size_t size)
{
	char buf[256], *last, *p;

	snprintf(path, size, "/dev/console");
	if (read_file("/sys/class/tty/console/active", buf, sizeof(buf)) <= 0)
		return;
	for (p = buf + strlen(buf); p > buf && isspace((unsigned char)p[-1]);
	     p--)
		p[-1] = '\0';
	last = strrchr(buf, ' ');
	last = last ? last + 1 : buf;
	if (!*last)
		return;
	snprintf(path, size, "/dev/%s", last);
	if (access(path, R_OK | W_OK) < 0)
		snprintf(path, size, "/dev/console");
}

static void child_reset_signals(void)
{
	sigset_t all;

	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
}

/*
 * An initramfs packed on a machine that cannot run its busybox (another
 * architecture's: scripts/mkinitramfs.sh) has only /bin/sh linked to it; the
 * other applets' links are made here, before any command runs. Built in for
 * cross builds only (init.mk): the native image has them all.
 */
static void install_applets(void)
{
#ifdef INIT_INSTALL_APPLETS
	pid_t pid;
	int status;

	if (access("/bin/ls", F_OK) == 0 || access("/bin/busybox", X_OK) < 0)
		return;
	pid = fork();
	if (pid == 0) {
		child_reset_signals();
		execl("/bin/busybox", "/bin/busybox", "--install", "-s",
		      (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		say(PFX "busybox --install -s failed; only /bin/sh works");
#endif
}

static char *const shell_env[] = {
	"HOME=/root", "PATH=/sbin:/usr/sbin:/bin:/usr/bin",
	"TERM=linux", "PS1=\\h:\\w\\$ ",
	NULL,
};

/* An interactive shell in its own session, the console tty as its ctty. */
static pid_t spawn_shell(void)
{
	const char *rows = param("microvm.rows"), *cols = param("microvm.cols");
	char tty[64];
	pid_t pid;

	console_tty(tty, sizeof(tty));
	pid = fork();
	if (pid < 0) {
		say(PFX "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		int fd;

		child_reset_signals();
		setsid();
		fd = open(tty, O_RDWR);
		if (fd < 0) {
			say(PFX "open %s: %s", tty, strerror(errno));
			_exit(127);
		}
		if (rows && cols) {
			struct winsize ws = {
				.ws_row = (unsigned short)atoi(rows),
				.ws_col = (unsigned short)atoi(cols),
			};

			ioctl(fd, TIOCSWINSZ, &ws);
		}
		if (ioctl(fd, TIOCSCTTY, 1) < 0)
			say(PFX "%s: TIOCSCTTY: %s (no job control)", tty,
			    strerror(errno));
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
		if (chdir("/root") < 0 && chdir("/") < 0)
			_exit(127);
		execle("/bin/sh", "-sh", (char *)NULL, shell_env);
		say(PFX "exec /bin/sh: %s", strerror(errno));
		_exit(127);
	}
	return pid;
}

static pid_t spawn_command(const char *cmd)
{
	pid_t pid = fork();

	if (pid < 0) {
		say(PFX "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		child_reset_signals();
		setsid();
		if (chdir("/root") < 0 && chdir("/") < 0)
			_exit(127);
		execle("/bin/sh", "sh", "-c", cmd, (char *)NULL, shell_env);
		say(PFX "exec /bin/sh: %s", strerror(errno));
		_exit(127);
	}
	return pid;
}

static void noop_handler(int sig)
{
}

/*
 * PID 1's loop: reap orphans; act on busybox poweroff (SIGUSR2), reboot
 * (SIGTERM), halt (SIGUSR1) and Ctrl-Alt-Del (SIGINT). When `main_child`
 * exits, report its status if `report` and power off.
 */
static void __attribute__((noreturn)) supervise(pid_t main_child, bool report)
{
	sigset_t set;
	int sig, status;
	pid_t pid;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	for (;;) {
		/* Reap first: a child may have exited before we waited. */
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			if (pid != main_child)
				continue;
			if (report)
				say("MICROVM-CMD status=%d",
				    WIFEXITED(status) ? WEXITSTATUS(status)
						      : 128 + WTERMSIG(status));
			shutdown_system(POWER_OFF);
		}
		if (main_child < 0)
			shutdown_system(POWER_OFF);
		sig = sigwaitinfo(&set, NULL);
		switch (sig) {
		case SIGUSR2:
			shutdown_system(POWER_OFF);
		case SIGTERM:
		case SIGINT:
			shutdown_system(REBOOT);
		case SIGUSR1:
			shutdown_system(HALT);
		default:
			break;
		}
	}
}

static long online_cpus(void)
{
	return sysconf(_SC_NPROCESSORS_ONLN);
}

static long long memtotal_kib(void)
{
	char buf[4096];
	const char *p;

	if (read_file("/proc/meminfo", buf, sizeof(buf)) <= 0)
		return -1;
	p = strstr(buf, "MemTotal:");
	if (!p)
		return -1;
	return strtoll(p + strlen("MemTotal:"), NULL, 10);
}

/* Is a device bound to the pvpanic-mmio platform driver? */
static bool pvpanic_bound(void)
{
	DIR *d = opendir("/sys/bus/platform/drivers/pvpanic-mmio");
	struct dirent *e;
	bool found = false;

	if (!d)
		return false;
	while ((e = readdir(d))) {
		/* Bound devices appear as symlinks named after the device. */
		if (e->d_type == DT_LNK && strcmp(e->d_name, "module") != 0)
			found = true;
	}
	closedir(d);
	return found;
}

static void run_check(void)
{
	const char *exp_cpus = param("microvm.expect_cpus");
	const char *exp_mem = param("microvm.expect_mem_mib");
	const char *exp_pvpanic = param("microvm.expect_pvpanic");
	long cpus = online_cpus();
	long long mem = memtotal_kib();
	char why[512] = "";
	size_t off = 0;

	if (!exp_cpus && !exp_mem && !exp_pvpanic)
		off += snprintf(why + off, sizeof(why) - off,
				"nothing to check (no microvm.expect_*); ");
	if (exp_cpus && cpus != strtol(exp_cpus, NULL, 10))
		off += snprintf(why + off, sizeof(why) - off,
				"online cpus %ld != expected %s; ", cpus,
				exp_cpus);
	if (exp_mem) {
		long long m = strtoll(exp_mem, NULL, 10) * 1024;
		long long lo = m * 75 / 100;

		if (mem < lo || mem > m)
			off += snprintf(why + off, sizeof(why) - off,
					"MemTotal %lld KiB not in [%lld, %lld] "
					"KiB (75-100%% of %s MiB); ",
					mem, lo, m, exp_mem);
	}
	if (exp_pvpanic && strcmp(exp_pvpanic, "1") == 0 && !pvpanic_bound())
		off += snprintf(why + off, sizeof(why) - off,
				"no device bound to pvpanic-mmio; ");
	if (off >= 2 && off < sizeof(why))
		why[off - 2] = '\0';
	if (off)
		say("MICROVM-CHECK cpus=%ld memtotal_kib=%lld FAIL: %s", cpus,
		    mem, why);
	else
		say("MICROVM-CHECK cpus=%ld memtotal_kib=%lld PASS", cpus, mem);
}

static void trigger_panic(void)
{
	int fd;

	say(PFX "panicking");
	fd = open("/proc/sysrq-trigger", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "c", 1) != 1)
		say(PFX "sysrq crash failed: %s", strerror(errno));
	/* Only reached if the kernel did not crash. */
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = noop_handler};
	const int sigs[] = {SIGCHLD, SIGUSR1, SIGUSR2, SIGTERM, SIGINT};
	sigset_t set;
	const char *mode;

	(void)argc;
	if (getpid() != 1) {
		fprintf(stderr, "%s: must run as PID 1 (the guest's /init)\n",
			argv[0]);
		return 1;
	}

	/*
	 * Handlers (not SIG_DFL, which PID 1 never receives) plus blocking:
	 * the signals stay pending until supervise() waits for them.
	 */
	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigaction(sigs[i], &sa, NULL);
		sigaddset(&set, sigs[i]);
	}
	sigprocmask(SIG_BLOCK, &set, NULL);

	mount_fs("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
	boot_marker();
	open_console();
	mount_fs("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		 NULL);
	mount_fs("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		 NULL);
	boot_marker_mmio();
	mount_fs("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
		 "gid=5,mode=620,ptmxmode=666");
	mount_fs("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV,
		 "mode=1777");
	mount_fs("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
	mount_fs("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
	if (sethostname("microvm", strlen("microvm")) < 0)
		say(PFX "sethostname: %s", strerror(errno));
	install_applets();
	parse_cmdline();
	load_modules();
	say(PFX "started");

	mode = param("microvm.init");
	if (!mode || !*mode)
		mode = "shell";
	if (strcmp(mode, "check") == 0) {
		run_check();
		shutdown_system(POWER_OFF);
	} else if (strcmp(mode, "cmd") == 0) {
		const char *cmd = param("microvm.cmd");

		if (!cmd || !*cmd) {
			say(PFX "microvm.init=cmd needs microvm.cmd=\"...\"");
			shutdown_system(POWER_OFF);
		}
		supervise(spawn_command(cmd), true);
	} else if (strcmp(mode, "panic") == 0) {
		trigger_panic();
		shutdown_system(POWER_OFF);
	} else if (strcmp(mode, "poweroff") == 0) {
		shutdown_system(POWER_OFF);
	} else if (strcmp(mode, "reboot") == 0) {
		shutdown_system(REBOOT);
	} else if (strcmp(mode, "halt") == 0) {
		shutdown_system(HALT);
	} else if (strcmp(mode, "shell") != 0) {
		say(PFX "unknown microvm.init=%s; starting a shell", mode);
	}
	supervise(spawn_shell(), false);
}
