"""``nyeshc conform``: an editor's cut of an exported film, brought back into the script.

This file is long (about 600 lines) on purpose: one comparison: reading an editor's timeline
back, matching its clips to the plan's layers, and writing each difference as an edit of the
script with the span it came from; the three share the matching's bookkeeping.

The edited timeline (``.otio``, FCP 7 ``.xml`` or CMX ``.edl``, all read through OTIO) is
compared with the plan of the script it was exported from, and the differences become edits
of the script's text, each on the span of the token it changes, so a ``git diff`` shows only
what the editor changed:

* **scene durations**: each scene's extent in the cut (its clips on the first video track, the
  film's cut; other tracks for a scene with no backdrop), with the overlaps of the transitions
  on either side, as nyeshc counts a scene;
* **the order of scenes**: scene blocks are moved as text (comments inside go with them); the
  transition lines stay between the slots;
* **transitions**: a dissolve between two scenes is ``CROSSFADE TO`` (``MORPH TO`` when it was
  one), its length the overlap; two scenes that now just meet are ``CUT TO``;
* **a line's start**: a beat's first dialogue line moved within its scene sets the beat's
  ``at``;
* **music cues**: a ``music:`` cue moved sets its ``at``; an *Audio Levels* gain sets ``gain``.

A scene fade's matte (the ``Fades`` track) is recognised as the film's own; a fade whose
length the editor changed is listed, not mapped. Anything else that differs (a clip from outside the film, an effect nyeshc does not know, a
later line of a beat moved, a caption moved, a gap between scenes, a scene left out) is listed
in :attr:`Conformed.unmapped`, never dropped silently. The script must be the one the export
was made from: its SHA-256 is recorded in the export (the ``.otio`` metadata, a sequence
marker in FCP XML, a comment in each EDL) and :func:`conform` refuses a script that changed.
When the script was canonical (``nyeshc fmt`` leaves it unchanged) the result is formatted by
the same comment-keeping printer, so inserted options land in their canonical place.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from nyeshc import ir
from nyeshc.export.otio import NAMESPACE, require_otio, script_hash
from nyeshc.plan.model import Plan

__all__ = ["ConformError", "Conformed", "conform", "read_cut", "HASH_MARKER", "format_time"]

HASH_MARKER = "nyeshc script sha256 "  # the name of the FCP XML marker that carries the hash
_EDL_HASH = re.compile(r"^\* NYESHC SCRIPT SHA256: ([0-9a-f]{64})\s*$", re.MULTILINE)
# an event line: number, reel, channels, kind (and a length for a dissolve), then four timecodes
_EDL_EVENT = re.compile(r"^\d{3,}\s+\S+\s+\S+\s+[A-Z]+(?:\s+\d+)?\s+\S+\s+\S+\s+(\d\d:\d\d:\d\d[:;]\d\d)\s",
                        re.MULTILINE)
_NAME_ROLE = re.compile(r"^(?P<label>.*) / (?P<role>backdrop|video|portrait|morph|caption|subtitle|credits"
                        r"|fade (?:in|out) (?:black|white))$")
_LINE = re.compile(r"^(?P<scene>.*) / (?P<who>[^/]+) / line (?P<n>\d+)$")
_MUSIC = re.compile(r"^(?P<scene>.*) / music (?P<what>.+)$")


class ConformError(Exception):
    """The cut cannot be conformed (the message says why); nothing was written."""


@dataclass
class Conformed:
    text: str
    changes: list[str] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- the cut


@dataclass
class _Clip:
    name: str
    track: str
    kind: str  # "video" or "audio"
    start: Fraction  # record time, seconds
    end: Fraction
    meta: dict[str, Any]
    effects: list[dict[str, Any]]
    before: tuple[str, Fraction, Fraction] | None = None  # a transition into it: (name, in, out) seconds
    after: tuple[str, Fraction, Fraction] | None = None
    primary: bool = False


@dataclass
class _Cut:
    clips: list[_Clip]
    script_sha256: str | None
    fps: Fraction


def _sec(t: Any) -> Fraction:
    return Fraction(str(t.value)) / Fraction(str(t.rate))


def read_cut(path: str | Path, fps: Fraction) -> _Cut:
    """The edited timeline at ``path`` as clips with record times; an ``.edl`` reads its sibling
    lists (``STEM.TRACK.edl``) too."""
    otio = require_otio()
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in (".otio", ".otioz", ".xml", ".edl"):
        raise ConformError(f"{p.name}: not a timeline nyeshc reads (.otio, .otioz, .xml, .edl)")
    if not p.is_file():
        raise ConformError(f"{p} not found")
    timelines: list[tuple[str, Any]] = []
    digest: str | None = None
    try:
        if suffix == ".edl":
            siblings = [p] + sorted(q for q in p.parent.glob(f"{p.stem}.*.edl") if q != p)
            for q in siblings:
                text = q.read_text(encoding="utf-8", errors="replace")
                m = _EDL_HASH.search(text)
                digest = digest or (m.group(1) if m else None)
                t = otio.adapters.read_from_string(text, adapter_name="cmx_3600", rate=float(fps))
                # the reader starts each list at its first event's record in: put that back
                first = _EDL_EVENT.search(text)
                if first is not None:
                    rec_in = otio.opentime.from_timecode(first.group(1), float(fps))
                    t.global_start_time = otio.opentime.RationalTime(rec_in.value, rec_in.rate)
                timelines.append((q.name, t))
        else:
            t = otio.adapters.read_from_file(str(p))
            if isinstance(t, otio.schema.SerializableCollection):
                t = next(iter(t.find_children(descended_from_type=otio.schema.Timeline)), None) or t
            timelines.append((p.name, t))
            digest = (t.metadata.get(NAMESPACE) or {}).get("script_sha256")
            for m in t.tracks.markers:
                if m.name.startswith(HASH_MARKER):
                    digest = digest or m.name[len(HASH_MARKER):].strip()
    except ConformError:
        raise
    except Exception as exc:  # noqa: BLE001 - an adapter's parse error, with its own message
        raise ConformError(f"{p.name}: could not read the timeline: {exc}") from exc
    clips: list[_Clip] = []
    first_video = True
    for _, t in timelines:
        # an EDL's record times count from its first event's (the reader's global start)
        origin = _sec(t.global_start_time) if t.global_start_time is not None else Fraction(0)
        for track in t.tracks:
            kind = "audio" if track.kind == otio.schema.TrackKind.Audio else "video"
            primary = kind == "video" and first_video and any(isinstance(c, otio.schema.Clip) for c in track)
            if primary:
                first_video = False
            items = list(track)
            for i, item in enumerate(items):
                if not isinstance(item, otio.schema.Clip):
                    continue
                r = track.range_of_child_at_index(i)
                clip = _Clip(item.name or "", track.name or kind, kind, origin + _sec(r.start_time),
                             origin + _sec(r.start_time) + _sec(r.duration), _plain(item.metadata.get(NAMESPACE) or {}),
                             _effects(item), primary=primary)
                reel = (item.metadata.get("cmx_3600") or {}).get("reel")
                if reel:
                    clip.meta.setdefault("reel", str(reel).strip())
                if i > 0 and isinstance(items[i - 1], otio.schema.Transition):
                    tr = items[i - 1]
                    clip.before = (tr.name, _sec(tr.in_offset), _sec(tr.out_offset))
                if i + 1 < len(items) and isinstance(items[i + 1], otio.schema.Transition):
                    tr = items[i + 1]
                    clip.after = (tr.name, _sec(tr.in_offset), _sec(tr.out_offset))
                    clip.meta.setdefault("_after_kind", ((tr.metadata.get(NAMESPACE) or {}).get("kind")))
                clips.append(clip)
    return _Cut(clips, digest, fps)


def _plain(x: Any) -> Any:
    """OTIO's AnyDictionary / AnyVector as plain Python (they die with their object)."""
    if hasattr(x, "items"):
        return {str(k): _plain(v) for k, v in x.items()}
    if not isinstance(x, (str, bytes)) and hasattr(x, "__iter__"):
        return [_plain(v) for v in x]
    return x


