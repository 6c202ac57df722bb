"""What an editor gets from ``nyeshc export``: media at the canvas size, placed, with alpha
where the layer has it (probed with ffmpeg); FCP 7 XML with its ``<format>``, audio-only files
and the target's own effects (read back by the OTIO fcp adapter and by ElementTree); one CMX 3600
list per track with ``FCM`` and readable reels (each parsed by the OTIO cmx_3600 adapter)."""

from __future__ import annotations

import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from test_interchange import REPO, cli, tiny

otio = pytest.importorskip("opentimelineio")

W, H = 128, 72


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two tiny films exported as .otio, .xml and .edl with one cache."""
    work = tmp_path_factory.mktemp("editor")
    cache = work / "cache"
    out: dict[str, Path] = {"cache": cache}
    for name in ("tour-voices", "tour-captions"):
        script = tiny(REPO / "examples" / f"{name}.nysh", work / name)
        for fmt in ("otio", "xml", "edl"):
            target = work / name / "out" / f"film.{fmt}"
            rc, _, err = cli("export", script, "-o", target, "-q", "--cache", cache)
            assert rc == 0, err
            out[f"{name}.{fmt}"] = target
    return out


def _probe(path: Path) -> tuple[str, str, int, int]:
    """(codec, pixel format, width, height) of a file's first video stream, from ffmpeg."""
    from imageio_ffmpeg import get_ffmpeg_exe

    err = subprocess.run([get_ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True,
                         text=True).stderr
    m = re.search(r"Video: (\w+)[^,]*, (\w+)[^,]*?(?:\([^)]*\))?, (\d+)x(\d+)", err)
    assert m, err
    return m.group(1), m.group(2), int(m.group(3)), int(m.group(4))


def test_media_are_at_the_canvas_size_and_keep_alpha(project: dict[str, Path]) -> None:
    from PIL import Image

    t = otio.adapters.read_from_file(str(project["tour-voices.otio"]))
    seen = set()
    for track in t.video_tracks():
        for clip in track.find_clips():
            path = Path(clip.media_reference.target_url[len("file://"):])
            meta = clip.metadata["nyeshc"]
            if path.suffix == ".png":
                img = Image.open(path)
                if not meta.get("roll"):
                    assert img.size == (W, H), (clip.name, img.size)
                if meta.get("role") in ("caption", "subtitle"):
                    assert img.mode == "RGBA"
                    alpha = np.asarray(img)[..., 3]
                    assert alpha.min() == 0 and alpha.max() == 255  # placed on a transparent canvas
            else:
                codec, pix, w, h = _probe(path)
                assert (w, h) == (W, H), (clip.name, w, h)
                if meta.get("role") == "portrait":  # boxed and with alpha: ProRes 4444
                    assert path.suffix == ".mov" and codec == "prores" and pix.startswith("yuva444p"), (codec, pix)
            seen.add(meta.get("role") or meta.get("kind"))
    assert {"portrait", "still", "subtitle"} <= seen or {"portrait", "still"} <= seen


def test_a_portrait_sits_in_its_box(project: dict[str, Path]) -> None:
    """The portrait's frame is transparent outside the box the plan gives it."""
    from imageio_ffmpeg import get_ffmpeg_exe

    t = otio.adapters.read_from_file(str(project["tour-voices.otio"]))
    clip = next(c for c in t.find_clips() if c.metadata["nyeshc"].get("role") == "portrait")
    box = clip.metadata["nyeshc"]["box"]
    path = clip.media_reference.target_url[len("file://"):]
    raw = subprocess.run([get_ffmpeg_exe(), "-v", "error", "-i", path, "-frames:v", "1", "-f", "rawvideo",
                          "-pix_fmt", "rgba", "-"], capture_output=True, check=True).stdout
    alpha = np.frombuffer(raw, np.uint8).reshape(H, W, 4)[..., 3]
    inside = np.zeros((H, W), bool)
    inside[max(0, box["y"]):box["y"] + box["height"], max(0, box["x"]):box["x"] + box["width"]] = True
    assert alpha[~inside].max() == 0
    assert alpha[inside].max() > 0


def test_fcp_xml_has_format_audio_only_files_and_effects(project: dict[str, Path]) -> None:
    for name in ("tour-voices", "tour-captions"):
        path = project[f"{name}.xml"]
        root = ET.parse(path).getroot()
        fmt = root.find("./project/children/sequence/media/video/format/samplecharacteristics")
        if fmt is None:
            fmt = root.find(".//sequence/media/video/format/samplecharacteristics")
        assert fmt is not None
        assert (fmt.findtext("width"), fmt.findtext("height"), fmt.findtext("pixelaspectratio"),
                fmt.findtext("rate/timebase")) == (str(W), str(H), "square", "24")
        files = [f for f in root.iter("file") if f.find("pathurl") is not None]
        assert files
        for f in files:
            url = f.findtext("pathurl")
            if url.endswith(".wav"):
                assert f.find("media/video") is None and f.find("media/audio/samplecharacteristics/samplerate") is not None
            else:
                assert f.find("media/audio") is None and f.find("media/video/samplecharacteristics/width") is not None
        back = otio.adapters.read_from_file(str(path))  # the adapter reads what it wrote
        assert back.metadata["fcp_xml"]["media"]["video"]["format"]["samplecharacteristics"]["width"] == str(W)
    # captions: an opacity fade and a Ken Burns move (tour-captions: fade in 500ms, zoom 1.1 -> 1.0)
    root = ET.parse(project["tour-captions.xml"]).getroot()
    effects: dict[str, ET.Element] = {}
    for e in root.iter("effect"):  # the first of each kind: scene 1's backdrop and caption
        effects.setdefault(e.findtext("effectid") or "", e)
    assert {"opacity", "basic"} <= set(effects)
    keys = [(int(k.findtext("when")), float(k.findtext("value"))) for k in effects["opacity"].iter("keyframe")]
    assert keys[:2] == [(0, 0.0), (12, 100.0)]  # 500 ms at 24 fps
    scale = [float(k.findtext("value")) for p in effects["basic"].iter("parameter")
             if p.findtext("parameterid") == "scale" for k in p.iter("keyframe")]
    assert scale[0] == pytest.approx(110.0) and scale[-1] == pytest.approx(100.0, abs=0.5)
    # voices: the music's -6 dB gain and 1 s fade in as audio levels
    root = ET.parse(project["tour-voices.xml"]).getroot()
    levels = [e for e in root.iter("effect") if e.findtext("effectid") == "audiolevels"]
    assert len(levels) == 1
    param = levels[0].find("parameter")
    assert float(param.findtext("value")) == pytest.approx(10 ** (-6 / 20), abs=1e-4)
    # silent on its first frame (the fade in); the rest, fade and ducking, is checked below
    first = next(param.iter("keyframe"))
    assert (int(first.findtext("when")), float(first.findtext("value"))) == (0, 0.0)


def test_one_edl_per_track_with_fcm_and_readable_reels(project: dict[str, Path]) -> None:
    from nyeshc.export.otio import edl_paths

    t = otio.adapters.read_from_file(str(project["tour-voices.otio"]))
    lists = edl_paths(t, project["tour-voices.edl"])
    assert len(lists) == len(list(t.video_tracks())) + len(list(t.audio_tracks()))
    assert lists[0][1] == project["tour-voices.edl"]
    for track, path in lists:
        text = path.read_text(encoding="utf-8")
        assert text.splitlines()[1] == "FCM: NON-DROP FRAME", path.name
        edl = otio.adapters.read_from_file(str(path), adapter_name="cmx_3600", rate=24)
        clips = [c for c in track if isinstance(c, otio.schema.Clip)]
        got = list(edl.find_clips())
        assert len(got) == len(clips), path.name
        for mine, theirs in zip(clips, got):
            reel = theirs.metadata["cmx_3600"]["reel"]
            assert reel == mine.metadata["cmx_3600"]["reel"]
            assert re.fullmatch(r"S\d\d(BG|VD|PT|MO|CP|SB|CR|FI|FO)\d+|(MU|SD|DL)\d{3}", reel), reel
            assert theirs.name == mine.name
        if clips:  # an audio list reads back as audio, a video list as video
            assert {tr.kind for tr in edl.tracks if len(tr)} == {track.kind}


def test_markers_for_scenes_and_dialogue_lines(project: dict[str, Path]) -> None:
    t = otio.adapters.read_from_file(str(project["tour-voices.otio"]))
    markers = [m for m in t.tracks.markers if "script_sha256" not in m.metadata["nyeshc"]]
    names = [m.name for m in markers]
    assert names[0] == 'SCENE 1 "The question"'
    assert names[1:] == ["scene 1 / CHILD / line 1", "scene 1 / ORACLE / line 1", "scene 1 / ORACLE / line 2"]
    oracle = markers[2]
    assert oracle.marked_range.start_time.to_frames() == 72  # ORACLE, at 3s
    assert re.fullmatch(r"[0-9a-f]{64}", t.metadata["nyeshc"]["script_sha256"])


FADES = """title: "Fades"
canvas: 128x72, 24fps
seed: 3

look A:
    image: generate, seed 1
look B:
    image: generate, seed 2

FADE IN: 500ms

SCENE 1 "One", 2s:
    backdrop: A

FADE TO WHITE: 1s

SCENE 2 "Two", 2s:
    backdrop: B

FADE OUT: 1s
"""


def _keys(effect: ET.Element, param: str) -> list[tuple[int, float]]:
    p = next(p for p in effect.iter("parameter") if p.findtext("parameterid") == param)
    return [(int(k.findtext("when")), float(k.findtext("value"))) for k in p.iter("keyframe")]


def test_scene_fades_are_mattes_with_opacity_keyframes(tmp_path: Path, project: dict[str, Path]) -> None:
    """FADE IN, FADE TO WHITE and FADE OUT: a black or white canvas-sized matte on the top
    ``Fades`` track whose opacity is 1 - the compositor's fade at every frame (0 on a fade in's
    first frame, 1 on a fade out's last: the matte fully covers them)."""
    from PIL import Image

    script = tmp_path / "fades.nysh"
    script.write_text(FADES, encoding="utf-8")
    out = tmp_path / "out" / "film.xml"
    rc, _, err = cli("export", script, "-o", out, "-q", "--cache", project["cache"])
    assert rc == 0, err
    root = ET.parse(out).getroot()
    tracks = root.findall(".//sequence/media/video/track")
    fades = tracks[-1]  # the top video track
    items = fades.findall("clipitem")
    got = {}
    for item in items:
        name = item.findtext("name")
        url = item.findtext("file/pathurl") or next(f.findtext("pathurl") for f in root.iter("file")
                                                     if f.get("id") == item.find("file").get("id")
                                                     and f.findtext("pathurl"))
        colour = np.asarray(Image.open(url[len("file://"):]).convert("RGB"))
        assert colour.shape == (H, W, 3) and len(np.unique(colour)) == 1
        effect = next(e for e in item.iter("effect") if e.findtext("effectid") == "opacity")
        got[name] = (int(item.findtext("start")), int(item.findtext("end")), int(colour[0, 0, 0]),
                     _keys(effect, "opacity"))
    # FADE IN: 500 ms (12 frames); FADE TO WHITE: 1 s, half in each scene; FADE OUT: 1 s
    h, n = 12, 24
    assert got == {
        'SCENE 1 "One" / fade in black': (0, h, 0, [(0, 100.0), (h - 1, pytest.approx(100 / h, abs=1e-3))]),
        'SCENE 1 "One" / fade out white': (48 - h, 48, 255, [(0, pytest.approx(100 / h, abs=1e-3)), (h - 1, 100.0)]),
        'SCENE 2 "Two" / fade in white': (48, 48 + h, 255, [(0, 100.0), (h - 1, pytest.approx(100 / h, abs=1e-3))]),
        'SCENE 2 "Two" / fade out black': (96 - n, 96, 0, [(0, pytest.approx(100 / n, abs=1e-3)), (n - 1, 100.0)]),
    }, got
    # the plan's scene fades are these, and the linear keyframes give the compositor's ramp:
    # a fade in's frame k shows the scene at k/n, so the matte is at 1 - k/n; a fade out's
    # frame k (of n) at (n - 1 - k)/n
    plan = _plan(script, project["cache"])
    s1, s2 = plan.timeline.scenes
    assert (s1.fade_in, s1.fade_out, s1.fade_out_white, s2.fade_in, s2.fade_in_white, s2.fade_out) == \
        (h, h, True, h, True, n)
    for name, frames, fade_in in (('SCENE 2 "Two" / fade in white', h, True),
                                  ('SCENE 2 "Two" / fade out black', n, False)):
        (w0, v0), (w1, v1) = got[name][3]
        for k in range(frames):  # linear between the two keyframes
            matte = v0 + (v1 - v0) * (k - w0) / (w1 - w0)
            scene = k / frames if fade_in else (frames - 1 - k) / frames
            assert matte / 100 == pytest.approx(1 - scene, abs=1e-4), (name, k)
    # an unedited cut with its mattes conforms to no change: the mattes are the film's own,
    # in the XML (by name) and in the EDLs (by reel: film.Fades.edl, S01FI1 …)
    rc, text, err = cli("conform", script, out, "--cache", project["cache"])
    assert rc == 0 and text == FADES and "not mapped" not in err, err
    edl = out.with_suffix(".edl")
    rc, _, err = cli("export", script, "-o", edl, "-q", "--cache", project["cache"])
    assert rc == 0, err
    assert re.findall(r"^\d{3}  (S0\dF[IO]1) ", edl.with_name("film.Fades.edl").read_text(encoding="utf-8"),
                      re.MULTILINE) == ["S01FI1", "S01FO1", "S02FI1", "S02FO1"]
    rc, text, err = cli("conform", script, edl, "--cache", project["cache"])
    assert rc == 0 and text == FADES and "not mapped" not in err, err
    # a matte the editor lengthened is listed, not dropped silently
    t = otio.adapters.read_from_file(str(out.with_suffix(".otio")) if out.with_suffix(".otio").exists() else str(out))
    top = list(t.video_tracks())[-1]
    clip = next(c for c in top if isinstance(c, otio.schema.Clip))
    gap = top[list(top).index(clip) + 1]
    rt = otio.opentime.RationalTime
    clip.source_range = otio.opentime.TimeRange(clip.source_range.start_time, clip.source_range.duration + rt(6, 24))
    gap.source_range = otio.opentime.TimeRange(gap.source_range.start_time, gap.source_range.duration - rt(6, 24))
    edited = tmp_path / "edited.otio"
    otio.adapters.write_to_file(t, str(edited))
    rc, text, err = cli("conform", script, edited, "--cache", project["cache"])
    assert rc == 0 and text == FADES, err
    assert "'SCENE 1 \"One\" / fade in black' lasts 0.750s, the script's fade 500ms" in err, err


def _plan(script: Path, cache: Path):  # a Plan
    import argparse

    from nyeshc.commands.common import prepare

    return prepare(argparse.Namespace(script=str(script), cache=str(cache), quiet=True), "test").plan


def test_music_ducking_as_audio_level_keyframes(project: dict[str, Path]) -> None:
    """tour-voices: the music (-6 dB, fade in 1 s) ducked -10 dB under three lines. The editor's
    level, its keyframes joined linearly, is the mixer's gain (gain x fade x duck envelope, the
    public ``duck_envelope``) exactly wherever the mixer's gain is flat, and within the
    difference of a linear ramp from an equal-power fade or a raised-cosine duck ramp (at most
    0.21 of the ramp's range, plus a frame's rounding) on the ramps."""
    from nyeshc.export.otio import duck_spans
    from nyeshc.render.mixer import ATTACK, RELEASE, duck_envelope

    script = project["tour-voices.xml"].parent.parent / "tour-voices.nysh"
    tl = _plan(script, project["cache"]).timeline
    music = next(c for c in tl.audio if c.role == "music")
    assert music.duck and tl.duck_db == -10.0 and music.gain_db == -6.0
    root = ET.parse(project["tour-voices.xml"]).getroot()
    item = next(i for tr in root.findall(".//sequence/media/audio/track") for i in tr.findall("clipitem")
                if i.findtext("name") == music.name)
    keys = _keys(next(e for e in item.iter("effect") if e.findtext("effectid") == "audiolevels"), "level")
    spf = tl.sample_rate // int(tl.fps)  # samples per frame
    start = int(item.findtext("start"))
    n = int(item.findtext("end")) - start
    env = duck_envelope(tl.samples, [(c.start, c.start + c.length) for c in tl.audio if c.role == "dialogue"],
                        tl.duck_db, tl.sample_rate)
    gain = 10 ** (music.gain_db / 20)
    fade_n = music.fade_in
    ws = [w for w, _ in keys]
    assert ws == sorted(ws) and ws[0] == 0 and ws[-1] == n
    spans = duck_spans(tl)
    assert spans and len(spans) <= 3
    for a, b in spans:  # a keyframe where each duck starts and ends, at the duck's level
        for edge in (a, b):
            f = round((edge - music.start) / spf)
            assert f in ws, (f, ws)
        att_f, rel_f = round((a - ATTACK * tl.sample_rate - music.start) / spf), \
            round((b + RELEASE * tl.sample_rate - music.start) / spf)
        assert (att_f in ws or att_f < 0) and (rel_f in ws or rel_f > n)
    flat = ramp = 0
    for k in range(n):
        i = next(j for j in range(len(keys) - 1) if keys[j][0] <= k <= keys[j + 1][0])
        (w0, v0), (w1, v1) = keys[i], keys[i + 1]
        editor = v0 + (v1 - v0) * (k - w0) / (w1 - w0)
        s = music.start + k * spf
        t = (s - music.start + 0.5) / fade_n
        mixer = gain * (np.sin(0.5 * np.pi * min(1.0, t))) * float(env[s])
        window = env[max(0, s - spf):s + spf + 1]
        if s - spf >= music.start + fade_n and window.min() == window.max():  # the mixer's gain is flat here
            assert editor == pytest.approx(mixer, abs=1e-4), (k, editor, mixer)
            flat += 1
        else:
            assert abs(editor - mixer) <= 0.25 * gain, (k, editor, mixer)
            ramp += 1
    assert flat > n // 2 and ramp > 0
    # under a line the level is the duck's: -6 dB - 10 dB
    mid = round(((spans[0][0] + spans[0][1]) // 2 - music.start) / spf)
    i = next(j for j in range(len(keys) - 1) if keys[j][0] <= mid <= keys[j + 1][0])
    assert keys[i][1] == pytest.approx(10 ** (-16 / 20), abs=1e-4)


ROLL = """title: "Roll"
canvas: 128x72, 24fps
seed: 3

look A:
    image: generate, seed 1

SCENE 1 "One", 1s:
    backdrop: A

CUT TO:

CREDITS, 2s:
    "the end"
    "a film by nobody"
"""


def test_the_credits_roll_is_a_motion_keyframed_move(tmp_path: Path, project: dict[str, Path]) -> None:
    """The roll's picture (at its own size) moved by its two *Basic Motion* centre keyframes,
    as an editor interpolates them, and laid over black is the compositor's frame."""
    from PIL import Image

    from nyeshc.render.compositor import Compositor
    from nyeshc.store.cache import Cache

    script = tmp_path / "roll.nysh"
    script.write_text(ROLL, encoding="utf-8")
    out = tmp_path / "out" / "film.xml"
    rc, _, err = cli("export", script, "-o", out, "-q", "--cache", project["cache"])
    assert rc == 0, err
    root = ET.parse(out).getroot()
    item = next(i for i in root.iter("clipitem") if (i.findtext("name") or "").endswith("/ credits"))
    start, end = int(item.findtext("start")), int(item.findtext("end"))
    url = next(f.findtext("pathurl") for f in root.iter("file")
               if f.get("id") == item.find("file").get("id") and f.findtext("pathurl"))
    rgba = np.asarray(Image.open(url[len("file://"):]).convert("RGBA")).astype(np.float64)
    h, w = rgba.shape[:2]
    effect = next(e for e in item.iter("effect") if e.findtext("effectid") == "basic")
    p = next(p for p in effect.iter("parameter") if p.findtext("parameterid") == "center")
    keys = [(int(k.findtext("when")), float(k.findtext("value/horiz")), float(k.findtext("value/vert")))
            for k in p.iter("keyframe")]
    assert [k[0] for k in keys] == [0, end - start - 1]
    tl = _plan(script, project["cache"]).timeline
    comp = Compositor(tl, Cache(project["cache"]))
    for f in range(start, end, 7):
        (w0, h0, v0), (w1, h1, v1) = keys
        t = (f - start - w0) / (w1 - w0)
        cx, cy = (h0 + (h1 - h0) * t) * W + W / 2, (v0 + (v1 - v0) * t) * H + H / 2
        x, y = round(cx - w / 2), round(cy - h / 2)
        editor = np.zeros((H, W, 3))
        ys, xs = slice(max(0, y), min(H, y + h)), slice(max(0, x), min(W, x + w))
        if ys.stop > ys.start and xs.stop > xs.start:
            src = rgba[ys.start - y:ys.stop - y, xs.start - x:xs.stop - x]
            editor[ys, xs] = src[..., :3] * src[..., 3:] / 255
        ours = comp.frame(f).astype(np.float64)
        assert np.abs(ours - editor).mean() <= 1.0, (f, np.abs(ours - editor).mean())
    assert any(np.asarray(comp.frame(f)).max() > 0 for f in range(start, end, 7))  # the text is seen
