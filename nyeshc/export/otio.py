"""The film as an OpenTimelineIO timeline (``.otio``, ``.otioz``) and, through the OTIO
adapters, FCP 7 XML (``.xml``, what Premiere imports; Resolve reads it too) and CMX 3600 EDL.

This file is long (about 800 lines) on purpose: one mapping: each of the timeline's tracks
(backdrops, morphs, portraits, captions, subtitles, sound) becomes OTIO clips with their media
and transitions; the tracks share the media references and the film's rate.

Layout (video tracks bottom to top, then audio):

* ``Backdrops`` — each scene's backdrops (stills and ``show`` videos). Scenes joined by
  ``CROSSFADE TO``/``MORPH TO`` meet in one track with an OTIO ``SMPTE_Dissolve`` transition
  centred on the overlap (``in_offset`` = the overlap's first half, ``out_offset`` the rest).
  Layers that overlap others of their kind spill into ``Backdrops 2``, ``Backdrops 3``, …
* ``Morphs`` — the rendered morph of each ``MORPH TO`` over its overlap (it replaces both
  backdrops there).
* ``Portraits`` — the characters' animated portraits (RGBA ``.mov``).
* ``Captions`` — captions, subtitles and the credits roll (RGBA PNG stills).
* ``Fades`` — where the film has scene fades: a canvas-sized black (white) matte over each
  ``FADE IN``/``FADE OUT``/``FADE TO WHITE`` side, its opacity the complement of the scene's
  fade (exactly the compositor's fade of the whole composed picture).
* audio: ``Music``, ``Sound``, ``Dialogue`` (more lanes where clips overlap).

Scene headings and dialogue lines are markers on the timeline's stack (red and blue); everything
nyeshc knows that OTIO has no field for (artifact keys, boxes, Ken Burns moves, fades, gains,
ducking, roles) is stored in each object's ``metadata["nyeshc"]``. The timeline's metadata
records the script's SHA-256 (``script_sha256``) so ``nyeshc conform`` can refuse a script that
changed since the export.

Media are written at the canvas size, already placed (see :mod:`nyeshc.export.media`). For FCP 7
XML the adapter writes each object's ``metadata["fcp_xml"]`` as XML, so that is where the
xmeml parts OTIO has no schema for go: the sequence's ``<format>`` (frame size, rate, pixel
aspect), each file's ``<media>`` (video or audio only, with its size or sample rate), and each
clip's ``<filter>``s: *Opacity* keyframes for a layer's fades and a scene fade's matte, *Basic
Motion* scale/centre keyframes for a Ken Burns move, *Audio Levels* for gains, fades and the
duck under dialogue. Clips are named ``SCENE 2 "Ash" / backdrop``,
and their CMX reels ``S02BG1`` (scene, layer kind, layer number), which EDLs and bins show. Video times are frames at the film's rate; audio times
are samples at 48 kHz (exact, as the film is mixed).

``opentimelineio`` is optional (``pip install 'nyeshc[interchange]'``); it is imported when a
function here is called, never at import time.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from nyeshc.grid import Grid
from nyeshc.plan.model import (
    AudioClip,
    Plan,
    SceneTrack,
    SequenceLayer,
    StillLayer,
    TextLayer,
    Timeline,
)

__all__ = ["MissingDependency", "require_otio", "build_timeline", "write_timeline", "Resolver",
           "ADAPTERS", "NAMESPACE", "MATTES", "script_hash", "edl_paths", "duck_spans"]

NAMESPACE = "nyeshc"
MATTES = ("matte:black", "matte:white")  # the media keys of a scene fade's matte
INSTALL_HINT = "pip install 'nyeshc[interchange]'"
# suffix -> (OTIO adapter name, the plugin package that provides it)
ADAPTERS: dict[str, tuple[str, str]] = {
    ".otio": ("otio_json", "opentimelineio"),
    ".otioz": ("otioz", "opentimelineio"),
    ".xml": ("fcp_xml", "otio-fcp-adapter"),
    ".edl": ("cmx_3600", "otio-cmx3600-adapter"),
}


class MissingDependency(RuntimeError):
    """An optional package is not installed; the message says what to install."""


def require_otio() -> Any:
    try:
        import opentimelineio as otio
    except ImportError as exc:
        raise MissingDependency(
            f"exporting editor timelines needs the opentimelineio package: {INSTALL_HINT}") from exc
    return otio


def _adapter_available(otio: Any, name: str) -> bool:
    try:
        return name in otio.adapters.available_adapter_names()
    except Exception:  # noqa: BLE001 - a broken plugin manifest means "not available"
        return False


# --------------------------------------------------------------------------- media


@dataclass
class Resolver:
    """Turns artifact keys into editor-readable files (see :mod:`nyeshc.export.media`) and
    their URLs. ``relative_to`` set: URLs are paths relative to that folder (a bundle that
    travels with the timeline); otherwise absolute ``file://`` URLs. A ``placement`` puts the
    picture on a canvas-sized frame where the compositor draws it."""

    cache: Any
    folder: Path
    fps: Fraction
    outputs: dict[str, str]  # artifact key -> job output type
    relative_to: Path | None = None
    written: dict[tuple[str, Any], Path] = field(default_factory=dict)

    def path(self, key: str, placement: Any = None) -> Path:
        if (key, placement) not in self.written:
            from nyeshc.export.media import matte_file, media_file

            if key in MATTES:  # a scene fade's black or white matte, made here, not from the cache
                self.written[(key, placement)] = matte_file(self.folder, placement.width, placement.height,
                                                            key == MATTES[1])
                return self.written[(key, placement)]
            self.written[(key, placement)] = media_file(self.cache, key, self.outputs.get(key, "image"), self.folder,
                                                        self.fps, placement)
        return self.written[(key, placement)]

    def url(self, key: str, placement: Any = None) -> str:
        p = self.path(key, placement)
        if self.relative_to is not None:
            return Path(os.path.relpath(p.resolve(), self.relative_to.resolve())).as_posix()
        return p.resolve().as_uri()

    def length(self, key: str) -> int | None:
        """Frames of a ``frames`` artifact or samples of an ``audio`` one; None for stills."""
        if self.outputs.get(key) not in ("frames", "audio"):
            return None
        from nyeshc.export.media import load

        return int(load(self.cache, key).shape[0])

    def size(self, key: str) -> tuple[int, int]:
        """``(width, height)`` of an ``image`` or ``frames`` artifact."""
        from nyeshc.export.media import load

        shape = load(self.cache, key).shape
        return (int(shape[-2]), int(shape[-3]))

    def is_audio(self, key: str) -> bool:
        return self.outputs.get(key) == "audio"


def script_hash(text: str) -> str:
    """The SHA-256 of a script's text, as recorded by an export and checked by ``conform``."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- lanes


