"""What a guest can take from the host through amphi logs --out is bounded:
a boot gets at most 64 program files (the records of
other programs are in all.log only, said once); --max-boots and --max-size
remove the oldest boots first, never the one being written; a full disk (or
a boot alone over --max-size) stops the acks, so the guest keeps its
records, and with --follow the reader goes on once there is room: every
record stored exactly once.

A fake guest (logfeed.py) stands in for the appliance; the full disk is a
small tmpfs mounted over --out in a mount namespace of the reader's own
(unshare -m), reached from here through /proc/PID/root. Each test has its
own directory; every process started is killed by PID in a finally, every
wait is bounded, and nothing asserts on how long anything took."""

import contextlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

import logfeed
from conftest import AMPHI

TIMEOUT = 20
MSG = "x" * 1000  # a record of about 1 KB, stored twice (all.log and its program's file)


@pytest.fixture
def work():
    # Short: a unix socket path must fit in 108 bytes.
    d = tempfile.mkdtemp(prefix="amphi-bounds-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def lines(path):
    with open(path, "rb") as f:
        return f.read().decode().splitlines()


def send_boot(c, boot, seqs, msg=MSG):
    c.send(b"".join(logfeed.record(s, f"{boot} {s} {msg}", boot=boot) for s in seqs))


# ---- program files ----

def test_programs_past_64_go_to_all_log_only_and_it_is_said_once(work):
    out = os.path.join(work, "logs")
    apps = [f"tag{i}" for i in range(70)]
    with logfeed.guest(os.path.join(work, "amphi.sock")) as g, \
            logfeed.reader(work, "--connect", g.path, "--out", out, "--quiet") as r:
        c = g.accept()
        c.send(b"".join(logfeed.record(i + 1, f"from {a}", app=a) for i, a in enumerate(apps)))
        c.send(logfeed.record(71, "again", app="tag0"))
        assert c.wait_ack(71) == 71
        c.close()
        assert r.wait() == 0, r.stderr
    files = sorted(f for f in os.listdir(os.path.join(out, "b0")) if f != "all.log" and f.endswith(".log"))
    assert files == sorted(f"tag{i}.log" for i in range(64))
    assert r.stderr.count("program files") == 1, r.stderr
    assert f"{out}/b0 has 64 program files, as many as a boot gets; the records of programs without one " \
           "(the first: tag64) are in all.log only" in r.stderr
    all_log = lines(os.path.join(out, "b0", "all.log"))
    assert [ln.split(": ", 1)[1] for ln in all_log] == [f"from {a}" for a in apps] + ["again"]
    assert lines(os.path.join(out, "b0", "tag0.log"))[-1].endswith("tag0: again")


# ---- --max-boots, --max-size ----

def test_max_boots_removes_the_oldest_boots(work):
    out = os.path.join(work, "logs")
    with logfeed.guest(os.path.join(work, "amphi.sock")) as g, \
            logfeed.reader(work, "--connect", g.path, "--out", out, "--quiet", "--max-boots", "2") as r:
        c = g.accept()
        for boot in ("bootA", "bootB", "bootC"):
            send_boot(c, boot, range(1, 3), msg="m")
            c.wait_ack(2)
            time.sleep(0.05)  # .stored's times differ (a coarse clock)
        c.close()
        assert r.wait() == 0, r.stderr
    assert sorted(os.listdir(out)) == ["bootB", "bootC"]
    assert re.search(rf"amphi logs: removed {re.escape(out)}/bootA, the oldest boot \(\d+ bytes\): over --max-boots",
                     r.stderr), r.stderr


def test_max_size_removes_the_oldest_boot_then_holds_acks_until_started_with_more(work):
    """Past --max-size the oldest boot goes; when the boot being written is
    alone over it, nothing more is acknowledged (the guest keeps it), said
    once with what to do; a reader started again with a larger --max-size
    goes on where it stopped, storing nothing twice."""
    out = os.path.join(work, "logs")
    sock = os.path.join(work, "amphi.sock")
    with logfeed.guest(sock) as g:
        with logfeed.reader(work, "--connect", g.path, "--out", out, "--quiet", "--follow",
                            "--max-size", "30K") as r:
            c = g.accept()
            send_boot(c, "b1", range(1, 9))  # about 16 KB
            assert c.wait_ack(8) == 8
            time.sleep(0.05)
            send_boot(c, "b2", range(1, 9))  # 32 KB in all: b1 goes
            assert c.wait_ack(8) == 8
            send_boot(c, "b2", range(9, 17))  # b2 alone is over 30 KB
            c.read_acks(2.5)  # two of the reader's tries, a second apart
            assert max(c.acks) == 8, f"acknowledged past --max-size: {c.acks}"
            assert r.stop() == 0, r.stderr
            c.close()
        assert sorted(os.listdir(out)) == ["b2"]
        assert re.search(rf"removed {re.escape(out)}/b1, the oldest boot \(\d+ bytes\): over --max-size", r.stderr)
        assert r.stderr.count("the store is full") == 1, r.stderr
        assert "over --max-size 30720, and the boot being written (b2) is the only one left to remove; give " \
               "amphi logs a larger --max-size" in r.stderr
        # The guest still holds 9-16 and sends them to the next reader.
        with logfeed.reader(work, "--connect", g.path, "--out", out, "--quiet", "--max-size", "1M") as r:
            c = g.accept()
            send_boot(c, "b2", range(9, 17))
            assert c.wait_ack(16) == 16
            c.close()
            assert r.wait() == 0, r.stderr
    msgs = [ln.split(": ", 1)[1] for ln in lines(os.path.join(out, "b2", "all.log"))]
    assert msgs == [f"b2 {s} {MSG}" for s in range(1, 17)], "every record once, in order"


@pytest.mark.parametrize("args, why", [
    (("--max-size", "lots"), "--max-size lots: expected a size such as 512M or 2G (0: no limit)"),
    (("--max-size", "-1"), "--max-size -1: expected a size"),
    (("--max-boots", "1K"), "--max-boots 1K: expected a number of boots, 0 to 1000000 (0: no limit)"),
    (("--max-boots",), "a value is missing after '--max-boots'"),
])
def test_bad_bounds_are_refused_with_what_is_expected(work, args, why):
    r = subprocess.run([AMPHI, "logs", "--connect", os.path.join(work, "s"), "--out", work, *args],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 2 and why in r.stderr, r.stderr


def test_help_tells_the_bounds():
    r = subprocess.run([AMPHI, "logs", "--help"], capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0
    for words in ("--max-size SIZE", "--max-boots N", "default 100", "at most 64 program files",
                  "On a full disk, or with the boot being written alone over --max-size, nothing more is "
                  "acknowledged", "With --text such lines are shown, not stored"):
        assert words in r.stdout


# ---- a full disk ----

class Guest(logfeed.Guest):
    """A guest that keeps what the reader has not acknowledged and sends it
    again on the next connection, as amphi-init does."""

    def __init__(self, path):
        super().__init__(path)
        self.frames = {}  # seq -> frame
        self.acked = 0

    def add(self, seqs):
        for s in seqs:
            self.frames[s] = logfeed.record(s, f"m{s} {MSG}")

    def connection(self, timeout):
        """Accepts the reader (or None after timeout) and sends it all it
        has not acknowledged."""
        self.srv.settimeout(timeout)
        try:
            sock, _ = self.srv.accept()
        except socket.timeout:
            return None
        c = logfeed.Conn(sock)
        with contextlib.suppress(OSError):
            c.send(b"".join(self.frames[s] for s in sorted(self.frames) if s > self.acked))
        return c

    def log(self, c, seqs):
        """Logs seqs ten at a time, each ten acknowledged before the next,
        until the reader closes the connection."""
        seqs = list(seqs)
        self.add(seqs)
        for i in range(0, len(seqs), 10):
            try:
                c.send(b"".join(self.frames[s] for s in seqs[i:i + 10]))
                c.wait_ack(seqs[min(i + 9, len(seqs) - 1)])
            except (OSError, AssertionError):
                c.wait_closed(TIMEOUT)
                break
        self.take_acks(c)

    def take_acks(self, c):
        self.acked = max([self.acked, *c.acks])


@contextlib.contextmanager
def reader_on_small_tmpfs(work, out, size, *args, inodes=None):
    """amphi logs ARGS with a tmpfs of size (and at most inodes files) over
    out, in a mount namespace of its own; killed by PID on the way out (the
    tmpfs goes with it)."""
    opts = f"size={size}" + (f",nr_inodes={inodes}" if inodes else "")
    err = open(os.path.join(work, "reader.err"), "wb")
    shown = open(os.path.join(work, "reader.out"), "wb")
    proc = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c",
                             f'mount -t tmpfs -o {opts} amphi-test "$0" && exec "$@"', out,
                             AMPHI, "logs", *args], stdin=subprocess.DEVNULL, stdout=shown, stderr=err)
    try:
        # Its view of out, once the tmpfs is there and amphi runs.
        view = f"/proc/{proc.pid}/root{out}"
        deadline = time.monotonic() + TIMEOUT
        while True:
            assert proc.poll() is None, open(err.name).read()
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{proc.pid}/exe") == AMPHI and os.statvfs(view).f_blocks * 4096 == size:
                    break
            assert time.monotonic() < deadline, "the reader's tmpfs did not appear"
            time.sleep(0.05)
        proc.view = view
        proc.err_path = err.name
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=TIMEOUT)
        err.close()
        shown.close()


