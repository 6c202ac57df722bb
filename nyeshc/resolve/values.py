"""Reading the checked IR's values: the one way the resolve stage reads an option.

Every option read goes through :func:`option` (and the helpers built on it), which records the
read in the :mod:`~nyeshc.resolve.ledger`: an effective option nothing read is ``W211``
(``E703`` under ``NYESHC_STRICT_PLAN=1``). Times are exact :class:`~fractions.Fraction`
seconds; a time written on the music's grid (``at bar 5``) is read on a scene's
:class:`Clock`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from nyeshc import ir
from nyeshc.diagnostics import error
from nyeshc.grid import Grid
from nyeshc.resolve import ledger
from nyeshc.syntax.fountain import strip_emphasis


def half_up(x: Fraction) -> int:
    """Round half up (not half-even): one rule for every boundary."""
    return math.floor(x + Fraction(1, 2))


def num(value: ir.Value | None, default: Fraction | None = None) -> Fraction | None:
    if isinstance(value, ir.Num):
        return value.value
    if isinstance(value, ir.Percent):
        return value.value / 100
    return default


def option(options: tuple[ir.Option, ...], key: str) -> ir.Option | None:
    """The option ``key`` (the planner's one way to read an option: the read is recorded in the
    :mod:`~nyeshc.resolve.ledger`)."""
    for o in options:
        if o.key == key:
            ledger.note_read(o)
            return o
    return None


def flag(options: tuple[ir.Option, ...], choices: tuple[str, ...], default: str) -> str:
    """The last bare flag among ``choices`` (``close-up``, ``left``…), else ``default``; read."""
    found = default
    for o in options:
        if o.value is None and o.key in choices:
            ledger.note_read(o)
            found = o.key
    return found


def has_flag(options: tuple[ir.Option, ...], key: str) -> bool:
    return option(options, key) is not None


def opt_value(options: tuple[ir.Option, ...], key: str) -> ir.Value | None:
    o = option(options, key)
    return o.value if o is not None else None


def seconds(value: ir.Value | None, fps: Fraction) -> Fraction | None:
    if isinstance(value, ir.Time):
        return value.seconds(fps)
    return None


def opt_seconds(options: tuple[ir.Option, ...], key: str, fps: Fraction) -> Fraction | None:
    return seconds(opt_value(options, key), fps)


@dataclass(frozen=True, slots=True)
class Clock:
    """A scene's music clock: turns times written on the grid (``at bar 5``, ``for 2 bars``)
    into scene seconds. ``origin`` is the scene time of the cue audio's first sample (its
    ``music:`` start less its ``from``; for the soundtrack, less the scene's start in the film)."""

    grid: Grid | None = None
    origin: Fraction = Fraction(0)
    cue: str = ""
    end: Fraction | None = None  # scene time where the cue's audio ends, when known

    def point(self, v: ir.GridTime) -> Fraction | None:
        if self.grid is None:
            self.no_grid(v)
            return None
        if v.count < 1:
            return None
        n = int(v.count)
        t = self.grid.bar_time(n) if v.unit == "bar" else self.grid.beat_time(n - 1)
        at = self.origin + t
        if at < 0:
            ledger.warn(error("E704", f"{v.unit} {n} of {self.cue} comes {float(-at):.2f}s before this scene starts",
                              v.span, f"{v.unit}s count from the start of {self.cue}, not of the scene: "
                              f"this scene starts at its {v.unit} {self.first_in_scene(v.unit)}"))
            return None
        if self.end is not None and at > self.end:
            ledger.warn(error("E704", f"{v.unit} {n} is at {float(t):.2f}s of {self.cue}, past its end",
                              v.span, f"{self.cue} lasts {float(self.end - self.origin):.2f}s: "
                              "count fewer, or make the cue longer"))
        return at

    def first_in_scene(self, unit: str) -> int:
        """The first bar (or beat) of the cue that starts within the scene (1-based)."""
        assert self.grid is not None
        k = 0
        while self.origin + self.grid.beat_time(k) < 0 and k < 1_000_000:
            k += 1
        return k // self.grid.meter[0] + 1 if unit == "bar" and k % self.grid.meter[0] == 0 else \
            (k // self.grid.meter[0] + 2 if unit == "bar" else k + 1)

    def no_grid(self, v: ir.GridTime) -> None:
        ledger.warn(error("E704", f"{self.cue or 'the scene’s music'} has no grid to count {v.unit}s on", v.span,
                          "state its tempo: source: generate, tempo 72bpm (and meter 3/4), or write seconds"))

    def length(self, v: ir.GridTime, start: Fraction = Fraction(0)) -> Fraction | None:
        if self.grid is None:
            self.no_grid(v)
            return None
        beats = v.count * (self.grid.meter[0] if v.unit == "bar" else 1)
        return beats * self.grid.beat_seconds


def seconds_of(value: ir.Value | None, fps: Fraction, clock: Clock | None = None, *, length: bool = False
               ) -> Fraction | None:
    """A time option's seconds: a time, or (with the scene's ``clock``) a time on its grid."""
    if isinstance(value, ir.Time):
        return value.seconds(fps)
    if isinstance(value, ir.GridTime) and clock is not None:
        return clock.length(value) if length else clock.point(value)
    return None


def timing(options: tuple[ir.Option, ...], fps: Fraction, clock: Clock | None = None
           ) -> tuple[Fraction, Fraction | None]:
    """``(at, for)`` from ``at T``, ``for D`` or a range ``T1..T2`` (``for`` None: untimed);
    ``at bar 5`` / ``for 2 bars`` on the scene's ``clock``."""
    at_o, for_o, rng = ir.written_timing(options)
    for o in (at_o, for_o, *(o for o in options if o.key is None and isinstance(o.value, ir.Range))):
        ledger.note_read(o)
    if rng is not None:
        lo, hi = rng.lo.seconds(fps), rng.hi.seconds(fps)  # type: ignore[union-attr]
        return lo, max(Fraction(0), hi - lo)
    at = seconds_of(at_o.value if at_o is not None else None, fps, clock) or Fraction(0)
    return at, seconds_of(for_o.value if for_o is not None else None, fps, clock, length=True)


def prop(defn: ir.Definition | None, key: str) -> ir.Property | None:
    if defn is None:
        return None
    for p in defn.props:
        if p.key == key:
            return p
    return None


def spoken(text: str) -> str:
    """What is said and shown of a text: Fountain's emphasis marks (``*x*``, ``**x**``,
    ``_x_``) removed; the script keeps them for its exports."""
    return strip_emphasis(text) if ("*" in text or "_" in text) else text


def db(value: ir.Value | None) -> float:
    """A gain's decibels (0 when it is not a gain)."""
    return float(value.db) if isinstance(value, ir.Gain) else 0.0
