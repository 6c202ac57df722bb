"""The storyboard (``nyeshc storyboard FILM.nysh -o board.pdf|board.html``): the film cut into
shots, one panel each, with a still from the animatic at the shot's middle.

This file is long (about 600 lines) on purpose: the shots, the stills taken at their middles and
both writers (PDF and HTML) read one model of the board; the two writers are kept side by side
so that they draw the same panels.

**A shot** is a span of frames ``[start, end)`` of the Plan's :class:`Timeline` between two
consecutive *cuts*. A cut is any frame where

* a scene (or the credits) starts or ends,
* a backdrop starts or ends (a full-canvas :class:`StillLayer`, or a full-canvas
  :class:`SequenceLayer` that is a morph or a ``show`` video),
* a character's beat on screen starts or ends (a ``portrait`` :class:`SequenceLayer`; a
  ``(V.O.)`` beat has none),
* a dialogue line starts (a :class:`Subtitle`'s start, heard or seen, ``(V.O.)`` too),
* a transition (``CROSSFADE TO``/``MORPH TO``, an :class:`Overlap`) starts or ends.

A transition is one shot however many cuts fall inside it (its panel shows both scenes), and
frames no scene covers (black between scenes) belong to no shot. Why a shot starts is its
``cause``: the first of ``transition``, ``scene``, ``backdrop``, ``beat``, ``line`` that
applies to its first frame.

What a panel says comes from the same Timeline (dialogue as the subtitles show it, caption
and credits text as their text jobs draw it) and, for what the film does not show —
parentheticals, notes and action lines — from the checked script placed by the planner's own
layout (:func:`nyeshc.resolve.timeline.layout`): a parenthetical or a note inside a beat belongs to
the shot where the line after it starts (the beat's start if no line follows), what a beat
does (``sings THEME``) and an action line to the shot where it starts, a note in a scene to
the scene's first shot, a note between scenes to the next scene's first shot; notes before the
first scene are about the whole film and go on the cover.

The documents are written by :func:`write_pdf` (fpdf2) and :func:`write_html` (one
self-contained file, the stills as ``data:`` URIs); both are deterministic.
"""

from __future__ import annotations

import base64
import bisect
import html
import io
import itertools
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np

from nyeshc import ir
from nyeshc.media import SAMPLE_RATE
from nyeshc.plan import timecode
from nyeshc.resolve.context import Context
from nyeshc.resolve.timeline import layout
from nyeshc.resolve.values import half_up
from nyeshc.plan.model import Plan, SequenceLayer, StillLayer, TextLayer
from nyeshc.resolve.services import Services
from nyeshc.world import atomic_output

__all__ = ["FORMATS", "PANELS_PER_PAGE", "Board", "Cause", "Directions", "Line", "Shot", "cover_notes", "directions",
           "panel_lines", "pdf_pages", "render_html", "render_pdf", "shots", "still_frames", "write_html", "write_pdf"]

Cause = Literal["transition", "scene", "backdrop", "beat", "line"]
CAUSES: tuple[Cause, ...] = ("transition", "scene", "backdrop", "beat", "line")

FORMATS: dict[str, str] = {".pdf": "PDF (fpdf2)", ".html": "one self-contained HTML file"}

PANELS_PER_PAGE = 6  # the PDF: 2 rows of 3 panels on a landscape A4 page


@dataclass(frozen=True, slots=True)
class Line:
    """A dialogue line as the film shows it (the subtitle's text) and who says it."""

    speaker: str
    text: str


@dataclass(frozen=True, slots=True)
class Shot:
    """One panel: frames ``[start, end)``, the still at ``still`` (the middle frame)."""

    number: int  # 1-based
    start: int
    end: int
    cause: Cause
    scenes: tuple[int, ...]  # the scene track's index; two for a transition (from, to)
    heading: str
    transition: str | None = None  # "crossfade" | "morph" for a transition's shot
    dialogue: tuple[Line, ...] = ()
    captions: tuple[str, ...] = ()
    parentheticals: tuple[Line, ...] = ()  # (speaker, "(softly)")
    notes: tuple[str, ...] = ()
    action: tuple[str, ...] = ()

    @property
    def still(self) -> int:
        return self.start + (self.end - self.start) // 2


