"""The storyboard (#17): ``nyeshc storyboard FILM -o board.pdf|board.html``.

A two-scene film at 128x72, 12 fps (a crossfade, a character on screen with two lines, a
parenthetical and notes, a ``(V.O.)`` line, a caption in an alphabet, an action line) is
boarded once through the real command line with one cache; the PDF is read back with pypdf
(and ``pdftotext`` where installed), the HTML is parsed, and the panels' images are compared
pixel for pixel with the frames the renderer makes (:func:`nyeshc.render.render_still`).
"""

from __future__ import annotations

import base64
import io
import itertools
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from fractions import Fraction
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nyeshc import pipeline
from nyeshc.cli import main
from nyeshc.export import storyboard
from nyeshc.plan import timecode
from nyeshc.resolve.values import half_up
from nyeshc.plan.model import (
    Box,
    Job,
    Overlap,
    Plan,
    SceneTrack,
    SequenceLayer,
    StillLayer,
    Subtitle,
    TextLayer,
    Timeline,
)
from nyeshc.render import render_still
from nyeshc.store.cache import Cache

pypdf = pytest.importorskip("pypdf")

FILM = """\
title: "Small Hours"
author: "A. Writer"
canvas: 128x72, 12fps
seed: 5

alphabet SIGIL:
    glyphs: 24
    strokes: 1..3
    seed: 21
    ink: #f4d9a6

look EMBER:
    image: generate, seed 8
look ASH:
    image: generate, seed 99

character KEEPER:
    portrait: generate, seed 11
    voice: asemic, pitch 0.8
    motion: lipsync

[[ A note before the film. ]]

FADE IN: 500ms

SCENE 1 "Ember", 4s:
    backdrop: EMBER, zoom 1.0 -> 1.2
    caption: SIGIL "a small fire", at 0s, for 2s, center
    [[ scene note: keep it warm ]]

    KEEPER, at 1s:
        (softly)
        "Hello."
        [[ beat note ]]
        "Ещё раз."

CROSSFADE TO: 1s

[[ between the scenes ]]

SCENE 2 "Ash", 3s:
    backdrop: ASH, pan left
    "The keeper climbs the stairs."
    KEEPER (V.O.):
        "Gone."

FADE OUT: 500ms
"""

HEADINGS = ('SCENE 1 "Ember"', 'SCENE 2 "Ash"')
LINES = ("Hello.", "Ещё раз.", "Gone.")


class Quiet:
    """A pipeline report that keeps what it is told (the tests assert on nothing printed)."""

    def __init__(self) -> None:
        self.said: list[str] = []

    def problem(self, text: str) -> None:
        self.said.append(text)

    def detail(self, text: str) -> None:
        self.said.append(text)

    def diagnostics(self, found: object, sources: object) -> None:
        pass


def cli(*args: object) -> int:
    return int(main([str(a) for a in args]))


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("storyboard")
    script = root / "film.nysh"
    script.write_text(FILM, encoding="utf-8")
    cache = root / "cache"
    out = {"script": script, "cache": cache, "pdf": root / "board.pdf", "html": root / "board.html",
           "pdf2": root / "again.pdf", "html2": root / "again.html", "full": root / "full.html"}
    assert cli("storyboard", script, "-o", out["pdf"], "--cache", cache, "-q") == 0
    assert cli("storyboard", script, "-o", out["html"], "--cache", cache, "-q") == 0
    return out


@pytest.fixture(scope="module")
def prepared(made: dict[str, Path]) -> pipeline.Prepared:
    return pipeline.prepare(made["script"], Quiet(), cache=str(made["cache"]), canvas_scale=0.5)


@pytest.fixture(scope="module")
def board_shots(prepared: pipeline.Prepared, made: dict[str, Path]) -> tuple[storyboard.Shot, ...]:
    services = pipeline.RegistryServices(prepared.profile)
    found = storyboard.directions(prepared.checked.loaded.film, services, root=made["script"].parent)
    return storyboard.shots(prepared.plan, found)


# --------------------------------------------------------------------------- the shot list


