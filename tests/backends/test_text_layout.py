"""Credits and multi-line captions are centred line by line (issue #18), in plain type and in
an invented alphabet: each line's ink is centred in its block to within a pixel."""

from __future__ import annotations

import numpy as np
import pytest

from nyeshc.backends.plaintext import render_text
from nyeshc.backends.procedural.glyphs import StrokeGlyphs

CREDITS = "NYESHKERH\nwritten and directed by\nA. Nobody\nJ\nmusic by the procedural ensemble\nThe End."


def _line_offsets(alpha: np.ndarray, pitch: int | None = None) -> list[float]:
    """For each line (a band of rows with ink, or each ``pitch`` rows), its ink's centre minus
    the block's centre."""
    ink = alpha > 0
    if pitch is not None:
        bands = [(a, a + pitch - 1) for a in range(0, alpha.shape[0], pitch)]
    else:
        rows = np.flatnonzero(ink.any(axis=1))
        bands, start, prev = [], rows[0], rows[0]
        for r in rows[1:]:
            if r > prev + 1:
                bands.append((start, prev))
                start = r
            prev = r
        bands.append((start, prev))
    out = []
    for a, b in bands:
        cols = np.flatnonzero(ink[a:b + 1].any(axis=0))
        out.append((cols[0] + cols[-1] + 1) / 2 - alpha.shape[1] / 2)
    return out


@pytest.mark.parametrize("height", [14, 24, 48])
def test_plain_lines_are_centred(height: int) -> None:
    img = render_text(CREDITS, height)
    # the ink itself (not its shadow): white glyphs over a black halo
    offsets = _line_offsets(np.where(img[..., :3].max(axis=-1) > 0, img[..., 3], 0))
    assert len(offsets) == CREDITS.count("\n") + 1
    assert max(abs(o) for o in offsets) <= 1.0, offsets
    wrapped = render_text("a caption long enough to be wrapped over several lines of plain type", height,
                          max_width=8 * height)
    offsets = _line_offsets(np.where(wrapped[..., :3].max(axis=-1) > 0, wrapped[..., 3], 0))
    assert len(offsets) >= 3 and max(abs(o) for o in offsets) <= 1.0, offsets


@pytest.mark.parametrize("height", [16, 28])
def test_asemic_lines_are_centred(height: int) -> None:
    g = StrokeGlyphs()
    abc = g.alphabet(seed=7, count=24, strokes=(1, 3))
    img = g.render_text(abc, CREDITS, height=height, ink=(240, 230, 210))
    offsets = _line_offsets(img[..., 3], height)  # a line every `height` rows
    assert len(offsets) == CREDITS.count("\n") + 1
    assert max(abs(o) for o in offsets) <= 1.0, offsets
    wrapped = g.render_text(abc, "a caption long enough to be wrapped over several lines of glyphs",
                            height=height, ink=(240, 230, 210), max_width=10 * height)
    offsets = _line_offsets(wrapped[..., 3], height)
    assert len(offsets) >= 3 and max(abs(o) for o in offsets) <= 1.0, offsets
    assert wrapped.shape[1] <= 10 * height
