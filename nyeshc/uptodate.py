"""A rebuild with nothing changed, decided before anything heavy is imported (issue #22).

After a full build whose check and plan said nothing (no warning) and whose jobs all ran on the
embedded backends (procedural, eSpeak, plain text: they read no checkpoint or model folder),
``nyeshc build`` leaves a note in the cache, ``outputs/<name>.built.json``: what the film was
made from and what the build wrote, each file as ``[size, modification time (ns), inode]``
(``None`` for a file that was absent):

* the command's options that change the film (the output, ``--profile``, ``--config``,
  ``--cache``, ``--max-disk``, ``--allow-outside``, ``--preview``, ``--crf``, ``--preset``), the
  script's path;
* the film's files, each by its state and its SHA-256 (the ordinary path hashes them too): the
  script and its includes, the config (``nysh.toml`` beside the script when none is named,
  present or not), every asset a job reads (pictures, recordings, driving videos);
* nyeshc's own code (every file of the package and of its grammar), the installed distributions
  (the names of the ``*.dist-info`` folders on ``sys.path``, which carry their versions), the
  Python, and the ``NYESHC_*`` environment variables;
* what the build wrote: the film, its ``.srt`` and ``.vtt``, the lock beside the script.

The next ``nyeshc build`` with the same options reads the note before it imports the front end,
the planner or numpy, and when every entry still matches it says the film is up to date and
stops (:func:`fresh`). Anything else — a file touched or replaced, an option, a library
upgraded, the film or its subtitles edited or deleted, a note that cannot be read — takes the
ordinary path, which decides from the plan's keys what to redo and writes the note again.
Partial renders (``--scene``/``--from``/``--to``), ``--no-cache`` builds, films with warnings
and films on other backends leave no note (their rebuilds take the ordinary path, ~1 s). The
note holds the hashes of what the build *used* (the text the loader read, the hashes the planner
took, the config read before planning), checked against the files when the note is written: a
file saved while the build ran leaves no note, so an edit made mid-build never passes for the
version that was built.

Only the standard library is imported here (:func:`record`, run after a build, also takes
:mod:`nyeshc.world`'s atomic write).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["EMBEDDED", "NOTE_SUFFIX", "config_path", "default_cache_dir", "file_sha256", "forget", "fresh",
           "note_path", "record"]

EMBEDDED = frozenset({"image.procedural", "glyphs.procedural", "portrait.procedural", "motion.procedural",
                      "music.procedural", "voice.procedural", "voice.espeak", "text.plain"})
"""Backends whose output depends only on the job (its key) and on installed code: a film made
with any other (a checkpoint, a model folder, a Hub snapshot) leaves no note."""

NOTE_SUFFIX = ".built.json"
OPTIONS = ("output", "profile", "config", "cache", "max_disk", "allow_outside", "preview", "crf", "preset")
"""The build options that change the film (``-q``, ``-v``, ``--jobs``, ``--executor`` do not)."""


def default_cache_dir(script: str | os.PathLike[str], cache: str | os.PathLike[str] | None) -> Path:
    """The artifact cache: ``cache`` (``--cache``), else ``.nyeshc-cache`` beside the script."""
    return Path(cache) if cache else Path(script).resolve().parent / ".nyeshc-cache"


def note_path(cache_dir: Path, out: Path) -> Path:
    name = hashlib.sha256(os.fsencode(out.resolve())).hexdigest()[:24]
    return cache_dir / "outputs" / f"{name}{NOTE_SUFFIX}"


def _state(path: str | os.PathLike[str]) -> list[int] | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def file_sha256(path: str | os.PathLike[str]) -> str | None:
    """The SHA-256 of a file's bytes; None when it cannot be read (absent)."""
    try:
        with open(path, "rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except (OSError, ValueError):
        return None


def _code() -> list[Any]:
    """nyeshc's files (the package, and the grammar of a source checkout) by state."""
    package = Path(__file__).resolve().parent
    found: list[Any] = []
    for top in (package, package.parent / "grammar"):
        for folder, dirs, files in os.walk(top):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                if not name.endswith((".pyc", ".pyo")):
                    path = os.path.join(folder, name)
                    found.append([os.path.relpath(path, package.parent), _state(path)])
    return found


def _libraries() -> list[str]:
    """The installed distributions (with their versions) on ``sys.path``."""
    names: set[str] = set()
    for entry in sys.path:
        if os.path.basename(entry) in ("site-packages", "dist-packages") and os.path.isdir(entry):
            names.update(n for n in os.listdir(entry) if n.endswith((".dist-info", ".egg-info", ".pth")))
    return sorted(names)


def _options(args: Any, script: Path) -> dict[str, Any]:
    found: dict[str, Any] = {"script": os.fspath(script.resolve())}
    for name in OPTIONS:
        value = getattr(args, name, None)
        if name in ("output", "config", "cache") and value:
            value = os.fspath(Path(value).resolve())
        found[name] = value
    return found


def _depends(args: Any, script: Path) -> str:
    """One digest of what is neither a file of the film nor an output: options, code, libraries,
    Python, environment."""
    facts = {"options": _options(args, script), "code": _code(), "libraries": _libraries(),
             "python": [sys.version, sys.executable],
             "env": sorted((k, v) for k, v in os.environ.items() if k.startswith("NYESHC_"))}
    return hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode()).hexdigest()


