"""Tasks and services from a recipe, in a real container and a real VM."""

import os
import re

from conftest import amphi, build, build_fixture

RECIPE = os.path.join(os.path.dirname(__file__), "recipes", "services.conf")


services_build = build_fixture(RECIPE)


def check_boot(log):
    """What both worlds must show once the zombie report is in."""
    # The task ran once, to completion, before any service started.
    assert log.count("prepare: task prepare ran") == 1
    assert log.index("task prepare: done") < log.index("service steady: started")
    assert "steady: steady sees prepare" in log
    # Output of services reaches the console, prefixed with their names.
    assert "steady: steady up" in log and log.count("steady: steady up") == 1, "steady stays up"
    # 1,000 orphans were adopted and reaped.
    assert "orphans: made 1000 orphans" in log
    assert "zombies: zombies=0" in log
    # The crash loop backs off: each delay doubles, so a few restarts in
    # several seconds, not hundreds.
    delays = [int(m) for m in re.findall(r"service crashy exited with status 3 after \d+ ms; restart \d+ in (\d+) ms", log)]
    assert len(delays) >= 4, log
    assert delays[:4] == [100, 200, 400, 800]
    assert all(b == min(2 * a, 30000) for a, b in zip(delays, delays[1:]))
    assert len(delays) <= 12
    # user, group, workdir and env of a task; shell = yes.
    assert "ids: id=65534:65534 name=nobody:nogroup dir=/tmp greeting=hello" in log


def test_services_in_lxc(services_build, lxc):
    ct = lxc(services_build)
    ct.start()
    log = ct.wait(r"zombies: zombies=\d+")
    check_boot(log)
    ps = ct.attach("ps", "-o", "stat,args").stdout
    assert not [l for l in ps.splitlines()[1:] if l.split()[0].startswith("Z")], ps
    assert "sleep 100000" in ps
    ct.lxc("lxc-stop", "--nokill", "-t", "20")
    log = ct.wait(r"all processes stopped in \d+ ms")
    # Reverse start order, and the partial last line of steady is not lost.
    assert log.index("stopping zombies") < log.index("stopping steady")
    assert "steady: no newline at the end" in log
    assert re.search(r"services stopped in \d+ ms", log)
    # Each service's own stop signal, and KILL after its stop timeout.
    assert "trapper: got INT" in log
    assert "stubborn: still running 1 s after its stop signal; killing it" in log


def test_services_in_qemu(services_build, qemu):
    vm = qemu(services_build)
    log = vm.wait(r"zombies: zombies=\d+")
    check_boot(log)
    vm.monitor("sendkey ctrl-alt-delete")
    log = vm.wait(r"all processes stopped in \d+ ms; reboot")
    assert log.index("stopping zombies") < log.index("stopping steady")
    assert vm.exit_code() == 0


def test_a_failing_task_stops_the_boot_with_an_emergency_shell(tmpdir_clean, lxc):
    recipe = os.path.join(tmpdir_clean, "failing.conf")
    with open(recipe, "w") as f:
        f.write("[image]\nname = failing\n[task.first]\nexec = /bin/false\n"
                "[task.never]\nexec = /bin/echo never\n[service.s]\nexec = /bin/echo never either\n")
    out = os.path.join(tmpdir_clean, "out")
    build(recipe, out)
    ct = lxc(out)
    ct.start()
    log = ct.wait(r"starting an emergency shell")
    assert "task first exited with status 1; the boot stops here (on_failure = stop)" in log
    assert "never" not in log and "ready" not in log
    ct.lxc("lxc-stop", "--nokill", "-t", "20")


def test_bad_service_sections_are_file_line_errors(tmpdir_clean):
    recipe = os.path.join(tmpdir_clean, "bad.conf")
    with open(recipe, "w") as f:
        f.write("[image]\nname = x\n[service.web]\nexec = /bin/web\nrestart = sometimes\n")
    r = amphi("build", recipe, "-o", os.path.join(tmpdir_clean, "o"), check=False)
    assert r.returncode == 1
    assert f"{recipe}:5: restart = 'sometimes': expected always, on-failure or no" in r.stderr


def test_the_most_units_a_recipe_may_have_all_crash_loop_and_all_restart(tmpdir_clean, lxc):
    """24 services (the recipe's limit), each exiting after 0.2 s with
    restart = always: every one is restarted again and again, none is
    left behind for want of a timer, and PID 1 says nothing ran out."""
    recipe = os.path.join(tmpdir_clean, "crashers.conf")
    with open(recipe, "w") as f:
        f.write("[image]\nname = crashers\n[runtime]\ngetty = none\n")
        for n in range(1, 25):
            f.write(f"[service.s{n:02d}]\nshell = yes\nexec = echo up; sleep 0.2; exit 3\nrestart = always\n")
    out = os.path.join(tmpdir_clean, "out")
    build(recipe, out)
    ct = lxc(out)
    ct.start()
    for n in range(1, 25):
        ct.wait(rf"s{n:02d}: up", count=5)
    log = open(ct.console, errors="replace").read()
    assert "slots are taken" not in log
    ct.lxc("lxc-stop", "--nokill", "-t", "20")
