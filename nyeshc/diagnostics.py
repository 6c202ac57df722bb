"""Diagnostics are values: a code, a severity, a span, a message and hints.

Spans are 0-based character offsets into a source file's text. They become 1-based line and
column for people (and UTF-16 positions for the language server) only when rendered, by the
pure functions at the bottom of this module.

Codes are grouped by stage and never reused:

* ``E0xx`` — reading and parsing (syntax, encoding, indentation)
* ``E1xx``/``W1xx`` — names (unknown, duplicate, style)
* ``E2xx``/``W2xx`` — properties, options, values, transitions
* ``E3xx``/``W3xx`` — time and ranges
* ``E4xx`` — includes
* ``E5xx``/``W5xx`` — assets
* ``E6xx`` — limits
* ``E7xx`` — planning
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["error", "warning", "info"]

CODES: dict[str, str] = {
    # reading and parsing
    "E001": "syntax error",
    "E002": "file is not valid UTF-8",
    "E003": "tab used for indentation",
    "E004": "inconsistent indentation",
    "E005": "unterminated string",
    "E006": "file cannot be read",
    "E099": "the formatter would change the script's meaning (a formatter bug; the file is left alone)",
    # names
    "E101": "unknown name",
    "E102": "duplicate definition",
    "E103": "name refers to the wrong kind of definition",
    "W104": "character name is not in capitals",
    "E105": "unknown definition kind",
    "E106": "duplicate scene number",
    # properties, options, values
    "E201": "unknown property",
    "E202": "unknown option",
    "E203": "invalid value",
    "E204": "unknown transition",
    "E205": "missing required property",
    "E206": "duplicate property",
    "W207": "morph falls back to a crossfade",
    "E208": "unknown header field",
    "E209": "checkpoint or code named in a script",
    "W210": "option has no effect here",
    "W211": "option had no effect when the film was planned",
    "W212": "unknown cue extension (kept as a note)",
    "E213": "dual dialogue with no beat before it",
    "W214": "unknown transition spelling (a cut)",
    # time
    "E301": "negative time",
    "E302": "range ends before it starts",
    "W303": "element outlasts its scene",
    "E304": "transition longer than a scene it joins",
    "E305": "transition in the wrong place",
    "W306": "zero-length element",
    "E307": "a time on the music's grid with no music to count on",
    # includes
    "E401": "include not found",
    "E402": "include outside the project",
    "E403": "include cycle",
    "E404": "include path must be relative",
    "W405": "include defines scenes or header fields (ignored)",
    # assets
    "E501": "asset not found",
    "E502": "asset is not an image",
    "E503": "asset is not audio",
    "E504": "asset is not a video",
    "E505": "asset outside the project",
    # limits
    "E601": "canvas too large",
    "E602": "frame rate out of range",
    "E603": "film too long",
    "E604": "count out of range",
    # planning
    "E701": "plan exceeds the disk budget",
    "E702": "internal error: a checked element reached neither picture, sound nor job graph",
    "E703": "internal error: an option with an effect here was not used (strict planning)",
    "E704": "a time on the music's grid past the end of its cue",
    "W705": "a detected music grid with low confidence",
    "E706": "a cut on the grid makes a transition longer than a scene",
}


@dataclass(frozen=True, slots=True)
class Span:
    """A half-open range ``[start, end)`` of character offsets in ``file``."""

    file: str
    start: int
    end: int

    def to_json(self) -> dict[str, object]:
        return {"file": self.file, "start": self.start, "end": self.end}


@dataclass(frozen=True, slots=True)
class Label:
    span: Span
    message: str


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: str
    severity: Severity
    message: str
    span: Span
    hints: tuple[str, ...] = ()
    labels: tuple[Label, ...] = ()

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


def error(code: str, message: str, span: Span, *hints: str, labels: Sequence[Label] = ()) -> Diagnostic:
    return Diagnostic(code, "error", message, span, tuple(h for h in hints if h), tuple(labels))


def warning(code: str, message: str, span: Span, *hints: str, labels: Sequence[Label] = ()) -> Diagnostic:
    return Diagnostic(code, "warning", message, span, tuple(h for h in hints if h), tuple(labels))


@dataclass
class Sink:
    """Collects diagnostics; passes append to it and never raise."""

    items: list[Diagnostic] = field(default_factory=list)

    def add(self, diagnostic: Diagnostic) -> None:
        self.items.append(diagnostic)

    def extend(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.items.extend(diagnostics)

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.items)

    def sorted(self) -> list[Diagnostic]:
        return sorted(self.items, key=lambda d: (d.span.file, d.span.start, d.code))


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """``"did you mean X?"`` for the closest candidate, or ``""`` when none is close.

    >>> did_you_mean("NARATOR", ["NARRATOR", "GIRL"])
    'did you mean NARRATOR?'
    >>> did_you_mean("zzz", ["NARRATOR"])
    ''
    """
    import difflib

    pool = list(dict.fromkeys(candidates))
    best = difflib.get_close_matches(word, pool, n=1, cutoff=0.6)
    if not best:
        lowered = {c.lower(): c for c in pool}
        best = [lowered[m] for m in difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)]
    return f"did you mean {best[0]}?" if best else ""


# --------------------------------------------------------------------------- positions


class LineIndex:
    """Offsets ↔ (line, column) for one text; lines and columns are 0-based here."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0]
        i = text.find("\n")
        while i >= 0:  # str.find, not a loop over characters: a 2-hour script is ~200 k of them
            self.starts.append(i + 1)
            i = text.find("\n", i + 1)

    def position(self, offset: int) -> tuple[int, int]:
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self.starts, offset) - 1
        return line, offset - self.starts[line]

    def offset(self, line: int, column: int) -> int:
        if line >= len(self.starts):
            return len(self.text)
        return min(self.starts[line] + column, self._line_end(line))

    def _line_end(self, line: int) -> int:
        end = self.starts[line + 1] - 1 if line + 1 < len(self.starts) else len(self.text)
        return end

    def line_text(self, line: int) -> str:
        if line >= len(self.starts):
            return ""
        return self.text[self.starts[line] : self._line_end(line)]

    def utf16_position(self, offset: int) -> tuple[int, int]:
        """(line, UTF-16 code unit column) as the Language Server Protocol counts them."""
        line, col = self.position(offset)
        prefix = self.text[self.starts[line] : self.starts[line] + col]
        return line, len(prefix.encode("utf-16-le")) // 2

    def offset_from_utf16(self, line: int, character: int) -> int:
        text = self.line_text(line)
        units = 0
        for i, ch in enumerate(text):
            if units >= character:
                return self.starts[line] + i
            units += 2 if ord(ch) > 0xFFFF else 1
        return self.offset(line, len(text))


