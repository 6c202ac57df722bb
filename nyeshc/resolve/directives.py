"""Typed directives: each scene directive and title-page cue read once, into fields.

A scene's ``backdrop:``, ``show:``, ``caption:``, ``music:`` and ``sound:`` become a
:class:`Backdrop`, :class:`Show`, :class:`Caption` or :class:`Cue` with its time already
placed on the scene's timeline (``at``/``for``, a range, ``at flow``, a time on the music's
grid) and every option it takes read here, with the schema's defaults applied; the planner reads
their fields and never an option by its name. The ``soundtrack`` of the title page becomes a
:class:`Soundtrack`. A directive the planner does not know is not made (the audit then reports
it: ``E702``).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from nyeshc import ir
from nyeshc.resolve import ledger
from nyeshc.resolve.values import (
    Clock,
    db,
    flag,
    num,
    opt_seconds,
    opt_value,
    option,
    spoken,
    timing,
)

PAN_MARGIN = Fraction(11, 10)
"""A pan's picture is made this much larger than its box, so the move never runs out of pixels."""
POSITIONS = ("top", "center", "bottom", "left", "right")


@dataclass(frozen=True, slots=True)
class Fades:
    """``fade in D`` and ``fade out D`` (seconds; 0 when not written)."""

    fade_in: Fraction = Fraction(0)
    fade_out: Fraction = Fraction(0)

    @classmethod
    def of(cls, options: tuple[ir.Option, ...], fps: Fraction) -> Fades:
        return cls(opt_seconds(options, "fade in", fps) or Fraction(0),
                   opt_seconds(options, "fade out", fps) or Fraction(0))


@dataclass(frozen=True, slots=True)
class Camera:
    """A Ken Burns move: zoom stops (geometric between stops, spread evenly over the element),
    a pan and the ease of both."""

    zooms: tuple[Fraction, ...] = (Fraction(1), Fraction(1))
    pan: str | None = None
    ease: str = "smooth"

    @classmethod
    def of(cls, options: tuple[ir.Option, ...]) -> Camera:
        """``zoom a -> b [-> c…]`` (or one number), ``pan D`` and ``ease E`` of a backdrop or a
        video."""
        zoom_v = opt_value(options, "zoom")
        zooms: tuple[Fraction, ...] = (Fraction(1), Fraction(1))
        if isinstance(zoom_v, ir.Ramp):
            stops = [z for z in (num(x) for x in zoom_v.stops) if z is not None and z > 0]
            if len(stops) == 1:
                zooms = (stops[0], stops[0])
            elif stops:
                zooms = tuple(stops)
        elif (z := num(zoom_v)) is not None and z > 0:
            zooms = (z, z)
        pan_v = opt_value(options, "pan")
        pan = pan_v.word if isinstance(pan_v, ir.Word) and pan_v.word in ("left", "right", "up", "down") else None
        ease = opt_value(options, "ease")
        ease_w = ease.word if isinstance(ease, ir.Word) and ease.word in ("linear", "smooth") else "smooth"
        return cls(zooms, pan, ease_w)

    @property
    def factor(self) -> Fraction:
        """How much larger than its box the picture is made so the move never runs out of
        pixels (the largest zoom, times a pan's margin)."""
        return max(Fraction(1), *self.zooms) * (PAN_MARGIN if self.pan else 1)

    def layer_fields(self) -> dict[str, Any]:
        return {"zoom": tuple(float(z) for z in self.zooms), "pan": self.pan, "ease": self.ease}


@dataclass(frozen=True, slots=True)
class Directive:
    """A scene directive: the ``n``-th of its key in the scene, at ``at`` seconds of the scene
    lasting ``dur`` (None: to the scene's end)."""

    node: ir.Property
    n: int
    at: Fraction
    dur: Fraction | None


@dataclass(frozen=True, slots=True)
class Backdrop(Directive):
    """``backdrop: VALUE``: a look, a seed, a picture file or a morph (the value as written:
    what it stands for is the planner's, which knows the looks' latents)."""

    value: ir.Value | None
    fades: Fades
    camera: Camera


@dataclass(frozen=True, slots=True)
class Show(Directive):
    """``show: "clip.mp4"``: a video from ``source_from`` seconds of the file, full frame or an
    inset where ``position`` says (empty: full frame); its own sound at ``gain_db``."""

    path: ir.Str
    source_from: Fraction
    camera: Camera
    position: frozenset[str]
    gain_db: float
    fades: Fades


