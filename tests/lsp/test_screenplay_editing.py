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
