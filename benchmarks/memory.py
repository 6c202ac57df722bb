"""Peak memory of rendering a long 1080p film: set by the canvas, not by the film's length?

Builds a synthetic ``--minutes`` (default 10) 1920x1080 24 fps timeline (``synthetic.py``: a
scene every 30 s alternating a Ken Burns still (two 2430x1368 images, zoom and pan, a 256²
RGBA face upscaled into a box) with a full-canvas morph sequence of 48 frames looped, a caption
per scene with fades, 1 s crossfades, a ducked stereo music clip as long as the film and a
dialogue line every third scene), then renders it with ``render_film`` in a **separate
process** that runs only the render, and reports:

* the render process's peak RSS (``VmHWM`` of ``/proc/self/status`` at the end) and its
  sampled (every 0.2 s) peaks of anonymous memory (heap: what may grow with the film) and
  file-backed memory (memory-mapped artifacts: page cache, reclaimable);
* ffmpeg's peak RSS (the largest ``VmHWM`` seen among the render process's children — the
  encoders and, segmented, the assembly) and the sampled peak of the render process + its
  ffmpeg children together;
* ``getrusage`` figures for reference only: on Linux ``ru_maxrss`` survives fork + exec, so a
  child process starts with its parent's peak (the render process inherits this script's, and
  every ffmpeg the render process's at the moment it was started): ``RUSAGE_CHILDREN`` cannot
  tell ffmpeg's own peak apart. The first 10-minute run here reported 1321 MiB for both.

Target (DESIGN.md): a 10-minute 1080p film under 1 GB. Memory, not speed, is measured, so the
encoder runs with ``--preset ultrafast`` by default (medium would take about as many minutes as
the film on 2 cores and the same memory apart from x264's own lookahead/reference buffers —
ffmpeg's figure is printed separately for that reason). ``--mode segments`` (default) is what
``nyeshc build`` does; ``--mode stream`` is ``render_film(use_segments=False)``.

    python benchmarks/memory.py [--minutes 10] [--preset ultrafast] [--mode segments|stream] [--height 1080]
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

PAGE = os.sysconf("SC_PAGE_SIZE")


def _status(pid: int) -> dict[str, int]:
    """VmRSS / RssAnon / RssFile / RssShmem of ``pid`` in bytes (empty when it is gone)."""
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem", "VmHWM"):
                    out[key] = int(rest.split()[0]) * 1024
    except OSError:
        pass
    return out


def _children(pid: int) -> list[int]:
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            kids.append(int(entry))
    return kids


class Sampler(threading.Thread):
    """Polls this process and its children; keeps the peaks."""

    def __init__(self, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.stop = threading.Event()
        self.peak: dict[str, int] = {"anon": 0, "file": 0, "self": 0, "ffmpeg": 0, "ffmpeg_anon": 0, "total": 0}
        self.samples = 0

    def run(self) -> None:
        me = os.getpid()
        while not self.stop.is_set():
            s = _status(me)
            kids = [_status(k) for k in _children(me)]
            ff = sum(k.get("VmRSS", 0) for k in kids)
            p0 = self.peak
            p0["ffmpeg_hwm"] = max(p0.get("ffmpeg_hwm", 0), max((k.get("VmHWM", 0) for k in kids), default=0))
            ff_anon = sum(k.get("RssAnon", 0) for k in kids)
            p = self.peak
            p["anon"] = max(p["anon"], s.get("RssAnon", 0))
            p["file"] = max(p["file"], s.get("RssFile", 0) + s.get("RssShmem", 0))
            p["self"] = max(p["self"], s.get("VmRSS", 0))
            p["ffmpeg"] = max(p["ffmpeg"], ff)
            p["ffmpeg_anon"] = max(p["ffmpeg_anon"], ff_anon)
            p["total"] = max(p["total"], s.get("VmRSS", 0) + ff)
            self.samples += 1
            self.stop.wait(self.interval)


def child(args: argparse.Namespace) -> None:
    """The measured process: load the timeline, render, print JSON figures."""
    from nyeshc.execute.cache import Cache
    from nyeshc.render import render_film

    with open(args.child, "rb") as fh:
        timeline = pickle.load(fh)
    cache = Cache(args.cache)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    sampler = Sampler()
    sampler.start()
    t = time.perf_counter()
    render_film(timeline, cache, args.out, preset=args.preset, crf=args.crf, use_segments=args.mode == "segments")
    wall = time.perf_counter() - t
    sampler.stop.set()
    sampler.join()
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"wall": wall, "maxrss_self": me.ru_maxrss * 1024, "maxrss_children": kids.ru_maxrss * 1024,
                      "hwm_self": _status(os.getpid()).get("VmHWM", 0),
                      "rss_after_imports": base, "cpu_self": me.ru_utime + me.ru_stime,
                      "cpu_children": kids.ru_utime + kids.ru_stime, "sampled": sampler.peak,
                      "samples": sampler.samples}))


def mb(n: float) -> str:
    return f"{n / 2**20:7.0f} MiB"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--height", type=int, default=1080, help="canvas height (16:9; default 1080)")
    ap.add_argument("--preset", default="ultrafast", help="x264 preset (default ultrafast: memory is measured)")
    ap.add_argument("--crf", type=int, default=20)
    ap.add_argument("--mode", choices=("segments", "stream"), default="segments")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--cache", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return

    import synthetic
    from nyeshc.execute.cache import Cache

    height = args.height // 2 * 2
    width = round(height * 16 / 9) // 2 * 2
    seconds = args.minutes * 60
    tmp = Path(tempfile.mkdtemp(prefix="nyeshc-bench-memory-"))
    try:
        cache = Cache(tmp / "cache")
        t = time.perf_counter()
        timeline, _ = synthetic.build(cache, seconds=seconds, width=width, height=height,
                                      scenes=max(3, round(seconds / 30)), morph_frames=48)
        del _
        made = time.perf_counter() - t
        size = sum(e.record["size"] for e in cache.entries())
        print(f"timeline: {timeline.frames} frames of {width}x{height} at {timeline.fps} fps, "
              f"{len(timeline.scenes)} scenes, {len(timeline.audio)} audio clips; artifacts {size / 2**20:.0f} MiB "
              f"made in {made:.1f} s (not measured)")
        pkl = tmp / "timeline.pkl"
        with open(pkl, "wb") as fh:
            pickle.dump(timeline, fh)
        print(f"rendering in a subprocess: mode {args.mode}, libx264 -preset {args.preset} -crf {args.crf} "
              f"(load average {', '.join(f'{x:.2f}' for x in os.getloadavg())})", flush=True)
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, __file__, "--child", str(pkl), "--cache", str(cache.root),
                               "--out", str(tmp / "film.mp4"), "--preset", args.preset, "--crf", str(args.crf),
                               "--mode", args.mode], capture_output=True, text=True)
        wall = time.perf_counter() - t
        if proc.returncode != 0:
            raise SystemExit(f"render failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        r: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
        outer = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
        import imageio_ffmpeg

        n, secs = imageio_ffmpeg.count_frames_and_secs(str(tmp / "film.mp4"))
        s = r["sampled"]
        print(f"rendered {n} frames ({secs:.0f} s) in {r['wall']:.0f} s ({n / r['wall']:.1f} fps; subprocess {wall:.0f} s); "
              f"cpu: render process {r['cpu_self']:.0f} s, ffmpeg {r['cpu_children']:.0f} s "
              f"(load average {', '.join(f'{x:.2f}' for x in os.getloadavg())})")
        print()
        print(f"render process peak RSS (VmHWM, since its exec):          {mb(r['hwm_self'])}   (target < 1 GiB)")
        print(f"  sampled peaks: RSS {mb(s['self'])} = anonymous (heap) up to {mb(s['anon'])} + file-backed "
              f"(mmapped artifacts) up to {mb(s['file'])}")
        print(f"ffmpeg peak RSS (VmHWM of the largest child, sampled):   {mb(s.get('ffmpeg_hwm', 0))}   "
              f"(sampled RSS of all children {mb(s['ffmpeg'])}, anonymous {mb(s['ffmpeg_anon'])})")
        print(f"render process + ffmpeg together, sampled peak:         {mb(s['total'])}")
        print("getrusage ru_maxrss, for reference (Linux keeps ru_maxrss across fork + exec, so a child "
              "starts with its parent's peak):")
        print(f"  render process RUSAGE_SELF {mb(r['maxrss_self'])} (was {mb(r['rss_after_imports'])} before "
              f"rendering); its RUSAGE_CHILDREN (ffmpeg) {mb(r['maxrss_children'])}; this script's "
              f"RUSAGE_CHILDREN {mb(outer)}")
        print(f"({r['samples']} samples at 0.2 s)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
