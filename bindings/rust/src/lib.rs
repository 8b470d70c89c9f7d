//! Safe Rust binding of libmicrovm, the embeddable KVM VMM
//! (`include/microvm.h` in the libmicrovm repository).
//!
//! ```no_run
//! use microvm::{Config, ExitReason, Vm};
//!
//! let cfg = Config::new()
//!     .kernel("bzImage")
//!     .cmdline("console=ttyS0 reboot=k panic=-1")
//!     .cpus(2)
//!     .memory(512 << 20)
//!     .log(|level, dev, msg| eprintln!("{:?} {}: {}", level, dev, msg));
//! let vm = Vm::create(&cfg)?;
//! vm.start()?;
//! let exit = vm.wait()?;
//! assert_eq!(exit.reason, ExitReason::Poweroff);
//! # Ok::<(), microvm::Error>(())
//! ```
//!
//! Threads: a [`Vm`] is `Send + Sync`; every method taking `&self` may run
//! on several threads at once (the library locks), so an `Arc<Vm>` can be
//! shared. A [`Stopper`] stops the VM from another thread without a
//! reference to it. Dropping the `Vm` stops it, joins its threads and frees
//! it.

pub mod sys;

use std::ffi::{CStr, CString, OsStr};
use std::fmt;
use std::io;
use std::os::raw::{c_char, c_int, c_uint, c_void};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::RawFd;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::ptr;
use std::sync::{Arc, Mutex};

/// Result of the binding's calls.
pub type Result<T> = std::result::Result<T, Error>;

/// A failed libmicrovm call: the `-errno` it returned, and the last
/// error-level log line the library emitted during the call, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    code: i32,
    message: Option<String>,
}

impl Error {
    fn new(code: i32, message: Option<String>) -> Error {
        Error { code, message }
    }

    /// The negative errno the library returned (e.g. `-2` for -ENOENT).
    pub fn code(&self) -> i32 {
        self.code
    }

    /// The positive errno (e.g. `2` for ENOENT).
    pub fn errno(&self) -> i32 {
        -self.code
    }

    /// The library's last error log line (`"dev: message"`), if one was logged.
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// The errno as an [`io::ErrorKind`].
    pub fn kind(&self) -> io::ErrorKind {
        io::Error::from_raw_os_error(self.errno()).kind()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let os = io::Error::from_raw_os_error(self.errno());
        match &self.message {
            Some(m) => write!(f, "{} ({})", m, os),
            None => write!(f, "libmicrovm: {}", os),
        }
    }
}

impl std::error::Error for Error {}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        let kind = io::Error::from_raw_os_error(e.errno()).kind();
        io::Error::new(kind, e)
    }
}

/// Log levels, most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
}

impl LogLevel {
    fn to_raw(self) -> sys::microvm_log_level {
        match self {
            LogLevel::Error => sys::MICROVM_LOG_ERROR,
            LogLevel::Warn => sys::MICROVM_LOG_WARN,
            LogLevel::Info => sys::MICROVM_LOG_INFO,
            LogLevel::Debug => sys::MICROVM_LOG_DEBUG,
        }
    }

    fn from_raw(l: sys::microvm_log_level) -> LogLevel {
        match l {
            sys::MICROVM_LOG_ERROR => LogLevel::Error,
            sys::MICROVM_LOG_WARN => LogLevel::Warn,
            sys::MICROVM_LOG_INFO => LogLevel::Info,
            _ => LogLevel::Debug,
        }
    }
}

/// Why a VM stopped (`enum microvm_exit_reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExitReason {
    /// Still running (`MICROVM_EXIT_NONE`).
    None,
    /// The guest powered off (ACPI S5).
    Poweroff,
    /// The guest asked for a reset (`MICROVM_EXIT_REBOOT`).
    Reboot,
    /// The guest kernel panicked (pvpanic).
    Panic,
    /// A vCPU shut down (triple fault).
    TripleFault,
    /// [`Stopper::stop`] / `microvm_stop()` or the console escape.
    Stopped,
    /// VMM or KVM error; see [`Exit::message`] and [`Exit::error`].
    Error,
    /// Every vCPU halted with interrupts disabled.
    Halted,
    /// A reason this binding does not know (a newer library).
    Unknown(i32),
}

impl ExitReason {
    fn from_raw(r: sys::microvm_exit_reason) -> ExitReason {
        match r {
            sys::MICROVM_EXIT_NONE => ExitReason::None,
            sys::MICROVM_EXIT_POWEROFF => ExitReason::Poweroff,
            sys::MICROVM_EXIT_REBOOT => ExitReason::Reboot,
            sys::MICROVM_EXIT_PANIC => ExitReason::Panic,
            sys::MICROVM_EXIT_TRIPLE_FAULT => ExitReason::TripleFault,
            sys::MICROVM_EXIT_STOPPED => ExitReason::Stopped,
            sys::MICROVM_EXIT_ERROR => ExitReason::Error,
            sys::MICROVM_EXIT_HALTED => ExitReason::Halted,
            other => ExitReason::Unknown(other as i32),
        }
    }

