"""Timeline layout: when every scene, line and cue starts and ends, in exact time.

This file holds every timing rule of the language (scenes, overlaps, beats in the flow, music
grids, credits); the values they read are :mod:`nyeshc.resolve.values`', the context (canvas,
rate, the outside world's facts) :mod:`nyeshc.resolve.context`'s, and each directive is typed by
:mod:`nyeshc.resolve.directives` once its time is known.

Everything is computed in exact :class:`~fractions.Fraction` seconds and converted to integer
frames (at the film's ``fps``) and samples (at ``SAMPLE_RATE``) once, at absolute boundaries,
so nothing drifts however long the film is.

The rules (LANGUAGE.md, "Time semantics"):

* Scenes follow one another. ``CROSSFADE TO: D`` and ``MORPH TO: D`` overlap the two scenes
  by ``D`` (the next scene starts ``D`` before the previous one ends). ``FADE IN: D`` darkens
  the start of the next scene, ``FADE OUT: D``/``FADE TO BLACK: D`` the end of the previous
  one; they add no time. ``CUT TO`` is nothing.
* A scene lasts its explicit duration, or else the latest end of its timed elements (dialogue
  audio, captions/cues/videos with ``for`` or a range, ``sings`` with ``for``), rounded up to a
  whole frame, at least 1 s. Untimed elements never lengthen a scene; elements outlasting an
  explicit duration are cut (the checker warns).
* A beat starts at its ``at`` (default 0); its lines play one after another, ``(pause D)``
  inserting silence; other parentheticals are direction notes. A line lasts as long as its
  audio: the voice backend's exact duration, or the length of its recording (a line's
  ``voice "file"`` or the character's ``voice: "file"``).
* ``CREDITS [ALPHABET][, D]`` lasts ``D``, or 2 s a line and at least 4 s.

A beat's *span* (where the character is on screen and animated) runs from its start to the
start of the same character's next beat in the scene, or the scene's end.
"""

from __future__ import annotations

import math
from dataclasses import replace
from fractions import Fraction

from nyeshc import ir, schema
from nyeshc.diagnostics import error
from nyeshc.grid import Grid
from nyeshc.media import SAMPLE_RATE
from nyeshc.resolve import ledger
from nyeshc.resolve.context import Context
from nyeshc.resolve.definitions import DEFAULT_VOICE, Voice, voice_modality
from nyeshc.resolve.model import ActionLayout, BeatLayout, Layout, Line, OverlapLayout, Sing, TrackLayout
from nyeshc.resolve.directives import Cue, Directive, Fades, Soundtrack, directive, roll, soundtrack
from nyeshc.resolve.values import (
    Clock,
    flag,
    has_flag,
    opt_seconds,
    opt_value,
    option,
    seconds,
    seconds_of,
    spoken,
    timing,
)
from nyeshc.schema import DEFAULT_DUCK_DB

OFFSCREEN_EXTENSIONS = frozenset({"V.O.", "O.S.", "O.C.", "OFF", "VO", "OS", "OC"})
OVERLAP_KINDS = {"CROSSFADE TO": "crossfade", "MORPH TO": "morph"}
FADE_IN_KINDS = {"FADE IN"}
FADE_OUT_KINDS = {"FADE OUT", "FADE TO BLACK"}
FADE_THROUGH_KINDS = {"FADE THROUGH BLACK", "FADE TO WHITE"}


# --------------------------------------------------------------------------- scenes


def scene_identities(scenes: list[ir.Scene]) -> list[str]:
    """Each scene's name-path head: ``scene <number>``, else ``scene <heading>``, else
    ``scene #<n>`` (the n-th scene with neither); a repeated identity gets `` (2)``, `` (3)``."""
    out: list[str] = []
    seen: dict[str, int] = {}
    anonymous = 0
    for s in scenes:
        h = s.heading
        if h.number:
            ident = f"scene {h.number}"
        elif h.title.strip():
            ident = f"scene {' '.join(h.title.split())}"
        else:
            anonymous += 1
            ident = f"scene #{anonymous}"
        seen[ident] = seen.get(ident, 0) + 1
        out.append(ident if seen[ident] == 1 else f"{ident} ({seen[ident]})")
    return out


