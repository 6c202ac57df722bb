"""First Order Motion Model (Siarohin et al., NeurIPS 2019) as a motion backend: ``motion.fomm``.

FOMM animates a still face with the motion of a driving video: a keypoint detector finds ``K``
keypoints (and a 2×2 local affine jacobian at each) in the source image and in every driving
frame; the driving keypoints are made *relative* to the driving video's first frame and moved
onto the source's keypoints; a generator warps the source with the dense motion those
keypoints imply and paints what the warp uncovers. In nyeshc it serves the ``drive`` modality:
``motion: driven "clip.mp4"`` shots (see ``docs/models/fomm.md``).

The networks come from the user's clone of ``AliaksandrSiarohin/first-order-model``
(``modules/generator.py``: ``OcclusionAwareGenerator``; ``modules/keypoint_detector.py``:
``KPDetector``), built from its YAML config's ``model_params`` exactly as the repository's
``demo.load_checkpoints`` does (``demo.py`` itself is not imported: it pulls imageio, skimage
and ffmpeg-python, which inference does not need), and loaded from a state-dict checkpoint
(``{'generator': …, 'kp_detector': …}``) with ``torch.load(weights_only=True)``: nothing in a
checkpoint is unpickled beyond tensors and plain containers.

Alpha: the generator moves the head, so the portrait's static matte would cut the moving face.
With ``matte = "warp"`` (the default) the portrait's alpha is warped by the very deformation
field the generator applies to the source (read from its dense-motion network with a forward
hook), so the matte follows the head; ``matte = "opaque"`` keeps the whole generated square
(background included) opaque.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from nyeshc.backends.base import BackendError, CostModel, Portrait, ProgressFn, chunks
from nyeshc.backends.models.common import (
    checkout_module,
    import_torch,
    pick_device,
    require_checkout,
    require_file,
    setting_name,
    sha256_file,
)

__all__ = ["FOMMMotion", "adapt_movement_scale", "driving_indices", "normalize_kp"]

_ID = "motion.fomm"
_MODALITY = "drive"  # FOMM is set as the profile's `drive` backend (it may also stand as `motion`)
_HINT = "see docs/models/fomm.md"
_MARKERS = ("modules/generator.py", "modules/keypoint_detector.py")
_MATTES = ("warp", "opaque")
# Figures in docs/models/fomm.md: ~33 fps at batch 1 on a GTX 1080 Ti for the 256² vox model
# (Avatarify's README); 6.1-10 s per frame measured on one CPU thread of the dev box. FOMM always
# runs at 256², so the cost is per frame whatever the portrait's size (not scaled by pixels).
_GPU_COST = CostModel(device="gpu", per_call=5.0, per_frame=0.03, scale_by_pixels=False)
_CPU_COST = CostModel(device="cpu", per_call=3.0, per_frame=8.0, scale_by_pixels=False)
_BACKGROUND = 128  # grey under the portrait's transparent parts when it becomes the RGB source


def _key(key: str) -> str:
    return setting_name(_MODALITY, key)


def _code_sha256(checkout: Path) -> str:
    """One hash over the checkout's ``modules/*.py`` (the code that turns weights into frames)."""
    import hashlib  # noqa: PLC0415

    h = hashlib.sha256()
    for path in sorted((checkout / "modules").glob("*.py")):
        h.update(path.name.encode("utf-8") + b"\0" + sha256_file(path).encode("ascii") + b"\n")
    return h.hexdigest()


# --------------------------------------------------------------------------- keypoint maths


