"""The film's timeline as a picture: ``nyeshc plan FILM --svg|--png -o FILE``.

This file is long (about 800 lines) on purpose: one picture: the layout of rows and blocks, and
the SVG and PNG writers that draw that same model side by side (so they agree).

The :class:`~nyeshc.plan.model.Plan`'s :class:`~nyeshc.plan.model.Timeline` is laid out once
into a small picture model (:func:`layout`: rows of blocks with start and end in seconds, a
ruler), which :func:`to_svg` writes as a standalone SVG and :func:`to_png` paints with Pillow;
both draw the same model, so the two pictures agree.

Rows, top to bottom:

* **ruler** — ticks and labels in the film's timecode (``m:ss.ff``, :func:`nyeshc.plan.timecode`);
  the step is chosen from the zoom (:data:`STEPS`) so labels are at least :data:`LABEL_GAP`
  pixels apart.
* **scenes** — one block per :class:`~nyeshc.plan.model.SceneTrack` (the credits too), with its
  heading; neighbouring scenes sit a little higher and lower so a ``CROSSFADE TO``/``MORPH TO``
  shows as the two scenes overlapping, with a hatched ``transition`` block over the overlap.
* **backdrops** — stills and ``show`` videos (``backdrop``), a ``backdrop: morph`` and the
  frames of a ``MORPH TO`` (``morph``), labelled with the looks they show.
* **one row per character**, in order of first appearance — their beats (the portrait on
  screen) and, under them, their lines (``line``; the text, shortened to fit). An off-screen
  beat (``(V.O.)``) has lines and no beat.
* **captions** — captions, shown action lines and the credits roll (subtitles are the lines).
* **music** — cues, each with its level drawn as a line (relative to its own gain, which its
  title states): fades and, for a ducked cue (the soundtrack, a ``music:``), the dips under
  dialogue between the corners the mixer's ramps have.
* **sounds** — ``sound:`` cues and the sound of ``show`` videos.

Blocks that overlap in a row go to separate lanes. Where a block would be narrower than
:data:`MIN_BLOCK_PX` pixels (a long film at a small width), it is not drawn alone: runs of such
blocks in a lane are merged into a density *band* (``class="band KIND"``, ``data-count``),
shaded by how much of its span the blocks cover; a lone one is drawn one pixel wide. Scenes
are never merged. A label is written only when it fits its block (shortened with ``…``).

The SVG is the contract other tools read (``nyeshc studio`` embeds it): the root ``<svg>`` has
``data-duration`` (seconds), ``data-width``, ``data-px-per-second`` and ``data-left`` (the x of
t = 0), so x = left + t × px-per-second; every block is a ``<g class="block KIND">`` (KIND one
of :data:`KINDS`) with ``data-start``/``data-end`` in seconds (decimals to the microsecond: a frame
or a 48 kHz sample comes back exactly by rounding) and a ``<title>`` with its full text; scene blocks also
have ``data-scene`` (1-based). Output is deterministic: the same plan and width give the same
bytes.

Why one file of ~800 lines: the layout, the SVG writer and the PNG painter share one picture
model and its constants (lanes, bands, label fitting, colours); split, each half would restate
the other's geometry, and the two pictures must agree pixel for pixel with the model.
"""

from __future__ import annotations

import bisect
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal
from xml.sax.saxutils import escape, quoteattr

from nyeshc.plan import timecode
from nyeshc.plan.model import (
    AudioClip,
    Job,
    Plan,
    SequenceLayer,
    StillLayer,
    TextLayer,
    Timeline,
)

__all__ = [
    "KINDS",
    "PICTURE_FORMATS",
    "Band",
    "Block",
    "Picture",
    "Row",
    "Tick",
    "block_box",
    "frame_timecode",
    "layout",
    "min_width",
    "rgb",
    "ruler",
    "timeline_png",
    "timeline_svg",
    "to_png",
    "to_svg",
    "write_picture",
]

Kind = Literal["scene", "backdrop", "morph", "beat", "line", "caption", "cue", "sound", "transition"]
KINDS: tuple[str, ...] = ("scene", "backdrop", "morph", "beat", "line", "caption", "cue", "sound", "transition")
PICTURE_FORMATS = {".svg": "SVG", ".png": "PNG"}

# geometry, in pixels
LEFT = 132  # the row labels' column; x of t = 0
RIGHT = 30  # room for the last ruler label
TOP = 30  # the title line
RULER = 26
LANE = 16  # one lane of blocks
CUE_LANE = 26  # a music cue's lane: its level line above, its name below
SCENE_ROW = 34
ROW_GAP = 6
FONT = 10  # label size
CHAR_EM = 0.6  # estimated advance of a character, in ems (conservative for a sans-serif)
MIN_BLOCK_PX = 3.0  # narrower blocks are summarised into density bands
MERGE_GAP_PX = 2.0  # small blocks closer than this join one band
LABEL_GAP = 84.0  # least distance between two ruler labels
MAX_LANES = 4  # more overlapping blocks share the last lane
MAX_PNG_WIDTH = 16384  # a wider PNG would hold hundreds of MB in memory while painted; use the SVG
ENVELOPE_PX = 0.5  # envelope points closer than this are merged (keeping the lowest level)

