"""The resolve stage: checked IR + the outside world's facts → the film's meaning, once.

``resolve(film, services)`` works out what a checked script means, in one place: the canvas,
frame rate and film seed (:mod:`~nyeshc.resolve.context`); every scene, transition, beat, line,
action line and credits roll placed on the timeline in exact time, including the screenplay's
flow and times on the music's grid (:mod:`~nyeshc.resolve.timeline`); each scene directive and
the soundtrack typed, its options read and its defaults applied (:mod:`~nyeshc.resolve.directives`).
The planner (:mod:`nyeshc.plan`) turns the result into jobs and layers by reading its fields.

While it reads, the stage keeps the :mod:`~nyeshc.resolve.ledger` (which options were read,
which elements reached the film), and findings only it can make (``E704``, ``W705``, ``E706``:
music time) go to the ledger as diagnostics. Seeds and name paths are
:mod:`~nyeshc.resolve.seeds`'; the facts it asks the outside world for (backend ids, durations,
checksums, grids) come through :class:`~nyeshc.resolve.services.Services`.
"""

from __future__ import annotations

from pathlib import Path

from nyeshc import ir
from nyeshc.resolve.context import Context
from nyeshc.resolve.services import Services
from nyeshc.resolve.timeline import Layout, layout

__all__ = ["Context", "Layout", "resolve"]


def resolve(film: ir.Film, services: Services, root: str | Path | None = None) -> tuple[Context, Layout]:
    """The film's context and its resolved timeline (call inside
    :func:`~nyeshc.resolve.ledger.keeping` to account for what is read)."""
    ctx = Context.make(film, services, Path(root) if root is not None else None)
    return ctx, layout(ctx)
