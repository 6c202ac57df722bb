"""Planning `voice: tts` and per-line recordings with the real registry services."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("espeakng_loader")

from nyeshc.commands.services import RegistryServices  # noqa: E402
from nyeshc.config import animatic_profile  # noqa: E402
from nyeshc.execute.ops import run_job  # noqa: E402
from nyeshc.plan import plan  # noqa: E402
from nyeshc.syntax import read  # noqa: E402

SR = 48_000

SCRIPT = '''title: "Words"
canvas: 64x36

character ANNA:
    portrait: generate, seed 5
    voice: tts, lang "en", pitch 1.1, rate 1.2
character OLD:
    portrait: generate, seed 6
    voice: asemic

SCENE 1 "Hello":
    ANNA:
        "Hello there."
        "This one was recorded.", voice "rec.wav"
        "Goodbye."
    OLD:
        "Na ke."
'''


def _plan(tmp_path: Path):  # noqa: ANN202
    t = np.arange(SR // 2) / SR
    tone = (0.4 * np.sin(2 * np.pi * 440 * t) * 32767).astype("<i2")
    with wave.open(str(tmp_path / "rec.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(tone.tobytes())
    film, diags = read(SCRIPT, str(tmp_path / "film.nysh"))
    assert not [d for d in diags if d.is_error], diags
    services = RegistryServices(animatic_profile())
    return plan(film, services.profile, services, root=tmp_path), tone.astype(np.float32) / 32767


def test_tts_lines_use_the_tts_backend_and_follow_the_real_audio(tmp_path: Path) -> None:
    p, _ = _plan(tmp_path)
    jobs = {j.key: j for j in p.jobs}
    speak = {j.params["text"]: j for j in p.jobs if j.kind == "voice.speak"}
    assert set(speak) == {"Hello there.", "Goodbye.", "Na ke."}  # the recorded line is not synthesised
    assert speak["Hello there."].backend == "voice.espeak" and speak["Goodbye."].backend == "voice.espeak"
    assert speak["Hello there."].params["lang"] == "en"
    assert speak["Na ke."].backend == "voice.procedural"  # asemic characters keep the procedural voice
    assert p.backends["tts"]["id"] == "voice.espeak" and p.backends["voice"]["id"] == "voice.procedural"
    from nyeshc.backends import registry

    espeak = registry.load("voice.espeak")
    clips = {c.name: c for c in p.timeline.audio if c.role == "dialogue"}
    hello = clips["scene 1 / ANNA / line 1"]
    exact = espeak.duration("Hello there.", pitch=1.1, rate=1.2, lang="en")
    assert hello.length == round(exact * SR)
    assert jobs[hello.artifact].kind == "voice.speak"
    # the SRT's text is the spoken text
    anna = [s for s in p.timeline.subtitles if s.character == "ANNA"]
    assert [s.text for s in anna] == ["Hello there.", "This one was recorded.", "Goodbye."]
    assert anna[0].end - anna[0].start == pytest.approx(exact, abs=1 / SR)


def test_a_per_line_recording_replaces_synthesis_at_the_right_time(tmp_path: Path) -> None:
    p, tone = _plan(tmp_path)
    jobs = {j.key: j for j in p.jobs}
    clips = {c.name: c for c in p.timeline.audio if c.role == "dialogue"}
    one, rec, three = (clips[f"scene 1 / ANNA / line {i}"] for i in (1, 2, 3))
    assert jobs[rec.artifact].kind == "asset.audio" and jobs[rec.artifact].params["path"] == str(tmp_path / "rec.wav")
    assert rec.length == SR // 2  # the recording's own length
    assert rec.start == one.start + one.length and three.start == rec.start + rec.length
    (track,) = [j for j in p.jobs if j.kind == "voice.track" and "ANNA" in j.name]
    assert list(track.inputs) == [one.artifact, rec.artifact, three.artifact]
    offsets = list(track.params["offsets"])
    assert offsets == [0, one.length, one.length + rec.length]
    # mix the beat's track from the real jobs: the recording sits exactly where line 2 is
    arrays = {k: run_job(jobs[k], []) for k in track.inputs}
    mixed = np.asarray(run_job(track, [arrays[k] for k in track.inputs]))
    a = offsets[1]
    np.testing.assert_allclose(mixed[a:a + SR // 2, 0], tone, atol=2e-3)
    np.testing.assert_array_equal(mixed[:one.length], arrays[one.artifact])
    np.testing.assert_array_equal(mixed[offsets[2]:offsets[2] + three.length], arrays[three.artifact])
