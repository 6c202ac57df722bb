"""What several commands share: reading a script, checking it, printing diagnostics."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from rich.console import Console

from nyeshc.diagnostics import Diagnostic, render_human, render_json, render_short
from nyeshc.syntax import Loaded, load
from nyeshc.world import World


def add_script_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("script", metavar="FILM.nysh", help="the script")
    p.add_argument("--allow-outside", action="store_true",
                   help="let includes and assets point outside the script's folder")


@dataclass
class Checked:
    loaded: Loaded
    world: World
    diagnostics: list[Diagnostic]

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.diagnostics)


def load_and_check(script: str, *, allow_outside: bool = False) -> Checked:
    """Read, lower and check ``script``; every problem is a diagnostic, nothing raises."""
    from nyeshc.check import check

    path = Path(script)
    world = World.for_script(path, allow_outside=allow_outside)
    loaded = load(path, world)
    diagnostics = list(loaded.diagnostics)
    if loaded.sources:
        diagnostics.extend(check(loaded, world))
    diagnostics.sort(key=lambda d: (d.span.file != loaded.film.path, d.span.file, d.span.start, d.code))
    return Checked(loaded, world, diagnostics)


def print_diagnostics(diagnostics: list[Diagnostic], sources: dict[str, str], fmt: str = "human",
                      stream: TextIO | None = None) -> None:
    stream = stream or sys.stderr
    if fmt == "json":
        print(render_json(diagnostics, sources), file=stream)
        return
    if fmt == "short":
        for d in diagnostics:
            print(render_short(d, sources), file=stream)
        return
    console = Console(file=stream, highlight=False, soft_wrap=True)
    for d in diagnostics:
        text = render_human(d, sources)
        style = "bold red" if d.is_error else "bold yellow"
        head, _, rest = text.partition("\n")
        console.print(head, style=style, markup=False)
        if rest:
            console.print(rest, markup=False)
        console.print()
    errors = sum(d.is_error for d in diagnostics)
    warnings = len(diagnostics) - errors
    if diagnostics:
        console.print(f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}",
                      style="bold red" if errors else "bold yellow", markup=False)
