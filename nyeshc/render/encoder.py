"""The encoder: raw RGB frames streamed to the ``ffmpeg`` binary of ``imageio-ffmpeg``,
started through :mod:`nyeshc.media` (the one ffmpeg gate).

Frames go down ffmpeg's stdin as ``rgb24`` (``-f rawvideo -pix_fmt rgb24 -s WxH -framerate FPS
-i pipe:0``), one at a time straight from the compositor's buffer, so memory is set by the canvas
and not by the film's length. Audio, when given, is written first to a temporary 32-bit float WAV
beside the output and muxed in (``-c:a aac -b:a 192k -ar 48000``). ``metadata`` (the film's title
and author, from :func:`film_metadata`) is written into the MP4's tags (``-metadata title=…``).

Atomicity: ffmpeg writes ``.<name>.partial-XXXX.mp4`` in the target's folder; only when it exits
cleanly is that file renamed over the target. On any exception, ``KeyboardInterrupt`` or
``SIGTERM`` (turned into :class:`Interrupted` while an encode runs in the main thread) the child
is killed and waited for, the partial file and the temporary WAV are removed, and an existing
target is left as it was. ffmpeg's stderr is drained by a thread into a bounded buffer; its tail
is quoted in :class:`EncodeError`.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import os
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from nyeshc import media
from nyeshc.media import DEFAULT_CRF, DEFAULT_PRESET
from nyeshc.store.pages import release
from nyeshc.world import publish

__all__ = ["Encoder", "EncodeError", "Interrupted", "film_metadata", "metadata_args", "write_wav",
           "run_ffmpeg", "sigterm_guard"]

_TAIL = 40  # stderr lines kept


class EncodeError(RuntimeError):
    """ffmpeg failed; the message ends with the tail of its stderr."""


class Interrupted(KeyboardInterrupt):  # noqa: N818 - a kind of KeyboardInterrupt, not an Exception
    """Raised in the main thread when SIGTERM arrives during an encode (handled like Ctrl-C)."""


def film_metadata(film: Any) -> dict[str, str]:
    """The MP4 tags of a film (an ``ir.Film``): its title page's ``title`` as ``title`` and its
    ``author`` as ``artist`` (what players show), each only when the script gives one."""
    tags: dict[str, str] = {}
    for key, tag in (("title", "title"), ("author", "artist")):
        prop = film.header.get(key)
        text = getattr(getattr(prop, "value", None), "text", None)
        if isinstance(text, str) and text.strip():
            tags[tag] = text.strip()
    return tags


def metadata_args(metadata: Mapping[str, str] | None) -> list[str]:
    """``-metadata KEY=VALUE`` for each tag (for the output file; global, not per stream)."""
    args: list[str] = []
    for key, value in (metadata or {}).items():
        text = " ".join(str(value).splitlines())  # one line: a triple-quoted title's breaks become spaces
        args += ["-metadata", f"{key}={text}"]
    return args


def _rate(fps: Fraction | float | int) -> str:
    f = Fraction(fps).limit_denominator(1001 * 1000)
    return f"{f.numerator}/{f.denominator}"


def write_wav(path: str | os.PathLike[str], audio: np.ndarray, rate: int = 48_000) -> None:
    """Write ``float32 (N, C)`` as an IEEE-float WAV, in blocks (no full-length copy; the pages
    of a memory-mapped ``audio``, such as the cached mix, are unmapped after each block)."""
    audio = np.asarray(audio)
    if audio.ndim == 1:
        audio = audio[:, None]
    n, ch = audio.shape
    data_bytes = n * ch * 4
    import struct

    header = b"RIFF" + struct.pack("<I", 4 + 26 + 12 + 8 + data_bytes) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHHH", 18, 3, ch, rate, rate * ch * 4, ch * 4, 32, 0)
    header += b"fact" + struct.pack("<II", 4, n)
    header += b"data" + struct.pack("<I", data_bytes)
    with open(path, "wb") as fh:
        fh.write(header)
        for i in range(0, n, 1 << 18):
            fh.write(np.ascontiguousarray(audio[i:i + (1 << 18)], dtype="<f4").tobytes())
            release(audio)


@contextlib.contextmanager
def sigterm_guard() -> Iterator[None]:
    """While active (main thread only), SIGTERM raises :class:`Interrupted` so that cleanup runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise Interrupted(f"signal {signum}")

    try:
        old = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main interpreter
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


