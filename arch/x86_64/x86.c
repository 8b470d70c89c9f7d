/* x86.c: the x86_64 arch interface: irqchip and platform devices, kernel loading, vCPU state. */
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cpuid.h>

#include "arch/x86_64/acpi.h"
#include "arch/x86_64/aml.h"
#include "arch/x86_64/boot.h"
#include "arch/x86_64/cpuid.h"
#include "arch/x86_64/layout.h"
#include "arch/x86_64/smbios.h"
#include "devices/acpi_pm.h"
#include "devices/boot_timer.h"
#include "devices/pci/host.h"
#include "devices/pci/plan.h"
#include "devices/pvpanic.h"
#include "devices/serial.h"
#include "vmm/arch.h"
#include "vmm/console.h"
#include "vmm/kvm.h"
#include "vmm/parse.h"
#include "vmm/util.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

/* MSR numbers (Intel SDM vol. 4). */
#define MSR_IA32_SYSENTER_CS		 0x174
#define MSR_IA32_SYSENTER_ESP		 0x175
#define MSR_IA32_SYSENTER_EIP		 0x176
#define MSR_IA32_MISC_ENABLE		 0x1a0
#define MSR_IA32_MISC_ENABLE_FAST_STRING 1
#define MSR_MTRR_DEF_TYPE		 0x2ff
#define MSR_STAR			 0xc0000081
#define MSR_LSTAR			 0xc0000082
#define MSR_CSTAR			 0xc0000083
#define MSR_SYSCALL_MASK		 0xc0000084
#define MSR_KERNEL_GS_BASE		 0xc0000102

#define X86_CR0_PE  0x1ull
#define X86_CR0_ET  0x10ull
#define X86_CR0_PG  0x80000000ull
#define X86_CR4_PAE 0x20ull
#define EFER_LME    0x100ull
#define EFER_LMA    0x400ull

/* Local APIC register offsets and delivery modes. */
#define APIC_LVT0	 0x350
#define APIC_LVT1	 0x360
#define APIC_MODE_NMI	 0x4
#define APIC_MODE_EXTINT 0x7

struct arch_vm {
	struct cpuid_entry *cpuid; /* as KVM_GET_SUPPORTED_CPUID gave it */
	size_t ncpuid;
	struct cpuid_edits edits; /* --cpu-features */
	bool has_edits;
	pthread_mutex_t cf8_lock;
	uint32_t cf8; /* PCI configuration address latch */
	struct serial serial; /* COM1, the console UART */
	bool serial_init;
	bool pvh;
	uint64_t entry;
	uint64_t boot_info; /* zero page or hvm_start_info */
};

static int x86_arch_alloc(struct vm *vm)
{
	if (vm->arch)
		return 0;
	vm->arch = calloc(1, sizeof(*vm->arch));
	if (!vm->arch)
		return -ENOMEM;
	pthread_mutex_init(&vm->arch->cf8_lock, NULL);
	return 0;
}

static int x86_get_supported_cpuid(struct vm *vm);

