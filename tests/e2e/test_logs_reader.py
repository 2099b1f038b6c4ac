"""amphi logs against a fake guest (logfeed.py): no VM, no container.

Each test has its own directory; every reader started is killed by PID in a
finally, and every wait is bounded."""

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

import logfeed
from conftest import AMPHI

TIMEOUT = 10


@pytest.fixture
def work():
    # Short: a unix socket path must fit in 108 bytes.
    d = tempfile.mkdtemp(prefix="amphi-logs-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def reader(work, *args, env=None):
    return logfeed.reader(work, *args, env=env)


def guest(work):
    return logfeed.guest(os.path.join(work, "amphi.sock"))


def lines(path):
    with open(path, "rb") as f:
        return f.read().decode().splitlines()


def messages(text):
    return [ln.split(": ", 1)[1] for ln in text.decode().splitlines() if not ln.startswith("== boot")]


# --sync: an ack waits for all.log to reach the disk (else it is synced once a second).
@pytest.mark.parametrize("extra", [(), ("--sync",)])
def test_records_arrive_in_order_are_stored_and_acked(work, extra):
    out = os.path.join(work, "logs")
    with guest(work) as g, reader(work, "--connect", g.path, "--out", out, *extra) as r:
        c = g.accept()
        c.send(logfeed.record(1, "amphi starting", app="amphi", source="init", msgid="boot"))
        c.send(b"".join(logfeed.record(s, f"hello {s}", app="web" if s % 2 else "db") for s in range(2, 8)))
        assert c.wait_ack(7) == 7
        assert sorted(c.acks) == c.acks, "acks only go up"
        c.close()
        assert r.wait() == 0, r.stderr
    stdout = r.stdout.decode().splitlines()
    assert stdout[0] == "== boot b0 =="
    assert stdout[1:] == ["amphi: amphi starting"] + [f"{'web' if s % 2 else 'db'}: hello {s}" for s in range(2, 8)]
    boot = os.path.join(out, "b0")
    assert sorted(os.listdir(boot)) == [".stored", "all.log", "amphi.log", "db.log", "web.log"]
    assert int(open(os.path.join(boot, ".stored")).read()) == 7, "what a later reader need not store again"
    all_log = lines(os.path.join(boot, "all.log"))
    assert all_log[0] == "1.07 init amphi: amphi starting"
    assert all_log[1:] == [f"{s}.07 service {'web' if s % 2 else 'db'}: hello {s}" for s in range(2, 8)]
    assert lines(os.path.join(boot, "web.log")) == [f"{s}.07 service web: hello {s}" for s in (3, 5, 7)]


def test_a_replay_after_reconnect_stores_no_duplicates(work):
    out = os.path.join(work, "logs")
    with guest(work) as g, reader(work, "--connect", g.path, "--out", out, "--follow") as r:
        c = g.accept()
        c.send(b"".join(logfeed.record(s, f"m{s}") for s in range(1, 6)))
        c.wait_ack(5)
        # The guest sends 6-10 and goes away before it sees their ack.
        c.send(b"".join(logfeed.record(s, f"m{s}") for s in range(6, 11)))
        c.close()
        # It holds 6-10 unacknowledged, so it sends them again, then more.
        c = g.accept()
        c.send(b"".join(logfeed.record(s, f"m{s}") for s in range(6, 13)))
        assert c.wait_ack(12) == 12
        assert r.stop() == 0, r.stderr
    assert messages(r.stdout) == [f"m{s}" for s in range(1, 13)]
    assert [ln.split(": ")[1] for ln in lines(os.path.join(out, "b0", "all.log"))] == [f"m{s}" for s in range(1, 13)]
    assert "gap" not in r.stderr


def test_a_gap_is_reported(work):
    with guest(work) as g, reader(work, "--connect", g.path) as r:
        c = g.accept()
        c.send(logfeed.record(1, "one") + logfeed.record(2, "two") + logfeed.record(5, "five"))
        c.wait_ack(5)
        c.close()
        assert r.wait() == 0, r.stderr
    assert "amphi logs: gap: records 3-4 of boot b0 missing" in r.stderr
    assert messages(r.stdout) == ["one", "two", "five"]


def test_a_loss_record_is_shown_as_it_is(work):
    with guest(work) as g, reader(work, "--connect", g.path) as r:
        c = g.accept()
        c.send(logfeed.record(1, "one") + logfeed.record(2, "lost 3 records, seq 2-4", app="amphi",
                                                          source="init", msgid="loss"))
        c.wait_ack(2)
        c.close()
        assert r.wait() == 0, r.stderr
    assert messages(r.stdout) == ["one", "lost 3 records, seq 2-4"]


def test_a_new_boot_id_starts_a_new_boot(work):
    out = os.path.join(work, "logs")
    with guest(work) as g, reader(work, "--connect", g.path, "--out", out) as r:
        c = g.accept()
        c.send(b"".join(logfeed.record(s, f"a{s}", boot="bootA") for s in range(1, 4)))
        c.send(b"".join(logfeed.record(s, f"b{s}", boot="bootB") for s in range(1, 5)))
        c.wait_ack(4)
        c.close()
        assert r.wait() == 0, r.stderr
    text = r.stdout.decode()
    assert text.index("== boot bootA ==") < text.index("a3") < text.index("== boot bootB ==") < text.index("b1")
    assert sorted(os.listdir(out)) == ["bootA", "bootB"]
    assert [ln.split(": ")[1] for ln in lines(os.path.join(out, "bootB", "all.log"))] == ["b1", "b2", "b3", "b4"]
    assert "gap" not in r.stderr


@pytest.mark.parametrize("bad", [
    b"9000 " + b"x" * 9000,       # over the 8192-byte limit
    b"-5 <14>1 hello",            # a negative length
    b"abc <14>1 hello",           # not a number
    b"99999999999999999999999 x", # would overflow
    logfeed.record(2, "x", boot="b\x1b[2Jc"),  # a control character in a header field
], ids=["oversized", "negative", "non-numeric", "huge", "escape-in-boot-id"])
def test_a_broken_stream_ends_with_status_1(work, bad):
    out = os.path.join(work, "logs")
    with guest(work) as g, reader(work, "--connect", g.path, "--out", out) as r:
        c = g.accept()
        c.send(logfeed.record(1, "good"))
        c.wait_ack(1)
        with contextlib.suppress(OSError):
            c.send(bad)
        c.wait_closed()
        assert r.wait() == 1
        c.close()
    assert "amphi logs: protocol error" in r.stderr and "Anaconda text is read with --text" in r.stderr
    assert messages(r.stdout) == ["good"]
    assert os.listdir(out) == ["b0"] and sorted(os.listdir(os.path.join(out, "b0"))) == [".stored", "all.log", "web.log"]
    assert lines(os.path.join(out, "b0", "all.log")) == ["1.07 service web: good"]


def test_a_newer_protocol_version_is_refused_with_what_to_do(work):
    with guest(work) as g, reader(work, "--connect", g.path) as r:
        c = g.accept()
        c.send(logfeed.record(1, "from an old guest", proto=None) + logfeed.record(2, "version 1"))
        c.wait_ack(2)
        with contextlib.suppress(OSError):
            c.send(logfeed.record(3, "from the future", proto=2))
        c.wait_closed()
        assert r.wait() == 1
        c.close()
    assert "amphi logs: the guest speaks protocol version 2, this amphi logs 1" in r.stderr
    assert messages(r.stdout) == ["from an old guest", "version 1"]


def test_names_from_the_guest_stay_inside_the_out_dir(work):
    out = os.path.join(work, "a", "b", "logs")
    os.makedirs(out)
    with guest(work) as g, reader(work, "--connect", g.path, "--out", out) as r:
        c = g.accept()
        c.send(logfeed.record(1, "pwned", app="../../etc/x"))
        c.send(logfeed.record(2, "dots", app=".hidden"))
        c.send(logfeed.record(3, "all", app="all"))
        c.wait_ack(3)
        c.close()
        assert r.wait() == 0, r.stderr
    found = []
    for root, _, files in os.walk(work):
        found += [os.path.relpath(os.path.join(root, f), work) for f in files]
    assert sorted(found) == sorted([
        "reader.out", "reader.err",
        "a/b/logs/b0/all.log", "a/b/logs/b0/_._.._etc_x.log", "a/b/logs/b0/_hidden.log", "a/b/logs/b0/_all.log",
        "a/b/logs/b0/.stored",
    ])


# Every field the reader uses is checked: a boot id
# names a directory, so only letters, digits, '-' and '_' (boot="" made the
# reader fail with openat(-1) and store nothing; "..", "a/b" were changed
# into names two boots could share); a source is one of the protocol's; a
# sequence number counts from 1. A bad field is a protocol error naming it:
# nothing of that record is stored or acknowledged.
@pytest.mark.parametrize("bad, why", [
    (dict(boot=""), "bad boot in [amphi@32473]: expected 1 to 39 letters, digits, '-' or '_'"),
    (dict(boot=".."), "bad boot in [amphi@32473]"),
    (dict(boot="../../etc/x"), "bad boot in [amphi@32473]"),
    (dict(source="kernels"), "bad source in [amphi@32473]: expected kernel, init, service, syslog, file or install"),
    (dict(seq=0), "bad sequenceId in [meta]: expected 1 to"),
], ids=["empty-boot", "dotdot-boot", "path-boot", "unknown-source", "seq-0"])
@pytest.mark.parametrize("first", [True, False], ids=["first-frame", "after-a-good-one"])
def test_a_bad_field_is_refused_by_name_and_nothing_of_it_stored(work, bad, why, first):
    out = os.path.join(work, "logs")
    bad = dict(bad)
    seq = bad.pop("seq", 1 if first else 2)
    with guest(work) as g, reader(work, "--connect", g.path, "--out", out) as r:
        c = g.accept()
        if not first:
            c.send(logfeed.record(1, "good"))
            c.wait_ack(1)
        with contextlib.suppress(OSError):
            c.send(logfeed.record(seq, "bad", **bad))
        c.wait_closed()
        assert r.wait() == 1
        c.close()
    assert f"amphi logs: protocol error from the guest: STRUCTURED-DATA: missing or {why}" in r.stderr, r.stderr
    assert max(c.acks, default=0) == (0 if first else 1), f"acknowledged what was not stored: {c.acks}"
    assert "bad" not in r.stdout.decode()
    assert os.listdir(out) == ([] if first else ["b0"])
    if not first:
        assert lines(os.path.join(out, "b0", "all.log")) == ["1.07 service web: good"]


def test_escape_sequences_never_reach_the_terminal(work):
    hostile = b"\x1b[2J\x1b]0;owned\x07red\rback\nline \xc2\x9b31m \xff\xfe caf\xc3\xa9"
    out = os.path.join(work, "logs")
    with guest(work) as g, reader(work, "--connect", g.path, "--out", out) as r:
        c = g.accept()
        c.send(logfeed.record(1, hostile, app="ev\\il"))
        c.wait_ack(1)
        c.close()
        assert r.wait() == 0, r.stderr
    with open(os.path.join(out, "b0", "all.log"), "rb") as f:
        stored = f.read()
    for text in (r.stdout, stored):
        assert not any(b < 0x20 and b != 0x0a for b in text) and b"\x7f" not in text and b"\xc2\x9b" not in text
        text.decode()  # valid UTF-8
    assert r.stdout.decode().splitlines() == [
        "== boot b0 ==",
        "ev\\il: \\x1b[2J\\x1b]0;owned\\x07red\\x0dback\\x0aline \\xc2\\x9b31m \\xff\\xfe café"]


# "Trojan Source": bidi controls and invisible characters would show a line
# in another order than its bytes, or hide part of it.
TROJAN = "access \u202e level \u2066user\u2069 \u200b\ufeff\u2028 end"
TROJAN_SHOWN = ("access \\xe2\\x80\\xae level \\xe2\\x81\\xa6user\\xe2\\x81\\xa9 "
                "\\xe2\\x80\\x8b\\xef\\xbb\\xbf\\xe2\\x80\\xa8 end")


def test_bidi_and_invisible_characters_are_escaped_on_the_terminal_and_in_the_store(work):
    out = os.path.join(work, "logs")
    with guest(work) as g, reader(work, "--connect", g.path, "--out", out) as r:
        c = g.accept()
        c.send(logfeed.record(1, TROJAN, app="web") + logfeed.record(2, "caf\u00e9 \u05e9\u05dc\u05d5\u05dd"))
        c.wait_ack(2)
        c.close()
        assert r.wait() == 0, r.stderr
    assert messages(r.stdout) == [TROJAN_SHOWN, "caf\u00e9 \u05e9\u05dc\u05d5\u05dd"]
    for name in ("all.log", "web.log"):
        assert [ln.split(": ", 1)[1] for ln in lines(os.path.join(out, "b0", name))] == \
            [TROJAN_SHOWN, "caf\u00e9 \u05e9\u05dc\u05d5\u05dd"]
    with guest(work) as g, reader(work, "--connect", g.path, "--json") as r:
        c = g.accept()
        c.send(logfeed.record(1, TROJAN))
        c.wait_ack(1)
        c.close()
        assert r.wait() == 0, r.stderr
    assert "\\u202e" in r.stdout.decode() and "\u202e" not in r.stdout.decode()
    assert json.loads(r.stdout)["msg"] == TROJAN, "JSON keeps the value, escaped"


def test_json_lines_parse(work):
    msg = b'say "hi" \\ \x1b[1m bold \xc3\xa9 \xff end'
    with guest(work) as g, reader(work, "--connect", g.path, "--json") as r:
        c = g.accept()
        c.send(logfeed.record(1, "boot", msgid="boot", app="amphi", source="init", uptime_cs=5))
        c.send(logfeed.record(2, msg, pri=11, uptime_cs=12345))
        c.wait_ack(2)
        c.close()
        assert r.wait() == 0, r.stderr
    objs = [json.loads(ln) for ln in r.stdout.decode().splitlines()]
    assert objs == [
        {"boot": "b0", "seq": 1, "uptime": 0.05, "source": "init", "app": "amphi", "pri": 14, "msg": "boot"},
        {"boot": "b0", "seq": 2, "uptime": 123.45, "source": "service", "app": "web", "pri": 11,
         "msg": 'say "hi" \\ \x1b[1m bold é \\xff end'},
    ]


def test_a_missing_socket_says_what_to_do(work):
    r = subprocess.run([AMPHI, "logs", "--connect", os.path.join(work, "none.sock")],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 1
    assert "none.sock: No such file or directory; is the VM or container running? (amphi run wires this socket)" in r.stderr
    r = subprocess.run([AMPHI, "logs"], capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 2 and "usage: amphi logs (--connect PATH | --listen PATH)" in r.stderr


def test_follow_waits_for_the_guest_and_stops_cleanly(work):
    path = os.path.join(work, "amphi.sock")
    with reader(work, "--connect", path, "--follow") as r:
        with pytest.raises(subprocess.TimeoutExpired):
            r.wait(timeout=0.7)  # still retrying, not gone
        g = logfeed.Guest(path)
        try:
            c = g.accept()
            c.send(logfeed.record(1, "late"))
            c.wait_ack(1)
            c.close()
        finally:
            g.close()
        assert r.stop(signal.SIGINT) == 0
    assert r.stderr.count("No such file or directory") == 1, "one message per outage, not one per retry"
    assert messages(r.stdout) == ["late"]


def test_listen_accepts_one_guest_after_another_and_removes_its_socket(work):
    path = os.path.join(work, "log.sock")
    out = os.path.join(work, "logs")
    with reader(work, "--listen", path, "--out", out) as r:
        c = logfeed.connect(path)
        c.send(logfeed.record(1, "first"))
        c.wait_ack(1)
        c.close()
        c = logfeed.connect(path)  # QEMU reconnects; the guest replays what it holds
        c.send(logfeed.record(1, "first") + logfeed.record(2, "second"))
        assert c.wait_ack(2) == 2
        c.close()
        assert r.stop() == 0, r.stderr
    assert not os.path.exists(path)
    assert messages(r.stdout) == ["first", "second"]
    assert len(lines(os.path.join(out, "b0", "all.log"))) == 2


# A disk that fails fdatasync (EIO), as a dying disk or a full thin pool
# does: a preloaded shim stands in for it.
FAILING_SYNC = r"""
#include <errno.h>
int fdatasync(int fd) { (void)fd; errno = EIO; return -1; }
"""


def preloaded(work, name, source):
    """An environment that preloads SOURCE (C) into amphi logs."""
    src = os.path.join(work, name + ".c")
    lib = os.path.join(work, name + ".so")
    with open(src, "w") as f:
        f.write(source)
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", lib, src, "-ldl"], check=True)
    return dict(os.environ, LD_PRELOAD=lib)


@pytest.fixture
def failing_sync(work):
    return preloaded(work, "failsync", FAILING_SYNC)


# Without --sync, all.log is synced once a second on a thread; with it,
# before every ack. Either way a failed sync is said, and what it covered
# is never acknowledged: the guest keeps it for the next reader.
@pytest.mark.parametrize("extra", [(), ("--sync",)])
def test_a_failed_disk_sync_stops_before_acking_what_it_covered(work, failing_sync, extra):
    out = os.path.join(work, "logs")
    with guest(work) as g, reader(work, "--connect", g.path, "--out", out, "--follow", *extra,
                                  env=failing_sync) as r:
        c = g.accept()
        c.send(logfeed.record(1, "one"))
        if not extra:
            # The first sync is asked for with the first ack and fails on
            # its thread; the ack after it (a second later) says so.
            assert c.wait_ack(1) == 1
            time.sleep(1.2)
        c.send(logfeed.record(2, "two"))
        assert r.wait() == 1, "fatal even with --follow: the store is not to be trusted"
        c.read_acks(0.5)
        assert max(c.acks, default=0) < 2, f"acknowledged what did not reach the disk: {c.acks}"
        c.close()
    assert f"amphi logs: syncing {out}/b0/all.log to the disk: Input/output error" in r.stderr
    assert f"fix or free the disk under {out} and start amphi logs again" in r.stderr


# write(2) to any regular file fails with an errno, as on a full disk
# (ENOSPC) or a failing one (EIO): the store's files (all.log, the app's)
# are the only regular files amphi logs writes with it (.stored goes with
# pwrite, messages to pipes).
FAILING_WRITE = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>
ssize_t write(int fd, const void *buf, size_t n)
{
    static ssize_t (*real)(int, const void *, size_t);
    struct stat st;
    if (!real)
        real = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        errno = ERRNO;
        return -1;
    }
    return real(fd, buf, n);
}
"""


# The store's files are written when a batch is to be acknowledged: a
# write that fails stops the reader, says which file and why, and nothing
# it did not store is acknowledged. A full disk under --follow is waited
# out instead (test_logs_bounds.py); any other failure stops it then too:
# the store is not to be trusted.
@pytest.mark.parametrize("err, extra, said", [
    ("ENOSPC", (), "the store is full: writing {out}/b0/[^/\\s]+\\.log: No space left on device"),
    ("EIO", ("--follow",), "amphi logs: writing {out}/b0/[^/\\s]+\\.log: Input/output error"),
])
def test_a_failed_store_write_stops_before_acking(work, err, extra, said):
    env = preloaded(work, "failwrite", FAILING_WRITE.replace("ERRNO", err))
    out = os.path.join(work, "logs")
    with guest(work) as g, reader(work, "--connect", g.path, "--out", out, *extra, env=env) as r:
        c = g.accept()
        c.send(logfeed.record(1, "one"))
        assert r.wait() == 1
        c.read_acks(0.5)
        assert c.acks == [], f"acknowledged what was not stored: {c.acks}"
        c.close()
    assert re.search(said.format(out=re.escape(out)), r.stderr), r.stderr
    assert f"fix or free the disk under {out} and start amphi logs again" in r.stderr
