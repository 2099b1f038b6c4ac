"""The log stream end to end: a real guest or container, the real amphi
logs reader, acknowledgements, replay after a reader restart."""

import json
import os
import re
import socket
import subprocess
import time


from conftest import AMPHI, BOOT_TIMEOUT, JsonReader, build, build_fixture

HERE = os.path.dirname(__file__)


logs_build = build_fixture(os.path.join(HERE, "recipes", "logs.conf"))


def check_history(recs, world):
    seqs = sorted({r["seq"] for r in recs})
    assert seqs == list(range(1, seqs[-1] + 1)), "contiguous from 1, no gap"
    by_seq = {r["seq"]: r for r in recs}
    lines = [by_seq[s]["msg"] for s in seqs if by_seq[s]["app"] == "talker"]
    numbered = [l for l in lines if l.startswith("line ")]
    assert numbered == [f"line {i}" for i in range(1, 301)], "every line, once, in order"
    assert any(by_seq[s]["app"] == "installer" and by_seq[s]["source"] == "syslog"
               and "step one done" in by_seq[s]["msg"] for s in seqs)
    installer = [by_seq[s]["msg"] for s in seqs if by_seq[s]["app"] == "installer"
                 and by_seq[s]["source"] == "service"]
    assert installer[-6:] == ["a" * 1024, "b" * 1024, "b", "c" * 1024, "c" * 1024, "c" * 952], \
        "a line of 1024 bytes is one record, longer ones come in 1024-byte pieces"
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
        # The kernel command line's amphi.log= over the recipe's [log].
        vm = qemu(logs_build, append="amphi.log=ring=320,policy=block")
    finally:
        del os.environ["AMPHI_LOG_DIR"]
    log = vm.wait(r"amphi: ready env=qemu")
    assert "log: a 320 KiB ring, policy block" in log
    sock = os.path.join(logdir, "amphi.sock")
    # Attach only now: the whole history so far arrives.
    first = readers(sock, "first", os.path.join(tmpdir_clean, "first.d"))
    first.wait(r'"line 30"')
    first.stop()          # killed in the middle of the talker's lines
    second = readers(sock, "second", os.path.join(tmpdir_clean, "second.d"))
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
    # The power button: the init's last record reaches the reader first.
    vm.monitor("system_powerdown")
    assert vm.exit_code() == 0
    second.wait(r'"all processes stopped in \d+ ms; power off"', timeout=30)


def test_lxc_stream_to_the_host_directory(logs_build, lxc, readers, tmpdir_clean):
    ct = lxc(logs_build)
    ct.start()
    ct.wait(r"amphi: ready env=lxc")
    sock = os.path.join(logs_build, "lxc", "host", "amphi.sock")
    # The first reader is killed mid-stream (no last ack); the second one
    # stores into the same directory.
    store = os.path.join(tmpdir_clean, "store")
    first = readers(sock, "first", store)
    first.wait(r'"line 30"')
    first.stop(kill=True)
    second = readers(sock, "second", store)
    second.wait(r'"talker done"')
    check_history(first.records() + second.records(), "container")
    # Stored on the host, one file per program: every line once.
    boots = os.listdir(store)
    assert len(boots) == 1
    talker = open(os.path.join(store, boots[0], "talker.log")).read().splitlines()
    numbered = [l.split(": ", 1)[1] for l in talker if ": line " in l]
    assert numbered == [f"line {i}" for i in range(1, 301)], "stored once across the kill"
    assert talker[-1].endswith("talker: talker done")
    ct.lxc("lxc-stop", "--nokill", "-t", "20")
    second.wait(r'"all processes stopped in \d+ ms; (halt|power off)"', timeout=30)


flood_build = build_fixture(os.path.join(HERE, "recipes", "logs-flood.conf"))


def store_file(store, app):
    boots = os.listdir(store) if os.path.isdir(store) else []
    return os.path.join(store, boots[0], app + ".log") if len(boots) == 1 else None


