"""What several commands share: reading a script, checking it, printing diagnostics."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console

from nyeshc.diagnostics import Diagnostic, render_human, render_json, render_short
from nyeshc.syntax import Loaded, load
from nyeshc.world import World


def add_script_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("script", metavar="FILM.nysh", help="the script")
    p.add_argument("--allow-outside", action="store_true",
                   help="let includes and assets point outside the script's folder")


@dataclass
class Checked:
    loaded: Loaded
    world: World
    diagnostics: list[Diagnostic]

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.diagnostics)


def load_and_check(script: str, *, allow_outside: bool = False) -> Checked:
    """Read, lower and check ``script``; every problem is a diagnostic, nothing raises."""
    from nyeshc.check import check

    path = Path(script)
    world = World.for_script(path, allow_outside=allow_outside)
    loaded = load(path, world)
    diagnostics = list(loaded.diagnostics)
    if loaded.sources:
        # the loader already reports what it refused to open (E209 includes): no second copy
        reported = {(d.code, d.span) for d in diagnostics}
        diagnostics.extend(d for d in check(loaded, world) if (d.code, d.span) not in reported)
    diagnostics.sort(key=lambda d: (d.span.file != loaded.film.path, d.span.file, d.span.start, d.code))
    return Checked(loaded, world, diagnostics)


def print_diagnostics(diagnostics: list[Diagnostic], sources: dict[str, str], fmt: str = "human",
                      stream: TextIO | None = None) -> None:
    stream = stream or sys.stderr
    if fmt == "json":
        print(render_json(diagnostics, sources), file=stream)
        return
    if fmt == "short":
        for d in diagnostics:
            print(render_short(d, sources), file=stream)
        return
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
    if diagnostics:
        console.print(f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}",
                      style="bold red" if errors else "bold yellow", markup=False)


# --------------------------------------------------------------------------- planning


class Stop(Exception):
    """Ends a command with ``code`` after its message has been printed."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


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


def disk_limit(args: argparse.Namespace, config: Any) -> int:
    """The disk budget: ``--max-disk``, else ``[limits] disk``, else 50 GB."""
    from nyeshc.plan.budget import DEFAULT_LIMIT

    explicit = getattr(args, "max_disk", None)
    if explicit is not None:
        return int(explicit)
    configured = getattr(config, "disk_limit", None)
    return int(configured) if configured is not None else DEFAULT_LIMIT


EXECUTORS = ("local", "ray")


def add_build_arguments(p: argparse.ArgumentParser) -> None:
    add_plan_arguments(p)
    p.add_argument("--no-cache", action="store_true",
                   help="neither read nor write the cache (a temporary one is used and deleted)")
    p.add_argument("--jobs", "-j", type=int, metavar="N", help="parallel jobs (default: the number of cores)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars, only errors")
    p.add_argument("-v", "--verbose", action="store_true", help="print each stage's timing and the plan summary")
    p.add_argument("--executor", choices=EXECUTORS, default=None,
                   help="where jobs run: local processes, or Ray tasks (default: nysh.toml's "
                        "[executor] kind, else local)")
    p.add_argument("--address", metavar="ADDR", default=None,
                   help="the Ray cluster for --executor ray: auto, or ray://HOST:PORT "
                        "(default: nysh.toml's [executor] address, else a local Ray instance)")


@dataclass
class Prepared:
    script: Path
    checked: Checked
    plan: Any  # nyeshc.plan.model.Plan
    cache_dir: Path
    profile: Any  # nyeshc.config.Profile
    config: Any  # nyeshc.config.Config

    @property
    def profile_name(self) -> str:
        return str(self.profile.name)