@dataclass
class _Draft:
    start: int
    end: int
    cause: Cause
    scenes: tuple[int, ...]
    heading: str
    transition: str | None
    dialogue: list[Line] = field(default_factory=list)
    captions: list[str] = field(default_factory=list)
    parentheticals: list[Line] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    action: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- directions


@dataclass(frozen=True, slots=True)
class Directions:
    """What the film does not show, placed at frames: ``(frame, speaker, text)`` parentheticals,
    ``(frame, text)`` notes and action lines."""

    parentheticals: tuple[tuple[int, str, str], ...] = ()
    notes: tuple[tuple[int, str], ...] = ()
    action: tuple[tuple[int, str], ...] = ()


def directions(film: ir.Film, services: Services, *, root: str | Path | None = None) -> Directions:
    """Parentheticals, notes and action lines of the checked ``film`` at their frames, placed by
    the planner's layout (the same one :func:`nyeshc.plan.plan` uses, so the frames agree with
    the Plan's timeline). ``services`` are asked for voice durations again, as the planner did."""
    ctx = Context.make(film, services, Path(root) if root is not None else None)
    lay = layout(ctx)
    parens: list[tuple[int, str, str]] = []
    notes: list[tuple[int, str]] = []
    actions: list[tuple[int, str]] = []
    first_frame = {id(t.item): ctx.frame(t.start) for t in lay.tracks}  # id(IR item) -> its first frame
    # notes between scenes go with the next scene (the last ones with the film's last frame), before
    # the scene's own; those before the first scene are the film's own, on the cover (:func:`cover_notes`)
    pending: list[str] = []
    started = False
    for item in film.body:
        if isinstance(item, ir.Note):
            if started:
                pending.append(item.text)
        elif id(item) in first_frame:
            started = True
            notes.extend((first_frame[id(item)], text) for text in pending)
            pending = []
    if pending:
        end = ctx.frame(lay.duration)
        notes.extend((max(0, end - 1), text) for text in pending)
    for track in lay.tracks:
        f0, f1 = ctx.frame(track.start), ctx.frame(track.end)
        if isinstance(track.item, ir.Credits):
            notes.extend((f0, n.text) for n in track.item.notes)
            continue
        notes.extend((f0, i.text) for i in track.item.items if isinstance(i, ir.Note))
        for a in track.actions:
            actions.append((min(max(ctx.frame(track.start + a.at), f0), max(f0, f1 - 1)), a.line.text.text))
        for b in track.beats:
            s = min(max(ctx.frame(track.start + b.at), f0), max(f0, f1 - 1))
            track0 = ctx.frame_to_sample(s)
            line_at = {id(line.node): ctx.frame(Fraction(track0 + line.offset, SAMPLE_RATE)) for line in b.lines}
            pending_p: list[str] = []
            pending_n: list[str] = []
            last = s
            for item in b.beat.lines:
                if isinstance(item, ir.Parenthetical):
                    pending_p.append(f"({item.text})")
                elif isinstance(item, ir.Note):
                    pending_n.append(item.text)
                elif isinstance(item, ir.Action):  # ``sings THEME``: what the beat does, not a line
                    target = item.target.word if isinstance(item.target, ir.Word) else ""
                    actions.append((s, f"{b.character} {item.verb} {target}".rstrip()))
                elif isinstance(item, ir.Dialogue):
                    last = line_at.get(id(item), last)
                    parens.extend((last, b.character, p) for p in pending_p)
                    notes.extend((last, n) for n in pending_n)
                    pending_p, pending_n = [], []
            parens.extend((last, b.character, p) for p in pending_p)
            notes.extend((last, n) for n in pending_n)
    return Directions(tuple(parens), tuple(notes), tuple(actions))


def cover_notes(film: ir.Film) -> tuple[str, ...]:
    """The notes before the film's first scene (or credits): about the whole film, so they go on
    the cover rather than on a panel."""
    out: list[str] = []
    for item in film.body:
        if isinstance(item, (ir.Scene, ir.Credits)):
            break
        if isinstance(item, ir.Note):
            out.append(item.text)
    return tuple(out)


