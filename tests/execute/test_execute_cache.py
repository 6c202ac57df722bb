"""The artifact cache: atomic writes, checksums, stray files, non-array artifacts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nyeshc.backends.base import Alphabet, Portrait
from nyeshc.execute import Cache

KEY = "ab" + "0" * 62
KEY2 = "cd" + "1" * 62


def test_put_get_round_trip_memory_mapped(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c")
    data = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    cache.put(KEY, data, backend="image.fake", kind="image.render")
    assert cache.has(KEY) and cache.verify(KEY)
    got = cache.get(KEY)
    assert isinstance(got, np.memmap) and not got.flags.writeable
    assert np.array_equal(got, data)
    assert cache.record(KEY)["backend"] == "image.fake"


def test_writer_that_raises_leaves_nothing(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c")
    with pytest.raises(RuntimeError, match="boom"), cache.writer(KEY, (3, 2, 2, 3)) as out:
        out[0] = 7
        raise RuntimeError("boom")
    assert not cache.has(KEY) and cache.get(KEY) is None
    assert cache.stray_files() == []
    assert list(cache.entries()) == []


def test_writer_commits_on_success(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c")
    with cache.writer(KEY, (3, 2, 2, 3)) as out:
        out[:] = 9
    assert cache.verify(KEY) and int(np.asarray(cache.get(KEY)).sum()) == 9 * 36


def test_corrupt_data_is_detected_and_discarded(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c")
    cache.put(KEY, np.zeros(100, np.float32))
    path = cache.data_path(KEY)
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0xFF  # same size: only the checksum can tell
    path.write_bytes(bytes(raw))
    assert cache.has(KEY) and not cache.verify(KEY)
    assert cache.get(KEY) is None
    assert not cache.has(KEY) and not path.exists()


def test_truncated_data_is_not_an_entry(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c")
    cache.put(KEY, np.zeros(100, np.float32))
    path = cache.data_path(KEY)
    path.write_bytes(path.read_bytes()[:50])
    assert not cache.has(KEY)


def test_stray_files_are_listed(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c")
    cache.put(KEY, np.zeros(3, np.float32))
    folder = cache.objects / KEY2[:2]
    folder.mkdir(parents=True)
    tmp = folder / f".{KEY2[:12]}-xyz.tmp"
    tmp.write_bytes(b"half")
    orphan = folder / f"{KEY2}.npy"  # data whose record was never written
    np.save(orphan, np.zeros(2))
    frames = folder / f"{KEY2[:-1]}a.nyf"  # compressed frames, no record either
    frames.write_bytes(b"NYF")
    (folder / f"{KEY2[:-1]}b.json").write_text("{}")  # a record alone is an entry that reads as missing
    (folder / "nested").mkdir()  # not the cache's: left alone, as are files beside the folders
    (cache.objects / ".loose.tmp").write_bytes(b"x")
    assert sorted(cache.stray_files()) == sorted([tmp, orphan, frames])
    assert [e.key for e in cache.entries()] == [KEY]
    assert Cache(tmp_path / "none").stray_files() == []


def test_portrait_and_alphabet_round_trip_without_pickle(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c")
    p = Portrait(image=np.full((4, 4, 4), 3, np.uint8), mouth=(1.5, 2.0), face_box=(0, 0, 4, 4),
                 latent=np.ones(3, np.float32), source="generated")
    a = Alphabet(seed=5, strokes=((np.zeros((2, 3), np.float32),), (np.ones((3, 3), np.float32),) * 2),
                 mapping={"a": 0, "b": 1})
    cache.put(KEY, p)
    cache.put(KEY2, a)
    p2, a2 = cache.get(KEY), cache.get(KEY2)
    assert isinstance(p2, Portrait) and np.array_equal(p2.image, p.image) and p2.mouth == p.mouth
    assert isinstance(a2, Alphabet) and a2.seed == 5 and len(a2.strokes[1]) == 2 and dict(a2.mapping) == {"a": 0, "b": 1}


def test_forking_keeps_the_parents_objects_out_of_the_childrens_collections() -> None:
    """``pages.forking``: a child forked inside the block starts with every object of its parent
    frozen (its collections walk only its own); the parent collects them again after."""
    import gc
    import os

    from nyeshc.store.pages import forking

    assert gc.get_freeze_count() == 0
    read, write = os.pipe()
    with forking():
        frozen = gc.get_freeze_count()
        pid = os.fork()
        if pid == 0:  # the child: says how many objects it found frozen
            os.write(write, str(gc.get_freeze_count()).encode())
            os._exit(0)
    os.waitpid(pid, 0)
    os.close(write)
    in_child = int(os.read(read, 64).decode())
    os.close(read)
    assert frozen > 1000 and in_child > 0.99 * frozen  # the parent's objects (a few freed since)
    assert gc.get_freeze_count() == 0


@pytest.mark.parametrize("durable, syncs", [(True, 1), (False, 0)])
def test_atomic_output_fsyncs_unless_not_durable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 durable: bool, syncs: int) -> None:
    """``world.atomic_output(durable=False)`` (the backends' memo) renames without the fsync;
    either way the file appears whole, and a failed block leaves nothing."""
    import os

    from nyeshc import world

    calls: list[int] = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(fd), real(fd))[1])
    target = tmp_path / "kept.bin"
    with world.atomic_output(target, durable=durable) as tmp:
        tmp.write_bytes(b"whole")
    assert target.read_bytes() == b"whole" and len(calls) == syncs
    with pytest.raises(RuntimeError), world.atomic_output(tmp_path / "other.bin", durable=durable) as tmp:
        tmp.write_bytes(b"ha")
        raise RuntimeError("stopped")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.bin"]
