"""PiperVoice (``voice.piper``): Piper neural TTS with a voice model the user placed.

Configured in ``nysh.toml`` (nothing is downloaded at run time)::

    [profile.full.tts]
    backend = "voice.piper"
    model = "~/voices/en_US-lessac-medium.onnx"   # the .onnx.json beside it is found
    # config = "~/voices/en_US-lessac-medium.onnx.json"
    speaker = 0          # multi-speaker models only
    length_scale = 1.0   # > 1 slower

Written against the ``piper-tts`` package (``pip install 'nyeshc[voices]'``), imported lazily:
``PiperVoice.load(model_path, config_path=...)`` and ``voice.synthesize(text, syn_config=
SynthesisConfig(speaker_id=..., length_scale=..., noise_scale=..., noise_w_scale=...))``, which
yields chunks with ``audio_float_array`` and ``sample_rate`` (piper-tts >= 1.3). Older releases'
``synthesize_stream_raw`` (int16 bytes) is used when ``synthesize`` is not the streaming one.

The script's ``rate`` divides ``length_scale``; ``pitch`` and ``lang`` are ignored (a Piper
voice has one language and one pitch). ``duration`` must be exact, and Piper's output is
only as deterministic as its noise settings, so a line is synthesised once per process and
memoised; across processes (the planner, then the executor) the default ``noise_scale`` and
``noise_w_scale`` of 0 make the model deterministic.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from nyeshc import dsp
from nyeshc.backends.base import SAMPLE_RATE, BackendError, CostModel

__all__ = ["PiperVoice"]

_KEY = "[profile.<name>.tts] model"


def _import_piper() -> Any:
    try:
        import piper  # noqa: PLC0415
    except ImportError as exc:
        raise BackendError("voice.piper needs the piper-tts package: pip install 'nyeshc[voices]' "
                           "(or pip install piper-tts)") from exc
    return piper


class PiperVoice:
    id = "voice.piper"
    version = "1"
    modality = "voice"
    cost = CostModel("cpu", per_call=0.3, per_audio_second=0.05)

    def __init__(self, model: str | None = None, config: str | None = None, speaker: int | None = None,
                 length_scale: float = 1.0, noise_scale: float = 0.0, noise_w_scale: float = 0.0,
                 use_cuda: bool = False, model_sha256: str | None = None) -> None:
        if not model:
            raise BackendError(f"voice.piper needs a voice model: set {_KEY} = \"path/to/voice.onnx\" in nysh.toml "
                               "(see docs/voices.md)")
        path = Path(str(model)).expanduser()
        if not path.is_file():
            raise BackendError(f"voice.piper: the voice model {path} does not exist; "
                               f"check {_KEY} in nysh.toml (see docs/voices.md for where to get voices)")
        cfg = Path(str(config)).expanduser() if config else Path(str(path) + ".json")
        if not cfg.is_file():
            key = "[profile.<name>.tts] config" if config else _KEY
            raise BackendError(f"voice.piper: the voice config {cfg} does not exist (Piper needs the .onnx.json "
                               f"that comes with the model); check {key} in nysh.toml")
        if length_scale <= 0:
            raise BackendError("voice.piper: length_scale must be > 0")
        self._model, self._config = path, cfg
        self._speaker = None if speaker is None else int(speaker)
        self._length_scale = float(length_scale)
        self._noise = (float(noise_scale), float(noise_w_scale))
        self._use_cuda = bool(use_cuda)
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 22), b""):
                h.update(block)
        self._sha = h.hexdigest()
        if model_sha256 is not None and model_sha256 != self._sha:
            raise BackendError(f"voice.piper: the voice model {path} changed since the film was planned; plan it again")
        self._voice: Any = None
        self._memo: dict[tuple[str, float], np.ndarray] = {}

    @property
    def settings(self) -> Mapping[str, Any]:
        # the model's hash, not only its path, so a replaced file invalidates the lines it made
        s: dict[str, Any] = {"model": str(self._model), "model_sha256": self._sha, "length_scale": self._length_scale,
                             "noise_scale": self._noise[0], "noise_w_scale": self._noise[1]}
        if self._speaker is not None:
            s["speaker"] = self._speaker
        if self._use_cuda:
            s["use_cuda"] = True
        return s

    def _load(self) -> Any:
        if self._voice is None:
            piper = _import_piper()
            try:
                self._voice = piper.PiperVoice.load(str(self._model), config_path=str(self._config),
                                                    use_cuda=self._use_cuda)
            except Exception as exc:  # a corrupt model, an onnxruntime problem
                raise BackendError(f"voice.piper could not load {self._model}: {exc}") from exc
        return self._voice

    def _synthesise(self, text: str, rate: float) -> np.ndarray:
        key = (text, float(rate))
        if key in self._memo:
            return self._memo[key]
        voice = self._load()
        piper = _import_piper()
        length_scale = self._length_scale / max(0.25, float(rate))
        sr = int(voice.config.sample_rate)
        syn_cls = getattr(piper, "SynthesisConfig", None)
        parts: list[np.ndarray] = []
        if syn_cls is not None:
            syn = syn_cls(speaker_id=self._speaker, length_scale=length_scale, noise_scale=self._noise[0],
                          noise_w_scale=self._noise[1])
            for chunk in voice.synthesize(text, syn_config=syn):
                sr = int(getattr(chunk, "sample_rate", sr))
                parts.append(np.asarray(chunk.audio_float_array, dtype=np.float64).reshape(-1))
        else:  # piper-tts < 1.3
            for raw in voice.synthesize_stream_raw(text, speaker_id=self._speaker, length_scale=length_scale,
                                                   noise_scale=self._noise[0], noise_w=self._noise[1]):
                parts.append(np.frombuffer(raw, dtype=np.int16).astype(np.float64) / 32768.0)
        x = np.concatenate(parts) if parts else np.zeros(0)
        if len(x) and sr != SAMPLE_RATE:
            from math import gcd

            g = gcd(SAMPLE_RATE, sr)
            x = dsp.resample_poly(x, SAMPLE_RATE // g, sr // g)
        audio = np.clip(x, -1.0, 1.0).astype(np.float32).reshape(-1, 1)
        audio.setflags(write=False)
        self._memo[key] = audio
        return audio

    def duration(self, text: str, *, pitch: float, rate: float, lang: str) -> float:
        return len(self._synthesise(str(text), rate)) / SAMPLE_RATE

    def speak(self, text: str, *, pitch: float, rate: float, lang: str, seed: int) -> np.ndarray:
        return np.array(self._synthesise(str(text), rate), dtype=np.float32, copy=True)
