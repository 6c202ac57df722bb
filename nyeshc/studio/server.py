"""The studio's web server: Starlette on 127.0.0.1, uvicorn underneath.

What it serves, and nothing else (every other path is 404):

* ``/`` and ``/static/NAME``: the page, from the files shipped in ``nyeshc/studio/static/``,
  read into memory when the app is made (a name is looked up, never joined to a path);
* ``/preview/preview-<hex>.mp4``: a preview this studio rendered and still keeps (see
  :meth:`Studio.preview_file`: a plain file inside the cache folder, never a symlink), with
  HTTP Range requests (Starlette's ``FileResponse``), which a ``<video>`` needs to seek;
* ``/timeline.svg?width=PX``: the current preview's timeline picture (drawn once per width);
* ``/api/state``: the latest check, progress and preview as JSON;
* ``/events``: server-sent events (``check``, ``progress``, ``preview``, ``queued``), the
  latest of each kind first.

Every request passes :class:`Guard` first: its ``Host`` must be ``127.0.0.1:PORT`` or
``localhost:PORT`` (a page on another name that resolves here — DNS rebinding — gets 403), an
``Origin`` header, when sent, must be that origin, a ``Sec-Fetch-Site`` header must be
``same-origin`` or ``none`` (another site's page cannot embed the preview), and only GET and
HEAD are answered. Responses carry a Content-Security-Policy that allows the page's own
scripts only, so the script text and the SVG (which contain the writer's words) can never run
code.
"""

from __future__ import annotations

import socket
import sys
import threading
import webbrowser
from collections.abc import AsyncIterator, Callable
from importlib import resources
from typing import Any

from nyeshc.studio.session import TIMELINE_WIDTH, Closed, Studio

__all__ = ["KEEPALIVE_S", "MIN_STARLETTE", "Guard", "StarletteTooOld", "bind", "check_starlette", "create_app", "serve"]

KEEPALIVE_S = 15.0
# FileResponse answers Range requests since Starlette 0.39 (a <video> cannot seek without them);
# 0.49.1 fixed their quadratic parsing (CVE-2025-62727)
MIN_STARLETTE = (0, 49, 1)


class StarletteTooOld(ImportError):
    """The installed Starlette cannot serve the preview as the studio needs."""


def check_starlette(version: str) -> None:
    """Raise :class:`StarletteTooOld` (naming the fix) when ``version`` is below
    :data:`MIN_STARLETTE`."""
    parts = []
    for word in version.split(".")[:3]:
        digits = "".join(ch for ch in word if ch.isdigit()) if word else ""
        parts.append(int(digits or 0))
    if tuple(parts) < MIN_STARLETTE:
        need = ".".join(map(str, MIN_STARLETTE))
        raise StarletteTooOld(f"the studio needs starlette >= {need} (Range requests for the video, "
                              f"CVE-2025-62727 fixed); this is {version}: pip install 'starlette>={need}'")
_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
_CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "media-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
_HEADERS = [(b"content-security-policy", _CSP.encode()), (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"), (b"cross-origin-resource-policy", b"same-origin")]


def static_files() -> dict[str, bytes]:
    """The page's files by name (``index.html``, ``studio.js``, ``studio.css``)."""
    folder = resources.files("nyeshc.studio") / "static"
    return {entry.name: entry.read_bytes() for entry in folder.iterdir()
            if entry.is_file() and not entry.name.startswith(".")}


class Guard:
    """ASGI middleware: refuses requests that are not from this studio's own page on
    127.0.0.1 (see the module docstring) and adds the security headers to every answer."""

    def __init__(self, app: Any, port: Callable[[], int]) -> None:
        self.app = app
        self.port = port

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        why = self.refusal(scope)
        if why is not None:
            status, text = why
            body = text.encode()
            await send({"type": "http.response.start", "status": status,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                    (b"content-length", str(len(body)).encode()), *_HEADERS]})
            await send({"type": "http.response.body", "body": body})
            return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *_HEADERS]}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def refusal(self, scope: dict[str, Any]) -> tuple[int, str] | None:
        """``(status, reason)`` for a request that must be refused, else ``None``."""
        headers: dict[str, str] = {}
        for key, value in scope.get("headers", []):
            headers.setdefault(key.decode("latin-1").lower(), value.decode("latin-1"))
        port = self.port()
        hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}
        host = headers.get("host", "")
        if host not in hosts:
            return 403, f"this studio answers only http://127.0.0.1:{port}/ (the request named host {host!r})\n"
        origin = headers.get("origin")
        if origin is not None and origin not in {f"http://{h}" for h in hosts}:
            return 403, f"requests from another origin ({origin}) are refused\n"
        site = headers.get("sec-fetch-site")
        if site is not None and site not in ("same-origin", "none"):
            return 403, f"requests from another site (Sec-Fetch-Site: {site}) are refused\n"
        if scope.get("method") not in ("GET", "HEAD"):
            return 405, "the studio is read-only: only GET and HEAD\n"
        return None


