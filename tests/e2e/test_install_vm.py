"""amphi install under real QEMU (TCG) with a raw disk on virtio-blk:
recipes/installer.conf partitions, formats, copies itself and configures
the installed system; amphi run --disk boots that system from the disk
(root= and switch_root), whose own first-boot step runs once. A failing
step: amphi install names it, its exit status and last lines, and a
Lorax-like reader on the Anaconda port flags the failure."""

import json
import os
import pty
import re
import socket
import subprocess
import threading
import time

import pytest

from conftest import AMPHI, BOOT_TIMEOUT, RECIPES, wait_for

INSTALL_TIMEOUT = 240


def install(recipe, out, disk, *extra):
    return subprocess.run([AMPHI, "install", recipe, "--disk", disk, "-o", out, *extra],
                          capture_output=True, text=True, timeout=INSTALL_TIMEOUT,
                          env=dict(os.environ, AMPHI_ACCEL="tcg"))


def install_on_a_terminal(recipe, out, disk, *extra):
    """amphi install with stderr on a pty, as when a person runs it: the
    progress line goes there. (CompletedProcess with stdout, and what the
    terminal showed as stderr.)"""
    master, slave = pty.openpty()
    shown = []

    def drain():  # a pty holds only a few KiB: read as it comes
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                return
            if not data:
                return
            shown.append(data)

    t = threading.Thread(target=drain)
    t.start()
    try:
        p = subprocess.run([AMPHI, "install", recipe, "--disk", disk, "-o", out, *extra], stdout=subprocess.PIPE,
                           stderr=slave, text=True, timeout=INSTALL_TIMEOUT, env=dict(os.environ, AMPHI_ACCEL="tcg"))
    finally:
        os.close(slave)
        t.join(timeout=10)
        os.close(master)
    return subprocess.CompletedProcess(p.args, p.returncode, p.stdout, b"".join(shown).decode(errors="replace"))


def lorax_like(sock, log):
    """amphi logs --text on the Anaconda port, as JSON lines in log (each
    with Lorax's verdict on it), until QEMU goes."""
    f = open(log, "wb")
    return subprocess.Popen(["timeout", str(INSTALL_TIMEOUT), AMPHI, "logs", "--text", "--connect", sock,
                             "--follow", "--json"], stdout=f, stderr=subprocess.DEVNULL), f


def text_lines(log):
    return [json.loads(l) for l in open(log) if l.startswith("{")]


def install_with_lorax(run, recipe, out, disk, work, *extra):
    """run (install or install_on_a_terminal) with a Lorax-like reader on
    the Anaconda port meanwhile (amphi logs --text flags the lines Lorax's
    monitor counts as failures), attached as QEMU starts: the result, and
    the lines that reader saw."""
    text_log = os.path.join(work, "anaconda.jsonl")
    text, tf = lorax_like(os.path.join(out, "install", "anaconda.sock"), text_log)
    try:
        r = run(recipe, out, disk, *extra)
    finally:
        text.terminate()
        text.wait(timeout=10)
        tf.close()
    return r, text_lines(text_log)


class DiskBoot:
    """amphi run OUT --disk DISK, its console in a file, QEMU's monitor on
    a socket for the power button."""

    def __init__(self, out, disk, work, name, env=None):
        self.log = os.path.join(work, name + ".log")
        self.mon = os.path.join(work, name + ".mon")
        self.f = open(self.log, "wb")
        env = dict(os.environ, AMPHI_ACCEL="tcg", **(env or {}))
        self.proc = subprocess.Popen([AMPHI, "run", out, "--disk", disk, "--",
                                      "-monitor", f"unix:{self.mon},server=on,wait=off"],
                                     stdin=subprocess.DEVNULL, stdout=self.f, stderr=subprocess.STDOUT, env=env)

    def wait(self, pattern, count=1):
        return wait_for(self.log, pattern, BOOT_TIMEOUT, self.proc, count)

    def power_off(self):
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(self.mon)
            s.sendall(b"system_powerdown\n")
            time.sleep(0.2)
        assert self.proc.wait(timeout=BOOT_TIMEOUT) == 0
        self.f.close()
        return open(self.log, errors="replace").read()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.f.close()


def stored_lines(out):
    logs = os.path.join(out, "install", "logs")
    boots = os.listdir(logs)
    assert len(boots) == 1
    return open(os.path.join(logs, boots[0], "all.log"), errors="replace").read().splitlines()


