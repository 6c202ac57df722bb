"""Media an editor can use, made from cache artifacts (an NLE cannot open ``.npy``).

Every picture is written **at the canvas size, already placed**: an editor drops it on a track
of a sequence of the film's frame size and it sits where nyeshc draws it, with no scaling or
positioning by hand.

* A backdrop (no box) is cover-fitted to the canvas, as the compositor frames it at zoom 1
  (the Ken Burns move travels as the timeline's own scale/position keyframes, see
  :mod:`nyeshc.export.otio`).
* A layer with a box (an inset still, a portrait) is cover-fitted into its box and pasted onto a
  transparent canvas; a caption, subtitle or credits block is pasted where the compositor
  places it (its position and row). A credits roll keeps its own size (its scroll is a position
  move the timeline carries).

Formats, chosen for what the editors read (Premiere, Resolve, Final Cut, Kdenlive, Shotcut)
and what the bundled ffmpeg (``imageio-ffmpeg``) encodes:

* stills: PNG, RGBA where the layer has alpha;
* opaque frame sequences (morphs, ``show`` videos): H.264 MP4 (yuv420p, CRF 18);
* frame sequences with alpha (portraits, boxed videos): **ProRes 4444** ``.mov``
  (``prores_ks``, profile 4444, ``yuva444p10le``): the alpha codec every one of those editors
  imports, and one the bundled ffmpeg encodes (PNG-in-MOV, the old choice, is not read by
  Premiere);
* audio: 32-bit float WAV at 48 kHz.

Files are named by the artifact's key and its placement, so the same picture is written once
and a second export into the same folder reuses what is already there.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import numpy as np

from nyeshc.media import start as start_ffmpeg
from nyeshc.render.encoder import write_wav
from nyeshc.render.segments import write_png
from nyeshc.world import publish

__all__ = ["MediaError", "Placement", "media_file", "matte_file", "load", "place", "text_origin"]


class MediaError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a layer's picture sits on a ``width x height`` canvas.

    ``mode``: ``fill`` (cover the canvas), ``box`` (cover ``box`` = x, y, w, h, transparent
    around it), ``text`` (a straight-alpha block at ``position``, stacked ``row``s up),
    ``native`` (as it is: a credits roll, whose scroll the timeline carries)."""

    width: int
    height: int
    mode: Literal["fill", "box", "text", "native"] = "fill"
    box: tuple[int, int, int, int] | None = None
    position: str = "bottom"
    row: int = 0

    def tag(self) -> str:
        """A short stable name for the placement (part of the file name)."""
        text = f"{self.width}x{self.height}:{self.mode}:{self.box}:{self.position}:{self.row}"
        return hashlib.sha256(text.encode()).hexdigest()[:8]


def load(cache: Any, key: str) -> np.ndarray:
    art = cache.get(key, verify=False)
    if art is None:
        raise MediaError(f"artifact {key[:12]}… is not in the cache {cache.root}")
    return art


def _cover_resize(img: np.ndarray, tw: int, th: int) -> np.ndarray:
    """``img`` cropped to the target's aspect around its centre and resized to ``tw x th``
    (bilinear), as the compositor fits a layer into its box."""
    from PIL import Image

    ih, iw = img.shape[:2]
    if (iw, ih) == (tw, th):
        return img
    aspect = tw / th
    if iw / ih > aspect:
        w, h = ih * aspect, float(ih)
    else:
        w, h = float(iw), iw / aspect
    x0, y0 = (iw - w) / 2, (ih - h) / 2
    pil = Image.fromarray(np.ascontiguousarray(img))
    return np.asarray(pil.resize((tw, th), Image.BILINEAR, box=(x0, y0, x0 + w, y0 + h)))


def _rgba(img: np.ndarray) -> np.ndarray:
    if img.shape[2] == 4:
        return img
    out = np.empty(img.shape[:2] + (4,), np.uint8)
    out[..., :3] = img
    out[..., 3] = 255
    return out


def _paste(img: np.ndarray, x: int, y: int, width: int, height: int) -> np.ndarray:
    """``img`` (RGBA) on a transparent ``width x height`` canvas at ``(x, y)``, clipped."""
    out = np.zeros((height, width, 4), np.uint8)
    h, w = img.shape[:2]
    x0, y0, x1, y1 = max(0, x), max(0, y), min(width, x + w), min(height, y + h)
    if x1 > x0 and y1 > y0:
        out[y0:y1, x0:x1] = img[y0 - y:y1 - y, x0 - x:x1 - x]
    return out


