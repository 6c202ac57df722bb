"""The execute stage: run a plan's jobs through the artifact cache.

``execute(plan, cache)`` runs what the cache lacks (:mod:`nyeshc.execute.local`);
:mod:`nyeshc.execute.ops` performs one job; :mod:`nyeshc.execute.cache` stores artifacts by
key; :func:`write_lock` records the backends, checkpoints and seeds that made a film.
"""

from nyeshc.execute.cache import Cache
from nyeshc.execute.local import Artifacts, JobFailed, execute
from nyeshc.execute.lock import write_lock

__all__ = ["Artifacts", "Cache", "JobFailed", "execute", "write_lock"]
