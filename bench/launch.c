/* launch.c: bench-launch: starts one VMM run and measures it from the outside, the same way for every VMM (tracefs, /proc, wait4). */
/*
 * Usage:
 *   bench-launch [OPTIONS] -- CMD [ARGS...]     one measured run; JSON on stdout
 *     --label STR          copied into the JSON as "vmm"
 *     --log PATH           the VMM's stdout+stderr, each line prefixed with ms since launch
 *     --sample-at TEXT     when an output line contains TEXT: SIGSTOP the VMM, read
 *                          /proc/PID/{stat,smaps}, then SIGCONT it
 *     --kill-after-sample  SIGKILL the VMM after the sample instead (guests that never stop)
 *     --end-line TEXT      the output line that says the guest is powering off: teardown
 *                          is measured from there to the reaping of the process
 *     --ram-mib N          guest RAM in MiB: the mapping of that size is guest RAM and is
 *                          left out of the memory overhead
 *     --trace NAME         record with the tracefs instances NAME-first and NAME-exits
 *     --timeout S          SIGKILL the VMM after S seconds (default 600)
 *     --chroot DIR         the child chroots into DIR (and cd /) before launch is
 *                          taken: CMD and its paths are inside DIR (the aarch64 rig's
 *                          QEMU runs from an arm64 root, scripts/arm64-qemu-root.sh)
 *   bench-launch --trace-setup NAME [--trace-kvm-exit] [--buffer-kb N]
 *                          create and configure the instances; JSON says what exists
 *   bench-launch --trace-remove NAME
 *   bench-launch --repeat N [--cpu C] [--timeout S] -- CMD...
 *                          start/stop rate: N runs one after another, output discarded,
 *                          optionally pinned to CPU C; JSON with the wall time
 *
 * Launch is CLOCK_MONOTONIC taken in the child right before execve(). Tracefs uses
 * trace_clock "mono", the same clock, so trace timestamps and launch compare directly.
 * The tracefs root is $BENCH_TRACEFS, else /sys/kernel/tracing, else
 * /sys/kernel/debug/tracing.
 *
 * Instance NAME-first keeps only the oldest events (overwrite off, small buffer):
 * syscalls:sys_enter_ioctl filtered to KVM_RUN (the VMM's first KVM_RUN) and
 * kvm:kvm_entry (the first guest entry). Instance NAME-exits records
 * kvm:kvm_userspace_exit, kvm:kvm_pio (the init marker is the first write of 123 to
 * port 0x80; the others are counted by port) and,
 * with --trace-kvm-exit, kvm:kvm_exit. Both follow only the VMM's pid and its threads
 * (set_event_pid with event-fork). Exits are also counted up to the --sample-at line
 * (same clock): the one count every architecture and VMM has (arm64 has no port 0x80
 * marker, and QEMU's virt machine no boot-timer device).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KVM_RUN_CMD	"0xae80" /* _IO(KVMIO, 0x80) */
#define MARKER_VALUE	"0x7b" /* 123 */
#define MAX_REASONS	64
#define LINE_MAX_LEN	4096
#define RAM_SLACK_BYTES (4ull << 20)

static const char *prog = "bench-launch";

