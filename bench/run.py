#!/usr/bin/python3
"""make bench: amphi side by side with the alternatives, on this machine, in
one run. The floor and amphi contenders are built from the same kernel,
busybox and skeleton; only PID 1 differs. busybox init boots, in LXC, the
rootfs LXC's own busybox template makes (lxc-create -t busybox, in this
run), in the VM amphi's skeleton with the same kernel and modules; systemd
boots a debootstrapped Debian tree. Runs alternate between contenders; the table
shows medians with min-max and the ratio to the floor (a trivial static
init). Then log throughput in both worlds: a flood through PID 1 to amphi
logs against the same flood past PID 1 to a plain reader, in the same boot
(bench/recipes/logs-flood.conf). Writes bench/RESULTS.md. QUICK=1 runs
fewer rounds and a smaller flood; BENCH_ONLY=nginx (or other sections of
bench/extras.py) runs only those (see ONLY). What every section shares
(Contender, Measurement, Table, and Run: the state of one run, passed
explicitly) is bench/core.py."""

import contextlib
import os
import platform
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import core
from core import NA as BenchError, Contender, Measurement, Run, Section, Table

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.path.join(ROOT, "build")
OUT = os.path.join(BUILD, "bench")
AMPHI = os.path.join(BUILD, "amphi")
QUICK = os.environ.get("QUICK") == "1"
ROUNDS = 3 if QUICK else 7
VM_ROUNDS = 1 if QUICK else 5
TIMEOUT = 30
# A VM boot's bound for its ready line: systemd under TCG can take over
# 30 s on a slow host (a bound, not a measurement).
VM_TIMEOUT = 120
# Log throughput: N MB of 1000-byte lines, amphi's stream against a raw
# channel past PID 1, in the same boot, the order alternating by round.
LOG_MB = 10 if QUICK else 50
LOG_LINE = 1000
# One slow container round (the host's noise) moves a median of 5 by a
# fifth; 15 rounds of about a second each keep it steady.
LOG_ROUNDS = 3 if QUICK else 15
LOG_VM_ROUNDS = 3 if QUICK else 5
# The serial console takes well under 1 MB/s under TCG: its reference flood
# is this much, whatever LOG_MB is.
CONSOLE_MB = 1
# debootstrap of the systemd contender, timed in full mode (about 40 s each).
DEBOOTSTRAP_ROUNDS = 5
LOG_RECIPE = os.path.join(ROOT, "bench", "recipes", "logs-flood.conf")
# The container's raw log path: stdin to a unix socket (bench/rawsock.c).
RAWSOCK = os.path.join(OUT, "rawsock")
# BENCH_ONLY=KEY[,KEY]: only these sections of bench/extras.py (sizes, rss,
# template, install, build, scaling, agent, nginx), without the boot table
# and the logs; their tables go to build/bench/RESULTS-ONLY.md, as
# bench/RESULTS.md is a whole run's.
ONLY = frozenset(k for k in os.environ.get("BENCH_ONLY", "").split(",") if k)


def say(msg):
    print(f"bench: {msg}", flush=True)


def detect_accel():
    """(accel, why) as the VM launcher (build output vm/launch) decides it:
    AMPHI_ACCEL when set, else kvm only when /dev/kvm opens read-write and
    /proc/cpuinfo shows vmx or svm, else tcg."""
    forced = os.environ.get("AMPHI_ACCEL", "")
    if forced:
        if forced in ("kvm", "tcg"):
            return forced, f"AMPHI_ACCEL={forced}"
        return forced, f"AMPHI_ACCEL={forced}: the launcher refuses it (expected kvm or tcg)"
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR))
    except OSError as e:
        return "tcg", f"/dev/kvm does not open read-write: {e.strerror}"
    try:
        with open("/proc/cpuinfo") as f:
            flags = set(f.read().split())
    except OSError as e:
        return "tcg", f"/proc/cpuinfo unreadable: {e.strerror}"
    if "vmx" in flags or "svm" in flags:
        return "kvm", f"/dev/kvm opens read-write, {'vmx' if 'vmx' in flags else 'svm'} in /proc/cpuinfo"
    return "tcg", "no vmx/svm in /proc/cpuinfo"


def machine():
    """The machine description line's facts, read here: CPU model, RAM, amphi's version."""
    cpu = "unknown CPU model"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    ram = "RAM unknown"
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    kb = int(line.split()[1])
                    ram = f"{kb / 2**20:.1f} GiB RAM (MemTotal {kb} kB)"
                    break
    except (OSError, ValueError):
        pass
    r = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"], capture_output=True, text=True)
    ver = r.stdout.strip() if r.returncode == 0 and r.stdout.strip() else f"unknown (git describe: {r.stderr.strip()[:80]})"
    return cpu, ram, ver


def run(*cmd, env=None, check=True):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    if check and r.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()}\n"
                 "bench: run 'make' first (make bench does), as root")
    return r


