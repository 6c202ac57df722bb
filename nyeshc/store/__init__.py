"""The artifact store: the content-addressed cache (:mod:`nyeshc.store.cache`), its compressed
frame sequences (:mod:`nyeshc.store.frames`) and the release of memory-mapped pages
(:mod:`nyeshc.store.pages`). Below both the executor, which fills it, and the renderer, which
reads it, so the renderer does not depend on how jobs are run."""

from nyeshc.store.cache import Cache

__all__ = ["Cache"]
