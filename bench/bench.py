#!/usr/bin/env python3
"""bench.py: the benchmark driver: runs microvm and QEMU through bench-launch and writes raw JSON (measure), then the report (report).

  bench.py measure --section rig|host|vfio --out RAW.json [--iterations N] [--tiny-runs N]
                   [--memory-runs N] [--rate-runs N] [--qemu-machine auto|microvm|q35]
  bench.py aarch64-raw RUNS.jsonl --out RAW.json   the aarch64 rig's runs as a section
  bench.py report RAW.json... --out DIR      results.json, results.md, chart.png in DIR

`measure` runs where it is started: on this machine (section "host"), inside the x86
rig (section "rig", see bench/run.sh), or inside the VFIO rig (section "vfio": the rig host
has an IOMMU and QEMU's nvme endpoint, which both VMMs pass through to the same Linux
guest; $VFIO_NVME names it, tests/boot/vfio/bind.sh binds it). Every number comes from bench-launch
(bench/launch.c), which measures both VMMs the same way: launch is CLOCK_MONOTONIC in
the child right before execve(); first KVM_RUN, first guest entry, the init marker and
exits come from tracefs (trace_clock mono); CPU and memory from /proc/PID/{stat,smaps}
while the VMM is stopped at the init line; teardown from the guest's power-off line to
the reaping of the process.

The aarch64 rig has no python: bench/aarch64-in-rig.sh runs bench-launch there (microvm
and QEMU -M virt, the same arm64 Image and initramfs) and writes its JSON lines, which
`aarch64-raw` checks and turns into section "aarch64" here.
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BUILD", "build")
RAM_MIB = 128
CPUS = 1
LINUX_CMDLINE = "console=ttyS0 reboot=k panic=-1 quiet microvm.init=poweroff"
INIT_LINE = "microvm-init: started"
POWEROFF_LINE = "reboot: Power down"
TINY_STOP_LINE = "BENCH-GUEST: stop"
TINY_READY_LINE = "BENCH-GUEST: ready"
QEMU = "qemu-system-x86_64"
# Where the executables and guest files are read from; stage() may move them to a tmpfs.
FILES = {}


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def path(*p):
    return os.path.join(REPO, *p)


def sh(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


# ---------------------------------------------------------------- machine

def machine_info(section):
    cpu_model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_kib = 0
    try:
        with open("/proc/meminfo") as f:
            mem_kib = int(f.readline().split()[1])
    except (OSError, ValueError, IndexError):
        pass
    kvm = [m for m in ("kvm_pvm", "kvm_amd", "kvm_intel") if os.path.exists(f"/sys/module/{m}")]
    qver = sh([QEMU, "--version"]).splitlines()
    return {
        "section": section,
        "where": ("inside the x86 rig: QEMU TCG emulating an x86 host (-cpu max), "
                  "its Debian kernel with kvm_amd (nested SVM)") if section in ("rig", "vfio")
                 else "this machine, natively",
        "cpu_model": cpu_model,
        "cpus_online": os.cpu_count(),
        "mem_total_mib": mem_kib // 1024,
        "kernel": platform.release(),
        "kvm_module": kvm[0] if kvm else None,
        "qemu_version": qver[0] if qver else None,
        "microvm_git": sh(["git", "-C", REPO, "describe", "--always", "--dirty"]) or None,
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


# ---------------------------------------------------------------- tracefs

class Tracing:
    """The tracefs instances bench-launch records into; removed at the end."""

    def __init__(self, launch, kvm_exit):
        self.launch = launch
        self.name = f"microvm-bench-{os.getpid()}"
        self.caps = {}
        self.error = None
        root = self._root()
        if root is None:
            self.error = "tracefs not available (not mounted and cannot be mounted)"
            return
        os.environ["BENCH_TRACEFS"] = root
        cmd = [launch, "--trace-setup", self.name, "--buffer-kb", "32768"]
        if kvm_exit:
            cmd.append("--trace-kvm-exit")
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            self.error = f"tracefs setup failed: {r.stderr.strip()}"
            return
        self.caps = json.loads(r.stdout)

    @staticmethod
    def _root():
        for d in (os.environ.get("BENCH_TRACEFS"), "/sys/kernel/tracing",
                  "/sys/kernel/debug/tracing"):
            if d and os.path.isdir(os.path.join(d, "instances")):
                return d
        for d in ("/sys/kernel/tracing", path(BUILD, "bench", "tracefs")):
            try:
                os.makedirs(d, exist_ok=True)
                subprocess.run(["mount", "-t", "tracefs", "nodev", d],
                               capture_output=True, check=True)
                if os.path.isdir(os.path.join(d, "instances")):
                    return d
            except (OSError, subprocess.CalledProcessError):
                continue
        return None

    def args(self):
        return ["--trace", self.name] if not self.error else []

    def close(self):
        if not self.error:
            subprocess.run([self.launch, "--trace-remove", self.name], capture_output=True)


# ---------------------------------------------------------------- VMM command lines

def stage(section, kernel, initrd):
    """Point FILES at the binaries and guest files; in the rig, at copies on its tmpfs.

    The rig reads this checkout over 9p without a page cache (it is shared writable),
    while QEMU and its libraries come from the read-only, cached 9p root: left there,
    every page of microvm's binary and every byte of the guest's kernel was fetched
    through the emulated transport on each run (both VMMs paid it for the guest files,
    only microvm for its binary). A real host has all of them in its page cache, so
    both VMMs now read them from the rig's tmpfs. Returns the directory, or None."""
    src = {"microvm": path(BUILD, "microvm"),
           "guest-stop": path(BUILD, "bench", "guest-stop.elf"),
           "guest-halt": path(BUILD, "bench", "guest-halt.elf")}
    if kernel:
        src.update(kernel=kernel, initrd=initrd)
    FILES.clear()
    FILES.update(src)
    if section != "rig":
        return None
    d = tempfile.mkdtemp(prefix="microvm-bench-", dir="/tmp")
    for k, f in src.items():
        FILES[k] = os.path.join(d, os.path.basename(f))
        shutil.copy2(f, FILES[k])
    return d


# Extra arguments per VMM in the vfio section: the same host device behind a root port.
VFIO_ARGS = {"microvm": [], "qemu": []}


def microvm_cmd(kernel, initrd=None, cmdline=None, timings=None):
    cmd = [FILES.get("microvm", path(BUILD, "microvm")), "run", "--kernel", kernel, "--cpus", str(CPUS),
           "--memory", f"{RAM_MIB}M", "--console", "stdio"] + VFIO_ARGS["microvm"]
    if initrd:
        cmd += ["--initrd", initrd]
    if cmdline:
        cmd += ["--cmdline", cmdline]
    if timings:
        cmd += ["--timings-json", timings]
    return cmd


