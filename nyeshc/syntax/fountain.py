"""Fountain in: a screenplay read as a ``.nysh`` film (``nyeshc import``; ``docs/interchange.md``).

This file is long (about 1,000 lines) on purpose: a Fountain reader (every element of the
format) and its translation into a film; the translation walks the reader's elements in order,
and the two share the element model.

The front end's second reader. :func:`read_fountain` reads Fountain text into
:class:`Element`\\ s (title page, headings with ``#n#`` numbers, forced elements ``. ! @ > ~``,
cue extensions and dual dialogue ``^``, parentheticals, dialogue with its two-space paragraph
lines, lyrics, transitions, centred text, page breaks, sections, synopses, notes; the boneyard
``/* */`` is a comment and vanishes). :func:`translate` turns them into a film that checks
clean, as a translation rather than a dump into notes:

* action paragraphs → action lines in the scene's flow (drawn with ``--show-action``: the
  header's ``action: show``); centred text → a shown, centred action line (a title card);
* cues → beats that play one after another in the flow (no computed ``at``); ``(V.O.)``,
  ``(O.S.)``, ``(CONT'D)`` → cue extensions; ``^`` → dual dialogue; ``@`` names keep their
  case as the character's display name (a ``[[ cue: McDUCK ]]`` note in its definition);
* ``~`` lyrics in a dialogue block → ``sings`` a generated music cue whose ``lyrics`` are them;
* transitions keep their spelling (``SMASH CUT TO:``, ``> FADE TO:``, ``FADE OUT.``);
* scene headings stay headings; sections, synopses, page breaks, scene numbers of ``INT.``
  headings, unknown title-page keys and transitions the language lacks become notes, and
  :class:`Imported` counts them so the command can say so;
* emphasis (``*x*``, ``**x**``, ``_x_``) stays in the text, so exports keep it:
  :func:`strip_emphasis` is what is spoken and shown.

A ``[[nysh: …]]`` note is nyeshc's own (``nyeshc export -o x.fountain`` writes them): at the
top it holds the film's settings (header fields and definitions), after an element it holds
that element's options (``[[nysh: , at 2s, close-up]]``), and elsewhere a directive
(``[[nysh: backdrop: DUSK]]``), an action (``[[nysh: sings THEME, for 12s]]``) or a credits
heading (``[[nysh: CREDITS NYESH, 10s]]``). Inside one, ``[[``/``]]`` are written ``[\\[``/``]\\]``.
A screenplay that carries them imports back into the film it was exported from.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from dataclasses import dataclass, field

from nyeshc import schema

__all__ = ["Element", "Screenplay", "Imported", "ImportError_", "read_fountain", "translate", "to_nysh",
           "strip_emphasis", "TITLE_KEYS", "NYSH_NOTE", "escape_nysh_note", "unescape_nysh_note",
           "is_fountain_heading", "is_transition_line", "CUE_LINE", "DEFAULT_CANVAS", "string_literal", "display_of",
           "sung_seconds"]

# --------------------------------------------------------------------------- shared with the exporter

TITLE_KEYS = {"title": "Title", "author": "Author", "credit": "Credit", "authors": "Authors", "source": "Source",
              "draft_date": "Draft date", "date": "Date", "contact": "Contact", "copyright": "Copyright",
              "revision": "Revision", "notes": "Notes"}
"""Fountain title-page keys nyeshc keeps as header fields (their Fountain spelling)."""

NYSH_NOTE = "nysh:"
"""A note ``[[nysh: …]]`` holds nysh source (settings, options, directives)."""

DEFAULT_CANVAS = "1280x720, 24fps"

HEADING_ONLY = "heading only"
"""The note in a scene that is only a heading (a scene holds at least one item)."""

_HEADING = re.compile(r"^(INT\.?/EXT|INT/EXT|I/E|INT|EXT|EST)[. ]", re.IGNORECASE)
_SCENE_NUMBER = re.compile(r"\s*#([\w.\-]+)#\s*$")
_TITLE_LINE = re.compile(r"^([A-Za-z][A-Za-z ]*):(.*)$")
CUE_LINE = re.compile(r"^(?P<name>[^a-z()^]*?[A-Z][^a-z()^]*?)\s*(?P<ext>(\([^)]*\)\s*)*)(?P<dual>\^)?\s*$")
_FORCED_CUE = re.compile(r"^(?P<name>[^(^]*?)\s*(?P<ext>(\([^)]*\)\s*)*)(?P<dual>\^)?\s*$")
_INLINE_NOTE = re.compile(r"\[\[(.*?)\]\]", re.DOTALL)
_INLINE_NOTE_SPACED = re.compile(r"[ \t]*\[\[(.*?)\]\]", re.DOTALL)
# the grammar's transition token (grammar/nysh.lark): what a .nysh file can spell
_NYSH_TRANSITION = re.compile(r"(?:[A-Z]+ )+(?:TO|IN|OUT|INTO|THROUGH)(?: [A-Z]+)?|FADE OUT\.")
_TIME = re.compile(r"\d+:\d\d(?::\d\d)?(?:\.\d+)?|\d+(?:\.\d+)?(?:ms|s|f)")


def is_fountain_heading(text: str) -> bool:
    """``INT. HOUSE - DAY``, ``EXT HOUSE``, ``I/E. CAR``… (any case), as Fountain reads them."""
    return bool(_HEADING.match(text + " "))


def is_transition_line(line: str) -> bool:
    """A line Fountain reads as a transition when it stands between blank lines."""
    s = line.strip()
    return s == s.upper() and (s.endswith("TO:") or s in ("FADE IN:", "FADE OUT.", "FADE OUT:", "FADE TO BLACK.",
                                                          "FADE TO BLACK:", "FADE IN.", "CUT TO BLACK."))


def escape_nysh_note(src: str) -> str:
    """nysh source as a note's body: ``[[``/``]]`` inside it would end the note."""
    return src.replace("\\[", "\\\\[").replace("[[", "[\\[").replace("]]", "]\\]")


