"""A real appliance: recipes/nginx.conf, Debian's nginx from packages =, its
configuration and page from files =, built with mmdebstrap (the Debian tree
cached under build/cache; the first run downloads it). It builds twice with
the same bytes, and serves its page in both worlds, each request's access-log
line on the amphi stream: under QEMU through a loopback hostfwd of the
restricted user network, in LXC on a veth in the test's own network
namespace (its bridge named lxcbr0, as the recipe says), from the build's
config and from the lxc-local tarballs."""

import contextlib
import hashlib
import os
import re
import shutil
import socket
import subprocess
import tarfile
import time
import urllib.request

import pytest

from conftest import (AMPHI, BOOT_TIMEOUT, LXC_TIMEOUT, RECIPES, amphi, build, build_fixture, unique,
                      wait_for)
from test_tarballs import eth0_ipv4, in_ns, local_container, lxd_client, lxd_daemon

NGINX = os.path.join(RECIPES, "nginx.conf")

nginx_build = build_fixture(NGINX)


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_the_tree_holds_debian_nginx_busybox_and_the_recipes_files(nginx_build):
    root = os.path.join(nginx_build, "lxc", "rootfs")
    # Debian's merged /usr, with busybox filling in only what Debian lacks.
    assert os.readlink(os.path.join(root, "bin")) == "usr/bin"
    assert os.path.isfile(os.path.join(root, "usr/sbin/nginx"))
    assert os.readlink(os.path.join(root, "usr/bin/sh")) == "dash"
    assert os.readlink(os.path.join(root, "usr/sbin/udhcpc")) == "/bin/busybox"
    assert os.path.isfile(os.path.join(root, "usr/bin/busybox"))
    assert not os.path.islink(os.path.join(root, "usr/bin/login"))  # Debian's login stays
    # The packages' users stay; root is the skeleton's (empty password, sh).
    passwd = open(os.path.join(root, "etc/passwd")).read()
    assert re.search(r"^www-data:x?\*?:33:33:", passwd, re.M), passwd
    assert "root:x:0:0:root:/root:/bin/sh\n" in passwd
    assert open(os.path.join(root, "etc/shadow")).read().startswith("root::")
    assert oct(os.stat(os.path.join(root, "etc/shadow")).st_mode & 0o777) == "0o600"
    # Owners as the packages made them: nginx's logs are www-data's, group
    # adm; apt's partial directory is _apt's, unix_chkpwd setgid shadow.
    st = os.stat(os.path.join(root, "var/log/nginx/access.log"))
    assert (st.st_uid, st.st_gid) == (33, 4), (st.st_uid, st.st_gid)
    st = os.stat(os.path.join(root, "usr/sbin/unix_chkpwd"))
    assert st.st_gid == 42 and st.st_mode & 0o2000, (st.st_gid, oct(st.st_mode))
    # The recipe's files at their DEST, with their modes; setup ran.
    assert open(os.path.join(root, "srv/www/index.html")).read() == \
        open(os.path.join(RECIPES, "nginx/www/index.html")).read()
    assert "daemon off;" in open(os.path.join(root, "etc/nginx/nginx.conf")).read()
    assert not os.path.lexists(os.path.join(root, "etc/nginx/sites-enabled/default"))
    # Small: no man pages, no locales, only the copyright files of the docs;
    # nothing of the build host's (its resolver, its name).
    def files_below(rel):
        return [f for _, _, fs in os.walk(os.path.join(root, rel)) for f in fs]
    assert not files_below("usr/share/man") and not files_below("usr/share/locale")
    docs = files_below("usr/share/doc")
    assert docs and set(docs) == {"copyright"}, set(docs)
    assert not os.path.exists(os.path.join(root, "etc/resolv.conf"))
    assert open(os.path.join(root, "etc/hostname")).read() != socket.gethostname() + "\n"
    # The init is amphi's.
    assert open(os.path.join(root, "sbin/init"), "rb").read() == \
        open(os.path.join(os.path.dirname(AMPHI), "amphi-init"), "rb").read()


