"""``nyeshc studio FILM [--port N] [--no-open]``: see the film while it is written.

Serves a page on http://127.0.0.1:PORT/ (127.0.0.1 only) with the latest preview in a video
player, the timeline picture under it (click a block to go to its start; a playhead follows
the video), the script with its diagnostics, and the running build's progress. Each save of
the script, a file it includes or its ``nysh.toml`` is checked at once; when there are no
errors a preview (half size, fast preset, through the cache) is rendered into
``CACHE/studio/`` and the page reloads it at the same position. Needs the ``studio`` extra
(``pip install 'nyeshc[studio]'``: starlette, uvicorn). See ``docs/studio.md``.

Ctrl-C stops the server and the build (a render in progress is abandoned; running jobs finish
first) and exits 130.
"""

from __future__ import annotations

import argparse
import sys
import time

from nyeshc.commands.common import add_script_argument


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_script_argument(p)
    p.add_argument("--port", type=int, default=8765, metavar="N",
                   help="the port on 127.0.0.1 (default 8765; 0 picks a free one); the URL is printed")
    p.add_argument("--no-open", action="store_true", help="do not open the page in a web browser")
    p.add_argument("--cache", metavar="DIR",
                   help="the artifact cache (default: .nyeshc-cache beside the script); previews go to DIR/studio")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    script = Path(args.script)
    if not script.is_file():
        print(f"nyeshc studio: {script} not found", file=sys.stderr)
        return 2
    if not 0 <= args.port <= 65535:
        print(f"nyeshc studio: --port must be 0..65535 (got {args.port})", file=sys.stderr)
        return 2
    try:  # the server imports them only when it starts: ask here, before anything runs
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401

        from nyeshc.studio.server import StarletteTooOld, serve
        from nyeshc.studio.session import Studio
    except ImportError as exc:
        print(f"nyeshc studio: the studio needs starlette and uvicorn ({exc}); install them with: "
              "pip install 'nyeshc[studio]'", file=sys.stderr)
        return 2

    def log(line: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)

    studio = Studio(script, cache=args.cache, allow_outside=args.allow_outside, log=log)
    try:
        serve(studio, args.port, open_browser=not args.no_open,
              announce=lambda url: print(f"nyeshc studio: {url} (Ctrl-C to stop)", flush=True))
    except StarletteTooOld as exc:
        print(f"nyeshc studio: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"nyeshc studio: cannot listen on 127.0.0.1:{args.port}: {exc.strerror or exc}"
              f"{' (--port 0 takes a free port)' if args.port else ''}", file=sys.stderr)
        return 2
    return 0
