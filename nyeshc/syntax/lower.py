"""Syntax → IR: the one lowering. Builds nodes with spans and validates nothing.

Both readers lower through :class:`Lowerer`'s handlers, one per grammar rule: the fast path
(:mod:`nyeshc.syntax.fast`) calls them as its LALR loop reduces, the reference path
(:func:`lower`) on the Lark tree of a text with syntax errors (after its recovery) or when the
fast path is off. So both give the same IR by construction; what differs is only how the
rule's children are found.

The grammar hands over loose runs of atoms; lowering gives them their shape:

* a property's first value is its value, the rest are options;
* an option's leading word is its key (``fade in`` and ``fade out`` are two-word keys), what
  follows is its value, and a lone word is a flag (``bottom``);
* ``morph A -> B`` is a :class:`~nyeshc.ir.Morph`, other ``a -> b`` chains are ramps;
* ``seed N`` is a :class:`~nyeshc.ir.Seed`, ``driven "f"`` a :class:`~nyeshc.ir.Driven`,
  ``NAME "text"`` a :class:`~nyeshc.ir.Styled` text.
"""

from __future__ import annotations

import dataclasses
import re
import textwrap
from fractions import Fraction

from typing import Any, Callable

from nyeshc import ir
from nyeshc.diagnostics import Span

TWO_WORD_KEYS = {("fade", "in"): "fade in", ("fade", "out"): "fade out"}

_TIME_CLOCK = re.compile(r"^(\d+):(\d\d)(?::(\d\d))?(\.\d+)?$")
_TIME_UNIT = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|f)$")


def parse_time(raw: str) -> tuple[Fraction, str] | None:
    """``"1:30"`` → ``(90, "s")``; ``"500ms"`` → ``(1/2, "s")``; ``"48f"`` → ``(48, "f")``.

    >>> parse_time("0:12.5")
    (Fraction(25, 2), 's')
    >>> parse_time("1:02:03")
    (Fraction(3723, 1), 's')
    """
    m = _TIME_CLOCK.match(raw)
    if m:
        a, b, c, frac = m.groups()
        if c is None:
            seconds = Fraction(int(a) * 60 + int(b))
        else:
            seconds = Fraction(int(a) * 3600 + int(b) * 60 + int(c))
        if frac:
            seconds += Fraction(frac)
        return seconds, "s"
    m = _TIME_UNIT.match(raw)
    if m:
        amount, unit = Fraction(m.group(1)), m.group(2)
        if unit == "ms":
            return amount / 1000, "s"
        return amount, unit
    return None


def unescape(body: str) -> str:
    if "\\" not in body:
        return body
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body, flags=re.S)


def long_string_text(raw: str) -> str:
    """The text of a ``\"\"\"…\"\"\"`` string: common indentation stripped, the first and last
    lines dropped when they hold only the quotes' line breaks."""
    body = raw[3:-3]
    if body.startswith("\n"):
        body = body[1:]
    elif body.startswith("\r\n"):
        body = body[2:]
    body = textwrap.dedent(body)
    lines = body.split("\n")
    if lines and not lines[-1].strip():
        lines = lines[:-1]
    return unescape("\n".join(line.rstrip() for line in lines))


_Str, _Num, _Time, _Word, _Property, _Note = ir.Str, ir.Num, ir.Time, ir.Word, ir.Property, ir.Note


def _maker(cls: type) -> Callable[..., Any]:
    """A constructor for the frozen, slotted dataclass ``cls`` taking the same arguments as
    ``cls(...)`` and giving an equal object, about twice as fast: it sets the slots directly
    instead of through the frozen ``__setattr__`` guard (``cls`` has no ``__post_init__``)."""
    fields = dataclasses.fields(cls)
    if (not dataclasses.is_dataclass(cls) or hasattr(cls, "__post_init__") or "__slots__" not in cls.__dict__
            or any(not f.init for f in fields)):
        return cls
    params, lines = [], []
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    for i, f in enumerate(fields):
        if f.default is not dataclasses.MISSING:
            namespace[f"_d{i}"] = f.default
            params.append(f"{f.name}=_d{i}")
        elif f.default_factory is not dataclasses.MISSING:
            return cls
        else:
            params.append(f.name)
        namespace[f"_s{i}"] = getattr(cls, f.name).__set__
        lines.append(f"    _s{i}(o, {f.name})")
    source = f"def new({', '.join(params)}):\n    o = _new(_cls)\n" + "\n".join(lines) + "\n    return o"
    exec(compile(source, f"<new {cls.__name__}>", "exec"), namespace)  # noqa: S102 - built from the fields
    return namespace["new"]  # type: ignore[no-any-return]


