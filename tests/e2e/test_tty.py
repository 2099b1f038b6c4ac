"""Login prompts end to end: a getty on every LXC tty (reached with
lxc-console), a root shell with job control under autologin, and a getty on
the kernel's console of a QEMU guest (its ttyS0 on a unix socket)."""

import os
import pty
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import BOOT_TIMEOUT, build, unique

PROMPT_TIMEOUT = 20


def write_recipe(path, name, runtime):
    with open(path, "w") as f:
        f.write(f"[image]\nname = {name}\n\n[runtime]\n{runtime}")


@pytest.fixture(scope="module")
def tty_build():
    """The minimal appliance with two LXC ttys."""
    d = tempfile.mkdtemp(prefix="amphi-e2e-tty-")
    recipe = os.path.join(d, "tty.conf")
    write_recipe(recipe, "ttytest", "ttys = 2\n")
    build(recipe, os.path.join(d, "out"))
    yield os.path.join(d, "out")
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def autologin_build():
    d = tempfile.mkdtemp(prefix="amphi-e2e-autologin-")
    recipe = os.path.join(d, "autologin.conf")
    write_recipe(recipe, "autologin", "ttys = 1\nautologin = yes\n")
    build(recipe, os.path.join(d, "out"))
    yield os.path.join(d, "out")
    shutil.rmtree(d, ignore_errors=True)


class Term:
    """Both ends of a conversation over one fd (a pty master or a socket):
    expect() reads until a regex matches and consumes through the match."""

    def __init__(self, fd):
        self.fd = fd
        self.buf = b""
        self.seen = b""

    def send(self, data):
        os.write(self.fd, data)

    def expect(self, pattern, timeout=PROMPT_TIMEOUT, poke=None, poke_every=5.0):
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        next_poke = time.monotonic() + poke_every
        while True:
            m = rx.search(self.buf)
            if m:
                text = self.buf[:m.end()]
                self.buf = self.buf[m.end():]
                return text
            now = time.monotonic()
            if now >= deadline:
                raise AssertionError(f"no {pattern!r} within {timeout}s; the terminal showed:\n"
                                     f"{self.seen[-3000:].decode(errors='replace')}")
            if poke is not None and now >= next_poke:
                self.send(poke)
                next_poke = now + poke_every
            ready, _, _ = select.select([self.fd], [], [], min(0.2, deadline - now))
            if ready:
                try:
                    data = os.read(self.fd, 65536)
                except OSError:  # EIO: the other side is gone
                    data = b""
                if not data:
                    raise AssertionError(f"terminal closed while waiting for {pattern!r}:\n"
                                         f"{self.seen[-3000:].decode(errors='replace')}")
                self.buf += data
                self.seen += data


@pytest.fixture
def on_pty():
    """Runs a host command (lxc-console, lxc-attach) on a pty of our own:
    both want a terminal. Killed by PID afterwards."""
    started = []

    def run(*argv):
        pid, fd = pty.fork()
        if pid == 0:
            try:
                os.execvp(argv[0], list(argv))
            finally:
                os._exit(127)
        started.append((pid, fd))
        return Term(fd), pid

    yield run
    for pid, fd in started:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(fd)


def lxc_console(on_pty, ct, tty):
    term, pid = on_pty("lxc-console", "-n", ct.name, "-P", ct.path, "-t", str(tty))
    term.expect(rb"Ctrl\+a q")
    return term, pid


def leave(term, pid):
    """Ctrl-a q, as a person would; lxc-console must end by itself."""
    term.send(b"\x01q")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return
        time.sleep(0.05)
    raise AssertionError("lxc-console did not end after Ctrl-a q")


def test_lxc_getty_on_every_tty(tty_build, lxc):
    ct = lxc(tty_build)
    ct.start()
    log = ct.wait(r"amphi: login prompts on tty1 tty2")
    assert "warning" not in log
    ps = ct.attach("ps", "-o", "pid,args").stdout
    assert re.search(r"busybox getty -L 0 tty1 vt100", ps), ps
    assert re.search(r"busybox getty -L 0 tty2 vt100", ps), ps
    # LXC's console stays the init's log: no getty there.
    assert "console" not in ps


