"""The resolved film: scenes, beats, lines, action lines and overlaps placed on the timeline.

Frozen values (tuples, not lists): the planner, the exporters and the language server read one
resolved film and none of them can change it for the others.

What :func:`nyeshc.resolve.timeline.layout` returns and :mod:`nyeshc.plan.graph` reads: every
element in exact scene time (Fractions of a second; a line's offset and length in samples at
``SAMPLE_RATE``), each scene's directives typed (:mod:`nyeshc.resolve.directives`), the title
page's soundtrack, subtitles and ducking, and how much of each music cue the film plays.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction

from nyeshc import ir
from nyeshc.resolve.definitions import Voice
from nyeshc.resolve.directives import Directive, Fades, Roll, Soundtrack
from nyeshc.resolve.values import Clock
from nyeshc.schema import DEFAULT_DUCK_DB


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class Sing:
    """``sings CUE``: ``source_offset`` samples into the cue, ``samples`` long (None: to the
    beat span's end), at ``offset`` samples into the beat's track."""

    cue: str
    offset: int
    source_offset: int
    samples: int | None
    node: ir.Action | None = None


@dataclass(frozen=True, slots=True)
class BeatLayout:
    beat: ir.Beat
    character: str
    number: int  # the character's n-th beat in the scene
    at: Fraction  # scene-relative start
    lines: tuple[Line, ...]
    sings: tuple[Sing, ...]
    audio: int  # samples of timed content (lines, pauses, timed sings)
    shot: str
    side: str
    end: Fraction | None = None  # scene-relative end of the span (set after the scene's length)
    flow: bool = False  # placed by the flow (no ``at``)
    offscreen: bool = False  # ``(V.O.)``, ``(O.S.)``…: heard, not seen


@dataclass(frozen=True, slots=True)
class ActionLayout:
    """An action line in the flow: ``at`` and ``length`` in scene seconds; drawn when ``show``
    (its text as said, where ``position`` says, with ``fades``)."""

    line: ir.ActionLine
    at: Fraction
    length: Fraction
    show: bool
    position: str
    text: str = ""
    fades: Fades = Fades()


@dataclass(frozen=True, slots=True)
class TrackLayout:
    """A scene or the credits on the timeline (exact seconds)."""

    index: int
    item: ir.Scene | ir.Credits
    identity: str  # the scene's name-path head, e.g. "scene 1"
    title: str
    start: Fraction
    duration: Fraction
    beats: tuple[BeatLayout, ...] = ()
    actions: tuple[ActionLayout, ...] = ()
    directives: tuple[Directive, ...] = ()  # typed, in the order written
    place: tuple[str, str] | None = None  # a Fountain heading's place and time, for a scene with no backdrop
    roll: Roll | None = None  # the credits' roll
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


@dataclass(frozen=True, slots=True)
class OverlapLayout:
    kind: str  # "crossfade" | "morph"
    a: int
    b: int
    duration: Fraction


@dataclass(frozen=True, slots=True)
class Layout:
    """The resolved film: its tracks on the timeline, their overlaps, and the title page's
    soundtrack, subtitles and ducking, read once."""

    tracks: tuple[TrackLayout, ...]
    overlaps: tuple[OverlapLayout, ...]
    soundtrack: Soundtrack | None = None
    subtitles: tuple[str, str | None] | None = None  # ("plain", None) | ("alphabet", NAME) | None: off
    duck_db: float = float(DEFAULT_DUCK_DB)
    music_need: Mapping[str, Fraction] = field(default_factory=dict)  # seconds of each cue the film plays

    @property
    def duration(self) -> Fraction:
        return max((t.end for t in self.tracks), default=Fraction(0))
