"""Shared bits of the hardening tests: tiny scripts (64x36 at 12 fps) and the CLI in-process."""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path
from typing import Any

import pytest

from nyeshc.cli import main

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "fuzz"))

TINY = '''title: "Tiny"
canvas: 64x36, 12fps
seed: 3

look SKY:
    image: generate, seed 4, truncation 0.5

music HUM:
    source: generate, genre "drone", length 2s, seed 6

SCENE 1 "One", 2s:
    backdrop: SKY
    music: HUM, gain -6dB
    caption: "hi", bottom
'''


def cli(*args: Any) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main([str(a) for a in args])
        except SystemExit as exc:
            rc = int(exc.code or 0)
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    folder = tmp_path / "film"
    folder.mkdir()
    script = folder / "tiny.nysh"
    script.write_text(TINY, encoding="utf-8")
    return script
