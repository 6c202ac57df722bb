"""What every model adapter shares: importing torch, choosing a device, finding the user's
checkpoints and code checkouts from ``nysh.toml`` settings, and hashing checkpoints.

Rules the adapters follow (see ``docs/models.md`` and ``docs/security.md``):

* constructors are cheap: they check that configured files exist and hash the checkpoint (so a
  replaced file changes the job keys), but load no network until the first call — the planner
  instantiates every configured backend just to read its id, version, settings and cost;
* paths come only from ``nysh.toml`` / the command line, never from a script, and nothing is
  downloaded at run time: a missing file is a :class:`BackendError` naming the setting to fix;
* torch is imported here, lazily, never at module import time of ``nyeshc``.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nyeshc.backends.base import BackendError, Ease, Portrait

__all__ = ["FacePortraits", "checkout_module", "cover", "shared_network", "import_torch", "key_pair", "key_position",
           "pick_device", "require_checkout", "require_file", "setting_name", "sha256_file"]

_LOCK = threading.Lock()


def key_position(n: int, t: float, ease: Ease) -> float:
    """Where ``t`` (clipped to [0, 1]) falls on a path through ``n`` keys, as ``x`` in
    [0, n - 1] with key ``i`` at ``x = i``: ``smooth`` eases the whole path with a smoothstep
    (slow at both ends), ``linear`` moves at constant speed. What every adapter's
    ``interpolate`` starts with; each then goes between :func:`key_pair`'s two keys its own way."""
    if n < 2:
        raise ValueError("interpolate needs at least 2 keys")
    if ease not in ("linear", "smooth"):
        raise ValueError(f"unknown ease {ease!r}")
    u = float(np.clip(t, 0.0, 1.0))
    if ease == "smooth":
        u = u * u * (3.0 - 2.0 * u)
    return u * (n - 1)


def key_pair(x: float, n: int) -> tuple[int, float]:
    """The first of the two neighbouring keys ``x`` (from :func:`key_position`) lies between,
    and how far it is from it (0 at key ``i``, 1 at key ``i + 1``)."""
    i = min(int(np.floor(x)), n - 2)
    return i, x - i
_SHA_MEMO: dict[tuple[str, int, int], str] = {}
_NETWORKS: dict[tuple[Any, ...], Any] = {}


def setting_name(modality: str, key: str) -> str:
    """How a setting is written in ``nysh.toml`` for error messages: ``[profile.<name>.image] checkpoint``."""
    return f"[profile.<name>.{modality}] {key}"


def import_torch(backend_id: str) -> Any:
    """``torch``, or a :class:`BackendError` saying how to install it."""
    try:
        import torch  # noqa: PLC0415
    except ImportError as exc:
        raise BackendError(f"{backend_id} needs PyTorch, which is not installed: pip install 'nyeshc[models]' "
                           "(or a CUDA build of torch from pytorch.org for a GPU)") from exc
    return torch


def pick_device(backend_id: str, device: str | None = "auto") -> str:
    """``"cuda"`` (or ``"cuda:N"``) when asked for and present, ``"cpu"`` otherwise.

    ``"auto"`` (the default) takes the GPU when torch sees one. Asking for ``cuda`` on a machine
    without one is an error rather than a silent hours-long CPU run."""
    torch = import_torch(backend_id)
    wanted = str(device or "auto").strip().lower()
    if wanted == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if wanted == "cpu":
        return "cpu"
    if wanted.startswith("cuda"):
        if not torch.cuda.is_available():
            raise BackendError(f"{backend_id}: device = {device!r} but torch sees no CUDA GPU here "
                               "(run `nyeshc doctor`; set device = \"cpu\" or \"auto\" to run on the CPU)")
        return wanted
    raise BackendError(f"{backend_id}: device must be \"auto\", \"cpu\" or \"cuda[:N]\", not {device!r}")


def require_file(backend_id: str, modality: str, key: str, value: Any, what: str,
                 hint: str = "see docs/models.md") -> Path:
    """The existing, readable file named by setting ``key``; else a BackendError naming it."""
    name = setting_name(modality, key)
    if not value:
        raise BackendError(f"{backend_id} needs {what}: set {name} = \"path/to/file\" in nysh.toml ({hint})")
    path = Path(str(value)).expanduser()
    if not path.is_file():
        raise BackendError(f"{backend_id}: {what} {path} does not exist; check {name} in nysh.toml ({hint})")
    if not os.access(path, os.R_OK):
        raise BackendError(f"{backend_id}: {what} {path} is not readable; check its permissions")
    return path


def require_checkout(backend_id: str, modality: str, key: str, value: Any, what: str,
                     markers: tuple[str, ...], hint: str = "see docs/models.md") -> Path:
    """The folder named by setting ``key`` holding each of ``markers`` (relative paths) —
    a clone of the model's repository; else a BackendError naming what is missing."""
    name = setting_name(modality, key)
    if not value:
        raise BackendError(f"{backend_id} needs {what}: set {name} = \"path/to/checkout\" in nysh.toml ({hint})")
    path = Path(str(value)).expanduser()
    if not path.is_dir():
        raise BackendError(f"{backend_id}: {what} {path} is not a folder; check {name} in nysh.toml ({hint})")
    missing = [m for m in markers if not (path / m).exists()]
    if missing:
        raise BackendError(f"{backend_id}: {path} does not look like {what} (missing {', '.join(missing)}); "
                           f"check {name} in nysh.toml ({hint})")
    return path


