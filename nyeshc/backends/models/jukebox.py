"""JukeboxMusic: music cues from OpenAI Jukebox, through the ``jukebox-infer`` package.

``jukebox-infer`` (PyPI, MIT) is the inference half of https://github.com/openai/jukebox ported
to current PyTorch; its module layout and sampling loop are the original's (``make_models``,
``hparams``, ``sample``). This adapter drives it the way ``jukebox/sample.py`` does:

* ``make_vqvae`` / ``make_prior`` build the VQ-VAE and the priors of one model (``5b``,
  ``5b_lyrics`` or ``1b_lyrics``: a top-level prior and the two shared upsamplers) from the
  package's own hyperparameter sets, with ``restore_*`` pointed at the user's local files --
  never at ``https://openaipublic...``, so the package's download path is never reached (and its
  ``download`` function is replaced by one that raises while we load, in case);
* labels come from ``prior.labeller.get_batch_labels(metas)`` with the script's genre, artist and
  lyrics (the labeller maps names to its id tables; unknown names become "unknown");
* ``_sample`` samples the top level and then ``levels - 1`` upsamplers, each with
  ``dict(temp, fp16, chunk_size, max_batch_size)`` and sample.py's hop fractions (0.5, 0.5, 0.125);
  with ``prime`` the codes of an audio file (``load_prompts`` + ``vqvae.encode``) start the
  song, as sample.py's ``primed`` mode;
* ``vqvae.decode`` turns the lowest sampled level into 44.1 kHz mono, which is resampled to
  48 kHz, high-passed at 20 Hz (no DC offset), trimmed to the cue, made stereo and scaled down
  (never clipped) under -1 dBFS.

The upsamplers need one full context window, so a cue shorter than the model's minimum is
generated at the minimum and trimmed (:meth:`JukeboxMusic.sample_length`).

Jukebox assumes CUDA in a few type assertions (``isinstance(x, torch.cuda.LongTensor)`` in
``prior/prior.py``, ``prior/autoregressive.py`` and ``prior/conditioners.py``). On the CPU those
three modules get a view of ``torch`` whose ``cuda.LongTensor`` accepts any int64 tensor
(:func:`_cpu_type_checks`); nothing else of theirs is changed. Sampling in half precision
(``fp16``) is used on CUDA only.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
import pickle
import threading
import types
from pathlib import Path
from typing import Any

import numpy as np

from nyeshc.backends.base import SAMPLE_RATE, BackendError, CostModel, ProgressFn
from nyeshc.backends.models.common import (
    checkout_module,
    import_torch,
    pick_device,
    require_checkout,
    require_file,
    setting_name,
    sha256_file,
)

__all__ = ["JukeboxMusic"]

ID = "music.jukebox"
MIN_TEMPERATURE = 0.01
"""A cue's ``temperature`` below this (0 included) samples at this: Jukebox divides its logits by
the temperature, so 0 itself would divide by zero; 0.01 is all but greedy sampling."""
MAX_TEMPERATURE = 2.0  # the script's `temperature X` runs 0..2 (docs/language.md)
MODELS = ("5b_lyrics", "5b", "1b_lyrics")
JUKEBOX_SR = 44_100
CEILING = 10 ** (-1 / 20)  # -1 dBFS
FADE = 0.005  # seconds of fade at both ends of the trimmed cue (no clicks)
HOP_FRACTION = (0.5, 0.5, 0.125)  # sample.py / README, per level 0, 1, 2
LEVEL_NAMES = ("vqvae", "level_0", "level_1", "level_2")
HINT = "see docs/models/jukebox.md"

# Files under `checkpoints`, laid out as under https://openaipublic.azureedge.net/jukebox/models/
# (and so as jukebox's own ~/.cache/jukebox/models/): the VQ-VAE and the upsamplers are shared.
_FILES = {
    "vqvae": "5b/vqvae.pth.tar",
    "level_0": "5b/prior_level_0.pth.tar",
    "level_1": "5b/prior_level_1.pth.tar",
}

# jukebox-infer's hyperparameter set names (make_models.MODELS)
_HPS = {
    "5b": ("vqvae", "upsampler_level_0", "upsampler_level_1", "prior_5b"),
    "5b_lyrics": ("vqvae", "upsampler_level_0", "upsampler_level_1", "prior_5b_lyrics"),
    "1b_lyrics": ("vqvae", "upsampler_level_0", "upsampler_level_1", "prior_1b_lyrics"),
}

# sample.py: chunk_size / max_batch_size per level (levels 0 and 1 are the upsamplers)
_CHUNK = {"5b": 16, "5b_lyrics": 16, "1b_lyrics": 32}
_TOP_BATCH = {"5b": 3, "5b_lyrics": 3, "1b_lyrics": 16}
_LOW_CHUNK, _LOW_BATCH = 32, 16

# Seconds of V100 time per second of audio. The README: "On a V100, it takes about 3 hrs to fully
# sample 20 seconds of music" (= 540 s/s); the paper/blog: "approximately 9 hours to fully render
# one minute of audio" (also 540 s/s). Fewer levels are scaled by our estimate of the share of
# that time spent per level (the README: "the vast majority of time is spent on upsampling").
_GPU_PER_SECOND = {1: 60.0, 2: 200.0, 3: 540.0}
_CPU_FACTOR = 50.0  # a rough guess for real-size models on a CPU (not measured: impractical)
_LOAD_SECONDS = {"5b": 120.0, "5b_lyrics": 130.0, "1b_lyrics": 60.0}

_LOCK = threading.RLock()
_DC_SOS: Any = None  # the DC-blocking filter, made on first use (scipy is imported lazily)


def _files_for(model: str, levels: int) -> dict[str, str]:
    """The checkpoint files (relative to ``checkpoints``) that ``levels`` levels of ``model`` need."""
    files = {"vqvae": _FILES["vqvae"], "level_2": f"{model}/prior_level_2.pth.tar"}
    for level in range(3 - levels, 2):
        files[f"level_{level}"] = _FILES[f"level_{level}"]
    return files


def _tupled(value: Any) -> Any:
    return tuple(_tupled(v) for v in value) if isinstance(value, list) else value


def _listed(value: Any) -> Any:
    return [_listed(v) for v in value] if isinstance(value, tuple) else value


class _Tail(io.TextIOBase):
    """A write-only text stream keeping the last few thousand characters (jukebox prints a lot)."""

    def __init__(self, keep: int = 4000) -> None:
        self.keep = keep
        self.text = ""

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        self.text = (self.text + s)[-self.keep:]
        return len(s)

    def last_lines(self, n: int = 6) -> str:
        lines = [ln.strip() for ln in self.text.replace("\r", "\n").splitlines() if ln.strip()]
        return " | ".join(lines[-n:])


def _cpu_type_checks(torch: Any, modules: list[Any]) -> None:
    """Let jukebox's ``isinstance(x, t.cuda.LongTensor)`` assertions accept CPU int64 tensors.

    Each module's global ``t`` (``import torch as t``) is replaced by a module object that
    forwards every attribute to ``torch`` except ``cuda``, which forwards to ``torch.cuda`` except
    ``LongTensor``: a class whose ``isinstance`` check is "an int64 tensor on any device"."""

    class _AnyDeviceLong(type):
        def __instancecheck__(cls, obj: Any) -> bool:
            return isinstance(obj, torch.Tensor) and obj.dtype == torch.long

    class LongTensor(metaclass=_AnyDeviceLong):
        pass

    class _CudaView(types.ModuleType):
        def __getattr__(self, name: str) -> Any:
            return getattr(torch.cuda, name)

    class _TorchView(types.ModuleType):
        def __getattr__(self, name: str) -> Any:
            return getattr(torch, name)

    cuda = _CudaView("torch.cuda")
    cuda.LongTensor = LongTensor  # type: ignore[attr-defined]
    view = _TorchView("torch")
    view.cuda = cuda  # type: ignore[attr-defined]
    view.__nyeshc_view__ = True  # type: ignore[attr-defined]
    for mod in modules:
        current = getattr(mod, "t", None)
        if current is torch:
            mod.t = view
        elif current is None or not getattr(current, "__nyeshc_view__", False):
            raise BackendError(f"{ID}: {mod.__name__} does not import torch as `t`; this version of "
                               f"jukebox-infer is not one the adapter knows how to run on a CPU ({HINT})")


class JukeboxMusic:
    """OpenAI Jukebox through ``jukebox-infer``; settings in :meth:`__init__` and docs/models/jukebox.md."""

    id = ID
    version = "1"
    modality = "music"

    def __init__(self, *, checkpoints: str | None = None, model: str = "5b_lyrics", device: str = "auto",
                 temperature: float = 0.98, levels: int = 3, prime: str | None = None,
                 prime_seconds: float = 4.0, max_batch_size: int | None = None, fp16: bool = True,
                 checkout: str | None = None, hparams: dict[str, Any] | None = None,
                 checkpoints_sha256: dict[str, str] | None = None, prime_sha256: str | None = None) -> None:
        if model not in MODELS:
            raise BackendError(f"{ID}: model must be one of {', '.join(MODELS)}, not {model!r}; "
                               f"check {setting_name('music', 'model')} in nysh.toml")
        if isinstance(levels, bool) or not isinstance(levels, int) or not 1 <= levels <= 3:
            raise BackendError(f"{ID}: levels must be 1 (top level only, fast and lo-fi), 2 or 3 (full quality), "
                               f"not {levels!r}; check {setting_name('music', 'levels')}")
        if not (isinstance(temperature, (int, float)) and math.isfinite(temperature) and temperature > 0):
            raise BackendError(f"{ID}: temperature must be a number > 0 (jukebox uses 0.98-0.99), "
                               f"not {temperature!r}; check {setting_name('music', 'temperature')}")
        if max_batch_size is not None and (isinstance(max_batch_size, bool) or not isinstance(max_batch_size, int)
                                           or max_batch_size < 1):
            raise BackendError(f"{ID}: max_batch_size must be a whole number >= 1, not {max_batch_size!r}")
        if not isinstance(fp16, bool):
            raise BackendError(f"{ID}: fp16 must be true or false, not {fp16!r}")
        if not (isinstance(prime_seconds, (int, float)) and math.isfinite(prime_seconds) and prime_seconds > 0):
            raise BackendError(f"{ID}: prime_seconds must be > 0, not {prime_seconds!r}")
        self.model = model
        self.levels = int(levels)
        self.temperature = float(temperature)
        self.device = str(device or "auto")
        self.fp16 = fp16
        self.max_batch_size = max_batch_size
        self.prime_seconds = float(prime_seconds)
        self.hparams = self._check_hparams(hparams)

        if not checkpoints:
            raise BackendError(f"{ID} needs the Jukebox checkpoints: set {setting_name('music', 'checkpoints')} = "
                               "\"path/to/jukebox/models\" (a folder holding 5b/vqvae.pth.tar, "
                               f"5b/prior_level_0.pth.tar, ...; nyeshc never downloads them; {HINT})")
        root = Path(str(checkpoints)).expanduser()
        if not root.is_dir():
            raise BackendError(f"{ID}: the checkpoints folder {root} does not exist; check "
                               f"{setting_name('music', 'checkpoints')} in nysh.toml ({HINT})")
        self.checkpoints = root
        self.paths: dict[str, Path] = {}
        for name, rel in _files_for(model, self.levels).items():
            self.paths[name] = require_file(ID, "music", "checkpoints", str(root / rel),
                                            f"the {model} {name} checkpoint ({rel} under {root})", HINT)
        self.checkout = None
        if checkout:
            self.checkout = require_checkout(ID, "music", "checkout", checkout, "a jukebox-infer checkout",
                                             ("jukebox_infer/make_models.py", "jukebox_infer/sample.py"), HINT)
        self.prime = require_file(ID, "music", "prime", prime, "the priming audio file", HINT) if prime else None
        self._sha = {name: sha256_file(p) for name, p in self.paths.items()}
        self._prime_sha = sha256_file(self.prime) if self.prime else None
        # the executor rebuilds the backend from a job's settings, hashes included: a file replaced
        # since the film was planned must not make artifacts that are stored under the old key
        if checkpoints_sha256 is not None and dict(checkpoints_sha256) != self._sha:
            changed = sorted(k for k in set(self._sha) | set(checkpoints_sha256)
                             if self._sha.get(k) != checkpoints_sha256.get(k))
            raise BackendError(f"{ID}: the {', '.join(changed)} checkpoint(s) under {root} changed since the film "
                               "was planned; plan (build) it again")
        if prime_sha256 is not None and prime_sha256 != self._prime_sha:
            raise BackendError(f"{ID}: the prime file {self.prime} changed since the film was planned; "
                               "plan (build) it again")
        per_second = _GPU_PER_SECOND[self.levels]
        if self.device.strip().lower() == "cpu":
            self.cost = CostModel(device="cpu", per_call=_LOAD_SECONDS[model] * 2,
                                  per_audio_second=per_second * _CPU_FACTOR)
        else:
            self.cost = CostModel(device="gpu", per_call=_LOAD_SECONDS[model], per_audio_second=per_second)
        self._net: dict[str, Any] | None = None

    @staticmethod
    def _check_hparams(hparams: Any) -> dict[str, dict[str, Any]]:
        if hparams is None:
            return {}
        if not isinstance(hparams, dict):
            raise BackendError(f"{ID}: {setting_name('music', 'hparams')} must be a table of tables "
                               f"({', '.join(LEVEL_NAMES)}), not {hparams!r}")
        out: dict[str, dict[str, Any]] = {}
        for key, table in hparams.items():
            if key not in LEVEL_NAMES or not isinstance(table, dict):
                raise BackendError(f"{ID}: [profile.<name>.music.hparams.{key}] is not one of "
                                   f"{', '.join(LEVEL_NAMES)} (each a table of jukebox hyperparameters)")
            bad = sorted(k for k in table if str(k).startswith("restore_"))
            if bad:
                raise BackendError(f"{ID}: [profile.<name>.music.hparams.{key}] may not set {', '.join(bad)}: the "
                                   f"checkpoint paths come from {setting_name('music', 'checkpoints')} only")
            out[key] = {str(k): _tupled(v) for k, v in table.items()}
        return out

    @property
    def settings(self) -> dict[str, Any]:
        """Every constructor argument (the executor rebuilds the backend from these), with the
        checkpoints' and the prime's SHA-256 so a replaced file changes the job keys."""
        return {"checkpoints": str(self.checkpoints), "model": self.model, "device": self.device,
                "temperature": self.temperature, "levels": self.levels,
                "prime": str(self.prime) if self.prime else None, "prime_seconds": self.prime_seconds,
                "max_batch_size": self.max_batch_size, "fp16": self.fp16,
                "checkout": str(self.checkout) if self.checkout else None,
                "hparams": {k: {kk: _listed(vv) for kk, vv in v.items()} for k, v in self.hparams.items()},
                "checkpoints_sha256": dict(self._sha), "prime_sha256": self._prime_sha}

    # ------------------------------------------------------------------ loading

    def _import(self) -> dict[str, Any]:
        if self.checkout is not None:
            def get(name: str) -> Any:
                return checkout_module(ID, self.checkout, name)
        else:
            def get(name: str) -> Any:
                try:
                    return __import__(name, fromlist=["_"])
                except ImportError as exc:
                    raise BackendError(f"{ID} needs the jukebox-infer package: pip install jukebox-infer==0.1.2 "
                                       f"(or set {setting_name('music', 'checkout')} to a clone of "
                                       f"github.com/openmirlab/jukebox-infer; {HINT}): {exc}") from exc
        return {name: get(f"jukebox_infer.{name}") for name in
                ("hparams", "make_models", "sample", "prior.prior", "prior.autoregressive", "prior.conditioners")}

    def _level_hps(self, mods: dict[str, Any], key: str, name: str, extra: dict[str, Any]) -> Any:
        try:
            return mods["hparams"].setup_hparams(name, {**self.hparams.get(key, {}), **extra})
        except (ValueError, KeyError) as exc:
            raise BackendError(f"{ID}: jukebox rejects the hyperparameters for {key} ({exc}); check "
                               f"[profile.<name>.music.hparams.{key}] in nysh.toml") from exc

    def load(self) -> None:
        """Load every network now (what ``nyeshc doctor --load`` checks: sampling even one
        second takes most of an hour on a V100 at three levels)."""
        self._load()

    def _load(self) -> dict[str, Any]:
        with _LOCK:  # one load per backend, even when two threads ask at once
            if self._net is None:
                self._net = self._load_networks()
            return self._net

    def _load_networks(self) -> dict[str, Any]:
        torch = import_torch(ID)
        device = pick_device(ID, self.device)
        for name, path in self.paths.items():  # checked again: files may have gone since the constructor
            if not path.is_file():
                raise BackendError(f"{ID}: the {name} checkpoint {path} no longer exists; check "
                                   f"{setting_name('music', 'checkpoints')} in nysh.toml (nyeshc never downloads "
                                   f"checkpoints; {HINT})")
        mods = self._import()
        mm = mods["make_models"]
        if not device.startswith("cuda"):
            _cpu_type_checks(torch, [mods["prior.prior"], mods["prior.autoregressive"], mods["prior.conditioners"]])

        def no_download(remote: Any, local: Any, *args: Any, **kwargs: Any) -> None:
            raise BackendError(f"{ID}: jukebox tried to download {remote} to {local}; nyeshc never downloads "
                               f"checkpoints: put the file under {setting_name('music', 'checkpoints')} ({HINT})")

        names = _HPS[self.model]
        log = _Tail()
        # building the modules draws their (overwritten) initial weights from torch's global generator
        cuda_devices = [torch.device(device).index or 0] if device.startswith("cuda") else []
        with _LOCK, contextlib.redirect_stdout(log), torch.random.fork_rng(devices=cuda_devices):
            saved = getattr(mm, "download", None)
            mm.download = no_download
            try:
                vq_hps = self._level_hps(mods, "vqvae", names[0], {"restore_vqvae": str(self.paths["vqvae"])})
                top_hps = self._level_hps(mods, "level_2", names[3], {"restore_prior": str(self.paths["level_2"])})
                if not vq_hps.get("sample_length"):
                    # any multiple of the top level's hop: the networks do not depend on it
                    vq_hps.sample_length = int(np.prod(np.asarray(vq_hps.strides_t) ** np.asarray(vq_hps.downs_t)))
                vqvae = mm.make_vqvae(vq_hps, device, auto_download=False)
                priors: list[Any] = [None, None, None]
                hps_by_level: list[Any] = [None, None, top_hps]
                for level in range(3 - self.levels, 2):
                    hps_by_level[level] = self._level_hps(mods, f"level_{level}", names[1 + level],
                                                          {"restore_prior": str(self.paths[f"level_{level}"])})
                for level in range(3 - self.levels, 3):
                    priors[level] = mm.make_prior(hps_by_level[level], vqvae, device, auto_download=False)
            except BackendError:
                raise
            except pickle.UnpicklingError as exc:
                raise BackendError(f"{ID}: torch refused to unpickle a checkpoint under {self.checkpoints} ({exc}); "
                                   "jukebox-infer loads with torch's default weights_only=True: re-save the file "
                                   "from a trusted session as torch.save({'model': ckpt['model']}, path) "
                                   f"({HINT})") from exc
            except (OSError, RuntimeError, KeyError, ValueError, AssertionError) as exc:
                raise BackendError(f"{ID}: could not load the {self.model} checkpoints from {self.checkpoints} "
                                   f"({type(exc).__name__}: {exc}); are they the official files, and do the "
                                   f"hparams match them? ({HINT}) [jukebox said: {log.last_lines()}]") from exc
            finally:
                if saved is not None:
                    mm.download = saved
        return {"torch": torch, "device": device, "vqvae": vqvae, "priors": priors, "hps": hps_by_level,
                "sample": mods["sample"], "hparams": mods["hparams"], "vq_hps": vq_hps}

    # ------------------------------------------------------------------ lengths

    def sample_length(self, seconds: float) -> int:
        """Samples at 44.1 kHz that jukebox generates for a ``seconds`` cue: enough to cover it after
        resampling to 48 kHz, at least one context window of every sampled upsampler, and a
        multiple of the top level's hop. (Loads the networks.)"""
        net = self._load()
        return self._sample_length(net, seconds)

    def _sample_length(self, net: dict[str, Any], seconds: float) -> int:
        priors = net["priors"]
        top = priors[2]
        hop = int(top.raw_to_tokens)
        need = int(math.ceil(round(seconds * SAMPLE_RATE) * JUKEBOX_SR / SAMPLE_RATE)) + 1
        for level in range(3 - self.levels, 2):
            need = max(need, int(priors[level].n_ctx) * int(priors[level].raw_to_tokens))
        return max(hop, -(-need // hop) * hop)

    # ------------------------------------------------------------------ protocol

    def generate(self, *, genre: str, artist: str, lyrics: str, seconds: float, seed: int,
                 progress: ProgressFn | None = None, temperature: float | None = None) -> np.ndarray:
        """``float32 (round(seconds * 48000), 2)``, peaks at most -1 dBFS.

        ``temperature`` (the cue's ``temperature X``, 0..2) replaces the configured
        ``temperature`` setting for this cue, at every level; None keeps the setting. Jukebox
        divides its logits by it, so it must be above 0: values below :data:`MIN_TEMPERATURE`
        (0 included) sample at that minimum, which is all but greedy."""
        if not math.isfinite(seconds) or seconds < 0:
            raise BackendError(f"{ID}: seconds must be >= 0 (got {seconds})")
        temp = self.temperature
        if temperature is not None:
            ok = not isinstance(temperature, bool) and isinstance(temperature, (int, float))
            if not ok or not 0.0 <= temperature <= MAX_TEMPERATURE:
                raise BackendError(f"{ID}: the cue's temperature must be a number from 0 to {MAX_TEMPERATURE:g} "
                                   f"(got {temperature!r}; `source: generate, temperature X`)")
            temp = max(float(temperature), MIN_TEMPERATURE)
        n = int(round(seconds * SAMPLE_RATE))
        report = progress or (lambda _f: None)
        if n == 0:
            report(1.0)
            return np.zeros((0, 2), dtype=np.float32)
        net = self._load()
        report(0.02)
        mono = self._jukebox(net, genre, artist, lyrics, seconds, seed, report, temp)
        out = self._master(mono, n)
        report(1.0)
        return out

    def _jukebox(self, net: dict[str, Any], genre: str, artist: str, lyrics: str, seconds: float, seed: int,
                 report: ProgressFn, temp: float | None = None) -> np.ndarray:
        """Mono float64 at 44.1 kHz, at least as long as the cue needs, sampled at ``temp``
        (None: the ``temperature`` setting)."""
        temp = self.temperature if temp is None else float(temp)
        torch = net["torch"]
        device = net["device"]
        priors, hps_by_level = net["priors"], net["hps"]
        top_hps = hps_by_level[2]
        length = self._sample_length(net, seconds)
        sr = int(top_hps.sr)
        if sr != JUKEBOX_SR:
            raise BackendError(f"{ID}: the model's sample rate is {sr} Hz; jukebox's models are {JUKEBOX_SR} Hz "
                               "(check [profile.<name>.music.hparams])")
        # the top prior's timing conditioner accepts song lengths in [min_duration, max_duration)
        total = int(min(max(length, math.ceil(float(top_hps.min_duration) * sr)),
                        int(float(top_hps.max_duration) * sr) - 1))
        cuda = device.startswith("cuda")
        hps = net["hparams"].Hyperparams(sample_length=length, n_samples=1, sr=sr, hop_fraction=list(HOP_FRACTION),
                                         total_sample_length_in_seconds=total / sr)
        sample_levels = list(range(3 - self.levels, 3))
        top_batch = self.max_batch_size or _TOP_BATCH[self.model]
        low_batch = self.max_batch_size or _LOW_BATCH
        sampling_kwargs = [dict(temp=temp, fp16=self.fp16 and cuda, chunk_size=_LOW_CHUNK,
                                max_batch_size=low_batch),
                           dict(temp=temp, fp16=self.fp16 and cuda, chunk_size=_LOW_CHUNK,
                                max_batch_size=low_batch),
                           dict(temp=temp, fp16=self.fp16 and cuda, chunk_size=_CHUNK[self.model],
                                max_batch_size=top_batch)]
        metas = [dict(artist=str(artist), genre=str(genre), lyrics=str(lyrics or ""), total_length=total, offset=0)]
        # progress: each level weighted by its sequential work (tokens x width^2 x depth)
        weights = {lv: (length / float(priors[lv].raw_to_tokens)) * float(hps_by_level[lv].prior_width) ** 2
                   * float(hps_by_level[lv].prior_depth) for lv in sample_levels}
        total_w = sum(weights.values()) or 1.0
        done = 0.0
        log = _Tail()
        torch_seed = int.from_bytes(hashlib.blake2b(f"{ID}|{int(seed)}".encode(), digest_size=8).digest(), "big")
        devices = [torch.device(device).index or 0] if cuda else []
        try:
            with _LOCK, contextlib.redirect_stdout(log), torch.random.fork_rng(devices=devices), torch.no_grad():
                torch.manual_seed(torch_seed)
                labels: list[Any] = [None, None, None]
                for level in sample_levels:
                    labels[level] = priors[level].labeller.get_batch_labels(metas, device)
                zs = [torch.zeros(1, 0, dtype=torch.long, device=device) for _ in range(3)]
                if self.prime is not None:
                    zs = self._prime_codes(net, hps, length)
                for level in reversed(sample_levels):
                    zs = net["sample"]._sample(zs, labels, sampling_kwargs, priors, [level], hps,
                                               device=torch.device(device))
                    done += weights[level]
                    report(0.02 + 0.9 * done / total_w)
                low = sample_levels[0]
                vqvae = net["vqvae"]
                audio = vqvae.decode([z.to(device) for z in zs[low:]], start_level=low, bs_chunks=1)
        except BackendError:
            raise
        except (RuntimeError, AssertionError, ValueError, KeyError, IndexError) as exc:
            raise BackendError(f"{ID}: jukebox failed while sampling ({type(exc).__name__}: {exc}) "
                               f"[jukebox said: {log.last_lines()}]") from exc
        x = audio.detach().float().cpu().numpy()
        if x.ndim != 3 or x.shape[0] != 1:
            raise BackendError(f"{ID}: vqvae.decode returned shape {tuple(x.shape)}; expected (1, samples, 1)")
        return x[0].mean(axis=1).astype(np.float64)

    def _prime_codes(self, net: dict[str, Any], hps: Any, length: int) -> list[Any]:
        """sample.py's ``primed`` mode: the first ``prime_seconds`` of the prime file, encoded."""
        priors = net["priors"]
        hop = int(priors[2].raw_to_tokens)
        duration = (int(self.prime_seconds * hps.sr) // hop) * hop
        duration = min(duration, length - hop)  # leave the top level at least one token to sample
        if duration < hop:
            raise BackendError(f"{ID}: prime_seconds = {self.prime_seconds} is shorter than one top-level token "
                               f"({hop / hps.sr:.4f} s) or the cue leaves nothing to generate")
        assert self.prime is not None
        try:
            x = net["sample"].load_prompts([str(self.prime)], duration, hps, device=net["device"])
        except (OSError, RuntimeError, ValueError) as exc:
            raise BackendError(f"{ID}: could not read the prime {self.prime} ({exc}); check "
                               f"{setting_name('music', 'prime')}") from exc
        if x.shape[1] < duration:
            raise BackendError(f"{ID}: the prime {self.prime} is shorter than prime_seconds = {self.prime_seconds}; "
                               f"use a longer file or lower {setting_name('music', 'prime_seconds')}")
        x = x[:, :duration]
        return list(net["vqvae"].encode(x, start_level=0, end_level=3, bs_chunks=x.shape[0]))

    @staticmethod
    def _master(mono: np.ndarray, n: int) -> np.ndarray:
        """44.1 kHz mono → 48 kHz stereo of exactly ``n`` samples: DC removed, faded at the ends,
        scaled (never clipped) under -1 dBFS."""
        from scipy import signal  # noqa: PLC0415

        global _DC_SOS
        if _DC_SOS is None:
            _DC_SOS = signal.butter(2, 20.0, btype="highpass", fs=SAMPLE_RATE, output="sos")

        if not np.all(np.isfinite(mono)):
            raise BackendError(f"{ID}: jukebox produced non-finite audio (NaN/inf); try fp16 = false")
        up = signal.resample_poly(mono, 160, 147)  # 44100 * 160 / 147 = 48000
        if up.shape[0] > 3 * _DC_SOS.shape[0] * 2:  # sosfiltfilt's edge padding needs a few samples
            up = signal.sosfiltfilt(_DC_SOS, up)  # zero-phase 20 Hz high-pass: no DC offset in the mix
        if up.shape[0] < n:
            up = np.pad(up, (0, n - up.shape[0]))
        y = up[:n].copy()
        f = min(n // 2, int(FADE * SAMPLE_RATE))
        if f > 0:
            ramp = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, f))
            y[:f] *= ramp
            y[-f:] *= ramp[::-1]
        peak = float(np.max(np.abs(y))) if n else 0.0
        if peak > CEILING:
            y *= CEILING / peak
        return np.ascontiguousarray(np.stack([y, y], axis=1).astype(np.float32))