int arch_check_kvm(struct vm *vm)
{
	static const struct kvm_cap_need caps[] = {
		{KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
		{KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR"},
		{KVM_CAP_PIT2, "KVM_CAP_PIT2"},
		{KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE"},
	};
	int r;

	r = kvm_check_caps(&vm->log, vm->kvm_fd, caps, ARRAY_SIZE(caps));
	if (r < 0)
		return r;
	return x86_get_supported_cpuid(vm);
}

unsigned long arch_vm_type(struct vm *vm)
{
	return 0;
}

const char *arch_default_cmdline(void)
{
	return MICROVM_DEFAULT_CMDLINE;
}

/* ECAM sits above the low window, below the IOAPIC and LAPIC. */
#define X86_ECAM_BASE	   0xe0000000ull
#define X86_LOW_MMIO_FLOOR 0x80000000ull

int arch_pci_layout(struct vm *vm, struct pci_plan_input *in,
		    uint64_t *ecam_base)
{
	unsigned int eax, ebx, ecx, edx, bits = 36;
	int r = x86_arch_alloc(vm);

	if (r < 0)
		return r;
	/* The guest's address width is the host's as KVM reports it. */
	if (vm->kvm_fd >= 0 && !vm->arch->cpuid) {
		r = x86_get_supported_cpuid(vm);
		if (r < 0)
			return r;
	}
	if (vm->arch->cpuid)
		bits = cpuid_phys_bits(vm->arch->cpuid, vm->arch->ncpuid);
	else if (__get_cpuid(0x80000008, &eax, &ebx, &ecx, &edx))
		bits = eax & 0xff;
	in->low_top = X86_ECAM_BASE;
	in->low_floor = X86_LOW_MMIO_FLOOR;
	in->hole_default = X86_MMIO_HOLE_START;
	/* RAM above 4 GiB never exceeds all of RAM: a safe floor. */
	in->high_floor = X86_MMIO_HOLE_END + vm->cfg.memory;
	in->phys_bits = bits;
	*ecam_base = X86_ECAM_BASE;
	return 0;
}

int arch_irq_default_routes(struct kvm_irq_routing_entry *out,
			    unsigned int max, unsigned int *first_free_gsi)
{
	unsigned int n = 0;

	/* As KVM sets them up: GSIs 0-15 on the PICs and the IOAPIC, 16-23
	 * on the IOAPIC only. */
	for (unsigned int gsi = 0; gsi < 24; gsi++) {
		if (n + 2 > max)
			return -ENOSPC;
		out[n++] = (struct kvm_irq_routing_entry){
			.gsi = gsi,
			.type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = { KVM_IRQCHIP_IOAPIC, gsi },
		};
		if (gsi < 16)
			out[n++] = (struct kvm_irq_routing_entry){
				.gsi = gsi,
				.type = KVM_IRQ_ROUTING_IRQCHIP,
				.u.irqchip = { gsi < 8 ? KVM_IRQCHIP_PIC_MASTER :
							 KVM_IRQCHIP_PIC_SLAVE,
					       gsi % 8 },
			};
	}
	*first_free_gsi = 24;
	return (int)n;
}

/* GSIs 16-23: the IOAPIC pins no ISA device uses, level-triggered for PCI. */
unsigned int arch_pci_intx_gsi(unsigned int device, unsigned int pin)
{
	return 16 + (device + pin - 1) % 8;
}

uint32_t arch_irq_line_number(unsigned int gsi)
{
	return gsi;
}

/* x86 MSIs name their target in address and data; no device ID. */
void arch_msi_route_devid(struct vm *vm, struct kvm_irq_routing_entry *e,
			  uint32_t devid)
{
}

uint64_t arch_min_memory(void)
{
	return 2ull << 20;
}

int arch_mem_layout(struct vm *vm, uint64_t size, struct mem_region *out,
		    unsigned int max)
{
	uint64_t hole =
		vm->pci_plan ? vm->pci_plan->hole_start : X86_MMIO_HOLE_START;
	uint64_t low;
	int n = 0;

	/* Huge pages back RAM in 2 MiB units: end low RAM on one. */
	if (vm->cfg.hugepages)
		hole = ALIGN_DOWN(hole, 2ull << 20);
	low = size < hole ? size : hole;

	if (max < 2)
		return -EINVAL;
	out[n++] = (struct mem_region){.gpa = 0, .size = low};
	if (size > low)
		out[n++] = (struct mem_region){.gpa = X86_MMIO_HOLE_END,
					       .size = size - low};
	return n;
}

static int x86_get_supported_cpuid(struct vm *vm)
{
	struct kvm_cpuid2 *c = NULL;
	struct arch_vm *a;
	unsigned int nent = 256; /* KVM_MAX_CPUID_ENTRIES: one call */
	int r;

	r = x86_arch_alloc(vm);
	if (r < 0)
		return r;
	a = vm->arch;
	if (a->cpuid)
		return 0;
	for (;;) {
		free(c);
		c = calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));
		if (!c)
			return -ENOMEM;
		c->nent = nent;
		r = __kvm_ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID,
				(unsigned long)c);
		if (r != -E2BIG)
			break;
		nent *= 2;
		if (nent > 4096)
			break;
	}
	if (r < 0) {
		log_err(&vm->log, "cpuid", "KVM_GET_SUPPORTED_CPUID: %s",
			strerror(-r));
		free(c);
		return r;
	}
	a->cpuid = calloc(c->nent, sizeof(*a->cpuid));
	if (!a->cpuid) {
		free(c);
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < c->nent; i++) {
		const struct kvm_cpuid_entry2 *k = &c->entries[i];

		a->cpuid[i] = (struct cpuid_entry){
			k->function, k->index, k->flags, k->eax,
			k->ebx,	     k->ecx,   k->edx};
	}
	a->ncpuid = c->nent;
	free(c);
	return 0;
}

/*
 * The CPUID table of one vCPU: the host-supported table, topology for this
 * vCPU, then the --cpu-features edits (last, so that e.g. -hypervisor
 * sticks). `out` holds a->ncpuid + 4 entries; returns the count or -errno.
 */
static int x86_build_cpuid(struct vm *vm, unsigned int vcpu,
			   struct cpuid_entry *out, char *err, size_t errlen)
{
	struct arch_vm *a = vm->arch;
	size_t n = a->ncpuid;
	int r;

	memcpy(out, a->cpuid, n * sizeof(*out));
	r = cpuid_add_topology_subleaves(out, &n, a->ncpuid + 4);
	if (r < 0) {
		snprintf(err, errlen, "no room for topology leaves");
		return r;
	}
	cpuid_set_topology(out, n, vcpu, vm->cfg.cpus);
	if (a->has_edits) {
		r = cpuid_edits_apply(out, n, &a->edits, a->cpuid, a->ncpuid,
				      err, errlen);
		if (r < 0)
			return r;
	}
	return (int)n;
}

static int x86_setup_cpuid(struct vm *vm)
{
	struct arch_vm *a = vm->arch;
	struct cpuid_entry *probe;
	char err[256];
	int r;

	if (vm->cfg.cpu_features) {
		r = cpuid_edits_parse(vm->cfg.cpu_features, &a->edits, err,
				      sizeof(err));
		if (r < 0) {
			log_err(&vm->log, "cpuid", "--cpu-features: %s", err);
			return r;
		}
		a->has_edits = !cpuid_edits_empty(&a->edits);
	}
	/* Build vCPU 0's table now so bad edits fail before anything runs. */
	probe = calloc(a->ncpuid + 4, sizeof(*probe));
	if (!probe)
		return -ENOMEM;
	r = x86_build_cpuid(vm, 0, probe, err, sizeof(err));
	free(probe);
	if (r < 0) {
		log_err(&vm->log, "cpuid", "--cpu-features: %s", err);
		return r;
	}
	return 0;
}

/*
 * Ports 0xcf8-0xcff: the PCI configuration address (a dword at 0xcf8), the
 * reset control register (a byte at 0xcf9, as on PC chipsets) and the
 * configuration data (0xcfc-0xcff).
 */
