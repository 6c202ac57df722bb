"""The procedural CPPN image backend: determinism, latent geometry, resolution independence."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nyeshc.backends import registry
from nyeshc.backends.base import ImageBackend
from nyeshc.backends.procedural.image import CPPNImage


@pytest.fixture(scope="module")
def cppn() -> CPPNImage:
    return CPPNImage()


def _mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def test_protocol_and_registry(cppn: CPPNImage) -> None:
    assert isinstance(cppn, ImageBackend)
    assert (cppn.id, cppn.version, cppn.modality) == ("image.procedural", "3", "image")
    assert cppn.cost.device == "cpu" and cppn.cost.per_frame > 0
    loaded = registry.load("image.procedural")
    assert isinstance(loaded, CPPNImage)
    json.dumps(dict(cppn.settings))
    assert CPPNImage(**cppn.settings).settings == cppn.settings


def test_sample_is_deterministic_float32(cppn: CPPNImage) -> None:
    a, b = cppn.sample(11), cppn.sample(11)
    assert a.dtype == np.float32 and a.shape == (cppn.latent_dim,)
    assert a.tobytes() == b.tobytes()
    assert not np.allclose(a, cppn.sample(12))
    assert np.allclose(cppn.sample(11, 0.5), 0.5 * a, atol=1e-6)


def test_render_shape_dtype_and_determinism(cppn: CPPNImage) -> None:
    z = cppn.sample(3)
    img = cppn.render(z, 96, 54)
    assert img.shape == (54, 96, 3) and img.dtype == np.uint8
    assert img.tobytes() == cppn.render(z.copy(), 96, 54).tobytes()
    assert CPPNImage().render(z, 96, 54).tobytes() == img.tobytes()  # same fixed network
    assert img.std() > 5  # not a flat fill
    odd = cppn.render(z, 33, 71)
    assert odd.shape == (71, 33, 3)


def test_different_seeds_differ_substantially(cppn: CPPNImage) -> None:
    imgs = [cppn.render(cppn.sample(s), 64, 36) for s in range(4)]
    for i in range(4):
        for j in range(i + 1, 4):
            assert _mad(imgs[i], imgs[j]) > 12


def test_truncation_zero_is_the_mean_image(cppn: CPPNImage) -> None:
    a = cppn.render(cppn.sample(1, truncation=0.0), 48, 27)
    b = cppn.render(cppn.sample(999, truncation=0.0), 48, 27)
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() == cppn.render(np.zeros(cppn.latent_dim, np.float32), 48, 27).tobytes()


def test_blend_is_a_slerp(cppn: CPPNImage) -> None:
    a, b = cppn.sample(1), cppn.sample(2)
    assert np.allclose(cppn.blend(a, b, 0.0), a, atol=1e-5)
    assert np.allclose(cppn.blend(a, b, 1.0), b, atol=1e-5)
    mid = cppn.blend(a, b, 0.5)
    assert mid.dtype == np.float32
    # slerp keeps the length (lerp would shrink it to ~0.7x for independent Gaussians)
    expect = 0.5 * (np.linalg.norm(a) + np.linalg.norm(b))
    assert abs(np.linalg.norm(mid) - expect) < 1e-3 * expect
    assert np.linalg.norm(0.5 * (a + b)) < 0.9 * expect
    # blending with the mean latent (truncation 0) is well-defined
    zero = cppn.sample(5, 0.0)
    assert np.allclose(cppn.blend(a, zero, 0.25), 0.75 * a, atol=1e-5)


@pytest.mark.parametrize("ease", ["linear", "smooth"])
@pytest.mark.parametrize("n", [2, 4])
def test_interpolate_hits_keys_and_is_continuous(cppn: CPPNImage, ease: str, n: int) -> None:
    keys = [cppn.sample(s) for s in range(n)]
    for i, k in enumerate(keys):
        assert cppn.interpolate(keys, i / (n - 1), ease).tobytes() == k.tobytes()
    ts = np.linspace(0.0, 1.0, 241)
    path = np.stack([cppn.interpolate(keys, float(t), ease) for t in ts])
    steps = np.linalg.norm(np.diff(path, axis=0), axis=1)
    span = np.linalg.norm(keys[0] - keys[1])
    assert steps.max() < 0.05 * span  # no jumps, also across keys
    if ease == "smooth" and n > 2:  # C1: velocity continuous across an inner key
        t_key = 1 / (n - 1)
        h = 1e-3
        before = cppn.interpolate(keys, t_key - h, ease) - keys[1]
        after = keys[1] - cppn.interpolate(keys, t_key - 2 * h, ease)
        nxt = cppn.interpolate(keys, t_key + h, ease) - keys[1]
        assert np.linalg.norm(nxt + before) < 0.05 * np.linalg.norm(nxt) + 1e-4
        assert np.linalg.norm(after) > 0


def test_morph_frames_are_smooth(cppn: CPPNImage) -> None:
    a, b = cppn.sample(21), cppn.sample(22)
    frames = [cppn.render(cppn.interpolate([a, b], t / 59, "smooth"), 64, 36) for t in range(60)]
    ends = _mad(frames[0], frames[-1])
    adjacent = [_mad(frames[i], frames[i + 1]) for i in range(59)]
    assert ends > 15
    assert np.mean(adjacent) < ends / 5
    assert max(adjacent) < ends / 3
    lin = [cppn.render(cppn.blend(a, b, t / 239), 64, 36) for t in (120, 121)]
    assert _mad(*lin) < ends / 30


def test_resolution_independence(cppn: CPPNImage) -> None:
    from PIL import Image

    z = cppn.sample(8)
    small = cppn.render(z, 80, 45).astype(np.float64)
    big = cppn.render(z, 320, 180)
    down = np.asarray(Image.fromarray(big).resize((80, 45), Image.BILINEAR)).astype(np.float64)
    corr = np.corrcoef(small.ravel(), down.ravel())[0, 1]
    assert corr > 0.9
    other = cppn.render(cppn.sample(9), 80, 45).astype(np.float64)
    assert np.corrcoef(small.ravel(), other.ravel())[0, 1] < corr


def test_rejects_bad_latents(cppn: CPPNImage) -> None:
    with pytest.raises(ValueError):
        cppn.render(np.zeros(cppn.latent_dim + 1, np.float32), 16, 16)
    with pytest.raises(ValueError):
        cppn.interpolate([cppn.sample(0)], 0.5)
