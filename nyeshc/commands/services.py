"""The real :class:`nyeshc.plan.services.Services`: facts from the backend registry and files.

The planner may not import backends; this command-layer object does, lazily, and reports
what the planner needs: a backend's id, version, settings and cost model, the exact length of
a synthesised line (``VoiceBackend.duration``), the length of a recording or a video (through
:func:`nyeshc.media.duration`, the module the checker and the executor read media with), and a
file's SHA-256.
"""

from __future__ import annotations

import hashlib
from fractions import Fraction
from typing import Any

from nyeshc import media
from nyeshc.config import Profile
from nyeshc.plan.services import BackendInfo, CostInfo


class RegistryServices:
    """Services backed by :func:`nyeshc.backends.registry.load` for ``profile``."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self._objects: dict[str, Any] = {}
        self._media: dict[str, Fraction | None] = {}
        self._audio: dict[str, bool] = {}
        self._sha: dict[str, str] = {}

    def _load(self, modality: str) -> Any:
        if modality not in self._objects:
            from nyeshc.backends import registry

            choice = self.profile.choice(modality)
            self._objects[modality] = registry.load(choice.id, choice.settings)
        return self._objects[modality]

    def backend(self, modality: str) -> BackendInfo:
        b = self._load(modality)
        c = getattr(b, "cost", None)
        cost = CostInfo(getattr(c, "device", "cpu"), float(getattr(c, "per_call", 0.0)),
                        float(getattr(c, "per_frame", 0.0)), float(getattr(c, "per_audio_second", 0.0)),
                        bool(getattr(c, "scale_by_pixels", True)))
        return BackendInfo(str(b.id), str(b.version), dict(b.settings), cost)

    def voice_duration(self, backend: BackendInfo, text: str, pitch: float, rate: float, lang: str) -> float:
        # the modality whose (already loaded) backend ``backend`` describes: `tts` or `voice`
        modality = next((m for m in ("tts", "voice") if m in self._objects and self.backend(m) == backend), "voice")
        voice = self._load(modality)
        return float(voice.duration(text, pitch=pitch, rate=rate, lang=lang))

    def media_duration(self, path: str) -> Fraction | None:
        if path not in self._media:
            self._media[path] = media.duration(path)
        return self._media[path]

    def has_audio(self, path: str) -> bool:
        """Whether the file has an audio stream the executor can decode (a video's soundtrack,
        say): :func:`nyeshc.media.has_audio`. The planner asks it before mixing a ``show``
        clip's own sound."""
        if path not in self._audio:
            self._audio[path] = media.has_audio(path)
        return self._audio[path]

    def file_sha256(self, path: str) -> str:
        if path not in self._sha:
            h = hashlib.sha256()
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 22), b""):
                    h.update(block)
            self._sha[path] = h.hexdigest()
        return self._sha[path]
