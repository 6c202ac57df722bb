"""``nyeshc lsp``: the language server for editors, over standard input and output.

Needs the ``lsp`` extra (``pip install 'nyeshc[lsp]'``: pygls and lsprotocol). Scene hovers
show the scene's place on the film's timeline, planned with the real backends' facts
(:func:`nyeshc.pipeline.timeline_planner`), only when the script has no errors.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--stdio", action="store_true", help="talk over standard input and output (the default)")
    p.add_argument("--profile", metavar="P", help="the nysh.toml profile used to plan scene times on hover")


def planner(profile_name: str | None = None) -> Any:
    """``(script, film) -> Plan`` for hovers: :func:`nyeshc.pipeline.timeline_planner`."""
    from nyeshc.pipeline import timeline_planner

    return timeline_planner(profile_name)


def run(args: argparse.Namespace) -> int:
    try:
        from nyeshc.lsp.server import serve
    except ImportError as exc:
        print(f"nyeshc lsp: the language server needs pygls ({exc}); install it with: pip install 'nyeshc[lsp]'",
              file=sys.stderr)
        return 2
    serve(planner(getattr(args, "profile", None)))
    return 0
