"""Transitions: their names and durations, where they stand, how long they are, and morphs.

>>> from nyeshc.check import context_for
>>> ctx = context_for('SCENE 1, 2s:\\n    caption: "a"\\nDISOLVE TO: 1s\\nSCENE 2, 2s:\\n    caption: "b"\\n')
>>> sink = Sink(); check_transition_names(ctx, sink)
>>> [(d.code, d.hints[0]) for d in sink.items]
[('W214', 'did you mean DISSOLVE TO?')]
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

from nyeshc import ir, schema
from nyeshc.check.context import Context
from nyeshc.diagnostics import Label, Sink, Span, did_you_mean, error, warning


def _keyword_span(ctx: Context, t: ir.Transition) -> Span:
    """The transition's words, without the colon and the duration."""
    text = ctx.text(t.span)
    colon = text.find(":")
    end = t.span.start + colon if colon >= 0 else t.span.start + len(t.kind)
    return Span(t.span.file, t.span.start, end)


def _sequence(film: ir.Film) -> list[ir.Scene | ir.Transition | ir.Credits]:
    return [i for i in film.body if not isinstance(i, ir.Note)]


def _neighbours(film: ir.Film) -> Iterator[tuple[ir.Transition, object, object]]:
    """Each transition with the item before and after it (notes skipped; None at the ends)."""
    seq = _sequence(film)
    for i, item in enumerate(seq):
        if isinstance(item, ir.Transition):
            yield item, (seq[i - 1] if i > 0 else None), (seq[i + 1] if i + 1 < len(seq) else None)


def _spellings() -> list[str]:
    return list(schema.TRANSITIONS) + list(schema.TRANSITION_SYNONYMS)


def check_transition_names(ctx: Context, sink: Sink) -> None:
    """W214 a capitalised ``… TO:`` that no screenwriter's spelling matches (a cut, with the
    nearest spelling), E204 another unknown transition, E205 a crossfade or morph without a
    duration, W210 a duration on a cut. Screenwriters' spellings (``DISSOLVE TO:``,
    ``SMASH CUT TO:``, ``FADE TO:``…) are the transitions they name."""
    for t in ctx.film.body:
        if not isinstance(t, ir.Transition):
            continue
        spec = schema.transition(t.kind)
        if spec is None:
            near = did_you_mean(t.kind, _spellings())
            if t.kind.endswith(" TO"):
                sink.add(warning("W214", f"{t.kind} is not a transition screenwriters use: it is a cut",
                                 _keyword_span(ctx, t), near, "the transitions are " + ", ".join(_spellings())))
            else:
                sink.add(error("E204", f"{t.kind} is not a transition nyeshc knows", _keyword_span(ctx, t), near,
                               "the transitions are " + ", ".join(_spellings())))
            continue
        if spec.duration == "required" and t.duration is None and not t.extra:
            sink.add(error("E205", f"{t.kind} needs a duration", _keyword_span(ctx, t),
                           f"for example {spec.doc}"))
        elif spec.duration == "none" and t.duration is not None:
            sink.add(warning("W210", "a cut has no duration", t.duration.span,
                             "remove it, or use CROSSFADE TO: for a gradual change"))


def _scene_name(item: object) -> str:
    if isinstance(item, ir.Scene):
        h = item.heading
        return f"scene {h.number}" if h.number else (f'"{h.title}"' if h.title else "the scene")
    return "the credits"


