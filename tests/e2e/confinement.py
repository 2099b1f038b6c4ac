"""What a container's root may do, seen from inside: a recipe whose task
reports it on the console, and a static probe (confine_probe.c, built by
conftest's confine_probe fixture) to copy into the rootfs before the
container starts. The task is a child of the container's PID 1, so it has
what any process of the appliance has, not what lxc-attach would give."""

import os
import re

PROBE_IN_ROOTFS = "usr/local/bin/confine-probe"

# The task prints its own status lines, the host directory's line of
# mountinfo and the probe's answers; each console line is "probe: TEXT".
PROBE_RECIPE = """[image]
name = {name}
[runtime]
ttys = 1
[task.probe]
shell = yes
exec = grep -E '^(CapBnd|Seccomp):' /proc/self/status; grep ' /var/lib/amphi/host ' /proc/self/mountinfo; /{probe}
""".replace("{probe}", PROBE_IN_ROOTFS)

# include/uapi/linux/capability.h
CAPS = {"sys_module": 16, "sys_rawio": 17, "sys_time": 25, "mac_admin": 33}
EPERM = 1


def probe_recipe(path, name):
    with open(path, "w") as f:
        f.write(PROBE_RECIPE.replace("{name}", name))
    return path


def put_probe(probe, rootfs):
    dest = os.path.join(rootfs, PROBE_IN_ROOTFS)
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    with open(probe, "rb") as src, open(dest, "wb") as dst:
        dst.write(src.read())
    os.chmod(dest, 0o755)


def report(console):
    """What the probe task printed, from the console log's text."""
    lines = re.findall(r"probe: (.*?)\r?$", console, re.M)
    caps = re.search(r"CapBnd:\s*([0-9a-f]+)", "\n".join(lines))
    seccomp = re.search(r"Seccomp:\s*(\d)", "\n".join(lines))
    mount = [l for l in lines if " /var/lib/amphi/host " in l]
    errnos = dict(re.findall(r"(\w+) errno=(\d+)", "\n".join(lines)))
    assert caps and seccomp and len(mount) == 1 and len(errnos) == 2, console[-3000:]
    # mountinfo (proc(5)): field 6 is the mount's own options.
    return {"capbnd": int(caps.group(1), 16), "seccomp": int(seccomp.group(1)),
            "mount_options": set(mount[0].split()[5].split(",")),
            "errno": {k: int(v) for k, v in errnos.items()}}


def assert_confined(console, userns=False):
    """LXC's common.conf confinement (and the host directory's mount
    options) as the appliance's root sees them. In a user namespace
    (userns.conf) the bounding set is full again, as LXC's templates leave
    it: those capabilities then count only in the container's own user
    namespace, and the kernel checks CAP_SYS_MODULE, CAP_SYS_RAWIO and
    CAP_SYS_TIME in the initial one."""
    r = report(console)
    if not userns:
        kept = [cap for cap, bit in CAPS.items() if r["capbnd"] & (1 << bit)]
        assert not kept, f"in the bounding set ({r['capbnd']:x}): {kept}"
    assert r["seccomp"] == 2, "no seccomp filter (Seccomp: 2 in /proc/self/status)"
    assert r["errno"] == {"finit_module": EPERM, "open_by_handle_at": EPERM}, r["errno"]
    assert {"nosuid", "nodev", "noexec"} <= r["mount_options"], r["mount_options"]
    return r


def assert_pid1_confined(pid):
    """The same for a container's PID 1 (host PID pid), read from /proc on
    the host: where no probe task runs (the lxc-local tarballs)."""
    with open(f"/proc/{pid}/status") as f:
        status = f.read()
    capbnd = int(re.search(r"CapBnd:\s*([0-9a-f]+)", status).group(1), 16)
    kept = [cap for cap, bit in CAPS.items() if capbnd & (1 << bit)]
    assert not kept, f"in PID 1's bounding set ({capbnd:x}): {kept}"
    assert re.search(r"Seccomp:\s*2\b", status), "PID 1 has no seccomp filter"
    with open(f"/proc/{pid}/mountinfo") as f:
        mount = [l for l in f if " /var/lib/amphi/host " in l]
    assert len(mount) == 1 and {"nosuid", "nodev", "noexec"} <= set(mount[0].split()[5].split(",")), mount
