"""Motion tracking for driven shots: the head's translation, rotation and scale from a driving
video (phase correlation, log-polar for rotation and scale) and the mouth's activity."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from nyeshc import ndi



# --------------------------------------------------------------------------- motion tracking


def _gray_small(frame: np.ndarray, n: int) -> np.ndarray:
    g = frame[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114]) if frame.ndim == 3 else frame.astype(np.float64)
    img = Image.fromarray(np.clip(g, 0, 255).astype(np.uint8), "L").resize((n, n), Image.Resampling.BILINEAR)
    return np.asarray(img, dtype=np.float64) / 255.0


def _phase_corr(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """Shift ``(dy, dx)`` that moves ``a`` onto ``b`` (sub-pixel), plus peak strength."""
    Fa = np.fft.fft2(a)
    Fb = np.fft.fft2(b)
    R = Fb * np.conj(Fa)
    R /= np.abs(R) + 1e-9
    r = np.fft.ifft2(R).real
    iy, ix = np.unravel_index(int(np.argmax(r)), r.shape)
    h, w = r.shape

    def sub(c: int, n: int, line: np.ndarray) -> float:
        l, m0, rr = line[(c - 1) % n], line[c], line[(c + 1) % n]
        den = l - 2 * m0 + rr
        return 0.0 if abs(den) < 1e-12 else 0.5 * (l - rr) / den

    dy = iy + sub(iy, h, r[:, ix])
    dx = ix + sub(ix, w, r[iy, :])
    if dy > h / 2:
        dy -= h
    if dx > w / 2:
        dx -= w
    return float(dy), float(dx), float(r[iy, ix])


def _logpolar_mag(img: np.ndarray, n_ang: int, n_rad: int) -> tuple[np.ndarray, float]:
    F = np.abs(np.fft.fftshift(np.fft.fft2(img)))
    h, w = F.shape
    # high-pass emphasis to suppress the DC blob
    yy, xx = np.mgrid[0:h, 0:w]
    fy = (yy - h / 2) / h
    fx = (xx - w / 2) / w
    F = F * (fx * fx + fy * fy) ** 0.5
    rmax = min(h, w) / 2 - 1
    log_base = math.log(rmax) / n_rad
    th = np.linspace(0, np.pi, n_ang, endpoint=False)
    rad = np.exp(np.arange(n_rad) * log_base)
    ys = h / 2 + rad[None, :] * np.sin(th)[:, None]
    xs = w / 2 + rad[None, :] * np.cos(th)[:, None]
    return ndi.map_coordinates(F, [ys, xs], order=1, mode="constant"), log_base


def track_motion(video: np.ndarray, n: int = 96, rotation: bool = True) -> np.ndarray:
    """Global motion of ``video`` (``(M, H, W, 3)``) relative to its first frame.

    Returns ``float64 (M, 4)``: ``dx, dy`` in source pixels (positive = content moved right /
    down), ``angle`` in degrees (positive = counter-clockwise), ``scale``. Frame-to-frame phase
    correlation (Hann-windowed, downsampled to ``n``), rotation/scale from log-polar phase
    correlation of the magnitude spectra, accumulated.
    """
    M, H, W = video.shape[:3]
    out = np.zeros((M, 4))
    out[:, 3] = 1.0
    if M < 2:
        return out
    win = np.outer(np.hanning(n), np.hanning(n))
    kx, ky = W / float(n), H / float(n)
    prev = _gray_small(video[0], n)
    prev_w = (prev - prev.mean()) * win
    n_ang, n_rad = 180, n // 2
    prev_lp = _logpolar_mag(prev_w, n_ang, n_rad) if rotation else None
    acc = np.array([0.0, 0.0, 0.0, 1.0])
    for i in range(1, M):
        cur = _gray_small(video[i], n)
        cur_w = (cur - cur.mean()) * win
        dang, dsc = 0.0, 1.0
        if rotation:
            cur_lp = _logpolar_mag(cur_w, n_ang, n_rad)
            da, dr, strength = _phase_corr(prev_lp[0], cur_lp[0])
            # only trust clear, small rotations/scales
            ang = -da * 180.0 / n_ang
            sc = math.exp(dr * prev_lp[1])
            if strength > 0.15 and abs(ang) < 10 and 0.9 < sc < 1.1:
                dang, dsc = ang, sc
            prev_lp = cur_lp
        dy, dx, _ = _phase_corr(prev_w, cur_w)
        acc[0] += dx * kx
        acc[1] += dy * ky
        acc[2] += dang
        acc[3] *= dsc
        out[i] = acc
        prev_w = cur_w
    return out


def mouth_activity(video: np.ndarray) -> np.ndarray:
    """Mouth drive from the lower-centre region of a driving video: normalised darkness/variance."""
    M, H, W = video.shape[:3]
    y0, y1 = int(0.6 * H), int(0.85 * H)
    x0, x1 = int(0.35 * W), int(0.65 * W)
    reg = video[:, y0:y1, x0:x1, :3].astype(np.float64).mean(-1)
    f = reg.std(axis=(1, 2)) + (255 - reg.mean(axis=(1, 2))) * 0.25
    lo, hi = np.percentile(f, 10), np.percentile(f, 95)
    if hi - lo < 1.0:
        return np.zeros(M)
    return np.clip((f - lo) / (hi - lo), 0, 1)

