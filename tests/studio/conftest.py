"""The studio's tests: a tiny film, and the studio's app served by a real uvicorn on a free
port of 127.0.0.1 (so paths reach the app exactly as a browser sends them, unnormalised)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from studio_support import Served

from nyeshc.studio.server import bind, create_app
from nyeshc.studio.session import Studio


@pytest.fixture
def serve() -> Iterator[Any]:
    """``serve(studio)``: run the studio's app on a free port until the test ends."""
    yield from _serving()


@pytest.fixture(scope="module")
def serve_module() -> Iterator[Any]:
    """``serve_module(studio)``: the same, until the module's tests end."""
    yield from _serving()


def _serving() -> Iterator[Any]:
    import uvicorn

    running: list[tuple[Any, threading.Thread, Studio]] = []

    def start(studio: Studio) -> Served:
        sock = bind(0)
        port = sock.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(create_app(studio, port), log_level="warning", lifespan="off",
                                               timeout_graceful_shutdown=1))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "the server did not start within 10 s"
            time.sleep(0.02)
        running.append((server, thread, studio))
        return Served(studio, port, server)

    yield start
    for server, _, studio in running:
        studio.stop()  # ends the event streams, so the server need not wait for them
        server.should_exit = True
    for _, thread, _ in running:
        thread.join(10)