def test_vm_flood_of_50_mb_arrives_whole_in_bounded_memory(flood_build, qemu, tmpdir_clean):
    """A reader that keeps up: the service is held back, nothing dropped.
    The serial console (console = all) shows what it can take of the flood
    and counts the rest: it does not hold the stream back (shown in full,
    it took all of the guest's CPU and the stream crawled)."""
    logdir = os.path.join(tmpdir_clean, "ports")
    os.makedirs(logdir)
    os.environ["AMPHI_LOG_DIR"] = logdir
    try:
        vm = qemu(flood_build)
    finally:
        del os.environ["AMPHI_LOG_DIR"]
    store = os.path.join(tmpdir_clean, "store")
    reader = subprocess.Popen(["timeout", "240", AMPHI, "logs", "--connect", os.path.join(logdir, "amphi.sock"), "--follow",
                               "--quiet", "--out", store], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        path = None
        while time.monotonic() < deadline:
            path = store_file(store, "flood")
            if path and os.path.exists(path) and "VmRSS" in open(path, errors="replace").read():
                break
            time.sleep(0.5)
        lines = open(path, errors="replace").read().splitlines()
    finally:
        reader.terminate()
        _, err = reader.communicate(timeout=10)
    numbered = [l.split(" ", 4)[3] for l in lines if " service flood: " in l and l.split(" ", 4)[3].isdigit()]
    assert numbered == [str(i) for i in range(50000)], "every line of the 50 MB, in order"
    assert all(len(l) > 990 for l in lines if " service flood: " in l and l.split(" ", 4)[3].isdigit())
    assert b"gap" not in err and not any("lost" in l for l in open(store_file(store, "amphi")))
    peak_kb = int(re.search(r"VmHWM:\\x09\s*(\d+) kB", "\n".join(lines)).group(1))
    assert peak_kb < 4096, f"PID 1 used {peak_kb} kB at its peak"
    # Every flood line is on the console or counted there as not shown.
    deadline = time.monotonic() + 30
    while True:
        text = open(vm.log, errors="replace").read()
        shown = len(re.findall(r"INFO flood: \d+ 0{900}", text))
        noted = sum(int(n) for n in re.findall(r"console: (\d+) lines were not shown here", text))
        if shown + noted >= 50000 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert noted and shown + noted >= 50000, (shown, noted)


def test_lxc_overflow_without_a_reader_is_counted(flood_build, lxc, tmpdir_clean):
    """No reader while 50 MB go by: the oldest records go, and the first
    reader is told how many and which."""
    ct = lxc(flood_build)
    ct.start()
    # Not the console: it drops what it cannot take as fast as the flood.
    deadline = time.monotonic() + 240
    while ct.attach("test", "-e", "/tmp/flood-done", check=False).returncode != 0:
        assert time.monotonic() < deadline, "the flood did not finish"
        time.sleep(0.5)
    reader = subprocess.Popen(["timeout", "120", AMPHI, "logs", "--connect", os.path.join(flood_build, "lxc", "host", "amphi.sock"),
                               "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        recs = []
        while time.monotonic() < deadline:
            line = reader.stdout.readline()
            if not line:
                break
            recs.append(json.loads(line))
            if "VmRSS" in recs[-1]["msg"]:
                break
    finally:
        reader.terminate()
        reader.communicate(timeout=10)
    loss = [r for r in recs if r["app"] == "amphi" and r["msg"].startswith("lost ")]
    assert loss, recs[:3]
    m = re.match(r"lost (\d+) records, seq (\d+)-(\d+)", loss[0]["msg"])
    n, a, b = map(int, m.groups())
    assert n == b - a + 1 and n > 10000
    # What follows the note is contiguous up to the end.
    after = [r["seq"] for r in recs[recs.index(loss[0]) + 1:]]
    assert after == list(range(after[0], after[0] + len(after)))
    ct.lxc("lxc-stop", "--nokill", "-t", "20")


def test_lxc_follows_a_log_file_like_tail_F(tmpdir_clean, lxc):
    out = os.path.join(tmpdir_clean, "out")
    build(os.path.join(HERE, "recipes", "logs-files.conf"), out)
    ct = lxc(out)
    ct.start()
    log = ct.wait(r"writer: writer done")
    time.sleep(0.5)
    log = open(ct.console, errors="replace").read()
    # Console lines read "HH:MM:SS,mmm LEVEL program: message".
    lines = [l.split(" ", 2)[2] for l in log.splitlines() if " install.log: " in l]
    assert lines == ["install.log: first line", "install.log: second line",
                     "install.log: after truncate", "install.log: after rotate"], lines
    assert "log: following /var/log/install.log" in log
    # In the stream, as records of source "file".
    reader = subprocess.Popen(["timeout", "120", AMPHI, "logs", "--connect", os.path.join(out, "lxc", "host", "amphi.sock"), "--json"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    recs = []
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = reader.stdout.readline()
            if not line:
                break
            recs.append(json.loads(line))
            if recs[-1]["msg"] == "writer done":
                break
    finally:
        reader.terminate()
        reader.communicate(timeout=10)
    files = [r["msg"] for r in recs if r["source"] == "file" and r["app"] == "install.log"]
    assert files == ["first line", "second line", "after truncate", "after rotate"]
    ct.lxc("lxc-stop", "--nokill", "-t", "20")


def test_lxc_anaconda_text_on_the_host_fifo_and_overrides(tmpdir_clean, lxc):
    out = os.path.join(tmpdir_clean, "out")
    build(os.path.join(HERE, "recipes", "logs.conf"), out)
    fifo = os.path.join(out, "lxc", "host", "anaconda.fifo")
    os.mkfifo(fifo)
    reader = subprocess.Popen(["timeout", "120", AMPHI, "logs", "--text", "--fifo", fifo, "--json"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    ct = lxc(out)
    try:
        # The environment overrides the recipe's [log]; a bad part is said.
        ct.lxc("lxc-start", "-d", "-f", ct.config, "-L", ct.console,
               "-s", "lxc.environment=AMPHI_LOG=ring=192,policy=sometimes")
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = reader.stdout.readline()
            if not line:
                break
            lines.append(json.loads(line))
            if lines[-1]["msg"] == "talker done":
                break
    finally:
        reader.terminate()
        reader.communicate(timeout=10)
    talker = [l["msg"] for l in lines if l["program"] == "talker"]
    assert talker[:300] == [f"line {i}" for i in range(1, 301)]
    assert all(re.match(r"\d\d:\d\d:\d\d,\d{3}$", l["time"]) for l in lines)
    assert not any(l["failure"] for l in lines)
    log = ct.wait(r"amphi: ready env=lxc")
    assert "log: AMPHI_LOG: 'policy=sometimes' ignored" in log
    assert "log: a 192 KiB ring, policy auto" in log, "the good part of AMPHI_LOG applies"
    assert "log: Anaconda text on /var/lib/amphi/host/anaconda.fifo" in log
    ct.lxc("lxc-stop", "--nokill", "-t", "20")


def test_console_init_only_keeps_service_lines_off_the_console(tmpdir_clean, lxc):
    recipe = os.path.join(tmpdir_clean, "quiet.conf")
    with open(recipe, "w") as f:
        f.write("[image]\nname = quiet\n[log]\nconsole = init\n"
                "[service.chatty]\nshell = yes\nexec = echo chatty says hello; exec sleep 100000\n")
    out = os.path.join(tmpdir_clean, "out")
    build(recipe, out)
    ct = lxc(out)
    ct.start()
    ct.wait(r"amphi: ready env=lxc")
    reader = subprocess.Popen(["timeout", "120", AMPHI, "logs", "--connect", os.path.join(out, "lxc", "host", "amphi.sock"), "--json"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        got = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = reader.stdout.readline()
            if not line:
                break
            rec = json.loads(line)
            if rec["app"] == "chatty":
                got = rec["msg"]
                break
    finally:
        reader.terminate()
        reader.communicate(timeout=10)
    assert got == "chatty says hello", "the host still gets it"
    assert "chatty says hello" not in open(ct.console).read(), "the console does not"
    ct.lxc("lxc-stop", "--nokill", "-t", "20")


BLOCK = """[image]
name = blocklog

[log]
ring = 64
policy = block
console = init

[service.writer]
shell = yes
exec = seq 1 3000 | sed 's/^/held line /'; echo "writer done"; exec sleep 100000
"""


def test_lxc_policy_block_holds_the_writer_until_a_reader_comes(tmpdir_clean, lxc):
    """With block, 3000 lines through a 64 KiB ring and nobody reading lose
    nothing: the writer waits (its last line is not out) until a reader
    connects, then everything arrives from the first record."""
    recipe = os.path.join(tmpdir_clean, "block.conf")
    with open(recipe, "w") as f:
        f.write(BLOCK)
    out = os.path.join(tmpdir_clean, "out")
    build(recipe, out)
    ct = lxc(out)
    ct.start()
    ct.wait(r"amphi: ready env=lxc")
    time.sleep(1)
    assert "writer done" not in open(ct.console, errors="replace").read()
    reader = JsonReader(os.path.join(out, "lxc", "host", "amphi.sock"), tmpdir_clean, "late",
                        os.path.join(tmpdir_clean, "late.d"))
    try:
        reader.wait(r'"msg":"writer done"')
        recs = reader.records()
    finally:
        reader.stop()
        ct.lxc("lxc-stop", "--nokill", "-t", "20")
    assert recs[0]["seq"] == 1 and not [r for r in recs if r["msg"].startswith("lost ")]
    held = [r["msg"] for r in recs if r["app"] == "writer" and r["msg"].startswith("held line ")]
    assert held == [f"held line {i}" for i in range(1, 3001)]