_span = _maker(Span)
new_Action = _maker(ir.Action)
new_GridTime = _maker(ir.GridTime)
_GRID = {"bar": "bar", "beat": "beat", "bars": "bar", "beats": "beat"}
new_Tempo = _maker(ir.Tempo)
new_Meter = _maker(ir.Meter)
new_ActionLine = _maker(ir.ActionLine)
new_Beat = _maker(ir.Beat)
new_Call = _maker(ir.Call)
new_Colour = _maker(ir.Colour)
new_Credits = _maker(ir.Credits)
new_Dialogue = _maker(ir.Dialogue)
new_Driven = _maker(ir.Driven)
new_Film = _maker(ir.Film)
new_Gain = _maker(ir.Gain)
new_Header = _maker(ir.Header)
new_Heading = _maker(ir.Heading)
new_Include = _maker(ir.Include)
new_Morph = _maker(ir.Morph)
new_Note = _maker(ir.Note)
new_Num = _maker(ir.Num)
new_Option = _maker(ir.Option)
new_Parenthetical = _maker(ir.Parenthetical)
new_Percent = _maker(ir.Percent)
new_Phrase = _maker(ir.Phrase)
new_Property = _maker(ir.Property)
new_Ramp = _maker(ir.Ramp)
new_Range = _maker(ir.Range)
new_Rate = _maker(ir.Rate)
new_Scene = _maker(ir.Scene)
new_Seed = _maker(ir.Seed)
new_Size = _maker(ir.Size)
new_Str = _maker(ir.Str)
new_Styled = _maker(ir.Styled)
new_Time = _maker(ir.Time)
new_Transition = _maker(ir.Transition)
new_UnknownDef = _maker(ir.UnknownDef)
new_Word = _maker(ir.Word)


# --------------------------------------------------------------------------- the handlers


