"""``nyeshc import`` on public Fountain screenplays (``tests/data/fountain``: the reference
implementation's test scripts, MIT, and three public-domain adaptations, CC0). Each imports to
a film that checks clean, keeps every word outside the boneyard, is a translation (action in
the flow, title cards, extensions, dual dialogue, sung lyrics, transitions as spelled), lasts
about what its words take to read and speak, and says what became notes."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import pytest
from fountain_support import SAMPLES, SCREENPLAYS, cli, imported, plan_of, reading_estimate, seconds, stem

from nyeshc import ir
from nyeshc.syntax import load
from nyeshc.syntax.fountain import read_fountain, strip_emphasis, translate


def words(text: str) -> set[str]:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.DOTALL)  # the boneyard is meant to vanish
    return {w.lower() for w in re.findall(r"[A-Za-z][A-Za-z']{2,}", text)}


def test_the_samples_are_there() -> None:
    assert len(SCREENPLAYS) >= 18 and (SAMPLES / "LICENSE").is_file() and (SAMPLES / "README.md").is_file()
    readme = (SAMPLES / "README.md").read_text(encoding="utf-8")
    for src in SCREENPLAYS:  # each one's source and licence is written down
        assert f"`{src.name}`" in readme, src.name


@pytest.mark.parametrize("src", SCREENPLAYS, ids=lambda p: p.stem)
def test_imports_check_clean_and_keep_every_word(src: Path, tmp_path: Path) -> None:
    out = tmp_path / (stem(src) + ".nysh")
    rc, _, err = cli("import", src, "-o", out, "-q")
    assert rc == 0, err
    rc, stdout, err = cli("check", out, "--format", "short")
    assert rc == 0 and "warning" not in (stdout + err), stdout + err
    text = out.read_text(encoding="utf-8").lower()
    kept = {w for w in words(src.read_text(encoding="utf-8")) if w not in text}
    assert not kept, f"dropped from {src.name}: {sorted(kept)}"


@pytest.mark.parametrize("src", SCREENPLAYS, ids=lambda p: p.stem)
def test_the_film_lasts_what_its_words_take(src: Path, tmp_path: Path) -> None:
    """Bounded from the word count: dialogue at 150 words a minute, action at 180, 300 ms
    between elements, each scene at least 1 s (the fake voice speaks about 130 a minute)."""
    estimate, scenes = reading_estimate(src)
    got = seconds(plan_of(imported(src, tmp_path)))
    assert 0.7 * estimate <= got <= 1.5 * estimate + scenes, (got, estimate, scenes)


def _scene_text(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.find("\n\n", start)
    return text[start:end if end >= 0 else None]


def test_simple_translates_each_element(tmp_path: Path) -> None:
    out = tmp_path / "simple.nysh"
    rc, _, err = cli("import", SAMPLES / "Simple.fountain", "-o", out)
    assert rc == 0, err
    text = out.read_text(encoding="utf-8")
    assert "boneyard" not in text.lower()
    # action paragraphs are action lines in the flow; "CUT TO: " ends in spaces, so it is action too
    assert '    "A MAN sits alone at his desk."\n' in text and '    "CUT TO:"\n' in text
    assert '"THE END", center, show' in text  # centred text: a title card
    assert "MAN (V.O.):" in text and "(passionately)" in text
    assert "FADE IN:\n" in text and "[[ transition: Burn to White. ]]" in text
    for note in ("[[ page break ]]", "[[ synopsis: Synopsis ]]", "[[ section: Section 1 ]]",
                 "[[ section 2: Section 1-1 ]]", "[[ Comment ]]"):
        assert note in text, note
    assert 'SCENE "FORCED SCENE HEADING"' in text
    # nothing is dropped silently: the command says what became notes
    assert "1 page break, 2 sections, 1 synopsis and 1 transition became notes" in err


def test_show_action_draws_the_action(tmp_path: Path) -> None:
    out = tmp_path / "shown.nysh"
    rc, _, err = cli("import", SAMPLES / "MultilineAction.fountain", "-o", out, "--show-action", "-q")
    assert rc == 0, err
    text = out.read_text(encoding="utf-8")
    assert "\naction: show\n" in text
    drawn = [j.name for j in plan_of(out).jobs if " / action " in j.name]
    assert len(drawn) == 2, drawn  # three paragraphs, two of them the same text: one artifact
    hidden = tmp_path / "hidden.nysh"
    assert cli("import", SAMPLES / "MultilineAction.fountain", "-o", hidden, "-q")[0] == 0
    assert "action:" not in hidden.read_text(encoding="utf-8")
    assert not [j for j in plan_of(hidden).jobs if " / action " in j.name]


def test_dialogue_extensions_dual_and_paragraphs(tmp_path: Path) -> None:
    text = imported(SAMPLES / "Dialogue.fountain", tmp_path).read_text(encoding="utf-8")
    assert "EVE (O.S.):" in text and "EVE (cont'd):" in text and "EVE ^:" in text
    assert "        (O.S.)\n" not in text and "(cont'd)\n" not in text  # not parentheticals
    # a two-space line inside dialogue: one speech of two lines, not a note
    assert ('"That was really weird. I can be weird to. Here\'s a space in the dialogue block"\n'
            '        "for absolutely no good reason."') in text
    # a cue without a letter is action
    assert "23 (O.S.)" in text and "character CHARACTER_23" not in text


def test_beats_flow_without_computed_times(tmp_path: Path) -> None:
    path = imported(SAMPLES / "Dialogue.fountain", tmp_path)
    assert ", at " not in path.read_text(encoding="utf-8")
    scene = plan_of(path).timeline.scenes[0]
    assert scene.end - scene.start > 24 * 20  # twelve beats one after another, not on top of each other


def test_forced_elements_at_names_and_lyrics(tmp_path: Path) -> None:
    path = imported(SAMPLES / "ForcedElements.fountain", tmp_path)
    text = path.read_text(encoding="utf-8")
    # @McDUCK keeps its case as the display name
    assert "character MCDUCK:\n    [[ cue: McDUCK ]]" in text
    # ~ lyrics in a dialogue block: the singer sings a generated cue made of them
    assert "sings SINGER_SONG, for 5s" in text
    film = load(path, name=path.name).film
    song = film.defs("music")["SINGER_SONG"]
    lyrics = next(p.value for p in song.props if p.key == "lyrics")
    assert isinstance(lyrics, ir.Str) and lyrics.text == "These are the songs\nThat I sing."
    assert "!BANG" not in text and '"""\n        BANG\n        BANG\n        BANG\n    """' in text


def test_transitions_keep_their_spelling(tmp_path: Path) -> None:
    text = imported(SAMPLES.parent.parent / "export" / "sample.fountain", tmp_path).read_text(encoding="utf-8")
    assert "\nDISSOLVE TO:\n" in text and "\nSMASH CUT TO:\n" in text and "\nFADE OUT.\n" in text
    # two in a row: the first has no scene after it, so it is the one kept as a note
    assert text.count("[[ transition: SMASH CUT TO: ]]") == 1 and text.count("SMASH CUT TO:") == 2
    hamlet = imported(SAMPLES / "Hamlet-Ramparts.fountain", tmp_path).read_text(encoding="utf-8")
    assert "\nFADE TO:\n" in hamlet  # > FADE TO: is the transition FADE TO, not a note


def test_an_outline_has_its_title_as_a_card(tmp_path: Path) -> None:
    text = imported(SAMPLES / "SectionHeaders.fountain", tmp_path).read_text(encoding="utf-8")
    assert '"SectionHeaders", center, show' in text and "[[ section: ACT FOUR ]]" in text
    assert plan_of(tmp_path / "SectionHeaders.nysh").timeline.frames >= 24


def test_public_domain_adaptations(tmp_path: Path) -> None:
    hamlet = imported(SAMPLES / "Hamlet-Ramparts.fountain", tmp_path).read_text(encoding="utf-8")
    assert "BARNARDO (O.S.):" in hamlet and "GHOST (V.O.):" in hamlet and "HORATIO ^:" in hamlet
    assert "OPHELIA (CONT'D):" in hamlet and "sings OPHELIA_SONG, for" in hamlet and "sings OPHELIA_SONG_2" in hamlet
    assert '"THE REST IS SILENCE", center, show' in hamlet
    assert 'title: "HAMLET: THE RAMPARTS"' in hamlet  # the title page's emphasis is not the title
    assert '"Tush, tush, \'twill *not* appear."' in hamlet  # emphasis kept in the script
    poe = imported(SAMPLES / "TellTaleHeart.fountain", tmp_path).read_text(encoding="utf-8")
    assert "CROSS DISSOLVE TO:" in poe and "FADE TO BLACK:" in poe and "IRIS OUT:" in poe
    assert '"""\n        TRUE!\n        NERVOUS -- VERY, VERY DREADFULLY NERVOUS\n' in poe  # one card of three lines
    wilde = imported(SAMPLES / "Earnest-Cucumbers.fountain", tmp_path).read_text(encoding="utf-8")
    assert "character LADY_BRACKNELL:\n    [[ cue: Lady Bracknell ]]" in wilde and "MATCH CUT TO:" in wilde
    assert "JACK ^:" in wilde and "LANE (O.S.):" in wilde


