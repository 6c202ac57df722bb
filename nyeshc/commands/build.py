"""``nyeshc FILM.nysh -o OUT.mp4``: check, plan, run the jobs, render, encode.

The film is written atomically (a temporary file renamed over ``OUT.mp4`` at the end), with
``OUT.srt`` and ``OUT.vtt`` beside it and the provenance lock ``FILM.nysh.lock`` beside the
script. ``--preview`` renders at half size; ``--scene``/``--from``/
``--to`` render a part (only the jobs that part needs run).

The closing ``wrote OUT (…) in X s`` counts from the start of the process (see
:mod:`nyeshc.cli`); ``-v`` splits X into start (Python and the imports), check + plan, jobs,
and render + encode.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from fractions import Fraction
from pathlib import Path

from nyeshc import uptodate
from nyeshc.commands.common import add_build_arguments, add_script_argument
from nyeshc.media import DEFAULT_CRF, DEFAULT_PRESET

MEDIA_SUFFIXES = {".mp4", ".m4v", ".mov"}
# ISO base media files start with a box whose type is "ftyp" at byte 4
_MEDIA_MAGIC = (b"ftyp",)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_script_argument(p)
    p.add_argument("-o", "--output", metavar="OUT.mp4", help="the film to write (default: FILM.mp4 beside the script)")
    add_build_arguments(p)
    p.add_argument("--preview", action="store_true", help="half size")
    part = p.add_argument_group("render a part")
    part.add_argument("--scene", metavar="N", help="only this scene (its number, position or heading)")
    part.add_argument("--from", dest="start", metavar="T", help="start time, e.g. 0:12 or 12s")
    part.add_argument("--to", dest="end", metavar="T", help="end time")
    enc = p.add_argument_group("encoder")
    enc.add_argument("--crf", type=int, default=DEFAULT_CRF,
                     help=f"H.264 quality (lower is better; default {DEFAULT_CRF})")
    enc.add_argument("--preset", default=None,
                     help=f"x264 preset (default {DEFAULT_PRESET}; medium or slow for smaller files)")


def parse_time_arg(text: str) -> Fraction:
    """``"0:12"``, ``"12s"``, ``"12"`` (seconds) or ``"1:02:03.5"`` as seconds."""
    from nyeshc.syntax.lower import parse_time

    text = text.strip()
    parsed = parse_time(text) or parse_time(text + "s")
    if parsed is None or parsed[1] != "s":
        raise ValueError(f"not a time: {text!r} (write e.g. 0:12, 12s or 1:02:03)")
    return parsed[0]


def check_output(out: Path, script: Path) -> str | None:
    """Why ``out`` must not be written, or ``None`` when it is fine."""
    if out.suffix.lower() not in MEDIA_SUFFIXES:
        return f"the output must be an .mp4 file (got {out.name!r})"
    if out.exists():
        if out.resolve() == script.resolve():
            return "the output would overwrite the script"
        if out.is_dir():
            return f"{out} is a folder"
        with open(out, "rb") as fh:
            head = fh.read(12)
        if head and head[4:8] not in _MEDIA_MAGIC:  # an empty file is fair game
            return f"{out} exists and is not a video file; refusing to overwrite it"
    return None


def _modules(exc: BaseException) -> set[str]:
    """The file names of the frames ``exc`` (and what it was raised from) passed through."""
    names: set[str] = set()
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        names.update(Path(fs.filename).name for fs in traceback.extract_tb(e.__traceback__))
        e = e.__cause__ or e.__context__
    return names


def disk_full(exc: BaseException, stage: str, *, out: Path, script: Path, cache_root: Path,
              cache_arg: str | None, temporary: bool = False) -> str | None:
    """The message for a build that ran out of disk space while writing (``stage``: render,
    subtitles or lock), or ``None`` when ``exc`` is another failure. ffmpeg's own "No space
    left on device" (it writes the encodes) counts too."""
    from nyeshc.world import disk_full_error, disk_full_message

    err = disk_full_error(exc)
    if err is None and "No space left on device" not in str(exc) and "the disk is full" not in str(exc):
        return None
    gc = f"nyeshc cache gc {script}" + (f" --cache {cache_arg}" if cache_arg else "")
    filename = Path(os.fsdecode(err.filename)).resolve() if err is not None and err.filename else None
    modules = _modules(exc)
    cache_root = cache_root.resolve()
    if stage == "subtitles":
        what, where = f"the subtitles {out.with_suffix('.srt').name}", out.resolve().parent
    elif stage == "lock":
        what, where = f"the lock file {script.name}.lock", script.resolve().parent
    elif "mixer.py" in modules:
        what, where = "the mixed soundtrack to the cache", cache_root
    elif "cache.py" in modules or (filename is not None and cache_root in filename.parents):
        what = "an encoded segment or sound to the cache" if "segments.py" in modules else "a cache entry"
        where = cache_root
    else:
        what, where = f"the film {out.name} (or its temporary files)", out.resolve().parent
    if temporary:  # --no-cache: the build's own cache, deleted already
        what = what.replace("to the cache", "to the build's temporary cache")
    return disk_full_message(what, where, gc_command=gc)


