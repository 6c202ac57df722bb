"""Front-end speed: parse + check a generated 10,000-line script, against start-up.

Runs ``nyeshc check`` on a tiny script and on a generated script of about 10,000 lines, each
several times in fresh processes, and prints the medians and the difference (the cost of the
front end beyond start-up), in wall-clock and in CPU time (steadier on a loaded machine), for
the fast path of ``read`` and for the reference path; then the CPU time of each stage measured
in one process. Target (DESIGN.md): ≤ 0.5 s beyond start-up on a 2-core machine.

    python benchmarks/frontend.py [--lines 10000] [--repeat 5] [--no-reference]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEAD = """title: "Benchmark"
canvas: 1280x720, 24fps
seed: 1
subtitles: NYESH

alphabet NYESH:
    glyphs: 28
    strokes: 2..5
    seed: 7
    ink: #efe6d2

look DUSK:
    image: generate, seed 42, truncation 0.7
look DAWN:
    image: generate, seed 43, truncation 0.7

character NARRATOR:
    portrait: generate, seed 11, truncation 0.6
    voice: asemic, pitch 0.8
    motion: lipsync

music THEME:
    source: generate, genre "ambient", length 60s, seed 3
"""

SCENE = """
SCENE {n} "Scene {n}", 12s:
    backdrop: morph DUSK -> seed {n} -> DAWN, ease smooth
    music: THEME, from 0s, fade in 2s, gain -3dB
    caption: NYESH "line {n}", at 1s, for 4s, bottom

    NARRATOR, at 2s, close-up, left:
        (softly)
        "Nyeshkerh number {n}."
        (pause 1s)
        "The names are gone.\"

CROSSFADE TO: 1s
"""


def generate(lines: int) -> str:
    parts = [HEAD]
    n = 0
    while sum(p.count("\n") for p in parts) < lines:
        n += 1
        parts.append(SCENE.format(n=n))
    return "".join(parts).rstrip().removesuffix("CROSSFADE TO: 1s").rstrip() + "\n"


# ``nyeshc check`` in a fresh process; with ``reference``, ``read`` takes the reference path
# (Lark's parse, then lower) instead of the fast one, to compare the two in the same run
_CHECK = ("import sys, functools, nyeshc.syntax as s\n"
          "if sys.argv[1] == 'reference':\n"
          "    s.read = functools.partial(s.read, fast=False)\n"
          "from nyeshc.cli import main\n"
          "sys.exit(main(['check', '--format', 'short', sys.argv[2]]))\n")


def run(path: Path, reference: bool = False) -> tuple[float, float]:
    """(wall seconds, CPU seconds: user + system) of one ``nyeshc check`` of ``path``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _CHECK, "reference" if reference else "fast", str(path)],
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0,):
        raise SystemExit(f"check failed on {path}:\n{proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def _median(xs: list[float]) -> float:
    return statistics.median(xs)


def in_process(text: str, repeat: int) -> dict[str, list[float]]:
    """CPU seconds (``time.process_time``) of each stage, old and new interleaved, in one process."""
    from nyeshc.check import check
    from nyeshc.syntax import load, read
    from nyeshc.syntax.lower import lower
    from nyeshc.syntax.parse import parse
    from nyeshc.world import World

    cpu = time.process_time
    out: dict[str, list[float]] = {k: [] for k in ("parse (reference)", "lower (reference)", "read (reference)",
                                                   "read (fast)", "load", "check")}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.nysh"
        path.write_text(text, encoding="utf-8")
        world = World.for_script(path)
        read(text, "big.nysh")  # build the tables once
        for _ in range(repeat):
            t0 = cpu()
            result = parse(text, "big.nysh")
            t1 = cpu()
            ref = lower(result.tree, "big.nysh", len(text))
            t2 = cpu()
            film, diagnostics = read(text, "big.nysh")
            t3 = cpu()
            assert film == ref and not diagnostics and not result.diagnostics
            del result, ref, film
            t4 = cpu()
            loaded = load(path, world)
            t5 = cpu()
            diagnostics = check(loaded, world)
            t6 = cpu()
            assert not any(d.is_error for d in diagnostics)
            for key, value in zip(out, (t1 - t0, t2 - t1, t2 - t0, t3 - t2, t5 - t4, t6 - t5)):
                out[key].append(value)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--lines", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-reference", action="store_true", help="skip the reference path's runs")
    args = ap.parse_args()
    text = generate(args.lines)
    n = text.count("\n")
    print(f"script: {n} lines; {args.repeat} runs of each, interleaved; medians (min)")
    with tempfile.TemporaryDirectory() as tmp:
        tiny = Path(tmp) / "tiny.nysh"
        tiny.write_text(HEAD, encoding="utf-8")
        big = Path(tmp) / "big.nysh"
        big.write_text(text, encoding="utf-8")
        run(tiny), run(big)  # warm the file cache and Lark's grammar analysis
        modes = [False] if args.no_reference else [False, True]
        times: dict[tuple[str, bool], list[tuple[float, float]]] = {}
        for _ in range(args.repeat):
            for reference in modes:
                for name, path in (("tiny", tiny), ("big", big)):
                    times.setdefault((name, reference), []).append(run(path, reference))
    for reference in modes:
        label = "reference path" if reference else "fast path"
        tiny_w = _median([w for w, _ in times[("tiny", reference)]])
        tiny_c = _median([c for _, c in times[("tiny", reference)]])
        big_w = _median([w for w, _ in times[("big", reference)]])
        big_c = _median([c for _, c in times[("big", reference)]])
        print(f"nyeshc check ({label}): start-up (tiny script) {tiny_w:.3f} s wall, {tiny_c:.3f} s CPU; "
              f"{n}-line script {big_w:.3f} s wall, {big_c:.3f} s CPU")
        print(f"  beyond start-up ({label}): {big_w - tiny_w:.3f} s wall, {big_c - tiny_c:.3f} s CPU"
              f"   (target ≤ 0.5 s)")
    stages = in_process(text, args.repeat)
    print("in-process CPU seconds:")
    for key, values in stages.items():
        print(f"  {key:18s} {_median(values):.3f} ({min(values):.3f})")
    fast = _median(stages["read (fast)"])
    print(f"  fast read: {n / fast:,.0f} lines/s, {_median(stages['read (reference)']) / fast:.1f}× the reference")


if __name__ == "__main__":
    main()