class _Drain(threading.Thread):
    """Reads a child's stderr into a bounded deque so the pipe never fills."""

    def __init__(self, stream: Any) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.lines: collections.deque[str] = collections.deque(maxlen=_TAIL)

    def run(self) -> None:
        for raw in iter(self.stream.readline, b""):
            self.lines.append(raw.decode("utf-8", "replace").rstrip())

    def tail(self) -> str:
        return "\n".join(self.lines)


def _close_pipe(stream: Any, drain: threading.Thread | None) -> None:
    """Close a child's stderr once its drain thread has read it to the end."""
    if stream is not None and (drain is None or not drain.is_alive()):
        with contextlib.suppress(OSError):
            stream.close()


def partial_path(target: Path, suffix: str) -> Path:
    """A new, empty temporary file beside ``target`` (hidden, named after it): written in full,
    then renamed onto ``target``, so nothing half-written ever has the target's name."""
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.partial-", suffix=suffix, dir=target.parent)
    os.close(fd)
    return Path(name)


def unlink_quietly(path: Path | None) -> None:
    """Remove ``path`` if it is there (``None``: nothing)."""
    if path is not None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def run_ffmpeg(args: Sequence[str], what: str) -> None:
    """Run ffmpeg to completion (through :func:`nyeshc.media.run`); :class:`EncodeError` with
    its stderr tail on failure. The child is killed if this process is interrupted."""
    media.run(args, what, error=EncodeError)


