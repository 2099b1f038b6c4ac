"""A real appliance for make bench: recipes/nginx.conf built by
amphi, side by side with the same packages under systemd, in one run.

    import appliance
    section = appliance.run(ctx)   # ctx: core.Run, as bench/extras.py's run() takes it

The systemd contender is a flavour of bench/systemd_contender.py's (its
debootstrap, configuration, loader, disk image and caching): Debian
minbase + systemd + nginx-light, serving the recipe's page on port 80 with
the recipe's nginx.conf, its network by systemd-networkd's DHCP client.
Measured: build cold and warm, image sizes, boot to nginx's first answer in
LXC (a veth on a bridge in a network namespace of the bench's own, with a
DHCP server) and under QEMU (user networking with restrict=on, a loopback
hostfwd), PID 1's memory once serving, and stop time."""

import glob
import json
import os
import re
import select
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import extras
import systemd_contender as sc
from core import NA, Measurement, Section, Table, bars, integer, rotations

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
RECIPE = os.path.join(ROOT, "recipes", "nginx.conf")
SITE = os.path.join(ROOT, "recipes", "nginx")

# The container's veth: a fixed MAC each, so that the DHCP server hands each
# contender a fixed address (static lease) and the bench can poll it.
BRIDGE = "lxcbr0"  # recipes/nginx.conf's bridge =
GATEWAY = "10.0.3.1"
BRIDGE_MAC = "02:a4:24:00:00:fe"
LXC_ADDR = {"amphi": ("02:a4:24:00:00:01", "10.0.3.101"), "systemd": ("02:a4:24:00:00:02", "10.0.3.102")}

# systemd-networkd on the container's eth0 and the VM's NIC (udev gives it
# a predictable en* name there), DHCP as amphi's udhcpc does.
NETWORK_UNIT = """\
# make bench (bench/appliance.py): DHCP on the one NIC, as amphi's recipe asks.
[Match]
Name=eth* en*

[Network]
DHCP=ipv4
"""


def nginx_conf():
    """recipes/nginx/nginx.conf for Debian's nginx.service: that unit starts
    nginx with -g 'daemon on; master_process on;' (a second daemon
    directive is an error), and under systemd its stdout is journald's
    socket, which nginx cannot open as /dev/stdout (ENXIO): the logs go to
    Debian's files in /var/log/nginx. Nothing else changes."""
    text = open(os.path.join(SITE, "nginx.conf")).read()
    for old, new in ((r"^daemon off;\n", ""),
                     (r"^error_log stderr notice;$", "error_log /var/log/nginx/error.log notice;"),
                     (r"^(\s*)access_log /dev/stdout;$", r"\1access_log /var/log/nginx/access.log;")):
        text, n = re.subn(old, new, text, flags=re.M)
        if n != 1:
            raise sc.Unavailable(f"recipes/nginx/nginx.conf has no line {old!r} to adapt for systemd")
    return text


