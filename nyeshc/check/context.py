"""What every pass sees: the film, its sources, the I/O gate, and facts derived once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property
from pathlib import Path

from nyeshc import ir, schema
from nyeshc.check.walk import Uses, walk
from nyeshc.diagnostics import Span
from nyeshc.world import World


@dataclass
class Context:
    """One film under check. Derived facts (the definitions by name, the frame rate, the walk
    over every value) are computed once, on first use, so each pass stays linear."""

    film: ir.Film
    sources: Mapping[str, str] = field(default_factory=dict)
    paths: Mapping[str, Path] = field(default_factory=dict)
    world: World | None = None

    @cached_property
    def definitions(self) -> dict[str, ir.Definition]:
        """Definitions by name, the first of each name (duplicates are reported by a pass)."""
        out: dict[str, ir.Definition] = {}
        for d in self.film.definitions:
            out.setdefault(d.name, d)
        return out

    @cached_property
    def fps(self) -> Fraction:
        """The header's frame rate when it is usable, else the default."""
        canvas = self.film.header.get("canvas")
        if canvas is not None:
            for o in canvas.options:
                if o.key is None and isinstance(o.value, ir.Rate):
                    if schema.FPS_RANGE[0] <= o.value.fps <= schema.FPS_RANGE[1]:
                        return o.value.fps
        return schema.DEFAULT_FPS

    @cached_property
    def uses(self) -> Uses:
        return walk(self.film)

    def seconds(self, t: ir.Time) -> Fraction:
        return t.seconds(self.fps)

    def text(self, span: Span) -> str:
        """The source text under ``span`` ("" when the file is unknown)."""
        src = self.sources.get(span.file, "")
        return src[span.start : span.end]

    def base(self, file: str) -> Path | None:
        """The real path of the script a span belongs to (relative paths start beside it)."""
        return self.paths.get(file)

