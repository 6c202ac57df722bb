"""End to end: render_film on tiny canvases, checked on the decoded file."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from pathlib import Path

import numpy as np
import pytest
from render_support import (
    BLUE,
    FPS,
    GREEN,
    RED,
    SR,
    H,
    W,
    decode,
    near,
    put,
    sine,
    solid,
    streams,
    timeline,
    video_pts,
)

from nyeshc.backends.plaintext import render_text
from nyeshc.plan.model import (
    AudioClip,
    Box,
    Overlap,
    SceneTrack,
    SequenceLayer,
    StillLayer,
    TextLayer,
    Timeline,
)
from nyeshc.render import render_film, render_still, write_png
from nyeshc.render.segments import encode_settings, segment_key, spans
from nyeshc.store.cache import Cache

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def film(tmp_path_factory: pytest.TempPathFactory) -> tuple[Timeline, Cache]:
    """Three scenes: red (fade in) -crossfade- blue with a caption -morph- green; 30 frames."""
    cache = Cache(tmp_path_factory.mktemp("cache"))
    red = put(cache, "red", solid(RED, W + 16, H + 10))
    blue = put(cache, "blue", solid(BLUE, W + 16, H + 10))
    green = put(cache, "green", solid(GREEN, W + 16, H + 10))
    cap = np.zeros((12, 40, 4), np.uint8)
    cap[...] = (255, 255, 255, 255)
    caption = put(cache, "caption", cap)
    morph = np.zeros((4, H, W, 3), np.uint8)
    morph[..., 0] = 255
    morph[..., 1] = 255  # yellow: neither blue nor green
    m = put(cache, "morph", morph)
    face = np.zeros((6, 16, 16, 4), np.uint8)
    face[..., 0] = face[..., 1] = face[..., 2] = np.arange(6, dtype=np.uint8)[:, None, None] * 40
    face[..., 3] = 255
    face[:, :4, :, 3] = 0  # transparent top rows
    fk = put(cache, "face", face)
    s1 = SceneTrack(0, "red", 0, 12, (StillLayer(0, 12, red, zoom=(1.0, 1.2)),), fade_in=3)
    s2 = SceneTrack(1, "blue", 9, 22, (StillLayer(9, 22, blue),
                                       TextLayer(12, 18, caption, position="center"),
                                       SequenceLayer(9, 22, fk, box=Box(60, 4, 32, 32), role="portrait")))
    s3 = SceneTrack(2, "green", 20, 30, (StillLayer(20, 30, green),), fade_out=2)
    music = put(cache, "music", sine(3.0, 330.0, 0.3, channels=2))
    tl = timeline([s1, s2, s3], 30, overlaps=(Overlap("crossfade", 0, 1, 9, 12), Overlap("morph", 1, 2, 20, 22, morph=m)),
                  audio=(AudioClip(0, int(2.5 * SR), music, duck=True),))
    return tl, cache


def _hash(frames: list[np.ndarray]) -> str:
    h = hashlib.sha256()
    for f in frames:
        h.update(f.tobytes())
    return h.hexdigest()


def test_film_frames_streams_and_content(film: tuple[Timeline, Cache], tmp_path: Path) -> None:
    tl, cache = film
    out = render_film(tl, cache, tmp_path / "film.mp4", preset="ultrafast", crf=12)
    frames, meta = decode(out)
    assert len(frames) == tl.frames and video_pts(out) == list(range(tl.frames))
    assert streams(out) == ("h264", "aac 48000")
    assert frames[0].max() <= 20  # black first frame after FADE IN
    assert near(frames[5][H // 2, W // 2], RED)
    mid = frames[10][H // 2, 5]  # crossfade, middle frame of 3: half red, half blue
    assert near(mid, (115, 30, 115), 20), mid
    assert near(frames[14][H // 2, W // 2], (255, 255, 255), 20)  # the caption at its time
    assert near(frames[14][3, 3], BLUE)
    assert near(frames[14][30, 76], (200, 200, 200), 20)  # the portrait: sequence frame 5 (held), upscaled
    assert near(frames[14][5, 76], BLUE)  # its transparent rows show the backdrop
    assert near(frames[20][3, 3], (255, 255, 0), 30) and near(frames[21][3, 3], (255, 255, 0), 30)  # morph
    assert near(frames[25][H // 2, W // 2], GREEN) and frames[29].max() <= 20  # fade out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["film.mp4"]

    # again: every segment comes from the cache; same pixels
    again = render_film(tl, cache, tmp_path / "again.mp4", preset="ultrafast", crf=12)
    assert _hash(decode(again)[0]) == _hash(frames)


def test_edit_rerenders_one_scene(film: tuple[Timeline, Cache], tmp_path: Path) -> None:
    tl, cache = film
    render_film(tl, cache, tmp_path / "a.mp4", preset="ultrafast", crf=12)
    composed: list[int] = []
    import nyeshc.render.segments as seg

    original = seg.Compositor.frame

    def spy(self: object, f: int) -> np.ndarray:
        composed.append(f)
        return original(self, f)  # type: ignore[arg-type]

    s3 = tl.scenes[2]
    edited = type(s3)(s3.index, s3.title, s3.start, s3.end, s3.layers, fade_in=0, fade_out=4)
    tl2 = type(tl)(**{**{k: getattr(tl, k) for k in tl.__dataclass_fields__}, "scenes": (*tl.scenes[:2], edited)})
    seg.Compositor.frame = spy  # type: ignore[method-assign]
    try:
        out = render_film(tl2, cache, tmp_path / "b.mp4", preset="ultrafast", crf=12)
    finally:
        seg.Compositor.frame = original  # type: ignore[method-assign]
    assert composed and min(composed) >= 20  # scene 3's span and the morph into it only
    frames = decode(out)[0]
    assert len(frames) == tl.frames and frames[29].max() <= 20 and frames[26].max() < frames[24].max()


def test_the_sound_is_encoded_once_until_it_changes(film: tuple[Timeline, Cache], tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The mix's AAC encode is cached: a picture edit copies it, a sound edit encodes it again;
    either way the film's sound is the mix (its level where the music plays, silence after)."""
    from nyeshc import media
    from nyeshc.media import decode_audio

    tl, cache = film
    started: list[list[str]] = []
    real = media.start

    def counting(args: list[str], **kw: object) -> object:
        started.append(list(args))
        return real(args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(media, "start", counting)

    def sound_encodes() -> int:
        n = sum("aac" in a and "concat" not in a for a in started)
        started.clear()
        return n

    def level(path: Path) -> tuple[float, float]:
        x = decode_audio(path, channels=2)
        return float(np.sqrt(np.mean(x[int(0.25 * SR):int(1.75 * SR)] ** 2))), float(np.abs(x[int(2.1 * SR):]).max())

    def shorter(of: Timeline, seconds: float) -> Timeline:  # a sound no other test made
        return dataclasses.replace(of, audio=(dataclasses.replace(of.audio[0], length=int(seconds * SR)),))

    first = shorter(tl, 2.0)
    render_film(first, cache, tmp_path / "a.mp4", preset="ultrafast", crf=12)
    assert sound_encodes() == 1
    picture = dataclasses.replace(first, scenes=(*tl.scenes[:2], dataclasses.replace(tl.scenes[2], fade_out=4)))
    render_film(picture, cache, tmp_path / "b.mp4", preset="ultrafast", crf=12)
    assert sound_encodes() == 0
    render_film(shorter(tl, 1.0), cache, tmp_path / "c.mp4", preset="ultrafast", crf=12)
    assert sound_encodes() == 1
    a, b, c = level(tmp_path / "a.mp4"), level(tmp_path / "b.mp4"), level(tmp_path / "c.mp4")
    assert a == b and a[0] > 0.05 and a[1] < 1e-3  # the music, then silence past its 2 s (the film: 2.5 s)
    assert c[0] < 0.8 * a[0]  # the shorter clip: silent over part of the measured second and a half


def test_the_sound_made_ahead_is_the_sound_the_render_makes(film: tuple[Timeline, Cache], tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """``SoundAhead`` (the film's sound made in a thread while the jobs run): the render starts
    no encode of its own and writes the same file as a render that made its sound itself;
    cancelled before it starts it makes nothing; a failure there is met again, and reported,
    by the render; no scratch folder is left beside the film."""
    from nyeshc import media
    from nyeshc.render import RenderError
    from nyeshc.render.mixer import mix_key
    from nyeshc.render.segments import SoundAhead, audio_key

    tl, cache = film
    ahead_tl = dataclasses.replace(tl, audio=(dataclasses.replace(tl.audio[0], length=int(1.5 * SR)),))
    folder = tmp_path / "out"
    folder.mkdir()
    cancelled = SoundAhead(ahead_tl, cache, folder)
    cancelled.cancel()  # before it starts: it never does
    cancelled.start()
    cancelled.join()
    assert not cancelled.started and not cache.has(audio_key(ahead_tl)) and not cache.has(mix_key(ahead_tl))

    sound = SoundAhead(ahead_tl, cache, folder)
    assert sound.wanted() and sound.needs == {tl.audio[0].artifact}
    sound.start()
    started: list[list[str]] = []
    real = media.start


    def here(args: list[str], **kw: object) -> object:  # what the render starts itself (not the thread)
        if threading.current_thread() is threading.main_thread():
            started.append(list(args))
        return real(args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(media, "start", here)
    render_film(ahead_tl, cache, folder / "ahead.mp4", preset="ultrafast", crf=12, sound=sound)
    assert sound.error is None and not sound.wanted()
    assert not any("aac" in a for a in started)  # the thread's encode was used
    assert sound.take() is None  # taken over by the render
    sound.cancel()  # as the build does after rendering: the thread's scratch folder goes
    cache.discard(audio_key(ahead_tl))
    cache.discard(mix_key(ahead_tl))
    render_film(ahead_tl, cache, tmp_path / "alone.mp4", preset="ultrafast", crf=12)
    assert sum("aac" in a for a in started) == 1
    assert (folder / "ahead.mp4").read_bytes() == (tmp_path / "alone.mp4").read_bytes()

    broken = dataclasses.replace(ahead_tl, audio=(dataclasses.replace(ahead_tl.audio[0], artifact="0" * 64),))
    failed = SoundAhead(broken, cache, folder)
    failed.start()
    failed.join()
    assert failed.error is not None and not cache.has(audio_key(broken))
    with pytest.raises(RenderError, match="audio clip"):
        render_film(broken, cache, folder / "broken.mp4", preset="ultrafast", crf=12, sound=failed)
    assert [p.name for p in folder.iterdir()] == ["ahead.mp4"]


def test_long_scene_is_cut_and_an_edit_rerenders_only_where_it_shows(tmp_path: Path) -> None:
    """A 12 s scene at 12 fps is cut every SEGMENT_SECONDS (48 frames) from its start, and again
    where a layer starts or ends (pieces of at least MIN_PIECE_SECONDS, 12 frames); changing a
    caption shown in frames 60..80 re-composes those frames only, and the film assembled from
    old and new segments decodes to the right pictures."""
    from nyeshc.render.segments import MIN_PIECE_SECONDS, SEGMENT_SECONDS

    assert SEGMENT_SECONDS * FPS == 48 and MIN_PIECE_SECONDS * FPS == 12
    cache = Cache(tmp_path / "cache")
    bg = put(cache, "bg", solid(BLUE))
    white = np.zeros((12, 40, 4), np.uint8)
    white[...] = (255, 255, 255, 255)
    yellow = white.copy()
    yellow[..., 2] = 0
    k_white, k_yellow = put(cache, "white", white), put(cache, "yellow", yellow)

    def film(caption: str) -> Timeline:
        scene = SceneTrack(0, "long", 0, 144, (StillLayer(0, 144, bg), TextLayer(60, 80, caption, position="center")))
        return timeline([scene], 144)

    tl = film(k_white)
    assert [(s.start, s.end, s.kind) for s in spans(tl)] == [(0, 48, "scene"), (48, 60, "scene"), (60, 80, "scene"),
                                                              (80, 96, "scene"), (96, 144, "scene")]
    render_film(tl, cache, tmp_path / "a.mp4", preset="ultrafast", crf=12)
    import nyeshc.render.segments as seg

    composed: list[int] = []
    original = seg.Compositor.frame

    def spy(self: object, f: int) -> np.ndarray:
        composed.append(f)
        return original(self, f)  # type: ignore[arg-type]

    seg.Compositor.frame = spy  # type: ignore[method-assign]
    try:
        out = render_film(film(k_yellow), cache, tmp_path / "b.mp4", preset="ultrafast", crf=12)
    finally:
        seg.Compositor.frame = original  # type: ignore[method-assign]
    assert sorted(set(composed)) == list(range(60, 80))
    frames = decode(out)[0]
    assert len(frames) == 144
    assert near(frames[70][H // 2, W // 2], (255, 255, 0), 30)  # the new caption
    assert near(frames[40][H // 2, W // 2], BLUE) and near(frames[100][H // 2, W // 2], BLUE)


def test_direct_render_matches_and_frame_range(film: tuple[Timeline, Cache], tmp_path: Path) -> None:
    tl, cache = film
    direct = render_film(tl, cache, tmp_path / "d.mp4", preset="ultrafast", crf=12, use_segments=False)
    frames = decode(direct)[0]
    assert len(frames) == tl.frames
    assert near(frames[10][H // 2, 5], (115, 30, 115), 20)
    part = render_film(tl, cache, tmp_path / "p.mp4", preset="ultrafast", crf=12, frame_range=(12, 20))
    pf, meta = decode(part)
    assert len(pf) == 8 and abs(meta["duration"] - 8 / float(FPS)) < 0.05
    seen: list[int] = []
    render_film(tl, cache, tmp_path / "q.mp4", preset="ultrafast", frame_range=(0, 4),
                progress=lambda done, total: seen.append(done))
    assert seen == [1, 2, 3, 4]


def test_spans_and_still(film: tuple[Timeline, Cache], tmp_path: Path) -> None:
    tl, cache = film
    assert [(s.start, s.end, s.kind) for s in spans(tl)] == [
        (0, 9, "scene"), (9, 12, "overlap"), (12, 20, "scene"), (20, 22, "overlap"), (22, 30, "scene")]
    still = render_still(tl, cache, 14)
    png = write_png(tmp_path / "s.png", still)
    from PIL import Image

    assert np.array_equal(np.asarray(Image.open(png)), still)


def test_plain_text_layer(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    text = render_text("Nyeshkerh\nthe names are gone", 14, (250, 240, 220), max_width=80)
    assert text.dtype == np.uint8 and text.shape[2] == 4 and text[..., 3].max() == 255
    assert text.shape[1] <= 80 + 2 * 14  # wrapped (plus the shadow's margin)
    wide = render_text("Nyeshkerh the names are gone", 14, (250, 240, 220))
    assert wide.shape[1] > text.shape[1] and wide.shape[0] < text.shape[0]
    k = put(cache, "t", text)
    bg = put(cache, "bg", solid((120, 120, 120)))
    tl = timeline([SceneTrack(0, "s", 0, 2, (StillLayer(0, 2, bg), TextLayer(0, 2, k, position="top")))], 2)
    f = render_still(tl, cache, 0)
    top = f[: H // 2]
    assert top.max() >= 235 and top.min() <= 60  # light ink with a dark halo


def test_layer_cuts_keep_pieces_of_at_least_a_second_and_stay_inside_their_cell() -> None:
    """Layer edges closer than MIN_PIECE_SECONDS to a cut are not cut at; and what happens in one
    4 s cell never moves a cut in another (the grid's cuts are always kept)."""
    bg = "0" * 64
    scene = SceneTrack(0, "s", 0, 144, (StillLayer(0, 144, bg), TextLayer(5, 50, "a", position="center"),
                                          TextLayer(55, 100, "b", position="center"),
                                          TextLayer(130, 140, "c", position="center")))
    tl = timeline([scene], 144)
    # 12 frames at least: 5 is too close to 0, 50 and 55 to the cut at 48, 100 to 96 and 140 to
    # the scene's end; 130 is kept, and the piece [48, 96) stays whole
    assert [(s.start, s.end) for s in spans(tl)] == [(0, 48), (48, 96), (96, 130), (130, 144)]
    # a layer edge moved inside the last cell changes no cut before 96
    moved = SceneTrack(0, "s", 0, 144, (*scene.layers[:3], TextLayer(110, 140, "c", position="center")))
    assert [(s.start, s.end) for s in spans(timeline([moved], 144))] == [(0, 48), (48, 96), (96, 110), (110, 144)]


def test_an_edge_on_the_piece_grid_is_cut_at_before_one_that_is_not() -> None:
    """Inside a cell, edges on the 1 s grid from the scene's start (12 frames here: a beat's hold
    is drawn in pieces on it) are cut at first; an earlier edge off the grid closer than a second
    to them gives way, where in time order it would have taken the cut's place."""
    bg = "0" * 64
    scene = SceneTrack(0, "s", 0, 96, (StillLayer(0, 96, bg), TextLayer(0, 65, "line", position="center"),
                                         StillLayer(72, 96, "1" * 64)))
    # 65 (the line's end) would be cut in time order and then 72 would be too close to it
    assert [(s.start, s.end) for s in spans(timeline([scene], 96))] == [(0, 48), (48, 72), (72, 96)]
    # the line a little longer: the same cut at 72, so the piece [72, 96) keeps its key
    longer = SceneTrack(0, "s", 0, 96, (StillLayer(0, 96, bg), TextLayer(0, 69, "line", position="center"),
                                          StillLayer(72, 96, "1" * 64)))
    assert [(s.start, s.end) for s in spans(timeline([longer], 96))] == [(0, 48), (48, 72), (72, 96)]
    settings = encode_settings("ultrafast", 12)
    a, b = timeline([scene], 96), timeline([longer], 96)
    assert segment_key(a, spans(a)[-1], settings) == segment_key(b, spans(b)[-1], settings)
    assert segment_key(a, spans(a)[-2], settings) != segment_key(b, spans(b)[-2], settings)


def _segments(cache: Cache) -> dict[str, bytes]:
    return {e.key: e.path.read_bytes() for e in cache.entries() if e.record.get("kind") == "render.segment"}


def _unrendered(cache: Cache, where: Path) -> Cache:
    """A copy of ``cache`` without its rendered segments and sound."""
    import shutil

    shutil.copytree(cache.root, where)
    copy = Cache(where)
    for e in list(copy.entries()):
        if str(e.record.get("kind", "")).startswith("render."):
            copy.discard(e.key)
    return copy


def test_segments_composed_in_parallel_are_the_same(film: tuple[Timeline, Cache], tmp_path: Path) -> None:
    """Two composing processes make the same segments, byte for byte, as one (each span in
    one process, its encoder beside it), and the progress reaches every frame once."""
    tl, cache = film
    solo, duo = _unrendered(cache, tmp_path / "solo"), _unrendered(cache, tmp_path / "duo")
    seen: list[int] = []
    a = render_film(tl, solo, tmp_path / "a.mp4", preset="ultrafast", crf=12)
    b = render_film(tl, duo, tmp_path / "b.mp4", preset="ultrafast", crf=12, workers=2,
                    progress=lambda done, total: seen.append(done))
    assert len(spans(tl)) > 2 and _segments(solo) == _segments(duo) and len(_segments(duo)) == len(spans(tl))
    assert _hash(decode(a)[0]) == _hash(decode(b)[0])
    assert seen == sorted(seen) and seen[-1] == tl.frames


def test_a_failing_composer_stops_the_render_and_caches_nothing_half_made(
        film: tuple[Timeline, Cache], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An error in one composing process (here: frame 25 cannot be composed) is the render's
    error, with its message; the output is not written and no segment showing that frame is
    cached."""
    import nyeshc.render.segments as seg
    from nyeshc.render import RenderError

    tl, cache = film
    fresh = _unrendered(cache, tmp_path / "fresh")
    original = seg.Compositor.frame

    def broken(self: object, f: int) -> np.ndarray:
        if f == 25:
            raise RenderError("frame 25 is broken on purpose")
        return original(self, f)  # type: ignore[arg-type]

    monkeypatch.setattr(seg.Compositor, "frame", broken)
    with pytest.raises(RenderError, match="frame 25 is broken on purpose"):
        render_film(tl, fresh, tmp_path / "x.mp4", preset="ultrafast", crf=12, workers=2)
    assert not (tmp_path / "x.mp4").exists()
    settings = seg.encode_settings("ultrafast", 12)
    cached = set(_segments(fresh))
    assert all(seg.segment_key(tl, sp, settings) not in cached for sp in spans(tl) if sp.start <= 25 < sp.end)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".x.mp4")]
