"""Measured costs: what the last build's jobs and render took against what the plan estimated,
so that the next ``nyeshc plan`` scales its estimates by what this machine really does (#22).

After a build, :func:`record` writes ``measured.json`` in the cache folder: for each group of
jobs (a job kind and its backend, e.g. ``motion.lipsync motion.procedural``) the seconds the
plan estimated and the seconds its workers measured, summed over the jobs that ran, and the same
for the render (compose + encode of the segments not cached, and the assembly). A group a build
did not run keeps its earlier figures. :func:`load` turns the file into factors (measured over
estimated, held within [:data:`LOWEST`, :data:`HIGHEST`]) and :func:`calibrated` applies them to
a plan's jobs; ``nyeshc plan`` says when it did.

The figures live beside the artifacts they describe, not in the lock: the lock records what made
a film and is byte-identical between two identical builds, and timings differ on every run. A
file that cannot be read is ignored (the model's own estimates are used).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nyeshc.plan.model import Job, Plan
from nyeshc.world import atomic_write_text

NAME = "measured.json"
VERSION = 1
LOWEST, HIGHEST = 0.05, 20.0
MIN_ESTIMATE = 0.05  # seconds: groups estimated below this say nothing about the model
RENDER = "render"


def group(job: Job) -> str:
    """The group whose factor applies to ``job``: its kind and its backend."""
    return f"{job.kind} {job.backend}".strip()


@dataclass(frozen=True)
class Calibration:
    """Factors (measured / estimated) by job group, and for the render; empty when nothing was
    measured yet."""

    jobs: dict[str, float] = field(default_factory=dict)
    render: float | None = None

    def __bool__(self) -> bool:
        return bool(self.jobs) or self.render is not None


def _read(root: Path) -> dict[str, Any]:
    with contextlib.suppress(OSError, ValueError):
        data = json.loads((root / NAME).read_text(encoding="utf-8"))
        if isinstance(data, dict) and data.get("version") == VERSION and isinstance(data.get("groups"), dict):
            return data
    return {"version": VERSION, "groups": {}}


def record(root: str | Path, jobs: Mapping[str, Job], timings: Mapping[str, float], *,
           render: tuple[float, float] | None = None) -> None:
    """Add a build's measurements to ``root/measured.json``: ``timings`` (job key -> seconds)
    for the jobs of ``jobs`` (key -> job) that ran, and ``render`` as (estimated, measured)
    seconds when segments were rendered. Groups measured now replace their earlier figures."""
    root = Path(root)
    sums: dict[str, list[float]] = {}
    for key, seconds in timings.items():
        job = jobs.get(key)
        if job is None:
            continue
        entry = sums.setdefault(group(job), [0.0, 0.0, 0])
        entry[0] += float(job.cost_seconds)
        entry[1] += float(seconds)
        entry[2] += 1
    if render is not None:
        sums[RENDER] = [float(render[0]), float(render[1]), 1]
    if not sums:
        return
    data = _read(root)
    for name, (estimated, measured, count) in sums.items():
        data["groups"][name] = {"estimated": round(estimated, 4), "measured": round(measured, 4), "count": int(count)}
    with contextlib.suppress(OSError):  # a read-only or vanished cache: the next plan uses the model
        atomic_write_text(root / NAME, json.dumps(data, indent=1, sort_keys=True) + "\n")


def load(root: str | Path) -> Calibration:
    """The factors recorded under ``root`` (an empty :class:`Calibration` without a file)."""
    factors: dict[str, float] = {}
    render = None
    for name, entry in _read(Path(root))["groups"].items():
        try:
            estimated, measured = float(entry["estimated"]), float(entry["measured"])
        except (KeyError, TypeError, ValueError):
            continue
        if estimated < MIN_ESTIMATE or measured < 0:
            continue
        factor = min(HIGHEST, max(LOWEST, measured / estimated))
        if name == RENDER:
            render = factor
        else:
            factors[name] = factor
    return Calibration(factors, render)


def calibrated(plan: Plan, calibration: Calibration, machine: float | None = None) -> Plan:
    """``plan`` with each job's estimate scaled by its group's factor; CPU jobs of groups never
    measured are scaled by ``machine`` (this machine's CPU speed against the models',
    :func:`nyeshc.execute.machine.speed`), GPU jobs keep the model's estimate (a GPU's speed is
    not the CPU's), and so does everything without ``machine``."""

    def factor(job: Job) -> float:
        if group(job) in calibration.jobs:
            return calibration.jobs[group(job)]
        return machine if machine is not None and job.device == "cpu" else 1.0

    if not calibration.jobs and machine is None:
        return plan
    return dataclasses.replace(plan, jobs=tuple(dataclasses.replace(j, cost_seconds=j.cost_seconds * factor(j))
                                                for j in plan.jobs))