def configure_nginx(tree):
    """What recipes/nginx.conf's files = and setup = lines do, for the
    systemd tree (its nginx.conf adapted, the page, the default site
    removed), and its network; apt's caches emptied, as an image build does
    (apt-get clean, the package lists removed; debootstrap leaves both);
    idempotent."""
    with open(os.path.join(tree, "etc", "nginx", "nginx.conf"), "w") as f:
        f.write(nginx_conf())
    www = os.path.join(tree, "srv", "www")
    shutil.rmtree(www, ignore_errors=True)
    shutil.copytree(os.path.join(SITE, "www"), www)
    default = os.path.join(tree, "etc", "nginx", "sites-enabled", "default")
    if os.path.lexists(default):
        os.unlink(default)
    net = os.path.join(tree, "etc", "systemd", "network")
    os.makedirs(net, exist_ok=True)
    with open(os.path.join(net, "80-bench.network"), "w") as f:
        f.write(NETWORK_UNIT)
    # systemctl enable systemd-networkd, by hand (the links its [Install] makes).
    system = os.path.join(tree, "etc", "systemd", "system")
    for rel, unit in (("multi-user.target.wants/systemd-networkd.service", "systemd-networkd.service"),
                      ("sockets.target.wants/systemd-networkd.socket", "systemd-networkd.socket"),
                      ("dbus-org.freedesktop.network1.service", "systemd-networkd.service")):
        path = os.path.join(system, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if os.path.lexists(path):
            os.unlink(path)
        os.symlink(f"/lib/systemd/system/{unit}", path)
    for d, keep in (("var/cache/apt/archives", ("partial", "lock")), ("var/lib/apt/lists", ("partial", "lock"))):
        d = os.path.join(tree, d)
        for name in os.listdir(d) if os.path.isdir(d) else ():
            if name not in keep and not os.path.isdir(os.path.join(d, name)):
                os.unlink(os.path.join(d, name))


def _inputs():
    """What configure_nginx takes from the recipe's folder, for the tree's hash."""
    parts = [NETWORK_UNIT, nginx_conf()]
    for d, _, files in sorted(os.walk(os.path.join(SITE, "www"))):
        for name in sorted(files):
            with open(os.path.join(d, name), errors="replace") as f:
                parts.append(os.path.relpath(os.path.join(d, name), SITE) + "\0" + f.read())
    return "\0".join(parts)


FLAVOUR = sc.Flavour(
    "systemd-nginx", sc.INCLUDE + ",nginx-light", configure_nginx, _inputs(),
    lxc_net=["lxc.net.0.type = veth", f"lxc.net.0.link = {BRIDGE}", "lxc.net.0.name = eth0",
             "lxc.net.0.flags = up", f"lxc.net.0.hwaddr = {LXC_ADDR['systemd'][0]}"])


# ---- the page, and its first answer ------------------------------------------

def page():
    with open(os.path.join(SITE, "www", "index.html"), "rb") as f:
        return f.read()


def answers(host, port, want, connect_s, read_s):
    """One GET / over HTTP/1.0: True when the answer is 200 with the page."""
    try:
        with socket.create_connection((host, port), timeout=connect_s) as s:
            s.settimeout(read_s)
            s.sendall(b"GET / HTTP/1.0\r\nHost: bench\r\n\r\n")
            data = b""
            while True:
                b = s.recv(65536)
                if not b:
                    break
                data += b
    except OSError:
        return False
    head, _, body = data.partition(b"\r\n\r\n")
    return head.split(b"\r\n", 1)[0].split(b" ")[1:2] == [b"200"] and body == want


def first_answer(host, port, want, seconds, connect_s, read_s, pause_s, proc=None):
    """Polls until nginx answers with the page: the monotonic time it did,
    else None (also once proc, the guest's QEMU, has exited). The bounds per
    try keep a try that went out too early (a SYN the guest dropped,
    retried only after a second) from hiding an answer."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and (proc is None or proc.poll() is None):
        if answers(host, port, want, connect_s, read_s):
            return time.monotonic()
        time.sleep(pause_s)
    return None


# In a container's namespace the bench polls through a helper of its own
# (this file, run with --poll under ip netns exec): started and polling
# before the container is, so its start-up is not in the time. It says
# "polling", then "answer T" (CLOCK_MONOTONIC, the same clock as the
# bench's) or "none". A try: 20 ms to connect (with the address not up yet
# the SYN is dropped), 2 s for the answer, 2 ms between tries.
POLL_CONNECT_S, POLL_READ_S, POLL_PAUSE_S = 0.02, 2.0, 0.002
# Under QEMU, user networking accepts the host's connection at once and
# only then tries the guest: a try that gets nothing in 0.5 s is dropped.
VM_READ_S, VM_PAUSE_S = 0.5, 0.01


def run_main():
    """--run: each line of stdin is a command (a JSON list), run to its end;
    a line back says {"rc", "t0", "t1", "err"}: t0 just before it started,
    t1 once it exited (CLOCK_MONOTONIC)."""
    for line in sys.stdin:
        t0 = time.monotonic()
        r = subprocess.run(json.loads(line), capture_output=True, text=True, errors="replace",
                           stdin=subprocess.DEVNULL)
        print(json.dumps({"rc": r.returncode, "t0": t0, "t1": time.monotonic(), "err": r.stderr[-300:]}),
              flush=True)


def poll_main(argv):
    host, port, seconds = argv[0], int(argv[1]), float(argv[2])
    print("polling", flush=True)
    t = first_answer(host, port, page(), seconds, POLL_CONNECT_S, POLL_READ_S, POLL_PAUSE_S)
    print(f"answer {t!r}" if t is not None else "none", flush=True)


# ---- the containers' network: a namespace of the bench's own ------------------

NS_PREFIX = "amphi-bench-nginx-"


def _ns_name(pid):
    return f"{NS_PREFIX}{pid}"


def remove_stale_runs():
    """What runs that died (their PID is gone) left in their work
    directories (run()'s) and namespaces: their containers, by name (one
    console log each), the processes they started, by the PID in their
    pidfiles (udhcpd's, QEMU's) when that process's command line names the
    directory, the directories, then their namespaces."""
    for work in glob.glob(os.path.join(tempfile.gettempdir(), "amx-nginx-*-*")):
        pid = os.path.basename(work).split("-")[2]
        if not pid.isdigit() or os.path.exists(f"/proc/{pid}"):
            continue
        ns = _ns_name(pid)
        for log in glob.glob(os.path.join(work, "*.console")) if os.path.exists(f"/run/netns/{ns}") else ():
            ct = os.path.basename(log).removesuffix(".console")
            subprocess.run(extras.netns_exec(ns) + ["lxc-stop", "-k", "-n", ct, "-P", work],
                           capture_output=True, timeout=extras.CMD_S)
        for pidfile in glob.glob(os.path.join(work, "*.pid")):
            try:
                child = int(open(pidfile).read().split()[0])
                if work.encode() in open(f"/proc/{child}/cmdline", "rb").read():
                    os.kill(child, 9)
            except (OSError, ValueError, IndexError):
                pass
        shutil.rmtree(work, ignore_errors=True)
    r = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    for line in r.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        pid = name[len(NS_PREFIX):]
        if name.startswith(NS_PREFIX) and pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)


class Network:
    """A network namespace with a bridge named lxcbr0 (the recipe's) at
    10.0.3.1/24 and busybox udhcpd on it, as lxc-net's dnsmasq would be,
    with a static lease for each contender's MAC; the host side knows those
    MACs (permanent neighbour entries), so no ARP round trip, retried only
    each second, stands between an address coming up and the first try
    that reaches it. As the tests' ns_lxcbr0 fixture does, but for a run.
    The timed lxc-* commands go through a runner already in the namespace
    (run()): getting in (ip netns exec, the cgroup mounts LXC needs made
    again: about 50 ms here) is not in their times."""

    def __init__(self, live, work):
        self.live, self.work, self.ns, self.udhcpd, self.runner = live, work, _ns_name(os.getpid()), None, None

    def __enter__(self):
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)
        extras.sh("ip", "netns", "add", self.ns)
        try:
            # A MAC of its own: else the bridge takes its first port's, and
            # the change flushes the neighbour table, permanent entries too.
            for cmd in (["link", "set", "lo", "up"], ["link", "add", BRIDGE, "address", BRIDGE_MAC, "type", "bridge"],
                        ["addr", "add", f"{GATEWAY}/24", "dev", BRIDGE], ["link", "set", BRIDGE, "up"]):
                extras.sh("ip", "-n", self.ns, *cmd)
            for mac, ip in LXC_ADDR.values():
                extras.sh("ip", "-n", self.ns, "neigh", "replace", ip, "lladdr", mac, "dev", BRIDGE, "nud", "permanent")
            conf = os.path.join(self.work, "udhcpd.conf")
            with open(conf, "w") as f:
                f.write(f"start 10.0.3.100\nend 10.0.3.110\ninterface {BRIDGE}\n"
                        f"lease_file {self.work}/udhcpd.leases\npidfile {self.work}/udhcpd.pid\n"
                        f"option subnet 255.255.255.0\noption router {GATEWAY}\noption lease 600\n"
                        + "".join(f"static_lease {mac} {ip}\n" for mac, ip in LXC_ADDR.values()))
            open(os.path.join(self.work, "udhcpd.leases"), "w").close()
            self.udhcpd = self.live.popen(["ip", "netns", "exec", self.ns, "busybox", "udhcpd", "-f", conf],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.runner = self.live.popen([*extras.netns_exec(self.ns), sys.executable, os.path.abspath(__file__),
                                           "--run"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        try:
            self.live.lxc_kill(self.live.lxc_in(self.ns))
        except NA:
            pass
        if self.runner:
            self.runner.stdin.close()
        self.live.end(self.runner)
        self.live.end(self.udhcpd)
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)

    def run(self, *argv):
        """Runs a command in the namespace through the runner: {"rc", "t0",
        "t1", "err"}, the times on the bench's clock."""
        self.runner.stdin.write(json.dumps([str(a) for a in argv]) + "\n")
        self.runner.stdin.flush()
        r, _, _ = select.select([self.runner.stdout], [], [], extras.CMD_S)
        line = self.runner.stdout.readline() if r else ""
        if not line:
            raise NA(f"{argv[0]} in the namespace: no word from the runner in {extras.CMD_S} s")
        return json.loads(line)

    def poller(self, ip, seconds):
        """The helper polling ip:80 in the namespace, once it polls."""
        p = self.live.popen(["ip", "netns", "exec", self.ns, sys.executable, os.path.abspath(__file__), "--poll",
                             ip, "80", str(seconds)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        if p.stdout.readline().strip() != "polling":
            self.live.end(p)
            raise NA("the poller in the namespace did not start")
        return p


def poller_result(live, p, seconds):
    """The time of the first answer the poller saw, else NA."""
    try:
        out, _ = p.communicate(timeout=seconds + 10)
    finally:
        live.end(p)
    m = re.search(r"answer (\d+\.\d+)", out or "")
    if not m:
        raise NA(f"no answer from nginx in {seconds:.0f} s")
    return float(m.group(1))


# ---- builds: cold and warm ------------------------------------------------------

def rx_bytes():
    """Bytes this host's network namespace received so far, loopback aside
    (/proc/net/dev): what a build downloaded, give or take other traffic."""
    total = 0
    with open("/proc/net/dev") as f:
        for line in f.readlines()[2:]:
            name, _, rest = line.partition(":")
            if name.strip() != "lo":
                total += int(rest.split()[0])
    return total


class Results(dict):
    """(contender, what) -> Measurement, made on first use."""

    def __missing__(self, key):
        self[key] = Measurement(" ".join(key))
        return self[key]


# The outputs in the size table: key, amphi's paths in DIR (their sizes
# added up), systemd's in its build directory ("tree": its tree, without
# the modules). A directory is measured with du -sxb, a file by its size.
SIZES = [("vm", ["vm/root.img"], ["rootfs.squashfs"]),
         ("initramfs", ["vm/initramfs.img"], None),
         ("disk", None, ["disk.img"]),
         ("lxc", ["lxc/rootfs"], ["tree"]),
         ("tar", ["lxc/rootfs.tar.xz"], ["rootfs.tar.xz"]),
         ("lxd", ["lxd/lxd.tar.xz", "lxd/rootfs.squashfs"], ["lxd.tar.xz", "rootfs.squashfs"])]


def size_of(path, exclude=None):
    if os.path.isdir(path):
        ex = [f"--exclude={os.path.join(path, exclude)}"] if exclude else []
        return int(extras.sh("du", "-sxb", *ex, path).stdout.split()[0])
    return os.path.getsize(path)


def read_sizes(who, d, res, tree=None):
    """The sizes of one cold build's outputs into res[who, "size " + key]."""
    for key, amphi, systemd in SIZES:
        rels = amphi if who == "amphi" else systemd
        try:
            if rels:
                res[who, "size " + key].add(sum(size_of(tree, NO_MODULES) if rel == "tree" else
                                                size_of(os.path.join(d, rel)) for rel in rels))
        except (OSError, NA) as e:
            res[who, "size " + key].fail(f"{', '.join(rels)}: {e}")


def amphi_build_round(ctx, work, n, res):
    """amphi build recipes/nginx.conf into a new directory with a new, empty
    AMPHI_CACHE (cold), then again into the same directory (warm): seconds
    in res["amphi", KIND], bytes received in res["amphi", KIND + " rx"], the
    cold build's output sizes in res["amphi", "size " + key]."""
    d, cache = os.path.join(work, f"amphi-{n}"), os.path.join(work, f"amphi-cache-{n}")
    os.makedirs(cache)
    env = dict(os.environ, AMPHI_CACHE=cache)
    try:
        for kind in ("cold", "warm"):
            rx = rx_bytes()
            try:
                secs = sc.run_logged([ctx.amphi, "build", RECIPE, "-o", d],
                                     os.path.join(work, f"amphi-{n}-{kind}.log"), ctx.say,
                                     f"nginx: amphi build ({kind})", env=env)
            except sc.Unavailable as e:
                res["amphi", kind].fail(e)
                return
            res["amphi", kind].add(secs)
            res["amphi", kind + " rx"].add(rx_bytes() - rx)
            if kind == "cold":
                read_sizes("amphi", d, res)
    finally:
        shutil.rmtree(d, ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)


# Not in any systemd image but the VM's disk: the kernel's modules (a
# container has none; the VM's udev loads them by modalias).
NO_MODULES = "usr/lib/modules"
LXD_METADATA = """architecture: x86_64
creation_date: 0
properties:
  description: make bench's systemd + nginx-light (bench/appliance.py)
"""


def xz_tar(args, path, say):
    """tar ARGS through xz at level 1 on two threads, as amphi writes its
    tarballs (image-builder/manifest_archive.c, manifest_write_tar_xz), into path."""
    tar = " ".join(shlex.quote(a) for a in ["tar", "--numeric-owner", "--sort=name", "-cf", "-", *args])
    sc.run_logged(["bash", "-c", f"set -o pipefail; {tar} | xz -1 -T2 > {shlex.quote(path)}"], path + ".log", say,
                  f"nginx: systemd's {os.path.basename(path)}")


def systemd_images(tree, out, say):
    """What systemd's appliance is delivered as, from the configured tree
    into out/, as amphi's outputs are: disk.img, the ext4 disk the VM boots
    (systemd_contender's, the modules in it); without the modules,
    rootfs.tar.xz for lxc-local and LXD's split image, lxd.tar.xz
    (metadata.yaml) and rootfs.squashfs, made as amphi makes its SquashFS
    (zstd level 6, no xattrs). The tree itself is what LXC boots."""
    disk = os.path.join(out, "disk.img")
    sc._image({"tree": tree, "image": disk, "stamp": disk}, say)  # a new path: always made
    xz_tar([f"--exclude=./{NO_MODULES}", "-C", tree, "."], os.path.join(out, "rootfs.tar.xz"), say)
    with open(os.path.join(out, "metadata.yaml"), "w") as f:
        f.write(LXD_METADATA)
    xz_tar(["-C", out, "metadata.yaml"], os.path.join(out, "lxd.tar.xz"), say)
    squashfs = os.path.join(out, "rootfs.squashfs")
    sc.run_logged(["mksquashfs", tree, squashfs, "-noappend", "-quiet", "-no-progress", "-comp", "zstd",
                   "-Xcompression-level", "6", "-no-xattrs", "-e", NO_MODULES], squashfs + ".log", say,
                  "nginx: systemd's rootfs.squashfs")


def systemd_sizes(tree, out, res):
    """The cold build's sizes, as amphi's are read; the tree without the
    modules (LXC's rootfs), the modules and the docs on their own."""
    read_sizes("systemd", out, res, tree)
    res["systemd", "size modules"].add(size_of(os.path.join(tree, NO_MODULES)))
    share = os.path.join(tree, "usr", "share")
    res["systemd", "size docs"].add(sum(size_of(os.path.join(share, d)) for d in ("doc", "man", "locale", "info")
                                        if os.path.isdir(os.path.join(share, d))))


def systemd_build_round(ctx, work, n, res):
    """debootstrap, configuration and images from nothing, with a new, empty
    package cache (cold), then again with that cache (warm: debootstrap
    takes the .debs from it): seconds in res["systemd", KIND], the
    debootstrap part in res["systemd", KIND + " debootstrap"], the rest as
    amphi_build_round."""
    cache, kver = os.path.join(work, f"debs-{n}"), sc._kver()
    os.makedirs(cache)
    try:
        for kind in ("cold", "warm"):
            out = os.path.join(work, f"systemd-{n}-{kind}")
            os.makedirs(out)
            rest = {}

            def then(tree):
                t0 = time.monotonic()
                sc.configure(tree, kver, FLAVOUR)
                systemd_images(tree, out, ctx.say)
                rest["s"] = time.monotonic() - t0
                if kind == "cold":
                    systemd_sizes(tree, out, res)

            rx = rx_bytes()
            try:
                secs = sc.time_debootstrap(ctx.out, ctx.say, f"{kind}-{n}", FLAVOUR, cache, then)
            except (sc.Unavailable, NA, OSError) as e:
                res["systemd", kind].fail(e)
                return
            finally:
                shutil.rmtree(out, ignore_errors=True)
            res["systemd", kind].add(secs + rest["s"])
            res["systemd", kind + " debootstrap"].add(secs)
            res["systemd", kind + " rx"].add(rx_bytes() - rx)
    finally:
        shutil.rmtree(cache, ignore_errors=True)


# ---- boots: LXC and QEMU ----------------------------------------------------------

# Bounds, not measurements: past them a round counts as failed and says so.
LXC_ANSWER_S = 60
VM_ANSWER_S = 240  # systemd under TCG on a loaded 2-core host
STOP_S = 60


def console_tail(path):
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.fstat(f.fileno()).st_size - 300))
            return extras.short(f.read().decode(errors="replace"), 200)
    except OSError:
        return "(no console log)"


def lxc_boot(ctx, who, config, net, work, res):
    """One container on the namespace's bridge: lxc-start → nginx's first
    answer with the page (ms), PID 1's VmRSS 1 s later (host's /proc),
    lxc-stop → stopped (ms)."""
    mac, ip = LXC_ADDR[who]
    ct = extras.unique(f"nginx-{who}")
    log = os.path.join(work, ct + ".console")
    # amphi's config is the build's, as it is; the MAC comes with -s.
    defines = ["-s", f"lxc.net.0.hwaddr={mac}"] if who == "amphi" else []
    poll = net.poller(ip, LXC_ANSWER_S)
    ctx.live.lxc_track(ct, work, net.ns)
    try:
        r = net.run("lxc-start", "-n", ct, "-P", work, "-f", config, "-d", "-L", log, *defines)
        if r["rc"] != 0:
            raise NA(f"lxc-start exited {r['rc']}: {extras.short(r['err'], 100)}")
        try:
            t1 = poller_result(ctx.live, poll, LXC_ANSWER_S)
        except NA as e:
            raise NA(f"{e}; console ends: {console_tail(log)}")
        res[who, "lxc answer"].add((t1 - r["t0"]) * 1000)
        time.sleep(1)
        res[who, "lxc rss"].add(extras.vmrss_kib(ctx.live.lxc_pid(ct)))
        r = net.run("lxc-stop", "-n", ct, "-P", work, "-t", STOP_S)
        if r["rc"] != 0:
            raise NA(f"lxc-stop -t {STOP_S} exited {r['rc']}: {extras.short(r['err'], 100)}")
        res[who, "lxc stop"].add((r["t1"] - r["t0"]) * 1000)
    finally:
        ctx.live.end(poll)
        ctx.live.lxc_kill([ct])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def vm_nic(netdev):
    """QEMU arguments for systemd's VM: its loader's launch has no NIC
    (-nic none); the same virtio-net amphi's launch gives, on netdev."""
    return ["-netdev", netdev + ",id=benchnet", "-device", "virtio-net-pci,netdev=benchnet"]


def vm_boot(ctx, who, d, work, res):
    """One QEMU boot under user networking with restrict=on and a loopback
    hostfwd to port 80: start → nginx's first answer with the page (ms),
    then the ACPI power button → QEMU's exit (ms)."""
    port = free_port()
    ports = os.path.join(work, extras.unique("ports"))
    os.makedirs(ports)
    serial, mon = os.path.join(work, extras.unique("serial")), os.path.join(work, extras.unique("mon"))
    netdev = f"user,restrict=on,hostfwd=tcp:127.0.0.1:{port}-:80"
    env = dict(os.environ, AMPHI_LOG_DIR=ports, AMPHI_ACCEL=os.environ.get("AMPHI_ACCEL", ""))
    args = ["-monitor", f"unix:{mon},server=on,wait=off", "-pidfile", mon + ".pid"]
    if who == "amphi":
        env["AMPHI_NETDEV"] = netdev
    else:
        args += vm_nic(netdev)
    q = None
    try:
        with open(serial, "wb") as out:
            t0 = time.monotonic()
            q = ctx.live.popen([os.path.join(d, "vm", "launch"), *args], stdout=out, stderr=subprocess.STDOUT, env=env)
        t1 = first_answer("127.0.0.1", port, page(), VM_ANSWER_S, 1.0, VM_READ_S, VM_PAUSE_S, q)
        if t1 is None:
            raise NA((f"QEMU exited {q.returncode}" if q.poll() is not None else f"no answer in {VM_ANSWER_S} s")
                     + f"; serial ends: {console_tail(serial)}")
        res[who, "vm answer"].add((t1 - t0) * 1000)
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(mon)
            p0 = time.monotonic()
            s.sendall(b"system_powerdown\n")
            try:
                q.wait(timeout=STOP_S)
            except subprocess.TimeoutExpired:
                raise NA(f"QEMU still ran {STOP_S} s after the power button")
        res[who, "vm off"].add((time.monotonic() - p0) * 1000)
    finally:
        if q is not None and q.poll() is None:
            q.kill()
        ctx.live.end(q)


def vm_rss(ctx, who, d, work, res):
    """PID 1's memory in the VM once nginx serves, as the guest reads it
    (smaps_rollup's Rss; its VmRSS beside it), from the contender's hook:
    systemd's memory unit of systemd_contender, amphi's probe service."""
    args = vm_nic("user,restrict=on") if who == "systemd" else []
    pidfile = os.path.join(work, extras.unique("qemu") + ".pid")
    rss, vmrss = extras.rss_vm_contender(ctx, who, d, work, args + ["-pidfile", pidfile])
    res[who, "vm rss"].add(rss)
    res[who, "vm vmrss"].add(vmrss)


# The VM's memory probe: recipes/nginx.conf and one more service that waits
# for nginx's page on 127.0.0.1, waits 1 s and prints PID 1's memory on the
# console, as the memory section's probe does (bench/extras.py). A build of
# its own: the measured appliance has no probe in it.
PROBE_SERVICE = """
# make bench (bench/appliance.py): PID 1's memory once nginx serves.
[service.rssprobe]
shell = yes
restart = no
exec = until wget -q -O /dev/null http://127.0.0.1/; do sleep 0.1; done; sleep 1; echo "rss-idle $(grep VmRSS /proc/1/status) $(grep ^Rss: /proc/1/smaps_rollup)" >/dev/console; exec sleep 100000
"""


def probe_build(ctx, d):
    """The probe's build into d, from a copy of the recipe and its folder."""
    src = d + "-recipe"
    shutil.rmtree(src, ignore_errors=True)
    shutil.copytree(SITE, os.path.join(src, "nginx"))
    with open(RECIPE) as f, open(os.path.join(src, "nginx.conf"), "w") as out:
        out.write(f.read() + PROBE_SERVICE)
    return build(ctx, os.path.join(src, "nginx.conf"), d, "with the memory probe")


def build(ctx, recipe, d, why):
    """An untimed amphi build into d (its log beside it), with progress."""
    sc.run_logged([ctx.amphi, "build", recipe, "-o", d], d + ".log", ctx.say,
                  f"nginx: amphi build {why} (not timed)")
    return d



# ---- the section ----------------------------------------------------------------

WHO = ("amphi", "systemd")


def attempt(res, who, keys, fn):
    """Runs one round's measurement; a failure goes to each of keys that got
    no value in it (one cell says why, and how many rounds failed)."""
    before = {k: res[who, k].n() for k in keys}
    try:
        fn()
    except (NA, sc.Unavailable, OSError, subprocess.SubprocessError) as e:
        for k in keys:
            if res[who, k].n() == before[k]:
                res[who, k].fail(e)


LXC_KEYS, VM_KEYS = ("lxc answer", "lxc rss", "lxc stop"), ("vm answer", "vm off")


def packages(root):
    """{package: installed size in KiB} of a Debian tree, from its dpkg status."""
    r = extras.sh("dpkg-query", f"--admindir={root}/var/lib/dpkg", "-W", "-f", "${Package}\t${Installed-Size}\n")
    return {p: int(k or 0) for p, k in (line.split("\t") for line in r.stdout.splitlines())}


def package_note(boot):
    """(amphi's, systemd's) cell: how many packages one tree has and the other
    not, with their installed size and the largest of them."""
    try:
        a = packages(os.path.join(boot["amphi"], "lxc", "rootfs"))
        b = packages(sc._paths(os.path.dirname(boot["systemd"]), FLAVOUR)["tree"])
    except (KeyError, NA) as e:
        return (f"n/a: {e}",) * 2
    said = []
    for mine, other in ((a, b), (b, a)):
        only = sorted(set(mine) - set(other), key=lambda p: -mine[p])
        said.append(f"{len(only)}, {sum(mine[p] for p in only) / 1000:.1f} MB"
                    + (f" ({', '.join(only[:4])}{', …' if len(only) > 4 else ''})" if only else ""))
    return tuple(said)


def measure(ctx, res, work, facts):
    """Every round of the section; what cannot run says why in res, what
    was found on the way in facts."""
    say, quick = ctx.say, ctx.quick
    build_rounds, lxc_rounds, vm_rounds = (1, ctx.rounds, 1) if quick else (3, ctx.rounds, 3)
    boot, probe = {}, {}
    try:
        boot["amphi"] = build(ctx, RECIPE, os.path.join(ctx.out, "nginx-amphi"), "for the boots")
        probe["amphi"] = probe_build(ctx, os.path.join(ctx.out, "nginx-amphi-probe"))
    except sc.Unavailable as e:
        for k in LXC_KEYS + VM_KEYS + ("vm rss",):
            res["amphi", k].fail(f"amphi build: {e}")
    try:
        _, d, _, info = sc.prepare(ctx.out, say, quick, FLAVOUR, check=False)
        boot["systemd"] = probe["systemd"] = d
        res["systemd", "size initramfs"].add(os.path.getsize(os.path.join(d, "loader", "vm", "initramfs.img")))
    except (sc.Unavailable, OSError) as e:
        for k in LXC_KEYS + VM_KEYS + ("vm rss",):
            res["systemd", k].fail(f"the systemd tree: {e}")
    if len(boot) == 2:
        facts["packages"] = package_note(boot)
    for i, order in rotations(list(WHO), build_rounds):
        for who in order:
            fn = amphi_build_round if who == "amphi" else systemd_build_round
            attempt(res, who, ("cold", "warm"), lambda: fn(ctx, work, i + 1, res))
        say(f"nginx: build round {i + 1}/{build_rounds} done")
    booted = [w for w in WHO if w in boot]
    with Network(ctx.live, work) as net:
        for i, order in rotations(booted, lxc_rounds) if booted else ():
            for who in order:
                attempt(res, who, LXC_KEYS,
                        lambda: lxc_boot(ctx, who, os.path.join(boot[who], "lxc", "config"), net, work, res))
            say(f"nginx: LXC round {i + 1}/{lxc_rounds} done")
    for i, order in rotations(booted, vm_rounds) if booted else ():
        for who in order:
            attempt(res, who, VM_KEYS, lambda: vm_boot(ctx, who, boot[who], work, res))
            if who in probe:
                attempt(res, who, ("vm rss",), lambda: vm_rss(ctx, who, probe[who], work, res))
        say(f"nginx: VM round {i + 1}/{vm_rounds} done")
    return build_rounds, lxc_rounds, vm_rounds


def run(ctx):
    """The section, a core.Section, as bench/extras.py's."""
    res, facts = Results(), {}
    remove_stale_runs()
    work = tempfile.mkdtemp(prefix=extras.unique("nginx") + "-")
    try:
        rounds = measure(ctx, res, work, facts)
    finally:
        ctx.live.cleanup()
        shutil.rmtree(work, ignore_errors=True)
    return render(ctx, res, rounds, facts)



def mb(v):
    return f"{v / 1e6:.1f}"


def secs(v):
    return f"{v:.1f}"


ms = integer
FORMAT = {"s": secs, "MB": mb, "ms": ms, "KiB": ms}

# The table's rows: key in res, what, unit, the aim that applies (AIMS),
# how it is measured.
ROWS = [
    ("cold", "build, cold", "s", None, "a new DIR and empty caches: every package downloaded"),
    ("warm", "build, warm", "s", "warm", "again into the same DIR (systemd: debootstrap from the cold --cache-dir)"),
    ("cold rx", "downloaded during a cold build", "MB", None, "bytes received by the host (/proc/net/dev, no lo)"),
    ("warm rx", "downloaded during a warm build", "MB", None, "as above"),
    ("cold debootstrap", "of it, debootstrap", "s", None, "the rest is systemd's configuration and images"),
    ("size vm", "VM root image", "MB", "half", "amphi DIR/vm/root.img; systemd its tree as SquashFS, no modules"),
    ("size lxc", "LXC rootfs", "MB", "half", "`du -sxb` of the tree lxc-start boots, no kernel modules"),
    ("size tar", "rootfs.tar.xz", "MB", "half", "for lxc-create -t local (systemd: tar, then `xz -1 -T2`)"),
    ("size lxd", "LXD image", "MB", "half", "lxd.tar.xz + rootfs.squashfs"),
    ("size initramfs", "VM initramfs", "MB", None, "systemd: its loader's (amphi-init doing root=)"),
    ("size disk", "VM disk as booted", "MB", None, "systemd's ext4 disk.img, every kernel module in it"),
    ("size docs", "docs, man pages, locales in the tree", "MB", None, "amphi's build leaves them out"),
    ("size modules", "kernel modules in the tree", "MB", None, "left out of every size above but the disk's"),
    ("lxc answer", "LXC: lxc-start → first answer", "ms", "below", "to the first GET / that returns the page"),
    ("lxc rss", "LXC: PID 1 VmRSS once serving", "KiB", None, "the host's /proc/PID/status, 1 s after it"),
    ("lxc stop", "LXC: lxc-stop", "ms", None, "`lxc-stop -t 60` until it returns"),
    ("vm answer", "QEMU: start → first answer", "ms", "below", "from vm/launch to the first GET / via hostfwd"),
    ("vm rss", "QEMU: PID 1 Rss once serving", "KiB", None, "/proc/1/smaps_rollup printed by a probe in the guest"),
    ("vm vmrss", "QEMU: the guest's VmRSS of PID 1", "KiB", None, "the same line's VmRSS (counted late)"),
    ("vm off", "QEMU: power button → exit", "ms", None, "`system_powerdown` on QEMU's monitor until QEMU exits"),
]


# The appliance's aims: the cell's words, and whether amphi's median a
# meets it against systemd's b.
AIMS = {"warm": ("≤ 5 s", lambda a, b: a <= 5),
        "half": ("≤ 0.5×", lambda a, b: a <= b / 2),
        "below": ("below systemd", lambda a, b: a < b)}


def aim_cell(kind, res, key):
    if kind is None:
        return "—"
    a, b = res["amphi", key].median(), res["systemd", key].median()
    if a is None or (b is None and kind != "warm"):
        return "n/a: no measurement"
    return f"{AIMS[kind][0]}: {'met' if AIMS[kind][1](a, b) else '**not met**'}"


def render(ctx, res, rounds, facts):
    build_rounds, lxc_rounds, vm_rounds = rounds
    accel = ctx.accel.upper()
    t = Table(["", "amphi", "systemd", "amphi / systemd", "aim", "how"],
              f"recipes/nginx.conf by `amphi build` against `debootstrap --include={FLAVOUR.include}` configured "
              f"to serve the same page; {build_rounds} build, {lxc_rounds} LXC and {vm_rounds} QEMU ({accel}) "
              "rounds, the two alternating; MB = 10⁶ bytes.")
    for key, what, unit, aim, how in ROWS:
        f = FORMAT[unit]
        cells = [res[w, key].cell(f) if res[w, key].vals or res[w, key].why else "—" for w in WHO]
        t.add(f"{what}, {unit}", *cells, res["amphi", key].over(res["systemd", key]) or "—",
              aim_cell(aim, res, key), how)
    t.add("packages only in this tree", *facts.get("packages", ("not compared", "not compared")), "—", "—",
          "installed size from each tree's dpkg status")
    charts = [
        {"name": "nginx-build", "title": "nginx appliance: build", "unit": "s",
         "bars": bars(*(res[w, k].bar(label=f"{w} {k}") for k in ("cold", "warm") for w in WHO))},
        {"name": "nginx-sizes", "title": "nginx appliance: sizes", "unit": "MB",
         "bars": bars(*(res[w, "size " + k].bar(1e-6, label=f"{w} {k}") for k in ("vm", "lxc", "tar", "lxd")
                        for w in WHO))},
        {"name": "nginx-lxc", "title": "nginx appliance in LXC: lxc-start → first answer", "unit": "ms",
         "bars": bars(*(res[w, "lxc answer"].bar(label=w) for w in WHO))},
        {"name": "nginx-vm", "title": f"nginx appliance under QEMU ({accel}): start → first answer", "unit": "ms",
         "bars": bars(*(res[w, "vm answer"].bar(label=w) for w in WHO))},
    ]
    return Section("A real appliance: nginx, amphi against systemd", [t], charts)


if __name__ == "__main__" and sys.argv[1:2] == ["--poll"]:
    poll_main(sys.argv[2:])
elif __name__ == "__main__" and sys.argv[1:2] == ["--run"]:
    run_main()
