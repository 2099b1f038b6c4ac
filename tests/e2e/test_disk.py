"""AMPHI_DISK: vm/launch gives the guest a raw disk on virtio-blk with its
own iothread, cache=none where the file system has O_DIRECT, writeback
where it has not. The choice is checked with AMPHI_DRY_RUN; one real boot
shows the guest's kernel finding vda."""

import os
import subprocess

from conftest import build_text, unique

DIRECT = "cache=none,aio=native"
FALLBACK = "cache=writeback,aio=threads"
IOTHREAD = ("-object iothread,id=iothread0 ", " -device virtio-blk-pci,drive=disk0,iothread=iothread0")


def dry_run(build_dir, disk, wrap=()):
    launch = os.path.join(build_dir, "vm", "launch")
    env = dict(os.environ, AMPHI_DRY_RUN="1", AMPHI_ACCEL="tcg", AMPHI_DISK=disk)
    return subprocess.run([*wrap, launch], env=env, capture_output=True, text=True, timeout=30)


def disk_line(r):
    lines = r.stdout.splitlines()
    assert r.returncode == 0 and len(lines) == 2 and lines[0] == "accel=tcg", (r.stdout, r.stderr)
    assert lines[1].startswith("disk=" + IOTHREAD[0]) and lines[1].endswith(IOTHREAD[1]), lines[1]
    return lines[1]


def make_disk(path, size=16 << 20):
    with open(path, "wb") as f:
        f.truncate(size)


def opens_direct(path):
    try:
        os.close(os.open(path, os.O_RDONLY | os.O_DIRECT))
        return True
    except OSError:
        return False


def test_disk_on_a_normal_file_system_gets_cache_none_and_an_iothread(minimal_build, tmpdir_clean):
    # A comma in the path is doubled: QEMU's option syntax.
    disk = os.path.join(tmpdir_clean, "disk,1.img")
    make_disk(disk)
    assert opens_direct(disk), "the test's tmp dir is expected on a file system with O_DIRECT"
    r = dry_run(minimal_build, disk)
    drive = disk_line(r)
    assert f" -drive file={disk.replace(',', ',,')},format=raw,if=none,id=disk0,{DIRECT} " in drive
    assert r.stderr == ""


def test_disk_without_o_direct_falls_back_to_writeback_and_says_so(minimal_build, tmpdir_clean):
    # ramfs has no O_DIRECT on any kernel (tmpfs has had it since Linux
    # 6.6); it is mounted in a mount namespace of the test's own, so it
    # goes away with the launcher and nothing is left on the host.
    mnt = os.path.join(tmpdir_clean, "ramfs")
    os.mkdir(mnt)
    disk = os.path.join(mnt, "disk.img")
    script = 'mount -t ramfs ramfs "$1" && truncate -s 16M "$2" && exec "$3"'
    wrap = ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", mnt, disk]
    r = dry_run(minimal_build, disk, wrap)
    drive = disk_line(r)
    assert f" -drive file={disk},format=raw,if=none,id=disk0,{FALLBACK} " in drive
    assert r.stderr == (f"launch: {disk} is on a file system without O_DIRECT (tmpfs?); "
                        f"using {FALLBACK}\n")
    assert os.listdir(mnt) == []


def test_disk_in_dev_shm_follows_what_open_o_direct_says(minimal_build):
    # Whether tmpfs takes O_DIRECT depends on the host's kernel: the
    # launcher must agree with open(2) here.
    disk = os.path.join("/dev/shm", unique("amphi-e2e-disk") + ".img")
    make_disk(disk)
    try:
        direct = opens_direct(disk)
        r = dry_run(minimal_build, disk)
        drive = disk_line(r)
        assert drive.endswith(f",{DIRECT if direct else FALLBACK}" + IOTHREAD[1]), drive
        assert ("without O_DIRECT" in r.stderr) == (not direct), r.stderr
    finally:
        os.unlink(disk)


def test_missing_disk_is_a_clear_error(minimal_build, tmpdir_clean):
    disk = os.path.join(tmpdir_clean, "nope.img")
    r = dry_run(minimal_build, disk)
    assert r.returncode == 2 and r.stdout == ""
    assert f"AMPHI_DISK={disk}: no such file" in r.stderr
    assert f"'truncate -s 1G {disk}'" in r.stderr and "amphi install" in r.stderr


def test_guest_sees_the_disk_as_vda(minimal_build, qemu, tmpdir_clean, monkeypatch):
    disk = os.path.join(tmpdir_clean, "disk.img")
    make_disk(disk)
    monkeypatch.setenv("AMPHI_DISK", disk)  # Qemu's launcher gets our environment
    vm = qemu(minimal_build)
    vm.wait(r"amphi: ready env=qemu")
    # virtio_blk is in every image's module set; its probe names the disk
    # on the console: "virtio_blk virtio1: [vda] 32768 512-byte logical blocks".
    vm.wait(r"virtio_blk virtio\d+: \[vda\] 32768 512-byte logical blocks")


def test_a_root_image_is_read_only_after_the_users_disk(tmpdir_clean):
    # Each disk has an iothread of its own; the guest finds the image by
    # its serial (test_rootimage boots it with the user's disk as vda).
    out = build_text(tmpdir_clean, "[image]\nname = rooted\nroot = squashfs\noverlay = disk\n")
    disk = os.path.join(tmpdir_clean, "disk.img")
    make_disk(disk)
    r = dry_run(out, disk)
    lines = r.stdout.splitlines()
    assert r.returncode == 0 and [l.split("=")[0] for l in lines] == ["accel", "disk", "root", "data"], r.stdout
    vm = os.path.join(out, "vm")
    assert lines[1].startswith("disk=" + IOTHREAD[0]) and lines[1].endswith(IOTHREAD[1]), lines[1]
    assert lines[2] == (f"root=-object iothread,id=iothread1 -drive file={vm}/root.img,format=raw,if=none,id=root0,"
                        f"readonly=on,{DIRECT} -device virtio-blk-pci,drive=root0,iothread=iothread1,serial=amphi-root")
    assert lines[3] == (f"data=-object iothread,id=iothread2 -drive file={vm}/data.img,format=raw,if=none,id=data0,"
                        f"{DIRECT} -device virtio-blk-pci,drive=data0,iothread=iothread2,serial=amphi-data")
    # AMPHI_DATA instead of vm/data.img; one that is not there is said.
    missing = os.path.join(tmpdir_clean, "nodata.img")
    env = dict(os.environ, AMPHI_DRY_RUN="1", AMPHI_ACCEL="tcg", AMPHI_DATA=missing)
    r = subprocess.run([os.path.join(vm, "launch")], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and r.stdout == ""
    assert f"AMPHI_DATA={missing}: no such file" in r.stderr and f"'truncate -s 1G {missing}'" in r.stderr
