//! Tests: host tests need no KVM; `boots_tiny_guest` skips without /dev/kvm
//! (tests/rust.sh runs it inside the x86 rig then).
use super::*;
use std::fs::File;
use std::io::Read;
use std::mem::size_of;
use std::os::unix::io::{AsRawFd, FromRawFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn have_kvm() -> bool {
    Path::new("/dev/kvm").exists()
}

type Lines = Arc<Mutex<Vec<(LogLevel, String, String)>>>;

/// Collects every log line.
fn capture() -> (Lines, impl Fn(LogLevel, &str, &str) + Send + Sync + 'static) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let l = lines.clone();
    (lines, move |level: LogLevel, dev: &str, msg: &str| {
        l.lock()
            .unwrap()
            .push((level, dev.to_string(), msg.to_string()))
    })
}

#[test]
fn config_layout_matches_library() {
    // init_sized writes exactly the size it is given, defaults where the
    // mirror says the fields are.
    const PAD: usize = 256;
    let n = size_of::<sys::microvm_config>();
    let mut buf = vec![0xa5u8; n + PAD + 16];
    // 8-byte aligned start inside the Vec.
    let off = buf.as_ptr().align_offset(8);
    let p = unsafe { buf.as_mut_ptr().add(off) };
    unsafe { sys::microvm_config_init_sized(p as *mut sys::microvm_config, n) };
    let tail = &buf[off + n..off + n + PAD];
    assert!(
        tail.iter().all(|&b| b == 0xa5),
        "config_init_sized wrote past the size it was given"
    );
    let cfg = unsafe { &mut *(p as *mut sys::microvm_config) };
    assert_eq!(cfg.size, n);
    assert_eq!(cfg.cpus, 1);
    assert_eq!(cfg.memory, 256 << 20);
    assert_eq!(cfg.console, sys::MICROVM_CONSOLE_NONE);
    assert_eq!(cfg.console_in_fd, -1);
    assert_eq!(cfg.console_out_fd, -1);
    assert_eq!(cfg.log_level, sys::MICROVM_LOG_WARN);
    assert!(cfg.kernel.is_null() && cfg.log_fn.is_none() && cfg.on_exit.is_none());
    assert!(cfg.on_exit_opaque.is_null() && cfg.kick_signal == 0);
    assert!(cfg.vcpu_cgroup.is_null() && cfg.memory_cgroup.is_null() && !cfg.prefault);
    assert!(cfg.dump_fdt.is_null());
    assert_eq!(cfg.vfio_iommu, sys::MICROVM_VFIO_IOMMU_AUTO);
    // The library knows the mirror's last field (it is not refused as a
    // newer caller's) and nothing past the mirror's end (refused): its
    // sizeof is the mirror's.
    let mut text = vec![0 as c_char; sys::MICROVM_TOPOLOGY_MAX];
    cfg.vfio_iommu = sys::MICROVM_VFIO_IOMMU_LEGACY;
    let r = unsafe {
        sys::microvm_plan(cfg, text.as_mut_ptr(), text.len(), ptr::null_mut(), 0)
    };
    assert_eq!(r, 0, "the library does not know the mirror's last field");
    cfg.vfio_iommu = sys::MICROVM_VFIO_IOMMU_AUTO;
    buf[off + n] = 1;
    let cfg = unsafe { &mut *(p as *mut sys::microvm_config) };
    cfg.size = n + 8;
    let r = unsafe {
        sys::microvm_plan(cfg, text.as_mut_ptr(), text.len(), ptr::null_mut(), 0)
    };
    assert_eq!(r, -sys::E2BIG, "the library has fields past the Rust mirror");
}

#[test]
fn memory_cgroup_field_reaches_library() {
    // Refused before KVM is opened, so this runs without /dev/kvm.
    let e = Vm::create(
        &Config::new()
            .kernel("/nonexistent/bzImage")
            .hugepages(true)
            .memory_cgroup("/sys/fs/cgroup/x"),
    )
    .unwrap_err();
    assert_eq!(e.code(), -sys::EINVAL);
    assert!(e.to_string().contains("does not work with hugepages"), "{}", e);
}

#[test]
fn filled_struct_layouts() {
    // Offsets as the C compiler lays them out on LP64 (the library's own
    // sizeof is checked against these in boots_tiny_guest, which needs a VM).
    let e = sys::microvm_exit::init();
    let base = &e as *const _ as usize;
    assert_eq!(ptr::addr_of!(e.reason) as usize - base, 8);
    assert_eq!(ptr::addr_of!(e.message) as usize - base, 20);
    let d = sys::microvm_device_info::init();
    let base = &d as *const _ as usize;
    assert_eq!(
        ptr::addr_of!(d.host_bdf) as usize - base + 16,
        size_of::<sys::microvm_device_info>()
    );
    assert_eq!(size_of::<sys::microvm_device_info>(), 8 + 32 + 4 * 16);
    // 276 bytes of fields, padded to the size_t alignment.
    assert_eq!(size_of::<sys::microvm_exit>(), 280);
}

#[test]
fn version_is_not_empty() {
    assert!(!version().is_empty());
    assert_eq!(ExitReason::Poweroff.name(), "poweroff");
    assert_eq!(ExitReason::Stopped.to_string(), "stopped");
    assert_eq!(ExitReason::Unknown(99).name(), "unknown");
}

#[test]
fn vm_and_stopper_are_send_sync() {
    fn check<T: Send + Sync>() {}
    check::<Vm>();
    check::<Stopper>();
    check::<Config>();
    check::<Error>();
}

#[test]
fn plan_without_kernel() {
    let disk = std::env::temp_dir().join(format!("microvm-rs-plan-{}.img", std::process::id()));
    std::fs::write(&disk, vec![0u8; 64 * 512]).unwrap();
    let cfg = Config::new()
        .pci_testdev("bar0=16M:32")
        .pci_testdev("bar0=16M:32")
        .rng(true)
        .disk(&disk, true, Some("d0"));
    let text = plan(&cfg);
    let json = plan_json(&cfg);
    std::fs::remove_file(&disk).ok();
    let text = text.unwrap();
    assert!(
        text.contains("testdev1"),
        "plan text lacks testdev1:\n{}",
        text
    );
    assert!(
        text.contains("rng"),
        "plan text lacks the rng device:\n{}",
        text
    );
    let json = json.unwrap();
    assert!(json.contains("\"pci_path\""), "plan JSON:\n{}", json);
}

#[test]
fn plan_error_carries_log_line() {
    let (lines, f) = capture();
    let e = plan(&Config::new().cpus(0).log(f)).unwrap_err();
    assert_eq!(e.code(), -sys::EINVAL);
    let m = e.message().unwrap_or("");
    assert!(m.contains("cpus must be"), "error message: {:?}", m);
    let l = lines.lock().unwrap();
    assert!(
        l.iter()
            .any(|(lv, _, msg)| *lv == LogLevel::Error && msg.contains("cpus must be")),
        "{:?}",
        l
    );
}

#[test]
fn create_missing_kernel_fails() {
    let (lines, f) = capture();
    let cfg = Config::new()
        .kernel("/nonexistent/bzImage")
        .memory(32 << 20)
        .log(f);
    let e = Vm::create(&cfg).unwrap_err();
    // The library opens /dev/kvm before the kernel file.
    if have_kvm() {
        assert_eq!(e.code(), -sys::ENOENT, "{}", e);
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    } else {
        assert_eq!(e.code(), -sys::ENODEV, "{}", e);
        assert!(
            e.message()
                .unwrap_or("")
                .contains("/dev/kvm does not exist"),
            "{}",
            e
        );
    }
    let l = lines.lock().unwrap();
    let last = l
        .iter()
        .rev()
        .find(|x| x.0 == LogLevel::Error)
        .expect("an error line was logged");
    assert_eq!(e.message().unwrap(), format!("{}: {}", last.1, last.2));
}

#[test]
fn create_bad_config_is_einval() {
    let (lines, f) = capture();
    let e = Vm::create(
        &Config::new()
            .kernel("/nonexistent/bzImage")
            .cpus(255)
            .log(f),
    )
    .unwrap_err();
    assert_eq!(e.code(), -sys::EINVAL);
    assert!(e.to_string().contains("cpus must be 1..254"), "{}", e);
    assert_eq!(lines.lock().unwrap().len(), 1);
    // Without a callback the error line is still captured.
    let e = Vm::create(&Config::new()).unwrap_err();
    assert_eq!(e.code(), -sys::EINVAL);
    assert_eq!(e.message(), Some("vm: no kernel given"));
}

#[test]
fn nul_byte_is_einval() {
    let e = Vm::create(&Config::new().kernel("a\0b")).unwrap_err();
    assert_eq!(e.code(), -sys::EINVAL);
    assert!(e.message().unwrap().contains("NUL"));
}

#[test]
fn panicking_log_closure_is_contained() {
    let e = plan(&Config::new().cpus(0).log(|_, _, _| panic!("boom"))).unwrap_err();
    assert_eq!(e.code(), -sys::EINVAL);
    assert!(e.message().unwrap().contains("cpus must be"));
}

#[test]
fn vfio_preflight_on_fixtures() {
    let fx = repo().join("tests/unit/fixtures/vfio/clean");
    let (ready, text) =
        vfio_check(&["01:00.0"], Some(&fx.join("sys")), Some(&fx.join("dev"))).unwrap();
    assert!(ready, "{}", text);
    let e = vfio_check(&["zz"], Some(&fx.join("sys")), Some(&fx.join("dev"))).unwrap_err();
    assert_eq!(e.code(), -sys::EINVAL);
}

// ---- KVM ----

extern "C" {
    fn pipe2(fds: *mut c_int, flags: c_int) -> c_int;
    fn poll(fds: *mut PollFd, n: u64, timeout: c_int) -> c_int;
}
const O_CLOEXEC: c_int = 0o2000000;
const POLLIN: i16 = 1;

#[repr(C)]
struct PollFd {
    fd: c_int,
    events: i16,
    revents: i16,
}

fn readable(fd: RawFd, ms: i32) -> bool {
    let mut p = PollFd {
        fd,
        events: POLLIN,
        revents: 0,
    };
    unsafe { poll(&mut p, 1, ms) == 1 }
}

/// A pipe for console output whose read side a thread collects.
struct Console {
    write: Option<File>,
    text: Arc<Mutex<String>>,
    reader: Option<thread::JoinHandle<()>>,
}

impl Console {
    fn new() -> Console {
        let mut fds = [-1 as c_int; 2];
        assert_eq!(unsafe { pipe2(fds.as_mut_ptr(), O_CLOEXEC) }, 0, "pipe2");
        let (mut r, w) = unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) };
        let text = Arc::new(Mutex::new(String::new()));
        let t = text.clone();
        let reader = thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                match r.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => t
                        .lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n])),
                }
            }
        });
        Console {
            write: Some(w),
            text,
            reader: Some(reader),
        }
    }

    fn fd(&self) -> RawFd {
        self.write.as_ref().unwrap().as_raw_fd()
    }

    fn wait_for(&self, marker: &str, secs: u64) -> bool {
        let end = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < end {
            if self.text.lock().unwrap().contains(marker) {
                return true;
            }
            thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// Closes the write side (after the VM is gone) and returns all output.
    fn finish(mut self) -> String {
        drop(self.write.take());
        if let Some(r) = self.reader.take() {
            r.join().unwrap();
        }
        let s = self.text.lock().unwrap().clone();
        s
    }
}

fn tiny() -> PathBuf {
    match std::env::var_os("MICROVM_TINY") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => repo().join("build/firmware/tiny.bzImage"),
    }
}

