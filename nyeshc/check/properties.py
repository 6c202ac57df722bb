"""Properties, options and values: unknown keys, missing and duplicate properties, values of the
wrong shape, options without an effect, and checkpoints named in a script.

>>> from nyeshc.check import context_for
>>> ctx = context_for('look DUSK:\\n    imge: generate\\n')
>>> sink = Sink(); check_properties(ctx, sink)
>>> [(d.code, d.message, d.hints[0]) for d in sink.items]
[('E201', "a look has no property 'imge'", 'did you mean image?'), ('E205', 'look DUSK has no image', 'add one, for example image: generate')]
"""

from __future__ import annotations

from nyeshc import ir, schema
from nyeshc.check.context import Context
from nyeshc.diagnostics import Label, Sink, did_you_mean, error, warning

_ARTICLE = {"alphabet": "an alphabet", "look": "a look", "character": "a character", "music": "a music cue"}


def _elsewhere(key: str, here: str) -> str:
    """Where a property that does not belong here does belong."""
    for kind, props in schema.DEFINITIONS.items():
        if kind != here and key in props:
            return f"{key} belongs to {_ARTICLE[kind]}"
    if key in schema.DIRECTIVES and here != "scene":
        return f"{key} is a scene directive"
    if key in schema.HEADER and here != "header":
        return f"{key} belongs on the title page, at the top of the script"
    return ""


def check_properties(ctx: Context, sink: Sink) -> None:
    """E208 an unknown title-page field, E201 an unknown property or directive, E205 a
    definition without a property it needs (a look without an image)."""
    for placed in ctx.uses.props:
        if placed.spec is not None:
            continue
        p, owner = placed.prop, placed.owner
        hint = did_you_mean(p.key, placed.known)
        where = _elsewhere(p.key, owner.kind)
        if owner.kind == "header":
            sink.add(error("E208", f"{p.key!r} is not a title page field", p.key_span, hint, where,
                           "the fields are " + ", ".join(schema.HEADER)))
        elif owner.kind == "scene":
            sink.add(error("E201", f"{p.key!r} is not a scene directive", p.key_span, hint, where,
                           "the directives are " + schema.or_list(list(schema.DIRECTIVES))))
        else:
            sink.add(error("E201", f"{_ARTICLE[owner.kind]} has no property {p.key!r}", p.key_span, hint, where,
                           f"{_ARTICLE[owner.kind]} has " + schema.or_list(list(placed.known))))
    for d in ctx.film.definitions:
        if isinstance(d, ir.UnknownDef):
            continue
        specs = schema.DEFINITIONS[d.kind]  # type: ignore[index]
        present = {p.key for p in d.props}
        for spec in specs.values():
            if spec.required and spec.name not in present:
                sink.add(error("E205", f"{d.kind} {d.name} has no {spec.name}", d.name_span,
                               f"add one, for example {spec.name}: {spec.forms[0].describe}",
                               f"{spec.name} is {spec.expected}"))


def check_duplicates(ctx: Context, sink: Sink) -> None:
    """E206 a property, an option or a choice (a beat's shot) given twice."""
    for dup in ctx.uses.dups:
        sink.add(error("E206", dup.message, dup.span, "keep one of them",
                       labels=[Label(dup.first, "first given here")]))


def check_values(ctx: Context, sink: Sink) -> None:
    """E203 a value of the wrong shape, with what is expected."""
    for bad in ctx.uses.bad:
        sink.add(error("E203", bad.message, bad.span, *bad.hints))


def check_options(ctx: Context, sink: Sink) -> None:
    """E202 an unknown option (with the closest one), W210 an option with no effect here."""
    for placed in ctx.uses.options:
        if placed.spec is not None:
            continue
        o = placed.option
        key = o.key or ""
        if placed.inert:
            where = f" on {placed.what}" if placed.what else " here"
            useful = schema.or_list(list(placed.candidates)) if placed.candidates else "no options"
            sink.add(warning("W210", f"{key} has no effect{where}", o.key_span,
                             f"remove it; {placed.what or 'this'} takes {useful}"))
            continue
        hint = did_you_mean(key, placed.candidates)
        if not hint and " " in key:
            hint = did_you_mean(key.split()[0], placed.candidates)
        what = f" of {placed.what}" if placed.what else ""
        if placed.candidates:
            known = f"{placed.what or 'this'} takes " + schema.or_list(list(placed.candidates))
        else:
            known = f"{placed.what or 'this'} takes no options" if placed.what else "a scene heading takes only a duration"
        sink.add(error("E202", f"{key!r} is not an option{what}", o.key_span, hint, known))


def check_code(ctx: Context, sink: Sink) -> None:
    """E209 a script naming a checkpoint, a pickle or a Python file. Such a file is never
    opened: loading one can run code, and a script must never decide what code runs."""
    for s in ctx.uses.code:
        sink.add(error("E209", f"{s.text!r} is a checkpoint or code file; a script cannot name one", s.span,
                       "name models and checkpoints in nysh.toml beside the script; the script says what to "
                       "generate, not with which model"))
