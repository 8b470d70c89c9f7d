/* sock-helper.c: static test helper for the L2 net, vsock and blk tests: echo servers, checked senders, refused connects over vsock, TCP and Unix sockets; BLKZEROOUT. */
/*
 * Runs in the guest (static, from the test's initramfs) and on the rig host.
 *
 *   sock-helper echo ADDR COUNT       serve COUNT connections at once, each
 *                                     echoing until EOF, then exit
 *   sock-helper send ADDR BYTES CONNS [RETRY_S]
 *                                     CONNS connections in parallel each send
 *                                     BYTES of a per-connection pattern, shut
 *                                     down writing and compare the echo; a
 *                                     failed connect is retried for RETRY_S
 *   sock-helper refused ADDR          the connect must be refused quickly
 *   sock-helper abuse fc:PATH:PORT ROUNDS
 *                                     misbehaving vsock host clients (see
 *                                     do_abuse); PORT runs an echo server
 *   sock-helper zeroout DEV OFF LEN   BLKZEROOUT on a block device (busybox
 *                                     has no tool that sends WRITE_ZEROES)
 *
 * ADDR: vsock:CID:PORT (CID "any" to listen), tcp:IP:PORT, unix:PATH, or
 * fc:PATH:PORT (a Unix socket speaking Firecracker's "CONNECT PORT\n",
 * "OK <n>\n" handshake first). Every result line starts with "SOCKH ".
 * Exit status 0 on success. The whole run is bounded by $SOCKH_TIMEOUT
 * seconds (default 120).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static unsigned int timeout_s = 120;

struct addr {
	struct sockaddr_storage ss;
	socklen_t len;
	int family;
	int fc_port; /* >= 0: Firecracker handshake */
};

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	/* One write per line: helpers run in parallel on one console. */
	memcpy(buf, "SOCKH ", 6);
	va_start(ap, fmt);
	n = vsnprintf(buf + 6, sizeof(buf) - 7, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	n += 6;
	if (n > (int)sizeof(buf) - 1)
		n = (int)sizeof(buf) - 1;
	buf[n++] = '\n';
	(void)!write(1, buf, (size_t)n);
}

static int parse_addr(const char *s, struct addr *a)
{
	char tmp[256], *p, *q;

	memset(a, 0, sizeof(*a));
	a->fc_port = -1;
	snprintf(tmp, sizeof(tmp), "%s", s);
	if (!strncmp(tmp, "vsock:", 6)) {
		struct sockaddr_vm *v = (struct sockaddr_vm *)&a->ss;

		p = tmp + 6;
		q = strchr(p, ':');
		if (!q)
			return -1;
		*q++ = 0;
		v->svm_family = AF_VSOCK;
		v->svm_cid = !strcmp(p, "any")
				     ? VMADDR_CID_ANY
				     : (unsigned int)strtoul(p, NULL, 0);
		v->svm_port = (unsigned int)strtoul(q, NULL, 0);
		a->len = sizeof(*v);
		a->family = AF_VSOCK;
		return 0;
	}
	if (!strncmp(tmp, "tcp:", 4)) {
		struct sockaddr_in *in = (struct sockaddr_in *)&a->ss;

		p = tmp + 4;
		q = strrchr(p, ':');
		if (!q)
			return -1;
		*q++ = 0;
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)atoi(q));
		if (inet_pton(AF_INET, p, &in->sin_addr) != 1)
			return -1;
		a->len = sizeof(*in);
		a->family = AF_INET;
		return 0;
	}
	if (!strncmp(tmp, "unix:", 5) || !strncmp(tmp, "fc:", 3)) {
		struct sockaddr_un *un = (struct sockaddr_un *)&a->ss;

		p = strchr(tmp, ':') + 1;
		if (tmp[0] == 'f') {
			q = strrchr(p, ':');
			if (!q)
				return -1;
			*q++ = 0;
			a->fc_port = atoi(q);
		}
		un->sun_family = AF_UNIX;
		snprintf(un->sun_path, sizeof(un->sun_path), "%s", p);
		a->len = sizeof(*un);
		a->family = AF_UNIX;
		return 0;
	}
	return -1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Byte `k` of connection `seed`'s stream: any offset, no period. */
