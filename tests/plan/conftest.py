from __future__ import annotations

from pathlib import Path

import pytest

from nyeshc.plan import plan
from nyeshc.plan.model import Plan
from nyeshc.syntax import load, read
from plan_fakes import FakeServices

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.nysh"))


@pytest.fixture
def services() -> FakeServices:
    return FakeServices()


def plan_text(text: str, services: FakeServices | None = None, file: str = "film.nysh") -> Plan:
    """Plan a script given as text (asset paths are relative to the current folder)."""
    film, diags = read(text, file)
    assert not [d for d in diags if d.is_error], diags
    svc = services or FakeServices()
    return plan(film, svc.profile, svc, root=Path.cwd())


def plan_file(path: Path, services: FakeServices | None = None) -> Plan:
    loaded = load(path, name=path.name)
    svc = services or FakeServices()
    return plan(loaded.film, svc.profile, svc, root=path.parent)
