"""End-to-end fixtures: the examples at a tiny canvas, rendered once per session, and decoding.

Everything goes through the real command line (``nyeshc.cli.main``) and is checked from the
files it writes: the MP4 is decoded with the ``ffmpeg`` binary of ``imageio-ffmpeg`` (frames as
``rgb24``, sound as 48 kHz stereo ``f32le``), the SRT is parsed, and expected times come from
``nyeshc plan --json`` of the same tiny script (or, for nyeshkerh, from LANGUAGE.md's arithmetic
done by hand in the tests).

One artifact cache is shared by the whole session, so each model job runs once however many
tests render the same tiny script.

The helpers below are imported by the test modules as ``e2e_support`` (this module registers
itself under that name: a ``conftest`` module cannot be imported by name reliably, as pytest
imports several of them).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import imageio_ffmpeg
import numpy as np
import pytest

from nyeshc.cli import main

sys.modules.setdefault("e2e_support", sys.modules[__name__])

REPO = Path(__file__).resolve().parents[2]
EXAMPLES_DIR = REPO / "examples"
EXAMPLES = sorted(EXAMPLES_DIR.glob("*.nysh"))

TINY_W, TINY_H, TINY_FPS = 128, 72, 12
SAMPLE_RATE = 48_000
_CANVAS = re.compile(r"^canvas:.*$", re.MULTILINE)


# --------------------------------------------------------------------------- scripts


def tiny_text(text: str, canvas: str = f"{TINY_W}x{TINY_H}, {TINY_FPS}fps") -> str:
    """``text`` with its ``canvas:`` header line replaced (or added) — nothing else changes."""
    line = f"canvas: {canvas}"
    new, n = _CANVAS.subn(line, text, count=1)
    return new if n else f"{line}\n{text}"


def write_tiny(src: Path, dest_dir: Path, name: str | None = None, *, edit: Any = None) -> Path:
    """Copy the script ``src`` into ``dest_dir`` at the tiny canvas; ``edit(text) -> text``
    changes it further (a variant)."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    text = tiny_text(src.read_text(encoding="utf-8"))
    if edit is not None:
        text = edit(text)
    out = dest_dir / (name or src.name)
    out.write_text(text, encoding="utf-8")
    return out


# --------------------------------------------------------------------------- the command line


def cli(*args: Any) -> int:
    """``nyeshc ARGS`` in this process; its exit code."""
    return int(main([str(a) for a in args]))