def prepare(ctx):
    """Builds each contender into ctx.contenders; what was found on the way
    (busybox template, systemd tree, or why either cannot be had) into ctx.facts."""
    os.makedirs(OUT, exist_ok=True)
    run("musl-gcc", "-static", "-Os", "-s", os.path.join(ROOT, "bench", "floor.c"), "-o", ctx.floor_init)
    run("musl-gcc", "-static", "-Os", "-s", os.path.join(ROOT, "bench", "rawsock.c"), "-o", RAWSOCK)
    skel = os.path.join(OUT, "busybox-skeleton")
    shutil.rmtree(skel, ignore_errors=True)
    shutil.copytree(os.path.join(ROOT, "rootfs"), skel)
    shutil.copy(os.path.join(ROOT, "bench", "busybox.inittab"), os.path.join(skel, "etc", "inittab"))
    minimal = os.path.join(ROOT, "recipes", "minimal.conf")
    prompt = os.path.join(ROOT, "bench", "recipes", "prompt-services.conf")
    full = os.path.join(ROOT, "bench", "recipes", "full.conf")
    skeleton = "amphi's skeleton and kernel"
    contenders = [
        # (name, recipe, build environment, (LXC rootfs, VM rootfs))
        ("floor", minimal, {"AMPHI_INIT": ctx.floor_init}, ("`amphi build` of recipes/minimal.conf", skeleton)),
        ("busybox init", minimal, {"AMPHI_INIT": "/bin/busybox", "AMPHI_ROOTFS": skel},
         ("what `lxc-create -t busybox` made, started by its own name",
          skeleton + ", bench/busybox.inittab")),
        ("amphi minimal", minimal, {}, ("`amphi build` of recipes/minimal.conf", skeleton)),
        ("amphi 3 services", prompt, {}, ("`amphi build` of bench/recipes/prompt-services.conf", skeleton)),
        ("amphi ttys+net+service", full, {}, ("`amphi build` of bench/recipes/full.conf", skeleton)),
    ]
    for name, recipe, env, rootfs in contenders:
        d = os.path.join(OUT, name.replace(" ", "-"))
        c = Contender(name, d, {"config": os.path.join(d, "lxc", "config")}, rootfs, recipe, env)
        say(f"building {name}")
        run(*c.build_cmd(AMPHI), env=dict(os.environ, **c.env))
        if name == "busybox init":
            try:
                c.lxc = busybox_template(ctx)
                say(f"busybox init in LXC: container {c.lxc['name']} made by lxc-create -t busybox in {c.lxc['path']}")
            except BenchError as e:
                say(f"busybox init cannot run in LXC: {e}")
                c.lxc = {"why": str(e)}
                ctx.facts["busybox_template"] = {"why": str(e)}
        ctx.contenders.append(c)
    try:
        import systemd_contender
        name, d, _, info = systemd_contender.prepare(OUT, say, QUICK)
        tree = f"Debian {systemd_contender.SUITE} minbase by `debootstrap`"
        ctx.contenders.append(Contender(name, d, {"config": os.path.join(d, "lxc", "config")},
                                        (tree, tree + ", an ext4 disk behind amphi's loader initramfs")))
        if not QUICK:
            # The cached tree was made by another run: time debootstrap in
            # this one, each run into a fresh directory (removed after it).
            runs, fails = [], []
            for i in range(DEBOOTSTRAP_ROUNDS):
                try:
                    say(f"systemd: timing debootstrap, run {i + 1}/{DEBOOTSTRAP_ROUNDS}")
                    runs.append(systemd_contender.time_debootstrap(OUT, say, i + 1))
                except Exception as e:
                    say(f"systemd: timing debootstrap failed: {e}")
                    fails.append(str(e))
                    break  # the mirror or the disk would only fail again
            info["debootstrap_runs"], info["debootstrap_fails"] = runs, fails
            if runs:
                info["debootstrap_s"] = statistics.median(runs)
                info["debootstrap_cached"] = False
        ctx.facts["systemd"] = info
    except Exception as e:  # Unavailable, or anything else: said in the table
        say(f"systemd contender unavailable: {e}")
        ctx.facts["systemd_why"] = str(e)


# ---- busybox init in LXC: what lxc-create -t busybox makes ---------------
#
# LXC 5.0.2's /usr/share/lxc/templates/lxc-busybox copies `command -v
# busybox` (busybox-static here, which image-builder/deps.sh installs) into
# ROOTFS/bin with a symlink per applet, hard-links it as /sbin/init, writes
# an inittab (sysinit /etc/init.d/rcS, getty on tty1, askfirst sh on the
# console), an rcS (syslogd, mount -a, udhcpc) and a config with a veth on
# lxcbr0, lxc.signal.halt = SIGUSR1 and lxc.signal.reboot = SIGTERM. The
# container is booted by its own name with that config, changed in two
# places only: the network (hosts like this one have no lxcbr0, and
# lxc-start fails on a missing link) is `lxc.net.0.type = empty` as for the
# floor, amphi minimal and systemd; and rcS ends with READY_HOOK, because the
# bench waits for a ready line on the console and busybox init prints none
# there. By name, not with -f: lxc-stop reads the halt and reboot signals
# from the container's own PATH/NAME/config (an lxc-start -f or -s setting
# never reaches it), so SIGUSR1 and SIGTERM are what stop it, as the
# template meant.
TEMPLATE_NET = "lxc.net.0.type = empty"
READY_HOOK = 'echo "amphi: ready env=lxc-busybox-template" > /dev/console'
TEMPLATE_BASE = os.path.join(OUT, "busybox-template")


def _template_paths(pid):
    return os.path.join(TEMPLATE_BASE, str(pid)), f"bench-busybox-{pid}"


def remove_busybox_template(pid=None):
    """Stops (by its name) and removes the container busybox_template() made
    in the run of that PID (this one by default)."""
    path, name = _template_paths(pid or os.getpid())
    if not os.path.isdir(path):
        return
    subprocess.run(["lxc-stop", "-n", name, "-P", path, "-k"], capture_output=True, timeout=300)
    subprocess.run(["lxc-destroy", "-n", name, "-P", path], capture_output=True, timeout=300)
    shutil.rmtree(path, ignore_errors=True)


