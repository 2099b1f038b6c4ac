"""The next-steps note that lxc-start fails while lxcbr0 is not up
and that `/usr/libexec/lxc/lxc-net start` makes it, followed word for word.

lxc-net changes the network of whatever runs it and writes under /run/lxc
and /var/lib/misc, so here it runs in a network namespace the test makes
(`ip netns add`) and a private mount namespace inside it with tmpfs over
/run/lxc (network_up, dnsmasq.pid, LXC's locks), /var/lib/misc (dnsmasq's
leases) and /var/lib/lxc (LXC's default lxcpath, so the hints need no -P).
Its nft rules, ip_forward and dnsmasq are all the namespace's; the host's
own network and files are checked unchanged at the end. Every command the
test runs there goes through nsenter into both namespaces of one holder
process the test started.

The acceptance check: create from the template and from the tarballs,
follow the hints, get a login prompt, a network (an address from lxc-net's
dnsmasq, ping from the bridge) and the logs in the host directory the hint
names."""

import contextlib
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import time

import pytest

from conftest import AMPHI, BUILD, LXC_TIMEOUT, RECIPES, build_fixture, netns_exec, unique, wait_for

TEMPLATE = os.path.join(BUILD, "lxc-amphi")
MINIMAL = os.path.join(RECIPES, "minimal.conf")
LXC_NET = "/usr/libexec/lxc/lxc-net"
# lxc-net's state and LXC's default lxcpath: tmpfs in the test's mount namespace.
PRIVATE = ("/run/lxc", "/var/lib/misc", "/var/lib/lxc")

tarball_build = build_fixture(MINIMAL)


def need(ok, what):
    if not ok:
        pytest.fail(f"{what}; run make deps (it installs lxc, dnsmasq-base and nftables)")


