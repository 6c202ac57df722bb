"""Fake backends for Ray workers: :func:`register` is the workers' setup hook (see conftest), so
the ids of ``tests/execute/execute_fakes.py`` plus ``image.flaky`` resolve inside Ray tasks.

``image.flaky`` fails once per flag file: its ``die_once`` setting kills the worker process the
first time (the file does not exist yet), ``oserror_once`` raises an ``OSError`` the first time.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "execute"))

import execute_fakes  # noqa: E402
import numpy as np  # noqa: E402


class FlakyImage(execute_fakes.FakeImage):
    id = "image.flaky"

    def __init__(self, *, die_once: str = "", oserror_once: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.die_once = die_once
        self.oserror_once = oserror_once

    @property
    def settings(self) -> Mapping[str, Any]:
        return {**super().settings, "die_once": self.die_once, "oserror_once": self.oserror_once}

    def render(self, latent: np.ndarray, width: int, height: int) -> np.ndarray:
        if self.die_once and not os.path.exists(self.die_once):
            Path(self.die_once).touch()
            os._exit(9)  # the worker dies, as under the OOM killer
        if self.oserror_once and not os.path.exists(self.oserror_once):
            Path(self.oserror_once).touch()
            raise OSError(5, "Input/output error (the shared cache hiccupped)")
        return super().render(latent, width, height)


BUILTINS = {**execute_fakes.BUILTINS, "image.flaky": f"{__name__}:FlakyImage"}


def register() -> None:
    """Make the fake backend ids resolvable in this process (a Ray worker)."""
    from nyeshc.backends import registry

    registry.BUILTINS.update(BUILTINS)
    registry._load_cached.cache_clear()
