//! Raw FFI declarations: `#[repr(C)]` mirrors of everything in
//! `include/microvm.h`. Prefer the safe API in the crate root.
//!
//! C enums are given as their integer type plus constants (GCC makes an
//! enum without negative values an `unsigned int`), so a value this binding
//! does not know can never be undefined behaviour.
#![allow(non_camel_case_types)]

use std::os::raw::{c_char, c_int, c_uint, c_void};

/// `pid_t` on Linux.
pub type pid_t = c_int;

/// Opaque VM handle.
#[repr(C)]
pub struct microvm {
    _private: [u8; 0],
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct microvm_disk {
    pub path: *const c_char,
    pub readonly: bool,
    pub id: *const c_char,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct microvm_net {
    pub tap: *const c_char,
    pub mac: [u8; 6],
    pub mac_set: bool,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct microvm_vsock {
    pub guest_cid: u32,
    pub uds: *const c_char,
    pub vhost: bool,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct microvm_vfio {
    pub bdf: *const c_char,
    pub id: *const c_char,
}

pub type microvm_log_level = c_uint;
pub const MICROVM_LOG_ERROR: microvm_log_level = 0;
pub const MICROVM_LOG_WARN: microvm_log_level = 1;
pub const MICROVM_LOG_INFO: microvm_log_level = 2;
pub const MICROVM_LOG_DEBUG: microvm_log_level = 3;

pub type microvm_log_fn = Option<
    unsafe extern "C" fn(
        opaque: *mut c_void,
        level: microvm_log_level,
        dev: *const c_char,
        msg: *const c_char,
    ),
>;

pub type microvm_console = c_uint;
pub const MICROVM_CONSOLE_NONE: microvm_console = 0;
pub const MICROVM_CONSOLE_FDS: microvm_console = 1;

pub type microvm_exit_fn =
    Option<unsafe extern "C" fn(opaque: *mut c_void, exit: *const microvm_exit)>;

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct microvm_config {
    pub size: usize,

    pub kernel: *const c_char,
    pub initrd: *const c_char,
    pub cmdline: *const c_char,
    pub cpus: c_uint,
    pub memory: u64,
    pub hugepages: bool,
    pub cpu_features: *const c_char,

    pub pcie_root_ports: c_uint,
    pub acs_off: bool,
    pub acs_mask: u16,
    pub low_mmio: u64,
    pub high_mmio: u64,
    pub pcie_bus_first: c_uint,
    pub pcie_bus_last: c_uint,
    pub disks: *const microvm_disk,
    pub ndisks: c_uint,
    pub nets: *const microvm_net,
    pub nnets: c_uint,
    pub vsock: *const microvm_vsock,
    pub virtio_console: bool,
    pub rng: bool,
    pub vfio: *const microvm_vfio,
    pub nvfio: c_uint,
    pub pci_testdevs: *const *const c_char,
    pub n_pci_testdevs: c_uint,

    pub console: microvm_console,
    pub console_in_fd: c_int,
    pub console_out_fd: c_int,
    pub console_escape: u8,

    pub log_fn: microvm_log_fn,
    pub log_opaque: *mut c_void,
    pub log_level: microvm_log_level,

    pub kick_signal: c_int,

    pub on_exit: microvm_exit_fn,
    pub on_exit_opaque: *mut c_void,

    pub vcpu_cgroup: *const c_char,
    pub memory_cgroup: *const c_char,
    pub prefault: bool,

    pub dump_fdt: *const c_char,
    pub vfio_iommu: microvm_vfio_iommu,
}

pub type microvm_vfio_iommu = c_uint;
pub const MICROVM_VFIO_IOMMU_AUTO: microvm_vfio_iommu = 0;
pub const MICROVM_VFIO_IOMMU_IOMMUFD: microvm_vfio_iommu = 1;
pub const MICROVM_VFIO_IOMMU_LEGACY: microvm_vfio_iommu = 2;

pub const MICROVM_MAX_CPUS: usize = 254;
pub const MICROVM_DEFAULT_CMDLINE: &str = "console=ttyS0 reboot=k panic=-1";

pub type microvm_exit_reason = c_uint;
pub const MICROVM_EXIT_NONE: microvm_exit_reason = 0;
pub const MICROVM_EXIT_POWEROFF: microvm_exit_reason = 1;
pub const MICROVM_EXIT_REBOOT: microvm_exit_reason = 2;
pub const MICROVM_EXIT_PANIC: microvm_exit_reason = 3;
pub const MICROVM_EXIT_TRIPLE_FAULT: microvm_exit_reason = 4;
pub const MICROVM_EXIT_STOPPED: microvm_exit_reason = 5;
pub const MICROVM_EXIT_ERROR: microvm_exit_reason = 6;
pub const MICROVM_EXIT_HALTED: microvm_exit_reason = 7;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct microvm_exit {
    pub size: usize,
    pub reason: microvm_exit_reason,
    pub vcpu: c_int,
    pub error: c_int,
    pub message: [c_char; 256],
}

impl microvm_exit {
    /// `MICROVM_EXIT_INIT`: zeroed, with `size` set.
    pub fn init() -> Self {
        microvm_exit {
            size: std::mem::size_of::<microvm_exit>(),
            reason: MICROVM_EXIT_NONE,
            vcpu: 0,
            error: 0,
            message: [0; 256],
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct microvm_device_info {
    pub size: usize,
    pub name: [c_char; 32],
    pub bdf: [c_char; 16],
    pub pci_path: [c_char; 16],
    pub root_port_bdf: [c_char; 16],
    pub host_bdf: [c_char; 16],
}

impl microvm_device_info {
    /// `MICROVM_DEVICE_INFO_INIT`: zeroed, with `size` set.
    pub fn init() -> Self {
        microvm_device_info {
            size: std::mem::size_of::<microvm_device_info>(),
            name: [0; 32],
            bdf: [0; 16],
            pci_path: [0; 16],
            root_port_bdf: [0; 16],
            host_bdf: [0; 16],
        }
    }
}

pub const MICROVM_TOPOLOGY_MAX: usize = 512 * 1024;
pub const MICROVM_TIMINGS_MAX: usize = 64 * 1024;
pub const MICROVM_VFIO_CHECK_MAX: usize = 64 * 1024;

extern "C" {
    pub fn microvm_config_init_sized(cfg: *mut microvm_config, size: usize);
    pub fn microvm_create(cfg: *const microvm_config, out: *mut *mut microvm) -> c_int;
    pub fn microvm_start(vm: *mut microvm) -> c_int;
    pub fn microvm_exit_fd(vm: *const microvm) -> c_int;
    pub fn microvm_wait(vm: *mut microvm, exit: *mut microvm_exit) -> c_int;
    pub fn microvm_poll(vm: *mut microvm, exit: *mut microvm_exit) -> c_int;
    pub fn microvm_stop(vm: *mut microvm);
    pub fn microvm_destroy(vm: *mut microvm);
    pub fn microvm_vcpu_tids(vm: *const microvm, tids: *mut pid_t, n: usize) -> c_int;
    pub fn microvm_console_set_size(vm: *mut microvm, cols: c_uint, rows: c_uint) -> c_int;
    pub fn microvm_device_count(vm: *const microvm) -> c_int;
    pub fn microvm_device_info(
        vm: *const microvm,
        index: c_uint,
        info: *mut microvm_device_info,
    ) -> c_int;
    pub fn microvm_topology_json(vm: *const microvm, buf: *mut c_char, len: usize) -> c_int;
    pub fn microvm_plan(
        cfg: *const microvm_config,
        text: *mut c_char,
        text_len: usize,
        json: *mut c_char,
        json_len: usize,
    ) -> c_int;
    pub fn microvm_timings_json(vm: *const microvm, buf: *mut c_char, len: usize) -> c_int;
    pub fn microvm_vfio_check(
        bdfs: *const *const c_char,
        n: c_uint,
        sysfs_root: *const c_char,
        dev_root: *const c_char,
        text: *mut c_char,
        text_len: usize,
        json: *mut c_char,
        json_len: usize,
    ) -> c_int;
    pub fn microvm_exit_reason_name(reason: microvm_exit_reason) -> *const c_char;
    pub fn microvm_version() -> *const c_char;
}

// errno values used by the binding (Linux, all architectures we build for).
pub const ENOENT: c_int = 2;
pub const E2BIG: c_int = 7;
pub const EAGAIN: c_int = 11;
pub const ENODEV: c_int = 19;
pub const EINVAL: c_int = 22;
pub const ENOSPC: c_int = 28;
pub const EALREADY: c_int = 114;