def unescape_nysh_note(body: str) -> str:
    return body.replace("]\\]", "]]").replace("[\\[", "[[").replace("\\\\[", "\\[")


# --------------------------------------------------------------------------- emphasis

_EMPHASIS = (
    re.compile(r"(?<![\\*])\*\*\*(?=[^\s*])([^\n]*?[^\s\\])\*\*\*(?!\*)"),
    re.compile(r"(?<![\\*])\*\*(?=[^\s*])([^\n]*?[^\s\\])\*\*(?!\*)"),
    re.compile(r"(?<![\\*])\*(?=[^\s*])([^\n]*?[^\s\\*])\*(?!\*)"),
    re.compile(r"(?<![\\\w])_(?=[^\s_])([^\n]*?[^\s\\_])_(?!\w)"),
)


def strip_emphasis(text: str) -> str:
    """The words of ``text`` without Fountain's emphasis marks: ``*italic*``, ``**bold**``,
    ``***bold italic***``, ``_underline_`` (nested or not); ``\\*`` and ``\\_`` are a literal
    star and underscore. What is spoken (a voice's text), shown (subtitles, action lines,
    captions) and timed (reading) is the stripped text; the marks stay in the script and in
    exports. Pure: a star between spaces, a snake_case_name and a lone ``*`` are left alone.

    >>> strip_emphasis("I *really* mean it, **Tom**. _Now._")
    'I really mean it, Tom. Now.'
    >>> strip_emphasis("_**BRICK & STEEL**_ and ***all*** of it")
    'BRICK & STEEL and all of it'
    >>> strip_emphasis(r"5 * 3, a_b_c, \\*not\\* emphasis")
    '5 * 3, a_b_c, *not* emphasis'
    """
    if "*" not in text and "_" not in text:
        return text
    before = None
    while before != text:
        before = text
        for pattern in _EMPHASIS:
            text = pattern.sub(r"\1", text)
    return re.sub(r"\\([*_])", r"\1", text)


# --------------------------------------------------------------------------- reading


@dataclass
class Element:
    """One Fountain element: ``kind`` is ``heading``, ``action``, ``character``,
    ``parenthetical``, ``dialogue``, ``lyrics``, ``transition``, ``centered``, ``page_break``,
    ``section``, ``synopsis`` or ``note``."""

    kind: str
    text: str
    number: str | None = None  # a heading's scene number
    extension: str = ""  # a cue's extensions as written: "(V.O.)", "(V.O.) (CONT'D)"
    dual: bool = False  # a cue marked ^ (dual dialogue)
    depth: int = 0  # a section's depth
    forced: bool = False  # a heading forced with ".", a cue with "@", a transition with ">"
    dialogue: bool = False  # a note or lyrics inside a dialogue block
    line: int = 0  # where it starts in the source (1-based, after the boneyard is removed)


@dataclass
class Screenplay:
    title_page: list[tuple[str, str]] = field(default_factory=list)
    elements: list[Element] = field(default_factory=list)


