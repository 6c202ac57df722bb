"""The plan stage: IR → :class:`~nyeshc.plan.model.Plan` (timeline + job graph).

``plan(film, profile, services)`` is a pure function of the checked IR, the profile and the
facts :class:`~nyeshc.resolve.services.Services` reports (backend ids, versions, settings and
cost models; voice and media durations; file checksums). It never imports a backend:

* :mod:`nyeshc.resolve` works out what the film means: scenes, transitions, lines and cues in
  exact time, each directive typed with its options read (and seeds, :mod:`nyeshc.resolve.seeds`);
* :mod:`nyeshc.plan.graph` emits the jobs (``docs/dev/jobs.md``) and the layers from its fields;
* :mod:`nyeshc.plan.keys` gives each job its content key.

:func:`render_text` prints a plan for ``nyeshc plan``.
"""

from __future__ import annotations

from collections import defaultdict
from fractions import Fraction
from pathlib import Path

from nyeshc import ir
from nyeshc.config import Profile
from nyeshc.costs import CostModel
from nyeshc.diagnostics import Diagnostic
from nyeshc.plan.graph import Graph, build
from nyeshc.plan.model import Job, Plan, Timeline
from nyeshc.resolve import resolve
from nyeshc.resolve.ledger import Ledger, audit, keeping
from nyeshc.resolve.services import BackendInfo, Services

__all__ = ["BackendInfo", "CostModel", "Plan", "PlanError", "Services", "alphabet_jobs", "plan", "render_text", "timecode"]