# --------------------------------------------------------------------------- shots


def _backdrop(layer: object) -> bool:
    if isinstance(layer, StillLayer):
        return layer.box is None
    return isinstance(layer, SequenceLayer) and layer.box is None and layer.role in ("morph", "video")


def shots(plan: Plan, found: Directions | None = None) -> tuple[Shot, ...]:
    """The film's shots (see the module's docstring for what a shot is), in time order, with
    their dialogue, captions and — from ``found`` (:func:`directions`) — parentheticals,
    notes and action lines. A pure function of its arguments."""
    tl = plan.timeline
    names = {j.key: j.name for j in plan.jobs}
    texts: dict[str, str] = {}  # a text layer's key -> its words, "[ALPHABET] " before glyphs
    for j in plan.jobs:
        if j.kind == "text.plain":
            texts[j.key] = str(j.params.get("text", ""))
        elif j.kind == "glyphs.text":
            alphabet = names.get(j.inputs[0], "") if j.inputs else ""
            tag = alphabet.removeprefix("alphabet ") if alphabet.startswith("alphabet ") else "glyphs"
            texts[j.key] = f"[{tag}] {j.params.get('text', '')}"
    causes: dict[int, set[Cause]] = {}

    def cut(frame: int, cause: Cause) -> None:
        if 0 <= frame <= tl.frames:
            causes.setdefault(frame, set()).add(cause)

    # a beat lip-synced in parts is shown by one portrait layer per part, end to start in the
    # same box: where a later part takes over, the beat goes on (no cut)
    parts = {j.key for j in plan.jobs if j.continues_beat}
    for sc in tl.scenes:
        cut(sc.start, "scene")
        cut(sc.end, "scene")
        goes_on = {(L.start, L.box) for L in sc.layers if isinstance(L, SequenceLayer) and L.artifact in parts}
        for layer in sc.layers:
            if _backdrop(layer):
                cut(layer.start, "backdrop")
                cut(layer.end, "backdrop")
            elif isinstance(layer, SequenceLayer) and layer.role == "portrait":
                if layer.artifact not in parts:
                    cut(layer.start, "beat")
                if (layer.end, layer.box) not in goes_on:
                    cut(layer.end, "beat")
    for sub in tl.subtitles:
        cut(half_up(sub.start * tl.fps), "line")
    for o in tl.overlaps:
        cut(o.start, "transition")
        cut(o.end, "scene")
    inside = [(o.start, o.end) for o in tl.overlaps if o.end > o.start]
    frames = sorted(f for f in causes if not any(s < f < e for s, e in inside))

    by_index = {sc.index: sc for sc in tl.scenes}
    drafts: list[_Draft] = []
    for a, b in itertools.pairwise(frames):
        overlap = next((o for o in tl.overlaps if o.start <= a and b <= o.end), None)
        if overlap is not None:
            sa, sb = by_index.get(overlap.a), by_index.get(overlap.b)
            heading = f"{sa.title if sa else '?'} → {sb.title if sb else '?'}"
            drafts.append(_Draft(a, b, "transition", (overlap.a, overlap.b), heading, overlap.kind))
            continue
        scene = next((sc for sc in tl.scenes if sc.start <= a < sc.end), None)
        if scene is None:  # black between scenes: no shot
            continue
        cause = next(c for c in CAUSES if c in causes.get(a, set()))
        drafts.append(_Draft(a, b, cause, (scene.index,), scene.title, None))
    if not drafts:
        return ()

    starts = [d.start for d in drafts]

    def at(frame: int) -> _Draft:
        return drafts[max(0, bisect.bisect_right(starts, frame) - 1)]

    for sub in tl.subtitles:
        at(half_up(sub.start * tl.fps)).dialogue.append(Line(sub.character, sub.text))
    for d in drafts:
        for index in d.scenes:
            sc = by_index[index]
            for layer in sc.layers:
                if isinstance(layer, TextLayer) and layer.role != "subtitle" and layer.start < d.end \
                        and layer.end > d.start and layer.artifact in texts:
                    text = texts[layer.artifact]
                    d.captions.append(f"CREDITS: {text}" if layer.role == "credits" else text)
    if found is not None:
        for frame, speaker, text in found.parentheticals:
            at(frame).parentheticals.append(Line(speaker, text))
        for frame, text in found.notes:
            at(frame).notes.append(text)
        for frame, text in found.action:
            at(frame).action.append(text)
    return tuple(Shot(n, d.start, d.end, d.cause, d.scenes, d.heading, d.transition, tuple(d.dialogue),
                      tuple(d.captions), tuple(d.parentheticals), tuple(d.notes), tuple(d.action))
                 for n, d in enumerate(drafts, start=1))


