"""[image] root = squashfs under real QEMU (TCG): the tree on vm/root.img,
read-only on virtio-blk, a writable layer over it (tmpfs, or a data disk
with overlay = disk), the same PID 1 from the initramfs to the services.
Every failure to get the root is said on the console, and PID 1 stays up
(the power button still powers it off)."""

import os
import re
import shutil
import subprocess

from conftest import BOOT_TIMEOUT, build_text, read_newc

ROOTED = """[image]
name = rooted
root = squashfs
{image}
[runtime]
getty = none
{units}
[service.hello]
shell = yes
exec = echo "hello from a service"; exec sleep 100000
"""

# What a service of the appliance sees of its root.
PROBES = """
[task.mounts]
exec = grep -E " (/|/run/amphi/root|/run/amphi/rw) " /proc/mounts

[task.writes]
shell = yes
exec = echo hi >/etc/written && test -f /run/amphi/rw/upper/etc/written && test ! -e /run/amphi/root/etc/written && echo "written: in the upper layer, not in the image"

[task.lower]
shell = yes
exec = touch /run/amphi/root/etc/x; echo "touching the image: status $?"

[task.pid1]
shell = yes
exec = echo "pid 1 runs $(readlink /proc/1/exe)"
"""

# Boot after boot, what the data disk kept.
KEEPER = """
[task.keep]
shell = yes
exec = if test -f /var/lib/keep/mark; then echo "kept: $(cat /var/lib/keep/mark)"; else echo "kept: nothing yet"; fi; mkdir -p /var/lib/keep && cat /proc/sys/kernel/random/boot_id >/var/lib/keep/mark && echo "marked $(cat /var/lib/keep/mark)"; grep " /run/amphi/rw " /proc/mounts; dmesg | grep "EXT4-fs (vd" || true
"""


# The task's last line: the kernel's word on mounting the data disk.
KEEP_DONE = r"keep: \[ *[\d.]+\] EXT4-fs \(vdb\): mounted"


def rooted(tmpdir, image="", units=PROBES):
    return build_text(tmpdir, ROOTED.format(image=image, units=units))


def power_off(vm):
    """The ACPI power button, as virsh shutdown presses it: PID 1's stop
    sequence, then QEMU ends with status 0. The console."""
    vm.monitor("system_powerdown")
    assert vm.exit_code(timeout=BOOT_TIMEOUT) == 0
    log = open(vm.log, errors="replace").read()
    assert "power button: stopping to power off" in log and "ms; power off" in log, log[-2000:]
    assert "Kernel panic" not in log
    return log


def make_disk(path, size=64 << 20, data=None, at=0):
    with open(path, "wb") as f:
        f.truncate(size)
        if data:
            f.seek(at)
            f.write(data)


def test_the_initramfs_holds_only_the_way_to_the_root_image(tmpdir_clean):
    out = rooted(tmpdir_clean)
    entries = read_newc(os.path.join(out, "vm", "initramfs.img"))
    assert "sbin/init" in entries and entries["dev/console"][0] & 0o170000 == 0o020000
    assert not [n for n in entries if "busybox" in n or n.startswith(("bin/", "usr/"))], sorted(entries)
    assert "etc/amphi/recipe.conf" not in entries
    marker = entries["etc/amphi/root-image"][4].decode()
    assert "[root]\nfs = squashfs\noverlay = tmpfs\n" in marker
    loaded = [os.path.basename(p) for p in entries["etc/amphi/modules.load"][4].decode().split()]
    assert {"squashfs.ko", "overlay.ko", "virtio_blk.ko"} <= set(loaded)
    assert "ext4.ko" not in loaded, "ext4 only for overlay = disk"
    # The image holds the whole tree, the modules included.
    listing = subprocess.run(["unsquashfs", "-lls", os.path.join(out, "vm", "root.img")],
                             capture_output=True, text=True, check=True).stdout
    for path in ("bin/busybox", "sbin/init", "etc/amphi/recipe.conf", "etc/amphi/modules.load", "dev/console"):
        assert re.search(rf" squashfs-root/{path}( |$)", listing, re.M), path
    assert re.search(r"^drwxrwxrwt root/root .* squashfs-root/tmp$", listing, re.M)
    assert "root-image" not in listing


def test_boots_from_the_image_as_one_pid1_with_the_users_disk_as_vda(tmpdir_clean, qemu):
    out = rooted(tmpdir_clean)
    disk = os.path.join(tmpdir_clean, "user.img")
    make_disk(disk, 16 << 20)
    vm = qemu(out, env={"AMPHI_DISK": disk})
    log = vm.wait(r"hello: hello from a service")
    vm.wait(r"amphi: ready env=qemu")
    log = vm.wait(r"pid1: pid 1 runs")
    # One PID 1 from the initramfs on: it started once and said ready once.
    assert len(re.findall(r"amphi: amphi-init \S+ starting", log)) == 1
    assert "amphi: root image: /dev/vdb read-only on /run/amphi/root, writes on /run/amphi/rw (tmpfs)" in log
    # The user's disk is vda (16 MiB), the image after it.
    assert re.search(r"virtio_blk virtio\d+: \[vda\] 32768 512-byte logical blocks", log)
    # / is the overlay of the read-only image and a tmpfs.
    assert re.search(r"mounts: overlay / overlay rw,\S*lowerdir=/run/amphi/root,upperdir=/run/amphi/rw/upper,"
                     r"workdir=/run/amphi/rw/work", log), log[-3000:]
    assert re.search(r"mounts: /dev/vdb /run/amphi/root squashfs ro,", log)
    assert re.search(r"mounts: tmpfs /run/amphi/rw tmpfs rw,", log)
    assert "writes: written: in the upper layer, not in the image" in log
    assert "touching the image: status 1" in log and "Read-only file system" in log
    # The initramfs's files are gone (PID 1's own among them): its RAM is free.
    assert "pid1: pid 1 runs /sbin/init (deleted)" in log
    assert " ERROR amphi: " not in log and " WARNING amphi: " not in log
    power_off(vm)


