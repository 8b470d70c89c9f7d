/* cpu.c: aarch64 vCPUs: KVM_ARM_VCPU_INIT with PSCI, the boot vCPU's registers, exits, halts and internal errors. */
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>

#include "arch/aarch64/aarch64.h"
#include "arch/aarch64/mmu.h"
#include "vmm/arch.h"
#include "vmm/kvm.h"
#include "vmm/vm.h"

/* KVM_{GET,SET}_ONE_REG ids: core registers by their kvm_regs offset. */
#define A64_CORE_REG(r)                                        \
	(KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | \
	 KVM_REG_ARM_CORE_REG(r))
#define A64_REG_X0     A64_CORE_REG(regs.regs[0])
#define A64_REG_PC     A64_CORE_REG(regs.pc)
#define A64_REG_PSTATE A64_CORE_REG(regs.pstate)
/* x1, x2, ...: kvm_regs is counted in 32-bit words, a register is two. */
#define A64_REG_X(n) (A64_REG_X0 + 2 * (uint64_t)(n))

/* System registers (op0, op1, CRn, CRm, op2). */
#define A64_REG_MPIDR_EL1 ARM64_SYS_REG(3, 0, 0, 0, 5)
#define A64_REG_SCTLR_EL1 ARM64_SYS_REG(3, 0, 1, 0, 0)
#define A64_REG_TTBR0_EL1 ARM64_SYS_REG(3, 0, 2, 0, 0)
#define A64_REG_TTBR1_EL1 ARM64_SYS_REG(3, 0, 2, 0, 1)
#define A64_REG_TCR_EL1	  ARM64_SYS_REG(3, 0, 2, 0, 2)

static int a64_get_reg(int fd, uint64_t id, uint64_t *val)
{
	struct kvm_one_reg r = {.id = id, .addr = (uint64_t)(uintptr_t)val};

	return __kvm_ioctl(fd, KVM_GET_ONE_REG, (unsigned long)&r);
}

static int a64_set_reg(struct vcpu *vcpu, uint64_t id, uint64_t val,
		       const char *what)
{
	struct kvm_one_reg r = {.id = id, .addr = (uint64_t)(uintptr_t)&val};
	int rc = __kvm_ioctl(vcpu->fd, KVM_SET_ONE_REG, (unsigned long)&r);

	if (rc < 0)
		log_err(&vcpu->vm->log, vcpu->name, "KVM_SET_ONE_REG (%s): %s",
			what, strerror(-rc));
	return rc;
}

/*
 * The boot protocol's entry state (booting.rst, "Call the kernel
 * image"): EL1h with D, A, I and F masked, the MMU off (KVM's reset
 * state), x0 = the device tree, x1-x3 = 0, at the Image's first byte.
 */
static int a64_boot_regs(struct vcpu *vcpu)
{
	const struct arch_vm *a = vcpu->vm->arch;
	const uint64_t pstate =
		PSR_MODE_EL1h | PSR_D_BIT | PSR_A_BIT | PSR_I_BIT | PSR_F_BIT;
	int r;

	r = a64_set_reg(vcpu, A64_REG_PSTATE, pstate, "PSTATE");
	if (!r)
		r = a64_set_reg(vcpu, A64_REG_X0, a->fdt_addr, "x0");
	for (unsigned int i = 1; !r && i <= 3; i++)
		r = a64_set_reg(vcpu, A64_REG_X(i), 0, "x1-x3");
	if (!r)
		r = a64_set_reg(vcpu, A64_REG_PC, a->entry, "PC");
	return r;
}

int arch_vcpu_init(struct vcpu *vcpu)
{
	struct arch_vm *a = vcpu->vm->arch;
	struct kvm_vcpu_init init = a->vcpu_init;
	int r;

	/*
	 * Secondaries start powered off; the guest's PSCI CPU_ON (handled in
	 * KVM) sets their entry point and context and starts them.
	 */
	if (vcpu->id)
		init.features[0] |= 1u << KVM_ARM_VCPU_POWER_OFF;
	r = kvm_ioctl(&vcpu->vm->log, vcpu->name, vcpu->fd, KVM_ARM_VCPU_INIT,
		      &init);
	if (r < 0)
		return r;
	/* KVM gives each vCPU its MPIDR at reset; the device tree names it. */
	r = a64_get_reg(vcpu->fd, A64_REG_MPIDR_EL1, &a->mpidr[vcpu->id]);
	if (r < 0) {
		log_err(&vcpu->vm->log, vcpu->name,
			"KVM_GET_ONE_REG (MPIDR_EL1): %s", strerror(-r));
		return r;
	}
	return vcpu->id ? 0 : a64_boot_regs(vcpu);
}

