"""One OpenBLAS thread in a build's own process, as in its workers: asked before numpy loads
OpenBLAS (the build is parallel by processes; a helper thread woken while planning spun on a
core a worker had just started on), whatever ``OPENBLAS_NUM_THREADS`` said (the driver's
floating-point sums do not depend on the machine's cores)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

FILM = '''title: "Threads"
canvas: 64x36, 12fps

SCENE 1 "One", 1s:
    caption: "one"
'''

# after the build, in the same process: OpenBLAS's own count of its threads
PROBE = textwrap.dedent("""
    import ctypes, os, sys
    from nyeshc.cli import main
    assert "numpy" not in sys.modules  # (so the variable is read when numpy loads OpenBLAS)
    code = main(["build", sys.argv[1], "-o", sys.argv[2], "-q"])
    libs = {line.split()[-1] for line in open("/proc/self/maps") if "openblas" in line.lower() and "/" in line}
    counts = []
    for lib in sorted(libs):
        handle = ctypes.CDLL(lib)
        for name in ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads"):
            fn = getattr(handle, name, None)
            if fn is not None:
                counts.append(fn())
                break
    print(code, os.environ["OPENBLAS_NUM_THREADS"], counts)
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps")
@pytest.mark.parametrize("asked", [None, "2"])
def test_a_build_runs_one_openblas_thread(tmp_path: Path, asked: str | None) -> None:
    script = tmp_path / "film.nysh"
    script.write_text(FILM, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if asked is not None:
        env["OPENBLAS_NUM_THREADS"] = asked
    proc = subprocess.run([sys.executable, "-c", PROBE, str(script), str(tmp_path / "out.mp4")], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    code, variable, counts = proc.stdout.split(maxsplit=2)
    assert code == "0" and variable == "1"
    if counts.strip() != "[]":  # (a numpy linked against another BLAS has none to count)
        assert counts.strip() == "[1]"
