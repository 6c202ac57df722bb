"""``nyeshc cache info|clear|gc [FILM.nysh] [--cache DIR]``: inspect or clean the artifact cache.

* ``info``: the number of entries and their total size, by backend and by job kind, and the
  stray temporary files of interrupted builds.
* ``clear``: remove the whole cache folder (no question asked; says what it removed).
* ``gc``: remove the entries the film's current plan does not reference (its jobs and its
  scene segments; ``--profile`` may be repeated to keep several profiles' artifacts), plus
  stray temporary files and the backends' memo (``memo/``: shortcuts the next build's jobs
  make again as they need them, e.g. the puppet's mouth states; ``docs/caching.md``). When the
  film cannot be planned (no film given, script errors, an unloadable backend), it removes only
  stray files (and the memo) and, with ``--older-than DAYS``, entries created more than DAYS
  days ago.

The cache is ``--cache DIR``, else ``.nyeshc-cache`` beside FILM.nysh, else ``.nyeshc-cache``
in the current folder. ``clear`` and ``gc`` refuse to touch a cache a running build holds.

Exit codes: 0 ok; 2 usage; 3 the cache is in use.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import time
from collections import defaultdict
from pathlib import Path

from nyeshc.store.cache import Cache


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("info", "clear", "gc"), help="what to do")
    p.add_argument("script", metavar="FILM.nysh", nargs="?",
                   help="the film whose cache to use (and, for gc, whose plan to keep)")
    p.add_argument("--cache", metavar="DIR",
                   help="the cache folder (default: .nyeshc-cache beside the film, or here)")
    p.add_argument("--profile", metavar="P", action="append",
                   help="gc: keep this profile's artifacts (repeatable; default: the config's default)")
    p.add_argument("--config", metavar="PATH", help="gc: the config file (default: nysh.toml beside the film)")
    p.add_argument("--older-than", metavar="DAYS", type=float,
                   help="gc without a plan: also remove entries created more than DAYS days ago")
    p.add_argument("--allow-outside", action="store_true",
                   help="let includes and assets point outside the script's folder")


def cache_dir(script: str | None, explicit: str | None) -> Path:
    if explicit:
        return Path(explicit)
    if script:
        return Path(script).resolve().parent / ".nyeshc-cache"
    return Path.cwd() / ".nyeshc-cache"


def human_size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


def _files_size(paths: list[Path]) -> int:
    total = 0
    for p in paths:
        with contextlib.suppress(OSError):
            total += p.stat().st_size
    return total


def _info(cache: Cache) -> int:
    out = sys.stdout
    print(f"cache: {cache.root}", file=out)
    if not cache.root.exists():
        print("empty (no cache folder)", file=out)
        return 0
    count = 0
    total = 0
    by_backend: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for entry in cache.entries():
        size = int(entry.record.get("size", 0))
        count += 1
        total += size
        for table, name in ((by_backend, entry.record.get("backend") or "built-in"),
                            (by_kind, entry.record.get("kind") or "?")):
            table[name][0] += 1
            table[name][1] += size
    print(f"entries: {count}, {human_size(total)}", file=out)
    for title, table in (("by backend", by_backend), ("by kind", by_kind)):
        if not table:
            continue
        print(f"{title}:", file=out)
        width = max(len(k) for k in table)
        for name in sorted(table):
            n, size = table[name]
            print(f"  {name:<{width}}  {n:>6}  {human_size(size):>10}", file=out)
    memo = _memo_files(cache)
    print(f"memo (the backends' shortcuts, made again when missing): {len(memo)} files, "
          f"{human_size(_files_size(memo))}", file=out)
    stray = cache.stray_files()
    print(f"stray temporary files: {len(stray)} ({human_size(_files_size(stray))})", file=out)
    return 0


def _memo_files(cache: Cache) -> list[Path]:
    return [p for p in cache.memo.rglob("*") if p.is_file()] if cache.memo.is_dir() else []


def _busy(cache: Cache, action: str) -> bool:
    from nyeshc.execute.local import cache_in_use

    if cache_in_use(cache):
        print(f"nyeshc cache {action}: {cache.root} is in use by a running build; try again later",
              file=sys.stderr)
        return True
    return False


def _clear(cache: Cache) -> int:
    if not cache.root.exists():
        print(f"nothing to remove: {cache.root} does not exist")
        return 0
    if _busy(cache, "clear"):
        return 3
    entries = list(cache.entries())
    size = sum(int(e.record.get("size", 0)) for e in entries)
    stray = cache.stray_files()
    shutil.rmtree(cache.root)
    print(f"removed {cache.root}: {len(entries)} entries ({human_size(size)}), "
          f"{len(stray)} stray temporary files")
    return 0


def referenced_keys(script: str, profiles: list[str] | None, config: str | None,
                    allow_outside: bool = False) -> set[str]:
    """Every key the film's current plan (for each profile) references; raises when the film
    cannot be planned (the caller falls back)."""
    from nyeshc.config import load_config
    from nyeshc.pipeline import RegistryServices, load_and_check, with_canvas_scaled
    from nyeshc.plan import plan
    from nyeshc.render.mixer import mix_key
    from nyeshc.render.segments import audio_key, segment_keys

    path = Path(script)
    if not path.is_file():
        raise FileNotFoundError(script)
    checked = load_and_check(str(path), allow_outside=allow_outside)
    if checked.has_errors:
        raise ValueError("the script has errors (run nyeshc check)")
    config_obj = load_config(path, config)
    keys: set[str] = set()
    for name in profiles or [None]:
        profile = config_obj.profile(name)
        # the build as `nyeshc FILM -o OUT` makes it, and as `--preview` makes it (half size):
        # both are kept, segments included (their keys include the encoder's default settings)
        for film in (checked.loaded.film, with_canvas_scaled(checked.loaded.film, 0.5)):
            result = plan(film, profile, RegistryServices(profile), root=path.resolve().parent)
            keys.update(j.key for j in result.jobs)
            keys.update(o.morph for o in result.timeline.overlaps if o.morph)
            keys.update(segment_keys(result.timeline))
            keys.add(mix_key(result.timeline))
            keys.add(audio_key(result.timeline))
    return keys


def _remove_stray(cache: Cache) -> tuple[int, int]:
    stray = cache.stray_files()
    size = _files_size(stray)
    for p in stray:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
    return len(stray), size


def _gc(cache: Cache, args: argparse.Namespace) -> int:
    if not cache.root.exists():
        print(f"nothing to collect: {cache.root} does not exist")
        return 0
    if _busy(cache, "gc"):
        return 3
    keep: set[str] | None = None
    why = "no film given"
    if args.script:
        try:
            keep = referenced_keys(args.script, args.profile, args.config, args.allow_outside)
        except Exception as exc:  # noqa: BLE001 - any failure to plan falls back to age-based gc
            why = f"cannot plan {args.script}: {exc}"
    removed = 0
    freed = 0
    if keep is None:
        print(f"nyeshc cache gc: {why}; removing stray files"
              + (f" and entries older than {args.older_than:g} days" if args.older_than is not None else ""),
              file=sys.stderr)
    cutoff = time.time() - args.older_than * 86400 if args.older_than is not None else None
    for entry in list(cache.entries()):
        if keep is not None:
            drop = entry.key not in keep
        else:
            drop = cutoff is not None and float(entry.record.get("created", 0)) < cutoff
        if drop:
            freed += int(entry.record.get("size", 0))
            removed += 1
            cache.discard(entry.key)
    stray, stray_size = _remove_stray(cache)
    memo = _memo_files(cache)
    memo_size = _files_size(memo)
    shutil.rmtree(cache.memo, ignore_errors=True)
    for folder in sorted(cache.objects.glob("*")) if cache.objects.is_dir() else []:
        with contextlib.suppress(OSError):
            folder.rmdir()  # only empty ones
    kept = sum(1 for _ in cache.entries())
    print(f"removed {removed} entries ({human_size(freed)}), {stray} stray files "
          f"({human_size(stray_size)}) and the memo ({len(memo)} files, {human_size(memo_size)}); "
          f"kept {kept} entries")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.script and not Path(args.script).is_file():
        print(f"nyeshc cache: {args.script} not found", file=sys.stderr)
        return 2
    cache = Cache(cache_dir(args.script, args.cache))
    if args.action == "info":
        return _info(cache)
    if args.action == "clear":
        return _clear(cache)
    return _gc(cache, args)
