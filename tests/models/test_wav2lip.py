"""The Wav2Lip adapter (``motion.wav2lip``) with a stand-in network and checkpoints of our own.

The audio front end (mel spectrogram, window per frame) and the resize are checked against
numbers computed from the real code (Wav2Lip's ``audio.py``; OpenCV's ``cv2.resize``), the
network plumbing against the stand-in in ``wav2lip_fakes``, and the whole path through the
command line with a tiny film.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from wav2lip_fakes import (
    NETWORK,
    decode_video,
    make_state_dict,
    probe,
    save_original_checkpoint,
    save_plain_checkpoint,
    test_wave,
    write_checkout,
    write_lipsync_package,
)

from nyeshc.backends.base import SAMPLE_RATE, BackendError, MotionBackend, Portrait
from nyeshc.backends.models import wav2lip as w2l
from nyeshc.backends.models.wav2lip import (
    Wav2LipMotion,
    mel_filters,
    mel_starts,
    melspectrogram,
    resize_linear,
    to_16k,
)

# --------------------------------------------------------------------------- audio (no torch)

# Values of librosa.filters.mel(16000, 800, n_mels=80, fmin=55, fmax=7600), the bank Wav2Lip's
# audio.py builds; read from librosa 0.9.2 in a scratch venv (max |ours - librosa| was 0.0).
MEL_BANK_REF = [(79, 376, 0.0010652032), (79, 379, 0.0002663008), (0, 1, 0.0), (40, 80, 0.0)]

# Wav2Lip's own audio.melspectrogram(test_wave(0.5)) — the real audio.py + hparams.py from
# github.com/Rudrabha/Wav2Lip run in a scratch venv with librosa 0.9.2, its librosa.stft set to
# librosa 0.7.0's defaults (pad_mode="reflect", dtype=complex64; Wav2Lip pins librosa==0.7.0).
# Our implementation matched that to 7.4e-7 over several signals. (row, column, value):
MEL_REF = [
    (50, 0, 1.9998412132263184), (43, 0, -0.8913516998291016),
    (50, 1, 2.0123462677001953), (43, 1, -1.3724682331085205),
    (43, 2, -4.0),
    (50, 10, 1.9647984504699707),
    (50, 23, 2.0070347785949707), (43, 23, -1.4846093654632568),
    (50, 24, 1.8341965675354004), (43, 24, -1.0019898414611816),
    (23, 36, 2.4715356826782227), (14, 36, 0.2604241371154785),
    (23, 37, 2.701477527618408), (14, 37, -0.22025775909423828),
    (23, 39, 2.7504210472106934), (14, 39, 0.16472578048706055),
    (23, 40, 2.845153331756592), (14, 40, 0.640779972076416),
]
MEL_REF_SUM = -9635.510886669159  # the sum of all 80 x 41 values
MEL_REF_CLIPPED = 2175  # values at the -4 floor


def test_mel_filter_bank_matches_librosa() -> None:
    bank = mel_filters()
    assert bank.shape == (80, 401) and bank.dtype == np.float32
    for r, c, v in MEL_BANK_REF:
        assert bank[r, c] == pytest.approx(v, abs=1e-9)
    # Slaney normalisation: each triangle has area 2 / bandwidth -> rows are not all equal height
    assert np.all(bank >= 0) and np.all(bank.sum(axis=1) > 0)
    assert bank[:, 0].sum() == 0  # 0 Hz is below fmin = 55 Hz


def test_melspectrogram_matches_wav2lip_audio_py() -> None:
    mel = melspectrogram(test_wave(0.5))
    assert mel.shape == (80, 41)  # 1 + 8000 // 200 columns (centred STFT)
    for r, c, v in MEL_REF:
        assert mel[r, c] == pytest.approx(v, abs=1e-5), (r, c)
    assert float(mel.sum()) == pytest.approx(MEL_REF_SUM, abs=1e-2)
    assert int((mel <= -4).sum()) == MEL_REF_CLIPPED


def test_mel_of_silence_is_the_floor_and_shapes_follow_the_hop() -> None:
    for n in (3000, 3199, 3200, 16000):
        mel = melspectrogram(np.zeros(n))
        assert mel.shape == (80, 1 + n // 200)
        assert np.all(mel == -4.0)
    loud = melspectrogram(np.sin(np.arange(16000) * 2 * np.pi * 440 / 16000))
    assert loud.max() <= 4.0 and loud.max() > 0


def test_to_16k_resamples_and_pads_to_one_window() -> None:
    sec = np.sin(np.arange(SAMPLE_RATE) * 2 * np.pi * 300 / SAMPLE_RATE).astype(np.float32)[:, None]
    w = to_16k(sec)
    assert w.shape == (16000,)
    ref = np.sin(np.arange(16000) * 2 * np.pi * 300 / 16000)
    assert np.abs(w[200:-200] - ref[200:-200]).max() < 1e-3  # same tone, a third of the samples
    short = to_16k(np.zeros((30, 1), np.float32))
    assert len(short) == 3000 and melspectrogram(short).shape[1] == 16
    with pytest.raises(BackendError, match="NaN"):
        to_16k(np.full((100, 1), np.nan, np.float32))


def _inference_py_windows(n_mels: int, fps: float) -> list[int]:
    """inference.py's loop, transcribed: the start of each mel chunk, last one clamped."""
    starts, i, mult = [], 0, 80.0 / fps
    while True:
        start_idx = int(i * mult)
        if start_idx + 16 > n_mels:
            starts.append(n_mels - 16)
            break
        starts.append(start_idx)
        i += 1
    return starts


