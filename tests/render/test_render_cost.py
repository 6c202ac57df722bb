"""The render's cost model (``nyeshc plan``'s render line): what it counts and how it scales."""

from __future__ import annotations

from pathlib import Path

import pytest
from render_support import RED, put, solid, timeline

from nyeshc.plan.model import SceneTrack, StillLayer
from nyeshc.media import DEFAULT_CRF, DEFAULT_PRESET
from nyeshc.render.cost import ENCODE_CPU, PRESET, estimate_render
from nyeshc.render.segments import encode_settings, segment_key, spans
from nyeshc.store.cache import Cache


def _film(cache: Cache, w: int = 96, h: int = 54) -> object:
    bg = put(cache, "bg", solid(RED, w, h))
    scenes = [SceneTrack(0, "a", 0, 120, (StillLayer(0, 120, bg),)), SceneTrack(1, "b", 120, 150, (StillLayer(120, 150, bg),))]
    return timeline(scenes, 150, w=w, h=h)


def test_counts_only_the_segments_not_cached(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c")
    tl = _film(cache)
    every = estimate_render(tl, cores=2)
    pieces = spans(tl)
    assert every.segments == every.to_render == len(pieces) > 2 and every.frames == 150
    settings = encode_settings(DEFAULT_PRESET, DEFAULT_CRF)
    first = segment_key(tl, pieces[0], settings)
    some = estimate_render(tl, lambda k: k == first, cores=2)
    assert some.to_render == len(pieces) - 1 and some.frames == 150 - (pieces[0].end - pieces[0].start)
    assert some.seconds < every.seconds
    none = estimate_render(tl, lambda k: True, cores=2)
    assert none.to_render == 0 and none.frames == 0 and none.cpu_seconds == 0


def test_scales_with_pixels_preset_and_cores(tmp_path: Path) -> None:
    small = estimate_render(_film(Cache(tmp_path / "a"), 640, 360), cores=2)
    big = estimate_render(_film(Cache(tmp_path / "b"), 1280, 720), cores=2)
    assert big.cpu_seconds == pytest.approx(4 * small.cpu_seconds)
    slow = estimate_render(_film(Cache(tmp_path / "b"), 1280, 720), preset="medium", cores=2)
    assert slow.cpu_seconds > big.cpu_seconds and PRESET["medium"] > PRESET[DEFAULT_PRESET]
    four = estimate_render(_film(Cache(tmp_path / "b"), 1280, 720), cores=4)
    assert four.seconds < big.seconds and four.cpu_seconds == big.cpu_seconds
    # 150 frames of 720p on 2 cores: the encode alone is 150 * ENCODE_CPU * PRESET / 2
    assert big.seconds > 150 * ENCODE_CPU * PRESET[DEFAULT_PRESET] / 2
    assert slow.seconds > 150 * ENCODE_CPU / 2
    better = estimate_render(_film(Cache(tmp_path / "b"), 1280, 720), crf=DEFAULT_CRF - 4, cores=2)
    assert better.cpu_seconds > big.cpu_seconds