def run(args: argparse.Namespace) -> int:
    t_run = time.perf_counter()
    # the clock starts with the process (nyeshc.cli sets ``started``), not here: Python's start-up
    # and the imports are part of what the writer waits for
    started = getattr(args, "started", None)
    t0 = t_run if started is None else min(float(started), t_run)
    script = Path(args.script)
    out = Path(args.output) if args.output else script.with_suffix(".mp4")
    problem = check_output(out, script)
    if problem:
        print(f"nyeshc: {problem}", file=sys.stderr)
        return 2
    same = uptodate.fresh(args, script, out)
    if same is not None:  # nothing it was made from changed: not even the planner is imported
        if not args.quiet:
            print(f"{out} is up to date ({float(same['seconds']):.2f} s, {same['width']}x{same['height']} at "
                  f"{float(same['fps']):g} fps): nothing it is made from changed; checked in "
                  f"{time.perf_counter() - t0:.2f} s", file=sys.stderr)
        return 0
    uptodate.forget(uptodate.default_cache_dir(script, args.cache), out)
    config_seen = uptodate.file_sha256(uptodate.config_path(script, args.config))  # before planning reads it
    # One OpenBLAS thread in this process, asked before numpy loads it, as the workers take one
    # (and the executor sets, for the floating-point sums' sake): the build is parallel by
    # processes, and OpenBLAS's helper thread, woken by numpy's import and the planner's few
    # products, spun ~0.1 s of a core, the last of it on the core a worker had just started on
    # (a dialogue edit of the tutorial's film: jobs 0.50 s, 0.41-0.45 s without it).
    os.environ["OPENBLAS_NUM_THREADS"] = "1"

    from nyeshc.commands.common import Stop, prepare, run_jobs
    from nyeshc.execute import write_lock
    from nyeshc.plan.select import SelectionError, artifact_keys, needed_jobs, scene_range, time_range
    from nyeshc.render import EncodeError, RenderError, render_film, write_srt, write_vtt
    from nyeshc.render.encoder import film_metadata

    try:
        start = parse_time_arg(args.start) if args.start else None
        end = parse_time_arg(args.end) if args.end else None
    except ValueError as exc:
        print(f"nyeshc: {exc}", file=sys.stderr)
        return 2
    try:
        prepared = prepare(args, "build", canvas_scale=0.5 if args.preview else None)
        timeline = prepared.plan.timeline
        frame_range = None
        try:
            if args.scene:
                frame_range = scene_range(timeline, args.scene)
            elif start is not None or end is not None:
                frame_range = time_range(timeline, start, end)
        except SelectionError as exc:
            print(f"nyeshc: {exc}", file=sys.stderr)
            return 2
        if timeline.frames == 0:
            what = "has no scenes" if not prepared.checked.loaded.film.body else "lasts no time (every scene is 0 s)"
            print(f"nyeshc: {script}: nothing to render: the film {what}; write a SCENE with something "
                  "in it (see docs/tutorial.md)", file=sys.stderr)
            return 1
        plan = prepared.plan
        if frame_range is not None:
            plan = needed_jobs(plan, artifact_keys(timeline, *frame_range))
        t_plan = time.perf_counter()
        sound = None
        if frame_range is None and not args.no_cache:  # the film's sound, made while the jobs run
            from nyeshc.render.segments import SoundAhead
            from nyeshc.store.cache import Cache

            sound = SoundAhead(timeline, Cache(prepared.cache_dir), out.resolve().parent)
            if not sound.wanted():
                sound = None
        try:
            artifacts = run_jobs(prepared, args, plan, "build",
                                 when_done=None if sound is None else (sound.needs, sound.start))
        except BaseException:  # a failed job, Ctrl-C: the sound's thread stops
            if sound is not None:
                sound.cancel()
            raise
    except Stop as stop:
        return stop.code
    t_jobs = time.perf_counter()
    preset = args.preset or DEFAULT_PRESET
    measuring = not artifacts.temporary and frame_range is None
    if measuring:  # what the jobs took against the plan's estimates, for the next `nyeshc plan`
        from nyeshc.execute.measured import record
        from nyeshc.render.cost import estimate_render

        record(artifacts.cache.root, {j.key: j for j in plan.jobs}, artifacts.timings)
        render_estimate = estimate_render(timeline, artifacts.cache.has, preset=preset, crf=args.crf)
    stage = "render"
    try:
        with artifacts:
            t_render = time.perf_counter()
            try:
                render_film(timeline, artifacts.cache, out, preset=preset, crf=args.crf,
                            progress=None if args.quiet else True, frame_range=frame_range,
                            use_segments=not args.no_cache, metadata=film_metadata(prepared.checked.loaded.film),
                            workers=args.jobs if args.jobs is not None else (os.cpu_count() or 1), sound=sound)
            finally:
                if sound is not None:  # (done by now, unless the render failed or was stopped)
                    sound.cancel()
            if measuring and render_estimate.to_render:
                record(artifacts.cache.root, {}, {},
                       render=(render_estimate.seconds, time.perf_counter() - t_render))
        if frame_range is None:
            subs = timeline.subtitles
        else:
            lo_s, hi_s = Fraction(frame_range[0]) / timeline.fps, Fraction(frame_range[1]) / timeline.fps
            subs = tuple(
                type(s)(max(s.start, lo_s) - lo_s, min(s.end, hi_s) - lo_s, s.text, s.character)
                for s in timeline.subtitles if s.start < hi_s and s.end > lo_s
            )
        stage = "subtitles"
        write_srt(subs, out.with_suffix(".srt"))
        write_vtt(subs, out.with_suffix(".vtt"))
        stage = "lock"
        write_lock(script.with_name(script.name + ".lock"), prepared.plan,
                   {"profile": prepared.profile_name, "script": script.name})
    except (EncodeError, RenderError, OSError) as exc:
        cache_root = artifacts.cache.root.parent if artifacts.temporary else artifacts.cache.root
        full = disk_full(exc, stage, out=out, script=script, cache_root=cache_root,
                         cache_arg=None if args.no_cache else args.cache, temporary=artifacts.temporary)
        if full is not None:
            print(f"nyeshc: {full}", file=sys.stderr)
            return 3
        if isinstance(exc, OSError):
            raise
        print(f"nyeshc: rendering failed: {exc}", file=sys.stderr)
        return 3
    if not prepared.checked.diagnostics and not prepared.planned:  # (record skips partial and --no-cache builds)
        from nyeshc.syntax.text import decode

        loaded = prepared.checked.loaded
        uptodate.record(args, script, out, prepared.cache_dir,
                        sources={str(loaded.paths[name]): text for name, text in loaded.sources.items()},
                        decode=lambda data: decode(data, "")[0], config_sha256=config_seen,
                        assets={j.params["path"]: j.params["sha256"] for j in prepared.plan.jobs
                                if j.kind.startswith("asset.")},
                        backends={j.backend for j in prepared.plan.jobs},
                        summary={"seconds": timeline.frames / float(timeline.fps), "width": timeline.width,
                                 "height": timeline.height, "fps": float(timeline.fps)})
    t_end = time.perf_counter()
    if not args.quiet:
        lo, hi = frame_range or (0, timeline.frames)
        seconds = (hi - lo) / float(timeline.fps)
        print(f"wrote {out} ({seconds:.2f} s, {timeline.width}x{timeline.height} at {float(timeline.fps):g} fps) "
              f"in {t_end - t0:.1f} s", file=sys.stderr)
        if args.verbose:
            print(f"  start {t_run - t0:.2f} s, check + plan {t_plan - t_run:.2f} s, jobs {t_jobs - t_plan:.2f} s, "
                  f"render + encode {t_end - t_jobs:.2f} s", file=sys.stderr)
    return 0