@dataclass
class _Item:
    start: int
    end: int
    key: str
    name: str
    meta: dict[str, Any]
    scene: int | None = None
    offset: int = 0  # into the source (frames or samples)
    transition: dict[str, Any] | None = None  # joins the previous item of its lane with a transition
    placement: Any = None  # where the picture sits on the canvas (nyeshc.export.media.Placement)
    reel: str = ""  # the CMX 3600 reel: scene, layer kind, layer number (``S02BG1``)


def _lanes(items: Iterable[_Item], joins: dict[tuple[int, int], Any] | None = None) -> list[list[_Item]]:
    """Assign items to as few lanes as possible, never overlapping within one; an item that
    overlaps its lane's last item exactly over a scene overlap joins it with a transition."""
    lanes: list[list[_Item]] = []
    for it in sorted(items, key=lambda i: (i.start, i.end)):
        placed = False
        for lane in lanes:
            last = lane[-1]
            if it.start >= last.end:
                lane.append(it)
                placed = True
                break
            ov = joins.get((last.scene, it.scene)) if joins and last.scene is not None and it.scene is not None else None
            if ov is not None and it.start == ov.start and last.end == ov.end and last.start < ov.start < ov.end < it.end:
                it.transition = {"kind": ov.kind, "start": ov.start, "end": ov.end, "morph": ov.morph}
                lane.append(it)
                placed = True
                break
        if not placed:
            lanes.append([it])
    return lanes


def _fade(f: Any) -> dict[str, int]:
    return {"fade_in": f.fade_in, "fade_out": f.fade_out}


_REEL_KIND = {"backdrop": "BG", "video": "VD", "portrait": "PT", "morph": "MO", "caption": "CP",
              "subtitle": "SB", "credits": "CR"}


def scene_label(scene: SceneTrack) -> str:
    """``SCENE 2 "Ash"`` as written, or ``S02 INT. CATHEDRAL - NIGHT`` for a heading without
    its number: how clips name the scene."""
    if scene.title.startswith("SCENE "):
        return scene.title
    return f"S{scene.index + 1:02d} {scene.title}".rstrip()


