"""A fake amphi guest for testing `amphi logs` without a VM.

It writes the amphi log stream of docs/PROTOCOL.md, built here by hand and
independently of lib/logframe.c (RFC 6587 §3.4.1 octet counting around RFC
5424 messages), and reads the reader's "ACK <seq>" lines back. Every wait is
bounded."""

import contextlib
import os
import signal
import subprocess
import re
import select
import socket
import time


def message(seq, msg, boot="b0", app="web", source="service", uptime_cs=None, msgid="-", pri=14, proto=1):
    """One RFC 5424 message (bytes) as the guest sends it (proto=None: as a
    writer that does not say its version)."""
    if isinstance(msg, str):
        msg = msg.encode()
    uptime_cs = seq * 100 + 7 if uptime_cs is None else uptime_cs
    amphi = f'source="{source}" boot="{boot}"'
    if proto is not None:
        amphi += f' proto="{proto}"'
    head = (f"<{pri}>1 2024-05-01T12:00:00.000000Z appliance {app} - {msgid} "
            f'[meta sequenceId="{seq}" sysUpTime="{uptime_cs}"][amphi@32473 {amphi}] ')
    return head.encode() + msg


def frame(payload):
    """RFC 6587 octet counting: "LEN SP MSG"."""
    return str(len(payload)).encode() + b" " + payload


def record(seq, msg, **kw):
    return frame(message(seq, msg, **kw))


class Conn:
    """One connection from the guest's side: send frames, collect acks."""

    def __init__(self, sock):
        self.sock = sock
        self.sock.settimeout(10)
        self.acks = []
        self._pending = b""

    def send(self, data):
        self.sock.sendall(data)

    def read_acks(self, timeout):
        """Reads what is there within timeout; returns False once the peer closed."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return True
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                return True
            try:
                data = self.sock.recv(4096)
            except (ConnectionResetError, OSError):
                return False
            if not data:
                return False
            self._pending += data
            *lines, self._pending = self._pending.split(b"\n")
            for line in lines:
                m = re.fullmatch(rb"ACK (\d+)", line)
                assert m, f"not an ack line: {line!r}"
                self.acks.append(int(m.group(1)))

    def wait_ack(self, seq, timeout=10):
        """Waits until the reader acknowledged seq (or more)."""
        deadline = time.monotonic() + timeout
        while not (self.acks and max(self.acks) >= seq):
            left = deadline - time.monotonic()
            assert left > 0, f"no ACK {seq} within {timeout}s; got {self.acks}"
            if not self.read_acks(min(left, 0.5)) and not (self.acks and max(self.acks) >= seq):
                raise AssertionError(f"reader closed before ACK {seq}; got {self.acks}")
        return max(self.acks)

    def wait_closed(self, timeout=10):
        """Waits until the reader closed its end."""
        deadline = time.monotonic() + timeout
        while self.read_acks(0.2):
            assert time.monotonic() < deadline, "the reader did not close the connection"

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Guest:
    """Serves a unix socket as QEMU's chardev (server=on,wait=off) or a
    container's amphi.sock do; the reader connects."""

    def __init__(self, path):
        self.path = path
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(path)
        self.srv.listen(4)

    def accept(self, timeout=10):
        self.srv.settimeout(timeout)
        sock, _ = self.srv.accept()
        return Conn(sock)

    def close(self):
        self.srv.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def connect_socket(path, timeout=10):
    """A stream socket connected to path, which may not exist yet or may be
    bound but not yet listening (QEMU binds, then listens)."""
    deadline = time.monotonic() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            return s
        except (FileNotFoundError, ConnectionRefusedError):
            s.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def connect(path, timeout=10):
    """As QEMU with reconnect=1 does towards `amphi logs --listen`."""
    return Conn(connect_socket(path, timeout))


# ---- the reader side: build/amphi logs as a subprocess ----

READER_TIMEOUT = 10


class Reader:
    """build/amphi logs ARGS, its stdout and stderr in files under work."""

    def __init__(self, work, args, env=None):
        from conftest import AMPHI
        self.out_path = os.path.join(work, "reader.out")
        self.err_path = os.path.join(work, "reader.err")
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen([AMPHI, "logs", *args], stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                         env=env)

    def wait(self, timeout=READER_TIMEOUT):
        return self.proc.wait(timeout=timeout)

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        return self.wait()

    @property
    def stdout(self):
        with open(self.out_path, "rb") as f:
            return f.read()

    @property
    def stderr(self):
        with open(self.err_path, errors="replace") as f:
            return f.read()

    def wait_stdout(self, needle, timeout=READER_TIMEOUT):
        """Waits until needle (bytes) is on stdout while the reader runs."""
        deadline = time.monotonic() + timeout
        while needle not in self.stdout:
            assert self.proc.poll() is None, f"reader exited {self.proc.poll()}: {self.stderr}"
            assert time.monotonic() < deadline, f"no {needle!r} on stdout within {timeout}s: {self.stdout[-500:]!r}"
            time.sleep(0.05)


@contextlib.contextmanager
def reader(work, *args, env=None):
    """A Reader, killed by PID on the way out whatever happened."""
    r = Reader(work, args, env)
    try:
        yield r
    finally:
        if r.proc.poll() is None:
            r.proc.kill()
        r.proc.wait(timeout=READER_TIMEOUT)


@contextlib.contextmanager
def guest(path):
    """A fake guest serving the unix socket at path, as QEMU's chardev
    (server=on,wait=off) does; closed on the way out."""
    g = Guest(path)
    try:
        yield g
    finally:
        g.close()
