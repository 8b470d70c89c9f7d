/*
 * embed.c: the smallest useful libmicrovm embedder. Boots KERNEL with an
 * optional command line, the guest's console on our stdout, and waits.
 *
 *   cc embed.c $(pkg-config --cflags --libs microvm) -o embed
 *   ./embed bzImage "console=ttyS0 panic=-1"
 *
 * Exit status: 0 if the guest powered off, 1 otherwise (the reason and
 * libmicrovm's message go to stderr).
 */
#include <stdio.h>
#include <string.h>

#include <microvm.h>

static void log_line(void *opaque, enum microvm_log_level level,
		     const char *dev, const char *msg)
{
	(void)opaque;
	(void)level;
	fprintf(stderr, "libmicrovm: %s: %s\n", dev, msg);
}

int main(int argc, char **argv)
{
	struct microvm_config cfg;
	struct microvm_exit ex = MICROVM_EXIT_INIT;
	struct microvm *vm;
	int r;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s KERNEL [CMDLINE]\n", argv[0]);
		return 2;
	}
	microvm_config_init(&cfg);
	cfg.kernel = argv[1];
	if (argc == 3)
		cfg.cmdline = argv[2];
	cfg.console = MICROVM_CONSOLE_FDS;
	cfg.console_in_fd = -1; /* no input */
	cfg.console_out_fd = 1;
	cfg.log_fn = log_line;

	r = microvm_create(&cfg, &vm);
	if (r < 0) {
		fprintf(stderr, "microvm_create: %s\n", strerror(-r));
		return 1;
	}
	r = microvm_start(vm);
	if (r == 0)
		r = microvm_wait(vm, &ex);
	if (r < 0) {
		fprintf(stderr, "start/wait: %s\n", strerror(-r));
		microvm_destroy(vm);
		return 1;
	}
	fprintf(stderr, "embed: libmicrovm %s: the VM stopped: %s (%s)\n",
		microvm_version(), microvm_exit_reason_name(ex.reason),
		ex.message);
	microvm_destroy(vm);
	return ex.reason == MICROVM_EXIT_POWEROFF ? 0 : 1;
}
