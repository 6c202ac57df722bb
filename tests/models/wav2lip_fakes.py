"""Stand-ins for the Wav2Lip adapter's tests: a tiny network written here (not Wav2Lip's code)
with the published interface of ``models.Wav2Lip`` from Rudrabha/Wav2Lip — ``Wav2Lip()`` with
``forward(audio_sequences (B, 1, 80, 16), face_sequences (B, 6, 96, 96)) -> (B, 3, 96, 96)``
in [0, 1] (a sigmoid) — laid out as a fake checkout (``models/__init__.py`` exporting it) or as
a fake ``lipsync`` package, with checkpoints saved the way the originals are.

Imported by the tests as ``wav2lip_fakes`` (this folder is on ``sys.path`` under pytest's
default import mode).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import numpy as np

NETWORK = '''\
import torch
from torch import nn


class Wav2Lip(nn.Module):
    """Stand-in with Wav2Lip's interface: the audio window shifts the colours, the masked and
    the reference face go through a small convolution; sigmoid output in [0, 1]."""

    def __init__(self):
        super().__init__()
        self.audio_encoder = nn.Sequential(nn.Linear(80 * 16, 8), nn.Tanh(), nn.Linear(8, 3))
        self.face_encoder = nn.Conv2d(6, 3, kernel_size=3, stride=1, padding=1)
        self.output_block = nn.Conv2d(3, 3, kernel_size=1)

    def forward(self, audio_sequences, face_sequences):
        B = audio_sequences.size(0)
        assert tuple(audio_sequences.shape[1:]) == (1, 80, 16), audio_sequences.shape
        assert tuple(face_sequences.shape[1:]) == (6, 96, 96), face_sequences.shape
        a = self.audio_encoder(audio_sequences.reshape(B, -1))
        x = self.face_encoder(face_sequences) + 4.0 * a[:, :, None, None]
        return torch.sigmoid(self.output_block(x))
'''


def write_checkout(root: Path) -> Path:
    """A fake Rudrabha/Wav2Lip clone at ``root``: ``models/__init__.py`` + ``models/wav2lip.py``."""
    (root / "models").mkdir(parents=True, exist_ok=True)
    (root / "models" / "wav2lip.py").write_text(NETWORK, encoding="utf-8")
    (root / "models" / "__init__.py").write_text("from .wav2lip import Wav2Lip\n", encoding="utf-8")
    return root


def write_lipsync_package(site: Path) -> Path:
    """A fake ``lipsync`` distribution under ``site`` (lipsync/models/wav2lip.py with Wav2Lip)."""
    pkg = site / "lipsync"
    (pkg / "models").mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text("", encoding="utf-8")
    (pkg / "models" / "__init__.py").write_text("from lipsync.models.wav2lip import Wav2Lip\n", encoding="utf-8")
    (pkg / "models" / "wav2lip.py").write_text(NETWORK, encoding="utf-8")
    return site


def make_state_dict(seed: int = 0) -> dict[str, Any]:
    """Seeded weights for the stand-in network (built from the NETWORK source, not imported)."""
    import torch

    scope: dict[str, Any] = {}
    exec(compile(NETWORK, "<wav2lip stand-in>", "exec"), scope)  # noqa: S102 — our own test source
    gen = torch.Generator().manual_seed(seed)
    net = scope["Wav2Lip"]()
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
    return {k: v.clone() for k, v in net.state_dict().items()}


def save_original_checkpoint(path: Path, seed: int = 0) -> Path:
    """As the Wav2Lip trainers save them: ``{'state_dict': ..., 'optimizer': ..., 'global_step',
    'global_epoch'}`` with the ``module.`` prefix of ``nn.DataParallel``."""
    import torch

    state = {f"module.{k}": v for k, v in make_state_dict(seed).items()}
    torch.save({"state_dict": state, "optimizer": None, "global_step": 1, "global_epoch": 1}, path)
    return path


def save_plain_checkpoint(path: Path, seed: int = 0) -> Path:
    """As the ``lipsync`` package's converted weights: the bare state dict."""
    import torch

    torch.save(make_state_dict(seed), path)
    return path


def test_wave(seconds: float, rate: int = 16_000) -> np.ndarray:
    """A deterministic test signal: a rising tone plus a high partial, then silence, then a burst.

    Used with reference mel values computed from the real Wav2Lip ``audio.py``."""
    n = int(round(seconds * rate))
    t = np.arange(n, dtype=np.float64) / rate
    wave = 0.5 * np.sin(2 * np.pi * (180.0 + 400.0 * t) * t) + 0.15 * np.sin(2 * np.pi * 2500.0 * t)
    wave[(t >= 0.30) & (t < 0.45)] = 0.0
    burst = (t >= 0.45) & (t < 0.5)
    wave[burst] = 0.8 * np.sin(2 * np.pi * 900.0 * t[burst])
    return wave


test_wave.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


# --------------------------------------------------------------------------- decoding


def decode_video(path: Path, width: int, height: int) -> np.ndarray:
    """Every frame of an MP4 as ``uint8 (N, H, W, 3)``, via imageio-ffmpeg's binary."""
    import imageio_ffmpeg

    raw = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error",
                          "-i", str(path), "-map", "0:v:0", "-fps_mode", "passthrough", "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    size = width * height * 3
    assert len(raw) % size == 0
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)


def probe(path: Path) -> str:
    """``ffmpeg -i PATH``'s stream description (stderr)."""
    import imageio_ffmpeg

    return subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)],
                          capture_output=True, text=True).stderr
