"""The models ``nyeshc models`` knows (``manifest.toml``, shipped in the package) and the user's
models cache, where ``nyeshc models pull`` puts them.

The manifest is data: for each model, its files (a URL, or a page for a file that needs a person:
a sign-in, a licence click, Google Drive), their size and SHA-256 where known, the code and the
commit its adapter was checked against, the licence, and the ``nysh.toml`` settings a pull
writes. An empty ``sha256`` means *not known*: a pull then records the hash it got in the cache's
``hashes.json`` (and says so), and ``verify`` checks against that record. Hugging Face models
(``hub``) are fetched by ``huggingface_hub`` into its own cache.

The cache folder is ``--dir``, else ``$NYESHC_MODELS_DIR``, else ``~/.cache/nyeshc/models``; a
file lives at ``<cache>/<path>`` (``stylegan2/ffhq.pkl``), exactly where the manifest says, so
``nyeshc models path NAME`` needs nothing but the manifest.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any

__all__ = ["CACHE_ENV", "HASHES", "FileEntry", "Hub", "Manifest", "ManifestError", "Model", "cache_dir",
           "load_manifest", "read_hashes", "record_hash"]

CACHE_ENV = "NYESHC_MODELS_DIR"
HASHES = "hashes.json"  # the hashes pulls measured for files whose manifest entry has none
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
MODALITIES = ("image", "portrait", "motion", "drive", "music", "voice", "tts", "glyphs")


class ManifestError(ValueError):
    """The manifest (shipped or given) is malformed; the message names the entry."""


@dataclass(frozen=True)
class FileEntry:
    path: str  # relative, POSIX, under the cache
    url: str = ""
    manual: str = ""  # where a person gets it, when no program can
    size: int = 0  # 0: not known
    sha256: str = ""  # "": not known
    setting: str = ""  # the nysh.toml key naming this file ("" when read through a folder)


@dataclass(frozen=True)
class Hub:
    repo: str
    revision: str = "main"
    gated: bool = False


@dataclass(frozen=True)
class Model:
    name: str
    title: str
    licence: str
    modality: str
    backend: str
    files: tuple[FileEntry, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    code: dict[str, Any] = field(default_factory=dict)
    folder: dict[str, str] = field(default_factory=dict)
    hub: Hub | None = None

    @property
    def manual(self) -> bool:
        return any(f.manual for f in self.files)

    def size(self) -> int | None:
        """Bytes of all files when every size is known, else None."""
        if self.hub is not None or any(f.size <= 0 for f in self.files):
            return None
        return sum(f.size for f in self.files)


@dataclass(frozen=True)
class Manifest:
    models: dict[str, Model]

    def get(self, name: str) -> Model:
        if name not in self.models:
            import difflib

            close = difflib.get_close_matches(name, self.models, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise ManifestError(f"unknown model {name!r}{hint}; `nyeshc models list` shows the known ones")
        return self.models[name]

    def facts_for_sha256(self, digest: str, cache: Path | None = None) -> tuple[Model, FileEntry] | None:
        """The model whose file has this SHA-256 (published, or recorded by a pull into ``cache``)."""
        recorded = read_hashes(cache) if cache is not None else {}
        for model in self.models.values():
            for f in model.files:
                if digest in (f.sha256, recorded.get(f.path, {}).get("sha256")):
                    return model, f
        return None


def _file(model: str, raw: Any) -> FileEntry:
    if not isinstance(raw, dict):
        raise ManifestError(f"models.{model}: each of files must be a table")
    path = str(raw.get("path", ""))
    pure = PurePosixPath(path)
    if not path or pure.is_absolute() or ".." in pure.parts:
        raise ManifestError(f"models.{model}: file path {path!r} must be relative, without '..'")
    url, manual = str(raw.get("url", "")), str(raw.get("manual", ""))
    if bool(url) == bool(manual):
        raise ManifestError(f"models.{model}: {path} needs exactly one of url and manual")
    sha = str(raw.get("sha256", "")).lower()
    if sha and not _HEX64.match(sha):
        raise ManifestError(f"models.{model}: {path} sha256 must be 64 hex digits or \"\" (not known)")
    size = raw.get("size", 0)
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ManifestError(f"models.{model}: {path} size must be a whole number of bytes (0: not known)")
    return FileEntry(path, url, manual, size, sha, str(raw.get("setting", "")))


def parse_manifest(data: dict[str, Any]) -> Manifest:
    """The manifest from its parsed TOML; :class:`ManifestError` naming the entry when malformed."""
    if data.get("version") != 1:
        raise ManifestError(f"manifest version {data.get('version')!r} is not 1")
    models: dict[str, Model] = {}
    for name, raw in (data.get("models") or {}).items():
        if not isinstance(raw, dict):
            raise ManifestError(f"models.{name} must be a table")
        for key in ("title", "licence", "modality", "backend"):
            if not isinstance(raw.get(key), str) or not raw[key]:
                raise ManifestError(f"models.{name} needs {key} = \"...\"")
        if raw["modality"] not in MODALITIES:
            raise ManifestError(f"models.{name}: modality {raw['modality']!r} is not one of {', '.join(MODALITIES)}")
        files = tuple(_file(name, f) for f in raw.get("files", []))
        hub = None
        if "hub" in raw:
            h = raw["hub"]
            if not isinstance(h, dict) or not h.get("repo"):
                raise ManifestError(f"models.{name}: hub needs repo = \"owner/name\"")
            hub = Hub(str(h["repo"]), str(h.get("revision", "main")), bool(h.get("gated", False)))
        if (hub is None) == (not files):
            raise ManifestError(f"models.{name} needs files or a hub repo (one of them)")
        folder = dict(raw.get("folder", {}))
        if folder and not (folder.get("setting") and folder.get("path")):
            raise ManifestError(f"models.{name}: folder needs setting and path")
        models[name] = Model(name, raw["title"], raw["licence"], raw["modality"], raw["backend"], files,
                             dict(raw.get("settings", {})), dict(raw.get("facts", {})), dict(raw.get("code", {})),
                             folder, hub)
    return Manifest(models)


def load_manifest(path: str | Path | None = None) -> Manifest:
    """The shipped manifest, or the one at ``path``."""
    if path is None:
        text = resources.files("nyeshc.backends.models").joinpath("manifest.toml").read_text(encoding="utf-8")
        where = "the shipped manifest"
    else:
        text, where = Path(path).read_text(encoding="utf-8"), str(path)
    try:
        return parse_manifest(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"{where}: {exc}") from exc


def cache_dir(explicit: str | Path | None = None) -> Path:
    """``explicit`` (``--dir``), else ``$NYESHC_MODELS_DIR``, else ``~/.cache/nyeshc/models``."""
    if explicit:
        return Path(explicit).expanduser().resolve()
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser().resolve()
    return (Path.home() / ".cache" / "nyeshc" / "models").resolve()


def read_hashes(cache: Path) -> dict[str, dict[str, Any]]:
    """``{path: {"sha256", "size", "source"}}`` recorded by pulls (a damaged record reads as empty)."""
    try:
        data = json.loads((cache / HASHES).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, dict)} if isinstance(data, dict) else {}


def record_hash(cache: Path, key: str, entry: dict[str, Any]) -> None:
    """Adds ``key`` to ``hashes.json`` (written to a temporary file and renamed)."""
    data = read_hashes(cache)
    data[key] = entry
    cache.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".hashes-", dir=cache)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
            fh.write("\n")
        os.replace(tmp, cache / HASHES)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