def qemu_cmd(machine, kernel, initrd=None, cmdline=None):
    cmd = [QEMU, "-accel", "kvm", "-M", machine, "-cpu", "host", "-smp", str(CPUS),
           "-m", f"{RAM_MIB}M", "-nographic", "-no-reboot", "-kernel", kernel] + VFIO_ARGS["qemu"]
    if initrd:
        cmd += ["-initrd", initrd]
    if cmdline:
        cmd += ["-append", cmdline]
    return cmd


# ---------------------------------------------------------------- runs

class Bench:
    def __init__(self, a):
        self.a = a
        self.launch = path(BUILD, "bench", "launch")
        self.logdir = path(BUILD, "bench", "logs", a.section)
        os.makedirs(self.logdir, exist_ok=True)
        self.seq = 0
        self.failures = []

    def run(self, label, cmd, tracing, sample_at=None, end_line=None, kill_after=False,
            timeout=300, tag=""):
        self.seq += 1
        logf = os.path.join(self.logdir, f"{self.seq:03d}-{label}{tag}.log")
        args = [self.launch, "--label", label, "--log", logf, "--timeout", str(timeout),
                "--ram-mib", str(RAM_MIB)] + tracing.args()
        if sample_at:
            args += ["--sample-at", sample_at]
        if end_line:
            args += ["--end-line", end_line]
        if kill_after:
            args.append("--kill-after-sample")
        r = subprocess.run(args + ["--"] + cmd, capture_output=True, text=True)
        if r.stderr.strip():
            log(r.stderr.strip())
        try:
            res = json.loads(r.stdout)
        except json.JSONDecodeError:
            raise SystemExit(f"bench: bench-launch gave no JSON for {label} "
                             f"(status {r.returncode}): {r.stdout[:200]}")
        res["log"] = os.path.relpath(logf, REPO)
        return res

    def check(self, res, what, ok, why):
        res.setdefault("problems", [])
        if not ok:
            res["problems"].append(why)
            self.failures.append(f"{what}: {why}")
            log(f"PROBLEM: {what}: {why} (log {res.get('log')})")

    # -- Linux to /init and power-off

    def linux_run(self, vmm, tracing, machine, kernel, initrd, tag=""):
        timeout = self.a.boot_timeout
        if vmm == "microvm":
            tj = os.path.join(self.logdir, f"{self.seq + 1:03d}-microvm{tag}.timings.json")
            cmd = microvm_cmd(kernel, initrd, LINUX_CMDLINE, tj)
        else:
            tj = None
            cmd = qemu_cmd(machine, kernel, initrd, LINUX_CMDLINE)
        res = self.run(vmm, cmd, tracing, sample_at=INIT_LINE, end_line=POWEROFF_LINE,
                       timeout=timeout, tag=tag)
        what = f"linux {vmm}{tag} run {self.seq}"
        self.check(res, what, res["exit_status"] == 0,
                   f"exit status {res['exit_status']} signal {res['signal']} "
                   f"(timed out: {res['timed_out']})")
        self.check(res, what, res["sample_line_ms"] is not None,
                   f"the guest never printed '{INIT_LINE}'")
        self.check(res, what, res["sampled"], "no /proc sample at the init line")
        self.check(res, what, res["end_line_ms"] is not None,
                   f"the guest never printed '{POWEROFF_LINE}'")
        if not tracing.error:
            self.check(res, what, res["init_marker_ms"] is not None,
                       "no port-0x80 write of 123 (init marker) in the trace")
            self.check(res, what, not res["trace_dropped"],
                       f"{res['trace_dropped']} trace events dropped")
        if tj:
            res["vmm_timings"] = self.vmm_timings(tj, res)
        return res

    @staticmethod
    def vmm_timings(tj, res):
        """microvm's own --timings-json, for the cross-check."""
        try:
            with open(tj) as f:
                t = json.load(f)
        except (OSError, json.JSONDecodeError):
            return None
        markers = [m["ms"] for m in t.get("boot_markers", []) if m.get("value") == 123]
        out = {
            "first_kvm_run_ms": t.get("phases_ms", {}).get("first_kvm_run"),
            "marker_ms": markers[0] if markers else None,
            "exits_total": t.get("exits_total"),
            "exits": t.get("exits"),
            "cpu_to_first_kvm_run_ms": t.get("vmm_cpu_ms", {}).get("to_first_kvm_run"),
            "teardown_ms": t.get("teardown_ms"),
            "phases_ms": t.get("phases_ms"),
            "exits_by_device": t.get("exits_by_device"),
            "dma_map_ms": (t.get("vfio") or {}).get("dma_map_ms"),
            "dma_gbps": (t.get("vfio") or {}).get("dma_gbps"),
        }
        # Same events, two clocks: the VMM counts from microvm_create(), the trace
        # from launch; the offset is the first KVM_RUN's.
        if out["marker_ms"] is not None and out["first_kvm_run_ms"] is not None \
                and res.get("first_kvm_run_ms") is not None \
                and res.get("init_marker_ms") is not None:
            offset = res["first_kvm_run_ms"] - out["first_kvm_run_ms"]
            out["launch_to_create_ms"] = round(offset, 3)
            out["marker_vs_trace_ms"] = round(out["marker_ms"] + offset - res["init_marker_ms"], 3)
        if res.get("userspace_exits_total") is not None and out["exits_total"] is not None:
            out["exits_vs_trace"] = out["exits_total"] - res["userspace_exits_total"]
        return out

    # -- the tiny start/stop guest

    def tiny_run(self, vmm, tracing, machine):
        g = FILES["guest-stop"]
        tj = os.path.join(self.logdir, f"{self.seq + 1:03d}-microvm-tiny.timings.json")
        cmd = microvm_cmd(g, timings=tj) if vmm == "microvm" else qemu_cmd(machine, g)
        res = self.run(vmm, cmd, tracing, end_line=TINY_STOP_LINE, timeout=120, tag="-tiny")
        if vmm == "microvm":
            t = self.vmm_timings(tj, res)
            res["vmm_own_cpu_to_first_kvm_run_ms"] = t["cpu_to_first_kvm_run_ms"] if t else None
        what = f"tiny {vmm} run {self.seq}"
        want = 5 if vmm == "microvm" else 0  # a triple fault: microvm says so, QEMU -no-reboot exits 0
        self.check(res, what, res["exit_status"] == want,
                   f"exit status {res['exit_status']} signal {res['signal']}, expected {want}")
        self.check(res, what, res["end_line_ms"] is not None,
                   f"the guest never printed '{TINY_STOP_LINE}'")
        return res

    def tiny_memory_run(self, vmm, tracing, machine):
        g = FILES["guest-halt"]
        cmd = microvm_cmd(g) if vmm == "microvm" else qemu_cmd(machine, g)
        res = self.run(vmm, cmd, tracing, sample_at=TINY_READY_LINE, kill_after=True,
                       timeout=120, tag="-tinymem")
        self.check(res, f"tiny memory {vmm} run {self.seq}", res["sampled"],
                   f"no /proc sample at '{TINY_READY_LINE}'")
        return res

    def rate(self, vmm, machine, n):
        g = FILES["guest-stop"]
        cmd = microvm_cmd(g) if vmm == "microvm" else qemu_cmd(machine, g)
        cpu = max(os.sched_getaffinity(0))
        r = subprocess.run([self.launch, "--label", vmm, "--repeat", str(n), "--cpu", str(cpu),
                            "--timeout", "60", "--"] + cmd, capture_output=True, text=True)
        res = json.loads(r.stdout)
        want = "5" if vmm == "microvm" else "0"
        ok = res["exit_statuses"] == {want: n}
        # A VM that hangs is killed after 60 s and counts as a signal.
        res["problems"] = [] if ok else [f"exit statuses {res['exit_statuses']}"]
        if not ok:
            log(f"rate {vmm}: exit statuses {res['exit_statuses']}")
            # The peer misbehaving is a finding (reported with its rate), not a harness failure.
            if vmm == "microvm":
                self.failures.append(f"rate {vmm}: exit statuses {res['exit_statuses']}")
        return res