def adapt_movement_scale(kp_source: Any, kp_driving_initial: Any) -> float:
    """``sqrt(area(source keypoints)) / sqrt(area(first driving keypoints))``: the areas of the
    convex hulls of the two keypoint sets (batch item 0), as the repository's ``normalize_kp``
    computes them, so a small face in the driving video moves a large source face as much."""
    from scipy.spatial import ConvexHull, QhullError  # noqa: PLC0415

    areas = []
    for name, kp in (("source image", kp_source), ("first driving frame", kp_driving_initial)):
        points = np.asarray(kp["value"][0].detach().cpu().numpy(), dtype=np.float64)
        try:
            area = float(ConvexHull(points).volume)  # in 2-D, ``volume`` is the area
        except (QhullError, ValueError) as exc:
            raise BackendError(f"{_ID}: the keypoints of the {name} are degenerate (all on a line), so the "
                               f"movement scale cannot be adapted; set {_key('adapt_scale')} = false in nysh.toml "
                               "or use a clearer face") from exc
        if not area > 0:
            raise BackendError(f"{_ID}: the keypoints of the {name} enclose no area, so the movement scale "
                               f"cannot be adapted; set {_key('adapt_scale')} = false in nysh.toml")
        areas.append(area)
    return math.sqrt(areas[0]) / math.sqrt(areas[1])


def normalize_kp(kp_source: Mapping[str, Any], kp_driving: Mapping[str, Any], kp_driving_initial: Mapping[str, Any],
                 *, relative: bool = True, scale: float = 1.0) -> dict[str, Any]:
    """The keypoints that drive the generator for one batch of driving frames.

    Relative motion (the repository's ``use_relative_movement`` and ``use_relative_jacobian``):
    ``value = kp_source + scale * (kp_driving - kp_driving_initial)`` and
    ``jacobian = kp_driving.J @ inverse(kp_driving_initial.J) @ kp_source.J``; so the first
    driving frame leaves the source's keypoints exactly where they are. Absolute motion
    (``relative=False``) uses the driving keypoints as they are. Tensors broadcast over the
    batch: ``kp_driving`` is ``(B, K, …)``, the other two ``(1, K, …)``.
    """
    torch = import_torch(_ID)
    kp_new = dict(kp_driving)
    if not relative:
        return kp_new
    kp_new["value"] = (kp_driving["value"] - kp_driving_initial["value"]) * scale + kp_source["value"]
    if "jacobian" in kp_driving and kp_driving["jacobian"] is not None:
        diff = torch.matmul(kp_driving["jacobian"], torch.inverse(kp_driving_initial["jacobian"]))
        kp_new["jacobian"] = torch.matmul(diff, kp_source["jacobian"])
    return kp_new


def driving_indices(frames: int, fps: float, driving_fps: float, count: int) -> np.ndarray:
    """Which driving frame shows at each output frame: output frame ``i`` is at time ``i / fps``,
    which falls in driving frame ``floor(i / fps * driving_fps)``; past the end, the last frame
    is held."""
    if frames <= 0:
        return np.zeros(0, np.int64)
    t = np.arange(frames, dtype=np.float64) / float(fps)
    idx = np.floor(t * float(driving_fps) + 1e-9).astype(np.int64)
    return np.clip(idx, 0, count - 1)


# --------------------------------------------------------------------------- the backend


