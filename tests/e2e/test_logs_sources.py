"""Log sources beyond service pipes, in a real container: /dev/log and a
followed file flooding a small ring while a reader is connected (held back,
nothing lost), a text reader that comes late (told what it missed), what a
service prints reaching the console escaped, a followed file's last line
without its newline at stop, and more files than the init follows."""

import os
import re
import select
import subprocess
import time

from conftest import JsonReader, build_text


def start_with_reader(tmpdir, lxc, recipe_text):
    """The recipe's container, started, with a JsonReader on its stream."""
    out = build_text(tmpdir, recipe_text)
    ct = lxc(out)
    ct.start()
    return out, ct, JsonReader(os.path.join(out, "lxc", "host", "amphi.sock"), tmpdir)


def read_fifo_until(fifo, needle, timeout=30):
    """What a plain `cat` of the container's FIFO shows, until needle."""
    cat = subprocess.Popen(["cat", fifo], stdout=subprocess.PIPE)
    text = b""
    try:
        deadline = time.monotonic() + timeout
        while needle not in text:
            left = deadline - time.monotonic()
            assert left > 0 and select.select([cat.stdout], [], [], left)[0], f"no {needle!r}: {text[-300:]!r}"
            chunk = os.read(cat.stdout.fileno(), 65536)
            assert chunk, "the FIFO ended early"
            text += chunk
    finally:
        cat.kill()
        cat.wait()
    return text


FLOODS = """[image]
name = srcflood

[log]
ring = 64
files = /var/log/flood/deep/install.log

# Both wait for the host's go-ahead, so the reader is connected first.
[service.syslogflood]
shell = yes
exec = while [ ! -e /var/lib/amphi/host/go ]; do sleep 0.05; done; seq 1 20000 | logger -t sysflood; echo "syslog flood sent"; exec sleep 100000

[service.fileflood]
shell = yes
exec = while [ ! -e /var/lib/amphi/host/go ]; do sleep 0.05; done; seq 1 20000 | sed 's/^/line /' >> /var/log/flood/deep/install.log; exec sleep 100000
"""


def test_syslog_and_file_floods_are_held_back_not_lost(tmpdir_clean, lxc):
    out, ct, r = start_with_reader(tmpdir_clean, lxc, FLOODS)
    try:
        r.wait(r'"msg":"ready env=lxc')
        open(os.path.join(out, "lxc", "host", "go"), "w").close()
        r.wait(r'"app":"sysflood","pri":\d+,"msg":"20000"', 120)
        r.wait(r'"app":"install.log","pri":\d+,"msg":"line 20000"', 120)
        recs = r.records()
    finally:
        r.stop()
        ct.lxc("lxc-stop", "--nokill", "-t", "20")
    assert [x["msg"] for x in recs if x["app"] == "sysflood"] == [str(i) for i in range(1, 20001)]
    assert [x["msg"] for x in recs if x["app"] == "install.log"] == [f"line {i}" for i in range(1, 20001)]
    assert not [x for x in recs if x["msg"].startswith("lost ")], "a connected reader loses nothing"
    assert not r.complaints(), r.complaints()
    seqs = [x["seq"] for x in recs]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


LATE = """[image]
name = srclate

[runtime]
ttys = 0

[log]
ring = 64
# Off the console, which drops what it cannot take as fast (ready among it).
console = init

[task.chatter]
shell = yes
exec = seq 1 3000 | sed 's/^/chatter line /'

[service.idle]
exec = sleep 100000
"""


def test_a_late_text_reader_is_told_what_it_missed(tmpdir_clean, lxc):
    out = build_text(tmpdir_clean, LATE)
    fifo = os.path.join(out, "lxc", "host", "anaconda.fifo")
    os.mkfifo(fifo)
    ct = lxc(out)
    ct.start()
    ct.wait(r"amphi: ready env=lxc")
    # The FIFO's reader comes after 3000 lines went through a 64 KiB ring.
    try:
        text = read_fifo_until(fifo, b"chatter line 3000\n")
    finally:
        ct.lxc("lxc-stop", "--nokill", "-t", "20")
    lines = text.decode().splitlines(keepends=True)
    first = lines[0]
    m = re.match(r"\d\d:\d\d:\d\d,\d{3} WARNING amphi:lost (\d+) records, seq 1-(\d+)\n", first)
    assert m, first
    assert int(m.group(1)) == int(m.group(2)) > 1000
    # After the note, the history it still has, in order, to the end.
    nums = [int(l.rsplit(" ", 1)[1]) for l in lines if "chatter:chatter line " in l]
    assert nums == list(range(nums[0], 3001))


ODD = """[image]
name = srcodd

[log]
files = /var/log/partial.log, /l/1, /l/2, /l/3, /l/4, /l/5, /l/6, /l/7, /l/8

[service.painter]
shell = yes
exec = printf 'plain, then \\033[31mred\\033[0m and a CR\\r here\\n'; printf 'no newline at the end' >> /var/log/partial.log; exec sleep 100000
"""


