"""How the program ends: :func:`nyeshc.cli.exit_now` skips Python's teardown of every live
object, and keeps what exit does that matters: the ``atexit`` functions, the flush of standard
output and error, the exit status, and the wait for a thread that is not a daemon.

Each case runs in a fresh interpreter with its standard output a pipe (block-buffered, so an
unflushed line would be lost)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=60, check=False)


def test_exit_now_flushes_runs_atexit_and_keeps_the_status() -> None:
    proc = _run("""
        import atexit, sys
        from nyeshc.cli import exit_now
        atexit.register(lambda: print("atexit ran"))
        print("made it")
        print("said on stderr", file=sys.stderr)
        exit_now(3)
        """)
    assert proc.returncode == 3
    assert proc.stdout == "made it\natexit ran\n"
    assert proc.stderr == "said on stderr\n"


def test_exit_now_skips_the_teardown_of_live_objects() -> None:
    # a module-level object's finaliser runs at Python's own exit, not at exit_now's
    proc = _run("""
        import sys
        from nyeshc.cli import exit_now

        class Loud:
            def __del__(self):
                print("torn down", flush=True)

        held = Loud()
        exit_now(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
        """)
    assert proc.returncode == 0 and "torn down" not in proc.stdout
    normal = _run("""
        class Loud:
            def __del__(self):
                print("torn down", flush=True)

        held = Loud()
        """)
    assert "torn down" in normal.stdout  # (what the skip saves: Python frees every object this way)


def test_exit_now_waits_for_a_thread_that_is_not_a_daemon() -> None:
    proc = _run("""
        import threading, time
        from nyeshc.cli import exit_now

        def late():
            time.sleep(0.3)
            print("the thread finished")

        threading.Thread(target=late).start()
        exit_now(5)
        """)
    assert proc.returncode == 5
    assert proc.stdout == "the thread finished\n"


def _programs() -> list[list[str]]:
    """``python -m nyeshc.cli``, and the installed ``nyeshc`` script beside this Python."""
    out = [[sys.executable, "-m", "nyeshc.cli"]]
    script = Path(sys.executable).parent / "nyeshc"
    if script.is_file():
        out.append([str(script)])
    return out


@pytest.mark.parametrize("argv, code, said", [(["--version"], 0, "nyeshc "), (["check", "missing.nysh"], 2, "")])
def test_the_program_ends_with_its_commands_status(argv: list[str], code: int, said: str) -> None:
    for program in _programs():
        proc = subprocess.run([*program, *argv], capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode == code, (program, proc.stderr)
        assert proc.stdout.startswith(said), program


def test_the_console_script_is_the_entry() -> None:
    import tomllib

    project = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["scripts"]["nyeshc"] == "nyeshc.cli:entry"
