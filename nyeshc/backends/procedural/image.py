"""The procedural image backend: a CPPN with a real latent space.

A *compositional pattern-producing network* is a small MLP evaluated at every pixel: its inputs
are the pixel's coordinates (plus a few low-frequency Fourier features) and its output is a
colour. Because the network is a smooth function of continuous coordinates, its pictures have
no native resolution, and because it is a smooth function of its weights, nudging the weights
nudges the picture. That makes it a cheap stand-in for a GAN's latent space.

Here the network itself is *fixed*: its weights come from an internal seed, so every film sees
the same "model". A latent ``z`` (``float32 (latent_dim,)``, standard normal) is fed through a
small mapping net whose output

* moves the camera (zoom, rotation, offset) over the pattern,
* bends the plane with a low-frequency domain warp,
* modulates every hidden layer (FiLM: per-unit gain and bias),
* and chooses the palette (an OKLCH gradient: hue, hue sweep, chroma, contrast) and the light.

The network's three outputs are a palette position, a height field (lit as a relief, which
gives the painterly ridges) and an accent mask (a glow in a second colour). A frame larger than
``detail`` pixels is not evaluated at every pixel: the network runs on a coarser grid (its
outputs are smooth), they are upsampled bicubically, and the shading that makes edges out of
them runs at twice the ``detail`` grid, then the picture is upsampled to the frame. So edges
stay anti-aliased (no stair steps on diagonals) and a 720p frame stays well under 100 ms on a
laptop CPU.

A latent may carry a *scene code* after its ``latent_dim`` entries: a prompt's places, time of
day and weather, read by :mod:`nyeshc.backends.procedural.scenery`, which paints the place over
the field (see there for the vocabulary).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from PIL import Image

from nyeshc.backends.base import CostModel, Ease
from nyeshc.backends.procedural import scenery

__all__ = ["CPPNImage"]

_NET_SEED = 0x6E79_6573_6863  # "nyeshc": the one network every film shares
_N_FOURIER = 8
_N_OUT = 3
_N_CTL = 24
_TONE_MEAN = -0.68
_TONE_STD = 0.55
_GRAIN_FREQ = 18.0
_NET_SCALE = 0.75  # the network's grid, relative to the detail grid, where a frame is upsampled


def _gauss(x: np.ndarray) -> np.ndarray:
    return np.exp(-x * x)


def _oklab_to_srgb(lab: np.ndarray) -> np.ndarray:
    """OKLab ``(..., 3)`` -> gamma-encoded sRGB in [0, 1] (clipped)."""
    L, a, b = lab[..., 0], lab[..., 1], lab[..., 2]
    l_ = L + 0.3963377774 * a + 0.2158037573 * b
    m_ = L - 0.1055613458 * a - 0.0638541728 * b
    s_ = L - 0.0894841775 * a - 1.2914855480 * b
    l, m, s = l_**3, m_**3, s_**3
    r = 4.0767416621 * l - 3.3077115913 * m + 0.2309699292 * s
    g = -1.2684380046 * l + 2.6097574011 * m - 0.3413193965 * s
    bb = -0.0041960863 * l - 0.7034186147 * m + 1.7076147010 * s
    lin = np.clip(np.stack([r, g, bb], axis=-1), 0.0, 1.0)
    return np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * np.power(lin, 1 / 2.4) - 0.055)


def _oklch(L: np.ndarray, C: np.ndarray, h: np.ndarray) -> np.ndarray:
    ang = 2 * np.pi * h
    return _oklab_to_srgb(np.stack([L, C * np.cos(ang), C * np.sin(ang)], axis=-1))


class CPPNImage:
    """Backdrops and looks from a fixed random CPPN steered by a latent vector."""

    id = "image.procedural"
    # 2: anti-aliased shading where the network is upsampled (frames larger than ``detail``);
    #    prompts (scene codes). Frames the network covers at every pixel are unchanged.
    # 3: the colour is mixed in float32 (it was float64): a grey level apart on ~1e-5 of pixels
    version = "3"
    modality = "image"
    # measured: ~61-64 ms per 720p frame on a shared 2-core CPU
    cost = CostModel(device="cpu", per_call=0.002, per_frame=0.065)

    def __init__(self, *, latent_dim: int = 32, width: int = 32, depth: int = 4,
                 detail: int = 57_600) -> None:
        """``width``/``depth``: hidden units per layer and hidden layers of the CPPN;
        ``detail``: the most pixels evaluated per frame (the rest is bicubic upsampling)."""
        if latent_dim < 4 or width < 4 or depth < 1 or detail < 1024:
            raise ValueError("CPPNImage: latent_dim>=4, width>=4, depth>=1, detail>=1024")
        self.latent_dim = int(latent_dim)
        self.width = int(width)
        self.depth = int(depth)
        self.detail = int(detail)
        self._build()

    @property
    def settings(self) -> Mapping[str, Any]:
        return {"latent_dim": self.latent_dim, "width": self.width, "depth": self.depth,
                "detail": self.detail}

    # ------------------------------------------------------------------ the fixed network

    def _build(self) -> None:
        rng = np.random.default_rng(_NET_SEED)
        d, w = self.latent_dim, self.width
        f32 = np.float32
        m = 64
        # mapping net z -> style
        self._m1 = (rng.standard_normal((d, m)) / np.sqrt(d)).astype(f32)
        self._m1b = (0.2 * rng.standard_normal(m)).astype(f32)
        self._m2 = (rng.standard_normal((m, m)) / np.sqrt(m)).astype(f32)
        # Fourier features of the warped plane (rows: features; columns: pixels)
        ang = rng.uniform(0, 2 * np.pi, _N_FOURIER)
        mag = rng.uniform(0.8, 3.6, _N_FOURIER)
        self._ff = np.stack([np.cos(ang) * mag, np.sin(ang) * mag], axis=1).astype(f32)  # (F, 2)
        self._ffp = rng.uniform(0, 2 * np.pi, (_N_FOURIER, 1)).astype(f32)
        # warp field: 2 -> 8 (sin) -> 2
        self._wa = (rng.standard_normal((8, 2)) * 1.4).astype(f32)
        self._wab = rng.uniform(0, 2 * np.pi, (8, 1)).astype(f32)
        self._wb = (rng.standard_normal((2, 8)) / np.sqrt(8)).astype(f32)
        n_in = 3 + _N_FOURIER
        # hidden layers; units are ordered sin | tanh | gauss so each activation is a row slice
        self._layers: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self._split = (w // 3, w // 3 + (w - w // 3) // 2)
        fan = n_in
        for _ in range(self.depth):
            W = (rng.standard_normal((w, fan)) * (1.9 / np.sqrt(fan))).astype(f32)
            b = (0.5 * rng.standard_normal(w)).astype(f32)
            G = (rng.standard_normal((m, w)) * (0.35 / np.sqrt(m))).astype(f32)  # gain mod
            B = (rng.standard_normal((m, w)) * (0.9 / np.sqrt(m))).astype(f32)  # bias mod
            self._layers.append((W, b, G, B))
            fan = w
        self._wo = (rng.standard_normal((_N_OUT, w)) * (1.3 / np.sqrt(w))).astype(f32)
        # style -> scalar controls (camera, warp, palette, light), squashed with tanh later
        self._ctl = (rng.standard_normal((m, _N_CTL)) * (1.0 / np.sqrt(m))).astype(f32)
        # the palette's hue also reads the raw latent directly, so moods spread evenly
        self._hue = (rng.standard_normal((d, 2)) / np.sqrt(d)).astype(f32)

    def _style(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h = np.tanh(z @ self._m1 + self._m1b)
        s = np.tanh(h @ self._m2)
        return s.astype(np.float32), np.tanh(s @ self._ctl).astype(np.float64)

    # ------------------------------------------------------------------ latent space

    def sample(self, seed: int, truncation: float = 1.0, *, prompt: str | None = None) -> np.ndarray:
        """The latent for ``seed``. With a ``prompt``, the words this backend knows (see
        :mod:`~nyeshc.backends.procedural.scenery`) are appended as a scene code of
        ``SCENE_DIM`` weights, and the words it does not know, with the seed, seed the CPPN part;
        a prompt of unknown words only gives a plain ``latent_dim`` latent (the abstract field).
        ``truncation`` scales the CPPN part only."""
        if prompt is None:
            z = np.random.default_rng(int(seed)).standard_normal(self.latent_dim)
            return (float(truncation) * z).astype(np.float32)
        code, unknown = scenery.read_prompt(str(prompt))
        rng = np.random.default_rng(scenery.words_seed(seed, unknown) if unknown else int(seed))
        z = (float(truncation) * rng.standard_normal(self.latent_dim)).astype(np.float32)
        if not code.any():
            return z
        return np.concatenate([z, code]).astype(np.float32)

    def _latent_parts(self, latent: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """``(CPPN part, scene code or None)`` of a latent of either length."""
        z = np.asarray(latent, np.float32).reshape(-1)
        d = self.latent_dim
        if z.shape[0] == d:
            return z, None
        if z.shape[0] == d + scenery.SCENE_DIM:
            return z[:d], z[d:]
        raise ValueError(f"latent has {z.shape[0]} dims, this backend uses {d} (or {d + scenery.SCENE_DIM} "
                         "with a prompt's scene code)")

    def _scene_parts(self, keys: Sequence[np.ndarray]) -> list[np.ndarray] | None:
        """The keys' scene codes (zeros for plain latents), or None when no key has one."""
        parts = [self._latent_parts(k)[1] for k in keys]
        if all(p is None for p in parts):
            return None
        zero = np.zeros(scenery.SCENE_DIM, np.float32)
        return [zero if p is None else p for p in parts]

    def blend(self, a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
        """Spherical interpolation of direction, linear interpolation of length (of the CPPN
        part); a scene code (a plain latent has none: zeros) is interpolated linearly."""
        scenes = self._scene_parts([a, b])
        if scenes is not None:
            z = self.blend(self._latent_parts(a)[0], self._latent_parts(b)[0], t)
            sc = scenes[0] + (scenes[1] - scenes[0]) * np.float32(t)
            return np.concatenate([z, sc]).astype(np.float32)
        a = np.asarray(a, np.float64)
        b = np.asarray(b, np.float64)
        t = float(t)
        na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
        if na < 1e-8 or nb < 1e-8:
            return ((1 - t) * a + t * b).astype(np.float32)
        ua, ub = a / na, b / nb
        cos = float(np.clip(ua @ ub, -1.0, 1.0))
        theta = np.arccos(cos)
        if theta < 1e-4 or np.pi - theta < 1e-3:
            u = (1 - t) * ua + t * ub
            nu = float(np.linalg.norm(u))
            u = u / nu if nu > 1e-8 else u
        else:
            s = np.sin(theta)
            u = (np.sin((1 - t) * theta) * ua + np.sin(t * theta) * ub) / s
        return (u * ((1 - t) * na + t * nb)).astype(np.float32)

    def interpolate(self, keys: Sequence[np.ndarray], t: float, ease: Ease = "smooth") -> np.ndarray:
        """Key ``i`` at ``t = i/(n-1)``. ``linear``: slerp per segment at constant speed.
        ``smooth``: two keys -> slerp with smoothstep easing; more keys -> a Catmull-Rom spline
        through the keys (C1, easing in and out at the ends) with its length following the
        spline through the keys' lengths. Scene codes (from prompts) follow the same weights,
        without the length correction."""
        if len(keys) < 2:
            raise ValueError("interpolate needs at least 2 keys")
        scenes = self._scene_parts(keys)
        if scenes is not None:
            z = self.interpolate([self._latent_parts(k)[0] for k in keys], t, ease)
            sc = self._interpolate_linear_part(scenes, t, ease)
            return np.concatenate([z, sc]).astype(np.float32)
        ks = [np.asarray(k, np.float32) for k in keys]
        n = len(ks)
        if ease not in ("linear", "smooth"):
            raise ValueError(f"unknown ease {ease!r}")
        x = float(np.clip(t, 0.0, 1.0)) * (n - 1)
        i = min(int(np.floor(x)), n - 2)
        u = x - i
        if u == 0.0:
            return ks[i].copy()
        if u == 1.0:
            return ks[i + 1].copy()
        if ease == "linear":
            return self.blend(ks[i], ks[i + 1], u)
        if n == 2:
            return self.blend(ks[0], ks[1], u * u * (3 - 2 * u))
        p = [np.asarray(k, np.float64) for k in ks]
        p0 = p[i - 1] if i > 0 else p[i + 1]  # mirrored phantom: zero tangent at the ends
        p1, p2 = p[i], p[i + 1]
        p3 = p[i + 2] if i + 2 < n else p[i]

        def cr(a: Any, b: Any, c: Any, d: Any) -> Any:
            return 0.5 * (2 * b + (c - a) * u + (2 * a - 5 * b + 4 * c - d) * u * u
                          + (3 * b - a - 3 * c + d) * u ** 3)

        v = cr(p0, p1, p2, p3)
        norms = [float(np.linalg.norm(q)) for q in (p0, p1, p2, p3)]
        target = max(cr(*norms), 0.0)
        nv = float(np.linalg.norm(v))
        if nv > 1e-8:
            v = v * (target / nv)
        return v.astype(np.float32)

    @staticmethod
    def _interpolate_linear_part(ks: Sequence[np.ndarray], t: float, ease: Ease) -> np.ndarray:
        """The scene codes' path, at the same parameter as the CPPN part's."""
        if ease not in ("linear", "smooth"):
            raise ValueError(f"unknown ease {ease!r}")
        n = len(ks)
        x = float(np.clip(t, 0.0, 1.0)) * (n - 1)
        i = min(int(np.floor(x)), n - 2)
        u = x - i
        p = [np.asarray(k, np.float64) for k in ks]
        if ease == "linear" or u in (0.0, 1.0):
            return (p[i] + (p[i + 1] - p[i]) * u).astype(np.float32)
        if n == 2:
            v = u * u * (3 - 2 * u)
            return (p[0] + (p[1] - p[0]) * v).astype(np.float32)
        p0 = p[i - 1] if i > 0 else p[i + 1]
        p1, p2 = p[i], p[i + 1]
        p3 = p[i + 2] if i + 2 < n else p[i]
        v = 0.5 * (2 * p1 + (p2 - p0) * u + (2 * p0 - 5 * p1 + 4 * p2 - p3) * u * u
                   + (3 * p1 - p0 - 3 * p2 + p3) * u ** 3)
        return v.astype(np.float32)

    # ------------------------------------------------------------------ rendering

    def _coords(self, gw: int, gh: int, aspect: float) -> tuple[np.ndarray, np.ndarray]:
        """Aspect-correct pixel-centre coordinates: y in [-1, 1] (down), x in [-aspect, aspect]."""
        ys = ((np.arange(gh, dtype=np.float32) + 0.5) / gh * 2 - 1)
        xs = ((np.arange(gw, dtype=np.float32) + 0.5) / gw * 2 - 1) * np.float32(aspect)
        return xs, ys

    def _fields(self, z: np.ndarray, gw: int, gh: int, aspect: float,
                calm: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """The network's outputs ``(3, gh, gw)`` on a grid covering the frame; plus controls.
        ``calm`` (0..1, a scene's outdoor weight) levels the camera and stretches the field
        into horizontal strata, so it reads as clouds over a place."""
        s, c = self._style(z)
        f32 = np.float32
        xs, ys = self._coords(gw, gh, aspect)
        X = np.broadcast_to(xs[None, :], (gh, gw)).ravel()
        Y = np.broadcast_to(ys[:, None], (gh, gw)).ravel()
        # camera: zoom, rotation, anisotropic stretch (strata <-> columns), offset
        zoom = 1.1 * np.exp(0.35 * c[0])
        rot = 0.5 * c[1]
        an = np.exp(0.7 * c[5])
        if calm:
            rot = rot * (1.0 - calm)
            an = an ** (1.0 - calm) * np.exp(-0.8 * calm)
        cr, sr = np.cos(rot), np.sin(rot)
        P = np.empty((2, X.size), f32)
        P[0] = (cr * X - sr * Y) * f32(zoom * an) + f32(0.8 * c[2])
        P[1] = (sr * X + cr * Y) * f32(zoom / an) + f32(0.8 * c[3])
        # low-frequency domain warp
        warp = 0.35 + 0.25 * c[4]
        P += f32(warp) * (self._wb @ np.sin(self._wa @ P + (self._wab + 2.0 * s[:8, None])))
        h = np.empty((3 + _N_FOURIER, X.size), f32)
        h[0:2] = P
        h[2] = np.sqrt(P[0] * P[0] + P[1] * P[1])
        np.sin(self._ff @ P + (self._ffp + 1.5 * s[8:8 + _N_FOURIER, None]), out=h[3:])
        a, b2 = self._split
        for W, b, G, B in self._layers:
            gain = (1.0 + s @ G)[:, None]
            bias = (b + s @ B)[:, None]
            pre = (gain * W) @ h
            pre += bias
            np.sin(pre[:a], out=pre[:a])
            np.tanh(pre[a:b2], out=pre[a:b2])
            g = pre[b2:]
            np.multiply(g, g, out=g)
            np.negative(g, out=g)
            np.exp(g, out=g)
            h = pre
        o = (self._wo @ h).reshape(_N_OUT, gh, gw)
        return o, c

    def _palette(self, z: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A 256-entry sRGB gradient (dark -> light) and an accent colour, from the latent."""
        hv = np.asarray(z, np.float64) @ self._hue.astype(np.float64)
        hue = (np.arctan2(hv[1], hv[0]) / (2 * np.pi)) % 1.0
        sweep = 0.16 * c[6] + 0.05 * np.tanh(4.0 * c[6])  # hue drift from shadows to lights
        chroma = 0.03 + 0.09 * (0.5 + 0.5 * c[7]) ** 1.3
        lo = 0.10 + 0.06 * c[8]
        hi = 0.70 + 0.16 * c[9]
        gamma = np.exp(0.5 * c[10])
        t = np.linspace(0.0, 1.0, 256)
        L = lo + (hi - lo) * t ** gamma
        C = chroma * (0.45 + 0.9 * np.sin(np.pi * np.clip(t * 1.1, 0, 1)) ** 0.8) * (0.45 + 0.55 * L / hi)
        H = hue + sweep * (t - 0.5) + 0.04 * np.sin(2 * np.pi * t * 1.5 + 3 * c[11])
        lut = _oklch(L, C, H)
        acc_h = hue + 0.42 + 0.14 * c[12]
        accent = _oklch(np.array([0.80 + 0.07 * c[13]]), np.array([0.10 + 0.04 * c[14]]),
                        np.array([acc_h]))[0]
        return lut.astype(np.float32), accent.astype(np.float32)

    def _grid(self, width: int, height: int) -> tuple[int, int]:
        px = width * height
        if px <= self.detail:
            return width, height
        k = np.sqrt(self.detail / px)
        return max(2, int(round(width * k))), max(2, int(round(height * k)))

    def _grids(self, width: int, height: int) -> tuple[tuple[int, int], tuple[int, int]]:
        """``((network grid), (shading grid))`` for a frame.

        A frame of at most ``detail`` pixels is computed at every pixel. A larger one is where
        stair steps came from: the shading (lighting, terraces, the palette, a scene's edges)
        turns the network's smooth outputs into steep edges, and done at the network's grid and
        upsampled, those edges were staircases. So the shading runs at twice the ``detail``
        grid (capped at the frame), from the bicubically upsampled network outputs, and the
        network itself at 3/4 of that grid (its outputs are smooth; measured: the edges stay
        clean, and a frame costs what it did before)."""
        gw, gh = self._grid(width, height)
        if (gw, gh) == (width, height):
            return (gw, gh), (gw, gh)
        return ((max(2, int(round(gw * _NET_SCALE))), max(2, int(round(gh * _NET_SCALE)))),
                (min(width, 2 * gw), min(height, 2 * gh)))

    def _shade(self, z: np.ndarray, o: np.ndarray, c: np.ndarray, gw: int, gh: int, aspect: float,
               lut: np.ndarray, accent: np.ndarray, vignette: bool = True
               ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The field's colour ``(gh, gw, 3)`` float32 from the network outputs ``o`` on a
        ``gw``×``gh`` grid, and the parts a scene paints with (tone, slope, vignette)."""
        xs, ys = self._coords(gw, gh, aspect)
        X, Y = xs[None, :], ys[:, None]

        # relief lighting of the height field (gradient in frame units: resolution independent)
        relief = o[1] * np.float32(0.8 + 0.4 * c[21])
        step = np.float32(2.0 / gh)
        gy, gx = np.gradient(relief, step)
        la = 2.3 + 0.7 * c[15]
        slope = (gx * np.float32(np.cos(la)) + gy * np.float32(np.sin(la)))
        slope /= np.sqrt(1.0 + gx * gx + gy * gy)
        # palette position: network tone, ridges catching the light, a horizon, exposure
        tone = np.tanh(np.float32(0.9 + 0.3 * c[22]) * (o[0] - np.float32(_TONE_MEAN)) / np.float32(_TONE_STD))
        tone = tone + np.float32(0.35 * c[23]) * Y + np.float32(0.25 * c[17] - 0.15)
        tone = np.clip(0.5 + 0.42 * tone + 0.14 * slope, 0.0, 1.0)
        # soft terraces: the tone settles into a few bands, like layered washes of paint
        bands = np.float32(5.0 + 2.0 * c[16])
        q = tone * bands
        fl = np.floor(q)
        fr = q - fl
        k = np.float32(0.6 + 0.35 * c[6])  # band sharpness (< 1: monotone)
        terr = (fl + fr - k * np.sin(np.float32(2 * np.pi) * fr) / np.float32(2 * np.pi)) / bands
        tone = np.clip(tone + np.float32(0.6 + 0.3 * c[16]) * (terr - tone), 0.0, 1.0)
        # a light source somewhere (a low sun, a window): glow in the accent colour
        gx0, gy0 = 0.9 * aspect * c[18], 0.8 * c[19] - 0.25
        d2 = (X - np.float32(gx0)) ** 2 + (Y - np.float32(gy0)) ** 2
        glow = np.float32(0.25 + 0.25 * c[20]) * np.exp(-d2 / np.float32(0.9)) * (0.4 + 0.6 * tone)
        amask = np.clip((o[2] - np.float32(0.55)) * np.float32(1.6), 0.0, 1.0) ** 2 * (0.3 + 0.7 * tone)
        amask = np.clip(np.float32(0.5) * amask + glow, 0.0, 0.85)
        # vignette (a function of the frame's size only: kept for the next frame of a morph)
        vkey = (gw, gh, aspect)
        vign = self._vignettes.get(vkey) if hasattr(self, "_vignettes") else None
        if vign is None:
            vign = 1.0 - 0.38 * np.clip((X * X / np.float32(aspect * aspect) + Y * Y) / 2.0, 0, 1) ** 1.3
            self._vignettes = {vkey: vign}
        # brush grain: fine streaks along the relief's contours, faded where they would alias
        gmag = np.sqrt(gx * gx + gy * gy) * np.float32(1.0 / gh)
        fade = np.exp(-(gmag * np.float32(_GRAIN_FREQ / 1.5)) ** 2)
        grain = np.sin(np.float32(_GRAIN_FREQ) * relief + np.float32(3.0) * o[2]) * fade
        if vignette:
            shade = (1.0 + 0.3 * slope + np.float32(0.05) * grain) * vign
        else:
            shade = 1.0 + 0.3 * slope + np.float32(0.05) * grain

        idx = tone * np.float32(255.0)
        i0 = np.minimum(idx.astype(np.int32), 254)
        # float32 like everything else here (version 2 mixed the palette in float64, from
        # float32 minus int32: 0-1 grey level on 1e-5 of the pixels, at half the speed)
        fr = (idx - i0).astype(np.float32)
        # the colour is computed channel-planar, (3, gh, gw), and handed on as its (gh, gw, 3)
        # view: the same arithmetic as on pixel-interleaved arrays, but numpy's loops run along
        # rows instead of over 3 channels at a time (several times faster)
        lut_t = np.ascontiguousarray(lut.T, dtype=np.float32)  # (3, 256)
        col = lut_t.take(i0, axis=1)
        col *= 1 - fr
        col += lut_t.take(i0 + 1, axis=1) * fr
        col += (np.asarray(accent, np.float32).reshape(3, 1, 1) - col) * amask
        col *= shade
        return col.transpose(1, 2, 0), {"tone": tone, "slope": slope, "vign": vign, "X": X, "Y": Y}

    def _geometry(self, z: np.ndarray) -> np.ndarray:
        """A scene's layout parameters in (-1, 1) from the CPPN part of the latent (continuous,
        so a morph between two places moves their layouts smoothly)."""
        if not hasattr(self, "_geo"):
            rng = np.random.default_rng(_NET_SEED + 1)
            self._geo = (rng.standard_normal((self.latent_dim, 12)) / np.sqrt(self.latent_dim)).astype(np.float64)
        return np.tanh(1.3 * (np.asarray(z, np.float64) @ self._geo))

    def render(self, latent: np.ndarray, width: int, height: int) -> np.ndarray:
        """``uint8 (height, width, 3)``. A latent with a scene code (from a prompt) is painted as
        its place under its light (:func:`~nyeshc.backends.procedural.scenery.paint`); a code of
        zeros, or none, is the abstract field."""
        width, height = int(width), int(height)
        if width < 1 or height < 1:
            raise ValueError("render needs a positive size")
        z, scene = self._latent_parts(latent)
        if scene is not None and not np.any(scene):
            scene = None
        aspect = width / height
        (gw, gh), (sw, sh) = self._grids(width, height)
        o, c = self._fields(z, gw, gh, aspect, 0.0 if scene is None else scenery.calm(scene))
        if (sw, sh) != (gw, gh):
            o = np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(ch), "F").resize((sw, sh), Image.BICUBIC))
                          for ch in o])
        lut, accent = self._palette(z, c)
        if scene is None:
            col, _ = self._shade(z, o, c, sw, sh, aspect, lut, accent)
        else:
            g = self._geometry(z)
            light = scenery.lighting(scene, lut, accent, c, aspect, g)
            lut = lut + (light.lut() - lut) * np.float32(light.amount)
            acc = accent + (np.asarray(light.sun, np.float32) - accent) * np.float32(light.amount)
            field, parts = self._shade(z, o, c, sw, sh, aspect, lut.astype(np.float32), acc.astype(np.float32),
                                       vignette=False)
            picture = scenery.paint(scene, g, light, X=parts["X"], Y=parts["Y"], aspect=aspect,
                                    tone=parts["tone"], slope=parts["slope"], field=field)
            col = picture * parts["vign"][..., None]
        img = np.ascontiguousarray(np.clip(col * 255.0 + 0.5, 0, 255).astype(np.uint8))
        if (sw, sh) != (width, height):
            img = np.asarray(Image.fromarray(img, "RGB").resize((width, height), Image.BICUBIC))
        return np.ascontiguousarray(img)
