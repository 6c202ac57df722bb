"""The fast path of ``read`` (``nyeshc.syntax.fast``) against the reference path (Lark's parse
with recovery, then ``lower``): for every text, the same IR (spans included, compared as
``ir.to_json``) and the same diagnostics. Valid scripts must take the fast path; texts with
syntax errors fall back, so their diagnostics are the reference's by construction — the
mutated scripts below check that the fallback is taken whenever it must be."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nyeshc import ir
from nyeshc.syntax import fast, read
from strategies import scripts  # tests/ is on sys.path (pytest adds the conftest folder)

ROOT = Path(__file__).resolve().parents[2]
CORPUS = sorted({*ROOT.glob("examples/*.nysh"), *ROOT.glob("tests/data/language/*.nysh"),
                 *ROOT.glob("tests/syntax/format/*.nysh"), *ROOT.glob("tests/check/snippets/**/*.nysh")})

# 75 examples each: since both readers call one set of handlers (syntax/lower.py's Lowerer),
# what these compare is the fast path's table driver and lexer against Lark's
CI = settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def same(text: str, file: str = "t.nysh") -> bool:
    """Assert both paths agree on ``text``; return whether the fast path took it."""
    ref_film, ref_diags = read(text, file, fast=False)
    film, diags = read(text, file)
    assert ir.to_json(film) == ir.to_json(ref_film)
    assert film == ref_film
    assert diags == ref_diags
    return fast.read(text, file) is not None


def test_corpus_is_there() -> None:
    assert len(CORPUS) >= 15


@pytest.mark.parametrize("script", CORPUS, ids=lambda p: str(p.relative_to(ROOT)))
def test_corpus(script: Path) -> None:
    text = script.read_bytes().decode("utf-8", errors="replace")
    took = same(text, script.name)
    ref_diags = read(text, script.name, fast=False)[1]
    if not any(d.code in ("E001", "E004", "E005") for d in ref_diags):
        assert took, "a script without syntax errors must take the fast path"


@CI
@given(scripts())
def test_generated_scripts(source: str) -> None:
    assert same(source), "a valid generated script must take the fast path"


# edits that break (or sometimes keep) a valid script, so both the fallback and the fast path
# are exercised on text the strategies never write
_EDIT_TEXT = st.sampled_from([":", ",", "(", ")", '"', '"""', "\t", " ", "    ", "\n", "\n    ", "x", "->", "..",
                              "#", "[[", "/*", "*/", "SCENE", "CUT TO:", "INT. ", "é", "\r\n", "1", "2s"])


@CI
@given(scripts(), st.lists(st.tuples(st.floats(0, 1), st.integers(0, 3), _EDIT_TEXT), min_size=1, max_size=3))
def test_edited_scripts(source: str, edits: list[tuple[float, int, str]]) -> None:
    text = source
    for where, cut, insert in edits:
        at = int(where * len(text))
        text = text[:at] + insert + text[at + cut:]
    same(text)


@pytest.mark.parametrize("text", [
    "",
    "\n",
    "   \n\n",
    "# only a comment",
    "# only a comment\n",
    'title: "No newline at the end"',
    'title: "CRLF"\r\ncanvas: 1280x720, 24fps\r\n',
    "look A:\n\timage: generate, seed 1\n",  # a tab: E003, and still a valid parse
    "look A:\n    image: generate, seed 1\n  note: x\n",  # a dedent to no block (E004)
    'title: "unterminated\n',
    "title: @\n",
    "SCENE 1:\n",
    "look A:\n    image: blend(" + "f(" * 60 + "1" + ")" * 60 + ")\n",  # deep nesting: reference path
    "look A:\n    image: blend(f(g(1, 2), seed 3), 0.5) -> morph X -> seed 4\n",
    "look A:\n    image: blend(\n        seed 1,\n        seed 2)\n",  # a line break inside parentheses
    'SCENE "t", 2s, fade in 1s:\n    show "a.mp4"\n    A:\n        (pause 500ms)\n        "hi", at 1s\n',
    "CREDITS NYESH, 10s:\n    \"a\"\n    bob smith\n    [[ note ]]\n",
    "FADE TO BLACK: 1s, extra\nINT. HOUSE - DAY  :\n    A:\n        waves\n",
    'include """x.nysh"""\n',
    'alphabet X:\n    glyphs: 28 /* boneyard */ # comment\n    strokes: 2..5, 1s..2.5s\n',
    "widget W:\n    colour: #ABCDEF, 50%, +3dB, 1:02:03.5, 48f, 29.97fps, 640x360\n",
])
def test_edge_cases(text: str) -> None:
    same(text)


def test_deep_nesting_goes_to_the_reference_path() -> None:
    text = "look A:\n    image: " + "f(" * (fast.MAX_PAREN_DEPTH + 1) + "1" + ")" * (fast.MAX_PAREN_DEPTH + 1) + "\n"
    assert fast.read(text, "t.nysh") is None  # the reference path decides what happens
    same(text)


def test_a_long_script() -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from frontend import generate
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    assert same(generate(600))


def test_the_tables_kept_between_processes_are_read_back_or_built_again(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path's tables are built from Lark once and kept as plain data (so a later
    ``nyeshc check`` need not import Lark): read back, they read every example as the tables
    built in this process do; a damaged file is built again and replaced."""
    text = (ROOT / "examples" / "nyeshkerh.nysh").read_text(encoding="utf-8")
    monkeypatch.setenv("NYESHC_GRAMMAR_CACHE", str(tmp_path))
    fast._tables.cache_clear()
    try:
        built = fast.read(text, "n.nysh")
        [kept] = tmp_path.glob("fast-*.json")
        fast._tables.cache_clear()
        monkeypatch.setattr(fast, "_build", lambda: pytest.fail("built again although kept"))
        assert fast.read(text, "n.nysh") == built is not None
        monkeypatch.undo()
        monkeypatch.setenv("NYESHC_GRAMMAR_CACHE", str(tmp_path))
        kept.write_text('{"pattern": 1', encoding="utf-8")
        fast._tables.cache_clear()
        assert fast.read(text, "n.nysh") == built
        assert kept.read_text(encoding="utf-8").startswith('{"pattern":"')
        # the file holds data, never code: a rule naming anything but the lowerer's own handlers
        # (or a child outside the rule) is refused and the tables are built again
        import json

        for field, value in (("handler", "__class__"), ("first", "atom(0) or __import__('os').system"),
                             ("include", [[99, False]])):
            data = json.loads(kept.read_text(encoding="utf-8"))
            data["rules"][0][field] = value
            kept.write_text(json.dumps(data), encoding="utf-8")
            fast._tables.cache_clear()
            assert fast.read(text, "n.nysh") == built
            assert json.loads(kept.read_text(encoding="utf-8"))["rules"][0][field] != value
    finally:
        fast._tables.cache_clear()
