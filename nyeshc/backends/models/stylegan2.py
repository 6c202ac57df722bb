"""StyleGAN2-ADA (NVlabs/stylegan2-ada-pytorch) behind the image, portrait and glyph protocols.

The user points ``nysh.toml`` at a clone of the official repository (``checkout``: it must hold
``legacy.py``, ``dnnlib/`` and ``torch_utils/``, whose classes the pickled networks name) and at
a network pickle (``checkpoint``: a ``.pkl`` as the official training loop writes it or as
NVIDIA publishes them). The network is unpickled with the checkout's own
``legacy.load_network_pkl(f)['G_ema']`` on first use, never in the constructor.

Latents are **W vectors** (``float32 (w_dim,)``): ``sample`` draws ``z`` exactly as the official
``generate.py`` does (``np.random.RandomState(seed).randn(1, z_dim)``) and maps it with
``G.mapping(z, c, truncation_psi=truncation)``; blends and keyframe paths are linear in W (the
space StyleGAN2 was built to interpolate in) and ``render`` repeats the vector over the
network's ``num_ws`` inputs of ``G.synthesis``. Paths through four or more keys are a cubic
spline (``scipy.interpolate.interp1d(kind="cubic")``, as NVlabs' video scripts do); fewer keys
are joined linearly.

``latent_dim`` is the ``w_dim`` setting (512, as in every network NVIDIA published): the planner
constructs backends just to read their facts, and reading the real ``w_dim`` would mean loading
the network. When the network loads, a different ``w_dim`` is an error naming the setting.
"""

from __future__ import annotations

import hashlib
import threading
import warnings
import zlib
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from nyeshc.backends.base import Alphabet, BackendError, CostModel, Ease
from nyeshc.backends.models.common import (
    FacePortraits,
    checkout_module,
    cover,
    import_torch,
    key_pair,
    key_position,
    pick_device,
    require_checkout,
    require_file,
    setting_name,
    sha256_file,
    shared_network,
)
from nyeshc.backends.procedural.glyphs import LETTERS, StrokeGlyphs

__all__ = ["FFHQ_FACE_BOX", "FFHQ_MOUTH", "StyleGAN2Glyphs", "StyleGAN2Image", "StyleGAN2Portrait"]

CHECKOUT_MARKERS = ("legacy.py", "dnnlib", "torch_utils")
_HINT = "see docs/models/stylegan2.md"

# Where FFHQ's alignment (ffhq-dataset's ``recreate_aligned_images``) puts a face in the crop. It
# builds the square around c = eye_avg + 0.1 * eye_to_mouth, of half-side
# |x| = max(2.0 * |eye_to_eye|, 1.8 * |eye_to_mouth|), turned so eye->mouth points down. For the
# usual face the eye-to-mouth term wins, so the side is 3.6 * |eye_to_mouth|: the eyes sit at
# y = 0.5 - 0.1 / 3.6 = 0.472 and the mouth at y = 0.5 + 0.9 / 3.6 = 0.75, on the centre line.
FFHQ_MOUTH = (0.5, 0.75)
# The face box spans about two eye distances around the centre line (|eye_to_eye| <= 1/3.6 of the
# side), from the brow (~0.8 eye-to-mouth above the eyes) to the chin (~0.6 below the mouth).
FFHQ_FACE_BOX = (0.22, 0.25, 0.78, 0.92)

# Per frame at 1280x720 (the planner scales by pixel count; a GAN renders its native size and is
# resized, so these are really per generated image, for the FFHQ-1024 network). GPU: the README
# times fid50k_full (50k generated images plus Inception features) at 13 min on one V100 at
# 1024x1024, i.e. <= 0.016 s per batched image; one unbatched image with its transfers is taken
# as ~0.05 s. CPU: measured here on one thread of a shared box, 37-42 s per 1024x1024 synthesis
# of a random-weight generator of FFHQ-1024's size (5.4 s at 256x256); docs/models/stylegan2.md.
# ``per_call`` covers a mapping call (sample) and a share of the one-off unpickling.
_GPU_COST = CostModel(device="gpu", per_call=0.5, per_frame=0.05, scale_by_pixels=False)
_CPU_COST = CostModel(device="cpu", per_call=1.0, per_frame=40.0, scale_by_pixels=False)



