"""Fountain out: the film as a screenplay that ``nyeshc import`` reads back into the same film.

:func:`to_fountain` writes what Fountain has words for as Fountain — the title page, scene
headings (``SCENE`` headings forced with ``.``, numbers as ``#n#``), action lines (shown,
centred ones as centred text ``> … <``), cues by their display names with their extensions
and ``^``, parentheticals, dialogue (two lines of one beat are parted by Fountain's two-space
line), ``sings`` with the cue's lyrics as ``~`` lines, transitions in the writer's spelling
with their durations (forced with ``>``), notes, the credits as centred lines — and the rest
as ``[[nysh: …]]`` notes in one form (``docs/interchange.md``):

* the film's settings, once, after the title page: the header fields the title page has no
  key for, and every definition (``[[nysh:`` then the nysh source, then ``]]``);
* ``[[nysh: , OPTIONS]]`` right after an element: that element's options (a scene's duration,
  a beat's ``at``/shot/side, a line's ``voice``, an action line's ``for``…);
* ``[[nysh: ITEM]]`` where the item stands: a directive (``backdrop``, ``caption``…), a beat's
  action (``sings THEME, for 12s``, followed by the lyrics), a credits heading.

Emphasis marks stay as written. The importer is :mod:`nyeshc.syntax.fountain` (re-exported
here for old callers).
"""

from __future__ import annotations

import re

from nyeshc import ir
from nyeshc.syntax.fountain import (CUE_LINE, NYSH_NOTE, TITLE_KEYS, Element, ImportError_, Imported, Screenplay,
                                    display_of, escape_nysh_note, is_fountain_heading, is_transition_line,
                                    read_fountain, string_literal, to_nysh, translate)

__all__ = ["to_fountain", "nysh_value", "nysh_options", "read_fountain", "to_nysh", "translate", "Element",
           "Screenplay", "Imported", "ImportError_"]

# --------------------------------------------------------------------------- IR → nysh source


def nysh_value(v: ir.Value | None, indent: int = 0, *, block: bool = False) -> str:
    """A value as nysh source that lowers to the same IR; ``block`` lets a string with several
    lines be a ``\"\"\"`` block (continuation lines indented from ``indent``)."""
    if v is None:
        return ""
    if isinstance(v, ir.Str):
        return string_literal(v.text, indent) if block and v.triple else _plain_string(v.text)
    if isinstance(v, ir.Num):
        return v.raw or _number(v.value)
    if isinstance(v, ir.Time):
        return v.raw or f"{_number(v.amount)}{v.unit}"
    if isinstance(v, ir.Gain):
        return v.raw or f"{_number(v.db)}dB"
    if isinstance(v, ir.Percent):
        return v.raw or f"{_number(v.value)}%"
    if isinstance(v, ir.Colour):
        return v.hex
    if isinstance(v, ir.Size):
        return f"{v.width}x{v.height}"
    if isinstance(v, ir.Rate):
        return v.raw or f"{_number(v.fps)}fps"
    if isinstance(v, ir.Tempo):
        return v.raw or f"{_number(v.bpm)}bpm"
    if isinstance(v, ir.Meter):
        return v.raw or f"{v.beats}/{v.unit}"
    if isinstance(v, ir.GridTime):
        count = _number(v.count)
        return f"{v.unit} {count}" if v.point else f"{count} {v.unit}{'' if v.count == 1 else 's'}"
    if isinstance(v, ir.Word):
        return v.word
    if isinstance(v, ir.Seed):
        return f"seed {v.value}"
    if isinstance(v, ir.Range):
        return f"{nysh_value(v.lo)}..{nysh_value(v.hi)}"
    if isinstance(v, ir.Ramp):
        return " -> ".join(nysh_value(s) for s in v.stops)
    if isinstance(v, ir.Morph):
        return "morph " + " -> ".join(nysh_value(s) for s in v.stops)
    if isinstance(v, ir.Call):
        return f"{v.name}({', '.join(nysh_value(a) for a in v.args)})"
    if isinstance(v, ir.Driven):
        return f"driven {nysh_value(v.path)}"
    if isinstance(v, ir.Styled):
        return f"{v.alphabet.word} {nysh_value(v.text, indent, block=block)}"
    if isinstance(v, ir.Phrase):
        return " ".join(nysh_value(x) for x in v.items)
    raw = getattr(v, "raw", "")
    if isinstance(raw, str) and raw:  # a value kind newer than this printer, as written
        return raw
    raise TypeError(f"no nysh spelling for {type(v).__name__}")


def _plain_string(text: str) -> str:
    from nyeshc.syntax.format import escape

    return escape(text)


def _number(x: object) -> str:
    from fractions import Fraction

    f = Fraction(x)  # type: ignore[arg-type]
    if f.denominator == 1:
        return str(f.numerator)
    return f"{float(f):g}"