static void x86_cf8_access(void *opaque, uint64_t offset, uint8_t *data,
			   unsigned int len, bool is_write)
{
	struct vm *vm = opaque;
	struct arch_vm *a = vm->arch;
	uint32_t addr;

	if (offset == 1 && len == 1) {
		acpi_pm_reset_access(&vm->machine, 0, data, len, is_write);
		return;
	}
	if (offset < 4) {
		pthread_mutex_lock(&a->cf8_lock);
		if (offset == 0 && len == 4) {
			if (is_write)
				memcpy(&a->cf8, data, 4);
			else
				memcpy(data, &a->cf8, 4);
		} else if (!is_write) {
			memset(data, 0xff, len);
		}
		pthread_mutex_unlock(&a->cf8_lock);
		return;
	}
	pthread_mutex_lock(&a->cf8_lock);
	addr = a->cf8;
	pthread_mutex_unlock(&a->cf8_lock);
	if (vm->pci)
		pci_conf1_data(&vm->pci->root, addr, (unsigned int)offset - 4,
			       data, len, is_write);
	else if (!is_write)
		memset(data, 0xff, len);
}

/* The PC board's fixed devices, composed on the machine interface. */
static int x86_board_devices(struct vm *vm)
{
	struct machine *m = &vm->machine;
	const struct {
		uint16_t port, len;
		bus_access_fn fn;
		void *opaque;
		const char *name;
	} pio[] = {
		{X86_COM1_PORT, 8, serial_access, &vm->arch->serial, "serial"},
		{X86_PVPANIC_PORT, 1, pvpanic_access, m, "pvpanic"},
		{X86_PM_PORT, 2, acpi_pm_sleep_access, m, "acpi-sleep"},
		{X86_PCI_CONF1_PORT, 8, x86_cf8_access, vm, "pci-conf1"},
		{X86_I8042_CMD_PORT, 1, i8042_access, m, "i8042"},
		{X86_DEBUG_PORT, 1, boot_timer_port_access, m, "debug-port"},
	};
	int r;

	for (size_t i = 0; i < sizeof(pio) / sizeof(pio[0]); i++) {
		r = m->ops->pio_map(m, pio[i].port, pio[i].len, pio[i].fn,
				    pio[i].opaque, pio[i].name);
		if (r < 0) {
			log_err(m->log, "vm", "port 0x%x for %s: %s",
				pio[i].port, pio[i].name, strerror(-r));
			return r;
		}
	}
	r = m->ops->mmio_map(m, X86_BOOT_TIMER_ADDR, 4096,
			     boot_timer_mmio_access, m, "boot-timer");
	if (r < 0)
		log_err(m->log, "vm", "boot timer: %s", strerror(-r));
	return r;
}

int arch_vm_init(struct vm *vm)
{
	struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
	uint64_t ident = X86_IDENTITY_MAP_ADDR;
	struct arch_vm *a;
	int r;

	if (vm->cfg.dump_fdt) {
		log_err(&vm->log, "vm",
			"--dump-fdt: x86_64 describes the machine with ACPI "
			"tables, not a device tree");
		return -EINVAL;
	}
	r = x86_arch_alloc(vm);
	if (r < 0)
		return r;
	a = vm->arch;
	r = kvm_ioctl(&vm->log, "vm", vm->vm_fd, KVM_SET_TSS_ADDR,
		      X86_TSS_ADDR);
	if (r < 0)
		return r;
	if (__kvm_ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION,
			KVM_CAP_SET_IDENTITY_MAP_ADDR) > 0) {
		r = kvm_ioctl(&vm->log, "vm", vm->vm_fd,
			      KVM_SET_IDENTITY_MAP_ADDR, &ident);
		if (r < 0)
			return r;
	}
	r = kvm_ioctl(&vm->log, "vm", vm->vm_fd, KVM_CREATE_IRQCHIP, 0);
	if (r < 0)
		return r;
	r = kvm_ioctl(&vm->log, "vm", vm->vm_fd, KVM_CREATE_PIT2, &pit);
	if (r < 0)
		return r;
	r = x86_setup_cpuid(vm);
	if (r < 0)
		return r;

	serial_init(&a->serial, &console_uart_ops, vm->console);
	a->serial_init = true;
	console_attach_uart(vm, serial_receive, &a->serial, X86_COM1_IRQ);
	return x86_board_devices(vm);
}

/* Guest RAM needed for `end` bytes of kernel/initrd plus early headroom. */
static int x86_check_memory(struct vm *vm, uint64_t need, const char *what)
{
	char have_s[32], need_s[32];

	/* Leave the kernel room for its early page tables and allocations. */
	need = ALIGN_UP(need + (8ull << 20), 1ull << 20);
	if (vm->cfg.memory >= need &&
	    guest_mem_region_end(&vm->mem, 0) >= need - (8ull << 20))
		return 0;
	format_size(vm->cfg.memory, have_s, sizeof(have_s));
	format_size(need, need_s, sizeof(need_s));
	log_err(&vm->log, "loader",
		"guest memory %s is too small for %s: it needs at least %s "
		"(use --memory)",
		have_s, what, need_s);
	return -EINVAL;
}

/* Copy `len` bytes at `off` of an input file to guest RAM at `gpa`. */
static int x86_copy_file(struct vm *vm, const struct mapped_file *f,
			 uint64_t off, uint64_t len, uint64_t gpa,
			 const char *what, const char *path)
{
	int r = file_load_to_guest(f, off, len, &vm->mem, gpa);

	if (r == -EFAULT)
		return r;
	if (r < 0)
		log_err(&vm->log, "loader", "%s '%s': reading it: %s", what,
			path, strerror(-r));
	return r;
}