static void die(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double ms_since(int64_t t0, int64_t t)
{
	return (double)(t - t0) / 1e6;
}

/* ---- JSON output ---- */

struct json {
	FILE *f;
	bool first; /* no member written yet at this level */
};

static void json_key(struct json *j, const char *key)
{
	fprintf(j->f, "%s\n  \"%s\": ", j->first ? "" : ",", key);
	j->first = false;
}

static void json_str_raw(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void json_str(struct json *j, const char *key, const char *v)
{
	json_key(j, key);
	if (v)
		json_str_raw(j->f, v);
	else
		fputs("null", j->f);
}

static void json_num(struct json *j, const char *key, double v, bool valid)
{
	json_key(j, key);
	if (valid)
		fprintf(j->f, "%.3f", v);
	else
		fputs("null", j->f);
}

static void json_int(struct json *j, const char *key, long long v, bool valid)
{
	json_key(j, key);
	if (valid)
		fprintf(j->f, "%lld", v);
	else
		fputs("null", j->f);
}

static void json_bool(struct json *j, const char *key, bool v)
{
	json_key(j, key);
	fputs(v ? "true" : "false", j->f);
}

/* ---- tracefs ---- */

static char tracefs[256];

static bool find_tracefs(void)
{
	const char *cands[] = {getenv("BENCH_TRACEFS"), "/sys/kernel/tracing",
			       "/sys/kernel/debug/tracing"};
	char p[1024];

	for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++) {
		if (!cands[i] || !*cands[i])
			continue;
		snprintf(p, sizeof(p), "%s/instances", cands[i]);
		if (access(p, F_OK) == 0) {
			snprintf(tracefs, sizeof(tracefs), "%s", cands[i]);
			return true;
		}
	}
	return false;
}

static int tr_write(const char *inst, const char *file, const char *val)
{
	char p[1024];
	int fd, r = 0;
	size_t n = strlen(val);

	snprintf(p, sizeof(p), "%s/instances/%s/%s", tracefs, inst, file);
	fd = open(p, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (n == 0)
		n = 1, val = "\n";
	if (write(fd, val, n) != (ssize_t)n)
		r = -errno;
	close(fd);
	return r;
}

static bool tr_exists(const char *inst, const char *file)
{
	char p[1024];

	snprintf(p, sizeof(p), "%s/instances/%s/%s", tracefs, inst, file);
	return access(p, F_OK) == 0;
}

/* Enable EVENT (system/name) in INST with FILTER (or none); false if it does not exist. */
static bool tr_event(const char *inst, const char *event, const char *filter)
{
	char f[256];

	snprintf(f, sizeof(f), "events/%s/enable", event);
	if (!tr_exists(inst, f))
		return false;
	/* "0" clears a filter left by an earlier setup of the same instance. */
	snprintf(f, sizeof(f), "events/%s/filter", event);
	if (tr_write(inst, f, filter ? filter : "0") < 0)
		return false;
	snprintf(f, sizeof(f), "events/%s/enable", event);
	return tr_write(inst, f, "1") == 0;
}

static void tr_instance(const char *inst, const char *buffer_kb)
{
	char p[1024];

	snprintf(p, sizeof(p), "%s/instances/%s", tracefs, inst);
	if (mkdir(p, 0755) < 0 && errno != EEXIST)
		die("mkdir %s: %s", p, strerror(errno));
	if (tr_write(inst, "tracing_on", "0") < 0 ||
	    tr_write(inst, "trace_clock", "mono") < 0 ||
	    tr_write(inst, "buffer_size_kb", buffer_kb) < 0 ||
	    tr_write(inst, "options/overwrite", "0") < 0 ||
	    tr_write(inst, "options/event-fork", "1") < 0 ||
	    tr_write(inst, "trace", "") < 0)
		die("cannot configure tracefs instance %s", p);
	/* Not in every kernel; only for reading the trace by hand. */
	tr_write(inst, "options/record-tgid", "1");
}

static int trace_setup(const char *name, bool kvm_exit, const char *buffer_kb)
{
	char first[128], exits[128];
	bool run, entry, uexit, pio, kexit = false;

	if (!find_tracefs())
		die("no tracefs (mount -t tracefs nodev /sys/kernel/tracing)");
	snprintf(first, sizeof(first), "%s-first", name);
	snprintf(exits, sizeof(exits), "%s-exits", name);
	tr_instance(first, "64");
	tr_instance(exits, buffer_kb);
	run = tr_event(first, "syscalls/sys_enter_ioctl",
		       "cmd == " KVM_RUN_CMD);
	entry = tr_event(first, "kvm/kvm_entry", NULL);
	uexit = tr_event(exits, "kvm/kvm_userspace_exit", NULL);
	pio = tr_event(exits, "kvm/kvm_pio", NULL);
	if (kvm_exit)
		kexit = tr_event(exits, "kvm/kvm_exit", NULL);
	printf("{\"tracefs\": \"%s\", \"first_kvm_run\": %s, \"guest_entry\": "
	       "%s, "
	       "\"userspace_exits\": %s, \"marker\": %s, \"kvm_exit\": %s}\n",
	       tracefs, run ? "true" : "false", entry ? "true" : "false",
	       uexit ? "true" : "false", pio ? "true" : "false",
	       kexit ? "true" : "false");
	return 0;
}

static int trace_remove(const char *name)
{
	const char *sfx[] = {"-first", "-exits"};
	char p[1024];

	if (!find_tracefs())
		return 0;
	for (int i = 0; i < 2; i++) {
		char inst[128];

		snprintf(inst, sizeof(inst), "%s%s", name, sfx[i]);
		tr_write(inst, "tracing_on", "0");
		tr_write(inst, "events/enable", "0");
		snprintf(p, sizeof(p), "%s/instances/%s", tracefs, inst);
		if (rmdir(p) < 0 && errno != ENOENT)
			fprintf(stderr, "%s: rmdir %s: %s\n", prog, p,
				strerror(errno));
	}
	return 0;
}

static void trace_arm(const char *name, pid_t pid)
{
	const char *sfx[] = {"first", "exits"};
	char inst[128], pidstr[32];

	snprintf(pidstr, sizeof(pidstr), "%d", (int)pid);
	for (int i = 0; i < 2; i++) {
		snprintf(inst, sizeof(inst), "%s-%s", name, sfx[i]);
		if (tr_write(inst, "tracing_on", "0") < 0 ||
		    tr_write(inst, "trace", "") < 0 ||
		    tr_write(inst, "set_event_pid", pidstr) < 0 ||
		    tr_write(inst, "tracing_on", "1") < 0)
			die("cannot arm tracefs instance %s (run --trace-setup "
			    "first)",
			    inst);
	}
}

static void trace_disarm(const char *name)
{
	char inst[128];

	snprintf(inst, sizeof(inst), "%s-first", name);
	tr_write(inst, "tracing_on", "0");
	snprintf(inst, sizeof(inst), "%s-exits", name);
	tr_write(inst, "tracing_on", "0");
}

struct reason {
	char name[40];
	long long to_marker, total;
};

struct reasons {
	struct reason r[MAX_REASONS];
	int n;
	long long to_marker, to_line, total;
};

static void reason_add(struct reasons *rs, const char *name, bool pre,
		       bool pre_line)
{
	struct reason *r = NULL;

	for (int i = 0; i < rs->n; i++) {
		if (strcmp(rs->r[i].name, name) == 0) {
			r = &rs->r[i];
			break;
		}
	}
	if (!r && rs->n < MAX_REASONS) {
		r = &rs->r[rs->n++];
		snprintf(r->name, sizeof(r->name), "%s", name);
	}
	rs->total++;
	if (pre)
		rs->to_marker++;
	if (pre_line)
		rs->to_line++;
	if (r) {
		r->total++;
		if (pre)
			r->to_marker++;
	}
}

struct port_count {
	unsigned int port;
	long long to_marker;
};

#define MAX_PORTS 512

struct trace_result {
	bool have;
	struct port_count ports[MAX_PORTS];
	int nports;
	int64_t first_run, first_entry,
		marker; /* ns, CLOCK_MONOTONIC; 0: none */
	struct reasons uexit, kexit;
	long long dropped; /* events written but not in the exits buffer */
	long long marker_writes;
};

/*
 * One line of the text trace: "COMM-PID (TGID) [CPU] FLAGS SEC.USEC: EVENT: DETAILS".
 * Finds the timestamp (the first token "digits.digits:"), the event name and the rest.
 */
static bool parse_trace_line(char *line, int64_t *ts, char **event, char **rest)
{
	char *p = line, *tok, *dot, *end;

	if (*line == '#')
		return false;
	while (*p) {
		while (*p == ' ')
			p++;
		tok = p;
		while (*p && *p != ' ')
			p++;
		if (p - tok >= 4 && p[-1] == ':' &&
		    isdigit((unsigned char)*tok)) {
			dot = memchr(tok, '.', (size_t)(p - tok));
			if (dot && dot > tok) {
				long long s = strtoll(tok, &end, 10);
				long long us;
				int digits;

				if (end != dot)
					continue;
				us = strtoll(dot + 1, &end, 10);
				if (end != p - 1)
					continue;
				digits = (int)(end - dot - 1);
				while (digits < 9)
					us *= 10, digits++;
				*ts = s * 1000000000ll + us;
				while (*p == ' ')
					p++;
				*event = p;
				p = strchr(p, ':');
				if (!p)
					return false;
				*p++ = 0;
				while (*p == ' ')
					p++;
				*rest = p;
				return true;
			}
		}
	}
	return false;
}

/*
 * The word after "reason " in DETAILS (x86, kvm_userspace_exit), else arm64's
 * kvm_exit exception class ("TRAP: HSR_EC: 0x0024 (DABT_LOW), PC: ..."), into BUF.
 */
static void reason_of(const char *details, char *buf, size_t len)
{
	const char *p = strstr(details, "reason ");
	size_t n = 0;
	char end = ' ';

	if (p) {
		p += strlen("reason ");
	} else if ((p = strstr(details, "HSR_EC: ")) && (p = strchr(p, '('))) {
		p++;
		end = ')';
	} else {
		snprintf(buf, len, "unknown");
		return;
	}
	while (p[n] && p[n] != end && p[n] != ' ' && n + 1 < len)
		n++;
	memcpy(buf, p, n);
	buf[n] = 0;
}

static void port_add(struct trace_result *tr, unsigned int port)
{
	for (int i = 0; i < tr->nports; i++) {
		if (tr->ports[i].port == port) {
			tr->ports[i].to_marker++;
			return;
		}
	}
	if (tr->nports < MAX_PORTS) {
		tr->ports[tr->nports].port = port;
		tr->ports[tr->nports++].to_marker = 1;
	}
}

static int cmp_port(const void *a, const void *b)
{
	const struct port_count *x = a, *y = b;

	return (y->to_marker > x->to_marker) - (y->to_marker < x->to_marker);
}

static FILE *tr_open_trace(const char *inst)
{
	char p[1024];

	snprintf(p, sizeof(p), "%s/instances/%s/trace", tracefs, inst);
	return fopen(p, "re");
}

/* T_LINE: when the --sample-at line came (0: never); exits are also counted up to it. */
static void trace_collect(const char *name, struct trace_result *tr,
			  int64_t t_line)
{
	char inst[128], line[LINE_MAX_LEN], rbuf[40];
	FILE *f;
	int64_t ts;
	char *ev, *rest;
	bool pre = true;

	memset(tr, 0, sizeof(*tr));
	tr->have = true;
	snprintf(inst, sizeof(inst), "%s-first", name);
	f = tr_open_trace(inst);
	if (f) {
		while (fgets(line, sizeof(line), f)) {
			if (!parse_trace_line(line, &ts, &ev, &rest))
				continue;
			/* Syscall events print as "sys_ioctl(fd: ..., cmd: ...)". */
			if (!tr->first_run &&
			    (strncmp(ev, "sys_ioctl(", 10) == 0 ||
			     strcmp(ev, "sys_enter_ioctl") == 0))
				tr->first_run = ts;
			else if (!tr->first_entry &&
				 strcmp(ev, "kvm_entry") == 0)
				tr->first_entry = ts;
		}
		fclose(f);
	}
	snprintf(inst, sizeof(inst), "%s-exits", name);
	f = tr_open_trace(inst);
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		long long inbuf, written;

		if (sscanf(line,
			   "# entries-in-buffer/entries-written: %lld/%lld",
			   &inbuf, &written) == 2) {
			tr->dropped = written - inbuf;
			continue;
		}
		if (!parse_trace_line(line, &ts, &ev, &rest))
			continue;
		if (strcmp(ev, "kvm_pio") == 0) {
			/* "pio_write at 0x80 size 1 count 1 val 0x7b" */
			const char *at = strstr(rest, " at 0x");
			unsigned int port =
				at ? (unsigned int)strtoul(at + 4, NULL, 16)
				   : 0xffffffffu;

			if (port == 0x80)
				tr->marker_writes++;
			if (pre && port == 0x80 && strstr(rest, "write") &&
			    strstr(rest, "val " MARKER_VALUE)) {
				tr->marker = ts;
				pre = false;
			}
			if (pre && at)
				port_add(tr, port);
		} else if (strcmp(ev, "kvm_userspace_exit") == 0) {
			/* "reason KVM_EXIT_IO (2)" */
			reason_of(rest, rbuf, sizeof(rbuf));
			if (strncmp(rbuf, "KVM_EXIT_", 9) == 0)
				memmove(rbuf, rbuf + 9, strlen(rbuf + 9) + 1);
			for (char *c = rbuf; *c; c++)
				*c = (char)tolower((unsigned char)*c);
			reason_add(&tr->uexit, rbuf, pre,
				   t_line && ts <= t_line);
		} else if (strcmp(ev, "kvm_exit") == 0) {
			reason_of(rest, rbuf, sizeof(rbuf));
			reason_add(&tr->kexit, rbuf, pre,
				   t_line && ts <= t_line);
		}
	}
	fclose(f);
}

static void json_reasons(struct json *j, const char *key,
			 const struct reasons *rs, bool to_marker)
{
	json_key(j, key);
	fputc('{', j->f);
	for (int i = 0; i < rs->n; i++)
		fprintf(j->f, "%s\"%s\": %lld", i ? ", " : "", rs->r[i].name,
			to_marker ? rs->r[i].to_marker : rs->r[i].total);
	fputc('}', j->f);
}

/* ---- /proc sampling ---- */

#define TOP_MAPS 6

struct mapping {
	unsigned long long size;
	long long rss, private_kib, huge_kib;
	char name[160];
};

struct sample {
	bool have;
	struct mapping top[TOP_MAPS + 1]; /* by Rss, guest RAM included */
	int64_t at;
	long long utime, stime, guest; /* clock ticks */
	long long threads;
	long long rss_kib, pss_kib, ram_rss_kib, private_kib, ram_private_kib;
	/* Of guest RAM, mapped by PMD-sized (huge) pages. */
	long long ram_huge_kib;
	long long ram_size_kib, nmaps;
	char ram_name[160];
};

static bool read_stat(pid_t pid, struct sample *s)
{
	char p[64], buf[4096], *c;
	FILE *f;
	size_t n;
	int field = 2;
	long long v;

	snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
	f = fopen(p, "re");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* Fields after the command name "(...)", which may contain anything. */
	c = strrchr(buf, ')');
	if (!c)
		return false;
	c++;
	while (*c) {
		while (*c == ' ')
			c++;
		if (!*c)
			break;
		field++;
		v = strtoll(c, &c, 10);
		if (field == 14)
			s->utime = v;
		else if (field == 15)
			s->stime = v;
		else if (field == 20)
			s->threads = v;
		else if (field == 43)
			s->guest = v;
		while (*c && *c != ' ')
			c++;
	}
	return field >= 43;
}

static void top_add(struct mapping *top, const struct mapping *m)
{
	int i = TOP_MAPS;

	if (m->rss <= top[TOP_MAPS].rss)
		return;
	while (i > 0 && top[i - 1].rss < m->rss) {
		top[i] = top[i - 1];
		i--;
	}
	top[i] = *m;
}

static bool read_smaps(pid_t pid, struct sample *s,
		       unsigned long long ram_bytes)
{
	char p[64], line[1024];
	FILE *f;
	struct mapping cur = {0}, ram = {0};
	bool in = false;
	long long v;

	snprintf(p, sizeof(p), "/proc/%d/smaps", (int)pid);
	f = fopen(p, "re");
	if (!f)
		return false;
		/* The guest RAM mapping: RAM-sized (a little slack for guard pages), most resident. */
#define CLOSE_MAPPING()                                        \
	do {                                                   \
		if (in)                                        \
			top_add(s->top, &cur);                 \
		if (in && cur.size >= ram_bytes &&             \
		    cur.size <= ram_bytes + RAM_SLACK_BYTES && \
		    (ram.size == 0 || cur.rss > ram.rss))      \
			ram = cur;                             \
	} while (0)
	while (fgets(line, sizeof(line), f)) {
		unsigned long long a, b;
		int off = 0;

		if (sscanf(line, "%llx-%llx %*s %*s %*s %*s%n", &a, &b, &off) ==
			    2 &&
		    off > 0) {
			char *name = line + off;

			CLOSE_MAPPING();
			memset(&cur, 0, sizeof(cur));
			in = true;
			cur.size = b - a;
			while (*name == ' ')
				name++;
			name[strcspn(name, "\n")] = 0;
			snprintf(cur.name, sizeof(cur.name), "%s",
				 *name ? name : "[anon]");
			s->nmaps++;
		} else if (sscanf(line, "Rss: %lld kB", &v) == 1) {
			cur.rss = v;
			s->rss_kib += v;
		} else if (sscanf(line, "Pss: %lld kB", &v) == 1) {
			s->pss_kib += v;
		} else if (sscanf(line, "Private_Clean: %lld kB", &v) == 1 ||
			   sscanf(line, "Private_Dirty: %lld kB", &v) == 1) {
			cur.private_kib += v;
			s->private_kib += v;
		} else if (sscanf(line, "AnonHugePages: %lld kB", &v) == 1 ||
			   sscanf(line, "ShmemPmdMapped: %lld kB", &v) == 1 ||
			   sscanf(line, "FilePmdMapped: %lld kB", &v) == 1) {
			cur.huge_kib += v;
		}
	}
	CLOSE_MAPPING();
#undef CLOSE_MAPPING
	fclose(f);
	if (ram.size) {
		s->ram_rss_kib = ram.rss;
		s->ram_private_kib = ram.private_kib;
		s->ram_huge_kib = ram.huge_kib;
		s->ram_size_kib = (long long)(ram.size >> 10);
		snprintf(s->ram_name, sizeof(s->ram_name), "%s", ram.name);
	}
	return ram.size != 0;
}

/* ---- one run ---- */

struct opts {
	const char *label, *log, *sample_at, *end_line, *trace, *chroot;
	bool kill_after_sample;
	unsigned long long ram_bytes;
	int timeout_s;
	char **cmd;
};

struct run {
	pid_t pid;
	int64_t t0, t_sample_line, t_end_line, t_exit, paused_ns;
	int status;
	bool reaped, timed_out, exec_failed, sample_failed;
	struct rusage ru;
	struct sample smp;
	long long lines;
};

/* Fork CMD with stdout+stderr on *OUT; returns once it has exec'd (t0 set). */
static void spawn(struct opts *o, struct run *r, int *out, bool quiet)
{
	int go[2], tp[2], op[2] = {-1, -1};
	char c = 'g';
	int64_t t0;
	int err;
	ssize_t n;

	if (pipe2(go, O_CLOEXEC) < 0 || pipe2(tp, O_CLOEXEC) < 0 ||
	    (!quiet && pipe2(op, O_CLOEXEC) < 0))
		die("pipe: %s", strerror(errno));
	r->pid = fork();
	if (r->pid < 0)
		die("fork: %s", strerror(errno));
	if (r->pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(quiet ? null : op[1], 1);
		dup2(quiet ? null : op[1], 2);
		if (read(go[0], &c, 1) != 1)
			_exit(127);
		if (o->chroot && (chroot(o->chroot) < 0 || chdir("/") < 0)) {
			err = errno;
			t0 = now_ns();
			if (write(tp[1], &t0, sizeof(t0)) == sizeof(t0) &&
			    write(tp[1], &err, sizeof(err)) < 0)
				_exit(127);
			_exit(127);
		}
		t0 = now_ns();
		if (write(tp[1], &t0, sizeof(t0)) != sizeof(t0))
			_exit(127);
		execvp(o->cmd[0], o->cmd);
		err = errno;
		if (write(tp[1], &err, sizeof(err)) < 0)
			_exit(127);
		_exit(127);
	}
	close(go[0]);
	close(tp[1]);
	if (!quiet)
		close(op[1]);
	if (o->trace)
		trace_arm(o->trace, r->pid);
	if (write(go[1], &c, 1) != 1)
		die("cannot start the child: %s", strerror(errno));
	close(go[1]);
	if (read(tp[0], &r->t0, sizeof(r->t0)) != sizeof(r->t0))
		die("the child died before exec");
	n = read(tp[0], &err, sizeof(err));
	close(tp[0]);
	if (n == sizeof(err)) {
		r->exec_failed = true;
		fprintf(stderr, "%s: exec %s%s%s: %s\n", prog,
			o->chroot ? o->chroot : "",
			o->chroot ? " (chroot) " : "", o->cmd[0],
			strerror(err));
	}
	*out = op[0];
}

static void take_sample(struct opts *o, struct run *r)
{
	int st;
	int64_t t_stop;
	pid_t w;

	t_stop = now_ns();
	if (kill(r->pid, SIGSTOP) < 0) {
		r->sample_failed = true;
		return;
	}
	do
		w = waitpid(r->pid, &st, WUNTRACED);
	while (w < 0 && errno == EINTR);
	if (w != r->pid)
		die("waitpid: %s", strerror(errno));
	if (!WIFSTOPPED(st)) {
		/* It ended before it could be stopped. */
		r->status = st;
		r->reaped = true;
		r->t_exit = now_ns();
		r->sample_failed = true;
		return;
	}
	r->smp.at = t_stop;
	r->smp.have = read_stat(r->pid, &r->smp) &&
		      read_smaps(r->pid, &r->smp, o->ram_bytes);
	if (!r->smp.have)
		r->sample_failed = true;
	if (o->kill_after_sample) {
		kill(r->pid, SIGKILL);
	} else {
		kill(r->pid, SIGCONT);
	}
	r->paused_ns = now_ns() - t_stop;
}

static void handle_line(struct opts *o, struct run *r, FILE *log, char *line,
			int64_t t)
{
	size_t n = strlen(line);

	while (n && (line[n - 1] == '\r' || line[n - 1] == '\n'))
		line[--n] = 0;
	r->lines++;
	if (log)
		fprintf(log, "%.3f %s\n", ms_since(r->t0, t), line);
	if (o->sample_at && !r->t_sample_line && strstr(line, o->sample_at)) {
		r->t_sample_line = t;
		take_sample(o, r);
	}
	if (o->end_line && !r->t_end_line && strstr(line, o->end_line))
		r->t_end_line = t;
}

static void reap(struct run *r, int options)
{
	pid_t w;

	do
		w = wait4(r->pid, &r->status, options, &r->ru);
	while (w < 0 && errno == EINTR);
	if (w == r->pid) {
		r->reaped = true;
		r->t_exit = now_ns();
	}
}

/*
 * Reap, SIGKILLing the VMM at `deadline` (ns): one that hangs costs the
 * run its timeout, not the whole benchmark (it then counts as a signal).
 * Blocks in poll(2) on a pidfd, so it takes no CPU from the VMM it shares
 * a pinned CPU with.
 */
static void reap_by(struct run *r, int64_t deadline)
{
	int pfd = (int)syscall(SYS_pidfd_open, r->pid, 0);
	struct pollfd p = {.fd = pfd, .events = POLLIN};

	while (pfd >= 0) {
		int64_t left = deadline - now_ns();

		if (left <= 0) {
			kill(r->pid, SIGKILL);
			break;
		}
		if (poll(&p, 1, (int)(left / 1000000) + 1) > 0)
			break;
	}
	if (pfd >= 0)
		close(pfd);
	reap(r, 0);
}

static void status_json(struct json *j, int st)
{
	if (WIFEXITED(st)) {
		json_int(j, "exit_status", WEXITSTATUS(st), true);
		json_int(j, "signal", 0, false);
	} else {
		json_int(j, "exit_status", 0, false);
		json_int(j, "signal", WIFSIGNALED(st) ? WTERMSIG(st) : 0, true);
	}
}

static int run_once(struct opts *o)
{
	struct run r = {0};
	struct trace_result tr = {0};
	char buf[LINE_MAX_LEN], line[LINE_MAX_LEN];
	size_t len = 0;
	int out;
	FILE *log = NULL;
	int64_t deadline;
	struct json j = {stdout, true};
	long hz = sysconf(_SC_CLK_TCK);

	if (o->log) {
		log = fopen(o->log, "we");
		if (!log)
			die("%s: %s", o->log, strerror(errno));
	}
	spawn(o, &r, &out, false);
	deadline = r.t0 + (int64_t)o->timeout_s * 1000000000;
	for (;;) {
		struct pollfd pfd = {out, POLLIN, 0};
		int64_t left = deadline - now_ns();
		ssize_t n;

		if (left <= 0) {
			r.timed_out = true;
			kill(r.pid, SIGKILL);
			break;
		}
		if (poll(&pfd, 1, (int)(left / 1000000) + 1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll: %s", strerror(errno));
		}
		if (!pfd.revents)
			continue;
		n = read(out, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n' || len == sizeof(line) - 1) {
				line[len] = 0;
				handle_line(o, &r, log, line, now_ns());
				len = 0;
				if (buf[i] == '\n')
					continue;
			}
			line[len++] = buf[i];
		}
	}
	if (len) {
		line[len] = 0;
		handle_line(o, &r, log, line, now_ns());
	}
	close(out);
	if (!r.reaped)
		reap(&r, 0);
	if (log)
		fclose(log);
	if (o->trace) {
		trace_disarm(o->trace);
		trace_collect(o->trace, &tr, r.t_sample_line);
	}

	fputc('{', stdout);
	json_str(&j, "vmm", o->label);
	json_int(&j, "pid", r.pid, true);
	json_num(&j, "launch_mono_s", (double)r.t0 / 1e9, true);
	status_json(&j, r.status);
	json_bool(&j, "timed_out", r.timed_out);
	json_bool(&j, "exec_failed", r.exec_failed);
	json_int(&j, "output_lines", r.lines, true);
	/* Milliseconds since launch. */
	json_num(&j, "first_kvm_run_ms", ms_since(r.t0, tr.first_run),
		 tr.first_run != 0);
	json_num(&j, "guest_entry_ms", ms_since(r.t0, tr.first_entry),
		 tr.first_entry != 0);
	json_num(&j, "init_marker_ms", ms_since(r.t0, tr.marker),
		 tr.marker != 0);
	json_num(&j, "sample_line_ms", ms_since(r.t0, r.t_sample_line),
		 r.t_sample_line != 0);
	json_num(&j, "end_line_ms", ms_since(r.t0, r.t_end_line),
		 r.t_end_line != 0);
	json_num(&j, "exit_ms", ms_since(r.t0, r.t_exit), r.reaped);
	json_num(&j, "paused_ms", (double)r.paused_ns / 1e6, true);
	/* The SIGSTOP pause happened before the guest's power-off line. */
	json_num(&j, "launch_to_exit_ms",
		 ms_since(r.t0, r.t_exit) - (double)r.paused_ns / 1e6,
		 r.reaped && !o->kill_after_sample);
	json_num(&j, "teardown_ms", ms_since(r.t_end_line, r.t_exit),
		 r.reaped && r.t_end_line && !o->kill_after_sample);
	json_num(&j, "rusage_cpu_ms",
		 (double)(r.ru.ru_utime.tv_sec + r.ru.ru_stime.tv_sec) * 1e3 +
			 (double)(r.ru.ru_utime.tv_usec +
				  r.ru.ru_stime.tv_usec) /
				 1e3,
		 r.reaped);
	json_int(&j, "max_rss_kib", r.ru.ru_maxrss, r.reaped);
	/* /proc/PID/stat and smaps while the VMM was stopped at the sample line. */
	json_bool(&j, "sampled", r.smp.have);
	json_num(&j, "cpu_user_ms", (double)r.smp.utime * 1e3 / (double)hz,
		 r.smp.have);
	json_num(&j, "cpu_system_ms", (double)r.smp.stime * 1e3 / (double)hz,
		 r.smp.have);
	json_num(&j, "cpu_guest_ms", (double)r.smp.guest * 1e3 / (double)hz,
		 r.smp.have);
	json_num(&j, "vmm_cpu_ms",
		 (double)(r.smp.utime + r.smp.stime - r.smp.guest) * 1e3 /
			 (double)hz,
		 r.smp.have);
	json_int(&j, "cpu_tick_hz", hz, true);
	json_int(&j, "threads", r.smp.threads, r.smp.have);
	json_int(&j, "rss_kib", r.smp.rss_kib, r.smp.have);
	json_int(&j, "guest_ram_rss_kib", r.smp.ram_rss_kib, r.smp.have);
	/* AnonHugePages + ShmemPmdMapped + FilePmdMapped of the guest RAM mapping. */
	json_int(&j, "guest_ram_huge_kib", r.smp.ram_huge_kib, r.smp.have);
	json_int(&j, "overhead_rss_kib", r.smp.rss_kib - r.smp.ram_rss_kib,
		 r.smp.have);
	json_int(&j, "overhead_pss_kib", r.smp.pss_kib - r.smp.ram_rss_kib,
		 r.smp.have);
	json_int(&j, "overhead_private_kib",
		 r.smp.private_kib - r.smp.ram_private_kib, r.smp.have);
	json_int(&j, "mappings", r.smp.nmaps, r.smp.have);
	json_int(&j, "guest_ram_mapping_kib", r.smp.ram_size_kib, r.smp.have);
	json_str(&j, "guest_ram_mapping", r.smp.have ? r.smp.ram_name : NULL);
	/* The largest resident mappings besides guest RAM: where the overhead lives. */
	json_key(&j, "top_overhead_mappings");
	fputc('[', stdout);
	for (int i = 0, k = 0; r.smp.have && i <= TOP_MAPS; i++) {
		const struct mapping *m = &r.smp.top[i];

		if (!m->rss ||
		    (m->size >> 10 == (unsigned long long)r.smp.ram_size_kib &&
		     strcmp(m->name, r.smp.ram_name) == 0 &&
		     m->rss == r.smp.ram_rss_kib))
			continue;
		if (k++ == TOP_MAPS - 1)
			break;
		fprintf(stdout, "%s{\"name\": ", k > 1 ? ", " : "");
		json_str_raw(stdout, m->name);
		fprintf(stdout, ", \"size_kib\": %llu, \"rss_kib\": %lld}",
			m->size >> 10, m->rss);
	}
	fputc(']', stdout);
	/* Trace counts; "to_marker" counts stop at the first port-0x80 write of 123. */
	json_bool(&j, "traced", tr.have);
	json_int(&j, "trace_dropped", tr.dropped, tr.have);
	json_int(&j, "port80_writes", tr.marker_writes, tr.have);
	json_int(&j, "userspace_exits_to_marker", tr.uexit.to_marker,
		 tr.have && tr.marker);
	json_int(&j, "userspace_exits_total", tr.uexit.total, tr.have);
	json_int(&j, "userspace_exits_to_init_line", tr.uexit.to_line,
		 tr.have && r.t_sample_line);
	json_reasons(&j, "userspace_exits_by_reason_to_marker", &tr.uexit,
		     true);
	/* Port I/O (in-kernel or not) until the marker: the busiest ports. */
	qsort(tr.ports, (size_t)tr.nports, sizeof(tr.ports[0]), cmp_port);
	json_key(&j, "pio_by_port_to_marker");
	fputc('{', stdout);
	for (int i = 0; i < tr.nports && i < 12; i++)
		fprintf(stdout, "%s\"0x%x\": %lld", i ? ", " : "",
			tr.ports[i].port, tr.ports[i].to_marker);
	fputc('}', stdout);
	json_int(&j, "kvm_exits_to_marker", tr.kexit.to_marker,
		 tr.have && tr.marker && tr.kexit.total);
	json_int(&j, "kvm_exits_total", tr.kexit.total,
		 tr.have && tr.kexit.total);
	json_reasons(&j, "kvm_exits_by_reason_to_marker", &tr.kexit, true);
	json_int(&j, "kvm_exits_to_init_line", tr.kexit.to_line,
		 tr.have && r.t_sample_line && tr.kexit.total);
	fputs("\n}\n", stdout);
	return r.timed_out || r.exec_failed ? 1 : 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Start/stop rate: N runs in a row, output discarded. */
static int run_repeat(struct opts *o, int n, int cpu)
{
	double *ms = calloc((size_t)n, sizeof(double));
	int statuses[256] = {0}, other = 0;
	int64_t start, end;
	struct json j = {stdout, true};
	bool bad = false;

	if (!ms)
		die("out of memory");
	if (cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) < 0)
			die("sched_setaffinity(%d): %s", cpu, strerror(errno));
	}
	start = now_ns();
	for (int i = 0; i < n; i++) {
		struct run r = {0};
		int out;

		spawn(o, &r, &out, true);
		reap_by(&r, r.t0 + (int64_t)o->timeout_s * 1000000000);
		if (r.exec_failed)
			bad = true;
		ms[i] = ms_since(r.t0, r.t_exit);
		if (WIFEXITED(r.status))
			statuses[WEXITSTATUS(r.status)]++;
		else
			other++;
	}
	end = now_ns();
	fputc('{', stdout);
	json_str(&j, "vmm", o->label);
	json_int(&j, "runs", n, true);
	json_int(&j, "cpu", cpu, cpu >= 0);
	json_num(&j, "wall_ms", ms_since(start, end), true);
	json_num(&j, "vms_per_s", n / ((double)(end - start) / 1e9), true);
	json_key(&j, "launch_to_exit_ms");
	fputc('[', stdout);
	for (int i = 0; i < n; i++)
		printf("%s%.3f", i ? ", " : "", ms[i]);
	fputc(']', stdout);
	qsort(ms, (size_t)n, sizeof(double), cmp_double);
	json_num(&j, "median_ms",
		 n % 2 ? ms[n / 2] : (ms[n / 2 - 1] + ms[n / 2]) / 2, n > 0);
	json_key(&j, "exit_statuses");
	fputc('{', stdout);
	for (int s = 0, k = 0; s < 256; s++)
		if (statuses[s])
			printf("%s\"%d\": %d", k++ ? ", " : "", s, statuses[s]);
	if (other)
		printf("%s\"signal\": %d", n > other ? ", " : "", other);
	fputc('}', stdout);
	fputs("\n}\n", stdout);
	free(ms);
	return bad ? 1 : 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: %s [--label S] [--log P] [--sample-at TEXT] "
		"[--kill-after-sample]\n"
		"          [--end-line TEXT] [--ram-mib N] [--trace NAME] "
		"[--timeout S] [--chroot DIR] -- CMD...\n"
		"       %s --trace-setup NAME [--trace-kvm-exit] [--buffer-kb "
		"N]\n"
		"       %s --trace-remove NAME\n"
		"       %s --repeat N [--cpu C] -- CMD...\n",
		prog, prog, prog, prog);
	exit(2);
}

