"""``nyeshc import SCRIPT.fountain -o FILM.nysh``: a Fountain screenplay as a film that checks
clean and renders with the animatic backends (see ``docs/interchange.md``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", metavar="SCRIPT.fountain", help="the Fountain screenplay")
    p.add_argument("-o", "--output", metavar="FILM.nysh", help="the script to write (default: beside the source)")
    p.add_argument("--canvas", default="1280x720, 24fps", help="the film's canvas (default: '1280x720, 24fps')")
    p.add_argument("--force", action="store_true", help="overwrite an existing output")
    p.add_argument("--profile", metavar="P", help="the nysh.toml profile whose voice times the dialogue")
    p.add_argument("--config", metavar="PATH", help="the config file (default: nysh.toml beside the output)")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")


def _line_seconds(args: argparse.Namespace, out: Path):  # noqa: ANN202 - a callable or None
    """How long the configured voice speaks a line, so beats follow one another."""
    try:
        from nyeshc.commands.services import RegistryServices
        from nyeshc.config import load_config

        profile = load_config(out, args.config).profile(args.profile)
        services = RegistryServices(profile)
        backend = services.backend("voice")
    except Exception as exc:  # noqa: BLE001 - fall back to an estimate, and say so
        print(f"nyeshc import: no voice backend ({exc}); timing lines by an estimate", file=sys.stderr)
        return None
    return lambda text, pitch, rate: services.voice_duration(backend, text, pitch, rate, "asemic")


def run(args: argparse.Namespace) -> int:
    from nyeshc.export.fountain import ImportError_, read_fountain, to_nysh
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
        nysh = to_nysh(read_fountain(text), name=out.stem, line_seconds=_line_seconds(args, out), canvas=args.canvas)
    except ImportError_ as exc:
        print(f"nyeshc import: {exc}", file=sys.stderr)
        return 3
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, nysh)
    if not args.quiet:
        print(f"wrote {out}; check it with 'nyeshc check {out}'", file=sys.stderr)
    return 0
