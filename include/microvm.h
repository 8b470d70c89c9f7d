/* microvm.h: the public embedding API of libmicrovm (the only public header). */
#ifndef MICROVM_H
#define MICROVM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * libmicrovm is built with hidden visibility and a version script: only
 * what this header declares is exported (libmicrovm.so.0, version node
 * MICROVM_0).
 */
#pragma GCC visibility push(default)

#define MICROVM_MUST_CHECK __attribute__((warn_unused_result))

/*
 * Threads. Every call may come from any thread; VMs are independent of
 * each other. For one VM:
 * - microvm_stop(), microvm_poll(), microvm_exit_fd(), microvm_wait(),
 *   microvm_console_set_size() and the read-only queries (device count
 *   and info, topology and timings JSON, vCPU tids once started) may run
 *   concurrently with each other and with the VM running; several threads
 *   may wait at once.
 * - microvm_start() once, after microvm_create() returned.
 * - microvm_destroy() once, when no other call on that VM is in progress
 *   or will be made; it stops and joins a running VM itself.
 * - cfg.log_fn runs on library threads, on several at once, perhaps with
 *   a library lock held: it should only record the message and call
 *   nothing of ours. cfg.on_exit runs with no lock held: from it call only
 *   stop, poll, exit_fd and the queries, never wait or destroy.
 * - microvm_config_init(), microvm_plan(), microvm_vfio_check(),
 *   microvm_version() and microvm_exit_reason_name() touch no VM.
 */

struct microvm;

/* A virtio-blk disk (--disk PATH[,ro][,id=NAME]). */
struct microvm_disk {
	const char *path; /* raw file or block device */
	bool readonly; /* guest writes fail with an I/O error */
	const char *id; /* serial the guest reads (GET_ID); NULL: none */
};

/* A virtio-net device on a tap interface (--net tap=NAME[,mac=MAC]). */
struct microvm_net {
	const char *tap; /* existing tap interface, or one we may create */
	uint8_t mac[6];
	bool mac_set; /* false: a locally administered MAC is derived */
};

/* virtio-vsock (--vsock cid=N,uds=PATH[,vhost=on]). */
struct microvm_vsock {
	uint32_t guest_cid; /* >= 3 */
	const char *uds; /* host side: PATH and PATH_<port> */
	bool vhost; /* use /dev/vhost-vsock instead (uds unused) */
};

/*
 * A host PCI device passed through with VFIO (--vfio BDF[,id=NAME]): it
 * must be bound to vfio-pci with every other device of its IOMMU group
 * (docs/vfio.md); microvm_vfio_check() says what is missing.
 */
struct microvm_vfio {
	const char *bdf; /* "0000:17:00.0" or "17:00.0" (segment 0) */
	const char *id; /* its name in the topology; NULL: "vfio<N>" */
};

/* The DMA back-end for cfg.vfio devices (cfg.vfio_iommu; docs/vfio.md). */
enum microvm_vfio_iommu {
	/* iommufd where /dev/iommu and every device's VFIO cdev exist, else legacy */
	MICROVM_VFIO_IOMMU_AUTO = 0,
	MICROVM_VFIO_IOMMU_IOMMUFD = 1, /* /dev/iommu; an error where missing */
	MICROVM_VFIO_IOMMU_LEGACY = 2, /* the VFIO container, /dev/vfio/vfio */
};

/* Log levels, most severe first. */
enum microvm_log_level {
	MICROVM_LOG_ERROR = 0,
	MICROVM_LOG_WARN = 1,
	MICROVM_LOG_INFO = 2,
	MICROVM_LOG_DEBUG = 3,
};

/*
 * Called for every log line at or above cfg->log_level. The message has no
 * trailing newline. `dev` names the component ("vm", "vcpu0", "serial", ...).
 * May be called from any thread, concurrently; it must not call back into
 * libmicrovm. Without a callback the library is silent.
 */
typedef void (*microvm_log_fn)(void *opaque, enum microvm_log_level level,
			       const char *dev, const char *msg);

enum microvm_console {
	MICROVM_CONSOLE_NONE = 0, /* UART present, output discarded */
	MICROVM_CONSOLE_FDS = 1, /* console_in_fd / console_out_fd */
};

/*
 * Called once when the VM stops, with why (for a panic, what the guest
 * reported is in the message). Runs on a libmicrovm thread with no
 * library lock held, or, when the VM stopped before that thread could,
 * on the thread calling microvm_wait() or microvm_destroy(). It may call
 * microvm_poll(), microvm_exit_fd() and microvm_stop(), never
 * microvm_wait() or microvm_destroy().
 */
struct microvm_exit;
typedef void (*microvm_exit_fn)(void *opaque, const struct microvm_exit *exit);

