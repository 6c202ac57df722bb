"""Helpers of the Ray executor tests: a tiny real film."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def tiny_script(folder: Path, example: str = "tour-captions.nysh") -> Path:
    """``example`` with its canvas shrunk to 64x36 at 12fps, written into ``folder``."""
    text = (EXAMPLES / example).read_text(encoding="utf-8")
    text = re.sub(r"(?m)^canvas:.*$", "canvas: 64x36, 12fps", text, count=1)
    path = folder / example
    path.write_text(text, encoding="utf-8")
    return path


def prepared(script: Path, cache: Path) -> Any:
    from nyeshc.commands.common import prepare

    args = argparse.Namespace(script=str(script), config=None, profile=None, cache=str(cache), quiet=True)
    return prepare(args, "test")
