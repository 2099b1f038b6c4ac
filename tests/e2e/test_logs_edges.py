"""The log stream's edges, end to end: policy = drop with a
reader that stops reading (container and VM) and with one that reads (a
burst it has room for), PID 1 at rest while nobody is on a VM's log ports,
an overflow counted in a VM (the container's is in test_logs.py), rsyslog
taking a container's stream through socat, and a container's init that
never looks at the host's /sys/class/virtio-ports.

Every VM and container has its own name and directory; everything started
here (readers, socat, rsyslogd, QEMU, containers) is stopped by PID or by
its own name in a fixture or a finally, pass or fail. Waits are bounded and
nothing asserts on how long anything took; the one number checked, PID 1's
CPU ticks over an idle stretch, is a behaviour bound (spinning would take
the whole stretch)."""

import json
import os
import re
import select
import shutil
import socket
import subprocess
import time
import types


from conftest import AMPHI, build_fixture
import logfeed
# rsyslogd with imtcp on 127.0.0.1 and its RFC 5424 file, as the VM test
# of test_logs_hosts.py starts it.
from test_logs_hosts import RFC5424, rsyslogd  # noqa: F401 (rsyslogd is a fixture)

HERE = os.path.dirname(__file__)
SOCAT = shutil.which("socat") or "/usr/bin/socat"
FLOOD_LINES = 30000

drop_build = build_fixture(os.path.join(HERE, "recipes", "logs-drop.conf"))
burst_build = build_fixture(os.path.join(HERE, "recipes", "logs-burst.conf"))
idle_build = build_fixture(os.path.join(HERE, "recipes", "logs-idle.conf"))
logs_build = build_fixture(os.path.join(HERE, "recipes", "logs.conf"))


# RFC 6587 octet counting around RFC 5424, as docs/PROTOCOL.md has it.
MSG5424 = re.compile(rb'^<(\d+)>1 \S+ \S+ (\S+) \S+ (\S+) \[meta sequenceId="(\d+)" sysUpTime="\d+"\]'
                     rb'\[amphi@32473 ([^\]]*)\] ?(.*)$', re.S)


def parse_frames(buf):
    """The whole frames at the start of buf as records like amphi logs
    --json gives ({seq, app, msgid, params, msg}), and what is left."""
    recs = []
    while True:
        sp = buf.find(b" ")
        if sp < 0:
            break
        assert buf[:sp].isdigit(), f"not an octet count: {buf[:40]!r}"
        end = sp + 1 + int(buf[:sp])
        if len(buf) < end:
            break
        m = MSG5424.match(buf[sp + 1:end])
        assert m, f"not an amphi record: {buf[sp + 1:end][:200]!r}"
        _, app, msgid, seq, params, msg = m.groups()
        recs.append(dict(seq=int(seq), app=app.decode(), msgid=msgid.decode(), params=params.decode(),
                         msg=msg.decode(errors="replace")))
        buf = buf[end:]
    return recs, buf


# ---- what a drop through a full ring must look like ----

LOSS = re.compile(r"lost (\d+) records, seq (\d+)-(\d+)$")


def losses(recs):
    """[(index, count, first, last)] of the loss records among recs."""
    out = []
    for i, r in enumerate(recs):
        if r["app"] == "amphi" and r["msg"].startswith("lost "):
            m = LOSS.match(r["msg"])
            assert m, r["msg"]
            out.append((i, *map(int, m.groups())))
    return out


def check_counted(recs):
    """Counted, never silent: the records a reader got and the ranges its
    loss records name make up every sequence number of the boot from 1,
    each once, in order; each loss record counts its range right and stands
    just where its range was. Returns the loss records as losses() does."""
    lost = losses(recs)
    assert lost, "no loss record"
    expect, at = 1, 0
    for i, r in enumerate(recs):
        if at < len(lost) and lost[at][0] == i:
            _, n, first, last = lost[at]
            assert n == last - first + 1 and n > 0, r["msg"]
            assert first == expect, \
                f"{r['msg']!r} after seq {expect - 1}: a silent gap or a repeat before it"
            expect, at = last + 1, at + 1
            continue
        assert r["seq"] == expect, f"seq {r['seq']} where {expect} was due (after {recs[i - 1]['msg']!r})"
        expect += 1
    return lost