def scene_title(scene: ir.Scene) -> str:
    h = scene.heading
    if h.style == "scene":
        head = "SCENE" + (f" {h.number}" if h.number else "")
        return f"{head} \"{h.title}\"" if h.title else head
    return h.title


def shot_and_side(beat: ir.Beat) -> tuple[str, str]:
    return (flag(beat.options, ("close-up", "medium", "wide"), "medium"),
            flag(beat.options, ("left", "center", "right"), "center"))


def header_time(ctx: Context, key: str, default: Fraction) -> Fraction:
    p = ctx.film.header.get(key)
    if p is not None and isinstance(p.value, ir.Time):
        ledger.mark("rendered", p)
        return p.value.seconds(ctx.fps)
    return default


def reading_rate(ctx: Context) -> Fraction:
    """Words a minute an action line is read at (the header's ``reading: 180wpm``)."""
    p = ctx.film.header.get("reading")
    if p is not None:
        wpm = wpm_value(p.value)
        if wpm is not None and wpm > 0:
            ledger.mark("rendered", p)
            return wpm
    return schema.DEFAULT_READING_WPM


def wpm_value(v: ir.Value | None) -> Fraction | None:
    """``180wpm`` (a number and the word ``wpm``) or a plain number."""
    if isinstance(v, ir.Num):
        return v.value
    if isinstance(v, ir.Phrase) and len(v.items) == 2 and isinstance(v.items[0], ir.Num) \
            and isinstance(v.items[1], ir.Word) and v.items[1].word.lower() == "wpm":
        return v.items[0].value
    return None


def reading_time(text: str, wpm: Fraction) -> Fraction:
    """How long an action line takes to read: its words at ``wpm``, at least the schema's
    ``MIN_ACTION_SECONDS``."""
    return max(schema.MIN_ACTION_SECONDS, Fraction(len(text.split()) * 60) / wpm)


def offscreen(beat: ir.Beat) -> bool:
    """``NAME (V.O.)``, ``(O.S.)``, ``(O.C.)``, ``(OFF)``: heard, not seen."""
    return beat.extension is not None and beat.extension.upper().replace(" ", "") in OFFSCREEN_EXTENSIONS


def beat_content(ctx: Context, beat: ir.Beat, voice: Voice, line_count: dict[str, int],
                 clock: Clock | None = None) -> tuple[list[Line], list[Sing], int]:
    """A beat's lines and songs placed in its own track: (lines, sings, samples of timed content)."""
    fps = ctx.fps
    name = beat.character
    cursor = 0
    lines: list[Line] = []
    sings: list[Sing] = []
    for item in beat.lines:
        if isinstance(item, ir.Parenthetical):
            if item.pause is not None:
                cursor += ctx.sample(item.pause.seconds(fps))
                ledger.mark("rendered", item)
            else:
                ledger.mark("inert", item)  # a direction for the actor: not drawn, not heard
        elif isinstance(item, ir.Dialogue):
            line_count[name] = line_count.get(name, 0) + 1
            own = opt_value(item.options, "voice")
            recording = own if isinstance(own, ir.Str) else voice.path if voice.mode == "file" else None
            if recording is not None:
                secs = ctx.media_seconds(ctx.asset(recording)) or Fraction(0)
                n = ctx.sample(secs)
            else:
                d = ctx.services.voice_duration(ctx.backend(voice_modality(voice)), spoken(item.text.text),
                                                voice.pitch, voice.rate, voice.lang)
                n = round(d * SAMPLE_RATE)
            lines.append(Line(spoken(item.text.text), name, line_count[name], cursor, n, voice, recording, item))
            cursor += n
        elif isinstance(item, ir.Action) and item.verb == "sings" and isinstance(item.target, ir.Word):
            rel_at, dur = timing(item.options, fps, clock)
            start = cursor + ctx.sample(rel_at)
            src = opt_seconds(item.options, "from", fps) or Fraction(0)
            length = ctx.sample(dur) if dur is not None else None
            sings.append(Sing(item.target.word, start, ctx.sample(src), length, item))
            if length is not None:
                cursor = start + length
    return lines, sings, cursor


