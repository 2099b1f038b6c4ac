"""The minimal appliance as a real LXC container (lxc-start -f)."""

import os
import signal

from conftest import build, RECIPES


def test_ready_then_lxc_stop_halts_without_kill(minimal_build, lxc):
    ct = lxc(minimal_build)
    ct.start()
    log = ct.wait(r"amphi: ready env=lxc in \d+ ms")
    assert "starting in env=lxc" in log
    # --nokill: if the init did not end the container itself, this fails.
    ct.lxc("lxc-stop", "--nokill", "-t", "20")
    assert ct.state() == "STOPPED"
    log = ct.wait(r"all processes stopped in \d+ ms; (halt|power off)")
    assert "stopping to halt" in log or "stopping to power off" in log


def test_lxc_stop_r_restarts(minimal_build, lxc):
    ct = lxc(minimal_build)
    ct.start()
    ct.wait(r"amphi: ready env=lxc")
    ct.lxc("lxc-stop", "-r", "-t", "20")
    log = ct.wait(r"amphi: ready env=lxc", count=2)
    assert "SIGINT: stopping to reboot" in log
    assert ct.state() == "RUNNING"
    ct.lxc("lxc-stop", "--nokill", "-t", "20")
    assert ct.state() == "STOPPED"


def test_sigpwr_powers_off(minimal_build, lxc):
    ct = lxc(minimal_build)
    ct.start()
    ct.wait(r"amphi: ready env=lxc")
    os.kill(ct.init_pid(), signal.SIGPWR)
    ct.wait(r"all processes stopped in \d+ ms; power off")
    ct.lxc("lxc-wait", "-s", "STOPPED", "-t", "20")


def test_container_mounts_what_lxc_left_out(minimal_build, lxc):
    ct = lxc(minimal_build)
    ct.start()
    ct.wait(r"amphi: ready env=lxc")
    mounts = ct.attach("cat", "/proc/mounts").stdout
    targets = {line.split()[1]: line.split()[2] for line in mounts.splitlines()}
    assert targets.get("/run") == "tmpfs"
    assert targets.get("/tmp") == "tmpfs"
    assert targets.get("/sys/fs/cgroup") == "cgroup2"
    assert ct.attach("/sbin/init", "--detect").stdout.strip() == "lxc"


def test_bad_runtime_config_gives_emergency_shell(tmpdir_clean, lxc):
    out = os.path.join(tmpdir_clean, "out")
    build(os.path.join(RECIPES, "minimal.conf"), out)
    recipe = os.path.join(out, "lxc/rootfs/etc/amphi/recipe.conf")
    with open(recipe, "a") as f:
        f.write("bogus line without equals\n")
    lines = open(recipe).read().count("\n")
    ct = lxc(out)
    ct.start()
    log = ct.wait(r"starting an emergency shell")
    assert f"/etc/amphi/recipe.conf:{lines}: expected 'key = value'" in log
    assert "ready" not in log
    # The shell runs on the console, and comes back when it dies.
    ps = ct.attach("ps", "-o", "pid,args").stdout
    shells = [l.split()[0] for l in ps.splitlines() if l.split()[1:] == ["/bin/sh"]]
    assert len(shells) == 1, ps
    ct.attach("kill", "-9", shells[0])
    ct.wait(r"emergency shell exited; starting another")
    # PID 1 still stops cleanly.
    ct.lxc("lxc-stop", "--nokill", "-t", "20")
    assert ct.state() == "STOPPED"


def test_sigterm_reboots(minimal_build, lxc):
    ct = lxc(minimal_build)
    ct.start()
    ct.wait(r"amphi: ready env=lxc")
    os.kill(ct.init_pid(), signal.SIGTERM)
    log = ct.wait(r"amphi: ready env=lxc", count=2)
    assert "SIGTERM: stopping to reboot" in log
    ct.lxc("lxc-stop", "--nokill", "-t", "20")
    assert ct.state() == "STOPPED"


def test_recipe_lxc_lines_reach_the_container(tmpdir_clean, lxc):
    """[lxc] lines go into the container's config as they are: LXC sets the
    environment of PID 1 from lxc.environment."""
    recipe = os.path.join(tmpdir_clean, "lxcextra.conf")
    with open(recipe, "w") as f:
        f.write("[image]\nname = lxcextra\n\n[lxc]\nlxc.environment = AMPHI_E2E_GREETING=hello\n")
    out = os.path.join(tmpdir_clean, "out")
    build(recipe, out)
    config = open(os.path.join(out, "lxc", "config")).read()
    assert "\nlxc.environment = AMPHI_E2E_GREETING=hello\n" in config
    ct = lxc(out)
    ct.start()
    ct.wait(r"amphi: ready env=lxc")
    environ = open(f"/proc/{ct.init_pid()}/environ", "rb").read().split(b"\0")
    assert b"AMPHI_E2E_GREETING=hello" in environ
