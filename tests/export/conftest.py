"""Helpers for the interchange tests: the plan tests' fake services (deterministic voices and
media, no backend), so plans of imported screenplays are compared and snapshotted exactly."""

from __future__ import annotations

import sys
from pathlib import Path

PLAN_TESTS = Path(__file__).resolve().parents[1] / "plan"
if str(PLAN_TESTS) not in sys.path:
    sys.path.insert(0, str(PLAN_TESTS))