def text_origin(h: int, w: int, p: Placement) -> tuple[int, int]:
    """The top-left corner the compositor gives a ``w x h`` text block (its ``_TextState``,
    which places per frame and so has no function to share)."""
    from nyeshc.render.compositor import MARGIN

    mx, my = round(MARGIN * p.width), round(MARGIN * p.height)
    pos = p.position
    px = mx if pos == "left" else p.width - w - mx if pos == "right" else (p.width - w) // 2
    py = my if pos == "top" else p.height - h - my if pos == "bottom" else (p.height - h) // 2
    py -= p.row * (h + my // 2) if pos != "top" else -p.row * (h + my // 2)
    return px, py


def place(img: np.ndarray, p: Placement) -> np.ndarray:
    """One picture (``H x W x 3|4`` uint8) as the editor's layer: see :class:`Placement`."""
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    if p.mode == "native":
        return img
    if p.mode == "fill":
        return _cover_resize(img, p.width, p.height)
    if p.mode == "box":
        assert p.box is not None
        x, y, w, h = p.box
        return _paste(_rgba(_cover_resize(img, max(1, w), max(1, h))), x, y, p.width, p.height)
    rgba = _rgba(img)
    x, y = text_origin(rgba.shape[0], rgba.shape[1], p)
    return _paste(rgba, x, y, p.width, p.height)


def _rate(fps: Fraction) -> str:
    f = Fraction(fps).limit_denominator(1001 * 1000)
    return f"{f.numerator}/{f.denominator}"


def _codec(alpha: bool) -> list[str]:
    if alpha:  # ProRes 4444 keeps the alpha channel (10-bit 4:4:4:4)
        return ["-c:v", "prores_ks", "-profile:v", "4444", "-pix_fmt", "yuva444p10le",
                "-vendor", "apl0", "-alpha_bits", "16"]
    # H.264 4:2:0 needs even sizes: pad one pixel when odd
    return ["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", "libx264", "-preset", "veryfast",
            "-crf", "18", "-pix_fmt", "yuv420p", "-movflags", "+faststart"]


def _write_frames(path: Path, frames: Any, fps: Fraction, p: Placement) -> None:
    first = place(np.asarray(frames[0]), p)
    h, w, c = first.shape
    alpha = c == 4
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    cmd = ["-y", "-f", "rawvideo", "-pix_fmt", "rgba" if alpha else "rgb24", "-s", f"{w}x{h}",
           "-framerate", _rate(fps), "-i", "pipe:0", *_codec(alpha), str(tmp)]
    proc = start_ffmpeg(cmd, stdin=subprocess.PIPE)
    assert proc.stdin is not None
    try:
        try:
            for i in range(len(frames)):
                frame = first if i == 0 else place(np.asarray(frames[i]), p)
                proc.stdin.write(np.ascontiguousarray(frame).tobytes())
            proc.stdin.close()
        except BrokenPipeError:
            pass  # ffmpeg stopped early: its message follows
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


def matte_file(folder: Path, width: int, height: int, white: bool) -> Path:
    """A canvas-sized opaque black (or white) PNG: the matte a scene's ``FADE`` is drawn with
    (its opacity keyframes over the whole picture give the compositor's fade exactly)."""
    path = folder / f"matte-{'white' if white else 'black'}-{width}x{height}.png"
    if not path.exists():
        write_png(path, np.full((height, width, 3), 255 if white else 0, np.uint8))
    return path


def media_file(cache: Any, key: str, output: str, folder: Path, fps: Fraction,
               placement: Placement | None = None) -> Path:
    """The editor-readable file for artifact ``key`` (``output`` is the job's output type:
    ``image``, ``frames`` or ``audio``) placed by ``placement`` (pictures only; None keeps the
    artifact's own size), written into ``folder`` unless already there."""
    folder.mkdir(parents=True, exist_ok=True)
    p = placement or Placement(0, 0, "native")
    stem = key if p.mode == "native" else f"{key[:24]}-{p.tag()}"
    if output == "image":
        path = folder / f"{stem}.png"
        if not path.exists():
            write_png(path, place(load(cache, key), p))
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
        alpha = arr.shape[-1] == 4 or p.mode in ("box", "text")
        path = folder / f"{stem}.{'mov' if alpha else 'mp4'}"
        if not path.exists():
            _write_frames(path, arr, fps, p)
        return path
    raise MediaError(f"artifact {key[:12]}… is a {output!r}; only images, frames and audio are media")
