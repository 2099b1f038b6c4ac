"""The console when it cannot keep up (PID 1 never blocks on a
sink, and nothing is lost): while nobody reads a VM's serial console, what
the init says itself ("amphi: ready") waits its turn instead of being
dropped, and the output the console could not show is counted there (the
log stream keeps every line: test_logs*)."""
import os
import re
import select
import subprocess
import time

import logfeed
from conftest import BOOT_TIMEOUT, build

FLOOD = """[image]
name = conflood

[task.flood]
shell = yes
exec = seq -w 1 30000 | sed 's/^/flood line /'

[service.after]
shell = yes
exec = echo "after the flood"; exec sleep 100000
"""


def read_until(sock, want, timeout):
    data, deadline = b"", time.monotonic() + timeout
    while want not in data:
        left = deadline - time.monotonic()
        assert left > 0, f"no {want!r} on the text port: {data[-2000:]!r}"
        r, _, _ = select.select([sock], [], [], left)
        if r:
            b = sock.recv(65536)
            assert b, f"the text port closed before {want!r}"
            data += b
    return data


def test_vm_ready_line_waits_for_a_stalled_console(tmpdir_clean):
    recipe = os.path.join(tmpdir_clean, "conflood.conf")
    with open(recipe, "w") as f:
        f.write(FLOOD)
    out = os.path.join(tmpdir_clean, "out")
    build(recipe, out)
    sock_path = os.path.join(tmpdir_clean, "anaconda.sock")
    env = dict(os.environ, AMPHI_ACCEL="tcg", AMPHI_LOG_DIR=tmpdir_clean)
    # The serial console goes to a pipe this test leaves unread until the
    # init has said it is ready: QEMU's serial stalls when the pipe is
    # full, and so does the guest's console.
    vm = subprocess.Popen([os.path.join(out, "vm", "launch"), "-monitor", "none"], stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + BOOT_TIMEOUT
        while not os.path.exists(sock_path):
            assert vm.poll() is None and time.monotonic() < deadline, f"no {sock_path} (qemu {vm.poll()})"
            time.sleep(0.05)
        with logfeed.connect_socket(sock_path) as port:
            read_until(port, b"amphi:ready env=qemu", BOOT_TIMEOUT)
            serial, deadline = b"", time.monotonic() + BOOT_TIMEOUT
            while b"login:" not in serial or not re.search(rb"lines were not shown here .*\n", serial):
                assert time.monotonic() < deadline, f"the console did not catch up: {serial[-3000:]!r}"
                r, _, _ = select.select([vm.stdout, port], [], [], 1)
                if vm.stdout in r:
                    b = os.read(vm.stdout.fileno(), 65536)
                    assert b, f"qemu exited ({vm.poll()}): {serial[-3000:]!r}"
                    serial += b
                if port in r:
                    port.recv(65536)  # keep the text port flowing
    finally:
        vm.kill()
        vm.wait(timeout=30)
        vm.stdout.close()
    text = serial.decode(errors="replace").replace("\r", "")
    m = re.search(r"WARNING amphi: console: (\d+) lines were not shown here \(it did not keep up\); "
                  r"the log stream has them\n", text)
    # The console really was full (else this would prove nothing) and says
    # how many lines it could not show.
    assert m and int(m.group(1)) > 1000, text[-3000:]
    assert re.search(r"INFO amphi: ready env=qemu", text), "the ready line was lost on the console"
    shown = [int(x) for x in re.findall(r"INFO flood: flood line (\d{5})\n", text)]
    assert shown and shown == sorted(set(shown)), "console flood lines missing, out of order or repeated"
    # The init's own lines are all there, in their order, after the task's.
    assert "INFO amphi: task flood: done" in text, "an init line was lost on the console"
    assert text.index("INFO flood: flood line") < text.index("INFO amphi: task flood: done") < \
        text.index("INFO amphi: ready env=qemu")
