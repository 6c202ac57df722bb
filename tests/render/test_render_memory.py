"""Memory set by the canvas, not by the number of beats (issue #24).

A small canvas and films of 10 and 200 beats made like an imported screenplay's: every beat
its own RGBA portrait sequence, its own subtitle and its own voice clip, a Ken Burns backdrop
per scene and a ducked music clip over the film. The per-segment working set of the
compositor (Python/numpy allocations, ``tracemalloc``, peak per segment; and the file-backed
pages of the memory-mapped sequences left resident, from ``/proc``) and the mixer's peak must
not grow with the number of beats.
"""

from __future__ import annotations

import multiprocessing
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from render_support import FPS, SR, key, put, timeline

from nyeshc.plan.model import (
    AudioClip,
    Box,
    Fade,
    SceneTrack,
    SequenceLayer,
    StillLayer,
    TextLayer,
    Timeline,
)
from nyeshc.render.compositor import Compositor
from nyeshc.render.mixer import mix
from nyeshc.render.segments import spans
from nyeshc.store.cache import CHUNK, Cache
from nyeshc.store.pages import release, trim

W, H = 160, 90
BEAT = 6  # frames a beat: 0.5 s at 12 fps
SIDE = 64  # the portraits' box (and frames) side: drawn straight from the frames, as at 720p


@pytest.fixture
def raw_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    """Frame sequences stored as plain memory-mappable ``.npy`` (a cache's raw frame codec),
    the form whose pages can pile up in the render process."""
    monkeypatch.setenv("NYESHC_FRAME_CODEC", "raw")


def _portrait(rng: np.random.Generator, n: int) -> np.ndarray:
    frames = rng.integers(0, 255, (n, SIDE, SIDE, 4), dtype=np.uint8)
    yy, xx = np.mgrid[0:SIDE, 0:SIDE]
    frames[..., 3] = ((yy - SIDE / 2) ** 2 + (xx - SIDE / 2) ** 2 < (SIDE / 2.2) ** 2) * 255
    return frames