def still_frames(board_shots: Sequence[Shot]) -> list[int]:
    """The frame of each shot's still, in shot order."""
    return [s.still for s in board_shots]


# --------------------------------------------------------------------------- what a panel says


Style = Literal["heading", "time", "dialogue", "speaker", "parenthetical", "caption", "note", "action"]


def _seconds(frames: int, fps: Fraction) -> str:
    return f"{float(Fraction(frames) / fps):.2f} s"


def panel_lines(shot: Shot, fps: Fraction) -> list[tuple[Style, str]]:
    """What a panel says, in order, as (style, text): the same words in the PDF and the HTML."""
    what = {"transition": f"{(shot.transition or '').upper()} (transition)", "scene": "new scene",
            "backdrop": "backdrop", "beat": "character beat", "line": "line"}[shot.cause]
    out: list[tuple[Style, str]] = [
        ("heading", f"{shot.number}. {shot.heading}"),
        ("time", (f"{timecode(shot.start, fps)} – {timecode(shot.end, fps)}  "
                  f"({_seconds(shot.end - shot.start, fps)}, {shot.end - shot.start} f)  · {what}")),
    ]
    out += [("action", text) for text in shot.action]
    parens: dict[str, list[str]] = {}
    for p in shot.parentheticals:
        parens.setdefault(p.speaker, []).append(p.text)
    spoken = set()
    for line in shot.dialogue:
        if line.speaker not in spoken:
            spoken.add(line.speaker)
            out += [("parenthetical", f"{line.speaker} {t}") for t in parens.pop(line.speaker, [])]
        out.append(("dialogue", f"{line.speaker}: {line.text}"))
    for speaker, texts in parens.items():  # a parenthetical with no line in this shot
        out += [("parenthetical", f"{speaker} {t}") for t in texts]
    out += [("caption", f"Caption: {text}") for text in shot.captions]
    out += [("note", f"Note: {text}") for text in shot.notes]
    return out


@dataclass(frozen=True)
class Board:
    """Everything a storyboard document shows: the cover (title, author, the film's notes, each
    alphabet's Rosetta chart) and the panels (``stills[i]`` is ``shots[i]``'s frame).

    ``stills`` may be lazy (the command composites each frame when it is asked for): the writers
    read each one once, in order, and keep none, so a long film's stills are never all in
    memory at once."""

    title: str
    author: str
    fps: Fraction
    width: int
    height: int
    frames: int
    shots: tuple[Shot, ...]
    stills: Sequence[np.ndarray]
    charts: tuple[tuple[str, np.ndarray], ...] = ()
    notes: tuple[str, ...] = ()

    def summary(self) -> str:
        return (f"{len(self.shots)} shots · {timecode(self.frames, self.fps)} · "
                f"{self.width}x{self.height} at {float(self.fps):g} fps")


