"""A small film's dialogue edit: the tutorial's 20 s film, full build against one-line edits.

Issue #22 asks that a one-line dialogue edit of a ~17 s film cost no more than 30 % of its full
build. The nearest film in the repository is the tutorial's (``docs/tutorial.md``: the last
complete ``film.nysh`` it writes, 20 s at 640x360 with two characters, lip-sync, a morph and
subtitles); the page itself edits the keeper's line ``"Someone is still at sea."``.

Each repeat, in a fresh temporary folder: a full build on a fresh cache (``nyeshc film.nysh -o
out.mp4 -v``), then ``--edits`` edits of that line's text (new text each time, so nothing is
cached from an earlier one), each built through the CLI on the warm cache. Reported: medians,
each edit as a share of the full build, the ``-v`` split (start, check + plan, jobs, render +
encode) and CPU seconds (the children's ``getrusage``; steadier than wall on a shared machine).

The bytecode of nyeshc is compiled first (as an installed package has it; see
``startup.compile_bytecode``): without it, an editable checkout run with
``PYTHONDONTWRITEBYTECODE=1`` compiles the modules changed since the last compile in every
run, which adds ~0.07 s to each build here (a twentieth of an edit).

    python benchmarks/small_film.py [--repeat 2] [--edits 4]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from film import cpu_seconds
from startup import compile_bytecode

ROOT = Path(__file__).resolve().parent.parent
TUTORIAL = ROOT / "docs" / "tutorial.md"
LINE = '"Someone is still at sea."'
BLOCK = re.compile(r"^```nysh file=film\.nysh\n(.*?)^```", re.DOTALL | re.MULTILINE)
SPLIT = re.compile(r"start ([\d.]+) s, check \+ plan ([\d.]+) s, jobs ([\d.]+) s, render \+ encode ([\d.]+) s")
TARGET = 0.30


def tutorial_film() -> str:
    """The last complete ``film.nysh`` the tutorial writes (the one its edit section edits)."""
    blocks = BLOCK.findall(TUTORIAL.read_text(encoding="utf-8"))
    films = [b for b in blocks if LINE in b]
    if not films:
        raise SystemExit(f"{TUTORIAL}: no film.nysh block holds the line {LINE}")
    return films[-1]


def build(folder: Path) -> dict[str, float]:
    """``nyeshc film.nysh -o out.mp4 -v`` in ``folder``: wall and CPU seconds and the -v split."""
    cmd = [sys.executable, "-m", "nyeshc.cli", "film.nysh", "-o", "out.mp4", "-v"]
    before = cpu_seconds(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(cmd, check=False, cwd=folder, capture_output=True, text=True)
    wall = time.perf_counter() - t
    cpu = cpu_seconds(resource.RUSAGE_CHILDREN) - before
    if proc.returncode != 0:
        raise SystemExit(f"build failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    m = SPLIT.search(proc.stderr)
    if m is None:
        raise SystemExit(f"no -v split in the build's output:\n{proc.stderr[-2000:]}")
    return {"wall": wall, "cpu": cpu, "start": float(m[1]), "plan": float(m[2]), "jobs": float(m[3]),
            "render": float(m[4])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=2, help="fresh full builds (each followed by the edits)")
    ap.add_argument("--edits", type=int, default=4, help="line edits after each full build")
    args = ap.parse_args()
    print(compile_bytecode())
    film = tutorial_film()
    fulls: list[dict[str, float]] = []
    edits: list[dict[str, float]] = []
    print(f"the tutorial's film; {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}", flush=True)
    for r in range(args.repeat):
        tmp = Path(tempfile.mkdtemp(prefix="nyeshc-bench-small-"))
        try:
            script = tmp / "film.nysh"
            script.write_text(film, encoding="utf-8")
            fulls.append(build(tmp))
            print(f"  run {r + 1} full build: {fulls[-1]['wall']:.2f} s, CPU {fulls[-1]['cpu']:.2f} s", flush=True)
            for e in range(args.edits):
                new = f'"Someone is still out at sea, {r + 1}.{e + 1}."'
                script.write_text(film.replace(LINE, new), encoding="utf-8")
                edits.append(build(tmp))
                print(f"  run {r + 1} edit {e + 1}: {edits[-1]['wall']:.2f} s, CPU {edits[-1]['cpu']:.2f} s "
                      f"({edits[-1]['wall'] / fulls[-1]['wall']:.1%} of this run's full build)", flush=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    full = statistics.median(b["wall"] for b in fulls)
    edit = statistics.median(b["wall"] for b in edits)
    print()
    print(f"{'':28} {'wall s':>7} {'CPU s':>7}   start, check + plan, jobs, render + encode")
    for name, runs in (("full build (fresh cache)", fulls), ("edit: the keeper's line", edits)):
        med = {k: statistics.median(b[k] for b in runs) for k in runs[0]}
        print(f"{name:28} {med['wall']:7.2f} {med['cpu']:7.2f}   {med['start']:.2f}, {med['plan']:.2f}, "
              f"{med['jobs']:.2f}, {med['render']:.2f}")
    shares = sorted(e["wall"] / full for e in edits)
    print(f"edit / full build: {edit / full:.1%} (each edit against the median full build: "
          f"{shares[0]:.1%}–{shares[-1]:.1%}); target ≤ {TARGET:.0%}: {'met' if edit / full <= TARGET else 'missed'}")


if __name__ == "__main__":
    main()
