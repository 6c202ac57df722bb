"""The IR: frozen, slotted dataclasses with source spans, named after the grammar's rules.

Lowering (``nyeshc.syntax.lower``) builds these from the syntax tree and validates nothing;
the checker (``nyeshc.check``) judges them; the planner reads them. Values stay close to what
the writer wrote (``Word("lipsync")``, ``Time(2, "s")``); meaning is given by the checker and
the planner, so an unknown word survives lowering and gets a diagnostic with a suggestion.

Numbers are exact ``Fraction``s, never floats: times must not drift.

:func:`to_json` is the canonical JSON form (sorted keys, Fractions as strings) used for
snapshots and, with ``spans=False``, for parse-equality and cache keys.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal, Union

from nyeshc.diagnostics import Span

NO_SPAN = Span("", 0, 0)

# --------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class Str:
    """A string literal; ``triple`` for ``\"\"\"…\"\"\"`` (common indentation already stripped)."""

    text: str
    span: Span = NO_SPAN
    triple: bool = False


@dataclass(frozen=True, slots=True)
class Num:
    value: Fraction
    span: Span = NO_SPAN
    raw: str = ""


@dataclass(frozen=True, slots=True)
class Time:
    """``amount`` seconds (``unit="s"``; ``500ms`` and ``1:30`` are stored in seconds) or
    ``amount`` frames (``unit="f"``)."""

    amount: Fraction
    unit: Literal["s", "f"] = "s"
    span: Span = NO_SPAN
    raw: str = ""

    def seconds(self, fps: Fraction) -> Fraction:
        return self.amount if self.unit == "s" else self.amount / fps


@dataclass(frozen=True, slots=True)
class Gain:
    db: Fraction
    span: Span = NO_SPAN
    raw: str = ""


@dataclass(frozen=True, slots=True)
class Percent:
    value: Fraction
    span: Span = NO_SPAN
    raw: str = ""


@dataclass(frozen=True, slots=True)
class Colour:
    hex: str  # "#rrggbb", lower case
    span: Span = NO_SPAN

    @property
    def rgb(self) -> tuple[int, int, int]:
        h = self.hex.lstrip("#")
        return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


@dataclass(frozen=True, slots=True)
class Size:
    width: int
    height: int
    span: Span = NO_SPAN


@dataclass(frozen=True, slots=True)
class Rate:
    fps: Fraction
    span: Span = NO_SPAN
    raw: str = ""


@dataclass(frozen=True, slots=True)
class Tempo:
    """``72bpm``: beats a minute."""

    bpm: Fraction
    span: Span = NO_SPAN
    raw: str = ""


@dataclass(frozen=True, slots=True)
class Meter:
    """``3/4``: beats a bar over the note value of a beat."""

    beats: int
    unit: int
    span: Span = NO_SPAN
    raw: str = ""


@dataclass(frozen=True, slots=True)
class GridTime:
    """A time on a music cue's grid: ``bar 5`` / ``beat 17`` (a point: ``point=True``, counted
    from 1) or ``2 bars`` / ``3 beats`` (a length). ``unit`` is ``bar`` or ``beat``."""

    unit: Literal["bar", "beat"]
    count: Fraction
    point: bool
    span: Span = NO_SPAN


GRID_UNITS = {"bar": "bar", "bars": "bar", "beat": "beat", "beats": "beat"}


@dataclass(frozen=True, slots=True)
class Word:
    """A bare name: a keyword the property defines (``lipsync``) or a reference (``THEME``)."""

    word: str
    span: Span = NO_SPAN


@dataclass(frozen=True, slots=True)
class Seed:
    """``seed N`` inside ``morph`` and ``blend``: a generated latent."""

    value: int
    span: Span = NO_SPAN


@dataclass(frozen=True, slots=True)
class Range:
    """``lo..hi`` for times (``2s..8s``) or numbers (``2..5``)."""

    lo: Value
    hi: Value
    span: Span = NO_SPAN


@dataclass(frozen=True, slots=True)
class Ramp:
    """``a -> b`` (``zoom 1.0 -> 1.15``)."""

    stops: tuple[Value, ...]
    span: Span = NO_SPAN


@dataclass(frozen=True, slots=True)
class Morph:
    """``morph A -> seed 17 -> B``: a latent path through looks and seeds."""

    stops: tuple[Value, ...]
    span: Span = NO_SPAN


@dataclass(frozen=True, slots=True)
class Call:
    """``name(args…)``; ``blend(seed 5, seed 23, 0.35)`` is the one the language defines."""

    name: str
    args: tuple[Value, ...]
    span: Span = NO_SPAN


@dataclass(frozen=True, slots=True)
class Driven:
    """``driven "performance.mp4"``"""

    path: Str
    span: Span = NO_SPAN


@dataclass(frozen=True, slots=True)
class Styled:
    """``NYESH "text"``: text set in an alphabet."""

    alphabet: Word
    text: Str
    span: Span = NO_SPAN