def _outputs(out: Path, script: Path) -> list[Path]:
    return [out, out.with_suffix(".srt"), out.with_suffix(".vtt"), script.with_name(script.name + ".lock")]


def _whole_and_cached(args: Any) -> bool:
    """A build of the whole film through the cache (not ``--no-cache``, no ``--scene``/``--from``/``--to``)."""
    return not getattr(args, "no_cache", False) and not any(getattr(args, k, None) for k in ("scene", "start", "end"))


def config_path(script: Path, config: str | None) -> Path:
    """The config a build reads: ``--config``, else ``nysh.toml`` beside the script."""
    return Path(config) if config else script.resolve().parent / "nysh.toml"


def record(args: Any, script: Path, out: Path, cache_dir: Path, *, sources: Mapping[str, str],
           decode: Callable[[bytes], str], assets: Mapping[str, str], config_sha256: str | None,
           backends: Iterable[str], summary: Mapping[str, Any]) -> Path | None:
    """Leave the note for a finished full build (see the module docstring); returns its path,
    or None when this build leaves none. Never raises for a note it cannot write.

    What the build used, to hold the files to: ``sources`` (path → the text the loader read),
    read again and ``decode``d as the loader does; ``assets`` (path → the SHA-256 the planner
    hashed); ``config_sha256`` (of the config's bytes read before planning; None: absent). A
    file that differs now was changed while the build ran: no note (the next build decides)."""
    if not _whole_and_cached(args):
        return None
    if any(b and b not in EMBEDDED for b in backends):
        return None
    config = os.fspath(config_path(script, getattr(args, "config", None)).resolve())
    hashes: dict[str, str | None] = {config: file_sha256(config)}
    if hashes[config] != config_sha256:
        return None
    for path, text in sources.items():
        try:
            data = Path(path).read_bytes()
        except OSError:
            return None
        if decode(data) != text:
            return None
        hashes[os.fspath(Path(path).resolve())] = hashlib.sha256(data).hexdigest()
    for path, used in assets.items():
        now = file_sha256(path)
        if now != used:
            return None
        hashes[os.fspath(Path(path).resolve())] = now
    note = {"depends": _depends(args, script),
            "hashes": hashes,
            "inputs": {p: _state(p) for p in hashes},
            "outputs": {os.fspath(p.resolve()): _state(p) for p in _outputs(out, script)},
            "summary": dict(summary)}
    from nyeshc.world import atomic_write_text

    try:
        return atomic_write_text(note_path(cache_dir, out), json.dumps(note, sort_keys=True))
    except OSError:
        return None


def forget(cache_dir: Path, out: Path) -> None:
    """Remove the note for ``out`` (a build that goes the ordinary way writes it again)."""
    try:
        note_path(cache_dir, out).unlink()
    except OSError:
        pass


def fresh(args: Any, script: Path, out: Path) -> Mapping[str, Any] | None:
    """The note's summary when the film ``out`` is up to date for these options (nothing it
    depends on changed since the note was written, nothing it wrote was touched), else None."""
    if not _whole_and_cached(args):
        return None
    try:
        note = json.loads(note_path(default_cache_dir(script, getattr(args, "cache", None)), out)
                          .read_text(encoding="utf-8"))
        if note["outputs"] != {os.fspath(p.resolve()): _state(p) for p in _outputs(out, script)}:
            return None
        if any(_state(p) != s for p, s in note["inputs"].items()):
            return None
        if any(file_sha256(p) != h for p, h in note["hashes"].items()):
            return None
        if note["depends"] != _depends(args, script):
            return None
        return dict(note["summary"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