def with_canvas_scaled(film: Any, factor: float) -> Any:
    """``film`` with its canvas scaled by ``factor`` (even sizes, as H.264 needs)."""
    from dataclasses import replace

    from nyeshc import ir

    prop = film.header.get("canvas")
    size = prop.value if prop is not None and isinstance(prop.value, ir.Size) else ir.Size(1280, 720)
    w = max(16, int(size.width * factor) // 2 * 2)
    h = max(16, int(size.height * factor) // 2 * 2)
    new_value = replace(size, width=w, height=h)
    if prop is None:
        fields = (*film.header.fields, ir.Property("canvas", new_value))
    else:
        fields = tuple(replace(f, value=new_value) if f is prop else f for f in film.header.fields)
    return replace(film, header=replace(film.header, fields=fields))


def prepare(args: argparse.Namespace, command: str, *, canvas_scale: float | None = None) -> Prepared:
    """Config, load, check and plan ``args.script``; prints problems and raises :class:`Stop`
    with the exit code (1 script errors or a plan over the disk budget (E701), 2 usage, 3 a
    backend could not be loaded)."""
    from nyeshc.backends.base import BackendError
    from nyeshc.commands.services import RegistryServices
    from nyeshc.config import ConfigError, load_config
    from nyeshc.plan import plan

    script = Path(args.script)
    if not script.is_file():
        print(f"nyeshc {command}: {script} not found", file=sys.stderr)
        raise Stop(2)
    try:
        config = load_config(script, getattr(args, "config", None))
        profile = config.profile(getattr(args, "profile", None))
    except ConfigError as exc:
        print(f"nyeshc {command}: {exc}", file=sys.stderr)
        raise Stop(2) from exc
    checked = load_and_check(str(script), allow_outside=getattr(args, "allow_outside", False))
    if checked.diagnostics and not (getattr(args, "quiet", False) and not checked.has_errors):
        print_diagnostics(checked.diagnostics, checked.loaded.sources)
    if checked.has_errors:
        raise Stop(1)
    film = checked.loaded.film
    if canvas_scale is not None:
        film = with_canvas_scaled(film, canvas_scale)
    found: list[Diagnostic] = []
    try:
        result = plan(film, profile, RegistryServices(profile), root=script.resolve().parent, report=found)
    except BackendError as exc:
        print(f"nyeshc {command}: {exc}", file=sys.stderr)
        raise Stop(3) from exc
    if found and not (getattr(args, "quiet", False) and not any(d.is_error for d in found)):
        print_diagnostics(found, checked.loaded.sources)
    if any(d.is_error for d in found):
        raise Stop(1)
    from nyeshc.plan.budget import check_budget

    over = check_budget(result, disk_limit(args, config), film=film)
    if over is not None:
        print_diagnostics([over], checked.loaded.sources)
        raise Stop(1)
    cache_dir = Path(args.cache) if getattr(args, "cache", None) else script.resolve().parent / ".nyeshc-cache"
    return Prepared(script, checked, result, cache_dir, profile, config)


def run_jobs(prepared: Prepared, args: argparse.Namespace, plan: Any, command: str) -> Any:
    """Execute ``plan``'s jobs (the cache, or a temporary one with ``--no-cache``); returns
    the :class:`~nyeshc.execute.Artifacts`. A failed job prints its name, backend and cause and
    raises :class:`Stop` (3)."""
    from nyeshc.execute import Cache, JobFailed, execute

    kind, extra = choose_executor(prepared, args, command)
    if kind == "ray":
        from nyeshc.execute import RayNotInstalled, execute_ray

        def execute(*a: Any, **kw: Any) -> Any:  # noqa: F811 - the Ray executor instead
            try:
                return execute_ray(*a, **kw, **extra)
            except RayNotInstalled as exc:
                print(f"nyeshc {command}: {exc}", file=sys.stderr)
                raise Stop(2) from exc

    cache = None if getattr(args, "no_cache", False) else Cache(prepared.cache_dir)
    try:
        # --no-cache: a temporary cache beside the script (the system's temp folder may live in
        # memory, and frame sequences are large); deleted when the artifacts are closed
        return execute(plan, cache, jobs=getattr(args, "jobs", None), progress=not getattr(args, "quiet", False),
                       scratch_dir=prepared.script.resolve().parent if cache is None else None)
    except JobFailed as exc:
        from nyeshc.world import disk_full_error, disk_full_message

        if isinstance(exc.cause, BaseException) and disk_full_error(exc.cause) is not None:
            gc = f"nyeshc cache gc {prepared.script}"
            if getattr(args, "cache", None):
                gc += f" --cache {args.cache}"
            where = cache.root if cache is not None else prepared.script.resolve().parent
            print(f"nyeshc {command}: " + disk_full_message(
                f"the result of {exc.job.name or exc.job.key[:12]} ({exc.job.kind})", where, gc_command=gc),
                file=sys.stderr)
            raise Stop(3) from exc
        print(f"nyeshc {command}: {exc}", file=sys.stderr)
        if getattr(args, "verbose", False) and exc.traceback:
            print(exc.traceback, file=sys.stderr)
        raise Stop(3) from exc


def choose_executor(prepared: Prepared, args: argparse.Namespace, command: str) -> tuple[str, dict[str, Any]]:
    """``--executor``/``--address``, else ``[executor] kind``/``address``/``retries`` in
    ``nysh.toml``, else local. Returns the kind and the extra keywords for the executor."""
    table = prepared.config.executor
    kind = getattr(args, "executor", None) or table.get("kind") or "local"
    if kind not in EXECUTORS:
        print(f"nyeshc {command}: unknown executor {kind!r} ([executor] kind in nysh.toml); "
              f"executors: {', '.join(EXECUTORS)}", file=sys.stderr)
        raise Stop(2)
    extra: dict[str, Any] = {}
    if kind == "ray":
        address = getattr(args, "address", None) or table.get("address")
        if address:
            extra["address"] = str(address)
        if isinstance(table.get("retries"), int) and not isinstance(table.get("retries"), bool):
            extra["retries"] = max(0, table["retries"])
    elif getattr(args, "address", None):
        print(f"nyeshc {command}: --address needs --executor ray", file=sys.stderr)
        raise Stop(2)
    return kind, extra