/* Place the initrd as high as allowed in low RAM, above `floor`. */
static int x86_load_initrd(struct vm *vm, uint64_t floor, uint64_t max_addr,
			   uint64_t *gpa, uint64_t *size)
{
	struct mapped_file f;
	uint64_t top, at;
	int r;

	*gpa = *size = 0;
	if (!vm->cfg.initrd)
		return 0;
	r = file_map(&vm->log, "initrd", vm->cfg.initrd, &f);
	if (r < 0)
		return r;
	top = guest_mem_region_end(&vm->mem, 0);
	if (max_addr && top > max_addr + 1)
		top = max_addr + 1;
	at = f.size <= top ? ALIGN_DOWN(top - f.size, 4096) : 0;
	if (at < floor || f.size > top) {
		r = x86_check_memory(vm, floor + f.size,
				     "this kernel and initrd");
		if (!r) {
			log_err(&vm->log, "loader",
				"initrd '%s' (%zu bytes) does not fit below "
				"0x%llx",
				vm->cfg.initrd, f.size,
				(unsigned long long)top);
			r = -EINVAL;
		}
		goto out;
	}
	r = x86_copy_file(vm, &f, 0, f.size, at, "initrd", vm->cfg.initrd);
	if (r < 0)
		goto out;
	*gpa = at;
	*size = f.size;
out:
	file_unmap(&f);
	return r;
}

static int x86_write_cmdline(struct vm *vm, uint64_t max_len)
{
	size_t len = strlen(vm->cfg.cmdline);

	if (len > max_len || len >= X86_CMDLINE_MAX) {
		log_err(&vm->log, "loader",
			"kernel command line is %zu bytes; this kernel "
			"accepts at most %llu",
			len,
			(unsigned long long)(max_len < X86_CMDLINE_MAX - 1
						     ? max_len
						     : X86_CMDLINE_MAX - 1));
		return -E2BIG;
	}
	return guest_mem_write(&vm->mem, X86_CMDLINE_ADDR, vm->cfg.cmdline,
			       len + 1);
}

/* The PCIe host bridge and the ECAM reservation in the DSDT's \_SB_. */
static int x86_dsdt_pci(void *opaque, struct aml *a)
{
	struct vm *vm = opaque;
	const struct pci_plan *p = vm->pci_plan;
	uint64_t ecam_size = (uint64_t)(p->bus_last - p->bus_first + 1) << 20;

	aml_device_begin(a, "PCI0");
	aml_name_eisaid(a, "_HID", "PNP0A08");
	aml_name_eisaid(a, "_CID", "PNP0A03");
	aml_name_int(a, "_SEG", 0);
	aml_name_int(a, "_BBN", p->bus_first);
	aml_name_int(a, "_UID", 0);
	aml_name(a, "_CRS");
	aml_rt_begin(a);
	aml_word_bus_number(a, (uint16_t)p->bus_first, (uint16_t)p->bus_last);
	aml_dword_memory(a, AML_NON_CACHEABLE, true, (uint32_t)p->low.base,
			 (uint32_t)(p->low.base + p->low.size - 1), 0);
	if (p->high.size)
		aml_qword_memory(a, AML_PREFETCHABLE, true, p->high.base,
				 p->high.base + p->high.size - 1, 0);
	aml_end(a); /* ResourceTemplate */
	/*
	 * INTx routing of every root-bus device that carries root ports:
	 * Package {address (device << 16 | 0xffff), pin (0 = INTA), source
	 * 0, GSI}. Endpoints behind a port reach it through the swizzle.
	 */
	aml_name(a, "_PRT");
	aml_package_begin(a);
	for (unsigned int d = 0; d < (p->nports + 7) / 8 && d < 32; d++) {
		for (unsigned int pin = 0; pin < 4; pin++) {
			aml_package_begin(a);
			aml_int(a, (uint64_t)d << 16 | 0xffff);
			aml_int(a, pin);
			aml_int(a, 0);
			aml_int(a, arch_pci_intx_gsi(d, pin + 1));
			aml_end(a);
		}
	}
	aml_end(a); /* _PRT */
	aml_end(a); /* PCI0 */

	/* Motherboard resources: Linux wants ECAM reserved here. */
	aml_device_begin(a, "MRES");
	aml_name_eisaid(a, "_HID", "PNP0C02");
	aml_name_int(a, "_UID", 1);
	aml_name(a, "_CRS");
	aml_rt_begin(a);
	aml_memory32_fixed(a, false, (uint32_t)vm->ecam_base,
			   (uint32_t)ecam_size);
	aml_end(a);
	aml_end(a);
	return 0;
}

