"""Hypothesis strategies that write VALID ``.nysh`` scripts (and their parts).

They cover the grammar's constructs — header fields, definitions of every kind with properties
and options, scenes with both heading styles, directives whose options come in random order,
beats with parentheticals, dialogue and actions, transitions, credits, notes, comments (own-line,
trailing, boneyards in mid-line and over several lines), ``\"\"\"long strings\"\"\"`` — written with
random spacing, indentation widths and blank lines, so formatter, parser and fuzz tests can share
them. Every script they produce parses without diagnostics (``tests/syntax/test_format_properties.py``
checks that too).

``scripts()`` is the main entry point; the smaller strategies are public for focused tests.
"""

from __future__ import annotations

import string

from hypothesis import strategies as st

# --------------------------------------------------------------------------- lexical pieces

UPPER_NAMES = ["NARRATOR", "GIRL", "MOTHER", "NYESH", "THEME", "RAIN", "DUSK", "CATHEDRAL", "SEA", "ORACLE",
               "A", "B2", "X_1", "SIGIL"]
WORDS = ["generate", "asemic", "tts", "lipsync", "still", "smooth", "linear", "up", "down", "plain", "off",
         "close-up", "medium", "wide", "top", "center", "bottom", "left", "right", "foo_bar", "x-y"]
OPTION_KEYS = ["at", "for", "from", "gain", "zoom", "pan", "ease", "seed", "truncation", "pitch", "rate", "lang",
               "genre", "artist", "length", "voice", "speed"]
FLAGS = ["close-up", "medium", "wide", "top", "center", "bottom", "left", "right", "loop", "muted"]

upper_names = st.one_of(st.sampled_from(UPPER_NAMES),
                        st.from_regex(r"[A-Z][A-Z0-9_]{0,6}", fullmatch=True)).filter(
    lambda n: n not in ("SCENE", "CREDITS"))
words = st.sampled_from(WORDS)

_STRING_CHARS = string.ascii_letters + string.digits + " .,;:!?'-#/*()[]\"\\\téñ—漢"
_LONG_CHARS = string.ascii_letters + " .,;:!?'-#/*()[]é"
_COMMENT_CHARS = string.ascii_letters + string.digits + " .,;:!?'-#/*()[]\"é"


