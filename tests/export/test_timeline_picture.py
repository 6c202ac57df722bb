"""The timeline picture (``nyeshc plan FILM --svg|--png -o FILE``, :mod:`nyeshc.export.timeline`).

Structure is checked on every example and on ``timeline/small.nysh`` (planned with the plan
tests' fake services: fast, no backend): one scene block per scene with the plan's times,
every dialogue line's text in a line block's title, the transitions, the ruler in timecode,
the soundtrack's ducking. The SVG of the small film is compared with a golden file:
regenerate it with ``pytest tests/export/test_timeline_picture.py --update-golden`` and look
at the diff (and at the picture) before committing. Times are not asserted here:
``benchmarks/timeline_picture.py`` measures a two-hour film.
"""

from __future__ import annotations

import io
import itertools
import re
import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path

import pytest
from plan_fakes import EXAMPLES, FakeServices, plan_file

from nyeshc.cli import main
from nyeshc.export import timeline as tp
from nyeshc.plan import timecode
from nyeshc.plan.model import Plan, SceneTrack, Subtitle, Timeline

HERE = Path(__file__).resolve().parent
SMALL = HERE / "timeline" / "small.nysh"
GOLDEN = HERE / "timeline" / "small.svg"
NS = "{http://www.w3.org/2000/svg}"
FILMS = [*EXAMPLES, SMALL]


@pytest.fixture(scope="module")
def plans() -> dict[str, Plan]:
    return {p.stem: plan_file(p, FakeServices()) for p in FILMS}


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def blocks(root: ET.Element, kind: str, what: str = "block") -> list[ET.Element]:
    return [g for g in root.iter(f"{NS}g") if g.get("class") == f"{what} {kind}"]


def title(g: ET.Element) -> str:
    t = g.find(f"{NS}title")
    assert t is not None and t.text, ET.tostring(g)
    return t.text


def frame_of(text: str, fps: Fraction) -> int:
    """The frame a ``data-start``/``data-end`` names; it must be within a microsecond of it."""
    t = Fraction(text)
    f = round(t * fps)
    assert abs(t - Fraction(f) / fps) <= Fraction(1, 1_000_000), (text, f)
    return f


@pytest.mark.parametrize("film", [p.stem for p in FILMS])
def test_scene_blocks_are_the_plans_scenes(film: str, plans: dict[str, Plan]) -> None:
    plan = plans[film]
    tl = plan.timeline
    root = parse(tp.timeline_svg(plan, width=1200))
    scenes = blocks(root, "scene")
    assert len(scenes) == len(tl.scenes) > 0
    assert [g.get("data-scene") for g in scenes] == [str(i + 1) for i in range(len(tl.scenes))]
    for g, s in zip(scenes, tl.scenes):
        assert (frame_of(g.get("data-start", ""), tl.fps), frame_of(g.get("data-end", ""), tl.fps)) == (s.start, s.end)
        assert s.title in title(g)
    # the root's scale: x = left + t * px-per-second puts the film's end at the picture's right margin
    assert frame_of(root.get("data-duration", ""), tl.fps) == tl.frames
    assert root.get("data-width") == root.get("width") == "1200"
    right = float(root.get("data-left", "")) + float(tl.duration) * float(root.get("data-px-per-second", ""))
    assert right == pytest.approx(1200 - tp.RIGHT, abs=0.01)
    rect = scenes[0].find(f"{NS}rect")
    assert rect is not None and float(rect.get("x", "")) == pytest.approx(float(root.get("data-left", "")))


@pytest.mark.parametrize("film", [p.stem for p in FILMS])
def test_every_line_and_transition_is_drawn_with_its_times(film: str, plans: dict[str, Plan]) -> None:
    plan = plans[film]
    tl = plan.timeline
    root = parse(tp.timeline_svg(plan))
    lines = blocks(root, "line")
    assert len(lines) == len(tl.subtitles)
    said = {(Fraction(g.get("data-start", "")), title(g)) for g in lines}
    for sub in tl.subtitles:
        start = Fraction(round(sub.start * 1_000_000), 1_000_000)
        assert any(t == start and f"{sub.character}: {sub.text}" in text for t, text in said), sub
    transitions = blocks(root, "transition")
    assert len(transitions) == len(tl.overlaps)
    for g, o in zip(transitions, tl.overlaps):
        assert (frame_of(g.get("data-start", ""), tl.fps), frame_of(g.get("data-end", ""), tl.fps)) == (o.start, o.end)
    beats = blocks(root, "beat")
    portraits = [layer for s in tl.scenes for layer in s.layers if getattr(layer, "role", "") == "portrait"]
    assert len(beats) == len(portraits)
    kinds = {g.get("class", "").split()[1] for g in root.iter(f"{NS}g") if g.get("class", "").startswith("block ")}
    assert kinds <= set(tp.KINDS)


