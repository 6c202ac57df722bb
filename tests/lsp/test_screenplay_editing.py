"""The editor knows the screenplay's own marks (issue #15): completion of cue extensions, ``^``
and screenwriters' transitions, and a hover on an action line that says how long it reads."""

from __future__ import annotations

from pathlib import Path

from nyeshc.lsp.analysis import analyse, complete

FILM = '''reading: 120wpm

character KEEPER:
    portrait: generate

INT. LIGHTHOUSE - NIGHT:
    "The keeper climbs the stairs, lamp in hand."
    KEEPER:
        "Every night."
    "THE END", center, show
'''


def test_a_cue_name_then_a_space_offers_extensions_and_the_caret(tmp_path: Path) -> None:
    text = FILM.replace("    KEEPER:\n", "    KEEPER \n")
    line = text.split("\n").index("    KEEPER ")
    labels = {c.label: c.detail for c in complete(text, line, len("    KEEPER "), tmp_path, None)}
    assert {"(V.O.)", "(O.S.)", "(CONT'D)", "^"} <= set(labels)
    assert "heard, not seen" in labels["(V.O.)"]


def test_transitions_include_screenwriters_spellings(tmp_path: Path) -> None:
    text = FILM + "\nDIS\n"
    line = text.split("\n").index("DIS")
    labels = {c.label for c in complete(text, line, 3, tmp_path, None)}
    assert {"CROSSFADE TO", "DISSOLVE TO", "SMASH CUT TO", "FADE TO", "FADE TO WHITE"} <= labels


def test_hover_on_an_action_line_gives_its_reading_time(tmp_path: Path) -> None:
    path = tmp_path / "film.nysh"
    path.write_text(FILM, encoding="utf-8")
    a = analyse(path)
    offset = FILM.index("The keeper") + 3
    text, span = a.hover(a.main_file, offset)
    assert "reads in 4.0 s (8 words at 120 wpm)" in text and "not drawn" in text
    assert FILM[span.start:span.end].startswith('"The keeper')
    card, _ = a.hover(a.main_file, FILM.index("THE END"))
    assert "reads in 1.0 s" in card and "drawn on screen" in card


BEATS = '''canvas: 160x90, 24fps
soundtrack: THEME

music THEME:
    source: generate, tempo 120bpm, meter 3/4, length 30s

SCENE 1, 10s:
    caption: "x", at bar 3, for 2 bars
'''


def _planner(path: Path, film):  # type: ignore[no-untyped-def]
    from nyeshc.commands.services import RegistryServices
    from nyeshc.config import animatic_profile
    from nyeshc.plan import plan

    profile = animatic_profile()
    return plan(film, profile, RegistryServices(profile), root=path.parent)


def test_hover_on_a_bar_gives_its_time(tmp_path: Path) -> None:
    path = tmp_path / "film.nysh"
    path.write_text(BEATS, encoding="utf-8")
    a = analyse(path)
    text, span = a.hover(a.main_file, BEATS.index("bar 3") + 1, _planner)
    assert BEATS[span.start:span.end] == "bar 3"
    assert "**bar 3** — at 0:03" in text and "120 bpm, 3/4" in text  # two bars of 1.5 s
    text, _ = a.hover(a.main_file, BEATS.index("2 bars") + 1, _planner)
    assert "**2 bars** — lasts 3.00 s" in text


def test_after_at_the_grid_is_offered(tmp_path: Path) -> None:
    text = BEATS.replace('at bar 3, for 2 bars', 'at ')
    line = text.split("\n").index('    caption: "x", at ')
    labels = {c.label for c in complete(text, line, len('    caption: "x", at '), tmp_path, None)}
    assert {"bar", "beat", "flow"} <= labels