def _effects(item: Any) -> list[dict[str, Any]]:
    """A clip's effects as xmeml-like dicts: those the fcp adapter read (``item.effects``) and,
    for an ``.otio``, the filters nyeshc wrote into ``metadata["fcp_xml"]``."""
    out: list[dict[str, Any]] = []
    for e in item.effects:
        md = _plain(e.metadata.get("fcp_xml") or {})
        md.setdefault("name", e.effect_name or e.name)
        out.append(md)
    filters = _plain((item.metadata.get("fcp_xml") or {}).get("filter", []) or [])
    for f in [filters] if isinstance(filters, dict) else filters:
        eff = f.get("effect") if isinstance(f, dict) else None
        if eff is not None:
            out.append(eff)
    return out


# --------------------------------------------------------------------------- times


def format_time(seconds: Fraction, fps: Fraction) -> str:
    """A time as the language writes it: ``4s``, ``3.5s``, ``250ms``; whole frames (``37f``)
    when no millisecond count is exact."""
    ms = seconds * 1000
    if ms.denominator == 1:
        ms_i = int(ms)
        if ms_i % 1000 == 0:
            return f"{ms_i // 1000}s"
        if abs(ms_i) < 1000:
            return f"{ms_i}ms"
        return f"{ms_i / 1000:g}s" if len(f"{ms_i / 1000:g}") < 12 else f"{ms_i}ms"
    frames = seconds * fps
    if frames.denominator == 1:
        return f"{int(frames)}f"
    return f"{round(float(ms))}ms"


