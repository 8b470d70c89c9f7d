/* stats.h: what a run cost: phase timestamps, VM exits by reason and device, guest boot markers. */
#ifndef VMM_STATS_H
#define VMM_STATS_H

#include <stddef.h>
#include <stdint.h>

/* Phases, in the order they happen; each stamped once (ns, CLOCK_MONOTONIC). */
enum vm_phase {
	VM_PH_CREATE, /* microvm_create() entered */
	VM_PH_KVM_OPEN, /* /dev/kvm open, capabilities checked */
	VM_PH_VM_CREATED, /* KVM_CREATE_VM done */
	VM_PH_MEMORY, /* guest RAM mapped into KVM */
	VM_PH_DMA, /* guest RAM mapped for passed-through devices' DMA */
	VM_PH_KERNEL, /* kernel, initrd and boot tables loaded */
	VM_PH_VCPUS, /* vCPUs created and set up (and the arm64 GIC) */
	VM_PH_DEVICES, /* PCI devices (after the vCPUs: arm64's irqfds) */
	VM_PH_START, /* microvm_start() */
	VM_PH_FIRST_RUN, /* vCPU 0 enters KVM_RUN the first time */
	VM_PH_STOP, /* the reason to stop was recorded */
	VM_PH_JOINED, /* all threads joined */
	VM_PH_COUNT
};

#define VM_EXIT_REASONS	 64 /* KVM exit reasons we count; more go to the last */
#define VM_STATS_DEVICES 24
#define VM_MAX_MARKERS	 32

/* Exits of one vCPU. Only its own thread writes; read after join. */
struct vcpu_stats {
	uint64_t exits[VM_EXIT_REASONS];
	struct {
		const char *name; /* bus range name; NULL: unclaimed */
		uint64_t count;
	} dev[VM_STATS_DEVICES];
	unsigned int ndev;
};

/* Count one port I/O or MMIO exit against the device that took it. */
void vcpu_stats_count_device(struct vcpu_stats *s, const char *name);

struct vm_marker {
	uint32_t value;
	uint64_t ns; /* since VM_PH_CREATE */
	const char *source; /* "port 0x80" or "mmio" */
};

struct vm_stats_view {
	const uint64_t *phase; /* VM_PH_COUNT stamps, 0 = did not happen */
	const struct vcpu_stats *vcpu;
	unsigned int nvcpus;
	const struct vm_marker *markers;
	unsigned int nmarkers;
	uint64_t cpu_ns_first_run; /* process CPU time at the first KVM_RUN */
	uint64_t cpu_ns_stop; /* process CPU time once joined */
	const char *exit_reason;
	/* More top-level members, formatted ("\"vfio\": {...}"), or NULL. */
	const char *extra_json;
};

/* Name of a KVM exit reason ("io", "mmio", "hlt", ...), or NULL. */
const char *kvm_exit_reason_name(unsigned int reason);

/*
 * The timings and exit counts as JSON (docs/timings-json.md). Returns the
 * length, or -ENOSPC. Pure: unit-tested.
 */
__attribute__((warn_unused_result)) int
vm_stats_format_json(const struct vm_stats_view *v, char *buf, size_t len);

#endif
