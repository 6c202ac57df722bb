"""Visemes: the mouth shapes the procedural puppet makes while a voice says its phonemes.

A voice backend that knows what it says (eSpeak NG's phoneme events, the asemic voice's own
syllable plan) gives :class:`~nyeshc.backends.base.Phonemes`; this module turns them into three
per-frame curves the puppet draws: ``openness`` (0 closed .. 1 the natural opening), ``width``
(lip-corner spread: below 1 rounded and pushed forward, above 1 spread) and ``teeth`` (the
lower lip tucked under the upper teeth, for f and v).

Twelve visemes (:data:`VISEMES`):

========  ===================================  ========  =====  =====
name      sounds                               openness  width  teeth
========  ===================================  ========  =====  =====
rest      silence                              0         1.00   0
mbp       m b p (lips pressed)                 0         0.95   0
fv        f v (lip under the teeth)            0.08      1.00   1
th        θ ð (tongue between the teeth)       0.20      1.02   0
t         t d n l s z                          0.18      1.06   0
kg        k g ŋ h                              0.32      1.00   0
sh        ʃ ʒ tʃ dʒ r (lips pushed forward)    0.24      0.78   0
ee        i ɪ e j (spread)                     0.40      1.16   0
eh        ɛ ə ʌ ɜ                              0.70      1.06   0
aa        a ɑ æ (open)                         1.00      1.00   0
oh        o ɔ ɒ (round)                        0.70      0.74   0
oo        u ʊ w y (small round)                0.30      0.62   0
========  ===================================  ========  =====  =====

Diphthongs (eSpeak's ``aI``, ``aU``, ``oU``, ``eI``, ``OI``, ``e@``, ``i@``, ``U@``) are two
targets, 55 % and 45 % of their time.

**Coarticulation** (no popping from shape to shape): each phoneme is a segment with a target
and a *dominance* (after Cohen & Massaro's model of coarticulation): full inside its segment,
decaying exponentially outside it (time constant :data:`TAU`, 35 ms, divided by the square root
of a dominance above 1: a strong shape holds its segment without reaching far beyond it). The mouth at time t is
the dominance-weighted mean of all targets, computed every 5 ms and averaged over each frame's
interval. Lip closures (m b p) and f/v dominate strongly (:attr:`Viseme.dominance`), so a short
/m/ between two open vowels still closes the lips while its neighbours bend towards it;
velars (k g) dominate weakly, so the lips anticipate the next vowel through them, as they do.

Everything is plain numpy over the phoneme list: deterministic, and cheap (a few milliseconds a
line).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from nyeshc.backends.base import SAMPLE_RATE, Phonemes

__all__ = ["TAU", "VISEMES", "Viseme", "asemic_visemes", "curves", "espeak_visemes", "viseme_segments"]

TAU = 0.035
"""Seconds: how fast a phoneme's dominance decays outside its own segment."""
STEP = 0.005
"""Seconds between evaluations of the coarticulated curves (averaged over each frame)."""


@dataclass(frozen=True, slots=True)
class Viseme:
    """A mouth shape: ``openness`` (0..1), ``width`` (0.6..1.2, 1 neutral), ``teeth`` (0..1),
    and the ``dominance`` with which it holds against its neighbours."""

    openness: float
    width: float
    teeth: float = 0.0
    dominance: float = 1.0


VISEMES: dict[str, Viseme] = {
    "rest": Viseme(0.0, 1.0, 0.0, 0.7),
    "mbp": Viseme(0.0, 0.95, 0.0, 16.0),
    "fv": Viseme(0.08, 1.0, 1.0, 6.0),
    "th": Viseme(0.20, 1.02, 0.0, 2.0),
    "t": Viseme(0.18, 1.06, 0.0, 1.2),
    "kg": Viseme(0.32, 1.0, 0.0, 0.6),
    "sh": Viseme(0.24, 0.78, 0.0, 2.0),
    "ee": Viseme(0.40, 1.16, 0.0, 1.0),
    "eh": Viseme(0.70, 1.06, 0.0, 1.0),
    "aa": Viseme(1.0, 1.0, 0.0, 1.0),
    "oh": Viseme(0.70, 0.74, 0.0, 1.3),
    "oo": Viseme(0.30, 0.62, 0.0, 1.5),
}

