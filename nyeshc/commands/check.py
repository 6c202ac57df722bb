"""``nyeshc check FILE…``: read, check and report; render nothing.

Exit codes: 0 no errors (warnings allowed); 1 a script has errors; 2 usage (a file that does
not exist). Human and short reports go to stderr, JSON (one array for all files) to stdout.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nyeshc.diagnostics import Diagnostic


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", metavar="FILE", nargs="+", help="the scripts to check")
    p.add_argument("--format", choices=("human", "short", "json"), default="human",
                   help="how to print diagnostics: human (default), short (one line each) or json")
    p.add_argument("--allow-outside", action="store_true",
                   help="let includes and assets point outside each script's folder")


def run(args: argparse.Namespace) -> int:
    from nyeshc.commands.common import load_and_check, print_diagnostics

    missing = [f for f in args.files if not Path(f).is_file()]
    for f in missing:
        what = "is a folder, not a script" if Path(f).is_dir() else "does not exist"
        print(f"nyeshc check: {f} {what}", file=sys.stderr)
    if missing:
        return 2
    diagnostics: list[Diagnostic] = []
    sources: dict[str, str] = {}
    for f in args.files:
        try:
            checked = load_and_check(f, allow_outside=args.allow_outside)
        except Exception as exc:  # a bug in nyeshc, never the script's fault: say so, without a traceback
            print(f"nyeshc check: internal error while checking {f}: {type(exc).__name__}: {exc}\n"
                  "please report this with the script attached", file=sys.stderr)
            return 1
        diagnostics.extend(checked.diagnostics)
        sources.update(checked.loaded.sources)
    if args.format == "json":
        print_diagnostics(diagnostics, sources, "json", sys.stdout)
    else:
        print_diagnostics(diagnostics, sources, args.format, sys.stderr)
    return 1 if any(d.is_error for d in diagnostics) else 0
