"""``nyeshc studio`` from the command line: the URL it prints, --port, --no-open, Ctrl-C."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from studio_support import interrupt, start, write_film

from nyeshc.studio.server import bind


def wait_for_preview(url: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = json.load(urllib.request.urlopen(url + "api/state", timeout=5))
        if state["preview"] is not None:
            return state
        time.sleep(0.1)
    raise AssertionError(f"no preview within {timeout} s: {state}")


@pytest.fixture
def fake_browser(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """``BROWSER`` set to a program that writes the URL it is given to a file."""
    opened = tmp_path / "opened.txt"
    program = tmp_path / "fake-browser"
    program.write_text(f"#!/bin/sh\nprintf '%s' \"$1\" > '{opened}'\n", encoding="utf-8")
    program.chmod(0o755)
    return {"BROWSER": str(program)}, opened


def test_port_zero_no_open_and_ctrl_c(tmp_path: Path, fake_browser: tuple[dict[str, str], Path]) -> None:
    env, opened = fake_browser
    script = write_film(tmp_path / "film")
    proc, url, port = start(script, "--port", "0", "--no-open", env=env)
    try:
        assert port > 0
        state = wait_for_preview(url)
        assert state["check"]["ok"] and (state["preview"]["width"], state["preview"]["height"]) == (64, 36)
        with urllib.request.urlopen(url + state["preview"]["url"].lstrip("/"), timeout=5) as r:
            assert r.read(8)[4:8] == b"ftyp"
        time.sleep(0.3)
        assert not opened.exists()  # --no-open
    finally:
        code, err = interrupt(proc)
    assert code == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert "preview ready" in err  # the build's line


def test_a_given_port_and_the_browser_opened(tmp_path: Path, fake_browser: tuple[dict[str, str], Path]) -> None:
    env, opened = fake_browser
    script = write_film(tmp_path / "film")
    sock = bind(0)
    free = sock.getsockname()[1]
    sock.close()
    proc, url, port = start(script, "--port", str(free), env=env)
    try:
        assert port == free and url == f"http://127.0.0.1:{free}/"
        deadline = time.monotonic() + 10
        while not opened.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert opened.read_text(encoding="utf-8") == url
    finally:
        code, err = interrupt(proc)
    assert code == 130, err


def test_a_port_in_use_and_a_missing_script(tmp_path: Path) -> None:
    script = write_film(tmp_path / "film")
    sock = bind(0)
    try:
        port = sock.getsockname()[1]
        run = subprocess.run([sys.executable, "-m", "nyeshc.cli", "studio", str(script), "--port", str(port),
                              "--no-open"], capture_output=True, text=True, timeout=30, check=False)
        assert run.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in run.stderr
        assert "--port 0 takes a free port" in run.stderr
    finally:
        sock.close()
    run = subprocess.run([sys.executable, "-m", "nyeshc.cli", "studio", str(tmp_path / "none.nysh"), "--no-open"],
                         capture_output=True, text=True, timeout=30, check=False)
    assert run.returncode == 2 and "none.nysh not found" in run.stderr


@pytest.mark.parametrize("missing", ["uvicorn", "starlette"])
def test_without_the_studio_extra_it_says_what_to_install(tmp_path: Path, missing: str) -> None:
    """A plain ``pip install nyeshc`` has neither: one line naming the extra, exit 2 (it was a
    traceback from the server's lazy import of uvicorn)."""
    script = write_film(tmp_path / "film")
    code = (f"import sys; sys.modules[{missing!r}] = None\n"
            "from nyeshc.cli import main\n"
            f"sys.exit(main(['studio', {str(script)!r}, '--port', '0', '--no-open']))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 2, run.stderr
    assert "pip install 'nyeshc[studio]'" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "film" / ".nyeshc-cache" / "studio").exists()  # nothing started