def stderr_of(proc):
    with open(proc.err_path, errors="replace") as f:
        return f.read()


def wait_stderr(proc, needle):
    deadline = time.monotonic() + TIMEOUT
    while needle not in stderr_of(proc):
        assert proc.poll() is None, f"reader exited {proc.returncode}: {stderr_of(proc)}"
        assert time.monotonic() < deadline, f"no {needle!r} on stderr: {stderr_of(proc)}"
        time.sleep(0.05)


def test_a_full_disk_holds_the_acks_and_every_record_arrives_once_when_there_is_room(work):
    out = os.path.join(work, "logs")
    os.mkdir(out)
    size = 1 << 20
    g = Guest(os.path.join(work, "amphi.sock"))
    try:
        with reader_on_small_tmpfs(work, out, size, "--connect", g.path, "--out", out, "--quiet", "--follow") as r:
            # Most of the disk taken by something else.
            filler = os.path.join(r.view, "filler")
            with open(filler, "wb") as f:
                f.write(b"\0" * (size - 200 * 1024))
            # 300 records need about 600 KB: the disk fills on the way.
            c = g.connection(TIMEOUT)
            assert c is not None
            g.log(c, range(1, 301))
            c.close()
            wait_stderr(r, "the store is full")
            assert 0 < g.acked < 300, f"acknowledged {g.acked}: what a full disk cannot hold, or nothing before"
            with open(os.path.join(r.view, "b0", "all.log"), "rb") as f:
                assert f.read().count(b"\n") >= g.acked, "an acknowledged record is not in all.log"
            # The guest goes on logging; the reader takes nothing while full.
            g.add(range(301, 351))
            assert g.connection(2.5) is None, "the reader came back while the disk was still full"
            os.unlink(filler)
            c = g.connection(TIMEOUT)
            assert c is not None, "the reader did not come back once there was room"
            assert c.wait_ack(350, TIMEOUT) == 350
            g.take_acks(c)
            all_log = lines(os.path.join(r.view, "b0", "all.log"))
            web_log = lines(os.path.join(r.view, "b0", "web.log"))
            stored_seq = open(os.path.join(r.view, "b0", ".stored")).read()
            err = stderr_of(r)
            c.close()
    finally:
        g.close()
    want = [f"m{s} {MSG}" for s in range(1, 351)]
    assert [ln.split(": ", 1)[1] for ln in all_log] == want, "every record once, in order, whole"
    assert [ln.split(": ", 1)[1] for ln in web_log] == want
    assert int(stored_seq) == 350
    assert err.count("the store is full") == 1, err
    assert re.search(r"the store is full: writing \S+/b0/\S+\.log: No space left on device; nothing more is "
                     r"acknowledged, the guest keeps its records", err), err
    assert err.count("has room again") == 1, err


