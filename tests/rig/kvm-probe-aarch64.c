// kvm-probe-aarch64.c: what an arm64 /dev/kvm offers (API, capabilities, target, vGICv3/ITS), and a tiny timed guest on it.
//
// A static arm64 binary (make -f tests/rig/kvm-probe.mk), run in the aarch64 rig:
//   tests/rig/aarch64-rig.sh -- build/rig/kvm-probe-aarch64 [--loops N] [--mmio-exits N]
//                                [--run-timeout S] [--no-gic]
// Prints one "name: value" line per fact. Then it runs a guest of a few instructions from a
// memslot: a loop of N iterations (3 instructions each), N stores to an address outside
// every memslot (each a KVM_EXIT_MMIO to us), and PSCI SYSTEM_OFF by hvc, which must end
// KVM_RUN with KVM_EXIT_SYSTEM_EVENT (SHUTDOWN); the times of each part are printed.
// Exit status: 0 if /dev/kvm, KVM_CREATE_VM, the preferred target, the vGICv3 and the
// guest all work; 1 otherwise (the first failure is named on stderr).
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <signal.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define GUEST_RAM_BASE 0x40000000ull
#define GUEST_RAM_SIZE 0x10000ull
#define GUEST_MMIO_ADDR 0x10000000ull /* in no memslot */
#define GIC_DIST_BASE 0x08000000ull
#define GIC_ITS_BASE 0x08080000ull
#define GIC_REDIST_BASE 0x080a0000ull

/* The guest: x0 = loop count, x1 = MMIO store count, x2 = MMIO address. */
extern const uint8_t guest_code[], guest_vectors[], guest_code_end[];
__asm__(".pushsection .rodata\n"
	".globl guest_code, guest_vectors, guest_code_end\n"
	".balign 4\n"
	"guest_code:\n" /* .globl: a local label reached through the GOT came out as guest_code */
	"1:	cbz x0, 2f\n"
	"	sub x0, x0, #1\n"
	"	b 1b\n"
	"2:	cbz x1, 3f\n"
	"	str w1, [x2]\n"
	"	sub x1, x1, #1\n"
	"	b 2b\n"
	"3:	movz w0, #0x0008\n" /* PSCI_0_2_FN_SYSTEM_OFF: 0x84000008 */
	"	movk w0, #0x8400, lsl #16\n"
	"	hvc #0\n"
	"	b .\n"
	/* VBAR_EL1: an exception parks the vCPU at its vector, ESR/ELR/FAR tell the rest. */
	".balign 4096\n"
	"guest_vectors:\n"
	".rept 16\n"
	"	b .\n"
	".balign 128\n"
	".endr\n"
	"guest_code_end:\n"
	".popsection\n");

static int failures;
static unsigned run_timeout_s = 20;
static volatile sig_atomic_t timed_out;

static void on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fail(const char *what)
{
	fprintf(stderr, "kvm-probe: error: %s: %s\n", what, strerror(errno));
	if (!failures)
		printf("first failure: %s (%s)\n", what, strerror(errno));
	failures++;
}

static const char *target_name(uint32_t t)
{
	switch (t) {
	case KVM_ARM_TARGET_AEM_V8: return "KVM_ARM_TARGET_AEM_V8";
	case KVM_ARM_TARGET_FOUNDATION_V8: return "KVM_ARM_TARGET_FOUNDATION_V8";
	case KVM_ARM_TARGET_CORTEX_A57: return "KVM_ARM_TARGET_CORTEX_A57";
	case KVM_ARM_TARGET_XGENE_POTENZA: return "KVM_ARM_TARGET_XGENE_POTENZA";
	case KVM_ARM_TARGET_CORTEX_A53: return "KVM_ARM_TARGET_CORTEX_A53";
	case KVM_ARM_TARGET_GENERIC_V8: return "KVM_ARM_TARGET_GENERIC_V8";
	default: return "unknown";
	}
}

