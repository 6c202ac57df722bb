"""The resolve stage: what a checked film means, typed and placed once (nyeshc.resolve).

The planner reads fields of this model; these tests read the same fields for films whose
meaning is known, and hold the planner to reading no option or property by name.
"""

from __future__ import annotations

import ast
from fractions import Fraction
from pathlib import Path

from nyeshc import ir
from nyeshc.check import context_for, run
from nyeshc.resolve import Context, Layout, resolve
from nyeshc.resolve.directives import Backdrop, Caption, Cue, Show
from nyeshc.resolve.ledger import Ledger, keeping
from nyeshc.syntax import read
from plan_fakes import FakeServices

GRAPH = Path(__file__).resolve().parents[2] / "nyeshc" / "plan" / "graph.py"


def resolved(text: str) -> tuple[Context, Layout, Ledger, ir.Film]:
    errors = [d for d in run(context_for(text, "film.nysh")) if d.is_error]
    assert errors == [], errors
    film, _ = read(text, "film.nysh")
    led = Ledger()
    with keeping(led):
        ctx, lay = resolve(film, FakeServices(), "/films")
    return ctx, lay, led, film


def test_directives_are_typed_with_their_times_placed() -> None:
    text = ("canvas: 160x90, 24fps\n\n"
            "SCENE 1, 10s:\n"
            "    backdrop: seed 3, zoom 1 -> 1.5, pan left, fade in 1s\n"
            "    caption: \"hello *there*\", 2s..5s, top, fade out 12f\n"
            "    show: \"clip.mp4\", at 1s, for 3s, from 2s, top, left, gain -6dB\n"
            "    music: \"tone.wav\", at 4s, from 1s, gain -3dB\n")
    _, lay, _, _ = resolved(text)
    [track] = lay.tracks
    backdrop, caption, show, cue = track.directives
    assert isinstance(backdrop, Backdrop) and backdrop.at == 0 and backdrop.dur is None
    assert backdrop.camera.zooms == (1, Fraction(3, 2)) and backdrop.camera.pan == "left"
    assert backdrop.camera.factor == Fraction(3, 2) * Fraction(11, 10)  # the largest zoom, a pan's margin
    assert backdrop.fades.fade_in == 1 and backdrop.fades.fade_out == 0
    assert isinstance(caption, Caption) and (caption.at, caption.dur) == (2, 3)  # the range places it
    assert caption.text == "hello there" and caption.alphabet is None  # emphasis marks are not shown
    assert caption.position == "top"
    assert caption.fades.fade_out == Fraction(12, 24)
    assert isinstance(show, Show) and (show.at, show.dur, show.source_from) == (1, 3, 2)
    assert show.position == frozenset({"top", "left"}) and show.gain_db == -6.0
    assert isinstance(cue, Cue) and cue.kind == "music" and cue.sound.what == "tone.wav"
    assert (cue.at, cue.dur, cue.sound.source_from, cue.sound.gain_db) == (4, None, 1, -3.0)


def test_a_directive_at_flow_sits_where_the_flow_stood() -> None:
    text = ("canvas: 160x90, 24fps\n\ncharacter NARRATOR:\n    portrait: generate\n\n"
            "SCENE 1:\n"
            "    NARRATOR:\n        \"Hello there.\"\n"
            "    caption: \"after\", at flow, for 2s\n")
    _, lay, _, _ = resolved(text)
    [track] = lay.tracks
    [caption] = track.directives
    [beat] = track.beats
    line_end = beat.at + Fraction(beat.audio, 48_000)
    assert caption.at == line_end + Fraction(3, 10)  # the line, then the flow's gap
    assert track.duration >= caption.at + 2  # a timed caption lengthens the untimed scene


def test_times_on_the_grid_are_placed_in_seconds() -> None:
    text = ("canvas: 160x90, 24fps\n\nmusic THEME:\n    source: generate, tempo 120bpm, meter 3/4\n\n"
            "SCENE 1, 10s:\n    music: THEME, at 1s\n    caption: \"x\", at bar 2, for 2 bars\n")
    _, lay, _, _ = resolved(text)
    _, caption = lay.tracks[0].directives
    assert (caption.at, caption.dur) == (Fraction(5, 2), 3)  # bar 2 = 1.5 s into the cue; a bar is 1.5 s


