"""The provenance lock: ``film.nysh.lock`` records what made a film.

It is TOML, written with every table and key in sorted order and nothing that changes between
two identical builds (no timestamps), so it diffs cleanly in git::

    # film.nysh.lock: written by nyeshc; records what made this film. Do not edit.

    [nyeshc]
    version = "0.1.0"

    [backends.image]
    id = "image.stylegan2"
    version = "1"

    [backends.image.settings]
    checkpoint = "models/ffhq.pkl"

    [backends.image.checkpoints]
    checkpoint = { path = "models/ffhq.pkl", sha256 = "…" }

    [seeds]
    "scene 1 / backdrop" = 4021977650

A setting names a checkpoint when its key is ``checkpoint`` or ends in ``_checkpoint``, or its
value ends in a model-file suffix (``.pkl``, ``.pth``, ``.pt``, ``.tar``, ``.ckpt``, ``.onnx``,
``.safetensors``); when that file exists (relative paths are taken from the lock file's
folder), its SHA-256 is recorded. TOML has no null: settings whose value is ``None`` are left
out.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nyeshc import __version__
from nyeshc.plan.model import Plan
from nyeshc.world import atomic_write_text

CHECKPOINT_SUFFIXES = (".pkl", ".pth", ".pt", ".tar", ".ckpt", ".onnx", ".safetensors")
HEADER = "# {name}: written by nyeshc; records what made this film. Do not edit.\n"


# --------------------------------------------------------------------------- TOML


_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(key: Any) -> str:
    key = str(key)
    return key if _BARE.match(key) else _string(key)


def _string(value: str) -> str:
    # JSON string escapes are valid TOML basic-string escapes; TOML also forbids a raw DEL
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):  # TOML integers are 64-bit: wider ones are written as strings
        return str(value) if -(2**63) <= value < 2**63 else _string(str(value))
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        text = repr(value)
        return text if any(c in text for c in ".en") else text + ".0"
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, Mapping):
        items = [f"{_key(k)} = {_value(v)}" for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))
                 if v is not None]
        return "{ " + ", ".join(items) + " }" if items else "{}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value if v is not None) + "]"
    if isinstance(value, os.PathLike):
        return _string(os.fspath(value))
    return _string(str(value))


def _table(lines: list[str], name: tuple[str, ...], table: Mapping[str, Any]) -> None:
    """Scalars (and inline values) of ``table`` under ``[name]``, then its sub-tables."""
    scalars = [(k, v) for k, v in table.items() if v is not None and not isinstance(v, Mapping)]
    tables = [(k, v) for k, v in table.items() if isinstance(v, Mapping)]
    if scalars or not tables:
        lines.append("")
        lines.append("[" + ".".join(_key(n) for n in name) + "]")
        for k, v in sorted(scalars, key=lambda kv: str(kv[0])):
            lines.append(f"{_key(k)} = {_value(v)}")
    for k, v in sorted(tables, key=lambda kv: str(kv[0])):
        _table(lines, (*name, str(k)), v)


def dumps(doc: Mapping[str, Mapping[str, Any]], name: str = "film.nysh.lock") -> str:
    """``doc`` (top-level tables only) as TOML, keys sorted."""
    lines: list[str] = [HEADER.format(name=name).rstrip("\n")]
    for k in sorted(doc, key=lambda k: (k != "nyeshc", k)):  # who wrote it first
        _table(lines, (k,), doc[k])
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- content


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _names_checkpoint(key: str, value: Any) -> bool:
    if not isinstance(value, (str, os.PathLike)):
        return False
    return key == "checkpoint" or key.endswith("_checkpoint") or \
        os.fspath(value).lower().endswith(CHECKPOINT_SUFFIXES)


def checkpoints(settings: Mapping[str, Any], base: Path) -> dict[str, dict[str, str]]:
    """Setting key (dotted for nested settings) → {path, sha256} of each existing checkpoint."""
    found: dict[str, dict[str, str]] = {}

    def walk(prefix: str, mapping: Mapping[str, Any]) -> None:
        for key, value in mapping.items():
            name = f"{prefix}{key}"
            if isinstance(value, Mapping):
                walk(name + ".", value)
            elif _names_checkpoint(str(key), value):
                path = Path(os.fspath(value)).expanduser()
                path = path if path.is_absolute() else base / path
                if path.is_file():
                    found[name] = {"path": os.fspath(value), "sha256": _sha256(path)}

    walk("", settings)
    return found


def _backends(plan: Plan) -> dict[str, dict[str, Any]]:
    """modality → {id, version, settings}: the plan's record, completed from its jobs."""
    out: dict[str, dict[str, Any]] = {m: dict(b) for m, b in plan.backends.items()}
    for job in plan.jobs:
        if not job.backend:
            continue
        modality = job.backend.partition(".")[0]
        out.setdefault(modality, {"id": job.backend, "version": job.backend_version,
                                  "settings": dict(job.settings)})
    return out


def lock_document(path: str | os.PathLike[str], plan: Plan,
                  extra: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """The lock's content as nested dicts (what :func:`write_lock` prints)."""
    base = Path(path).resolve().parent
    doc: dict[str, dict[str, Any]] = {"nyeshc": {"version": __version__}}
    if extra:
        doc["nyeshc"].update({str(k): v for k, v in extra.items() if k != "version"})
    backends: dict[str, Any] = {}
    for modality, info in sorted(_backends(plan).items()):
        settings = dict(info.get("settings") or {})
        entry: dict[str, Any] = {"id": str(info.get("id", "")), "version": str(info.get("version", ""))}
        if settings:
            entry["settings"] = settings
        found = checkpoints(settings, base)
        if found:
            entry["checkpoints"] = found
        backends[modality] = entry
    if backends:
        doc["backends"] = backends
    doc["seeds"] = {name: int(seed) for name, seed in sorted(plan.seeds.items())}
    return doc


def write_lock(path: str | os.PathLike[str], plan: Plan, extra: Mapping[str, Any] | None = None) -> Path:
    """Write the provenance lock for ``plan`` to ``path`` atomically (temporary file + rename).

    ``extra``: more facts for the ``[nyeshc]`` table (the profile, the script's name, …)."""
    path = Path(path)
    text = dumps(lock_document(path, plan, extra), name=path.name)
    atomic_write_text(path, text)
    return path
