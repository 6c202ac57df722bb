"""``motion.fomm``: the First Order Motion Model adapter, against a stand-in checkout.

The stand-in (``fomm_fakes``) has the repository's class names, constructor keywords, call
signatures and outputs, with tiny networks of our own; it is written once per session (the
adapter imports ``modules.*`` from the checkout, and one process holds one such package).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("yaml")

from fomm_fakes import (  # noqa: E402
    build_networks,
    driving_video,
    portrait_image,
    save_checkpoint,
    write_checkout,
    write_mp4,
)

from nyeshc.backends import registry  # noqa: E402
from nyeshc.backends.base import BackendError, MotionBackend, Portrait  # noqa: E402
from nyeshc.backends.models.fomm import (  # noqa: E402
    FOMMMotion,
    adapt_movement_scale,
    driving_indices,
    normalize_kp,
)

S = 48  # portrait size (the model works at 32: every frame is resized both ways)


@pytest.fixture(autouse=True)
def _one_thread() -> Any:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def fake(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = write_checkout(tmp_path_factory.mktemp("first-order-model"))
    config = root / "config" / "fake-32.yaml"
    checkpoint = save_checkpoint(root, config, root / "fake-cpk.pth.tar", seed=3)
    return {"checkout": root, "config": config, "checkpoint": checkpoint}


def settings(fake: dict[str, Path], **extra: Any) -> dict[str, Any]:
    return {"checkout": str(fake["checkout"]), "config": str(fake["config"]),
            "checkpoint": str(fake["checkpoint"]), "device": "cpu", **extra}


@pytest.fixture(scope="session")
def backend(fake: dict[str, Path]) -> FOMMMotion:
    return FOMMMotion(**settings(fake, batch_size=4))


@pytest.fixture(scope="session")
def portrait() -> Portrait:
    return Portrait(portrait_image(S), (S / 2, S * 0.62), (S * 0.2, S * 0.2, S * 0.8, S * 0.8))


# --------------------------------------------------------------------------- keypoint maths


def _kp(values: Any, jac: Any | None = None) -> dict[str, Any]:
    v = torch.tensor(values, dtype=torch.float32)
    out = {"value": v}
    if jac is not None:
        out["jacobian"] = torch.tensor(jac, dtype=torch.float32)
    return out


def test_adapt_scale_is_the_ratio_of_square_roots_of_hull_areas() -> None:
    # source: a 0.8 × 0.5 rectangle plus an inside point (area 0.4); first driving frame: a
    # right triangle with legs 0.2 and 0.5 (area 0.05) -> sqrt(0.4) / sqrt(0.05) = sqrt(8)
    src = _kp([[[-0.4, -0.25], [0.4, -0.25], [0.4, 0.25], [-0.4, 0.25], [0.0, 0.1]]])
    drv0 = _kp([[[0.0, 0.0], [0.2, 0.0], [0.0, 0.5], [0.05, 0.1], [0.02, 0.02]]])
    assert adapt_movement_scale(src, drv0) == pytest.approx(np.sqrt(8.0), rel=1e-6)
    assert adapt_movement_scale(drv0, src) == pytest.approx(1 / np.sqrt(8.0), rel=1e-6)


def test_adapt_scale_of_collinear_keypoints_names_the_setting() -> None:
    src = _kp([[[-0.4, -0.25], [0.4, -0.25], [0.4, 0.25], [-0.4, 0.25]]])
    line = _kp([[[0.0, 0.0], [0.1, 0.1], [0.2, 0.2], [0.3, 0.3]]])
    with pytest.raises(BackendError, match=r"adapt_scale = false"):
        adapt_movement_scale(src, line)


def test_relative_motion_by_hand() -> None:
    src = _kp([[[0.1, 0.2], [-0.3, 0.0]]], [[[[2.0, 0.0], [0.0, 1.0]], [[1.0, 0.5], [0.0, 1.0]]]])
    init = _kp([[[0.0, 0.0], [0.5, 0.5]]], [[[[1.0, 0.0], [0.0, 2.0]], [[1.0, 0.0], [0.0, 1.0]]]])
    drv = _kp([[[0.1, -0.1], [0.5, 0.7]], [[0.0, 0.0], [0.5, 0.5]]],  # batch of two driving frames
              [[[[1.0, 0.0], [0.0, 4.0]], [[0.0, -1.0], [1.0, 0.0]]],
               [[[1.0, 0.0], [0.0, 2.0]], [[1.0, 0.0], [0.0, 1.0]]]])
    got = normalize_kp(src, drv, init, relative=True, scale=2.0)
    # value = src + 2 * (drv - init)
    want_v = np.array([[[0.3, 0.0], [-0.3, 0.4]], [[0.1, 0.2], [-0.3, 0.0]]])
    np.testing.assert_allclose(got["value"].numpy(), want_v, atol=1e-6)
    # jacobian = J_d @ inv(J_init) @ J_s: frame 0 kp 0: diag(1, 4) @ diag(1, 0.5) @ diag(2, 1) = diag(2, 2)
    np.testing.assert_allclose(got["jacobian"][0, 0].numpy(), [[2.0, 0.0], [0.0, 2.0]], atol=1e-6)
    # kp 1: rotation @ I @ [[1, .5], [0, 1]] = [[0, -1], [1, .5]]
    np.testing.assert_allclose(got["jacobian"][0, 1].numpy(), [[0.0, -1.0], [1.0, 0.5]], atol=1e-6)
    # frame 1 is the first driving frame itself: the source keypoints, exactly
    assert torch.equal(got["value"][1], src["value"][0])
    np.testing.assert_allclose(got["jacobian"][1].numpy(), src["jacobian"][0].numpy(), atol=1e-6)
    # absolute motion: the driving keypoints as they are
    absolute = normalize_kp(src, drv, init, relative=False, scale=2.0)
    assert torch.equal(absolute["value"], drv["value"]) and torch.equal(absolute["jacobian"], drv["jacobian"])


def test_first_driving_frame_gives_the_source_keypoints(fake: dict[str, Path], portrait: Portrait) -> None:
    _, kp_detector = build_networks(fake["checkout"], fake["config"], seed=3)
    kp_detector.eval()
    src = torch.from_numpy(portrait.image[..., :3].copy()).permute(2, 0, 1)[None].float() / 255
    drv = torch.from_numpy(driving_video(3, 32)).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        kp_src = kp_detector(torch.nn.functional.interpolate(src, size=(32, 32), mode="bilinear"))
        kp_all = kp_detector(drv)
    kp_init = {k: v[:1] for k, v in kp_all.items()}
    assert kp_src["value"].abs().max() <= 1 and kp_all["jacobian"].shape == (3, 5, 2, 2)
    got = normalize_kp(kp_src, kp_all, kp_init, relative=True, scale=adapt_movement_scale(kp_src, kp_init))
    assert torch.equal(got["value"][0], kp_src["value"][0])
    torch.testing.assert_close(got["jacobian"][0], kp_src["jacobian"][0], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(got["value"][2], kp_src["value"][0])  # later frames do move


def test_driving_indices_resample_by_time_and_hold_the_last_frame() -> None:
    # 10 fps out of a 25 fps video of 8 frames: t = 0, .1, .2, .3, .4 -> 0, 2.5, 5, 7.5, 10
    assert driving_indices(5, 10.0, 25.0, 8).tolist() == [0, 2, 5, 7, 7]
    assert driving_indices(4, 24.0, 12.0, 10).tolist() == [0, 0, 1, 1]
    assert driving_indices(3, 30000 / 1001, 30000 / 1001, 3).tolist() == [0, 1, 2]
    assert driving_indices(0, 12.0, 12.0, 3).tolist() == []


# --------------------------------------------------------------------------- the backend


def test_registered_and_a_motion_backend(fake: dict[str, Path]) -> None:
    b = registry.load("motion.fomm", settings(fake))
    assert isinstance(b, FOMMMotion) and isinstance(b, MotionBackend)
    s = dict(b.settings)
    json.dumps(s)
    assert len(s["checkpoint_sha256"]) == 64 and s["relative"] is True and s["adapt_scale"] is True
    assert b.cost.device == "cpu"
    assert FOMMMotion(**s).settings == s  # the executor rebuilds the backend from its settings
    auto = FOMMMotion(**{**s, "device": "auto"}).cost.device
    assert auto == ("gpu" if torch.cuda.is_available() else "cpu")
    assert FOMMMotion(**{**s, "device": "cuda"}).cost.device == "gpu"  # checked when the network loads


def test_drive_fills_out_in_batches_with_progress(backend: FOMMMotion, portrait: Portrait) -> None:
    n = 7
    out = np.zeros((n, S, S, 4), np.uint8)
    seen: list[float] = []
    got = backend.drive(portrait, driving_video(9, 40), 12.0, None, 12.0, n, 5, seen.append, out=out)
    assert got is out and got.dtype == np.uint8 and got.shape == (n, S, S, 4)
    assert seen == pytest.approx([4 / 7, 1.0])  # batch_size 4
    assert out[..., :3].std() > 5
    fresh = backend.drive(portrait, driving_video(9, 40), 12.0, None, 12.0, n, 5)
    assert fresh.shape == (n, S, S, 4) and np.array_equal(fresh, out)
    with pytest.raises(BackendError, match="out must be uint8"):
        backend.drive(portrait, driving_video(9, 40), 12.0, None, 12.0, n, 5, out=np.zeros((n, S, S, 3), np.uint8))


def test_drive_is_deterministic_across_instances_seeds_and_audio(fake: dict[str, Path], portrait: Portrait) -> None:
    drv = driving_video(6, 40)
    a = FOMMMotion(**settings(fake, batch_size=4)).drive(portrait, drv, 12.0, None, 12.0, 6, 1)
    b = FOMMMotion(**settings(fake, batch_size=4)).drive(portrait, drv, 12.0, np.zeros((24000, 1), np.float32),
                                                         12.0, 6, 99)
    assert np.array_equal(a, b)
    c = FOMMMotion(**settings(fake, batch_size=1)).drive(portrait, drv, 12.0, None, 12.0, 6, 1)
    assert np.abs(a.astype(int) - c).max() <= 1  # batching changes nothing beyond rounding


def test_identity_motion_keeps_the_portrait_still_and_its_matte(backend: FOMMMotion, portrait: Portrait) -> None:
    out = backend.drive(portrait, driving_video(5, 40, moving=False), 12.0, None, 12.0, 5, 0)
    assert all(np.array_equal(out[i], out[0]) for i in range(5))
    assert np.array_equal(out[..., 3], np.broadcast_to(portrait.image[..., 3], (5, S, S)))


def test_motion_moves_the_picture_and_the_matte_with_it(backend: FOMMMotion, portrait: Portrait) -> None:
    out = backend.drive(portrait, driving_video(8, 40), 12.0, None, 12.0, 8, 0)
    diffs = [np.abs(out[i, ..., :3].astype(int) - out[0, ..., :3]).mean() for i in range(8)]
    assert diffs[0] == 0 and diffs[-1] > 2 and diffs[-1] > diffs[2]
    assert np.array_equal(out[0, ..., 3], portrait.image[..., 3])  # frame 0 = identity
    assert np.abs(out[-1, ..., 3].astype(int) - portrait.image[..., 3]).max() > 16  # the matte moved
    assert out[-1, 0, 0, 3] == 0  # and the transparent corner stays transparent


def test_opaque_matte(fake: dict[str, Path], portrait: Portrait) -> None:
    warp = FOMMMotion(**settings(fake, batch_size=4)).drive(portrait, driving_video(4, 40), 12.0, None, 12.0, 4, 0)
    opaque = FOMMMotion(**settings(fake, batch_size=4, matte="opaque")).drive(
        portrait, driving_video(4, 40), 12.0, None, 12.0, 4, 0)
    assert (opaque[..., 3] == 255).all()
    assert np.array_equal(opaque[..., :3], warp[..., :3])


def test_drive_resamples_the_driving_video_by_time(backend: FOMMMotion, portrait: Portrait) -> None:
    drv = driving_video(12, 40)
    at_24 = backend.drive(portrait, drv, 24.0, None, 12.0, 8, 0)  # frame i shows driving frame 2i (held at 11)
    held = drv[[0, 2, 4, 6, 8, 10, 11, 11]]
    at_12 = backend.drive(portrait, held, 12.0, None, 12.0, 8, 0)
    assert np.array_equal(at_24, at_12)
    assert np.array_equal(at_24[6], at_24[7])


def test_drive_accepts_non_square_driving_frames(backend: FOMMMotion, portrait: Portrait) -> None:
    wide = driving_video(3, 60, height=40)
    out = backend.drive(portrait, wide, 12.0, None, 12.0, 3, 0)
    assert out.shape == (3, S, S, 4)
    square = backend.drive(portrait, np.ascontiguousarray(wide[:, :, 10:50]), 12.0, None, 12.0, 3, 0)
    assert np.array_equal(out, square)  # a centre crop


def test_absolute_motion_and_no_adapt_scale_differ(fake: dict[str, Path], portrait: Portrait) -> None:
    drv = driving_video(4, 40)
    rel = FOMMMotion(**settings(fake)).drive(portrait, drv, 12.0, None, 12.0, 4, 0)
    unscaled = FOMMMotion(**settings(fake, adapt_scale=False)).drive(portrait, drv, 12.0, None, 12.0, 4, 0)
    absolute = FOMMMotion(**settings(fake, relative=False)).drive(portrait, drv, 12.0, None, 12.0, 4, 0)
    assert np.array_equal(rel[0], unscaled[0])  # frame 0 is the identity either way
    assert not np.array_equal(rel[-1], unscaled[-1])
    assert not np.array_equal(rel[0], absolute[0])  # absolute: the driving face's own keypoints


def test_zero_frames_load_nothing(fake: dict[str, Path], portrait: Portrait) -> None:
    b = FOMMMotion(**settings(fake))
    out = b.drive(portrait, driving_video(2, 40), 12.0, None, 12.0, 0, 0)
    assert out.shape == (0, S, S, 4) and b._nets is None


def test_bad_arguments(backend: FOMMMotion, portrait: Portrait) -> None:
    with pytest.raises(BackendError, match="driving_fps"):
        backend.drive(portrait, driving_video(2, 40), 0.0, None, 12.0, 2, 0)
    with pytest.raises(BackendError, match="driving video"):
        backend.drive(portrait, np.zeros((0, 8, 8, 3), np.uint8), 12.0, None, 12.0, 2, 0)
    with pytest.raises(BackendError, match="portrait image"):
        backend.drive(Portrait(portrait.image[..., :3], (0, 0), (0, 0, 1, 1)), driving_video(2, 40), 12.0, None,
                      12.0, 2, 0)


def test_still_holds_the_portrait(backend: FOMMMotion, portrait: Portrait) -> None:
    out = np.zeros((3, S, S, 4), np.uint8)
    got = backend.still(portrait, 12.0, 3, 7, out=out)
    assert got is out
    assert np.array_equal(out, np.broadcast_to(portrait.image, (3, S, S, 4)))


def test_lipsync_explains_the_fix(backend: FOMMMotion, portrait: Portrait) -> None:
    with pytest.raises(BackendError) as info:
        backend.lipsync(portrait, np.zeros((4800, 1), np.float32), 12.0, 1, 0)
    msg = str(info.value)
    assert "audio" in msg and "motion.wav2lip" in msg and "motion.procedural" in msg
    assert "[profile.<name>.drive] backend = \"motion.fomm\"" in msg
    # with the script's `mouth X` the same advice, not a TypeError about the keyword
    with pytest.raises(BackendError, match="motion.wav2lip"):
        backend.lipsync(portrait, np.zeros((4800, 1), np.float32), 12.0, 1, 0, mouth=0.5)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("missing", ["checkout", "config", "checkpoint"])
def test_unset_setting_is_named(fake: dict[str, Path], missing: str) -> None:
    s = settings(fake)
    del s[missing]
    with pytest.raises(BackendError, match=rf"\[profile\.<name>\.drive\] {missing} = "):
        FOMMMotion(**s)


@pytest.mark.parametrize("missing", ["checkout", "config", "checkpoint"])
def test_missing_path_is_named(fake: dict[str, Path], tmp_path: Path, missing: str) -> None:
    s = settings(fake, **{missing: str(tmp_path / "nowhere")})
    with pytest.raises(BackendError, match=rf"nowhere.*{missing}"):
        FOMMMotion(**s)


def test_checkout_without_the_modules_is_named(fake: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "modules").mkdir()
    (tmp_path / "modules" / "generator.py").write_text("# nothing\n")
    with pytest.raises(BackendError, match=r"missing modules/keypoint_detector\.py.*checkout"):
        FOMMMotion(**settings(fake, checkout=str(tmp_path)))


def test_bad_settings(fake: dict[str, Path]) -> None:
    with pytest.raises(BackendError, match="matte"):
        FOMMMotion(**settings(fake, matte="static"))
    with pytest.raises(BackendError, match="batch_size"):
        FOMMMotion(**settings(fake, batch_size=0))
    with pytest.raises(BackendError, match="device"):
        FOMMMotion(**settings(fake, device="tpu"))
    with pytest.raises(BackendError, match="unknown setting.*checkpiont"):
        FOMMMotion(**settings(fake, checkpiont="x"))


def test_a_replaced_checkpoint_is_caught(fake: dict[str, Path], tmp_path: Path) -> None:
    copy = tmp_path / "cpk.pth.tar"
    copy.write_bytes(fake["checkpoint"].read_bytes())
    s = dict(FOMMMotion(**settings(fake, checkpoint=str(copy))).settings)
    save_checkpoint(fake["checkout"], fake["config"], copy, seed=4)
    assert FOMMMotion(**settings(fake, checkpoint=str(copy))).settings["checkpoint_sha256"] != s["checkpoint_sha256"]
    with pytest.raises(BackendError, match="changed since the film was planned"):
        FOMMMotion(**s)


class _NotAStateDict:  # a module-level class: pickled by reference, so torch.load needs full unpickling
    pass


def test_a_checkpoint_needing_full_unpickling_is_refused(fake: dict[str, Path], tmp_path: Path,
                                                         portrait: Portrait) -> None:
    path = save_checkpoint(fake["checkout"], fake["config"], tmp_path / "pickled.pth.tar", seed=3,
                           extra={"trainer": _NotAStateDict()})
    b = FOMMMotion(**settings(fake, checkpoint=str(path)))
    with pytest.raises(BackendError, match="full unpickling"):
        b.drive(portrait, driving_video(2, 40), 12.0, None, 12.0, 2, 0)


def test_a_checkpoint_of_another_shape_is_named(fake: dict[str, Path], tmp_path: Path, portrait: Portrait) -> None:
    other = tmp_path / "other.yaml"
    other.write_text(fake["config"].read_text().replace("num_kp: 5", "num_kp: 7"))
    b = FOMMMotion(**settings(fake, config=str(other)))
    with pytest.raises(BackendError, match="does not match"):
        b.drive(portrait, driving_video(2, 40), 12.0, None, 12.0, 2, 0)
    wrong = tmp_path / "wrong.pth.tar"
    torch.save({"state_dict": {}}, wrong)
    with pytest.raises(BackendError, match="'generator' and 'kp_detector'"):
        FOMMMotion(**settings(fake, checkpoint=str(wrong))).drive(portrait, driving_video(2, 40), 12.0, None,
                                                                   12.0, 2, 0)


def test_a_config_without_model_params_is_named(fake: dict[str, Path], tmp_path: Path, portrait: Portrait) -> None:
    cfg = tmp_path / "train.yaml"
    cfg.write_text("train_params:\n  num_epochs: 1\n")
    with pytest.raises(BackendError, match=r"model_params\.common_params.*config"):
        FOMMMotion(**settings(fake, config=str(cfg))).drive(portrait, driving_video(2, 40), 12.0, None, 12.0, 2, 0)


# --------------------------------------------------------------------------- a film


FILM = """\
title: "Driven"
canvas: 128x72, 12fps
seed: 3