def _gain_text(db: float) -> str:
    return f"{round(db, 1):g}dB"


# --------------------------------------------------------------------------- conform


@dataclass
class _Slot:
    item: ir.Scene | ir.Credits
    index: int  # the plan's scene index
    block: tuple[int, int]  # text offsets of the item's lines (whole lines)


def _line_start(text: str, at: int) -> int:
    return text.rfind("\n", 0, at) + 1


def _line_end(text: str, at: int) -> int:
    n = text.find("\n", at)
    return len(text) if n < 0 else n + 1


def _option(options: tuple[ir.Option, ...], key: str) -> ir.Option | None:
    return next((o for o in options if o.key == key), None)


def conform(text: str, film: ir.Film, plan: Plan, cut: _Cut, *, label: str = "") -> Conformed:
    """``text`` (the script ``film`` was read from, planned as ``plan``) rewritten to match
    ``cut``. Raises :class:`ConformError` when the script is not the one exported."""
    if cut.script_sha256 is None:
        raise ConformError(f"{label or 'the timeline'} carries no script hash: it was not exported by this "
                           "nyeshc (or the editor dropped the hash marker); export again and edit that")
    if cut.script_sha256 != script_hash(text):
        raise ConformError("the script changed since the export (its SHA-256 differs from the one the timeline "
                           "records): conform the cut into the script it was made from, or export again")
    from nyeshc.resolve.timeline import scene_identities

    tl = plan.timeline
    fps = Fraction(tl.fps)
    sr = tl.sample_rate
    frame = Fraction(1) / fps
    result = Conformed(text)
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement) in the original text
    # plan scene index -> body item (scenes and credits, in order)
    tracks = [i for i in film.body if isinstance(i, (ir.Scene, ir.Credits))]
    if len(tracks) != len(tl.scenes):
        raise ConformError("the plan's scenes do not match the script's (an include defines scenes?)")
    scenes_ir = [i for i in film.body if isinstance(i, ir.Scene)]
    idents = dict(zip(scene_identities(scenes_ir), scenes_ir, strict=True))
    labels: dict[str, list[int]] = {}
    from nyeshc.export.otio import scene_label

    for s in tl.scenes:
        labels.setdefault(scene_label(s), []).append(s.index)
        labels.setdefault(s.title, []).append(s.index)
    old = {s.index: (Fraction(s.start) / fps, Fraction(s.end) / fps) for s in tl.scenes}

    # ---- which scene each video clip belongs to
    def scene_of(c: _Clip) -> int | None:
        if "scene" in c.meta and isinstance(c.meta["scene"], int):
            return int(c.meta["scene"])
        if c.meta.get("kind") == "morph":
            return None
        reel = str(c.meta.get("reel", ""))
        m = re.fullmatch(r"S(\d\d)(BG|VD|PT|CP|SB|CR|FI|FO)\d+", reel)
        if m:
            return int(m.group(1)) - 1
        m2 = _NAME_ROLE.match(c.name)
        if m2 and m2.group("label") in labels and len(set(labels[m2.group("label")])) == 1:
            return labels[m2.group("label")][0]
        return None

    def is_morph(c: _Clip) -> bool:
        return c.meta.get("kind") == "morph" or c.name.startswith("morph ") or \
            bool(re.fullmatch(r"S\d\dMO\d+", str(c.meta.get("reel", ""))))

    def scene_extent(c: _Clip, s: int) -> tuple[Fraction, Fraction]:
        """The scene's extent as this clip implies it: the clip's own range widened by the
        transitions on either side, then by how far its layer began after the scene's start
        and ended before its end (a layer nyeshc named; a named-only clip spans its scene)."""
        start = c.start - (c.before[1] if c.before else 0)
        end = c.end + (c.after[2] if c.after else 0)
        layer = c.meta.get("layer")
        scene = tl.scenes[s]
        if isinstance(layer, int) and 0 <= layer < len(scene.layers):
            L = scene.layers[layer]
            start -= Fraction(L.start - scene.start) / fps
            end += Fraction(scene.end - L.end) / fps
        return start, end

    extents: dict[int, tuple[Fraction, Fraction]] = {}
    fallback: dict[int, tuple[Fraction, Fraction]] = {}
    video = [c for c in cut.clips if c.kind == "video"]
    placed: list[tuple[_Clip, int]] = []
    for c in video:
        s = scene_of(c)
        if s is None:
            if not is_morph(c):
                result.unmapped.append(f"clip {c.name or '(unnamed)'!r} on {c.track} at {float(c.start):.3f}s is "
                                       "not from this film: left out of the script")
            continue
        if s not in old:
            result.unmapped.append(f"clip {c.name!r} names scene {s + 1}, which the script does not have")
            continue
        placed.append((c, s))
        role = c.meta.get("role") or c.meta.get("kind") or (_NAME_ROLE.match(c.name) or [None, None, ""])[2]
        if str(role).startswith("fade"):  # a scene fade's matte (Fades track): its length is the fade's
            which = c.meta.get("fade") or str(role).split()[1]
            n = tl.scenes[s].fade_in if which == "in" else tl.scenes[s].fade_out
            if abs((c.end - c.start) * fps - n) >= Fraction(1, 2):
                result.unmapped.append(f"{c.name!r} lasts {float(c.end - c.start):.3f}s, the script's fade "
                                       f"{format_time(Fraction(n) / fps, fps)}: fade lengths do not map back; not mapped")
            continue
        if not c.primary and role not in ("still", "backdrop", "credits", "video", "morph"):
            continue  # a caption or portrait does not say how long its scene is
        start, end = scene_extent(c, s)
        table = extents if c.primary else fallback
        a, b = table.get(s, (start, end))
        table[s] = (min(a, start), max(b, end))
        for e in c.effects:
            eid = str(e.get("effectid", "")).lower()
            if eid not in ("opacity", "basic"):
                result.unmapped.append(f"effect {e.get('name') or eid!r} on {c.name!r}: nyeshc has no such effect; "
                                       "not mapped")
    for s, ext in fallback.items():
        extents.setdefault(s, ext)
    missing = [s for s in old if s not in extents]
    for s in missing:
        result.unmapped.append(f"{tl.scenes[s].title or f'scene {s + 1}'} is not in the cut: left in the script "
                               "(delete it there if it is meant to go)")
        extents[s] = old[s]  # keeps its place and length
    shift = {s: extents[s][0] - old[s][0] for s in old}
    for c, s in placed:  # a caption or portrait moved within its scene: not mapped
        if isinstance(c.meta.get("layer"), int):
            start, _ = scene_extent(c, s)
            if abs(start - extents[s][0]) >= frame / 2:
                result.unmapped.append(f"{c.name!r} moved {float(start - extents[s][0]):+.3f}s within its scene: "
                                       "not mapped (only scenes, transitions, lines and music cues are)")

    # ---- order, durations, transitions
    order = sorted((s for s in old if s not in missing), key=lambda s: (extents[s][0], old[s][0]))
    for s in sorted(missing):  # a scene left out keeps its place after the scene it followed
        order.insert(order.index(s - 1) + 1 if s - 1 in order else 0, s)
    slots = []
    for i, item in enumerate(tracks):
        start = _line_start(text, item.span.start)
        end = _line_end(text, max(item.span.end - 1, item.span.start))
        slots.append(_Slot(item, i, (start, end)))
    if order != list(range(len(tracks))):
        result.changes.append("scene order: " + ", ".join(str(s + 1) for s in order))
    for s in order:
        a, b = extents[s]
        new_len, old_len = b - a, old[s][1] - old[s][0]
        if abs(new_len - old_len) >= frame / 2:
            item = tracks[s]
            what = format_time(new_len, fps)
            if item.duration is not None and item.duration.span.end > item.duration.span.start:
                edits.append((item.duration.span.start, item.duration.span.end, what))
            elif isinstance(item, ir.Scene):
                edits.append((item.heading.span.end, item.heading.span.end, f", {what}"))
            else:  # credits without a duration: after the alphabet or the word
                at = item.alphabet_span.end if item.alphabet else item.span.start + len("CREDITS")
                edits.append((at, at, f", {what}"))
            result.changes.append(f"{tl.scenes[s].title}: {format_time(old_len, fps)} -> {what}")

    body = list(film.body)
    positions = [body.index(t) for t in tracks]  # body index of each slot
    overlap_kind = {"CROSSFADE TO", "MORPH TO"}
    old_links = {(ov.a, ov.b): ov for ov in tl.overlaps}
    insertions: dict[int, str] = {}  # slot index k -> a transition line to insert before slot k
    for k in range(1, len(order)):
        a, b = order[k - 1], order[k]
        if a in missing or b in missing:
            continue  # nothing in the cut says how a scene left out joins its neighbours
        ea, eb = extents[a], extents[b]
        overlap = ea[1] - eb[0]
        between = [x for x in body[positions[k - 1] + 1:positions[k]] if isinstance(x, ir.Transition)]
        joining = next((x for x in between if " ".join(x.kind.split()) in overlap_kind), None)
        if overlap < -frame / 2:
            result.unmapped.append(f"a gap of {float(-overlap):.3f}s before {tl.scenes[b].title}: scenes meet or "
                                   "overlap in nyeshc (a fade is a transition); not mapped")
            continue
        was = old_links.get((a, b))
        if overlap >= frame / 2:
            morph = was is not None and was.kind == "morph"
            kind = "MORPH TO" if morph else "CROSSFADE TO"
            length = format_time(overlap, fps)
            if joining is not None:
                old_len = Fraction(was.end - was.start) / fps if was is not None else None
                if old_len is None or abs(old_len - overlap) >= frame / 2 or " ".join(joining.kind.split()) != kind:
                    if " ".join(joining.kind.split()) != kind:
                        edits.append((joining.span.start, joining.span.start + len(joining.kind) + 1, f"{kind}:"))
                    if joining.duration is not None:
                        edits.append((joining.duration.span.start, joining.duration.span.end, length))
                    else:
                        at = joining.span.start + len(joining.kind) + 1
                        edits.append((at, at, f" {length}"))
                    result.changes.append(f"{kind} {a + 1} -> {b + 1}: {length}")
            else:
                cut_word = next((x for x in between if " ".join(x.kind.split()) == "CUT TO"), None)
                if cut_word is not None:
                    edits.append((cut_word.span.start, cut_word.span.end, f"{kind}: {length}"))
                else:
                    insertions[k] = f"{kind}: {length}\n\n"
                result.changes.append(f"{kind} {a + 1} -> {b + 1}: {length}")
        elif joining is not None:
            edits.append((joining.span.start, joining.span.end, "CUT TO:"))
            result.changes.append(f"cut {a + 1} -> {b + 1} (was {joining.kind})")

    # ---- dialogue lines and music cues
    audio_old = {c.name: c for c in tl.audio}
    for c in (x for x in cut.clips if x.kind == "audio"):
        clip = audio_old.get(c.name)
        if clip is None and isinstance(c.meta.get("clip"), int) and 0 <= c.meta["clip"] < len(tl.audio):
            clip = tl.audio[c.meta["clip"]]
        if clip is None:
            result.unmapped.append(f"audio clip {c.name or '(unnamed)'!r} on {c.track} at {float(c.start):.3f}s is "
                                   "not from this film: left out of the script")
            continue
        scene_i = next((s.index for s in tl.scenes if clip.name.startswith(_ident_of(s, idents, tracks) + " / ")),
                       None) if clip.role in ("dialogue", "music") else None
        old_start = Fraction(clip.start, sr)
        expected = old_start + (shift[scene_i] if scene_i is not None else 0)
        moved = c.start - expected
        tolerance = frame / 2 if c.start.denominator % sr else Fraction(1, sr)
        if abs(moved) > tolerance:
            if scene_i is None:
                result.unmapped.append(f"{clip.name!r} moved by {float(moved):+.3f}s: only a scene's music cues and "
                                       "lines map back; not mapped")
            elif clip.role == "dialogue":
                _move_line(clip.name, moved, old_start - old[scene_i][0], idents, fps, edits, result)
            else:
                _move_cue(clip.name, moved, old_start - old[scene_i][0], idents, fps, edits, result)
        n = c.end - c.start
        if abs(n - Fraction(clip.length, sr)) > frame and clip.role == "dialogue":
            result.unmapped.append(f"{clip.name!r} trimmed to {float(n):.3f}s: a line lasts as its voice does; "
                                   "not mapped")
        gain = _gain_of(c)
        if gain is not None and abs(gain - clip.gain_db) > 0.05:
            if clip.role == "music" and scene_i is not None:
                _set_gain(clip.name, gain, idents, edits, result)
            else:
                result.unmapped.append(f"{clip.name!r}: level {gain:+.1f} dB: only a scene's music cue gain maps "
                                       "back; not mapped")
        for e in c.effects:
            if str(e.get("effectid", "")).lower() != "audiolevels":
                result.unmapped.append(f"effect {e.get('name') or e.get('effectid')!r} on {c.name!r}: not mapped")

    result.text = _apply(text, edits, slots, order, insertions)
    return result


