"""A stand-in first-order-model checkout for the ``motion.fomm`` tests (our own code).

``write_checkout(root)`` writes ``modules/generator.py`` and ``modules/keypoint_detector.py``
with the real repository's class names, constructor keywords and call signatures, and the same
outputs: ``KPDetector(x) -> {'value': (B, K, 2) in [-1, 1], 'jacobian': (B, K, 2, 2)}`` (a
soft-argmax over per-keypoint heatmaps) and ``OcclusionAwareGenerator(source_image,
kp_driving=, kp_source=) -> {'prediction': (B, 3, H, W) in [0, 1], 'deformed', …}`` with a
``dense_motion_network`` whose output holds the ``'deformation'`` sampling grid
``(B, h, w, 2)``. The dense motion is a small first-order model of our own: each pixel moves
with its nearby keypoints (``kp_source + J_s J_d^-1 (z - kp_driving)``), blended with the
identity far from them. Tiny sizes (32² model) keep every call cheap on one CPU thread.

Imported by the tests as ``fomm_fakes`` (no ``__init__.py`` in tests/models).
"""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path
from typing import Any

import numpy as np

KEYPOINT_DETECTOR = textwrap.dedent('''
    """Stand-in for first-order-model's modules/keypoint_detector.py (nyeshc tests)."""
    import torch
    import torch.nn.functional as F
    from torch import nn


    def centre_grid(h, w, like):
        """(h, w, 2) pixel-centre coordinates in [-1, 1] (x, y), as grid_sample reads them."""
        xs = (torch.arange(w, dtype=like.dtype, device=like.device) * 2 + 1) / w - 1
        ys = (torch.arange(h, dtype=like.dtype, device=like.device) * 2 + 1) / h - 1
        return torch.stack([xs.view(1, w).expand(h, w), ys.view(h, 1).expand(h, w)], dim=-1)


    class KPDetector(nn.Module):
        def __init__(self, block_expansion, num_kp, num_channels, max_features,
                     num_blocks, temperature, estimate_jacobian=False, scale_factor=1,
                     single_jacobian_map=False, pad=0):
            super().__init__()
            width = min(block_expansion, max_features)
            layers = [nn.Conv2d(num_channels, width, 3, padding=1), nn.ReLU()]
            for _ in range(max(0, num_blocks - 1)):
                layers += [nn.Conv2d(width, width, 3, padding=1), nn.ReLU()]
            self.predictor = nn.Sequential(*layers)
            self.kp = nn.Conv2d(width, num_kp, 3, padding=1)
            self.num_kp = num_kp
            if estimate_jacobian:
                self.num_jacobian_maps = 1 if single_jacobian_map else num_kp
                self.jacobian = nn.Conv2d(width, 4 * self.num_jacobian_maps, 3, padding=1)
                self.jacobian.weight.data.mul_(0.05)
                self.jacobian.bias.data.copy_(torch.tensor([1.0, 0.0, 0.0, 1.0] * self.num_jacobian_maps))
            else:
                self.jacobian = None
            self.temperature = temperature
            self.scale_factor = scale_factor

        def forward(self, x):
            if self.scale_factor != 1:
                x = F.interpolate(x, scale_factor=self.scale_factor, mode="bilinear", align_corners=False)
            feature_map = self.predictor(x)
            prediction = self.kp(feature_map)
            b, k, h, w = prediction.shape
            heatmap = F.softmax(prediction.view(b, k, -1) / self.temperature, dim=2).view(b, k, h, w)
            grid = centre_grid(h, w, heatmap)
            out = {"value": (heatmap.unsqueeze(-1) * grid).sum(dim=(2, 3))}
            if self.jacobian is not None:
                maps = self.jacobian(feature_map).view(b, self.num_jacobian_maps, 4, h, w)
                jacobian = (heatmap.unsqueeze(2) * maps).sum(dim=(3, 4))
                out["jacobian"] = jacobian.view(b, k, 2, 2)
            return out
''')

