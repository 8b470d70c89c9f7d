/* stats.c: exit counting and the timings JSON (pure logic). */
#include "vmm/stats.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

void vcpu_stats_count_device(struct vcpu_stats *s, const char *name)
{
	unsigned int i;

	for (i = 0; i < s->ndev; i++) {
		if (s->dev[i].name == name) {
			s->dev[i].count++;
			return;
		}
	}
	if (s->ndev < VM_STATS_DEVICES) {
		s->dev[s->ndev].name = name;
		s->dev[s->ndev++].count = 1;
	}
}

/* Values of include/uapi/linux/kvm.h KVM_EXIT_*. */
const char *kvm_exit_reason_name(unsigned int reason)
{
	static const char *const names[] = {
		[0] = "unknown",
		[1] = "exception",
		[2] = "io",
		[3] = "hypercall",
		[4] = "debug",
		[5] = "hlt",
		[6] = "mmio",
		[7] = "irq_window_open",
		[8] = "shutdown",
		[9] = "fail_entry",
		[10] = "intr",
		[11] = "set_tpr",
		[12] = "tpr_access",
		[17] = "internal_error",
		[24] = "system_event",
		[26] = "ioapic_eoi",
		[27] = "hyperv",
		[28] = "arm_nisv",
		[29] = "x86_rdmsr",
		[30] = "x86_wrmsr",
		[31] = "dirty_ring_full",
		[32] = "ap_reset_hold",
		[33] = "x86_bus_lock",
		[34] = "xen",
		[35] = "riscv_sbi",
		[36] = "riscv_csr",
		[37] = "notify",
	};

	if (reason < sizeof(names) / sizeof(names[0]) && names[reason])
		return names[reason];
	return NULL;
}

struct out {
	char *buf;
	size_t len, off;
	int err;
};

__attribute__((format(printf, 2, 3))) static void emit(struct out *o,
						       const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->err)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->off, o->len - o->off, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->len - o->off)
		o->err = -ENOSPC;
	else
		o->off += (size_t)n;
}

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

int vm_stats_format_json(const struct vm_stats_view *v, char *buf, size_t len)
{
	static const char *const phase_names[VM_PH_COUNT] = {
		[VM_PH_CREATE] = "create",
		[VM_PH_KVM_OPEN] = "kvm_open",
		[VM_PH_VM_CREATED] = "vm_created",
		[VM_PH_MEMORY] = "memory",
		[VM_PH_DMA] = "dma_map",
		[VM_PH_KERNEL] = "kernel",
		[VM_PH_VCPUS] = "vcpus",
		[VM_PH_DEVICES] = "devices",
		[VM_PH_START] = "start",
		[VM_PH_FIRST_RUN] = "first_kvm_run",
		[VM_PH_STOP] = "stop",
		[VM_PH_JOINED] = "joined",
	};
	uint64_t total[VM_EXIT_REASONS] = {0}, all = 0;
	uint64_t t0 = v->phase[VM_PH_CREATE];
	struct out o = {buf, len, 0, 0};
	bool first;

	if (!len)
		return -ENOSPC;
	emit(&o, "{\n  \"version\": 1,\n  \"exit_reason\": \"%s\",\n",
	     v->exit_reason ? v->exit_reason : "running");
	emit(&o, "  \"phases_ms\": {");
	first = true;
	for (unsigned int p = 0; p < VM_PH_COUNT; p++) {
		if (!v->phase[p])
			continue;
		emit(&o, "%s\n    \"%s\": %.3f", first ? "" : ",",
		     phase_names[p], ms(v->phase[p] - t0));
		first = false;
	}
	emit(&o, "\n  },\n  \"boot_markers\": [");
	for (unsigned int i = 0; i < v->nmarkers; i++)
		emit(&o,
		     "%s\n    {\"value\": %u, \"ms\": %.3f, \"source\": "
		     "\"%s\"}",
		     i ? "," : "", v->markers[i].value, ms(v->markers[i].ns),
		     v->markers[i].source);
	emit(&o, "%s],\n", v->nmarkers ? "\n  " : "");
	emit(&o,
	     "  \"vmm_cpu_ms\": {\"to_first_kvm_run\": %.3f, \"total\": "
	     "%.3f},\n",
	     ms(v->cpu_ns_first_run), ms(v->cpu_ns_stop));
	for (unsigned int c = 0; c < v->nvcpus; c++)
		for (unsigned int r = 0; r < VM_EXIT_REASONS; r++)
			total[r] += v->vcpu[c].exits[r];
	emit(&o, "  \"exits\": {");
	first = true;
	for (unsigned int r = 0; r < VM_EXIT_REASONS; r++) {
		const char *n = kvm_exit_reason_name(r);

		if (!total[r])
			continue;
		all += total[r];
		if (n)
			emit(&o, "%s\n    \"%s\": %llu", first ? "" : ",", n,
			     (unsigned long long)total[r]);
		else
			emit(&o, "%s\n    \"reason_%u\": %llu",
			     first ? "" : ",", r, (unsigned long long)total[r]);
		first = false;
	}
	emit(&o, "%s},\n  \"exits_total\": %llu,\n", first ? "" : "\n  ",
	     (unsigned long long)all);
	emit(&o, "  \"exits_by_device\": {");
	first = true;
	/* Merge per-vCPU device counts by name. */
	for (unsigned int c = 0; c < v->nvcpus; c++) {
		for (unsigned int d = 0; d < v->vcpu[c].ndev; d++) {
			const char *n = v->vcpu[c].dev[d].name;
			uint64_t sum = 0;
			bool seen = false;

			for (unsigned int pc = 0; pc < c && !seen; pc++)
				for (unsigned int pd = 0; pd < v->vcpu[pc].ndev;
				     pd++)
					if (v->vcpu[pc].dev[pd].name == n)
						seen = true;
			if (seen)
				continue;
			for (unsigned int cc = c; cc < v->nvcpus; cc++)
				for (unsigned int dd = 0; dd < v->vcpu[cc].ndev;
				     dd++)
					if (v->vcpu[cc].dev[dd].name == n)
						sum += v->vcpu[cc]
							       .dev[dd]
							       .count;
			emit(&o, "%s\n    \"%s\": %llu", first ? "" : ",",
			     n ? n : "unclaimed", (unsigned long long)sum);
			first = false;
		}
	}
	emit(&o, "%s}", first ? "" : "\n  ");
	if (v->extra_json && *v->extra_json)
		emit(&o, ",\n  %s", v->extra_json);
	emit(&o, "\n}\n");
	return o.err ? o.err : (int)o.off;
}
