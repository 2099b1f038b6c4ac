"""The minimal appliance under real QEMU (TCG) with Debian's kernel."""

import os
import re
import shutil

from conftest import newc_archive


def test_boots_to_ready_and_reboots_on_ctrl_alt_del(minimal_build, qemu):
    vm = qemu(minimal_build)
    log = vm.wait(r"amphi: ready env=qemu in \d+ ms")
    assert "amphi: modules: loaded 12 of 12" in log
    assert " WARNING amphi: " not in log and " ERROR amphi: " not in log
    # RB_DISABLE_CAD turned Ctrl-Alt-Del into SIGINT: our stop sequence
    # runs, then reboot(2); -no-reboot makes QEMU exit instead.
    vm.monitor("sendkey ctrl-alt-delete")
    log = vm.wait(r"all processes stopped in \d+ ms; reboot")
    assert "SIGINT: stopping to reboot" in log
    assert vm.exit_code() == 0
    assert "Kernel panic" not in open(vm.log, errors="replace").read()


def test_missing_and_broken_modules_are_one_line_each(minimal_build, qemu, tmpdir_clean):
    # A second cpio appended to the initramfs overrides files of the first
    # (the kernel unpacks both): a load list naming a missing module and a
    # file that is not a module.
    overlay = newc_archive({
        "etc/amphi/modules.load": b"/lib/modules/missing.ko\n/etc/passwd\n",
    })
    copy = os.path.join(tmpdir_clean, "build")
    os.makedirs(os.path.join(copy, "vm"))
    for f in ("vmlinuz", "launch"):
        shutil.copy2(os.path.join(minimal_build, "vm", f), os.path.join(copy, "vm", f))
    with open(os.path.join(minimal_build, "vm/initramfs.img"), "rb") as f, \
            open(os.path.join(copy, "vm/initramfs.img"), "wb") as out:
        base = f.read()
        # The kernel looks for the next archive at a 4-byte boundary.
        out.write(base + b"\0" * (-len(base) % 4) + overlay)
    vm = qemu(copy)
    log = vm.wait(r"amphi: ready env=qemu")
    assert "modules: /lib/modules/missing.ko: No such file or directory; going on without it" in log
    assert "modules: /etc/passwd:" in log
    assert "modules: loaded 0 of 2" in log


def test_console_lines_carry_time_and_level(minimal_build, qemu):
    vm = qemu(minimal_build)
    log = vm.wait(r"amphi: ready env=qemu")
    ready = [l for l in log.splitlines() if "amphi: ready" in l][0]
    assert re.fullmatch(r"\d\d:\d\d:\d\d,\d{3} INFO amphi: ready env=qemu in \d+ ms", ready.strip()), ready