static int x86_write_acpi(struct vm *vm, uint64_t *rsdp)
{
	struct acpi_mcfg_entry mcfg = {
		.base = vm->ecam_base -
			((uint64_t)vm->pci_plan->bus_first << 20),
		.segment = 0,
		.start_bus = (uint8_t)vm->pci_plan->bus_first,
		.end_bus = (uint8_t)vm->pci_plan->bus_last,
	};
	struct acpi_config cfg;
	uint8_t *buf = guest_mem_ptr(&vm->mem, X86_ACPI_ADDR, X86_ACPI_SIZE);
	size_t used;
	int r;

	if (!buf)
		return -EFAULT;
	acpi_config_init(&cfg, vm->cfg.cpus);
	cfg.base = X86_ACPI_ADDR;
	cfg.lapic_addr = (uint32_t)X86_LAPIC_ADDR;
	cfg.ioapic_addr = (uint32_t)X86_IOAPIC_ADDR;
	cfg.sleep_ctl_port = X86_PM_PORT;
	cfg.sleep_sts_port = X86_PM_PORT + 1;
	cfg.reset_port = X86_RESET_PORT;
	cfg.reset_value = X86_RESET_VALUE;
	cfg.pvpanic_port = X86_PVPANIC_PORT;
	cfg.serial_port = X86_COM1_PORT;
	cfg.serial_irq = X86_COM1_IRQ;
	cfg.mcfg = &mcfg;
	cfg.nmcfg = 1;
	cfg.dsdt_sb_hook = x86_dsdt_pci;
	cfg.dsdt_sb_opaque = vm;
	r = acpi_build(&cfg, buf, X86_ACPI_SIZE, &used, rsdp);
	if (r < 0)
		log_err(&vm->log, "acpi", "building ACPI tables: %s",
			strerror(-r));
	return r;
}

static int x86_write_gdt_and_paging(struct vm *vm)
{
	int r = guest_mem_write(&vm->mem, X86_GDT_ADDR, x86_boot_gdt,
				sizeof(x86_boot_gdt));

	if (!r)
		r = x86_write_page_tables(&vm->mem, X86_PML4_ADDR,
					  X86_PDPT_ADDR, X86_PD_ADDR);
	return r;
}

static int x86_build_e820(struct vm *vm, struct e820_ent *e, unsigned int max)
{
	const struct pci_plan *p = vm->pci_plan;
	struct e820_ent ecam = {
		vm->ecam_base, (uint64_t)(p->bus_last - p->bus_first + 1) << 20,
		E820_RESERVED};
	int n = e820_build(&vm->mem, &ecam, 1, e, max);

	if (n < 0)
		log_err(&vm->log, "loader", "memory map too large");
	return n;
}

static int x86_write_smbios(struct vm *vm)
{
	uint8_t *buf = guest_mem_ptr(&vm->mem, X86_SMBIOS_ADDR,
				     X86_SMBIOS_SIZE);
	int r;

	if (!buf)
		return -EFAULT;
	r = smbios_build(buf, X86_SMBIOS_SIZE, X86_SMBIOS_ADDR,
			 microvm_version());
	if (r < 0)
		log_err(&vm->log, "smbios", "building SMBIOS: %s",
			strerror(-r));
	return r < 0 ? r : 0;
}

/*
 * The BIOS reset vector. There is no BIOS, yet Linux jumps here: with a
 * hardware-reduced FADT and no EFI, reboot_init() picks the EFI reboot
 * method, which falls through to machine_real_restart() (ljmp f000:fff0)
 * unless the command line says reboot=. Zeroes there would run for ever;
 * this real-mode stub resets through 0xcf9, then the i8042, as a PC's
 * firmware would, so a guest's default reboot and panic=N end the VM.
 */
static const uint8_t x86_reset_stub[] = {
	0xb0, 0x0e, /* mov al, 0x0e (hard reset, bit 2 starts it) */
	0xba, 0xf9, 0x0c, /* mov dx, 0xcf9 */
	0xee, /* out dx, al */
	0xb0, 0xfe, /* mov al, 0xfe */
	0xe6, 0x64, /* out 0x64, al (i8042: pulse reset) */
	0xfa, /* cli */
	0xf4, /* hlt */
	0xeb, 0xfd, /* jmp to the hlt */
};

static int x86_write_reset_vector(struct vm *vm)
{
	uint8_t *p = guest_mem_ptr(&vm->mem, X86_RESET_VECTOR,
				   sizeof(x86_reset_stub));

	if (!p)
		return -EFAULT;
	memcpy(p, x86_reset_stub, sizeof(x86_reset_stub));
	return 0;
}

/* Where a loader put the initrd and the boot tables, for its boot info. */
struct x86_boot_tables {
	uint64_t initrd_gpa, initrd_size, rsdp;
	struct e820_ent e820[32];
	int ne820;
};

/*
 * What every kernel format needs after the kernel itself is in place:
 * the initrd above `kernel_end`, the command line, ACPI, the e820 map,
 * the boot GDT and page tables.
 */
static int x86_load_common(struct vm *vm, uint64_t kernel_end,
			   uint64_t initrd_max, uint64_t cmdline_max,
			   struct x86_boot_tables *bt)
{
	int r;

	r = x86_load_initrd(vm, kernel_end, initrd_max, &bt->initrd_gpa,
			    &bt->initrd_size);
	if (!r)
		r = x86_write_cmdline(vm, cmdline_max);
	if (!r)
		r = x86_write_acpi(vm, &bt->rsdp);
	if (!r)
		r = x86_write_gdt_and_paging(vm);
	if (!r)
		r = x86_write_smbios(vm);
	if (!r)
		r = x86_write_reset_vector(vm);
	if (r < 0)
		return r;
	bt->ne820 = x86_build_e820(vm, bt->e820, ARRAY_SIZE(bt->e820));
	return bt->ne820 < 0 ? bt->ne820 : 0;
}

