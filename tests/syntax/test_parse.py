"""The parser and lowering: the language page's examples, IR shapes, recovery, messages, and
the promise that parsing never raises."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nyeshc import ir
from nyeshc.syntax import read
from nyeshc.syntax.lower import lower
from nyeshc.syntax.parse import decode, parse

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted([*ROOT.glob("tests/data/language/*.nysh"), *ROOT.glob("examples/*.nysh")])


def film_of(text: str) -> ir.Film:
    film, diagnostics = read(text, "t.nysh")
    assert not diagnostics, [(d.code, d.message) for d in diagnostics]
    return film


def line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


# --------------------------------------------------------------------------- the language page


def test_examples_exist() -> None:
    names = {p.name for p in EXAMPLES}
    assert {"header.nysh", "definitions.nysh", "scenes.nysh", "nyeshkerh.nysh"} <= names


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_example_parses_without_diagnostics(script: Path) -> None:
    text = script.read_text(encoding="utf-8")
    result = parse(text, script.name)
    assert result.diagnostics == ()
    film = lower(result.tree, script.name, len(text))
    assert film.header.fields or film.definitions or film.body


def test_header_example() -> None:
    film = film_of((ROOT / "tests/data/language/header.nysh").read_text(encoding="utf-8"))
    h = film.header
    assert [f.key for f in h.fields] == ["title", "author", "canvas", "seed", "subtitles", "duck", "soundtrack"]
    assert h.get("title").value.text == "Nyeshkerh"  # type: ignore[union-attr]
    canvas = h.get("canvas")
    assert isinstance(canvas.value, ir.Size) and (canvas.value.width, canvas.value.height) == (1280, 720)
    assert canvas.options[0].key is None and canvas.options[0].value.fps == 24  # type: ignore[union-attr]
    assert h.get("duck").value.db == -8  # type: ignore[union-attr]
    soundtrack = h.get("soundtrack")
    assert soundtrack.value == ir.Word("THEME", soundtrack.value.span)  # type: ignore[union-attr]
    assert [(o.key, o.value.amount) for o in soundtrack.options] == [("fade in", 2), ("fade out", 3)]  # type: ignore[union-attr]


def test_definitions_example() -> None:
    film = film_of((ROOT / "tests/data/language/definitions.nysh").read_text(encoding="utf-8"))
    assert [inc.path.text for inc in film.includes] == ["cast.nysh"]
    kinds = [(type(d).__name__, d.name) for d in film.definitions]
    assert kinds == [("AlphabetDef", "NYESH"), ("LookDef", "DUSK"), ("LookDef", "CATHEDRAL"),
                     ("CharacterDef", "NARRATOR"), ("CharacterDef", "MOTHER"), ("CharacterDef", "GIRL"),
                     ("MusicDef", "THEME"), ("MusicDef", "RAIN")]
    nyesh = film.definitions[0]
    strokes = nyesh.props[1].value
    assert isinstance(strokes, ir.Range) and (strokes.lo.value, strokes.hi.value) == (2, 5)  # type: ignore[union-attr]
    assert nyesh.props[3].value.hex == "#efe6d2"  # type: ignore[union-attr]
    dusk = film.definitions[1].props[0]
    assert [(o.key, o.value.value) for o in dusk.options] == [("seed", 42), ("truncation", Fraction(7, 10))]  # type: ignore[union-attr]
    girl = film.defs("character")["GIRL"]
    blend = girl.props[0].value
    assert isinstance(blend, ir.Call) and blend.name == "blend"
    assert [type(a).__name__ for a in blend.args] == ["Seed", "Seed", "Num"]
    motion = girl.props[2].value
    assert isinstance(motion, ir.Driven) and motion.path.text == "assets/performance.mp4"
    lyrics = film.defs("music")["THEME"].props[1].value
    assert isinstance(lyrics, ir.Str) and lyrics.triple
    assert lyrics.text == "nyeshkerh a lo ven\nsa mireth o"


def test_scenes_example() -> None:
    film = film_of((ROOT / "tests/data/language/scenes.nysh").read_text(encoding="utf-8"))
    kinds = [type(b).__name__ for b in film.body]
    assert kinds == ["Transition", "Scene", "Transition", "Scene", "Transition", "Scene", "Transition", "Credits"]
    fade_in, s1, crossfade, s2, morph_to, s3, fade_out, credits = film.body

    assert (fade_in.kind, fade_in.duration.amount) == ("FADE IN", 2)  # type: ignore[union-attr]
    assert (crossfade.kind, crossfade.duration.amount) == ("CROSSFADE TO", 1)  # type: ignore[union-attr]
    assert (morph_to.kind, morph_to.duration.amount) == ("MORPH TO", 2)  # type: ignore[union-attr]
    assert (fade_out.kind, fade_out.duration.amount) == ("FADE OUT", 3)  # type: ignore[union-attr]

    assert s1.heading.style == "scene" and s1.heading.number == "1" and s1.heading.title == "Ruins of Nyesh"
    assert s1.duration == ir.Time(Fraction(12), "s", s1.duration.span, "12s")
    backdrop, music, caption = s1.directives
    assert isinstance(backdrop.value, ir.Morph)
    assert [type(s).__name__ for s in backdrop.value.stops] == ["Word", "Seed", "Word"]
    assert [getattr(s, "word", getattr(s, "value", None)) for s in backdrop.value.stops] == ["DUSK", 17, "CATHEDRAL"]
    assert [(o.key, o.value.word) for o in backdrop.options] == [("ease", "smooth")]  # type: ignore[union-attr]
    assert [o.key for o in music.options] == ["from", "fade in", "gain"]
    assert music.options[2].value.db == -3  # type: ignore[union-attr]
    assert isinstance(caption.value, ir.Styled) and caption.value.alphabet.word == "NYESH"
    assert caption.value.text.text == "Nyeshkerh"
    assert [(o.key, o.value) for o in caption.options][2] == ("bottom", None)

    (narrator,) = s1.beats
    assert narrator.character == "NARRATOR"
    assert [(o.key, o.value.amount) for o in narrator.options] == [("at", 2)]  # type: ignore[union-attr]
    softly, line1, pause, line2 = narrator.lines
    assert isinstance(softly, ir.Parenthetical) and softly.text == "softly" and softly.pause is None
    assert isinstance(line1, ir.Dialogue) and line1.text.text == "Nyeshkerh." and line1.options == ()
    assert isinstance(pause, ir.Parenthetical) and pause.pause is not None and pause.pause.amount == 1
    assert isinstance(line2, ir.Dialogue) and line2.text.text == "The names are gone."
    assert [(o.key, o.value.text) for o in line2.options] == [("voice", "assets/gone.wav")]  # type: ignore[union-attr]

    assert s2.heading.style == "fountain" and s2.heading.title == "INT. CATHEDRAL - NIGHT"
    assert s2.duration.amount == 20  # type: ignore[union-attr]
    zoom = s2.directives[0].options[0]
    assert zoom.key == "zoom" and isinstance(zoom.value, ir.Ramp)
    assert [s.value for s in zoom.value.stops] == [1, Fraction(115, 100)]  # type: ignore[union-attr]
    (girl,) = s2.beats
    assert [(o.key, o.value) for o in girl.options] == [("close-up", None)]
    (sings,) = girl.lines
    assert isinstance(sings, ir.Action) and sings.verb == "sings" and sings.target.word == "THEME"  # type: ignore[union-attr]
    assert [o.key for o in sings.options] == ["from", "for"]

    caption3 = s3.directives[0]
    assert caption3.value.text.triple  # type: ignore[union-attr]
    assert caption3.value.text.text == "what the machine remembers\nis what we forgot"  # type: ignore[union-attr]
    assert [o.key for o in caption3.options] == ["center"]

    assert credits.alphabet == "NYESH" and credits.duration is None
    assert [line.text for line in credits.lines] == ["Nyeshkerh", "a film by the machine"]


def test_times_and_numbers() -> None:
    film = film_of("x: 500ms, 2s, 1.5s, 48f, 1:30, 0:12.5, 1:02:03, 2s..8s, 0.7, 28, 2..5, -3dB, 30%, #EFE6D2, "
                   "1280x720, 24fps\n")
    field = film.header.fields[0]
    vals = [field.value] + [o.value for o in field.options]
    assert [v.amount for v in vals[:7]] == [Fraction(1, 2), 2, Fraction(3, 2), 48, 90, Fraction(25, 2), 3723]  # type: ignore[union-attr]
    assert vals[3].unit == "f"  # type: ignore[union-attr]
    assert [v.raw for v in vals[:7]] == ["500ms", "2s", "1.5s", "48f", "1:30", "0:12.5", "1:02:03"]  # type: ignore[union-attr]
    assert isinstance(vals[7], ir.Range)
    assert [type(v).__name__ for v in vals[8:]] == ["Num", "Num", "Range", "Gain", "Percent", "Colour", "Size", "Rate"]
    assert vals[13].hex == "#efe6d2"  # type: ignore[union-attr]


def test_strings_unescaped() -> None:
    film = film_of('x: "a \\"quoted\\" back\\\\slash\\nnew line"\n')
    assert film.header.fields[0].value.text == 'a "quoted" back\\slash\nnew line'  # type: ignore[union-attr]


def test_comments_boneyards_and_notes() -> None:
    text = ('# a comment\ntitle: "x"  /* mid */  # trailing\n/* a boneyard\n   over lines */   \n'
            'seed: /* inline */ 3\nink: #efe6d2 # a colour, then a comment\n[[ a note ]]\n')
    film = film_of(text)
    assert [f.key for f in film.header.fields] == ["title", "seed", "ink"]
    assert film.header.get("seed").value.value == 3  # type: ignore[union-attr]
    assert film.header.get("ink").value.hex == "#efe6d2"  # type: ignore[union-attr]
    assert [n.text for n in film.notes] == ["a note"]


def test_hash_without_six_hex_digits_is_a_comment() -> None:
    film, diagnostics = read("alphabet A:\n    ink: #abc\n")
    assert diagnostics and diagnostics[0].code == "E001"  # '#abc' is a comment: the value is missing
    film = film_of("alphabet A:\n    glyphs: 3 #abcdefg\n")
    assert film.definitions[0].props[0].value.value == 3  # type: ignore[union-attr]


# --------------------------------------------------------------------------- errors and recovery


def test_recovery_reports_every_broken_line() -> None:
    text = ("look A:\n    image: generate\n"
            "look B\n"                       # line 3: missing ':'
            "look C:\n    image: generate, seed 3\n"
            "seed: : 3\n"                    # line 6: stray ':'
            "look D:\n    image: still\n"
            "title \"x\"\n"                  # line 9: missing ':'
            "look E:\n    image: generate\n")
    film, diagnostics = read(text, "t.nysh")
    assert [d.code for d in diagnostics] == ["E001", "E001", "E001"]
    assert [line_of(text, d.span.start) for d in diagnostics] == [3, 6, 9]
    assert [d.name for d in film.definitions] == ["A", "C", "D", "E"]
    assert film.defs("look")["C"].props[0].options[0].value.value == 3  # type: ignore[union-attr]


def test_messages_say_what_was_expected() -> None:
    _, d = read("look A\n    image: x\n")
    assert d[0].code == "E001" and d[0].hints == ('expected ":"',)
    assert d[0].message == "unexpected end of the line"
    _, d = read('SCENE 1 "x" 2s:\n    backdrop: A\n')
    assert d[0].message == "unexpected time '2s'" and d[0].hints == ('expected "," or ":"',)
    _, d = read("title: \n")
    assert d[0].hints[0].startswith("expected ") and "a name" in d[0].hints[0]
    _, d = read('SCENE 1 "x":\nbackdrop: X\n')
    assert d[0].message == "this line opens a block but nothing is indented under it"


def test_unterminated_string() -> None:
    text = 'title: "Nyeshkerh\nseed: 3\n'
    film, d = read(text)
    assert [x.code for x in d] == ["E005"]
    assert d[0].span.start == text.index('"') and "never closed" in d[0].message
    assert [f.key for f in film.header.fields] == ["seed"]


def test_tabs() -> None:
    text = "look A:\n\timage: generate\n"
    _, d = read(text)
    assert d[0].code == "E003" and d[0].span.start == text.index("\t")
    assert "spaces" in d[0].hints[0]


def test_bad_utf8() -> None:
    text, d = decode(b'title: "caf\xe9"\n', "t.nysh")
    assert [x.code for x in d] == ["E002"] and "\ufffd" in text


def test_bad_indentation() -> None:
    text = 'SCENE 1 "x":\n    backdrop: X\n   music: Y\n'
    _, d = read(text)
    assert d and d[0].code in ("E001", "E004") and line_of(text, d[0].span.start) == 3


# --------------------------------------------------------------------------- never raises


def _check_spans(text: str) -> None:
    result = parse(text, "f.nysh")
    limit = len(text) + 1  # parse adds a final newline when there is none
    for d in result.diagnostics:
        assert 0 <= d.span.start <= d.span.end <= limit, d
    film = lower(result.tree, "f.nysh", len(text))
    assert film.span.end == len(text)


ALPHABET = st.sampled_from(list('abcXYZ019 :,."#()[]\n\t-/*>{}\\') + ["SCENE", "CREDITS", "INT.", "CUT TO:",
                                                                       '"""', "    ", "\n    ", "[[", "]]", "é"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ALPHABET, max_size=60).map("".join))
