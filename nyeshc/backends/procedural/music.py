"""AmbientMusic: the embedded music backend, a small seeded ambient synthesiser.

This file is long (about 1,000 lines) on purpose: one synthesiser: the composition (key, chords,
motifs, the song's phones) and the instruments that play it share the cue's plan and its seeded
random streams, and :meth:`AmbientMusic.sung` must compute the very plan :meth:`generate`
renders; split, the plan would be rebuilt or passed through every instrument.

It stands in for JukeBox. A cue is composed from ``(genre, artist, seed)`` -- key, mode, tempo,
meter and a chord progression -- and played by a handful of instruments whose choice and
behaviour depend on the genre profile (:data:`PROFILES`):

* **pad**: detuned polyBLEP saws through a slowly moving resonant low-pass (``ambient``,
  ``electronic`` with a side-chain pump), a formant-filtered "aah/ooh" choir (``choral``),
  slowly beating additive partials (``drone``) or a soft reed organ (``folk``);
* **bass**: a sine sub following the chords, a held drone, plucked roots or an 8th-note synth bass;
* **melody**: a sparse seeded random walk on the scale, played by an FM bell, an FM electric
  piano or an additive plucked string; ``folk`` adds a plucked arpeggio, ``electronic`` a soft
  kick and hats;
* **voice**: with ``lyrics``, an asemic singer (:mod:`~nyeshc.backends.procedural.formant`)
  sings each lyric line as a phrase on its own melody -- one syllable per note, vibrato, legato
  formant glides, a breath between phrases;
* **space**: a stereo reverb (decaying-noise impulse responses, different left and right,
  convolved with ``scipy.signal.oaconvolve``), short fades at both ends (so the cue can be
  trimmed), a 35 Hz high-pass (:data:`HIGH_PASS`) and a soft-knee limiter that keeps peaks under -1 dBFS.

Pads and bass are rendered at 12 kHz and resampled (they hold nothing above ~4 kHz); bells,
plucks, drums and the voice at the full rate. Every random choice comes from
``numpy.random.default_rng`` seeded through blake2b (:func:`formant.sub_seed`), so the same
arguments give byte-identical arrays, and the instrumental part does not depend on ``lyrics``.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from nyeshc import dsp
from nyeshc.backends.base import (
    SAMPLE_RATE,
    BackendError,
    CostModel,
    Phonemes,
    ProgressFn,
)
from nyeshc.backends.procedural import formant
from nyeshc.backends.procedural.formant import BREATH, Event, sub_seed
from nyeshc.grid import Grid

SR = SAMPLE_RATE
LOW = 4  # pads and bass are rendered at SR / LOW
LSR = SR // LOW
CEILING = 10 ** (-1 / 20)  # -1 dBFS
HIGH_PASS = 35.0
"""Hz: the master's high-pass (2nd-order Butterworth, -3 dB here, -10 dB at 20 Hz): what is
under it a small speaker only rumbles, and the limiter would spend headroom on it. Version 1 had
a DC blocker at 22 Hz, and the drone bass a sub-octave partial (down to 15 Hz), now gone. The
bass roots still reach 29 Hz (B♭0): under 35 Hz their second partial carries the note. (A
steeper or zero-phase filter moves the kick's and bass's low-band onsets off the grid.)"""
TEMPERATURE = (0.0, 2.0)
"""The range of ``generate``'s ``temperature`` (the script's ``temperature X``); 1 is the default."""
TEMPO = (10.0, 400.0)
"""The range of a stated ``tempo`` (the script's ``tempo Nbpm``), in beats a minute."""
METER_UNITS = (1, 2, 4, 8, 16, 32)
"""The note values a stated ``meter`` may count (``meter 6/8``: 6 beats a bar, each an eighth)."""
METER_BEATS = (1, 32)
"""The range of a stated meter's beats a bar."""

MODES: dict[str, tuple[int, ...]] = {
    "ionian": (0, 2, 4, 5, 7, 9, 11),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "aeolian": (0, 2, 3, 5, 7, 8, 10),
}

PROGRESSIONS = ((0, 5, 2, 6), (0, 3, 5, 4), (0, 5, 3, 4), (0, 2, 5, 3), (0, 6, 5, 6), (0, 3, 0, 4),
                (0, 4, 5, 3), (0, 5, 0, 3))
DRONE_PROGRESSIONS = ((0,), (0, 5), (0, 6), (0, 3))


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    tempo: tuple[float, float]
    meters: tuple[int, ...]
    chord_bars: tuple[int, ...]
    modes: tuple[str, ...]
    pad: str  # saw | choir | additive | organ
    cutoff: tuple[float, float]  # pad low-pass range (Hz)
    bass: str  # sine | drone | pluck | synth
    melody: str  # bell | epiano | pluck | lowbell
    density: float  # melody note probability per grid step
    grid: float  # melody grid in beats
    reverb: float  # T60 seconds
    wet: float
    arp: bool = False
    drums: bool = False
    sevenths: float = 0.3


PROFILES: dict[str, Profile] = {
    "ambient": Profile("ambient", (60, 76), (4,), (2,), ("aeolian", "dorian", "lydian", "ionian"), "saw",
                       (350.0, 2600.0), "sine", "bell", 0.32, 1.0, 4.5, 0.42, sevenths=0.5),
    "drone": Profile("drone", (40, 50), (4,), (4, 8), ("aeolian", "phrygian", "dorian"), "additive",
                     (250.0, 1400.0), "drone", "lowbell", 0.1, 2.0, 7.0, 0.5, sevenths=0.0),
    "choral": Profile("choral", (54, 66), (4, 3), (1, 2), ("aeolian", "dorian", "ionian"), "choir",
                      (600.0, 3000.0), "sine", "bell", 0.16, 1.0, 5.5, 0.5, sevenths=0.15),
    "folk": Profile("folk", (84, 104), (3, 4), (1,), ("dorian", "mixolydian", "aeolian", "ionian"), "organ",
                    (700.0, 1800.0), "pluck", "pluck", 0.45, 0.5, 1.6, 0.22, arp=True, sevenths=0.1),
    "electronic": Profile("electronic", (100, 122), (4,), (2,), ("aeolian", "dorian", "phrygian"), "saw",
                          (500.0, 4000.0), "synth", "epiano", 0.38, 0.25, 2.6, 0.3, drums=True, sevenths=0.6),
}

_ALIASES = (("drone", "drone"), ("choir", "choral"), ("choral", "choral"), ("hymn", "choral"),
            ("sacred", "choral"), ("folk", "folk"), ("acoustic", "folk"), ("electr", "electronic"),
            ("techno", "electronic"), ("synth", "electronic"), ("house", "electronic"), ("ambient", "ambient"))


def profile_for(genre: str) -> Profile:
    """The instrument profile for ``genre`` (keywords; anything unknown plays ``ambient``)."""
    g = genre.strip().lower()
    for key, name in _ALIASES:
        if key in g:
            return PROFILES[name]
    return PROFILES["ambient"]


def hz(midi: float | np.ndarray) -> float | np.ndarray:
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=np.float64) - 69.0) / 12.0)