def read_fountain(text: str) -> Screenplay:
    """Parse Fountain text into a :class:`Screenplay` (never raises)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    # the boneyard is a comment; keep its line breaks so line numbers stay right
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n") if "\n" in m.group(0) else "", text,
                  flags=re.DOTALL)
    lines = text.split("\n")
    sp = Screenplay()
    i = 0
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i < len(lines) and _TITLE_LINE.match(lines[i]) and not _HEADING.match(lines[i]) \
            and not is_transition_line(lines[i]):
        while i < len(lines) and lines[i].strip():
            m = _TITLE_LINE.match(lines[i])
            if m and not lines[i].startswith((" ", "\t")):
                sp.title_page.append((m.group(1).strip(), m.group(2).strip()))
            elif lines[i].startswith((" ", "\t")) and sp.title_page:  # a value on indented lines
                key, value = sp.title_page[-1]
                sp.title_page[-1] = (key, (value + "\n" + lines[i].strip()).strip())
            else:
                break  # neither a key nor an indented value: the screenplay itself
            i += 1
    els = sp.elements
    in_dialogue = False
    new_paragraph = False  # a two-space line in dialogue: the next text is a new line
    centred_open = False  # the line before was centred text (consecutive ones are one card)
    action: list[str] = []
    action_line = 0

    def flush_action() -> None:
        nonlocal action_line
        if action:
            body = "\n".join(action).strip("\n")
            if body.strip():
                els.append(Element("action", body, line=action_line))
            action.clear()

    def blank(j: int) -> bool:
        return j < 0 or j >= len(lines) or not lines[j].strip()

    while i < len(lines):
        raw = lines[i]
        line = raw.strip()
        where = i + 1
        if not line:
            if in_dialogue and len(raw) >= 2 and set(raw) == {" "}:
                new_paragraph = True  # Fountain's blank line inside dialogue
            else:
                flush_action()
                in_dialogue = centred_open = False
            i += 1
            continue
        if line.startswith("[[") and "]]" not in line:  # a note over several lines
            j = i
            chunk = raw
            while "]]" not in chunk and j + 1 < len(lines):
                j += 1
                chunk += "\n" + lines[j]
            if "]]" in chunk:
                i, raw = j, chunk
                line = raw.strip()
        m = _INLINE_NOTE.fullmatch(line)
        if m:  # a note on its own line(s)
            if not in_dialogue:
                flush_action()
                centred_open = False
            els.append(Element("note", m.group(1).strip(), dialogue=in_dialogue, line=where))
            i += 1
            continue
        notes = [n.strip() for n in _INLINE_NOTE.findall(line)]
        line = _INLINE_NOTE_SPACED.sub("", line).strip()
        raw = _INLINE_NOTE_SPACED.sub("", raw)
        if in_dialogue:
            if line.startswith("(") and line.endswith(")"):
                els.append(Element("parenthetical", line[1:-1].strip(), line=where))
            elif line.startswith("~"):
                els.append(Element("lyrics", line[1:].strip(), dialogue=True, line=where))
            elif line:
                if els and els[-1].kind == "dialogue" and not new_paragraph:
                    els[-1].text += "\n" + line
                else:
                    els.append(Element("dialogue", line, line=where))
            new_paragraph = False
            els.extend(Element("note", n, dialogue=True, line=where) for n in notes)
            i += 1
            continue
        element: Element | None = None
        if not line and notes:
            pass
        elif re.fullmatch(r"={3,}", line):
            element = Element("page_break", "===")
        elif line.startswith("#"):
            depth = len(line) - len(line.lstrip("#"))
            element = Element("section", line[depth:].strip(), depth=depth)
        elif line.startswith("="):
            element = Element("synopsis", line[1:].strip())
        elif line.startswith(">") and line.endswith("<"):
            inner = line[1:-1].strip()
            if centred_open and els and els[-1].kind == "centered":
                els[-1].text += "\n" + inner
            else:
                flush_action()
                els.append(Element("centered", inner, line=where))
            centred_open = True
            els.extend(Element("note", n, line=where) for n in notes)
            i += 1
            continue
        elif line.startswith(">"):
            element = Element("transition", line[1:].strip(), forced=True)
        elif line.startswith("!"):
            if not action:
                action_line = where
            action.append(line[1:])
        elif line.startswith("~"):
            element = Element("lyrics", line[1:].strip())
        elif line.startswith(".") and not line.startswith("..") or (_HEADING.match(line) and blank(i - 1)):
            forced = line.startswith(".") and not _HEADING.match(line)
            head = line[1:].strip() if forced else line
            m = _SCENE_NUMBER.search(head)
            number = m.group(1) if m else None
            head = _SCENE_NUMBER.sub("", head).strip()
            element = Element("heading", head, number=number, forced=forced)
        elif is_transition_line(line) and raw == raw.rstrip() and blank(i - 1) and blank(i + 1):
            # (a line ending in spaces is not a transition: the spec's escape for "CUT TO: " as action)
            element = Element("transition", line)
        elif blank(i - 1) and not blank(i + 1) and (line.startswith("@") or CUE_LINE.match(line)):
            forced = line.startswith("@")
            name = line[1:] if forced else line
            cue = (_FORCED_CUE if forced else CUE_LINE).match(name)
            assert cue is not None
            element = Element("character", cue.group("name").strip(), extension=(cue.group("ext") or "").strip(),
                              dual=bool(cue.group("dual")), forced=forced)
            in_dialogue, new_paragraph = True, False
        else:
            if not action:
                action_line = where
            action.append(raw.rstrip())
        centred_open = False
        if element is not None:
            flush_action()
            element.line = where
            els.append(element)
        els.extend(Element("note", n, dialogue=in_dialogue, line=where) for n in notes)
        i += 1
    flush_action()
    return sp


# --------------------------------------------------------------------------- writing .nysh


class ImportError_(ValueError):  # noqa: N801 - not the builtin
    """The generated script could not be formatted (a bug: the message says why)."""


@dataclass
class Imported:
    """The ``.nysh`` text and what became notes (``notes``: kind → count; ``details``: one
    line each, with the Fountain line number)."""

    text: str
    notes: Counter[str] = field(default_factory=Counter)
    details: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """``3 sections, 1 synopsis and 1 transition (GO TO:) became notes``, or ``""``."""
        if not self.notes:
            return ""
        parts = [f"{n} {kind if n == 1 else _plural(kind)}" for kind, n in sorted(self.notes.items())]
        return (", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]) + " became notes"


_PLURALS = {"synopsis": "synopses", "lyrics line outside dialogue": "lyrics lines outside dialogue",
            "nysh note with nothing to attach to": "nysh notes with nothing to attach to",
            "nysh note that does not parse": "nysh notes that do not parse",
            "dual-dialogue caret on a scene's first beat": "dual-dialogue carets on a scene's first beat"}


def _plural(kind: str) -> str:
    return _PLURALS.get(kind, kind + "s")


def _h(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()[:4], "big")


def _q(text: str) -> str:
    from nyeshc.syntax.format import escape

    return escape(text)


def string_literal(text: str, indent: int) -> str:
    """``text`` as a nysh string at a line indented by ``indent``: a ``\"\"\"`` block when it has
    several lines and reads back the same, else ``"…"`` with escapes."""
    from nyeshc.syntax.lower import long_string_text

    if "\n" in text and not re.search(r"(?m)^[ ]*\t", text):  # a tab in the indentation is an error
        body = text.replace("\\", "\\\\").replace('"', '\\"')
        pad = " " * (indent + 4)
        raw = '"""\n' + "\n".join(pad + line if line else "" for line in body.split("\n")) + "\n" + " " * indent + '"""'
        if long_string_text(raw) == text:
            return raw
    return _q(text)


_RESERVED = {"SCENE", "CREDITS", "include"}


def _ident(text: str, taken: set[str], fallback: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_]+", "_", text.upper()).strip("_")
    name = re.sub(r"_+", "_", name)
    if not name or not name[0].isalpha():
        name = f"{fallback}_{name}".strip("_")
    if name in _RESERVED:
        name += "_"
    base, n = name, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    return name


def display_of(ident: str) -> str:
    """The cue a character's identifier stands for when it has no ``[[ cue: … ]]`` note."""
    return ident.replace("_", " ")


