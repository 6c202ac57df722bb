"""A full disk (ENOSPC) at each place a build writes: one clear line, exit 3, nothing half-written.

The failure is injected where the bytes are written, not above it: numpy's ``save`` inside the
cache (a job's entry, an encoded segment — after part of the data went out), the reservation of
a memory-mapped entry's space (the cached mix, written a block at a time), the memory-mapped
frame buffers' preallocation, ffmpeg itself (a stand-in that fails like
ffmpeg on a full disk, for the encodes and the final assembly) and the subtitle/lock writer.
Each build runs through the CLI entry point in this process (``-j 1``: the jobs run here too).
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from hardening_support import cli

from nyeshc.execute import Cache
from nyeshc.store import cache as cache_module


def _enospc(filename: str | None = None) -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), *([filename] if filename else []))


class _NumpyOnFullDisk:
    """numpy, except that ``save`` writes a few bytes and then fails with ENOSPC while the
    cache is storing an artifact of a chosen kind."""

    def __init__(self, failing: Callable[[str], bool]) -> None:
        self.failing = failing
        self._here = threading.local()  # what each thread is storing (the film's sound is mixed in a thread)
        self.failed: list[str] = []

    @property
    def kinds(self) -> list[str]:
        if not hasattr(self._here, "kinds"):
            self._here.kinds = []
        return self._here.kinds

    def __getattr__(self, name: str) -> object:
        return getattr(np, name)

    def save(self, fh, arr, **kw):  # noqa: ANN001, ANN201 - numpy's signature
        if self.kinds and self.failing(self.kinds[-1]):
            self.failed.append(self.kinds[-1])
            fh.write(b"\x93NUMPY\x01\x00" + b"\0" * 64)
            raise _enospc()
        return np.save(fh, arr, **kw)


@pytest.fixture
def full_cache(monkeypatch: pytest.MonkeyPatch) -> Callable[[Callable[[str], bool]], _NumpyOnFullDisk]:
    def install(failing: Callable[[str], bool]) -> _NumpyOnFullDisk:
        fake = _NumpyOnFullDisk(failing)
        put = Cache.put

        def tracking_put(self: Cache, key: str, artifact: object, *, backend: str = "", kind: str = "") -> Path:
            fake.kinds.append(kind)
            try:
                return put(self, key, artifact, backend=backend, kind=kind)
            finally:
                fake.kinds.pop()

        writer = Cache.writer

        @contextlib.contextmanager
        def tracking_writer(self: Cache, key: str, shape: tuple[int, ...], dtype: object = np.uint8, *,
                            backend: str = "", kind: str = "") -> Iterator[np.ndarray]:
            fake.kinds.append(kind)
            try:
                with writer(self, key, shape, dtype, backend=backend, kind=kind) as arr:
                    yield arr
            finally:
                fake.kinds.pop()

        real_reserve = cache_module._reserve

        def reserve(path: Path, size: int) -> None:
            """The memory-mapped writer's reservation of its disk space (the cached mix's
            entry): a full disk fails it with ENOSPC, with the header already in the file."""
            if fake.kinds and fake.failing(fake.kinds[-1]):
                fake.failed.append(fake.kinds[-1])
                raise _enospc(str(path))
            real_reserve(path, size)

        monkeypatch.setattr(Cache, "put", tracking_put)
        monkeypatch.setattr(Cache, "writer", tracking_writer)
        monkeypatch.setattr(cache_module, "_reserve", reserve)
        monkeypatch.setattr(cache_module, "np", fake)
        return fake

    return install


def _fake_ffmpeg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, when: str) -> None:
    """ffmpeg, except that a run whose arguments contain ``when`` fails as ffmpeg does when its
    output's disk is full (after writing part of its output file)."""
    from nyeshc import media

    real = media.ffmpeg_exe()
    script = tmp_path / "ffmpeg"
    script.write_text(f'''#!/bin/sh
case " $* " in
  *"{when}"*)
    cat > /dev/null
    for last; do :; done
    printf 'partial' > "$last"
    echo "[out#0/mp4 @ 0x1] Error writing trailer: No space left on device" >&2
    echo "Conversion failed!" >&2
    exit 1;;
esac
exec "{real}" "$@"
''')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(media, "ffmpeg_exe", lambda: str(script))


def _build(tiny: Path, out: Path, *extra: object) -> tuple[int, str]:
    rc, _, err = cli(tiny, "-o", out, "-q", "-j", "1", *extra)
    return rc, err


def _assert_clear(rc: int, err: str, what: str, where: Path, script: Path) -> None:
    assert rc == 3, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err  # one line
    line = lines[0]
    assert line.startswith("nyeshc"), line
    assert f"the disk is full: writing {what}" in line, line
    assert f" in {where} failed (" in line and " free)" in line, line
    assert f"nyeshc cache gc {script}" in line and "--cache DIR" in line and "--max-disk" in line, line