def test_shots_cut_where_the_definition_says(prepared: pipeline.Prepared,
                                             board_shots: tuple[storyboard.Shot, ...]) -> None:
    tl = prepared.plan.timeline
    shots = board_shots
    assert [s.number for s in shots] == list(range(1, len(shots) + 1))
    # in time order, never overlapping, each at least a frame, covering every frame a scene shows
    for a, b in itertools.pairwise(shots):
        assert a.start < a.end <= b.start
    covered = {f for s in shots for f in range(s.start, s.end)}
    shown = {f for sc in tl.scenes for f in range(sc.start, sc.end)}
    assert covered == shown
    starts = {s.start for s in shots}
    (overlap,) = tl.overlaps
    # the crossfade is one shot, both scenes, and nothing inside it starts another
    (tr,) = [s for s in shots if s.cause == "transition"]
    assert (tr.start, tr.end, tr.scenes, tr.transition) == (overlap.start, overlap.end, (0, 1), "crossfade")
    assert 'SCENE 1 "Ember"' in tr.heading and 'SCENE 2 "Ash"' in tr.heading
    # every line, every beat on screen and every scene start (outside the transition) is a cut
    cuts = {half_up(sub.start * tl.fps) for sub in tl.subtitles}
    cuts |= {x for sc in tl.scenes for layer in sc.layers if isinstance(layer, SequenceLayer)
             and layer.role == "portrait" for x in (layer.start, layer.end)}
    cuts |= {sc.start for sc in tl.scenes}
    assert {c for c in cuts if not overlap.start < c < overlap.end and c < tl.frames} <= starts
    (beat,) = [layer for sc in tl.scenes for layer in sc.layers
               if isinstance(layer, SequenceLayer) and layer.role == "portrait"]
    assert next(s for s in shots if s.start == beat.start).cause == "beat"
    # the stills sit at each shot's middle
    assert storyboard.still_frames(shots) == [s.start + (s.end - s.start) // 2 for s in shots]


def test_every_line_parenthetical_and_note_lands_once(board_shots: tuple[storyboard.Shot, ...]) -> None:
    shots = board_shots
    said = [(line.speaker, line.text) for s in shots for line in s.dialogue]
    assert said == [("KEEPER", "Hello."), ("KEEPER", "Ещё раз."), ("KEEPER", "Gone.")]
    hello = next(s for s in shots if any(x.text == "Hello." for x in s.dialogue))
    again = next(s for s in shots if any(x.text == "Ещё раз." for x in s.dialogue))
    assert hello is not again  # a line starts a shot
    # the parenthetical goes with the line after it, the beat's note with the line after that
    assert [(p.speaker, p.text) for p in hello.parentheticals] == [("KEEPER", "(softly)")]
    assert "beat note" in again.notes
    first = shots[0]
    assert "scene note: keep it warm" in first.notes
    # a note before the first scene is about the film: on the cover (test_pdf_pages_and_words)
    assert sum(len(s.notes) for s in shots) == 3
    assert "[SIGIL] a small fire" in first.captions
    # the action line sits where scene 2 starts: inside the crossfade
    (tr,) = [s for s in shots if s.cause == "transition"]
    assert tr.action == ("The keeper climbs the stairs.",)
    assert tr.notes == ("between the scenes",)  # a note between scenes goes with the next one


def test_the_shot_list_is_a_function_of_the_script(made: dict[str, Path],
                                                   board_shots: tuple[storyboard.Shot, ...]) -> None:
    again = pipeline.prepare(made["script"], Quiet(), cache=str(made["cache"]), canvas_scale=0.5)
    services = pipeline.RegistryServices(again.profile)
    found = storyboard.directions(again.checked.loaded.film, services, root=made["script"].parent)
    assert storyboard.shots(again.plan, found) == board_shots
    # the full-size plan cuts at the same times (frames do not depend on the canvas)
    full = pipeline.prepare(made["script"], Quiet(), cache=str(made["cache"]))
    assert [(s.start, s.end, s.cause) for s in storyboard.shots(full.plan, found)] == \
        [(s.start, s.end, s.cause) for s in board_shots]


def test_one_pass_of_only_the_jobs_the_stills_and_charts_need(made: dict[str, Path], tmp_path: Path,
                                                              prepared: pipeline.Prepared,
                                                              board_shots: tuple[storyboard.Shot, ...],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from nyeshc.commands import storyboard as command
    from nyeshc.plan.select import artifact_keys, needed_jobs

    passes: list[list[str]] = []
    real = command.run_jobs

    def counting(prepared_: object, args: object, plan: object, name: str) -> object:
        passes.append([j.key for j in plan.jobs])  # type: ignore[attr-defined]
        return real(prepared_, args, plan, name)  # type: ignore[arg-type]

    monkeypatch.setattr(command, "run_jobs", counting)
    assert cli("storyboard", made["script"], "-o", tmp_path / "b.html", "--cache", made["cache"], "-q") == 0
    assert len(passes) == 1
    plan = prepared.plan
    keys = set().union(*(artifact_keys(plan.timeline, s.still, s.still + 1, audio=False) for s in board_shots))
    alphabet = [j.key for j in plan.jobs if j.kind == "glyphs.alphabet"]
    assert set(passes[0]) == {j.key for j in needed_jobs(plan, keys).jobs} | set(alphabet)
    # the (V.O.) line is heard, never seen: its voice is not made for a storyboard
    (gone,) = [j for j in plan.jobs if j.kind == "voice.speak" and j.params.get("text") == "Gone."]
    assert gone.key not in passes[0]
    assert len(passes[0]) < len(plan.jobs)


# --------------------------------------------------------------------------- the PDF


def _pdf_text(path: Path) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(str(path)).pages]


def test_pdf_pages_and_words(made: dict[str, Path], board_shots: tuple[storyboard.Shot, ...],
                             prepared: pipeline.Prepared) -> None:
    pages = _pdf_text(made["pdf"])
    assert len(pages) == storyboard.pdf_pages(len(board_shots)) == 1 + -(-len(board_shots) // 6)
    cover, panels = pages[0], "\n".join(pages[1:])
    assert "Small Hours" in cover and "A. Writer" in cover and "Rosetta chart: alphabet SIGIL" in cover
    assert "A note before the film." in cover and "A note before the film." not in panels
    for n, page in enumerate(pages[1:], start=2):
        assert f"Small Hours — storyboard, page {n} of {len(pages)}" in page
    for heading in HEADINGS:
        assert heading in panels
    for line in LINES:
        assert line in panels
    fps = prepared.plan.timeline.fps
    for s in board_shots:
        assert f"{timecode(s.start, fps)} – {timecode(s.end, fps)}" in panels
    assert "(softly)" in panels and "beat note" in panels and "The keeper climbs the stairs." in panels


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) not installed")
def test_pdftotext_reads_the_same_words(made: dict[str, Path]) -> None:
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(made["pdf"]), "-"], capture_output=True, check=True,
                          text=True, encoding="utf-8").stdout
    for word in (*HEADINGS, *LINES, "Small Hours", "A. Writer"):
        assert word in text