def _location(heading: str) -> str:
    loc = _HEADING.sub("", heading + " ", count=1).strip() if _HEADING.match(heading + " ") else heading
    return re.split(r"\s+-\s+", loc)[0].strip() or heading


def _clean_note(text: str) -> str:
    # (a tab at the start of a line is an error in a .nysh file, even inside a note)
    return text.replace("[[", "[ [").replace("]]", "] ]").replace("\t", "    ").strip() or "(empty)"


def _clean_paren(text: str) -> str:
    return _unnoted(" ".join(re.sub(r"[()]", "", text).split())) or "beat"


def _unnoted(text: str) -> str:
    """Text with an unclosed ``[[`` (Fountain keeps it as text) that no reader takes for a note."""
    return text.replace("[[", "[ [")


def sung_seconds(lyrics: list[str]) -> int:
    """How long a generated cue sings its lyrics: 0.6 s a word (100 words a minute, slower than
    speech), at least 2 s, in whole seconds."""
    words = sum(len(line.split()) for line in lyrics)
    return max(2, math.ceil(words * 0.6))


@dataclass
class _Line:
    text: str
    options: list[str] = field(default_factory=list)


@dataclass
class _Action:
    text: str
    options: list[str] = field(default_factory=list)


@dataclass
class _Beat:
    cue: str
    extensions: list[str]
    dual: bool
    forced: bool
    line: int
    options: list[str] = field(default_factory=list)
    lines: list[tuple[str, object]] = field(default_factory=list)  # ("paren"|"note"|"raw", str), ("line", _Line), ("sing", list)


@dataclass
class _Scene:
    heading: Element | None
    options: list[str] = field(default_factory=list)
    items: list[tuple[str, object]] = field(default_factory=list)  # ("note"|"raw", str), ("beat", _Beat), ("action", _Action)


@dataclass
class _Transition:
    element: Element
    options: list[str] = field(default_factory=list)


@dataclass
class _Credits:
    head: str
    lines: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


_NOTE_PREFIX = {"centered": "centred: ", "page_break": "page break", "section": "section: ",
                "synopsis": "synopsis: ", "lyrics": "lyrics: ", "transition": "transition: "}
_NOTE_KIND = {"page_break": "page break", "section": "section", "synopsis": "synopsis",
              "lyrics": "lyrics line outside dialogue", "transition": "transition"}


# what a settings note may not start with: a scene, the credits, a transition, a directive
_SETTINGS_NOT = re.compile(r"(?:SCENE|CREDITS)\b|[A-Z]+ .*(?:TO|IN|OUT|INTO|THROUGH)(?: [A-Z]+)?:|FADE OUT\.|INT|EXT|EST|I/E|"
                           r"(?:" + "|".join(schema.DIRECTIVES) + r")\s*:")


def _syntax_ok(text: str) -> bool:
    from nyeshc.syntax import read

    _, diags = read(text, "<nysh note>")
    return not any(d.is_error for d in diags)


def _indent(src: str, by: int) -> list[str]:
    pad = " " * by
    return [pad + line if line.strip() else "" for line in src.split("\n")]


