"""The language's vocabulary as data: header fields, definitions, directives, options, transitions.

The grammar is loose (a property is ``key: value, option…``); this module says which keys,
values and options mean something, what each value may look like, which options have an effect
where, and the defaults and limits. The checker (:mod:`nyeshc.check`) judges a script against
it; the planner reads the same tables for defaults, so the two never disagree.

Everything here is declarative and frozen. A property's value matches one of its
:class:`Form`\\ s (``generate``, a ``"file.png"``, ``blend(…)``, a reference to a definition…);
each form lists the options that have an effect with it. An option a property accepts in another
form, or a scene option another directive uses, is *inert* here (a warning, W210); any other
option is unknown (an error, E202).

>>> DEFINITIONS["look"]["image"].required
True
>>> [f.describe for f in DEFINITIONS["character"]["voice"].forms]
['asemic', 'tts', 'a recording "voice.wav"']
>>> TRANSITIONS["CROSSFADE TO"].duration
'optional'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Literal

DefKind = Literal["alphabet", "look", "character", "music"]
AssetKind = Literal["image", "audio", "video"]

# What an option's value (or a bare value after a property) must be.
ValueKind = Literal[
    "flag",        # no value: ``bottom``
    "time",        # ``2s``, ``48f``, ``1:30``
    "time_range",  # ``2s..8s`` (a bare value)
    "rate",        # ``24fps`` (a bare value)
    "number",      # ``0.7``
    "count",       # a whole number ``28``
    "gain",        # ``-3dB``
    "string",      # ``"ambient"``
    "path",        # ``"assets/line.wav"``: an asset of :attr:`OptionSpec.asset` kind
    "word",        # one of :attr:`OptionSpec.words`
    "ramp",        # ``1.0 -> 1.15`` (or one number)
    "tempo",       # ``72bpm``
    "meter",       # ``3/4``
]

# How a time is used: a start, a length (zero is suspicious), a fade, an offset into a source.
TimeRole = Literal["start", "length", "fade", "offset"]

# What a property's value may be.
FormKind = Literal[
    "keyword",      # a word the property defines: generate, asemic, tts, lipsync, still, plain, off
    "ref",          # the name of a definition of kind ``refers``
    "path",         # a string naming a file: an asset of kind ``asset``
    "text",         # a string that is text: a title, lyrics, a caption
    "styled",       # ``ALPHABET "text"``
    "blend",        # ``blend(seed 5, LOOK, 0.35)``: a latent mix
    "morph",        # ``morph A -> seed 17 -> B``: a latent path
    "driven",       # ``driven "performance.mp4"``
    "seed",         # ``seed 17``: a generated latent
    "count",        # a whole number (bounded)
    "count_range",  # ``2..5`` or one whole number (bounded)
    "colour",       # ``#efe6d2``
    "gain",         # ``-8dB`` (bounded)
    "size",         # ``1280x720``
    "wpm",          # ``180wpm``: a reading speed in words a minute
    "prompt",       # ``generate "a drowned cathedral at dusk"``: generated, steered by words
    "time",         # ``300ms``
]

SEED_MAX = 2**32 - 1


@dataclass(frozen=True, slots=True)
class OptionSpec:
    """One option: ``, key value`` (or a flag ``, key``; or, with ``bare``, a value alone)."""

    name: str
    value: ValueKind
    doc: str
    words: tuple[str, ...] = ()        # for value "word"
    lo: Fraction | None = None         # bounds for numbers, counts, gains and ramp stops
    hi: Fraction | None = None
    asset: AssetKind | None = None     # for value "path"
    role: TimeRole | None = None       # for value "time" / "time_range"
    group: str | None = None           # flags in one group exclude each other (a beat has one shot)


@dataclass(frozen=True, slots=True)
class Form:
    """One shape a property's value may take, and the options that have an effect with it."""

    kind: FormKind
    describe: str                        # how a writer writes it, for hints
    word: str | None = None              # for "keyword"
    refers: DefKind | None = None        # for "ref"
    asset: AssetKind | None = None       # for "path" and "driven"
    options: tuple[OptionSpec, ...] = ()
    lo: Fraction | None = None           # bounds for "count", "count_range", "gain"
    hi: Fraction | None = None
    generated: bool = False              # an image form backed by a latent (MORPH TO can morph it)