def kvm_is_pvm():
    return os.path.exists("/sys/module/kvm_pvm")


def measure_vfio(a, b, out):
    """Linux with the rig's nvme endpoint passed through, microvm and QEMU alternating."""
    global RAM_MIB
    RAM_MIB = a.vfio_memory_mib
    bdf = os.environ.get("VFIO_NVME")
    if not bdf:
        raise SystemExit("bench: VFIO_NVME is not set: the vfio section runs inside the "
                         "VFIO rig after tests/boot/vfio/bind.sh (bench/run.sh does both)")
    VFIO_ARGS["microvm"] = ["--vfio", bdf]
    VFIO_ARGS["qemu"] = ["-device", "pcie-root-port,id=mvrp0,chassis=1",
                         "-device", f"vfio-pci,host={bdf},bus=mvrp0"]
    kernel = src_kernel = path("build", "guest", "vmlinux" if a.kernel == "pvh" else "vmlinuz")
    initrd = src_initrd = path("build", "guest", "initramfs.cpio.gz")
    staged = stage("rig", kernel, initrd)
    kernel, initrd = FILES["kernel"], FILES["initrd"]
    tracing = Tracing(b.launch, kvm_exit=True)
    if tracing.error:
        log(f"no tracing: {tracing.error}; trace-based metrics will be missing")
    out["tracing"] = {"error": tracing.error, **tracing.caps}
    out["qemu"] = {"available": shutil.which(QEMU) is not None, "machine": "q35",
                   "reason": None if shutil.which(QEMU) else f"{QEMU} is not installed",
                   "calibration": []}
    vmms = ["microvm"] + (["qemu"] if out["qemu"]["available"] else [])
    out["config"] = {
        "cpus": CPUS, "ram_mib": RAM_MIB, "iterations": a.vfio_iterations,
        "host_device": bdf, "linux_kernel": os.path.relpath(src_kernel, REPO),
        "linux_initrd": os.path.relpath(src_initrd, REPO), "linux_cmdline": LINUX_CMDLINE,
        "staged": staged and f"the microvm binary and the guest files are copied to the "
                             f"rig's tmpfs ({staged}) and run from there",
        "microvm_cmd": " ".join(["microvm"] + microvm_cmd("KERNEL", "INITRD", "CMDLINE")[1:]),
        "qemu_cmd": " ".join(qemu_cmd("q35", "KERNEL", "INITRD", "CMDLINE")),
    }
    try:
        runs = []
        for i in range(a.vfio_iterations):
            for v in (vmms if i % 2 == 0 else vmms[::-1]):
                log(f"vfio linux {i + 1}/{a.vfio_iterations}: {v}")
                runs.append(b.linux_run(v, tracing, "q35", kernel, initrd, tag="-vfio"))
        for r in runs:
            t = r.get("vmm_timings") or {}
            r["dma_map_ms"] = t.get("dma_map_ms")
        out["linux"] = {"runs": runs}
    finally:
        tracing.close()
        if staged:
            shutil.rmtree(staged, ignore_errors=True)


