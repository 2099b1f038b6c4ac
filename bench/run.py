#!/usr/bin/python3
"""make bench: amphi side by side with the alternatives, on this machine, in
one run. Every contender is built from the same kernel, busybox and
skeleton; only PID 1 differs. Runs alternate between contenders; the table
shows medians with min-max and the ratio to the floor (a trivial static
init). Writes bench/RESULTS.md. QUICK=1 runs fewer rounds."""

import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.path.join(ROOT, "build")
OUT = os.path.join(BUILD, "bench")
AMPHI = os.path.join(BUILD, "amphi")
QUICK = os.environ.get("QUICK") == "1"
ROUNDS = 3 if QUICK else 7
VM_ROUNDS = 1 if QUICK else 5
TIMEOUT = 30


def say(msg):
    print(f"bench: {msg}", flush=True)


def run(*cmd, env=None, check=True):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    if check and r.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()}\n"
                 "bench: run 'make' first (make bench does), as root")
    return r


def prepare():
    """Builds each contender: (name, build dir, LXC signal overrides)."""
    os.makedirs(OUT, exist_ok=True)
    floor = os.path.join(OUT, "floor-init")
    run("musl-gcc", "-static", "-Os", "-s", os.path.join(ROOT, "bench", "floor.c"), "-o", floor)
    skel = os.path.join(OUT, "busybox-skeleton")
    shutil.rmtree(skel, ignore_errors=True)
    shutil.copytree(os.path.join(ROOT, "rootfs"), skel)
    shutil.copy(os.path.join(ROOT, "bench", "busybox.inittab"), os.path.join(skel, "etc", "inittab"))
    minimal = os.path.join(ROOT, "recipes", "minimal.conf")
    contenders = [
        ("floor", minimal, {"AMPHI_INIT": floor}, {}),
        # busybox init halts on USR1/USR2 and reboots on TERM.
        ("busybox init", minimal, {"AMPHI_INIT": "/bin/busybox", "AMPHI_ROOTFS": skel},
         {"lxc.signal.halt": "SIGUSR2", "lxc.signal.reboot": "SIGTERM"}),
        ("amphi minimal", minimal, {}, {}),
        ("amphi 3 services", os.path.join(ROOT, "bench", "recipes", "prompt-services.conf"), {}, {}),
    ]
    built = []
    for name, recipe, env, signals in contenders:
        d = os.path.join(OUT, name.replace(" ", "-"))
        say(f"building {name}")
        run(AMPHI, "build", recipe, "-o", d, env=dict(os.environ, **env))
        built.append((name, d, signals))
    return built


def wait_line(path, needle, proc=None, deadline=None):
    deadline = deadline or time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        try:
            with open(path, "rb") as f:
                if needle in f.read():
                    return time.monotonic()
        except FileNotFoundError:
            pass
        if proc is not None and proc.poll() is not None:
            return None
        time.sleep(0.0005)
    return None


def lxc_round(name, d, signals, work):
    """lxc-start -> ready line, then lxc-stop -> stopped; ms each."""
    ct = f"bench-{os.getpid()}-{time.monotonic_ns()}"
    log = os.path.join(work, ct + ".console")
    defines = [x for k, v in signals.items() for x in ("-s", f"{k}={v}")]
    t0 = time.monotonic()
    run("lxc-start", "-n", ct, "-P", work, "-f", os.path.join(d, "lxc", "config"), "-d", "-L", log, *defines)
    t1 = wait_line(log, b"amphi: ready")
    try:
        if t1 is None:
            return None, None
        s0 = time.monotonic()
        r = run("lxc-stop", "-n", ct, "-P", work, "-t", "30", check=False)
        s1 = time.monotonic()
        return (t1 - t0) * 1000, (s1 - s0) * 1000 if r.returncode == 0 else None
    finally:
        run("lxc-stop", "-n", ct, "-P", work, "-k", check=False)


