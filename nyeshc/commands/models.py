"""``nyeshc models list | pull NAME | verify [NAME…] | path NAME``: the known models
(``nyeshc/backends/models/manifest.toml``), fetched into a user cache and written into
``nysh.toml``.

``pull`` downloads each file of a model into the cache (``--dir``, else ``$NYESHC_MODELS_DIR``,
else ``~/.cache/nyeshc/models``) through :mod:`nyeshc.backends.models.download` (resume, size and
SHA-256 checks, an atomic rename), or through ``huggingface_hub`` into its own cache for Hub
models (``HF_HUB_OFFLINE`` and ``HF_ENDPOINT`` honoured), then sets the model's table in the
profile of ``nysh.toml`` (``--profile``, default ``full``; ``--config``, default ``./nysh.toml``;
``--no-config`` to leave it alone). A file that needs a person (a sign-in, a licence click) is
not fetched: ``pull`` says where to get it, where to put it and the hash it must have.

Exit codes: 0 done; 1 a download, a hash or a manual step stopped it (the message says what to
do); 2 usage (an unknown model, a malformed manifest or nysh.toml).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

MANIFEST_ENV = "NYESHC_MODELS_MANIFEST"


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("--dir", metavar="PATH",
                       help="the models cache (default: $NYESHC_MODELS_DIR, else ~/.cache/nyeshc/models)")
        q.add_argument("--manifest", metavar="PATH",
                       help=f"a manifest of your own, e.g. for a mirror (default: ${MANIFEST_ENV}, else the shipped one)")

    q = sub.add_parser("list", help="the known models: sizes, licences, installed or not")
    common(q)
    q.add_argument("--format", choices=("human", "json"), default="human", help="human (default) or json")
    q = sub.add_parser("pull", help="download a model, check it, and write it into nysh.toml")
    common(q)
    q.add_argument("name", metavar="NAME", help="a model of `nyeshc models list`")
    q.add_argument("--config", metavar="PATH", default="nysh.toml",
                   help="the nysh.toml to write the model into (default: ./nysh.toml; created if missing)")
    q.add_argument("--profile", metavar="P", default="full", help="the profile to write (default: full)")
    q.add_argument("--as", dest="modality", metavar="MODALITY",
                   help="the modality table to write (default: the model's, e.g. portrait for FFHQ)")
    q.add_argument("--checkout", metavar="PATH",
                   help="your clone of the model's code, written as the checkout setting")
    q.add_argument("--no-config", action="store_true", help="download and check only; leave nysh.toml alone")
    q.add_argument("--timeout", type=float, default=30.0, metavar="S",
                   help="seconds without data before a download attempt gives up (default 30)")
    q.add_argument("--retries", type=int, default=2, metavar="N",
                   help="further attempts after a cut or a timeout, each resuming the last (default 2)")
    q.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    q = sub.add_parser("verify", help="re-hash the installed files against the manifest or the pull's record")
    common(q)
    q.add_argument("names", metavar="NAME", nargs="*", help="models to verify (default: every installed one)")
    q = sub.add_parser("path", help="print where an installed model is (what nysh.toml names)")
    common(q)
    q.add_argument("name", metavar="NAME")


# --------------------------------------------------------------------------- helpers


def _fail(message: str, code: int = 1) -> int:
    print(f"nyeshc models: {message}", file=sys.stderr)
    return code


def _size(n: int | None) -> str:
    if not n:
        return "?"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"  # pragma: no cover


def _hub_snapshot(model: Any, cache: Path | None, *, local_only: bool, quiet: bool = True) -> str:
    """The local snapshot folder of a Hub model (downloading it unless ``local_only``)."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.utils import disable_progress_bars, enable_progress_bars

    (disable_progress_bars if quiet else enable_progress_bars)()
    hub = model.hub
    return snapshot_download(repo_id=hub.repo, revision=hub.revision, local_files_only=local_only,
                             cache_dir=str(cache / "huggingface") if cache is not None else None)


def _state(model: Any, cache: Path, explicit_dir: bool) -> str:
    """installed / missing / partial (some files) / manual (needs a person) for ``list``."""
    if model.hub is not None:
        try:
            _hub_snapshot(model, cache if explicit_dir else None, local_only=True)
            return "installed"
        except Exception:  # noqa: BLE001 - huggingface_hub's "not in the cache" errors vary by version
            return "no"
    have = [(cache / f.path).is_file() for f in model.files]
    if all(have):
        return "installed"
    if any(have):
        return "partial"
    return "no (manual)" if model.manual else "no"


