/* vm.h: the VM object every part of the VMM hangs off (no globals). */
#ifndef VMM_VM_H
#define VMM_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "devices/machine.h"
#include "devices/pci/host.h"
#include "microvm.h"
#include "vmm/bus.h"
#include "vmm/irq.h"
#include "vmm/log.h"
#include "vmm/memory.h"
#include "vmm/stats.h"

struct kvm_run;
struct evloop;
struct console;
struct arch_vm;
struct pci_plan;
struct pci_host;
struct pci_dev_slot;
struct virtio_con;
struct vfio_vm;

#define VM_MAX_MEMSLOTS 512 /* RAM regions first, then device memory */

struct vcpu {
	struct vm *vm;
	unsigned int id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool thread_started;
	_Atomic pid_t tid;
	char name[16];
	struct ratelimit rl_unhandled;
	struct ratelimit rl_bad;
	struct vcpu_stats stats;
	struct { /* vmm/haltwatch.c */
		int stats_fd; /* KVM_GET_STATS_FD, or -1 */
		uint32_t off_blocking, off_wakeup; /* in stats_fd */
		_Atomic unsigned int answered; /* the question, 0: none */
		atomic_bool halted_irqs_off;
		_Atomic uint64_t wakeups; /* halt_wakeup when it answered */
	} hw;
};

/* The VM's configuration, copied out of struct microvm_config. */
struct vm_config {
	char *kernel;
	char *initrd;
	char *cmdline;
	unsigned int cpus;
	uint64_t memory;
	bool hugepages;
	bool prefault;
	char *memory_cgroup; /* NULL: charged to this process's cgroup */
	char *vcpu_cgroup; /* NULL: vCPUs stay in the process's cgroup */
	char *cpu_features;
	char *dump_fdt; /* write the device tree blob here (aarch64), or NULL */
	int console_in_fd;
	int console_out_fd;
	unsigned char console_escape;
	microvm_exit_fn on_exit;
	void *on_exit_opaque;
	int kick_signal;
	/* PCIe */
	unsigned int pcie_root_ports;
	bool acs_off;
	uint16_t acs_mask;
	uint64_t low_mmio, high_mmio;
	unsigned int pcie_bus_first, pcie_bus_last;
	char **pci_testdevs;
	unsigned int n_pci_testdevs;
	struct microvm_vfio *vfio; /* strings owned */
	unsigned int nvfio;
	enum microvm_vfio_iommu vfio_iommu;
	bool vfio_no_map_file; /* unless MICROVM_IOMMUFD_MAP_FILE=1 (experimental) */
	/* virtio */
	struct microvm_disk *disks; /* strings owned */
	unsigned int ndisks;
	struct microvm_net *nets;
	unsigned int nnets;
	struct microvm_vsock vsock; /* uds NULL and cid 0: none */
	bool has_vsock;
	bool virtio_console;
	bool rng;
};

struct vm {
	struct logger log;
	struct vm_config cfg;

	int kvm_fd;
	int vm_fd;
	int vcpu_mmap_size;
	bool kvm_emulates_kernel; /* /sys/module/kvm_pvm: see GUIDE §5 */

	struct guest_mem mem;
	struct bus pio;
	struct bus mmio;
	pthread_rwlock_t mmio_lock; /* mmio changes at run time (BARs) */

	struct vcpu *vcpus;
	unsigned int ncpus;

	struct vm_irq irq;
	struct machine machine; /* what the device models see (vmm/machine.c) */

	struct evloop *loop;
	pthread_t loop_thread;
	bool loop_started;
	atomic_bool loop_returned; /* the loop thread left our code */

	struct virtio_con *vcon; /* --virtio-console, for resizes */
	struct console *console; /* console fds; the UART is the board's */

	struct arch_vm *arch;

	struct pci_plan *pci_plan;
	struct pci_host *pci;
	struct pci_dev_list pci_devs; /* registered before planning */
	uint64_t ecam_base;

	struct vfio_vm *vfio; /* passed-through devices, or NULL */
	int kvm_vfio_fd; /* KVM_DEV_TYPE_VFIO pseudo-device, -1 */
	int vcpu_cgroup_fd; /* its cgroup.threads, or -1 */
	pthread_mutex_t memslot_lock;
	uint64_t memslot_used[VM_MAX_MEMSLOTS / 64]; /* KVM slot numbers */

