"""Scenery: the words the procedural image backend knows, and the places it paints from them.

This file is long (about 1,000 lines) on purpose: it is a vocabulary (every word the procedural
image backend knows, with its weights) and the painter that reads those weights; the two must
change together.

A look's prompt (``generate "a drowned cathedral at dusk"``) is read into a *scene code*, a
short vector of weights that :class:`~nyeshc.backends.procedural.image.CPPNImage` appends to
its latent, so a prompted look is still a point in the latent space: blends and morphs between
looks interpolate the weights (a cathedral fades into a sea) while the CPPN's own part of the
latent moves as before. :func:`read_prompt` is the vocabulary; :func:`paint` draws a scene.

The vocabulary (case-insensitive; plurals and the synonyms below count; words like "a", "at",
"the" are skipped):

* **time of day** sets the palette, the light and the sun or moon: ``dawn`` (sunrise,
  daybreak; morning is half dawn, half day), ``day`` (noon, midday, afternoon, daylight),
  ``dusk`` (sunset, evening and twilight lean toward night), ``night`` (midnight). Several
  times of day mix. Without one the look keeps its seed's own palette.
* **weather**: ``rain`` (rainy, storm, drizzle, downpour: darker, greyer, streaks of rain) and
  ``fog`` (mist, haze: distance fades into a veil).
* **places** choose a structure drawn over the CPPN field, which becomes clouds in the sky and
  the texture of walls, water and sand:

  ======================= ==========================================================
  ``sea``                 horizon, waves, the sun's glitter, a beach (shore, beach,
                          ocean, coast, harbour, bay, lake)
  ``cathedral``           arcades of pointed arches receding down a nave to a wall of
                          lancet windows and a rose window (church, chapel, hall,
                          abbey, temple, crypt, cloister)
  ``ruins``               a broken wall with empty arches and fallen columns (ruin,
                          rubble, wreck)
  ``forest``              trunks in three depths, a canopy, shafts of light (woods,
                          trees, grove, jungle, park)
  ``city``                a skyline in two depths, windows lit at night, a street to the
                          horizon with lamps (street, town, alley, avenue, road)
  ``room``                walls, floor and ceiling in perspective, a window onto the sky,
                          its light on the floor, a lamp at night (kitchen, office,
                          interior, bedroom, house, home, library, corridor, bar, cafe)
  ``desert``              dune ridges lit on one side (dunes, sand, wasteland)
  ``sky``                 a low horizon under a wide sky, stars by night (space, stars,
                          cosmos: these make it night when no time of day is given)
  ======================= ==========================================================

Any other word is *unknown*: it does not choose a structure; unknown words (with the look's
seed) seed the CPPN part of the latent, so ``"a drowned cathedral"`` and ``"cathedral"`` are
two different cathedrals, and a prompt of unknown words only is the seed's abstract field,
seeded by the words. Geometry (where the horizon lies, how many arches, the skyline) comes
from the CPPN part through fixed projections, so the same place (same seed, same words) gives
the same composition at every time of day, and only the light changes.

Everything is drawn at the backend's shading resolution with analytic coverage (each edge is a
signed distance or a height profile, filtered over one pixel), so the edges are anti-aliased.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["LIGHTS", "PLACES", "SCENE_DIM", "WEATHER", "Light", "calm", "describe", "lighting", "paint", "read_prompt",
           "words_seed"]

LIGHTS = ("dawn", "day", "dusk", "night")
WEATHER = ("rain", "fog")
PLACES = ("sea", "cathedral", "ruins", "forest", "city", "room", "desert", "sky")
NAMES = LIGHTS + WEATHER + PLACES
SCENE_DIM = len(NAMES)
"""Entries a prompt appends to the latent: 4 times of day, 2 weathers, 8 places."""
_I = {n: i for i, n in enumerate(NAMES)}
_F32 = np.float32


def _w(**kw: float) -> tuple[tuple[int, float], ...]:
    return tuple((_I[k], float(v)) for k, v in kw.items())


def _each(entry: tuple[tuple[int, float], ...], *words: str) -> dict[str, tuple[tuple[int, float], ...]]:
    return {w: entry for w in words}


WORDS: dict[str, tuple[tuple[int, float], ...]] = {
    **_each(_w(dawn=1), "dawn", "sunrise", "daybreak"),
    **_each(_w(dawn=0.5, day=0.5), "morning"),
    **_each(_w(day=1), "day", "daytime", "noon", "midday", "daylight"),
    **_each(_w(day=0.8, dusk=0.2), "afternoon"),
    **_each(_w(dusk=1), "dusk", "sunset", "sundown"),
    **_each(_w(dusk=0.6, night=0.4), "twilight", "evening"),
    **_each(_w(night=1), "night", "midnight", "nighttime"),
    **_each(_w(rain=1), "rain", "rainy", "raining", "storm", "stormy", "drizzle", "downpour", "rainstorm"),
    **_each(_w(fog=1), "fog", "foggy", "mist", "misty", "haze", "hazy"),
    **_each(_w(sea=1), "sea", "ocean", "shore", "beach", "coast", "seaside", "harbour", "harbor", "bay", "lake",
            "waves", "seashore"),
    **_each(_w(cathedral=1), "cathedral", "church", "chapel", "abbey", "hall", "nave", "cloister", "crypt",
            "temple", "basilica", "monastery"),
    **_each(_w(ruins=1), "ruins", "ruin", "ruined", "rubble", "wreck", "wreckage"),
    **_each(_w(forest=1), "forest", "woods", "wood", "trees", "tree", "grove", "jungle", "woodland", "park"),
    **_each(_w(city=1), "city", "street", "town", "alley", "avenue", "road", "skyline", "downtown", "boulevard"),
    **_each(_w(room=1), "room", "kitchen", "office", "interior", "bedroom", "house", "home", "apartment", "flat",
            "study", "library", "classroom", "corridor", "hallway", "bar", "cafe", "diner", "bathroom", "attic"),
    **_each(_w(desert=1), "desert", "dunes", "dune", "sand", "sands", "wasteland"),
    **_each(_w(sky=1), "sky", "space", "stars", "star", "starry", "heavens", "cosmos", "universe"),
}
_NIGHT_WORDS = frozenset({"space", "cosmos", "universe", "stars", "star", "starry"})
STOP = frozenset("a an the at of in on by with and or to from into over under near its their his her this that "
                 "some is are was were int ext est i e continuous later same moments time".split())


def _lookup(word: str) -> tuple[tuple[int, float], ...] | None:
    if word in WORDS:
        return WORDS[word]
    for cut in ("s", "es"):
        if word.endswith(cut) and word[: -len(cut)] in WORDS:
            return WORDS[word[: -len(cut)]]
    return None


def read_prompt(prompt: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """``(scene code float32 (SCENE_DIM,), unknown words)`` for a prompt.

    Times of day are averaged (their weights sum to 1 when any is given); weathers and places
    are 0 or 1. Unknown words keep their order; stop words are dropped."""
    code = np.zeros(SCENE_DIM, np.float64)
    light = np.zeros(len(LIGHTS), np.float64)
    unknown: list[str] = []
    night_word = False
    for word in re.findall(r"[a-z0-9]+", prompt.lower()):
        if word in STOP:
            continue
        entry = _lookup(word)
        if entry is None:
            unknown.append(word)
            continue
        night_word |= word in _NIGHT_WORDS
        for i, v in entry:
            if i < len(LIGHTS):
                light[i] += v
            else:
                code[i] = max(code[i], v)
    if light.sum() > 0:
        code[: len(LIGHTS)] = light / light.sum()
    elif night_word:
        code[_I["night"]] = 1.0
    return code.astype(np.float32), tuple(unknown)


def calm(scene: np.ndarray) -> float:
    """How level the CPPN field lies under a scene (its outdoor places' weight): as clouds."""
    s = np.clip(np.asarray(scene, np.float64), 0.0, 1.0)
    return float(min(1.0, sum(s[_I[p]] for p in ("sea", "ruins", "forest", "city", "desert", "sky"))))


def words_seed(seed: int, words: tuple[str, ...]) -> int:
    """A 64-bit seed from a look's seed and its unknown words (stable across platforms)."""
    h = hashlib.sha256(f"{int(seed)}\x00{' '.join(words)}".encode()).digest()
    return int.from_bytes(h[:8], "little")


def describe(scene: np.ndarray) -> str:
    """The scene code in words, strongest first (``"cathedral 1, night 1"``)."""
    s = np.asarray(scene, np.float64).reshape(-1)[:SCENE_DIM]
    parts = [(float(v), NAMES[i]) for i, v in enumerate(s) if abs(v) > 1e-3]
    parts.sort(key=lambda p: -p[0])
    return ", ".join(f"{n} {v:.2g}" for v, n in parts) or "no scene"


# --------------------------------------------------------------------------- lighting

# per time of day: sky at the zenith and at the horizon, the sun's (moon's) colour, the
# illumination of lit (key) and shadowed (shade) surfaces, the sun's place (x as a fraction of
# the half width; y above the horizon when "rel", else absolute), its radius and how much it lights
_TOD: dict[str, dict[str, Any]] = {
    "dawn": dict(zen=(0.40, 0.47, 0.68), hor=(0.98, 0.76, 0.63), sun=(1.0, 0.88, 0.70), key=(1.0, 0.82, 0.66),
                 shade=(0.36, 0.35, 0.48), sx=-0.55, sy=-0.10, rel=True, sr=0.07, strength=0.75),
    "day": dict(zen=(0.30, 0.54, 0.88), hor=(0.80, 0.88, 0.95), sun=(1.0, 0.98, 0.90), key=(1.0, 0.97, 0.90),
                shade=(0.50, 0.56, 0.66), sx=0.45, sy=-0.78, rel=False, sr=0.055, strength=1.0),
    "dusk": dict(zen=(0.17, 0.15, 0.38), hor=(1.0, 0.55, 0.28), sun=(1.0, 0.66, 0.36), key=(0.95, 0.58, 0.38),
                 shade=(0.26, 0.19, 0.32), sx=0.52, sy=-0.04, rel=True, sr=0.09, strength=0.6),
    "night": dict(zen=(0.012, 0.022, 0.065), hor=(0.07, 0.11, 0.21), sun=(0.86, 0.90, 1.0),
                  key=(0.32, 0.40, 0.62), shade=(0.07, 0.08, 0.15), sx=-0.42, sy=-0.62, rel=False, sr=0.045,
                  strength=0.18),
}
_HORIZON = {"sea": -0.02, "desert": 0.04, "city": 0.30, "forest": 0.50, "ruins": 0.40, "sky": 0.62}


@dataclass
class Light:
    """A scene's light: colours (sRGB floats), the sun's place and strength, weather."""

    zen: np.ndarray
    hor: np.ndarray
    sun: np.ndarray
    key: np.ndarray
    shade: np.ndarray
    sun_xy: tuple[float, float]
    sun_r: float
    strength: float  # how much the sun lights (1 day .. 0.18 night)
    night: float  # the night weight (stars, lit windows, lamps)
    day: float  # dawn + day (shafts of light)
    amount: float  # total time-of-day weight (0: the seed's own palette)
    rain: float
    fog: float
    horizon: float

    @property
    def haze(self) -> np.ndarray:
        grey = float(self.hor @ np.array([0.3, 0.55, 0.15]))
        return 0.75 * self.hor + 0.25 * np.array([grey, grey, grey])

    def lut(self, n: int = 256) -> np.ndarray:
        """The field's palette under this light: shadow, zenith, horizon, sun."""
        t = np.linspace(0.0, 1.0, n)
        stops = np.array([0.0, 0.38, 0.78, 1.0])
        cols = np.stack([0.45 * self.shade, 0.6 * self.zen + 0.4 * self.shade, self.hor,
                         0.5 * self.sun + 0.5 * self.hor])
        return np.stack([np.interp(t, stops, cols[:, k]) for k in range(3)], axis=1).astype(np.float32)


def lighting(scene: np.ndarray, lut: np.ndarray, accent: np.ndarray, c: np.ndarray, aspect: float,
             g: np.ndarray) -> Light:
    """The light of a scene code: its times of day mixed, the rest (when the weights sum to less
    than 1) from the seed's own palette (``lut``, ``accent``) and glow position (controls ``c``)."""
    s = np.clip(np.asarray(scene, np.float64), 0.0, None)
    w = s[: len(LIGHTS)]
    amount = float(min(w.sum(), 1.0))
    places = {p: float(min(s[_I[p]], 1.0)) for p in PLACES}
    wsum = sum(places[p] for p in _HORIZON)
    horizon = (sum(places[p] * _HORIZON[p] for p in _HORIZON) / wsum) if wsum > 1e-6 else 0.3
    horizon += 0.06 * float(g[0])
    L = lut.astype(np.float64)
    own = dict(zen=L[70], hor=L[215], sun=np.asarray(accent, np.float64), key=L[235], shade=L[60],
               sx=0.9 * float(c[18]), sy=0.8 * float(c[19]) - 0.25, sr=0.06, strength=0.6)
    acc: dict[str, Any] = {k: (1.0 - amount) * np.asarray(own[k], np.float64)
                           for k in ("zen", "hor", "sun", "key", "shade")}
    sx = (1.0 - amount) * own["sx"]
    sy = (1.0 - amount) * own["sy"]
    sr = (1.0 - amount) * own["sr"]
    strength = (1.0 - amount) * own["strength"]
    total = float(w.sum())
    for i, name in enumerate(LIGHTS):
        if w[i] <= 0:
            continue
        k = amount * w[i] / total
        t = _TOD[name]
        for key in acc:
            acc[key] = acc[key] + k * np.asarray(t[key], np.float64)
        sx += k * t["sx"]
        sy += k * ((horizon + t["sy"]) if t["rel"] else t["sy"])
        sr += k * t["sr"]
        strength += k * t["strength"]
    sx = (sx + 0.12 * float(g[1])) * aspect
    rain = float(np.clip(s[_I["rain"]], 0, 1))
    fog = float(np.clip(s[_I["fog"]], 0, 1))
    # rain: greyer and darker; fog: paler and flatter
    for key in acc:
        col = acc[key]
        grey = float(col @ np.array([0.3, 0.55, 0.15]))
        col = col + (grey - col) * (0.45 * rain + 0.3 * fog)
        col = col * (1.0 - 0.25 * rain)
        acc[key] = np.clip(col, 0.0, 1.0)
    night = float(amount * w[3] / total) if total > 0 else 0.0
    day = float(amount * (w[0] + w[1]) / total) if total > 0 else 0.0
    return Light(acc["zen"], acc["hor"], acc["sun"], acc["key"], acc["shade"], (float(sx), float(sy)), float(sr),
                 float(strength * (1.0 - 0.6 * rain - 0.4 * fog)), night, day, amount, rain, fog, float(horizon))


# --------------------------------------------------------------------------- drawing helpers

_TAB = np.random.default_rng(0x5CE7E).random((16, 512)).astype(np.float32)
"""Fixed pseudo-random tables (rows: uses; columns: integer positions) for layouts."""


def _tab(row: int, i: np.ndarray) -> np.ndarray:
    return _TAB[row][np.asarray(i, np.int64) % _TAB.shape[1]]


def _smooth(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - _F32(e0)) / _F32(e1 - e0), 0.0, 1.0)
    return t * t * (_F32(3.0) - _F32(2.0) * t)