def vm_round(name, d, work):
    """QEMU start -> ready line; then the ACPI power button -> QEMU exit."""
    serial = os.path.join(work, "serial.log")
    mon = os.path.join(work, "mon.sock")
    env = dict(os.environ, AMPHI_ACCEL=os.environ.get("AMPHI_ACCEL", ""))
    t0 = time.monotonic()
    with open(serial, "wb") as out:
        proc = subprocess.Popen([os.path.join(d, "vm", "launch"), "-monitor", f"unix:{mon},server=on,wait=off"],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        t1 = wait_line(serial, b"amphi: ready", proc)
        if t1 is None:
            return None, None
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(mon)
            p0 = time.monotonic()
            s.sendall(b"system_powerdown\n")
            try:
                proc.wait(timeout=10)
                off = (time.monotonic() - p0) * 1000
            except subprocess.TimeoutExpired:
                off = None  # this init does not handle the power button
        return (t1 - t0) * 1000, off
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for f in (serial, mon):
            if os.path.exists(f):
                os.unlink(f)


def fmt(values, floor):
    vals = [v for v in values if v is not None]
    if not vals:
        return "n/a", ""
    m = statistics.median(vals)
    cell = f"{m:.1f} ({min(vals):.1f}–{max(vals):.1f})"
    if len(vals) < len(values):
        cell += f" [{len(values) - len(vals)} failed]"
    return cell, (f"{m / floor:.2f}×" if floor else "")


def main():
    if os.geteuid() != 0:
        sys.exit("bench: LXC needs root; run 'sudo make bench'")
    built = prepare()
    results = {name: {"lxc_start": [], "lxc_stop": [], "vm_start": [], "vm_off": []} for name, _, _ in built}
    work = tempfile.mkdtemp(prefix="amphi-bench-")
    try:
        for i in range(ROUNDS):
            order = built[i % len(built):] + built[:i % len(built)]  # alternate who goes first
            for name, d, signals in order:
                a, b = lxc_round(name, d, signals, work)
                results[name]["lxc_start"].append(a)
                results[name]["lxc_stop"].append(b)
            say(f"LXC round {i + 1}/{ROUNDS} done")
        for i in range(VM_ROUNDS):
            order = built[i % len(built):] + built[:i % len(built)]
            for name, d, _ in order:
                a, b = vm_round(name, d, work)
                results[name]["vm_start"].append(a)
                results[name]["vm_off"].append(b)
            say(f"VM round {i + 1}/{VM_ROUNDS} done")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_results(built, results)


def write_results(built, results):
    def med(name, key):
        vals = [v for v in results[name][key] if v is not None]
        return statistics.median(vals) if vals else None

    lines = ["# amphi benchmarks", "",
             f"Written by `make bench` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
             f"{ROUNDS} LXC rounds and {VM_ROUNDS} VM rounds, contenders alternating. "
             "Times in ms: median (min–max), and the ratio to the floor's median.", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, kernel {platform.release()}; "
             f"{run('lxc-start', '--version').stdout.strip() and 'LXC ' + run('lxc-start', '--version').stdout.strip()}; "
             f"{run('qemu-system-x86_64', '--version').stdout.splitlines()[0]}; "
             f"accelerator {'kvm' if os.environ.get('AMPHI_ACCEL') == 'kvm' else 'tcg (unless AMPHI_ACCEL says otherwise)'}.", "",
             "| contender | LXC start → ready | × floor | lxc-stop | × floor | QEMU start → ready | × floor | power button → QEMU exit |",
             "|---|---|---|---|---|---|---|---|"]
    for name, _, _ in built:
        cells = []
        for key in ("lxc_start", "lxc_stop", "vm_start"):
            c, ratio = fmt(results[name][key], med("floor", key))
            cells += [c, ratio]
        off, _ = fmt(results[name]["vm_off"], None)
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {off} |")
    sizes = [("amphi-init", os.path.join(BUILD, "amphi-init")), ("floor", os.path.join(OUT, "floor-init")),
             ("busybox", "/bin/busybox")]
    lines += ["", "Static binaries (bytes): " + ", ".join(f"{n} {os.path.getsize(p)}" for n, p in sizes), "",
              "n/a: the contender does not do it (the floor and this busybox init ignore the ACPI power "
              "button, so QEMU is killed after 10 s)."]
    path = os.path.join(ROOT, "bench", "RESULTS.md")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    say(f"wrote {path}")
    print("\n".join(lines[-(len(built) + 6):]))


if __name__ == "__main__":
    main()