def test_pdf_panels_are_the_films_frames(made: dict[str, Path], board_shots: tuple[storyboard.Shot, ...],
                                         prepared: pipeline.Prepared) -> None:
    tl = prepared.plan.timeline
    cache = Cache(made["cache"])
    reader = pypdf.PdfReader(str(made["pdf"]))
    embedded = [np.asarray(img.image.convert("RGB")) for page in reader.pages[1:] for img in page.images]
    assert embedded
    for s in board_shots:
        frame = render_still(tl, cache, s.still)
        assert frame.shape == (36, 64, 3)  # half of 128x72: the preview size
        assert any(e.shape == frame.shape and np.array_equal(e, frame) for e in embedded), s.number
    # the chart on the cover is an image too
    assert len(reader.pages[0].images) == 1


def test_pdf_and_html_are_deterministic(made: dict[str, Path]) -> None:
    assert cli("storyboard", made["script"], "-o", made["pdf2"], "--cache", made["cache"], "-q") == 0
    assert cli("storyboard", made["script"], "-o", made["html2"], "--cache", made["cache"], "-q") == 0
    assert made["pdf2"].read_bytes() == made["pdf"].read_bytes()
    assert made["html2"].read_bytes() == made["html"].read_bytes()
    # and in another process, whose string hashes (set orders) differ
    other = made["pdf2"].with_name("other.pdf")
    env = {**os.environ, "PYTHONHASHSEED": "7"}
    subprocess.run([sys.executable, "-m", "nyeshc.cli", "storyboard", str(made["script"]), "-o", str(other),
                    "--cache", str(made["cache"]), "-q"], check=True, env=env, timeout=300)
    assert other.read_bytes() == made["pdf"].read_bytes()


