"""Front-end speed: parse + check a generated 10,000-line script, against start-up.

Runs ``nyeshc check`` on a tiny script and on a generated script of about 10,000 lines, each
several times in fresh processes, and prints the medians and the difference (the cost of the
front end beyond start-up). Target (DESIGN.md): ≤ 0.5 s beyond start-up on a 2-core machine.

    python benchmarks/frontend.py [--lines 10000] [--repeat 5]
"""

from __future__ import annotations

import argparse
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


def run(path: Path) -> float:
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "nyeshc.cli", "check", "--format", "short", str(path)],
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    if proc.returncode not in (0,):
        raise SystemExit(f"check failed on {path}:\n{proc.stderr[-2000:]}")
    return elapsed


def in_process(text: str, repeat: int) -> tuple[float, float]:
    """(parse seconds, parse+check seconds), medians, measured inside one process."""
    from nyeshc.syntax import read

    parse_times, total_times = [], []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.nysh"
        path.write_text(text, encoding="utf-8")
        from nyeshc.commands.common import load_and_check

        for _ in range(repeat):
            t = time.perf_counter()
            read(text, "big.nysh")
            parse_times.append(time.perf_counter() - t)
            t = time.perf_counter()
            checked = load_and_check(str(path))
            total_times.append(time.perf_counter() - t)
            assert not checked.has_errors
    return statistics.median(parse_times), statistics.median(total_times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--lines", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    text = generate(args.lines)
    with tempfile.TemporaryDirectory() as tmp:
        tiny = Path(tmp) / "tiny.nysh"
        tiny.write_text(HEAD, encoding="utf-8")
        big = Path(tmp) / "big.nysh"
        big.write_text(text, encoding="utf-8")
        run(tiny), run(big)  # warm the file cache and Lark's grammar analysis
        tiny_t = statistics.median(run(tiny) for _ in range(args.repeat))
        big_t = statistics.median(run(big) for _ in range(args.repeat))
    parse_t, total_t = in_process(text, args.repeat)
    n = text.count("\n")
    print(f"script: {n} lines")
    print(f"nyeshc check, tiny script (start-up): {tiny_t:.3f} s (median of {args.repeat})")
    print(f"nyeshc check, {n}-line script:      {big_t:.3f} s")
    print(f"beyond start-up:                     {big_t - tiny_t:.3f} s   (target ≤ 0.5 s)")
    print(f"in-process: parse {parse_t:.3f} s, parse + check {total_t:.3f} s "
          f"({n / parse_t:,.0f} lines/s parsed)")


if __name__ == "__main__":
    main()
