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

Two more cases (issue #24) measure real screenplays through the real pipeline, each source tree
in its own processes (``--tree DIR`` for the tree under test, ``--baseline DIR`` for the one to
compare with, e.g. ``git archive <commit> | tar -x -C DIR``; both run in the same session):

``--case screenplay`` imports a Fountain screenplay (default: *Hamlet, the ramparts*, the CC0
adaptation in ``tests/data/fountain/``; any other whose licence allows, with ``--fountain``)
with ``nyeshc import --canvas WxH`` and, per canvas height (``--heights 720,1080``), runs
``nyeshc build`` on a fresh cache (jobs + render: the full build) and again with every job
cached and the segments and the mix removed (``--preset veryfast``: the render stage alone; each
tree on a cache of its own, since the trees' job keys differ), under a sampler of the whole
process tree (every 0.2 s, ``/proc``): the peak RSS (``VmHWM``) of the ``nyeshc`` process, of
its job workers and of ffmpeg, and how much of each peak was anonymous memory and how much
file-backed (pages of memory-mapped files).
``--profile`` adds, per tree, the ``tracemalloc`` peaks of each render stage (the mix, each
segment's frames, the assembly) and of the largest job of each kind, each job alone in a fresh
worker-like process.

``--case hour`` generates a screenplay of ``--characters 20`` and ``--beats 600`` (``long_film.py``:
an hour once imported), cuts it into films of ``--cuts 5,15,60`` minutes (10 beats a minute,
whole scenes) and renders each cut's render stage (segments, mix, assembly) in a process of its
own. Every job but the motion (lip-sync) ones runs for real (the executor's workers are measured
too: 1,800 jobs); the motion sequences, which would take an hour of CPU and tens of GB here, are
*stood in* by one sequence per portrait size, as long as the longest shot of that size, made
from a synthetic face and stored by the tree's own cache (so read the way the tree reads
frames). The render reads through an overlay cache: stand-ins for motion keys, the shared job
cache for the rest, a fresh folder for what the render writes (segments, mix), so every run
composes, encodes and mixes everything.

    python benchmarks/memory.py --case screenplay [--fountain F] [--heights 720,1080] --tree A --baseline B
    python benchmarks/memory.py --case hour [--cuts 5,15,60] [--heights 720] --tree A --baseline B
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
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
from collections.abc import Iterator
from typing import Any

import numpy as np

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
    from nyeshc.execute import Cache
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


# =========================================================================== real screenplays (#24)

ROLES = ("nyeshc", "workers", "ffmpeg")
HERE = Path(__file__).resolve().parent
SCREENPLAY = HERE.parent / "tests" / "data" / "fountain" / "Hamlet-Ramparts.fountain"  # CC0 (its README)


def _cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return [p.decode("utf-8", "replace") for p in fh.read().split(b"\0") if p]
    except OSError:
        return []


def _descendants(root: int) -> list[int]:
    parent: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    parent[int(entry)] = int(fh.read().rpartition(")")[2].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += [c for c, pp in parent.items() if pp == p]
    return out


class TreeSampler(threading.Thread):
    """Samples a process and all its descendants every ``interval`` s: per process the peaks of
    VmHWM, RSS, anonymous and file-backed (+ shmem) resident memory."""

    def __init__(self, root: int, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.root, self.interval = root, interval
        self.stop = threading.Event()
        self.procs: dict[int, dict[str, Any]] = {}

    def run(self) -> None:
        t0 = time.monotonic()
        while not self.stop.is_set():
            for pid in _descendants(self.root):
                s = _status(pid)
                if not s:
                    continue
                p = self.procs.get(pid)
                if p is None:
                    cmd = _cmdline(pid)
                    role = "nyeshc" if pid == self.root else \
                        "ffmpeg" if cmd and "ffmpeg" in os.path.basename(cmd[0]) else "workers"
                    p = self.procs[pid] = {"role": role, "hwm": 0, "rss": 0, "anon": 0, "file": 0,
                                           "first": time.monotonic() - t0}
                p["hwm"] = max(p["hwm"], s.get("VmHWM", 0))
                p["rss"] = max(p["rss"], s.get("VmRSS", 0))
                p["anon"] = max(p["anon"], s.get("RssAnon", 0))
                p["file"] = max(p["file"], s.get("RssFile", 0) + s.get("RssShmem", 0))
                p["last"] = time.monotonic() - t0
            self.stop.wait(self.interval)

    def roles(self) -> dict[str, dict[str, Any]]:
        """Per role: the largest peak of one process (``hwm``), that process's anonymous and
        file-backed peaks, and how many processes there were."""
        out: dict[str, dict[str, Any]] = {}
        for p in self.procs.values():
            r = out.setdefault(p["role"], {"hwm": 0, "anon": 0, "file": 0, "n": 0})
            r["n"] += 1
            if max(p["hwm"], p["rss"]) > r["hwm"]:
                r.update(hwm=max(p["hwm"], p["rss"]), anon=p["anon"], file=p["file"])
        return out


def watched(cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
            quiet: bool = True) -> dict[str, Any]:
    """Run ``cmd`` under a :class:`TreeSampler`; its wall time, exit code, roles, load."""
    load0 = os.getloadavg()[0]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE if quiet else None,
                            stderr=subprocess.PIPE, text=True)
    sampler = TreeSampler(proc.pid)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - t
    sampler.stop.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[-6:])} failed ({proc.returncode}):\n{(err or '')[-3000:]}")
    return {"wall": wall, "roles": sampler.roles(), "load": (load0, os.getloadavg()[0]),
            "stdout": out or "", "stderr": err or ""}


def tree_env(tree: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.fspath(tree) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("NYESHC_FRAME_CODEC", None)
    return env


def nyeshc(tree: Path, *args: str) -> list[str]:
    """The command line of ``nyeshc ARGS`` run from the source tree ``tree``."""
    return [sys.executable, "-c", "import sys; from nyeshc.cli import main; sys.exit(main())", *args]


def canvas_of(height: int) -> tuple[int, int]:
    h = height // 2 * 2
    return round(h * 16 / 9) // 2 * 2, h


def drop_rendered(tree: Path, cache: Path) -> int:
    """Remove the cached segments and mix (so the next build renders everything again)."""
    code = ("import sys; from nyeshc.execute import Cache; c = Cache(sys.argv[1]); n = 0\n"
            "for e in list(c.entries()):\n"
            "    if e.record.get('kind') in ('render.segment', 'render.mix'): c.discard(e.key); n += 1\n"
            "print(n)")
    out = subprocess.run([sys.executable, "-c", code, os.fspath(cache)], env=tree_env(tree), check=True,
                         capture_output=True, text=True)
    return int(out.stdout.strip() or 0)


def du(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, f)).st_blocks * 512
    return total


def row(label: str, r: dict[str, Any]) -> str:
    """One table row: the peak (VmHWM) of each role, anonymous / file-backed at that process."""
    cells = []
    for role in ROLES:
        x = r["roles"].get(role)
        cells.append("–" if x is None else f"**{x['hwm'] / 2**20:.0f}** ({x['anon'] / 2**20:.0f} / {x['file'] / 2**20:.0f})")
    return f"| {label} | " + " | ".join(cells) + f" | {r['wall']:.0f} s | {r['load'][0]:.1f}–{r['load'][1]:.1f} |"


HEADER = ("| run | nyeshc process: peak MiB (anon / file) | job workers: largest | ffmpeg: largest | wall | load |\n"
          "|---|---|---|---|---|---|")


def trees_of(args: argparse.Namespace) -> list[tuple[str, Path]]:
    trees = []
    if args.baseline:
        trees.append(("baseline", Path(args.baseline).resolve()))
    trees.append(("tree", Path(args.tree).resolve()))
    return trees


def import_film(tree: Path, fountain: Path, out: Path, height: int) -> None:
    w, h = canvas_of(height)
    subprocess.run(nyeshc(tree, "import", os.fspath(fountain), "-o", os.fspath(out), "--force", "-q",
                          "--canvas", f"{w}x{h}, 24fps"), env=tree_env(tree), check=True)


def screenplay_case(args: argparse.Namespace) -> None:
    fountain = Path(args.fountain).resolve()
    trees = trees_of(args)
    work = Path(tempfile.mkdtemp(prefix="nyeshc-bench-screenplay-", dir=args.scratch))
    print(f"screenplay {fountain.name}; trees: " + ", ".join(f"{k} = {v}" for k, v in trees))
    try:
        for height in [int(x) for x in args.heights.split(",")]:
            film = work / f"film{height}.nysh"
            import_film(trees[-1][1], fountain, film, height)
            plan = subprocess.run(nyeshc(trees[-1][1], "plan", os.fspath(film), "--max-disk", "10T"),
                                  env=tree_env(trees[-1][1]), capture_output=True, text=True)
            head = plan.stdout.splitlines()[0] if plan.stdout else ""
            jobs = sum(1 for line in plan.stdout.splitlines() if "  to run" in line or "cpu  to run" in line)
            print(f"\n### {height}p: {head.strip()} ({jobs} jobs)\n")
            print(HEADER, flush=True)
            shown = set(args.full.split(",")) if args.full else {label for label, _ in trees}
            for label, tree in trees:  # each tree on a cache of its own (job keys differ between trees)
                cache = work / f"cache-{height}-{label}"
                r = watched(nyeshc(tree, "build", os.fspath(film), "-o", os.fspath(work / "full.mp4"),
                                   "--cache", os.fspath(cache), "--max-disk", "10T", "-q"), env=tree_env(tree))
                if label in shown:
                    print(row(f"{label}: full build (fresh cache, {du(cache) / 2**30:.1f} GiB)", r), flush=True)
                drop_rendered(tree, cache)
                r = watched(nyeshc(tree, "build", os.fspath(film), "-o", os.fspath(work / "render.mp4"),
                                   "--cache", os.fspath(cache), "--max-disk", "10T", "-q",
                                   "--preset", "veryfast"), env=tree_env(tree))
                print(row(f"{label}: render stage alone (jobs cached, veryfast)", r), flush=True)
                if args.profile:
                    profile_render(tree, film, cache, work, label)
                    profile_jobs(tree, film, cache, label)
                shutil.rmtree(cache, ignore_errors=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"(kept {work})")


# ----------------------------------------------------------------------------- children


def child_plan(args: argparse.Namespace) -> None:
    """Plan ``args.script`` with this tree; pickle the timeline and the jobs (kind, key, output,
    params, inputs) to ``args.out``."""
    from nyeshc.pipeline import prepare

    class Report:
        def problem(self, text: str) -> None:
            print(text, file=sys.stderr)

        def detail(self, text: str) -> None:
            print(text, file=sys.stderr)

        def diagnostics(self, diags: Any, sources: Any) -> None:
            for d in diags:
                if getattr(d, "is_error", False):
                    print(d.message, file=sys.stderr)

    prepared = prepare(args.script, Report(), max_disk=10**15)
    with open(args.out, "wb") as fh:
        pickle.dump({"timeline": prepared.plan.timeline, "plan": prepared.plan}, fh)


def child_jobs(args: argparse.Namespace) -> None:
    """Run every job of the pickled plan whose kind is not ``motion.*`` (``args.cache``)."""
    import dataclasses

    from nyeshc.execute import Cache, execute

    with open(args.child_jobs, "rb") as fh:
        plan = pickle.load(fh)["plan"]
    keep = tuple(j for j in plan.jobs if not j.kind.startswith("motion."))
    execute(dataclasses.replace(plan, jobs=keep), Cache(args.cache), progress=False)
    print(json.dumps({"jobs": len(keep)}))


def _overlay(scratch: str, shared: str, standins: dict[str, str]) -> Any:
    from nyeshc.execute import Cache

    class Overlay(Cache):
        """Writes (segments, the mix) to ``scratch``; reads from there, else from the shared job
        cache, with motion keys read as their stand-ins."""

        def __init__(self) -> None:
            super().__init__(scratch)
            self.shared = Cache(shared)

        def get(self, key: str, **kw: Any) -> Any:
            if key in standins:
                return self.shared.get(standins[key], **kw)
            got = super().get(key, **kw)
            if got is not None:
                return got
            record = self.shared.record(key) or {}
            if record.get("kind") in ("render.segment", "render.mix"):  # rendered again here
                return None
            return self.shared.get(key, **kw)

    return Overlay()


def child_render(args: argparse.Namespace) -> None:
    """Render a pickled timeline through an overlay cache; with ``--profile``, tracemalloc peaks
    per stage (the mix, each segment, the assembly) and /proc figures at each stage's end."""
    from nyeshc.render import segments
    from nyeshc.render import render_film

    with open(args.child_render, "rb") as fh:
        timeline = pickle.load(fh)["timeline"]
    with open(args.standins) as fh:
        standins = json.load(fh)
    cache = _overlay(args.cache, args.shared, standins)
    stages: dict[str, Any] = {"segments": []}
    if args.profile:
        import tracemalloc

        tracemalloc.start()
        real_mix, real_encoder, real_ffmpeg = segments.mix, segments.Encoder, segments.run_ffmpeg

        def mix(*a: Any, **kw: Any) -> Any:
            tracemalloc.reset_peak()
            out = real_mix(*a, **kw)
            stages["mix"] = {"traced": tracemalloc.get_traced_memory()[1], **_status(os.getpid())}
            return out

        class Encoder(real_encoder):  # type: ignore[misc,valid-type]
            def __init__(self, *a: Any, **kw: Any) -> None:
                tracemalloc.reset_peak()
                super().__init__(*a, **kw)

            def end_input(self) -> None:
                stages["segments"].append(tracemalloc.get_traced_memory()[1])
                super().end_input()

        def run_ffmpeg(*a: Any, **kw: Any) -> None:
            stages["assembly"] = {"traced": tracemalloc.get_traced_memory()[1], **_status(os.getpid())}
            real_ffmpeg(*a, **kw)

        segments.mix, segments.Encoder, segments.run_ffmpeg = mix, Encoder, run_ffmpeg
    t = time.perf_counter()
    render_film(timeline, cache, args.out, preset=args.preset, crf=args.crf)
    print(json.dumps({"wall": time.perf_counter() - t, "frames": timeline.frames, "stages": stages,
                      "end": _status(os.getpid())}))


def child_job(args: argparse.Namespace) -> None:
    """Run one pickled job (``_work``) against ``args.cache`` with tracemalloc on."""
    import tracemalloc

    from nyeshc.execute.local import _work

    with open(args.child_job, "rb") as fh:
        job = pickle.load(fh)
    sampler = Sampler()
    sampler.start()
    tracemalloc.start()
    t = time.perf_counter()
    outcome = _work(job, args.cache, frozenset())
    traced = tracemalloc.get_traced_memory()[1]
    sampler.stop.set()
    sampler.join()
    print(json.dumps({"outcome": outcome[0], "seconds": time.perf_counter() - t, "traced": traced,
                      "hwm": _status(os.getpid()).get("VmHWM", 0), "anon": sampler.peak["anon"],
                      "file": sampler.peak["file"]}))


def plan_pickle(tree: Path, film: Path, out: Path) -> dict[str, Any]:
    subprocess.run([sys.executable, __file__, "--child-plan", os.fspath(film), "--out", os.fspath(out)],
                   env=tree_env(tree), check=True)
    with open(out, "rb") as fh:
        return pickle.load(fh)  # type: ignore[no-any-return]


def profile_render(tree: Path, film: Path, cache: Path, work: Path, label: str) -> None:
    """tracemalloc per render stage of ``film`` (jobs cached in ``cache``), in a fresh process."""
    data = plan_pickle(tree, film, work / "plan.pkl")
    del data
    (work / "none.json").write_text("{}")
    scratch = work / "scratch-profile"
    shutil.rmtree(scratch, ignore_errors=True)
    r = watched([sys.executable, __file__, "--child-render", os.fspath(work / "plan.pkl"), "--standins",
                 os.fspath(work / "none.json"), "--cache", os.fspath(scratch), "--shared", os.fspath(cache),
                 "--out", os.fspath(work / "profile.mp4"), "--preset", "veryfast", "--profile"], env=tree_env(tree))
    shutil.rmtree(scratch, ignore_errors=True)
    st = json.loads(r["stdout"].strip().splitlines()[-1])["stages"]
    segs = st.get("segments") or [0]
    m = st.get("mix", {})
    a = st.get("assembly", {})
    print(f"| {label}: tracemalloc per render stage | mix {m.get('traced', 0) / 2**20:.0f} MiB (anon "
          f"{m.get('RssAnon', 0) / 2**20:.0f} / file {(m.get('RssFile', 0)) / 2**20:.0f} after) | segments: "
          f"max {max(segs) / 2**20:.0f}, median {sorted(segs)[len(segs) // 2] / 2**20:.0f} MiB of {len(segs)} | "
          f"assembly {a.get('traced', 0) / 2**20:.0f} MiB | {r['wall']:.0f} s | |", flush=True)


def profile_jobs(tree: Path, film: Path, cache: Path, label: str) -> None:
    """The largest job of each kind, alone in a fresh process with tracemalloc (as a worker)."""
    with tempfile.TemporaryDirectory() as tmp:
        plan = plan_pickle(tree, film, Path(tmp) / "plan.pkl")["plan"]
        biggest: dict[str, Any] = {}
        for job in plan.jobs:
            try:
                size = float(job.params.get("frames", 0) or 0) * float(job.params.get("size", 1) or 1) ** 2
            except (TypeError, ValueError):
                size = 0.0
            size += float(getattr(job, "cost_seconds", 0) or 0)
            if job.kind not in biggest or size > biggest[job.kind][0]:
                biggest[job.kind] = (size, job)
        cells = []
        for kind in sorted(biggest):
            job = biggest[kind][1]
            path = Path(tmp) / "job.pkl"
            with open(path, "wb") as fh:
                pickle.dump(job, fh)
            out = subprocess.run([sys.executable, __file__, "--child-job", os.fspath(path), "--cache",
                                  os.fspath(cache)], env=tree_env(tree), capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            what = f"{job.params.get('frames')}×{job.params.get('size')}²" if "frames" in job.params else ""
            cells.append(f"{kind} {what} {r['traced'] / 2**20:.0f} traced / {r['hwm'] / 2**20:.0f} peak "
                         f"({r['anon'] / 2**20:.0f} / {r['file'] / 2**20:.0f})")
        print(f"| {label}: largest job of each kind, alone (MiB) | " + "; ".join(cells) + " | | | | |", flush=True)


# ----------------------------------------------------------------------------- the hour


def _standin_frames(n: int, size: int) -> Iterator[np.ndarray]:
    import synthetic

    face = synthetic.face_sequence(48, size)
    for i in range(n):
        yield face[i % 48]


def make_standins(tree: Path, cache: Path, plans: list[Any], out: Path) -> dict[str, str]:
    """One stand-in frame sequence per motion size, as long as that size's longest shot, stored
    by ``tree``'s cache; returns motion key → stand-in key (also written to ``out``)."""
    longest: dict[int, int] = {}
    motion: dict[str, int] = {}
    for plan in plans:
        for job in plan.jobs:
            if job.kind.startswith("motion."):
                size = int(job.params.get("size") or 512)
                motion[job.key] = size
                longest[size] = max(longest.get(size, 0), int(job.params.get("frames", 1)))
    keys = {size: hashlib.sha256(f"benchmark/standin/{size}/{n}".encode()).hexdigest()
            for size, n in longest.items()}
    spec = json.dumps({keys[s]: [longest[s], s] for s in longest})
    code = ("import sys, json; sys.path.insert(0, sys.argv[3]); import numpy as np\n"
            "from nyeshc.execute import Cache\nimport memory\nc = Cache(sys.argv[1])\n"
            "for key, (n, size) in json.loads(sys.argv[2]).items():\n"
            "    if c.has(key): continue\n"
            "    with c.writer(key, (n, size, size, 4), np.uint8, kind='motion.lipsync') as out:\n"
            "        for i, frame in enumerate(memory._standin_frames(n, size)): out[i] = frame\n")
    subprocess.run([sys.executable, "-c", code, os.fspath(cache), spec, os.fspath(HERE)], env=tree_env(tree),
                   check=True)
    standins = {k: keys[size] for k, size in motion.items()}
    out.write_text(json.dumps(standins))
    print(f"stand-ins: {', '.join(f'{longest[s]} frames of {s}²' for s in sorted(longest))} "
          f"for {len(motion)} motion jobs", flush=True)
    return standins


def timeline_fps(work: Path, minutes: float, height: int) -> float:
    with open(work / f"cut{minutes:g}-{height}.pkl", "rb") as fh:
        return float(pickle.load(fh)["timeline"].fps)


def hour_case(args: argparse.Namespace) -> None:
    import long_film

    trees = trees_of(args)
    work = Path(tempfile.mkdtemp(prefix="nyeshc-bench-hour-", dir=args.scratch))
    text = long_film.screenplay(args.characters, args.beats)
    cuts = [float(x) for x in args.cuts.split(",")]
    print(f"generated screenplay: {args.characters} characters, {args.beats} beats; cuts {args.cuts} min; "
          f"trees: " + ", ".join(f"{k} = {v}" for k, v in trees))
    try:
        for height in [int(x) for x in args.heights.split(",")]:
            importer = trees[-1][1]
            films, plans = [], []
            for minutes in cuts:
                beats = min(args.beats, round(minutes * args.beats / 60))
                src = work / f"cut{minutes:g}.fountain"
                src.write_text(text if beats >= args.beats else long_film.cut(text, beats), encoding="utf-8")
                film = work / f"cut{minutes:g}-{height}.nysh"
                import_film(importer, src, film, height)
                data = plan_pickle(importer, film, work / f"cut{minutes:g}-{height}.pkl")
                films.append(film)
                plans.append(data["plan"])
                tl = data["timeline"]
                n_beats = sum(1 for j in data["plan"].jobs if j.kind.startswith("motion."))
                print(f"cut {minutes:g}: {tl.frames / float(tl.fps) / 60:.1f} min, {tl.frames} frames of "
                      f"{tl.width}x{tl.height}, {len(tl.scenes)} scenes, {n_beats} beats, "
                      f"{len({c.name for c in tl.audio if c.role == 'dialogue'})} lines, "
                      f"{len(data['plan'].jobs)} jobs", flush=True)
            shared = work / f"cache-{height}"
            print(f"\n### {height}p\n\n{HEADER}", flush=True)
            r = watched([sys.executable, __file__, "--child-jobs", os.fspath(work / f"cut{cuts[-1]:g}-{height}.pkl"),
                         "--cache", os.fspath(shared)], env=tree_env(trees[-1][1]))
            print(row(f"{trees[-1][0]}: the {cuts[-1]:g}-minute film's jobs but motion "
                      f"({json.loads(r['stdout'].strip().splitlines()[-1])['jobs']} jobs)", r), flush=True)
            for minutes in cuts[:-1]:  # their jobs are the long film's (cached); any left run here
                subprocess.run([sys.executable, __file__, "--child-jobs", os.fspath(work / f"cut{minutes:g}-{height}.pkl"),
                                "--cache", os.fspath(shared)], env=tree_env(trees[-1][1]), check=True,
                               capture_output=True)
            standins = work / f"standins-{height}.json"
            make_standins(trees[-1][1], shared, plans, standins)
            only = [float(x) for x in args.baseline_cuts.split(",")] if args.baseline_cuts else cuts
            peaks: dict[str, dict[float, float]] = {}
            for minutes, film in zip(cuts, films):
                for label, tree in trees:
                    if label == "baseline" and minutes not in only:
                        continue
                    scratch = work / "scratch"
                    shutil.rmtree(scratch, ignore_errors=True)
                    r = watched([sys.executable, __file__, "--child-render",
                                 os.fspath(work / f"cut{minutes:g}-{height}.pkl"), "--standins", os.fspath(standins),
                                 "--cache", os.fspath(scratch), "--shared", os.fspath(shared),
                                 "--out", os.fspath(work / "cut.mp4"), "--preset", args.preset] +
                                (["--profile"] if args.profile else []), env=tree_env(tree))
                    shutil.rmtree(scratch, ignore_errors=True)
                    res = json.loads(r["stdout"].strip().splitlines()[-1])
                    extra = ""
                    if args.profile:
                        st = res["stages"]
                        segs = st.get("segments") or [0]
                        extra = (f"; tracemalloc: mix {st.get('mix', {}).get('traced', 0) / 2**20:.0f}, segment max "
                                 f"{max(segs) / 2**20:.0f}, assembly {st.get('assembly', {}).get('traced', 0) / 2**20:.0f} MiB")
                    print(row(f"{label}: {minutes:g}-minute cut, render stage ({res['frames']} frames, "
                              f"{res['frames'] / res['wall']:.0f} fps){extra}", r), flush=True)
                    peaks.setdefault(label, {})[res["frames"] / float(timeline_fps(work, minutes, height)) / 60] = \
                        r["roles"]["nyeshc"]["hwm"] / 2**20
            print()
            for label, by in peaks.items():
                if len(by) > 1:
                    (m0, p0), (m1, p1) = min(by.items()), max(by.items())
                    print(f"{label}: render process peak {p0:.0f} MiB at {m0:.1f} min, {p1:.0f} MiB at {m1:.1f} min: "
                          f"{(p1 - p0) / (m1 - m0):+.1f} MiB per minute, {100 * (p1 - p0) / p0:+.0f} %", flush=True)
            shutil.rmtree(shared, ignore_errors=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"(kept {work})")


def mb(n: float) -> str:
    return f"{n / 2**20:7.0f} MiB"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--height", type=int, default=1080, help="canvas height (16:9; default 1080)")
    ap.add_argument("--preset", default="ultrafast", help="x264 preset (default ultrafast: memory is measured)")
    ap.add_argument("--crf", type=int, default=20)
    ap.add_argument("--mode", choices=("segments", "stream"), default="segments")
    ap.add_argument("--case", choices=("synthetic", "screenplay", "hour"), default="synthetic")
    ap.add_argument("--tree", default=str(HERE.parent), help="the source tree measured (default: this checkout)")
    ap.add_argument("--baseline", help="a source tree to measure in the same run (e.g. an archive of main)")
    ap.add_argument("--fountain", default=str(SCREENPLAY), help="screenplay case: the Fountain file")
    ap.add_argument("--heights", default="720,1080", help="screenplay/hour cases: canvas heights")
    ap.add_argument("--full", help="screenplay case: print only these trees' full builds (baseline,tree); "
                    "every tree builds on a cache of its own, which its render stage then reuses")
    ap.add_argument("--cuts", default="5,15,60", help="hour case: the cuts' lengths in minutes")
    ap.add_argument("--baseline-cuts", help="hour case: the cuts the baseline renders (default: all)")
    ap.add_argument("--characters", type=int, default=20)
    ap.add_argument("--beats", type=int, default=600)
    ap.add_argument("--profile", action="store_true", help="tracemalloc per render stage and per job kind")
    ap.add_argument("--scratch", help="where the temporary films and caches go (default: the system's)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--child-plan", help=argparse.SUPPRESS)
    ap.add_argument("--child-jobs", help=argparse.SUPPRESS)
    ap.add_argument("--child-render", help=argparse.SUPPRESS)
    ap.add_argument("--child-job", help=argparse.SUPPRESS)
    ap.add_argument("--standins", help=argparse.SUPPRESS)
    ap.add_argument("--shared", help=argparse.SUPPRESS)
    ap.add_argument("--cache", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    if args.child_plan:
        args.script = args.child_plan
        child_plan(args)
        return
    if args.child_jobs:
        child_jobs(args)
        return
    if args.child_render:
        child_render(args)
        return
    if args.child_job:
        child_job(args)
        return
    if args.case == "screenplay":
        screenplay_case(args)
        return
    if args.case == "hour":
        if args.preset == "ultrafast" and "--preset" not in sys.argv:
            args.preset = "veryfast"
        hour_case(args)
        return

    import synthetic
    from nyeshc.execute import Cache

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
