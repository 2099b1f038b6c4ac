"""amphi run: what a newcomer types after amphi build (make run does it)."""

import glob
import os
import re
import subprocess
import time

from conftest import AMPHI, BOOT_TIMEOUT, LXC_TIMEOUT, build, wait_for
from confinement import assert_confined, probe_recipe, put_probe


def stored_log_says(build_dir, needle, timeout=30):
    """amphi run keeps the log stream under DIR/logs/<boot>/amphi.log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in glob.glob(os.path.join(build_dir, "logs", "*", "amphi.log")):
            if needle in open(path, errors="replace").read():
                return True
        time.sleep(0.1)
    return False


def test_amphi_run_boots_qemu_and_says_how_to_leave(minimal_build, tmpdir_clean):
    log = os.path.join(tmpdir_clean, "run.log")
    mon = os.path.join(tmpdir_clean, "mon.sock")
    with open(log, "wb") as out:
        proc = subprocess.Popen([AMPHI, "run", minimal_build, "--", "-monitor", f"unix:{mon},server=on,wait=off"],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                env=dict(os.environ, AMPHI_ACCEL="tcg"))
        try:
            text = wait_for(log, r"amphi: ready env=qemu", BOOT_TIMEOUT, proc)
            assert "Ctrl-A then X" in text.split("SeaBIOS")[0], "the way out is said before the boot"
            assert stored_log_says(minimal_build, "ready env=qemu"), "the log stream is stored beside the run"
        finally:
            proc.kill()
            proc.wait()


def run_lxc_until_ready_then_stop(build_dir, tmpdir, check):
    """amphi run --lxc in the foreground; check(console text) once the
    appliance is ready, then lxc-stop as amphi run says, which ends it."""
    log = os.path.join(tmpdir, "run.log")
    # lxc-start -F wants a terminal for the console: script(1) gives it one.
    with open(log, "wb") as out:
        proc = subprocess.Popen(["script", "-qfec", f"{AMPHI} run --lxc {build_dir}", "/dev/null"],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        name = lxcpath = None
        try:
            text = wait_for(log, r"amphi: ready env=lxc", LXC_TIMEOUT, proc)
            m = re.search(r"lxc-stop -n (\S+) -P (\S+)", text)
            assert m, text
            name, lxcpath = m.groups()
            check(text)
            r = subprocess.run(["lxc-stop", "-n", name, "-P", lxcpath, "--nokill", "-t", "20"],
                               capture_output=True, text=True, timeout=LXC_TIMEOUT)
            assert r.returncode == 0, r.stderr
            assert proc.wait(timeout=LXC_TIMEOUT) == 0
        finally:
            if name and proc.poll() is None:
                subprocess.run(["lxc-stop", "-n", name, "-P", lxcpath, "-k"], capture_output=True)
            if proc.poll() is None:
                proc.kill()
            proc.wait()


def test_amphi_run_lxc_runs_in_the_foreground(minimal_build, tmpdir_clean):
    def stored(text):
        assert stored_log_says(minimal_build, "ready env=lxc"), "the log stream is stored beside the run"
    run_lxc_until_ready_then_stop(minimal_build, tmpdir_clean, stored)


def test_amphi_run_lxc_confines_the_container(confine_probe, tmpdir_clean):
    out = os.path.join(tmpdir_clean, "out")
    build(probe_recipe(os.path.join(tmpdir_clean, "confined.conf"), "confined"), out)
    put_probe(confine_probe, os.path.join(out, "lxc", "rootfs"))
    run_lxc_until_ready_then_stop(out, tmpdir_clean, assert_confined)


def test_amphi_run_without_a_build_says_what_to_do(tmpdir_clean):
    r = subprocess.run([AMPHI, "run", tmpdir_clean], capture_output=True, text=True)
    assert r.returncode == 1 and "build it first: amphi build RECIPE -o" in r.stderr
    r = subprocess.run([AMPHI, "run", "--lxc", tmpdir_clean], capture_output=True, text=True)
    assert r.returncode == 1 and "build it first" in r.stderr
