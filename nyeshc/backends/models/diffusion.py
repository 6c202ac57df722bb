"""Text-to-image diffusion pipelines (Hugging Face ``diffusers``) behind the image and portrait
protocols: ``image.diffusers`` (looks and backdrops from a prompt) and ``portrait.diffusers``
(faces from a prompt and a seed).

The user names a pipeline in ``nysh.toml`` (``model``): a local folder as ``save_pretrained``
writes it (``model_index.json`` and one folder per component), or a Hugging Face repository id
already in the Hugging Face cache (``nyeshc models pull``, or ``huggingface-cli download``) at a
``revision``. Nothing is downloaded at run time. The pipeline is loaded with
``DiffusionPipeline.from_pretrained`` (the class named in ``model_index.json``: Stable Diffusion
1.x/2.x, XL, 3, Flux, …) on first use, never in the constructor.

**Latents.** A latent is a ``float32`` vector that holds everything a picture depends on besides
the settings: an 8-value header (``MAGIC, C, h, w, L, D, P, 0``), the pipeline's initial noise
(``C x h x w`` at the generation size: ``torch.randn`` from a CPU ``torch.Generator`` seeded
with the seed, which is the noise ``diffusers`` itself draws for that seed), then the prompt's
embedding (``L x D``, the text encoders' output) and, for pipelines that have one (XL, SD3,
Flux), the pooled embedding (``P``). A morph is then a path in that space: the noise is
slerped (it stays a Gaussian sample of the right norm) and the embeddings are interpolated
linearly, and every frame is rendered through the whole pipeline from its own point.

``render`` runs the pipeline with ``latents=`` and ``prompt_embeds=`` (no text is encoded
again), ``steps`` steps at ``guidance``, with a CPU ``torch.Generator`` seeded from the
latent's bytes for schedulers that draw noise while stepping. On the CPU in float32 this is
byte-for-byte repeatable. On a GPU it is repeatable on the same GPU model, driver and library
versions in practice, but CUDA kernels do not promise it (cuDNN and cuBLAS may pick other
algorithms, atomics reorder sums), so two machines may differ by a grey level.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nyeshc.backends.base import BackendError, Ease
from nyeshc.backends.models.common import (
    FacePortraits,
    cover,
    import_torch,
    key_pair,
    key_position,
    pick_device,
    setting_name,
    sha256_file,
    shared_network,
)
from nyeshc.costs import diffusion_cost as cost_model
from nyeshc.costs import diffusion_family as pipeline_family

__all__ = ["DiffusersImage", "DiffusersPortrait", "cost_model", "library_versions", "load_pipeline", "pipeline_family",
           "read_json", "resolve_model"]

_HINT = "see docs/models/diffusers.md"
MAGIC = 1121021.0
"""First value of every latent (exact in float32): a vector from another backend is refused."""
HEADER = 8
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
DTYPES = ("float32", "float16", "bfloat16")
DEFAULT_GUIDANCE = {"sd": 7.5, "sdxl": 5.0, "sd3": 7.0, "flux": 3.5}
"""The pipelines' own ``guidance_scale`` defaults (diffusers 0.42), for the cost estimate only."""

# --------------------------------------------------------------------------- the model folder


def resolve_model(backend_id: str, modality: str, model: Any, revision: Any) -> tuple[Path, str]:
    """The local folder of ``model`` and what identifies its contents: ``("folder", sha256)``
    over every file of a local folder, or the commit hash of a Hugging Face cache snapshot.

    A repository id is looked up in the Hugging Face cache only (``local_files_only``): nyeshc
    never downloads at run time."""
    name = setting_name(modality, "model")
    if not model:
        raise BackendError(f"{backend_id} needs a pipeline: set {name} = \"path/to/folder\" (a diffusers "
                           f"save_pretrained folder) or a Hugging Face repository id in nysh.toml ({_HINT})")
    text = str(model)
    path = Path(text).expanduser()
    if path.is_dir():
        if not (path / "model_index.json").is_file():
            raise BackendError(f"{backend_id}: {path} holds no model_index.json, so it is not a diffusers "
                               f"pipeline folder; check {name} in nysh.toml ({_HINT})")
        if path.parent.name == "snapshots" and re.fullmatch(r"[0-9a-f]{40}", path.name):
            # a Hugging Face cache snapshot (what `nyeshc models pull` writes): its files are links to
            # blobs named by their hashes, so the commit names the contents (and hashing gigabytes of
            # weights in every process is avoided)
            return path, "commit:" + path.name
        return path, "sha256:" + _folder_sha256(path)
    if path.is_absolute() or text.startswith((".", "~")) or not _REPO_ID.match(text):
        raise BackendError(f"{backend_id}: the pipeline folder {path} does not exist; check {name} in "
                           f"nysh.toml ({_HINT})")
    try:
        from huggingface_hub import snapshot_download
    except ImportError as exc:
        raise BackendError(f"{backend_id}: {name} = {text!r} is a Hugging Face repository id, which needs "
                           "huggingface_hub: pip install 'nyeshc[diffusers]'") from exc
    rev = str(revision or "main")
    try:
        folder = Path(snapshot_download(text, revision=rev, local_files_only=True))
    except Exception as exc:
        raise BackendError(f"{backend_id}: {text} at revision {rev!r} is not in the Hugging Face cache "
                           f"({type(exc).__name__}); fetch it first (nyeshc models pull, or huggingface-cli "
                           f"download {text} --revision {rev}); nyeshc does not download at run time ({_HINT})"
                           ) from exc
    return folder, "commit:" + folder.name