def _c3(col: Any) -> np.ndarray:
    return np.asarray(col, np.float32).reshape(1, 1, 3)


def _window(a: np.ndarray, rows: slice, cols: slice) -> np.ndarray:
    """The part of ``a`` (a picture, a mask or a colour broadcast over them) in a window."""
    if a.ndim < 2:
        return a
    return a[rows if a.shape[0] > 1 else slice(None), cols if a.shape[1] > 1 else slice(None)]


def _mix_into(out: np.ndarray, colour: np.ndarray, alpha: np.ndarray) -> None:
    """``out += (colour - out) * alpha``, only inside the box where ``alpha`` is not 0 (many
    shapes cover a small part of the frame; outside it the result would be ``out`` anyway)."""
    a2 = alpha if alpha.ndim == 2 else alpha[..., 0] if alpha.shape[-1] == 1 else alpha.any(axis=-1)
    rows = np.flatnonzero(a2.any(axis=1))
    if rows.size == 0:
        return
    # an axis the mask is broadcast along (a profile of y only, or x only) is kept whole
    r = slice(int(rows[0]), int(rows[-1]) + 1) if a2.shape[0] > 1 else slice(None)
    cols = np.flatnonzero(a2[r].any(axis=0))
    c = slice(int(cols[0]), int(cols[-1]) + 1) if a2.shape[1] > 1 else slice(None)
    a = _window(alpha, r, c)
    if a.ndim == 2:
        a = a[..., None]
    o = out[r, c]
    o += (_window(colour, r, c) - o) * a