def _video_items(timeline: Timeline) -> dict[str, list[_Item]]:
    from nyeshc.export.media import Placement

    W, H = timeline.width, timeline.height
    groups: dict[str, list[_Item]] = {"Backdrops": [], "Morphs": [], "Portraits": [], "Captions": [], "Fades": []}
    for scene in timeline.scenes:
        # FADE IN / FADE OUT / FADE TO WHITE: a black (white) matte over the whole picture, its
        # opacity the complement of the compositor's fade, so the editor's picture is nyeshc's
        for which, n, white in (("in", scene.fade_in, scene.fade_in_white), ("out", scene.fade_out, scene.fade_out_white)):
            n = min(n, scene.end - scene.start)
            if n <= 0:
                continue
            color = "white" if white else "black"
            a, b = (scene.start, scene.start + n) if which == "in" else (scene.end - n, scene.end)
            groups["Fades"].append(_Item(a, b, MATTES[white], f"{scene_label(scene)} / fade {which} {color}",
                                         {"scene": scene.index, "kind": "fade", "fade": which, "color": color,
                                          "frames": n}, scene.index, placement=Placement(W, H, "fill"),
                                         reel=f"S{scene.index + 1:02d}F{'I' if which == 'in' else 'O'}1"))
        counts: dict[str, int] = {}

        def reel(role: str) -> str:
            counts[role] = counts.get(role, 0) + 1
            return f"S{scene.index + 1:02d}{_REEL_KIND.get(role, 'LY')}{counts[role]}"

        for i, layer in enumerate(scene.layers):
            meta: dict[str, Any] = {"scene": scene.index, "layer": i, "kind": layer.kind, "artifact": layer.artifact,
                                    "fade": _fade(layer.fade)}
            where = Placement(W, H, "fill") if getattr(layer, "box", None) is None else \
                Placement(W, H, "box", (layer.box.x, layer.box.y, layer.box.width, layer.box.height))  # type: ignore[union-attr]
            if isinstance(layer, StillLayer):
                meta.update(zoom=list(layer.zoom), pan=layer.pan, ease=layer.ease,
                            box=_box(layer.box))
                groups["Backdrops"].append(_Item(layer.start, layer.end, layer.artifact,
                                                 f"{scene_label(scene)} / backdrop", meta, scene.index,
                                                 placement=where, reel=reel("backdrop")))
            elif isinstance(layer, SequenceLayer):
                meta.update(role=layer.role, loop=layer.loop, box=_box(layer.box))
                group = "Portraits" if layer.role == "portrait" else "Backdrops"
                groups[group].append(_Item(layer.start, layer.end, layer.artifact,
                                           f"{scene_label(scene)} / {layer.role}", meta, scene.index, layer.offset,
                                           placement=where, reel=reel(layer.role)))
            elif isinstance(layer, TextLayer):
                meta.update(role=layer.role, position=layer.position, roll=layer.roll, row=layer.row)
                text_at = Placement(W, H, "native") if layer.roll else \
                    Placement(W, H, "text", position=layer.position, row=layer.row)
                groups["Captions"].append(_Item(layer.start, layer.end, layer.artifact,
                                                f"{scene_label(scene)} / {layer.role}", meta, scene.index,
                                                placement=text_at, reel=reel(layer.role)))
    for ov in timeline.overlaps:
        if ov.kind == "morph" and ov.morph:
            groups["Morphs"].append(_Item(ov.start, ov.end, ov.morph, f"morph {ov.a + 1} -> {ov.b + 1}",
                                          {"kind": "morph", "a": ov.a, "b": ov.b, "artifact": ov.morph},
                                          placement=Placement(W, H, "fill"), reel=f"S{ov.a + 1:02d}MO{ov.b + 1}"))
    return groups


def _box(box: Any) -> dict[str, int] | None:
    return None if box is None else {"x": box.x, "y": box.y, "width": box.width, "height": box.height}


_AUDIO_GROUPS = {"music": "Music", "sound": "Sound", "video": "Sound", "dialogue": "Dialogue"}


_AUDIO_REEL = {"Music": "MU", "Sound": "SD", "Dialogue": "DL"}


def _audio_items(timeline: Timeline) -> dict[str, list[_Item]]:
    groups: dict[str, list[_Item]] = {"Music": [], "Sound": [], "Dialogue": []}
    for i, clip in enumerate(timeline.audio):
        meta = _audio_meta(clip, i)
        group = _AUDIO_GROUPS.get(clip.role, "Sound")
        groups[group].append(
            _Item(clip.start, clip.start + clip.length, clip.artifact, clip.name or clip.role, meta, None, clip.offset,
                  reel=f"{_AUDIO_REEL[group]}{len(groups[group]) + 1:03d}"))
    return groups


def _audio_meta(clip: AudioClip, i: int) -> dict[str, Any]:
    return {"clip": i, "role": clip.role, "artifact": clip.artifact, "gain_db": clip.gain_db,
            "fade_in": clip.fade_in, "fade_out": clip.fade_out, "duck": clip.duck, "loop": clip.loop}


# --------------------------------------------------------------------------- building


