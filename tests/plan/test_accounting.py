"""Nothing checked is silently dropped (issue #23): the planner's ledger and its audit.

Every element of a checked film must reach a layer, a clip, a subtitle or a job, or be known
non-rendering, or lie outside its scene; otherwise the build stops with ``E702``. Every option
with an effect where it is written must be read by the planner (``W211``; ``E703`` when strict,
as the whole test suite runs). These tests run the audit over every example, every test film
and hypothesis-generated films, and show that a deliberately unhandled directive stops the
build with the diagnostic at its line.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nyeshc import schema
from nyeshc.check import context_for, run
from nyeshc.diagnostics import LineIndex
from nyeshc.plan import PlanError, plan
from nyeshc.resolve.ledger import STRICT_ENV
from nyeshc.commands.common import load_and_check
from nyeshc.syntax import read
from plan_fakes import EXAMPLES, ROOT, FakeServices

AUDIT_CODES = {"E702", "E703", "W211"}


def line_col(text: str, offset: int) -> tuple[int, int]:
    """1-based (line, column), as diagnostics are printed."""
    line, col = LineIndex(text).position(offset)
    return line + 1, col + 1


def _films() -> list[Path]:
    films = list(EXAMPLES)
    for folder in ("tests/data", "tests/check/snippets", "tests/e2e", "tests/render", "tests/execute", "tests/lsp",
                   "benchmarks"):
        films += sorted((ROOT / folder).rglob("*.nysh"))
    return films


def _audit(film, root: Path) -> list:  # type: ignore[no-untyped-def]
    svc = FakeServices()
    found: list = []
    plan(film, svc.profile, svc, root=root, report=found)
    return [d for d in found if d.code in AUDIT_CODES]


@pytest.mark.parametrize("path", _films(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_element_of_every_film_is_accounted_for(path: Path) -> None:
    checked = load_and_check(str(path))
    if checked.has_errors:
        pytest.skip("not a valid film (a fixture for diagnostics, or a part of one)")
    assert _audit(checked.loaded.film, path.parent) == []


def test_the_language_reference_films_are_accounted_for() -> None:
    data = ROOT / "tests" / "data" / "language"
    text = "\n".join((data / n).read_text(encoding="utf-8") for n in ("header.nysh", "definitions.nysh", "scenes.nysh"))
    film, diags = read(text, "film.nysh")
    assert not [d for d in diags if d.is_error]
    assert _audit(film, data) == []


# --------------------------------------------------------------------------- a test-only directive


@pytest.fixture
def flash_directive(monkeypatch: pytest.MonkeyPatch) -> None:
    """``flash: "text"``: a directive the schema (so the checker) accepts and no planner handler
    knows — exactly the bug the audit exists for."""
    spec = schema._directive("flash", (schema.Form("text", '"text"'),), (schema.AT,), "a test-only directive")
    monkeypatch.setattr(schema, "DIRECTIVES", {**schema.DIRECTIVES, "flash": spec})


FLASH = 'canvas: 160x90, 8fps\n\nSCENE 1, 2s:\n    caption: "shown"\n    flash: "never drawn", at 1s\n'


def test_an_unhandled_directive_checks_clean_then_stops_the_plan(flash_directive: None) -> None:
    ctx = context_for(FLASH, "film.nysh")
    assert [d for d in run(ctx) if d.is_error] == []  # the checker accepts it...
    film, _ = read(FLASH, "film.nysh")
    svc = FakeServices()
    with pytest.raises(PlanError) as err:  # ...and the planner refuses to drop it
        plan(film, svc.profile, svc)
    [d] = err.value.diagnostics
    assert d.code == "E702" and "the flash" in d.message
    assert line_col(FLASH, d.span.start) == (5, 5)


def test_an_unhandled_directive_stops_the_build_with_the_diagnostic(
        flash_directive: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from nyeshc.cli import main

    script = tmp_path / "film.nysh"
    script.write_text(FLASH, encoding="utf-8")
    code = main([str(script), "-o", str(tmp_path / "out.mp4"), "--cache", str(tmp_path / "cache")])
    err = capsys.readouterr().err
    assert code == 1
    assert "error[E702]" in err and "film.nysh:5:5" in err and "the flash" in err
    assert not (tmp_path / "out.mp4").exists()  # no film without the element


# --------------------------------------------------------------------------- options


@pytest.fixture
def wobble_option(monkeypatch: pytest.MonkeyPatch) -> None:
    """``caption: "x", wobble 2``: an option the schema gives an effect and the planner ignores."""
    wobble = schema.OptionSpec("wobble", "number", "wobble 2", lo=Fraction(0), hi=Fraction(9))
    caption = schema.DIRECTIVES["caption"]
    forms = tuple(dataclasses.replace(f, options=f.options + (wobble,)) for f in caption.forms)
    monkeypatch.setattr(schema, "DIRECTIVES", {**schema.DIRECTIVES, "caption": dataclasses.replace(caption, forms=forms)})


WOBBLE = 'canvas: 160x90, 8fps\n\nSCENE 1, 2s:\n    caption: "x", wobble 2\n'


def _lenient_findings(text: str, monkeypatch: pytest.MonkeyPatch) -> list:
    """What planning a film the checker accepts reports, with ``W211`` a warning (not strict)."""
    assert [d.code for d in run(context_for(text, "film.nysh"))] == []
    film, _ = read(text, "film.nysh")
    svc = FakeServices()
    monkeypatch.setenv(STRICT_ENV, "0")
    found: list = []
    plan(film, svc.profile, svc, report=found)
    return found


def test_an_option_the_planner_never_reads_is_reported(wobble_option: None, monkeypatch: pytest.MonkeyPatch) -> None:
    found = _lenient_findings(WOBBLE, monkeypatch)
    assert [(d.code, d.severity, line_col(WOBBLE, d.span.start)) for d in found] == [("W211", "warning", (4, 19))]
    monkeypatch.setenv(STRICT_ENV, "1")
    film, _ = read(WOBBLE, "film.nysh")
    svc = FakeServices()
    with pytest.raises(PlanError) as err:
        plan(film, svc.profile, svc)
    assert [d.code for d in err.value.diagnostics] == ["E703"]


@pytest.mark.parametrize(("shown", "expected"), [("", ["W211"]), (", show", [])])
def test_a_fade_on_an_action_line_has_an_effect_only_when_the_line_is_drawn(
        shown: str, expected: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    text = f'canvas: 160x90, 8fps\n\nSCENE 1:\n    backdrop: seed 1\n    "The sea is calm."{shown}, fade in 1s\n'
    assert [d.code for d in _lenient_findings(text, monkeypatch)] == expected


def test_options_of_an_element_cut_by_its_scene_are_excused() -> None:
    text = 'canvas: 160x90, 8fps\n\nSCENE 1, 2s:\n    caption: "late", at 3s, fade in 1s, top\n'
    film, _ = read(text, "film.nysh")
    svc = FakeServices()
    found: list = []
    plan(film, svc.profile, svc, report=found)
    assert found == []  # the checker's W303 says it; the planner has nothing to add


def test_a_line_cut_by_its_scene_is_W303_from_the_planner() -> None:
    text = 'canvas: 160x90, 8fps\ncharacter N:\n    portrait: generate\n\nSCENE 1, 1s:\n    N:\n        "one two three four five"\n'
    film, _ = read(text, "film.nysh")
    svc = FakeServices()
    found: list = []
    plan(film, svc.profile, svc, report=found)
    assert [(d.code, line_col(text, d.span.start)) for d in found] == [("W303", (7, 9))]
    assert "ends at 2.14s, after the scene (1s)"  # 0.3 s + 0.08 s a character (the fake voice) in found[0].message


# --------------------------------------------------------------------------- generated films

LOOKS = ["generate", "generate, seed 4, truncation 0.5", "blend(seed 5, seed 23, 0.35)", "blend(A, seed 9)",
         '"pic.png"']
BACKDROPS = ["A", "B", "seed 17", "morph A -> B", "morph A -> seed 3 -> B", "morph B -> F", '"pic.png"', "F"]
PORTRAITS = ["generate", "generate, truncation 0", "blend(seed 1, A, 0.2)", "blend(A, B, 0.5)", '"face.png"']
OPTIONS = ["", ", at 1s", ", for 1s", ", 0.5s..1.5s", ", fade in 1s", ", fade out 1s"]
CAMERA = ["", ", zoom 1.0 -> 1.3", ", zoom 0.5", ", pan left", ", zoom 1.0 -> 2.0 -> 1.0, ease linear"]
CAPTIONS = ['caption: "hello"', 'caption: NYESH "hello", top', 'caption: "x", left']
SOUNDS = ["music: M", 'music: "tone.wav", gain -6dB', 'sound: "tone.wav", from 1s', "sound: M, fade out 1s"]
TRANSITIONS = ["", "CROSSFADE TO: 1s", "MORPH TO: 1s", "FADE OUT: 1s", "FADE IN: 1s", "DISSOLVE TO:",
               "SMASH CUT TO:", "FADE TO:", "FADE TO WHITE: 1s"]
ACTION_LINES = ['"The sea is calm."', '"THE END", center, show', '"Later.", for 2s', '"Rain.", show, fade in 1s',
                '"Dawn.", at 1s']


@st.composite
def films(draw: st.DrawFn) -> str:
    """Valid films built from the language's forms and options (the checker accepts them)."""
    head = ["canvas: 160x90, 8fps", f"seed: {draw(st.integers(0, 9))}",
            draw(st.sampled_from(["", "gap: 500ms", "reading: 240wpm", "action: show"])),
            draw(st.sampled_from(["", "subtitles: plain", "subtitles: NYESH", "soundtrack: M, gain -3dB",
                                  'soundtrack: "tone.wav", fade in 1s']))]
    defs = ["alphabet NYESH:\n    glyphs: 12",
            f"look A:\n    image: {draw(st.sampled_from(LOOKS[:3]))}",
            f"look B:\n    image: {draw(st.sampled_from(LOOKS[:4]))}",
            'look F:\n    image: "pic.png"',
            f"character C:\n    portrait: {draw(st.sampled_from(PORTRAITS))}\n"
            f"    voice: {draw(st.sampled_from(['asemic', 'asemic, seed 3, pitch 1.2', 'tts, rate 1.2']))}\n"
            f"    motion: {draw(st.sampled_from(['lipsync', 'lipsync, mouth 1.5', 'still']))}",
            'music M:\n    source: generate, genre "ambient", temperature 0.5\n    lyrics: "la la"']
    body: list[str] = []
    for n in range(1, draw(st.integers(1, 3)) + 1):
        if n > 1:
            t = draw(st.sampled_from(TRANSITIONS))
            if t:
                body.append(t)
        items = [f"backdrop: {draw(st.sampled_from(BACKDROPS))}{draw(st.sampled_from(CAMERA))}"
                 f"{draw(st.sampled_from(OPTIONS))}"]
        if draw(st.booleans()):
            items.append(draw(st.sampled_from(CAPTIONS)) + draw(st.sampled_from(OPTIONS)))
        if draw(st.booleans()):
            items.append(draw(st.sampled_from(SOUNDS)) + draw(st.sampled_from(OPTIONS[:3])))
        if draw(st.booleans()):
            items.append('show: "clip-sound.mp4"' + draw(st.sampled_from(CAMERA + [", top, left", ", gain -6dB"])))
        for k in range(draw(st.integers(0, 3))):
            if draw(st.booleans()):
                items.append(draw(st.sampled_from(ACTION_LINES)))
            shot = draw(st.sampled_from(["", ", close-up", ", wide, left", ", at 1s"]))
            ext = draw(st.sampled_from(["", " (V.O.)", " (CONT'D)", " (O.S.)"]))
            dual = " ^" if k and draw(st.booleans()) else ""
            lines = draw(st.lists(st.sampled_from(['"Nyeshkerh."', "(softly)", "(pause 0.5s)", '"a lo ven"',
                                                  "sings M, for 1s", '"sa", voice "tone.wav"']), min_size=1, max_size=3))
            items.append(f"C{ext}{dual}{shot}:\n" + "\n".join("        " + x for x in lines))
        duration = draw(st.sampled_from(["", ", 2s", ", 3s"]))
        body.append(f"SCENE {n}{duration}:\n" + "\n".join("    " + i for i in items))
    if draw(st.booleans()):
        body.append('CREDITS NYESH, 4s, fade in 1s:\n    "the end"')
    return "\n".join(h for h in head if h) + "\n\n" + "\n\n".join(defs) + "\n\n" + "\n\n".join(body) + "\n"


@settings(max_examples=int(__import__("os").environ.get("NYESHC_FILMS", "60")), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(films())
def test_generated_films_are_accounted_for(text: str) -> None:
    errors = [d for d in run(context_for(text, "film.nysh")) if d.is_error]
    assert errors == [], text  # the strategy writes only valid films
    film, _ = read(text, "film.nysh")
    assert _audit(film, Path.cwd()) == [], text