@pytest.mark.parametrize("fps", [12.0, 24.0, 25.0, 30000 / 1001, 30.0, 60.0])
@pytest.mark.parametrize("n_mels", [16, 17, 81, 241, 1000])
def test_mel_windows_per_frame_follow_inference_py(fps: float, n_mels: int) -> None:
    ref = _inference_py_windows(n_mels, fps)
    frames = len(ref) + 5  # frames past inference.py's last chunk keep the clamped window
    got = mel_starts(n_mels, fps, frames)
    assert got.tolist() == ref + [n_mels - 16] * 5


def test_mel_windows_need_one_window() -> None:
    with pytest.raises(BackendError, match="fewer than one window"):
        mel_starts(15, 25.0, 3)


def test_resize_matches_opencv_inter_linear() -> None:
    # outputs of cv2.resize (OpenCV 5.0.0, INTER_LINEAR) on these inputs, computed in a scratch venv
    row = np.array([[0, 100, 200, 255]], np.uint8)[:, :, None].repeat(3, axis=2)
    assert resize_linear(row, 2, 1)[..., 0].tolist() == [[50, 228]]
    assert resize_linear(row, 8, 1)[..., 0].tolist() == [[0, 25, 75, 125, 175, 214, 241, 255]]
    assert resize_linear(row, 3, 1)[..., 0].tolist() == [[17, 150, 246]]
    two = np.array([[0, 100]], np.uint8)[:, :, None].repeat(3, axis=2)
    assert resize_linear(two, 4, 1)[..., 0].tolist() == [[0, 25, 75, 100]]
    grid = (np.arange(25, dtype=np.uint8).reshape(5, 5) * 10)[:, :, None].repeat(3, axis=2)
    assert resize_linear(grid, 3, 2)[..., 0].tolist() == [[41, 58, 74], [166, 183, 199]]
    same = np.random.default_rng(0).integers(0, 256, (7, 5, 3), dtype=np.uint8)
    assert np.array_equal(resize_linear(same, 5, 7), same)


# --------------------------------------------------------------------------- the backend

try:
    import torch
except ImportError:  # the audio tests above run without it; the backend's tests skip
    torch = None  # type: ignore[assignment]

HAS_CUDA = torch is not None and torch.cuda.is_available()


def _drop_modules(prefixes: tuple[str, ...]) -> None:
    for name in list(sys.modules):
        if name.split(".")[0] in prefixes:
            del sys.modules[name]


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """One fake checkout per module (its package is named ``models``, as in Wav2Lip, and can be
    imported from one place per process), plus checkpoints in the original's format."""
    pytest.importorskip("torch")
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("w2l")
    checkout = write_checkout(root / "Wav2Lip")
    ckpt = save_original_checkpoint(root / "wav2lip_gan.pth", seed=0)
    other = save_original_checkpoint(root / "wav2lip.pth", seed=1)
    yield {"root": root, "checkout": checkout, "checkpoint": ckpt, "other": other}
    _drop_modules(("models",))
    resolved = str(checkout.resolve())
    while resolved in sys.path:
        sys.path.remove(resolved)