# --------------------------------------------------------------------------- the HTML


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _page(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def _data_image(src: str | None) -> np.ndarray:
    assert src is not None and src.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).convert("RGB"))


def test_html_is_one_self_contained_page(made: dict[str, Path], board_shots: tuple[storyboard.Shot, ...],
                                         prepared: pipeline.Prepared) -> None:
    page = _page(made["html"])
    names = [t for t, _ in page.tags]
    assert "script" not in names and "link" not in names and "iframe" not in names
    raw = made["html"].read_text(encoding="utf-8")
    assert "http://" not in raw and "https://" not in raw and "url(" not in raw
    panels = [a for t, a in page.tags if t == "article"]
    assert [a["id"] for a in panels] == [f"shot-{s.number}" for s in board_shots]
    assert [int(a["data-still"] or -1) for a in panels] == storyboard.still_frames(board_shots)
    imgs = [a for t, a in page.tags if t == "img"]
    assert len(imgs) == len(board_shots) + 1  # the Rosetta chart, then one still a panel
    cache = Cache(made["cache"])
    for s, img in zip(board_shots, imgs[1:]):
        assert np.array_equal(_data_image(img["src"]), render_still(prepared.plan.timeline, cache, s.still))
    text = " ".join(page.text)
    for word in (*HEADINGS, *LINES, "(softly)", "Small Hours", "A. Writer"):
        assert word in text


def test_full_size_renders_the_canvas(made: dict[str, Path]) -> None:
    assert cli("storyboard", made["script"], "-o", made["full"], "--cache", made["cache"], "-q", "--full-size") == 0
    imgs = [a for t, a in _page(made["full"]).tags if t == "img"][1:]
    assert {(a["width"], a["height"]) for a in imgs} == {("128", "72")}
    assert {_data_image(a["src"]).shape for a in imgs} == {(72, 128, 3)}
    small = [a for t, a in _page(made["html"]).tags if t == "img"][1:]
    assert {(a["width"], a["height"]) for a in small} == {("64", "36")}