def escape(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


strings = st.text(_STRING_CHARS + "\n", max_size=20).map(escape)

numbers = st.one_of(
    st.integers(0, 3000).map(str),
    st.sampled_from(["0.7", "0.50", "1.0", "1.15", "-3", "+2", "0.35", "12.250"]),
)
times = st.one_of(
    st.integers(0, 90).map(lambda n: f"{n}s"),
    st.sampled_from(["500ms", "1.5s", "48f", "1:30", "0:12.5", "1:02:03", "0s", "2.50s"]),
)
gains = st.sampled_from(["-3dB", "-12dB", "+2dB", "0dB", "-8.5dB"])
percents = st.sampled_from(["30%", "100%", "12.5%"])
colours = st.sampled_from(["#efe6d2", "#EFE6D2", "#000000", "#aBc123"])
sizes = st.sampled_from(["1280x720", "640x360", "1920x1080"])
rates = st.sampled_from(["24fps", "25fps", "29.97fps"])
ranges = st.one_of(
    st.tuples(times, st.sampled_from(["..", " .. "]), times).map("".join),
    st.tuples(st.integers(0, 9), st.integers(0, 9)).map(lambda t: f"{t[0]}..{t[1]}"),
)


def _sp(max_spaces: int = 2) -> st.SearchStrategy[str]:
    return st.integers(0, max_spaces).map(lambda n: " " * n)


def comma() -> st.SearchStrategy[str]:
    return st.tuples(_sp(1), _sp(2)).map(lambda t: t[0] + "," + t[1])


comment_texts = st.text(_COMMENT_CHARS, max_size=25).map(lambda s: "# " + s.strip())
boneyards = st.one_of(
    st.text(_COMMENT_CHARS.replace("*", ""), max_size=15).map(lambda s: f"/* {s} */"),
    st.text(_COMMENT_CHARS.replace("*", ""), max_size=10).map(lambda s: f"/* {s}\n   still the boneyard */"),
)
notes = st.text(string.ascii_letters + " .,'!?-", max_size=25).map(lambda s: f"[[{s}]]" if len(s) % 2 else f"[[ {s} ]]")


@st.composite
def long_strings(draw: st.DrawFn, indent: int = 0) -> str:
    """A ``\"\"\"…\"\"\"`` literal; its lines are indented at least ``indent`` + 1."""
    lines = draw(st.lists(st.text(_LONG_CHARS, max_size=20), min_size=0, max_size=3))
    lines = [ln.replace("\\", "") for ln in lines]
    style = draw(st.integers(0, 2))
    if style == 0 or not lines:  # on one line
        return '"""' + " ".join(lines).strip(' "') + '"""'
    base = indent + draw(st.integers(1, 8))
    extra = [draw(st.integers(0, 3)) for _ in lines]
    body = "\n".join((" " * (base + e) + ln) if ln.strip() else "" for ln, e in zip(lines, extra))
    if style == 1:  # the usual form: quotes on lines of their own
        return '"""\n' + body + "\n" + " " * indent + '"""'
    if draw(st.booleans()):  # closing quotes at the end of the last line
        return '"""\n' + body.rstrip(' "') + '"""'
    return '"""' + lines[0].strip(' "') + "\n" + body.rstrip(' "') + '"""'  # text on the opening line


# --------------------------------------------------------------------------- values


@st.composite
def atoms(draw: st.DrawFn, indent: int = 0, calls: bool = True) -> str:
    choices = [strings, numbers, times, gains, percents, colours, sizes, rates, words, upper_names, ranges]
    kind = draw(st.integers(0, len(choices) + (2 if calls else 0)))
    if kind < len(choices):
        return draw(choices[kind])
    if kind == len(choices):
        return draw(long_strings(indent))
    return draw(calls_(indent))


@st.composite
def calls_(draw: st.DrawFn, indent: int = 0) -> str:
    name = draw(st.sampled_from(["blend", "mix", "f"]))
    args = draw(st.lists(st.one_of(
        st.integers(0, 99).map(lambda n: f"seed {n}"), numbers, upper_names, strings), max_size=3))
    parts = []
    for i, a in enumerate(args):
        sep = ""
        if i:
            sep = draw(st.sampled_from([", ", ",", " , ", ", # inside a call\n" + " " * (indent + 8)]))
        parts.append(sep + a)
    return f"{name}({draw(_sp(1))}{''.join(parts)}{draw(_sp(1))})"


@st.composite
def terms(draw: st.DrawFn, indent: int = 0) -> str:
    """One to three atoms side by side (``seed 5``, ``NYESH "text"``, ``driven "f"``)."""
    shape = draw(st.integers(0, 4))
    if shape == 0:
        return "seed " + draw(st.integers(0, 9999).map(str))
    if shape == 1:
        return draw(upper_names) + " " + draw(st.one_of(strings, long_strings(indent)))
    if shape == 2:
        return "driven " + draw(strings)
    items = draw(st.lists(atoms(indent), min_size=1, max_size=2 if shape == 3 else 1))
    return " ".join(items)


@st.composite
def values(draw: st.DrawFn, indent: int = 0) -> str:
    """A value: a term, a chain ``a -> b``, or ``morph A -> seed 17 -> B``."""
    shape = draw(st.integers(0, 5))
    if shape == 0:
        stops = draw(st.lists(st.one_of(upper_names, st.integers(0, 99).map(lambda n: f"seed {n}")),
                              min_size=2, max_size=3))
        arrow = draw(st.sampled_from([" -> ", "->", " ->  "]))
        return "morph " + arrow.join(stops)
    if shape == 1:
        stops = draw(st.lists(numbers, min_size=2, max_size=3))
        return " -> ".join(stops)
    return draw(terms(indent))


@st.composite
def options(draw: st.DrawFn, indent: int = 0) -> str:
    """One option: ``key value``, a two-word key (``fade in 2s``), a flag, or a bare value."""
    shape = draw(st.integers(0, 5))
    if shape == 0:
        return draw(st.sampled_from(["fade in", "fade out"])) + " " + draw(times)
    if shape == 1:
        return draw(st.sampled_from(FLAGS))
    if shape == 2:
        key = draw(st.sampled_from(["at", "for", "from"]))
        return f"{key} {draw(times)}"
    if shape == 3:
        return draw(st.one_of(ranges, rates, times))
    if shape == 4:
        return "zoom " + " -> ".join(draw(st.lists(numbers, min_size=2, max_size=2)))
    key = draw(st.sampled_from(OPTION_KEYS))
    return f"{key} {draw(st.one_of(times, gains, numbers, strings, words, upper_names))}"


@st.composite
def value_list(draw: st.DrawFn, indent: int, first: st.SearchStrategy[str] | None = None,
               min_options: int = 0, max_options: int = 4) -> str:
    head = [draw(first if first is not None else values(indent))]
    opts = draw(st.lists(options(indent), min_size=min_options, max_size=max_options))
    out = head[0]
    for o in opts:
        out += draw(comma()) + draw(st.sampled_from(["", "", "", "/* b */ "])) + o
    return out


# --------------------------------------------------------------------------- lines and blocks


@st.composite
def _end(draw: st.DrawFn) -> str:
    """The end of a code line: spaces, maybe a trailing comment or boneyard."""
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return draw(_sp(3)) + "  " + draw(comment_texts)
    if kind == 1:
        return " " + draw(boneyards) + draw(_sp(2))
    return draw(_sp(2))


@st.composite
def _gap(draw: st.DrawFn, indent: int) -> str:
    """What may stand between two lines: blank lines and own-line comments."""
    parts = []
    for _ in range(draw(st.integers(0, 2))):
        kind = draw(st.integers(0, 3))
        if kind == 0:
            parts.append(" " * draw(st.integers(0, indent + 6)) + draw(comment_texts) + "\n")
        elif kind == 1:
            parts.append(" " * indent + draw(boneyards) + draw(_sp(2)) + "\n")
        else:
            parts.append(" " * draw(st.integers(0, 3)) + "\n")
    return "".join(parts)


@st.composite
def props(draw: st.DrawFn, indent: int, keys: list[str] | None = None) -> str:
    key = draw(st.sampled_from(keys or ["image", "portrait", "voice", "motion", "source", "lyrics", "glyphs",
                                        "strokes", "ink", "backdrop", "music", "sound", "caption", "show"]))
    first = None
    if key == "ink":
        first = colours
    elif key == "lyrics":
        first = long_strings(indent)
    elif key == "portrait":
        first = st.one_of(st.just("generate"), calls_(indent), strings)
    return (" " * indent + key + draw(_sp(1)) + ":" + draw(_sp(2))
            + draw(value_list(indent, first)) + draw(_end()) + "\n")


@st.composite
def blocks(draw: st.DrawFn, indent: int, item: st.SearchStrategy[str] | None = None,
           item_fn=None, min_size: int = 1, max_size: int = 4) -> str:  # noqa: ANN001
    n = draw(st.integers(min_size, max_size))
    out = []
    for i in range(n):
        if i:
            out.append(draw(_gap(indent)))
        out.append(draw(item_fn(indent)) if item_fn else draw(item))
    return "".join(out)


def _note_line(indent: int) -> st.SearchStrategy[str]:
    return st.tuples(notes, _end()).map(lambda t: " " * indent + t[0] + t[1] + "\n")


@st.composite
def definitions(draw: st.DrawFn, indent_step: int | None = None) -> str:
    step = indent_step or draw(st.sampled_from([2, 4, 4, 4, 8]))
    kind = draw(st.sampled_from(["alphabet", "look", "character", "music", "prop"]))
    name = draw(upper_names)
    head = f"{kind} {name}{draw(_sp(1))}:{draw(_end())}\n"

    def item(ind: int) -> st.SearchStrategy[str]:
        return st.one_of(props(ind), props(ind), props(ind), _note_line(ind))

    return head + draw(_gap(step)) + draw(blocks(step, item_fn=item))


@st.composite
def header_fields(draw: st.DrawFn) -> str:
    key = draw(st.sampled_from(["title", "author", "canvas", "seed", "subtitles", "duck", "soundtrack", "extra"]))
    first = {"title": strings, "author": strings, "canvas": sizes, "seed": st.integers(0, 9999).map(str),
             "subtitles": st.one_of(upper_names, st.sampled_from(["plain", "off"])), "duck": gains}.get(key)
    return key + draw(_sp(1)) + ":" + draw(_sp(2)) + draw(value_list(0, first, max_options=2)) + draw(_end()) + "\n"


@st.composite
def beat_lines(draw: st.DrawFn, indent: int) -> str:
    kind = draw(st.integers(0, 4))
    pad = " " * indent
    if kind == 0:
        inner = draw(st.sampled_from(["softly", " almost a whisper ", "pause 1s", "pause 500ms", "beat"]))
        return pad + f"({inner})" + draw(_end()) + "\n"
    if kind == 1:
        return pad + draw(notes) + draw(_end()) + "\n"
    if kind == 2:
        verb = draw(st.sampled_from(["sings", "hums", "looks"]))
        return pad + draw(value_list(indent, st.just(f"{verb} {draw(upper_names)}"), max_options=3)) + draw(_end()) + "\n"
    text = draw(st.one_of(strings, long_strings(indent)))
    return pad + draw(value_list(indent, st.just(text), max_options=2)) + draw(_end()) + "\n"


@st.composite
def beats(draw: st.DrawFn, indent: int, step: int) -> str:
    name = draw(upper_names)
    opts = draw(st.lists(options(indent), max_size=3))
    head = " " * indent + name + "".join(draw(comma()) + o for o in opts) + draw(_sp(1)) + ":" + draw(_end()) + "\n"
    return head + draw(_gap(indent + step)) + draw(blocks(indent + step, item_fn=lambda i: beat_lines(i)))


@st.composite
def bare_shows(draw: st.DrawFn, indent: int) -> str:
    """``show "clip.mp4", at 2s``: a directive without its colon."""
    return " " * indent + "show " + draw(value_list(indent, strings, max_options=2)) + draw(_end()) + "\n"


@st.composite
def headings(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        parts = ["SCENE"]
        if draw(st.booleans()):
            parts.append(str(draw(st.integers(1, 40))))
        if draw(st.booleans()):
            parts.append(draw(st.one_of(strings, strings, long_strings(0))))
        return " ".join(parts)
    prefix = draw(st.sampled_from(["INT.", "EXT.", "EST.", "INT./EXT.", "I/E."]))
    place = draw(st.sampled_from([" CATHEDRAL - NIGHT", " SEA", " HOUSE  - DAY", " RUINS"]))
    return prefix + place


@st.composite
def scenes(draw: st.DrawFn) -> str:
    step = draw(st.sampled_from([2, 4, 4, 4, 8]))
    head = draw(headings())
    opts = []
    if draw(st.booleans()):
        opts.append(draw(times))
    opts += draw(st.lists(options(0), max_size=2))
    opts = draw(st.permutations(opts)) if opts else []
    line = head + "".join(draw(comma()) + o for o in opts) + draw(_sp(1)) + ":" + draw(_end()) + "\n"

    def item(ind: int) -> st.SearchStrategy[str]:
        directive = props(ind, ["backdrop", "music", "sound", "caption", "show"])
        return st.one_of(directive, directive, beats(ind, step), _note_line(ind), bare_shows(ind))

    return line + draw(_gap(step)) + draw(blocks(step, item_fn=item))


@st.composite
def transitions(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["CUT TO:", "CROSSFADE TO:", "MORPH TO:", "FADE IN:", "FADE OUT:", "FADE TO BLACK:",
                                 "SMASH CUT TO:"]))
    tail = ""
    if kind != "CUT TO:" or draw(st.booleans()):
        tail = draw(_sp(2)) + draw(times)
        if draw(st.integers(0, 4)) == 0:
            tail += draw(comma()) + draw(words)
    return kind + tail + draw(_end()) + "\n"


@st.composite
def credits(draw: st.DrawFn) -> str:
    step = draw(st.sampled_from([2, 4, 8]))
    head = "CREDITS"
    if draw(st.booleans()):
        head += " " + draw(upper_names)
    if draw(st.booleans()):
        head += draw(comma()) + draw(times)
    head += ":" + draw(_end()) + "\n"

    def item(ind: int) -> st.SearchStrategy[str]:
        return st.one_of(strings.map(lambda s: " " * ind + s + "\n"), strings.map(lambda s: " " * ind + s + "\n"),
                         _note_line(ind))

    return head + draw(blocks(step, item_fn=item))


@st.composite
def scripts(draw: st.DrawFn, max_items: int = 8) -> str:
    """A whole valid script: header fields first (usually), then a mix of everything."""
    out = [draw(_gap(0))]
    for _ in range(draw(st.integers(0, 3))):
        out.append(draw(header_fields()))
        out.append(draw(_gap(0)))
    body = st.one_of(definitions(), definitions(), scenes(), scenes(), transitions(), credits(),
                     header_fields(), _note_line(0), st.tuples(strings).map(lambda t: f"include {t[0]}\n"))
    for _ in range(draw(st.integers(0, max_items))):
        out.append(draw(body))
        out.append(draw(_gap(0)))
    text = "".join(out)
    if draw(st.integers(0, 5)) == 0:
        text = text.rstrip("\n")  # no newline at the end of the file
    return text