def _backend(fake: dict[str, Path], **kw: object) -> Wav2LipMotion:
    settings: dict[str, object] = {"checkout": str(fake["checkout"]), "checkpoint": str(fake["checkpoint"]),
                                   "device": "cpu", "detector": "portrait"}
    settings.update(kw)
    return Wav2LipMotion(**settings)  # type: ignore[arg-type]


S = 64
BOX = (16, 12, 48, 50)  # the portrait's own face box (pixels)


def _portrait() -> Portrait:
    yy, xx = np.mgrid[0:S, 0:S]
    img = np.zeros((S, S, 4), np.uint8)
    img[..., 0] = (xx * 4) % 256
    img[..., 1] = (yy * 4) % 256
    img[..., 2] = ((xx + yy) * 2) % 256
    img[..., 3] = np.where((xx - 32) ** 2 + (yy - 32) ** 2 < 30 ** 2, 255, 40)
    return Portrait(image=img, mouth=(32.0, 42.0), face_box=tuple(float(v) for v in BOX))


def _voice(seconds: float) -> np.ndarray:
    """Speech-like sound in the first half, silence after (float32 (N, 1) at 48 kHz)."""
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    v = 0.4 * np.sin(2 * np.pi * 220 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    v[n // 2:] = 0
    return v.astype(np.float32)[:, None]


def _stand_in(seed: int = 0):  # noqa: ANN202
    scope: dict[str, object] = {}
    exec(compile(NETWORK, "<stand-in>", "exec"), scope)  # noqa: S102
    net = scope["Wav2Lip"]()  # type: ignore[operator]
    net.load_state_dict(make_state_dict(seed))
    return net.eval()


def test_is_a_motion_backend_and_settings_name_the_checkpoint(fake: dict[str, Path]) -> None:
    b = _backend(fake)
    assert isinstance(b, MotionBackend)
    s = b.settings
    assert s["checkout"] == str(fake["checkout"])
    assert len(s["checkpoint_sha256"]) == 64
    assert s["pads"] == [0, 10, 0, 0] and s["batch_size"] == 128 and s["detector"] == "portrait"
    assert _backend(fake, checkpoint=str(fake["other"])).settings["checkpoint_sha256"] != s["checkpoint_sha256"]
    assert b._net is None  # the constructor loads no network
    # the executor rebuilds the backend from these settings: they must round-trip, and go stale
    again = Wav2LipMotion(**dict(s))
    assert dict(again.settings) == dict(s)
    with pytest.raises(BackendError, match="changed since the film was planned"):
        Wav2LipMotion(**{**dict(s), "checkpoint_sha256": "0" * 64})
    with pytest.raises(BackendError, match="changed since the film was planned"):
        Wav2LipMotion(**{**dict(s), "code_sha256": "0" * 64})
    with pytest.raises(BackendError, match=r"unknown setting\(s\) wav2lip_batch_size"):
        Wav2LipMotion(**{**dict(s), "wav2lip_batch_size": 4})
    import torch

    # "auto" plans GPU jobs only where torch sees a GPU; the network runs at 96² whatever the shot
    auto = _backend(fake, device="auto").cost
    assert b.cost.device == "cpu" and auto.device == ("gpu" if torch.cuda.is_available() else "cpu")
    assert not b.cost.scale_by_pixels
    assert b.cost.estimate(frames=10, pixels=68 * 68) == b.cost.estimate(frames=10, pixels=512 * 512) > 3


def test_registry_loads_it(fake: dict[str, Path]) -> None:
    from nyeshc.backends import registry

    b = registry.load("motion.wav2lip", {"checkout": str(fake["checkout"]), "checkpoint": str(fake["checkpoint"]),
                                         "device": "cpu", "pads": [0, 4, 0, 0], "face_box": [0.2, 0.2, 0.8, 0.8]})
    assert isinstance(b, Wav2LipMotion) and b.settings["pads"] == [0, 4, 0, 0]
    assert b.settings["face_box"] == [0.2, 0.2, 0.8, 0.8] and b.settings["face_detector"] == "face_box"


def test_lipsync_paste_back_region_alpha_and_determinism(fake: dict[str, Path]) -> None:
    b = _backend(fake, batch_size=7)
    p = _portrait()
    voice = _voice(2.0)
    fps, n = 12.0, 24
    ticks: list[float] = []
    out = np.zeros((n, S, S, 4), np.uint8)
    got = b.lipsync(p, voice, fps, n, seed=5, progress=ticks.append, out=out)
    assert got is out
    x0, y0, x1, y1 = BOX[0], BOX[1], BOX[2], min(S, BOX[3] + 10)  # pads: 10 px below the chin
    assert b.box(p) == (x0, y0, x1, y1)
    outside = np.ones((S, S), bool)
    outside[y0:y1, x0:x1] = False
    for f in out:
        assert np.array_equal(f[outside], p.image[outside])  # untouched outside the box
        assert np.array_equal(f[..., 3], p.image[..., 3])  # alpha kept
    assert not np.array_equal(out[0, y0:y1, x0:x1, :3], p.image[y0:y1, x0:x1, :3])
    # the voice drives the box: speech (first half) and silence (second half) frames differ,
    # and frames whose mel windows are all silence are identical
    assert not np.array_equal(out[2], out[n - 1])
    assert np.array_equal(out[n - 2], out[n - 1])
    assert ticks == sorted(ticks) and ticks[-1] == 1.0 and len(ticks) == 4  # ceil(24 / 7) batches
    # determinism: same arguments, same bytes (another seed too: Wav2Lip has no randomness)
    again = b.lipsync(p, voice, fps, n, seed=6)
    assert np.array_equal(again, out)
    fresh = _backend(fake, batch_size=7).lipsync(p, voice, fps, n, seed=5)
    assert np.array_equal(fresh, out)


def test_each_frame_is_the_network_on_its_own_mel_window(fake: dict[str, Path]) -> None:
    b = _backend(fake, batch_size=5)
    p = _portrait()
    voice = _voice(1.5)
    fps, n = 25.0, 30
    out = b.lipsync(p, voice, fps, n, seed=0)
    mel = melspectrogram(to_16k(voice))
    starts = mel_starts(mel.shape[1], fps, n)
    assert starts[:4].tolist() == [0, 3, 6, 9]  # int(i * 80 / 25)
    x0, y0, x1, y1 = b.box(p)
    # the face input built by hand: BGR crop, 96x96, lower half blanked, with the unmasked crop
    face = resize_linear(p.image[y0:y1, x0:x1, :3][..., ::-1], 96, 96)
    masked = face.copy()
    masked[48:] = 0
    img = torch.from_numpy((np.concatenate([masked, face], axis=2) / 255.0).astype(np.float32).transpose(2, 0, 1))
    net = _stand_in(0)
    for i in (0, 7, 29):
        for start, expect_equal in ((starts[i], True), (starts[i] + 2, False)):
            m = torch.from_numpy(mel[:, start:start + 16].astype(np.float32))[None, None]
            with torch.no_grad():
                pred = net(m, img[None])[0].numpy().transpose(1, 2, 0)
            patch = resize_linear((pred * 255.0).astype(np.uint8)[..., ::-1], x1 - x0, y1 - y0)
            same = np.array_equal(out[i, y0:y1, x0:x1, :3], patch)
            if expect_equal:
                assert same, f"frame {i} is not the network's output on mel[:, {start}:{start + 16}]"
            elif i < 20:  # before the voice falls silent, a neighbouring window gives another mouth
                assert not same, f"frame {i} does not depend on its mel window"


def test_face_box_setting_and_pads(fake: dict[str, Path]) -> None:
    p = _portrait()
    b = _backend(fake, face_box=[0.25, 0.25, 0.75, 0.5], pads=[2, 3, 4, 5])
    assert b.box(p) == (16 - 4, 16 - 2, 48 + 5, 32 + 3)
    out = b.lipsync(p, _voice(1.0), 12.0, 6, seed=0)
    x0, y0, x1, y1 = b.box(p)
    mask = np.ones((S, S), bool)
    mask[y0:y1, x0:x1] = False
    assert all(np.array_equal(f[mask], p.image[mask]) for f in out)
    assert b.settings["face_detector"] == "face_box"
    clamped = _backend(fake, face_box=[0.0, 0.0, 1.0, 1.0])
    assert clamped.box(p) == (0, 0, S, S)


def test_zero_frames_and_buffer_checks(fake: dict[str, Path]) -> None:
    b = _backend(fake)
    p = _portrait()
    assert b.lipsync(p, _voice(0.5), 12.0, 0, seed=0).shape == (0, S, S, 4)
    with pytest.raises(BackendError, match="out must be uint8"):
        b.lipsync(p, _voice(0.5), 12.0, 3, seed=0, out=np.zeros((2, S, S, 4), np.uint8))
    with pytest.raises(BackendError, match="fps must be > 0"):
        b.lipsync(p, _voice(0.5), 0.0, 3, seed=0)
    # a voice shorter than the shot: the last window is clamped, as in inference.py
    short = b.lipsync(p, _voice(0.1), 12.0, 10, seed=0)
    assert np.array_equal(short[-1], short[-2])


def test_mouth_blends_the_synced_face_with_the_portrait(fake: dict[str, Path]) -> None:
    """`motion: lipsync, mouth X`: 1 is Wav2Lip's frame, 0 the portrait (the network not even
    run), 0.5 halfway (each box pixel rounded), 2 the lower half's change doubled (clipped)."""
    p, voice, fps, n = _portrait(), _voice(2.0), 12.0, 12
    b = _backend(fake, batch_size=5)
    synced = b.lipsync(p, voice, fps, n, seed=0)
    assert np.array_equal(b.lipsync(p, voice, fps, n, seed=0, mouth=1.0), synced)
    zero = _backend(fake)
    ticks: list[float] = []
    closed = zero.lipsync(p, voice, fps, n, seed=0, progress=ticks.append, mouth=0)
    assert all(np.array_equal(f, p.image) for f in closed) and zero._net is None and ticks == [1.0]
    x0, y0, x1, y1 = b.box(p)
    h, w = y1 - y0, x1 - x0
    orig = p.image[y0:y1, x0:x1, :3].astype(np.float64)
    full = synced[:, y0:y1, x0:x1, :3].astype(np.float64)
    half = b.lipsync(p, voice, fps, n, seed=0, mouth=0.5)
    assert np.array_equal(half[:, y0:y1, x0:x1, :3], np.clip(np.rint(orig + 0.5 * (full - orig)), 0, 255))
    outside = np.ones((S, S), bool)
    outside[y0:y1, x0:x1] = False
    for frames in (half, b.lipsync(p, voice, fps, n, seed=0, mouth=2.0)):
        assert all(np.array_equal(f[outside], p.image[outside]) and np.array_equal(f[..., 3], p.image[..., 3])
                   for f in frames)
    wide = b.lipsync(p, voice, fps, n, seed=0, mouth=2.0)[:, y0:y1, x0:x1, :3].astype(np.float64)
    # the upper face is Wav2Lip's own; the middle of the lower half takes twice the change, clipped
    top = slice(0, int(0.4 * h))
    assert np.array_equal(wide[:, top], full[:, top])
    core = (slice(int(0.6 * h) + 1, int(0.88 * h) - 1), slice(int(0.12 * w) + 1, int(0.88 * w) - 1))
    want = np.clip(np.rint(orig[core] + 2.0 * (full[:, core[0], core[1]] - orig[core])), 0, 255)
    assert np.array_equal(wide[:, core[0], core[1]], want)
    # (the random stand-in redraws the box far from the portrait, so much of that clips at 0 or
    # 255; a trained network changes little but the mouth, and the doubling shows)
    lower = slice(h // 2, h)
    assert np.abs(wide[:, lower] - orig[lower]).mean() > np.abs(full[:, lower] - orig[lower]).mean()


def test_mouth_weights_and_range() -> None:
    assert np.all(w2l.mouth_weights(0.25, 10, 8) == np.float32(0.25))
    assert np.all(w2l.mouth_weights(1.0, 10, 8) == 1.0)
    wide = w2l.mouth_weights(2.0, 50, 40)[..., 0]
    assert wide.shape == (50, 40) and wide[:20].max() == 1.0 and wide[35, 20] == pytest.approx(2.0)
    assert wide[-1].max() < 1.05 and wide[:, 0].max() < 1.05 and wide.max() <= 2.0


@pytest.mark.parametrize("bad", [-0.5, 2.5, float("nan"), True])
def test_mouth_outside_0_to_2_is_an_error_naming_it(fake: dict[str, Path], bad: object) -> None:
    with pytest.raises(BackendError, match=r"`mouth` must be a number from 0 to 2"):
        _backend(fake).lipsync(_portrait(), _voice(0.5), 12.0, 2, seed=0, mouth=bad)  # type: ignore[arg-type]


def test_still_is_the_portrait_and_drive_names_the_fix(fake: dict[str, Path]) -> None:
    b = _backend(fake)
    p = _portrait()
    out = np.zeros((4, S, S, 4), np.uint8)
    assert b.still(p, 12.0, 4, seed=1, out=out) is out
    assert all(np.array_equal(f, p.image) for f in out)
    with pytest.raises(BackendError) as err:
        b.drive(p, np.zeros((3, 32, 32, 3), np.uint8), 12.0, None, 12.0, 3, seed=0)
    assert '[profile.<name>.drive] backend = "motion.fomm"' in str(err.value)
    assert "motion.procedural" in str(err.value)


def test_errors_name_the_setting(fake: dict[str, Path], tmp_path: Path) -> None:
    ck = str(fake["checkpoint"])
    with pytest.raises(BackendError, match=r"\[profile\.<name>\.motion\] checkout"):
        Wav2LipMotion(checkpoint=ck)
    with pytest.raises(BackendError, match="is not a folder"):
        Wav2LipMotion(checkout=str(tmp_path / "nope"), checkpoint=ck)
    (tmp_path / "empty").mkdir()
    with pytest.raises(BackendError, match="missing models/__init__.py, models/wav2lip.py"):
        Wav2LipMotion(checkout=str(tmp_path / "empty"), checkpoint=ck)
    with pytest.raises(BackendError, match=r"\[profile\.<name>\.motion\] checkpoint"):
        Wav2LipMotion(checkout=str(fake["checkout"]))
    with pytest.raises(BackendError, match="does not exist"):
        Wav2LipMotion(checkout=str(fake["checkout"]), checkpoint=str(tmp_path / "missing.pth"))
    with pytest.raises(BackendError, match="not both"):
        Wav2LipMotion(checkout=str(fake["checkout"]), package="lipsync", checkpoint=ck)
    with pytest.raises(BackendError, match="not supported"):
        Wav2LipMotion(package="wav2lip-hq", checkpoint=ck)
    with pytest.raises(BackendError, match=r"motion\] face_box must be \[x0, y0, x1, y1\]"):
        _backend(fake, face_box=[0.5, 0.5, 0.2, 0.9])
    with pytest.raises(BackendError, match="batch_size"):
        _backend(fake, batch_size=0)
    with pytest.raises(BackendError, match="pads"):
        _backend(fake, pads=[0, 10])
    with pytest.raises(BackendError, match="detector"):
        _backend(fake, detector="s3fd")
    with pytest.raises(BackendError, match="device"):
        _backend(fake, device="tpu")


def test_lipsync_package_is_not_installed_here(fake: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "lipsync" else real(name, *a))
    with pytest.raises(BackendError, match="pip install lipsync"):
        Wav2LipMotion(package="lipsync", checkpoint=str(fake["checkpoint"]))


def test_bad_checkpoints_are_named(fake: dict[str, Path], tmp_path: Path) -> None:
    p = _portrait()
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(BackendError, match="could not load the checkpoint"):
        _backend(fake, checkpoint=str(junk)).lipsync(p, _voice(0.5), 12.0, 2, seed=0)
    wrong = tmp_path / "lipsync_expert.pth"
    torch.save({"state_dict": {"module.face_encoder.0.weight": torch.zeros(3)}}, wrong)
    with pytest.raises(BackendError, match="not a Wav2Lip generator checkpoint"):
        _backend(fake, checkpoint=str(wrong)).lipsync(p, _voice(0.5), 12.0, 2, seed=0)


@pytest.mark.skipif(HAS_CUDA, reason="checks the no-GPU message")
def test_cuda_without_a_gpu_is_an_error(fake: dict[str, Path]) -> None:
    with pytest.raises(BackendError, match="no CUDA GPU"):
        _backend(fake, device="cuda").lipsync(_portrait(), _voice(0.5), 12.0, 2, seed=0)


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="needs CUDA")
def test_gpu_matches_cpu_closely(fake: dict[str, Path]) -> None:
    p, v = _portrait(), _voice(1.0)
    cpu = _backend(fake).lipsync(p, v, 12.0, 12, seed=0)
    gpu = _backend(fake, device="cuda").lipsync(p, v, 12.0, 12, seed=0)
    assert np.abs(cpu.astype(int) - gpu.astype(int)).max() <= 2
    assert np.array_equal(gpu, _backend(fake, device="cuda").lipsync(p, v, 12.0, 12, seed=0))


def test_lipsync_package_gives_the_same_frames(fake: dict[str, Path], tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """``package = "lipsync"``: the class from lipsync.models.wav2lip, bare state-dict weights."""
    site = write_lipsync_package(tmp_path / "site")
    monkeypatch.syspath_prepend(str(site))
    plain = save_plain_checkpoint(tmp_path / "wav2lip_gan_plain.pth", seed=0)
    try:
        b = Wav2LipMotion(package="lipsync", checkpoint=str(plain), device="cpu", detector="portrait")
        assert b.settings["package"] == "lipsync" and b.settings["checkout"] is None
        p, v = _portrait(), _voice(1.0)
        via_package = b.lipsync(p, v, 12.0, 8, seed=0)
        via_checkout = _backend(fake).lipsync(p, v, 12.0, 8, seed=0)
        assert np.array_equal(via_package, via_checkout)
    finally:
        _drop_modules(("lipsync",))


def test_haar_detector_is_used_when_opencv_is_there(fake: dict[str, Path]) -> None:
    b = _backend(fake, detector="auto")
    if w2l._opencv_version() is None:
        assert b.settings["face_detector"] == "portrait"
        assert b.box(_portrait()) == (BOX[0], BOX[1], BOX[2], BOX[3] + 10)  # falls back to the portrait's box
        with pytest.raises(BackendError, match="opencv-python-headless<5"):
            _backend(fake, detector="haar")
    else:
        assert b.settings["face_detector"].startswith("haar (opencv ")
        # no face in this gradient: auto falls back to the portrait's box, haar refuses
        assert b.box(_portrait()) == (BOX[0], BOX[1], BOX[2], BOX[3] + 10)
        with pytest.raises(BackendError, match="found no face"):
            _backend(fake, detector="haar").box(_portrait())


# --------------------------------------------------------------------------- the command line

FILM = """\
title: "Mouth"
canvas: 128x72, 12fps
seed: 3

character ORACLE:
    portrait: generate, seed 31
    voice: asemic, pitch 0.9
    motion: lipsync

SCENE 1 "Speak":
    ORACLE, close-up:
        "Into the fog."
"""


def test_cli_film_with_wav2lip(fake: dict[str, Path], tmp_path: Path) -> None:
    import json

    from nyeshc.cli import main

    (tmp_path / "nysh.toml").write_text(
        "[profile.full.motion]\n"
        'backend = "motion.wav2lip"\n'
        f'checkout = "{fake["checkout"]}"\n'
        f'checkpoint = "{fake["checkpoint"]}"\n'
        'device = "cpu"\n'
        "batch_size = 16\n", encoding="utf-8")
    script = tmp_path / "film.nysh"
    script.write_text(FILM, encoding="utf-8")
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["plan", str(script), "--json", "--profile", "full"]) == 0
    plan = json.loads(buf.getvalue())
    motion = [j for j in plan["jobs"] if j["kind"] == "motion.lipsync"]
    assert len(motion) == 1 and motion[0]["backend"] == "motion.wav2lip"
    assert motion[0]["device"] == "cpu" and motion[0]["settings"]["checkpoint_sha256"]
    frames = int(plan["timeline"]["frames"])

    out = tmp_path / "out.mp4"
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = main([str(script), "-o", str(out), "-q", "--cache", str(tmp_path / "cache"), "--profile", "full"])
    assert rc == 0, err.getvalue()
    info = probe(out)
    assert "Video: h264" in info and "128x72" in info and "Audio: aac" in info
    video = decode_video(out, 128, 72)
    assert len(video) == frames
    anim = tmp_path / "anim.mp4"
    assert main([str(script), "-o", str(anim), "-q", "--cache", str(tmp_path / "cache")]) == 0
    other = decode_video(anim, 128, 72)
    assert other.shape == video.shape and not np.array_equal(other, video)  # a different motion backend
