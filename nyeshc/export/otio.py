"""The film as an OpenTimelineIO timeline (``.otio``, ``.otioz``) and, through the OTIO
adapters, FCP 7 XML (``.xml``, what Premiere imports; Resolve reads it too) and CMX 3600 EDL.

Layout (video tracks bottom to top, then audio):

* ``Backdrops`` — each scene's backdrops (stills and ``show`` videos). Scenes joined by
  ``CROSSFADE TO``/``MORPH TO`` meet in one track with an OTIO ``SMPTE_Dissolve`` transition
  centred on the overlap (``in_offset`` = the overlap's first half, ``out_offset`` the rest).
  Layers that overlap others of their kind spill into ``Backdrops 2``, ``Backdrops 3``, …
* ``Morphs`` — the rendered morph of each ``MORPH TO`` over its overlap (it replaces both
  backdrops there).
* ``Portraits`` — the characters' animated portraits (RGBA ``.mov``).
* ``Captions`` — captions, subtitles and the credits roll (RGBA PNG stills).
* audio: ``Music``, ``Sound``, ``Dialogue`` (more lanes where clips overlap).

Scene headings are markers on the timeline's stack; everything nyeshc knows that OTIO has no
field for (artifact keys, boxes, Ken Burns moves, fades, gains, ducking, roles) is stored in
each object's ``metadata["nyeshc"]``. Video times are frames at the film's rate; audio times
are samples at 48 kHz (exact, as the film is mixed).

``opentimelineio`` is optional (``pip install 'nyeshc[interchange]'``); it is imported when a
function here is called, never at import time.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from nyeshc.grid import Grid
from nyeshc.plan.model import AudioClip, Plan, SceneTrack, SequenceLayer, StillLayer, TextLayer, Timeline

__all__ = ["MissingDependency", "require_otio", "build_timeline", "write_timeline", "Resolver",
           "ADAPTERS", "NAMESPACE"]

NAMESPACE = "nyeshc"
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
    travels with the timeline); otherwise absolute ``file://`` URLs."""

    cache: Any
    folder: Path
    fps: Fraction
    outputs: dict[str, str]  # artifact key -> job output type
    relative_to: Path | None = None
    written: dict[str, Path] = field(default_factory=dict)

    def path(self, key: str) -> Path:
        if key not in self.written:
            from nyeshc.export.media import media_file

            self.written[key] = media_file(self.cache, key, self.outputs.get(key, "image"), self.folder, self.fps)
        return self.written[key]

    def url(self, key: str) -> str:
        p = self.path(key)
        if self.relative_to is not None:
            return Path(os.path.relpath(p.resolve(), self.relative_to.resolve())).as_posix()
        return p.resolve().as_uri()

    def length(self, key: str) -> int | None:
        """Frames of a ``frames`` artifact or samples of an ``audio`` one; None for stills."""
        if self.outputs.get(key) not in ("frames", "audio"):
            return None
        from nyeshc.export.media import load

        return int(load(self.cache, key).shape[0])


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


def _video_items(timeline: Timeline) -> dict[str, list[_Item]]:
    groups: dict[str, list[_Item]] = {"Backdrops": [], "Morphs": [], "Portraits": [], "Captions": []}
    for scene in timeline.scenes:
        for i, layer in enumerate(scene.layers):
            meta: dict[str, Any] = {"scene": scene.index, "layer": i, "kind": layer.kind, "artifact": layer.artifact,
                                    "fade": _fade(layer.fade)}
            if isinstance(layer, StillLayer):
                meta.update(zoom=list(layer.zoom), pan=layer.pan, ease=layer.ease,
                            box=_box(layer.box))
                groups["Backdrops"].append(_Item(layer.start, layer.end, layer.artifact,
                                                 f"{scene.title} / backdrop", meta, scene.index))
            elif isinstance(layer, SequenceLayer):
                meta.update(role=layer.role, loop=layer.loop, box=_box(layer.box))
                group = "Portraits" if layer.role == "portrait" else "Backdrops"
                groups[group].append(_Item(layer.start, layer.end, layer.artifact,
                                           f"{scene.title} / {layer.role}", meta, scene.index, layer.offset))
            elif isinstance(layer, TextLayer):
                meta.update(role=layer.role, position=layer.position, roll=layer.roll)
                groups["Captions"].append(_Item(layer.start, layer.end, layer.artifact,
                                                f"{scene.title} / {layer.role}", meta, scene.index))
    for ov in timeline.overlaps:
        if ov.kind == "morph" and ov.morph:
            groups["Morphs"].append(_Item(ov.start, ov.end, ov.morph, f"morph {ov.a + 1} -> {ov.b + 1}",
                                          {"kind": "morph", "a": ov.a, "b": ov.b, "artifact": ov.morph}))
    return groups


def _box(box: Any) -> dict[str, int] | None:
    return None if box is None else {"x": box.x, "y": box.y, "width": box.width, "height": box.height}


_AUDIO_GROUPS = {"music": "Music", "sound": "Sound", "video": "Sound", "dialogue": "Dialogue"}


def _audio_items(timeline: Timeline) -> dict[str, list[_Item]]:
    groups: dict[str, list[_Item]] = {"Music": [], "Sound": [], "Dialogue": []}
    for i, clip in enumerate(timeline.audio):
        meta = _audio_meta(clip, i)
        groups[_AUDIO_GROUPS.get(clip.role, "Sound")].append(
            _Item(clip.start, clip.start + clip.length, clip.artifact, clip.name or clip.role, meta, None, clip.offset))
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

    def media_ref(key: str, rate: float) -> Any:
        n = resolver.length(key)
        # a still has no length of its own: offer it for the whole film so any cut fits
        avail = tr(0, n if n is not None else max(tl.frames, 1), rate)
        return otio.schema.ExternalReference(target_url=resolver.url(key), available_range=avail)

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
            clip = otio.schema.Clip(name=it.name, media_reference=media_ref(it.key, rate),
                                    source_range=tr(src_in, clip_end - clip_start, rate))
            clip.metadata[NAMESPACE] = dict(it.meta)
            track.append(clip)
            cursor = clip_end
        if total > cursor:
            track.append(otio.schema.Gap(source_range=tr(0, total - cursor, rate)))

    for group, items in _video_items(tl).items():
        lanes = _lanes(items, joins if group in ("Backdrops", "Portraits") else None)
        for n, lane in enumerate(lanes or ([[]] if group != "Morphs" else [])):
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
    if plan.grids:
        for track in timeline.tracks:
            if track.kind == otio.schema.TrackKind.Audio:
                for clip in track.find_clips(shallow_search=True):
                    grid = _clip_grid(plan, clip.name)
                    if grid is not None:
                        _grid_markers(otio, clip, grid, sr)
    return timeline


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


def _edl_timeline(otio: Any, timeline: Any) -> Any:
    """CMX 3600 holds one video track (plus audio channels): the backdrops, the film's cut."""
    edl = otio.schema.Timeline(name=timeline.name)
    edl.global_start_time = timeline.global_start_time
    for track in timeline.video_tracks():
        if track.name == "Backdrops":
            edl.tracks.append(track.deepcopy())
            break
    return edl


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
        timeline = _edl_timeline(otio, timeline)
    tmp = target.with_name(f".{target.name}.partial{target.suffix}")
    try:
        if suffix == ".otioz":
            otio.adapters.write_to_file(timeline, str(tmp), adapter_name=adapter,
                                        media_policy=otio.adapters.file_bundle_utils.MediaReferencePolicy.AllMissing)
        else:
            otio.adapters.write_to_file(timeline, str(tmp), adapter_name=adapter)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    return target