@dataclass(frozen=True, slots=True)
class Phrase:
    """Several atoms side by side that no rule above gives a meaning (kept for diagnostics)."""

    items: tuple[Value, ...]
    span: Span = NO_SPAN


Value = Union[Str, Num, Time, Gain, Percent, Colour, Size, Rate, Tempo, Meter, GridTime, Word, Seed, Range, Ramp,
              Morph, Call, Driven, Styled, Phrase]

# --------------------------------------------------------------------------- properties


@dataclass(frozen=True, slots=True)
class Option:
    """``, key value`` after a property's value; ``key`` is ``None`` for a bare value
    (``, 24fps``) and ``value`` is ``None`` for a flag (``, bottom``)."""

    key: str | None
    value: Value | None
    span: Span = NO_SPAN
    key_span: Span = NO_SPAN


@dataclass(frozen=True, slots=True)
class Property:
    """``key: value, option…`` in a header, a definition or a scene (a directive)."""

    key: str
    value: Value | None
    options: tuple[Option, ...] = ()
    span: Span = NO_SPAN
    key_span: Span = NO_SPAN


Directive = Property
"""A scene directive (``backdrop``, ``music``, ``sound``, ``caption``, ``show``) is a property."""


@dataclass(frozen=True, slots=True)
class Note:
    """A Fountain note ``[[ … ]]``: kept and exported, never rendered."""

    text: str
    span: Span = NO_SPAN


# --------------------------------------------------------------------------- definitions


@dataclass(frozen=True, slots=True)
class Include:
    path: Str
    span: Span = NO_SPAN


@dataclass(frozen=True, slots=True)
class AlphabetDef:
    name: str
    props: tuple[Property, ...]
    span: Span = NO_SPAN
    name_span: Span = NO_SPAN
    notes: tuple[Note, ...] = ()
    kind = "alphabet"


@dataclass(frozen=True, slots=True)
class LookDef:
    name: str
    props: tuple[Property, ...]
    span: Span = NO_SPAN
    name_span: Span = NO_SPAN
    notes: tuple[Note, ...] = ()
    kind = "look"


@dataclass(frozen=True, slots=True)
class CharacterDef:
    name: str
    props: tuple[Property, ...]
    span: Span = NO_SPAN
    name_span: Span = NO_SPAN
    notes: tuple[Note, ...] = ()
    kind = "character"


@dataclass(frozen=True, slots=True)
class MusicDef:
    name: str
    props: tuple[Property, ...]
    span: Span = NO_SPAN
    name_span: Span = NO_SPAN
    notes: tuple[Note, ...] = ()
    kind = "music"


@dataclass(frozen=True, slots=True)
class UnknownDef:
    """A definition whose kind word is not one of the language's (reported by the checker)."""

    keyword: str
    name: str
    props: tuple[Property, ...]
    span: Span = NO_SPAN
    name_span: Span = NO_SPAN
    notes: tuple[Note, ...] = ()
    kind = "unknown"


Definition = Union[AlphabetDef, LookDef, CharacterDef, MusicDef, UnknownDef]
DEFINITION_KINDS: dict[str, type] = {
    "alphabet": AlphabetDef,
    "look": LookDef,
    "character": CharacterDef,
    "music": MusicDef,
}

# --------------------------------------------------------------------------- scenes


@dataclass(frozen=True, slots=True)
class Parenthetical:
    """``(softly)``; ``(pause 1s)`` sets ``pause``."""

    text: str
    pause: Time | None = None
    span: Span = NO_SPAN


@dataclass(frozen=True, slots=True)
class Dialogue:
    text: Str
    options: tuple[Option, ...] = ()
    span: Span = NO_SPAN


@dataclass(frozen=True, slots=True)
class Action:
    """``sings THEME, from 12s, for 20s`` (``verb`` ``sings``, ``target`` ``Word("THEME")``)."""

    verb: str
    target: Value | None
    options: tuple[Option, ...] = ()
    span: Span = NO_SPAN


BeatLine = Union[Parenthetical, Dialogue, Action, Note]


@dataclass(frozen=True, slots=True)
class Beat:
    """A character's cue and block: ``NARRATOR, at 2s:`` then parentheticals, lines, actions.

    ``extension`` is the cue's parenthesised extension as written, without the parentheses
    (``V.O.``, ``O.S.``, ``CONT'D``), or None; ``dual`` is a ``^`` after the name (dual
    dialogue: the beat starts with the one before it)."""

    character: str
    options: tuple[Option, ...]
    lines: tuple[BeatLine, ...]
    span: Span = NO_SPAN
    name_span: Span = NO_SPAN
    extension: str | None = None
    extension_span: Span = NO_SPAN
    dual: bool = False
    dual_span: Span = NO_SPAN


@dataclass(frozen=True, slots=True)
class Heading:
    """``SCENE 1 "Ruins"`` (``style="scene"``) or ``INT. CATHEDRAL - NIGHT`` (``style="fountain"``)."""

    style: Literal["scene", "fountain"]
    number: str | None
    title: str
    span: Span = NO_SPAN


