"""Stable Audio Open through diffusers' ``StableAudioPipeline`` behind the music protocol:
``music.stable_audio``.

The prompt is the cue's genre, its artist (``in the style of …``) and its words (the lyrics, on
one line: Stable Audio Open does not sing, the words only describe), then ``style``. The pipeline
makes stereo audio at its VAE's rate (44.1 kHz for Stable Audio Open) for at most its window
(``transformer.sample_size × hop / rate``: 47.5 s for Stable Audio Open); a longer cue is made of
windows of that length, window ``i`` drawn from the seed's ``i``-th sub-seed, joined by
equal-power crossfades of ``crossfade`` seconds (each window continues the same prompt, not the
music before it: a long cue changes at its joins). The result is resampled to nyeshc's 48 kHz
(``scipy.signal.resample_poly``), cut to exactly ``round(seconds × 48000)`` samples and scaled
down when a peak would pass 0.999.

Determinism: the initial noise comes from a CPU ``torch.Generator`` seeded from the cue's seed
(and the window), as do the scheduler's draws; on the CPU the samples are the same to the bit,
on a GPU as repeatable as its kernels (see ``diffusion.py``).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

import numpy as np

from nyeshc.backends.base import SAMPLE_RATE, BackendError, ProgressFn
from nyeshc.backends.models.common import (
    import_torch,
    pick_device,
    setting_name,
    shared_network,
)
from nyeshc.backends.models.diffusion import (
    DTYPES,
    library_versions,
    load_pipeline,
    read_json,
    resolve_model,
)
from nyeshc.costs import stable_audio_cost

__all__ = ["StableAudioMusic", "music_prompt"]

_HINT = "see docs/models/diffusers.md"

def music_prompt(genre: str, artist: str, lyrics: str, style: str = "") -> str:
    """The words Stable Audio is asked for: ``"ambient, in the style of Nobody, the names are
    gone, slow strings"`` (empty parts left out)."""
    parts = [genre.strip()]
    if artist.strip():
        parts.append(f"in the style of {artist.strip()}")
    words = " ".join(lyrics.split())
    if words:
        parts.append(words)
    if style.strip():
        parts.append(style.strip())
    return ", ".join(p for p in parts if p)


