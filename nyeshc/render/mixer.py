"""The audio mix: every :class:`~nyeshc.plan.model.AudioClip` on one 48 kHz stereo float track.

Steps, in order:

1. **Place** each clip at its ``start`` for ``length`` samples from ``offset`` (mono clips go to
   both channels; ``loop`` repeats the source; a clip past the film's end is cut), with its gain
   and equal-power fade ramps. The film is mixed a block of ``_CHUNK`` samples (about 5 s) at
   a time, straight into the cache entry of the mix (a memory map whose written pages are
   unmapped after each block): no film-long array is ever held, whatever the film's length
   or number of clips.
2. **Duck**: clips with ``duck=True`` are multiplied by a gain envelope that sits at
   ``timeline.duck_db`` under every dialogue clip, ramping down over ``ATTACK`` seconds before
   the line and back up over ``RELEASE`` seconds after it (raised-cosine ramps; gaps shorter
   than the two ramps stay ducked instead of pumping).
3. **Normalise** to ``timeline.loudness_lufs`` integrated (ITU-R BS.1770 as ``pyloudnorm``'s
   filters and gates, measured block by block as the blocks are mixed); audio too short or too
   quiet to measure (pyloudnorm needs 400 ms and gates silence) is left as it is.
4. **Limit**: the true peak (4x oversampled, ``resample_poly``'s filter; :mod:`nyeshc.dsp`
   runs it, and the K-weighting, without importing ``scipy.signal``) is held at or below
   ``TRUE_PEAK_DBTP`` by scaling the whole mix down; nothing is ever clipped. Normalising and
   measuring the true peak are one more pass over the blocks, limiting (when needed) another.

The passes compute exactly what the whole-film version did (same operations on the same
samples in the same order), so the mix is the same to the bit.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from nyeshc import dsp
from nyeshc.hashing import content_key
from nyeshc.plan.model import AudioClip, Timeline
from nyeshc.render.compositor import load_artifact
from nyeshc.render.encoder import Interrupted
from nyeshc.store.cache import Cache
from nyeshc.store.pages import release

__all__ = ["mix", "duck_envelope", "true_peak", "integrated_loudness", "ATTACK", "RELEASE", "TRUE_PEAK_DBTP"]

ATTACK = 0.15  # seconds: music starts going down this long before a line
RELEASE = 0.30  # seconds: and is back up this long after it
TRUE_PEAK_DBTP = -1.0
_CHUNK = 1 << 18  # samples per processing block (about 5 s)
BLOCK_SECONDS = 0.400  # BS.1770's gating block (pyloudnorm's Meter: block_size)
BLOCK_OVERLAP = 0.75  # and its overlap (the Meter's overlap)


def _db(g: float) -> float:
    return float(10.0 ** (g / 20.0))


@functools.lru_cache(maxsize=64)
def _ramp(n: int, rising: bool) -> np.ndarray:
    """An equal-power (quarter-sine) gain ramp of ``n`` samples (shared: read only)."""
    t = (np.arange(n, dtype=np.float64) + 0.5) / n
    r = np.sin(0.5 * np.pi * t)
    out = (r if rising else r[::-1]).astype(np.float32)
    out.flags.writeable = False
    return out


def _place(out: np.ndarray, clip: AudioClip, src: np.ndarray, total: int, lo: int = 0,
           hi: int | None = None) -> None:
    """Add ``clip`` (source ``src (N, C)``) into ``out``, in blocks: the film's samples
    ``[lo, hi)`` (default: all of it), ``out[0]`` being sample ``lo``."""
    if src.ndim == 1:
        src = src[:, None]
    n_src = src.shape[0]
    start, length = clip.start, clip.length
    hi = total if hi is None else min(hi, total)
    if length <= 0 or n_src == 0 or start >= hi:
        return
    # Clip the placement to the film and the range: [start, start+length) ∩ [lo, hi).
    first = max(0, lo - start)
    last = min(length, hi - start)
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
            p0, p1 = min(s0, n_src), min(s0 + (j - i), n_src)
            if p0 >= p1:
                break  # the source ran out: silence from here on
            block = np.asarray(src[p0:p1], dtype=np.float32)
            j = i + (p1 - p0)
        g = np.full(j - i, gain, dtype=np.float32)
        if ramp_in is not None and i < fi:
            a, b = i, min(j, fi)
            g[a - i:b - i] *= ramp_in[a:b]
        if ramp_out is not None and j > length - fo:
            a, b = max(i, length - fo), j
            g[a - i:b - i] *= ramp_out[a - (length - fo):b - (length - fo)]
        block = block * g[:, None]
        dst = out[start + i - lo:start + j - lo]
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
        up = dsp.resample_poly(x[a:b], 4, 1, axis=0)
        peak = max(peak, float(np.max(np.abs(up))) if up.size else 0.0, float(np.max(np.abs(x[i:i + _CHUNK]))))
    return -math.inf if peak <= 0 else 20.0 * math.log10(peak)


def integrated_loudness(x: np.ndarray, rate: int = 48_000) -> float | None:
    """Integrated loudness (LUFS) by ITU-R BS.1770-4, or ``None`` where it cannot be measured.

    pyloudnorm's meter, measured a block at a time (:class:`_Loudness`): its K-weighting
    filters (the library's coefficients, run with carried filter state) and its 400 ms / 75 %
    gating blocks and gates, reproduced exactly (``tests/render/test_render_mixer.py`` compares
    the two), but in O(block) memory: ``Meter.integrated_loudness`` makes float64 copies of the
    whole film (about 0.65 GB for ten minutes of stereo)."""
    n = x.shape[0]
    x2 = x.reshape(n, -1)
    meter = _Loudness(n, x2.shape[1], rate)
    for lo in range(0, n, _CHUNK):
        meter.feed(lo, x2[lo:lo + _CHUNK])
    return meter.result()


class _Loudness:
    """The BS.1770 meter of :func:`integrated_loudness`, fed ``n`` samples of ``channels``
    channels in consecutive blocks of ``_CHUNK`` samples (the last one shorter)."""

    def __init__(self, n: int, channels: int, rate: int) -> None:
        self.n, self.rate, self.channels = n, rate, channels
        self.t_g, step = BLOCK_SECONDS, 1.0 - BLOCK_OVERLAP
        self.ok = n >= int(self.t_g * rate) + 1
        if not self.ok:
            return
        blocks = int(np.round(((n / rate - self.t_g) / (self.t_g * step)))) + 1
        j = np.arange(blocks)
        self.lower = (self.t_g * (j * step) * rate).astype(np.int64)
        self.upper = (self.t_g * (j * step + 1) * rate).astype(np.int64)
        bounds = np.unique(np.concatenate([self.lower, self.upper, [0]]))
        self.bounds = bounds[bounds <= n]
        self.cum = np.zeros((len(self.bounds), channels))  # running sums of squares at each block boundary
        self.stages = dsp.k_weighting(rate)  # pyloudnorm's Meter's filters, passband gain 1
        self.state = [[np.zeros(max(len(b), len(a)) - 1) for b, a in self.stages] for _ in range(channels)]
        self.total = np.zeros(channels)

    def feed(self, lo: int, block: np.ndarray) -> None:
        """Samples ``[lo, lo + len(block))`` (``block (m, channels)``)."""
        if not self.ok:
            return
        hi = min(self.n, lo + block.shape[0])
        bounds = self.bounds
        inside = (bounds > lo) & (bounds <= hi)
        for c in range(self.channels):
            y = np.asarray(block[:hi - lo, c], dtype=np.float64)
            for k, (b, a) in enumerate(self.stages):
                y, self.state[c][k] = dsp.lfilter(b, a, y, zi=self.state[c][k])
            sq = np.cumsum(np.square(y))
            self.cum[inside, c] = self.total[c] + sq[bounds[inside] - lo - 1]
            self.total[c] += sq[-1]

    def result(self) -> float | None:
        if not self.ok:
            return None
        t_g, rate, cum = self.t_g, self.rate, self.cum
        index = {int(b): i for i, b in enumerate(self.bounds)}
        ok = (self.upper <= self.n)
        lower, upper = self.lower[ok], self.upper[ok]
        z = (cum[[index[int(u)] for u in upper]] - cum[[index[int(v)] for v in lower]]) / (t_g * rate)  # (blocks, C)
        weights = np.array([1.0, 1.0, 1.0, 1.41, 1.41][:self.channels])
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


def mix(timeline: Timeline, cache: Cache, stop: Callable[[], bool] | None = None) -> np.ndarray:
    """The film's soundtrack: ``float32 (timeline.samples, 2)`` at ``timeline.sample_rate``,
    memory-mapped from the cache.

    The result is kept in ``cache`` under :func:`mix_key`, so a build whose sound did not
    change (a caption edit, a new backdrop) skips mixing and loudness measurement. It is mixed
    into that entry a block at a time (:func:`_mix`): read it in blocks too (``write_wav``
    does), and memory stays bounded whatever the film's length. ``stop`` (asked between
    blocks): when it says true, :class:`~nyeshc.render.encoder.Interrupted` is raised and
    nothing is cached (the mix made in a thread while the jobs run, cancelled)."""
    key = mix_key(timeline)
    cached = cache.get(key, verify=False)
    if isinstance(cached, np.ndarray) and cached.shape == (timeline.samples, 2):
        return cached
    return _mix(timeline, cache, stop)


def _mix(timeline: Timeline, cache: Cache, stop: Callable[[], bool] | None = None) -> np.ndarray:
    """Mix ``timeline`` into its cache entry, block by block; returns the entry."""
    key, total = mix_key(timeline), timeline.samples
    if total <= 0:  # nothing to map
        empty = np.zeros((0, 2), dtype=np.float32)
        cache.put(key, empty, kind="render.mix")
        return empty
    with cache.writer(key, (total, 2), np.float32, kind="render.mix") as out:
        _mix_into(out, timeline, cache, stop or (lambda: False))
        del out
    got = cache.get(key, verify=False)
    if got is None:  # pragma: no cover - the writer just committed it
        raise RuntimeError(f"the mix {key[:12]}… vanished from the cache as it was written")
    return got


def _mix_into(out: np.ndarray, timeline: Timeline, cache: Cache, stop: Callable[[], bool]) -> None:
    """The mix, written into ``out`` (``float32 (samples, 2)``, zeros, a memory map) in three
    passes over blocks of ``_CHUNK`` samples: place, duck and measure the loudness; normalise
    and measure the true peak; limit (only when the peak is over the ceiling). Each block's
    written pages are unmapped after it, and each clip's source once the blocks have passed
    its end, so nothing film-long stays in memory."""
    total, rate = timeline.samples, timeline.sample_rate
    ducked = [c for c in timeline.audio if c.duck]
    rest = [c for c in timeline.audio if not c.duck]
    clips = ducked + rest  # ducked clips first: the duck gain applies to them alone
    starts = np.array([c.start for c in clips], dtype=np.int64)
    ends = starts + np.array([max(0, c.length) for c in clips], dtype=np.int64)
    last_use: dict[str, int] = {}
    for c, e in zip(clips, ends):
        last_use[c.artifact] = max(last_use.get(c.artifact, 0), int(e))
    duck = None
    if ducked:
        duck = _duck_plan(total, ((c.start, c.start + c.length) for c in timeline.audio
                                  if c.role == "dialogue"), timeline.duck_db, rate)
    sources: dict[str, Any] = {}

    def source(clip: AudioClip) -> Any:
        s = sources.get(clip.artifact)
        if s is None:
            s = load_artifact(cache, clip.artifact, f"audio clip {clip.name or clip.role}")
            sources[clip.artifact] = s
        return s

    meter = _Loudness(total, 2, rate)
    for lo in range(0, total, _CHUNK):
        _check(stop)
        hi = min(total, lo + _CHUNK)
        block = np.zeros((hi - lo, 2), dtype=np.float32)
        ducked_done = not ducked
        for i in np.flatnonzero((starts < hi) & (ends > lo)):
            if not ducked_done and i >= len(ducked):
                ducked_done = True
                if duck is not None:
                    block *= duck.gain(lo, hi)[:, None]
            _place(block, clips[i], source(clips[i]), total, lo, hi)
        if not ducked_done and duck is not None:
            block *= duck.gain(lo, hi)[:, None]
        out[lo:hi] = block
        meter.feed(lo, block)
        release(out, *sources.values())
        for art in [a for a in sources if last_use[a] <= hi]:
            del sources[art]

    gain = 1.0
    lufs = meter.result()
    g32 = None
    if lufs is not None:
        gain = _db(timeline.loudness_lufs - lufs)
        g32 = np.float32(gain)
    tp = _normalise_and_peak(out, g32, stop)
    if tp > TRUE_PEAK_DBTP:
        limit = np.float32(_db(TRUE_PEAK_DBTP - tp) * 0.999)
        for lo in range(0, total, _CHUNK):
            _check(stop)
            out[lo:lo + _CHUNK] *= limit
            release(out)


def _check(stop: Callable[[], bool]) -> None:
    if stop():
        raise Interrupted("the mix was stopped")


@functools.cache
def _hot_level() -> float:
    """The sample magnitude under which no 4x oversampled value can reach the ceiling: an
    interpolated sample is a weighted sum of its neighbours, so it is at most the largest sum
    of one phase's absolute taps (2.24 for ``resample_poly``'s filter) times their largest
    magnitude; a thousandth less, for float32 rounding."""
    h = np.asarray(dsp.interpolator(4, 1), dtype=np.float32).astype(np.float64) * 4
    gain = max(float(np.abs(h[k::4]).sum()) for k in range(4))
    return _db(TRUE_PEAK_DBTP) / (gain * 1.001)


def _hot_windows(seg: np.ndarray, pad: int) -> list[tuple[int, int]]:
    """``[a, b)`` windows of ``seg`` around its samples at or above :func:`_hot_level`, each
    widened by ``pad`` samples either side (clipped to ``seg``) and merged where they meet."""
    mag = np.abs(seg).max(axis=1) if seg.ndim == 2 else np.abs(seg)
    hot = np.flatnonzero(mag >= _hot_level())
    if hot.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(hot) > 2 * pad) + 1
    firsts, lasts = hot[np.r_[0, breaks]], hot[np.r_[breaks - 1, hot.size - 1]]
    return [(max(0, int(a) - pad), min(len(seg), int(b) + 1 + pad)) for a, b in zip(firsts, lasts)]


def _normalise_and_peak(out: np.ndarray, g32: Any, stop: Callable[[], bool] = lambda: False) -> float:
    """Multiply ``out`` by ``g32`` (unless None) block by block and return the true peak of the
    result: :func:`true_peak`'s blocks, their context taken from the blocks either side (the
    one before already scaled, the next 64 samples scaled here).

    Only around loud samples (:func:`_hot_windows`, 64 samples of context either side) is the
    block oversampled: elsewhere no value can pass the ceiling, and the peak is used only to
    decide whether, and by how much, to limit. Where it does pass the ceiling its value is the
    whole block's, to the bit (each oversampled value there reads the same samples, with the same
    taps, as in the whole block); below the ceiling it may be lower than the block's, which
    limits nothing either way. The example film's mix needs 8 % of its samples oversampled."""
    n = out.shape[0]
    pad = 64
    peak = 0.0
    tail = np.zeros((0, out.shape[1]), dtype=np.float32)
    for i in range(0, n, _CHUNK):
        _check(stop)
        cur = np.array(out[i:i + _CHUNK])
        nxt = np.array(out[i + _CHUNK:i + _CHUNK + pad])
        if g32 is not None:
            cur *= g32
            nxt *= g32
            out[i:i + _CHUNK] = cur
        seg = np.concatenate([tail, cur, nxt])
        for a, b in _hot_windows(seg, pad):
            up = dsp.resample_poly(seg[a:b], 4, 1, axis=0)
            peak = max(peak, float(np.max(np.abs(up))))
        peak = max(peak, float(np.max(np.abs(cur))) if cur.size else 0.0)
        tail = cur[-pad:]
        release(out)
    return -math.inf if peak <= 0 else 20.0 * math.log10(peak)