def layout_flow(ctx: Context, scene: ir.Scene, flow_at: dict[int, Fraction] | None = None,
                clock: Clock | None = None) -> tuple[list[BeatLayout], list[ActionLayout]]:
    """The scene's beats and action lines on its timeline (LANGUAGE.md, "The flow"): untimed
    ones play in the order written, each starting when the one before ends plus the header's
    ``gap``; one with ``at T`` sits at T and the flow continues after it; a dual beat (``^``)
    starts with the beat before it, and the two stand left and right unless sides are given."""
    fps = ctx.fps
    gap = header_time(ctx, "gap", schema.DEFAULT_GAP)
    wpm = reading_rate(ctx)
    shown = action_default(ctx)
    beats: list[BeatLayout] = []
    actions: list[ActionLayout] = []
    beat_count: dict[str, int] = {}
    line_count: dict[str, int] = {}
    cursor = Fraction(0)  # where the flow is
    last: BeatLayout | None = None  # the previous beat (for ``^``)
    for item in scene.items:
        if isinstance(item, ir.Property) and flow_at is not None:
            flow_at[id(item)] = cursor  # where the next beat would start
            continue
        if isinstance(item, ir.ActionLine):
            at_o = option(item.options, "at")
            placed = seconds_of(at_o.value, fps, clock) if at_o is not None else None
            at = placed if placed is not None else cursor
            dur = seconds_of(opt_value(item.options, "for"), fps, clock, length=True)
            length = dur if dur is not None else reading_time(item.text.text, wpm)
            show = has_flag(item.options, "show") or shown
            position = flag(item.options, ("top", "center", "bottom", "left", "right"), "bottom")
            # a hidden line's fades are not read: the audit says they have no effect (W211)
            actions.append(ActionLayout(item, at, length, show, position, spoken(item.text.text),
                                        Fades.of(item.options, fps) if show else Fades()))
            cursor = at + length + gap
            continue
        if not isinstance(item, ir.Beat):
            continue
        name = item.character
        beat_count[name] = beat_count.get(name, 0) + 1
        voice = ctx.defs.voices.get(name, DEFAULT_VOICE)
        ledger.mark("rendered", voice.node)
        lines, sings, audio = beat_content(ctx, item, voice, line_count, clock)
        at_o = option(item.options, "at")
        placed = seconds_of(at_o.value, fps, clock) if at_o is not None else None
        timed = placed is not None
        if item.dual and last is not None:
            at = last.at
        elif placed is not None:
            at = placed
        else:
            at = cursor
        shot, side = shot_and_side(item)
        if item.dual and last is not None:
            sides = ("left", "center", "right")
            if not any(o.key in sides for o in last.beat.options) and last.side == "center":
                beats[-1] = last = replace(last, side="left")
            if not any(o.key in sides for o in item.options) and side == "center":
                side = "right"
            cursor = max(cursor - gap, at + Fraction(audio, SAMPLE_RATE)) + gap
        else:
            cursor = at + Fraction(audio, SAMPLE_RATE) + gap
        b = BeatLayout(item, name, beat_count[name], at, tuple(lines), tuple(sings), audio, shot, side,
                       flow=not timed, offscreen=offscreen(item))
        beats.append(b)
        last = b
    return beats, actions


def action_default(ctx: Context) -> bool:
    """The header's ``action: show`` draws every action line (``hide``, the default, draws only
    those marked ``show``)."""
    p = ctx.film.header.get("action")
    if p is not None and isinstance(p.value, ir.Word):
        ledger.mark("rendered", p)
        return p.value.word == "show"
    return False


def natural_end(directives: list[Directive], beats: list[BeatLayout],
                actions: list[ActionLayout] | None = None) -> Fraction:
    """The latest end of the scene's timed elements and of its flow (0 when none)."""
    end = Fraction(0)
    for d in directives:
        if d.dur is not None:
            end = max(end, d.at + d.dur)
    for b in beats:
        if b.audio:
            end = max(end, b.at + Fraction(b.audio, SAMPLE_RATE))
        elif b.flow:
            end = max(end, b.at)
    for a in actions or ():
        end = max(end, a.at + a.length)
    return end