def _folder_sha256(folder: Path) -> str:
    """One hash over every file in a pipeline folder (relative path and content hash), so a
    replaced weight file or config changes the job keys. Hashes are memoised per process."""
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts):
            h.update(rel.encode("utf-8") + b"\0" + sha256_file(p).encode("ascii") + b"\n")
    return h.hexdigest()


def read_json(path: Path) -> dict[str, Any]:
    """A pipeline folder's JSON file, or ``{}`` when it is missing or not JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def load_pipeline(cls_name: str, backend_id: str, folder: Path, dtype: Any, modality: str) -> Any:
    """diffusers' ``cls_name`` from ``folder`` (local files only: nothing is downloaded), its
    progress bar off; what is missing or cannot load is a :class:`BackendError` naming the
    package or the nysh.toml setting."""
    try:
        import diffusers

        cls = getattr(diffusers, cls_name)
    except (ImportError, AttributeError) as exc:
        raise BackendError(f"{backend_id} needs diffusers with {cls_name} (0.30 or later): "
                           "pip install 'nyeshc[diffusers]'") from exc
    try:
        pipe = cls.from_pretrained(str(folder), torch_dtype=dtype, local_files_only=True)
    except Exception as exc:
        raise BackendError(f"{backend_id}: diffusers could not load the pipeline in {folder}: "
                           f"{type(exc).__name__}: {exc} (check {setting_name(modality, 'model')})") from exc
    pipe.set_progress_bar_config(disable=True)
    return pipe


def library_versions() -> str:
    """The libraries whose code turns a latent into pixels (part of every job key):
    ``"diffusers 0.42.1, transformers 5.24.0"``."""
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for pkg in ("diffusers", "transformers"):
        try:
            out.append(f"{pkg} {version(pkg)}")
        except PackageNotFoundError:
            out.append(f"{pkg} missing")
    return ", ".join(out)


# --------------------------------------------------------------------------- latents


def _header(latent: np.ndarray, backend_id: str) -> tuple[int, int, int, int, int, int]:
    v = np.asarray(latent, np.float32).reshape(-1)
    if v.shape[0] < HEADER or float(v[0]) != MAGIC:
        raise BackendError(f"{backend_id}: this latent was not made by a diffusers backend (choose the same "
                           "backend for every look a morph joins)")
    c, h, w, length, dim, pooled = (int(x) for x in v[1:7])
    if v.shape[0] != HEADER + c * h * w + length * dim + pooled:
        raise BackendError(f"{backend_id}: a latent of {v.shape[0]} values does not match its header")
    return c, h, w, length, dim, pooled


def _pack(noise: np.ndarray, embeds: np.ndarray, pooled: np.ndarray | None) -> np.ndarray:
    c, h, w = noise.shape
    length, dim = embeds.shape
    p = 0 if pooled is None else int(pooled.size)
    head = np.array([MAGIC, c, h, w, length, dim, p, 0], np.float32)
    parts = [head, noise.reshape(-1), embeds.reshape(-1)] + ([] if pooled is None else [pooled.reshape(-1)])
    return np.concatenate([np.asarray(x, np.float32) for x in parts]).astype(np.float32)


def _slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation of two noise vectors (float64); linear when nearly parallel."""
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return a + (b - a) * t
    dot = float(np.clip(np.dot(a / na, b / nb), -1.0, 1.0))
    if abs(dot) > 0.9995:
        return a + (b - a) * t
    theta = np.arccos(dot)
    s = np.sin(theta)
    return (np.sin((1.0 - t) * theta) / s) * a + (np.sin(t * theta) / s) * b


