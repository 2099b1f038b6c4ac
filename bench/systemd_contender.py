"""The systemd contender for make bench: a plain Debian bookworm minbase
tree with systemd as PID 1, booted the way the other contenders are
(bench/run.py's lxc_round and vm_round).

    prepare(out_dir, say, quick) -> ("systemd", D, signals, info)

Everything lives under out_dir/systemd/:
    tree/              debootstrap --variant=minbase --include=systemd-sysv,udev,dbus
    tree.stamp         written after the tree is debootstrapped and configured
    debootstrap.json   how long debootstrap took (kept for later runs)
    debootstrap.log    debootstrap's own output
    loader/            amphi build of a recipe that only loads the disk's
                       modules and follows root= (the VM's initramfs)
    disk.img           raw ext4 image of the tree for the VM (virtio-blk vda)
    lxc/config         lxc-start -f config (the tree is the rootfs)
    vm/launch          QEMU: the loader's launch with the disk and root=
    check.json         whether each world booted to the ready line once

The tree and the image are cached: a second make bench reuses them, the
image is rebuilt only when tree.stamp is newer than it."""

import glob
import hashlib
import inspect
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import core

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.path.join(ROOT, "build")
AMPHI = os.path.join(BUILD, "amphi")
KERNEL = os.path.join(BUILD, "kernel", "current")
SUITE = "bookworm"
# udev: in the VM it loads drivers by modalias (the ACPI button among them)
# and tags the power button for logind; in a container it stays off by its
# own condition (/sys read-only). dbus: systemd-logind, which turns the ACPI
# power button into a power-off, does not start without the system bus.
# kmod: modprobe and kmod for modprobe@*.service and kmod-static-nodes,
# which fail without it (udev itself only needs libkmod).
INCLUDE = "systemd-sysv,udev,dbus,kmod"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
READY = b"amphi: ready"
# The kernel command line after the launcher's "console=ttyS0 panic=-1".
# root= and rootfstype= are for the loader; rw because nothing would fsck it
# read-only first (there is no /etc/fstab entry for / to remount it by).
APPEND = "root=/dev/vda rootfstype=ext4 rw"
# MiB: the launcher's default, as for the other contenders.
VM_MEM = "256"
SMOKE_TIMEOUT = 120  # s: a first boot under TCG on a loaded host

# The ready line. Type=idle + After=multi-user.target: the line is written
# once multi-user.target is reached (the default, graphical.target, adds
# nothing to it in this tree) AND the job queue has drained (Type=idle waits
# for that, at most 5 s): the moment systemd logs "Startup finished". Ordering a unit after the
# target that wants it is fine: systemd leaves out a target's implicit
# After= on a wanted unit that is already ordered after it (no cycle); its
# own systemd-update-utmp-runlevel.service, wanted by multi-user.target and
# ordered after runlevel2.target (= multi-user.target), does the same.
# After=basic.target alone would fire before the services of
# multi-user.target (logind, dbus, getty) were up: not a fair "system is up".
READY_UNIT = """\
# make bench: the ready line the bench waits for (bench/systemd_contender.py).
[Unit]
Description=amphi bench ready line
After=multi-user.target

[Service]
Type=idle
ExecStart=/bin/sh -c 'echo "amphi: ready env=$(systemd-detect-virt || true)" > /dev/console'

[Install]
WantedBy=multi-user.target
"""

# The memory section's hook (bench/extras.py boots the VM with
# AMPHI_BENCH_RSS=1 on the kernel command line; everywhere else the unit is
# skipped by its condition, and in a container systemd reads the condition
# from its own command line, /sbin/init, so LXC never runs it): 1 s after
# the ready line, PID 1's VmRSS and its smaps_rollup Rss on the console.
# After=multi-user.target as the ready unit has, for the same reason
# (without it, multi-user.target's implicit After= on this unit closes a
# cycle through the ready unit, and systemd drops the ready job to break
# it). Type=idle like the ready unit, and ordered after it: systemd forks
# both once the job queue is empty (a oneshot would hold its job, and so the
# ready line, until it exits), and the ready line goes out while this one
# sleeps.
RSS_UNIT = """\
# make bench: PID 1's VmRSS for the memory section (bench/systemd_contender.py).
[Unit]
Description=amphi bench PID 1 VmRSS line
After=multi-user.target amphi-bench-ready.service
ConditionKernelCommandLine=AMPHI_BENCH_RSS=1

[Service]
Type=idle
ExecStart=/bin/sh -c 'sleep 1; echo "rss-idle $(grep VmRSS /proc/1/status) $(grep ^Rss: /proc/1/smaps_rollup)" > /dev/console'

[Install]
WantedBy=multi-user.target
"""

