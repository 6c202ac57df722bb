"""The procedural glyph backend: asemic scripts drawn with a pen.

An alphabet is generated from a seed in two stages, the way a real script has a *ductus*:

1. a **stroke vocabulary** of 8-12 primitive pen strokes (bars, arcs, hooks, loops, waves,
   bowls, angular ticks, dots), each a piecewise cubic Bézier with a pressure profile, plus
   script-wide traits: a pen width, a slant, a preferred orientation set and a broad-nib angle;
2. **glyphs**, each ``strokes[0]..strokes[1]`` vocabulary strokes with small per-glyph
   transforms (scale, a quarter-turn or mirror where the script allows, jitter), chained so
   strokes start where earlier ones end or cross, then fitted to the em square on a shared
   x-height with occasional ascenders and descenders. Near-duplicate glyphs are redrawn.

Every glyph reuses the same few strokes at the same pen width and slant, so the set reads as
one script. Letters map to glyphs through a seeded permutation; text is transliterated letter
by letter and set with word gaps, line breaks and greedy word wrapping. Rendering samples the
Béziers, modulates the width by the nib angle (thick downstrokes, thin hairlines), stamps
discs and quads at ``supersample``× and box-downsamples for anti-aliasing.
"""

from __future__ import annotations

import unicodedata
import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from nyeshc.backends.base import Alphabet, CostModel

__all__ = ["StrokeGlyphs", "LETTERS"]

LETTERS = "abcdefghijklmnopqrstuvwxyz0123456789"
"""The characters every alphabet maps (lower-case Latin letters and digits)."""

_SENTENCE = set(".!?…。")
_CLAUSE = set(",;:、")
_DASH = set("-–—‐")
_GLYPH_TOP = 0.08  # em: where the ascender zone starts (y down)
_X_TOP, _BASE = 0.27, 0.80  # em: the x-height band
_DESC = 0.94


def _rng(seed: int, tag: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed) % (1 << 63), tag]))


def _rot(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s], [s, c]])


def _arc(cx: float, cy: float, r: float, a0: float, a1: float, segs: int) -> np.ndarray:
    """Cubic Bézier control points (3*segs+1, 2) approximating a circular arc."""
    pts = []
    step = (a1 - a0) / segs
    k = 4.0 / 3.0 * np.tan(step / 4.0)
    for i in range(segs):
        t0, t1 = a0 + i * step, a0 + (i + 1) * step
        p0 = np.array([cx + r * np.cos(t0), cy + r * np.sin(t0)])
        p3 = np.array([cx + r * np.cos(t1), cy + r * np.sin(t1)])
        d0 = np.array([-np.sin(t0), np.cos(t0)]) * r * k
        d1 = np.array([-np.sin(t1), np.cos(t1)]) * r * k
        if i == 0:
            pts.append(p0)
        pts += [p0 + d0, p3 - d1, p3]
    return np.array(pts)


def _line(p0: Any, p1: Any, bow: float = 0.0) -> np.ndarray:
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    d = p1 - p0
    n = np.array([-d[1], d[0]])
    return np.array([p0, p0 + d / 3 + bow * n, p0 + 2 * d / 3 + bow * n, p1])


def _join(*parts: np.ndarray) -> np.ndarray:
    out = [parts[0]]
    for p in parts[1:]:
        out.append(p[1:] + (out[-1][-1] - p[0]))
    return np.concatenate(out)