# (major step, minor step) in seconds, smallest first
STEPS: tuple[tuple[Fraction, Fraction], ...] = tuple(
    (Fraction(a), Fraction(b)) for a, b in (
        ("1/4", "1/24"), ("1/2", "1/8"), (1, "1/4"), (2, "1/2"), (5, 1), (10, 2), (15, 5), (30, 5), (60, 10),
        (120, 30), (300, 60), (600, 120), (900, 300), (1800, 300), (3600, 600), (7200, 1800), (14400, 3600)))

COLOURS: dict[str, str] = {
    "scene": "#3d5a80", "scene-alt": "#56759c", "backdrop": "#6a994e", "morph": "#9b6ea6", "beat": "#f2d9a0",
    "line": "#d98c32", "caption": "#4f8fba", "cue": "#7b6cc2", "sound": "#c2645d", "transition": "#ffffff",
    "background": "#fbfaf6", "text": "#1d1d1f", "muted": "#6b6b70", "grid": "#e4e2da", "row": "#f2f0e9",
}
INK_ON: dict[str, str] = {"beat": "#3b2f14", "transition": "#1d1d1f"}  # label colour on light blocks


# --------------------------------------------------------------------------- the model


@dataclass(frozen=True, slots=True)
class Block:
    """One thing on the timeline, ``[start, end)`` in seconds (exact)."""

    kind: str
    start: Fraction
    end: Fraction
    title: str  # the full text (the SVG's <title>)
    label: str = ""  # what is written on the block ("" when it does not fit)
    lane: int = 0
    lanes: int = 1  # lanes of the row part the block is in (for its height)
    scene: int | None = None  # 1-based, scene blocks only
    offset: int = 0  # scene blocks: 0 or 1, drawn a little higher or lower
    label_at: Fraction | None = None  # where the label starts when not at ``start`` (after an overlap)
    envelope: tuple[tuple[Fraction, float], ...] = ()  # cues: (time, level 0..1)


@dataclass(frozen=True, slots=True)
class Band:
    """Blocks too narrow to draw alone, merged: ``count`` of them over ``[start, end)``,
    covering ``density`` (0..1) of it."""

    kind: str
    start: Fraction
    end: Fraction
    count: int
    density: float
    title: str
    lane: int = 0


@dataclass(frozen=True, slots=True)
class Row:
    name: str  # the label in the left column
    kind: str  # scenes, backdrops, character, captions, music, sounds
    y: int
    height: int
    blocks: tuple[Block, ...]
    bands: tuple[Band, ...] = ()
    parts: tuple[tuple[int, int], ...] = ((0, 1),)  # (y offset, lanes) of each lane group
    lane: int = LANE  # the height of one lane


@dataclass(frozen=True, slots=True)
class Tick:
    t: Fraction
    major: bool
    label: str  # timecode on major ticks, "" on minor ones


@dataclass(frozen=True, slots=True)
class Picture:
    title: str
    width: int
    height: int
    left: int
    px_per_second: float
    duration: Fraction
    fps: Fraction
    rows: tuple[Row, ...]
    ticks: tuple[Tick, ...]

    def x(self, t: Fraction) -> float:
        return self.left + float(t) * self.px_per_second


# --------------------------------------------------------------------------- layout


def seconds_text(t: Fraction) -> str:
    """``t`` as a decimal: exact when it terminates within six places, else rounded to the
    microsecond (a frame at 24 fps, ``0.041667``; a sample at 48 kHz is 20.8 µs, so both
    come back exactly by rounding ``t × rate``).

    >>> seconds_text(Fraction(37, 2)), seconds_text(Fraction(1, 24)), seconds_text(Fraction(0))
    ('18.5', '0.041667', '0')
    """
    micro = round(t * 1_000_000)
    sign = "-" if micro < 0 else ""
    whole, frac = divmod(abs(micro), 1_000_000)
    return f"{sign}{whole}" if frac == 0 else f"{sign}{whole}.{frac:06d}".rstrip("0")


def frame_timecode(t: Fraction, fps: Fraction) -> str:
    """The film's timecode (:func:`nyeshc.plan.timecode`, ``m:ss.ff``) of the frame nearest
    ``t`` seconds; computed in integers when the rate is whole (a long film's titles hold
    thousands: the Fraction arithmetic was most of the picture's time), the same text.

    >>> frame_timecode(Fraction(755, 12), Fraction(24)), frame_timecode(Fraction(7200), Fraction(30000, 1001))
    ('1:02.22', '119:59.30')
    """
    if fps.denominator == 1 and t.denominator == 1:
        f = int(fps)
        frame = t.numerator * f
    elif fps.denominator == 1:
        f = int(fps)
        n, d = t.numerator * f, t.denominator
        frame = (2 * n + d) // (2 * d)  # round half up ...
        if (2 * n + d) % (2 * d) == 0 and frame % 2:  # ... but ties to even, as round() does
            frame -= 1
    else:
        return timecode(round(t * fps), fps)
    seconds, ff = divmod(frame, f)
    return f"{seconds // 60}:{seconds % 60:02d}.{ff:02d}"