def checkout_module(backend_id: str, checkout: Path, module: str) -> Any:
    """Import ``module`` from a model's code checkout (put first on ``sys.path``).

    The checkout stays on ``sys.path`` afterwards: pickled networks (StyleGAN2-ADA's ``.pkl``)
    name the checkout's modules and are unpickled later. A module of that name already imported
    from somewhere else is an error, not a silent mix of two codebases."""
    root = str(Path(checkout).resolve())
    with _LOCK:
        top = module.partition(".")[0]
        loaded = sys.modules.get(top)
        if loaded is not None:
            where = getattr(loaded, "__file__", None) or next(iter(getattr(loaded, "__path__", []) or []), None)
            if where is not None and not str(Path(where).resolve()).startswith(root + os.sep):
                raise BackendError(f"{backend_id}: the module {top!r} is already imported from {where}, not from "
                                   f"the checkout {root}; two model checkouts with clashing module names cannot "
                                   "run in one process (give each its own worker, or rename)")
        if root not in sys.path:
            sys.path.insert(0, root)
        try:
            return importlib.import_module(module)
        except ImportError as exc:
            raise BackendError(f"{backend_id}: could not import {module} from {root}: {exc} "
                               "(is the checkout complete, and its requirements installed? see docs/models.md)") from exc


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file, memoised per process by (path, size, mtime)."""
    p = Path(path)
    st = p.stat()
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    with _LOCK:
        if key in _SHA_MEMO:
            return _SHA_MEMO[key]
    h = hashlib.sha256()
    with open(p, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    digest = h.hexdigest()
    with _LOCK:
        _SHA_MEMO[key] = digest
    return digest


def cover(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``image`` (uint8 (S, S', C)) scaled to cover ``width`` x ``height`` and centre-cropped."""
    from PIL import Image  # noqa: PLC0415

    h0, w0 = image.shape[:2]
    if (w0, h0) == (width, height):
        return np.ascontiguousarray(image)
    scale = max(width / w0, height / h0)
    sw, sh = max(width, int(np.ceil(w0 * scale - 1e-9))), max(height, int(np.ceil(h0 * scale - 1e-9)))
    mode = "RGBA" if image.shape[2] == 4 else "RGB"
    im = Image.fromarray(np.ascontiguousarray(image), mode).resize((sw, sh), Image.Resampling.LANCZOS)
    x0, y0 = (sw - width) // 2, (sh - height) // 2
    return np.asarray(im.crop((x0, y0, x0 + width, y0 + height)), dtype=np.uint8).copy()


class FacePortraits:
    """The portrait protocol for a face GAN (StyleGAN2-FFHQ, the DCGAN faces), mixed in before
    the backend's class: an opaque square of the network's picture (``_face_rgb(latent)``), the
    mouth and face box as fractions of it (settings ``mouth = [fx, fy]``, ``face_box = [x0, y0,
    x1, y1]``; defaults ``DEFAULT_MOUTH``/``DEFAULT_FACE_BOX`` from the network's alignment),
    ``latent=None`` so motion backends animate the picture (the procedural puppet re-renders only
    its own latents), and a user's photo wrapped as the procedural backend does."""

    id: str
    modality: str
    DEFAULT_MOUTH: tuple[float, float]
    DEFAULT_FACE_BOX: tuple[float, float, float, float]

    def __init__(self, *, mouth: Sequence[float] | None = None, face_box: Sequence[float] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mouth = self._fractions("mouth", mouth, self.DEFAULT_MOUTH, 2)
        self.face_box = self._fractions("face_box", face_box, self.DEFAULT_FACE_BOX, 4)
        x0, y0, x1, y1 = self.face_box
        if not (x0 < x1 and y0 < y1):
            raise BackendError(f"{self.id}: {setting_name(self.modality, 'face_box')} must be [x0, y0, x1, y1] "
                               "with x0 < x1 and y0 < y1")

    def _fractions(self, key: str, value: Any, default: tuple[float, ...], n: int) -> tuple[float, ...]:
        if value is None:
            return default
        try:
            vals = tuple(float(v) for v in value)
        except (TypeError, ValueError):
            vals = ()
        if len(vals) != n or not all(0.0 <= v <= 1.0 for v in vals):
            raise BackendError(f"{self.id}: {setting_name(self.modality, key)} must be {n} fractions in [0, 1], "
                               f"not {value!r}")
        return vals

    @property
    def settings(self) -> Mapping[str, Any]:
        return {**super().settings, "mouth": list(self.mouth), "face_box": list(self.face_box)}  # type: ignore[misc]

    def portrait(self, latent: np.ndarray, size: int) -> Portrait:
        size = int(size)
        rgb = cover(self._face_rgb(latent), size, size)  # type: ignore[attr-defined]
        image = np.concatenate([rgb, np.full((size, size, 1), 255, np.uint8)], axis=2)
        x0, y0, x1, y1 = self.face_box
        return Portrait(image=image, mouth=(self.mouth[0] * size, self.mouth[1] * size),
                        face_box=(x0 * size, y0 * size, x1 * size, y1 * size), latent=None, source="generated")

    def from_image(self, image: np.ndarray, size: int, mouth: tuple[float, float] | None = None) -> Portrait:
        # a user's photo: the same square crop, resize and mouth estimate as the procedural backend
        from nyeshc.backends.procedural.puppet import PuppetPortrait  # noqa: PLC0415

        return PuppetPortrait().from_image(image, size, mouth)


def shared_network(key: tuple[Any, ...], load: Callable[[], Any]) -> Any:
    """The network loaded for ``key`` in this process, loading it with ``load()`` the first time,
    so backends of several modalities (looks and portraits from one checkpoint) hold one copy.
    ``key`` starts with the adapter's name and holds everything the loaded network depends on."""
    with _LOCK:
        net = _NETWORKS.get(key)
    if net is None:
        net = load()  # not under the lock: loading takes seconds, and may import a checkout (which locks)
        with _LOCK:
            net = _NETWORKS.setdefault(key, net)
    return net
