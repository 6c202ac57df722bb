"""Plain type: captions, subtitles and credits without an invented alphabet.

Text is set in Source Serif Pro (SIL Open Font License), shipped by the PyPI package
``font-source-serif-pro``; when that package is missing, Pillow's bundled scalable default font
(``ImageFont.load_default(size=...)``, Pillow >= 10.1) stands in. Never a system font path: a
film must render the same on every machine.

The result is a straight-alpha RGBA block (``uint8 (h, w, 4)``): each line centred on its ink, word-wrapped
at ``max_width``, anti-aliased, with a soft dark shadow around the glyphs so light type stays
legible over a bright backdrop. The block carries a margin for the shadow; the compositor places
the block, not the ink.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

__all__ = ["render_text", "font"]

_FONT_PACKAGE = "font_source_serif_pro"
_FONT_FILE = "SourceSerifPro-Regular.ttf"
_LEADING = 1.25  # line pitch, in units of the text height
_SHADOW_ALPHA = 0.75  # opacity of the shadow's core


@functools.lru_cache(maxsize=32)
def font(size: int) -> Any:
    """The bundled font at ``size`` pixels (em), or Pillow's default scalable font."""
    size = max(1, int(size))
    try:
        ref = resources.files(_FONT_PACKAGE) / "files" / _FONT_FILE
        with resources.as_file(ref) as path:
            return ImageFont.truetype(str(path), size)
    except (ModuleNotFoundError, FileNotFoundError, OSError):
        return ImageFont.load_default(size=size)


def _wrap(text: str, fnt: Any, max_width: int | None) -> list[str]:
    """Greedy word wrap of each line (explicit line breaks are kept)."""
    lines: list[str] = []
    for raw in text.split("\n"):
        words = raw.split()
        if not words:
            lines.append("")
            continue
        if max_width is None:
            lines.append(" ".join(words))
            continue
        cur = words[0]
        for word in words[1:]:
            trial = f"{cur} {word}"
            if fnt.getlength(trial) <= max_width:
                cur = trial
            else:
                lines.append(cur)
                cur = word
        lines.append(cur)
    return lines


def render_text(text: str, height: int, colour: tuple[int, int, int] = (255, 255, 255),
                max_width: int | None = None) -> np.ndarray:
    """``text`` set in plain type as straight-alpha RGBA ``uint8 (h, w, 4)``.

    ``height`` is the type size in pixels (the em; a line is ``1.25 * height`` apart);
    ``max_width`` (pixels) wraps words onto further lines; explicit ``\\n`` breaks are kept and
    every line is centred. A blurred dark halo under the glyphs keeps them readable on any
    backdrop. An empty text gives a fully transparent 1-line block.
    """
    height = max(4, int(height))
    fnt = font(height)
    lines = _wrap(text, fnt, max_width)
    pitch = int(round(height * _LEADING))
    pad = max(2, height // 4)  # room for the shadow's blur
    ascent, descent = fnt.getmetrics()
    # each line is set alone and centred on its ink (a glyph's side bearings would otherwise
    # shift it by a pixel or more), so every line's ink is centred to half a pixel
    inks: list[tuple[Image.Image, int] | None] = []
    for line in lines:
        m = height
        img = Image.new("L", (int(np.ceil(fnt.getlength(line))) + 2 * m, ascent + descent + 2 * m), 0)
        ImageDraw.Draw(img).text((m, m), line, font=fnt, fill=255)
        box = img.getbbox()
        inks.append(None if box is None else (img.crop(box), box[1] - m))
    w = max([1, *(ink[0].width for ink in inks if ink is not None)]) + 2 * pad
    h = pitch * (len(lines) - 1) + ascent + descent + 2 * pad

    mask = Image.new("L", (w, h), 0)
    for i, ink in enumerate(inks):
        if ink is not None:
            glyphs, top = ink
            mask.paste(glyphs, ((w - glyphs.width) // 2, pad + i * pitch + top))
    ink = np.asarray(mask, dtype=np.float32) / 255.0

    # The shadow: the ink dilated a little and blurred, offset down-right by a hair.
    radius = max(1.0, height / 14.0)
    grown = mask.filter(ImageFilter.MaxFilter(3 if height < 40 else 5))
    halo = np.asarray(grown.filter(ImageFilter.GaussianBlur(radius)), dtype=np.float32) / 255.0
    shift = max(1, height // 28)
    halo = np.roll(halo, (shift, shift), axis=(0, 1))
    halo = np.clip(halo * 1.6, 0.0, 1.0) * _SHADOW_ALPHA

    # "ink over halo" with straight alpha.
    alpha = ink + halo * (1.0 - ink)
    rgb = np.asarray(colour, dtype=np.float32)[None, None, :] * ink[..., None]  # halo is black
    safe = np.where(alpha > 0, alpha, 1.0)[..., None]
    out = np.empty((h, w, 4), dtype=np.uint8)
    out[..., :3] = np.clip(rgb / safe + 0.5, 0, 255).astype(np.uint8)
    out[..., 3] = np.clip(alpha * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return out