static void check_caps(int fd, const char *where)
{
	static const struct {
		const char *name;
		long cap;
	} caps[] = {
#define CAP(c) { #c, c }
		CAP(KVM_CAP_ARM_PSCI_0_2),	   CAP(KVM_CAP_IRQFD),
		CAP(KVM_CAP_MSI_DEVID),		   CAP(KVM_CAP_ARM_VM_IPA_SIZE),
		CAP(KVM_CAP_SIGNAL_MSI),	   CAP(KVM_CAP_IOEVENTFD),
		CAP(KVM_CAP_NR_VCPUS),		   CAP(KVM_CAP_MAX_VCPUS),
		CAP(KVM_CAP_READONLY_MEM),	   CAP(KVM_CAP_ONE_REG),
		CAP(KVM_CAP_DEVICE_CTRL),	   CAP(KVM_CAP_IRQ_ROUTING),
		CAP(KVM_CAP_ARM_EL1_32BIT),	   CAP(KVM_CAP_ARM_PMU_V3),
		CAP(KVM_CAP_ARM_SVE),		   CAP(KVM_CAP_ARM_PTRAUTH_ADDRESS),
		CAP(KVM_CAP_ARM_PTRAUTH_GENERIC),  CAP(KVM_CAP_ARM_MTE),
		CAP(KVM_CAP_ARM_NISV_TO_USER),	   CAP(KVM_CAP_ARM_INJECT_EXT_DABT),
		CAP(KVM_CAP_ARM_IRQ_LINE_LAYOUT_2), CAP(KVM_CAP_ARM_SYSTEM_SUSPEND),
		CAP(KVM_CAP_VCPU_ATTRIBUTES),	   CAP(KVM_CAP_ARM_USER_IRQ),
#undef CAP
	};
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		printf("KVM_CHECK_EXTENSION(%s) on %s: %d\n", caps[i].name, where,
		       ioctl(fd, KVM_CHECK_EXTENSION, caps[i].cap));
}

static int create_device(int vm, uint32_t type, uint32_t flags)
{
	struct kvm_create_device cd = { .type = type, .flags = flags };

	if (ioctl(vm, KVM_CREATE_DEVICE, &cd) < 0)
		return -errno;
	return flags & KVM_CREATE_DEVICE_TEST ? 0 : (int)cd.fd;
}

static int set_dev_attr(int dev, uint32_t group, uint64_t attr, const void *val)
{
	struct kvm_device_attr a = {
		.group = group, .attr = attr, .addr = (uint64_t)(uintptr_t)val
	};
	return ioctl(dev, KVM_SET_DEVICE_ATTR, &a) < 0 ? -errno : 0;
}

static int set_reg(int vcpu, uint64_t id, uint64_t val)
{
	struct kvm_one_reg r = { .id = id, .addr = (uint64_t)(uintptr_t)&val };

	return ioctl(vcpu, KVM_SET_ONE_REG, &r);
}

static int get_reg(int vcpu, uint64_t id, uint64_t *val)
{
	struct kvm_one_reg r = { .id = id, .addr = (uint64_t)(uintptr_t)val };

	return ioctl(vcpu, KVM_GET_ONE_REG, &r);
}

#define CORE_REG(x) \
	(KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | KVM_REG_ARM_CORE_REG(x))
#define SYSREG(op0, op1, crn, crm, op2)                                                        \
	(KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM64_SYSREG |                             \
	 ARM64_SYS_REG_SHIFT_MASK(op0, OP0) | ARM64_SYS_REG_SHIFT_MASK(op1, OP1) |             \
	 ARM64_SYS_REG_SHIFT_MASK(crn, CRN) | ARM64_SYS_REG_SHIFT_MASK(crm, CRM) |             \
	 ARM64_SYS_REG_SHIFT_MASK(op2, OP2))
#define MPIDR_EL1 SYSREG(3, 0, 0, 0, 5)
#define ESR_EL1 SYSREG(3, 0, 5, 2, 0)
#define FAR_EL1 SYSREG(3, 0, 6, 0, 0)
#define VBAR_EL1 SYSREG(3, 0, 12, 0, 0)

