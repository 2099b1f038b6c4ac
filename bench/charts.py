"""PNG charts for bench/RESULTS.md, drawn by gnuplot (Debian's gnuplot-nox,
installed on first use). A chart is a dict: {"name": file stem, "title",
"unit", "bars": [(label, median, min, max), ...]}; a bar whose median is
None (the contender could not run) is left out of the picture, and the
table beside it says why. Each bar shows its median with a min-max range."""

import json
import os
import shutil
import subprocess
import tempfile

CHART_DIR = "charts"


def ensure_gnuplot(say):
    if shutil.which("gnuplot"):
        return True
    say("installing gnuplot-nox for the charts")
    r = subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "gnuplot-nox"],
                       capture_output=True, text=True, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    return r.returncode == 0 and shutil.which("gnuplot") is not None


def _quote(s):
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'


def draw(chart, out_dir):
    """Writes out_dir/NAME.png; returns its file name, or None."""
    bars = [b for b in chart["bars"] if b[1] is not None]
    if not bars:
        return None
    with tempfile.TemporaryDirectory(prefix="amphi-chart-") as tmp:
        data = os.path.join(tmp, "data")
        with open(data, "w") as f:
            for i, (label, med, lo, hi) in enumerate(bars):
                lo = med if lo is None else lo
                hi = med if hi is None else hi
                f.write(f"{i} {med} {lo} {hi} {_quote(label)}\n")
        png = os.path.join(out_dir, chart["name"] + ".png")
        top = max(b[3] if b[3] is not None else b[1] for b in bars)
        script = "\n".join([
            "set terminal pngcairo size 800,420 font 'sans,10'",
            f"set output {_quote(png)}",
            f"set title {_quote(chart['title'])}",
            f"set ylabel {_quote(chart['unit'])}",
            "set style fill solid 0.6 border -1",
            "set boxwidth 0.6",
            "set grid ytics",
            "unset key",
            f"set yrange [0:{top * 1.15 if top > 0 else 1}]",
            f"set xrange [-0.6:{len(bars) - 0.4}]",
            "set xtics rotate by -20",
            f"plot {_quote(data)} using 1:2:xtic(5) with boxes lc rgb '#4a7ab5', "
            f"'' using 1:2:3:4 with yerrorbars lc rgb '#202020' pt 0, "
            f"'' using 1:4:($2 >= 100 ? sprintf('%.0f', $2) : sprintf('%.3g', $2)) with labels offset 0,0.8",
        ])
        r = subprocess.run(["gnuplot"], input=script, capture_output=True, text=True)
        if r.returncode != 0 or not os.path.exists(png):
            raise RuntimeError(f"gnuplot failed for {chart['name']}: {r.stderr.strip()[:300]}")
    return os.path.basename(png)


def draw_all(charts, bench_dir, say):
    """Draws every chart into bench_dir/charts/; returns markdown lines
    linking them (or saying why there are none)."""
    if not charts:
        return []
    if not ensure_gnuplot(say):
        return ["", "No charts: gnuplot-nox could not be installed (apt-get install gnuplot-nox)."]
    out_dir = os.path.join(bench_dir, CHART_DIR)
    os.makedirs(out_dir, exist_ok=True)
    # The data beside the pictures: `python3 bench/charts.py` redraws them.
    with open(os.path.join(out_dir, "charts.json"), "w") as f:
        json.dump(charts, f, indent=1)
    lines = ["", "## Charts", "", "Medians with min–max ranges, from the tables above."]
    for chart in charts:
        name = draw(chart, out_dir)
        if name:
            lines += ["", f"![{chart['title']}]({CHART_DIR}/{name})"]
    say(f"drew {len(charts)} charts into {out_dir}")
    return lines


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, CHART_DIR, "charts.json")) as f:
        draw_all(json.load(f), here, print)