def test_a_full_disk_at_a_new_boot_is_said_once_and_the_boot_stored_once_there_is_room(work):
    """No inode left for the next boot's directory: the reader says so once
    (not at each of its tries), stores the boot once there is room, and
    says that once too."""
    out = os.path.join(work, "logs")
    os.mkdir(out)
    g = logfeed.Guest(os.path.join(work, "amphi.sock"))
    fillers = []
    try:
        with reader_on_small_tmpfs(work, out, 1 << 20, "--connect", g.path, "--out", out, "--quiet", "--follow",
                                   inodes=16) as r:
            c = g.accept()
            send_boot(c, "b0", range(1, 4), msg="m")
            assert c.wait_ack(3) == 3
            with contextlib.suppress(OSError):  # every inode taken (ENOSPC)
                for i in range(64):
                    fd = os.open(os.path.join(r.view, f"filler{i}"), os.O_CREAT | os.O_WRONLY)
                    os.close(fd)
                    fillers.append(os.path.join(r.view, f"filler{i}"))
            tries = 0
            while tries < 3:  # the reader comes back each second and is refused again
                with contextlib.suppress(OSError):
                    send_boot(c, "b1", range(1, 4), msg="m")
                c.wait_closed(TIMEOUT)
                c.close()
                c = g.accept(TIMEOUT)
                tries += 1
            wait_stderr(r, "the store is full")
            for f in fillers:
                os.unlink(f)
            send_boot(c, "b1", range(1, 4), msg="m")
            assert c.wait_ack(3) == 3
            wait_stderr(r, "has room again")
            stored = lines(os.path.join(r.view, "b1", "all.log"))
            err = stderr_of(r)
            c.close()
    finally:
        g.close()
    assert [ln.split(": ", 1)[1] for ln in stored] == [f"b1 {s} m" for s in range(1, 4)]
    assert err.count("the store is full") == 1, err
    assert f"the store is full: making {out}/b1: No space left on device" in err, err
    assert err.count("has room again") == 1, err