@dataclass(frozen=True, slots=True)
class PropertySpec:
    """A property (or header field, or scene directive): its value forms and options."""

    name: str
    forms: tuple[Form, ...]
    doc: str
    required: bool = False
    repeatable: bool = False
    bare: tuple[OptionSpec, ...] = ()    # values allowed without a key (``canvas: 1280x720, 24fps``)
    inert: tuple[str, ...] = ()          # options accepted here without effect (W210)

    @property
    def keywords(self) -> tuple[str, ...]:
        return tuple(f.word for f in self.forms if f.kind == "keyword" and f.word)

    @property
    def all_options(self) -> dict[str, OptionSpec]:
        """Options with an effect in at least one form (first spec wins)."""
        out: dict[str, OptionSpec] = {}
        for f in self.forms:
            for o in f.options:
                out.setdefault(o.name, o)
        return out

    @property
    def expected(self) -> str:
        """``generate, blend(…) or "file.png"``"""
        return or_list([f.describe for f in self.forms])


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """An action line in a character's beat: ``sings THEME, from 12s, for 20s``."""

    verb: str
    refers: DefKind
    doc: str
    options: tuple[OptionSpec, ...] = ()


@dataclass(frozen=True, slots=True)
class TransitionSpec:
    """A transition between scenes, in Fountain's spelling (without the colon).

    ``joins``: ``"both"`` stands between two scenes; ``"next"`` acts on the scene after it;
    ``"previous"`` on the scene before it. ``overlaps``: the two scenes overlap by the duration.
    """

    name: str
    duration: Literal["required", "optional", "none"]
    joins: Literal["both", "next", "previous"]
    overlaps: bool
    doc: str
    default: Fraction | None = None


def or_list(words: list[str]) -> str:
    """Words joined as a writer would list them.

    >>> or_list(["a", "b", "c"])
    'a, b or c'
    """
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " or " + words[-1]


def _f(x: int | str) -> Fraction:
    return Fraction(x)


# --------------------------------------------------------------------------- defaults and limits

DEFAULT_CANVAS = (1280, 720)
DEFAULT_FPS = Fraction(24)
DEFAULT_SEED = 0
DEFAULT_SUBTITLES = "off"
DEFAULT_DUCK_DB = Fraction(-8)
DEFAULT_TRANSITION = "CUT TO"
DEFAULT_GAP = Fraction(3, 10)               # seconds between elements of a scene's flow
DEFAULT_READING_WPM = Fraction(180)         # words a minute an action line is read at
MIN_ACTION_SECONDS = Fraction(1)
DEFAULT_FADE = Fraction(1)                  # seconds, for FADE IN/OUT/TO BLACK without a duration
MIN_SCENE_SECONDS = Fraction(1)
CREDITS_SECONDS_PER_LINE = Fraction(2)
CREDITS_MIN_SECONDS = Fraction(4)

MAX_CANVAS = (7680, 4320)
MIN_CANVAS = (16, 16)
FPS_RANGE = (Fraction(1), Fraction(120))
MAX_FILM_SECONDS = Fraction(4 * 3600)

# A script may never name these: loading them can run code (pickles, checkpoints, modules).
FORBIDDEN_SUFFIXES = (".pkl", ".pickle", ".pt", ".pth", ".ckpt", ".tar", ".tar.gz", ".tgz", ".py", ".pyc",
                      ".pyw", ".pyz", ".safetensors", ".bin", ".onnx", ".h5", ".joblib", ".so", ".dll",
                      ".dylib")


def is_forbidden_path(path: str) -> bool:
    """Whether ``path`` names a checkpoint, a pickle or code.

    >>> is_forbidden_path("models/ffhq.PKL"), is_forbidden_path("assets/girl.wav")
    (True, False)
    """
    low = path.strip().lower()
    return low.endswith(FORBIDDEN_SUFFIXES)


# --------------------------------------------------------------------------- options

