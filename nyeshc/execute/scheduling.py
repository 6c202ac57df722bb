"""What the local and the Ray executors share on the driver's side: the schedule of a build
(which jobs are cached, which are ready, most expensive first), taking a finished job's outcome
into it, the progress bars, the error a failed job raises, the result (:class:`Artifacts`) and
the lock a build holds on its cache. The job-running side is :mod:`nyeshc.execute.worker`."""

from __future__ import annotations

import contextlib
import errno
import heapq
import shutil
import weakref
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from nyeshc.backends.base import BackendError
from nyeshc.plan.model import Job, Plan
from nyeshc.store.cache import Cache

LOCK_NAME = ".lock"


class JobFailed(RuntimeError):
    """A job of the plan failed. ``job`` is the :class:`Job`, ``cause`` the exception (for a
    job that ran in a worker, the worker's exception; ``traceback`` its formatted traceback)."""

    def __init__(self, job: Job, cause: BaseException | str, traceback_text: str = "") -> None:
        self.job = job
        self.cause = cause
        self.traceback = traceback_text
        super().__init__(f"{job.name or job.key[:12]}: {job.kind} with backend "
                         f"{_backend_label(job)} failed: {describe_cause(cause)}")

    def __reduce__(self) -> tuple[Any, ...]:  # picklable (a remote executor sends it back)
        return (type(self), (self.job, self.cause, self.traceback))


def _backend_label(job: Job) -> str:
    if not job.backend:
        return "built-in"
    return f"{job.backend} {job.backend_version}".strip()


def describe_cause(cause: BaseException | str) -> str:
    """The message for people: a BackendError's own message, else ``Type: message``."""
    if isinstance(cause, str):
        return cause
    if isinstance(cause, BackendError):
        return str(cause)
    if isinstance(cause, OSError) and cause.errno == errno.ENOSPC:
        where = f" ({cause.filename})" if cause.filename else ""
        return f"the disk is full{where}; free some space (nyeshc cache clear) or use --cache on another disk"
    text = str(cause)
    return f"{type(cause).__name__}: {text}" if text else type(cause).__name__


class Artifacts(dict[str, Path]):
    """Job key → the data file of its artifact in ``cache``, for every job of the plan.

    :meth:`load` reads an artifact (arrays memory-mapped). When the build used a temporary
    cache (``cache=None``), :meth:`close` deletes it; the result is a context manager."""

    def __init__(self, cache: Cache, paths: dict[str, Path], *, temporary: bool = False,
                 timings: dict[str, float] | None = None) -> None:
        super().__init__(paths)
        self.timings = dict(timings or {})  # job key -> seconds, for the jobs this build ran
        self.cache = cache
        self.temporary = temporary
        self._cleanup = (weakref.finalize(self, shutil.rmtree, str(cache.root), True)
                         if temporary else None)

    def load(self, key: str, *, verify: bool = True) -> Any:
        """The artifact under ``key``; ``KeyError`` if it is not (or no longer) in the cache."""
        artifact = self.cache.get(key, verify=verify)
        if artifact is None:
            raise KeyError(key)
        return artifact

    def close(self) -> None:
        if self._cleanup is not None:
            self._cleanup()

    def __enter__(self) -> Artifacts:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def hold_cache(cache: Cache) -> Iterator[bool]:
    """Hold a shared lock on ``cache`` while building. Yields True when no other process was
    using the cache, in which case stray temporary files of interrupted builds were removed."""
    cache.root.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no lock, no cleanup
        yield False
        return
    fh = open(cache.root / LOCK_NAME, "a+b")  # noqa: SIM115 - held for the block
    try:
        idle = True
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            idle = False
        if idle:
            for path in cache.stray_files():
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
        fcntl.flock(fh.fileno(), fcntl.LOCK_SH)
        yield idle
    finally:
        fh.close()


def cache_in_use(cache: Cache) -> bool:
    """True when a build holds ``cache`` (for ``nyeshc cache clear|gc``)."""
    path = cache.root / LOCK_NAME
    if not path.exists():
        return False
    try:
        import fcntl
    except ImportError:  # pragma: no cover
        return False
    with open(path, "a+b") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    return False


Outcome = tuple[str, Any, Any]
"""("done", key, seconds) | ("missing", input key, None) | ("failed", exception, traceback)."""


class Bars:
    """One rich progress bar per job kind (or nothing, when quiet)."""

    def __init__(self, console: Console | None, todo: list[Job], cached: Counter[str]) -> None:
        self.progress: Progress | None = None
        self.tasks: dict[str, Any] = {}
        self.done: Counter[str] = Counter()
        self.totals: Counter[str] = Counter(j.kind for j in todo)
        self.partial: dict[str, tuple[str, float]] = {}  # running key -> (kind, fraction)
        if console is None or not todo:
            return
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
            console=console, transient=False,
        )
        totals = self.totals
        width = max(len(k) for k in totals)
        for kind in sorted(totals):
            note = f" [dim]({cached[kind]} cached)[/]" if cached[kind] else ""
            self.tasks[kind] = self.progress.add_task(f"{kind:<{width}}{note}", total=totals[kind])

    def __enter__(self) -> Bars:
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def _refresh(self, kind: str) -> None:
        if self.progress is None:
            return
        running = sum(f for k, f in self.partial.values() if k == kind)
        self.progress.update(self.tasks[kind], completed=self.done[kind] + running)

    def running(self, job: Job, fraction: float) -> None:
        self.partial[job.key] = (job.kind, min(1.0, max(0.0, fraction)))
        self._refresh(job.kind)

    def finished(self, job: Job, ok: bool = True) -> None:
        self.partial.pop(job.key, None)
        if ok:
            self.done[job.kind] += 1
        self._refresh(job.kind)

    def add(self, job: Job) -> None:
        """One more job of ``job.kind`` to run (a corrupt input being remade)."""
        if self.progress is None:
            return
        if job.kind not in self.tasks:
            self.tasks[job.kind] = self.progress.add_task(job.kind, total=0)
        self.totals[job.kind] += 1
        self.progress.update(self.tasks[job.kind], total=self.totals[job.kind])

    def note(self, text: str) -> None:
        if self.progress is not None:
            self.progress.console.print(text, markup=False, highlight=False)


