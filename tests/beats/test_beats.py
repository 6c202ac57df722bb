"""The beat tracker (nyeshc.beats, issue #19): on generated music with a known grid (3/4 at
140 bpm among it) and on recordings made for the purpose (procedural cues re-encoded to MP3
with a lead-in, a swung and humanised drum pattern, a click track), at least 90 % of the
beats are found within 30 ms; the meter and the first downbeat where the music marks them;
low confidence where there is no pulse; results cached by content and version."""

from __future__ import annotations

import json
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from scipy import signal
from scipy.io import wavfile

from nyeshc import beats, media
from nyeshc.backends.procedural.music import AmbientMusic
from nyeshc.grid import Grid

SR = 48_000
SECONDS = 20.0


@pytest.fixture(autouse=True)
def _grid_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "grids"
    monkeypatch.setenv("NYESHC_GRID_CACHE", str(folder))
    monkeypatch.setattr(beats, "_memory", {})
    return folder


def _write(path: Path, x: np.ndarray, mp3: bool = False) -> Path:
    wav = path.with_suffix(".wav")
    wavfile.write(wav, SR, (np.clip(x, -1, 1) * 32767).astype(np.int16))
    if not mp3:
        return wav
    out = path.with_suffix(".mp3")
    subprocess.run([media.ffmpeg_exe(), "-y", "-v", "error", "-i", str(wav), "-codec:a", "libmp3lame", "-b:a",
                    "128k", str(out)], check=True)
    wav.unlink()
    return out


def _truth(tempo: float, offset: float) -> np.ndarray:
    return offset + np.arange(0, SECONDS, 60 / tempo)


def _hits(grid: Grid, truth: np.ndarray, lo: float = 1.0, hi: float = SECONDS - 1.0) -> tuple[float, float]:
    """(share of true beats with a detected beat within 30 ms, share of detected beats with a
    true one), away from the ends."""
    t = truth[(truth >= lo) & (truth <= hi)]
    d = np.array([float(b) for b in grid.beats])
    d = d[(d >= lo) & (d <= hi)]
    if d.size == 0:
        return 0.0, 0.0
    recall = float(np.mean([np.min(np.abs(d - x)) <= 0.030 for x in t]))
    precision = float(np.mean([np.min(np.abs(truth - x)) <= 0.030 for x in d]))
    return recall, precision


def _downbeats_right(grid: Grid, truth: np.ndarray, meter: int) -> bool:
    first = float(grid.beats[grid.downbeat])
    bars = truth[::meter]
    return grid.meter[0] == meter and float(np.min(np.abs(bars - first))) <= 0.030


@pytest.fixture(scope="module")
def music() -> AmbientMusic:
    return AmbientMusic()


@pytest.mark.parametrize(("genre", "tempo", "meter", "seed"), [("electronic", 128.0, (4, 4), 1),
                                                               ("folk", 140.0, (3, 4), 2)],
                         ids=["electronic 128 4/4", "folk 140 3/4"])
def test_generated_music_with_a_known_grid(tmp_path: Path, music: AmbientMusic, genre: str, tempo: float,
                                           meter: tuple[int, int], seed: int) -> None:
    audio = music.generate(genre=genre, artist="", lyrics="", seconds=SECONDS, seed=seed, tempo=tempo, meter=meter)
    grid = beats.detect_grid(_write(tmp_path / genre, audio))
    truth = _truth(tempo, 0.0)
    recall, precision = _hits(grid, truth)
    assert recall >= 0.9 and precision >= 0.9, (recall, precision)
    assert grid.source == "detected" and abs(float(grid.tempo) - tempo) < 0.5
    assert _downbeats_right(grid, truth, meter[0])
    assert grid.first == grid.beats[grid.downbeat] and grid.confidence >= 0.5


def test_a_recording_reencoded_to_mp3_with_a_lead_in(tmp_path: Path, music: AmbientMusic) -> None:
    audio = music.generate(genre="electronic", artist="", lyrics="over the water\nno one is calling",
                           seconds=SECONDS, seed=5, tempo=97.0, meter=(4, 4))
    lead = 0.37
    audio = np.concatenate([np.zeros((int(lead * SR), 2), np.float32), audio])[: int(SECONDS * SR)]
    grid = beats.detect_grid(_write(tmp_path / "take", audio, mp3=True))
    recall, precision = _hits(grid, _truth(97.0, lead))
    assert recall >= 0.9 and precision >= 0.9, (recall, precision)
    assert abs(float(grid.tempo) - 97.0) < 0.5 and grid.confidence >= 0.5


