"""A screenplay as writers write it (LANGUAGE.md, "Additions, version 2"), read from the plan:
the flow, action lines, cue extensions, dual dialogue, screenwriters' transitions, and
``nyeshc fmt --upgrade`` keeping version-1 films the same.

The fake voice lasts 0.3 s + 0.08 s a character (``plan_fakes.FakeServices``), so every start
below is worked out by hand from the text.
"""

from __future__ import annotations

import json
import re
from fractions import Fraction
from pathlib import Path

import pytest
from plan_fakes import EXAMPLES, ROOT, plan_text

from nyeshc import ir
from nyeshc.check import context_for, run
from nyeshc.syntax import read
from nyeshc.syntax.upgrade import upgrade_text

FPS = 8
HEAD = f"canvas: 160x90, {FPS}fps\n\ncharacter KEEPER:\n    portrait: generate, seed 4\n" \
       "character GULL:\n    portrait: generate, seed 9\n\n"


def speech(text: str) -> Fraction:
    return Fraction(round((0.08 * len(text) + 0.3) * 48_000), 48_000)


def frame(t: Fraction) -> int:
    return int(t * FPS + Fraction(1, 2))


def on_frame(t: Fraction) -> int:
    """The sample a beat starting at ``t`` speaks from: beats start on whole frames."""
    return frame(t) * 48_000 // FPS


def clean(text: str) -> None:
    errors = [d for d in run(context_for(text, "film.nysh")) if d.is_error]
    assert errors == [], errors


def dialogue(plan: object) -> list[tuple[str, int]]:
    """(name, start sample) of every dialogue clip, in time order."""
    return [(c.name, c.start) for c in plan.timeline.audio if c.role == "dialogue"]  # type: ignore[attr-defined]


GAP = Fraction(3, 10)


