"""``nyeshc storyboard FILM.nysh -o board.pdf`` (or ``board.html``): one panel per shot.

Each panel has a still from the animatic at the shot's middle, the scene heading, timecodes
in and out, the duration, the dialogue, parentheticals and notes; the cover has the title,
the author and each alphabet's Rosetta chart. What a shot is: :mod:`nyeshc.export.storyboard`.

Only the jobs the stills and the charts need run, all in one pass through the cache (as
``nyeshc still`` does for one frame), at half the canvas unless ``--full-size``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Self

from nyeshc.commands.common import (
    Stop,
    add_build_arguments,
    add_script_argument,
    prepare,
    run_jobs,
)

CHART_CELL = 40  # pixels per Rosetta chart cell on the cover
CHART_PAPER = (0x1B, 0x18, 0x1F)  # nyeshc rosetta's paper: inks are chosen for a dark screen


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_script_argument(p)
    p.add_argument("-o", "--output", required=True, metavar="BOARD.pdf|BOARD.html",
                   help="the storyboard to write: .pdf, or .html (one self-contained file)")
    p.add_argument("--full-size", action="store_true",
                   help="stills at the film's canvas size (default: half size, as a preview build)")
    add_build_arguments(p)


def _text(film: Any, key: str) -> str:
    from nyeshc import ir

    prop = film.header.get(key)
    return prop.value.text if prop is not None and isinstance(prop.value, ir.Str) else ""


def run(args: argparse.Namespace) -> int:
    from nyeshc.backends import registry
    from nyeshc.export import storyboard
    from nyeshc.pipeline import RegistryServices
    from nyeshc.plan import alphabet_jobs
    from nyeshc.plan.select import artifact_keys, needed_jobs
    from nyeshc.render import RenderError

    out = Path(args.output)
    fmt = out.suffix.lower()
    if fmt not in storyboard.FORMATS:
        print(f"nyeshc storyboard: the output must be a .pdf or .html file (got {out.name!r})", file=sys.stderr)
        return 2
    if out.is_dir():
        print(f"nyeshc storyboard: {out} is a folder", file=sys.stderr)
        return 2
    if fmt == ".pdf":
        try:
            import fpdf  # noqa: F401 - only asked whether it is there, before any job runs
        except ImportError:
            print("nyeshc storyboard: a PDF storyboard needs the fpdf2 package: pip install 'nyeshc[studio]' "
                  "(or write .html, which needs nothing more)", file=sys.stderr)
            return 2
    try:
        prepared = prepare(args, "storyboard", canvas_scale=None if args.full_size else 0.5)
        film = prepared.checked.loaded.film
        root = prepared.script.resolve().parent
        services = RegistryServices(prepared.profile)
        plan = prepared.plan
        timeline = plan.timeline
        shots = storyboard.shots(plan, storyboard.directions(film, services, root=root))
        keys: set[str] = set()
        for frame in storyboard.still_frames(shots):
            keys |= artifact_keys(timeline, frame, frame + 1, audio=False)
        jobs = list(needed_jobs(plan, keys).jobs)
        charts: list[tuple[str, str, tuple[int, int, int]]] = []  # (alphabet, key, ink)
        have = {j.key for j in jobs}
        for name in sorted(film.defs("alphabet")):
            found = alphabet_jobs(film, services, name, root=root)
            if found is None:
                continue
            more, key, ink = found
            needed = needed_jobs(replace(plan, jobs=more), {key}).jobs
            jobs += [j for j in needed if j.key not in have]
            have |= {j.key for j in needed}
            charts.append((name, key, ink))
        artifacts = run_jobs(prepared, args, replace(plan, jobs=tuple(jobs)), "storyboard")
    except Stop as stop:
        return stop.code
    notes = storyboard.cover_notes(film)
    try:
        with artifacts:
            drawn = []
            if charts:
                choice = prepared.profile.choice("glyphs")
                backend = registry.load(choice.id, choice.settings)
                for name, key, ink in charts:
                    chart = backend.chart(artifacts.load(key), cell=CHART_CELL, ink=ink,  # type: ignore[attr-defined]
                                          paper=CHART_PAPER)
                    drawn.append((name, chart))
            with _Stills(timeline, artifacts.cache, storyboard.still_frames(shots), quiet=args.quiet) as stills:
                board = storyboard.Board(_text(film, "title"), _text(film, "author"), timeline.fps, timeline.width,
                                         timeline.height, timeline.frames, shots, stills, tuple(drawn), notes)
                if fmt == ".pdf":
                    storyboard.write_pdf(board, out)
                    what = f"{storyboard.pdf_pages(len(shots))} pages"
                else:
                    storyboard.write_html(board, out)
                    what = "one HTML file"
    except RenderError as exc:
        print(f"nyeshc storyboard: {exc}", file=sys.stderr)
        return 3
    if not args.quiet:
        print(f"wrote {out} ({len(shots)} shots, {what}, stills {timeline.width}x{timeline.height})", file=sys.stderr)
    return 0


class _Stills(Sequence[Any]):
    """The panels' stills, each composited from the cache when the writer asks for it (so they
    are never all in memory), with a progress bar on stderr unless ``quiet``."""

    def __init__(self, timeline: Any, cache: Any, frames: list[int], *, quiet: bool) -> None:
        from nyeshc.render import Compositor

        self.compositor = Compositor(timeline, cache)
        self.frames = frames
        self.quiet = quiet
        self.bar: Any = None
        self.task: Any = None

    def __enter__(self) -> Self:
        if not self.quiet and self.frames:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TimeRemainingColumn(), console=Console(file=sys.stderr), transient=False)
            self.task = self.bar.add_task("stills", total=len(self.frames))
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        image = self.compositor.frame(self.frames[i]).copy()
        if self.bar is not None:
            self.bar.update(self.task, advance=1)
        return image
