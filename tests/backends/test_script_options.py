"""Script options that reach the backends through job params (issue #25): the executor's
``motion.lipsync`` op passes ``"mouth"`` as ``lipsync(..., mouth=)`` and ``music.generate``
passes ``"temperature"`` as ``generate(..., temperature=)``; absent params leave the backends'
defaults, and backends written before the options existed keep working without them."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from nyeshc.backends.base import SAMPLE_RATE, BackendError, Portrait
from nyeshc.backends.procedural.music import AmbientMusic
from nyeshc.execute import ops
from nyeshc.execute.ops import run_job
from nyeshc.plan.model import Job

S = 8
PORTRAIT = Portrait(image=np.zeros((S, S, 4), np.uint8), mouth=(4.0, 6.0), face_box=(1.0, 1.0, 7.0, 7.0))
VOICE = np.zeros((SAMPLE_RATE // 5, 1), np.float32)


def _job(kind: str, params: dict[str, Any], inputs: tuple[str, ...], output: str) -> Job:
    return Job(key="k" * 64, kind=kind, backend="fake.recorder", backend_version="", settings={},
               params=params, inputs=inputs, seed=3, output=output, name="a / b")  # type: ignore[arg-type]


class Recorder:
    """A motion and music backend that records the keyword arguments it was called with."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def lipsync(self, portrait: Portrait, voice: np.ndarray, fps: float, frames: int, seed: int,
                progress: Any = None, *, out: np.ndarray | None = None, mouth: float = 1.0) -> np.ndarray:
        self.calls.append({"mouth": mouth})
        return np.zeros((frames, S, S, 4), np.uint8)

    def generate(self, *, genre: str, artist: str, lyrics: str, seconds: float, seed: int,
                 progress: Any = None, temperature: float | None = None) -> np.ndarray:
        self.calls.append({"temperature": temperature})
        return np.zeros((round(seconds * SAMPLE_RATE), 2), np.float32)


class OldBackend:
    """A backend written before the options existed (its methods lack the keywords)."""

    def __init__(self) -> None:
        self.calls = 0

    def lipsync(self, portrait: Portrait, voice: np.ndarray, fps: float, frames: int, seed: int,
                progress: Any = None, *, out: np.ndarray | None = None) -> np.ndarray:
        self.calls += 1
        return np.zeros((frames, S, S, 4), np.uint8)

    def generate(self, *, genre: str, artist: str, lyrics: str, seconds: float, seed: int,
                 progress: Any = None) -> np.ndarray:
        self.calls += 1
        return np.zeros((round(seconds * SAMPLE_RATE), 2), np.float32)


def _use(monkeypatch: pytest.MonkeyPatch, backend: object) -> None:
    monkeypatch.setattr(ops, "_backend", lambda job: backend)


def _lipsync(params: dict[str, Any]) -> Any:
    return run_job(_job("motion.lipsync", {"fps": 10, "frames": 2, **params}, ("p", "v"), "frames"),
                   [PORTRAIT, VOICE])


def _music(params: dict[str, Any]) -> Any:
    return run_job(_job("music.generate", {"seconds": 0.1, "genre": "ambient", **params}, (), "audio"), [])


def test_lipsync_op_passes_mouth(monkeypatch: pytest.MonkeyPatch) -> None:
    rec = Recorder()
    _use(monkeypatch, rec)
    for given in (0, 0.25, 1.0, 2):
        assert _lipsync({"mouth": given}).shape == (2, S, S, 4)
    _lipsync({})  # absent: the backend's default (1.0, the natural opening)
    assert rec.calls == [{"mouth": 0.0}, {"mouth": 0.25}, {"mouth": 1.0}, {"mouth": 2.0}, {"mouth": 1.0}]
    assert all(type(c["mouth"]) is float for c in rec.calls)
    with pytest.raises(BackendError, match="parameter 'mouth' must be a number"):
        _lipsync({"mouth": "wide"})


def test_music_op_passes_temperature(monkeypatch: pytest.MonkeyPatch) -> None:
    rec = Recorder()
    _use(monkeypatch, rec)
    for given in (0, 0.1, 1.9):
        assert _music({"temperature": given}).shape == (round(0.1 * SAMPLE_RATE), 2)
    _music({})
    _music({"temperature": None})
    assert rec.calls == [{"temperature": 0.0}, {"temperature": 0.1}, {"temperature": 1.9},
                         {"temperature": None}, {"temperature": None}]
    with pytest.raises(BackendError, match="parameter 'temperature' must be a number"):
        _music({"temperature": True})


def test_backends_without_the_keywords_work_until_a_script_uses_the_option(monkeypatch: pytest.MonkeyPatch) -> None:
    old = OldBackend()
    _use(monkeypatch, old)
    _lipsync({})
    _music({})
    _lipsync({"mouth": 1})  # the protocol's default: what such a backend draws anyway
    assert old.calls == 3
    with pytest.raises(BackendError, match=r"sets `motion: lipsync, mouth X`, but backend fake.recorder does not "
                                           r"support it"):
        _lipsync({"mouth": 0.5})
    with pytest.raises(BackendError, match=r"sets `source: generate, temperature X`, but backend fake.recorder"):
        _music({"temperature": 0.5})
    assert old.calls == 3


def test_the_real_ops_reach_the_procedural_backends() -> None:
    """No fakes: the job params change what the embedded backends make."""
    from nyeshc.backends.procedural.puppet import PuppetPortrait

    pp = PuppetPortrait()
    face = pp.portrait(pp.sample(2), 48)
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    voice = (0.3 * np.sin(2 * np.pi * 150 * t) * (np.sin(2 * np.pi * 3 * t) > 0)).astype(np.float32)[:, None]

    def talk(**params: Any) -> np.ndarray:
        job = Job(key="k" * 64, kind="motion.lipsync", backend="motion.procedural", backend_version="4",
                  settings={}, params={"fps": 12, "frames": 12, **params}, inputs=("p", "v"), seed=1,
                  output="frames", name="talk")
        return run_job(job, [face, voice])

    silent = run_job(Job(key="k" * 64, kind="motion.lipsync", backend="motion.procedural", backend_version="4",
                         settings={}, params={"fps": 12, "frames": 12}, inputs=("p", "v"), seed=1,
                         output="frames", name="talk"), [face, np.zeros_like(voice)])
    assert np.array_equal(talk(mouth=0), silent)
    assert np.array_equal(talk(), talk(mouth=1.0))
    assert not np.array_equal(talk(mouth=2), talk())

    def cue(**params: Any) -> np.ndarray:
        job = Job(key="k" * 64, kind="music.generate", backend="music.procedural", backend_version=AmbientMusic.version,
                  settings={}, params={"seconds": 2.0, "genre": "folk", **params}, inputs=(), seed=4,
                  output="audio", name="cue")
        return run_job(job, [])

    assert cue().tobytes() == cue(temperature=1.0).tobytes()
    assert cue(temperature=0.1).tobytes() != cue(temperature=1.9).tobytes()
