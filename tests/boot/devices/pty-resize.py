#!/usr/bin/env python3
"""pty-resize.py: runs a VMM command on a pseudo-terminal it controls, resizes that terminal once the guest says so, and reports what it saw.

Usage: pty-resize.py ROWS COLS NEW_ROWS NEW_COLS TIMEOUT LOG -- CMD [ARGS...]

The command becomes a session leader with the pty as its controlling terminal
(so resizing it sends SIGWINCH to the command, as in an interactive shell),
starting at ROWS x COLS. When a line containing RESIZE-NOW appears, the pty is
set to NEW_ROWS x NEW_COLS. Everything read from the pty goes to LOG.
Prints "status N" (the command's exit status, or "status timeout"), then
"resized yes|no". Exit status 0 unless the helper itself failed.
"""
import fcntl
import os
import select
import signal
import struct
import sys
import termios
import time


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def main():
    if len(sys.argv) < 9 or sys.argv[7] != "--":
        sys.exit(__doc__.splitlines()[2])
    rows, cols, nrows, ncols, timeout = (int(x) for x in sys.argv[1:6])
    log_path, cmd = sys.argv[6], sys.argv[8:]
    master, slave = os.openpty()
    set_size(slave, rows, cols)
    pid = os.fork()
    if pid == 0:
        try:
            os.close(master)
            os.setsid()
            fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
            for fd in (0, 1, 2):
                os.dup2(slave, fd)
            if slave > 2:
                os.close(slave)
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)
    os.close(slave)
    deadline = time.monotonic() + timeout
    seen = b""
    resized = False
    st = None
    with open(log_path, "wb") as log:
        while time.monotonic() < deadline:
            r, _, _ = select.select([master], [], [], 0.2)
            if r:
                try:
                    data = os.read(master, 4096)
                except OSError:  # EIO: every slave fd is closed
                    data = b""
                log.write(data)
                log.flush()
                seen = (seen + data)[-4096:]
                if not resized and b"RESIZE-NOW" in seen:
                    set_size(master, nrows, ncols)
                    resized = True
            done, wst = os.waitpid(pid, os.WNOHANG)
            if done:
                st = wst
                # What it wrote last is still in the pty.
                while select.select([master], [], [], 0.2)[0]:
                    try:
                        data = os.read(master, 4096)
                    except OSError:
                        break
                    if not data:
                        break
                    log.write(data)
                break
    if st is None:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        status = "timeout"
    else:
        status = os.waitstatus_to_exitcode(st)
    print(f"status {status}")
    print(f"resized {'yes' if resized else 'no'}")


if __name__ == "__main__":
    main()