static int x86_load_bzimage(struct vm *vm, const struct mapped_file *k)
{
	struct arch_vm *a = vm->arch;
	struct bzimage_info bz;
	struct x86_boot_tables bt;
	uint64_t kernel_end;
	uint8_t *zp;
	char err[256];
	int r;

	r = bzimage_parse(k->data, k->size, &bz, err, sizeof(err));
	if (r < 0) {
		log_err(&vm->log, "loader", "kernel '%s': %s", vm->cfg.kernel,
			err);
		return r;
	}
	/*
	 * We load the protected-mode part at 1 MiB; it decompresses itself to
	 * pref_address (or above) and needs init_size bytes there.
	 */
	kernel_end = X86_HIMEM_START + bz.kernel_size;
	if (bz.pref_address + bz.init_size > kernel_end)
		kernel_end = bz.pref_address + bz.init_size;
	r = x86_check_memory(vm, kernel_end, "this kernel");
	if (r < 0)
		return r;
	r = x86_copy_file(vm, k, bz.setup_size, bz.kernel_size,
			  X86_HIMEM_START, "kernel", vm->cfg.kernel);
	if (r < 0)
		return r;
	r = x86_load_common(vm, kernel_end, bz.initrd_addr_max,
			    bz.cmdline_size ? bz.cmdline_size : 255, &bt);
	if (r < 0)
		return r;
	zp = guest_mem_ptr(&vm->mem, X86_ZERO_PAGE_ADDR, 4096);
	if (!zp)
		return -EFAULT;
	r = bzimage_boot_params(zp, k->data, k->size, X86_CMDLINE_ADDR,
				bt.initrd_gpa, bt.initrd_size, bt.e820,
				(unsigned int)bt.ne820, bt.rsdp);
	if (r < 0)
		return r;
	a->pvh = false;
	a->entry = X86_HIMEM_START + 0x200; /* startup_64 */
	a->boot_info = X86_ZERO_PAGE_ADDR;
	log_info(&vm->log, "loader",
		 "bzImage protocol %u.%02u, %zu bytes at 0x%llx, "
		 "decompresses to 0x%llx (+%u); initrd %llu bytes at 0x%llx",
		 bz.version >> 8, bz.version & 0xff, bz.kernel_size,
		 (unsigned long long)X86_HIMEM_START,
		 (unsigned long long)bz.pref_address, bz.init_size,
		 (unsigned long long)bt.initrd_size,
		 (unsigned long long)bt.initrd_gpa);
	return 0;
}

static int x86_load_pvh_elf(struct vm *vm, const struct mapped_file *k)
{
	struct arch_vm *a = vm->arch;
	struct elf_kernel ek;
	struct x86_boot_tables bt;
	struct hvm_start_info si = {0};
	struct hvm_modlist_entry mod = {0};
	struct hvm_memmap_entry mm[32];
	char err[256];
	int r;

	r = elf_kernel_parse(k->data, k->size, &ek, err, sizeof(err));
	if (r < 0) {
		log_err(&vm->log, "loader", "kernel '%s': %s", vm->cfg.kernel,
			err);
		return r;
	}
	r = x86_check_memory(vm, ek.highest, "this kernel");
	if (r < 0)
		return r;
	for (unsigned int i = 0; i < ek.nloads; i++) {
		uint8_t *dst = guest_mem_ptr(&vm->mem, ek.load[i].paddr,
					     ek.load[i].memsz);

		if (!dst) {
			log_err(&vm->log, "loader",
				"kernel segment at 0x%llx is outside guest "
				"RAM",
				(unsigned long long)ek.load[i].paddr);
			return -EFAULT;
		}
		r = x86_copy_file(vm, k, ek.load[i].offset, ek.load[i].filesz,
				  ek.load[i].paddr, "kernel", vm->cfg.kernel);
		if (r < 0)
			return r;
		memset(dst + ek.load[i].filesz, 0,
		       ek.load[i].memsz - ek.load[i].filesz);
	}
	r = x86_load_common(vm, ek.highest, 0xffffffffull, X86_CMDLINE_MAX - 1,
			    &bt);
	if (r < 0)
		return r;
	for (int i = 0; i < bt.ne820; i++)
		mm[i] = (struct hvm_memmap_entry){
			bt.e820[i].addr, bt.e820[i].size, bt.e820[i].type, 0};
	si.magic = HVM_START_MAGIC;
	si.version = 1;
	si.cmdline_paddr = X86_CMDLINE_ADDR;
	si.rsdp_paddr = bt.rsdp;
	si.memmap_paddr = X86_PVH_MEMMAP_ADDR;
	si.memmap_entries = (uint32_t)bt.ne820;
	if (bt.initrd_size) {
		mod.paddr = bt.initrd_gpa;
		mod.size = bt.initrd_size;
		si.nr_modules = 1;
		si.modlist_paddr = X86_PVH_INFO_ADDR + sizeof(si);
	}
	r = guest_mem_write(&vm->mem, X86_PVH_INFO_ADDR, &si, sizeof(si));
	if (!r)
		r = guest_mem_write(&vm->mem, X86_PVH_INFO_ADDR + sizeof(si),
				    &mod, sizeof(mod));
	if (!r)
		r = guest_mem_write(&vm->mem, X86_PVH_MEMMAP_ADDR, mm,
				    (uint64_t)bt.ne820 * sizeof(mm[0]));
	if (r < 0)
		return r;
	a->pvh = true;
	a->entry = ek.pvh_entry;
	a->boot_info = X86_PVH_INFO_ADDR;
	log_info(&vm->log, "loader",
		 "ELF kernel, PVH entry 0x%x, loads 0x%llx-0x%llx; initrd "
		 "%llu bytes at 0x%llx",
		 ek.pvh_entry, (unsigned long long)ek.lowest,
		 (unsigned long long)ek.highest,
		 (unsigned long long)bt.initrd_size,
		 (unsigned long long)bt.initrd_gpa);
	return 0;
}