class Schedule(NamedTuple):
    by_key: dict[str, Job]
    done: set[str]
    checked: set[str]
    cached: Counter[str]
    todo: list[Job]
    dependents: dict[str, list[Job]]
    pending: dict[str, Job]
    ready: list[tuple[float, int, str]]
    push_if_ready: Callable[[Job], None]
    timings: dict[str, float]  # job key -> seconds it took in its worker, for the jobs run


def make_schedule(plan: Plan, cache: Cache, verify: bool) -> Schedule:
    """What a build must do (shared by the local and the Ray executors): the plan's jobs by
    key, those already cached (verified first when asked), the rest with their dependents, and
    the ready queue, most expensive first so the critical path starts early."""
    by_key: dict[str, Job] = {}
    for job in plan.jobs:
        by_key.setdefault(job.key, job)
    done: set[str] = set()
    checked: set[str] = set()  # keys whose checksum is known good in this build
    cached: Counter[str] = Counter()
    for key, job in by_key.items():
        if cache.has(key) and (not verify or cache.verify(key)):
            done.add(key)
            cached[job.kind] += 1
            if verify:
                checked.add(key)
        elif verify:
            cache.discard(key)
    todo = [j for k, j in by_key.items() if k not in done]
    for job in todo:
        for key in job.inputs:
            if key not in by_key and not cache.has(key):
                raise JobFailed(job, BackendError(f"its input {key[:12]}… is neither produced by "
                                                  "the plan nor in the cache"))

    dependents: dict[str, list[Job]] = defaultdict(list)
    for job in todo:
        for key in set(job.inputs):
            dependents[key].append(job)
    pending: dict[str, Job] = {j.key: j for j in todo}
    ready: list[tuple[float, int, str]] = []
    order = {k: i for i, k in enumerate(by_key)}

    def push_if_ready(job: Job) -> None:
        if job.key in pending and all(k in done or (k not in by_key and cache.has(k)) for k in job.inputs):
            heapq.heappush(ready, (-job.cost_seconds, order[job.key], job.key))

    for job in todo:
        push_if_ready(job)
    return Schedule(by_key, done, checked, cached, todo, dependents, pending, ready, push_if_ready, {})


def record_outcome(s: Schedule, reruns: Counter[str], bars: Bars, job: Job, status: str, value: Any,
            extra: str | None) -> JobFailed | None:
    """Take a finished job's outcome into the schedule (shared by both executors): a success
    frees its dependents; a missing input (corrupt and discarded, or vanished) is made again and
    the job retried; a failure is returned for the caller to raise once running jobs end."""
    done, checked, pending, dependents, by_key = s.done, s.checked, s.pending, s.dependents, s.by_key
    push_if_ready = s.push_if_ready
    if status == "done":
        with contextlib.suppress(TypeError, ValueError):
            s.timings[job.key] = float(extra)  # type: ignore[arg-type]
        done.add(job.key)
        checked.add(job.key)
        checked.update(job.inputs)  # read and verified by the worker
        pending.pop(job.key, None)
        bars.finished(job)
        for dep in dependents.get(job.key, ()):
            push_if_ready(dep)
    elif status == "missing":
        # a cached input was corrupt (and discarded) or vanished: make it again, then retry
        bars.finished(job, ok=False)
        missing = str(value)
        reruns[missing] += 1
        producer = by_key.get(missing)
        if producer is None or reruns[missing] > 2:
            return JobFailed(job, BackendError(f"its input {missing[:12]}… is missing "
                                               "from the cache and cannot be remade"))
        done.discard(missing)
        checked.discard(missing)
        if job not in dependents[missing]:
            dependents[missing].append(job)
        if missing not in pending:
            pending[missing] = producer
            bars.add(producer)
            for key in set(producer.inputs):
                if producer not in dependents[key]:
                    dependents[key].append(producer)
            push_if_ready(producer)
    else:
        bars.finished(job, ok=False)
        return JobFailed(job, value, extra or "")
    return None


def pick_job(ready: list[tuple[float, int, str]], pending: dict[str, Job], running: Any,
          gpu_busy: int) -> Job | None:
    """The most expensive ready job (stale heap entries dropped), skipping gpu jobs while one
    runs."""
    busy = {j.key for j in running}
    skipped = []
    picked = None
    while ready:
        item = heapq.heappop(ready)
        job = pending.get(item[2])
        if job is None or job.key in busy:
            continue
        if job.device == "gpu" and gpu_busy:
            skipped.append(item)
            continue
        picked = job
        break
    for item in skipped:
        heapq.heappush(ready, item)
    return picked
