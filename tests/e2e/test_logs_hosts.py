"""The log ports read by real host-side software, not by amphi's own reader:
Debian's rsyslogd (imtcp) takes the amphi stream, and a reader that behaves
exactly like Lorax's log monitor (pylorax/monitor.py) takes the Anaconda
text. QEMU is the TCP client in both cases (the launcher's
AMPHI_LOG_CHARDEV / AMPHI_ANACONDA_CHARDEV), the host side listens on
127.0.0.1 only, on a port picked by the kernel.

Everything started here (rsyslogd, the monitor's thread, QEMU) is stopped
by PID or joined in a fixture or finally, pass or fail; every wait is bounded
and nothing asserts on how long anything took."""

import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import BOOT_TIMEOUT, build, terminate

HERE = os.path.dirname(__file__)
RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"


def _build(recipe):
    d = tempfile.mkdtemp(prefix="amphi-e2e-hosts-")
    out = os.path.join(d, "out")
    try:
        build(os.path.join(HERE, "recipes", recipe), out)
    except BaseException:
        shutil.rmtree(d, ignore_errors=True)
        raise
    return d, out


@pytest.fixture(scope="module")
def logs_build():
    d, out = _build("logs.conf")
    yield out
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def fail_build():
    d, out = _build("logs-fail.conf")
    yield out
    shutil.rmtree(d, ignore_errors=True)


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port):
    """True once some socket listens on 127.0.0.1:port (read from
    /proc/net/tcp, so that checking does not open a session)."""
    want = "0100007F:%04X" % port
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[1] == want and fields[3] == "0A":
                return True
    return False


def chardev(port):
    return f"socket,host=127.0.0.1,port={port},reconnect=1"


# ---- 1. rsyslog's imtcp takes the amphi stream ----

