"""Syntax tree → canonical text, keeping every comment and note.

:func:`format_source` returns a :class:`FormatResult`; :func:`format_text` returns the text and
raises :class:`FormatError` instead. A file with syntax errors is never formatted: rewriting a
half-understood file could lose text, so the result carries the parse diagnostics instead.

The formatter prints from the parse tree (so numbers, times and gains keep the writer's
spelling) and collects comments from the lexer's own tokens (so a ``#`` inside a string is
never a comment, and ``#`` with exactly six hex digits is a colour, exactly as the parser sees
it). Before returning, it parses its own output and checks that the IR is the same (up to the
canonical option order below) and that every comment survived; if not, it refuses.

The canonical form
------------------
* 4 spaces per level; no trailing spaces; one ``\\n`` at the end; CRLF becomes LF.
* ``key: value``, ``, `` between values, `` -> `` in chains, ``lo..hi`` ranges, ``name(a, b)``
  calls, one space between side-by-side atoms (``seed 5``, ``NYESH "text"``).
* Numbers, times, gains, percentages, sizes and rates are written as the writer wrote them;
  colours in lower case; ``"…"`` strings re-escaped (``\\\\``, ``\\"``, ``\\n``, ``\\t``);
  ``\"\"\"…\"\"\"`` strings open with ``\"\"\"`` and a line break, their lines indented one level
  deeper than the line they start on, the closing quotes on that line's indentation (one
  written on a single line stays on it).
* Notes as ``[[ text ]]``; parentheticals as ``(text)``.
* A property's (or a dialogue line's, or an action's) first value stays first. The options
  after it — and all options of a beat cue — are sorted into this order, by key; options with
  the same key, and options the table does not name, keep the writer's order, after the named
  ones::

      when       at, a bare range (2s..8s), from, for
      where      close-up, medium, wide, then top, center, bottom, left, right
      fades      fade in, fade out
      loudness   gain
      motion     zoom, pan, ease
      sources    genre, artist, lang, length, seed, truncation, pitch, rate

  ("when, where, how it enters, how loud, how it moves"; for a definition: what it is, how it
  is drawn, how it is delivered — ``seed 42, truncation 0.7``, ``lang "en", pitch 0.9, rate 1``).
* ``show "clip.mp4"`` (a directive written without its colon) keeps that spelling.
* A scene heading's or a credits line's duration (its first bare time) comes first, then its
  other options in the order above; a transition's duration comes first, then its other values
  as written. Header fields and properties keep the writer's order.
* Blank lines: none at the start of a file or of a block; exactly one between top-level items
  of different kinds (header fields, includes, each definition kind, notes, scenes,
  transitions, credits), around every transition and between scenes; elsewhere the writer's
  choice, at most one.

Comments (``# …`` and boneyards ``/* … */``) stay where they were:

* a comment after code on the same line stays at the end of that line, after two spaces;
* a comment on a line of its own belongs to the code below it and takes its indentation —
  except a comment after the last line of a block, indented at least as deep as the block,
  which stays at the end of the block;
* a comment inside a line (a boneyard between two values, a ``#`` inside a call spread over
  lines) moves onto its own line above that line.

Parse equivalence holds up to option order: ``canonical_ir(read(fmt(x)))`` equals
``canonical_ir(read(x))`` ignoring spans (and equals ``read(fmt(x))`` itself).
"""

from __future__ import annotations

import bisect
import dataclasses
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from lark import Lark, Token, Tree

from nyeshc import ir
from nyeshc.diagnostics import Diagnostic, Span, error
from nyeshc.syntax.lower import TreeLowerer, lower
from nyeshc.syntax.parse import lark_parser, parse

__all__ = ["FormatError", "FormatResult", "canonical_ir", "format_source", "format_text", "option_rank"]

INDENT = 4
UNIT_WORDS = frozenset({"wpm"})  # written glued to their number: ``reading: 180wpm``

_RANGE = "<range>"
OPTION_ORDER: tuple[str, ...] = (
    "at", _RANGE, "from", "for",
    "close-up", "medium", "wide", "top", "center", "bottom", "left", "right",
    "fade in", "fade out",
    "gain",
    "zoom", "pan", "ease",
    "genre", "artist", "tempo", "meter", "lang", "length", "seed", "temperature", "truncation", "pitch", "rate",
)
_RANK = {k: i for i, k in enumerate(OPTION_ORDER)}
_UNKNOWN = len(OPTION_ORDER)