def _ident_of(s: Any, idents: dict[str, ir.Scene], tracks: list[Any]) -> str:
    item = tracks[s.index]
    for name, scene in idents.items():
        if scene is item:
            return name
    return "credits"


def _beat_for_line(scene: ir.Scene, who: str, n: int) -> tuple[ir.Beat, bool, bool] | None:
    """The beat holding ``who``'s ``n``-th line of the scene; whether it is the beat's first line;
    whether a pause comes before it in the beat."""
    count = 0
    for beat in scene.beats:
        if beat.character != who:
            continue
        first = True
        paused = False
        for line in beat.lines:
            if isinstance(line, ir.Parenthetical) and line.pause is not None:
                paused = True
            if isinstance(line, ir.Dialogue):
                count += 1
                if count == n:
                    return beat, first, paused
                first = False
    return None


def _at_value(options: tuple[ir.Option, ...], fps: Fraction) -> tuple[ir.Option | None, Fraction | None]:
    o = _option(options, "at")
    if o is None:
        return None, None
    if isinstance(o.value, ir.Time):
        return o, o.value.seconds(fps)
    return o, None


def _move_line(name: str, moved: Fraction, in_scene: Fraction, idents: dict[str, ir.Scene], fps: Fraction,
               edits: list[tuple[int, int, str]], result: Conformed) -> None:
    m = _LINE.match(name)
    scene = idents.get(m.group("scene")) if m else None
    found = _beat_for_line(scene, m.group("who"), int(m.group("n"))) if m and scene is not None else None
    if found is None:
        result.unmapped.append(f"{name!r} moved by {float(moved):+.3f}s: its beat was not found; not mapped")
        return
    beat, first, paused = found
    if not first:
        result.unmapped.append(f"{name!r} moved by {float(moved):+.3f}s: only a beat's first line sets its `at`; "
                               "not mapped")
        return
    opt, at = _at_value(beat.options, fps)
    if opt is not None and at is None:
        result.unmapped.append(f"{name!r} moved by {float(moved):+.3f}s: its beat is placed on the music grid; "
                               "not mapped")
        return
    if at is None and paused:
        result.unmapped.append(f"{name!r} moved by {float(moved):+.3f}s: a pause comes first in its beat; not mapped")
        return
    new = (at if at is not None else in_scene) + moved
    new = Fraction(round(new * 1000), 1000)
    if new < 0:
        result.unmapped.append(f"{name!r} moved before its scene's start; not mapped")
        return
    text = format_time(new, fps)
    if opt is not None and opt.value is not None:
        edits.append((opt.value.span.start, opt.value.span.end, text))  # type: ignore[union-attr]
    else:
        at_ = beat.extension_span.end if beat.extension is not None else beat.name_span.end
        edits.append((at_, at_, f", at {text}"))
    result.changes.append(f"{name}: at {text}")