    fn to_raw(self) -> sys::microvm_exit_reason {
        match self {
            ExitReason::None => sys::MICROVM_EXIT_NONE,
            ExitReason::Poweroff => sys::MICROVM_EXIT_POWEROFF,
            ExitReason::Reboot => sys::MICROVM_EXIT_REBOOT,
            ExitReason::Panic => sys::MICROVM_EXIT_PANIC,
            ExitReason::TripleFault => sys::MICROVM_EXIT_TRIPLE_FAULT,
            ExitReason::Stopped => sys::MICROVM_EXIT_STOPPED,
            ExitReason::Error => sys::MICROVM_EXIT_ERROR,
            ExitReason::Halted => sys::MICROVM_EXIT_HALTED,
            ExitReason::Unknown(r) => r as sys::microvm_exit_reason,
        }
    }

    /// The library's name for it (`microvm_exit_reason_name()`): "poweroff", ...
    pub fn name(self) -> &'static str {
        // SAFETY: the library returns a static string for every value.
        unsafe { static_str(sys::microvm_exit_reason_name(self.to_raw())) }
    }
}

impl fmt::Display for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why and how a VM stopped (`struct microvm_exit`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    pub reason: ExitReason,
    /// The vCPU that caused it, -1 if none.
    pub vcpu: i32,
    /// `-errno` for [`ExitReason::Error`], else 0.
    pub error: i32,
    /// Human-readable detail.
    pub message: String,
}

impl Exit {
    fn from_raw(e: &sys::microvm_exit) -> Exit {
        Exit {
            reason: ExitReason::from_raw(e.reason),
            vcpu: e.vcpu,
            error: e.error,
            message: array_string(&e.message),
        }
    }
}

/// Where an attached PCI device landed in the guest (`struct microvm_device_info`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    pub name: String,
    /// "0000:01:00.0"
    pub bdf: String,
    /// "RR.F/DD": root port dev.fn / device
    pub pci_path: String,
    /// "0000:00:00.0"
    pub root_port_bdf: String,
    /// The passed-through host device, "" if none.
    pub host_bdf: String,
}

/// A virtio-blk disk.
#[derive(Debug, Clone)]
struct Disk {
    path: PathBuf,
    readonly: bool,
    id: Option<String>,
}

#[derive(Debug, Clone)]
struct Net {
    tap: String,
    mac: Option<[u8; 6]>,
}

#[derive(Debug, Clone)]
struct Vsock {
    cid: u32,
    uds: PathBuf,
}

/// How passed-through devices reach guest RAM for DMA (docs/vfio.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VfioIommu {
    /// iommufd where /dev/iommu and every device's VFIO cdev exist, else the container.
    Auto,
    /// iommufd; creating the VM fails where the host lacks it.
    Iommufd,
    /// The legacy VFIO container (/dev/vfio/vfio).
    Legacy,
}

#[derive(Debug, Clone)]
struct Vfio {
    bdf: String,
    id: Option<String>,
}

type LogFn = dyn Fn(LogLevel, &str, &str) + Send + Sync;

/// A VM's configuration, built with chained calls; see the crate example.
///
/// Unset values keep the library's defaults (`microvm_config_init()`):
/// 1 vCPU, 256 MiB, `MICROVM_DEFAULT_CMDLINE`, console output discarded,
/// log level warn.
#[derive(Clone)]
pub struct Config {
    kernel: Option<PathBuf>,
    initrd: Option<PathBuf>,
    cmdline: Option<String>,
    cpus: Option<u32>,
    memory: Option<u64>,
    hugepages: bool,
    prefault: bool,
    memory_cgroup: Option<PathBuf>,
    vcpu_cgroup: Option<PathBuf>,
    dump_fdt: Option<PathBuf>,
    cpu_features: Option<String>,
    pcie_root_ports: u32,
    disks: Vec<Disk>,
    nets: Vec<Net>,
    vsock: Option<Vsock>,
    rng: bool,
    virtio_console: bool,
    vfio: Vec<Vfio>,
    vfio_iommu: VfioIommu,
    pci_testdevs: Vec<String>,
    console_out: Option<RawFd>,
    console_in: Option<RawFd>,
    console_escape: u8,
    log: Option<Arc<LogFn>>,
    log_level: Option<LogLevel>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("kernel", &self.kernel)
            .field("initrd", &self.initrd)
            .field("cmdline", &self.cmdline)
            .field("cpus", &self.cpus)
            .field("memory", &self.memory)
            .field("prefault", &self.prefault)
            .field("memory_cgroup", &self.memory_cgroup)
            .field("vcpu_cgroup", &self.vcpu_cgroup)
            .field("disks", &self.disks)
            .field("nets", &self.nets)
            .field("vsock", &self.vsock)
            .field("rng", &self.rng)
            .field("virtio_console", &self.virtio_console)
            .field("vfio", &self.vfio)
            .field("pci_testdevs", &self.pci_testdevs)
            .field("console_out", &self.console_out)
            .field("console_in", &self.console_in)
            .field("log", &self.log.is_some())
            .field("log_level", &self.log_level)
            .finish()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::new()
    }
}

