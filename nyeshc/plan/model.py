"""The Plan: the contract between planning, execution and rendering.

A :class:`Plan` is a :class:`Timeline` (what appears and sounds when, in integer frames and
integer samples) plus a job graph (:class:`Job`: one model invocation each, with a content key).
Everything here is frozen, plain data; :func:`nyeshc.ir.to_json` prints it.

Time: the timeline counts video in integer frames at ``fps`` and audio in integer samples at
``SAMPLE_RATE`` (48 kHz). Frame ``f`` starts at sample ``f * SAMPLE_RATE / fps`` exactly
(``fps`` is a Fraction); the planner rounds each boundary once, so nothing drifts.

Artifacts: layers and clips refer to job outputs by key (``Job.key``). What a key's artifact
is depends on the job's ``output``:

* ``"image"`` — ``uint8 (H, W, 3|4)``
* ``"frames"`` — ``uint8 (N, H, W, 3|4)`` (stored raw so the compositor can memory-map it)
* ``"audio"`` — ``float32 (N, C)`` at 48 kHz
* ``"latent"`` — ``float32 (D,)``
* ``"portrait"`` — a :class:`nyeshc.backends.base.Portrait`
* ``"alphabet"`` — a :class:`nyeshc.backends.base.Alphabet`
* ``"rig"`` — a :class:`nyeshc.backends.base.RigState` (a motion backend's set-up for one portrait)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal

SEGMENT_SECONDS = 4
"""A scene's frames are cut into segments of at most this many seconds, at fixed multiples from
the scene's start (:mod:`nyeshc.render.segments`); a segment's key holds only the layers shown
during it. An edit that changes a beat late in a scene re-renders the segments that beat is
shown in, not the scene. The planner splits a long lip-sync on these cuts where it can, so its
parts add no segment."""



def segment_frames(fps: Fraction) -> int:
    """``SEGMENT_SECONDS`` in frames at ``fps`` (at least one): the step of the segment cuts."""
    return max(1, round(SEGMENT_SECONDS * fps))


PIECE_SECONDS = 1
"""The finer grid (from a scene's start) the render cuts a segment on inside its 4 s cell, and
the shortest piece it cuts: a layer edge on this grid is cut at first (a beat's idle hold, drawn
in pieces on it: docs/dev/jobs.md), other layer edges where they are this far from every cut."""


def piece_frames(fps: Fraction) -> int:
    """``PIECE_SECONDS`` in frames at ``fps`` (at least one)."""
    return max(1, round(PIECE_SECONDS * fps))


Position = Literal["top", "center", "bottom", "left", "right"]
Shot = Literal["close-up", "medium", "wide"]
Side = Literal["left", "center", "right"]
Ease = Literal["linear", "smooth"]
Output = Literal["image", "frames", "audio", "latent", "portrait", "alphabet", "rig"]


# --------------------------------------------------------------------------- jobs


@dataclass(frozen=True, slots=True)
class Job:
    """One invocation: ``kind`` names the operation the executor performs
    (``"image.sample"``, ``"morph.render"``, ``"voice.speak"``, …), ``backend`` the backend id
    that performs it (``""`` for built-in operations such as decoding an asset), ``params`` its
    JSON arguments, ``inputs`` the keys of the jobs whose artifacts it reads (in order).

    ``key`` is the SHA-256 of the canonical JSON of everything that determines the output:
    kind, backend id + version + settings, params, input keys and seed (never the name path or
    the estimates, so renaming nothing changes nothing).
    """

    key: str
    kind: str
    backend: str
    backend_version: str
    settings: dict[str, Any]
    params: dict[str, Any]
    inputs: tuple[str, ...]
    seed: int
    output: Output
    name: str  # the element's name path, e.g. "character NARRATOR / portrait"
    scene: int | None = None  # index of the scene that owns the job (None: film-wide)
    cost_seconds: float = 0.0  # the backend's cost-model estimate
    device: Literal["cpu", "gpu"] = "cpu"

    @property
    def continues_beat(self) -> bool:
        """A later section or part of a beat's lip-sync (its ``phase`` or ``first`` frame is past
        the beat's start: docs/dev/jobs.md, "Sections and parts of a beat"): the beat goes on
        where this job's layer starts."""
        return int(self.params.get("first", 0) or 0) > 0 or int(self.params.get("phase", 0) or 0) > 0


# --------------------------------------------------------------------------- video layers


@dataclass(frozen=True, slots=True)
class Fade:
    """Opacity ramps in frames, relative to the layer's own start and end."""

    fade_in: int = 0
    fade_out: int = 0


@dataclass(frozen=True, slots=True)
class Box:
    """Where a layer sits on the canvas, in canvas pixels (may extend outside the canvas)."""

    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class StillLayer:
    """A backdrop image (``image`` artifact, rendered larger than the canvas by ``overscan``)
    with a Ken Burns move: zoom through the stops of ``zoom`` (two or more; geometric between
    stops, which are spread evenly over the layer's eased progress; below 1 the picture shrinks
    inside black) and an optional pan, eased."""

    start: int
    end: int
    artifact: str
    zoom: tuple[float, ...] = (1.0, 1.0)
    pan: Literal["left", "right", "up", "down"] | None = None
    ease: Ease = "smooth"
    fade: Fade = Fade()
    box: Box | None = None  # None: fill the canvas
    kind: Literal["still"] = "still"


@dataclass(frozen=True, slots=True)
class SequenceLayer:
    """A frame sequence (``frames`` artifact): a morph, a ``show`` video, an animated portrait.

    Frame ``start + i`` shows sequence frame ``offset + i`` (held on the last frame when the
    sequence is shorter; looped when ``loop``). ``box`` None fills the canvas (cover-fit);
    RGBA sequences are alpha-composited. ``zoom``, ``pan`` and ``ease`` move a camera over the
    frames as over a :class:`StillLayer` (a morph or a ``show`` with a Ken Burns move).
    """

    start: int
    end: int
    artifact: str
    offset: int = 0
    loop: bool = False
    fade: Fade = Fade()
    box: Box | None = None
    role: Literal["morph", "video", "portrait"] = "video"
    zoom: tuple[float, ...] = (1.0, 1.0)
    pan: Literal["left", "right", "up", "down"] | None = None
    ease: Ease = "smooth"
    kind: Literal["sequence"] = "sequence"


@dataclass(frozen=True, slots=True)
class TextLayer:
    """A caption, subtitle, shown action line or credits roll: an ``image`` artifact
    (straight-alpha RGBA text).

    ``position`` places it; ``roll`` scrolls it from below the canvas to above over its span
    (credits)."""

    start: int
    end: int
    artifact: str
    position: Position = "bottom"
    fade: Fade = Fade()
    roll: bool = False
    role: Literal["caption", "subtitle", "credits"] = "caption"
    row: int = 0  # subtitles on screen together stack: row 1 sits above row 0
    kind: Literal["text"] = "text"


Layer = StillLayer | SequenceLayer | TextLayer


@dataclass(frozen=True, slots=True)
class SceneTrack:
    """One scene (or the credits) on the film's timeline, in absolute frames ``[start, end)``.

    ``layers`` are drawn bottom to top, their times absolute. ``fade_in``/``fade_out`` are
    frames of fade from/to black at the scene's start/end (``FADE IN``, ``FADE OUT``,
    ``FADE TO BLACK``); they darken within the scene and add no time."""

    index: int
    title: str
    start: int
    end: int
    layers: tuple[Layer, ...]
    fade_in: int = 0
    fade_out: int = 0
    key: str = ""  # content key of the scene's rendered segment (see DESIGN: segments)
    fade_in_white: bool = False  # ``FADE TO WHITE``: the fade is from / to white, not black
    fade_out_white: bool = False


@dataclass(frozen=True, slots=True)
class Overlap:
    """A ``CROSSFADE TO``/``MORPH TO`` between scene ``a`` and scene ``b``: frames
    ``[start, end)`` show both, ``b`` fading in over ``a``. For a morph, ``morph`` is the key
    of a ``frames`` artifact (``end - start`` frames) that replaces both backdrops."""

    kind: Literal["crossfade", "morph"]
    a: int
    b: int
    start: int
    end: int
    morph: str | None = None


# --------------------------------------------------------------------------- audio


@dataclass(frozen=True, slots=True)
class AudioClip:
    """A sound placed on the film: samples ``[offset, offset + length)`` of the ``audio``
    artifact play from absolute sample ``start``. Gains in dB, fades in samples. ``duck``:
    lowered by the header's duck under dialogue (music and soundtrack)."""

    start: int
    length: int
    artifact: str
    offset: int = 0
    gain_db: float = 0.0
    fade_in: int = 0
    fade_out: int = 0
    duck: bool = False
    loop: bool = False
    role: Literal["music", "sound", "dialogue", "video"] = "music"
    name: str = ""


@dataclass(frozen=True, slots=True)
class Subtitle:
    """A dialogue line's text on screen, seconds as exact fractions (SRT/VTT)."""

    start: Fraction
    end: Fraction
    text: str
    character: str


# --------------------------------------------------------------------------- the plan


@dataclass(frozen=True, slots=True)
class Timeline:
    width: int
    height: int
    fps: Fraction
    frames: int  # total frames of the film
    sample_rate: int
    samples: int  # total samples of the film (= frames * sample_rate / fps, rounded once)
    scenes: tuple[SceneTrack, ...]
    overlaps: tuple[Overlap, ...]
    audio: tuple[AudioClip, ...]
    subtitles: tuple[Subtitle, ...]
    duck_db: float = -8.0
    loudness_lufs: float = -16.0

    @property
    def duration(self) -> Fraction:
        return Fraction(self.frames) / self.fps

    def frame_to_sample(self, frame: int) -> int:
        return round(Fraction(frame) * self.sample_rate / self.fps)


@dataclass(frozen=True, slots=True)
class Plan:
    timeline: Timeline
    jobs: tuple[Job, ...]  # topologically ordered: a job comes after its inputs
    seeds: dict[str, int] = field(default_factory=dict)  # name path → derived seed
    backends: dict[str, dict[str, Any]] = field(default_factory=dict)  # modality → {id, version, settings}
    grids: dict[str, dict[str, Any]] = field(default_factory=dict)  # music cue (or recording) → its grid

    def job(self, key: str) -> Job:
        for j in self.jobs:
            if j.key == key:
                return j
        raise KeyError(key)