class Rsyslogd:
    """rsyslogd -n with a configuration of its own: imtcp on 127.0.0.1,
    everything written to one file in RFC 5424 form (structured data kept).
    No imuxsock, no imklog: it never touches /dev/log or the host's kernel
    log."""

    def __init__(self, workdir):
        self.dir = os.path.join(workdir, "rsyslog")
        os.makedirs(os.path.join(self.dir, "work"))
        self.port = free_port()
        self.out = os.path.join(self.dir, "amphi.log")
        self.conf = os.path.join(self.dir, "rsyslog.conf")
        self.pidfile = os.path.join(self.dir, "rsyslogd.pid")
        self.stderr = os.path.join(self.dir, "rsyslogd.stderr")
        with open(self.conf, "w") as f:
            f.write(f'global(workDirectory="{self.dir}/work" maxMessageSize="16k")\n'
                    f'module(load="imtcp")\n'
                    f'input(type="imtcp" address="127.0.0.1" port="{self.port}")\n'
                    f'action(type="omfile" file="{self.out}" template="RSYSLOG_SyslogProtocol23Format")\n')
        self.errf = open(self.stderr, "wb")
        self.proc = subprocess.Popen([RSYSLOGD, "-n", "-f", self.conf, "-i", self.pidfile],
                                     stdin=subprocess.DEVNULL, stdout=self.errf, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while not listening(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"rsyslogd is not listening on 127.0.0.1:{self.port} "
                                     f"(exit {self.proc.poll()}):\n{self.log()}")
            time.sleep(0.05)

    def log(self):
        with open(self.stderr, errors="replace") as f:
            return f.read()[-3000:]

    def text(self):
        try:
            with open(self.out, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait(self, needle, vm, timeout=BOOT_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.text()
            if needle in text:
                return text
            if vm.proc.poll() is not None or self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"no {needle!r} in rsyslog's file within {timeout}s (qemu {vm.proc.poll()}, "
                             f"rsyslogd {self.proc.poll()}); it holds:\n{self.text()[-3000:]}\n"
                             f"rsyslogd says:\n{self.log()}")

    def stop(self):
        terminate(self.proc)
        self.errf.close()


@pytest.fixture
def rsyslogd(tmpdir_clean):
    assert os.access(RSYSLOGD, os.X_OK), "rsyslogd is not installed (Debian package rsyslog; make deps installs it)"
    started = []

    def start():
        r = Rsyslogd(tmpdir_clean)
        started.append(r)
        return r

    yield start
    for r in started:
        r.stop()


# RSYSLOG_SyslogProtocol23Format:
#   <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA MSG\n
RFC5424 = re.compile(r'^<(\d+)>1 (\S+) (\S+) (\S+) (\S+) (\S+) '
                     r'\[meta sequenceId="(\d+)" sysUpTime="(\d+)"\]'
                     r'\[amphi@32473 ([^\]]*)\] ?(.*)$')


def test_rsyslog_imtcp_receives_the_amphi_stream(logs_build, qemu, rsyslogd, monkeypatch):
    rs = rsyslogd()
    monkeypatch.setenv("AMPHI_LOG_CHARDEV", chardev(rs.port))
    vm = qemu(logs_build)
    text = rs.wait("talker done", vm)
    # rsyslog never acknowledges: the stream went on all the same.
    assert vm.proc.poll() is None, "the guest is still running"

    recs = []
    for line in text.splitlines():
        m = RFC5424.match(line)
        if m:
            pri, ts, host, app, procid, msgid, seq, up, params, msg = m.groups()
            recs.append(dict(app=app, msgid=msgid, seq=int(seq), up=int(up), params=params, msg=msg))
    assert recs, f"no amphi record in rsyslog's file:\n{text[-3000:]}"
    # What rsyslog stored is the stream from its first record, without a gap
    # or a repeat (nothing was replayed: the one connection held).
    seqs = [r["seq"] for r in recs]
    assert sorted(seqs) == list(range(1, max(seqs) + 1)), "contiguous sequenceIds from 1, each once"
    assert recs[0]["seq"] == 1 and recs[0]["msgid"] == "boot" and 'proto="1"' in recs[0]["params"]
    boots = {re.search(r'boot="([^"]*)"', r["params"]).group(1) for r in recs}
    assert len(boots) == 1
    talker = [r for r in recs if r["app"] == "talker"]
    numbered = [r["msg"] for r in talker if r["msg"].startswith("line ")]
    assert numbered == [f"line {i}" for i in range(1, 301)], "every talker line, once, in order"
    tseqs = [r["seq"] for r in talker]
    assert tseqs == sorted(tseqs) and len(set(tseqs)) == len(tseqs), "the talker's ids increase"
    assert all('source="service"' in r["params"] for r in talker)
    assert any(r["app"] == "kernel" and 'source="kernel"' in r["params"] and "Linux version" in r["msg"]
               for r in recs), "the kernel's first words"
    assert any(r["app"] == "installer" and 'source="syslog"' in r["params"] and "step one done" in r["msg"]
               for r in recs)


# ---- 2. Lorax's log monitor takes the Anaconda text ----

class LoraxMonitor:
    """What pylorax/monitor.py does with the virtio log port: a TCP server on
    loopback that QEMU connects to, one connection handled (Lorax's
    LogServer.handle_request), recv(4096) decoded as UTF-8 chunk by chunk,
    the text cut with str.splitlines(keepends=True), an incomplete last piece
    kept for the next chunk, and each line checked for the failure strings.

    splitlines also cuts at \\r, \\x0b, \\x0c, \\x1c-\\x1e, \\x85, \\u2028 and
    \\u2029: a piece cut there does not end in \\n, so a real monitor, which
    only processes pieces that end in \\n, would be stuck on it. Such a
    piece is recorded in `stalls`."""

    simple_tests = [
        "Traceback (",
        "Out of memory:",
        "Call Trace:",
        "insufficient disk space:",
        "crashed on signal",
        "packaging: Installation failed",
        "The following error occurred while installing.  This is a fatal error",
    ]

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]
        self.kill = False
        self.lines = []        # every processed piece, as received
        self.stalls = []       # processed pieces that do not end in \n
        self.pending = ""      # the incomplete last piece
        self.log_error = False
        self.error_line = ""
        self.exception = None
        self.connected = False
        self.eof = False
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        # Lorax waits 60 s for the connection (LogServer.timeout).
        self.listener.settimeout(60)
        try:
            conn, _ = self.listener.accept()
        except OSError as e:
            self.exception = e
            return
        self.connected = True
        with conn:
            conn.settimeout(10)
            while not self.kill:
                try:
                    raw = conn.recv(4096)
                except socket.timeout:
                    continue
                except OSError as e:
                    self.exception = e
                    break
                if not raw:
                    self.eof = True
                    break
                try:
                    data = str(raw, "utf8")
                except UnicodeDecodeError as e:
                    # Lorax: "log processing killed by exception"
                    self.exception = e
                    break
                self._feed(data)

    def _feed(self, data):
        with self.lock:
            pieces = (self.pending + data).splitlines(keepends=True)
            self.pending = ""
            if pieces and not pieces[-1].endswith("\n"):
                self.pending = pieces.pop()
            for piece in pieces:
                self.lines.append(piece)
                if not piece.endswith("\n"):
                    self.stalls.append(piece)
                self._iserror(piece)

    def _iserror(self, line):
        if "IGNORED" in line:
            return
        for t in self.simple_tests:
            if t in line:
                self.log_error = True
                self.error_line = line
                return

    def snapshot(self):
        with self.lock:
            return list(self.lines), list(self.stalls), self.pending

    def wait(self, cond, what, vm, timeout=BOOT_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if cond():
                return
            if vm.proc.poll() is not None or not self.thread.is_alive():
                break
            time.sleep(0.1)
        lines, stalls, pending = self.snapshot()
        raise AssertionError(f"monitor: no {what} within {timeout}s (qemu {vm.proc.poll()}, connected "
                             f"{self.connected}, eof {self.eof}, exception {self.exception!r}); "
                             f"last lines: {lines[-20:]!r}, stalls {stalls[:5]!r}, pending {pending!r}")

    def saw(self, needle):
        with self.lock:
            return any(needle in l for l in self.lines)

    def stop(self):
        self.kill = True
        self.thread.join(timeout=15)
        self.listener.close()


@pytest.fixture
def lorax():
    made = []

    def make():
        m = LoraxMonitor()
        made.append(m)
        return m

    yield make
    for m in made:
        m.stop()


def test_lorax_monitor_model(lorax):
    """The model itself, with no guest: it keeps a piece cut across chunks
    for later, flags a failure string split over two chunks, and records a
    bare \\r (which a real monitor would be stuck on) as a stall."""
    mon = lorax()
    with socket.create_connection(("127.0.0.1", mon.port), timeout=5) as c:
        for chunk in (b"00:00:00,000 INFO a:one\n00:00:00,001 ERROR a:packaging: Instal",
                      b"lation failed: x\n00:00:00,002 INFO a:progress 10%\rprogress 100%\n",
                      b"00:00:00,003 INFO a:tail"):
            c.sendall(chunk)
            time.sleep(0.2)
        deadline = time.monotonic() + 10
        while mon.snapshot()[2] != "00:00:00,003 INFO a:tail" and time.monotonic() < deadline:
            time.sleep(0.05)
    lines, stalls, pending = mon.snapshot()
    assert lines == ["00:00:00,000 INFO a:one\n",
                     "00:00:00,001 ERROR a:packaging: Installation failed: x\n",
                     "00:00:00,002 INFO a:progress 10%\r", "progress 100%\n"]
    assert stalls == ["00:00:00,002 INFO a:progress 10%\r"]
    assert pending == "00:00:00,003 INFO a:tail"
    assert mon.log_error and "Installation failed: x" in mon.error_line


ANACONDA_LINE = re.compile(r"^\d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) [^:\s]+:.*\n$")


def test_lorax_monitor_success(logs_build, qemu, lorax, monkeypatch):
    mon = lorax()
    monkeypatch.setenv("AMPHI_ANACONDA_CHARDEV", chardev(mon.port))
    vm = qemu(logs_build)
    mon.wait(lambda: mon.saw("talker:talker done\n"), '"talker done" line', vm)
    lines, stalls, pending = mon.snapshot()
    assert not stalls, f"pieces a real monitor would stall on: {stalls[:5]!r}"
    assert not mon.log_error, f"failure line: {mon.error_line!r}"
    bad = [l for l in lines if not ANACONDA_LINE.match(l)]
    assert not bad, f"not Anaconda lines: {bad[:5]!r}"
    numbered = [l.split("talker:", 1)[1] for l in lines if " talker:line " in l]
    assert numbered == [f"line {i}\n" for i in range(1, 301)], "every talker line, once, in order"
    # The installer's carriage return came escaped, inside its one line.
    assert any(l.endswith("installer:progress 10%\\x0dprogress 100%\n") for l in lines)

    # Lorax's verdict: the guest powers off, QEMU exits 0, no failure line.
    vm.monitor("system_powerdown")
    assert vm.exit_code() == 0
    mon.wait(lambda: mon.eof, "end of the stream after power off", vm, timeout=15)
    lines, stalls, pending = mon.snapshot()
    assert not stalls and pending == "", (stalls[:5], pending)
    assert mon.exception is None, repr(mon.exception)
    assert not mon.log_error, f"failure line: {mon.error_line!r}"
    assert all(ANACONDA_LINE.match(l) for l in lines)


def test_lorax_monitor_sees_a_failed_task(fail_build, qemu, lorax, monkeypatch):
    mon = lorax()
    monkeypatch.setenv("AMPHI_ANACONDA_CHARDEV", chardev(mon.port))
    vm = qemu(fail_build)
    mon.wait(lambda: mon.log_error, "failure line", vm)
    # Lorax would now kill the guest and call the install failed.
    assert "packaging: Installation failed: task broken exited with status 1" in mon.error_line
    assert re.match(r"^\d\d:\d\d:\d\d,\d{3} ERROR amphi:packaging: Installation failed", mon.error_line), \
        mon.error_line
    lines, stalls, _ = mon.snapshot()
    assert not stalls, stalls[:5]
    assert not any("never started" in l for l in lines), "nothing after the failed task started"
    console = vm.wait(r"emergency shell")
    assert "packaging: Installation failed: task broken exited with status 1" in console