impl Config {
    /// A configuration with the library's defaults and no kernel.
    pub fn new() -> Config {
        Config {
            kernel: None,
            initrd: None,
            cmdline: None,
            cpus: None,
            memory: None,
            hugepages: false,
            prefault: false,
            memory_cgroup: None,
            vcpu_cgroup: None,
            dump_fdt: None,
            cpu_features: None,
            pcie_root_ports: 0,
            disks: Vec::new(),
            nets: Vec::new(),
            vsock: None,
            rng: false,
            virtio_console: false,
            vfio: Vec::new(),
            vfio_iommu: VfioIommu::Auto,
            pci_testdevs: Vec::new(),
            console_out: None,
            console_in: None,
            console_escape: 0,
            log: None,
            log_level: None,
        }
    }

    /// bzImage, or ELF vmlinux with a PVH note (required by [`Vm::create`]).
    pub fn kernel<P: AsRef<Path>>(mut self, path: P) -> Self {
        self.kernel = Some(path.as_ref().to_path_buf());
        self
    }

    pub fn initrd<P: AsRef<Path>>(mut self, path: P) -> Self {
        self.initrd = Some(path.as_ref().to_path_buf());
        self
    }

    /// The kernel command line (default `MICROVM_DEFAULT_CMDLINE`).
    pub fn cmdline<S: Into<String>>(mut self, cmdline: S) -> Self {
        self.cmdline = Some(cmdline.into());
        self
    }

    /// vCPUs, 1..=254 (default 1).
    pub fn cpus(mut self, n: u32) -> Self {
        self.cpus = Some(n);
        self
    }

    /// Guest RAM in bytes (default 256 MiB).
    pub fn memory(mut self, bytes: u64) -> Self {
        self.memory = Some(bytes);
        self
    }

    /// Back guest RAM with hugetlb pages.
    pub fn hugepages(mut self, on: bool) -> Self {
        self.hugepages = on;
        self
    }

    /// Allocate all of guest RAM at create, charged to this process's
    /// cgroup, instead of as the guest first touches it.
    pub fn prefault(mut self, on: bool) -> Self {
        self.prefault = on;
        self
    }

    /// Charge guest RAM to this cgroup v2 memory cgroup (a domain) instead
    /// of this process's: create checks it has room and allocates all of
    /// guest RAM from a short-lived child process started inside it.
    pub fn memory_cgroup<P: AsRef<Path>>(mut self, path: P) -> Self {
        self.memory_cgroup = Some(path.as_ref().to_path_buf());
        self
    }

    /// Move the vCPU threads into this threaded cgroup v2 (below this
    /// process's own), so its `cpu.max` limits the vCPUs and not the
    /// library's other threads.
    pub fn vcpu_cgroup<P: AsRef<Path>>(mut self, path: P) -> Self {
        self.vcpu_cgroup = Some(path.as_ref().to_path_buf());
        self
    }

    /// aarch64: write the device tree blob the guest boots with to this
    /// file at create (x86_64 has none and refuses it).
    pub fn dump_fdt<P: AsRef<Path>>(mut self, path: P) -> Self {
        self.dump_fdt = Some(path.as_ref().to_path_buf());
        self
    }

    /// CPUID feature changes, e.g. "-cx16,+x2apic".
    pub fn cpu_features<S: Into<String>>(mut self, features: S) -> Self {
        self.cpu_features = Some(features.into());
        self
    }

    /// PCIe root ports (0: one per device; at most 256).
    pub fn pcie_root_ports(mut self, n: u32) -> Self {
        self.pcie_root_ports = n;
        self
    }

    /// Adds a virtio-blk disk; `id` is the serial the guest reads.
    pub fn disk<P: AsRef<Path>>(mut self, path: P, readonly: bool, id: Option<&str>) -> Self {
        self.disks.push(Disk {
            path: path.as_ref().to_path_buf(),
            readonly,
            id: id.map(String::from),
        });
        self
    }

    /// Adds a virtio-net device on tap interface `tap` (MAC derived if None).
    pub fn net<S: Into<String>>(mut self, tap: S, mac: Option<[u8; 6]>) -> Self {
        self.nets.push(Net {
            tap: tap.into(),
            mac,
        });
        self
    }

