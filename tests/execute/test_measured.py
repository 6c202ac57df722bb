"""Measured costs (#22): a build records what its jobs and render took against the plan's
estimates (``measured.json`` in the cache), and the next ``nyeshc plan`` scales its estimates by
them."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import pytest

from nyeshc.cli import main
from nyeshc.execute.measured import HIGHEST, LOWEST, NAME, Calibration, calibrated, group, load, record
from nyeshc.plan.model import Job

FILM = ('title: "C"\ncanvas: 384x216, 12fps\nseed: 3\n\nlook A:\n    image: generate, seed 4\nlook B:\n'
        '    image: generate, seed 5\n\ncharacter ADA:\n    portrait: generate, seed 6\n    voice: asemic\n'
        '    motion: lipsync\n\nSCENE 1, 3s:\n    backdrop: morph A -> B\n    ADA, close-up:\n        "{line}"\n')


def _cli(*args: object) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([str(a) for a in args])
    assert rc == 0, err.getvalue()
    return rc, out.getvalue()


def _job(kind: str, backend: str, cost: float, n: int = 0) -> Job:
    return Job(key=f"{kind}{backend}{cost}{n}".ljust(64, "0"), kind=kind, backend=backend, backend_version="1",
               settings={}, params={}, inputs=(), seed=1, output="audio", name=kind,  # type: ignore[arg-type]
               cost_seconds=cost)


def test_factors_are_measured_over_estimated_held_in_bounds(tmp_path: Path) -> None:
    a, b, c = _job("voice.speak", "voice.x", 2.0), _job("voice.speak", "voice.x", 2.0, 1), _job("image.morph", "i", 1.0)
    record(tmp_path, {j.key: j for j in (a, b, c)}, {a.key: 1.0, b.key: 2.0, c.key: 100.0}, render=(10.0, 5.0))
    cal = load(tmp_path)
    assert cal.jobs == {"voice.speak voice.x": 0.75, "image.morph i": HIGHEST} and cal.render == 0.5
    record(tmp_path, {c.key: c}, {c.key: 0.001})  # a later build re-measures one group only
    cal = load(tmp_path)
    assert cal.jobs == {"voice.speak voice.x": 0.75, "image.morph i": LOWEST} and cal.render == 0.5


def test_an_unreadable_file_is_no_calibration(tmp_path: Path) -> None:
    (tmp_path / NAME).write_text("{not json", encoding="utf-8")
    assert not load(tmp_path)
    assert not load(tmp_path / "absent")


def test_calibrated_scales_only_the_measured_groups(tmp_path: Path) -> None:
    from nyeshc.pipeline import prepare

    class Quiet:
        def problem(self, *a: object) -> None: ...
        def diagnostics(self, *a: object) -> None: ...
        def detail(self, *a: object) -> None: ...

    script = tmp_path / "c.nysh"
    script.write_text(FILM.format(line="Nyeshkerh."), encoding="utf-8")
    plan = prepare(script, Quiet()).plan  # type: ignore[arg-type]
    lipsync = next(j for j in plan.jobs if j.kind == "motion.lipsync")
    out = calibrated(plan, Calibration({group(lipsync): 0.5}))
    assert [j.cost_seconds for j in out.jobs] == [j.cost_seconds * (0.5 if j.kind == "motion.lipsync" else 1)
                                                  for j in plan.jobs]
    # this machine's speed scales what no build measured, never what one did
    fast = calibrated(plan, Calibration({group(lipsync): 0.5}), machine=0.25)
    assert [j.cost_seconds for j in fast.jobs] == [j.cost_seconds * (0.5 if j.kind == "motion.lipsync" else 0.25)
                                                   for j in plan.jobs]


def test_a_build_records_and_the_next_plan_uses_what_it_measured(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from nyeshc.execute import machine

    monkeypatch.setattr(machine, "benchmark", lambda repeat=3: machine.REFERENCE)  # as fast as the models' machine
    script = tmp_path / "c.nysh"
    script.write_text(FILM.format(line="Nyeshkerh a lo."), encoding="utf-8")
    _, before = _cli("plan", script)
    assert "estimates scaled" not in before
    _cli(script, "-o", tmp_path / "c.mp4", "-q", "-j", "1")
    data = json.loads((tmp_path / ".nyeshc-cache" / NAME).read_text(encoding="utf-8"))
    groups = data["groups"]
    assert {"motion.lipsync motion.procedural", "image.morph image.procedural", "render"} <= set(groups)
    assert all(g["measured"] > 0 and g["count"] >= 1 for g in groups.values())
    # as on a machine four times slower at lip-sync than the model says (this one may be close
    # to the model: a factor near 1 would tell nothing)
    groups["motion.lipsync motion.procedural"]["measured"] = 4 * groups["motion.lipsync motion.procedural"]["estimated"]
    (tmp_path / ".nyeshc-cache" / NAME).write_text(json.dumps(data), encoding="utf-8")
    # an edited line: its voice and lip-sync run again, estimated from what this machine measured
    script.write_text(FILM.format(line="Nyeshkerh a lo ven sa."), encoding="utf-8")
    _, after = _cli("plan", script)
    _, model = _cli("plan", script, "--cache", tmp_path / "elsewhere")  # no measurements there
    assert f"estimates scaled by what the last build measured ({tmp_path / '.nyeshc-cache' / NAME})" in after
    assert "estimates scaled" not in model
    lipsync = groups["motion.lipsync motion.procedural"]
    factor = min(HIGHEST, max(LOWEST, lipsync["measured"] / lipsync["estimated"]))
    # the edited beat's lip-sync (its rig is cached, so its estimate is its frames alone): the
    # plan's own estimate (``--json``) scaled by the factor, as printed (to 0.01 s)
    _, raw = _cli("plan", script, "--json")
    [model_s] = [j["cost_seconds"] for j in json.loads(raw)["jobs"] if j["kind"] == "motion.lipsync"]
    line = r"scene 1 / ADA / beat 1 <- .*~([\d.]+)s cpu"
    scaled_s = float(re.search(line, after).group(1))  # type: ignore[union-attr]
    assert float(re.search(line, model).group(1)) == pytest.approx(model_s, abs=0.006)  # type: ignore[union-attr]
    assert factor == pytest.approx(4)
    assert scaled_s == pytest.approx(model_s * factor, abs=0.006)
    render = groups["render"]
    render_factor = min(HIGHEST, max(LOWEST, render["measured"] / render["estimated"]))
    model_r = float(re.search(r"render .*: ~([\d.]+)s on", model).group(1))  # type: ignore[union-attr]
    scaled_r = float(re.search(r"render .*: ~([\d.]+)s on", after).group(1))  # type: ignore[union-attr]
    assert scaled_r == pytest.approx(model_r * render_factor, abs=0.05 * (1 + render_factor) + 0.01)


def test_a_machine_never_measured_is_benchmarked_once_per_cache_folder(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A film never built here: ``plan`` scales every estimate by this machine's speed (a short
    benchmark against the models' machine), run once and kept in the cache folder's
    ``measured.json`` with the machine's identity; a build's own figures are kept beside it and
    used for what they measured; another identity is benchmarked again."""
    from nyeshc.execute import machine

    runs: list[int] = []

    def twice_as_slow(repeat: int = 3) -> float:
        runs.append(repeat)
        return 2 * machine.REFERENCE

    monkeypatch.setattr(machine, "benchmark", twice_as_slow)
    script = tmp_path / "c.nysh"
    script.write_text(FILM.format(line="Nyeshkerh a lo."), encoding="utf-8")
    (tmp_path / ".nyeshc-cache").mkdir()
    _, raw = _cli("plan", script, "--json")
    costs = {j["name"]: j["cost_seconds"] for j in json.loads(raw)["jobs"]}
    _, text = _cli("plan", script)
    assert runs == [3]
    assert "estimates of CPU work not measured yet scaled by this machine's speed: 2.00x" in text
    line = re.search(r"scene 1 / ADA / beat 1 <- .*~([\d.]+)s cpu", text)
    assert line is not None and float(line.group(1)) == pytest.approx(2 * costs["scene 1 / ADA / beat 1"], abs=0.006)
    stored = json.loads((tmp_path / ".nyeshc-cache" / NAME).read_text(encoding="utf-8"))
    assert stored["machine"] == {"identity": machine.identity(), "seconds": round(2 * machine.REFERENCE, 5)}
    _cli("plan", script)
    assert runs == [3]  # kept
    _cli(script, "-o", tmp_path / "c.mp4", "-q", "-j", "1")  # a build records its groups beside it
    stored = json.loads((tmp_path / ".nyeshc-cache" / NAME).read_text(encoding="utf-8"))
    assert "machine" in stored and "motion.lipsync motion.procedural" in stored["groups"]
    monkeypatch.setattr(machine, "identity", lambda: "another machine")
    assert machine.speed(tmp_path / ".nyeshc-cache") == pytest.approx(2.0) and runs == [3, 3]
    assert machine.speed(None) == pytest.approx(2.0) and len(runs) == 3  # no folder: measured, not kept


def test_the_benchmark_is_short_and_its_reference_holds_its_factor() -> None:
    from nyeshc.execute import machine

    seconds = machine.benchmark(repeat=1)
    assert 0 < seconds < 2.0  # ~0.012 s on the machine of 2026-12-04
    assert machine.LOWEST <= machine.speed(None) <= machine.HIGHEST