int main(int argc, char **argv)
{
	struct opts o = {.label = "vmm", .timeout_s = 600};
	const char *setup = NULL, *remove = NULL, *buffer_kb = "16384";
	bool kvm_exit = false;
	int repeat = 0, cpu = -1, i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--") == 0) {
			i++;
			break;
		} else if (strcmp(a, "--kill-after-sample") == 0) {
			o.kill_after_sample = true;
			continue;
		} else if (strcmp(a, "--trace-kvm-exit") == 0) {
			kvm_exit = true;
			continue;
		}
		if (!v)
			usage();
		if (strcmp(a, "--label") == 0)
			o.label = v;
		else if (strcmp(a, "--log") == 0)
			o.log = v;
		else if (strcmp(a, "--sample-at") == 0)
			o.sample_at = v;
		else if (strcmp(a, "--end-line") == 0)
			o.end_line = v;
		else if (strcmp(a, "--ram-mib") == 0)
			o.ram_bytes = strtoull(v, NULL, 0) << 20;
		else if (strcmp(a, "--trace") == 0)
			o.trace = v;
		else if (strcmp(a, "--chroot") == 0)
			o.chroot = v;
		else if (strcmp(a, "--timeout") == 0)
			o.timeout_s = atoi(v);
		else if (strcmp(a, "--trace-setup") == 0)
			setup = v;
		else if (strcmp(a, "--trace-remove") == 0)
			remove = v;
		else if (strcmp(a, "--buffer-kb") == 0)
			buffer_kb = v;
		else if (strcmp(a, "--repeat") == 0)
			repeat = atoi(v);
		else if (strcmp(a, "--cpu") == 0)
			cpu = atoi(v);
		else
			usage();
		i++;
	}
	if (setup)
		return trace_setup(setup, kvm_exit, buffer_kb);
	if (remove)
		return trace_remove(remove);
	if (i >= argc)
		usage();
	o.cmd = argv + i;
	if (o.trace && !find_tracefs())
		die("--trace: no tracefs");
	if (o.sample_at && !o.ram_bytes)
		die("--sample-at needs --ram-mib");
	if (o.timeout_s <= 0)
		o.timeout_s = 600;
	/* A VMM that dies must not take us with it through SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	if (repeat > 0)
		return run_repeat(&o, repeat, cpu);
	return run_once(&o);
}