def test_builds_give_the_same_bytes_and_a_warm_one_rewrites_only_what_changed(nginx_build, tmpdir_clean):
    # The same recipe from another folder: the same bytes.
    recipe, again = nginx_copy(tmpdir_clean), os.path.join(tmpdir_clean, "again")
    folder = os.path.dirname(recipe)
    build(recipe, again)
    outputs = ["lxc/rootfs.tar.xz", "lxc/meta.tar.xz", "lxd/lxd.tar.xz", "lxd/rootfs.squashfs", "vm/initramfs.img"]
    outputs += [p for p in ["vm/root.img"] if os.path.exists(os.path.join(nginx_build, p))]
    for rel in outputs:
        assert digest(os.path.join(nginx_build, rel)) == digest(os.path.join(again, rel)), rel
    # Warm: the Debian tree from the cache, no image written again.
    written = {rel: os.stat(os.path.join(again, rel)).st_mtime_ns for rel in outputs}
    r = build(recipe, again)
    assert "the Debian tree from the cache" in r.stdout, r.stdout
    assert {rel: os.stat(os.path.join(again, rel)).st_mtime_ns for rel in outputs} == written
    # The page changed: the images that hold it are written again.
    with open(os.path.join(folder, "nginx/www/index.html"), "a") as f:
        f.write("<!-- changed -->\n")
    build(recipe, again)
    for rel in ("lxc/rootfs.tar.xz", "lxd/rootfs.squashfs"):
        assert os.stat(os.path.join(again, rel)).st_mtime_ns != written[rel], rel
    with tarfile.open(os.path.join(again, "lxc/rootfs.tar.xz")) as t:
        assert t.extractfile("srv/www/index.html").read().endswith(b"<!-- changed -->\n")
    assert open(os.path.join(again, "lxc/rootfs/srv/www/index.html")).read().endswith("<!-- changed -->\n")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(url, deadline_s=60):
    """The page; nginx starts after the network is up, so a forward that
    accepts may find nothing listening yet."""
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=30) as page:
                return page.read()
        except (ConnectionResetError, ConnectionRefusedError, urllib.error.URLError, OSError):
            assert time.monotonic() < deadline, f"{url} never answered"
            time.sleep(0.3)


def test_qemu_serves_the_page_logs_the_request_and_stops_on_the_power_button(nginx_build, qemu, readers,
                                                                            tmpdir_clean):
    port = free_port()
    vm = qemu(nginx_build, env={"AMPHI_NETDEV": f"user,restrict=on,hostfwd=tcp:127.0.0.1:{port}-:80",
                                "AMPHI_LOG_DIR": tmpdir_clean})
    log = vm.wait(r"amphi: ready env=qemu")
    assert "by DHCP" in log
    stream = readers(os.path.join(tmpdir_clean, "amphi.sock"))
    page = fetch(f"http://127.0.0.1:{port}/")
    assert page == open(os.path.join(RECIPES, "nginx/www/index.html"), "rb").read()
    # The access log: nginx's stdout, on the console and the amphi stream
    # as the nginx service's record.
    vm.wait(r'nginx: .*"GET / HTTP/1.1" 200')
    stream.wait(r'GET / HTTP/1\.1\\" 200')  # in JSON, quotes escaped
    rec = [r for r in stream.records() if '"GET / HTTP/1.1" 200' in r.get("msg", "")]
    assert rec and rec[0]["app"] == "nginx", rec
    vm.monitor("system_powerdown")
    assert vm.exit_code() == 0
    log = open(vm.log, errors="replace").read()
    assert re.search(r"nginx: .*signal 15 \(SIGTERM\) received", log), log[-2000:]
    assert "all processes stopped" in log and "power off" in log


def test_lxc_serves_the_page_logs_the_request_and_stops(nginx_build, ns_lxcbr0, readers, tmpdir_clean):
    name = unique("amphi-e2e-nginx")
    config = os.path.join(nginx_build, "lxc", "config")
    console = os.path.join(tmpdir_clean, "console.log")
    r = in_ns(ns_lxcbr0, "lxc-start", "-n", name, "-P", tmpdir_clean, "-d", "-f", config, "-L", console)
    assert r.returncode == 0, r.stderr
    try:
        log = wait_for(console, r"service nginx: started", LXC_TIMEOUT)
        assert "by DHCP" in log
        stream = readers(os.path.join(nginx_build, "lxc", "host", "amphi.sock"))
        ip = eth0_ipv4(ns_lxcbr0, name, tmpdir_clean).split("/")[0]
        assert wget_in(ns_lxcbr0, f"http://{ip}/") == open(os.path.join(RECIPES, "nginx/www/index.html")).read()
        stream.wait(r'GET / HTTP/1\.1\\" 200')  # in JSON, quotes escaped
        assert in_ns(ns_lxcbr0, "lxc-stop", "-n", name, "-P", tmpdir_clean, "-t", "20").returncode == 0
        log = open(console, errors="replace").read()
        assert re.search(r"nginx: .*signal 15 \(SIGTERM\) received", log), log[-2000:]
        assert "all processes stopped" in log
    finally:
        in_ns(ns_lxcbr0, "lxc-stop", "-k", "-n", name, "-P", tmpdir_clean)


