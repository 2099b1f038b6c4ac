"""vm/domain.xml: valid for libvirt's schema, and a real libvirtd boots it.

virtlogd and libvirtd are started by hand as HOST-SERVICES.md says, in a
mount and network namespace of their own: /etc/libvirt, /run and /var are
directories of the test's, so the daemons leave nothing on the host and
touch no network. They are stopped by PID."""

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET

import pytest

from conftest import BOOT_TIMEOUT, RECIPES, build, build_fixture, unique, wait_for
from logfeed import reader

MINIMAL = os.path.join(RECIPES, "minimal.conf")
ROOTED = "[image]\nname = rooted\nroot = squashfs\noverlay = disk\n\n[runtime]\ngetty = none\n"
DAEMON_TIMEOUT = 60  # libvirtd probes QEMU once at its first connection


@pytest.fixture(scope="module")
def lv_build():
    """The minimal build in a short directory: a unix socket's path (the
    log channels') must fit in 108 bytes."""
    d = tempfile.mkdtemp(prefix="amphi-lv-")
    out = os.path.join(d, "out")
    assert len(os.path.join(out, "vm", "anaconda.sock")) < 108, f"{d} is too long for a socket path; set TMPDIR"
    build(MINIMAL, out)
    yield out
    shutil.rmtree(d, ignore_errors=True)


# A root image with a data disk, in a short directory as lv_build.
lv_rooted_build = build_fixture(text=ROOTED, prefix="amphi-lv-")


