"""amphi build's tarballs: DIR/lxc/rootfs.tar.xz + meta.tar.xz for LXC's
`local` template, DIR/lxd/lxd.tar.xz + rootfs.squashfs for LXD. Reproducible, and they boot:
the LXC container runs in a network namespace of the test's own with an
lxcbr0 bridge (LXC's default network), as in test_template.py."""

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time

import pytest

from conftest import LXC_TIMEOUT, RECIPES, build, login_prompt_through, netns_exec, unique, wait_for, build_fixture
from confinement import assert_pid1_confined
from logfeed import reader

MINIMAL = os.path.join(RECIPES, "minimal.conf")


tarball_build = build_fixture(MINIMAL)


def in_ns(ns, *cmd):
    return subprocess.run([*netns_exec(ns), *cmd], capture_output=True, text=True, timeout=LXC_TIMEOUT + 30)


def eth0_ipv4(ns, name, lxcpath):
    """eth0's IPv4 address/prefix inside the container, or None."""
    r = in_ns(ns, "lxc-attach", "-n", name, "-P", lxcpath, "--clear-env", "--", "ip", "-4", "-o", "addr", "show", "dev", "eth0")
    assert r.returncode == 0, r.stdout + r.stderr
    m = re.search(r"inet (\S+)", r.stdout)
    return m.group(1) if m else None


@contextlib.contextmanager
def local_container(ns, built, tmpdir):
    """lxc-create -t local from a build's tarballs under a unique name,
    started in the namespace; yields (name, lxcpath, create output,
    console log) and stops and destroys it afterwards, pass or fail."""
    name = unique("amphi-e2e-tarnet")
    lxcpath = os.path.join(tmpdir, "lxc")
    os.makedirs(lxcpath)
    r = subprocess.run(["lxc-create", "-t", "local", "-n", name, "-P", lxcpath, "--",
                        "--metadata", os.path.join(built, "lxc", "meta.tar.xz"),
                        "--fstree", os.path.join(built, "lxc", "rootfs.tar.xz")],
                       capture_output=True, text=True, timeout=120)
    try:
        assert r.returncode == 0, r.stdout + r.stderr
        s = in_ns(ns, "lxc-start", "-n", name, "-P", lxcpath)
        assert s.returncode == 0, s.stderr
        console_log = os.path.join(lxcpath, name, "console.log")
        wait_for(console_log, r"amphi: ready env=lxc", LXC_TIMEOUT)
        yield name, lxcpath, r.stdout, console_log
    finally:
        in_ns(ns, "lxc-stop", "-k", "-n", name, "-P", lxcpath)
        subprocess.run(["lxc-destroy", "-n", name, "-P", lxcpath], capture_output=True)


NEEDS_NETWORK = """[image]
name = tarnet
[service.show]
needs = network
shell = yes
exec = echo "addr: $(ip -4 -o addr show dev eth0 | awk '{print $4}')"; exec sleep 100000
"""

OPT_OUT = """[image]
name = tarquiet
# LXC's interfaces stay as LXC made them: no DHCP without an address.
[network]
unnamed = none
"""


@pytest.fixture
def built_recipe(tmpdir_clean):
    def make(text):
        path = os.path.join(tmpdir_clean, unique("recipe") + ".conf")
        with open(path, "w") as f:
            f.write(text)
        out = os.path.join(tmpdir_clean, unique("out"))
        build(path, out)
        return out
    return make


def test_local_tarballs_dhcp_default_holds_services_that_need_the_network(built_recipe, ns_lxcbr0, tmpdir_clean):
    built = built_recipe(NEEDS_NETWORK)
    with local_container(ns_lxcbr0, built, tmpdir_clean) as (name, lxcpath, created, console_log):
        log = wait_for(console_log, r"show: addr: 10\.0\.3\.1\d\d/24", LXC_TIMEOUT)
        # The service waited for the lease on the interface nobody named.
        assert log.index("by DHCP via 10.0.3.1") < log.index("service show: started") < log.index("amphi: ready"), log
        ip = eth0_ipv4(ns_lxcbr0, name, lxcpath)
        ping = in_ns(ns_lxcbr0, "busybox", "ping", "-c", "1", "-W", "5", ip.split("/")[0])
        assert ping.returncode == 0, ping.stdout + ping.stderr