def shorten(text: str, px: float, size: float = FONT) -> str:
    """``text`` on one line, cut with ``…`` to fit ``px`` pixels at ``size``; ``""`` when not
    even three characters fit.

    >>> shorten("The names are gone.", 1000), shorten("The names are gone.", 40), shorten("abc", 10)
    ('The names are gone.', 'The n…', '')
    """
    text = " ".join(text.split())
    fit = int((px - 4) / (size * CHAR_EM))
    if len(text) <= fit:
        return text
    if fit < 4:
        return ""
    return text[: fit - 1].rstrip() + "…"


def _pack(spans: Sequence[tuple[Fraction, Fraction]]) -> tuple[list[int], int]:
    """Lanes for intervals (in the order given, which is by start): the first lane whose last
    block has ended, at most :data:`MAX_LANES`; and how many lanes were used."""
    ends: list[Fraction] = []
    lanes: list[int] = []
    for s, e in spans:
        for i, end in enumerate(ends):
            if end <= s:
                ends[i] = e
                lanes.append(i)
                break
        else:
            if len(ends) < MAX_LANES:
                ends.append(e)
                lanes.append(len(ends) - 1)
            else:  # the last lane takes the rest; they overlap there
                i = min(range(len(ends)), key=lambda k: (ends[k], k))
                ends[i] = max(ends[i], e)
                lanes.append(i)
    return lanes, max(1, len(ends))


@dataclass
class _Item:
    kind: str
    start: Fraction
    end: Fraction
    title: str
    text: str  # the label before fitting
    envelope: tuple[tuple[Fraction, float], ...] = ()


def _tail(name: str) -> str:
    return name.rsplit(" / ", 1)[-1]


def _look(job: Job | None) -> str:
    """What a latent shows, from its job's name: ``look DUSK`` → ``DUSK``, ``place X / night``
    → ``X / night``, ``image / seed 17`` → ``seed 17``."""
    if job is None:
        return "?"
    name = job.name
    for head in ("look ", "place "):
        if name.startswith(head):
            return name[len(head):]
    return _tail(name)


def _backdrop_text(jobs: dict[str, Job], key: str) -> str:
    job = jobs.get(key)
    if job is None:
        return "backdrop"
    latents = [jobs[k] for k in job.inputs if k in jobs and jobs[k].output == "latent"]
    if latents:
        return " -> ".join(_look(j) for j in latents)
    path = job.params.get("path")
    if isinstance(path, str) and path:  # a picture or a video from a file: its name
        return path.replace("\\", "/").rsplit("/", 1)[-1]
    return _tail(job.name)


def _character(job: Job | None) -> str | None:
    """The character a portrait beat belongs to: its job is named ``… / CHARACTER / beat N``
    (``… / beat N / part K`` for a long beat's lip-sync in parts)."""
    if job is None:
        return None
    name = re.sub(r" / part \d+$", "", job.name)
    parts = name.rsplit(" / ", 2)
    return parts[1] if len(parts) == 3 and parts[2].startswith("beat ") else None


def _envelope(clip: AudioClip, tl: Timeline, ducks: Sequence[tuple[int, int]],
              attack: int, release: int) -> tuple[tuple[Fraction, float], ...]:
    """A music clip's level over its span (0..1 of its full level, gain aside): its fades, and
    for a ducked clip a dip to ``duck_db`` under each merged dialogue span, reached over the
    mixer's attack before it and left over its release after. Points are (seconds, level) at
    every corner inside the clip, in time order; ramps are drawn straight between them (the
    mixer's are equal-power and raised-cosine curves between the same corners)."""
    rate = tl.sample_rate
    a, b = clip.start, clip.start + clip.length
    low = 10 ** (tl.duck_db / 20)
    near = [(s, e) for s, e in ducks if e + release > a and s - attack < b] if clip.duck else []
    starts = [s - attack for s, _ in near]  # sorted; the spans' ramps do not overlap (merged)

    def level(n: int) -> float:
        g = 1.0
        if clip.fade_in and n < a + clip.fade_in:
            g = min(g, (n - a) / clip.fade_in)
        if clip.fade_out and n > b - clip.fade_out:
            g = min(g, (b - n) / clip.fade_out)
        k = bisect.bisect_right(starts, n) - 1  # the one span whose ramps could hold n
        if k >= 0:
            s, e = near[k]
            if s <= n <= e:
                g *= low
            elif s - attack < n < s:
                g *= 1 - (1 - low) * (n - (s - attack)) / attack
            elif e < n < e + release:
                g *= low + (1 - low) * (n - e) / release
        return round(max(0.0, g), 4)

    corners = {a, b, a + clip.fade_in, b - clip.fade_out}
    for s, e in near:
        corners |= {s - attack, s, e, e + release}
    return tuple((Fraction(n, rate), level(n)) for n in sorted(c for c in corners if a <= c <= b))