struct microvm_config {
	/*
	 * sizeof(struct microvm_config) as the caller was built, set by
	 * microvm_config_init() (inline, so it is the caller's). A library
	 * with a larger config gives the fields an older caller does not know
	 * their defaults; a smaller one refuses (-E2BIG) fields it does not
	 * know that are not zero.
	 */
	size_t size;

	/* Guest */
	/*
	 * Required. x86_64: a bzImage or an ELF vmlinux with a PVH note;
	 * aarch64: an Image, or one compressed with gzip (Debian's vmlinuz).
	 */
	const char *kernel;
	const char *initrd; /* optional */
	/* NULL: MICROVM_DEFAULT_CMDLINE (x86_64), _AARCH64 (aarch64) */
	const char *cmdline;
	/* 1..MICROVM_MAX_CPUS (aarch64: 1..123, the GIC's room), default 1 */
	unsigned int cpus;
	uint64_t memory; /* bytes, default 256 MiB */
	bool hugepages; /* back guest RAM with MAP_HUGETLB memfd */
	/*
	 * CPUID feature changes, e.g. "-cx16,-xsave,+x2apic" (NULL: none).
	 * Names are the Linux /proc/cpuinfo flag names.
	 */
	const char *cpu_features;

	/*
	 * PCIe root complex (docs/pcie.md). Root port i sits at device i/8,
	 * function i%8 of the root bus; every attached device gets its own
	 * root port.
	 */
	unsigned int pcie_root_ports; /* 0: one per device; at most 256 */
	bool acs_off; /* no ACS capability on root ports */
	uint16_t acs_mask; /* 0: 0x5f (SV|TB|RR|CR|UF|DT) */
	uint64_t low_mmio; /* 32-bit window bytes, 0: automatic */
	uint64_t high_mmio; /* 64-bit window bytes, 0: automatic */
	/*
	 * Bus range. pcie_bus_last 0 means automatic: just the buses the root
	 * ports need (first .. first + ports), because Linux probes every bus
	 * of the range that it did not find below a bridge.
	 */
	unsigned int pcie_bus_first;
	unsigned int pcie_bus_last;
	/* virtio devices (docs/virtio.md), each behind its own root port. */
	const struct microvm_disk *disks;
	unsigned int ndisks;
	const struct microvm_net *nets;
	unsigned int nnets;
	const struct microvm_vsock *vsock; /* NULL: no vsock device */
	bool virtio_console; /* console on virtio-console (hvc0), not UART */
	bool rng; /* virtio-rng fed from getrandom(2) */
	/*
	 * Host devices passed through with VFIO, each behind its own root
	 * port after the test devices and before the virtio ones; the
	 * windows are sized from their real BARs.
	 */
	const struct microvm_vfio *vfio;
	unsigned int nvfio;
	/* Synthetic endpoints, "bar0=16M:32,bar1=128G:64pref" each. */
	const char *const *pci_testdevs;
	unsigned int n_pci_testdevs;

	/*
	 * Console: a 16550 UART at 0x3f8 (IRQ 4) on x86, a PL011 at 0x9000000
	 * (SPI 1) on aarch64.
	 */
	enum microvm_console console;
	int console_in_fd; /* -1: no input */
	int console_out_fd; /* -1: output discarded */
	/*
	 * If non-zero, this byte followed by 'x' on console input stops the VM
	 * (MICROVM_EXIT_STOPPED); the byte twice sends it once. 0 disables.
	 */
	unsigned char console_escape;

	/* Logging */
	microvm_log_fn log_fn;
	void *log_opaque;
	enum microvm_log_level log_level; /* default MICROVM_LOG_WARN */

	/*
	 * Signal used to kick vCPU threads out of KVM_RUN. It is only ever
	 * sent to libmicrovm's own threads, where it stays blocked except
	 * inside KVM_RUN, so no handler is installed. 0: SIGRTMIN + 7.
	 */
	int kick_signal;

	/* NULL: none; the exit fd and microvm_wait() tell as well. */
	microvm_exit_fn on_exit;
	void *on_exit_opaque;

	/*
	 * cgroup v2 placement (docs/embedding.md). vcpu_cgroup: a threaded
	 * cgroup below this process's own; each vCPU thread moves itself
	 * into it (its cgroup.threads), so its cpu.max limits the vCPUs and
	 * not the library's other threads. Checked by microvm_create().
	 * NULL: vCPU threads stay in the process's cgroup.
	 */
	const char *vcpu_cgroup;
	/*
	 * A memory cgroup (a domain) that guest RAM is charged to instead of
	 * this process's: microvm_create() checks it has room and allocates
	 * all of guest RAM from a short-lived child process started inside
	 * it. Not with hugepages. NULL: pages are charged to this process's
	 * cgroup as they are first touched.
	 */
	const char *memory_cgroup;
	/*
	 * Allocate all of guest RAM in microvm_create(), charged to this
	 * process's cgroup, instead of as the guest first touches it.
	 */
	bool prefault;

