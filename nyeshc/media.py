"""Recordings and videos as files: one path for recognising, probing and decoding them, and
the one gate through which nyeshc starts ffmpeg.

``nyeshc check`` (is this file audio? :func:`sniff`), the planner's services (how long is it?
:func:`duration`) and the executor (its sound as numbers: :func:`decode_audio`) all go through
this module, so the build reads a file with the same idea of what it is that ``check`` had.

A file is recognised by its first bytes (:func:`identify`), never by its name. When the bytes
say for certain which container it is, ffmpeg is told (``-f wav``, ``-f flac``, …) instead of
guessing: ffmpeg's own probe scores every demuxer and can pick the wrong one. A 16-bit WAV of
a pure 1 kHz sine at 48 kHz repeats itself every 96 bytes, and when its samples happen to look
like MPEG-TS sync bytes every 192 bytes, the MPEG-TS probe outscores the WAV one and the file
"has no audio stream".

Probing reads ffmpeg's stream listing (``ffmpeg -i``; the bundled ``imageio-ffmpeg`` has no
``ffprobe``); WAV and FLAC durations come from their headers, exactly. Decoding gives
``float32 (N, C)`` at 48 kHz through ffmpeg's resampler, C = 1 for a mono recording and 2 for
anything else (more channels are downmixed to stereo without summing past full scale).

**The ffmpeg gate.** Every ffmpeg nyeshc runs is started here: :func:`start` (a running
ffmpeg with pipes: the encoder, the exporters; :func:`finish` waits for one), :func:`run` (to
completion, with the tail of its messages in the error: the assembly, probing, decoding), :func:`decode_video` (frames,
streamed). Each gets the bundled binary (never a system one), no banner, no keyboard
(``-nostdin``) and a log level, so an ffmpeg started anywhere behaves the same.

This module is at the bottom of the import layers (beside ``nyeshc.world``): it imports no
other part of nyeshc.

>>> identify(b"RIFF\\x24\\x00\\x00\\x00WAVEfmt ").demuxer
'wav'
>>> sniff(b"\\x89PNG\\r\\n\\x1a\\n....")
('a PNG image', frozenset({'image'}))
>>> identify(b"title: a script").description
'text'
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import struct
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy is imported where audio is decoded: ``nyeshc check`` sniffs files without it
    import numpy as np

__all__ = ["SAMPLE_RATE", "DEFAULT_CRF", "DEFAULT_PRESET", "AudioStream", "Format", "MediaError", "Probe",
           "audio_channels", "decode_audio", "decode_video", "duration", "ffmpeg_exe", "finish", "has_audio",
           "identify", "identify_file", "input_args", "probe", "run", "sniff", "start"]

SAMPLE_RATE = 48_000  # every audio array in nyeshc is at this rate: the one definition (plan and backends import it)
HEAD = 64  # how many first bytes :func:`identify` needs (what ``nyeshc check`` reads)
_PROBE_TIMEOUT = 60
_TAIL = 40  # lines of ffmpeg's messages kept in an error

#: x264's settings when nothing else is asked (``--preset``, ``--crf``; the encoder, the segments'
#: keys and the render's cost model read them here). Measured on the example film's 1,608 composed
#: frames against ``medium`` at crf 20 (benchmarks/RESULTS.md §13): 0.44 dB higher PSNR, the same
#: SSIM, 42–53 % of the CPU, a file 16 % larger; on a noisy textured source the same quality at
#: 38 % of the CPU and a 50 % larger file. ``--preset medium --crf 20`` makes smaller files when
#: the time is there.
DEFAULT_PRESET = "veryfast"
DEFAULT_CRF = 18


class MediaError(Exception):
    """A file that ffmpeg cannot read as the recording (or video) it was meant to be."""


def ffmpeg_exe() -> str:
    """The ffmpeg binary bundled with ``imageio-ffmpeg`` (never a system ffmpeg), or the one
    ``IMAGEIO_FFMPEG_EXE`` names (which wins, as it does in imageio-ffmpeg)."""
    named = os.environ.get("IMAGEIO_FFMPEG_EXE")
    return named if named else _bundled_ffmpeg()


@functools.cache
def _bundled_ffmpeg() -> str:
    """The bundled binary, looked up once per process. Where imageio-ffmpeg's folder holds an
    executable file for this platform it is taken as it is: ``imageio_ffmpeg.get_ffmpeg_exe()``
    first runs ``ffmpeg -version`` in every process that asks (8 ms of a core, taken from the jobs
    in a dialogue edit); a binary that does not run is reported by the command that runs it
    (``nyeshc doctor`` runs it). Anything else is imageio-ffmpeg's own search."""
    try:
        import imageio_ffmpeg
    except ImportError:  # pragma: no cover - a declared dependency
        raise MediaError("reading media needs imageio-ffmpeg: pip install imageio-ffmpeg") from None
    with contextlib.suppress(Exception):  # a layout this does not know: imageio-ffmpeg's search
        from imageio_ffmpeg import _definitions

        exe = Path(imageio_ffmpeg.__file__).parent / "binaries" / _definitions.FNAME_PER_PLATFORM[_definitions.get_platform()]
        if exe.is_file() and os.access(exe, os.X_OK):
            return str(exe)
    return str(imageio_ffmpeg.get_ffmpeg_exe())


