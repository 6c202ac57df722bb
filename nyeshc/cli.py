"""The command line: ``nyeshc FILM.nysh -o OUT.mp4`` and the subcommands.

Each subcommand lives in ``nyeshc/commands/<name>.py`` with ``add_arguments(parser)`` and
``run(args) -> int``; this module only dispatches. The bare form (a script path first) is the
build. The parser is declared from :data:`COMMANDS` (names and help strings) and only the
command that runs has its module imported and its flags added, so ``nyeshc --version`` and
``nyeshc check`` do not pay for the build's imports (``nyeshc COMMAND -h`` imports that one
command's module; ``nyeshc -h`` none). Exit codes: 0 ok; 1 the script has errors; 2 usage; 3 a backend or render failure, or a
full disk.

A command's timings count from ``args.started``: the start of the process when ``main`` runs
as the program (so ``wrote … in X s`` includes Python's start-up and nyeshc's imports, as a
stopwatch would), or the call to ``main`` when it is called with ``argv`` (tests, tools).

The program (the ``nyeshc`` command, ``python -m nyeshc.cli``) is :func:`entry`: :func:`main`,
then the process ends without Python's teardown of every object the command made (see
:func:`exit_now`).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import importlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from typing import NoReturn

from nyeshc import PROCESS_STARTED, __version__

COMMANDS: dict[str, str] = {
    "build": "render the film (the default: nyeshc FILM.nysh -o OUT.mp4)",
    "check": "check a script and print its diagnostics",
    "fmt": "format scripts canonically",
    "plan": "print the timeline, the job graph and estimated costs",
    "still": "render one frame to a PNG",
    "rosetta": "draw an alphabet's chart (the film's Rosetta stone)",
    "storyboard": "a storyboard of the film's shots: a PDF or one HTML file",
    "cache": "inspect or clean the artifact cache",
    "lsp": "run the language server for editors (stdio)",
    "watch": "re-render a preview whenever the script or its includes are saved",
    "studio": "a local web page: the preview, the timeline and the diagnostics, updated on every save",
    "export": "export the film: OTIO, FCP XML, EDL, Fountain, SRT/VTT",
    "import": "turn a Fountain screenplay into a .nysh film",
    "conform": "bring an editor's cut (OTIO, FCP XML, EDL) back into the script",
    "doctor": "check that this machine can render with a profile (ffmpeg, torch, GPUs, checkpoints)",
    "models": "list, pull, verify and locate known models (and write them into nysh.toml)",
}
# commands whose module name differs from the command (``import`` is a Python keyword)
MODULES: dict[str, str] = {"import": "import_"}


def _module(name: str):  # noqa: ANN202 - a module
    return importlib.import_module(f"nyeshc.commands.{MODULES.get(name, name)}")


def build_parser(commands: Iterable[str] | None = None) -> argparse.ArgumentParser:
    """The parser with every command declared; the flags of ``commands`` only (all of them by
    default), so that only those commands' modules are imported."""
    wanted = set(COMMANDS if commands is None else commands)
    parser = argparse.ArgumentParser(
        prog="nyeshc",
        description="Compile a .nysh screenplay into a film.",
        epilog="Run 'nyeshc FILM.nysh -o OUT.mp4' to render; 'nyeshc COMMAND -h' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"nyeshc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name in wanted:
            _module(name).add_arguments(p)
    return parser


def command_named(args: Sequence[str]) -> str | None:
    """The command ``args`` run, as argparse will read it: the first word that is not an option
    (the top-level options take no values), if it names a command."""
    for word in args:
        if word == "--":
            continue
        if not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


class Terminated(KeyboardInterrupt):  # noqa: N818 - handled exactly like Ctrl-C
    """SIGTERM, turned into an exception so every cleanup path of Ctrl-C runs (the executor's
    workers are stopped, ffmpeg is killed, temporary files are removed)."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated()


def main(argv: Sequence[str] | None = None) -> int:
    started = PROCESS_STARTED if argv is None else time.perf_counter()
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] not in COMMANDS and not args_list[0].startswith("-"):
        args_list.insert(0, "build")
    command = command_named(args_list)
    parser = build_parser(() if command is None else (command,))
    if not args_list:
        parser.print_help(sys.stderr)
        return 2
    args = parser.parse_args(args_list)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    args.started = started
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if argv is None else None
    try:
        return int(_module(args.command).run(args))
    except KeyboardInterrupt as exc:
        terminated = isinstance(exc, Terminated) or type(exc).__name__ == "Interrupted"
        print("nyeshc: terminated" if terminated else "nyeshc: interrupted", file=sys.stderr)
        return 128 + (signal.SIGTERM if terminated else signal.SIGINT)
    except BrokenPipeError:
        return 0
    except OSError as exc:  # a full disk anywhere a command writes: one line, not a traceback
        from nyeshc.world import disk_full_error, disk_full_message

        full = disk_full_error(exc)
        if full is None:
            raise
        name = os.fsdecode(full.filename) if full.filename else ""
        print(f"nyeshc {args.command}: " + disk_full_message(repr(os.path.basename(name)) if name else "files",
                                                            os.path.dirname(os.path.abspath(name)) if name
                                                            else os.getcwd()), file=sys.stderr)
        return 3
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def exit_now(code: int) -> NoReturn:
    """End the process with ``code`` once the command is done, skipping Python's teardown.

    At exit Python frees every object still alive one by one (the plan, the timeline, the
    parsers' tables, numpy's and Pillow's modules): 45 ms after a one-line edit of the tutorial's
    film had been written (1.3 s in all), time the writer waits for the prompt and the operating
    system does at once. What exit does that matters is still done: the ``atexit`` functions
    (multiprocessing's, logging's flush, ``weakref.finalize``, coverage's) and the flush of
    standard output and error. While a thread that is not a daemon still runs, Python's own
    exit is taken instead: it waits for that thread."""
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # closed, or a reader gone (a pipe): nothing to say it to
            if stream is not None:
                stream.flush()
    os._exit(code)


def entry() -> NoReturn:
    """The program: :func:`main`, then :func:`exit_now` with its exit status (an exception
    :func:`main` does not handle ends the process as Python ends it, with its traceback)."""
    exit_now(main())


if __name__ == "__main__":  # pragma: no cover
    entry()
