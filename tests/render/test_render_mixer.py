"""The mixer: placement, loops, fades, ducking under dialogue, loudness and true peak."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from render_support import SR, put, sine, timeline

from nyeshc.plan.model import AudioClip
from nyeshc.render.mixer import duck_envelope, integrated_loudness, mix, true_peak
from nyeshc.store.cache import Cache


@pytest.fixture
def cache(tmp_path: Path) -> Cache:
    return Cache(tmp_path / "cache")


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def test_ducking_lowers_music_under_dialogue_and_normalises(cache: Cache) -> None:
    music = put(cache, "music", sine(6.0, 220.0, 0.5, channels=2))
    voice = put(cache, "voice", sine(1.5, 900.0, 0.4))
    frames = 72  # 6 s at 12 fps
    tl = timeline([], frames, audio=(
        AudioClip(0, 6 * SR, music, duck=True, role="music", fade_in=SR // 2),
        AudioClip(3 * SR, int(1.5 * SR), voice, role="dialogue"),
    ))
    out = mix(tl, cache)
    assert out.dtype == np.float32 and out.shape == (tl.samples, 2)
    assert np.allclose(out[:, 0], out[:, 1])  # mono dialogue centred, music identical channels
    # the music alone before the line vs under it: the dialogue is 900 Hz, the music 220 Hz,
    # so measure the music through a band that excludes the voice
    from scipy.signal import butter, sosfiltfilt

    low = sosfiltfilt(butter(6, 400, fs=SR, output="sos"), out[:, 0].astype(np.float64))
    before = _rms(low[int(2.0 * SR):int(2.7 * SR)])
    under = _rms(low[int(3.3 * SR):int(4.2 * SR)])
    assert under < before * 10 ** (-6 / 20)  # about -8 dB
    assert _rms(out[: SR // 20]) < _rms(out[SR:SR + SR // 20]) / 4  # the fade in
    assert abs(integrated_loudness(out, SR) - tl.loudness_lufs) < 1.0
    assert true_peak(out, SR) <= -1.0 + 1e-3 and np.abs(out).max() < 1.0


def test_loud_mix_is_limited_by_true_peak_not_clipped(cache: Cache) -> None:
    rng = np.random.default_rng(1)
    # sparse clicks: loud peaks, low loudness -> normalising up would exceed the ceiling
    x = np.zeros((2 * SR, 1), np.float32)
    x[rng.integers(0, 2 * SR, 40), 0] = 0.9
    x += rng.normal(0, 0.002, x.shape).astype(np.float32)
    clicks = put(cache, "clicks", x)
    tl = timeline([], 24, audio=(AudioClip(0, 2 * SR, clicks, role="sound"),))
    out = mix(tl, cache)
    assert true_peak(out, SR) <= -1.0 + 1e-3
    assert np.abs(out).max() < 1.0


def test_loop_offset_gain_and_silence(cache: Cache) -> None:
    short = np.linspace(-0.5, 0.5, 1000, dtype=np.float32)[:, None]
    k = put(cache, "short", short)
    tl = timeline([], 12, audio=(AudioClip(100, 2500, k, offset=500, loop=True, gain_db=-6.0, role="sound"),))
    from nyeshc.render import mixer

    out = np.zeros((tl.samples, 2), np.float32)
    mixer._place(out, tl.audio[0], short, tl.samples)
    g = 10 ** (-6 / 20)
    assert out[99, 0] == 0 and out[100, 0] == pytest.approx(short[500, 0] * g, abs=1e-6)
    assert out[100 + 500, 0] == pytest.approx(short[0, 0] * g, abs=1e-6)  # looped
    assert out[100 + 2500:].max() == 0
    silent = timeline([], 12)
    assert not mix(silent, cache).any()  # nothing to measure: no normalisation


def test_duck_envelope_ramps() -> None:
    env = duck_envelope(SR * 3, [(SR, 2 * SR)], -8.0, SR)
    assert env is not None
    floor = 10 ** (-8 / 20)
    assert env[0] == 1.0 and env[SR] == pytest.approx(floor, abs=1e-6)
    assert env[SR - int(0.075 * SR)] < 1.0 and env[SR - int(0.16 * SR)] == 1.0  # ~150 ms attack
    assert env[2 * SR + int(0.15 * SR)] < 1.0 and env[2 * SR + int(0.31 * SR)] == 1.0  # ~300 ms release
    assert duck_envelope(100, [], -8.0, SR) is None


def test_the_mix_is_cached_until_the_sound_changes(cache: Cache, monkeypatch: pytest.MonkeyPatch) -> None:
    from nyeshc.render import mixer

    k = put(cache, "tone", sine(1.0, 220))
    tl = timeline([], 12, audio=(AudioClip(0, SR // 2, k, role="sound"),))
    first = np.array(mix(tl, cache))

    def no_mixing(*args: object) -> None:
        raise AssertionError("mixed again although nothing about the sound changed")

    monkeypatch.setattr(mixer, "_mix", no_mixing)
    assert np.array_equal(np.array(mix(tl, cache)), first)
    louder = timeline([], 12, audio=(AudioClip(0, SR // 2, k, gain_db=-3.0, role="sound"),))
    with pytest.raises(AssertionError, match="mixed again"):
        mix(louder, cache)


def test_blockwise_loudness_is_pyloudnorms_measure() -> None:
    """The block-at-a-time meter gives pyloudnorm's integrated loudness (same filters, blocks
    and gates), for stereo and mono, with silence that the gates must leave out."""
    import pyloudnorm

    rng = np.random.default_rng(0)
    n = SR * 37 + 123
    x = (rng.standard_normal((n, 2)) * np.linspace(0.01, 0.5, n)[:, None]).astype(np.float32)
    x[SR * 5:SR * 9] = 0
    for signal in (x, x[:, 0]):
        ours = integrated_loudness(signal, SR)
        theirs = pyloudnorm.Meter(SR).integrated_loudness(signal.astype(np.float64))
        assert ours == pytest.approx(theirs, abs=1e-9)
    assert integrated_loudness(np.zeros((SR * 2, 2), np.float32), SR) is None


def test_duck_gain_by_blocks_equals_the_whole_envelope() -> None:
    from nyeshc.render.mixer import _duck_plan

    lines = [(SR // 2, SR), (SR * 2, SR * 2 + 100), (SR * 3 - 10, SR * 4)]
    whole = duck_envelope(SR * 5, lines, -8.0, SR)
    plan = _duck_plan(SR * 5, lines, -8.0, SR)
    assert whole is not None and plan is not None
    pieces = np.concatenate([plan.gain(lo, min(SR * 5, lo + 7919)) for lo in range(0, SR * 5, 7919)])
    assert np.array_equal(pieces, whole)


@pytest.mark.parametrize("after", [0, 1, 2, 4])
def test_a_stopped_mix_caches_nothing(cache: Cache, after: int) -> None:
    """``stop`` is asked between blocks (placing, normalising, limiting): once it says true the
    mix raises ``Interrupted`` and leaves neither an entry nor a temporary file."""
    from nyeshc.render.encoder import Interrupted
    from nyeshc.render.mixer import _CHUNK, mix_key

    loud = put(cache, "loud", sine(12.0, 300.0, 0.99, channels=2))  # limited: every pass runs
    tl = timeline([], 12 * 12, audio=(AudioClip(0, 12 * SR, loud, role="music"),))
    assert tl.samples > 2 * _CHUNK
    asked = []

    def stop() -> bool:
        asked.append(1)
        return len(asked) > after

    with pytest.raises(Interrupted):
        mix(tl, cache, stop=stop)
    assert not cache.has(mix_key(tl)) and cache.stray_files() == []
    assert mix(tl, cache).shape == (tl.samples, 2)  # and a mix not stopped is whole


@pytest.mark.parametrize("level", [0.2, 0.5, 0.9, 1.4])
def test_the_peak_is_oversampled_only_where_it_can_pass_the_ceiling(level: float) -> None:
    """``_normalise_and_peak`` oversamples only around samples loud enough for an interpolated
    value to reach the ceiling: wherever the true peak passes the ceiling it is the whole
    signal's, to the bit (so the limiting, and the mix, are unchanged); below it, both are."""
    from nyeshc.render.mixer import _CHUNK, TRUE_PEAK_DBTP, _hot_level, _normalise_and_peak

    rng = np.random.default_rng(int(level * 10))
    n = 2 * _CHUNK + 12_345
    t = np.arange(n) / SR
    x = 0.3 * np.sin(2 * np.pi * 110 * t)[:, None] * np.ones((1, 2))
    x += 0.05 * rng.standard_normal((n, 2))
    for at in rng.integers(0, n - 64, 9):  # clicks: peaks between samples, at block edges too
        x[at:at + 3] += level * np.array([[0.6, -0.5], [1.0, 0.9], [0.7, -0.8]])
    x[_CHUNK - 2:_CHUNK + 1] += level * 0.9  # across the first block's end
    x = x.astype(np.float32)
    whole = true_peak(x)  # every sample oversampled
    assert 0.3 < _hot_level() < 0.45
    got = _normalise_and_peak(x.copy(), None)
    if whole > TRUE_PEAK_DBTP or got > TRUE_PEAK_DBTP:
        assert got == whole
    else:
        assert got <= whole <= TRUE_PEAK_DBTP
