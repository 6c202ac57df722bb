"""Fixtures for the execute tests: fake backends registered in the backend registry."""

from __future__ import annotations

from pathlib import Path

import pytest
from execute_fakes import BUILTINS

from nyeshc.backends import registry


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fake backends (``image.fake``, ``portrait.fake``, …) resolvable by id, in this process
    and in forked workers."""
    monkeypatch.setattr(registry, "BUILTINS", {**registry.BUILTINS, **BUILTINS})
    registry._load_cached.cache_clear()
    yield
    registry._load_cached.cache_clear()


@pytest.fixture
def counter(tmp_path: Path) -> Path:
    """A file the fake backends append one line to per call (works across processes)."""
    return tmp_path / "calls.log"
