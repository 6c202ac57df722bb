"""Stand-in "model" backends for the doctor and profile tests: the procedural backends dressed
as GPU models — each takes a ``checkpoint`` (and optionally a ``checkout``) setting checked and
hashed the way the real adapters do (``nyeshc.backends.models.common``), and declares a GPU
cost model of a real model's order of magnitude. Registered by monkeypatching
``registry.BUILTINS`` (see :func:`register`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from nyeshc.backends import registry
from nyeshc.backends.base import CostModel
from nyeshc.backends.models.common import require_checkout, require_file, sha256_file
from nyeshc.backends.procedural.image import CPPNImage
from nyeshc.backends.procedural.music import AmbientMusic
from nyeshc.backends.procedural.puppet import PuppetMotion, PuppetPortrait

MODULE = __name__

# the cost models the stand-ins declare (GPU seconds, StyleGAN2/Wav2Lip/JukeBox-like)
IMAGE_COST = CostModel(device="gpu", per_call=2.0, per_frame=0.05)
PORTRAIT_COST = CostModel(device="gpu", per_call=2.0, per_frame=0.05)
MOTION_COST = CostModel(device="gpu", per_call=5.0, per_frame=0.02)
MUSIC_COST = CostModel(device="gpu", per_call=30.0, per_audio_second=180.0)


def _paths(backend_id: str, modality: str, checkpoint: Any, checkout: Any) -> tuple[Path, str]:
    if checkout is not None:
        require_checkout(backend_id, modality, "checkout", checkout, "the model's code checkout", ("model.py",))
    path = require_file(backend_id, modality, "checkpoint", checkpoint, "a checkpoint")
    return path, sha256_file(path)


class StandInImage(CPPNImage):
    id = "image.standin"
    cost = IMAGE_COST

    def __init__(self, *, checkpoint: Any = None, checkout: Any = None, device: str = "auto") -> None:
        self.checkpoint, self.sha256 = _paths(self.id, "image", checkpoint, checkout)
        self.device = device
        super().__init__()

    @property
    def settings(self) -> Mapping[str, Any]:
        return {**super().settings, "checkpoint_sha256": self.sha256}


class StandInPortrait(PuppetPortrait):
    id = "portrait.standin"
    cost = PORTRAIT_COST

    def __init__(self, *, checkpoint: Any = None, checkout: Any = None, device: str = "auto") -> None:
        self.checkpoint, self.sha256 = _paths(self.id, "portrait", checkpoint, checkout)
        super().__init__()

    @property
    def settings(self) -> Mapping[str, Any]:
        return {**super().settings, "checkpoint_sha256": self.sha256}


class StandInMotion(PuppetMotion):
    id = "motion.standin"
    cost = MOTION_COST

    def __init__(self, *, checkpoint: Any = None, checkout: Any = None, device: str = "auto") -> None:
        self.checkpoint, self.sha256 = _paths(self.id, "motion", checkpoint, checkout)
        super().__init__()

    @property
    def settings(self) -> Mapping[str, Any]:
        return {**super().settings, "checkpoint_sha256": self.sha256}


class StandInMusic(AmbientMusic):
    id = "music.standin"
    cost = MUSIC_COST

    def __init__(self, *, checkpoint: Any = None, device: str = "auto") -> None:
        self.checkpoint, self.sha256 = _paths(self.id, "music", checkpoint, None)
        super().__init__()

    @property
    def settings(self) -> dict[str, Any]:
        return {**super().settings, "checkpoint_sha256": self.sha256}


BUILTINS = {
    "image.standin": f"{MODULE}:StandInImage",
    "portrait.standin": f"{MODULE}:StandInPortrait",
    "motion.standin": f"{MODULE}:StandInMotion",
    "music.standin": f"{MODULE}:StandInMusic",
}


def register(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the stand-ins resolvable by id for the rest of the test."""
    monkeypatch.setattr(registry, "BUILTINS", {**registry.BUILTINS, **BUILTINS})
    registry._load_cached.cache_clear()


def full_profile(folder: Path, *, checkpoint: str = "./models/net.pkl", device: str = "auto",
                 checkout: str | None = "./src/net") -> str:
    """A nysh.toml whose `full` profile puts a stand-in on every model modality (all sharing
    one checkpoint path, relative to ``folder``)."""
    out = ['default_profile = "animatic"', ""]
    for modality in ("image", "portrait", "motion", "music"):
        out.append(f"[profile.full.{modality}]")
        out.append(f'backend = "{modality}.standin"')
        out.append(f'checkpoint = "{checkpoint}"')
        out.append(f'device = "{device}"')
        if checkout is not None and modality != "music":
            out.append(f'checkout = "{checkout}"')
        out.append("")
    text = "\n".join(out)
    (folder / "nysh.toml").write_text(text, encoding="utf-8")
    return text


def place_files(folder: Path, payload: bytes = b"stand-in weights\n") -> Path:
    """The checkpoint and checkout that :func:`full_profile` names; returns the checkpoint."""
    (folder / "models").mkdir(parents=True, exist_ok=True)
    ckpt = folder / "models" / "net.pkl"
    ckpt.write_bytes(payload)
    (folder / "src" / "net").mkdir(parents=True, exist_ok=True)
    (folder / "src" / "net" / "model.py").write_text("# stand-in\n", encoding="utf-8")
    return ckpt
