"""The Ray executor against the local one, on a tiny real film (the procedural backends), in a
small CPU-only local Ray instance (see conftest)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("ray")

from nyeshc.backends.base import BackendError  # noqa: E402
from nyeshc.execute import Cache, JobFailed, execute, execute_ray  # noqa: E402
from nyeshc.execute import ray as ray_executor  # noqa: E402


def _bytes(cache: Cache, keys: Any) -> dict[str, bytes]:
    out = {}
    for key in keys:
        path = cache.data_path(key)
        assert path is not None, key
        out[key] = path.read_bytes()
    return out


def test_same_artifacts_as_local(ray_instance: Any, film: Any, tmp_path: Path) -> None:
    local = execute(film.plan, Cache(tmp_path / "local"), jobs=1, progress=False)
    remote = execute_ray(film.plan, Cache(tmp_path / "ray"), progress=False)
    assert set(remote) == set(local) == {j.key for j in film.plan.jobs}
    assert _bytes(remote.cache, remote) == _bytes(local.cache, local)
    for key in remote:  # and the same records (checksums, kinds, backends)
        a, b = remote.cache.record(key), local.cache.record(key)
        assert {k: a[k] for k in ("sha256", "size", "kind", "backend")} == \
               {k: b[k] for k in ("sha256", "size", "kind", "backend")}
        assert remote.cache.verify(key)
    # both report what each job took, for measured.json (every job ran: fresh caches)
    assert set(remote.timings) == set(local.timings) == set(remote)
    assert all(t >= 0 for t in (*remote.timings.values(), *local.timings.values()))


def test_respects_dependencies(ray_instance: Any, film: Any, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    cache = Cache(tmp_path / "ray")
    submitted: list[tuple[Any, bool]] = []
    real = ray_executor.resources

    def spy(job: Any) -> dict[str, float]:  # called as each task is submitted
        submitted.append((job, all(cache.has(k) for k in job.inputs)))
        return real(job)

    monkeypatch.setattr(ray_executor, "resources", spy)
    execute_ray(film.plan, cache, progress=False)
    keys = [job.key for job, _ in submitted]
    assert sorted(keys) == sorted({j.key for j in film.plan.jobs})  # each job once, none rerun
    assert any(job.inputs for job, _ in submitted)  # the film has dependencies...
    assert all(inputs_ready for _, inputs_ready in submitted)  # ...and each waited for its inputs
    for job, _ in submitted:
        for key in job.inputs:
            assert keys.index(key) < keys.index(job.key)


def test_resumes_after_a_failure(ray_instance: Any, film: Any, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    plan = film.plan
    victim = next(j for j in plan.jobs if j.kind == "glyphs.alphabet")
    assert any(victim.key in j.inputs for j in plan.jobs)
    broken = dataclasses.replace(plan, jobs=tuple(dataclasses.replace(j, params={}) if j is victim else j
                                                  for j in plan.jobs))
    cache = Cache(tmp_path / "ray")
    with pytest.raises(JobFailed) as info:
        execute_ray(broken, cache, progress=False)
    assert info.value.job.key == victim.key
    assert isinstance(info.value.cause, BackendError)  # deterministic: not retried
    assert victim.name in str(info.value) and "lacks the parameter" in str(info.value)
    made = {j.key: cache.data_path(j.key).stat().st_mtime_ns for j in plan.jobs if cache.has(j.key)}
    independent = {j.key for j in plan.jobs if j.key != victim.key and victim.key not in j.inputs}
    # jobs that finished stay cached (new submissions stop at the first failure, as locally)
    assert made and set(made) <= independent

    submitted: list[str] = []
    real = ray_executor.resources
    monkeypatch.setattr(ray_executor, "resources", lambda job: submitted.append(job.key) or real(job))
    result = execute_ray(plan, cache, progress=False)
    assert set(result) == {j.key for j in plan.jobs}
    assert sorted(submitted) == sorted(set(result) - set(made))  # only what was missing ran
    for key, mtime in made.items():
        assert cache.data_path(key).stat().st_mtime_ns == mtime
    reference = execute(plan, Cache(tmp_path / "local"), jobs=1, progress=False)
    assert _bytes(cache, result) == _bytes(reference.cache, reference)


def test_resources_per_device(film: Any) -> None:
    job = film.plan.jobs[0]
    assert ray_executor.resources(job) == {"num_cpus": 1}
    assert ray_executor.resources(dataclasses.replace(job, device="gpu")) == {"num_cpus": 1, "num_gpus": 1}


def test_progress_bars_and_no_cache(ray_instance: Any, film: Any, tmp_path: Path) -> None:
    import io

    from rich.console import Console

    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100)
    with execute_ray(film.plan, None, console=console, scratch_dir=tmp_path / "scratch") as result:
        assert result.temporary and set(result) == {j.key for j in film.plan.jobs}
        root = result.cache.root
        assert root.is_dir()
    assert not root.exists()
    text = out.getvalue()
    for kind in {j.kind for j in film.plan.jobs}:
        assert kind in text
