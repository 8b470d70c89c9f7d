/*
 * soak.c: a long-lived embedder's view of libmicrovm: N VMs in a row, each booted to the tiny
 * guest's boot marker and destroyed, with the process's fds, threads and RSS flat; then M VMs at
 * once, each stopped from a thread of its own at a random moment.
 *
 * Usage: soak TINY_KERNEL [SERIAL_VMS [PARALLEL_VMS [RSS_BOUND_KIB]]]   (defaults 1000, 20, 2048)
 * RSS_BOUND_KIB 0 checks no RSS bound: under ASan its quarantine keeps freed memory on purpose
 * (LeakSanitizer checks for leaks at exit instead).
 * Prints "ok - ..." / "not ok - ..." lines and "# soak: ..." figures; exit status 1 on a failure.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
		fflush(stdout);                          \
	} while (0)

struct sample {
	int fds, threads;
	long rss_kib;
};

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
	return n - (!strcmp(path, "/proc/self/fd") ? 1 : 0); /* our DIR's own fd */
}

static struct sample sample_now(void)
{
	struct sample s = {count_dir("/proc/self/fd"),
			   count_dir("/proc/self/task"), -1};
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &rss) == 2)
			s.rss_kib = rss * (sysconf(_SC_PAGESIZE) / 1024);
		fclose(f);
	}
	return s;
}

static struct microvm_config base_config(const char *kernel, const char *cmdline)
{
	struct microvm_config cfg;

	microvm_config_init(&cfg);
	cfg.kernel = kernel;
	cfg.cmdline = cmdline;
	cfg.cpus = 1;
	cfg.memory = 16 << 20;
	cfg.console = MICROVM_CONSOLE_NONE;
	cfg.log_level = MICROVM_LOG_ERROR;
	return cfg;
}

/* One VM: created, started, the marker seen, powered off by the guest, destroyed. */
static int one_vm(const char *kernel, char *why, size_t len)
{
	struct microvm_config cfg = base_config(kernel, "tiny.mode=marker");
	struct microvm_exit ex = MICROVM_EXIT_INIT;
	struct microvm *vm = NULL;
	static char json[MICROVM_TIMINGS_MAX];
	int r;

	r = microvm_create(&cfg, &vm);
	if (r) {
		snprintf(why, len, "microvm_create: %s", strerror(-r));
		return -1;
	}
	r = microvm_start(vm);
	if (!r)
		r = microvm_wait(vm, &ex);
	if (r)
		snprintf(why, len, "start/wait: %s", strerror(-r));
	else if (ex.reason != MICROVM_EXIT_POWEROFF)
		snprintf(why, len, "stopped with %s: %s",
			 microvm_exit_reason_name(ex.reason), ex.message);
	else if (microvm_timings_json(vm, json, sizeof(json)) < 0 ||
		 !strstr(json, "{\"value\": 123,"))
		snprintf(why, len, "no boot marker in the timings");
	else
		why[0] = 0;
	microvm_destroy(vm);
	return why[0] ? -1 : 0;
}