def _p3(m: np.ndarray) -> np.ndarray:
    """``m[..., None]`` repeated over 3 channels, stored channel-planar (see :func:`_planar`): a
    colour ``(1, 1, 3)`` times it is a planar picture (the same values as times ``m[..., None]``)."""
    m = np.asarray(m)
    out = np.empty((3, *m.shape), m.dtype)
    out[...] = m
    return out.transpose(*range(1, m.ndim + 1), 0)


def _planar(h: int, w: int, dtype: Any) -> np.ndarray:
    """An empty ``(h, w, 3)`` picture stored channel by channel (a view of ``(3, h, w)``).

    numpy runs elementwise loops along the smallest stride: on pixel-interleaved arrays,
    mixing a colour ``(1, 1, 3)`` with a mask ``(h, w, 1)`` runs its inner loop over 3 channels,
    which is several times slower than over a row. Pictures stored this way keep their shape,
    their values and every expression written for them; results from them keep the layout."""
    return np.empty((3, h, w), dtype).transpose(1, 2, 0)


class _Canvas:
    """The picture being painted at the shading resolution, with the field it paints over."""

    def __init__(self, X: np.ndarray, Y: np.ndarray, aspect: float, tone: np.ndarray, slope: np.ndarray,
                 field: np.ndarray, light: Light, g: np.ndarray) -> None:
        self.X, self.Y = X.astype(np.float32), Y.astype(np.float32)
        self.h, self.w = int(Y.shape[0]), int(X.shape[1])
        self.aspect = float(aspect)
        self.px = 2.0 / self.h  # one pixel in frame units (y spans [-1, 1])
        self.tone, self.slope, self.field = tone, slope, field
        self.lt = light
        self.g = np.asarray(g, np.float64)
        self.out = field.copy(order="K")  # keeps the field's channel-planar layout (see _planar)
        self.sky = field  # the sky, once painted (windows show it)
        self.open = np.ones((self.h, self.w), np.float32)  # where the weather is seen (1: outdoors)

    # coverage of shapes, filtered over one pixel
    def cov(self, d: np.ndarray, soft: float = 1.0) -> np.ndarray:
        """Coverage of the inside of a signed distance ``d`` (frame units, negative inside)."""
        return np.clip(_F32(0.5) - d * _F32(1.0 / (self.px * soft)), 0.0, 1.0)

    def below(self, top: Any, n: int = 4, soft: float = 1.0) -> np.ndarray:
        """Coverage of the region below a height profile ``top(xs) -> y`` (y down), filtered
        analytically in y and supersampled ``n``× in x (so vertical edges are smooth too)."""
        offs = ((np.arange(n, dtype=np.float32) + 0.5) / n - 0.5) * _F32(self.px)
        acc = np.zeros((self.h, self.w), np.float32)
        inv = _F32(1.0 / (self.px * soft))
        for o in offs:
            t = np.asarray(top(self.X + o), np.float32).reshape(1, -1)
            acc += np.clip((self.Y - t) * inv + _F32(0.5), 0.0, 1.0)
        acc *= _F32(1.0 / n)
        return acc

    def over(self, colour: np.ndarray, alpha: np.ndarray) -> None:
        _mix_into(self.out, colour, alpha)

    def haze(self, col: np.ndarray, depth: float) -> np.ndarray:
        """Aerial perspective: ``depth`` 0 (near) .. 1 (far), thicker in fog."""
        k = np.float32(np.clip(depth * (0.45 + 0.5 * self.lt.fog) + 0.25 * self.lt.fog * depth ** 0.5, 0, 0.92))
        return col + (_c3(self.lt.haze) - col) * k

    def texture(self, amount: float) -> np.ndarray:
        """A multiplier from the CPPN field: brush texture on a surface."""
        return _p3(_F32(1.0 - 0.5 * amount) + _F32(amount) * self.tone + _F32(0.35 * amount) * self.slope)

    def lit(self, albedo: Any, k: np.ndarray | float) -> np.ndarray:
        """Surface colour: ``albedo`` under the shade (k=0) .. key (k=1) illumination."""
        a = _c3(albedo)
        shade, key = _c3(self.lt.shade), _c3(self.lt.key)
        kk = np.asarray(k, np.float32)
        if kk.ndim == 2:
            out = _planar(kk.shape[0], kk.shape[1], np.result_type(key, kk))
            np.multiply(key - shade, kk[..., None], out=out)
            out += shade
            out *= a
            return out
        return a * (shade + (key - shade) * kk)


def _arch_sdf(X: np.ndarray, Y: np.ndarray, cx: float, w: float, spring: float, bottom: float,
              point: float) -> np.ndarray:
    """Signed distance to an arched opening: a rectangle ``|x - cx| < w`` from ``spring`` down
    to ``bottom`` under an arch (``point`` 0: round, 1: an equilateral gothic arch)."""
    R = w * (1.0 + float(point))
    dxr = X - _F32(cx)
    ay = Y - _F32(spring)
    # the arch: the lens of two discs of radius R centred at cx -/+ (R - w) on the spring line
    ay2 = ay * ay
    d1 = (dxr + _F32(R - w)) ** 2 + ay2  # in place from here: the same operations, fewer arrays
    np.sqrt(d1, out=d1)
    d1 -= _F32(R)
    d2 = (dxr - _F32(R - w)) ** 2 + ay2
    np.sqrt(d2, out=d2)
    d2 -= _F32(R)
    lens = np.maximum(d1, d2, out=d1)
    # the rectangle below the spring line
    mid, half = 0.5 * (spring + bottom), 0.5 * (bottom - spring)
    qx = np.abs(dxr) - _F32(w)
    qy = np.abs(Y - _F32(mid)) - _F32(half)
    rect = np.maximum(qx, 0) ** 2 + np.maximum(qy, 0) ** 2
    np.sqrt(rect, out=rect)
    inner = np.maximum(qx, qy)
    np.minimum(inner, 0, out=inner)
    rect += inner
    return np.minimum(lens, rect, out=lens)


def _box_sdf(X: np.ndarray, Y: np.ndarray, cx: float, cy: float, hw: float, hh: float) -> np.ndarray:
    qx = np.abs(X - _F32(cx)) - _F32(hw)
    qy = np.abs(Y - _F32(cy)) - _F32(hh)
    return np.sqrt(np.maximum(qx, 0) ** 2 + np.maximum(qy, 0) ** 2) + np.minimum(np.maximum(qx, qy), 0)


def _line_sdf(X: np.ndarray, Y: np.ndarray, p: tuple[float, float], q: tuple[float, float]) -> np.ndarray:
    """Signed distance to the line through p and q: negative on its left (y down: clockwise)."""
    dx, dy = q[0] - p[0], q[1] - p[1]
    n = np.hypot(dx, dy) or 1.0
    return ((X - _F32(p[0])) * _F32(dy / n) - (Y - _F32(p[1])) * _F32(dx / n)).astype(np.float32)


# --------------------------------------------------------------------------- the sky