def _load(args: argparse.Namespace) -> Any:
    from nyeshc.backends.models.manifest import load_manifest

    return load_manifest(args.manifest or os.environ.get(MANIFEST_ENV) or None)


# --------------------------------------------------------------------------- nysh.toml


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # a TOML basic string: \" \\ \n \uXXXX are TOML escapes too
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {v!r} as a TOML value")


_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
_ANY_HEADER = re.compile(r"^\s*\[")
_KEY_PART = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"|\'([^\']*)\'|([A-Za-z0-9_-]+))\s*(?:\.|$)')


def _header_key(inner: str) -> tuple[str, ...] | None:
    parts, pos = [], 0
    while pos < len(inner):
        m = _KEY_PART.match(inner, pos)
        if not m or m.end() == pos:
            return None
        parts.append(next(g for g in m.groups() if g is not None))
        pos = m.end()
    return tuple(parts)


def write_profile(config: Path, profile: str, modality: str, backend: str, settings: dict[str, Any]) -> str:
    """Sets ``[profile.P.M]`` in ``config`` to ``backend`` and ``settings`` and returns what it did.

    The rest of the file is kept byte for byte. Within an existing table of the same backend,
    each key set is replaced on its own line and other keys are kept; a table of another
    backend has its old lines kept as comments (its settings would not fit the new backend). A
    missing table is appended. The result is parsed again and compared with what was meant
    before it replaces the file (a temporary file renamed over it); a table written in a form
    this cannot edit safely (dotted keys, an inline table, a multi-line value) is an error that
    prints the lines to add by hand."""
    text = config.read_text(encoding="utf-8") if config.exists() else ""
    try:
        before = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{config} is not valid TOML ({exc}); fix it first") from exc
    values = {"backend": backend, **settings}
    body = [f"{k} = {_toml_value(v)}" for k, v in values.items()]
    by_hand = f"[profile.{profile}.{modality}]\n" + "\n".join(body)
    lines = text.splitlines(keepends=True)
    header_at = None
    for i, line in enumerate(lines):
        m = _HEADER.match(line)
        if m and _header_key(m.group(1)) == ("profile", profile, modality):
            header_at = i
            break
    old = (before.get("profile", {}) or {}).get(profile, {}) if isinstance(before.get("profile"), dict) else {}
    old_table = old.get(modality) if isinstance(old, dict) else None
    if header_at is None:
        if old_table is not None:
            raise ValueError(f"{config} sets profile.{profile}.{modality} in a form this cannot edit safely "
                             f"(dotted keys or an inline table); replace it by hand with:\n{by_hand}")
        sep = "" if not text or text.endswith("\n\n") else ("\n" if text.endswith("\n") else "\n\n")
        new_text = text + sep + by_hand + "\n"
        did = f"added [profile.{profile}.{modality}]"
        expected = dict(values)
    else:
        end = next((j for j in range(header_at + 1, len(lines)) if _ANY_HEADER.match(lines[j])), len(lines))
        same = isinstance(old_table, dict) and old_table.get("backend") == backend
        if same:
            section = lines[header_at + 1:end]
            for k, v in values.items():
                pat = re.compile(rf'^\s*(?:{re.escape(k)}|"{re.escape(k)}")\s*=')
                hit = next((j for j, line in enumerate(section) if pat.match(line)), None)
                if hit is not None:
                    section[hit] = f"{k} = {_toml_value(v)}\n"
                else:
                    last = max((j for j, line in enumerate(section) if line.strip() and not line.lstrip().startswith("#")),
                               default=-1)
                    section.insert(last + 1, f"{k} = {_toml_value(v)}\n")
            expected = {**old_table, **values}
            did = f"updated [profile.{profile}.{modality}] ({', '.join(values)})"
        else:
            was = old_table.get("backend") if isinstance(old_table, dict) else old_table
            section = [line if not line.strip() or line.lstrip().startswith("#")
                       else f"# before `nyeshc models pull` ({was}): {line}" for line in lines[header_at + 1:end]]
            section = [line if line.endswith("\n") else line + "\n" for line in section]
            section = [f"{b}\n" for b in body] + section
            expected = dict(values)
            did = f"replaced [profile.{profile}.{modality}] (was {was}; its old lines are kept as comments)"
        new_text = "".join(lines[:header_at + 1] + section + lines[end:])
    try:
        after = tomllib.loads(new_text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{config} could not be updated safely ({exc}); add by hand:\n{by_hand}") from exc
    got = after.get("profile", {}).get(profile, {}).get(modality)
    if got != expected:
        raise ValueError(f"{config}: [profile.{profile}.{modality}] could not be updated safely (a multi-line "
                         f"value?); add by hand:\n{by_hand}")
    config.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{config.name}.", dir=config.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(new_text)
        if config.exists():
            os.chmod(tmp, config.stat().st_mode & 0o7777)
        os.replace(tmp, config)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return did


# --------------------------------------------------------------------------- actions


def run_list(args: argparse.Namespace) -> int:
    from nyeshc.backends.models.manifest import cache_dir

    manifest = _load(args)
    cache = cache_dir(args.dir)
    rows = []
    for m in manifest.models.values():
        rows.append({"name": m.name, "title": m.title, "modality": m.modality, "backend": m.backend,
                     "size": m.size(), "licence": m.licence, "installed": _state(m, cache, bool(args.dir)),
                     "source": f"hf:{m.hub.repo}" if m.hub else ("manual" if m.manual else "url"),
                     "sha256_known": bool(m.files) and all(f.sha256 for f in m.files)})
    if args.format == "json":
        sys.stdout.write(json.dumps({"cache": str(cache), "models": rows}, indent=2) + "\n")
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"models (cache: {cache})", title_justify="left", show_lines=False)
    for col in ("name", "for", "size", "installed", "licence"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(r["name"], f"{r['modality']} ({r['backend']})", _size(r["size"]),
                      r["installed"], r["licence"])
    Console(file=sys.stdout, highlight=False, width=max(100, min(160, os.get_terminal_size(1).columns
                                                                 if sys.stdout.isatty() else 140))).print(table)
    if any(r["size"] is None and not r["source"].startswith("hf:") for r in rows):
        print("size ?: not published (the first pull measures it); `nyeshc models pull NAME` fetches a model")
    return 0


def _pull_files(model: Any, cache: Path, args: argparse.Namespace) -> int:
    from nyeshc.backends.models.common import sha256_file
    from nyeshc.backends.models.download import DownloadError, fetch
    from nyeshc.backends.models.manifest import read_hashes, record_hash

    recorded = read_hashes(cache)
    for f in model.files:
        dest = cache / f.path
        want = f.sha256 or recorded.get(f.path, {}).get("sha256", "")
        where = "the manifest" if f.sha256 else "your first pull"
        if dest.is_file():
            digest = sha256_file(dest)
            if want and digest != want:
                return _fail(f"{dest} is there but its SHA-256 {digest} is not {want} (from {where}); "
                             "remove it and pull again")
            print(f"  have  {f.path} ({_size(dest.stat().st_size)})" + ("" if want else f" sha256 {digest}"))
            if not want:
                record_hash(cache, f.path, {"sha256": digest, "size": dest.stat().st_size,
                                            "source": "placed by hand"})
            continue
        if f.manual:
            hash_text = (f"its SHA-256 must be {want} (from {where})" if want else
                         "no SHA-256 is published for it: pull records the one it finds and says so")
            return _fail(f"{model.name}: {f.path} needs a manual step: get it from {f.manual}, place it at\n"
                         f"    {dest}\n  ({hash_text}), then run `nyeshc models pull {model.name}` again")
        progress, stop = _progress(f.path, args.quiet)
        try:
            got = fetch(f.url, dest, size=f.size, sha256=want, timeout=args.timeout, retries=args.retries,
                        progress=progress)
        except DownloadError as exc:
            return _fail(str(exc))
        finally:
            stop()
        resumed = f", resumed at byte {got.resumed_from}" if got.resumed_from else ""
        print(f"  got   {f.path} ({_size(got.size)}{resumed}) sha256 {got.sha256}")
        if not want:
            record_hash(cache, f.path, {"sha256": got.sha256, "size": got.size, "source": f.url})
            print(f"  warn  the manifest publishes no SHA-256 for {f.path}: recorded the one above in "
                  f"{cache / 'hashes.json'}; compare it with the host's if it publishes one", file=sys.stderr)
    return 0


def _progress(label: str, quiet: bool) -> tuple[Any, Any]:
    """A rich progress bar on stderr (none when quiet or not a terminal)."""
    from rich.console import Console

    console = Console(file=sys.stderr)
    if quiet or not console.is_terminal:
        return None, lambda: None
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    bar = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                   TimeRemainingColumn(), console=console, transient=True)
    task = bar.add_task(label, total=None)
    bar.start()

    def update(done: int, total: int | None) -> None:
        bar.update(task, completed=done, total=total)

    return update, bar.stop


