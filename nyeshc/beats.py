"""The beat tracker: the grid (beats, downbeats, tempo, meter) of a recording or of a model's
output, for music cues that do not state their ``tempo``.

:func:`detect_grid` decodes the file through :func:`nyeshc.media.decode_audio` (the one audio
path) and runs :func:`track` on the samples, a tracker of our own in numpy and scipy:

1. **Onset strength.** A short-time spectrum (43 ms windows every 5 ms at 24 kHz) on 40
   log-spaced bands; the rise of each band's log energy from one frame to the next, summed
   (spectral flux). The bands under 180 Hz are also kept apart (kick and bass), and a
   12-bin chroma (pitch classes, 85 ms frames) for the harmony.
2. **Tempo.** The autocorrelation of the onset strength, weighted by a broad prior (log-normal
   around 110 beats a minute, an octave wide), with each lag's score taking in the lags of its
   half and double so that an eighth-note pulse does not pass for the beat; refined to a
   fraction of a frame.
3. **Beats.** Dynamic programming (Ellis, "Beat Tracking by Dynamic Programming", 2007): the
   sequence of onsets that best fits the tempo, each gap penalised by the square of its log
   ratio to the period, so the beats follow a recording that drifts a little. Each beat is
   then moved to the top of its onset peak (within 10 ms, to a fraction of a frame) and the
   window's constant lead is taken off.
4. **Downbeats.** For 3 and 4 beats a bar (or the meter the caller states) and each phase: how
   much louder the low band is on the candidate bar lines than between them, how much the
   harmony changes there (chords change on the bar), and how alike the music is a bar apart.
   The best meter and phase win; the first bar line is the first beat of that phase.
5. **Confidence** (0..1): how clearly the beats stand out from the onset strength between them
   and how steady they are. Below 0.5 the planner warns and suggests stating ``tempo``.

Limits: one steady tempo per file (the beats follow a drift of a few per cent, not a change of
tempo); the meter is 3 or 4 beats a bar (or stated), counted in quarter notes; a piece with no
pulse (a drone, a pad) gets a grid with low confidence; a recording's grid is as good as its
onsets (a rubato piano or a choir with soft entries will be unsure).

Results are cached by the file's SHA-256 and :data:`VERSION`: in memory for the process and on
disk as small JSON files in ``$NYESHC_GRID_CACHE`` (default ``$XDG_CACHE_HOME/nyeshc/grids``,
i.e. ``~/.cache/nyeshc/grids``; an empty value turns the disk cache off). The grid depends on
the file's bytes only, so one user-wide folder serves every project (the planner asks for grids
before it knows an artifact cache), and ``nyeshc cache clean`` never has to re-detect a grid.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from nyeshc.grid import Grid

if TYPE_CHECKING:
    import numpy as np

__all__ = ["VERSION", "cache_dir", "detect_grid", "track"]

VERSION = "beats.1"
"""The detector's version: part of every cache key (change it when results would change)."""

RATE = 24_000  # analysis rate
HOP = 120  # 5 ms
FPS = RATE // HOP
N_FFT = 1024
CHROMA_FFT = 4096
CHROMA_HOP = 2048
TIME_RATE = 48_000  # beat times are whole samples at the project's rate
LEAD = 0.004  # the onset-strength peak leads a sharp onset by about this (measured on clicks, drums, synths)
PRIOR_BPM = 110.0
TIGHTNESS = 200.0

_memory: dict[str, Grid] = {}


# --------------------------------------------------------------------------- cache


def cache_dir() -> Path | None:
    """The on-disk grid cache folder (``None`` when turned off)."""
    env = os.environ.get("NYESHC_GRID_CACHE")
    if env is not None:
        return Path(env) if env else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "nyeshc" / "grids"