def _sky(cv: _Canvas, stars: float) -> np.ndarray:
    lt, X, Y = cv.lt, cv.X, cv.Y
    yh = lt.horizon
    t = np.clip((Y + 1.0) / (yh + 1.0 + 1e-3), 0.0, 1.0)
    grad = _c3(lt.zen) + (_c3(lt.hor) - _c3(lt.zen)) * (t ** 1.6)[..., None]
    below = np.clip((Y - yh) / 0.4, 0.0, 1.0)[..., None]
    ground = _c3(lt.hor) * 0.55 + _c3(lt.shade) * 0.45
    grad = grad + (ground - grad) * below
    # clouds: the CPPN field, denser in the upper sky, lit by the sky's own palette
    dens = _smooth(0.42, 0.86, cv.tone) * _F32(0.55 + 0.25 * cv.g[2]) * (1.0 - _smooth(-0.1, 0.25, Y - yh))
    # sky = grad + (field - grad) * dens, in the field's precision (grad's values exactly)
    base = _planar(cv.h, cv.w, np.result_type(cv.field, grad))
    base[...] = grad
    sky = cv.field - base
    sky *= dens[..., None]
    sky += base
    # sun or moon: a glow and an anti-aliased disc (hidden below the horizon by what lies there)
    sx, sy = lt.sun_xy
    d = np.sqrt((X - _F32(sx)) ** 2 + (Y - _F32(sy)) ** 2)
    glow = np.exp(-(d / _F32(0.16 + 0.5 * lt.sun_r)) ** 2) * _F32(0.55) + np.exp(-(d / _F32(0.75)) ** 2) * _F32(0.22)
    sky += _c3(lt.sun) * _p3(glow * _F32(0.4 + 0.6 * lt.strength) * (1.0 - _F32(0.7) * dens))
    disc = cv.cov(d - _F32(lt.sun_r)) * (1.0 - _F32(0.85) * dens) * _F32(1.0 - 0.8 * lt.fog - 0.6 * lt.rain)
    _mix_into(sky, _c3(np.minimum(lt.sun * 1.08, 1.0)), disc)
    if stars > 0.01:
        sky += _c3((0.9, 0.93, 1.0)) * _p3(_stars(cv) * _F32(stars) * (1.0 - dens))
    return sky


_STARS: dict[tuple[bytes, bytes, float], np.ndarray] = {}


def _stars(cv: _Canvas) -> np.ndarray:
    """Points of light on a jittered grid (one star in some cells), about a pixel wide. They
    depend on the frame's grid only, so they are kept for the next frame (of a morph)."""
    key = (cv.X.tobytes(), cv.Y.tobytes(), cv.px)
    got = _STARS.get(key)
    if got is None:
        got = _draw_stars(cv)
        got.flags.writeable = False
        _STARS.clear()
        _STARS[key] = got
    return got


def _draw_stars(cv: _Canvas) -> np.ndarray:
    cs = 0.045
    u, v = cv.X / _F32(cs), cv.Y / _F32(cs)
    iu, iv = np.floor(u), np.floor(v)
    cell = (iu.astype(np.int64) * 7919 + iv.astype(np.int64) * 104729)
    has = _tab(0, cell) < 0.42
    ox, oy = _F32(0.2) + _F32(0.6) * _tab(1, cell), _F32(0.2) + _F32(0.6) * _tab(2, cell)
    bright = _tab(3, cell) ** 2
    d2 = ((u - iu - ox) ** 2 + (v - iv - oy) ** 2) * _F32(cs * cs)
    r = max(0.8 * cv.px, 0.0028)
    return np.where(has, np.exp(-d2 / _F32(r * r)) * (_F32(0.35) + _F32(0.9) * bright), _F32(0.0)).astype(np.float32)


# --------------------------------------------------------------------------- places


def _sea(cv: _Canvas, wt: float) -> None:
    lt, X, Y = cv.lt, cv.X, cv.Y
    yh = lt.horizon
    below = np.maximum(Y - _F32(yh), _F32(1e-3))
    depth = np.clip(below / _F32(1.0 - yh + 1e-3), 0.0, 1.0)
    # the water mirrors the sky above the horizon, darkening toward the viewer
    ym = _F32(yh) - below * _F32(0.7)
    t = np.clip((ym + 1.0) / (yh + 1.0), 0.0, 1.0)
    refl = _c3(lt.zen) + (_c3(lt.hor) - _c3(lt.zen)) * _p3(t ** 1.6)
    deep = _c3(lt.shade) * 0.55 + _c3(lt.zen) * 0.25
    col = refl * 0.8 + (deep - refl * 0.8) * (depth ** 0.6)[..., None] * 0.85
    # waves: crests in perspective (distance = 1 / height below the horizon), band-limited
    zdist = _F32(0.16) / below
    xw = X * zdist
    phase = _F32(9.0) * zdist + _F32(1.6) * np.sin(_F32(1.7) * xw + _F32(3.0 * cv.g[3])) \
        + _F32(0.8) * np.sin(_F32(4.3) * xw - _F32(1.3) * zdist)
    dens = _F32(9.0 * 0.16) / (below * below) * _F32(cv.px)  # phase change per pixel
    amp = np.exp(-(dens * _F32(0.9)) ** 2)
    crest = (_F32(0.5) + _F32(0.5) * np.sin(phase)) ** 6 * amp
    col = col * (_F32(0.92) + _F32(0.16) * cv.tone[..., None] * amp[..., None])
    col += (_c3(lt.hor) * 0.45 + _c3(lt.key) * 0.25) * _p3(crest * _F32(0.55))
    # the sun's glitter on the water
    sx = lt.sun_xy[0]
    gl = np.exp(-((X - _F32(sx)) / (_F32(0.06) + _F32(0.5) * depth)) ** 2) * _F32(lt.strength + 0.25)
    col += _c3(lt.sun) * _p3(gl * (crest * _F32(1.4) + _F32(0.15)) * (1.0 - depth * _F32(0.5)))
    col = cv.haze(col, 0.35)
    cv.over(col, cv.cov(_F32(yh) - Y) * _F32(wt))
    # a beach along the bottom with a line of foam
    ph = float(cv.g[4])

    def shore(xs: np.ndarray) -> np.ndarray:
        return 0.74 + 0.05 * ph + 0.05 * np.sin(1.3 * xs + 2.0 * ph) + 0.025 * np.sin(3.7 * xs + 1.0)

    foam_d = np.abs(Y - shore(X)) - _F32(0.006)
    foam = cv.cov(foam_d, soft=2.5) * _F32(0.8)
    cv.over(np.broadcast_to(_c3(lt.hor) * 0.5 + _c3(lt.key) * 0.5, cv.out.shape), foam * _F32(wt))
    sand = cv.lit((0.86, 0.76, 0.60), 0.55 + 0.25 * _smooth(0.74, 1.0, Y)) * cv.texture(0.25)
    cv.over(sand, cv.below(shore) * _F32(wt))


def _desert(cv: _Canvas, wt: float) -> None:
    lt, Y = cv.lt, cv.Y
    yh = lt.horizon
    sun = 1.0 if lt.sun_xy[0] >= 0 else -1.0
    # ridges far to near: (height below the horizon, height of the crests, ridges per unit, depth)
    rows = ((0.02, 0.05, 0.9, 0.8), (0.12, 0.1, 0.6, 0.55), (0.3, 0.17, 0.42, 0.3), (0.6, 0.28, 0.3, 0.08))
    crest = 0.68  # a long windward slope up to the crest, a short steep slip face after it
    for k, (base, amp, freq, depth) in enumerate(rows):
        ph = 1.9 * k + 1.6 * float(cv.g[3 + k])

        def shape(xs: np.ndarray, freq: float = freq, ph: float = ph) -> tuple[np.ndarray, np.ndarray]:
            u = freq * sun * xs + ph + 0.22 * np.sin(1.3 * xs + 2.0 * ph)
            f = u - np.floor(u)
            wind = np.sin(0.5 * np.pi * np.clip(f / crest, 0, 1)) ** 1.4
            slip = np.clip((1 - f) / (1 - crest), 0, 1) ** 1.8
            env = 0.7 + 0.3 * np.sin(0.29 * u + ph)
            return np.where(f < crest, wind, slip) * env, f

        def top(xs: np.ndarray, base: float = base, amp: float = amp, shape: Any = shape) -> np.ndarray:
            return yh + base - amp * shape(xs)[0]

        cov = cv.below(top)
        # the slip face (after the crest, away from the sun) is in shadow; the crest is a sharp line
        _, f = shape(cv.X)
        sd = np.where(f >= crest, np.minimum(f - crest, 1 - f), -np.minimum(crest - f, f)) / _F32(freq)
        shadow = np.clip(_F32(0.5) + sd / _F32(cv.px), 0.0, 1.0)
        # the windward slope brightens toward the crest; each ridge darkens down into the trough
        face = _F32(0.35) + _F32(0.65) * np.clip(f / crest, 0, 1) ** 0.8
        drop = np.clip((Y - top(cv.X[0]).astype(np.float32)[None, :]) / _F32(0.25 + amp), 0, 1)
        k_light = (_F32(0.18) + _F32(0.82) * face * (1 - shadow) * (1 - _F32(0.45) * drop)) \
            * _F32(0.35 + 0.65 * min(1.0, lt.strength + 0.3))
        col = cv.lit((0.93, 0.72, 0.50), k_light) * cv.texture(0.08)
        cv.over(cv.haze(col, depth), cov * _F32(wt))