def test_definitions_are_typed_and_read_only_where_their_kind_uses_them() -> None:
    text = ("canvas: 160x90, 24fps\n\n"
            "look DUSK:\n    image: generate \"violet dusk\", seed 7, truncation 0.6\n\n"
            "look PHOTO:\n    image: \"photo.png\", seed 9\n\n"
            "alphabet NYESH:\n    glyphs: 12\n    strokes: 3..4\n    ink: #102030\n\n"
            "music THEME:\n    source: generate, genre \"ambient\", seed 4, length 8s\n    lyrics: \"la la\"\n\n"
            "character ANNA:\n    portrait: blend(DUSK, seed 3)\n    motion: still\n"
            "    voice: asemic, pitch 1.2\n\n"
            "SCENE 1, 4s:\n    backdrop: PHOTO\n    music: THEME\n    caption: NYESH \"x\"\n\n"
            "    ANNA:\n        \"Hello.\"\n")
    ctx, _, led, film = resolved(text)
    defs = ctx.defs
    dusk, photo = defs.looks["DUSK"], defs.looks["PHOTO"]
    assert (dusk.kind, dusk.seed, dusk.truncation, dusk.prompt) == ("generate", 7, Fraction(3, 5), "violet dusk")
    assert photo.kind == "file" and photo.path is not None and photo.path.text == "photo.png" and photo.seed is None
    assert defs.portraits["ANNA"].kind == "blend" and defs.motions["ANNA"].still
    assert defs.voices["ANNA"].pitch == 1.2 and defs.voices["ANNA"].mode == "asemic"
    a = defs.alphabets["NYESH"]
    assert (a.count, a.strokes, a.ink) == (12, (3, 4), (0x10, 0x20, 0x30))
    m = defs.music["THEME"]
    assert (m.kind, m.genre, m.seed, m.length, m.lyrics) == ("generate", "ambient", 4, 8, "la la")
    # a file look's seed is never read: the audit says it has no effect
    photo_seed = next(o for d in film.definitions if d.name == "PHOTO" for p in d.props for o in p.options
                      if o.key == "seed")
    assert id(photo_seed) not in led.read_ids
    dusk_seed = next(o for d in film.definitions if d.name == "DUSK" for p in d.props for o in p.options
                     if o.key == "seed")
    assert id(dusk_seed) in led.read_ids


def test_title_page_values_are_read_once() -> None:
    text = ("canvas: 160x90, 24fps\nsubtitles: NYESH\nduck: -12dB\nsoundtrack: \"bed.wav\", from 2s\n\n"
            "alphabet NYESH:\n    glyphs: 12\n\nSCENE 1, 4s:\n    backdrop: seed 1\n")
    _, lay, _, _ = resolved(text)
    assert lay.subtitles == ("alphabet", "NYESH") and lay.duck_db == -12.0
    st = lay.soundtrack
    assert st is not None and st.sound.what == "bed.wav" and st.sound.source_from == 2
    assert lay.music_need == {}  # a recording plays what it has; only cues by name are generated to length


def test_the_planner_reads_no_option_or_property_by_name() -> None:
    """plan/graph.py reads the resolved model's fields: no option helper, no property lookup, no
    title-page field, no definition by kind (each was a second reading of the script's meaning)."""
    tree = ast.parse(GRAPH.read_text(encoding="utf-8"))
    readers = {"option", "opt_value", "opt_seconds", "flag", "has_flag", "prop", "timing", "directive_timing"}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
            if name in readers or name == "defs" or (name == "get" and isinstance(f, ast.Attribute)
                                                     and isinstance(f.value, ast.Attribute)
                                                     and f.value.attr == "header"):
                found.append(f"line {node.lineno}: {name}")
        if isinstance(node, ast.Attribute) and node.attr == "options" and isinstance(node.ctx, ast.Load):
            found.append(f"line {node.lineno}: .options")
    assert found == []
    assert ir.written_timing  # the at/for/range rule is stated once, for the checker and the resolve stage
