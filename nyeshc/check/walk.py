"""One walk over the film that meets the IR with the schema.

This file is long (about 700 lines) on purpose: it is the one walk that meets every value in a
script with the schema (the design: check's rules read what it found instead of walking again);
one method per IR node kind.

Every value in a script is placed once: which property or option it belongs to, which form of
the schema it matches, and what that makes it — a reference to a definition, an asset, a
bounded number, a time. The passes read these lists (:class:`Uses`) and judge; none of them
walks the film again, so checking stays linear in the script's length.

>>> from nyeshc.syntax import read
>>> film, _ = read('look DUSK:\\n    image: generate, seed 42\\nSCENE 1, 5s:\\n    backdrop: DUSKK\\n')
>>> uses = walk(film)
>>> [(r.word, r.kind) for r in uses.refs]
[('DUSKK', 'look')]
>>> [(b.what, b.value) for b in uses.bounded]
[('seed', Fraction(42, 1))]
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from fractions import Fraction

from nyeshc import ir, schema
from nyeshc.diagnostics import Span, did_you_mean
from nyeshc.schema import AssetKind, DefKind, Form, OptionSpec, PropertySpec, TimeRole

_UNITS = frozenset({"s", "ms", "f"})
_DIRECTIVE_OPTION_NAMES = frozenset(o.name for o in schema.DIRECTIVE_OPTIONS)


@dataclass(frozen=True, slots=True)
class Owner:
    """What a property belongs to: the header, a definition, a scene."""

    kind: str  # "header", "alphabet", "look", "character", "music", "scene"
    name: str
    span: Span

    @property
    def describe(self) -> str:
        if self.kind == "header":
            return "the title page"
        if self.kind == "scene":
            return f"scene {self.name}" if self.name else "this scene"
        return f"{self.kind} {self.name}"


@dataclass(frozen=True, slots=True)
class PlacedProp:
    prop: ir.Property
    owner: Owner
    spec: PropertySpec | None
    form: Form | None
    known: Mapping[str, PropertySpec]  # what the owner accepts, for suggestions


@dataclass(frozen=True, slots=True)
class PlacedOption:
    option: ir.Option
    spec: OptionSpec | None
    what: str                      # "image", "backdrop", "NARRATOR's beat"
    inert: bool                    # an option with an effect elsewhere, not here
    candidates: tuple[str, ...]    # the options that do have an effect here


@dataclass(frozen=True, slots=True)
class Ref:
    word: str
    span: Span
    kind: DefKind
    what: str                      # "backdrop", "a caption's alphabet"
    keywords: tuple[str, ...] = ()  # words also accepted here (subtitles: plain, off)


@dataclass(frozen=True, slots=True)
class AssetUse:
    path: ir.Str
    kind: AssetKind
    what: str


@dataclass(frozen=True, slots=True)
class Bounded:
    value: Fraction
    span: Span
    lo: Fraction | None
    hi: Fraction | None
    what: str


@dataclass(frozen=True, slots=True)
class TimeUse:
    value: ir.Value                # a Time, or a negative number/phrase (reported as negative)
    role: TimeRole
    what: str

    @property
    def span(self) -> Span:
        return self.value.span


@dataclass(frozen=True, slots=True)
class Bad:
    """A value of the wrong shape (E203)."""

    span: Span
    message: str
    hints: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Dup:
    """Something given twice (E206): ``span`` is the second, ``first`` the first."""

    span: Span
    first: Span
    message: str


@dataclass
class Uses:
    props: list[PlacedProp] = field(default_factory=list)
    options: list[PlacedOption] = field(default_factory=list)
    refs: list[Ref] = field(default_factory=list)
    assets: list[AssetUse] = field(default_factory=list)
    code: list[ir.Str] = field(default_factory=list)       # checkpoints, pickles, code (E209)
    bounded: list[Bounded] = field(default_factory=list)
    times: list[TimeUse] = field(default_factory=list)
    ranges: list[tuple[ir.Range, str]] = field(default_factory=list)
    bad: list[Bad] = field(default_factory=list)
    grid: list[ir.GridTime] = field(default_factory=list)  # times written on a music grid
    dups: list[Dup] = field(default_factory=list)


# --------------------------------------------------------------------------- helpers


def show(v: ir.Value | None) -> str:
    """A value as the writer wrote it, near enough for a message.

    >>> show(ir.Morph((ir.Word("A"), ir.Seed(3))))
    'morph A -> seed 3'
    """
    if v is None:
        return ""
    if isinstance(v, ir.Str):
        text = v.text if len(v.text) <= 40 else v.text[:37] + "…"
        return '"' + text.replace("\n", " ") + '"'
    if isinstance(v, (ir.Num, ir.Time, ir.Gain, ir.Percent, ir.Rate)):
        return v.raw or str(getattr(v, "value", getattr(v, "amount", "")))
    if isinstance(v, ir.Colour):
        return v.hex
    if isinstance(v, ir.Size):
        return f"{v.width}x{v.height}"
    if isinstance(v, ir.Word):
        return v.word
    if isinstance(v, ir.Seed):
        return f"seed {v.value}"
    if isinstance(v, ir.Range):
        return f"{show(v.lo)}..{show(v.hi)}"
    if isinstance(v, ir.Ramp):
        return " -> ".join(show(s) for s in v.stops)
    if isinstance(v, ir.Morph):
        return "morph " + " -> ".join(show(s) for s in v.stops)
    if isinstance(v, ir.Call):
        return f"{v.name}(…)"
    if isinstance(v, ir.Driven):
        return f"driven {show(v.path)}"
    if isinstance(v, ir.Styled):
        return f"{v.alphabet.word} {show(v.text)}"
    if isinstance(v, ir.Phrase):
        return " ".join(show(i) for i in v.items)
    return "this"


def negative_time(v: ir.Value | None) -> bool:
    """``-2s`` lexes as the number ``-2`` and the word ``s``; a time can never be negative.

    >>> negative_time(ir.Phrase((ir.Num(Fraction(-2)), ir.Word("s"))))
    True
    """
    if isinstance(v, ir.Num):
        return v.value < 0
    if isinstance(v, ir.Phrase) and len(v.items) == 2:
        a, b = v.items
        return isinstance(a, ir.Num) and a.value < 0 and isinstance(b, ir.Word) and b.word in _UNITS
    return False


def _whole(v: ir.Value | None) -> bool:
    return isinstance(v, ir.Num) and v.value.denominator == 1


def _fits(v: ir.Value | None, f: Form) -> bool:
    k = f.kind
    if k == "ref":
        return isinstance(v, ir.Word)
    if k in ("path", "text"):
        return isinstance(v, ir.Str)
    if k == "styled":
        return isinstance(v, ir.Styled)
    if k == "prompt":
        return isinstance(v, ir.Styled) and v.alphabet.word == "generate"
    if k == "blend":
        return isinstance(v, ir.Call) and v.name == "blend"
    if k == "morph":
        return isinstance(v, ir.Morph)
    if k == "driven":
        return isinstance(v, ir.Driven)
    if k == "seed":
        return isinstance(v, ir.Seed)
    if k == "count":
        return _whole(v)
    if k == "count_range":
        return _whole(v) or (isinstance(v, ir.Range) and isinstance(v.lo, ir.Num) and isinstance(v.hi, ir.Num))
    if k == "colour":
        return isinstance(v, ir.Colour)
    if k == "gain":
        return isinstance(v, ir.Gain)
    if k == "size":
        return isinstance(v, ir.Size)
    if k == "time":
        return isinstance(v, ir.Time)
    if k == "keyword" and f.word is not None and " " in f.word:  # ``on beat``: a phrase of words
        return isinstance(v, ir.Phrase) and " ".join(x.word for x in v.items if isinstance(x, ir.Word)) == f.word
    if k == "wpm":
        return isinstance(v, ir.Num) or (isinstance(v, ir.Phrase) and len(v.items) == 2
                                         and isinstance(v.items[0], ir.Num) and isinstance(v.items[1], ir.Word)
                                         and v.items[1].word.lower() == "wpm")
    return False


def match_form(value: ir.Value | None, spec: PropertySpec) -> Form | None:
    """The form of ``spec`` that ``value`` takes (keywords before references), or ``None``.

    >>> match_form(ir.Word("tts"), schema.DEFINITIONS["character"]["voice"]).word
    'tts'
    >>> match_form(ir.Word("asemc"), schema.DEFINITIONS["character"]["voice"]) is None
    True
    """
    for f in spec.forms:
        if f.kind == "keyword" and ((isinstance(value, ir.Word) and value.word == f.word) or _fits(value, f)):
            return f
    for f in spec.forms:
        if f.kind != "keyword" and _fits(value, f):
            return f
    return None


# --------------------------------------------------------------------------- the walk


class _Walker:
    def __init__(self) -> None:
        self.u = Uses()

    # ----------------------------------------------------------------- values

    def bound(self, v: ir.Num | ir.Gain | ir.Seed, lo: Fraction | None, hi: Fraction | None, what: str) -> None:
        value = v.db if isinstance(v, ir.Gain) else Fraction(v.value)
        self.u.bounded.append(Bounded(value, v.span, lo, hi, what))

    def path(self, s: ir.Str, kind: AssetKind, what: str) -> None:
        if schema.is_forbidden_path(s.text):
            self.u.code.append(s)
        elif not s.text.strip():
            self.u.bad.append(Bad(s.span, f"the {what} path is empty", ('write the file\'s path, e.g. "assets/file"',)))
        else:
            self.u.assets.append(AssetUse(s, kind, what))

    def scan_code(self, v: ir.Value | None) -> None:
        """Strings under properties and options the language does not know may still name a
        checkpoint (``model: "ffhq.pkl"``): that is reported whatever the key."""
        if isinstance(v, ir.Str):
            if schema.is_forbidden_path(v.text):
                self.u.code.append(v)
        elif isinstance(v, ir.Driven):
            self.scan_code(v.path)
        elif isinstance(v, (ir.Phrase, ir.Ramp, ir.Morph)):
            for i in (v.items if isinstance(v, ir.Phrase) else v.stops):
                self.scan_code(i)
        elif isinstance(v, ir.Call):
            for a in v.args:
                self.scan_code(a)
        elif isinstance(v, ir.Styled):
            self.scan_code(v.text)

    def time(self, v: ir.Value | None, role: TimeRole, what: str, span: Span) -> None:
        if what == "at" and isinstance(v, ir.Word) and v.word == "flow":
            return  # ``at flow``: where the scene's flow is at that point (LANGUAGE.md, "The flow")
        if isinstance(v, ir.GridTime):
            self.grid_time(v, role, what)
            return
        if isinstance(v, ir.Time):
            self.u.times.append(TimeUse(v, role, what))
        elif negative_time(v):
            self.u.times.append(TimeUse(v, role, what))  # type: ignore[arg-type]
        elif isinstance(v, ir.Num):
            self.u.bad.append(Bad(v.span, f"{what} needs a time, not a bare number",
                                  (f"write {v.raw or v.value}s (seconds) or {v.raw or v.value}f (frames)",)))
        elif isinstance(v, ir.Phrase) and len(v.items) == 2 and isinstance(v.items[0], ir.Num) \
                and isinstance(v.items[1], ir.Word) and v.items[1].word in _UNITS:
            self.u.bad.append(Bad(v.span, f"{what}: a time is written without a space",
                                  (f"write {show(v.items[0])}{v.items[1].word}",)))
        elif v is None:
            self.u.bad.append(Bad(span, f"{what} needs a time", ("for example 2s, 48f or 1:30",)))
        else:
            hints = ["for example 2s, 48f or 1:30"]
            if isinstance(v, ir.Phrase):
                hints.append("separate options with commas")
            self.u.bad.append(Bad(v.span, f"{what} needs a time, not {show(v)}", tuple(hints)))

    def grid_time(self, v: ir.GridTime, role: TimeRole, what: str) -> None:
        """``at bar 5``, ``for 2 bars``: a point for a start, a length for a length, whole and
        counted from 1 (LANGUAGE.md, "Music time")."""
        self.u.grid.append(v)
        n = int(v.count) if v.count.denominator == 1 else None
        if role not in ("start", "length"):
            self.u.bad.append(Bad(v.span, f"{what} is a time in seconds, not on the music's grid",
                                  ("write it in seconds, e.g. 2s",)))
        elif role == "start" and not v.point:
            self.u.bad.append(Bad(v.span, f"{what} takes a point on the grid, not a length",
                                  (f"write {what} {v.unit} {n or 1}",)))
        elif role == "length" and v.point:
            self.u.bad.append(Bad(v.span, f"{what} takes a length on the grid, not a point",
                                  (f"write {what} {n or 1} {v.unit}s",)))
        elif n is None:
            self.u.bad.append(Bad(v.span, f"{v.unit}s are counted whole, not {float(v.count):g}",
                                  (f"write {v.unit} {int(v.count) or 1}, or a time in seconds",)))
        elif n < 1:
            self.u.bad.append(Bad(v.span, f"{v.unit}s are counted from 1" if v.point
                                  else f"{what} {n} {v.unit}s lasts no time",
                                  (f"the first {v.unit} is {v.unit} 1",) if v.point else ("write 1 or more",)))

    def ref(self, w: ir.Word, kind: DefKind, what: str, keywords: tuple[str, ...] = ()) -> None:
        self.u.refs.append(Ref(w.word, w.span, kind, what, keywords))

    def form_facts(self, v: ir.Value | None, f: Form, spec: PropertySpec, what: str) -> None:
        k = f.kind
        if k == "ref" and isinstance(v, ir.Word) and f.refers:
            self.ref(v, f.refers, what, spec.keywords)
        elif k == "path" and isinstance(v, ir.Str) and f.asset:
            self.path(v, f.asset, what)
        elif k == "driven" and isinstance(v, ir.Driven) and f.asset:
            self.path(v.path, f.asset, what)
        elif k == "styled" and isinstance(v, ir.Styled):
            self.ref(v.alphabet, "alphabet", f"the alphabet of a {what}")
        elif k == "blend" and isinstance(v, ir.Call):
            self.blend(v, what)
        elif k == "morph" and isinstance(v, ir.Morph):
            self.morph(v, what)
        elif k == "seed" and isinstance(v, ir.Seed):
            self.bound(v, Fraction(0), Fraction(schema.SEED_MAX), "seed")
        elif k in ("count", "gain") and isinstance(v, (ir.Num, ir.Gain)):
            self.bound(v, f.lo, f.hi, spec.name)
        elif k == "time" and isinstance(v, ir.Time):
            self.time(v, "length", spec.name, v.span)
        elif k == "wpm":
            n = v if isinstance(v, ir.Num) else v.items[0] if isinstance(v, ir.Phrase) else None
            if isinstance(n, ir.Num):
                self.bound(n, f.lo, f.hi, spec.name)
        elif k == "count_range":
            if isinstance(v, ir.Range) and isinstance(v.lo, ir.Num) and isinstance(v.hi, ir.Num):
                self.bound(v.lo, f.lo, f.hi, spec.name)
                self.bound(v.hi, f.lo, f.hi, spec.name)
                self.u.ranges.append((v, spec.name))
            elif isinstance(v, ir.Num):
                self.bound(v, f.lo, f.hi, spec.name)

    def blend(self, call: ir.Call, what: str) -> None:
        latents, weights = 0, []
        for a in call.args:
            if isinstance(a, ir.Seed):
                latents += 1
                self.bound(a, Fraction(0), Fraction(schema.SEED_MAX), "seed")
            elif isinstance(a, ir.Word):
                latents += 1
                self.ref(a, "look", "blend")
            elif isinstance(a, ir.Num):
                weights.append(a)
                self.bound(a, Fraction(0), Fraction(1), "a blend's weight")
            else:
                self.u.bad.append(Bad(a.span, f"blend mixes seeds and looks; {show(a)} is neither",
                                      ("for example blend(seed 5, seed 23, 0.35) or blend(DUSK, seed 9, 0.5)",)))
        if latents < 2:
            self.u.bad.append(Bad(call.span, "blend needs at least two faces to mix",
                                  ("for example blend(seed 5, seed 23, 0.35)",)))
        elif len(weights) > latents - 1:
            self.u.bad.append(Bad(weights[-1].span, "blend has more weights than it can use",
                                  (f"{latents} faces take at most {latents - 1} weight{'s' * (latents > 2)}",)))

    def morph(self, m: ir.Morph, what: str) -> None:
        for s in m.stops:
            if isinstance(s, ir.Word):
                self.ref(s, "look", "morph")
            elif isinstance(s, ir.Seed):
                self.bound(s, Fraction(0), Fraction(schema.SEED_MAX), "seed")
            else:
                self.u.bad.append(Bad(s.span, f"a morph passes through looks and seeds; {show(s)} is neither",
                                      ("for example morph DUSK -> seed 17 -> CATHEDRAL",)))
        if len(m.stops) < 2:
            self.u.bad.append(Bad(m.span, "a morph needs at least two stops",
                                  ("for example morph DUSK -> seed 17 -> CATHEDRAL",)))

    # ----------------------------------------------------------------- options

    def option_value(self, o: ir.Option, spec: OptionSpec, what: str) -> None:
        v, name = o.value, spec.name
        label = f"{what}'s {name}" if what else name
        if spec.value == "flag":
            if v is not None:
                self.u.bad.append(Bad(v.span, f"{name} takes no value", (f"write just {name}",)))
            return
        if v is None and spec.value != "time":
            self.u.bad.append(Bad(o.key_span, f"{name} needs a value", (f"for example {spec.doc}",)))
            return
        kind = spec.value
        if kind == "time":
            self.time(v, spec.role or "length", name, o.key_span)
        elif kind in ("number", "count"):
            if isinstance(v, ir.Num) and (kind == "number" or v.value.denominator == 1):
                self.bound(v, spec.lo, spec.hi, name)
            else:
                need = "a whole number" if kind == "count" else "a number"
                self.u.bad.append(Bad(v.span, f"{label} needs {need}, not {show(v)}", (f"for example {spec.doc}",)))
        elif kind == "gain":
            if isinstance(v, ir.Gain):
                self.bound(v, spec.lo, spec.hi, name)
            else:
                hint = f"write {show(v)}dB" if isinstance(v, ir.Num) else f"for example {spec.doc}"
                self.u.bad.append(Bad(v.span, f"{label} needs a gain in dB, not {show(v)}", (hint,)))
        elif kind == "string":
            if not isinstance(v, ir.Str):
                self.u.bad.append(Bad(v.span, f"{label} needs a quoted string, not {show(v)}",
                                      (f"for example {spec.doc}",)))
        elif kind == "path":
            if isinstance(v, ir.Str) and spec.asset:
                self.path(v, spec.asset, name)
            else:
                self.u.bad.append(Bad(v.span, f"{label} needs a file path in quotes, not {show(v)}",
                                      (f"for example {spec.doc}",)))
        elif kind == "word":
            if not (isinstance(v, ir.Word) and v.word in spec.words):
                hints = [f"{name} is {schema.or_list(list(spec.words))}"]
                if isinstance(v, ir.Word):
                    hints.insert(0, did_you_mean(v.word, spec.words))
                self.u.bad.append(Bad(v.span, f"{show(v)} is not a {name} direction" if name == "pan"
                                      else f"{show(v)} is not a valid {name}", tuple(hints)))
        elif kind == "tempo":
            if isinstance(v, ir.Tempo):
                self.bound(ir.Num(v.bpm, v.span, v.raw), spec.lo, spec.hi, name)
            else:
                hint = f"write {show(v)}bpm" if isinstance(v, ir.Num) else f"for example {spec.doc}"
                self.u.bad.append(Bad(v.span, f"{label} needs beats a minute, not {show(v)}", (hint,)))
        elif kind == "meter":
            if isinstance(v, ir.Meter):
                if v.beats < 1 or v.beats > 32:
                    self.u.bad.append(Bad(v.span, f"a bar of {v.beats} beats is not a meter",
                                          ("a bar has 1 to 32 beats: 4/4, 3/4, 6/8",)))
                if v.unit not in (1, 2, 4, 8, 16, 32):
                    self.u.bad.append(Bad(v.span, f"{v.unit} is not a note value",
                                          ("the lower number is 1, 2, 4, 8, 16 or 32: 4/4, 3/4, 6/8",)))
            else:
                self.u.bad.append(Bad(v.span, f"{label} needs a meter such as 3/4, not {show(v)}", (f"for example {spec.doc}",)))
        elif kind == "ramp":
            stops = v.stops if isinstance(v, ir.Ramp) else (v,)
            for s in stops:
                if isinstance(s, ir.Num):
                    self.bound(s, spec.lo, spec.hi, name)
                else:
                    self.u.bad.append(Bad(s.span, f"{name} needs numbers, not {show(s)}", (f"for example {spec.doc}",)))

    def options(self, options: tuple[ir.Option, ...], allowed: Mapping[str, OptionSpec], inert: Collection[str],
                bare: tuple[OptionSpec, ...], what: str) -> None:
        seen: dict[str, Span] = {}
        groups: dict[str, tuple[str, Span]] = {}
        candidates = tuple(allowed)
        for o in options:
            if o.key is None:
                self.bare(o, bare, what)
                continue
            spec = allowed.get(o.key)
            self.u.options.append(PlacedOption(o, spec, what, o.key in inert, candidates))
            if spec is None:
                self.scan_code(o.value)
                continue
            if o.key in seen:
                self.u.dups.append(Dup(o.key_span, seen[o.key], f"{o.key} is given twice"))
            seen.setdefault(o.key, o.key_span)
            if spec.group:
                if spec.group in groups and groups[spec.group][0] != o.key:
                    first, first_span = groups[spec.group]
                    self.u.dups.append(Dup(o.key_span, first_span,
                                           f"a {spec.group} is given twice: {first} and {o.key}"))
                groups.setdefault(spec.group, (o.key, o.key_span))
            self.option_value(o, spec, what)

    def bare(self, o: ir.Option, bare: tuple[OptionSpec, ...], what: str) -> None:
        v = o.value
        for spec in bare:
            if spec.value == "time_range" and isinstance(v, ir.Range):
                if isinstance(v.lo, ir.Time) and isinstance(v.hi, ir.Time):
                    self.time(v.lo, "start", "a range", v.lo.span)
                    self.time(v.hi, "start", "a range", v.hi.span)
                    self.u.ranges.append((v, "time range"))
                else:
                    self.u.bad.append(Bad(v.span, f"a range here needs times, not {show(v)}",
                                          ("for example 2s..8s",)))
                return
            if spec.value == "rate" and isinstance(v, ir.Rate):
                return
        if v is None:
            return
        hints: tuple[str, ...] = ()
        if isinstance(v, (ir.Time, ir.Num)) or negative_time(v):
            hints = (f"say what it is: at {show(v)}, for {show(v)} or a range such as 2s..8s",) \
                if any(b.value == "time_range" for b in bare) else ()
        where = f" after {what}" if what else ""
        self.scan_code(v)
        self.u.bad.append(Bad(v.span, f"unexpected {show(v)}{where}", hints))

    # ----------------------------------------------------------------- properties

    def prop(self, p: ir.Property, specs: Mapping[str, PropertySpec], owner: Owner, seen: dict[str, Span]) -> None:
        spec = specs.get(p.key)
        form = match_form(p.value, spec) if spec is not None else None
        self.u.props.append(PlacedProp(p, owner, spec, form, specs))
        if spec is None:
            self.scan_code(p.value)
            for o in p.options:
                self.scan_code(o.value)
            return
        if not spec.repeatable:
            if p.key in seen:
                self.u.dups.append(Dup(p.key_span, seen[p.key], f"{owner.describe} has {p.key} twice"))
            seen.setdefault(p.key, p.key_span)
        what = p.key
        if form is None:
            self.bad_value(p, spec)
            allowed = spec.all_options
        else:
            self.form_facts(p.value, form, spec, what)
            allowed = {o.name: o for o in form.options}
        inert = (set(spec.all_options) | set(spec.inert)) - set(allowed)
        self.options(p.options, allowed, inert, spec.bare, what)

    def bad_value(self, p: ir.Property, spec: PropertySpec) -> None:
        v = p.value
        hints: list[str] = []
        if isinstance(v, ir.Word):
            hints.append(did_you_mean(v.word, spec.keywords))
        elif isinstance(v, ir.Call):
            hints.append(did_you_mean(v.name, ["blend"]))
        elif isinstance(v, ir.Phrase) and isinstance(v.items[0], ir.Word) and v.items[0].word in spec.keywords:
            hints.append(f"separate options with commas: {v.items[0].word}, {show(ir.Phrase(v.items[1:]))}")
        elif isinstance(v, ir.Time) and spec.name in ("seed", "glyphs"):
            hints.append("write a plain number")
        hints.append(f"{p.key} is {spec.expected}")
        self.scan_code(v)
        span = v.span if v is not None else p.key_span
        self.u.bad.append(Bad(span, f"{show(v)} is not a valid {p.key}", tuple(hints)))

    # ----------------------------------------------------------------- the film

    def film(self, film: ir.Film) -> Uses:
        header = Owner("header", "", Span(film.path, 0, 0))
        seen: dict[str, Span] = {}
        for f in film.header.fields:
            self.prop(f, schema.HEADER, header, seen)
        for inc in film.includes:
            if schema.is_forbidden_path(inc.path.text):
                self.u.code.append(inc.path)
        for d in film.definitions:
            if isinstance(d, ir.UnknownDef):
                continue
            owner = Owner(d.kind, d.name, d.name_span)
            specs = schema.DEFINITIONS[d.kind]  # type: ignore[index]
            seen = {}
            for p in d.props:
                self.prop(p, specs, owner, seen)
        for item in film.body:
            if isinstance(item, ir.Scene):
                self.scene(item)
            elif isinstance(item, ir.Transition):
                if item.duration is not None:
                    self.time(item.duration, "length", item.kind, item.duration.span)
                for x in item.extra:
                    if negative_time(x) and item.duration is None:
                        self.time(x, "length", item.kind, x.span)
                    else:
                        self.u.bad.append(Bad(x.span, f"unexpected {show(x)} after {item.kind}",
                                              ("a transition takes one duration, e.g. CROSSFADE TO: 1s",)))
            elif isinstance(item, ir.Credits):
                if item.alphabet is not None:
                    self.ref(ir.Word(item.alphabet, item.alphabet_span), "alphabet", "the credits' alphabet")
                if item.duration is not None:
                    self.time(item.duration, "length", "the credits", item.duration.span)
                self.options(item.options, schema.CREDITS_OPTIONS, _DIRECTIVE_OPTION_NAMES, (), "CREDITS")
        return self.u

    def scene(self, scene: ir.Scene) -> None:
        h = scene.heading
        name = (f"{h.number} " if h.number else "") + (f'"{h.title}"' if h.style == "scene" and h.title else h.title)
        owner = Owner("scene", name.strip(), h.span)
        if scene.duration is not None:
            self.time(scene.duration, "length", "a scene", scene.duration.span)
        self.options(scene.options, schema.SCENE_OPTIONS, (), (), "")
        directive_names = _DIRECTIVE_OPTION_NAMES
        for item in scene.items:
            if isinstance(item, ir.Property):
                self.prop(item, schema.DIRECTIVES, owner, {})
            elif isinstance(item, ir.ActionLine):
                self.options(item.options, schema.ACTION_LINE_OPTIONS, directive_names - set(schema.ACTION_LINE_OPTIONS),
                             (), "an action line")
            elif isinstance(item, ir.Beat):
                self.ref(ir.Word(item.character, item.name_span), "character", "a beat")
                self.options(item.options, schema.BEAT_OPTIONS, schema.BEAT_INERT, (), f"{item.character}'s beat")
                for line in item.lines:
                    self.beat_line(line, directive_names)

    def beat_line(self, line: ir.BeatLine, directive_names: frozenset[str]) -> None:
        if isinstance(line, ir.Dialogue):
            self.options(line.options, schema.DIALOGUE_OPTIONS, directive_names, (), "a line")
        elif isinstance(line, ir.Parenthetical):
            if line.pause is not None:
                self.time(line.pause, "fade", "pause", line.pause.span)
        elif isinstance(line, ir.Action):
            action = schema.ACTIONS.get(line.verb)
            verb_span = Span(line.span.file, line.span.start, line.span.start + len(line.verb))
            if action is None:
                hints = [did_you_mean(line.verb, schema.ACTIONS)] if line.verb else []
                hints.append('a beat holds "quoted lines", (parentheticals) and actions such as '
                             + schema.ACTIONS["sings"].doc)
                if line.verb:
                    hints.append(f"write stage directions as a parenthetical: ({line.verb} …)")
                    self.u.bad.append(Bad(verb_span, f"a character cannot {line.verb!r} here", tuple(hints)))
                else:
                    span = line.target.span if line.target is not None else line.span
                    self.u.bad.append(Bad(span, f"unexpected {show(line.target)} in a beat", tuple(hints)))
                return
            if isinstance(line.target, ir.Word):
                self.ref(line.target, action.refers, line.verb)
            else:
                span = line.target.span if line.target is not None else verb_span
                self.u.bad.append(Bad(span, f"{line.verb} needs a music cue's name", (f"for example {action.doc}",)))
            allowed = {o.name: o for o in action.options}
            self.options(line.options, allowed, directive_names - set(allowed), (), line.verb)


def walk(film: ir.Film) -> Uses:
    """Place every value of ``film`` against the schema (see the module's docstring)."""
    return _Walker().film(film)
