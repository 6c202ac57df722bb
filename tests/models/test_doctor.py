"""``nyeshc doctor``: system checks, per-modality backend checks, output formats, exit codes.

The "model" profiles use the stand-ins of ``doctor_fakes`` (procedural backends that take a
checkpoint and a checkout like the real adapters), so no torch and no real checkpoint is
needed; one test points at the real adapters' ids to see torch and CUDA reported."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from doctor_fakes import full_profile, place_files, register

from nyeshc.backends import registry
from nyeshc.backends.base import BackendError
from nyeshc.cli import main

SCRIPT = '''title: "Doctor"
canvas: 128x72, 12fps

look SKY:
    image: generate, seed 3

character ANA:
    portrait: generate, seed 5
    voice: asemic
    motion: lipsync

music CUE:
    source: generate, genre "ambient", artist "unknown", length 4s, seed 1

SCENE 1 "One", 3s:
    backdrop: SKY
    music: CUE

    ANA, medium, center:
        "Nyeshkerh."
'''


@pytest.fixture
def film(tmp_path: Path) -> Path:
    path = tmp_path / "film.nysh"
    path.write_text(SCRIPT, encoding="utf-8")
    return path


@pytest.fixture
def standins(monkeypatch: pytest.MonkeyPatch) -> None:
    register(monkeypatch)


def doctor(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    rc = main(["doctor", *args, "--format", "json"])
    out = capsys.readouterr().out
    return rc, json.loads(out)


def checks(data: dict[str, Any], section: str, name: str | None = None) -> list[dict[str, Any]]:
    return [c for c in data["checks"] if c["section"] == section and (name is None or c["name"] == name)]


def test_animatic_passes_without_torch(film: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now fails: it must not be needed
    rc, data = doctor(capsys, str(film))
    assert rc == 0, data
    assert data["profile"] == "animatic" and data["config"] is None and data["ok"] is True
    assert data["summary"]["fail"] == 0
    [torch] = checks(data, "system", "torch")
    assert torch["status"] == "ok" and "not needed" in torch["detail"]
    assert checks(data, "system", "python")[0]["status"] == "ok"
    ffmpeg = checks(data, "system", "ffmpeg")[0]
    assert ffmpeg["status"] == "ok" and Path(ffmpeg["data"]["path"]).is_file() and ffmpeg["data"]["version"]
    for modality in ("image", "portrait", "motion", "drive", "music", "voice", "tts", "glyphs"):
        assert [c["status"] for c in checks(data, modality)] == ["ok", "ok"], modality
    assert checks(data, "drive", "backend")[0]["data"]["id"] == "motion.procedural"  # drive follows motion
    [plan] = checks(data, "script", "plan")
    assert plan["status"] == "ok" and plan["data"]["gpu_seconds"] == 0 and plan["data"]["cpu_seconds"] > 0


def test_human_output_is_a_readable_report(film: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", str(film)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("nyeshc doctor: profile animatic")
    assert "torch" in out and "not needed" in out and "0 failed" in out
    assert "FAIL" not in out


def test_missing_checkpoint_fails_naming_the_setting(tmp_path: Path, film: Path, standins: None,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    full_profile(tmp_path)  # names ./models/net.pkl and ./src/net, which are not there
    rc, data = doctor(capsys, str(film), "--profile", "full")
    assert rc == 1 and data["ok"] is False
    for modality in ("image", "portrait", "motion", "music"):
        [ckpt] = checks(data, modality, "checkpoint")
        assert ckpt["status"] == "fail"
        assert ckpt["detail"] == f"{(tmp_path / 'models' / 'net.pkl').resolve()} does not exist"
        assert f"[profile.full.{modality}] checkpoint" in ckpt["fix"]
        [construct] = checks(data, modality, "construct")
        assert construct["status"] == "fail"
    # the constructor's BackendError, word for word
    settings = dict(checks(data, "image", "checkpoint")[0]["data"])
    with pytest.raises(BackendError) as err:
        registry.load("image.standin", {"checkpoint": settings["path"], "checkout": str(tmp_path / "src" / "net")})
    assert checks(data, "image", "construct")[0]["detail"] == str(err.value)
    assert checks(data, "image", "checkout")[0]["status"] == "fail"
    assert checks(data, "script", "plan")[0]["status"] == "fail"
    assert data["summary"]["fail"] == sum(c["status"] == "fail" for c in data["checks"])


def test_present_checkpoint_prints_its_sha256(tmp_path: Path, film: Path, standins: None,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    full_profile(tmp_path)
    ckpt = place_files(tmp_path, b"\x00weights of a stand-in\n" * 100)
    digest = hashlib.sha256(ckpt.read_bytes()).hexdigest()
    rc, data = doctor(capsys, str(film), "--profile", "full")
    assert rc == 0, [c for c in data["checks"] if c["status"] == "fail"]
    for modality in ("image", "portrait", "motion", "music"):
        [c] = checks(data, modality, "checkpoint")
        assert c["status"] == "ok" and c["data"]["sha256"] == digest and digest in c["detail"]
        construct = checks(data, modality, "construct")[0]
        assert construct["data"]["device"] == "gpu"
        assert construct["data"]["settings"]["checkpoint_sha256"] == digest
    assert checks(data, "image", "checkout")[0]["detail"].endswith("(folder)")
    # stand-ins are not built-in model adapters: torch is not needed
    assert "not needed" in checks(data, "system", "torch")[0]["detail"]
    plan = checks(data, "script", "plan")[0]
    assert plan["status"] == "ok" and plan["data"]["gpu_seconds"] > 0
    assert "image.standin" in plan["data"]["backends"] and "music.standin" in plan["data"]["backends"]

    assert main(["doctor", str(film), "--profile", "full"]) == 0
    out = capsys.readouterr().out
    assert f"sha256 {digest}" in out and "0 failed" in out


def test_load_runs_each_backend_once(tmp_path: Path, film: Path, standins: None,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    full_profile(tmp_path)
    place_files(tmp_path)
    rc, data = doctor(capsys, "--config", str(tmp_path / "nysh.toml"), "--profile", "full", "--load")
    assert rc == 0, [c for c in data["checks"] if c["status"] == "fail"]
    loads = {c["section"]: c for c in data["checks"] if c["name"] == "load"}
    assert set(loads) == {"image", "portrait", "motion", "drive", "music", "voice", "tts", "glyphs"}
    assert all(c["status"] == "ok" for c in loads.values())
    assert "same backend and settings as motion" in loads["drive"]["detail"]
    assert "lip-synced 3 frames of a 256x256 portrait" in loads["motion"]["detail"]
    assert "generated 1 s of music" in loads["music"]["detail"]


def test_load_reports_a_failing_network(tmp_path: Path, standins: None, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    from doctor_fakes import StandInImage

    full_profile(tmp_path)
    place_files(tmp_path)

    def broken(self: Any, latent: Any, width: int, height: int) -> Any:
        raise BackendError("image.standin: the network does not fit in memory")

    monkeypatch.setattr(StandInImage, "render", broken)
    rc, data = doctor(capsys, "--config", str(tmp_path / "nysh.toml"), "--profile", "full", "--load")
    assert rc == 1
    [load] = checks(data, "image", "load")
    assert load["status"] == "fail" and load["detail"] == "BackendError: image.standin: the network does not fit in memory"


def test_backend_of_the_wrong_kind_and_unknown_ids(tmp_path: Path, standins: None,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "nysh.toml").write_text('[profile.p]\ndrive = "image.procedural"\nmusic = "music.jukebx"\n',
                                        encoding="utf-8")
    rc, data = doctor(capsys, "--config", str(tmp_path / "nysh.toml"), "--profile", "p")
    assert rc == 1
    [drive] = checks(data, "drive")
    assert drive["status"] == "fail" and "takes motion.* backends" in drive["detail"]
    assert "[profile.p.drive] backend" in drive["fix"]
    [music] = checks(data, "music")
    assert music["status"] == "fail" and "did you mean music.jukebox?" in music["detail"]
    assert checks(data, "motion", "construct")[0]["status"] == "ok"  # the rest is still checked


def test_unknown_setting_and_unanchored_relative_path(tmp_path: Path, standins: None,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "nysh.toml").write_text(
        '[profile.p.image]\nbackend = "image.procedural"\ncolour = "blue"\n\n'
        '[profile.p.music]\nbackend = "music.standin"\ncheckpoint = "models/net.pkl"\n', encoding="utf-8")
    rc, data = doctor(capsys, "--config", str(tmp_path / "nysh.toml"), "--profile", "p")
    assert rc == 1
    construct = checks(data, "image", "construct")[0]
    assert construct["status"] == "fail"
    assert construct["detail"].startswith("backend image.procedural has no setting 'colour' (its settings: ")
    statuses = [c["status"] for c in checks(data, "music", "checkpoint")]
    assert statuses == ["warn", "fail"]  # relative to the current folder, and not there
    assert '"./models/net.pkl"' in checks(data, "music", "checkpoint")[0]["fix"]


def test_checkout_must_be_a_folder(tmp_path: Path, standins: None, capsys: pytest.CaptureFixture[str]) -> None:
    full_profile(tmp_path, checkout="./models/net.pkl")
    place_files(tmp_path)
    rc, data = doctor(capsys, "--config", str(tmp_path / "nysh.toml"), "--profile", "full")
    assert rc == 1
    [checkout] = checks(data, "image", "checkout")
    assert checkout["status"] == "fail" and "is a file, not a folder" in checkout["detail"]


def test_model_backends_need_torch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "nysh.toml").write_text(
        '[profile.full.portrait]\nbackend = "portrait.stylegan2"\ncheckout = "./sg2"\n'
        'checkpoint = "./ffhq.pkl"\ndevice = "cuda"\n', encoding="utf-8")
    monkeypatch.setitem(sys.modules, "torch", None)
    rc, data = doctor(capsys, "--config", str(tmp_path / "nysh.toml"), "--profile", "full")
    assert rc == 1
    [torch] = checks(data, "system", "torch")
    assert torch["status"] == "fail" and "portrait" in torch["detail"] and "nyeshc[models]" in torch["fix"]
    assert checks(data, "system", "cuda")[0]["status"] == "fail"  # asked for, and cannot be had
    assert checks(data, "portrait", "checkpoint")[0]["status"] == "fail"


def test_cuda_asked_for_without_a_gpu(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    (tmp_path / "nysh.toml").write_text(
        '[profile.full.image]\nbackend = "image.stylegan2"\ncheckpoint = "./x.pkl"\ndevice = "cuda"\n\n'
        '[profile.cpu.image]\nbackend = "image.stylegan2"\ncheckpoint = "./x.pkl"\n', encoding="utf-8")
    rc, data = doctor(capsys, "--config", str(tmp_path / "nysh.toml"), "--profile", "full")
    assert rc == 1
    [t] = checks(data, "system", "torch")
    assert t["status"] == "ok" and t["data"]["version"] == str(torch.__version__)
    [cuda] = checks(data, "system", "cuda")
    assert cuda["status"] == "fail" and "[profile.full.image] device = 'cuda'" in cuda["detail"]
    assert 'device = "auto"' in cuda["fix"]
    _, data = doctor(capsys, "--config", str(tmp_path / "nysh.toml"), "--profile", "cpu")
    assert checks(data, "system", "cuda")[0]["status"] == "warn"  # runs, slowly, on the CPU


@pytest.mark.gpu
def test_cuda_devices_are_listed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    (tmp_path / "nysh.toml").write_text(
        '[profile.full.image]\nbackend = "image.stylegan2"\ncheckpoint = "./x.pkl"\ndevice = "cuda"\n',
        encoding="utf-8")
    _, data = doctor(capsys, "--config", str(tmp_path / "nysh.toml"), "--profile", "full")
    [cuda] = checks(data, "system", "cuda")
    assert cuda["status"] == "ok" and cuda["data"]["devices"]
    assert cuda["data"]["devices"][0]["name"] == torch.cuda.get_device_name(0)
    assert cuda["data"]["devices"][0]["memory_gib"] > 1


def test_script_with_errors_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.nysh"
    bad.write_text('SCENE 1 "x", 2s:\n    backdrop: NOWHERE\n', encoding="utf-8")
    rc, data = doctor(capsys, str(bad))
    assert rc == 1
    [c] = checks(data, "script")
    assert c["status"] == "fail" and "nyeshc check" in c["fix"]


def test_usage_errors_exit_2(tmp_path: Path, film: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", str(tmp_path / "missing.nysh")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["doctor", "--config", str(tmp_path / "none.toml")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["doctor", str(film), "--profile", "nope"]) == 2
    assert "unknown profile 'nope'" in capsys.readouterr().err
    (tmp_path / "nysh.toml").write_text("[profile.full\n", encoding="utf-8")
    assert main(["doctor", str(film)]) == 2
    assert "nysh.toml" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["doctor", "--format", "xml"])
    assert exit_.value.code == 2


def test_config_in_the_current_folder_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "nysh.toml").write_text('default_profile = "quiet"\n[profile.quiet]\nvoice = "voice.procedural"\n',
                                        encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    rc, data = doctor(capsys)
    assert rc == 0 and data["profile"] == "quiet" and data["config"] == "nysh.toml"


def test_doctor_is_registered_lazily() -> None:
    import subprocess

    code = ("import sys; from nyeshc.cli import build_parser; build_parser(); "
            "print(any(m == 'torch' or m.startswith('torch.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def _fake_torch(devices: list[tuple[str, int]]) -> Any:
    """A stand-in ``torch`` module with ``devices`` as CUDA GPUs (name, bytes): the CUDA branch
    of the report, checked on machines without a GPU."""
    import types

    torch = types.ModuleType("torch")
    torch.__version__ = "2.13.0+cu128"  # type: ignore[attr-defined]
    torch.version = types.SimpleNamespace(cuda="12.8")  # type: ignore[attr-defined]
    torch.cuda = types.SimpleNamespace(  # type: ignore[attr-defined]
        is_available=lambda: bool(devices), device_count=lambda: len(devices),
        get_device_properties=lambda i: types.SimpleNamespace(name=devices[i][0], total_memory=devices[i][1]))
    return torch


def test_cuda_devices_and_requested_indices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "torch", _fake_torch([("NVIDIA H100 80GB HBM3", 85_045_346_304)]))
    (tmp_path / "nysh.toml").write_text(
        '[profile.one.image]\nbackend = "image.stylegan2"\ncheckpoint = "./x.pkl"\ndevice = "cuda"\n\n'
        '[profile.two.image]\nbackend = "image.stylegan2"\ncheckpoint = "./x.pkl"\ndevice = "cuda:1"\n',
        encoding="utf-8")
    _, data = doctor(capsys, "--config", str(tmp_path / "nysh.toml"), "--profile", "one")
    [torch] = checks(data, "system", "torch")
    assert torch["status"] == "ok" and torch["detail"] == "2.13.0+cu128 (CUDA 12.8 build)"
    [cuda] = checks(data, "system", "cuda")
    assert cuda["status"] == "ok"
    assert cuda["data"]["devices"] == [{"index": 0, "name": "NVIDIA H100 80GB HBM3", "memory_gib": 79.2}]
    assert "cuda:0 NVIDIA H100 80GB HBM3 (79.2 GiB)" in cuda["detail"]
    assert "[profile.one.image] device = 'cuda'" in cuda["detail"]
    _, data = doctor(capsys, "--config", str(tmp_path / "nysh.toml"), "--profile", "two")
    [cuda] = checks(data, "system", "cuda")
    assert cuda["status"] == "fail" and "device = 'cuda:1' is not one of them" in cuda["detail"]
    assert 'cuda:0' in cuda["fix"]


def test_broken_ffmpeg_and_old_python_say_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    from nyeshc.commands import doctor as doctor_command

    fake = tmp_path / "ffmpeg"
    fake.write_text("#!/bin/sh\necho 'not ffmpeg' >&2\nexit 1\n", encoding="utf-8")
    fake.chmod(0o755)
    monkeypatch.setenv("IMAGEIO_FFMPEG_EXE", str(fake))  # the one ffmpeg a build would run
    report = doctor_command.Report()
    doctor_command.check_ffmpeg(report)
    [c] = report.checks
    assert c.status == "fail" and "exited with 1" in c.detail and "not ffmpeg" in c.detail
    assert "pip install --force-reinstall imageio-ffmpeg" in (c.fix or "")
    fake.chmod(0o644)  # not executable: does not run at all
    report = doctor_command.Report()
    doctor_command.check_ffmpeg(report)
    assert report.checks[0].status == "fail" and "does not run" in report.checks[0].detail

    monkeypatch.setattr(doctor_command.sys, "version_info", types.SimpleNamespace(major=3, minor=10, micro=4))
    report = doctor_command.Report()
    doctor_command.check_python(report)
    [c] = report.checks
    assert c.status == "fail" and c.detail.startswith("3.10.4") and "3.11 or newer" in (c.fix or "")
