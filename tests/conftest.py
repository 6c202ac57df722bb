"""Shared pytest configuration."""

from __future__ import annotations

import os

import pytest

# Every plan made in the tests is audited strictly: an option the schema says has an effect
# that the planner never reads is an error (E703), not a warning (nyeshc.plan.ledger).
os.environ.setdefault("NYESHC_STRICT_PLAN", "1")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite golden snapshot files (tests/**/golden/) from the current output")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))