	/*
	 * aarch64: write the device tree blob the guest boots with to this
	 * file once microvm_create() has built it (`dtc -I dtb` reads it).
	 * x86_64 has no device tree: microvm_create() refuses it. NULL: none.
	 */
	const char *dump_fdt;
	/*
	 * How passed-through devices reach guest RAM for DMA; one back-end
	 * serves all of them. The choice is logged and is the "backend" of
	 * the timings JSON.
	 */
	enum microvm_vfio_iommu vfio_iommu;
};

#define MICROVM_MAX_CPUS	254
#define MICROVM_DEFAULT_CMDLINE "console=ttyS0 reboot=k panic=-1"
/* aarch64: the PL011, and earlycon on it (no firmware to show a failure). */
#define MICROVM_DEFAULT_CMDLINE_AARCH64 "console=ttyAMA0 earlycon panic=-1"

/* Why the VM stopped. */
enum microvm_exit_reason {
	MICROVM_EXIT_NONE = 0, /* still running */
	MICROVM_EXIT_POWEROFF = 1, /* guest powered off (ACPI S5) */
	MICROVM_EXIT_REBOOT = 2, /* guest asked for a reset */
	MICROVM_EXIT_PANIC = 3, /* guest kernel panicked (pvpanic) */
	MICROVM_EXIT_TRIPLE_FAULT = 4, /* vCPU shutdown (triple fault) */
	MICROVM_EXIT_STOPPED = 5, /* microvm_stop() or console escape */
	MICROVM_EXIT_ERROR = 6, /* VMM or KVM error; see message */
	/*
	 * Every vCPU halted with interrupts disabled (Linux's halt -f): nothing
	 * can wake the guest again. Noticed within about a second where the
	 * host's KVM has binary statistics (Linux 5.16+); see docs/lifecycle.md.
	 */
	MICROVM_EXIT_HALTED = 7,
};

/*
 * The structs the library fills start with their size: the caller sets it
 * to sizeof(the struct) as it was built (MICROVM_EXIT_INIT and
 * MICROVM_DEVICE_INFO_INIT do), the library fills no more than that and
 * sets it to what it filled, so fields added later are never written into
 * an older caller's memory. A size below the first layout is -EINVAL.
 */
struct microvm_exit {
	size_t size;
	enum microvm_exit_reason reason;
	int vcpu; /* vCPU that caused it, -1 if none */
	int error; /* -errno for MICROVM_EXIT_ERROR, else 0 */
	char message[256]; /* human-readable detail */
};
#define MICROVM_EXIT_INIT {.size = sizeof(struct microvm_exit)}

/*
 * Fill the first `size` bytes of `cfg` with defaults and set cfg->size to
 * `size`: sizeof(struct microvm_config) as the caller's header has it, so a
 * program built against an older, smaller header is never written past.
 * Call it through microvm_config_init().
 */
void microvm_config_init_sized(struct microvm_config *cfg, size_t size);

/* Fill `cfg` with defaults. */
static inline void microvm_config_init(struct microvm_config *cfg)
{
	microvm_config_init_sized(cfg, sizeof(*cfg));
}

/*
 * Build a VM from `cfg`: open KVM, create guest memory, devices and vCPUs,
 * load the kernel. Nothing runs yet. Returns 0 or -errno; the reason is
 * logged through cfg->log_fn. `cfg` and its strings may be freed after.
 * Errors caused by the input: -EINVAL (bad value; memory too small for
 * the kernel), -ENOEXEC (not a kernel we boot), -E2BIG (command line too
 * long), -ENOENT / -EACCES (kernel or initrd file), -ENOTSUP (CPU feature
 * the host lacks). Host errors: -ENODEV (no /dev/kvm), -EPERM (/dev/kvm
 * not accessible), -ENOSYS (KVM lacks a capability), -ENOMEM, others.
 */
MICROVM_MUST_CHECK int microvm_create(const struct microvm_config *cfg,
				      struct microvm **out);

/* Start the vCPU threads. Returns 0 or -errno. */
MICROVM_MUST_CHECK int microvm_start(struct microvm *vm);

/*
 * An eventfd that becomes readable once the VM has stopped for any reason.
 * Owned by the VM; do not close it.
 */
int microvm_exit_fd(const struct microvm *vm);

/*
 * Block until the VM stops, then join all its threads and report why in
 * `exit` (may be NULL). Returns 0 or -errno (-EINVAL if it was never
 * started or exit->size is too small).
 */
MICROVM_MUST_CHECK int microvm_wait(struct microvm *vm,
				    struct microvm_exit *exit);

/*
 * Non-blocking: 1 and fills `exit` (may be NULL) if stopped, 0 if still
 * running, -EINVAL if exit->size is too small.
 */
