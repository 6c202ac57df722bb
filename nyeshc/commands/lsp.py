"""``nyeshc lsp``: the language server for editors, over standard input and output.

Needs the ``lsp`` extra (``pip install 'nyeshc[lsp]'``: pygls and lsprotocol). Scene hovers
show the scene's place on the film's timeline, planned with the real backends' facts
(:class:`~nyeshc.commands.services.RegistryServices`), only when the script has no errors.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--stdio", action="store_true", help="talk over standard input and output (the default)")
    p.add_argument("--profile", metavar="P", help="the nysh.toml profile used to plan scene times on hover")


def planner(profile_name: str | None = None) -> Any:
    """``(script, film) -> Plan`` for hovers (scene times; the job keys of cached portraits and
    looks); the config is read beside each script."""

    def plan_timeline(script: Path, film: Any) -> Any:
        from nyeshc.commands.services import RegistryServices
        from nyeshc.config import load_config
        from nyeshc.plan import plan

        profile = load_config(script).profile(profile_name)
        return plan(film, profile, RegistryServices(profile), root=script.parent)

    return plan_timeline


def run(args: argparse.Namespace) -> int:
    try:
        from nyeshc.lsp.server import serve
    except ImportError as exc:
        print(f"nyeshc lsp: the language server needs pygls ({exc}); install it with: pip install 'nyeshc[lsp]'",
              file=sys.stderr)
        return 2
    serve(planner(getattr(args, "profile", None)))
    return 0