def run_pull(args: argparse.Namespace) -> int:
    from nyeshc.backends.models.manifest import cache_dir, record_hash

    model = _load(args).get(args.name)
    cache = cache_dir(args.dir)
    print(f"nyeshc models pull {model.name}: {model.title}\n  licence: {model.licence}")
    settings: dict[str, Any] = dict(model.settings)
    if model.hub is not None:
        try:
            snapshot = _hub_snapshot(model, cache if args.dir else None, local_only=False, quiet=args.quiet)
        except Exception as exc:  # noqa: BLE001 - huggingface_hub's errors, explained below
            return _fail(_hub_error(model, exc))
        commit = Path(snapshot).name
        record_hash(cache, f"hub:{model.hub.repo}", {"revision": model.hub.revision, "commit": commit,
                                                     "path": snapshot})
        print(f"  got   {model.hub.repo} at {model.hub.revision} (commit {commit}) in {snapshot}")
        settings["model"] = snapshot
    else:
        code = _pull_files(model, cache, args)
        if code:
            return code
        for f in model.files:
            if f.setting:
                settings[f.setting] = str(cache / f.path)
        if model.folder:
            settings[model.folder["setting"]] = str(cache / model.folder["path"])
    if args.no_config:
        return 0
    modality = args.modality or model.modality
    config = Path(args.config)
    code_info = model.code or {}
    checkout = args.checkout
    if checkout is None and code_info.get("setting") == "checkout" and config.is_file():
        try:
            table = tomllib.loads(config.read_text(encoding="utf-8")).get("profile", {}).get(args.profile, {})
        except tomllib.TOMLDecodeError:
            table = {}
        old = table.get(modality) if isinstance(table, dict) else None
        if isinstance(old, dict) and old.get("backend") == model.backend and old.get("checkout"):
            checkout = str(old["checkout"])
    if checkout and code_info.get("setting") == "checkout":
        settings["checkout"] = str(Path(checkout).expanduser().resolve())
        for key, template in (code_info.get("derived") or {}).items():
            settings[key] = str(template).replace("{checkout}", settings["checkout"])
    try:
        did = write_profile(config, args.profile, modality, model.backend, settings)
    except ValueError as exc:
        return _fail(str(exc))
    print(f"  wrote {config}: {did}")
    if code_info.get("setting") == "checkout" and "checkout" not in settings:
        commit = f" (checked at commit {code_info['commit']})" if code_info.get("commit") else ""
        print(f"  next  get the code{commit}: {code_info.get('install')}\n"
              f"        then: nyeshc models pull {model.name} --checkout PATH (or set checkout in "
              f"[profile.{args.profile}.{modality}])")
    elif code_info.get("install") and code_info.get("setting") != "checkout":
        print(f"  code  {code_info['install']}")
    print(f"  then  nyeshc doctor --config {config} --profile {args.profile}")
    return 0