def _assert_nothing_half_written(out: Path, cache_dir: Path) -> None:
    assert not out.exists()
    # no partial film, no segment work folder, no temporary subtitle or lock file beside it
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".")] == []
    cache = Cache(cache_dir)
    assert cache.stray_files() == []
    for entry in cache.entries():  # what is there is whole
        assert cache.verify(entry.key), entry
    objects = cache_dir / "objects"
    if objects.exists():  # no data file without its record, no record without its data
        stems: dict[str, set[str]] = {}
        for p in objects.rglob("*"):
            if p.is_file():
                stems.setdefault(p.name.split(".")[0], set()).add(p.suffix)
        for key, suffixes in stems.items():
            assert ".json" in suffixes and len(suffixes) == 2, (key, suffixes)


@pytest.fixture
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    return folder / "OUT.mp4"


def test_a_jobs_cache_entry(tiny: Path, out: Path, full_cache) -> None:  # noqa: ANN001
    fake = full_cache(lambda kind: not kind.startswith("render."))
    rc, err = _build(tiny, out)
    assert fake.failed, "no job stored an artifact"
    _assert_clear(rc, err, "the result of ", tiny.parent / ".nyeshc-cache", tiny)
    _assert_nothing_half_written(out, tiny.parent / ".nyeshc-cache")


@pytest.mark.parametrize(("kind", "what"), [("render.mix", "the mixed soundtrack to the cache"),
                                           ("render.audio", "an encoded segment or sound to the cache")],
                         ids=["the mix", "its encode"])
def test_the_cached_sound(tiny: Path, out: Path, full_cache, kind: str, what: str) -> None:  # noqa: ANN001
    fake = full_cache(lambda k: k == kind)
    rc, err = _build(tiny, out)
    # the mix is tried twice: by the thread that starts the sound while the jobs run, then by the
    # render, whose failure is the build's (the thread's is only remembered); the encode the
    # thread starts is stored by the render
    assert fake.failed == ([kind, kind] if kind == "render.mix" else [kind])
    _assert_clear(rc, err, what, tiny.parent / ".nyeshc-cache", tiny)
    _assert_nothing_half_written(out, tiny.parent / ".nyeshc-cache")
    # the jobs' entries before it are whole and kept: the next build (space freed) resumes
    assert any(True for _ in Cache(tiny.parent / ".nyeshc-cache").entries())


def test_an_encoded_segment_in_the_cache(tiny: Path, out: Path, full_cache) -> None:  # noqa: ANN001
    fake = full_cache(lambda kind: kind == "render.segment")
    rc, err = _build(tiny, out)
    assert fake.failed and set(fake.failed) == {"render.segment"}
    _assert_clear(rc, err, "an encoded segment or sound to the cache", tiny.parent / ".nyeshc-cache", tiny)
    _assert_nothing_half_written(out, tiny.parent / ".nyeshc-cache")


def test_a_custom_cache_folder_is_named_in_the_advice(tiny: Path, out: Path, tmp_path: Path,
                                                     full_cache) -> None:  # noqa: ANN001
    cache_dir = tmp_path / "elsewhere"
    full_cache(lambda kind: kind == "render.mix")
    rc, err = _build(tiny, out, "--cache", cache_dir)
    _assert_clear(rc, err, "the mixed soundtrack", cache_dir, tiny)
    assert f"nyeshc cache gc {tiny} --cache {cache_dir}" in err
    _assert_nothing_half_written(out, cache_dir)