    /// A virtio-vsock device with guest CID `cid` (>= 3); the host side
    /// listens on the Unix socket `uds` (and `uds_<port>`).
    pub fn vsock<P: AsRef<Path>>(mut self, cid: u32, uds: P) -> Self {
        self.vsock = Some(Vsock {
            cid,
            uds: uds.as_ref().to_path_buf(),
        });
        self
    }

    /// A virtio-rng device fed from getrandom(2).
    pub fn rng(mut self, on: bool) -> Self {
        self.rng = on;
        self
    }

    /// The console on virtio-console (hvc0) instead of the UART.
    pub fn virtio_console(mut self, on: bool) -> Self {
        self.virtio_console = on;
        self
    }

    /// Passes through host PCI device `bdf` (bound to vfio-pci); `id` names
    /// it in the topology.
    pub fn vfio<S: Into<String>>(mut self, bdf: S, id: Option<&str>) -> Self {
        self.vfio.push(Vfio {
            bdf: bdf.into(),
            id: id.map(String::from),
        });
        self
    }

    /// The DMA back-end of the passed-through devices (default: `Auto`, iommufd
    /// where the host has /dev/iommu and every device a VFIO cdev).
    pub fn vfio_iommu(mut self, iommu: VfioIommu) -> Self {
        self.vfio_iommu = iommu;
        self
    }

    /// Adds a synthetic PCI endpoint, e.g. "bar0=16M:32,bar1=128G:64pref".
    pub fn pci_testdev<S: Into<String>>(mut self, spec: S) -> Self {
        self.pci_testdevs.push(spec.into());
        self
    }

    /// Guest console output goes to `fd` (not owned; keep it open while the
    /// VM lives).
    pub fn console_out(mut self, fd: RawFd) -> Self {
        self.console_out = Some(fd);
        self
    }

    /// Guest console input comes from `fd` (not owned; keep it open while
    /// the VM lives).
    pub fn console_in(mut self, fd: RawFd) -> Self {
        self.console_in = Some(fd);
        self
    }

    /// This byte followed by 'x' on console input stops the VM (0: off).
    pub fn console_escape(mut self, byte: u8) -> Self {
        self.console_escape = byte;
        self
    }

    /// Receives every log line at or above the log level as
    /// `(level, device, message)`. It runs on library threads, several at
    /// once, perhaps with a library lock held: record the line, do not call
    /// into the VM from it. A panic in it is caught and ignored.
    pub fn log<F>(mut self, f: F) -> Self
    where
        F: Fn(LogLevel, &str, &str) + Send + Sync + 'static,
    {
        self.log = Some(Arc::new(f));
        self
    }

    /// [`Config::log`] for an already boxed closure.
    pub fn log_boxed(mut self, f: Box<LogFn>) -> Self {
        self.log = Some(Arc::from(f));
        self
    }

    /// The least severe level logged (default [`LogLevel::Warn`]).
    pub fn log_level(mut self, level: LogLevel) -> Self {
        self.log_level = Some(level);
        self
    }