def _film(cache: Cache, beats: int) -> Timeline:
    """One scene of ``beats`` beats, as an imported screenplay's long scenes are: a Ken Burns
    backdrop, two listeners' portraits on screen for the whole scene (their frame sequences as
    long as it), each beat's speaker (its own sequence), subtitle and voice; ducked music."""
    rng = np.random.default_rng(beats)
    end = beats * BEAT
    backdrop = put(cache, "backdrop", rng.integers(0, 255, (118, 210, 3), dtype=np.uint8))
    music = put(cache, "music", (0.1 * rng.standard_normal((SR * 3, 2))).astype(np.float32))
    audio = [AudioClip(0, end * SR // int(FPS), music, loop=True, duck=True, role="music")]
    layers: list = [StillLayer(start=0, end=end, artifact=backdrop, zoom=(1.0, 1.1))]
    for side in (0, 1):
        listener = put(cache, f"listener {beats} {side}", _portrait(rng, end))
        layers.append(SequenceLayer(start=0, end=end, artifact=listener, role="portrait",
                                    box=Box(4 + (W - SIDE - 8) * side, 4, SIDE, SIDE)))
    for b in range(beats):
        at = b * BEAT
        speaker = put(cache, f"speaker {beats} {b}", _portrait(rng, BEAT))
        text = np.zeros((10, 60 + b % 7, 4), np.uint8)
        text[..., :3], text[2:8, 2:-2, 3] = 230, 255
        caption = put(cache, f"caption {beats} {b}", text)
        voice = put(cache, f"voice {beats} {b}", (0.2 * rng.standard_normal((SR * 2 // 5, 1))).astype(np.float32))
        layers.append(SequenceLayer(start=at, end=at + BEAT, artifact=speaker, role="portrait",
                                    box=Box((W - SIDE) // 2, 14, SIDE, SIDE)))
        layers.append(TextLayer(start=at, end=at + BEAT, artifact=caption, position="bottom", fade=Fade(2, 2)))
        audio.append(AudioClip(at * SR // int(FPS), SR * 2 // 5, voice, role="dialogue", name=f"line {b}"))
    scene = SceneTrack(index=0, title="the long scene", start=0, end=end, layers=tuple(layers))
    return timeline([scene], end, audio=tuple(audio), w=W, h=H)


def _rss_file() -> int:
    """This process's resident file-backed and shared memory (bytes); 0 where /proc is absent."""
    try:
        with open("/proc/self/status") as fh:
            fields = dict(line.split(":", 1) for line in fh)
    except OSError:
        return 0
    return sum(int(fields.get(k, "0 kB").split()[0]) * 1024 for k in ("RssFile", "RssShmem"))


def _compose(tl: Timeline, cache: Cache) -> tuple[int, int]:
    """Compose every frame of ``tl`` segment by segment (as ``render_film`` does): the largest
    ``tracemalloc`` peak of one segment, and the largest growth of resident file-backed memory."""
    comp = Compositor(tl, cache)
    base = _rss_file()
    worst_traced = worst_file = 0
    tracemalloc.start()
    try:
        for sp in spans(tl):
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            for f in range(sp.start, sp.end):
                comp.frame(f)
            worst_traced = max(worst_traced, tracemalloc.get_traced_memory()[1] - before)
            worst_file = max(worst_file, _rss_file() - base)
    finally:
        tracemalloc.stop()
    return worst_traced, worst_file


def _in_child(fn: Any, args: tuple[Any, ...], conn: Any) -> None:
    try:
        conn.send(("ok", fn(*args)))
    except BaseException as exc:  # noqa: BLE001 - handed to the test
        conn.send(("error", repr(exc)))


def _alone(fn: Any, *args: Any) -> Any:
    """``fn(*args)`` in a fresh interpreter, as a render runs in a fresh ``nyeshc`` process.
    Measured in the test process, ``tracemalloc`` saw what a long test session leaves behind:
    threads of other tests allocating, and CPython's table of interned strings (which
    ``pathlib`` fills with every cache path) resizing itself to 7.7 MB in the middle of a segment."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_in_child, args=(fn, args, child))
    proc.start()
    child.close()
    status, value = parent.recv()
    proc.join()
    assert status == "ok", value
    return value


def _measure_composing(root: Path) -> tuple[int, int, int, int]:
    cache = Cache(root)
    small, large = _film(cache, 10), _film(cache, 200)
    _compose(small, cache)  # warm-up: imports, Pillow's first allocations
    return (*_compose(small, cache), *_compose(large, cache))


def test_the_compositors_working_set_does_not_grow_with_the_beats(tmp_path: Path, raw_frames: None) -> None:
    traced_small, file_small, traced_large, file_large = _alone(_measure_composing, tmp_path / "cache")
    frame = SIDE * SIDE * 4
    # Python/numpy allocations of a segment: the canvas's buffers and the layers shown in it
    assert traced_large <= 1.25 * traced_small + 256 * 1024, (traced_small, traced_large)
    # mapped pages: the listeners' 2 x 1200 frames (39 MB) are each read once; what stays
    # resident is what the live layers showed since the compositor last released them (the
    # page cache maps files in folios of up to 2 MB: allow two a live sequence)
    listeners = 2 * 200 * BEAT * frame
    if sys.platform.startswith("linux"):
        assert file_large <= file_small + 3 * (4 << 20), (file_small, file_large)
        assert file_large < listeners / 3, (file_small, file_large, listeners)


def test_the_mixers_working_set_does_not_grow_with_the_film(tmp_path: Path) -> None:
    peaks = _alone(_measure_mixing, tmp_path / "cache", 1 << 14)  # blocks of 0.34 s: far below these films' lengths
    whole = 200 * BEAT * SR // int(FPS) * 2 * 4  # a film-long float32 stereo buffer: 38 MB
    # the mix's blocks; the cache's checksum of the entry reads it CHUNK (4 MB) at a time
    assert peaks[200] <= 1.25 * peaks[10] + CHUNK, peaks
    assert peaks[200] < whole / 4, peaks


def _measure_mixing(root: Path, chunk: int) -> dict[int, int]:
    from nyeshc.render import mixer

    mixer._CHUNK = chunk
    cache = Cache(root)
    peaks = {}
    for beats in (10, 200):
        tl = _film(cache, beats)
        tracemalloc.start()
        try:
            out = mix(tl, cache)
            peaks[beats] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert out.shape == (tl.samples, 2) and np.abs(out).max() > 0
        del out
    return peaks


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and madvise")
def test_release_and_trim_unmap_pages_but_keep_the_data(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    data = np.arange(32 << 20, dtype=np.uint8).reshape(32, 1 << 20)  # 32 MB
    cache.put(key("big"), data)
    arr = cache.get(key("big"), verify=False)
    base = _rss_file()
    assert int(arr.sum(dtype=np.uint64)) == int(data.sum(dtype=np.uint64))  # every page read
    assert _rss_file() - base > 24 << 20
    release(arr[3:5])  # a view: the whole map is released
    assert _rss_file() - base < 4 << 20
    assert np.array_equal(arr[7], data[7])  # still readable, the same bytes
    np.asarray(arr).sum()
    assert _rss_file() - base > 24 << 20
    assert trim(cache.root) >= 1  # by address, for maps this code does not hold
    assert _rss_file() - base < 4 << 20
    assert np.array_equal(np.asarray(arr), data)
    release(data, None, [1, 2])  # not memory maps: nothing happens
    assert data[5, 5] == 5
