"""Syntax tree → IR. Builds nodes with spans and validates nothing.

The grammar hands over loose runs of atoms; lowering gives them their shape:

* a property's first value is its value, the rest are options;
* an option's leading word is its key (``fade in`` and ``fade out`` are two-word keys), what
  follows is its value, and a lone word is a flag (``bottom``);
* ``morph A -> B`` is a :class:`~nyeshc.ir.Morph`, other ``a -> b`` chains are ramps;
* ``seed N`` is a :class:`~nyeshc.ir.Seed`, ``driven "f"`` a :class:`~nyeshc.ir.Driven`,
  ``NAME "text"`` a :class:`~nyeshc.ir.Styled` text.
"""

from __future__ import annotations

import re
import textwrap
from fractions import Fraction

from lark import Token, Tree

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


class Lowerer:
    def __init__(self, file: str) -> None:
        self.file = file

    # ----------------------------------------------------------------- spans

    def tspan(self, tok: Token) -> Span:
        return Span(self.file, tok.start_pos or 0, tok.end_pos or 0)

    def nspan(self, node: Tree | Token) -> Span:
        if isinstance(node, Token):
            return self.tspan(node)
        first = last = node
        while isinstance(first, Tree):
            if not first.children:
                return Span(self.file, 0, 0)
            first = first.children[0]
        while isinstance(last, Tree):
            last = last.children[-1]
        return Span(self.file, first.start_pos or 0, last.end_pos or 0)

    def join(self, a: Span, b: Span) -> Span:
        return Span(self.file, min(a.start, b.start), max(a.end, b.end))

    # ----------------------------------------------------------------- atoms

    def atom(self, node: Tree | Token) -> ir.Value:
        if isinstance(node, Tree):
            if node.data == "range":
                lo, hi = node.children
                return ir.Range(self.atom(lo), self.atom(hi), self.nspan(node))
            if node.data == "call":
                name = node.children[0]
                args: tuple[ir.Value, ...] = ()
                if len(node.children) > 1:
                    args = tuple(self.value(v) for v in node.children[1].children)
                return ir.Call(str(name), args, self.nspan(node))
            raise AssertionError(node.data)
        raw = str(node)
        span = self.tspan(node)
        kind = node.type
        if kind == "STRING":
            return ir.Str(unescape(raw[1:-1]), span)
        if kind == "LONGSTRING":
            return ir.Str(long_string_text(raw), span, triple=True)
        if kind == "NUMBER":
            return ir.Num(Fraction(raw), span, raw)
        if kind == "TIME":
            parsed = parse_time(raw)
            assert parsed is not None, raw
            amount, unit = parsed
            return ir.Time(amount, unit, span, raw)  # type: ignore[arg-type]
        if kind == "GAIN":
            return ir.Gain(Fraction(raw[:-2]), span, raw)
        if kind == "PERCENT":
            return ir.Percent(Fraction(raw[:-1]), span, raw)
        if kind == "COLOUR":
            return ir.Colour(raw.lower(), span)
        if kind == "SIZE":
            w, h = raw.split("x")
            return ir.Size(int(w), int(h), span)
        if kind == "RATE":
            return ir.Rate(Fraction(raw[:-3]), span, raw)
        if kind == "TEMPO":
            return ir.Tempo(Fraction(raw[:-3]), span, raw)
        if kind == "METER":
            beats, unit = raw.split("/")
            return ir.Meter(int(beats), int(unit), span, raw)
        return ir.Word(raw, span)

    def atoms_value(self, atoms: list[ir.Value], span: Span) -> ir.Value:
        """A run of atoms side by side → one value."""
        if len(atoms) == 1:
            return atoms[0]
        first = atoms[0]
        if isinstance(first, ir.Word) and len(atoms) == 2:
            second = atoms[1]
            if first.word == "seed" and isinstance(second, ir.Num) and second.value.denominator == 1:
                return ir.Seed(int(second.value), span)
            if first.word == "driven" and isinstance(second, ir.Str):
                return ir.Driven(second, span)
            if isinstance(second, ir.Str):
                return ir.Styled(first, second, span)
            if first.word in ("bar", "beat", "bars", "beats") and isinstance(second, ir.Num):
                return ir.GridTime(ir.GRID_UNITS[first.word], second.value, True, span)  # type: ignore[arg-type]
        elif len(atoms) == 2 and isinstance(first, ir.Num) and isinstance(atoms[1], ir.Word) \
                and atoms[1].word in ir.GRID_UNITS:
            return ir.GridTime(ir.GRID_UNITS[atoms[1].word], first.value, False, span)  # type: ignore[arg-type]
        return ir.Phrase(tuple(atoms), span)

    def term_atoms(self, term: Tree) -> list[ir.Value]:
        return [self.atom(c) for c in term.children]

    def chain(self, first: list[ir.Value], first_span: Span, rest: list[Tree], span: Span) -> ir.Value:
        """``first -> rest…``: a morph when ``first`` starts with the word ``morph``."""
        if first and isinstance(first[0], ir.Word) and first[0].word == "morph":
            head = first[1:]
            stops = ([self.atoms_value(head, self.join(head[0].span, head[-1].span))] if head else [])
            stops += [self.atoms_value(self.term_atoms(t), self.nspan(t)) for t in rest]
            return ir.Morph(tuple(stops), span)
        if not rest:
            return self.atoms_value(first, first_span)
        stops = [self.atoms_value(first, first_span)]
        stops += [self.atoms_value(self.term_atoms(t), self.nspan(t)) for t in rest]
        return ir.Ramp(tuple(stops), span)

    def value(self, node: Tree) -> ir.Value:
        terms = node.children
        first = self.term_atoms(terms[0])
        return self.chain(first, self.nspan(terms[0]), list(terms[1:]), self.nspan(node))

    def option(self, node: Tree) -> ir.Option:
        terms = node.children
        atoms = self.term_atoms(terms[0])
        span = self.nspan(node)
        head = atoms[0]
        if not isinstance(head, ir.Word) or (len(atoms) == 1 and len(terms) > 1):
            return ir.Option(None, self.value(node), span)
        key, used, key_span = head.word, 1, head.span
        if len(atoms) > 1 and isinstance(atoms[1], ir.Word):
            pair = (head.word, atoms[1].word)
            if pair in TWO_WORD_KEYS:
                key, used, key_span = TWO_WORD_KEYS[pair], 2, self.join(head.span, atoms[1].span)
        rest = atoms[used:]
        if not rest and len(terms) == 1:
            return ir.Option(key, None, span, key_span)
        rest_span = self.join(rest[0].span, rest[-1].span) if rest else key_span
        if not rest:  # "fade in -> 2s" has no first stop: keep the run as a bare value, as "zoom -> 2" is
            return ir.Option(None, self.value(node), span)
        value_span = Span(self.file, rest_span.start, span.end)
        return ir.Option(key, self.chain(rest, rest_span, list(terms[1:]), value_span), span, key_span)

    def options(self, values: Tree | None) -> tuple[ir.Option, ...]:
        if values is None:
            return ()
        return tuple(self.option(v) for v in values.children)

    # ----------------------------------------------------------------- statements

    def prop(self, node: Tree) -> ir.Property:
        key, values = node.children
        first, *rest = values.children
        return ir.Property(str(key), self.value(first), tuple(self.option(v) for v in rest),
                           self.nspan(node), self.tspan(key))

    def note(self, node: Tree) -> ir.Note:
        tok = node.children[0]
        return ir.Note(str(tok)[2:-2].strip(), self.tspan(tok))

    def definition(self, node: Tree) -> ir.Definition:
        kind, name, *items = node.children
        props = tuple(self.prop(i) for i in items if i.data == "prop")
        notes = tuple(self.note(i) for i in items if i.data == "note_line")
        span, name_span = self.nspan(node), self.tspan(name)
        cls = ir.DEFINITION_KINDS.get(str(kind))
        if cls is None:
            return ir.UnknownDef(str(kind), str(name), props, span, name_span, notes)
        return cls(str(name), props, span, name_span, notes)

    def _split_duration(self, opts: tuple[ir.Option, ...]) -> tuple[ir.Time | None, tuple[ir.Option, ...]]:
        for i, o in enumerate(opts):
            if o.key is None and isinstance(o.value, ir.Time):
                return o.value, opts[:i] + opts[i + 1 :]
        return None, opts

    def beat_line(self, node: Tree) -> ir.BeatLine:
        if node.data == "paren":
            tok = node.children[0]
            text = str(tok)[1:-1].strip()
            pause = None
            m = re.fullmatch(r"pause\s+(\S+)", text)
            if m and (parsed := parse_time(m.group(1))):
                amount, unit = parsed
                start = (tok.start_pos or 0) + 1 + str(tok)[1:].index(m.group(1))
                pause = ir.Time(amount, unit, Span(self.file, start, start + len(m.group(1))), m.group(1))  # type: ignore[arg-type]
            return ir.Parenthetical(text, pause, self.tspan(tok))
        if node.data == "note_line":
            return self.note(node)
        values = node.children[0]
        first, *rest = values.children
        span = self.nspan(node)
        atoms = self.term_atoms(first.children[0])
        if isinstance(atoms[0], ir.Str) and len(atoms) == 1 and len(first.children) == 1:
            return ir.Dialogue(atoms[0], tuple(self.option(v) for v in rest), span)
        if isinstance(atoms[0], ir.Word):
            verb = atoms[0]
            target_atoms = atoms[1:]
            target = None
            if target_atoms:
                tspan = self.join(target_atoms[0].span, target_atoms[-1].span)
                target = self.chain(target_atoms, tspan, list(first.children[1:]), tspan)
            return ir.Action(verb.word, target, tuple(self.option(v) for v in rest), span)
        # something that is neither a line nor an action: keep it as an action without verb
        return ir.Action("", self.value(first), tuple(self.option(v) for v in rest), span)

    def beat(self, node: Tree) -> ir.Beat:
        name = node.children[0]
        values = None
        items = node.children[1:]
        extension, extension_span, dual, dual_span = None, ir.NO_SPAN, False, ir.NO_SPAN
        if items and isinstance(items[0], Token) and items[0].type == "PAREN":
            extension, extension_span = cue_extension(str(items[0])), self.tspan(items[0])
            items = items[1:]
        if items and isinstance(items[0], Token) and items[0].type == "CARET":
            dual, dual_span = True, self.tspan(items[0])
            items = items[1:]
        if items and isinstance(items[0], Tree) and items[0].data == "values":
            values, items = items[0], items[1:]
        return ir.Beat(str(name), self.options(values), tuple(self.beat_line(i) for i in items),
                       self.nspan(node), self.tspan(name), extension, extension_span, dual, dual_span)

    def action_line(self, node: Tree) -> ir.ActionLine:
        text = self.atom(node.children[0])
        values = node.children[1] if len(node.children) > 1 else None
        return ir.ActionLine(text, self.options(values), self.nspan(node))  # type: ignore[arg-type]

    def scene(self, node: Tree) -> ir.Scene:
        heading_node, *rest = node.children
        if heading_node.data == "scene_heading":
            number = None
            title = ""
            for c in heading_node.children[1:]:
                if c.type == "NUMBER":
                    number = str(c)
                else:
                    title = self.atom(c).text  # type: ignore[union-attr]
            heading = ir.Heading("scene", number, title, self.nspan(heading_node))
        else:
            tok = heading_node.children[0]
            text = str(tok).strip()
            heading = ir.Heading("fountain", None, text, Span(self.file, tok.start_pos or 0, (tok.start_pos or 0) + len(text)))
        values = None
        if rest and rest[0].data == "values":
            values, rest = rest[0], rest[1:]
        duration, opts = self._split_duration(self.options(values))
        items: list[ir.SceneItem] = []
        for item in rest:
            if item.data in ("prop", "bare_prop"):
                items.append(self.prop(item))
            elif item.data == "beat":
                items.append(self.beat(item))
            elif item.data == "action_line":
                items.append(self.action_line(item))
            else:
                items.append(self.note(item))
        return ir.Scene(heading, duration, opts, tuple(items), self.nspan(node))

    def transition(self, node: Tree) -> ir.Transition:
        tok = node.children[0]
        kind = transition_kind(str(tok))
        duration = None
        extra: list[ir.Value] = []
        if len(node.children) > 1:
            for v in node.children[1].children:
                val = self.value(v)
                if duration is None and isinstance(val, ir.Time):
                    duration = val
                else:
                    extra.append(val)
        return ir.Transition(kind, duration, self.nspan(node), tuple(extra))

    def credits(self, node: Tree) -> ir.Credits:
        children = node.children[1:]
        alphabet, alphabet_span = None, Span(self.file, 0, 0)
        if children and isinstance(children[0], Token) and children[0].type == "NAME":
            alphabet, alphabet_span = str(children[0]), self.tspan(children[0])
            children = children[1:]
        values = None
        if children and isinstance(children[0], Tree) and children[0].data == "values":
            values, children = children[0], children[1:]
        duration, opts = self._split_duration(self.options(values))
        lines: list[ir.Str] = []
        notes: list[ir.Note] = []
        for c in children:
            if c.data == "note_line":
                notes.append(self.note(c))
                continue
            line = self.beat_line(c)
            if isinstance(line, ir.Dialogue):
                lines.append(line.text)
            else:  # a credit line that is not a string: keep its words
                lines.append(ir.Str(plain_text(line), line.span))
        return ir.Credits(alphabet, duration, opts, tuple(lines), self.nspan(node), alphabet_span, tuple(notes))

    def film(self, tree: Tree, text_length: int) -> ir.Film:
        header: list[ir.Property] = []
        includes: list[ir.Include] = []
        definitions: list[ir.Definition] = []
        body: list[ir.BodyItem] = []
        notes: list[ir.Note] = []
        for node in tree.children:
            kind = node.data
            if kind == "header_field":
                header.append(self.prop(node))
            elif kind == "definition":
                definitions.append(self.definition(node))
            elif kind == "include":
                includes.append(ir.Include(self.atom(node.children[1]), self.nspan(node)))  # type: ignore[arg-type]
            elif kind == "scene":
                body.append(self.scene(node))
            elif kind == "transition":
                body.append(self.transition(node))
            elif kind == "credits":
                body.append(self.credits(node))
            elif kind == "note_line":
                note = self.note(node)
                notes.append(note)
                body.append(note)
        return ir.Film(self.file, ir.Header(tuple(header)), tuple(includes), tuple(definitions), tuple(body),
                       tuple(notes), Span(self.file, 0, text_length))


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


def lower(tree: Tree, file: str, text_length: int = 0) -> ir.Film:
    """The IR of one parsed file."""
    return Lowerer(file).film(tree, text_length)