class PlanError(Exception):
    """The planner could not account for an element of the checked film (``E702``): a planner
    bug, reported instead of a film with the element silently missing."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        super().__init__("; ".join(d.message for d in diagnostics))
        self.diagnostics = diagnostics


def plan(film: ir.Film, profile: Profile, services: Services, *, root: str | Path | None = None,
         report: list[Diagnostic] | None = None) -> Plan:
    """Lay out ``film`` and build its job graph.

    ``profile`` names the backends (``services.backend`` reports on them); ``root`` is the
    folder asset paths in job params are relative to (default: the script's folder). The film
    should have passed :func:`nyeshc.check.check`; the planner degrades quietly (skips what it
    cannot place) rather than raising on what the checker reports.

    Then every element is audited (:mod:`nyeshc.resolve.ledger`): the findings (``E702``,
    ``W211``/``E703``) are appended to ``report``; without a ``report``, errors raise
    :class:`PlanError`."""
    del profile  # the services were built from it; kept in the signature for the contract
    led = Ledger()
    with keeping(led):
        ctx, lay = resolve(film, services, root)
        timeline, jobs, seeds = build(ctx, lay)
    found = audit(film, led)
    if report is not None:
        report.extend(found)
    else:
        errors = [d for d in found if d.is_error]
        if errors:
            raise PlanError(errors)
    backends = {m: {"id": b.id, "version": b.version, "settings": dict(b.settings)}
                for m, b in sorted(ctx.backends.items())}
    grids = {k: g.to_json() for k, g in ctx.grids.items()}
    return Plan(timeline, tuple(jobs.values()), dict(sorted(seeds.items())), backends, grids)


def alphabet_jobs(film: ir.Film, services: Services, name: str, *,
                  root: str | Path | None = None) -> tuple[tuple[Job, ...], str, tuple[int, int, int]] | None:
    """The jobs that make alphabet ``name`` (used in the film or not), the key of its
    ``glyphs.alphabet`` job and its ink; ``None`` when the film defines no such alphabet.

    The same seed and settings as in :func:`plan`, so ``nyeshc rosetta`` draws exactly the
    glyphs the film shows."""
    ctx, lay = resolve(film, services, root)
    graph = Graph(ctx, lay)
    found = graph.alphabet(name)
    if found is None:
        return None
    key, ink = found
    return tuple(graph.jobs.values()), key, ink


# --------------------------------------------------------------------------- text


def timecode(frame: int, fps: Fraction) -> str:
    """``m:ss.ff`` (minutes, seconds, frames) for a frame count."""
    whole = Fraction(frame) / fps
    seconds = int(whole)
    ff = frame - round(seconds * fps)
    return f"{seconds // 60}:{seconds % 60:02d}.{ff:02d}"


def _samples(sample: int, tl: Timeline) -> str:
    return timecode(round(Fraction(sample) * tl.fps / tl.sample_rate), tl.fps)


def render_text(plan: Plan, cached: set[str] | None = None) -> str:
    """A readable summary: the timeline, the job DAG by kind and the estimated cost.

    With ``cached`` (keys present in the artifact cache), each job is marked ``cached`` or
    ``to run`` and the cost counts only what will run."""
    tl = plan.timeline
    short = {j.key: j.key[:10] for j in plan.jobs}
    out: list[str] = []
    fps = f"{float(tl.fps):g}"
    out.append(f"timeline  {tl.width}x{tl.height} @ {fps}fps  {timecode(tl.frames, tl.fps)}  "
               f"({tl.frames} frames, {tl.samples} samples at {tl.sample_rate} Hz)")
    for s in tl.scenes:
        fades = []
        if s.fade_in:
            fades.append(f"fade in {s.fade_in}f")
        if s.fade_out:
            fades.append(f"fade out {s.fade_out}f")
        extra = f"  [{', '.join(fades)}]" if fades else ""
        out.append(f"  {s.index:>2}  {timecode(s.start, tl.fps)}–{timecode(s.end, tl.fps)}  "
                   f"frames {s.start}–{s.end}  {s.title}{extra}  segment {s.key[:10]}")
        for layer in s.layers:
            role = getattr(layer, "role", "backdrop")
            out.append(f"        {layer.kind:<8} {role:<9} {layer.start}–{layer.end}  {short.get(layer.artifact, layer.artifact[:10])}")
    for o in tl.overlaps:
        what = f" morph {short.get(o.morph or '', '')}" if o.morph else ""
        out.append(f"  overlap {o.kind} {o.a}→{o.b}  frames {o.start}–{o.end}{what}")
    if tl.audio:
        out.append("audio")
        for c in tl.audio:
            flags = [c.role]
            if c.duck:
                flags.append("ducked")
            if c.gain_db:
                flags.append(f"{c.gain_db:+g} dB")
            if c.offset:
                flags.append(f"from {c.offset / tl.sample_rate:g}s")
            out.append(f"  {_samples(c.start, tl)}–{_samples(c.start + c.length, tl)}  {c.name or '?'}  "
                       f"[{', '.join(flags)}]  {short.get(c.artifact, c.artifact[:10])}")
    if tl.subtitles:
        out.append(f"subtitles  {len(tl.subtitles)} lines")
    for name, g in plan.grids.items():
        beats = g.get("beats") or []
        where = f"{len(beats)} beats detected, confidence {g['confidence']}" if beats else f"beat 1 at {float(Fraction(str(g['first']))):g}s"
        out.append(f"grid  {name}  {float(Fraction(str(g['tempo']))):g} bpm  {g['meter'][0]}/{g['meter'][1]}  "
                   f"({g['source']}; {where})")

    by_kind: dict[str, list[Job]] = defaultdict(list)
    for j in plan.jobs:
        by_kind[j.kind].append(j)
    to_run = [j for j in plan.jobs if cached is None or j.key not in cached]
    head = f"jobs  {len(plan.jobs)}"
    if cached is not None:
        head += f"  ({len(plan.jobs) - len(to_run)} cached, {len(to_run)} to run)"
    out.append(head)
    for kind in sorted(by_kind):
        jobs = by_kind[kind]
        out.append(f"  {kind} ({len(jobs)})")
        for j in jobs:
            mark = "" if cached is None else ("  cached" if j.key in cached else "  to run")
            ins = f" <- {' '.join(short.get(k, k[:10]) for k in j.inputs)}" if j.inputs else ""
            out.append(f"    {short[j.key]}  {j.name}{ins}  ~{j.cost_seconds:.2f}s {j.device}{mark}")

    out.append("estimated cost" + (" (jobs to run)" if cached is not None else ""))
    per: dict[tuple[str, str], float] = defaultdict(float)
    kinds: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(lambda: [0, 0.0]))
    for j in to_run:
        row = (j.backend or "built-in", j.device)
        per[row] += j.cost_seconds
        kinds[row][j.kind][0] += 1
        kinds[row][j.kind][1] += j.cost_seconds
    for (backend, device), secs in sorted(per.items()):
        out.append(f"  {backend:<22} {secs:9.1f}s  {device}{_long(secs)}")
        split = kinds[(backend, device)]
        if backend != "built-in" and (device == "gpu" or len(split) > 1):  # where the hours go, kind by kind
            for kind, (count, ksecs) in sorted(split.items()):
                out.append(f"    {f'{kind} ({count})':<20} {ksecs:9.1f}s{_long(ksecs)}")
    by_device: dict[str, float] = defaultdict(float)
    for (_, device), secs in per.items():
        by_device[device] += secs
    if by_device.get("gpu"):  # CPU and GPU time run side by side: never add them up
        for device in ("cpu", "gpu"):
            secs = by_device.get(device, 0.0)
            out.append(f"  {'total ' + device:<22} {secs:9.1f}s{_long(secs)}")
    else:
        total = sum(per.values())
        out.append(f"  {'total':<22} {total:9.1f}s")
    return "\n".join(out) + "\n"


def _long(seconds: float) -> str:
    """``  (2h 05m)`` after an estimate of two minutes or more; else nothing."""
    if seconds < 120:
        return ""
    minutes = round(seconds / 60)
    return f"  ({minutes}m)" if minutes < 120 else f"  ({minutes // 60}h {minutes % 60:02d}m)"