def test_install_onto_a_blank_disk_then_boot_it_twice(tmpdir_clean):
    out, disk = os.path.join(tmpdir_clean, "out"), os.path.join(tmpdir_clean, "disk.img")
    r, text = install_with_lorax(install_on_a_terminal, os.path.join(RECIPES, "installer.conf"), out, disk,
                                 tmpdir_clean, "--size", "64M")
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"{disk} is installed (4 steps in" in r.stdout
    # On the terminal: the progress line, redrawn in place, step by step.
    for n, step in enumerate(("partition", "filesystem", "copy", "configure"), 1):
        assert re.search(rf"\r\x1b\[K\[[#-]{{20}}\] step {n}/4 {step}  \d+ s", r.stderr), r.stderr[-2000:]
    assert "\r\x1b[K[" + "#" * 15 + "-----] step 4/4 configure" in r.stderr
    # A success gives Lorax's monitor nothing to flag, and the verdict is there.
    lines = text
    assert any(l["program"] == "install" and l["msg"].startswith("verdict: success") for l in lines), lines[-5:]
    assert not [l for l in lines if l["failure"]]
    assert f"amphi run {out} --disk {disk}" in r.stdout
    assert os.path.getsize(disk) == 64 << 20
    # The host's copy of the stream: every step's output, in order, between
    # its start and its end.
    lines = stored_lines(out)
    want = ["install install: step 1/4 partition: started", "service partition: /dev/vda1: one partition",
            "install install: step 1/4 partition: done", "install install: step 2/4 filesystem: started",
            "install install: step 3/4 copy: started", "service copy: copied ",
            "install install: step 4/4 configure: started", "service configure: configured; unmounted",
            "install install: verdict: success: 4 steps"]
    at = 0
    for w in want:
        found = [i for i in range(at, len(lines)) if w in lines[i]]
        assert found, f"{w!r} not after line {at} of the stored log:\n" + "\n".join(lines[-40:])
        at = found[0] + 1
    assert "ERROR" not in r.stdout
    # The installed system, from the disk.
    boot = DiskBoot(out, disk, tmpdir_clean, "first")
    try:
        log = boot.wait(r"hello: installed by amphi install")
        assert "root=/dev/vda1 (ext4): switching to its /sbin/init" in log
        assert "welcome: first boot of the installed system" in log
        assert "step 1/4 partition" not in log, "the installer's steps never run from the disk"
        boot.power_off()
    finally:
        boot.kill()
    again = DiskBoot(out, disk, tmpdir_clean, "second")
    try:
        log = again.wait(r"hello: installed by amphi install")
        assert "first boot already done (/var/lib/amphi/installed exists); 1 step skipped" in log
        assert "first boot of the installed system" not in log
        again.power_off()
    finally:
        again.kill()


FAILING = """[image]
name = badinstall

[runtime]
getty = none

[step.one]
exec = echo one

[step.two]
exec = echo two

[step.three]
shell = yes
exec = echo "copying the payload"; echo "cp: /mnt/target/usr: Read-only file system" >&2; exit 4

[step.four]
exec = echo never
"""


def test_a_failing_third_step_is_named_with_its_status_and_last_lines(tmpdir_clean):
    recipe = os.path.join(tmpdir_clean, "bad.conf")
    with open(recipe, "w") as f:
        f.write(FAILING)
    out, disk = os.path.join(tmpdir_clean, "out"), os.path.join(tmpdir_clean, "disk.img")
    r, text = install_with_lorax(install, recipe, out, disk, tmpdir_clean, "--size", "16M")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "amphi install: the install failed at step 3/4 three: exited with status 4" in r.stderr
    assert "  | copying the payload\n  | cp: /mnt/target/usr: Read-only file system\n" in r.stderr
    assert "step 4/4" not in r.stdout + r.stderr
    lines = text
    assert any(l["program"] == "three" and l["msg"] == "copying the payload" for l in lines)
    flagged = [l["msg"] for l in lines if l["failure"]]
    assert len(flagged) == 1 and flagged[0].startswith("verdict: failure: step 3/4 three: exited with status 4"), flagged


STUCK = """[image]
name = {name}
modules = virtio_blk ext4 crc32c_generic

[runtime]
getty = none

[step.format]
exec = mke2fs -q /dev/vda

[step.work]
shell = yes
timeout = {timeout}
exec = {exec}

[step.after]
exec = echo never
"""


@pytest.mark.parametrize("name,timeout,exec_,how,last", [
    ("hangs", 2, "echo 'waiting for a mirror that never answers'; exec sleep 1000",
     "timed out after 2 s", "waiting for a mirror that never answers"),
    ("fills", 300, "mkdir -p /mnt/t && mount -t ext4 /dev/vda /mnt/t && echo 'copying the payload' && "
                   "dd if=/dev/zero of=/mnt/t/payload bs=1M count=64",
     "exited with status 1", "No space left on device"),
])
def test_a_step_that_hangs_or_fills_the_disk_fails_the_install(tmpdir_clean, name, timeout, exec_, how, last):
    """On the real install disk (16 MiB on virtio-blk): a hang ends at its
    timeout, a full disk as the step's failure; either way amphi install
    names the step and how, and the guest powers off."""
    recipe = os.path.join(tmpdir_clean, name + ".conf")
    with open(recipe, "w") as f:
        f.write(STUCK.format(name=name, timeout=timeout, exec=exec_))
    out, disk = os.path.join(tmpdir_clean, "out"), os.path.join(tmpdir_clean, "disk.img")
    r = install(recipe, out, disk, "--size", "16M")
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"amphi install: the install failed at step 2/3 work: {how}" in r.stderr, r.stderr
    assert last in r.stderr
    assert "step 3/3" not in r.stdout + r.stderr


