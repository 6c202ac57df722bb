"""What the studio's tests share (imported by the tests beside it): the tiny film they open,
and ``nyeshc studio`` run as a command."""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nyeshc.studio.session import Studio

# two short scenes at 128x72 (the preview is 64x36); the crossfade makes scene 2 start at 1.5 s
FILM = """title: "Tiny"
canvas: 128x72, 24fps
seed: 3

look A:
    image: generate, seed 1
look B:
    image: generate, seed 2

SCENE 1 "One", 2s:
    backdrop: A

CROSSFADE TO: 500ms

SCENE 2 "Two", 2s:
    backdrop: B
"""


def write_film(folder: Path, text: str = FILM) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "tiny.nysh"
    script.write_text(text, encoding="utf-8")
    return script


URL = re.compile(r"nyeshc studio: (http://127\.0\.0\.1:(\d+)/) \(Ctrl-C to stop\)")


def start(script: Path, *args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str, int]:
    """Run the studio; returns the process, the URL and the port it printed."""
    proc = subprocess.Popen([sys.executable, "-m", "nyeshc.cli", "studio", str(script), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=script.parent,
                            env={**os.environ, **(env or {})})
    line = proc.stdout.readline() if proc.stdout else ""
    found = URL.search(line)
    if found is None:
        proc.kill()
        _, err = proc.communicate(timeout=10)
        raise AssertionError(f"no URL printed: {line!r} {err}")
    return proc, found.group(1), int(found.group(2))


def interrupt(proc: subprocess.Popen) -> tuple[int, str]:
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    return proc.returncode, err


@dataclass
class Served:
    studio: Studio
    port: int
    server: Any

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def request(self, path: str, headers: dict[str, str] | None = None, method: str = "GET",
                ) -> tuple[int, dict[str, str], bytes]:
        """One request with ``path`` sent exactly as given; ``Host: 127.0.0.1:PORT`` unless
        ``headers`` names another."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            sent = {"Host": self.host, **(headers or {})}
            for name, value in sent.items():
                conn.putheader(name, value)
            conn.endheaders()
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()
