"""amphi logs --text: the Anaconda text reader, against a fake guest that
serves a unix socket (as QEMU's chardev does) or writes a FIFO (as a
container's init does), and once against a real guest under QEMU.

Each test has its own directory; every process started is killed by PID in
a finally, and every wait is bounded. No test asserts on how long anything
took."""

import errno
import json
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import time

import pytest

import logfeed
from conftest import AMPHI, BOOT_TIMEOUT, build

HERE = os.path.dirname(__file__)
TIMEOUT = 10
FAIL = "amphi logs: failure: "


@pytest.fixture
def work():
    # Short: a unix socket path must fit in 108 bytes.
    d = tempfile.mkdtemp(prefix="amphi-text-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def reader(work, *args):
    return logfeed.reader(work, "--text", *args)


def guest(work):
    return logfeed.guest(os.path.join(work, "anaconda.sock"))


def finish(conn):
    """The guest stops writing, then sees the reader close without having
    written a byte: the channel is read only."""
    conn.sock.shutdown(socket.SHUT_WR)
    conn.sock.settimeout(TIMEOUT)
    assert conn.sock.recv(4096) == b"", "the reader wrote to the channel"
    conn.close()


def feed(work, chunks, *args, pause=0.0):
    """Serves chunks (bytes) on one connection; returns the finished reader."""
    with guest(work) as g, reader(work, "--connect", g.path, *args) as r:
        c = g.accept()
        for chunk in chunks:
            c.send(chunk)
            time.sleep(pause)
        finish(c)
        r.wait()
    return r


def text_lines(data):
    return data.decode().split("\n")[:-1]


def assert_harmless(data):
    """Nothing but printable UTF-8 and LF."""
    assert not any(b < 0x20 and b != 0x0a for b in data) and b"\x7f" not in data
    data.decode()  # valid UTF-8, no C1 as raw bytes either
    assert b"\xc2\x9b" not in data and b"\xc2\x85" not in data


CLEAN = [
    "08:01:02,003 INFO anaconda:anaconda 34.24 for Fedora (pre-release) started.",
    "08:01:02,010 DEBUG program:Running... udevadm trigger",
    "08:01:03,500 WARNING packaging:repo 'updates' has no metadata",
    "08:01:04,000 INFO amphi:service web started",
]


def test_lines_in_order_on_stdout_and_in_out(work):
    out = os.path.join(work, "logs")
    data = "".join(l + "\n" for l in CLEAN).encode()
    r = feed(work, [data[:50], data[50:51], data[51:]], "--out", out, pause=0.1)
    assert r.proc.returncode == 0, r.stderr
    assert text_lines(r.stdout) == CLEAN
    assert os.listdir(out) == ["anaconda.log"]
    with open(os.path.join(out, "anaconda.log"), "rb") as f:
        assert text_lines(f.read()) == CLEAN
    assert FAIL not in r.stderr
    # --out appends: a second run adds to the same file.
    r = feed(work, [b"08:01:05,000 INFO amphi:again\n"], "--out", out)
    assert r.proc.returncode == 0, r.stderr
    with open(os.path.join(out, "anaconda.log"), "rb") as f:
        assert text_lines(f.read()) == CLEAN + ["08:01:05,000 INFO amphi:again"]


def test_a_bare_cr_neither_splits_nor_stalls_and_is_escaped(work):
    with guest(work) as g, reader(work, "--connect", g.path) as r:
        c = g.accept()
        c.send(b"08:00:00,000 INFO installer:progress 10%\rprogress 100%\n")
        # Shown while the connection is still open: nothing waits for more.
        r.wait_stdout(b"progress 100%\n")
        c.send(b"08:00:00,001 INFO installer:\r\n08:00:00,002 INFO installer:after\n")
        r.wait_stdout(b"after\n")
        finish(c)
        assert r.wait() == 0, r.stderr
    assert text_lines(r.stdout) == ["08:00:00,000 INFO installer:progress 10%\\x0dprogress 100%",
                                    "08:00:00,001 INFO installer:\\x0d",
                                    "08:00:00,002 INFO installer:after"]


def test_a_line_split_across_writes_is_joined(work):
    line = b"08:00:00,000 INFO anaconda:one line, three writes"
    r = feed(work, [line[:5], line[5:30], line[30:] + b"\n"], pause=0.2)
    assert r.proc.returncode == 0, r.stderr
    assert r.stdout == line + b"\n"


def test_a_last_line_without_lf_is_shown_at_the_end(work):
    r = feed(work, [b"08:00:00,000 INFO a:one\n08:00:00,001 INFO a:cut off"])
    assert r.proc.returncode == 0, r.stderr
    assert text_lines(r.stdout) == ["08:00:00,000 INFO a:one", "08:00:00,001 INFO a:cut off"]


@pytest.mark.parametrize("bad", [
    "08:02:00,000 ERROR anaconda:packaging: Installation failed: task broken exited with status 1",
    "Traceback (most recent call last):",
    "08:02:00,000 INFO kernel:Out of memory: Killed process 42 (python3)",
    "08:02:00,000 INFO anaconda:The following error occurred while installing.  This is a fatal error: x",
    "08:02:00,000 ERROR packaging:packaging: base repo (fedora) not valid",
    "08:02:00,000 ERROR packaging:packaging: foo-1.0 requires bar",
    "08:02:00,000 INFO systemd-coredump:Process 1234 (anaconda) of user 0 dumped core.",
], ids=["installation-failed", "traceback", "oom", "fatal-error", "base-repo", "requires", "core"])
def test_a_failure_line_gives_status_3_and_is_reported(work, bad):
    out = os.path.join(work, "logs")
    data = "\n".join(CLEAN[:2] + [bad] + CLEAN[2:]).encode() + b"\n"
    r = feed(work, [data], "--out", out)
    assert r.proc.returncode == 3, r.stderr
    assert r.stderr.splitlines() == [FAIL + bad]
    assert text_lines(r.stdout) == CLEAN[:2] + [bad] + CLEAN[2:], "the log goes on after a failure"


@pytest.mark.parametrize("fine", [
    "08:02:00,000 INFO anaconda:Traceback (most recent call last): IGNORED",
    "08:02:00,000 ERROR packaging:packaging: base repo (CDROM/file:///run/install/repo) not valid",
    "08:02:00,000 INFO anaconda:packaging: Installation went fine",
    "08:02:00,000 INFO anaconda:Process 12 (bash) of user 0 dumped core",
], ids=["ignored", "cdrom-repo", "not-quite", "other-core"])
def test_lines_lorax_lets_pass_give_status_0(work, fine):
    r = feed(work, [(fine + "\n").encode()])
    assert r.proc.returncode == 0, r.stderr
    assert FAIL not in r.stderr


def test_json_lines_parse(work):
    data = (b"08:00:00,000 INFO anaconda:hello\n"
            b"08:00:01,002 ERROR amphi:packaging: Installation failed: task x exited with status 1\n"
            b"not in the format: \"quoted\" \\ \x1b[1m \xc3\xa9 \xff\n"
            b"08:00:02,000 CRITICAL some.program: leading space kept\n"
            b"8:00:02,000 INFO short:hour\n")
    r = feed(work, [data], "--json")
    assert r.proc.returncode == 3, r.stderr
    assert [json.loads(l) for l in text_lines(r.stdout)] == [
        {"time": "08:00:00,000", "level": "INFO", "program": "anaconda", "msg": "hello", "failure": False},
        {"time": "08:00:01,002", "level": "ERROR", "program": "amphi",
         "msg": "packaging: Installation failed: task x exited with status 1", "failure": True},
        {"time": None, "level": None, "program": None,
         "msg": 'not in the format: "quoted" \\ \x1b[1m é \\xff', "failure": False},
        {"time": "08:00:02,000", "level": "CRITICAL", "program": "some.program", "msg": " leading space kept",
         "failure": False},
        {"time": None, "level": None, "program": None, "msg": "8:00:02,000 INFO short:hour", "failure": False},
    ]
    assert_harmless(r.stdout)


def test_hostile_bytes_are_harmless(work):
    out = os.path.join(work, "logs")
    hostile = b"08:00:00,000 INFO ev\x1b[31mil:\x1b[2J\x1b]0;owned\x07 \xc2\x9b31m \xff\xfe \x00 caf\xc3\xa9"
    big = bytes(range(0x20, 0x7f)) * (200 * 1024 // 95 + 1)
    big = big[:200 * 1024]
    data = hostile + b"\n" + big + b"\n08:00:01,000 INFO a:still here\n"
    r = feed(work, [data[i:i + 5000] for i in range(0, len(data), 5000)], "--out", out)
    assert r.proc.returncode == 0, r.stderr
    with open(os.path.join(out, "anaconda.log"), "rb") as f:
        stored = f.read()
    assert stored == r.stdout
    assert_harmless(r.stdout)
    lines = text_lines(r.stdout)
    assert lines[0] == ("08:00:00,000 INFO ev\\x1b[31mil:\\x1b[2J\\x1b]0;owned\\x07 \\xc2\\x9b31m "
                        "\\xff\\xfe \\x00 café")
    # The 200 KiB line comes in pieces of at most 64 KiB, nothing lost.
    pieces = lines[1:-1]
    assert len(pieces) == 4 and all(len(p) <= 64 * 1024 for p in pieces)
    assert "".join(pieces).encode() == big
    assert lines[-1] == "08:00:01,000 INFO a:still here"


def test_bidi_and_invisible_characters_are_escaped(work):
    line = "08:00:00,000 INFO anaconda:ok \u202e deliaf \u2067x\u2069\u200d\n".encode()
    out = os.path.join(work, "logs")
    r = feed(work, [line], "--out", out)
    assert r.proc.returncode == 0, r.stderr
    shown = "08:00:00,000 INFO anaconda:ok \\xe2\\x80\\xae deliaf \\xe2\\x81\\xa7x\\xe2\\x81\\xa9\\xe2\\x80\\x8d"
    assert text_lines(r.stdout) == [shown]
    with open(os.path.join(out, "anaconda.log"), "rb") as f:
        assert text_lines(f.read()) == [shown]


def test_a_failure_in_a_long_line_is_still_seen(work):
    line = b"08:00:00,000 ERROR anaconda:" + b"x" * (100 * 1024) + b" packaging: Installation failed: y\n"
    r = feed(work, [line], "--quiet")
    assert r.proc.returncode == 3, r.stderr
    assert r.stdout == b""
    assert r.stderr.count(FAIL) == 1


# ---- the container's FIFO ----

def fifo_writer(path, timeout=TIMEOUT):
    """As the container's init opens it: nonblocking, ENXIO until a reader
    has it open."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            os.set_blocking(fd, True)
            return fd
        except OSError as e:
            if e.errno not in (errno.ENOENT, errno.ENXIO) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_fifo_made_when_missing_and_read_to_the_end(work):
    path = os.path.join(work, "host", "anaconda.fifo")
    os.makedirs(os.path.dirname(path))
    out = os.path.join(work, "logs")
    with reader(work, "--fifo", path, "--out", out) as r:
        fd = fifo_writer(path)
        try:
            assert stat.S_ISFIFO(os.stat(path).st_mode)
            os.write(fd, b"08:00:00,000 INFO amphi:from the container\n08:00:00,001 ERROR amphi:packa")
            time.sleep(0.2)
            os.write(fd, b"ging: Installation failed: task broken exited with status 1\n")
        finally:
            os.close(fd)
        assert r.wait() == 3, r.stderr
    lines = ["08:00:00,000 INFO amphi:from the container",
             "08:00:00,001 ERROR amphi:packaging: Installation failed: task broken exited with status 1"]
    assert text_lines(r.stdout) == lines
    assert r.stderr.splitlines() == [FAIL + lines[1]]
    with open(os.path.join(out, "anaconda.log"), "rb") as f:
        assert text_lines(f.read()) == lines


def test_fifo_with_follow_takes_one_writer_after_another(work):
    path = os.path.join(work, "anaconda.fifo")
    with reader(work, "--fifo", path, "--follow") as r:
        for boot in range(3):
            fd = fifo_writer(path)
            try:
                os.write(fd, f"08:00:00,000 INFO amphi:boot {boot}\n".encode())
            finally:
                os.close(fd)
            r.wait_stdout(f"boot {boot}\n".encode())
        assert r.stop() == 0, r.stderr
    assert text_lines(r.stdout) == [f"08:00:00,000 INFO amphi:boot {b}" for b in range(3)]


def test_fifo_refuses_what_is_not_a_fifo(work):
    path = os.path.join(work, "plain")
    with open(path, "w") as f:
        f.write("x")
    r = subprocess.run([AMPHI, "logs", "--text", "--fifo", path], capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 1 and f"--fifo {path}: a regular file, not a FIFO" in r.stderr


def test_usage_and_a_missing_socket(work):
    r = subprocess.run([AMPHI, "logs", "--fifo", os.path.join(work, "f")], capture_output=True, text=True,
                       timeout=TIMEOUT)
    assert r.returncode == 2 and "--fifo carries Anaconda text: add --text" in r.stderr
    assert "3 (--text) the log reported a failure" in r.stderr
    r = subprocess.run([AMPHI, "logs", "--text", "--connect", "a", "--fifo", "b"], capture_output=True, text=True,
                       timeout=TIMEOUT)
    assert r.returncode == 2 and "amphi logs --text (--connect PATH | --listen PATH | --fifo PATH)" in r.stderr
    r = subprocess.run([AMPHI, "logs", "--text", "--connect", os.path.join(work, "none.sock")],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 1 and "none.sock: No such file or directory; is the VM running?" in r.stderr


def test_listen_takes_a_guest_that_connects(work):
    path = os.path.join(work, "text.sock")
    with reader(work, "--listen", path) as r:
        c = logfeed.connect(path)
        c.send(b"08:00:00,000 INFO amphi:via listen\n")
        r.wait_stdout(b"via listen\n")
        finish(c)
        assert r.stop() == 0, r.stderr
    assert not os.path.exists(path)


# ---- a real guest ----

def test_a_failed_task_under_qemu_gives_status_3(work):
    out = os.path.join(work, "out")
    build(os.path.join(HERE, "recipes", "logs-fail.conf"), out)
    sock = os.path.join(work, "anaconda.sock")
    env = dict(os.environ, AMPHI_ACCEL="tcg", AMPHI_LOG_DIR=work)
    with open(os.path.join(work, "serial.log"), "wb") as serial:
        vm = subprocess.Popen([os.path.join(out, "vm", "launch"), "-monitor", "none"], stdin=subprocess.DEVNULL,
                              stdout=serial, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + TIMEOUT
        while not os.path.exists(sock):
            assert vm.poll() is None and time.monotonic() < deadline, f"no {sock} (qemu {vm.poll()})"
            time.sleep(0.05)
        with reader(work, "--connect", sock) as r:
            deadline = time.monotonic() + BOOT_TIMEOUT
            while FAIL not in r.stderr:
                assert r.proc.poll() is None, f"reader exited {r.proc.poll()}: {r.stderr}"
                assert vm.poll() is None and time.monotonic() < deadline, f"no failure line: {r.stdout[-2000:]!r}"
                time.sleep(0.1)
            vm.kill()
            vm.wait(timeout=TIMEOUT)
            assert r.wait() == 3, r.stderr  # QEMU gone: the reader saw EOF
    finally:
        if vm.poll() is None:
            vm.kill()
        vm.wait(timeout=TIMEOUT)
    failures = [l for l in r.stderr.splitlines() if l.startswith(FAIL)]
    assert len(failures) == 1, r.stderr
    assert failures[0].endswith("ERROR amphi:packaging: Installation failed: task broken exited with status 1")
    assert "never started" not in r.stdout.decode()
    assert any(" INFO kernel:Linux version" in l for l in text_lines(r.stdout))