# --------------------------------------------------------------------------- composition


@dataclass(frozen=True, slots=True)
class Chord:
    start: int  # samples at SR
    end: int
    degree: int
    notes: tuple[int, ...]  # pad voicing (midi)
    root: int  # bass root (midi)


@dataclass(frozen=True, slots=True)
class Song:
    """What :func:`compose` chose. ``beat_q`` is set when the cue's grid is exact (a stated
    ``tempo`` or ``meter``): the beat in seconds as a Fraction, every onset placed with
    :meth:`at`, and each chord ``chord_beats`` beats long. Without it (the default, the music as
    it was before tempo could be stated) onsets are stepped in whole samples from ``beat``."""

    tonic: int
    scale: tuple[int, ...]
    tempo: float
    meter: int
    beat: float  # seconds
    chords: tuple[Chord, ...]
    beat_q: Fraction | None = None
    chord_beats: int = 0

    def at(self, beats: Fraction | int) -> int:
        """The sample at which beat position ``beats`` (0 = the first downbeat) begins on an
        exact grid: ``round(beats * 60 / tempo * SR)`` from exact fractions, so no step adds
        rounding to the next."""
        assert self.beat_q is not None
        return round(Fraction(beats) * self.beat_q * SR)

    def pulses(self, index: int, per_beat: int) -> list[int]:
        """On an exact grid, the onsets of chord ``index`` every ``1 / per_beat`` of a beat."""
        chord = self.chords[index]
        b0 = Fraction(index * self.chord_beats)
        out: list[int] = []
        j = 0
        while (s := self.at(b0 + Fraction(j, per_beat))) < chord.end:
            out.append(s)
            j += 1
        return out

    def scale_note(self, degree: int, base_octave: int = 5) -> int:
        octave, step = divmod(degree, len(self.scale))
        return self.tonic + 12 * (base_octave - 4 + octave) + self.scale[step]

    def chord_at(self, sample: int) -> Chord:
        for c in self.chords:
            if c.start <= sample < c.end:
                return c
        return self.chords[-1]


def _draw_time(prof: Profile, rng: np.random.Generator) -> tuple[int, tuple[int, ...], float, int]:
    """The composition's first draws: tonic, mode, the backend's own tempo and beats a bar."""
    tonic = 48 + int(rng.integers(0, 12))  # the key's tonic at octave 3 (C3..B3)
    mode = MODES[str(rng.choice(prof.modes))]
    tempo = float(rng.uniform(*prof.tempo))
    meter = int(rng.choice(prof.meters))
    return tonic, mode, tempo, meter


def exact_grid(own_tempo: float, own_beats: int, tempo: Fraction | None,
               meter: tuple[int, int] | None) -> tuple[Fraction, tuple[int, int]]:
    """The tempo and meter a cue plays at: the stated ones, else the backend's own. The own
    tempo counts quarter notes, so under a stated meter of another unit it is scaled to count
    that unit (``meter 6/8``: twice as many beats a minute); it is kept to 4 decimals, so the
    grid reads as a plain number. The own meter is ``own_beats``/4."""
    m = meter if meter is not None else (own_beats, 4)
    t = tempo if tempo is not None else Fraction(f"{own_tempo * m[1] / 4:.4f}")
    return t, m


