"""A deterministic stand-in for the backend registry, so plan goldens never depend on
backend internals."""

from __future__ import annotations

import hashlib
from fractions import Fraction
from pathlib import Path
from typing import Any

from nyeshc.plan import plan
from nyeshc.plan.model import Plan
from nyeshc.syntax import load, read

from nyeshc.config import Profile, animatic_profile
from nyeshc.grid import Grid
from nyeshc.resolve.services import BackendInfo, CostModel

COSTS = {
    "image": CostModel("cpu", per_call=0.002, per_frame=0.065),
    "portrait": CostModel("cpu", per_call=0.05, per_frame=3.0),
    "motion": CostModel("cpu", per_call=0.4, per_frame=0.06),
    "music": CostModel("cpu", per_call=0.05, per_audio_second=0.06),
    "voice": CostModel("cpu", per_call=0.005, per_audio_second=0.02),
    "tts": CostModel("cpu", per_call=0.005, per_audio_second=0.02),
    "drive": CostModel("cpu", per_call=0.4, per_frame=0.06),
    "glyphs": CostModel("cpu", per_call=0.25),
}


class FakeServices:
    """Voice: 0.08 s a character + 0.3 s. Media: 3 s per file unless ``durations`` says.
    Checksums: of the path text (files need not exist). Grids: 120 bpm 4/4 for a generated cue,
    100 bpm 4/4 from 0.1 s for a recording."""

    def __init__(self, profile: Profile | None = None, *, versions: dict[str, str] | None = None,
                 durations: dict[str, Fraction] | None = None) -> None:
        self.profile = profile or animatic_profile()
        self.versions = versions or {}
        self.durations = durations or {}
        self.calls: list[tuple[Any, ...]] = []

    def backend(self, modality: str) -> BackendInfo:
        choice = self.profile.choice(modality)
        return BackendInfo(choice.id, self.versions.get(modality, "1"), dict(choice.settings), COSTS[modality])

    def voice_duration(self, backend: BackendInfo, text: str, pitch: float, rate: float, lang: str) -> float:
        self.calls.append(("voice", text, pitch, rate, lang))
        return round((0.08 * len(text) + 0.3) / rate, 4)

    def media_duration(self, path: str) -> Fraction | None:
        return self.durations.get(Path(path).name, Fraction(3))

    def has_audio(self, path: str) -> bool:
        """Audio files and videos whose name says so (``clip-sound.mp4``) have sound."""
        name = Path(path).name
        return name.endswith((".wav", ".flac", ".mp3", ".ogg", ".m4a")) or "sound" in name

    def file_sha256(self, path: str) -> str:
        return hashlib.sha256(("fake:" + Path(path).name).encode()).hexdigest()

    def music_grid(self, backend: BackendInfo, params: dict[str, Any]) -> Grid | None:
        """A generated cue's own grid: 120 bpm 4/4 from 0 (a stated tempo or meter in
        ``params`` wins), as the procedural backend's ``grid()`` reports one."""
        tempo = Fraction(str(params["tempo"])) if params.get("tempo") is not None else Fraction(120)
        meter = (int(params["meter"][0]), int(params["meter"][1])) if params.get("meter") is not None else (4, 4)
        return Grid(tempo, meter, Fraction(0), source="backend")

    def recording_grid(self, path: str, beats_per_bar: int | None = None) -> Grid:
        """A recording's detected grid: 100 bpm, the first beat (a downbeat) at 0.1 s, confident
        (0.9); bars of 4 beats, or of ``beats_per_bar`` when the script states a meter."""
        return Grid(Fraction(100), (beats_per_bar or 4, 4), Fraction(1, 10), confidence=0.9, source="detected")


# --------------------------------------------------------------------------- helpers

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.nysh"))



def plan_text(text: str, services: FakeServices | None = None, file: str = "film.nysh") -> Plan:
    """Plan a script given as text (asset paths are relative to the current folder)."""
    film, diags = read(text, file)
    assert not [d for d in diags if d.is_error], diags
    svc = services or FakeServices()
    return plan(film, svc.profile, svc, root=Path.cwd())


def plan_file(path: Path, services: FakeServices | None = None) -> Plan:
    loaded = load(path, name=path.name)
    svc = services or FakeServices()
    return plan(loaded.film, svc.profile, svc, root=path.parent)
