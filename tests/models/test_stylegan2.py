"""image/portrait/glyphs.stylegan2 against a stand-in StyleGAN2-ADA checkout (tests/models/stylegan2_fakes.py).

The stand-in has the official interface (legacy.load_network_pkl(f)['G_ema'] with mapping /
synthesis / z_dim / w_dim / c_dim / num_ws / img_resolution) and is pickled as the official
training loop pickles its snapshots; docs/models/stylegan2.md says how the adapter was checked
against the real repository.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from stylegan2_fakes import RES, W_DIM, Z_DIM, write_checkout, write_pickle  # noqa: E402

from nyeshc.backends import registry  # noqa: E402
from nyeshc.backends.base import (  # noqa: E402
    Alphabet,
    BackendError,
    GlyphBackend,
    ImageBackend,
    Portrait,
    PortraitBackend,
)
from nyeshc.backends.models.stylegan2 import (  # noqa: E402
    FFHQ_MOUTH,
    StyleGAN2Glyphs,
    StyleGAN2Image,
    StyleGAN2Portrait,
)


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def sg2(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    # one checkout per process: its `legacy` module stays imported (as with the real repository)
    root = tmp_path_factory.mktemp("sg2")
    checkout = write_checkout(root / "stylegan2-ada-pytorch")
    return {"checkout": checkout,
            "pkl": write_pickle(checkout, root / "net.pkl"),
            "cond": write_pickle(checkout, root / "cond.pkl", c_dim=3),
            "root": root}


def _kw(sg2: dict[str, Path], key: str = "pkl", **extra: object) -> dict[str, object]:
    return {"checkout": str(sg2["checkout"]), "checkpoint": str(sg2[key]), "w_dim": W_DIM, "device": "cpu", **extra}


@pytest.fixture(scope="module")
def image(sg2: dict[str, Path]) -> StyleGAN2Image:
    return StyleGAN2Image(**_kw(sg2))


def _loads() -> list:
    legacy = sys.modules.get("legacy")
    return [] if legacy is None else legacy.LOADS


# --------------------------------------------------------------------------- construction


def test_constructors_are_cheap_and_protocols_hold(sg2: dict[str, Path]) -> None:
    before = len(_loads())
    img = registry.load("image.stylegan2", _kw(sg2))
    por = registry.load("portrait.stylegan2", _kw(sg2))
    gly = registry.load("glyphs.stylegan2", _kw(sg2))
    assert isinstance(img, ImageBackend) and isinstance(por, PortraitBackend) and isinstance(gly, GlyphBackend)
    assert (img.id, por.id, gly.id) == ("image.stylegan2", "portrait.stylegan2", "glyphs.stylegan2")
    assert img.latent_dim == por.latent_dim == W_DIM
    assert img.cost.device == "cpu" and img.cost.per_frame > 0
    assert len(_loads()) == before  # nothing unpickled to read id/version/settings/cost/latent_dim


def test_settings_rebuild_the_backend_and_hash_the_checkpoint(sg2: dict[str, Path], tmp_path: Path) -> None:
    import hashlib

    b = StyleGAN2Portrait(**_kw(sg2), mouth=[0.5, 0.7])
    s = dict(b.settings)
    json.dumps(s)
    assert s["checkpoint_sha256"] == hashlib.sha256(sg2["pkl"].read_bytes()).hexdigest()
    assert StyleGAN2Portrait(**s).settings == s  # the executor rebuilds backends from settings
    # a replaced checkpoint changes the settings (so the job keys), and a stale plan is refused
    copy = tmp_path / "net.pkl"
    copy.write_bytes(sg2["pkl"].read_bytes() + b"\0")
    other = StyleGAN2Portrait(**{**_kw(sg2), "checkpoint": str(copy)})
    assert other.settings["checkpoint_sha256"] != s["checkpoint_sha256"]
    with pytest.raises(BackendError, match="changed since the film was planned"):
        StyleGAN2Portrait(**{**s, "checkpoint": str(copy)})


def test_missing_files_name_the_setting(sg2: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(BackendError, match=r"\[profile.<name>.image\] checkout"):
        StyleGAN2Image(checkpoint=str(sg2["pkl"]))
    with pytest.raises(BackendError, match=r"\[profile.<name>.image\] checkout"):
        StyleGAN2Image(checkout=str(tmp_path), checkpoint=str(sg2["pkl"]))  # not a stylegan2 clone
    with pytest.raises(BackendError, match=r"\[profile.<name>.portrait\] checkpoint"):
        StyleGAN2Portrait(checkout=str(sg2["checkout"]))
    with pytest.raises(BackendError, match=r"\[profile.<name>.glyphs\] checkpoint"):
        StyleGAN2Glyphs(checkout=str(sg2["checkout"]), checkpoint=str(tmp_path / "nope.pkl"))
    with pytest.raises(BackendError, match="unknown setting.*checkpont"):
        StyleGAN2Image(checkout=str(sg2["checkout"]), checkpont=str(sg2["pkl"]))
    with pytest.raises(BackendError, match="noise_mode"):
        StyleGAN2Image(**_kw(sg2, noise_mode="loud"))


def test_wrong_w_dim_names_the_setting(sg2: dict[str, Path]) -> None:
    b = StyleGAN2Image(**{**_kw(sg2), "w_dim": 512})
    with pytest.raises(BackendError, match=rf"w_dim = {W_DIM}"):
        b.sample(1)


def test_conditional_network_needs_class_idx(sg2: dict[str, Path]) -> None:
    with pytest.raises(BackendError, match=r"\[profile.<name>.image\] class_idx"):
        StyleGAN2Image(**_kw(sg2, "cond")).sample(3)
    with pytest.raises(BackendError, match="only 3 classes"):
        StyleGAN2Image(**_kw(sg2, "cond", class_idx=3)).sample(3)
    a = StyleGAN2Image(**_kw(sg2, "cond", class_idx=0)).sample(3)
    b = StyleGAN2Image(**_kw(sg2, "cond", class_idx=2)).sample(3)
    assert a.shape == (W_DIM,) and not np.allclose(a, b)


# --------------------------------------------------------------------------- latents


def test_sample_is_generate_py_z_mapped_to_w(image: StyleGAN2Image, sg2: dict[str, Path]) -> None:
    w = image.sample(42)
    assert w.dtype == np.float32 and w.shape == (W_DIM,)
    assert image.sample(42).tobytes() == w.tobytes()
    assert not np.allclose(w, image.sample(43))
    # the same z as the official generate.py, through the same network
    import pickle

    with open(sg2["pkl"], "rb") as f:
        G = pickle.load(f)["G_ema"]
    z = torch.from_numpy(np.random.RandomState(42).randn(1, Z_DIM))
    ref = G.mapping(z, torch.zeros([1, 0])).detach()[0, 0].numpy()
    np.testing.assert_allclose(w, ref, rtol=1e-6, atol=1e-6)


def test_truncation_pulls_toward_w_avg(image: StyleGAN2Image) -> None:
    w_avg = image._net().mapping.w_avg.numpy()
    full, half, none = image.sample(7, 1.0), image.sample(7, 0.5), image.sample(7, 0.0)
    np.testing.assert_allclose(none, w_avg, atol=1e-6)
    np.testing.assert_allclose(half, w_avg + 0.5 * (full - w_avg), atol=1e-5)
    assert np.linalg.norm(half - w_avg) < np.linalg.norm(full - w_avg)


def test_blend_and_interpolate_are_continuous_in_w(image: StyleGAN2Image) -> None:
    keys = [image.sample(s) for s in (1, 2, 3, 4)]
    np.testing.assert_allclose(image.blend(keys[0], keys[1], 0.25), 0.75 * keys[0] + 0.25 * keys[1], atol=1e-6)
    for n in (2, 4):  # linear path for 2 keys, a cubic spline through 4
        ks = keys[:n]
        for ease in ("linear", "smooth"):
            np.testing.assert_allclose(image.interpolate(ks, 0.0, ease), ks[0], atol=1e-5)
            np.testing.assert_allclose(image.interpolate(ks, 1.0, ease), ks[-1], atol=1e-5)
            path = np.stack([image.interpolate(ks, t, ease) for t in np.linspace(0, 1, 241)])
            steps = np.linalg.norm(np.diff(path, axis=0), axis=1)
            span = np.linalg.norm(ks[-1] - ks[0])
            assert steps.max() < 0.05 * max(span, max(np.linalg.norm(k - ks[0]) for k in ks))
        # with linear ease the keys sit at t = i / (n - 1)
        for i, k in enumerate(ks):
            np.testing.assert_allclose(image.interpolate(ks, i / (n - 1), "linear"), k, atol=1e-5)
    # cubic differs from the piecewise-linear path between keys; "linear" setting forces it
    lin = StyleGAN2Image(**{**dict(image.settings), "interpolation": "linear"})
    mid_cubic, mid_lin = image.interpolate(keys, 0.5, "linear"), lin.interpolate(keys, 0.5, "linear")
    np.testing.assert_allclose(mid_lin, 0.5 * (keys[1] + keys[2]), atol=1e-5)
    assert not np.allclose(mid_cubic, mid_lin)


# --------------------------------------------------------------------------- rendering


def test_render_is_deterministic_and_covers_the_frame(image: StyleGAN2Image) -> None:
    w = image.sample(5, 0.8)
    a = image.render(w, 64, 36)
    assert a.dtype == np.uint8 and a.shape == (36, 64, 3)
    assert a.tobytes() == image.render(w, 64, 36).tobytes()
    assert image.render(w, 20, 48).shape == (48, 20, 3)
    native = image.render(w, RES, RES)
    assert native.std() > 5  # a picture, not a flat fill
    assert not np.array_equal(native, image.render(image.sample(6, 0.8), RES, RES))


def test_random_noise_is_seeded_by_the_latent(sg2: dict[str, Path]) -> None:
    b = StyleGAN2Image(**_kw(sg2, noise_mode="random"))
    w = b.sample(9)
    torch.manual_seed(0)
    a = b.render(w, RES, RES)
    torch.manual_seed(1)
    assert b.render(w, RES, RES).tobytes() == a.tobytes()
    const = StyleGAN2Image(**_kw(sg2)).render(w, RES, RES)
    assert not np.array_equal(a, const)


def test_adjacent_morph_frames_change_little(image: StyleGAN2Image) -> None:
    keys = [image.sample(s) for s in (10, 11, 12, 13)]
    frames = [image.render(image.interpolate(keys, t, "smooth"), 48, 48).astype(np.int16)
              for t in np.linspace(0, 1, 61)]
    steps = [np.abs(frames[i + 1] - frames[i]).mean() for i in range(60)]
    ends = np.abs(frames[-1] - frames[0]).mean()
    assert ends > 5 and max(steps) < 0.35 * ends


# --------------------------------------------------------------------------- portraits


def test_portrait_is_an_opaque_picture_without_latent(sg2: dict[str, Path]) -> None:
    p = StyleGAN2Portrait(**_kw(sg2))
    pt = p.portrait(p.sample(11, 0.6), 40)
    assert isinstance(pt, Portrait) and pt.image.shape == (40, 40, 4) and pt.image.dtype == np.uint8
    assert (pt.image[..., 3] == 255).all()
    assert pt.latent is None and pt.source == "generated"
    assert pt.mouth == (FFHQ_MOUTH[0] * 40, FFHQ_MOUTH[1] * 40)
    x0, y0, x1, y1 = pt.face_box
    assert x0 < pt.mouth[0] < x1 and y0 < pt.mouth[1] < y1
    again = p.portrait(p.sample(11, 0.6), 40)
    assert again.image.tobytes() == pt.image.tobytes()
    custom = StyleGAN2Portrait(**_kw(sg2, mouth=[0.4, 0.6], face_box=[0.1, 0.1, 0.9, 0.9]))
    cp = custom.portrait(custom.sample(11, 0.6), 40)
    assert cp.mouth == pytest.approx((16.0, 24.0)) and cp.face_box == pytest.approx((4.0, 4.0, 36.0, 36.0))
    with pytest.raises(BackendError, match="mouth"):
        StyleGAN2Portrait(**_kw(sg2, mouth=[0.5]))


def test_from_image_wraps_a_photo(sg2: dict[str, Path]) -> None:
    p = StyleGAN2Portrait(**_kw(sg2))
    photo = np.zeros((60, 80, 3), np.uint8)
    photo[:, 10:70] = 180
    pt = p.from_image(photo, 32, mouth=(0.5, 0.75))
    assert pt.image.shape == (32, 32, 4) and pt.latent is None and pt.source == "file"
    assert pt.mouth == pytest.approx((16.0, 24.0))


# --------------------------------------------------------------------------- glyphs


def test_alphabet_glyphs_are_seeds_and_letters_repeat(sg2: dict[str, Path]) -> None:
    g = StyleGAN2Glyphs(**_kw(sg2, polarity="light"))
    a = g.alphabet(seed=7, count=5, strokes=(1, 3))
    assert isinstance(a, Alphabet) and len(a.strokes) == 5
    assert all(len(glyph) == 1 and glyph[0].shape == (1, W_DIM) and glyph[0].dtype == np.float32
               for glyph in a.strokes)
    again = g.alphabet(seed=7, count=5, strokes=(2, 4))
    assert all(x[0].tobytes() == y[0].tobytes() for x, y in zip(a.strokes, again.strokes, strict=True))
    assert dict(a.mapping) == dict(again.mapping)
    assert a.strokes[0][0].tobytes() != g.alphabet(seed=8, count=5, strokes=(1, 3)).strokes[0][0].tobytes()
    assert g.glyph_seed(7, 0) != g.glyph_seed(7, 1)
    np.testing.assert_allclose(a.strokes[3][0][0], g.sample(g.glyph_seed(7, 3)), atol=1e-6)

    ink = (200, 30, 10)
    one = g.render_text(a, "q", height=24, ink=ink)
    two = g.render_text(a, "q q", height=24, ink=ink)
    assert one.dtype == np.uint8 and one.shape[0] == 24 and one.shape[2] == 4
    assert (one[..., :3] == np.array(ink, np.uint8)).all()
    assert one[..., 3].max() > 200 and one[..., 3].min() < 50  # ink on transparent paper
    w = one.shape[1]
    assert np.array_equal(two[:, :w, 3], one[..., 3])  # same letter, same glyph
    assert np.array_equal(two[:, -w:, 3], one[..., 3])
    wrapped = g.render_text(a, "q q q q q q", height=24, ink=ink, max_width=3 * w)
    assert wrapped.shape[0] > 24 and wrapped.shape[1] <= 3 * w
    chart = g.chart(a, cell=24, ink=(0, 0, 0), paper=(255, 255, 255))
    assert chart.dtype == np.uint8 and chart.ndim == 3 and chart.shape[2] == 3 and chart.std() > 10


def test_glyph_tiles_are_synthesised_once(sg2: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    g = StyleGAN2Glyphs(**_kw(sg2))
    a = g.alphabet(seed=3, count=4, strokes=(1, 3))
    calls = []
    real = g._synth
    monkeypatch.setattr(g, "_synth", lambda w: calls.append(1) or real(w))
    g.render_text(a, "abc abc cab", height=20, ink=(0, 0, 0))
    first = len(calls)
    assert 1 <= first <= 3
    g.render_text(a, "abc bca", height=32, ink=(0, 0, 0))  # a new height reuses the images
    g.chart(a, cell=20, ink=(0, 0, 0), paper=(255, 255, 255))
    assert len(calls) == 4  # each of the 4 glyphs once


def test_foreign_alphabet_is_refused(sg2: dict[str, Path]) -> None:
    from nyeshc.backends.procedural.glyphs import StrokeGlyphs

    g = StyleGAN2Glyphs(**_kw(sg2))
    with pytest.raises(BackendError, match="not made by glyphs.stylegan2"):
        g.render_text(StrokeGlyphs().alphabet(seed=1, count=4, strokes=(1, 2)), "ab", height=16, ink=(0, 0, 0))


# --------------------------------------------------------------------------- the command line


FILM = """\
title: "StyleGAN2 stand-in"
canvas: 128x72, 12fps
seed: 3

