"""PID 1's guest agent (QEMU's guest agent protocol) on a real QEMU guest's
org.qemu.guest_agent.0 port and in a real LXC container's host directory:
what libvirt and amphi ctl ask, what a hostile or careless host sends (half
a request, a megabyte of garbage, 0xFF), and what no host ever gets
(guest-exec, guest-file-*). libvirt's own use: test_libvirt.py."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time

import pytest

from conftest import AMPHI, BOOT_TIMEOUT, amphi, build_fixture, build_text

SERVICES = """[image]
name = agentsvc

[runtime]
hostname = agentsvc

# An unprivileged process tries the agent's port (a VM's): it may not
# even open it.
[task.probe]
user = nobody
shell = yes
exec = for d in /sys/class/virtio-ports/*; do [ "$(cat $d/name)" = org.qemu.guest_agent.0 ] && dev=/dev/${d##*/}; done; [ -z "$dev" ] && exit 0; if echo '{"execute":"guest-shutdown"}' > $dev; then echo PROBE-OPENED; else echo PROBE-DENIED; fi

[service.sleeper]
exec = /bin/sleep 100000

[service.napper]
exec = /bin/sleep 100000
restart = no
"""


class Agent:
    """A client of the agent's socket, as libvirt is: one JSON request at a
    time, one line back."""

    def __init__(self, path, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                assert time.monotonic() < deadline, f"cannot connect to {path}"
                time.sleep(0.1)
        self.sock.settimeout(20)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else json.dumps(data).encode())

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            assert chunk, "the agent closed the connection"
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def reply(self):
        return json.loads(self.line())

    def call(self, execute, **arguments):
        req = {"execute": execute}
        if arguments:
            req["arguments"] = arguments
        self.send(req)
        return self.reply()

    def close(self):
        self.sock.close()


def booted_agent(qemu, build_dir, workdir):
    vm = qemu(build_dir, env={"AMPHI_LOG_DIR": workdir})
    vm.wait(r"agent: guest agent on /dev/vport")
    vm.wait(r"amphi: ready env=qemu")
    return vm, Agent(os.path.join(workdir, "agent.sock"))


def test_a_vm_answers_libvirts_questions_and_refuses_what_it_must(minimal_build, qemu, tmpdir_clean):
    vm, a = booted_agent(qemu, minimal_build, tmpdir_clean)
    assert a.call("guest-ping") == {"return": {}}
    # libvirt's sync: its id (milliseconds since the epoch) comes back
    # exactly, 64 bits, never through a double.
    big = 9223372036854775807
    a.send(b'{"execute":"guest-sync","arguments":{"id":9223372036854775807}}')
    assert a.line() == b'{"return":9223372036854775807}'
    assert a.call("guest-sync", id=big)["return"] == big
    # An id in the request is copied into the reply.
    a.send(b'{"execute":"guest-ping","id":"abc\\"1"}')
    assert json.loads(a.line()) == {"return": {}, "id": 'abc"1'}

    info = a.call("guest-info")["return"]
    names = {c["name"] for c in info["supported_commands"]}
    assert {"guest-sync", "guest-shutdown", "guest-network-get-interfaces", "guest-get-fsinfo",
            "guest-fsfreeze-freeze", "amphi-status"} <= names
    assert not [n for n in names if n.startswith(("guest-exec", "guest-file"))], names
    shutdown = next(c for c in info["supported_commands"] if c["name"] == "guest-shutdown")
    assert shutdown == {"name": "guest-shutdown", "enabled": True, "success-response": False}

    # What hands the host a shell is no command, ever; the next one works.
    for execute, args in (("guest-exec", {"path": "/bin/sh", "arg": ["-c", "id"]}),
                          ("guest-file-open", {"path": "/etc/shadow"}), ("guest-set-user-password", {})):
        r = a.call(execute, **args)
        assert r["error"]["class"] == "CommandNotFound", r
        assert execute in r["error"]["desc"]
    assert a.call("guest-ping") == {"return": {}}

    # Malformed requests get an error and change nothing.
    a.send(b'{"execute":"guest-shutdown","arguments":{"mode":"now"}}')
    assert a.reply()["error"]["class"] == "GenericError"
    a.send(b'{"execute":guest-ping}')
    assert "not a JSON object" in a.reply()["error"]["desc"]
    a.send(b'{"execute":1}')
    assert "execute" in a.reply()["error"]["desc"]
    a.send(b'{"a":' + b"[" * 20 + b"]" * 20 + b"}")
    assert "too long or too deep" in a.reply()["error"]["desc"]
    assert a.call("guest-ping") == {"return": {}}

    # A megabyte of garbage: one error for it, then the request's reply.
    a.send(b"garbage " * (1 << 17) + b'{"execute":"guest-ping"}')
    assert "expected a request" in a.reply()["error"]["desc"]
    assert a.reply() == {"return": {}}

    # 0xFF flushes what came before; guest-sync-delimited's reply follows a 0xFF.
    a.send(b'{"execute":"guest-pi\xff{"execute":"guest-sync-delimited","arguments":{"id":42}}')
    raw = a.line()
    assert raw == b'\xff{"return":42}', raw

    # Half a request, then the host goes and comes back: the new
    # connection starts afresh.
    a.send(b'{"execute":"guest-ping","argu')
    a.close()
    time.sleep(0.5)
    a = Agent(os.path.join(tmpdir_clean, "agent.sock"))
    assert a.call("guest-ping") == {"return": {}}

    # What the guest is.
    assert a.call("guest-get-host-name") == {"return": {"host-name": "minimal"}}
    os_info = a.call("guest-get-osinfo")["return"]
    assert os_info["machine"] == "x86_64" and re.match(r"6\.1\.0-", os_info["kernel-release"]), os_info
    assert a.call("guest-get-timezone") == {"return": {"zone": "UTC", "offset": 0}}
    assert a.call("guest-get-users") == {"return": []}
    guest_ns = a.call("guest-get-time")["return"]
    assert isinstance(guest_ns, int) and abs(guest_ns / 1e9 - time.time()) < 120
    ifaces = {i["name"]: i for i in a.call("guest-network-get-interfaces")["return"]}
    assert {"ip-address": "127.0.0.1", "ip-address-type": "ipv4", "prefix": 8} in ifaces["lo"]["ip-addresses"]
    assert ifaces["lo"]["hardware-address"] == "00:00:00:00:00:00"
    assert {"ip-address": "::1", "ip-address-type": "ipv6", "prefix": 128} in ifaces["lo"]["ip-addresses"], ifaces
    assert isinstance(a.call("guest-get-fsinfo")["return"], list)
    assert isinstance(a.call("guest-get-disks")["return"], list)
    assert a.call("guest-fsfreeze-status") == {"return": "thawed"}

    status = a.call("amphi-status")["return"]
    assert status["uptime"] >= 0 and status["memory"]["total"] > 100 << 20
    assert status["log"]["records"] > 0 and status["log"]["ring-bytes"] == 1 << 20, status["log"]
    assert 0 <= status["log"]["owed-bytes"] < 1 << 20

    # guest-shutdown: no reply; the stop sequence, then QEMU is gone.
    a.send(b'{"execute":"guest-shutdown","arguments":{"mode":"powerdown"}}')
    assert vm.exit_code(timeout=BOOT_TIMEOUT) == 0
    log = open(vm.log, errors="replace").read()
    assert "the host's guest agent: stopping to power off" in log, log[-2000:]
    a.sock.settimeout(5)
    assert a.sock.recv(100) == b""


svc_build = build_fixture(text=SERVICES, prefix="amphi-ag-")


def ctl(build_dir, *args, check=True):
    return amphi("ctl", build_dir, *args, check=check)


def unit_pid(build_dir, name):
    status = json.loads(ctl(build_dir, "status", "--json").stdout)
    unit = next(u for u in status["units"] if u["name"] == name)
    return unit["pid"], unit


def restart_and_status(build_dir):
    pid, unit = unit_pid(build_dir, "sleeper")
    assert unit["state"] == "running" and pid > 0 and unit["restarts"] == 0, unit
    table = ctl(build_dir, "status").stdout
    assert re.search(r"^sleeper +service +running +\d+ +0 ", table, re.M), table
    assert re.search(r"^lo +00:00:00:00:00:00 +127\.0\.0\.1/8", table, re.M), table
    r = ctl(build_dir, "restart", "sleeper")
    assert "sleeper: restarted" in r.stdout
    deadline = time.monotonic() + 20
    while True:
        new, unit = unit_pid(build_dir, "sleeper")
        if new and new != pid:
            break
        assert time.monotonic() < deadline, unit
        time.sleep(0.2)
    assert unit["restarts"] == 1 and unit["state"] == "running", unit
    # A service that is not restarted on its own is, when the host asks.
    r = ctl(build_dir, "restart", "nosuch", check=False)
    assert r.returncode == 1 and "no such service" in r.stderr


def test_amphi_ctl_drives_a_vm(svc_build, qemu):
    vm = qemu(svc_build)
    vm.wait(r"agent: guest agent on /dev/vport")
    vm.wait(r"amphi: ready env=qemu")
    assert "PROBE-DENIED" in open(vm.log, errors="replace").read()
    assert "the appliance answers" in ctl(svc_build, "ping").stdout
    restart_and_status(svc_build)
    r = ctl(svc_build, "shutdown")
    assert "stopped" in r.stdout, r.stdout + r.stderr
    assert vm.exit_code(timeout=BOOT_TIMEOUT) == 0


@pytest.fixture(scope="module")
def agent_probe(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("probe") / "agent-probe")
    subprocess.run(["musl-gcc", "-static", "-Os", "-o", out, os.path.join(os.path.dirname(__file__), "agent_probe.c")],
                   check=True)
    return out


def test_amphi_ctl_drives_a_container(svc_build, lxc, agent_probe):
    shutil.copy(agent_probe, os.path.join(svc_build, "lxc", "rootfs", "agent-probe"))
    ct = lxc(svc_build)
    ct.start()
    ct.wait(r"amphi: ready env=lxc")
    restart_and_status(svc_build)
    # The socket is root's: nobody else in the container may shut it down.
    mode = os.stat(os.path.join(svc_build, "lxc", "host", "agent.sock")).st_mode & 0o777
    assert mode == 0o600, oct(mode)
    r = ct.lxc("lxc-attach", "-u", "65534", "-g", "65534", "--clear-env", "--", "/agent-probe",
               "/var/lib/amphi/host/agent.sock")
    assert r.stdout.strip() == "connect errno=13", r.stdout  # EACCES
    r = ct.lxc("lxc-attach", "--clear-env", "--", "/agent-probe", "/var/lib/amphi/host/agent.sock")
    assert r.stdout.strip() == "connect errno=0", r.stdout  # the probe itself works
    # watch, piped: a table a second, until interrupted.
    w = subprocess.Popen([AMPHI, "ctl", svc_build, "watch"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    time.sleep(2.5)
    w.send_signal(signal.SIGINT)
    out, err = w.communicate(timeout=10)
    assert w.returncode == 0, err
    assert out.count("UNIT ") >= 2 and "\033[" not in out, out
    # reboot: the container comes back (lxc-start restarts it), its agent too.
    assert "rebooting" in ctl(svc_build, "reboot").stdout
    ct.wait(r"amphi: ready env=lxc", count=2)
    assert "the appliance answers" in ctl(svc_build, "ping").stdout
    r = ctl(svc_build, "shutdown")
    assert "stopped" in r.stdout, r.stdout + r.stderr
    deadline = time.monotonic() + 30
    while ct.state() != "STOPPED":
        assert time.monotonic() < deadline
        time.sleep(0.2)


def test_amphi_ctl_says_what_to_do_without_an_appliance(svc_build, tmpdir_clean):
    r = ctl(tmpdir_clean, "status", check=False)
    assert r.returncode == 1 and "no guest agent to reach" in r.stderr and "amphi run" in r.stderr
    r = amphi("ctl", svc_build, "frobnicate", check=False)
    assert r.returncode == 2 and "unknown command frobnicate" in r.stderr


def fake_agent(path, replies):
    """A hostile guest's agent socket at path: answers the sync, then each
    request with the next of replies (bytes, sent as they are)."""
    import threading
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    srv.listen(1)

    def serve():
        try:
            conn, _ = srv.accept()
        except OSError:  # closed: the client never came (it must not)
            return
        with conn:
            buf = b""
            while b"guest-sync-delimited" not in buf:
                buf += conn.recv(4096)
            i = re.search(rb'"id":(\d+)', buf).group(1)
            conn.sendall(b"\xff" + b'{"return":' + i + b"}\n")
            buf = b""
            for reply in replies:
                while b"}" not in buf:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    buf += chunk
                buf = b""
                conn.sendall(reply)
            time.sleep(1)
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return srv, t


def test_amphi_ctl_takes_the_guests_replies_as_hostile(tmpdir_clean):
    host = os.path.join(tmpdir_clean, "lxc", "host")
    os.makedirs(host)
    sock = os.path.join(host, "agent.sock")
    # Terminal escapes inside strings are shown escaped, never sent raw.
    evil = ('{"return":{"uptime":1,"units":[{"name":"\\u001b]0;pwned\\u0007x","kind":"service","state":"running",'
            '"pid":1,"restarts":0,"for-ms":5}],"interfaces":[],"log":{"records":1,"oldest":1,"readers":[]}}}\n')
    srv, t = fake_agent(sock, [evil.encode()])
    r = amphi("ctl", tmpdir_clean, "status", check=False)
    srv.close()
    assert r.returncode == 0, r.stderr
    assert "\x1b" not in r.stdout and "\x07" not in r.stdout and "pwned" in r.stdout, repr(r.stdout)
    os.unlink(sock)
    # A raw control byte, a reply that is not JSON, one too long: refused, said.
    for reply, said in ((b'{"return":{"a":"\x1b[2J"}}\n', "control byte"), (b"not json\n", "not a JSON object"),
                        (b'{"return":"' + b"x" * (300 << 10) + b'"}\n', "longer than")):
        srv, t = fake_agent(sock, [reply])
        r = amphi("ctl", tmpdir_clean, "status", check=False)
        srv.close()
        os.unlink(sock)
        assert r.returncode == 1 and said in r.stderr, (said, r.stderr)
        assert "\x1b" not in r.stderr
    # A link where the socket should be is never followed.
    target = os.path.join(tmpdir_clean, "elsewhere.sock")
    srv, t = fake_agent(target, [b'{"return":{}}\n'])
    os.symlink(target, sock)
    r = amphi("ctl", tmpdir_clean, "ping", check=False)
    srv.close()
    assert r.returncode == 1 and "amphi never follows a link nor connects" in r.stderr, r.stderr


FROZEN = """[image]
name = frozen
root = squashfs
overlay = disk