def test_console_escapes_output_and_a_last_line_without_newline_arrives_at_stop(tmpdir_clean, lxc):
    _, ct, r = start_with_reader(tmpdir_clean, lxc, ODD)
    try:
        log = ct.wait(r"painter: plain, then ")
        line = next(l for l in log.splitlines() if "painter: plain, then" in l)
        assert line.endswith(r"painter: plain, then \x1b[31mred\x1b[0m and a CR\x0d here"), repr(line)
        assert "\x1b" not in log and "\r" not in log, "nothing a program prints drives the terminal"
        assert "log: at most 8 files are followed; /l/8 is not" in log
        r.wait(r'"msg":"ready env=lxc')
        ct.lxc("lxc-stop", "--nokill", "-t", "20")
        r.wait(r'"app":"partial.log","pri":\d+,"msg":"no newline at the end"', 20)
    finally:
        r.stop()


def test_a_fifo_made_after_the_start_gets_the_text_from_the_first_record(tmpdir_clean, lxc):
    out = build_text(tmpdir_clean, "[image]\nname = srcfifo\n\n[service.idle]\nexec = sleep 100000\n")
    ct = lxc(out)
    ct.start()
    log = ct.wait(r"amphi: ready env=lxc")
    assert "log: Anaconda text on /var/lib/amphi/host/anaconda.fifo once the host makes it" in log
    fifo = os.path.join(out, "lxc", "host", "anaconda.fifo")
    os.mkfifo(fifo)
    try:
        text = read_fifo_until(fifo, b"amphi:ready env=lxc")
    finally:
        ct.lxc("lxc-stop", "--nokill", "-t", "20")
    assert re.match(rb"\d\d:\d\d:\d\d,\d{3} INFO amphi:amphi-init \S+ starting in env=lxc\n", text), text[:200]


PLANTED = """[image]
name = planted

[log]
files = /srv/logs/app.log, /srv/logs/pipe.log

[task.prepare]
shell = yes
exec = mkdir -p /srv/logs && chmod 1777 /srv/logs && echo TOPSECRET > /root/secret && chmod 600 /root/secret

# An unprivileged service where the followed logs live: a link to a file
# only root may read, and a FIFO; then real logs in their place. (Each
# refusal is said once, until the file is read again.)
[service.planter]
user = nobody
shell = yes
exec = ln -s /root/secret /srv/logs/app.log; mkfifo /srv/logs/pipe.log; sleep 1; rm /srv/logs/app.log /srv/logs/pipe.log; echo 'a real line' > /srv/logs/app.log; echo 'a pipe line' > /srv/logs/pipe.log; echo planted; sleep 1000
"""


def test_a_followed_file_is_never_read_through_a_link_or_as_a_fifo(tmpdir_clean, lxc):
    out = build_text(tmpdir_clean, PLANTED)
    ct = lxc(out)
    ct.start()
    ct.wait(r"app.log: a real line")
    ct.wait(r"pipe.log: a pipe line")
    # Its own line comes through its pipe, the files' through inotify: in
    # either order.
    log = ct.wait(r"planter: planted")
    assert "TOPSECRET" not in log
    assert "log: /srv/logs/app.log is not read: it is a symbolic link or its path has one" in log
    assert "log: /srv/logs/pipe.log is not read: it is not a regular file" in log
    ct.lxc("lxc-stop", "--nokill", "-t", "20")


HARDLINKED = """[image]
name = hardlinked

[runtime]
getty = none

[log]
files = /srv/logs/app.log, /srv/logs/other.log

# fs.protected_hardlinks off, as the kernel's own default has it (Debian
# turns it on): then anyone may hard-link a file they cannot read.
[task.prepare]
shell = yes
exec = mkdir -p /srv/logs && chmod 1777 /srv/logs && echo TOPSECRET > /etc/secret && chmod 600 /etc/secret && echo 0 > /proc/sys/fs/protected_hardlinks

[service.planter]
user = nobody
shell = yes
exec = ln /etc/secret /srv/logs/app.log && echo linked; sleep 1; echo 'a real line' > /srv/logs/other.log; sleep 1000
"""


def test_a_followed_file_is_never_read_as_a_hard_link(tmpdir_clean, qemu):
    """In a VM, where the init's kernel setting applies (a container has
    the host's)."""
    vm = qemu(build_text(tmpdir_clean, HARDLINKED))
    vm.wait(r"planter: linked")
    log = vm.wait(r"other.log: a real line")
    assert "TOPSECRET" not in log
    assert "log: /srv/logs/app.log is not read: it has more than one name (a hard link)" in log


KMSG = """[image]
name = kmsg

[runtime]
getty = none

[task.printk]
shell = yes
exec = echo '<3>amphi-e2e: a kernel error' > /dev/kmsg; echo '<6>amphi-e2e: kernel news' > /dev/kmsg; echo printed
"""


def test_the_kernel_writes_no_console_lines_in_the_middle_of_pid1s(tmpdir_clean, qemu):
    """Once PID 1 reads /dev/kmsg the kernel writes only its emergencies to
    the console itself (its writes went to the UART in the middle of a line
    PID 1 was writing): an error is a line of PID 1's, news is left to the
    stream; what the kernel printed before is there as it was."""
    vm = qemu(build_text(tmpdir_clean, KMSG))
    vm.wait(r"printk: printed")
    log = vm.wait(r"amphi: ready env=qemu")
    assert re.search(r"^\S+ ERROR kernel: amphi-e2e: a kernel error$", log, re.M), log[-2000:]
    assert "] amphi-e2e: a kernel error" not in log
    assert "kernel news" not in log
    assert re.search(r"^\[ *\d+\.\d+\] ", log, re.M)  # the kernel's own lines from before
    assert log.count("amphi-e2e: a kernel error") == 1
