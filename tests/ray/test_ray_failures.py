"""Transient failures are retried (bounded), deterministic ones are not; both name the job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("ray")

from ray_fakes import execute_fakes  # noqa: E402  (puts tests/execute on sys.path)

calls, job, plan_of = execute_fakes.calls, execute_fakes.job, execute_fakes.plan_of

from nyeshc.execute import Cache, JobFailed, execute_ray  # noqa: E402


def _plan(settings: dict[str, Any]) -> Any:
    s = dict(settings)
    a = job("image.latent", "image.flaky", {"truncation": 1.0}, output="latent", name="look A", seed=1,
            settings=s)
    r = job("image.render", "image.flaky", {"width": 8, "height": 6}, (a.key,), output="image",
            name="scene 1 / backdrop", settings=s)
    return plan_of(a, r)


@pytest.mark.parametrize("flag", ["die_once", "oserror_once"])
def test_a_transient_failure_is_retried(ray_instance: Any, tmp_path: Path, flag: str) -> None:
    counter = tmp_path / "calls.log"
    plan = _plan({flag: str(tmp_path / "flag"), "counter": str(counter)})
    result = execute_ray(plan, Cache(tmp_path / "cache"), progress=False)
    assert (tmp_path / "flag").exists()  # it did fail once...
    assert set(result) == {j.key for j in plan.jobs}  # ...and the retry made it
    assert calls(counter).count("render") == 1  # the first try died before logging


def test_retries_are_bounded(ray_instance: Any, tmp_path: Path) -> None:
    plan = _plan({"oserror_once": str(tmp_path / "flag")})
    cache = Cache(tmp_path / "cache")
    with pytest.raises(JobFailed, match=r"scene 1 / backdrop: image.render with backend image.flaky 1 "
                                        r"failed: OSError: .*hiccupped") as info:
        execute_ray(plan, cache, progress=False, retries=0)
    assert isinstance(info.value.cause, OSError)
    assert cache.has(plan.jobs[0].key) and not cache.has(plan.jobs[1].key)
    result = execute_ray(plan, cache, progress=False, retries=0)  # the re-run resumes
    assert set(result) == {j.key for j in plan.jobs}


def test_a_dead_worker_names_the_job(ray_instance: Any, tmp_path: Path) -> None:
    plan = _plan({"die_once": str(tmp_path / "flag")})
    with pytest.raises(JobFailed, match=r"scene 1 / backdrop: .* failed: the Ray worker running it died"):
        execute_ray(plan, Cache(tmp_path / "cache"), progress=False, retries=0)


def test_a_backend_error_is_not_retried(ray_instance: Any, tmp_path: Path) -> None:
    counter = tmp_path / "calls.log"
    (tmp_path / "fail").touch()
    plan = _plan({"fail_if": str(tmp_path / "fail"), "counter": str(counter)})
    with pytest.raises(JobFailed, match="scene 1 / backdrop: .*the fake model is unhappy"):
        execute_ray(plan, Cache(tmp_path / "cache"), progress=False, retries=3)
    assert calls(counter).count("render") == 1
