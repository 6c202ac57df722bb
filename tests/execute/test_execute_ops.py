"""The dispatcher: built-in ops (assets, voice tracks), validation, streaming into the cache."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest
from execute_fakes import job
from PIL import Image

from nyeshc.backends.base import BackendError, Portrait, RigState
from nyeshc.execute import Cache
from nyeshc.execute.ops import OPS, run_job
from nyeshc.store.frames import FrameSequence

JOBS_MD = Path(__file__).resolve().parents[2] / "docs" / "dev" / "jobs.md"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_documented_kind_has_an_op() -> None:
    if not JOBS_MD.exists():
        pytest.skip("docs/dev/jobs.md missing")
    import re

    documented = set(re.findall(r"^\| `([a-z]+\.[a-z]+)` \|", JOBS_MD.read_text(), flags=re.M))
    assert documented and documented == set(OPS)


def test_unknown_kind() -> None:
    with pytest.raises(BackendError, match="unknown job kind 'image.dance'"):
        run_job(job("image.dance", "", {}, output="image", name="x"), [])


# --------------------------------------------------------------------------- voice.track


def test_voice_track_places_adds_and_clips() -> None:
    a = np.full((4, 1), 0.25, np.float32)
    b = np.full((5, 2), 0.5, np.float32)  # stereo input is folded to mono
    j = job("voice.track", "", {"length": 10, "offsets": [2, 8]}, ("a", "b"), output="audio", name="beat")
    out = run_job(j, [a, b])
    assert out.shape == (10, 1) and out.dtype == np.float32
    assert out[:2, 0].tolist() == [0, 0] and out[2:6, 0].tolist() == [0.25] * 4
    assert out[6:8, 0].tolist() == [0, 0] and out[8:, 0].tolist() == [0.5, 0.5]  # overflow clipped
    over = run_job(job("voice.track", "", {"length": 4, "offsets": [1, 2]}, ("a", "a"), output="audio",
                       name="beat"), [a, a])
    assert over[:, 0].tolist() == [0, 0.25, 0.5, 0.5]  # overlapping lines add up


def test_voice_track_clips_take_part_of_an_input() -> None:
    song = np.stack([np.arange(10, dtype=np.float32)] * 2, axis=1)  # stereo "music"
    line = np.ones((3, 1), np.float32)
    j = job("voice.track", "", {"length": 8, "offsets": [0, 4], "clips": [[0, 3], [6, 10]]}, ("l", "s"),
            output="audio", name="sings")
    out = run_job(j, [line, song])
    assert out[:, 0].tolist() == [1, 1, 1, 0, 6, 7, 8, 9]
    with pytest.raises(BackendError, match="clips"):
        run_job(job("voice.track", "", {"length": 8, "offsets": [0], "clips": [[0]]}, ("l",),
                    output="audio", name="bad"), [line])


# --------------------------------------------------------------------------- validation


@pytest.mark.usefixtures("fakes")
def test_bad_backend_output_is_a_backend_error() -> None:
    j = job("image.render", "image.fake", {"width": 4, "height": 3}, ("z",), output="image",
            name="scene 2 / backdrop", settings={"bad": True})
    with pytest.raises(BackendError, match=r"image.render job 'scene 2 / backdrop' \(backend image.fake\) "
                                           r"returned a float64 array of shape \(3, 4, 3\)"):
        run_job(j, [np.zeros(4, np.float32)])


@pytest.mark.usefixtures("fakes")
def test_a_backend_of_another_version_is_refused() -> None:
    j = job("image.latent", "image.fake", {"truncation": 1.0}, output="latent", name="look", version="0")
    with pytest.raises(BackendError, match="version 1, but the plan was made with version 0"):
        run_job(j, [])


@pytest.mark.usefixtures("fakes")
def test_wrong_input_type_and_count() -> None:
    j = job("motion.still", "motion.fake", {"fps": 24, "frames": 2}, ("p",), output="frames", name="face")
    with pytest.raises(BackendError, match="expected a Portrait"):
        run_job(j, [np.zeros(3)])
    with pytest.raises(BackendError, match="lists 1 inputs but was given 0"):
        run_job(j, [])


@pytest.mark.usefixtures("fakes")
def test_motion_and_portrait_ops(tmp_path: Path) -> None:
    lat = np.zeros(4, np.float32)
    p = run_job(job("portrait.make", "portrait.fake", {"size": 8}, ("l",), output="portrait", name="p"), [lat])
    assert isinstance(p, Portrait) and p.image.shape == (8, 8, 4)
    voice = np.zeros((4800, 1), np.float32)
    voice[2400:] = 0.8
    frames = run_job(job("motion.lipsync", "motion.fake", {"fps": 10, "frames": 2}, ("p", "v"),
                         output="frames", name="p / talk"), [p, voice])
    assert frames.shape == (2, 8, 8, 4) and frames[0, 0, 0, 0] == 0 and frames[1, 0, 0, 0] > 0
    with pytest.raises(BackendError, match="parameter 'frames'"):
        run_job(job("motion.still", "motion.fake", {"fps": 10, "frames": -1}, ("p",), output="frames",
                    name="p"), [p])
    # a part of a beat (first, beat) asks the backend for a frame range: one that cannot draw one
    # says so, naming the capability
    with pytest.raises(BackendError, match="renders_frame_ranges"):
        run_job(job("motion.lipsync", "motion.fake", {"fps": 10, "frames": 1, "first": 1, "beat": 2}, ("p", "v"),
                    output="frames", name="p / talk / part 2"), [p, voice])
    with pytest.raises(BackendError, match="renders_frame_ranges"):  # a section of a beat, likewise
        run_job(job("motion.lipsync", "motion.fake", {"fps": 10, "frames": 1, "phase": 3}, ("p", "v"),
                    output="frames", name="p / talk / section 2"), [p, voice])
    with pytest.raises(BackendError, match="parameter 'beat' must be an integer >= 3"):
        run_job(job("motion.lipsync", "motion.fake", {"fps": 10, "frames": 2, "first": 1, "beat": 2}, ("p", "v"),
                    output="frames", name="p / talk / part 2"), [p, voice])
    # a portrait's rig: a backend without rig() cannot make one, nor take one (rig=), and an
    # input that is not a rig is refused, each by name
    with pytest.raises(BackendError, match=r"has no rig\(portrait\)"):
        run_job(job("motion.rig", "motion.fake", {}, ("p",), output="rig", name="p / rig"), [p])
    rig = RigState("motion.fake", {})
    with pytest.raises(BackendError, match="takes no rig="):
        run_job(job("motion.lipsync", "motion.fake", {"fps": 10, "frames": 2}, ("p", "v", "r"),
                    output="frames", name="p / talk"), [p, voice, rig])
    with pytest.raises(BackendError, match="takes no rig="):
        run_job(job("motion.still", "motion.fake", {"fps": 10, "frames": 2}, ("p", "r"), output="frames",
                    name="p"), [p, rig])
    with pytest.raises(BackendError, match="expected a RigState"):
        run_job(job("motion.still", "motion.fake", {"fps": 10, "frames": 2}, ("p", "r"), output="frames",
                    name="p"), [p, voice])


@pytest.mark.usefixtures("fakes")
def test_morph_streams_into_the_cache(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c")
    keys = [np.zeros(4, np.float32), np.ones(4, np.float32)]
    j = job("image.morph", "image.fake", {"width": 5, "height": 4, "frames": 3, "ease": "linear"},
            ("a", "b"), output="frames", name="morph")
    seen: list[float] = []
    out = run_job(j, keys, cache, seen.append)
    # stored compressed, read back lazily (nyeshc/store/frames.py), decoding to the same bytes
    assert cache.has(j.key) and isinstance(out, FrameSequence) and out.shape == (3, 4, 5, 3)
    assert seen[-1] == 1.0
    mem = run_job(j, keys, None)
    assert np.array_equal(mem, np.asarray(out))


def test_text_plain_missing_module_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "nyeshc.backends.plaintext", None)
    j = job("text.plain", "", {"text": "hi", "height": 10, "colour": [255, 255, 255], "max_width": None},
            output="image", name="caption")
    with pytest.raises(BackendError, match="nyeshc.backends.plaintext"):
        run_job(j, [])


# --------------------------------------------------------------------------- assets


def _asset(kind: str, path: Path, output: str, **extra: object):  # noqa: ANN202
    return job(kind, "", {"path": str(path), "sha256": _sha(path), **extra}, output=output, name=f"{kind} x")


def test_asset_image_cover_fit(tmp_path: Path) -> None:
    path = tmp_path / "wide.png"
    im = np.zeros((20, 40, 4), np.uint8)
    im[:, :10] = (255, 0, 0, 255)  # red left edge: cropped away by the centre crop
    im[:, 10:30] = (0, 255, 0, 255)
    im[:, 30:] = (0, 0, 255, 128)
    Image.fromarray(im, "RGBA").save(path)
    out = run_job(_asset("asset.image", path, "image", width=10, height=10), [])
    assert out.shape == (10, 10, 3) and out.dtype == np.uint8
    assert out[5, 5, 1] > 200 and out[:, :2, 0].max() < 60


def test_asset_image_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(BackendError, match="cannot decode the image"):
        run_job(_asset("asset.image", bad, "image", width=4, height=4), [])
    good = tmp_path / "good.png"
    Image.new("RGB", (4, 4)).save(good)
    j = _asset("asset.image", good, "image", width=4, height=4)
    Image.new("RGB", (5, 4)).save(good)
    with pytest.raises(BackendError, match="changed after the plan was made"):
        run_job(j, [])
    (tmp_path / "gone.png").write_bytes(b"")
    j = _asset("asset.image", tmp_path / "gone.png", "image", width=4, height=4)
    (tmp_path / "gone.png").unlink()
    with pytest.raises(BackendError, match="does not exist"):
        run_job(j, [])


def _wav(path: Path, channels: int, rate: int, seconds: float) -> None:
    n = int(rate * seconds)
    t = np.arange(n) / rate
    sig = (0.5 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16)
    data = np.repeat(sig[:, None], channels, axis=1)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(data.tobytes())


@pytest.mark.parametrize(("channels", "want"), [(1, 1), (2, 2), (4, 2)])
def test_asset_audio_decodes_to_48k_float(tmp_path: Path, channels: int, want: int) -> None:
    path = tmp_path / f"tone{channels}.wav"
    _wav(path, channels, 24_000, 0.25)
    out = run_job(_asset("asset.audio", path, "audio"), [])
    assert out.dtype == np.float32 and out.ndim == 2 and out.shape[1] == want
    assert abs(len(out) - 12_000) <= 64
    assert 0.3 < float(np.abs(out).max()) <= 1.0


def _video(path: Path, frames: int) -> None:
    from imageio_ffmpeg import get_ffmpeg_exe

    subprocess.run([get_ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i",
                    f"testsrc=size=32x24:rate=10:duration={frames / 10}", "-c:v", "mpeg4", "-q:v", "2",
                    "-y", str(path)], check=True, capture_output=True)


def test_asset_video_streams_and_holds_the_last_frame(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    _video(path, 3)
    cache = Cache(tmp_path / "c")
    j = _asset("asset.video", path, "frames", width=16, height=16, fps=10.0, frames=5)
    out = run_job(j, [], cache)
    assert cache.has(j.key) and out.shape == (5, 16, 16, 3) and out.dtype == np.uint8
    assert not np.array_equal(out[0], out[2])  # testsrc moves
    assert np.array_equal(out[2], out[3]) and np.array_equal(out[3], out[4])  # held
    mem = run_job(j, [], None)
    assert np.array_equal(mem, out)


def test_asset_video_without_frames_fails_clearly(tmp_path: Path) -> None:
    path = tmp_path / "notvideo.mp4"
    path.write_bytes(b"nothing here")
    cache = Cache(tmp_path / "c")
    j = _asset("asset.video", path, "frames", width=8, height=8, fps=10, frames=2)
    with pytest.raises(BackendError, match="cannot decode the video"):
        run_job(j, [], cache)
    assert not cache.has(j.key) and cache.stray_files() == []


def test_morph_stride_renders_anchors_and_blends_between() -> None:
    """``stride`` 3: frames 0, 3, 6 and the last are rendered from the latent path exactly as
    without a stride; the ones between lie on the straight line between their neighbours."""
    from nyeshc.backends.procedural.image import CPPNImage

    image = CPPNImage()
    keys = [image.sample(1, 0.8), image.sample(2, 0.8)]
    # a morph's pace in a film: ~120 frames from one latent to the next
    params = {"width": 32, "height": 18, "frames": 121, "ease": "smooth"}
    full = run_job(job("image.morph", "image.procedural", params, ("a", "b"), output="frames", name="m",
                       version=image.version), keys, None)
    strided = run_job(job("image.morph", "image.procedural", {**params, "stride": 3}, ("a", "b"),
                          output="frames", name="m", version=image.version), keys, None)
    for i in (0, 3, 6, 60, 117, 120):
        assert np.array_equal(strided[i], full[i])
    mid = strided[1].astype(np.float32)
    line = strided[0].astype(np.float32) + (strided[3].astype(np.float32) - strided[0]) / 3
    assert np.abs(mid - line).max() <= 1.0
    # and every blended frame stays close to what the latent path would have given
    err = np.abs(strided.astype(int) - full.astype(int)).mean(axis=(1, 2, 3))
    assert err.max() < 2.0, err.max()
