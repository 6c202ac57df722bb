"""Shared pytest configuration."""

from __future__ import annotations

import os
import signal

import pytest

# Every plan made in the tests is audited strictly: an option the schema says has an effect
# that the planner never reads is an error (E703), not a warning (nyeshc.resolve.ledger).
os.environ.setdefault("NYESHC_STRICT_PLAN", "1")

# A suite started as a background job (`cmd &` in a shell without job control, nohup) inherits
# SIGINT ignored, and so would every nyeshc it starts (an ignored signal survives exec): the
# Ctrl-C tests would then see builds that never stop. They test what happens in a terminal, so
# the suite takes Ctrl-C as a terminal delivers it; its children get the default again at exec.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite golden snapshot files (tests/**/golden/) from the current output")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))
