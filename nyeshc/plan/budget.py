"""The disk budget: how many bytes a plan will write, and E701 when that exceeds a limit.

Two figures, both computed from the job parameters alone, before anything runs:

* :func:`cache_bytes` — what the cache holds after the build, **the typical size**: a frame
  sequence is ``frames × width × height × channels`` bytes raw and is stored compressed
  (``.nyf``: zstd over frame-to-frame differences, ``nyeshc.store.frames``) at the share
  measured on the example, the tour films and a cut of a generated screenplay
  (``benchmarks/RESULTS.md`` §12): morphs :data:`FRAME_TYPICAL` (about 13 % of raw), the
  procedural puppet's lip-sync :data:`PUPPET_EDGE` / side (3.4 % at 684²), kinds not measured at
  their bound; audio as float32 samples (speech mono, music and recordings stereo), images
  ``width × height × 4``, portraits ``side² × 4``, a portrait's rig :data:`RIG_BYTES` per
  pixel at :data:`RIG_SHARE`, latents and alphabets a few kB
  (:data:`SMALL_TYPICAL`), the film's mix (float32 stereo) and its AAC encode, the cached segments at
  :data:`SEGMENT_TYPICAL` bytes per pixel per frame. ``nyeshc plan`` prints it ("about … in the
  cache").
* :func:`estimate_bytes` — the **peak while building**, the figure ``--max-disk`` (E701) is
  held to, which errs on the large side (a refusal is cheap, a disk filled halfway through a
  render is not): frame sequences at :data:`FRAME_SHARE`, an upper bound of the shares measured
  (half for RGB, a quarter for the procedural puppet's RGBA, half for portraits a model paints,
  all of it for a decoded video); the raw scratch buffer a job writing a sequence fills beside
  the cache until it is compressed, for the largest sequences, one per worker; and the encoded
  film three times at :data:`FILM_BOUND` bytes per pixel per frame (its cached segments, their
  copies the assembly reads, the MP4 itself). With ``NYESHC_FRAME_CODEC=raw`` every sequence
  counts raw in both and there is no scratch.

>>> parse_size("20G"), parse_size("512M"), parse_size("1.5k"), parse_size("123")
(20000000000, 512000000, 1500, 123)
"""

from __future__ import annotations

import os
from typing import Any

from nyeshc import ir
from nyeshc.diagnostics import Diagnostic, Span, error
from nyeshc.media import SAMPLE_RATE
from nyeshc.plan.model import Job, Plan

DEFAULT_LIMIT = 50 * 1000**3  # 50 GB
SMALL = 1 << 20  # latents, portraits, alphabets
FRAME_SHARE = {"rgb": 0.5, "rgba procedural": 0.25, "rgba": 0.5, "video": 1.0}
"""The share of a frame sequence's raw size it takes compressed in the cache, an upper bound
(the peak, E701; see the module docstring)."""
FRAME_TYPICAL = {"rgb": 0.13, "rgba": 0.5, "video": 1.0}
"""The typical share (the cache after the build) of RGB sequences (morphs: 0.115–0.16 measured
from 320×180 to 810×456); a model's portraits and decoded video are not measured and count at
their bound. The procedural puppet's RGBA frames: :data:`PUPPET_EDGE`."""
PUPPET_EDGE = 21.0
"""The procedural puppet's lip-sync frames compress to about ``PUPPET_EDGE / side`` of their raw
size (frame to frame only the outline, the eyes and the mouth change, which grow with the side,
not the area): measured 0.034 at 684², 0.055 at 504², 0.061–0.067 at 324–342², 0.052–0.075 at
252² (``benchmarks/RESULTS.md`` §12)."""
RIG_BYTES = 52
"""Bytes per pixel of a portrait's rig raw (the procedural puppet's: twelve float32 planes of
textures and layers and an RGBA body)."""
RIG_SHARE = {"typical": 0.32, "bound": 0.5}
"""The share of its raw size a rig takes in the cache (its arrays' bytes in planes, zstd): 0.31
measured at 512² and 342²; the bound for the peak."""
SMALL_TYPICAL = {"latent": 4 << 10, "alphabet": 32 << 10}
"""What a latent and an alphabet typically take (a few kB; the bound counts them at 1 MiB)."""
SEGMENT_TYPICAL = 0.006
"""Bytes per pixel per frame of the cached H.264 segments at the default settings (0.0045 on the
example film at 720p, medium, crf 20)."""
FILM_BOUND = 0.02
"""Bytes per pixel per frame an encoded copy of the film is counted at in the peak (about four
times what the example measures: grain and fast motion cost more)."""