_COMMENT_PIECE = re.compile(r"#[^\n]*|/\*(?:[^*]|\*(?!/))*\*/")


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class FormatResult:
    """``text`` is the canonical text, or ``None`` when the file was not formatted (then
    ``diagnostics`` says why: syntax errors, or a formatter fault)."""

    text: str | None
    diagnostics: tuple[Diagnostic, ...] = ()

    @property
    def ok(self) -> bool:
        return self.text is not None


class FormatError(Exception):
    """Raised by :func:`format_text` for a file that cannot be formatted."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = tuple(diagnostics)
        first = self.diagnostics[0].message if self.diagnostics else "cannot format"
        super().__init__(first)


# --------------------------------------------------------------------------- option order


def option_rank(option: ir.Option) -> int:
    """The place of ``option`` in the canonical order (see the module docstring)."""
    if option.key is None:
        return _RANK[_RANGE] if isinstance(option.value, ir.Range) else _UNKNOWN
    return _RANK.get(option.key, _UNKNOWN)


def sort_options(options: Iterable[ir.Option]) -> tuple[ir.Option, ...]:
    return tuple(sorted(options, key=option_rank))  # stable: equal keys keep their order


_HAS_OPTIONS = (ir.Property, ir.Beat, ir.ActionLine, ir.Dialogue, ir.Action, ir.Scene, ir.Credits)


def canonical_ir(node: ir.Node) -> ir.Node:
    """``node`` with every option list in canonical order: what formatting does to the IR."""
    if isinstance(node, tuple):
        items = tuple(canonical_ir(x) for x in node)
        return node if all(a is b for a, b in zip(items, node)) else items
    if dataclasses.is_dataclass(node) and not isinstance(node, (type, Span)):
        changes = {}
        for f in dataclasses.fields(node):
            value = getattr(node, f.name)
            if isinstance(value, tuple) or (dataclasses.is_dataclass(value) and not isinstance(value, Span)):
                new = canonical_ir(value)
                if new is not value:
                    changes[f.name] = new
        if isinstance(node, _HAS_OPTIONS):
            options = changes.get("options", node.options)
            ordered = sort_options(options)
            if any(a is not b for a, b in zip(ordered, options)):
                changes["options"] = ordered
        return dataclasses.replace(node, **changes) if changes else node
    return node


# --------------------------------------------------------------------------- comments


@dataclass(frozen=True)
class _Comment:
    start: int
    end: int
    text: str
    column: int


def _lex_all(text: str) -> list[Token]:
    """Every token, the ignored ones included, without the indentation post-lexer (which
    drops line ends inside parentheses, and the comments in them)."""
    from lark.lexer import LexerThread

    return list(LexerThread.from_text(_lexer(lark_parser()), text).lex(None))


@lru_cache(maxsize=2)
def _lexer(parser: Lark):  # noqa: ANN202 - a lark BasicLexer
    return parser._build_lexer(True)  # the parser's own lexer, keeping the ignored tokens


def _comments(text: str, line_starts: list[int]) -> list[_Comment]:
    out: list[_Comment] = []
    for tok in _lex_all(text):
        pieces: Iterable[tuple[int, str]]
        if tok.type == "_NL":
            pieces = ((tok.start_pos + m.start(), m.group()) for m in _COMMENT_PIECE.finditer(str(tok)))
        elif tok.type == "BONEYARD":
            pieces = [(tok.start_pos, str(tok))]
        else:
            continue
        for start, body in pieces:
            line = bisect.bisect_right(line_starts, start) - 1
            body = body.rstrip() if body.startswith("#") else body
            out.append(_Comment(start, start + len(body), body, start - line_starts[line]))
    return out


def comment_texts(text: str) -> list[str]:
    """The comments of a (syntactically valid) text, in order; for tests and verification."""
    text = _normalise(text)
    return [c.text for c in _comments(text, _line_starts(text))]


# --------------------------------------------------------------------------- text helpers


def _normalise(text: str) -> str:
    text = text.replace("\r\n", "\n")
    return text if text.endswith("\n") else text + "\n"


def _line_starts(text: str) -> list[int]:
    return [0] + [m.end() for m in re.finditer("\n", text)]


def escape(text: str) -> str:
    """A ``"…"`` literal for ``text``."""
    body = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{body}"'


def long_string_lines(raw: str) -> list[str]:
    """The lines of a ``\"\"\"…\"\"\"`` literal as lowering sees them, escapes still raw."""
    import textwrap

    body = raw[3:-3]
    if body.startswith("\n"):
        body = body[1:]
    elif body.startswith("\r\n"):
        body = body[2:]
    lines = textwrap.dedent(body).split("\n")
    if lines and not lines[-1].strip():
        lines = lines[:-1]
    return [line.rstrip() for line in lines]