def _items(plan: Plan) -> tuple[list[_Item], list[_Item], dict[str, list[_Item]], list[_Item], list[_Item],
                                list[_Item], list[_Item]]:
    """The timeline's things by row: scenes (+ transitions), backdrops, characters, captions,
    music, sounds."""
    from nyeshc.export.otio import duck_spans
    from nyeshc.render.mixer import ATTACK, RELEASE

    tl = plan.timeline
    fps, rate = tl.fps, tl.sample_rate
    jobs = {j.key: j for j in plan.jobs}

    def sec(frame: int) -> Fraction:
        return Fraction(frame) / fps

    def span(a: Fraction, b: Fraction) -> str:
        return f"{frame_timecode(a, fps)}–{frame_timecode(b, fps)}"

    titles = {s.index: s.title for s in tl.scenes}
    scenes: list[_Item] = []
    transitions: list[_Item] = []
    backdrops: list[_Item] = []
    people: dict[str, list[_Item]] = {}
    captions: list[_Item] = []
    for s in tl.scenes:
        fades = [f"{w} {float(Fraction(n) / fps):g}s" + (" from white" if white and w == "fade in" else
                                                         " to white" if white else "")
                 for w, n, white in (("fade in", s.fade_in, s.fade_in_white), ("fade out", s.fade_out, s.fade_out_white))
                 if n]
        extra = f" ({', '.join(fades)})" if fades else ""
        a, b = sec(s.start), sec(s.end)
        scenes.append(_Item("scene", a, b, f"{s.title} {span(a, b)}{extra}", s.title))
        for layer in s.layers:
            a, b = sec(layer.start), sec(layer.end)
            job = jobs.get(layer.artifact)
            if isinstance(layer, StillLayer) or (isinstance(layer, SequenceLayer) and layer.role == "video"):
                text = _backdrop_text(jobs, layer.artifact)
                backdrops.append(_Item("backdrop", a, b, f"backdrop {text} {span(a, b)}", text))
            elif isinstance(layer, SequenceLayer) and layer.role == "morph":
                text = _backdrop_text(jobs, layer.artifact)
                backdrops.append(_Item("morph", a, b, f"backdrop morph {text} {span(a, b)}", text))
            elif isinstance(layer, SequenceLayer):  # a portrait: a character's beat on screen
                # (not the job's "beat N": a job made once for two equal beats keeps the first's name)
                who = _character(job) or "?"
                row = people.setdefault(who, [])
                if job is not None and job.continues_beat and row and row[-1].end == a:
                    a = row.pop().start  # a long beat's later part: the same beat goes on
                row.append(_Item("beat", a, b, f"{who} on screen {span(a, b)} in {s.title}", who))
            elif isinstance(layer, TextLayer) and layer.role != "subtitle":
                text = str(job.params.get("text", "")) if job is not None else ""
                what = "credits" if layer.role == "credits" else "caption"
                captions.append(_Item("caption", a, b, f"{what} “{text}” {span(a, b)}", text))
    for o in tl.overlaps:
        a, b = sec(o.start), sec(o.end)
        word = "MORPH TO" if o.kind == "morph" else "CROSSFADE TO"
        names = f"{titles.get(o.a, '?')} → {titles.get(o.b, '?')}"
        transitions.append(_Item("transition", a, b, f"{word} {names} {span(a, b)}", word))
        if o.morph:
            text = _backdrop_text(jobs, o.morph)
            backdrops.append(_Item("morph", a, b, f"MORPH TO {text} {span(a, b)}", text))
    for line in tl.subtitles:
        a, b = line.start, line.end
        people.setdefault(line.character, []).append(
            _Item("line", a, b, f"{line.character}: {line.text} {span(a, b)}", line.text))

    ducks = duck_spans(tl)
    attack, release = max(1, int(ATTACK * rate)), max(1, int(RELEASE * rate))
    music: list[_Item] = []
    sounds: list[_Item] = []
    for c in tl.audio:
        a, b = Fraction(c.start, rate), Fraction(c.start + c.length, rate)
        name = c.name or "?"
        parts = name.split(" / ")
        text = " ".join(parts[1:]) if len(parts) > 1 and parts[0].startswith("scene") else name
        if c.role == "music":
            notes = []
            if c.duck:
                n = sum(1 for s, e in ducks if s < c.start + c.length and e > c.start)
                notes.append(f"ducked {tl.duck_db:g} dB under dialogue ({n}×)")
            if c.gain_db:
                notes.append(f"{c.gain_db:+g} dB")
            extra = f" [{', '.join(notes)}]" if notes else ""
            what = text if text.startswith("music ") else f"music {text}"
            music.append(_Item("cue", a, b, f"{what} {span(a, b)}{extra}", text,
                               _envelope(c, tl, ducks, attack, release)))
        elif c.role in ("sound", "video"):
            job = jobs.get(c.artifact)
            path = job.params.get("path") if job is not None else None
            if isinstance(path, str) and path:  # a recording or a video's sound: its file's name
                text = path.replace("\\", "/").rsplit("/", 1)[-1]
            what = text if text.startswith("sound ") else f"sound {text}"
            sounds.append(_Item("sound", a, b, f"{what} {span(a, b)}", text))
    return scenes, transitions, backdrops, people, captions, music, sounds  # type: ignore[return-value]


