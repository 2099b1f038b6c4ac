"""The install phase: steps before everything else, progress and
a verdict as records of source "install", first boot once, failures that
say which step, how and its last lines, and a Lorax-like reader on the
Anaconda text that flags a failed install. LXC here; the VM installer with
a real disk is in test_install_vm.py."""

import json
import os
import re
import subprocess
import time

import pytest

from conftest import AMPHI, LXC_TIMEOUT, build, build_text, wait_for

HERE = os.path.dirname(__file__)


def records(path):
    out = []
    for line in open(path, errors="replace"):
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def install_lines(recs):
    return [r["msg"] for r in recs if r["source"] == "install"]


def wait_stopped(ct, timeout=LXC_TIMEOUT):
    deadline = time.monotonic() + timeout
    while ct.state() != "STOPPED":
        assert time.monotonic() < deadline, "the container did not stop"
        time.sleep(0.1)


def test_lxc_first_boot_runs_once_across_two_starts(tmpdir_clean, lxc):
    out = os.path.join(tmpdir_clean, "out")
    build(os.path.join(HERE, "recipes", "firstboot.conf"), out)
    ct = lxc(out)
    host = os.path.join(out, "lxc", "host")
    marker = os.path.join(out, "lxc", "rootfs", "var", "lib", "amphi", "installed")
    got = os.path.join(tmpdir_clean, "first.jsonl")
    ct.start()
    with open(got, "wb") as f:
        reader = subprocess.Popen(["timeout", "60", AMPHI, "logs", "--connect", os.path.join(host, "amphi.sock"),
                                   "--follow", "--json"], stdout=f, stderr=subprocess.STDOUT)
        try:
            wait_for(got, r'"ready env=lxc', LXC_TIMEOUT)
        finally:
            reader.terminate()
            reader.wait(timeout=10)
    recs = records(got)
    steps = install_lines(recs)
    assert steps[0] == "first boot: 2 steps"
    assert steps[1] == "step 1/2 greet: started"
    assert re.fullmatch(r"step 1/2 greet: done in \d+ ms", steps[2])
    assert steps[3] == "step 2/2 keys: started"
    assert re.fullmatch(r"verdict: success: 2 steps in \d+ ms", steps[-1])
    msgs = [(r["app"], r["msg"]) for r in recs]
    # A step's own lines arrive between its start and its end, under its name.
    assert msgs.index(("greet", "hello from the first step")) < msgs.index(("install", steps[2]))
    assert ("app", "app sees key-1") in msgs, "services start after the steps"
    assert os.path.exists(marker)
    ct.lxc("lxc-stop", "--nokill", "-t", "20")
    # Second start: the marker is there, the steps are not run again.
    ct.start()
    log = ct.wait(r"app: app sees key-1", count=2)
    assert log.count("amphi: ready env=lxc") == 2
    assert log.count("step 1/2 greet: started") == 1
    assert "first boot already done (/var/lib/amphi/installed exists); 2 steps skipped" in log
    ct.lxc("lxc-stop", "--nokill", "-t", "20")


FAILING = """[image]
name = {name}

[install]
mode = installer

[step.one]
exec = echo one

[step.two]
shell = yes
exec = echo two; echo two again

[step.three]
shell = yes
timeout = {timeout}
exec = {exec}

[step.four]
exec = echo never
"""


