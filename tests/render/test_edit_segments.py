"""An edit re-renders exactly the segments it should, counted kind by kind of edit.

Plans a small film, edits it one way, plans it again and compares the segment keys
(``nyeshc.render.segments``): a segment is re-rendered exactly when its key is new. The
expected set is derived independently, from the layers the edit changed: the spans of the
film, in the edited scene, during which a changed layer is shown (an overlap counts when either
of its scenes shows one). No job runs and nothing is rendered: the keys are what the render
looks up in the cache, so counting new keys counts re-rendered segments."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from nyeshc import pipeline
from nyeshc.plan.model import Timeline
from nyeshc.render.segments import Span, encode_settings, segment_key, spans

FILM = '''title: "Edits"
canvas: 640x360, 24fps
seed: 1

look SEA:
    image: generate, seed 7
look DUSK:
    image: generate, seed 42

character KEEPER:
    portrait: generate, seed 11
    voice: asemic
    motion: lipsync

SCENE 1 "Harbour", 10s:
    backdrop: SEA
    caption: "The harbour", at 1s, for 3s, bottom

CROSSFADE TO: 1s

SCENE 2 "Keeper", 14s:
    backdrop: DUSK
    caption: "Night", at 1s, for 2s, top

    KEEPER, at 2s, medium, right:
        "Someone is still at sea."

    KEEPER, at 9s, medium, right:
        "Nobody answers."
'''

SETTINGS = encode_settings("medium", 20)


class _Quiet:
    def __getattr__(self, name: str) -> object:
        return lambda *a, **k: None


def _timeline(tmp_path: Path, text: str, name: str) -> Timeline:
    script = tmp_path / f"{name}.nysh"
    script.write_text(text, encoding="utf-8")
    return pipeline.prepare(script, _Quiet()).plan.timeline  # type: ignore[arg-type]


def _keys(tl: Timeline) -> dict[str, Span]:
    return {segment_key(tl, sp, SETTINGS): sp for sp in spans(tl)}


def _rel(layer: object, scene_start: int) -> tuple[object, ...]:
    """A layer as plain, hashable data with its times relative to its scene's start."""
    d = dataclasses.asdict(layer)  # type: ignore[call-overload]
    d["start"] -= scene_start
    d["end"] -= scene_start
    return tuple(sorted((k, repr(v)) for k, v in d.items()))


def _expected(old: Timeline, new: Timeline) -> set[tuple[int, int]]:
    """The spans of ``new`` showing a layer that ``old``'s scene of the same title did not have."""
    before = {s.title: {_rel(L, s.start) for L in s.layers} for s in old.scenes}
    changed = [(L.start, L.end) for s in new.scenes for L in s.layers
               if _rel(L, s.start) not in before.get(s.title, set())]
    return {(sp.start, sp.end) for sp in spans(new) if any(a < sp.end and b > sp.start for a, b in changed)}


EDITS = {
    # kind of edit: (old text, new text, how many segments it re-renders)
    "no change": ("", "", 0),
    # segments are 4 s cells cut again where a layer starts or ends (pieces of at least 1 s):
    # the line's piece only; the beat's hold after it (drawn silent, in pieces of its own) and
    # beat 1 are untouched
    "dialogue line (scene 2, beat 2)": ('"Nobody answers."', '"Nobody answers now."', 1),
    "caption text (scene 1)": ('caption: "The harbour"', 'caption: "The old harbour"', 1),
    # the caption's end moves from 3 s to 4 s: the piece it starts in and the one it now ends in
    "caption timing (scene 2)": ('"Night", at 1s, for 2s', '"Night", at 1s, for 3s', 2),
    # every piece of scene 2 and the crossfade into it (each beat's idle hold is cut in 1 s
    # pieces up to the next 4 s cell, plan.lipsync.hold); scene 1's own segments stay
    "backdrop (scene 2)": ("    backdrop: DUSK", "    backdrop: SEA", 11),
    # a scene put first moves the others along the timeline: only its own segment is new
    "a scene inserted first": ('SCENE 1 "Harbour"', 'SCENE 0 "Prologue", 4s:\n    backdrop: DUSK\n\nSCENE 1 "Harbour"', 1),
}


@pytest.mark.parametrize("kind", list(EDITS))
def test_an_edit_rerenders_exactly_the_segments_showing_what_changed(tmp_path: Path, kind: str) -> None:
    old_text, new_text, count = EDITS[kind]
    old = _timeline(tmp_path, FILM, "before")
    edited = FILM.replace(old_text, new_text, 1) if old_text else FILM
    assert edited != FILM or not old_text
    new = _timeline(tmp_path, edited, "after")
    before = _keys(old)
    rerendered = {(sp.start, sp.end) for k, sp in _keys(new).items() if k not in before}
    assert rerendered == _expected(old, new), kind
    assert len(rerendered) == count, (kind, sorted(rerendered), [(s.start, s.end, s.kind) for s in spans(new)])
