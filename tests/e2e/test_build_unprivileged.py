"""amphi build as another user than root. A recipe without packages needs
nothing of root's; one with packages takes mmdebstrap's unshare mode, with
the user's ranges in /etc/subuid and /etc/subgid. Either way every image
holds the same bytes as root's build of the recipe: the owners come from
the tree, not from who builds. Without ranges, the error says what to do
and no output is left.

Each test makes its own system user and removes it afterwards. The
checkout may sit where that user cannot reach (a clone under /root): its
builds run in a mount namespace of their own, where the checkout is bound
at a path in the test's directory."""

import os
import pwd
import shutil
import subprocess

import pytest

from conftest import AMPHI, BUILD, ROOT, build

# Fixed, so that root's build and the user's agree whatever the caller's
# environment says.
EPOCH = "1700000000"


def _drop_lines(path, name):
    with open(path) as f:
        lines = f.readlines()
    kept = [line for line in lines if not line.startswith(name + ":")]
    if kept != lines:
        with open(path, "w") as f:
            f.writelines(kept)


@pytest.fixture
def make_user():
    """make_user(ranges) -> (name, uid, gid): a system user of the test's
    own, with 65536 subordinate ids when ranges is true."""
    made = []

    def make(ranges):
        name = f"amphi-b{os.getpid()}-{len(made)}"
        subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", "--user-group", name], check=True)
        made.append(name)
        if ranges:
            # Above what make deps gives root (100000-165535) and LXD.
            first = 400_000_000 + (os.getpid() % 4096) * 65536
            span = f"{first}-{first + 65535}"
            subprocess.run(["usermod", "--add-subuids", span, "--add-subgids", span, name], check=True)
        pw = pwd.getpwnam(name)
        return name, pw.pw_uid, pw.pw_gid

    yield make
    for name in made:
        subprocess.run(["userdel", name], capture_output=True)
        subprocess.run(["groupdel", name], capture_output=True)
        for path in ("/etc/subuid", "/etc/subgid"):
            _drop_lines(path, name)


def user_dir(work, name, owner):
    path = os.path.join(work, name)
    os.makedirs(path)
    os.chown(path, owner[1], owner[2])
    return path


def seeded_cache(work, name, owner):
    """A cache of the user's own, with the .debs the other tests fetched:
    mmdebstrap runs afresh but downloads only what is missing."""
    cache = user_dir(work, name, owner)
    debs = os.path.join(BUILD, "cache", "debian", "debs")
    if os.path.isdir(debs):
        shutil.copytree(debs, os.path.join(cache, "debian", "debs"))
    for top, dirs, files in os.walk(cache):
        for entry in dirs + files:
            os.chown(os.path.join(top, entry), owner[1], owner[2])
    return cache


def build_as(user, work, recipe_rel, out, cache):
    """amphi build of the checkout's recipe_rel as user, from the checkout
    bound at work/repo."""
    repo = os.path.join(work, "repo")
    os.makedirs(repo, exist_ok=True)
    name, uid, gid = user
    env = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", f"HOME={out}.home", f"AMPHI_CACHE={cache}",
           f"SOURCE_DATE_EPOCH={EPOCH}"]
    script = ('u=$4 g=$5 && mount --bind "$1" "$2" && cd "$3" && shift 5 && '
              'exec setpriv --reuid "$u" --regid "$g" --clear-groups env -i "$@"')
    rel_amphi = os.path.relpath(AMPHI, ROOT)
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", ROOT, repo, work,
         str(uid), str(gid), *env, os.path.join(repo, rel_amphi), "build", os.path.join(repo, recipe_rel),
         "-o", out], capture_output=True, text=True, timeout=600)


def images(out):
    """The build's images and tarballs, by path below out: the files whose
    bytes must not depend on who built them (the launcher, the domain and
    the LXC config name their own paths)."""
    found = {}
    for sub in ("vm", "lxd", "lxc"):
        top = os.path.join(out, sub)
        for name in os.listdir(top):
            path = os.path.join(top, name)
            if os.path.isfile(path) and not name.startswith(".") and \
                    name.endswith((".img", ".xz", ".squashfs", "vmlinuz")):
                found[f"{sub}/{name}"] = path
    return found