def test_local_tarballs_unnamed_none_leaves_eth0_without_address_or_dhcp(built_recipe, ns_lxcbr0, tmpdir_clean):
    built = built_recipe(OPT_OUT)
    with local_container(ns_lxcbr0, built, tmpdir_clean) as (name, lxcpath, created, console_log):
        assert "keeps what LXC gives it and asks no DHCP\n                     ([network] unnamed = none)" in created
        log = open(console_log).read()
        assert ("net: eth0: no address from the container manager and no [network.eth0]; left without one "
                "([network] unnamed = none)") in log, log
        assert "dhcp-eth0" not in log and "asking DHCP" not in log
        assert eth0_ipv4(ns_lxcbr0, name, lxcpath) is None
        # by its command line: the init runs it as /bin/busybox udhcpc
        found = in_ns(ns_lxcbr0, "lxc-attach", "-n", name, "-P", lxcpath, "--clear-env", "--", "sh", "-c",
                      "ps -o pid,args | grep '[u]dhcpc'")
        assert found.returncode == 1 and not found.stdout.strip(), found.stdout


def test_two_builds_give_identical_tarballs(tarball_build, tmpdir_clean):
    other = os.path.join(tmpdir_clean, "again")
    build(MINIMAL, other)
    for rel in ("lxc/rootfs.tar.xz", "lxc/meta.tar.xz", "lxd/lxd.tar.xz", "lxd/rootfs.squashfs"):
        with open(os.path.join(tarball_build, rel), "rb") as a, open(os.path.join(other, rel), "rb") as b:
            assert a.read() == b.read(), f"{rel} differs between two builds"
    assert not os.path.exists(os.path.join(other, "lxc", ".tarball-tree"))


def test_rootfs_tarball_is_the_lxc_tree(tarball_build):
    with tarfile.open(os.path.join(tarball_build, "lxc", "rootfs.tar.xz")) as t:
        members = t.getmembers()
    names = [m.name for m in members]
    assert names == sorted(names)
    assert all(m.uid == 0 and m.gid == 0 and m.mtime == 0 for m in members)
    rootfs = os.path.join(tarball_build, "lxc", "rootfs")
    on_disk = set()
    for top, dirs, files in os.walk(rootfs):
        for n in dirs + files:
            on_disk.add(os.path.relpath(os.path.join(top, n), rootfs))
    # lxc-local fills in the next steps (named in meta's templates file).
    assert set(names) == on_disk | {"etc/amphi/next-steps.txt"}
    modes = {m.name: m.mode for m in members}
    assert modes["tmp"] == 0o1777 and modes["etc/shadow"] == 0o600 and modes["sbin/init"] == 0o755


def test_meta_and_lxd_metadata(tarball_build):
    with tarfile.open(os.path.join(tarball_build, "lxc", "meta.tar.xz")) as t:
        assert sorted(t.getnames()) == ["config", "config-user", "create-message", "templates"]
        assert t.extractfile("templates").read() == b"etc/amphi/next-steps.txt\n"
        config = t.extractfile("config").read().decode()
        config_user = t.extractfile("config-user").read().decode()
    assert "lxc.console.logfile = LXC_PATH/console.log" in config
    assert "lxc.mount.entry = LXC_PATH/host var/lib/amphi/host" in config
    # LXC's confinement, from where lxc-local says LXC keeps it; in a user
    # namespace (lxc-local takes config-user there) with userns.conf too.
    common, userns = "lxc.include = LXC_TEMPLATE_CONFIG/common.conf\n", "lxc.include = LXC_TEMPLATE_CONFIG/userns.conf\n"
    assert common in config and userns not in config
    assert config_user == config.replace(common, common + userns)
    with tarfile.open(os.path.join(tarball_build, "lxd", "lxd.tar.xz")) as t:
        assert t.getnames() == ["metadata.yaml"]
        meta = t.extractfile("metadata.yaml").read().decode()
    # The rootfs: the tree as SquashFS, owners and modes as in the LXC tree.
    listing = subprocess.run(["unsquashfs", "-lln", os.path.join(tarball_build, "lxd", "rootfs.squashfs")],
                             capture_output=True, text=True, check=True).stdout
    assert re.search(r"^-rwxr-xr-x 0/0 .* squashfs-root/sbin/init$", listing, re.M), listing[:2000]
    assert re.search(r"^-rw------- 0/0 .* squashfs-root/etc/shadow$", listing, re.M)
    assert "next-steps" not in listing
    assert "architecture: x86_64\n" in meta and "creation_date: 1\n" in meta and "name: minimal" in meta