def _hub_error(model: Any, exc: BaseException) -> str:
    name = type(exc).__name__
    repo = model.hub.repo
    if isinstance(exc, ImportError):
        return f"{repo} is a Hugging Face model, which needs huggingface_hub: pip install 'nyeshc[hub]'"
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    if name == "GatedRepoError" or (model.hub.gated and "401" in str(exc)):
        return (f"{repo} is gated: accept its licence at {endpoint}/{repo} while signed in, then log in here "
                f"(`hf auth login`, or set HF_TOKEN) and pull again")
    if name in ("LocalEntryNotFoundError", "OfflineModeIsEnabled") or os.environ.get("HF_HUB_OFFLINE") in ("1", "true", "ON"):
        return (f"{repo} is not in the Hugging Face cache and HF_HUB_OFFLINE is set, so huggingface_hub may not "
                f"download it: unset HF_HUB_OFFLINE on a machine online, pull, then copy the cache "
                f"({name}: {str(exc).splitlines()[0] if str(exc) else ''})")
    if name == "RepositoryNotFoundError":
        return f"{repo} was not found on {endpoint} (renamed or removed? or private: log in)"
    if name == "RevisionNotFoundError":
        return f"{repo} has no revision {model.hub.revision!r} on {endpoint}"
    return f"{repo}: {name}: {str(exc).splitlines()[0] if str(exc) else ''}"


