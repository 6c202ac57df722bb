"""``nyeshc watch FILM.nysh -o preview.mp4``: re-render a preview whenever the script (or a
file it includes, or its ``nysh.toml``) is saved.

Every 0.5 s the modification times are polled; on a change the build runs with ``--preview``
semantics (half size, crf 23) through the cache, so only what changed is made again. A
script with errors gets its diagnostics printed instead of a render. Ctrl-C exits 130.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from nyeshc.commands import build
from nyeshc.commands.common import add_build_arguments, add_script_argument
from nyeshc.media import DEFAULT_CRF
from nyeshc.world import mtimes

POLL_S = 0.5


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_script_argument(p)
    p.add_argument("-o", "--output", metavar="OUT.mp4",
                   help="the preview to write (default: FILM.preview.mp4 beside the script)")
    add_build_arguments(p)
    p.add_argument("--full", action="store_true", help="render at full size instead of a preview")
    p.add_argument("--once", action="store_true", help="render once and exit (for scripts and tests)")
    p.add_argument("--interval", type=float, default=POLL_S, help="seconds between polls (default 0.5)")


def watched_files(script: Path, allow_outside: bool = False) -> list[Path]:
    """The script, the files it includes (as it stands now) and its ``nysh.toml``."""
    from nyeshc.syntax import load
    from nyeshc.world import World

    files = {script.resolve()}
    try:
        loaded = load(script, World.for_script(script, allow_outside=allow_outside))
        files.update(loaded.paths.values())
    except Exception:  # noqa: BLE001 - a broken script is still watched
        pass
    config = script.resolve().parent / "nysh.toml"
    files.add(config)
    return sorted(files)


def build_args(args: argparse.Namespace) -> argparse.Namespace:
    """The build command's arguments for one preview render."""
    script = Path(args.script)
    output = args.output or str(script.with_name(script.stem + ".preview.mp4"))
    return argparse.Namespace(
        script=args.script, output=output, allow_outside=args.allow_outside,
        profile=args.profile, config=args.config, cache=args.cache, no_cache=args.no_cache,
        jobs=args.jobs, quiet=args.quiet, verbose=args.verbose, preview=not args.full,
        scene=None, start=None, end=None, crf=23 if not args.full else DEFAULT_CRF, preset=None,
    )


def render_once(args: argparse.Namespace) -> int:
    stamp = time.strftime("%H:%M:%S")
    print(f"[{stamp}] rendering {args.script}", file=sys.stderr)
    code = build.run(build_args(args))
    if code == 1:
        print(f"[{time.strftime('%H:%M:%S')}] the script has errors; fix them and save again", file=sys.stderr)
    elif code == 0:
        print(f"[{time.strftime('%H:%M:%S')}] ready; watching for changes (Ctrl-C to stop)", file=sys.stderr)
    return code


def run(args: argparse.Namespace) -> int:
    script = Path(args.script)
    if not script.is_file():
        print(f"nyeshc watch: {script} not found", file=sys.stderr)
        return 2
    problem = build.check_output(Path(build_args(args).output), script)
    if problem:
        print(f"nyeshc watch: {problem}", file=sys.stderr)
        return 2
    code = render_once(args)
    if args.once:
        return code
    files = watched_files(script, args.allow_outside)
    seen = mtimes(files)
    while True:  # Ctrl-C: KeyboardInterrupt, turned into exit status 130 by nyeshc.cli
        time.sleep(max(0.05, args.interval))
        now = mtimes(files)
        if now == seen:
            continue
        time.sleep(0.1)  # let an editor finish writing
        render_once(args)
        files = watched_files(script, args.allow_outside)
        seen = mtimes(files)
