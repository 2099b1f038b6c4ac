"""The ACPI power button under real QEMU (TCG): QMP's system_powerdown, as
sent by virsh shutdown, powers the appliance off through our stop sequence."""

import json
import os
import re
import socket
import time

from conftest import build_text

# A power button is answered: QEMU is gone this soon after system_powerdown
# (the stop itself takes well under a second; the bound catches a hang).
POWERDOWN_EXIT_S = 5


def with_qmp(build_dir, workdir):
    """A copy of the build whose launcher also opens a QMP socket. The
    launcher passes extra arguments to QEMU and execs it, so the fixture's
    PID stays QEMU's own."""
    vm = os.path.join(workdir, "qmp-build", "vm")
    os.makedirs(vm)
    for f in ("vmlinuz", "initramfs.img"):
        os.symlink(os.path.join(build_dir, "vm", f), os.path.join(vm, f))
    sock = os.path.join(workdir, "qmp.sock")
    launch = os.path.join(vm, "launch")
    with open(launch, "w") as f:
        f.write("#!/bin/sh\nexec %s -qmp unix:%s,server=on,wait=off \"$@\"\n"
                % (os.path.join(build_dir, "vm", "launch"), sock))
    os.chmod(launch, 0o755)
    return os.path.dirname(vm), sock


def qmp(sock_path, *commands, timeout=10):
    """Sends each command after the capabilities handshake; returns the
    replies (events QEMU interleaves are skipped)."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(timeout)
        s.connect(sock_path)
        f = s.makefile("rwb")

        def reply():
            while True:
                msg = json.loads(f.readline())
                if "return" in msg or "error" in msg:
                    return msg

        assert "QMP" in json.loads(f.readline())
        replies = []
        for cmd in ("qmp_capabilities", *commands):
            f.write(json.dumps({"execute": cmd}).encode() + b"\n")
            f.flush()
            replies.append(reply())
        return replies[1:]


def test_system_powerdown_powers_off(minimal_build, qemu, tmpdir_clean):
    build_dir, sock = with_qmp(minimal_build, tmpdir_clean)
    vm = qemu(build_dir)
    log = vm.wait(r"amphi: ready env=qemu")
    assert "amphi: power button: watching /dev/input/event" in log
    assert "no power button device" not in log

    assert qmp(sock, "system_powerdown") == [{"return": {}}]
    sent = time.monotonic()
    assert vm.exit_code(timeout=POWERDOWN_EXIT_S + 30) == 0
    took = time.monotonic() - sent
    log = open(vm.log, errors="replace").read()
    assert "amphi: power button: pressed on /dev/input/event" in log
    assert "amphi: power button: stopping to power off" in log
    assert "all processes stopped in" in log and "ms; power off" in log
    assert "Kernel panic" not in log
    assert took <= POWERDOWN_EXIT_S, f"QEMU exited {took:.1f}s after system_powerdown:\n{log[-2000:]}"


FLOODERS = """[image]
name = flooders

[runtime]
getty = none

# Four unprivileged programs that write to /dev/log as fast as they can,
# and one that ignores its stop signal: nobody reads the log stream, so
# PID 1 reads and drops, on the guest's one vCPU.
{flooders}
[service.stubborn]
shell = yes
exec = trap '' TERM; echo stubborn up; while :; do sleep 1; done
stop_timeout = 1
"""


def power_button_under_load(tmpdir, qemu, recipe_text, *started):
    """The recipe booted with QMP; once each pattern of started is on the
    console and the load has run on 2 s, the power button: QEMU must be gone
    within that bound (and 1 s for a stop timeout). The console."""
    build_dir, sock = with_qmp(build_text(tmpdir, recipe_text), tmpdir)
    vm = qemu(build_dir)
    for pattern in started:
        vm.wait(pattern)
    time.sleep(2)  # the load runs on
    assert qmp(sock, "system_powerdown") == [{"return": {}}]
    sent = time.monotonic()
    assert vm.exit_code(timeout=POWERDOWN_EXIT_S + 60) == 0
    took = time.monotonic() - sent
    log = open(vm.log, errors="replace").read()
    assert "amphi: power button: stopping to power off" in log
    assert took <= POWERDOWN_EXIT_S + 1, f"QEMU exited {took:.1f}s after system_powerdown:\n{log[-2000:]}"
    return log


def test_syslog_floods_do_not_delay_the_power_button_or_a_stop_timeout(tmpdir_clean, qemu):
    flooders = "".join(f"[service.flood{n}]\nuser = nobody\nshell = yes\n"
                       f"exec = yes 'a line from flooder {n}, over and over again' | logger -t flood{n}\n\n"
                       for n in range(4))
    log = power_button_under_load(tmpdir_clean, qemu, FLOODERS.format(flooders=flooders),
                                  r"amphi: ready env=qemu", r"flood3: a line from flooder 3")
    assert "amphi: stubborn: still running 1 s after its stop signal; killing it" in log
    # PID 1's own count of the stop: the 1 s stop timeout and little more
    stopped = int(re.search(r"amphi: services stopped in (\d+) ms", log).group(1))
    assert stopped <= 1000 + POWERDOWN_EXIT_S * 1000, log[-2000:]


FLOODING_STEP = """[image]
name = floodstep

[runtime]
getty = none

# An install step that sets four floods of /dev/log going and hangs: its
# 2 s timeout ends it all the same, and the install's failure powers off.
[step.flood]
user = nobody
shell = yes
timeout = 2
exec = for n in 0 1 2 3; do yes "a line from flooder $n" | logger -t flood$n & done; sleep 1000
"""


def test_syslog_floods_do_not_delay_a_step_timeout(tmpdir_clean, qemu):
    vm = qemu(build_text(tmpdir_clean, FLOODING_STEP))
    assert vm.exit_code(timeout=POWERDOWN_EXIT_S + 60) == 0
    log = open(vm.log, errors="replace").read()
    assert "flood3: a line from flooder 3" in log
    # PID 1's own count: the 2 s timeout and little more
    took = int(re.search(r"install: step 1/1 flood: failed in (\d+) ms: timed out after 2 s", log).group(1))
    assert took <= 2000 + POWERDOWN_EXIT_S * 1000, log[-2000:]
    assert "all processes stopped in" in log and "ms; power off" in log


ORPHAN_FLOOD = """[image]
name = orphanflood

[runtime]
getty = none

# An unprivileged service that ends at once, leaving behind a child that
# writes to the service's output for good.
[service.flooder]
user = nobody
shell = yes
restart = no
exec = echo flood starts; (exec yes) & sleep 0.2; exit 0
"""


def test_an_orphan_flooding_a_services_output_does_not_delay_the_power_button(tmpdir_clean, qemu):
    power_button_under_load(tmpdir_clean, qemu, ORPHAN_FLOOD, r"flooder: flood starts",
                            r"amphi: service flooder exited with status 0")
