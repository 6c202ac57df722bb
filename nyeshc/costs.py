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


# --------------------------------------------------------------------------- diffusion models

DIFFUSION_FAMILIES: dict[str, dict[str, float]] = {
    # native side; seconds per denoiser evaluation (batch 1) on a GPU / a CPU; VAE decode; prompt encoding.
    # GPU: one A100-class GPU at half precision, from commonly published timings (SD 1.5 ~ 30 guided
    # steps/s at 512², SDXL and SD3-medium ~ 8 at 1024², Flux-dev ~ 2); CPU: a 16-thread desktop in
    # float32. Neither measured here (no GPU, two shared cores); docs/models/diffusers.md says so,
    # and `nyeshc plan` scales estimates by what a build measured (docs/caching.md).
    "sd": {"side": 512, "gpu": 0.017, "cpu": 1.2, "decode_gpu": 0.03, "decode_cpu": 1.5,
           "encode_gpu": 0.01, "encode_cpu": 0.1},
    "sdxl": {"side": 1024, "gpu": 0.06, "cpu": 8.0, "decode_gpu": 0.15, "decode_cpu": 8.0,
             "encode_gpu": 0.02, "encode_cpu": 0.3},
    "sd3": {"side": 1024, "gpu": 0.07, "cpu": 10.0, "decode_gpu": 0.15, "decode_cpu": 8.0,
            "encode_gpu": 0.05, "encode_cpu": 2.0},
    "flux": {"side": 1024, "gpu": 0.45, "cpu": 60.0, "decode_gpu": 0.15, "decode_cpu": 8.0,
             "encode_gpu": 0.05, "encode_cpu": 3.0},
}


def diffusion_family(class_name: str) -> str:
    """``sd``, ``sdxl``, ``sd3`` or ``flux`` for a diffusers pipeline class name
    (``model_index.json``'s ``_class_name``); anything else is costed as ``sdxl``."""
    name = class_name or ""
    if "Flux" in name:
        return "flux"
    if "StableDiffusion3" in name:
        return "sd3"
    if "XL" in name:
        return "sdxl"
    if "StableDiffusion" in name:
        return "sd"
    return "sdxl"


def diffusion_cost(family: str, device: Device, steps: int, guidance: float, pixels: int) -> CostModel:
    """A text-to-image pipeline's cost per generated picture: ``steps`` denoiser evaluations
    (twice each under classifier-free guidance, which every family but Flux runs when
    ``guidance > 1``), scaled by the generation size against the family's native size, plus
    the VAE decode; ``per_call`` is one prompt encoding. The picture is made at the generation
    size whatever the canvas, so it is not scaled by the frame's pixels."""
    f = DIFFUSION_FAMILIES.get(family, DIFFUSION_FAMILIES["sdxl"])
    dev: Device = "gpu" if device == "gpu" else "cpu"
    scale = pixels / float(f["side"] ** 2)
    evals = steps * (2 if guidance > 1.0 and family != "flux" else 1)
    per_frame = evals * f[dev] * scale + f[f"decode_{dev}"] * scale
    return CostModel(device=dev, per_call=f[f"encode_{dev}"], per_frame=round(per_frame, 4), scale_by_pixels=False)


def stable_audio_cost(device: Device, steps: int, guidance: float) -> CostModel:
    """Stable Audio Open: 0.17 s of GPU per second of audio at 100 steps with guidance (the
    model card's ~8 s for 47 s on an A100), 4 s of CPU (an estimate, not measured), scaled by
    ``steps / 100`` and halved without guidance (one pass a step); a call loads and encodes."""
    gpu = device == "gpu"
    per_s = (0.17 if gpu else 4.0) * steps / 100.0 * (1.0 if guidance > 1.0 else 0.5)
    return CostModel(device="gpu" if gpu else "cpu", per_call=2.0 if gpu else 10.0, per_audio_second=round(per_s, 4))
