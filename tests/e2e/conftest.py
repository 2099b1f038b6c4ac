"""Shared pieces of the end-to-end tests: real builds, real QEMU, real LXC.

Every VM and container gets a unique name and its own temporary directory;
everything started is stopped by PID or by its own name, even when a test
fails. Waits are bounded; no test asserts on speed (bench/ measures it). The one
bound on time a test asserts is test_power.py's: QEMU gone within seconds of
the power button, to catch a stop that hangs."""

import gzip
import itertools
import json
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

from netns import netns_exec  # noqa: F401 (the tests take it from here)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(ROOT, "build")
AMPHI = os.path.join(BUILD, "amphi")
INIT = os.path.join(BUILD, "amphi-init")
RECIPES = os.path.join(ROOT, "recipes")

# Generous bounds for a loaded 2-core machine under TCG; they only stop a
# broken test from hanging, they do not measure anything.
BOOT_TIMEOUT = 90
LXC_TIMEOUT = 30

_counter = itertools.count()


def unique(prefix):
    return f"{prefix}-{os.getpid()}-{next(_counter)}"


@pytest.fixture
def tmpdir_clean():
    """A temporary directory removed afterwards, pass or fail."""
    d = tempfile.mkdtemp(prefix="amphi-e2e-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def amphi(*args, env=None, check=True):
    e = dict(os.environ)
    e.update(env or {})
    r = subprocess.run([AMPHI, *args], capture_output=True, text=True, env=e, timeout=300)
    if check and r.returncode != 0:
        raise AssertionError(f"amphi {' '.join(args)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r


def build(recipe, out, env=None):
    return amphi("build", recipe, "-o", out, env=env)


def build_text(tmpdir, text):
    """A recipe given as text, built into tmpdir/out; returns out."""
    recipe = os.path.join(tmpdir, "recipe.conf")
    with open(recipe, "w") as f:
        f.write(text)
    out = os.path.join(tmpdir, "out")
    build(recipe, out)
    return out


def build_fixture(recipe=None, scope="module", text=None, prefix="amphi-e2e-build-"):
    """A fixture that builds recipe (a path, or the text of one) once (per
    module) into a temp dir, removed afterwards: test modules say
    `x_build = build_fixture(path)`."""
    @pytest.fixture(scope=scope)
    def built():
        d = tempfile.mkdtemp(prefix=prefix)
        out = os.path.join(d, "out")
        path = recipe
        if text is not None:
            path = os.path.join(d, "recipe.conf")
            with open(path, "w") as f:
                f.write(text)
        build(path, out)
        yield out
        shutil.rmtree(d, ignore_errors=True)
    return built


minimal_build = build_fixture(os.path.join(RECIPES, "minimal.conf"), scope="session")


def wait_for(path, pattern, timeout, proc=None, count=1):
    """Waits until `pattern` (a regex) has matched `count` times in the file at
    `path`; returns the file's text. Fails early if proc exits."""
    deadline = time.monotonic() + timeout
    rx = re.compile(pattern)
    text = ""
    while time.monotonic() < deadline:
        try:
            with open(path, errors="replace") as f:
                text = f.read()
        except FileNotFoundError:
            text = ""
        if len(rx.findall(text)) >= count:
            return text
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError(f"no {count}x {pattern!r} in {path} within {timeout}s; it holds:\n{text[-3000:]}")


def terminate(proc, timeout=10):
    """TERM to a process this test started, KILL if it is still there
    after timeout seconds; reaped either way."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class JsonReader:
    """build/amphi logs --connect SOCK --follow --json [--out STORE], run
    directly (no wrapper), so that SIGSTOP, SIGCONT and SIGKILL reach the
    reader itself; its stdout and stderr in files under workdir."""

    def __init__(self, sock, workdir, name="reader", store=None):
        self.out = os.path.join(workdir, name + ".jsonl")
        self.err = os.path.join(workdir, name + ".err")
        self.f, self.ef = open(self.out, "wb"), open(self.err, "wb")
        self.proc = subprocess.Popen([AMPHI, "logs", "--connect", sock, "--follow", "--json",
                                      *(["--out", store] if store else [])],
                                     stdout=self.f, stderr=self.ef, stdin=subprocess.DEVNULL)

    def wait(self, pattern, timeout=60):
        return wait_for(self.out, pattern, timeout, self.proc)

    def records(self):
        with open(self.out, errors="replace") as f:
            return [json.loads(l) for l in f if l.startswith("{")]

    def stderr(self):
        with open(self.err, errors="replace") as f:
            return f.read()

    def complaints(self):
        """What it said on stderr, less its connect retries."""
        return [l for l in self.stderr().splitlines(keepends=True) if "connect " not in l]

    def state(self):
        """The process state letter from /proc/PID/stat (T: stopped)."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]

    def pause(self):
        self.proc.send_signal(signal.SIGSTOP)
        deadline = time.monotonic() + 10
        while self.state() != "T":
            assert time.monotonic() < deadline, "the reader did not stop on SIGSTOP"
            time.sleep(0.01)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def stop(self, kill=False):
        """TERM, or with kill, KILL: it ends with no chance to ack or
        store more. Safe to call twice."""
        if kill and self.proc.poll() is None:
            self.proc.kill()
        self.proc.send_signal(signal.SIGCONT)  # a stopped process takes TERM only once woken
        terminate(self.proc)
        self.f.close()
        self.ef.close()


@pytest.fixture
def readers(tmpdir_clean):
    """readers(sock, name="reader", store=None): a JsonReader, stopped when
    the test ends, pass or fail."""
    made = []

    def make(sock, name="reader", store=None):
        r = JsonReader(sock, tmpdir_clean, name, store)
        made.append(r)
        return r

    yield make
    for r in made:
        r.stop()


def read_newc(path):
    """The entries of a gzip'd newc cpio: {name: (mode, uid, gid, mtime, data)}."""
    with open(path, "rb") as f:
        raw = gzip.decompress(f.read())
    entries, pos = {}, 0
    while True:
        hdr = raw[pos:pos + 110]
        assert hdr[:6] == b"070701", f"bad newc magic at {pos}"
        fields = [int(hdr[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
        mode, uid, gid, mtime, size, namesize = (fields[1], fields[2], fields[3],
                                                  fields[5], fields[6], fields[11])
        name = raw[pos + 110:pos + 110 + namesize - 1].decode()
        pos = (pos + 110 + namesize + 3) & ~3
        data = raw[pos:pos + size]
        pos = (pos + size + 3) & ~3
        if name == "TRAILER!!!":
            return entries
        entries[name] = (mode, uid, gid, mtime, data)


def newc_entry(name, data, mode=0o100644):
    """One uncompressed newc entry (for appending an overlay to an initramfs)."""
    name_b = name.encode() + b"\0"
    fields = [0, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name_b), 0]
    hdr = b"070701" + b"".join(b"%08X" % v for v in fields)
    out = hdr + name_b
    out += b"\0" * (-len(out) % 4) + data
    return out + b"\0" * (-len(out) % 4)


def newc_archive(files):
    body = b"".join(newc_entry(n, d) for n, d in files.items())
    return body + newc_entry("TRAILER!!!", b"", mode=0)


class Qemu:
    """A guest booted with the build's own launcher, TCG forced, its serial
    console in a file and its monitor on a unix socket."""

    def __init__(self, build_dir, workdir, append="", env=None):
        self.log = os.path.join(workdir, "serial.log")
        self.mon = os.path.join(workdir, "monitor.sock")
        env = dict(os.environ, AMPHI_ACCEL="tcg", AMPHI_APPEND=append, **(env or {}))
        args = [os.path.join(build_dir, "vm", "launch"),
                "-monitor", f"unix:{self.mon},server=on,wait=off",
                "-name", unique("amphi-e2e-vm")]
        self.logf = open(self.log, "wb")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=subprocess.STDOUT, env=env)

    def wait(self, pattern, timeout=BOOT_TIMEOUT, count=1):
        return wait_for(self.log, pattern, timeout, self.proc, count)

    def monitor(self, command):
        deadline = time.monotonic() + 10
        while not os.path.exists(self.mon) and time.monotonic() < deadline:
            time.sleep(0.05)
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(self.mon)
            s.sendall(command.encode() + b"\n")
            time.sleep(0.2)

    def exit_code(self, timeout=BOOT_TIMEOUT):
        return self.proc.wait(timeout=timeout)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.logf.close()


@pytest.fixture
def qemu(tmpdir_clean):
    started = []

    def boot(build_dir, **kw):
        vm = Qemu(build_dir, tmpdir_clean, **kw)
        started.append(vm)
        return vm

    yield boot
    for vm in started:
        vm.stop()


class Lxc:
    """A container started with lxc-start -f on a build's config, under its
    own name and lxcpath, with its console logged to its own file."""

    def __init__(self, build_dir, workdir):
        self.name = unique("amphi-e2e-ct")
        self.path = os.path.join(workdir, "lxcpath")
        os.makedirs(self.path, exist_ok=True)
        self.console = os.path.join(workdir, f"{self.name}.console")
        self.config = os.path.join(build_dir, "lxc", "config")

    def lxc(self, tool, *args, timeout=LXC_TIMEOUT, check=True):
        r = subprocess.run([tool, "-n", self.name, "-P", self.path, *args],
                           capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"{tool} {' '.join(args)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
        return r

    def start(self):
        self.lxc("lxc-start", "-d", "-f", self.config, "-L", self.console,
                 "-o", os.path.join(self.path, f"{self.name}.log"), "-l", "INFO")

    def wait(self, pattern, timeout=LXC_TIMEOUT, count=1):
        return wait_for(self.console, pattern, timeout, None, count)

    def state(self):
        r = self.lxc("lxc-info", "-s", "-H", check=False)
        return r.stdout.strip() if r.returncode == 0 else "STOPPED"

    def init_pid(self):
        return int(self.lxc("lxc-info", "-p", "-H").stdout.strip())

    def attach(self, *cmd, check=True):
        return self.lxc("lxc-attach", "--clear-env", "--", *cmd, check=check)

    def cleanup(self):
        if self.state() != "STOPPED":
            self.lxc("lxc-stop", "-k", check=False)


@pytest.fixture
def lxc(tmpdir_clean):
    started = []

    def make(build_dir):
        ct = Lxc(build_dir, tmpdir_clean)
        started.append(ct)
        return ct

    yield make
    for ct in started:
        ct.cleanup()


@pytest.fixture(scope="session")
def confine_probe(tmp_path_factory):
    """confine_probe.c (see confinement.py), static (musl), so it runs on
    the appliance's busybox."""
    out = str(tmp_path_factory.mktemp("probe") / "confine-probe")
    subprocess.run(["musl-gcc", "-static", "-Os", "-o", out, os.path.join(os.path.dirname(__file__), "confine_probe.c")],
                   check=True)
    return out


@pytest.fixture
def ns_lxcbr0(tmp_path):
    """A network namespace of the test's own with a bridge named lxcbr0, the
    one LXC's default config (and so lxc-create) puts a container's veth on,
    at 10.0.3.1/24 with a DHCP server on it as lxc-net's dnsmasq would be
    (busybox udhcpd, 10.0.3.100-110). LXC commands run inside it (ip netns
    exec) find it there."""
    name = unique("amphi-e2e-ns")
    subprocess.run(["ip", "netns", "add", name], check=True)
    udhcpd = None
    try:
        for cmd in (["ip", "-n", name, "link", "add", "lxcbr0", "type", "bridge"],
                    ["ip", "-n", name, "addr", "add", "10.0.3.1/24", "dev", "lxcbr0"],
                    ["ip", "-n", name, "link", "set", "lxcbr0", "up"]):
            subprocess.run(cmd, check=True)
        conf = tmp_path / "udhcpd.conf"
        conf.write_text(f"start 10.0.3.100\nend 10.0.3.110\ninterface lxcbr0\n"
                        f"lease_file {tmp_path}/udhcpd.leases\npidfile {tmp_path}/udhcpd.pid\n"
                        "option subnet 255.255.255.0\noption router 10.0.3.1\noption lease 600\n")
        (tmp_path / "udhcpd.leases").write_text("")
        udhcpd = subprocess.Popen(["ip", "netns", "exec", name, "busybox", "udhcpd", "-f", str(conf)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        yield name
    finally:
        if udhcpd and udhcpd.poll() is None:
            udhcpd.kill()
            udhcpd.wait()
        subprocess.run(["ip", "netns", "del", name])


def console_through(ns, console_cmd, want=rb"login:", then=None, then_want=None):
    """Runs the printed lxc-console on a pty until `want` shows (poking it
    with Enter), optionally types `then` and waits for `then_want`, then
    leaves with Ctrl-a q as the hint says. Returns what the terminal showed;
    raises if something never showed or Ctrl-a q did not end lxc-console."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp("ip", ["ip", "netns", "exec", ns, "sh", "-c", console_cmd])
    seen = b""

    def until(rx, what):
        nonlocal seen
        deadline = time.monotonic() + 20
        sent = 0
        start = len(seen)
        while not re.search(rx, seen[start:]):
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} {rx!r} on {console_cmd!r}; it showed:\n"
                                     + seen[-2000:].decode(errors="replace"))
            if then is None or what == "prompt":
                if time.monotonic() > sent + 1:
                    os.write(fd, b"\r")
                    sent = time.monotonic()
            r, _, _ = select.select([fd], [], [], 0.2)
            if r:
                try:
                    seen += os.read(fd, 4096)
                except OSError:
                    raise AssertionError(f"{console_cmd!r} ended:\n" + seen[-2000:].decode(errors="replace"))

    try:
        until(want, "prompt")
        if then is not None:
            os.write(fd, then)
            until(then_want, "answer")
        os.write(fd, b"\x01q")  # Ctrl-a q, as the hint says
        deadline = time.monotonic() + 10
        while os.waitpid(pid, os.WNOHANG)[0] != pid:
            if time.monotonic() > deadline:
                raise AssertionError(f"Ctrl-a q did not end {console_cmd!r}")
            time.sleep(0.05)
        pid = None
    finally:
        if pid is not None:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        os.close(fd)
    return seen


def login_prompt_through(ns, console_cmd):
    """Runs the printed lxc-console on a pty: a login prompt answers, and
    Ctrl-a q leaves."""
    return b"login:" in console_through(ns, console_cmd)
