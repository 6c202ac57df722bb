"""The examples of LANGUAGE.md (tests/data/language/) check cleanly once put together."""

from __future__ import annotations

from pathlib import Path

from nyeshc.check import context_for, run
from nyeshc.commands.common import load_and_check

DATA = Path(__file__).resolve().parents[1] / "data" / "language"


def test_language_examples_as_one_film(tmp_path: Path, asset_bytes: dict[str, bytes]) -> None:
    """header + definitions + scenes, with the asset files they name, is one valid film."""
    text = "\n".join((DATA / name).read_text(encoding="utf-8") for name in
                     ("header.nysh", "definitions.nysh", "scenes.nysh"))
    (tmp_path / "film.nysh").write_text(text, encoding="utf-8")
    (tmp_path / "cast.nysh").write_text("# the cast lives in the film itself\n", encoding="utf-8")
    assets = tmp_path / "assets"
    assets.mkdir()
    for name, like in {"cathedral.png": "real.png", "mother.png": "real.png", "girl.wav": "real.wav",
                       "performance.mp4": "real.mp4", "gone.wav": "real.wav", "rain.wav": "real.wav"}.items():
        (assets / name).write_bytes(asset_bytes[like])
    checked = load_and_check(str(tmp_path / "film.nysh"))
    errors = [(d.code, d.message) for d in checked.diagnostics if d.is_error]
    assert errors == []
    # the photographed cathedral has no latent: the morph crossfades into it, and MORPH TO from
    # it cannot morph (the two warnings LANGUAGE.md implies)
    assert [d.code for d in checked.diagnostics] == ["W207", "W207"]


def test_header_alone_misses_only_its_references() -> None:
    checked = load_and_check(str(DATA / "header.nysh"))
    assert sorted((d.code, d.message) for d in checked.diagnostics) == [
        ("E101", "no alphabet is named NYESH"), ("E101", "no music cue is named THEME")]


def test_scenes_alone_miss_only_references_and_assets() -> None:
    checked = load_and_check(str(DATA / "scenes.nysh"))
    assert {d.code for d in checked.diagnostics if d.is_error} <= {"E101", "E501"}


def test_ten_thousand_lines_check_clean() -> None:
    """A 10,000-line film of the LANGUAGE.md scenes checks without errors (its speed is
    measured by benchmarks/frontend.py, not asserted here)."""
    head = (DATA / "header.nysh").read_text() + (DATA / "definitions.nysh").read_text().split("\n", 1)[1]
    scene = (DATA / "scenes.nysh").read_text()
    body = []
    lines = 0
    i = 0
    while lines < 10_000:
        i += 1
        chunk = scene.replace("SCENE 1 ", f"SCENE {3 * i + 1} ").replace("SCENE 3 ", f"SCENE {3 * i + 3} ")
        body.append(chunk)
        lines += chunk.count("\n")
    ctx = context_for(head + "\n".join(body))
    diagnostics = run(ctx)
    assert not [d for d in diagnostics if d.is_error]