GENERATOR = textwrap.dedent('''
    """Stand-in for first-order-model's modules/generator.py (nyeshc tests)."""
    import torch
    import torch.nn.functional as F
    from torch import nn


    def centre_grid(h, w, like):
        xs = (torch.arange(w, dtype=like.dtype, device=like.device) * 2 + 1) / w - 1
        ys = (torch.arange(h, dtype=like.dtype, device=like.device) * 2 + 1) / h - 1
        return torch.stack([xs.view(1, w).expand(h, w), ys.view(h, 1).expand(h, w)], dim=-1)


    class DenseMotionNetwork(nn.Module):
        def __init__(self, block_expansion, num_blocks, max_features, num_kp, num_channels,
                     estimate_occlusion_map=False, scale_factor=1, kp_variance=0.2):
            super().__init__()
            self.scale_factor = scale_factor
            self.kp_variance = kp_variance
            self.occlusion = nn.Conv2d(num_channels, 1, 3, padding=1) if estimate_occlusion_map else None

        def forward(self, source_image, kp_driving, kp_source):
            b, _, hh, ww = source_image.shape
            h, w = max(1, int(hh * self.scale_factor)), max(1, int(ww * self.scale_factor))
            grid = centre_grid(h, w, source_image)                                   # (h, w, 2)
            d = grid.view(1, 1, h, w, 2) - kp_driving["value"].view(b, -1, 1, 1, 2)  # (b, k, h, w, 2)
            weights = torch.exp(-0.5 * (d ** 2).sum(-1) / self.kp_variance)         # (b, k, h, w)
            if "jacobian" in kp_driving:
                jac = torch.matmul(kp_source["jacobian"], torch.inverse(kp_driving["jacobian"]))
                d = torch.einsum("bkij,bkhwj->bkhwi", jac, d)
            coords = kp_source["value"].view(b, -1, 1, 1, 2) + d
            background = 0.05
            deformation = ((background * grid.unsqueeze(0) + (weights.unsqueeze(-1) * coords).sum(1))
                           / (background + weights.sum(1)).unsqueeze(-1))
            out = {"deformation": deformation, "mask": weights}
            if self.occlusion is not None:
                small = F.interpolate(source_image, size=(h, w), mode="bilinear", align_corners=False)
                out["occlusion_map"] = torch.sigmoid(self.occlusion(small))
            return out


    class OcclusionAwareGenerator(nn.Module):
        def __init__(self, num_channels, num_kp, block_expansion, max_features, num_down_blocks,
                     num_bottleneck_blocks, estimate_occlusion_map=False, dense_motion_params=None,
                     estimate_jacobian=False):
            super().__init__()
            if dense_motion_params is not None:
                self.dense_motion_network = DenseMotionNetwork(num_kp=num_kp, num_channels=num_channels,
                                                               estimate_occlusion_map=estimate_occlusion_map,
                                                               **dense_motion_params)
            else:
                self.dense_motion_network = None
            width = min(block_expansion, max_features)
            self.first = nn.Conv2d(num_channels, width, 3, padding=1)
            self.bottleneck = nn.Sequential(*[nn.Conv2d(width, width, 3, padding=1)
                                              for _ in range(num_bottleneck_blocks)])
            self.final = nn.Conv2d(width, num_channels, 3, padding=1)
            self.num_down_blocks = num_down_blocks

        def forward(self, source_image, kp_driving, kp_source):
            out = {}
            x = source_image
            if self.dense_motion_network is not None:
                dense = self.dense_motion_network(source_image=source_image, kp_driving=kp_driving,
                                                  kp_source=kp_source)
                deformation = dense["deformation"]
                if deformation.shape[1:3] != source_image.shape[2:]:
                    deformation = F.interpolate(deformation.permute(0, 3, 1, 2), size=source_image.shape[2:],
                                                mode="bilinear", align_corners=False).permute(0, 2, 3, 1)
                x = F.grid_sample(source_image, deformation, align_corners=False)
                out["deformed"] = x
                if "occlusion_map" in dense:
                    out["occlusion_map"] = dense["occlusion_map"]
            f = torch.relu(self.first(x))
            for layer in self.bottleneck:
                f = f + torch.relu(layer(f))
            logit = torch.logit(x.clamp(1e-3, 1 - 1e-3))
            out["prediction"] = torch.sigmoid(logit + 0.1 * torch.tanh(self.final(f)))
            return out
''')

CONFIG = textwrap.dedent('''
    # a tiny first-order-model config in the shape of config/vox-256.yaml (nyeshc tests)
    dataset_params:
      root_dir: data/none
      frame_shape: [32, 32, 3]

    model_params:
      common_params:
        num_kp: 5
        num_channels: 3
        estimate_jacobian: True
      kp_detector_params:
         temperature: 0.1
         block_expansion: 8
         max_features: 16
         scale_factor: 0.5
         num_blocks: 2
      generator_params:
        block_expansion: 8
        max_features: 16
        num_down_blocks: 1
        num_bottleneck_blocks: 1
        estimate_occlusion_map: True
        dense_motion_params:
          block_expansion: 8
          max_features: 16
          num_blocks: 2
          scale_factor: 0.5

    train_params:
      num_epochs: 1
''')

