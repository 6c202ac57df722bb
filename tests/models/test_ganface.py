"""image.ganface / portrait.ganface with the real pretrained weights of the gan-face-generate wheel.

Skipped unless torch and the package are installed (``pip install --no-deps gan-face-generate==1.1.1``).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("gan_face_generate")

from nyeshc.backends import registry  # noqa: E402
from nyeshc.backends.base import BackendError, ImageBackend, Portrait, PortraitBackend  # noqa: E402
from nyeshc.backends.models import ganface  # noqa: E402
from nyeshc.backends.models.ganface import NZ, PIP_LINE, GanFaceImage, GanFacePortrait  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def image() -> GanFaceImage:
    return GanFaceImage(device="cpu")


def _mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def test_protocols_settings_and_the_weights_hash(image: GanFaceImage) -> None:
    por = registry.load("portrait.ganface", {"device": "cpu"})
    assert isinstance(image, ImageBackend) and isinstance(por, PortraitBackend)
    assert image.latent_dim == por.latent_dim == NZ
    s = dict(image.settings)
    json.dumps(s)
    assert s["weights_sha256"] == hashlib.sha256(image.weights.read_bytes()).hexdigest()
    assert image.weights.name == "weights.tar" and "gan_face_generate" in image.weights.parts
    assert GanFaceImage(**s).settings == s
    assert GanFacePortrait(**dict(por.settings)).settings == por.settings
    with pytest.raises(BackendError, match="changed since the film was planned"):
        GanFaceImage(**{**s, "weights_sha256": "0" * 64})


def test_errors_name_the_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(BackendError, match=r"\[profile.<name>.image\] weights"):
        GanFaceImage(weights=str(tmp_path / "nope.tar"))
    bad = tmp_path / "bad.tar"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(BackendError, match="could not load the generator weights"):
        GanFaceImage(weights=str(bad), device="cpu").render(np.zeros(NZ, np.float32), 8, 8)
    with pytest.raises(BackendError, match="unknown setting"):
        GanFaceImage(truncation=0.5)
    monkeypatch.setattr(ganface.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(BackendError, match=PIP_LINE.replace(".", r"\.")):
        GanFaceImage()


def test_deterministic(image: GanFaceImage) -> None:
    z = image.sample(5)
    assert z.dtype == np.float32 and z.shape == (NZ,)
    assert z.tobytes() == image.sample(5).tobytes()
    assert not np.allclose(z, image.sample(6))
    np.testing.assert_allclose(image.sample(5, 0.5), 0.5 * z, atol=1e-6)
    a = image.render(z, 96, 54)
    assert a.dtype == np.uint8 and a.shape == (54, 96, 3)
    assert a.tobytes() == image.render(z, 96, 54).tobytes()
    assert a.tobytes() == GanFaceImage(device="cpu").render(z, 96, 54).tobytes()


def test_faces_are_not_noise(image: GanFaceImage) -> None:
    faces = np.stack([image.render(image.sample(s), 64, 64) for s in range(12)]).astype(np.float32)
    g = faces @ np.array([0.299, 0.587, 0.114], np.float32)
    rng = np.random.default_rng(0)
    for f in g:
        neighbour = np.abs(np.diff(f, axis=1)).mean()
        shuffled = rng.permutation(f.ravel()).reshape(f.shape)
        assert neighbour < 0.35 * np.abs(np.diff(shuffled, axis=1)).mean()  # smooth, spatially coherent
        assert f.std() > 12  # not a flat fill
    # faces are mirror-symmetric on average (single ones are lit from a side; noise scores ~0)
    mean = g.mean(0)
    assert np.corrcoef(mean[:, 8:56].ravel(), mean[:, 8:56][:, ::-1].ravel())[0, 1] > 0.4
    # the mean face has its mouth as a dark band below the cheeks, where the portrait says it is
    my = int(round(ganface.GANFACE_MOUTH[1] * 64))
    assert mean[my - 1:my + 2, 26:38].mean() < mean[my - 10:my - 6, 26:38].mean() - 5
    # different seeds give different faces
    assert min(_mad(faces[i], faces[j]) for i in range(12) for j in range(i)) > 5


def test_morph_is_continuous(image: GanFaceImage) -> None:
    a, b = image.sample(1), image.sample(2)
    np.testing.assert_allclose(image.interpolate([a, b], 0.0), a, atol=1e-5)
    np.testing.assert_allclose(image.interpolate([a, b], 1.0), b, atol=1e-5)
    mid = image.blend(a, b, 0.5)
    assert abs(np.linalg.norm(mid) - 0.5 * (np.linalg.norm(a) + np.linalg.norm(b))) < 0.1 * np.linalg.norm(a)
    frames = [image.render(image.interpolate([a, image.sample(3), b], t, "smooth"), 64, 64) for t in np.linspace(0, 1, 49)]
    steps = [_mad(frames[i], frames[i + 1]) for i in range(48)]
    ends = _mad(frames[0], frames[-1])
    assert ends > 10 and max(steps) < 0.25 * ends


def test_portrait_is_an_opaque_face_without_latent() -> None:
    p = GanFacePortrait(device="cpu")
    pt = p.portrait(p.sample(11, 0.8), 80)
    assert isinstance(pt, Portrait) and pt.image.shape == (80, 80, 4) and pt.image.dtype == np.uint8
    assert (pt.image[..., 3] == 255).all() and pt.latent is None and pt.source == "generated"
    assert pt.mouth == pytest.approx((40.0, 64.0))
    x0, y0, x1, y1 = pt.face_box
    assert x0 < pt.mouth[0] < x1 and y0 < pt.mouth[1] < y1
    assert p.portrait(p.sample(11, 0.8), 80).image.tobytes() == pt.image.tobytes()
    photo = np.full((50, 70, 3), 90, np.uint8)
    filed = p.from_image(photo, 32, mouth=(0.5, 0.7))
    assert filed.image.shape == (32, 32, 4) and filed.latent is None and filed.source == "file"


FILM = """\
title: "GAN faces"
canvas: 128x72, 12fps
seed: 4

