"""amphi build: what goes into the images, reproducibly; and the init as a
plain command."""

import os
import re
import shutil
import subprocess

from conftest import AMPHI, BOOT_TIMEOUT, INIT, RECIPES, amphi, build, read_newc, unique

MINIMAL = os.path.join(RECIPES, "minimal.conf")
# The Makefile's limit.
INIT_LIMIT = int(re.search(r"^INIT_MAX\s*:=\s*(\d+)$", open(os.path.join(os.path.dirname(RECIPES), "Makefile")).read(),
                           re.M).group(1))


def test_init_is_static_and_small():
    out = subprocess.run(["file", "-L", INIT], capture_output=True, text=True).stdout
    assert "statically linked" in out
    assert os.path.getsize(INIT) <= INIT_LIMIT


def test_build_writes_vm_and_lxc_outputs(minimal_build):
    for f in ("vm/vmlinuz", "vm/initramfs.img", "vm/launch", "lxc/config", "lxc/rootfs/sbin/init",
              "lxc/rootfs/bin/busybox", "lxc/rootfs/etc/amphi/recipe.conf"):
        assert os.path.exists(os.path.join(minimal_build, f)), f
    assert os.access(os.path.join(minimal_build, "vm/launch"), os.X_OK)
    assert os.readlink(os.path.join(minimal_build, "lxc/rootfs/bin/sh")) == "/bin/busybox"
    config = open(os.path.join(minimal_build, "lxc/config")).read()
    assert f"lxc.rootfs.path = dir:{minimal_build}/lxc/rootfs" in config
    for line in ("lxc.init.cmd = /sbin/init", "lxc.signal.halt = SIGPWR", "lxc.signal.reboot = SIGINT",
                 "lxc.tty.max = 1", "lxc.net.0.type = empty"):
        assert line in config


def test_initramfs_contents(minimal_build):
    entries = read_newc(os.path.join(minimal_build, "vm/initramfs.img"))
    names = list(entries)
    assert names == sorted(names), "entries are sorted"
    assert all(uid == 0 and gid == 0 for _, uid, gid, _, _ in entries.values())
    assert entries["sbin/init"][4] == open(INIT, "rb").read()
    assert entries["init"][4] == b"/sbin/init"
    assert entries["dev/console"][0] & 0o170000 == 0o020000  # a character device
    assert entries["etc/shadow"][0] & 0o777 == 0o600
    order = entries["etc/amphi/modules.load"][4].decode().split()
    base = [os.path.basename(p) for p in order]
    for m in ("virtio_pci.ko", "virtio_console.ko", "virtio_net.ko", "virtio_blk.ko"):
        assert m in base
    # Dependencies first, as modprobe would load them.
    assert base.index("virtio_ring.ko") < base.index("virtio.ko") < base.index("virtio_pci.ko")
    assert base.index("failover.ko") < base.index("net_failover.ko") < base.index("virtio_net.ko")
    for path in order:
        assert path.lstrip("/") in entries, f"{path} listed but not in the archive"


def test_two_builds_are_byte_identical(tmpdir_clean):
    a, b = os.path.join(tmpdir_clean, "a"), os.path.join(tmpdir_clean, "b")
    build(MINIMAL, a)
    build(MINIMAL, b)
    img = lambda d: open(os.path.join(d, "vm/initramfs.img"), "rb").read()
    assert img(a) == img(b)
    first = img(a)
    build(MINIMAL, a)  # a rebuild over an earlier build
    assert img(a) == first


ROOTED = "[image]\nname = rooted\nroot = squashfs\n"