/* Where a stuck guest is: pc, pstate, and the last exception it took. */
static void dump_vcpu(int vcpu)
{
	uint64_t pc = 0, pstate = 0, elr = 0, esr = 0, far = 0, vbar = 0;

	get_reg(vcpu, CORE_REG(regs.pc), &pc);
	get_reg(vcpu, CORE_REG(regs.pstate), &pstate);
	get_reg(vcpu, CORE_REG(elr_el1), &elr);
	get_reg(vcpu, ESR_EL1, &esr);
	get_reg(vcpu, FAR_EL1, &far);
	get_reg(vcpu, VBAR_EL1, &vbar);
	printf("guest: VBAR_EL1 0x%llx\n", (unsigned long long)vbar);
	printf("guest: pc 0x%llx pstate 0x%llx; ELR_EL1 0x%llx ESR_EL1 0x%llx (EC 0x%llx) FAR_EL1 0x%llx\n",
	       (unsigned long long)pc, (unsigned long long)pstate, (unsigned long long)elr,
	       (unsigned long long)esr, (unsigned long long)(esr >> 26), (unsigned long long)far);
}

/* Builds and runs the guest once; returns 0 on SYSTEM_OFF, with the time spent from the
 * first KVM_RUN to SYSTEM_OFF in *run_s. verbose prints the steps and their times. */