static uint8_t pattern(uint64_t k, unsigned int seed)
{
	uint64_t x =
		(k >> 3) * 0x9e3779b97f4a7c15ull + seed * 0xbf58476d1ce4e5b9ull;

	x ^= x >> 31;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 29;
	return (uint8_t)(x >> (8 * (k & 7)));
}

/* Read one line ("OK 1073741824\n") byte by byte: nothing after it. */
static int read_line(int fd, char *buf, size_t len)
{
	size_t n = 0;

	while (n + 1 < len) {
		ssize_t r = read(fd, buf + n, 1);

		if (r <= 0)
			return -1;
		if (buf[n] == '\n') {
			buf[n] = 0;
			return 0;
		}
		n++;
	}
	return -1;
}

/* Connect (and shake hands); -errno on failure. */
static int open_conn(const struct addr *a)
{
	int fd = socket(a->family, SOCK_STREAM | SOCK_CLOEXEC, 0), e;
	char line[64];

	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)&a->ss, a->len) < 0) {
		e = -errno;
		close(fd);
		return e;
	}
	if (a->fc_port >= 0) {
		int n = snprintf(line, sizeof(line), "CONNECT %d\n",
				 a->fc_port);

		if (write(fd, line, (size_t)n) != n ||
		    read_line(fd, line, sizeof(line)) < 0 ||
		    strncmp(line, "OK ", 3) != 0) {
			close(fd);
			return -ECONNREFUSED;
		}
	}
	return fd;
}

static int echo_one(int fd)
{
	static char buf[65536];
	uint64_t total = 0;

	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf)), off = 0;

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			say("echo: read: %s after %llu bytes", strerror(errno),
			    (unsigned long long)total);
			return 1;
		}
		if (r == 0)
			break;
		while (off < r) {
			ssize_t w = write(fd, buf + off, (size_t)(r - off));

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				say("echo: write: %s", strerror(errno));
				return 1;
			}
			off += w;
		}
		total += (uint64_t)r;
	}
	shutdown(fd, SHUT_WR);
	/* Wait for the peer to close too. */
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
	say("echo: %llu bytes", (unsigned long long)total);
	return 0;
}

static int do_echo(const struct addr *a, int count)
{
	int one = 1, fd, bad = 0, st;

	fd = socket(a->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		say("echo: socket: %s", strerror(errno));
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (a->family == AF_UNIX)
		unlink(((const struct sockaddr_un *)&a->ss)->sun_path);
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0 ||
	    listen(fd, 64) < 0) {
		say("echo: bind/listen: %s", strerror(errno));
		return 1;
	}
	say("echo: listening");
	for (int i = 0; i < count; i++) {
		int c = accept(fd, NULL, NULL);

		if (c < 0) {
			if (errno == EINTR) {
				i--;
				continue;
			}
			say("echo: accept: %s", strerror(errno));
			return 1;
		}
		if (fork() == 0) {
			alarm(timeout_s);
			close(fd);
			_exit(echo_one(c));
		}
		close(c);
	}
	close(fd);
	while (wait(&st) > 0)
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			bad++;
	say("echo: %d connections, %d failed", count, bad);
	return bad ? 1 : 0;
}