int arch_load_kernel(struct vm *vm)
{
	struct mapped_file k;
	int r;

	r = file_map(&vm->log, "kernel", vm->cfg.kernel, &k);
	if (r < 0)
		return r;
	if (elf_is_elf(k.data, k.size))
		r = x86_load_pvh_elf(vm, &k);
	else
		r = x86_load_bzimage(vm, &k);
	file_unmap(&k);
	return r;
}

static int x86_vcpu_cpuid(struct vcpu *vcpu)
{
	struct arch_vm *a = vcpu->vm->arch;
	struct kvm_cpuid2 *c;
	struct cpuid_entry *e;
	char err[256];
	int n, r;

	e = calloc(a->ncpuid + 4, sizeof(*e));
	c = calloc(1, sizeof(*c) + (a->ncpuid + 4) * sizeof(c->entries[0]));
	if (!e || !c) {
		r = -ENOMEM;
		goto out;
	}
	n = x86_build_cpuid(vcpu->vm, vcpu->id, e, err, sizeof(err));
	if (n < 0) {
		log_err(&vcpu->vm->log, vcpu->name, "CPUID: %s", err);
		r = n;
		goto out;
	}
	c->nent = (uint32_t)n;
	for (int i = 0; i < n; i++) {
		c->entries[i].function = e[i].function;
		c->entries[i].index = e[i].index;
		c->entries[i].flags = e[i].flags;
		c->entries[i].eax = e[i].eax;
		c->entries[i].ebx = e[i].ebx;
		c->entries[i].ecx = e[i].ecx;
		c->entries[i].edx = e[i].edx;
	}
	r = kvm_ioctl(&vcpu->vm->log, vcpu->name, vcpu->fd, KVM_SET_CPUID2, c);
out:
	free(e);
	free(c);
	return r;
}

static int x86_vcpu_msrs(struct vcpu *vcpu)
{
	static const struct {
		uint32_t index;
		uint64_t data;
	} init[] = {
		{MSR_IA32_SYSENTER_CS, 0},
		{MSR_IA32_SYSENTER_ESP, 0},
		{MSR_IA32_SYSENTER_EIP, 0},
		{MSR_STAR, 0},
		{MSR_CSTAR, 0},
		{MSR_KERNEL_GS_BASE, 0},
		{MSR_SYSCALL_MASK, 0},
		{MSR_LSTAR, 0},
		{MSR_IA32_MISC_ENABLE, MSR_IA32_MISC_ENABLE_FAST_STRING},
		{MSR_MTRR_DEF_TYPE, (1u << 11) | 6}, /* enabled, WB */
	};
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[ARRAY_SIZE(init)];
	} m;
	int r;

	memset(&m, 0, sizeof(m));
	m.hdr.nmsrs = ARRAY_SIZE(init);
	for (size_t i = 0; i < ARRAY_SIZE(init); i++) {
		m.e[i].index = init[i].index;
		m.e[i].data = init[i].data;
	}
	r = kvm_ioctl(&vcpu->vm->log, vcpu->name, vcpu->fd, KVM_SET_MSRS, &m);
	if (r >= 0 && r != (int)ARRAY_SIZE(init)) {
		log_err(&vcpu->vm->log, vcpu->name,
			"KVM_SET_MSRS: set %d of %zu MSRs (failed at 0x%x)", r,
			ARRAY_SIZE(init), init[r].index);
		return -EIO;
	}
	return r < 0 ? r : 0;
}

static void seg(struct kvm_segment *s, uint16_t sel, uint8_t type, bool l,
		bool db)
{
	*s = (struct kvm_segment){.base = 0,
				  .limit = 0xffffffff,
				  .selector = sel,
				  .type = type,
				  .present = 1,
				  .dpl = 0,
				  .db = db,
				  .s = 1,
				  .l = l,
				  .g = 1};
}

static int x86_vcpu_boot_regs(struct vcpu *vcpu)
{
	struct arch_vm *a = vcpu->vm->arch;
	const struct logger *lg = &vcpu->vm->log;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_fpu fpu;
	struct kvm_segment data;
	int r;

	r = kvm_ioctl(lg, vcpu->name, vcpu->fd, KVM_GET_SREGS, &sregs);
	if (r < 0)
		return r;
	sregs.gdt.base = X86_GDT_ADDR;
	sregs.gdt.limit = sizeof(x86_boot_gdt) - 1;
	sregs.idt.base = 0;
	sregs.idt.limit = 0;
	seg(&data, 0x18, 3, false, true);
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	if (a->pvh) {
		/* PVH: 32-bit protected mode, paging off. */
		seg(&sregs.cs, 0x20, 11, false, true);
		sregs.cr0 = X86_CR0_PE | X86_CR0_ET;
		sregs.cr4 = 0;
		sregs.efer = 0;
	} else {
		/* 64-bit boot protocol: long mode, identity-mapped. */
		seg(&sregs.cs, 0x10, 11, true, false);
		sregs.cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_PG;
		sregs.cr3 = X86_PML4_ADDR;
		sregs.cr4 = X86_CR4_PAE;
		sregs.efer = EFER_LME | EFER_LMA;
	}
	r = kvm_ioctl(lg, vcpu->name, vcpu->fd, KVM_SET_SREGS, &sregs);
	if (r < 0)
		return r;

	memset(&regs, 0, sizeof(regs));
	regs.rflags = 0x2;
	regs.rip = a->entry;
	regs.rsp = regs.rbp = X86_BOOT_STACK;
	if (a->pvh)
		regs.rbx = a->boot_info;
	else
		regs.rsi = a->boot_info;
	r = kvm_ioctl(lg, vcpu->name, vcpu->fd, KVM_SET_REGS, &regs);
	if (r < 0)
		return r;

	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;
	fpu.mxcsr = 0x1f80;
	return kvm_ioctl(lg, vcpu->name, vcpu->fd, KVM_SET_FPU, &fpu);
}

