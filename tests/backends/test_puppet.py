"""The procedural puppet: portraits, lipsync, blinks, driving, photos."""

from __future__ import annotations

import numpy as np
import pytest

from nyeshc.backends import registry
from nyeshc.backends.base import (
    SAMPLE_RATE,
    BackendError,
    MotionBackend,
    Portrait,
    PortraitBackend,
)
from nyeshc.backends.procedural import face as face_module
from nyeshc.backends.procedural import puppet
from nyeshc.backends.procedural.voice import AsemicVoice
from nyeshc.backends.procedural.puppet import (
    PuppetMotion,
    PuppetPortrait,
    blinks,
    draw_face,
    envelope,
)

S = 96
FPS = 12.0


@pytest.fixture(scope="module")
def pp() -> PuppetPortrait:
    return PuppetPortrait()


@pytest.fixture(scope="module")
def face(pp: PuppetPortrait) -> Portrait:
    return pp.portrait(pp.sample(2), S)


def _luma(img: np.ndarray) -> np.ndarray:
    return img[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def _mouth_box(p: Portrait, size: int) -> tuple[slice, slice]:
    mx, my = p.mouth
    return (slice(int(my - 0.04 * size), int(my + 0.09 * size)),
            slice(int(mx - 0.09 * size), int(mx + 0.09 * size)))


def _dark_count(frames: np.ndarray, box: tuple[slice, slice]) -> np.ndarray:
    """Mouth opening measured from pixels: total darkness (below luma 70) near the mouth."""
    reg = frames[:, box[0], box[1]]
    dark = np.clip(70.0 - _luma(reg), 0, None) / 70.0 * (reg[..., 3] / 255.0)
    return dark.sum(axis=(1, 2))


def _voice(seconds: float, silent_until: float = 0.0) -> np.ndarray:
    """A 150 Hz buzz shaped into syllables (~4/s) and pauses."""
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    syll = np.clip(np.sin(2 * np.pi * 2.1 * t), 0, None) ** 0.7
    phrase = ((t % 3.0) < 2.2) * (0.35 + 0.65 * np.abs(np.sin(2 * np.pi * 0.29 * t + 0.5)))
    amp = syll * phrase * (t >= silent_until)
    buzz = np.sign(np.sin(2 * np.pi * 150 * t)) * 0.6 + 0.4 * np.sin(2 * np.pi * 300 * t)
    return (0.3 * amp * buzz).astype(np.float32)[:, None]


# --------------------------------------------------------------------------- protocol & registry


def test_protocols_and_registry() -> None:
    p = registry.load("portrait.procedural")
    m = registry.load("motion.procedural")
    assert isinstance(p, PortraitBackend) and isinstance(p, PuppetPortrait)
    assert isinstance(m, MotionBackend) and isinstance(m, PuppetMotion)
    assert (p.id, p.version, p.modality) == ("portrait.procedural", "3", "portrait")
    assert (m.id, m.version, m.modality) == ("motion.procedural", "4", "motion")
    assert PuppetMotion(**m.settings).settings == m.settings
    assert PuppetPortrait(**p.settings).settings == p.settings
    assert p.cost.estimate(frames=1) > 0 and m.cost.estimate(frames=10) > 0


# --------------------------------------------------------------------------- portraits


def test_latents(pp: PuppetPortrait) -> None:
    a, b = pp.sample(1), pp.sample(2)
    assert a.dtype == np.float32 and a.shape == (pp.latent_dim,)
    assert np.array_equal(a, pp.sample(1)) and not np.array_equal(a, b)
    assert np.linalg.norm(pp.sample(1, 0.5)) < np.linalg.norm(a)
    np.testing.assert_allclose(pp.blend(a, b, 0.0), a, atol=1e-6)
    np.testing.assert_allclose(pp.blend(a, b, 1.0), b, atol=1e-6)
    mid = pp.blend(a, b, 0.5)
    assert mid.dtype == np.float32 and not np.allclose(mid, a) and not np.allclose(mid, b)


def test_portrait_deterministic_and_distinct(pp: PuppetPortrait) -> None:
    one = pp.portrait(pp.sample(7), S).image
    face_module._RIGS.clear()  # no memoised state: a genuine second render
    two = pp.portrait(pp.sample(7), S).image
    assert one.dtype == np.uint8 and one.shape == (S, S, 4)
    assert one.tobytes() == two.tobytes()
    other = pp.portrait(pp.sample(8), S).image
    assert np.abs(one.astype(int) - other.astype(int)).mean() > 3


def test_portrait_alpha_and_geometry(face: Portrait) -> None:
    img = face.image
    for y, x in [(0, 0), (0, S - 1), (S - 1, 0), (S - 1, S - 1)]:
        assert img[y, x, 3] == 0
    x0, y0, x1, y1 = face.face_box
    cx, cy = int((x0 + x1) / 2), int((y0 + y1) / 2)
    assert img[cy, cx, 3] == 255
    assert x0 < face.mouth[0] < x1 and cy < face.mouth[1] < y1
    assert face.source == "generated" and face.latent is not None


def test_draw_face_mouth_and_blink(face: Portrait) -> None:
    box = _mouth_box(face, S)
    opens = np.stack([draw_face(face.latent, S, m, 0.0) for m in (0.0, 0.33, 0.66, 1.0)])
    dark = _dark_count(opens, box)
    assert np.all(np.diff(dark) > 0), dark
    shut = draw_face(face.latent, S, 0.0, 1.0)
    assert not np.array_equal(shut, opens[0])
    moved = draw_face(face.latent, S, 0.0, 0.0, head=(4.0, 0.0, 0.0, 1.0))
    xs = np.arange(S)
    cen = lambda im: (im[..., 3].astype(float).sum(0) * xs).sum() / im[..., 3].astype(float).sum()  # noqa: E731
    assert cen(moved) > cen(opens[0]) + 1.0


# --------------------------------------------------------------------------- envelope


def test_envelope() -> None:
    assert np.array_equal(envelope(np.zeros((SAMPLE_RATE, 1), np.float32), 24, 24), np.zeros(24, np.float32))
    v = _voice(3.0)
    env = envelope(v, 24, 72)
    assert env.dtype == np.float32 and env.shape == (72,)
    assert env.min() >= 0 and env.max() <= 1 and env.max() > 0.6
    # shorter voice than the frames: padded with silence -> closed
    env2 = envelope(v[: SAMPLE_RATE], 24, 72)
    assert np.all(env2[40:] == 0)
    # (N,) works like (N, 1)
    assert np.array_equal(envelope(v[:, 0], 24, 72), env)


# --------------------------------------------------------------------------- lipsync


def test_lipsync_follows_voice(face: Portrait) -> None:
    motion = PuppetMotion()
    seconds = 6.0
    frames = int(seconds * FPS)
    voice = _voice(seconds, silent_until=1.5)
    calls: list[float] = []
    out = motion.lipsync(face, voice, FPS, frames, seed=3, progress=calls.append)
    assert out.dtype == np.uint8 and out.shape == (frames, S, S, 4)
    assert calls and calls[-1] == pytest.approx(1.0)
    dark = _dark_count(out, _mouth_box(face, S))
    env = envelope(voice, FPS, frames)
    r = np.corrcoef(dark, env)[0, 1]
    assert r > 0.8, r
    # silence -> the closed mouth: as dark as the closed state, far below the open one
    closed = _dark_count(draw_face(face.latent, S, 0.0, 0.0)[None], _mouth_box(face, S))[0]
    silent = dark[: int(1.4 * FPS)]
    assert silent.max() <= closed + 2
    assert dark.max() > closed + 8
    # deterministic with cold caches
    face_module._RIGS.clear()
    again = motion.lipsync(face, voice, FPS, frames, seed=3)
    assert again.tobytes() == out.tobytes()


def test_part_of_a_beat_is_those_frames_of_the_whole(face: Portrait) -> None:
    """``frame_range``: a long beat drawn in parts (by two processes) is the whole, frame for
    frame, visemes and a scaled mouth included; a range outside the beat is an error."""
    motion = PuppetMotion()
    frames = int(3.0 * FPS)
    voice = _voice(3.0, silent_until=0.5)
    speech = [(0, AsemicVoice().phonemes("nyeshkerh lo ven", pitch=1.0, rate=1.0, lang=""))]
    whole = motion.lipsync(face, voice, FPS, frames, seed=5, mouth=1.4, speech=speech)
    face_module._RIGS.clear()  # a part starts in a fresh worker: cold caches
    parts = [motion.lipsync(face, voice, FPS, frames, seed=5, mouth=1.4, speech=speech, frame_range=r)
             for r in ((0, 31), (31, frames))]
    assert [p.shape[0] for p in parts] == [31, frames - 31]
    assert np.concatenate(parts).tobytes() == whole.tobytes()
    for bad in ((-1, 5), (10, frames + 1), (20, 10)):
        with pytest.raises(BackendError, match="frame_range"):
            motion.lipsync(face, voice, FPS, frames, seed=5, frame_range=bad)


def test_still_blinks(face: Portrait) -> None:
    motion = PuppetMotion(head_motion=0.0)
    frames = int(10 * FPS)
    out = motion.still(face, FPS, frames, seed=11)
    assert out.shape == (frames, S, S, 4)
    x0, y0, x1, y1 = face.face_box
    ey0, ey1 = int(y0 + 0.42 * (y1 - y0)), int(y0 + 0.56 * (y1 - y0))
    eyes = out[:, ey0:ey1, int(x0):int(x1), :3].astype(np.float64)
    ref = np.median(eyes, axis=0)
    change = np.abs(eyes - ref).mean(axis=(1, 2, 3))
    blink = blinks(FPS, frames, 11)
    assert blink.max() == 1.0 and (blink > 0).sum() >= 2  # 2-6 s apart over 10 s
    assert change[blink > 0.5].min() > 3 * np.median(change[blink == 0]) + 1.0
    # mouth stays closed
    dark = _dark_count(out, _mouth_box(face, S))
    closed = _dark_count(draw_face(face.latent, S, 0.0, 0.0)[None], _mouth_box(face, S))[0]
    assert dark.max() <= closed + 2


# --------------------------------------------------------------------------- drive


def test_drive_transfers_translation(face: Portrait) -> None:
    m, h, w = 16, 64, 80
    drv = np.full((m, h, w, 3), 20, np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    for i in range(m):
        blob = np.exp(-(((xx - 20 - 2 * i) / 7.0) ** 2 + ((yy - 30) / 9.0) ** 2))
        drv[i] = np.clip(20 + 220 * blob, 0, 255).astype(np.uint8)[..., None]
    track = puppet.track_motion(drv)
    assert track[-1, 0] == pytest.approx(2 * (m - 1), abs=2.5)
    assert abs(track[-1, 1]) < 1.5
    out = PuppetMotion(head_motion=0.0).drive(face, drv, 12.0, None, 12.0, m, seed=0)
    assert out.shape == (m, S, S, 4)
    xs = np.arange(S)
    a = out[..., 3].astype(np.float64)
    cen = (a.sum(1) * xs).sum(1) / a.sum((1, 2))
    assert cen[-1] - cen[0] > 5.0
    assert np.all(np.diff(cen) > -0.5)


def test_drive_with_audio(face: Portrait) -> None:
    drv = np.full((4, 32, 32, 3), 90, np.uint8)
    voice = _voice(2.0)
    out = PuppetMotion().drive(face, drv, 2.0, voice, FPS, int(2 * FPS), seed=1)
    dark = _dark_count(out, _mouth_box(face, S))
    assert np.corrcoef(dark, envelope(voice, FPS, int(2 * FPS)))[0, 1] > 0.7


# --------------------------------------------------------------------------- photos


def test_from_image_non_square(pp: PuppetPortrait) -> None:
    rng = np.random.default_rng(4)
    img = rng.integers(90, 200, (90, 140, 3), dtype=np.uint8)
    img[60:66, 60:80] = 10  # a dark band where a mouth would be
    p = pp.from_image(img, 64)
    assert p.image.shape == (64, 64, 4) and p.image.dtype == np.uint8
    assert np.all(p.image[..., 3] == 255)
    assert p.latent is None and p.source == "file"
    assert 0 <= p.mouth[0] < 64 and 0 <= p.mouth[1] < 64
    assert abs(p.mouth[1] - 63 / 90 * 64) < 4  # found the dark band
    x0, y0, x1, y1 = p.face_box
    assert x0 < p.mouth[0] < x1 and y0 < p.mouth[1] <= y1
    q = pp.from_image(img, 64, mouth=(0.5, 0.5))
    assert q.mouth == pytest.approx((32.0, 32.0))
    rgba = np.dstack([img, np.full(img.shape[:2], 128, np.uint8)])
    assert pp.from_image(rgba, 48).image[..., 3].max() <= 129


def test_photo_lipsync(pp: PuppetPortrait) -> None:
    rng = np.random.default_rng(5)
    img = rng.integers(150, 220, (80, 80, 3), dtype=np.uint8)
    p = pp.from_image(img, 64, mouth=(0.5, 0.7))
    voice = _voice(3.0, silent_until=1.0)
    frames = int(3 * FPS)
    out = PuppetMotion().lipsync(p, voice, FPS, frames, seed=2)
    assert out.shape == (frames, 64, 64, 4)
    assert np.all(out[..., 3] == 255)  # edges are padded, never transparent
    dark = _dark_count(out, _mouth_box(p, 64))
    assert np.corrcoef(dark, envelope(voice, FPS, frames))[0, 1] > 0.8
    assert dark[: int(0.9 * FPS)].max() == 0
    again = PuppetMotion().lipsync(p, voice, FPS, frames, seed=2)
    assert again.tobytes() == out.tobytes()


def test_motion_fills_a_given_buffer_in_place() -> None:
    """``out=`` lets the executor stream frames into the cache: same pixels, no new array."""
    portraits = PuppetPortrait()
    portrait = portraits.portrait(portraits.sample(2, 0.7), 64)
    motion = PuppetMotion()
    voice = (0.3 * np.sin(np.arange(12_000) * 2 * np.pi * 150 / 48_000)).astype(np.float32)[:, None]
    plain = motion.lipsync(portrait, voice, 12.0, 3, 5)
    buffer = np.zeros((3, 64, 64, 4), np.uint8)
    got = motion.lipsync(portrait, voice, 12.0, 3, 5, out=buffer)
    assert got is buffer
    assert np.array_equal(buffer, plain)


# --------------------------------------------------------------------------- lipsync's `mouth`


def _jaw_box(p: Portrait, size: int) -> tuple[slice, slice]:
    """Mouth and jaw, room for the widest mouth (2) and the chin it drops."""
    mx, my = p.mouth
    return (slice(int(my - 0.05 * size), int(my + 0.2 * size)),
            slice(int(mx - 0.12 * size), int(mx + 0.12 * size)))


def test_mouth_zero_is_silence_and_one_is_the_default(face: Portrait, pp: PuppetPortrait) -> None:
    voice = _voice(4.0, silent_until=1.0)
    n = int(4.0 * FPS)
    motion = PuppetMotion()
    silent = motion.lipsync(face, np.zeros_like(voice), FPS, n, seed=3)
    talking = motion.lipsync(face, voice, FPS, n, seed=3)
    assert not np.array_equal(talking, silent)
    # 0: the voice moves nothing (the speaking nod is scaled by min(mouth, 1) too)
    assert motion.lipsync(face, voice, FPS, n, seed=3, mouth=0.0).tobytes() == silent.tobytes()
    assert motion.lipsync(face, voice, FPS, n, seed=3, mouth=1.0).tobytes() == talking.tobytes()
    photo = pp.from_image(np.random.default_rng(5).integers(150, 220, (80, 80, 3), dtype=np.uint8), 64,
                          mouth=(0.5, 0.7))
    assert (motion.lipsync(photo, voice, FPS, n, seed=2, mouth=0).tobytes()
            == motion.lipsync(photo, np.zeros_like(voice), FPS, n, seed=2).tobytes())


def test_mouth_scales_the_opening(face: Portrait) -> None:
    """With the head held still only the mouth and jaw move: their pixel difference from the
    silent frames grows with ``mouth`` (mean |difference| 0, 0.81, 1.39, 1.93, 2.58 for 0, 0.5, 1,
    1.5, 2; peak darkness 1.7, 8.9, 16.4, 24.9, 33.2); nothing above the mouth changes."""
    voice = _voice(4.0, silent_until=1.0)
    n = int(4.0 * FPS)
    motion = PuppetMotion(head_motion=0.0)
    silent = motion.lipsync(face, np.zeros_like(voice), FPS, n, seed=3)
    box = _jaw_box(face, S)
    diff, dark = {}, {}
    for m in (0.0, 0.5, 1.0, 1.5, 2.0):
        frames = motion.lipsync(face, voice, FPS, n, seed=3, mouth=m)
        diff[m] = float(np.abs(frames[:, box[0], box[1], :3].astype(int) - silent[:, box[0], box[1], :3]).mean())
        dark[m] = float(_dark_count(frames, box).max())
        above = box[0].start
        assert np.array_equal(frames[:, :above], silent[:, :above]), m
    assert diff[0.0] == 0.0
    assert 0 < diff[0.5] < diff[1.0] < diff[1.5] < diff[2.0], diff
    assert diff[2.0] > 1.5 * diff[1.0], diff  # visibly wider
    assert dark[0.0] < dark[0.5] < dark[1.0] < dark[1.5] < dark[2.0], dark


def test_a_wide_mouth_stays_on_the_face(pp: PuppetPortrait) -> None:
    """Past the natural opening the chin drops with the lower lip: the skin between the mouth's
    dark cavity and the chin keeps its height (measured down the middle of the head layer, on a
    face with short hair so nothing hangs behind the chin)."""
    lat = pp.sample(2)
    assert face_module.face_params(lat)["hair_len"] < 0.3
    size = 256
    rig = face_module.rig_for(lat, size)
    mx, my = (int(v) for v in puppet.face_geometry(lat, size)[0])

    def cavity_and_chin(m: float) -> tuple[int, int]:
        layer = np.asarray(rig.head(m, 0.0)).astype(np.float64)[:, mx - 2:mx + 3]
        opaque = layer[..., 3] > 128
        luma = (layer[..., :3] / np.maximum(layer[..., 3:], 1) * 255) @ np.array([0.299, 0.587, 0.114])
        cavity = np.nonzero(((luma < 40) & opaque).any(axis=1))[0]
        cavity = cavity[cavity >= my - 4]
        return int(cavity.max()), int(np.nonzero(opaque.all(axis=1))[0].max())

    (c1, chin1), (c2, chin2) = cavity_and_chin(1.0), cavity_and_chin(2.0)
    assert c2 > c1 + 0.035 * size  # twice the opening: the cavity reaches ~0.048 * size lower
    assert chin2 - c2 >= chin1 - c1 - 1 and chin2 < size * 0.8


@pytest.mark.parametrize("bad", [-0.1, 2.01, float("nan"), True, "1"])
def test_mouth_out_of_range_is_an_error_naming_it(face: Portrait, bad: object) -> None:
    with pytest.raises(BackendError, match="mouth"):
        PuppetMotion().lipsync(face, _voice(0.5), FPS, 2, seed=0, mouth=bad)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- frames at the displayed size


def _pm(frames: np.ndarray) -> np.ndarray:
    """Premultiplied float copy (transparent pixels' colour does not matter)."""
    f = frames.astype(np.float64)
    return np.concatenate([f[..., :3] * f[..., 3:] / 255.0, f[..., 3:]], -1)


def _resized(frames: np.ndarray, size: int) -> np.ndarray:
    from PIL import Image

    return np.stack([np.asarray(Image.fromarray(f, "RGBA").convert("RGBa").resize((size, size), Image.Resampling.BILINEAR)
                                .convert("RGBA")) for f in frames])


@pytest.mark.parametrize("size", [64, 144])
def test_motion_draws_at_the_size_of_out(face: Portrait, size: int) -> None:
    """``renders_any_size``: frames drawn straight at D (smaller or larger than the portrait's
    S = 96) are the S frames resized (same picture, same motion), deterministically."""
    motion = PuppetMotion()
    assert motion.renders_any_size is True
    voice = _voice(2.0)
    n = 8
    at_s = motion.lipsync(face, voice, FPS, n, seed=4)
    buf = np.zeros((n, size, size, 4), np.uint8)
    got = motion.lipsync(face, voice, FPS, n, seed=4, out=buf)
    assert got is buf and buf[..., 3].max() == 255 and buf[..., 3].min() == 0
    ref = _resized(at_s, size)
    err = np.abs(_pm(buf) - _pm(ref))
    assert err.mean() < 1.5 and np.percentile(err, 99) < 40, (err.mean(), np.percentile(err, 99))
    again = motion.lipsync(face, voice, FPS, n, seed=4, out=np.zeros_like(buf))
    assert np.array_equal(again, buf)
    with pytest.raises(BackendError):
        motion.lipsync(face, voice, FPS, n, seed=4, out=np.zeros((n, size, size + 2, 4), np.uint8))


def test_photo_motion_draws_at_the_size_of_out(pp: PuppetPortrait) -> None:
    photo = pp.from_image(draw_face(pp.sample(9), 120)[..., :3], S)
    motion = PuppetMotion()
    at_s = motion.still(photo, FPS, 4, seed=1)
    buf = motion.still(photo, FPS, 4, seed=1, out=np.zeros((4, 60, 60, 4), np.uint8))
    err = np.abs(_pm(buf) - _pm(_resized(at_s, 60)))
    assert err.mean() < 1.5, err.mean()


def test_body_never_lifts_off_the_bottom_edge(face: Portrait) -> None:
    """Head motion lifts the shoulders; the body continues below the frame, so the bottom row
    under the shoulders stays opaque (a lifted cut-out used to open a gap there)."""
    rig = face_module.rig_for(face.latent, S)
    lifted = rig.frame(0.0, 0.0, (0.0, -0.04 * S, 0.0, 1.0), 0.004)  # more than _head_motion lifts
    rest = rig.frame(0.0, 0.0, (0.0, 0.0, 0.0, 1.0), 0.0)
    under = rest[-1, :, 3] == 255
    assert under.sum() > S // 3 and (lifted[-1, under, 3] == 255).all()


def test_executor_resizes_frames_of_backends_that_draw_at_the_portrait_size(
        face: Portrait, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """The motion contract: a backend without ``renders_any_size`` fills (frames, S, S, 4) and
    the executor stores the frames resized to the job's ``size``; the puppet draws at ``size``."""
    from nyeshc.execute import ops
    from nyeshc.plan.model import Job
    from nyeshc.store.cache import Cache

    class PortraitSized:
        id, version = "motion.test", "1"

        def still(self, portrait, fps, frames, seed, *, out=None):
            assert out is not None and out.shape == (frames, S, S, 4)
            out[...] = PuppetMotion().still(portrait, fps, frames, seed)
            return out

    job = Job(key="k" * 64, kind="motion.still", backend="motion.test", backend_version="1", settings={},
              params={"fps": FPS, "frames": 3, "size": 150}, inputs=("p",), seed=3, output="frames", name="t")
    monkeypatch.setattr(ops, "_backend", lambda job: PortraitSized())
    for cache in (None, Cache(tmp_path / "cache")):
        got = ops.run_job(job, [face], cache)
        assert got.shape == (3, 150, 150, 4)
        err = np.abs(_pm(np.asarray(got)) - _pm(_resized(PuppetMotion().still(face, FPS, 3, 3), 150)))
        assert err.max() <= 1
    assert not list((tmp_path / "cache").glob(".motion-*"))  # the scratch buffer is gone
    monkeypatch.setattr(ops, "_backend", lambda job: PuppetMotion())
    direct = ops.run_job(job, [face], None)
    assert direct.shape == (3, 150, 150, 4)


def test_memoised_states_are_bounded_by_bytes_across_rigs(pp: PuppetPortrait,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """What the rigs memoise is bounded for the whole process (a worker runs one lip-sync job
    after another, each with its portrait), and evicting changes no pixel: frames drawn with a
    budget too small for the states in play equal frames drawn with room for all of them."""
    states = [(m / 2, b, w, t) for m in range(3) for b in (0.0, 1.0) for w in (0.8, 1.0) for t in (0.0, 1.0)]

    def draw(seed: int, which: list[tuple[float, float, float, float]]) -> list[bytes]:
        rig = face_module.rig_for(pp.sample(seed), 48)
        dst = np.empty((48, 48, 4), np.uint8)
        out = []
        for m, b, w, t in which:
            rig.render(dst, m, b, (0.5, 0.0, 1.0, 1.0), 0.0, width=w, teeth=t)
            out.append(dst.tobytes())
        return out

    face_module._RIGS.clear()
    roomy = [draw(seed, states + states[::-1]) for seed in (11, 12)]
    head = 48 * 48 * 4  # one layer ready to draw
    monkeypatch.setattr(face_module, "_STATES", face_module._Memo(3 * head))
    monkeypatch.setattr(face_module, "_LAYERS", face_module._Memo(2 * head))
    face_module._RIGS.clear()
    tight = [draw(seed, states + states[::-1]) for seed in (11, 12)]
    assert tight == roomy
    assert face_module._STATES.bytes <= 3 * head and face_module._LAYERS.bytes <= 2 * head
    assert 0 < len(face_module._LAYERS.items) <= 2
    # a rig dropped from the kept ones takes its memoised states with it
    for seed in range(20, 20 + face_module.RIGS_KEPT + 1):
        draw(seed, states[:2])
    kept = {rig._token for rig in face_module._RIGS.values()}
    assert {key[0] for key in face_module._STATES.items} <= kept
    assert {key[0] for key in face_module._LAYERS.items} <= kept


def test_eyes_drawn_once_per_blink_give_the_same_states(pp: PuppetPortrait) -> None:
    """The eyes are painted once per blink level and their rows reused by every mouth state
    (``Rig._eyes_rows``): each state's image is byte-identical to one whose eyes were painted
    for it alone, at a size where the jaw grows the state's window (mouth 2) and with lip
    widths and teeth that change the mouth's rows."""
    states = [(m, b, w, t) for m in (0.0, 0.3, 1.0, 1.6, 2.0) for b in (0.0, 1 / 3, 1.0) for w in (0.6, 1.0, 1.2)
              for t in (0.0, 1.0)]
    memo = face_module.Rig(pp.sample(5), 96)
    alone = face_module.Rig(pp.sample(5), 96)
    for state in states:
        key = face_module.Rig._state_key(*state)
        face_module._STATES.pop((alone._token, key))
        alone._eye_rows.clear()
        mine, where = memo._changed(key)
        theirs, there = alone._changed(key)
        assert where == there and mine.tobytes() == theirs.tobytes(), state
    assert len(memo._eye_rows) <= 3 * 3  # blinks x windows (the window grows with mouth past 1)
    assert all(r1 > r0 for r0, r1, _, _ in memo._eye_rows.values())  # the eyes do change rows


def test_a_rig_read_from_the_cache_draws_the_same_frames_without_its_set_up(face: Portrait, tmp_path,
                                                                              monkeypatch) -> None:
    """``rig(portrait)``: the rig's arrays, cached (compressed, lossless) and handed back as
    ``rig=``, give the lip-sync and the still the frames a rig built on the spot gives; a rig
    made from them does no set-up (the CPPN field and the brush textures are not worked out)."""
    from nyeshc.store.cache import Cache

    motion = PuppetMotion()
    frames = int(2.0 * FPS)
    voice = _voice(2.0, silent_until=0.4)
    speech = [(0, AsemicVoice().phonemes("nyeshkerh lo", pitch=1.0, rate=1.0, lang=""))]
    face_module._RIGS.clear()
    state = motion.rig(face)
    assert state.backend == motion.id and set(state.arrays) == set(face_module.Rig.STATE)
    cache = Cache(tmp_path)
    cache.put("ab" * 32, state, kind="motion.rig")
    stored = cache.get("ab" * 32)
    assert cache.record("ab" * 32)["type"] == "rig"
    assert {k: (a.dtype, a.shape, a.tobytes()) for k, a in stored.arrays.items()} == \
        {k: (a.dtype, a.shape, a.tobytes()) for k, a in state.arrays.items()}
    assert cache.record("ab" * 32)["size"] < 0.6 * sum(a.nbytes for a in state.arrays.values())
    face_module._RIGS.clear()
    built = motion.lipsync(face, voice, FPS, frames, seed=4, speech=speech)
    still = motion.still(face, FPS, frames, seed=4)

    def no_set_up(*args: object, **kwargs: object) -> None:
        raise AssertionError("the rig was built again")

    face_module._RIGS.clear()  # a fresh worker
    monkeypatch.setattr(face_module.Rig, "__init__", no_set_up)
    assert motion.lipsync(face, voice, FPS, frames, seed=4, speech=speech, rig=stored).tobytes() == built.tobytes()
    face_module._RIGS.clear()
    assert motion.still(face, FPS, frames, seed=4, rig=stored).tobytes() == still.tobytes()
    # another backend's state, or arrays of the wrong size, are refused by name
    face_module._RIGS.clear()
    with pytest.raises(BackendError, match="RigState this backend made"):
        motion.lipsync(face, voice, FPS, frames, seed=4, rig=type(stored)("motion.other", stored.arrays))
    small = {k: a[:8] for k, a in stored.arrays.items()}
    with pytest.raises(BackendError, match="rig's"):
        motion.still(face, FPS, frames, seed=4, rig=type(stored)(motion.id, small))


@pytest.mark.parametrize("verify", [True, False])
def test_a_damaged_rig_entry_is_discarded(face: Portrait, tmp_path, verify: bool) -> None:
    """Found by its checksum, or (unverified) by the decompression: either way the entry goes
    and the job runs again."""
    from nyeshc.store.cache import Cache

    cache = Cache(tmp_path)
    state = PuppetMotion().rig(face)
    path = cache.put("cd" * 32, state, kind="motion.rig")
    data = bytearray(path.read_bytes())
    at = data.find(b"a_tex.npy")  # inside the compressed texture's member
    data[at + 400] ^= 0xFF
    path.write_bytes(bytes(data))
    assert cache.get("cd" * 32, verify=verify) is None and not cache.has("cd" * 32)


def test_a_section_goes_on_from_the_frames_before_it(face: Portrait) -> None:
    """``phase``: a section of a beat that starts ``phase`` frames in. Its blinks, breath and
    head drift are those frames of the whole beat (in silence, the section is exactly the
    whole's frames); its mouth and nod follow its own sound; and parts of a section are its
    frames, as for a beat."""
    motion = PuppetMotion()
    fps, p, n = FPS, 17, 30
    silence = np.zeros((int((p + n) / fps * SAMPLE_RATE), 1), np.float32)
    whole = motion.lipsync(face, silence, fps, p + n, seed=7)
    face_module._RIGS.clear()
    section = motion.lipsync(face, silence[int(p / fps * SAMPLE_RATE):], fps, n, seed=7, phase=p)
    assert section.tobytes() == whole[p:].tobytes()
    voice = _voice(n / fps, silent_until=0.3)
    spoken = motion.lipsync(face, voice, fps, n, seed=7, phase=p)
    assert spoken.tobytes() != section.tobytes()  # the mouth follows the section's own sound
    parts = [motion.lipsync(face, voice, fps, n, seed=7, phase=p, frame_range=r) for r in ((0, 11), (11, n))]
    assert np.concatenate(parts).tobytes() == spoken.tobytes()
    for bad in (-1, 2.5, True):
        with pytest.raises(BackendError, match="phase"):
            motion.lipsync(face, voice, fps, n, seed=7, phase=bad)


# --------------------------------------------------------------------------- the states' memo


def _talk(motion: PuppetMotion, face: Portrait) -> np.ndarray:
    voice = _voice(2.0, silent_until=0.3)
    speech = [(0, AsemicVoice().phonemes("nyeshkerh lo ven", pitch=1.0, rate=1.0, lang=""))]
    return motion.lipsync(face, voice, FPS, int(2.0 * FPS), seed=6, speech=speech)


def _counting_draws(monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, ...]]:
    drawn: list[tuple[float, ...]] = []
    draw = face_module.Rig._draw_state

    def counted(rig: face_module.Rig, key: tuple[float, float, float, float]):  # noqa: ANN202
        drawn.append(key)
        return draw(rig, key)

    monkeypatch.setattr(face_module.Rig, "_draw_state", counted)
    return drawn


def test_states_kept_in_the_memo_give_the_same_frames_in_a_fresh_process(face: Portrait, tmp_path,
                                                                         monkeypatch) -> None:
    """While a job runs (``lending_memo``), each state a rig draws is kept in the memo folder;
    a rig made again (a fresh worker: nothing memoised in the process) reads them back instead
    of drawing them, and draws exactly the same frames. Outside a job nothing is written."""
    from nyeshc.backends.base import lending_memo, memo_folder

    motion = PuppetMotion()
    drawn = _counting_draws(monkeypatch)
    face_module._RIGS.clear()
    alone = _talk(motion, face)
    assert memo_folder() is None and drawn and not list(tmp_path.iterdir())  # no job: no memo
    with lending_memo(tmp_path):
        face_module._RIGS.clear()
        drawn.clear()
        first = _talk(motion, face)
        kept = sorted(tmp_path.rglob("*.state"))
        assert len(kept) == len(set(drawn)) > 4  # every state drawn, kept once
        assert {p.parent.parent.name for p in kept} == {"face-states"} and len({p.parent for p in kept}) == 1
        face_module._RIGS.clear()  # a fresh worker
        drawn.clear()
        again = _talk(motion, face)
        assert drawn == []  # every state read back
    assert memo_folder() is None
    assert first.tobytes() == alone.tobytes() and again.tobytes() == alone.tobytes()


def test_a_torn_or_foreign_state_file_is_drawn_again(face: Portrait, tmp_path, monkeypatch) -> None:
    from nyeshc.backends.base import lending_memo

    motion = PuppetMotion()
    with lending_memo(tmp_path):
        face_module._RIGS.clear()
        whole = _talk(motion, face)
        kept = sorted(tmp_path.rglob("*.state"))
        good = {p: p.read_bytes() for p in kept}
        kept[0].write_bytes(good[kept[0]][: len(good[kept[0]]) // 2])  # torn by a crash
        kept[1].write_bytes(b"not a state at all")
        damaged = bytearray(good[kept[2]])
        damaged[-9] ^= 0x10  # a flipped bit: the checksum fails
        kept[2].write_bytes(bytes(damaged))
        import struct

        import zstandard

        raw = zstandard.ZstdDecompressor().decompress(good[kept[3]][4:])
        x, y, w, h = struct.unpack("<4I", raw[:16])  # a width that does not match the pixels:
        wrong = struct.pack("<4I", x, y, w + 1, h) + raw[16:]
        kept[3].write_bytes(b"NYFS" + zstandard.ZstdCompressor(write_checksum=True).compress(wrong))
        drawn = _counting_draws(monkeypatch)
        face_module._RIGS.clear()
        assert _talk(motion, face).tobytes() == whole.tobytes()
        assert len(drawn) == 4
        assert {p: p.read_bytes() for p in kept} == good  # written whole again
        assert not list(tmp_path.rglob("*.tmp"))


def test_a_state_is_kept_under_its_code_its_rig_and_its_key(face: Portrait, pp: PuppetPortrait, tmp_path,
                                                            monkeypatch) -> None:
    """Another portrait, or other drawing code (a change to face.py or ndi.py, another Pillow or
    numpy), keeps its states in another folder: nothing drawn by other code is read back."""
    from nyeshc.backends.base import lending_memo

    with lending_memo(tmp_path):
        face_module._RIGS.clear()
        rig = face_module.rig_for(face.latent, S)
        here = face_module._state_file(rig, rig._state_key(0.5, 0.0))
        assert here is not None and here.name == "0.5000_0.0000_1.0000_0.0000.state"
        other = face_module.rig_for(pp.portrait(pp.sample(3), S).latent, S)
        assert face_module._state_file(other, other._state_key(0.5, 0.0)).parent != here.parent
        bigger = face_module.rig_for(face.latent, S + 8)
        assert face_module._state_file(bigger, bigger._state_key(0.5, 0.0)).parent != here.parent
        monkeypatch.setattr(face_module, "_code_digest", lambda: b"other code")
        face_module._RIGS.clear()
        rig = face_module.rig_for(face.latent, S)
        assert face_module._state_file(rig, rig._state_key(0.5, 0.0)).parent != here.parent


def test_a_memo_that_cannot_be_written_changes_nothing(face: Portrait, tmp_path) -> None:
    from nyeshc.backends.base import lending_memo

    blocked = tmp_path / "file"
    blocked.write_text("a file where the memo's folder would be", encoding="utf-8")
    face_module._RIGS.clear()
    alone = _talk(PuppetMotion(), face)
    with lending_memo(blocked / "memo"):
        face_module._RIGS.clear()
        assert _talk(PuppetMotion(), face).tobytes() == alone.tobytes()
