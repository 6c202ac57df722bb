"""``nyeshc fmt FILE... [--check] [--diff]``: rewrite scripts in their canonical form.

Files are rewritten in place, atomically (a temporary file in the same folder, then
``os.replace``). ``--check`` writes nothing and exits 1 when a file would change; ``--diff``
prints a unified diff instead; ``--upgrade`` also rewrites a version-1 script so that its film
stays the same under version 2 (:mod:`nyeshc.syntax.upgrade`). A file with syntax errors is never touched: its diagnostics are
printed and the exit status is 1. ``-`` reads standard input and writes standard output.

Exit codes: 0 nothing to do (or everything rewritten); 1 a file would change (``--check``,
``--diff``) or has syntax errors; 2 a file is missing or cannot be read or written.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

from nyeshc.diagnostics import Diagnostic, render_human
from nyeshc.syntax.format import format_source
from nyeshc.syntax.text import decode
from nyeshc.world import atomic_write_text


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", metavar="FILE", nargs="+", help="scripts to format ('-' for standard input)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true",
                      help="write nothing; exit 1 and name the files that would change")
    mode.add_argument("--diff", action="store_true", help="write nothing; print a unified diff of the changes")
    p.add_argument("--upgrade", action="store_true",
                   help="also rewrite a version-1 script for version 2, so its film stays the same: "
                        "untimed beats after a scene's first get 'at 0s' (the flow would move them)")


def _report(diagnostics: tuple[Diagnostic, ...] | list[Diagnostic], name: str, text: str) -> None:
    errors = [d for d in diagnostics if d.is_error] or list(diagnostics)
    for d in errors:
        print(render_human(d, {name: text}), file=sys.stderr)
        print(file=sys.stderr)
    print(f"nyeshc fmt: {name} has syntax errors; left unchanged", file=sys.stderr)


def _one(name: str, args: argparse.Namespace) -> int:
    """Format one file (or stdin); return its exit status."""
    stdin = name == "-"
    if stdin:
        data = sys.stdin.buffer.read()
        label = "<stdin>"
    else:
        path = Path(name)
        label = name
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            print(f"nyeshc fmt: {name}: no such file", file=sys.stderr)
            return 2
        except OSError as exc:
            print(f"nyeshc fmt: {name}: cannot read: {exc.strerror or exc}", file=sys.stderr)
            return 2
    text, problems = decode(data, label)
    if problems:
        _report(problems, label, text)
        return 1
    if getattr(args, "upgrade", False):
        from nyeshc.syntax.upgrade import upgrade_text

        result = format_source(upgrade_text(text, label), label)
    else:
        result = format_source(text, label)
    if result.text is None:
        _report(result.diagnostics, label, text)
        return 1
    changed = result.text != text
    if args.diff:
        if changed:
            sys.stdout.writelines(difflib.unified_diff(
                text.splitlines(keepends=True), result.text.splitlines(keepends=True),
                fromfile=f"a/{label}", tofile=f"b/{label}"))
        return 1 if changed else 0
    if args.check:
        if changed:
            print(f"would reformat {label}")
        return 1 if changed else 0
    if stdin:
        sys.stdout.write(result.text)
        return 0
    if changed:
        try:
            atomic_write_text(path, result.text)
        except OSError as exc:
            print(f"nyeshc fmt: {name}: cannot write: {exc.strerror or exc}", file=sys.stderr)
            return 2
        print(f"reformatted {label}", file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    status = 0
    for name in args.files:
        status = max(status, _one(name, args))
    if args.check and status == 0:
        count = len(args.files)
        print(f"{count} file{'s' * (count != 1)} already formatted", file=sys.stderr)
    return status
