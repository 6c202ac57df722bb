"""``nyeshc plan FILM.nysh [--json | --svg -o FILE.svg | --png -o FILE.png [--width PX]] [--profile P] [--config PATH] [--cache DIR]``.

Prints the timeline (scenes with start–end, overlaps, audio clips), the job graph by kind
(each job marked ``cached`` or ``to run`` against the artifact cache) and the estimated cost
per backend, or ``nothing to run: everything is cached`` when every job is. ``--json`` prints
the whole :class:`~nyeshc.plan.model.Plan` as canonical JSON instead (the form the golden
tests pin). Nothing is rendered and no backend runs beyond the cheap queries the planner makes
(ids, versions, settings, voice durations).

Before the disk line, a ``render`` line estimates the compose + encode of the segments not yet
in the cache (``nyeshc.render.cost``: per frame, scaled by the canvas and the x264 preset, fitted
on a 2-core machine), for the build's default encoder settings; it is left out when every
segment is cached.

The plan is refused (E701) when it would write more than the disk budget (``--max-disk SIZE``,
else ``[limits] disk`` in nysh.toml, else 50 GB); the text output ends with the disk estimate.

``--svg``/``--png`` write the timeline as a picture instead (:mod:`nyeshc.export.timeline`,
``docs/timeline.md``): a row per layer kind, a ruler in timecode, ``--width`` pixels wide
(default 1600). ``-o FILE`` is required with them and its suffix must match (``.svg``/``.png``);
the file is written to a temporary name and renamed, and nothing is printed on stdout.

Exit codes: 0 ok; 1 the script has errors or exceeds the disk budget; 2 usage (a bad config or
profile, ``--svg``/``--png`` without ``-o`` or with the wrong suffix, ``-o`` without either); 3 a
backend could not be loaded.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from nyeshc import ir
from nyeshc.commands.common import (
    Stop,
    add_plan_arguments,
    add_script_argument,
    disk_limit,
    prepare,
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_script_argument(p)
    what = p.add_mutually_exclusive_group()
    what.add_argument("--json", action="store_true", help="print the plan as canonical JSON")
    what.add_argument("--svg", action="store_true", help="write the timeline as an SVG picture to -o FILE.svg")
    what.add_argument("--png", action="store_true", help="write the timeline as a PNG picture to -o FILE.png")
    p.add_argument("-o", "--output", metavar="FILE", help="where --svg or --png writes the picture")
    p.add_argument("--width", metavar="PX", type=int, default=1600,
                   help="the picture's width in pixels (--svg, --png; default 1600)")
    add_plan_arguments(p)


def cached_keys(cache_dir: Path, keys: list[str]) -> set[str]:
    """The keys whose artifacts are complete in the cache."""
    from nyeshc.store.cache import Cache

    cache = Cache(cache_dir)
    return {k for k in keys if cache.has(k)}


NOTHING_TO_RUN = "nothing to run: everything is cached"


def nothing_to_run(text: str) -> str:
    """``text`` (the plan as :func:`~nyeshc.plan.render_text` writes it, every job cached) with
    its estimate, a heading over a zero total, replaced by one line saying so."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("estimated cost"):
            return "\n".join([*lines[:i], NOTHING_TO_RUN]) + "\n"
    return text + NOTHING_TO_RUN + "\n"


def render_line(est: Any, factor: float | None = None) -> str:
    """``render  N of M segments to render (F frames): ~S s on C cores (veryfast, crf 18)``, or
    ``""`` when every segment is in the cache; ``est`` is :func:`nyeshc.render.cost.estimate_render`'s,
    ``factor`` scales the model's seconds (measured over estimated, from the last build's render)."""
    if est.to_render == 0:
        return ""
    seconds = est.seconds * (factor or 1.0)
    return (f"render  {est.to_render} of {est.segments} segments to render ({est.frames} frames): "
            f"~{seconds:.1f}s on {est.cores} cores ({est.preset}, crf {est.crf})\n")


def build_line(job_seconds: list[float], est: Any, factor: float | None = None, workers: int | None = None,
               front: float = 0.0) -> str:
    """``build  ~T s on C cores (start + check + plan ~P s, jobs ~J s, render ~R s)``: the whole build's
    wall time: ``front`` (start-up, the check and the plan: as long as this ``plan`` took), the jobs
    run by ``workers`` processes (default: the cores), so at best their CPU seconds over the
    workers and never less than the longest job, then the render (``est``, as in
    :func:`render_line`). ``""`` when nothing is left to do."""
    if not job_seconds and not est.to_render:
        return ""
    render = est.seconds * (factor or 1.0) if est.to_render else 0.0
    n = max(1, workers or os.cpu_count() or 1)
    jobs = max(sum(job_seconds) / n, max(job_seconds, default=0.0))
    return (f"build  ~{front + jobs + render:.1f}s on {n} cores (start + check + plan ~{front:.1f}s, jobs ~{jobs:.1f}s, "
            f"render ~{render:.1f}s)\n")