def test_ffmpeg_encoding_a_segment(tiny: Path, out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_ffmpeg(tmp_path, monkeypatch, "rawvideo")
    rc, err = _build(tiny, out)
    _assert_clear(rc, err, f"the film {out.name}", out.parent, tiny)
    _assert_nothing_half_written(out, tiny.parent / ".nyeshc-cache")


def test_ffmpeg_encoding_the_sound(tiny: Path, out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sound is encoded by an ffmpeg of its own, beside the segments: its failure is the
    build's, with nothing left behind."""
    _fake_ffmpeg(tmp_path, monkeypatch, "-c:a aac")
    rc, err = _build(tiny, out)
    _assert_clear(rc, err, f"the film {out.name}", out.parent, tiny)
    _assert_nothing_half_written(out, tiny.parent / ".nyeshc-cache")


def test_ffmpeg_assembling_the_film(tiny: Path, out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_ffmpeg(tmp_path, monkeypatch, "concat")
    out.write_bytes(b"")  # an old (empty) film: left as it was
    rc, err = _build(tiny, out)
    _assert_clear(rc, err, f"the film {out.name}", out.parent, tiny)
    assert out.read_bytes() == b""
    out.unlink()
    _assert_nothing_half_written(out, tiny.parent / ".nyeshc-cache")
    assert any(True for _ in Cache(tiny.parent / ".nyeshc-cache").entries())  # the segments are kept


def test_ffmpeg_writing_the_film_without_cache(tiny: Path, out: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_ffmpeg(tmp_path, monkeypatch, "rawvideo")
    rc, err = _build(tiny, out, "--no-cache")
    _assert_clear(rc, err, f"the film {out.name}", out.parent, tiny)
    _assert_nothing_half_written(out, tiny.parent / ".nyeshc-cache")
    assert [p.name for p in tiny.parent.iterdir()] == [tiny.name]  # the temporary cache is gone


def test_the_subtitles(tiny: Path, out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nyeshc import world

    def full(target: str | os.PathLike[str], data: bytes) -> Path:
        with world.atomic_output(target) as tmp:
            tmp.write_bytes(data[:4])
            raise _enospc(str(tmp))

    monkeypatch.setattr(world, "atomic_write_bytes", full)
    rc, err = _build(tiny, out)
    _assert_clear(rc, err, "the subtitles OUT.srt", out.parent, tiny)
    assert not out.with_suffix(".srt").exists()
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".")] == []


def test_a_memory_mapped_buffer_fails_up_front(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Frame sequences are written through memory maps: on a full disk a write into a page with
    no block behind it is a SIGBUS that kills the process. The space is reserved first, so a
    full disk is an ENOSPC before any frame is drawn, and nothing is left behind."""
    from nyeshc.execute import ops

    asked: list[int] = []

    def fallocate(fd: int, offset: int, length: int) -> None:
        asked.append(length)
        raise _enospc()

    monkeypatch.setattr(os, "posix_fallocate", fallocate, raising=False)
    cache = Cache(tmp_path / "c")
    with pytest.raises(OSError) as caught, cache.writer("ab" * 32, (3, 8, 8, 4)):
        pytest.fail("the writer must not hand out a buffer it has no disk for")
    assert caught.value.errno == errno.ENOSPC
    assert asked and asked[0] >= 3 * 8 * 8 * 4
    with pytest.raises(OSError), ops._scratch_frames(cache, (3, 8, 8, 4)):
        pytest.fail("the scratch buffer must not be handed out either")
    assert [p for p in (tmp_path / "c").rglob("*") if p.is_file()] == []


def test_record_write_failure_leaves_no_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The data went in but its record could not be written: neither is left behind."""
    cache = Cache(tmp_path / "c")
    real = cache_module.json.dump

    def full(obj: object, fh, **kw) -> None:  # noqa: ANN001
        fh.write("{")
        raise _enospc()

    monkeypatch.setattr(cache_module.json, "dump", full)
    with pytest.raises(OSError):
        cache.put("cd" * 32, np.zeros(10, np.uint8))
    monkeypatch.setattr(cache_module.json, "dump", real)
    assert [p for p in (tmp_path / "c").rglob("*") if p.is_file()] == []
    cache.put("cd" * 32, np.ones(10, np.uint8))
    assert int(cache.get("cd" * 32).sum()) == 10


def test_any_command_reports_a_full_disk_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's last resort: a command other than build that runs out of space (here fmt
    rewriting a script) prints one line with the file, its folder and the free space; exit 3."""
    from nyeshc.commands import fmt

    target = tmp_path / "film.nysh"
    target.write_text('title: "x"\n')

    def full(args: object) -> int:
        raise _enospc(str(target))

    monkeypatch.setattr(fmt, "run", full)
    rc, _, err = cli("fmt", target)
    assert rc == 3 and "Traceback" not in err
    assert err.count("\n") == 1 and err.startswith("nyeshc fmt: the disk is full: writing 'film.nysh' in "), err
    assert f" in {tmp_path} failed (" in err

    def other(args: object) -> int:
        raise OSError(errno.EACCES, "Permission denied", str(target))

    monkeypatch.setattr(fmt, "run", other)
    with pytest.raises(PermissionError):  # only a full disk is turned into a line
        cli("fmt", target)


def test_free_space_and_sizes() -> None:
    from nyeshc.world import disk_full_error, free_space, human_bytes

    assert [human_bytes(n) for n in (0, 999, 1000, 426_000, 57_900_000_000)] == \
        ["0 B", "999 B", "1.0 KB", "426.0 KB", "57.9 GB"]
    assert free_space(Path("/nonexistent/deeper/still")) is not None  # its nearest existing folder
    assert disk_full_error(OSError("192000 requested and 10208 written")) is not None  # numpy's short write
    assert disk_full_error(OSError("something else")) is None
    wrapped = RuntimeError("encoding failed")
    wrapped.__cause__ = _enospc()
    assert disk_full_error(wrapped) is wrapped.__cause__