SEED = OptionSpec("seed", "count", "seed 11", lo=_f(0), hi=_f(SEED_MAX))
TRUNCATION = OptionSpec("truncation", "number", "truncation 0.7", lo=_f(0), hi=_f(2))
PITCH = OptionSpec("pitch", "number", "pitch 0.8", lo=Fraction(1, 4), hi=_f(4))
RATE = OptionSpec("rate", "number", "rate 0.95", lo=Fraction(1, 4), hi=_f(4))
LANG = OptionSpec("lang", "string", 'lang "en-gb"')
MOUTH = OptionSpec("mouth", "number", "mouth 1.2 (how wide the mouth opens)", lo=_f(0), hi=_f(2))
GENRE = OptionSpec("genre", "string", 'genre "ambient"')
ARTIST = OptionSpec("artist", "string", 'artist "unknown"')
LENGTH = OptionSpec("length", "time", "length 60s", role="length")
TEMPERATURE = OptionSpec("temperature", "number", "temperature 0.98", lo=_f(0), hi=_f(2))
TEMPO = OptionSpec("tempo", "tempo", "tempo 72bpm", lo=_f(20), hi=_f(400))
METER = OptionSpec("meter", "meter", "meter 3/4", lo=_f(1), hi=_f(32))

AT = OptionSpec("at", "time", "at 2s", role="start")
FOR = OptionSpec("for", "time", "for 4s", role="length")
FROM = OptionSpec("from", "time", "from 12s", role="offset")
FADE_IN = OptionSpec("fade in", "time", "fade in 2s", role="fade")
FADE_OUT = OptionSpec("fade out", "time", "fade out 3s", role="fade")
GAIN = OptionSpec("gain", "gain", "gain -3dB", lo=_f(-60), hi=_f(24))
POSITIONS = tuple(OptionSpec(p, "flag", p, group=None) for p in ("top", "center", "bottom", "left", "right"))
ZOOM = OptionSpec("zoom", "ramp", "zoom 1.0 -> 1.15", lo=Fraction(1, 10), hi=_f(10))
PAN = OptionSpec("pan", "word", "pan left", words=("left", "right", "up", "down"))
EASE = OptionSpec("ease", "word", "ease smooth", words=("linear", "smooth"))
RANGE = OptionSpec("range", "time_range", "2s..8s", role="length")
FPS = OptionSpec("rate", "rate", "24fps", lo=FPS_RANGE[0], hi=FPS_RANGE[1])

SHOTS = tuple(OptionSpec(s, "flag", s, group="shot") for s in ("close-up", "medium", "wide"))
SIDES = tuple(OptionSpec(s, "flag", s, group="side") for s in ("left", "right", "center"))
VOICE_FILE = OptionSpec("voice", "path", 'voice "assets/line.wav"', asset="audio")

DIRECTIVE_OPTIONS: tuple[OptionSpec, ...] = (AT, FOR, FROM, FADE_IN, FADE_OUT, GAIN, *POSITIONS, ZOOM, PAN, EASE)

# --------------------------------------------------------------------------- header

_TEXT = Form("text", '"text"')


def _text_field(name: str, doc: str) -> PropertySpec:
    return PropertySpec(name, (_TEXT,), doc)


