"""The local executor: runs a plan's job graph in a process pool, through the cache.

:func:`execute` skips every job whose key is already cached, runs the others as soon as their
inputs exist (longest estimated job first, at most one ``gpu`` job at a time) and returns where
each artifact lives. Workers read their inputs from the cache (memory-mapped), run the op
(:func:`nyeshc.execute.ops.run_job`), store the output in the cache and send back only the key:
no large array ever crosses a process boundary.

Integrity: an entry counts as cached when its data file and record exist with the recorded
size; its checksum is verified when it is first read in a build (by a worker, or by
:meth:`Artifacts.load`). A corrupt entry is discarded and its job runs again. Writes go to a
temporary file that is renamed into place, so an interrupted job leaves no entry that looks
whole; the temporary files of killed workers are removed by the next build that finds the
cache idle.

Failure: the first failing job stops new submissions; jobs already running finish (and stay
cached), then :class:`JobFailed` is raised naming the job, its kind, its backend and the cause.
A later build runs only what is missing. Ctrl-C terminates the workers at once.

``cache=None`` (``--no-cache``): artifacts go to a temporary cache directory (under
``scratch_dir``, else the system temporary folder), so memory stays bounded; it is deleted by
:meth:`Artifacts.close` (use the result as a context manager around rendering), when the result
is garbage-collected, or at exit — and at once if the build fails.
"""

from __future__ import annotations

import contextlib
import errno
import heapq
import multiprocessing
import os
import pickle
import queue as queue_module
import shutil
import signal
import sys
import tempfile
import time
import traceback
import weakref
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
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
from nyeshc.execute.cache import Cache
from nyeshc.execute.ops import run_job
from nyeshc.execute.pages import trimming
from nyeshc.plan.model import Job, Plan

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS")
"""Set to 1 in pool workers: N workers × N BLAS threads would oversubscribe the cores."""

LOCK_NAME = ".lock"


# --------------------------------------------------------------------------- errors


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


# --------------------------------------------------------------------------- the result


class Artifacts(dict[str, Path]):
    """Job key → the data file of its artifact in ``cache``, for every job of the plan.

    :meth:`load` reads an artifact (arrays memory-mapped). When the build used a temporary
    cache (``cache=None``), :meth:`close` deletes it; the result is a context manager."""

    def __init__(self, cache: Cache, paths: dict[str, Path], *, temporary: bool = False) -> None:
        super().__init__(paths)
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


# --------------------------------------------------------------------------- cache lock


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


# --------------------------------------------------------------------------- workers

_QUEUE: Any = None  # the progress queue of a pool worker (None in-process)
_IN_JOB = False


class _Terminated(BaseException):
    """Raised in a worker by SIGTERM (the executor stopping after Ctrl-C)."""


def _on_sigterm(signum: int, frame: Any) -> None:
    if _IN_JOB:
        raise _Terminated()
    os._exit(128 + signum)


def _limit_blas_threads() -> None:
    """Best effort: tell an OpenBLAS already loaded (by numpy, before the fork) to use one
    thread; the environment variables only reach libraries loaded later (torch)."""
    try:
        import ctypes

        with open("/proc/self/maps", encoding="utf-8", errors="replace") as fh:
            libs = {line.split()[-1] for line in fh if "openblas" in line.lower() and "/" in line}
        for lib in libs:
            handle = ctypes.CDLL(lib)
            for name in ("openblas_set_num_threads", "scipy_openblas_set_num_threads64_",
                         "openblas_set_num_threads64_", "scipy_openblas_set_num_threads"):
                fn = getattr(handle, name, None)
                if fn is not None:
                    fn(1)
                    break
    except Exception:  # noqa: BLE001 - only an optimisation
        pass


def _init_worker(progress_queue: Any) -> None:
    global _QUEUE
    _QUEUE = progress_queue
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
    signal.signal(signal.SIGTERM, _on_sigterm)
    for var in THREAD_VARS:
        os.environ[var] = "1"
    _limit_blas_threads()
    if "torch" in sys.modules:  # pragma: no cover - only with model backends
        with contextlib.suppress(Exception):
            sys.modules["torch"].set_num_threads(1)


def _portable(exc: BaseException) -> BaseException:
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 - an exception that cannot cross processes
        return RuntimeError(f"{type(exc).__name__}: {exc}")


Outcome = tuple[str, Any, Any]
"""("done", key, seconds) | ("missing", input key, None) | ("failed", exception, traceback)."""