def test_lxc_local_tarballs_create_a_container_that_serves_the_page(nginx_build, ns_lxcbr0, tmpdir_clean):
    with local_container(ns_lxcbr0, nginx_build, tmpdir_clean) as (name, lxcpath, out, console):
        wait_for(console, r"service nginx: started", LXC_TIMEOUT)
        ip = eth0_ipv4(ns_lxcbr0, name, lxcpath).split("/")[0]
        assert "amphi nginx appliance" in wget_in(ns_lxcbr0, f"http://{ip}/")
        # Owners survive the tarball: nginx's logs are www-data's.
        st = os.stat(os.path.join(lxcpath, name, "rootfs", "var/log/nginx/access.log"))
        assert (st.st_uid, st.st_gid) == (33, 4)


def nginx_copy(tmpdir, extra=""):
    """recipes/nginx.conf and its folder under tmpdir, extra appended."""
    folder = os.path.join(tmpdir, "recipes")
    os.makedirs(folder)
    shutil.copytree(os.path.join(RECIPES, "nginx"), os.path.join(folder, "nginx"))
    with open(os.path.join(folder, "nginx.conf"), "w") as f:
        f.write(open(NGINX).read() + extra)
    return os.path.join(folder, "nginx.conf")


def wget_in(ns, url):
    """busybox wget in the namespace until it answers (nginx starts once
    the network is up); busybox 1.35's wget -T crashes, so no -T."""
    for _ in range(50):
        page = in_ns(ns, "busybox", "wget", "-q", "-O", "-", url)
        if page.returncode == 0:
            return page.stdout
        time.sleep(0.2)
    raise AssertionError(f"{url}: {page.returncode} {page.stderr}")


def test_an_unprivileged_container_owns_its_tree_and_serves_the_page(ns_lxcbr0, readers, tmpdir_clean):
    """With lxc.idmap the build writes the rootfs with every owner moved
    into the map, as lxc-create does for unprivileged containers: the
    container's root owns /, www-data owns nginx's logs, and nginx runs."""
    os.chmod(tmpdir_clean, 0o755)  # the mapped root must reach its rootfs
    recipe = nginx_copy(tmpdir_clean, "\n[lxc]\nlxc.idmap = u 0 100000 65536\nlxc.idmap = g 0 100000 65536\n")
    out = os.path.join(tmpdir_clean, "out")
    build(recipe, out)
    root = os.path.join(out, "lxc", "rootfs")
    assert (os.stat(root).st_uid, os.stat(os.path.join(root, "etc/passwd")).st_uid) == (100000, 100000)
    st = os.stat(os.path.join(root, "var/log/nginx/access.log"))
    assert (st.st_uid, st.st_gid) == (100033, 100004)
    assert os.stat(os.path.join(out, "lxc", "host")).st_uid == 100000
    # The tarballs stay unmapped: lxc-create maps them for its container.
    with tarfile.open(os.path.join(out, "lxc", "rootfs.tar.xz")) as t:
        assert t.getmember("var/log/nginx/access.log").uid == 33
    name = unique("amphi-e2e-nginxu")
    console = os.path.join(tmpdir_clean, "console.log")
    r = in_ns(ns_lxcbr0, "lxc-start", "-n", name, "-P", tmpdir_clean, "-d", "-f",
              os.path.join(out, "lxc", "config"), "-L", console, "-o", console + ".lxc", "-l", "INFO")
    assert r.returncode == 0, r.stderr + open(console + ".lxc").read()[-3000:]
    try:
        wait_for(console, r"service nginx: started", LXC_TIMEOUT)
        stream = readers(os.path.join(out, "lxc", "host", "amphi.sock"))
        ip = eth0_ipv4(ns_lxcbr0, name, tmpdir_clean).split("/")[0]
        assert "amphi nginx appliance" in wget_in(ns_lxcbr0, f"http://{ip}/")
        stream.wait(r'GET / HTTP/1\.1\\" 200')
        # Its root is not the host's: PID 1 runs as the map's first id.
        pid = int(in_ns(ns_lxcbr0, "lxc-info", "-n", name, "-P", tmpdir_clean, "-p", "-H").stdout)
        assert os.stat(f"/proc/{pid}").st_uid == 100000
        assert in_ns(ns_lxcbr0, "lxc-stop", "-n", name, "-P", tmpdir_clean, "-t", "20").returncode == 0
        assert "all processes stopped" in open(console, errors="replace").read()
    finally:
        in_ns(ns_lxcbr0, "lxc-stop", "-k", "-n", name, "-P", tmpdir_clean)