def check_oldest_dropped(recs, lost):
    """The flood lines missing are no more than the records said lost, and
    the newest are kept: from the last loss record on, every flood line to
    the last one, then "flood done"."""
    nums = [int(r["msg"].split()[2]) for r in recs if r["app"] == "flood" and r["msg"].startswith("drop line ")]
    assert nums == sorted(set(nums)), "flood lines once each, in order"
    missing = FLOOD_LINES - len(nums)
    assert 0 < missing <= sum(n for _, n, _, _ in lost), f"{missing} flood lines missing, {lost} said lost"
    tail = [int(r["msg"].split()[2]) for r in recs[lost[-1][0] + 1:]
            if r["app"] == "flood" and r["msg"].startswith("drop line ")]
    assert tail and tail == list(range(tail[0], FLOOD_LINES + 1)), "after the last loss, every line to the end"
    assert any(r["app"] == "flood" and r["msg"] == "flood done" for r in recs[lost[-1][0] + 1:])


# ---- 1. policy = drop, a reader that stops reading ----

def test_lxc_policy_drop_drops_the_oldest_for_a_stopped_reader_and_the_writer_goes_on(drop_build, lxc, readers):
    """A connected reader stops reading (SIGSTOP) while a service floods a
    64 KiB ring: with drop, the service is not held back (under auto or
    block it would wait for the reader); once the reader reads again it is
    told which records went, and gets the rest."""
    host = os.path.join(drop_build, "lxc", "host")
    for leftover in ("go", "flood-done"):
        if os.path.exists(os.path.join(host, leftover)):
            os.unlink(os.path.join(host, leftover))
    ct = lxc(drop_build)
    ct.start()
    r = readers(os.path.join(host, "amphi.sock"))
    r.wait(r'"msg":"ready env=lxc')
    console = ct.wait(r"amphi: ready env=lxc")
    assert "log: a 64 KiB ring, policy drop" in console
    r.pause()
    try:
        open(os.path.join(host, "go"), "w").close()
        deadline = time.monotonic() + 120
        while not os.path.exists(os.path.join(host, "flood-done")):
            assert time.monotonic() < deadline, \
                "the service did not finish its flood while the reader was stopped: policy = drop held the writer back"
            time.sleep(0.1)
        assert r.state() == "T", "the reader stayed stopped through the flood"
    finally:
        r.resume()
    r.wait(r'"app":"flood","pri":\d+,"msg":"flood done"', 60)
    recs = r.records()
    r.stop()
    ct.lxc("lxc-stop", "--nokill", "-t", "20")
    lost = check_counted(recs)
    check_oldest_dropped(recs, lost)
    assert sum(n for _, n, _, _ in lost) > 10000, f"3 MB through a 64 KiB ring to a stopped reader: only {lost} lost"
    assert "protocol error" not in r.stderr(), r.stderr()


def test_lxc_policy_drop_loses_nothing_a_reading_reader_has_room_for(burst_build, lxc, readers):
    """drop lets records go rather than hold the writer back from a reader
    that does not keep up, not those a reader could take: here 90 KB come
    in one write(2) while the reader is reading and its socket is empty
    (their ~110 KB of frames fit in its ~208 KiB), so nothing is lost. A ring
    filled faster than the sinks get to send (one turn of the loop reads up
    to 4 x 64 KiB of a service's pipe before any sink writes) would drop
    records the reader had room for."""
    host = os.path.join(burst_build, "lxc", "host")
    if os.path.exists(os.path.join(host, "go")):
        os.unlink(os.path.join(host, "go"))
    ct = lxc(burst_build)
    ct.start()
    r = readers(os.path.join(host, "amphi.sock"))
    r.wait(r'"msg":"ready env=lxc')
    open(os.path.join(host, "go"), "w").close()
    r.wait(r'"app":"burst","pri":\d+,"msg":"burst done"', 60)
    recs = r.records()
    r.stop()
    ct.lxc("lxc-stop", "--nokill", "-t", "20")
    assert "log: a 64 KiB ring, policy drop" in open(ct.console, errors="replace").read()
    lost = [x["msg"] for x in recs if x["app"] == "amphi" and x["msg"].startswith("lost ")]
    burst = [int(x["msg"].split()[2]) for x in recs if x["app"] == "burst" and x["msg"].startswith("burst line ")]
    assert not lost and burst == list(range(1, 91)), \
        (f"policy = drop lost records a connected, reading reader had room for ({lost}; burst lines received: "
         f"{burst[:3]}...{burst[-3:]}, {len(burst)} of 90): the ring took more than it holds in one turn of the "
         f"loop before any sink could send")