alphabet GLYPHS:
    glyphs: 4
    seed: 7
    ink: #efe6d2

look DUSK:
    image: generate, seed 42, truncation 0.7
look SEA:
    image: generate, seed 77

character ANNA:
    portrait: generate, seed 11, truncation 0.6
    voice: asemic
    motion: lipsync

SCENE 1 "One", 2s:
    backdrop: morph DUSK -> seed 5 -> SEA -> seed 9, ease smooth
    caption: GLYPHS "nyesh", at 0s, for 1s, center
    ANNA, at 0s, medium, right:
        "La."
"""


@pytest.mark.slow
def test_cli_renders_a_film_with_profile_full(sg2: dict[str, Path], tmp_path: Path) -> None:
    import imageio_ffmpeg

    from nyeshc.cli import main

    script = tmp_path / "film.nysh"
    script.write_text(FILM, encoding="utf-8")
    toml = []
    for modality, backend in (("image", "image.stylegan2"), ("portrait", "portrait.stylegan2"),
                              ("glyphs", "glyphs.stylegan2")):
        toml += [f"[profile.full.{modality}]", f'backend = "{backend}"',
                 f'checkout = "{sg2["checkout"].as_posix()}"', f'checkpoint = "{sg2["pkl"].as_posix()}"',
                 f"w_dim = {W_DIM}", 'device = "cpu"', ""]
    (tmp_path / "nysh.toml").write_text("\n".join(toml), encoding="utf-8")
    out = tmp_path / "out.mp4"
    assert main([str(script), "-o", str(out), "-q", "--profile", "full", "--cache", str(tmp_path / "cache")]) == 0
    lock = (tmp_path / "film.nysh.lock").read_text(encoding="utf-8")
    assert "image.stylegan2" in lock and "portrait.stylegan2" in lock and "checkpoint_sha256" in lock
    raw = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-i", str(out), "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    frames = np.frombuffer(raw, np.uint8).reshape(-1, 72, 128, 3)
    assert len(frames) == 24
    steps = np.abs(np.diff(frames.astype(np.int16), axis=0)).mean(axis=(1, 2, 3))
    assert frames.std() > 10 and steps.max() > 0.5  # a moving picture, not a flat or frozen frame


BLENDS = """\
canvas: 128x72, 8fps

