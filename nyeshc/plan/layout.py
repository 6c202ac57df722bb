"""Timeline layout: when every scene, line and cue starts and ends, in exact time.

This file is long (about 900 lines) on purpose: it holds every timing rule of the language
(scenes, overlaps, beats in the flow, music grids, credits) and the exact-time helpers they
share; split, the rules would call across files for each other's results. The resolve stage of
issue #16 would move these rules into ``nyeshc/resolve/``.

Everything is computed in exact :class:`~fractions.Fraction` seconds and converted to integer
frames (at the film's ``fps``) and samples (at ``SAMPLE_RATE``) once, at absolute boundaries,
so nothing drifts however long the film is.

The rules (LANGUAGE.md, "Time semantics"):

* Scenes follow one another. ``CROSSFADE TO: D`` and ``MORPH TO: D`` overlap the two scenes
  by ``D`` (the next scene starts ``D`` before the previous one ends). ``FADE IN: D`` darkens
  the start of the next scene, ``FADE OUT: D``/``FADE TO BLACK: D`` the end of the previous
  one; they add no time. ``CUT TO`` is nothing.
* A scene lasts its explicit duration, or else the latest end of its timed elements (dialogue
  audio, captions/cues/videos with ``for`` or a range, ``sings`` with ``for``), rounded up to a
  whole frame, at least 1 s. Untimed elements never lengthen a scene; elements outlasting an
  explicit duration are cut (the checker warns).
* A beat starts at its ``at`` (default 0); its lines play one after another, ``(pause D)``
  inserting silence; other parentheticals are direction notes. A line lasts as long as its
  audio: the voice backend's exact duration, or the length of its recording (a line's
  ``voice "file"`` or the character's ``voice: "file"``).
* ``CREDITS [ALPHABET][, D]`` lasts ``D``, or 2 s a line and at least 4 s.

A beat's *span* (where the character is on screen and animated) runs from its start to the
start of the same character's next beat in the scene, or the scene's end.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from nyeshc import ir, schema
from nyeshc.diagnostics import error, warning
from nyeshc.grid import Grid
from nyeshc.media import SAMPLE_RATE
from nyeshc.plan import ledger
from nyeshc.syntax.fountain import strip_emphasis
from nyeshc.plan.services import BackendInfo, Services

DEFAULT_FPS = Fraction(24)
DEFAULT_CANVAS = (1280, 720)
MIN_SCENE = Fraction(1)
CREDIT_LINE = Fraction(2)
MIN_CREDITS = Fraction(4)
DEFAULT_TRANSITION = Fraction(1)
DEFAULT_GAP = Fraction(3, 10)  # between one element of a scene's flow and the next
DEFAULT_READING_WPM = Fraction(180)  # an action line's reading speed
MIN_ACTION = Fraction(1)  # an action line takes at least this long
LOW_CONFIDENCE = 0.5  # a detected grid below this is W705
OFFSCREEN_EXTENSIONS = frozenset({"V.O.", "O.S.", "O.C.", "OFF", "VO", "OS", "OC"})
OVERLAP_KINDS = {"CROSSFADE TO": "crossfade", "MORPH TO": "morph"}
FADE_IN_KINDS = {"FADE IN"}
FADE_OUT_KINDS = {"FADE OUT", "FADE TO BLACK"}
FADE_THROUGH_KINDS = {"FADE THROUGH BLACK", "FADE TO WHITE"}


# --------------------------------------------------------------------------- reading values


def half_up(x: Fraction) -> int:
    """Round half up (not half-even): one rule for every boundary."""
    return math.floor(x + Fraction(1, 2))


def num(value: ir.Value | None, default: Fraction | None = None) -> Fraction | None:
    if isinstance(value, ir.Num):
        return value.value
    if isinstance(value, ir.Percent):
        return value.value / 100
    return default


def option(options: tuple[ir.Option, ...], key: str) -> ir.Option | None:
    """The option ``key`` (the planner's one way to read an option: the read is recorded in the
    :mod:`~nyeshc.plan.ledger`)."""
    for o in options:
        if o.key == key:
            ledger.note_read(o)
            return o
    return None


def flag(options: tuple[ir.Option, ...], choices: tuple[str, ...], default: str) -> str:
    """The last bare flag among ``choices`` (``close-up``, ``left``…), else ``default``; read."""
    found = default
    for o in options:
        if o.value is None and o.key in choices:
            ledger.note_read(o)
            found = o.key
    return found


def has_flag(options: tuple[ir.Option, ...], key: str) -> bool:
    return option(options, key) is not None


def opt_value(options: tuple[ir.Option, ...], key: str) -> ir.Value | None:
    o = option(options, key)
    return o.value if o is not None else None


def seconds(value: ir.Value | None, fps: Fraction) -> Fraction | None:
    if isinstance(value, ir.Time):
        return value.seconds(fps)
    return None


def opt_seconds(options: tuple[ir.Option, ...], key: str, fps: Fraction) -> Fraction | None:
    return seconds(opt_value(options, key), fps)


@dataclass
class Clock:
    """A scene's music clock: turns times written on the grid (``at bar 5``, ``for 2 bars``)
    into scene seconds. ``origin`` is the scene time of the cue audio's first sample (its
    ``music:`` start less its ``from``; for the soundtrack, less the scene's start in the film)."""

    grid: Grid | None = None
    origin: Fraction = Fraction(0)
    cue: str = ""
    end: Fraction | None = None  # scene time where the cue's audio ends, when known

    def point(self, v: ir.GridTime) -> Fraction | None:
        if self.grid is None:
            self.no_grid(v)
            return None
        if v.count < 1:
            return None
        n = int(v.count)
        t = self.grid.bar_time(n) if v.unit == "bar" else self.grid.beat_time(n - 1)
        at = self.origin + t
        if at < 0:
            ledger.warn(error("E704", f"{v.unit} {n} of {self.cue} comes {float(-at):.2f}s before this scene starts",
                              v.span, f"{v.unit}s count from the start of {self.cue}, not of the scene: "
                              f"this scene starts at its {v.unit} {self.first_in_scene(v.unit)}"))
            return None
        if self.end is not None and at > self.end:
            ledger.warn(error("E704", f"{v.unit} {n} is at {float(t):.2f}s of {self.cue}, past its end",
                              v.span, f"{self.cue} lasts {float(self.end - self.origin):.2f}s: "
                              "count fewer, or make the cue longer"))
        return at

    def first_in_scene(self, unit: str) -> int:
        """The first bar (or beat) of the cue that starts within the scene (1-based)."""
        assert self.grid is not None
        k = 0
        while self.origin + self.grid.beat_time(k) < 0 and k < 1_000_000:
            k += 1
        return k // self.grid.meter[0] + 1 if unit == "bar" and k % self.grid.meter[0] == 0 else \
            (k // self.grid.meter[0] + 2 if unit == "bar" else k + 1)

    def no_grid(self, v: ir.GridTime) -> None:
        ledger.warn(error("E704", f"{self.cue or 'the scene’s music'} has no grid to count {v.unit}s on", v.span,
                          "state its tempo: source: generate, tempo 72bpm (and meter 3/4), or write seconds"))

    def length(self, v: ir.GridTime, start: Fraction = Fraction(0)) -> Fraction | None:
        if self.grid is None:
            self.no_grid(v)
            return None
        beats = v.count * (self.grid.meter[0] if v.unit == "bar" else 1)
        return beats * self.grid.beat_seconds


def seconds_of(value: ir.Value | None, fps: Fraction, clock: Clock | None = None, *, length: bool = False
               ) -> Fraction | None:
    """A time option's seconds: a time, or (with the scene's ``clock``) a time on its grid."""
    if isinstance(value, ir.Time):
        return value.seconds(fps)
    if isinstance(value, ir.GridTime) and clock is not None:
        return clock.length(value) if length else clock.point(value)
    return None


def timing(options: tuple[ir.Option, ...], fps: Fraction, clock: Clock | None = None
           ) -> tuple[Fraction, Fraction | None]:
    """``(at, for)`` from ``at T``, ``for D`` or a range ``T1..T2`` (``for`` None: untimed);
    ``at bar 5`` / ``for 2 bars`` on the scene's ``clock``."""
    at = seconds_of(opt_value(options, "at"), fps, clock) or Fraction(0)
    dur = seconds_of(opt_value(options, "for"), fps, clock, length=True)
    for o in options:
        if o.key is None and isinstance(o.value, ir.Range):
            ledger.note_read(o)
            lo, hi = seconds(o.value.lo, fps), seconds(o.value.hi, fps)
            if lo is not None and hi is not None:
                at, dur = lo, max(Fraction(0), hi - lo)
    return at, dur


def prop(defn: ir.Definition | None, key: str) -> ir.Property | None:
    if defn is None:
        return None
    for p in defn.props:
        if p.key == key:
            return p
    return None


# --------------------------------------------------------------------------- context


@dataclass
class Context:
    """The film, its canvas and the injected services, shared by layout and graph."""

    film: ir.Film
    services: Services
    root: Path  # the main script's folder
    width: int = DEFAULT_CANVAS[0]
    height: int = DEFAULT_CANVAS[1]
    fps: Fraction = DEFAULT_FPS
    film_seed: int = 0
    _backends: dict[str, BackendInfo] = field(default_factory=dict)
    _durations: dict[str, Fraction | None] = field(default_factory=dict)
    _grids: dict[str, Grid | None] = field(default_factory=dict)

    @classmethod
    def make(cls, film: ir.Film, services: Services, root: Path | None = None) -> Context:
        root = Path(root) if root is not None else Path(film.path).resolve().parent
        ctx = cls(film, services, root)
        canvas = film.header.get("canvas")
        ledger.mark("rendered", canvas)
        for f in film.header.fields:
            if f.key not in ("canvas", "seed", "subtitles", "duck", "soundtrack"):
                ledger.mark("inert", f)  # title-page text: the file's metadata and exports
        if canvas is not None:
            if isinstance(canvas.value, ir.Size):
                ctx.width, ctx.height = canvas.value.width, canvas.value.height
            elif isinstance(canvas.value, ir.Rate):
                ctx.fps = canvas.value.fps
            for o in canvas.options:
                if isinstance(o.value, ir.Rate) and o.value.fps > 0:
                    ctx.fps = o.value.fps
                elif isinstance(o.value, ir.Size):
                    ctx.width, ctx.height = o.value.width, o.value.height
        seed = film.header.get("seed")
        if seed is not None and isinstance(seed.value, ir.Num):
            ctx.film_seed = int(seed.value.value)
            ledger.mark("rendered", seed)
        return ctx

    def backend(self, modality: str) -> BackendInfo:
        if modality not in self._backends:
            self._backends[modality] = self.services.backend(modality)
        return self._backends[modality]

    @property
    def backends(self) -> dict[str, BackendInfo]:
        return dict(self._backends)

    # ------------------------------------------------------------------ assets

    def asset(self, path: ir.Str) -> str:
        """The absolute path of a file a script names: relative to the file that wrote it (an
        included file's own folder), else to :attr:`root`. Job params carry this absolute path
        (the executor opens it as is); the file's SHA-256 goes beside it."""
        base = Path(path.span.file).resolve().parent if path.span.file else self.root
        return os.path.normpath(base / path.text)

    def media_seconds(self, absolute: str) -> Fraction | None:
        if absolute not in self._durations:
            try:
                self._durations[absolute] = self.services.media_duration(absolute)
            except OSError:
                self._durations[absolute] = None
        return self._durations[absolute]

    def audio_seconds(self, absolute: str) -> Fraction | None:
        """Seconds of a media file when it has sound (a video's own soundtrack); None when it
        has none or cannot be read."""
        try:
            if not self.services.has_audio(absolute):
                return None
        except OSError:
            return None
        return self.media_seconds(absolute)

    def cue_grid(self, value: ir.Value | None) -> Grid | None:
        """The grid of a music cue (by name) or of a recording (``"file.wav"``): stated
        (``tempo``/``meter`` on the cue's source: exact), else the generator's own, else
        detected by the beat tracker; None when there is none (a generator that cannot say)."""
        key = value.word if isinstance(value, ir.Word) else value.text if isinstance(value, ir.Str) else None
        if key is None:
            return None
        if key not in self._grids:
            self._grids[key] = self._find_grid(value)  # type: ignore[arg-type]
        return self._grids[key]

    @property
    def grids(self) -> dict[str, Grid]:
        return {k: g for k, g in sorted(self._grids.items()) if g is not None}

    def _find_grid(self, value: ir.Word | ir.Str) -> Grid | None:
        if isinstance(value, ir.Str):
            return self._recording_grid(self.asset(value), None, value.span)
        defn = self.film.defs("music").get(value.word)
        p = prop(defn, "source")
        if p is None:
            return None
        tempo_v, meter_v = opt_value(p.options, "tempo"), opt_value(p.options, "meter")
        meter = (meter_v.beats, meter_v.unit) if isinstance(meter_v, ir.Meter) else None
        if isinstance(tempo_v, ir.Tempo):
            return Grid.stated(tempo_v.bpm, meter or (4, 4))
        if isinstance(p.value, ir.Str):
            return self._recording_grid(self.asset(p.value), meter, p.value.span)
        probe = getattr(self.services, "music_grid", None)
        if probe is None:
            return None
        from nyeshc.plan.seeds import derive

        explicit = num(opt_value(p.options, "seed"))
        length = opt_seconds(p.options, "length", self.fps)
        temperature = num(opt_value(p.options, "temperature"))
        lyrics_p = prop(defn, "lyrics")
        params: dict[str, object] = {
            "genre": v.text if isinstance(v := opt_value(p.options, "genre"), ir.Str) else "",
            "artist": v.text if isinstance(v := opt_value(p.options, "artist"), ir.Str) else "",
            "lyrics": lyrics_p.value.text if lyrics_p is not None and isinstance(lyrics_p.value, ir.Str) else "",
            "seconds": float(length) if length is not None else 60.0,
            "seed": derive(self.film_seed, f"music {value.word}", None if explicit is None else int(explicit)),
        }
        if temperature is not None:
            params["temperature"] = float(temperature)
        if meter is not None:
            params["meter"] = list(meter)
        return probe(self.backend("music"), params)

    def _recording_grid(self, absolute: str, meter: tuple[int, int] | None, span: object) -> Grid | None:
        probe = getattr(self.services, "recording_grid", None)
        if probe is None:
            return None
        try:
            # a stated meter reaches the tracker, which finds the bar lines counting that many beats
            grid = probe(absolute, beats_per_bar=meter[0]) if meter is not None else probe(absolute)
        except OSError:
            return None
        if grid is not None and grid.source == "detected" and grid.confidence < LOW_CONFIDENCE:
            ledger.warn(warning("W705", f"the beat tracker is unsure of this recording's grid "
                                        f"({float(grid.tempo):g} bpm, confidence {grid.confidence:.2f})", span,  # type: ignore[arg-type]
                                "state it on the cue: source: \"music.wav\", tempo 96bpm, meter 4/4"))
        if grid is not None and meter is not None and grid.meter != meter:
            grid = Grid(grid.tempo, meter, grid.first, grid.beats, grid.downbeat, grid.confidence, grid.source)
        return grid

    def sha256(self, absolute: str) -> str:
        try:
            return self.services.file_sha256(absolute)
        except OSError:
            return "missing"

    # ------------------------------------------------------------------ time

    def frame(self, t: Fraction) -> int:
        return half_up(t * self.fps)

    def sample(self, t: Fraction) -> int:
        return half_up(t * SAMPLE_RATE)

    def frame_to_sample(self, frame: int) -> int:
        return round(Fraction(frame) * SAMPLE_RATE / self.fps)


# --------------------------------------------------------------------------- voices


@dataclass(frozen=True)
class Voice:
    """How a character speaks: synthesised (``asemic``/``tts``) or a recording."""

    mode: str  # "asemic" | "tts" | "file"
    pitch: float = 1.0
    rate: float = 1.0
    lang: str = ""
    path: ir.Str | None = None
    seed: int | None = None  # ``seed N``: folded into each line's derived seed


def voice_modality(voice: Voice) -> str:
    """The profile modality whose backend speaks ``voice``: ``tts`` for ``voice: tts``, else ``voice``."""
    return "tts" if voice.mode == "tts" else "voice"


def voice_of(defn: ir.Definition | None) -> Voice:
    p = prop(defn, "voice")
    if p is None:
        return Voice("asemic", lang="asemic")
    ledger.mark("rendered", p)
    if isinstance(p.value, ir.Str):
        return Voice("file", path=p.value)
    mode = p.value.word if isinstance(p.value, ir.Word) else "asemic"
    mode = "tts" if mode == "tts" else "asemic"
    pitch = float(num(opt_value(p.options, "pitch"), Fraction(1)) or 1)
    rate = float(num(opt_value(p.options, "rate"), Fraction(1)) or 1)
    lang_v = opt_value(p.options, "lang")
    lang = lang_v.text if isinstance(lang_v, ir.Str) else ("en" if mode == "tts" else "asemic")
    seed = num(opt_value(p.options, "seed"))
    return Voice(mode, pitch, rate, lang, seed=None if seed is None else int(seed))


# --------------------------------------------------------------------------- placed elements


@dataclass
class Line:
    """A dialogue line placed in its beat's track (offsets and lengths in samples)."""

    text: str
    character: str
    number: int  # 1-based: the character's n-th line in the scene
    offset: int
    samples: int
    voice: Voice
    recording: ir.Str | None  # the line's own or the character's recording
    node: ir.Dialogue | None = None


@dataclass
class Sing:
    """``sings CUE``: ``source_offset`` samples into the cue, ``samples`` long (None: to the
    beat span's end), at ``offset`` samples into the beat's track."""

    cue: str
    offset: int
    source_offset: int
    samples: int | None
    node: ir.Action | None = None


@dataclass
class BeatLayout:
    beat: ir.Beat
    character: str
    number: int  # the character's n-th beat in the scene
    at: Fraction  # scene-relative start
    lines: list[Line]
    sings: list[Sing]
    audio: int  # samples of timed content (lines, pauses, timed sings)
    shot: str
    side: str
    end: Fraction | None = None  # scene-relative end of the span (set after the scene's length)
    flow: bool = False  # placed by the flow (no ``at``)
    offscreen: bool = False  # ``(V.O.)``, ``(O.S.)``…: heard, not seen


@dataclass
class ActionLayout:
    """An action line in the flow: ``at`` and ``length`` in scene seconds; drawn when ``show``."""

    line: ir.ActionLine
    at: Fraction
    length: Fraction
    show: bool
    position: str


@dataclass
class TrackLayout:
    """A scene or the credits on the timeline (exact seconds)."""

    index: int
    item: ir.Scene | ir.Credits
    identity: str  # the scene's name-path head, e.g. "scene 1"
    title: str
    start: Fraction
    duration: Fraction
    beats: list[BeatLayout] = field(default_factory=list)
    actions: list[ActionLayout] = field(default_factory=list)
    flow_at: dict[int, Fraction] = field(default_factory=dict)  # ``at flow``: directive id → scene time
    clock: Clock | None = None  # the scene's music grid (``at bar 5``)
    fade_in: Fraction = Fraction(0)
    fade_out: Fraction = Fraction(0)
    fade_in_white: bool = False  # FADE TO WHITE: from and to white instead of black
    fade_out_white: bool = False

    @property
    def end(self) -> Fraction:
        return self.start + self.duration

    @property
    def is_credits(self) -> bool:
        return isinstance(self.item, ir.Credits)


@dataclass
class OverlapLayout:
    kind: str  # "crossfade" | "morph"
    a: int
    b: int
    duration: Fraction


@dataclass
class Layout:
    tracks: list[TrackLayout]
    overlaps: list[OverlapLayout]

    @property
    def duration(self) -> Fraction:
        return max((t.end for t in self.tracks), default=Fraction(0))


# --------------------------------------------------------------------------- scenes


def scene_identities(scenes: list[ir.Scene]) -> list[str]:
    """Each scene's name-path head: ``scene <number>``, else ``scene <heading>``, else
    ``scene #<n>`` (the n-th scene with neither); a repeated identity gets `` (2)``, `` (3)``."""
    out: list[str] = []
    seen: dict[str, int] = {}
    anonymous = 0
    for s in scenes:
        h = s.heading
        if h.number:
            ident = f"scene {h.number}"
        elif h.title.strip():
            ident = f"scene {' '.join(h.title.split())}"
        else:
            anonymous += 1
            ident = f"scene #{anonymous}"
        seen[ident] = seen.get(ident, 0) + 1
        out.append(ident if seen[ident] == 1 else f"{ident} ({seen[ident]})")
    return out


def scene_title(scene: ir.Scene) -> str:
    h = scene.heading
    if h.style == "scene":
        head = "SCENE" + (f" {h.number}" if h.number else "")
        return f"{head} \"{h.title}\"" if h.title else head
    return h.title


def shot_and_side(beat: ir.Beat) -> tuple[str, str]:
    return (flag(beat.options, ("close-up", "medium", "wide"), "medium"),
            flag(beat.options, ("left", "center", "right"), "center"))


def header_time(ctx: Context, key: str, default: Fraction) -> Fraction:
    p = ctx.film.header.get(key)
    if p is not None and isinstance(p.value, ir.Time):
        ledger.mark("rendered", p)
        return p.value.seconds(ctx.fps)
    return default


def reading_rate(ctx: Context) -> Fraction:
    """Words a minute an action line is read at (the header's ``reading: 180wpm``)."""
    p = ctx.film.header.get("reading")
    if p is not None:
        wpm = wpm_value(p.value)
        if wpm is not None and wpm > 0:
            ledger.mark("rendered", p)
            return wpm
    return DEFAULT_READING_WPM


def wpm_value(v: ir.Value | None) -> Fraction | None:
    """``180wpm`` (a number and the word ``wpm``) or a plain number."""
    if isinstance(v, ir.Num):
        return v.value
    if isinstance(v, ir.Phrase) and len(v.items) == 2 and isinstance(v.items[0], ir.Num) \
            and isinstance(v.items[1], ir.Word) and v.items[1].word.lower() == "wpm":
        return v.items[0].value
    return None


def spoken(text: str) -> str:
    """What is said and shown of a text: Fountain's emphasis marks (``*x*``, ``**x**``,
    ``_x_``) removed; the script keeps them for its exports."""
    return strip_emphasis(text) if ("*" in text or "_" in text) else text


def reading_time(text: str, wpm: Fraction) -> Fraction:
    """How long an action line takes to read: its words at ``wpm``, at least ``MIN_ACTION``."""
    return max(MIN_ACTION, Fraction(len(text.split()) * 60) / wpm)


def offscreen(beat: ir.Beat) -> bool:
    """``NAME (V.O.)``, ``(O.S.)``, ``(O.C.)``, ``(OFF)``: heard, not seen."""
    return beat.extension is not None and beat.extension.upper().replace(" ", "") in OFFSCREEN_EXTENSIONS


def beat_content(ctx: Context, beat: ir.Beat, voice: Voice, line_count: dict[str, int],
                 clock: Clock | None = None) -> tuple[list[Line], list[Sing], int]:
    """A beat's lines and songs placed in its own track: (lines, sings, samples of timed content)."""
    fps = ctx.fps
    name = beat.character
    cursor = 0
    lines: list[Line] = []
    sings: list[Sing] = []
    for item in beat.lines:
        if isinstance(item, ir.Parenthetical):
            if item.pause is not None:
                cursor += ctx.sample(item.pause.seconds(fps))
                ledger.mark("rendered", item)
            else:
                ledger.mark("inert", item)  # a direction for the actor: not drawn, not heard
        elif isinstance(item, ir.Dialogue):
            line_count[name] = line_count.get(name, 0) + 1
            own = opt_value(item.options, "voice")
            recording = own if isinstance(own, ir.Str) else voice.path if voice.mode == "file" else None
            if recording is not None:
                secs = ctx.media_seconds(ctx.asset(recording)) or Fraction(0)
                n = ctx.sample(secs)
            else:
                d = ctx.services.voice_duration(ctx.backend(voice_modality(voice)), spoken(item.text.text),
                                                voice.pitch, voice.rate, voice.lang)
                n = round(d * SAMPLE_RATE)
            lines.append(Line(spoken(item.text.text), name, line_count[name], cursor, n, voice, recording, item))
            cursor += n
        elif isinstance(item, ir.Action) and item.verb == "sings" and isinstance(item.target, ir.Word):
            rel_at, dur = timing(item.options, fps, clock)
            start = cursor + ctx.sample(rel_at)
            src = opt_seconds(item.options, "from", fps) or Fraction(0)
            length = ctx.sample(dur) if dur is not None else None
            sings.append(Sing(item.target.word, start, ctx.sample(src), length, item))
            if length is not None:
                cursor = start + length
    return lines, sings, cursor


def directive_timing(d: ir.Property, fps: Fraction, flow_at: dict[int, Fraction] | None = None,
                     clock: Clock | None = None) -> tuple[Fraction, Fraction | None]:
    """A directive's ``(at, for)``: as :func:`timing`, and ``at flow`` is where the scene's flow
    stood at the directive's line (``flow_at``, from :func:`layout_flow`)."""
    at, dur = timing(d.options, fps, clock)
    o = option(d.options, "at")
    if o is not None and isinstance(o.value, ir.Word) and o.value.word == "flow":
        at = (flow_at or {}).get(id(d), Fraction(0))
    return at, dur


def layout_flow(ctx: Context, scene: ir.Scene, flow_at: dict[int, Fraction] | None = None,
                clock: Clock | None = None) -> tuple[list[BeatLayout], list[ActionLayout]]:
    """The scene's beats and action lines on its timeline (LANGUAGE.md, "The flow"): untimed
    ones play in the order written, each starting when the one before ends plus the header's
    ``gap``; one with ``at T`` sits at T and the flow continues after it; a dual beat (``^``)
    starts with the beat before it, and the two stand left and right unless sides are given."""
    chars = ctx.film.defs("character")
    fps = ctx.fps
    gap = header_time(ctx, "gap", DEFAULT_GAP)
    wpm = reading_rate(ctx)
    shown = action_default(ctx)
    beats: list[BeatLayout] = []
    actions: list[ActionLayout] = []
    beat_count: dict[str, int] = {}
    line_count: dict[str, int] = {}
    cursor = Fraction(0)  # where the flow is
    last: BeatLayout | None = None  # the previous beat (for ``^``)
    for item in scene.items:
        if isinstance(item, ir.Property) and flow_at is not None:
            flow_at[id(item)] = cursor  # where the next beat would start
            continue
        if isinstance(item, ir.ActionLine):
            at_o = option(item.options, "at")
            placed = seconds_of(at_o.value, fps, clock) if at_o is not None else None
            at = placed if placed is not None else cursor
            dur = seconds_of(opt_value(item.options, "for"), fps, clock, length=True)
            length = dur if dur is not None else reading_time(item.text.text, wpm)
            show = has_flag(item.options, "show") or shown
            position = flag(item.options, ("top", "center", "bottom", "left", "right"), "bottom")
            actions.append(ActionLayout(item, at, length, show, position))
            cursor = at + length + gap
            continue
        if not isinstance(item, ir.Beat):
            continue
        name = item.character
        beat_count[name] = beat_count.get(name, 0) + 1
        voice = voice_of(chars.get(name))
        lines, sings, audio = beat_content(ctx, item, voice, line_count, clock)
        at_o = option(item.options, "at")
        placed = seconds_of(at_o.value, fps, clock) if at_o is not None else None
        timed = placed is not None
        if item.dual and last is not None:
            at = last.at
        elif placed is not None:
            at = placed
        else:
            at = cursor
        shot, side = shot_and_side(item)
        b = BeatLayout(item, name, beat_count[name], at, lines, sings, audio, shot, side,
                       flow=not timed, offscreen=offscreen(item))
        if item.dual and last is not None:
            sides = ("left", "center", "right")
            if not any(o.key in sides for o in last.beat.options) and last.side == "center":
                last.side = "left"
            if not any(o.key in sides for o in item.options) and b.side == "center":
                b.side = "right"
            cursor = max(cursor - gap, at + Fraction(audio, SAMPLE_RATE)) + gap
        else:
            cursor = at + Fraction(audio, SAMPLE_RATE) + gap
        beats.append(b)
        last = b
    return beats, actions


def layout_beats(ctx: Context, scene: ir.Scene) -> list[BeatLayout]:
    return layout_flow(ctx, scene)[0]


def action_default(ctx: Context) -> bool:
    """The header's ``action: show`` draws every action line (``hide``, the default, draws only
    those marked ``show``)."""
    p = ctx.film.header.get("action")
    if p is not None and isinstance(p.value, ir.Word):
        ledger.mark("rendered", p)
        return p.value.word == "show"
    return False


def natural_end(ctx: Context, scene: ir.Scene, beats: list[BeatLayout],
                actions: list[ActionLayout] | None = None, flow_at: dict[int, Fraction] | None = None,
                clock: Clock | None = None) -> Fraction:
    """The latest end of the scene's timed elements and of its flow (0 when none)."""
    end = Fraction(0)
    for d in scene.directives:
        at, dur = directive_timing(d, ctx.fps, flow_at, clock)
        if dur is not None:
            end = max(end, at + dur)
    for b in beats:
        if b.audio:
            end = max(end, b.at + Fraction(b.audio, SAMPLE_RATE))
        elif b.flow:
            end = max(end, b.at)
    for a in actions or ():
        end = max(end, a.at + a.length)
    return end


def scene_duration(ctx: Context, scene: ir.Scene, beats: list[BeatLayout],
                   actions: list[ActionLayout] | None = None, flow_at: dict[int, Fraction] | None = None,
                   clock: Clock | None = None) -> Fraction:
    explicit = seconds(scene.duration, ctx.fps) if scene.duration is not None else None
    if explicit is not None and explicit > 0:
        return explicit
    end = natural_end(ctx, scene, beats, actions, flow_at, clock)
    end = Fraction(math.ceil(end * ctx.fps), 1) / ctx.fps  # whole frames: never cut the last sample
    return max(MIN_SCENE, end)


def credits_duration(ctx: Context, credits: ir.Credits) -> Fraction:
    explicit = seconds(credits.duration, ctx.fps) if credits.duration is not None else None
    if explicit is not None and explicit > 0:
        return explicit
    return max(MIN_CREDITS, CREDIT_LINE * len(credits.lines))


def soundtrack_clock(ctx: Context) -> tuple[Grid | None, Fraction, str]:
    """The soundtrack's grid, its ``from`` offset and its name (no grid: None)."""
    st = ctx.film.header.get("soundtrack")
    if st is None or not isinstance(st.value, (ir.Word, ir.Str)):
        return None, Fraction(0), ""
    name = st.value.word if isinstance(st.value, ir.Word) else st.value.text
    offset = seconds(opt_value(st.options, "from"), ctx.fps) or Fraction(0)
    return ctx.cue_grid(st.value), offset, f"the soundtrack {name}"


def cuts_unit(ctx: Context) -> str | None:
    """``cuts: on beat`` / ``on bar``: the unit scene boundaries snap to (None: no snapping)."""
    p = ctx.film.header.get("cuts")
    if p is None or not isinstance(p.value, ir.Phrase):
        return None
    words = [x.word for x in p.value.items if isinstance(x, ir.Word)]
    if words[:1] == ["on"] and words[1:] in (["beat"], ["bar"]):
        ledger.mark("rendered", p)
        return words[1]
    return None


def scene_clock(ctx: Context, scene: ir.Scene, start: Fraction, soundtrack: tuple[Grid | None, Fraction, str]) -> Clock:
    """The grid a scene's ``at bar 5`` counts on: its first ``music:`` cue (placed at its
    ``at``, less its ``from``), else the soundtrack (which starts with the film)."""
    for d in scene.directives:
        if d.key == "music" and isinstance(d.value, (ir.Word, ir.Str)):
            at_v = opt_value(d.options, "at")
            at = at_v.seconds(ctx.fps) if isinstance(at_v, ir.Time) else Fraction(0)
            offset = seconds(opt_value(d.options, "from"), ctx.fps) or Fraction(0)
            name = d.value.word if isinstance(d.value, ir.Word) else d.value.text
            return Clock(ctx.cue_grid(d.value), at - offset, f"the cue {name}")
    grid, offset, name = soundtrack
    return Clock(grid, -start - offset, name)


def snap(start: Fraction, duration: Fraction, soundtrack: tuple[Grid | None, Fraction, str], unit: str) -> Fraction:
    """``cuts: on beat|bar``: the scene's end moved to the nearest beat or bar line of the
    soundtrack (film time ``t`` is soundtrack time ``t + from``), by at most half a beat or bar
    and never to nothing. Exact: the line's time is a Fraction, so the boundary lands on the frame
    nearest it at any frame rate."""
    grid, offset, _ = soundtrack
    assert grid is not None
    every = grid.meter[0] if unit == "bar" else 1
    step = grid.beat_seconds * every
    t = start + duration + offset  # the boundary, in soundtrack time
    k = max(0, math.floor((t - grid.first) / step + Fraction(1, 2))) * every
    best = grid.beat_time(k)
    for cand in (grid.beat_time(k - every) if k >= every else None, grid.beat_time(k + every)):
        if cand is not None and abs(cand - t) < abs(best - t):
            best = cand
    new = best - offset - start
    if new <= 0 or abs(best - t) > step / 2:
        return duration
    return new


def assign_spans(tracks: list[TrackLayout]) -> None:
    """A beat's span (where the character is on screen) ends where the same character's next
    beat starts, or at the scene's end; a beat in the flow also gives way to the next beat in
    the flow that is seen (a cut to the next speaker; not to its dual partner, nor to a voice
    off screen)."""
    for t in tracks:
        for i, b in enumerate(t.beats):
            end = t.duration
            for later in t.beats[i + 1:]:
                if later.character == b.character and later.at > b.at and not later.offscreen:
                    end = min(end, later.at)
                    break
            if b.flow:
                for later in t.beats[i + 1:]:
                    if later.flow and not later.offscreen and not later.beat.dual and later.at > b.at:
                        end = min(end, later.at)
                        break
            b.end = max(b.at, min(end, t.duration))


def layout(ctx: Context) -> Layout:
    """Place every scene, transition and the credits on the timeline."""
    body = ctx.film.body
    scenes = [i for i in body if isinstance(i, ir.Scene)]
    idents = dict(zip(map(id, scenes), scene_identities(scenes), strict=True))
    tracks: list[TrackLayout] = []
    overlaps: list[OverlapLayout] = []
    pending_fade_in = Fraction(0)
    pending_white = False
    soundtrack = soundtrack_clock(ctx)
    cuts = cuts_unit(ctx)
    pending_node: ir.Transition | None = None
    pending_overlap: tuple[str, Fraction] | None = None
    credits_n = 0
    for item in body:
        if isinstance(item, ir.Transition):
            spec = schema.transition(" ".join(item.kind.split()))
            kind = spec.name if spec is not None else "CUT TO"
            d = seconds(item.duration, ctx.fps) if item.duration is not None else None
            d = DEFAULT_TRANSITION if d is None else d
            ledger.mark("rendered", item)
            if kind in FADE_IN_KINDS:
                pending_fade_in = d
            elif kind in FADE_OUT_KINDS:
                if tracks:
                    tracks[-1].fade_out = min(d, tracks[-1].duration)
            elif kind in FADE_THROUGH_KINDS:  # half out of the scene before, half into the next
                white = kind == "FADE TO WHITE"
                if tracks:
                    tracks[-1].fade_out = min(d / 2, tracks[-1].duration)
                    tracks[-1].fade_out_white = white
                pending_fade_in, pending_white = d / 2, white
            elif kind in OVERLAP_KINDS and tracks:
                pending_overlap = (OVERLAP_KINDS[kind], d)
                pending_node = item
            continue
        if isinstance(item, ir.Scene):
            start = Fraction(0)
            if tracks:
                start = tracks[-1].end - (pending_overlap[1] if pending_overlap is not None else 0)
            clock = scene_clock(ctx, item, start, soundtrack)
            flow_at: dict[int, Fraction] = {}
            beats, actions = layout_flow(ctx, item, flow_at, clock)
            duration = scene_duration(ctx, item, beats, actions, flow_at, clock)
            if cuts is not None and soundtrack[0] is not None:
                duration = snap(start, duration, soundtrack, cuts)
            track = TrackLayout(len(tracks), item, idents[id(item)], scene_title(item), Fraction(0),
                                duration, beats, actions, flow_at=flow_at, clock=clock)
        elif isinstance(item, ir.Credits):
            credits_n += 1
            ident = "credits" if credits_n == 1 else f"credits ({credits_n})"
            track = TrackLayout(len(tracks), item, ident, "CREDITS" + (f" {item.alphabet}" if item.alphabet else ""),
                                Fraction(0), credits_duration(ctx, item))
        else:
            continue
        if tracks:
            prev = tracks[-1]
            track.start = prev.end
            if pending_overlap is not None:
                kind, d = pending_overlap
                if cuts is not None and d > min(prev.duration, track.duration) and pending_node is not None:
                    ledger.warn(error("E706", f"on the {cuts} grid a scene is shorter than this transition "
                                              f"({float(min(prev.duration, track.duration)):.2f}s < {float(d):g}s)",
                                      pending_node.span, "shorten the transition, or lengthen the scene by a "
                                      f"{cuts} or more"))
                d = min(d, prev.duration, track.duration)  # longer is an error (checker)
                track.start = prev.end - d
                if d > 0:
                    overlaps.append(OverlapLayout(kind, prev.index, track.index, d))
        track.fade_in = min(pending_fade_in, track.duration)
        track.fade_in_white = pending_white
        pending_fade_in, pending_white = Fraction(0), False
        pending_overlap = None
        tracks.append(track)
    assign_spans(tracks)
    return Layout(tracks, overlaps)
