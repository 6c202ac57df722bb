"""Time: negative times, ranges that end before they start, zero lengths, and elements that
outlast a scene's written duration.

>>> from nyeshc.check import context_for
>>> ctx = context_for('SCENE 1, 5s:\\n    caption: "a", at 3s, for 4s\\n')
>>> sink = Sink(); check_scene_fit(ctx, sink)
>>> [(d.code, d.message) for d in sink.items]
[('W303', 'the caption ends at 7s, after the scene (5s)')]
"""

from __future__ import annotations

from fractions import Fraction

from nyeshc import ir
from nyeshc.check.context import Context
from nyeshc.check.walk import show
from nyeshc.diagnostics import Label, Sink, Span, error, warning


def _secs(x: Fraction) -> str:
    try:
        return f"{float(x):g}s"
    except OverflowError:  # beyond a float's range (out of every limit all the same): its order of magnitude
        return f"{'-' if x < 0 else ''}~1e+{int((abs(x.numerator) // x.denominator).bit_length() * 0.30103)}s"


def check_times(ctx: Context, sink: Sink) -> None:
    """E301 a negative time, W306 a zero length (``for 0s``, a 0 s scene or transition)."""
    for use in ctx.uses.times:
        v = use.value
        if not isinstance(v, ir.Time):  # the walk keeps only negative non-times
            sink.add(error("E301", f"{use.what} cannot be negative ({show(v)})", v.span,
                           "times count from the start of the scene (or of the source, for from)"))
        elif v.amount == 0 and use.role == "length":
            sink.add(warning("W306", f"{use.what} lasts no time at all ({v.raw or '0s'})", v.span,
                             "give it a length, or remove it"))


def check_ranges(ctx: Context, sink: Sink) -> None:
    """E302 a range that ends before it starts (``8s..2s``, ``5..2``); W306 an empty time range."""
    for r, what in ctx.uses.ranges:
        lo, hi = r.lo, r.hi
        if isinstance(lo, ir.Time) and isinstance(hi, ir.Time):
            a, b = ctx.seconds(lo), ctx.seconds(hi)
        elif isinstance(lo, ir.Num) and isinstance(hi, ir.Num):
            a, b = lo.value, hi.value
        else:
            continue
        if b < a:
            sink.add(error("E302", f"the {what} ends before it starts ({show(r)})", r.span,
                           f"write the smaller end first: {show(hi)}..{show(lo)}"))
        elif b == a and isinstance(lo, ir.Time):
            sink.add(warning("W306", f"the {what} {show(r)} lasts no time at all", r.span,
                             "make its end later than its start"))


def _written(options: tuple[ir.Option, ...]) -> tuple[ir.Time | None, ir.Time | None, ir.Range | None]:
    """``at``, ``for`` and a range, as written in seconds or frames (times on the music's grid and
    ``at flow`` are the resolve stage's: it knows the grid and the flow)."""
    at, length, rng = ir.written_timing(options)
    return (at.value if at is not None and isinstance(at.value, ir.Time) else None,
            length.value if length is not None and isinstance(length.value, ir.Time) else None, rng)


def check_scene_fit(ctx: Context, sink: Sink) -> None:
    """W303 an element timed past its scene's written duration: a cue or caption whose
    ``at``/``for`` or range ends after it, a beat that starts after it, a sung cue too long.
    (Whether dialogue fits depends on its audio, which is the planner's to measure.)"""
    for scene in ctx.film.scenes:
        if scene.duration is None or scene.duration.amount <= 0:
            continue
        total = ctx.seconds(scene.duration)
        label = [Label(scene.duration.span, "the scene's duration")]

        def report(what: str, end: Fraction, span: Span, starts: bool = False) -> None:
            verb = "starts" if starts else "ends"
            sink.add(warning("W303", f"{what} {verb} at {_secs(end)}, after the scene ({_secs(total)})", span,
                             "it is cut at the end of the scene; shorten it, start it earlier or lengthen the scene",
                             labels=label))

        for item in scene.items:
            if isinstance(item, ir.Property):
                what = f"the {item.key}"
                at, length, rng = _written(item.options)
                start = ctx.seconds(rng.lo) if rng else (ctx.seconds(at) if at else Fraction(0))
                if start >= total and (rng or at):
                    report(what, start, (rng.lo if rng else at).span, starts=True)  # type: ignore[union-attr]
                elif rng is not None and ctx.seconds(rng.hi) > total:
                    report(what, ctx.seconds(rng.hi), rng.hi.span)
                elif length is not None and start + ctx.seconds(length) > total:
                    report(what, start + ctx.seconds(length), length.span)
            elif isinstance(item, ir.Beat):
                at = _written(item.options)[0]
                start = ctx.seconds(at) if at else Fraction(0)
                if at is not None and start >= total:
                    report(f"{item.character}'s beat", start, at.span, starts=True)
                    continue
                lines = [x for x in item.lines if not isinstance(x, ir.Note)]
                first = lines[0] if lines else None
                if isinstance(first, ir.Action) and first.verb == "sings":
                    length = _written(first.options)[1]
                    if length is not None and start + ctx.seconds(length) > total:
                        report(f"{item.character}'s song", start + ctx.seconds(length), length.span)


def _grid_times(options: tuple[ir.Option, ...]) -> list[ir.GridTime]:
    return [o.value for o in options if isinstance(o.value, ir.GridTime)]


def check_grid(ctx: Context, sink: Sink) -> None:
    """E307 a time written on the music's grid (``at bar 5``) in a scene with no ``music:`` cue
    and a film with no ``soundtrack``, or ``cuts: on bar`` with no soundtrack: there is no grid
    to count on."""
    header = ctx.film.header
    soundtrack = header.get("soundtrack") is not None
    cuts = header.get("cuts")
    if cuts is not None and not soundtrack:
        sink.add(error("E307", "cuts snap to the soundtrack's grid, and the film has no soundtrack", cuts.key_span,
                       "add a soundtrack: THEME on the title page, or remove cuts"))
    for scene in ctx.film.scenes:
        if soundtrack or any(p.key == "music" for p in scene.directives):
            continue
        found: list[ir.GridTime] = []
        for item in scene.items:
            if isinstance(item, (ir.Property, ir.Beat, ir.ActionLine)):
                found += _grid_times(item.options)
            if isinstance(item, ir.Beat):
                for line in item.lines:
                    if isinstance(line, (ir.Dialogue, ir.Action)):
                        found += _grid_times(line.options)
        for v in found:
            sink.add(error("E307", f"{v.unit} {int(v.count)} is counted on the scene's music, and this scene has none"
                           if v.point else f"{v.unit}s are counted on the scene's music, and this scene has none",
                           v.span, "add music: CUE to the scene (or a soundtrack to the film), or write seconds"))
