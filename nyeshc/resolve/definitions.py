"""Typed definitions: each look, character (portrait, motion, voice), alphabet and music cue
read once, into fields.

The planner asks for a look's latent, a character's portrait or a cue's audio by name; what the
definition says — generated or a file, its seed and truncation, a blend's stops, an alphabet's
strokes, a cue's genre and tempo — is read here, with the schema's defaults applied, and the
options each kind takes are read (for the :mod:`~nyeshc.resolve.ledger`) only where that kind
uses them: a ``seed`` on a look that is a picture file stays unread, and the audit says it has
no effect (``W211``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from nyeshc import ir
from nyeshc.resolve.values import num, opt_seconds, opt_value, prop

DEFAULT_GLYPHS = 28
DEFAULT_STROKES = (2, 5)
DEFAULT_INK = (0xEF, 0xE6, 0xD2)


@dataclass(frozen=True, slots=True)
class Latent:
    """Where a generated picture comes from: ``generate`` (a seed, a truncation, and for a look
    the words of ``generate "prompt"``), ``blend(…)`` of other latents, or a picture ``file``.
    ``kind`` is ``"none"`` for a value that is none of these (the planner places nothing)."""

    node: ir.Property | None  # the ``image:``/``portrait:`` property (None: not written)
    kind: str  # "generate" | "blend" | "file" | "none"
    seed: int | None = None
    truncation: Fraction = Fraction(1)
    prompt: str | None = None
    blend: ir.Call | None = None
    path: ir.Str | None = None


def _generated(p: ir.Property | None, prompt: str | None = None) -> Latent:
    options = p.options if p is not None else ()
    explicit = num(opt_value(options, "seed"))
    trunc = num(opt_value(options, "truncation"), Fraction(1))
    return Latent(p, "generate", None if explicit is None else int(explicit),
                  trunc if trunc is not None else Fraction(1), prompt)


def look(defn: ir.Definition) -> Latent:
    """A look's ``image``: ``generate`` (or ``generate "words"``), ``blend(…)`` or a file."""
    p = prop(defn, "image")
    if p is None:
        return Latent(None, "none")
    if isinstance(p.value, ir.Call) and p.value.name == "blend":
        return Latent(p, "blend", blend=p.value)
    if isinstance(p.value, ir.Styled) and p.value.alphabet.word == "generate":
        return _generated(p, p.value.text.text)
    if isinstance(p.value, ir.Word) and p.value.word == "generate":
        return _generated(p)
    if isinstance(p.value, ir.Str):
        return Latent(p, "file", path=p.value)
    return Latent(p, "none")


def portrait(defn: ir.Definition | None) -> Latent:
    """A character's ``portrait``: generated when not written (or ``generate``), ``blend(…)`` or
    a picture file."""
    p = prop(defn, "portrait")
    if p is None or (isinstance(p.value, ir.Word) and p.value.word == "generate"):
        return _generated(p)
    if isinstance(p.value, ir.Call) and p.value.name == "blend":
        return Latent(p, "blend", blend=p.value)
    if isinstance(p.value, ir.Str):
        return Latent(p, "file", path=p.value)
    return Latent(p, "none")


@dataclass(frozen=True, slots=True)
class Motion:
    """A character's ``motion``: lip-sync (the default), ``still``, or ``driven by "video.mp4"``
    (``driving``); ``mouth`` scales how far the mouth opens (None: the backend's own)."""

    node: ir.Property | None
    still: bool = False
    driving: ir.Str | None = None
    mouth: Fraction | None = None


def motion(defn: ir.Definition | None) -> Motion:
    p = prop(defn, "motion")
    if p is None:
        return Motion(None)
    return Motion(p, isinstance(p.value, ir.Word) and p.value.word == "still",
                  p.value.path if isinstance(p.value, ir.Driven) else None,
                  num(opt_value(p.options, "mouth")))  # read whether or not a beat speaks


@dataclass(frozen=True, slots=True)
class Alphabet:
    """An asemic alphabet: ``glyphs`` letters of ``strokes`` strokes each, drawn in ``ink``."""

    name: str
    count: int
    strokes: tuple[int, int]
    seed: int | None
    ink: tuple[int, int, int]


def alphabet(name: str, defn: ir.Definition) -> Alphabet:
    glyphs = prop(defn, "glyphs")
    count = num(glyphs.value if glyphs else None, Fraction(DEFAULT_GLYPHS))
    strokes = DEFAULT_STROKES
    sp = prop(defn, "strokes")
    if sp is not None and isinstance(sp.value, ir.Range):
        lo, hi = num(sp.value.lo), num(sp.value.hi)
        if lo is not None and hi is not None:
            strokes = (int(lo), int(hi))
    elif sp is not None and isinstance(sp.value, ir.Num):
        strokes = (int(sp.value.value), int(sp.value.value))
    seed_p = prop(defn, "seed")
    explicit = num(seed_p.value) if seed_p is not None else None
    ink_p = prop(defn, "ink")
    ink = ink_p.value.rgb if ink_p is not None and isinstance(ink_p.value, ir.Colour) else DEFAULT_INK
    return Alphabet(name, int(count or DEFAULT_GLYPHS), strokes, None if explicit is None else int(explicit), ink)


