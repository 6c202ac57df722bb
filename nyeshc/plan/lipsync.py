"""How a beat's lip-sync is cut into jobs: *sections* between its lines, and *parts* of a long
section (docs/dev/jobs.md, "Sections and parts of a beat").

Where the motion backend draws part of a beat (``renders_frame_ranges``: the procedural
puppet), a beat of several lines is drawn in **sections**, one for each run of lines (or songs)
that follow one another without a pause, each cut in the pause before the next: a section's
lip-sync job reads only its own lines' sound (its own ``voice.track``) and is told where in the
beat it starts (``phase``, so blinks, breath and head drift go on across the cut). A line's
edit then changes its section's job and the segments that show it, not the whole beat. A
section of at least ``LIPSYNC_SPLIT`` frames is drawn in two **parts** that run side by side
(``frame_range``: the same frames as the section's whole).

Both kinds of cut fall on the render's segment cuts where they can (every ``SEGMENT_SECONDS``
from the scene's start), so they add no segment.

The beat's last section ends in its **hold**, where nothing is heard any more (a line held to the
scene's end): from the first point of the piece grid (every ``PIECE_SECONDS`` from the scene's
start) at least :func:`hold_margin` after the last sound, it is drawn by jobs of its own,
silent (:func:`hold`), in pieces on that grid up to the next segment cut and on the segment cuts
after it. Their frames are the ones the section would draw there (the mouth and the nod have
come to rest; blinks, breath and drift depend on the frame's place in the beat only), and their
keys do not depend on what was said: a line made longer or shorter redraws the pieces up to the
first grid point after its end, and the render keeps the segments after it (it cuts on the
piece grid first).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from nyeshc.media import SAMPLE_RATE
from nyeshc.plan.model import piece_frames, segment_frames

__all__ = ["LIPSYNC_SPLIT", "SECTION_LEAST_SECONDS", "Sound", "halves", "hold", "hold_margin", "sections"]

LIPSYNC_SPLIT = 96
"""Frames from which a section's lip-sync is drawn in two parts that run side by side, where
the motion backend can draw part of a beat (:func:`halves`)."""

SECTION_LEAST_SECONDS = 1
"""A section shorter than this joins the one before it (the first, the one after): each
section's job starts a worker's drawing and its layer may cut a segment."""


def hold_margin(fps: Fraction) -> int:
    """Frames after the frame a beat's last sound ends in before its hold may begin: the
    procedural puppet's mouth follows the loudness envelope down a 0.09 s release until it is
    under 0.02 of its opening (0.36 s of frames from wide open, rounded up), and the speaking nod
    is that envelope averaged over 0.25 s (half of it after); a frame more on either side
    (``backends.procedural.idle.rest_frames``, which a test holds this to). 14 frames at 24 fps."""
    return math.ceil(Fraction(36, 100) * fps) + math.ceil(fps / 8) + 2


@dataclass(frozen=True)
class Sound:
    """One line or song of a beat, as its lip-sync hears it: the artifact, where it starts in
    the beat's sound (``offset``, samples), the part of the source it plays (``clip``: ``[from,
    samples]``) and what its mouth says (the lip-sync's ``speech`` entry)."""

    key: str
    offset: int
    clip: tuple[int, int]
    speech: dict[str, Any] | None = field(default=None, hash=False, compare=False)

    @property
    def end(self) -> int:
        """Where it ends in the beat's sound."""
        return self.offset + self.clip[1]


def _grid(lo: int, hi: int, start: int, scene_start: int, step: int) -> list[int]:
    """The segment cuts (beat frames) in ``[lo, hi]``, for a beat from scene frame ``start``."""
    first = scene_start + step * math.ceil(Fraction(start + lo - scene_start, step))
    return [c - start for c in range(first, start + hi + 1, step)]


def sections(sounds: Sequence[Sound], start: int, frames: int, track0: int, scene_start: int,
             fps: Fraction) -> list[tuple[int, int]]:
    """``[(first frame, end frame), …]`` of the beat's sections (beat frames, covering
    ``[0, frames)``): one per run of ``sounds`` without a pause between them, cut in the pause
    at the segment cut nearest its middle when one lies in it, else at its middle; sections
    shorter than :data:`SECTION_LEAST_SECONDS` joined to their neighbour. ``start``: the beat's
    first frame in the film, ``track0`` its first sample, ``scene_start`` its scene's first
    frame."""
    step = segment_frames(fps)
    length = round(Fraction(start + frames) * SAMPLE_RATE / fps) - track0
    heard = sorted((s for s in sounds if s.offset < length), key=lambda s: s.offset)
    runs: list[list[Sound]] = []
    end = -1
    for s in heard:
        if not runs or s.offset >= end:
            runs.append([s])
        else:
            runs[-1].append(s)
        end = max(end, s.end)

    def frame_at(sample: int) -> int:  # the beat frame whose samples hold ``sample`` of the beat
        return math.floor(Fraction(track0 + sample) * fps / SAMPLE_RATE) - start

    cuts = [0]
    for before, after in itertools.pairwise(runs):
        g0, g1 = max(s.end for s in before), after[0].offset
        lo, hi = frame_at(g0 - 1) + 1, frame_at(g1)  # frames starting inside the pause
        if lo > hi:  # a pause shorter than a frame: cut where the next line starts
            cut = hi
        else:
            middle = Fraction(lo + hi, 2)
            on_grid = _grid(lo, hi, start, scene_start, step)
            cut = min(on_grid, key=lambda c: (abs(c - middle), c)) if on_grid else math.floor(middle)
        if cuts[-1] < cut < frames:
            cuts.append(cut)
    cuts.append(frames)
    least = max(1, round(SECTION_LEAST_SECONDS * fps))
    while len(cuts) > 2:
        short = [i for i in range(len(cuts) - 1) if cuts[i + 1] - cuts[i] < least]
        if not short:
            break
        i = short[0]
        del cuts[i if i > 0 else 1]  # joined to the one before (the first: to the one after)
    return list(itertools.pairwise(cuts))


def halves(start: int, frames: int, scene_start: int, fps: Fraction, ranges: bool) -> list[tuple[int, int]]:
    """``(first frame, frames)`` of each lip-sync job a section of ``frames`` frames from film
    frame ``start`` is drawn by: one, or two when the motion backend draws part of a beat
    (``ranges``) and the section has at least :data:`LIPSYNC_SPLIT` frames, so the two cores
    share the longest job of a dialogue edit. They meet at the render's segment cut nearest the
    middle when one lies in the middle half (the parts then add no segment), else at the
    middle."""
    if frames < LIPSYNC_SPLIT or not ranges:
        return [(0, frames)]
    step = segment_frames(fps)
    middle = start + frames // 2
    cut = scene_start + step * round(Fraction(middle - scene_start, step))
    at = cut - start if start + frames // 4 <= cut <= start + frames - frames // 4 else frames // 2
    return [(0, at), (at, frames - at)]


def hold(sounds: Sequence[Sound], section: tuple[int, int], start: int, track0: int, scene_start: int,
         fps: Fraction) -> list[tuple[int, int]]:
    """``[(first frame, end frame), …]`` (beat frames) of the silent pieces that draw the end of
    ``section`` (the beat's last), or ``[]`` when it has none: from the first point of the piece
    grid (every ``PIECE_SECONDS`` from the scene's first frame ``scene_start``) at least
    :func:`hold_margin` frames after the one the last of ``sounds`` ends in, cut on that grid up to the
    next segment cut and on the segment cuts after it. ``start``: the beat's first frame in the
    film, ``track0`` its first sample. ``[]`` when nothing is heard before the section ends,
    when a sound goes on to its end, or when the hold would leave the section no frame to speak
    in. The backend promises the frames there are silence's (``renders_frame_ranges``,
    docs/backends.md)."""
    f0, f1 = section
    end = round(Fraction(start + f1) * SAMPLE_RATE / fps) - track0  # the section's end, in beat samples
    heard = [s.end for s in sounds if s.offset < end]
    if not heard:
        return []
    quiet = math.ceil(Fraction(track0 + max(heard), SAMPLE_RATE) * fps) + hold_margin(fps) - start
    fine, step = piece_frames(fps), segment_frames(fps)
    h0 = scene_start + fine * math.ceil(Fraction(start + max(quiet, f0 + 1) - scene_start, fine)) - start
    if h0 >= f1:
        return []
    cell = scene_start + step * math.ceil(Fraction(start + h0 + 1 - scene_start, step)) - start
    cuts = [c for c in range(h0, min(cell, f1), fine)] + [c for c in range(cell, f1, step)] + [f1]
    return list(itertools.pairwise(cuts))