def check_transition_places(ctx: Context, sink: Sink) -> None:
    """E305 a transition where it cannot act: a crossfade before the first scene, a fade out
    with no scene before it, two transitions in a row (FADE OUT then FADE IN is fine)."""
    for t, before, after in _neighbours(ctx.film):
        spec = schema.transition(t.kind)
        if spec is None:
            continue
        span = _keyword_span(ctx, t)
        if isinstance(before, ir.Transition):
            first = schema.transition(before.kind)
            fade_pair = first is not None and first.name in ("FADE OUT", "FADE TO BLACK") and spec.name == "FADE IN"
            if not fade_pair:
                sink.add(error("E305", f"two transitions in a row: {before.kind} then {t.kind}", span,
                               "keep one of them, or put a scene between them",
                               labels=[Label(_keyword_span(ctx, before), "the first transition")]))
                continue
        elif spec.joins in ("both", "previous") and before is None:
            hint = "start the film with FADE IN:, or move this after a scene"
            sink.add(error("E305", f"{t.kind} has no scene before it", span, hint))
        if spec.joins in ("both", "next") and after is None:
            hint = "end the film with FADE OUT:, or add a scene after it" if spec.joins == "both" \
                else "remove it, or add a scene after it"
            sink.add(error("E305", f"{t.kind} has no scene after it", span, hint))


def _duration(item: object) -> ir.Time | None:
    return item.duration if isinstance(item, (ir.Scene, ir.Credits)) else None


def check_transition_lengths(ctx: Context, sink: Sink) -> None:
    """E304 a transition longer than a scene it joins (both durations written out)."""
    for t, before, after in _neighbours(ctx.film):
        spec = schema.transition(t.kind)
        if spec is None or t.duration is None or t.duration.amount < 0:
            continue
        length = ctx.seconds(t.duration)
        sides = {"both": (before, after), "next": (after,), "previous": (before,)}[spec.joins]
        for side in sides:
            d = _duration(side)
            if d is None or d.amount < 0:
                continue
            if length > ctx.seconds(d):
                sink.add(error("E304", f"{t.kind} lasts {t.duration.raw or _secs(length)}, longer than "
                                       f"{_scene_name(side)} ({d.raw or _secs(ctx.seconds(d))})",
                               t.duration.span, "shorten the transition or lengthen the scene",
                               labels=[Label(d.span, "the scene's duration")]))
                break


def _secs(x: Fraction) -> str:
    try:
        return f"{float(x):g}s"
    except OverflowError:  # beyond a float's range (out of every limit all the same): its order of magnitude
        return f"{'-' if x < 0 else ''}~1e+{int((abs(x.numerator) // x.denominator).bit_length() * 0.30103)}s"


def _look_generated(ctx: Context, name: str) -> bool | None:
    d = ctx.definitions.get(name)
    if not isinstance(d, ir.LookDef):
        return None  # unknown or wrong kind: reported elsewhere
    for p in d.props:
        if p.key == "image":
            if isinstance(p.value, ir.Call) or (isinstance(p.value, ir.Word) and p.value.word == "generate") \
                    or (isinstance(p.value, ir.Styled) and p.value.alphabet.word == "generate"):
                return True
            return False
    return None


def _stop_generated(ctx: Context, v: ir.Value | None) -> bool | None:
    if isinstance(v, ir.Seed):
        return True
    if isinstance(v, ir.Word):
        return _look_generated(ctx, v.word)
    return False


def _backdrop(ctx: Context, item: object, end: str) -> tuple[bool | None, Span | None]:
    """Whether ``item``'s backdrop at its ``end`` ("first" or "last") is a generated latent."""
    if not isinstance(item, ir.Scene):
        return False, None
    backdrops = [p for p in item.items if isinstance(p, ir.Property) and p.key == "backdrop"]
    if not backdrops:
        if item.heading.style == "fountain" and schema.heading_place(item.heading.title) is not None:
            return True, None  # the place's generated backdrop (LANGUAGE.md, "Places and prompts")
        return False, None
    p = backdrops[0] if end == "first" else backdrops[-1]
    v = p.value
    if isinstance(v, ir.Morph) and v.stops:
        return _stop_generated(ctx, v.stops[0] if end == "first" else v.stops[-1]), p.key_span
    return _stop_generated(ctx, v), p.key_span


