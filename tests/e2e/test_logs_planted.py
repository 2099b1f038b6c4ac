"""What root in a container can plant in the host directory bind-mounted
into it: a symbolic link, a regular file, a device, a
FIFO or a socket of the wrong kind where amphi logs expects the stream's
socket (amphi.sock) or the Anaconda FIFO (anaconda.fifo). amphi logs never
follows a link there nor opens or connects to another kind of file, and
says which path and why.

No container is needed: the host directory is a temporary directory here,
and what the guest would plant is planted by the test. Each test has its
own directory; every process started is killed by PID in a finally, every
wait is bounded."""

import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile

import pytest

import logfeed
from conftest import AMPHI

TIMEOUT = 10
REFUSED = "amphi never follows a link nor connects to another kind of file where a guest can write"
FIFO_REFUSED = "amphi logs never follows a link nor opens another kind of file where a guest can write"


@pytest.fixture
def work():
    # Short: a unix socket path must fit in 108 bytes.
    d = tempfile.mkdtemp(prefix="amphi-plant-")
    os.mkdir(os.path.join(d, "host"))
    os.mkdir(os.path.join(d, "other"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def logs(*args):
    return subprocess.run([AMPHI, "logs", *args], capture_output=True, text=True, timeout=TIMEOUT,
                          stdin=subprocess.DEVNULL)


# ---- the stream's socket ----

def test_a_link_to_another_appliances_socket_is_not_followed(work):
    """The planted link points at another appliance's socket: its reader
    must not be cut off, nor its records stored or acknowledged here."""
    other = os.path.join(work, "other", "amphi.sock")
    planted = os.path.join(work, "host", "amphi.sock")
    with logfeed.guest(other) as g:
        os.symlink(other, planted)
        g.srv.settimeout(0.5)
        r = logs("--connect", planted, "--out", os.path.join(work, "logs"))
        with pytest.raises(socket.timeout):
            g.srv.accept()  # nobody came to the other appliance
    assert r.returncode == 1
    assert f"amphi logs: connect {planted}: a symbolic link, not a socket; {REFUSED}" in r.stderr
    assert not os.path.exists(os.path.join(work, "logs", "b0"))


@pytest.mark.parametrize("kind", ["regular file", "directory", "FIFO"])
def test_a_file_of_another_kind_is_refused_by_name(work, kind):
    planted = os.path.join(work, "host", "amphi.sock")
    {"regular file": lambda p: open(p, "w").close(), "directory": os.mkdir, "FIFO": os.mkfifo}[kind](planted)
    r = logs("--connect", planted)
    assert r.returncode == 1
    assert f"amphi logs: connect {planted}: a {kind}, not a socket; {REFUSED}: remove it" in r.stderr
    assert "is the VM or container running" not in r.stderr, "the hint for a missing guest does not fit"


def test_text_over_a_link_is_refused_too(work):
    other = os.path.join(work, "other", "anaconda.sock")
    planted = os.path.join(work, "host", "anaconda.sock")
    with logfeed.guest(other) as g:
        os.symlink(other, planted)
        g.srv.settimeout(0.5)
        r = logs("--text", "--connect", planted)
        with pytest.raises(socket.timeout):
            g.srv.accept()
    assert r.returncode == 1 and f"connect {planted}: a symbolic link, not a socket; {REFUSED}" in r.stderr


def test_follow_says_it_once_and_takes_the_real_socket_when_it_comes(work):
    """Under --follow a planted link is an outage like a missing socket:
    said once, never followed, and the appliance's own socket is taken as
    soon as it is there (its init makes it anew at boot)."""
    other = os.path.join(work, "other", "amphi.sock")
    planted = os.path.join(work, "host", "amphi.sock")
    with logfeed.guest(other) as og:
        os.symlink(other, planted)
        og.srv.settimeout(1.0)
        with logfeed.reader(work, "--connect", planted, "--follow") as r:
            with pytest.raises(socket.timeout):
                og.srv.accept()
            os.unlink(planted)
            with logfeed.guest(planted) as g:
                c = g.accept()
                c.send(logfeed.record(1, "the real one"))
                c.wait_ack(1)
                c.close()
            assert r.stop(signal.SIGINT) == 0
    assert r.stderr.count("a symbolic link, not a socket") == 1, r.stderr
    assert r.stdout.decode().splitlines() == ["== boot b0 ==", "web: the real one"]


# ---- the Anaconda FIFO ----

def test_fifo_through_a_link_is_not_opened(work):
    """A link to a FIFO elsewhere (or to anything) is not followed: a
    rename race could otherwise swap a device in behind it."""
    target = os.path.join(work, "other", "anaconda.fifo")
    os.mkfifo(target)
    planted = os.path.join(work, "host", "anaconda.fifo")
    os.symlink(target, planted)
    r = logs("--text", "--fifo", planted)
    assert r.returncode == 1
    assert f"amphi logs: --fifo {planted}: a symbolic link, not a FIFO; {FIFO_REFUSED}: remove it" in r.stderr


@pytest.mark.parametrize("kind", ["character device", "socket", "regular file"])
def test_fifo_of_another_kind_is_refused_by_name(work, kind):
    planted = os.path.join(work, "host", "anaconda.fifo")
    holder = None
    if kind == "character device":
        os.mknod(planted, 0o600 | stat.S_IFCHR, os.makedev(1, 3))  # as /dev/null
    elif kind == "socket":
        holder = socket.socket(socket.AF_UNIX)
        holder.bind(planted)
    else:
        open(planted, "w").close()
    try:
        r = logs("--text", "--fifo", planted)
    finally:
        if holder:
            holder.close()
    assert r.returncode == 1
    assert f"amphi logs: --fifo {planted}: a {kind}, not a FIFO; {FIFO_REFUSED}" in r.stderr