def build_timeline(plan: Plan, resolver: Resolver, *, title: str = "", film_meta: dict[str, Any] | None = None) -> Any:
    """An ``otio.schema.Timeline`` for ``plan``'s timeline; media through ``resolver``."""
    otio = require_otio()
    tl = plan.timeline
    fps = float(tl.fps)
    sr = float(tl.sample_rate)

    def rt(v: int, rate: float = fps) -> Any:
        return otio.opentime.RationalTime(v, rate)

    def tr(start: int, dur: int, rate: float = fps) -> Any:
        return otio.opentime.TimeRange(rt(start, rate), rt(dur, rate))

    timeline = otio.schema.Timeline(name=title or "nyeshc film")
    timeline.global_start_time = rt(0)
    timeline.metadata[NAMESPACE] = {
        "width": tl.width, "height": tl.height, "fps": str(tl.fps), "frames": tl.frames,
        "sample_rate": tl.sample_rate, "samples": tl.samples, "duck_db": tl.duck_db,
        "loudness_lufs": tl.loudness_lufs, **(film_meta or {}),
    }
    joins = {(ov.a, ov.b): ov for ov in tl.overlaps}

    timeline.metadata["fcp_xml"] = {"media": {"video": {"format": {"samplecharacteristics": {
        **_fcp_rate(tl.fps), "width": tl.width, "height": tl.height, "anamorphic": "FALSE",
        "pixelaspectratio": "square", "fielddominance": "none"}}}}}

    def media_ref(it: _Item, rate: float) -> Any:
        key = it.key
        n = resolver.length(key)
        # a still has no length of its own: offer it for the whole film so any cut fits
        avail = tr(0, n if n is not None else max(tl.frames, 1), rate)
        audio = resolver.is_audio(key)
        ref = otio.schema.ExternalReference(target_url=resolver.url(key, None if audio else it.placement),
                                            available_range=avail)
        if audio:  # FCP XML: an audio-only file (the adapter would claim video and audio)
            ref.metadata["fcp_xml"] = {"media": {"audio": {
                "samplecharacteristics": {"depth": 32, "samplerate": tl.sample_rate}, "channelcount": 2}}}
        else:
            w, h = (tl.width, tl.height) if it.placement is None or it.placement.mode != "native" \
                else resolver.size(key)
            ref.metadata["fcp_xml"] = {"media": {"video": {"samplecharacteristics": {
                **_fcp_rate(tl.fps), "width": w, "height": h, "anamorphic": "FALSE",
                "pixelaspectratio": "square", "fielddominance": "none"}}}}
        return ref

    def fill(track: Any, lane: list[_Item], rate: float, total: int) -> None:
        cursor = 0
        for it in lane:
            clip_start, clip_end = it.start, it.end
            if it.transition is not None:
                # the previous clip ends and this one starts at the overlap's midpoint cut
                start, end = it.transition["start"], it.transition["end"]
                cut = start + (end - start) // 2
                prev = track[-1]
                prev_range = prev.source_range
                trimmed = cut - (cursor - prev_range.duration.to_frames())  # prev's new duration
                prev.source_range = tr(prev_range.start_time.to_frames(), trimmed, rate)
                cursor = cut
                trans = otio.schema.Transition(
                    name=f"{it.transition['kind']} {prev.metadata[NAMESPACE].get('scene', 0) + 1} -> {it.scene + 1}",
                    transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
                    in_offset=rt(cut - start, rate), out_offset=rt(end - cut, rate))
                trans.metadata[NAMESPACE] = dict(it.transition)
                track.append(trans)
                clip_start = cut
            if clip_start > cursor:
                track.append(otio.schema.Gap(source_range=tr(0, clip_start - cursor, rate)))
            src_in = it.offset + (clip_start - it.start)
            clip = otio.schema.Clip(name=it.name, media_reference=media_ref(it, rate),
                                    source_range=tr(src_in, clip_end - clip_start, rate))
            clip.metadata[NAMESPACE] = dict(it.meta)
            if it.reel:
                clip.metadata["cmx_3600"] = {"reel": it.reel}
            filters = _fcp_filters(it, tl, resolver)
            if filters:
                clip.metadata["fcp_xml"] = {"filter": filters}
            track.append(clip)
            cursor = clip_end
        if total > cursor:
            track.append(otio.schema.Gap(source_range=tr(0, total - cursor, rate)))

    for group, items in _video_items(tl).items():
        lanes = _lanes(items, joins if group in ("Backdrops", "Portraits") else None)
        for n, lane in enumerate(lanes or ([[]] if group not in ("Morphs", "Fades") else [])):
            track = otio.schema.Track(name=group if n == 0 else f"{group} {n + 1}", kind=otio.schema.TrackKind.Video)
            track.metadata[NAMESPACE] = {"group": group.lower()}
            fill(track, lane, fps, tl.frames)
            timeline.tracks.append(track)
    for group, items in _audio_items(tl).items():
        lanes = _lanes(items)
        for n, lane in enumerate(lanes):
            track = otio.schema.Track(name=group if n == 0 else f"{group} {n + 1}", kind=otio.schema.TrackKind.Audio)
            track.metadata[NAMESPACE] = {"group": group.lower()}
            fill(track, lane, sr, tl.samples)
            timeline.tracks.append(track)
    for scene in tl.scenes:
        timeline.tracks.markers.append(_marker(otio, scene, tr))
    digest = (film_meta or {}).get("script_sha256")
    if digest:  # the hash as a marker too: FCP XML keeps markers, not OTIO metadata
        m = otio.schema.Marker(name=f"nyeshc script sha256 {digest}", marked_range=tr(0, 0),
                               color=otio.schema.MarkerColor.WHITE)
        m.metadata[NAMESPACE] = {"script_sha256": digest}
        timeline.tracks.markers.append(m)
    for i, clip in enumerate(tl.audio):
        if clip.role == "dialogue":
            m = otio.schema.Marker(name=clip.name, marked_range=tr(_to_frame(clip.start, tl), 0),
                                   color=otio.schema.MarkerColor.BLUE)
            m.metadata[NAMESPACE] = {"dialogue": i, "start": clip.start, "length": clip.length}
            timeline.tracks.markers.append(m)
    if plan.grids:
        for track in timeline.tracks:
            if track.kind == otio.schema.TrackKind.Audio:
                for clip in track.find_clips(shallow_search=True):
                    grid = _clip_grid(plan, clip.name)
                    if grid is not None:
                        _grid_markers(otio, clip, grid, sr)
    return timeline