def _work(job: Job, root: str, verify: frozenset[str],
          progress: Callable[[str, float], None] | None = None) -> Outcome:
    """Run one job against the cache at ``root``; never raises (except when terminated)."""
    global _IN_JOB
    _IN_JOB = True
    try:
        cache = Cache(root)
        # the pages of the cache's memory maps this job reads and writes (a long shot's frames:
        # gigabytes) would stay in this worker's resident memory until the maps close
        with trimming(root):
            inputs = []
            for key in job.inputs:
                artifact = cache.get(key, verify=key in verify)
                if artifact is None:
                    return ("missing", key, None)
                inputs.append(artifact)
            report = _reporter(job.key, progress)
            start = time.perf_counter()
            try:
                artifact = run_job(job, inputs, cache, report)
                if not cache.has(job.key):
                    cache.put(job.key, artifact, backend=job.backend, kind=job.kind)
            except _Terminated:
                raise
            except Exception as exc:  # noqa: BLE001 - reported to the parent as the job's cause
                return ("failed", _portable(exc), traceback.format_exc())
            return ("done", job.key, time.perf_counter() - start)
    except _Terminated:
        os._exit(128 + signal.SIGTERM)
    finally:
        _IN_JOB = False


def _reporter(key: str, progress: Callable[[str, float], None] | None) -> Callable[[float], None]:
    if progress is not None:
        return lambda fraction: progress(key, fraction)
    if _QUEUE is None:
        return lambda fraction: None
    last = [0.0]

    def report(fraction: float) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.25 or fraction >= 1.0:
            last[0] = now
            with contextlib.suppress(Exception):
                _QUEUE.put_nowait((key, float(fraction)))

    return report


# --------------------------------------------------------------------------- progress


class _Bars:
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

    def __enter__(self) -> _Bars:
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


# --------------------------------------------------------------------------- running


class _Inline:
    """A stand-in for the pool with ``jobs=1``: runs each job in this process on submit."""

    def __init__(self, on_progress: Callable[[str, float], None]) -> None:
        self.on_progress = on_progress

    def submit(self, fn: Callable[..., Outcome], *args: Any) -> Future[Outcome]:
        fut: Future[Outcome] = Future()
        fut.set_result(fn(*args, self.on_progress))
        return fut


def _context() -> multiprocessing.context.BaseContext:
    """fork (fast start, inherits loaded backends) unless CUDA is already initialised here."""
    methods = multiprocessing.get_all_start_methods()
    torch = sys.modules.get("torch")
    cuda_live = False
    if torch is not None:
        with contextlib.suppress(Exception):
            cuda_live = bool(torch.cuda.is_initialized())
    method = os.environ.get("NYESHC_START_METHOD") or ("fork" if "fork" in methods and not cuda_live
                                                       else "spawn")
    return multiprocessing.get_context(method)


def _stop(processes: list[Any], grace: float) -> None:
    for p in processes:
        with contextlib.suppress(Exception):
            p.terminate()
    deadline = time.monotonic() + grace
    for p in processes:
        p.join(max(0.0, deadline - time.monotonic()))
        if p.is_alive():
            with contextlib.suppress(Exception):
                p.kill()
                p.join(1.0)


def _kill(pool: ProcessPoolExecutor) -> None:
    """Stop the workers now: SIGTERM (they remove their temporary files), then SIGKILL.

    The pool's manager thread removes a worker from its table when the worker says it is
    leaving, and joins it on its own time: every worker ever seen in the table is stopped and
    waited for here, so none outlives this call."""
    table = getattr(pool, "_processes", None) or {}  # private, but stable
    known: dict[int, Any] = {}
    for _ in range(5):
        known.update((p.pid, p) for p in list(table.values()))
        alive = [p for p in known.values() if p.is_alive()]
        if not alive:
            break
        _stop(alive, 5.0)
    pool.shutdown(wait=False, cancel_futures=True)
    _stop([p for p in known.values() if p.is_alive()], 5.0)


def execute(plan: Plan, cache: Cache | None, jobs: int | None = None, progress: bool = True,
            console: Console | None = None, *, verify: bool = False,
            scratch_dir: str | os.PathLike[str] | None = None) -> Artifacts:
    """Run every job of ``plan`` that ``cache`` lacks; return key → data path for all jobs.

    ``jobs``: worker processes (default ``os.cpu_count()``); 1 runs in this process (for tests
    and debuggers). ``progress``: rich bars on ``console`` (default stderr) when it is a
    terminal. ``verify``: check the checksum of every cached entry before deciding it is a hit
    (otherwise entries are verified when read). ``cache=None``: a temporary cache under
    ``scratch_dir`` (see the module docstring). Raises :class:`JobFailed`.
    """
    temporary = cache is None
    if cache is None:
        if scratch_dir is not None:
            Path(scratch_dir).mkdir(parents=True, exist_ok=True)
        cache = Cache(tempfile.mkdtemp(prefix="nyeshc-cache-", dir=scratch_dir))
    try:
        with hold_cache(cache):
            paths = _run(plan, cache, jobs, progress, console, verify)
    except BaseException:
        if temporary:
            shutil.rmtree(cache.root, ignore_errors=True)
        raise
    return Artifacts(cache, paths, temporary=temporary)