def start(args: Sequence[str], *, loglevel: str = "error", stdin: Any = subprocess.DEVNULL,
          stdout: Any = subprocess.DEVNULL, stderr: Any = subprocess.PIPE) -> subprocess.Popen[bytes]:
    """Start the bundled ffmpeg with ``args`` (an ``OSError`` if it cannot be started)."""
    return subprocess.Popen([ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", loglevel, *args],
                            stdin=stdin, stdout=stdout, stderr=stderr)


def run(args: Sequence[str], what: str, *, loglevel: str = "error", output: bool = False, check: bool = True,
        timeout: float | None = None, error: type[Exception] = MediaError) -> tuple[bytes, bytes, int]:
    """Run ffmpeg to completion: ``(stdout, stderr, exit code)`` (stdout only with ``output``).
    With ``check``, a non-zero exit raises ``error`` naming ``what`` with the tail of ffmpeg's
    messages. ffmpeg is killed if this process is interrupted or ``timeout`` passes."""
    try:
        proc = start(args, loglevel=loglevel, stdout=subprocess.PIPE if output else subprocess.DEVNULL)
    except OSError as exc:
        raise error(f"{what}: cannot run ffmpeg: {exc}") from None
    return finish(proc, what, check=check, timeout=timeout, error=error)


def finish(proc: subprocess.Popen[bytes], what: str, *, check: bool = True, timeout: float | None = None,
           error: type[Exception] = MediaError) -> tuple[bytes, bytes, int]:
    """Wait for an ffmpeg :func:`start` began (one that ran beside other work): as :func:`run`,
    ``(stdout, stderr, exit code)``, ``error`` with the tail of its messages on a non-zero exit,
    killed if this process is interrupted or ``timeout`` passes."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise error(f"{what}: ffmpeg took more than {timeout:g} s") from None
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    if check and proc.returncode != 0:
        tail = err.decode("utf-8", "replace").strip().splitlines()[-_TAIL:]
        raise error(f"{what}: ffmpeg exited with {proc.returncode}\n" + "\n".join(tail))
    return out or b"", err or b"", proc.returncode


# --------------------------------------------------------------------------- recognising

_IMAGE = frozenset({"image"})
_AUDIO = frozenset({"audio"})
_VIDEO = frozenset({"video"})
_AV = frozenset({"audio", "video"})
_NONE: frozenset[str] = frozenset()

_AUDIO_BRANDS = (b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B ")
_VIDEO_BRANDS = (b"qt  ",)


@dataclass(frozen=True, slots=True)
class Format:
    """What a file's first bytes say it is.

    ``description`` is for messages ("a WAV recording"); ``kinds`` are the uses it can serve
    (``image``, ``audio``, ``video``); ``demuxer`` is ffmpeg's name for its container when the
    bytes leave no doubt (passed as ``-f``), else ``None`` (ffmpeg probes)."""

    description: str
    kinds: frozenset[str]
    demuxer: str | None = None


def _mpeg_audio_frame(head: bytes) -> bool:
    """An MPEG audio (layer I-III) frame header: sync, and no reserved version, layer, bitrate
    or sample rate (so two bytes of noise are not taken for one)."""
    if len(head) < 4 or head[0] != 0xFF or (head[1] & 0xE0) != 0xE0:
        return False
    version, layer = (head[1] >> 3) & 3, (head[1] >> 1) & 3
    bitrate, rate = head[2] >> 4, (head[2] >> 2) & 3
    return version != 1 and layer != 0 and bitrate != 15 and rate != 3


def _id3_length(head: bytes) -> int | None:
    """The whole length of the ID3v2 tag that ``head`` starts with (header, body, footer)."""
    if len(head) < 10 or not head.startswith(b"ID3") or any(b & 0x80 for b in head[6:10]):
        return None
    size = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]
    return 10 + size + (10 if head[5] & 0x10 else 0)


def identify(head: bytes) -> Format:
    """What a file's first bytes (:data:`HEAD` of them suffice) say it is."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Format("a PNG image", _IMAGE)
    if head.startswith(b"\xff\xd8\xff"):
        return Format("a JPEG image", _IMAGE)
    if head.startswith((b"GIF87a", b"GIF89a")):
        return Format("a GIF", frozenset({"image", "video"}), "gif")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Format("a WebP image", _IMAGE)
    if head[:4] in (b"RIFF", b"RF64", b"BW64") and head[8:12] == b"WAVE":
        return Format("a WAV recording", _AUDIO, "wav")
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return Format("an AVI video", _VIDEO, "avi")
    if head.startswith(b"BM") and len(head) >= 14:
        return Format("a BMP image", _IMAGE)
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return Format("a TIFF image", _IMAGE)
    if head.startswith(b"fLaC"):
        return Format("a FLAC recording", _AUDIO, "flac")
    if head.startswith(b"OggS"):
        return Format("an Ogg recording", _AUDIO, "ogg")
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return Format("an AIFF recording", _AUDIO, "aiff")
    if head.startswith(b"ID3"):
        # the tag may hide anything after it; identify_file() looks past it when it can
        return Format("an MP3 recording", _AUDIO)
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _AUDIO_BRANDS:
            return Format("an M4A recording", _AUDIO, "mov")
        if brand in _VIDEO_BRANDS:
            return Format("a QuickTime movie", _AV, "mov")
        return Format("an MP4 file", _AV, "mov")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return Format("a WebM/Matroska file", _AV, "matroska")
    if len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0 and (head[1] & 0x06) != 0:
        return Format("an MP3 recording", _AUDIO, "mp3" if _mpeg_audio_frame(head) else None)
    if not head:
        return Format("an empty file", _NONE)
    try:
        head.decode("utf-8")
        return Format("text", _NONE)
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3 and exc.reason == "unexpected end of data":
            return Format("text", _NONE)  # a character cut in two by the end of the sample
        return Format("data of an unknown format", _NONE)


def sniff(head: bytes) -> tuple[str, frozenset[str]]:
    """What a file's first bytes say it is: a description and the kinds it can serve as
    (``nyeshc check``'s question; :func:`identify` also names the demuxer)."""
    found = identify(head)
    return found.description, found.kinds


def identify_file(path: str | os.PathLike[str]) -> Format:
    """:func:`identify` on a file's first bytes; an ID3v2 tag is skipped to see what follows
    it (MPEG audio, FLAC or ADTS AAC). ``OSError`` if it cannot be read."""
    with open(path, "rb") as fh:
        head = fh.read(HEAD)
        found = identify(head)
        tag = _id3_length(head)
        if tag is None:
            return found
        fh.seek(tag)
        after = fh.read(HEAD)
    if after.startswith(b"fLaC"):
        return Format("a FLAC recording", _AUDIO, "flac")
    if _mpeg_audio_frame(after):
        return Format(found.description, found.kinds, "mp3")
    if len(after) >= 2 and after[0] == 0xFF and (after[1] & 0xF6) == 0xF0:
        return Format("an AAC recording", _AUDIO, "aac")
    return found


def input_args(path: str | os.PathLike[str]) -> list[str]:
    """ffmpeg's arguments to open ``path`` as an input: ``-f DEMUXER`` when its first bytes
    name the container for certain, then ``-i PATH``."""
    try:
        demuxer = identify_file(path).demuxer
    except OSError:
        demuxer = None
    return [*(["-f", demuxer] if demuxer else []), "-i", os.fspath(path)]


# --------------------------------------------------------------------------- probing

_LAYOUTS = {
    "mono": 1, "stereo": 2, "downmix": 2, "2.1": 3, "3.0": 3, "3.0(back)": 3, "4.0": 4, "quad": 4,
    "quad(side)": 4, "3.1": 4, "5.0": 5, "5.0(side)": 5, "4.1": 5, "5.1": 6, "5.1(side)": 6, "6.0": 6,
    "6.0(front)": 6, "hexagonal": 6, "3.1.2": 6, "6.1": 7, "6.1(back)": 7, "6.1(front)": 7, "7.0": 7,
    "7.0(front)": 7, "7.1": 8, "7.1(wide)": 8, "7.1(wide-side)": 8, "5.1.2": 8, "octagonal": 8,
    "cube": 8, "5.1.4": 10, "7.1.2": 10, "7.1.4": 12, "7.2.3": 12, "9.1.4": 14, "hexadecagonal": 16,
    "22.2": 24,
}
_N_CHANNELS = re.compile(r"^(\d+) channels")
_STREAM = re.compile(r"^\s*Stream #0:\d+\S*: (Audio|Video): (.*)$", re.MULTILINE)
_AUDIO_LINE = re.compile(r"^(\w+).*?,\s*(\d+) Hz,\s*([^,]+)")
_DURATION = re.compile(r"Duration:\s*(\d+):(\d+):(\d+(?:\.\d+)?)")


@dataclass(frozen=True, slots=True)
class AudioStream:
    """A file's first audio stream: codec, sample rate, channel count and layout as ffmpeg
    names them (``mono``, ``stereo``, ``5.1``, …)."""

    codec: str
    sample_rate: int
    channels: int
    layout: str


@dataclass(frozen=True, slots=True)
class Probe:
    """What ffmpeg (with the demuxer :func:`identify_file` chose) finds in a file.

    ``duration`` in seconds: exact for WAV and FLAC (from their headers), otherwise ffmpeg's
    ``Duration:`` (to 10 ms) — ``None`` if unknown. ``audio`` is the first audio stream or
    ``None``; ``video`` says whether there is a video stream (an MP3's cover picture is not
    one). ``error`` is ffmpeg's last complaint when it could open no stream at all."""

    format: Format
    duration: Fraction | None
    audio: AudioStream | None
    video: bool
    error: str = ""


def _channels(layout: str) -> int:
    if layout in _LAYOUTS:
        return _LAYOUTS[layout]
    m = _N_CHANNELS.match(layout)
    return int(m.group(1)) if m else 2  # an unnamed layout: more than one channel


def _wav_header(path: Path) -> tuple[int, int, Fraction] | None:
    """``(channels, sample rate, duration)`` from a RIFF WAVE file's ``fmt `` and ``data``
    chunks (any sample format, WAVE_FORMAT_EXTENSIBLE included); ``None`` if it has none."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        if fh.read(12)[:4] != b"RIFF":
            return None
        fmt: tuple[int, int, int] | None = None  # channels, rate, block align
        pos = 12
        while pos + 8 <= size:
            fh.seek(pos)
            chunk = fh.read(8)
            cid, length = chunk[:4], struct.unpack("<I", chunk[4:8])[0]
            if cid == b"fmt ":
                body = fh.read(min(length, 40))
                if len(body) < 16:
                    return None
                _tag, channels, rate, _byte_rate, align = struct.unpack("<HHIIH", body[:14])
                fmt = (channels, rate, align)
            elif cid == b"data":
                if fmt is None or fmt[1] <= 0 or fmt[2] <= 0:
                    return None
                channels, rate, align = fmt
                length = min(length, size - pos - 8)  # a streamed header may claim more (or 2**32-1)
                return channels, rate, Fraction(length // align, rate)
            pos += 8 + length + (length & 1)
    return None


def _flac_header(path: Path) -> tuple[int, int, Fraction | None] | None:
    """``(channels, sample rate, duration)`` from a FLAC file's STREAMINFO block (the duration
    is ``None`` when the encoder did not know the total sample count)."""
    with open(path, "rb") as fh:
        head = fh.read(4 + 4 + 34)
    if len(head) < 42 or head[:4] != b"fLaC" or head[4] & 0x7F != 0:
        return None
    info = head[8:]
    bits = int.from_bytes(info[10:18], "big")  # rate 20, channels-1 3, bps-1 5, samples 36
    rate, channels, total = bits >> 44, ((bits >> 41) & 7) + 1, bits & ((1 << 36) - 1)
    if rate <= 0:
        return None
    return channels, rate, Fraction(total, rate) if total else None


def _listing(path: Path, args: list[str]) -> str:
    """ffmpeg's stream listing of ``path`` (``ffmpeg -i``, which always exits 1: no output)."""
    _, err, _ = run(args, repr(os.fspath(path)), loglevel="info", check=False, timeout=_PROBE_TIMEOUT)
    return err.decode("utf-8", "replace")