def ruler(duration: Fraction, pps: float, fps: Fraction) -> tuple[Tick, ...]:
    """The ruler's ticks for ``duration`` seconds at ``pps`` pixels a second: major ticks
    (labelled in timecode) at the smallest step of :data:`STEPS` at least :data:`LABEL_GAP`
    pixels (and a frame) apart, minor ticks between them where they are 4 pixels apart."""
    major, minor = STEPS[-1]
    for m, n in STEPS:
        if float(m) * pps >= LABEL_GAP and m * fps >= 1:
            major, minor = m, n
            break
    ticks: list[Tick] = []
    k = 0
    while k * minor <= duration:
        t = k * minor
        if t % major == 0:
            ticks.append(Tick(t, True, frame_timecode(t, fps)))
        elif float(minor) * pps >= 4:
            ticks.append(Tick(t, False, ""))
        k += 1
    return tuple(ticks)


def _summarise(items: list[_Item], lanes: list[int], pps: float, kind_label: str, fps: Fraction
               ) -> tuple[list[tuple[_Item, int]], list[Band]]:
    """Split a lane group's items into those drawn alone and density bands of the narrow ones."""
    keep: list[tuple[_Item, int]] = []
    bands: list[Band] = []
    runs: dict[int, list[_Item]] = {}
    run_end: dict[int, Fraction] = {}

    def close(lane: int) -> None:
        run = runs.pop(lane, [])
        b = run_end.pop(lane, Fraction(0))
        if not run:
            return
        if len(run) == 1:
            keep.append((run[0], lane))
            return
        a = run[0].start
        covered = sum((i.end - i.start for i in run), Fraction(0))
        density = round(min(1.0, float(covered / (b - a))) if b > a else 1.0, 2)
        word = kind_label + ("s" if len(run) != 1 else "")
        bands.append(Band(run[0].kind, a, b, len(run), density,
                          f"{len(run)} {word} {frame_timecode(a, fps)}–{frame_timecode(b, fps)}"
                          " (too narrow to draw one by one)", lane))

    for item, lane in zip(items, lanes):
        narrow = float(item.end - item.start) * pps < MIN_BLOCK_PX
        run = runs.get(lane)
        if narrow:
            if run and float(item.start - run_end[lane]) * pps > MERGE_GAP_PX:
                close(lane)
            runs.setdefault(lane, []).append(item)
            run_end[lane] = max(run_end.get(lane, item.end), item.end)
        else:
            close(lane)
            keep.append((item, lane))
    for lane in sorted(runs):
        close(lane)
    return keep, bands


def min_width() -> int:
    """The narrowest picture :func:`layout` draws: the labels' column and 64 pixels of film."""
    return LEFT + RIGHT + 64