HEADER: Mapping[str, PropertySpec] = {
    "title": _text_field("title", "the film's title"),
    "credit": _text_field("credit", 'Fountain title page: "written by"'),
    "author": _text_field("author", "the author"),
    "authors": _text_field("authors", "the authors"),
    "source": _text_field("source", 'Fountain title page: "based on …"'),
    "draft_date": _text_field("draft_date", "Fountain title page: the draft's date"),
    "date": _text_field("date", "a date"),
    "contact": _text_field("contact", "Fountain title page: contact details"),
    "copyright": _text_field("copyright", "a copyright line"),
    "revision": _text_field("revision", "a revision label"),
    "notes": _text_field("notes", "Fountain title page: notes"),
    "canvas": PropertySpec("canvas", (Form("size", "a size such as 1280x720"),),
                           "the frame size and rate: canvas: 1280x720, 24fps", bare=(FPS,)),
    "seed": PropertySpec("seed", (Form("count", "a whole number such as 2020", lo=_f(0), hi=_f(SEED_MAX)),),
                         "the film seed every random choice derives from"),
    "subtitles": PropertySpec("subtitles", (Form("keyword", "plain", word="plain"),
                                            Form("keyword", "off", word="off"),
                                            Form("ref", "an alphabet's name", refers="alphabet")),
                              "dialogue also appears as subtitles, in plain type or an alphabet"),
    "duck": PropertySpec("duck", (Form("gain", "a gain such as -8dB", lo=_f(-60), hi=_f(0)),),
                         "how much music is lowered under dialogue"),
    "gap": PropertySpec("gap", (Form("time", "a time such as 300ms"),),
                        "the pause between one beat or action line of a scene's flow and the next"),
    "reading": PropertySpec("reading", (Form("wpm", "a reading speed such as 180wpm", lo=_f(20), hi=_f(2000)),),
                            "how fast action lines are read (their time in the flow)"),
    "cuts": PropertySpec("cuts", (Form("keyword", "on beat", word="on beat"), Form("keyword", "on bar", word="on bar")),
                         "scene boundaries snap to the soundtrack's beats or bar lines"),
    "action": PropertySpec("action", (Form("keyword", "show", word="show"), Form("keyword", "hide", word="hide")),
                           "whether action lines are drawn on screen (default hide: only those marked show)"),
    "soundtrack": PropertySpec("soundtrack", (Form("ref", "a music cue's name", refers="music",
                                                   options=(FROM, FADE_IN, FADE_OUT, GAIN)),
                                              Form("path", 'a recording "music.wav"', asset="audio",
                                                   options=(FROM, FADE_IN, FADE_OUT, GAIN))),
                               "a music cue under the whole film"),
}

# --------------------------------------------------------------------------- definitions

_IMAGE_FORMS = (
    Form("keyword", "generate", word="generate", options=(SEED, TRUNCATION), generated=True),
    Form("prompt", 'generate "a drowned cathedral at dusk"', options=(SEED, TRUNCATION), generated=True),
    Form("blend", "blend(seed 5, seed 23, 0.35)", generated=True),
    Form("path", '"file.png"', asset="image"),
)

DEFINITIONS: Mapping[DefKind, Mapping[str, PropertySpec]] = {
    "alphabet": {
        "glyphs": PropertySpec("glyphs", (Form("count", "a count such as 28", lo=_f(1), hi=_f(512)),),
                               "how many glyphs the alphabet has"),
        "strokes": PropertySpec("strokes", (Form("count_range", "a count or a range such as 2..5",
                                                 lo=_f(1), hi=_f(12)),),
                                "strokes per glyph"),
        "seed": PropertySpec("seed", (Form("count", "a whole number such as 7", lo=_f(0), hi=_f(SEED_MAX)),),
                             "the alphabet's own seed"),
        "ink": PropertySpec("ink", (Form("colour", "a colour such as #efe6d2"),), "the glyphs' colour"),
    },
    "look": {
        "image": PropertySpec("image", _IMAGE_FORMS, "the look's picture", required=True),
    },
    "character": {
        "portrait": PropertySpec("portrait", tuple(f for f in _IMAGE_FORMS if f.kind != "prompt"),
                                 "the character's face", required=True),
        "voice": PropertySpec("voice", (
            Form("keyword", "asemic", word="asemic", options=(PITCH, RATE, SEED)),
            Form("keyword", "tts", word="tts", options=(LANG, PITCH, RATE)),  # speech engines are deterministic
            Form("path", 'a recording "voice.wav"', asset="audio"),
        ), "how the character sounds (default: asemic)"),
        "motion": PropertySpec("motion", (
            Form("keyword", "lipsync", word="lipsync", options=(MOUTH,)),
            Form("keyword", "still", word="still"),
            Form("driven", 'driven "performance.mp4"', asset="video"),
        ), "how the portrait moves (default: lipsync)"),
    },
    "music": {
        "source": PropertySpec("source", (
            Form("keyword", "generate", word="generate", options=(GENRE, ARTIST, LENGTH, SEED, TEMPERATURE, TEMPO,
                                                                  METER)),
            Form("path", 'a recording "music.wav"', asset="audio", options=(TEMPO, METER)),
        ), "where the music comes from", required=True),
        "lyrics": PropertySpec("lyrics", (_TEXT,), "the words a character sings"),
    },
}