def busybox_template(ctx):
    """lxc-create -t busybox, then the network and ready-line changes;
    {"name", "path", "config"}, with what was found and changed in
    ctx.facts["busybox_template"]. BenchError says why it cannot be had."""
    # What a run that died left (its PID is gone): its container, by name.
    for old in os.listdir(TEMPLATE_BASE) if os.path.isdir(TEMPLATE_BASE) else []:
        if old.isdigit() and int(old) != os.getpid() and not os.path.exists(f"/proc/{old}"):
            remove_busybox_template(int(old))
    remove_busybox_template()
    path, name = _template_paths(os.getpid())
    os.makedirs(path)
    r = run("lxc-create", "-t", "busybox", "-n", name, "-P", path, check=False)
    if r.returncode != 0:
        last = (r.stderr.strip() or r.stdout.strip() or "no output").splitlines()[-1]
        raise BenchError(f"lxc-create -t busybox exited {r.returncode}: {last}")
    config = os.path.join(path, name, "config")
    with open(config) as f:
        lines = f.read().splitlines()
    kv = [tuple(x.strip() for x in l.split("=", 1)) for l in lines if "=" in l and not l.lstrip().startswith("#")]
    rootfs = next((v for k, v in kv if k == "lxc.rootfs.path"), "")
    rootfs = rootfs.split(":", 1)[1] if rootfs.startswith("dir:") else rootfs
    if not os.path.isdir(rootfs):
        raise BenchError(f"lxc-create -t busybox wrote no rootfs directory ({rootfs!r} in its config)")
    inittab = os.path.join(rootfs, "etc", "inittab")
    rcs = os.path.join(rootfs, "etc", "init.d", "rcS")
    try:
        with open(inittab) as f:
            tab = [l for l in f.read().splitlines() if l.strip() and not l.startswith("#")]
        open(rcs).close()  # the ready line is appended to it
    except OSError as e:
        raise BenchError(f"the template's rootfs has no {e.filename}")
    if not any(l.split(":")[2:3] == ["sysinit"] and l.split(":", 3)[3].strip() == "/etc/init.d/rcS" for l in tab
               if l.count(":") >= 3):
        raise BenchError(f"the template's inittab runs no /etc/init.d/rcS at sysinit: {' / '.join(tab)}")
    # The network: the template's lxc.net.0.* lines become one empty one.
    net = [l.strip() for l in lines if l.strip().startswith("lxc.net.")]
    link = next((v for k, v in kv if k == "lxc.net.0.link"), None)
    link_here = bool(link) and os.path.exists(f"/sys/class/net/{link}")
    out, done = [], False
    for l in lines:
        if l.strip().startswith("lxc.net."):
            if not done:
                out += [f"# make bench (bench/run.py): loopback only, as the other contenders "
                        f"({link or 'no link'} {'is' if link_here else 'is not'} on this host); was: "
                        + "; ".join(net), TEMPLATE_NET]
                done = True
            continue
        out.append(l)
    if not done:
        out += ["# make bench (bench/run.py): loopback only, as the other contenders", TEMPLATE_NET]
    with open(config, "w") as f:
        f.write("\n".join(out) + "\n")
    with open(rcs, "a") as f:
        f.write("# make bench (bench/run.py): the ready line the bench waits for\n" + READY_HOOK + "\n")
    ctx.facts["busybox_template"] = {
        "name": name, "signals": {k: v for k, v in kv if k in ("lxc.signal.halt", "lxc.signal.reboot")}}
    return {"name": name, "path": path, "config": config}


def wait_line(path, needle, proc=None, deadline=None):
    return core.wait_for(path, lambda data: needle in data, deadline or time.monotonic() + TIMEOUT, proc)


def count_line(path, needle, count, deadline):
    """Waits until needle is in the file count times; the time, or None."""
    return core.wait_for(path, lambda data: data.count(needle) >= count, deadline)


def lxc_round(ctx, c, work):
    """lxc-start -> ready line, lxc-stop -r -> ready again, then lxc-stop ->
    stopped; ms each."""
    if "why" in c.lxc:
        ctx.failed(c.name, "LXC", c.lxc["why"])
        return None, None, None
    ct, path, start = c.lxc_target(work)
    log = os.path.join(work, f"{ct}-{time.monotonic_ns()}.console")
    t0 = time.monotonic()
    r = run("lxc-start", "-n", ct, "-P", path, *start, "-d", "-L", log, check=False)
    try:
        if r.returncode != 0:
            ctx.failed(c.name, "LXC", f"lxc-start exited {r.returncode}: {r.stderr.strip()[-150:]}")
            return None, None, None
        t1 = wait_line(log, b"amphi: ready")
        if t1 is None:
            ctx.failed(c.name, "LXC", f"no ready line on the console in {TIMEOUT} s")
            return None, None, None
        r0 = time.monotonic()
        rr = run("lxc-stop", "-r", "-n", ct, "-P", path, "-t", "30", check=False)
        r1 = count_line(log, b"amphi: ready", 2, time.monotonic() + TIMEOUT) if rr.returncode == 0 else None
        restart = (r1 - r0) * 1000 if r1 is not None else None
        if restart is None:
            ctx.failed(c.name, "LXC restart", f"lxc-stop -r exited {rr.returncode}" if rr.returncode
                       else f"no second ready line in {TIMEOUT} s")
        s0 = time.monotonic()
        r = run("lxc-stop", "-n", ct, "-P", path, "-t", "30", check=False)
        s1 = time.monotonic()
        if r.returncode != 0:
            ctx.failed(c.name, "LXC stop", f"lxc-stop exited {r.returncode}")
        return (t1 - t0) * 1000, (s1 - s0) * 1000 if r.returncode == 0 else None, restart
    finally:
        run("lxc-stop", "-n", ct, "-P", path, "-k", check=False)