def layout(plan: Plan, *, width: int = 1600, title: str = "") -> Picture:
    """Lay the plan's timeline out on a picture ``width`` pixels wide (the film fills the
    width right of the labels' column)."""
    if width < min_width():
        raise ValueError(f"a timeline picture needs a width of at least {min_width()} pixels, not {width}")
    tl = plan.timeline
    shown = tl.duration if tl.frames > 0 else Fraction(1)  # an empty film: one second of ruler
    pps = (width - LEFT - RIGHT) / float(shown)
    scenes, transitions, backdrops, people, captions, music, sounds = _items(plan)

    def order(i: _Item) -> tuple[Fraction, Fraction]:
        """Each row's items in time order (a stable sort keeps the timeline's order for ties)."""
        return i.start, i.end

    def fit(item: _Item, lane: int, lanes: int, **extra: object) -> Block:
        px = float(item.end - item.start) * pps
        return Block(item.kind, item.start, item.end, item.title, shorten(item.text, px), lane, lanes,
                     envelope=item.envelope, **extra)  # type: ignore[arg-type]

    def scene_block(i: int, item: _Item) -> Block:
        """A scene's label sits between the transitions it takes part in, clear of their hatching."""
        index = tl.scenes[i].index
        a = max([item.start, *(sec_of(o.end) for o in tl.overlaps if o.b == index)])
        b = min([item.end, *(sec_of(o.start) for o in tl.overlaps if o.a == index)])
        label = shorten(item.text, float(b - a) * pps) if b > a else ""
        return Block(item.kind, item.start, item.end, item.title, label, scene=i + 1, offset=i % 2,
                     label_at=a if a != item.start else None)

    def sec_of(frame: int) -> Fraction:
        return Fraction(frame) / tl.fps

    rows: list[Row] = []
    y = TOP + RULER + ROW_GAP
    # scenes: never summarised; alternate offsets so overlaps show
    blocks = [scene_block(i, s) for i, s in enumerate(scenes)]
    blocks += [fit(t, 0, 1) for t in sorted(transitions, key=order)]
    rows.append(Row("scenes", "scenes", y, SCENE_ROW, tuple(blocks)))
    y += SCENE_ROW + ROW_GAP

    def lane_row(name: str, kind: str, groups: list[tuple[list[_Item], str]], lane_px: int = LANE) -> None:
        nonlocal y
        all_blocks: list[Block] = []
        all_bands: list[Band] = []
        parts: list[tuple[int, int]] = []
        off = 0
        for items, word in groups:
            if not items:
                continue
            items = sorted(items, key=order)
            lanes, n = _pack([(i.start, i.end) for i in items])
            keep, bands = _summarise(items, lanes, pps, word, tl.fps)
            lane0 = sum(p[1] for p in parts)
            all_blocks += [fit(i, lane0 + lane, n) for i, lane in sorted(keep, key=lambda p: (p[0].start, p[0].end, p[1]))]
            all_bands += [Band(b.kind, b.start, b.end, b.count, b.density, b.title, lane0 + b.lane) for b in bands]
            parts.append((off, n))
            off += n * lane_px
        if not parts:
            return
        rows.append(Row(name, kind, y, off, tuple(all_blocks), tuple(all_bands), tuple(parts), lane_px))
        y += off + ROW_GAP

    lane_row("backdrops", "backdrops", [(backdrops, "backdrop")])
    first = {who: min((i.start, i.kind != "beat") for i in items) for who, items in people.items()}
    for who in sorted(people, key=lambda k: (first[k], k)):  # by first appearance on screen or heard
        items = people[who]
        lane_row(who, "character", [([i for i in items if i.kind == "beat"], "beat"),
                                    ([i for i in items if i.kind == "line"], "line")])
    lane_row("captions", "captions", [(captions, "caption")])
    lane_row("music", "music", [(music, "cue")], CUE_LANE)
    lane_row("sounds", "sounds", [(sounds, "sound")])
    return Picture(title, width, y + 4, LEFT, pps, tl.duration, tl.fps, tuple(rows), ruler(shown, pps, tl.fps))


# --------------------------------------------------------------------------- geometry shared by SVG and PNG


def _num(v: float) -> str:
    """A coordinate with at most two decimals, no trailing zeros (deterministic)."""
    text = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def block_box(pic: Picture, row: Row, block: Block | Band) -> tuple[float, float, float, float]:
    """x, y, width, height of a block (a band) in pixels; at least one pixel wide."""
    x0, x1 = pic.x(block.start), pic.x(block.end)
    w = max(1.0, x1 - x0)
    if row.kind == "scenes":
        if isinstance(block, Block) and block.kind == "transition":
            return x0, row.y, w, row.height
        off = block.offset if isinstance(block, Block) else 0
        h = row.height - 6
        return x0, row.y + off * 6, w, h
    lane = block.lane
    y = row.y + lane * row.lane
    return x0, y + 1, w, row.lane - 2


def _envelope_points(pic: Picture, row: Row, block: Block) -> list[tuple[float, float]]:
    _, y, _, h = block_box(pic, row, block)
    pts: list[tuple[float, float]] = []
    for t, level in block.envelope:
        px, py = pic.x(t), y + 2 + (1 - level) * (h - 15)
        if pts and px - pts[-1][0] < ENVELOPE_PX:
            if py > pts[-1][1]:  # keep the lower level: a dip must stay visible
                pts[-1] = (pts[-1][0], py)
            continue
        pts.append((px, py))
    return pts


# --------------------------------------------------------------------------- SVG