def test_lxc_create_local_starts_stops_and_destroys(tarball_build, ns_lxcbr0, tmpdir_clean):
    name = unique("amphi-e2e-tarct")
    lxcpath = os.path.join(tmpdir_clean, "lxc")
    os.makedirs(lxcpath)
    r = subprocess.run(["lxc-create", "-t", "local", "-n", name, "-P", lxcpath, "--",
                        "--metadata", os.path.join(tarball_build, "lxc", "meta.tar.xz"),
                        "--fstree", os.path.join(tarball_build, "lxc", "rootfs.tar.xz")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "amphi appliance 'minimal' is created" in r.stdout and "lxc-start -n NAME" in r.stdout
    assert "takes an address by DHCP where LXC gives it none" in r.stdout, r.stdout
    ctdir = os.path.join(lxcpath, name)
    # The next steps, filled in for this container by lxc-local.
    steps = open(os.path.join(ctdir, "rootfs", "etc", "amphi", "next-steps.txt")).read()
    assert f"as container {name} in {ctdir}." in steps
    assert f"lxc-start -n {name}\n" in steps and f"{ctdir}/rootfs/etc/amphi/recipe.conf" in steps
    assert "LXC_" not in steps
    fifo_hint = re.search(r"^\s+(mkdir -p \S+; mkfifo \S+) \(at any time\), then\n\s+(cat \S+) shows", steps, re.M)
    assert fifo_hint, steps
    reader = None
    try:
        # Without amphi on the host: the FIFO and cat, as the steps say.
        assert subprocess.run(["sh", "-c", fifo_hint.group(1)]).returncode == 0
        # Its own process group: cat, timeout's child, goes with it.
        reader = subprocess.Popen(["sh", "-c", "exec timeout 60 " + fifo_hint.group(2)],
                                  stdout=subprocess.PIPE, text=True, start_new_session=True)
        s = in_ns(ns_lxcbr0, "lxc-start", "-n", name, "-P", lxcpath)
        assert s.returncode == 0, s.stderr
        console_log = os.path.join(ctdir, "console.log")
        wait_for(console_log, r"amphi: ready env=lxc", LXC_TIMEOUT)
        line = ""
        while "amphi:ready env=lxc" not in line:  # Anaconda's layout: program:message
            line = reader.stdout.readline()
            assert line, "the FIFO ended before the ready line"
        assert re.match(r"\d\d:\d\d:\d\d,\d{3} INFO amphi:ready env=lxc", line), line
        # LXC's default veth on lxcbr0 and no [network.eth0]: DHCP, as in
        # any distribution's container, and it answers from the bridge.
        log = open(console_log).read()
        assert "net: eth0: no address from the container manager and no [network.eth0]; asking DHCP" in log, log
        ip = eth0_ipv4(ns_lxcbr0, name, lxcpath)
        assert re.fullmatch(r"10\.0\.3\.1\d\d/24", ip or ""), ip
        ping = in_ns(ns_lxcbr0, "busybox", "ping", "-c", "1", "-W", "5", ip.split("/")[0])
        assert ping.returncode == 0, ping.stdout + ping.stderr
        assert login_prompt_through(ns_lxcbr0, f"lxc-console -n {name} -P {lxcpath} -t 1")
        assert_pid1_confined(int(in_ns(ns_lxcbr0, "lxc-info", "-n", name, "-P", lxcpath, "-p", "-H").stdout))
        # The host side of the log stream, in the container's own directory.
        deadline = time.monotonic() + 10
        sock = os.path.join(ctdir, "host", "amphi.sock")
        while not os.path.exists(sock) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert os.path.exists(sock)
        assert in_ns(ns_lxcbr0, "lxc-stop", "-n", name, "-P", lxcpath).returncode == 0
        state = in_ns(ns_lxcbr0, "lxc-info", "-n", name, "-P", lxcpath, "-s", "-H").stdout.strip()
        assert state == "STOPPED"
    finally:
        if reader:
            os.killpg(reader.pid, signal.SIGKILL)
            reader.communicate()
        in_ns(ns_lxcbr0, "lxc-stop", "-k", "-n", name, "-P", lxcpath)
        subprocess.run(["lxc-destroy", "-n", name, "-P", lxcpath], capture_output=True)
    assert not os.path.exists(ctdir)


def lxd_client(env, *args, timeout=120, check=True):
    r = subprocess.run(["lxc", *args], capture_output=True, text=True, env=env, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"lxc {' '.join(args)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r


PRESEED = """storage_pools:
- name: default
  driver: dir
profiles:
- name: default
  devices:
    root:
      path: /
      pool: default
      type: disk
"""


def lxd_root_ids(env, ct):
    """The host uid and gid LXD maps the container's root to (LXD
    containers are unprivileged: ids shifted by a range from /etc/subuid)."""
    idmap = json.loads(lxd_client(env, "config", "get", ct, "volatile.idmap.next").stdout)
    uid = next(m["Hostid"] for m in idmap if m["Isuid"] and m["Nsid"] == 0)
    gid = next(m["Hostid"] for m in idmap if m["Isgid"] and m["Nsid"] == 0)
    return uid, gid


@contextlib.contextmanager
def lxd_daemon():
    """An LXD daemon of the test's own (a private LXD_DIR, a dir storage
    pool, no network), shut down and removed afterwards; yields the
    environment its client needs."""
    # A short private LXD_DIR: its unix socket path must stay under 108 bytes.
    lxd_dir = tempfile.mkdtemp(prefix="amphi-lxd-")
    env = dict(os.environ, LXD_DIR=lxd_dir)
    daemon = subprocess.Popen(["lxd", "--group", "root", f"--logfile={lxd_dir}/lxd.log"], env=env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        subprocess.run(["lxd", "waitready", "--timeout=60"], env=env, check=True, timeout=90)
        subprocess.run(["lxd", "init", "--preseed"], input=PRESEED, text=True, env=env, check=True, timeout=60)
        yield env
    finally:
        subprocess.run(["lxd", "shutdown", "--timeout=60"], env=env, capture_output=True, timeout=90)
        if daemon.poll() is None:
            daemon.kill()
        daemon.wait()
        shutil.rmtree(lxd_dir, ignore_errors=True)


def test_lxd_image_imports_launches_streams_logs_and_stops(tarball_build, tmpdir_clean):
    ct = unique("amphi-e2e-lxd").replace("_", "-")
    alias = unique("amphi-e2e-img")
    host = os.path.join(tmpdir_clean, "host")
    os.makedirs(host)
    with lxd_daemon() as env:
        try:
            lxd_client(env, "image", "import", os.path.join(tarball_build, "lxd", "lxd.tar.xz"),
                       os.path.join(tarball_build, "lxd", "rootfs.squashfs"), "--alias", alias)
            assert "amphi appliance minimal" in lxd_client(env, "image", "info", alias).stdout
            # The log directory on the host, as a disk device at the path the
            # init serves its stream in, owned by the container's root.
            lxd_client(env, "init", alias, ct)
            os.chown(host, *lxd_root_ids(env, ct))
            lxd_client(env, "config", "device", "add", ct, "amphi-host", "disk", f"source={host}",
                       "path=/var/lib/amphi/host")
            lxd_client(env, "start", ct)
            sock = os.path.join(host, "amphi.sock")
            deadline = time.monotonic() + LXC_TIMEOUT
            while not os.path.exists(sock) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert os.path.exists(sock), "the init made no socket in the host directory"
            with reader(tmpdir_clean, "--connect", sock, "--json") as r:
                r.wait_stdout(b"ready env=lxc", timeout=LXC_TIMEOUT)
                # LXD's own confinement (the image carries no LXC config): a user
                # namespace and its seccomp policy; the init made the host
                # directory nosuid,nodev,noexec, which a disk device cannot ask.
                pid = int(lxd_client(env, "list", ct, "-c", "p", "--format", "csv").stdout)
                assert open(f"/proc/{pid}/uid_map").read().split()[:2] == ["0", str(lxd_root_ids(env, ct)[0])]
                assert re.search(r"Seccomp:\s*2\b", open(f"/proc/{pid}/status").read())
                mount = [l for l in open(f"/proc/{pid}/mountinfo") if " /var/lib/amphi/host " in l]
                assert len(mount) == 1 and {"nosuid", "nodev", "noexec"} <= set(mount[0].split()[5].split(",")), mount
                # LXD's stop: SIGPWR to PID 1, which stops and halts.
                lxd_client(env, "stop", ct, timeout=90)
                assert r.wait(timeout=30) == 0, r.stderr
                out = r.stdout.decode()
            recs = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
            assert [x["seq"] for x in recs] == list(range(1, len(recs) + 1)), "every record, in order"
            # The init's last words reach the host before it goes down.
            assert re.fullmatch(r"all processes stopped in \d+ ms; (power off|halt)", recs[-1]["msg"]), out[-2000:]
            assert lxd_client(env, "list", ct, "-c", "s", "--format", "csv").stdout.strip() == "STOPPED"
            log = lxd_client(env, "console", ct, "--show-log").stdout
            assert "amphi: ready env=lxc" in log, log[-3000:]
        finally:
            lxd_client(env, "delete", "-f", ct, check=False)
            lxd_client(env, "image", "delete", alias, check=False)
