"""``--executor``/``--address`` and ``[executor]`` in nysh.toml, with and without Ray."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from ray_support import tiny_script

from nyeshc.cli import main


def _without_ray(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError


def test_without_ray_the_executor_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    _without_ray(monkeypatch)
    script = tiny_script(tmp_path)
    assert main([str(script), "-o", str(tmp_path / "out.mp4"), "-q", "--executor", "ray"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'nyeshc[ray]'" in err and "Ray" in err
    assert not (tmp_path / "out.mp4").exists()


def test_config_chooses_the_executor_and_flags_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    _without_ray(monkeypatch)
    script = tiny_script(tmp_path)
    (tmp_path / "nysh.toml").write_text('[executor]\nkind = "ray"\naddress = "auto"\n', encoding="utf-8")
    assert main([str(script), "-o", str(tmp_path / "out.mp4"), "-q"]) == 2
    assert "pip install 'nyeshc[ray]'" in capsys.readouterr().err
    assert main([str(script), "-o", str(tmp_path / "out.mp4"), "-q", "--executor", "local"]) == 0
    assert (tmp_path / "out.mp4").stat().st_size > 0


def test_unknown_executor_in_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tiny_script(tmp_path)
    (tmp_path / "nysh.toml").write_text('[executor]\nkind = "slurm"\n', encoding="utf-8")
    assert main([str(script), "-o", str(tmp_path / "out.mp4"), "-q"]) == 2
    assert "unknown executor 'slurm'" in capsys.readouterr().err


def test_address_needs_the_ray_executor(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tiny_script(tmp_path)
    assert main([str(script), "-o", str(tmp_path / "out.mp4"), "-q", "--address", "auto"]) == 2
    assert "--address needs --executor ray" in capsys.readouterr().err


def test_build_with_ray_makes_the_same_film(ray_instance: Any, tmp_path: Path) -> None:
    pytest.importorskip("ray")
    script = tiny_script(tmp_path)
    assert main([str(script), "-o", str(tmp_path / "local.mp4"), "-q", "--cache", str(tmp_path / "a")]) == 0
    assert main([str(script), "-o", str(tmp_path / "ray.mp4"), "-q", "--cache", str(tmp_path / "b"),
                 "--executor", "ray"]) == 0
    # every entry the same; outputs/ notes which file each build assembled (named by its path)
    a = sorted(p.name for p in (tmp_path / "a").rglob("*")
               if p.is_file() and not p.name.startswith(".") and p.parent.name != "outputs")
    b = sorted(p.name for p in (tmp_path / "b").rglob("*")
               if p.is_file() and not p.name.startswith(".") and p.parent.name != "outputs")
    assert a == b and a
    assert (tmp_path / "ray.mp4").stat().st_size > 0