@dataclass(frozen=True, slots=True)
class ActionLine:
    """A screenplay's action paragraph: a string on its own line in a scene,
    ``"The keeper climbs the stairs."`` (options: ``show``, a position, ``at``, ``for``).
    It takes reading time in the scene's flow; it is drawn only with ``show`` (or the header's
    ``action: show``)."""

    text: Str
    options: tuple[Option, ...] = ()
    span: Span = NO_SPAN


SceneItem = Union[Property, Beat, ActionLine, Note]


@dataclass(frozen=True, slots=True)
class Scene:
    heading: Heading
    duration: Time | None
    options: tuple[Option, ...]
    items: tuple[SceneItem, ...]
    span: Span = NO_SPAN

    @property
    def directives(self) -> tuple[Property, ...]:
        return tuple(i for i in self.items if isinstance(i, Property))

    @property
    def beats(self) -> tuple[Beat, ...]:
        return tuple(i for i in self.items if isinstance(i, Beat))


@dataclass(frozen=True, slots=True)
class Transition:
    """``CROSSFADE TO: 1s``; ``kind`` is the words without the colon (``"CROSSFADE TO"``)."""

    kind: str
    duration: Time | None
    span: Span = NO_SPAN
    extra: tuple[Value, ...] = ()


@dataclass(frozen=True, slots=True)
class Credits:
    alphabet: str | None
    duration: Time | None
    options: tuple[Option, ...]
    lines: tuple[Str, ...]
    span: Span = NO_SPAN
    alphabet_span: Span = NO_SPAN
    notes: tuple[Note, ...] = ()


BodyItem = Union[Scene, Transition, Credits, Note]

# --------------------------------------------------------------------------- film


@dataclass(frozen=True, slots=True)
class Header:
    fields: tuple[Property, ...] = ()

    def get(self, key: str) -> Property | None:
        for f in self.fields:
            if f.key == key:
                return f
        return None


@dataclass(frozen=True, slots=True)
class Film:
    """One parsed file. ``definitions`` holds this file's own definitions; after
    :func:`nyeshc.syntax.load` they also include those of included files (each keeping the
    span of its own file), so later stages see one flat namespace."""

    path: str
    header: Header
    includes: tuple[Include, ...]
    definitions: tuple[Definition, ...]
    body: tuple[BodyItem, ...]
    notes: tuple[Note, ...] = ()
    span: Span = NO_SPAN

    @property
    def scenes(self) -> tuple[Scene, ...]:
        return tuple(i for i in self.body if isinstance(i, Scene))

    def defs(self, kind: str) -> dict[str, Definition]:
        """Definitions of ``kind`` by name (the first wins; duplicates are the checker's)."""
        out: dict[str, Definition] = {}
        for d in self.definitions:
            if d.kind == kind and d.name not in out:
                out[d.name] = d
        return out


Node = Any

# --------------------------------------------------------------------------- JSON


def written_timing(options: tuple[Option, ...]) -> tuple[Option | None, Option | None, Range | None]:
    """Where an element is placed, as written (LANGUAGE.md, "Time semantics"): its ``at`` option,
    its ``for`` option and the last bare range of two times (``2s..5s``), which places it instead
    of both. The one statement of that rule: the checker reads written times with it, the resolve
    stage also times on the music's grid and ``at flow``."""
    at = next((o for o in options if o.key == "at"), None)
    length = next((o for o in options if o.key == "for"), None)
    rng = None
    for o in options:
        if o.key is None and isinstance(o.value, Range) and isinstance(o.value.lo, Time) \
                and isinstance(o.value.hi, Time):
            rng = o.value
    return at, length, rng


def _encode(obj: Any, spans: bool) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        if isinstance(obj, Span):
            return obj.to_json()
        out: dict[str, Any] = {"type": type(obj).__name__}
        for f in dataclasses.fields(obj):
            if not spans and (f.name == "span" or f.name.endswith("_span") or f.name == "raw"):
                continue
            out[f.name] = _encode(getattr(obj, f.name), spans)
        return out
    if isinstance(obj, Fraction):
        return str(obj)
    if isinstance(obj, (list, tuple)):
        return [_encode(x, spans) for x in obj]
    if isinstance(obj, dict):
        return {str(k): _encode(v, spans) for k, v in obj.items()}
    return obj


def to_data(node: Any, *, spans: bool = True) -> Any:
    """Plain JSON-able data for ``node`` (dataclasses → dicts with a ``type`` key)."""
    return _encode(node, spans)


def to_json(node: Any, *, spans: bool = True, indent: int | None = 2) -> str:
    """Canonical JSON: sorted keys, exact numbers as strings, stable across runs."""
    return json.dumps(_encode(node, spans), sort_keys=True, indent=indent, ensure_ascii=False,
                      separators=(",", ": ") if indent else (",", ":"))