	uint64_t phase[VM_PH_COUNT]; /* CLOCK_MONOTONIC stamps */
	struct vm_marker markers[VM_MAX_MARKERS]; /* under lock */
	unsigned int nmarkers;
	uint64_t cpu_ns_first_run, cpu_ns_stop;
	uint64_t prefault_ns; /* prefault=on: time to allocate guest RAM */

	/* Lifecycle. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	atomic_bool stopping;
	bool started;
	bool joining;
	bool joined;
	bool exited; /* exit_info is final */
	struct microvm_exit exit_info;
	int exit_efd;
	int exit_cb_efd; /* tells the loop thread to call cfg.on_exit */
	atomic_bool exit_delivered; /* cfg.on_exit was called */
	unsigned int vcpus_running;
	/* vmm/haltwatch.c */
	_Atomic unsigned int hw_question;
	int hw_timer_fd;
};

/*
 * Record why the VM stops (the first caller wins), kick every vCPU out of
 * KVM_RUN and signal waiters. Safe from any thread.
 */
__attribute__((format(printf, 5, 6))) void
vm_request_exit(struct vm *vm, enum microvm_exit_reason reason, int vcpu,
		int error, const char *fmt, ...);

/*
 * Add or remove an MMIO range while the VM may be running. Dispatch looks
 * the range up under a read lock and calls it after dropping the lock,
 * so a device callback may itself remap ranges.
 */
__attribute__((warn_unused_result)) int
vm_mmio_map(struct vm *vm, uint64_t addr, uint64_t len, bus_access_fn fn,
	    void *opaque, const char *name);
void vm_mmio_unmap(struct vm *vm, uint64_t addr);
bool vm_mmio_dispatch(struct vm *vm, uint64_t addr, uint8_t *data,
		      unsigned int len, bool is_write, const char **name);

/*
 * Show host memory `hva` to the guest at [gpa, gpa+size) (page aligned) in
 * a KVM memory slot of its own, e.g. a passed-through device's BAR; the
 * slot number comes back in *slot. Safe while vCPUs run. 0 or -errno
 * (-EEXIST: overlaps another slot, -ENOSPC: no slot left).
 */
__attribute__((warn_unused_result)) int vm_memslot_add(struct vm *vm,
						       uint64_t gpa,
						       uint64_t size, void *hva,
						       int *slot);
void vm_memslot_del(struct vm *vm, int slot);

/*
 * Tell KVM's VFIO pseudo-device (created on first use) about a VFIO group
 * or device fd, so KVM knows the guest does non-coherent DMA and can route
 * the device's interrupts. 0 or -errno (logged).
 */
__attribute__((warn_unused_result)) int vm_vfio_file_add(struct vm *vm, int fd);
void vm_vfio_file_del(struct vm *vm, int fd);

/* Stamp a phase (the first stamp of each phase stays). */
void vm_phase(struct vm *vm, enum vm_phase p);

/* Record a guest boot marker (boot timer or debug port write). */
void vm_boot_marker(struct vm *vm, uint32_t value, const char *source);

/* Process CPU time (user + system) in nanoseconds. */
uint64_t vm_process_cpu_ns(void);

/* The timings JSON of this VM (see vm_stats_format_json). */
int vm_timings_json(struct vm *vm, char *buf, size_t len);

/* Raise or lower an interrupt line (GSI) of the in-kernel irqchip. */
int vm_irq_line(struct vm *vm, unsigned int gsi, int level);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t vm_now_ns(void);

/* Kick all vCPU threads out of KVM_RUN. */
void vm_kick_vcpus(struct vm *vm);

int vm_create(const struct microvm_config *cfg, struct vm **out);
/* Only plan the PCIe topology (no kernel, no KVM VM); see microvm_plan. */
int vm_plan_only(const struct microvm_config *cfg, struct vm **out);
int vm_start(struct vm *vm);
int vm_wait(struct vm *vm, struct microvm_exit *exit);
void vm_destroy(struct vm *vm);

#endif
