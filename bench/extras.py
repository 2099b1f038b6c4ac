"""More measurements for `make bench`, as sections for bench/run.py.

    import extras
    sections = extras.run(ctx)   # ctx: a core.Run; a list of core.Section

Every number is measured here, in this run, on this machine: contenders
alternate their order between rounds, and a cell shows the median with
min–max (core.Measurement). A contender that cannot run keeps its row with
"n/a: <why>" in its cells (and has no bar in the chart, which needs a number).

Sections: static binary sizes; PID 1 resident memory (idle and after a log flood,
in LXC and in the VM); lxc-create with the amphi, local and busybox templates;
amphi install; amphi build cold and warm with the sizes of what it writes; 1, 10
and 50 containers started at once; the guest agent on and off; the nginx
appliance against systemd (bench/appliance.py). ctx.only, a set of their keys,
runs only those.
"""

import os
import re
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

from core import NA, Measurement, Section, Table, bars, integer, ratio, rotations, short

# Bounds for a loaded 2-core host under TCG, not measurements: past them a round
# counts as failed and says so.
LXC_READY_S = 30
VM_READY_S = 90
CMD_S = 300



def unique(kind):
    """A container or directory name no one else uses: our PID and the clock."""
    return f"amx-{kind}-{os.getpid()}-{time.monotonic_ns()}"


def sh(*cmd, timeout=CMD_S, env=None, check=True):
    """Runs a command to the end; with check, a non-zero exit raises NA naming it."""
    try:
        r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, errors="replace",
                           timeout=timeout, env=env, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise NA(f"{os.path.basename(str(cmd[0]))} took more than {timeout} s")
    except OSError as e:
        raise NA(f"{cmd[0]}: {e.strerror}")
    if check and r.returncode != 0:
        last = (r.stderr.strip() or r.stdout.strip() or "no output").splitlines()[-1]
        sub = f" {cmd[1]}" if len(cmd) > 1 and not str(cmd[1]).startswith("-") else ""
        raise NA(f"{os.path.basename(str(cmd[0]))}{sub} exited {r.returncode}: {last}")
    return r


def timed(*cmd, **kw):
    """Wall time of one command in ms (NA when it fails) and its result."""
    t0 = time.monotonic()
    r = sh(*cmd, **kw)
    return (time.monotonic() - t0) * 1000, r


def kib(v):
    return f"{v:.0f}"


def mib(v):
    return f"{v:.2f}"


# ---- LXC and QEMU helpers ---------------------------------------------------

def netns_exec(ns):
    """The end-to-end tests' way into a network namespace for LXC (ip netns
    exec, the cgroup mounts made again under its sysfs): tests/e2e/netns.py."""
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e")
    if here not in sys.path:
        sys.path.append(here)
    import netns
    return netns.netns_exec(ns)


def vmrss_kib(pid):
    """VmRSS of a host process in KiB, from /proc/PID/status."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise NA(f"no VmRSS in /proc/{pid}/status")


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return b""


def wait_text(path, needle, seconds, proc=None):
    """Polls a console log until it holds needle; the whole log then, else NA."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        data = read(path)
        if needle in data:
            return data
        if proc is not None and proc.poll() is not None:
            raise NA(f"{os.path.basename(proc.args[0])} exited {proc.returncode} before {needle.decode()!r}")
        time.sleep(0.002)
    raise NA(f"no {needle.decode()!r} on the console in {seconds} s")