def test_vm_policy_drop_drops_the_oldest_for_a_reader_that_never_reads(drop_build, qemu, tmpdir_clean, monkeypatch):
    """The same in a VM: a client on org.amphi.log.0's socket that connects
    before the guest boots and reads nothing until the flood is over."""
    logdir = os.path.join(tmpdir_clean, "ports")
    os.makedirs(logdir)
    monkeypatch.setenv("AMPHI_LOG_DIR", logdir)
    vm = qemu(drop_build)
    sock_path = os.path.join(logdir, "amphi.sock")
    deadline = time.monotonic() + 20
    while not os.path.exists(sock_path):
        assert vm.proc.poll() is None and time.monotonic() < deadline, f"no {sock_path} (qemu {vm.proc.poll()})"
        time.sleep(0.01)
    with logfeed.connect_socket(sock_path) as s:
        console = vm.wait(r"amphi-e2e: flood done", timeout=240)
        assert "log: a 64 KiB ring, policy drop" in console
        # Now read: what was queued, the loss record, the rest.
        s.settimeout(1)
        buf, recs = b"", []
        deadline = time.monotonic() + 60
        while not any(r["app"] == "flood" and r["msg"] == "flood done" for r in recs):
            assert time.monotonic() < deadline, f"no 'flood done' record; last: {recs[-3:]}"
            try:
                chunk = s.recv(1 << 16)
            except socket.timeout:
                continue
            assert chunk, "QEMU closed the log socket"
            got, buf = parse_frames(buf + chunk)
            recs += got
    assert recs[0]["seq"] == 1 and recs[0]["msgid"] == "boot"
    lost = check_counted(recs)
    check_oldest_dropped(recs, lost)
    assert sum(n for _, n, _, _ in lost) > 10000, f"3 MB through a 64 KiB ring to a reader that reads nothing: only {lost} lost"
    assert all(recs[i]["msgid"] == "loss" and 'source="init"' in recs[i]["params"] for i, _, _, _ in lost)


# ---- 2. a VM with nobody on its ports: PID 1 does not spin ----

def test_vm_pid1_does_not_spin_while_no_reader_is_connected(idle_build, qemu, readers, tmpdir_clean, monkeypatch):
    """QEMU serves both log ports (server=on,wait=off) and nobody connects,
    so virtio_console reports POLLHUP on them the whole time. Over four idle
    seconds after ready PID 1 uses a few ticks, not the stretch (a loop
    woken by POLLHUP would use all of it). Then a reader connects late and
    gets the whole history."""
    logdir = os.path.join(tmpdir_clean, "ports")
    os.makedirs(logdir)
    monkeypatch.setenv("AMPHI_LOG_DIR", logdir)
    vm = qemu(idle_build)
    console = vm.wait(r"amphi: ready env=qemu")
    assert "log: org.amphi.log.0 on /dev/vport" in console, "the port was found (it is the one nobody reads)"
    console = vm.wait(r"idle check: pid1 cpu \d+ \d+ uptime \d+ \d+")
    a, b, start, end = map(int, re.search(r"idle check: pid1 cpu (\d+) (\d+) uptime (\d+) (\d+)", console).groups())
    interval = end - start  # hundredths of a second; /proc/PID/stat counts USER_HZ = 100 ticks a second
    assert interval >= 350, f"the idle stretch was {interval} cs"
    assert a > 0, "PID 1's utime + stime read as 0 after a boot: the measurement reads the wrong fields"
    assert b - a < interval * 0.2, \
        f"PID 1 used {b - a} ticks of CPU in {interval / 100:.2f} s with no reader on its ports (it spins)"
    # A reader now: everything from the boot's first record, no loss.
    r = readers(os.path.join(logdir, "amphi.sock"))
    r.wait(r'"app":"idle","pri":\d+,"msg":"idle check: ')
    recs = r.records()
    seqs = [x["seq"] for x in recs]
    assert seqs == list(range(1, len(seqs) + 1)), "the whole history, contiguous from 1"
    assert not [x for x in recs if x["msg"].startswith("lost ")]
    assert any(x["source"] == "kernel" and "Linux version" in x["msg"] for x in recs), "the kernel's first words"
    assert any(x["app"] == "amphi" and x["msg"].startswith("ready env=qemu") for x in recs)
    assert any(x["app"] == "amphi" and "starting in env=qemu" in x["msg"] for x in recs), "the init's first words"


# ---- 3. a VM with no reader overflows a small ring: counted ----