def calibration_line(cache_dir: Path, calibration: object, machine: float | None = None) -> str:
    """Where the scaled estimates come from, when they are scaled: what builds of this film
    measured, and (for what they did not) this machine's speed."""
    from nyeshc.execute.measured import NAME

    text = f"estimates scaled by what the last build measured ({cache_dir / NAME})\n" if calibration else ""
    if machine is not None:
        text += (f"estimates of CPU work not measured yet scaled by this machine's speed: {machine:.2f}x the time of the machine "
                 "the cost models were fitted on (a benchmark)\n")
    return text


def _usage(msg: str) -> int:
    print(f"nyeshc plan: {msg}", file=sys.stderr)
    return 2


def _picture_usage(args: argparse.Namespace) -> str | None:
    """What is wrong with ``--svg``/``--png``/``-o``/``--width``, or None."""
    picture = ".svg" if getattr(args, "svg", False) else ".png" if getattr(args, "png", False) else None
    output = getattr(args, "output", None)
    if picture is None:
        if output:
            return "-o FILE needs --svg or --png (the plan itself is printed on stdout)"
        return None
    flag = "--" + picture[1:]
    if not output:
        return f"{flag} needs -o FILE{picture}"
    out = Path(output)
    if out.suffix.lower() != picture:
        return f"{flag} writes a {picture} file, not {out.name!r} (name it FILE{picture})"
    if out.is_dir():
        return f"{out} is a folder; -o names the picture file"
    from nyeshc.export.timeline import MAX_PNG_WIDTH, min_width

    if args.width < min_width():
        return f"--width must be at least {min_width()} pixels, not {args.width}"
    if picture == ".png" and args.width > MAX_PNG_WIDTH:
        return f"--png is at most {MAX_PNG_WIDTH} pixels wide, not {args.width} (--svg has no limit)"
    script = Path(args.script)
    if out.exists() and script.exists() and out.resolve() == script.resolve():
        return "the output would overwrite the script"
    return None


def run(args: argparse.Namespace) -> int:
    wrong = _picture_usage(args)
    if wrong:
        return _usage(wrong)
    from nyeshc.execute.machine import speed
    from nyeshc.execute.measured import calibrated, group
    from nyeshc.execute.measured import load as load_measured
    from nyeshc.plan import render_text
    from nyeshc.plan.budget import cache_bytes, estimate_bytes, human
    from nyeshc.render.cost import estimate_render
    from nyeshc.store.cache import Cache, default_frame_codec

    began = time.perf_counter()
    started = getattr(args, "started", None)  # the process's start (nyeshc.cli), as a build counts
    try:
        prepared = prepare(args, "plan")  # config, check, plan, disk budget (E701)
    except Stop as stop:
        return stop.code
    # a build starts the same way: Python, the imports, the check and the plan
    front = time.perf_counter() - (began if started is None else min(float(started), began))
    result = prepared.plan
    if args.json:
        sys.stdout.write(ir.to_json(result) + "\n")
        return 0
    if getattr(args, "svg", False) or getattr(args, "png", False):
        return _picture(args, prepared)
    calibration = load_measured(prepared.cache_dir)
    cached = cached_keys(prepared.cache_dir, [j.key for j in result.jobs])
    est = estimate_render(result.timeline, Cache(prepared.cache_dir).has)
    unmeasured = any(group(j) not in calibration.jobs for j in result.jobs if j.key not in cached) or (
        est.to_render > 0 and calibration.render is None)
    machine = speed(prepared.cache_dir) if unmeasured else None  # a ~0.1 s benchmark, once per cache folder
    planned = calibrated(result, calibration, machine)
    text = render_text(planned, cached)
    sys.stdout.write(nothing_to_run(text) if len(cached) == len(result.jobs) else text)
    factor = calibration.render if calibration.render is not None else machine
    render = render_line(est, factor)
    sys.stdout.write(render)
    sys.stdout.write(build_line([j.cost_seconds for j in planned.jobs if j.key not in cached], est,
                                factor, getattr(args, "jobs", None), front))
    if len(cached) < len(result.jobs) or render:
        sys.stdout.write(calibration_line(prepared.cache_dir, calibration, machine))
    limit = disk_limit(args, prepared.config)
    codec = default_frame_codec()
    need = estimate_bytes(result, frame_codec=codec, workers=getattr(args, "jobs", None))
    kept = cache_bytes(result, frame_codec=codec)
    sys.stdout.write(f"disk: about {human(kept)} in the cache, up to {human(need)} while building "
                     f"(limit {human(limit)})\n")
    return 0


def _picture(args: argparse.Namespace, prepared: object) -> int:
    from nyeshc.export.timeline import write_picture

    film = prepared.checked.loaded.film  # type: ignore[attr-defined]
    prop = film.header.get("title")
    title = str(getattr(getattr(prop, "value", None), "text", "")) if prop is not None else ""
    out = Path(args.output)
    try:
        write_picture(prepared.plan, out, width=args.width, title=title)  # type: ignore[attr-defined]
    except OSError as exc:
        print(f"nyeshc plan: cannot write {out}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    if not getattr(args, "quiet", False):
        print(f"wrote {out} (timeline, {args.width} px wide)", file=sys.stderr)
    return 0
