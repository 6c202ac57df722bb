"""Compressed frame sequences (``nyeshc/store/frames.py``): exact, random access, deterministic,
through the cache, and a cache written before compression (raw ``.npy`` frames) still read."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np
import pytest

from nyeshc.execute import Cache
from nyeshc.store.frames import GOP, CorruptFrames, FrameSequence, write_frames

KEY = "ef" + "2" * 62


def _frames(n: int, h: int = 9, w: int = 11, c: int = 4, seed: int = 0) -> np.ndarray:
    """Frames with everything a codec can get wrong: noise (differences that wrap modulo 256),
    a moving gradient, flat runs, alpha at every value."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n, h, w, c), np.uint8)
    y, x = np.mgrid[0:h, 0:w]
    for i in range(n):
        out[i, ..., 0] = (x * 23 + i * 7) % 256
        out[i, ..., 1] = rng.integers(0, 256, (h, w))
        out[i, : h // 2, :, 2] = 255 if i % 3 else 0
        out[i, ..., c - 1] = (x + y * w + i) % 256
    return out


def _file(tmp_path: Path, frames: np.ndarray, gop: int = 4) -> Path:
    path = tmp_path / "f.nyf"
    with open(path, "wb") as fh:
        write_frames(fh, frames, gop=gop)
    return path


@pytest.mark.parametrize("n", [0, 1, 3, 4, 5, 9, 13])
@pytest.mark.parametrize("c", [3, 4])
def test_decodes_to_exactly_the_frames_written(tmp_path: Path, n: int, c: int) -> None:
    frames = _frames(n, c=c)
    seq = FrameSequence(_file(tmp_path, frames))
    assert seq.shape == frames.shape and len(seq) == n and seq.ndim == 4 and seq.dtype == np.uint8
    assert np.array_equal(np.asarray(seq), frames)
    assert all(np.array_equal(seq[i], frames[i]) for i in range(n))


def test_random_access_in_any_order_gives_the_same_frames(tmp_path: Path) -> None:
    frames = _frames(23, c=4, seed=3)
    seq = FrameSequence(_file(tmp_path, frames, gop=5))
    order = np.random.default_rng(1).permutation(23).tolist()
    order += [22, 22, 0, 0, 4, 3, 5, 10, 9, 9, 14, 20, 1]  # repeats, steps back within a group, seeks
    for i in order:
        got = seq[i]
        assert np.array_equal(got, frames[i]), i
        assert not got.flags.writeable
    assert np.array_equal(seq[-1], frames[-1])
    assert np.array_equal(seq[3:17:4], frames[3:17:4])
    assert np.array_equal(seq[[7, 2, 2, 19]], frames[[7, 2, 2, 19]])
    assert np.array_equal(seq[5, 2:4, :, 3], frames[5, 2:4, :, 3])
    assert np.array_equal(seq[1:3, 0], frames[1:3, 0])
    with pytest.raises(IndexError):
        seq[23]
    # a frame kept by a caller is not changed by later decoding
    kept = seq[6]
    for i in (7, 8, 0, 6, 12):
        seq[i]
    assert np.array_equal(kept, frames[6])


def test_same_frames_same_bytes_and_pickles_as_its_path(tmp_path: Path) -> None:
    frames = _frames(10)
    a, b = io.BytesIO(), io.BytesIO()
    write_frames(a, frames)
    write_frames(b, frames.copy())
    assert a.getvalue() == b.getvalue()
    seq = FrameSequence(_file(tmp_path, frames))
    again = pickle.loads(pickle.dumps(seq))
    assert again.path == seq.path and np.array_equal(np.asarray(again), frames)


def test_a_damaged_file_is_refused_not_misread(tmp_path: Path) -> None:
    frames = _frames(9)
    path = _file(tmp_path, frames)
    good = path.read_bytes()
    path.write_bytes(good[:-5])  # truncated: the trailer is gone
    with pytest.raises(CorruptFrames):
        FrameSequence(path)
    path.write_bytes(b"not frames at all" * 3)
    with pytest.raises(CorruptFrames):
        FrameSequence(path)
    bad = bytearray(good)
    seq_probe = FrameSequence(_file(tmp_path, frames))
    lo, hi = int(seq_probe.offsets[1]), int(seq_probe.offsets[2])
    bad[(lo + hi) // 2] ^= 0xFF  # inside the second group: its zstd checksum fails
    path.write_bytes(bytes(bad))
    seq = FrameSequence(path)
    assert np.array_equal(seq[0], frames[0])
    with pytest.raises(CorruptFrames):
        np.asarray(seq)


def test_the_cache_stores_frames_compressed_and_small(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c")
    frames = np.zeros((2 * GOP + 3, 32, 32, 4), np.uint8)
    frames[..., 3] = 255
    for i in range(len(frames)):  # a square moving over a flat picture: what portraits look like
        frames[i, 10:20, i % 12: i % 12 + 8, :3] = 200
    cache.put(KEY, frames, backend="motion.fake", kind="motion.lipsync")
    path = cache.data_path(KEY)
    assert path.suffix == ".nyf" and path.stat().st_size < frames.nbytes // 20
    assert cache.verify(KEY) and cache.record(KEY)["suffix"] == ".nyf"
    got = cache.get(KEY)
    assert isinstance(got, FrameSequence) and np.array_equal(np.asarray(got), frames)
    cache.discard(KEY)
    assert not cache.has(KEY) and list((tmp_path / "c" / "objects").rglob("*.*")) == []


def test_the_writer_compresses_on_exit_and_leaves_no_buffer(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c")
    frames = _frames(11, c=3)
    with cache.writer(KEY, frames.shape) as out:
        for i in range(len(frames)):  # frame by frame, as the backends fill ``out``
            out[i] = frames[i]
    assert cache.data_path(KEY).suffix == ".nyf" and cache.stray_files() == []
    assert np.array_equal(np.asarray(cache.get(KEY)), frames)
    assert sorted(p.suffix for p in (tmp_path / "c" / "objects").rglob("*") if p.is_file()) == [".json", ".nyf"]


def test_a_cache_of_raw_frames_is_still_read(tmp_path: Path) -> None:
    """Caches written before compression hold frame sequences as ``.npy``: they are entries as
    good as any (the executor does not run their jobs again) and read memory-mapped."""
    old = Cache(tmp_path / "c", frame_codec="raw")  # writes exactly what the old cache wrote
    frames = _frames(6)
    with old.writer(KEY, frames.shape) as out:
        out[:] = frames
    assert old.data_path(KEY).suffix == ".npy"
    new = Cache(tmp_path / "c")
    assert new.frame_codec == "zstd" and new.has(KEY) and new.verify(KEY)
    got = new.get(KEY)
    assert isinstance(got, np.memmap) and np.array_equal(got, frames)
    assert new.stray_files() == []


def test_the_codec_is_chosen_by_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NYESHC_FRAME_CODEC", "raw")
    assert Cache(tmp_path).frame_codec == "raw"
    monkeypatch.setenv("NYESHC_FRAME_CODEC", "gif")
    with pytest.raises(ValueError, match="gif"):
        Cache(tmp_path)


@pytest.mark.usefixtures("fakes")
def test_a_build_over_an_old_cache_reuses_its_raw_frames_or_rebuilds_them(
        tmp_path: Path, counter: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from execute_fakes import calls, image_graph

    from nyeshc.execute import execute

    plan = image_graph({"counter": str(counter)})
    morph = plan.jobs[-1]
    monkeypatch.setenv("NYESHC_FRAME_CODEC", "raw")  # the workers too: what today's caches hold
    execute(plan, Cache(tmp_path / "old"), jobs=2, progress=False)
    monkeypatch.delenv("NYESHC_FRAME_CODEC")
    fresh = execute(plan, Cache(tmp_path / "new"), jobs=2, progress=False)
    assert fresh[morph.key].suffix == ".nyf"
    want = np.asarray(fresh.load(morph.key))

    ran = len(calls(counter))
    old = Cache(tmp_path / "old")
    result = execute(plan, old, jobs=2, progress=False, verify=True)
    assert len(calls(counter)) == ran  # read as it is: nothing ran again
    assert result[morph.key].suffix == ".npy" and np.array_equal(result.load(morph.key), want)

    path = old.data_path(morph.key)  # a damaged old entry: discarded, made again, compressed
    path.write_bytes(path.read_bytes()[:-7] + b"\0" * 7)
    result = execute(plan, old, jobs=2, progress=False, verify=True)
    assert calls(counter)[ran:] and result[morph.key].suffix == ".nyf"
    assert not path.exists() and np.array_equal(np.asarray(result.load(morph.key)), want)