def validate(path):
    r = subprocess.run(["virt-xml-validate", path, "domain"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_domain_xml_is_valid_and_names_the_build(lv_build):
    assert shutil.which("virt-xml-validate"), "virt-xml-validate is missing (package libvirt-clients; make deps installs it)"
    path = os.path.join(lv_build, "vm", "domain.xml")
    validate(path)
    dom = ET.parse(path).getroot()
    assert dom.get("type") == "qemu" and dom.findtext("name") == "minimal"
    assert dom.findtext("os/kernel") == os.path.join(lv_build, "vm", "vmlinuz")
    assert dom.findtext("os/initrd") == os.path.join(lv_build, "vm", "initramfs.img")
    assert dom.findtext("os/cmdline") == "console=ttyS0 panic=-1"
    assert dom.findtext("iothreads") == "1" and dom.find("features/acpi") is not None
    driver = dom.find("devices/disk/driver")
    assert (driver.get("cache"), driver.get("io"), driver.get("iothread")) == ("none", "native", "1")
    assert dom.find("devices/disk/source").get("file") == os.path.join(lv_build, "vm", "disk.img")
    channels = {c.find("target").get("name"): c.find("source") for c in dom.iter("channel")}
    assert {name: source.get("path") for name, source in channels.items() if source is not None} == \
        {"org.amphi.log.0": os.path.join(lv_build, "vm", "amphi.sock"),
         "org.fedoraproject.anaconda.log.0": os.path.join(lv_build, "vm", "anaconda.sock")}
    # The guest agent's: libvirt makes its socket, and talks to it itself.
    assert "org.qemu.guest_agent.0" in channels and channels["org.qemu.guest_agent.0"] is None
    assert dom.find("devices/interface") is None


def test_domain_xml_escapes_the_path_and_is_reproducible(tmpdir_clean):
    out = os.path.join(tmpdir_clean, "a'b&c<d>e\"f")
    path = os.path.join(out, "vm", "domain.xml")
    build(MINIMAL, out)
    first = open(path, "rb").read()
    build(MINIMAL, out)
    assert open(path, "rb").read() == first, "a rebuild writes the same bytes"
    validate(path)
    dom = ET.parse(path).getroot()
    assert dom.find("devices/disk/source").get("file") == os.path.join(out, "vm", "disk.img")
    assert dom.findtext("os/kernel") == os.path.join(out, "vm", "vmlinuz")


def test_domain_xml_of_a_root_image_puts_the_users_disk_first(lv_rooted_build):
    path = os.path.join(lv_rooted_build, "vm", "domain.xml")
    validate(path)
    dom = ET.parse(path).getroot()
    assert dom.findtext("iothreads") == "3"
    vm = os.path.join(lv_rooted_build, "vm")
    disks = [(d.find("target").get("dev"), d.find("source").get("file"), d.find("readonly") is not None,
              d.findtext("serial"), d.find("driver").get("iothread")) for d in dom.iter("disk")]
    assert disks == [("vda", os.path.join(vm, "disk.img"), False, None, "1"),
                     ("vdb", os.path.join(vm, "root.img"), True, "amphi-root", "2"),
                     ("vdc", os.path.join(vm, "data.img"), False, "amphi-data", "3")]


class Libvirtd:
    """virtlogd + libvirtd under base. Debian's qemu.conf and the
    libvirt-qemu user come with libvirt-daemon-system, which would bring
    systemd; so, in the daemons' namespace only: a qemu.conf running QEMU
    as root (stock settings re-probe QEMU for ~70 s per start, as /dev/kvm
    is root's) without cgroups, and copies of /etc/passwd and /etc/group
    with the libvirt-qemu user and group, which libvirtd resolves before it
    reads qemu.conf."""

    CONFIG = {
        "qemu.conf": 'user = "root"\ngroup = "root"\ncgroup_controllers = [ ]\n',
        "libvirtd.conf": ('unix_sock_rw_perms = "0700"\nauth_unix_rw = "none"\nauth_unix_ro = "none"\n'
                          'log_outputs = "3:file:/var/log/libvirt/libvirtd.log"\n'),
        "virtlogd.conf": 'log_outputs = "3:file:/var/log/libvirt/virtlogd.log"\n',
    }
    # $1 is base. mount(8) keeps its notes in /run/mount: the new /run.
    SCRIPT = ('set -e; for f in passwd group; do mount --bind "$1/$f" /etc/$f; done; '
              'mount --bind "$1/etc" /etc/libvirt; mount --bind "$1/run" /run; mount --bind "$1/var" /var; '
              'virtlogd -d -p "$1/virtlogd.pid"; exec libvirtd -d -p "$1/libvirtd.pid"')

    def __init__(self, base):
        self.base = base
        self.pids = {}
        self.uri = f"qemu:///system?socket={base}/run/libvirt/libvirt-sock"

    def _prepare(self):
        for d in ("etc", "run", "var/lib/libvirt", "var/log/libvirt", "var/cache/libvirt", "var/tmp"):
            os.makedirs(os.path.join(self.base, d))
        os.symlink("/run", os.path.join(self.base, "var/run"))
        for name, text in self.CONFIG.items():
            with open(os.path.join(self.base, "etc", name), "w") as f:
                f.write(text)
        ids = {int(l.split(":")[2]) for f in ("/etc/passwd", "/etc/group") for l in open(f) if l.count(":") >= 3}
        free = next(i for i in range(64055, 65000) if i not in ids)
        for name, extra in (("passwd", f"libvirt-qemu:x:{free}:{free}::/var/lib/libvirt:/usr/sbin/nologin\n"),
                            ("group", f"libvirt-qemu:x:{free}:\n")):
            text = open(f"/etc/{name}").read()
            with open(os.path.join(self.base, name), "w") as f:
                f.write(text if re.search(r"^libvirt-qemu:", text, re.M) else text + extra)

    def start(self):
        self._prepare()
        r = subprocess.run(["unshare", "--mount", "--net", "--propagation", "private",
                            "sh", "-c", self.SCRIPT, "sh", self.base], capture_output=True, text=True, timeout=60)
        for name in ("virtlogd", "libvirtd"):
            path = os.path.join(self.base, name + ".pid")
            if os.path.exists(path):
                self.pids[name] = int(open(path).read().strip())
        assert r.returncode == 0 and len(self.pids) == 2, f"starting the daemons: {r.stderr}\n{self.log()}"
        deadline = time.monotonic() + DAEMON_TIMEOUT
        while self.virsh("version", check=False).returncode != 0:
            assert self._alive(self.pids["libvirtd"]), f"libvirtd exited:\n{self.log()}"
            assert time.monotonic() < deadline, f"libvirtd did not answer in {DAEMON_TIMEOUT}s:\n{self.log()}"
            time.sleep(0.2)

    def virsh(self, *args, check=True):
        r = subprocess.run(["virsh", "-c", self.uri, *args], capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise AssertionError(f"virsh {' '.join(args)} failed ({r.returncode}): {r.stderr}\n{self.log()}")
        return r

    def log(self):
        logs = os.path.join(self.base, "var/log/libvirt")
        text = ""
        for root, _, files in os.walk(logs):
            for f in files:
                text += f"--- {f}\n" + open(os.path.join(root, f), errors="replace").read()[-2000:]
        return text

    @staticmethod
    def _alive(pid):
        """Not gone and not a zombie waiting for whoever adopted it."""
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] != "Z"
        except FileNotFoundError:
            return False

    def _stop(self, pid, timeout=15):
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + timeout
            while self._alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if not self._alive(pid):
                return

    def restart(self):
        """libvirtd alone, again, in the daemons' namespace (virtlogd's)."""
        self._stop(self.pids.pop("libvirtd"))
        if os.path.exists(os.path.join(self.base, "libvirtd.pid")):
            os.unlink(os.path.join(self.base, "libvirtd.pid"))
        subprocess.run(["nsenter", "-t", str(self.pids["virtlogd"]), "-m", "-n", "libvirtd", "-d", "-p",
                        os.path.join(self.base, "libvirtd.pid")], check=True, timeout=60)
        self.pids["libvirtd"] = int(open(os.path.join(self.base, "libvirtd.pid")).read().strip())
        deadline = time.monotonic() + DAEMON_TIMEOUT
        while self.virsh("version", check=False).returncode != 0:
            assert time.monotonic() < deadline, f"libvirtd did not come back:\n{self.log()}"
            time.sleep(0.2)

    def kill_guest(self, name):
        """A QEMU libvirtd could not destroy (libvirtd gone): by its PID."""
        path = os.path.join(self.base, "run/libvirt/qemu", name + ".pid")
        if os.path.exists(path):
            self._stop(int(open(path).read().strip()), timeout=5)

    def stop(self):
        # libvirtd first: it talks to virtlogd while it shuts down.
        for name in ("libvirtd", "virtlogd"):
            path = os.path.join(self.base, name + ".pid")
            if name not in self.pids and os.path.exists(path):
                self.pids[name] = int(open(path).read().strip())
            if name in self.pids:
                self._stop(self.pids[name])


@pytest.fixture
def libvirtd():
    base = tempfile.mkdtemp(prefix="amphi-lvd-")
    daemon = Libvirtd(base)
    try:
        yield daemon
    finally:
        daemon.stop()
        shutil.rmtree(base, ignore_errors=True)


def domain_copy(build_dir, work, name):
    """The build's domain.xml under a unique name, with the serial console
    in a file (libvirt's pty needs virsh console, which is interactive; the
    <console> follows serial 0, so it goes to the file too)."""
    xml = open(os.path.join(build_dir, "vm", "domain.xml")).read()
    xml, n = re.subn(r"<name>[^<]*</name>", f"<name>{name}</name>", xml, count=1)
    assert n == 1
    serial = os.path.join(work, "serial.log")
    xml, n = re.subn(r"<serial type='pty'>.*?</serial>",
                     f"<serial type='file'><source path='{serial}'/><target port='0'/></serial>", xml, flags=re.S)
    assert n == 1
    path = os.path.join(work, "domain.xml")
    with open(path, "w") as f:
        f.write(xml)
    return path, serial


def libvirt_boot(build_dir, libvirtd, work, during=lambda name, serial: None, mode="acpi",
                 stopped_by="power button"):
    """build_dir's domain under libvirtd with an empty 16 MiB disk.img:
    once it is ready, during(name, serial log), then virsh shutdown --mode
    mode (none: libvirt's own choice), which must power it off through
    stopped_by. The console."""
    vm = os.path.join(build_dir, "vm")
    disk = os.path.join(vm, "disk.img")
    with open(disk, "wb") as f:
        f.truncate(16 << 20)
    name = unique("amphi-e2e-lv")
    xml, serial = domain_copy(build_dir, work, name)
    libvirtd.start()
    defined = False
    try:
        libvirtd.virsh("define", xml)
        defined = True
        libvirtd.virsh("start", name)
        wait_for(serial, r"amphi: ready env=qemu", BOOT_TIMEOUT)
        # the user's disk is vda (16 MiB), whatever else the build attaches
        wait_for(serial, r"virtio_blk virtio\d+: \[vda\] 32768 512-byte logical blocks", 10)
        assert disk in libvirtd.virsh("domblklist", name).stdout
        during(name, serial)
        # --mode acpi presses the power button; without a mode, libvirt
        # asks the guest agent once it is connected. The init powers off.
        libvirtd.virsh("shutdown", name, *(["--mode", mode] if mode else []))
        deadline = time.monotonic() + BOOT_TIMEOUT
        while (state := libvirtd.virsh("domstate", name, "--reason").stdout.strip()) != "shut off (shutdown)":
            assert time.monotonic() < deadline, f"{name} {state}:\n{open(serial).read()[-2000:]}"
            time.sleep(0.2)
        log = open(serial, errors="replace").read()
        assert f"{stopped_by}: stopping to power off" in log and "reboot: Power down" in log, log[-3000:]
        return log
    finally:
        if defined:
            libvirtd.virsh("destroy", name, check=False)
            libvirtd.virsh("undefine", name, check=False)
        libvirtd.kill_guest(name)
        os.unlink(disk)


def test_libvirt_boots_a_root_image_with_a_data_disk(lv_rooted_build, libvirtd, tmpdir_clean):
    log = libvirt_boot(lv_rooted_build, libvirtd, tmpdir_clean)
    assert "root image: data disk /dev/vdc is blank" in log
    assert "root image: /dev/vdb read-only on /run/amphi/root, writes on /run/amphi/rw (the data disk)" in log


def test_libvirt_boots_streams_logs_and_powers_off(lv_build, libvirtd, tmpdir_clean):
    vm = os.path.join(lv_build, "vm")

    def streams(name, serial):
        with reader(tmpdir_clean, "--connect", os.path.join(vm, "amphi.sock"), "--json") as r:
            r.wait_stdout(b'"msg":"ready env=qemu in ')
        # Both channels through amphi logs: the Anaconda one as its text reader.
        with reader(tmpdir_clean, "--text", "--connect", os.path.join(vm, "anaconda.sock"), "--json") as t:
            t.wait_stdout(b'"msg":"ready env=qemu in ')

    # virsh shutdown without a mode: libvirt prefers the guest agent.
    libvirt_boot(lv_build, libvirtd, tmpdir_clean, streams, mode=None, stopped_by="the host's guest agent")


def agent_command(libvirtd, name, request, check=True):
    return libvirtd.virsh("qemu-agent-command", name, json.dumps(request), check=check)


def wait_agent(libvirtd, name, serial):
    """libvirt connects to the channel once the guest opened the port."""
    deadline = time.monotonic() + BOOT_TIMEOUT
    while agent_command(libvirtd, name, {"execute": "guest-ping"}, check=False).returncode != 0:
        assert time.monotonic() < deadline, f"no guest agent:\n{open(serial).read()[-2000:]}"
        time.sleep(0.3)


def test_libvirt_drives_the_guest_agent(lv_build, libvirtd, tmpdir_clean):
    def agent(name, serial):
        wait_agent(libvirtd, name, serial)
        assert json.loads(agent_command(libvirtd, name, {"execute": "guest-ping"}).stdout) == {"return": {}}
        r = agent_command(libvirtd, name, {"execute": "guest-sync", "arguments": {"id": 9223372036854775807}})
        assert r.stdout.strip() == '{"return":9223372036854775807}', r.stdout
        for request in ({"execute": "guest-exec", "arguments": {"path": "/bin/sh"}},
                        {"execute": "guest-file-open", "arguments": {"path": "/etc/shadow"}}):
            r = agent_command(libvirtd, name, request, check=False)
            assert r.returncode != 0 and "has not been found" in r.stderr, r.stderr
        assert agent_command(libvirtd, name, {"execute": "guest-ping"}).returncode == 0

        # What libvirt asks for itself, and parses.
        info = libvirtd.virsh("guestinfo", name).stdout
        assert re.search(r"^hostname\s*: minimal$", info, re.M), info
        assert re.search(r"^os\.kernel-release\s*: 6\.1\.0-", info, re.M), info
        assert re.search(r"^timezone\.offset\s*: 0$", info, re.M), info
        assert libvirtd.virsh("domhostname", name).stdout.strip() == "minimal"
        addrs = libvirtd.virsh("domifaddr", name, "--source", "agent").stdout
        assert re.search(r"^ lo +00:00:00:00:00:00 +ipv4 +127\.0\.0\.1/8$", addrs, re.M), addrs
        guest = int(re.search(r"Time: (\d+)", libvirtd.virsh("domtime", name).stdout).group(1))
        assert abs(guest - time.time()) < 120
        libvirtd.virsh("domtime", name, "--time", str(int(time.time()) + 3600))
        guest = int(re.search(r"Time: (\d+)", libvirtd.virsh("domtime", name).stdout).group(1))
        assert abs(guest - 3600 - time.time()) < 120, guest

        # Reboot through the agent: the guest comes back, and so does its agent.
        libvirtd.virsh("reboot", name, "--mode", "agent")
        wait_for(serial, r"amphi: ready env=qemu", BOOT_TIMEOUT, count=2)
        assert "the host's guest agent: stopping to reboot" in open(serial, errors="replace").read()
        wait_agent(libvirtd, name, serial)

        # libvirtd goes and comes back: it finds the agent again.
        libvirtd.restart()
        wait_agent(libvirtd, name, serial)

    libvirt_boot(lv_build, libvirtd, tmpdir_clean, agent, mode="agent", stopped_by="the host's guest agent")
