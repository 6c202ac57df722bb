"""Model profiles in ``nysh.toml``: parsing (``drive`` follows ``motion``, paths resolved against
the config's folder, unknown modalities), the example ``full`` profile, a script that names a
checkpoint (E209, never opened), and ``nyeshc plan --profile full`` showing GPU and CPU time
apart, with the model jobs' estimates kind by kind."""

from __future__ import annotations

import builtins
import io
import json
import os
import tomllib
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from doctor_fakes import IMAGE_COST, MUSIC_COST, full_profile, place_files, register

from nyeshc.cli import main
from nyeshc.config import ANIMATIC, MODALITIES, ConfigError, load_config, parse_config

REPO = Path(__file__).resolve().parents[2]
FULL = REPO / "examples" / "full.nysh.toml"

SCRIPT = '''title: "Costs"
canvas: 128x72, 12fps

look SKY:
    image: generate, seed 3
look SEA:
    image: generate, seed 4

character ANA:
    portrait: generate, seed 5
    voice: asemic
    motion: lipsync

music CUE:
    source: generate, genre "ambient", artist "unknown", length 6s, seed 1

SCENE 1 "One", 3s:
    backdrop: morph SKY -> SEA
    music: CUE

    ANA, medium, center:
        "Nyeshkerh."
'''


# --------------------------------------------------------------------------- parsing


def test_drive_follows_motion_unless_set() -> None:
    cfg = parse_config({"profile": {
        "a": {"motion": {"backend": "motion.wav2lip", "checkpoint": "/m/w.pth"}},
        "b": {"motion": "motion.wav2lip", "drive": {"backend": "motion.fomm", "config": "/m/vox.yaml"}},
        "c": {"image": "image.procedural"},
    }})
    a, b, c = cfg.profile("a"), cfg.profile("b"), cfg.profile("c")
    assert a.choice("drive") == a.choice("motion")
    assert a.choice("drive").settings == {"checkpoint": "/m/w.pth"}
    assert b.choice("motion").id == "motion.wav2lip" and b.choice("drive").id == "motion.fomm"
    assert b.choice("drive").settings == {"config": "/m/vox.yaml"}
    assert c.choice("drive").id == ANIMATIC["drive"] == "motion.procedural"
    assert cfg.profile("animatic").choice("drive").id == "motion.procedural"


def test_paths_resolve_against_the_config_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    project = tmp_path / "films" / "one"
    project.mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # not the config's folder: relative paths must not follow the cwd
    (project / "nysh.toml").write_text(
        '[profile.full.image]\nbackend = "image.stylegan2"\ncheckout = "~/src/stylegan2-ada-pytorch"\n'
        'checkpoint = "./models/ffhq.pkl"\n\n'
        '[profile.full.music]\nbackend = "music.jukebox"\nprime = "../shared/prime.wav"\nmodel = "5b_lyrics"\n'
        'device = "cuda"\n', encoding="utf-8")
    cfg = load_config(project / "film.nysh")
    image = cfg.profile("full").choice("image").settings
    assert image["checkout"] == str(home / "src" / "stylegan2-ada-pytorch")
    assert image["checkpoint"] == str(project / "models" / "ffhq.pkl")
    music = cfg.profile("full").choice("music").settings
    assert music["prime"] == str(tmp_path / "films" / "shared" / "prime.wav")
    assert music["model"] == "5b_lyrics" and music["device"] == "cuda"  # not paths: unchanged
    # --config from another folder: still relative to the file
    cfg2 = load_config(None, os.path.relpath(project / "nysh.toml"))
    assert cfg2.profile("full").choice("image").settings["checkpoint"] == str(project / "models" / "ffhq.pkl")