def test_small_film_rows_and_kinds(plans: dict[str, Plan]) -> None:
    root = parse(tp.timeline_svg(plans["small"]))
    rows = [g.get("data-row") for g in root.iter(f"{NS}g") if (g.get("class") or "").startswith("row ")]
    assert rows == ["scenes", "backdrops", "ANNA", "BEN", "captions", "music", "sounds"]
    assert {title(g) for g in blocks(root, "caption")} == {"caption “Small Hours” 0:00.06–0:02.06"}
    assert [title(g).split()[:2] for g in blocks(root, "cue")] == [["music", "soundtrack"]]
    assert [title(g).split()[:2] for g in blocks(root, "sound")] == [["sound", "BELL"]]
    assert len(blocks(root, "backdrop")) == 2  # DUSK, SEA
    morphs = blocks(root, "morph")  # the MORPH TO's frames and scene 3's backdrop morph
    assert len(morphs) == 2 and any("SEA -> DUSK" in title(g) for g in morphs)
    # text is escaped, not markup: the line with <for> and & parses and reads back
    assert any("Then we wait <for> the tide & turn." in title(g) for g in blocks(root, "line"))


def test_videos_recordings_and_voices_off_screen() -> None:
    from plan_fakes import plan_text

    plan = plan_text('''title: "Show"
canvas: 128x72, 12fps

SCENE 1 "A", 5s:
    show: "clips/harbour-sound.mp4", at 1s, for 2s
    sound: "rain.wav", at 500ms
    NARRATOR (V.O.), at 1s:
        "Heard, not seen."

FADE OUT: 1s
''')
    root = parse(tp.timeline_svg(plan, width=600))
    assert [title(g) for g in blocks(root, "backdrop")] == ["backdrop harbour-sound.mp4 0:01.00–0:03.00"]
    assert sorted(title(g) for g in blocks(root, "sound")) == ["sound harbour-sound.mp4 0:01.00–0:03.00",
                                                              "sound rain.wav 0:00.06–0:03.06"]
    assert blocks(root, "beat") == [] and [title(g)[:26] for g in blocks(root, "line")] == ["NARRATOR: Heard, not seen."]
    assert title(blocks(root, "scene")[0]).endswith("(fade out 1s)")


def test_ruler_is_in_timecode(plans: dict[str, Plan]) -> None:
    plan = plans["nyeshkerh"]
    tl = plan.timeline
    root = parse(tp.timeline_svg(plan, width=1600))
    majors = [g for g in root.iter(f"{NS}g") if g.get("class") == "tick major"]
    labels = [g.findtext(f"{NS}text") for g in majors]
    assert labels[0] == "0:00.00" and len(labels) >= 6
    for g, label in zip(majors, labels):
        assert re.fullmatch(r"\d+:\d\d\.\d\d", label or "")
        assert label == timecode(round(Fraction(g.get("data-t", "")) * tl.fps), tl.fps)
    # 67 s at 1600 px: a label every 5 s, the labels at least LABEL_GAP apart
    steps = {Fraction(b.get("data-t", "")) - Fraction(a.get("data-t", "")) for a, b in itertools.pairwise(majors)}
    assert steps == {5}


def test_ruler_step_follows_the_zoom() -> None:
    fps = Fraction(24)
    for seconds, width, step in ((60, 1600, 5), (60, 400, 30), (7200, 1600, 600), (7200, 6000, 120)):
        pps = (width - tp.LEFT - tp.RIGHT) / seconds
        majors = [t for t in tp.ruler(Fraction(seconds), pps, fps) if t.major]
        assert majors[1].t - majors[0].t == step, (seconds, width)
        assert step * pps >= tp.LABEL_GAP
        assert majors[-1].label == timecode(round(majors[-1].t * fps), fps)
    # two hours: the last label is past a hundred minutes, still m:ss.ff
    pps = (1600 - tp.LEFT - tp.RIGHT) / 7200
    assert [t for t in tp.ruler(Fraction(7200), pps, fps) if t.major][-1].label == "120:00.00"