int arch_vcpu_exit(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint64_t pc = 0;

	if (run->exit_reason == KVM_EXIT_ARM_NISV) {
		/*
		 * KVM_CAP_ARM_NISV_TO_USER: an MMIO access whose instruction
		 * leaves no syndrome to emulate it from (a load/store pair,
		 * writeback addressing, SIMD registers). The guest cannot go
		 * on past it.
		 */
		(void)!a64_get_reg(vcpu->fd, A64_REG_PC, &pc);
		vm_request_exit(
			vcpu->vm, MICROVM_EXIT_ERROR, (int)vcpu->id, -EIO,
			"%s: MMIO access at 0x%llx with an instruction "
			"KVM cannot emulate (no valid syndrome; ESR "
			"ISS 0x%llx) at PC 0x%llx",
			vcpu->name, (unsigned long long)run->arm_nisv.fault_ipa,
			(unsigned long long)run->arm_nisv.esr_iss,
			(unsigned long long)pc);
		return 1;
	}
	vm_request_exit(vcpu->vm, MICROVM_EXIT_ERROR, (int)vcpu->id, -EIO,
			"%s: unexpected KVM exit reason %u", vcpu->name,
			run->exit_reason);
	return 1;
}

/*
 * On arm64 a vCPU idles in WFI with PSTATE.I set (Linux's idle loop masks
 * interrupts around WFI, which still wakes on a pending one), and KVM does
 * not report WFI as an MP state: neither says a vCPU is stuck. What only
 * another vCPU can undo is PSCI power-off (CPU_OFF, or a secondary never
 * started): KVM_MP_STATE_STOPPED. Linux's `halt -f` spins with interrupts
 * off on the CPU that ran it and parks the others in WFI, so it is not
 * noticed here; poweroff (PSCI SYSTEM_OFF) is how arm64 guests stop.
 */
int arch_vcpu_halted_irqs_off(struct vcpu *vcpu)
{
	struct kvm_mp_state mp;
	int r = __kvm_ioctl(vcpu->fd, KVM_GET_MP_STATE, (unsigned long)&mp);

	if (r < 0)
		return r;
	return mp.mp_state == KVM_MP_STATE_STOPPED;
}

static int a64_read_guest64(void *opaque, uint64_t pa, uint64_t *val)
{
	return guest_mem_read(opaque, pa, val, sizeof(*val));
}

void arch_describe_internal_error(struct vcpu *vcpu, char *buf, size_t len)
{
	struct kvm_run *run = vcpu->run;
	struct a64_mmu_regs mmu = {0};
	uint64_t pc, pstate, pa;
	uint32_t insn;
	size_t off;
	int r;

	off = (size_t)snprintf(
		buf, len, "KVM internal error on %s: %s (suberror %u)",
		vcpu->name, kvm_internal_suberror_name(run->internal.suberror),
		run->internal.suberror);
	if (off >= len || a64_get_reg(vcpu->fd, A64_REG_PC, &pc) < 0 ||
	    a64_get_reg(vcpu->fd, A64_REG_PSTATE, &pstate) < 0)
		return;
	off += (size_t)snprintf(buf + off, len - off,
				" at PC 0x%llx (%s, PSTATE 0x%llx)",
				(unsigned long long)pc,
				pstate & PSR_MODE32_BIT	   ? "AArch32"
				: ((pstate >> 2) & 3) == 0 ? "EL0"
							   : "EL1",
				(unsigned long long)pstate);
	if (off >= len)
		return;
	/* The instruction: PC is a virtual address once the MMU is on. */
	r = a64_get_reg(vcpu->fd, A64_REG_SCTLR_EL1, &mmu.sctlr);
	if (!r)
		r = a64_get_reg(vcpu->fd, A64_REG_TCR_EL1, &mmu.tcr);
	if (!r)
		r = a64_get_reg(vcpu->fd, A64_REG_TTBR0_EL1, &mmu.ttbr0);
	if (!r)
		r = a64_get_reg(vcpu->fd, A64_REG_TTBR1_EL1, &mmu.ttbr1);
	if (!r)
		r = a64_translate(&mmu, pc, a64_read_guest64, &vcpu->vm->mem,
				  &pa);
	if (!r)
		r = guest_mem_read(&vcpu->vm->mem, pa, &insn, sizeof(insn));
	if (!r)
		snprintf(buf + off, len - off, "; instruction 0x%08x at 0x%llx",
			 insn, (unsigned long long)pa);
	else
		snprintf(buf + off, len - off,
			 "; instruction not readable (%s)", strerror(-r));
}