def _png(image: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


# --------------------------------------------------------------------------- HTML

_CSS = """
body{font-family:"Source Serif Pro",Georgia,serif;background:#f4f1ea;color:#1b181f;margin:2rem}
.cover{margin-bottom:3rem}.cover h1{font-size:2.4rem;margin:0}.cover .author{font-size:1.3rem}
.cover .summary{color:#555}.chart{margin:1rem 0}.chart img{max-width:100%;height:auto}
.panels{display:grid;grid-template-columns:repeat(auto-fill,minmax(20rem,1fr));gap:1.5rem}
.panel{background:#fff;padding:.75rem;border:1px solid #ccc;break-inside:avoid}
.panel img{width:100%;height:auto;display:block;background:#000}
.panel h2{font-size:1rem;margin:.5rem 0 .2rem}.time{font-size:.85rem;color:#555;margin:0 0 .4rem}
.panel p{margin:.15rem 0;font-size:.9rem}.dialogue .speaker{font-weight:bold}
.parenthetical,.note{font-style:italic;color:#444}.caption{color:#6a4a1a}.action{color:#333}
""".strip()


def render_html(board: Board) -> str:
    """The storyboard as one HTML page: styles inline, every image a ``data:image/png`` URI, no
    script and no external resource."""
    return "".join(_html_parts(board))


def _html_parts(board: Board) -> Iterator[str]:
    """:func:`render_html`'s text in pieces: the cover, then a panel at a time."""
    e = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           f"<title>{e(board.title or 'Storyboard')} — storyboard</title>", f"<style>{_CSS}</style>", "</head>",
           "<body>", '<section class="cover">', f"<h1>{e(board.title or 'Untitled')}</h1>"]
    if board.author:
        out.append(f'<p class="author">{e(board.author)}</p>')
    out.append(f'<p class="summary">Storyboard · {e(board.summary())}</p>')
    out += [f'<p class="note">{e(n)}</p>' for n in board.notes]
    for name, chart in board.charts:
        data = base64.b64encode(_png(chart)).decode("ascii")
        out.append(f'<figure class="chart" id="alphabet-{e(name)}"><figcaption>Rosetta chart: alphabet '
                   f'{e(name)}</figcaption><img alt="the alphabet {e(name)}" width="{chart.shape[1]}" '
                   f'height="{chart.shape[0]}" src="data:image/png;base64,{data}"></figure>')
    out += ["</section>", '<main class="panels">']
    yield "\n".join(out) + "\n"
    for shot, still in zip(board.shots, board.stills):
        out = []
        data = base64.b64encode(_png(still)).decode("ascii")
        out.append(f'<article class="panel" id="shot-{shot.number}" data-start="{shot.start}" '
                   f'data-end="{shot.end}" data-still="{shot.still}" data-cause="{shot.cause}">')
        out.append(f'<img alt="frame {shot.still}" width="{still.shape[1]}" height="{still.shape[0]}" '
                   f'src="data:image/png;base64,{data}">')
        for style, text in panel_lines(shot, board.fps):
            if style == "heading":
                out.append(f"<h2>{e(text)}</h2>")
            elif style == "time":
                out.append(f'<p class="time">{e(text)}</p>')
            elif style == "dialogue":
                speaker, _, said = text.partition(": ")
                out.append(f'<p class="dialogue"><span class="speaker">{e(speaker)}</span>: {e(said)}</p>')
            else:
                out.append(f'<p class="{style}">{e(text)}</p>')
        out.append("</article>")
        yield "\n".join(out) + "\n"
    yield "</main>\n</body>\n</html>\n"


def write_html(board: Board, path: str | os.PathLike[str]) -> Path:
    """:func:`render_html` written atomically (temporary file, then renamed), a panel at a time."""
    with atomic_output(path, suffix=".html") as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        fh.writelines(_html_parts(board))
    return Path(path)


# --------------------------------------------------------------------------- PDF

_FONT_PACKAGE = "font_source_serif_pro"
_FONTS = {"": "SourceSerifPro-Regular.ttf", "B": "SourceSerifPro-Bold.ttf", "I": "SourceSerifPro-It.ttf"}
# scripts Source Serif lacks (CJK, Arabic, Devanagari…) are drawn from these when the system
# has them; without one such text is left out of the PDF (fpdf2 warns), never a crash
_FALLBACKS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",)
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # a fixed creation date: the same film, the same bytes

# landscape A4, millimetres
_PAGE_W, _PAGE_H, _MARGIN = 297.0, 210.0, 10.0
_COLS, _ROWS, _GAP, _HEAD = 3, 2, 5.0, 8.0
_SIZES = (8.0, 7.0, 6.0, 5.0)  # text sizes tried, largest first, until a panel's text fits
_COVER_CHARTS = 90.0  # the height kept for the Rosetta charts under the cover's notes


