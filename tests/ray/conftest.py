"""Fixtures for the Ray executor tests: one small, CPU-only local Ray instance per session and
a tiny real film (the procedural backends: importable in Ray workers as they are)."""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path
from typing import Any

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="session")
def ray_instance() -> Any:
    ray = pytest.importorskip("ray")
    here = Path(__file__).resolve().parent
    path = os.pathsep.join([str(here), str(here.parent / "execute"), os.environ.get("PYTHONPATH", "")])
    ray.init(num_cpus=2, num_gpus=0, include_dashboard=False, object_store_memory=100 * 1024 * 1024,
             log_to_driver=False, configure_logging=False,
             # the workers register the fake backends (ray_fakes) as they start
             runtime_env={"env_vars": {"PYTHONPATH": path.rstrip(os.pathsep)},
                          "worker_process_setup_hook": "ray_fakes.register"})
    yield ray
    ray.shutdown()


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


@pytest.fixture
def film(tmp_path: Path) -> Any:
    """The prepared tiny film (its plan, its cache folder under tmp_path)."""
    return prepared(tiny_script(tmp_path), tmp_path / "cache")