def nysh_options(options: tuple[ir.Option, ...]) -> list[str]:
    """Each option as written: ``at 2s``, ``close-up``, ``fade in 1s``, a bare ``2s..8s``."""
    out = []
    for o in options:
        if o.key is None:
            out.append(nysh_value(o.value))
        elif o.value is None:
            out.append(o.key)
        else:
            out.append(f"{o.key} {nysh_value(o.value)}")
    return out


def _prop(p: ir.Property, indent: int = 0) -> str:
    head = f"{p.key}: {nysh_value(p.value, indent, block=True)}" if p.value is not None else f"{p.key}:"
    return ", ".join([head, *nysh_options(p.options)])


def _definition(d: ir.Definition) -> list[str]:
    keyword = d.keyword if isinstance(d, ir.UnknownDef) else d.kind
    out = [f"{keyword} {d.name}:"]
    out += [f"    [[ {n.text} ]]" for n in d.notes]
    out += ["    " + _prop(p, 4) for p in d.props]
    return out


# --------------------------------------------------------------------------- Fountain


def _text(value: object) -> str | None:
    return value.text if isinstance(value, ir.Str) else None


def _note(text: str, restore: bool = True) -> str:
    """A note as Fountain; with ``restore`` (between elements, not inside a dialogue block or
    the credits), the notes import made of Fountain's own elements (sections, synopses, page
    breaks, stray lyrics, transitions it could not use) are those elements again."""
    m = re.fullmatch(r"(section(?: (\d+))?|synopsis|lyrics|transition): (\S.*)", text) if restore else None
    if restore and text == "page break":
        return "==="
    if m and "\n" not in text:
        kind, body = m.group(1).split()[0], m.group(3)
        if kind == "section":
            return "#" * int(m.group(2) or 1) + " " + body
        if kind == "synopsis":
            return "= " + body
        if kind == "lyrics":
            return "~" + body
        if not body.startswith(">") and not body.endswith("<"):
            return "> " + body
    return "[[" + text.replace("[[", "[ [").replace("]]", "] ]") + "]]"


def _nysh(src: str) -> str:
    """A ``[[nysh: …]]`` note; several lines open on a line of their own."""
    body = escape_nysh_note(src)
    return f"[[{NYSH_NOTE}\n{body}\n]]" if "\n" in body else f"[[{NYSH_NOTE} {body}]]"


def _with_options(options: list[str]) -> list[str]:
    return [_nysh(", " + ", ".join(options))] if options else []


def _fountain_lines(text: str) -> list[str]:
    # a blank line would end the dialogue block: Fountain keeps it with two spaces; "[[" would open a note
    return [line.replace("[[", "[ [") if line.strip() else "  " for line in text.split("\n")] or ["  "]


_SPECIAL = ("[[", "=", "#", ">", "!", "~", "@", ".")


def _action_lines(text: str) -> list[str]:
    """An action paragraph that reads back as one: a line Fountain would take for something
    else (a heading, a cue, a transition, a note…) is forced with ``!``."""
    lines = text.replace("[[", "[ [").split("\n")  # "[[" would open a note
    out = []
    for i, line in enumerate(lines):
        s = line.strip()
        force = (s.startswith(_SPECIAL) and not s.startswith("..")) or not s
        if i == 0:
            force = force or is_fountain_heading(s) or is_transition_line(s) or bool(CUE_LINE.match(s))
        out.append("!" + line if force else line)
    return out


def _cue(name: str) -> str:
    """A cue Fountain reads as the name written: ``@`` where it has lower case or could be read
    as something else."""
    plain = (name == name.upper() and CUE_LINE.match(name) and "(" not in name and "^" not in name
             and not is_fountain_heading(name) and not is_transition_line(name) and not name.startswith(_SPECIAL))
    return name if plain else "@" + name


def _displays(film: ir.Film) -> dict[str, str]:
    out: dict[str, str] = {}
    for d in film.definitions:
        if d.kind == "character" and d.name not in out:
            cue = next((n.text[4:].strip() for n in d.notes if n.text.startswith("cue:")), None)
            out[d.name] = cue or display_of(d.name)
    return out


def _scene_number_note(item: object) -> str | None:
    if isinstance(item, ir.Note):
        m = re.fullmatch(r"scene number (\S+)", item.text)
        if m and re.fullmatch(r"[\w.\-]+", m.group(1)):
            return m.group(1)
    return None