def _cue_directive(name: str, idents: dict[str, ir.Scene]) -> ir.Property | None:
    m = _MUSIC.match(name)
    scene = idents.get(m.group("scene")) if m else None
    if scene is None or m is None:
        return None
    for d in scene.directives:
        v = d.value
        word = v.word if isinstance(v, ir.Word) else v.text if isinstance(v, ir.Str) else None
        if d.key == "music" and word == m.group("what"):
            return d
    return None


def _move_cue(name: str, moved: Fraction, in_scene: Fraction, idents: dict[str, ir.Scene], fps: Fraction,
              edits: list[tuple[int, int, str]], result: Conformed) -> None:
    d = _cue_directive(name, idents)
    if d is None or d.value is None:
        result.unmapped.append(f"{name!r} moved by {float(moved):+.3f}s: its cue was not found; not mapped")
        return
    opt, at = _at_value(d.options, fps)
    if opt is not None and at is None:
        result.unmapped.append(f"{name!r} moved by {float(moved):+.3f}s: the cue is placed on the music grid; "
                               "not mapped")
        return
    new = Fraction(round(((at if at is not None else in_scene) + moved) * 1000), 1000)
    if new < 0:
        result.unmapped.append(f"{name!r} moved before its scene's start; not mapped")
        return
    text = format_time(new, fps)
    if opt is not None and opt.value is not None:
        edits.append((opt.value.span.start, opt.value.span.end, text))  # type: ignore[union-attr]
    else:
        edits.append((d.value.span.end, d.value.span.end, f", at {text}"))
    result.changes.append(f"{name}: at {text}")