# --------------------------------------------------------------------------- rendering


def _where(d: Diagnostic, sources: Mapping[str, str]) -> tuple[int, int, LineIndex | None]:
    text = sources.get(d.span.file)
    if text is None:
        return 1, 1, None
    index = LineIndex(text)
    line, col = index.position(d.span.start)
    return line + 1, col + 1, index


def render_short(d: Diagnostic, sources: Mapping[str, str]) -> str:
    """``file:line:col: error[E101]: message``"""
    line, col, _ = _where(d, sources)
    return f"{d.span.file}:{line}:{col}: {d.severity}[{d.code}]: {d.message}"


def render_human(d: Diagnostic, sources: Mapping[str, str]) -> str:
    """The message, ``--> file:line:col``, the source line with a caret underline, the hints."""
    line, col, index = _where(d, sources)
    out = [f"{d.severity}[{d.code}]: {d.message}", f"  --> {d.span.file}:{line}:{col}"]
    if index is not None:
        text = index.line_text(line - 1)
        end_line, end_col = index.position(max(d.span.start, d.span.end))
        width = (end_col - (col - 1)) if end_line == line - 1 else len(text) - (col - 1)
        width = max(1, width)
        gutter = " " * len(str(line))
        out.append(f"{gutter} |")
        out.append(f"{line} | {text}")
        out.append(f"{gutter} | {' ' * (col - 1)}{'^' * width}")
    for label in d.labels:
        lline, lcol, _ = _where(Diagnostic(d.code, d.severity, "", label.span), sources)
        out.append(f"  = note: {label.message} ({label.span.file}:{lline}:{lcol})")
    for hint in d.hints:
        out.append(f"  = help: {hint}")
    return "\n".join(out)


def to_json(d: Diagnostic, sources: Mapping[str, str]) -> dict[str, object]:
    line, col, index = _where(d, sources)
    end_line, end_col = (index.position(d.span.end) if index else (line - 1, col - 1))
    return {
        "code": d.code,
        "severity": d.severity,
        "message": d.message,
        "file": d.span.file,
        "start": d.span.start,
        "end": d.span.end,
        "line": line,
        "column": col,
        "end_line": end_line + 1,
        "end_column": end_col + 1,
        "hints": list(d.hints),
        "labels": [{"message": lb.message, **lb.span.to_json()} for lb in d.labels],
    }


def render_json(diagnostics: Sequence[Diagnostic], sources: Mapping[str, str]) -> str:
    return json.dumps([to_json(d, sources) for d in diagnostics], indent=2, ensure_ascii=False)