def to_fountain(film: ir.Film, sources: dict[str, str] | None = None) -> str:
    """The film as a Fountain screenplay (``sources`` is accepted for old callers and unused:
    the nysh notes are printed from the IR)."""
    del sources
    from nyeshc.syntax.format import canonical_ir

    film = canonical_ir(film)  # options in the formatter's order: the export of an export is the same
    out: list[str] = []
    settings: list[str] = []
    for prop in film.header.fields:
        key = TITLE_KEYS.get(prop.key)
        text = _text(prop.value)
        if key and text is not None and not prop.options:
            lines = text.split("\n")
            if len(lines) == 1:
                out.append(f"{key}: {lines[0]}")
            else:
                out.append(f"{key}:")
                out.extend(f"    {line}" for line in lines)
        else:
            settings.append(_prop(prop))
    if out:
        out.append("")
    for d in film.definitions:
        settings += _definition(d)
    blocks: list[list[str]] = []
    # always, even empty: it tells the importer the screenplay is a nyeshc film (nothing to generate)
    blocks.append([_nysh("\n".join(settings))] if settings else [f"[[{NYSH_NOTE}]]"])
    displays = _displays(film)
    lyrics = {d.name: _text(p.value) for d in film.definitions if d.kind == "music"
              for p in d.props if p.key == "lyrics"}
    for item in film.body:
        if isinstance(item, ir.Note):
            blocks.append([_note(item.text)])
        elif isinstance(item, ir.Transition):
            values = ([nysh_value(item.duration)] if item.duration is not None else []) + \
                [nysh_value(x) for x in item.extra]
            spelled = item.kind if item.kind.endswith(".") else item.kind + ":"
            blocks.append([f"> {spelled}" + (" " + ", ".join(values) if values else "")])
        elif isinstance(item, ir.Scene):
            blocks.extend(_scene(item, displays, lyrics))
        elif isinstance(item, ir.Credits):
            head = "CREDITS" + (f" {item.alphabet}" if item.alphabet else "")
            opts = ([nysh_value(item.duration)] if item.duration is not None else []) + nysh_options(item.options)
            blocks.append([_nysh(", ".join([head, *opts]))])
            if item.lines:
                blocks.append([f"> {part.strip()} <" if part.strip() else "> <"
                               for line in item.lines for part in line.text.split("\n")])
            blocks.extend([_note(n.text, restore=False)] for n in item.notes)
    out.append("\n\n".join("\n".join(b) for b in blocks))
    return "\n".join(out).rstrip() + "\n"


def _scene(scene: ir.Scene, displays: dict[str, str], lyrics: dict[str, str | None]) -> list[list[str]]:
    h = scene.heading
    items = list(scene.items)
    number = h.number
    if items and number is None and (n := _scene_number_note(items[0])) is not None:
        number = n
        items = items[1:]
    if h.style == "fountain":
        head = h.title.strip()
    else:
        head = "." + (h.title.replace("\n", " ").strip() if h.title.strip() else "SCENE")
    if number:
        head += f" #{number}#"
    blocks: list[list[str]] = [[head]]
    opts = ([nysh_value(scene.duration)] if scene.duration is not None else []) + nysh_options(scene.options)
    if opts:
        blocks.append(_with_options(opts))
    for item in items:
        if isinstance(item, ir.Note):
            blocks.append([_note(item.text)])
        elif isinstance(item, ir.Property):
            blocks.append([_nysh(_prop(item))])
        elif isinstance(item, ir.ActionLine):
            blocks.append(_action(item))
        elif isinstance(item, ir.Beat):
            blocks.append(_beat(item, displays, lyrics))
    return blocks


def _action(item: ir.ActionLine) -> list[str]:
    flags = [o.key for o in item.options if o.value is None]
    text = item.text.text.replace("[[", "[ [")  # "[[" would open a note
    if "center" in flags and "show" in flags and text.strip():
        rest = [o for o in item.options if not (o.value is None and o.key in ("center", "show"))]
        lines = [f"> {line.strip()} <" if line.strip() else "> <" for line in text.split("\n")]
        if all(line.strip() == line for line in text.split("\n")):
            return lines + _with_options(nysh_options(tuple(rest)))
    return _action_lines(text) + _with_options(nysh_options(item.options))


def _beat(item: ir.Beat, displays: dict[str, str], lyrics: dict[str, str | None]) -> list[str]:
    cue = _cue(displays.get(item.character, display_of(item.character)))
    if item.extension is not None:
        cue += f" ({item.extension})"
    if item.dual:
        cue += " ^"
    block = [cue] + _with_options(nysh_options(item.options))
    before: object = None
    for line in item.lines:
        if isinstance(line, ir.Parenthetical):
            block.append(f"({line.text})")
        elif isinstance(line, ir.Dialogue):
            if isinstance(before, ir.Dialogue) and not before.options:
                block.append("  ")  # two lines, not one: Fountain's blank line inside dialogue
            block.extend(_fountain_lines(line.text.text))
            block += _with_options(nysh_options(line.options))
        elif isinstance(line, ir.Action):
            words = [line.verb] if line.verb else []
            if line.target is not None:
                words.append(nysh_value(line.target))
            block.append(_nysh(", ".join([" ".join(words), *nysh_options(line.options)])))
            target = line.target.word if isinstance(line.target, ir.Word) else ""
            sung = lyrics.get(target) if line.verb == "sings" else None
            block.extend(f"~{w.strip()}" for w in (sung or "").splitlines() if w.strip())
        elif isinstance(line, ir.Note):
            block.append(_note(line.text, restore=False))
        before = line
    if len(block) == 1:
        block.append("(silent)")
    return block