class Encoder:
    """Streams frames into an H.264/AAC MP4 at ``path``, atomically.

    Use as a context manager: frames are written with :meth:`write`; leaving the block normally
    finishes the file and renames it into place, leaving it by an exception aborts (child killed,
    temporaries removed, an existing ``path`` untouched)::

        with Encoder(out, 1280, 720, Fraction(24), audio=mix) as enc:
            for f in range(n):
                enc.write(compositor.frame(f))

    ``audio`` is ``float32 (N, 2)`` at 48 kHz, a path to an audio file, or ``None`` (video only).
    ``metadata`` are the file's tags (``{"title": …, "artist": …}``; see :func:`film_metadata`).
    ``video_args`` replaces the default x264 settings (``-c:v libx264 -pix_fmt yuv420p -preset P
    -crf C``); ``container_args`` the default ``-movflags +faststart``. Odd canvas sides are padded
    by one black pixel (yuv420p needs even sides).
    """

    def __init__(self, path: str | os.PathLike[str], width: int, height: int, fps: Fraction | float | int,
                 audio: np.ndarray | str | os.PathLike[str] | None = None, preset: str = DEFAULT_PRESET,
                 crf: int = DEFAULT_CRF, *, sample_rate: int = 48_000, video_args: Sequence[str] | None = None,
                 container_args: Sequence[str] = ("-movflags", "+faststart"),
                 metadata: Mapping[str, str] | None = None) -> None:
        self.path = Path(path)
        self.width, self.height, self.fps = int(width), int(height), fps
        self.frame_bytes = self.width * self.height * 3
        self.frames = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._drain: _Drain | None = None
        self._tmp: Path | None = None
        self._wav: Path | None = None
        self._guard: contextlib.ExitStack | None = None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._tmp = partial_path(self.path, self.path.suffix or ".mp4")
            audio_in: list[str] = []
            if audio is not None and not isinstance(audio, np.ndarray):
                audio_in = ["-i", os.fspath(audio)]
            elif audio is not None:
                self._wav = partial_path(self.path, ".wav")
                write_wav(self._wav, audio, sample_rate)
                audio_in = ["-i", os.fspath(self._wav)]
            vf: list[str] = []
            if self.width % 2 or self.height % 2:
                vf = ["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2"]
            if video_args is None:
                video_args = ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", preset, "-crf", str(crf)]
            cmd = ["-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{self.width}x{self.height}",
                   "-framerate", _rate(fps), "-i", "pipe:0", *audio_in,
                   "-map", "0:v:0", *(["-map", "1:a:0"] if audio_in else []),
                   *vf, *video_args,
                   *(["-c:a", "aac", "-b:a", "192k", "-ar", str(sample_rate)] if audio_in else []),
                   *metadata_args(metadata), *container_args, os.fspath(self._tmp)]
            self._proc = media.start(cmd, stdin=subprocess.PIPE)
            self._drain = _Drain(self._proc.stderr)
            self._drain.start()
        except OSError as exc:
            self.abort()
            if exc.errno == errno.ENOSPC:
                raise EncodeError(f"the disk is full ({exc.filename or self.path.parent})") from exc
            raise
        except BaseException:
            self.abort()
            raise

    # ----------------------------------------------------------------- context

    def __enter__(self) -> Encoder:
        self._guard = contextlib.ExitStack()
        self._guard.enter_context(sigterm_guard())
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        try:
            if et is None:
                self.close()
            else:
                self.abort()
        finally:
            if self._guard is not None:
                self._guard.close()
                self._guard = None

    # ----------------------------------------------------------------- streaming

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def write(self, frame: np.ndarray) -> None:
        """Send one ``uint8 (H, W, 3)`` frame (C-contiguous is cheapest: no copy)."""
        if self._proc is None or self._proc.stdin is None:
            raise EncodeError("the encoder is closed")
        if frame.shape != (self.height, self.width, 3) or frame.dtype != np.uint8:
            raise ValueError(f"frame {frame.shape} {frame.dtype}, expected ({self.height}, {self.width}, 3) uint8")
        data = memoryview(frame if frame.flags.c_contiguous else np.ascontiguousarray(frame)).cast("B")
        try:
            self._proc.stdin.write(data)
        except (BrokenPipeError, OSError) as exc:
            raise self._failure(f"ffmpeg stopped reading frames ({exc})") from None
        self.frames += 1

    def _failure(self, what: str) -> EncodeError:
        if self._proc is not None:
            with contextlib.suppress(Exception):
                self._proc.wait(timeout=5)
        if self._drain is not None:
            self._drain.join(timeout=2)
        tail = self._drain.tail() if self._drain is not None else ""
        if "No space left on device" in tail:
            what = f"the disk is full ({self.path.parent}); {what}"
        return EncodeError(f"encoding {self.path.name}: {what}" + (f"\n{tail}" if tail else ""))

    def end_input(self) -> None:
        """Tell ffmpeg there are no more frames; it finishes encoding in the background while
        the caller goes on (composing the next segment). :meth:`close` then waits for it."""
        proc = self._proc
        if proc is not None and proc.stdin is not None:
            with contextlib.suppress(BrokenPipeError, OSError):
                proc.stdin.close()

    def close(self) -> Path:
        """Finish the file and move it into place; returns the target path."""
        proc = self._proc
        if proc is None:
            raise EncodeError("the encoder is closed")
        try:
            if proc.stdin is not None:
                try:
                    proc.stdin.close()
                except (BrokenPipeError, OSError):
                    pass
            rc = proc.wait()
            if self._drain is not None:
                self._drain.join(timeout=5)
            _close_pipe(proc.stderr, self._drain)
            if rc != 0:
                raise self._failure(f"ffmpeg exited with {rc}")
            if self.frames == 0:
                raise EncodeError(f"encoding {self.path.name}: no frames were written")
            assert self._tmp is not None
            try:
                publish(self._tmp, self.path)
            except OSError as exc:
                if exc.errno == errno.ENOSPC:
                    raise EncodeError(f"the disk is full ({exc.filename or self.path.parent})") from exc
                raise
            self._tmp = None
            self._proc = None
        except BaseException:
            self.abort()
            raise
        unlink_quietly(self._wav)
        self._wav = None
        return self.path

    def abort(self) -> None:
        """Kill ffmpeg and remove every temporary file; the target is not touched."""
        proc, self._proc = self._proc, None
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            with contextlib.suppress(Exception):
                if proc.stdin is not None:
                    proc.stdin.close()
            proc.wait()
        if self._drain is not None:
            self._drain.join(timeout=2)
        if proc is not None:
            _close_pipe(proc.stderr, self._drain)
        unlink_quietly(self._tmp)
        unlink_quietly(self._wav)
        self._tmp = self._wav = None
