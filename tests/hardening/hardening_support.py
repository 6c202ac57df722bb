"""Helpers of the hardening tests: a tiny script (64x36 at 12 fps) and the CLI in-process."""

from __future__ import annotations

import contextlib
import io
from typing import Any

from nyeshc.cli import main

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