def to_svg(pic: Picture) -> str:
    """The picture as a standalone SVG document (UTF-8 text, ``\\n`` line ends)."""
    out: list[str] = []
    w = out.append
    w(f'<svg xmlns="http://www.w3.org/2000/svg" width="{pic.width}" height="{pic.height}" '
      f'viewBox="0 0 {pic.width} {pic.height}" class="nyeshc-timeline" '
      f'data-duration="{seconds_text(pic.duration)}" data-width="{pic.width}" '
      f'data-px-per-second="{pic.px_per_second:.6f}" data-left="{pic.left}" '
      f'data-fps="{pic.fps}" font-family="DejaVu Sans, Verdana, sans-serif" font-size="{FONT}">')
    w("<defs>"
      '<pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
      f'<rect width="6" height="6" fill="{COLOURS["transition"]}" fill-opacity="0.35"/>'
      '<line x1="0" y1="0" x2="0" y2="6" stroke="#1d1d1f" stroke-width="2" stroke-opacity="0.55"/></pattern>'
      "<style>.block rect{stroke:#00000030;stroke-width:0.5}"
      ".block text,.band text{pointer-events:none}.row-label{fill:#1d1d1f;font-weight:bold}"
      ".tick text{fill:#6b6b70}</style></defs>")
    w(f'<rect class="background" width="{pic.width}" height="{pic.height}" fill="{COLOURS["background"]}"/>')
    if pic.title:
        w(f'<text x="8" y="19" font-size="13" font-weight="bold" fill="{COLOURS["text"]}">{escape(pic.title)}'
          f"</text>")
    # row backgrounds and labels
    for row in pic.rows:
        w(f'<g class="row {row.kind}" data-row={quoteattr(row.name)}>'
          f'<rect x="{pic.left}" y="{row.y}" width="{pic.width - pic.left - RIGHT}" height="{row.height}" '
          f'fill="{COLOURS["row"]}"/>'
          f'<text class="row-label" x="8" y="{row.y + min(row.height, SCENE_ROW) / 2 + 4:.0f}">'
          f"{escape(shorten(row.name, pic.left - 12, FONT))}</text></g>")
    # the ruler, with grid lines down through the rows
    bottom = pic.height - 4
    w('<g class="ruler">')
    for tick in pic.ticks:
        x = _num(pic.x(tick.t))
        if tick.major:
            w(f'<g class="tick major" data-t="{seconds_text(tick.t)}">'
              f'<line x1="{x}" y1="{TOP + 12}" x2="{x}" y2="{bottom}" stroke="{COLOURS["grid"]}"/>'
              f'<line x1="{x}" y1="{TOP + 12}" x2="{x}" y2="{TOP + RULER}" stroke="{COLOURS["muted"]}"/>'
              f'<text x="{x}" y="{TOP + 9}" text-anchor="middle">{escape(tick.label)}</text></g>')
        else:
            w(f'<line class="tick minor" x1="{x}" y1="{TOP + 19}" x2="{x}" y2="{TOP + RULER}" '
              f'stroke="{COLOURS["muted"]}" stroke-opacity="0.6"/>')
    w("</g>")
    for row in pic.rows:
        for band in row.bands:
            x, y, bw, bh = block_box(pic, row, band)
            w(f'<g class="band {band.kind}" data-start="{seconds_text(band.start)}" '
              f'data-end="{seconds_text(band.end)}" data-count="{band.count}"><title>{escape(band.title)}</title>'
              f'<rect x="{_num(x)}" y="{_num(y)}" width="{_num(bw)}" height="{_num(bh)}" '
              f'fill="{COLOURS[band.kind]}" fill-opacity="{0.25 + 0.75 * band.density:.2f}"/></g>')
        for block in row.blocks:
            w(_svg_block(pic, row, block))
    w("</svg>")
    return "\n".join(out) + "\n"


def _svg_block(pic: Picture, row: Row, block: Block) -> str:
    x, y, bw, bh = block_box(pic, row, block)
    attrs = f'class="block {block.kind}" data-start="{seconds_text(block.start)}" data-end="{seconds_text(block.end)}"'
    if block.scene is not None:
        attrs += f' data-scene="{block.scene}"'
    if block.kind == "transition":
        fill = 'fill="url(#hatch)"'
    else:
        colour = COLOURS["scene-alt"] if block.kind == "scene" and block.offset else COLOURS[block.kind]
        fill = f'fill="{colour}"'
    parts = [f"<g {attrs}><title>{escape(block.title)}</title>",
             f'<rect x="{_num(x)}" y="{_num(y)}" width="{_num(bw)}" height="{_num(bh)}" {fill}/>']
    if block.envelope:
        pts = " ".join(f"{_num(px)},{_num(py)}" for px, py in _envelope_points(pic, row, block))
        parts.append(f'<polyline points="{pts}" fill="none" stroke="#ffffff" stroke-width="1.2"/>')
    if block.label:
        ink = INK_ON.get(block.kind, "#ffffff")
        ty = y + bh / 2 + FONT * 0.35
        if block.kind in ("transition", "cue"):  # under the hatching's middle, under a level line
            ty = y + bh - 2
        lx = pic.x(block.label_at) if block.label_at is not None else x
        parts.append(f'<text x="{_num(lx + 3)}" y="{_num(ty)}" fill="{ink}">{escape(block.label)}</text>')
    parts.append("</g>")
    return "".join(parts)


# --------------------------------------------------------------------------- PNG


def rgb(hex_colour: str, alpha: float = 1.0) -> tuple[int, int, int, int]:
    h = hex_colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16), round(255 * alpha)


