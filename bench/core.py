"""The bench's core: who is measured (Contender), what one quantity's
rounds gave (Measurement), how a section shows them (Table, Section), and
the state of one run, passed to whoever needs it (Run)."""

import os
import statistics
import time


class NA(Exception):
    """A contender or round that could not run; str() goes into its table cell."""


def short(text, limit=160):
    """One line fit for a markdown table cell."""
    text = " ".join(str(text).split()).replace("|", "/")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def ratio(v, base):
    """v / base as 'N.NN×', or '' when either is missing."""
    return f"{v / base:.2f}×" if v is not None and base else ""


def one_decimal(v):
    return f"{v:.1f}"


def integer(v):
    return f"{v:.0f}"


def rotations(items, rounds):
    """(round, items in this round's order): who goes first moves by one
    each round, so that no contender always runs on a warmer host."""
    for i in range(rounds):
        k = i % len(items)
        yield i, items[k:] + items[:k]


class Measurement:
    """One quantity of one contender over the rounds: its values, in unit,
    and why the rounds without a value failed."""

    def __init__(self, label, unit="ms", fmt=one_decimal):
        self.label, self.unit, self.fmt = label, unit, fmt
        self.vals, self.why = [], []

    def add(self, v):
        self.vals.append(v)

    def fail(self, why):
        self.why.append(short(why, 120))

    def n(self):
        return len(self.vals)

    def stats(self):
        """(median, min, max), or None without a value."""
        return (statistics.median(self.vals), min(self.vals), max(self.vals)) if self.vals else None

    def median(self):
        s = self.stats()
        return s[0] if s else None

    def cell(self, fmt=None):
        """'median (min–max)', with how many rounds failed and the first reason."""
        f = fmt or self.fmt
        s = self.stats()
        if s is None:
            return "n/a: " + (self.why[0] if self.why else "not run")
        text = f"{f(s[0])} ({f(s[1])}–{f(s[2])})" if len(self.vals) > 1 else f(s[0])
        if self.why:
            text += f" [{len(self.why)} of {len(self.vals) + len(self.why)} rounds failed: {self.why[0]}]"
        return text

    def over(self, base):
        """This median / base's median as 'N.NN×' ('' when either has none)."""
        return ratio(self.median(), base.median() if isinstance(base, Measurement) else base)

    def bar(self, scale=1.0, label=None):
        """A chart bar (bench/charts.py), or None without a value."""
        s = self.stats()
        return None if s is None else (label or self.label, s[0] * scale, s[1] * scale, s[2] * scale)


def bars(*items):
    """Chart bars of the measurements that have a value (the table says why the others do not)."""
    return [b for b in items if b is not None]


class Table:
    """A Markdown table and the one short note a reader needs under it."""

    def __init__(self, columns, note=""):
        self.columns, self.note, self.rows = list(columns), note, []

    def add(self, *cells):
        self.rows.append([str(c) for c in cells])

    def lines(self):
        out = ["| " + " | ".join(self.columns) + " |", "|" + "---|" * len(self.columns)]
        out += ["| " + " | ".join(row) + " |" for row in self.rows]
        return out + (["", self.note] if self.note else [])


class Section:
    """A heading, its tables (each with its note) and the charts drawn from them."""

    def __init__(self, title, tables=(), charts=()):
        self.title, self.tables, self.charts = title, list(tables), list(charts)

    def lines(self):
        out = ["## " + self.title]
        for t in self.tables:
            out += [""] + (t.lines() if isinstance(t, Table) else [t])
        return out


class Contender:
    """One PID 1 in both worlds. Built by `amphi build RECIPE -o DIR` with env
    added to the environment (None: made elsewhere, as systemd's tree is);
    booted in QEMU by DIR/vm/launch; started in LXC as lxc says:
    {"config": PATH} (lxc-start -f PATH under a new name each round),
    {"name", "path"} (the container lxc-create made, by its own name) or
    {"why": REASON} (it cannot run in LXC here). rootfs: (what LXC boots,
    what the VM boots), for the contenders table."""

    def __init__(self, name, build_dir, lxc, rootfs=("", ""), recipe=None, env=None):
        self.name, self.dir, self.lxc, self.rootfs = name, build_dir, lxc, rootfs
        self.recipe, self.env = recipe, env or {}

    def build_cmd(self, amphi):
        return [amphi, "build", self.recipe, "-o", self.dir]

    def vm_launch(self, *qemu_args):
        """The command that boots it in QEMU, with qemu_args after the launcher's."""
        return [os.path.join(self.dir, "vm", "launch"), *qemu_args]

    def lxc_target(self, work):
        """(container name, lxcpath, lxc-start arguments) for one round."""
        if "name" in self.lxc:
            return self.lxc["name"], self.lxc["path"], []
        return f"bench-{os.getpid()}-{time.monotonic_ns()}", work, ["-f", self.lxc["config"]]


class Run:
    """What one `make bench` knows and learns: its knobs (QUICK=1,
    BENCH_ONLY), paths, the contenders it built, facts found on the way
    (facts) and why a contender's rounds failed (why: {(name, world): why}).
    Passed explicitly, so that nothing changes a module's globals."""

    def __init__(self, root, say, accel, quick, only):
        self.root, self.say, self.accel, self.quick, self.only = root, say, accel, quick, only
        self.build = os.path.join(root, "build")
        self.out = os.path.join(self.build, "bench")
        self.amphi = os.path.join(self.build, "amphi")
        self.floor_init = os.path.join(self.out, "floor-init")
        self.contenders = []
        self.facts = {}
        self.why = {}
        self.live = None  # bench/extras.py's Live, while its sections run
        self.rounds = 3 if quick else 5

    def failed(self, name, world, why):
        """The first reason a contender's rounds in a world failed."""
        self.why.setdefault((name, world), why)

    def why_of(self, name, *worlds):
        return next((self.why[name, w] for w in worlds if (name, w) in self.why), None)


def wait_for(path, found, deadline, proc=None, pause=0.0005):
    """Polls a file until found(its bytes); the time then, or None at the
    deadline or once proc has exited."""
    while time.monotonic() < deadline:
        try:
            with open(path, "rb") as f:
                if found(f.read()):
                    return time.monotonic()
        except FileNotFoundError:
            pass
        if proc is not None and proc.poll() is not None:
            return None
        time.sleep(pause)
    return None