class _Translator:
    def __init__(self, sp: Screenplay, name: str, canvas: str | None, show_action: bool) -> None:
        self.sp, self.name, self.canvas, self.show_action = sp, name, canvas, show_action
        self.body: list[object] = []  # _Scene | _Transition | _Credits | ("note", str)
        self.scene: _Scene | None = None
        self.beat: _Beat | None = None
        self.target: object | None = None  # what a [[nysh: , options]] note adds options to
        self.credits: _Credits | None = None
        self.skip_lyrics = False
        self.settings: list[str] = []
        self.top_notes: list[str] = []
        self.out = Imported("")

    # ----------------------------------------------------------------- bookkeeping

    def noted(self, kind: str, line: int, text: str) -> None:
        self.out.notes[kind] += 1
        self.out.details.append(f"line {line}: {kind} → [[ {text} ]]")

    def add_note(self, text: str) -> None:
        if self.scene is not None:
            self.scene.items.append(("note", text))
        else:
            self.body.append(("note", text))

    def open_scene(self) -> _Scene:
        if self.scene is None:
            self.scene = _Scene(None)
            self.body.append(self.scene)
        return self.scene

    # ----------------------------------------------------------------- the walk

    def walk(self) -> None:
        for el in self.sp.elements:
            if el.kind == "note" and el.text.startswith(NYSH_NOTE):
                self.nysh(el)
                continue
            if el.kind == "note":
                self.plain_note(el)
                continue
            if el.kind == "centered" and self.credits is not None:
                self.credits.lines.extend(_unnoted(el.text).split("\n"))
                continue
            self.credits = None
            if el.kind != "lyrics":
                self.skip_lyrics = False
            getattr(self, "el_" + el.kind, self.el_other)(el)

    def plain_note(self, el: Element) -> None:
        """A note where it stands: in the credits, in a dialogue block, in the scene, or between."""
        if self.credits is not None and not el.dialogue:
            self.credits.notes.append(el.text)
        elif el.dialogue and self.beat is not None:
            self.beat.lines.append(("note", el.text))
        else:
            self.add_note(el.text)
        self.target = None

    def el_heading(self, el: Element) -> None:
        self.scene = _Scene(el)
        self.body.append(self.scene)
        self.beat = None
        self.target = self.scene

    def el_transition(self, el: Element) -> None:
        if _nysh_transition(el.text, []) is None:  # a spelling the language lacks: a note where it stands
            text = _NOTE_PREFIX["transition"] + el.text
            self.noted("transition", el.line, text)
            self.add_note(text)
            self.beat = self.target = None
            return
        t = _Transition(el)
        self.body.append(t)
        self.scene = self.beat = None
        self.target = t

    def el_character(self, el: Element) -> None:
        scene = self.open_scene()
        exts = [" ".join(e.split()) for e in re.findall(r"\(([^()]*)\)", el.extension)]
        self.beat = _Beat(el.text, exts, el.dual, el.forced, el.line)
        scene.items.append(("beat", self.beat))
        self.target = self.beat

    def el_parenthetical(self, el: Element) -> None:
        if self.beat is not None:
            self.beat.lines.append(("paren", el.text))
        self.target = None

    def el_dialogue(self, el: Element) -> None:
        if self.beat is None:
            return
        line = _Line(_unnoted(" ".join(el.text.split())))
        self.beat.lines.append(("line", line))
        self.target = line

    def el_lyrics(self, el: Element) -> None:
        self.target = None
        if el.dialogue and self.beat is not None:
            if self.skip_lyrics:
                return  # the lyrics of the cue a [[nysh: sings …]] note names
            last = self.beat.lines[-1] if self.beat.lines else None
            if last is not None and last[0] == "sing":
                last[1].append(_unnoted(el.text))  # type: ignore[attr-defined]
            else:
                self.beat.lines.append(("sing", [_unnoted(el.text)]))
            return
        self.noted(_NOTE_KIND["lyrics"], el.line, _NOTE_PREFIX["lyrics"] + el.text)
        self.add_note(_NOTE_PREFIX["lyrics"] + el.text)

    def el_action(self, el: Element) -> None:
        scene = self.open_scene()
        a = _Action(_unnoted(el.text))
        scene.items.append(("action", a))
        self.beat = None
        self.target = a

    def el_centered(self, el: Element) -> None:
        scene = self.open_scene()
        a = _Action(_unnoted(el.text), ["center", "show"])
        scene.items.append(("action", a))
        self.beat = None
        self.target = a

    def el_other(self, el: Element) -> None:  # page breaks, sections, synopses
        if el.kind == "page_break":
            text = "page break"
        elif el.kind == "section" and el.depth > 1:
            text = f"section {el.depth}: {el.text}"
        else:
            text = (_NOTE_PREFIX.get(el.kind, el.kind + ": ") + el.text).strip()
        self.noted(_NOTE_KIND.get(el.kind, el.kind), el.line, text)
        self.add_note(text)
        self.beat = None
        self.target = None

    def nysh(self, el: Element) -> None:
        src = unescape_nysh_note(el.text[len(NYSH_NOTE):]).strip("\n").rstrip()
        src = src[1:] if src.startswith(" ") and "\n" not in src else src
        s = src.strip()
        if s.startswith(","):
            opts = s[1:].strip()
            if self.target is not None and opts and _syntax_ok(f'SCENE:\n    "x", {opts}\n'):
                self.target.options.append(opts)  # type: ignore[attr-defined]
            else:
                self.noted("nysh note with nothing to attach to", el.line, el.text)
                self.plain_note(el)
            return
        self.target = None
        if self.credits is not None and not el.dialogue:  # the credits hold their lines and notes only
            self.noted("nysh note with nothing to attach to", el.line, el.text)
            self.plain_note(el)
            return
        if s.startswith("CREDITS") and _syntax_ok(s + ":\n    \"x\"\n"):
            self.credits = _Credits(s)
            self.body.append(self.credits)
            self.scene = self.beat = None
            return
        if el.dialogue and self.beat is not None:
            if _syntax_ok("SCENE:\n    X:\n" + "\n".join(_indent(src, 8)) + "\n"):
                self.beat.lines.append(("raw", src))
                self.skip_lyrics = s.startswith("sings ")
                return
        elif self.scene is not None and re.match(r"(\w+)", s) and re.match(r"(\w+)", s).group(1) in schema.DIRECTIVES:
            if _syntax_ok("SCENE:\n" + "\n".join(_indent(src, 4)) + "\n"):
                self.scene.items.append(("raw", src))
                return
        elif self.scene is None and _syntax_ok(src + "\n") and not _SETTINGS_NOT.match(s):
            self.settings.append(src)
            return
        self.noted("nysh note that does not parse", el.line, el.text)
        self.plain_note(el)

    # ----------------------------------------------------------------- the film

    def run(self) -> Imported:
        from nyeshc.syntax import read
        from nyeshc.syntax.format import format_source

        self.walk()
        settings_src = "\n".join(self.settings)
        settings, _ = read(settings_src + "\n", "<settings>") if self.settings else (None, [])
        plain = settings is None  # a writer's screenplay, not one nyeshc exported (even [[nysh:]] says it is)
        taken: set[str] = {d.name for d in settings.definitions} if settings else set()
        header_keys = {p.key for p in settings.header.fields} if settings else set()

        # characters: the settings' (by display name), else generated from the cue
        by_display: dict[str, str] = {}
        if settings:
            for d in settings.definitions:
                if d.kind == "character":
                    cue = next((n.text[4:].strip() for n in d.notes if n.text.startswith("cue:")), display_of(d.name))
                    by_display.setdefault(cue, d.name)
                    by_display.setdefault(d.name, d.name)
        lower_display = {k.upper(): v for k, v in reversed(list(by_display.items()))}
        new_chars: dict[str, str] = {}  # cue → identifier

        def who(cue: str) -> str:
            if cue in by_display:
                return by_display[cue]
            if cue.upper() in lower_display:
                return lower_display[cue.upper()]
            if cue not in new_chars:
                new_chars[cue] = _ident(cue, taken, "CHARACTER")
                taken.add(new_chars[cue])
            return new_chars[cue]

        # header
        tp = {k.lower().replace(" ", "_"): v for k, v in self.sp.title_page}
        title = strip_emphasis(tp.get("title", "")).strip()
        author = strip_emphasis(tp.get("author", tp.get("authors", ""))).strip()
        head: list[str] = []
        if title or plain:
            title = title or self.name
            if "title" not in header_keys:
                head.append(f"title: {_q(title)}")
        if author and "author" not in header_keys:
            head.append(f"author: {_q(author)}")
        for key, value in self.sp.title_page:
            k = key.lower().replace(" ", "_")
            if k in ("title", "author") or (k == "authors" and "author" not in tp):
                continue  # the title and author above
            if k in TITLE_KEYS:
                if k not in header_keys:
                    head.append(f"{k}: {_q(value)}")
            else:
                self.top_notes.append(f"{key}: {value}")
                self.out.notes["title-page key"] += 1
                self.out.details.append(f"title page: {key} → [[ {key}: {value} ]]")
        if plain:
            head += [f"canvas: {self.canvas or DEFAULT_CANVAS}", f"seed: {_h('film', title) % 100_000}",
                     "subtitles: plain"]
        elif self.canvas:
            settings_src = re.sub(r"(?m)^canvas:.*$", lambda _: f"canvas: {self.canvas}", settings_src)
            if "canvas" not in header_keys:
                head.append(f"canvas: {self.canvas}")
        if self.show_action and "action" not in header_keys:
            head.append("action: show")

        if not any(isinstance(x, (_Scene, _Credits)) for x in self.body):
            # an outline (sections, synopses, notes) has nothing to film: its title is the card
            self.body.append(_Scene(None, items=[("action", _Action(title or self.name, ["center", "show"]))]))
        body_lines, defs = self.render_body(who, taken, plain)

        out: list[str] = [*head, ""]
        if settings_src:
            out += [settings_src, ""]
        out += defs["alphabet"] + defs["look"]
        for cue, ident in new_chars.items():
            out += [f"character {ident}:"]
            if cue != display_of(ident):
                out.append(f"    [[ cue: {_clean_note(cue)} ]]")
            out += [f"    portrait: generate, seed {_h('portrait', cue) % 10_000}, truncation 0.7",
                    f"    voice: asemic, pitch {0.75 + (_h('pitch', cue) % 60) / 100:.2f}, "
                    f"rate {0.9 + (_h('rate', cue) % 20) / 100:.2f}",
                    "    motion: lipsync"]
        out += defs["music"]
        out.append("")
        out += [f"[[ {_clean_note(n)} ]]" for n in self.top_notes]
        out += body_lines
        if plain and (tp.get("title") or author):
            out += ["", "CREDITS SCRIPT:", f"    {_q(' '.join(title.split()))}"]
            if author:
                out.append(f"    {_q('written by ' + ' '.join(author.split()))}")
        text = "\n".join(out) + "\n"
        result = format_source(text, f"{self.name}.nysh")
        if result.text is None:
            msgs = "; ".join(d.message for d in result.diagnostics)
            raise ImportError_(f"the generated script does not parse ({msgs}):\n{text}")
        self.out.text = result.text
        self.out.details.sort(key=lambda d: int(m.group(1)) if (m := re.match(r"line (\d+)", d)) else 0)
        return self.out

    def render_body(self, who, taken: set[str], plain: bool) -> tuple[list[str], dict[str, list[str]]]:  # noqa: ANN001
        defs: dict[str, list[str]] = {"alphabet": [], "look": [], "music": []}
        looks: dict[str, str] = {}
        resolved = self.resolve_transitions()
        used_numbers: set[str] = set()
        lines: list[str] = []
        tp = {k.lower() for k, _ in self.sp.title_page}
        if plain and ("title" in tp or "author" in tp or "authors" in tp):
            taken.add("SCRIPT")
            defs["alphabet"] = ["alphabet SCRIPT:", "    glyphs: 26", "    strokes: 2..4",
                                f"    seed: {_h('alphabet', dict(self.sp.title_page).get('Title', self.name)) % 1000}",
                                "    ink: #efe6d2", ""]

        def look(loc: str) -> str:
            if loc.upper() not in looks:
                ident = _ident(loc, taken, "PLACE")
                taken.add(ident)
                looks[loc.upper()] = ident
                defs["look"] += [f"look {ident}:",
                                 f"    image: generate, seed {_h('look', loc.upper()) % 10_000}, truncation 0.7"]
            return looks[loc.upper()]

        for item in resolved:
            if isinstance(item, tuple) and item[0] == "note":
                lines += ["", f"[[ {_clean_note(str(item[1]))} ]]"]
            elif isinstance(item, tuple) and item[0] == "transition":
                lines += ["", str(item[1])]
            elif isinstance(item, _Credits):
                lines += ["", item.head + ":"]
                lines += [f"    {_q(t)}" for t in item.lines]
                lines += [f"    [[ {_clean_note(n)} ]]" for n in item.notes]
                if not item.lines and not item.notes:
                    lines.append("    [[ credits ]]")
            elif isinstance(item, _Scene):
                lines += [""] + self.render_scene(item, who, look, plain, used_numbers, taken, defs)
        return lines, defs

    def render_scene(self, sc: _Scene, who, look, plain: bool, numbers: set[str], taken: set[str],  # noqa: ANN001
                     defs: dict[str, list[str]]) -> list[str]:
        el = sc.heading
        first: list[str] = []
        text = " ".join(el.text.split()) if el is not None else ""
        number = el.number if el is not None else None
        heading = "SCENE"
        m = _HEADING.match(text + " ") if text else None
        rest = ""
        if m:
            upper = re.sub(r"\s+", " ", text.upper().replace(",", " -").replace(":", " -").replace("#", "")).strip()
            m = _HEADING.match(upper + " ")
            rest = upper[m.end():].strip(" .-") if m else ""
        if m and rest:
            prefix = {"INT": "INT.", "EXT": "EXT.", "EST": "EST.", "INT/EXT": "INT/EXT", "I/E": "I/E."}.get(
                m.group(1).upper(), "INT./EXT.")
            heading = f"{prefix} {rest}"
            if number:
                first.append(f"scene number {number}")
                self.out.notes["scene number"] += 1
                self.out.details.append(f"line {el.line}: scene number #{number}# → [[ scene number {number} ]]")
        else:
            title = text
            untitled = re.fullmatch(r"SCENE(?:\s+(\d+(?:\.\d+)?))?", text)
            if untitled:
                title = ""
                number = number or untitled.group(1)
            num = number if number and re.fullmatch(r"\d+(\.\d+)?", number) and number not in numbers else None
            if number and num is None:
                first.append(f"scene number {number}")
                self.out.notes["scene number"] += 1
                self.out.details.append(f"line {el.line if el else 0}: scene number #{number}# → "
                                        f"[[ scene number {number} ]]")
            if num:
                numbers.add(num)
            heading = "SCENE" + (f" {num}" if num else "") + (f" {_q(title)}" if title else "")
        opts = "".join(", " + o for o in sc.options)
        out = [f"{heading}{opts}:"]
        out += [f"    [[ {_clean_note(n)} ]]" for n in first]
        place = bool(m and rest and schema.heading_place(heading))
        if place:  # the language gives it its place's backdrop (one seed per place, lit for the time)
            if not sc.items and not first:
                out.append(f"    [[ {HEADING_ONLY} ]]")  # a scene holds at least one item
        elif plain or not sc.items:
            out.append(f"    backdrop: {look(_location(text or 'OPENING'))}")
        first_beat = True
        for kind, item in sc.items:
            if kind == "note":
                out.append(f"    [[ {_clean_note(str(item))} ]]")
            elif kind == "raw":
                out += _indent(str(item), 4)
            elif kind == "action":
                assert isinstance(item, _Action)
                out.append("    " + string_literal(item.text, 4) + "".join(", " + o for o in item.options))
            elif kind == "beat":
                assert isinstance(item, _Beat)
                out += self.render_beat(item, who, first_beat, taken, defs)
                first_beat = False
        return out

    def render_beat(self, b: _Beat, who, first: bool, taken: set[str], defs: dict[str, list[str]]) -> list[str]:  # noqa: ANN001
        ident = who(b.cue)
        known = [e for e in b.extensions if e.upper().replace(" ", "") in schema.CUE_EXTENSIONS]
        off = [e for e in known if schema.CUE_EXTENSIONS[e.upper().replace(" ", "")] == "offscreen"]
        ext = (off or known or [None])[0]
        body: list[str] = []
        for e in b.extensions:
            if e == ext:
                continue
            if e in known:
                body.append(f"        [[ cue extension: ({_clean_note(e)}) ]]")
                self.noted("second cue extension", b.line, f"cue extension: ({e})")
            else:  # a direction written as an extension: (ON PHONE), (WHISPERING)
                body.append(f"        ({_clean_paren(e)})")
        dual = b.dual
        if dual and first:
            dual = False
            body.append("        [[ dual dialogue ^ with no beat before it ]]")
            self.noted("dual-dialogue caret on a scene's first beat", b.line, "dual dialogue ^ with no beat before it")
        cue = ident + (f" ({ext})" if ext else "") + (" ^" if dual else "") + "".join(", " + o for o in b.options)
        out = [f"    {cue}:"]
        for kind, item in b.lines:
            if kind == "paren":
                p = _clean_paren(str(item))
                body.append("        (pause 1s)" if re.fullmatch(r"(?i)pause|beat|a beat", p) else f"        ({p})")
            elif kind == "note":
                body.append(f"        [[ {_clean_note(str(item))} ]]")
            elif kind == "raw":
                body += _indent(str(item), 8)
            elif kind == "line":
                assert isinstance(item, _Line)
                body.append("        " + _q(item.text) + "".join(", " + o for o in item.options))
            elif kind == "sing":
                lyrics = list(item)  # type: ignore[call-overload]
                song = _ident(f"{ident} SONG", taken, "SONG")
                taken.add(song)
                secs = sung_seconds(lyrics)
                defs["music"] += [f"music {song}:",
                                  f"    source: generate, genre \"folk\", length {secs}s, seed {_h('song', song) % 10_000}",
                                  "    lyrics: " + string_literal("\n".join(lyrics), 4)]
                body.append(f"        sings {song}, for {secs}s")
        if not body:
            body.append("        (silent)")
        return out + body

    def resolve_transitions(self) -> list[object]:
        """Transitions the language has, where they can act, in the writer's spelling; any
        other becomes a note."""
        items: list[object] = []
        for item in self.body:
            if isinstance(item, _Transition):
                items.append(("candidate", item, _nysh_transition(item.element.text, item.options)))
            else:
                items.append(item)

        def kind_of(x: object) -> str:
            if isinstance(x, _Scene):
                return "scene"
            if isinstance(x, _Credits):
                return "credits"
            if isinstance(x, tuple) and x[0] in ("candidate", "transition"):
                return "transition"
            return "note"

        out: list[object] = []
        last_kept: schema.TransitionSpec | None = None
        for idx, item in enumerate(items):
            if not (isinstance(item, tuple) and item[0] == "candidate"):
                out.append(item)
                if kind_of(item) in ("scene", "credits"):
                    last_kept = None
                continue
            _, tr, parsed = item
            before = next((kind_of(x) for x in reversed(out) if kind_of(x) != "note"), None)
            after = next((kind_of(x) for x in items[idx + 1:] if kind_of(x) != "note"), None)
            ok = parsed is not None
            if parsed is not None:
                spec = parsed[1]
                if before == "transition":
                    ok = last_kept is not None and last_kept.name in ("FADE OUT", "FADE TO BLACK") \
                        and spec.name == "FADE IN"
                elif spec.joins in ("both", "previous") and before is None:
                    ok = False
                if spec.joins in ("both", "next") and after not in ("scene", "credits"):
                    ok = False
                if spec.joins == "next" and after != "scene":
                    ok = False
            if ok and parsed is not None:
                out.append(("transition", parsed[0]))
                last_kept = parsed[1]
            else:
                text = "transition: " + tr.element.text + "".join(", " + o for o in tr.options)
                self.noted("transition", tr.element.line, text)
                out.append(("note", text))
        return out


