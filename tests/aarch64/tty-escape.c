/*
 * tty-escape.c: runs `microvm run` on a pseudo-terminal inside the aarch64 rig (which has no
 * python or script(1)): the tiny guest echoes typed keys through the PL011, Ctrl-A Ctrl-A sends
 * one Ctrl-A, Ctrl-A x stops the VM (status 6), and the terminal mode comes back.
 *
 * Usage: tty-escape MICROVM TINY_IMAGE    prints "ok" or "FAIL: why"; exit status 0 or 1.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static char buf[65536];
static size_t used;

static void fail(const char *why)
{
	printf("FAIL: %s; output so far: ", why);
	for (size_t i = 0; i < used && i < 400; i++)
		putchar(buf[i] >= 32 && buf[i] < 127 ? buf[i] : '.');
	putchar('\n');
	exit(1);
}

/* Read from the master until `want` (which may hold NULs: len) shows up, or `secs` pass. */
static int wait_for(int fd, const char *want, size_t len, int secs)
{
	time_t end = time(NULL) + secs;

	while (time(NULL) < end) {
		struct pollfd p = {fd, POLLIN, 0};
		ssize_t n;

		if (memmem(buf, used, want, len))
			return 0;
		if (poll(&p, 1, 200) <= 0)
			continue;
		n = read(fd, buf + used, sizeof(buf) - 1 - used);
		if (n <= 0)
			return -1;
		used += (size_t)n;
	}
	return memmem(buf, used, want, len) ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct termios t;
	int m, status;
	pid_t pid;

	if (argc != 3) {
		fprintf(stderr, "usage: %s MICROVM TINY_IMAGE\n", argv[0]);
		return 2;
	}
	m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0)
		fail("no pseudo-terminal (is /dev/pts mounted?)");
	pid = fork();
	if (pid < 0)
		fail("fork");
	if (pid == 0) {
		int s;

		setsid();
		s = open(ptsname(m), O_RDWR);
		if (s < 0 || ioctl(s, TIOCSCTTY, 0) < 0)
			_exit(127);
		dup2(s, 0);
		dup2(s, 1);
		dup2(s, 2);
		close(m);
		execl(argv[1], argv[1], "run", "--kernel", argv[2], "--cmdline",
		      "tiny.mode=echo", (char *)NULL);
		_exit(127);
	}
	if (wait_for(m, "echo ready", 10, 60) < 0)
		fail("the guest never said 'echo ready'");
	if (tcgetattr(m, &t) < 0 || (t.c_lflag & (ICANON | ECHO)))
		fail("microvm did not put the terminal in raw mode");
	if (write(m, "hi\x01\x01there", 9) != 9)
		fail("write");
	if (wait_for(m, "hi\x01there", 8, 30) < 0)
		fail("the guest did not echo 'hi^Athere' (Ctrl-A Ctrl-A is one Ctrl-A)");
	if (write(m, "\x01x", 2) != 2)
		fail("write");
	for (int i = 0; i < 300; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		usleep(100000);
		if (i == 299) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			fail("microvm did not stop within 30 s of Ctrl-A x");
		}
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 6) {
		printf("FAIL: exit status %d (signal %d), want 6\n",
		       WIFEXITED(status) ? WEXITSTATUS(status) : -1,
		       WIFSIGNALED(status) ? WTERMSIG(status) : 0);
		return 1;
	}
	if (tcgetattr(m, &t) < 0 || !(t.c_lflag & ICANON) ||
	    !(t.c_lflag & ECHO))
		fail("the terminal mode was not restored");
	printf("ok\n");
	return 0;
}