def test_two_root_image_builds_are_byte_identical(tmpdir_clean):
    recipe = os.path.join(tmpdir_clean, "rooted.conf")
    with open(recipe, "w") as f:
        f.write(ROOTED)
    a, b = os.path.join(tmpdir_clean, "a"), os.path.join(tmpdir_clean, "b")
    env = {"SOURCE_DATE_EPOCH": "1700000000"}
    build(recipe, a, env=env)
    build(recipe, b, env=env)
    read = lambda d, f: open(os.path.join(d, "vm", f), "rb").read()
    for f in ("root.img", "initramfs.img"):
        assert read(a, f) == read(b, f), f
    first = read(a, "root.img")
    build(recipe, a, env=env)  # a rebuild over an earlier build
    assert read(a, "root.img") == first
    # Every time in it is SOURCE_DATE_EPOCH's, the file system's own too.
    sb = subprocess.run(["unsquashfs", "-s", os.path.join(a, "vm", "root.img")], capture_output=True, text=True,
                        env=dict(os.environ, TZ="UTC"), check=True).stdout
    assert "Tue Nov 14 22:13:20 2023" in sb, sb
    listing = subprocess.run(["unsquashfs", "-lls", os.path.join(a, "vm", "root.img")], capture_output=True,
                             text=True, env=dict(os.environ, TZ="UTC"), check=True).stdout.splitlines()
    assert len(listing) > 100 and all("2023-11-14 22:13 squashfs-root" in l for l in listing), listing[:5]
    # Built again as one initramfs: the launcher must not find the old image.
    with open(recipe, "w") as f:
        f.write(ROOTED.replace("squashfs", "initramfs"))
    build(recipe, a)
    assert not os.path.exists(os.path.join(a, "vm", "root.img"))
    assert "bin/busybox" in read_newc(os.path.join(a, "vm", "initramfs.img"))


def test_source_date_epoch_sets_every_mtime(tmpdir_clean):
    out = os.path.join(tmpdir_clean, "o")
    build(MINIMAL, out, env={"SOURCE_DATE_EPOCH": "1700000000"})
    entries = read_newc(os.path.join(out, "vm/initramfs.img"))
    assert {mtime for _, _, _, mtime, _ in entries.values()} == {1700000000}
    assert os.lstat(os.path.join(out, "lxc/rootfs/sbin/init")).st_mtime == 1700000000


def test_bad_recipe_names_file_and_line(tmpdir_clean):
    bad = os.path.join(tmpdir_clean, "bad.conf")
    with open(bad, "w") as f:
        f.write("[image]\nname = x\n\n[runtime]\nttys = lots\n")
    out = os.path.join(tmpdir_clean, "o")
    r = amphi("build", bad, "-o", out, check=False)
    assert r.returncode == 1
    assert f"{bad}:5: ttys = 'lots': expected a whole number from 0 to 12" in r.stderr
    assert not os.path.exists(out), "nothing is written for a bad recipe"


def test_output_dir_parents_are_created(tmpdir_clean):
    out = os.path.join(tmpdir_clean, "not", "yet", "there")
    build(MINIMAL, out)
    assert os.path.exists(os.path.join(out, "vm/initramfs.img"))


def test_refuses_a_foreign_nonempty_output_dir(tmpdir_clean):
    with open(os.path.join(tmpdir_clean, "precious"), "w") as f:
        f.write("keep me")
    r = amphi("build", MINIMAL, "-o", tmpdir_clean, check=False)
    assert r.returncode == 1 and "not an amphi build" in r.stderr
    assert open(os.path.join(tmpdir_clean, "precious")).read() == "keep me"


def test_init_detect_agrees_with_systemd_detect_virt():
    ours = subprocess.run([INIT, "--detect"], capture_output=True, text=True)
    assert ours.returncode == 0
    sdv = shutil.which("systemd-detect-virt")
    if sdv:
        theirs = subprocess.run([sdv], capture_output=True, text=True).stdout.strip()
        assert ours.stdout.strip() == theirs
    else:
        assert re.fullmatch(r"[a-z-]+\n", ours.stdout)
    # a fixture root that is not there is an error, not a verdict on nothing
    r = subprocess.run([INIT, "--detect", "--root", "/nonexistent-amphi-root"], capture_output=True, text=True)
    assert r.returncode == 1 and r.stdout == ""
    assert "--root /nonexistent-amphi-root: No such file or directory" in r.stderr


def test_init_refuses_to_start_a_system_when_not_pid1():
    r = subprocess.run([INIT], capture_output=True, text=True, timeout=10)
    assert r.returncode == 2
    assert "not process 1" in r.stderr


