"""Fountain out (the film as a readable screenplay) and in (a screenplay as a ``.nysh`` film).

Export (:func:`to_fountain`): title page from the header, scene headings (``SCENE`` headings
are forced with ``.``), directives as notes in their source spelling, captions as action
lines, character cues, parentheticals, dialogue, ``sings`` with the cue's lyrics as Fountain
lyrics, transitions (forced with ``>``), notes, and the credits as centred lines.

Import (:func:`read_fountain`, :func:`to_nysh`): a small Fountain reader (title page,
headings with ``#n#`` numbers, forced elements ``. ! @ > ~``, character extensions and dual
dialogue ``^``, parentheticals, dialogue, transitions, centred text, page breaks, sections,
synopses, notes, boneyard) and a generator that writes a checked-clean film: one character
per cue name with a generated portrait and an asemic voice, one generated look per location,
beats timed one after another, the title page as credits set in a default alphabet. What has
no film meaning (action, centred text, page breaks, sections, synopses, unknown title-page
keys, transitions the language lacks) becomes a note ``[[ … ]]``; boneyard ``/* */`` is a
comment in Fountain and is dropped.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

from nyeshc import ir

__all__ = ["to_fountain", "read_fountain", "to_nysh", "Element", "Screenplay", "ImportError_"]

# --------------------------------------------------------------------------- export

_TITLE_KEYS = {"title": "Title", "author": "Author", "credit": "Credit", "authors": "Authors", "source": "Source",
               "draft_date": "Draft date", "date": "Date", "contact": "Contact", "copyright": "Copyright",
               "revision": "Revision", "notes": "Notes"}


def _text(value: object) -> str | None:
    if isinstance(value, ir.Str):
        return value.text
    if isinstance(value, ir.Styled):
        return value.text.text
    return None


def _source(sources: dict[str, str] | None, node: object) -> str | None:
    span = getattr(node, "span", None)
    if not sources or span is None or span.file not in sources or span.end <= span.start:
        return None
    return " ".join(sources[span.file][span.start:span.end].split())


def _note(text: str) -> str:
    return "[[" + text.replace("[[", "[ [").replace("]]", "] ]") + "]]"


def _fountain_lines(text: str) -> list[str]:
    # a blank line would end the dialogue block: Fountain keeps it with two spaces
    return [line if line.strip() else "  " for line in text.splitlines()] or ["  "]


def to_fountain(film: ir.Film, sources: dict[str, str] | None = None) -> str:
    """The film as a Fountain screenplay. ``sources`` (file → text, as loaded) lets directives
    keep their exact spelling in the notes."""
    out: list[str] = []
    for prop in film.header.fields:
        key = _TITLE_KEYS.get(prop.key)
        text = _text(prop.value)
        if key and text is not None:
            lines = text.splitlines() or [""]
            if len(lines) == 1:
                out.append(f"{key}: {lines[0]}")
            else:
                out.append(f"{key}:")
                out.extend(f"    {line}" for line in lines)
    if out:
        out.append("")
    blocks: list[list[str]] = []
    for note in film.notes:
        blocks.append([_note(note.text)])
    lyrics = {d.name: _text(p.value) for d in film.definitions if d.kind == "music"
              for p in d.props if p.key == "lyrics"}
    for item in film.body:
        if isinstance(item, ir.Note):
            blocks.append([_note(item.text)])
        elif isinstance(item, ir.Transition):
            blocks.append([f"> {item.kind}:"])
        elif isinstance(item, ir.Scene):
            blocks.extend(_scene(item, sources, lyrics))
        elif isinstance(item, ir.Credits):
            block = [f"> {line.text} <" for line in item.lines for line in [line] if line.text.strip()]
            blocks.append(block or ["> THE END <"])
            blocks.extend([_note(n.text)] for n in item.notes)
    out.append("\n\n".join("\n".join(b) for b in blocks))
    return "\n".join(out).rstrip() + "\n"


def _scene(scene: ir.Scene, sources: dict[str, str] | None, lyrics: dict[str, str | None]) -> list[list[str]]:
    h = scene.heading
    if h.style == "fountain":
        head = h.title.strip()
        if h.number:
            head += f" #{h.number}#"
    else:
        head = "." + (h.title or f"SCENE {h.number or ''}".strip()).upper()
        if h.number:
            head += f" #{h.number}#"
    blocks: list[list[str]] = [[head]]
    for item in scene.items:
        if isinstance(item, ir.Note):
            blocks.append([_note(item.text)])
        elif isinstance(item, ir.Property):
            text = _text(item.value)
            if item.key == "caption" and text is not None:
                blocks.append(["!On screen: " + " / ".join(t.strip() for t in text.splitlines() if t.strip())])
            blocks.append([_note(_source(sources, item) or item.key)])
        elif isinstance(item, ir.Beat):
            cue = item.character if item.character == item.character.upper() else "@" + item.character
            block = [cue]
            for line in item.lines:
                if isinstance(line, ir.Parenthetical):
                    block.append(f"({line.text})")
                elif isinstance(line, ir.Dialogue):
                    block.extend(_fountain_lines(line.text.text))
                elif isinstance(line, ir.Action):
                    target = line.target.word if isinstance(line.target, ir.Word) else ""
                    block.append(f"({line.verb} {target})".replace(" )", ")"))
                    words = lyrics.get(target) if line.verb == "sings" else None
                    block.extend(f"~{w.strip()}" for w in (words or "").splitlines() if w.strip())
                    if not words:
                        block.append("~…")
                elif isinstance(line, ir.Note):
                    block.append(_note(line.text))
            if len(block) == 1:
                block.append("…")
            blocks.append(block)
    return blocks


# --------------------------------------------------------------------------- import: reading


@dataclass
class Element:
    """One Fountain element: ``kind`` is ``heading``, ``action``, ``character``,
    ``parenthetical``, ``dialogue``, ``lyrics``, ``transition``, ``centered``, ``page_break``,
    ``section``, ``synopsis`` or ``note``."""

    kind: str
    text: str
    number: str | None = None  # a heading's scene number
    extension: str = ""  # a cue's (V.O.), (CONT'D)
    dual: bool = False  # a cue marked ^ (dual dialogue)
    depth: int = 0  # a section's depth


@dataclass
class Screenplay:
    title_page: list[tuple[str, str]] = field(default_factory=list)
    elements: list[Element] = field(default_factory=list)


_HEADING = re.compile(r"^(INT\.?/EXT|INT/EXT|I/E|INT|EXT|EST)[. ]", re.IGNORECASE)
_SCENE_NUMBER = re.compile(r"\s*#([\w.\-]+)#\s*$")
_TITLE_LINE = re.compile(r"^([A-Za-z][A-Za-z ]*):(.*)$")
_CUE = re.compile(r"^(?P<name>[^a-z()^]*?[A-Z][^a-z()^]*?)\s*(?P<ext>(\([^)]*\)\s*)*)(?P<dual>\^)?\s*$")
_INLINE_NOTE = re.compile(r"\[\[(.*?)\]\]", re.DOTALL)


def _is_transition(line: str) -> bool:
    s = line.strip()
    return s == s.upper() and (s.endswith("TO:") or s in ("FADE IN:", "FADE OUT.", "FADE OUT:", "FADE TO BLACK.",
                                                          "FADE TO BLACK:", "FADE IN.", "CUT TO BLACK."))


def read_fountain(text: str) -> Screenplay:
    """Parse Fountain text into a :class:`Screenplay` (never raises)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.DOTALL)  # boneyard
    lines = text.split("\n")
    sp = Screenplay()
    i = 0
    # title page: key: value lines (values may continue on indented lines) up to a blank line
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i < len(lines) and _TITLE_LINE.match(lines[i]) and not _HEADING.match(lines[i]) and not _is_transition(lines[i]):
        while i < len(lines) and lines[i].strip():
            m = _TITLE_LINE.match(lines[i])
            if m and not lines[i].startswith((" ", "\t")):
                sp.title_page.append((m.group(1).strip(), m.group(2).strip()))
            elif sp.title_page:
                key, value = sp.title_page[-1]
                sp.title_page[-1] = (key, (value + "\n" + lines[i].strip()).strip())
            i += 1
    els = sp.elements
    in_dialogue = False
    action: list[str] = []

    def flush_action() -> None:
        if action:
            body = "\n".join(action).strip("\n")
            if body.strip():
                els.append(Element("action", body))
            action.clear()

    def blank(j: int) -> bool:
        return j < 0 or j >= len(lines) or not lines[j].strip()

    while i < len(lines):
        raw = lines[i]
        line = raw.strip()
        if not line:
            flush_action()
            in_dialogue = False
            i += 1
            continue
        if line.startswith("[[") and not in_dialogue:  # a note on its own line(s)
            chunk = raw
            while "]]" not in chunk and i + 1 < len(lines):
                i += 1
                chunk += "\n" + lines[i]
            m = _INLINE_NOTE.search(chunk)
            if m and chunk.strip().startswith("[[") and chunk.strip().endswith("]]"):
                flush_action()
                els.append(Element("note", m.group(1).strip()))
                i += 1
                continue
            line = chunk.strip()
        notes = [n.strip() for n in _INLINE_NOTE.findall(line)]
        line = _INLINE_NOTE.sub("", line).strip()
        if in_dialogue:
            if line.startswith("(") and line.endswith(")"):
                els.append(Element("parenthetical", line[1:-1].strip()))
            elif line.startswith("~"):
                els.append(Element("lyrics", line[1:].strip()))
            elif line:
                if els and els[-1].kind == "dialogue":
                    els[-1].text += "\n" + line
                else:
                    els.append(Element("dialogue", line))
            els.extend(Element("note", n) for n in notes)
            i += 1
            continue
        kind: Element | None = None
        if re.fullmatch(r"={3,}", line):
            kind = Element("page_break", "===")
        elif line.startswith("#"):
            depth = len(line) - len(line.lstrip("#"))
            kind = Element("section", line[depth:].strip(), depth=depth)
        elif line.startswith("=") :
            kind = Element("synopsis", line[1:].strip())
        elif line.startswith(">") and line.endswith("<"):
            kind = Element("centered", line[1:-1].strip())
        elif line.startswith(">"):
            kind = Element("transition", line[1:].strip())
        elif line.startswith("!"):
            action.append(line[1:])
        elif line.startswith("~"):
            kind = Element("lyrics", line[1:].strip())
        elif line.startswith(".") and not line.startswith("..") or (_HEADING.match(line) and blank(i - 1)):
            head = line[1:].strip() if line.startswith(".") and not _HEADING.match(line) else line
            m = _SCENE_NUMBER.search(head)
            number = m.group(1) if m else None
            head = _SCENE_NUMBER.sub("", head).strip()
            kind = Element("heading", head, number=number)
        elif _is_transition(line) and raw == raw.rstrip() and blank(i - 1) and blank(i + 1):
            # (a line ending in spaces is not a transition: the spec's escape for "CUT TO: " as action)
            kind = Element("transition", line)
        elif blank(i - 1) and not blank(i + 1) and (line.startswith("@") or _CUE.match(line)):
            name = line[1:] if line.startswith("@") else line
            m = _CUE.match(name) if not line.startswith("@") else re.match(
                r"^(?P<name>[^(^]*?)\s*(?P<ext>(\([^)]*\)\s*)*)(?P<dual>\^)?\s*$", name)
            assert m is not None
            kind = Element("character", m.group("name").strip(), extension=(m.group("ext") or "").strip(),
                           dual=bool(m.group("dual")))
            in_dialogue = True
        else:
            action.append(raw.rstrip())
        if kind is not None:
            flush_action()
            els.append(kind)
        els.extend(Element("note", n) for n in notes)
        i += 1
    flush_action()
    return sp


