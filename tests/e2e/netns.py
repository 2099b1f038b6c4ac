"""Commands in a network namespace as LXC needs them there: for the
end-to-end tests (conftest.py) and make bench (bench/appliance.py)."""


def _cgroup_mounts():
    """Shell commands that mount the host's cgroup hierarchies again, as
    /proc/self/mountinfo (proc(5)) lists them below /sys/fs/cgroup: the
    same controllers name the same hierarchy (cgroups(7))."""
    cmds = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mount, fs = line.split(" - ", 1)
            target, (fstype, _, superopts) = mount.split()[4], fs.split()[:3]
            if not (target == "/sys/fs/cgroup" or target.startswith("/sys/fs/cgroup/")):
                continue
            opts = ",".join(o for o in superopts.split(",") if o not in ("rw", "ro"))
            cmds.append(f"mkdir -p {target} && mount -t {fstype} {'-o ' + opts if opts else ''} {fstype} {target}")
    return " && ".join(cmds + ['exec "$@"'])


def netns_exec(ns):
    """The argv prefix that runs a command in network namespace ns as LXC
    needs it there. ip netns exec mounts a sysfs of that namespace over
    /sys, which hides the cgroup mounts below it, and LXC then fails to set
    the devices allow-list of LXC's common.conf ("Failed to setup cgroup
    limits"): they are mounted again in its private mount namespace."""
    return ["ip", "netns", "exec", ns, "sh", "-c", _cgroup_mounts(), "sh"]