def _drum(kind: str, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(SR // 2) / SR
    if kind == "kick":
        f = 50 + 90 * np.exp(-t / 0.03)
        return np.sin(2 * np.pi * np.cumsum(f) / SR) * np.exp(-t / 0.18)
    if kind == "snare":
        return 0.6 * rng.standard_normal(t.size) * np.exp(-t / 0.06) + 0.4 * np.sin(2 * np.pi * 190 * t) * np.exp(-t / 0.08)
    if kind == "hat":
        noise = signal.sosfilt(signal.butter(4, 6000, "highpass", fs=SR, output="sos"), rng.standard_normal(t.size))
        return noise * np.exp(-t / 0.02)
    return np.sin(2 * np.pi * (2500 if kind == "accent" else 1500) * t) * np.exp(-t / 0.01)


def _place(buf: np.ndarray, t: float, y: np.ndarray, gain: float) -> None:
    s = int(round(t * SR))
    if 0 <= s < buf.size:
        m = min(buf.size - s, y.size)
        buf[s:s + m] += gain * y[:m]


def test_a_swung_humanised_drum_recording(tmp_path: Path) -> None:
    """Kick on 1 and 3, snare on 2 and 4, hats on swung eighths (two to one), every hit up to
    a few ms early or late, a pickup kick every other bar, starting 0.52 s in; MP3."""
    rng = np.random.default_rng(7)
    tempo, lead = 92.0, 0.52
    beat = 60 / tempo
    truth = _truth(tempo, lead)
    truth = truth[truth < SECONDS]
    buf = np.zeros(int(SECONDS * SR))
    for k, t in enumerate(truth):
        _place(buf, t + rng.normal(0, 0.004), _drum("kick" if k % 2 == 0 else "snare", rng), 0.8 if k % 4 == 0 else 0.6)
        _place(buf, t + rng.normal(0, 0.004), _drum("hat", rng), 0.25 * rng.uniform(0.7, 1))
        _place(buf, t + beat * 2 / 3 + rng.normal(0, 0.004), _drum("hat", rng), 0.18 * rng.uniform(0.6, 1))
        if k % 8 == 7:
            _place(buf, t + beat / 3, _drum("kick", rng), 0.5)
    grid = beats.detect_grid(_write(tmp_path / "drums", np.stack([buf, buf], 1) * 0.7, mp3=True))
    recall, precision = _hits(grid, truth)
    assert recall >= 0.9 and precision >= 0.9, (recall, precision)
    assert abs(float(grid.tempo) - tempo) < 0.5 and grid.meter == (4, 4) and grid.confidence >= 0.8


def test_a_click_track_in_three_at_140(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    tempo, lead = 140.0, 0.25
    truth = _truth(tempo, lead)
    truth = truth[truth < SECONDS]
    buf = np.zeros(int(SECONDS * SR))
    for k, t in enumerate(truth):
        _place(buf, t, _drum("accent" if k % 3 == 0 else "click", rng), 0.8 if k % 3 == 0 else 0.45)
    grid = beats.detect_grid(_write(tmp_path / "click", np.stack([buf, buf], 1) * 0.7, mp3=True))
    recall, precision = _hits(grid, truth)
    assert recall >= 0.95 and precision >= 0.95, (recall, precision)
    assert _downbeats_right(grid, truth, 3) and grid.confidence >= 0.9
    errors = [min(abs(float(b) - truth)) for b in grid.beats if 1 < b < SECONDS - 1]
    assert np.median(errors) < 0.008  # the onset-strength lead is taken off


def test_no_pulse_is_low_confidence(tmp_path: Path, music: AmbientMusic) -> None:
    drone = music.generate(genre="drone", artist="", lyrics="", seconds=SECONDS, seed=8)
    assert beats.detect_grid(_write(tmp_path / "drone", drone)).confidence < 0.5
    quiet = beats.detect_grid(_write(tmp_path / "silence", np.zeros((SR * 3, 2))))
    short = beats.detect_grid(_write(tmp_path / "short", np.full((SR // 2, 2), 0.1)))
    for grid in (quiet, short):
        assert grid.confidence == 0.0 and grid.beats == () and grid.source == "detected"


def test_a_stated_meter_is_kept(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    truth = _truth(120.0, 0.0)
    buf = np.zeros(int(SECONDS * SR))
    for k, t in enumerate(truth[truth < SECONDS]):
        _place(buf, t, _drum("accent" if k % 4 == 0 else "click", rng), 0.8 if k % 4 == 0 else 0.45)
    path = _write(tmp_path / "fives", np.stack([buf, buf], 1) * 0.7)
    assert beats.detect_grid(path, beats_per_bar=5).meter == (5, 4)
    assert beats.detect_grid(path).meter == (4, 4)


def test_results_are_cached_by_content_and_version(tmp_path: Path, _grid_cache: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    buf = np.zeros(int(8 * SR))
    for t in np.arange(0, 8, 0.5):
        _place(buf, t, _drum("click", rng), 0.5)
    a = _write(tmp_path / "a", np.stack([buf, buf], 1))
    first = beats.detect_grid(a)
    [stored] = list(_grid_cache.glob("*.json"))
    assert stored.name == f"{beats._sha256(a)}-{beats.VERSION}.json"
    copy = tmp_path / "b.wav"
    copy.write_bytes(a.read_bytes())
    calls: list[int] = []
    real = beats.track
    monkeypatch.setattr(beats, "track", lambda *args, **kw: calls.append(1) or real(*args, **kw))
    assert beats.detect_grid(copy) == first and calls == []  # same bytes: the memory
    monkeypatch.setattr(beats, "_memory", {})
    assert beats.detect_grid(a) == first and calls == []  # a new process: the disk
    stored.write_text("{not json")
    monkeypatch.setattr(beats, "_memory", {})
    assert beats.detect_grid(a) == first and calls == [1]  # damaged: detected again, rewritten
    assert json.loads(stored.read_text())["source"] == "detected"
    monkeypatch.setattr(beats, "VERSION", "beats.test")
    beats.detect_grid(a)
    assert calls == [1, 1]  # a new detector version does not trust old results


def test_the_disk_cache_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NYESHC_GRID_CACHE", "")
    assert beats.cache_dir() is None
    monkeypatch.delenv("NYESHC_GRID_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert beats.cache_dir() == tmp_path / "xdg" / "nyeshc" / "grids"


def test_a_file_that_is_not_audio(tmp_path: Path) -> None:
    bad = tmp_path / "notes.wav"
    bad.write_text("not audio")
    with pytest.raises(media.MediaError):
        beats.detect_grid(bad)
    with pytest.raises(OSError):
        beats.detect_grid(tmp_path / "missing.wav")


def test_the_registry_services(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nyeshc.config import animatic_profile
    from nyeshc.pipeline import RegistryServices

    svc = RegistryServices(animatic_profile())
    info = svc.backend("music")
    params = {"genre": "folk", "artist": "", "lyrics": "", "seconds": 30.0, "seed": 4}
    own = svc.music_grid(info, params)
    assert own == AmbientMusic().grid(genre="folk", artist="", lyrics="", seconds=30.0, seed=4)
    stated = svc.music_grid(info, {**params, "tempo": 72.5, "meter": [3, 4]})
    assert stated is not None and stated.tempo == Fraction("72.5") and stated.meter == (3, 4)
    assert svc.music_grid(info, params) is own  # memoised

    class NoGrid:
        id, version, settings = "music.jukebox", "1", {}

    monkeypatch.setitem(svc._objects, "music", NoGrid())
    assert svc.music_grid(info, {**params, "seed": 5}) is None

    rng = np.random.default_rng(4)
    buf = np.zeros(int(8 * SR))
    for t in np.arange(0.1, 8, 0.6):
        _place(buf, t, _drum("click", rng), 0.5)
    path = str(_write(tmp_path / "rec", np.stack([buf, buf], 1)))
    grid = svc.recording_grid(path)
    assert grid.source == "detected" and abs(float(grid.tempo) - 100) < 0.5 and svc.recording_grid(path) is grid
    bad = tmp_path / "bad.wav"
    bad.write_text("x")
    with pytest.raises(OSError):
        svc.recording_grid(str(bad))