character MIME:
    portrait: generate, seed 8
    voice: asemic
    motion: driven "clip.mp4"

SCENE 1 "Stage", 2s:
    backdrop: seed 2
    MIME, close-up, center:
        "Ah."
"""


@pytest.mark.slow
def test_a_film_with_a_driven_character(fake: dict[str, Path], tmp_path: Path) -> None:
    from nyeshc.cli import main

    write_mp4(tmp_path / "clip.mp4", driving_video(24, 64), fps=12)
    (tmp_path / "film.nysh").write_text(FILM, encoding="utf-8")
    lines = ["[profile.full.drive]", 'backend = "motion.fomm"'] + [
        f"{k} = {json.dumps(v)}" for k, v in settings(fake, batch_size=8).items() if k != "backend"]
    (tmp_path / "nysh.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    cache = tmp_path / "cache"
    plan = tmp_path / "plan.json"
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["plan", str(tmp_path / "film.nysh"), "--json", "--profile", "full", "--cache", str(cache)]) == 0
    plan.write_text(buf.getvalue())
    jobs = json.loads(buf.getvalue())["jobs"]
    drive = [j for j in jobs if j["kind"] == "motion.drive"]
    assert drive and all(j["backend"] == "motion.fomm" for j in drive)
    assert drive[0]["settings"]["checkpoint_sha256"] == FOMMMotion(**settings(fake)).settings["checkpoint_sha256"]
    out = tmp_path / "film.mp4"
    assert main([str(tmp_path / "film.nysh"), "-o", str(out), "-q", "--profile", "full", "--cache", str(cache),
                 "-j", "1"]) == 0
    assert out.is_file() and out.stat().st_size > 1000
    from nyeshc.store.cache import Cache

    made = [e for e in Cache(cache).entries() if e.record.get("kind") == "motion.drive"]
    assert made, "the driven shot was not rendered"
    frames = Cache(cache).get(made[0].key)
    assert frames.ndim == 4 and frames.shape[-1] == 4 and frames.shape[1] == frames.shape[2]
    assert not np.array_equal(frames[0], frames[-1])  # the clip's motion reached the portrait


@pytest.mark.gpu
def test_on_the_gpu_matches_the_cpu(fake: dict[str, Path], portrait: Portrait) -> None:
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    drv = driving_video(6, 40)
    cpu = FOMMMotion(**settings(fake, batch_size=4)).drive(portrait, drv, 12.0, None, 12.0, 6, 0)
    gpu_a = FOMMMotion(**settings(fake, batch_size=4, device="cuda")).drive(portrait, drv, 12.0, None, 12.0, 6, 0)
    gpu_b = FOMMMotion(**settings(fake, batch_size=4, device="cuda")).drive(portrait, drv, 12.0, None, 12.0, 6, 0)
    assert np.array_equal(gpu_a, gpu_b)
    assert np.abs(gpu_a.astype(int) - cpu).max() <= 2