def _code_sha256(checkout: Path) -> str:
    """One hash over the checkout's code that runs a pickled network: ``legacy.py`` and the
    ``torch_utils`` package (custom ops); the network classes travel inside the pickle."""
    h = hashlib.sha256()
    files = [checkout / "legacy.py", *sorted((checkout / "torch_utils").rglob("*.py"))]
    for path in files:
        if path.is_file():
            rel = path.relative_to(checkout).as_posix()
            h.update(rel.encode("utf-8") + b"\0" + sha256_file(path).encode("ascii") + b"\n")
    return h.hexdigest()


class _StyleGAN2:
    """What the three StyleGAN2 backends share: settings, the lazily loaded ``G_ema``, sampling
    in W and rendering a W vector."""

    version = "1"
    id = "image.stylegan2"
    modality = "image"

    def __init__(self, *, checkout: Any = None, checkpoint: Any = None, device: str = "auto",
                 class_idx: int | None = None, noise_mode: str = "const", fp16: bool = False,
                 w_dim: int = 512, interpolation: str = "cubic", checkpoint_sha256: str | None = None,
                 code_sha256: str | None = None, **unknown: Any) -> None:
        mod = self.modality
        if unknown:
            raise BackendError(f"{self.id}: unknown setting(s) {', '.join(sorted(unknown))} in "
                               f"[profile.<name>.{mod}]; known: {', '.join(self._known())} ({_HINT})")
        self.checkout = require_checkout(self.id, mod, "checkout", checkout,
                                         "a clone of NVlabs/stylegan2-ada-pytorch", CHECKOUT_MARKERS, _HINT)
        self.checkpoint = require_file(self.id, mod, "checkpoint", checkpoint,
                                       "a StyleGAN2-ADA network pickle (.pkl)", _HINT)
        self.sha256 = sha256_file(self.checkpoint)
        self.code_sha256 = _code_sha256(self.checkout)
        for given, have, what in ((checkpoint_sha256, self.sha256, f"the checkpoint {self.checkpoint}"),
                                  (code_sha256, self.code_sha256, f"the code in {self.checkout}")):
            if given is not None and given != have:
                raise BackendError(f"{self.id}: {what} changed since the film was planned; plan it again")
        self.device = str(device or "auto").strip().lower()
        if not (self.device in ("auto", "cpu") or self.device.startswith("cuda")):
            raise BackendError(f"{self.id}: device must be \"auto\", \"cpu\" or \"cuda[:N]\", not {device!r} "
                               f"({setting_name(mod, 'device')})")
        if class_idx is not None and (isinstance(class_idx, bool) or not isinstance(class_idx, int) or class_idx < 0):
            raise BackendError(f"{self.id}: {setting_name(mod, 'class_idx')} must be a class index >= 0, "
                               f"not {class_idx!r}")
        self.class_idx = class_idx
        if noise_mode not in ("const", "random", "none"):
            raise BackendError(f"{self.id}: {setting_name(mod, 'noise_mode')} must be \"const\", \"random\" or "
                               f"\"none\", not {noise_mode!r}")
        self.noise_mode = str(noise_mode)
        self.fp16 = bool(fp16)
        if isinstance(w_dim, bool) or not isinstance(w_dim, int) or w_dim < 4:
            raise BackendError(f"{self.id}: {setting_name(mod, 'w_dim')} must be a whole number >= 4 (the "
                               f"network's W size, 512 for NVIDIA's networks), not {w_dim!r}")
        self.latent_dim = int(w_dim)
        if interpolation not in ("cubic", "linear"):
            raise BackendError(f"{self.id}: {setting_name(mod, 'interpolation')} must be \"cubic\" or "
                               f"\"linear\", not {interpolation!r}")
        self.interpolation = str(interpolation)
        if self.device == "cpu":
            self.cost = _CPU_COST
        elif self.device.startswith("cuda"):
            self.cost = _GPU_COST
        else:  # "auto": ask torch (imported, but no network is loaded)
            self.cost = _GPU_COST if pick_device(self.id, "auto") != "cpu" else _CPU_COST
        self._lock = threading.RLock()
        self._G: Any = None
        self._torch: Any = None
        self._dev: str = "cpu"

    _EXTRA: tuple[str, ...] = ()

    @classmethod
    def _known(cls) -> tuple[str, ...]:
        return ("checkout", "checkpoint", "device", "class_idx", "noise_mode", "fp16", "w_dim",
                "interpolation", *cls._EXTRA)

    @property
    def settings(self) -> Mapping[str, Any]:
        # the constructor's configuration (the executor rebuilds the backend from it) plus the
        # checkpoint's and the code's hashes, so a replaced file invalidates what it made
        s: dict[str, Any] = {"checkout": str(self.checkout), "checkpoint": str(self.checkpoint),
                             "device": self.device, "noise_mode": self.noise_mode, "fp16": self.fp16,
                             "w_dim": self.latent_dim, "interpolation": self.interpolation,
                             "checkpoint_sha256": self.sha256, "code_sha256": self.code_sha256}
        if self.class_idx is not None:
            s["class_idx"] = self.class_idx
        return s

    # ------------------------------------------------------------------ the network

    def _net(self) -> Any:
        with self._lock:
            if self._G is not None:
                return self._G
            torch = import_torch(self.id)
            dev = pick_device(self.id, self.device)
            G = shared_network(("stylegan2", str(self.checkout.resolve()), str(self.checkpoint.resolve()),
                                self.sha256, dev, self.fp16), lambda: self._load(dev))
            if int(G.w_dim) != self.latent_dim:
                raise BackendError(f"{self.id}: the network in {self.checkpoint} has w_dim = {int(G.w_dim)}, "
                                   f"but the backend was configured with {self.latent_dim}; set "
                                   f"{setting_name(self.modality, 'w_dim')} = {int(G.w_dim)} in nysh.toml")
            c_dim = int(G.c_dim)
            if c_dim > 0 and self.class_idx is None:
                raise BackendError(f"{self.id}: {self.checkpoint} is a conditional network with {c_dim} classes; "
                                   f"set {setting_name(self.modality, 'class_idx')} = <0..{c_dim - 1}> in nysh.toml")
            if c_dim > 0 and self.class_idx is not None and self.class_idx >= c_dim:
                raise BackendError(f"{self.id}: {setting_name(self.modality, 'class_idx')} = {self.class_idx} but "
                                   f"the network has only {c_dim} classes (0..{c_dim - 1})")
            if c_dim == 0 and self.class_idx is not None:
                warnings.warn(f"{self.id}: class_idx is ignored for the unconditional network {self.checkpoint}",
                              stacklevel=2)
            self._torch, self._dev, self._G = torch, dev, G
            return G

    def _label(self, G: Any) -> Any:
        torch = self._torch
        label = torch.zeros([1, int(G.c_dim)], device=self._dev)
        if int(G.c_dim) > 0:
            label[:, int(self.class_idx)] = 1
        return label

    def _w_from_seed(self, seed: int, truncation: float) -> np.ndarray:
        G = self._net()
        torch = self._torch
        # exactly generate.py's z (its seeds are 32-bit; nyeshc's derived seeds are too)
        z = torch.from_numpy(np.random.RandomState(int(seed) % (1 << 32)).randn(1, int(G.z_dim))).to(self._dev)
        with torch.no_grad():
            ws = G.mapping(z, self._label(G), truncation_psi=float(truncation))
        w = ws[0, 0] if ws.ndim == 3 else ws[0]
        return w.detach().to("cpu", torch.float32).numpy().astype(np.float32).copy()

    def _load(self, dev: str) -> Any:
        legacy = checkout_module(self.id, self.checkout, "legacy")
        try:
            with open(self.checkpoint, "rb") as f:
                data = (legacy.load_network_pkl(f, force_fp16=True) if self.fp16 and dev != "cpu"
                        else legacy.load_network_pkl(f))
        except BackendError:
            raise
        except Exception as exc:  # a corrupt or foreign pickle: say which file
            raise BackendError(f"{self.id}: could not load {self.checkpoint} with the checkout's "
                               f"legacy.load_network_pkl: {type(exc).__name__}: {exc} (check "
                               f"{setting_name(self.modality, 'checkpoint')})") from exc
        G = data.get("G_ema") if isinstance(data, dict) else None
        needed = ("mapping", "synthesis", "z_dim", "w_dim", "c_dim", "num_ws", "img_resolution")
        if G is None or not all(hasattr(G, a) for a in needed):
            raise BackendError(f"{self.id}: {self.checkpoint} holds no StyleGAN2 generator 'G_ema' "
                               f"(check {setting_name(self.modality, 'checkpoint')})")
        return G.eval().requires_grad_(False).to(dev)

    def _synth(self, latent: np.ndarray) -> np.ndarray:
        """``uint8 (R, R, C)`` at the network's native resolution for one W vector."""
        G = self._net()
        torch = self._torch
        w = np.asarray(latent, np.float32).reshape(-1)
        if w.shape[0] != int(G.w_dim):
            raise BackendError(f"{self.id}: latent has {w.shape[0]} values, the network's W has {int(G.w_dim)}")
        ws = torch.from_numpy(w.copy()).to(self._dev).reshape(1, 1, -1).repeat(1, int(G.num_ws), 1)
        force_fp32 = self._dev == "cpu" or not self.fp16
        with torch.no_grad():
            if self.noise_mode == "random":  # seeded from the latent itself: same latent, same grain
                devices = [] if self._dev == "cpu" else [torch.device(self._dev).index or 0]
                with torch.random.fork_rng(devices=devices):
                    torch.manual_seed(zlib.crc32(w.tobytes()))
                    img = G.synthesis(ws, noise_mode="random", force_fp32=force_fp32)
            else:
                img = G.synthesis(ws, noise_mode=self.noise_mode, force_fp32=force_fp32)
            img = (img.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8)
        out = img[0].cpu().numpy()
        if out.shape[2] == 1:
            out = np.repeat(out, 3, axis=2)
        return out[..., :3]

    # ------------------------------------------------------------------ latent space (W)

    def sample(self, seed: int, truncation: float = 1.0) -> np.ndarray:
        return self._w_from_seed(seed, truncation)

    def blend(self, a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
        a = np.asarray(a, np.float64)
        b = np.asarray(b, np.float64)
        return (a + (b - a) * float(t)).astype(np.float32)


class StyleGAN2Image(_StyleGAN2):
    """Looks and backdrops from a StyleGAN2-ADA network (any dataset)."""

    id = "image.stylegan2"
    modality = "image"

    def sample(self, seed: int, truncation: float = 1.0, *, prompt: str | None = None) -> np.ndarray:
        """The latent (W) for ``seed``. A StyleGAN2 network has no text conditioning, so
        ``prompt`` is not read: the seed alone chooses the picture (a heading's place still has
        one seed, so every scene there shows the same picture)."""
        return self._w_from_seed(seed, truncation)

    def interpolate(self, keys: Sequence[np.ndarray], t: float, ease: Ease = "smooth") -> np.ndarray:
        n = len(keys)
        x = key_position(n, t, ease)
        ks = np.stack([np.asarray(k, np.float64).reshape(-1) for k in keys])
        if self.interpolation == "cubic" and n >= 4:
            from scipy.interpolate import interp1d  # noqa: PLC0415

            return interp1d(np.arange(n, dtype=np.float64), ks, kind="cubic", axis=0)(x).astype(np.float32)
        i, f = key_pair(x, n)
        return (ks[i] + (ks[i + 1] - ks[i]) * f).astype(np.float32)

    def render(self, latent: np.ndarray, width: int, height: int) -> np.ndarray:
        return cover(self._synth(latent), int(width), int(height))


class StyleGAN2Portrait(FacePortraits, _StyleGAN2):
    """Faces from seeds with an FFHQ (or other aligned-face) network.

    The GAN image has no matte: alpha is 255 everywhere. ``mouth`` and ``face_box`` come from
    FFHQ's alignment geometry (settings ``mouth = [fx, fy]`` and ``face_box = [x0, y0, x1, y1]``,
    fractions of the square, override them). ``latent`` stays ``None`` so motion backends treat
    the portrait as a picture (the procedural puppet re-renders only its own latents)."""

    id = "portrait.stylegan2"
    modality = "portrait"
    _EXTRA = ("mouth", "face_box")

    DEFAULT_MOUTH = FFHQ_MOUTH
    DEFAULT_FACE_BOX = FFHQ_FACE_BOX

    def _face_rgb(self, latent: np.ndarray) -> np.ndarray:
        return self._synth(latent)


class StyleGAN2Glyphs(_StyleGAN2, StrokeGlyphs):
    """Asemic scripts from a StyleGAN2-ADA network trained on glyph-like images.

    Glyph ``i`` of an alphabet is the W vector of a seed derived from the alphabet's seed and
    ``i``; the :class:`Alphabet` carries each glyph as a one-element tuple holding that vector
    as ``float32 (1, w_dim)`` (there are no pen strokes to store). Letters map to glyphs through
    a seeded permutation, so the same letter always gives the same glyph; text is set with the
    procedural backend's transliteration, spacing and wrapping (its punctuation marks are drawn
    with its pen). A glyph's ink is its darkness against the paper tone of the image's border
    (``polarity = "light"`` for light marks on dark ground). Glyph images are synthesised once
    per backend and resized once per line height."""

    id = "glyphs.stylegan2"
    modality = "glyphs"
    _EXTRA = ("truncation", "polarity", "tracking", "word_gap", "pen")

    def __init__(self, *, truncation: float = 1.0, polarity: str = "dark", tracking: float = 0.06,
                 word_gap: float = 0.42, pen: float = 1.0, **kwargs: Any) -> None:
        _StyleGAN2.__init__(self, **kwargs)
        StrokeGlyphs.__init__(self, supersample=4, pen=pen, tracking=tracking, word_gap=word_gap)
        if polarity not in ("dark", "light"):
            raise BackendError(f"{self.id}: {setting_name(self.modality, 'polarity')} must be \"dark\" or "
                               f"\"light\", not {polarity!r}")
        self.polarity = polarity
        self.truncation = float(truncation)
        self._ink: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._tiles: OrderedDict[tuple[bytes, int], np.ndarray] = OrderedDict()

    @property
    def settings(self) -> Mapping[str, Any]:
        return {**_StyleGAN2.settings.fget(self), "truncation": self.truncation,  # type: ignore[attr-defined]
                "polarity": self.polarity, "tracking": self.tracking, "word_gap": self.word_gap, "pen": self.pen}

    # ------------------------------------------------------------------ alphabets

    @staticmethod
    def glyph_seed(alphabet_seed: int, index: int) -> int:
        """The network seed of glyph ``index`` of the alphabet ``alphabet_seed``."""
        ss = np.random.SeedSequence([int(alphabet_seed) % (1 << 63), 0x5347_3267, int(index)])
        return int(ss.generate_state(1, np.uint32)[0])

    def alphabet(self, *, seed: int, count: int, strokes: tuple[int, int] = (1, 3)) -> Alphabet:
        """``count`` glyphs, each a seed's W vector. ``strokes`` cannot steer a GAN and is ignored."""
        if count < 1:
            raise ValueError("alphabet needs count >= 1")
        glyphs = tuple((self._w_from_seed(self.glyph_seed(seed, i), self.truncation).reshape(1, -1),)
                       for i in range(int(count)))
        rng = np.random.default_rng(np.random.SeedSequence([int(seed) % (1 << 63), 0x6D6170]))
        order = rng.permutation(len(LETTERS))
        perm = rng.permutation(int(count))
        mapping = {LETTERS[j]: int(perm[i % count]) for i, j in enumerate(order)}
        return Alphabet(seed=int(seed), strokes=glyphs, mapping=mapping)

    def _is_gan_glyph(self, glyph: tuple[np.ndarray, ...]) -> bool:
        return (len(glyph) == 1 and np.ndim(glyph[0]) == 2 and np.shape(glyph[0])[0] == 1
                and np.shape(glyph[0])[1] == self.latent_dim)

    # ------------------------------------------------------------------ drawing

    def _ink_of(self, w: np.ndarray) -> np.ndarray:
        """``float32 (R, R)`` ink coverage in [0, 1] of a glyph at native resolution (memoised)."""
        key = np.asarray(w, np.float32).tobytes()
        with self._lock:
            if key in self._ink:
                self._ink.move_to_end(key)
                return self._ink[key]
        rgb = self._synth(w).astype(np.float32) / 255.0
        lum = rgb @ np.array([0.2126, 0.7152, 0.0722], np.float32)
        ink = 1.0 - lum if self.polarity == "dark" else lum
        border = np.concatenate([ink[0], ink[-1], ink[:, 0], ink[:, -1]])
        paper = float(np.median(border))
        top = float(np.percentile(ink, 99.5))
        a = np.clip((ink - paper) / max(top - paper, 1e-3), 0.0, 1.0).astype(np.float32)
        with self._lock:
            self._ink[key] = a
            while len(self._ink) > 512:
                self._ink.popitem(last=False)
        return a

    def draw_glyph(self, glyph: tuple[np.ndarray, ...], em: float, nib: tuple[float, float]) -> np.ndarray:
        if not self._is_gan_glyph(glyph):  # punctuation: the procedural pen
            return StrokeGlyphs.draw_glyph(self, glyph, em, nib)
        size = max(1, int(np.ceil(em)))
        key = (np.asarray(glyph[0], np.float32).tobytes(), size)
        with self._lock:
            if key in self._tiles:
                self._tiles.move_to_end(key)
                return self._tiles[key]
        a = self._ink_of(glyph[0])
        im = Image.fromarray(np.round(a * 255).astype(np.uint8), "L").resize((size, size), Image.Resampling.LANCZOS)
        tile = np.asarray(im, dtype=np.uint8)
        cols = np.flatnonzero(tile.max(axis=0) >= 24)  # trim the empty paper left and right
        if cols.size:
            pad = max(1, size // 24)
            tile = tile[:, max(0, cols[0] - pad):min(size, cols[-1] + 1 + pad)]
        else:  # a blank glyph still takes a narrow cell
            tile = tile[:, : max(1, size // 3)]
        tile = np.ascontiguousarray(tile)
        with self._lock:
            self._tiles[key] = tile
            while len(self._tiles) > 4096:
                self._tiles.popitem(last=False)
        return tile

    def render_text(self, alphabet: Alphabet, text: str, *, height: int, ink: tuple[int, int, int],
                    max_width: int | None = None) -> np.ndarray:
        if alphabet.strokes and not all(self._is_gan_glyph(g) for g in alphabet.strokes):
            raise BackendError(f"{self.id}: this alphabet was not made by {self.id} (its glyphs are not "
                               f"{self.latent_dim}-value W vectors); make it with the same [glyphs] backend")
        return StrokeGlyphs.render_text(self, alphabet, text, height=height, ink=ink, max_width=max_width)
