"""Fixtures for the Ray executor tests: one small, CPU-only local Ray instance per session and
a tiny real film (the procedural backends: importable in Ray workers as they are)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from ray_support import prepared, tiny_script



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


@pytest.fixture
def film(tmp_path: Path) -> Any:
    """The prepared tiny film (its plan, its cache folder under tmp_path)."""
    return prepared(tiny_script(tmp_path), tmp_path / "cache")