def measure(a):
    b = Bench(a)
    out = {"format": 1, "machine": machine_info(a.section)}
    for f in ("microvm", "bench/launch", "bench/guest-stop.elf", "bench/guest-halt.elf"):
        if not os.path.exists(path(BUILD, f)):
            raise SystemExit(f"bench: {BUILD}/{f} missing: run make bench")
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        raise SystemExit("bench: no usable /dev/kvm here")
    if a.section == "vfio":
        measure_vfio(a, b, out)
        return write_raw(a, b, out)

    # QEMU is the peer wherever it can run.
    qemu = {"available": True, "reason": None, "machine": None, "calibration": []}
    if kvm_is_pvm():
        qemu.update(available=False, reason=(
            "this host's /dev/kvm is kvm_pvm (nested; guest kernel code runs in KVM's "
            "instruction emulator): QEMU's firmware (qboot, SeaBIOS, the PVH option ROM) "
            "resets or hangs at once there, so QEMU is compared inside the x86 rig"))
    elif shutil.which(QEMU) is None:
        qemu.update(available=False, reason=f"{QEMU} is not installed (scripts/deps.sh)")
    linux = a.section == "rig" or not kvm_is_pvm()
    # The bzImage by default: QEMU's usual -kernel, and 8 MiB to load instead of the
    # ELF's 57 MiB of segments (which both VMMs copy before their first KVM_RUN).
    kernel = src_kernel = path("build", "guest", "vmlinux" if a.kernel == "pvh" else "vmlinuz")
    initrd = src_initrd = path("build", "guest", "initramfs.cpio.gz")
    if linux and not os.path.exists(initrd):
        raise SystemExit("bench: build/guest missing: run scripts/guest-assets.sh")

    staged = stage(a.section, kernel if linux else None, initrd)
    if linux:
        kernel, initrd = FILES["kernel"], FILES["initrd"]
    tracing = Tracing(b.launch, kvm_exit=not kvm_is_pvm())
    if tracing.error:
        log(f"no tracing: {tracing.error}; trace-based metrics will be missing")
    out["tracing"] = {"error": tracing.error, **tracing.caps}
    out["config"] = {
        "cpus": CPUS, "ram_mib": RAM_MIB, "iterations": a.iterations, "tiny_runs": a.tiny_runs,
        "memory_runs": a.memory_runs, "rate_runs": a.rate_runs,
        "linux_kernel": os.path.relpath(src_kernel, REPO) if linux else None,
        "linux_initrd": os.path.relpath(src_initrd, REPO) if linux else None,
        "staged": staged and ("the microvm binary, the guest kernel, initrd and tiny guests "
                              f"are copied to the rig's tmpfs ({staged}) and run from there"),
        "linux_cmdline": LINUX_CMDLINE if linux else None,
        "microvm_cmd": " ".join(os.path.relpath(x, REPO) if x.startswith(REPO)
                                else "microvm" if x == FILES["microvm"] else x
                                for x in microvm_cmd("KERNEL", "INITRD", "CMDLINE")),
    }
    vmms = ["microvm"] + (["qemu"] if qemu["available"] else [])
    try:
        # QEMU's machine type: the fastest of -M microvm and -M q35 that reaches /init.
        if qemu["available"]:
            choice = a.qemu_machine
            if linux and choice == "auto":
                best = None
                for m in ("microvm", "q35"):
                    log(f"calibration: QEMU -M {m}")
                    r = b.linux_run("qemu", tracing, m, kernel, initrd, tag=f"-{m}")
                    r["machine"] = m
                    qemu["calibration"].append(r)
                    if not r["problems"] and r["init_marker_ms"] is not None and \
                            (best is None or r["init_marker_ms"] < best[1]):
                        best = (m, r["init_marker_ms"])
                # A calibration failure is a finding, not a harness failure.
                b.failures = [f for f in b.failures if not f.startswith("linux qemu-")]
                if best is None:
                    qemu.update(available=False,
                                reason="QEMU reached our /init with neither -M microvm nor -M q35")
                    vmms = ["microvm"]
                choice = best[0] if best else None
            elif choice == "auto":
                choice = "microvm"
            qemu["machine"] = choice
        qm = qemu["machine"]
        out["qemu"] = qemu
        if qemu["available"]:
            out["config"]["qemu_cmd"] = " ".join(qemu_cmd(qm, "KERNEL", "INITRD", "CMDLINE"))

        if linux:
            runs = []
            for i in range(a.iterations):
                order = vmms if i % 2 == 0 else vmms[::-1]
                for v in order:
                    log(f"linux {i + 1}/{a.iterations}: {v}")
                    runs.append(b.linux_run(v, tracing, qm, kernel, initrd))
            out["linux"] = {"runs": runs}

        # The tiny guest has its own fastest QEMU machine type (qboot vs SeaBIOS).
        qt = qm
        if qemu["available"] and a.qemu_machine == "auto":
            best = None
            for m in ("microvm", "q35"):
                r = b.tiny_run("qemu", tracing, m)
                r["machine"] = m
                qemu["calibration"].append(r)
                if not r["problems"] and (best is None or r["launch_to_exit_ms"] < best[1]):
                    best = (m, r["launch_to_exit_ms"])
            b.failures = [f for f in b.failures if not f.startswith("tiny qemu run")]
            qt = best[0] if best else qm
        qemu["tiny_machine"] = qt
        if qemu["available"]:
            out["config"]["qemu_tiny_cmd"] = " ".join(qemu_cmd(qt, "bench-guest-stop.elf"))
        qm = qt
        runs, mem = [], []
        for i in range(a.tiny_runs):
            for v in (vmms if i % 2 == 0 else vmms[::-1]):
                runs.append(b.tiny_run(v, tracing, qm))
        for i in range(a.memory_runs):
            for v in (vmms if i % 2 == 0 else vmms[::-1]):
                mem.append(b.tiny_memory_run(v, tracing, qm))
        log(f"tiny guest: {len(runs)} timed runs, {len(mem)} memory runs")
        rates = {}
        for v in vmms:
            log(f"start/stop rate: {v}, {a.rate_runs} VMs on one CPU")
            rates[v] = b.rate(v, qm, a.rate_runs)
        out["tiny"] = {"runs": runs, "memory_runs": mem, "rate": rates,
                       "guest": "bench/guest/guest.S (PVH ELF: marker, one line, triple fault)"}
    finally:
        tracing.close()
        if staged:
            shutil.rmtree(staged, ignore_errors=True)
    return write_raw(a, b, out)


# The aarch64 rig's guest: Debian's arm64 Image and our arm64 initramfs (bench/aarch64-in-rig.sh).
A64_QEMU_MACHINE = "virt,gic-version=3"
A64_KERNEL = "build/guest-arm64/Image"
A64_INITRD = "build/guest-arm64/initramfs.cpio.gz"


def a64_check(res, what, failures):
    """linux_run's checks, for a run of the aarch64 rig (no port-0x80 marker there)."""
    probs = []
    if res.get("launch_failed"):
        probs.append(f"bench-launch gave no JSON (status {res.get('launch_status')}: "
                     f"{res.get('launch_stderr')})")
    else:
        if res["exit_status"] != 0:
            probs.append(f"exit status {res['exit_status']} signal {res['signal']} "
                         f"(timed out: {res['timed_out']})")
        if res["sample_line_ms"] is None:
            probs.append(f"the guest never printed '{INIT_LINE}'")
        if not res["sampled"]:
            probs.append("no /proc sample at the init line")
        if res["end_line_ms"] is None:
            probs.append(f"the guest never printed '{POWEROFF_LINE}'")
        if res.get("traced") and res.get("trace_dropped"):
            probs.append(f"{res['trace_dropped']} trace events dropped")
    res["problems"] = probs
    for p in probs:
        failures.append(f"{what}: {p}")
        log(f"PROBLEM: {what}: {p} (log {res.get('log')})")


def a64_timings(res):
    """microvm's own --timings-json; its boot-timer marker (value 123, written by our /init
    through /dev/mem) placed on launch's clock through the traced first KVM_RUN."""
    t = Bench.vmm_timings(path(res["timings"]), res) if res.get("timings") else None
    if t and t.get("marker_ms") is not None and t.get("first_kvm_run_ms") is not None \
            and res.get("first_kvm_run_ms") is not None:
        offset = res["first_kvm_run_ms"] - t["first_kvm_run_ms"]
        t["launch_to_create_ms"] = round(offset, 3)
        res["vmm_marker_ms"] = round(t["marker_ms"] + offset, 3)
    return t