def _tokens(node: Tree | Token) -> list[Token]:
    if isinstance(node, Token):
        return [node]
    return list(node.scan_values(lambda t: isinstance(t, Token)))


def _kind(node: Tree) -> str:
    if node.data == "definition":
        return "def:" + str(node.children[0])
    return node.data


# --------------------------------------------------------------------------- printer


class _Printer:
    def __init__(self, text: str, tree: Tree, file: str) -> None:
        self.text = text
        self.starts = _line_starts(text)
        self.comments = _comments(text, self.starts)
        self.ci = 0
        self.code_starts = sorted(t.start_pos for t in _tokens(tree) if t.start_pos is not None)
        self.lowerer = TreeLowerer(file)
        self.out: list[str] = []
        self.prev_end: int | None = None
        self.rule: str | None = None  # the blank-line rule for the next thing printed

    # ----------------------------------------------------------------- lines

    def line_of(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset) - 1

    def blank_between(self, end: int, start: int) -> bool:
        a, b = self.line_of(max(0, end - 1)), self.line_of(start)
        for line in range(a + 1, b):
            s = self.starts[line]
            e = self.starts[line + 1] - 1 if line + 1 < len(self.starts) else len(self.text)
            if not self.text[s:e].strip():
                return True
        return False

    def put(self, indent: int, body: str, start: int, end: int) -> None:
        rule, self.rule = self.rule or "writer", None
        if self.out and self.prev_end is not None:
            if rule == "force" or (rule == "writer" and self.blank_between(self.prev_end, start)):
                self.out.append("")
        self.out.append(" " * indent + body)
        self.prev_end = end

    def comment(self, c: _Comment, indent: int) -> None:
        self.put(indent, c.text, c.start, c.end)

    def flush_before(self, offset: int, indent: int) -> None:
        while self.ci < len(self.comments) and self.comments[self.ci].start < offset:
            self.comment(self.comments[self.ci], indent)
            self.ci += 1

    def code(self, indent: int, body: str, tokens: Sequence[Token]) -> None:
        start, end = tokens[0].start_pos, tokens[-1].end_pos
        self.flush_before(end, indent)  # own-line comments above, and comments inside the line
        self.put(indent, body, start, end)
        last = self.line_of(max(start, end - 1))
        trailing = []
        while self.ci < len(self.comments) and self.line_of(self.comments[self.ci].start) == last:
            trailing.append(self.comments[self.ci])
            self.ci += 1
        if trailing:
            self.out[-1] += "  " + " ".join(c.text for c in trailing)
            self.prev_end = trailing[-1].end

    def close_block(self, indent: int, end: int) -> None:
        """Keep comments indented into a block that just ended at the end of that block."""
        i = bisect.bisect_left(self.code_starts, end)
        next_code = self.code_starts[i] if i < len(self.code_starts) else len(self.text)
        while (self.ci < len(self.comments) and self.comments[self.ci].start < next_code
               and self.comments[self.ci].column >= indent):
            self.comment(self.comments[self.ci], indent)
            self.ci += 1

    # ----------------------------------------------------------------- values

    def atom(self, node: Tree | Token, indent: int) -> str:
        if isinstance(node, Tree):
            if node.data == "range":
                lo, hi = node.children
                return f"{self.atom(lo, indent)}..{self.atom(hi, indent)}"
            if node.data == "call":
                args = ""
                if len(node.children) > 1:
                    args = ", ".join(self.value(v, indent) for v in node.children[1].children)
                return f"{node.children[0]}({args})"
            raise AssertionError(node.data)
        raw = str(node)
        if node.type == "STRING":
            return escape(self.lowerer.atom(node).text)  # type: ignore[union-attr]
        if node.type == "LONGSTRING":
            return self.long_string(raw, indent)
        if node.type == "COLOUR":
            return raw.lower()
        return raw

    def long_string(self, raw: str, indent: int) -> str:
        lines_ = long_string_lines(raw)
        if "\n" not in raw and len(lines_) == 1 and not lines_[0].endswith('"'):
            return f'"""{lines_[0]}"""'  # written on one line: it stays there
        inner = " " * (indent + INDENT)
        lines = "".join((inner + line if line.strip() else "") + "\n" for line in lines_)
        return '"""\n' + lines + " " * indent + '"""'

    def value(self, node: Tree, indent: int) -> str:
        return " -> ".join(self.term(term, indent) for term in node.children)

    def term(self, node: Tree, indent: int) -> str:
        """Atoms apart by a space, except a number and its unit word (``180wpm``: the lexer
        reads it as a number and a name, and the language writes it as one word)."""
        out = ""
        for i, a in enumerate(node.children):
            glued = (i > 0 and isinstance(a, Token) and a.type == "NAME" and str(a).lower() in UNIT_WORDS
                     and getattr(node.children[i - 1], "type", None) == "NUMBER")
            out += ("" if i == 0 or glued else " ") + self.atom(a, indent)
        return out

    def options(self, nodes: Sequence[Tree]) -> list[Tree]:
        ranked = [(option_rank(self.lowerer.option(n)), i) for i, n in enumerate(nodes)]
        return [nodes[i] for _, i in sorted(ranked)]

    def values(self, node: Tree | None, indent: int, mode: str) -> str:
        """``mode``: ``first`` (a value, then options), ``options`` (all options),
        ``duration`` (the first bare time first, then options), ``transition``."""
        if node is None:
            return ""
        items = list(node.children)
        if mode == "first":
            items = items[:1] + self.options(items[1:])
        elif mode == "options":
            items = self.options(items)
        elif mode in ("duration", "transition"):
            first = next((i for i, v in enumerate(items) if self._is_time(v, mode)), None)
            rest = items if first is None else items[:first] + items[first + 1:]
            if mode == "duration":
                rest = self.options(rest)
            items = rest if first is None else [items[first]] + rest
        return ", ".join(self.value(v, indent) for v in items)

    def _is_time(self, node: Tree, mode: str) -> bool:
        """Whether ``node`` is the kind of value lowering takes for a duration."""
        if mode == "transition":
            return isinstance(self.lowerer.value(node), ir.Time)
        o = self.lowerer.option(node)
        return o.key is None and isinstance(o.value, ir.Time)

    # ----------------------------------------------------------------- statements

    def prop(self, node: Tree, indent: int) -> None:
        key, values = node.children
        self.code(indent, f"{key}: {self.values(values, indent, 'first')}", _tokens(node))

    def note(self, node: Tree, indent: int) -> None:
        tok = node.children[0]
        text = str(tok)[2:-2].strip()
        self.code(indent, f"[[ {text} ]]" if text else "[[ ]]", [tok])

    def line(self, node: Tree, indent: int) -> None:
        if node.data == "paren":
            tok = node.children[0]
            self.code(indent, f"({str(tok)[1:-1].strip()})", [tok])
        elif node.data == "note_line":
            self.note(node, indent)
        else:
            self.code(indent, self.values(node.children[0], indent, "first"), _tokens(node))

    def block(self, items: Sequence[Tree], indent: int, each) -> None:  # noqa: ANN001
        for i, item in enumerate(items):
            self.rule = "none" if i == 0 else "writer"
            each(item, indent)
        if items:
            self.close_block(indent, self._end(items[-1]))

    def _end(self, node: Tree) -> int:
        return _tokens(node)[-1].end_pos

    def definition(self, node: Tree, indent: int) -> None:
        kind, name, *items = node.children
        self.code(indent, f"{kind} {name}:", [kind, name])
        self.block(items, indent + INDENT,
                   lambda item, ind: self.prop(item, ind) if item.data == "prop" else self.note(item, ind))

    def include(self, node: Tree, indent: int) -> None:
        self.code(indent, f"include {self.atom(node.children[1], indent)}", _tokens(node))

    def header_field(self, node: Tree, indent: int) -> None:
        self.prop(node, indent)

    def scene(self, node: Tree, indent: int) -> None:
        heading, *rest = node.children
        if heading.data == "scene_heading":
            text = " ".join(["SCENE"] + [self.atom(c, indent) for c in heading.children[1:]])
        else:
            text = str(heading.children[0]).strip()
        head_tokens = _tokens(heading)
        values = None
        if rest and rest[0].data == "values":
            values, rest = rest[0], rest[1:]
            text += ", " + self.values(values, indent, "duration")
            head_tokens += _tokens(values)
        self.code(indent, text + ":", head_tokens)
        self.block(rest, indent + INDENT, self.scene_item)

    def bare_prop(self, node: Tree, indent: int) -> None:
        """``show "clip.mp4"``: a directive written without its colon keeps that spelling."""
        key, values = node.children
        self.code(indent, f"{key} {self.values(values, indent, 'first')}", _tokens(node))

    def scene_item(self, node: Tree, indent: int) -> None:
        if node.data == "prop":
            self.prop(node, indent)
        elif node.data == "bare_prop":
            self.bare_prop(node, indent)
        elif node.data == "beat":
            self.beat(node, indent)
        elif node.data == "action_line":
            self.action_line(node, indent)
        else:
            self.note(node, indent)

    def action_line(self, node: Tree, indent: int) -> None:
        text = self.atom(node.children[0], indent)
        if len(node.children) > 1:
            text += ", " + self.values(node.children[1], indent, "options")
        self.code(indent, text, _tokens(node))

    def beat(self, node: Tree, indent: int) -> None:
        name, *items = node.children
        text, head = str(name), [name]
        if items and isinstance(items[0], Token) and items[0].type == "PAREN":
            text += f" ({' '.join(str(items[0])[1:-1].split())})"
            head.append(items[0])
            items = items[1:]
        if items and isinstance(items[0], Token) and items[0].type == "CARET":
            text += " ^"
            head.append(items[0])
            items = items[1:]
        if items and isinstance(items[0], Tree) and items[0].data == "values":
            text += ", " + self.values(items[0], indent, "options")
            head += _tokens(items[0])
            items = items[1:]
        self.code(indent, text + ":", head)
        self.block(items, indent + INDENT, self.line)

    def transition(self, node: Tree, indent: int) -> None:
        tok = node.children[0]
        words = " ".join(str(tok).split())
        text = words if words.endswith(".") else words[:-1] + ":"  # FADE OUT. keeps its full stop
        if len(node.children) > 1:
            text += " " + self.values(node.children[1], indent, "transition")
        self.code(indent, text, _tokens(node))

    def credits(self, node: Tree, indent: int) -> None:
        keyword, *children = node.children
        text, head = "CREDITS", [keyword]
        if children and isinstance(children[0], Token):
            text += f" {children[0]}"
            head.append(children[0])
            children = children[1:]
        if children and children[0].data == "values":
            text += ", " + self.values(children[0], indent, "duration")
            head += _tokens(children[0])
            children = children[1:]
        self.code(indent, text + ":", head)
        self.block(children, indent + INDENT, self.line)

    # ----------------------------------------------------------------- film

    def film(self, tree: Tree) -> str:
        previous: Tree | None = None
        for node in tree.children:
            self.rule = self._between(previous, node) if previous is not None else "none"
            getattr(self, node.data)(node, 0)
            previous = node
        self.flush_before(len(self.text) + 1, 0)
        if not self.out:
            return ""
        return "\n".join(self.out) + "\n"

    def note_line(self, node: Tree, indent: int) -> None:
        self.note(node, indent)

    def _between(self, a: Tree, b: Tree) -> str:
        ka, kb = _kind(a), _kind(b)
        if ka != kb or "transition" in (ka, kb) or ka in ("scene", "credits"):
            return "force"
        return "writer"


