"""The Ray executor: runs a plan's job graph as Ray tasks, through a (shared) cache.

``--executor ray [--address auto|ray://HOST:PORT]`` (or ``[executor] kind = "ray"`` in
``nysh.toml``). Same semantics as :mod:`nyeshc.execute.local`: jobs whose key is cached are
skipped; every other job becomes a Ray task as soon as its inputs exist (longest estimated job
first). A task runs :func:`nyeshc.execute.worker.work` on the worker node: it reads its inputs
from the cache directory, runs the op and stores the artifact there, and sends back only the
key — so the cache directory must be the same path on the driver and on every node (a shared
mount: NFS, EFS, Filestore, CephFS, …; see ``docs/distributed.md``).

Resources: a ``gpu`` job (its backend's cost model says ``device = "gpu"``) requests
``num_cpus=1, num_gpus=1``; a ``cpu`` job ``num_cpus=1``. Ray packs them onto the cluster.

Failures: a worker that dies (OOM killer, a node lost) and an ``OSError`` in the job (shared
storage hiccups) are transient: Ray retries the task up to ``retries`` times. A
:class:`~nyeshc.backends.base.BackendError` or any other exception is deterministic and not
retried. The first failure stops new submissions; running tasks finish (and stay cached), then
:class:`~nyeshc.execute.local.JobFailed` is raised naming the job and the cause, so a re-run
resumes with only what is missing. Ctrl-C cancels every running task.

``import ray`` happens only when this executor runs; without Ray, :class:`RayNotInstalled`
says ``pip install 'nyeshc[ray]'``.
"""

from __future__ import annotations

import contextlib
import heapq
import os
import shutil
import tempfile
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

from rich.console import Console

from nyeshc.backends.base import BackendError
from nyeshc.execute.scheduling import (
    Artifacts,
    Bars,
    JobFailed,
    Outcome,
    hold_cache,
    make_schedule,
    record_outcome,
)
from nyeshc.execute.worker import THREAD_VARS, work
from nyeshc.plan.model import Job, Plan
from nyeshc.store.cache import Cache

INSTALL_HINT = "pip install 'nyeshc[ray]'"
DEFAULT_RETRIES = 3
TRANSIENT = (OSError,)
"""Exceptions (raised in a job) that Ray retries; worker deaths are always retried."""


class RayNotInstalled(ImportError):
    """``--executor ray`` without the ``ray`` package."""

    def __init__(self) -> None:
        super().__init__(f"the Ray executor needs Ray, which is not installed; install it with: "
                         f"{INSTALL_HINT}")


def import_ray() -> Any:
    """The ``ray`` module, or :class:`RayNotInstalled`."""
    try:
        import ray
    except ImportError as exc:
        raise RayNotInstalled() from exc
    return ray


IN_FLIGHT_FLOOR = 64
"""Tasks submitted and not yet settled, at least (without ``--jobs``): enough queued work for an
autoscaler to see the demand and add nodes."""


def in_flight(ray: Any) -> int:
    """How many tasks the driver keeps submitted at once without ``--jobs``: four per CPU of
    the cluster as it is now, and at least :data:`IN_FLIGHT_FLOOR`. Each submitted task holds
    its job's description and an object reference in this process, so a plan of a hundred
    thousand jobs is not handed to Ray all at once (the driver's memory would grow with the
    plan); the cluster still has more queued than it can run."""
    try:
        cpus = float(ray.cluster_resources().get("CPU", 0))
    except Exception:  # noqa: BLE001 - a cluster that cannot say: the floor
        cpus = 0.0
    return max(IN_FLIGHT_FLOOR, int(4 * cpus))


def resources(job: Job) -> dict[str, float]:
    """What a job's task requests from Ray."""
    if job.device == "gpu":
        return {"num_cpus": 1, "num_gpus": 1}
    return {"num_cpus": 1}


# --------------------------------------------------------------------------- in the worker


