"""Tiny fake backends and job builders for the executor tests.

Every call appends a line to the file named by the ``counter`` setting, so tests can count calls
made in worker processes. Registered by monkeypatching ``registry.BUILTINS`` (see conftest).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nyeshc.backends.base import BackendError, CostModel, Portrait
from nyeshc.plan.keys import job_key
from nyeshc.plan.model import Job, Plan, Timeline

MODULE = __name__


def _log(counter: str, what: str) -> None:
    if counter:
        with open(counter, "a", encoding="utf-8") as fh:
            fh.write(f"{what}\n")


class FakeImage:
    """Latents are 4 floats from the seed; render paints a gradient from the latent."""

    id = "image.fake"
    version = "1"
    modality = "image"
    cost = CostModel(per_call=0.01)
    latent_dim = 4

    def __init__(self, *, counter: str = "", fail_if: str = "", bad: bool = False, delay: float = 0.0,
                 die: bool = False) -> None:
        self.die = die
        self.counter = counter
        self.fail_if = fail_if
        self.bad = bad
        self.delay = delay

    @property
    def settings(self) -> Mapping[str, Any]:
        return {"counter": self.counter, "fail_if": self.fail_if, "bad": self.bad, "delay": self.delay,
                "die": self.die}

    def sample(self, seed: int, truncation: float = 1.0) -> np.ndarray:
        _log(self.counter, f"sample {seed}")
        rng = np.random.default_rng(seed)
        return (rng.standard_normal(4) * truncation).astype(np.float32)

    def blend(self, a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
        _log(self.counter, "blend")
        return (np.asarray(a) * (1 - t) + np.asarray(b) * t).astype(np.float32)

    def interpolate(self, keys: Sequence[np.ndarray], t: float, ease: str = "smooth") -> np.ndarray:
        pos = t * (len(keys) - 1)
        i = min(int(pos), len(keys) - 2)
        return self.blend(keys[i], keys[i + 1], pos - i)

    def render(self, latent: np.ndarray, width: int, height: int) -> np.ndarray:
        _log(self.counter, "render")
        if self.fail_if and os.path.exists(self.fail_if):
            raise BackendError(f"the fake model is unhappy ({Path(self.fail_if).name} exists)")
        if self.delay:
            time.sleep(self.delay)
        if self.die:  # a worker killed under us (the OOM killer, a segfault in a model)
            os._exit(9)
        if self.bad:
            return np.zeros((height, width, 3), np.float64)
        z = np.asarray(latent, np.float64)
        x = np.linspace(0, 1, width)[None, :, None]
        y = np.linspace(0, 1, height)[:, None, None]
        rgb = 128 + 60 * np.tanh(z[None, None, :3] * (x + y) + z[3])
        return np.clip(rgb, 0, 255).astype(np.uint8)


class FakePortrait:
    id = "portrait.fake"
    version = "1"
    modality = "portrait"
    cost = CostModel()
    latent_dim = 4

    def __init__(self, *, counter: str = "") -> None:
        self.counter = counter

    @property
    def settings(self) -> Mapping[str, Any]:
        return {"counter": self.counter}

    def sample(self, seed: int, truncation: float = 1.0) -> np.ndarray:
        return np.random.default_rng(seed).standard_normal(4).astype(np.float32)

    def blend(self, a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
        return (np.asarray(a) * (1 - t) + np.asarray(b) * t).astype(np.float32)

    def portrait(self, latent: np.ndarray, size: int) -> Portrait:
        _log(self.counter, "portrait")
        image = np.full((size, size, 4), 200, np.uint8)
        return Portrait(image=image, mouth=(size / 2, size * 0.7), face_box=(0, 0, size, size),
                        latent=np.asarray(latent, np.float32))

    def from_image(self, image: np.ndarray, size: int, mouth: tuple[float, float] | None = None) -> Portrait:
        rgba = np.concatenate([image[:size, :size, :3], np.full((size, size, 1), 255, np.uint8)], axis=2)
        return Portrait(image=rgba, mouth=(size / 2, size / 2), face_box=(0, 0, size, size), source="file")


class FakeMotion:
    id = "motion.fake"
    version = "1"
    modality = "motion"
    cost = CostModel()

    def __init__(self, *, counter: str = "") -> None:
        self.counter = counter

    @property
    def settings(self) -> Mapping[str, Any]:
        return {"counter": self.counter}

    def _frames(self, portrait: Portrait, frames: int, level: np.ndarray) -> np.ndarray:
        out = np.repeat(portrait.image[None], frames, axis=0).copy()
        out[:, 0, 0, 0] = level
        return out

    def lipsync(self, portrait: Portrait, voice: np.ndarray, fps: float, frames: int, seed: int,
                progress: Any = None, *, out: Any = None) -> np.ndarray:
        # ignores ``out`` and returns its own array: the executor copies it into the buffer
        _log(self.counter, "lipsync")
        per = max(1, len(voice) // max(1, frames))
        level = np.array([min(255, int(255 * float(np.abs(voice[i * per:(i + 1) * per]).max(initial=0))))
                          for i in range(frames)], np.uint8)
        return self._frames(portrait, frames, level)

    def drive(self, portrait: Portrait, driving: np.ndarray, driving_fps: float, audio: Any, fps: float,
              frames: int, seed: int, progress: Any = None, *, out: Any = None) -> np.ndarray:
        return self._frames(portrait, frames, np.zeros(frames, np.uint8))

    def still(self, portrait: Portrait, fps: float, frames: int, seed: int, *, out: Any = None) -> np.ndarray:
        _log(self.counter, "still")
        return self._frames(portrait, frames, np.zeros(frames, np.uint8))


class FakeVoice:
    id = "voice.fake"
    version = "1"
    modality = "voice"
    cost = CostModel()

    def __init__(self, *, counter: str = "") -> None:
        self.counter = counter

    @property
    def settings(self) -> Mapping[str, Any]:
        return {"counter": self.counter}

    def duration(self, text: str, *, pitch: float, rate: float, lang: str) -> float:
        return len(text) * 100 / 48_000

    def speak(self, text: str, *, pitch: float, rate: float, lang: str, seed: int) -> np.ndarray:
        _log(self.counter, f"speak {text}")
        return np.full((len(text) * 100, 1), 0.5, np.float32)


BUILTINS = {
    "image.fake": f"{MODULE}:FakeImage",
    "portrait.fake": f"{MODULE}:FakePortrait",
    "motion.fake": f"{MODULE}:FakeMotion",
    "voice.fake": f"{MODULE}:FakeVoice",
}


# --------------------------------------------------------------------------- job builders


def job(kind: str, backend: str, params: dict[str, Any], inputs: Sequence[str] = (), *,
        output: str, name: str, seed: int = 0, settings: dict[str, Any] | None = None,
        cost: float = 0.0, version: str | None = None) -> Job:
    settings = dict(settings or {})
    version = version if version is not None else ("1" if backend else "")
    key = job_key(kind=kind, backend=backend, backend_version=version, settings=settings, params=params,
                  inputs=list(inputs), seed=seed, output=output)
    return Job(key=key, kind=kind, backend=backend, backend_version=version, settings=settings,
               params=params, inputs=tuple(inputs), seed=seed, output=output, name=name,  # type: ignore[arg-type]
               cost_seconds=cost)


def plan_of(*jobs: Job, seeds: dict[str, int] | None = None,
            backends: dict[str, dict[str, Any]] | None = None) -> Plan:
    from fractions import Fraction

    timeline = Timeline(width=8, height=6, fps=Fraction(24), frames=0, sample_rate=48_000, samples=0,
                        scenes=(), overlaps=(), audio=(), subtitles=())
    return Plan(timeline=timeline, jobs=tuple(jobs), seeds=dict(seeds or {}), backends=dict(backends or {}))


def image_graph(settings: dict[str, Any], *, fail_if: str = "", size: tuple[int, int] = (8, 6)) -> Plan:
    """latent a, latent b → blend → render; render a; morph a..b (4 frames)."""
    w, h = size
    s = dict(settings)
    a = job("image.latent", "image.fake", {"truncation": 1.0}, output="latent", name="look A", seed=1, settings=s)
    b = job("image.latent", "image.fake", {"truncation": 0.5}, output="latent", name="look B", seed=2, settings=s)
    ab = job("image.blend", "image.fake", {"t": 0.25}, (a.key, b.key), output="latent", name="look AB",
             settings=s)
    params = {"width": w, "height": h}
    if fail_if:
        params["fail_if"] = fail_if  # part of the key; the file's existence is not
        s = {**s, "fail_if": fail_if}
    ra = job("image.render", "image.fake", dict(params), (a.key,), output="image", name="scene 1 / backdrop",
             settings=s, cost=2.0)
    rab = job("image.render", "image.fake", dict(params), (ab.key,), output="image", name="scene 2 / backdrop",
              settings=s)
    morph = job("image.morph", "image.fake", {"width": w, "height": h, "frames": 4, "ease": "linear"},
                (a.key, b.key), output="frames", name="scene 1 / morph", settings=dict(settings), cost=3.0)
    return plan_of(a, b, ab, ra, rab, morph)


def calls(counter: Path) -> list[str]:
    """What the fake backends logged to ``counter`` (one line per call, across processes)."""
    return counter.read_text().splitlines() if counter.exists() else []
