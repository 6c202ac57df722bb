"""The small film benchmarks/small_film.py times (issue #22's "17 s film"): the tutorial's last
complete film.nysh, which checks clean and holds the line it edits once."""

from __future__ import annotations

import sys
from pathlib import Path

from nyeshc.pipeline import load_and_check

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))

import small_film  # noqa: E402  (benchmarks/small_film.py)


def test_the_benchmark_film_is_the_tutorials_last_film_and_its_edit_changes_one_line(tmp_path: Path) -> None:
    film = small_film.tutorial_film()
    page = (REPO / "docs" / "tutorial.md").read_text(encoding="utf-8")
    assert film in page and film.count(small_film.LINE) == 1
    script = tmp_path / "film.nysh"
    script.write_text(film, encoding="utf-8")
    checked = load_and_check(str(script))
    assert [d.code for d in checked.diagnostics if d.severity == "error"] == []
    edited = film.replace(small_film.LINE, '"Someone is still out at sea, 1.1."')
    changed = [(a, b) for a, b in zip(film.splitlines(), edited.splitlines()) if a != b]
    assert len(changed) == 1 and "out at sea, 1.1." in changed[0][1]