static int run_guest(int kvm, uint32_t target, uint64_t loops, uint64_t mmio_exits, int with_gic,
		     int verbose, double *run_s)
{
	double t0, t_vm, t_vcpu, t_gic, t_run0, t_end;
	uint64_t n_mmio = 0, n_exits = 0, mpidr = 0;
	struct kvm_vcpu_init init = { .target = target };
	struct kvm_run *run;
	int vm, vcpu, gic = -1, its = -1, ret = -1;
	long mmap_size;
	void *ram;

	t0 = now_s();
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0) {
		fail("guest: KVM_CREATE_VM");
		return -1;
	}
	ram = mmap(NULL, GUEST_RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ram == MAP_FAILED) {
		fail("guest: mmap");
		goto out_vm;
	}
	memcpy(ram, guest_code, guest_code_end - guest_code);
	struct kvm_userspace_memory_region mr = {
		.slot = 0,
		.guest_phys_addr = GUEST_RAM_BASE,
		.memory_size = GUEST_RAM_SIZE,
		.userspace_addr = (uint64_t)(uintptr_t)ram,
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &mr) < 0) {
		fail("guest: KVM_SET_USER_MEMORY_REGION");
		goto out_ram;
	}
	t_vm = now_s();
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0) {
		fail("guest: KVM_CREATE_VCPU");
		goto out_ram;
	}
	init.features[0] |= 1u << KVM_ARM_VCPU_PSCI_0_2;
	if (ioctl(vcpu, KVM_ARM_VCPU_INIT, &init) < 0) {
		fail("guest: KVM_ARM_VCPU_INIT");
		goto out_vcpu;
	}
	if (set_reg(vcpu, CORE_REG(regs.pc), GUEST_RAM_BASE) ||
	    set_reg(vcpu, CORE_REG(regs.regs[0]), loops) ||
	    set_reg(vcpu, CORE_REG(regs.regs[1]), mmio_exits) ||
	    set_reg(vcpu, CORE_REG(regs.regs[2]), GUEST_MMIO_ADDR) ||
	    set_reg(vcpu, VBAR_EL1, GUEST_RAM_BASE + (guest_vectors - guest_code))) {
		fail("guest: KVM_SET_ONE_REG");
		goto out_vcpu;
	}
	if (verbose && get_reg(vcpu, MPIDR_EL1, &mpidr) == 0)
		printf("guest: vCPU 0 MPIDR_EL1: 0x%llx\n", (unsigned long long)mpidr);
	mmap_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	run = mmap(NULL, mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED) {
		fail("guest: mmap kvm_run");
		goto out_vcpu;
	}
	t_vcpu = now_s();
	if (with_gic) {
		/* The board a VMM builds: a vGICv3 with one redistributor and an ITS. */
		uint64_t dist = GIC_DIST_BASE, redist = GIC_REDIST_BASE, its_base = GIC_ITS_BASE;
		uint32_t nr_irqs = 128;

		gic = create_device(vm, KVM_DEV_TYPE_ARM_VGIC_V3, 0);
		if (gic < 0 ||
		    set_dev_attr(gic, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_DIST, &dist) ||
		    set_dev_attr(gic, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_REDIST, &redist) ||
		    set_dev_attr(gic, KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, &nr_irqs)) {
			errno = gic < 0 ? -gic : errno;
			fail("guest: vGICv3 create and set addresses");
			goto out_run;
		}
		its = create_device(vm, KVM_DEV_TYPE_ARM_VGIC_ITS, 0);
		if (its < 0 ||
		    set_dev_attr(its, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_ITS_ADDR_TYPE, &its_base)) {
			errno = its < 0 ? -its : errno;
			fail("guest: ITS create and set address");
			goto out_run;
		}
		if (set_dev_attr(gic, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT, NULL)) {
			fail("guest: vGICv3 KVM_DEV_ARM_VGIC_CTRL_INIT");
			goto out_run;
		}
		if (set_dev_attr(its, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT, NULL)) {
			fail("guest: ITS KVM_DEV_ARM_VGIC_CTRL_INIT");
			goto out_run;
		}
		if (verbose)
			printf("guest: vGICv3 (dist 0x%llx, redist 0x%llx) and ITS (0x%llx) initialised\n",
			       GIC_DIST_BASE, GIC_REDIST_BASE, GIC_ITS_BASE);
	}
	t_gic = now_s();

	t_run0 = now_s();
	timed_out = 0;
	alarm(run_timeout_s);
	for (;;) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR && !timed_out)
				continue;
			if (timed_out) {
				printf("guest: still in KVM_RUN after %u s (%llu exits so far)\n",
				       run_timeout_s, (unsigned long long)n_exits);
				dump_vcpu(vcpu);
				errno = ETIMEDOUT;
			}
			alarm(0);
			fail("guest: KVM_RUN");
			goto out_run;
		}
		n_exits++;
		if (run->exit_reason == KVM_EXIT_MMIO) {
			if (!run->mmio.is_write || run->mmio.phys_addr != GUEST_MMIO_ADDR) {
				errno = EPROTO;
				fail("guest: unexpected MMIO exit");
				goto out_run;
			}
			n_mmio++;
			continue;
		}
		break;
	}
	alarm(0);
	t_end = now_s();
	if (run->exit_reason != KVM_EXIT_SYSTEM_EVENT ||
	    run->system_event.type != KVM_SYSTEM_EVENT_SHUTDOWN) {
		printf("guest: stopped with exit_reason %u (system_event.type %u)\n", run->exit_reason,
		       run->exit_reason == KVM_EXIT_SYSTEM_EVENT ? run->system_event.type : 0);
		errno = EPROTO;
		fail("guest: no KVM_EXIT_SYSTEM_EVENT SHUTDOWN");
		goto out_run;
	}
	printf("guest: KVM_EXIT_SYSTEM_EVENT (SHUTDOWN) after %llu loop iterations and %llu MMIO exits (%llu exits in all)\n",
	       (unsigned long long)loops, (unsigned long long)n_mmio, (unsigned long long)n_exits);
	if (verbose)
		printf("guest: time: KVM_CREATE_VM + memslot %.3f ms, vCPU create + init %.3f ms, GIC %.3f ms, KVM_RUN until SYSTEM_OFF %.3f ms\n",
		       (t_vm - t0) * 1e3, (t_vcpu - t_vm) * 1e3, (t_gic - t_vcpu) * 1e3,
		       (t_end - t_run0) * 1e3);
	*run_s = t_end - t_run0;
	ret = 0;
out_run:
	munmap(run, mmap_size);
out_vcpu:
	close(vcpu);
out_ram:
	munmap(ram, GUEST_RAM_SIZE);
out_vm:
	if (its >= 0)
		close(its);
	if (gic >= 0)
		close(gic);
	close(vm);
	return ret;
}