def test_untimed_beats_follow_one_another_with_the_gap() -> None:
    text = HEAD + 'SCENE 1:\n    KEEPER:\n        "Every night."\n    GULL:\n        "Kra."\n    KEEPER:\n        "Again."\n'
    clean(text)
    p = plan_text(text)
    starts = [s for _, s in dialogue(p)]
    a = speech("Every night.")
    b = a + GAP + speech("Kra.")
    assert starts == [0, on_frame(a + GAP), on_frame(b + GAP)]
    # the scene lasts until its flow ends (the last line), in whole frames
    end = b + GAP + speech("Again.")
    assert p.timeline.scenes[0].end == -(-end * FPS // 1)


def test_a_header_gap_and_a_timed_beat() -> None:
    text = "gap: 1s\n" + HEAD + 'SCENE 1:\n    KEEPER:\n        "One."\n    GULL, at 5s:\n        "Two."\n' \
        '    KEEPER:\n        "Three."\n'
    clean(text)
    starts = [s for _, s in dialogue(plan_text(text))]
    assert starts == [0, 5 * 48_000, on_frame(5 + speech("Two.") + 1)]  # at 5 s; the flow continues after it


def test_action_lines_take_reading_time_and_show_only_when_asked() -> None:
    text = HEAD + 'SCENE 1:\n    "The keeper climbs the stairs, lamp in hand."\n    KEEPER:\n        "Hm."\n' \
        '    "THE END", center, show\n'
    clean(text)
    p = plan_text(text)
    read_time = Fraction(8 * 60, 180)  # 8 words at 180 wpm
    assert dialogue(p)[0][1] == on_frame(read_time + GAP)
    texts = [L for L in p.timeline.scenes[0].layers if L.kind == "text"]
    assert [(L.position, L.role) for L in texts] == [("center", "caption")]  # only the title card
    card_start = read_time + GAP + speech("Hm.") + GAP
    assert (texts[0].start, texts[0].end) == (frame(card_start), frame(card_start + 1))  # at least 1 s
    fast = plan_text("reading: 240wpm\naction: show\n" + text)
    assert dialogue(fast)[0][1] == on_frame(Fraction(2) + GAP)
    assert len([L for L in fast.timeline.scenes[0].layers if L.kind == "text"]) == 2  # every line drawn


def test_dual_dialogue_starts_on_the_same_frame_left_and_right_and_subtitles_stack() -> None:
    text = "subtitles: plain\n" + HEAD + 'SCENE 1:\n    KEEPER:\n        "Look."\n    GULL:\n        "Kra."\n' \
        '    KEEPER ^:\n        "Again."\n'
    clean(text)
    p = plan_text(text)
    (_, a), (_, b), (_, c) = dialogue(p)
    assert b == c  # GULL and KEEPER ^ speak together
    portraits = [L for L in p.timeline.scenes[0].layers if L.kind == "sequence" and L.role == "portrait"]
    together = [L for L in portraits if L.start == frame(Fraction(b, 48_000))]
    assert sorted(L.box.x + L.box.width // 2 for L in together) == [40, 120]  # left and right of 160
    subs = [L for L in p.timeline.scenes[0].layers if L.kind == "text" and L.role == "subtitle"]
    overlapping = [L for L in subs if L.start == frame(Fraction(b, 48_000))]
    assert sorted(L.row for L in overlapping) == [0, 1]


def test_an_offscreen_voice_is_heard_and_subtitled_but_never_seen() -> None:
    text = "subtitles: plain\n" + HEAD + 'SCENE 1:\n    KEEPER:\n        "Every night."\n' \
        '    GULL (O.S.):\n        "Kra."\n    KEEPER (V.O.):\n        "I write."\n'
    clean(text)
    p = plan_text(text)
    assert [n.split(" / ")[1] for n, _ in dialogue(p)] == ["KEEPER", "GULL", "KEEPER"]
    motion = [j.name for j in p.jobs if j.kind.startswith("motion.")]
    assert motion == ["scene 1 / KEEPER / beat 1"]  # no motion job for the voices off screen
    keeper = next(L for L in p.timeline.scenes[0].layers if L.kind == "sequence")
    assert keeper.end == p.timeline.scenes[0].end  # an off-screen voice does not cut away
    assert len(p.timeline.subtitles) == 3


def test_cont_d_changes_nothing() -> None:
    a = plan_text(HEAD + 'SCENE 1:\n    KEEPER:\n        "One."\n')
    b = plan_text(HEAD + "SCENE 1:\n    KEEPER (CONT'D):\n        \"One.\"\n")
    assert ir.to_json(a) == ir.to_json(b)


TRANSITION_FILM = HEAD + "SCENE 1, 4s:\n    backdrop: seed 1\n\n{t}\n\nSCENE 2, 4s:\n    backdrop: seed 2\n"


@pytest.mark.parametrize("spelling", ["DISSOLVE TO:", "CROSS DISSOLVE TO:", "MIX TO:", "CROSS FADE TO:",
                                      "CROSSFADE TO:"])
def test_dissolves_are_one_second_crossfades(spelling: str) -> None:
    text = TRANSITION_FILM.format(t=spelling)
    clean(text)
    [o] = plan_text(text).timeline.overlaps
    assert (o.kind, o.start, o.end) == ("crossfade", 3 * FPS, 4 * FPS)


@pytest.mark.parametrize("spelling", ["SMASH CUT TO:", "MATCH CUT TO:", "JUMP CUT TO:", "HARD CUT TO:", "CUT TO:"])
def test_cuts(spelling: str) -> None:
    text = TRANSITION_FILM.format(t=spelling)
    clean(text)
    tl = plan_text(text).timeline
    assert tl.overlaps == () and [s.start for s in tl.scenes] == [0, 4 * FPS]
    assert all(s.fade_in == s.fade_out == 0 for s in tl.scenes)


@pytest.mark.parametrize("spelling,white", [("FADE TO:", False), ("FADE THROUGH BLACK: 2s", False),
                                            ("FADE TO WHITE: 2s", True)])
def test_fades_through_black_or_white(spelling: str, white: bool) -> None:
    text = TRANSITION_FILM.format(t=spelling)
    clean(text)
    a, b = plan_text(text).timeline.scenes
    half = (4 if "2s" in spelling else 2) * FPS // 4  # half the duration each side, in frames
    assert (a.fade_out, b.fade_in) == (half, half)
    assert (a.fade_out_white, b.fade_in_white) == (white, white)


def test_fade_out_with_a_full_stop_ends_a_script() -> None:
    text = HEAD + "SCENE 1, 4s:\n    backdrop: seed 1\n\nFADE OUT.\n"
    clean(text)
    [s] = plan_text(text).timeline.scenes
    assert s.fade_out == FPS
    film, _ = read(text, "film.nysh")
    assert [t.kind for t in film.body if isinstance(t, ir.Transition)] == ["FADE OUT."]  # the spelling is kept


def test_an_unknown_to_transition_is_a_cut_with_a_warning() -> None:
    text = TRANSITION_FILM.format(t="WIPE TO:")
    diags = run(context_for(text, "film.nysh"))
    assert [(d.code, d.severity) for d in diags] == [("W214", "warning")]
    assert plan_text(text).timeline.overlaps == ()


def test_the_language_reference_example_plays_in_order() -> None:
    """The LIGHTHOUSE example of LANGUAGE.md's new section (copied into tests/data/language,
    as the other examples are; the next test checks the copy still matches)."""
    film = HEAD + (ROOT / "tests" / "data" / "language" / "lighthouse.nysh").read_text(encoding="utf-8")
    clean(film)
    p = plan_text(film)
    names = [n.split(" / ")[1] for n, _ in dialogue(p)]
    assert names == ["KEEPER", "GULL", "KEEPER"]
    starts = [s for _, s in dialogue(p)]
    assert starts == sorted(starts) and len(set(starts)) == 3
    assert [L.position for L in p.timeline.scenes[0].layers if L.kind == "text"] == ["center"]  # THE END


def test_the_copy_of_the_language_reference_example_matches() -> None:
    reference = ROOT.parent / "shared" / "LANGUAGE.md"
    if not reference.exists():
        pytest.skip("the language reference (../shared/LANGUAGE.md) is not beside this checkout")
    block = re.search(r"```nysh\n(INT\. LIGHTHOUSE.*?)```", reference.read_text(encoding="utf-8"), re.S)
    assert block is not None
    assert block.group(1) == (ROOT / "tests" / "data" / "language" / "lighthouse.nysh").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- fmt --upgrade


V1 = HEAD + 'SCENE 1:\n    KEEPER:\n        "Every night."\n    GULL, close-up:\n        "Kra."\n' \
    '    KEEPER, at 2s:\n        "Again."\n    GULL:\n        "Kra kra."\n'


def test_upgrade_keeps_a_version_1_film_the_same() -> None:
    upgraded = upgrade_text(V1, "film.nysh")
    assert "GULL, at 0s, close-up:" in upgraded and upgraded.count("at 0s") == 2
    by_hand = V1.replace("GULL, close-up", "GULL, at 0s, close-up").replace('    GULL:\n        "Kra kra."',
                                                                             '    GULL, at 0s:\n        "Kra kra."')
    assert ir.to_json(plan_text(upgraded)) == ir.to_json(plan_text(by_hand))
    # version 1: every untimed beat at 0
    assert sorted(s for _, s in dialogue(plan_text(upgraded))) == [0, 0, 0, 2 * 48_000]
    assert upgrade_text(upgraded, "film.nysh") == upgraded  # idempotent


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_upgrading_an_example_changes_no_frame(example: Path, tmp_path: Path) -> None:
    text = example.read_text(encoding="utf-8")
    upgraded = upgrade_text(text, example.name)
    (tmp_path / example.name).write_text(upgraded, encoding="utf-8")
    from plan_fakes import plan_file

    golden = json.loads((ROOT / "tests" / "plan" / "golden" / f"{example.stem}.json").read_text(encoding="utf-8"))
    got = json.loads(ir.to_json(plan_file(tmp_path / example.name)))
    assert got["timeline"] == golden["timeline"]
    assert [j["key"] for j in got["jobs"]] == [j["key"] for j in golden["jobs"]]


def test_fmt_upgrade_from_the_command_line(tmp_path: Path) -> None:
    from nyeshc.cli import main

    script = tmp_path / "film.nysh"
    script.write_text(V1, encoding="utf-8")
    assert main(["fmt", "--upgrade", str(script)]) == 0
    assert script.read_text(encoding="utf-8") == upgrade_text(V1, "film.nysh")


def test_a_directive_at_flow_starts_where_the_flow_is() -> None:
    text = HEAD + 'SCENE 1:\n    KEEPER:\n        "Every night."\n    caption: "the sea", at flow, for 1s\n' \
        '    GULL:\n        "Kra."\n    caption: "at the start"\n'
    clean(text)
    p = plan_text(text)
    first, second = [L for L in p.timeline.scenes[0].layers if L.kind == "text"]
    gull = dialogue(p)[1][1]
    assert first.start * 48_000 // FPS == gull  # with the gull: where the flow stood
    assert first.end - first.start == FPS
    assert second.start == 0  # a directive without at flow still starts at 0


def test_emphasis_marks_are_not_spoken_nor_shown() -> None:
    text = "subtitles: plain\n" + HEAD + 'SCENE 1:\n    KEEPER:\n        "I *really* _mean_ it."\n' \
        '    "It **rains**.", show\n'
    p = plan_text(text)
    [speak] = [j for j in p.jobs if j.kind == "voice.speak"]
    assert speak.params["text"] == "I really mean it."
    assert [s.text for s in p.timeline.subtitles] == ["I really mean it."]
    [card] = [j for j in p.jobs if j.kind == "text.plain" and "action" in j.name]
    assert card.params["text"] == "It rains."