def compose(prof: Profile, rng: np.random.Generator, n: int, temperature: float | None = None,
            tempo: Fraction | None = None, meter: tuple[int, int] | None = None) -> Song:
    """Key, mode, tempo, meter and chords for ``n`` samples. ``temperature`` (None: 1) scales how
    often a chord strays from the progression's loop (20 % at 1, never at 0, 40 % at 2); above 1
    a stray chord may be any degree, not only 0, 2, 3, 4, 5. It also moves the chance of a
    seventh: times ``T`` below 1 (plain triads at 0), halfway to always at 2.

    A stated ``tempo`` (beats a minute, exact) or ``meter`` (beats a bar, note value) makes the
    grid exact (:func:`exact_grid`; ``Song.beat_q``): chord ``i`` starts at the sample of beat
    ``i * chord_beats``. The draws are the same either way, so the key, mode and progression of
    a seed do not change when a tempo is stated."""
    vary = 0.2 if temperature is None else 0.2 * temperature
    strays = (0, 2, 3, 4, 5) if temperature is None or temperature <= 1.0 else (0, 1, 2, 3, 4, 5, 6)
    sevenths = prof.sevenths
    if temperature is not None:
        sevenths = (prof.sevenths * temperature if temperature <= 1.0
                    else prof.sevenths + (1.0 - prof.sevenths) * 0.5 * (temperature - 1.0))
    tonic, mode, own_tempo, own_meter = _draw_time(prof, rng)
    beat_q: Fraction | None = None
    if tempo is None and meter is None:
        tempo_f, beats = own_tempo, own_meter
    else:
        tempo_q, (beats, _unit) = exact_grid(own_tempo, own_meter, tempo, meter)
        beat_q = Fraction(60) / tempo_q
        tempo_f = float(tempo_q)
    beat = 60.0 / tempo_f if beat_q is None else float(beat_q)
    bars = int(rng.choice(prof.chord_bars))
    seg = max(1, int(round(bars * beats * beat * SR)))
    chord_beats = bars * beats
    prog = DRONE_PROGRESSIONS if prof.name == "drone" else PROGRESSIONS
    pattern = prog[int(rng.integers(0, len(prog)))]
    chords: list[Chord] = []
    prev: list[int] | None = None
    start = 0
    i = 0
    while start < n:
        degree = pattern[i % len(pattern)]
        if i >= len(pattern) and rng.random() < vary and prof.name != "drone":  # small variations
            degree = int(rng.choice(strays))
        tones = [mode[(degree + k) % 7] + 12 * ((degree + k) // 7) for k in (0, 2, 4)]
        if rng.random() < sevenths:
            tones.append(mode[(degree + 6) % 7] + 12 * ((degree + 6) // 7))
        pcs = [(tonic + t) % 12 for t in tones]
        voicing = _voice_lead(pcs, prev, lo=53 if prof.pad != "additive" else 45)
        prev = voicing
        root = 36 + (tonic + tones[0]) % 12
        if root > 45:
            root -= 12
        end = start + seg if beat_q is None else round((i + 1) * chord_beats * beat_q * SR)
        chords.append(Chord(start, min(n, end), degree, tuple(voicing), root))
        start = end
        i += 1
    return Song(tonic, mode, tempo_f, beats, beat, tuple(chords), beat_q, chord_beats)


def _voice_lead(pcs: list[int], prev: list[int] | None, lo: int) -> list[int]:
    """Chord tones (pitch classes) placed near the previous voicing (minimal movement)."""
    if prev is None:
        notes, last = [], lo - 1
        for pc in pcs:
            m = last + 1 + ((pc - (last + 1)) % 12)
            notes.append(m)
            last = m
        return notes
    centre = float(np.mean(prev))
    out = []
    for pc in pcs:
        cands = [pc + 12 * o for o in range(3, 7)]
        out.append(min(cands, key=lambda m: (abs(m - centre), m)))
    out = sorted(set(out))
    while len(out) < len(pcs):
        out.append(out[-1] + 12)
    return out


# --------------------------------------------------------------------------- instruments


def _add(buf: np.ndarray, start: int, sig: np.ndarray) -> None:
    """Mix ``sig`` into ``buf`` (1-D or (n, C)) at ``start``, clipped to the buffer."""
    if start >= buf.shape[0] or start + sig.shape[0] <= 0:
        return
    s0 = max(0, start)
    off = s0 - start
    m = min(buf.shape[0] - s0, sig.shape[0] - off)
    buf[s0:s0 + m] += sig[off:off + m]


def _add_st(buf: np.ndarray, start: int, sig: np.ndarray, gl: float, gr: float) -> None:
    """Mix mono ``sig`` into stereo ``buf`` at ``start`` with channel gains (no big temporaries)."""
    if start >= buf.shape[0] or start + sig.shape[0] <= 0:
        return
    s0 = max(0, start)
    off = s0 - start
    m = min(buf.shape[0] - s0, sig.shape[0] - off)
    part = sig[off:off + m]
    buf[s0:s0 + m, 0] += gl * part
    buf[s0:s0 + m, 1] += gr * part


def _pan(p: float) -> tuple[float, float]:
    a = (p + 1.0) * np.pi / 4.0
    return float(np.cos(a)), float(np.sin(a))


def _saw(freq: float, m: int, phase0: float, fs: float) -> np.ndarray:
    """A polyBLEP (band-limited) sawtooth of constant ``freq``, ``m`` samples at ``fs``."""
    dt = freq / fs
    ph = phase0 + dt * np.arange(m)
    ph -= np.floor(ph)
    y = 2.0 * ph - 1.0
    i = np.flatnonzero(ph < dt)
    t = ph[i] / dt
    y[i] -= t + t - t * t - 1.0
    j = np.flatnonzero(ph > 1.0 - dt)
    t = (ph[j] - 1.0) / dt
    y[j] -= t * t + t + t + 1.0
    return y


def _envelope(m: int, attack: int, release_at: int, release: int) -> np.ndarray:
    """Raised-cosine attack, hold, raised-cosine release starting at ``release_at``."""
    t = np.arange(m, dtype=np.float64)
    env = np.ones(m)
    if attack > 0:
        a = t < attack
        env[a] = 0.5 - 0.5 * np.cos(np.pi * t[a] / attack)
    if release > 0:
        r = t >= release_at
        x = np.clip((t[r] - release_at) / release, 0.0, 1.0)
        env[r] *= 0.5 + 0.5 * np.cos(np.pi * x)
    return env


def _tv_lowpass(x: np.ndarray, cutoff: np.ndarray, fs: float, q: float = 0.9, block: int = 256) -> np.ndarray:
    """A resonant low-pass whose cutoff (one value per ``block`` samples) moves slowly."""
    y = np.array(x, dtype=np.float64, order="C")
    zi = np.zeros((1, 2))
    nb = -(-x.shape[0] // block)
    w = 2.0 * np.pi * np.minimum(cutoff[np.minimum(np.arange(nb), cutoff.size - 1)], 0.45 * fs) / fs
    alpha = np.sin(w) / (2.0 * q)
    cw = np.cos(w)
    a0 = 1.0 + alpha
    sos = np.zeros((nb, 1, 6))
    sos[:, 0, 0] = sos[:, 0, 2] = (1 - cw) / 2 / a0
    sos[:, 0, 1] = (1 - cw) / a0
    sos[:, 0, 3] = 1.0
    sos[:, 0, 4] = -2 * cw / a0
    sos[:, 0, 5] = (1 - alpha) / a0
    for b in range(nb):
        dsp.sosfilt_inplace(sos[b], y[b * block:(b + 1) * block], zi)
    return y


def _bell(freq: float, ratio: float, index: float, decay: float, fs: float = SR) -> np.ndarray:
    m = int(min(5.0, decay * 4.0) * fs)
    t = np.arange(m) / fs
    env = np.minimum(1.0, t / 0.003) * np.exp(-t / decay)
    env *= _envelope(m, 0, m - int(0.05 * fs), int(0.05 * fs))
    mod = index * np.exp(-t / (decay * 0.3)) * np.sin(2 * np.pi * freq * ratio * t)
    y = np.sin(2 * np.pi * freq * t + mod) + 0.25 * np.sin(2 * np.pi * freq * 2.0 * t) * np.exp(-t / (decay * 0.4))
    return y * env


def _pluck(freq: float, decay: float, fs: float = SR, position: float = 0.21) -> np.ndarray:
    m = int(min(4.0, decay * 4.0) * fs)
    t = np.arange(m) / fs
    y = np.zeros(m)
    for k in range(1, 16):
        fk = k * freq * np.sqrt(1.0 + 0.00015 * k * k)
        if fk > 0.42 * fs:
            break
        amp = abs(np.sin(np.pi * k * position)) / k ** 1.1
        rate = (1.0 + 0.45 * (k - 1)) / decay
        life = min(m, int(7.0 / rate * fs))  # each partial only while it is above -60 dB
        tk = t[:life]
        y[:life] += amp * np.exp(-tk * rate) * np.sin(2 * np.pi * fk * tk)
    y *= np.minimum(1.0, t / 0.0015)
    y *= _envelope(m, 0, m - int(0.05 * fs), int(0.05 * fs))
    return y


class _Cache:
    """Per-call memo of note waveforms (same pitch, same timbre => same samples)."""

    def __init__(self) -> None:
        self.d: dict[tuple, np.ndarray] = {}

    def get(self, key: tuple, make) -> np.ndarray:  # type: ignore[no-untyped-def]
        if key not in self.d:
            self.d[key] = make()
        return self.d[key]


# --------------------------------------------------------------------------- backend


def _stated(tempo: object, meter: object) -> tuple[Fraction | None, tuple[int, int] | None]:
    """A stated tempo (as the exact decimal it prints as) and meter, checked."""
    tempo_q: Fraction | None = None
    if tempo is not None:
        ok = not isinstance(tempo, bool) and isinstance(tempo, (int, float, Fraction)) and np.isfinite(float(tempo))
        if not ok or not TEMPO[0] <= float(tempo) <= TEMPO[1]:
            raise BackendError(f"music.procedural: tempo must be from {TEMPO[0]:g} to {TEMPO[1]:g} beats a minute "
                               f"(got {tempo!r}; `source: generate, tempo Nbpm`)")
        tempo_q = Fraction(tempo) if isinstance(tempo, (int, Fraction)) else Fraction(repr(float(tempo)))
    meter_t: tuple[int, int] | None = None
    if meter is not None:
        parts = tuple(meter) if isinstance(meter, (tuple, list)) else ()
        ok = len(parts) == 2 and all(isinstance(x, int) and not isinstance(x, bool) for x in parts)
        if not ok or not METER_BEATS[0] <= parts[0] <= METER_BEATS[1] or parts[1] not in METER_UNITS:
            raise BackendError(f"music.procedural: meter must be (beats a bar, note value) with {METER_BEATS[0]} to "
                               f"{METER_BEATS[1]} beats of a 1, 2, 4, 8, 16 or 32 note (got {meter!r}; "
                               "`source: generate, meter 3/4`)")
        meter_t = (int(parts[0]), int(parts[1]))
    return tempo_q, meter_t


# --------------------------------------------------------------------------- backend


def _arguments(seconds: float, temperature: float | None, tempo: float | None,
               meter: tuple[int, int] | None) -> tuple[int, float | None, Fraction | None, tuple[int, int] | None]:
    """``generate``'s checked arguments: the length in samples, the temperature (a float or
    None), the stated tempo and meter (:func:`_stated`)."""
    if not np.isfinite(seconds) or seconds < 0:
        raise BackendError(f"music.procedural: seconds must be >= 0 (got {seconds})")
    tempo_q, meter_t = _stated(tempo, meter)
    if temperature is not None:
        ok = not isinstance(temperature, bool) and isinstance(temperature, (int, float))
        if not ok or not TEMPERATURE[0] <= temperature <= TEMPERATURE[1]:
            raise BackendError(f"music.procedural: temperature must be a number from {TEMPERATURE[0]:g} to "
                               f"{TEMPERATURE[1]:g} (got {temperature!r}; `source: generate, temperature X`)")
        temperature = float(temperature)
    return int(round(seconds * SR)), temperature, tempo_q, meter_t


def _streams(genre: str, artist: str, seed: int) -> Any:
    """``rng(part)``: the cue's random stream for one of its parts (composition, pad, voice...)."""
    base = sub_seed("music.procedural", genre.strip().lower(), artist, seed)
    return lambda part: np.random.default_rng(sub_seed(base, part))


def _sings(lyrics: str) -> bool:
    return bool(lyrics and lyrics.strip() and formant.asemic_syllables(lyrics, 0))


class AmbientMusic:
    """Seeded ambient music with optional asemic singing (see the module docstring).

    Settings: ``language`` (seed of the singer's invented phonology, perturbed by ``artist``),
    ``voice_level`` (singer loudness relative to the band), ``reverb`` (multiplier on the
    genre's reverb send), ``fade`` (seconds of fade in/out at the ends).
    """

    id = "music.procedural"
    version = "2"
    modality = "music"
    cost = CostModel(device="cpu", per_call=0.05, per_audio_second=0.07)

    def __init__(self, *, language: int = 0, voice_level: float = 1.0, reverb: float = 1.0,
                 fade: float = 0.5) -> None:
        if voice_level < 0 or reverb < 0 or fade < 0:
            raise BackendError("music.procedural: voice_level, reverb and fade must be >= 0")
        self.language = int(language)
        self.voice_level = float(voice_level)
        self.reverb = float(reverb)
        self.fade = float(fade)

    @property
    def settings(self) -> dict[str, Any]:
        return {"language": self.language, "voice_level": self.voice_level, "reverb": self.reverb,
                "fade": self.fade}

    # ------------------------------------------------------------------ protocol

    def generate(self, *, genre: str, artist: str, lyrics: str, seconds: float, seed: int,
                 progress: ProgressFn | None = None, temperature: float | None = None,
                 tempo: float | None = None, meter: tuple[int, int] | None = None) -> np.ndarray:
        """``float32 (round(seconds * SAMPLE_RATE), 2)``, peaks at most -1 dBFS.

        ``temperature`` (0..2; None is 1, the default, bit for bit) is how freely the cue is
        composed and played (see :data:`TEMPERATURE`): low is a loop -- the melody repeats a
        two-bar motif, stays on chord tones, even dynamics, the progression never strays, the
        pad's timbre barely moves -- and high wanders -- leaps, chromatic and grace notes,
        downbeats off the chord, stray chords, changing arpeggios, note-to-note timbre and a
        restless pad. The same seed and temperature give the same samples.

        ``tempo`` (beats a minute, :data:`TEMPO`) and ``meter`` (``(beats a bar, note value)``)
        are the cue's stated grid. Either one makes the grid exact: beat ``k`` (0-based) begins
        at sample ``round(k * 60 / tempo * SAMPLE_RATE)`` from exact fractions (the tempo read as
        the decimal it prints as, ``Fraction(repr(tempo))``), beat 0 is sample 0 and the first
        downbeat, and a bar is ``meter[0]`` beats. The tempo counts the meter's note value
        (``meter 6/8, tempo 180``: 180 eighth notes a minute, six a bar). Kick, hats, bass notes,
        arpeggio, melody steps, sung syllables and chord changes all start on the samples of
        their beats (or half beats); pads and the sine and drone basses, rendered at a quarter of
        the rate, start within 4 samples of them. What is not stated is the backend's own
        (:meth:`grid` tells it). Neither stated: the music made before these options existed, to
        the bit, whose onsets are stepped in whole samples and may drift from :meth:`grid`'s
        beats by a few samples a minute (the melody's by up to half a sample a step)."""
        n, temperature, tempo_q, meter_t = _arguments(seconds, temperature, tempo, meter)
        report = progress or (lambda _f: None)
        if n == 0:
            report(1.0)
            return np.zeros((0, 2), dtype=np.float32)
        prof = profile_for(genre)
        rng = _streams(genre, artist, seed)
        song = compose(prof, rng("compose"), n, temperature, tempo_q, meter_t)
        m_low = -(-n // LOW) + 64
        low = np.zeros((m_low, 2))
        self._pad(low, song, prof, rng("pad"), temperature)
        report(0.25)
        # on an exact grid the plucked and synth basses play at the full rate, on their samples
        bass_full = song.beat_q is not None and prof.bass in ("pluck", "synth")
        if not bass_full:
            self._bass(low, song, prof, rng("bass"))
        full = np.zeros((n, 2))
        up = dsp.resample_poly(low, LOW, 1, axis=0)[:n]
        full += up
        if bass_full:
            self._bass(full, song, prof, rng("bass"), SR)
        report(0.4)
        cache = _Cache()
        sung = _sings(lyrics)
        # what temperature adds is drawn from streams of its own: the default's streams are untouched
        self._melody(full, song, prof, rng("melody"), cache, 0.55 if sung else 1.0, temperature,
                     rng("melody.temperature"))
        if prof.arp:
            self._arpeggio(full, song, rng("arp"), cache, temperature, rng("arp.temperature"))
        if prof.drums:
            self._drums(full, song, rng("drums"))
        report(0.55)
        if sung:
            band_rms = float(np.sqrt(np.mean(full ** 2))) or 1e-3
            vox = self._sing(lyrics, artist, song, prof, rng("voice"), n, temperature)
            active = np.abs(vox) > 1e-4
            vrms = float(np.sqrt(np.mean(vox[active] ** 2))) if active.any() else 0.0
            if vrms > 0:
                full += (vox * (1.1 * self.voice_level * band_rms / vrms))[:, None] * np.array([0.72, 0.69])
        report(0.75)
        out = self._master(full, prof, rng("space"), n)
        report(1.0)
        return out

    def sung(self, *, genre: str, artist: str, lyrics: str, seconds: float, seed: int,
             temperature: float | None = None, tempo: float | None = None,
             meter: tuple[int, int] | None = None) -> Phonemes:
        """What the singer of :meth:`generate` (called with the same arguments) sings when:
        alphabet ``"asemic"``, each phone's first sample in the cue, ``"_"`` wherever the singer
        is silent (the intro, rests between phrases, the tail; all of a cue without lyrics). Exact
        to the sample: the very plan :meth:`generate` renders, without rendering it (the
        composition and the melody's walk: a few milliseconds). A face singing along moves its
        mouth with it (docs/backends.md, "Visemes")."""
        n, temperature, tempo_q, meter_t = _arguments(seconds, temperature, tempo, meter)
        if n == 0 or not _sings(lyrics):
            return Phonemes("asemic", ((0, "_"),) if n else (), n)
        rng = _streams(genre, artist, seed)
        song = compose(profile_for(genre), rng("compose"), n, temperature, tempo_q, meter_t)
        events = self._score(lyrics, artist, song, rng("voice"), n, temperature)[0]
        return Phonemes("asemic", formant.phones(events, n), n)

    def grid(self, *, genre: str, artist: str, lyrics: str, seconds: float, seed: int,
             temperature: float | None = None, tempo: float | None = None,
             meter: tuple[int, int] | None = None) -> Grid:
        """The grid :meth:`generate` plays these arguments on, without rendering (pure, cheap:
        a few random draws), ``source="backend"``: the stated ``tempo`` and ``meter``, else the
        backend's own (chosen from genre, artist and seed; a tempo to 4 decimals, in quarter
        notes scaled to a stated meter's unit, and ``meter`` beats/4). Beat 0 is sample 0 and
        the first downbeat. ``lyrics``, ``seconds`` and ``temperature`` do not move it."""
        tempo_q, meter_t = _stated(tempo, meter)
        if not np.isfinite(seconds) or seconds < 0:
            raise BackendError(f"music.procedural: seconds must be >= 0 (got {seconds})")
        prof = profile_for(genre)
        _tonic, _mode, own_tempo, own_beats = _draw_time(prof, _streams(genre, artist, seed)("compose"))
        t, m = exact_grid(own_tempo, own_beats, tempo_q, meter_t)
        return Grid(tempo=t, meter=m, first=Fraction(0), source="backend")

    # ------------------------------------------------------------------ stems

    def _pad(self, low: np.ndarray, song: Song, prof: Profile, rng: np.random.Generator,
             temperature: float | None = None) -> None:
        # temperature: how fast the pad's timbre moves (filter sweep, vowel morph): periods / T,
        # so 0 is nearly static (10x slower) and 2 twice as restless; None and 1 are the default
        pace = 1.0 if temperature is None else max(float(temperature), 0.1)
        m = low.shape[0]
        pad = np.zeros((m, 2))
        for ci, ch in enumerate(song.chords):
            s0 = ch.start // LOW
            seg = (ch.end - ch.start) // LOW
            attack = int(min(1.6 if prof.name != "electronic" else 0.4, 0.45 * seg / LSR) * LSR)
            release = int((2.5 if prof.name in ("drone", "choral") else 1.4) * LSR)
            length = min(m - s0, seg + release)
            if length <= 0:
                continue
            env = _envelope(length, attack, seg, release)
            notes = ch.notes
            if prof.pad == "additive":  # root, fifth, octave with beating partials
                r = ch.root + 12
                notes = (r, r + 7, r + 12, ch.notes[1] + 12)
            for k, note in enumerate(notes):
                f = float(hz(note))
                if prof.pad == "additive":
                    t = np.arange(length) / LSR
                    coarse = t[::256]
                    for side in (0, 1):
                        y = np.zeros(length)
                        for p in range(1, 8):
                            fp = f * p * (1.0 + (0.0009 if side else -0.0009) * rng.random())
                            if fp > 0.45 * LSR:
                                break
                            lfo = 0.55 + 0.45 * np.sin(2 * np.pi * rng.uniform(0.03, 0.2) * coarse + rng.uniform(0, 6.3))
                            lfo = np.interp(t, coarse, lfo)
                            y += lfo * np.sin(2 * np.pi * fp * t + rng.uniform(0, 6.3)) / p ** 1.3
                        pad[s0:s0 + length, side] += y * env * (0.55 if k == 3 else 1.0)
                else:
                    detunes = (-9.0, 0.0, 8.0) if prof.pad != "organ" else (-3.0, 3.0)
                    pans = (-0.7, 0.0, 0.7) if prof.pad != "organ" else (-0.4, 0.4)
                    for cents, p in zip(detunes, pans, strict=True):
                        fd = f * 2 ** ((cents + rng.normal(0, 2.0)) / 1200.0)
                        if prof.pad == "organ":  # soft reed: sine + a few odd partials
                            t = np.arange(length) / LSR
                            ph = rng.uniform(0, 6.3)
                            y = np.sin(2 * np.pi * fd * t + ph) + 0.3 * np.sin(6 * np.pi * fd * t + ph) \
                                + 0.12 * np.sin(10 * np.pi * fd * t + ph)
                        else:
                            y = _saw(fd, length, float(rng.random()), LSR)
                        gl, gr = _pan(p)
                        pad[s0:s0 + length, 0] += gl * y * env
                        pad[s0:s0 + length, 1] += gr * y * env
        nblocks = m // 256 + 1
        tb = np.arange(nblocks) * 256 / LSR
        lo_c, hi_c = prof.cutoff
        if prof.pad == "choir":
            vowels = [str(v) for v in rng.choice(["a", "o", "u", "ə"], size=2, replace=False)]
            morph = 0.5 + 0.5 * np.sin(2 * np.pi * tb / (rng.uniform(9, 17) / pace) + rng.uniform(0, 6.3))
            morph = np.interp(np.arange(m) / 256.0, np.arange(nblocks), morph)[:, None]
            a = dsp.sosfilt(formant.vowel_sos(vowels[0], 1.1, 1.6, LSR), pad, axis=0)
            b = dsp.sosfilt(formant.vowel_sos(vowels[1], 1.1, 1.6, LSR), pad, axis=0)
            pad = (a * morph + b * (1 - morph))
            pad = dsp.lfilter([1.0, -0.7], [1.0], pad, axis=0)
        else:
            period = rng.uniform(8.0, 20.0) / pace
            for side in (0, 1):
                sweep = 0.5 + 0.5 * np.sin(2 * np.pi * tb / period + rng.uniform(0, 6.3) + side * 0.6)
                cutoff = lo_c * (hi_c / lo_c) ** sweep
                pad[:, side] = _tv_lowpass(pad[:, side], cutoff, LSR, q=1.1 if prof.pad == "saw" else 0.7)
        if prof.name == "electronic":  # side-chain pump on the beat
            beat_n = song.beat * LSR
            ph = (np.arange(m) % beat_n) / LSR
            pad *= (1.0 - 0.6 * np.exp(-ph / 0.12))[:, None]
        rms = float(np.sqrt(np.mean(pad ** 2))) or 1.0
        level = {"saw": 0.2, "choir": 0.22, "additive": 0.22, "organ": 0.08}[prof.pad]
        low += pad * (level / rms)

    def _bass(self, low: np.ndarray, song: Song, prof: Profile, rng: np.random.Generator, fs: int = LSR) -> None:
        """The bass into ``low`` at ``fs`` (``LSR``; or ``SR`` for the plucked and synth basses on
        an exact grid, so each note starts on its beat's own sample, not the 4-sample step)."""
        rate = SR // fs
        m = low.shape[0]
        bass = np.zeros(m)
        beat_n = int(round(song.beat * SR))
        for ci, ch in enumerate(song.chords):
            f = float(hz(ch.root))
            s0 = ch.start // rate
            seg = (ch.end - ch.start) // rate
            if prof.bass in ("sine", "drone"):
                release = int((2.5 if prof.bass == "drone" else 0.8) * fs)
                length = min(m - s0, seg + release)
                if length <= 0:
                    continue
                t = np.arange(length) / fs
                att = int(min(0.6 if prof.bass == "sine" else 2.0, 0.4 * seg / fs) * fs)
                env = _envelope(length, att, seg, release)
                y = np.sin(2 * np.pi * f * t) + 0.18 * np.sin(4 * np.pi * f * t)
                if prof.bass == "drone":
                    y += 0.5 * np.sin(2 * np.pi * f * 1.5 * t * 1.001)
                bass[s0:s0 + length] += y * env
            else:
                step = beat_n if prof.bass == "pluck" else beat_n // 2
                k = 0
                starts = range(ch.start, ch.end, step) if song.beat_q is None else \
                    song.pulses(ci, 1 if prof.bass == "pluck" else 2)
                for start in starts:
                    if prof.bass == "pluck":
                        if k % song.meter not in (0, 2) or (song.meter == 3 and k % 3 == 2):
                            k += 1
                            continue
                        note = ch.root + (7 if (k % song.meter) == 2 else 0)
                        y = _pluck(float(hz(note)), 0.9, fs, 0.3) * 1.2
                    else:
                        note = ch.root + (12 if k % 4 == 3 else 0)
                        fb = float(hz(note))
                        length = int(0.9 * step / rate)
                        t = np.arange(length) / fs
                        y = np.zeros(length)
                        for h in range(1, 9):
                            y += np.sin(2 * np.pi * fb * h * t) * np.exp(-t * h * 6.0) / h
                        y *= _envelope(length, int(0.004 * fs), length - int(0.03 * fs), int(0.03 * fs))
                        y *= 0.9 if k % 2 == 0 else 0.65
                    _add(bass, start // rate, y)
                    k += 1
        rms = float(np.sqrt(np.mean(bass ** 2))) or 1.0
        level = {"sine": 0.13, "drone": 0.15, "pluck": 0.12, "synth": 0.14}[prof.bass]
        low += (bass * (level / rms))[:, None] * np.array([0.707, 0.707])

    def _melody(self, full: np.ndarray, song: Song, prof: Profile, rng: np.random.Generator,
                cache: _Cache, gain: float, temperature: float | None = None,
                trng: np.random.Generator | None = None) -> list[tuple[int, int, float]]:
        """Play the melody into ``full``; returns its notes as ``(start sample, midi, velocity)``.

        ``temperature`` (None: exactly 1) shapes the seeded random walk; every draw it adds comes
        from ``trng``, so the walk's own stream is untouched and 1 is the default bit for bit:

        * below 1 the melody becomes a loop: each grid step copies, with probability ``1 - T``,
          what the same step of the previous motif (two bars) played (note, velocity, pan, or
          the rest; never a motif of rests alone), so at 0 the melody settles into a two-bar
          loop as soon as it has played a note; steps shrink (by
          ``(1 + T) / 2``) and notes snap to chord tones with probability ``1 - T``; velocities
          and pans narrow toward the middle (0: all alike);
        * above 1 the steps grow by ``T`` (leaps), the range widens, a downbeat skips its chord
          tone with probability ``(T - 1) / 2``, a note turns chromatic (a semitone off the
          scale) with probability ``(T - 1) / 4``, a grace note half a step later is added with
          probability ``0.3 (T - 1)``, velocities and pans spread, and the instrument's
          brightness (FM index or pluck position) varies from note to note.
        """
        n = full.shape[0]
        step = int(round(prof.grid * song.beat * SR))
        degree = int(rng.integers(0, 5))
        octave = 4 if prof.melody == "lowbell" else 5
        level = {"bell": 0.09, "lowbell": 0.08, "epiano": 0.08, "pluck": 0.1}[prof.melody]
        g = level / 0.06 * 0.25 * gain  # a fixed note level, not rms-normalised: sparse stays sparse
        T = 1.0 if temperature is None else float(temperature)
        tempered = T != 1.0
        if tempered and trng is None:
            raise ValueError("a tempered melody needs its own generator (trng)")
        cool, hot = max(0.0, 1.0 - T), max(0.0, T - 1.0)
        motif = max(1, int(round(2 * song.meter / prof.grid)))  # grid steps in two bars
        memory: dict[int, tuple[int, float, float] | None] = {}  # motif slot -> (degree, vel, pan) or rest
        sounding = 0  # notes in ``memory``: a motif of rests alone is never looped (silence)
        notes: list[tuple[int, int, float]] = []
        first = rng.choice((0, 1, 2))  # the beat of the first step
        stop = n - int(0.3 * SR)
        starts: list[int] | range
        if song.beat_q is None:
            starts = range(int(song.beat * SR * first), stop, step)
        else:  # an exact grid: step k starts on the sample of beat ``first + k * grid``
            starts = []
            while (s := song.at(int(first) + len(starts) * Fraction(prof.grid))) < stop:
                starts.append(s)
        k = 0
        for start in starts:
            beat_pos = (k * prof.grid) % song.meter
            p = prof.density * (1.6 if beat_pos == 0 else 1.0)
            slot = k % motif
            k += 1
            looping = tempered and cool > 0 and slot in memory and sounding > 0
            if looping and trng.random() < cool:  # type: ignore[union-attr]
                copied = memory[slot]
                if copied is None:
                    continue
                degree, vel, pan = copied
                note = song.scale_note(degree, octave)
                self._melody_note(full, cache, prof, start, note, vel, pan, g, 0)
                notes.append((start, note, vel))
                continue
            if rng.random() >= p:
                if tempered:
                    sounding -= memory.get(slot) is not None
                    memory[slot] = None
                continue
            ch = song.chord_at(start)
            walk = int(rng.choice((-2, -1, -1, 0, 1, 1, 2, 3, -3)))
            if tempered:
                walk = int(np.round(walk * (T if T > 1.0 else 0.5 + 0.5 * T)))
                lo, hi = -2 - int(round(3 * hot)), 9 + int(round(3 * hot))
                degree = int(np.clip(degree + walk, lo, hi))
            else:
                degree += walk
                degree = int(np.clip(degree, -2, 9))
            land = beat_pos == 0
            if tempered:
                # hot: a downbeat may skip its chord tone; cool: any note may snap to one
                u = float(trng.random())  # type: ignore[union-attr]
                land = (land and u >= hot / 2) or (not land and u < cool)
            if land:  # land on a chord tone
                tones = [(ch.degree + j) % 7 for j in (0, 2, 4)]
                while degree % 7 not in tones:
                    degree += 1 if rng.random() < 0.5 else -1
            note = song.scale_note(degree, octave)
            vel = float(rng.uniform(0.5, 1.0))
            pan = float(rng.uniform(-0.55, 0.55))
            colour = 0
            if tempered:
                vel = float(np.clip(0.75 + (vel - 0.75) * T, 0.15, 1.0))
                pan = float(np.clip(pan * T, -0.9, 0.9))
                sounding += memory.get(slot) is None
                memory[slot] = (degree, vel, pan)
                if hot > 0:
                    if trng.random() < hot / 4:  # type: ignore[union-attr]  # chromatic neighbour
                        note += 1 if trng.random() < 0.5 else -1  # type: ignore[union-attr]
                    colour = int(trng.integers(-2, 3)) if trng.random() < hot else 0  # type: ignore[union-attr]
            self._melody_note(full, cache, prof, start, note, vel, pan, g, colour)
            notes.append((start, note, vel))
            if tempered and hot > 0 and trng.random() < 0.3 * hot:  # type: ignore[union-attr]  # a grace note
                grace = song.scale_note(degree + int(trng.choice((-1, 1))), octave)  # type: ignore[union-attr]
                at = start + step // 2 if song.beat_q is None else \
                    song.at(int(first) + (k - 1 + Fraction(1, 2)) * Fraction(prof.grid))
                if at < n - int(0.3 * SR):
                    self._melody_note(full, cache, prof, at, grace, vel * 0.7, -pan, g, colour)
                    notes.append((at, grace, vel * 0.7))
        return notes

    @staticmethod
    def _melody_note(full: np.ndarray, cache: _Cache, prof: Profile, start: int, note: int, vel: float,
                     pan: float, g: float, colour: int) -> None:
        """One melody note into ``full``; ``colour`` (-2..2, 0: the instrument's own) moves its
        brightness: the FM index by 25 % a step, or the pluck position."""
        f = float(hz(note))
        c = 1.25 ** colour
        if prof.melody == "bell":
            y = cache.get(("bell", note) if not colour else ("bell", note, colour),
                          lambda f=f: _bell(f, 3.5, 2.2 * c, 1.8))
        elif prof.melody == "lowbell":
            y = cache.get(("lowbell", note) if not colour else ("lowbell", note, colour),
                          lambda f=f: _bell(f, 1.414, 1.6 * c, 3.0))
        elif prof.melody == "epiano":
            y = cache.get(("ep", note) if not colour else ("ep", note, colour),
                          lambda f=f: _bell(f, 1.0, 1.8 * c, 0.7))
        else:
            y = cache.get(("pluck", note) if not colour else ("pluck", note, colour),
                          lambda f=f: _pluck(f, 1.1) if not colour else _pluck(f, 1.1, position=0.21 / c))
        gl, gr = _pan(pan)
        _add_st(full, start, y, gl * vel * g, gr * vel * g)

    def _arpeggio(self, full: np.ndarray, song: Song, rng: np.random.Generator, cache: _Cache,
                  temperature: float | None = None, trng: np.random.Generator | None = None) -> None:
        step = int(round(song.beat * SR / 2))
        patterns = [(0, 1, 2, 1), (0, 2, 1, 2), (0, 1, 2, 3)]
        pattern = patterns[int(rng.integers(0, 3))]
        # temperature above 1: each chord changes the pattern with probability (T - 1) / 2
        hot = 0.0 if temperature is None else max(0.0, float(temperature) - 1.0)
        for ci, ch in enumerate(song.chords):
            if hot > 0 and trng is not None and trng.random() < hot / 2:
                pattern = patterns[int(trng.integers(0, 3))]
            tones = sorted(ch.notes)[:3]
            starts = range(ch.start, ch.end, step) if song.beat_q is None else song.pulses(ci, 2)
            for k, start in enumerate(starts):
                idx = pattern[k % len(pattern)]
                note = tones[idx % len(tones)] + (12 if idx == 3 else 0)
                y = cache.get(("pluck", note, "arp"), lambda note=note: _pluck(float(hz(note)), 0.45))
                gl, gr = _pan(-0.35 if k % 2 == 0 else 0.35)
                vel = (0.9 if k % song.meter == 0 else 0.6) * 0.045
                _add_st(full, start, y, gl * vel, gr * vel)

    def _drums(self, full: np.ndarray, song: Song, rng: np.random.Generator) -> None:
        beat_n = song.beat * SR
        kl = int(0.45 * SR)
        t = np.arange(kl) / SR
        freq = 46.0 + 70.0 * np.exp(-t / 0.035)
        kick = np.sin(2 * np.pi * np.cumsum(freq) / SR) * np.exp(-t / 0.16) * np.minimum(1, t / 0.001)
        kick *= _envelope(kl, 0, kl - 2000, 2000) * 0.22
        hl = int(0.06 * SR)
        th = np.arange(hl) / SR
        hat_sos = dsp.butter_sos(2, 7000.0, "highpass", SR)
        hats = [dsp.sosfilt(hat_sos, rng.standard_normal(hl)) * np.exp(-th / 0.015) *
                np.minimum(1, th / 0.0005) * 0.03 for _ in range(3)]
        start_beat = 0 if rng.random() < 0.5 else song.meter
        b = start_beat
        exact = song.beat_q is not None
        while (song.at(b) if exact else b * beat_n) < full.shape[0]:
            s = song.at(b) if exact else int(round(b * beat_n))
            _add_st(full, s, kick, 0.7, 0.7)
            off = song.at(b + Fraction(1, 2)) if exact else int(round((b + 0.5) * beat_n))
            _add_st(full, off, hats[b % 3], 0.5, 0.8)
            b += 1

    def _sing(self, lyrics: str, artist: str, song: Song, prof: Profile, rng: np.random.Generator,
              n: int, temperature: float | None = None) -> np.ndarray:
        events, pitch_pts, note_starts, register = self._score(lyrics, artist, song, rng, n, temperature)
        if not pitch_pts:
            return np.zeros(n)
        return self._voice(events, pitch_pts, note_starts, register, rng, n)

    def _score(self, lyrics: str, artist: str, song: Song, rng: np.random.Generator, n: int,
               temperature: float | None = None
               ) -> tuple[list[Event], list[tuple[int, float]], list[int], int]:
        """The singer's part: its phones (``Event``: symbol, start, length in samples), the pitch
        points and note starts of its melody, its register. Draws the melody's walk from ``rng``
        (which :meth:`_voice` then goes on drawing from), so :meth:`sung` gets the same phones."""
        language = sub_seed("music.language", self.language, artist) % (2 ** 31) if artist else self.language
        lines = []
        for raw in lyrics.splitlines():
            for sent in formant.asemic_sentences(raw, language):
                syl = list(sent.syllables)
                while len(syl) > 12:  # long sentences: phrases of at most 12 syllables
                    lines.append(syl[:8])
                    syl = syl[8:]
                if syl:
                    lines.append(syl)
        beat_n = song.beat * SR
        register = 64 if sub_seed("register", artist) % 3 else 57
        events: list[Event] = []
        pitch_pts: list[tuple[int, float]] = []
        note_starts: list[int] = []
        exact = song.beat_q is not None
        pos_b = Fraction(0)  # on an exact grid: the beat at ``pos``
        if exact:  # start on a beat: a bar in, or less in a short cue
            lead_in = song.meter if song.meter * song.beat <= 0.12 * n / SR else int(0.12 * n / SR / song.beat)
            pos_b = Fraction(lead_in)
            pos = song.at(pos_b)
        else:
            intro = min(song.meter * song.beat, 0.12 * n / SR)
            pos = int(round(intro * SR))
        li = 0
        degree = 2
        gap_after_all = song.meter * 2
        while lines and pos < n - int(0.8 * SR):
            syls = lines[li % len(lines)]
            values = [1.0] * len(syls) if len(syls) <= 6 else [0.5] * len(syls)
            values[-1] = 2.0 if len(syls) > 1 else 3.0
            if len(syls) > 3 and values[0] == 1.0:
                values[len(syls) // 2] = 1.5
            # phrase contour: arch up then resolve onto a chord tone
            peak = len(syls) * 0.45
            for i, (syl, v) in enumerate(zip(syls, values, strict=True)):
                length = int(round(v * beat_n)) if not exact else song.at(pos_b + Fraction(v)) - pos
                if pos + length > n:
                    length = n - pos
                if length <= int(0.05 * SR):
                    break
                up = 1 if i < peak else -1
                walk = int(rng.choice((0, up, up, 2 * up, -up)))
                degree += walk if temperature is None else int(np.round(walk * temperature))
                degree = int(np.clip(degree, -3, 8))
                if i == len(syls) - 1:
                    ch = song.chord_at(pos)
                    tones = [(ch.degree + j) % 7 for j in (0, 2, 4)]
                    while degree % 7 not in tones:
                        degree -= 1
                note = register - 57 + song.scale_note(degree, 4)
                note_starts.append(pos)
                onset, vowel, coda = formant.syllable_phones(syl)
                t = pos
                for sym, sec in onset:
                    cl = min(int(sec * SR * 0.8), length // 3)
                    events.append(Event(sym, t, cl, 0.8))
                    t += cl
                coda_len = sum(min(int(sec * SR), length // 4) for _, sec in coda)
                vl = pos + length - t - coda_len
                arc = 0.75 + 0.25 * np.sin(np.pi * (i + 0.5) / len(syls))
                events.append(Event(vowel, t, vl, float(arc)))
                t += vl
                for sym, sec in coda:
                    cl = min(int(sec * SR), length // 4)
                    events.append(Event(sym, t, cl, 0.7))
                    t += cl
                pitch_pts.append((pos, float(note)))
                pitch_pts.append((pos + length - 1, float(note)))
                pos += length
                pos_b += Fraction(v)
            # breath before the next phrase
            rest_beats = 1 + (gap_after_all if (li + 1) % len(lines) == 0 else 0)
            if exact:
                rest = song.at(pos_b + rest_beats) - pos
                pos_b += rest_beats
            else:
                rest = int(round(beat_n * (1.0 + (gap_after_all if (li + 1) % len(lines) == 0 else 0))))
            bl = int(min(0.45 * SR, rest * 0.6))
            if pos + rest < n - int(0.8 * SR):
                events.append(Event(BREATH, pos + rest - bl, bl, 0.9))
            pos += rest
            li += 1
        return events, pitch_pts, note_starts, register

    def _voice(self, events: list[Event], pitch_pts: list[tuple[int, float]], note_starts: list[int],
               register: int, rng: np.random.Generator, n: int) -> np.ndarray:
        # f0: notes with portamento, delayed vibrato
        pts = np.array([p[0] for p in pitch_pts], dtype=np.float64)
        notes = np.array([p[1] for p in pitch_pts])
        midi = np.interp(np.arange(n), pts, notes)
        midi = formant.smooth(midi, int(0.045 * SR))
        since = np.arange(n) - np.array(note_starts)[np.clip(np.searchsorted(note_starts, np.arange(n),
                                                                             side="right") - 1, 0, None)]
        since = since / SR
        vib_rate = rng.uniform(4.8, 5.8)
        vib = 0.38 * np.clip((since - 0.18) / 0.35, 0.0, 1.0) * np.sin(2 * np.pi * vib_rate * np.arange(n) / SR)
        f0 = hz(midi + vib)
        scale = 1.12 if register >= 60 else 1.0
        vox = formant.render(events, np.asarray(f0), rng, formant_scale=scale, breathiness=0.35, tilt=0.2,
                             jitter=0.004, shimmer=0.04, smooth_ms=60.0, presence=0.75)
        return vox

    # ------------------------------------------------------------------ master

    def _master(self, full: np.ndarray, prof: Profile, rng: np.random.Generator, n: int) -> np.ndarray:
        wet_level = prof.wet * self.reverb
        if wet_level > 0:
            t60 = prof.reverb
            irs = [formant.reverb_ir(t60, rng, predelay=0.02 + 0.007 * side, damping=0.55) for side in (0, 1)]
            for side in (0, 1):
                send = full[:, side] + 0.25 * full[:, 1 - side]
                wet = dsp.oaconvolve(send, irs[side])[:n]
                full[:, side] = full[:, side] * (1 - 0.4 * wet_level) + wet * wet_level * 1.6
        full = dsp.sosfilt(dsp.butter_sos(2, HIGH_PASS, "highpass", SR), full, axis=0)
        fade = int(min(self.fade, n / SR / 4) * SR)
        if fade > 1:
            ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(fade) / fade)
            full[:fade] *= ramp[:, None]
            full[n - fade:] *= ramp[::-1, None]
        rms = float(np.sqrt(np.mean(full ** 2)))
        peak = float(np.max(np.abs(full)))
        if rms > 0:
            gain = min(0.13 / rms, 1.4 / peak)
            full *= gain
        # soft knee: linear below 0.6, tanh into the -1 dBFS ceiling above
        thr = 0.6
        a = np.abs(full)
        over = a > thr
        full[over] = np.sign(full[over]) * (thr + (CEILING - thr) * np.tanh((a[over] - thr) / (CEILING - thr)))
        return np.clip(full, -CEILING, CEILING).astype(np.float32)
