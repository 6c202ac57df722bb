"""The content-addressed artifact cache (``.nyeshc-cache/`` beside the script).

Layout::

    .nyeshc-cache/
      objects/ab/<key>.nyf            a frame sequence, compressed (:mod:`nyeshc.store.frames`)
      objects/ab/<key>.npy | .npz     any other artifact (raw numpy)
      objects/ab/<key>.json           its manifest record: key, backend, kind, output, size, sha256
      memo/                           the backends' memo, lent to each job (:data:`MEMO`)

An entry exists only when both files exist and the data's checksum matches the record. Data is
written to a temporary name in the same folder, fsynced and renamed, then the record the same
way, so a crash or Ctrl-C never leaves a half-written entry that looks whole; a corrupt or
partial entry is discarded on read and the job runs again.

Artifacts by ``Job.output`` (see :mod:`nyeshc.plan.model`): ``frames`` (any ``uint8 (N, H, W,
C)`` array) are stored compressed, losslessly, as ``.nyf`` and read back as a lazily decoded
:class:`~nyeshc.store.frames.FrameSequence`; ``image``/``audio``/``latent`` are ``numpy``
arrays (``.npy``); ``portrait`` and ``alphabet`` are stored as ``.npz`` with their metadata as
JSON inside — never pickles; ``rig`` (a :class:`~nyeshc.backends.base.RigState`) too, each array
compressed losslessly (its bytes in planes, then zstd). A cache written before frames were compressed holds them as
``.npy`` (its record says so); those are read as they are, memory-mapped.

``NYESHC_FRAME_CODEC=raw`` in the environment (or ``Cache(root, frame_codec="raw")``) stores
new frame sequences as ``.npy`` again: for comparisons and debugging.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nyeshc.backends.base import Alphabet, Portrait, RigState
from nyeshc.store.frames import SUFFIX as FRAMES_SUFFIX
from nyeshc.store.frames import FrameSequence, is_frames, write_frames
from nyeshc.store.frames import zstd as zstd_module
from nyeshc.world import reserve_space

CHUNK = 1 << 22
MEMO = "memo"
"""The folder (in the cache's) lent to the backends while their jobs run (``backends.base.memo_folder``):
what they work out again and again, kept by names that say all it depends on. Not entries: rebuilt
when missing, removed by ``nyeshc cache gc`` and ``clear``."""
SUFFIXES = (".npy", ".npz", FRAMES_SUFFIX)
FRAME_CODECS = ("zstd", "raw")


class CacheError(RuntimeError):
    pass


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            block = fh.read(CHUNK)
            if not block:
                break
            h.update(block)
    return h.hexdigest()


def _fsync_replace(tmp: Path, final: Path) -> None:
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, final)


# --------------------------------------------------------------------------- encoding


def _reserve(path: Path, size: int) -> None:
    fd = os.open(path, os.O_RDWR)
    try:
        reserve_space(fd, size)
    finally:
        os.close(fd)


def _json_bytes(obj: Any) -> np.ndarray:
    return np.frombuffer(json.dumps(obj, sort_keys=True).encode("utf-8"), dtype=np.uint8)


def _save_portrait(fh: Any, p: Portrait) -> None:
    meta = {"mouth": list(p.mouth), "face_box": list(p.face_box), "source": p.source}
    arrays = {"image": p.image, "meta": _json_bytes(meta)}
    if p.latent is not None:
        arrays["latent"] = np.asarray(p.latent)
    np.savez(fh, **arrays)


def _load_portrait(z: Any) -> Portrait:
    meta = json.loads(bytes(z["meta"]).decode("utf-8"))
    latent = z["latent"] if "latent" in z.files else None
    return Portrait(image=z["image"], mouth=tuple(meta["mouth"]), face_box=tuple(meta["face_box"]),
                    latent=latent, source=meta["source"])


def _save_alphabet(fh: Any, a: Alphabet) -> None:
    arrays: dict[str, np.ndarray] = {}
    shape = []
    for gi, glyph in enumerate(a.strokes):
        shape.append(len(glyph))
        for si, stroke in enumerate(glyph):
            arrays[f"g{gi}_{si}"] = np.asarray(stroke, dtype=np.float32)
    arrays["meta"] = _json_bytes({"seed": a.seed, "shape": shape, "mapping": dict(a.mapping)})
    np.savez(fh, **arrays)


def _load_alphabet(z: Any) -> Alphabet:
    meta = json.loads(bytes(z["meta"]).decode("utf-8"))
    strokes = tuple(tuple(z[f"g{gi}_{si}"] for si in range(n)) for gi, n in enumerate(meta["shape"]))
    return Alphabet(seed=meta["seed"], strokes=strokes, mapping=meta["mapping"])


def _save_rig(fh: Any, r: RigState) -> None:
    """Each array's bytes split into planes (byte 0 of every value, then byte 1, …) and zstd
    compressed: lossless, and ~30 % of the raw size for a puppet's float textures (zstd alone
    leaves ~45 %)."""
    zstd = zstd_module()
    arrays: dict[str, np.ndarray] = {}
    shapes: dict[str, Any] = {}
    for name, a in sorted(r.arrays.items()):
        a = np.ascontiguousarray(a)
        planes = a.view(np.uint8).reshape(-1, a.dtype.itemsize).T.tobytes() if a.size else b""
        arrays[f"a_{name}"] = np.frombuffer(zstd.ZstdCompressor(level=3).compress(planes), dtype=np.uint8)
        shapes[name] = [a.dtype.str, list(a.shape)]
    arrays["meta"] = _json_bytes({"backend": r.backend, "arrays": shapes, "codec": "zstd-planes"})
    np.savez(fh, **arrays)


def _load_rig(z: Any) -> RigState:
    zstd = zstd_module()
    meta = json.loads(bytes(z["meta"]).decode("utf-8"))
    arrays: dict[str, np.ndarray] = {}
    for name, (dtype, shape) in meta["arrays"].items():
        dt = np.dtype(dtype)
        n = int(np.prod(shape)) if shape else 1
        try:
            raw = zstd.ZstdDecompressor().decompress(bytes(z[f"a_{name}"]), max_output_size=n * dt.itemsize)
        except zstd.ZstdError as exc:
            raise ValueError(f"rig array {name}: {exc}") from None
        planes = np.frombuffer(raw, dtype=np.uint8)
        if planes.size != n * dt.itemsize:
            raise ValueError(f"rig array {name}: {planes.size} bytes, expected {n * dt.itemsize}")
        a = planes.reshape(dt.itemsize, n).T.copy().view(dt).reshape(shape)
        a.flags.writeable = False
        arrays[name] = a
    return RigState(backend=str(meta["backend"]), arrays=arrays)


def _suffix(artifact: Any, frame_codec: str) -> str:
    if isinstance(artifact, (Portrait, Alphabet, RigState)):
        return ".npz"
    if isinstance(artifact, FrameSequence) or (frame_codec != "raw" and is_frames(artifact)):
        return FRAMES_SUFFIX
    return ".npy"


# --------------------------------------------------------------------------- the cache


@dataclass(frozen=True)
class Entry:
    key: str
    path: Path
    record: dict[str, Any]


def default_frame_codec() -> str:
    """How frame sequences are stored when ``Cache`` is not told: ``NYESHC_FRAME_CODEC`` from
    the environment, else ``zstd`` (compressed ``.nyf``)."""
    return os.environ.get("NYESHC_FRAME_CODEC") or "zstd"


class Cache:
    """Artifacts by key under ``root``. Safe for several processes writing at once."""

    def __init__(self, root: str | os.PathLike[str], *, frame_codec: str | None = None) -> None:
        self.root = Path(root)
        self.objects = self.root / "objects"
        self.memo = self.root / MEMO
        codec = frame_codec or default_frame_codec()
        if codec not in FRAME_CODECS:
            raise ValueError(f"frame codec {codec!r}: expected one of {', '.join(FRAME_CODECS)}")
        self.frame_codec = codec

    def _paths(self, key: str) -> tuple[Path, Path, Path]:
        folder = self.objects / key[:2]
        return folder / f"{key}.npy", folder / f"{key}.npz", folder / f"{key}.json"

    def _data(self, key: str, suffix: str) -> Path:
        return self.objects / key[:2] / f"{key}{suffix}"

    def record(self, key: str) -> dict[str, Any] | None:
        _, _, meta = self._paths(key)
        try:
            return json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def data_path(self, key: str) -> Path | None:
        rec = self.record(key)
        if rec is None:
            return None
        suffix = rec.get("suffix")
        path = self._data(key, suffix if suffix in SUFFIXES else ".npy")
        return path if path.exists() else None

    def has(self, key: str) -> bool:
        """True when a complete entry (data and record, sizes agreeing) exists."""
        rec = self.record(key)
        path = self.data_path(key)
        return rec is not None and path is not None and path.stat().st_size == rec.get("size")

    def discard(self, key: str) -> None:
        for p in (*self._paths(key), self._data(key, FRAMES_SUFFIX)):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()

    def verify(self, key: str) -> bool:
        rec, path = self.record(key), self.data_path(key)
        return rec is not None and path is not None and sha256_file(path) == rec.get("sha256")

    def get(self, key: str, *, mmap: bool = True, verify: bool = True) -> Any | None:
        """The artifact, or ``None`` when absent or corrupt (a corrupt entry is discarded).

        Arrays come back memory-mapped read-only by default; a compressed frame sequence comes
        back as a :class:`FrameSequence` (decoded frame by frame when indexed), whatever
        ``mmap`` says."""
        if not self.has(key):
            return None
        if verify and not self.verify(key):
            self.discard(key)
            return None
        rec = self.record(key)
        path = self.data_path(key)
        assert rec is not None and path is not None
        try:
            if rec.get("suffix") == ".npz":
                with np.load(path, allow_pickle=False) as z:
                    typ = rec.get("type")
                    return _load_portrait(z) if typ == "portrait" else _load_rig(z) if typ == "rig" else \
                        _load_alphabet(z)
            if rec.get("suffix") == FRAMES_SUFFIX:
                return FrameSequence(path)
            return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):  # (a .npz member's CRC)
            self.discard(key)
            return None

    def put(self, key: str, artifact: Any, *, backend: str = "", kind: str = "") -> Path:
        """Store ``artifact`` under ``key`` atomically; returns the data path.

        A frame sequence (``uint8 (N, H, W, C)``) is stored compressed unless the cache's
        ``frame_codec`` is ``"raw"``."""
        suffix = _suffix(artifact, self.frame_codec)
        final = self._data(key, suffix)
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{key[:12]}-", suffix=".tmp", dir=final.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as fh:
                if isinstance(artifact, Portrait):
                    _save_portrait(fh, artifact)
                elif isinstance(artifact, Alphabet):
                    _save_alphabet(fh, artifact)
                elif isinstance(artifact, RigState):
                    _save_rig(fh, artifact)
                elif suffix == FRAMES_SUFFIX:
                    write_frames(fh, artifact)
                else:
                    np.save(fh, np.ascontiguousarray(artifact), allow_pickle=False)
            _fsync_replace(tmp, final)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise
        self._commit_record(key, final, suffix, backend, kind,
                            "portrait" if isinstance(artifact, Portrait) else
                            "alphabet" if isinstance(artifact, Alphabet) else
                            "rig" if isinstance(artifact, RigState) else "array")
        return final

    def _put_frames_from(self, key: str, frames: np.ndarray, backend: str, kind: str) -> Path:
        """Compress ``frames`` (a memory map being read frame by frame) into the entry ``key``."""
        final = self._data(key, FRAMES_SUFFIX)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{key[:12]}-", suffix=".tmp", dir=final.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as fh:
                write_frames(fh, frames)
            _fsync_replace(tmp, final)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise
        self._commit_record(key, final, FRAMES_SUFFIX, backend, kind, "array")
        return final

    @contextlib.contextmanager
    def writer(self, key: str, shape: tuple[int, ...], dtype: Any = np.uint8, *, backend: str = "",
               kind: str = "") -> Iterator[np.ndarray]:
        """A writable memory map for a large array (frame sequences), committed on exit.

        Nothing is visible under ``key`` until the block ends without an exception. A frame
        sequence (``uint8``, 4 axes) is written into a temporary raw buffer (a memory map of an
        unlinked file beside the cache: disk, not memory, so a long shot fits) and compressed
        into the entry on exit; the buffer's disk space is reserved first (a full disk is an
        ``ENOSPC`` here, not a SIGBUS mid-shot) and freed when the block ends."""
        npy, _, _ = self._paths(key)
        npy.parent.mkdir(parents=True, exist_ok=True)
        if self.frame_codec != "raw" and len(shape) == 4 and np.dtype(dtype) == np.uint8:
            with tempfile.TemporaryFile(dir=npy.parent, prefix=f".{key[:12]}-", suffix=".tmp") as raw:
                arr = np.memmap(raw, dtype=np.uint8, mode="w+", shape=shape) if np.prod(shape) else \
                    np.zeros(shape, np.uint8)
                reserve_space(raw.fileno(), arr.nbytes)
                try:
                    yield arr
                    self._put_frames_from(key, arr, backend, kind)
                finally:
                    del arr
            return
        fd, tmp_name = tempfile.mkstemp(prefix=f".{key[:12]}-", suffix=".tmp", dir=npy.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            arr = np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=shape)
            _reserve(tmp, arr.offset + arr.nbytes)
            yield arr
            arr.flush()
            del arr
            _fsync_replace(tmp, npy)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise
        self._commit_record(key, npy, ".npy", backend, kind, "array")

    def _commit_record(self, key: str, data: Path, suffix: str, backend: str, kind: str, typ: str) -> None:
        """Write the record of the data file just put in place; if that fails (a full disk),
        remove the data file too: no entry is left without its record."""
        try:
            self._write_record(key, data, suffix, backend, kind, typ)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                data.unlink()
            raise

    def _write_record(self, key: str, data: Path, suffix: str, backend: str, kind: str, typ: str) -> None:
        _, _, meta = self._paths(key)
        rec = {"key": key, "backend": backend, "kind": kind, "type": typ, "suffix": suffix,
               "size": data.stat().st_size, "sha256": sha256_file(data), "created": time.time()}
        fd, tmp_name = tempfile.mkstemp(prefix=f".{key[:12]}-", suffix=".tmp", dir=meta.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(rec, fh, sort_keys=True)
            _fsync_replace(Path(tmp_name), meta)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
            raise

    # ----------------------------------------------------------------- maintenance

    def entries(self) -> Iterator[Entry]:
        if not self.objects.is_dir():
            return
        for meta in sorted(self.objects.glob("*/*.json")):
            key = meta.stem
            rec = self.record(key)
            path = self.data_path(key)
            if rec is not None and path is not None:
                yield Entry(key, path, rec)

    def stray_files(self) -> list[Path]:
        """Temporary files of interrupted writes and data without a record. One listing of each
        folder (every build asks before its jobs start: globbing the folders once per kind of
        file took 6-7 ms of the tutorial's 672-file cache, now 1.5-2.5)."""
        out: list[Path] = []
        try:
            folders = sorted(e.path for e in os.scandir(self.objects) if e.is_dir())
        except OSError:  # no objects yet
            return out
        for folder in folders:
            try:
                names = sorted(e.name for e in os.scandir(folder) if not e.is_dir())
            except OSError:  # removed meanwhile
                continue
            present = set(names)
            for name in names:
                stem, suffix = os.path.splitext(name)
                if name.startswith(".") and suffix == ".tmp":
                    out.append(Path(folder, name))
                elif suffix in SUFFIXES and f"{stem}.json" not in present:
                    out.append(Path(folder, name))
        return out

    def clear(self) -> None:
        if self.root.exists():
            shutil.rmtree(self.root)

    def size(self) -> int:
        return sum(e.record.get("size", 0) for e in self.entries())
