"""``nyeshc conform FILM.nysh EDITED.otio|.xml|.edl [-o NEW.nysh | --in-place]``: an editor's
cut of an exported film, brought back into the script (see :mod:`nyeshc.export.conform` and
``docs/interchange.md``).

Without ``-o`` or ``--in-place`` the conformed script is printed to stdout. What the cut
changed is listed on stderr, and so is everything that could not be mapped. The output is
written to a temporary file and renamed: a failure leaves nothing half-written. Exit codes: 0
ok; 1 the script has errors (or the result would not parse); 2 usage, a missing optional
package, or a cut that cannot be conformed (another script's export, an unreadable file).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nyeshc.commands.common import Stop, add_plan_arguments, add_script_argument, prepare, print_diagnostics


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_script_argument(p)
    p.add_argument("cut", metavar="EDITED", help="the edited timeline: .otio, .otioz, .xml (FCP 7) or .edl")
    where = p.add_mutually_exclusive_group()
    where.add_argument("-o", "--output", metavar="NEW.nysh", help="write the conformed script here")
    where.add_argument("--in-place", action="store_true", help="rewrite the script itself")
    p.add_argument("-q", "--quiet", action="store_true", help="do not list the changes (unmapped edits still are)")
    add_plan_arguments(p)


def _fail(msg: str, code: int) -> int:
    print(f"nyeshc conform: {msg}", file=sys.stderr)
    return code


def run(args: argparse.Namespace) -> int:
    from nyeshc.export.conform import ConformError, conform, read_cut
    from nyeshc.export.otio import MissingDependency, require_otio
    from nyeshc.syntax import read
    from nyeshc.world import atomic_write_text

    script = Path(args.script)
    if not script.is_file():
        return _fail(f"{script} not found", 2)
    try:
        require_otio()
    except MissingDependency as exc:
        return _fail(str(exc), 2)
    text = script.read_text(encoding="utf-8")
    try:
        prepared = prepare(args, "conform")
    except Stop as stop:
        return stop.code
    plan = prepared.plan
    film, diagnostics = read(text, str(script))
    if any(d.is_error for d in diagnostics):
        print_diagnostics(diagnostics, {str(script): text})
        return 1
    try:
        cut = read_cut(args.cut, plan.timeline.fps)
        done = conform(text, film, plan, cut, label=Path(args.cut).name)
    except ConformError as exc:
        return _fail(str(exc), 2)
    new = done.text
    if new != text:
        from nyeshc.syntax.format import format_source

        canonical = format_source(text, str(script)).text == text
        again, problems = read(new, str(script))
        if any(d.is_error for d in problems):  # never write a script that does not parse
            print_diagnostics([d for d in problems if d.is_error], {str(script): new})
            return _fail("the conformed script would not parse (the errors above); nothing was written", 1)
        if canonical:  # the formatter puts inserted options in their canonical place
            formatted = format_source(new, str(script)).text
            new = formatted if formatted is not None else new
    if not args.quiet:
        for change in done.changes:
            print(f"changed: {change}", file=sys.stderr)
        if not done.changes:
            print("no change", file=sys.stderr)
    for item in done.unmapped:
        print(f"not mapped: {item}", file=sys.stderr)
    if args.in_place or args.output:
        target = script if args.in_place else Path(args.output)
        if target.resolve() != script.resolve() or new != text:
            atomic_write_text(target, new)
    else:
        sys.stdout.write(new)
    return 0