class _ProgressSink:
    """A tiny actor collecting ``(key, fraction)`` reports from tasks for the driver's bars."""

    def __init__(self) -> None:
        self.latest: dict[str, float] = {}

    def report(self, key: str, fraction: float) -> None:
        self.latest[key] = fraction

    def take(self) -> dict[str, float]:
        latest, self.latest = self.latest, {}
        return latest


def _ray_work(job: Job, root: str, verify: frozenset[str], sink: Any = None) -> Outcome:
    """The task body: :func:`work` on the worker; transient failures raised so Ray retries."""
    for var in THREAD_VARS:  # one core per task, like the local pool's workers
        os.environ.setdefault(var, "1")
    progress = None
    if sink is not None:
        import time

        last = [0.0]

        def progress(key: str, fraction: float) -> None:
            now = time.monotonic()
            if now - last[0] >= 0.5 or fraction >= 1.0:
                last[0] = now
                with contextlib.suppress(Exception):
                    sink.report.remote(key, float(fraction))

    outcome = work(job, root, verify, progress)
    if outcome[0] == "failed" and isinstance(outcome[1], TRANSIENT) \
            and not isinstance(outcome[1], BackendError):
        raise outcome[1]
    return outcome


# --------------------------------------------------------------------------- the driver


@contextlib.contextmanager
def _connected(ray: Any, address: str | None, jobs: int | None) -> Any:
    """Use the running Ray (``ray.init`` already called), else connect to ``address``, else start
    a local instance; disconnect at the end only if we connected."""
    if ray.is_initialized():
        yield
        return
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                              "configure_logging": False}
    if address:
        kwargs["address"] = address
    elif jobs:
        kwargs["num_cpus"] = jobs
    ray.init(**kwargs)
    try:
        yield
    finally:
        ray.shutdown()


def execute(plan: Plan, cache: Cache | None, jobs: int | None = None, progress: bool = True,
            console: Console | None = None, *, verify: bool = False,
            scratch_dir: str | os.PathLike[str] | None = None, address: str | None = None,
            retries: int = DEFAULT_RETRIES) -> Artifacts:
    """Run every job of ``plan`` that ``cache`` lacks as Ray tasks; return key → data path.

    ``address``: ``"auto"`` (a cluster this machine belongs to), ``"ray://HOST:PORT"`` (Ray
    Client) or None (a running ``ray.init``, else a new local instance with ``jobs`` CPUs).
    ``jobs``: at most this many tasks in flight (default: no limit; Ray queues by resources).
    ``retries``: how often a transient failure is retried. Otherwise like
    :func:`nyeshc.execute.local.execute`. Raises :class:`JobFailed`, :class:`RayNotInstalled`.
    """
    ray = import_ray()
    temporary = cache is None
    if cache is None:
        if scratch_dir is not None:
            Path(scratch_dir).mkdir(parents=True, exist_ok=True)
        cache = Cache(tempfile.mkdtemp(prefix="nyeshc-cache-", dir=scratch_dir))
    try:
        with hold_cache(cache), _connected(ray, address, jobs):
            paths, timings = _run(ray, plan, cache, jobs, progress, console, verify, retries)
    except BaseException:
        if temporary:
            shutil.rmtree(cache.root, ignore_errors=True)
        raise
    return Artifacts(cache, paths, temporary=temporary, timings=timings)


def _cause(ray: Any, exc: BaseException) -> BaseException | str:
    """What to tell people about an exception from ``ray.get``."""
    exceptions = ray.exceptions
    if isinstance(exc, exceptions.RayTaskError):
        cause = getattr(exc, "cause", None)
        if isinstance(cause, BaseException):
            return cause
    if isinstance(exc, (exceptions.WorkerCrashedError, exceptions.NodeDiedError,
                        getattr(exceptions, "OutOfMemoryError", exceptions.RayError))):
        return f"the Ray worker running it died ({type(exc).__name__}: {str(exc).splitlines()[0]})"
    if isinstance(exc, exceptions.TaskCancelledError):
        return "the Ray task was cancelled"
    return exc


