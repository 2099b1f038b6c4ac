"""The minimal appliance as a real LXC container (lxc-start -f)."""

import os
import re
import signal
import subprocess
import time

from conftest import build, LXC_TIMEOUT, RECIPES
from confinement import assert_confined, probe_recipe, put_probe


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


def _signals_pending(pid):
    """The process-wide pending set of pid, from /proc (ShdPnd)."""
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"ShdPnd:\s*([0-9a-f]+)", f.read()).group(1), 16)


def _until(what, pred, timeout=LXC_TIMEOUT):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout}s")
        time.sleep(0.01)


def test_stop_read_as_services_start_reaches_them(tmpdir_clean, lxc):
    """A stop signal read in the same turn of the loop that started the
    services stops them at once, not after a stop timeout. A
    service makes its process group in the child's setsid, some time after
    fork returned in PID 1; a stop signalled to the group before that was
    lost (bench: lxc-stop -r 2 ms after the ready line took 5 s, the log
    saying "c: still running 5 s after its stop signal; killing it").

    The window, made certain: PID 1 waits in a task until the host releases
    it; the host stops PID 1 (SIGSTOP), lets the task end, and only once its
    SIGCHLD is pending queues SIGPWR (LXC's halt signal here) and resumes
    PID 1. The signalfd hands out the lower-numbered signal first, so PID 1
    reaps the task, starts the services and reads the stop in one go. PID 1
    on one CPU at nice -20, its children back at nice 0 (reset on fork):
    they do not run, and so do not reach setsid, until PID 1 waits again."""
    recipe = os.path.join(tmpdir_clean, "startstop.conf")
    with open(recipe, "w") as f:
        f.write("[image]\nname = startstop\n\n"
                "[task.hold]\nshell = yes\nexec = while [ ! -e /released ]; do sleep 0.05; done\n\n"
                "[service.a]\nexec = /bin/sleep 100000\n\n"
                "[service.b]\nexec = /bin/sleep 100000\nafter = a\n\n"
                "[service.c]\nexec = /bin/sleep 100000\nafter = b\n")
    out = os.path.join(tmpdir_clean, "out")
    build(recipe, out)
    ct = lxc(out)
    ct.start()
    ct.wait(r"task hold: starting")
    pid = ct.init_pid()
    os.sched_setaffinity(pid, {min(os.sched_getaffinity(pid))})
    os.sched_setscheduler(pid, os.SCHED_OTHER | os.SCHED_RESET_ON_FORK, os.sched_param(0))
    os.setpriority(os.PRIO_PROCESS, pid, -20)
    os.kill(pid, signal.SIGSTOP)
    try:
        _until("stopped PID 1", lambda: open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "T")
        open(os.path.join(out, "lxc", "rootfs", "released"), "w").close()
        _until("SIGCHLD pending on PID 1", lambda: _signals_pending(pid) & (1 << (signal.SIGCHLD - 1)))
        os.kill(pid, signal.SIGPWR)
    finally:
        os.kill(pid, signal.SIGCONT)
    log = ct.wait(r"all processes stopped in \d+ ms; power off")
    assert "task hold: done" in log
    # The window was hit: the stop came after the last service started.
    assert log.index("service c: started") < log.index("SIGPWR: stopping to power off"), log
    assert "after its stop signal; killing it" not in log, log
    assert "sending KILL" not in log, log
    ct.lxc("lxc-wait", "-s", "STOPPED", "-t", "20")


def test_the_builds_container_is_confined_as_lxcs_templates_make_theirs(confine_probe, tmpdir_clean, lxc):
    """lxc/config includes LXC's common.conf: root in the container has no
    sys_module, sys_rawio, sys_time or mac_admin, and common.seccomp
    refuses finit_module and open_by_handle_at; the host directory is
    nosuid,nodev,noexec. Stopping runs no lxcfs hook that sleeps."""
    out = os.path.join(tmpdir_clean, "out")
    build(probe_recipe(os.path.join(tmpdir_clean, "confined.conf"), "confined"), out)
    put_probe(confine_probe, os.path.join(out, "lxc", "rootfs"))
    ct = lxc(out)
    ct.start()
    console = ct.wait(r"amphi: ready env=lxc")
    assert_confined(console)
    ct.lxc("lxc-stop", "--nokill", "-t", "20")
    assert ct.state() == "STOPPED"
    log = open(os.path.join(ct.path, f"{ct.name}.log")).read()
    assert "lxc.reboot.hook" not in log and "post-stop" not in log, log[-2000:]


def test_a_recipe_that_maps_ids_gets_userns_conf_after_common_conf(tmpdir_clean):
    """An [lxc] lxc.idmap makes the build's container unprivileged: LXC's
    templates include userns.conf after common.conf for those; amphi's
    lines and the recipe's own come after both."""
    recipe = os.path.join(tmpdir_clean, "mapped.conf")
    with open(recipe, "w") as f:
        f.write("[image]\nname = mapped\n\n[lxc]\nlxc.idmap = u 0 100000 65536\nlxc.idmap = g 0 100000 65536\n")
    out = os.path.join(tmpdir_clean, "out")
    build(recipe, out)
    config = open(os.path.join(out, "lxc", "config")).read()
    assert config.index("lxc.include = /usr/share/lxc/config/common.conf\n") < \
        config.index("lxc.include = /usr/share/lxc/config/userns.conf\n") < \
        config.index("lxc.init.cmd = /sbin/init\n") < config.index("lxc.idmap = u 0 100000 65536\n")
    build(os.path.join(RECIPES, "minimal.conf"), out)
    assert "userns.conf" not in open(os.path.join(out, "lxc", "config")).read()


def test_what_root_in_the_container_plants_stays_out_of_other_host_users_reach(tmpdir_clean, lxc):
    """Root in a privileged container is root for what it makes in the host
    directory and its rootfs (a setuid file; nosuid holds only inside):
    the build's lxc/ is 0700, so no other user of the host reaches it. An
    lxc.idmap build keeps 0755: its mapped root must reach its rootfs."""
    os.chmod(tmpdir_clean, 0o755)  # as an -o DIR elsewhere would be: only lxc/ keeps others out
    out = os.path.join(tmpdir_clean, "out")
    build(os.path.join(RECIPES, "minimal.conf"), out)
    assert os.stat(os.path.join(out, "lxc")).st_mode & 0o777 == 0o700
    ct = lxc(out)
    ct.start()
    ct.wait(r"amphi: ready env=lxc")
    ct.attach("/bin/sh", "-c", "cp /bin/busybox /var/lib/amphi/host/planted && chmod 4755 /var/lib/amphi/host/planted")
    planted = os.path.join(out, "lxc", "host", "planted")
    assert os.stat(planted).st_mode & 0o4000  # root's setuid file, on the host
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "stat", planted],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "Permission denied" in r.stderr, r.stdout + r.stderr
    ct.lxc("lxc-stop", "--nokill", "-t", "20")
    with open(os.path.join(tmpdir_clean, "mapped.conf"), "w") as f:
        f.write("[image]\nname = mapped\n\n[lxc]\nlxc.idmap = u 0 100000 65536\nlxc.idmap = g 0 100000 65536\n")
    build(os.path.join(tmpdir_clean, "mapped.conf"), out)
    assert os.stat(os.path.join(out, "lxc")).st_mode & 0o777 == 0o755
