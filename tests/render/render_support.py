"""Helpers for the render tests: tiny timelines over synthetic artifacts, and decoding."""

from __future__ import annotations

import hashlib
import re
import subprocess
from fractions import Fraction
from pathlib import Path
from typing import Any

import imageio_ffmpeg
import numpy as np

from nyeshc.plan.model import AudioClip, Overlap, SceneTrack, Subtitle, Timeline
from nyeshc.store.cache import Cache

W, H, FPS, SR = 96, 54, Fraction(12), 48_000

RED, BLUE, GREEN = (200, 30, 30), (30, 30, 200), (30, 200, 30)


def key(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def solid(colour: tuple[int, int, int], w: int = W, h: int = H, alpha: int | None = None) -> np.ndarray:
    img = np.empty((h, w, 3 if alpha is None else 4), np.uint8)
    img[..., :3] = colour
    if alpha is not None:
        img[..., 3] = alpha
    return img


def put(cache: Cache, name: str, art: np.ndarray) -> str:
    k = key(name)
    cache.put(k, art)
    return k


def timeline(scenes: list[SceneTrack], frames: int, *, overlaps: tuple[Overlap, ...] = (),
             audio: tuple[AudioClip, ...] = (), subtitles: tuple[Subtitle, ...] = (),
             w: int = W, h: int = H) -> Timeline:
    return Timeline(width=w, height=h, fps=FPS, frames=frames, sample_rate=SR,
                    samples=round(Fraction(frames) * SR / FPS), scenes=tuple(scenes), overlaps=overlaps,
                    audio=audio, subtitles=subtitles)


def sine(seconds: float, freq: float = 440.0, amp: float = 0.3, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    x = (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.repeat(x[:, None], channels, axis=1)


def decode(path: Path) -> tuple[list[np.ndarray], dict[str, Any]]:
    gen = imageio_ffmpeg.read_frames(str(path))
    meta = next(gen)
    w, h = meta["size"]
    return [np.frombuffer(b, np.uint8).reshape(h, w, 3) for b in gen], meta


def probe(path: Path) -> str:
    """``ffmpeg -i`` output (stream descriptions)."""
    return subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)],
                          capture_output=True, text=True).stderr


def video_pts(path: Path) -> list[int]:
    """Presentation timestamps of every video frame as stored (no frame-rate conversion)."""
    out = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i", str(path),
                          "-map", "0:v:0", "-fps_mode", "passthrough", "-f", "framemd5", "-"],
                         capture_output=True, text=True, check=True).stdout
    return [int(line.split(",")[1]) for line in out.splitlines() if line and not line.startswith("#")]


def streams(path: Path) -> tuple[str, str]:
    text = probe(path)
    video = re.search(r"Video: (\w+)", text)
    audio = re.search(r"Audio: (\w+).*?(\d+) Hz", text)
    return (video.group(1) if video else "", f"{audio.group(1)} {audio.group(2)}" if audio else "")


def near(pixel: np.ndarray, colour: tuple[int, int, int], tol: int = 12) -> bool:
    return bool(np.all(np.abs(pixel.astype(int) - np.asarray(colour)) <= tol))