MODEL_SIZE = 32


def write_checkout(root: Path) -> Path:
    """A fake clone at ``root``: modules/*.py, config/fake-32.yaml; returns ``root``."""
    (root / "modules").mkdir(parents=True, exist_ok=True)
    (root / "config").mkdir(exist_ok=True)
    (root / "modules" / "generator.py").write_text(GENERATOR, encoding="utf-8")
    (root / "modules" / "keypoint_detector.py").write_text(KEYPOINT_DETECTOR, encoding="utf-8")
    (root / "config" / "fake-32.yaml").write_text(CONFIG, encoding="utf-8")
    return root


def _load_file(path: Path, name: str) -> Any:
    """Import one fake module by file path under a private name (``modules`` stays unimported,
    so the adapter imports it from the checkout itself)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_networks(checkout: Path, config: Path, seed: int = 0) -> tuple[Any, Any]:
    """The fake generator and keypoint detector built from ``config``'s model_params, seeded."""
    import torch
    import yaml

    params = yaml.safe_load(config.read_text(encoding="utf-8"))["model_params"]
    gen = _load_file(checkout / "modules" / "generator.py", "fomm_fake_generator")
    kp = _load_file(checkout / "modules" / "keypoint_detector.py", "fomm_fake_keypoint_detector")
    torch.manual_seed(seed)
    generator = gen.OcclusionAwareGenerator(**params["generator_params"], **params["common_params"])
    kp_detector = kp.KPDetector(**params["kp_detector_params"], **params["common_params"])
    return generator, kp_detector


def save_checkpoint(checkout: Path, config: Path, path: Path, seed: int = 0,
                    extra: dict[str, Any] | None = None) -> Path:
    """A state-dict checkpoint in the repository's format: ``{'generator', 'kp_detector'}``."""
    import torch

    generator, kp_detector = build_networks(checkout, config, seed)
    state: dict[str, Any] = {"generator": generator.state_dict(), "kp_detector": kp_detector.state_dict()}
    state.update(extra or {})
    torch.save(state, path)
    return path


def portrait_image(size: int = 48) -> np.ndarray:
    """uint8 (size, size, 4): a coloured disc (soft edge) in a transparent ring."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    c = (size - 1) / 2
    r = np.hypot(xx - c, yy - c) / (size / 2)
    alpha = np.clip((0.7 - r) / 0.08, 0, 1)
    img = np.zeros((size, size, 4), np.uint8)
    img[..., 0] = np.clip(80 + 150 * xx / size, 0, 255)
    img[..., 1] = np.clip(60 + 170 * yy / size, 0, 255)
    img[..., 2] = 120 + 60 * ((xx // 6 + yy // 6) % 2)
    img[..., 3] = np.rint(alpha * 255)
    return img


def driving_video(frames: int, size: int = 40, *, moving: bool = True, height: int | None = None) -> np.ndarray:
    """uint8 (frames, height, size, 3): a bright blob on a dark field, sliding and growing when
    ``moving`` (frame ``j`` is distinct for every ``j``), still otherwise."""
    h = height or size
    yy, xx = np.mgrid[0:h, 0:size].astype(np.float32)
    out = np.empty((frames, h, size, 3), np.uint8)
    for j in range(frames):
        t = j / max(1, frames - 1) if moving else 0.0
        cx, cy = size * (0.3 + 0.4 * t), h * (0.4 + 0.2 * t)
        rad = min(h, size) * (0.18 + 0.1 * t)
        blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * rad ** 2))
        out[j, ..., 0] = np.clip(30 + 220 * blob, 0, 255)
        out[j, ..., 1] = np.clip(20 + 160 * blob, 0, 255)
        out[j, ..., 2] = np.clip(40 + 60 * (xx / size), 0, 255)
    return out


def write_mp4(path: Path, frames: np.ndarray, fps: int) -> Path:
    """Encode ``uint8 (N, H, W, 3)`` (even H and W) as an H.264 MP4 with imageio-ffmpeg."""
    import imageio_ffmpeg

    n, h, w, _ = frames.shape
    writer = imageio_ffmpeg.write_frames(str(path), (w, h), fps=fps, codec="libx264", pix_fmt_out="yuv420p",
                                         macro_block_size=1, output_params=["-v", "error"])
    writer.send(None)
    for frame in frames:
        writer.send(np.ascontiguousarray(frame))
    writer.close()
    return path