class _Schedule(NamedTuple):
    by_key: dict[str, Job]
    done: set[str]
    checked: set[str]
    cached: Counter[str]
    todo: list[Job]
    dependents: dict[str, list[Job]]
    pending: dict[str, Job]
    ready: list[tuple[float, int, str]]
    push_if_ready: Callable[[Job], None]


def _schedule(plan: Plan, cache: Cache, verify: bool) -> _Schedule:
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
    return _Schedule(by_key, done, checked, cached, todo, dependents, pending, ready, push_if_ready)


def _record(s: _Schedule, reruns: Counter[str], bars: _Bars, job: Job, status: str, value: Any,
            extra: str | None) -> JobFailed | None:
    """Take a finished job's outcome into the schedule (shared by both executors): a success
    frees its dependents; a missing input (corrupt and discarded, or vanished) is made again and
    the job retried; a failure is returned for the caller to raise once running jobs end."""
    done, checked, pending, dependents, by_key = s.done, s.checked, s.pending, s.dependents, s.by_key
    push_if_ready = s.push_if_ready
    if status == "done":
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


def _run(plan: Plan, cache: Cache, jobs: int | None, progress: bool, console: Console | None,
         verify: bool) -> dict[str, Path]:
    schedule = _schedule(plan, cache, verify)
    by_key, done, checked, cached, todo, dependents, pending, ready, push_if_ready = schedule

    workers = max(1, jobs if jobs is not None else (os.cpu_count() or 1))
    workers = min(workers, max(1, len(todo)))
    console = console if console is not None else Console(stderr=True)
    quiet = not progress or not console.is_terminal
    bars = _Bars(None if quiet else console, todo, cached)
    reruns: Counter[str] = Counter()
    failure: JobFailed | None = None
    running: dict[Future[Outcome], Job] = {}
    gpu_busy = 0
    told = False

    def on_progress(key: str, fraction: float) -> None:
        job = by_key.get(key)
        if job is not None:
            bars.running(job, fraction)

    pool: ProcessPoolExecutor | None = None
    progress_queue: Any = None
    if todo and workers > 1:
        ctx = _context()
        progress_queue = ctx.Queue()
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                                   initargs=(progress_queue,))
        pool.submit(int).result()  # start (fork) the workers before any progress thread exists
    if pool is None and todo:
        # jobs run in this process: give BLAS one thread, as in the pool's workers, so the
        # floating-point results (and so the pixels) do not depend on --jobs or the core count
        _limit_blas_threads()
    runner: Any = pool if pool is not None else _Inline(on_progress)

    def drain() -> None:
        if progress_queue is None:
            return
        while True:
            try:
                key, fraction = progress_queue.get_nowait()
            except (queue_module.Empty, OSError, ValueError, EOFError):
                return
            job = by_key.get(key)
            if job is not None and any(j.key == key for j in running.values()):
                bars.running(job, fraction)

    def settle(fut: Future[Outcome], job: Job) -> None:
        nonlocal failure, gpu_busy
        if job.device == "gpu":
            gpu_busy -= 1
        try:
            status, value, extra = fut.result()
        except BrokenProcessPool:
            status, value, extra = ("failed", RuntimeError(
                "the worker process running it died (killed for lack of memory, or crashed)"), "")
        except Exception as exc:  # noqa: BLE001 - e.g. the job could not be pickled
            status, value, extra = ("failed", exc, traceback.format_exc())
        found = _record(schedule, reruns, bars, job, status, value, extra)
        if found is not None and failure is None:
            failure = found
    try:
        with bars:
            while pending:
                while ready and len(running) < workers and failure is None:
                    picked = _pick(ready, pending, running.values(), gpu_busy)
                    if picked is None:
                        break
                    if picked.device == "gpu":
                        gpu_busy += 1
                    verify_keys = frozenset(k for k in picked.inputs if k not in checked)
                    fut = runner.submit(_work, picked, str(cache.root), verify_keys)
                    running[fut] = picked
                    if pool is None:  # inline: already finished
                        settle(fut, running.pop(fut))
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
                finished, _ = wait(list(running), timeout=0.2, return_when=FIRST_COMPLETED)
                drain()
                for fut in finished:
                    settle(fut, running.pop(fut))
    except BaseException:
        if pool is not None:
            _kill(pool)
            pool = None
        raise
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
        if progress_queue is not None:
            progress_queue.close()
            progress_queue.cancel_join_thread()
    if failure is not None:
        raise failure
    paths: dict[str, Path] = {}
    for key, job in by_key.items():
        path = cache.data_path(key)
        if path is None:
            raise JobFailed(job, BackendError("its artifact vanished from the cache during the build"))
        paths[key] = path
    return paths


def _pick(ready: list[tuple[float, int, str]], pending: dict[str, Job], running: Any,
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