class StableAudioMusic:
    """Music cues from a Stable Audio pipeline (``model``: a diffusers folder or a cached Hub
    repository id, as for ``image.diffusers``)."""

    id = "music.stable_audio"
    version = "1"
    modality = "music"

    def __init__(self, *, model: Any = None, revision: str | None = None, steps: int = 100,
                 guidance: float = 7.0, negative_prompt: str = "", style: str = "", crossfade: float = 2.0,
                 dtype: str = "float32", device: str = "auto", model_id: str | None = None,
                 libraries: str | None = None, **unknown: Any) -> None:
        if unknown:
            raise BackendError(f"{self.id}: unknown setting(s) {', '.join(sorted(unknown))} in "
                               "[profile.<name>.music]; known: model, revision, steps, guidance, negative_prompt, "
                               f"style, crossfade, dtype, device ({_HINT})")
        self.model_setting = str(model) if model else ""
        self.revision = str(revision) if revision else None
        self.folder, self.model_id = resolve_model(self.id, "music", model, revision)
        self.libraries = library_versions()
        for given, have, what in ((model_id, self.model_id, f"the pipeline in {self.folder}"),
                                  (libraries, self.libraries, "the installed diffusers/transformers")):
            if given is not None and given != have:
                raise BackendError(f"{self.id}: {what} changed since the film was planned; plan it again")
        cls = str(read_json(self.folder / "model_index.json").get("_class_name", ""))
        if cls != "StableAudioPipeline":
            raise BackendError(f"{self.id}: {self.folder} holds a {cls or 'unknown'} pipeline, not a "
                               f"StableAudioPipeline; check {setting_name('music', 'model')} ({_HINT})")
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise BackendError(f"{self.id}: {setting_name('music', 'steps')} must be a whole number >= 1, "
                               f"not {steps!r}")
        self.steps = int(steps)
        if isinstance(guidance, bool) or not isinstance(guidance, (int, float)) or guidance < 0:
            raise BackendError(f"{self.id}: {setting_name('music', 'guidance')} must be a number >= 0, "
                               f"not {guidance!r}")
        self.guidance = float(guidance)
        if isinstance(crossfade, bool) or not isinstance(crossfade, (int, float)) or crossfade < 0:
            raise BackendError(f"{self.id}: {setting_name('music', 'crossfade')} must be seconds >= 0, "
                               f"not {crossfade!r}")
        self.crossfade = float(crossfade)
        if dtype not in DTYPES:
            raise BackendError(f"{self.id}: {setting_name('music', 'dtype')} must be one of {', '.join(DTYPES)}, "
                               f"not {dtype!r}")
        self.dtype = str(dtype)
        self.negative_prompt = str(negative_prompt or "")
        self.style = str(style or "")
        self.device = str(device or "auto").strip().lower()
        if not (self.device in ("auto", "cpu") or self.device.startswith("cuda")):
            raise BackendError(f"{self.id}: device must be \"auto\", \"cpu\" or \"cuda[:N]\", not {device!r} "
                               f"({setting_name('music', 'device')})")
        gpu = self.device.startswith("cuda") or (self.device == "auto" and pick_device(self.id, "auto") != "cpu")
        if self.dtype == "float16" and not gpu:
            raise BackendError(f"{self.id}: {setting_name('music', 'dtype')} = \"float16\" needs a GPU; use "
                               "\"float32\" on the CPU")
        self.cost = stable_audio_cost("gpu" if gpu else "cpu", self.steps, self.guidance)
        self._lock = threading.RLock()
        self._pipe: Any = None
        self._torch: Any = None

    @property
    def settings(self) -> Mapping[str, Any]:
        s: dict[str, Any] = {"model": self.model_setting, "steps": self.steps, "guidance": self.guidance,
                             "negative_prompt": self.negative_prompt, "style": self.style,
                             "crossfade": self.crossfade, "dtype": self.dtype, "device": self.device,
                             "model_id": self.model_id, "libraries": self.libraries}
        if self.revision is not None:
            s["revision"] = self.revision
        return s

    def _net(self) -> Any:
        with self._lock:
            if self._pipe is None:
                torch = import_torch(self.id)
                dev = pick_device(self.id, self.device)
                key = ("stable_audio", str(self.folder.resolve()), self.model_id, dev, self.dtype)
                self._pipe = shared_network(key, lambda: self._load(torch, dev))
                self._torch = torch
            return self._pipe

    def _load(self, torch: Any, dev: str) -> Any:
        return load_pipeline("StableAudioPipeline", self.id, self.folder, getattr(torch, self.dtype), "music").to(dev)

    def window(self) -> float:
        """The longest piece (seconds) one pipeline call makes, from the loaded configs."""
        pipe = self._net()
        hop = int(np.prod(pipe.vae.config.downsampling_ratios))
        return int(pipe.transformer.config.sample_size) * hop / float(pipe.vae.config.sampling_rate)

    def _piece(self, prompt: str, seconds: float, seed: int) -> tuple[np.ndarray, int]:
        pipe = self._net()
        torch = self._torch
        gen = torch.Generator("cpu").manual_seed(int(seed) % (1 << 63))
        kwargs: dict[str, Any] = {"prompt": prompt, "audio_end_in_s": float(seconds),
                                  "num_inference_steps": self.steps, "guidance_scale": self.guidance,
                                  "generator": gen, "output_type": "np"}
        if self.negative_prompt:
            kwargs["negative_prompt"] = self.negative_prompt
        with torch.no_grad():
            out = pipe(**kwargs)
        audio = np.asarray(out.audios[0], np.float64)  # (channels, samples)
        if audio.ndim == 1:
            audio = audio[None]
        if audio.shape[0] == 1:
            audio = np.repeat(audio, 2, axis=0)
        return audio[:2].T.copy(), int(pipe.vae.config.sampling_rate)

    def generate(self, *, genre: str, artist: str, lyrics: str, seconds: float, seed: int,
                 progress: ProgressFn | None = None) -> np.ndarray:
        """``float32 (round(seconds * 48000), 2)``. ``temperature``, ``tempo`` and ``meter`` are
        not taken (Stable Audio is conditioned on text and length only), so a cue that states
        one is refused by the executor with the option named."""
        from scipy.signal import resample_poly

        total = round(float(seconds) * SAMPLE_RATE)
        if total <= 0:
            return np.zeros((0, 2), np.float32)
        prompt = music_prompt(genre, artist, lyrics, self.style)
        window = self.window()
        fade = min(self.crossfade, window / 4.0)
        step = window - fade
        count = 1 if seconds <= window else 1 + int(np.ceil((seconds - window) / step - 1e-9))
        out = np.zeros((total, 2), np.float64)
        ss = np.random.SeedSequence([int(seed) % (1 << 63), 0x5A0D10])
        seeds = [int(s) for s in ss.generate_state(count, np.uint32)] if count > 1 else [int(seed)]
        for i in range(count):
            start = i * step
            length = min(window, float(seconds) - start + (fade if i < count - 1 else 0.0))
            # a last piece of a few samples is made at least a second (or a window) long and cut
            length = min(window, max(length, 1.0))
            piece, rate = self._piece(prompt, length, seeds[i])
            r = Fraction(SAMPLE_RATE, rate)
            up = resample_poly(piece, r.numerator, r.denominator, axis=0) if rate != SAMPLE_RATE else piece
            a = round(start * SAMPLE_RATE)
            up = up[: max(0, total - a)]
            if i > 0 and fade > 0:  # equal-power crossfade over the overlap
                n = min(round(fade * SAMPLE_RATE), len(up))
                x = (np.arange(n) + 0.5) / n
                out[a:a + n] *= np.cos(x * np.pi / 2)[:, None]
                up = up.copy()
                up[:n] *= np.sin(x * np.pi / 2)[:, None]
            out[a:a + len(up)] += up
            if progress is not None:
                progress((i + 1) / count)
        peak = float(np.abs(out).max()) if out.size else 0.0
        if peak > 0.999:
            out *= 0.999 / peak
        return out.astype(np.float32)