def vm_round(ctx, c, work):
    """QEMU start -> ready line; then the ACPI power button -> QEMU exit."""
    serial = os.path.join(work, "serial.log")
    mon = os.path.join(work, "mon.sock")
    env = dict(os.environ, AMPHI_ACCEL=os.environ.get("AMPHI_ACCEL", ""))
    t0 = time.monotonic()
    with open(serial, "wb") as out:
        proc = subprocess.Popen(c.vm_launch("-monitor", f"unix:{mon},server=on,wait=off"),
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        t1 = wait_line(serial, b"amphi: ready", proc, time.monotonic() + VM_TIMEOUT)
        if t1 is None:
            ctx.failed(c.name, "VM", f"QEMU exited {proc.poll()} before a ready line" if proc.poll() is not None
                       else f"no ready line on the serial console in {VM_TIMEOUT} s")
            return None, None
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(mon)
            p0 = time.monotonic()
            s.sendall(b"system_powerdown\n")
            try:
                proc.wait(timeout=10)
                off = (time.monotonic() - p0) * 1000
            except subprocess.TimeoutExpired:
                off = None  # this init does not handle the power button
        return (t1 - t0) * 1000, off
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for f in (serial, mon):
            if os.path.exists(f):
                os.unlink(f)


# ---- log throughput -------------------------------------------------------

def cpu_ticks(pid):
    """(utime, stime) of a host process, in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)


def ticks_since(before, now):
    """(user, system) ticks between two cpu_ticks-like readings."""
    return now[0] - before[0], now[1] - before[1]


class FloodStore:
    """What `amphi logs --out STORE` wrote of the flood service: follows
    STORE/<boot>/flood.log, checks the numbered lines (1..n, in order, each
    LOG_LINE bytes with its newline) and collects the "ok CMD U S" lines."""

    def __init__(self, store, n):
        self.store, self.n, self.width = store, n, len(str(n))
        self.f, self.rest, self.oks = None, b"", []
        self.next_no, self.good = 1, 0

    def path(self):
        boots = os.listdir(self.store) if os.path.isdir(self.store) else []
        return os.path.join(self.store, boots[0], "flood.log") if len(boots) == 1 else None

    def size(self):
        p = self.path()
        try:
            return os.stat(p).st_size if p else 0
        except FileNotFoundError:
            return 0

    def ends_with_last_line(self):
        """The last numbered line is stored (it is the flood's last record)."""
        p = self.path()
        with open(p, "rb") as f:
            f.seek(max(0, os.fstat(f.fileno()).st_size - 2 * LOG_LINE - 100))
            return f"flood: {self.n:0{self.width}d} ".encode() in f.read()

    def consume(self):
        if self.f is None:
            p = self.path()
            if not p or not os.path.exists(p):
                return
            self.f = open(p, "rb")
        data = self.rest + self.f.read()
        lines = data.split(b"\n")
        self.rest = lines.pop()
        for line in lines:
            msg = line.split(b" flood: ", 1)[1] if b" flood: " in line else b""
            if msg[:1].isdigit():
                no = int(msg.split(b" ", 1)[0])
                self.good += no == self.next_no and len(msg) + 1 == LOG_LINE
                self.next_no = no + 1
            elif msg.startswith(b"ok "):
                self.oks.append(msg.decode(errors="replace").split())

    def wait_ok(self, cmd, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.consume()
            for i, ok in enumerate(self.oks):
                if ok[1] == cmd:
                    del self.oks[: i + 1]
                    return int(ok[2]), int(ok[3])  # PID 1's utime, stime
            time.sleep(0.002)
        raise BenchError(f"no 'ok {cmd}' from the flood service in {timeout} s")

    def close(self):
        if self.f:
            self.f.close()


class Guest:
    """One boot of the flood recipe with amphi logs attached; the service
    takes commands on `ctl_fd`, the raw flood comes back on `raw_fd`."""

    def __init__(self, work, n):
        self.work, self.n = work, n
        self.store = FloodStore(os.path.join(work, "store"), n)
        self.reader = self.reader_err = None

    def start_reader(self, sock):
        self.reader_err = open(os.path.join(self.work, "reader.err"), "wb")
        self.reader = subprocess.Popen([AMPHI, "logs", "--connect", sock, "--follow", "--quiet",
                                        "--out", self.store.store],
                                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.reader_err)

    def send(self, cmd):
        os.write(self.ctl_fd, cmd.encode() + b"\n")

    def stop_reader(self):
        """Stops amphi logs; its complaints (a gap, a protocol error), if any."""
        if self.reader is None:
            return ""
        if self.reader.poll() is None:
            self.reader.terminate()
            try:
                self.reader.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.reader.kill()
                self.reader.wait()
        self.reader_err.close()
        self.store.close()
        err = open(self.reader_err.name, errors="replace").read()
        return "\n".join(l for l in err.splitlines() if "connect " not in l)

    def flood_amphi(self, timeout):
        """cat through PID 1 to the amphi stream: from the first flood record
        stored on the host to the last one."""
        s = self.store
        s.consume()
        before, reader0 = self.cpu(), cpu_ticks(self.reader.pid)
        s.consume()
        size0, good0 = s.size(), s.good
        s.next_no = 1  # every flood numbers its lines from 1
        self.send("amphi")
        t0 = t1 = None
        deadline = time.monotonic() + timeout
        floor = size0 + self.n * LOG_LINE
        while t1 is None:
            now = time.monotonic()
            if now > deadline:
                raise BenchError(f"amphi path: {s.size() - size0} bytes stored in {timeout} s")
            size = s.size()
            if t0 is None and size > size0:
                t0 = now
            if size >= floor and s.ends_with_last_line():
                t1 = now
            else:
                time.sleep(0.002)
        reader = sum(ticks_since(reader0, cpu_ticks(self.reader.pid)))
        s.wait_ok("amphi", 30)
        return {"secs": t1 - t0, "pid1": ticks_since(before, self.cpu()), "lost": self.n - (s.good - good0),
                "reader": reader}

    def flood_raw(self, timeout, cmd="raw"):
        """cat past PID 1 to a plain reader (relay: through a pipe and a
        second process): from the first byte to the last."""
        expect = self.n * LOG_LINE
        before = self.cpu()
        self.send(cmd)
        self.raw_begin(timeout)
        got = lines = 0
        t0 = None
        deadline = time.monotonic() + timeout
        while got < expect:
            r, _, _ = select.select([self.raw_fd], [], [], max(0, deadline - time.monotonic()))
            if not r:
                raise BenchError(f"{cmd} path: {got} of {expect} bytes in {timeout} s")
            b = os.read(self.raw_fd, 1 << 16)
            if not b:
                raise BenchError(f"{cmd} path: closed after {got} of {expect} bytes")
            if t0 is None:
                t0 = time.monotonic()
            got += len(b)
            lines += b.count(b"\n")
        t1 = time.monotonic()
        self.raw_end()
        self.store.wait_ok(cmd, 30)
        return {"secs": t1 - t0, "pid1": ticks_since(before, self.cpu()), "lost": self.n - lines}

    def raw_begin(self, timeout):
        """The raw reader is ready to read (a VM's port always is)."""

    def raw_end(self):
        pass

    def flood_console(self, timeout):
        """For reference, the ceiling of PID 1's console mirror: cat to
        /dev/console, from the command to its "ok" (nobody counts lines)."""
        before = self.cpu()
        t0 = time.monotonic()
        self.send(f"console {CONSOLE_MB * 1000000 // LOG_LINE}")
        self.store.wait_ok("console", timeout)
        return {"secs": time.monotonic() - t0, "pid1": ticks_since(before, self.cpu()), "lost": None,
                "mb": CONSOLE_MB}


class VMGuest(Guest):
    """QEMU with a third port, org.amphi.raw.0, that PID 1 leaves alone: the
    commands go in on it and the raw flood comes out of it."""
    append = ""

    def start(self, d):
        ports = os.path.join(self.work, "ports")
        os.makedirs(ports)
        raw = os.path.join(ports, "raw.sock")
        env = dict(os.environ, AMPHI_LOG_DIR=ports, AMPHI_MEM="512", AMPHI_APPEND=self.append,
                   AMPHI_ACCEL=os.environ.get("AMPHI_ACCEL", ""))
        self.serial = open(os.path.join(self.work, "serial.log"), "wb")
        self.proc = subprocess.Popen([os.path.join(d, "vm", "launch"),
                                      "-chardev", f"socket,id=raw,path={raw},server=on,wait=off",
                                      "-device", "virtserialport,chardev=raw,name=org.amphi.raw.0"],
                                     stdin=subprocess.DEVNULL, stdout=self.serial, stderr=subprocess.STDOUT, env=env)
        self.sock = socket.socket(socket.AF_UNIX)
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                self.sock.connect(raw)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise BenchError("QEMU did not open the raw port's socket")
                time.sleep(0.01)
        self.ctl_fd = self.raw_fd = self.sock.fileno()
        self.start_reader(os.path.join(ports, "amphi.sock"))

    def cpu(self):
        self.send("cpu")
        return self.store.wait_ok("cpu", 60)

    def stop(self):
        if getattr(self, "proc", None):
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            self.sock.close()
            self.serial.close()


def container_tasks(init):
    """The host PIDs of the processes in init's PID namespace (the
    container's; busybox and amphi run no threads)."""
    ns = os.readlink(f"/proc/{init}/ns/pid")
    tasks = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{d}/ns/pid") == ns:
                    tasks.append(int(d))
    return tasks


class LXCGuest(Guest):
    """A container; commands in on a FIFO in its host directory, the raw
    flood out through a unix socket there, written by bench/rawsock.c
    (bind-mounted in: busybox nc has no -U), as amphi's stream is."""

    def start(self, d):
        self.host = os.path.join(d, "lxc", "host")
        self.clean()
        ctl = os.path.join(self.host, "bench-ctl.fifo")
        os.mkfifo(ctl)
        # Read-write: opening never blocks, and no EOF between commands.
        self.ctl_fd = os.open(ctl, os.O_RDWR)
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(os.path.join(self.host, "bench-raw.sock"))
        self.listener.listen(1)
        self.conn = None
        self.ct = f"benchlog-{os.getpid()}-{time.monotonic_ns()}"
        self.console = os.path.join(self.work, "console.log")
        r = run("lxc-start", "-n", self.ct, "-P", self.work, "-f", os.path.join(d, "lxc", "config"), "-d",
                "-L", self.console, "-s",
                f"lxc.mount.entry={RAWSOCK} usr/local/bin/rawsock none bind,ro,create=file 0 0", check=False)
        if r.returncode != 0:
            raise BenchError(f"lxc-start failed: {r.stderr.strip()[:200]}")
        r = run("lxc-info", "-n", self.ct, "-P", self.work, "-p", "-H", check=False)
        if r.returncode != 0 or not r.stdout.strip().isdigit():
            raise BenchError(f"lxc-info found no init pid: {r.stderr.strip()}")
        self.pid = int(r.stdout.strip())
        self.start_reader(os.path.join(self.host, "amphi.sock"))

    def cpu(self):
        return cpu_ticks(self.pid)

    def flood_pinned(self, timeout):
        """The amphi flood with every task of the container on one CPU and
        amphi logs on another (sched_setaffinity; put back after): what
        sharing a CPU costs the two."""
        cpus = sorted(os.sched_getaffinity(0))
        tasks = container_tasks(self.pid)
        for t in tasks:
            os.sched_setaffinity(t, {cpus[0]})
        os.sched_setaffinity(self.reader.pid, {cpus[1]})
        try:
            return self.flood_amphi(timeout)
        finally:
            for t in tasks + [self.reader.pid]:
                with contextlib.suppress(ProcessLookupError):
                    os.sched_setaffinity(t, cpus)

    def raw_begin(self, timeout):
        r, _, _ = select.select([self.listener], [], [], timeout)
        if not r:
            raise BenchError(f"raw path: rawsock did not connect in {timeout} s")
        self.conn, _ = self.listener.accept()
        self.raw_fd = self.conn.fileno()

    def raw_end(self):
        self.conn.close()
        self.conn = None

    def clean(self):
        for f in ("bench-ctl.fifo", "bench-raw.sock", "amphi.sock"):
            if os.path.lexists(os.path.join(self.host, f)):
                os.unlink(os.path.join(self.host, f))

    def stop(self):
        if getattr(self, "ct", None):
            run("lxc-stop", "-n", self.ct, "-P", self.work, "-k", check=False)
        for fd in ("ctl_fd",):
            if hasattr(self, fd):
                os.close(getattr(self, fd))
        for s in ("conn", "listener"):
            if getattr(self, s, None):
                getattr(self, s).close()
        self.clean()


def log_paths(world):
    """The floods of a round, in order; pinned needs a container and two CPUs."""
    pinned = world == "LXC" and len(os.sched_getaffinity(0)) >= 2
    return [p for p in ("amphi", "pinned", "relay", "raw") if p != "pinned" or pinned]


def logs_round(world, d, amphi_first, mb):
    """One boot: make the file, then the amphi, pinned (LXC), relay and raw
    floods (or in reverse), then the console one. {path: {secs, pid1, lost[, reader]}} (CPU
    in ticks) and what amphi logs complained about, if anything."""
    n = mb * 1000000 // LOG_LINE
    work = tempfile.mkdtemp(prefix="amphi-bench-logs-")
    g = (VMGuest if world == "VM" else LXCGuest)(work, n)
    # Bounds for a loaded 2-core host under TCG, not measurements.
    bound = 60 + mb * (4 if world == "VM" else 1)
    out = {}
    try:
        g.start(d)
        g.send(f"mk {n}")
        g.store.wait_ok("mk", bound)
        paths = log_paths(world)
        for path in paths if amphi_first else paths[::-1]:
            out[path] = (g.flood_amphi(bound) if path == "amphi" else g.flood_pinned(bound) if path == "pinned"
                         else g.flood_raw(bound, path))
        out["console"] = g.flood_console(bound)
    finally:
        g.stop()
        complaints = g.stop_reader()
        shutil.rmtree(work, ignore_errors=True)
    return out, complaints


def run_logs():
    """{(world, path): {"mbps", "pid1", "pid1_user", "pid1_sys", "reader": Measurement,
    "lost": [...], "why": str}}; CPU in ms per MB."""
    d = os.path.join(OUT, "logs-flood")
    say("building the log flood appliance")
    run(AMPHI, "build", LOG_RECIPE, "-o", d)
    res = {}
    hz = {"VM": 100, "LXC": os.sysconf("SC_CLK_TCK")}  # the guest's CONFIG_HZ is not USER_HZ: ticks are 100 Hz
    for world, rounds in (("LXC", LOG_ROUNDS), ("VM", LOG_VM_ROUNDS)):
        for i in range(rounds):
            amphi_first = i % 2 == 0
            say(f"logs {world} round {i + 1}/{rounds}: {LOG_MB} MB, "
                f"{', '.join(log_paths(world)[::1 if amphi_first else -1])}, then console")
            try:
                out, complaints = logs_round(world, d, amphi_first, LOG_MB)
                why = "amphi logs said: " + complaints.splitlines()[0] if complaints else ""
            except (BenchError, OSError, ValueError, subprocess.SubprocessError) as e:
                out, why = {}, str(e)
                say(f"logs {world} round {i + 1} failed: {why}; skipping the rest of {world}")
            for path in log_paths(world) + ["console"]:
                r = res.get((world, path))
                if r is None:
                    r = res[world, path] = {
                        k: Measurement(f"{world} {path}", u, mbps if k == "mbps" else core.one_decimal)
                        for k, u in (("mbps", "MB/s"), ("pid1", "ms/MB"), ("pid1_user", "ms/MB"),
                                     ("pid1_sys", "ms/MB"), ("reader", "ms/MB"))}
                    r.update(lost=[], why="")
                m = out.get(path)
                if not m:
                    r["mbps"].fail(why)
                    r["why"] = r["why"] or why
                    continue
                mb = m.get("mb", LOG_MB)
                r["mbps"].add(mb / m["secs"])
                user, system = (t * 1000 / hz[world] / mb for t in m["pid1"])
                r["pid1"].add(user + system)
                r["pid1_user"].add(user)
                r["pid1_sys"].add(system)
                if "reader" in m:
                    r["reader"].add(m["reader"] * 1000 / hz["LXC"] / LOG_MB)
                if m["lost"] is not None:
                    r["lost"].append(m["lost"])
                if path == "amphi" and why:
                    r["why"] = r["why"] or why
                say(f"logs {world} {path}: {mb / m['secs']:.2f} MB/s, PID 1 {r['pid1'].vals[-1]:.1f} ms/MB"
                    + (f", {m['lost']} lost" if m["lost"] is not None else ""))
            if not out:
                break  # a broken path would only time out again
    return res


def mbps(v):
    """Three significant figures below 100 MB/s, whole numbers above."""
    return f"{v:.3g}" if v < 100 else f"{v:.0f}"


# bench/recipes/full.conf's containers get a veth on this bridge: no
# uplink, no address, made for the run and removed after it.
BRIDGE = "amphibench0"


def make_bridge():
    """Makes BRIDGE unless it exists; True if this run made it."""
    if os.path.exists(f"/sys/class/net/{BRIDGE}"):
        return False
    run("ip", "link", "add", BRIDGE, "type", "bridge")
    run("ip", "link", "set", BRIDGE, "up")
    return True


def main():
    if os.geteuid() != 0:
        sys.exit("bench: LXC needs root; run 'sudo make bench'")
    # A kill (SIGTERM, SIGHUP) unwinds as an exception does, so every
    # finally stops what it started: containers, QEMU, the namespace.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda n, _: sys.exit(f"bench: {signal.Signals(n).name}: stopping what it started"))
    accel, accel_why = detect_accel()
    ctx = Run(ROOT, say, accel, QUICK, ONLY)
    ctx.facts["accel_why"] = accel_why
    if ONLY:
        return run_only(ctx)
    try:
        prepare(ctx)
        made_bridge = make_bridge()
        try:
            measure(ctx)
        finally:
            if made_bridge:
                run("ip", "link", "del", BRIDGE, check=False)
    finally:
        remove_busybox_template()


# The boot table's columns: key, heading, the worlds whose failures explain a missing value.
BOOT = [("lxc_start", "LXC start → ready", ("LXC",)), ("lxc_stop", "lxc-stop", ("LXC stop", "LXC")),
        ("lxc_restart", "lxc-stop -r → ready", ("LXC restart", "LXC")), ("vm_start", "QEMU start → ready", ("VM",)),
        ("vm_off", "power button → QEMU exit", ("VM",))]


def measure(ctx):
    results = {c.name: {key: Measurement(c.name) for key, _, _ in BOOT} for c in ctx.contenders}

    def put(c, key, v):
        if v is not None:
            results[c.name][key].add(v)
        elif key == "vm_off" and ctx.why_of(c.name, "VM") is None:
            results[c.name][key].fail("ignores the ACPI power button (QEMU killed after 10 s)")
        else:
            results[c.name][key].fail(ctx.why_of(c.name, *dict((k, w) for k, _, w in BOOT)[key]) or "no value")

    work = tempfile.mkdtemp(prefix="amphi-bench-")
    try:
        for i, order in core.rotations(ctx.contenders, ROUNDS):
            for c in order:
                for key, v in zip(("lxc_start", "lxc_stop", "lxc_restart"), lxc_round(ctx, c, work)):
                    put(c, key, v)
            say(f"LXC round {i + 1}/{ROUNDS} done")
        for i, order in core.rotations(ctx.contenders, VM_ROUNDS):
            for c in order:
                for key, v in zip(("vm_start", "vm_off"), vm_round(ctx, c, work)):
                    put(c, key, v)
            say(f"VM round {i + 1}/{VM_ROUNDS} done")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    logs = run_logs()
    write_results(ctx, results, logs, run_extras(ctx))


def run_extras(ctx):
    """bench/extras.py's sections (only those in ctx.only, if any)."""
    try:
        import extras
        return extras.run(ctx)
    except Exception as e:  # said in the results rather than lost
        say(f"extra measurements failed: {e}")
        return [Section("More measurements", [f"n/a: bench/extras.py failed: {e}"])]


def run_only(ctx):
    """BENCH_ONLY: the named sections alone, into build/bench/RESULTS-ONLY.md."""
    os.makedirs(OUT, exist_ok=True)
    lines = ["# amphi benchmarks: " + ", ".join(sorted(ONLY)), "",
             f"Written by `BENCH_ONLY={','.join(sorted(ONLY))} make bench` on "
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}{' (QUICK=1)' if QUICK else ''}.", "",
             machine_line(ctx)]
    for sec in run_extras(ctx):
        lines += [""] + sec.lines()
    path = os.path.join(OUT, "RESULTS-ONLY.md")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    say(f"wrote {path}")
    print("\n".join(lines))


def machine_line(ctx):
    cpu, ram, ver = machine()
    return (f"Machine: {platform.machine()}, {cpu}, {os.cpu_count()} CPUs, {ram}, kernel {platform.release()}; "
            f"amphi {ver}; "
            f"{run('lxc-start', '--version').stdout.strip() and 'LXC ' + run('lxc-start', '--version').stdout.strip()}; "
            f"{run('qemu-system-x86_64', '--version').stdout.splitlines()[0]}; "
            f"accelerator {ctx.accel} ({ctx.facts['accel_why']}).")


def contenders_section(ctx):
    """What each contender boots in each world."""
    t = Table(["contender", "LXC: boots", "VM: boots"],
              "Only PID 1 differs between the floor and the amphi rows: the same kernel, modules and skeleton.")
    bb = ctx.facts.get("busybox_template", {})
    sysinfo = ctx.facts.get("systemd", {})
    mb = lambda b: f"{(b or 0) / 1e6:.0f} MB"
    for c in ctx.contenders:
        lxc, vm = c.rootfs
        if c.name == "busybox init" and "why" in bb:
            lxc = "n/a: " + core.short(bb["why"])
        elif c.name == "busybox init" and bb:
            sig = ", ".join(f"`{k} = {v}`" for k, v in bb["signals"].items())
            lxc += f" ({sig}; network `{TEMPLATE_NET}`; rcS ends with the ready line)"
        elif c.name == "systemd" and sysinfo:
            mods = sysinfo.get("modules_bytes") or 0
            vm += f" ({mb(sysinfo.get('tree_bytes', 0) - mods)} tree + {mb(mods)} modules; " \
                  f"{mb(sysinfo.get('image_bytes'))} disk)"
        t.add(c.name, lxc, vm)
    if "systemd_why" in ctx.facts:
        t.add("systemd", "n/a: " + core.short(ctx.facts["systemd_why"]), "n/a")
    return Section("Contenders", [t])


def boot_section(ctx, results):
    cols = ["contender"]
    for _, title, _ in BOOT[:4]:
        cols += [title, "× floor"]
    t = Table(cols + [BOOT[4][1]],
              f"ms, median (min–max) of {ROUNDS} LXC and {VM_ROUNDS} VM rounds ({ctx.accel.upper()}), contenders "
              "alternating; ready is the `amphi: ready` console line; × floor: median / the floor's median.")
    floor = results.get("floor", {})
    for c in ctx.contenders:
        cells = []
        for key, _, _ in BOOT[:4]:
            m = results[c.name][key]
            cells += [m.cell(), m.over(floor[key]) if key in floor else ""]
        t.add(c.name, *cells, results[c.name]["vm_off"].cell())
    if "systemd_why" in ctx.facts:
        why = "n/a: " + core.short(ctx.facts["systemd_why"])
        t.add("systemd", *[why, ""] * 4, why)
    charts = []
    for key, title in (("lxc_start", "LXC: lxc-start → ready"), ("lxc_stop", "LXC: lxc-stop → stopped"),
                       ("lxc_restart", "LXC: lxc-stop -r → ready again"),
                       ("vm_start", f"QEMU start → ready ({ctx.accel.upper()})"),
                       ("vm_off", f"QEMU: power button → exit ({ctx.accel.upper()})")):
        charts.append({"name": key, "title": title, "unit": "ms",
                       "bars": [results[c.name][key].bar() or (c.name, None, None, None) for c in ctx.contenders]})
    return Section("Boot and stop", [t], charts)


LOG_WHAT = {
    ("LXC", "amphi"): "service → PID 1 → amphi.sock in lxc/host → `amphi logs --out`",
    ("LXC", "pinned"): "as amphi, the container's tasks on one CPU and `amphi logs` on the other (reference)",
    ("LXC", "relay"): "service → pipe → bench/rawsock.c → the same socket and reader (reference)",
    ("LXC", "raw"): "service → unix socket in lxc/host (bench/rawsock.c) → Python reader",
    ("LXC", "console"): "service → /dev/console (reference)",
    ("VM", "amphi"): "service → PID 1 → org.amphi.log.0 → `amphi logs --out`",
    ("VM", "relay"): "service → pipe → `cat` → the same port and reader (reference)",
    ("VM", "raw"): "service → org.amphi.raw.0 → Python socket reader",
    ("VM", "console"): "service → /dev/console, ttyS0 (reference)",
}

LOG_AIM = 90  # %: amphi's stream against the raw path, the logging design's aim


def logs_section(ctx, logs):
    t = Table(["world", "path", "MB × rounds", "MB/s: median (min–max)", "/ raw", f"aim: ≥ {LOG_AIM} % of raw",
               "records lost", "PID 1 CPU ms/MB (user + system)", "amphi logs CPU ms/MB"],
              f"{LOG_MB} MB of {LOG_LINE}-byte numbered lines from one service per path in the same boot, the "
              f"order alternating (bench/recipes/logs-flood.conf); raw bypasses PID 1 and is the baseline "
              f"(MB = 10⁶ bytes).")
    for (world, path), r in logs.items():
        speed = r["mbps"].cell()
        raw = logs.get((world, "raw"), {}).get("mbps")
        pct = 100 * r["mbps"].median() / raw.median() if raw and raw.median() and r["mbps"].median() else None
        share = f"{pct:.1f} %" if path in ("amphi", "pinned", "relay") and pct is not None else ""
        aim = ""
        if path == "amphi":
            aim = "n/a: a path has no measurement" if pct is None else ("met" if pct >= LOG_AIM else "**not met**")
        lost = "—" if path == "console" else (str(sum(r["lost"])) if r["lost"] else "n/a")
        if path in ("amphi", "pinned") and r["why"] and r["mbps"].vals:
            lost += f" ({r['why']})"
        pid1 = "n/a"
        if r["pid1"].vals:
            pid1 = f"{r['pid1'].median():.1f}"
            if r["pid1"].median() > 0:
                pid1 += f" ({r['pid1_user'].median():.1f} + {r['pid1_sys'].median():.1f})"
        reader = f"{r['reader'].median():.1f}" if r["reader"].vals else "—"
        size = CONSOLE_MB if path == "console" else LOG_MB
        rounds = r["mbps"].n() + len(r["mbps"].why)
        t.add(world, LOG_WHAT[world, path], f"{size} × {rounds}", speed, share, aim, lost, pid1, reader)
    chart = {"name": "logs", "title": f"Log throughput, {LOG_MB} MB of {LOG_LINE}-byte lines", "unit": "MB/s",
             "bars": [r["mbps"].bar() or (f"{w} {p}", None, None, None) for (w, p), r in logs.items()]}
    return Section("Logs", [t], [chart])


def write_results(ctx, results, logs, sections=()):
    lines = ["# amphi benchmarks", "",
             f"Written by `make bench` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.", "",
             machine_line(ctx)]
    charts = []
    for sec in [contenders_section(ctx), boot_section(ctx, results), logs_section(ctx, logs), *sections]:
        lines += [""] + sec.lines()
        charts += sec.charts
    import charts as chartmod
    try:
        lines += chartmod.draw_all(charts, os.path.join(ROOT, "bench"), say)
    except (OSError, RuntimeError) as e:
        lines += ["", f"No charts: {e}"]
    path = os.path.join(ROOT, "bench", "RESULTS.md")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    say(f"wrote {path}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
