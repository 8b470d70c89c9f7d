#!/usr/bin/env python3
# tty-escape.py: runs microvm on a pseudo-terminal: the guest echoes typed keys, Ctrl-A x stops the VM, the terminal mode comes back.
import os, pty, select, sys, termios, time

vmm, kernel = sys.argv[1], sys.argv[2]
pid, fd = pty.fork()
if pid == 0:
    os.execv(vmm, [vmm, "run", "--kernel", kernel, "--cmdline", "tiny.mode=echo"])

def read_until(marker, timeout=20):
    buf, end = b"", time.time() + timeout
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
            if marker in buf:
                return buf
    return buf

out = read_until(b"echo ready")
assert b"echo ready" in out, out
raw = termios.tcgetattr(fd)
assert not (raw[3] & termios.ICANON) and not (raw[3] & termios.ECHO), "stdin not raw"
os.write(fd, b"hi\x01\x01there")  # Ctrl-A Ctrl-A sends one Ctrl-A
out = read_until(b"there")
assert b"hi\x01there" in out, out
os.write(fd, b"\x01x")  # Ctrl-A x: stop
_, status = os.waitpid(pid, 0)
code = os.waitstatus_to_exitcode(status)
after = termios.tcgetattr(fd)
assert code == 6, f"exit status {code}, want 6"
assert (after[3] & termios.ICANON) and (after[3] & termios.ECHO), "terminal mode not restored"
print("ok")
