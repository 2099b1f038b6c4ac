"""lxc-create -t build/lxc-amphi: a container that says what to do next,
and every hint works as printed. LXC's default network is a veth on
lxcbr0: the test makes that bridge in a network namespace of its own and
runs the LXC commands there."""

import os
import re
import shutil
import subprocess
import time

import pytest

from conftest import BUILD, LXC_TIMEOUT, RECIPES, console_through, login_prompt_through, netns_exec, unique, wait_for
from confinement import assert_confined, probe_recipe, put_probe

TEMPLATE = os.path.join(BUILD, "lxc-amphi")


def in_ns(ns, cmd, **kw):
    return subprocess.run([*netns_exec(ns), "sh", "-c", cmd], capture_output=True, text=True,
                          timeout=LXC_TIMEOUT, **kw)


def hints(text):
    """The commands the creation message prints, by what they are for."""
    found = {}
    for key, rx in (("start", r"start it:\s+(.+)"), ("console", r"its login prompt:\s+(lxc-console .+?)\s{2,}\("),
                    ("attach", r"a shell inside:\s+(.+)"), ("logs", r"^\s+(\S+ logs --connect .+)$"),
                    ("stop", r"stop it:\s+(lxc-stop .+?)\s{2,}restart"), ("restart", r"restart:\s+(.+)")):
        m = re.search(rx, text, re.M)
        assert m, f"no {key} hint in:\n{text}"
        found[key] = m.group(1).strip()
    return found


