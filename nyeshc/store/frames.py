"""Compressed frame sequences: how the cache stores ``frames`` artifacts (``.nyf``).

A frame sequence (a morph, lip-sync or motion frames, a decoded video: ``uint8 (N, H, W, C)``)
is cut into groups of ``GOP`` frames. In a group the first frame is stored as it is and every
other frame as its difference from the previous one (bytewise, modulo 256), and the group's
bytes go through one zstd stream (level ``LEVEL``). It is lossless: a frame decodes to exactly
the bytes written, alpha included. Measured on the example film's artifacts
(``benchmarks/frame_codecs.py``, ``benchmarks/RESULTS.md`` §7): 4–5 % of the raw size for
portraits, 8–9 % for morphs, about 3 ms to decode a 684² RGBA frame; zlib at the same size
decodes 4× slower, PNG and FFV1 6–10× slower and are not smaller.

File layout (little-endian)::

    MAGIC  u32 header length  header JSON          {"codec", "level", "predictor", "gop", "shape", "dtype"}
    group 0 (zstd) | group 1 | …                   the data
    u64 × (groups + 1)                             each group's start offset, then the data's end
    u64 index offset  MAGIC                        the trailer

:class:`FrameSequence` reads one lazily: ``seq[i]`` decodes frame ``i`` on demand (from the
start of its group, or from the last frame decoded when that is earlier in the same group, so
playing forwards costs one frame's decompression and one addition), with reads at file offsets
(``os.pread``: no memory map, so a truncated or vanishing file is an error, never a SIGBUS).
It looks like a read-only array where the renderer needs one (``shape``, ``dtype``, ``ndim``,
``len``, integer/slice/list indexing, ``np.asarray`` for the whole), so the compositor and the
exporters take either form. :class:`FrameWriter` writes one frame at a time, holding two frames
in memory. Both are deterministic: the same frames give the same file.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterator
from typing import Any, BinaryIO

import numpy as np

__all__ = ["GOP", "LEVEL", "MAGIC", "SUFFIX", "CorruptFrames", "FrameSequence", "FrameWriter",
           "is_frames", "write_frames", "zstd"]

MAGIC = b"\x89NYF\r\n\x1a\n"
SUFFIX = ".nyf"
GOP = 32  # frames per group: 16 → 32 saves 3–9 % of the size; a seek decodes at most GOP - 1 extra frames
LEVEL = 3  # zstd level: 1 is no faster here, 9 is 4× slower to write for 10 % less
_HEAD = struct.Struct("<8sI")
_TAIL = struct.Struct("<Q8s")


class CorruptFrames(ValueError):
    """A ``.nyf`` file that is not whole (a bad header, index or group)."""


def zstd() -> Any:
    """The ``zstandard`` module (the cache's compressed artifacts use it too)."""
    import zstandard  # imported on first use: `nyeshc check` never pays for it

    return zstandard


def is_frames(value: Any) -> bool:
    """True for what the cache stores as a compressed frame sequence: ``uint8 (N, H, W, C)``."""
    return isinstance(value, (np.ndarray, FrameSequence)) and value.ndim == 4 and value.dtype == np.uint8


# --------------------------------------------------------------------------- writing


class FrameWriter:
    """Writes frames, in order, to the binary file ``fh`` (at its current position 0).

    ``add(frame)`` each of the ``shape[0]`` frames, then ``close()`` (which checks the count
    and writes the index). Memory: the previous frame and one difference."""

    def __init__(self, fh: BinaryIO, shape: tuple[int, ...], *, gop: int = GOP, level: int = LEVEL) -> None:
        if len(shape) != 4 or min(shape[1:]) <= 0 or shape[0] < 0:
            raise ValueError(f"a frame sequence is (N, H, W, C), got {shape}")
        self.fh, self.shape, self.gop = fh, tuple(int(s) for s in shape), max(1, int(gop))
        header = json.dumps({"codec": "zstd", "level": level, "predictor": "previous", "gop": self.gop,
                             "shape": list(self.shape), "dtype": "uint8"}, sort_keys=True).encode("utf-8")
        fh.write(_HEAD.pack(MAGIC, len(header)) + header)
        self.offsets: list[int] = []
        self.pos = _HEAD.size + len(header)
        self.count = 0
        self.prev: np.ndarray | None = None
        self.diff = np.empty(self.shape[1:], np.uint8)
        self.compressor = zstd().ZstdCompressor(level=level, write_checksum=True)  # a bad group fails
        self.stream: Any = None

    def _write(self, data: bytes) -> None:
        if data:
            self.fh.write(data)
            self.pos += len(data)

    def add(self, frame: np.ndarray) -> None:
        if frame.shape != self.shape[1:] or frame.dtype != np.uint8:
            raise ValueError(f"frame {self.count}: expected uint8 {self.shape[1:]}, got {frame.dtype} {frame.shape}")
        if self.count >= self.shape[0]:
            raise ValueError(f"more than the {self.shape[0]} frames declared")
        if self.count % self.gop == 0:
            self._end_group()
            self.offsets.append(self.pos)
            self.stream = self.compressor.compressobj()
            self._write(self.stream.compress(np.ascontiguousarray(frame).data))
        else:
            assert self.prev is not None
            np.subtract(frame, self.prev, out=self.diff)  # modulo 256
            self._write(self.stream.compress(self.diff.data))
        if self.prev is None:
            self.prev = np.empty(self.shape[1:], np.uint8)
        np.copyto(self.prev, frame)
        self.count += 1

    def _end_group(self) -> None:
        if self.stream is not None:
            self._write(self.stream.flush())
            self.stream = None

    def close(self) -> None:
        if self.count != self.shape[0]:
            raise ValueError(f"{self.count} frames written of the {self.shape[0]} declared")
        self._end_group()
        index = self.pos
        self.offsets.append(self.pos)
        self._write(np.asarray(self.offsets, "<u8").tobytes())
        self._write(_TAIL.pack(index, MAGIC))
        self.prev = None


def write_frames(fh: BinaryIO, frames: Any, *, gop: int = GOP, level: int = LEVEL) -> None:
    """Write all of ``frames`` (an array, a memory map or a :class:`FrameSequence`) to ``fh``."""
    w = FrameWriter(fh, tuple(frames.shape), gop=gop, level=level)
    for i in range(len(frames)):
        w.add(frames[i])
    w.close()


# --------------------------------------------------------------------------- reading


class FrameSequence:
    """A ``.nyf`` file as a read-only, lazily decoded ``uint8 (N, H, W, C)`` sequence.

    Not thread-safe (one decoding cursor); open one per reader. Pickles as its path."""

    ndim = 4
    dtype = np.dtype(np.uint8)

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            self._read_index()
        except BaseException:
            os.close(self._fd)
            self._fd = -1
            raise
        self._group = -1  # the group the cursor is in
        self._reader: Any = None
        self._next = 0  # the index (in the group) of the frame the reader gives next
        self._last: np.ndarray | None = None  # the frame before it
        self._dctx: Any = None

    def _corrupt(self, why: str) -> CorruptFrames:
        return CorruptFrames(f"{self.path}: not a whole frame sequence ({why})")

    def _pread(self, n: int, offset: int) -> bytes:
        data = os.pread(self._fd, n, offset)
        if len(data) != n:
            raise self._corrupt(f"{n} bytes expected at {offset}, {len(data)} read")
        return data

    def _read_index(self) -> None:
        size = os.fstat(self._fd).st_size
        if size < _HEAD.size + _TAIL.size:
            raise self._corrupt("too short")
        magic, hlen = _HEAD.unpack(self._pread(_HEAD.size, 0))
        if magic != MAGIC or hlen > 4096:
            raise self._corrupt("bad magic")
        try:
            head = json.loads(self._pread(hlen, _HEAD.size).decode("utf-8"))
            shape = tuple(int(s) for s in head["shape"])
            gop = int(head["gop"])
        except (ValueError, KeyError, TypeError) as exc:
            raise self._corrupt(f"bad header: {exc}") from None
        if head.get("codec") != "zstd" or head.get("predictor") != "previous" or head.get("dtype") != "uint8" \
                or len(shape) != 4 or min(shape) < 0 or gop < 1:
            raise self._corrupt(f"unknown format {head}")
        index, magic = _TAIL.unpack(self._pread(_TAIL.size, size - _TAIL.size))
        groups = -(-shape[0] // gop)
        if magic != MAGIC or index + 8 * (groups + 1) + _TAIL.size != size:
            raise self._corrupt("bad trailer")
        offsets = np.frombuffer(self._pread(8 * (groups + 1), index), "<u8").astype(np.int64)
        if offsets.size and (offsets[0] != _HEAD.size + hlen or offsets[-1] != index or np.any(np.diff(offsets) < 0)):
            raise self._corrupt("bad index")
        self.shape: tuple[int, int, int, int] = shape  # type: ignore[assignment]
        self.gop = gop
        self.offsets = offsets
        self.frame_bytes = shape[1] * shape[2] * shape[3]
        self.header = head

    # ----------------------------------------------------------------- array-like

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def nbytes(self) -> int:
        """The decoded size (what the sequence would take raw)."""
        return self.size

    @property
    def stored_bytes(self) -> int:
        return int(os.fstat(self._fd).st_size)

    def __repr__(self) -> str:
        return f"FrameSequence({self.path!r}, shape={self.shape})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrameSequence, (self.path,))

    def __getitem__(self, item: Any) -> np.ndarray:
        if isinstance(item, tuple):
            if not item:
                return np.asarray(self)
            head, rest = item[0], item[1:]
            picked = self[head]
            return picked[(slice(None), *rest)] if picked.ndim == 4 else picked[rest]
        if isinstance(item, (int, np.integer)):
            i = int(item)
            n = self.shape[0]
            if i < 0:
                i += n
            if not 0 <= i < n:
                raise IndexError(f"frame {item} of a sequence of {n}")
            return self._frame(i)
        if isinstance(item, slice):
            idx = range(*item.indices(self.shape[0]))
        elif item is Ellipsis:
            return np.asarray(self)
        else:
            arr = np.asarray(item)
            if arr.dtype == bool:
                arr = np.flatnonzero(arr)
            idx = [int(i) for i in arr.reshape(-1)]
        out = np.empty((len(idx), *self.shape[1:]), np.uint8)
        for k, i in enumerate(idx):
            out[k] = self[i]
        return out

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(self.shape[0]):
            yield self._frame(i)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = np.empty(self.shape, np.uint8)
        for i in range(self.shape[0]):
            out[i] = self._frame(i)
        return out if dtype is None else out.astype(dtype, copy=False)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self._reader = self._last = None

    def __enter__(self) -> FrameSequence:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_fd", -1) >= 0:
            try:
                os.close(self._fd)
            except OSError:
                pass

    # ----------------------------------------------------------------- decoding

    def _seek(self, group: int) -> None:
        if self._fd < 0:
            raise ValueError(f"{self.path}: the sequence is closed")
        lo, hi = int(self.offsets[group]), int(self.offsets[group + 1])
        blob = self._pread(hi - lo, lo)
        if self._dctx is None:
            self._dctx = zstd().ZstdDecompressor()
        self._reader = self._dctx.stream_reader(blob)
        self._group, self._next, self._last = group, 0, None

    def _read_into(self, buf: np.ndarray) -> None:
        view = memoryview(buf).cast("B")
        got = 0
        try:
            while got < len(view):
                n = self._reader.readinto(view[got:])
                if not n:
                    break
                got += n
        except zstd().ZstdError as exc:
            raise self._corrupt(f"group {self._group}: {exc}") from None
        if got != len(view):
            raise self._corrupt(f"group {self._group} ends early")

    def _frame(self, i: int) -> np.ndarray:
        group, k = divmod(i, self.gop)
        if group == self._group and k == self._next - 1 and self._last is not None:
            return self._last
        if group != self._group or k < self._next - 1 or self._reader is None:
            self._seek(group)
        while self._next <= k:
            frame = np.empty(self.shape[1:], np.uint8)
            self._read_into(frame)
            if self._last is not None:
                np.add(frame, self._last, out=frame)  # modulo 256
            frame.flags.writeable = False
            self._last = frame
            self._next += 1
        assert self._last is not None
        return self._last
