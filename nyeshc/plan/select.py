"""Parts of a plan: the frames of a scene or a time range, and the jobs they need.

``nyeshc still`` and ``nyeshc FILM --scene N`` should not generate the whole film's assets to
show one moment; :func:`needed_jobs` keeps only the jobs whose artifacts the chosen frames (and,
optionally, their sound) read, with everything those jobs depend on.
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

from nyeshc.plan.model import Job, Plan, SceneTrack, Timeline


class SelectionError(ValueError):
    """The scene or range asked for does not exist in the film."""


def frame_at(timeline: Timeline, seconds: Fraction) -> int:
    """The frame shown at ``seconds`` (clamped to the film)."""
    frame = int(seconds * timeline.fps)
    return max(0, min(timeline.frames - 1, frame))


def scene_range(timeline: Timeline, which: str) -> tuple[int, int]:
    """Frames ``[start, end)`` of the scene named by ``which``: its number as written in
    ``SCENE 3``, its 1-based position, or (part of) its heading."""
    scenes = list(timeline.scenes)
    by_number = [s for s in scenes if _number(s) == which]
    if by_number:
        return by_number[0].start, by_number[0].end
    if which.isdigit() and 1 <= int(which) <= len(scenes):
        s = scenes[int(which) - 1]
        return s.start, s.end
    needle = which.lower()
    for s in scenes:
        if needle and needle in s.title.lower():
            return s.start, s.end
    names = ", ".join(f"{i + 1} ({s.title})" for i, s in enumerate(scenes))
    raise SelectionError(f"no scene {which!r}; the film's scenes are {names}")


def _number(scene: SceneTrack) -> str | None:
    parts = scene.title.split()
    if len(parts) >= 2 and parts[0] == "SCENE":
        return parts[1].strip('"')
    return None


def time_range(timeline: Timeline, start: Fraction | None, end: Fraction | None) -> tuple[int, int]:
    lo = 0 if start is None else int(start * timeline.fps)
    hi = timeline.frames if end is None else int(end * timeline.fps + Fraction(1, 2))
    lo, hi = max(0, lo), min(timeline.frames, hi)
    if hi <= lo:
        raise SelectionError(f"the range is empty: the film runs {float(timeline.duration):.2f} s")
    return lo, hi


def artifact_keys(timeline: Timeline, lo: int, hi: int, *, audio: bool = True) -> set[str]:
    """Keys of the artifacts that frames ``[lo, hi)`` read (and their sound, if ``audio``)."""
    keys: set[str] = set()
    for scene in timeline.scenes:
        for layer in scene.layers:
            if layer.start < hi and layer.end > lo:
                keys.add(layer.artifact)
    for overlap in timeline.overlaps:
        if overlap.morph and overlap.start < hi and overlap.end > lo:
            keys.add(overlap.morph)
    if audio:
        s0, s1 = timeline.frame_to_sample(lo), timeline.frame_to_sample(hi)
        for clip in timeline.audio:
            if clip.start < s1 and clip.start + clip.length > s0:
                keys.add(clip.artifact)
    return keys


def needed_jobs(plan: Plan, keys: set[str]) -> Plan:
    """``plan`` with only the jobs that produce ``keys`` and their transitive inputs."""
    by_key = {j.key: j for j in plan.jobs}
    keep: set[str] = set()
    stack = [k for k in keys if k in by_key]
    while stack:
        key = stack.pop()
        if key in keep:
            continue
        keep.add(key)
        stack.extend(by_key[key].inputs)
    jobs: tuple[Job, ...] = tuple(j for j in plan.jobs if j.key in keep)
    return replace(plan, jobs=jobs)
