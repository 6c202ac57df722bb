"""Formant synthesis shared by the procedural voice and the singing in the procedural music.

Three layers:

* **An invented phonology** (:func:`phonology`): a seeded inventory of onsets, vowels and codas.
  :func:`asemic_sentences` maps a text's letters deterministically onto syllables of it: each
  word is cut into chunks of about two to three letters and each chunk picks one syllable
  (consonant + vowel [+ coda]) from a hash of the chunk and the language seed. The same text
  always gives the same "words"; nothing in it depends on Python's ``hash()`` or global RNG.
* **Phone timing** (:func:`syllable_phones`): the nominal length of each consonant, so callers
  (speech prosody, or the notes of a sung melody) can lay syllables out in time.
* **The synthesiser** (:func:`render`): a Rosenberg-style glottal pulse (band-limited at the
  glottal closure with a polyBLEP, spectral tilt, pulse-synchronous breath noise, jitter and
  shimmer) driven by a per-sample f0 contour, through a Klatt-style cascade of five formant
  resonators whose frequencies and bandwidths glide smoothly from phone to phone; fricatives
  (s, sh, f, v) are band-passed noise added in parallel, ``h`` and stop aspiration are noise
  fed through the formant cascade, stops (p, t, k) are a closure of silence and a short burst,
  nasals (m, n) and approximants (l, r, w, j) are voiced with their own formants.

Everything is numpy (the filters through :mod:`nyeshc.dsp`) and deterministic for a given
``numpy.random.Generator``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from nyeshc import dsp
from nyeshc.backends.base import SAMPLE_RATE

SR = SAMPLE_RATE
BLOCK = 240
"""Formant coefficients are updated every ``BLOCK`` samples (5 ms)."""

# --------------------------------------------------------------------------- phone tables

# F1, F2, F3, B1, B2, B3 (Hz): averaged adult values, scaled by ``formant_scale`` at render.
VOWELS: dict[str, tuple[float, float, float, float, float, float]] = {
    "a": (750, 1250, 2550, 90, 110, 160),
    "e": (450, 1950, 2600, 70, 110, 160),
    "i": (290, 2250, 2950, 60, 110, 170),
    "o": (480, 900, 2500, 80, 100, 150),
    "u": (320, 800, 2300, 70, 100, 150),
    "ə": (520, 1450, 2500, 80, 110, 160),
    "ɛ": (600, 1750, 2550, 85, 110, 160),
    "ɔ": (620, 1000, 2500, 85, 100, 150),
    "y": (300, 1750, 2200, 65, 110, 160),
    "ɨ": (330, 1500, 2400, 70, 110, 160),
}

# voiced consonants with formants: (F1, F2, F3, B1, B2, B3, voicing amplitude)
SONORANTS: dict[str, tuple[float, float, float, float, float, float, float]] = {
    "m": (250, 1100, 2200, 110, 300, 400, 0.6),
    "n": (250, 1500, 2600, 110, 300, 400, 0.6),
    "l": (360, 1100, 2700, 90, 150, 250, 0.65),
    "r": (420, 1250, 1750, 100, 150, 200, 0.62),
    "w": (320, 750, 2300, 80, 120, 200, 0.6),
    "j": (280, 2200, 3000, 70, 130, 220, 0.6),
}

# noise bands: (low Hz, high Hz, level)
NOISE_BANDS: dict[str, tuple[float, float, float]] = {
    "s": (4200.0, 10000.0, 0.55),
    "ʃ": (1900.0, 6000.0, 0.6),
    "f": (1200.0, 9000.0, 0.22),
    "v": (1200.0, 7000.0, 0.12),
    "p": (400.0, 2200.0, 0.9),
    "t": (3200.0, 9000.0, 0.9),
    "k": (1400.0, 3600.0, 0.9),
}
FRICATIVES = ("s", "ʃ", "f", "v")
STOPS = ("p", "t", "k")
ASPIRATED = ("h",)
SILENCE = "_"
BREATH = "breath"

# nominal onset/coda lengths in seconds at rate 1
CONSONANT_SECONDS: dict[str, float] = {
    "s": 0.10, "ʃ": 0.10, "f": 0.085, "v": 0.07, "h": 0.07,
    "p": 0.085, "t": 0.08, "k": 0.085,
    "m": 0.07, "n": 0.065, "l": 0.06, "r": 0.055, "w": 0.06, "j": 0.055,
}
CODA_SECONDS: dict[str, float] = {"m": 0.075, "n": 0.07, "s": 0.09, "l": 0.06}

F4, F5, B4, B5 = 3400.0, 4300.0, 250.0, 300.0


def is_vowel(symbol: str) -> bool:
    return symbol in VOWELS


# --------------------------------------------------------------------------- phonology


@dataclass(frozen=True, slots=True)
class Syllable:
    onset: str  # a consonant symbol, or "" for none
    vowel: str
    coda: str  # "" or one of CODA_SECONDS
    stress: bool = False
    long: bool = False


@dataclass(frozen=True, slots=True)
class Sentence:
    """One sentence: its words (tuples of syllables), which words end in a comma, its mark."""

    words: tuple[tuple[Syllable, ...], ...]
    commas: frozenset[int]
    mark: str  # ".", "!" or "?"

    @property
    def syllables(self) -> tuple[Syllable, ...]:
        return tuple(s for w in self.words for s in w)


@dataclass(frozen=True, slots=True)
class Phonology:
    onsets: tuple[str, ...]
    onset_weights: tuple[float, ...]
    vowels: tuple[str, ...]
    vowel_weights: tuple[float, ...]
    codas: tuple[str, ...]
    coda_prob: float
    stress_first: bool


_BASE_ONSETS = {
    "m": 1.2, "n": 1.2, "l": 1.2, "s": 1.0, "ʃ": 0.8, "h": 0.8, "w": 0.7, "j": 0.6,
    "r": 0.8, "v": 0.5, "f": 0.5, "k": 0.6, "t": 0.6, "p": 0.4, "": 0.9,
}


def sub_seed(*parts: object) -> int:
    """A 64-bit seed from any parts, stable across processes (blake2b, not ``hash()``)."""
    text = "\x1f".join(str(p) for p in parts).encode("utf-8")
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")


@lru_cache(maxsize=32)
def phonology(seed: int) -> Phonology:
    """The invented language for ``seed``: a soft, sonorant-heavy inventory."""
    rng = np.random.default_rng(sub_seed("phonology", seed))
    names = list(_BASE_ONSETS)
    drop = set(rng.choice([n for n in names if n not in ("", "m", "n", "l")], size=int(rng.integers(2, 5)),
                          replace=False).tolist())
    onsets = tuple(n for n in names if n not in drop)
    weights = tuple(float(_BASE_ONSETS[n] * rng.uniform(0.5, 1.5)) for n in onsets)
    others = [v for v in VOWELS if v not in ("a", "i", "e", "o", "u")]
    front = str(rng.choice(["i", "e"]))
    back = str(rng.choice(["o", "u"]))
    core = ["a", front, back]
    rest = [v for v in ("i", "e", "o", "u") if v not in core] + others
    extra = rng.choice(rest, size=int(rng.integers(2, 5)), replace=False).tolist()
    vowels = tuple(core + [str(v) for v in extra])
    vweights = tuple(float(rng.uniform(0.6, 1.4)) * (1.4 if v in core else 1.0) for v in vowels)
    codas = tuple(str(c) for c in rng.choice(list(CODA_SECONDS), size=int(rng.integers(1, 4)), replace=False))
    return Phonology(onsets, weights, vowels, vweights, codas, float(rng.uniform(0.12, 0.3)),
                     bool(rng.random() < 0.6))


def _pick(items: tuple[str, ...], weights: tuple[float, ...], u: float) -> str:
    cum = np.cumsum(weights)
    return items[int(min(np.searchsorted(cum, u * cum[-1], side="right"), len(items) - 1))]


@lru_cache(maxsize=65536)
def chunk_syllable(chunk: str, seed: int) -> Syllable:
    """The syllable a chunk of letters maps to in language ``seed`` (always the same; kept, since
    a film's lines reuse a few thousand chunks: planning asks every line's length)."""
    ph = phonology(seed)
    d = hashlib.blake2b(f"{seed}\x1f{chunk}".encode("utf-8"), digest_size=16).digest()
    u = [int.from_bytes(d[2 * i: 2 * i + 2], "little") / 65536.0 for i in range(8)]
    onset = _pick(ph.onsets, ph.onset_weights, u[0])
    vowel = _pick(ph.vowels, ph.vowel_weights, u[1])
    coda = _pick(ph.codas, tuple(1.0 for _ in ph.codas), u[3]) if u[2] < ph.coda_prob else ""
    return Syllable(onset, vowel, coda, False, u[4] < 0.2)


@lru_cache(maxsize=65536)
def word_syllables(word: str, seed: int) -> tuple[Syllable, ...]:
    """A word's letters cut into ~2.5-letter chunks, each mapped to a syllable; stress marked
    (kept like :func:`chunk_syllable`; the tuple and its syllables are immutable)."""
    letters = word.lower()
    n = max(1, int(round(len(letters) / 2.6)))
    bounds = np.linspace(0, len(letters), n + 1).round().astype(int)
    syls = [chunk_syllable(letters[bounds[i]:bounds[i + 1]], seed) for i in range(n)]
    stressed = 0 if (phonology(seed).stress_first or n == 1) else n - 2
    syls[stressed] = Syllable(syls[stressed].onset, syls[stressed].vowel, syls[stressed].coda, True,
                              syls[stressed].long)
    return tuple(syls)


_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)*|[.!?…]+|[,;:—–\n]|\s-\s")


def asemic_sentences(text: str, seed: int = 0) -> list[Sentence]:
    """``text`` as sentences of asemic words in language ``seed`` (empty when it has no letters).

    Sentences end at ``. ! ? …``; ``, ; : —`` and line breaks give a comma pause. The last
    sentence ends in ``.`` when the text does not say otherwise.
    """
    sentences: list[Sentence] = []
    words: list[tuple[Syllable, ...]] = []
    commas: set[int] = set()

    def close(mark: str) -> None:
        nonlocal words, commas
        if words:
            sentences.append(Sentence(tuple(words), frozenset(c for c in commas if c < len(words) - 1), mark))
        words, commas = [], set()

    for tok in _TOKEN.findall(text):
        if tok[0] in ".!?…":
            close("?" if "?" in tok else "!" if "!" in tok else ".")
        elif tok.strip() in (",", ";", ":", "—", "–", "-") or tok == "\n":
            if words:
                commas.add(len(words) - 1)
        else:
            words.append(word_syllables(tok, seed))
    close(".")
    return sentences


def asemic_syllables(text: str, seed: int = 0) -> list[Syllable]:
    """All syllables of ``text`` in order (for singing: one syllable per note)."""
    return [s for sent in asemic_sentences(text, seed) for s in sent.syllables]


def syllable_phones(syl: Syllable) -> tuple[list[tuple[str, float]], str, list[tuple[str, float]]]:
    """``(onset phones, vowel, coda phones)`` with nominal consonant lengths in seconds."""
    onset = [(syl.onset, CONSONANT_SECONDS[syl.onset])] if syl.onset else []
    coda = [(syl.coda, CODA_SECONDS[syl.coda])] if syl.coda else []
    return onset, syl.vowel, coda


# --------------------------------------------------------------------------- helpers


def smooth(x: np.ndarray, width: int, passes: int = 2) -> np.ndarray:
    """Box-filter ``x`` ``passes`` times (width in samples, centred, edges held)."""
    if width <= 1 or x.size == 0:
        return x.astype(np.float64, copy=True)
    y = np.asarray(x, dtype=np.float64)
    half = width // 2
    for _ in range(passes):
        padded = np.concatenate([np.full(half + 1, y[0]), y, np.full(width - half, y[-1])])
        c = np.cumsum(padded)
        y = (c[width:width + y.size] - c[:y.size]) / width
    return y


@dataclass(frozen=True, slots=True)
class Event:
    """A phone placed in time: ``symbol`` from the tables (or ``"_"``, ``"breath"``)."""

    symbol: str
    start: int
    length: int
    gain: float = 1.0


def phones(events: Sequence[Event], total: int) -> tuple[tuple[int, str], ...]:
    """``(sample, symbol)`` starts of ``events`` (in order) over ``[0, total)``, with ``"_"``
    wherever none sounds (before the first, in gaps, after the last): what a voice or a singer
    tells a mouth (:class:`nyeshc.backends.base.Phonemes`'s events)."""
    out: list[tuple[int, str]] = []
    cursor = 0
    for ev in events:
        if ev.start > cursor:
            out.append((cursor, "_"))
        out.append((ev.start, ev.symbol))
        cursor = ev.start + ev.length
    if cursor < total:
        out.append((cursor, "_"))
    return tuple(out)


@lru_cache(maxsize=16)
def _band_sos(lo: float, hi: float) -> np.ndarray:
    hi = min(hi, 0.45 * SR)
    return dsp.butter_sos(2, (lo, hi), "bandpass", SR)


@lru_cache(maxsize=4)
def _hp_sos(freq: float) -> np.ndarray:
    return dsp.butter_sos(2, freq, "highpass", SR)


def _formant_targets(symbol: str, scale: float) -> tuple[float, ...] | None:
    if symbol in VOWELS:
        f = VOWELS[symbol]
    elif symbol in SONORANTS:
        f = SONORANTS[symbol][:6]
    elif symbol == BREATH:
        f = (520, 1450, 2500, 200, 250, 300)
    else:
        return None
    return (f[0] * scale, f[1] * scale, f[2] * scale, f[3], f[4], f[5])


def glottal_source(f0: np.ndarray, open_quotient: np.ndarray | float = 0.6) -> tuple[np.ndarray, np.ndarray]:
    """Differentiated Rosenberg pulses following ``f0`` (Hz per sample).

    Returns ``(source, open)``: the flow derivative (zero mean per period, band-limited at
    the closure step with a polyBLEP) and the open-phase flow (for pulse-synchronous noise).
    """
    dt = np.clip(f0 / SR, 1e-5, 0.25)
    phase = np.cumsum(dt)
    phase -= np.floor(phase)
    oq = np.broadcast_to(np.asarray(open_quotient, dtype=np.float64), phase.shape)
    tp = 0.72 * oq
    tn = oq - tp
    src = np.zeros_like(phase)
    flow = np.zeros_like(phase)
    opening = phase < tp
    closing = (~opening) & (phase < oq)
    src[opening] = (0.5 * np.pi / tp[opening]) * np.sin(np.pi * phase[opening] / tp[opening])
    flow[opening] = 0.5 * (1 - np.cos(np.pi * phase[opening] / tp[opening]))
    x = (phase[closing] - tp[closing]) / tn[closing]
    src[closing] = -(0.5 * np.pi / tn[closing]) * np.sin(0.5 * np.pi * x)
    flow[closing] = np.cos(0.5 * np.pi * x)
    # closure step of +pi/(2 tn) at phase == oq: polyBLEP smooths it
    jump = 0.5 * np.pi / tn
    t = phase - oq
    t -= np.floor(t)
    blep = np.zeros_like(t)
    a = t < dt
    u = t[a] / dt[a]
    blep[a] = u + u - u * u - 1.0
    b = t > 1.0 - dt
    u = (t[b] - 1.0) / dt[b]
    blep[b] = u * u + u + u + 1.0
    src += 0.5 * jump * blep
    src *= dt * 4.0  # flow derivative per sample: level independent of f0's period count
    return src, flow


def render(events: list[Event], f0: np.ndarray, rng: np.random.Generator, *, formant_scale: float = 1.0,
           breathiness: float = 0.2, tilt: float = 0.55, jitter: float = 0.006, shimmer: float = 0.05,
           smooth_ms: float = 40.0, presence: float = 0.8) -> np.ndarray:
    """Synthesise ``events`` with the per-sample ``f0`` (Hz); ``float64`` mono, ``len(f0)`` samples.

    ``breathiness`` (0..1) mixes pulse-synchronous aspiration into the voice and widens the
    glottal pulse; ``tilt`` (0..0.95) darkens the source; ``smooth_ms`` sets how long formant
    transitions take (longer = more legato); ``presence`` (0..0.95) is a first-order
    pre-emphasis standing in for the formants above F5. The level is not normalised.
    """
    n = int(f0.shape[0])
    out = np.zeros(n)
    if n == 0:
        return out
    voice = np.zeros(n)
    asp = np.zeros(n)
    noise_env: dict[str, np.ndarray] = {}
    bursts: dict[str, np.ndarray] = {}
    nblocks = (n + BLOCK - 1) // BLOCK
    ftrack = np.full((nblocks, 6), np.nan)

    for ev in events:
        s0, s1 = max(0, ev.start), min(n, ev.start + ev.length)
        if s1 <= s0:
            continue
        sym = ev.symbol
        tg = _formant_targets(sym, formant_scale)
        if tg is not None:
            b0, b1 = s0 // BLOCK, max(s0 // BLOCK + 1, (s1 + BLOCK // 2) // BLOCK)
            ftrack[b0:b1] = tg
        if sym in VOWELS:
            voice[s0:s1] = ev.gain
        elif sym in SONORANTS:
            voice[s0:s1] = ev.gain * SONORANTS[sym][6]
        elif sym in FRICATIVES:
            noise_env.setdefault(sym, np.zeros(n))[s0:s1] = ev.gain * NOISE_BANDS[sym][2]
            if sym == "v":
                voice[s0:s1] = 0.3 * ev.gain
        elif sym == "h":
            asp[s0:s1] = 0.8 * ev.gain
        elif sym == BREATH:
            m = s1 - s0
            asp[s0:s1] = 0.4 * ev.gain * np.sin(np.pi * np.arange(m) / m) ** 2
        elif sym in STOPS:
            m = s1 - s0
            closure = int(0.55 * m)
            burst_at = s0 + closure
            bl = min(s1 - burst_at, int(0.03 * SR))
            if bl > 0:
                env = bursts.setdefault(sym, np.zeros(n))
                tt = np.arange(bl) / SR
                env[burst_at:burst_at + bl] += ev.gain * NOISE_BANDS[sym][2] * np.exp(-tt / 0.008) * \
                    np.minimum(1.0, tt / 0.0008)
            al = s1 - burst_at
            if al > 0:
                tt = np.arange(al) / al
                asp[burst_at:s1] = 0.45 * ev.gain * np.sin(np.pi * np.minimum(1.0, tt * 3)) ** 0.5 * (1 - tt)

    # formant tracks: unvoiced phones take their neighbours' targets, then glide smoothly
    filled = ftrack[:, 0] == ftrack[:, 0]
    if not filled.any():
        ftrack[:] = _formant_targets("ə", formant_scale)
    else:
        idx = np.where(filled, np.arange(nblocks), nblocks)
        nxt = np.minimum.accumulate(idx[::-1])[::-1]  # next filled block
        prv = np.maximum.accumulate(np.where(filled, np.arange(nblocks), -1))
        take = np.where(nxt < nblocks, nxt, prv)
        ftrack = ftrack[take]
    width = max(1, int(round(smooth_ms * 1e-3 * SR / BLOCK)))
    ftrack = np.stack([smooth(ftrack[:, k], width) for k in range(6)], axis=1)

    # amplitude envelopes: short ramps, no clicks
    ramp = int(0.008 * SR)
    voice = smooth(voice, ramp)
    asp = smooth(asp, ramp)

    # f0 micro-variation: jitter (fast), shimmer
    coarse = np.arange(0, n + 400, 400) / 400.0  # control noise at 120 Hz, interpolated
    fine = np.arange(n) / 400.0
    jit = np.interp(fine, coarse, rng.standard_normal(coarse.size)) * jitter
    f0v = f0 * (1.0 + jit)
    oq = np.clip(0.48 + 0.3 * breathiness + 0.1 * (1.0 - np.clip(voice, 0, 1)), 0.35, 0.92)
    src, flow = glottal_source(f0v, oq)
    shim = 1.0 + shimmer * np.interp(fine, coarse, rng.standard_normal(coarse.size))
    if tilt > 0:
        src = dsp.lfilter([1.0 - tilt], [1.0, -tilt], src)
    aspn = dsp.sosfilt(_hp_sos(700.0), rng.standard_normal(n)) * 0.05
    excitation = src * voice * shim + aspn * (asp + breathiness * 0.8 * voice * (0.3 + flow))

    # cascade of five resonators, coefficients per block (unity gain at DC)
    fr = np.concatenate([ftrack[:, :3], np.full((nblocks, 1), F4 * formant_scale),
                         np.full((nblocks, 1), F5 * formant_scale)], axis=1)
    bw = np.concatenate([ftrack[:, 3:6], np.full((nblocks, 1), B4), np.full((nblocks, 1), B5)], axis=1)
    r = np.exp(-np.pi * bw / SR)
    a1 = -2.0 * r * np.cos(2.0 * np.pi * np.minimum(fr, 0.45 * SR) / SR)
    a2 = r * r
    sos = np.zeros((nblocks, 5, 6))
    sos[:, :, 0] = 1.0 + a1 + a2
    sos[:, :, 3] = 1.0
    sos[:, :, 4] = a1
    sos[:, :, 5] = a2
    zi = np.zeros((5, 2))
    active = np.abs(excitation) > 0
    blocks_active = np.add.reduceat(active, np.arange(0, n, BLOCK)) > 0
    out[:] = excitation
    for b in range(nblocks):
        i0, i1 = b * BLOCK, min(n, (b + 1) * BLOCK)
        if not blocks_active[b] and not np.any(zi):
            continue
        dsp.sosfilt_inplace(sos[b], out[i0:i1], zi)
        if not blocks_active[b] and np.max(np.abs(zi)) < 1e-9:
            zi[:] = 0.0
    if presence > 0:  # higher-pole correction: the all-pole cascade alone is too dark
        out = dsp.lfilter([1.0, -presence], [1.0], out) / (1.0 - presence)

    # parallel noise: fricatives and stop bursts
    for sym, env in list(noise_env.items()) + list(bursts.items()):
        env = smooth(env, int(0.006 * SR)) if sym in FRICATIVES else env
        nz = np.flatnonzero(env > 1e-6)
        if nz.size == 0:
            continue
        i0, i1 = nz[0], nz[-1] + 1
        lo, hi, _ = NOISE_BANDS[sym]
        noise = dsp.sosfilt(_band_sos(lo * min(formant_scale, 1.15), hi), rng.standard_normal(i1 - i0))
        out[i0:i1] += noise * env[i0:i1] * 0.16
    return dsp.sosfilt(_hp_sos(60.0), out)


def vowel_sos(vowel: str, scale: float = 1.0, bandwidth_scale: float = 1.0, fs: float = SR) -> np.ndarray:
    """A fixed five-resonator cascade (``sos`` array at rate ``fs``) for ``vowel``: choir pads."""
    f = VOWELS[vowel]
    fr = np.minimum(np.array([f[0] * scale, f[1] * scale, f[2] * scale, F4 * scale, F5 * scale]), 0.45 * fs)
    bw = np.array([f[3], f[4], f[5], B4, B5]) * bandwidth_scale
    r = np.exp(-np.pi * bw / fs)
    a1 = -2.0 * r * np.cos(2.0 * np.pi * fr / fs)
    a2 = r * r
    sos = np.zeros((5, 6))
    sos[:, 0] = 1.0 + a1 + a2
    sos[:, 3] = 1.0
    sos[:, 4] = a1
    sos[:, 5] = a2
    return sos


def reverb_ir(seconds: float, rng: np.random.Generator, *, predelay: float = 0.01,
              damping: float = 0.5) -> np.ndarray:
    """A decaying-noise impulse response (``seconds`` = T60); highs decay faster with ``damping``."""
    m = max(8, int(seconds * SR))
    t = np.arange(m) / SR
    noise = rng.standard_normal(m)
    low = dsp.sosfilt(dsp.butter_sos(2, 2500.0, "lowpass", SR), noise)
    high = noise - low
    ir = low * np.exp(-6.9 * t / seconds) + high * np.exp(-6.9 * t / (seconds * (1.0 - 0.8 * damping)))
    ir *= np.minimum(1.0, t / 0.004)  # no click at onset
    pd = int(predelay * SR)
    ir = np.concatenate([np.zeros(pd), ir])
    return ir / np.sqrt(np.sum(ir * ir))
