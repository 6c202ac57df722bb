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
import multiprocessing
import os
import queue as queue_module
import shutil
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from rich.console import Console

from nyeshc.backends.base import BackendError
from nyeshc.execute.scheduling import (
    Artifacts,
    Bars,
    JobFailed,
    Outcome,
    cache_in_use,
    describe_cause,
    hold_cache,
    make_schedule,
    pick_job,
    record_outcome,
)
from nyeshc.execute.worker import THREAD_VARS, init_worker, limit_blas_threads, work
from nyeshc.plan.model import Job, Plan
from nyeshc.store.cache import Cache
from nyeshc.store.pages import forking

__all__ = ["THREAD_VARS", "Artifacts", "JobFailed", "cache_in_use", "describe_cause", "execute", "hold_cache"]


# --------------------------------------------------------------------------- the pool


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
            scratch_dir: str | os.PathLike[str] | None = None,
            when_done: tuple[Collection[str], Callable[[], None]] | None = None) -> Artifacts:
    """Run every job of ``plan`` that ``cache`` lacks; return key → data path for all jobs.

    ``jobs``: worker processes (default ``os.cpu_count()``); 1 runs in this process (for tests
    and debuggers). ``progress``: rich bars on ``console`` (default stderr) when it is a
    terminal. ``verify``: check the checksum of every cached entry before deciding it is a hit
    (otherwise entries are verified when read). ``cache=None``: a temporary cache under
    ``scratch_dir`` (see the module docstring). ``when_done=(keys, call)``: ``call()`` (quick:
    it may start a thread) once every job making one of ``keys`` is done or cached, while the
    other jobs go on (the build starts the film's sound then: ``render.segments.SoundAhead``).
    Raises :class:`JobFailed`.
    """
    temporary = cache is None
    if cache is None:
        if scratch_dir is not None:
            Path(scratch_dir).mkdir(parents=True, exist_ok=True)
        cache = Cache(tempfile.mkdtemp(prefix="nyeshc-cache-", dir=scratch_dir))
    try:
        with hold_cache(cache):
            paths, timings = _run(plan, cache, jobs, progress, console, verify, when_done)
    except BaseException:
        if temporary:
            shutil.rmtree(cache.root, ignore_errors=True)
        raise
    return Artifacts(cache, paths, temporary=temporary, timings=timings)


def cores_to_spare(running: Sequence[Job], workers: int, ready: bool, pending: Mapping[str, Job],
                   dependents: Mapping[str, Sequence[Job]], done: Collection[str]) -> bool:
    """Whether work beside the jobs (``when_done``'s call: the film's sound) takes no core a job
    is about to need: every worker is busy, or one is free and no job is ``ready`` for it nor
    waits only on running ones (a quick job feeding the next: the edited line's voice track
    before its lip-sync, whose submission the work would otherwise delay)."""
    if len(running) >= workers:
        return True
    if ready:
        return False
    busy = {j.key for j in running}
    return not any(d.key in pending and all(k in done or k in busy for k in d.inputs)
                   for k in busy for d in dependents.get(k, ()))


def _run(plan: Plan, cache: Cache, jobs: int | None, progress: bool, console: Console | None,
         verify: bool, when_done: tuple[Collection[str], Callable[[], None]] | None = None,
         ) -> tuple[dict[str, Path], dict[str, float]]:
    schedule = make_schedule(plan, cache, verify)
    by_key, done, checked, cached, todo, dependents, pending, ready, push_if_ready, _ = schedule
    waiting = when_done
    awaited = set(when_done[0]) if when_done is not None else set()  # shrinks as they are done

    def call_when_done() -> None:
        nonlocal waiting
        if waiting is None:
            return
        while awaited:  # checked one at a time, so a long film's loop does not rescan them all
            k = next(iter(awaited))
            if not (k in done or (k not in by_key and cache.has(k))):
                return
            awaited.discard(k)
        if pool is not None and not cores_to_spare(list(running.values()), workers, bool(ready), pending,
                                                   dependents, done):
            return
        call, waiting = waiting[1], None
        call()

    workers = max(1, jobs if jobs is not None else (os.cpu_count() or 1))
    workers = min(workers, max(1, len(todo)))
    console = console if console is not None else Console(stderr=True)
    quiet = not progress or not console.is_terminal
    bars = Bars(None if quiet else console, todo, cached)
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
    if todo:
        # one BLAS thread in the driver too, as in each worker: its floating-point sums (the
        # film's mix, the pixels of jobs run here) do not depend on the cores, and no helper
        # thread of OpenBLAS spins on a core a worker needs (`nyeshc build` asks for one thread
        # before numpy loads OpenBLAS: nyeshc/commands/build.py; this covers every other caller)
        limit_blas_threads()
    if todo and workers > 1:
        ctx = _context()
        progress_queue = ctx.Queue()
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=init_worker,
                                   initargs=(progress_queue,))
        with forking():  # (a worker's collections then walk only its own objects)
            pool.submit(int).result()  # start (fork) the workers before any progress thread exists
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
        found = record_outcome(schedule, reruns, bars, job, status, value, extra)
        if found is not None and failure is None:
            failure = found
    try:
        call_when_done()
        with bars:
            while pending:
                while ready and len(running) < workers and failure is None:
                    picked = pick_job(ready, pending, running.values(), gpu_busy)
                    if picked is None:
                        break
                    if picked.device == "gpu":
                        gpu_busy += 1
                    verify_keys = frozenset(k for k in picked.inputs if k not in checked)
                    fut = runner.submit(work, picked, str(cache.root), verify_keys)
                    running[fut] = picked
                    if pool is None:  # inline: already finished
                        settle(fut, running.pop(fut))
                        if failure is None:
                            call_when_done()
                if not running:
                    if failure is not None or not pending:
                        break
                    stuck = next(iter(pending.values()))
                    raise JobFailed(stuck, BackendError("its inputs can never be produced "
                                                        "(a cycle in the job graph?)"))
                if failure is None:
                    call_when_done()
                if failure is not None and not told:
                    told = True
                    bars.note(f"nyeshc: {failure}; waiting for {len(running)} running "
                              f"job{'s' * (len(running) != 1)} to finish")
                finished, _ = wait(list(running), timeout=0.2, return_when=FIRST_COMPLETED)
                drain()
                for fut in finished:
                    settle(fut, running.pop(fut))
                if failure is None:
                    call_when_done()
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
    return paths, schedule.timings


