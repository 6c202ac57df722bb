"""AmbientMusic: exact length, determinism, levels, spectra, genres, singing, protocol."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nyeshc.backends import registry
from nyeshc.backends.base import SAMPLE_RATE, MusicBackend
from nyeshc.backends.procedural.music import PROFILES, AmbientMusic, profile_for

SR = SAMPLE_RATE
LYRICS = "Over the water\nno one is calling\nlanterns are fading"


@pytest.fixture(scope="module")
def music() -> AmbientMusic:
    return AmbientMusic()


@pytest.fixture(scope="module")
def pieces(music: AmbientMusic) -> dict[tuple[str, int, bool], np.ndarray]:
    out = {}
    for genre, seed, lyr in [("ambient", 1, False), ("ambient", 1, True), ("ambient", 2, False),
                             ("electronic", 1, False), ("drone", 1, False), ("choral", 1, False),
                             ("folk", 1, False)]:
        out[(genre, seed, lyr)] = music.generate(genre=genre, artist="", lyrics=LYRICS if lyr else "",
                                                 seconds=3.0, seed=seed)
    return out


def _spectrum(x: np.ndarray, bands: int = 48) -> np.ndarray:
    """Log-band power spectrum (mono), normalised: a timbre fingerprint."""
    mono = x.astype(np.float64).mean(axis=1)
    p = np.abs(np.fft.rfft(mono)) ** 2
    f = np.fft.rfftfreq(mono.size, 1 / SR)
    edges = np.geomspace(40, 16000, bands + 1)
    e = np.array([p[(f >= a) & (f < b)].sum() for a, b in zip(edges[:-1], edges[1:], strict=True)])
    e = np.log10(e / e.sum() + 1e-12)
    return e


def _band(x: np.ndarray, lo: float, hi: float) -> float:
    mono = x.astype(np.float64).mean(axis=1)
    p = np.abs(np.fft.rfft(mono)) ** 2
    f = np.fft.rfftfreq(mono.size, 1 / SR)
    return float(p[(f >= lo) & (f < hi)].sum() / p.sum())


def test_protocol_and_registry() -> None:
    m = registry.load("music.procedural")
    assert isinstance(m, AmbientMusic) and isinstance(m, MusicBackend)
    assert m.id == "music.procedural" and m.version == "1" and m.modality == "music"
    assert m.cost.per_audio_second > 0
    s = dict(m.settings)
    json.dumps(s)
    assert AmbientMusic(**s).settings == s


@pytest.mark.parametrize("seconds", [0.0, 0.01, 1.2345, 2.5])
def test_exact_length(music: AmbientMusic, seconds: float) -> None:
    a = music.generate(genre="folk", artist="x", lyrics="", seconds=seconds, seed=3)
    assert a.shape == (round(seconds * SR), 2) and a.dtype == np.float32


def test_deterministic(music: AmbientMusic, pieces: dict) -> None:
    again = AmbientMusic().generate(genre="ambient", artist="", lyrics=LYRICS, seconds=3.0, seed=1)
    assert again.tobytes() == pieces[("ambient", 1, True)].tobytes()


def test_no_clipping_no_dc_no_clicks(pieces: dict) -> None:
    for key, x in pieces.items():
        a = x.astype(np.float64)
        assert np.max(np.abs(a)) < 0.95, key
        assert np.max(np.abs(a)) <= 10 ** (-1 / 20) + 1e-6, key
        assert np.all(np.abs(a.mean(axis=0)) < 0.01), key
        assert np.sqrt(np.mean(a ** 2)) > 0.02, key  # not silent
        # fades: starts and ends near silence (so cues can be trimmed and butted)
        assert np.max(np.abs(a[:16])) < 0.02 and np.max(np.abs(a[-16:])) < 0.02, key


def test_bass_treble_and_stereo(pieces: dict) -> None:
    for key, x in pieces.items():
        assert _band(x, 20, 250) > 0.05, key
        assert _band(x, 1000, 20000) > 1e-3, key
        assert not np.array_equal(x[:, 0], x[:, 1]), key
        corr = np.corrcoef(x[:, 0].astype(np.float64), x[:, 1].astype(np.float64))[0, 1]
        assert corr < 0.999, key


def test_lyrics_add_vocal_band(pieces: dict) -> None:
    plain, sung = pieces[("ambient", 1, False)], pieces[("ambient", 1, True)]
    assert _band(sung, 300, 3000) > _band(plain, 300, 3000) * 1.05
    assert not np.array_equal(plain, sung)


def test_seeds_and_genres_differ(pieces: dict) -> None:
    base = _spectrum(pieces[("ambient", 1, False)])
    assert np.mean(np.abs(base - _spectrum(pieces[("ambient", 2, False)]))) > 0.1
    genres = ["ambient", "electronic", "drone", "choral", "folk"]
    specs = {g: _spectrum(pieces[(g, 1, False)]) for g in genres}
    for i, a in enumerate(genres):
        for b in genres[i + 1:]:
            assert np.mean(np.abs(specs[a] - specs[b])) > 0.15, (a, b)


def test_genre_profiles_and_fallback(music: AmbientMusic) -> None:
    assert profile_for("Dark Ambient") is PROFILES["ambient"]
    assert profile_for("sacred choir") is PROFILES["choral"]
    assert profile_for("indie folk") is PROFILES["folk"]
    assert profile_for("zydeco") is PROFILES["ambient"]
    a = music.generate(genre="zydeco", artist="", lyrics="", seconds=1.0, seed=1)
    b = music.generate(genre="polka", artist="", lyrics="", seconds=1.0, seed=1)
    c = music.generate(genre="polka", artist="someone", lyrics="", seconds=1.0, seed=1)
    assert a.tobytes() != b.tobytes() and b.tobytes() != c.tobytes()


def test_progress_reported(music: AmbientMusic) -> None:
    seen: list[float] = []
    music.generate(genre="drone", artist="", lyrics=LYRICS, seconds=1.5, seed=4, progress=seen.append)
    assert seen and seen == sorted(seen) and seen[-1] == 1.0 and all(0.0 <= f <= 1.0 for f in seen)


def test_block_boundaries_smooth(pieces: dict) -> None:
    """No sample-to-sample jumps far beyond the signal's own high-frequency activity."""
    for key, x in pieces.items():
        d = np.abs(np.diff(x.astype(np.float64), axis=0))
        assert np.max(d) < 0.35, key
        assert np.max(d) < 40 * np.percentile(d, 99) + 1e-3, key