def _nysh_transition(text: str, options: list[str]) -> tuple[str, schema.TransitionSpec] | None:
    """``DISSOLVE TO: 2s`` → (``DISSOLVE TO: 2s``, its spec); the words in capitals, a full stop
    a colon except in ``FADE OUT.``; None for a spelling the language does not have."""
    t = " ".join(text.split())
    m = re.fullmatch(r"(?P<words>[A-Za-z][A-Za-z ]*?)\s*(?P<p>[:.])\s*(?P<rest>.*)", t)
    if not m:
        return None
    words, rest = m.group("words").upper(), m.group("rest").strip()
    kind = "FADE OUT." if words == "FADE OUT" and m.group("p") == "." else words
    spec = schema.transition(kind)
    if spec is None or not _NYSH_TRANSITION.fullmatch(kind if kind.endswith(".") else kind):
        return None
    if rest and not _TIME.fullmatch(rest):
        return None
    values = ([rest] if rest else []) + options
    spelled = kind if kind.endswith(".") else kind + ":"
    return (spelled + (" " + ", ".join(values) if values else ""), spec)


def translate(sp: Screenplay, *, name: str = "screenplay", canvas: str | None = None,
              show_action: bool = False) -> Imported:
    """The screenplay as a ``.nysh`` film (canonical, through the formatter) and what became notes."""
    return _Translator(sp, name, canvas, show_action).run()


def to_nysh(sp: Screenplay, *, name: str = "screenplay", canvas: str | None = None, show_action: bool = False,
            line_seconds: object = None) -> str:
    """``.nysh`` text for the screenplay (see :func:`translate`). ``line_seconds`` is accepted
    for old callers and unused: the flow times the beats."""
    del line_seconds
    return translate(sp, name=name, canvas=canvas, show_action=show_action).text