def scene_duration(ctx: Context, scene: ir.Scene, directives: list[Directive], beats: list[BeatLayout],
                   actions: list[ActionLayout] | None = None) -> Fraction:
    explicit = seconds(scene.duration, ctx.fps) if scene.duration is not None else None
    if explicit is not None and explicit > 0:
        return explicit
    end = natural_end(directives, beats, actions)
    end = Fraction(math.ceil(end * ctx.fps), 1) / ctx.fps  # whole frames: never cut the last sample
    return max(schema.MIN_SCENE_SECONDS, end)


def credits_duration(ctx: Context, credits: ir.Credits) -> Fraction:
    explicit = seconds(credits.duration, ctx.fps) if credits.duration is not None else None
    if explicit is not None and explicit > 0:
        return explicit
    return max(schema.CREDITS_MIN_SECONDS, schema.CREDITS_SECONDS_PER_LINE * len(credits.lines))


def soundtrack_clock(ctx: Context, st: Soundtrack | None) -> tuple[Grid | None, Fraction, str]:
    """The soundtrack's grid, its ``from`` offset and its name (no grid: None)."""
    if st is None or not isinstance(st.sound.value, (ir.Word, ir.Str)):
        return None, Fraction(0), ""
    return ctx.cue_grid(st.sound.value), st.sound.source_from, f"the soundtrack {st.sound.what}"


def cuts_unit(ctx: Context) -> str | None:
    """``cuts: on beat`` / ``on bar``: the unit scene boundaries snap to (None: no snapping)."""
    p = ctx.film.header.get("cuts")
    if p is None or not isinstance(p.value, ir.Phrase):
        return None
    words = [x.word for x in p.value.items if isinstance(x, ir.Word)]
    if words[:1] == ["on"] and words[1:] in (["beat"], ["bar"]):
        ledger.mark("rendered", p)
        return words[1]
    return None


def scene_clock(ctx: Context, scene: ir.Scene, start: Fraction, soundtrack: tuple[Grid | None, Fraction, str]) -> Clock:
    """The grid a scene's ``at bar 5`` counts on: its first ``music:`` cue (placed at its
    ``at``, less its ``from``), else the soundtrack (which starts with the film)."""
    for d in scene.directives:
        if d.key == "music" and isinstance(d.value, (ir.Word, ir.Str)):
            at_v = opt_value(d.options, "at")
            at = at_v.seconds(ctx.fps) if isinstance(at_v, ir.Time) else Fraction(0)
            offset = seconds(opt_value(d.options, "from"), ctx.fps) or Fraction(0)
            name = d.value.word if isinstance(d.value, ir.Word) else d.value.text
            return Clock(ctx.cue_grid(d.value), at - offset, f"the cue {name}")
    grid, offset, name = soundtrack
    return Clock(grid, -start - offset, name)


def snap(start: Fraction, duration: Fraction, soundtrack: tuple[Grid | None, Fraction, str], unit: str) -> Fraction:
    """``cuts: on beat|bar``: the scene's end moved to the nearest beat or bar line of the
    soundtrack (film time ``t`` is soundtrack time ``t + from``), by at most half a beat or bar
    and never to nothing. Exact: the line's time is a Fraction, so the boundary lands on the frame
    nearest it at any frame rate."""
    grid, offset, _ = soundtrack
    assert grid is not None
    every = grid.meter[0] if unit == "bar" else 1
    step = grid.beat_seconds * every
    t = start + duration + offset  # the boundary, in soundtrack time
    k = max(0, math.floor((t - grid.first) / step + Fraction(1, 2))) * every
    best = grid.beat_time(k)
    for cand in (grid.beat_time(k - every) if k >= every else None, grid.beat_time(k + every)):
        if cand is not None and abs(cand - t) < abs(best - t):
            best = cand
    new = best - offset - start
    if new <= 0 or abs(best - t) > step / 2:
        return duration
    return new