# --------------------------------------------------------------------------- import: writing .nysh


class ImportError_(ValueError):  # noqa: N801 - not the builtin
    """The generated script could not be formatted (a bug: the message says why)."""


def _h(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()[:4], "big")


def _q(text: str) -> str:
    from nyeshc.syntax.format import escape

    return escape(text)


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


def _secs(t: Fraction | float) -> str:
    ms = max(0, math.ceil(float(t) * 10) * 100)  # up to the next tenth of a second
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms / 1000:g}s"


_TRANSITIONS = {"CUT TO:": "CUT TO:", "CROSSFADE TO:": "CROSSFADE TO: 1s", "DISSOLVE TO:": "CROSSFADE TO: 1s",
                "CROSS DISSOLVE TO:": "CROSSFADE TO: 1s", "MIX TO:": "CROSSFADE TO: 1s", "MORPH TO:": "MORPH TO: 1s",
                "FADE IN:": "FADE IN: 1s", "FADE IN.": "FADE IN: 1s", "FADE OUT.": "FADE OUT: 1s",
                "FADE OUT:": "FADE OUT: 1s", "FADE TO BLACK.": "FADE TO BLACK: 1s", "FADE TO BLACK:": "FADE TO BLACK: 1s",
                "CUT TO BLACK.": "FADE TO BLACK: 1s", "SMASH CUT TO:": "CUT TO:", "MATCH CUT TO:": "CUT TO:",
                "JUMP CUT TO:": "CUT TO:", "HARD CUT TO:": "CUT TO:"}
