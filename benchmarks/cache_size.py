"""The example film's cache: its size and the full build's time, raw frames against compressed.

Builds ``examples/nyeshkerh.nysh`` through the CLI (``nyeshc build … -v``) on a fresh cache
once per frame codec (``NYESHC_FRAME_CODEC=raw``: frame sequences as raw ``.npy``, what every
cache held before; ``zstd``: compressed ``.nyf``, the default), alternating codecs in each
repeat so both see the same machine load. For each build: wall and CPU seconds (the CLI and its
workers), the ``-v`` split, the cache's size by job kind, and whether the films are the same
bytes (the compositor must draw the same frames from either cache).

    python benchmarks/cache_size.py [--repeat 1] [--canvas 640x360] [--codecs raw,zstd]

``--canvas`` rewrites the script's ``canvas:`` line (a smaller film for a quick look).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VERBOSE = re.compile(r"check \+ plan ([\d.]+) s, jobs ([\d.]+) s, render \+ encode ([\d.]+) s")
FRAMES = ("image.morph", "motion.lipsync", "motion.still", "motion.drive", "asset.video")


def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def sizes(cache: Path) -> dict[str, int]:
    by_kind: dict[str, int] = defaultdict(int)
    for meta in (cache / "objects").glob("*/*.json"):
        rec = json.loads(meta.read_text())
        by_kind[rec.get("kind", "?")] += int(rec.get("size", 0))
    return dict(by_kind)


def build(script: Path, codec: str) -> dict[str, object]:
    folder = script.parent
    env = {**os.environ, "NYESHC_FRAME_CODEC": codec}
    cmd = [sys.executable, "-m", "nyeshc.cli", "build", script.name, "-o", "out.mp4", "-v", "--cache", "cache"]
    t, c = time.perf_counter(), children_cpu()
    proc = subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - t, children_cpu() - c
    if proc.returncode != 0:
        raise SystemExit(f"build failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    m = VERBOSE.search(proc.stderr)
    by_kind = sizes(folder / "cache")
    digest = hashlib.sha256((folder / "out.mp4").read_bytes()).hexdigest()
    return {"wall": wall, "cpu": cpu, "split": [float(x) for x in m.groups()] if m else None,
            "total": sum(by_kind.values()), "frames": sum(v for k, v in by_kind.items() if k in FRAMES),
            "by_kind": by_kind, "mp4": digest}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--script", default=str(ROOT / "examples" / "nyeshkerh.nysh"))
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--canvas", help="e.g. 640x360: replaces the script's canvas size")
    ap.add_argument("--codecs", default="raw,zstd")
    args = ap.parse_args()
    text = Path(args.script).read_text(encoding="utf-8")
    if args.canvas:
        text, n = re.subn(r"(?m)^canvas:\s*\d+x\d+", f"canvas: {args.canvas}", text)
        if n != 1:
            raise SystemExit("no canvas: line to rewrite")
    codecs = args.codecs.split(",")
    print(f"{Path(args.script).name}{' at ' + args.canvas if args.canvas else ''}; {os.cpu_count()} cores; "
          f"load average {load()}", flush=True)
    runs: dict[str, list[dict[str, object]]] = defaultdict(list)
    for r in range(args.repeat):
        for codec in codecs if r % 2 == 0 else codecs[::-1]:
            tmp = Path(tempfile.mkdtemp(prefix="nyeshc-bench-cache-"))
            try:
                script = tmp / Path(args.script).name
                script.write_text(text, encoding="utf-8")
                res = build(script, codec)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            runs[codec].append(res)
            split = res["split"]
            print(f"  run {r + 1} {codec:5}: {res['wall']:.1f} s wall, {res['cpu']:.1f} s CPU"
                  + (f" (plan {split[0]:.2f}, jobs {split[1]:.1f}, render + encode {split[2]:.1f})" if split else "")
                  + f"; cache {res['total'] / 1e6:.1f} MB (frames {res['frames'] / 1e6:.1f} MB); "
                  f"load average {load()}", flush=True)
    print()
    print(f"{'codec':6} {'cache MB':>9} {'frames MB':>10} {'wall s':>8} {'CPU s':>8}  (medians)")
    for codec in codecs:
        rs = runs[codec]
        print(f"{codec:6} {statistics.median(x['total'] for x in rs) / 1e6:9.1f} "
              f"{statistics.median(x['frames'] for x in rs) / 1e6:10.1f} "
              f"{statistics.median(x['wall'] for x in rs):8.1f} {statistics.median(x['cpu'] for x in rs):8.1f}")
    last = {codec: runs[codec][-1] for codec in codecs}
    kinds = sorted({k for r in last.values() for k in r["by_kind"]}, key=lambda k: -max(r["by_kind"].get(k, 0) for r in last.values()))
    print("\nby kind (MB): " + ", ".join(codecs))
    for k in kinds:
        print(f"  {k:18} " + "  ".join(f"{last[c]['by_kind'].get(k, 0) / 1e6:9.2f}" for c in codecs))
    digests = {r["mp4"] for rs in runs.values() for r in rs}
    print(f"\nfilms byte-identical across codecs and runs: {'yes' if len(digests) == 1 else 'NO'}")
    print(f"load average {load()}")


if __name__ == "__main__":
    main()