# --------------------------------------------------------------------------- alphabets

# eSpeak NG mnemonics (docs/phonemes.md of espeak-ng), longest first; a symbol is read after its
# stress marks (' , %) are stripped; the first matching prefix decides
_ESPEAK: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("aI", ("aa", "ee")), ("aU", ("aa", "oo")), ("oU", ("oh", "oo")), ("eI", ("eh", "ee")),
    ("OI", ("oh", "ee")), ("e@", ("eh", "eh")), ("i@", ("ee", "eh")), ("U@", ("oo", "eh")),
    ("tS", ("sh",)), ("dZ", ("sh",)), ("a#", ("eh",)),
    ("_", ("rest",)),
    ("p", ("mbp",)), ("b", ("mbp",)), ("m", ("mbp",)),
    ("f", ("fv",)), ("v", ("fv",)),
    ("T", ("th",)), ("D", ("th",)),
    ("t", ("t",)), ("d", ("t",)), ("n", ("t",)), ("l", ("t",)), ("s", ("t",)), ("z", ("t",)),
    ("L", ("t",)), ("c", ("kg",)),
    ("k", ("kg",)), ("g", ("kg",)), ("N", ("kg",)), ("h", ("kg",)), ("x", ("kg",)), ("?", ("kg",)),
    ("q", ("kg",)), ("X", ("kg",)),
    ("S", ("sh",)), ("Z", ("sh",)), ("r", ("sh",)), ("R", ("sh",)), ("C", ("sh",)), ("J", ("ee",)),
    ("w", ("oo",)), ("j", ("ee",)), ("y", ("oo",)), ("Y", ("oh",)), ("W", ("oh",)),
    ("i", ("ee",)), ("I", ("ee",)), ("e", ("ee",)), ("E", ("eh",)), ("@", ("eh",)), ("3", ("eh",)),
    ("V", ("eh",)), ("a", ("aa",)), ("A", ("aa",)), ("&", ("aa",)),
    ("0", ("oh",)), ("O", ("oh",)), ("o", ("oh",)), ("u", ("oo",)), ("U", ("oo",)),
)

_ASEMIC: dict[str, str] = {
    "a": "aa", "e": "ee", "i": "ee", "o": "oh", "u": "oo", "ə": "eh", "ɛ": "eh", "ɔ": "oh", "y": "oo",
    "ɨ": "ee",
    "p": "mbp", "m": "mbp", "f": "fv", "v": "fv", "t": "t", "n": "t", "l": "t", "s": "t",
    "k": "kg", "h": "kg", "ʃ": "sh", "r": "sh", "w": "oo", "j": "ee",
    "_": "rest", "breath": "t",
}


def espeak_visemes(symbol: str) -> tuple[str, ...] | None:
    """The viseme(s) of an eSpeak NG phoneme mnemonic; None for a symbol that is no sound of
    its own (``;``, ``#``: modifiers; the previous shape holds).

    >>> espeak_visemes("'oU"), espeak_visemes("m"), espeak_visemes("_:"), espeak_visemes(";")
    (('oh', 'oo'), ('mbp',), ('rest',), None)
    """
    s = symbol.lstrip("'\",%=")
    if not s:
        return None
    for prefix, visemes in _ESPEAK:
        if s.startswith(prefix):
            return visemes
    return None


def asemic_visemes(symbol: str) -> tuple[str, ...] | None:
    """The viseme of a phone of the asemic voice (:mod:`.formant`'s symbols).

    >>> asemic_visemes("ʃ"), asemic_visemes("a")
    (('sh',), ('aa',))
    """
    v = _ASEMIC.get(symbol)
    return (v,) if v is not None else None


_ALPHABETS = {"espeak": espeak_visemes, "asemic": asemic_visemes}