class Lowerer:
    """The one lowering: a method per grammar rule (or alias) that takes the rule's children
    as the tree builder leaves them and returns IR. Tokens are tuples ``(type, text, start,
    end)``; a ``term`` is a list of atoms (IR values), a ``value`` a list of terms, ``values`` a
    list of values. The fast path calls these at reduce time (:mod:`nyeshc.syntax.fast`); the
    reference path calls them on Lark's tree (:func:`lower`)."""

    def __init__(self, file: str, text_length: int) -> None:
        self.file = file
        self.text_length = text_length
        self.fractions: dict[str, Fraction] = {}
        self.times: dict[str, tuple[Fraction, str]] = {}

    # ----------------------------------------------------------------- atoms

    def _frac(self, raw: str) -> Fraction:
        f = self.fractions.get(raw)
        if f is None:
            f = self.fractions[raw] = Fraction(raw)
        return f

    def atom(self, tok: tuple[str, str, int, int]) -> ir.Value:
        kind, raw, start, end = tok
        span = _span(self.file, start, end)
        if kind == "NAME":
            return new_Word(raw, span)
        if kind == "STRING":
            return new_Str(unescape(raw[1:-1]), span)
        if kind == "TIME":
            parsed = self.times.get(raw)
            if parsed is None:
                parsed = parse_time(raw)
                assert parsed is not None, raw
                self.times[raw] = parsed
            return new_Time(parsed[0], parsed[1], span, raw)  # type: ignore[arg-type]
        if kind == "NUMBER":
            return new_Num(self._frac(raw), span, raw)
        if kind == "LONGSTRING":
            return new_Str(long_string_text(raw), span, triple=True)
        if kind == "GAIN":
            return new_Gain(self._frac(raw[:-2]), span, raw)
        if kind == "PERCENT":
            return new_Percent(self._frac(raw[:-1]), span, raw)
        if kind == "COLOUR":
            return new_Colour(raw.lower(), span)
        if kind == "SIZE":
            w, h = raw.split("x")
            return new_Size(int(w), int(h), span)
        if kind == "RATE":
            return new_Rate(self._frac(raw[:-3]), span, raw)
        if kind == "TEMPO":
            return new_Tempo(self._frac(raw[:-3]), span, raw)
        if kind == "METER":
            beats, unit = raw.split("/")
            return new_Meter(int(beats), int(unit), span, raw)
        return new_Word(raw, span)

    # ``term`` (its atoms, lowered by the ``_atom`` reductions), ``value`` (its terms) and
    # ``values`` are the lists themselves
    IDENTITY = frozenset({"term", "value", "values"})

    def atom_NAME(self, tok: tuple[str, str, int, int]) -> ir.Word:
        return new_Word(tok[1], _span(self.file, tok[2], tok[3]))

    def atom_STRING(self, tok: tuple[str, str, int, int]) -> ir.Str:
        raw = tok[1]
        return new_Str(unescape(raw[1:-1]), _span(self.file, tok[2], tok[3]))

    def atom_TIME(self, tok: tuple[str, str, int, int]) -> ir.Time:
        raw = tok[1]
        parsed = self.times.get(raw)
        if parsed is None:
            parsed = parse_time(raw)
            assert parsed is not None, raw
            self.times[raw] = parsed
        return new_Time(parsed[0], parsed[1], _span(self.file, tok[2], tok[3]), raw)

    def atom_NUMBER(self, tok: tuple[str, str, int, int]) -> ir.Num:
        raw = tok[1]
        value = self.fractions.get(raw)
        if value is None:
            value = self.fractions[raw] = Fraction(raw)
        return new_Num(value, _span(self.file, tok[2], tok[3]), raw)

    def range(self, x: list[Any]) -> ir.Range:
        lo, hi = x
        return new_Range(self.atom(lo), self.atom(hi), _span(self.file, lo[2], hi[3]))

    def call(self, x: list[Any]) -> ir.Call:
        name = x[0]
        if len(x) > 1:
            values = x[1]
            lower = self.lower_value
            return new_Call(name[1], tuple(lower(v) for v in values),
                           _span(self.file, name[2], values[-1][-1][-1].span.end))
        return new_Call(name[1], (), _span(self.file, name[2], name[3]))

    # ----------------------------------------------------------------- values (Lowerer's logic)

    def atoms_value(self, atoms: list[ir.Value], span: Span) -> ir.Value:
        if len(atoms) == 1:
            return atoms[0]
        first = atoms[0]
        if type(first) is _Word and len(atoms) == 2:
            second = atoms[1]
            if first.word == "seed" and type(second) is _Num and second.value.denominator == 1:
                return new_Seed(int(second.value), span)
            if first.word == "driven" and type(second) is _Str:
                return new_Driven(second, span)
            if type(second) is _Str:
                return new_Styled(first, second, span)
            if first.word in _GRID and type(second) is _Num:
                return new_GridTime(_GRID[first.word], second.value, True, span)
        elif len(atoms) == 2 and type(first) is _Num and type(atoms[1]) is _Word and atoms[1].word in _GRID:
            return new_GridTime(_GRID[atoms[1].word], first.value, False, span)
        return new_Phrase(tuple(atoms), span)

    def term_value(self, term: list[ir.Value]) -> ir.Value:
        if len(term) == 1:
            return term[0]
        return self.atoms_value(term, _span(self.file, term[0].span.start, term[-1].span.end))

    def chain(self, first: list[ir.Value], first_span: Span | None, rest: list[list[ir.Value]], span: Span) -> ir.Value:
        if first and type(first[0]) is _Word and first[0].word == "morph":
            head = first[1:]
            stops = ([self.atoms_value(head, _span(self.file, head[0].span.start, head[-1].span.end))]
                     if head else [])
            stops += [self.term_value(t) for t in rest]
            return new_Morph(tuple(stops), span)
        if first_span is None:
            first_span = _span(self.file, first[0].span.start, first[-1].span.end)
        if not rest:
            return self.atoms_value(first, first_span)
        stops = [self.atoms_value(first, first_span)]
        stops += [self.term_value(t) for t in rest]
        return new_Ramp(tuple(stops), span)

    def lower_value(self, v: list[list[ir.Value]]) -> ir.Value:
        first = v[0]
        if len(v) == 1:
            if len(first) == 1:
                atom = first[0]
                if type(atom) is not _Word or atom.word != "morph":
                    return atom
            span = _span(self.file, first[0].span.start, first[-1].span.end)
            return self.chain(first, span, [], span)
        return self.chain(first, None, v[1:], _span(self.file, first[0].span.start, v[-1][-1].span.end))

    def option(self, v: list[list[ir.Value]]) -> ir.Option:
        atoms = v[0]
        file = self.file
        head = atoms[0]
        span = _span(file, head.span.start, v[-1][-1].span.end)
        if type(head) is not _Word or (len(atoms) == 1 and len(v) > 1):
            return new_Option(None, self.lower_value(v), span)
        key, used, key_span = head.word, 1, head.span
        if len(atoms) > 1 and type(atoms[1]) is _Word:
            pair = (head.word, atoms[1].word)
            if pair in TWO_WORD_KEYS:
                key, used, key_span = TWO_WORD_KEYS[pair], 2, _span(file, key_span.start, atoms[1].span.end)
        rest = atoms[used:]
        if not rest:
            if len(v) == 1:
                return new_Option(key, None, span, key_span)
            return new_Option(None, self.lower_value(v), span)
        if len(v) == 1 and len(rest) == 1 and (type(rest[0]) is not _Word or rest[0].word != "morph"):
            return new_Option(key, rest[0], span, key_span)  # what chain() gives for one atom
        rest_span = _span(file, rest[0].span.start, rest[-1].span.end)
        value_span = _span(file, rest_span.start, span.end)
        return new_Option(key, self.chain(rest, rest_span, v[1:], value_span), span, key_span)

    def options(self, values: list[Any] | None) -> tuple[ir.Option, ...]:
        if values is None:
            return ()
        option = self.option
        return tuple([option(v) for v in values])

    # ----------------------------------------------------------------- statements

    def prop(self, x: list[Any]) -> ir.Property:
        key, values = x
        option = self.option
        return new_Property(key[1], self.lower_value(values[0]), tuple([option(v) for v in values[1:]]),
                         _span(self.file, key[2], values[-1][-1][-1].span.end), _span(self.file, key[2], key[3]))

    header_field = bare_prop = prop

    def note_line(self, x: list[Any]) -> ir.Note:
        tok = x[0]
        return new_Note(tok[1][2:-2].strip(), _span(self.file, tok[2], tok[3]))

    def paren(self, x: list[Any]) -> ir.Parenthetical:
        _, raw, start, end = x[0]
        text = raw[1:-1].strip()
        pause = None
        if text.startswith("pause"):
            m = re.fullmatch(r"pause\s+(\S+)", text)
            if m and (parsed := parse_time(m.group(1))):
                amount, unit = parsed
                at = start + 1 + raw[1:].index(m.group(1))
                pause = new_Time(amount, unit, _span(self.file, at, at + len(m.group(1))), m.group(1))  # type: ignore[arg-type]
        return new_Parenthetical(text, pause, _span(self.file, start, end))

    def line(self, x: list[Any]) -> ir.Dialogue | ir.Action:
        values = x[0]
        first = values[0]
        span = _span(self.file, first[0][0].span.start, values[-1][-1][-1].span.end)
        atoms = first[0]
        head = atoms[0]
        option = self.option
        if type(head) is _Str and len(atoms) == 1 and len(first) == 1:
            return new_Dialogue(head, tuple([option(v) for v in values[1:]]), span)
        if type(head) is _Word:
            target_atoms = atoms[1:]
            target = None
            if target_atoms:
                tspan = _span(self.file, target_atoms[0].span.start, target_atoms[-1].span.end)
                target = self.chain(target_atoms, tspan, first[1:], tspan)
            return new_Action(head.word, target, tuple([option(v) for v in values[1:]]), span)
        return new_Action("", self.lower_value(first), tuple([option(v) for v in values[1:]]), span)

    def beat(self, x: list[Any]) -> ir.Beat:
        name = x[0]
        values = None
        items = x[1:]
        extension, extension_span, dual, dual_span = None, ir.NO_SPAN, False, ir.NO_SPAN
        if type(items[0]) is tuple and items[0][0] == "PAREN":
            tok = items[0]
            extension, extension_span = cue_extension(tok[1]), _span(self.file, tok[2], tok[3])
            items = items[1:]
        if type(items[0]) is tuple and items[0][0] == "CARET":
            tok = items[0]
            dual, dual_span = True, _span(self.file, tok[2], tok[3])
            items = items[1:]
        if type(items[0]) is list:
            values, items = items[0], items[1:]
        return new_Beat(name[1], self.options(values), tuple(items),
                        _span(self.file, name[2], items[-1].span.end), _span(self.file, name[2], name[3]),
                        extension, extension_span, dual, dual_span)

    def action_line(self, x: list[Any]) -> ir.ActionLine:
        tok = x[0]
        text = self.atom(tok)
        values = x[1] if len(x) > 1 else None
        end = values[-1][-1][-1].span.end if values else tok[3]
        return new_ActionLine(text, self.options(values), _span(self.file, tok[2], end))

    def scene_heading(self, x: list[Any]) -> ir.Heading:
        number = None
        title = ""
        for c in x[1:]:
            if c[0] == "NUMBER":
                number = c[1]
            else:
                title = self.atom(c).text  # type: ignore[union-attr]
        return new_Heading("scene", number, title, _span(self.file, x[0][2], x[-1][3]))

    def fountain_heading(self, x: list[Any]) -> ir.Heading:
        _, raw, start, _end = x[0]
        text = raw.strip()
        return new_Heading("fountain", None, text, _span(self.file, start, start + len(text)))

    def _split_duration(self, opts: tuple[ir.Option, ...]) -> tuple[ir.Time | None, tuple[ir.Option, ...]]:
        for i, o in enumerate(opts):
            if o.key is None and type(o.value) is _Time:
                return o.value, opts[:i] + opts[i + 1:]
        return None, opts

    def scene(self, x: list[Any]) -> ir.Scene:
        heading = x[0]
        rest = x[1:]
        values = None
        if type(rest[0]) is list:
            values, rest = rest[0], rest[1:]
        duration, opts = self._split_duration(self.options(values))
        return new_Scene(heading, duration, opts, tuple(rest), _span(self.file, heading.span.start, rest[-1].span.end))

    def transition(self, x: list[Any]) -> ir.Transition:
        tok = x[0]
        kind = transition_kind(tok[1])
        duration = None
        extra: list[ir.Value] = []
        end = tok[3]
        if len(x) > 1:
            values = x[1]
            end = values[-1][-1][-1].span.end
            for v in values:
                val = self.lower_value(v)
                if duration is None and type(val) is _Time:
                    duration = val
                else:
                    extra.append(val)
        return new_Transition(kind, duration, _span(self.file, tok[2], end), tuple(extra))

    def credits(self, x: list[Any]) -> ir.Credits:
        children = x[1:]
        alphabet, alphabet_span = None, _span(self.file, 0, 0)
        if type(children[0]) is tuple and children[0][0] == "NAME":
            tok = children[0]
            alphabet, alphabet_span = tok[1], _span(self.file, tok[2], tok[3])
            children = children[1:]
        values = None
        if type(children[0]) is list:
            values, children = children[0], children[1:]
        duration, opts = self._split_duration(self.options(values))
        lines: list[ir.Str] = []
        notes: list[ir.Note] = []
        for c in children:
            if type(c) is _Note:
                notes.append(c)
            elif type(c) is ir.Dialogue:
                lines.append(c.text)
            else:
                lines.append(new_Str(plain_text(c), c.span))
        return new_Credits(alphabet, duration, opts, tuple(lines), _span(self.file, x[0][2], x[-1].span.end),
                          alphabet_span, tuple(notes))

    def definition(self, x: list[Any]) -> ir.Definition:
        kind, name, *items = x
        props = tuple([i for i in items if type(i) is _Property])
        notes = tuple([i for i in items if type(i) is _Note])
        span, name_span = _span(self.file, kind[2], items[-1].span.end), _span(self.file, name[2], name[3])
        cls = ir.DEFINITION_KINDS.get(kind[1])
        if cls is None:
            return new_UnknownDef(kind[1], name[1], props, span, name_span, notes)
        return cls(name[1], props, span, name_span, notes)  # type: ignore[no-any-return]

    def include(self, x: list[Any]) -> ir.Include:
        inc, path = x
        return new_Include(self.atom(path), _span(self.file, inc[2], path[3]))  # type: ignore[arg-type]

    def start(self, x: list[Any]) -> ir.Film:
        header: list[ir.Property] = []
        includes: list[ir.Include] = []
        definitions: list[ir.Definition] = []
        body: list[ir.BodyItem] = []
        notes: list[ir.Note] = []
        for node in x:
            t = type(node)
            if t is ir.Scene or t is ir.Transition or t is ir.Credits:
                body.append(node)
            elif t is _Property:
                header.append(node)
            elif t is _Note:
                notes.append(node)
                body.append(node)
            elif t is ir.Include:
                includes.append(node)
            else:
                definitions.append(node)
        return new_Film(self.file, new_Header(tuple(header)), tuple(includes), tuple(definitions), tuple(body),
                       tuple(notes), _span(self.file, 0, self.text_length))


