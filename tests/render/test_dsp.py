"""nyeshc.dsp computes what scipy.signal computes, to the bit (the resampler within rounding), without
importing scipy.signal."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import scipy.signal as ss

from nyeshc import dsp

RATES = (24_000, 44_100, 48_000)


@pytest.mark.parametrize("fs", RATES)
def test_butterworth_sections_are_scipys(fs: int) -> None:
    for f in np.geomspace(20, fs * 0.45, 25):
        for order in (1, 2, 3, 4):
            for btype in ("lowpass", "highpass"):
                assert np.array_equal(dsp.butter_sos(order, f, btype, fs),
                                      ss.butter(order, f, btype=btype, fs=fs, output="sos")), (order, f, btype)
            hi = min(f * 1.7, fs * 0.45)
            if hi > f:
                assert np.array_equal(dsp.butter_sos(order, (f, hi), "bandpass", fs),
                                      ss.butter(order, [f, hi], btype="bandpass", fs=fs, output="sos"))
    with pytest.raises(ValueError, match="cutoffs"):
        dsp.butter_sos(2, fs, "lowpass", fs)


SHAPES = [((5000,), -1), ((800, 2), 0), ((2, 800), 1), ((2, 800), -1)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("shape", "axis"), SHAPES)
def test_filters_are_scipys(dtype: type, shape: tuple[int, ...], axis: int) -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape).astype(dtype)
    sos = ss.butter(2, [300, 3000], btype="bandpass", fs=48_000, output="sos")
    assert np.array_equal(dsp.sosfilt(sos, x, axis=axis), ss.sosfilt(sos, x, axis=axis))
    zshape = list(shape)
    zshape[axis] = 2
    zi = rng.standard_normal([2, *zshape])
    ours, theirs = dsp.sosfilt(sos, x, axis=axis, zi=zi), ss.sosfilt(sos, x, axis=axis, zi=zi)
    assert np.array_equal(ours[0], theirs[0]) and np.array_equal(ours[1], theirs[1])
    for b, a in (([0.1], [1.0, -0.9]), ([1.0, -0.7], [1.0]), ([0.5, 0.5], [2.0]), ss.butter(2, 1000, fs=48_000)):
        got, want = dsp.lfilter(b, a, x, axis=axis), ss.lfilter(b, a, x, axis=axis)
        assert got.dtype == want.dtype and np.array_equal(got, want), (b, a)
    if x.ndim == 1:
        b, a = ss.butter(2, 1000, fs=48_000)
        ours, theirs = dsp.lfilter(b, a, x, zi=np.full(2, 0.3)), ss.lfilter(b, a, x, zi=np.full(2, 0.3))
        assert np.array_equal(ours[0], theirs[0]) and np.array_equal(ours[1], theirs[1])


@pytest.mark.parametrize(("up", "down"), [(4, 1), (2, 1), (3, 1), (1, 2), (160, 441), (441, 160), (2, 3), (1, 1)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_resampling_is_scipys(up: int, down: int, dtype: type) -> None:
    """Within rounding, not to the bit: the Kaiser window's Bessel function is numpy's ``i0``
    (scipy.special is 0.2 s to import), and scipy's window (``scipy.special.i0``) differs from it
    by up to 4e-16 relative on some machines: on 2026-12-03's (an AVX-512 Xeon; numpy 2.4.6,
    scipy 1.17.1, the same versions as the session before, whose machine gave the same taps) a
    float64 tap can differ in its last bit. The two Bessel functions are evaluated by different
    code (numpy's in Python over its own exp, scipy's in C over libm's), and how an exp rounds
    its last bit can depend on the CPU. Ours never depends on scipy for the window."""
    rng = np.random.default_rng(2)
    for shape, axis in [((1000,), 0), ((997, 2), 0), ((3, 555), 1), ((0, 2), 0), ((1,), 0)]:
        x = rng.standard_normal(shape).astype(dtype)
        got, want = dsp.resample_poly(x, up, down, axis=axis), ss.resample_poly(x, up, down, axis=axis)
        assert got.dtype == want.dtype and got.shape == want.shape, (shape, axis)
        scale = max(1.0, float(np.max(np.abs(want), initial=0)))
        assert float(np.max(np.abs(got - want), initial=0)) <= 8 * np.finfo(dtype).eps * scale, (shape, axis)


@pytest.mark.parametrize(("n1", "n2"), [(100_000, 17_000), (24_000, 17_000), (17_000, 17_000), (5, 3), (1, 9),
                                        (300_000, 17_100), (17_100, 300_000), (1000, 10), (50, 400)])
def test_convolutions_are_scipys(n1: int, n2: int) -> None:
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal(n1), rng.standard_normal(n2)
    assert np.array_equal(dsp.oaconvolve(a, b), ss.oaconvolve(a, b))
    assert np.array_equal(dsp.fftconvolve(a, b), ss.fftconvolve(a, b))


def test_k_weighting_is_pyloudnorms() -> None:
    pyloudnorm = pytest.importorskip("pyloudnorm")
    for rate in RATES:
        filters = list(pyloudnorm.Meter(rate)._filters.values())  # noqa: SLF001 - the reference's own
        assert len(filters) == 2 and all(f.passband_gain == 1.0 for f in filters)
        for (b, a), f in zip(dsp.k_weighting(rate), filters, strict=True):
            assert np.array_equal(b, f.b) and np.array_equal(a, f.a)


def test_without_scipys_kernels_scipy_itself_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where scipy's compiled modules cannot be loaded apart (another layout), the same
    functions answer through scipy.signal: the same numbers."""
    monkeypatch.setattr(dsp, "scipy_kernel", lambda package, name: None)
    x = np.random.default_rng(4).standard_normal(3000)
    sos = ss.butter(2, 700, btype="highpass", fs=48_000, output="sos")
    assert np.array_equal(dsp.sosfilt(sos, x), ss.sosfilt(sos, x))
    assert np.array_equal(dsp.lfilter([0.1], [1.0, -0.9], x), ss.lfilter([0.1], [1.0, -0.9], x))
    assert np.array_equal(dsp.resample_poly(x, 4, 1), ss.resample_poly(x, 4, 1))
    y = x.copy()
    dsp.sosfilt_inplace(sos, y, np.zeros((1, 2)))
    assert np.array_equal(y, ss.sosfilt(sos, x))


PROBE = """
import json, sys
import numpy as np
from nyeshc.backends.procedural.voice import AsemicVoice
from nyeshc.render.mixer import integrated_loudness, true_peak
speech = AsemicVoice().speak("Keep the light burning.", pitch=1.0, rate=1.0, lang="", seed=3)
x = np.repeat(speech, 2, axis=1)
print(json.dumps({"loaded": "scipy.signal" in sys.modules, "samples": int(speech.shape[0]),
                  "lufs": integrated_loudness(x), "peak": true_peak(x)}))
"""


def test_speaking_and_measuring_do_not_import_scipy_signal() -> None:
    """The asemic voice and the mixer's meters run without ``import scipy.signal`` (1.4-2.5 s,
    paid by a one-line edit's voice worker and its mix before nyeshc.dsp)."""
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    facts = json.loads(out.stdout)
    assert facts["loaded"] is False
    assert facts["samples"] > 48_000 // 2
    assert -40 < facts["lufs"] < 0 and -10 < facts["peak"] <= 0.5