# ---- the Anaconda text channel ----
# Nothing on it is acknowledged: what cannot be stored is shown, not
# stored, and said once; the reader goes on.

def text_line(i):
    return f"08:00:{i % 60:02d},000 INFO anaconda:line {i} " + "y" * 150


def test_text_lines_past_max_size_are_shown_not_stored(work):
    out = os.path.join(work, "logs")
    with logfeed.guest(os.path.join(work, "anaconda.sock")) as g, \
            logfeed.reader(work, "--text", "--connect", g.path, "--out", out, "--max-size", "1K") as r:
        c = g.accept()
        c.send("".join(text_line(i) + "\n" for i in range(10)).encode())
        c.close()
        assert r.wait() == 0, r.stderr
    stored = lines(os.path.join(out, "anaconda.log"))
    assert stored == [text_line(i) for i in range(len(stored))] and 0 < len(stored) < 10
    assert os.path.getsize(os.path.join(out, "anaconda.log")) <= 1024
    assert r.stdout.decode().splitlines() == [text_line(i) for i in range(10)], "every line shown"
    assert r.stderr.count("is at --max-size 1024; the lines past it are shown, not stored") == 1, r.stderr


def test_text_on_a_full_disk_is_shown_and_stored_again_once_there_is_room(work):
    out = os.path.join(work, "logs")
    os.mkdir(out)
    size = 64 * 1024
    with logfeed.guest(os.path.join(work, "anaconda.sock")) as g, \
            reader_on_small_tmpfs(work, out, size, "--text", "--connect", g.path, "--out", out, "--follow") as r:
        filler = os.path.join(r.view, "filler")
        with open(filler, "wb") as f:
            f.write(b"\0" * (size - 8 * 1024))
        c = g.accept()
        c.send("".join(text_line(i) + "\n" for i in range(100)).encode())  # about 18 KB
        wait_stderr(r, "the lines are shown, not stored, until there is room")
        os.unlink(filler)
        c.send("".join(text_line(i) + "\n" for i in range(100, 110)).encode())
        wait_stderr(r, "takes lines again")
        stored = lines(os.path.join(r.view, "anaconda.log"))
        c.close()
        err = stderr_of(r)
        assert r.poll() is None, "the reader ended on a full disk"
    with open(os.path.join(work, "reader.out"), "rb") as f:
        assert f.read().decode().splitlines() == [text_line(i) for i in range(110)], "every line shown"
    kept = [int(ln.split("line ")[1].split()[0]) for ln in stored]
    assert stored == [text_line(i) for i in kept], "only whole lines are stored"
    assert kept == sorted(kept) and kept[0] == 0 and kept[-1] == 109 and len(kept) < 110
    assert err.count("not stored, until there is room") == 1, err
    assert f"{out}/anaconda.log takes lines again; {110 - len(kept)} were not stored" in err, err
