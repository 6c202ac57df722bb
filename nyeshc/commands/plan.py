"""``nyeshc plan FILM.nysh [--json] [--profile P] [--config PATH] [--cache DIR]``.

Prints the timeline (scenes with start–end, overlaps, audio clips), the job graph by kind
(each job marked ``cached`` or ``to run`` against the artifact cache) and the estimated cost
per backend. ``--json`` prints the whole :class:`~nyeshc.plan.model.Plan` as canonical JSON
instead (the form the golden tests pin). Nothing is rendered and no backend runs beyond the
cheap queries the planner makes (ids, versions, settings, voice durations).

The plan is refused (E701) when it would write more than the disk budget (``--max-disk SIZE``,
else ``[limits] disk`` in nysh.toml, else 50 GB); the text output ends with the estimate.

Exit codes: 0 ok; 1 the script has errors or exceeds the disk budget; 2 usage (a bad config or profile); 3 a backend
could not be loaded.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nyeshc import ir
from nyeshc.commands.common import add_max_disk_argument, add_script_argument, disk_limit, print_diagnostics
from nyeshc.config import ConfigError, load_config


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_script_argument(p)
    p.add_argument("--json", action="store_true", help="print the plan as canonical JSON")
    p.add_argument("--profile", metavar="P", help="the nysh.toml profile (default: the config's default)")
    p.add_argument("--config", metavar="PATH", help="the config file (default: nysh.toml beside the script)")
    p.add_argument("--cache", metavar="DIR", help="the artifact cache (default: .nyeshc-cache beside the script)")
    add_max_disk_argument(p)


def _checked(script: str, allow_outside: bool):  # noqa: ANN202 - (loaded, diagnostics)
    """Load and check; while ``nyeshc.check`` is unavailable, fall back to syntax-only."""
    try:
        from nyeshc.commands.common import load_and_check

        checked = load_and_check(script, allow_outside=allow_outside)
        return checked.loaded, checked.diagnostics
    except ImportError:
        from nyeshc.syntax import load
        from nyeshc.world import World

        print("nyeshc plan: the checker is not available; only syntax was checked", file=sys.stderr)
        loaded = load(Path(script), World.for_script(script, allow_outside=allow_outside))
        return loaded, list(loaded.diagnostics)


def cached_keys(cache_dir: Path, keys: list[str]) -> set[str]:
    """The keys whose artifacts are complete in the cache."""
    from nyeshc.execute.cache import Cache

    cache = Cache(cache_dir)
    return {k for k in keys if cache.has(k)}


def run(args: argparse.Namespace) -> int:
    from nyeshc.backends.base import BackendError
    from nyeshc.commands.services import RegistryServices
    from nyeshc.plan import plan, render_text

    script = Path(args.script)
    if not script.is_file():
        print(f"nyeshc plan: {script} not found", file=sys.stderr)
        return 2
    try:
        config = load_config(script, args.config)
        profile = config.profile(args.profile)
    except ConfigError as exc:
        print(f"nyeshc plan: {exc}", file=sys.stderr)
        return 2
    loaded, diagnostics = _checked(str(script), args.allow_outside)
    if diagnostics:
        print_diagnostics(diagnostics, loaded.sources)
    if any(d.is_error for d in diagnostics):
        return 1
    try:
        result = plan(loaded.film, profile, RegistryServices(profile), root=script.resolve().parent)
    except BackendError as exc:
        print(f"nyeshc plan: {exc}", file=sys.stderr)
        return 3
    from nyeshc.plan.budget import check_budget, estimate_bytes, human

    over = check_budget(result, disk_limit(args, config), film=loaded.film)
    if over is not None:
        print_diagnostics([over], loaded.sources)
        return 1
    if args.json:
        sys.stdout.write(ir.to_json(result) + "\n")
        return 0
    cache_dir = Path(args.cache) if args.cache else script.resolve().parent / ".nyeshc-cache"
    cached = cached_keys(cache_dir, [j.key for j in result.jobs])
    sys.stdout.write(render_text(result, cached))
    sys.stdout.write(f"disk: about {human(estimate_bytes(result))} (limit {human(disk_limit(args, config))})\n")
    return 0