int microvm_poll(struct microvm *vm, struct microvm_exit *exit);

/*
 * Ask the VM to stop (MICROVM_EXIT_STOPPED unless it already stopped for
 * another reason). Safe from any thread and from a signal-handling thread;
 * returns at once. Use microvm_wait() to join.
 */
void microvm_stop(struct microvm *vm);

/* Stop (if running), join and free everything. NULL is accepted. */
void microvm_destroy(struct microvm *vm);

/*
 * Thread ids (gettid) of the vCPU threads, for pinning or cgroup placement.
 * Fills up to `n` entries and returns the number of vCPUs, or -EAGAIN
 * before microvm_start().
 */
int microvm_vcpu_tids(const struct microvm *vm, pid_t *tids, size_t n);

/*
 * The terminal the console stands for is now `cols` x `rows` (e.g. after
 * a SIGWINCH, or a resize relayed from a remote client): with
 * virtio_console, the guest's hvc0 takes that size (its driver is told
 * with a config change interrupt; Linux applies it to the tty). When the
 * console output fd is a terminal, its size at microvm_create() is used
 * until this is called. Safe from any thread once created. Returns 0,
 * -EINVAL for a zero or > 65535 size, -ENODEV without virtio_console
 * (the UART has no notion of a size).
 */
int microvm_console_set_size(struct microvm *vm, unsigned int cols,
			     unsigned int rows);

/* Where an attached device landed in the guest. */
struct microvm_device_info {
	size_t size; /* see struct microvm_exit */
	char name[32];
	char bdf[16]; /* "0000:01:00.0" */
	char pci_path[16]; /* "RR.F/DD": root port dev.fn / device */
	char root_port_bdf[16]; /* "0000:00:00.0" */
	char host_bdf[16]; /* passed-through host device, "" if none */
};
#define MICROVM_DEVICE_INFO_INIT {.size = sizeof(struct microvm_device_info)}

/* Number of attached PCI devices (test, VFIO and virtio devices). */
int microvm_device_count(const struct microvm *vm);

/* Fill `info` for device `index`; 0, -ENOENT, or -EINVAL (bad size). */
int microvm_device_info(const struct microvm *vm, unsigned int index,
			struct microvm_device_info *info);

/*
 * The PCIe topology as JSON (docs/topology-json.md) into buf. Returns the
 * length, or -ENOSPC if `len` is too small (MICROVM_TOPOLOGY_MAX always
 * suffices).
 */
#define MICROVM_TOPOLOGY_MAX (512 * 1024)
int microvm_topology_json(const struct microvm *vm, char *buf, size_t len);

/*
 * Plan the PCIe topology of `cfg` without building a VM (no kernel
 * needed): fills `text` (human layout) and/or `json` (either may be
 * NULL). Returns 0, or -EINVAL with the reason logged (e.g. a window is
 * exhausted), or -ENOSPC if a buffer is too small.
 */
MICROVM_MUST_CHECK int microvm_plan(const struct microvm_config *cfg,
				    char *text, size_t text_len, char *json,
				    size_t json_len);

/*
 * Timings and VM exits as JSON (docs/timings-json.md): phase timestamps
 * since microvm_create(), guest boot markers (the boot timer at
 * 0xfeb00000 and port 0x80 on x86), VMM CPU time, exits by reason and by
 * device. Final once microvm_wait() returned. Returns the length or
 * -ENOSPC (MICROVM_TIMINGS_MAX always suffices).
 */
#define MICROVM_TIMINGS_MAX (64 * 1024)
int microvm_timings_json(const struct microvm *vm, char *buf, size_t len);

/*
 * The VFIO preflight (`microvm vfio-check`, docs/vfio.md): for each of the
 * `n` host devices, its driver, IOMMU group and every member of it, the
 * group's reserved regions and device nodes, and whether it can be passed
 * through; if not, why, in plain words, and the commands that fix it.
 * `microvm_create()` runs the same checks and fails with -EINVAL and these
 * words. `sysfs_root`/`dev_root` NULL: "/sys" and "/dev". Fills `text`
 * and/or `json` (either may be NULL). Returns 1 if every device can be
 * passed through, 0 if not, -EINVAL for a malformed BDF, -ENOSPC if a
 * buffer is too small, -ENOMEM.
 */
#define MICROVM_VFIO_CHECK_MAX (64 * 1024)
MICROVM_MUST_CHECK int
microvm_vfio_check(const char *const *bdfs, unsigned int n,
		   const char *sysfs_root, const char *dev_root, char *text,
		   size_t text_len, char *json, size_t json_len);

/* Human-readable name of an exit reason. */
const char *microvm_exit_reason_name(enum microvm_exit_reason reason);

/* Library version string. */
const char *microvm_version(void);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* MICROVM_H */
