"""A small pretrained face generator from PyPI behind the image and portrait protocols.

``gan-face-generate`` (Chien Liu, MIT licence; https://github.com/chien-liu/DCGAN-PyTorch) ships
a DCGAN generator (the PyTorch DCGAN tutorial's architecture: ``nz = 100``, ``ngf = 64``,
64x64 RGB out of ``tanh``) with weights trained on DigiFace-1M inside the wheel
(``gan_face_generate/weights.tar``, a ``torch.save`` dict with ``netG_state_dict``). It runs
offline on a CPU in a few milliseconds per face, which makes it the one real, pretrained
network nyeshc can render with out of the box.

Install it without its dependencies (it declares torchvision, wandb, matplotlib and others that
only its training and plotting scripts use; the generator needs torch alone)::

    pip install --no-deps gan-face-generate==1.1.1

Latents are the generator's ``z`` (``float32 (100,)``, standard normal, as it was trained):
``sample`` draws ``z`` from the seed and scales it by ``truncation`` (the truncation trick in
Z: toward the prior's mean); ``blend`` and paths are spherical (slerp), which keeps
intermediate latents at the norm the generator saw in training.
"""

from __future__ import annotations

import importlib.util
import math
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nyeshc.backends.base import BackendError, CostModel, Ease
from nyeshc.backends.models.common import (
    FacePortraits,
    cover,
    import_torch,
    key_pair,
    key_position,
    pick_device,
    require_file,
    setting_name,
    sha256_file,
    shared_network,
)

__all__ = ["GANFACE_FACE_BOX", "GANFACE_MOUTH", "GanFaceImage", "GanFacePortrait", "NZ", "PIP_LINE"]

NZ = 100  # the package's latent size (inference.py: nz = 100)
NGF = 64  # its generator width (ngf = 64)
PIP_LINE = "pip install --no-deps gan-face-generate==1.1.1"
_HINT = "see docs/models/ganface.md"

# Measured here on the mean of 256 faces (seeds 1..256 of the shipped weights): the mouth's dark
# band sits at y = 0.80 on the centre line, the eyes at y = 0.42; the face fills most of the frame.
GANFACE_MOUTH = (0.5, 0.8)
GANFACE_FACE_BOX = (0.14, 0.10, 0.86, 0.98)

# Measured here on one thread of a shared 2-core box: ~60 ms per 64x64 face (batch 1) and ~180 ms
# per 1280x720 frame with the Lanczos upscale, which runs on the CPU whatever the device.
_CPU_COST = CostModel(device="cpu", per_call=0.01, per_frame=0.18, scale_by_pixels=False)
_GPU_COST = CostModel(device="gpu", per_call=0.01, per_frame=0.13, scale_by_pixels=False)



def _package_weights(backend_id: str) -> Path:
    spec = importlib.util.find_spec("gan_face_generate")
    if spec is None or not spec.submodule_search_locations:
        raise BackendError(f"{backend_id} needs the gan-face-generate package, which is not installed: "
                           f"{PIP_LINE} ({_HINT})")
    return Path(next(iter(spec.submodule_search_locations))) / "weights.tar"


def _slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    a = np.asarray(a, np.float64).reshape(-1)
    b = np.asarray(b, np.float64).reshape(-1)
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na < 1e-8 or nb < 1e-8:
        return ((1 - t) * a + t * b).astype(np.float32)
    cos = float(np.clip(a @ b / (na * nb), -1.0, 1.0))
    om = math.acos(cos)
    if om < 1e-4 or math.pi - om < 1e-4:
        return ((1 - t) * a + t * b).astype(np.float32)
    so = math.sin(om)
    return (math.sin((1 - t) * om) / so * a + math.sin(t * om) / so * b).astype(np.float32)