def test_unknown_modality_is_an_error_with_a_suggestion(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[profile.full.drvie\] is not a modality \(did you mean drive\?\)"):
        parse_config({"profile": {"full": {"drvie": "motion.fomm"}}}, tmp_path / "nysh.toml")
    with pytest.raises(ConfigError, match="did you mean portrait"):
        parse_config({"profile": {"full": {"portraits": {"backend": "portrait.stylegan2"}}}})
    with pytest.raises(ConfigError, match=r'\[profile.full.music\] needs backend = "<id>"'):
        parse_config({"profile": {"full": {"music": {"checkpoint": "~/x.pt"}}}})


# --------------------------------------------------------------------------- the example profile


def test_example_full_profile_parses() -> None:
    data = tomllib.loads(FULL.read_text(encoding="utf-8"))
    cfg = parse_config(data, FULL)
    assert cfg.default_profile == "animatic"  # the examples still render anywhere by default
    full = cfg.profile("full")
    ids = {m: full.choice(m).id for m in MODALITIES}
    assert ids == {"image": "image.stylegan2", "portrait": "portrait.stylegan2", "motion": "motion.wav2lip",
                   "drive": "motion.fomm", "music": "music.jukebox", "voice": "voice.procedural",
                   "tts": "voice.espeak", "glyphs": "glyphs.procedural"}
    home = str(Path.home())
    for m in ("image", "portrait", "motion", "drive"):
        settings = full.choice(m).settings
        assert settings["checkpoint"].startswith(home + os.sep), (m, settings)
        assert settings["checkout"].startswith(home + os.sep), (m, settings)


def test_example_full_profile_doctor_names_what_to_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """With none of the files placed (a fresh HOME), doctor fails on every model modality and
    says which setting names the missing file."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setitem(__import__("sys").modules, "torch", None)  # not needed to find missing files
    rc = main(["doctor", str(REPO / "examples" / "nyeshkerh.nysh"), "--config", str(FULL), "--profile", "full",
               "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert rc == 1
    failing = {(c["section"], c["name"]) for c in data["checks"] if c["status"] == "fail"}
    for m in ("image", "portrait", "motion", "drive"):
        assert (m, "checkpoint") in failing and (m, "checkout") in failing, m
        fix = next(c["fix"] for c in data["checks"] if (c["section"], c["name"]) == (m, "checkpoint"))
        assert f"[profile.full.{m}] checkpoint" in fix
    ok = {c["section"] for c in data["checks"] if c["name"] == "construct" and c["status"] == "ok"}
    assert {"voice", "tts", "glyphs"} <= ok


# --------------------------------------------------------------------------- E209


def test_a_script_naming_a_checkpoint_is_E209_and_never_opened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    register(monkeypatch)
    full_profile(tmp_path)
    place_files(tmp_path)
    face = tmp_path / "face.pkl"
    face.write_bytes(b"\x80\x04 a pickle that must never be read")
    script = tmp_path / "film.nysh"
    script.write_text('title: "x"\n\nlook X:\n    image: "face.pkl"\n\nSCENE 1 "a", 2s:\n    backdrop: X\n',
                      encoding="utf-8")
    opened: list[str] = []
    real_open, real_io_open = builtins.open, io.open

    def spy(file: Any, *a: Any, **k: Any) -> Any:
        opened.append(str(file))
        return real_open(file, *a, **k)

    def spy_io(file: Any, *a: Any, **k: Any) -> Any:
        opened.append(str(file))
        return real_io_open(file, *a, **k)

    monkeypatch.setattr(builtins, "open", spy)
    monkeypatch.setattr(io, "open", spy_io)
    for command in (["check"], ["plan", "--profile", "full"], ["build", "-o", str(tmp_path / "x.mp4"),
                                                             "--profile", "full"]):
        assert main([*command, str(script)]) == 1
        err = capsys.readouterr().err
        assert "E209" in err and "'face.pkl' is a checkpoint or code file" in err, err
    assert opened  # the spy saw the script being read
    assert not [p for p in opened if p.endswith("face.pkl")], opened
    assert not (tmp_path / "x.mp4").exists()


# --------------------------------------------------------------------------- plan costs


def test_plan_full_shows_gpu_and_cpu_time_apart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    from nyeshc.execute import machine

    register(monkeypatch)
    # a CPU twice as fast as the models': its jobs' estimates halve, the GPU's stay as they are
    monkeypatch.setattr(machine, "benchmark", lambda repeat=3: machine.REFERENCE / 2)
    full_profile(tmp_path)
    place_files(tmp_path)
    script = tmp_path / "film.nysh"
    script.write_text(SCRIPT, encoding="utf-8")
    assert main(["plan", str(script), "--profile", "full", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    jobs = plan["jobs"]
    model = [j for j in jobs if j["backend"].endswith(".standin")]
    assert {j["backend"] for j in model} == {"image.standin", "portrait.standin", "motion.standin", "music.standin"}
    assert all(j["device"] == "gpu" and j["cost_seconds"] > 0 for j in model)
    # the estimates come from each backend's cost model
    [music] = [j for j in model if j["kind"] == "music.generate"]
    assert music["cost_seconds"] == pytest.approx(MUSIC_COST.estimate(audio_seconds=6.0), rel=0.02)
    renders = [j for j in model if j["kind"] == "image.render"]
    for j in renders:
        pixels = j["params"]["width"] * j["params"]["height"]
        assert j["cost_seconds"] == pytest.approx(IMAGE_COST.estimate(frames=1, pixels=pixels))

    assert main(["plan", str(script), "--profile", "full", "--cache", str(tmp_path / "cache")]) == 0
    text = capsys.readouterr().out
    cost = text[text.index("estimated cost"):]
    per_device: dict[str, float] = defaultdict(float)
    per_kind: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0])
    for j in jobs:
        per_device[j["device"]] += j["cost_seconds"]
        per_kind[(j["backend"], j["kind"])][0] += 1
        per_kind[(j["backend"], j["kind"])][1] += j["cost_seconds"] / (2 if j["device"] == "cpu" else 1)
    lines = cost.splitlines()
    totals = {ln.split()[1]: float(ln.split()[2].rstrip("s")) for ln in lines if ln.strip().startswith("total ")}
    assert set(totals) == {"cpu", "gpu"}
    assert totals["gpu"] == pytest.approx(per_device["gpu"], abs=0.06)
    assert totals["cpu"] == pytest.approx(per_device["cpu"] / 2, abs=0.06)
    assert not any(ln.split() and ln.split()[0] == "total" and len(ln.split()) == 2 for ln in lines)  # no sum
    assert "(1h" in cost or "(2h" in cost or "m)" in cost  # JukeBox-like hours read as hours and minutes
    kinds_of: dict[str, int] = defaultdict(int)
    for backend, _ in per_kind:
        kinds_of[backend] += 1
    for (backend, kind), (count, secs) in per_kind.items():
        line = f"    {f'{kind} ({count})':<20} {secs:9.1f}s"
        if backend.endswith(".standin") or (backend and kinds_of[backend] > 1):
            assert line in cost, (line, cost)  # GPU jobs, and backends doing several kinds of job
        else:
            assert line not in cost, (line, cost)  # one line is enough


def test_plan_animatic_keeps_one_total(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "film.nysh"
    script.write_text(SCRIPT, encoding="utf-8")
    assert main(["plan", str(script)]) == 0
    cost = capsys.readouterr().out.split("estimated cost", 1)[1]
    assert "total gpu" not in cost and "total cpu" not in cost
    # one total for the jobs, then the render's estimate (nothing is cached), the whole build's, what
    # scaled them (this machine's speed: a film never built) and the disk
    assert [ln.split()[0] for ln in cost.splitlines() if ln.strip()][-5:] == ["total", "render", "build",
                                                                             "estimates", "disk:"]