@contextlib.contextmanager
def host_bridge(tmpdir):
    """A bridge of the test's own in this host's namespace, at 10.213.N.1/24
    with busybox udhcpd on it (LXD's NIC goes on it: LXD's daemon lives
    here); yields (name, gateway). Removed afterwards."""
    n = os.getpid() % 200 + 20
    name, gw = f"amphibr{os.getpid() % 100000}", f"10.213.{n}.1"
    conf = os.path.join(tmpdir, "udhcpd.conf")
    with open(conf, "w") as f:
        f.write(f"start 10.213.{n}.100\nend 10.213.{n}.110\ninterface {name}\n"
                f"lease_file {tmpdir}/udhcpd.leases\npidfile {tmpdir}/udhcpd.pid\n"
                f"option subnet 255.255.255.0\noption router {gw}\noption lease 600\n")
    open(os.path.join(tmpdir, "udhcpd.leases"), "w").close()
    udhcpd = None
    try:
        for cmd in (["ip", "link", "add", name, "type", "bridge"], ["ip", "addr", "add", f"{gw}/24", "dev", name],
                    ["ip", "link", "set", name, "up"]):
            subprocess.run(cmd, check=True)
        udhcpd = subprocess.Popen(["busybox", "udhcpd", "-f", conf], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        yield name, gw
    finally:
        if udhcpd and udhcpd.poll() is None:
            udhcpd.kill()
            udhcpd.wait()
        subprocess.run(["ip", "link", "del", name], capture_output=True)


def test_the_lxd_image_launches_and_serves_the_page(nginx_build, tmpdir_clean):
    ct = unique("amphi-e2e-lxdnginx").replace("_", "-")
    alias = unique("amphi-e2e-nginximg")
    with host_bridge(tmpdir_clean) as (bridge, gw), lxd_daemon() as env:
        try:
            lxd_client(env, "image", "import", os.path.join(nginx_build, "lxd", "lxd.tar.xz"),
                       os.path.join(nginx_build, "lxd", "rootfs.squashfs"), "--alias", alias)
            lxd_client(env, "init", alias, ct)
            lxd_client(env, "config", "device", "add", ct, "eth0", "nic", "nictype=bridged", f"parent={bridge}",
                       "name=eth0")
            lxd_client(env, "start", ct)
            deadline = time.monotonic() + LXC_TIMEOUT
            log = ""
            while "service nginx: started" not in log:
                assert time.monotonic() < deadline, log[-3000:]
                time.sleep(0.5)
                log = lxd_client(env, "console", ct, "--show-log", check=False).stdout
            assert f"by DHCP via {gw}" in log
            ip = re.search(r"eth0 (10\.213\.\d+\.\d+)/24 by DHCP", log).group(1)
            assert fetch(f"http://{ip}/") == open(os.path.join(RECIPES, "nginx/www/index.html"), "rb").read()
            lxd_client(env, "stop", ct, timeout=90)
            assert lxd_client(env, "list", ct, "-c", "s", "--format", "csv").stdout.strip() == "STOPPED"
        finally:
            lxd_client(env, "delete", "-f", ct, check=False)
            lxd_client(env, "image", "delete", alias, check=False)


def test_a_debian_appliance_installs_onto_a_disk_and_boots_from_it(tmpdir_clean):
    """recipes/installer.conf with nginx's packages, files and setup: amphi
    install runs it from its root image and copies the Debian tree onto the
    disk; amphi run --disk boots that system (root=), whose recipe runs
    Debian's nginx, and the page comes through a hostfwd."""
    from test_install_vm import DiskBoot, install
    nginx = open(NGINX).read()
    image = "".join(l for l in nginx.splitlines(keepends=True) if l.startswith(("packages", "files", "setup")))
    text = open(os.path.join(RECIPES, "installer.conf")).read()
    text = text.replace("name = installer\n", "name = debinstall\n" + image, 1)
    text = text.replace("[runtime]\n", "[network.eth0]\ndhcp = yes\n\n[runtime]\n", 1)
    service = "[service.hello]\\nshell = yes\\nexec = cat /etc/installed-by; exec sleep 100000\\n"
    assert service in text
    text = text.replace(service, service + "\\n[network.eth0]\\ndhcp = yes\\n\\n[service.nginx]\\n"
                        "exec = /usr/sbin/nginx\\nneeds = network\\n")
    recipe = nginx_copy(tmpdir_clean)
    with open(recipe, "w") as f:
        f.write(text)
    out, disk = os.path.join(tmpdir_clean, "out"), os.path.join(tmpdir_clean, "disk.img")
    r = install(recipe, out, disk, "--size", "384M")
    assert r.returncode == 0, r.stdout + r.stderr
    assert os.path.exists(os.path.join(out, "vm", "root.img")), "packages: a root image by default"
    port = free_port()
    boot = DiskBoot(out, disk, tmpdir_clean, "installed",
                    env={"AMPHI_NETDEV": f"user,restrict=on,hostfwd=tcp:127.0.0.1:{port}-:80"})
    try:
        log = boot.wait(r"nginx: .*start worker process")
        assert "root=/dev/vda1 (ext4): switching to its /sbin/init" in log
        assert "hello: installed by amphi install" in log
        assert fetch(f"http://127.0.0.1:{port}/") == open(os.path.join(RECIPES, "nginx/www/index.html"), "rb").read()
        boot.wait(r'nginx: .*"GET / HTTP/1.1" 200')
        boot.power_off()
    finally:
        boot.kill()


# ---- errors: file:line, apt's own words, and nothing half-built ----

def failed_build(tmpdir, text, files=None):
    recipe = os.path.join(tmpdir, "recipe.conf")
    with open(recipe, "w") as f:
        f.write(text)
    for rel, data in (files or {}).items():
        os.makedirs(os.path.dirname(os.path.join(tmpdir, rel)), exist_ok=True)
        with open(os.path.join(tmpdir, rel), "w") as f:
            f.write(data)
    out = os.path.join(tmpdir, "out")
    r = amphi("build", recipe, "-o", out, check=False)
    assert r.returncode != 0
    assert not os.path.exists(out), os.listdir(out)
    return recipe, r.stderr


def test_a_package_that_does_not_exist_names_the_line_and_quotes_apt(tmpdir_clean):
    recipe, err = failed_build(tmpdir_clean, "[image]\nname = nopkg\npackages = busybox-static\n"
                                             "packages = amphi-no-such-package\n")
    assert f"{recipe}:4: packages: apt says: E: Unable to locate package amphi-no-such-package" in err, err


def test_a_failing_setup_line_names_its_line_and_status(tmpdir_clean):
    recipe, err = failed_build(tmpdir_clean, "[image]\nname = badsetup\npackages = busybox-static\n"
                                             "setup = true\nsetup = echo about to fail; exit 3\n")
    assert f"{recipe}:5: setup failed with exit status 3; its output is in " in err, err
    log = re.search(r"its output is in (\S+)", err).group(1)
    assert "about to fail" in open(log).read()


def test_a_missing_src_names_the_line(tmpdir_clean):
    recipe, err = failed_build(tmpdir_clean, "[image]\nname = nosrc\nfiles = www /srv/www\nfiles = gone.conf /etc/x\n",
                               files={"www/index.html": "hi\n"})
    assert f"{recipe}:4: files: gone.conf: No such file or directory" in err, err


def test_a_dest_with_dotdot_names_the_line(tmpdir_clean):
    recipe, err = failed_build(tmpdir_clean, "[image]\nname = dotdot\nfiles = www /srv/../../etc\n",
                               files={"www/index.html": "hi\n"})
    assert f"{recipe}:3: files: DEST '/srv/../../etc'" in err and "must not leave the tree" in err, err


def test_no_reachable_apt_source_says_what_to_do(tmpdir_clean):
    # A source on a loopback port nothing listens on; a package the cache
    # has no tree for.
    sources = os.path.join(tmpdir_clean, "dead.sources")
    with open(sources, "w") as f:
        f.write("Types: deb\nURIs: http://127.0.0.1:9/debian\nSuites: bookworm\nComponents: main\n"
                "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n")
    recipe = os.path.join(tmpdir_clean, "recipe.conf")
    with open(recipe, "w") as f:
        f.write("[image]\nname = offline\npackages = hello\n")
    out = os.path.join(tmpdir_clean, "out")
    r = amphi("build", recipe, "-o", out, check=False,
              env=dict(os.environ, AMPHI_APT_SOURCES=sources, AMPHI_CACHE=os.path.join(tmpdir_clean, "cache")))
    assert r.returncode != 0 and not os.path.exists(out)
    assert f"{recipe}:3: packages: no apt source could be reached" in r.stderr, r.stderr
    assert "connect this host to its Debian mirror" in r.stderr