_NOTE_OF = {"action": "", "centered": "centred: ", "page_break": "page break", "section": "section: ",
            "synopsis": "synopsis: ", "lyrics": "lyrics: ", "transition": "transition: "}


def _location(heading: str) -> str:
    loc = _HEADING.sub("", heading + " ", count=1).strip() if _HEADING.match(heading + " ") else heading
    return re.split(r"\s+-\s+", loc)[0].strip() or heading


@dataclass
class _Scene:
    heading: str
    number: str | None
    items: list[tuple[str, object]] = field(default_factory=list)  # ("note", text) | ("beat", dict)


LineSeconds = Callable[[str, float, float], float]  # (text, pitch, rate) -> seconds


def _default_seconds(text: str, pitch: float, rate: float) -> float:
    return (0.3 + 0.075 * len(text)) / rate


def to_nysh(sp: Screenplay, *, name: str = "screenplay", line_seconds: LineSeconds | None = None,
            canvas: str = "1280x720, 24fps") -> str:
    """``.nysh`` text for the screenplay, canonical (through :func:`format_source`).

    ``line_seconds(text, pitch, rate)`` says how long the voice backend speaks a line (the
    import command passes the configured backend's); beats are timed one after another from it."""
    from nyeshc.syntax.format import format_source

    seconds = line_seconds or _default_seconds
    tp = {k.lower().replace(" ", "_"): v for k, v in sp.title_page}
    title = re.sub(r"[*_]", "", tp.get("title", "")).strip() or name
    author = re.sub(r"[*_]", "", tp.get("author", tp.get("authors", ""))).strip()
    film_seed = _h("film", title) % 100_000
    head: list[str] = [f"title: {_q(title)}"]
    if author:
        head.append(f"author: {_q(author)}")
    head += [f"canvas: {canvas}", f"seed: {film_seed}", "subtitles: plain"]
    top_notes: list[str] = []
    for key, value in sp.title_page:
        k = key.lower().replace(" ", "_")
        if k in ("title", "author"):
            continue
        if k in _TITLE_KEYS:
            head.append(f"{k}: {_q(value)}")
        else:
            top_notes.append(f"{key}: {value}")

    # scenes and the body, in order
    body: list[tuple[str, object]] = []  # ("scene", _Scene) | ("transition", str) | ("note", str)
    scene: _Scene | None = None
    beat: dict | None = None
    characters: dict[str, str] = {}  # cue name -> identifier
    taken: set[str] = set()

    def note_for(el: Element) -> str:
        prefix = _NOTE_OF.get(el.kind, el.kind + ": ")
        return (prefix + el.text).strip() if el.kind != "page_break" else "page break"

    for el in sp.elements:
        if el.kind == "heading":
            scene = _Scene(el.text, el.number)
            body.append(("scene", scene))
            beat = None
        elif el.kind == "transition":
            body.append(("transition", el.text.strip().upper()))
            scene, beat = None, None
        elif el.kind == "character":
            if scene is None:
                scene = _Scene("", None)
                body.append(("scene", scene))
            if el.text not in characters:
                characters[el.text] = _ident(el.text, taken, "CHARACTER")
                taken.add(characters[el.text])
            beat = {"who": characters[el.text], "lines": [], "dual": el.dual}
            if el.extension:
                beat["lines"].append(("paren", el.extension.strip("() ")))
            scene.items.append(("beat", beat))
        elif el.kind in ("parenthetical", "dialogue", "lyrics") and beat is not None:
            beat["lines"].append(("paren" if el.kind == "parenthetical" else "line", el.text))
        elif el.kind == "note" and beat is not None:
            beat["lines"].append(("note", el.text))
        else:
            text = el.text if el.kind == "note" else note_for(el)
            if el.kind == "action":
                beat = None
            if scene is not None:
                scene.items.append(("note", text))
            else:
                body.append(("note", text))

    # transitions the language has, where they can act; any other becomes a note
    kinds = [k for k, _ in body]
    resolved: list[tuple[str, object]] = []
    for idx, (k, v) in enumerate(body):
        if k != "transition":
            resolved.append((k, v))
            continue
        word = _TRANSITIONS.get(str(v))
        prev = next((kinds[j] for j in range(idx - 1, -1, -1) if kinds[j] != "note"), None)
        nxt = next((kinds[j] for j in range(idx + 1, len(kinds)) if kinds[j] != "note"), None)
        prev_t = resolved and next((str(x[1]) for x in reversed(resolved) if x[0] != "note"), "")
        ok = word is not None and prev != "transition_kept"
        if word is not None:
            w = word.split(":")[0]
            if w in ("CROSSFADE TO", "MORPH TO", "CUT TO"):
                ok = prev == "scene" and nxt == "scene"
            elif w == "FADE IN":
                ok = nxt == "scene" and (prev in (None, "scene") or str(prev_t).startswith(("FADE OUT", "FADE TO BLACK")))
            else:
                ok = prev == "scene"
        if ok and word is not None:
            # two in a row are not allowed (except a fade out followed by a fade in)
            last = next((x for x in reversed(resolved) if x[0] != "note"), None)
            if last is not None and last[0] == "transition_kept" and not (
                    str(last[1]).startswith(("FADE OUT", "FADE TO BLACK")) and word.startswith("FADE IN")):
                ok = False
        if ok and word is not None:
            resolved.append(("transition_kept", word))
            kinds[idx] = "transition_kept"
        else:
            resolved.append(("note", f"transition: {v}"))
            kinds[idx] = "note"

    # definitions
    looks: dict[str, str] = {}
    out: list[str] = [*head, ""]
    out += ["alphabet SCRIPT:", "    glyphs: 26", "    strokes: 2..4", f"    seed: {_h('alphabet', title) % 1000}",
            "    ink: #efe6d2", ""]
    scenes = [v for k, v in resolved if k == "scene"]
    for sc in scenes:
        assert isinstance(sc, _Scene)
        loc = _location(sc.heading) if sc.heading else "OPENING"
        if loc.upper() not in looks:
            ident = _ident(loc, taken | {"SCRIPT"}, "PLACE")
            taken.add(ident)
            looks[loc.upper()] = ident
            out += [f"look {ident}:", f"    image: generate, seed {_h('look', loc.upper()) % 10_000}, truncation 0.7"]
    voices: dict[str, tuple[float, float]] = {}
    for cue, ident in characters.items():
        pitch = 0.75 + (_h("pitch", cue) % 60) / 100
        rate = 0.9 + (_h("rate", cue) % 20) / 100
        voices[ident] = (pitch, rate)
        out += [f"character {ident}:", f"    portrait: generate, seed {_h('portrait', cue) % 10_000}, truncation 0.7",
                f"    voice: asemic, pitch {pitch:.2f}, rate {rate:.2f}", "    motion: lipsync"]
    out.append("")
    for n in top_notes:
        out.append(f"[[ {_clean_note(n)} ]]")

    numbers: set[str] = set()
    for k, v in resolved:
        if k == "note":
            out += ["", f"[[ {_clean_note(str(v))} ]]"]
        elif k == "transition_kept":
            out += ["", str(v)]
        elif k == "scene":
            assert isinstance(v, _Scene)
            out += [""] + _scene_lines(v, looks, voices, seconds, numbers)
    if title or author:
        out += ["", "CREDITS SCRIPT:", f"    {_q(title)}"]
        if author:
            out.append(f"    {_q('written by ' + author)}")
    text = "\n".join(out) + "\n"
    result = format_source(text, f"{name}.nysh")
    if result.text is None:
        msgs = "; ".join(d.message for d in result.diagnostics)
        raise ImportError_(f"the generated script does not parse ({msgs}):\n{text}")
    return result.text