def spans(beats: list[BeatLayout], duration: Fraction) -> tuple[BeatLayout, ...]:
    """The beats with their spans: a beat's span (where the character is on screen) ends where
    the same character's next beat starts, or at the scene's end; a beat in the flow also gives
    way to the next beat in the flow that is seen (a cut to the next speaker; not to its dual
    partner, nor to a voice off screen)."""
    out = []
    for i, b in enumerate(beats):
        end = duration
        for later in beats[i + 1:]:
            if later.character == b.character and later.at > b.at and not later.offscreen:
                end = min(end, later.at)
                break
        if b.flow:
            for later in beats[i + 1:]:
                if later.flow and not later.offscreen and not later.beat.dual and later.at > b.at:
                    end = min(end, later.at)
                    break
        out.append(replace(b, end=max(b.at, min(end, duration))))
    return tuple(out)


def layout(ctx: Context) -> Layout:
    """Place every scene, transition and the credits on the timeline."""
    body = ctx.film.body
    scenes = [i for i in body if isinstance(i, ir.Scene)]
    idents = dict(zip(map(id, scenes), scene_identities(scenes), strict=True))
    tracks: list[TrackLayout] = []
    overlaps: list[OverlapLayout] = []
    pending_fade_in = Fraction(0)
    pending_white = False
    cuts = cuts_unit(ctx)
    pending_node: ir.Transition | None = None
    pending_overlap: tuple[str, Fraction] | None = None
    credits_n = 0
    st = soundtrack(ctx.film, ctx.fps)
    soundtrack_grid = soundtrack_clock(ctx, st)
    for item in body:
        if isinstance(item, ir.Transition):
            spec = schema.transition(" ".join(item.kind.split()))
            kind = spec.name if spec is not None else "CUT TO"
            d = seconds(item.duration, ctx.fps) if item.duration is not None else None
            if d is None:  # the transition's own default (every one that takes a time has one)
                d = spec.default if spec is not None and spec.default is not None else schema.DEFAULT_FADE
            ledger.mark("rendered", item)
            if kind in FADE_IN_KINDS:
                pending_fade_in = d
            elif kind in FADE_OUT_KINDS:
                if tracks:
                    tracks[-1] = replace(tracks[-1], fade_out=min(d, tracks[-1].duration))
            elif kind in FADE_THROUGH_KINDS:  # half out of the scene before, half into the next
                white = kind == "FADE TO WHITE"
                if tracks:
                    tracks[-1] = replace(tracks[-1], fade_out=min(d / 2, tracks[-1].duration), fade_out_white=white)
                pending_fade_in, pending_white = d / 2, white
            elif kind in OVERLAP_KINDS and tracks:
                pending_overlap = (OVERLAP_KINDS[kind], d)
                pending_node = item
            continue
        if isinstance(item, ir.Scene):
            start = Fraction(0)
            if tracks:
                start = tracks[-1].end - (pending_overlap[1] if pending_overlap is not None else 0)
            clock = scene_clock(ctx, item, start, soundtrack_grid)
            flow_at: dict[int, Fraction] = {}
            beats, actions = layout_flow(ctx, item, flow_at, clock)
            directives = scene_directives(ctx, item, flow_at, clock)
            duration = scene_duration(ctx, item, directives, beats, actions)
            if cuts is not None and soundtrack_grid[0] is not None:
                duration = snap(start, duration, soundtrack_grid, cuts)
            track = TrackLayout(len(tracks), item, idents[id(item)], scene_title(item), Fraction(0), duration,
                                spans(beats, duration), tuple(actions), tuple(directives), place=scene_place(item),
                                clock=clock)
        elif isinstance(item, ir.Credits):
            credits_n += 1
            ident = "credits" if credits_n == 1 else f"credits ({credits_n})"
            track = TrackLayout(len(tracks), item, ident, "CREDITS" + (f" {item.alphabet}" if item.alphabet else ""),
                                Fraction(0), credits_duration(ctx, item), roll=roll(item, ctx.fps))
        else:
            continue
        if tracks:
            prev = tracks[-1]
            track = replace(track, start=prev.end)
            if pending_overlap is not None:
                kind, d = pending_overlap
                if cuts is not None and d > min(prev.duration, track.duration) and pending_node is not None:
                    ledger.warn(error("E706", f"on the {cuts} grid a scene is shorter than this transition "
                                              f"({float(min(prev.duration, track.duration)):.2f}s < {float(d):g}s)",
                                      pending_node.span, "shorten the transition, or lengthen the scene by a "
                                      f"{cuts} or more"))
                d = min(d, prev.duration, track.duration)  # longer is an error (checker)
                track = replace(track, start=prev.end - d)
                if d > 0:
                    overlaps.append(OverlapLayout(kind, prev.index, track.index, d))
        track = replace(track, fade_in=min(pending_fade_in, track.duration), fade_in_white=pending_white)
        pending_fade_in, pending_white = Fraction(0), False
        pending_overlap = None
        tracks.append(track)
    lay = Layout(tuple(tracks), tuple(overlaps), st, subtitle_mode(ctx), duck_db(ctx))
    return replace(lay, music_need=music_needs(lay))