    /// Builds the C config. Everything it points to is owned by the
    /// returned `RawConfig`, whose heap allocations do not move with it.
    fn to_raw(&self, log: &LogState) -> Result<RawConfig> {
        let mut strings: Vec<CString> = Vec::new();
        // A pointer into a CString stays valid when the CString moves
        // into `strings` (its bytes are on the heap).
        let mut cstr = |s: &[u8], what: &str| -> Result<*const c_char> {
            let c = CString::new(s).map_err(|_| {
                Error::new(-sys::EINVAL, Some(format!("{} contains a NUL byte", what)))
            })?;
            let p = c.as_ptr();
            strings.push(c);
            Ok(p)
        };
        let mut c = config_init();

        if let Some(k) = &self.kernel {
            c.kernel = cstr(os_bytes(k.as_os_str()), "kernel path")?;
        }
        if let Some(i) = &self.initrd {
            c.initrd = cstr(os_bytes(i.as_os_str()), "initrd path")?;
        }
        if let Some(s) = &self.cmdline {
            c.cmdline = cstr(s.as_bytes(), "cmdline")?;
        }
        if let Some(n) = self.cpus {
            c.cpus = n;
        }
        if let Some(m) = self.memory {
            c.memory = m;
        }
        c.hugepages = self.hugepages;
        c.prefault = self.prefault;
        if let Some(p) = &self.memory_cgroup {
            c.memory_cgroup = cstr(os_bytes(p.as_os_str()), "memory cgroup path")?;
        }
        if let Some(p) = &self.vcpu_cgroup {
            c.vcpu_cgroup = cstr(os_bytes(p.as_os_str()), "vcpu cgroup path")?;
        }
        if let Some(p) = &self.dump_fdt {
            c.dump_fdt = cstr(os_bytes(p.as_os_str()), "dump_fdt path")?;
        }
        if let Some(f) = &self.cpu_features {
            c.cpu_features = cstr(f.as_bytes(), "cpu_features")?;
        }
        c.pcie_root_ports = self.pcie_root_ports;

        let mut disks = Vec::with_capacity(self.disks.len());
        for d in &self.disks {
            disks.push(sys::microvm_disk {
                path: cstr(os_bytes(d.path.as_os_str()), "disk path")?,
                readonly: d.readonly,
                id: match &d.id {
                    Some(id) => cstr(id.as_bytes(), "disk id")?,
                    None => ptr::null(),
                },
            });
        }
        let mut nets = Vec::with_capacity(self.nets.len());
        for n in &self.nets {
            nets.push(sys::microvm_net {
                tap: cstr(n.tap.as_bytes(), "tap name")?,
                mac: n.mac.unwrap_or([0; 6]),
                mac_set: n.mac.is_some(),
            });
        }
        let vsock = match &self.vsock {
            Some(v) => Some(Box::new(sys::microvm_vsock {
                guest_cid: v.cid,
                uds: cstr(os_bytes(v.uds.as_os_str()), "vsock uds path")?,
                vhost: false,
            })),
            None => None,
        };
        let mut vfio = Vec::with_capacity(self.vfio.len());
        for v in &self.vfio {
            vfio.push(sys::microvm_vfio {
                bdf: cstr(v.bdf.as_bytes(), "vfio bdf")?,
                id: match &v.id {
                    Some(id) => cstr(id.as_bytes(), "vfio id")?,
                    None => ptr::null(),
                },
            });
        }
        let mut testdevs = Vec::with_capacity(self.pci_testdevs.len());
        for t in &self.pci_testdevs {
            testdevs.push(cstr(t.as_bytes(), "pci test device")?);
        }

        c.disks = ptr_or_null(&disks);
        c.ndisks = disks.len() as c_uint;
        c.nets = ptr_or_null(&nets);
        c.nnets = nets.len() as c_uint;
        c.vsock = match &vsock {
            Some(b) => &**b as *const sys::microvm_vsock,
            None => ptr::null(),
        };
        c.virtio_console = self.virtio_console;
        c.rng = self.rng;
        c.vfio = ptr_or_null(&vfio);
        c.nvfio = vfio.len() as c_uint;
        c.vfio_iommu = match self.vfio_iommu {
            VfioIommu::Auto => sys::MICROVM_VFIO_IOMMU_AUTO,
            VfioIommu::Iommufd => sys::MICROVM_VFIO_IOMMU_IOMMUFD,
            VfioIommu::Legacy => sys::MICROVM_VFIO_IOMMU_LEGACY,
        };
        c.pci_testdevs = ptr_or_null(&testdevs);
        c.n_pci_testdevs = testdevs.len() as c_uint;

        if self.console_out.is_some() || self.console_in.is_some() {
            c.console = sys::MICROVM_CONSOLE_FDS;
            c.console_out_fd = self.console_out.unwrap_or(-1);
            c.console_in_fd = self.console_in.unwrap_or(-1);
        }
        c.console_escape = self.console_escape;

        // Always routed through the trampoline, which keeps the last error
        // line for Error::message(); the user's closure sees every line.
        c.log_fn = Some(log_trampoline);
        c.log_opaque = log as *const LogState as *mut c_void;
        if let Some(l) = self.log_level {
            c.log_level = l.to_raw();
        }

        Ok(RawConfig {
            cfg: c,
            _strings: strings,
            _disks: disks,
            _nets: nets,
            _vsock: vsock,
            _vfio: vfio,
            _testdevs: testdevs,
        })
    }
}

/// The C config and everything it points into.
struct RawConfig {
    cfg: sys::microvm_config,
    _strings: Vec<CString>,
    _disks: Vec<sys::microvm_disk>,
    _nets: Vec<sys::microvm_net>,
    _vsock: Option<Box<sys::microvm_vsock>>,
    _vfio: Vec<sys::microvm_vfio>,
    _testdevs: Vec<*const c_char>,
}

/// What the log trampoline gets as its opaque pointer.
struct LogState {
    user: Option<Arc<LogFn>>,
    last_error: Mutex<Option<String>>,
}

impl LogState {
    fn new(user: Option<Arc<LogFn>>) -> Box<LogState> {
        Box::new(LogState {
            user,
            last_error: Mutex::new(None),
        })
    }

    fn take_error(&self) -> Option<String> {
        lock(&self.last_error).take()
    }

    fn error(&self, code: c_int) -> Error {
        Error::new(code, self.take_error())
    }
}