def to_png(pic: Picture, *, scale: int = 1) -> bytes:
    """The picture painted with Pillow (Pillow's bundled scalable font: no system font, so the
    PNG is the same on every machine with the same Pillow), ``scale`` × its size."""
    from PIL import Image, ImageDraw, ImageFont

    s = max(1, int(scale))
    if pic.width * s > MAX_PNG_WIDTH:
        raise ValueError(f"a timeline PNG is at most {MAX_PNG_WIDTH} pixels wide, not {pic.width * s}; "
                         "write an SVG for a wider picture")
    img = Image.new("RGB", (pic.width * s, pic.height * s), rgb(COLOURS["background"])[:3])
    draw = ImageDraw.Draw(img, "RGBA")
    font = ImageFont.load_default(size=FONT * s)
    bold = ImageFont.load_default(size=13 * s)

    def box(x: float, y: float, w: float, h: float) -> tuple[int, int, int, int]:
        return round(x * s), round(y * s), max(round(x * s) + 1, round((x + w) * s)) - 1, round((y + h) * s) - 1

    if pic.title:
        draw.text((8 * s, 7 * s), pic.title, fill=rgb(COLOURS["text"]), font=bold)
    for row in pic.rows:
        draw.rectangle(box(pic.left, row.y, pic.width - pic.left - RIGHT, row.height), fill=rgb(COLOURS["row"]))
        label = shorten(row.name, pic.left - 12, FONT)
        draw.text((8 * s, (row.y + min(row.height, SCENE_ROW) / 2 - FONT * 0.6) * s), label,
                  fill=rgb(COLOURS["text"]), font=font)
    bottom = pic.height - 4
    for tick in pic.ticks:
        x = round(pic.x(tick.t) * s)
        if tick.major:
            draw.line([(x, (TOP + 12) * s), (x, bottom * s)], fill=rgb(COLOURS["grid"]), width=s)
            draw.line([(x, (TOP + 12) * s), (x, (TOP + RULER) * s)], fill=rgb(COLOURS["muted"]), width=s)
            draw.text((x, (TOP + 5) * s), tick.label, fill=rgb(COLOURS["muted"]), font=font, anchor="mm")
        else:
            draw.line([(x, (TOP + 19) * s), (x, (TOP + RULER) * s)], fill=rgb(COLOURS["muted"], 0.6), width=s)
    for row in pic.rows:
        for band in row.bands:
            draw.rectangle(box(*block_box(pic, row, band)), fill=rgb(COLOURS[band.kind], 0.25 + 0.75 * band.density))
        for block in row.blocks:
            x, y, w, h = block_box(pic, row, block)
            b = box(x, y, w, h)
            if block.kind == "transition":
                draw.rectangle(b, fill=rgb(COLOURS["transition"], 0.35))
                step = 6 * s
                for k in range(b[0] - (b[3] - b[1]), b[2] + 1, step):  # 45° hatch, clipped to the box
                    x0, y0, x1, y1 = k, b[3], k + (b[3] - b[1]), b[1]
                    if x0 < b[0]:
                        y0, x0 = y0 - (b[0] - x0), b[0]
                    if x1 > b[2]:
                        y1, x1 = y1 + (x1 - b[2]), b[2]
                    if x1 >= x0:
                        draw.line([(x0, y0), (x1, y1)], fill=rgb("#1d1d1f", 0.55), width=max(1, s))
            else:
                colour = COLOURS["scene-alt"] if block.kind == "scene" and block.offset else COLOURS[block.kind]
                draw.rectangle(b, fill=rgb(colour))
            if block.envelope:
                pts = [(px * s, py * s) for px, py in _envelope_points(pic, row, block)]
                if len(pts) > 1:
                    draw.line(pts, fill=(255, 255, 255, 255), width=max(1, s))
            if block.label:
                ink = rgb(INK_ON.get(block.kind, "#ffffff"))
                low = block.kind in ("transition", "cue")
                ty = (y + h - 2) if low else (y + h / 2)
                lx = pic.x(block.label_at) if block.label_at is not None else x
                draw.text(((lx + 3) * s, ty * s), block.label, fill=ink, font=font, anchor="ld" if low else "lm")
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()


# --------------------------------------------------------------------------- entry points


def timeline_svg(plan: Plan, *, width: int = 1600, title: str = "") -> str:
    """The plan's timeline as a standalone SVG string (see the module's docstring for the
    attributes other tools may rely on)."""
    return to_svg(layout(plan, width=width, title=title))


def timeline_png(plan: Plan, *, width: int = 1600, title: str = "") -> bytes:
    """The plan's timeline as PNG bytes, painted from the same layout as :func:`timeline_svg`."""
    return to_png(layout(plan, width=width, title=title))


def write_picture(plan: Plan, path: str | Path, *, width: int = 1600, title: str = "") -> Path:
    """Write the timeline picture to ``path`` (``.svg`` or ``.png``, by its suffix) through a
    temporary file renamed over it: nothing half-written is ever left at ``path``."""
    from nyeshc.world import atomic_write_bytes

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in PICTURE_FORMATS:
        raise ValueError(f"a timeline picture is .svg or .png, not {path.name!r}")
    pic = layout(plan, width=width, title=title)
    data = to_svg(pic).encode("utf-8") if suffix == ".svg" else to_png(pic)
    return atomic_write_bytes(path, data)
