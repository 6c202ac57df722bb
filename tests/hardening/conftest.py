"""Fixtures of the hardening tests (helpers in hardening_support.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from hardening_support import TINY

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "fuzz"))


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    folder = tmp_path / "film"
    folder.mkdir()
    script = folder / "tiny.nysh"
    script.write_text(TINY, encoding="utf-8")
    return script
