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
    assert [(int(k.findtext("when")), float(k.findtext("value"))) for k in param.iter("keyframe")][:2] == \
        [(0, 0.0), (24, pytest.approx(10 ** (-6 / 20), abs=1e-4))]


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
            assert re.fullmatch(r"S\d\d(BG|VD|PT|MO|CP|SB|CR)\d+|(MU|SD|DL)\d{3}", reel), reel
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