def test_overlay_disk_keeps_writes_across_boots(tmpdir_clean, qemu):
    out = rooted(tmpdir_clean, image="overlay = disk\n", units=KEEPER)
    # amphi build made vm/data.img (sparse, empty); a small one of our own here.
    assert os.path.getsize(os.path.join(out, "vm", "data.img")) == 1 << 30
    data = os.path.join(tmpdir_clean, "data.img")
    make_disk(data)
    vm = qemu(out, env={"AMPHI_DATA": data})
    log = vm.wait(KEEP_DONE)
    first = re.search(r"keep: marked (\S+)", log).group(1)
    assert "data disk /dev/vdb is blank (its first 64 KiB all zero): making a file system on it" in log
    assert "keep: kept: nothing yet" in log
    assert re.search(r"keep: /dev/vdb /run/amphi/rw ext4 rw,", log)
    assert "timestamps until 2038" not in log, "inodes of 256 bytes"
    power_off(vm)
    os.rename(vm.log, vm.log + ".1")

    vm = qemu(out, env={"AMPHI_DATA": data})
    log = vm.wait(KEEP_DONE)
    assert f"keep: kept: {first}" in log
    assert "making a file system" not in log, "a disk with a file system is never formatted again"
    # Unmounted clean at the first power off.
    assert "unchecked" not in log and "recovery" not in log, log[-3000:]
    power_off(vm)


def test_a_data_disk_with_data_but_no_file_system_is_left_alone(tmpdir_clean, qemu):
    out = rooted(tmpdir_clean, image="overlay = disk\n", units=KEEPER)
    data = os.path.join(tmpdir_clean, "data.img")
    planted = b"precious bytes, no file system " * 100
    make_disk(data, data=planted, at=8192)
    before = open(data, "rb").read()
    vm = qemu(out, env={"AMPHI_DATA": data})
    log = vm.wait(r"starting an emergency shell on the console")
    assert re.search(r"ERROR amphi: root image: data disk /dev/vdb \(serial amphi-data\) holds data but no file "
                     r"system it can mount as ext4 \([^)]*\); it is left as it is: only a blank disk", log), log[-3000:]
    assert "making a file system" not in log
    assert "keep:" not in log and "amphi: ready" not in log, "nothing of the appliance runs"
    # The shell is the image's busybox (the initramfs has none), and PID 1
    # is alive: it still handles the power button.
    vm.wait(r"amphi: power button: watching")
    assert "cannot start" not in open(vm.log, errors="replace").read()
    power_off(vm)
    assert open(data, "rb").read() == before, "the disk was written to"


def test_without_the_root_image_the_console_says_what_is_missing(tmpdir_clean, qemu):
    out = rooted(tmpdir_clean)
    os.unlink(os.path.join(out, "vm", "root.img"))
    vm = qemu(out)
    log = vm.wait(r"no emergency shell: ", timeout=BOOT_TIMEOUT + 15)
    assert re.search(r"ERROR amphi: root image: no disk with serial amphi-root after 10 s; this initramfs holds "
                     r"only what it takes to mount the build's vm/root.img", log), log[-3000:]
    assert "amphi: ready" not in log and "Kernel panic" not in log
    vm.wait(r"amphi: power button: watching")
    power_off(vm)


def test_amphi_install_and_run_with_a_root_image(tmpdir_clean):
    """recipes/installer.conf on a root image: amphi install runs it with
    the disk as vda, and amphi run --disk boots the installed system
    (root=) from a root-image initramfs, which has no busybox."""
    from test_install_vm import DiskBoot, install
    text = open(os.path.join(os.path.dirname(__file__), "..", "..", "recipes", "installer.conf")).read()
    text = text.replace("name = installer\n", "name = installer\nroot = squashfs\n", 1)
    recipe = os.path.join(tmpdir_clean, "installer.conf")
    with open(recipe, "w") as f:
        f.write(text)
    out, disk = os.path.join(tmpdir_clean, "out"), os.path.join(tmpdir_clean, "disk.img")
    r = install(recipe, out, disk, "--size", "64M")
    assert r.returncode == 0, r.stdout + r.stderr
    assert os.path.exists(os.path.join(out, "vm", "root.img"))
    boot = DiskBoot(out, disk, tmpdir_clean, "installed")
    try:
        log = boot.wait(r"hello: installed by amphi install")
        assert "root=/dev/vda1 (ext4): switching to its /sbin/init" in log
        assert "root image:" not in log, "root= wins over the image"
        assert "welcome: first boot of the installed system" in log
        boot.power_off()
    finally:
        boot.kill()