def _city(cv: _Canvas, wt: float) -> None:
    lt, X, Y = cv.lt, cv.X, cv.Y
    yh = lt.horizon
    a = cv.aspect
    ground = cv.lit((0.36, 0.35, 0.36), 0.45) * cv.texture(0.2)
    cv.over(cv.haze(ground, 0.25), cv.cov(_F32(yh) - Y) * _F32(wt))
    # two rows of buildings: far (hazy, thin) and near (dark, with windows)
    for row, (unit, hmin, hmax, depth, seedrow) in enumerate(((0.11, 0.12, 0.42, 0.7, 4), (0.2, 0.2, 0.78, 0.12, 6))):
        ph = 0.4 * float(cv.g[5 + row])
        widths = unit * (0.6 + 0.8 * _TAB[seedrow])
        edges = np.concatenate([[0.0], np.cumsum(widths)])
        start = -a - 0.6 + ph
        heights = hmin + (hmax - hmin) * _TAB[seedrow + 1] ** 1.4
        spire = _TAB[seedrow + 2] > 0.78

        def index(xs: np.ndarray) -> np.ndarray:
            return np.clip(np.searchsorted(edges, xs - start, side="right") - 1, 0, len(widths) - 1)

        def top(xs: np.ndarray) -> np.ndarray:
            i = index(xs)
            t = yh - heights[i]
            lx = (xs - start - edges[i]) / widths[i]
            tier = spire[i] & (np.abs(lx - 0.5) < 0.22)
            return np.where(tier, t - 0.08 - 0.1 * _TAB[seedrow + 3][i], t)

        cov = cv.below(top)
        shade = _F32(0.25) + _F32(0.35) * (1 - depth) * _F32(lt.strength)
        col = cv.lit((0.42, 0.42, 0.47), shade) * cv.texture(0.25)
        i = index(X[0])
        if row == 1:
            # windows: a grid per building, anti-aliased; lit at night, the sky's colour by day
            w_i = widths[i].astype(np.float32)
            # columns of whole windows inside a margin of 6 % on each side of the building
            lx = ((X[0] - _F32(start) - edges[i].astype(np.float32)) / w_i - _F32(0.06)) / _F32(0.88)
            ncol = np.maximum(2, np.floor(w_i / 0.045)).astype(np.float32)
            fx = lx * ncol
            cx = np.abs(fx - np.floor(fx) - 0.5)
            wx = np.clip((_F32(0.26) - cx) * (_F32(0.88) * w_i / ncol) / _F32(cv.px) + 0.5, 0, 1)
            wx = wx * (lx >= 0) * (lx < 1)
            fy = (Y - _F32(yh)) / _F32(0.05)
            cy = np.abs(fy - np.floor(fy) - 0.5)
            wy = np.clip((_F32(0.22) - cy) * _F32(0.05) / _F32(cv.px) + 0.5, 0, 1)
            cellid = (i[None, :] * 131 + np.floor(fx)[None, :].astype(np.int64) * 17
                      + np.floor(fy).astype(np.int64) * 7)
            on = (_tab(5, cellid) < 0.38).astype(np.float32)
            wmask = (wy * wx[None, :]) * (Y < _F32(yh - 0.03))
            lamp = _c3((1.0, 0.78, 0.42)) * _F32(0.95)
            wcol = _c3(lt.hor) * _F32(0.7) * _F32(1 - lt.night) + lamp * _F32(lt.night) * _p3(on)
            col = col + (wcol - col) * (wmask * _F32(0.9))[..., None]
        cv.over(cv.haze(col, depth), cov * _F32(wt))
    # the street: a road narrowing to the horizon, lamps along it at night
    vx = 0.25 * a * float(cv.g[7])
    left = _line_sdf(X, Y, (vx - 0.02, yh), (vx - 1.5, 1.05))
    right = -_line_sdf(X, Y, (vx + 0.02, yh), (vx + 1.5, 1.05))
    road = cv.cov(np.maximum(np.maximum(-left, -right), _F32(yh) - Y))
    # asphalt, mirroring the sky toward the horizon (more so in rain)
    asphalt = cv.lit((0.2, 0.2, 0.22), 0.4)
    sheen = _F32(0.25 + 0.5 * lt.rain) * (1.0 - _smooth(0.0, 0.7, Y - _F32(yh)))
    rcol = asphalt + (_c3(lt.hor) * 0.6 - asphalt) * sheen[..., None]
    below = np.maximum(Y - _F32(yh), _F32(0.01))
    across = cv.cov(np.abs(X - _F32(vx)) - _F32(0.002) - _F32(0.012) * below)
    along = np.sin(_F32(3.0) / below)
    # dashes in perspective, faded out toward the horizon where they would alias
    dash = across * _smooth(0.0, 0.4, along) * np.exp(-(_F32(3.0 * cv.px) / (below * below)) ** 2)
    rcol = rcol + (_c3(lt.key) * 0.7 - rcol) * (dash * _F32(0.6))[..., None]
    cv.over(rcol, road * _F32(wt))
    if lt.night > 0.01:
        glow = np.zeros((cv.h, cv.w), np.float32)
        for k in range(6):  # lamp posts at equal steps along the road, smaller toward the horizon
            near = (0.9 - 0.14 * k) * 0.9  # where the post stands, as a fraction of the way down
            foot = yh + (1.05 - yh) * near
            for side in (-1, 1):
                xx = vx + side * (0.02 + 1.48 * near) * 1.05
                r = 0.05 * (foot - yh) + 0.01
                ly = foot - 1.4 * (foot - yh)  # the lamp hangs above its foot
                glow += np.exp(-((X - _F32(xx)) ** 2 + (Y - _F32(ly)) ** 2) / _F32(r * r))
        cv.out += _c3((1.0, 0.72, 0.38)) * _p3(glow * _F32(0.9 * lt.night * wt))


def _clumps(cv: _Canvas, cell: float, rmin: float, rmax: float, row: int, shift: tuple[float, float]
            ) -> tuple[np.ndarray, np.ndarray]:
    """Round clumps on a jittered grid (one per cell, some cells empty): ``(signed distance,
    distance from the clump's centre / radius)``."""
    u = (cv.X - _F32(shift[0])) / _F32(cell)
    v = (cv.Y - _F32(shift[1])) / _F32(cell)
    iu, iv = np.floor(u), np.floor(v)
    cid = iu.astype(np.int64) * 92821 + iv.astype(np.int64) * 68917 + row * 7
    r = _F32(rmin) + _F32(rmax - rmin) * _tab(row, cid)
    cx = _F32(0.5) + (_tab(row + 1, cid) - _F32(0.5)) * (_F32(1.0) - _F32(2.0) * r)
    cy = _F32(0.5) + (_tab(row + 2, cid) - _F32(0.5)) * (_F32(1.0) - _F32(2.0) * r)
    dist = np.sqrt((u - iu - cx) ** 2 + (v - iv - cy) ** 2)
    return ((dist - r) * _F32(cell)).astype(np.float32), dist / r


