"""A screenplay's own marks: cue extensions and dual dialogue.

>>> from nyeshc.check import context_for
>>> ctx = context_for('SCENE 1:\\n    ANNA (WHISPERED):\\n        "a"\\n')
>>> sink = Sink(); check_cues(ctx, sink)
>>> [(d.code, d.message) for d in sink.items]
[('W212', "(WHISPERED) is not a cue extension nyeshc knows: it is kept as a note")]
"""

from __future__ import annotations

from nyeshc import ir, schema
from nyeshc.check.context import Context
from nyeshc.diagnostics import Label, Sink, error, warning


def extension_key(extension: str) -> str:
    """``v.o.`` → ``V.O.``; ``CONT 'D`` → ``CONT'D`` (Fountain writes them in any case)."""
    return extension.upper().replace(" ", "")


def check_cues(ctx: Context, sink: Sink) -> None:
    """W212 a cue extension that is none of the known ones (kept as a note; the beat is seen),
    E213 a dual-dialogue caret on the first beat of a scene (there is no beat to pair with)."""
    known = sorted({"V.O.", "O.S.", "O.C.", "OFF", "CONT'D"})
    for scene in ctx.film.scenes:
        first = True
        for item in scene.items:
            if not isinstance(item, ir.Beat):
                continue
            if item.extension is not None and extension_key(item.extension) not in schema.CUE_EXTENSIONS:
                sink.add(warning("W212", f"({item.extension}) is not a cue extension nyeshc knows: it is kept as a note",
                                 item.extension_span, "the extensions are " + ", ".join(f"({k})" for k in known),
                                 "write a direction as a parenthetical inside the beat: (whispered)"))
            if item.dual and first:
                sink.add(error("E213", "^ pairs a beat with the one before it, and this is the scene's first beat",
                               item.dual_span, "remove the ^, or put the beat it answers before it",
                               labels=[Label(item.name_span, "the first beat")]))
            first = False