def _set_gain(name: str, gain: float, idents: dict[str, ir.Scene], edits: list[tuple[int, int, str]],
              result: Conformed) -> None:
    d = _cue_directive(name, idents)
    if d is None or d.value is None:
        result.unmapped.append(f"{name!r}: level {gain:+.1f} dB: its cue was not found; not mapped")
        return
    opt = _option(d.options, "gain")
    text = _gain_text(gain)
    if opt is not None and opt.value is not None:
        edits.append((opt.value.span.start, opt.value.span.end, text))
    else:
        edits.append((d.value.span.end, d.value.span.end, f", gain {text}"))
    result.changes.append(f"{name}: gain {text}")


def _gain_of(c: _Clip) -> float | None:
    """The clip's *Audio Levels* level in dB (its parameter's value; keyframes are fades)."""
    for e in c.effects:
        if str(e.get("effectid", "")).lower() != "audiolevels":
            continue
        params = e.get("parameter")
        params = [params] if hasattr(params, "get") else list(params or [])
        for p in params:
            if str(p.get("parameterid", "")).lower() == "level" and p.get("value") is not None:
                try:
                    level = float(p["value"])
                except (TypeError, ValueError):
                    return None
                return -120.0 if level <= 0 else 20 * math.log10(level)
    return None


def _apply(text: str, edits: list[tuple[int, int, str]], slots: list[_Slot], order: list[int],
           insertions: dict[int, str]) -> str:
    """The edits applied, then the scene blocks permuted into ``order`` (each slot of the text
    takes the block of the scene now there) and transition lines inserted before slots."""
    edits = sorted(edits, key=lambda e: (e[0], e[1]))
    for (a0, a1, _), (b0, _b1, _) in zip(edits, edits[1:]):
        if b0 < a1:
            raise ConformError("two changes touch the same text (an internal error: please report it)")

    def edited(lo: int, hi: int) -> str:
        out, pos = [], lo
        for s, e, rep in edits:
            if not lo <= s < hi:
                continue
            out.append(text[pos:s])
            out.append(rep)
            pos = e
        out.append(text[pos:hi])
        return "".join(out)

    pieces: list[str] = []
    pos = 0
    for k, slot in enumerate(slots):
        lo, hi = slot.block
        pieces.append(edited(pos, lo))
        if k in insertions:
            pieces.append(insertions[k])
        src = slots[order[k]].block
        pieces.append(edited(*src))
        pos = hi
    pieces.append(edited(pos, len(text)))
    return "".join(pieces)
