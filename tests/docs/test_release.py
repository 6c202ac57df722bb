"""The version is written in two places, and the docs name its tag (docs/dev/releasing.md)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import nyeshc

REPO = Path(__file__).resolve().parents[2]


def test_pyproject_and_the_package_agree_on_the_version() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["version"] == nyeshc.__version__


def test_the_changelog_has_the_version() -> None:
    text = (REPO / "docs" / "dev" / "releasing.md").read_text(encoding="utf-8")
    assert f"- **{nyeshc.__version__}**" in text.split("## Changelog", 1)[1]


def test_the_tutorials_pre_commit_example_pins_this_release() -> None:
    text = (REPO / "docs" / "tutorial.md").read_text(encoding="utf-8")
    assert re.findall(r"^\s*rev: (\S+)$", text, re.MULTILINE) == [f"v{nyeshc.__version__}"]
