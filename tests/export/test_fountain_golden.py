"""Golden snapshots of the plan (timeline + jobs, with the fake services) of every test
screenplay as imported. Regenerate with ``pytest tests/export --update-golden`` and review the
diff."""

from __future__ import annotations

from pathlib import Path

import pytest
from fountain_support import SCREENPLAYS, imported, plan_of

from nyeshc import ir

GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize("src", SCREENPLAYS, ids=lambda p: p.stem)
def test_imported_plan_matches_golden(src: Path, tmp_path: Path, update_golden: bool) -> None:
    got = ir.to_json(plan_of(imported(src, tmp_path))) + "\n"
    path = GOLDEN / f"{src.stem}.json"
    if update_golden or not path.exists():
        path.write_text(got, encoding="utf-8")
        if not update_golden:
            pytest.skip(f"wrote new golden {path.name}")
    assert got == path.read_text(encoding="utf-8"), f"plan of {src.name} changed; rerun with --update-golden"


def test_every_golden_has_its_screenplay() -> None:
    assert sorted(p.stem for p in GOLDEN.glob("*.json")) == sorted(p.stem for p in SCREENPLAYS)
