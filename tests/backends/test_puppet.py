"""The procedural puppet: portraits, lipsync, blinks, driving, photos."""

from __future__ import annotations

import numpy as np
import pytest

from nyeshc.backends import registry
from nyeshc.backends.base import SAMPLE_RATE, MotionBackend, Portrait, PortraitBackend
from nyeshc.backends.procedural import puppet
from nyeshc.backends.procedural.puppet import PuppetMotion, PuppetPortrait, blinks, draw_face, envelope

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
    assert (p.id, p.version, p.modality) == ("portrait.procedural", "1", "portrait")
    assert (m.id, m.version, m.modality) == ("motion.procedural", "1", "motion")
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
    puppet._RIGS.clear()  # no memoised state: a genuine second render
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
    puppet._RIGS.clear()
    again = motion.lipsync(face, voice, FPS, frames, seed=3)
    assert again.tobytes() == out.tobytes()


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
