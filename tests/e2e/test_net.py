"""Networking in both worlds: DHCP and static, the kernel's ip=, and what
LXC configured left alone. Traffic stays inside QEMU's restricted user
network or a network namespace this test creates."""

import http.client
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import LXC_TIMEOUT, RECIPES, Lxc, build, netns_exec, unique, build_fixture

HERE = os.path.dirname(__file__)


# ---- QEMU: -netdev user,restrict=on, whose DHCP hands out 10.0.2.15 ----

dhcp_build = build_fixture(os.path.join(HERE, "recipes", "net-dhcp.conf"))


def test_qemu_dhcp_address_and_resolv_conf(dhcp_build, qemu):
    launch = open(os.path.join(dhcp_build, "vm", "launch")).read()
    assert "user,restrict=on" in launch and "virtio-net-pci" in launch
    vm = qemu(dhcp_build)
    log = vm.wait(r"show: resolv: nameserver")
    assert "net: eth0 10.0.2.15/24 by DHCP" in log
    assert "show: addr: 10.0.2.15/24" in log
    assert "show: resolv: search amphi.test" in log
    assert "show: resolv: nameserver 10.0.2.3" in log
    # The service that needs the network started after it was configured,
    # and ready came after that.
    assert log.index("by DHCP") < log.index("service show: started") < log.index("amphi: ready")
    # At stop the DHCP client gives the lease back (udhcpc -R).
    vm.monitor("system_powerdown")
    log = vm.wait(r"all processes stopped in \d+ ms; power off")
    assert "dhcp-eth0: udhcpc: sending release" in log


def test_qemu_static_from_kernel_ip(dhcp_build, qemu):
    vm = qemu(dhcp_build, append="ip=10.0.2.20::10.0.2.2:255.255.255.0:guest1:eth0:off:10.0.2.3")
    log = vm.wait(r"show: resolv: nameserver")
    assert "show: addr: 10.0.2.20/24" in log
    assert "show: route: default via 10.0.2.2 dev eth0" in log
    assert "show: resolv: nameserver 10.0.2.3" in log
    assert "dhcp-eth0" not in log, "ip= replaces the recipe's DHCP on eth0"


