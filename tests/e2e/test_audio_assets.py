"""Recordings a script names, end to end: checked, built, and heard in the written MP4.

The regression of issue #25: a 16-bit mono 48 kHz WAV of a pure 1 kHz sine, written with
Python's ``wave`` module, passed ``nyeshc check`` but the build exited 3 ("has no audio stream
ffmpeg can read"): the executor let ffmpeg guess the container and ffmpeg took it for MPEG-TS.
Also here: the film's title and author are the MP4's ``title`` and ``artist`` tags, whichever
way it is rendered (assembled from cached segments, or straight through one encoder).
"""

from __future__ import annotations

import math
import struct
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest
from e2e_support import SAMPLE_RATE, cli_capture, decode_audio, ffmpeg, probe, rms_db

TITLE, AUTHOR = "Tone — for Ü", "Merzmensch & co"

SCRIPT = f'''title: "{TITLE}"
author: "{AUTHOR}"
canvas: 160x90, 8fps

music TONE:
    source: "tone.wav"

SCENE 1, 2s:
    music: TONE
'''


def tone_wav(path: Path, amplitude: float = 0.75, seconds: float = 3.0, rate: int = 48_000) -> None:
    """A 1 kHz sine, 16-bit mono, samples truncated to int16 as ``int()`` does: at amplitude
    0.75 (or 0.25) the bundled ffmpeg's own probe calls this file MPEG-TS."""
    frames = b"".join(struct.pack("<h", int(amplitude * 32767 * math.sin(2 * math.pi * 1000 * n / rate)))
                      for n in range(int(rate * seconds)))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)


def tags(path: Path) -> dict[str, str]:
    """The MP4's global tags, as ``ffmpeg -i PATH -f ffmetadata -`` prints them."""
    text = subprocess.run([ffmpeg(), "-hide_banner", "-nostdin", "-v", "error", "-i", str(path), "-f", "ffmetadata", "-"],
                          capture_output=True, check=True).stdout.decode("utf-8")
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith(";"))


def peak_hz(x: np.ndarray, rate: int = SAMPLE_RATE) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum[1:]) + 1) * rate / len(x)


@pytest.fixture
def film(tmp_path: Path) -> Path:
    script = tmp_path / "tone.nysh"
    script.write_text(SCRIPT, encoding="utf-8")
    tone_wav(tmp_path / "tone.wav")
    return script


@pytest.mark.slow
def test_a_one_khz_wav_builds_and_is_heard(film: Path, tmp_path: Path) -> None:
    rc, _, err = cli_capture("check", film)
    assert rc == 0, err
    out = tmp_path / "out" / "tone.mp4"
    rc, _, err = cli_capture(film, "-o", out, "-q", "--cache", tmp_path / "cache")
    assert rc == 0, f"nyeshc exited {rc}:\n{err}"
    streams = probe(out)
    assert streams.audio_codec == "aac" and streams.audio_rate == SAMPLE_RATE
    audio = decode_audio(out)
    assert abs(len(audio) - 2 * SAMPLE_RATE) < SAMPLE_RATE // 8  # the scene's 2 s, within a frame
    # at 1 s (the middle of the scene): the tone, at the film's loudness, in both channels
    window = audio[SAMPLE_RATE - SAMPLE_RATE // 4: SAMPLE_RATE + SAMPLE_RATE // 4]
    for ch in (0, 1):
        assert rms_db(window[:, ch]) > -30, rms_db(window[:, ch])
        assert abs(peak_hz(window[:, ch]) - 1000) <= 2
    assert tags(out) | {"title": TITLE, "artist": AUTHOR} == tags(out)


@pytest.mark.slow
def test_title_and_author_without_the_cache(film: Path, tmp_path: Path) -> None:
    """``--no-cache`` and ``--from/--to`` render through one encoder, not by assembly."""
    whole = tmp_path / "whole.mp4"
    rc, _, err = cli_capture(film, "-o", whole, "-q", "--no-cache")
    assert rc == 0, err
    assert tags(whole)["title"] == TITLE and tags(whole)["artist"] == AUTHOR
    part = tmp_path / "part.mp4"
    rc, _, err = cli_capture(film, "-o", part, "-q", "--cache", tmp_path / "cache", "--from", "0s", "--to", "1s")
    assert rc == 0, err
    assert tags(part)["title"] == TITLE and tags(part)["artist"] == AUTHOR


@pytest.mark.slow
def test_no_title_no_tags(tmp_path: Path) -> None:
    script = tmp_path / "plain.nysh"
    script.write_text(SCRIPT.split("\n", 2)[2], encoding="utf-8")
    tone_wav(tmp_path / "tone.wav")
    out = tmp_path / "plain.mp4"
    rc, _, err = cli_capture(script, "-o", out, "-q", "--cache", tmp_path / "cache")
    assert rc == 0, err
    assert "title" not in tags(out) and "artist" not in tags(out)
