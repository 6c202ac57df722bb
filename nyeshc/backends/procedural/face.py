"""The procedural puppet's painting: a face from a latent (:func:`draw_face`).

This file is long (about 1,100 lines) on purpose: it is one algorithm, the painting of a face
(the rig's parameters, rasterising, shading, and the two-layer rig that each mouth and blink
state is drawn from), whose parts share the rig's state; split, they would pass that state
back and forth. The backends that use it are :mod:`.puppet`; the motion that animates it is
:mod:`.idle` and :mod:`.visemes`.

How a face is made:
* a ``float32`` latent (``LATENT_DIM`` = 32) is squashed through ``tanh`` into shape, palette
  and style parameters (:func:`face_params`): head oval, jaw, skin tone, eyes, brows, nose, lips,
  hair, clothes; the last eight entries choose what makes a cast read as different people in a
  line-up: a head shape (oval, round, long, square, heart), a hairstyle (:data:`HAIRSTYLES`),
  a garment (:data:`GARMENTS`) and its colour, an accessory (:data:`ACCESSORIES`: glasses,
  earrings, a hat), facial hair (:data:`FACIAL_HAIR`) and the build of the shoulders;
* every shape is a polygon in unit coordinates whose vertices are nudged by a smooth
  latent-driven "wobble" field (hand-drawn edges), rasterised by Pillow at ``SS``× and
  box-reduced, which gives anti-aliased *coverage* masks;
* colour fields are computed at output resolution: each region is lit like a pillow (the
  gradient of its blurred mask is a normal map, lit from the upper left), shadows are cool,
  light is warm, and a small random MLP over ``(x, y, r, latent)`` (a CPPN) plus streaky
  brush noise gives the painted texture;
* the picture is two layers: a *body* (neck, shoulders, clothes) and a *head* (hair, face,
  features). Head motion rotates/scales the head about the neck and translates both.

Mouth and eyes are the only parts that change while speaking, so the head layer is rebuilt
per ``(mouth_open, blink)`` state and memoised; per frame only a Pillow affine warp and an
alpha composite run. What is memoised is bounded by bytes for the whole process
(:data:`STATE_BYTES`, :data:`LAYER_BYTES`): a state keeps only the region it changed, and a
worker that runs one lip-sync job after another, each with its portrait, does not keep every
portrait's states.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import math
import struct
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import PIL
from PIL import Image, ImageDraw

from nyeshc import ndi
from nyeshc.backends.base import BackendError, memo_folder, memo_read, memo_write


LATENT_DIM = 32
SS = 4
MOUTH_MAX = 2.0
"""The widest ``mouth_open`` a rig draws: ``lipsync(..., mouth=2)`` doubles the natural opening
(1.0); past 1 the chin drops with the lower lip (:func:`_jaw`), so the mouth stays on the face."""
"""Supersampling factor for shape rasterisation."""
WIDTH_RANGE = (0.6, 1.2)
"""The lip spread a rig draws (1 neutral; :mod:`.visemes` uses 0.62 for "oo" .. 1.16 for "ee")."""

_F32 = np.float32

STATE_BYTES = 64 << 20
"""What the memoised head states of every rig hold together, at most (bytes). A state keeps the
region it changed (~0.12 MB at 512²; the whole head was 1 MB, and a rig kept 256 of them)."""
LAYER_BYTES = 32 << 20
"""What the memoised layers ready to draw (a head state at the drawn size) hold together: one
is remade from its state in ~0.2 ms at 512², so a few dozen are plenty."""
RIGS_KEPT = 4
"""Rigs kept between calls (a scene's speakers; building one costs ~1.5 s at 512)."""


class _Memo:
    """A least-recently-used map bounded by the bytes of its values (as told by ``put``)."""

    def __init__(self, limit: int):
        self.limit = limit
        self.items: OrderedDict[Any, tuple[Any, int]] = OrderedDict()
        self.bytes = 0

    def get(self, key: Any) -> Any:
        hit = self.items.get(key)
        if hit is None:
            return None
        self.items.move_to_end(key)
        return hit[0]

    def put(self, key: Any, value: Any, nbytes: int) -> None:
        self.pop(key)
        self.items[key] = (value, nbytes)
        self.bytes += nbytes
        while self.bytes > self.limit and len(self.items) > 1:
            _, (_, n) = self.items.popitem(last=False)
            self.bytes -= n

    def pop(self, key: Any) -> None:
        old = self.items.pop(key, None)
        if old is not None:
            self.bytes -= old[1]

    def drop(self, owner: int) -> None:
        """Forget every entry whose key starts with ``owner``."""
        for key in [k for k in self.items if k[0] == owner]:
            self.pop(key)


_STATES = _Memo(STATE_BYTES)
_LAYERS = _Memo(LAYER_BYTES)
_TOKENS = itertools.count()


def _image_bytes(img: Image.Image) -> int:
    return img.width * img.height * len(img.getbands())

# --------------------------------------------------------------------------- small helpers


def _smoothstep(e0: float, e1: float, x: np.ndarray | float) -> np.ndarray | float:
    t = np.clip((np.asarray(x, dtype=np.float64) - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _mix(a: np.ndarray, b: np.ndarray, t: np.ndarray | float) -> np.ndarray:
    return a + (b - a) * t


def _rgb(*c: float) -> np.ndarray:
    return np.asarray(c, dtype=np.float64)


def _desat(c: np.ndarray, amount: float) -> np.ndarray:
    g = float(c @ np.array([0.299, 0.587, 0.114]))
    return c + (g - c) * amount


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    import colorsys

    return np.asarray(colorsys.hsv_to_rgb(h % 1.0, float(np.clip(s, 0, 1)), float(np.clip(v, 0, 1))))


HAIRSTYLES = ("crop", "bob", "long", "bun", "swept", "curly", "bald", "spiky")
GARMENTS = ("v-neck", "crew neck", "shirt collar", "turtleneck", "jacket", "scarf")
ACCESSORIES = ("none", "none", "none", "none", "none", "round glasses", "square glasses", "earrings", "beret", "hat")
FACIAL_HAIR = ("none", "none", "none", "none", "moustache", "beard", "stubble", "goatee")
HEADS = ("oval", "round", "long", "square", "heart")
# per head shape: half width, half height, jaw narrowing
_HEAD_SHAPES = ((0.183, 0.246, 0.55), (0.202, 0.228, 0.3), (0.165, 0.268, 0.5), (0.194, 0.238, 0.16),
                (0.197, 0.248, 0.88))
# per hairstyle: length (0 cropped .. 1 long), volume, fringe (0 high hairline .. 1 low fringe)
_HAIR_SHAPES = {"crop": (0.05, 0.006, 0.05), "bob": (0.5, 0.022, 0.8), "long": (0.95, 0.02, 0.1),
                "bun": (0.08, 0.01, 0.0), "swept": (0.22, 0.03, 0.75), "curly": (0.55, 0.07, 0.45),
                "bald": (0.0, 0.006, 0.0), "spiky": (0.12, 0.03, 0.45)}


def _pick(x: float, options: tuple[str, ...]) -> str:
    """One of ``options``, evenly for a standard normal ``x`` (through its CDF)."""
    u = 0.5 * (1.0 + math.erf(float(x) / math.sqrt(2.0)))
    return options[min(len(options) - 1, int(u * len(options)))]


def _latent24(latent: np.ndarray) -> np.ndarray:
    """The latent as ``LATENT_DIM`` values (a shorter one, from before the cast's styles
    existed, is padded with zeros)."""
    z = np.asarray(latent, dtype=np.float64).ravel()
    if z.size < LATENT_DIM:
        z = np.concatenate([z, np.zeros(LATENT_DIM - z.size)])
    return z[:LATENT_DIM]


# --------------------------------------------------------------------------- parameters


def face_params(latent: np.ndarray) -> dict[str, Any]:
    """Face parameters from a latent (continuous in the latent, so blends morph smoothly)."""
    z = _latent24(latent)
    s = np.tanh(z / 1.6)  # (-1, 1)
    p: dict[str, Any] = {}
    p["cx"], p["cy"] = 0.5, 0.41
    p["head"] = _pick(z[24], HEADS)
    hw0, hh0, jaw0 = _HEAD_SHAPES[HEADS.index(p["head"])]
    p["hw"] = hw0 + 0.014 * s[0]  # head half width
    p["hh"] = hh0 + 0.01 * s[1]  # head half height
    p["jaw"] = float(np.clip(jaw0 + 0.12 * s[2], 0.05, 0.95))  # jaw narrowing
    p["chin_sq"] = 1.0 if p["head"] == "square" else 0.0
    # skin: muted tones from pale to deep, warmth shifts red/yellow vs olive
    tones = [_rgb(0.90, 0.80, 0.72), _rgb(0.80, 0.64, 0.53), _rgb(0.62, 0.46, 0.36), _rgb(0.40, 0.28, 0.22)]
    u = (s[3] + 1) / 2 * (len(tones) - 1)
    i = min(int(u), len(tones) - 2)
    skin = _mix(tones[i], tones[i + 1], u - i)
    skin = skin + np.array([0.03, 0.0, -0.03]) * s[4]
    p["skin"] = np.clip(_desat(skin, 0.08), 0, 1)
    p["hue"] = 0.55 + 0.2 * s[5]  # palette hue (clothes / shadows / eyes), mostly blue-green-violet
    p["eye_r"] = 0.031 + 0.004 * s[6]
    p["eye_dx"] = 0.079 + 0.007 * s[7]
    p["eye_y"] = p["cy"] + 0.005 + 0.01 * s[8]
    p["brow_sad"] = 0.55 + 0.45 * s[9]  # inner ends raised: melancholy
    p["brow_w"] = 0.010 + 0.004 * s[10]
    p["nose_len"] = 0.088 + 0.01 * s[11]
    p["nose_w"] = 0.024 + 0.006 * s[12]
    p["lip_w"] = 0.056 + 0.007 * s[13]
    p["lip_full"] = 0.014 + 0.004 * s[14]
    lip = _mix(p["skin"] * _rgb(0.88, 0.55, 0.56), _rgb(0.52, 0.2, 0.24), 0.4 + 0.25 * s[15])
    p["lip"] = np.clip(_desat(lip, 0.15), 0, 1)
    p["hair_len"] = (s[16] + 1) / 2  # 0 cropped .. 1 long
    hair_tones = [_rgb(0.10, 0.08, 0.08), _rgb(0.25, 0.16, 0.11), _rgb(0.45, 0.30, 0.18),
                  _rgb(0.62, 0.48, 0.32), _rgb(0.40, 0.20, 0.13), _rgb(0.55, 0.55, 0.56)]
    u = (s[17] + 1) / 2 * (len(hair_tones) - 1)
    i = min(int(u), len(hair_tones) - 2)
    p["hair"] = np.clip(_desat(_mix(hair_tones[i], hair_tones[i + 1], u - i), 0.2), 0, 1)
    p["hair_vol"] = 0.022 + 0.016 * s[18]
    p["tex"] = (float(s[19]), float(s[20]))
    p["fringe"] = 0.5 + 0.5 * s[21]  # how low the fringe comes
    p["part"] = float(s[22])  # side of the parting / sweep
    iris = _hsv(p["hue"] - 0.45 * (s[22] > 0) + 0.08 * s[23], 0.30, 0.42)
    p["iris"] = _mix(iris, _rgb(0.28, 0.20, 0.15), 0.4 + 0.3 * s[23])
    # the cast's styles: hair, clothes, accessories, build
    p["style"] = _pick(z[26], HAIRSTYLES)
    p["hair_len"], p["hair_vol"], p["fringe"] = _HAIR_SHAPES[p["style"]]
    p["hair_vol"] += 0.004 * s[18]
    if p["style"] in ("bob", "long", "curly"):
        p["hair_len"] = float(np.clip(p["hair_len"] + 0.08 * s[16], 0.35, 1.0))
    if p["fringe"] > 0.3:
        p["fringe"] = float(np.clip(p["fringe"] + 0.15 * s[21], 0.3, 1.0))
    if p["style"] == "long":
        p["part"] = 0.15 * float(s[22])  # parted in the middle
    elif p["style"] == "swept":
        p["part"] = 0.9 if s[22] >= 0 else -0.9
    p["garment"] = _pick(z[27], GARMENTS)
    p["accessory"] = _pick(z[28], ACCESSORIES)
    p["facial_hair"] = _pick(z[29], FACIAL_HAIR)
    cu = 0.5 * (1.0 + math.erf(float(z[30]) / math.sqrt(2.0)))
    vu = 0.5 * (1.0 + math.erf(float(z[25]) / math.sqrt(2.0)))
    p["cloth"] = _hsv(cu, 0.18 + 0.3 * (1 - vu) * (0.5 + 0.5 * s[23]), 0.16 + 0.46 * vu)
    p["cloth2"] = _hsv(cu + 0.5 + 0.1 * s[23], 0.25, 0.72 - 0.4 * vu)  # shirt under a jacket, a scarf
    p["build"] = 0.8 + 0.32 * 0.5 * (1.0 + math.erf(float(z[31]) / math.sqrt(2.0)))  # narrow .. broad
    p["neck_w"] = (0.084 + 0.008 * s[0]) * (0.88 + 0.24 * (p["build"] - 0.8) / 0.32)
    p["wob"] = z[[19, 20, 21, 22]]
    # derived landmarks (unit coordinates)
    p["mouth"] = (p["cx"], p["cy"] + 0.55 * p["hh"] + 0.005)
    p["nose_tip"] = p["eye_y"] + p["nose_len"]
    return p


# --------------------------------------------------------------------------- rasterising


def _wobble(p: dict[str, Any], pts: np.ndarray, amp: float = 0.0035) -> np.ndarray:
    """Nudge unit-coordinate points by a smooth field: hand-drawn edges."""
    w = p["wob"]
    x, y = pts[:, 0], pts[:, 1]
    dx = np.sin(23.0 * y + 3.0 * w[0]) + 0.6 * np.sin(41.0 * y + 17.0 * x + 2.0 * w[1])
    dy = np.sin(21.0 * x + 3.0 * w[2]) + 0.6 * np.sin(37.0 * x - 13.0 * y + 2.0 * w[3])
    return pts + amp * np.stack([dx, dy], axis=1)


class _Raster:
    """Draws unit-coordinate polygons into coverage masks at ``size`` (via ``SS``× Pillow)."""

    def __init__(self, size: int, p: dict[str, Any]):
        self.size = size
        self.n = size * SS
        self.p = p
        self.window: tuple[int, int, int, int] | None = None  # (x0, y0, x1, y1): return only this

    def _out(self, out: np.ndarray) -> np.ndarray:
        if self.window is None:
            return out
        x0, y0, x1, y1 = self.window
        return out[y0:y1, x0:x1]

    def poly(self, *polys: np.ndarray, wobble: float = 0.0035, sub: tuple[np.ndarray, ...] = ()) -> np.ndarray:
        adds = [(_wobble(self.p, pts, wobble) if wobble else np.asarray(pts, np.float64)) * self.n for pts in polys]
        subs = [(_wobble(self.p, pts, wobble) if wobble else np.asarray(pts, np.float64)) * self.n for pts in sub]
        # the result covers the window only (allocated at its size), else the whole picture
        wx0, wy0, wx1, wy1 = self.window if self.window is not None else (0, 0, self.size, self.size)
        out = np.zeros((wy1 - wy0, wx1 - wx0), _F32)
        if not adds:
            return out
        allp = np.concatenate(adds)
        # rasterise only the bounding box (in whole output pixels), then place it
        x0 = int(np.clip(math.floor(allp[:, 0].min() / SS) - 1, 0, self.size))
        y0 = int(np.clip(math.floor(allp[:, 1].min() / SS) - 1, 0, self.size))
        x1 = int(np.clip(math.ceil(allp[:, 0].max() / SS) + 1, 0, self.size))
        y1 = int(np.clip(math.ceil(allp[:, 1].max() / SS) + 1, 0, self.size))
        if x1 <= x0 or y1 <= y0:
            return out
        off = np.array([x0 * SS, y0 * SS], np.float64)
        img = Image.new("L", ((x1 - x0) * SS, (y1 - y0) * SS), 0)
        d = ImageDraw.Draw(img)
        for q in adds:
            d.polygon([tuple(v) for v in (q - off).tolist()], fill=255)
        for q in subs:
            d.polygon([tuple(v) for v in (q - off).tolist()], fill=0)
        cov = np.asarray(img.reduce(SS), dtype=_F32) / 255.0
        # the part of the box inside the window
        cx0, cy0, cx1, cy1 = max(x0, wx0), max(y0, wy0), min(x1, wx1), min(y1, wy1)
        if cx1 > cx0 and cy1 > cy0:
            out[cy0 - wy0:cy1 - wy0, cx0 - wx0:cx1 - wx0] = cov[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0]
        return out

    def stroke(self, pts: np.ndarray, width0: float, width1: float | None = None,
               wobble: float = 0.0) -> np.ndarray:
        """A tapered stroke along ``pts`` (unit coords), width in unit coords."""
        return self.poly(_stroke_poly(pts, width0, width1), wobble=wobble)


def _stroke_poly(pts: np.ndarray, w0: float, w1: float | None = None, taper: bool = True) -> np.ndarray:
    pts = np.asarray(pts, dtype=np.float64)
    w1 = w0 if w1 is None else w1
    n = len(pts)
    t = np.linspace(0, 1, n)
    width = w0 + (w1 - w0) * t
    if taper:
        width = width * np.sqrt(np.clip(np.sin(np.pi * np.clip(t * 0.9 + 0.05, 0, 1)), 0, 1))
    tan = np.gradient(pts, axis=0)
    tan /= np.linalg.norm(tan, axis=1, keepdims=True) + 1e-12
    nrm = np.stack([-tan[:, 1], tan[:, 0]], axis=1)
    left = pts + nrm * width[:, None] / 2
    right = pts - nrm * width[:, None] / 2
    return np.concatenate([left, right[::-1]])


def _ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 64, rot: float = 0.0) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    x, y = rx * np.cos(t), ry * np.sin(t)
    c, s = math.cos(rot), math.sin(rot)
    return np.stack([cx + c * x - s * y, cy + s * x + c * y], axis=1)


def _rounded_rect(cx: float, cy: float, hw: float, hh: float, r: float, n: int = 12) -> np.ndarray:
    """A rectangle with rounded corners (unit coordinates), as a polygon."""
    pts = []
    for qx, qy, a0 in ((1, -1, -0.5 * math.pi), (1, 1, 0.0), (-1, 1, 0.5 * math.pi), (-1, -1, math.pi)):
        ccx, ccy = cx + qx * (hw - r), cy + qy * (hh - r)
        for t in np.linspace(a0, a0 + 0.5 * math.pi, n):
            pts.append((ccx + r * math.cos(t), ccy + r * math.sin(t)))
    return np.asarray(pts)


def _head_outline(p: dict[str, Any], grow: float = 0.0, n: int = 120) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    hw, hh = p["hw"] + grow, p["hh"] + grow
    x = np.sin(t)
    y = -np.cos(t)
    low = np.clip(y, 0, 1)
    # narrow the jaw toward the chin, then square the chin a little
    x = x * (1 - p["jaw"] * 0.42 * low ** 2.2) * (1 - 0.06 * np.clip(-y, 0, 1) ** 2)
    y = np.where(y > 0, y * (1 - 0.05 * np.abs(x)), y * 1.02)
    if p.get("chin_sq"):  # a square chin: the bottom of the oval cut flat
        y = np.minimum(y, 1.0 - 0.09 * p["chin_sq"])
    return np.stack([p["cx"] + hw * x, p["cy"] + hh * y], axis=1)


# --------------------------------------------------------------------------- shading


class Field:
    """Pixel-grid coordinate fields at output size."""

    def __init__(self, size: int):
        self.size = size
        c = (np.arange(size, dtype=_F32) + 0.5) / size
        self.x, self.y = np.meshgrid(c, c)


def _lit(cov: np.ndarray, size: int, sigma: float, base: np.ndarray, *, shadow: np.ndarray,
         light: np.ndarray, rim: np.ndarray | None = None, strength: float = 1.0,
         side: tuple[np.ndarray, float] | None = None) -> np.ndarray:
    """Pillow-light a region: the gradient of its blurred mask is its normal map."""
    sig = max(0.8, sigma * size)
    h = ndi.gaussian_filter(cov, sig, mode="constant")
    gy, gx = np.gradient(h)
    k = 2.2 * sig * strength
    nx, ny, nz = -gx * k, -gy * k, np.ones_like(h)
    inv = 1.0 / np.sqrt(nx * nx + ny * ny + nz * nz)
    L = np.array([-0.62, -0.52, 0.58])
    L = L / np.linalg.norm(L)
    diff = np.clip((nx * L[0] + ny * L[1] + nz * L[2]) * inv, 0, 1)
    if side is not None:  # broad falloff across the form (chiaroscuro)
        xs, amount = side
        diff = diff * (1 - amount * _smoothstep(-0.2, 1.0, xs))
    d = diff[..., None].astype(_F32)
    col = _mix(base * shadow, base * light, d ** 1.3)
    if rim is not None:  # a cool rim on the far edge
        rr = np.clip((nx * 0.8 - ny * 0.1) * inv, 0, 1) ** 2
        col = col + rim * rr[..., None] * 0.5
    return col.astype(_F32)


_MLP_W: list[np.ndarray] | None = None


def _cppn(size: int, p: dict[str, Any]) -> np.ndarray:
    """A small fixed random MLP over (x, y, r, latent): soft painterly value/colour variation."""
    global _MLP_W
    if _MLP_W is None:
        rng = np.random.default_rng(0x5EED)
        dims = [5, 16, 16, 3]
        _MLP_W = [rng.normal(0, 1.0, (a + 1, b)) * (1.6 / math.sqrt(a)) for a, b in zip(dims, dims[1:])]
    f = Field(size)
    x = (f.x - 0.5) * 3.0
    y = (f.y - 0.5) * 3.0
    r = np.sqrt(x * x + y * y)
    a, b = p["tex"]
    h = np.stack([x, y, r, np.full_like(x, a * 2), np.full_like(x, b * 2)], -1).reshape(-1, 5)
    for j, w in enumerate(_MLP_W):
        h = np.concatenate([h, np.ones((h.shape[0], 1))], 1) @ w
        h = np.tanh(h) if j < len(_MLP_W) - 1 else np.sin(h * 1.5)
    return h.reshape(size, size, 3).astype(_F32)


def _brush(size: int, p: dict[str, Any], seed: int, angles: tuple[float, ...] = (30.0,),
           sigma: tuple[float, float] = (6.0, 0.8)) -> np.ndarray:
    """Streaky brush-stroke noise in roughly [-1, 1] (anisotropic blur, rotated)."""
    a, b = p["tex"]
    rng = np.random.default_rng([seed, int((a + 1) * 1000), int((b + 1) * 1000)])
    out = np.zeros((size, size), _F32)
    sc = size / 256.0
    for ang in angles:
        n = rng.standard_normal((size, size)).astype(_F32)
        n = ndi.gaussian_filter(n, (sigma[0] * sc, sigma[1] * sc), mode="wrap")
        if ang:
            n = ndi.rotate(n, ang, reshape=False, order=1, mode="wrap")
        out += n
    out /= out.std() + 1e-6
    return np.clip(out / 2.5, -1, 1)


# --------------------------------------------------------------------------- the rig


class Rig:
    """Everything about one ``(latent, size)`` face that does not change while it moves."""

    def __init__(self, latent: np.ndarray, size: int):
        if size < 16:
            raise BackendError(f"portrait size must be at least 16 pixels (got {size})")
        self.latent = np.asarray(latent, dtype=_F32)
        self.size = size
        self.p = p = face_params(self.latent)
        self.R = _Raster(size, p)
        self.F = Field(size)
        tex = _cppn(size, p)
        blot = _brush(size, p, 1, (0.0,), (3.0, 3.0))
        self.tex = 1.0 + 0.06 * tex * np.array([1.0, 0.8, 0.9], _F32) \
            + (0.03 * _brush(size, p, 3, (-40.0,), (5.0, 0.9)) + 0.03 * blot)[..., None]
        self.tex = self.tex.astype(_F32)
        self.hair_tex = _brush(size, p, 2, (0.0, 12.0), (9.0, 0.7))
        self._build()
        self._ready()

    def _ready(self) -> None:
        self._token = next(_TOKENS)  # this rig's entries in the process-wide _STATES and _LAYERS
        self._memo_id: str | None = None  # its folder in the memo (:func:`_state_file`), once asked
        self._neutral: Image.Image | None = None  # the head without eyes and mouth, as an image
        # (blink, window) -> the rows the eyes change: first, last + 1, those rows before, after
        self._eye_rows: dict[Any, tuple[int, int, np.ndarray, np.ndarray]] = {}

    # ---------------------------------------------------------------- as arrays
    STATE: ClassVar[Mapping[str, tuple[int, ...]]] = {
        "tex": (3,), "hair_tex": (), "body": (4,), "face_cov": (), "skin_col": (3,), "head_rgb": (3,), "head_a": ()}
    """What :meth:`state` holds: each array the set-up computes, by its channels (an ``(S, S)``
    plane has none); everything else about a rig is cheap to work out again from the latent and
    the size. ``body`` is a Pillow ``RGBa`` image, held as ``uint8``; the others ``float32``."""

    def state(self) -> dict[str, np.ndarray]:
        """The arrays its set-up computed (the CPPN colour field, the brush textures, the body
        and head layers): :meth:`from_state` makes the same rig from them, without the set-up
        (~0.7 s at 512², ~0.25 s at 342²), so a motion backend may cache them
        (``motion.rig``, docs/dev/jobs.md)."""
        return {name: np.asarray(getattr(self, name)) for name in self.STATE}

    @classmethod
    def from_state(cls, latent: np.ndarray, size: int, arrays: Mapping[str, np.ndarray]) -> Rig:
        """The rig of ``(latent, size)`` from :meth:`state`'s arrays: the same frames as a rig
        built here. Arrays of the wrong shape or type are a :class:`BackendError`."""
        if size < 16:
            raise BackendError(f"portrait size must be at least 16 pixels (got {size})")
        missing = sorted(set(cls.STATE) - set(arrays))
        if missing:
            raise BackendError(f"a puppet rig's state lacks {', '.join(missing)}")
        for name, channels in cls.STATE.items():
            a = arrays[name]
            want = np.uint8 if name == "body" else _F32
            if a.dtype != want or a.shape != (size, size, *channels):
                raise BackendError(f"a puppet rig's {name} is {a.dtype} {a.shape}, expected {np.dtype(want)} "
                                   f"{(size, size, *channels)} for a {size}-pixel portrait")
        rig = cls.__new__(cls)
        rig.latent = np.asarray(latent, dtype=_F32)
        rig.size = size
        rig.p = face_params(rig.latent)
        rig.R = _Raster(size, rig.p)
        rig.F = Field(size)
        for name in cls.STATE:
            if name != "body":
                setattr(rig, name, np.array(arrays[name]))  # writable copies, as the set-up's own
        rig.body = Image.frombytes("RGBa", (size, size), np.ascontiguousarray(arrays["body"]).tobytes())
        rig._ready()
        return rig

    # ---------------------------------------------------------------- static layers
    def _build(self) -> None:
        p, R, F, S = self.p, self.R, self.F, self.size
        cx, cy, hw, hh = p["cx"], p["cy"], p["hw"], p["hh"]
        skin = p["skin"]
        cool = _mix(_hsv(p["hue"] + 0.1, 0.35, 0.55), _rgb(0.5, 0.5, 0.5), 0.3)
        shadow_mul = _mix(_rgb(0.55, 0.42, 0.44), cool, 0.2)
        light_mul = _rgb(1.12, 1.04, 0.96)
        sx = (F.x - cx) / (2.2 * hw) + 0.5  # across the face: 0 lit side .. 1 shadow side
        rim = _hsv(p["hue"], 0.35, 0.35)

        # ---- body: neck + shoulders
        body_rgb = np.zeros((S, S, 3), _F32)
        body_a = np.zeros((S, S), _F32)
        nw = p["neck_w"]
        neck = np.array([[cx - nw, cy + 0.45 * hh], [cx + nw, cy + 0.45 * hh],
                         [cx + nw * 0.97, 0.72], [cx + nw * 1.25, 0.76], [cx + nw * 2.0, 0.80], [cx + nw * 1.2, 0.9],
                         [cx - nw * 1.2, 0.9], [cx - nw * 2.0, 0.80], [cx - nw * 1.25, 0.76],
                         [cx - nw * 0.97, 0.72]])
        neck_cov = R.poly(neck)
        neck_col = _lit(neck_cov, S, 0.025, skin, shadow=shadow_mul, light=light_mul * 0.9, rim=rim,
                        side=(sx, 0.5))
        # shadow under the jaw
        jaw_sh = ndi.gaussian_filter(R.poly(_head_outline(p, 0.0)), 0.02 * S)
        neck_col = neck_col * (1 - 0.55 * jaw_sh[..., None])
        body_rgb, body_a = _over(body_rgb, body_a, neck_col, neck_cov)
        # shoulders / clothes: a rounded slope, clear of the bottom corners
        t = np.linspace(0, 1, 40)
        build = p["build"]
        sh_y = 0.765 + (0.14 + 0.1 * (1.0 - build)) * _smoothstep(0, 1, t) ** 0.75  # narrow: sloping
        sh_x = 0.5 + (0.1 + 0.31 * np.sin(t * np.pi / 2) ** 1.3) * build
        right = np.stack([sh_x, sh_y], 1)
        right = np.concatenate([right, [[0.5 + 0.415 * build, 0.96], [0.5 + 0.405 * build, 1.02]]])
        left = right[::-1].copy()
        left[:, 0] = 1 - left[:, 0]
        collar_y = 0.80
        garment = p["garment"]
        if garment in ("crew neck", "turtleneck", "scarf"):  # a round neckline, high on the neck
            neckline = [[cx - 0.06, collar_y - 0.01], [cx - 0.03, collar_y + 0.008], [cx, collar_y + 0.012],
                        [cx + 0.03, collar_y + 0.008], [cx + 0.06, collar_y - 0.01]]
        else:  # a V
            neckline = [[cx - 0.05, collar_y + 0.02], [cx, collar_y + 0.06 + 0.03 * (garment == "jacket")],
                        [cx + 0.05, collar_y + 0.02]]
        shoulders = np.concatenate([left, neckline, right])
        sh_cov = R.poly(shoulders)
        cloth = p["cloth"]
        sh_col = _lit(sh_cov, S, 0.05, cloth, shadow=shadow_mul * 0.8, light=_rgb(1.45, 1.4, 1.3),
                      rim=rim * 0.6, side=(F.x, 0.55))
        folds = self.hair_tex * 0.08
        sh_col = sh_col * (1 + folds[..., None])
        body_rgb, body_a = _over(body_rgb, body_a, sh_col, sh_cov)
        flat = lambda c: np.broadcast_to(np.asarray(c, _F32), (S, S, 3))  # noqa: E731
        if garment == "jacket":  # a shirt in the V, lapels folded back over the jacket
            vee = np.array([[cx - 0.05, collar_y + 0.02], [cx, collar_y + 0.09], [cx + 0.05, collar_y + 0.02],
                            [cx + 0.04, collar_y - 0.01], [cx - 0.04, collar_y - 0.01]])
            shirt = R.poly(vee)
            body_rgb, body_a = _over(body_rgb, body_a, _lit(shirt, S, 0.02, p["cloth2"], shadow=shadow_mul,
                                                             light=_rgb(1.2, 1.15, 1.1)), shirt * sh_cov)
            for sgn in (-1, 1):
                lapel = np.array([[cx + sgn * 0.05, collar_y + 0.015], [cx + sgn * 0.015, collar_y + 0.13],
                                  [cx + sgn * 0.11, collar_y + 0.06], [cx + sgn * 0.1, collar_y + 0.0]])
                lc = R.poly(lapel)
                body_rgb, body_a = _over(body_rgb, body_a, flat(cloth * (1.25 if sgn < 0 else 0.8)), lc * sh_cov)
        elif garment == "shirt collar":  # collar points either side of the V
            for sgn in (-1, 1):
                point = np.array([[cx + sgn * 0.058, collar_y - 0.03], [cx + sgn * 0.005, collar_y + 0.05],
                                  [cx + sgn * 0.075, collar_y + 0.045], [cx + sgn * 0.085, collar_y + 0.0]])
                pc = R.poly(point)
                body_rgb, body_a = _over(body_rgb, body_a, flat(_mix(cloth, _rgb(0.9, 0.9, 0.88), 0.6)), pc)
        elif garment == "turtleneck":  # the collar rolled up the neck
            top_y = max(cy + 0.82 * hh, collar_y - 0.1)
            roll = np.array([[cx - nw * 1.1, top_y], [cx + nw * 1.1, top_y],
                             [cx + nw * 1.3, collar_y + 0.01], [cx - nw * 1.3, collar_y + 0.01]])
            rc = R.poly(roll, wobble=0.004)
            ribs = 1 + 0.08 * np.sin((F.x - cx) * 260)  # knitted ribs
            body_rgb, body_a = _over(body_rgb, body_a, _lit(rc, S, 0.02, cloth, shadow=shadow_mul,
                                                             light=_rgb(1.35, 1.3, 1.25), side=(F.x, 0.5))
                                     * ribs[..., None], rc)
        elif garment == "scarf":  # wrapped round the neck, one end hanging
            wrap = _ellipse(cx, collar_y - 0.015, nw * 1.9, 0.035, 48)
            tail = np.array([[cx + 0.02, collar_y], [cx + 0.07, collar_y + 0.0], [cx + 0.085, collar_y + 0.17],
                             [cx + 0.035, collar_y + 0.18]])
            sc = np.maximum(R.poly(wrap, wobble=0.004), R.poly(tail, wobble=0.004))
            stripes = 1 + 0.12 * np.sign(np.sin(F.y * 180))
            scol = _lit(sc, S, 0.02, p["cloth2"], shadow=shadow_mul, light=_rgb(1.3, 1.25, 1.2), side=(F.x, 0.5))
            body_rgb, body_a = _over(body_rgb, body_a, scol * stripes[..., None], sc)
        if garment in ("v-neck", "crew neck", "shirt collar"):  # a little collar line
            line = np.array(neckline) + np.array([0.0, -0.004])
            col_line = R.stroke(line, 0.006)
            body_rgb, body_a = _over(body_rgb, body_a, flat(cloth * 0.5), col_line * 0.6 * sh_cov)
        self.body = _to_image_pm(body_rgb * self.tex, body_a)

        # ---- head: back hair, ears, face, features
        rgb = np.zeros((S, S, 3), _F32)
        a = np.zeros((S, S), _F32)
        hair = p["hair"]
        vol = p["hair_vol"]
        L = p["hair_len"]
        hair_shadow = _rgb(0.45, 0.45, 0.55)
        hair_light = _rgb(1.45, 1.35, 1.25)
        streak = (1 + 0.22 * self.hair_tex)[..., None]
        style = p["style"]

        def shaped(pts: np.ndarray) -> np.ndarray:
            """The hair's outline pushed out into curls or spikes (its own style)."""
            if style not in ("curly", "spiky"):
                return pts
            ang = np.arctan2(pts[:, 0] - cx, -(pts[:, 1] - cy))
            if style == "curly":
                bump = 0.014 * np.abs(np.sin(ang * 9 + p["part"])) ** 0.6
            else:
                bump = 0.035 * np.abs(np.sin(ang * 7 + p["part"])) ** 3 * np.clip(np.cos(ang) + 0.2, 0, 1)
            d = pts - np.array([cx, cy])
            return pts + d / (np.linalg.norm(d, axis=1, keepdims=True) + 1e-9) * bump[:, None]

        if style == "bun":  # a knot on the crown, behind the head
            bun = R.poly(_ellipse(cx + 0.01, cy - hh - vol - 0.03, 0.062, 0.052, 48), wobble=0.006)
            rgb, a = _over(rgb, a, _lit(bun, S, 0.03, hair, shadow=hair_shadow, light=hair_light, rim=rim,
                                        side=(sx, 0.5)) * streak, bun)
        if L > 0.3:
            y_end = cy + hh * (0.2 + 1.9 * (L - 0.3) / 0.7)
            top = _head_outline(p, vol)
            top = top[(top[:, 1] < cy + 0.1 * hh)]
            # sort by angle around centre to keep a clean outline, then fall down the sides
            ang = np.arctan2(top[:, 0] - cx, -(top[:, 1] - cy))
            top = top[np.argsort(ang)]
            w_end = hw + vol + 0.02 + 0.03 * L
            k = np.linspace(0, 1, 12)
            right_side = np.stack([cx + hw + vol + (w_end - hw - vol) * k,
                                   cy + 0.1 * hh + (y_end - cy - 0.1 * hh) * k], 1)
            bottom = np.stack([np.linspace(cx + w_end, cx - w_end, 24),
                               y_end + 0.012 * np.sin(np.linspace(0, 9, 24) + p["part"] * 3)], 1)
            left_side = right_side[::-1].copy()
            left_side[:, 0] = 2 * cx - left_side[:, 0]
            back = np.concatenate([top[top[:, 0] >= cx], right_side, bottom, left_side, top[top[:, 0] < cx]])
            back_cov = R.poly(shaped(back), wobble=0.006)
            back_col = _lit(back_cov, S, 0.05, hair * 0.8, shadow=hair_shadow, light=hair_light, rim=rim,
                            side=(sx, 0.5)) * streak
            rgb, a = _over(rgb, a, back_col, back_cov)
        # ears
        for sgn in (-1, 1):
            ear = _ellipse(cx + sgn * (hw * 0.97), p["eye_y"] + 0.03, 0.022, 0.042, 32, rot=sgn * 0.2)
            ear_cov = R.poly(ear)
            ear_col = _lit(ear_cov, S, 0.01, skin * _rgb(0.97, 0.88, 0.84), shadow=shadow_mul, light=light_mul,
                           side=(sx, 0.5))
            rgb, a = _over(rgb, a, ear_col, ear_cov)
        # face
        face_cov = R.poly(_head_outline(p))
        self.face_cov = face_cov
        face_col = _lit(face_cov, S, 0.07, skin, shadow=shadow_mul, light=light_mul, rim=rim, side=(sx, 0.5))
        # soft painted modelling: cheeks, eye sockets, under-nose, chin, temples
        soft = np.zeros((S, S), _F32)
        soft_col = np.zeros((S, S, 3), _F32)

        def blob(x: float, y: float, rx: float, ry: float, colour: np.ndarray, amount: float, blur: float) -> None:
            nonlocal soft, soft_col
            m = ndi.gaussian_filter(R.poly(_ellipse(x, y, rx, ry, 40), wobble=0), blur * S) * amount
            soft_col = soft_col * (1 - m[..., None]) + colour * m[..., None]
            soft = soft * (1 - m) + m

        sock = skin * _mix(_rgb(0.62, 0.56, 0.64), cool, 0.2)
        for sgn in (-1, 1):
            ex = cx + sgn * p["eye_dx"]
            blob(ex, p["eye_y"] - 0.004, p["eye_r"] * 1.7, p["eye_r"] * 1.1, sock, 0.28, 0.014)
            blob(ex + sgn * 0.004, p["eye_y"] + p["eye_r"] * 1.05, p["eye_r"] * 1.1, p["eye_r"] * 0.42,
                 sock * 0.95, 0.25, 0.008)  # tired under-eyes
            blob(cx + sgn * hw * 0.58, p["eye_y"] + 0.075, 0.04, 0.028, skin * _rgb(1.05, 0.76, 0.74), 0.4, 0.02)
        blob(cx + 0.012, p["nose_tip"] + 0.012, p["nose_w"] * 1.3, 0.01, skin * _rgb(0.62, 0.55, 0.58), 0.55, 0.008)
        blob(cx, p["mouth"][1] + 0.045, 0.03, 0.012, skin * _rgb(0.7, 0.64, 0.68), 0.4, 0.012)  # under lip
        blob(cx - hw * 0.3, cy - hh * 0.45, hw * 0.5, hh * 0.2, skin * _rgb(1.12, 1.07, 1.0), 0.35, 0.03)  # brow light
        face_col = face_col * (1 - soft[..., None]) + soft_col * _shade_mul(face_col, skin)[..., None] * soft[..., None]
        # nose: bridge light, shadow side, nostrils
        nt = p["nose_tip"]
        bridge = np.array([[cx - 0.006, p["eye_y"] + 0.01], [cx - 0.004, nt - 0.02], [cx - 0.009, nt - 0.004]])
        face_col = _paint(face_col, ndi.gaussian_filter(R.stroke(bridge, 0.01), 0.004 * S) * 0.35, skin * 1.15)
        side_sh = np.array([[cx + 0.012, p["eye_y"] + 0.005], [cx + 0.014, nt - 0.025],
                            [cx + p["nose_w"] * 0.9, nt - 0.004]])
        face_col = _paint(face_col, ndi.gaussian_filter(R.stroke(side_sh, 0.012), 0.004 * S) * 0.5,
                          skin * _rgb(0.6, 0.55, 0.62))
        tip = np.array([[cx - p["nose_w"], nt - 0.006], [cx - p["nose_w"] * 0.5, nt + 0.004], [cx, nt + 0.006],
                        [cx + p["nose_w"] * 0.5, nt + 0.004], [cx + p["nose_w"], nt - 0.006]])
        face_col = _paint(face_col, R.stroke(tip, 0.005) * 0.45, skin * _rgb(0.5, 0.4, 0.42))
        for sgn in (-1, 1):
            nos = _ellipse(cx + sgn * p["nose_w"] * 0.48, nt + 0.001, 0.0065, 0.0032, 20, rot=-sgn * 0.3)
            face_col = _paint(face_col, R.poly(nos, wobble=0) * 0.7, skin * _rgb(0.35, 0.26, 0.28))
        # faint contour line on the shadow side: painted edge
        edge = np.clip(face_cov - ndi.gaussian_filter(face_cov, 0.006 * S), 0, 1) * 2.0
        edge = edge * _smoothstep(0.35, 0.75, F.x)
        face_col = _paint(face_col, np.clip(edge, 0, 1) * 0.5, skin * _rgb(0.4, 0.33, 0.4))
        rgb, a = _over(rgb, a, face_col, face_cov)
        self.skin_col = face_col
        rgb = self._facial_hair(rgb, face_cov, hair, hair_shadow, hair_light, sx)

        # brows
        for sgn in (-1, 1):
            ex = cx + sgn * p["eye_dx"]
            by = p["eye_y"] - p["eye_r"] * 1.45
            t = np.linspace(0, 1, 16)
            bx = ex + sgn * (-0.045 + 0.09 * t)
            lift = p["brow_sad"] * 0.016 * (1 - t) ** 1.5
            byy = by - lift - 0.01 * np.sin(np.pi * t) * (1 - 0.5 * p["brow_sad"]) + 0.006 * t
            bm = R.stroke(np.stack([bx, byy], 1), p["brow_w"] * 1.2, p["brow_w"] * 0.6)
            rgb = _paint_pm(rgb, bm * 0.85 * face_cov, _mix(hair, skin * 0.5, 0.35))

        # front hair / fringe
        outer = _head_outline(p, vol)
        ang = np.arctan2(outer[:, 0] - cx, -(outer[:, 1] - cy))
        outer = outer[np.argsort(ang)]
        side_drop = 0.25 + 0.6 * min(L, 0.5)  # long hair falls behind the shoulders, not over the face
        keep = outer[:, 1] < cy + hh * side_drop * 0.9
        arc = outer[keep]
        xs = np.linspace(arc[-1, 0], arc[0, 0], 48)  # right to left along the hairline
        u = (xs - cx) / (hw + vol)
        part = p["part"]
        top_y = cy - hh * (0.62 - 0.3 * p["fringe"])
        locks = np.abs(np.sin(u * (6 + 2 * p["fringe"]) + part * 4))
        hl = top_y + hh * side_drop * np.abs(u) ** 4 + 0.05 * part * u * p["fringe"] \
            + 0.035 * u * u + (0.012 + 0.012 * p["fringe"]) * locks ** 0.6 - 0.01
        hl = np.minimum(hl, cy + hh * side_drop)
        if style == "long":  # parted in the middle: the hairline rises to the parting
            hl = hl - 0.05 * hh * np.exp(-(u / 0.12) ** 2)
        hairline = np.stack([xs, hl], 1)
        front = np.concatenate([shaped(arc), hairline])
        cap: tuple[np.ndarray, ...] = ()
        if style == "bald":  # hair only at the sides, below a bare crown
            cap = (_ellipse(cx, cy - hh * 0.55, hw + vol + 0.02, hh * 0.62, 64),)
        front_cov = R.poly(front, wobble=0.006, sub=cap)
        hair_col = _lit(front_cov, S, 0.035, hair, shadow=hair_shadow, light=hair_light, rim=rim,
                        side=(sx, 0.5)) * streak
        # the fringe casts a soft shadow on the forehead
        cast = ndi.shift(ndi.gaussian_filter(front_cov, 0.012 * S), (0.012 * S, 0.006 * S), order=1)
        rgb = rgb * (1 - 0.35 * cast * face_cov)[..., None]
        rgb, a = _over(rgb, a, hair_col, front_cov)
        rgb, a = self._accessory(rgb, a, shadow_mul, rim, sx)

        self.head_rgb, self.head_a = rgb, a  # premultiplied, without eyes and mouth

    def _facial_hair(self, rgb: np.ndarray, face_cov: np.ndarray, hair: np.ndarray, shadow: np.ndarray,
                     light: np.ndarray, sx: np.ndarray) -> np.ndarray:
        """A moustache, a beard, stubble or a goatee, painted on the face (under the lips)."""
        p, R, S = self.p, self.R, self.size
        kind = p["facial_hair"]
        if kind == "none":
            return rgb
        cx, cy, hw = p["cx"], p["cy"], p["hw"]
        mx, my = p["mouth"]
        w = p["lip_w"]
        mouth_gap = (_ellipse(mx, my + 0.004, w * 1.18, p["lip_full"] * 1.6 + 0.01, 40),)
        col = hair * 0.85
        if kind in ("beard", "stubble"):
            outline = _head_outline(p, 0.006)
            low = outline[outline[:, 1] > p["nose_tip"] + 0.01]
            ang = np.arctan2(low[:, 0] - cx, low[:, 1] - cy)
            low = low[np.argsort(ang)]
            t = np.linspace(-1, 1, 24)
            cheek = np.stack([cx + t * hw * 0.98, p["nose_tip"] + 0.012 + 0.035 * np.abs(t) ** 1.5 - 0.01], 1)
            region = np.concatenate([low, cheek[::-1] if cheek[0, 0] > low[-1, 0] else cheek])
            cov = R.poly(region, wobble=0.005, sub=mouth_gap if kind == "beard" else ()) * face_cov
            if kind == "stubble":
                cov = ndi.gaussian_filter(cov, 0.006 * S) * 0.32
                return _paint_pm(rgb, cov, _mix(self.skin_col, np.broadcast_to(col * 0.6, rgb.shape), 0.7))
            bcol = _lit(cov, S, 0.03, col, shadow=shadow, light=light, side=(sx, 0.5)) \
                * (1 + 0.2 * self.hair_tex)[..., None]
            rgb = _paint_pm(rgb, cov, bcol)
        if kind in ("moustache", "beard", "goatee"):
            t = np.linspace(-1, 1, 24)
            stache = np.stack([mx + t * w * 1.12, my - p["lip_full"] * 0.9 - 0.012 + 0.012 * t ** 2], 1)
            rgb = _paint_pm(rgb, R.stroke(stache, 0.016, 0.016, wobble=0.002) * 0.95, col * 0.9)
        if kind == "goatee":
            chin = _ellipse(mx, my + 0.05, w * 0.55, 0.032, 40)
            gc = R.poly(chin, wobble=0.004, sub=mouth_gap) * face_cov
            rgb = _paint_pm(rgb, gc, col * 0.9)
        return rgb

    def _accessory(self, rgb: np.ndarray, a: np.ndarray, shadow: np.ndarray, rim: np.ndarray,
                   sx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Glasses, earrings or a hat, drawn on the head layer (so they move with it)."""
        p, R, S = self.p, self.R, self.size
        kind = p["accessory"]
        cx, cy, hw, hh = p["cx"], p["cy"], p["hw"], p["hh"]
        frame = _rgb(0.09, 0.07, 0.07) if p["hue"] > 0.5 else _rgb(0.35, 0.2, 0.12)
        if kind in ("round glasses", "square glasses"):
            r = p["eye_r"] * 1.85
            ey = p["eye_y"] + 0.004
            for sgn in (-1, 1):
                ex = cx + sgn * p["eye_dx"]
                if kind == "round glasses":
                    outer, inner = _ellipse(ex, ey, r, r * 0.92, 48), _ellipse(ex, ey, r - 0.006, r * 0.92 - 0.006, 48)
                else:
                    outer = _rounded_rect(ex, ey, r * 1.12, r * 0.8, 0.012)
                    inner = _rounded_rect(ex, ey, r * 1.12 - 0.007, r * 0.8 - 0.007, 0.008)
                ring = R.poly(outer, wobble=0, sub=(inner,))
                rgb = _paint_pm(rgb, ring * 0.95, frame)
                glare = R.poly(_ellipse(ex - r * 0.35, ey - r * 0.4, r * 0.3, r * 0.12, 20, rot=-0.5), wobble=0)
                rgb = _paint_pm(rgb, glare * 0.18, _rgb(0.95, 0.97, 1.0))
                arm = np.array([[ex + sgn * r, ey - 0.004], [cx + sgn * hw * 0.99, ey - 0.008]])
                rgb = _paint_pm(rgb, R.stroke(arm, 0.005, 0.005) * 0.9, frame)
            bridge = np.array([[cx - p["eye_dx"] + r, ey - 0.006], [cx, ey - 0.012], [cx + p["eye_dx"] - r, ey - 0.006]])
            rgb = _paint_pm(rgb, R.stroke(bridge, 0.005, 0.005) * 0.95, frame)
        elif kind == "earrings":
            for sgn in (-1, 1):
                ring = R.poly(_ellipse(cx + sgn * hw * 0.99, p["eye_y"] + 0.082, 0.009, 0.012, 24), wobble=0)
                rgb, a = _over(rgb, a, _lit(ring, S, 0.006, _rgb(0.85, 0.66, 0.3), shadow=shadow,
                                            light=_rgb(1.4, 1.3, 1.1)), ring)
        elif kind in ("beret", "hat"):
            vol = p["hair_vol"]
            top = cy - hh - vol
            hat_col = _mix(p["cloth2"], p["cloth"], 0.3) * 0.8
            if kind == "beret":
                side = 1.0 if p["part"] >= 0 else -1.0
                cov = R.poly(_ellipse(cx + 0.03 * side, top + 0.045, hw * 1.18, 0.062, 64, rot=0.12 * side),
                             wobble=0.003)
                band = R.poly(_ellipse(cx, top + 0.085, hw * 0.95, 0.018, 48), wobble=0.002)
                cov = np.maximum(cov, band)
            else:  # a brimmed hat: a crown and a brim at the forehead
                crown = np.array([[cx - hw * 0.86, top + 0.1], [cx - hw * 0.8, top - 0.05], [cx - hw * 0.3, top - 0.075],
                                  [cx + hw * 0.3, top - 0.075], [cx + hw * 0.8, top - 0.05], [cx + hw * 0.86, top + 0.1]])
                brim = _ellipse(cx, top + 0.1, hw * 1.55, 0.03, 64)
                cov = np.maximum(R.poly(crown, wobble=0.003), R.poly(brim, wobble=0.003))
            hcol = _lit(cov, S, 0.03, hat_col, shadow=shadow, light=_rgb(1.4, 1.35, 1.3), rim=rim, side=(sx, 0.5))
            # the hat's shadow on the forehead
            cast = ndi.shift(ndi.gaussian_filter(cov, 0.015 * S), (0.018 * S, 0.004 * S), order=1)
            rgb = rgb * (1 - 0.4 * cast * self.face_cov * (1 - cov))[..., None]
            rgb, a = _over(rgb, a, hcol, cov)
        return rgb, a

    # ---------------------------------------------------------------- features
    def _eyes(self, rgb: np.ndarray, blink: float) -> np.ndarray:
        p, R = self.p, self.R
        cx = p["cx"]
        r = p["eye_r"]
        for sgn in (-1, 1):
            ex, ey = cx + sgn * p["eye_dx"], p["eye_y"]
            t = np.linspace(-1, 1, 25)
            xs = ex + sgn * t * r * 1.05
            droop = 0.18 * r * np.clip(t, 0, 1)  # outer corner droops a little: melancholy
            up = ey - r * 0.62 * (1 - t ** 2) ** 0.8 + droop - 0.1 * r * t
            lo = ey + r * 0.42 * (1 - t ** 2) ** 1.1 + droop * 0.5
            lid = up + (lo - up) * (0.2 + 0.8 * blink)
            almond = np.concatenate([np.stack([xs, up], 1), np.stack([xs, lo], 1)[::-1]])
            white_cov = R.poly(almond, wobble=0)
            white = p["skin"] * 0.35 + _rgb(0.62, 0.62, 0.64) * 0.6
            white_col = np.broadcast_to(white, rgb.shape) * (0.8 + 0.2 * _smoothstep(ey - r * 0.6, ey + r * 0.3, self._fy))[..., None]
            rgb = _paint_pm(rgb, white_cov, white_col)
            ix = ex + sgn * 0.1 * r - 0.05 * r  # gaze slightly down and aside
            iy = ey + 0.05 * r
            iris_cov = R.poly(_ellipse(ix, iy, r * 0.5, r * 0.52, 40), wobble=0) * white_cov
            iris_col = p["iris"] * (0.7 + 0.5 * _smoothstep(iy - r * 0.5, iy + r * 0.5, self._fy))[..., None]
            rgb = _paint_pm(rgb, iris_cov, iris_col)
            pupil = R.poly(_ellipse(ix, iy, r * 0.2, r * 0.21, 24), wobble=0) * white_cov
            rgb = _paint_pm(rgb, pupil, _rgb(0.06, 0.05, 0.06))
            hi = R.poly(_ellipse(ix - 0.18 * r, iy - 0.2 * r, r * 0.085, r * 0.085, 16), wobble=0) * white_cov
            rgb = _paint_pm(rgb, hi * 0.85, _rgb(0.9, 0.9, 0.88))
            # upper-lid shadow on the eye white
            lid_sh = R.poly(np.concatenate([np.stack([xs, lid - r * 0.05], 1),
                                            np.stack([xs, lid + r * 0.28], 1)[::-1]]), wobble=0) * white_cov
            rgb = _paint_pm(rgb, ndi.gaussian_filter(lid_sh, 0.002 * self.size + 0.4) * 0.35, _rgb(0.2, 0.15, 0.18))
            # eyelid (skin) from the upper arc down to `lid`
            if True:
                lid_poly = np.concatenate([np.stack([xs, up - r * 0.12], 1), np.stack([xs, lid], 1)[::-1]])
                lcov = R.poly(lid_poly, wobble=0)
                rgb = _paint_pm(rgb, lcov, self._skin * _rgb(0.9, 0.84, 0.86))
            # lash line along the lid edge, crease above
            lash = R.stroke(np.stack([xs, lid], 1), r * 0.16, r * 0.11)
            rgb = _paint_pm(rgb, lash * 0.9, _rgb(0.12, 0.09, 0.1))
            crease = R.stroke(np.stack([xs, up - r * 0.38 * (1 - t ** 2) - r * 0.12], 1), r * 0.07)
            rgb = _paint_pm(rgb, crease * 0.35, p["skin"] * _rgb(0.45, 0.38, 0.42))
            lower = R.stroke(np.stack([xs, lo + r * 0.06], 1), r * 0.06)
            rgb = _paint_pm(rgb, lower * 0.25, p["skin"] * _rgb(0.5, 0.4, 0.45))
        return rgb

    def _eyes_rows(self, crop: np.ndarray, blink: float) -> np.ndarray:
        """``_eyes(crop, blink)``, the eyes drawn once per blink level: they change only their own
        rows of the state's window, and those rows are the same in every mouth state, so a state
        whose rows match (compared byte for byte) takes the memoised rows instead of painting
        the eyes again (two thirds of a state's cost; a lip-sync draws ~60 states, 4 blinks)."""
        key = (blink, self.R.window)
        hit = self._eye_rows.get(key)
        if hit is not None:
            r0, r1, before, after = hit
            if np.array_equal(crop[r0:r1].view(np.uint8), before.view(np.uint8)):
                out = crop.copy()
                out[r0:r1] = after
                return out
        out = self._eyes(crop.copy(), blink)  # (it paints in place)
        differs = np.any((out.view(np.uint8) != crop.view(np.uint8)).reshape(out.shape[0], -1), axis=1)
        rows = np.flatnonzero(differs)
        r0, r1 = (int(rows[0]), int(rows[-1]) + 1) if rows.size else (0, 0)
        self._eye_rows[key] = (r0, r1, crop[r0:r1].copy(), out[r0:r1].copy())
        return out

    def _mouth(self, rgb: np.ndarray, m: float, width: float = 1.0, tuck: float = 0.0) -> np.ndarray:
        """The lips and the mouth's cavity at opening ``m``, lip spread ``width`` (below 1
        rounded: narrower, fuller, a rounder opening; above 1 spread, corners drawn back) and
        ``tuck`` (the lower lip tucked under the upper teeth: f, v). ``width`` 1 and ``tuck``
        0 draw exactly the neutral mouth (the loudness-driven one)."""
        p, R = self.p, self.R
        mx, my = p["mouth"]
        w = p["lip_w"] * width
        rounded = min(1.0, max(0.0, (1.0 - width) / 0.4))
        full = p["lip_full"] * (1.0 + 0.5 * rounded)  # pursed lips push forward: they look fuller
        open_h = 0.048 * m
        mn = min(m, 1.0)  # past 1 (lipsync's `mouth` above 1) the mouth only opens further
        t = np.linspace(-1, 1, 33)
        xs = mx + w * t * (1 - 0.2 * mn)
        # corners a touch down: melancholy; spread lips draw them back and up a little
        corner = 0.004 + 0.002 * (1 - mn) - 0.015 * max(0.0, width - 1.0)
        # the parting line: upper edge of the cavity / lower edge of the upper lip
        part_up = my - 0.2 * open_h * (1 - t ** 2) + corner * t ** 2
        part_lo = my + open_h * (1 - t ** 2) ** (0.9 - 0.45 * rounded) + corner * t ** 2
        lip = p["lip"]
        # upper lip with a cupid's bow
        bow = 0.005 * np.exp(-((t * 6) ** 2))
        up_top = my - full * 0.9 * (1 - t ** 2) ** 0.6 - 0.002 + corner * t ** 2 + bow * 0.8 \
            - 0.003 * np.exp(-((np.abs(t) - 0.3) * 6) ** 2) - 0.2 * open_h * (1 - t ** 2)
        upper = np.concatenate([np.stack([xs, up_top], 1), np.stack([xs, part_up], 1)[::-1]])
        lo_bot = part_lo + full * 1.25 * (1 - 0.4 * tuck) * (1 - t ** 2) ** 0.7  # tucked: less lip shows
        lower = np.concatenate([np.stack([xs, part_lo], 1), np.stack([xs, lo_bot], 1)[::-1]])
        if m > 0.02:
            cav = np.concatenate([np.stack([xs, part_up], 1), np.stack([xs, part_lo], 1)[::-1]])
            cav_cov = R.poly(cav, wobble=0)
            rgb = _paint_pm(rgb, cav_cov, _rgb(0.10, 0.04, 0.05))
            # teeth hint along the top, tongue at the bottom
            teeth = np.concatenate([np.stack([xs * 0.9 + mx * 0.1, part_up - 0.002], 1),
                                    np.stack([xs * 0.85 + mx * 0.15, part_up + 0.2 * open_h * (1 - t ** 2) ** 0.5], 1)[::-1]])
            rgb = _paint_pm(rgb, R.poly(teeth, wobble=0) * cav_cov * 0.6 * min(1.0, m * 3), _rgb(0.58, 0.55, 0.52))
            tongue = _ellipse(mx, part_lo[16] - 0.05 * open_h, w * 0.45, open_h * 0.3, 32)
            rgb = _paint_pm(rgb, R.poly(tongue, wobble=0) * cav_cov * 0.7, lip * _rgb(0.6, 0.38, 0.42))
        ucov = R.poly(upper, wobble=0)
        rgb = _paint_pm(rgb, ucov * 0.9, lip * 0.78)
        lcov = R.poly(lower, wobble=0)
        lcol = lip * (0.85 + 0.35 * _smoothstep(my + 0.02 + open_h, my + open_h, self._fy))[..., None]
        rgb = _paint_pm(rgb, lcov * 0.9, lcol)
        hl = R.poly(_ellipse(mx - 0.012, part_lo[16] + full * 0.55, w * 0.28, full * 0.22, 20), wobble=0)
        rgb = _paint_pm(rgb, ndi.gaussian_filter(hl, 0.3 + 0.002 * self.size) * 0.35, lip * 1.5 + 0.1)
        if tuck > 0:  # the upper teeth's edge rests on the lower lip
            tx = xs * 0.62 + mx * 0.38
            edge = np.concatenate([np.stack([tx, part_up - 0.001], 1),
                                   np.stack([tx, part_up + 0.009 * (1 - t ** 2) ** 0.5], 1)[::-1]])
            rgb = _paint_pm(rgb, R.poly(edge, wobble=0) * min(1.0, tuck), _rgb(0.86, 0.83, 0.77))
        line = R.stroke(np.stack([xs, part_up + 0.0015 * (1 - mn)], 1), 0.0045 + 0.002 * (1 - mn))
        rgb = _paint_pm(rgb, line * 0.75, _rgb(0.22, 0.1, 0.11))
        return rgb

    # ---------------------------------------------------------------- states
    @staticmethod
    def _state_key(mouth_open: float, blink: float, width: float = 1.0,
                   teeth: float = 0.0) -> tuple[float, float, float, float]:
        return (round(float(np.clip(mouth_open, 0, MOUTH_MAX)), 4), round(float(np.clip(blink, 0, 1)), 4),
                round(float(np.clip(width, WIDTH_RANGE[0], WIDTH_RANGE[1])), 4), round(float(np.clip(teeth, 0, 1)), 4))

    def head(self, mouth_open: float, blink: float, width: float = 1.0, teeth: float = 0.0) -> Image.Image:
        """The head layer (PIL ``RGBa``, premultiplied) in this mouth/eye state, memoised."""
        key = self._state_key(mouth_open, blink, width, teeth)
        if self._neutral is None:
            self._neutral = _to_image_pm(self.head_rgb * self.tex, self.head_a)
        img = self._neutral.copy()
        img.paste(*self._changed(key))
        return img

    def _changed(self, key: tuple[float, float, float, float]) -> tuple[Image.Image, tuple[int, int]]:
        """The region of the head a state changes, as an image and where it goes, memoised in
        this process and, while a job runs, in the executor's memo folder (:func:`_state_file`:
        a lip-sync job in a fresh worker draws only the states no job of this rig drew before)."""
        hit = _STATES.get((self._token, key))
        if hit is not None:
            return hit
        kept = _state_file(self, key)
        got = _read_state(kept) if kept is not None else None
        if got is None:
            got = self._draw_state(key)
            if kept is not None:
                _write_state(kept, got)
        _STATES.put((self._token, key), got, _image_bytes(got[0]))
        return got

    def _draw_state(self, key: tuple[float, float, float, float]) -> tuple[Image.Image, tuple[int, int]]:
        """:meth:`_changed`'s region, drawn."""
        m, b, wd, th = key
        # only a region changes with the state: the features' window and the stretched jaw;
        # everything is computed on that region and pasted over the neutral head (same pixels
        # as computing the whole picture, a fraction of the work)
        p, S = self.p, self.size
        wx0 = int(max(0, math.floor((p["cx"] - p["eye_dx"] - 2.2 * p["eye_r"]) * S) - 2))
        wx1 = int(min(S, math.ceil((p["cx"] + p["eye_dx"] + 2.2 * p["eye_r"]) * S) + 2))
        wy0 = int(max(0, math.floor((p["eye_y"] - 2.0 * p["eye_r"]) * S) - 2))
        wy1 = int(min(S, math.ceil((p["mouth"][1] + 0.085 + 0.048 * max(0.0, m - 1.0)) * S) + 2))
        jaw = _jaw_box(p["mouth"], _jaw(m), S, p["hh"]) if m > 0 else None
        X0, Y0, X1, Y1 = wx0, wy0, wx1, wy1
        if jaw is not None:
            X0, Y0, X1, Y1 = min(X0, jaw[0]), min(Y0, jaw[1]), max(X1, jaw[2]), max(Y1, jaw[3])
        rgb = self.head_rgb[Y0:Y1, X0:X1].copy()
        a = self.head_a[Y0:Y1, X0:X1].copy()
        if jaw is not None:
            jx0, jy0, jx1, jy1 = jaw
            jr, ja = _jaw_values(self.head_rgb, self.head_a, p["mouth"], _jaw(m), S, p["hh"], jaw)
            rgb[jy0 - Y0:jy1 - Y0, jx0 - X0:jx1 - X0] = jr
            a[jy0 - Y0:jy1 - Y0, jx0 - X0:jx1 - X0] = ja
        self.R.window = (wx0, wy0, wx1, wy1)
        self._fy = self.F.y[wy0:wy1, wx0:wx1]
        self._skin = self.skin_col[wy0:wy1, wx0:wx1]
        try:
            crop = rgb[wy0 - Y0:wy1 - Y0, wx0 - X0:wx1 - X0].copy()
            crop = self._eyes_rows(crop, b)
            crop = self._mouth(crop, m, wd, th)
            rgb[wy0 - Y0:wy1 - Y0, wx0 - X0:wx1 - X0] = crop
        finally:
            self.R.window = None
        return _to_image_pm(rgb * self.tex[Y0:Y1, X0:X1], a), (X0, Y0)

    def scaled(self, layer: Image.Image, key: Any, size: int) -> Layer:
        """``layer`` (an ``RGBa`` image at the rig's size) reduced to ``size`` (antialiased,
        once per state and size), with its bounding box."""
        hit = _LAYERS.get((self._token, key, size))
        if hit is not None:
            return hit
        img = layer if size == self.size else layer.resize((size, size), Image.Resampling.BILINEAR)
        if key == "body":
            # the body is cut by the frame's bottom edge: continue its last row below, so that
            # lifting it (breath, head motion) never opens a gap under the shoulders
            pad = max(4, size // 16)
            tall = Image.new("RGBa", (size, size + pad))
            tall.paste(img, (0, 0))
            tall.paste(img.crop((0, size - 1, size, size)).resize((size, pad)), (0, size))
            img = tall
        got = Layer(img, size / self.size, img.getbbox())
        _LAYERS.put((self._token, key, size), got, _image_bytes(img))
        return got

    def render(self, dst: np.ndarray, mouth_open: float, blink: float,
               head: tuple[float, float, float, float], breath: float = 0.0, *,
               width: float = 1.0, teeth: float = 0.0) -> None:
        """Draw one frame into ``dst`` (``uint8 (D, D, 4)`` straight RGBA, any ``D``).

        ``head = (dx, dy, angle, scale)`` is in pixels of the rig's size; the frame is the same
        picture at any ``D``. The layers are taken at ``L = min(D, size)`` (reduced once per
        state) and each is resampled once, straight into its region of the output: the body
        (which only shifts and breathes) by a separable sub-pixel resize, the head (which also
        turns) by a bilinear affine warp of its bounding box only."""
        dx, dy, ang, sc = head
        S, D = self.size, dst.shape[0]
        L = min(D, S)
        key = self._state_key(mouth_open, blink, width, teeth)
        body = self.scaled(self.body, "body", L)
        hd = _LAYERS.get((self._token, key, L)) or self.scaled(self.head(*key), key, L)
        canvas = Image.new("RGBA", (D, D))
        pivot = (self.p["cx"] * S, (self.p["cy"] + self.p["hh"] * 0.9) * S)
        part = _shift(body, D / S, D, dx, dy * 0.7, 1.0 + breath, (S / 2, S))
        if part is not None:
            canvas.paste(part[0].convert("RGBA"), part[1])
        part = warp_layer(hd, D / S, D, dx, dy - breath * S * 0.6, ang, sc, pivot)
        if part is not None:
            canvas.alpha_composite(part[0].convert("RGBA"), part[1])
        dst[...] = np.asarray(canvas)

    def frame(self, mouth_open: float, blink: float, head: tuple[float, float, float, float],
              breath: float = 0.0, width: float = 1.0, teeth: float = 0.0) -> np.ndarray:
        out = np.empty((self.size, self.size, 4), np.uint8)
        self.render(out, mouth_open, blink, head, breath, width=width, teeth=teeth)
        return out


class Layer:
    """A premultiplied layer at ``q`` of the rig's scale, with its bounding box (or None)."""

    __slots__ = ("img", "q", "bbox")

    def __init__(self, img: Image.Image, q: float, bbox: tuple[int, int, int, int] | None):
        self.img, self.q, self.bbox = img, q, bbox


def _region(bbox: tuple[int, int, int, int], fwd: np.ndarray, D: int) -> tuple[int, int, int, int] | None:
    """The output pixels ``(x0, y0, x1, y1)`` covered by ``bbox`` mapped by the 2×3 ``fwd``."""
    x0, y0, x1, y1 = bbox
    pts = np.array([[x0, y0, 1.0], [x1, y0, 1.0], [x0, y1, 1.0], [x1, y1, 1.0]]) @ fwd.T
    ox0 = max(0, math.floor(pts[:, 0].min()) - 1)
    oy0 = max(0, math.floor(pts[:, 1].min()) - 1)
    ox1 = min(D, math.ceil(pts[:, 0].max()) + 1)
    oy1 = min(D, math.ceil(pts[:, 1].max()) + 1)
    if ox1 <= ox0 or oy1 <= oy0:
        return None
    return ox0, oy0, ox1, oy1


_Part = tuple[Image.Image, tuple[int, int]]


def _shift(layer: Layer, k: float, D: int, dx: float, dy: float, scale: float,
           pivot: tuple[float, float]) -> _Part | None:
    """``layer`` scaled by ``scale`` about ``pivot`` and moved by ``(dx, dy)`` (rig pixels), at
    ``k`` output pixels per rig pixel in a ``D``-pixel frame: the ``RGBa`` part covering its
    region and where it goes. One separable resize (no rotation, so Pillow's fast path)."""
    if layer.bbox is None:
        return None
    q = layer.q
    # output u -> layer x:  x = q * ((u / k - p - d) / scale + p)
    g = q / (k * scale)
    cx = q * (pivot[0] - (pivot[0] + dx) / scale)
    cy = q * (pivot[1] - (pivot[1] + dy) / scale)
    fwd = np.array([[1 / g, 0.0, -cx / g], [0.0, 1 / g, -cy / g]])
    reg = _region(layer.bbox, fwd, D)
    if reg is None:
        return None
    ox0, oy0, ox1, oy1 = reg
    w, h = layer.img.size  # the source box must stay inside the layer: trim the region to it
    ox0, oy0 = max(ox0, math.ceil(-cx / g - 1e-6)), max(oy0, math.ceil(-cy / g - 1e-6))
    ox1, oy1 = min(ox1, math.floor((w - cx) / g + 1e-6)), min(oy1, math.floor((h - cy) / g + 1e-6))
    if ox1 <= ox0 or oy1 <= oy0:
        return None
    box = (min(max(g * ox0 + cx, 0.0), w), min(max(g * oy0 + cy, 0.0), h),
           min(max(g * ox1 + cx, 0.0), w), min(max(g * oy1 + cy, 0.0), h))
    return layer.img.resize((ox1 - ox0, oy1 - oy0), Image.Resampling.BILINEAR, box=box), (ox0, oy0)


def warp_layer(layer: Layer, k: float, D: int, dx: float, dy: float, angle_deg: float, scale: float,
               pivot: tuple[float, float]) -> _Part | None:
    """``layer`` rotated/scaled about ``pivot`` and moved by ``(dx, dy)`` (rig pixels), at ``k``
    output pixels per rig pixel in a ``D``-pixel frame: a bilinear affine warp of only the
    output region its bounding box lands in. The mapping: a rig point ``x`` lands at
    ``k * (M @ (x - pivot) + pivot + (dx, dy))``, ``M = scale * [[cos a, sin a], [-sin a, cos a]]``
    (counter-clockwise on screen, y down)."""
    if layer.bbox is None:
        return None
    q = layer.q
    th = math.radians(angle_deg)
    c, s = math.cos(th) / scale, math.sin(th) / scale
    inv = np.array([[c, -s], [s, c]])  # rig output -> rig input, about the pivot
    p = np.array(pivot, np.float64)
    # output u -> layer x:  x = q * (inv @ (u / k - p - d) + p)
    A = inv * (q / k)
    off = q * (p - inv @ (p + np.array([dx, dy])))
    Ainv = np.linalg.inv(A)
    fwd = np.concatenate([Ainv, (-Ainv @ off)[:, None]], 1)
    reg = _region(layer.bbox, fwd, D)
    if reg is None:
        return None
    ox0, oy0, ox1, oy1 = reg
    o = off + A @ np.array([ox0, oy0], np.float64)
    data = (float(A[0, 0]), float(A[0, 1]), float(o[0]), float(A[1, 0]), float(A[1, 1]), float(o[1]))
    part = layer.img.transform((ox1 - ox0, oy1 - oy0), Image.Transform.AFFINE, data,
                               resample=Image.Resampling.BILINEAR)
    return part, (ox0, oy0)


def _shade_mul(face_col: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """How lit each pixel of ``face_col`` is relative to the flat skin colour."""
    return np.clip(face_col.mean(-1) / max(float(skin.mean()), 1e-3), 0.3, 1.3).astype(_F32)


def _over(rgb: np.ndarray, a: np.ndarray, col: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Premultiplied 'over'."""
    c = cov[..., None]
    return (rgb * (1 - c) + col * c).astype(_F32), (a * (1 - cov) + cov).astype(_F32)


def _paint(col: np.ndarray, cov: np.ndarray, paint: np.ndarray) -> np.ndarray:
    c = cov[..., None]
    return (col * (1 - c) + paint * c).astype(_F32)


def _paint_pm(rgb: np.ndarray, cov: np.ndarray, paint: np.ndarray) -> np.ndarray:
    """Paint inside an existing (opaque) region of a premultiplied layer (in place: only the
    bounding box of ``cov > 0`` is computed; elsewhere ``rgb`` is unchanged, exactly)."""
    rows = np.flatnonzero(cov.any(axis=1))
    if rows.size == 0:
        return rgb
    cols = np.flatnonzero(cov.any(axis=0))
    ys, xs = slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)
    c = cov[ys, xs, None]
    if isinstance(paint, np.ndarray) and paint.ndim == 3:
        paint = paint[ys, xs]
    rgb[ys, xs] = (rgb[ys, xs] * (1 - c) + paint * c).astype(_F32)
    return rgb


def _to_image_pm(rgb_pm: np.ndarray, a: np.ndarray) -> Image.Image:
    """A premultiplied float layer as a Pillow ``RGBa`` image."""
    arr = np.concatenate([np.clip(rgb_pm, 0, 1), np.clip(a, 0, 1)[..., None]], -1)
    arr = np.minimum(arr, arr[..., 3:4])  # premultiplied colour never exceeds alpha
    u8 = np.round(arr * 255).astype(np.uint8)
    return Image.frombytes("RGBa", (a.shape[1], a.shape[0]), u8.tobytes())


def _jaw(m: float) -> float:
    """How far the chin drops (unit coordinates) at mouth opening ``m``: a little up to the
    natural opening (1); past it (``lipsync``'s ``mouth`` above 1) the chin drops as fast as the
    lower lip (0.048 per unit), so a wider mouth lengthens the jaw and never runs off the chin."""
    if m <= 1.0:
        return m * 0.018
    return 0.018 + 0.048 * (m - 1.0)


def _jaw_box(mouth: tuple[float, float], amount: float, size: int, hh: float) -> tuple[int, int, int, int] | None:
    """The pixels ``(x0, y0, x1, y1)`` :func:`jaw_drop` changes (None: none)."""
    S = size
    mx, my = mouth[0] * S, mouth[1] * S
    shift = amount * S
    if shift < 0.05:
        return None
    y0, y1 = int(max(0, my - 2)), int(min(S, my + 0.7 * hh * S + shift + 4))
    x0, x1 = int(max(0, mx - 0.42 * hh * S)), int(min(S, mx + 0.42 * hh * S))
    return x0, y0, x1, y1


def jaw_drop(rgb: np.ndarray, a: np.ndarray, mouth: tuple[float, float], amount: float, size: int,
             hh: float) -> tuple[np.ndarray, np.ndarray]:
    """Stretch the region below the mouth down by ``amount`` (unit coords), fading out at the chin."""
    box = _jaw_box(mouth, amount, size, hh)
    if box is None:
        return rgb, a
    x0, y0, x1, y1 = box
    r, al = _jaw_values(rgb, a, mouth, amount, size, hh, box)
    out_rgb = rgb.copy()
    out_a = a.copy()
    out_rgb[y0:y1, x0:x1] = r
    out_a[y0:y1, x0:x1] = al
    return out_rgb, out_a


def _jaw_values(rgb: np.ndarray, a: np.ndarray, mouth: tuple[float, float], amount: float, size: int,
                hh: float, box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The stretched colour and alpha of the ``box`` from :func:`_jaw_box`, sampled from the
    whole ``rgb``/``a``."""
    S = size
    mx, my = mouth[0] * S, mouth[1] * S
    shift = amount * S
    x0, y0, x1, y1 = box
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    wx = np.clip(1 - ((xx - mx) / (0.42 * hh * S)) ** 2, 0, 1) ** 1.5
    # displacement grows from the mouth line to full at the chin, then stays (chin moves down)
    prog = np.clip((yy - my) / (0.45 * hh * S), 0, 1)
    disp = shift * _smoothstep(0, 1, prog) * wx
    src_y = yy - disp
    out_rgb = np.empty((y1 - y0, x1 - x0, 3), rgb.dtype)
    for ch in range(3):
        out_rgb[..., ch] = ndi.map_coordinates(rgb[..., ch], [src_y, xx], order=1, mode="nearest")
    out_a = ndi.map_coordinates(a, [src_y, xx], order=1, mode="nearest")
    return out_rgb, out_a


# --------------------------------------------------------------------------- the states' memo

STATE_MAGIC = b"NYFS"
"""A memoised state's file: these bytes, then one zstd frame with a checksum (a torn or flipped
file fails it) holding the region's place and size (``<4I``: x, y, width, height) and its ``RGBa``
pixels."""
STATE_LEVEL = 3  # zstd level: ~0.2 ms a state at 342², a third of the raw size


@functools.cache
def _code_digest() -> bytes | None:
    """What a rig's states depend on besides the rig itself (its latent and size) and the state:
    the code that draws them (this module and :mod:`nyeshc.ndi`, as they are on disk) and the
    versions of Pillow and numpy. A change to any of them names other files: nothing drawn by
    other code is ever read back. ``None`` (no memo) where the code cannot be read."""
    h = hashlib.sha256()
    try:
        for source in (__file__, ndi.__file__):
            h.update(Path(source).read_bytes())
    except (OSError, TypeError):  # (a frozen or zipped install)
        return None
    h.update(f"pillow {PIL.__version__} numpy {np.__version__}".encode())
    return h.digest()


def _state_file(rig: Rig, key: tuple[float, float, float, float]) -> Path | None:
    """Where ``rig``'s state ``key`` is kept in the memo folder lent to the job now running
    (``face-states/<digest of the code, the latent and the size>/<the key>.state``), or ``None``."""
    folder = memo_folder()
    code = _code_digest()
    if folder is None or code is None:
        return None
    if rig._memo_id is None:
        rig._memo_id = hashlib.sha256(code + rig.latent.tobytes() + struct.pack("<I", rig.size)).hexdigest()[:32]
    m, b, wd, th = key  # rounded to 4 places (:meth:`Rig._state_key`): the name is the key
    return folder / "face-states" / rig._memo_id / f"{m:.4f}_{b:.4f}_{wd:.4f}_{th:.4f}.state"


def _read_state(path: Path) -> tuple[Image.Image, tuple[int, int]] | None:
    """A state kept by :func:`_write_state`, or ``None`` (none, or not whole)."""
    data = memo_read(path)
    if data is None or data[:4] != STATE_MAGIC:
        return None
    import zstandard  # (the cache's frame sequences use it too)

    try:
        raw = zstandard.ZstdDecompressor().decompress(data[4:])
    except Exception:  # noqa: BLE001 - torn or foreign: drawn again
        return None
    if len(raw) < 16:
        return None
    x, y, w, h = struct.unpack("<4I", raw[:16])
    if len(raw) != 16 + w * h * 4:
        return None
    return Image.frombytes("RGBa", (w, h), raw[16:]), (x, y)


def _write_state(path: Path, state: tuple[Image.Image, tuple[int, int]]) -> None:
    img, (x, y) = state
    import zstandard

    packed = zstandard.ZstdCompressor(level=STATE_LEVEL, write_checksum=True).compress(
        struct.pack("<4I", x, y, img.width, img.height) + img.tobytes())
    memo_write(path, STATE_MAGIC + packed)


# --------------------------------------------------------------------------- public drawing API

_RIGS: OrderedDict[tuple[bytes, int], Rig] = OrderedDict()


def rig_for(latent: np.ndarray, size: int, state: Mapping[str, np.ndarray] | None = None) -> Rig:
    """The rig of ``(latent, size)``, memoised (the last :data:`RIGS_KEPT`: a scene's speakers);
    made from ``state`` (:meth:`Rig.state`, e.g. read from the cache) when given and not
    memoised, else built."""
    lat = np.asarray(latent, dtype=_F32).ravel()
    key = (lat.tobytes(), int(size))
    r = _RIGS.get(key)
    if r is None:
        r = Rig(lat, int(size)) if state is None else Rig.from_state(lat, int(size), state)
        _RIGS[key] = r
        while len(_RIGS) > RIGS_KEPT:
            token = _RIGS.popitem(last=False)[1]._token
            _STATES.drop(token)
            _LAYERS.drop(token)
    else:
        _RIGS.move_to_end(key)
    return r


def draw_face(latent: np.ndarray, size: int, mouth_open: float = 0.0, blink: float = 0.0,
              head: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 1.0),
              breath: float = 0.0, *, width: float = 1.0, teeth: float = 0.0) -> np.ndarray:
    """The puppet for ``latent`` as ``uint8 (size, size, 4)`` straight-alpha RGBA.

    ``mouth_open`` in [0, 1]: closed line -> open dark mouth with teeth and tongue hints.
    ``blink`` in [0, 1]: 1 = eyelids shut. ``head = (dx, dy, angle_deg, scale)`` moves the head
    (pixels, degrees counter-clockwise, factor) about the neck; the shoulders follow ``dx, dy``.
    ``breath`` (a small fraction, ~0.005) swells the shoulders and lifts the head. ``width``
    (:data:`WIDTH_RANGE`) and ``teeth`` (0..1) shape the lips for a viseme
    (:mod:`nyeshc.backends.procedural.visemes`): rounded below 1, spread above; the lower lip
    under the upper teeth.
    """
    return rig_for(latent, size).frame(mouth_open, blink, head, breath, width, teeth)


def face_geometry(latent: np.ndarray, size: int) -> tuple[tuple[float, float], tuple[float, float, float, float]]:
    """``(mouth, face_box)`` in pixels for the rest pose of ``latent`` at ``size``."""
    p = face_params(latent)
    mx, my = p["mouth"]
    box = (p["cx"] - p["hw"], p["cy"] - p["hh"], p["cx"] + p["hw"], p["cy"] + p["hh"])
    return (mx * size, my * size), tuple(float(v * size) for v in box)  # type: ignore[return-value]