def test_soundtrack_ducks_under_dialogue(plans: dict[str, Plan]) -> None:
    plan = plans["nyeshkerh"]
    tl = plan.timeline
    pic = tp.layout(plan)
    music = next(r for r in pic.rows if r.kind == "music")
    soundtrack = next(b for b in music.blocks if "soundtrack" in b.title)
    low = round(10 ** (tl.duck_db / 20), 4)
    env = soundtrack.envelope
    assert [t for t, _ in env] == sorted(t for t, _ in env)

    def level(t: Fraction) -> float:  # the envelope between its points, linearly
        for (t0, v0), (t1, v1) in itertools.pairwise(env):
            if t0 <= t <= t1:
                return v0 if t1 == t0 else v0 + (v1 - v0) * float((t - t0) / (t1 - t0))
        raise AssertionError(t)

    assert env[0][1] == 0.0 and env[-1][1] == 0.0  # faded in and out
    dialogue = [c for c in tl.audio if c.role == "dialogue"]
    for clip in dialogue:  # ducked from a line's first sample to its last
        for n in (clip.start, clip.start + clip.length // 2, clip.start + clip.length):
            assert level(Fraction(n, tl.sample_rate)) == pytest.approx(low), clip.name
    assert level(Fraction(5)) == 1.0 and level(Fraction(25)) == 1.0  # full between lines
    assert "ducked -8 dB under dialogue" in soundtrack.title
    # the sung cue is not ducked: its level stays full
    sung = next(b for b in music.blocks if "sings" in b.title)
    assert {lv for _, lv in sung.envelope} == {1.0}
    svg = parse(tp.to_svg(pic))
    assert len(next(iter(blocks(svg, "cue"))).findall(f"{NS}polyline")) == 1


def test_a_cue_that_starts_under_a_line_starts_ducked() -> None:
    from plan_fakes import plan_text

    plan = plan_text('''title: "Duck"
canvas: 128x72, 12fps
duck: -12dB

music PULSE:
    source: generate, genre "ambient", length 30s, seed 1

character ANNA:
    portrait: generate, seed 6
    voice: asemic

SCENE 1 "A", 8s:
    music: PULSE, at 1s
    ANNA, at 0s:
        "A line long enough to still be playing when the music comes in."
''')
    tl = plan.timeline
    line = next(c for c in tl.audio if c.role == "dialogue")
    cue = next(b for r in tp.layout(plan).rows if r.kind == "music" for b in r.blocks)
    assert line.start < 48_000 < line.start + line.length  # the cue comes in under the line
    low = round(10 ** (-12 / 20), 4)
    assert cue.envelope[0] == (Fraction(1), low)
    end = Fraction(line.start + line.length, tl.sample_rate)
    assert (end, low) in cue.envelope and cue.envelope[-1][1] == 1.0  # back up after the line


def long_plan(lines: int, seconds: int) -> Plan:
    """A film of ``seconds`` with ``lines`` short lines, evenly spread, and one scene a minute."""
    fps = Fraction(24)
    frames = seconds * 24
    scenes = tuple(SceneTrack(i, f"SCENE {i + 1}", i * 60 * 24, min(frames, (i + 1) * 60 * 24), ())
                   for i in range((seconds + 59) // 60))
    subs = tuple(Subtitle(Fraction(k * seconds, lines), Fraction(k * seconds, lines) + Fraction(3, 2),
                          f"line {k}", "ADA" if k % 2 else "BO") for k in range(lines))
    tl = Timeline(640, 360, fps, frames, 48_000, frames * 2000, scenes, (), (), subs)
    return Plan(tl, ())


def test_narrow_blocks_are_summarised_and_labels_fit() -> None:
    plan = long_plan(2000, 7200)
    pic = tp.layout(plan, width=1600)
    people = [r for r in pic.rows if r.kind == "character"]
    assert [r.name for r in people] == ["BO", "ADA"]  # by first appearance
    for row in people:
        drawn = [b for b in row.blocks if b.kind == "line"]
        assert row.bands, "1.5 s lines at 0.2 px a second are summarised"
        assert len(drawn) + sum(b.count for b in row.bands) == 1000
        assert all(b.count > 1 and 0 < b.density <= 1 for b in row.bands)
    scenes = next(r for r in pic.rows if r.kind == "scenes")
    assert len(scenes.blocks) == 120  # scenes are never merged
    for row in pic.rows:
        for b in row.blocks:
            if b.label:
                width = float(b.end - b.start) * pic.px_per_second
                assert len(b.label) * tp.FONT * tp.CHAR_EM <= width
    root = parse(tp.to_svg(pic))
    bands = blocks(root, "line", "band")
    assert bands and all(int(g.get("data-count", "0")) > 1 and "lines" in title(g) for g in bands)
    # zoomed in (a wide picture), the same lines are drawn one by one, with their text
    wide = tp.layout(long_plan(20, 60), width=4000)
    assert not any(r.bands for r in wide.rows)
    assert sum(1 for r in wide.rows for b in r.blocks if b.kind == "line" and b.label.startswith("line")) == 20


def test_an_empty_timeline_draws_a_ruler_and_no_blocks() -> None:
    empty = Plan(Timeline(128, 72, Fraction(24), 0, 48_000, 0, (), (), (), ()), ())
    root = parse(tp.timeline_svg(empty, width=400))
    assert root.get("data-duration") == "0"
    assert not [g for g in root.iter(f"{NS}g") if (g.get("class") or "").startswith(("block", "band"))]
    assert next(g.findtext(f"{NS}text") for g in root.iter(f"{NS}g") if g.get("class") == "tick major") == "0:00.00"
    with pytest.raises(ValueError, match="at least 226 pixels"):
        tp.layout(empty, width=225)


def test_frame_timecode_is_the_plans_timecode() -> None:
    """The picture's integer shortcut prints what :func:`nyeshc.plan.timecode` prints."""
    import random

    rng = random.Random(17)
    for fps in (Fraction(24), Fraction(25), Fraction(12), Fraction(30000, 1001)):
        times = [Fraction(rng.randrange(0, 10**9), rng.choice([1, 2, 3, 24, 1000, 48_000])) for _ in range(800)]
        times += [Fraction(2 * k + 1, 2 * fps.numerator) * fps.denominator for k in range(200)]  # ties
        for t in times:
            assert tp.frame_timecode(t, fps) == timecode(round(t * fps), fps), (t, fps)


def test_seconds_are_exact_to_the_frame_and_sample() -> None:
    assert tp.seconds_text(Fraction(1001, 24)) == "41.708333"
    for fps in (Fraction(24), Fraction(30000, 1001), Fraction(25)):
        for f in (0, 1, 7, 1439, 172_799):
            assert round(Fraction(tp.seconds_text(Fraction(f) / fps)) * fps) == f
    for n in (1, 47_999, 345_600_001):
        assert round(Fraction(tp.seconds_text(Fraction(n, 48_000))) * 48_000) == n


def test_svg_and_png_are_deterministic(plans: dict[str, Plan]) -> None:
    plan = plans["small"]
    again = plan_file(SMALL, FakeServices())
    assert tp.timeline_svg(plan, width=640) == tp.timeline_svg(again, width=640)
    assert tp.timeline_png(plan, width=640) == tp.timeline_png(again, width=640)
    assert tp.timeline_svg(plan, width=640) != tp.timeline_svg(plan, width=800)


def test_golden_svg(plans: dict[str, Plan], update_golden: bool) -> None:
    got = tp.timeline_svg(plans["small"], width=900, title="Small Hours")
    if update_golden or not GOLDEN.exists():
        GOLDEN.write_text(got, encoding="utf-8")
        if not update_golden:
            pytest.skip(f"wrote new golden {GOLDEN.name}")
    assert got == GOLDEN.read_text(encoding="utf-8"), "the timeline picture changed; rerun with --update-golden"


def test_png_is_the_same_layout(plans: dict[str, Plan]) -> None:
    from PIL import Image

    pic = tp.layout(plans["small"], width=640)
    img = Image.open(io.BytesIO(tp.to_png(pic))).convert("RGB")
    assert img.size == (640, pic.height)
    assert img.getpixel((2, pic.height - 2)) == tp.rgb(tp.COLOURS["background"])[:3]
    scenes = next(r for r in pic.rows if r.kind == "scenes")
    for block in scenes.blocks:
        if block.kind != "scene":
            continue
        _, y, _, h = tp.block_box(pic, scenes, block)
        # a pixel inside the scene, clear of its label and of any transition's hatching
        free = [t for t in (block.start + (block.end - block.start) * k / 8 for k in range(1, 8))
                if not any(o.kind == "transition" and o.start <= t <= o.end for o in scenes.blocks)]
        px = img.getpixel((round(pic.x(free[-1])), round(y + h - 3)))
        want = tp.COLOURS["scene-alt"] if block.offset else tp.COLOURS["scene"]
        assert px == tp.rgb(want)[:3], block.title
    assert len(img.getcolors(maxcolors=1 << 16) or []) > 20  # text and lines, not flat boxes only
    assert tp.to_png(pic, scale=2)[:8] == b"\x89PNG\r\n\x1a\n"
    assert Image.open(io.BytesIO(tp.to_png(pic, scale=2))).size == (1280, 2 * pic.height)


# --------------------------------------------------------------------------- the command line


def test_cli_writes_svg_and_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    svg, png = tmp_path / "out" / "t.svg", tmp_path / "t.png"
    assert main(["plan", str(SMALL), "--svg", "-o", str(svg), "--cache", str(tmp_path / "c")]) == 0
    assert capsys.readouterr().out == ""  # the picture goes to the file, nothing to stdout
    root = parse(svg.read_text(encoding="utf-8"))
    assert root.get("width") == "1600" and len(blocks(root, "scene")) == 3
    assert "Small Hours" in svg.read_text(encoding="utf-8")  # the script's title heads the picture
    assert main(["plan", str(SMALL), "--png", "-o", str(png), "--width", "700", "--cache", str(tmp_path / "c")]) == 0
    from PIL import Image

    assert Image.open(png).size[0] == 700
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "c") == ["out", "t.png"]  # no temporary left
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["t.svg"]


@pytest.mark.parametrize(("argv", "message"), [
    (["--svg"], "--svg needs -o FILE.svg"),
    (["--png"], "--png needs -o FILE.png"),
    (["--svg", "-o", "x.png"], "--svg writes a .svg file, not 'x.png'"),
    (["--png", "-o", "x.svg"], "--png writes a .png file, not 'x.svg'"),
    (["-o", "x.svg"], "-o FILE needs --svg or --png"),
    (["--svg", "-o", "x.svg", "--width", "100"], "--width must be at least"),
    (["--png", "-o", "x.png", "--width", "20000"], "--png is at most 16384 pixels wide, not 20000"),
])
def test_cli_usage_errors(argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["plan", str(SMALL), *argv]) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_cli_refuses_json_with_a_picture_and_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["plan", str(SMALL), "--json", "--svg", "-o", str(tmp_path / "x.svg")])
    assert exc.value.code == 2
    folder = tmp_path / "pic.svg"
    folder.mkdir()
    assert main(["plan", str(SMALL), "--svg", "-o", str(folder)]) == 2
    assert "is a folder" in capsys.readouterr().err


def test_a_failed_write_leaves_the_old_picture(tmp_path: Path, plans: dict[str, Plan],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "t.svg"
    out.write_text("old", encoding="utf-8")

    real = Path.write_bytes

    def half_then_crash(self: Path, data: bytes) -> int:  # a crash in the middle of writing
        real(self, data[: len(data) // 2])
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "write_bytes", half_then_crash)
    with pytest.raises(KeyboardInterrupt):
        tp.write_picture(plans["small"], out)
    assert out.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["t.svg"]
    with pytest.raises(ValueError, match="not 't.gif'"):
        tp.write_picture(plans["small"], tmp_path / "t.gif")


def test_scene_titles_say_their_fades(plans: dict[str, Plan]) -> None:
    root = parse(tp.timeline_svg(plans["nyeshkerh"]))
    titles = [title(g) for g in blocks(root, "scene")]
    assert titles[0].endswith("(fade in 3s)") and titles[2].endswith("(fade out 3s)")
    assert "fade" not in titles[1]
