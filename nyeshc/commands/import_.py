"""``nyeshc import SCRIPT.fountain -o FILM.nysh``: a Fountain screenplay as a film that checks
clean and renders with the animatic backends (see ``docs/interchange.md``). What has no place
in the film (sections, synopses, page breaks, unknown transitions…) becomes a note, and the
command says how many of each."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", metavar="SCRIPT.fountain", help="the Fountain screenplay")
    p.add_argument("-o", "--output", metavar="FILM.nysh", help="the script to write (default: beside the source)")
    p.add_argument("--canvas", default=None,
                   help="the film's canvas (default: '1280x720, 24fps', or the one a nyeshc export carries)")
    p.add_argument("--show-action", action="store_true",
                   help="draw the action paragraphs on screen (writes 'action: show' in the header); "
                        "centred text is always shown")
    p.add_argument("--force", action="store_true", help="overwrite an existing output")
    # beats follow one another in the flow now: no voice is asked how long a line lasts
    p.add_argument("--profile", metavar="P", help=argparse.SUPPRESS)
    p.add_argument("--config", metavar="PATH", help=argparse.SUPPRESS)
    p.add_argument("-v", "--verbose", action="store_true", help="list each element that became a note")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")


def run(args: argparse.Namespace) -> int:
    from nyeshc.syntax.fountain import ImportError_, read_fountain, translate
    from nyeshc.world import atomic_write_text

    src = Path(args.source)
    if not src.is_file():
        print(f"nyeshc import: {src} not found", file=sys.stderr)
        return 2
    out = Path(args.output) if args.output else src.with_suffix(".nysh")
    if out.suffix != ".nysh":
        print(f"nyeshc import: the output must be a .nysh file (got {out.name!r})", file=sys.stderr)
        return 2
    if out.exists() and not args.force:
        print(f"nyeshc import: {out} exists (use --force to overwrite it)", file=sys.stderr)
        return 2
    try:
        text = src.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"nyeshc import: cannot read {src}: {exc}", file=sys.stderr)
        return 2
    try:
        imported = translate(read_fountain(text), name=out.stem, canvas=args.canvas,
                             show_action=bool(getattr(args, "show_action", False)))
    except ImportError_ as exc:
        print(f"nyeshc import: {exc}", file=sys.stderr)
        return 3
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, imported.text)
    if not args.quiet:
        summary = imported.summary()
        if summary:
            print(f"nyeshc import: {summary}" + ("" if args.verbose else " (-v lists them)"), file=sys.stderr)
            if args.verbose:
                for line in imported.details:
                    print(f"  {line}", file=sys.stderr)
        print(f"wrote {out}; check it with 'nyeshc check {out}'", file=sys.stderr)
    return 0