class Live:
    """Every container, QEMU and reader a run started, so that a failure
    anywhere still ends them (by name or by PID, never by pattern)."""

    def __init__(self):
        self.cts = {}    # name -> lxcpath
        self.ns = {}     # name -> the network namespace its lxc-* commands run in
        self.procs = []  # Popen objects

    def lxc_cmd(self, name, *args):
        """An lxc-* command for one of our containers: in its network namespace
        when it was started in one (LXC's command socket is an abstract unix
        socket, which only that namespace sees)."""
        ns = self.ns.get(name)
        return (netns_exec(ns) if ns else []) + [args[0], "-n", name, "-P", self.cts[name], *args[1:]]

    def lxc_track(self, name, lxcpath, ns=None):
        """A container of ours from now on: cleanup() stops it, by name."""
        self.cts[name] = lxcpath
        if ns:
            self.ns[name] = ns

    def lxc_in(self, ns):
        """Our containers started in network namespace ns."""
        return [name for name, n in self.ns.items() if n == ns]

    def lxc_start(self, name, lxcpath, config, log, defines=(), ns=None):
        """lxc-start -d of a build's lxc/config (None: the container's own
        LXCPATH/NAME/config, as lxc-create made it); returns the Popen (not waited
        for, so that many can be launched at once). -L puts each console in its
        own file; defines are extra -s KEY=VALUE arguments; ns: a network
        namespace (ip netns) to start it in, where its veth's bridge is."""
        self.lxc_track(name, lxcpath, ns)
        conf = ["-f", config] if config else []
        return subprocess.Popen(self.lxc_cmd(name, "lxc-start", *conf, "-d", "-L", log, *defines),
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True, errors="replace")

    def lxc_start_one(self, name, lxcpath, config, log, defines=(), ns=None):
        """lxc-start -d of one container, waited for; NA with its complaint if it fails."""
        p = self.lxc_start(name, lxcpath, config, log, defines, ns)
        _, err = p.communicate(timeout=CMD_S)
        if p.returncode != 0:
            raise NA(f"lxc-start exited {p.returncode}: {short(err, 100)}")

    def lxc_kill(self, names):
        """lxc-stop -k of each, concurrently; then each must be STOPPED (NA otherwise)."""
        procs = [(n, subprocess.Popen(self.lxc_cmd(n, "lxc-stop", "-k"), stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
                 for n in names if n in self.cts]
        for _, p in procs:
            p.wait(timeout=CMD_S)
        left = []
        for n, _ in procs:
            r = sh(*self.lxc_cmd(n, "lxc-info", "-s", "-H"), check=False)
            if r.stdout.strip() not in ("", "STOPPED") and r.returncode == 0:
                left.append(n)
            else:
                self.cts.pop(n, None)
                self.ns.pop(n, None)
        if left:
            raise NA(f"still running after lxc-stop -k: {', '.join(left)}")

    def lxc_info(self, name):
        """(PID of the container's init on the host, cgroup memory in bytes) from lxc-info."""
        r = sh(*self.lxc_cmd(name, "lxc-info", "-p", "-S", "-H"))
        info = dict(line.split(":", 1) for line in r.stdout.splitlines() if ":" in line)
        try:
            return int(info["PID"]), int(info["Memory use"])
        except (KeyError, ValueError):
            raise NA(f"lxc-info -p -S -H said {short(r.stdout, 80)!r}")

    def lxc_pid(self, name):
        """PID of the container's init on the host: lxc-info -n NAME -P PATH -p -H."""
        r = sh(*self.lxc_cmd(name, "lxc-info", "-p", "-H"))
        if not r.stdout.strip().isdigit():
            raise NA(f"lxc-info -p -H said {short(r.stdout, 80)!r}")
        return int(r.stdout.strip())

    def popen(self, cmd, **kw):
        kw.setdefault("stdin", subprocess.DEVNULL)
        p = subprocess.Popen(cmd, **kw)
        self.procs.append(p)
        return p

    def end(self, p):
        """Terminates one of our processes (KILL after 10 s) and reaps it."""
        if p is None:
            return
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if p in self.procs:
            self.procs.remove(p)

    def cleanup(self):
        """Whatever a failure left: our containers by name, our processes by PID."""
        for p in list(self.procs):
            if p.poll() is None:
                p.kill()
            p.wait()
            self.procs.remove(p)
        try:
            self.lxc_kill(list(self.cts))
        except NA:
            pass


def build(ctx, recipe, outdir):
    """amphi build RECIPE -o OUTDIR (NA when it fails)."""
    sh(ctx.amphi, "build", recipe, "-o", outdir)
    return outdir


# ---- 1. static binary sizes -------------------------------------------------

def elf_facts(path):
    """(static, stripped) from the ELF headers: static = no PT_INTERP program
    header (true of static-pie too), stripped = no SHT_SYMTAB section."""
    with open(path, "rb") as f:
        h = f.read(64)
        if h[:4] != b"\x7fELF":
            raise NA(f"{path} is not an ELF file")
        e = "<" if h[5] == 1 else ">"
        if h[4] == 2:  # ELF64
            phoff, shoff = struct.unpack_from(e + "QQ", h, 32)
            phentsize, phnum, shentsize, shnum = struct.unpack_from(e + "HHHH", h, 54)
        else:
            phoff, shoff = struct.unpack_from(e + "II", h, 28)
            phentsize, phnum, shentsize, shnum = struct.unpack_from(e + "HHHH", h, 42)
        f.seek(phoff)
        ph = f.read(phentsize * phnum)
        interp = any(struct.unpack_from(e + "I", ph, i * phentsize)[0] == 3 for i in range(phnum))
        f.seek(shoff)
        shdr = f.read(shentsize * shnum)
        symtab = any(struct.unpack_from(e + "I", shdr, i * shentsize + 4)[0] == 2 for i in range(shnum))
    return not interp, not symtab


def ensure_package(pkg, say):
    """Installs a Debian package unless it is installed (idempotent); NA if it cannot."""
    r = sh("dpkg-query", "-W", "-f", "${Status}", pkg, check=False)
    if r.stdout.strip() == "install ok installed":
        say(f"sizes: {pkg} is installed already")
        return
    say(f"sizes: installing {pkg}: apt-get install -y --no-install-recommends {pkg} (does nothing when installed)")
    r = sh("apt-get", "install", "-y", "--no-install-recommends", pkg, check=False,
           env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    if r.returncode != 0:
        last = (r.stderr.strip() or r.stdout.strip() or "no output").splitlines()[-1]
        raise NA(f"apt-get install {pkg} failed: {last}")


def package_file(pkg, want):
    """The file of an installed package that want(path) accepts (dpkg -L)."""
    r = sh("dpkg", "-L", pkg)
    for path in r.stdout.split():
        if os.path.isfile(path) and not os.path.islink(path) and want(path):
            return path
    raise NA(f"dpkg -L {pkg} lists no such file")


def version(pkg):
    r = sh("dpkg-query", "-W", "-f", "${Version}", pkg, check=False)
    return r.stdout.strip() or "?"


def section_sizes(ctx):
    say = ctx.say
    exe = lambda p: os.access(p, os.X_OK) and ("/bin/" in p or "/libexec/" in p)
    floor_init = ctx.floor_init
    contenders = [
        # (label, Debian package or None, how to find the file)
        ("floor-init", None, lambda: floor_init),
        ("amphi-init", None, lambda: os.path.join(ctx.root, "build", "amphi-init")),
        ("tini-static", "tini", lambda: package_file("tini", lambda p: p.endswith("/tini-static"))),
        ("catatonit", "catatonit", lambda: package_file("catatonit", lambda p: exe(p) and
                                                         os.path.basename(p) == "catatonit")),
        ("busybox", "busybox-static", lambda: package_file("busybox-static", lambda p: p.endswith("/busybox")
                                                           and "/bin/" in p)),
    ]
    rows, bs = [], []
    for label, pkg, find in contenders:
        try:
            if pkg:
                ensure_package(pkg, say)
            path = find()
            if label == "busybox" and os.path.exists("/bin/busybox") and \
                    os.path.realpath("/bin/busybox") != os.path.realpath(path):
                raise NA(f"/bin/busybox is not busybox-static's {path}")
            size = os.path.getsize(path)
            static, stripped = elf_facts(path)
            origin = f"{pkg} {version(pkg)}" if pkg else (
                "bench/floor.c, `musl-gcc -static -Os -s` in this run" if label == "floor-init" else "this tree's build")
            rows.append([label, f"`{path}`", origin, integer(size), size,
                         "yes" if static else "**no**: dynamically linked (PT_INTERP)", "yes" if stripped else "no"])
            bs.append((label, size, size, size))
        except (NA, OSError) as e:
            rows.append([label, "n/a", "n/a", f"n/a: {short(e)}", None, "n/a", "n/a"])
    floor = next((r[4] for r in rows if r[0] == "floor-init"), None)
    rows = [r[:4] + [ratio(r[4], floor) if r[4] is not None else ""] + r[5:] for r in rows]
    t = Table(["binary", "file", "from", "bytes", "× floor", "static", "stripped"],
              "Size of each PID 1 binary as installed here (Debian's by apt-get when missing); static: no "
              "PT_INTERP, stripped: no .symtab; × floor: bytes / floor-init's (bench/floor.c).")
    for r in rows:
        t.add(*r)
    return Section("Static binary sizes (bytes)", [t],
                   [{"name": "binary-sizes", "title": "PID 1 binary size", "unit": "bytes", "bars": bs}])


# ---- 2. PID 1 resident memory -----------------------------------------------

# The probe appliance: its one service waits 1 s (amphi: ready is printed once the
# services are started, so this is after ready), prints PID 1's VmRSS, floods
# @LINES@ lines of 1000 bytes through PID 1 to the log stream (a reader is
# connected: the host starts `amphi logs` before the guest), waits 1 s for PID 1
# to drain the pipe and prints VmRSS again (each time with PID 1's Rss from
# /proc/1/smaps_rollup, which the VM rows use). The lines go straight to
# /dev/console, past PID 1, and console = init keeps the flood off the console
# (a slow serial port under TCG).
PROBE_RECIPE = """# Written by bench/extras.py for the PID 1 memory section; a copy of
# recipes/minimal.conf plus the probe service.
[image]
name = rssprobe

[runtime]
hostname = rssprobe
ttys = 1
stop_timeout = 1

[service.probe]
shell = yes
restart = no
stop_timeout = 1
exec = sleep 1; echo "rss-idle $(grep VmRSS /proc/1/status) $(grep ^Rss: /proc/1/smaps_rollup)" >/dev/console; l=$(printf %0999d 0); sleep 1; yes "$l" | head -n @LINES@; sleep 1; echo "rss-flood $(grep VmRSS /proc/1/status) $(grep ^Rss: /proc/1/smaps_rollup)" >/dev/console; exec sleep 100000

[log]
console = init
"""


def console_rss(data, tag, field="VmRSS"):
    """KiB from the console line 'TAG VmRSS: N kB Rss: M kB', which must come
    after ready: N, or M with field "Rss"."""
    m = re.search(rb"\b" + tag.encode() + rb" VmRSS:\s*(\d+) kB(?:[ \t]+Rss:\s*(\d+) kB)?", data)
    if not m:
        raise NA(f"no '{tag} VmRSS' line on the console")
    ready = data.find(b"amphi: ready")
    if ready < 0 or ready > m.start():
        raise NA(f"'{tag}' came before amphi: ready")
    if field == "Rss":
        if m.group(2) is None:
            raise NA(f"no smaps_rollup Rss on the '{tag}' line")
        return int(m.group(2))
    return int(m.group(1))


def stored_lines(store, service):
    """Lines amphi logs --out stored of one service (its STORE/<boot>/SERVICE.log)."""
    boots = [b for b in os.listdir(store)] if os.path.isdir(store) else []
    return sum(read(os.path.join(store, b, service + ".log")).count(b"\n") for b in boots)


def wait_stored(store, n, seconds=15):
    """The flood lines stored by the reader, once all n are there or after seconds."""
    deadline = time.monotonic() + seconds
    while stored_lines(store, "probe") < n and time.monotonic() < deadline:
        time.sleep(0.05)
    return stored_lines(store, "probe")


def reader(ctx, sock, store, work):
    """amphi logs --follow --out STORE on a socket that may not exist yet (it retries)."""
    err = open(os.path.join(work, unique("reader") + ".err"), "wb")
    p = ctx.live.popen([ctx.amphi, "logs", "--connect", sock, "--follow", "--quiet", "--out", store],
                       stdout=subprocess.DEVNULL, stderr=err)
    err.close()
    return p


def rss_lxc_host(ctx, lxc, work):
    """VmRSS of the container's init read from the host's /proc/PID/status, 1 s
    after its ready line; started as bench/run.py's lxc_round starts it: a
    build's config ({"config"}) under a new name, or the container lxc-create
    made ({"name", "path"}) by its own name."""
    log = os.path.join(work, unique("console"))
    if "name" in lxc:
        ct, path, config = lxc["name"], lxc["path"], None
    else:
        ct, path, config = unique("rss"), work, lxc["config"]
    try:
        ctx.live.lxc_start_one(ct, path, config, log)
        wait_text(log, b"amphi: ready", LXC_READY_S)
        time.sleep(1)
        return vmrss_kib(ctx.live.lxc_pid(ct))
    finally:
        ctx.live.lxc_kill([ct])


def rss_lxc_probe(ctx, d, work, n):
    """(idle KiB, after-flood KiB, lines stored) in a container of the probe build."""
    ct, log = unique("rssflood"), os.path.join(work, unique("console"))
    host = os.path.join(d, "lxc", "host")
    for f in ("amphi.sock", "anaconda.fifo"):
        if os.path.lexists(os.path.join(host, f)):
            os.unlink(os.path.join(host, f))  # left by the last round's container
    store = os.path.join(work, unique("store"))
    r = reader(ctx, os.path.join(host, "amphi.sock"), store, work)
    try:
        ctx.live.lxc_start_one(ct, work, os.path.join(d, "lxc", "config"), log)
        data = wait_text(log, b"rss-flood", LXC_READY_S + n // 1000)
        return console_rss(data, "rss-idle"), console_rss(data, "rss-flood"), wait_stored(store, n)
    finally:
        ctx.live.lxc_kill([ct])
        ctx.live.end(r)


def rss_vm_probe(ctx, d, work, n):
    """The same in QEMU, the KiB from smaps_rollup's Rss (and VmRSS idle and
    after the flood last); the log ports' sockets in our own directory."""
    ports = os.path.join(work, unique("ports"))
    os.makedirs(ports)
    serial = os.path.join(work, unique("serial"))
    store = os.path.join(work, unique("store"))
    env = dict(os.environ, AMPHI_LOG_DIR=ports, AMPHI_ACCEL=os.environ.get("AMPHI_ACCEL", ""))
    q = r = None
    try:
        with open(serial, "wb") as out:
            q = ctx.live.popen([os.path.join(d, "vm", "launch")], stdout=out, stderr=subprocess.STDOUT, env=env)
        r = reader(ctx, os.path.join(ports, "amphi.sock"), store, work)
        data = wait_rss(serial, b"rss-flood", VM_READY_S + n // 250, q)
        return (console_rss(data, "rss-idle", "Rss"), console_rss(data, "rss-flood", "Rss"), wait_stored(store, n),
                console_rss(data, "rss-idle"), console_rss(data, "rss-flood"))
    finally:
        if q is not None and q.poll() is None:
            q.kill()  # nothing to measure in its stop
        ctx.live.end(q)
        ctx.live.end(r)


# The other contenders in the VM print their PID 1's memory themselves, as
# "rss-idle VmRSS: N kB Rss: M kB" on the serial console about 1 s after
# ready, when the kernel command line has AMPHI_BENCH_RSS=1 (the boot
# table's VMs have no such word, and their hooks do nothing there): the
# floor by bench/floor.c, busybox init by a ::once: line of
# bench/busybox.inittab, systemd by amphi-bench-rss.service
# (bench/systemd_contender.py).
VM_WHAT = {"floor": "floor (bench/floor.c)",
           "busybox init": "busybox init (amphi's skeleton, bench/busybox.inittab)",
           "systemd": "systemd (debootstrapped tree)"}
VM_READ = {"floor": "guest: its own /proc/self/smaps_rollup, by floor.c",
           "busybox init": "guest: /proc/1/smaps_rollup, by an inittab line",
           "systemd": "guest: /proc/1/smaps_rollup, by a unit"}


def wait_rss(path, tag, seconds, proc):
    """The console log once it holds the whole 'TAG VmRSS: N kB Rss: M kB'
    line, not one half through the UART."""
    deadline = time.monotonic() + seconds
    whole = re.compile(rb"\b" + tag + rb" VmRSS:\s*\d+ kB[ \t]+Rss:\s*\d+ kB")
    while True:
        data = wait_text(path, tag + b" VmRSS:", max(0.1, deadline - time.monotonic()), proc)
        if whole.search(data):
            return data
        if time.monotonic() > deadline:
            raise NA(f"the '{tag.decode()} VmRSS' line on the console has no 'Rss: M kB' after it")
        time.sleep(0.01)


def rss_vm_contender(ctx, name, d, work, qemu_args=()):
    """(Rss, VmRSS) KiB of the 'rss-idle VmRSS: N kB Rss: M kB' line the
    contender's hook (above) prints after its ready line, booted from D/vm/launch with AMPHI_BENCH_RSS=1 on the
    kernel command line (and qemu_args after the launcher's). systemd is then powered down by the ACPI button (its
    disk image is reused: no unclean stop), the others are killed (they
    ignore the button)."""
    ports = os.path.join(work, unique("ports"))
    os.makedirs(ports)
    serial = os.path.join(work, unique("serial"))
    mon = os.path.join(work, unique("mon"))
    append = (os.environ.get("AMPHI_APPEND", "") + " AMPHI_BENCH_RSS=1").strip()
    env = dict(os.environ, AMPHI_LOG_DIR=ports, AMPHI_APPEND=append, AMPHI_ACCEL=os.environ.get("AMPHI_ACCEL", ""))
    q = None
    try:
        with open(serial, "wb") as out:
            q = ctx.live.popen([os.path.join(d, "vm", "launch"), "-monitor", f"unix:{mon},server=on,wait=off",
                                *qemu_args],
                               stdout=out, stderr=subprocess.STDOUT, env=env)
        data = wait_rss(serial, b"rss-idle", VM_READY_S + 5, q)
        return console_rss(data, "rss-idle", "Rss"), console_rss(data, "rss-idle")
    finally:
        if q is not None and q.poll() is None and name == "systemd":
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.connect(mon)
                    s.sendall(b"system_powerdown\n")
                q.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if q is not None and q.poll() is None:
            q.kill()
        ctx.live.end(q)


def rss_vm_contenders(ctx):
    """[(name, build dir with vm/launch, why not)] for the VM rows: the floor,
    busybox init and systemd of run.py's boot table."""
    built = {c.name: c.dir for c in ctx.contenders}
    sysinfo = ctx.facts.get("systemd") or {}
    out = []
    for name in ("floor", "busybox init", "systemd"):
        d, why = built.get(name), ""
        if name == "systemd" and not d:
            why = "contender unavailable: " + short(ctx.facts.get("systemd_why") or "not built", 120)
        elif name == "systemd" and sysinfo and not sysinfo.get("vm_ok", True):
            why = "does not boot in the VM here: " + short(sysinfo.get("vm_why", "?"), 120)
        elif not d:
            why = "not built (bench/extras.py run without bench/run.py's contenders)"
        elif not os.path.exists(os.path.join(d, "vm", "launch")):
            why = f"no vm/launch in {d}"
        out.append((name, d, why))
    return out


# What a contender of bench/run.py's boot table is, in the memory table.
RSS_WHAT = {"floor": "floor (bench/floor.c)", "busybox init": "busybox init (lxc-create -t busybox's rootfs)",
            "amphi minimal": "amphi minimal (recipes/minimal.conf)",
            "amphi 3 services": "amphi 3 services (bench/recipes/prompt-services.conf)",
            "amphi ttys+net+service": "amphi ttys+net+service (bench/recipes/full.conf)"}


def rss_contenders(ctx, minimal):
    """[(name, how to start it in LXC, why not)] for the host-read LXC rows:
    run.py's built contenders (or the minimal build alone when run without them),
    and systemd with why when it cannot take part."""
    built = [(c.name, c.dir, c.lxc) for c in ctx.contenders] or \
        [("amphi minimal", minimal, {"config": os.path.join(minimal, "lxc", "config")})]
    out = []
    sysinfo = ctx.facts.get("systemd") or {}
    for name, _, lxc in built:
        why = lxc.get("why", "")
        if name == "systemd" and sysinfo and not sysinfo.get("lxc_ok", True):
            why = "does not boot in LXC here: " + short(sysinfo.get("lxc_why", "?"), 120)
        out.append((name, lxc, why))
    if ctx.contenders and not any(n == "systemd" for n, _, _ in built):
        out.append(("systemd", {}, "contender unavailable: " + short(ctx.facts.get("systemd_why") or "not built", 120)))
    return out


def section_rss(ctx, minimal):
    say, quick = ctx.say, ctx.quick
    accel = ctx.accel.upper()
    mb = 10 if quick else 50
    n = mb * 1000  # lines of 1000 bytes
    vm_rounds = 1 if quick else 5
    work = tempfile.mkdtemp(prefix=unique("rss") + "-")
    hosts = rss_contenders(ctx, minimal)
    host = {name: Measurement(RSS_WHAT.get(name, name)) for name, _, _ in hosts}
    for name, _, why in hosts:
        if why:
            host[name].fail(why)
    vms = rss_vm_contenders(ctx)
    vm = {name: Measurement(VM_WHAT[name]) for name, _, _ in vms}
    # The guest kernel's VmRSS beside each VM row's Rss.
    vm_vmrss = {k: Measurement(k) for k in [name for name, _, _ in vms] + ["probe idle", "probe flood"]}
    for name, _, why in vms:
        if why:
            vm[name].fail(why)
    idle = {w: Measurement(f"{w} probe, after ready") for w in ("LXC", "VM")}
    flood = {w: Measurement(f"{w} probe, after {mb} MB") for w in ("LXC", "VM")}
    stored = {"LXC": [], "VM": []}
    try:
        d = os.path.join(ctx.out, "extras-rssprobe")
        recipe = os.path.join(work, "rssprobe.conf")
        with open(recipe, "w") as f:
            f.write(PROBE_RECIPE.replace("@LINES@", str(n)))
        try:
            build(ctx, recipe, d)
        except NA as e:
            for s in list(idle.values()) + list(flood.values()):
                s.fail(f"building the probe: {e}")
            d = None

        def probe(world):
            try:
                i, fl, st, *vmrss = (rss_lxc_probe if world == "LXC" else rss_vm_probe)(ctx, d, work, n)
                idle[world].add(i)
                flood[world].add(fl)
                stored[world].append(st)
                if vmrss:
                    vm_vmrss["probe idle"].add(vmrss[0])
                    vm_vmrss["probe flood"].add(vmrss[1])
            except (NA, OSError, subprocess.SubprocessError) as e:
                idle[world].fail(e)
                flood[world].fail(e)

        # LXC: every contender read from the host, and the probe, alternating.
        jobs = [(name, lxc) for name, lxc, why in hosts if not why] + [("probe", None)]
        for i, order in rotations(jobs, ctx.rounds):
            for what, lxc in order:
                if what != "probe":
                    try:
                        host[what].add(rss_lxc_host(ctx, lxc, work))
                    except (NA, OSError, subprocess.SubprocessError) as e:
                        host[what].fail(e)
                elif d:
                    probe("LXC")
            say(f"rss: LXC round {i + 1}/{ctx.rounds} done")
        # VM: the floor, busybox init and systemd by their own hooks, and the
        # probe, alternating. A contender that failed in every round so far is
        # not booted again (it would only time out again).
        jobs = [(name, vd) for name, vd, why in vms if not why] + ([("probe", None)] if d else [])
        for i, order in rotations(jobs, vm_rounds) if jobs else ():
            for what, vd in order:
                if what == "probe":
                    if idle["VM"].vals or not idle["VM"].why:
                        probe("VM")
                elif vm[what].vals or not vm[what].why:
                    try:
                        rss, vmrss = rss_vm_contender(ctx, what, vd, work)
                        vm[what].add(rss)
                        vm_vmrss[what].add(vmrss)
                    except (NA, OSError, subprocess.SubprocessError) as e:
                        vm[what].fail(e)
            say(f"rss: VM round {i + 1}/{vm_rounds} done")
    finally:
        ctx.live.cleanup()
        shutil.rmtree(work, ignore_errors=True)

    def st(world):
        got = stored[world]
        return f"{min(got)}–{max(got)} of {n}" if got else "n/a"

    floor = host["floor"].stats()[0] if "floor" in host and host["floor"].stats() else None
    vm_floor = vm["floor"].stats()[0] if vm["floor"].stats() else None

    def x(series, base=floor):
        s = series.stats()
        return ratio(s[0], base) if s else ""

    def vv(key):
        return vm_vmrss[key].cell(kib) if vm_vmrss[key].vals else "—"

    rows = [["LXC", host[name].label, "1 s after ready", "host: /proc/PID/status", host[name].cell(kib), x(host[name]),
             host[name].n(), "—", "—"] for name, _, _ in hosts]
    rows.append(["LXC", "probe (amphi)", "≈1 s after ready", "guest: /proc/1/status", idle["LXC"].cell(kib),
                 x(idle["LXC"]), idle["LXC"].n(), "—", "—"])
    rows.append(["LXC", "probe (amphi)", f"after {mb} MB through PID 1", "guest: /proc/1/status",
                 flood["LXC"].cell(kib), "—", flood["LXC"].n(), st("LXC"), "—"])
    rows += [["VM", vm[name].label, "1 s after ready" if name == "floor" else "≈1 s after ready", VM_READ[name],
              vm[name].cell(kib), x(vm[name], vm_floor), vm[name].n(), "—", vv(name)] for name, _, _ in vms]
    rows.append(["VM", "probe (amphi)", "≈1 s after ready", "guest: /proc/1/smaps_rollup, by its service",
                 idle["VM"].cell(kib), x(idle["VM"], vm_floor), idle["VM"].n(), "—", vv("probe idle")])
    rows.append(["VM", "probe (amphi)", f"after {mb} MB through PID 1", "guest: /proc/1/smaps_rollup, by its service",
                 flood["VM"].cell(kib), "—", flood["VM"].n(), st("VM"), vv("probe flood")])
    t = Table(["world", "appliance", "when", "read from", "KiB: LXC VmRSS, VM Rss", "× floor", "rounds",
               "flood lines stored", "VM: guest's VmRSS KiB"],
              f"PID 1's resident memory: in LXC VmRSS from the host, in the VM ({accel}) the Rss of "
              "/proc/1/smaps_rollup printed by a hook in the guest, as the guest kernel's VmRSS (last column) "
              f"undercounts; the probe is recipes/minimal.conf plus a service that prints it, then sends {mb} MB "
              "through PID 1 to `amphi logs`. × floor: / the floor's median in the same world.")
    for r in rows:
        t.add(*r)
    chart = bars(*(host[name].bar(1 / 1024, label=f"LXC {name}") for name, _, _ in hosts),
                 idle["LXC"].bar(1 / 1024), flood["LXC"].bar(1 / 1024),
                 *(vm[name].bar(1 / 1024, label=f"VM {name}") for name, _, _ in vms),
                 idle["VM"].bar(1 / 1024), flood["VM"].bar(1 / 1024))
    return Section("PID 1 resident memory (KiB)", [t],
                   [{"name": "pid1-rss", "title": "VmRSS of PID 1", "unit": "MiB", "bars": chart}])


# ---- 3. lxc-create with three templates -------------------------------------

def section_template(ctx, minimal):
    say = ctx.say
    recipe = os.path.join(ctx.root, "recipes", "minimal.conf")
    template = os.path.join(ctx.root, "build", "lxc-amphi")
    contenders = [
        ("amphi template", ["-t", template], ["--recipe", recipe]),
        ("local template", ["-t", "local"], ["--metadata", os.path.join(minimal, "lxc", "meta.tar.xz"),
                                               "--fstree", os.path.join(minimal, "lxc", "rootfs.tar.xz")]),
        ("busybox template", ["-t", "busybox"], []),
    ]
    series = {c[0]: Measurement(c[0]) for c in contenders}
    work = tempfile.mkdtemp(prefix=unique("tmpl") + "-")
    try:
        for i, order in rotations(contenders, ctx.rounds):
            for label, t, args in order:
                name = unique("create")
                try:
                    ms, _ = timed("lxc-create", *t, "-n", name, "-P", work, "--", *args)
                    series[label].add(ms)
                except NA as e:
                    series[label].fail(e)
                finally:
                    if os.path.isdir(os.path.join(work, name)):
                        sh("lxc-destroy", "-n", name, "-P", work, check=False)
            say(f"template: round {i + 1}/{ctx.rounds} done")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    base = series["amphi template"].stats()
    rows = [[label, f"`lxc-create {' '.join(os.path.relpath(x, ctx.root) if x.startswith(ctx.root) else x for x in t + ['-n', 'NAME', '-P', 'TMP', '--'] + args)}`",
             series[label].cell(), ratio(series[label].stats()[0], base[0]) if series[label].stats() and base else "",
             series[label].n()] for label, t, args in contenders]
    t = Table(["contender", "command", "ms", "× amphi template", "rounds"],
              f"ms from `lxc-create` to its exit, the three alternating ({ctx.rounds} rounds; lxc-destroy "
              "after each is not timed); the local template unpacks a build of the same recipe.")
    for r in rows:
        t.add(*r)
    return Section("lxc-create: amphi template, local template, busybox template", [t],
                   [{"name": "lxc-create", "title": "lxc-create → created", "unit": "ms",
                     "bars": bars(*(series[c[0]].bar() for c in contenders))}])


# ---- 4. amphi install ---------------------------------------------------------

STEP_RE = re.compile(r"amphi install: step (\d+)/(\d+) (\S+): done in (\d+) ms")
DONE_RE = re.compile(r"is installed \((\d+) steps in (\d+) ms, (\d+) s in all\)")


def section_install(ctx):
    say, quick = ctx.say, ctx.quick
    rounds = 1 if quick else 5
    recipe = os.path.join(ctx.root, "recipes", "installer.conf")
    work = tempfile.mkdtemp(prefix=unique("install") + "-")
    out = os.path.join(work, "out")
    wall, steps_total, rest = Measurement("wall"), Measurement("steps"), Measurement("rest")
    steps = {}  # name -> Series, in the installer's order
    try:
        try:
            say("install: building recipes/installer.conf once (not timed)")
            build(ctx, recipe, out)
            for i in range(rounds):
                disk = os.path.join(work, unique("disk") + ".img")
                try:
                    ms, r = timed(ctx.amphi, "install", recipe, "--disk", disk, "--size", "64M", "-o", out)
                    text = r.stdout + r.stderr
                    if "amphi install: building" in text:
                        raise NA("amphi install rebuilt the installer despite the earlier build")
                    done = DONE_RE.search(text)
                    if not done:
                        raise NA("no 'is installed (N steps in X ms ...)' line")
                    for m in STEP_RE.finditer(text):
                        steps.setdefault(m.group(3), Measurement(f"step {m.group(1)}/{m.group(2)} {m.group(3)}")) \
                            .add(int(m.group(4)))
                    wall.add(ms)
                    steps_total.add(int(done.group(2)))
                    rest.add(ms - int(done.group(2)))
                except NA as e:
                    wall.fail(e)
                finally:
                    if os.path.exists(disk):
                        os.unlink(disk)
                say(f"install: round {i + 1}/{rounds} done")
        except NA as e:
            wall.fail(f"building the installer: {e}")
    finally:
        ctx.live.cleanup()
        shutil.rmtree(work, ignore_errors=True)
    rows = [["`amphi install` wall time (host)", wall.cell(), wall.n()],
            ["all steps (the installer's own count)", steps_total.cell(), steps_total.n()]]
    rows += [[s.label, s.cell(), s.n()] for s in steps.values()]
    rows.append(["the rest: boot, poweroff, QEMU (wall − steps)", rest.cell(), rest.n()])
    t = Table(["what", "ms", "rounds"],
              "`amphi install recipes/installer.conf --disk TMP/disk.img --size 64M` into a fresh disk each round "
              f"(a QEMU boot under {ctx.accel.upper()}) after one untimed build; the steps are the installer's "
              "own `done in X ms` lines, the wall time the host's.")
    for r in rows:
        t.add(*r)
    chart = bars(wall.bar(label="wall"), steps_total.bar(label="all steps"),
                 *(s.bar(label=name) for name, s in steps.items()), rest.bar(label="boot+poweroff"))
    return Section("amphi install", [t], [{"name": "install", "title": "amphi install (recipes/installer.conf)",
                                           "unit": "ms", "bars": chart}])


# ---- 5. amphi build -----------------------------------------------------------

OUTPUTS = [("vm/initramfs.img", "file"), ("lxc/rootfs.tar.xz", "file"), ("lxd/rootfs.squashfs", "file"),
           ("lxc/rootfs", "du -sb")]


def output_sizes(d):
    """{output: bytes} of one build: file sizes, and du -sb of the rootfs tree."""
    sizes = {}
    for rel, how in OUTPUTS:
        p = os.path.join(d, rel)
        if how == "file":
            sizes[rel] = os.path.getsize(p)
        else:
            sizes[rel] = int(sh("du", "-sb", p).stdout.split()[0])
    return sizes


def debootstrap_series(ctx):
    """The systemd contender's debootstrap runs of bench/run.py prepare(), in ms."""
    try:
        import systemd_contender as sc
        what = f"systemd contender: `debootstrap --variant=minbase --include={sc.INCLUDE} {sc.SUITE} DIR MIRROR`"
    except ImportError:
        what = "systemd contender: debootstrap"
    s = Measurement(what + ", DIR new")
    info = ctx.facts.get("systemd")
    if info is None:
        s.fail("systemd contender unavailable: " + (ctx.facts.get("systemd_why") or "not prepared"))
    elif ctx.quick:
        s.fail("QUICK=1 does not time debootstrap (the systemd tree is cached)")
    else:
        for secs in info.get("debootstrap_runs") or []:
            s.add(secs * 1000)
        for why in info.get("debootstrap_fails") or []:
            s.fail(why)
        if not s.vals and not s.why:
            s.fail("not timed")
    return s


def section_build(ctx):
    say = ctx.say
    recipe = os.path.join(ctx.root, "recipes", "minimal.conf")
    work = tempfile.mkdtemp(prefix=unique("build") + "-")
    cold, warm = Measurement("cold"), Measurement("warm")
    sizes = []  # one {output: bytes} per build
    try:
        warm_dir = os.path.join(work, "warm")
        try:
            build(ctx, recipe, warm_dir)  # the earlier build that warm rounds rebuild in place
        except NA as e:
            warm.fail(f"the first build: {e}")
            warm_dir = None
        for i, order in rotations(["cold", "warm"], ctx.rounds):
            for kind in order:
                if kind == "warm" and not warm_dir:
                    continue
                d = warm_dir if kind == "warm" else os.path.join(work, unique("cold"))
                if kind == "cold":
                    os.makedirs(d)  # empty
                s = cold if kind == "cold" else warm
                try:
                    ms, _ = timed(ctx.amphi, "build", recipe, "-o", d)
                    s.add(ms)
                    sizes.append(output_sizes(d))
                except (NA, OSError) as e:
                    s.fail(e)
                if kind == "cold":
                    shutil.rmtree(d, ignore_errors=True)
            say(f"build: round {i + 1}/{ctx.rounds} done")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    boot = debootstrap_series(ctx)
    base = cold.stats()
    x = lambda series: ratio(series.stats()[0], base[0]) if series.stats() and base else ""
    rows = [["cold: empty DIR", cold.cell(), x(cold), cold.n()],
            ["warm: DIR from an earlier build", warm.cell(), x(warm), warm.n()],
            [boot.label, boot.cell(), x(boot), boot.n()]]
    t = Table(["build", "ms", "× cold", "rounds"],
              "ms of `amphi build recipes/minimal.conf -o DIR`, cold (DIR new and empty) and warm (DIR holds the "
              "same build) alternating; debootstrap runs before the boot rounds and downloads every package. "
              "× cold: / amphi's cold median.")
    for r in rows:
        t.add(*r)
    size_rows, size_bars = [], []
    for rel, how in OUTPUTS:
        vals = sorted({s[rel] for s in sizes})
        what = f"`du -sb DIR/{rel}`" if how == "du -sb" else f"`DIR/{rel}`"
        if not vals:
            size_rows.append([what, "n/a: no build succeeded", "—"])
            continue
        same = "yes" if len(vals) == 1 else f"**no**: {len(vals)} different sizes"
        size_rows.append([what, f"{vals[0]}" if len(vals) == 1 else f"{vals[0]}–{vals[-1]}", same])
        size_bars.append((rel, statistics.median([s[rel] for s in sizes]), vals[0], vals[-1]))
    sizes_t = Table(["output", "bytes", "same in every build"],
                    f"Read after each of the {len(sizes)} builds above (`du -sb` for the tree).")
    for r in size_rows:
        sizes_t.add(*r)
    return [Section("amphi build: cold and warm", [t],
                    [{"name": "build-time", "title": "amphi build recipes/minimal.conf", "unit": "ms",
                      "bars": bars(cold.bar(label="cold"), warm.bar(label="warm"))}]),
            Section("amphi build: what it writes", [sizes_t],
                    [{"name": "build-sizes", "title": "amphi build outputs (minimal)", "unit": "bytes",
                      "bars": size_bars}])]


# ---- 6. many containers at once ----------------------------------------------

def start_many(ctx, config, work, n):
    """Launches n containers of one config at once; (ms from the first launch to
    the last ready line, [names]). Raises NA, leaving the started ones to the caller."""
    names = [unique("many") for _ in range(n)]
    logs = {name: os.path.join(work, name + ".console") for name in names}
    procs = {}
    t0 = time.monotonic()
    for name in names:
        procs[name] = ctx.live.lxc_start(name, work, config, logs[name])
    pending, last = set(names), None
    deadline = time.monotonic() + LXC_READY_S + n  # a bound, not a measurement
    try:
        # Poll every console for its ready line while the lxc-start calls still
        # run: a container may be ready before its lxc-start -d has returned.
        while pending and time.monotonic() < deadline:
            for name in list(pending):
                if b"amphi: ready" in read(logs[name]):
                    pending.discard(name)
                    last = time.monotonic()
                elif procs[name].poll() not in (None, 0):
                    raise NA(f"lxc-start of 1 of {n} exited {procs[name].returncode}: "
                             f"{short(procs[name].stderr.read(), 80)}")
            if pending:
                time.sleep(0.002)
    finally:
        for p in procs.values():  # lxc-start -d returns once its container runs
            p.wait(timeout=CMD_S)
            p.stderr.close()
    if pending:
        raise NA(f"{len(pending)} of {n} not ready in {LXC_READY_S + n} s")
    return (last - t0) * 1000, names


def section_scaling(ctx, minimal):
    say, quick = ctx.say, ctx.quick
    config = os.path.join(minimal, "lxc", "config")
    counts = [1, 10, 50]
    rounds = {1: ctx.rounds, 10: ctx.rounds, 50: 1 if quick else 5}
    ready = {n: Measurement(f"{n}") for n in counts}
    cg_total = {n: Measurement(f"{n}") for n in counts}
    rss_total = {n: Measurement(f"{n}") for n in counts}
    cg_each = {n: Measurement(f"{n}") for n in counts}
    rss_each = {n: Measurement(f"{n}") for n in counts}
    stopped_all = True
    work = tempfile.mkdtemp(prefix=unique("many") + "-")
    try:
        for i, order in rotations(counts, max(rounds.values())):
            for n in order:
                if i >= rounds[n]:
                    continue
                names = []
                try:
                    ms, names = start_many(ctx, config, work, n)
                    info = [ctx.live.lxc_info(name) for name in names]
                    cg = sum(mem for _, mem in info)
                    rss = sum(vmrss_kib(pid) for pid, _ in info)
                    ready[n].add(ms)
                    cg_total[n].add(cg / 2**20)
                    rss_total[n].add(rss / 1024)
                    cg_each[n].add(cg / 2**20 / n)
                    rss_each[n].add(rss / n)
                except (NA, OSError, subprocess.SubprocessError) as e:
                    for s in (ready, cg_total, rss_total, cg_each, rss_each):
                        s[n].fail(e)
                finally:
                    mine = [name for name in ctx.live.cts if name.startswith(f"amx-many-{os.getpid()}-")]
                    try:
                        ctx.live.lxc_kill(mine)
                    except NA as e:
                        stopped_all = False
                        say(f"scaling: {e}")
            say(f"scaling: round {i + 1}/{max(rounds.values())} done")
    finally:
        ctx.live.cleanup()
        shutil.rmtree(work, ignore_errors=True)
    rows = [[n, rounds[n], ready[n].cell(), cg_total[n].cell(mib), cg_each[n].cell(mib), rss_total[n].cell(mib),
             rss_each[n].cell(kib)] for n in counts]
    t = Table(["containers", "rounds", "first launch → last ready, ms", "cgroup memory total, MiB",
               "per appliance, MiB", "PID 1 VmRSS total, MiB", "per appliance, KiB", "all stopped by lxc-stop -k"],
              "N containers of one recipes/minimal.conf build, all `lxc-start -d` at once, the counts alternating; "
              "memory once all are ready: cgroup (lxc-info) and PID 1's VmRSS, summed and per appliance.")
    for r in rows:
        t.add(*r, "yes" if stopped_all else "**no**")
    return Section("Many containers at once: 1, 10, 50", [t],
                   [{"name": "scaling-ready", "title": "N containers: first launch → last ready", "unit": "ms",
                     "bars": bars(*(ready[n].bar(label=f"{n} container{'s' if n > 1 else ''}") for n in counts))},
                    {"name": "scaling-memory", "title": "Memory per appliance", "unit": "MiB",
                     "bars": bars(*(cg_each[n].bar(label=f"{n}: cgroup") for n in counts),
                                  *(rss_each[n].bar(1 / 1024, label=f"{n}: PID 1 VmRSS") for n in counts))}])


# ---- 6b. the guest agent: on and off -------------------------------------------

AGENT_RECIPE = """# bench/extras.py's agent section: recipes/minimal.conf with the agent {state},
# and a service that prints PID 1's memory once it is up.
[image]
name = agent{state}

[runtime]
agent = {yesno}
getty = none

[service.rss]
shell = yes
restart = no
exec = sleep 1; echo "rss-idle $(grep VmRSS /proc/1/status) $(grep ^Rss: /proc/1/smaps_rollup)" >/dev/console
"""


def agent_boot(ctx, world, d, work):
    """(ms from start to PID 1's ready line, PID 1's Rss KiB as it printed
    it a second later): one container or one VM of build d."""
    log = os.path.join(work, unique("console"))
    if world == "LXC":
        ct = unique("agent")
        try:
            t0 = time.monotonic()
            ctx.live.lxc_start_one(ct, work, os.path.join(d, "lxc", "config"), log)
            wait_text(log, b"amphi: ready", LXC_READY_S)
            ms = (time.monotonic() - t0) * 1000
            data = wait_rss(log, b"rss-idle", LXC_READY_S, None)
            return ms, console_rss(data, "rss-idle", "Rss")
        finally:
            ctx.live.lxc_kill([ct])
    ports = os.path.join(work, unique("ports"))
    os.makedirs(ports)
    env = dict(os.environ, AMPHI_LOG_DIR=ports, AMPHI_ACCEL=os.environ.get("AMPHI_ACCEL", ""))
    q = None
    try:
        t0 = time.monotonic()
        with open(log, "wb") as out:
            q = ctx.live.popen([os.path.join(d, "vm", "launch")], stdout=out, stderr=subprocess.STDOUT, env=env)
        wait_text(log, b"amphi: ready", VM_READY_S, q)
        ms = (time.monotonic() - t0) * 1000
        data = wait_rss(log, b"rss-idle", VM_READY_S, q)
        return ms, console_rss(data, "rss-idle", "Rss")
    finally:
        if q is not None and q.poll() is None:
            q.kill()
        ctx.live.end(q)


def section_agent(ctx):
    say = ctx.say
    work = tempfile.mkdtemp(prefix=unique("agentb") + "-")
    states = ("on", "off")
    builds = {}
    try:
        for state in states:
            recipe = os.path.join(work, f"agent-{state}.conf")
            with open(recipe, "w") as f:
                f.write(AGENT_RECIPE.format(state=state, yesno="yes" if state == "on" else "no"))
            builds[state] = os.path.join(work, f"agent-{state}")
            build(ctx, recipe, builds[state])
        rounds = {"LXC": ctx.rounds, "VM": 1 if ctx.quick else 5}
        ready = {(w, st): Measurement(st) for w in rounds for st in states}
        rss = {(w, st): Measurement(st) for w in rounds for st in states}
        for world, n in rounds.items():
            for i, order in rotations(list(states), n):
                for st in order:
                    try:
                        ms, kb = agent_boot(ctx, world, builds[st], work)
                        ready[world, st].add(ms)
                        rss[world, st].add(kb)
                    except (NA, OSError, subprocess.SubprocessError) as e:
                        ready[world, st].fail(e)
                        rss[world, st].fail(e)
                say(f"agent: {world} round {i + 1}/{n} done")
    finally:
        ctx.live.cleanup()
        shutil.rmtree(work, ignore_errors=True)
    rows = [[world, st, ready[world, st].n(), ready[world, st].cell(), rss[world, st].cell(integer)]
            for world in rounds for st in states]
    t = Table(["world", "agent", "rounds", "start → ready, ms", "PID 1 Rss, KiB"],
              "recipes/minimal.conf with `agent = yes` and `agent = no`, alternating; ready: from lxc-start or "
              "vm/launch to PID 1's ready line, Rss: /proc/1/smaps_rollup a second later.")
    for r in rows:
        t.add(*r)
    return Section("The guest agent: on and off", [t],
                   [{"name": "agent-ready", "title": "Start → ready, agent on and off", "unit": "ms",
                     "bars": bars(*(ready[w, st].bar(label=f"{w}, agent {st}") for w in rounds for st in states))}])


# ---- 7. a real appliance: bench/appliance.py -----------------------------------

def appliance(ctx):
    import appliance as section
    return section.run(ctx)


# ---- the module's entry point -------------------------------------------------

def run(ctx):
    """All sections (only those in ctx.only, if any), in order, as core.Section
    objects; a section that breaks becomes a section saying so."""
    ctx.live = Live()
    say = ctx.say
    t_all = time.monotonic()
    minimal = os.path.join(ctx.out, "extras-minimal")
    try:
        say("extras: building recipes/minimal.conf for the LXC sections (not timed)")
        build(ctx, os.path.join(ctx.root, "recipes", "minimal.conf"), minimal)
        minimal_err = None
    except NA as e:
        minimal_err = f"building recipes/minimal.conf: {e}"
    steps = [
        ("sizes", "Static binary sizes (bytes)", lambda: section_sizes(ctx)),
        ("rss", "PID 1 resident memory (KiB)", lambda: section_rss(ctx, minimal)),
        ("template", "lxc-create: amphi template, local template, busybox template",
         lambda: section_template(ctx, minimal)),
        ("install", "amphi install", lambda: section_install(ctx)),
        ("build", "amphi build: cold and warm", lambda: section_build(ctx)),
        ("scaling", "Many containers at once: 1, 10, 50", lambda: section_scaling(ctx, minimal)),
        ("agent", "The guest agent: on and off", lambda: section_agent(ctx)),
        ("nginx", "A real appliance: nginx, amphi against systemd", lambda: appliance(ctx)),
    ]
    sections = []
    unknown = set(ctx.only) - {key for key, _, _ in steps}
    if unknown:
        return [Section("BENCH_ONLY", [f"n/a: no section {', '.join(sorted(unknown))}; the sections are "
                                       f"{', '.join(key for key, _, _ in steps)}"])]
    try:
        for key, title, fn in steps:
            if ctx.only and key not in ctx.only:
                continue
            t0 = time.monotonic()
            say(f"extras: {key}")
            try:
                if minimal_err and key in ("rss", "template", "scaling"):
                    raise NA(minimal_err)
                got = fn()
                sections += got if isinstance(got, list) else [got]
            except Exception as e:  # one broken section must not lose the others
                sections.append(Section(title, [f"n/a: {short(e, 300)}"]))
            say(f"extras: {key} took {time.monotonic() - t0:.1f} s")
    finally:
        ctx.live.cleanup()
    say(f"extras: all sections took {time.monotonic() - t_all:.1f} s")
    return sections
