from __future__ import annotations

import pytest

from plan_fakes import FakeServices


@pytest.fixture
def services() -> FakeServices:
    return FakeServices()
