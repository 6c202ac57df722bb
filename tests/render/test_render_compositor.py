"""The compositor, frame by frame (no encoding): layers, fades, overlaps, morphs, Ken Burns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from render_support import BLUE, GREEN, RED, H, W, near, put, solid, timeline

from nyeshc.plan.model import (
    Box,
    Fade,
    Overlap,
    SceneTrack,
    SequenceLayer,
    StillLayer,
    TextLayer,
)
from nyeshc.render.compositor import (
    Compositor,
    RenderError,
    _Scratch,
    _Sprite,
    darken,
    draw,
    mix,
)
from nyeshc.store.cache import Cache


@pytest.fixture
def cache(tmp_path: Path) -> Cache:
    return Cache(tmp_path / "cache")


def _gradient(w: int = 2 * W, h: int = 2 * H) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x * 255 // (w - 1), y * 255 // (h - 1), (x + y) % 256], axis=-1)
    return img.astype(np.uint8)


def test_blend_arithmetic() -> None:
    rng = np.random.default_rng(0)
    dst = rng.integers(0, 256, (7, 9, 3), dtype=np.uint8)
    src = rng.integers(0, 256, (7, 9, 4), dtype=np.uint8)
    want = np.round((dst * (255 - src[..., 3:].astype(float)) + src[..., :3] * src[..., 3:].astype(float)) / 255)
    got = dst.copy()
    draw(got, _Sprite(src), 0, 0, 255, _Scratch(dst.size))
    assert np.abs(got.astype(int) - want).max() <= 1  # premultiplied in 8 bits: at most 1 off
    a, b = rng.integers(0, 256, (2, 5, 5, 3), dtype=np.uint8)
    out = np.empty_like(a)
    mix(out, a, b, 77, _Scratch(a.size))
    assert np.array_equal(out, np.round((a * 178.0 + b * 77.0) / 255).astype(np.uint8))
    c = a.copy()
    darken(c, 100)
    assert np.array_equal(c, np.round(a * 100.0 / 255).astype(np.uint8))
    # two bytes a lookup where the buffer is contiguous (an odd last byte alone), one elsewhere:
    # every opacity gives the same bytes
    frame = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    for o in range(256):
        for d in (frame.copy(), frame[:, ::2].copy(), a.copy()):
            want_o = ((d.astype(np.uint32) * o + 127) // 255).astype(np.uint8)
            darken(d, o)
            assert np.array_equal(d, want_o), o
    strided = frame.copy()
    darken(strided[:, ::2], 3)
    assert np.array_equal(strided[:, 1::2], frame[:, 1::2])
    assert np.array_equal(strided[:, ::2], ((frame[:, ::2].astype(np.uint32) * 3 + 127) // 255).astype(np.uint8))


def test_still_text_sequence_and_black(cache: Cache) -> None:
    bg = put(cache, "bg", solid(RED, 2 * W, 2 * H))
    caption = solid((255, 255, 255), 20, 8, alpha=255)
    caption[:, :10, 3] = 0  # left half transparent
    cap = put(cache, "cap", caption)
    seq = np.zeros((3, 10, 10, 4), np.uint8)
    seq[..., 1] = 250
    seq[..., 3] = 255
    seq[1, ..., 0] = 250  # frame 1 is yellow
    sq = put(cache, "seq", seq)
    scene = SceneTrack(0, "one", 0, 10, (
        StillLayer(0, 10, bg),
        SequenceLayer(2, 8, sq, box=Box(4, 4, 20, 20)),
        TextLayer(5, 10, cap, position="bottom"),
    ))
    comp = Compositor(timeline([scene], 12), cache)
    f0 = comp.frame(0).copy()
    assert near(f0[H // 2, W // 2], RED, 1)
    f3 = comp.frame(3)  # sequence frame 1 (offset 0, start 2), upscaled into its 20x20 box
    assert near(f3[14, 14], (250, 250, 0), 2) and near(f3[30, 30], RED, 1)
    assert near(comp.frame(7)[14, 14], (0, 250, 0), 2)  # held on the last frame
    f6 = comp.frame(6)
    y = H - round(0.05 * H) - 4
    x = (W - 20) // 2
    assert near(f6[y, x + 15], (255, 255, 255), 1)  # the opaque half of the caption
    assert near(f6[y, x + 5], RED, 1)  # the transparent half shows the backdrop
    assert not comp.frame(11).any()  # after the scene: black


def test_rgba_alpha_composite_and_layer_fade(cache: Cache) -> None:
    bg = put(cache, "bg", solid(BLUE))
    half = put(cache, "half", solid(RED, alpha=128))
    scene = SceneTrack(0, "s", 0, 12, (StillLayer(0, 12, bg), StillLayer(0, 12, half, fade=Fade(fade_in=4))))
    comp = Compositor(timeline([scene], 12), cache)
    assert near(comp.frame(0)[5, 5], BLUE, 1)  # fade in: fully transparent on its first frame
    mid = comp.frame(8)[5, 5].astype(int)
    assert abs(mid[0] - (200 * 128 + 30 * 127) / 255) <= 2 and abs(mid[2] - (30 * 128 + 200 * 127) / 255) <= 2


def test_scene_fades_from_and_to_black(cache: Cache) -> None:
    bg = put(cache, "bg", solid(GREEN))
    scene = SceneTrack(0, "s", 0, 12, (StillLayer(0, 12, bg),), fade_in=4, fade_out=4)
    comp = Compositor(timeline([scene], 12), cache)
    levels = [int(comp.frame(f)[5, 5, 1]) for f in range(12)]
    assert levels[0] == 0 and levels[-1] == 0
    assert levels[0] < levels[2] < levels[4] == 200 and levels[7] == 200 and levels[9] > levels[10]


def test_crossfade_midpoint_mixes_the_scenes(cache: Cache) -> None:
    a = put(cache, "a", solid(RED))
    b = put(cache, "b", solid(BLUE))
    s1 = SceneTrack(0, "a", 0, 12, (StillLayer(0, 12, a),))
    s2 = SceneTrack(1, "b", 7, 19, (StillLayer(7, 19, b),))
    comp = Compositor(timeline([s1, s2], 19, overlaps=(Overlap("crossfade", 0, 1, 7, 12),)), cache)
    assert near(comp.frame(6)[0, 0], RED, 0) and near(comp.frame(12)[0, 0], BLUE, 0)
    mid = comp.frame(9)[0, 0]  # the middle of 5 overlap frames: 50/50
    assert near(mid, (115, 30, 115), 2)
    ramp = [int(comp.frame(f)[0, 0, 2]) for f in range(7, 12)]
    assert ramp == sorted(ramp) and ramp[0] > 30 and ramp[-1] < 200


def test_morph_replaces_both_backdrops(cache: Cache) -> None:
    a = put(cache, "a", solid(RED))
    b = put(cache, "b", solid(BLUE))
    morph = np.zeros((4, H, W, 3), np.uint8)
    morph[..., 1] = np.array([10, 60, 110, 160], np.uint8)[:, None, None]
    m = put(cache, "morph", morph)
    cap = put(cache, "cap", solid((255, 255, 255), 10, 4, alpha=255))
    s1 = SceneTrack(0, "a", 0, 10, (StillLayer(0, 10, a), TextLayer(0, 10, cap, position="top")))
    s2 = SceneTrack(1, "b", 6, 16, (StillLayer(6, 16, b),))
    comp = Compositor(timeline([s1, s2], 16, overlaps=(Overlap("morph", 0, 1, 6, 10, morph=m),)), cache)
    for i, f in enumerate(range(6, 10)):
        px = comp.frame(f)[H - 2, 2]
        assert near(px, (0, 10 + 50 * i, 0), 1), (f, px)  # the morph frame, neither red nor blue
    # the caption (scene a, not a backdrop) still crossfades out over the morph
    top = [int(comp.frame(f)[round(0.05 * H) + 1, W // 2, 0]) for f in range(6, 10)]
    assert top == sorted(top, reverse=True) and top[0] > 150


def test_ken_burns_zoom_and_pan_move_the_picture(cache: Cache) -> None:
    img = put(cache, "grad", _gradient())
    zoom = SceneTrack(0, "z", 0, 12, (StillLayer(0, 12, img, zoom=(1.0, 1.5), ease="linear"),))
    comp = Compositor(timeline([zoom], 12), cache)
    first, mid, last = comp.frame(0).copy(), comp.frame(6).copy(), comp.frame(11).copy()
    assert not np.array_equal(first, mid) and not np.array_equal(mid, last)
    # zooming in on the centre: the left edge moves right in the image (red = x position grows)
    assert first[H // 2, 0, 0] < mid[H // 2, 0, 0] < last[H // 2, 0, 0]
    assert abs(int(first[H // 2, W // 2, 0]) - int(last[H // 2, W // 2, 0])) <= 3  # the centre stays
    pan = SceneTrack(0, "p", 0, 12, (StillLayer(0, 12, img, pan="left"),))
    comp = Compositor(timeline([pan], 12), cache)
    assert comp.frame(0)[H // 2, W // 2, 0] > comp.frame(11)[H // 2, W // 2, 0] + 5  # window moves left
    still = SceneTrack(0, "s", 0, 12, (StillLayer(0, 12, img),))
    comp = Compositor(timeline([still], 12), cache)
    assert np.array_equal(comp.frame(0), comp.frame(11))


def test_cover_fit_loop_and_roll(cache: Cache) -> None:
    seq = np.zeros((2, 10, 40, 3), np.uint8)  # wider than the canvas' aspect: cropped at the sides
    seq[0, :, 15:25] = 200
    seq[1, :, :, 2] = 90
    sq = put(cache, "wide", seq)
    roll = put(cache, "roll", solid((255, 255, 255), 20, 10, alpha=255))
    scene = SceneTrack(0, "s", 0, 12, (SequenceLayer(0, 12, sq, loop=True),
                                       TextLayer(0, 12, roll, roll=True, role="credits")))
    comp = Compositor(timeline([scene], 12), cache)
    f0 = comp.frame(0)
    assert f0[0, W // 2, 0] >= 190 and f0[0, 2, 0] == 0  # the centre stripe, scaled to cover
    assert comp.frame(1)[0, 2, 2] >= 85 and comp.frame(2)[0, W // 2, 0] >= 190  # looped
    ys = []
    for f in (0, 6, 11):
        col = comp.frame(f)[:, W // 2, 1]
        ys.append(np.flatnonzero(col == 255))
    assert ys[0].size == 0 and ys[2].size == 0 and ys[1].size > 0  # rolled from below to above


def test_missing_artifact_is_a_clear_error(cache: Cache) -> None:
    scene = SceneTrack(0, "s", 0, 4, (StillLayer(0, 4, "0" * 64),))
    with pytest.raises(RenderError, match="not in the cache"):
        Compositor(timeline([scene], 4), cache).frame(0)


def test_compressed_and_raw_frame_artifacts_compose_identically(tmp_path: Path) -> None:
    """Frame sequences are stored compressed (``.nyf``, decoded on demand) and, in caches written
    before that, raw (``.npy``, memory-mapped): every kind of sequence layer draws the same pixels
    from both, in order and in any order."""
    rng = np.random.default_rng(5)
    n = 40  # more than one group of frames (GOP 32)
    grad = _gradient()
    morph = np.stack([np.roll(grad, 3 * i, axis=1) for i in range(n)])
    portrait = rng.integers(0, 256, (n, 20, 20, 4), dtype=np.uint8)  # RGBA, at its box's size
    portrait[:, :5, :, 3] = 0
    loop = rng.integers(0, 256, (7, 10, 16, 3), dtype=np.uint8)  # resized, looped
    arts = {"morph": morph, "portrait": portrait, "loop": loop, "bg": solid(RED)}

    def compose(codec: str, order: list[int]) -> dict[int, np.ndarray]:
        cache = Cache(tmp_path / codec, frame_codec=codec)
        k = {name: put(cache, name, a) for name, a in arts.items()}
        assert cache.data_path(k["morph"]).suffix == (".nyf" if codec == "zstd" else ".npy")
        s1 = SceneTrack(0, "a", 0, 36, (
            SequenceLayer(0, 36, k["morph"], zoom=(1.0, 1.3), ease="linear"),
            SequenceLayer(2, 36, k["portrait"], offset=3, box=Box(50, 10, 20, 20), role="portrait"),
            SequenceLayer(5, 30, k["loop"], loop=True, box=Box(4, 30, 30, 20)),
        ))
        s2 = SceneTrack(1, "b", 30, 60, (StillLayer(30, 60, k["bg"]),
                                         SequenceLayer(30, 60, k["portrait"], box=Box(10, 10, 20, 20))))
        tl = timeline([s1, s2], 60, overlaps=(Overlap("morph", 0, 1, 30, 36, morph=k["morph"]),))
        comp = Compositor(tl, cache)
        return {f: comp.frame(f).copy() for f in order}

    frames = list(range(60))
    raw = compose("raw", frames)
    assert np.array_equal(raw[10], compose("raw", [10])[10])
    packed = compose("zstd", frames)
    shuffled = compose("zstd", rng.permutation(60).tolist() + [59, 0, 33, 31])
    for f in frames:
        assert np.array_equal(raw[f], packed[f]), f
        assert np.array_equal(raw[f], shuffled[f]), f


def test_a_damaged_compressed_sequence_is_a_render_error_and_leaves_the_cache(cache: Cache) -> None:
    from nyeshc.store.frames import FrameSequence

    frames = np.random.default_rng(2).integers(0, 256, (40, H, W, 3), dtype=np.uint8)
    k = put(cache, "seq", frames)
    path = cache.data_path(k)
    lo, hi = (int(x) for x in FrameSequence(path).offsets[1:3])  # the second group of frames
    data = bytearray(path.read_bytes())
    data[(lo + hi) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    comp = Compositor(timeline([SceneTrack(0, "s", 0, 40, (SequenceLayer(0, 40, k),))], 40), cache)
    assert np.array_equal(comp.frame(0), frames[0])  # the first group is whole
    with pytest.raises(RenderError, match="build again"):
        for f in range(40):
            comp.frame(f)
    assert not cache.has(k)
