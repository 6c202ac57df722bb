"""Names: definitions (duplicates, unknown kinds, lowercase characters), references, scene numbers.

>>> from nyeshc.check import context_for
>>> ctx = context_for('character NARRATOR:\\n    portrait: generate\\nSCENE 1:\\n    NARATOR:\\n        "hi"\\n')
>>> sink = Sink(); check_references(ctx, sink)
>>> [(d.code, d.hints) for d in sink.items]
[('E101', ('did you mean NARRATOR?',))]
"""

from __future__ import annotations

import re

from nyeshc import ir, schema
from nyeshc.check.context import Context
from nyeshc.diagnostics import Label, Sink, Span, did_you_mean, error, warning

_ARTICLE = {"alphabet": "an alphabet", "look": "a look", "character": "a character", "music": "a music cue",
            "unknown": "a definition of unknown kind"}


def check_definitions(ctx: Context, sink: Sink) -> None:
    """E102 a name defined twice, E105 an unknown definition kind, W104 a lowercase character."""
    first: dict[str, ir.Definition] = {}
    for d in ctx.film.definitions:
        if isinstance(d, ir.UnknownDef):
            span = Span(d.span.file, d.span.start, d.span.start + len(d.keyword))
            sink.add(error("E105", f"{d.keyword!r} is not a kind of definition", span,
                           did_you_mean(d.keyword, schema.DEFINITION_KINDS),
                           "a definition is alphabet, look, character or music"))
        elif d.kind == "character" and d.name != d.name.upper():
            sink.add(warning("W104", f"character {d.name} is not written in capitals", d.name_span,
                             f"screenplays write character names in capitals: {d.name.upper()}"))
        prior = first.get(d.name)
        if prior is None:
            first[d.name] = d
            continue
        sink.add(error("E102", f"{d.name} is defined twice", d.name_span,
                       "rename one of them, or delete the one you do not want",
                       labels=[Label(prior.name_span, f"{d.name} is first defined here, as {_ARTICLE[prior.kind]}")]))


def check_references(ctx: Context, sink: Sink) -> None:
    """E101 a name nothing defines (with the closest name of the right kind), E103 a name of
    the wrong kind (a backdrop naming a character)."""
    by_kind: dict[str, list[str]] = {}
    for name, d in ctx.definitions.items():
        by_kind.setdefault(d.kind, []).append(name)
    for ref in ctx.uses.refs:
        d = ctx.definitions.get(ref.word)
        if d is None:
            article = _ARTICLE[ref.kind]
            pool = [*by_kind.get(ref.kind, []), *ref.keywords]
            hint = did_you_mean(ref.word, pool)
            if not hint:
                hint = f"define it: {ref.kind} {ref.word}:"
            hint2 = f"{ref.what} is {schema.or_list([*ref.keywords, article])}" if ref.keywords else ""
            sink.add(error("E101", f"no {ref.kind if ref.kind != 'music' else 'music cue'} is named {ref.word}",
                           ref.span, hint, hint2))
        elif d.kind != ref.kind and d.kind != "unknown":
            sink.add(error("E103", f"{ref.word} is {_ARTICLE[d.kind]}, but {ref.what} needs {_ARTICLE[ref.kind]}",
                           ref.span, did_you_mean(ref.word, by_kind.get(ref.kind, [])),
                           labels=[Label(d.name_span, f"{ref.word} is defined here")]))


_NUMBER = re.compile(r"SCENE\s+(\S+)")


def _number_span(ctx: Context, h: ir.Heading) -> Span:
    m = _NUMBER.match(ctx.text(h.span))
    if m is None:
        return h.span
    return Span(h.span.file, h.span.start + m.start(1), h.span.start + m.end(1))


def check_scene_numbers(ctx: Context, sink: Sink) -> None:
    """E106 two scenes with one number."""
    first: dict[str, ir.Heading] = {}
    for scene in ctx.film.scenes:
        h = scene.heading
        if h.number is None:
            continue
        prior = first.setdefault(h.number, h)
        if prior is not h:
            sink.add(error("E106", f"there are two scenes numbered {h.number}", _number_span(ctx, h),
                           "renumber the scene, or drop the number (scenes need not have one)",
                           labels=[Label(_number_span(ctx, prior), f"scene {h.number} is here")]))
