"""Places and prompts in the procedural image backend (issue #18): the vocabulary, the scene
code in the latent, the executor's ``prompt`` option, and what the pictures show, from pixels."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from nyeshc.backends.base import BackendError, ImageBackend
from nyeshc.backends.procedural import scenery
from nyeshc.backends.procedural.image import CPPNImage
from nyeshc.execute import ops
from nyeshc.execute.ops import run_job
from nyeshc.plan.model import Job

W, H = 160, 90
KINDS = ("sea", "cathedral", "ruins", "forest", "city", "kitchen", "desert", "space")
SEEDS = {k: 100 + i for i, k in enumerate(KINDS)}


@pytest.fixture(scope="module")
def cppn() -> CPPNImage:
    return CPPNImage()


@pytest.fixture(scope="module")
def frames(cppn: CPPNImage) -> dict[tuple[str, str], np.ndarray]:
    """Every kind of place at every time of day, one seed per place (as the planner does)."""
    return {(k, t): cppn.render(cppn.sample(SEEDS[k], prompt=f"{k} {t}"), W, H)
            for k in KINDS for t in ("dawn", "day", "dusk", "night")}


def _lum(img: np.ndarray) -> np.ndarray:
    return img.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def _edges(img: np.ndarray) -> np.ndarray:
    """A normalised edge map: gradient magnitude of log luminance (so a dark scene's structure
    counts as much as a bright one's), lightly blurred (stars and grain do not count)."""
    lum = gaussian_filter(np.log(_lum(img) / 255.0 + 0.03), 1.5)
    gy, gx = np.gradient(lum)
    m = np.hypot(gx, gy)
    return (m - m.mean()) / (m.std() + 1e-9)


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    return float((_edges(a) * _edges(b)).mean())


# --------------------------------------------------------------------------- the vocabulary


def test_read_prompt_places_times_and_unknown_words() -> None:
    code, unknown = scenery.read_prompt("cathedral night")
    assert unknown == ()
    named = {scenery.NAMES[i]: float(v) for i, v in enumerate(code) if v}
    assert named == {"cathedral": 1.0, "night": 1.0}
    code, unknown = scenery.read_prompt("A drowned CATHEDRAL at dusk")
    assert unknown == ("drowned",) and code[scenery.NAMES.index("dusk")] == 1.0
    # synonyms, plurals, several times of day mixed, weather, headings' punctuation
    code, _ = scenery.read_prompt("house, kitchen - morning, rainy streets")
    named = {scenery.NAMES[i]: float(v) for i, v in enumerate(code) if v}
    assert named == {"room": 1.0, "city": 1.0, "rain": 1.0, "dawn": 0.5, "day": 0.5}
    # space is night unless a time of day is given
    assert scenery.read_prompt("deep space")[0][scenery.NAMES.index("night")] == 1.0
    assert scenery.read_prompt("space day")[0][scenery.NAMES.index("night")] == 0.0
    assert scenery.read_prompt("")[0].sum() == 0


def test_sample_with_prompt(cppn: CPPNImage) -> None:
    d, n = cppn.latent_dim, scenery.SCENE_DIM
    plain = cppn.sample(311)
    assert plain.tobytes() == cppn.sample(311, prompt=None).tobytes()
    z = cppn.sample(311, prompt="cathedral night")
    assert z.dtype == np.float32 and z.shape == (d + n,)
    assert z[:d].tobytes() == plain.tobytes()  # no unknown words: the seed's own CPPN part
    day = cppn.sample(311, prompt="cathedral day")
    assert day[:d].tobytes() == z[:d].tobytes()  # same place, same composition
    assert not np.array_equal(day[d:], z[d:])  # another light
    drowned = cppn.sample(311, prompt="a drowned cathedral at night")
    assert not np.allclose(drowned[:d], plain) and drowned[d:].tobytes() == z[d:].tobytes()
    # unknown words only: the abstract field, seeded by the words
    odd = cppn.sample(311, prompt="the smell of oranges")
    assert odd.shape == (d,) and not np.allclose(odd, plain)
    assert odd.tobytes() == cppn.sample(311, prompt="smell oranges").tobytes()
    # truncation scales the CPPN part only
    half = cppn.sample(311, 0.5, prompt="cathedral night")
    assert np.allclose(half[:d], 0.5 * plain) and half[d:].tobytes() == z[d:].tobytes()
    assert isinstance(cppn, ImageBackend)


def test_render_is_a_pure_function_of_the_latent(cppn: CPPNImage) -> None:
    z = cppn.sample(5, prompt="ruins dusk fog")
    a = cppn.render(z, W, H)
    assert a.shape == (H, W, 3) and a.dtype == np.uint8
    assert a.tobytes() == CPPNImage().render(z.copy(), W, H).tobytes()
    # a scene code of zeros is the plain field
    zero = np.concatenate([cppn.sample(5), np.zeros(scenery.SCENE_DIM, np.float32)])
    assert cppn.render(zero, W, H).tobytes() == cppn.render(cppn.sample(5), W, H).tobytes()
    with pytest.raises(ValueError):
        cppn.render(np.zeros(cppn.latent_dim + scenery.SCENE_DIM + 1, np.float32), 16, 16)


def test_morph_from_a_plain_look_to_a_place_is_continuous(cppn: CPPNImage) -> None:
    a, b = cppn.sample(17), cppn.sample(1913, prompt="ruins dusk")
    mid = cppn.blend(a, b, 0.5)
    assert mid.shape == b.shape
    assert np.allclose(mid[cppn.latent_dim:], 0.5 * b[cppn.latent_dim:])
    for ease in ("linear", "smooth"):
        assert cppn.interpolate([a, b], 0.0, ease)[: cppn.latent_dim].tobytes() == a.tobytes()
        assert cppn.interpolate([a, b, a], 0.5, ease).tobytes() == b.tobytes()
    frames = [cppn.render(cppn.interpolate([a, b], t / 29, "smooth"), 96, 54).astype(np.int16) for t in range(30)]
    ends = np.abs(frames[0] - frames[-1]).mean()
    steps = [np.abs(frames[i] - frames[i + 1]).mean() for i in range(29)]
    assert ends > 15 and max(steps) < ends / 4


# --------------------------------------------------------------------------- from pixels


def test_day_is_brighter_than_night_in_every_place(frames: dict[tuple[str, str], np.ndarray]) -> None:
    for k in KINDS:
        day, dusk, night = (_lum(frames[k, t]).mean() for t in ("day", "dusk", "night"))
        assert day > 1.6 * night and day > dusk > night, (k, day, dusk, night)


def test_the_same_place_is_structurally_closer_than_another_place(
        frames: dict[tuple[str, str], np.ndarray]) -> None:
    for k in KINDS:
        others = max(_corr(frames[k, "day"], frames[q, "day"]) for q in KINDS if q != k)
        assert _corr(frames[k, "day"], frames[k, "dusk"]) > others + 0.1, k
        assert _corr(frames[k, "dawn"], frames[k, "day"]) > others, k
        assert _corr(frames[k, "day"], frames[k, "night"]) > others, k


class _GridShaded(CPPNImage):
    """Shading at the network's grid, then upsampled: how the backend drew before issue #18."""

    def _grids(self, width: int, height: int) -> tuple[tuple[int, int], tuple[int, int]]:
        return self._grid(width, height), self._grid(width, height)


def _edge_error(cppn: CPPNImage, full: CPPNImage, z: np.ndarray, w: int, h: int) -> float:
    """Mean difference (grey levels) from a 4-sample supersampled render, on its strongest 5 %
    of edges: stair steps and blur both count."""
    ref = full.render(z, 2 * w, 2 * h).astype(np.float64).reshape(h, 2, w, 2, 3).mean(axis=(1, 3))
    gy, gx = np.gradient(ref.mean(-1))
    mag = np.hypot(gx, gy)
    sel = mag > np.percentile(mag, 95)
    return float(np.abs(cppn.render(z, w, h).astype(np.float64) - ref).mean(-1)[sel].mean())


def test_edges_are_anti_aliased_where_the_network_is_upsampled() -> None:
    """Looks full of diagonals (a street's edges running to the horizon, broken ruins) and an
    abstract field with sharp folds, at sizes where the frame is larger than ``detail``: the
    edges are a few grey levels from a supersampled render, well under what shading at the
    network's grid gave (its stair steps)."""
    cases = ((7, 1.0, "street dusk", W, H, 4.0, 0.4), (7, 1.0, "ruins day", W, H, 4.0, 0.4),
             (42, 0.7, None, 2 * W, 2 * H, 8.0, 0.65))
    for seed, trunc, prompt, w, h, bound, ratio in cases:
        detail = w * h // 4
        now, grid, full = CPPNImage(detail=detail), _GridShaded(detail=detail), CPPNImage(detail=4 * w * h)
        z = now.sample(seed, trunc, prompt=prompt)
        e_now, e_grid = _edge_error(now, full, z, w, h), _edge_error(grid, full, z, w, h)
        assert e_now < bound and e_now < ratio * e_grid, (prompt, e_now, e_grid)


# --------------------------------------------------------------------------- the executor


def _job(params: dict[str, Any]) -> Job:
    return Job(key="k" * 64, kind="image.latent", backend="fake.image", backend_version="", settings={},
               params=params, inputs=(), seed=311, output="latent",  # type: ignore[arg-type]
               name="place CATHEDRAL / night")


class PromptRecorder:
    latent_dim = 4

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def sample(self, seed: int, truncation: float = 1.0, *, prompt: str | None = None) -> np.ndarray:
        self.calls.append({"seed": seed, "truncation": truncation, "prompt": prompt})
        return np.zeros(4, np.float32)


class OldImageBackend:
    latent_dim = 4

    def sample(self, seed: int, truncation: float = 1.0) -> np.ndarray:
        return np.ones(4, np.float32)


def test_latent_op_passes_the_prompt_only_when_there_is_one(monkeypatch: pytest.MonkeyPatch) -> None:
    rec = PromptRecorder()
    monkeypatch.setattr(ops, "_backend", lambda job: rec)
    run_job(_job({"truncation": 1.0, "prompt": "cathedral night"}), [])
    run_job(_job({"truncation": 0.5}), [])
    assert rec.calls == [{"seed": 311, "truncation": 1.0, "prompt": "cathedral night"},
                         {"seed": 311, "truncation": 0.5, "prompt": None}]
    with pytest.raises(BackendError, match="parameter 'prompt' must be text"):
        run_job(_job({"prompt": 3}), [])


def test_a_backend_without_prompts_keeps_working_and_names_the_option(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ops, "_backend", lambda job: OldImageBackend())
    assert run_job(_job({"truncation": 1.0}), []).tolist() == [1, 1, 1, 1]
    with pytest.raises(BackendError, match="'prompt' keyword"):
        run_job(_job({"truncation": 1.0, "prompt": "cathedral night"}), [])


def test_the_cppn_through_the_executor(monkeypatch: pytest.MonkeyPatch, cppn: CPPNImage) -> None:
    monkeypatch.setattr(ops, "_backend", lambda job: cppn)
    got = run_job(_job({"truncation": 1.0, "prompt": "cathedral night"}), [])
    assert got.tobytes() == cppn.sample(311, prompt="cathedral night").tobytes()
    plain = run_job(_job({"truncation": 1.0}), [])
    blend = run_job(Job(key="b" * 64, kind="image.blend", backend="fake.image", backend_version="", settings={},
                        params={"t": 0.5}, inputs=("a", "b"), seed=0, output="latent", name="blend"),
                    [plain, got])
    assert blend.shape == got.shape