class Sandbox:
    """One process (sleep) in a network namespace of the test's own and a
    private mount namespace below it; `run` executes a shell command in
    both, as a user would on a host of that network and those files."""

    def __init__(self):
        self.netns = unique("amphi-e2e-lxcnet")
        self.holder = None

    def start(self):
        subprocess.run(["ip", "netns", "add", self.netns], check=True)
        mounts = " && ".join(f"mount -t tmpfs -o mode=0755 amphi-e2e {d}" for d in PRIVATE)
        # ip netns exec and unshare exec, and sh execs sleep: the Popen's PID is the holder.
        self.holder = subprocess.Popen(
            [*netns_exec(self.netns), "unshare", "-m", "--propagation", "private",
             "sh", "-c", f"{mounts} && echo ready && exec sleep 100000"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        r, _, _ = select.select([self.holder.stdout], [], [], 20)
        line = self.holder.stdout.readline() if r else b""
        assert line == b"ready\n", f"the namespaces were not made: {line!r}"
        # It is in the test's netns and not in the host's mount namespace.
        assert os.stat(f"/proc/{self.pid}/ns/net").st_ino == os.stat(f"/run/netns/{self.netns}").st_ino
        assert os.stat(f"/proc/{self.pid}/ns/mnt").st_ino != os.stat("/proc/self/ns/mnt").st_ino

    @property
    def pid(self):
        return self.holder.pid

    def argv(self, cmd):
        return ["nsenter", "-t", str(self.pid), "-m", "-n", "sh", "-c", cmd]

    def run(self, cmd, timeout=LXC_TIMEOUT + 30):
        return subprocess.run(self.argv(cmd), capture_output=True, text=True, timeout=timeout)

    def path(self, p):
        """A path as the namespace sees it, from the host's side."""
        return f"/proc/{self.pid}/root{p}"

    def dnsmasq_pid(self):
        """The PID in lxc-net's pid file, if that process still runs in the
        test's netns as dnsmasq (not a zombie, not a reused PID)."""
        try:
            pid = int(open(self.path("/run/lxc/dnsmasq.pid")).read().strip())
        except (OSError, ValueError):
            return self.dnsmasq_seen
        self.dnsmasq_seen = pid
        return pid

    dnsmasq_seen = None

    def dnsmasq_alive(self, pid):
        try:
            stat = open(f"/proc/{pid}/stat").read()
            same_net = os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat(f"/run/netns/{self.netns}").st_ino
        except OSError:
            return False
        return "(dnsmasq)" in stat and stat.rsplit(")", 1)[1].split()[0] != "Z" and same_net

    def cleanup(self, names):
        if self.holder is None:
            subprocess.run(["ip", "netns", "del", self.netns], capture_output=True)
            return
        try:
            if self.holder.poll() is None:
                for name in names:
                    self.run(f"lxc-stop -k -n {name}")
                    self.run(f"lxc-destroy -n {name}")
                pid = self.dnsmasq_pid()
                if os.path.exists(self.path("/run/lxc/network_up")):
                    self.run(f"{LXC_NET} stop")
                # lxc-net stop kills it by its pid file; if it did not, by that PID here.
                if pid and self.dnsmasq_alive(pid):
                    os.kill(pid, signal.SIGKILL)
        finally:
            if self.holder.poll() is None:
                self.holder.kill()
            self.holder.wait()
            self.holder.stdout.close()
            subprocess.run(["ip", "netns", "del", self.netns], capture_output=True)


def hints(text):
    """The commands a next-steps text prints, by what they are for."""
    found = {}
    for key, rx in (("start", r"start it:\s+(.+)"),
                    ("console", r"its login prompt:\s+(lxc-console .+?)\s{2,}\("),
                    ("attach", r"a shell inside:\s+(.+)"),
                    ("logdir", r"its logs:\s+(\S+)/amphi\.sock, followed with"),
                    ("logs", r"^\s+(\S*amphi logs --connect .+)$"),
                    ("stop", r"stop it:\s+(lxc-stop .+?)\s{2,}restart"),
                    ("lxcnet", r"(?:lxc-net makes it, with DHCP:|lxc-net makes lxcbr0:\n)\s*(\S.*)$")):
        m = re.search(rx, text, re.M)
        assert m, f"no {key} hint in:\n{text}"
        found[key] = m.group(1).strip()
    return found


def login_prompt(sandbox, console_cmd):
    """The printed lxc-console on a pty in the namespaces: Enter until a
    login prompt shows, then Ctrl-a q (as the hint says) ends it."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp("nsenter", sandbox.argv(console_cmd))
    seen = b""
    try:
        deadline, poked = time.monotonic() + 20, 0
        while b"login:" not in seen:
            assert time.monotonic() < deadline, f"no login prompt on {console_cmd!r}:\n{seen[-2000:]!r}"
            if time.monotonic() > poked + 1:
                os.write(fd, b"\r")
                poked = time.monotonic()
            if select.select([fd], [], [], 0.2)[0]:
                try:
                    seen += os.read(fd, 4096)
                except OSError:
                    raise AssertionError(f"{console_cmd!r} ended:\n{seen[-2000:]!r}")
        os.write(fd, b"\x01q")
        deadline = time.monotonic() + 10
        while os.waitpid(pid, os.WNOHANG)[0] != pid:
            assert time.monotonic() < deadline, f"Ctrl-a q did not end {console_cmd!r}"
            time.sleep(0.05)
        pid = None
    finally:
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)
    return seen


def host_state(names):
    """What lxc-net (and LXC in its default lxcpath) would change on the
    host if they ran there; only what is the test's, since other tests
    may run beside it."""
    nft = subprocess.run(["nft", "list", "ruleset"], capture_output=True, text=True).stdout
    return {"ip_forward": open("/proc/sys/net/ipv4/ip_forward").read(),
            "lxcbr0": os.path.exists("/sys/class/net/lxcbr0"),
            "nft": nft,
            "state": [p for p in ("/run/lxc/network_up", "/run/lxc/dnsmasq.pid",
                                  "/var/lib/misc/dnsmasq.lxcbr0.leases") if os.path.exists(p)],
            "containers": [n for n in names if os.path.exists(os.path.join("/var/lib/lxc", n))]}


@contextlib.contextmanager
def lxcnet_sandbox(names):
    sb = Sandbox()
    try:
        sb.start()
        yield sb
    finally:
        sb.cleanup(names)


def test_lxcnet_hint_followed_word_for_word_gives_bridge_dhcp_console_and_logs(tarball_build):
    for tool in ("lxc-create", "lxc-start", "nsenter", "unshare", "dnsmasq"):
        need(shutil.which(tool), f"{tool} is not installed")
    need(os.access(LXC_NET, os.X_OK), f"{LXC_NET} is missing (package lxc)")
    need(shutil.which("nft") or shutil.which("iptables"), "lxc-net needs nft or iptables, neither is installed")
    tpl, tar = unique("amphi-e2e-lxcnet-tpl"), unique("amphi-e2e-lxcnet-tar")
    before = host_state([tpl, tar])
    with lxcnet_sandbox([tpl, tar]) as sb:
        assert sb.run("ls /sys/class/net").stdout.split() == ["lo"], "the namespace starts without lxcbr0"
        # Created as the README says, in LXC's default lxcpath (the namespace's own).
        r = sb.run(f"lxc-create -t {TEMPLATE} -n {tpl} -- --recipe {MINIMAL}", timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        th = hints(r.stdout)
        assert "bridge lxcbr0 is not up on this host, and lxc-start fails until it is" in r.stdout, r.stdout
        r = sb.run(f"lxc-create -t local -n {tar} -- --metadata {tarball_build}/lxc/meta.tar.xz "
                   f"--fstree {tarball_build}/lxc/rootfs.tar.xz", timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        printed = hints(r.stdout)
        # lxc-local prints the message with NAME and LXCPATH; the copy in the rootfs is filled in.
        steps = open(sb.path(f"/var/lib/lxc/{tar}/rootfs/etc/amphi/next-steps.txt")).read()
        ah = hints(steps)
        assert printed["start"].replace("NAME", tar).replace(" [-P LXCPATH]", "") == ah["start"]
        assert printed["lxcnet"] == ah["lxcnet"] == th["lxcnet"], (printed["lxcnet"], ah["lxcnet"], th["lxcnet"])

        # The note's claim: without the bridge lxc-start fails, and leaves the container stopped.
        r = sb.run(th["start"])
        assert r.returncode != 0, "lxc-start succeeded without lxcbr0"
        assert sb.run(f"lxc-info -n {tpl} -s -H").stdout.strip() == "STOPPED"

        # The note's command, as printed.
        r = sb.run(th["lxcnet"])
        assert r.returncode == 0, r.stdout + r.stderr
        assert os.path.exists(sb.path("/run/lxc/network_up"))
        dnsmasq = sb.dnsmasq_pid()
        assert dnsmasq and sb.dnsmasq_alive(dnsmasq), "lxc-net started no dnsmasq in the namespace"
        addr = sb.run("ip -4 -o addr show dev lxcbr0").stdout
        assert re.search(r"inet 10\.0\.3\.1/24 ", addr), addr
        rules = sb.run("nft list ruleset").stdout
        assert "table inet lxc" in rules and "table ip lxc" in rules, rules

        for name, h in ((tpl, th), (tar, ah)):
            ctdir = f"/var/lib/lxc/{name}"
            r = sb.run(h["start"])
            assert r.returncode == 0, f"{h['start']}: {r.stdout}{r.stderr}"
            log = wait_for(sb.path(f"{ctdir}/console.log"), r"amphi: net: eth0 10\.0\.3\.\d+/24 by DHCP via 10\.0\.3\.1",
                           LXC_TIMEOUT)
            assert "net: eth0: no address from the container manager and no [network.eth0]; asking DHCP" in log, log
            wait_for(sb.path(f"{ctdir}/console.log"), r"amphi: ready env=lxc", LXC_TIMEOUT)
            # The address is one lxc-net's dnsmasq leased to this container's eth0.
            r = sb.run(h["attach"] + " -- ip -4 -o addr show dev eth0")
            m = re.search(r"inet (10\.0\.3\.(\d+))/24", r.stdout)
            assert m and 2 <= int(m.group(2)) <= 254, r.stdout + r.stderr
            ip = m.group(1)
            mac = sb.run(h["attach"] + " -- cat /sys/class/net/eth0/address").stdout.strip()
            leases = open(sb.path("/var/lib/misc/dnsmasq.lxcbr0.leases")).read()
            # ... under the container's own host name (not dnsmasq's "*" for none).
            uts = sb.run(h["attach"] + " -- cat /proc/sys/kernel/hostname").stdout.strip()
            assert uts and re.search(rf"^\d+ {re.escape(mac)} {re.escape(ip)} {re.escape(uts)} ", leases, re.M), \
                (mac, ip, uts, leases)
            ping = sb.run(f"busybox ping -c 1 -W 5 {ip}")
            assert ping.returncode == 0, ping.stdout + ping.stderr
            assert b"login:" in login_prompt(sb, h["console"])
            # The logs, in the host directory the hint names, through its command.
            assert h["logdir"] == f"{ctdir}/host", h["logdir"]
            assert os.path.exists(sb.path(f"{ctdir}/host/amphi.sock"))
            cmd = h["logs"]
            if cmd.startswith("amphi "):  # "(amphi: build/amphi in the amphi tree that built this appliance)"
                cmd = AMPHI + cmd[len("amphi"):]
            logs = subprocess.Popen(sb.argv(f"exec timeout 60 {cmd} --json"), stdout=subprocess.PIPE,
                                    stderr=subprocess.DEVNULL, text=True)
            try:
                got, deadline = [], time.monotonic() + 20
                while time.monotonic() < deadline and not any("ready env=lxc" in l for l in got):
                    line = logs.stdout.readline()
                    if not line:
                        break
                    got.append(line)
                assert any("ready env=lxc" in l for l in got), "".join(got)
                assert any("by DHCP via 10.0.3.1" in l for l in got), "".join(got)
            finally:
                logs.terminate()
                logs.communicate(timeout=10)

        # Down again: the stop hints, then lxc-net stop takes the bridge, rules and dnsmasq.
        for name, h in ((tpl, th), (tar, ah)):
            assert sb.run(h["stop"]).returncode == 0, h["stop"]
            assert sb.run(f"lxc-info -n {name} -s -H").stdout.strip() == "STOPPED"
        r = sb.run(f"{LXC_NET} stop")
        assert r.returncode == 0, r.stdout + r.stderr
        deadline = time.monotonic() + 10
        while sb.dnsmasq_alive(dnsmasq) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not sb.dnsmasq_alive(dnsmasq), "lxc-net stop left its dnsmasq running"
        assert sb.run("ls /sys/class/net").stdout.split() == ["lo"]
        assert "lxc" not in sb.run("nft list ruleset").stdout
        assert not os.path.exists(sb.path("/run/lxc/network_up"))
        for name in (tpl, tar):
            assert sb.run(f"lxc-destroy -n {name}").returncode == 0
            assert not os.path.exists(sb.path(f"/var/lib/lxc/{name}"))
    # None of it happened on the host.
    assert host_state([tpl, tar]) == before