@pytest.mark.parametrize("name,timeout,exec_,how,last", [
    ("fails", 300, "echo 'partitioning /dev/sdz'; echo 'fdisk: cannot open /dev/sdz' >&2; exit 3",
     "exited with status 3", "partitioning /dev/sdz | fdisk: cannot open /dev/sdz"),
    ("hangs", 1, "echo 'waiting forever'; exec sleep 1000",
     "timed out after 1 s", "waiting forever"),
    ("fills", 300, "mkdir -p /mnt/small && mount -t tmpfs -o size=256k tmpfs /mnt/small && "
                   "dd if=/dev/zero of=/mnt/small/fill bs=64k count=100",
     "exited with status 1", "No space left on device"),
    # Lorax's monitor passes over a line with IGNORED in it: the step's
    # words never share a line with the verdict
    ("ignored", 300, "echo 'IGNORED'; exit 3", "exited with status 3", "IGNORED"),
])
def test_lxc_a_failing_step_gives_a_verdict_and_powers_off(tmpdir_clean, lxc, name, timeout, exec_, how, last):
    recipe = os.path.join(tmpdir_clean, name + ".conf")
    with open(recipe, "w") as f:
        f.write(FAILING.format(name=name, timeout=timeout, exec=exec_))
    out = os.path.join(tmpdir_clean, "out")
    build(recipe, out)
    fifo = os.path.join(out, "lxc", "host", "anaconda.fifo")
    os.mkfifo(fifo)
    # A Lorax-like reader of the Anaconda text: it flags failure lines.
    text = subprocess.Popen(["timeout", "60", AMPHI, "logs", "--text", "--fifo", fifo, "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ct = lxc(out)
    try:
        ct.start()
        log = ct.wait(r"install: verdict: failure")
        wait_stopped(ct)
    finally:
        text.terminate()
        stdout, stderr = text.communicate(timeout=10)
    log = open(ct.console).read()
    assert "install: step 3/4 three: started" in log
    assert re.search(rf"install: step 3/4 three: failed in \d+ ms: {how}", log)
    verdict = re.search(r"install: (verdict: failure: .*)", log).group(1)
    assert verdict == f"verdict: failure: step 3/4 three: {how} (packaging: Installation failed)"
    lasts = re.search(r"install: step 3/4 three: its last lines: (.*)", log).group(1)
    assert last in lasts
    assert log.index("its last lines:") < log.index("verdict: failure")
    assert "step 4/4" not in log and "ready env=lxc" not in log
    assert "install failed: stopping to power off" in log
    lines = [json.loads(l) for l in stdout.splitlines() if l.startswith("{")]
    flagged = [l["msg"] for l in lines if l["failure"]]
    assert len(flagged) == 1 and flagged[0].startswith("verdict: failure: step 3/4 three"), lines[-5:]


def test_lxc_on_failure_shell_keeps_the_system_up_for_inspection(tmpdir_clean, lxc):
    recipe = os.path.join(tmpdir_clean, "keep.conf")
    with open(recipe, "w") as f:
        f.write("[image]\nname = keep\n\n[install]\non_failure = shell\n\n"
                "[step.breaks]\nshell = yes\nexec = echo 'half done' > /tmp/state; exit 2\n")
    out = os.path.join(tmpdir_clean, "out")
    build(recipe, out)
    ct = lxc(out)
    ct.start()
    log = ct.wait(r"starting an emergency shell on the console")
    assert "install: verdict: failure: step 1/1 breaks: exited with status 2" in log
    assert "install step breaks exited with status 2; kept up for inspection (on_failure = shell)" in log
    time.sleep(0.5)
    assert ct.state() == "RUNNING", "kept up, not powered off"
    # What the step left is there to inspect.
    assert ct.attach("cat", "/tmp/state").stdout.strip() == "half done"
    ct.lxc("lxc-stop", "--nokill", "-t", "20")


def write_recipe(tmpdir, name, text):
    path = os.path.join(tmpdir, name + ".conf")
    with open(path, "w") as f:
        f.write(text)
    out = os.path.join(tmpdir, "out")
    build(path, out)
    return out


def test_lxc_first_boot_then_reboot_comes_up_in_the_result(tmpdir_clean, lxc):
    out = write_recipe(tmpdir_clean, "reboot", """[image]
name = rebootinto

[install]
mode = first-boot
then = reboot

[step.setup]
shell = yes
exec = echo configured > /etc/installed-by-step

[service.app]
shell = yes
exec = echo "app sees $(cat /etc/installed-by-step)"; exec sleep 100000
""")
    ct = lxc(out)
    ct.start()
    # The first boot installs and reboots (LXC starts the container again);
    # the second one skips the steps and comes up with what they made.
    log = ct.wait(r"app: app sees configured")
    assert log.count("step 1/1 setup: started") == 1
    assert "install done" in log and "stopping to reboot" in log
    assert log.count("starting in env=lxc") == 2
    assert log.count("amphi: ready env=lxc") == 1, "ready only once the system is up for real"
    assert "first boot already done (/var/lib/amphi/installed exists); 1 step skipped" in log
    assert ct.state() == "RUNNING"
    ct.lxc("lxc-stop", "--nokill", "-t", "20")


def test_lxc_installer_runs_its_steps_on_every_boot(tmpdir_clean, lxc):
    out = write_recipe(tmpdir_clean, "every", """[image]
name = everyboot

[install]
mode = installer

[step.work]
shell = yes
env = WHO=the-step-env
exec = echo "installing as $WHO, pass $(cat /proc/sys/kernel/random/uuid)"
""")
    ct = lxc(out)
    for n in (1, 2):
        ct.start()
        ct.wait(r"verdict: success: 1 step in \d+ ms", count=n)
        wait_stopped(ct)
    log = open(ct.console, errors="replace").read()
    assert log.count("step 1/1 work: started") == 2
    assert log.count("work: installing as the-step-env, pass ") == 2, "a step's own environment"
    assert "first boot already done" not in log
    assert not os.path.exists(os.path.join(out, "lxc", "rootfs", "var", "lib", "amphi", "installed"))


PLANTED_MARKER = """[image]
name = plantedmarker

[install]
mode = first-boot
then = continue
marker = /srv/state/amphi-installed

# the marker's directory is an unprivileged user's own (not sticky: the
# kernel's fs.protected_symlinks does not apply there)
[step.root]
shell = yes
exec = mkdir -p /srv/state && chown nobody /srv/state && echo ORIGINAL > /etc/important && chmod 600 /etc/important

# that user plants a link where the marker goes
[step.plant]
user = nobody
exec = ln -s /etc/important /srv/state/amphi-installed
"""


def test_lxc_the_first_boot_marker_is_never_written_through_a_planted_link(tmpdir_clean, lxc):
    out = build_text(tmpdir_clean, PLANTED_MARKER)
    ct = lxc(out)
    ct.start()
    ct.wait(r"amphi: ready env=lxc")
    ct.lxc("lxc-stop", "--nokill", "-t", "20")
    rootfs = os.path.join(out, "lxc", "rootfs")
    assert open(os.path.join(rootfs, "etc", "important")).read() == "ORIGINAL\n"
    marker = os.path.join(rootfs, "srv", "state", "amphi-installed")
    assert not os.path.islink(marker)
    assert open(marker).read().startswith("amphi: 2 install steps done")
