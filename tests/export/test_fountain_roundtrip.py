"""Fountain out and back in gives the same film: every example and every test screenplay,
``export → import → plan``, has the same scenes, transitions and length (±1 frame a scene; in
fact the same frames), the same definitions and header, and a second round trip changes no
byte (of the Fountain, nor of the ``.nysh``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from fountain_support import (EXAMPLES, SAMPLES, SCREENPLAYS, cli, export_file, import_text, imported, plan_of,
                              scene_frames, stem)

from nyeshc import ir
from nyeshc.syntax import load
from nyeshc.syntax.format import canonical_ir

CASES = [*EXAMPLES, *SCREENPLAYS]


def _start(src: Path, folder: Path) -> Path:
    """The film to start from: an example as it is, a screenplay as imported."""
    return src if src.suffix == ".nysh" else imported(src, folder / "start")


def _without_notes(film: ir.Film) -> dict:
    body = []
    for item in film.body:
        if isinstance(item, ir.Note):
            continue  # a note between scenes may come back inside the scene before it
        if isinstance(item, ir.Scene):
            item = dataclasses.replace(item, items=tuple(i for i in item.items if not isinstance(i, ir.Note)))
        body.append(item)
    return ir.to_data(canonical_ir(dataclasses.replace(film, body=tuple(body), notes=(), path="")), spans=False)


@pytest.mark.parametrize("src", CASES, ids=lambda p: p.stem)
def test_round_trip_is_the_same_film(src: Path, tmp_path: Path) -> None:
    start = _start(src, tmp_path)
    first = export_file(start)
    back = tmp_path / f"{stem(src)}.back.nysh"
    back.write_text(import_text(first, stem(src)), encoding="utf-8")

    a, b = plan_of(start), plan_of(back)
    assert len(a.timeline.scenes) == len(b.timeline.scenes)
    for (ta, sa, ea), (tb, sb, eb) in zip(scene_frames(a), scene_frames(b), strict=True):
        assert ta == tb and abs(sa - sb) <= 1 and abs(ea - eb) <= 1, ((ta, sa, ea), (tb, sb, eb))
    assert abs(a.timeline.frames - b.timeline.frames) <= len(a.timeline.scenes)
    assert [(o.start, o.end) for o in a.timeline.overlaps] == [(o.start, o.end) for o in b.timeline.overlaps]
    assert [(s.fade_in, s.fade_out, s.fade_in_white, s.fade_out_white) for s in a.timeline.scenes] == \
        [(s.fade_in, s.fade_out, s.fade_in_white, s.fade_out_white) for s in b.timeline.scenes]
    # more than the timeline: the same script, but for where notes stand
    before, after = _without_notes(load(start, name="x").film), _without_notes(load(back, name="x").film)
    for part in before:
        assert before[part] == after[part], part
    assert [j.key for j in a.jobs] == [j.key for j in b.jobs]

    # a second round trip changes no byte
    second = export_file(back)
    assert second == first
    assert import_text(second, stem(src)) == back.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["nyeshkerh", "tour-voices"])
def test_round_trip_through_the_commands(name: str, tmp_path: Path) -> None:
    example = SAMPLES.parents[2] / "examples" / f"{name}.nysh"
    out = tmp_path / f"{name}.fountain"
    rc, _, err = cli("export", example, "-o", out, "-q")
    assert rc == 0, err
    back = tmp_path / f"{name}.nysh"
    rc, _, err = cli("import", out, "-o", back)
    assert rc == 0, err
    assert "became notes" not in err  # nothing of an export is left over as a note
    rc, stdout, err = cli("check", back, "--format", "short")
    assert rc == 0 and "warning" not in stdout + err, stdout + err
    rc, plan_a, _ = cli("plan", example, "--json", "--cache", tmp_path / "cache")
    rc2, plan_b, _ = cli("plan", back, "--json", "--cache", tmp_path / "cache")
    assert rc == rc2 == 0
    import json

    ta, tb = json.loads(plan_a)["timeline"], json.loads(plan_b)["timeline"]
    assert ta["frames"] == tb["frames"]
    assert [(s["title"], s["start"], s["end"]) for s in ta["scenes"]] == \
        [(s["title"], s["start"], s["end"]) for s in tb["scenes"]]


def test_the_export_reads_like_a_screenplay(tmp_path: Path) -> None:
    text = export_file(SAMPLES.parents[2] / "examples" / "nyeshkerh.nysh")
    # the settings once, at the top; each note once
    assert text.count("[[nysh:\ncanvas: 1280x720, 24fps") == 1
    assert text.count("The word itself is the only thing that survived.") == 1
    assert "> FADE IN: 3s\n" in text and "> CROSSFADE TO: 2s\n" in text and "> MORPH TO: 3s\n" in text
    assert ".Ruins of Nyesh #1#\n\n[[nysh: , 20s]]" in text
    assert "NARRATOR\n[[nysh: , at 9s, medium, right]]\n(softly)\nNyeshkerh.\n(pause 1s)\nThe names are gone." in text
    assert "[[nysh: sings THEME, from 12s, for 12s]]\n~nyeshkerh a lo ven\n" in text
    assert "Nyeshkerh.\n  \nSay it, and it is still here." in text  # two lines, not one
    assert "[[nysh: CREDITS NYESH, 10s]]\n\n> Nyeshkerh <\n> a film by the machine <" in text


def test_cues_extensions_dual_and_display_names(tmp_path: Path) -> None:
    script = tmp_path / "cues.nysh"
    script.write_text(
        'title: "Cues"\n\n'
        "character MR_STEEL:\n    portrait: generate, seed 1\n"
        "character OLD_TOM:\n    [[ cue: Old Tom ]]\n    portrait: generate, seed 2\n\n"
        'INT. ROOM - DAY:\n    "The keeper climbs."\n'
        '    MR_STEEL (V.O.):\n        "One."\n'
        '    OLD_TOM ^, left:\n        "Two."\n'
        '    "THE END", center, show\n'
        '    "A sign.", show, for 2s\n\nSMASH CUT TO:\n\nEXT. SEA - NIGHT:\n    "Waves."\n\nFADE OUT. 2s\n',
        encoding="utf-8")
    text = export_file(script)
    assert "\nMR STEEL (V.O.)\nOne.\n" in text  # the display name, not the identifier
    assert "\n@Old Tom ^\n[[nysh: , left]]\nTwo.\n" in text
    assert "\n> THE END <\n" in text and "\nA sign.\n[[nysh: , for 2s, show]]" in text
    assert "\n> SMASH CUT TO:\n" in text and "\n> FADE OUT. 2s" in text
    back = import_text(text, "cues")
    assert "MR_STEEL (V.O.):" in back and "OLD_TOM ^, left:" in back and "SMASH CUT TO:" in back
    assert "FADE OUT. 2s" in back and '"THE END", center, show' in back


def test_action_that_looks_like_something_else_is_forced(tmp_path: Path) -> None:
    script = tmp_path / "forced.nysh"
    script.write_text(
        'SCENE 1:\n    "INT. NOT A HEADING"\n    "THE END"\n    "CUT TO:"\n    "# not a section"\n'
        '    """\n        two lines\n        = not a synopsis\n    """\n', encoding="utf-8")
    text = export_file(script)
    assert "!INT. NOT A HEADING" in text and "!THE END" in text and "!CUT TO:" in text and "!# not a section" in text
    assert "two lines\n!= not a synopsis" in text
    back = tmp_path / "back.nysh"
    back.write_text(import_text(text, "back"), encoding="utf-8")
    assert _without_notes(load(script, name="x").film)["body"] == _without_notes(load(back, name="x").film)["body"]
