"""The audio mix: every :class:`~nyeshc.plan.model.AudioClip` on one 48 kHz stereo float track.

Steps, in order:

1. **Place** each clip at its ``start`` for ``length`` samples from ``offset`` (mono clips go to
   both channels; ``loop`` repeats the source; a clip past the film's end is cut), with its gain
   and equal-power fade ramps, adding into one preallocated ``float32 (samples, 2)`` buffer
   chunk by chunk (no full-length copy per clip).
2. **Duck**: clips with ``duck=True`` are multiplied by a gain envelope that sits at
   ``timeline.duck_db`` under every dialogue clip, ramping down over ``ATTACK`` seconds before
   the line and back up over ``RELEASE`` seconds after it (raised-cosine ramps; gaps shorter
   than the two ramps stay ducked instead of pumping).
3. **Normalise** to ``timeline.loudness_lufs`` integrated (ITU-R BS.1770 via ``pyloudnorm``);
   audio too short or too quiet to measure (pyloudnorm needs 400 ms and gates silence) is left
   as it is.
4. **Limit**: the true peak (4x oversampled, ``scipy.signal.resample_poly``) is held at or below
   ``TRUE_PEAK_DBTP`` by scaling the whole mix down; nothing is ever clipped.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
import math
from collections.abc import Iterable

import numpy as np
from scipy.signal import resample_poly

from nyeshc.execute.cache import Cache
from nyeshc.hashing import content_key
from nyeshc.plan.model import AudioClip, Timeline
from nyeshc.render.compositor import load_artifact

__all__ = ["mix", "duck_envelope", "true_peak", "integrated_loudness", "ATTACK", "RELEASE", "TRUE_PEAK_DBTP"]

ATTACK = 0.15  # seconds: music starts going down this long before a line
RELEASE = 0.30  # seconds: and is back up this long after it
TRUE_PEAK_DBTP = -1.0
_CHUNK = 1 << 18  # samples per processing block (about 5 s)


def _db(g: float) -> float:
    return float(10.0 ** (g / 20.0))


def _ramp(n: int, rising: bool) -> np.ndarray:
    """An equal-power (quarter-sine) gain ramp of ``n`` samples."""
    t = (np.arange(n, dtype=np.float64) + 0.5) / n
    r = np.sin(0.5 * np.pi * t)
    return (r if rising else r[::-1]).astype(np.float32)


def _place(out: np.ndarray, clip: AudioClip, src: np.ndarray, total: int) -> None:
    """Add ``clip`` (source ``src (N, C)``) into ``out`` in blocks."""
    if src.ndim == 1:
        src = src[:, None]
    n_src = src.shape[0]
    start, length = clip.start, clip.length
    if length <= 0 or n_src == 0 or start >= total:
        return
    # Clip the placement to the film: [start, start+length) ∩ [0, total).
    first = max(0, -start)
    last = min(length, total - start)
    gain = _db(clip.gain_db)
    fi, fo = max(0, clip.fade_in), max(0, clip.fade_out)
    ramp_in = _ramp(fi, True) if fi else None
    ramp_out = _ramp(fo, False) if fo else None
    i = first
    while i < last:
        j = min(last, i + _CHUNK)
        # Source positions for clip-relative samples [i, j).
        s0 = clip.offset + i
        if clip.loop:
            block = np.empty((j - i, src.shape[1]), dtype=np.float32)
            k = 0
            while k < j - i:
                p = (s0 + k) % n_src
                take = min(n_src - p, j - i - k)
                block[k:k + take] = src[p:p + take]
                k += take
        else:
            lo, hi = min(s0, n_src), min(s0 + (j - i), n_src)
            if lo >= hi:
                break  # the source ran out: silence from here on
            block = np.asarray(src[lo:hi], dtype=np.float32)
            j = i + (hi - lo)
        g = np.full(j - i, gain, dtype=np.float32)
        if ramp_in is not None and i < fi:
            a, b = i, min(j, fi)
            g[a - i:b - i] *= ramp_in[a:b]
        if ramp_out is not None and j > length - fo:
            a, b = max(i, length - fo), j
            g[a - i:b - i] *= ramp_out[a - (length - fo):b - (length - fo)]
        block = block * g[:, None]
        dst = out[start + i:start + j]
        if block.shape[1] == 1:
            dst += block  # mono: broadcast to both channels
        else:
            dst += block[:, :2]
        i = j


@dataclass(frozen=True)
class _Duck:
    """Where the music is ducked: merged dialogue spans, ramp lengths and the depth."""

    spans: tuple[tuple[int, int], ...]
    attack: int
    release: int
    depth: float

    def gain(self, lo: int, hi: int) -> np.ndarray:
        """The music gain ``float32 (hi - lo,)`` for samples ``[lo, hi)``."""
        amount = np.zeros(hi - lo, dtype=np.float32)
        att, rel = self.attack, self.release
        down = (0.5 - 0.5 * np.cos(np.pi * (np.arange(att) + 0.5) / att)).astype(np.float32)
        up = (0.5 + 0.5 * np.cos(np.pi * (np.arange(rel) + 0.5) / rel)).astype(np.float32)
        for a, b in self.spans:
            if b + rel <= lo or a - att >= hi:
                continue
            s0, s1 = max(lo, a - att), min(hi, a)  # the ramp down before the line
            if s1 > s0:
                np.maximum(amount[s0 - lo:s1 - lo], down[att - (a - s0):att - (a - s1)], out=amount[s0 - lo:s1 - lo])
            amount[max(lo, a) - lo:max(lo, min(hi, b)) - lo] = 1.0
            e0, e1 = max(lo, b), min(hi, b + rel)  # the ramp up after it
            if e1 > e0:
                np.maximum(amount[e0 - lo:e1 - lo], up[e0 - b:e1 - b], out=amount[e0 - lo:e1 - lo])
        amount *= -self.depth
        amount += 1.0
        return amount


def _duck_plan(total: int, lines: Iterable[tuple[int, int]], duck_db: float, rate: int) -> _Duck | None:
    spans = sorted((max(0, a), min(total, b)) for a, b in lines if b > a)
    if not spans or duck_db >= 0:
        return None
    att, rel = max(1, int(ATTACK * rate)), max(1, int(RELEASE * rate))
    merged: list[list[int]] = []
    for a, b in spans:
        if merged and a - merged[-1][1] <= att + rel:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return _Duck(tuple((a, b) for a, b in merged), att, rel, 1.0 - _db(duck_db))


def duck_envelope(total: int, lines: Iterable[tuple[int, int]], duck_db: float, rate: int) -> np.ndarray | None:
    """The music gain ``float32 (total,)`` under dialogue spans ``[start, end)``, or ``None``
    when nothing ducks. Gaps shorter than attack + release stay ducked. (The mixer computes
    the same gain a block at a time, so a long film never holds the whole envelope.)"""
    plan = _duck_plan(total, lines, duck_db, rate)
    return None if plan is None else plan.gain(0, total)


def true_peak(x: np.ndarray, rate: int = 48_000) -> float:
    """The true peak (dBTP) of ``x (N, C)``: the sample peak of a 4x oversampled copy, block by
    block (with overlap so the filter sees its context)."""
    peak = 0.0
    pad = 64
    n = x.shape[0]
    for i in range(0, n, _CHUNK):
        a, b = max(0, i - pad), min(n, i + _CHUNK + pad)
        up = resample_poly(x[a:b], 4, 1, axis=0)
        peak = max(peak, float(np.max(np.abs(up))) if up.size else 0.0, float(np.max(np.abs(x[i:i + _CHUNK]))))
    return -math.inf if peak <= 0 else 20.0 * math.log10(peak)


def integrated_loudness(x: np.ndarray, rate: int = 48_000) -> float | None:
    """Integrated loudness (LUFS) by ITU-R BS.1770-4, or ``None`` where it cannot be measured.

    pyloudnorm's meter, measured a block at a time: its K-weighting filters (the library's
    coefficients, run with carried filter state) and its 400 ms / 75 % gating blocks and gates,
    reproduced exactly (``tests/render/test_render_mixer.py`` compares the two), but in
    O(block) memory: ``Meter.integrated_loudness`` makes float64 copies of the whole film
    (about 0.65 GB for ten minutes of stereo)."""
    import pyloudnorm
    from scipy.signal import lfilter, lfilter_zi

    n = x.shape[0]
    meter = pyloudnorm.Meter(rate)
    t_g, step = meter.block_size, 1.0 - meter.overlap
    if n < int(t_g * rate) + 1:
        return None
    x2 = x.reshape(n, -1)
    channels = x2.shape[1]
    blocks = int(np.round(((n / rate - t_g) / (t_g * step)))) + 1
    j = np.arange(blocks)
    lower = (t_g * (j * step) * rate).astype(np.int64)
    upper = (t_g * (j * step + 1) * rate).astype(np.int64)
    bounds = np.unique(np.concatenate([lower, upper, [0]]))
    bounds = bounds[bounds <= n]
    cum = np.zeros((len(bounds), channels))  # running sums of squares at each block boundary
    stages = list(meter._filters.values())  # noqa: SLF001 - the library's own K-weighting
    state = [[lfilter_zi(f.b, f.a) * 0.0 for f in stages] for _ in range(channels)]
    total = np.zeros(channels)
    for lo in range(0, n, _CHUNK):
        hi = min(n, lo + _CHUNK)
        inside = (bounds > lo) & (bounds <= hi)
        for c in range(channels):
            y = np.asarray(x2[lo:hi, c], dtype=np.float64)
            for k, f in enumerate(stages):
                y, state[c][k] = lfilter(f.b, f.a, y, zi=state[c][k])
                y = y * f.passband_gain
            sq = np.cumsum(np.square(y))
            cum[inside, c] = total[c] + sq[bounds[inside] - lo - 1]
            total[c] += sq[-1]
    index = {int(b): i for i, b in enumerate(bounds)}
    ok = (upper <= n)
    lower, upper = lower[ok], upper[ok]
    z = (cum[[index[int(u)] for u in upper]] - cum[[index[int(v)] for v in lower]]) / (t_g * rate)  # (blocks, C)
    weights = np.array([1.0, 1.0, 1.0, 1.41, 1.41][:channels])
    power = z @ weights
    with np.errstate(divide="ignore"):
        block_lufs = -0.691 + 10.0 * np.log10(power)
    gated = block_lufs >= -70.0
    if not gated.any():
        return None
    relative = -0.691 + 10.0 * np.log10(z[gated].mean(axis=0) @ weights) - 10.0
    final = (block_lufs > relative) & gated
    if not final.any():
        return None
    value = float(-0.691 + 10.0 * np.log10(z[final].mean(axis=0) @ weights))
    return value if math.isfinite(value) and value > -70.0 else None


MIX_VERSION = "2"


def mix_key(timeline: Timeline) -> str:
    """The content key of the film's final mix: its clips (artifact keys, placement, gains,
    fades), its length and the mix settings."""
    body = {"v": MIX_VERSION, "samples": timeline.samples, "rate": timeline.sample_rate,
            "duck": timeline.duck_db, "lufs": timeline.loudness_lufs, "ceiling": TRUE_PEAK_DBTP,
            "clips": [dataclasses.asdict(c) for c in timeline.audio]}
    return content_key(body, loose=True)


def mix(timeline: Timeline, cache: Cache) -> np.ndarray:
    """The film's soundtrack: ``float32 (timeline.samples, 2)`` at ``timeline.sample_rate``.

    The result is kept in ``cache`` under :func:`mix_key`, so a build whose sound did not
    change (a caption edit, a new backdrop) skips mixing and loudness measurement."""
    key = mix_key(timeline)
    cached = cache.get(key, verify=False)
    if isinstance(cached, np.ndarray) and cached.shape == (timeline.samples, 2):
        return cached
    out = _mix(timeline, cache)
    cache.put(key, out, kind="render.mix")
    return out


def _mix(timeline: Timeline, cache: Cache) -> np.ndarray:
    total, rate = timeline.samples, timeline.sample_rate
    out = np.zeros((total, 2), dtype=np.float32)
    sources: dict[str, np.ndarray] = {}

    def source(clip: AudioClip) -> np.ndarray:
        s = sources.get(clip.artifact)
        if s is None:
            s = load_artifact(cache, clip.artifact, f"audio clip {clip.name or clip.role}")
            sources[clip.artifact] = s
        return s

    ducked = [c for c in timeline.audio if c.duck]
    rest = [c for c in timeline.audio if not c.duck]
    if ducked:
        duck = _duck_plan(total, ((c.start, c.start + c.length) for c in timeline.audio
                                  if c.role == "dialogue"), timeline.duck_db, rate)
        for clip in ducked:
            _place(out, clip, source(clip), total)
        if duck is not None:
            for lo in range(0, total, _CHUNK):  # a block at a time: no film-long envelope
                hi = min(total, lo + _CHUNK)
                out[lo:hi] *= duck.gain(lo, hi)[:, None]
    for clip in rest:
        _place(out, clip, source(clip), total)

    gain = 1.0
    lufs = integrated_loudness(out, rate)
    if lufs is not None:
        gain = _db(timeline.loudness_lufs - lufs)
        out *= np.float32(gain)
    tp = true_peak(out, rate)
    if tp > TRUE_PEAK_DBTP:
        out *= np.float32(_db(TRUE_PEAK_DBTP - tp) * 0.999)
    return out
