"""The disk budget: how many bytes a plan will write, and E701 when that exceeds a limit.

The estimate is computed from the job parameters alone, before anything runs. A frame sequence
is ``frames × width × height × channels`` bytes raw; the cache stores it compressed (``.nyf``:
zstd over frame-to-frame differences, ``nyeshc.store.frames``), so it is counted at a share
of that (:data:`FRAME_SHARE`), chosen above what was measured (``benchmarks/RESULTS.md`` §7, the
example film: backdrop morphs 12.8–16 % of raw, a fast 72-frame morph 43 %, lip-sync 3.9 %):
half for RGB sequences, a quarter for RGBA portraits of the procedural puppet, half for
portraits a model paints (photographic frames change more between frames), all of it for a
decoded video (camera noise defeats the differences). A job writing a sequence first fills a
raw scratch buffer beside the cache (reserved in full, freed when it is compressed), so the
largest raw sequences, one per worker, are added. With ``NYESHC_FRAME_CODEC=raw`` every
sequence counts raw and there is no scratch. An image is ``width × height × 4``, audio
``samples × channels × 4`` (float32), plus the encoded film (and its cached segments) at a
generous 0.2 bytes per pixel per frame (H.264 at the default quality stays far below that).
Latents, portraits and alphabets are small and counted at a fixed 1 MiB each. It errs on the
large side: a refusal is cheap, a disk filled halfway through a render is not.

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
"""The share of a frame sequence's raw size it takes compressed in the cache (an upper bound;
see the module docstring)."""


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


def job_bytes(job: Job, jobs: dict[str, Job], canvas: tuple[int, int], *, frame_codec: str = "zstd") -> int:
    """The bytes ``job``'s artifact will take in the cache (an upper estimate); frame sequences
    compressed unless ``frame_codec`` is ``"raw"``."""
    raw = raw_bytes(job, jobs, canvas)
    if job.output != "frames" or frame_codec == "raw":
        return raw
    return int(raw * FRAME_SHARE[_frames_kind(job)])


def _frames_kind(job: Job) -> str:
    if job.kind == "asset.video":
        return "video"
    if not (_int(job.params.get("width")) and _int(job.params.get("height"))):  # a portrait's RGBA
        return "rgba procedural" if job.backend.endswith(".procedural") else "rgba"
    return "rgb"


def raw_bytes(job: Job, jobs: dict[str, Job], canvas: tuple[int, int]) -> int:
    """The bytes of ``job``'s artifact uncompressed (a frame sequence as a raw array)."""
    p = job.params
    if job.output == "frames":
        n = _int(p.get("frames"))
        w, h = _int(p.get("width")), _int(p.get("height"))
        channels = 3
        if not (w and h):
            # a portrait animation: its ``size`` (the displayed side), else the portrait's size
            # (RGBA), else the canvas
            size = _int(p.get("size"))
            for key in job.inputs if not size else ():
                src = jobs.get(key)
                if src is not None and src.output == "portrait":
                    size = _int(src.params.get("size"))
            w, h = (size, size) if size else canvas
            channels = 4
        return n * w * h * channels
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
        return samples * 2 * 4
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
    total += tl.frames * tl.width * tl.height * 2 // 10  # the MP4 (and its cached segments)
    return total


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
