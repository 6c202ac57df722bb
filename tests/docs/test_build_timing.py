"""``wrote OUT (…) in X s`` is the time the command took, as a stopwatch started with it would
measure: from the start of the process (Python's start-up and nyeshc's imports included), or
from the call of ``nyeshc.cli.main(argv)`` in a process that was already running (a test, a
tool). The tests compare X with the clock around a subprocess; none asserts a speed. The
tutorial says so ("from the moment you pressed Enter").

The script is tiny (160x90 at 8 fps, one second), with a cache of its own.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nyeshc.cli import main

SCRIPT = """title: "Tick"
canvas: 160x90, 8fps

look DUSK:
    image: generate, seed 1, truncation 0.5

SCENE 1 "One", 1s:
    backdrop: DUSK, zoom 1.0 -> 1.1
    caption: "tick", at 0s, for 1s, center
"""
WROTE = re.compile(r"^wrote .* in (\d+\.\d) s$")
SLEEP_S = 1.5
# what the subprocess's own clock may miss of the wall clock around it: starting the process,
# reading the line from the pipe, the rounding to 0.1 s; generous for a busy machine
SLACK_S = 1.0


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


def timed_build(code: str, script: Path, tmp: Path) -> tuple[float, float]:
    """Run ``python -c CODE SCRIPT -o … --cache …``; (the seconds its ``wrote`` line says,
    the wall-clock seconds from just before the start of the process to reading that line)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    args = [sys.executable, "-c", code, str(script), "-o", str(tmp / "tick.mp4"), "--cache", str(tmp / "cache")]
    before = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stderr is not None
    said: float | None = None
    wall = 0.0
    lines = []
    for line in proc.stderr:
        lines.append(line)
        m = WROTE.match(line.rstrip())
        if m and said is None:
            wall = time.perf_counter() - before
            said = float(m.group(1))
    assert proc.wait(timeout=600) == 0, "".join(lines)
    assert said is not None, "no 'wrote … in X s' line:\n" + "".join(lines)
    return said, wall


@pytest.mark.slow
def test_build_time_counts_from_the_start_of_the_process(tmp_path: Path) -> None:
    script = write_script(tmp_path)
    # the process sleeps after importing nyeshc and before running the build: the build's own
    # timer would miss those seconds, a stopwatch started with the process does not
    code = f"import sys, time; import nyeshc; time.sleep({SLEEP_S}); from nyeshc.cli import main; sys.exit(main())"
    said, wall = timed_build(code, script, tmp_path)
    assert said >= SLEEP_S, f"said {said} s, but the process slept {SLEEP_S} s before the build"
    # "said" is rounded to 0.1 s, and the process's start is read from /proc in clock ticks
    # (10 ms, rounded down: up to a tick early)
    assert said <= wall + 0.05 + 0.01, f"said {said} s, more than the {wall:.2f} s the process had run"
    assert said >= wall - SLACK_S, f"said {said} s of the {wall:.2f} s the process had run"


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="the interpreter's start-up is read from /proc")
def test_build_time_includes_the_interpreters_start_up(tmp_path: Path) -> None:
    script = write_script(tmp_path)
    # this time the sleep comes before nyeshc is imported (as a slow start-up would)
    code = f"import sys, time; time.sleep({SLEEP_S}); from nyeshc.cli import main; sys.exit(main())"
    said, wall = timed_build(code, script, tmp_path)
    assert said >= SLEEP_S, f"said {said} s, but the process slept {SLEEP_S} s before importing nyeshc"
    assert wall - SLACK_S <= said <= wall + 0.05 + 0.01, (said, wall)  # rounding, and a clock tick


def test_build_called_in_a_running_process_counts_from_the_call(tmp_path: Path) -> None:
    script = write_script(tmp_path)
    before = time.perf_counter()
    rc, _, err = capture(script, "-o", tmp_path / "tick.mp4", "--cache", tmp_path / "cache", "-v")
    wall = time.perf_counter() - before
    assert rc == 0, err
    [wrote] = [ln for ln in err.splitlines() if WROTE.match(ln)]
    said = float(WROTE.match(wrote).group(1))  # type: ignore[union-attr]
    assert said <= wall + 0.05, f"said {said} s of a call that took {wall:.2f} s (this process is older)"
    [split] = [ln for ln in err.splitlines() if ln.startswith("  start ")]
    parts = [float(x) for x in re.findall(r"(\d+\.\d+) s", split)]
    assert len(parts) == 4 and abs(sum(parts) - said) <= 0.1, (split, said)  # the parts add up