int main(int argc, char **argv)
{
	uint64_t loops = 10000000, mmio_exits = 10000;
	struct kvm_vcpu_init pref;
	int kvm, vm, ipa, ret, gic = 1;
	struct sigaction sa = { .sa_handler = on_alarm }; /* no SA_RESTART: KVM_RUN returns EINTR */

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--loops") && i + 1 < argc) {
			loops = strtoull(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--mmio-exits") && i + 1 < argc) {
			mmio_exits = strtoull(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--run-timeout") && i + 1 < argc) {
			run_timeout_s = strtoul(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--no-gic")) {
			gic = 0;
		} else {
			fprintf(stderr, "usage: %s [--loops N] [--mmio-exits N] [--run-timeout S] [--no-gic]\n",
				argv[0]);
			return 2;
		}
	}
	sigaction(SIGALRM, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		fail("open /dev/kvm");
		return 1;
	}
	printf("KVM_GET_API_VERSION: %d\n", ioctl(kvm, KVM_GET_API_VERSION, 0));
	check_caps(kvm, "/dev/kvm");
	ipa = ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_ARM_VM_IPA_SIZE);

	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0) {
		fail("KVM_CREATE_VM");
		return 1;
	}
	printf("KVM_CREATE_VM (type 0, 40-bit IPA): ok\n");
	check_caps(vm, "the VM");
	if (ipa > 0) {
		int vm2 = ioctl(kvm, KVM_CREATE_VM, KVM_VM_TYPE_ARM_IPA_SIZE(ipa));

		printf("KVM_CREATE_VM (KVM_VM_TYPE_ARM_IPA_SIZE(%d)): %s\n", ipa,
		       vm2 >= 0 ? "ok" : strerror(errno));
		if (vm2 >= 0)
			close(vm2);
	}
	memset(&pref, 0, sizeof(pref));
	if (ioctl(vm, KVM_ARM_PREFERRED_TARGET, &pref) < 0) {
		fail("KVM_ARM_PREFERRED_TARGET");
	} else {
		printf("KVM_ARM_PREFERRED_TARGET: %u (%s)\n", pref.target, target_name(pref.target));
	}
	ret = create_device(vm, KVM_DEV_TYPE_ARM_VGIC_V3, KVM_CREATE_DEVICE_TEST);
	printf("KVM_CREATE_DEVICE(KVM_DEV_TYPE_ARM_VGIC_V3, TEST): %s\n",
	       ret ? strerror(-ret) : "ok");
	if (ret) {
		errno = -ret;
		fail("KVM_CREATE_DEVICE(KVM_DEV_TYPE_ARM_VGIC_V3, TEST)");
	}
	ret = create_device(vm, KVM_DEV_TYPE_ARM_VGIC_ITS, KVM_CREATE_DEVICE_TEST);
	printf("KVM_CREATE_DEVICE(KVM_DEV_TYPE_ARM_VGIC_ITS, TEST): %s\n",
	       ret ? strerror(-ret) : "ok");
	ret = create_device(vm, KVM_DEV_TYPE_ARM_VGIC_V2, KVM_CREATE_DEVICE_TEST);
	printf("KVM_CREATE_DEVICE(KVM_DEV_TYPE_ARM_VGIC_V2, TEST): %s\n",
	       ret ? strerror(-ret) : "ok");
	close(vm);
	if (failures)
		return 1;

	/* The guest: bare (cold, then warm), then each part alone; rates from KVM_RUN times. */
	double t0 = now_s(), r_cold, r_bare, r_loop, r_mmio;
	if (run_guest(kvm, pref.target, 0, 0, gic, 1, &r_cold))
		return 1;
	printf("guest: cold: create + run to SYSTEM_OFF %.3f ms\n", (now_s() - t0) * 1e3);
	t0 = now_s();
	if (run_guest(kvm, pref.target, 0, 0, gic, 0, &r_bare))
		return 1;
	printf("guest: warm: create + run to SYSTEM_OFF %.3f ms (KVM_RUN %.3f ms)\n",
	       (now_s() - t0) * 1e3, r_bare * 1e3);
	if (loops) {
		if (run_guest(kvm, pref.target, loops, 0, gic, 0, &r_loop))
			return 1;
		printf("guest: loop: %.2f ns/iteration (3 instructions)\n",
		       (r_loop - r_bare) * 1e9 / loops);
	}
	if (mmio_exits) {
		if (run_guest(kvm, pref.target, 0, mmio_exits, gic, 0, &r_mmio))
			return 1;
		printf("guest: MMIO exit to userspace and back: %.2f us each\n",
		       (r_mmio - r_bare) * 1e6 / mmio_exits);
	}
	printf("result: ok\n");
	return 0;
}