def probe(path: str | os.PathLike[str]) -> Probe:
    """What is in ``path``: its streams and duration. ``MediaError`` if it cannot be read
    (missing, unreadable, or ffmpeg cannot run); a file ffmpeg opens no stream of gives a
    :class:`Probe` with no audio and no video and ffmpeg's complaint in ``error``."""
    p = Path(path)
    try:
        fmt = identify_file(p)
    except OSError as exc:
        raise MediaError(f"cannot read {os.fspath(path)!r}: {exc.strerror or exc}") from None
    args = [*(["-f", fmt.demuxer] if fmt.demuxer else []), "-i", os.fspath(p)]
    text = _listing(p, args)
    audio: AudioStream | None = None
    video = False
    for kind, rest in _STREAM.findall(text):
        if kind == "Video":
            video = video or "(attached pic)" not in rest
        elif audio is None:
            m = _AUDIO_LINE.match(rest)
            if m is not None:
                layout = m.group(3).strip()
                audio = AudioStream(m.group(1), int(m.group(2)), _channels(layout), layout)
    seconds: Fraction | None = None
    m = _DURATION.search(text)
    if m is not None:
        h, mi, s = m.groups()
        seconds = int(h) * 3600 + int(mi) * 60 + Fraction(s)
    exact = None
    try:
        if fmt.demuxer == "wav":
            exact = _wav_header(p)
        elif fmt.demuxer == "flac":
            exact = _flac_header(p)
    except (OSError, struct.error):
        exact = None
    if exact is not None and audio is not None:
        if exact[2] is not None:
            seconds = exact[2]
        audio = AudioStream(audio.codec, exact[1], exact[0], audio.layout)
    error = ""
    if audio is None and not video:
        lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
        error = lines[-1] if lines else "ffmpeg found nothing"
    return Probe(fmt, seconds, audio, video, error)