def _primitive(kind: str, rng: np.random.Generator) -> np.ndarray:
    """A stroke shape in local coordinates, roughly inside [-0.5, 0.5]^2."""
    u = rng.uniform
    if kind == "bar":
        return _line((0, -0.5), (0, 0.5), u(-0.12, 0.12))
    if kind == "arc":
        span = u(0.55, 0.85) * 2 * np.pi
        a0 = u(0, 2 * np.pi)
        return _arc(0, 0, u(0.32, 0.45), a0, a0 + span, 2)
    if kind == "bowl":
        return _arc(0, -0.15, u(0.3, 0.42), 0.0, np.pi, 2) * np.array([1.0, u(1.0, 1.5)])
    if kind == "hook":
        r = u(0.14, 0.22)
        stem = _line((0, -0.5), (0, 0.5 - r), u(-0.05, 0.05))
        curl = _arc(-r, 0.5 - r, r, 0.0, u(0.7, 1.0) * np.pi, 1)
        return _join(stem, curl)
    if kind == "loop":
        w = u(0.25, 0.4)
        return np.array([(-0.1, 0.5), (0.45, 0.1), (w, -0.5), (0.0, -0.5),
                         (-w, -0.5), (-0.45, 0.1), (0.1, 0.5)])
    if kind == "wave":
        b = u(0.15, 0.3)
        return _join(_line((-0.5, 0), (0, 0), b), _line((0, 0), (0.5, 0), -b))
    if kind == "tick":
        a = u(0.3, 0.7)
        return _join(_line((-0.35, -0.5), (0, 0.5), 0.0), _line((0, 0.5), (0.35, 0.5 - a * 1.6), 0.0))
    if kind == "dot":
        return _line((0, 0), (0.06, 0.04), 0.0)
    if kind == "zig":
        return _join(_line((-0.5, -0.2), (-0.1, 0.25), 0.05), _line((-0.1, 0.25), (0.15, -0.25), 0.05),
                     _line((0.15, -0.25), (0.5, 0.2), 0.05))
    raise ValueError(kind)


_KINDS = ("bar", "arc", "bowl", "hook", "loop", "wave", "tick", "dot", "zig")