def _run(ray: Any, plan: Plan, cache: Cache, jobs: int | None, progress: bool,
         console: Console | None, verify: bool, retries: int) -> tuple[dict[str, Path], dict[str, float]]:
    schedule = make_schedule(plan, cache, verify)
    by_key, done, checked, cached, todo, dependents, pending, ready, push_if_ready, _ = schedule

    console = console if console is not None else Console(stderr=True)
    quiet = not progress or not console.is_terminal
    bars = Bars(None if quiet else console, todo, cached)
    fixed = max(1, jobs) if jobs else None
    reruns: Counter[str] = Counter()
    failure: JobFailed | None = None
    running: dict[Any, Job] = {}  # ObjectRef -> job
    told = False
    if not todo:
        return _paths(by_key, cache)

    if any(j.device == "gpu" for j in todo) and not ray.cluster_resources().get("GPU"):
        bars.note("nyeshc: the plan has gpu jobs but the Ray cluster has no GPU now; they wait "
                  "until a GPU node joins (an autoscaler may add one)")

    task = ray.remote(_ray_work)
    sink = None
    if bars.progress is not None:
        sink = ray.remote(num_cpus=0)(_ProgressSink).remote()

    def settle(ref: Any, job: Job) -> None:
        nonlocal failure
        try:
            status, value, extra = ray.get(ref)
        except Exception as exc:  # noqa: BLE001 - retries exhausted, worker died, cancelled
            status, value, extra = ("failed", _cause(ray, exc), traceback.format_exc())
        found = record_outcome(schedule, reruns, bars, job, status, value, extra)
        if found is not None and failure is None:
            failure = found

    def submit_ready() -> None:
        busy = {j.key for j in running.values()}
        limit = fixed or (in_flight(ray) if ready else 0)
        while ready and failure is None and len(running) < limit:
            _, _, key = heapq.heappop(ready)
            job = pending.get(key)
            if job is None or key in busy:
                continue
            verify_keys = frozenset(k for k in job.inputs if k not in checked)
            ref = task.options(**resources(job), max_retries=retries,
                               retry_exceptions=list(TRANSIENT),
                               name=f"nyeshc {job.kind} {job.name}"[:200]).remote(
                job, str(cache.root), verify_keys, sink)
            running[ref] = job
            busy.add(key)

    try:
        with bars:
            while pending:
                submit_ready()
                if not running:
                    if failure is not None or not pending:
                        break
                    stuck = next(iter(pending.values()))
                    raise JobFailed(stuck, BackendError("its inputs can never be produced "
                                                        "(a cycle in the job graph?)"))
                if failure is not None and not told:
                    told = True
                    bars.note(f"nyeshc: {failure}; waiting for {len(running)} running "
                              f"job{'s' * (len(running) != 1)} to finish")
                finished, _ = ray.wait(list(running), num_returns=1, timeout=0.25)
                if finished:  # take every other finished one too, without waiting
                    more, _ = ray.wait(list(running), num_returns=len(running), timeout=0)
                    finished = list({*finished, *more})
                if sink is not None:
                    with contextlib.suppress(Exception):
                        for key, fraction in ray.get(sink.take.remote(), timeout=5).items():
                            job = by_key.get(key)
                            if job is not None and job in running.values():
                                bars.running(job, fraction)
                for ref in finished:
                    settle(ref, running.pop(ref))
    except BaseException:  # Ctrl-C, or a raise above: stop the cluster's work for this build
        for ref in running:
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)
        raise
    finally:
        if sink is not None:
            with contextlib.suppress(Exception):
                ray.kill(sink)
    if failure is not None:
        raise failure
    return _paths(by_key, cache), schedule.timings


def _paths(by_key: dict[str, Job], cache: Cache) -> dict[str, Path]:
    paths: dict[str, Path] = {}
    for key, job in by_key.items():
        path = cache.data_path(key)
        if path is None:
            raise JobFailed(job, BackendError("its artifact vanished from the cache during the "
                                              "build (is the cache directory shared by every "
                                              "Ray node at the same path?)"))
        paths[key] = path
    return paths
