"""``nyeshc plan FILM.nysh [--json] [--profile P] [--config PATH] [--cache DIR]``.

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

Exit codes: 0 ok; 1 the script has errors or exceeds the disk budget; 2 usage (a bad config or profile); 3 a backend
could not be loaded.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

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
    p.add_argument("--json", action="store_true", help="print the plan as canonical JSON")
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


def render_line(timeline: object, cache_dir: Path, factor: float | None = None) -> str:
    """``render  N of M segments to render (F frames): ~S s on C cores (medium, crf 20)``, or
    ``""`` when every segment is in the cache; ``factor`` scales the model's seconds (measured
    over estimated, from the last build's render)."""
    from nyeshc.render.cost import estimate_render
    from nyeshc.store.cache import Cache

    cache = Cache(cache_dir)
    est = estimate_render(timeline, cache.has)  # type: ignore[arg-type]
    if est.to_render == 0:
        return ""
    seconds = est.seconds * (factor or 1.0)
    return (f"render  {est.to_render} of {est.segments} segments to render ({est.frames} frames): "
            f"~{seconds:.1f}s on {est.cores} cores ({est.preset}, crf {est.crf})\n")


def calibration_line(cache_dir: Path, calibration: object) -> str:
    """Where the scaled estimates come from, when they are scaled."""
    from nyeshc.execute.measured import NAME

    if not calibration:
        return ""
    return f"estimates scaled by what the last build measured ({cache_dir / NAME})\n"


def run(args: argparse.Namespace) -> int:
    from nyeshc.execute.measured import calibrated
    from nyeshc.execute.measured import load as load_measured
    from nyeshc.plan import render_text
    from nyeshc.plan.budget import estimate_bytes, human
    from nyeshc.store.cache import default_frame_codec

    try:
        prepared = prepare(args, "plan")  # config, check, plan, disk budget (E701)
    except Stop as stop:
        return stop.code
    result = prepared.plan
    if args.json:
        sys.stdout.write(ir.to_json(result) + "\n")
        return 0
    calibration = load_measured(prepared.cache_dir)
    cached = cached_keys(prepared.cache_dir, [j.key for j in result.jobs])
    text = render_text(calibrated(result, calibration), cached)
    sys.stdout.write(nothing_to_run(text) if len(cached) == len(result.jobs) else text)
    render = render_line(result.timeline, prepared.cache_dir, calibration.render)
    sys.stdout.write(render)
    if len(cached) < len(result.jobs) or render:
        sys.stdout.write(calibration_line(prepared.cache_dir, calibration))
    limit = disk_limit(args, prepared.config)
    need = estimate_bytes(result, frame_codec=default_frame_codec(), workers=getattr(args, "jobs", None))
    sys.stdout.write(f"disk: about {human(need)} (limit {human(limit)})\n")
    return 0