class _GanFace:
    id = "image.ganface"
    version = "1"
    modality = "image"
    latent_dim = NZ
    _EXTRA: tuple[str, ...] = ()

    def __init__(self, *, device: str = "auto", weights: Any = None, weights_sha256: str | None = None,
                 **unknown: Any) -> None:
        mod = self.modality
        if unknown:
            known = ("device", "weights", *self._EXTRA)
            raise BackendError(f"{self.id}: unknown setting(s) {', '.join(sorted(unknown))} in "
                               f"[profile.<name>.{mod}]; known: {', '.join(known)} ({_HINT})")
        if weights is None:
            path = _package_weights(self.id)
            self.weights = require_file(self.id, mod, "weights", str(path),
                                        "the generator weights of gan-face-generate", f"reinstall: {PIP_LINE}")
            self._custom = False
        else:
            self.weights = require_file(self.id, mod, "weights", weights,
                                        "a DCGAN generator checkpoint (a torch.save dict with netG_state_dict)",
                                        _HINT)
            self._custom = True
        self.sha256 = sha256_file(self.weights)
        if weights_sha256 is not None and weights_sha256 != self.sha256:
            raise BackendError(f"{self.id}: the weights {self.weights} changed since the film was planned; "
                               "plan it again")
        self.device = str(device or "auto").strip().lower()
        if not (self.device in ("auto", "cpu") or self.device.startswith("cuda")):
            raise BackendError(f"{self.id}: {setting_name(mod, 'device')} must be \"auto\", \"cpu\" or "
                               f"\"cuda[:N]\", not {device!r}")
        if self.device == "cpu":
            self.cost = _CPU_COST
        elif self.device.startswith("cuda"):
            self.cost = _GPU_COST
        else:
            self.cost = _GPU_COST if pick_device(self.id, "auto") != "cpu" else _CPU_COST
        self._lock = threading.Lock()
        self._G: Any = None
        self._torch: Any = None
        self._dev = "cpu"

    @property
    def settings(self) -> Mapping[str, Any]:
        s: dict[str, Any] = {"device": self.device, "weights_sha256": self.sha256}
        if self._custom:
            s["weights"] = str(self.weights)
        return s

    # ------------------------------------------------------------------ the network

    def _net(self) -> Any:
        with self._lock:
            if self._G is not None:
                return self._G
            torch = import_torch(self.id)
            dev = pick_device(self.id, self.device)
            G = shared_network(("ganface", str(self.weights.resolve()), self.sha256, dev),
                               lambda: self._load(torch, dev))
            self._torch, self._dev, self._G = torch, dev, G
            return G

    def _load(self, torch: Any, dev: str) -> Any:
        try:
            from gan_face_generate.models import Generator  # noqa: PLC0415
        except ImportError as exc:
            raise BackendError(f"{self.id} needs the gan-face-generate package: {PIP_LINE} ({exc})") from exc
        try:
            ck = torch.load(str(self.weights), map_location="cpu", weights_only=True)
            G = Generator(0, 3, NZ, NGF)
            G.load_state_dict(ck["netG_state_dict"])
        except Exception as exc:  # a foreign or corrupt file: say which
            raise BackendError(f"{self.id}: could not load the generator weights {self.weights}: "
                               f"{type(exc).__name__}: {exc} (check {setting_name(self.modality, 'weights')})"
                               ) from exc
        return G.eval().requires_grad_(False).to(dev)

    def _face(self, latent: np.ndarray) -> np.ndarray:
        """``uint8 (64, 64, 3)`` for one ``z``."""
        G = self._net()
        torch = self._torch
        z = np.asarray(latent, np.float32).reshape(-1)
        if z.shape[0] != NZ:
            raise BackendError(f"{self.id}: latent has {z.shape[0]} values, the generator's z has {NZ}")
        with torch.no_grad():
            x = G(torch.from_numpy(z.copy()).reshape(1, NZ, 1, 1).to(self._dev))
            img = ((x[0].permute(1, 2, 0) + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8)
        return img.cpu().numpy()

    # ------------------------------------------------------------------ latent space (z)

    def sample(self, seed: int, truncation: float = 1.0) -> np.ndarray:
        rng = np.random.default_rng(np.random.SeedSequence([int(seed) % (1 << 63), 0x6766]))
        return (rng.standard_normal(NZ) * float(truncation)).astype(np.float32)

    def blend(self, a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
        return _slerp(a, b, float(t))


class GanFaceImage(_GanFace):
    """Looks and backdrops that are faces (a 64x64 generator, scaled to cover the frame)."""

    id = "image.ganface"
    modality = "image"

    def sample(self, seed: int, truncation: float = 1.0, *, prompt: str | None = None) -> np.ndarray:
        """The latent for ``seed``; the generator has no text conditioning, so ``prompt`` is not
        read (the seed alone chooses the face)."""
        return super().sample(seed, truncation)

    def interpolate(self, keys: Sequence[np.ndarray], t: float, ease: Ease = "smooth") -> np.ndarray:
        """Key ``i`` at ``t = i / (n - 1)`` (after easing): slerp between neighbouring keys."""
        i, f = key_pair(key_position(len(keys), t, ease), len(keys))
        return _slerp(np.asarray(keys[i], np.float32).reshape(-1), np.asarray(keys[i + 1], np.float32).reshape(-1), f)

    def render(self, latent: np.ndarray, width: int, height: int) -> np.ndarray:
        return cover(self._face(latent), int(width), int(height))


class GanFacePortrait(FacePortraits, _GanFace):
    """Faces from seeds. Opaque (the generator paints its own background); ``mouth`` and
    ``face_box`` are fixed fractions measured on its mean face (settings override them);
    ``latent`` stays ``None`` so motion backends animate the picture."""

    id = "portrait.ganface"
    modality = "portrait"
    _EXTRA = ("mouth", "face_box")

    DEFAULT_MOUTH = GANFACE_MOUTH
    DEFAULT_FACE_BOX = GANFACE_FACE_BOX

    def _face_rgb(self, latent: np.ndarray) -> np.ndarray:
        return self._face(latent)
