"""Interchange end to end through the command line: OTIO out and back, FCP XML and EDL through
the OTIO adapters, Fountain out (re-parsed by jouvence) and in (checks clean, renders tiny)."""

from __future__ import annotations

import contextlib
import io
import re
import sys
from pathlib import Path

import pytest

from nyeshc.cli import main

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "examples").glob("*.nysh"))
HERE = Path(__file__).resolve().parent
# 24 fps: FCP XML and EDL write SMPTE timecode, which has no 12 fps
TINY = "canvas: 128x72, 24fps"


def cli(*args: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = int(main([str(a) for a in args]))
    return rc, out.getvalue(), err.getvalue()


def tiny(src: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    text = re.sub(r"^canvas:.*$", TINY, src.read_text(encoding="utf-8"), count=1, flags=re.MULTILINE)
    out = folder / src.name
    out.write_text(text, encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("interchange")


@pytest.fixture(scope="module")
def cache(work: Path) -> Path:
    return work / "cache"


def _plan(script: Path, cache: Path):  # noqa: ANN202 - a Plan
    import argparse

    from nyeshc.commands.common import prepare

    return prepare(argparse.Namespace(script=str(script), cache=str(cache), quiet=True), "test").plan


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_otio_round_trip_and_adapters(example: Path, work: Path, cache: Path) -> None:
    otio = pytest.importorskip("opentimelineio")
    from nyeshc.export.otio import clip_count

    script = tiny(example, work / example.stem)
    out = work / example.stem / "out" / "film.otio"
    rc, _, err = cli("export", script, "-o", out, "-q", "--cache", cache)
    assert rc == 0, err
    plan = _plan(script, cache)
    tl = plan.timeline
    t = otio.adapters.read_from_file(str(out))
    video, audio = list(t.video_tracks()), list(t.audio_tracks())
    assert video and all(tr.duration().to_frames() == tl.frames for tr in video)
    for tr in audio:  # exact in samples
        assert tr.duration() == otio.opentime.RationalTime(tl.samples, tl.sample_rate)
    counts = clip_count(plan)
    assert sum(1 for tr in video for c in tr if isinstance(c, otio.schema.Clip)) == counts["video"]
    assert sum(1 for tr in audio for c in tr if isinstance(c, otio.schema.Clip)) == counts["audio"]
    transitions = [x for tr in video for x in tr if isinstance(x, otio.schema.Transition)]
    assert {(x.metadata["nyeshc"]["start"], x.metadata["nyeshc"]["end"]) for x in transitions} == \
        {(o.start, o.end) for o in tl.overlaps}
    scene_markers = [m for m in t.tracks.markers if "scene" in m.metadata["nyeshc"]]
    assert [m.name for m in scene_markers] == [s.title for s in tl.scenes]
    assert [m.name for m in t.tracks.markers if "dialogue" in m.metadata["nyeshc"]] == \
        [c.name for c in tl.audio if c.role == "dialogue"]
    assert t.metadata["nyeshc"]["frames"] == tl.frames
    for clip in t.find_clips():  # every clip points at a file an editor can open
        url = clip.media_reference.target_url
        assert url.startswith("file://") and Path(url[7:]).is_file()
        assert Path(url).suffix in (".png", ".mp4", ".mov", ".wav")

    # the OTIO converted with the adapters
    if "fcp_xml" in otio.adapters.available_adapter_names():
        rc, _, err = cli("export", script, "-o", out.with_suffix(".xml"), "-q", "--cache", cache)
        assert rc == 0, err
        back = otio.adapters.read_from_file(str(out.with_suffix(".xml")))
        assert sum(1 for _ in back.find_clips()) == counts["video"] + counts["audio"]
    if "cmx_3600" in otio.adapters.available_adapter_names():
        rc, _, err = cli("export", script, "-o", out.with_suffix(".edl"), "-q", "--cache", cache)
        assert rc == 0, err
        edl = otio.adapters.read_from_file(str(out.with_suffix(".edl")), rate=float(tl.fps))
        backdrops = next(tr for tr in video if tr.name == "Backdrops")
        assert len(list(edl.find_clips())) == sum(isinstance(c, otio.schema.Clip) for c in backdrops)


def test_bundle_uses_relative_media(work: Path, cache: Path) -> None:
    otio = pytest.importorskip("opentimelineio")
    script = tiny(REPO / "examples" / "tour-captions.nysh", work / "bundle")
    out = work / "bundle" / "dist" / "glyphs.otio"
    rc, _, err = cli("export", script, "-o", out, "--bundle", "-q", "--cache", cache)
    assert rc == 0, err
    t = otio.adapters.read_from_file(str(out))
    urls = [c.media_reference.target_url for c in t.find_clips()]
    assert urls and all(u.startswith("glyphs_media/") and (out.parent / u).is_file() for u in urls)


def test_missing_opentimelineio_is_a_clear_usage_error(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentimelineio", None)
    script = tiny(REPO / "examples" / "tour-captions.nysh", work / "nootio")
    rc, _, err = cli("export", script, "-o", work / "nootio" / "x.otio")
    assert rc == 2
    assert "pip install 'nyeshc[interchange]'" in err


def test_unknown_format(work: Path) -> None:
    script = tiny(REPO / "examples" / "tour-captions.nysh", work / "unknown")
    rc, _, err = cli("export", script, "-o", work / "unknown" / "x.docx")
    assert rc == 2 and "unknown format" in err


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_subtitles_alone(fmt: str, work: Path, cache: Path) -> None:
    script = tiny(REPO / "examples" / "nyeshkerh.nysh", work / "subs")
    out = work / "subs" / f"film.{fmt}"
    rc, _, err = cli("export", script, "-o", out, "-q", "--cache", cache)
    assert rc == 0, err
    text = out.read_text(encoding="utf-8")
    assert "Nobody but her." in text
    assert text.startswith("WEBVTT") if fmt == "vtt" else text.startswith("1\n")


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_fountain_export_reparses_with_jouvence(example: Path, work: Path) -> None:
    jp = pytest.importorskip("jouvence.parser")
    from jouvence import document as jd

    out = work / "fountain" / f"{example.stem}.fountain"
    rc, _, err = cli("export", example, "-o", out, "-q")
    assert rc == 0, err
    doc = jp.JouvenceParser().parseString(out.read_text(encoding="utf-8"))
    text = example.read_text(encoding="utf-8")
    title = re.search(r'^title: "(.*)"', text, re.MULTILINE)
    assert title and doc.title_values.get("title") == title.group(1)
    elements = [(p.type, p.text) for s in doc.scenes for p in s.paragraphs]
    headers = [s.header for s in doc.scenes if s.header]
    film_scenes = re.findall(r"^(SCENE .*?|INT\..*?|EXT\..*?)(?:,|:)", text, re.MULTILINE)
    assert len(headers) == len(film_scenes)
    cues = {t for k, t in elements if k == jd.TYPE_CHARACTER}
    assert cues <= set(re.findall(r"^character (\w+)", text, re.MULTILINE))
    dialogue = [t for k, t in elements if k == jd.TYPE_DIALOG]
    for line in re.findall(r'^ {8}"(.*)"$', text, re.MULTILINE):
        assert any(line in d for d in dialogue), line
    assert any(k == jd.TYPE_TRANSITION for k, _ in elements)


def test_fountain_import_checks_clean_and_renders(work: Path, cache: Path) -> None:
    from nyeshc.syntax.fountain import read_fountain

    src = HERE / "sample.fountain"
    out = work / "imported" / "lighthouse.nysh"
    rc, _, err = cli("import", src, "-o", out, "--canvas", "128x72, 12fps")
    assert rc == 0, err
    assert "became notes" in err  # the sections, synopsis, page break, stray lyrics, one transition
    text = out.read_text(encoding="utf-8")
    rc, _, err = cli("check", out)
    assert rc == 0 and "warning" not in err, err
    # a translation: extensions, dual dialogue, display names, title cards, action, spellings
    for needle in ["character MARA:", "character OLD_TOM:", "character MCCLANE:\n    [[ cue: McCLANE ]]",
                   "(quietly)", "MARA (V.O.):", "MARA ^:", '"Forty."', '"Waves hit the rocks. A lamp turns above."',
                   '"THE LIGHT", center, show', "[[ section: Act Two ]]", "[[ page break ]]",
                   "[[ synopsis: The keeper's routine. ]]", "[[ Keep the lamp slow. ]]", "DISSOLVE TO:\n",
                   "FADE IN:\n", "FADE OUT.\n", "alphabet SCRIPT:", 'SCENE "THE LEDGER"', "EXT. SHORE - DAWN",
                   "[[ lyrics: I sing of the sea ]]", "[[ scene number 1 ]]"]:
        assert needle in text, needle
    assert "boneyard" not in text and ", at " not in text  # beats flow: no computed times
    assert text.count("[[ transition: SMASH CUT TO: ]]") == 1  # one of two in a row
    from nyeshc.syntax.format import format_text

    assert format_text(text) == text  # canonical
    rc, _, err = cli(out, "-o", out.with_suffix(".mp4"), "-q", "--cache", cache)
    assert rc == 0, err
    assert out.with_suffix(".mp4").stat().st_size > 0
    assert len(read_fountain(src.read_text(encoding="utf-8")).elements) > 10


def test_fountain_round_trip_through_nysh(work: Path) -> None:
    """An example out to Fountain and back in: same cues and dialogue, and it checks clean
    (tests/export/test_fountain_roundtrip.py compares the plans)."""
    from nyeshc.export.fountain import read_fountain, to_nysh  # the old names still work

    out = work / "rt" / "tour-voices.fountain"
    rc, _, err = cli("export", REPO / "examples" / "tour-voices.nysh", "-o", out, "-q")
    assert rc == 0, err
    sp = read_fountain(out.read_text(encoding="utf-8"))
    assert [e.text for e in sp.elements if e.kind == "character"] == ["CHILD", "ORACLE"]
    assert [e.text for e in sp.elements if e.kind == "dialogue"] == [
        "Where did the words go?", "Into the fog.", "They wait there."]
    nysh = work / "rt" / "back.nysh"
    nysh.write_text(to_nysh(sp, name="back"), encoding="utf-8")
    rc, _, err = cli("check", nysh)
    assert rc == 0, err