look A:
    image: generate, seed 42, truncation 0.8
look B:
    image: generate, seed 7

character ANNA:
    portrait: generate, seed 11, truncation 0.7
    voice: asemic
    motion: lipsync

SCENE 1 "One", 2s:
    backdrop: morph A -> seed 5 -> B, ease smooth
    ANNA, at 0s, medium, right:
        "La la."
"""


@pytest.mark.slow
def test_cli_renders_a_film_with_gan_faces(tmp_path: Path) -> None:
    import imageio_ffmpeg

    from nyeshc.cli import main

    script = tmp_path / "film.nysh"
    script.write_text(FILM, encoding="utf-8")
    (tmp_path / "nysh.toml").write_text(
        '[profile.faces.image]\nbackend = "image.ganface"\ndevice = "cpu"\n\n'
        '[profile.faces.portrait]\nbackend = "portrait.ganface"\ndevice = "cpu"\n', encoding="utf-8")
    out = tmp_path / "out.mp4"
    assert main([str(script), "-o", str(out), "-q", "--profile", "faces", "--cache", str(tmp_path / "cache")]) == 0
    lock = (tmp_path / "film.nysh.lock").read_text(encoding="utf-8")
    assert "image.ganface" in lock and "portrait.ganface" in lock and "weights_sha256" in lock
    ff = imageio_ffmpeg.get_ffmpeg_exe()
    probe = subprocess.run([ff, "-hide_banner", "-i", str(out)], capture_output=True, text=True).stderr
    assert "Video: h264" in probe and "128x72" in probe
    raw = subprocess.run([ff, "-loglevel", "error", "-i", str(out), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True).stdout
    frames = np.frombuffer(raw, np.uint8).reshape(-1, 72, 128, 3).astype(np.int16)
    assert len(frames) == 24
    steps = np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2, 3))
    assert frames.std() > 10 and 0.2 < steps.max() < 40  # the backdrop morphs, without jumps


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(image: GanFaceImage) -> None:
    gpu = GanFaceImage(device="cuda")
    assert gpu.cost.device == "gpu"
    z = gpu.sample(3)
    a = gpu.render(z, 64, 64)
    assert a.tobytes() == gpu.render(z, 64, 64).tobytes()
    assert np.abs(a.astype(np.int16) - image.render(z, 64, 64).astype(np.int16)).max() <= 2