def pdf_pages(n_shots: int) -> int:
    """Pages of the PDF for ``n_shots`` panels: the cover and :data:`PANELS_PER_PAGE` a page."""
    return 1 + -(-n_shots // PANELS_PER_PAGE)


def _pdf(text: str = "") -> Any:  # an fpdf.FPDF
    """An FPDF with Source Serif (regular, bold, italic) and, when ``text`` (every word the
    document will show) has characters Source Serif lacks, the system's fallback fonts."""
    from fpdf import FPDF

    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.set_creation_date(_EPOCH)
    pdf.set_producer("nyeshc")
    pdf.set_auto_page_break(False)
    pdf.set_margins(_MARGIN, _MARGIN, _MARGIN)
    for style, name in _FONTS.items():
        ref = resources.files(_FONT_PACKAGE) / "files" / name
        with resources.as_file(ref) as font_path:
            pdf.add_font("serif", style, str(font_path))
    cmap = pdf.fonts["serif"].cmap
    if all(ord(c) in cmap or c.isspace() for c in set(text)):
        return pdf
    fallbacks = []
    for i, path in enumerate(_FALLBACKS):
        if Path(path).is_file():
            pdf.add_font(f"fallback{i}", "", path)
            fallbacks.append(f"fallback{i}")
    if fallbacks:
        pdf.set_fallback_fonts(fallbacks, exact_match=False)
    return pdf


_STYLE_FONT: dict[str, tuple[str, tuple[int, int, int]]] = {
    "heading": ("B", (27, 24, 31)), "time": ("", (90, 90, 90)), "dialogue": ("", (27, 24, 31)),
    "parenthetical": ("I", (70, 70, 70)), "caption": ("", (106, 74, 26)), "note": ("I", (70, 70, 70)),
    "action": ("", (50, 50, 50)),
}


def _wrapped(pdf: Any, lines: list[tuple[Style, str]], width: float, size: float) -> list[tuple[Style, str]]:
    out: list[tuple[Style, str]] = []
    for style, text in lines:
        pdf.set_font("serif", _STYLE_FONT[style][0], size)
        for part in pdf.multi_cell(width, size * 0.45, text, dry_run=True, output="LINES"):
            out.append((style, part))
    return out


def _fit(pdf: Any, lines: list[tuple[Style, str]], width: float, height: float
         ) -> tuple[float, list[tuple[Style, str]]]:
    """The largest of :data:`_SIZES` at which ``lines`` fit ``height``; at the smallest, the
    lines that fit, the last one ending in "…"."""
    for size in _SIZES:
        wrapped = _wrapped(pdf, lines, width, size)
        if len(wrapped) * size * 0.45 <= height:
            return size, wrapped
    size = _SIZES[-1]
    wrapped = _wrapped(pdf, lines, width, size)
    keep = max(1, int(height // (size * 0.45)))
    cut = wrapped[:keep]
    style, last = cut[-1]
    cut[-1] = (style, (last[:-1] if len(last) > 1 else last) + "…")
    return size, cut


def _image(pdf: Any, image: np.ndarray, x: float, y: float, w: float, h: float) -> None:
    """``image`` fitted inside the box (aspect kept, centred), at its own pixels (lossless)."""
    from PIL import Image

    ih, iw = image.shape[:2]
    scale = min(w / iw, h / ih)
    dw, dh = iw * scale, ih * scale
    pdf.image(Image.fromarray(np.ascontiguousarray(image)), x=x + (w - dw) / 2, y=y + (h - dh) / 2, w=dw, h=dh)


def render_pdf(board: Board) -> bytes:
    """The storyboard as PDF bytes: a cover page, then :data:`PANELS_PER_PAGE` panels a page."""
    words = [board.title or "Untitled", board.author, " — storyboard, page 0123456789 of", board.summary(),
             *board.notes, "Rosetta chart: alphabet …", *(name for name, _ in board.charts),
             *(text for shot in board.shots for _, text in panel_lines(shot, board.fps))]
    pdf = _pdf("".join(words))
    pdf.set_title(board.title or "Storyboard")
    if board.author:
        pdf.set_author(board.author)
    # the cover
    pdf.add_page()
    pdf.set_text_color(27, 24, 31)
    pdf.set_font("serif", "B", 28)
    pdf.set_xy(_MARGIN, 22)
    pdf.multi_cell(_PAGE_W - 2 * _MARGIN, 12, board.title or "Untitled", align="C", new_x="LMARGIN", new_y="NEXT")
    if board.author:
        pdf.set_font("serif", "", 16)
        pdf.multi_cell(_PAGE_W - 2 * _MARGIN, 8, board.author, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("serif", "", 10)
    pdf.set_text_color(90, 90, 90)
    pdf.multi_cell(_PAGE_W - 2 * _MARGIN, 6, f"Storyboard · {board.summary()}", align="C", new_x="LMARGIN",
                   new_y="NEXT")
    if board.notes:  # above the _COVER_CHARTS mm kept for the charts, if any (cut with "…")
        y = pdf.get_y() + 2
        room = _PAGE_H - _MARGIN - y - (_COVER_CHARTS if board.charts else 0)
        size, lines = _fit(pdf, [("note", n) for n in board.notes], _PAGE_W - 2 * _MARGIN, room)
        pdf.set_text_color(70, 70, 70)
        for _, text in lines:
            pdf.set_font("serif", "I", size)
            pdf.set_xy(_MARGIN, y)
            pdf.cell(_PAGE_W - 2 * _MARGIN, size * 0.45, text, align="C")
            y += size * 0.45
        pdf.set_y(y)
    if board.charts:
        top = pdf.get_y() + 6
        avail_h = _PAGE_H - _MARGIN - top
        n = len(board.charts)
        cw = (_PAGE_W - 2 * _MARGIN - (n - 1) * _GAP) / n
        for i, (name, chart) in enumerate(board.charts):
            x = _MARGIN + i * (cw + _GAP)
            pdf.set_font("serif", "B", 10)
            pdf.set_text_color(27, 24, 31)
            pdf.set_xy(x, top)
            pdf.cell(cw, 6, f"Rosetta chart: alphabet {name}", align="C", new_x="LMARGIN", new_y="NEXT")
            _image(pdf, chart, x, top + 7, cw, avail_h - 7)
    # the panels
    cell_w = (_PAGE_W - 2 * _MARGIN - (_COLS - 1) * _GAP) / _COLS
    cell_h = (_PAGE_H - 2 * _MARGIN - _HEAD - (_ROWS - 1) * _GAP) / _ROWS
    img_h = min(cell_w * board.height / max(1, board.width), cell_h * 0.6)
    total = len(board.shots)
    for i, (shot, still) in enumerate(zip(board.shots, board.stills)):
        slot = i % PANELS_PER_PAGE
        if slot == 0:
            pdf.add_page()
            pdf.set_font("serif", "", 8)
            pdf.set_text_color(90, 90, 90)
            pdf.set_xy(_MARGIN, _MARGIN)
            page = i // PANELS_PER_PAGE + 2  # the PDF's page number: the cover is page 1
            pdf.cell(_PAGE_W - 2 * _MARGIN, 5, f"{board.title or 'Untitled'} — storyboard, page {page} of "
                                              f"{pdf_pages(total)}")
        row, col = divmod(slot, _COLS)
        x = _MARGIN + col * (cell_w + _GAP)
        y = _MARGIN + _HEAD + row * (cell_h + _GAP)
        pdf.set_fill_color(0, 0, 0)
        pdf.rect(x, y, cell_w, img_h, style="F")
        _image(pdf, still, x, y, cell_w, img_h)
        size, lines = _fit(pdf, panel_lines(shot, board.fps), cell_w, cell_h - img_h - 2)
        ty = y + img_h + 2
        for style, text in lines:
            font, colour = _STYLE_FONT[style]
            pdf.set_font("serif", font, size)
            pdf.set_text_color(*colour)
            pdf.set_xy(x, ty)
            pdf.cell(cell_w, size * 0.45, text)
            ty += size * 0.45
    return bytes(pdf.output())


def write_pdf(board: Board, path: str | os.PathLike[str]) -> Path:
    """:func:`render_pdf` written atomically (temporary file, then renamed)."""
    data = render_pdf(board)
    with atomic_output(path, suffix=".pdf") as tmp:
        tmp.write_bytes(data)
    return Path(path)