def test_template_creates_a_container_whose_hints_all_work(ns_lxcbr0, tmpdir_clean):
    name = unique("amphi-e2e-tpl")
    lxcpath = os.path.join(tmpdir_clean, "lxc")
    os.makedirs(lxcpath)
    r = subprocess.run(["lxc-create", "-t", TEMPLATE, "-n", name, "-P", lxcpath, "--",
                        "--recipe", os.path.join(RECIPES, "minimal.conf"), "--ttys", "2"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    h = hints(r.stdout)
    assert open(os.path.join(lxcpath, name, "amphi-next-steps.txt")).read() == r.stdout
    # LXC's veth and no address from anyone: DHCP, and the hint says so.
    assert ("network:           eth0, a veth on bridge lxcbr0, takes an address by DHCP, amphi's default "
            "where nothing else gives one") in r.stdout
    try:
        assert in_ns(ns_lxcbr0, h["start"]).returncode == 0
        console_log = os.path.join(lxcpath, name, "console.log")
        assert console_log in r.stdout
        log = wait_for(console_log, r"amphi: ready env=lxc", LXC_TIMEOUT)
        assert "net: eth0: no address from the container manager and no [network.eth0]; asking DHCP" in log
        addr = in_ns(ns_lxcbr0, h["attach"] + " -- ip -4 addr show dev eth0").stdout
        m = re.search(r"inet (10\.0\.3\.1\d\d)/24", addr)
        assert m, addr
        assert in_ns(ns_lxcbr0, f"busybox ping -c 1 -W 5 {m.group(1)}").returncode == 0
        assert login_prompt_through(ns_lxcbr0, h["console"])
        out = in_ns(ns_lxcbr0, h["attach"] + " -- cat /proc/1/comm").stdout
        assert out.strip() == "init"
        # The logs hint, as printed, streams from the host directory it names.
        logs = subprocess.Popen(["ip", "netns", "exec", ns_lxcbr0, "sh", "-c", "exec timeout 60 " + h["logs"] + " --json"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            line = ""
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and "ready env=lxc" not in line:
                line = logs.stdout.readline()
                if not line:
                    break
            assert "ready env=lxc" in line
        finally:
            logs.terminate()
            logs.communicate(timeout=10)
        assert in_ns(ns_lxcbr0, h["restart"]).returncode == 0
        wait_for(console_log, r"amphi: ready env=lxc", LXC_TIMEOUT, count=2)
        assert in_ns(ns_lxcbr0, h["stop"]).returncode == 0
        state = in_ns(ns_lxcbr0, f"lxc-info -n {name} -P {lxcpath} -s -H").stdout.strip()
        assert state == "STOPPED"
    finally:
        in_ns(ns_lxcbr0, f"lxc-stop -k -n {name} -P {lxcpath}")
        subprocess.run(["lxc-destroy", "-n", name, "-P", lxcpath], capture_output=True)
    assert not os.path.exists(os.path.join(lxcpath, name))


def test_a_container_from_the_template_is_confined_as_lxcs_templates_make_theirs(confine_probe, tmpdir_clean):
    """LXC's common.conf comes before the lines lxc-create wrote (from
    default.conf or -f, which may change it, as with LXC's templates), and
    amphi's after them."""
    name = unique("amphi-e2e-tplc")
    lxcpath = os.path.join(tmpdir_clean, "lxc")
    os.makedirs(lxcpath)
    conf = os.path.join(tmpdir_clean, "empty-net.conf")
    with open(conf, "w") as f:
        f.write("lxc.net.0.type = empty\n")
    r = subprocess.run(["lxc-create", "-t", TEMPLATE, "-f", conf, "-n", name, "-P", lxcpath, "--",
                        "--recipe", probe_recipe(os.path.join(tmpdir_clean, "confined.conf"), "confined")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    ctdir = os.path.join(lxcpath, name)
    config = open(os.path.join(ctdir, "config")).read()
    assert config.index("lxc.include = /usr/share/lxc/config/common.conf\n") < \
        config.index("lxc.net.0.type = empty\n") < config.index("lxc.init.cmd = /sbin/init\n")
    assert "userns.conf" not in config
    put_probe(confine_probe, os.path.join(ctdir, "rootfs"))
    try:
        r = subprocess.run(["lxc-start", "-n", name, "-P", lxcpath], capture_output=True, text=True,
                           timeout=LXC_TIMEOUT)
        assert r.returncode == 0, r.stderr
        assert_confined(wait_for(os.path.join(ctdir, "console.log"), r"amphi: ready env=lxc", LXC_TIMEOUT))
        r = subprocess.run(["lxc-stop", "-n", name, "-P", lxcpath, "--nokill", "-t", "20"], capture_output=True,
                           text=True, timeout=LXC_TIMEOUT)
        assert r.returncode == 0, r.stderr
    finally:
        subprocess.run(["lxc-stop", "-k", "-n", name, "-P", lxcpath], capture_output=True)
        subprocess.run(["lxc-destroy", "-n", name, "-P", lxcpath], capture_output=True)
    assert not os.path.exists(ctdir)


def test_hostname_net_and_autologin_options_do_what_the_hints_say(ns_lxcbr0, tmpdir_clean):
    # The bridge gets an address of the test's own, in its own namespace.
    subprocess.run(["ip", "-n", ns_lxcbr0, "addr", "add", "10.77.0.1/24", "dev", "lxcbr0"], check=True)
    name = unique("amphi-e2e-tplo")
    lxcpath = os.path.join(tmpdir_clean, "lxc")
    os.makedirs(lxcpath)
    r = subprocess.run(["lxc-create", "-t", TEMPLATE, "-n", name, "-P", lxcpath, "--",
                        "--recipe", os.path.join(RECIPES, "minimal.conf"), "--hostname", "web7",
                        "--net", "10.77.0.2/24", "--autologin", "--ttys", "1"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "network:           eth0, a veth on bridge lxcbr0, gets 10.77.0.2/24 from the recipe;" in r.stdout
    assert f"{lxcpath}/{name}/rootfs/etc/amphi/recipe.conf ([network.eth0])" in r.stdout
    h = hints(r.stdout)
    ctdir = os.path.join(lxcpath, name)
    try:
        assert in_ns(ns_lxcbr0, h["start"]).returncode == 0
        wait_for(os.path.join(ctdir, "console.log"), r"amphi: ready env=lxc", LXC_TIMEOUT)
        ping = in_ns(ns_lxcbr0, "busybox ping -c 1 -W 5 10.77.0.2")
        assert ping.returncode == 0, ping.stdout + ping.stderr
        # Autologin: a root shell on tty1, on a host named as --hostname said.
        seen = console_through(ns_lxcbr0, h["console"], want=rb"root@web7:~# ",
                               then=b"hostname; echo $((6*7))\r", then_want=rb"\n42\r")
        assert b"\nweb7\r" in seen
        assert b"login:" not in seen
        assert in_ns(ns_lxcbr0, h["stop"]).returncode == 0
    finally:
        in_ns(ns_lxcbr0, f"lxc-stop -k -n {name} -P {lxcpath}")
        subprocess.run(["lxc-destroy", "-n", name, "-P", lxcpath], capture_output=True)
    assert not os.path.exists(ctdir)


def test_default_network_hint_says_what_lxc_config_gives(tmpdir_clean):
    """Without --net, the hint reads the network lxc-create wrote: LXC's
    default.conf veth on lxcbr0 (DHCP unless LXC gives an address), and
    warns when the bridge is not up on this host (lxc-start would fail)."""
    for extra, says in (("", "eth0, a veth on bridge lxcbr0, takes an address by DHCP, amphi's default"),
                        ("lxc.net.0.ipv4.address = 10.0.3.9/24\n",
                         "eth0, a veth on bridge lxcbr0, gets 10.0.3.9/24 from LXC (lxc.net.0.ipv4.address)"),
                        ("lxc.net.0.type = empty\n", "loopback only (lxc.net.0.type = empty)")):
        ctdir = os.path.join(tmpdir_clean, "ct")
        shutil.rmtree(ctdir, ignore_errors=True)
        os.makedirs(os.path.join(ctdir, "rootfs"))
        with open("/etc/lxc/default.conf") as f, open(os.path.join(ctdir, "config"), "w") as out:
            out.write(f.read() + extra)
        r = subprocess.run([TEMPLATE, f"--path={ctdir}", "--name=ct", f"--rootfs={ctdir}/rootfs",
                            "--recipe", os.path.join(RECIPES, "minimal.conf")],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert "network:           " + says in r.stdout, r.stdout
        note = ("bridge lxcbr0 is not up on this host, and lxc-start fails until it is;\n"
                "                     LXC's lxc-net makes it, with DHCP: /usr/libexec/lxc/lxc-net start")
        if "empty" not in extra:
            # The tests' lxcbr0 lives in their own namespaces; the host's own, only where lxc-net runs.
            assert (note in r.stdout) == (not os.path.exists("/sys/class/net/lxcbr0")), r.stdout


def test_hint_follows_the_recipes_unnamed_key(tmpdir_clean):
    """The DHCP default is the init's (init/net.c): the template writes no
    [network.eth0] for it, and the hint says what the recipe's [network]
    unnamed = leaves eth0 with."""
    quiet = os.path.join(tmpdir_clean, "quiet.conf")
    with open(quiet, "w") as f:
        f.write("[image]\nname = quiet\n[network]\nunnamed = none\n")
    for recipe, says in ((os.path.join(RECIPES, "minimal.conf"),
                          "takes an address by DHCP, amphi's default where nothing else gives one"),
                         (quiet, "comes up with no address: neither LXC's config nor the\n"
                                 "                     recipe gives one (it says [network] unnamed = none;")):
        ctdir = os.path.join(tmpdir_clean, "ct")
        shutil.rmtree(ctdir, ignore_errors=True)
        os.makedirs(os.path.join(ctdir, "rootfs"))
        shutil.copy("/etc/lxc/default.conf", os.path.join(ctdir, "config"))
        r = subprocess.run([TEMPLATE, f"--path={ctdir}", "--name=ct", f"--rootfs={ctdir}/rootfs", "--recipe", recipe],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert says in r.stdout, r.stdout
        assert "unnamed = %s in [network])" % ("dhcp" if recipe == quiet else "none") in r.stdout, r.stdout
        assert "[network.eth0]" not in open(os.path.join(ctdir, "rootfs", "etc", "amphi", "recipe.conf")).read()


@pytest.mark.parametrize("args,says", [
    (["--bogus"], "unknown option '--bogus'"),
    ([], "add -- --recipe FILE"),
    (["--ttys", "many"], "--ttys many: ttys = 'many': expected a whole number from 0 to 12"),
])
def test_bad_arguments_leave_nothing_behind(tmpdir_clean, args, says):
    name = unique("amphi-e2e-tplbad")
    lxcpath = os.path.join(tmpdir_clean, "lxc")
    os.makedirs(lxcpath)
    extra = args if args == [] or args[0] != "--ttys" else ["--recipe", os.path.join(RECIPES, "minimal.conf")] + args
    r = subprocess.run(["lxc-create", "-t", TEMPLATE, "-n", name, "-P", lxcpath, "--", *extra],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert says in r.stderr + r.stdout
    assert not os.path.exists(os.path.join(lxcpath, name))


def test_a_recipe_that_does_not_parse_is_a_file_line_error(tmpdir_clean):
    bad = os.path.join(tmpdir_clean, "bad.conf")
    with open(bad, "w") as f:
        f.write("[image]\nname = x\n[runtime]\nttys = lots\n")
    name = unique("amphi-e2e-tplbad")
    lxcpath = os.path.join(tmpdir_clean, "lxc")
    os.makedirs(lxcpath)
    r = subprocess.run(["lxc-create", "-t", TEMPLATE, "-n", name, "-P", lxcpath, "--", "--recipe", bad],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert f"{bad}:4: ttys = 'lots'" in r.stderr + r.stdout
    assert not os.path.exists(os.path.join(lxcpath, name))


def test_a_bad_option_is_named_as_the_option_not_a_recipe_line(tmpdir_clean):
    """The options become recipe lines after the file's: an error on one
    names the option (the file has no such line)."""
    name = unique("amphi-e2e-tplopt")
    lxcpath = os.path.join(tmpdir_clean, "lxc")
    os.makedirs(lxcpath)
    recipe = os.path.join(RECIPES, "minimal.conf")
    for opts, want in ((["--net", "bogus"], "--net bogus: address: 'bogus': expected ADDRESS/PREFIX"),
                       (["--hostname", "-x-", "--net", "dhcp"], "--hostname -x-: hostname = '-x-': expected a host name"),
                       (["--autologin", "--ttys", "99"], "--ttys 99: ttys = '99': expected a whole number from 0 to 12"),
                       (["--ttys", "5x"], "--ttys 5x: ttys = '5x': expected a whole number"),
                       (["--net", ""], "--net '': expected dhcp or ADDRESS/PREFIX"),
                       (["--hostname", "a\n[lxc]\nlxc.init.cmd = /bin/sh"], "--hostname: expected one line"),
                       (["--help"], "usage: lxc-create -t amphi")):  # help through lxc-create fails the create
        r = subprocess.run(["lxc-create", "-t", TEMPLATE, "-n", name, "-P", lxcpath, "--", "--recipe", recipe, *opts],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode != 0
        assert want in r.stderr + r.stdout
        assert f"{recipe}:" not in r.stderr + r.stdout
        assert not os.path.exists(os.path.join(lxcpath, name))
    nul = os.path.join(tmpdir_clean, "nul.conf")
    with open(nul, "wb") as f:
        f.write(b"[image]\nname = a\0b\n")
    r = subprocess.run(["lxc-create", "-t", TEMPLATE, "-n", name, "-P", lxcpath, "--", "--recipe", nul],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and f"{nul}:2: expected text, found a NUL byte" in r.stderr + r.stdout
    r = subprocess.run([TEMPLATE, "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("usage: lxc-create -t amphi")


def root_range(path):
    """The first subordinate id range root has in /etc/subuid or /etc/subgid
    (make deps adds one when there is none)."""
    for line in open(path):
        user, start, count = line.strip().split(":")
        if user == "root" and int(count) >= 65536:
            return int(start)
    pytest.fail(f"root has no range of 65536 ids in {path}; run make deps")


def test_an_unprivileged_container_from_the_template_starts_streams_and_stops(confine_probe, ns_lxcbr0, tmpdir_clean):
    uid, gid = root_range("/etc/subuid"), root_range("/etc/subgid")
    # The container's root must be able to reach its rootfs through the path.
    os.chmod(tmpdir_clean, 0o755)
    conf = os.path.join(tmpdir_clean, "unprivileged.conf")
    with open("/etc/lxc/default.conf") as f, open(conf, "w") as out:
        out.write(f.read() + f"\nlxc.idmap = u 0 {uid} 65536\nlxc.idmap = g 0 {gid} 65536\n")
    name = unique("amphi-e2e-tplu")
    lxcpath = os.path.join(tmpdir_clean, "lxc")
    os.makedirs(lxcpath)
    # lxc-create runs the template in a user namespace with --mapped-uid/gid.
    r = subprocess.run(["lxc-create", "-t", TEMPLATE, "-f", conf, "-n", name, "-P", lxcpath, "--",
                        "--recipe", probe_recipe(os.path.join(tmpdir_clean, "unpriv.conf"), "unpriv")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    h = hints(r.stdout)
    ctdir = os.path.join(lxcpath, name)
    for rel in ("rootfs", "rootfs/sbin/init", "rootfs/etc", "host"):
        st = os.lstat(os.path.join(ctdir, rel))
        assert (st.st_uid, st.st_gid) == (uid, gid), f"{rel} is owned by {st.st_uid}:{st.st_gid}"
    # LXC's own confinement first, userns.conf's changes to it for a user
    # namespace, then what lxc-create wrote (its lxc.idmap among it).
    config = open(os.path.join(ctdir, "config")).read()
    assert config.index("lxc.include = /usr/share/lxc/config/common.conf\n") < \
        config.index("lxc.include = /usr/share/lxc/config/userns.conf\n") < config.index("lxc.idmap = u 0")
    put_probe(confine_probe, os.path.join(ctdir, "rootfs"))
    try:
        assert in_ns(ns_lxcbr0, h["start"]).returncode == 0
        console = wait_for(os.path.join(ctdir, "console.log"), r"amphi: ready env=lxc", LXC_TIMEOUT)
        pid = int(in_ns(ns_lxcbr0, f"lxc-info -n {name} -P {lxcpath} -p -H").stdout.strip())
        assert os.stat(f"/proc/{pid}").st_uid == uid, "PID 1 runs as the mapped root"
        assert open(f"/proc/{pid}/uid_map").read().split() == ["0", str(uid), "65536"]
        assert_confined(console, userns=True)
        logs = subprocess.Popen(["ip", "netns", "exec", ns_lxcbr0, "sh", "-c", "exec timeout 60 " + h["logs"] + " --json"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            line = ""
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and "ready env=lxc" not in line:
                line = logs.stdout.readline()
                if not line:
                    break
            assert "ready env=lxc" in line
        finally:
            logs.terminate()
            logs.communicate(timeout=10)
        assert in_ns(ns_lxcbr0, h["stop"]).returncode == 0
        assert in_ns(ns_lxcbr0, f"lxc-info -n {name} -P {lxcpath} -s -H").stdout.strip() == "STOPPED"
    finally:
        in_ns(ns_lxcbr0, f"lxc-stop -k -n {name} -P {lxcpath}")
        subprocess.run(["lxc-destroy", "-n", name, "-P", lxcpath], capture_output=True)
    assert not os.path.exists(ctdir)


def test_a_rootfs_that_is_not_empty_is_refused_and_its_contents_kept(tmpdir_clean):
    # lxc-create deletes the rootfs of a failed create: the template moves
    # the contents aside first and says where.
    name = unique("amphi-e2e-tplfull")
    lxcpath = os.path.join(tmpdir_clean, "lxc")
    rootfs = os.path.join(tmpdir_clean, "mine")
    os.makedirs(lxcpath)
    os.makedirs(rootfs)
    with open(os.path.join(rootfs, "precious"), "w") as f:
        f.write("keep me\n")
    r = subprocess.run(["lxc-create", "-t", TEMPLATE, "-n", name, "-P", lxcpath, "-B", "dir", "--dir", rootfs, "--",
                        "--recipe", os.path.join(RECIPES, "minimal.conf")], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    kept = rootfs + ".amphi-kept"
    assert f"{rootfs} exists and is not empty" in r.stderr and f"moved to {kept}" in r.stderr, r.stderr
    assert open(os.path.join(kept, "precious")).read() == "keep me\n"
    assert not os.path.exists(os.path.join(lxcpath, name))


def test_make_install_puts_a_working_template_in_lxcs_template_dir(tmpdir_clean):
    """make install writes lxc-amphi into LXC's template directory (here
    under DESTDIR, so the host's is left alone); the installed copy names
    itself as lxc-create -t amphi and creates a container."""
    dest = os.path.join(tmpdir_clean, "dest")
    r = subprocess.run(["make", "-s", "install", f"DESTDIR={dest}"], cwd=os.path.dirname(BUILD),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    installed = os.path.join(dest, "usr", "share", "lxc", "templates", "lxc-amphi")
    assert os.access(installed, os.X_OK)
    assert "lxc-create -t amphi -n NAME" in open(installed).read()
    name = unique("amphi-e2e-tpli")
    lxcpath = os.path.join(tmpdir_clean, "lxc")
    os.makedirs(lxcpath)
    c = subprocess.run(["lxc-create", "-t", installed, "-n", name, "-P", lxcpath, "--",
                        "--recipe", os.path.join(RECIPES, "minimal.conf")],
                       capture_output=True, text=True, timeout=120)
    try:
        assert c.returncode == 0, c.stderr
        assert os.path.exists(os.path.join(lxcpath, name, "rootfs", "sbin", "init"))
    finally:
        subprocess.run(["lxc-destroy", "-n", name, "-P", lxcpath], capture_output=True)
