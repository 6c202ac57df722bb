"""voice.piper against a stand-in of piper-tts's published interface (no model, no onnxruntime)."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from nyeshc.backends import registry
from nyeshc.backends.base import SAMPLE_RATE, BackendError, VoiceBackend
from nyeshc.commands.services import RegistryServices
from nyeshc.config import parse_config


@dataclass
class SynthesisConfig:  # piper.SynthesisConfig (piper-tts >= 1.3)
    speaker_id: int | None = None
    length_scale: float | None = None
    noise_scale: float | None = None
    noise_w_scale: float | None = None


@dataclass
class AudioChunk:
    sample_rate: int
    audio_float_array: np.ndarray


class StandIn:
    """piper.PiperVoice: ``load(model_path, config_path=None, use_cuda=False)``; ``config.sample_rate``;
    ``synthesize(text, syn_config)`` yields one chunk per sentence. 0.05 s of a tone per letter."""

    loads: list[tuple[str, str | None]] = []
    calls: list[tuple[str, SynthesisConfig]] = []

    def __init__(self) -> None:
        self.config = types.SimpleNamespace(sample_rate=22_050)

    @classmethod
    def load(cls, model_path: str, config_path: str | None = None, use_cuda: bool = False) -> StandIn:
        cls.loads.append((model_path, config_path))
        return cls()

    def synthesize(self, text: str, syn_config: SynthesisConfig | None = None):  # noqa: ANN201
        syn_config = syn_config or SynthesisConfig()
        self.calls.append((text, syn_config))
        for sentence in [s for s in text.split(".") if s.strip()]:
            n = int(0.05 * 22_050 * len(sentence.strip()) * (syn_config.length_scale or 1.0))
            t = np.arange(n) / 22_050
            yield AudioChunk(22_050, (0.5 * np.sin(2 * np.pi * 180 * t)).astype(np.float32))


@pytest.fixture
def piper(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    module = types.ModuleType("piper")
    module.PiperVoice = StandIn  # type: ignore[attr-defined]
    module.SynthesisConfig = SynthesisConfig  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "piper", module)
    StandIn.loads.clear()
    StandIn.calls.clear()
    registry._load_cached.cache_clear()
    yield module
    registry._load_cached.cache_clear()


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "en_US-test-medium.onnx"
    path.write_bytes(b"not really onnx")
    Path(str(path) + ".json").write_text('{"audio": {"sample_rate": 22050}}')
    return path


def test_adapter_speaks_through_piper_at_48k(piper: types.ModuleType, model: Path) -> None:
    voice = registry.load("voice.piper", {"model": str(model), "speaker": 3, "length_scale": 1.2})
    assert isinstance(voice, VoiceBackend)
    d = voice.duration("Hello there. Goodbye.", pitch=1.0, rate=2.0, lang="en")
    a = voice.speak("Hello there. Goodbye.", pitch=1.0, rate=2.0, lang="en", seed=0)
    assert a.dtype == np.float32 and a.shape[1] == 1 and len(a) == round(d * SAMPLE_RATE)
    assert StandIn.loads == [(str(model), str(model) + ".json")]  # loaded once, config found beside it
    text, syn = StandIn.calls[0]
    assert len(StandIn.calls) == 1  # duration and speak share one synthesis
    assert (text, syn.speaker_id, syn.length_scale) == ("Hello there. Goodbye.", 3, pytest.approx(0.6))
    expected = int(0.05 * 22_050 * 11 * 0.6) + int(0.05 * 22_050 * 7 * 0.6)
    assert abs(len(a) - expected * SAMPLE_RATE / 22_050) < 4
    # the 180 Hz tone survived resampling
    spec = np.abs(np.fft.rfft(a[:, 0]))
    assert abs(np.fft.rfftfreq(len(a), 1 / SAMPLE_RATE)[spec.argmax()] - 180) < 3
    # settings round-trip into the constructor (the executor loads it from the job's settings)
    again = registry.load("voice.piper", dict(voice.settings))
    assert again.settings == voice.settings and voice.settings["model_sha256"]


def test_missing_model_names_the_config_key(piper: types.ModuleType, tmp_path: Path) -> None:
    with pytest.raises(BackendError, match=r"\[profile\.<name>\.tts\] model") as info:
        registry.load("voice.piper", {"model": str(tmp_path / "nowhere.onnx")})
    assert "nowhere.onnx does not exist" in str(info.value)
    with pytest.raises(BackendError, match=r"\[profile\.<name>\.tts\] model"):
        registry.load("voice.piper", {})


def test_missing_model_from_nysh_toml_fails_at_plan_time(piper: types.ModuleType, tmp_path: Path) -> None:
    toml = {"profile": {"full": {"tts": {"backend": "voice.piper", "model": "./voices/missing.onnx"}}}}
    cfg = parse_config(toml, tmp_path / "nysh.toml")
    choice = cfg.profile("full").choice("tts")
    assert choice.id == "voice.piper" and choice.settings["model"] == str(tmp_path / "voices" / "missing.onnx")
    assert cfg.profile("full").choice("voice").id == "voice.procedural"  # asemic voices unchanged
    with pytest.raises(BackendError, match=r"missing\.onnx does not exist.*\[profile\.<name>\.tts\] model"):
        RegistryServices(cfg.profile("full")).backend("tts")


def test_missing_piper_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch, model: Path) -> None:
    monkeypatch.setitem(sys.modules, "piper", None)  # import piper -> ImportError
    registry._load_cached.cache_clear()
    voice = registry.load("voice.piper", {"model": str(model)})
    with pytest.raises(BackendError, match=r"pip install 'nyeshc\[voices\]'"):
        voice.duration("Hi.", pitch=1.0, rate=1.0, lang="en")
    registry._load_cached.cache_clear()