def scene_directives(ctx: Context, scene: ir.Scene, flow_at: dict[int, Fraction], clock: Clock | None
                     ) -> list[Directive]:
    """The scene's directives typed, in the order written (each the ``n``-th of its key)."""
    out: list[Directive] = []
    counts: dict[str, int] = {}
    for item in scene.items:
        if isinstance(item, ir.Property):
            counts[item.key] = counts.get(item.key, 0) + 1
            d = directive(item, counts[item.key], ctx.fps, flow_at, clock)
            if d is not None:
                out.append(d)
    return out


def scene_place(scene: ir.Scene) -> tuple[str, str] | None:
    """A scene without a backdrop whose Fountain heading names a place (``INT. CATHEDRAL -
    NIGHT``): the place and the time of day (None otherwise)."""
    if scene.heading.style != "fountain" or any(i.key == "backdrop" for i in scene.directives):
        return None
    return schema.heading_place(scene.heading.title)


def subtitle_mode(ctx: Context) -> tuple[str, str | None] | None:
    """The title page's ``subtitles``: ``plain``, an alphabet's name, or ``off`` (None)."""
    p = ctx.film.header.get("subtitles")
    if p is None or not isinstance(p.value, (ir.Word, ir.Str)):
        return None
    ledger.mark("rendered", p)
    word = p.value.word if isinstance(p.value, ir.Word) else p.value.text
    if word == "off":
        return None
    if word == "plain":
        return ("plain", None)
    return ("alphabet", word)


def duck_db(ctx: Context) -> float:
    """How far music dips under dialogue: the title page's ``duck``, else the schema's default."""
    duck = ctx.film.header.get("duck")
    if duck is not None and isinstance(duck.value, ir.Gain):
        ledger.mark("rendered", duck)
        return float(duck.value.db)
    return float(DEFAULT_DUCK_DB)


def music_needs(lay: Layout) -> dict[str, Fraction]:
    """Seconds of each cue the film uses (its longest use, from its ``from`` offset)."""
    need: dict[str, Fraction] = {}

    def use(cue: str, seconds: Fraction) -> None:
        need[cue] = max(need.get(cue, Fraction(0)), seconds)

    st = lay.soundtrack
    if st is not None and isinstance(st.sound.value, ir.Word):
        use(st.sound.value.word, st.sound.source_from + lay.duration)
    for t in lay.tracks:
        for d in t.directives:
            if isinstance(d, Cue) and isinstance(d.sound.value, ir.Word):
                use(d.sound.value.word,
                    d.sound.source_from + (d.dur if d.dur is not None else max(Fraction(0), t.duration - d.at)))
        for b in t.beats:
            span = (b.end or b.at) - b.at
            for sing in b.sings:
                length = Fraction(sing.samples, SAMPLE_RATE) if sing.samples is not None else span
                use(sing.cue, Fraction(sing.source_offset, SAMPLE_RATE) + length)
    return need