def test_lxc_console_login_and_respawn(tty_build, lxc, on_pty):
    ct = lxc(tty_build)
    ct.start()
    ct.wait(r"amphi: login prompts on")
    term, pid = lxc_console(on_pty, ct, 1)
    term.send(b"\r")
    text = term.expect(rb"login: ", poke=b"\r")
    assert b"on /dev/tty1" in text  # /etc/issue names the line
    term.send(b"root\r")
    # No password on the console (/etc/shadow, /etc/securetty).
    term.expect(rb"root@ttytest:~# ")
    term.send(b"echo $((6*7)); tty\r")
    term.expect(rb"\n42\r")
    term.expect(rb"\n/dev/tty1\r")
    term.expect(rb"# ")
    term.send(b"exit\r")
    # The getty comes back on the same line.
    term.expect(rb"ttytest login: ")
    leave(term, pid)
    assert ct.wait(r"getty on tty1 exited after \d+ ms")


def test_lxc_root_login_refused_off_console(tty_build, lxc, on_pty):
    # The empty root password is for consoles only (/etc/securetty): on a
    # pts, where a remote login would come from, login refuses root.
    ct = lxc(tty_build)
    ct.start()
    ct.wait(r"amphi: login prompts on")
    term, _ = on_pty("lxc-attach", "-n", ct.name, "-P", ct.path, "--clear-env", "--",
                     "/bin/sh", "-c", "tty; exec /bin/login")
    term.expect(rb"/dev/pts/\d+\r")
    term.expect(rb"login: ")
    term.send(b"root\r")
    term.expect(rb"Login incorrect")
    assert b"# " not in term.seen


def test_lxc_autologin_shell_has_job_control(autologin_build, lxc, on_pty):
    ct = lxc(autologin_build)
    ct.start()
    ct.wait(r"amphi: root shells \(autologin\) on tty1")
    term, pid = lxc_console(on_pty, ct, 1)
    term.send(b"\r")
    term.expect(rb"root@autologin:~# ", poke=b"\r")
    term.send(b"sleep 100\r")
    term.expect(rb"sleep 100\r")
    time.sleep(0.5)
    started = time.monotonic()
    term.send(b"\x03")
    term.expect(rb"\^C[\s\S]*root@autologin:~# ", timeout=10)
    # Well before sleep would have ended: Ctrl-C reached its process group.
    assert time.monotonic() - started < 10
    term.send(b"echo $((6*7)); tty\r")
    term.expect(rb"\n42\r")
    term.expect(rb"\n/dev/tty1\r")
    assert b"job control turned off" not in term.seen
    assert b"can't access tty" not in term.seen
    leave(term, pid)


@pytest.fixture
def vm_serial(tmpdir_clean):
    """A guest whose ttyS0 (the kernel's console, console=ttyS0 in the
    launcher) is a unix socket we connect to; QEMU killed by PID after."""
    procs = []

    def boot(build_dir):
        sock_path = os.path.join(tmpdir_clean, "ttyS0.sock")
        log = open(os.path.join(tmpdir_clean, "qemu.log"), "wb")
        # An explicit -serial takes ttyS0 away from -nographic's stdio; the
        # monitor is not needed.
        args = [os.path.join(build_dir, "vm", "launch"),
                "-serial", f"unix:{sock_path},server=on,wait=off",
                "-monitor", "none", "-name", unique("amphi-e2e-tty-vm")]
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                env=dict(os.environ, AMPHI_ACCEL="tcg"))
        procs.append((proc, log))
        deadline = time.monotonic() + 30
        s = socket.socket(socket.AF_UNIX)
        while True:
            try:
                s.connect(sock_path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    s.close()
                    raise AssertionError(f"QEMU gave no serial socket; its output:\n"
                                         f"{open(log.name, errors='replace').read()}")
                time.sleep(0.05)
        procs.append((s, None))
        return Term(s.fileno())

    yield boot
    for p, log in procs:
        if log is None:
            p.close()
            continue
        if p.poll() is None:
            p.kill()
            p.wait()
        log.close()


def test_qemu_login_on_kernel_console(tty_build, vm_serial):
    term = vm_serial(tty_build)
    boot = term.expect(rb"amphi: login prompts on ttyS0", timeout=BOOT_TIMEOUT)
    assert b"warning" not in boot.split(b"amphi-init")[-1]
    term.expect(rb"ttytest login: ", timeout=BOOT_TIMEOUT, poke=b"\r", poke_every=10)
    term.send(b"root\r")
    term.expect(rb"root@ttytest:~# ")
    term.send(b"echo $((6*7)); tty; cat /proc/cmdline\r")
    term.expect(rb"\n42\r")
    term.expect(rb"\n/dev/ttyS0\r")
    term.expect(rb"console=ttyS0")
    term.expect(rb"# ")
