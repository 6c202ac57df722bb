"""``nyeshc plan`` and the real services (the backend registry)."""

from __future__ import annotations

import argparse
import hashlib
import json
import wave
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from plan_fakes import EXAMPLES

from nyeshc.commands import plan as plan_command
from nyeshc.commands.services import RegistryServices
from nyeshc.config import animatic_profile


def run(argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    plan_command.add_arguments(p)
    return plan_command.run(p.parse_args(argv))


def test_media_duration_and_sha256(tmp_path: Path) -> None:
    path = tmp_path / "a.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(48_000)
        w.writeframes(np.zeros(36_000, np.int16).tobytes())
    svc = RegistryServices(animatic_profile())
    assert svc.media_duration(str(path)) == Fraction(3, 4)
    assert svc.media_duration(str(tmp_path / "missing.wav")) is None
    assert svc.file_sha256(str(path)) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_registry_backends_report_id_version_settings_cost() -> None:
    svc = RegistryServices(animatic_profile())
    info = svc.backend("voice")
    assert info.id == "voice.procedural" and info.version and isinstance(info.settings, dict)
    assert info.cost.estimate(audio_seconds=10) > 0
    d = svc.voice_duration(info, "Nyeshkerh.", 0.8, 0.9, "asemic")
    assert d > 0 and round(d * 48_000) == d * 48_000  # whole samples


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_plan_command_prints_text_and_json(example: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run([str(example), "--cache", str(tmp_path / "cache")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("timeline") and "to run" in out and "total" in out
    assert run([str(example), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["type"] == "Plan" and data["jobs"]


def test_plan_command_marks_cached_jobs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from nyeshc.store.cache import Cache

    example = next(p for p in EXAMPLES if p.stem == "tour-captions")
    assert run([str(example), "--json"]) == 0
    key = json.loads(capsys.readouterr().out)["jobs"][0]["key"]
    Cache(tmp_path).put(key, np.zeros(3, np.float32))
    assert run([str(example), "--cache", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"{key[:10]}" in out and "  cached" in out and "(1 cached," in out


def test_plan_command_stops_on_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.nysh"
    bad.write_text('SCENE 1 "x" 5s\n    caption "oops"\n', encoding="utf-8")
    assert run([str(bad)]) == 1
    assert "error" in capsys.readouterr().err