/* One connection: send `bytes` of pattern `seed`, check the echo. */
static int send_one(const struct addr *a, uint64_t bytes, unsigned int seed,
		    double retry_s)
{
	static uint8_t out[65536], in[65536];
	double t0 = now_s();
	uint64_t sent = 0, got = 0;
	int fd;

	while ((fd = open_conn(a)) < 0) {
		if (now_s() - t0 > retry_s) {
			say("send %u: connect: %s", seed, strerror(-fd));
			return 1;
		}
		usleep(200000);
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	while (got < bytes || sent < bytes) {
		struct pollfd p = {fd, POLLIN | (sent < bytes ? POLLOUT : 0),
				   0};

		if (poll(&p, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		if (p.revents & POLLOUT) {
			size_t n = bytes - sent < sizeof(out) ? bytes - sent
							      : sizeof(out);
			ssize_t w;

			for (size_t i = 0; i < n; i++)
				out[i] = pattern(sent + i, seed);
			w = write(fd, out, n);
			if (w < 0 && errno != EAGAIN) {
				say("send %u: write: %s after %llu", seed,
				    strerror(errno), (unsigned long long)sent);
				return 1;
			}
			if (w > 0) {
				sent += (uint64_t)w;
				if (sent == bytes)
					shutdown(fd, SHUT_WR);
			}
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t r = read(fd, in, sizeof(in));

			if (r < 0 && errno == EAGAIN)
				continue;
			if (r <= 0) {
				say("send %u: %s after %llu of %llu bytes back",
				    seed, r ? strerror(errno) : "EOF",
				    (unsigned long long)got,
				    (unsigned long long)bytes);
				return 1;
			}
			for (ssize_t i = 0; i < r; i++) {
				if (got + (uint64_t)i >= bytes ||
				    in[i] != pattern(got + (uint64_t)i, seed)) {
					say("send %u: wrong byte at %llu", seed,
					    (unsigned long long)(got +
								 (uint64_t)i));
					return 1;
				}
			}
			got += (uint64_t)r;
		}
	}
	/* Everything came back: now the echo side must close. */
	fcntl(fd, F_SETFL, 0);
	if (read(fd, in, 1) != 0) {
		say("send %u: no EOF after the echo", seed);
		return 1;
	}
	close(fd);
	say("send %u: %llu bytes echoed in %.2fs", seed,
	    (unsigned long long)bytes, now_s() - t0);
	return 0;
}

static int do_send(const struct addr *a, uint64_t bytes, int conns,
		   double retry_s)
{
	int bad = 0, st;

	for (int i = 0; i < conns; i++)
		if (fork() == 0) {
			alarm(timeout_s);
			_exit(send_one(a, bytes, (unsigned int)i + 1, retry_s));
		}
	while (wait(&st) > 0)
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			bad++;
	say("send: %d connections of %llu bytes, %d failed", conns,
	    (unsigned long long)bytes, bad);
	return bad ? 1 : 0;
}

/* Connect to the Unix socket of an fc: address, without the handshake. */
static int open_raw(const struct addr *a)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd >= 0 &&
	    connect(fd, (const struct sockaddr *)&a->ss, a->len) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t w = write(fd, p, len);

		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Echo `len` bytes of pattern `seed` already sent (after shutdown(WR)). */
static int check_echo(int fd, size_t len, unsigned int seed)
{
	uint8_t buf[4096];
	size_t got = 0;
	ssize_t r;

	while ((r = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < r; i++)
			if (got + (size_t)i >= len ||
			    buf[i] != pattern(got + (size_t)i, seed))
				return -1;
		got += (size_t)r;
	}
	return r == 0 && got == len ? 0 : -1;
}

/*
 * Misbehaving host clients of the vsock device (fc: addresses only); the
 * VMM must survive them and keep serving: a bad line, a line in two
 * pieces, data in the same write as the line, a client that leaves in the
 * middle of a transfer and one that leaves before saying anything. Uses
 * three connections of the guest's echo server per round.
 */
static int do_abuse(const struct addr *a, int rounds)
{
	static uint8_t big[200000];
	char line[64];
	int fd, n, bad = 0;

	for (int round = 0; round < rounds; round++) {
		unsigned int seed = 100 + (unsigned int)round;
		uint8_t msg[64 + 1000];

		/* 1: not a CONNECT line: closed. */
		fd = open_raw(a);
		if (fd < 0 || write_all(fd, "HELLO 1\n", 8) < 0 ||
		    read(fd, line, sizeof(line)) != 0) {
			say("abuse %d: a bad line was not answered by a close",
			    round);
			bad++;
		}
		if (fd >= 0)
			close(fd);
		/* 2: the line in two pieces. */
		fd = open_raw(a);
		n = snprintf(line, sizeof(line), "ECT %d\n", a->fc_port);
		for (size_t i = 0; i < 1000; i++)
			msg[i] = pattern(i, seed);
		if (fd < 0 || write_all(fd, "CONN", 4) < 0 ||
		    usleep(100000) < 0 || write_all(fd, line, (size_t)n) < 0 ||
		    read_line(fd, line, sizeof(line)) < 0 ||
		    strncmp(line, "OK ", 3) || write_all(fd, msg, 1000) < 0 ||
		    shutdown(fd, SHUT_WR) < 0 ||
		    check_echo(fd, 1000, seed) < 0) {
			say("abuse %d: a CONNECT line in two pieces failed",
			    round);
			bad++;
		}
		if (fd >= 0)
			close(fd);
		/* 3: data in the same write as the line. */
		fd = open_raw(a);
		n = snprintf((char *)msg, 64, "CONNECT %d\n", a->fc_port);
		for (size_t i = 0; i < 1000; i++)
			msg[(size_t)n + i] = pattern(i, seed + 1000);
		if (fd < 0 || write_all(fd, msg, (size_t)n + 1000) < 0 ||
		    read_line(fd, line, sizeof(line)) < 0 ||
		    strncmp(line, "OK ", 3) || shutdown(fd, SHUT_WR) < 0 ||
		    check_echo(fd, 1000, seed + 1000) < 0) {
			say("abuse %d: data after the CONNECT line was lost",
			    round);
			bad++;
		}
		if (fd >= 0)
			close(fd);
		/* 4: leaves in the middle of a transfer. */
		fd = open_conn(a);
		if (fd >= 0) {
			fcntl(fd, F_SETFL, O_NONBLOCK);
			(void)!write(fd, big, sizeof(big));
			close(fd);
		}
		/* 5: leaves at once. */
		fd = open_raw(a);
		if (fd >= 0)
			close(fd);
	}
	say("abuse: %d rounds, %d failed", rounds, bad);
	return bad ? 1 : 0;
}

static int do_refused(const struct addr *a)
{
	double t0 = now_s();
	int fd = open_conn(a);
	double ms = (now_s() - t0) * 1000;

	if (fd >= 0) {
		say("refused: connected, expected a refusal");
		return 1;
	}
	say("refused: %s in %.0f ms", strerror(-fd), ms);
	/* A reset, not a timeout. */
	return fd == -ETIMEDOUT || ms > 1500 ? 1 : 0;
}

static int do_zeroout(const char *dev, uint64_t off, uint64_t len)
{
	uint64_t range[2] = {off, len};
	int fd = open(dev, O_RDWR | O_CLOEXEC);

	if (fd < 0 || ioctl(fd, BLKZEROOUT, range) < 0) {
		say("zeroout: %s: %s", dev, strerror(errno));
		return 1;
	}
	close(fd);
	say("zeroout: %llu bytes at %llu", (unsigned long long)len,
	    (unsigned long long)off);
	return 0;
}

int main(int argc, char **argv)
{
	const char *t = getenv("SOCKH_TIMEOUT");
	struct addr a;

	if (argc == 5 && !strcmp(argv[1], "zeroout"))
		return do_zeroout(argv[2], strtoull(argv[3], NULL, 0),
				  strtoull(argv[4], NULL, 0));

	signal(SIGPIPE, SIG_IGN);
	if (t)
		timeout_s = (unsigned int)atoi(t);
	alarm(timeout_s);
	if (argc < 3 || parse_addr(argv[2], &a) < 0) {
		fprintf(stderr, "usage: %s echo|send|refused ADDR ...\n",
			argv[0]);
		return 2;
	}
	if (!strcmp(argv[1], "echo") && argc == 4)
		return do_echo(&a, atoi(argv[3]));
	if (!strcmp(argv[1], "send") && (argc == 5 || argc == 6))
		return do_send(&a, strtoull(argv[3], NULL, 0), atoi(argv[4]),
			       argc == 6 ? atof(argv[5]) : 0);
	if (!strcmp(argv[1], "refused") && argc == 3)
		return do_refused(&a);
	if (!strcmp(argv[1], "abuse") && argc == 4 && a.fc_port >= 0)
		return do_abuse(&a, atoi(argv[3]));
	fprintf(stderr, "%s: bad arguments\n", argv[0]);
	return 2;
}