@dataclass(frozen=True, slots=True)
class Caption(Directive):
    """``caption: "text"`` (plain type) or ``caption: ALPHABET "text"`` (its glyphs)."""

    text: str
    alphabet: str | None
    position: str
    fades: Fades


@dataclass(frozen=True, slots=True)
class Playing:
    """What a cue plays and how: a cue by name or a recording (anything else plays nothing:
    ``E702``), from ``source_from`` seconds of it, at ``gain_db``, with its fades."""

    value: ir.Value | None
    source_from: Fraction
    gain_db: float
    fades: Fades

    @classmethod
    def of(cls, value: ir.Value | None, options: tuple[ir.Option, ...], fps: Fraction) -> Playing:
        return cls(value, opt_seconds(options, "from", fps) or Fraction(0), db(opt_value(options, "gain")),
                   Fades.of(options, fps))

    @property
    def what(self) -> str:
        v = self.value
        return v.word if isinstance(v, ir.Word) else v.text if isinstance(v, ir.Str) else "?"


@dataclass(frozen=True, slots=True)
class Cue(Directive):
    """``music: CUE`` (ducked under dialogue) or ``sound: "file.wav"``."""

    kind: str  # "music" | "sound"
    sound: Playing


@dataclass(frozen=True, slots=True)
class Soundtrack:
    """The title page's ``soundtrack: CUE``: plays under the whole film."""

    node: ir.Property
    sound: Playing


@dataclass(frozen=True, slots=True)
class Roll:
    """The credits' roll: its lines as one text, in plain type or an alphabet's glyphs."""

    text: str
    alphabet: str | None
    fades: Fades


def directive_timing(d: ir.Property, fps: Fraction, flow_at: dict[int, Fraction] | None = None,
                     clock: Clock | None = None) -> tuple[Fraction, Fraction | None]:
    """A directive's ``(at, for)``: as :func:`~nyeshc.resolve.values.timing`, and ``at flow`` is
    where the scene's flow stood at the directive's line (``flow_at``, by the directive's id)."""
    at, dur = timing(d.options, fps, clock)
    o = option(d.options, "at")
    if o is not None and isinstance(o.value, ir.Word) and o.value.word == "flow":
        at = (flow_at or {}).get(id(d), Fraction(0))
    return at, dur


def directive(d: ir.Property, n: int, fps: Fraction, flow_at: dict[int, Fraction],
              clock: Clock | None) -> Directive | None:
    """The typed form of scene directive ``d`` (the ``n``-th of its key in the scene); None for
    one the planner cannot place (an unknown key, a value of the wrong kind: the audit reports
    it)."""
    if d.key not in ("backdrop", "show", "caption", "music", "sound"):
        return None
    if d.key == "show" and not isinstance(d.value, ir.Str):
        return None
    at, dur = directive_timing(d, fps, flow_at, clock)
    if d.key == "backdrop":
        return Backdrop(d, n, at, dur, d.value, Fades.of(d.options, fps), Camera.of(d.options))
    if d.key == "show":
        assert isinstance(d.value, ir.Str)
        given = frozenset(o.key for o in d.options if o.value is None and o.key in POSITIONS)
        for o in d.options:
            if o.value is None and o.key in given:
                ledger.note_read(o)  # the inset's corner
        return Show(d, n, at, dur, d.value, opt_seconds(d.options, "from", fps) or Fraction(0),
                    Camera.of(d.options), given, db(opt_value(d.options, "gain")),
                    Fades.of(d.options, fps))
    if d.key == "caption":
        if isinstance(d.value, ir.Styled):
            alphabet, text = d.value.alphabet.word, d.value.text.text
        elif isinstance(d.value, ir.Str):
            alphabet, text = None, spoken(d.value.text)
        else:
            return None
        return Caption(d, n, at, dur, text, alphabet, flag(d.options, POSITIONS, "bottom"),
                       Fades.of(d.options, fps))
    if not isinstance(d.value, (ir.Word, ir.Str)):
        return None
    return Cue(d, n, at, dur, d.key, Playing.of(d.value, d.options, fps))


def soundtrack(film: ir.Film, fps: Fraction) -> Soundtrack | None:
    """The title page's soundtrack, typed; None when there is none."""
    st = film.header.get("soundtrack")
    if st is None:
        return None
    return Soundtrack(st, Playing.of(st.value, st.options, fps))


def roll(credits: ir.Credits, fps: Fraction) -> Roll:
    return Roll("\n".join(spoken(line.text) for line in credits.lines), credits.alphabet,
                Fades.of(credits.options, fps))
