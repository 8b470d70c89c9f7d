/* test_stats.c: L0 tests of exit counting and the timings JSON. */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/kvm.h>
#include <string.h>

#include "vmm/stats.h"

Test(stats, device_counts_by_name_pointer)
{
	static struct vcpu_stats s;
	static const char serial[] = "serial", ecam[] = "ecam";

	vcpu_stats_count_device(&s, serial);
	vcpu_stats_count_device(&s, serial);
	vcpu_stats_count_device(&s, ecam);
	vcpu_stats_count_device(&s, NULL);
	cr_assert_eq(s.ndev, 3);
	cr_assert_eq(s.dev[0].count, 2);
	cr_assert_eq(s.dev[1].name, ecam);
	cr_assert_null(s.dev[2].name);
}

Test(stats, json_merges_vcpus_and_names_reasons)
{
	static struct vcpu_stats v[2];
	static const char serial[] = "serial", ecam[] = "ecam";
	uint64_t phase[VM_PH_COUNT] = {0};
	struct vm_marker m[1] = {{123, 2500000, "mmio"}};
	struct vm_stats_view view = {phase, v,	     2,	      m,
				     1,	    3000000, 9000000, "poweroff",
				     NULL};
	char buf[4096];
	int n;

	phase[VM_PH_CREATE] = 1000000000;
	phase[VM_PH_FIRST_RUN] = 1004000000;
	v[0].exits[2] = 10; /* io */
	v[1].exits[2] = 5;
	v[1].exits[6] = 7; /* mmio */
	v[1].exits[50] = 1; /* unnamed */
	vcpu_stats_count_device(&v[0], serial);
	vcpu_stats_count_device(&v[1], serial);
	vcpu_stats_count_device(&v[1], ecam);
	n = vm_stats_format_json(&view, buf, sizeof(buf));
	cr_assert_gt(n, 0);
	cr_assert(strstr(buf, "\"first_kvm_run\": 4.000"), "%s", buf);
	cr_assert_null(strstr(buf, "\"start\""), "unstamped phases left out");
	cr_assert(strstr(buf, "\"io\": 15"), "%s", buf);
	cr_assert(strstr(buf, "\"mmio\": 7"), "%s", buf);
	cr_assert(strstr(buf, "\"reason_50\": 1"), "%s", buf);
	cr_assert(strstr(buf, "\"exits_total\": 23"), "%s", buf);
	cr_assert(strstr(buf, "\"serial\": 2"), "%s", buf);
	cr_assert(strstr(buf, "\"ecam\": 1"), "%s", buf);
	cr_assert(
		strstr(buf,
		       "{\"value\": 123, \"ms\": 2.500, \"source\": \"mmio\"}"),
		"%s", buf);
	cr_assert(strstr(buf, "\"to_first_kvm_run\": 3.000"), "%s", buf);
	/* Too small a buffer is an error, at every size. */
	for (int len = 0; len < n; len += 7)
		cr_assert_eq(vm_stats_format_json(&view, buf, (size_t)len),
			     -ENOSPC);
}

/* The names follow linux/kvm.h's numbers, arm64's exits included. */
Test(stats, exit_reason_names_match_the_kvm_header)
{
	cr_assert_str_eq(kvm_exit_reason_name(KVM_EXIT_MMIO), "mmio");
	cr_assert_str_eq(kvm_exit_reason_name(KVM_EXIT_SYSTEM_EVENT),
			 "system_event");
	cr_assert_str_eq(kvm_exit_reason_name(KVM_EXIT_ARM_NISV), "arm_nisv");
	cr_assert_str_eq(kvm_exit_reason_name(KVM_EXIT_X86_RDMSR), "x86_rdmsr");
	cr_assert_str_eq(kvm_exit_reason_name(KVM_EXIT_NOTIFY), "notify");
}