def _forest(cv: _Canvas, wt: float) -> None:
    lt, X, Y = cv.lt, cv.X, cv.Y
    yg = lt.horizon
    floor_col = cv.lit((0.30, 0.27, 0.17), 0.5) * cv.texture(0.3)
    cv.over(cv.haze(floor_col, 0.2), cv.cov(_F32(yg - 0.02) - Y, soft=3.0) * _F32(wt))
    sun_dir = 1.0 if lt.sun_xy[0] >= 0 else -1.0
    rows = ((0.16, 0.012, 0.75, yg - 0.02, 8), (0.3, 0.026, 0.45, yg + 0.08, 9), (0.62, 0.06, 0.12, 1.4, 10))
    for r, (sp, hw, depth, base, trow) in enumerate(rows):
        lean = 0.06 * float(cv.g[3 + r])
        ph = 0.3 * float(cv.g[5 + r]) + 0.37 * r
        xr = X - _F32(lean) * (Y - _F32(yg))
        u = (xr - _F32(ph)) / _F32(sp)
        i = np.floor(u + 0.5).astype(np.int64)
        jit = (_tab(trow, i) - 0.5) * _F32(0.45 * sp)
        width = _F32(hw) * (_F32(0.7) + _F32(0.6) * _tab(trow + 1, i))
        cx = i.astype(np.float32) * _F32(sp) + _F32(ph) + jit
        taper = _F32(1.0) + _F32(0.25) * np.clip(Y - _F32(yg) + 0.4, 0.0, 2.0)
        wd = width * taper
        d = np.abs(xr - cx) - wd
        d = np.maximum(d, Y - _F32(base))  # trunks stand on their ground
        present = _tab(trow + 2, i) < (0.85 if r < 2 else 0.7)
        cov = cv.cov(d) * present
        side = np.clip((xr - cx) / np.maximum(wd, _F32(1e-4)) * _F32(sun_dir), -1.0, 1.0)
        k = _F32(0.15) + _F32(0.55) * np.clip(side * 0.5 + 0.5, 0, 1) ** 2 * _F32(lt.strength + 0.15)
        col = cv.lit((0.40, 0.31, 0.24) if r < 2 else (0.30, 0.23, 0.18), k) * cv.texture(0.25)
        cv.over(cv.haze(col, depth), cov * _F32(wt))
        # each depth carries its own crowns of leaves near the top of the frame
        if r == 0:
            continue
        cell = (0.09, 0.13, 0.22)[r]
        for layer, shift in enumerate(((0.0, -0.02), (0.5 * cell, 0.45 * cell))):
            d_leaf, rr = _clumps(cv, cell, 0.26, 0.46, 11 + layer, (shift[0] + ph, shift[1] - 0.25 * r))
            # crowns thin out downward, along a ragged line
            reach = (-0.35 - 0.2 * r + 0.12 * np.sin(_F32(2.3) * X + _F32(3 * r + 1))
                     + 0.06 * np.sin(_F32(5.1) * X)) - Y
            # ragged edges from the field, light from above on the sun's side
            d_leaf = d_leaf + (cv.tone - _F32(0.5)) * _F32(0.25 * cell) + np.maximum(-reach, 0) * _F32(0.6)
            up = np.clip(_F32(0.5) - (Y - _F32(-0.6)) * _F32(0.8) + _F32(0.3 * sun_dir) * X / _F32(cv.aspect), 0, 1)
            lit_leaf = _F32(0.2) + _F32(0.55) * up * _F32(lt.strength + 0.1) \
                + _F32(0.35) * cv.tone * (1 - _F32(0.5) * rr)
            lcol = cv.lit((0.24, 0.36, 0.16) if r < 2 else (0.16, 0.26, 0.12), lit_leaf)
            cv.over(cv.haze(lcol, depth), cv.cov(d_leaf) * _F32(wt))
    # shafts of light between the trunks
    if lt.strength > 0.3:
        ang = 0.35 * sun_dir
        s = (X * _F32(np.cos(ang)) + Y * _F32(np.sin(ang)))
        beams = np.zeros_like(cv.tone)
        for j in range(4):
            c0 = -0.9 + 0.55 * j + 0.25 * float(cv.g[8]) * (j % 2 * 2 - 1)
            beams += np.exp(-((s - _F32(c0)) / _F32(0.03 + 0.02 * _TAB[15][j])) ** 2)
        beams *= np.clip(_F32(0.8) - Y * _F32(0.5), 0, 1)
        cv.out += _c3(lt.key) * _p3(beams * _F32(0.25 * (lt.strength - 0.3) * wt * (1 + lt.fog)))


def _ruins(cv: _Canvas, wt: float) -> None:
    lt, X, Y = cv.lt, cv.X, cv.Y
    yg = lt.horizon
    a = cv.aspect
    g = cv.g

    def ground(xs: np.ndarray) -> np.ndarray:
        return yg + 0.03 * np.sin(2.1 * xs + 3 * g[5]) + 0.02 * np.sin(5.3 * xs + 1.0) - 0.02

    gcol = cv.lit((0.36, 0.34, 0.26), 0.45) * cv.texture(0.45)
    cv.over(cv.haze(gcol, 0.15), cv.below(ground) * _F32(wt))
    # a broken wall with arched openings, and free-standing broken columns
    w0 = -0.55 * a + 0.35 * float(g[6])
    w1 = w0 + 1.35 + 0.25 * float(g[7])
    wall_top = yg - 0.95
    base = yg + 0.06
    step = 0.07
    rough = _TAB[11]
    cols = [(w1 + 0.35 + 0.1 * float(g[8]), 0.045, yg - 0.72 + 0.25 * float(rough[3]), 0.8),
            (w1 + 0.75 + 0.12 * float(g[9]), 0.04, yg - 0.5 + 0.2 * float(rough[5]), -0.6),
            (w0 - 0.38, 0.04, yg - 0.4, 0.5)]

    def top(xs: np.ndarray) -> np.ndarray:
        out = np.full(xs.shape, 10.0, np.float64)
        inwall = (xs > w0) & (xs < w1)
        u = (xs - w0) / step
        i = np.floor(u).astype(np.int64)
        f = u - i
        def hgt(j: np.ndarray) -> np.ndarray:  # how far the wall has fallen at each step
            return 0.55 * rough[(j + 3) % 512] ** 0.8 * (0.35 + 0.65 * np.abs(np.sin(0.9 * j + g[7])))

        broken = hgt(i) * (1 - f) + hgt(i + 1) * f
        # the wall's ends crumble most
        ends = np.clip(np.minimum(xs - w0, w1 - xs) / 0.35, 0, 1)
        out = np.where(inwall, wall_top + broken + (1 - ends) * 0.45, out)
        for cx, hw, t, sl in cols:
            inside = np.abs(xs - cx) < hw
            out = np.where(inside, np.minimum(out, t + sl * (xs - cx)), out)
        return out

    cov = cv.below(top)
    # openings in the wall: three arches
    span = (w1 - w0)
    opening = np.full((cv.h, cv.w), 1.0, np.float32)
    for k in range(3):
        cx = w0 + span * (0.2 + 0.3 * k)
        d = _arch_sdf(X, Y, cx, 0.11, yg - 0.42, base + 0.2, 0.55 + 0.3 * float(g[10]))
        opening = np.minimum(opening, d)
    cov = cov * np.clip(_F32(0.5) + opening / _F32(cv.px), 0.0, 1.0)
    # stone, backlit: a rim of light along the broken tops
    tops = top(X[0]).astype(np.float32)
    rim = np.exp(-np.maximum(Y - tops[None, :], 0) / _F32(0.025))
    k = _F32(0.18) + _F32(0.5) * rim * _F32(lt.strength + 0.1)
    col = cv.lit((0.62, 0.58, 0.50), k) * cv.texture(0.5)
    # courses of stone
    col = col * (_F32(0.96) + _F32(0.04) * np.cos(_F32(2 * np.pi / 0.06) * (Y - _F32(yg))))[..., None]
    cv.over(cv.haze(col, 0.12), cov * _F32(wt))