DEFINITION_KINDS: tuple[DefKind, ...] = ("alphabet", "look", "character", "music")

# --------------------------------------------------------------------------- scenes


def _directive(name: str, forms: tuple[Form, ...], effective: tuple[OptionSpec, ...], doc: str) -> PropertySpec:
    forms = tuple(replace(f, options=effective) for f in forms)
    names = {o.name for o in effective}
    inert = tuple(o.name for o in DIRECTIVE_OPTIONS if o.name not in names)
    return PropertySpec(name, forms, doc, repeatable=True, bare=(RANGE,), inert=inert)


DIRECTIVES: Mapping[str, PropertySpec] = {
    "backdrop": _directive("backdrop", (
        Form("ref", "a look's name", refers="look"),
        Form("morph", "morph A -> seed 17 -> B", generated=True),
        Form("seed", "seed 17", generated=True),
        Form("path", '"file.png"', asset="image"),
    ), (AT, FOR, FADE_IN, FADE_OUT, ZOOM, PAN, EASE), "the picture behind the scene"),
    "music": _directive("music", (
        Form("ref", "a music cue's name", refers="music"),
        Form("path", '"music.wav"', asset="audio"),
    ), (AT, FOR, FROM, FADE_IN, FADE_OUT, GAIN), "a music cue (lasts the scene unless timed)"),
    "sound": _directive("sound", (
        Form("ref", "a music cue's name", refers="music"),
        Form("path", '"sound.wav"', asset="audio"),
    ), (AT, FOR, FROM, FADE_IN, FADE_OUT, GAIN), "a sound (not ducked under dialogue)"),
    "caption": _directive("caption", (
        Form("styled", 'ALPHABET "text"'),
        Form("text", '"text"'),
    ), (AT, FOR, FADE_IN, FADE_OUT, *POSITIONS), "text on screen, in plain type or an alphabet"),
    "show": _directive("show", (
        Form("path", '"clip.mp4"', asset="video"),
    ), (AT, FOR, FROM, FADE_IN, FADE_OUT, GAIN, *POSITIONS, ZOOM, PAN, EASE), "a video layer"),
}

SCENE_OPTIONS: Mapping[str, OptionSpec] = {}  # a heading takes only its duration
BEAT_OPTIONS: Mapping[str, OptionSpec] = {o.name: o for o in (AT, *SHOTS, *SIDES)}
BEAT_INERT: tuple[str, ...] = ("top", "bottom")
DIALOGUE_OPTIONS: Mapping[str, OptionSpec] = {"voice": VOICE_FILE}
ACTIONS: Mapping[str, ActionSpec] = {
    "sings": ActionSpec("sings", "music", "sings THEME, from 12s, for 20s", (FROM, FOR)),
}
CREDITS_OPTIONS: Mapping[str, OptionSpec] = {o.name: o for o in (FADE_IN, FADE_OUT)}
SHOW = OptionSpec("show", "flag", "show (draw the action line on screen)")
ACTION_LINE_OPTIONS: Mapping[str, OptionSpec] = {o.name: o for o in (SHOW, AT, FOR, FADE_IN, FADE_OUT, *POSITIONS)}
"""Options of an action line: ``"THE END", center, show`` is a title card."""

# Cue extensions (``KEEPER (V.O.)``), upper case without spaces, and what they do.
CUE_EXTENSIONS: Mapping[str, str] = {
    "V.O.": "offscreen", "VO": "offscreen", "O.S.": "offscreen", "OS": "offscreen",
    "O.C.": "offscreen", "OC": "offscreen", "OFF": "offscreen",
    "CONT'D": "none", "CONT’D": "none", "CONTD": "none", "CONT.": "none", "CONTINUED": "none",
}

