"""The job-running side of both executors: a worker runs one job against the cache (reads its
inputs, runs the op, stores the output, sends back only the key) under a trimming of its mapped
pages and with the cache's memo folder lent to its backend (``backends.base.memo_folder``),
reports progress through the pool's queue, and dies cleanly on SIGTERM (the executor stopping
after Ctrl-C), its temporary files removed. The driver's side is
:mod:`nyeshc.execute.scheduling`."""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from nyeshc.backends.base import lending_memo
from nyeshc.execute.ops import run_job
from nyeshc.execute.scheduling import Outcome
from nyeshc.plan.model import Job
from nyeshc.store.cache import Cache
from nyeshc.store.pages import heap_trim, trimming

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS")
"""Set to 1 in pool workers: N workers × N BLAS threads would oversubscribe the cores."""


_QUEUE: Any = None  # the progress queue of a pool worker (None in-process)


_IN_JOB = False


class _Terminated(BaseException):
    """Raised in a worker by SIGTERM (the executor stopping after Ctrl-C)."""


def _on_sigterm(signum: int, frame: Any) -> None:
    if _IN_JOB:
        raise _Terminated()
    os._exit(128 + signum)


def limit_blas_threads() -> None:
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


def init_worker(progress_queue: Any) -> None:
    global _QUEUE
    _QUEUE = progress_queue
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
    signal.signal(signal.SIGTERM, _on_sigterm)
    for var in THREAD_VARS:
        os.environ[var] = "1"
    limit_blas_threads()
    if "torch" in sys.modules:  # pragma: no cover - only with model backends
        with contextlib.suppress(Exception):
            sys.modules["torch"].set_num_threads(1)


def _portable(exc: BaseException) -> BaseException:
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 - an exception that cannot cross processes
        return RuntimeError(f"{type(exc).__name__}: {exc}")


def work(job: Job, root: str, verify: frozenset[str],
          progress: Callable[[str, float], None] | None = None) -> Outcome:
    """Run one job against the cache at ``root``; never raises (except when terminated)."""
    global _IN_JOB
    _IN_JOB = True
    try:
        cache = Cache(root)
        # the pages of the cache's memory maps this job reads and writes (a long shot's frames:
        # gigabytes) would stay in this worker's resident memory until the maps close
        with trimming(root), lending_memo(cache.memo):
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
        if _QUEUE is not None:  # a pool worker: its freed temporaries are not kept as its RSS
            heap_trim()  # (a few ms; a job run in the driver's own process leaves its heap alone)


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