def blend_latents(a: np.ndarray, b: np.ndarray, t: float, backend_id: str) -> np.ndarray:
    """The latent at ``t`` between ``a`` (0) and ``b`` (1): noise slerped, embeddings linear;
    exactly ``a`` at 0 and ``b`` at 1."""
    t = float(t)
    if _header(a, backend_id) != _header(b, backend_id):
        raise BackendError(f"{backend_id}: the two latents come from different pipelines or generation sizes; "
                           "a morph can only join looks of one [image] backend")
    if t == 0.0:
        return np.asarray(a, np.float32).copy()
    if t == 1.0:
        return np.asarray(b, np.float32).copy()
    c, h, w, _, _, _ = _header(a, backend_id)
    av, bv = np.asarray(a, np.float64).reshape(-1), np.asarray(b, np.float64).reshape(-1)
    n = HEADER + c * h * w
    out = av.copy()
    out[HEADER:n] = _slerp(av[HEADER:n], bv[HEADER:n], t)
    out[n:] = av[n:] + (bv[n:] - av[n:]) * t
    return out.astype(np.float32)


# --------------------------------------------------------------------------- the backends


class _Diffusers:
    """What the image and portrait backends share: settings, the lazily loaded pipeline,
    sampling a latent (noise + prompt embedding) and rendering one."""

    version = "1"
    id = "image.diffusers"
    modality = "image"
    _EXTRA: tuple[str, ...] = ()

    def __init__(self, *, model: Any = None, revision: str | None = None, steps: int = 30,
                 guidance: float | None = None, dtype: str = "float32", cpu_offload: bool = False,
                 device: str = "auto", width: int | None = None, height: int | None = None,
                 negative_prompt: str = "", model_id: str | None = None,
                 libraries: str | None = None, **unknown: Any) -> None:
        mod = self.modality
        if unknown:
            raise BackendError(f"{self.id}: unknown setting(s) {', '.join(sorted(unknown))} in "
                               f"[profile.<name>.{mod}]; known: {', '.join(self._known())} ({_HINT})")
        self.model_setting = str(model) if model else ""
        self.revision = str(revision) if revision else None
        self.folder, self.model_id = resolve_model(self.id, mod, model, revision)
        self.libraries = library_versions()
        for given, have, what in ((model_id, self.model_id, f"the pipeline in {self.folder}"),
                                  (libraries, self.libraries,
                                   "the installed diffusers/transformers")):
            if given is not None and given != have:
                raise BackendError(f"{self.id}: {what} changed since the film was planned; plan it again")
        index = read_json(self.folder / "model_index.json")
        self.pipeline_class = str(index.get("_class_name", ""))
        self.family = pipeline_family(self.pipeline_class)
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise BackendError(f"{self.id}: {setting_name(mod, 'steps')} must be a whole number >= 1, not {steps!r}")
        self.steps = int(steps)
        if guidance is not None and (isinstance(guidance, bool) or not isinstance(guidance, (int, float))
                                     or guidance < 0):
            raise BackendError(f"{self.id}: {setting_name(mod, 'guidance')} must be a number >= 0, not {guidance!r}")
        self.guidance = None if guidance is None else float(guidance)
        if dtype not in DTYPES:
            raise BackendError(f"{self.id}: {setting_name(mod, 'dtype')} must be one of {', '.join(DTYPES)}, "
                               f"not {dtype!r}")
        self.dtype = str(dtype)
        self.cpu_offload = bool(cpu_offload)
        self.device = str(device or "auto").strip().lower()
        if not (self.device in ("auto", "cpu") or self.device.startswith("cuda")):
            raise BackendError(f"{self.id}: device must be \"auto\", \"cpu\" or \"cuda[:N]\", not {device!r} "
                               f"({setting_name(mod, 'device')})")
        for key, value in (("width", width), ("height", height)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 8):
                raise BackendError(f"{self.id}: {setting_name(mod, key)} must be a whole number of pixels >= 8 "
                                   f"(the generation size), not {value!r}")
        self.negative_prompt = str(negative_prompt or "")
        self._gen_size = self._default_size(width, height)
        unit = self._size_unit()
        for key, value in zip(("width", "height"), self._gen_size, strict=True):
            if value % unit:
                raise BackendError(f"{self.id}: {setting_name(mod, key)} = {value} must be a multiple of {unit} "
                                   f"for a {self.pipeline_class or 'this'} pipeline (its VAE's scale"
                                   f"{' times its patch size' if unit != self._vae_scale() else ''}); "
                                   f"try {max(unit, round(value / unit) * unit)}")
        gpu = self.device.startswith("cuda") or (self.device == "auto" and pick_device(self.id, "auto") != "cpu")
        if self.cpu_offload and not gpu:
            raise BackendError(f"{self.id}: {setting_name(mod, 'cpu_offload')} = true moves the pipeline's parts "
                               "to a GPU one at a time, and torch sees no CUDA GPU here; set it to false")
        if self.dtype == "float16" and not gpu:
            raise BackendError(f"{self.id}: {setting_name(mod, 'dtype')} = \"float16\" needs a GPU (many CPU "
                               "kernels have no half-precision version); use \"float32\" or \"bfloat16\" on the CPU")
        self.cost = cost_model(self.family, "gpu" if gpu else "cpu", self.steps, self._guidance_for_cost(),
                               self._gen_size[0] * self._gen_size[1])
        self._lock = threading.RLock()
        self._pipe: Any = None
        self._torch: Any = None
        self._dev = "cpu"

    @classmethod
    def _known(cls) -> tuple[str, ...]:
        return ("model", "revision", "steps", "guidance", "dtype", "cpu_offload", "device", "width", "height",
                "negative_prompt", *cls._EXTRA)

    def _guidance_for_cost(self) -> float:
        if self.guidance is not None:
            return self.guidance
        return DEFAULT_GUIDANCE.get(self.family, 5.0)

    def _vae_scale(self) -> int:
        vae = read_json(self.folder / "vae" / "config.json")
        return 2 ** (len(vae.get("block_out_channels", [0, 0, 0, 0])) - 1)

    def _size_unit(self) -> int:
        """What the generation size must be a multiple of: the VAE's scale, times 2 where the
        denoiser works on 2x2 patches (SD3's patch size, Flux's packing)."""
        return self._vae_scale() * (2 if self.family in ("sd3", "flux") else 1)

    def _default_size(self, width: int | None, height: int | None) -> tuple[int, int]:
        """The generation size: the settings, else the denoiser's native size from its config
        (``sample_size`` latents times the VAE's scale), read without loading weights."""
        if width is not None and height is not None:
            return int(width), int(height)
        scale = self._vae_scale()
        den = read_json(self.folder / "unet" / "config.json") or read_json(self.folder / "transformer" / "config.json")
        size = den.get("sample_size", 64)
        if self.family == "flux":
            size = 128  # FluxPipeline.default_sample_size
        side = int(size[0] if isinstance(size, (list, tuple)) else size) * scale
        return int(width or side), int(height or side)

    @property
    def latent_dim(self) -> int:
        """Length of the latent's header and noise; its prompt embedding follows (its length is
        the text encoders' and is known once they are loaded)."""
        c, h, w = self._noise_shape()
        return HEADER + c * h * w

    @property
    def settings(self) -> Mapping[str, Any]:
        s: dict[str, Any] = {"model": self.model_setting, "steps": self.steps, "dtype": self.dtype,
                             "cpu_offload": self.cpu_offload, "device": self.device,
                             "width": self._gen_size[0], "height": self._gen_size[1],
                             "negative_prompt": self.negative_prompt, "model_id": self.model_id,
                             "libraries": self.libraries}
        if self.revision is not None:
            s["revision"] = self.revision
        if self.guidance is not None:
            s["guidance"] = self.guidance
        return s

    # ------------------------------------------------------------------ the pipeline

    def _noise_shape(self) -> tuple[int, int, int]:
        """(channels, rows, columns) of the initial noise, from the configs alone."""
        scale = self._vae_scale()
        den = read_json(self.folder / "unet" / "config.json") or read_json(self.folder / "transformer" / "config.json")
        channels = int(den.get("in_channels", 4))
        w, h = self._gen_size
        if self.family == "flux":  # packed 2x2 patches: the pipeline rounds to even latent sizes
            return channels // 4, 2 * (h // (scale * 2)), 2 * (w // (scale * 2))
        return channels, h // scale, w // scale

    def _net(self) -> Any:
        with self._lock:
            if self._pipe is not None:
                return self._pipe
            torch = import_torch(self.id)
            dev = pick_device(self.id, self.device)
            key = ("diffusers", str(self.folder.resolve()), self.model_id, dev, self.dtype, self.cpu_offload)
            self._pipe = shared_network(key, lambda: self._load(torch, dev))
            self._torch, self._dev = torch, dev
            return self._pipe

    def _load(self, torch: Any, dev: str) -> Any:
        pipe = load_pipeline("DiffusionPipeline", self.id, self.folder, getattr(torch, self.dtype), self.modality)
        if not hasattr(pipe, "encode_prompt"):
            raise BackendError(f"{self.id}: {type(pipe).__name__} in {self.folder} is not a text-to-image pipeline "
                               f"(it has no encode_prompt); check {setting_name(self.modality, 'model')}")
        pipe.set_progress_bar_config(disable=True)
        if self.cpu_offload:
            try:
                pipe.enable_model_cpu_offload(device=dev)
            except Exception as exc:
                raise BackendError(f"{self.id}: cpu_offload needs accelerate: pip install 'nyeshc[diffusers]' "
                                   f"({type(exc).__name__}: {exc})") from exc
        else:
            pipe = pipe.to(dev)
        return pipe

    def _encode(self, prompt: str) -> tuple[np.ndarray, np.ndarray | None]:
        """The prompt's embedding ``(L, D)`` and pooled embedding ``(P,)`` (None where the
        pipeline has none), without classifier-free guidance's negative half."""
        import inspect

        pipe = self._net()
        torch = self._torch
        params = inspect.signature(pipe.encode_prompt).parameters
        kwargs: dict[str, Any] = {"prompt": prompt, "device": self._execution_device(pipe),
                                  "num_images_per_prompt": 1}
        for extra in ("prompt_2", "prompt_3"):
            if extra in params:
                kwargs[extra] = None
        if "do_classifier_free_guidance" in params:
            kwargs["do_classifier_free_guidance"] = False
        with torch.no_grad():
            out = pipe.encode_prompt(**kwargs)
        embeds, pooled = out[0], self._pooled(pipe, out)
        e = embeds[0].detach().to("cpu", torch.float32).numpy()
        p = None if pooled is None else pooled[0].detach().to("cpu", torch.float32).numpy().reshape(-1)
        return e, p

    @staticmethod
    def _pooled(pipe: Any, out: tuple[Any, ...]) -> Any:
        """The pooled embedding in what ``encode_prompt`` returned, told by its length: SD 1.x/2.x
        give ``(embeds, negative)``, Flux ``(embeds, pooled, text ids)``, XL and SD3 ``(embeds,
        negative, pooled, negative pooled)``."""
        if len(out) == 3:
            return out[1]
        if len(out) >= 4:
            return out[2]
        return None

    @staticmethod
    def _execution_device(pipe: Any) -> Any:
        return getattr(pipe, "_execution_device", None) or getattr(pipe, "device", "cpu")

    def _noise(self, seed: int) -> np.ndarray:
        torch = import_torch(self.id)
        gen = torch.Generator("cpu").manual_seed(int(seed) % (1 << 63))
        return torch.randn((1, *self._noise_shape()), generator=gen, dtype=torch.float32)[0].numpy()

    def _latent(self, seed: int, prompt: str) -> np.ndarray:
        embeds, pooled = self._encode(prompt)
        return _pack(self._noise(seed), embeds, pooled)

    def _picture(self, latent: np.ndarray) -> np.ndarray:
        """``uint8 (height, width, 3)`` at the generation size."""
        import inspect

        c, h, w, length, dim, p = _header(latent, self.id)
        if (c, h, w) != self._noise_shape():
            raise BackendError(f"{self.id}: this latent's noise is {c}x{h}x{w} but the pipeline generates "
                               f"{'x'.join(map(str, self._noise_shape()))} (were width/height changed? plan again)")
        pipe = self._net()
        torch = self._torch
        v = np.asarray(latent, np.float32).reshape(-1)
        n = HEADER + c * h * w
        dev = self._execution_device(pipe)
        dt = getattr(torch, self.dtype)
        noise = torch.from_numpy(v[HEADER:n].reshape(1, c, h, w).copy())
        if self.family == "flux":
            noise = pipe._pack_latents(noise, 1, c, h, w)
        embeds = torch.from_numpy(v[n:n + length * dim].reshape(1, length, dim).copy()).to(dev, dt)
        call = inspect.signature(pipe.__call__).parameters
        kwargs: dict[str, Any] = {"prompt_embeds": embeds, "latents": noise.to(dev, dt),
                                  "num_inference_steps": self.steps, "width": self._gen_size[0],
                                  "height": self._gen_size[1], "output_type": "np"}
        if p:
            kwargs["pooled_prompt_embeds"] = torch.from_numpy(v[n + length * dim:].reshape(1, p).copy()).to(dev, dt)
        if self.guidance is not None:
            kwargs["guidance_scale"] = self.guidance
        if self.negative_prompt and "negative_prompt" in call:
            kwargs["negative_prompt"] = self.negative_prompt
            if self.family == "flux" and self.guidance is not None:
                kwargs["true_cfg_scale"] = max(1.0, self.guidance)
        # schedulers that add noise while stepping draw it from this generator: same latent, same grain
        kwargs["generator"] = torch.Generator("cpu").manual_seed(zlib.crc32(v.tobytes()))
        with torch.no_grad():
            out = pipe(**kwargs)
        img = np.asarray(out.images[0], np.float32)
        return np.clip(np.round(img * 255.0), 0, 255).astype(np.uint8)[..., :3]

    # ------------------------------------------------------------------ latent space

    def blend(self, a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
        return blend_latents(a, b, t, self.id)


class DiffusersImage(_Diffusers):
    """Looks and backdrops from a text-to-image pipeline: the look's prompt (``generate "…"``,
    or a heading's place and time of day) plus ``style``, at the look's seed."""

    id = "image.diffusers"
    modality = "image"
    _EXTRA = ("style",)

    def __init__(self, *, style: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.style = str(style or "")

    @property
    def settings(self) -> Mapping[str, Any]:
        return {**super().settings, "style": self.style}

    def prompt_text(self, prompt: str | None) -> str:
        """The words encoded for a look: its prompt, then ``style`` after a comma."""
        words = [w for w in ((prompt or "").strip(), self.style.strip()) if w]
        return ", ".join(words)

    def sample(self, seed: int, truncation: float = 1.0, *, prompt: str | None = None) -> np.ndarray:
        """The latent for ``seed`` and ``prompt``. ``truncation`` is not read: a diffusion
        model has no mean latent to pull toward (scaling its noise only blurs the picture)."""
        return self._latent(seed, self.prompt_text(prompt))

    def interpolate(self, keys: Sequence[np.ndarray], t: float, ease: Ease = "smooth") -> np.ndarray:
        """Key ``i`` at ``t = i/(n-1)``, returned exactly there; between two keys a
        :meth:`blend` (noise slerped, embeddings linear). ``smooth`` eases the whole path with
        a smoothstep (slow at both ends), ``linear`` moves at constant speed."""
        i, f = key_pair(key_position(len(keys), t, ease), len(keys))
        return blend_latents(keys[i], keys[i + 1], f, self.id)

    def render(self, latent: np.ndarray, width: int, height: int) -> np.ndarray:
        return cover(self._picture(latent), int(width), int(height))


DEFAULT_FACE_PROMPT = ("a head-and-shoulders portrait photograph of a person facing the camera, "
                       "face centred, plain background")


class DiffusersPortrait(FacePortraits, _Diffusers):
    """Faces from a prompt (setting ``prompt``) and a seed: each character's seed draws its own
    noise, the prompt says what kind of picture. The picture has no matte (alpha 255); the mouth
    and face box are where a centred head-and-shoulders portrait puts them (settings ``mouth``
    and ``face_box``, fractions of the square, override them)."""

    id = "portrait.diffusers"
    modality = "portrait"
    _EXTRA = ("prompt", "mouth", "face_box")
    DEFAULT_MOUTH = (0.5, 0.62)
    DEFAULT_FACE_BOX = (0.3, 0.22, 0.7, 0.72)

    def __init__(self, *, prompt: str = DEFAULT_FACE_PROMPT, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.prompt = str(prompt)

    @property
    def settings(self) -> Mapping[str, Any]:
        return {**super().settings, "prompt": self.prompt}

    def sample(self, seed: int, truncation: float = 1.0) -> np.ndarray:
        """The latent of the face for ``seed`` (``truncation`` is not read, as for images)."""
        return self._latent(seed, self.prompt)

    def _face_rgb(self, latent: np.ndarray) -> np.ndarray:
        return self._picture(latent)