TRANSITIONS: Mapping[str, TransitionSpec] = {
    "CUT TO": TransitionSpec("CUT TO", "none", "both", False, "CUT TO: (the default between scenes)"),
    "CROSSFADE TO": TransitionSpec("CROSSFADE TO", "optional", "both", True, "CROSSFADE TO: 1s", DEFAULT_FADE),
    "MORPH TO": TransitionSpec("MORPH TO", "optional", "both", True, "MORPH TO: 2s", DEFAULT_FADE),
    "FADE IN": TransitionSpec("FADE IN", "optional", "next", False, "FADE IN: 2s", DEFAULT_FADE),
    "FADE OUT": TransitionSpec("FADE OUT", "optional", "previous", False, "FADE OUT: 3s", DEFAULT_FADE),
    "FADE TO BLACK": TransitionSpec("FADE TO BLACK", "optional", "previous", False, "FADE TO BLACK: 1s",
                                    DEFAULT_FADE),
    "FADE THROUGH BLACK": TransitionSpec("FADE THROUGH BLACK", "optional", "both", False,
                                         "FADE THROUGH BLACK: 1s (half out, half in)", DEFAULT_FADE),
    "FADE TO WHITE": TransitionSpec("FADE TO WHITE", "optional", "both", False,
                                    "FADE TO WHITE: 1s (out to white, in from white)", DEFAULT_FADE),
}

# Other screenwriting spellings, and what nyeshc calls them.
TRANSITION_SYNONYMS: Mapping[str, str] = {
    "DISSOLVE TO": "CROSSFADE TO",
    "CROSS DISSOLVE TO": "CROSSFADE TO",
    "MIX TO": "CROSSFADE TO",
    "CROSS FADE TO": "CROSSFADE TO",
    "SMASH CUT TO": "CUT TO",
    "MATCH CUT TO": "CUT TO",
    "JUMP CUT TO": "CUT TO",
    "HARD CUT TO": "CUT TO",
    "FADE TO": "FADE THROUGH BLACK",
    "FADE OUT.": "FADE OUT",
    "IRIS OUT": "FADE OUT",
    "IRIS IN": "FADE IN",
    "MORPH INTO": "MORPH TO",
}


TIMES_OF_DAY = ("DAWN", "SUNRISE", "MORNING", "DAY", "NOON", "AFTERNOON", "DUSK", "SUNSET", "EVENING", "NIGHT",
                "MIDNIGHT")
_HEADING_PREFIX = re.compile(r"^(?:INT\./EXT\.|INT/EXT\.?|I/E\.?|INT\.|EXT\.|EST\.)\s*", re.IGNORECASE)


def heading_place(title: str) -> tuple[str, str] | None:
    """A Fountain heading's place and time of day, as a generated backdrop reads them
    (LANGUAGE.md, "Places and prompts"); None when the heading names no place.

    >>> heading_place("INT. CATHEDRAL - NIGHT")
    ('CATHEDRAL', 'NIGHT')
    >>> heading_place("EXT. HOUSE, KITCHEN - LATER")
    ('HOUSE, KITCHEN', '')
    >>> heading_place("EXT. SEA") is None, heading_place("INT.") is None
    (False, True)
    """
    rest = _HEADING_PREFIX.sub("", title.strip())
    if rest == title.strip() and not title.strip().upper().startswith(("INT", "EXT", "EST", "I/E")):
        return None
    parts = [" ".join(p.split()) for p in re.split(r"\s+-+\s+|\s+[–—]\s+", rest) if p.strip()]
    if not parts:
        return None
    place = parts[0].upper()
    time = next((p.upper() for p in parts[1:] if p.upper() in TIMES_OF_DAY), "")
    return place, time


def transition(kind: str) -> TransitionSpec | None:
    """The transition a spelling names (``DISSOLVE TO`` → ``CROSSFADE TO``), or None."""
    spec = TRANSITIONS.get(kind)
    if spec is None and kind in TRANSITION_SYNONYMS:
        spec = TRANSITIONS[TRANSITION_SYNONYMS[kind]]
    return spec


def option_words() -> frozenset[str]:
    """Every option name the language knows anywhere (an unknown one elsewhere is E202)."""
    names: set[str] = {o.name for o in DIRECTIVE_OPTIONS}
    names |= set(BEAT_OPTIONS) | set(DIALOGUE_OPTIONS) | set(CREDITS_OPTIONS) | set(ACTION_LINE_OPTIONS)
    for props in [HEADER, *DEFINITIONS.values(), DIRECTIVES]:
        for spec in props.values():
            names |= set(spec.all_options)
    for a in ACTIONS.values():
        names |= {o.name for o in a.options}
    return frozenset(names)