def cli_capture(*args: Any) -> tuple[int, str, str]:
    """``nyeshc ARGS`` in this process; (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli(*args)
    return rc, out.getvalue(), err.getvalue()


def plan_json(script: Path, *extra: Any) -> dict[str, Any]:
    """``nyeshc plan --json`` of ``script``, parsed."""
    rc, out, err = cli_capture("plan", script, "--json", *extra)
    assert rc == 0, err
    return json.loads(out)


@dataclass(frozen=True)
class TL:
    """The parts of a ``nyeshc plan --json`` timeline the tests use."""

    raw: dict[str, Any]

    @property
    def frames(self) -> int:
        return int(self.raw["frames"])

    @property
    def samples(self) -> int:
        return int(self.raw["samples"])

    @property
    def fps(self) -> Fraction:
        return Fraction(self.raw["fps"])

    @property
    def width(self) -> int:
        return int(self.raw["width"])

    @property
    def height(self) -> int:
        return int(self.raw["height"])

    @property
    def scenes(self) -> list[dict[str, Any]]:
        return list(self.raw["scenes"])

    @property
    def overlaps(self) -> list[dict[str, Any]]:
        return list(self.raw["overlaps"])

    @property
    def audio(self) -> list[dict[str, Any]]:
        return list(self.raw["audio"])

    @property
    def dialogue(self) -> list[dict[str, Any]]:
        return sorted((c for c in self.raw["audio"] if c["role"] == "dialogue"), key=lambda c: c["start"])

    @property
    def subtitles(self) -> list[dict[str, Any]]:
        return sorted(self.raw["subtitles"], key=lambda s: Fraction(s["start"]))


def timeline_of(script: Path, *extra: Any) -> TL:
    return TL(plan_json(script, *extra)["timeline"])


# --------------------------------------------------------------------------- decoding


def ffmpeg() -> str:
    return imageio_ffmpeg.get_ffmpeg_exe()


@dataclass(frozen=True)
class Streams:
    text: str
    video_codec: str
    pix_fmt: str
    width: int
    height: int
    fps: str
    audio_codec: str
    audio_rate: int
    audio_layout: str


def probe(path: Path) -> Streams:
    """The stream descriptions of ``ffmpeg -i PATH`` (its stderr), parsed."""
    text = subprocess.run([ffmpeg(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    v = re.search(r"Stream #\S+.*?: Video: (\w+).*?, (\w+)(?:\([^)]*\))?, (\d+)x(\d+).*?, ([\d.]+) fps", text)
    a = re.search(r"Stream #\S+.*?: Audio: (\w+).*?, (\d+) Hz, ([\w.() ]+?),", text)
    assert v is not None, f"no video stream in {path}:\n{text}"
    assert a is not None, f"no audio stream in {path}:\n{text}"
    return Streams(text, v.group(1), v.group(2), int(v.group(3)), int(v.group(4)), v.group(5),
                   a.group(1), int(a.group(2)), a.group(3))


def decode_video(path: Path, width: int, height: int) -> np.ndarray:
    """Every frame as stored (no frame-rate conversion): ``uint8 (N, H, W, 3)``."""
    raw = subprocess.run([ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(path),
                          "-map", "0:v:0", "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True).stdout
    size = width * height * 3
    assert len(raw) % size == 0, f"{len(raw)} bytes is not a whole number of {width}x{height} frames"
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)


def decode_audio(path: Path) -> np.ndarray:
    """The sound as ``float32 (N, 2)`` at 48 kHz."""
    raw = subprocess.run([ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(path),
                          "-map", "0:a:0", "-f", "f32le", "-ac", "2", "-ar", str(SAMPLE_RATE), "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, "<f4").reshape(-1, 2)


def read_png(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


@dataclass(frozen=True)
class Cue:
    start_ms: int
    end_ms: int
    text: str


_SRT_TIME = re.compile(r"(\d+):(\d\d):(\d\d),(\d\d\d) --> (\d+):(\d\d):(\d\d),(\d\d\d)")


def parse_srt(path: Path) -> list[Cue]:
    cues: list[Cue] = []
    text = path.read_text(encoding="utf-8").replace("\r\n", "\n").strip()
    if not text:
        return cues
    for block in re.split(r"\n\s*\n", text):
        lines = block.strip().splitlines()
        assert lines[0].strip().isdigit(), f"cue without a number: {block!r}"
        m = _SRT_TIME.fullmatch(lines[1].strip())
        assert m, f"bad cue times: {lines[1]!r}"
        g = [int(x) for x in m.groups()]
        start = ((g[0] * 60 + g[1]) * 60 + g[2]) * 1000 + g[3]
        end = ((g[4] * 60 + g[5]) * 60 + g[6]) * 1000 + g[7]
        cues.append(Cue(start, end, "\n".join(lines[2:])))
    return cues


def ms(seconds: Fraction | str) -> int:
    """Seconds to the nearest millisecond, half up (as SRT cues are written)."""
    return int(Fraction(seconds) * 1000 + Fraction(1, 2))


def sha256(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def silent_wav(seconds: float = 1.0, rate: int = SAMPLE_RATE) -> bytes:
    """A mono 16-bit WAV of digital silence."""
    import wave

    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\0\0" * int(seconds * rate))
    return buf.getvalue()


def rms_db(x: np.ndarray) -> float:
    r = float(np.sqrt(np.mean(np.square(x.astype(np.float64)))))
    return -np.inf if r == 0 else 20.0 * np.log10(r)


# --------------------------------------------------------------------------- session renders


@dataclass
class Film:
    """A rendered tiny script: the files and its plan's timeline, decoded lazily."""

    script: Path
    out: Path
    timeline: TL
    _frames: np.ndarray | None = field(default=None, repr=False)
    _audio: np.ndarray | None = field(default=None, repr=False)

    @property
    def srt(self) -> Path:
        return self.out.with_suffix(".srt")

    @property
    def frames(self) -> np.ndarray:
        if self._frames is None:
            self._frames = decode_video(self.out, self.timeline.width, self.timeline.height)
        return self._frames

    @property
    def audio(self) -> np.ndarray:
        if self._audio is None:
            self._audio = decode_audio(self.out)
        return self._audio


@pytest.fixture(scope="session")
def e2e_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="session")
def shared_cache(e2e_dir: Path) -> Path:
    """One artifact cache for the session's renders of the same tiny scripts."""
    return e2e_dir / "cache"


@pytest.fixture(scope="session")
def render(e2e_dir: Path, shared_cache: Path) -> Iterator[Any]:
    """``render(name, edit=None, variant="", assets=None)`` renders ``examples/<name>`` at the tiny canvas
    (once per session and variant) and returns a :class:`Film`."""
    films: dict[tuple[str, str], Film] = {}

    def _render(name: str, *, edit: Any = None, variant: str = "", assets: dict[str, bytes] | None = None,
                extra: tuple[str, ...] = ()) -> Film:
        if (name, variant) in films:
            return films[(name, variant)]
        src = EXAMPLES_DIR / name
        folder = e2e_dir / "films" / (Path(name).stem + (f"-{variant}" if variant else ""))
        script = write_tiny(src, folder, edit=edit)
        for asset, data in (assets or {}).items():
            (folder / asset).write_bytes(data)
        out = folder / "out" / (script.stem + ".mp4")
        rc, _, err = cli_capture(script, "-o", out, "-q", "--cache", shared_cache, *extra)
        assert rc == 0, f"nyeshc {script.name} exited {rc}:\n{err}"
        film = Film(script, out, timeline_of(script))
        films[(name, variant)] = film
        return film

    yield _render


@pytest.fixture(scope="session")
def tiny_nyeshkerh(e2e_dir: Path) -> Path:
    """The tiny nyeshkerh script in its own folder (for commands that need no render)."""
    return write_tiny(EXAMPLES_DIR / "nyeshkerh.nysh", e2e_dir / "tiny")