static void lapic_set_lvt_mode(struct kvm_lapic_state *l, int reg,
			       uint32_t mode)
{
	uint32_t v;

	memcpy(&v, &l->regs[reg], 4);
	v = (v & ~0x700u) | (mode << 8);
	memcpy(&l->regs[reg], &v, 4);
}

static int x86_vcpu_lapic(struct vcpu *vcpu)
{
	struct kvm_lapic_state l;
	int r;

	r = kvm_ioctl(&vcpu->vm->log, vcpu->name, vcpu->fd, KVM_GET_LAPIC, &l);
	if (r < 0)
		return r;
	/* Wire LINT0 to the PIC (ExtINT) and LINT1 to NMI, as firmware does. */
	lapic_set_lvt_mode(&l, APIC_LVT0, APIC_MODE_EXTINT);
	lapic_set_lvt_mode(&l, APIC_LVT1, APIC_MODE_NMI);
	return kvm_ioctl(&vcpu->vm->log, vcpu->name, vcpu->fd, KVM_SET_LAPIC,
			 &l);
}

int arch_vcpu_init(struct vcpu *vcpu)
{
	int r = x86_vcpu_cpuid(vcpu);

	if (!r)
		r = x86_vcpu_msrs(vcpu);
	if (!r)
		r = x86_vcpu_lapic(vcpu);
	/* Application processors wait for INIT/SIPI from the BSP. */
	if (!r && vcpu->id == 0)
		r = x86_vcpu_boot_regs(vcpu);
	return r;
}

/* Nothing waits for all vCPUs: ACPI tables were written with the kernel. */
int arch_vcpus_created(struct vm *vm)
{
	return 0;
}

int arch_vcpu_exit(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;

	if (run->exit_reason == KVM_EXIT_HLT) {
		vm_request_exit(vcpu->vm, MICROVM_EXIT_ERROR, (int)vcpu->id,
				-EIO, "%s halted with no irqchip to wake it",
				vcpu->name);
		return 1;
	}
	vm_request_exit(vcpu->vm, MICROVM_EXIT_ERROR, (int)vcpu->id, -EIO,
			"%s: unexpected KVM exit reason %u", vcpu->name,
			run->exit_reason);
	return 1;
}

int arch_vcpu_halted_irqs_off(struct vcpu *vcpu)
{
	struct kvm_mp_state mp;
	struct kvm_regs regs;

	int r = __kvm_ioctl(vcpu->fd, KVM_GET_MP_STATE, (unsigned long)&mp);

	if (!r)
		r = __kvm_ioctl(vcpu->fd, KVM_GET_REGS, (unsigned long)&regs);
	if (r < 0)
		return r;
	/* An AP never started, or parked for a SIPI, waits on other vCPUs. */
	if (mp.mp_state == KVM_MP_STATE_UNINITIALIZED ||
	    mp.mp_state == KVM_MP_STATE_INIT_RECEIVED)
		return 1;
	return mp.mp_state == KVM_MP_STATE_HALTED &&
	       !(regs.rflags & (1u << 9)); /* RFLAGS.IF */
}

void arch_describe_internal_error(struct vcpu *vcpu, char *buf, size_t len)
{
	struct kvm_run *run = vcpu->run;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_translation tr;
	uint8_t insn[16];
	size_t off;
	int ninsn = 0;

	off = (size_t)snprintf(
		buf, len, "KVM internal error on %s: %s (suberror %u)",
		vcpu->name, kvm_internal_suberror_name(run->internal.suberror),
		run->internal.suberror);
	if (__kvm_ioctl(vcpu->fd, KVM_GET_REGS, (unsigned long)&regs) < 0 ||
	    __kvm_ioctl(vcpu->fd, KVM_GET_SREGS, (unsigned long)&sregs) < 0)
		return;
	tr = (struct kvm_translation){.linear_address =
					      sregs.cs.base + regs.rip};
	if (__kvm_ioctl(vcpu->fd, KVM_TRANSLATE, (unsigned long)&tr) == 0 &&
	    tr.valid) {
		for (ninsn = 0; ninsn < (int)sizeof(insn); ninsn++) {
			if (guest_mem_read(&vcpu->vm->mem,
					   tr.physical_address +
						   (uint64_t)ninsn,
					   &insn[ninsn], 1) < 0)
				break;
		}
	}
	if (off < len)
		off += (size_t)snprintf(
			buf + off, len - off, " at RIP 0x%llx (CPL %u)",
			(unsigned long long)regs.rip, sregs.cs.dpl);
	if (ninsn && off < len) {
		off += (size_t)snprintf(buf + off, len - off,
					"; instruction bytes:");
		for (int i = 0; i < ninsn && off < len; i++)
			off += (size_t)snprintf(buf + off, len - off, " %02x",
						insn[i]);
	}
}

void arch_vm_destroy(struct vm *vm)
{
	if (!vm->arch)
		return;
	pthread_mutex_destroy(&vm->arch->cf8_lock);
	if (vm->arch->serial_init)
		serial_destroy(&vm->arch->serial);
	free(vm->arch->cpuid);
	free(vm->arch);
	vm->arch = NULL;
}
