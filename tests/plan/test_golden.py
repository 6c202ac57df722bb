"""Golden snapshots of every example's plan (timeline + jobs), with the fake services.

Regenerate with ``pytest tests/plan --update-golden`` and review the diff."""

from __future__ import annotations

from pathlib import Path

import pytest
from plan_fakes import EXAMPLES, plan_file

from nyeshc import ir
from nyeshc.plan import render_text

GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_plan_matches_golden(example: Path, update_golden: bool) -> None:
    got = ir.to_json(plan_file(example)) + "\n"
    path = GOLDEN / f"{example.stem}.json"
    if update_golden or not path.exists():
        path.write_text(got, encoding="utf-8")
        if not update_golden:
            pytest.skip(f"wrote new golden {path.name}")
    assert got == path.read_text(encoding="utf-8"), f"plan of {example.name} changed; rerun with --update-golden"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_plan_is_deterministic_and_topological(example: Path) -> None:
    a, b = plan_file(example), plan_file(example)
    assert ir.to_json(a) == ir.to_json(b)
    seen: set[str] = set()
    for job in a.jobs:
        assert all(k in seen for k in job.inputs), f"{job.name} comes before an input"
        assert job.key not in seen
        seen.add(job.key)
    for scene in a.timeline.scenes:
        for layer in scene.layers:
            assert layer.artifact in seen
            assert scene.start <= layer.start <= layer.end <= scene.end
    for clip in a.timeline.audio:
        assert clip.artifact in seen and clip.length > 0
        assert 0 <= clip.start and clip.start + clip.length <= a.timeline.samples
    text = render_text(a, cached={a.jobs[0].key})
    assert "cached" in text and "to run" in text and "total" in text
