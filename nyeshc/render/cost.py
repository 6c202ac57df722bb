"""What the render will cost: compose + encode per segment, for ``nyeshc plan``'s estimate.

The render is most of an animatic's build (the example film: jobs 27 s, render + encode 70 s on
this 2-core machine), so a plan that estimates the jobs alone under-states the build by half or
more. The model is per frame and per segment, scaled by the canvas's pixels and the x264 preset:

* **encode**: ``ENCODE_CPU`` CPU seconds per 1280×720 frame with libx264 ``medium`` at crf 20
  (``benchmarks/RESULTS.md`` §13: 118–134 s of x264 CPU for the example's 1,608 frames), times
  ``PRESET`` (the preset's speed relative to ``medium``: measured there for ``veryfast`` and
  ``faster``, the usual ratios for the others), times ``CRF_STEP`` for each step of crf under 20
  (more bits to code; over 20, less). The default, ``veryfast`` at crf 18, comes to ~36 ms;
* **compose**: ``COMPOSE_CPU`` CPU seconds per 1280×720 frame (the example film: 11.6 ms/frame
  from raw frames, ~1 ms more from compressed ones, ``RESULTS.md`` §7);
* the encoder uses every core, so the wall time is the CPU time over the cores (at most
  ``MAX_CORES``: x264 at 720p gains little past that on this kind of machine), plus
  ``PER_SEGMENT`` for each segment's encoder start and drain (the segments are shared among as
  many composing processes as cores, so a core pays it for its share) and ``ASSEMBLY`` for the
  final stream-copy assembly (the mix is made while the jobs run).

Only the segments not already in the cache count (``cached``): an edit's estimate is what it
re-renders. The constants are fitted on this machine; on another, take them as proportions.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from nyeshc.media import DEFAULT_CRF, DEFAULT_PRESET
from nyeshc.plan.model import Timeline
from nyeshc.render.segments import encode_settings, segment_key, spans

__all__ = ["RenderEstimate", "estimate_render", "ENCODE_CPU", "COMPOSE_CPU", "CRF_STEP", "PRESET"]

REFERENCE_PIXELS = 1280 * 720
ENCODE_CPU = 0.078  # s CPU per 720p frame, libx264 medium crf 20 (the example: 125.7 s / 1,608 frames)
COMPOSE_CPU = 0.013  # s CPU per 720p frame (example film: 11.6 ms raw, 12-13 ms from compressed frames)
PER_SEGMENT = 0.05  # s wall per segment a composing process renders: an x264 start, its first keyframe, a drain
ASSEMBLY = 0.3  # s wall: the concat with stream copy, and the sound's encode when it ends after the frames
# (refitted 2026-12-04 on the example and the three tour films, RESULTS §16: 0.15 s a segment and
# 1.0 s were fitted before the composing processes and the sound made beside the jobs)
MAX_CORES = 4
PRESET = {  # x264 encode time relative to medium at 720p (veryfast, faster, fast: measured on the example)
    "ultrafast": 0.15, "superfast": 0.22, "veryfast": 0.43, "faster": 0.62, "fast": 1.0,
    "medium": 1.0, "slow": 1.5, "slower": 2.6, "veryslow": 4.5, "placebo": 12.0,
}
CRF_STEP = 1.04  # encode time per crf step under 20 (medium 18: 1.06×; veryfast 18 over 20: 1.1×)


@dataclass(frozen=True)
class RenderEstimate:
    segments: int  # all of the film's segments
    to_render: int  # those not in the cache
    frames: int  # frames to compose and encode
    cpu_seconds: float
    seconds: float  # wall, on ``cores`` cores
    cores: int
    preset: str
    crf: int


def estimate_render(timeline: Timeline, cached: Callable[[str], bool] | None = None, *,
                    preset: str = DEFAULT_PRESET, crf: int = DEFAULT_CRF, cores: int | None = None) -> RenderEstimate:
    """The cost of rendering ``timeline`` with these encoder settings, counting only segments
    for which ``cached(key)`` is false (all of them without ``cached``)."""
    settings = encode_settings(preset, crf)
    pieces = spans(timeline)
    todo = [sp for sp in pieces if cached is None or not cached(segment_key(timeline, sp, settings))]
    frames = sum(sp.end - sp.start for sp in todo)
    scale = timeline.width * timeline.height / REFERENCE_PIXELS
    cpu = frames * scale * (ENCODE_CPU * PRESET.get(preset, 1.0) * CRF_STEP ** (20 - crf) + COMPOSE_CPU)
    n = max(1, min(cores or os.cpu_count() or 1, MAX_CORES))
    wall = cpu / n + PER_SEGMENT * -(-len(todo) // n) + ASSEMBLY
    return RenderEstimate(segments=len(pieces), to_render=len(todo), frames=frames, cpu_seconds=cpu,
                          seconds=wall, cores=n, preset=preset, crf=crf)
