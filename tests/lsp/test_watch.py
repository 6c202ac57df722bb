"""``nyeshc watch``: prints diagnostics instead of rendering a script with errors; watches includes."""

from __future__ import annotations

from pathlib import Path

from nyeshc.cli import main
from nyeshc.commands.watch import watched_files
from nyeshc.world import mtimes


def test_watch_prints_diagnostics_for_a_broken_script(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    script = tmp_path / "film.nysh"
    script.write_text('include "cast.nysh"\nSCENE 1:\n    NARATOR:\n        "hi"\n', encoding="utf-8")
    (tmp_path / "cast.nysh").write_text("character NARRATOR:\n    portrait: generate\n", encoding="utf-8")
    code = main(["watch", str(script), "-o", str(tmp_path / "p.mp4"), "--once", "-q"])
    err = capsys.readouterr().err
    assert code == 1
    assert "E101" in err and "did you mean NARRATOR?" in err and "fix them and save again" in err
    assert not (tmp_path / "p.mp4").exists()
    files = watched_files(script)
    assert (tmp_path / "cast.nysh").resolve() in files and script.resolve() in files
    before = mtimes(files)
    (tmp_path / "cast.nysh").write_text("character NARRATOR:\n    portrait: generate, seed 2\n", encoding="utf-8")
    import os
    os.utime(tmp_path / "cast.nysh", ns=(1, 1))
    assert mtimes(files) != before


def test_watch_refuses_a_bad_output(tmp_path: Path) -> None:
    script = tmp_path / "film.nysh"
    script.write_text("SCENE 1:\n", encoding="utf-8")
    assert main(["watch", str(script), "-o", str(tmp_path / "p.txt"), "--once"]) == 2
