"""What moves a puppet besides its mouth: the voice's loudness envelope (for recordings and
songs), blinks, head motion and breath, all deterministic from a seed."""

from __future__ import annotations

import math

import numpy as np

from nyeshc import ndi
from nyeshc.backends.base import SAMPLE_RATE


_F32 = np.float32

# --------------------------------------------------------------------------- audio envelope


RELEASE = 0.09
"""Seconds of the mouth envelope's one-pole release."""
FLOOR = 0.02
"""Below this the mouth envelope is exactly 0 (closed)."""
NOD_WINDOW = 0.25
"""Seconds the speaking nod averages the envelope over."""


def rest_frames(fps: float) -> int:
    """Frames after a voice's last voiced frame until the mouth (the envelope from wide open
    down its :data:`RELEASE` to under :data:`FLOOR`) and the speaking nod (that envelope averaged
    over :data:`NOD_WINDOW`) are exactly at rest: what the planner's hold waits for
    (``nyeshc.plan.lipsync.hold_margin``, which a test holds to at least this)."""
    release = math.ceil(-math.log(FLOOR) * fps * RELEASE)
    return release + max(1, int(round(fps * NOD_WINDOW))) // 2


def envelope(voice: np.ndarray, fps: float, frames: int, *, attack: float = 0.02, release: float = RELEASE,
             gate_db: float = -50.0, range_db: float = 30.0) -> np.ndarray:
    """Per-frame mouth drive in [0, 1] from ``voice`` (``float32 (N, 1)`` or ``(N,)`` at
    ``SAMPLE_RATE``): RMS over each frame's samples, in dB, normalised to the loud frames,
    gated (silence -> exactly 0), compressed, then smoothed with attack/release."""
    v = np.asarray(voice, dtype=np.float64)
    if v.ndim == 2:
        v = v.mean(axis=1)
    v = v.ravel()
    frames = int(frames)
    if frames <= 0:
        return np.zeros(0, _F32)
    edges = np.round(np.arange(frames + 1) * SAMPLE_RATE / float(fps)).astype(np.int64)
    need = int(edges[-1])
    if v.size < need:
        v = np.concatenate([v, np.zeros(need - v.size)])
    sq = np.concatenate([[0.0], np.cumsum(v[:need] ** 2)])
    n = np.maximum(edges[1:] - edges[:-1], 1)
    rms = np.sqrt(np.maximum(sq[edges[1:]] - sq[edges[:-1]], 0.0) / n)
    db = 20 * np.log10(rms + 1e-12)
    voiced = db > gate_db
    if not voiced.any():
        return np.zeros(frames, _F32)
    ref = float(np.percentile(db[voiced], 90))
    x = np.clip((db - (ref - range_db)) / range_db, 0.0, 1.0)
    x = np.where(voiced, x, 0.0) ** 1.4  # compress the low end: quiet -> barely open
    # attack / release smoothing (one-pole, per frame)
    ka = 1 - math.exp(-1.0 / max(fps * attack, 1e-6))
    kr = 1 - math.exp(-1.0 / max(fps * release, 1e-6))
    out = np.empty(frames)
    y = 0.0
    for i in range(frames):
        k = ka if x[i] > y else kr
        y += k * (x[i] - y)
        out[i] = y
    out[out < FLOOR] = 0.0
    return np.clip(out, 0.0, 1.0).astype(_F32)


# --------------------------------------------------------------------------- idle motion


def _smooth_noise(rng: np.random.Generator, t: np.ndarray, freqs: tuple[float, float], n: int = 4) -> np.ndarray:
    """Sum of ``n`` slow sinusoids, unit-ish amplitude."""
    out = np.zeros_like(t)
    for _ in range(n):
        f = rng.uniform(*freqs)
        ph = rng.uniform(0, 2 * np.pi)
        out += np.sin(2 * np.pi * f * t + ph) * rng.uniform(0.5, 1.0)
    return out / math.sqrt(n * 0.6)


def blinks(fps: float, frames: int, seed: int) -> np.ndarray:
    """Per-frame blink amount in [0, 1]: blinks every 2-6 s (from ``seed``), ~150 ms each."""
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0xB1])
    out = np.zeros(frames, _F32)
    t = rng.uniform(0.6, 3.0)
    dur = max(3, int(round(0.15 * fps)))
    peak = max(1, dur // 3)
    prof = np.array([1 - abs(k - peak) / (peak + 1) if k <= peak else 1 - (k - peak) / (dur - peak)
                     for k in range(dur)])
    prof = np.clip(prof, 0, 1)
    while True:
        f0 = int(round(t * fps))
        if f0 >= frames:
            break
        seg = out[f0:f0 + dur]
        out[f0:f0 + dur] = np.maximum(seg, prof[: len(seg)])
        t += rng.uniform(2.0, 6.0)
    return out


def head_movement(fps: float, frames: int, seed: int, size: int, env: np.ndarray | None = None,
                amount: float = 1.0) -> np.ndarray:
    """``(frames, 4)`` of ``(dx, dy, angle, scale)``: slow drift plus a nod while speaking."""
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0x4EAD])
    t = np.arange(frames) / float(fps)
    px = size / 256.0
    dx = _smooth_noise(rng, t, (0.05, 0.25)) * 2.2 * px * amount
    dy = _smooth_noise(rng, t, (0.05, 0.25)) * 1.2 * px * amount
    ang = _smooth_noise(rng, t, (0.04, 0.2)) * 1.3 * amount
    sc = 1 + _smooth_noise(rng, t, (0.03, 0.1)) * 0.004 * amount
    if env is not None and len(env):
        k = max(1, int(round(fps * NOD_WINDOW)))
        speak = ndi.uniform_filter1d(env.astype(np.float64), k, mode="nearest")
        dy = dy + speak * 2.0 * px * amount
        ang = ang + speak * 0.6 * np.sin(2 * np.pi * 0.7 * t) * amount
    return np.stack([dx, dy, ang, sc], 1)


def breathing(fps: float, frames: int, seed: int) -> np.ndarray:
    """``(frames,)``: a slow breath (about one every four seconds) as a scale offset."""
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0xB4EA])
    t = np.arange(frames) / float(fps)
    rate = rng.uniform(0.2, 0.27)
    return (0.5 - 0.5 * np.cos(2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi))) * 0.006