def viseme_segments(phonemes: Phonemes) -> list[tuple[int, int, str]]:
    """``(start, end, viseme)`` in samples of the line, in order, covering ``[0, samples)``:
    rest before the first phoneme; a symbol of no sound of its own extends the one before it;
    an unknown alphabet or symbol is ``eh`` (a neutral half-open mouth), never an error.

    >>> viseme_segments(Phonemes("asemic", ((100, "m"), (200, "a"), (400, "_")), 500))
    [(0, 100, 'rest'), (100, 200, 'mbp'), (200, 400, 'aa'), (400, 500, 'rest')]
    """
    lookup = _ALPHABETS.get(phonemes.alphabet)
    total = max(0, int(phonemes.samples))
    out: list[tuple[int, int, str]] = []
    events = [(min(max(0, int(s)), total), sym) for s, sym in phonemes.events]
    cursor = 0
    for i, (start, sym) in enumerate(events):
        end = events[i + 1][0] if i + 1 < len(events) else total
        if end <= start:
            continue
        shapes = lookup(sym) if lookup is not None else ("eh",)
        if shapes is None:
            if out:  # a modifier: the shape before it holds
                s0, _, v0 = out[-1]
                out[-1] = (s0, end, v0)
                cursor = end
                continue
            shapes = ("eh",)
        if start > cursor:
            out.append((cursor, start, "rest"))
        if len(shapes) == 2:
            mid = start + round(0.55 * (end - start))
            out.append((start, mid, shapes[0]))
            out.append((mid, end, shapes[1]))
        else:
            out.append((start, end, shapes[0]))
        cursor = end
    if cursor < total:
        out.append((cursor, total, "rest"))
    return out


def curves(speech: Sequence[tuple[int, Phonemes]], fps: float, frames: int
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame ``(openness, width, teeth, covered)`` for lines placed at their first sample
    (``speech``: ``(sample, Phonemes)``), coarticulated (see the module docstring).

    ``covered`` is True for frames inside some line: elsewhere the curves are at rest and the
    caller may follow loudness instead (a recording, a song)."""
    frames = int(frames)
    openness = np.zeros(frames)
    width = np.ones(frames)
    teeth = np.zeros(frames)
    covered = np.zeros(frames, bool)
    if frames <= 0:
        return openness, width, teeth, covered
    segs: list[tuple[float, float, Viseme]] = []
    for at, ph in speech:
        for s, e, name in viseme_segments(ph):
            segs.append(((at + s) / SAMPLE_RATE, (at + e) / SAMPLE_RATE, VISEMES[name]))
        t0, t1 = at / SAMPLE_RATE, (at + ph.samples) / SAMPLE_RATE
        f0, f1 = int(np.floor(t0 * fps)), int(np.ceil(t1 * fps))
        covered[max(0, f0):max(0, min(frames, f1))] = True
    if not segs:
        return openness, width, teeth, covered
    segs.sort(key=lambda x: x[0])
    # the curves are evaluated every STEP seconds over the frames, then averaged per frame
    per = max(1, round(1.0 / (fps * STEP)))
    t = (np.arange(frames * per) + 0.5) / (fps * per)
    start = np.array([s[0] for s in segs])
    end = np.array([s[1] for s in segs])
    alpha = np.array([s[2].dominance for s in segs])
    # a strong shape holds inside its segment but reaches less far outside it (a closure is
    # brief; it must not pull the vowels around it shut)
    tau = TAU / np.maximum(alpha, 1.0) ** 0.25
    targets = np.array([[s[2].openness, s[2].width, s[2].teeth] for s in segs])
    # outside every line the mouth rests (its own dominance, as between words)
    rest = VISEMES["rest"]
    num = np.zeros((t.size, 3))
    den = np.zeros(t.size)
    chunk = 2048
    for i in range(0, t.size, chunk):
        tt = t[i:i + chunk, None]
        dist = np.maximum(np.maximum(start[None, :] - tt, tt - end[None, :]), 0.0)
        dom = alpha[None, :] * np.exp(-dist / tau[None, :])
        num[i:i + chunk] = dom @ targets
        den[i:i + chunk] = dom.sum(axis=1)
    # the rest shape holds with a weak dominance everywhere, so far from any line the mouth closes
    num += 0.05 * rest.dominance * np.array([rest.openness, rest.width, rest.teeth])
    den += 0.05 * rest.dominance
    vals = (num / den[:, None]).reshape(frames, per, 3).mean(axis=1)
    openness = np.where(covered, vals[:, 0], 0.0)
    width = np.where(covered, vals[:, 1], 1.0)
    teeth = np.where(covered, vals[:, 2], 0.0)
    return openness, width, teeth, covered
