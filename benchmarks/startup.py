"""Command-line start-up: ``nyeshc --version`` and ``nyeshc check tiny.nysh`` against ``python -c pass``.

Each command runs in a fresh process, the three interleaved, several times; the report gives the
medians and, since wall times on a shared machine move from one minute to the next, each
command's cost **above** ``python -c pass`` measured in the same run (difference and ratio), in
wall-clock and in CPU time (user + system of the child, steadier under load), with the load
average before and after. Target (issue #16): ≤ 0.15 s above ``python -c pass``.

    python benchmarks/startup.py [--repeat 15] [--import-time]

The bytecode of nyeshc is compiled first (as an installed package has it; see
:func:`compile_bytecode`). ``--import-time`` also prints the ten slowest imports of ``check`` (``python -X importtime``,
cumulative), to see what start-up still pays for.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: a script that checks clean (no diagnostics: nothing to print)
TINY = """title: "Tiny"
canvas: 320x240, 24fps

SCENE 1 "One", 2s:
    caption: "Hello"
"""


def _run(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one process running ``argv``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover - no load average on this platform
        return "n/a"


def import_times(script: Path, top: int = 10) -> list[tuple[float, str]]:
    """The ``top`` slowest imports (cumulative ms) of ``nyeshc check script``."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "nyeshc.cli", "check", str(script)],
                          capture_output=True, text=True)
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line or "cumulative" in line:
            continue
        _, cumulative, name = line.split(":", 1)[1].split("|")
        rows.append((int(cumulative) / 1000, name.rstrip()))
    return sorted(rows, reverse=True)[:top]


def compile_bytecode() -> str:
    """Write nyeshc's ``.pyc`` files (what ``pip install`` does for an installed package), so the
    runs time the imports and not the compiling. Without this, an editable checkout run with
    ``PYTHONDONTWRITEBYTECODE=1`` (as on this project's machines) compiles every module it
    imports in every run: ``check`` measured +0.32 s above ``python -c pass`` that way, +0.23 s
    with the bytecode (2026-12-03, the same tree)."""
    import compileall
    import importlib.util

    spec = importlib.util.find_spec("nyeshc")
    if spec is None or not spec.submodule_search_locations:
        return "nyeshc not found"
    folder = next(iter(spec.submodule_search_locations))
    ok = compileall.compile_dir(folder, quiet=1)
    return f"bytecode {'written' if ok else 'NOT all written'} for {folder}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--import-time", action="store_true", help="also list the slowest imports of check")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tiny = Path(tmp) / "tiny.nysh"
        tiny.write_text(TINY, encoding="utf-8")
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "nyeshc --version": [sys.executable, "-m", "nyeshc.cli", "--version"],
            "nyeshc check tiny.nysh": [sys.executable, "-m", "nyeshc.cli", "check", str(tiny)],
        }
        compiled = compile_bytecode()
        for argv in commands.values():  # warm the file cache and the bytecode
            _run(argv)
        load_before = _load()
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        for _ in range(args.repeat):
            for name, argv in commands.items():
                times[name].append(_run(argv))
        load_after = _load()
        slowest = import_times(tiny) if args.import_time else []
    print(f"{args.repeat} runs of each, interleaved; load average (1, 5, 15 min) {load_before} before, "
          f"{load_after} after; Python {sys.version.split()[0]}; {compiled}")
    base_w = statistics.median(w for w, _ in times["python -c pass"])
    base_c = statistics.median(c for _, c in times["python -c pass"])
    print(f"{'':24s} {'wall median':>12s} {'(min)':>8s} {'CPU median':>11s}   above python -c pass")
    for name, values in times.items():
        wall = statistics.median(w for w, _ in values)
        cpu = statistics.median(c for _, c in values)
        line = f"{name:24s} {wall:10.3f} s {min(w for w, _ in values):6.3f} s {cpu:9.3f} s"
        if name != "python -c pass":
            # per-run differences against the pass run of the same round, then their median
            diffs = [w - p for (w, _), (p, _) in zip(values, times["python -c pass"])]
            line += (f"   +{statistics.median(diffs):.3f} s wall ({wall / base_w:.1f}×), "
                     f"+{cpu - base_c:.3f} s CPU   (target ≤ +0.15 s)")
        print(line)
    if slowest:
        print("slowest imports of check (cumulative):")
        for ms, name in slowest:
            print(f"  {ms:8.1f} ms  {name}")


if __name__ == "__main__":
    main()