def cue_extension(paren: str) -> str:
    """``(V.O.)`` → ``V.O.`` (as written, spaces collapsed)."""
    return " ".join(paren[1:-1].split())


def transition_kind(token: str) -> str:
    """A transition's words as written, without the colon: ``FADE OUT.`` keeps its full stop
    (it is how screenwriters end a script)."""
    words = " ".join(token.split())
    return words[:-1] if words.endswith(":") else words


def plain_text(line: ir.BeatLine) -> str:
    """A credits line that is not a string, as the words it shows: an action's verb and target
    (``directed by``), a parenthetical in its brackets; anything else is empty. Both lowerers
    (this one and ``fast.py``) make the credits' lines with it."""
    if isinstance(line, ir.Action):
        words = [line.verb] if line.verb else []
        if isinstance(line.target, ir.Word):
            words.append(line.target.word)
        return " ".join(words)
    if isinstance(line, ir.Parenthetical):
        return f"({line.text})"
    return ""


class TreeLowerer:
    """:class:`Lowerer`'s handlers over a Lark tree (the reference path, and the formatter,
    which lowers single nodes of the tree it prints)."""

    def __init__(self, file: str, text_length: int = 0) -> None:
        self.handlers = Lowerer(file, text_length)

    def children(self, node: Any) -> Any:
        """What the rule's handler takes for ``node``: a token as a tuple, a ``term`` as its
        atoms, a ``value``/``values`` as the list of its children, any other rule as its
        handler's IR."""
        if not hasattr(node, "data"):  # a lark.Token (a str subclass)
            return (node.type, str(node), node.start_pos or 0, node.end_pos or 0)
        kids = [self.children(c) for c in node.children]
        name = str(node.data)
        if name == "term":
            atom = self.handlers.atom
            return [atom(k) if type(k) is tuple else k for k in kids]
        if name in Lowerer.IDENTITY:
            return kids
        return getattr(self.handlers, name)(kids)

    def atom(self, node: Any) -> ir.Value:
        got = self.children(node)
        return self.handlers.atom(got) if type(got) is tuple else got  # type: ignore[no-any-return]

    def value(self, node: Any) -> ir.Value:
        return self.handlers.lower_value(self.children(node))

    def option(self, node: Any) -> ir.Option:
        return self.handlers.option(self.children(node))


def lower(tree: Any, file: str, text_length: int = 0) -> ir.Film:
    """The IR of one parsed file (``tree``: :func:`nyeshc.syntax.parse.parse`'s Lark tree)."""
    return TreeLowerer(file, text_length).children(tree)  # type: ignore[no-any-return]
