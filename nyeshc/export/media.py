"""Media an editor can read, made from cache artifacts (an NLE cannot open ``.npy``).

``image`` artifacts become PNG stills (RGBA kept for captions and portraits), ``frames``
artifacts become H.264 MP4 clips (opaque sequences) or PNG-in-QuickTime ``.mov`` clips
(sequences with alpha, e.g. animated portraits), ``audio`` artifacts become 32-bit float WAV.
Files are named by the artifact's key, so the same artifact is written once and a second
export into the same folder reuses what is already there.
"""

from __future__ import annotations

import os
import subprocess
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from nyeshc.render.encoder import ffmpeg_exe, write_wav
from nyeshc.render.segments import write_png
from nyeshc.world import publish

__all__ = ["MediaError", "media_file", "load"]


class MediaError(RuntimeError):
    pass


def load(cache: Any, key: str) -> np.ndarray:
    art = cache.get(key, verify=False)
    if art is None:
        raise MediaError(f"artifact {key[:12]}… is not in the cache {cache.root}")
    return art


def _rate(fps: Fraction) -> str:
    f = Fraction(fps).limit_denominator(1001 * 1000)
    return f"{f.numerator}/{f.denominator}"


def _write_frames(path: Path, frames: np.ndarray, fps: Fraction) -> None:
    n, h, w, c = frames.shape
    alpha = c == 4
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    pix_in = "rgba" if alpha else "rgb24"
    if alpha:
        codec = ["-c:v", "png"]
    else:  # H.264 4:2:0 needs even sizes: pad one pixel when odd
        codec = ["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", "libx264", "-preset", "veryfast",
                 "-crf", "18", "-pix_fmt", "yuv420p", "-movflags", "+faststart"]
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
           "-f", "rawvideo", "-pix_fmt", pix_in, "-s", f"{w}x{h}", "-framerate", _rate(fps), "-i", "pipe:0",
           *codec, str(tmp)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None
    try:
        for i in range(n):
            proc.stdin.write(np.ascontiguousarray(frames[i]).tobytes())
        proc.stdin.close()
        err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
        if proc.wait() != 0:
            raise MediaError(f"ffmpeg could not encode {path.name}: {err.strip()[-500:]}")
        publish(tmp, path)
    except BaseException:
        proc.kill()
        proc.wait()
        if tmp.exists():
            os.unlink(tmp)
        raise


def media_file(cache: Any, key: str, output: str, folder: Path, fps: Fraction) -> Path:
    """The editor-readable file for artifact ``key`` (``output`` is the job's output type:
    ``image``, ``frames`` or ``audio``), written into ``folder`` unless already there."""
    folder.mkdir(parents=True, exist_ok=True)
    if output == "image":
        path = folder / f"{key}.png"
        if not path.exists():
            write_png(path, load(cache, key))
        return path
    if output == "audio":
        path = folder / f"{key}.wav"
        if not path.exists():
            tmp = folder / f".{key}.partial.wav"
            write_wav(tmp, load(cache, key))
            publish(tmp, path)
        return path
    if output == "frames":
        arr = load(cache, key)
        path = folder / f"{key}.{'mov' if arr.shape[-1] == 4 else 'mp4'}"
        if not path.exists():
            _write_frames(path, arr, fps)
        return path
    raise MediaError(f"artifact {key[:12]}… is a {output!r}; only images, frames and audio are media")
