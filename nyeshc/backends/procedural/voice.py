"""AsemicVoice: the embedded voice backend, speech in a language nobody knows.

The text's letters map deterministically onto syllables of an invented phonology
(:mod:`nyeshc.backends.procedural.formant`); a timing plan lays the syllables out (stressed and
phrase-final syllables longer, short gaps between words, pauses after commas and sentences);
a prosody plan gives each sentence a melancholic intonation (declination, stress accents, a final
fall on ``.``, a rise on ``?``, a high fall on ``!``); the formant synthesiser speaks it.

The plan depends only on ``text``, ``rate`` and the backend's settings, so :meth:`duration` is
exact and cheap: it builds the plan without synthesising. ``seed`` only changes the micro-
performance (jitter, shimmer, breath noise, slight per-sentence pitch offsets), never the length.
``lang`` is accepted for the protocol and ignored: this backend has one invented language per
``language`` setting, whatever language the script says a line is in.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from nyeshc import dsp
from nyeshc.backends.base import (
    SAMPLE_RATE,
    BackendError,
    CostModel,
    Phonemes,
)
from nyeshc.backends.procedural import formant
from nyeshc.backends.procedural.formant import BREATH, Event

SR = SAMPLE_RATE
PEAK = 10 ** (-3 / 20)  # -3 dBFS

# nominal timing in seconds at rate 1
LEAD = 0.08
TAIL = 0.25
VOWEL = 0.13
WORD_GAP = 0.06
COMMA_PAUSE = 0.24
SENTENCE_PAUSE = 0.5
QUESTION_PAUSE = 0.55


@dataclass(frozen=True, slots=True)
class _Plan:
    events: tuple[Event, ...]
    anchors: tuple[tuple[int, float], ...]  # (sample, f0 multiplier) intonation targets
    sentence_spans: tuple[tuple[int, int], ...]
    total: int


def _n(seconds: float, rate: float) -> int:
    return int(round(seconds * SR / rate))


@lru_cache(maxsize=256)
def _plan(text: str, rate: float, language: int, breaths: bool, full: bool = True) -> _Plan:
    """The line's phones, intonation and sentences; with ``full`` false only its ``total`` (the
    same sample arithmetic, nothing else built: what the planner asks of every line)."""
    events: list[Event] = []
    anchors: list[tuple[int, float]] = []
    spans: list[tuple[int, int]] = []
    pos = _n(LEAD, rate)
    sentences = formant.asemic_sentences(text, language)
    for si, sent in enumerate(sentences):
        sylls = sent.syllables
        count = len(sylls)
        start = pos
        k = 0
        for wi, word in enumerate(sent.words):
            for ci, syl in enumerate(word):
                p = k / max(1, count - 1)
                last_in_word = ci == len(word) - 1
                final = k == count - 1
                onset, vowel, coda = formant.syllable_phones(syl)
                for sym, sec in onset:
                    m = _n(sec, rate)
                    if full:
                        events.append(Event(sym, pos, m, 0.9 if syl.stress else 0.75))
                    pos += m
                dur = VOWEL * (1.3 if syl.stress else 1.0) * (1.35 if syl.long else 1.0)
                if last_in_word:
                    dur *= 1.1
                if last_in_word and wi in sent.commas:
                    dur *= 1.3
                if final:
                    dur *= 1.6
                m = _n(dur, rate)
                if full:
                    gain = (1.0 if syl.stress else 0.82) * (1.0 - 0.25 * p) * (0.8 if final else 1.0)
                    events.append(Event(vowel, pos, m, gain))
                    # intonation: declination, stress accent, phrase-final contours
                    decl = 1.07 - 0.15 * p
                    accent = 1.09 if syl.stress else 1.0
                    f_start, f_end = decl * accent, decl * (1.0 + (accent - 1.0) * 0.4)
                    if final and sent.mark == ".":
                        f_end = decl * 0.8
                    elif final and sent.mark == "?":
                        f_start, f_end = decl * 0.97, decl * 1.3
                    elif final and sent.mark == "!":
                        f_start, f_end = decl * 1.2, decl * 0.84
                    elif last_in_word and wi in sent.commas:
                        f_end = decl * 1.06
                    if k == 0:
                        f_start *= 0.96
                    anchors.append((pos, f_start))
                    anchors.append((pos + m, f_end))
                pos += m
                for sym, sec in coda:
                    m = _n(sec, rate)
                    if full:
                        events.append(Event(sym, pos, m, 0.7))
                    pos += m
                k += 1
            if wi < len(sent.words) - 1:
                pos += _n(COMMA_PAUSE if wi in sent.commas else WORD_GAP, rate)
        spans.append((start, pos))
        if si < len(sentences) - 1:
            pause = _n(QUESTION_PAUSE if sent.mark == "?" else SENTENCE_PAUSE, rate)
            if breaths and full:
                bl = min(pause // 2, _n(0.28, rate))
                events.append(Event(BREATH, pos + pause - bl - _n(0.04, rate), bl, 0.5))
            pos += pause
    pos += _n(TAIL, rate)
    return _Plan(tuple(events), tuple(anchors), tuple(spans), pos)


class AsemicVoice:
    """Formant speech in an invented language (see the module docstring).

    Settings: ``base_f0`` (Hz at ``pitch=1``), ``language`` (seed of the invented phonology:
    which letters become which syllables), ``breathiness`` (0..1), ``room`` (reverb wet level,
    small: dialogue stays dry), ``formant_scale`` (vocal-tract size: >1 smaller/brighter),
    ``breaths`` (quiet inhalations between sentences).
    """

    id = "voice.procedural"
    version = "1"
    modality = "voice"
    cost = CostModel(device="cpu", per_call=0.005, per_audio_second=0.03)

    def __init__(self, *, base_f0: float = 140.0, language: int = 0, breathiness: float = 0.25,
                 room: float = 0.07, formant_scale: float = 1.0, breaths: bool = True) -> None:
        if base_f0 <= 0 or formant_scale <= 0:
            raise BackendError("voice.procedural: base_f0 and formant_scale must be positive")
        self.base_f0 = float(base_f0)
        self.language = int(language)
        self.breathiness = float(min(1.0, max(0.0, breathiness)))
        self.room = float(min(1.0, max(0.0, room)))
        self.formant_scale = float(formant_scale)
        self.breaths = bool(breaths)

    @property
    def settings(self) -> dict[str, Any]:
        return {"base_f0": self.base_f0, "language": self.language, "breathiness": self.breathiness,
                "room": self.room, "formant_scale": self.formant_scale, "breaths": self.breaths}

    # ------------------------------------------------------------------ protocol

    def _check(self, pitch: float, rate: float) -> None:
        if not (pitch > 0 and rate > 0):
            raise BackendError(f"voice.procedural: pitch and rate must be positive (got {pitch}, {rate})")

    def duration(self, text: str, *, pitch: float, rate: float, lang: str) -> float:
        """Exact length of :meth:`speak`'s output in seconds (``lang`` is ignored)."""
        self._check(pitch, rate)
        return _plan(text, float(rate), self.language, self.breaths, False).total / SR

    def speak(self, text: str, *, pitch: float, rate: float, lang: str, seed: int) -> np.ndarray:
        """``float32 (N, 1)`` speech peaking at -3 dBFS; ``N == round(duration(...) * SAMPLE_RATE)``.

        ``lang`` is ignored (one invented language per ``language`` setting)."""
        self._check(pitch, rate)
        plan = _plan(text, float(rate), self.language, self.breaths)
        n = plan.total
        out = np.zeros(n)
        if plan.events:
            rng = np.random.default_rng(formant.sub_seed("voice.procedural", seed))
            f0 = self._contour(plan, n, pitch, rng)
            out = formant.render(list(plan.events), f0, rng, formant_scale=self.formant_scale * pitch ** 0.2,
                                 breathiness=self.breathiness, tilt=0.1 + 0.3 * self.breathiness,
                                 smooth_ms=35.0)
            if self.room > 0:
                ir = formant.reverb_ir(0.35, rng, predelay=0.006, damping=0.7)
                wet = dsp.oaconvolve(out, ir)[:n]
                out = out + self.room * wet * (np.sqrt(np.mean(out ** 2)) / max(1e-12, np.sqrt(np.mean(wet ** 2))))
            peak = float(np.max(np.abs(out)))
            if peak > 0:
                out *= PEAK / peak
        result = out.astype(np.float32).reshape(-1, 1)
        assert result.shape[0] == round(self.duration(text, pitch=pitch, rate=rate, lang=lang) * SR)
        return result

    def phonemes(self, text: str, *, pitch: float, rate: float, lang: str) -> Phonemes:
        """When :meth:`speak`'s array says which phone (alphabet ``"asemic"``): the syllable
        plan's own events, with ``"_"`` wherever the plan is silent (lead, gaps between words,
        pauses, the tail). Exact to the sample, for any ``seed`` (the seed never moves a phone)."""
        self._check(pitch, rate)
        plan = _plan(text, float(rate), self.language, self.breaths)
        return Phonemes("asemic", formant.phones(plan.events, plan.total), plan.total)

    # ------------------------------------------------------------------ prosody

    def _contour(self, plan: _Plan, n: int, pitch: float, rng: np.random.Generator) -> np.ndarray:
        pos = np.array([a[0] for a in plan.anchors], dtype=np.float64)
        rel = np.log(np.array([a[1] for a in plan.anchors]))
        # per-sentence offsets (the seed's performance), spread over each sentence's anchors
        offsets = rng.normal(0.0, 0.035, size=len(plan.sentence_spans))
        for (s0, s1), off in zip(plan.sentence_spans, offsets, strict=True):
            rel[(pos >= s0) & (pos <= s1)] += off
        contour = np.interp(np.arange(n), pos, rel)
        contour = formant.smooth(contour, int(0.05 * SR))
        drift = formant.smooth(rng.standard_normal(n // 240 + 2), 40, 2)[: n // 240 + 2]
        drift = np.interp(np.arange(n) / 240.0, np.arange(drift.size), drift) * 0.12
        return self.base_f0 * pitch * np.exp(contour + drift)