# Masked units: none of these exist or start in this minbase tree with its
# default presets, the mask only makes sure a tree built later with more in
# it still does not wait for a network that is not there (the container has
# only loopback, the VM no NIC).
MASKED = ("systemd-networkd-wait-online.service", "NetworkManager-wait-online.service")

LOADER_RECIPE = """\
# make bench: the systemd contender's initramfs. amphi-init loads the modules
# that / needs (Debian's kernel has virtio_blk and ext4 as modules), sees
# root=/dev/vda, mounts it and switch_roots into its /sbin/init (systemd):
# what an initramfs-tools initramfs does for a Debian systemd install.
[image]
name = systemd-loader
modules = virtio_blk ext4 crc32c_generic
[runtime]
getty = none
"""


class Unavailable(Exception):
    """Why this contender cannot run here; run.py puts the reason in the table."""


class Flavour:
    """One systemd tree of the bench: its directory under out_dir, what
    debootstrap includes, what is done to it after _configure (a function of
    the tree, idempotent; its source and `inputs` are part of the
    configuration's hash) and the container's lxc.net lines."""

    def __init__(self, name, include, configure=None, inputs="", lxc_net=("lxc.net.0.type = empty",)):
        self.name, self.include, self.configure = name, include, configure
        self.inputs, self.lxc_net = inputs, list(lxc_net)


# The boot table's contender.
BASE = Flavour("systemd", INCLUDE)


def _paths(out_dir, flavour=BASE):
    base = os.path.join(out_dir, flavour.name)
    return {
        "base": base,
        "tree": os.path.join(base, "tree"),
        "stamp": os.path.join(base, "tree.stamp"),
        "measure": os.path.join(base, "debootstrap.json"),
        "log": os.path.join(base, "debootstrap.log"),
        "loader": os.path.join(base, "loader"),
        "recipe": os.path.join(base, "loader.conf"),
        "image": os.path.join(base, "disk.img"),
        "check": os.path.join(base, "check.json"),
    }