def test_never_raises_on_garbage(text: str) -> None:
    _check_spans(text)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200))
def test_never_raises_on_any_text(text: str) -> None:
    _check_spans(text)


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=200))
def test_never_raises_on_bytes(data: bytes) -> None:
    text, _ = decode(data, "f.nysh")
    _check_spans(text)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_never_raises_on_damaged_scripts(data: st.DataObject) -> None:
    text = (ROOT / "examples" / "nyeshkerh.nysh").read_text(encoding="utf-8")
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(text)))
        j = data.draw(st.integers(i, min(len(text), i + 20)))
        text = text[:i] + data.draw(st.sampled_from(["", ":", '"', "\n", "  ", "(", "->", "\t"])) + text[j:]
    _check_spans(text)


def test_the_grammar_tables_are_kept_between_processes_and_rebuilt_when_damaged(tmp_path: Path) -> None:
    """Building the LALR tables is most of a short parse: Lark keeps them in
    ``$NYESHC_GRAMMAR_CACHE`` (default ``~/.cache/nyeshc``); a damaged file is rebuilt, an
    empty variable keeps nothing. (The reference path here; the fast path keeps its own tables
    beside them: ``test_fast_path.py``.)"""
    import os
    import subprocess
    import sys

    code = ("from nyeshc.syntax import read\n"
            "film, diags = read('title: \"T\"\\n\\nSCENE 1, 2s:\\n    caption: \"x\"\\n', 'f.nysh', fast=False)\n"
            "print(len(film.scenes), len(diags))\n")

    def run(folder: str) -> str:
        env = {**os.environ, "NYESHC_GRAMMAR_CACHE": folder}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        assert out.stderr == ""
        return out.stdout.strip()

    folder = tmp_path / "grammar"
    assert run(str(folder)) == "1 0"
    [cached] = list(folder.glob("grammar-*"))
    assert cached.name.startswith("grammar-") and cached.stat().st_size > 1000
    whole = cached.read_bytes()
    cached.write_bytes(whole[:100])  # cut short
    assert run(str(folder)) == "1 0"
    assert len(cached.read_bytes()) > 1000  # rebuilt and written whole again
    cached.write_bytes(b"not a table")
    assert run(str(folder)) == "1 0"
    empty = tmp_path / "none"
    assert run("") == "1 0" and not empty.exists()
