"""What several commands share: their arguments, printing diagnostics, and the pipeline
driver (:mod:`nyeshc.pipeline`) called with a command's arguments.

The driver itself — config → load → check → plan → disk budget, and running the jobs — is
:mod:`nyeshc.pipeline`, which knows nothing of argparse; :func:`prepare` and :func:`run_jobs`
here read its options from ``args`` and print what it reports as ``nyeshc COMMAND: …`` and
diagnostics on stderr (:class:`CliReport`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from nyeshc.diagnostics import Diagnostic
    from nyeshc.pipeline import Prepared

__all__ = ["EXECUTORS", "CliReport", "add_build_arguments", "add_max_disk_argument", "add_plan_arguments",
           "add_script_argument", "choose_executor", "disk_limit", "prepare", "print_diagnostics", "run_jobs",
           "size_argument",
           "Checked", "Prepared", "Stop", "load_and_check", "with_canvas_scaled"]  # noqa: F822 - by __getattr__

EXECUTORS = ("local", "ray")
"""``nyeshc.pipeline.EXECUTORS`` (a test keeps them equal): written here so that building a
command's parser imports neither the pipeline nor the front end (``nyeshc build`` decides a
rebuild with nothing changed before those imports, :mod:`nyeshc.uptodate`)."""

_FROM_PIPELINE = frozenset({"Checked", "Prepared", "Stop", "load_and_check", "with_canvas_scaled"})


def __getattr__(name: str) -> Any:
    """The pipeline's names, imported on first use (see :data:`EXECUTORS`)."""
    if name in _FROM_PIPELINE:
        from nyeshc import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def add_script_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("script", metavar="FILM.nysh", help="the script")
    p.add_argument("--allow-outside", action="store_true",
                   help="let includes and assets point outside the script's folder")


def print_diagnostics(diagnostics: list[Diagnostic], sources: dict[str, str], fmt: str = "human",
                      stream: TextIO | None = None) -> None:
    from nyeshc.diagnostics import render_human, render_json, render_short

    stream = stream or sys.stderr
    if fmt == "json":
        print(render_json(diagnostics, sources), file=stream)
        return
    if fmt == "short":
        for d in diagnostics:
            print(render_short(d, sources), file=stream)
        return
    if not diagnostics:  # nothing to print, and no need to import rich for it
        return
    from rich.console import Console

    console = Console(file=stream, highlight=False, soft_wrap=True)
    for d in diagnostics:
        text = render_human(d, sources)
        style = "bold red" if d.is_error else "bold yellow"
        head, _, rest = text.partition("\n")
        console.print(head, style=style, markup=False)
        if rest:
            console.print(rest, markup=False)
        console.print()
    errors = sum(d.is_error for d in diagnostics)
    warnings = len(diagnostics) - errors
    console.print(f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}",
                  style="bold red" if errors else "bold yellow", markup=False)


# --------------------------------------------------------------------------- planning


def add_plan_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", metavar="P", help="the nysh.toml profile (default: the config's default)")
    p.add_argument("--config", metavar="PATH", help="the config file (default: nysh.toml beside the script)")
    p.add_argument("--cache", metavar="DIR", help="the artifact cache (default: .nyeshc-cache beside the script)")
    add_max_disk_argument(p)


def size_argument(text: str) -> int:
    """``--max-disk 20G`` → bytes (an argparse ``type``)."""
    from nyeshc.config import parse_size

    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def add_max_disk_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-disk", metavar="SIZE", type=size_argument,
                   help="refuse a film whose plan would write more than SIZE to disk, e.g. 20G "
                        "(default: [limits] disk in nysh.toml, else 50G)")


def add_build_arguments(p: argparse.ArgumentParser) -> None:
    add_plan_arguments(p)
    p.add_argument("--no-cache", action="store_true",
                   help="neither read nor write the cache (a temporary one is used and deleted)")
    p.add_argument("--jobs", "-j", type=int, metavar="N",
                   help="parallel jobs, and processes composing the film's segments (default: the number of cores)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars, only errors")
    p.add_argument("-v", "--verbose", action="store_true", help="print each stage's timing and the plan summary")
    p.add_argument("--executor", choices=EXECUTORS, default=None,
                   help="where jobs run: local processes, or Ray tasks (default: nysh.toml's "
                        "[executor] kind, else local)")
    p.add_argument("--address", metavar="ADDR", default=None,
                   help="the Ray cluster for --executor ray: auto, or ray://HOST:PORT "
                        "(default: nysh.toml's [executor] address, else a local Ray instance)")


class CliReport:
    """A :class:`nyeshc.pipeline.Report` for the command line: ``nyeshc COMMAND: …`` and the
    diagnostics on stderr; with ``quiet``, diagnostics without an error are not printed."""

    def __init__(self, command: str, quiet: bool = False) -> None:
        self.command = command
        self.quiet = quiet

    def problem(self, text: str) -> None:
        print(f"nyeshc {self.command}: {text}", file=sys.stderr)

    def detail(self, text: str) -> None:
        print(text, file=sys.stderr)

    def diagnostics(self, found: Sequence[Diagnostic], sources: Mapping[str, str]) -> None:
        if self.quiet and not any(d.is_error for d in found):
            return
        print_diagnostics(list(found), dict(sources))


def prepare(args: argparse.Namespace, command: str, *, canvas_scale: float | None = None) -> Prepared:
    """:func:`nyeshc.pipeline.prepare` for ``args.script`` with the command's options
    (``--config``, ``--profile``, ``--allow-outside``, ``--max-disk``, ``--cache``, ``-q``)."""
    from nyeshc import pipeline

    return pipeline.prepare(args.script, CliReport(command, getattr(args, "quiet", False)),
                            config=getattr(args, "config", None), profile=getattr(args, "profile", None),
                            allow_outside=getattr(args, "allow_outside", False),
                            max_disk=getattr(args, "max_disk", None), cache=getattr(args, "cache", None),
                            canvas_scale=canvas_scale, jobs=getattr(args, "jobs", None))


def run_jobs(prepared: Prepared, args: argparse.Namespace, plan: Any, command: str,
             when_done: tuple[Collection[str], Callable[[], None]] | None = None) -> Any:
    """:func:`nyeshc.pipeline.run_jobs` with the command's options (``--executor``,
    ``--address``, ``--no-cache``, ``--jobs``, ``-q``, ``-v``)."""
    from nyeshc import pipeline

    return pipeline.run_jobs(prepared, plan, CliReport(command, getattr(args, "quiet", False)),
                             executor=getattr(args, "executor", None), address=getattr(args, "address", None),
                             use_cache=not getattr(args, "no_cache", False), jobs=getattr(args, "jobs", None),
                             progress=not getattr(args, "quiet", False), verbose=getattr(args, "verbose", False),
                             when_done=when_done)


def choose_executor(prepared: Prepared, args: argparse.Namespace, command: str) -> tuple[str, dict[str, Any]]:
    """:func:`nyeshc.pipeline.choose_executor` with ``--executor``/``--address``."""
    from nyeshc import pipeline

    return pipeline.choose_executor(prepared, CliReport(command), executor=getattr(args, "executor", None),
                                    address=getattr(args, "address", None))


def disk_limit(args: argparse.Namespace, config: Any) -> int:
    """The disk budget: ``--max-disk``, else ``[limits] disk``, else 50 GB."""
    from nyeshc import pipeline

    return pipeline.disk_limit(config, getattr(args, "max_disk", None))