[service.writer]
shell = yes
exec = i=0; while true; do i=$((i+1)); echo $i > /n && sync && echo "wrote $i"; sleep 0.2; done
"""


def test_fsfreeze_holds_the_data_disk_and_pid1_answers_meanwhile(tmpdir_clean, qemu):
    out = build_text(tmpdir_clean, FROZEN)
    data = os.path.join(tmpdir_clean, "data.img")
    with open(data, "wb") as f:
        f.truncate(64 << 20)
    vm = qemu(out, env={"AMPHI_DATA": data, "AMPHI_LOG_DIR": tmpdir_clean})
    vm.wait(r"writer: wrote 3\b")
    a = Agent(os.path.join(tmpdir_clean, "agent.sock"))
    r = a.call("guest-fsfreeze-freeze")
    assert r["return"] >= 1, r  # the data disk's ext4 at /run/amphi/rw
    assert a.call("guest-fsfreeze-status") == {"return": "frozen"}
    # While frozen, what qemu-ga allows and no more; PID 1 answers all the same.
    r = a.call("guest-get-osinfo")
    assert r["error"]["class"] == "CommandNotFound" and "disabled" in r["error"]["desc"], r
    info = {c["name"]: c["enabled"] for c in a.call("guest-info")["return"]["supported_commands"]}
    assert info["guest-get-osinfo"] is False and info["guest-fsfreeze-thaw"] is True
    assert a.call("amphi-status")["return"]["uptime"] >= 0
    before = re.findall(r"writer: wrote (\d+)", open(vm.log, errors="replace").read())
    time.sleep(2)
    during = re.findall(r"writer: wrote (\d+)", open(vm.log, errors="replace").read())
    assert len(during) <= len(before) + 1, (before[-3:], during[-3:])  # the writer waits in write(2)
    assert a.call("guest-ping") == {"return": {}}
    r = a.call("guest-fsfreeze-thaw")
    assert r["return"] >= 1, r
    assert a.call("guest-fsfreeze-status") == {"return": "thawed"}
    vm.wait(rf"writer: wrote {int(during[-1]) + 3}\b")
    a.send(b'{"execute":"guest-shutdown"}')
    assert vm.exit_code(timeout=BOOT_TIMEOUT) == 0