def _sha256(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _from_json(d: dict[str, object]) -> Grid:
    meter = d["meter"]
    assert isinstance(meter, list)
    beats = d["beats"]
    assert isinstance(beats, list)
    return Grid(Fraction(str(d["tempo"])), (int(meter[0]), int(meter[1])), Fraction(str(d["first"])),
                tuple(Fraction(str(b)) for b in beats), int(str(d["downbeat"])), float(str(d["confidence"])),
                str(d["source"]))


def _read_disk(key: str) -> Grid | None:
    folder = cache_dir()
    if folder is None:
        return None
    try:
        with open(folder / f"{key}.json", encoding="utf-8") as fh:
            d = json.load(fh)
        grid = _from_json(d)
        # to_json rounds the confidence to 3 places: keep the stored full value
        return Grid(grid.tempo, grid.meter, grid.first, grid.beats, grid.downbeat,
                    float(d.get("confidence_full", grid.confidence)), grid.source)
    except (OSError, ValueError, KeyError, TypeError, AssertionError, IndexError, ZeroDivisionError):
        return None  # missing or damaged: detect again


def _write_disk(key: str, grid: Grid) -> None:
    folder = cache_dir()
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        d = grid.to_json()
        d["confidence_full"] = grid.confidence
        fd, tmp = tempfile.mkstemp(prefix=f".{key}.", dir=folder)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(d, fh)
        os.replace(tmp, folder / f"{key}.json")
    except OSError:
        pass  # a read-only home: the grid is still right, only not kept


def detect_grid(path: str | os.PathLike[str], *, beats_per_bar: int | None = None) -> Grid:
    """The detected grid of the audio in ``path`` (a recording, a video's soundtrack, a model's
    output): ``source="detected"``, measured ``beats`` (seconds, whole samples at 48 kHz),
    ``downbeat`` (the index of the first bar line), ``tempo`` (from the beats' slope), ``meter``
    (3 or 4 beats a bar, or ``beats_per_bar`` when the caller knows it) and ``confidence``.

    Cached by the file's SHA-256 and :data:`VERSION` (see the module docstring). Raises
    ``OSError`` when the file cannot be read and :class:`nyeshc.media.MediaError` when it has
    no audio ffmpeg can decode."""
    digest = _sha256(path)
    key = f"{digest}-{VERSION}" + (f"-m{beats_per_bar}" if beats_per_bar else "")
    if key in _memory:
        return _memory[key]
    grid = _read_disk(key)
    if grid is None:
        from nyeshc import media

        audio = media.decode_audio(path, rate=RATE, channels=1)
        grid = track(audio[:, 0], RATE, beats_per_bar=beats_per_bar)
        _write_disk(key, grid)
    _memory[key] = grid
    return grid


# --------------------------------------------------------------------------- analysis


def _frames(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Power spectra of ``x`` in frames centred on ``t * hop`` (zero padded at both ends),
    ``float32 (T, n_fft // 2 + 1)``, computed in blocks."""
    import numpy as np

    pad = np.concatenate([np.zeros(n_fft // 2, np.float32), x.astype(np.float32), np.zeros(n_fft // 2, np.float32)])
    count = max(0, (pad.size - n_fft) // hop + 1)
    win = np.hanning(n_fft).astype(np.float32)
    out = np.empty((count, n_fft // 2 + 1), np.float32)
    view = np.lib.stride_tricks.sliding_window_view(pad, n_fft)[::hop]
    for s in range(0, count, 2048):
        block = view[s:s + 2048] * win
        out[s:s + block.shape[0]] = np.abs(np.fft.rfft(block, axis=1)) ** 2
    return out


def _bands(n_fft: int, rate: int, edges: np.ndarray) -> np.ndarray:
    """A (bins, bands) matrix summing FFT bins into the bands between ``edges`` (Hz)."""
    import numpy as np

    f = np.fft.rfftfreq(n_fft, 1 / rate)
    m = np.zeros((f.size, edges.size - 1), np.float32)
    for i in range(edges.size - 1):
        sel = (f >= edges[i]) & (f < edges[i + 1])
        if not sel.any():  # a band narrower than a bin: its nearest bin
            sel = np.abs(f - np.sqrt(edges[i] * edges[i + 1])) == np.min(np.abs(f - np.sqrt(edges[i] * edges[i + 1])))
        m[sel, i] = 1.0
    return m


def onset_strength(x: np.ndarray, rate: int = RATE) -> tuple[np.ndarray, np.ndarray]:
    """``(all, low)``: spectral flux at :data:`FPS` frames a second (frame ``t`` at ``t / FPS``
    seconds), over 40 log bands and over the bands under 180 Hz."""
    import numpy as np

    spec = _frames(x, N_FFT, HOP)
    edges = np.concatenate([[25.0], np.geomspace(60.0, 11_000.0, 40)])
    bands = spec @ _bands(N_FFT, rate, edges)
    ref = float(np.max(bands)) if bands.size else 1.0
    logb = np.log1p(bands * (1000.0 / max(ref, 1e-12)))
    rise = np.maximum(np.diff(logb, axis=0, prepend=logb[:1]), 0.0)
    centres = np.sqrt(edges[:-1] * edges[1:])
    low = rise[:, centres < 180.0].sum(axis=1)
    return rise.sum(axis=1), low


def _chroma(x: np.ndarray, rate: int) -> np.ndarray:
    """``(T, 12)`` pitch-class energy (65 Hz to 2 kHz) every ``CHROMA_HOP`` samples."""
    import numpy as np

    spec = _frames(x, CHROMA_FFT, CHROMA_HOP)
    f = np.fft.rfftfreq(CHROMA_FFT, 1 / rate)
    sel = (f >= 65.0) & (f <= 2000.0)
    pc = np.round(12 * np.log2(f[sel] / 440.0)).astype(int) % 12
    m = np.zeros((sel.sum(), 12), np.float32)
    m[np.arange(pc.size), pc] = 1.0
    c = np.sqrt(spec[:, sel]) @ m
    return c


def _tempo_period(env: np.ndarray) -> float:
    """The beat period in frames (fractional) from the autocorrelation of ``env``."""
    import numpy as np

    e = env - np.convolve(env, np.ones(FPS) / FPS, mode="same")  # take off the slow level
    e = np.maximum(e, 0.0)
    n = e.size
    spec = np.fft.rfft(e, 2 * n)
    ac = np.fft.irfft(np.abs(spec) ** 2)[:n]
    ac /= np.arange(n, 0, -1)  # unbiased: each lag's mean product
    if ac[0] <= 0:
        return 60.0 * FPS / PRIOR_BPM
    ac = ac / ac[0]
    lo, hi = int(60 * FPS / 300), min(int(60 * FPS / 30), n // 2 - 1)
    if hi <= lo + 2:
        return 60.0 * FPS / PRIOR_BPM
    lags = np.arange(lo, hi + 1)
    bpm = 60.0 * FPS / lags

    from scipy.ndimage import maximum_filter1d

    near = maximum_filter1d(ac, 5)  # a multiple of a lag hits its peak within 2 frames

    def at(lag: np.ndarray, table: np.ndarray = near) -> np.ndarray:
        return np.interp(lag, np.arange(table.size), table, right=0.0)

    # a beat repeats itself, and a bar of 3 or 4 of them repeats (chords change on the bar); it
    # is divided in two (eighth notes) rather than in three (a dotted beat, the 6/8 reading of
    # a 3/4 piece at two thirds of its tempo)
    bar = np.maximum(at(3 * lags) + at(6 * lags), at(4 * lags) + at(8 * lags)) / 2
    thirds = 0.5 * np.maximum(0.0, at(lags / 3) - at(lags / 2))
    score = at(lags, ac) + bar - thirds
    prior = np.exp(-0.5 * (np.log2(bpm / PRIOR_BPM) / 1.0) ** 2)
    best = int(np.argmax(score * prior))
    k = lo + best
    # refine on the autocorrelation itself: its peak near k, to a fraction of a frame
    j = k
    for _ in range(3):
        if 1 <= j < ac.size - 1 and ac[j + 1] > ac[j]:
            j += 1
        elif 1 <= j < ac.size - 1 and ac[j - 1] > ac[j]:
            j -= 1
    if 1 <= j < ac.size - 1:
        a, b, c = ac[j - 1], ac[j], ac[j + 1]
        den = a - 2 * b + c
        frac = 0.5 * (a - c) / den if den < 0 else 0.0
        return float(j + np.clip(frac, -0.5, 0.5))
    return float(k)


def _dp_beats(env: np.ndarray, period: float) -> np.ndarray:
    """Beat frames: Ellis's dynamic programme over the onset strength ``env``."""
    import numpy as np

    n = env.size
    local = env / (np.std(env) + 1e-12)
    lo, hi = max(1, int(round(period / 2))), int(round(2 * period))
    d = np.arange(lo, hi + 1)
    penalty = -TIGHTNESS * np.log(d / period) ** 2
    cum = local.copy()
    back = np.full(n, -1, dtype=np.int64)
    for t in range(lo, n):
        a = max(0, t - hi)
        cands = cum[a:t - lo + 1][::-1]  # gaps lo .. t - a
        vals = cands + penalty[:cands.size]
        j = int(np.argmax(vals))
        if vals[j] > 0:
            cum[t] = local[t] + vals[j]
            back[t] = t - (lo + j)
    # the last beat: the best cumulative score in the last period
    tail = cum[max(0, n - int(round(period))):]
    t = max(0, n - int(round(period))) + int(np.argmax(tail)) if tail.size else 0
    out = [t]
    while back[out[-1]] >= 0:
        out.append(int(back[out[-1]]))
    return np.array(out[::-1], dtype=np.float64)


def _refine(env: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Each beat moved to the top of its onset peak within 2 frames, to a fraction of a frame."""
    import numpy as np

    out = frames.copy()
    n = env.size
    for i, f in enumerate(frames.astype(int)):
        a, b = max(0, f - 2), min(n, f + 3)
        if b - a < 1:
            continue
        j = a + int(np.argmax(env[a:b]))
        if 1 <= j < n - 1:
            y0, y1, y2 = env[j - 1], env[j], env[j + 1]
            den = y0 - 2 * y1 + y2
            frac = 0.5 * (y0 - y2) / den if den < 0 else 0.0
            out[i] = j + float(np.clip(frac, -0.5, 0.5))
        else:
            out[i] = j
    return out


def _downbeat(beat_frames: np.ndarray, low: np.ndarray, chroma: np.ndarray, env: np.ndarray,
              beats_per_bar: int | None) -> tuple[int, int, float]:
    """``(beats a bar, index of the first bar line, margin)`` from beat-synchronous features:
    for each meter and phase, how much the harmony of the bar after each candidate bar line
    differs from that of the bar before it (chords change on the bar; averaging a whole bar
    hears through a slow pad's attack and a bass that moves within the chord), how much
    stronger the low band (kick, bass) and the onsets are on the bar lines than between them,
    and, for the meter, how alike the music is a bar apart."""
    import numpy as np

    nb = beat_frames.size
    meters = [beats_per_bar] if beats_per_bar else [3, 4]
    if nb < 2 * max(meters) + 1:
        return meters[-1], 0, 0.0
    idx = np.clip(np.round(beat_frames).astype(int), 0, env.size - 1)

    def around(sig: np.ndarray, w: int = 3) -> np.ndarray:
        return np.array([sig[max(0, i - w):i + w + 1].max() for i in idx])

    def z(v: np.ndarray) -> np.ndarray:
        s = float(np.std(v))
        return (v - float(np.mean(v))) / s if s > 1e-12 else np.zeros_like(v)

    accent = z(around(low)) + 0.5 * z(around(env))
    # harmony: the chroma of each beat (from it to the next)
    bounds = np.clip(np.round(beat_frames / FPS * RATE / CHROMA_HOP).astype(int), 0, max(0, chroma.shape[0] - 1))
    sync = np.zeros((nb, 12))
    for i in range(nb):
        lo_ = bounds[i]
        hi_ = bounds[i + 1] if i + 1 < nb else lo_ + 1
        seg = chroma[lo_:max(hi_, lo_ + 1)]
        if seg.size:
            sync[i] = seg.mean(axis=0)
    cum = np.concatenate([np.zeros((1, 12)), np.cumsum(sync, axis=0)])

    def unit(v: np.ndarray) -> np.ndarray:
        return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)

    best: tuple[float, int, int] | None = None
    scores: dict[int, float] = {}
    for m in meters:
        # the harmony's change across each beat, a bar before against a bar after
        i = np.arange(m, nb - m + 1)
        before, after = unit(cum[i] - cum[i - m]), unit(cum[i + m] - cum[i])
        novelty = np.zeros(nb)
        novelty[i] = 1.0 - np.sum(before * after, axis=1)
        novelty[:m] = novelty[nb - m + 1:] = np.mean(novelty[i])
        feat = z(novelty) + accent
        beat_units = unit(sync)
        rep = float(np.mean(np.sum(beat_units[m:] * beat_units[:-m], axis=1)))
        phase_scores = []
        for p in range(m):
            on = feat[p::m]
            off = np.delete(feat, np.arange(p, nb, m))
            phase_scores.append(float(np.mean(on) - np.mean(off)))
        p = int(np.argmax(phase_scores))
        s = phase_scores[p] + 2.0 * rep
        scores[m] = s
        if best is None or s > best[0]:
            best = (s, m, p)
    assert best is not None
    margin = best[0] - max((v for k, v in scores.items() if k != best[1]), default=0.0)
    return best[1], best[2], margin


def track(x: np.ndarray, rate: int = RATE, *, beats_per_bar: int | None = None) -> Grid:
    """The detected grid of mono samples ``x`` at ``rate`` Hz (see the module docstring)."""
    import numpy as np
    from scipy import signal

    x = np.asarray(x, dtype=np.float64)
    if rate != RATE and x.size:
        g = np.gcd(rate, RATE)
        x = signal.resample_poly(x, RATE // g, rate // g)
    none = Grid(Fraction(120), (beats_per_bar or 4, 4), Fraction(0), (), 0, 0.0, "detected")
    if x.size < 2 * RATE or float(np.max(np.abs(x))) < 1e-4:
        return none  # too short or silent: no pulse to find
    env, low = onset_strength(x, RATE)
    env = signal.convolve(env, signal.windows.gaussian(5, 1.0) / signal.windows.gaussian(5, 1.0).sum(), mode="same")
    period = _tempo_period(env)
    frames = _refine(env, _dp_beats(env, period))
    # trim weak beats at the ends (silence before the music starts, a fade at the end)
    strength = np.array([env[max(0, int(f) - 2):int(f) + 3].max() for f in frames])
    floor = 0.3 * float(np.median(strength)) if strength.size else 0.0
    keep = np.flatnonzero(strength > floor)
    if keep.size >= 2:
        frames = frames[keep[0]:keep[-1] + 1]
    if frames.size < 4:
        return none
    times = frames / FPS + LEAD
    times = times[times >= 0]
    # tempo from the beats' slope (least squares), to 2 decimals
    k = np.arange(times.size)
    slope = float(np.polyfit(k, times, 1)[0])
    bpm = 60.0 / slope if slope > 0 else 60.0 * FPS / period
    chroma = _chroma(x, RATE)
    meter, phase, margin = _downbeat(frames, low, chroma, env, beats_per_bar)
    confidence = _confidence(env, frames, period)
    beats = tuple(Fraction(int(round(t * TIME_RATE)), TIME_RATE) for t in times)
    downbeat = phase if phase < len(beats) else 0
    return Grid(Fraction(f"{bpm:.2f}"), (meter, 4), beats[downbeat], beats, downbeat, confidence, "detected")


def _confidence(env: np.ndarray, frames: np.ndarray, period: float) -> float:
    """0..1, the mean of two measures of how clearly the beats stand out: the onset strength
    averaged around every beat (a beat-synchronous profile), its peak on the beat against its
    mean over the beat (1.3 or less: 0; 2.7 or more: 1), and the share of beats that have an
    onset at least twice the strength's running median (over 2 s)."""
    import numpy as np
    from scipy.ndimage import median_filter

    idx = np.round(frames).astype(int)
    h = max(3, int(period // 2))
    rows = [env[i - h:i + h] for i in idx if i - h >= 0 and i + h <= env.size]
    if not rows:
        return 0.0
    profile = np.mean(rows, axis=0)
    peak = float(profile[h - 2:h + 3].max()) / (float(np.mean(profile)) + 1e-12)
    clear = float(np.clip((peak - 1.3) / 1.4, 0.0, 1.0))
    running = median_filter(env, size=2 * FPS + 1, mode="nearest")
    idx = np.clip(idx, 0, env.size - 1)
    tops = np.array([env[max(0, i - 2):i + 3].max() for i in idx])
    share = float(np.mean(tops > 2.0 * running[idx] + 1e-12))
    return round((clear + share) / 2, 4)