def _clean_note(text: str) -> str:
    return text.replace("[[", "[ [").replace("]]", "] ]").strip() or "(empty)"


def _clean_paren(text: str) -> str:
    return re.sub(r"[()]", "", text).strip() or "beat"


def _scene_lines(sc: _Scene, looks: dict[str, str], voices: dict[str, tuple[float, float]],
                 seconds: LineSeconds, numbers: set[str]) -> list[str]:
    loc = _location(sc.heading) if sc.heading else "OPENING"
    heading = sc.heading.upper().replace(",", " -").replace(":", " -").replace("#", "")
    heading = re.sub(r"\s+", " ", heading).strip()
    notes_first: list[str] = []
    m = _HEADING.match(heading + " ")
    rest = heading[m.end():].strip(" .-") if m else ""
    if m and rest:
        prefix = {"INT": "INT.", "EXT": "EXT.", "EST": "EST.", "INT/EXT": "INT/EXT", "I/E": "I/E."}.get(
            m.group(1).upper(), "INT./EXT.")
        head = f"{prefix} {rest}"
        if sc.number:
            notes_first.append(f"scene number {sc.number}")
    else:
        num = sc.number if sc.number and re.fullmatch(r"\d+(\.\d+)?", sc.number) and sc.number not in numbers else None
        if sc.number and num is None:
            notes_first.append(f"scene number {sc.number}")
        if num:
            numbers.add(num)
        head = "SCENE" + (f" {num}" if num else "") + (f" {_q(sc.heading)}" if sc.heading else "")
    beats = [b for k, b in sc.items if k == "beat"]
    has_lines = any(kind == "line" for b in beats for kind, _ in b["lines"])  # type: ignore[index]
    lines = [f"{head}{'' if has_lines else ', 3s'}:", f"    backdrop: {looks[loc.upper()]}"]
    lines += [f"    [[ {_clean_note(n)} ]]" for n in notes_first]
    t = Fraction(0)
    last_start = Fraction(0)
    sides = ["left", "right"]
    order: dict[str, int] = {}
    for k, v in sc.items:
        if k == "note":
            lines.append(f"    [[ {_clean_note(str(v))} ]]")
            continue
        b = v  # type: dict
        who = b["who"]  # type: ignore[index]
        side = sides[order.setdefault(who, len(order)) % 2]
        start = last_start if b["dual"] else t  # type: ignore[index]
        at = _secs(start)
        lines.append(f"    {who}, at {at}, medium, {side}:")
        pitch, rate = voices[who]
        cursor = Fraction(at[:-1])
        body: list[str] = []
        for kind, text in b["lines"]:  # type: ignore[index]
            if kind == "paren":
                p = _clean_paren(str(text))
                if re.fullmatch(r"(?i)pause|beat|a beat", p):
                    body.append("        (pause 1s)")
                    cursor += 1
                else:
                    body.append(f"        ({p})")
            elif kind == "note":
                body.append(f"        [[ {_clean_note(str(text))} ]]")
            else:
                spoken = " ".join(str(text).split())
                body.append(f"        {_q(spoken)}")
                cursor += Fraction(seconds(spoken, pitch, rate)).limit_denominator(1000)
        if not body:
            body.append("        (silent)")
        lines += body
        last_start = Fraction(at[:-1])
        t = max(t, cursor + Fraction(1, 2))
    return lines