def _room(cv: _Canvas, wt: float) -> None:
    lt, X, Y, g = cv.lt, cv.X, cv.Y, cv.g
    a = cv.aspect
    vx, vy = 0.22 * a * float(g[3]), 0.02 + 0.08 * float(g[4])
    bw, top_, bot = 0.72, -0.5, 0.42  # back wall: x in vx +- bw, y in vy + [top_, bot]
    xl, xr, yt, yb = vx - bw, vx + bw, vy + top_, vy + bot
    hue = int(np.floor((float(g[5]) + 1) * 2.0)) % 4
    paints = ((0.84, 0.80, 0.70), (0.62, 0.70, 0.64), (0.60, 0.66, 0.74), (0.80, 0.60, 0.50))
    nxt = paints[(hue + 1) % 4]
    frac = (float(g[5]) + 1) * 2.0 % 1.0
    wall = tuple(p + (q - p) * frac for p, q in zip(paints[hue], nxt))
    # light indoors: the window's daylight, the ambient, and a warm lamp by night
    lamp_xy = (xl + 0.28, yt + 0.22)
    dl = (X - _F32(lamp_xy[0])) ** 2 + (Y - _F32(lamp_xy[1])) ** 2
    win_side = 1.0 if float(g[6]) >= 0 else -1.0
    wcx, wcy, whw, whh = vx + win_side * 0.3, vy - 0.1, 0.2, 0.24
    dw = (X - _F32(wcx)) ** 2 + (Y - _F32(wcy + 0.3)) ** 2
    day = _F32(min(1.0, lt.strength))
    k = _F32(0.25) + day * (_F32(0.35) + _F32(0.4) * np.exp(-dw / _F32(1.2)))
    lamp = _F32(lt.night) * np.exp(-dl / _F32(0.5)) * _F32(0.9)
    lampc = _c3((1.0, 0.72, 0.42))

    def surface(albedo: Any, gain: float) -> np.ndarray:
        return (cv.lit(albedo, k * _F32(gain)) + _c3(albedo) * lampc * _p3(lamp * _F32(gain))) \
            * cv.texture(0.12)

    # ceiling everywhere, then the side walls, the floor, and the back wall (with its window)
    cv.open *= _F32(1.0 - wt)  # indoors: the weather only through the window
    cv.over(surface(wall, 0.42), np.full((cv.h, cv.w), _F32(wt)))
    left = np.maximum(_line_sdf(X, Y, (vx, vy), (xl, yt)), -_line_sdf(X, Y, (vx, vy), (xl, yb)))
    cv.over(surface(wall, 0.66 if win_side > 0 else 0.85), cv.cov(-left) * _F32(wt))
    right = np.maximum(-_line_sdf(X, Y, (vx, vy), (xr, yt)), _line_sdf(X, Y, (vx, vy), (xr, yb)))
    cv.over(surface(wall, 0.85 if win_side > 0 else 0.66), cv.cov(-right) * _F32(wt))
    floor = np.maximum(-_line_sdf(X, Y, (vx, vy), (xl, yb)), _line_sdf(X, Y, (vx, vy), (xr, yb)))
    run = (X - _F32(vx)) / np.maximum(Y - _F32(vy), _F32(0.05))  # boards run toward the vanishing point
    planks = _F32(0.94) + _F32(0.06) * np.cos(_F32(2 * np.pi * 9) * run)
    band = np.exp(-(_F32(9 * cv.px / 0.3) / np.maximum(Y - _F32(vy), _F32(0.05))) ** 2)  # fade before aliasing
    fcol = surface((0.52, 0.38, 0.27), 0.9) * (planks * band + (1 - band))[..., None]
    cv.over(fcol, cv.cov(-np.maximum(floor, _F32(yb) - Y)) * _F32(wt))
    back = _box_sdf(X, Y, vx, 0.5 * (yt + yb), bw, 0.5 * (yb - yt))
    winbox = _box_sdf(X, Y, wcx, wcy, whw, whh)
    cv.over(surface(wall, 1.0), cv.cov(np.maximum(back, -winbox)) * _F32(wt))
    # the window: the sky through it, a frame and glazing bars
    glass = cv.cov(winbox) * _F32(wt)
    cv.over(cv.sky * _F32(0.95), glass)
    cv.open = np.maximum(cv.open, glass)
    ring = np.maximum(winbox, -(winbox + _F32(0.018)))
    bars = np.minimum(_box_sdf(X, Y, wcx, wcy, 0.007, whh), _box_sdf(X, Y, wcx, wcy - 0.02, whw, 0.007))
    frame = cv.cov(np.minimum(ring, np.maximum(bars, winbox)))
    cv.over(surface((0.92, 0.9, 0.86), 0.75), frame * _F32(wt))
    # a skirting line where the back wall meets the floor
    skirt = _box_sdf(X, Y, vx, yb - 0.012, bw, 0.012)
    cv.over(surface((0.35, 0.3, 0.27), 0.8), cv.cov(skirt) * _F32(wt))
    # daylight through the window on the floor: a soft parallelogram toward the viewer
    if lt.strength > 0.05:
        shift = -0.55 * (1.0 if lt.sun_xy[0] >= 0 else -1.0)
        p0, p1 = (wcx - whw, yb), (wcx + whw, yb)
        q0, q1 = (wcx - whw * 2.4 + shift, 0.98), (wcx + whw * 2.4 + shift, 0.98)
        d = np.maximum(np.maximum(_line_sdf(X, Y, q0, p0), -_line_sdf(X, Y, q1, p1)),
                       np.maximum(_F32(yb + 0.02) - Y, Y - _F32(0.98)))
        patch = cv.cov(d, soft=10.0) * _F32(0.45 * min(1.0, lt.strength) * wt)
        cv.out += cv.lit((0.52, 0.38, 0.27), 1.0) * _p3(patch)
    # the lamp itself by night: a shade and its glow
    if lt.night > 0.01:
        shade_d = _box_sdf(X, Y, lamp_xy[0], lamp_xy[1] - 0.05, 0.045, 0.03)
        cord_top, cord_end = -1.2, lamp_xy[1] - 0.08
        cord = _box_sdf(X, Y, lamp_xy[0], 0.5 * (cord_top + cord_end), 0.002, 0.5 * (cord_end - cord_top))
        cv.over(np.broadcast_to(_c3((0.2, 0.17, 0.15)), cv.out.shape), cv.cov(np.minimum(shade_d, cord)) * _F32(wt))
        bulb = np.exp(-((X - _F32(lamp_xy[0])) ** 2 + (Y - _F32(lamp_xy[1] - 0.01)) ** 2) / _F32(0.0012))
        cv.out += lampc * _p3(bulb * _F32(lt.night * wt))


_GLASS = np.array([(0.25, 0.35, 1.0), (0.2, 0.3, 0.9), (1.0, 0.25, 0.2), (1.0, 0.8, 0.3), (0.3, 0.8, 0.45),
                   (0.9, 0.85, 0.7), (0.55, 0.3, 0.9)], np.float32) * np.float32(1.3)
_GLASS_T = np.ascontiguousarray(_GLASS.T)  # (3, colours): gathers give planar pictures