def run_verify(args: argparse.Namespace) -> int:
    from nyeshc.backends.models.common import sha256_file
    from nyeshc.backends.models.manifest import cache_dir, read_hashes

    manifest = _load(args)
    cache = cache_dir(args.dir)
    recorded = read_hashes(cache)
    names = args.names or list(manifest.models)
    bad = checked = 0
    seen: set[str] = set()
    for name in names:
        model = manifest.get(name)
        if model.hub is not None:
            try:
                snapshot = Path(_hub_snapshot(model, cache if args.dir else None, local_only=True))
            except Exception:  # noqa: BLE001 - not in the cache (its errors vary by version)
                if args.names:
                    print(f"  miss  {name}: not in the Hugging Face cache (nyeshc models pull {name})")
                    bad += 1
                continue
            n, problems = _verify_snapshot(snapshot)
            checked += n
            bad += len(problems)
            for line in problems:
                print(f"  BAD   {model.hub.repo}: {line}: remove the snapshot and pull again")
            if not problems:
                print(f"  ok    {model.hub.repo} at {snapshot.name}: {n} file(s) match the hashes they are stored under")
            continue
        for f in model.files:
            path = cache / f.path
            if f.path in seen or not path.is_file():
                if args.names and not path.is_file():
                    print(f"  miss  {name}: {path} is not there (nyeshc models pull {name})")
                    bad += 1
                continue
            seen.add(f.path)
            digest = sha256_file(path)
            want = f.sha256 or recorded.get(f.path, {}).get("sha256", "")
            checked += 1
            if not want:
                print(f"  ?     {f.path} sha256 {digest}: nothing to compare with (no published hash, no record)")
            elif digest == want:
                source = "manifest" if f.sha256 else "recorded at the first pull"
                print(f"  ok    {f.path} sha256 {digest} ({source})")
            else:
                print(f"  BAD   {f.path} sha256 {digest}, expected {want}: remove it and pull again")
                bad += 1
    print(f"{checked} file(s) checked, {bad} problem(s) (cache: {cache})")
    return 1 if bad else 0


def _verify_snapshot(snapshot: Path) -> tuple[int, list[str]]:
    """Re-hashes a Hugging Face cache snapshot: each file links to a blob named by its hash, the
    SHA-256 for files stored with Git LFS (weights), the git blob id (SHA-1 of ``blob <size>\\0``
    and the bytes) for the others. Returns (files checked, problems)."""
    import hashlib

    problems: list[str] = []
    n = 0
    for link in sorted(p for p in snapshot.rglob("*") if p.is_file()):
        blob = link.resolve()
        name = blob.name
        data_hash: str | None = None
        if re.fullmatch(r"[0-9a-f]{64}", name):
            h = hashlib.sha256()
        elif re.fullmatch(r"[0-9a-f]{40}", name):
            h = hashlib.sha1(f"blob {blob.stat().st_size}\0".encode(), usedforsecurity=False)
        else:
            continue  # not stored under a hash (a local_dir copy): nothing to compare with
        with open(blob, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 22), b""):
                h.update(block)
        data_hash = h.hexdigest()
        n += 1
        if data_hash != name:
            problems.append(f"{link.relative_to(snapshot)} hashes to {data_hash}, not {name}")
    return n, problems


def run_path(args: argparse.Namespace) -> int:
    from nyeshc.backends.models.manifest import cache_dir

    model = _load(args).get(args.name)
    cache = cache_dir(args.dir)
    if model.hub is not None:
        try:
            print(_hub_snapshot(model, cache if args.dir else None, local_only=True))
            return 0
        except Exception:  # noqa: BLE001 - not in the cache
            return _fail(f"{model.name} is not in the Hugging Face cache (nyeshc models pull {model.name})")
    path = cache / model.folder["path"] if model.folder else cache / model.files[0].path
    missing = [cache / f.path for f in model.files if not (cache / f.path).is_file()]
    if missing:
        return _fail(f"{model.name} is not installed: {missing[0]} is missing (nyeshc models pull {model.name})")
    print(path)
    return 0


def run(args: argparse.Namespace) -> int:
    from nyeshc.backends.models.manifest import ManifestError

    try:
        action = {"list": run_list, "pull": run_pull, "verify": run_verify, "path": run_path}[args.action]
        return action(args)
    except ManifestError as exc:
        return _fail(str(exc), 2)
