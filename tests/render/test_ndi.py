"""nyeshc.ndi computes what scipy.ndimage computes, to the bit, without importing scipy.ndimage."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import scipy.ndimage as nd
import scipy.special as sp

from nyeshc import dsp, ndi

MODES = ("reflect", "constant", "nearest", "mirror", "wrap")


def _images() -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    return [rng.standard_normal((37, 53)).astype(np.float32), rng.standard_normal((64, 64)),
            (rng.random((20, 31)) > 0.6).astype(np.float32), rng.standard_normal((5, 6, 7))]


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)


@pytest.mark.parametrize("mode", MODES)
def test_gaussian_filter_is_scipys(mode: str) -> None:
    for img in _images():
        for sigma in (0.4, 1.7, 6.0, 0.0, 1e-16, 0.02 * 342, (3.0, 0.8) if img.ndim == 2 else 2.2):
            for truncate in (4.0, 2.5):
                got = ndi.gaussian_filter(img, sigma, mode=mode, truncate=truncate)
                assert _same(got, nd.gaussian_filter(img, sigma, mode=mode, truncate=truncate)), (img.shape, sigma)


def test_gaussian_filter_takes_a_sigma_per_axis_and_a_mode_per_axis() -> None:
    img = _images()[1]
    assert _same(ndi.gaussian_filter(img, (2.0, 0.0)), nd.gaussian_filter(img, (2.0, 0.0)))
    assert _same(ndi.gaussian_filter(img, 1.5, mode=("wrap", "constant"), cval=0.3),
                 nd.gaussian_filter(img, 1.5, mode=("wrap", "constant"), cval=0.3))


@pytest.mark.parametrize("mode", MODES)
def test_uniform_filter1d_is_scipys(mode: str) -> None:
    for img in _images():
        for size in (1, 2, 5, 11):
            for axis in (0, -1):
                assert _same(ndi.uniform_filter1d(img, size, axis=axis, mode=mode),
                             nd.uniform_filter1d(img, size, axis=axis, mode=mode)), (img.shape, size, axis)


@pytest.mark.parametrize("order", [0, 1])
@pytest.mark.parametrize("mode", MODES)
def test_map_coordinates_and_shift_are_scipys(order: int, mode: str) -> None:
    rng = np.random.default_rng(3)
    img = _images()[0]
    coords = [rng.uniform(-4, 40, (23, 19)), rng.uniform(-4, 58, (23, 19))]
    assert _same(ndi.map_coordinates(img, coords, order=order, mode=mode, cval=0.25),
                 nd.map_coordinates(img, coords, order=order, mode=mode, cval=0.25))
    for by in ((3.7, -2.2), (0.0, 0.5), 1.25):
        assert _same(ndi.shift(img, by, order=order, mode=mode), nd.shift(img, by, order=order, mode=mode)), by


def test_cosine_and_sine_in_degrees_are_scipy_specials() -> None:
    angles = np.concatenate([np.arange(-1080.0, 1081.0, 7.5),
                             [12.0, -40.0, 30.0, 0.1, -0.1, 1e-9, 359.999, 45.0, 89.99999, 1e15],
                             np.random.default_rng(5).uniform(-5000, 5000, 400)])
    for a in angles:
        assert ndi.cosdg(a) == sp.cosdg(a) and ndi.sindg(a) == sp.sindg(a), a


@pytest.mark.parametrize("reshape", [False, True])
@pytest.mark.parametrize("mode", ["wrap", "constant", "nearest"])
def test_rotate_is_scipys(reshape: bool, mode: str) -> None:
    for img in _images()[:3]:
        for angle in (12.0, -40.0, 30.0, 90.0, 7.3, -133.0):
            for order in (0, 1):
                assert _same(ndi.rotate(img, angle, reshape=reshape, order=order, mode=mode),
                             nd.rotate(img, angle, reshape=reshape, order=order, mode=mode)), (img.shape, angle)


def test_what_it_does_not_write_again_goes_to_scipy() -> None:
    """A spline of order 3, complex data, a volume to rotate: scipy.ndimage's own answers."""
    img = _images()[0]
    coords = [np.linspace(0, 30, 50), np.linspace(0, 40, 50)]
    assert _same(ndi.map_coordinates(img, coords, order=3), nd.map_coordinates(img, coords, order=3))
    assert _same(ndi.shift(img, (1.5, 2.5), order=3), nd.shift(img, (1.5, 2.5), order=3))
    z = img + 1j * img[::-1]
    assert _same(ndi.gaussian_filter(z, 2.0), nd.gaussian_filter(z, 2.0))
    vol = _images()[3]
    assert _same(ndi.rotate(vol, 20.0, reshape=False), nd.rotate(vol, 20.0, reshape=False))


def test_without_the_compiled_module_scipy_itself_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dsp, "scipy_kernel", lambda package, name: None)
    monkeypatch.setattr(ndi, "scipy_kernel", lambda package, name: None)
    img = _images()[0]
    assert _same(ndi.gaussian_filter(img, 2.0), nd.gaussian_filter(img, 2.0))
    assert _same(ndi.rotate(img, 30.0, reshape=False, mode="wrap"), nd.rotate(img, 30.0, reshape=False, mode="wrap"))


PROBE = """
import json, sys
import numpy as np
from nyeshc.backends.procedural.puppet import PuppetMotion, PuppetPortrait
pp = PuppetPortrait()
face = pp.portrait(pp.sample(2), 96)
t = np.arange(48_000) / 48_000
voice = (0.3 * np.sin(2 * np.pi * 150 * t) * (np.sin(2 * np.pi * 2 * t) > 0)).astype(np.float32)[:, None]
frames = PuppetMotion().lipsync(face, voice, 24.0, 24, seed=3)
print(json.dumps({"loaded": "scipy.ndimage" in sys.modules, "frames": int(frames.shape[0])}))
"""


def test_drawing_a_face_does_not_import_scipy_ndimage() -> None:
    """A portrait and its lip-sync, in a fresh process, without ``import scipy.ndimage``
    (0.2-0.5 s, paid by every worker that drew a face before nyeshc.ndi)."""
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    facts = json.loads(out.stdout)
    assert facts == {"loaded": False, "frames": 24}