def check_morphs(ctx: Context, sink: Sink) -> None:
    """W207 MORPH TO where the backdrop on either side is not generated: there is no latent to
    morph through, so the film crossfades instead."""
    for t, before, after in _neighbours(ctx.film):
        spec = schema.transition(t.kind)
        if spec is None or spec.name != "MORPH TO":
            continue
        for item, end, side in ((before, "last", "outgoing"), (after, "first", "incoming")):
            if item is None or isinstance(item, ir.Transition):
                continue
            generated, where = _backdrop(ctx, item, end)
            if generated is False:
                labels = [Label(where, f"the {side} backdrop")] if where is not None else []
                why = "has no backdrop" if where is None else "has a backdrop that is not generated"
                sink.add(warning("W207", f"MORPH TO falls back to a crossfade: {_scene_name(item)} {why}",
                                 _keyword_span(ctx, t),
                                 "a morph needs generated backdrops on both sides (a look with image: generate, "
                                 "blend(…), or a seed); or write CROSSFADE TO:", labels=labels))
                break


def _look_image(ctx: Context, name: str) -> ir.Property | None:
    d = ctx.definitions.get(name)
    if not isinstance(d, ir.LookDef):
        return None
    return next((p for p in d.props if p.key == "image"), None)


def _latent_stops(ctx: Context) -> list[tuple[ir.Word, str, str | None]]:
    """Every look named where a latent is needed: ``(word, what, owner look)`` for morph stops
    and ``blend(…)`` arguments in looks, portraits and backdrops."""
    out: list[tuple[ir.Word, str, str | None]] = []

    def blend(v: ir.Value | None, owner: str | None) -> None:
        if isinstance(v, ir.Call) and v.name == "blend":
            out.extend((a, "blend", owner) for a in v.args if isinstance(a, ir.Word))

    for d in ctx.film.definitions:
        for p in d.props:
            if (isinstance(d, ir.LookDef) and p.key == "image") or (isinstance(d, ir.CharacterDef)
                                                                     and p.key == "portrait"):
                blend(p.value, d.name if isinstance(d, ir.LookDef) else None)
    for scene in ctx.film.scenes:
        for p in scene.directives:
            if p.key == "backdrop" and isinstance(p.value, ir.Morph):
                out.extend((s, "morph", None) for s in p.value.stops if isinstance(s, ir.Word))
    return out


def _reaches(ctx: Context, start: str, target: str, seen: set[str]) -> bool:
    """Whether look ``start``'s blend passes through look ``target``."""
    if start in seen:
        return False
    seen.add(start)
    p = _look_image(ctx, start)
    if p is None or not isinstance(p.value, ir.Call):
        return False
    for a in p.value.args:
        if isinstance(a, ir.Word) and (a.word == target or _reaches(ctx, a.word, target, seen)):
            return True
    return False


def check_latent_stops(ctx: Context, sink: Sink) -> None:
    """W207 a morph stop that is a picture file (no latent: the morph crossfades into it);
    E203 a blend argument that is a picture file (nothing to mix), or a look whose blend passes
    through itself."""
    for word, what, owner in _latent_stops(ctx):
        p = _look_image(ctx, word.word)
        if p is None:
            continue  # unknown or the wrong kind: E101/E103
        if _look_generated(ctx, word.word) is False:
            labels = [Label(p.span, f"{word.word}'s image")]
            if what == "morph":
                sink.add(warning("W207", f"the morph crossfades into {word.word}: a picture file has no latent to "
                                         "travel through", word.span,
                                 f"make {word.word} generated (image: generate or blend(…)) for a true morph",
                                 labels=labels))
            else:
                sink.add(error("E203", f"a blend mixes generated looks and seeds; {word.word} is a picture file, "
                                       "which has no latent", word.span,
                               f"make {word.word} generated (image: generate or blend(…)), or use a seed here",
                               labels=labels))
        elif owner is not None and (word.word == owner or _reaches(ctx, word.word, owner, set())):
            sink.add(error("E203", f"look {owner}'s blend passes through {owner} itself", word.span,
                           "blend seeds or other looks"))