def _bezier_points(cp: np.ndarray, n_per_seg: int) -> np.ndarray:
    """Sample a piecewise cubic Bézier ``(3m+1, C)`` -> ``(m*n+1, C)``."""
    m = (len(cp) - 1) // 3
    if m < 1:
        return cp.copy()
    t = np.linspace(0.0, 1.0, n_per_seg, endpoint=False)[:, None]
    b = np.concatenate([(1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t ** 2, t ** 3], axis=1)
    out = [b @ cp[3 * i:3 * i + 4] for i in range(m)]
    out.append(cp[-1:])
    return np.concatenate(out)


def _normalize_text(text: str) -> str:
    out = []
    for ch in unicodedata.normalize("NFKD", text):
        if unicodedata.combining(ch):
            continue
        out.append(ch)
    return "".join(out).lower()


class StrokeGlyphs:
    """Asemic alphabets from a seeded stroke vocabulary; text set in them."""

    id = "glyphs.procedural"
    version = "2"  # 2: each line of a text is centred on its ink (was: left-aligned)
    modality = "glyphs"
    # measured: an alphabet ~0.2 s, a wrapped paragraph ~30 ms, a chart ~75 ms
    cost = CostModel(device="cpu", per_call=0.25, per_frame=0.0)

    def __init__(self, *, supersample: int = 4, pen: float = 1.0, tracking: float = 0.10,
                 word_gap: float = 0.42) -> None:
        """``supersample``: anti-aliasing factor; ``pen``: pen-width multiplier; ``tracking``
        and ``word_gap``: space after each glyph and for a word gap, in em."""
        if not 1 <= int(supersample) <= 8:
            raise ValueError("supersample must be 1..8")
        self.supersample = int(supersample)
        self.pen = float(pen)
        self.tracking = float(tracking)
        self.word_gap = float(word_gap)

    @property
    def settings(self) -> Mapping[str, Any]:
        return {"supersample": self.supersample, "pen": self.pen, "tracking": self.tracking,
                "word_gap": self.word_gap}

    # ------------------------------------------------------------------ alphabets

    def alphabet(self, *, seed: int, count: int, strokes: tuple[int, int] = (1, 3)) -> Alphabet:
        lo, hi = int(strokes[0]), int(strokes[1])
        if count < 1 or lo < 1 or hi < lo:
            raise ValueError("alphabet needs count >= 1 and 1 <= strokes[0] <= strokes[1]")
        rng = _rng(seed, 0x676C)
        # script-wide traits
        pen_w = rng.uniform(0.07, 0.1)
        slant = rng.uniform(-0.08, 0.28)
        quarter = rng.random() < 0.45  # may strokes turn by quarter turns?
        base_rot = rng.uniform(-0.35, 0.35)
        taper = rng.uniform(0.25, 0.7)
        n_vocab = int(rng.integers(8, 13))
        must = ["bar", "arc"]
        others = [k for k in _KINDS if k not in must]
        kinds = must + list(rng.choice(others, size=n_vocab - 2, replace=True))
        vocab = []
        for kind in kinds:
            shape = _primitive(str(kind), rng)
            k = len(shape)
            s = np.linspace(0.0, 1.0, k)
            # pressure: swell in the middle, taper at entry and exit
            prof = 1.0 - taper * (np.abs(2 * s - 1) ** 2) + rng.uniform(-0.12, 0.12, k)
            if kind == "dot":
                prof = np.full(k, 1.8)
            vocab.append((str(kind), shape, np.clip(prof, 0.3, 2.0) * pen_w,
                          rng.uniform(0.55, 0.9), rng.uniform(-0.5, 0.5)))
        weights = rng.dirichlet(np.full(n_vocab, 3.0))
        weights = np.where(np.array(kinds) == "dot", weights * 0.4, weights)
        weights = weights / weights.sum()  # some strokes are the script's favourites

        glyphs: list[tuple[np.ndarray, ...]] = []
        clouds: list[np.ndarray] = []
        for _ in range(count):
            best = None
            for attempt in range(24):
                g = self._compose(rng, vocab, weights, lo, hi, slant, quarter, base_rot)
                cloud = np.concatenate([_bezier_points(st[:, :2].astype(np.float64), 8) for st in g])
                dmin = min((self._chamfer(cloud, c) for c in clouds), default=1.0)
                if best is None or dmin > best[0]:
                    best = (dmin, g, cloud)
                if dmin > 0.075:
                    break
            glyphs.append(best[1])
            clouds.append(best[2])
        order = rng.permutation(len(LETTERS))
        perm = rng.permutation(count)
        mapping = {LETTERS[j]: int(perm[i % count]) for i, j in enumerate(order)}
        return Alphabet(seed=int(seed), strokes=tuple(glyphs), mapping=mapping)

    @staticmethod
    def _chamfer(a: np.ndarray, b: np.ndarray) -> float:
        d = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))
        return float(0.5 * (d.min(1).mean() + d.min(0).mean()))

    @staticmethod
    def _compose(rng: np.random.Generator, vocab: list, weights: np.ndarray, lo: int, hi: int,
                 slant: float, quarter: bool, base_rot: float) -> tuple[np.ndarray, ...]:
        n = int(rng.integers(lo, hi + 1))
        placed: list[tuple[np.ndarray, np.ndarray]] = []
        for j in range(n):
            kind, shape, widths, size, rot0 = vocab[int(rng.choice(len(vocab), p=weights))]
            while kind == "dot" and j == 0:  # a glyph never starts with a bare dot
                kind, shape, widths, size, rot0 = vocab[int(rng.choice(len(vocab), p=weights))]
            a = base_rot + rot0 + rng.normal(0, 0.12)
            if quarter:
                a += float(rng.integers(0, 4)) * np.pi / 2
            elif rng.random() < 0.3:
                a += np.pi
            pts = shape * size * rng.uniform(0.8, 1.15)
            if rng.random() < 0.3:
                pts = pts * np.array([-1.0, 1.0])
            pts = pts @ _rot(a).T
            if not placed:
                pts = pts + rng.uniform(-0.08, 0.08, 2)
            else:
                prev = placed[int(rng.integers(0, len(placed)))][0]
                m = (len(prev) - 1) // 3
                choice = rng.random()
                if choice < 0.4:
                    anchor = prev[-1]
                elif choice < 0.65:
                    anchor = prev[0]
                else:
                    anchor = prev[3 * int(rng.integers(0, m + 1))] if m else prev[0]
                own = pts[0] if rng.random() < 0.65 else pts[-1]
                if kind == "dot":
                    own = pts[0] - rng.uniform(-0.35, 0.35, 2) - np.array([0.0, 0.3])
                pts = pts + (anchor - own)
            placed.append((pts, widths))
        allp = np.concatenate([p for p, _ in placed])
        x0, y0 = allp.min(0)
        x1, y1 = allp.max(0)
        zone = rng.random()
        if zone < 0.16:
            top, bot = _GLYPH_TOP, _BASE
        elif zone < 0.28:
            top, bot = _X_TOP, _DESC
        else:
            top, bot = _X_TOP, _BASE
        hgt = bot - top
        sc = min(hgt / max(y1 - y0, 1e-3), 0.78 / max(x1 - x0, 1e-3))
        sc = min(sc, 1.6)
        out = []
        for pts, widths in placed:
            q = (pts - np.array([x0, y0])) * sc
            q[:, 1] += top + (hgt - (y1 - y0) * sc) / 2
            q[:, 0] += slant * (_BASE - q[:, 1])
            out.append((q, widths))
        xmin = min(q[:, 0].min() for q, _ in out)
        glyph = []
        for q, widths in out:
            q[:, 0] += 0.10 - xmin
            arr = np.concatenate([q, widths[:, None]], axis=1)
            arr[:, :2] = np.clip(arr[:, :2], 0.0, 1.0)
            glyph.append(arr.astype(np.float32))
        return tuple(glyph)

    # ------------------------------------------------------------------ drawing

    @staticmethod
    def _nib(seed: int) -> tuple[float, float]:
        r = _rng(seed, 0x6E6962)
        return float(r.uniform(0.55, 1.05)), float(r.uniform(0.35, 0.7))  # angle, contrast

    def draw_glyph(self, glyph: tuple[np.ndarray, ...], em: float, nib: tuple[float, float]) -> np.ndarray:
        """Alpha tile ``uint8 (h, w)`` for a glyph at ``em`` px per em; origin at the tile's
        top-left = the em square's top-left."""
        ss = self.supersample
        xmax = max(float(st[:, 0].max() + st[:, 2].max()) for st in glyph) if glyph else 0.0
        w_px = max(1, int(np.ceil((xmax + 0.04) * em)))
        h_px = max(1, int(np.ceil(em)))
        img = Image.new("L", (w_px * ss, h_px * ss), 0)
        draw = ImageDraw.Draw(img)
        scale = em * ss
        nib_a, contrast = nib
        nd = np.array([np.cos(nib_a), np.sin(nib_a)])
        for st in glyph:
            cp = st.astype(np.float64)
            polylen = float(np.sqrt((np.diff(cp[:, :2], axis=0) ** 2).sum(1)).sum()) * scale
            m = max(1, (len(cp) - 1) // 3)
            per = int(np.clip(polylen / m / 1.5, 6, 200))
            s = _bezier_points(cp, per)
            xy = s[:, :2] * scale
            d = np.gradient(xy, axis=0)
            dl = np.sqrt((d * d).sum(1)) + 1e-9
            cross = np.abs(d[:, 0] * nd[1] - d[:, 1] * nd[0]) / dl  # |sin(dir - nib)|
            r = 0.5 * s[:, 2] * self.pen * scale * (1 - contrast + contrast * cross)
            r = np.maximum(r, 0.35 * ss)
            for i in range(len(xy)):
                x, y, ri = xy[i, 0], xy[i, 1], r[i]
                draw.ellipse((x - ri, y - ri, x + ri, y + ri), fill=255)
                if i:
                    x0, y0, r0 = xy[i - 1, 0], xy[i - 1, 1], r[i - 1]
                    dx, dy = x - x0, y - y0
                    ln = np.hypot(dx, dy)
                    if ln > 1e-6:
                        nx, ny = -dy / ln, dx / ln
                        draw.polygon([(x0 + nx * r0, y0 + ny * r0), (x + nx * ri, y + ny * ri),
                                      (x - nx * ri, y - ny * ri), (x0 - nx * r0, y0 - ny * r0)], fill=255)
        if ss > 1:
            img = img.reduce(ss)
        return np.asarray(img, dtype=np.uint8)

    def _mark(self, kind: str, seed: int) -> tuple[np.ndarray, ...]:
        """Punctuation in the script's own hand: a dot (sentence), a tick (clause), a bar (dash)."""
        r = _rng(seed, 0x70756E)
        pen = r.uniform(0.055, 0.085)
        if kind == "sentence":
            a = np.array([[0.08, 0.70, pen * 1.9], [0.10, 0.71, pen * 1.9], [0.12, 0.73, pen * 1.9],
                          [0.13, 0.75, pen * 1.9]])
        elif kind == "clause":
            a = np.array([[0.12, 0.68, pen * 1.5], [0.13, 0.72, pen * 1.3], [0.12, 0.78, pen],
                          [0.07, 0.86, pen * 0.5]])
        else:
            a = np.array([[0.06, 0.55, pen], [0.15, 0.53, pen * 1.1], [0.25, 0.56, pen * 1.1],
                          [0.34, 0.54, pen * 0.8]])
        return (a.astype(np.float32),)

    def _tokens(self, alphabet: Alphabet, text: str) -> list[list[list[Any]]]:
        """Lines -> words -> items; an item is a glyph index or a punctuation kind."""
        n = len(alphabet.strokes)
        lines = []
        for raw in _normalize_text(text).split("\n"):
            words: list[list[Any]] = []
            cur: list[Any] = []
            for ch in raw:
                if ch.isspace():
                    if cur:
                        words.append(cur)
                        cur = []
                    else:
                        words.append([])  # repeated spaces keep their width
                    continue
                if ch in alphabet.mapping:
                    cur.append(int(alphabet.mapping[ch]) % n)
                elif ch in _SENTENCE:
                    cur.append("sentence")
                elif ch in _CLAUSE:
                    cur.append("clause")
                elif ch in _DASH:
                    cur.append("dash")
                elif ch.isalnum():  # letters outside a-z0-9 (ß, ø, Greek...): a stable glyph
                    cur.append(zlib.crc32(ch.encode("utf-8")) % n)
                # other symbols (quotes, brackets, ...) are silent
            if cur:
                words.append(cur)
            lines.append(words)
        return lines

    def render_text(self, alphabet: Alphabet, text: str, *, height: int, ink: tuple[int, int, int],
                    max_width: int | None = None) -> np.ndarray:
        height = int(height)
        if height < 4:
            raise ValueError("render_text needs height >= 4")
        if not alphabet.strokes:
            raise ValueError("empty alphabet")
        em = float(height)
        nib = self._nib(alphabet.seed)
        tiles: dict[Any, np.ndarray] = {}

        def tile(item: Any) -> np.ndarray:
            if item not in tiles:
                g = alphabet.strokes[item] if isinstance(item, int) else self._mark(item, alphabet.seed)
                tiles[item] = self.draw_glyph(g, em, nib)
            return tiles[item]

        track = max(1, int(round(self.tracking * em)))
        gap = max(2, int(round(self.word_gap * em)))

        def advance(item: Any) -> int:
            return tile(item).shape[1] + track

        # lay out: greedy wrap on words; over-long words break between glyphs
        laid: list[list[tuple[int, Any]]] = []
        for words in self._tokens(alphabet, text):
            line: list[tuple[int, Any]] = []
            x = 0
            for word in words:
                wlen = sum(advance(it) for it in word) - (track if word else 0)
                start = x + (gap if x > 0 else 0)
                if not word:  # an explicit extra space
                    x = start if x > 0 else x + gap
                    continue
                if max_width is not None and x > 0 and start + wlen > max_width:
                    laid.append(line)
                    line, x, start = [], 0, 0
                for it in word:
                    a = advance(it)
                    if max_width is not None and start > 0 and start + a - track > max_width:
                        laid.append(line)
                        line, start = [], 0
                    line.append((start, it))
                    start += a
                x = start - track
            laid.append(line)

        # each line is centred on its ink (to half a pixel) within the widest line
        def extent(ln: list[tuple[int, Any]]) -> tuple[int, int]:
            cols = [(pos + int(c[0]), pos + int(c[-1]) + 1) for pos, it in ln
                    for c in [np.flatnonzero(tile(it).any(axis=0))] if c.size]
            return (min(a for a, _ in cols), max(b for _, b in cols)) if cols else (0, 0)

        extents = [extent(ln) for ln in laid]
        W = max(1, max((b - a for a, b in extents), default=1))
        if max_width is not None:
            W = min(W, max(1, int(max_width)))
        H = height * len(laid)
        alpha = np.zeros((H, W), np.uint8)
        for li, ln in enumerate(laid):
            a, b = extents[li]
            shift = (W - (b - a)) // 2 - a
            for pos, it in ln:
                t = tile(it)
                h, w = t.shape
                x0 = pos + shift
                lo, hi = max(0, -x0), min(w, W - x0)
                if hi <= lo:
                    continue
                region = alpha[li * height:li * height + h, x0 + lo:x0 + hi]
                np.maximum(region, t[:h, lo:hi], out=region)
        out = np.empty((H, W, 4), np.uint8)
        out[..., :3] = np.asarray(ink, np.uint8)
        out[..., 3] = alpha
        return out

    # ------------------------------------------------------------------ the Rosetta chart

    def chart(self, alphabet: Alphabet, *, cell: int, ink: tuple[int, int, int],
              paper: tuple[int, int, int]) -> np.ndarray:
        cell = int(cell)
        if cell < 12:
            raise ValueError("chart needs cell >= 12")
        cols = 6
        rows = -(-len(LETTERS) // cols)
        label_w = int(cell * 0.55)
        pair_w = label_w + cell
        gutter = int(cell * 0.3)
        margin = int(cell * 0.45)
        W = 2 * margin + cols * pair_w + (cols - 1) * gutter
        H = 2 * margin + rows * cell
        ink_a = np.asarray(ink, np.float32)
        paper_a = np.asarray(paper, np.float32)
        img = Image.new("RGB", (W, H), tuple(int(v) for v in paper))
        draw = ImageDraw.Draw(img)
        font = ImageFont.load_default(size=max(8, int(cell * 0.36)))
        dim = tuple(int(v) for v in np.round(paper_a + 0.55 * (ink_a - paper_a)))
        rule = tuple(int(v) for v in np.round(paper_a + 0.16 * (ink_a - paper_a)))
        canvas = np.asarray(img).astype(np.float32)
        for k, ch in enumerate(LETTERS):
            r, c = divmod(k, cols)
            x0 = margin + c * (pair_w + gutter)
            y0 = margin + r * cell
            g = self.render_text(alphabet, ch, height=int(cell * 0.95), ink=ink)
            a = g[..., 3].astype(np.float32)[..., None] / 255.0
            gh, gw = a.shape[:2]
            gx = x0 + label_w + max(0, (cell - gw) // 2)
            gy = y0 + (cell - gh) // 2
            gw2 = min(gw, W - gx)
            sub = canvas[gy:gy + gh, gx:gx + gw2]
            sub[:] = sub * (1 - a[:, :gw2]) + ink_a * a[:, :gw2]
        img = Image.fromarray(np.clip(canvas + 0.5, 0, 255).astype(np.uint8), "RGB")
        draw = ImageDraw.Draw(img)
        for k, ch in enumerate(LETTERS):
            r, c = divmod(k, cols)
            x0 = margin + c * (pair_w + gutter)
            y0 = margin + r * cell
            draw.text((x0 + label_w * 0.45, y0 + cell * 0.5), ch, fill=dim, font=font, anchor="mm")
            draw.line((x0 + label_w - 2, y0 + cell * 0.22, x0 + label_w - 2, y0 + cell * 0.78),
                      fill=rule, width=1)
        return np.asarray(img, dtype=np.uint8)
