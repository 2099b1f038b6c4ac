"""The log stream end to end: a real guest or container, the real amphi
logs reader, acknowledgements, replay after a reader restart."""

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import AMPHI, BOOT_TIMEOUT, LXC_TIMEOUT, build, wait_for

HERE = os.path.dirname(__file__)


@pytest.fixture(scope="module")
def logs_build():
    d = tempfile.mkdtemp(prefix="amphi-e2e-logs-")
    out = os.path.join(d, "out")
    build(os.path.join(HERE, "recipes", "logs.conf"), out)
    yield out
    shutil.rmtree(d, ignore_errors=True)


class Reader:
    """amphi logs --connect SOCKET --json, its stdout in a file."""

    def __init__(self, sock, workdir, name):
        self.out = os.path.join(workdir, name + ".jsonl")
        self.store = os.path.join(workdir, name + ".d")
        self.f = open(self.out, "wb")
        self.proc = subprocess.Popen([AMPHI, "logs", "--connect", sock, "--follow", "--json", "--out", self.store],
                                     stdout=self.f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def wait(self, pattern, timeout=60):
        return wait_for(self.out, pattern, timeout)

    def records(self):
        recs = []
        for line in open(self.out, errors="replace"):
            line = line.strip()
            if line.startswith("{"):
                recs.append(json.loads(line))
        return recs

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.f.close()


@pytest.fixture
def readers(tmpdir_clean):
    made = []

    def make(sock, name):
        r = Reader(sock, tmpdir_clean, name)
        made.append(r)
        return r

    yield make
    for r in made:
        r.stop()


def check_history(recs, world):
    seqs = sorted({r["seq"] for r in recs})
    assert seqs == list(range(1, seqs[-1] + 1)), "contiguous from 1, no gap"
    by_seq = {r["seq"]: r for r in recs}
    lines = [by_seq[s]["msg"] for s in seqs if by_seq[s]["app"] == "talker"]
    numbered = [l for l in lines if l.startswith("line ")]
    assert numbered == [f"line {i}" for i in range(1, 301)], "every line, once, in order"
    assert any(by_seq[s]["app"] == "installer" and by_seq[s]["source"] == "syslog"
               and "step one done" in by_seq[s]["msg"] for s in seqs)
    first = by_seq[1]
    assert len({r["boot"] for r in recs}) == 1
    kernel = [by_seq[s] for s in seqs if by_seq[s]["source"] == "kernel"]
    if world == "vm":
        # From before PID 1: the kernel's first words.
        assert any("Linux version" in k["msg"] for k in kernel)
    else:
        assert not kernel
    return first


def test_vm_history_after_late_attach_and_reader_restart(logs_build, qemu, readers, tmpdir_clean):
    logdir = os.path.join(tmpdir_clean, "ports")
    os.makedirs(logdir)
    os.environ["AMPHI_LOG_DIR"] = logdir
    try:
        vm = qemu(logs_build)
    finally:
        del os.environ["AMPHI_LOG_DIR"]
    vm.wait(r"amphi: ready env=qemu")
    sock = os.path.join(logdir, "amphi.sock")
    # Attach only now: the whole history so far arrives.
    first = readers(sock, "first")
    first.wait(r'"line 30"')
    first.stop()          # killed in the middle of the talker's lines
    second = readers(sock, "second")
    second.wait(r'"talker done"', timeout=BOOT_TIMEOUT)
    check_history(first.records() + second.records(), "vm")
    # The Anaconda port: LF-terminated lines in Anaconda's layout, CR escaped.
    text = b""
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(os.path.join(logdir, "anaconda.sock"))
        s.settimeout(5)
        deadline = time.monotonic() + 30
        while b"talker:talker done\n" not in text and time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            text += chunk
    lines = text.decode().split("\n")
    assert lines[-1] == "" or "talker done" not in lines[-1]
    rx = re.compile(r"^\d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) [^:\s]+:.*$")
    complete = [l for l in lines[:-1] if l]
    assert complete and all(rx.match(l) for l in complete), [l for l in complete if not rx.match(l)][:5]
    assert not any("\r" in l for l in complete)
    assert any("progress 10%\\x0dprogress 100%" in l for l in complete)
    assert any(l.endswith("talker:talker done") for l in complete)


def test_lxc_stream_to_the_host_directory(logs_build, lxc, readers):
    ct = lxc(logs_build)
    ct.start()
    ct.wait(r"amphi: ready env=lxc")
    sock = os.path.join(logs_build, "lxc", "host", "amphi.sock")
    first = readers(sock, "first")
    first.wait(r'"line 30"')
    first.stop()
    second = readers(sock, "second")
    second.wait(r'"talker done"')
    check_history(first.records() + second.records(), "container")
    # Stored on the host too, one file per program.
    boots = os.listdir(second.store)
    assert len(boots) == 1
    talker = open(os.path.join(second.store, boots[0], "talker.log")).read()
    assert "talker done" in talker
    ct.lxc("lxc-stop", "--nokill", "-t", "20")