def test_vm_overflow_without_a_reader_is_counted(drop_build, qemu, tmpdir_clean, monkeypatch):
    """policy auto (amphi.log= over the recipe's drop): no reader while 3 MB
    go through 64 KiB; the first reader is told how many records went and
    which, and what follows is contiguous."""
    logdir = os.path.join(tmpdir_clean, "ports")
    os.makedirs(logdir)
    monkeypatch.setenv("AMPHI_LOG_DIR", logdir)
    vm = qemu(drop_build, append="amphi.log=policy=auto")
    console = vm.wait(r"amphi-e2e: flood done", timeout=240)
    assert "log: a 64 KiB ring, policy auto" in console
    proc = subprocess.Popen([AMPHI, "logs", "--connect", os.path.join(logdir, "amphi.sock"), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    recs, buf = [], b""
    try:
        deadline = time.monotonic() + 60
        while not any(r["app"] == "flood" and r["msg"] == "flood done" for r in recs):
            assert time.monotonic() < deadline and proc.poll() is None, f"no 'flood done' record: {recs[-3:]}"
            chunk = os.read(proc.stdout.fileno(), 1 << 16) if select.select([proc.stdout], [], [], 1)[0] else b""
            buf += chunk
            *lines, buf = buf.split(b"\n")
            recs += [json.loads(l) for l in lines if l.startswith(b"{")]
    finally:
        proc.kill()
        proc.communicate(timeout=10)
    loss = [r for r in recs if r["app"] == "amphi" and r["msg"].startswith("lost ")]
    assert loss, f"no loss record; first records: {recs[:3]}"
    assert recs[0] is loss[0], "the first thing a late reader gets is the loss record"
    n, first, last = map(int, LOSS.match(loss[0]["msg"]).groups())
    assert first == 1 and n == last - first + 1 and n > 1000, loss[0]["msg"]
    after = [r["seq"] for r in recs[1:]]
    assert after == list(range(last + 1, last + 1 + len(after))), f"contiguous after the loss record: {after[:5]}"
    nums = [int(r["msg"].split()[2]) for r in recs if r["app"] == "flood" and r["msg"].startswith("drop line ")]
    assert nums == list(range(nums[0], FLOOD_LINES + 1)), "the newest flood lines, every one to the last"


# ---- 4. rsyslog takes a container's stream ----

def test_rsyslog_receives_the_amphi_stream_from_a_container(logs_build, lxc, rsyslogd, tmpdir_clean):
    """The container serves amphi.sock; socat relays it to rsyslog's imtcp
    on 127.0.0.1 (the VM version, in test_logs_hosts.py, has QEMU connect
    there itself). rsyslog never acknowledges; it stores the stream."""
    assert os.access(SOCAT, os.X_OK), "socat is not installed (Debian package socat; make deps installs it)"
    rs = rsyslogd()
    ct = lxc(logs_build)
    ct.start()
    ct.wait(r"amphi: ready env=lxc")
    sock = os.path.join(logs_build, "lxc", "host", "amphi.sock")
    errf = open(os.path.join(tmpdir_clean, "socat.err"), "wb")
    socat = subprocess.Popen([SOCAT, f"UNIX-CONNECT:{sock}", f"TCP:127.0.0.1:{rs.port}"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errf)
    try:
        text = rs.wait("talker done", types.SimpleNamespace(proc=socat), timeout=60)
        assert ct.state() == "RUNNING"
    finally:
        ct.lxc("lxc-stop", "--nokill", "-t", "20", check=False)
        if socat.poll() is None:
            socat.kill()
        socat.wait(timeout=10)
        errf.close()

    recs = []
    for line in text.splitlines():
        m = RFC5424.match(line)
        if m:
            pri, ts, host, app, procid, msgid, seq, up, params, msg = m.groups()
            recs.append(dict(pri=int(pri), host=host, app=app, msgid=msgid, seq=int(seq), params=params, msg=msg))
    assert recs, f"no amphi record in rsyslog's file:\n{text[-3000:]}"
    seqs = [r["seq"] for r in recs]
    assert sorted(seqs) == list(range(1, max(seqs) + 1)), "contiguous sequenceIds from 1, each once"
    assert recs[0]["seq"] == 1 and recs[0]["msgid"] == "boot" and 'proto="1"' in recs[0]["params"]
    assert {r["host"] for r in recs} == {"logtest"}, "HOSTNAME is the appliance's"
    boots = {re.search(r'boot="([^"]*)"', r["params"]).group(1) for r in recs}
    assert len(boots) == 1
    talker = [r for r in recs if r["app"] == "talker"]
    numbered = [r["msg"] for r in talker if r["msg"].startswith("line ")]
    assert numbered == [f"line {i}" for i in range(1, 301)], "every talker line, once, in order"
    assert all('source="service"' in r["params"] for r in talker)
    assert any(r["app"] == "installer" and 'source="syslog"' in r["params"] and "step one done" in r["msg"]
               for r in recs)
    assert not any('source="kernel"' in r["params"] for r in recs), "a container has no kernel records of its own"


# ---- 5. a container's init never looks at /sys/class/virtio-ports ----

def test_lxc_init_ignores_virtio_ports_in_the_hosts_sysfs(logs_build, lxc, readers, tmpdir_clean):
    """A container sees the host's sysfs. Here its /sys/class/virtio-ports
    is a fake that names both log ports, with their devices in its /dev:
    the stream port's a regular file, the text port's a FIFO the host
    reads. Neither may get a byte.

    The fake is one the init WOULD use without the container guard in
    logsink_start (init/logsink.c): find_ports reads
    ROOT/sys/class/virtio-ports/*/name (its first line, LF cut), and for
    "org.amphi.log.0" or "org.fedoraproject.anaconda.log.0" add_port opens
    ROOT/dev/<that entry's name> O_RDWR|O_NONBLOCK; check_port polls it for
    POLLOUT, which a regular file and a FIFO opened read-write give without
    POLLHUP, so the sink would count as connected and pump would write the
    stream or the text there."""
    fake = os.path.join(tmpdir_clean, "virtio-ports")
    for port, name in (("vport9p1", "org.amphi.log.0"), ("vport9p2", "org.fedoraproject.anaconda.log.0")):
        os.makedirs(os.path.join(fake, port))
        with open(os.path.join(fake, port, "name"), "w") as f:
            f.write(name + "\n")
    stream_dev = os.path.join(tmpdir_clean, "vport9p1")
    open(stream_dev, "w").close()
    text_dev = os.path.join(tmpdir_clean, "vport9p2")
    os.mkfifo(text_dev)
    # The host end of the FIFO, open from before the start to after the stop.
    fifo_fd = os.open(text_dev, os.O_RDONLY | os.O_NONBLOCK)
    try:
        ct = lxc(logs_build)
        config = os.path.join(tmpdir_clean, "config")
        with open(ct.config) as src, open(config, "w") as dst:
            dst.write(src.read())
            dst.write(f"lxc.mount.entry = {fake} sys/class/virtio-ports none bind,ro 0 0\n"
                      f"lxc.mount.entry = {stream_dev} dev/vport9p1 none bind,create=file 0 0\n"
                      f"lxc.mount.entry = {text_dev} dev/vport9p2 none bind,create=file 0 0\n")
        ct.config = config
        ct.start()
        console = ct.wait(r"amphi: ready env=lxc")
        # PID 1's mount namespace has the fake, so it was there to be found.
        assert ct.attach("cat", "/sys/class/virtio-ports/vport9p1/name").stdout == "org.amphi.log.0\n"
        assert ct.attach("cat", "/sys/class/virtio-ports/vport9p2/name").stdout == \
            "org.fedoraproject.anaconda.log.0\n"
        assert ct.attach("test", "-f", "/dev/vport9p1", check=False).returncode == 0, "the stream port's device"
        assert ct.attach("test", "-p", "/dev/vport9p2", check=False).returncode == 0, "the text port's device"
        # The log does flow, to the host directory's socket.
        r = readers(os.path.join(logs_build, "lxc", "host", "amphi.sock"))
        r.wait(r'"app":"talker","pri":\d+,"msg":"talker done"')
        ct.lxc("lxc-stop", "--nokill", "-t", "20")
        r.wait(r'"msg":"all processes stopped in \d+ ms; (halt|power off)"', 30)
        console = open(ct.console, errors="replace").read()
        try:
            text = os.read(fifo_fd, 1 << 20)
        except BlockingIOError:
            text = b""
    finally:
        os.close(fifo_fd)
    assert os.path.getsize(stream_dev) == 0, \
        f"the container's init wrote the stream to a port in the host's sysfs: {open(stream_dev, 'rb').read(300)!r}"
    assert text == b"", f"the container's init wrote Anaconda text to a port in the host's sysfs: {text[:300]!r}"
    assert "/dev/vport" not in console, [l for l in console.splitlines() if "/dev/vport" in l]