def human(n: int) -> str:
    """Bytes for people: ``1.5 GB``."""
    for unit, size in (("TB", 1000**4), ("GB", 1000**3), ("MB", 1000**2), ("kB", 1000)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def _int(x: Any, default: int = 0) -> int:
    try:
        return max(0, int(x))
    except (TypeError, ValueError, OverflowError):
        return default


def job_bytes(job: Job, jobs: dict[str, Job], canvas: tuple[int, int], *, frame_codec: str = "zstd",
              typical: bool = False) -> int:
    """The bytes ``job``'s artifact will take in the cache: an upper estimate, or with
    ``typical`` the measured typical size; frame sequences compressed unless ``frame_codec`` is
    ``"raw"``."""
    if typical and job.output in SMALL_TYPICAL:
        return SMALL_TYPICAL[job.output]
    if typical and job.output == "portrait" and _int(job.params.get("size")):
        return _int(job.params.get("size")) ** 2 * 4  # an RGBA image of its side
    raw = raw_bytes(job, jobs, canvas)
    if job.output == "rig":
        return int(raw * RIG_SHARE["typical" if typical else "bound"])
    if job.output != "frames" or frame_codec == "raw":
        return raw
    kind = _frames_kind(job)
    if typical and kind == "rgba procedural":  # what changes is the outline and the mouth: ~ the side
        side = max(1, frame_shape(job, jobs, canvas)[1])
        return int(raw * min(FRAME_SHARE[kind], PUPPET_EDGE / side))
    return int(raw * (FRAME_TYPICAL if typical else FRAME_SHARE)[kind])


def _frames_kind(job: Job) -> str:
    if job.kind == "asset.video":
        return "video"
    if not (_int(job.params.get("width")) and _int(job.params.get("height"))):  # a portrait's RGBA
        return "rgba procedural" if job.backend.endswith(".procedural") else "rgba"
    return "rgb"


def frame_shape(job: Job, jobs: dict[str, Job], canvas: tuple[int, int]) -> tuple[int, int, int, int]:
    """``(frames, width, height, channels)`` of a frame-sequence job's artifact."""
    p = job.params
    n = _int(p.get("frames"))
    w, h = _int(p.get("width")), _int(p.get("height"))
    if w and h:
        return n, w, h, 3
    # a portrait animation: its ``size`` (the displayed side), else the portrait's size (RGBA),
    # else the canvas
    size = _int(p.get("size"))
    for key in job.inputs if not size else ():
        src = jobs.get(key)
        if src is not None and src.output == "portrait":
            size = _int(src.params.get("size"))
    w, h = (size, size) if size else canvas
    return n, w, h, 4


def raw_bytes(job: Job, jobs: dict[str, Job], canvas: tuple[int, int]) -> int:
    """The bytes of ``job``'s artifact uncompressed (a frame sequence as a raw array)."""
    p = job.params
    if job.output == "frames":
        n, w, h, channels = frame_shape(job, jobs, canvas)
        return n * w * h * channels
    if job.output == "rig":
        side = max((_int(jobs[k].params.get("size")) for k in job.inputs if k in jobs), default=0)
        return side * side * RIG_BYTES if side else SMALL
    if job.output == "image":
        w = _int(p.get("width")) or _int(p.get("max_width")) or canvas[0]
        h = _int(p.get("height")) or canvas[1]
        return w * h * 4
    if job.output == "audio":
        if "length" in p:
            samples = _int(p.get("length"))
        elif "seconds" in p:
            try:
                samples = int(float(p["seconds"]) * SAMPLE_RATE)
            except (TypeError, ValueError, OverflowError):
                samples = 0
        else:  # speech: about a tenth of a second per character, at least a second
            samples = max(SAMPLE_RATE, len(str(p.get("text", ""))) * SAMPLE_RATE // 10)
        channels = 1 if job.kind.startswith("voice.") else 2  # speech and a beat's track are mono
        return samples * channels * 4
    return SMALL


def estimate_bytes(plan: Plan, *, frame_codec: str = "zstd", workers: int | None = None) -> int:
    """The bytes ``plan`` writes: every job's artifact, the raw scratch buffers of the
    ``workers`` largest frame sequences (written at once by that many workers; default: the
    machine's cores, as ``--jobs`` is) and the encoded film."""
    tl = plan.timeline
    canvas = (tl.width, tl.height)
    jobs = {j.key: j for j in plan.jobs}
    total = sum(job_bytes(j, jobs, canvas, frame_codec=frame_codec) for j in plan.jobs)
    if frame_codec != "raw":
        scratch = sorted((raw_bytes(j, jobs, canvas) for j in plan.jobs if j.output == "frames"), reverse=True)
        total += sum(scratch[:max(1, workers or os.cpu_count() or 1)])
    total += int(3 * FILM_BOUND * tl.frames * tl.width * tl.height)  # segments, their copies, the MP4
    return total


def cache_bytes(plan: Plan, *, frame_codec: str = "zstd") -> int:
    """The bytes the cache typically holds once ``plan`` is built: every job's artifact at its
    typical size and the encoded segments (see the module docstring)."""
    tl = plan.timeline
    canvas = (tl.width, tl.height)
    jobs = {j.key: j for j in plan.jobs}
    total = sum(job_bytes(j, jobs, canvas, frame_codec=frame_codec, typical=True) for j in plan.jobs)
    total += tl.samples * 2 * 4  # the mix (float32 stereo)
    total += tl.samples * 192_000 // (8 * tl.sample_rate)  # its AAC encode (192 kbit/s)
    return total + int(SEGMENT_TYPICAL * tl.frames * tl.width * tl.height)


def budget_span(film: ir.Film) -> Span:
    """Where E701 points: the title, else the first header field, else the first scene."""
    title = film.header.get("title")
    if title is not None:
        return title.span
    if film.header.fields:
        return film.header.fields[0].span
    for item in film.body:
        if isinstance(item, (ir.Scene, ir.Credits)):
            return item.span
    return Span(film.path, 0, 0)


def check_budget(plan: Plan, limit_bytes: int, *, span: Span | None = None,
                 film: ir.Film | None = None, frame_codec: str = "zstd",
                 workers: int | None = None) -> Diagnostic | None:
    """E701 when :func:`estimate_bytes` exceeds ``limit_bytes``; ``None`` otherwise."""
    need = estimate_bytes(plan, frame_codec=frame_codec, workers=workers)
    if need <= limit_bytes:
        return None
    if span is None:
        span = budget_span(film) if film is not None else Span("<film>", 0, 0)
    return error("E701", f"this film would write about {human(need)} to disk, more than the limit of "
                         f"{human(limit_bytes)}", span,
                 "shorten it or use a smaller canvas, or raise the limit with --max-disk SIZE "
                 "or [limits] disk = \"SIZE\" in nysh.toml")
