"""The long fuzz run: ``python benchmarks/fuzz.py [--count 100000] [--workers 2] [--seed 0]``.

Seeds are the small scripts of ``tests/check/snippets``, the examples, and scripts written by the
hypothesis strategy ``tests/strategies.py: scripts()``; each input is a seed with 1–4 random
mutations (``fuzz/nysh_fuzz.py: mutate`` — deleted/duplicated/swapped lines, swapped tokens,
random bytes, invalid UTF-8, deep nesting, huge numbers, 10,000-character lines, truncation),
run through ``check`` and ``fmt`` (``run_one``): neither may raise, and every diagnostic's span
lies inside its text. Failing inputs are written to ``benchmarks/fuzz-failures/`` and counted;
the exit status is 1 when any failed. Prints the count, the time and the throughput.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "fuzz"), str(REPO / "tests")]

from nysh_fuzz import mutate, run_one  # noqa: E402


def seeds(n_generated: int, seed: int, max_bytes: int = 1600) -> list[bytes]:
    out = [p.read_bytes() for p in sorted((REPO / "tests" / "check" / "snippets").rglob("*.nysh"))]
    out += [p.read_bytes() for p in sorted((REPO / "examples").glob("*.nysh"))]
    try:
        from hypothesis import HealthCheck, given, settings
        from hypothesis.errors import NonInteractiveExampleWarning
        from strategies import scripts

        made: list[str] = []

        @settings(max_examples=n_generated, database=None, derandomize=True, deadline=None,
                  suppress_health_check=list(HealthCheck))
        @given(scripts())
        def collect(text: str) -> None:
            made.append(text)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NonInteractiveExampleWarning)
            collect()
        out += [t.encode() for t in made]
    except ImportError:  # hypothesis absent: the committed seeds only
        pass
    return [s for s in out if len(s) <= max_bytes]


def _worker(task: tuple[int, int, int, list[bytes], str]) -> tuple[int, list[tuple[bytes, str]]]:
    start, count, seed, corpus, folder = task
    rng = random.Random(seed * 1_000_003 + start)
    scratch = Path(tempfile.mkdtemp(prefix="nysh-fuzz-", dir=folder))
    path = scratch / "fuzz.nysh"
    failures: list[tuple[bytes, str]] = []
    for _ in range(count):
        data = mutate(rng.choice(corpus), rng)
        try:
            run_one(data, path)
        except BaseException:  # noqa: BLE001 - every escape is a finding
            failures.append((data, traceback.format_exc()))
    return count, failures


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--generated", type=int, default=300, help="scripts drawn from the hypothesis strategy")
    ap.add_argument("--chunk", type=int, default=500)
    ap.add_argument("--max-bytes", type=int, default=1600, help="leave out larger seeds (speed)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    corpus = seeds(args.generated, args.seed, args.max_bytes)
    t1 = time.perf_counter()
    print(f"{len(corpus)} seeds in {t1 - t0:.1f} s", flush=True)
    with tempfile.TemporaryDirectory(prefix="nysh-fuzz-") as folder:
        tasks = []
        done = 0
        while done < args.count:
            n = min(args.chunk, args.count - done)
            tasks.append((done, n, args.seed, corpus, folder))
            done += n
        total, failures = 0, []
        with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
            for n, failed in pool.imap_unordered(_worker, tasks):
                total += n
                failures += failed
                if total % 10_000 < args.chunk:
                    rate = total / (time.perf_counter() - t1)
                    print(f"  {total} inputs, {len(failures)} failures, {rate:.0f}/s", flush=True)
    elapsed = time.perf_counter() - t1
    if failures:
        out = REPO / "benchmarks" / "fuzz-failures"
        out.mkdir(exist_ok=True)
        for i, (data, tb) in enumerate(failures[:100]):
            (out / f"{i:03}.nysh").write_bytes(data)
            (out / f"{i:03}.txt").write_text(tb)
        print(f"first failure:\n{failures[0][1]}")
    print(f"fuzzed {total} inputs with {args.workers} workers in {elapsed:.1f} s "
          f"({total / elapsed:.0f}/s): {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
