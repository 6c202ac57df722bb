"""The long fuzz run: ``python benchmarks/fuzz.py [--count 100000] [--workers 2] [--out DIR] [--resume]``.

Seeds are the small scripts of ``tests/check/snippets``, the examples, and scripts written by the
hypothesis strategy ``tests/strategies.py: scripts()``; each input is a seed with 1–4 random
mutations (``fuzz/nysh_fuzz.py: mutate`` — deleted/duplicated/swapped lines, swapped tokens,
random bytes, invalid UTF-8, deep nesting, huge numbers, 10,000-character lines, truncation),
run through ``check`` and ``fmt`` (``run_one``): neither may raise, and every diagnostic's span
lies inside its text; an input that runs longer than ``--hang`` seconds is a failure too.

The inputs are split into chunks of ``--chunk``; chunk *k* draws its inputs from a generator
seeded with (``--seed``, *k*), so a run is reproducible and a chunk can be redone alone. Chunks
run on ``--workers`` processes. ``DIR/state.json`` records the finished chunks (written
atomically after each one): ``--resume`` skips them, so an interrupted run goes on where it
stopped and its final count covers every session. Each failure is reduced to a minimal input
that fails the same way (same exception type at the same place) and saved once per distinct
failure under ``DIR/failures/<signature>/`` (``input.nysh``, ``minimal.nysh``, ``traceback.txt``,
``count``). Prints the count, the failures and the throughput every ``--report`` inputs and at
the end; the exit status is 1 when any input failed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import random
import signal
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "fuzz"), str(REPO / "tests")]

from nysh_fuzz import mutate, run_one  # noqa: E402

STATE_VERSION = 1


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


# --------------------------------------------------------------------------- one input


class Hang(Exception):
    """An input ran longer than the ``--hang`` limit."""


def _on_alarm(signum: int, frame: object) -> None:
    raise Hang("input ran past the time limit")


def signature(exc: BaseException) -> str:
    """What makes two failures the same: the exception's type and the innermost frame of
    nyeshc or the fuzz target that it passed through."""
    where = "?"
    for fs in traceback.extract_tb(exc.__traceback__):
        if "/nyeshc/" in fs.filename or fs.filename.endswith("nysh_fuzz.py"):
            where = f"{Path(fs.filename).name}:{fs.lineno}"
    return f"{type(exc).__name__}@{where}"


def attempt(data: bytes, path: Path, hang_s: float) -> tuple[str, str] | None:
    """Run one input: None when the contract holds, else (signature, traceback)."""
    if hang_s > 0:
        signal.setitimer(signal.ITIMER_REAL, hang_s)
    try:
        run_one(data, path)
    except (Exception, RecursionError, Hang) as exc:  # noqa: BLE001 - every escape is a finding
        return signature(exc), traceback.format_exc()
    finally:
        if hang_s > 0:
            signal.setitimer(signal.ITIMER_REAL, 0)
    return None


def minimize(data: bytes, fails: Callable[[bytes], bool], budget: int = 1500) -> bytes:
    """A smaller input for which ``fails`` still holds: delta debugging over lines, then over
    bytes, removing ever smaller runs while it helps (at most ``budget`` tries)."""
    tries = 0

    def reduce(units: list[bytes], join: bytes) -> list[bytes]:
        nonlocal tries
        n = max(1, len(units) // 2)
        while n >= 1 and tries < budget:
            i, changed = 0, False
            while i < len(units) and tries < budget:
                candidate = units[:i] + units[i + n:]
                tries += 1
                if candidate != units and fails(join.join(candidate)):
                    units, changed = candidate, True
                else:
                    i += n
            if not changed:
                n //= 2
        return units

    lines = reduce(data.split(b"\n"), b"\n")
    data = b"\n".join(lines)
    return b"".join(reduce([bytes([b]) for b in data], b""))


# --------------------------------------------------------------------------- workers

_CORPUS: list[bytes] = []
_PATH: Path | None = None
_HANG = 0.0
_MINIMIZED: set[str] = set()  # signatures this worker has already reduced (once is enough)


def _init(corpus: list[bytes], folder: str, hang_s: float) -> None:
    global _CORPUS, _PATH, _HANG
    _CORPUS, _HANG = corpus, hang_s
    _PATH = Path(tempfile.mkdtemp(prefix="w-", dir=folder)) / "fuzz.nysh"
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    if hang_s > 0:
        signal.signal(signal.SIGALRM, _on_alarm)


def chunk_inputs(seed: int, index: int, count: int, corpus: list[bytes]) -> list[bytes]:
    rng = random.Random(seed * 1_000_003 + index)
    return [mutate(rng.choice(corpus), rng) for _ in range(count)]


def _worker(task: tuple[int, int, int]) -> tuple[int, int, float, list[dict[str, str]]]:
    """Run chunk ``index``: (index, inputs, slowest input's seconds, failures)."""
    index, count, seed = task
    assert _PATH is not None
    failures: list[dict[str, str]] = []
    slowest = 0.0
    for data in chunk_inputs(seed, index, count, _CORPUS):
        t = time.perf_counter()
        failed = attempt(data, _PATH, _HANG)
        slowest = max(slowest, time.perf_counter() - t)
        if failed is None:
            continue
        sig, tb = failed
        small = data
        if sig not in _MINIMIZED:
            _MINIMIZED.add(sig)
            small = minimize(data, lambda d: (attempt(d, _PATH, _HANG) or ("",))[0] == sig)
        failures.append({"signature": sig, "traceback": tb, "input": data.hex(), "minimal": small.hex()})
    return index, count, slowest, failures


# --------------------------------------------------------------------------- the run


def _write_json(path: Path, value: object) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def save_failure(out: Path, failure: dict[str, str]) -> bool:
    """Record ``failure`` under ``out/failures/<signature>/``; True when it is a new one."""
    sig = failure["signature"]
    folder = out / "failures" / (sig.replace("@", "-").replace(":", "-")[:60] + "-"
                                 + hashlib.sha256(sig.encode()).hexdigest()[:8])
    new = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    count_file = folder / "count"
    n = int(count_file.read_text()) if count_file.exists() else 0
    count_file.write_text(str(n + 1))
    minimal = bytes.fromhex(failure["minimal"])
    best = folder / "minimal.nysh"
    if new or len(minimal) < best.stat().st_size:
        (folder / "input.nysh").write_bytes(bytes.fromhex(failure["input"]))
        best.write_bytes(minimal)
        (folder / "traceback.txt").write_text(f"{sig}\n\n{failure['traceback']}", encoding="utf-8")
    return new


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=100_000, help="inputs in the whole run")
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--generated", type=int, default=300, help="scripts drawn from the hypothesis strategy")
    ap.add_argument("--chunk", type=int, default=500, help="inputs per chunk (the unit of checkpointing)")
    ap.add_argument("--max-bytes", type=int, default=1600, help="leave out larger seeds (speed)")
    ap.add_argument("--hang", type=float, default=30.0, help="seconds after which one input is a failure (0: none)")
    ap.add_argument("--report", type=int, default=5000, help="print progress every N inputs")
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "nyeshc-fuzz",
                    help="the run's folder: state.json and failures/ (default: %(default)s)")
    ap.add_argument("--resume", action="store_true", help="go on with the run recorded in --out")
    args = ap.parse_args(argv)

    args.out.mkdir(parents=True, exist_ok=True)
    state_path = args.out / "state.json"
    params = {"version": STATE_VERSION, "seed": args.seed, "chunk": args.chunk,
              "generated": args.generated, "max_bytes": args.max_bytes}
    state = {"params": params, "count": args.count, "done": [], "inputs": 0, "failures": 0,
             "distinct": [], "seconds": 0.0, "slowest": 0.0, "sessions": 0}
    if state_path.exists():
        if not args.resume:
            print(f"{state_path} exists: pass --resume to go on with that run, or another --out", file=sys.stderr)
            return 2
        old = json.loads(state_path.read_text(encoding="utf-8"))
        if old["params"] != params:
            print(f"--resume: the recorded run used {old['params']}, not {params}", file=sys.stderr)
            return 2
        state.update(old, count=max(args.count, old["count"]))

    t0 = time.perf_counter()
    seeds_path = args.out / "seeds.json"  # a resumed run reuses the recorded seeds (no regeneration)
    if args.resume and seeds_path.exists():
        corpus = [bytes.fromhex(h) for h in json.loads(seeds_path.read_text(encoding="utf-8"))]
    else:
        corpus = seeds(args.generated, args.seed, args.max_bytes)
    digest = hashlib.sha256(b"\0".join(corpus)).hexdigest()[:16]
    if state.get("corpus", digest) != digest:
        print(f"--resume: the seeds differ from the recorded run's ({state['corpus']}, now {digest}: "
              "examples, snippets or the hypothesis strategy changed); start a new run in another --out",
              file=sys.stderr)
        return 2
    state["corpus"] = digest
    if not seeds_path.exists():
        _write_json(seeds_path, [c.hex() for c in corpus])
    print(f"{len(corpus)} seeds ({digest}) in {time.perf_counter() - t0:.1f} s", flush=True)

    n_chunks = -(-state["count"] // args.chunk)
    done = set(state["done"])
    tasks = [(k, min(args.chunk, state["count"] - k * args.chunk), args.seed)
             for k in range(n_chunks) if k not in done]
    if done:
        print(f"resuming: {state['inputs']} inputs done in {state['seconds']:.0f} s, "
              f"{len(tasks)} chunks to go", flush=True)
    state["sessions"] += 1
    session_inputs, t1 = 0, time.perf_counter()
    seconds_before = state["seconds"]
    next_report = (state["inputs"] // args.report + 1) * args.report
    interrupted = False
    scratch_root = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    with tempfile.TemporaryDirectory(prefix="nysh-fuzz-", dir=scratch_root) as folder:
        ctx = multiprocessing.get_context("spawn")
        pool = ctx.Pool(args.workers, initializer=_init, initargs=(corpus, folder, args.hang))
        try:
            for index, n, slowest, failed in pool.imap_unordered(_worker, tasks):
                session_inputs += n
                state["inputs"] += n
                state["done"].append(index)
                state["failures"] += len(failed)
                state["slowest"] = max(state["slowest"], slowest)
                for f in failed:
                    if save_failure(args.out, f):
                        state["distinct"].append(f["signature"])
                        print(f"  NEW FAILURE {f['signature']} (minimal input: {len(f['minimal']) // 2} bytes)",
                              flush=True)
                state["seconds"] = seconds_before + time.perf_counter() - t1
                _write_json(state_path, state)
                if state["inputs"] >= next_report:
                    next_report += args.report
                    rate = session_inputs / (time.perf_counter() - t1)
                    left = (state["count"] - state["inputs"]) / rate if rate else 0
                    print(f"  {state['inputs']}/{state['count']} inputs, {state['failures']} failures, "
                          f"{rate:.1f}/s, ~{left / 60:.0f} min left", flush=True)
            pool.close()
        except KeyboardInterrupt:
            interrupted = True
            pool.terminate()
            print("interrupted: the finished chunks are recorded; --resume goes on", file=sys.stderr)
        finally:
            pool.join()
    session = time.perf_counter() - t1
    print(f"this session: {session_inputs} inputs in {session:.1f} s "
          f"({session_inputs / session if session else 0:.1f}/s) with {args.workers} workers")
    print(f"fuzzed {state['inputs']}/{state['count']} inputs in {state['sessions']} session(s), "
          f"{state['seconds']:.0f} s in all ({state['inputs'] / max(state['seconds'], 1e-9):.1f}/s); "
          f"slowest input {state['slowest']:.2f} s; {state['failures']} failures, "
          f"{len(state['distinct'])} distinct" + (f" (see {args.out / 'failures'})" if state["failures"] else ""))
    if interrupted:
        return 130
    return 1 if state["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
