"""How fast this machine is against the one the cost models were fitted on (#22).

The backends' cost models and the render's (:mod:`nyeshc.render.cost`) give seconds on the
machine they were fitted on. On another machine a plan was off by that machine's speed until a
first build measured it (:mod:`nyeshc.execute.measured`): on the faster machine of 2026-12-04
every fresh estimate was about twice the build. :func:`speed` runs a short benchmark of the work
a build does most — numpy arithmetic over a frame (a CPPN layer, a blend), Pillow resizing a
frame, zstd compressing frame differences, a Python loop as the per-frame bookkeeping — about
0.1 s, once per cache folder (the result is kept in ``measured.json`` beside the builds' own
figures, with the machine it was measured on), and returns its time over :data:`REFERENCE`.
``nyeshc plan`` scales by it every estimate that no build has measured yet.

:data:`REFERENCE` was not measured on the models' machine (no longer available): it is this
benchmark's time on the machine of 2026-12-04 divided by what builds measured there against the
models' estimates (0.5: the example film and the three tour films from fresh caches,
``benchmarks/RESULTS.md`` §16).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from nyeshc.world import atomic_write_text

__all__ = ["REFERENCE", "benchmark", "identity", "speed"]

REFERENCE = 0.0234
"""Seconds :func:`benchmark` takes on the machine the cost models were fitted on (see the module
docstring for how it was found)."""
LOWEST, HIGHEST = 0.05, 20.0


def identity() -> str:
    """What the benchmark's result depends on: the processor, the cores, Python's and numpy's
    versions. A result measured under another identity is measured again."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{cpu}; {os.cpu_count()} cores; Python {platform.python_version()}; numpy {np.__version__}"


def _work(rng: np.random.Generator) -> None:
    from PIL import Image

    import zstandard

    x = rng.standard_normal((128 * 128, 6)).astype(np.float32)
    for w in (rng.standard_normal((6, 16)), rng.standard_normal((16, 16)), rng.standard_normal((16, 3))):
        x = np.tanh(x @ w.astype(np.float32))
    frame = (np.abs(x.reshape(128, 128, 3)) * 255).astype(np.uint8)
    big = np.asarray(Image.fromarray(frame).resize((640, 360), Image.Resampling.BILINEAR))
    blend = (big.astype(np.uint16) * 3 + 255) // 4
    deltas = np.diff(np.stack([big, blend.astype(np.uint8), big]), axis=0)
    zstandard.ZstdCompressor(level=3).compress(deltas.tobytes())
    y, k = 0.0, 0.3
    for v in x[:20_000, 0].tolist():
        y += k * (v - y)


def benchmark(repeat: int = 3) -> float:
    """The least of ``repeat`` timings of the benchmark, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        rng = np.random.default_rng(22)
        start = time.perf_counter()
        _work(rng)
        best = min(best, time.perf_counter() - start)
    return best


def _stored(path: Path) -> dict[str, Any]:
    with contextlib.suppress(OSError, ValueError):
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict):
            return data
    return {}


def speed(root: str | Path | None, *, name: str = "measured.json") -> float:
    """This machine's time for the cost models' work, as a factor of the models' (0.5: twice as
    fast), held within [``LOWEST``, ``HIGHEST``]. Kept in ``root/name`` (``"machine"``) with
    :func:`identity` when ``root`` is a folder; measured again when the identity differs."""
    path = Path(root) / name if root is not None else None
    here = identity()
    data = _stored(path) if path is not None else {}
    seconds = None
    kept = data.get("machine")
    if isinstance(kept, dict) and kept.get("identity") == here:
        with contextlib.suppress(TypeError, ValueError):
            seconds = float(kept["seconds"])
    if seconds is None or not seconds > 0:
        seconds = benchmark()
        if path is not None and path.parent.is_dir():
            data = _stored(path) or {"version": 1, "groups": {}}
            data["machine"] = {"identity": here, "seconds": round(seconds, 5)}
            with contextlib.suppress(OSError):  # a read-only cache: measured again next time
                atomic_write_text(path, json.dumps(data, indent=1, sort_keys=True) + "\n")
    return min(HIGHEST, max(LOWEST, seconds / REFERENCE))