class FOMMMotion:
    """``motion.fomm``: portraits performing a driving video with the First Order Motion Model."""

    id = _ID
    version = "1"
    modality = "motion"

    def __init__(self, checkout: str | None = None, config: str | None = None, checkpoint: str | None = None,
                 device: str = "auto", relative: bool = True, adapt_scale: bool = True, batch_size: int = 8,
                 matte: str = "warp", checkpoint_sha256: str | None = None, config_sha256: str | None = None,
                 code_sha256: str | None = None, **unknown: Any) -> None:
        if unknown:
            known = ("checkout", "config", "checkpoint", "device", "relative", "adapt_scale", "batch_size", "matte")
            raise BackendError(f"{_ID}: unknown setting(s) {', '.join(sorted(unknown))} in "
                               f"[profile.<name>.{_MODALITY}]; known: {', '.join(known)} ({_HINT})")
        self._checkout = require_checkout(_ID, _MODALITY, "checkout", checkout,
                                          "a clone of AliaksandrSiarohin/first-order-model", _MARKERS, _HINT)
        self._config = require_file(_ID, _MODALITY, "config", config,
                                    "the model's YAML config (e.g. config/vox-256.yaml in the checkout)", _HINT)
        self._checkpoint = require_file(_ID, _MODALITY, "checkpoint", checkpoint,
                                        "a checkpoint (e.g. vox-cpk.pth.tar)", _HINT)
        if matte not in _MATTES:
            raise BackendError(f"{_ID}: {_key('matte')} must be \"warp\" or \"opaque\", not {matte!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise BackendError(f"{_ID}: {_key('batch_size')} must be a whole number >= 1, not {batch_size!r}")
        wanted = str(device or "auto").strip().lower()
        if wanted != "auto" and wanted != "cpu" and not wanted.startswith("cuda"):
            raise BackendError(f"{_ID}: {_key('device')} must be \"auto\", \"cpu\" or \"cuda[:N]\", not {device!r}")
        self._device = wanted
        self._relative = bool(relative)
        self._adapt_scale = bool(adapt_scale)
        self._batch = int(batch_size)
        self._matte = str(matte)
        self._sha = {"checkpoint_sha256": sha256_file(self._checkpoint), "config_sha256": sha256_file(self._config),
                     "code_sha256": _code_sha256(self._checkout)}
        given = {"checkpoint_sha256": checkpoint_sha256, "config_sha256": config_sha256, "code_sha256": code_sha256}
        for name, value in given.items():
            if value is not None and value != self._sha[name]:
                what = {"checkpoint_sha256": f"the checkpoint {self._checkpoint}",
                        "config_sha256": f"the config {self._config}",
                        "code_sha256": f"the code in {self._checkout / 'modules'}"}[name]
                raise BackendError(f"{_ID}: {what} changed since the film was planned; plan it again")
        if wanted == "cpu":
            self.cost = _CPU_COST
        elif wanted.startswith("cuda"):
            self.cost = _GPU_COST
        else:  # "auto": ask torch (imported, but no network is loaded)
            self.cost = _GPU_COST if pick_device(_ID, "auto") != "cpu" else _CPU_COST
        self._lock = threading.Lock()
        self._run = threading.Lock()
        self._nets: tuple[Any, Any, str, int] | None = None

    @property
    def settings(self) -> Mapping[str, Any]:
        return {"checkout": str(self._checkout), "config": str(self._config), "checkpoint": str(self._checkpoint),
                "device": self._device, "relative": self._relative, "adapt_scale": self._adapt_scale,
                "batch_size": self._batch, "matte": self._matte, **self._sha}

    # ---------------------------------------------------------------- loading

    def _read_config(self) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], int]:
        try:
            import yaml  # noqa: PLC0415
        except ImportError as exc:
            raise BackendError(f"{_ID} reads the model's YAML config with PyYAML, which is not installed: "
                               "pip install pyyaml") from exc
        try:
            cfg = yaml.safe_load(self._config.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise BackendError(f"{_ID}: cannot read the config {self._config}: {exc}; "
                               f"check {_key('config')} in nysh.toml") from exc
        params = cfg.get("model_params") if isinstance(cfg, dict) else None
        parts = {}
        for part in ("common_params", "generator_params", "kp_detector_params"):
            value = params.get(part) if isinstance(params, dict) else None
            if not isinstance(value, dict):
                raise BackendError(f"{_ID}: the config {self._config} has no model_params.{part} mapping; is it "
                                   f"a first-order-model config (e.g. config/vox-256.yaml)? check {_key('config')}")
            parts[part] = value
        size = 256
        shape = (cfg.get("dataset_params") or {}).get("frame_shape") if isinstance(cfg, dict) else None
        if isinstance(shape, (list, tuple)) and len(shape) >= 2:
            if not all(isinstance(v, int) for v in shape[:2]) or shape[0] != shape[1] or shape[0] < 8:
                raise BackendError(f"{_ID}: the config {self._config} has dataset_params.frame_shape {shape}; "
                                   "nyeshc animates square portraits and needs a square frame_shape")
            size = int(shape[0])
        return parts["common_params"], parts["generator_params"], parts["kp_detector_params"], size

    def _read_checkpoint(self, torch: Any) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
        import pickle  # noqa: PLC0415

        try:
            ckpt = torch.load(str(self._checkpoint), map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            raise BackendError(
                f"{_ID}: the checkpoint {self._checkpoint} holds Python objects other than tensors and plain "
                "containers, so it could only be opened by full unpickling, which can run arbitrary code; nyeshc "
                "loads only state-dict archives. Re-save it from a trusted session as "
                "torch.save({'generator': G.state_dict(), 'kp_detector': KP.state_dict()}, path) "
                f"({exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from exc
        except (OSError, RuntimeError, EOFError, ValueError) as exc:
            raise BackendError(f"{_ID}: cannot read the checkpoint {self._checkpoint}: {exc}; "
                               f"check {_key('checkpoint')} in nysh.toml") from exc
        if not isinstance(ckpt, Mapping) or not all(isinstance(ckpt.get(k), Mapping)
                                                    for k in ("generator", "kp_detector")):
            keys = sorted(map(str, ckpt)) if isinstance(ckpt, Mapping) else type(ckpt).__name__
            raise BackendError(f"{_ID}: the checkpoint {self._checkpoint} is not a first-order-model checkpoint "
                               f"(expected a mapping with 'generator' and 'kp_detector' state dicts, found {keys})")
        return ckpt["generator"], ckpt["kp_detector"]

    def _load(self) -> tuple[Any, Any, str, int]:
        with self._lock:
            if self._nets is not None:
                return self._nets
            torch = import_torch(_ID)
            dev = pick_device(_ID, self._device)
            common, gen_params, kp_params, size = self._read_config()
            gen_mod = checkout_module(_ID, self._checkout, "modules.generator")
            kp_mod = checkout_module(_ID, self._checkout, "modules.keypoint_detector")
            gen_state, kp_state = self._read_checkpoint(torch)
            with torch.random.fork_rng(devices=[]):  # the constructors' random init must not touch global RNG
                try:
                    generator = gen_mod.OcclusionAwareGenerator(**gen_params, **common)
                    kp_detector = kp_mod.KPDetector(**kp_params, **common)
                except TypeError as exc:
                    raise BackendError(f"{_ID}: the config {self._config} does not fit the checkout's networks: "
                                       f"{exc}") from exc
            for name, net, state in (("generator", generator, gen_state), ("kp_detector", kp_detector, kp_state)):
                try:
                    net.load_state_dict(state, strict=True)
                except RuntimeError as exc:
                    first = str(exc).strip().splitlines()
                    raise BackendError(f"{_ID}: the checkpoint's {name} does not match the network built from "
                                       f"{self._config} ({first[0] if first else exc}; "
                                       f"{' '.join(first[1:3])[:300]}); are {_key('config')} and "
                                       f"{_key('checkpoint')} a pair?") from exc
                net.to(dev).eval().requires_grad_(False)
            self._nets = (generator, kp_detector, dev, size)
            return self._nets

    # ---------------------------------------------------------------- helpers

    @staticmethod
    def _check(portrait: Portrait, frames: int, fps: float, out: np.ndarray | None) -> np.ndarray:
        if frames < 0:
            raise BackendError(f"{_ID}: frames must be >= 0 (got {frames})")
        if not fps > 0:
            raise BackendError(f"{_ID}: fps must be > 0 (got {fps})")
        im = np.asarray(portrait.image)
        if im.ndim != 3 or im.shape[0] != im.shape[1] or im.shape[2] != 4 or im.dtype != np.uint8:
            raise BackendError(f"{_ID}: portrait image must be uint8 (S, S, 4), got {im.dtype} {im.shape}")
        S = im.shape[0]
        if out is None:
            return np.empty((frames, S, S, 4), np.uint8)
        if out.shape != (frames, S, S, 4) or out.dtype != np.uint8:
            raise BackendError(f"{_ID}: out must be uint8 {(frames, S, S, 4)}, got {out.dtype} {out.shape}")
        return out

    @staticmethod
    def _resize(torch: Any, x: Any, size: int) -> Any:
        """``(B, C, H, W)`` float to ``(B, C, size, size)``: bilinear, antialiased when shrinking."""
        if x.shape[-2:] == (size, size):
            return x
        shrink = x.shape[-1] > size or x.shape[-2] > size
        return torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False,
                                               antialias=shrink)

    @staticmethod
    def _square(frames: np.ndarray) -> np.ndarray:
        """Centre crop ``(N, H, W, C)`` to a square (the executor already gives square frames)."""
        h, w = frames.shape[1:3]
        if h == w:
            return frames
        side = min(h, w)
        y0, x0 = (h - side) // 2, (w - side) // 2
        return frames[:, y0:y0 + side, x0:x0 + side]

    # ---------------------------------------------------------------- protocol

    def lipsync(self, portrait: Portrait, voice: np.ndarray, fps: float, frames: int,
                seed: int, progress: ProgressFn | None = None, *, out: np.ndarray | None = None,
                mouth: float = 1.0) -> np.ndarray:
        # ``mouth`` is accepted (the protocol's keyword) but FOMM cannot lip-sync at all
        raise BackendError(
            f"{_ID} cannot animate a portrait from audio alone: the First Order Motion Model copies the motion of "
            "a driving video and has no audio input. Give lip-sync to another backend in nysh.toml — "
            "[profile.<name>.motion] backend = \"motion.wav2lip\" (or \"motion.procedural\") — and keep FOMM "
            "for driven shots with [profile.<name>.drive] backend = \"motion.fomm\" (docs/config.md, `drive`)")

    def still(self, portrait: Portrait, fps: float, frames: int, seed: int, *,
              out: np.ndarray | None = None) -> np.ndarray:
        """The portrait unchanged on every frame: FOMM has no idle motion of its own (it only copies
        a driving video), so a still shot holds the portrait as it is."""
        buf = self._check(portrait, frames, fps, out)
        buf[...] = np.asarray(portrait.image)[None]
        return buf

    def drive(self, portrait: Portrait, driving: np.ndarray, driving_fps: float,
              audio: np.ndarray | None, fps: float, frames: int, seed: int,
              progress: ProgressFn | None = None, *, out: np.ndarray | None = None) -> np.ndarray:
        """The portrait performing ``driving``. ``audio`` and ``seed`` are not used: the mouth and
        head follow the driving video alone, and the model has no randomness."""
        buf = self._check(portrait, frames, fps, out)
        if not driving_fps > 0:
            raise BackendError(f"{_ID}: driving_fps must be > 0 (got {driving_fps})")
        if driving is None or np.ndim(driving) != 4 or driving.shape[0] < 1 or driving.shape[3] not in (3, 4):
            shape = getattr(driving, "shape", None)
            raise BackendError(f"{_ID}: the driving video must be uint8 (M, H, W, 3) with M >= 1, got {shape}")
        if frames == 0:
            if progress is not None:
                progress(1.0)
            return buf
        torch = import_torch(_ID)
        generator, kp_detector, dev, size = self._load()
        S = buf.shape[1]
        idx = driving_indices(frames, fps, driving_fps, int(driving.shape[0]))

        def tensor(images: np.ndarray) -> Any:  # uint8 (N, H, W, 3) -> float (N, 3, size, size) in [0, 1]
            x = torch.from_numpy(np.array(self._square(images)[..., :3], dtype=np.uint8, order="C")).to(dev)
            x = x.permute(0, 3, 1, 2).float().div_(255.0)
            return self._resize(torch, x, size).clamp_(0.0, 1.0)

        img = np.asarray(portrait.image)
        alpha = img[..., 3:4].astype(np.float32) / 255.0
        rgb = img[..., :3].astype(np.float32) * alpha + _BACKGROUND * (1.0 - alpha)
        source = tensor(np.clip(np.rint(rgb), 0, 255).astype(np.uint8)[None])
        alpha_t = torch.from_numpy(np.ascontiguousarray(alpha.transpose(2, 0, 1)))[None].to(dev)  # (1, 1, S, S)

        with self._run:  # one drive at a time per instance: the deformation hook is the instance's
            dense = getattr(generator, "dense_motion_network", None)
            captured: dict[str, Any] = {}
            hook = None
            if self._matte == "warp" and dense is not None:
                def grab(_module: Any, _inputs: Any, output: Any) -> None:
                    captured["deformation"] = output["deformation"]
                hook = dense.register_forward_hook(grab)

            cudnn = (torch.backends.cudnn.flags(enabled=True, benchmark=False, deterministic=True)
                     if dev.startswith("cuda") else contextlib.nullcontext())
            try:
                with torch.inference_mode(), cudnn:
                    kp_source = kp_detector(source)
                    kp_initial = kp_detector(tensor(np.asarray(driving[0:1])))
                    scale = (adapt_movement_scale(kp_source, kp_initial)
                             if self._relative and self._adapt_scale else 1.0)
                    for start, stop in chunks(frames, self._batch):
                        b = stop - start
                        wanted = idx[start:stop]
                        unique, where = np.unique(wanted, return_inverse=True)
                        drv = tensor(np.stack([np.asarray(driving[int(j)]) for j in unique]))
                        kp_drv = kp_detector(drv)
                        pick = torch.from_numpy(where.astype(np.int64)).to(dev)
                        kp_drv = {k: v.index_select(0, pick) for k, v in kp_drv.items() if v is not None}
                        kp_norm = normalize_kp(kp_source, kp_drv, kp_initial, relative=self._relative, scale=scale)
                        kp_src_b = {k: v.expand(b, *v.shape[1:]).contiguous() for k, v in kp_source.items()
                                    if v is not None}
                        captured.clear()
                        result = generator(source.expand(b, -1, -1, -1).contiguous(), kp_source=kp_src_b,
                                           kp_driving=kp_norm)
                        pred = self._resize(torch, result["prediction"].float(), S).clamp_(0.0, 1.0)
                        rgb_u8 = pred.mul_(255.0).round_().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
                        if self._matte == "opaque":
                            a_u8 = np.full((b, S, S, 1), 255, np.uint8)
                        else:
                            a = alpha_t.expand(b, -1, -1, -1)
                            if "deformation" in captured:
                                a = self._warp(torch, a, captured["deformation"])
                            a_u8 = (a.clamp(0.0, 1.0).mul(255.0).round().to(torch.uint8)
                                    .permute(0, 2, 3, 1).cpu().numpy())
                        buf[start:stop, ..., :3] = rgb_u8
                        buf[start:stop, ..., 3:] = a_u8
                        if progress is not None:
                            progress(stop / frames)
            finally:
                if hook is not None:
                    hook.remove()
        return buf

    @staticmethod
    def _warp(torch: Any, alpha: Any, deformation: Any) -> Any:
        """``alpha (B, 1, S, S)`` pulled through the generator's ``deformation (B, h, w, 2)`` grid,
        upsampled to ``S`` the way the generator's ``deform_input`` upsamples it."""
        F = torch.nn.functional
        S = alpha.shape[-1]
        grid = deformation.float()
        if grid.shape[1:3] != (S, S):
            grid = F.interpolate(grid.permute(0, 3, 1, 2), size=(S, S), mode="bilinear",
                                 align_corners=False).permute(0, 2, 3, 1)
        return F.grid_sample(alpha, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
