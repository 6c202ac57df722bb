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
from typing import Any, Literal, Protocol, runtime_checkable

Device = Literal["cpu", "gpu"]


@dataclass(frozen=True, slots=True)
class CostInfo:
    """How long a backend's work takes, for ``nyeshc plan`` estimates (backends declare theirs
    as ``nyeshc.backends.base.CostModel``, which is this class).

    ``per_call`` seconds for each invocation, plus ``per_frame`` seconds for each rendered
    frame (at 1280×720; scaled by pixel count), plus ``per_audio_second`` seconds for each
    second of audio produced. ``device`` says which resource is spent (``"cpu"`` or ``"gpu"``).
    ``scale_by_pixels`` is false for networks that always run at their own resolution (a GAN,
    First Order Motion Model at 256², Wav2Lip at 96²): their ``per_frame`` is per frame whatever
    the output size."""

    device: Device = "cpu"
    per_call: float = 0.0
    per_frame: float = 0.0
    per_audio_second: float = 0.0
    scale_by_pixels: bool = True

    def estimate(self, *, frames: int = 0, pixels: int = 1280 * 720, audio_seconds: float = 0.0) -> float:
        scale = pixels / (1280 * 720) if self.scale_by_pixels else 1.0
        return self.per_call + self.per_frame * frames * scale + self.per_audio_second * audio_seconds


@dataclass(frozen=True, slots=True)
class BackendInfo:
    """What the planner records about one configured backend."""

    id: str
    version: str
    settings: dict[str, Any] = field(default_factory=dict)
    cost: CostInfo = CostInfo()

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