look P:
    image: blend(seed 5, seed 23, 0.35)
look Q:
    image: blend(P, seed 9, 0.5)
look R:
    image: blend(seed 40, seed 41)

character ANNA:
    portrait: blend(seed 2, P, 0.5)
    motion: still

SCENE 1, 2s:
    backdrop: morph P -> seed 17 -> Q
    ANNA, right:
        (still)

MORPH TO: 1s

SCENE 2, 2s:
    backdrop: R
"""


def _full_profile(sg2: dict[str, Path], folder: Path) -> None:
    toml = []
    for modality, backend in (("image", "image.stylegan2"), ("portrait", "portrait.stylegan2")):
        toml += [f"[profile.full.{modality}]", f'backend = "{backend}"',
                 f'checkout = "{sg2["checkout"].as_posix()}"', f'checkpoint = "{sg2["pkl"].as_posix()}"',
                 f"w_dim = {W_DIM}", 'device = "cpu"', ""]
    (folder / "nysh.toml").write_text("\n".join(toml), encoding="utf-8")


@pytest.mark.slow
def test_blended_looks_morph_in_w_space(sg2: dict[str, Path], tmp_path: Path) -> None:
    """Issue #23 with StyleGAN2: blended looks (W-space mixes, a blend of a blend), a morph
    through a blend, a MORPH TO between two blends and a portrait blended with a look render a
    moving, non-black picture."""
    import imageio_ffmpeg

    from nyeshc.cli import main

    script = tmp_path / "film.nysh"
    script.write_text(BLENDS, encoding="utf-8")
    _full_profile(sg2, tmp_path)
    out = tmp_path / "out.mp4"
    assert main([str(script), "-o", str(out), "-q", "--profile", "full", "--cache", str(tmp_path / "cache")]) == 0
    raw = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-i", str(out), "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    frames = np.frombuffer(raw, np.uint8).reshape(-1, 72, 128, 3).astype(np.int16)
    assert len(frames) == 24
    assert all(f.std() > 5 for f in frames), "a flat (black) frame"
    backdrop = frames[:, :, :40]  # left of the portrait (right side)
    assert np.abs(backdrop[0] - backdrop[7]).mean() > 2  # the morph P -> seed 17 -> Q moves
    assert np.abs(backdrop[8] - backdrop[15]).mean() > 2  # MORPH TO Q -> R moves
    assert np.abs(backdrop[16] - backdrop[23]).mean() < 1  # R holds


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu_and_is_deterministic(sg2: dict[str, Path], image: StyleGAN2Image) -> None:
    gpu = StyleGAN2Image(**_kw(sg2, device="cuda"))
    assert gpu.cost.device == "gpu"
    w = gpu.sample(21, 0.7)
    np.testing.assert_allclose(w, image.sample(21, 0.7), atol=1e-4)
    a = gpu.render(w, 48, 48)
    assert a.tobytes() == gpu.render(w, 48, 48).tobytes()
    assert np.abs(a.astype(np.int16) - image.render(w, 48, 48).astype(np.int16)).max() <= 2
    fp16 = StyleGAN2Image(**_kw(sg2, device="cuda", fp16=True))
    assert fp16.render(w, 48, 48).shape == (48, 48, 3)