def _to_frame(sample: int, tl: Timeline) -> int:
    return int(Fraction(sample) * Fraction(tl.fps) / tl.sample_rate + Fraction(1, 2))


def _fcp_rate(fps: Fraction) -> dict[str, Any]:
    """xmeml's ``<rate>``: an integer timebase, ``ntsc`` for the 1000/1001 rates."""
    f = Fraction(fps)
    ntsc = f.denominator == 1001
    return {"rate": {"timebase": round(float(f * 1001 / 1000)) if ntsc else round(float(f)),
                     "ntsc": "TRUE" if ntsc else "FALSE"}}


def _keyframes(points: Iterable[tuple[int, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for when, value in points:
        if out and out[-1]["when"] == when:
            out[-1]["value"] = value
        else:
            out.append({"when": when, "value": value})
    return out


def _effect(name: str, effectid: str, category: str, mediatype: str,
            parameters: list[dict[str, Any]]) -> dict[str, Any]:
    return {"effect": {"name": name, "effectid": effectid, "effectcategory": category, "effecttype": category,
                       "mediatype": mediatype, "parameter": parameters}}


def _fcp_filters(it: _Item, tl: Timeline, resolver: Resolver) -> list[dict[str, Any]]:
    """The clip's xmeml ``<filter>``s: *Opacity* for a layer's fades and a scene fade's matte,
    *Basic Motion* for a Ken Burns move of a full-frame still, *Audio Levels* for an audio
    clip's gain, fades and ducking. Keyframe times (``when``) are the clip's source frames, as
    FCP 7 counts them; editors interpolate linearly between keyframes."""
    meta = it.meta
    length = it.end - it.start
    out: list[dict[str, Any]] = []
    if "clip" in meta:  # audio: levels are linear gains (1 = 0 dB)
        level = round(10 ** (float(meta["gain_db"]) / 20), 5)
        param: dict[str, Any] = {"parameterid": "level", "name": "Level", "valuemin": 0, "valuemax": 3.98109,
                                 "value": level}
        keys = _level_keyframes(it, tl)
        if keys:
            param["keyframe"] = keys
        if level != 1 or keys:
            out.append(_effect("Audio Levels", "audiolevels", "audiolevels", "audio", [param]))
        return out
    if meta.get("kind") == "fade":
        # the matte's opacity is 1 - the compositor's scene fade: over a fade in of n frames the
        # scene shows k/n at its frame k, over a fade out (n - 1 - k)/n at the fade's frame k
        # (nyeshc.render.compositor: 0 on a fade in's first frame and a fade out's last)
        n = length
        pts = [(it.offset, 100.0), (it.offset + n - 1, round(100 / n, 4))] if meta["fade"] == "in" else \
            [(it.offset, round(100 / n, 4)), (it.offset + n - 1, 100.0)]
        out.append(_effect("Opacity", "opacity", "motion", "video", [
            {"parameterid": "opacity", "name": "Opacity", "valuemin": 0, "valuemax": 100, "value": pts[0][1],
             "keyframe": _keyframes(pts)}]))
        return out
    fade = meta.get("fade") or {}
    fi, fo = int(fade.get("fade_in", 0)), int(fade.get("fade_out", 0))
    if fi or fo:
        # the compositor's layer opacity: 0 on a fade in's first frame, 1 fade_in frames later;
        # 1 fade_out frames before the layer's last frame, 0 on that last frame
        pts = []
        if fi:
            pts += [(it.offset, 0), (it.offset + fi, 100)]
        if fo:
            pts += [(it.offset + length - 1 - fo, 100), (it.offset + length - 1, 0)]
        out.append(_effect("Opacity", "opacity", "motion", "video", [
            {"parameterid": "opacity", "name": "Opacity", "valuemin": 0, "valuemax": 100, "value": 100,
             "keyframe": _keyframes(pts)}]))
    if meta.get("roll"):
        out.append(_roll(it, tl, resolver))
    zoom, pan = tuple(meta.get("zoom") or ()), meta.get("pan")
    if meta.get("kind") == "still" and meta.get("box") is None and (pan is not None or any(z != 1.0 for z in zoom)):
        out.append(_ken_burns(it, tl, resolver))
    return out


def duck_spans(tl: Timeline) -> list[tuple[int, int]]:
    """Where the mixer ducks (samples ``[start, end)``, ramps not included): the dialogue lines,
    merged where the gap between two is shorter than the two ramps, as
    :mod:`nyeshc.render.mixer` merges them."""
    from nyeshc.render.mixer import ATTACK, RELEASE

    rate = tl.sample_rate
    att, rel = max(1, int(ATTACK * rate)), max(1, int(RELEASE * rate))
    spans = sorted((max(0, c.start), min(tl.samples, c.start + c.length)) for c in tl.audio
                   if c.role == "dialogue" and c.length > 0)
    merged: list[list[int]] = []
    for a, b in spans:
        if b <= a:
            continue
        if merged and a - merged[-1][1] <= att + rel:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return [(a, b) for a, b in merged]


def _level_keyframes(it: _Item, tl: Timeline) -> list[dict[str, Any]]:
    """An audio clip's *Audio Levels* keyframes: its gain times its fades (linear ramps) times,
    for a ducked clip (music), the duck under every dialogue line: down over the mixer's
    ``ATTACK`` before the line, at ``duck_db`` through it, back up over ``RELEASE`` after it.
    Ramps start and end on the nearest frame; where the mixer's level is flat (full, ducked,
    faded in) the keyframes give it exactly, and on a ramp the editor's linear interpolation
    stands for the mixer's equal-power fade or raised-cosine duck ramp. Empty when the level is
    constant."""
    from nyeshc.render.mixer import ATTACK, RELEASE

    meta = it.meta
    rate = tl.sample_rate
    fps = Fraction(tl.fps)
    level = 10 ** (float(meta["gain_db"]) / 20)

    def frame(sample: int | Fraction) -> Fraction:
        """Record time in frames from the clip's start, rounded to a frame: keyframes sit on
        frames, so a ramp starts or ends up to half a frame from the mixer's (and the level
        between two ramps is exactly the mixer's)."""
        return Fraction(round((Fraction(sample) - it.start) * fps / rate))

    n = frame(it.end)
    fi, fo = frame(it.start + int(meta["fade_in"])), n - frame(it.end - int(meta["fade_out"]))
    ducks: list[tuple[Fraction, Fraction, Fraction, Fraction]] = []
    depth = 10 ** (tl.duck_db / 20) if tl.duck_db < 0 else 1.0
    if meta.get("duck") and depth < 1:
        att, rel = max(1, int(ATTACK * rate)), max(1, int(RELEASE * rate))
        for a, b in duck_spans(tl):
            if b + rel <= it.start or a - att >= it.end:
                continue
            ducks.append((frame(a - att), frame(a), frame(b), frame(b + rel)))

    def ramp(x: Fraction, x0: Fraction, x1: Fraction) -> float:  # 0 before x0, 1 after x1, linear between
        return 1.0 if x >= x1 else 0.0 if x <= x0 else float((x - x0) / (x1 - x0))

    def value(x: Fraction) -> float:
        g = level
        if fi > 0:
            g *= ramp(x, Fraction(0), fi)
        if fo > 0:
            g *= 1 - ramp(x, n - fo, n)
        amount = 0.0
        for r0, a, b, r1 in ducks:
            amount = max(amount, ramp(x, r0, a) if x < a else 1.0 if x <= b else 1 - ramp(x, b, r1))
        return g * (1 - (1 - depth) * amount)

    if not (fi > 0 or fo > 0 or ducks):
        return []
    when: set[int] = {0, round(n)}
    for x in (fi, n - fo) if (fi > 0 or fo > 0) else ():
        when.add(round(x))
    for d in ducks:
        when.update(round(x) for x in d)
    first = _to_frame(it.offset, tl)
    return _keyframes((first + w, round(value(Fraction(w)), 5)) for w in sorted(when) if 0 <= w <= round(n))


def _roll(it: _Item, tl: Timeline, resolver: Resolver) -> dict[str, Any]:
    """The credits roll's scroll as *Basic Motion* ``center`` keyframes on its picture (written
    at its own size): centred across, its top from the canvas's bottom edge on the roll's first
    frame to its whole height above the canvas on its last, linear between, as the compositor
    rolls it. ``center`` is the picture's centre's offset from the frame's centre as a fraction
    of the frame (``vert`` positive downwards), as the Ken Burns keyframes write it."""
    w, h = resolver.size(it.key)
    W, H = tl.width, tl.height
    n = it.end - it.start
    x = (W - w) // 2
    centre = []
    for k, top in ((0, H), (max(n - 1, 0), -h)):
        centre.append((it.offset + k, {"horiz": round((x + w / 2 - W / 2) / W, 5),
                                       "vert": round((top + h / 2 - H / 2) / H, 5)}))
    return _effect("Basic Motion", "basic", "motion", "video", [
        {"parameterid": "scale", "name": "Scale", "valuemin": 0, "valuemax": 1000, "value": 100},
        {"parameterid": "center", "name": "Center", "value": centre[0][1], "keyframe": _keyframes(centre)}])


def _ken_burns(it: _Item, tl: Timeline, resolver: Resolver) -> dict[str, Any]:
    """A full-frame still's camera move as *Basic Motion* keyframes over the canvas-sized
    picture (which shows the compositor's zoom-1 framing): scale in percent and centre as a
    fraction of the frame, sampled at nine points (editors interpolate between them, so the
    easing is followed closely, not exactly)."""
    from nyeshc.render.compositor import camera_window, cover_window, eased, span_progress

    iw, ih = resolver.size(it.key)
    W, H = tl.width, tl.height
    bx, by, bw, bh = cover_window(iw, ih, W, H)
    cx0, cy0 = bx + bw / 2, by + bh / 2
    zooms = tuple(it.meta["zoom"]) or (1.0,)
    scale, centre = [], []
    n = it.end - it.start
    for k in range(9):
        f = it.start + round(k * max(n - 1, 0) / 8)
        p = eased(span_progress(f, it.start, it.end), it.meta.get("ease") or "smooth")
        x0, y0, w, h = camera_window(iw, ih, W, H, zooms, it.meta.get("pan"), p)
        when = it.offset + (f - it.start)
        scale.append((when, round(bw / w * 100, 3)))
        dx, dy = (cx0 - (x0 + w / 2)) * W / w, (cy0 - (y0 + h / 2)) * H / h
        centre.append((when, {"horiz": round(dx / W, 5), "vert": round(dy / H, 5)}))
    return _effect("Basic Motion", "basic", "motion", "video", [
        {"parameterid": "scale", "name": "Scale", "valuemin": 0, "valuemax": 1000, "value": scale[0][1],
         "keyframe": _keyframes(scale)},
        {"parameterid": "center", "name": "Center", "value": centre[0][1], "keyframe": _keyframes(centre)}])


def _clip_grid(plan: Plan, name: str) -> Grid | None:
    """The grid of a music clip (``soundtrack THEME``, ``scene 1 / music THEME``, ``… / sings
    THEME``), from the plan."""
    last = name.split(" / ")[-1]
    for head in ("soundtrack ", "music ", "sings ", "sound "):
        if last.startswith(head):
            data = plan.grids.get(last[len(head):])
            if data is not None:
                return Grid(Fraction(str(data["tempo"])), tuple(data["meter"]), Fraction(str(data["first"])),  # type: ignore[arg-type]
                            tuple(Fraction(str(b)) for b in data["beats"]), int(data["downbeat"]),
                            float(data["confidence"]), str(data["source"]))
    return None


def _grid_markers(otio: Any, clip: Any, grid: Grid, sr: float) -> None:
    """Beat and bar markers on a music clip, in its media's time (the cue's own samples): bar
    lines red and named ``bar N``, other beats green and named ``beat N``. Editors (Resolve,
    Premiere through OTIO, Final Cut through FCP XML) show them on the clip."""
    src = clip.source_range
    first = src.start_time.to_frames()
    last = first + src.duration.to_frames()
    per_bar = grid.meter[0]
    k = 0
    while True:
        t = grid.beat_time(k)
        at = int(t * Fraction(sr) + Fraction(1, 2))
        if at >= last:
            return
        if at >= first:
            bar = k % per_bar == 0
            m = otio.schema.Marker(name=f"bar {k // per_bar + 1}" if bar else f"beat {k + 1}",
                                   marked_range=otio.opentime.TimeRange(otio.opentime.RationalTime(at, sr),
                                                                        otio.opentime.RationalTime(0, sr)),
                                   color=otio.schema.MarkerColor.RED if bar else otio.schema.MarkerColor.GREEN)
            m.metadata[NAMESPACE] = {"beat": k + 1, "bar": k // per_bar + 1, "downbeat": bar}
            clip.markers.append(m)
        k += 1
        if k > 1_000_000:
            return


def _marker(otio: Any, scene: SceneTrack, tr: Callable[..., Any]) -> Any:
    m = otio.schema.Marker(name=scene.title or f"scene {scene.index + 1}",
                           marked_range=tr(scene.start, 0), color=otio.schema.MarkerColor.RED)
    m.metadata[NAMESPACE] = {"scene": scene.index, "start": scene.start, "end": scene.end,
                             "fade_in": scene.fade_in, "fade_out": scene.fade_out, "key": scene.key}
    return m


def clip_count(plan: Plan) -> dict[str, int]:
    """How many clips each kind of track gets: the numbers an export must hold."""
    v = _video_items(plan.timeline)
    a = _audio_items(plan.timeline)
    return {"video": sum(len(x) for x in v.values()), "audio": sum(len(x) for x in a.values()),
            "transitions": sum(1 for ov in plan.timeline.overlaps)}


# --------------------------------------------------------------------------- writing


def edl_paths(timeline: Any, path: str | os.PathLike[str]) -> list[tuple[Any, Path]]:
    """Each track with the EDL it goes to: CMX 3600 holds one track per list, so the first
    video track (``Backdrops``, the film's cut) goes to ``path`` and every other track, video
    then audio, to ``STEM.TRACK.edl`` beside it (``film.Portraits.edl``, ``film.Music.edl``)."""
    target = Path(path)
    out: list[tuple[Any, Path]] = []
    for track in list(timeline.video_tracks()) + list(timeline.audio_tracks()):
        if not out:
            out.append((track, target))
        else:
            slug = re.sub(r"[^A-Za-z0-9]+", "-", track.name).strip("-") or "track"
            out.append((track, target.with_name(f"{target.stem}.{slug}{target.suffix}")))
    return out


def _edl_text(otio: Any, timeline: Any, track: Any) -> str:
    """One track's CMX 3600 list, with the ``FCM: NON-DROP FRAME`` line the adapter leaves out
    (nyeshc's timecode is non-drop at every rate)."""
    one = otio.schema.Timeline(name=f"{timeline.name} - {track.name}")
    one.global_start_time = timeline.global_start_time
    one.tracks.append(track.deepcopy())
    if track.kind == otio.schema.TrackKind.Audio:
        # the adapter writes the list's first track and wants exactly one video track to exist
        one.tracks.append(otio.schema.Track(name="none", kind=otio.schema.TrackKind.Video))
    text = otio.adapters.write_to_string(one, adapter_name="cmx_3600")
    lines = text.split("\n")
    at = 1 if lines and lines[0].startswith("TITLE:") else 0
    lines.insert(at, "FCM: NON-DROP FRAME")
    digest = (timeline.metadata.get(NAMESPACE) or {}).get("script_sha256")
    if digest and any(ln[:3].isdigit() for ln in lines):
        # read back by ``nyeshc conform``: a comment of the last event (readers keep or skip
        # comments they do not know, but refuse one before the first event)
        while lines and not lines[-1].strip():
            lines.pop()
        lines += [f"* NYESHC SCRIPT SHA256: {digest}", ""]
    return "\n".join(lines)


def _audio_at_frame_rate(otio: Any, timeline: Any) -> Any:
    """A copy with the audio tracks' times (samples) rounded to frames at each boundary: FCP XML
    and EDL write timecode, which has no 48 kHz rate."""
    copy = timeline.deepcopy()
    fps = float(copy.metadata.get(NAMESPACE, {}).get("fps", "24").split("/")[0]) / float(
        (copy.metadata.get(NAMESPACE, {}).get("fps", "24").split("/") + ["1"])[1])

    def frames(t: Any) -> int:
        return round(t.value * fps / t.rate)

    def rt(v: int) -> Any:
        return otio.opentime.RationalTime(v, fps)

    for track in copy.audio_tracks():
        pos = 0  # in the source rate (samples)
        for item in track:
            if isinstance(item, otio.schema.Transition):
                continue
            sr = item.source_range
            a, b = frames(otio.opentime.RationalTime(pos, sr.duration.rate)), \
                frames(otio.opentime.RationalTime(pos + sr.duration.value, sr.duration.rate))
            pos += sr.duration.value
            item.source_range = otio.opentime.TimeRange(rt(frames(sr.start_time)), rt(b - a))
            ref = getattr(item, "media_reference", None)
            if ref is not None and ref.available_range is not None:
                ar = ref.available_range
                ref.available_range = otio.opentime.TimeRange(rt(frames(ar.start_time)), rt(max(1, frames(ar.duration))))
    return copy


# xmeml's element order (the FCP 7 DTD) for the elements nyeshc writes through metadata, which
# OTIO keeps in a sorted dictionary: Premiere and Final Cut read these by position
_XMEML_ORDER: dict[str, tuple[str, ...]] = {
    "effect": ("name", "effectid", "effectcategory", "effecttype", "mediatype", "parameter"),
    "parameter": ("parameterid", "name", "valuemin", "valuemax", "value", "keyframe"),
    "keyframe": ("when", "value"),
    "value": ("horiz", "vert"),
    "rate": ("timebase", "ntsc"),
    "samplecharacteristics": ("rate", "width", "height", "anamorphic", "pixelaspectratio", "fielddominance",
                              "depth", "samplerate"),
    "audio": ("samplecharacteristics", "channelcount", "format", "outputs", "track"),
}


def _xmeml_order(text: str) -> str:
    """The adapter's FCP 7 XML with the children of the elements above in the DTD's order."""
    import xml.etree.ElementTree as ET

    root = ET.fromstring(text)
    for el in root.iter():
        order = _XMEML_ORDER.get(el.tag)
        if order and len(el):
            rank = {t: i for i, t in enumerate(order)}
            el[:] = sorted(el, key=lambda c: rank.get(c.tag, len(order)))
    ET.indent(root, space="    ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE xmeml>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_timeline(timeline: Any, path: str | os.PathLike[str], fmt: str | None = None) -> Path:
    """Write ``timeline`` as ``fmt`` (a suffix such as ``.otio``; default: ``path``'s)."""
    otio = require_otio()
    target = Path(path)
    suffix = (fmt or target.suffix).lower()
    if not suffix.startswith("."):
        suffix = "." + suffix
    adapter, package = ADAPTERS[suffix]
    if not _adapter_available(otio, adapter):
        raise MissingDependency(f"writing {suffix} needs the {package} package: {INSTALL_HINT}")
    if suffix in (".xml", ".edl"):
        timeline = _audio_at_frame_rate(otio, timeline)
    if suffix == ".edl":
        from nyeshc.world import atomic_write_text

        texts = [(where, _edl_text(otio, timeline, track)) for track, where in edl_paths(timeline, target)]
        for where, text in texts:  # every list is made before any is written
            atomic_write_text(where, text)
        return target
    if suffix == ".xml":
        from nyeshc.world import atomic_write_text

        atomic_write_text(target, _xmeml_order(otio.adapters.write_to_string(timeline, adapter_name=adapter)))
        return target
    tmp = target.with_name(f".{target.name}.partial{target.suffix}")
    try:
        # .otioz: the adapter copies every file:// medium into the zip's media/ folder and points
        # the clip there (its default policy; a medium that is not a file is an error, never a
        # silently missing reference)
        otio.adapters.write_to_file(timeline, str(tmp), adapter_name=adapter)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    return target
