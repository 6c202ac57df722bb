"""The execute stage: run a plan's jobs through the artifact cache.

``execute(plan, cache)`` runs what the cache lacks (:mod:`nyeshc.execute.local`);
:mod:`nyeshc.execute.ops` performs one job; :mod:`nyeshc.store.cache` stores artifacts by
key; :func:`write_lock` records the backends, checkpoints and seeds that made a film.
:func:`execute_ray` (:mod:`nyeshc.execute.ray`, loaded on first use) runs the jobs as Ray tasks;
without Ray installed it raises :class:`RayNotInstalled`.
"""

from typing import Any

__all__ = ["Artifacts", "Cache", "JobFailed", "RayNotInstalled", "execute", "execute_ray",  # noqa: F822
           "write_lock"]

_FROM = {"Artifacts": "nyeshc.execute.local", "JobFailed": "nyeshc.execute.local", "execute": "nyeshc.execute.local",
         "write_lock": "nyeshc.execute.lock", "Cache": "nyeshc.store.cache"}


def __getattr__(name: str) -> Any:
    """Every name on first use: importing one module of the stage (``nyeshc.execute.ops``, which
    the planner's preflight reads) does not start the executor's (multiprocessing, the pool);
    ``execute_ray`` and ``RayNotInstalled`` never import Ray (nor does ``nyeshc.execute.ray``
    itself, until it runs)."""
    import importlib

    if name in ("execute_ray", "RayNotInstalled"):
        from nyeshc.execute import ray as ray_executor

        return ray_executor.execute if name == "execute_ray" else ray_executor.RayNotInstalled
    if name in _FROM:
        return getattr(importlib.import_module(_FROM[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