@dataclass(frozen=True, slots=True)
class Music:
    """A music cue: a recording (``source: "file.wav"``) or generated (``source: generate``,
    with its genre, artist, lyrics, seed, temperature, length and a stated tempo and meter).
    ``kind`` is ``"none"`` when the source is neither."""

    name: str
    node: ir.Property | None  # the ``source`` property
    kind: str  # "file" | "generate" | "none"
    path: ir.Str | None = None
    tempo: Fraction | None = None  # bpm, when stated
    meter: tuple[int, int] | None = None  # when stated
    genre: str = ""
    artist: str = ""
    lyrics: str = ""
    lyrics_node: ir.Property | None = None
    seed: int | None = None
    temperature: Fraction | None = None
    length: Fraction | None = None  # seconds, when written

    @property
    def states_grid(self) -> bool:
        """A tempo or a meter is written on the cue."""
        return self.tempo is not None or self.meter is not None


def music(name: str, defn: ir.Definition, fps: Fraction) -> Music:
    p = prop(defn, "source")
    if p is None:
        return Music(name, None, "none")
    tempo_v, meter_v = opt_value(p.options, "tempo"), opt_value(p.options, "meter")
    tempo = tempo_v.bpm if isinstance(tempo_v, ir.Tempo) else None
    meter = (meter_v.beats, meter_v.unit) if isinstance(meter_v, ir.Meter) else None
    if isinstance(p.value, ir.Str):
        return Music(name, p, "file", path=p.value, tempo=tempo, meter=meter)
    if not (isinstance(p.value, ir.Word) and p.value.word == "generate"):
        return Music(name, p, "none")
    text = {k: (v.text if isinstance(v := opt_value(p.options, k), ir.Str) else "") for k in ("genre", "artist")}
    lyrics_p = prop(defn, "lyrics")
    lyrics = lyrics_p.value.text if lyrics_p is not None and isinstance(lyrics_p.value, ir.Str) else ""
    explicit = num(opt_value(p.options, "seed"))
    return Music(name, p, "generate", tempo=tempo, meter=meter, genre=text["genre"], artist=text["artist"],
                 lyrics=lyrics, lyrics_node=lyrics_p, seed=None if explicit is None else int(explicit),
                 temperature=num(opt_value(p.options, "temperature")),
                 length=opt_seconds(p.options, "length", fps))


@dataclass(frozen=True)
class Voice:
    """How a character speaks: synthesised (``asemic``/``tts``) or a recording."""

    mode: str  # "asemic" | "tts" | "file"
    pitch: float = 1.0
    rate: float = 1.0
    lang: str = ""
    path: ir.Str | None = None
    seed: int | None = None  # ``seed N``: folded into each line's derived seed
    node: ir.Property | None = field(default=None, compare=False)  # the ``voice`` property


def voice_modality(voice: Voice) -> str:
    """The profile modality whose backend speaks ``voice``: ``tts`` for ``voice: tts``, else ``voice``."""
    return "tts" if voice.mode == "tts" else "voice"


DEFAULT_VOICE = Voice("asemic", lang="asemic")
"""How a character speaks when its definition says nothing (or there is none)."""


def voice(defn: ir.Definition | None) -> Voice:
    p = prop(defn, "voice")
    if p is None:
        return DEFAULT_VOICE
    if isinstance(p.value, ir.Str):
        return Voice("file", path=p.value, node=p)
    mode = p.value.word if isinstance(p.value, ir.Word) else "asemic"
    mode = "tts" if mode == "tts" else "asemic"
    pitch = float(num(opt_value(p.options, "pitch"), Fraction(1)) or 1)
    rate = float(num(opt_value(p.options, "rate"), Fraction(1)) or 1)
    lang_v = opt_value(p.options, "lang")
    lang = lang_v.text if isinstance(lang_v, ir.Str) else ("en" if mode == "tts" else "asemic")
    seed = num(opt_value(p.options, "seed"))
    return Voice(mode, pitch, rate, lang, seed=None if seed is None else int(seed), node=p)


@dataclass(frozen=True, slots=True)
class Definitions:
    """Every definition of the film, typed, by name."""

    looks: dict[str, Latent]
    portraits: dict[str, Latent]  # by character (a character not defined: generated)
    motions: dict[str, Motion]
    voices: dict[str, Voice]
    alphabets: dict[str, Alphabet]
    music: dict[str, Music]

    @classmethod
    def none(cls) -> Definitions:
        return cls({}, {}, {}, {}, {}, {})


def definitions(film: ir.Film, fps: Fraction) -> Definitions:
    return Definitions(
        {n: look(d) for n, d in film.defs("look").items()},
        {n: portrait(d) for n, d in film.defs("character").items()},
        {n: motion(d) for n, d in film.defs("character").items()},
        {n: voice(d) for n, d in film.defs("character").items()},
        {n: alphabet(n, d) for n, d in film.defs("alphabet").items()},
        {n: music(n, d, fps) for n, d in film.defs("music").items()},
    )
