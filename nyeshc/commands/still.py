"""``nyeshc still FILM.nysh --at 0:12 -o frame.png``: one frame of the film as a PNG.

Only the jobs that frame needs run (through the cache), so a still of a long film is quick.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nyeshc.commands.build import parse_time_arg
from nyeshc.commands.common import Stop, add_build_arguments, add_script_argument, prepare, run_jobs


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_script_argument(p)
    p.add_argument("--at", required=True, metavar="T", help="the time of the frame, e.g. 0:12 or 12.5s")
    p.add_argument("-o", "--output", required=True, metavar="FRAME.png", help="the PNG to write")
    add_build_arguments(p)
    p.add_argument("--preview", action="store_true", help="half size")


def run(args: argparse.Namespace) -> int:
    from nyeshc.plan.select import artifact_keys, frame_at, needed_jobs
    from nyeshc.render import RenderError, render_still, write_png

    out = Path(args.output)
    if out.suffix.lower() != ".png":
        print(f"nyeshc still: the output must be a .png file (got {out.name!r})", file=sys.stderr)
        return 2
    try:
        at = parse_time_arg(args.at)
    except ValueError as exc:
        print(f"nyeshc still: {exc}", file=sys.stderr)
        return 2
    try:
        prepared = prepare(args, "still", canvas_scale=0.5 if args.preview else None)
        timeline = prepared.plan.timeline
        frame = frame_at(timeline, at)
        plan = needed_jobs(prepared.plan, artifact_keys(timeline, frame, frame + 1, audio=False))
        artifacts = run_jobs(prepared, args, plan, "still")
    except Stop as stop:
        return stop.code
    try:
        with artifacts:
            image = render_still(timeline, artifacts.cache, frame)
    except RenderError as exc:
        print(f"nyeshc still: {exc}", file=sys.stderr)
        return 3
    write_png(out, image)
    if not args.quiet:
        print(f"wrote {out} (frame {frame}, {timeline.width}x{timeline.height})", file=sys.stderr)
    return 0