def test_launcher_picks_tcg_without_usable_kvm(minimal_build):
    launch = os.path.join(minimal_build, "vm/launch")
    env = {k: v for k, v in os.environ.items() if k != "AMPHI_ACCEL"}
    r = subprocess.run([launch], env=dict(env, AMPHI_DRY_RUN="1"), capture_output=True, text=True)
    cpu_ok = re.search(r"\b(vmx|svm)\b", open("/proc/cpuinfo").read()) is not None
    try:
        with open("/dev/kvm", "r+b"):
            kvm_ok = True
    except OSError:
        kvm_ok = False
    assert r.stdout.strip() == ("accel=kvm" if cpu_ok and kvm_ok else "accel=tcg")
    r = subprocess.run([launch], env=dict(env, AMPHI_DRY_RUN="1", AMPHI_ACCEL="tcg"), capture_output=True, text=True)
    assert r.stdout.strip() == "accel=tcg"
    r = subprocess.run([launch], env=dict(env, AMPHI_ACCEL="warp"), capture_output=True, text=True)
    assert r.returncode == 2 and "expected kvm or tcg" in r.stderr


# The launcher's check for KVM must not make /dev/kvm where there is none:
# sh's <> opens with O_CREAT, and an empty regular file there makes libvirt
# refuse every domain. Run in a mount namespace of its own whose /dev is a
# tmpfs holding only what QEMU needs, so the host's /dev is never touched.
NO_KVM_DEV = r'''
set -eu
mount --bind /dev "$1/olddev"
mount -t tmpfs -o mode=755 amphi-e2e-dev /dev
for n in null zero random urandom; do : > "/dev/$n"; mount --bind "$1/olddev/$n" "/dev/$n"; done
umount "$1/olddev"
AMPHI_DRY_RUN=1 "$2"
[ ! -e /dev/kvm ] || { echo "dry run made /dev/kvm"; exit 1; }
"$2" -name "$3" >"$1/serial.log" 2>&1 </dev/null &
qemu=$!
i=0
until grep -q 'amphi: ready' "$1/serial.log"; do
    i=$((i + 1)); [ $i -lt 900 ] || { kill $qemu; echo "no ready line"; exit 1; }
    sleep 0.1
done
kill $qemu; wait $qemu || true
[ ! -e /dev/kvm ] || { echo "the boot made /dev/kvm"; exit 1; }
ls /dev
'''


def test_launcher_makes_nothing_in_dev_without_kvm(minimal_build, tmpdir_clean):
    os.mkdir(os.path.join(tmpdir_clean, "olddev"))
    def kvm_node():
        st = os.lstat("/dev/kvm") if os.path.lexists("/dev/kvm") else None
        return st and (st.st_mode, st.st_rdev, st.st_ino)
    host_kvm = kvm_node()
    env = {k: v for k, v in os.environ.items() if k != "AMPHI_ACCEL"}
    r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", NO_KVM_DEV, "sh", tmpdir_clean,
                        os.path.join(minimal_build, "vm/launch"), unique("amphi-e2e-vm")],
                       env=env, capture_output=True, text=True, timeout=BOOT_TIMEOUT + 30)
    assert r.returncode == 0, r.stdout + r.stderr
    # the dry run picked TCG and both runs left /dev as it was made
    assert r.stdout.split() == ["accel=tcg", "null", "random", "urandom", "zero"]
    # the host's /dev/kvm (or its absence) is as it was
    assert kvm_node() == host_kvm