fn tiny_config(mode: &str, console: &Console, errors: Arc<AtomicUsize>) -> Config {
    Config::new()
        .kernel(tiny())
        .cmdline(format!("tiny.mode={}", mode))
        .cpus(2)
        .memory(32 << 20)
        .console_out(console.fd())
        .log_level(LogLevel::Info)
        .log(move |level, dev, msg| {
            if level == LogLevel::Error {
                errors.fetch_add(1, Ordering::SeqCst);
            }
            eprintln!("  [{:?}] {}: {}", level, dev, msg);
        })
}

#[test]
fn boots_tiny_guest() {
    if !have_kvm() {
        println!("skipping boots_tiny_guest: no /dev/kvm on this machine (tests/rust.sh runs it in the x86 rig)");
        return;
    }
    let kernel = tiny();
    if !kernel.is_file() {
        panic!(
            "{} not found (make builds it; or set MICROVM_TINY)",
            kernel.display()
        );
    }

    // With KVM present, a missing kernel file is -ENOENT.
    let e = Vm::create(
        &Config::new()
            .kernel("/nonexistent/bzImage")
            .memory(32 << 20),
    )
    .unwrap_err();
    assert_eq!(e.code(), -sys::ENOENT, "{}", e);
    assert!(e.message().unwrap_or("").contains("No such file"), "{}", e);

    // 1. hello: prints and powers off.
    let errors = Arc::new(AtomicUsize::new(0));
    let console = Console::new();
    let vm = Vm::create(&tiny_config("hello", &console, errors.clone()).rng(true))
        .expect("create hello VM");
    assert_eq!(vm.vcpu_tids().unwrap_err().code(), -sys::EAGAIN);
    assert_eq!(
        vm.wait().unwrap_err().code(),
        -sys::EINVAL,
        "wait before start"
    );
    assert_eq!(vm.poll().unwrap(), None);
    vm.start().expect("start");
    assert_eq!(vm.start().unwrap_err().code(), -sys::EALREADY);
    let tids = vm.vcpu_tids().unwrap();
    assert_eq!(tids.len(), 2, "{:?}", tids);
    for t in &tids {
        assert!(
            *t > 0 && Path::new(&format!("/proc/self/task/{}", t)).exists(),
            "{:?}",
            tids
        );
    }
    assert!(
        readable(vm.exit_fd(), 20000),
        "exit fd readable within 20 s"
    );
    let exit = vm.wait().expect("wait");
    assert_eq!(exit.reason, ExitReason::Poweroff, "{:?}", exit);
    assert_eq!(
        vm.poll().unwrap().map(|e| e.reason),
        Some(ExitReason::Poweroff)
    );

    // MICROVM_EXIT_INIT semantics: size unchanged for our size, and set to
    // the library's (== ours) for a bigger buffer.
    let mut ex = sys::microvm_exit::init();
    assert_eq!(unsafe { sys::microvm_poll(vm.as_raw(), &mut ex) }, 1);
    assert_eq!(ex.size, size_of::<sys::microvm_exit>());
    #[repr(C)]
    struct BigExit {
        e: sys::microvm_exit,
        pad: [u8; 64],
    }
    let mut big = BigExit {
        e: sys::microvm_exit::init(),
        pad: [0x5a; 64],
    };
    big.e.size = size_of::<BigExit>();
    assert_eq!(unsafe { sys::microvm_poll(vm.as_raw(), &mut big.e) }, 1);
    assert_eq!(
        big.e.size,
        size_of::<sys::microvm_exit>(),
        "library's sizeof(struct microvm_exit)"
    );
    assert!(big.pad.iter().all(|&b| b == 0x5a));
    ex.size = 8;
    assert_eq!(
        unsafe { sys::microvm_poll(vm.as_raw(), &mut ex) },
        -sys::EINVAL
    );
    #[repr(C)]
    struct BigInfo {
        d: sys::microvm_device_info,
        pad: [u8; 64],
    }
    let mut bi = BigInfo {
        d: sys::microvm_device_info::init(),
        pad: [0x5a; 64],
    };
    bi.d.size = size_of::<BigInfo>();
    assert_eq!(
        unsafe { sys::microvm_device_info(vm.as_raw(), 0, &mut bi.d) },
        0
    );
    assert_eq!(
        bi.d.size,
        size_of::<sys::microvm_device_info>(),
        "library's sizeof(struct microvm_device_info)"
    );
    assert!(bi.pad.iter().all(|&b| b == 0x5a));

    let devs = vm.device_info();
    assert_eq!(devs.len(), 1, "{:?}", devs);
    assert!(
        devs[0].bdf.starts_with("0000:") && devs[0].pci_path.contains('/'),
        "{:?}",
        devs
    );
    assert!(
        devs[0].root_port_bdf.starts_with("0000:00:") && devs[0].host_bdf.is_empty(),
        "{:?}",
        devs
    );
    let topo = vm.topology_json().unwrap();
    assert!(
        topo.contains(&format!("\"pci_path\": \"{}\"", devs[0].pci_path)),
        "{}",
        topo
    );
    let timings = vm.timings_json().unwrap();
    assert!(
        timings.contains("\"exit_reason\": \"poweroff\"") || timings.contains("poweroff"),
        "{}",
        timings
    );
    drop(vm);
    let out = console.finish();
    assert!(out.contains("TINY: hello"), "console output:\n{}", out);
    assert_eq!(errors.load(Ordering::SeqCst), 0);

    // 2. idle: runs until stopped from another thread through a Stopper.
    let console = Console::new();
    let vm = Vm::create(&tiny_config("idle", &console, errors.clone())).expect("create idle VM");
    vm.start().expect("start idle");
    assert!(
        console.wait_for("TINY: mode", 20),
        "idle guest console output"
    );
    assert_eq!(vm.vcpu_tids().unwrap().len(), 2);
    assert!(!readable(vm.exit_fd(), 2500), "idle guest is not stopped");
    assert_eq!(vm.poll().unwrap(), None);
    let stopper = vm.stopper();
    let t0 = Instant::now();
    let th = thread::spawn(move || stopper.stop());
    let exit = vm.wait().expect("wait idle");
    let took = t0.elapsed();
    assert!(th.join().unwrap(), "stopper reached the VM");
    assert_eq!(exit.reason, ExitReason::Stopped, "{:?}", exit);
    assert!(took < Duration::from_secs(10), "stopped after {:?}", took);
    println!(
        "idle VM stopped through a Stopper in {:?}: {}",
        took, exit.message
    );
    let late = vm.stopper();
    drop(vm);
    assert!(!late.stop(), "a Stopper outliving its Vm does nothing");
    console.finish();
    assert_eq!(errors.load(Ordering::SeqCst), 0);
}
