"""``nyeshc plan`` of a film whose jobs are all cached says ``nothing to run: everything is
cached`` instead of a cost heading over a total of nothing (the tutorial shows it after a
second render).

The script is tiny (160x90 at 8 fps, one second), with a cache of its own.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

from nyeshc.cli import main
from nyeshc.commands.plan import NOTHING_TO_RUN

SCRIPT = """title: "Tick"
canvas: 160x90, 8fps

look DUSK:
    image: generate, seed 1, truncation 0.5

SCENE 1 "One", 1s:
    backdrop: DUSK, zoom 1.0 -> 1.1
    caption: "tick", at 0s, for 1s, center
"""


def write_script(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "tick.nysh"
    script.write_text(SCRIPT, encoding="utf-8")
    return script


def capture(*args: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([str(a) for a in args])
    return rc, out.getvalue(), err.getvalue()


def test_plan_with_everything_cached_says_nothing_to_run(tmp_path: Path) -> None:
    script = write_script(tmp_path)
    cache = tmp_path / "cache"
    rc, before, err = capture("plan", script, "--cache", cache)
    assert rc == 0, err
    assert "estimated cost (jobs to run)" in before and NOTHING_TO_RUN not in before
    rc, _, err = capture(script, "-o", tmp_path / "tick.mp4", "--cache", cache, "-q")
    assert rc == 0, err
    for _ in range(2):  # the first plan after the build, and another: the same
        rc, after, err = capture("plan", script, "--cache", cache)
        assert rc == 0, err
        lines = after.splitlines()
        jobs = int(re.search(r"^jobs  (\d+)", after, re.MULTILINE).group(1))  # type: ignore[union-attr]
        assert f"jobs  {jobs}  ({jobs} cached, 0 to run)" in lines
        assert "estimated cost" not in after
        assert lines[-2] == NOTHING_TO_RUN and lines[-1].startswith("disk: about ")
        # the same plan as before the build, but for the marks and the estimate
        assert after.split("jobs  ")[0] == before.split("jobs  ")[0]


def test_plan_with_a_job_to_run_keeps_its_estimate(tmp_path: Path) -> None:
    script = write_script(tmp_path)
    cache = tmp_path / "cache"
    rc, _, err = capture(script, "-o", tmp_path / "tick.mp4", "--cache", cache, "-q")
    assert rc == 0, err
    script.write_text(SCRIPT.replace('"tick"', '"tock"'), encoding="utf-8")  # one caption to set again
    rc, out, err = capture("plan", script, "--cache", cache)
    assert rc == 0, err
    assert "(1 to run)" not in out and ", 1 to run)" in out
    assert "estimated cost (jobs to run)" in out and NOTHING_TO_RUN not in out
