"""Limits: the canvas, the frame rate, the film's length, and bounded numbers (glyph counts,
strokes, truncation, seeds, gains…).

>>> from nyeshc.check import context_for
>>> ctx = context_for('canvas: 8000x9000, 240fps\\n')
>>> sink = Sink(); check_canvas(ctx, sink)
>>> [d.code for d in sink.items]
['E601', 'E602']
"""

from __future__ import annotations

from fractions import Fraction

from nyeshc import ir, schema
from nyeshc.check.context import Context
from nyeshc.diagnostics import Sink, error


def _num(x: Fraction) -> str:
    if x.denominator == 1:
        return str(x.numerator)
    try:
        return f"{float(x):g}"
    except OverflowError:  # beyond a float's range (out of every limit all the same): its order of magnitude
        return f"{'-' if x < 0 else ''}~1e+{int((abs(x.numerator) // x.denominator).bit_length() * 0.30103)}"


def check_canvas(ctx: Context, sink: Sink) -> None:
    """E601 a canvas larger than 8K (7680x4320) or smaller than 16x16; E602 a frame rate
    outside 1–120 fps."""
    canvas = ctx.film.header.get("canvas")
    if canvas is None:
        return
    v = canvas.value
    if isinstance(v, ir.Size):
        (wmax, hmax), (wmin, hmin) = schema.MAX_CANVAS, schema.MIN_CANVAS
        if v.width > wmax or v.height > hmax:
            sink.add(error("E601", f"the canvas {v.width}x{v.height} is larger than {wmax}x{hmax}", v.span,
                           "render at a smaller size, for example 1920x1080 or 3840x2160"))
        elif v.width < wmin or v.height < hmin:
            sink.add(error("E601", f"the canvas {v.width}x{v.height} is smaller than {wmin}x{hmin}", v.span,
                           "for example 1280x720"))
    lo, hi = schema.FPS_RANGE
    for o in canvas.options:
        if o.key is None and isinstance(o.value, ir.Rate) and not lo <= o.value.fps <= hi:
            sink.add(error("E602", f"{o.value.raw or _num(o.value.fps)} is outside {_num(lo)}–{_num(hi)} fps",
                           o.value.span, "films usually run at 24, 25 or 30 fps"))


def check_length(ctx: Context, sink: Sink) -> None:
    """E603 a film longer than 4 hours (the sum of the durations written out)."""
    total = Fraction(0)
    for item in ctx.film.body:
        if isinstance(item, (ir.Scene, ir.Credits)) and item.duration is not None:
            total += ctx.seconds(item.duration)
            if total > schema.MAX_FILM_SECONDS:
                hours = schema.MAX_FILM_SECONDS / 3600
                sink.add(error("E603", f"the film runs past {_num(hours)} hours here", item.duration.span,
                               "split it into several films"))
                return


def check_counts(ctx: Context, sink: Sink) -> None:
    """E604 a number out of its range: glyphs 1–512, strokes 1–12, truncation 0–2, seeds
    0–4294967295, a blend's weight 0–1, gains, pitch, rate…"""
    for b in ctx.uses.bounded:
        if (b.lo is not None and b.value < b.lo) or (b.hi is not None and b.value > b.hi):
            lo = _num(b.lo) if b.lo is not None else "…"
            hi = _num(b.hi) if b.hi is not None else "…"
            sink.add(error("E604", f"{b.what} {_num(b.value)} is out of range", b.span,
                           f"{b.what} must be between {lo} and {hi}"))

