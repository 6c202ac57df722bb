"""What the planner needs to know about the outside world, behind one injected object.

The planner never imports a backend (see the layers contract in ``pyproject.toml``): the
facts it needs — which backend serves a modality, at what version, with which settings, how
long a synthesised line will be, how long a recording is, what a file's checksum is — reach it
through a :class:`Services` object. ``nyeshc.pipeline.RegistryServices`` is the real
one (backed by the backend registry); tests pass a deterministic fake.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Protocol, runtime_checkable

from nyeshc.costs import CostModel, Device



@dataclass(frozen=True, slots=True)
class BackendInfo:
    """What the planner records about one configured backend."""

    id: str
    version: str
    settings: dict[str, Any] = field(default_factory=dict)
    cost: CostModel = CostModel()
    frame_ranges: bool = False  # a motion backend that draws part of a beat (``renders_frame_ranges``)
    rigs: bool = False  # a motion backend with a set-up per portrait, cached as a job (``rig(portrait)``)

    @property
    def device(self) -> Device:
        return self.cost.device


@runtime_checkable
class Services(Protocol):
    """The planner's window on backends and files. Paths are absolute (already resolved)."""

    def backend(self, modality: str) -> BackendInfo:
        """The backend configured for ``modality`` (``image``, ``portrait``, ``motion``,
        ``music``, ``voice``, ``glyphs``)."""
        ...

    def voice_duration(self, backend: BackendInfo, text: str, pitch: float, rate: float, lang: str) -> float:
        """Exact seconds the voice backend will produce for this line."""
        ...

    def media_duration(self, path: str) -> Fraction | None:
        """Seconds of an audio or video file; ``None`` when it cannot be read."""
        ...

    def has_audio(self, path: str) -> bool:
        """Whether a media file has an audio stream (a ``show`` clip's own sound is mixed when
        it has one); raises ``OSError`` when the file cannot be read."""
        ...

    def file_sha256(self, path: str) -> str:
        """Hex SHA-256 of a file's bytes (raises ``OSError`` when it cannot be read)."""
        ...
