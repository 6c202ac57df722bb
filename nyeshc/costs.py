"""A backend's cost model: how long its work takes, declared by the backend and read by the
planner (a shared fact below both, so backends do not import the planner)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Device = Literal["cpu", "gpu"]


@dataclass(frozen=True, slots=True)
class CostModel:
    """How long a backend's work takes, for ``nyeshc plan`` estimates: each backend declares
    one (``cost``), the planner records it in the plan's backend table.

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