# --------------------------------------------------------------------------- entry points


def _equivalent(before: ir.Film, after: ir.Film) -> bool:
    """``after`` (the formatted text's IR) is ``before`` with its options in canonical order."""
    return ir.to_data(canonical_ir(before), spans=False) == ir.to_data(after, spans=False)


def format_source(text: str, file: str = "<input>") -> FormatResult:
    """Format ``text``; never raises. A text with syntax errors comes back with ``text=None``
    and the parse diagnostics."""
    work = _normalise(text)
    result = parse(work, file)
    errors = tuple(d for d in result.diagnostics if d.is_error)
    if errors:
        return FormatResult(None, result.diagnostics)
    printer = _Printer(work, result.tree, file)
    out = printer.film(result.tree)
    # never hand back text that means something else: parse it again and compare
    again = parse(out, file)
    before = lower(result.tree, file, len(work))
    after = lower(again.tree, file, len(out))
    if (any(d.is_error for d in again.diagnostics) or not _equivalent(before, after)
            or comment_texts(out) != [c.text for c in printer.comments]):
        return FormatResult(None, (error(
            "E099", "the formatter could not reprint this file faithfully, so it left it as it is",
            Span(file, 0, 0), "this is a bug in nyeshc fmt; please report it with the file"),))
    return FormatResult(out, result.diagnostics)


def format_text(text: str, file: str = "<input>") -> str:
    """The canonical text of ``text``; raises :class:`FormatError` on syntax errors."""
    result = format_source(text, file)
    if result.text is None:
        raise FormatError(result.diagnostics)
    return result.text
