"""Text → syntax tree, never raising on bad input.

The grammar is Lark LALR with a fast lexer (:class:`FastLexer`), an indentation post-lexer
(:class:`Indenter`) and offsets on every token. :func:`parse` returns the best tree it can plus diagnostics. Recovery works on
lines: when the parser stops at a line, that line (and, when it opens one, its indented block)
is reported and blanked out with spaces — offsets are kept, so every later span stays right —
and the text is parsed again. One pass therefore reports every broken line, which is what an
editor needs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any
from dataclasses import dataclass
from functools import lru_cache

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.lexer import Lexer

from nyeshc.diagnostics import Diagnostic, Span, error
from nyeshc.syntax.text import (  # noqa: F401 - decode, tab_diagnostics: re-exported
    MAX_NESTING,
    MAX_RECOVERIES,
    TAB_WIDTH,
    cache_folder,
    decode,
    grammar_digest,
    grammar_text,
    tab_diagnostics,
)

class TooDeep(Exception):
    """Brackets nested deeper than :data:`MAX_NESTING`, at ``offset``."""

    def __init__(self, offset: int) -> None:
        super().__init__(offset)
        self.offset = offset


class Indenter:
    """Turns ``_NL`` tokens into ``_NL``/``_INDENT``/``_DEDENT`` and records bad indentation.

    Like ``lark.indenter.Indenter``, but never raises: an inconsistent dedent is remembered
    (``self.problems``) and treated as a new level, so the parser reports the line instead.
    """

    always_accept = ("_NL",)

    def __init__(self) -> None:
        self.problems: list[tuple[int, int]] = []  # (offset, width)
        self.paren_level = 0
        self.stack = [0]

    def _indent_token(self, kind: str, nl: Token, offset: int) -> Token:
        return Token(kind, "", start_pos=offset, line=nl.end_line, column=1,
                     end_line=nl.end_line, end_column=1, end_pos=offset)

    def _handle_nl(self, token: Token) -> Iterator[Token]:
        if self.paren_level > 0:
            return
        yield token
        value = str(token)
        last = value.rsplit("\n", 1)[-1] if "\n" in value else None
        if last is None:
            return  # a comment at the end of the file without a newline
        indent = last.count(" ") + last.count("\t") * TAB_WIDTH
        offset = token.end_pos
        if indent > self.stack[-1]:
            self.stack.append(indent)
            yield self._indent_token("_INDENT", token, offset)
            return
        while indent < self.stack[-1]:
            self.stack.pop()
            yield self._indent_token("_DEDENT", token, offset)
        if indent != self.stack[-1]:
            self.problems.append((offset, 0))
            self.stack.append(indent)
            yield self._indent_token("_INDENT", token, offset)

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        self.paren_level = 0
        self.stack = [0]
        self.problems = []
        last: Token | None = None
        for token in stream:
            last = token
            if token.type == "_NL":
                yield from self._handle_nl(token)
                continue
            if token.type == "LPAR":
                self.paren_level += 1
                if self.paren_level > MAX_NESTING:
                    raise TooDeep(token.start_pos or 0)
            elif token.type == "RPAR":
                self.paren_level = max(0, self.paren_level - 1)
            yield token
        while len(self.stack) > 1:
            self.stack.pop()
            end = last.end_pos if last is not None else 0
            yield Token("_DEDENT", "", start_pos=end, end_pos=end)


class FastLexer(Lexer):
    """Lark's basic lexer, minus per-token line counting and callbacks.

    One compiled alternation of every terminal (in Lark's order: priority, then width), keywords
    recognised by dictionary after a ``NAME`` match. Tokens carry offsets only (``start_pos``,
    ``end_pos``): spans are offsets, and lines and columns are computed when a diagnostic is
    rendered. About three times faster than the basic lexer on long scripts.
    """

    def __init__(self, conf: Any) -> None:
        terminals = sorted(conf.terminals, key=lambda t: (-t.priority, -t.pattern.max_width,
                                                          -len(t.pattern.value), t.name))
        name_re = next(t for t in terminals if t.name == "NAME").pattern.to_regexp()
        self.keywords = {t.pattern.value: t.name for t in terminals
                         if t.pattern.type == "str" and re.fullmatch(name_re, t.pattern.value)}
        alternation = "|".join(f"(?P<{t.name}>{t.pattern.to_regexp()})" for t in terminals
                               if t.name not in self.keywords.values())
        self.master = re.compile(alternation, conf.g_regex_flags)
        self.ignore = frozenset(conf.ignore)
        self.names = frozenset(t.name for t in terminals)

    def lex(self, data: Any, parser_state: Any = None) -> Iterator[Token]:
        # Lark hands a custom lexer the text itself (a str), or a LexerState in newer paths
        if isinstance(data, str):
            text, pos, end = data, 0, len(data)
        else:
            text, pos, end = data.text.text, data.text.start, data.text.end
        match = self.master.match
        ignore, keywords = self.ignore, self.keywords
        while pos < end:
            m = match(text, pos)
            if m is None:
                line = text.count("\n", 0, pos) + 1
                column = pos - (text.rfind("\n", 0, pos) + 1) + 1
                raise UnexpectedCharacters(text, pos, line, column, allowed=set(self.names))
            kind = m.lastgroup
            stop = m.end()
            if kind not in ignore:
                value = m.group()
                if kind == "NAME":
                    kind = keywords.get(value, "NAME")
                yield Token(kind, value, pos, None, None, None, None, stop)  # type: ignore[arg-type]
            pos = stop


def _table_cache() -> str | bool:
    """Where Lark keeps the grammar's LALR tables between processes (:func:`cache_folder`), in a
    file named by the grammar's hash and Lark's version; Lark checks the hash of grammar and
    options inside it and rebuilds on any mismatch or damage. No folder: built in memory."""
    import lark

    folder = cache_folder()
    if folder is None:
        return False
    return os.path.join(folder, f"grammar-{grammar_digest()}-lark{lark.__version__}.cache")


@lru_cache(maxsize=1)
def lark_parser() -> Lark:
    # Spans come from the tokens (see ``lower.Lowerer.nspan``): Lark's propagate_positions
    # would double the parse time of a long script.
    return Lark(grammar_text(), parser="lalr", lexer=FastLexer, postlex=Indenter(),
                propagate_positions=False, maybe_placeholders=False, cache=_table_cache())


def _postlexer() -> Indenter:
    return lark_parser().options.postlex  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- words


TERMINAL_WORDS = {
    "NAME": "a name",
    "STRING": "a quoted string",
    "LONGSTRING": 'a """long string"""',
    "NUMBER": "a number",
    "TIME": "a time such as 2s",
    "GAIN": "a gain such as -3dB",
    "PERCENT": "a percentage",
    "COLOUR": "a colour such as #efe6d2",
    "SIZE": "a size such as 1280x720",
    "RATE": "a frame rate such as 24fps",
    "TEMPO": "a tempo such as 72bpm",
    "METER": "a meter such as 3/4",
    "COLON": '":"',
    "COMMA": '","',
    "LPAR": '"("',
    "RPAR": '")"',
    "_NL": "the end of the line",
    "_INDENT": "an indented block",
    "_DEDENT": "the end of the block",
    "$END": "the end of the file",
    "TRANSITION": "a transition such as CUT TO:",
    "FOUNTAIN_HEADING": "a scene heading",
    "SCENE": "SCENE",
    "CREDITS": "CREDITS",
    "INCLUDE": "include",
    "NOTE": "a note [[…]]",
    "PAREN": "a parenthetical (…)",
}


def _word(terminal: str) -> str:
    if terminal in TERMINAL_WORDS:
        return TERMINAL_WORDS[terminal]
    try:
        pattern = lark_parser().get_terminal(terminal).pattern
        return f'"{pattern.value}"' if pattern.type == "str" else terminal.lower()
    except KeyError:
        return terminal.lower()


def _expected_words(expected: set[str] | frozenset[str]) -> list[str]:
    words = {_word(t) for t in expected}
    # the most helpful first (what writers type most), punctuation and line ends last
    common = ["a name", "a quoted string", "a time such as 2s", "a number"]
    return sorted(words, key=lambda w: (common.index(w) if w in common else len(common),
                                        w.startswith('"'), w.startswith("the end"), w))


def _join(words: list[str]) -> str:
    if len(words) > 6:
        words = words[:6] + ["…"]
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " or " + words[-1]


def _describe(token: Token) -> str:
    if token.type == "$END":
        return "the end of the file"
    if token.type == "_NL":
        return "end of the line"  # "unexpected end of the line"
    if token.type == "_INDENT":
        return "an indented line"
    if token.type == "_DEDENT":
        return "the end of the block"
    word = TERMINAL_WORDS.get(token.type)
    text = str(token)
    if len(text) > 30:
        text = text[:27] + "…"
    if word and token.type not in ("COLON", "COMMA", "LPAR", "RPAR"):
        noun = re.sub(r"^(a|an) ", "", word.split(" such as ")[0])
        return f"{noun} {text!r}"
    return repr(text)


# --------------------------------------------------------------------------- recovery


@dataclass
class _Lines:
    text: str

    def __post_init__(self) -> None:
        self.starts = [0] + [m.end() for m in re.finditer("\n", self.text)]

    def line_of(self, offset: int) -> int:
        import bisect

        return max(0, bisect.bisect_right(self.starts, offset) - 1)

    def bounds(self, line: int) -> tuple[int, int]:
        start = self.starts[line]
        end = self.starts[line + 1] - 1 if line + 1 < len(self.starts) else len(self.text)
        return start, end

    def content(self, line: int) -> str:
        s, e = self.bounds(line)
        return self.text[s:e]

    def indent(self, line: int) -> int:
        c = self.content(line)
        return len(c) - len(c.lstrip(" \t"))

    def blank(self, line: int) -> bool:
        stripped = self.content(line).strip()
        return not stripped or stripped.startswith("#")

    def prev_nonblank(self, line: int) -> int | None:
        for i in range(line - 1, -1, -1):
            if not self.blank(i):
                return i
        return None

    def block_end(self, line: int) -> int:
        """Last line of ``line``'s indented block (``line`` itself when it opens none)."""
        base = self.indent(line)
        last = line
        for i in range(line + 1, len(self.starts)):
            if self.blank(i):
                continue
            if self.indent(i) <= base:
                break
            last = i
        return last


def _blank_lines(text: str, lines: _Lines, first: int, last: int) -> str:
    """``text`` with lines ``first..last`` turned to spaces (offsets kept). When they are all
    of a block, its header goes too, so one mistake is not reported twice (the header would
    otherwise stand without a block)."""
    header = lines.prev_nonblank(first)
    if (header is not None and lines.indent(header) < lines.indent(first)
            and lines.content(header).rstrip().endswith(":") and lines.block_end(header) == last):
        first = header
    start = lines.bounds(first)[0]
    end = lines.bounds(last)[1]
    chunk = re.sub(r"[^\n]", " ", text[start:end])
    return text[:start] + chunk + text[end:]


@dataclass(frozen=True)
class ParseResult:
    tree: Tree
    diagnostics: tuple[Diagnostic, ...]


def _empty_tree() -> Tree:
    return Tree("start", [])


def _syntax_diagnostic(exc: UnexpectedInput, text: str, file: str, lines: _Lines) -> tuple[Diagnostic, int, int]:
    """The diagnostic for ``exc`` and the range of lines to blank before trying again."""
    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream
        line = lines.line_of(pos)
        ch = text[pos] if pos < len(text) else ""
        if ch == '"':
            d = error("E005", "this string is never closed", Span(file, pos, lines.bounds(line)[1]),
                      'end it with a " on the same line, or use """…""" for text over several lines')
        else:
            d = error("E001", f"unexpected character {ch!r}", Span(file, pos, pos + 1),
                      "text belongs in quotes (\"…\"); a comment starts with '# '")
        return d, line, line

    if isinstance(exc, UnexpectedEOF):
        pos = len(text.rstrip())
        line = lines.line_of(max(0, pos - 1))
        expected = _join(_expected_words(set(exc.expected)))
        d = error("E001", "the file ends too early", Span(file, pos, pos), f"expected {expected}")
        return d, line, lines.block_end(line)

    assert isinstance(exc, UnexpectedToken)
    token = exc.token
    expected_set = set(exc.expected)
    expected = _join(_expected_words(expected_set))
    pos = token.start_pos if token.start_pos is not None else len(text)
    pos = min(pos, len(text))
    line = lines.line_of(pos)

    if token.type == "$END":
        prev = lines.prev_nonblank(len(lines.starts) - 1)
        line = prev if prev is not None else 0
        s, e = lines.bounds(line)
        opener = "_INDENT" in expected_set
        msg = "this line opens a block but nothing is indented under it" if opener else "the file ends too early"
        d = error("E001", msg, Span(file, s + lines.indent(line), e), f"expected {expected}")
        return d, line, line

    if "_INDENT" in expected_set and token.type != "_INDENT":
        # a block header without its block: blame the header line
        hl = lines.prev_nonblank(line) if token.type != "_NL" else line
        hl = line if hl is None else hl
        s, e = lines.bounds(hl)
        d = error("E001", "this line opens a block but nothing is indented under it",
                  Span(file, s + lines.indent(hl), e),
                  "indent the lines that belong to it (4 spaces), or remove the ':' at the end")
        return d, hl, hl

    if token.type == "_INDENT" and any(off == pos for off, _ in _postlexer().problems):
        s, e = lines.bounds(line)
        d = error("E004", "this line's indentation matches no enclosing block", Span(file, s, s + lines.indent(line)),
                  "indent it exactly as far as the lines of the block it belongs to")
        return d, line, lines.block_end(line)

    if token.type == "_INDENT":
        s, e = lines.bounds(line)
        d = error("E001", "unexpected indentation", Span(file, s, s + lines.indent(line)),
                  "this line is indented but the line above does not open a block (end it with ':')"
                  if lines.prev_nonblank(line) is not None else "remove the indentation")
        return d, line, lines.block_end(line)

    if token.type == "_DEDENT":
        prev = lines.prev_nonblank(line)
        hl = prev if prev is not None else line
        s, e = lines.bounds(hl)
        d = error("E001", "this block ends too early", Span(file, s + lines.indent(hl), e), f"expected {expected}")
        return d, hl, hl

    end = token.end_pos if token.end_pos is not None else pos
    if token.type == "_NL":
        end = pos
        s, e = lines.bounds(line)
        content_end = s + len(lines.content(line).rstrip())
        pos = min(pos, content_end)
        end = pos
    d = error("E001", f"unexpected {_describe(token)}", Span(file, pos, max(pos, end)), f"expected {expected}")
    return d, line, lines.block_end(line)


def parse(text: str, file: str = "<input>") -> ParseResult:
    """Parse ``text``; never raises. ``file`` names the source in spans."""
    work = text if text.endswith("\n") else text + "\n"
    diagnostics = tab_diagnostics(work, file)
    parser = lark_parser()
    for _ in range(MAX_RECOVERIES):
        lines = _Lines(work)
        try:
            tree = parser.parse(work)
        except UnexpectedInput as exc:
            d, first, last = _syntax_diagnostic(exc, work, file, lines)
            blanked = _blank_lines(work, lines, first, last)
            if blanked == work:  # nothing left to remove on that line: give up here
                diagnostics.append(d)
                return ParseResult(_empty_tree(), tuple(diagnostics))
            diagnostics.append(d)
            work = blanked
            continue
        except TooDeep as exc:
            line = lines.line_of(exc.offset)
            d = error("E001", f"brackets nested more than {MAX_NESTING} deep", Span(file, exc.offset, exc.offset + 1),
                      "no film needs this many; write the value more simply")
            blanked = _blank_lines(work, lines, line, lines.block_end(line))
            diagnostics.append(d)
            if blanked == work:
                return ParseResult(_empty_tree(), tuple(diagnostics))
            work = blanked
            continue
        except RecursionError:
            diagnostics.append(error("E001", "the script nests too deeply to read", Span(file, 0, 0)))
            return ParseResult(_empty_tree(), tuple(diagnostics))
        return ParseResult(tree, tuple(diagnostics))
    diagnostics.append(error("E001", f"too many syntax errors (stopped after {MAX_RECOVERIES})", Span(file, 0, 0)))
    return ParseResult(_empty_tree(), tuple(diagnostics))


def recover_step(work: str, file: str) -> tuple[Diagnostic, str] | None:
    """One step of :func:`parse`'s recovery: the reference parser's first syntax diagnostic in
    ``work`` (a text ending in a newline) and ``work`` with the lines it blanks. ``None`` when
    ``work`` parses, or where :func:`parse` would do anything but blank and go on (nesting too
    deep, nothing left to blank): callers then take :func:`parse` itself."""
    lines = _Lines(work)
    try:
        lark_parser().parse(work)
    except UnexpectedInput as exc:
        d, first, last = _syntax_diagnostic(exc, work, file, lines)
        blanked = _blank_lines(work, lines, first, last)
        return None if blanked == work else (d, blanked)
    except (TooDeep, RecursionError):
        return None
    return None