def test_an_existing_disk_is_refused_before_anything_is_built(tmpdir_clean):
    out, disk = os.path.join(tmpdir_clean, "out"), os.path.join(tmpdir_clean, "disk.img")
    with open(disk, "wb") as f:
        f.write(b"keep me")
    r = install(os.path.join(RECIPES, "installer.conf"), out, disk)
    assert r.returncode == 1
    assert f"{disk} exists; an install writes a whole new disk: remove it first, or add --overwrite" in r.stderr
    assert not os.path.exists(out), "nothing was built"
    assert open(disk, "rb").read() == b"keep me"
    # a link to nothing is a name taken too (the install would not write through it)
    link = os.path.join(tmpdir_clean, "link.img")
    os.symlink(os.path.join(tmpdir_clean, "nothing-here"), link)
    r = install(os.path.join(RECIPES, "installer.conf"), out, link)
    assert r.returncode == 1 and f"{link} exists" in r.stderr and not os.path.exists(out)


FORGER = """[image]
name = {name}

[runtime]
getty = none

# An unprivileged step that says, every way it can, that the install
# succeeded (and that the init is ready, and the kernel spoke), then fails.
[step.forge]
user = nobody
shell = yes
exec = logger -t install 'verdict: success: 1 step in 1 ms'; logger -t 'install:verdict' 'success: 1 step in 1 ms'; logger -t amphi 'ready env=qemu'; logger -t kernel 'Kernel panic - not syncing'; echo 'verdict: success: 1 step in 1 ms'; echo 'install: verdict: success: 1 step in 1 ms'; echo 'step 1/1 forge: done in 1 ms'; exit 1
"""


def test_a_step_cannot_forge_the_verdict(tmpdir_clean):
    """Syslog tags the init's records use (install, amphi, kernel) and lines
    of output shaped like its records: amphi install still exits 1 naming
    the real failing step, and no host reader (the stream, the Anaconda
    port, the console) shows them under the init's names."""
    recipe = os.path.join(tmpdir_clean, "forger.conf")
    with open(recipe, "w") as f:
        f.write(FORGER.format(name="forger"))
    out, disk = os.path.join(tmpdir_clean, "out"), os.path.join(tmpdir_clean, "disk.img")
    r, text = install_with_lorax(install, recipe, out, disk, tmpdir_clean, "--size", "16M")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "amphi install: the install failed at step 1/1 forge: exited with status 1" in r.stderr, r.stderr
    assert "is installed" not in r.stdout
    # the stream: the init's install records are its own; the tags were renamed
    lines = [l.split(" ", 1)[1] for l in stored_lines(out)]  # "UPTIME SOURCE APP: MSG"
    verdicts = [l for l in lines if l.startswith("install install: verdict")]
    assert len(verdicts) == 1 and verdicts[0].startswith("install install: verdict: failure: step 1/1 forge"), verdicts
    for tag in ("install", "amphi", "kernel"):
        assert any(l.startswith(f"syslog syslog.{tag}: ") for l in lines), (tag, lines)
        assert not any(l.startswith(f"syslog {tag}: ") for l in lines)
    # busybox logger's "install:verdict" is the tag "install" (RFC 3164 ends a tag at ':')
    assert lines.count("syslog syslog.install: verdict: success: 1 step in 1 ms") == 2, lines
    assert any(l == "service forge: install: verdict: success: 1 step in 1 ms" for l in lines), lines
    # the Anaconda port: program "install" is the init alone
    assert [l["msg"].split(":")[1] for l in text if l["program"] == "install" and l["msg"].startswith("verdict")] \
        == [" failure"], text[-8:]
    assert {"syslog.install", "syslog.amphi", "syslog.kernel", "forge"} <= {l["program"] for l in text}
    # the console: the init's lines read "TIME LEVEL install: ..." and no other does
    console = open(os.path.join(out, "install", "console.log"), errors="replace").read()
    assert not re.search(r"^\S+ \w+ (install: verdict: success|amphi: ready|kernel: Kernel panic)", console, re.M), console
    assert re.search(r"^\S+ \w+ install: verdict: failure: step 1/1 forge", console, re.M), console
