"""``nyeshc rosetta ALPHABET FILM.nysh -o chart.png``: the alphabet's chart.

Each Latin letter and digit beside its glyph: the film's Rosetta stone. The glyphs come from
the same job (same seed, same backend settings, same cache entry) as the film's captions.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from nyeshc.commands.common import Stop, add_build_arguments, add_script_argument, prepare, run_jobs


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("alphabet", metavar="ALPHABET", help="the alphabet's name, e.g. NYESH")
    add_script_argument(p)
    p.add_argument("-o", "--output", required=True, metavar="CHART.png", help="the PNG to write")
    p.add_argument("--cell", type=int, default=72, help="pixels per chart cell (default 72)")
    p.add_argument("--paper", default="#1b181f", help="background colour (default #1b181f)")
    add_build_arguments(p)


def _colour(text: str) -> tuple[int, int, int]:
    h = text.lstrip("#")
    if len(h) != 6 or any(c not in "0123456789abcdefABCDEF" for c in h):
        raise ValueError(f"not a colour: {text!r} (write #rrggbb)")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def run(args: argparse.Namespace) -> int:
    from nyeshc.backends import registry
    from nyeshc.pipeline import RegistryServices
    from nyeshc.diagnostics import did_you_mean
    from nyeshc.plan import alphabet_jobs
    from nyeshc.render import write_png

    out = Path(args.output)
    if out.suffix.lower() != ".png":
        print(f"nyeshc rosetta: the output must be a .png file (got {out.name!r})", file=sys.stderr)
        return 2
    try:
        paper = _colour(args.paper)
    except ValueError as exc:
        print(f"nyeshc rosetta: {exc}", file=sys.stderr)
        return 2
    if args.cell < 8 or args.cell > 1024:
        print("nyeshc rosetta: --cell must be between 8 and 1024 pixels", file=sys.stderr)
        return 2
    try:
        prepared = prepare(args, "rosetta")
        film = prepared.checked.loaded.film
        services = RegistryServices(prepared.profile)
        found = alphabet_jobs(film, services, args.alphabet, root=prepared.script.resolve().parent)
        if found is None:
            names = list(film.defs("alphabet"))
            hint = did_you_mean(args.alphabet, names)
            known = ", ".join(names) if names else "none"
            print(f"nyeshc rosetta: the film defines no alphabet {args.alphabet!r}"
                  f"{'; ' + hint if hint else ''} (its alphabets: {known})", file=sys.stderr)
            return 2
        jobs, key, ink = found
        artifacts = run_jobs(prepared, args, replace(prepared.plan, jobs=jobs), "rosetta")
    except Stop as stop:
        return stop.code
    with artifacts:
        alphabet = artifacts.load(key)
        choice = prepared.profile.choice("glyphs")
        backend = registry.load(choice.id, choice.settings)
        chart = backend.chart(alphabet, cell=args.cell, ink=ink, paper=paper)  # type: ignore[attr-defined]
    write_png(out, chart)
    if not args.quiet:
        print(f"wrote {out} ({chart.shape[1]}x{chart.shape[0]})", file=sys.stderr)
    return 0