def test_amphi_usage_errors():
    r = subprocess.run([AMPHI, "frobnicate"], capture_output=True, text=True)
    assert r.returncode == 2 and "unknown command 'frobnicate'" in r.stderr
    r = subprocess.run([AMPHI, "build"], capture_output=True, text=True)
    assert r.returncode == 2 and "usage: amphi build" in r.stderr
    # what is missing is said, with an example
    for args, want in ((["build", MINIMAL], "amphi build: where to? add -o DIR"),
                       (["build", "-o", "/nonexistent/x"], "amphi build: which recipe?"),
                       (["build", MINIMAL, "-o"], "amphi build: a directory is missing after '-o'"),
                       (["run"], "amphi run: which build?"),
                       (["install", MINIMAL], "amphi install: onto what? add --disk DISK"),
                       (["logs", "--out", "/nonexistent"], "amphi logs: read from where?"),
                       (["logs", "--connect", "a", "--listen", "b"], "amphi logs: one source at a time")):
        r = subprocess.run([AMPHI, *args], capture_output=True, text=True)
        assert r.returncode == 2 and want in r.stderr, (args, r.stderr)
    # --help is an answer, not an error
    for cmd in ("build", "run", "install", "logs"):
        r = subprocess.run([AMPHI, cmd, "--help"], capture_output=True, text=True)
        assert r.returncode == 0 and r.stdout.startswith(f"usage: amphi {cmd}") and not r.stderr, cmd
    # an option's value is not a request for help, whatever it looks like
    r = subprocess.run([AMPHI, "logs", "--out", "-h", "--connect", "/nonexistent/amphi.sock"], capture_output=True, text=True)
    assert r.returncode == 1 and "connect /nonexistent/amphi.sock: No such file or directory" in r.stderr
    r = subprocess.run([AMPHI, "build", os.path.dirname(MINIMAL), "-o", "/nonexistent/x"], capture_output=True, text=True)
    assert r.returncode == 1 and f"{os.path.dirname(MINIMAL)}: is a directory; expected a file" in r.stderr


def test_unknown_module_is_a_recipe_error(tmpdir_clean):
    recipe = os.path.join(tmpdir_clean, "m.conf")
    with open(recipe, "w") as f:
        f.write("[image]\nname = m\n\nmodules = virtio_rng no_such_module\n")
    r = amphi("build", recipe, "-o", os.path.join(tmpdir_clean, "o"), check=False)
    assert r.returncode == 1
    assert "no_such_module" in r.stderr and recipe in r.stderr
    assert f"{recipe}:4: [image] modules: kernel module 'no_such_module' is neither in modules.dep" in r.stderr
    assert not os.path.exists(os.path.join(tmpdir_clean, "o")), "the failed build's new directory is gone"
    # into an earlier build: that one stays
    good = os.path.join(tmpdir_clean, "good")
    amphi("build", MINIMAL, "-o", good)
    with open(os.path.join(good, "my-notes.txt"), "w") as f:
        f.write("keep me")
    for spelling in (good, os.path.join(tmpdir_clean, "new", "..", "good")):  # the second does not exist as written
        assert amphi("build", recipe, "-o", spelling, check=False).returncode == 1
        assert open(os.path.join(good, "my-notes.txt")).read() == "keep me"
        assert os.path.exists(os.path.join(good, "vm", "initramfs.img"))


def test_the_readmes_recipe_examples_build_as_they_are(tmpdir_clean):
    """Every ```ini block of README.md is a recipe (or a recipe's part) that
    amphi build takes as it stands: copied examples must not fail. They sit
    where recipes/ has its folder of files (nginx/), as the README's do."""
    readme = open(os.path.join(os.path.dirname(RECIPES), "README.md")).read()
    shutil.copytree(os.path.join(RECIPES, "nginx"), os.path.join(tmpdir_clean, "nginx"))
    blocks = re.findall(r"^```ini\n(.*?)^```", readme, re.S | re.M)
    assert len(blocks) >= 4, "the README's recipe examples were found"
    for i, text in enumerate(blocks):
        if not re.search(r"^\[image\]", text, re.M):
            text = "[image]\nname = readme\n" + text
        recipe = os.path.join(tmpdir_clean, f"readme-{i}.conf")
        with open(recipe, "w") as f:
            f.write(text)
        r = amphi("build", recipe, "-o", os.path.join(tmpdir_clean, f"out-{i}"), check=False)
        assert r.returncode == 0, f"README's ini block {i + 1}:\n{text}\n{r.stderr}"