web_build = build_fixture(os.path.join(RECIPES, "web.conf"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_qemu_the_web_recipe_serves_its_page_through_a_hostfwd(web_build, qemu):
    """recipes/web.conf as its comment says to reach it: QEMU's restricted
    user network with a forward from this host's loopback."""
    port = free_port()
    vm = qemu(web_build, env={"AMPHI_NETDEV": f"user,restrict=on,hostfwd=tcp:127.0.0.1:{port}-:8080"})
    log = vm.wait(r"amphi: ready env=qemu")
    assert "net: eth0 10.0.2.15/24 by DHCP" in log
    assert log.index("by DHCP") < log.index("service web: started")
    # "ready" comes once httpd is started, not once it listens: QEMU's
    # forward accepts, then resets while nothing listens in the guest yet.
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as page:
                assert page.read() == b"<h1>hello from web</h1>\n"
            break
        except (ConnectionResetError, http.client.RemoteDisconnected):
            assert time.monotonic() < deadline, "the page never came"
            time.sleep(0.2)
    vm.wait(r"web: .*response:200")  # httpd -v logs the request, as the nobody it runs as


# ---- LXC: a veth on a bridge inside a network namespace of our own ----

class NetNs:
    """A namespace with bridge br0 at 10.99.0.1/24 and busybox udhcpd on it."""

    def __init__(self, workdir):
        self.name = unique("amphi-e2e-ns")
        self.udhcpd = None
        self.sh(f"ip netns add {self.name}", ns=False)
        for cmd in ("ip link set lo up", "ip link add br0 type bridge",
                    "ip addr add 10.99.0.1/24 dev br0", "ip link set br0 up"):
            self.sh(cmd)
        conf = os.path.join(workdir, "udhcpd.conf")
        with open(conf, "w") as f:
            f.write(f"start 10.99.0.100\nend 10.99.0.110\ninterface br0\n"
                    f"lease_file {workdir}/udhcpd.leases\npidfile {workdir}/udhcpd.pid\n"
                    "option subnet 255.255.255.0\noption router 10.99.0.1\n"
                    "option dns 10.99.0.1\noption domain amphi.test\noption lease 600\n")
        open(os.path.join(workdir, "udhcpd.leases"), "w").close()
        self.udhcpd = subprocess.Popen(["ip", "netns", "exec", self.name, "busybox", "udhcpd", "-f", conf],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def sh(self, cmd, ns=True, check=True):
        argv = (["ip", "netns", "exec", self.name] if ns else []) + cmd.split()
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        if check and r.returncode != 0:
            raise AssertionError(f"{cmd}: {r.stderr}")
        return r

    def close(self):
        if self.udhcpd and self.udhcpd.poll() is None:
            self.udhcpd.kill()
            self.udhcpd.wait()
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)


class NsLxc(Lxc):
    """An Lxc whose tools run inside the namespace, so the veth's host end
    lands on its bridge (and the command socket is found there)."""

    def __init__(self, build_dir, workdir, ns):
        super().__init__(build_dir, workdir)
        self.ns = ns

    def lxc(self, tool, *args, timeout=LXC_TIMEOUT, check=True):
        argv = [*netns_exec(self.ns.name), tool, "-n", self.name, "-P", self.path, *args]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"{tool} {' '.join(args)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
        return r


@pytest.fixture
def netns(tmpdir_clean):
    ns = NetNs(tmpdir_clean)
    containers = []

    def container(recipe_text, extra_defines=()):
        recipe = os.path.join(tmpdir_clean, unique("recipe") + ".conf")
        with open(recipe, "w") as f:
            f.write(recipe_text)
        out = os.path.join(tmpdir_clean, unique("out"))
        build(recipe, out)
        ct = NsLxc(out, tmpdir_clean, ns)
        containers.append(ct)
        defines = [x for d in extra_defines for x in ("-s", d)]
        ct.lxc("lxc-start", "-d", "-f", ct.config, "-L", ct.console, *defines)
        return ct

    ns.container = container
    yield ns
    for ct in containers:
        ct.cleanup()
    ns.close()


def ipv4_of(ct):
    out = ct.attach("ip", "-4", "-o", "addr", "show", "dev", "eth0").stdout.split()
    return [w for w in out if "/" in w]


def test_lxc_dhcp_lease_and_ping_both_ways(netns):
    ct = netns.container("[image]\nname = lxcdhcp\n[network.eth0]\ndhcp = yes\nbridge = br0\n")
    log = ct.wait(r"amphi: ready env=lxc", timeout=60)
    assert "by DHCP via 10.99.0.1" in log
    addrs = ipv4_of(ct)
    assert len(addrs) == 1 and addrs[0].startswith("10.99.0.1") and addrs[0].endswith("/24"), addrs
    ip = addrs[0].split("/")[0]
    resolv = ct.attach("cat", "/etc/resolv.conf").stdout
    assert "nameserver 10.99.0.1" in resolv and "search amphi.test" in resolv
    assert ct.attach("ping", "-c", "1", "-W", "5", "10.99.0.1", check=False).returncode == 0
    assert netns.sh(f"busybox ping -c 1 -W 5 {ip}", check=False).returncode == 0
    # A renewal (udhcpc renews on USR1 as it would at half the lease) is
    # applied again and the address stays.
    # (The init runs it as /bin/busybox udhcpc: pidof sees busybox.)
    ct.attach("sh", "-c", "kill -USR1 $(ps -o pid,args | awk '/busybox [u]dhcpc/ { print $1 }')")
    ct.wait(r"by DHCP via 10.99.0.1", count=2)
    assert ipv4_of(ct) == addrs
    # The lease is given back at stop (udhcpc -R).
    ct.lxc("lxc-stop", "--nokill", "-t", "20")
    assert "dhcp-eth0: udhcpc: sending release" in open(ct.console).read()


def test_lxc_static_v4_v6_mtu_found_by_mac(netns):
    # The section is named lan; the interface is eth0 with this MAC (the
    # name overridden at lxc-start), and the init finds it by the MAC.
    ct = netns.container("[image]\nname = lxcstatic\n[network.lan]\nbridge = br0\nmac = 52:54:00:0a:99:50\n"
                         "address = 10.99.0.50/24, fd00:99::50/64\ngateway = 10.99.0.1\nmtu = 1400\n"
                         "dns = 10.99.0.1\nsearch = amphi.test\n", extra_defines=["lxc.net.0.name=eth0"])
    config = open(ct.config).read()
    assert "lxc.net.0.link = br0" in config and "lxc.net.0.hwaddr = 52:54:00:0a:99:50" in config
    ct.wait(r"amphi: ready env=lxc")
    assert ipv4_of(ct) == ["10.99.0.50/24"]
    v6 = ct.attach("ip", "-6", "-o", "addr", "show", "dev", "eth0").stdout
    assert "fd00:99::50/64" in v6, v6
    assert "mtu 1400" in ct.attach("ip", "link", "show", "dev", "eth0").stdout
    assert "default via 10.99.0.1" in ct.attach("ip", "route").stdout
    resolv = ct.attach("cat", "/etc/resolv.conf").stdout
    assert "nameserver 10.99.0.1" in resolv and "search amphi.test" in resolv
    assert netns.sh("busybox ping -c 1 -W 5 10.99.0.50", check=False).returncode == 0
    ct.lxc("lxc-stop", "--nokill", "-t", "20")


def test_lxc_preconfigured_address_is_left_alone(netns, tmpdir_clean):
    # LXC configures eth0 itself; the recipe names no eth0: amphi leaves it.
    ct = netns.container("[image]\nname = lxcpre\n[network.eth1]\ndhcp = no\n",
                         extra_defines=["lxc.net.0.type=veth", "lxc.net.0.link=br0", "lxc.net.0.name=eth0",
                                        "lxc.net.0.flags=up", "lxc.net.0.ipv4.address=10.99.0.60/24",
                                        "lxc.net.0.ipv4.gateway=10.99.0.1"])
    log = ct.wait(r"amphi: ready env=lxc")
    assert "net: eth0 was configured by the container manager; left as it is" in log
    assert "net: no interface eth1; going on without it" in log
    assert ipv4_of(ct) == ["10.99.0.60/24"]
    assert "default via 10.99.0.1" in ct.attach("ip", "route").stdout
    assert netns.sh("busybox ping -c 1 -W 5 10.99.0.60", check=False).returncode == 0
    ct.lxc("lxc-stop", "--nokill", "-t", "20")


def test_lxc_the_web_recipe_serves_its_page_on_the_bridge(netns):
    """recipes/web.conf in a container, its bridge renamed to the test's."""
    text = open(os.path.join(RECIPES, "web.conf")).read()
    assert "bridge = lxcbr0\n" in text
    ct = netns.container(text.replace("bridge = lxcbr0\n", "bridge = br0\n"))
    ct.wait(r"amphi: ready env=lxc", timeout=60)
    ip = ipv4_of(ct)[0].split("/")[0]
    # (Python's client: the host's busybox wget dies of SIGSEGV here)
    fetch = f"import urllib.request; print(urllib.request.urlopen('http://{ip}:8080/', timeout=20).read().decode(), end='')"
    r = subprocess.run(["ip", "netns", "exec", netns.name, sys.executable, "-c", fetch],
                       capture_output=True, text=True, timeout=60)
    assert r.stdout == "<h1>hello from web</h1>\n", r.stderr
    assert "nobody" in ct.attach("ps", "-o", "user,args").stdout.split("httpd")[0].splitlines()[-1]
    ct.lxc("lxc-stop", "--nokill", "-t", "20")
