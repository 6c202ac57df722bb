"""The execute stage: run a plan's jobs through the artifact cache.

``execute(plan, cache)`` runs what the cache lacks (:mod:`nyeshc.execute.local`);
:mod:`nyeshc.execute.ops` performs one job; :mod:`nyeshc.store.cache` stores artifacts by
key; :func:`write_lock` records the backends, checkpoints and seeds that made a film.
:func:`execute_ray` (:mod:`nyeshc.execute.ray`, loaded on first use) runs the jobs as Ray tasks;
without Ray installed it raises :class:`RayNotInstalled`.
"""

from typing import Any

from nyeshc.execute.local import Artifacts, JobFailed, execute
from nyeshc.execute.lock import write_lock
from nyeshc.store.cache import Cache

__all__ = ["Artifacts", "Cache", "JobFailed", "RayNotInstalled", "execute", "execute_ray",
           "write_lock"]


def __getattr__(name: str) -> Any:
    """``execute_ray`` and ``RayNotInstalled`` on first use: ``import nyeshc.execute`` never
    imports Ray (nor does ``nyeshc.execute.ray`` itself, until it runs)."""
    if name in ("execute_ray", "RayNotInstalled"):
        from nyeshc.execute import ray as ray_executor

        return ray_executor.execute if name == "execute_ray" else ray_executor.RayNotInstalled
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