def _cathedral(cv: _Canvas, wt: float) -> None:
    lt, X, Y, g = cv.lt, cv.X, cv.Y, cv.g
    a = cv.aspect
    vx, vy = 0.1 * a * float(g[3]), 0.02 + 0.04 * float(g[4])
    point = 0.75 + 0.2 * float(g[5])
    sun = _F32(min(1.0, lt.strength))
    candle = _c3((1.0, 0.66, 0.36))
    # candles by night: a warm pool at the far end of the nave
    cd = (X - _F32(vx)) ** 2 / _F32(0.35) + (Y - _F32(vy + 0.2)) ** 2 / _F32(0.12)
    candles = _p3(np.exp(-cd) * _F32(0.45 * lt.night)) * candle
    cv.open *= _F32(1.0 - wt)  # indoors: no rain in the nave
    # the far wall: three lancets and a rose window onto the sky, in coloured glass
    wins = np.minimum(np.minimum(_arch_sdf(X, Y, vx, 0.036, vy - 0.17, vy + 0.14, point),
                                 _arch_sdf(X, Y, vx - 0.095, 0.026, vy - 0.11, vy + 0.14, point)),
                      _arch_sdf(X, Y, vx + 0.095, 0.026, vy - 0.11, vy + 0.14, point))
    rd = np.sqrt((X - _F32(vx)) ** 2 + (Y - _F32(vy - 0.3)) ** 2)
    wins = np.minimum(wins, rd - _F32(0.062))
    cells = np.floor(X / _F32(0.016)).astype(np.int64) * 31 + np.floor(Y / _F32(0.024)).astype(np.int64) * 7
    # the rose window's glass in rings and spokes
    ang = np.arctan2(Y - _F32(vy - 0.3), X - _F32(vx))
    rose_cells = np.floor(rd / _F32(0.02)).astype(np.int64) * 13 + np.floor(ang / _F32(np.pi / 8)).astype(np.int64)
    cells = np.where(rd < 0.07, rose_cells + 1000, cells)
    tint = _GLASS_T.take((_tab(12, cells) * len(_GLASS)).astype(np.int64) % len(_GLASS), axis=1).transpose(1, 2, 0)
    lead = np.abs(rd - _F32(0.041)) < _F32(0.004)
    glass = (cv.sky * _F32(0.75) + _c3(lt.sun) * _F32(0.3) * sun + candle * _F32(0.25 * lt.night)) * tint
    glass = glass * (1.0 - _F32(0.7) * lead)[..., None]
    cv.over(glass, cv.cov(wins) * _F32(wt))
    halo = np.exp(-((X - _F32(vx)) ** 2 / _F32(0.06) + (Y - _F32(vy - 0.18)) ** 2 / _F32(0.12)))
    far = cv.lit((0.70, 0.66, 0.60), _F32(0.3) + _F32(0.45) * sun) * _F32(0.8) * cv.texture(0.08)
    far = far + _c3(lt.key) * _p3(halo * _F32(0.3) * sun) + candles
    cv.over(far, cv.cov(-wins) * _F32(wt))
    # the floor of the nave, light falling along the aisle
    fy = vy + 0.3
    below = np.maximum(Y - _F32(fy), _F32(0.0))
    aisle = np.exp(-((X - _F32(vx)) / (_F32(0.05) + below * _F32(0.9))) ** 2)
    fk = (_F32(0.3) + _F32(0.35) * sun) * (_F32(0.75) + _F32(0.25) * _smooth(0.0, 0.6, below)) \
        + aisle * _F32(0.25) * sun
    fcol = cv.lit((0.62, 0.58, 0.52), fk) * _F32(0.7) * cv.texture(0.06) + candles * _F32(1.2)
    cv.over(fcol, cv.cov(_F32(fy) - Y) * _F32(wt))
    # arcades receding down the nave: a wall pierced by pointed arches at each depth,
    # darker toward the viewer (the light is at the far end)
    for depth, sc in ((0.5, 0.42), (0.28, 0.64), (0.0, 1.0)):
        openings = np.full((cv.h, cv.w), 1.0, np.float32)
        spring, bottom = vy - 0.35 * sc, vy + 0.95 * sc
        for j in (-2, -1, 0, 1, 2):
            w = (0.44 if j == 0 else 0.34) * sc
            openings = np.minimum(openings, _arch_sdf(X, Y, vx + j * 1.12 * sc, w, spring, bottom + 0.5, point))
        body = np.maximum(-openings, Y - _F32(bottom))
        # a moulding around each arch, the vault darker above, the light on the piers' inner faces
        mould = np.exp(-((openings - _F32(0.02 * sc)) / _F32(0.008 * sc)) ** 2)
        vault = _smooth(-1.2, spring, Y)
        k = (_F32(0.12 + 0.22 * depth) + _F32(0.2 + 0.2 * depth) * sun) * (_F32(0.55) + _F32(0.45) * vault) \
            + mould * _F32(0.12 + 0.1 * depth) * (_F32(0.4) + sun)
        col = cv.lit((0.66, 0.62, 0.56), k) * _F32(0.45 + 0.6 * depth) * cv.texture(0.08) \
            + candles * _F32(0.5 + depth)
        cv.over(cv.haze(col, depth * 0.6), cv.cov(body) * _F32(wt))
    # shafts of light from the high windows, slanting away from the sun
    if lt.strength > 0.15:
        ang = -0.45 if lt.sun_xy[0] >= 0 else 0.45
        u = (X - _F32(vx)) * _F32(np.cos(ang)) + (Y - _F32(vy - 0.3)) * _F32(np.sin(ang))
        beam = np.exp(-(u / _F32(0.07)) ** 2) * np.clip(Y - _F32(vy - 0.35), 0, 1.0)
        cv.out += _c3(lt.key) * _p3(beam * _F32(0.25 * (lt.strength - 0.1) * wt * (1 + lt.fog)))


def _sky_place(cv: _Canvas, wt: float) -> None:
    lt = cv.lt
    yh = lt.horizon

    def hills(xs: np.ndarray) -> np.ndarray:
        return yh - 0.04 - 0.05 * np.sin(0.9 * xs + 2 * cv.g[3]) ** 2 - 0.02 * np.sin(3.1 * xs)

    col = cv.lit((0.25, 0.27, 0.24), 0.25) * cv.texture(0.2)
    cv.over(cv.haze(col, 0.3), cv.below(hills) * _F32(wt))


_PAINTERS = (("sea", _sea), ("desert", _desert), ("city", _city), ("forest", _forest), ("ruins", _ruins),
             ("sky", _sky_place), ("room", _room), ("cathedral", _cathedral))


def _rain(cv: _Canvas, amount: float) -> None:
    """Streaks of rain: thin slanted lines in dashes, anti-aliased, catching the light."""
    ang = 0.18
    X, Y = cv.X, cv.Y
    u = X * _F32(np.cos(ang)) + Y * _F32(np.sin(ang))
    v = -X * _F32(np.sin(ang)) + Y * _F32(np.cos(ang))
    sp = 0.035
    col_i = np.floor(u / _F32(sp))
    f = u / _F32(sp) - col_i
    ci = col_i.astype(np.int64)
    off = _tab(15, ci) * _F32(0.6) + _F32(0.2)
    d = np.abs(f - off) * _F32(sp) - _F32(0.0012)
    line = np.clip(_F32(0.5) - d / _F32(cv.px), 0.0, 1.0)
    seg = (v * _F32(2.2) + _tab(7, ci) * _F32(7.0)) % _F32(1.0)
    dash = _smooth(0.0, 0.06, seg) * (1.0 - _smooth(0.2, 0.3, seg))
    cv.out += (_c3(cv.lt.hor) * 0.5 + _c3((0.6, 0.62, 0.66)) * 0.5) \
        * _p3(line * dash * cv.open * _F32(0.35 * amount))


def paint(scene: np.ndarray, g: np.ndarray, light: Light, *, X: np.ndarray, Y: np.ndarray, aspect: float,
          tone: np.ndarray, slope: np.ndarray, field: np.ndarray) -> np.ndarray:
    """The scene over the CPPN field: ``field`` (the field's colour, ``(H, W, 3)`` float32,
    under the scene's palette, no vignette), ``tone``/``slope`` its tone and relief. Returns the
    picture (float32, unclipped), before the vignette."""
    s = np.clip(np.asarray(scene, np.float64), 0.0, 1.0)
    places = {p: float(s[_I[p]]) for p in PLACES}
    P = min(1.0, sum(places.values()))
    cv = _Canvas(X, Y, aspect, tone, slope, field, light, g)
    if P > 0:
        stars = light.night * (0.35 + 0.65 * places["sky"]) * (1.0 - light.rain) * (1.0 - 0.8 * light.fog)
        cv.sky = _sky(cv, stars)
        cv.over(cv.sky, np.full((cv.h, cv.w), _F32(P)))
        for name, fn in _PAINTERS:
            if places[name] > 1e-4:
                fn(cv, places[name])
    if light.fog > 0:
        veil = _F32(0.3 * light.fog) * (1.0 - _F32(0.5) * _smooth(-0.2, 1.0, Y))
        cv.out += (_c3(light.haze) - cv.out) * veil[..., None]
    if light.rain > 0:
        _rain(cv, light.rain)
    return cv.out