def test_progress_and_the_summary_go_to_stderr(made: dict[str, Path], tmp_path: Path,
                                               board_shots: tuple[storyboard.Shot, ...],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "b.pdf"
    assert cli("storyboard", made["script"], "-o", out, "--cache", made["cache"]) == 0
    said = capsys.readouterr()
    assert said.out == ""
    n = len(board_shots)
    assert "stills" in said.err and f"{n}/{n}" in said.err
    assert f"wrote {out} ({n} shots, {storyboard.pdf_pages(n)} pages, stills 64x36)" in said.err
    assert cli("storyboard", made["script"], "-o", tmp_path / "c.pdf", "--cache", made["cache"], "-q") == 0
    assert capsys.readouterr().err == ""


def test_an_interrupted_storyboard_leaves_the_old_file(made: dict[str, Path], tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from nyeshc.commands import storyboard as command

    out = tmp_path / "b.html"
    out.write_text("the board before", encoding="utf-8")
    real = command._Stills.__getitem__

    def interrupted(self: object, i: int) -> object:
        if i == 2:  # Ctrl-C while the third panel is written
            raise KeyboardInterrupt
        return real(self, i)  # type: ignore[arg-type]

    monkeypatch.setattr(command._Stills, "__getitem__", interrupted)
    assert cli("storyboard", made["script"], "-o", out, "--cache", made["cache"], "-q") == 130
    assert out.read_text(encoding="utf-8") == "the board before"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.html"]  # no temporary file left


# --------------------------------------------------------------------------- the command's errors


def test_a_bad_suffix_is_a_usage_error(made: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    out = made["script"].parent / "board.docx"
    assert cli("storyboard", made["script"], "-o", out) == 2
    assert "must be a .pdf or .html file" in capsys.readouterr().err
    assert not out.exists()


def test_a_folder_or_a_missing_fpdf2_is_said_before_any_job(made: dict[str, Path], tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "board.pdf"
    folder.mkdir()
    assert cli("storyboard", made["script"], "-o", folder) == 2
    assert "is a folder" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "fpdf", None)  # import fpdf raises ImportError
    empty = tmp_path / "cache"
    assert cli("storyboard", made["script"], "-o", tmp_path / "b.pdf", "--cache", empty) == 2
    assert "pip install 'nyeshc[studio]'" in capsys.readouterr().err
    assert not empty.exists() and not (tmp_path / "b.pdf").exists()


def test_a_script_with_errors_prints_diagnostics(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.nysh"
    bad.write_text(FILM.replace("backdrop: EMBER", "backdrop: EMBRE"), encoding="utf-8")
    out = tmp_path / "board.pdf"
    assert cli("storyboard", bad, "-o", out, "--cache", tmp_path / "cache") == 1
    err = capsys.readouterr().err
    assert "EMBRE" in err and "error" in err
    assert not out.exists() and not list(tmp_path.glob(".board.pdf*"))


# --------------------------------------------------------------------------- documents alone


def _board(shots: tuple[storyboard.Shot, ...], title: str = "T") -> storyboard.Board:
    rng = np.random.default_rng(0)
    stills = tuple(rng.integers(0, 255, (36, 64, 3), dtype=np.uint8) for _ in shots)
    return storyboard.Board(title, "", Fraction(12), 64, 36, max(s.end for s in shots), shots, stills)


@pytest.mark.parametrize("fallbacks", ["system", "none"])
def test_text_no_font_has_does_not_crash_the_pdf(fallbacks: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if fallbacks == "none":  # a machine without DejaVu: the glyphs are left out, with fpdf2's warning
        monkeypatch.setattr(storyboard, "_FALLBACKS", ())
    words = ("你好，世界", "مرحبا", "नमस्ते", "🙂 ok", "Ελληνικά")
    shots = tuple(storyboard.Shot(i + 1, i * 12, i * 12 + 12, "line", (0,), f"SCENE {w}",
                                  dialogue=(storyboard.Line("ΚΑΤΙΑ", w),)) for i, w in enumerate(words))
    data = storyboard.render_pdf(_board(shots, title="标题"))
    reader = pypdf.PdfReader(io.BytesIO(data))
    assert len(reader.pages) == storyboard.pdf_pages(len(shots))
    text = "".join(p.extract_text() for p in reader.pages)
    assert "Ελληνικά" in text and "ΚΑΤΙΑ" in text  # Source Serif has Greek


def test_a_panel_too_long_to_fit_is_cut_with_an_ellipsis() -> None:
    long = " ".join(["word"] * 900)
    shot = storyboard.Shot(1, 0, 24, "line", (0,), "SCENE 1", dialogue=(storyboard.Line("A", long + " END"),))
    data = storyboard.render_pdf(_board((shot, replace(shot, number=2, start=24, end=48))))
    reader = pypdf.PdfReader(io.BytesIO(data))
    assert len(reader.pages) == 2  # the cover and one page: nothing spills onto another page
    text = reader.pages[1].extract_text()
    assert "…" in text and "END" not in text
    short = storyboard.render_pdf(_board((replace(shot, dialogue=(storyboard.Line("A", "short END"),)),)))
    assert "END" in pypdf.PdfReader(io.BytesIO(short)).pages[1].extract_text()


def test_a_cover_with_long_notes_keeps_room_for_the_charts() -> None:
    shot = storyboard.Shot(1, 0, 24, "line", (0,), "SCENE 1")
    chart = np.full((300, 500, 3), 200, dtype=np.uint8)
    notes = tuple(" ".join([f"note{i}"] * 1500) + f" LAST{i}" for i in range(3))
    board = replace(_board((shot,)), notes=notes, charts=(("GLOW", chart),))
    reader = pypdf.PdfReader(io.BytesIO(storyboard.render_pdf(board)))
    assert len(reader.pages) == 2
    cover = reader.pages[0].extract_text()
    assert "note0" in cover and "…" in cover and "LAST2" not in cover
    assert "Rosetta chart: alphabet GLOW" in cover
    (image,) = reader.pages[0].images
    assert np.array_equal(np.asarray(image.image.convert("RGB")), chart)


def test_pages_hold_six_panels() -> None:
    assert [storyboard.pdf_pages(n) for n in (0, 1, 6, 7, 12, 13)] == [1, 2, 2, 3, 3, 4]


def test_shots_of_a_timeline_made_by_hand() -> None:
    """Every kind of cut, a morph, a gap of black and an inset that is no backdrop, on a timeline
    built by hand (no planner, no rendering)."""
    fps = Fraction(12)
    a = SceneTrack(0, "SCENE 1", 0, 48, (
        StillLayer(0, 20, "bg1"), StillLayer(20, 48, "bg2"),  # a backdrop change at 20
        StillLayer(5, 40, "inset", box=Box(0, 0, 10, 10)),  # an inset: not a cut
        SequenceLayer(24, 36, "face", role="portrait"),  # a beat on screen 24-36
        TextLayer(0, 48, "cap", role="caption"),
    ))
    b = SceneTrack(1, "SCENE 2", 40, 60, (StillLayer(40, 60, "bg3"),))
    c = SceneTrack(2, "SCENE 3", 72, 84, (StillLayer(72, 84, "bg4"),))  # black from 60 to 72
    subs = (Subtitle(Fraction(26, 12), Fraction(30, 12), "one", "A"),  # a line starting at frame 26
            Subtitle(Fraction(42, 12), Fraction(50, 12), "two", "B"))  # starting inside the morph
    tl = Timeline(64, 36, fps, 84, 48_000, 48_000 * 7, (a, b, c), (Overlap("morph", 0, 1, 40, 48, "m"),), (), subs)
    cap = Job("cap", "text.plain", "", "", {}, {"text": "hello"}, (), 0, "image", "caption")
    shots = storyboard.shots(Plan(tl, (cap,)))
    assert [(s.start, s.end, s.cause) for s in shots] == [
        (0, 20, "scene"), (20, 24, "backdrop"), (24, 26, "beat"), (26, 36, "line"), (36, 40, "beat"),
        (40, 48, "transition"), (48, 60, "scene"), (72, 84, "scene")]
    assert shots[5].transition == "morph" and shots[5].scenes == (0, 1)
    assert shots[5].heading == "SCENE 1 → SCENE 2"
    assert [[line.text for line in s.dialogue] for s in shots] == [[], [], [], ["one"], [], ["two"], [], []]
    assert [s.captions for s in shots[:6]] == [("hello",)] * 6 and shots[6].captions == ()
    assert storyboard.shots(Plan(tl, (cap,))) == shots


def test_an_example_at_a_tiny_canvas(tmp_path: Path) -> None:
    """``examples/tour-captions.nysh`` (two scenes, a crossfade, captions in an alphabet) at
    128x72: a panel per shot, each scene's heading and each caption in the HTML."""
    text = (Path(__file__).resolve().parents[2] / "examples" / "tour-captions.nysh").read_text(encoding="utf-8")
    script = tmp_path / "tour.nysh"
    script.write_text(text.replace("canvas: 640x360, 24fps", "canvas: 128x72, 12fps"), encoding="utf-8")
    assert "128x72" in script.read_text(encoding="utf-8")
    out = tmp_path / "board.html"
    assert cli("storyboard", script, "-o", out, "--cache", tmp_path / "cache", "-q") == 0
    page = _page(out)
    words = " ".join(page.text)
    for heading in ('SCENE 1 "Ember"', 'SCENE 2 "Ash"', "CROSSFADE (transition)"):
        assert heading in words
    for caption in ("[SIGIL] every letter a small fire", "Caption: every letter a small fire", "[SIGIL] and then ash"):
        assert caption in words
    # scene 1, its second caption's start is no cut, the crossfade, scene 2
    assert [a["data-cause"] for t, a in page.tags if t == "article"] == ["scene", "transition", "scene"]