def has_audio(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` has an audio stream ffmpeg can decode (a video with a soundtrack, a
    recording); ``False`` for a silent video, a missing file or something that is not media."""
    try:
        return probe(path).audio is not None
    except MediaError:
        return False


def audio_channels(path: str | os.PathLike[str]) -> int | None:
    """The first audio stream's channel count; ``None``: no audio stream."""
    found = probe(path).audio
    return found.channels if found is not None else None


def duration(path: str | os.PathLike[str]) -> Fraction | None:
    """How long a recording or a video lasts, in seconds; ``None`` if it is missing or unreadable.

    Exact for WAV (frames / rate) and FLAC (STREAMINFO); otherwise ffmpeg's ``Duration:`` (to
    10 ms), refined for a video without sound by decoding its frames (``count_frames_and_secs``)."""
    p = Path(path)
    if not p.is_file():
        return None
    try:
        found = probe(p)
    except MediaError:
        return None
    if found.video and found.audio is None and found.duration is not None:
        try:
            import imageio_ffmpeg

            frames, video_secs = imageio_ffmpeg.count_frames_and_secs(os.fspath(p))
            if frames > 0 and video_secs > 0:
                return Fraction(video_secs).limit_denominator(1_000_000)
        except (RuntimeError, OSError, ValueError):
            pass
    return found.duration


# --------------------------------------------------------------------------- decoding


def decode_audio(path: str | os.PathLike[str], *, rate: int = SAMPLE_RATE, channels: int | None = None) -> np.ndarray:
    """The first audio stream of ``path`` (a recording, or a video's soundtrack) as
    ``float32 (N, C)`` at ``rate`` Hz, within [-1, 1].

    ``channels`` ``None``: 1 for a mono source, 2 for anything else (more channels downmixed
    to stereo, each output channel kept within full scale). ``MediaError`` names the file when
    it cannot be read, has no audio stream (a silent video) or fails to decode."""
    p = Path(path)
    found = probe(p)
    name = repr(os.fspath(path))
    if found.audio is None:
        if found.video:
            raise MediaError(f"{name} has no audio stream: it is {found.format.description} with video only")
        why = f": {found.error}" if found.error else ""
        raise MediaError(f"{name} has no audio stream ffmpeg can read{why}")
    if channels is None:
        channels = 1 if found.audio.channels == 1 else 2
    args = [*(["-f", found.format.demuxer] if found.format.demuxer else []), "-i", os.fspath(p)]
    # rematrix_maxval=1: a surround downmix keeps each channel's level instead of summing past 1
    pcm, err, code = run([*args, "-map", "0:a:0", "-af", "aresample=rematrix_maxval=1.0", "-f", "f32le",
                          "-acodec", "pcm_f32le", "-ac", str(channels), "-ar", str(rate), "pipe:1"],
                         f"decoding {name}", output=True, check=False)
    if code != 0:
        lines = err.decode("utf-8", "replace").strip().splitlines()
        raise MediaError(f"ffmpeg cannot decode {name}: {lines[-1] if lines else 'exit code ' + str(code)}")
    import numpy as np

    data = np.frombuffer(pcm, dtype="<f4")
    data = data[: len(data) - len(data) % channels].reshape(-1, channels).astype(np.float32, copy=False)
    if data.size and float(np.abs(data).max()) > 1.0:  # float sources may exceed full scale
        data = np.clip(data, -1.0, 1.0)
    return data


def decode_video(path: str | os.PathLike[str], width: int, height: int, fps: Fraction,
                 frames: int) -> Iterator[np.ndarray]:
    """The first ``frames`` frames of a video, resampled to ``fps``, cover-fitted to
    ``width x height`` (Lanczos, centre crop), as ``uint8 (height, width, 3)``, one at a time
    (fewer if the video is shorter). ``MediaError`` if ffmpeg gives none."""
    import numpy as np

    fps = Fraction(fps).limit_denominator(100_000)  # a float 23.976… back to 24000/1001
    vf = (f"fps={fps.numerator}/{fps.denominator},"
          f"scale={width}:{height}:force_original_aspect_ratio=increase:flags=lanczos,"
          f"crop={width}:{height},setsar=1")
    size = width * height * 3
    with tempfile.TemporaryFile() as errors:  # a file, not a pipe: ffmpeg never blocks on it
        try:
            proc = start(["-i", os.fspath(path), "-an", "-sn", "-vf", vf, "-frames:v", str(frames),
                          "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"], stdout=subprocess.PIPE, stderr=errors)
        except OSError as exc:
            raise MediaError(f"cannot run ffmpeg: {exc}") from None
        assert proc.stdout is not None
        try:
            got = 0
            while got < frames:
                buf = proc.stdout.read(size)
                if len(buf) < size:
                    break
                yield np.frombuffer(buf, np.uint8).reshape(height, width, 3)
                got += 1
            code = proc.wait()
            if got == 0:
                errors.seek(0)
                err = errors.read().decode("utf-8", "replace").strip().splitlines()
                why = err[-1] if err else f"ffmpeg exit code {code}, no frames"
                raise MediaError(f"cannot decode the video {os.fspath(path)!r}: {why}")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