def _run(cmd, what, log=None, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        tail = (r.stderr or r.stdout).strip().splitlines()[-3:]
        raise Unavailable(f"{what} failed ({r.returncode}): {' / '.join(tail)}"
                          + (f"; see {log}" if log else ""))
    return r


def _ensure_debootstrap(say):
    if shutil.which("debootstrap"):
        return
    say("installing debootstrap (apt-get install -y --no-install-recommends debootstrap)")
    _run(["apt-get", "install", "-y", "--no-install-recommends", "debootstrap"], "apt-get install debootstrap",
         env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"), timeout=600)


def _mirror():
    """The Debian mirror this machine's apt uses for the suite (one-line
    sources.list or deb822 .sources), else deb.debian.org."""
    files = ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")
                                               + glob.glob("/etc/apt/sources.list.d/*.sources"))
    for path in files:
        try:
            text = open(path).read()
        except OSError:
            continue
        if path.endswith(".sources"):
            for stanza in text.split("\n\n"):
                f = {}
                for line in stanza.splitlines():
                    if ":" in line and not line.lstrip().startswith("#"):
                        k, v = line.split(":", 1)
                        f[k.strip().lower()] = v.split()
                if (SUITE in f.get("suites", []) and "deb" in f.get("types", [])
                        and "main" in f.get("components", []) and f.get("uris")):
                    return f["uris"][0].rstrip("/")
        else:
            for line in text.splitlines():
                w = line.split("#", 1)[0].split()
                if w[:1] == ["deb"]:
                    w = [x for x in w[1:] if not x.startswith("[")]
                    if len(w) >= 3 and w[1] == SUITE and "main" in w[2:]:
                        return w[0].rstrip("/")
    return DEFAULT_MIRROR


def _du(path):
    r = subprocess.run(["du", "-sxb", path], capture_output=True, text=True)
    return int(r.stdout.split()[0]) if r.returncode == 0 and r.stdout else 0


def _last_step(log_path, step):
    """The last line of the log that step() accepts, else ""."""
    try:
        with open(log_path, "rb") as f:
            f.seek(max(0, os.fstat(f.fileno()).st_size - 2000))
            text = f.read().decode(errors="replace")
    except OSError:
        return ""
    lines = [l.strip() for l in text.replace("\r", "\n").splitlines() if l.strip() and step(l)]
    return lines[-1] if lines else ""


def run_logged(cmd, log_path, say, label, env=None, step=lambda line: True):
    """Runs a long host command, its output into log_path; returns its wall
    seconds (to its exit, not to a polling tick), or raises Unavailable
    naming the log. Meanwhile its latest step (the last log line step()
    accepts) shows: on a terminal as one line rewritten in place, piped as
    a plain line every 5 s."""
    tty = sys.stdout.isatty()
    t0 = last = time.monotonic()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        while True:
            try:
                proc.wait(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                pass
            now = time.monotonic()
            if tty:
                width = max(shutil.get_terminal_size().columns, 40) - 1
                sys.stdout.write(f"\r\033[Kbench: {label} {now - t0:.0f} s {_last_step(log_path, step)}"[:width + 4])
                sys.stdout.flush()
            elif now - last >= 5:
                last = now
                say(f"{label} {now - t0:.0f} s {_last_step(log_path, step)}")
    finally:
        secs = time.monotonic() - t0
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if tty:
            sys.stdout.write("\r\033[K")
            sys.stdout.flush()
    if proc.returncode != 0:
        raise Unavailable(f"{label} failed ({proc.returncode}) after {secs:.0f} s: "
                          f"{_last_step(log_path, lambda l: True)[:200]}; see {log_path}")
    return secs


def _debootstrap(p, say, include=INCLUDE, cache_dir=None):
    """The tree, from scratch: into tree.new, renamed when debootstrap is
    done. Returns the seconds it took. cache_dir: debootstrap's package
    cache (--cache-dir), where it keeps the .debs it downloaded and takes
    them from the next time."""
    _ensure_debootstrap(say)
    mirror = _mirror()
    new = p["tree"] + ".new"
    for d in (new, p["tree"]):
        if os.path.lexists(d):
            shutil.rmtree(d)
    cache = [f"--cache-dir={cache_dir}"] if cache_dir else []
    cmd = ["debootstrap", "--variant=minbase", f"--include={include}", *cache, SUITE, new, mirror]
    say(f"systemd: {' '.join(cmd)} (log: {p['log']})")
    secs = run_logged(cmd, p["log"], say, "systemd: debootstrap", step=lambda l: l.startswith(("I:", "W:", "E:")))
    os.rename(new, p["tree"])
    say(f"systemd: debootstrap took {secs:.1f} s")
    return secs


def _config_hash(kver, flavour=BASE):
    h = hashlib.sha256()
    extra = [inspect.getsource(flavour.configure), flavour.inputs] if flavour.configure else []
    for part in (flavour.include, READY_UNIT, RSS_UNIT, " ".join(MASKED), kver, inspect.getsource(_configure),
                 *extra):
        h.update(part.encode() + b"\0")
    return h.hexdigest()


def _kver():
    mods = os.path.join(KERNEL, "root", "lib", "modules")
    vers = sorted(os.listdir(mods)) if os.path.isdir(mods) else []
    if len(vers) != 1 or not os.path.exists(os.path.join(KERNEL, "vmlinuz")):
        raise Unavailable(f"expected one kernel in {mods} and {KERNEL}/vmlinuz; run 'make' first")
    return vers[0]


def _configure(tree, kver):
    """What makes the debootstrapped tree a bench contender; idempotent."""
    def write(rel, text, mode=0o644):
        path = os.path.join(tree, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)

    def link(rel, target):
        path = os.path.join(tree, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if os.path.lexists(path):
            os.unlink(path)
        os.symlink(target, path)

    # Journals of earlier boots (a reconfigured tree was booted before):
    # the disk image starts without them.
    journal = os.path.join(tree, "var", "log", "journal")
    for d in glob.glob(os.path.join(journal, "*")):
        shutil.rmtree(d, ignore_errors=True)
    write("etc/hostname", "systemd-bench\n")
    write("etc/hosts", "127.0.0.1 localhost\n127.0.1.1 systemd-bench\n")
    # A machine id of its own, so no boot is a "first boot" (that would run
    # the first-boot units and write a new id into the tree every time).
    mid = os.path.join(tree, "etc", "machine-id")
    if not os.path.exists(mid) or len(open(mid).read().strip()) != 32:
        write("etc/machine-id", hashlib.md5(b"amphi-bench-systemd").hexdigest() + "\n", 0o444)
    # systemd-sysv's /sbin/init -> /lib/systemd/systemd, absolute: the
    # loader checks /newroot/sbin/init before switch_root and would follow it
    # into the initramfs. The same link, relative (/sbin is usr/sbin here).
    init = os.path.join(tree, "usr", "sbin", "init")
    if os.path.islink(init) and os.readlink(init) == "/lib/systemd/systemd":
        link("usr/sbin/init", "../lib/systemd/systemd")
    write("etc/systemd/system/amphi-bench-ready.service", READY_UNIT)
    link("etc/systemd/system/multi-user.target.wants/amphi-bench-ready.service",
         "/etc/systemd/system/amphi-bench-ready.service")
    write("etc/systemd/system/amphi-bench-rss.service", RSS_UNIT)
    link("etc/systemd/system/multi-user.target.wants/amphi-bench-rss.service",
         "/etc/systemd/system/amphi-bench-rss.service")
    for unit in MASKED:
        link(os.path.join("etc/systemd/system", unit), "/dev/null")
    # The kernel's modules, for udev and modprobe in the VM (the container
    # uses the host's kernel and loads nothing). Hard links: the same files
    # as build/kernel, without another 400 MB on disk.
    dst = os.path.join(tree, "usr", "lib", "modules", kver)
    if not os.path.isdir(dst):
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        src = os.path.join(KERNEL, "root", "lib", "modules", kver)
        r = subprocess.run(["cp", "-al", src, dst], capture_output=True, text=True)
        if r.returncode != 0:
            shutil.rmtree(dst, ignore_errors=True)
            _run(["cp", "-a", src, dst], f"copying {src} into the tree")


def configure(tree, kver, flavour=BASE):
    """What makes a debootstrapped tree the flavour's contender; idempotent."""
    _configure(tree, kver)
    if flavour.configure:
        flavour.configure(tree)


def _tree(p, say, flavour=BASE):
    """Debootstraps (once) and configures the tree; returns the debootstrap
    measurement {"debootstrap_s", "debootstrap_cached"}."""
    kver = _kver()
    meas = None
    try:
        meas = json.load(open(p["measure"]))
    except (OSError, ValueError):
        pass
    if meas and meas.get("include") == flavour.include and os.path.lexists(os.path.join(p["tree"], "sbin", "init")):
        say(f"systemd: reusing the debootstrapped tree in {p['tree']} "
            f"(debootstrap took {meas['seconds']:.1f} s when it was made)")
        cached = True
    else:
        secs = _debootstrap(p, say, flavour.include)
        meas = {"seconds": secs, "include": flavour.include, "mirror": _mirror(), "when": time.time()}
        with open(p["measure"], "w") as f:
            json.dump(meas, f)
        cached = False
        if os.path.exists(p["stamp"]):
            os.unlink(p["stamp"])
    want = _config_hash(kver, flavour)
    try:
        stamp = json.load(open(p["stamp"]))
    except (OSError, ValueError):
        stamp = {}
    if stamp.get("hash") != want:
        say("systemd: configuring the tree (ready and memory units, masks, kernel modules)")
        configure(p["tree"], kver, flavour)
        # Sizes now, before the container's boots add their journal to it.
        stamp = {"hash": want, "tree_bytes": _du(p["tree"]),
                 "modules_bytes": _du(os.path.join(p["tree"], "usr", "lib", "modules"))}
        with open(p["stamp"], "w") as f:
            json.dump(stamp, f)
    return {"debootstrap_s": meas["seconds"], "debootstrap_cached": cached,
            "tree_bytes": stamp["tree_bytes"], "modules_bytes": stamp["modules_bytes"]}


def _loader(p, say):
    """amphi's initramfs for the VM: only the modules for / and root=."""
    launch = os.path.join(p["loader"], "vm", "launch")
    old = open(p["recipe"]).read() if os.path.exists(p["recipe"]) else None
    if (old == LOADER_RECIPE and os.path.exists(launch)
            and os.path.getmtime(launch) >= os.path.getmtime(AMPHI)
            and os.path.getmtime(launch) >= os.path.getmtime(os.path.join(BUILD, "amphi-init"))):
        return launch
    with open(p["recipe"], "w") as f:
        f.write(LOADER_RECIPE)
    say("systemd: building the VM loader (amphi initramfs: virtio_blk ext4, root=)")
    _run([AMPHI, "build", p["recipe"], "-o", p["loader"]], "amphi build of the loader")
    return launch


def _image(p, say):
    """disk.img: the tree as an ext4 file system, 30 % larger than the tree.
    Rebuilt only when tree.stamp is newer (each VM boot writes to it, which
    keeps it newer)."""
    img = p["image"]
    if os.path.exists(img) and os.path.getmtime(img) >= os.path.getmtime(p["stamp"]):
        say(f"systemd: reusing {img}")
        return False
    size = _du(p["tree"])
    mib = int(size * 1.3) // (1 << 20) + 64
    say(f"systemd: mke2fs -t ext4 -d {p['tree']} ({size / 1e6:.0f} MB) into {mib} MiB")
    new = img + ".new"
    if os.path.exists(new):
        os.unlink(new)
    try:
        run_logged(["mke2fs", "-q", "-F", "-t", "ext4", "-L", "systemd-bench", "-d", p["tree"], new, f"{mib}M"],
                   new + ".log", say, "systemd: mke2fs -d")
        os.rename(new, img)
    finally:
        if os.path.exists(new):
            os.unlink(new)
    return True


# cgroup:mixed mounts nothing at /sys/fs/cgroup on this host (cgroup v1 +
# cgroup2 at unified): systemd, which keeps CAP_SYS_ADMIN in the container's
# cgroup namespace, mounts the hybrid layout itself (tmpfs, unified,
# name=systemd and the v1 controllers) and boots with no failed unit.
# cgroup:mixed:force (LXC mounts them) boots too, with "Failed to create
# symlink /sys/fs/cgroup/cpu: File exists" from systemd on the console.
CGROUP_MOUNT = "cgroup:mixed"


def _write_lxc(p, tree, flavour=BASE):
    d = os.path.join(p["base"], "lxc")
    os.makedirs(d, exist_ok=True)
    lines = ["# make bench: Debian bookworm minbase with systemd as PID 1 (bench/systemd_contender.py).",
             f"# Start: lxc-start -n NAME -f {d}/config   Stop: lxc-stop -n NAME"]
    common = "/usr/share/lxc/config/common.conf"
    if os.path.exists(common):
        # lxcfs's post-stop hook (common.conf.d) sleeps 0.5 s on every stop
        # and confines nothing: amphi's configs set it back, and so does this.
        lines += [f"lxc.include = {common}", "lxc.hook.post-stop ="]
    lines += [
        "lxc.uts.name = systemd-bench",
        f"lxc.rootfs.path = dir:{tree}",
        "lxc.init.cmd = /sbin/init",
        # systemd halts on SIGRTMIN+3 (SIGPWR would only start sigpwr.target);
        # SIGINT is its Ctrl-Alt-Del, a reboot.
        "lxc.signal.halt = SIGRTMIN+3",
        "lxc.signal.reboot = SIGINT",
        "lxc.tty.max = 1",
        "lxc.pty.max = 16",
        # Replaces common.conf's list. CGROUP_MOUNT says why.
        "lxc.mount.auto =",
        f"lxc.mount.auto = proc:mixed sys:mixed {CGROUP_MOUNT}",
        "lxc.autodev = 1",
        *flavour.lxc_net,
    ]
    with open(os.path.join(d, "config"), "w") as f:
        f.write("\n".join(lines) + "\n")


def _write_vm(p, loader_launch):
    d = os.path.join(p["base"], "vm")
    os.makedirs(d, exist_ok=True)
    script = f"""#!/bin/sh
# make bench: Debian bookworm with systemd as PID 1 under QEMU
# (bench/systemd_contender.py); extra arguments go to QEMU.
# The loader is amphi's initramfs doing only root=: it loads virtio_blk and
# ext4, mounts /dev/vda and switch_roots into its /sbin/init (systemd), which
# is what an initramfs-tools initramfs would do for systemd here.
# Memory: {VM_MEM} MiB unless AMPHI_MEM says otherwise.
AMPHI_DISK='{p["image"]}'
AMPHI_APPEND="{APPEND} ${{AMPHI_APPEND:-}}"
AMPHI_MEM=${{AMPHI_MEM:-{VM_MEM}}}
export AMPHI_DISK AMPHI_APPEND AMPHI_MEM
exec '{loader_launch}' "$@"
"""
    path = os.path.join(d, "launch")
    with open(path, "w") as f:
        f.write(script)
    os.chmod(path, 0o755)


# ---- one boot in each world, once per image: info["lxc_ok"], ["vm_ok"] ----

def _wait(path, deadline, proc=None):
    """The ready line came before the deadline (and before proc exited)."""
    return core.wait_for(path, lambda data: READY in data, deadline, proc, pause=0.05) is not None


def _tail(path, n=3):
    try:
        lines = open(path, "rb").read().decode(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " / ".join(l.strip() for l in lines[-n:])


def smoke_lxc(d, keep_log=None):
    """Boots the container once: "" when the ready line came and lxc-stop
    stopped it, else why not."""
    work = tempfile.mkdtemp(prefix="amphi-systemd-lxc-")
    ct = f"systemd-smoke-{os.getpid()}-{time.monotonic_ns()}"
    log = os.path.join(work, "console.log")
    try:
        r = subprocess.run(["lxc-start", "-n", ct, "-P", work, "-f", os.path.join(d, "lxc", "config"), "-d",
                            "-L", log], capture_output=True, text=True)
        if r.returncode != 0:
            return f"lxc-start failed: {r.stderr.strip()[-200:]}"
        if not _wait(log, time.monotonic() + SMOKE_TIMEOUT):
            return f"no ready line in {SMOKE_TIMEOUT} s; console ends: {_tail(log)}"
        r = subprocess.run(["lxc-stop", "-n", ct, "-P", work, "-t", "30"], capture_output=True, text=True)
        if r.returncode != 0:
            return f"lxc-stop -t 30 failed ({r.returncode}): {r.stderr.strip()[-200:]}"
        return ""
    finally:
        subprocess.run(["lxc-stop", "-n", ct, "-P", work, "-k"], capture_output=True)
        if keep_log and os.path.exists(log):
            shutil.copy(log, keep_log)
        shutil.rmtree(work, ignore_errors=True)


def smoke_vm(d, keep_log=None):
    """Boots the VM once: "" when the ready line came and the ACPI power
    button ended QEMU, else why not."""
    work = tempfile.mkdtemp(prefix="amphi-systemd-vm-")
    serial, mon = os.path.join(work, "serial.log"), os.path.join(work, "mon.sock")
    with open(serial, "wb") as out:
        proc = subprocess.Popen([os.path.join(d, "vm", "launch"), "-monitor", f"unix:{mon},server=on,wait=off"],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                env=dict(os.environ, AMPHI_ACCEL=os.environ.get("AMPHI_ACCEL", "")))
    try:
        if not _wait(serial, time.monotonic() + SMOKE_TIMEOUT, proc):
            return f"no ready line in {SMOKE_TIMEOUT} s; serial ends: {_tail(serial)}"
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(mon)
            s.sendall(b"system_powerdown\n")
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                return "the ACPI power button did not end QEMU in 60 s"
        return ""
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if keep_log and os.path.exists(serial):
            shutil.copy(serial, keep_log)
        shutil.rmtree(work, ignore_errors=True)


def _checks(p, say):
    """lxc_ok / vm_ok and why not, from one boot each; redone only when the
    image or this module changed since the last check."""
    key = f"{os.path.getmtime(p['stamp'])}:{os.path.getmtime(__file__)}:{CGROUP_MOUNT}:{APPEND}:{VM_MEM}"
    try:
        old = json.load(open(p["check"]))
        if old.get("key") == key:
            return old
    except (OSError, ValueError):
        pass
    say("systemd: one boot in LXC to check it")
    lxc = smoke_lxc(p["base"], os.path.join(p["base"], "check-lxc.console"))
    say("systemd: LXC " + (f"does not work: {lxc}" if lxc else "works"))
    say("systemd: one boot under QEMU to check it (TCG: up to a minute)")
    vm = smoke_vm(p["base"], os.path.join(p["base"], "check-vm.serial"))
    say("systemd: VM " + (f"does not work: {vm}" if vm else "works"))
    res = {"key": key, "lxc_ok": not lxc, "lxc_why": lxc, "vm_ok": not vm, "vm_why": vm}
    with open(p["check"], "w") as f:
        json.dump(res, f)
    return res


def prepare(out_dir, say, quick, flavour=BASE, check=True):
    """Builds (or reuses) the systemd contender under out_dir/NAME (the
    flavour's). Returns ("systemd", D, lxc-start -s overrides, info); info has
    debootstrap_s, debootstrap_cached, tree_bytes, modules_bytes,
    image_bytes, lxc_ok, vm_ok (and lxc_why / vm_why when not ok). quick
    changes nothing here: the tree and the image are cached anyway.
    Raises Unavailable when neither world can boot it. Without check, no
    boot is tried (lxc_ok and vm_ok are left out): a flavour whose
    container needs a network of the caller's own boots in its rounds."""
    if os.geteuid() != 0:
        raise Unavailable("debootstrap and LXC need root")
    p = _paths(out_dir, flavour)
    os.makedirs(p["base"], exist_ok=True)
    info = _tree(p, say, flavour)
    loader = _loader(p, say)
    _image(p, say)
    info["image_bytes"] = os.path.getsize(p["image"])
    _write_lxc(p, p["tree"], flavour)
    _write_vm(p, loader)
    if not check:
        return ("systemd", p["base"], {}, info)
    c = _checks(p, say)
    info.update({k: c[k] for k in ("lxc_ok", "vm_ok")})
    if not c["lxc_ok"]:
        info["lxc_why"] = c["lxc_why"]
    if not c["vm_ok"]:
        info["vm_why"] = c["vm_why"]
    if not c["lxc_ok"] and not c["vm_ok"]:
        raise Unavailable(f"systemd booted in neither world: LXC: {c['lxc_why']}; VM: {c['vm_why']}")
    return ("systemd", p["base"], {}, info)


def time_debootstrap(out_dir, say, n=1, flavour=BASE, cache_dir=None, then=None):
    """One fresh debootstrap, the same command as the tree's, into a
    scratch directory of its own (timing-tree-N, made new and removed
    afterwards): the build time to set beside amphi build's in this run.
    Seconds; raises Unavailable on failure. cache_dir: debootstrap's
    --cache-dir; then(tree): called with the new tree before it is removed
    (what it does is not in the seconds)."""
    p = _paths(out_dir, flavour)
    scratch = dict(p, tree=os.path.join(p["base"], f"timing-tree-{n}"), log=os.path.join(p["base"], f"timing-{n}.log"))
    try:
        secs = _debootstrap(scratch, say, flavour.include, cache_dir)
        if then:
            then(scratch["tree"])
        return secs
    finally:
        shutil.rmtree(scratch["tree"], ignore_errors=True)
        shutil.rmtree(scratch["tree"] + ".new", ignore_errors=True)
