"""The procedural asemic-script backend: alphabets, transliteration, layout, the chart."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nyeshc.backends import registry
from nyeshc.backends.base import Alphabet, GlyphBackend
from nyeshc.backends.procedural.glyphs import LETTERS, StrokeGlyphs

INK = (200, 40, 30)


@pytest.fixture(scope="module")
def g() -> StrokeGlyphs:
    return StrokeGlyphs()


@pytest.fixture(scope="module")
def abc(g: StrokeGlyphs) -> Alphabet:
    return g.alphabet(seed=7, count=28, strokes=(1, 3))


def _cols(img: np.ndarray) -> np.ndarray:
    return img[..., 3].max(axis=0) > 0


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, length) of the runs of True in a 1-D mask."""
    out, start = [], None
    for i, v in enumerate(list(mask) + [False]):
        if v and start is None:
            start = i
        elif not v and start is not None:
            out.append((start, i - start))
            start = None
    return out


def test_protocol_and_registry(g: StrokeGlyphs) -> None:
    assert isinstance(g, GlyphBackend)
    assert (g.id, g.version, g.modality) == ("glyphs.procedural", "2", "glyphs")
    assert isinstance(registry.load("glyphs.procedural"), StrokeGlyphs)
    json.dumps(dict(g.settings))
    assert StrokeGlyphs(**g.settings).settings == g.settings


def test_alphabet_structure_and_determinism(g: StrokeGlyphs, abc: Alphabet) -> None:
    assert abc.seed == 7 and len(abc.strokes) == 28
    for glyph in abc.strokes:
        assert 1 <= len(glyph) <= 3
        for st in glyph:
            assert st.dtype == np.float32 and st.ndim == 2 and st.shape[1] == 3
            assert (len(st) - 1) % 3 == 0  # piecewise cubic Bézier
            assert st[:, :2].min() >= 0.0 and st[:, :2].max() <= 1.0
            assert (st[:, 2] > 0).all() and (st[:, 2] < 0.3).all()
    again = g.alphabet(seed=7, count=28, strokes=(1, 3))
    assert again.mapping == abc.mapping
    for a, b in zip(abc.strokes, again.strokes):
        assert all(x.tobytes() == y.tobytes() for x, y in zip(a, b))
    other = g.alphabet(seed=8, count=28, strokes=(1, 3))
    assert any(len(a) != len(b) or any(x.shape != y.shape or not np.allclose(x, y) for x, y in zip(a, b))
               for a, b in zip(abc.strokes, other.strokes))


def test_mapping_covers_letters_and_spreads(g: StrokeGlyphs, abc: Alphabet) -> None:
    assert set(abc.mapping) == set(LETTERS)
    assert set(abc.mapping.values()) == set(range(28))  # every glyph is used
    small = g.alphabet(seed=3, count=12, strokes=(2, 2))
    assert set(small.mapping.values()) == set(range(12))
    assert all(len(glyph) == 2 for glyph in small.strokes)
    big = g.alphabet(seed=3, count=40, strokes=(1, 2))
    assert len(set(big.mapping.values())) == len(LETTERS)  # no sharing when there is room


def test_render_text_basics(g: StrokeGlyphs, abc: Alphabet) -> None:
    img = g.render_text(abc, "Hello", height=32, ink=INK)
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 4 and img.shape[0] == 32
    assert img.tobytes() == g.render_text(abc, "Hello", height=32, ink=INK).tobytes()
    a = img[..., 3]
    assert (a == 255).any() and (a == 0).any()
    assert 0 < (a > 0).mean() < 0.6
    assert (img[a == 255][:, :3] == INK).all()  # ink where fully drawn
    assert len(np.unique(a)) > 8  # anti-aliased edges
    assert img.tobytes() == g.render_text(abc, "hELLO", height=32, ink=INK).tobytes()  # case


def test_same_letter_same_pixels_different_letters_differ(g: StrokeGlyphs, abc: Alphabet) -> None:
    ch1 = next(c for c in LETTERS if abc.mapping[c] != abc.mapping["a"])
    img = g.render_text(abc, f"a {ch1} a", height=40, ink=INK)
    runs = _runs(_cols(img))
    # word gaps are empty alpha columns at least a few pixels wide
    assert len(runs) >= 3
    pieces = []
    for start, length in (runs[0], runs[-1]):
        pieces.append(img[:, start:start + length, 3])
    assert pieces[0].shape == pieces[1].shape and (pieces[0] == pieces[1]).all()
    one = g.render_text(abc, "a", height=40, ink=INK)
    other = g.render_text(abc, ch1, height=40, ink=INK)
    assert one.shape != other.shape or (one != other).any()
    # accents fold to their base letter
    assert g.render_text(abc, "é", height=40, ink=INK).tobytes() == \
        g.render_text(abc, "e", height=40, ink=INK).tobytes()


def test_word_spacing_is_visible(g: StrokeGlyphs, abc: Alphabet) -> None:
    joined = g.render_text(abc, "abab", height=40, ink=INK)
    spaced = g.render_text(abc, "ab ab", height=40, ink=INK)
    assert spaced.shape[1] >= joined.shape[1] + int(0.3 * 40)
    gaps = [n for s, n in _runs(~_cols(spaced)) if 0 < s and s + n < spaced.shape[1]]
    assert max(gaps) >= int(0.3 * 40)


def test_line_breaks_and_wrapping(g: StrokeGlyphs, abc: Alphabet) -> None:
    one = g.render_text(abc, "the sea", height=30, ink=INK)
    two = g.render_text(abc, "the\nsea", height=30, ink=INK)
    assert one.shape[0] == 30 and two.shape[0] == 60
    text = "we walked to the cathedral at dusk and the sea remembered nothing"
    free = g.render_text(abc, text, height=24, ink=INK)
    wrapped = g.render_text(abc, text, height=24, ink=INK, max_width=200)
    assert free.shape[0] == 24 and free.shape[1] > 200
    assert wrapped.shape[1] <= 200 and wrapped.shape[0] >= 24 * 3
    assert wrapped.shape[0] % 24 == 0
    # no line is empty: each 24-px band holds ink
    for k in range(wrapped.shape[0] // 24):
        assert wrapped[k * 24:(k + 1) * 24, :, 3].any()


def test_punctuation_and_unknowns_are_consistent(g: StrokeGlyphs, abc: Alphabet) -> None:
    a = g.render_text(abc, "yes. no, ok!", height=30, ink=INK)
    b = g.render_text(abc, "yes. no, ok!", height=30, ink=INK)
    assert a.tobytes() == b.tobytes()
    assert g.render_text(abc, "yes.", height=30, ink=INK).shape[1] > \
        g.render_text(abc, "yes", height=30, ink=INK).shape[1]
    for s in ("ß", "ø", "Ω", "“x”"):
        out = g.render_text(abc, s, height=30, ink=INK)
        assert out.shape[0] == 30 and out[..., 3].any()


def test_chart(g: StrokeGlyphs, abc: Alphabet) -> None:
    paper, ink = (20, 18, 24), (239, 230, 210)
    c = g.chart(abc, cell=32, ink=ink, paper=paper)
    assert c.dtype == np.uint8 and c.ndim == 3 and c.shape[2] == 3
    assert (c[0, 0] == paper).all()
    assert (np.abs(c.astype(int) - ink).sum(-1) < 30).sum() > 200  # glyphs in ink
    assert c.tobytes() == g.chart(abc, cell=32, ink=ink, paper=paper).tobytes()