def assert_same_images(mine, roots):
    a, b = images(mine), images(roots)
    assert sorted(a) == sorted(b)
    assert len(a) >= 5, a  # initramfs, kernel, LXD image, lxc-local tarballs at least
    differ = [rel for rel in a if open(a[rel], "rb").read() != open(b[rel], "rb").read()]
    assert not differ, f"not the same bytes as root's build: {differ}"


@pytest.fixture
def work(tmpdir_clean):
    os.chmod(tmpdir_clean, 0o755)  # the user reaches its own directories below
    return tmpdir_clean


def test_a_recipe_without_packages_builds_as_a_user_with_roots_bytes(make_user, work):
    user = make_user(ranges=False)
    out = os.path.join(user_dir(work, "mine", user), "out")
    r = build_as(user, work, "recipes/minimal.conf", out, os.path.join(work, "mine", "cache"))
    assert r.returncode == 0, r.stdout + r.stderr
    build(os.path.join(ROOT, "recipes", "minimal.conf"), os.path.join(work, "roots"),
          env={"SOURCE_DATE_EPOCH": EPOCH})
    assert_same_images(out, os.path.join(work, "roots"))
    # Its LXC tree is there, owned by whoever built it.
    init = os.path.join(out, "lxc", "rootfs", "sbin", "init")
    assert open(init, "rb").read() == open(os.path.join(BUILD, "amphi-init"), "rb").read()
    assert os.stat(init).st_uid == user[1]


def test_a_debian_appliance_builds_as_a_user_with_subuids_with_roots_bytes(make_user, work):
    user = make_user(ranges=True)
    out = os.path.join(user_dir(work, "mine", user), "out")
    r = build_as(user, work, "recipes/nginx.conf", out, seeded_cache(work, "mine-cache", user))
    assert r.returncode == 0, r.stdout + r.stderr
    log = open(next(os.path.join(d, f) for d, _, fs in os.walk(os.path.join(work, "mine-cache"))
                    for f in fs if f.endswith(".log"))).read()
    assert "chosen mode: unshare" in log, log[:2000]
    # Root's, with its own cache made afresh just now: both trees come from
    # the mirror's same package lists.
    build(os.path.join(ROOT, "recipes", "nginx.conf"), os.path.join(work, "roots"),
          env={"SOURCE_DATE_EPOCH": EPOCH, "AMPHI_CACHE": seeded_cache(work, "roots-cache", (0, 0, 0))})
    # The root image's top is root's (mksquashfs would give it to the user
    # who runs it), and so are apt's leftovers (apt runs as the user).
    listing = subprocess.run(["unsquashfs", "-lln", os.path.join(out, "vm", "root.img")],
                             capture_output=True, text=True, check=True).stdout.splitlines()
    assert " 0/0 " in listing[0], listing[0]
    assert not [line for line in listing if f" {user[1]}/" in line or f"/{user[2]} " in line]
    assert_same_images(out, os.path.join(work, "roots"))


def test_packages_without_subuid_ranges_say_what_to_do_and_leave_nothing(make_user, work):
    user = make_user(ranges=False)
    out = os.path.join(user_dir(work, "mine", user), "out")
    r = build_as(user, work, "recipes/nginx.conf", out, seeded_cache(work, "mine-cache", user))
    assert r.returncode != 0
    recipe = os.path.join(work, "repo", "recipes", "nginx.conf")
    line = next(i for i, text in enumerate(open(os.path.join(ROOT, "recipes", "nginx.conf")), 1)
                if text.startswith("packages"))
    assert f"{recipe}:{line}: packages: mmdebstrap cannot make a tree as {user[0]}" in r.stderr, r.stderr
    assert f"usermod --add-subuids 200000-265535 --add-subgids 200000-265535 {user[0]}" in r.stderr
    assert not os.path.exists(out)
