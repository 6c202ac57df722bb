"""``nyeshc fmt --upgrade``: rewrite a version-1 script so its film stays the same under the
version-2 language (LANGUAGE.md, "Additions, version 2").

One rule changed a meaning: **the flow**. In version 1 every beat without ``at`` started at the
scene's start; in version 2 untimed beats play one after another in the order written. A
scene's first beat starts at 0 either way, and gives way on screen only to later *untimed*
beats; so writing ``at 0s`` on every other untimed beat keeps every start and every span as it
was, frame for frame. Nothing else in version 1 changes meaning (action lines, cue
extensions, ``^`` and the new transition spellings were syntax or check errors before).

>>> print(upgrade_text('SCENE 1:\\n    A:\\n        "x"\\n    B, left:\\n        "y"\\n'), end="")
SCENE 1:
    A:
        "x"
    B, at 0s, left:
        "y"
"""

from __future__ import annotations

from nyeshc import ir
from nyeshc.syntax.format import format_source


def _has_at(beat: ir.Beat) -> bool:
    return any(o.key == "at" for o in beat.options)


def upgrade_edits(film: ir.Film) -> list[int]:
    """Offsets (in the film's own file) where ``, at 0s`` goes: after the name of every untimed
    beat that is not its scene's first beat."""
    out: list[int] = []
    for scene in film.scenes:
        beats = [i for i in scene.items if isinstance(i, ir.Beat)]
        for beat in beats[1:]:
            if not _has_at(beat) and not beat.dual and beat.name_span.file == film.path:
                out.append(beat.name_span.end if beat.extension is None else beat.extension_span.end)
    return out


def upgrade_text(text: str, file: str = "<input>") -> str:
    """``text`` with ``at 0s`` written where the flow would move a beat, then formatted (the
    formatter orders the options). A text with syntax errors comes back unchanged."""
    from nyeshc.syntax import read

    film, diagnostics = read(text, file)
    if any(d.is_error for d in diagnostics):
        return text
    edits = upgrade_edits(film)
    for offset in sorted(edits, reverse=True):
        text = text[:offset] + ", at 0s" + text[offset:]
    if not edits:
        return text
    result = format_source(text, file)
    return result.text if result.text is not None else text