def create_app(studio: Studio, port: int | Callable[[], int]) -> Any:
    """The studio's ASGI app (Starlette, wrapped in :class:`Guard`) for requests addressed to
    ``127.0.0.1:port`` (``port`` may be a function, read at each request)."""
    import anyio.to_thread
    import starlette
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import (
        FileResponse,
        JSONResponse,
        PlainTextResponse,
        Response,
        StreamingResponse,
    )
    from starlette.routing import Route

    check_starlette(starlette.__version__)
    files = static_files()
    if "index.html" not in files:
        raise FileNotFoundError("nyeshc/studio/static/index.html is missing from the installed package")
    not_found = PlainTextResponse("not found\n", status_code=404)
    no_store = {"cache-control": "no-store"}

    def static(name: str) -> Response:
        data = files.get(name)
        if data is None:
            return not_found
        suffix = name[name.rfind("."):] if "." in name else ""
        return Response(data, media_type=_TYPES.get(suffix, "application/octet-stream"), headers=no_store)

    async def index(request: Request) -> Response:
        return static("index.html")

    async def static_route(request: Request) -> Response:
        name = request.path_params["name"]
        return static(name) if name != "index.html" else not_found

    async def preview(request: Request) -> Response:
        path = studio.preview_file(request.path_params["name"])
        if path is None:
            return not_found
        # named by its content: a name's bytes never change, so a browser may keep it
        return FileResponse(path, media_type="video/mp4", headers={"cache-control": "private, max-age=3600"})

    async def timeline(request: Request) -> Response:
        try:
            width = int(request.query_params.get("width", TIMELINE_WIDTH))
        except ValueError:
            width = TIMELINE_WIDTH
        svg = await anyio.to_thread.run_sync(studio.timeline_svg, width)
        if svg is None:
            return not_found
        return Response(svg, media_type="image/svg+xml", headers=no_store)

    async def state(request: Request) -> Response:
        return JSONResponse(studio.state(), headers=no_store)

    async def events(request: Request) -> Response:
        async def stream() -> AsyncIterator[bytes]:
            yield b"retry: 1000\n\n"
            last = 0
            for event in studio.hub.latest():
                last = max(last, event.id)
                yield event.encode()
            while True:
                try:
                    found = await anyio.to_thread.run_sync(studio.hub.wait, last, KEEPALIVE_S,
                                                           abandon_on_cancel=True)
                except Closed:
                    return
                if not found:
                    yield b": keepalive\n\n"
                for event in found:
                    last = max(last, event.id)
                    yield event.encode()

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"cache-control": "no-store", "x-accel-buffering": "no"})

    routes = [
        Route("/", index, methods=["GET", "HEAD"]),
        Route("/static/{name}", static_route, methods=["GET", "HEAD"]),
        Route("/preview/{name}", preview, methods=["GET", "HEAD"]),
        Route("/timeline.svg", timeline, methods=["GET", "HEAD"]),
        Route("/api/state", state, methods=["GET", "HEAD"]),
        Route("/events", events, methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    return Guard(app, port if callable(port) else (lambda: int(port)))


def bind(port: int) -> socket.socket:
    """A listening TCP socket on 127.0.0.1:``port`` (0: a free port). Raises ``OSError``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def serve(studio: Studio, port: int = 0, *, open_browser: bool = True,
          announce: Callable[[str], None] | None = None) -> None:
    """Serve ``studio`` on 127.0.0.1:``port`` (0: a free one) until SIGINT/SIGTERM.

    The URL is passed to ``announce`` (default: printed on stdout) once the socket listens;
    with ``open_browser`` it is then opened with :mod:`webbrowser`. The studio's threads start
    with the server and are stopped when it stops (uvicorn re-raises the signal afterwards, so
    Ctrl-C reaches the caller as ``KeyboardInterrupt``). Raises ``OSError`` when the port
    cannot be bound."""
    import uvicorn

    sock = bind(port)
    bound = sock.getsockname()[1]
    url = f"http://127.0.0.1:{bound}/"
    try:
        app = create_app(studio, bound)
    except BaseException:
        sock.close()
        raise

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            # the event streams never end by themselves: end them so shutdown need not wait
            threading.Thread(target=studio.hub.close, daemon=True).start()
            super().handle_exit(sig, frame)

    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                            timeout_graceful_shutdown=3)
    server = Server(config)
    (announce or (lambda text: print(text, flush=True)))(url)
    studio.start()
    if open_browser:
        threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
    try:
        server.run(sockets=[sock])
    finally:
        studio.stop()
        sock.close()
        sys.stdout.flush()