unsafe extern "C" fn log_trampoline(
    opaque: *mut c_void,
    level: sys::microvm_log_level,
    dev: *const c_char,
    msg: *const c_char,
) {
    if opaque.is_null() {
        return;
    }
    // SAFETY: opaque is the LogState the config was built with, which
    // outlives every library object using it (see Vm's Drop, plan()).
    let state = &*(opaque as *const LogState);
    let dev = lossy(dev);
    let msg = lossy(msg);
    let level = LogLevel::from_raw(level);
    // Unwinding into C is undefined behaviour: swallow panics here.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        if level == LogLevel::Error {
            *lock(&state.last_error) = Some(format!("{}: {}", dev, msg));
        }
        if let Some(f) = &state.user {
            f(level, &dev, &msg);
        }
    }));
}

/// The VM pointer a Stopper may use, cleared by Vm's Drop under the mutex.
struct StopShared {
    vm: Mutex<VmPtr>,
}

struct VmPtr(*mut sys::microvm);
// SAFETY: the pointer is only used for microvm_stop(), which the library
// allows from any thread, and only while the mutex says the VM is alive.
unsafe impl Send for VmPtr {}

/// Stops a [`Vm`] from any thread (`microvm_stop()`), without borrowing it.
///
/// It shares a mutex-guarded pointer with the `Vm`; dropping the `Vm`
/// clears the pointer under that mutex before `microvm_destroy()`, so a
/// `Stopper` that outlives its `Vm` is harmless: [`Stopper::stop`] then does
/// nothing and returns false. (It takes a mutex, so it is not for a signal
/// handler; a thread that waits for signals with `sigwait` is fine.)
#[derive(Clone)]
pub struct Stopper {
    shared: Arc<StopShared>,
}

impl Stopper {
    /// Asks the VM to stop ([`ExitReason::Stopped`] unless it already
    /// stopped for another reason) and returns at once; `false` if the
    /// `Vm` is already gone. Use [`Vm::wait`] to join it.
    pub fn stop(&self) -> bool {
        let g = lock(&self.shared.vm);
        if g.0.is_null() {
            return false;
        }
        // SAFETY: the Vm is alive while its pointer is set, and its Drop
        // cannot destroy it while we hold the lock.
        unsafe { sys::microvm_stop(g.0) };
        true
    }
}

impl fmt::Debug for Stopper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stopper").finish()
    }
}

/// A VM (`struct microvm`). Dropping it calls `microvm_destroy()`: it stops
/// a running VM, joins its threads and frees it.
pub struct Vm {
    raw: *mut sys::microvm,
    stop: Arc<StopShared>,
    // Dropped after microvm_destroy() (Drop::drop runs before the fields):
    // the library may log until then.
    _log: Box<LogState>,
    _cfg: RawConfig,
}

// SAFETY: the library allows every call from any thread; the `&self`
// methods are the ones it allows concurrently (stop, poll, exit_fd, wait,
// console size, queries); start() is guarded by the library (-EALREADY)
// and destroy needs ownership.
unsafe impl Send for Vm {}
unsafe impl Sync for Vm {}

impl fmt::Debug for Vm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vm").field("raw", &self.raw).finish()
    }
}

impl Vm {
    /// Builds a VM (`microvm_create()`): opens KVM, creates memory,
    /// devices and vCPUs, loads the kernel. Nothing runs until [`Vm::start`].
    ///
    /// Note that the library checks the config's values first but opens
    /// /dev/kvm before the kernel and initrd files: without KVM a missing
    /// kernel is -ENODEV, not -ENOENT.
    pub fn create(cfg: &Config) -> Result<Vm> {
        let log = LogState::new(cfg.log.clone());
        let raw_cfg = cfg.to_raw(&log)?;
        let mut vm: *mut sys::microvm = ptr::null_mut();
        // SAFETY: raw_cfg and everything it points to is alive; log is
        // boxed and outlives the VM (owned by it below).
        let r = unsafe { sys::microvm_create(&raw_cfg.cfg, &mut vm) };
        if r < 0 || vm.is_null() {
            return Err(log.error(if r < 0 { r } else { -sys::EINVAL }));
        }
        Ok(Vm {
            raw: vm,
            stop: Arc::new(StopShared {
                vm: Mutex::new(VmPtr(vm)),
            }),
            _log: log,
            _cfg: raw_cfg,
        })
    }

    /// Runs one library call; a failure carries the error line logged
    /// during it (best effort when calls run concurrently), not an older one.
    fn call<F: FnOnce() -> c_int>(&self, f: F) -> Result<c_int> {
        self._log.take_error();
        let r = f();
        if r < 0 {
            Err(self._log.error(r))
        } else {
            Ok(r)
        }
    }

    /// Starts the vCPU threads (once; again is -EALREADY).
    pub fn start(&self) -> Result<()> {
        // SAFETY: self.raw is a live VM.
        self.call(|| unsafe { sys::microvm_start(self.raw) })
            .map(|_| ())
    }