def aarch64_raw(a):
    """bench/aarch64-in-rig.sh's JSON lines (a meta line, one per run) → a raw section."""
    meta, runs, failures = None, [], []
    with open(a.runs) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                o = json.loads(line)
            except json.JSONDecodeError as e:
                raise SystemExit(f"bench: {a.runs}:{n}: not JSON ({e}): {line[:200]}")
            if "meta" in o:
                meta = o["meta"]
            else:
                runs.append(o)
    if meta is None:
        raise SystemExit(f"bench: {a.runs} has no meta line: did bench/aarch64-in-rig.sh run?")
    for i, r in enumerate(runs, 1):
        a64_check(r, f"aarch64 linux {r['vmm']} run {i}", failures)
        if r["vmm"] == "microvm":
            r["vmm_timings"] = a64_timings(r)
    tr = meta.get("tracing") or {}
    cmd = meta["cmdline"]
    out = {
        "format": 1,
        "machine": {
            "section": "aarch64",
            "where": ("inside the aarch64 rig: QEMU TCG emulating an arm64 host (virt, EL2, "
                      "GICv3, -cpu max), its Debian arm64 kernel with KVM "
                      f"({meta.get('kvm_mode')})"),
            "cpu_model": f"emulated arm64 (CPU part {meta.get('cpu_part')}; THP {meta.get('thp')})",
            "cpus_online": meta.get("cpus_online"), "mem_total_mib": meta.get("mem_total_mib"),
            "kernel": meta.get("kernel"), "kvm_module": "kvm (built in)",
            "qemu_version": meta.get("qemu_version"),
            "microvm_git": sh(["git", "-C", REPO, "describe", "--always", "--dirty"]) or None,
            "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
        "tracing": {"error": tr.get("error"), **{k: v for k, v in tr.items() if k != "error"}},
        "qemu": {"available": any(r["vmm"] == "qemu" for r in runs), "machine": A64_QEMU_MACHINE,
                 "reason": None, "root": meta.get("qemu_root")},
        "config": {
            "cpus": meta.get("cpus", CPUS), "ram_mib": meta.get("ram_mib", RAM_MIB),
            "iterations": meta.get("iterations"), "linux_kernel": A64_KERNEL,
            "linux_initrd": A64_INITRD, "linux_cmdline": cmd,
            "staged": ("the arm64 microvm, the Image and the initramfs are copied to the rig's "
                       "RAM-backed root and run from there (QEMU sees them bound on /bench of "
                       "its chroot)"),
            "microvm_cmd": (f"build-aarch64/microvm run --kernel KERNEL --cpus {CPUS} --memory "
                            f"{RAM_MIB}M --console stdio --initrd INITRD --cmdline CMDLINE "
                            "--timings-json T"),
            "qemu_cmd": (f"qemu-system-aarch64 -accel kvm -M {A64_QEMU_MACHINE} -cpu host -smp "
                         f"{CPUS} -m {RAM_MIB}M -nographic -no-reboot -kernel KERNEL -initrd "
                         "INITRD -append CMDLINE"),
        },
        "linux": {"runs": runs},
        "failures": failures,
    }
    tmp = a.out + ".tmp"
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(tmp, "w") as f:
        json.dump(out, f, indent=1)
    os.replace(tmp, a.out)
    log(f"wrote {a.out}: {len(runs)} runs ({len(failures)} problems)")
    return 1 if failures else 0


def write_raw(a, b, out):
    out["failures"] = b.failures
    tmp = a.out + ".tmp"
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(tmp, "w") as f:
        json.dump(out, f, indent=1)
    os.replace(tmp, a.out)
    log(f"wrote {a.out} ({len(b.failures)} problems)")
    return 1 if b.failures else 0


# ---------------------------------------------------------------- report

# (key, label, unit, scale) per metric; scale turns the raw value into the unit.
LINUX_METRICS = [
    ("first_kvm_run_ms", "launch → first KVM_RUN", "ms", 1),
    ("guest_entry_ms", "launch → first guest instruction (kvm_entry)", "ms", 1),
    ("init_marker_ms", "launch → init marker (port 0x80 = 123)", "ms", 1),
    ("sample_line_ms", "launch → `microvm-init: started` on the console", "ms", 1),
    ("vmm_cpu_ms", "VMM CPU to init (utime+stime−guest)", "ms", 1),
    ("userspace_exits_to_marker", "exits to userspace until init", "", 1),
    ("kvm_exits_to_marker", "all VM exits (kvm_exit) until init", "", 1),
    ("overhead_rss_kib", "memory overhead (RSS outside guest RAM)", "MiB", 1 / 1024),
    ("overhead_pss_kib", "memory overhead (PSS outside guest RAM)", "MiB", 1 / 1024),
    ("teardown_ms", "teardown (`reboot: Power down` → reaped)", "ms", 1),
    ("launch_to_exit_ms", "launch → exit", "ms", 1),
]
VFIO_METRICS = [
    ("first_kvm_run_ms", "launch → first KVM_RUN", "ms", 1),
    ("guest_entry_ms", "launch → first guest instruction (kvm_entry)", "ms", 1),
    ("init_marker_ms", "launch → init marker (port 0x80 = 123)", "ms", 1),
    ("dma_map_ms", "guest RAM pinned and mapped for DMA (microvm's own)", "ms", 1),
    ("vmm_cpu_ms", "VMM CPU to init (utime+stime−guest)", "ms", 1),
    ("userspace_exits_to_marker", "exits to userspace until init", "", 1),
    ("overhead_rss_kib", "memory overhead (RSS outside guest RAM)", "MiB", 1 / 1024),
    ("teardown_ms", "teardown (`reboot: Power down` → reaped)", "ms", 1),
]
# The aarch64 rig: no port-0x80 marker on arm64 and no boot-timer device in QEMU's virt,
# so the init line on the console is the shared one, and exits are counted up to it.
A64_METRICS = [
    ("first_kvm_run_ms", "launch → first KVM_RUN", "ms", 1),
    ("guest_entry_ms", "launch → first guest instruction (kvm_entry)", "ms", 1),
    ("sample_line_ms", "launch → `microvm-init: started` on the console", "ms", 1),
    ("vmm_marker_ms", "launch → init marker (boot-timer MMIO = 123; microvm's own clock)",
     "ms", 1),
    ("vmm_cpu_ms", "VMM CPU to init (utime+stime−guest)", "ms", 1),
    ("userspace_exits_to_init_line", "exits to userspace until the init line", "", 1),
    ("kvm_exits_to_init_line", "all VM exits (kvm_exit) until the init line", "", 1),
    ("overhead_rss_kib", "memory overhead (RSS outside guest RAM)", "MiB", 1 / 1024),
    ("overhead_pss_kib", "memory overhead (PSS outside guest RAM)", "MiB", 1 / 1024),
    ("guest_ram_rss_kib", "guest RAM resident at the init line", "MiB", 1 / 1024),
    ("guest_ram_huge_kib", "of it in huge pages (AnonHugePages+ShmemPmdMapped)", "MiB", 1 / 1024),
    ("teardown_ms", "teardown (`reboot: Power down` → reaped)", "ms", 1),
    ("launch_to_exit_ms", "launch → exit", "ms", 1),
]
TINY_METRICS = [
    ("first_kvm_run_ms", "launch → first KVM_RUN", "ms", 1),
    ("guest_entry_ms", "launch → first guest instruction (kvm_entry)", "ms", 1),
    ("init_marker_ms", "launch → guest's marker (its first instruction)", "ms", 1),
    ("launch_to_exit_ms", "launch → exit", "ms", 1),
    ("teardown_ms", "teardown (guest's line → reaped)", "ms", 1),
    ("rusage_cpu_ms", "process CPU, whole run (wait4)", "ms", 1),
    ("userspace_exits_total", "exits to userspace, whole run", "", 1),
    ("vmm_own_cpu_to_first_kvm_run_ms", "microvm's own: CPU to first KVM_RUN (--timings-json)",
     "ms", 1),
]
TINY_MEM_METRICS = [
    ("overhead_rss_kib", "memory overhead (RSS outside guest RAM)", "MiB", 1 / 1024),
    ("overhead_pss_kib", "memory overhead (PSS outside guest RAM)", "MiB", 1 / 1024),
]

# Issue 5's targets: metric -> (kind, bound, text)
TARGETS = {
    "guest_entry_ms": ("ratio", 0.2, "≤ 1/5 of QEMU"),
    "userspace_exits_to_marker": ("ratio", 0.5, "≤ 1/2 of QEMU"),
    "overhead_rss_kib": ("abs", 2048, "≤ 2 MiB (1 vCPU, 128 MiB)"),
    "init_marker_ms": ("ratio_lt", 1.0, "faster than QEMU"),
}


def stats(values):
    v = sorted(x for x in values if x is not None)
    if not v:
        return None
    if len(v) >= 4:
        q = statistics.quantiles(v, n=4, method="inclusive")
        q1, q3 = q[0], q[2]
    else:
        q1, q3 = v[0], v[-1]
    return {"n": len(v), "median": statistics.median(v), "min": v[0], "max": v[-1],
            "q1": q1, "q3": q3}


def aggregate(runs, metrics, vmms):
    table = []
    for key, label, unit, scale in metrics:
        row = {"metric": key, "label": label, "unit": unit}
        for v in vmms:
            vals = [r.get(key) for r in runs if r["vmm"] == v and not r.get("problems")]
            s = stats([x * scale for x in vals if x is not None])
            row[v] = s
        m, q = row.get("microvm"), row.get("qemu")
        row["ratio"] = (m["median"] / q["median"]) if m and q and q["median"] else None
        table.append(row)
    return table


# Issue 10's target, for the vfio section.
VFIO_TARGETS = {
    "guest_entry_ms": ("ratio", 0.5, "≤ 1/2 of QEMU"),
}


def target_verdict(row, targets=None):
    t = (targets or TARGETS).get(row["metric"])
    if not t:
        return None
    kind, bound, text = t
    m = row.get("microvm")
    if kind == "abs":
        if not m:
            return {"target": text, "met": None}
        return {"target": text, "met": m["median"] * 1024 <= bound}
    r = row.get("ratio")
    if r is None:
        return {"target": text, "met": None}
    return {"target": text, "met": r <= bound if kind == "ratio" else r < bound}


def fmt(x, unit):
    if x is None:
        return "–"
    if unit == "MiB":
        return f"{x:.2f}"
    if unit == "":
        return f"{x:.0f}"
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def md_table(rows, vmms, with_targets, targets=None):
    head = ["metric"] + [f"{v} median [min–max] (IQR)" for v in vmms]
    if "qemu" in vmms:
        head.append("microvm/QEMU")
    if with_targets:
        head += ["target", "met"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        if all(row.get(v) is None for v in vmms):
            continue
        unit = row["unit"]
        cells = [row["label"] + (f" ({unit})" if unit else "")]
        for v in vmms:
            s = row.get(v)
            cells.append("–" if not s else
                         f"{fmt(s['median'], unit)} [{fmt(s['min'], unit)}–{fmt(s['max'], unit)}] "
                         f"({fmt(s['q1'], unit)}–{fmt(s['q3'], unit)})")
        if "qemu" in vmms:
            cells.append("–" if row["ratio"] is None else f"{row['ratio']:.3f}")
        if with_targets:
            t = target_verdict(row, targets)
            if t:
                cells += [t["target"], {True: "yes", False: "**no**", None: "–"}[t["met"]]]
            else:
                cells += ["", ""]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


PORT_NAMES = {0xcf8: "PCI conf1 address", 0xcfc: "PCI conf1 data", 0x70: "RTC index",
              0x71: "RTC data", 0x80: "debug port", 0x3f8: "COM1 data", 0x3fd: "COM1 LSR",
              0x61: "PIT/speaker", 0x40: "PIT ch0", 0x43: "PIT mode", 0x402: "QEMU debugcon",
              0x510: "fw_cfg", 0x511: "fw_cfg data", 0x514: "fw_cfg DMA"}


def linux_details(runs, vmms):
    """Where the exits, the memory and microvm's start-up time go."""
    md = []
    clean = {v: [r for r in runs if r["vmm"] == v and not r.get("problems")] for v in vmms}
    # Busiest I/O ports until the init marker, medians over runs.
    ports = {}
    for v in vmms:
        for r in clean[v]:
            for p, n in (r.get("pio_by_port_to_marker") or {}).items():
                ports.setdefault(p, {}).setdefault(v, []).append(n)
    if ports:
        top = sorted(ports, key=lambda p: -max(statistics.median(x) for x in ports[p].values()))[:8]
        md += ["Port I/O until init, busiest ports (median count per run; kvm:kvm_pio, "
               "in-kernel or not):", "",
               "| port | " + " | ".join(vmms) + " |", "|---|" + "---|" * len(vmms)]
        for p in top:
            name = PORT_NAMES.get(int(p, 16), "")
            md.append(f"| {p}{' ' + name if name else ''} | " + " | ".join(
                f"{statistics.median(ports[p][v]):.0f}" if v in ports[p] else "0"
                for v in vmms) + " |")
        md.append("")
    # What the overhead is made of, in the first clean run of each VMM.
    for v in vmms:
        r = next((r for r in clean[v] if r.get("top_overhead_mappings")), None)
        if r:
            md.append(f"Largest resident mappings besides guest RAM, {v} (one run): " + ", ".join(
                f"{m['name']} {m['rss_kib'] / 1024:.1f} MiB" for m in r["top_overhead_mappings"][:5])
                + ".")
    md.append("")
    # microvm's own phase stamps (ms since microvm_create()).
    ph = {}
    for r in clean.get("microvm", []):
        t = r.get("vmm_timings") or {}
        for k, x in (t.get("phases_ms") or {}).items():
            ph.setdefault(k, []).append(x)
        if t.get("launch_to_create_ms") is not None:
            ph.setdefault("(launch → microvm_create)", []).append(t["launch_to_create_ms"])
    if ph:
        md += ["microvm's own phase stamps (`--timings-json`, ms since `microvm_create()`, "
               "median): " + ", ".join(f"{k} {statistics.median(x):.1f}" for k, x in ph.items()),
               ""]
    return md


def machine_md(m):
    return (f"- where: {m['where']}\n"
            f"- CPU: {m['cpu_model']} × {m['cpus_online']}, {m['mem_total_mib']} MiB, "
            f"kernel {m['kernel']}, KVM module {m['kvm_module']}\n"
            f"- QEMU: {m['qemu_version']}; microvm {m['microvm_git']}; measured {m['date_utc']}")


def chart(rows_by_title, out_png, workdir):
    """One PNG: per metric, microvm and QEMU relative to QEMU's median, min–max bars."""
    if shutil.which("gnuplot") is None:
        raise SystemExit("bench: gnuplot not installed (scripts/deps.sh installs gnuplot-nox)")
    data = os.path.join(workdir, "chart.dat")
    n = 0
    with open(data, "w") as f:
        for title, rows in rows_by_title:
            for row in rows:
                m, q = row.get("microvm"), row.get("qemu")
                if not m or not q or not q["median"] or m["median"] <= 0:
                    continue
                qm = q["median"]
                label = f"{title}: {row['label']}".replace('"', "'").replace("`", "")
                f.write(f"\"{label}\" {m['median'] / qm:.6g} {max(m['min'], 1e-9) / qm:.6g} "
                        f"{m['max'] / qm:.6g} 1 {q['min'] / qm:.6g} {q['max'] / qm:.6g}\n")
                n += 1
    if n == 0:
        return False
    gp = os.path.join(workdir, "chart.gp")
    with open(gp, "w") as f:
        f.write(f"""set terminal pngcairo size 1400,{420 + 30 * n} font ",10"
set output "{out_png}"
set title "microvm relative to QEMU (QEMU's median = 1; bars: median, whiskers: min–max; lower is better)"
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.8 border -1
set logscale y 10
set grid ytics
set key top left
set ylabel "relative to QEMU's median (log scale)"
set xtics rotate by -35 left noenhanced
set bmargin 22
set rmargin 36
plot "{data}" using 2:3:4:xtic(1) title "microvm" lc rgb "#2a7ab0", \\
     "" using 5:6:7 title "QEMU" lc rgb "#c0504d", \\
     1 with lines lc rgb "black" dt 2 notitle
""")
    subprocess.run(["gnuplot", gp], check=True)
    return True


def report(a):
    sections = []
    for p in a.raw:
        with open(p) as f:
            sections.append(json.load(f))
    os.makedirs(a.out, exist_ok=True)
    result = {"format": 1, "sections": []}
    md = ["# microvm benchmark results", "",
          "Written by `make bench` (bench/run.sh → bench/bench.py, bench/launch.c); "
          "docs/PERFORMANCE.md explains the method. Every ratio compares runs of the same "
          "session on the same machine.", ""]
    chart_rows = []
    for s in sections:
        sec = s["machine"]["section"]
        vmms = ["microvm"] + (["qemu"] if s["qemu"]["available"] else [])
        entry = {"section": sec, "machine": s["machine"], "config": s["config"],
                 "qemu": {k: v for k, v in s["qemu"].items() if k != "calibration"},
                 "tracing": s["tracing"], "failures": s["failures"]}
        where = {"rig": "inside the x86 rig", "vfio": "VFIO passthrough, inside the x86 rig "
                 "with an IOMMU", "aarch64": "inside the aarch64 rig"}.get(sec, "this machine")
        md += [f"## {sec}: {where}", "", machine_md(s["machine"]), ""]
        if sec == "aarch64":
            c = s["config"]
            runs = s["linux"]["runs"]
            rows = aggregate(runs, A64_METRICS, vmms)
            entry["linux"] = {"kernel": c["linux_kernel"], "cmdline": c["linux_cmdline"],
                              "iterations": c["iterations"], "metrics": rows, "runs": runs}
            md += [f"- guest: {c['cpus']} vCPU, {c['ram_mib']} MiB", f"- QEMU: `{c['qemu_cmd']}` "
                   f"(an arm64 Debian root, chrooted: {s['qemu'].get('root')})",
                   f"- microvm: `{c['microvm_cmd']}`", f"- files: {c['staged']}"]
            if s["tracing"].get("error"):
                md.append(f"- tracing: {s['tracing']['error']}")
            md += ["", f"### Linux to /init and power-off ({c['iterations']} runs each, "
                   "alternating)", "", f"Kernel `{c['linux_kernel']}`, initrd "
                   f"`{c['linux_initrd']}`, command line `{c['linux_cmdline']}`; times in ms "
                   "since launch. arm64 has no port-0x80 marker and QEMU's virt machine no "
                   "boot-timer device: the init line on the console is the init metric both "
                   "VMMs have, and exits are counted up to it.", "",
                   md_table(rows, vmms, False), ""]
            md += linux_details(runs, vmms)
            chart_rows.append((f"{sec} Linux", [r for r in rows if r["metric"] != "vmm_marker_ms"]))
            if s["failures"]:
                md += ["Problems in this run:", ""] + [f"- {x}" for x in s["failures"]] + [""]
            result["sections"].append(entry)
            continue
        if sec == "vfio":
            c = s["config"]
            runs = s["linux"]["runs"]
            rows = aggregate(runs, VFIO_METRICS, vmms)
            entry["linux"] = {"host_device": c["host_device"], "iterations": c["iterations"],
                              "metrics": rows, "runs": runs,
                              "targets": {r["metric"]: target_verdict(r, VFIO_TARGETS)
                                          for r in rows if r["metric"] in VFIO_TARGETS}}
            md += [f"- guest: {c['cpus']} vCPU, {c['ram_mib']} MiB, with the rig's NVMe "
                   f"controller (QEMU's `nvme`, host {c['host_device']}) passed through",
                   f"- microvm: `{c['microvm_cmd']}`", f"- QEMU: `{c['qemu_cmd']}`", "",
                   f"### Linux to /init with a passed-through device ({c['iterations']} runs "
                   "each, alternating)", "",
                   f"Kernel `{c['linux_kernel']}`, command line `{c['linux_cmdline']}`; times "
                   "in ms since launch. Both VMMs pin and map all guest RAM for the device "
                   "before the first guest instruction; only microvm reports that time itself.",
                   "", md_table(rows, vmms, "qemu" in vmms, VFIO_TARGETS), ""]
            chart_rows.append((f"{sec} Linux", [r for r in rows if r["metric"] != "dma_map_ms"]))
            if s["failures"]:
                md += ["Problems in this run:", ""] + [f"- {x}" for x in s["failures"]] + [""]
            result["sections"].append(entry)
            continue
        c = s["config"]
        md.append(f"- guest: {c['cpus']} vCPU, {c['ram_mib']} MiB")
        if s["qemu"]["available"]:
            md.append(f"- QEMU: `{c['qemu_cmd']}`")
            if c.get("qemu_tiny_cmd"):
                md.append(f"- QEMU, tiny guest: `{c['qemu_tiny_cmd']}`")
        else:
            md.append(f"- no QEMU column: {s['qemu']['reason']}")
        md.append(f"- microvm: `{c['microvm_cmd']}`")
        if c.get("staged"):
            md.append(f"- files: {c['staged']}, as a host's page cache would hold them "
                      "(QEMU's binary and libraries come from the rig's cached root)")
        if s["tracing"].get("error"):
            md.append(f"- tracing: {s['tracing']['error']}")
        cal = s["qemu"].get("calibration") or []
        lcal = [r for r in cal if not r["log"].endswith("-tiny.log")]
        tcal = [r for r in cal if r["log"].endswith("-tiny.log")]
        if lcal:
            md.append("- QEMU machine type for Linux (one calibration run each): " + ", ".join(
                f"-M {r['machine']}: " + (f"init marker at {r['init_marker_ms']:.0f} ms"
                                           if r.get("init_marker_ms") and not r["problems"]
                                           else "did not work: " + "; ".join(r["problems"]))
                for r in lcal) + f"; picked -M {s['qemu']['machine']}")
        if tcal:
            md.append("- QEMU machine type for the tiny guest: " + ", ".join(
                f"-M {r['machine']}: " + (f"exit at {r['launch_to_exit_ms']:.0f} ms"
                                           if not r["problems"]
                                           else "did not work: " + "; ".join(r["problems"]))
                for r in tcal) + f"; picked -M {s['qemu'].get('tiny_machine')}")
        md.append("")
        if "linux" in s:
            runs = s["linux"]["runs"]
            rows = aggregate(runs, LINUX_METRICS, vmms)
            entry["linux"] = {"kernel": c["linux_kernel"], "cmdline": c["linux_cmdline"],
                              "iterations": c["iterations"], "metrics": rows,
                              "targets": {r["metric"]: target_verdict(r) for r in rows
                                          if r["metric"] in TARGETS},
                              "runs": runs}
            xc = [r["vmm_timings"] for r in runs
                  if r["vmm"] == "microvm" and r.get("vmm_timings")]
            md += [f"### Linux to /init and power-off ({c['iterations']} runs each, alternating)",
                   "", f"Kernel `{c['linux_kernel']}`, initrd `{c['linux_initrd']}`, command "
                   f"line `{c['linux_cmdline']}`; times in ms since launch.", "",
                   md_table(rows, vmms, "qemu" in vmms), ""]
            d = [x.get("marker_vs_trace_ms") for x in xc if x.get("marker_vs_trace_ms") is not None]
            e = [x.get("exits_vs_trace") for x in xc if x.get("exits_vs_trace") is not None]
            if d:
                md.append(f"Cross-check with microvm's own `--timings-json`: its init marker "
                          f"lands {statistics.median(d):+.3f} ms (median) from the traced one; "
                          f"its exit count minus the traced userspace exits: "
                          f"{'/'.join(str(x) for x in sorted(set(e)))} "
                          f"(the traced count includes the KVM_EXIT_INTR of the SIGSTOP sample).")
                md.append("")
            md += linux_details(runs, vmms)
            chart_rows.append((f"{sec} Linux", rows))
        t = s["tiny"]
        trows = aggregate(t["runs"], TINY_METRICS, vmms)
        mrows = aggregate(t["memory_runs"], TINY_MEM_METRICS, vmms)
        entry["tiny"] = {"guest": t["guest"], "metrics": trows, "memory_metrics": mrows,
                         "rate": t["rate"], "runs": t["runs"], "memory_runs": t["memory_runs"]}
        md += [f"### Tiny guest: start/stop ({c['tiny_runs']} runs each; memory: "
               f"{c['memory_runs']} runs each)", "",
               f"Guest: {t['guest']}.", "",
               md_table(trows + mrows, vmms, False), ""]
        rate_cells = []
        for v in vmms:
            r = t["rate"].get(v)
            if r:
                rate_cells.append(f"{v} {r['vms_per_s']:.1f} VMs/s ({r['runs']} in a row on "
                                  f"CPU {r['cpu']}, median {r['median_ms']:.1f} ms each"
                                  + "".join(f"; did not work: {x}" for x in r.get("problems", []))
                                  + ")")
        if len(vmms) == 2 and all(t["rate"].get(v) and not t["rate"][v].get("problems")
                                  for v in vmms):
            ratio = t["rate"]["microvm"]["vms_per_s"] / t["rate"]["qemu"]["vms_per_s"]
            rate_cells.append(f"ratio microvm/QEMU {ratio:.2f}")
            entry["tiny"]["rate_ratio"] = ratio
        md += ["Start/stop rate, one core: " + "; ".join(rate_cells) + ".", ""]
        chart_rows.append((f"{sec} tiny", trows + mrows))
        if s["failures"]:
            md += ["Problems in this run:", ""] + [f"- {x}" for x in s["failures"]] + [""]
        result["sections"].append(entry)
    png = os.path.join(a.out, "chart.png")
    have_chart = chart(chart_rows, os.path.abspath(png), a.workdir or a.out)
    if have_chart:
        md += ["![microvm relative to QEMU](chart.png)", ""]
    result["chart"] = "chart.png" if have_chart else None
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(result, f, indent=1)
    with open(os.path.join(a.out, "results.md"), "w") as f:
        f.write("\n".join(md))
    log(f"wrote {a.out}/results.json, results.md" + (", chart.png" if have_chart else ""))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("measure")
    m.add_argument("--section", choices=("rig", "host", "vfio"), required=True)
    m.add_argument("--vfio-iterations", type=int, default=5)
    m.add_argument("--vfio-memory-mib", type=int, default=1024)
    m.add_argument("--out", required=True)
    m.add_argument("--iterations", type=int, default=10)
    m.add_argument("--tiny-runs", type=int, default=10)
    m.add_argument("--memory-runs", type=int, default=3)
    m.add_argument("--rate-runs", type=int, default=20)
    m.add_argument("--boot-timeout", type=int, default=240)
    m.add_argument("--qemu-machine", choices=("auto", "microvm", "q35"), default="auto")
    m.add_argument("--kernel", choices=("bzimage", "pvh"), default="bzimage",
                   help="build/guest/vmlinuz, or the ELF build/guest/vmlinux (PVH entry)")
    x = sub.add_parser("aarch64-raw")
    x.add_argument("runs")
    x.add_argument("--out", required=True)
    r = sub.add_parser("report")
    r.add_argument("raw", nargs="+")
    r.add_argument("--out", required=True)
    r.add_argument("--workdir", help="where the gnuplot inputs go (default: --out)")
    a = ap.parse_args()
    os.chdir(REPO)
    if a.cmd == "aarch64-raw":
        return aarch64_raw(a)
    return measure(a) if a.cmd == "measure" else report(a)


if __name__ == "__main__":
    sys.exit(main())