static void serial_soak(const char *kernel, unsigned int n, long rss_bound)
{
	/* The first and last tenth of the run (at least 1 VM each), worst case. */
	unsigned int tenth = n / 10 ? n / 10 : 1;
	struct sample first = {0, 0, 0}, last = {0, 0, 0}, at1 = {0, 0, 0},
		      at100 = {0, 0, 0}, atn = {0, 0, 0};
	struct timespec t0, t1;
	char why[300] = "";
	unsigned int done = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned int i = 1; i <= n; i++) {
		struct sample s;

		if (one_vm(kernel, why, sizeof(why)) < 0)
			break;
		done = i;
		s = sample_now();
		if (i == 1)
			at1 = s;
		if (i == 100)
			at100 = s;
		atn = s;
		if (i <= tenth) {
			first.fds = s.fds > first.fds ? s.fds : first.fds;
			first.threads = s.threads > first.threads ? s.threads
								 : first.threads;
			first.rss_kib = s.rss_kib > first.rss_kib ? s.rss_kib
								 : first.rss_kib;
		}
		if (i > n - tenth) {
			last.fds = s.fds > last.fds ? s.fds : last.fds;
			last.threads = s.threads > last.threads ? s.threads
							       : last.threads;
			last.rss_kib = s.rss_kib > last.rss_kib ? s.rss_kib
							       : last.rss_kib;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK(done == n, "soak: %u VMs in a row booted to their marker and "
	      "powered off (%u done%s%s)",
	      n, done, why[0] ? ": " : "", why);
	printf("# soak: %u VMs in %.1f s (%.1f ms each)\n", done,
	       (double)(t1.tv_sec - t0.tv_sec) +
		       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	       done ? ((double)(t1.tv_sec - t0.tv_sec) * 1e3 +
		       (double)(t1.tv_nsec - t0.tv_nsec) / 1e6) / done
		    : 0.0);
	printf("# soak: fds/threads/RSS KiB at VM 1: %d/%d/%ld, VM 100: "
	       "%d/%d/%ld, VM %u: %d/%d/%ld\n",
	       at1.fds, at1.threads, at1.rss_kib, at100.fds, at100.threads,
	       at100.rss_kib, done, atn.fds, atn.threads, atn.rss_kib);
	if (done != n)
		return;
	CHECK(last.fds <= first.fds, "soak: fds flat (first %u VMs at most "
	      "%d, last %u at most %d)",
	      tenth, first.fds, tenth, last.fds);
	CHECK(last.threads <= first.threads,
	      "soak: threads flat (at most %d, then %d)", first.threads,
	      last.threads);
	/* Allocator slack, not growth: 2 MiB over the first tenth's worst. */
	if (rss_bound)
		CHECK(last.rss_kib <= first.rss_kib + rss_bound,
		      "soak: RSS flat (at most %ld KiB, then %ld KiB; bound "
		      "+%ld)",
		      first.rss_kib, last.rss_kib, rss_bound);
	else
		printf("# soak: RSS not bounded here (at most %ld KiB, then "
		       "%ld KiB)\n",
		       first.rss_kib, last.rss_kib);
}

struct stopper {
	struct microvm *vm;
	unsigned int delay_us;
};

static void *stop_later(void *arg)
{
	struct stopper *s = arg;

	usleep(s->delay_us);
	microvm_stop(s->vm);
	return NULL;
}

static void parallel_soak(const char *kernel, unsigned int n)
{
	struct microvm **vms = calloc(n, sizeof(*vms));
	struct stopper *st = calloc(n, sizeof(*st));
	pthread_t *th = calloc(n, sizeof(*th));
	struct sample before = sample_now(), after;
	unsigned int created = 0, stopped = 0, started = 0;
	char why[300] = "";

	if (!vms || !st || !th) {
		CHECK(0, "parallel: out of memory");
		goto out;
	}
	srand((unsigned int)time(NULL));
	for (unsigned int i = 0; i < n; i++) {
		/* A guest that never stops by itself: only the stop ends it. */
		struct microvm_config cfg = base_config(kernel, "tiny.mode=spin");
		int r = microvm_create(&cfg, &vms[i]);

		if (r) {
			snprintf(why, sizeof(why), "VM %u: microvm_create: %s",
				 i, strerror(-r));
			break;
		}
		created++;
		if (microvm_start(vms[i]) == 0)
			started++;
	}
	for (unsigned int i = 0; i < created; i++) {
		st[i] = (struct stopper){vms[i], (unsigned int)(rand() % 500000)};
		if (pthread_create(&th[i], NULL, stop_later, &st[i]))
			microvm_stop(vms[i]);
	}
	for (unsigned int i = 0; i < created; i++) {
		struct microvm_exit ex = MICROVM_EXIT_INIT;

		pthread_join(th[i], NULL);
		if (microvm_wait(vms[i], &ex) == 0 &&
		    ex.reason == MICROVM_EXIT_STOPPED)
			stopped++;
		else if (!why[0])
			snprintf(why, sizeof(why), "VM %u: %s: %s", i,
				 microvm_exit_reason_name(ex.reason),
				 ex.message);
		microvm_destroy(vms[i]);
	}
	after = sample_now();
	CHECK(created == n && started == n && stopped == n,
	      "parallel: %u VMs at once, each stopped from its own thread at "
	      "a random moment (%u created, %u started, %u stopped%s%s)",
	      n, created, started, stopped, why[0] ? "; " : "", why);
	CHECK(after.fds <= before.fds && after.threads <= before.threads,
	      "parallel: nothing left behind (fds %d -> %d, threads %d -> %d)",
	      before.fds, after.fds, before.threads, after.threads);
out:
	free(vms);
	free(st);
	free(th);
}

int main(int argc, char **argv)
{
	unsigned int serial = 1000, parallel = 20;
	long rss_bound = 2048;

	if (argc < 2) {
		fprintf(stderr,
			"usage: %s TINY_KERNEL [SERIAL [PARALLEL [RSS_KIB]]]\n",
			argv[0]);
		return 2;
	}
	if (argc > 2)
		serial = (unsigned int)strtoul(argv[2], NULL, 10);
	if (argc > 3)
		parallel = (unsigned int)strtoul(argv[3], NULL, 10);
	if (argc > 4)
		rss_bound = strtol(argv[4], NULL, 10);
	if (serial)
		serial_soak(argv[1], serial, rss_bound);
	if (parallel)
		parallel_soak(argv[1], parallel);
	return failures ? 1 : 0;
}