    /// Blocks until the VM stops, joins its threads and says why.
    /// -EINVAL if it was never started.
    pub fn wait(&self) -> Result<Exit> {
        let mut e = sys::microvm_exit::init();
        // SAFETY: live VM, e is a full-size microvm_exit.
        self.call(|| unsafe { sys::microvm_wait(self.raw, &mut e) })?;
        Ok(Exit::from_raw(&e))
    }

    /// Non-blocking: `Some(exit)` once the VM has stopped, `None` while it runs.
    pub fn poll(&self) -> Result<Option<Exit>> {
        let mut e = sys::microvm_exit::init();
        // SAFETY: live VM, e is a full-size microvm_exit.
        let r = self.call(|| unsafe { sys::microvm_poll(self.raw, &mut e) })?;
        Ok(if r > 0 {
            Some(Exit::from_raw(&e))
        } else {
            None
        })
    }

    /// An eventfd that becomes readable once the VM has stopped, for poll
    /// loops and async runtimes. Owned by the VM: do not close it, and do
    /// not use it after the `Vm` is dropped.
    pub fn exit_fd(&self) -> RawFd {
        // SAFETY: live VM.
        unsafe { sys::microvm_exit_fd(self.raw) }
    }

    /// Asks the VM to stop and returns at once (see [`Stopper::stop`]).
    pub fn stop(&self) {
        // SAFETY: live VM.
        unsafe { sys::microvm_stop(self.raw) }
    }

    /// A handle that can stop this VM from another thread.
    pub fn stopper(&self) -> Stopper {
        Stopper {
            shared: self.stop.clone(),
        }
    }

    /// The vCPU thread ids (for pinning or cgroup placement); -EAGAIN
    /// before [`Vm::start`].
    pub fn vcpu_tids(&self) -> Result<Vec<i32>> {
        let mut tids = vec![0 as sys::pid_t; sys::MICROVM_MAX_CPUS];
        // SAFETY: live VM; the library writes at most tids.len() entries.
        let n = self
            .call(|| unsafe { sys::microvm_vcpu_tids(self.raw, tids.as_mut_ptr(), tids.len()) })?
            as usize;
        tids.truncate(n.min(sys::MICROVM_MAX_CPUS));
        Ok(tids)
    }

    /// Passes a terminal size on to the guest's hvc0 (needs virtio_console;
    /// -ENODEV on the UART).
    pub fn console_set_size(&self, cols: u32, rows: u32) -> Result<()> {
        // SAFETY: live VM.
        self.call(|| unsafe { sys::microvm_console_set_size(self.raw, cols, rows) })
            .map(|_| ())
    }

    /// Where each attached PCI device (test, VFIO, virtio) landed.
    pub fn device_info(&self) -> Vec<DeviceInfo> {
        // SAFETY: live VM.
        let n = unsafe { sys::microvm_device_count(self.raw) };
        let mut out = Vec::new();
        for i in 0..n.max(0) as c_uint {
            let mut d = sys::microvm_device_info::init();
            // SAFETY: live VM, d is a full-size microvm_device_info.
            if unsafe { sys::microvm_device_info(self.raw, i, &mut d) } == 0 {
                out.push(DeviceInfo {
                    name: array_string(&d.name),
                    bdf: array_string(&d.bdf),
                    pci_path: array_string(&d.pci_path),
                    root_port_bdf: array_string(&d.root_port_bdf),
                    host_bdf: array_string(&d.host_bdf),
                });
            }
        }
        out
    }

    /// The PCIe topology as JSON (docs/topology-json.md).
    pub fn topology_json(&self) -> Result<String> {
        let raw = self.raw;
        fill_buffer(sys::MICROVM_TOPOLOGY_MAX, |b, n| unsafe {
            // SAFETY: live VM, b has n bytes.
            sys::microvm_topology_json(raw, b, n)
        })
        .map_err(|r| self._log.error(r))
    }

    /// Timings and VM exits as JSON (docs/timings-json.md); final once
    /// [`Vm::wait`] returned.
    pub fn timings_json(&self) -> Result<String> {
        let raw = self.raw;
        fill_buffer(sys::MICROVM_TIMINGS_MAX, |b, n| unsafe {
            // SAFETY: live VM, b has n bytes.
            sys::microvm_timings_json(raw, b, n)
        })
        .map_err(|r| self._log.error(r))
    }

    /// The raw handle, for `sys` calls this binding does not wrap. It is
    /// valid while `self` is.
    pub fn as_raw(&self) -> *mut sys::microvm {
        self.raw
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        lock(&self.stop.vm).0 = ptr::null_mut();
        // SAFETY: we own the VM; no other call can be in progress (they
        // all borrow self) and no Stopper can reach it any more.
        unsafe { sys::microvm_destroy(self.raw) };
    }
}

/// Plans the PCIe topology of `cfg` without building a VM (no kernel or
/// KVM needed): the human-readable layout (`microvm plan`).
pub fn plan(cfg: &Config) -> Result<String> {
    plan_impl(cfg, false)
}