@pytest.mark.parametrize("name", ["Hamlet-Ramparts", "TellTaleHeart", "Earnest-Cucumbers"])
def test_what_import_says_became_notes(name: str, tmp_path: Path) -> None:
    result = translate(read_fountain((SAMPLES / f"{name}.fountain").read_text(encoding="utf-8")), name="x")
    notes = re.findall(r"\[\[ (?!cue:)", result.text)
    fountain_notes = len(re.findall(r"\[\[(?!nysh:)", (SAMPLES / f"{name}.fountain").read_text(encoding="utf-8")))
    assert sum(result.notes.values()) == len(notes) - fountain_notes  # every note made is counted
    assert len(result.details) == sum(result.notes.values())


def test_strip_emphasis() -> None:
    import nyeshc.syntax.fountain as module

    failed, tried = doctest.testmod(module)
    assert tried and not failed
    assert strip_emphasis("*Bleep* **Boop** _now_ ***all***") == "Bleep Boop now all"
    assert strip_emphasis("a * b * c") == "a * b * c"
    assert strip_emphasis("snake_case_word") == "snake_case_word"
    assert strip_emphasis("no marks") == "no marks"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["Simple", "Dialogue"])
def test_imported_samples_render(name: str, tmp_path: Path) -> None:
    script = tmp_path / f"{name}.nysh"
    rc, _, err = cli("import", SAMPLES / f"{name}.fountain", "-o", script, "--canvas", "96x54, 8fps", "-q")
    assert rc == 0, err
    movie = tmp_path / f"{name}.mp4"
    rc, _, err = cli(script, "-o", movie, "-q", "--cache", tmp_path / "cache")
    assert rc == 0, err
    import subprocess

    import imageio_ffmpeg

    info = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(movie)],
                          capture_output=True, text=True).stderr
    assert re.search(r"Video: h264.*, 96x54", info) and re.search(r"Audio: aac.*, 48000 Hz", info), info
    h, m, s = re.search(r"Duration: (\d+):(\d+):([\d.]+)", info).groups()
    assert int(h) * 3600 + int(m) * 60 + float(s) > 2.0


def test_read_fountain_elements() -> None:
    sp = read_fountain("Title: T\n\nINT. A - DAY #3#\n\nBOB (V.O.) ^\n(softly)\nHi.\n  \nThere.\n~la\n\n> THE END <\n> NOW <\n")
    kinds = [(e.kind, e.text) for e in sp.elements]
    assert kinds == [("heading", "INT. A - DAY"), ("character", "BOB"), ("parenthetical", "softly"),
                     ("dialogue", "Hi."), ("dialogue", "There."), ("lyrics", "la"), ("centered", "THE END\nNOW")]
    assert sp.elements[0].number == "3" and sp.elements[1].extension == "(V.O.)" and sp.elements[1].dual