/// [`plan`] as JSON (docs/topology-json.md).
pub fn plan_json(cfg: &Config) -> Result<String> {
    plan_impl(cfg, true)
}

fn plan_impl(cfg: &Config, json: bool) -> Result<String> {
    let log = LogState::new(cfg.log.clone());
    let raw = cfg.to_raw(&log)?;
    let mut buf = vec![0u8; sys::MICROVM_TOPOLOGY_MAX];
    let p = buf.as_mut_ptr() as *mut c_char;
    let n = buf.len();
    // SAFETY: raw is a complete config; buf has n bytes. The library is
    // done with `log` when this returns.
    let r = unsafe {
        if json {
            sys::microvm_plan(&raw.cfg, ptr::null_mut(), 0, p, n)
        } else {
            sys::microvm_plan(&raw.cfg, p, n, ptr::null_mut(), 0)
        }
    };
    if r < 0 {
        return Err(log.error(r));
    }
    Ok(nul_terminated(&buf))
}

/// The VFIO preflight (`microvm vfio-check`): whether every host device in
/// `bdfs` can be passed through, and the report in plain words. `sysfs_root`
/// and `dev_root` default to "/sys" and "/dev".
pub fn vfio_check(
    bdfs: &[&str],
    sysfs_root: Option<&Path>,
    dev_root: Option<&Path>,
) -> Result<(bool, String)> {
    let einval =
        |what: &str| Error::new(-sys::EINVAL, Some(format!("{} contains a NUL byte", what)));
    let owned: Vec<CString> = bdfs
        .iter()
        .map(|b| CString::new(*b).map_err(|_| einval("bdf")))
        .collect::<Result<_>>()?;
    let ptrs: Vec<*const c_char> = owned.iter().map(|c| c.as_ptr()).collect();
    let root = |p: Option<&Path>, what: &str| -> Result<Option<CString>> {
        match p {
            Some(p) => CString::new(os_bytes(p.as_os_str()))
                .map(Some)
                .map_err(|_| einval(what)),
            None => Ok(None),
        }
    };
    let sys_root = root(sysfs_root, "sysfs_root")?;
    let dev = root(dev_root, "dev_root")?;
    let mut buf = vec![0u8; sys::MICROVM_VFIO_CHECK_MAX];
    // SAFETY: all pointers are to live NUL-terminated strings; buf is big enough.
    let r = unsafe {
        sys::microvm_vfio_check(
            ptr_or_null(&ptrs),
            ptrs.len() as c_uint,
            sys_root.as_ref().map_or(ptr::null(), |c| c.as_ptr()),
            dev.as_ref().map_or(ptr::null(), |c| c.as_ptr()),
            buf.as_mut_ptr() as *mut c_char,
            buf.len(),
            ptr::null_mut(),
            0,
        )
    };
    if r < 0 {
        return Err(Error::new(r, None));
    }
    Ok((r == 1, nul_terminated(&buf)))
}

/// The library version (`microvm_version()`).
pub fn version() -> &'static str {
    // SAFETY: the library returns a static string.
    unsafe { static_str(sys::microvm_version()) }
}

// ---- helpers ----

fn config_init() -> sys::microvm_config {
    let mut c = std::mem::MaybeUninit::<sys::microvm_config>::zeroed();
    // SAFETY: config_init_sized fills every byte we give it (it memsets them);
    // all-zero is a valid value of it anyway (null pointers, None fns).
    unsafe {
        sys::microvm_config_init_sized(c.as_mut_ptr(), std::mem::size_of::<sys::microvm_config>());
        c.assume_init()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn os_bytes(s: &OsStr) -> &[u8] {
    s.as_bytes()
}

fn ptr_or_null<T>(v: &[T]) -> *const T {
    if v.is_empty() {
        ptr::null()
    } else {
        v.as_ptr()
    }
}

unsafe fn lossy(p: *const c_char) -> String {
    if p.is_null() {
        String::new()
    } else {
        CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

unsafe fn static_str(p: *const c_char) -> &'static str {
    if p.is_null() {
        ""
    } else {
        CStr::from_ptr(p).to_str().unwrap_or("")
    }
}

fn nul_terminated(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn array_string(a: &[c_char]) -> String {
    let bytes: Vec<u8> = a
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Calls `f(buf, len)` on a buffer of `max` bytes; it returns the length
/// written or -errno.
fn fill_buffer<F>(max: usize, f: F) -> std::result::Result<String, c_int>
where
    F: FnOnce(*mut c_char, usize) -> c_int,
{
    let mut buf = vec![0u8; max];
    let r = f(buf.as_mut_ptr() as *mut c_char, buf.len());
    if r < 0 {
        return Err(r);
    }
    let n = (r as usize).min(buf.len());
    buf.truncate(n);
    Ok(nul_terminated(&buf))
}

#[cfg(test)]
mod tests;
