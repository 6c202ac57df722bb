"""What the front end knows of a script's text without a parser (no Lark): the grammar's source,
decoding bytes, tab diagnostics and the limits both readers share. ``nyeshc check`` on a script
without syntax errors reads it through the fast path (:mod:`nyeshc.syntax.fast`), which needs
only this module and its tables; Lark is imported when a script has an error to report."""

from __future__ import annotations

import hashlib
import os
import re
from importlib import resources
from pathlib import Path

from nyeshc.diagnostics import Diagnostic, Span, error

__all__ = ["MAX_NESTING", "MAX_RECOVERIES", "TAB_WIDTH", "cache_folder", "decode", "grammar_digest", "grammar_text",
           "tab_diagnostics"]

MAX_RECOVERIES = 200
TAB_WIDTH = 4


def grammar_text() -> str:
    """The grammar shipped inside the package (``nyeshc/grammar/nysh.lark`` in a wheel,
    ``grammar/nysh.lark`` in a source checkout)."""
    try:
        return (resources.files("nyeshc") / "grammar" / "nysh.lark").read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError, OSError):
        pass
    source = Path(__file__).resolve().parents[2] / "grammar" / "nysh.lark"
    return source.read_text(encoding="utf-8")


MAX_NESTING = 40
"""Deepest bracket nesting a script may use (``blend(…)`` calls inside calls): lowering and
formatting recurse once per level, and no film needs more. The fast path
(:mod:`nyeshc.syntax.fast`) hands deeper scripts to this parser, which reports them."""


def grammar_digest() -> str:
    """The first 16 hex digits of the grammar's SHA-256 (names the tables cached from it)."""
    return hashlib.sha256(grammar_text().encode("utf-8")).hexdigest()[:16]


def cache_folder() -> str | None:
    """Where the grammar's tables are kept between processes: ``$NYESHC_GRAMMAR_CACHE``, else
    ``$XDG_CACHE_HOME/nyeshc/`` (``~/.cache/nyeshc/``); ``None`` when that is empty or cannot
    be made (the tables are then built in memory each time)."""
    folder = os.environ.get("NYESHC_GRAMMAR_CACHE")
    if folder is None:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        folder = os.path.join(base, "nyeshc")
    if not folder:
        return None
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
    except OSError:
        return None
    return folder


def tab_diagnostics(work: str, file: str) -> list[Diagnostic]:
    """E003 for every line indented with a tab (``work`` is the text ending in a line break)."""
    if "\t" not in work:
        return []
    return [error("E003", "tab used for indentation", Span(file, m.start(), m.end()),
                  "indent with spaces (4 per level); most editors convert tabs on request")
            for m in re.finditer(r"^[ ]*\t[\t ]*", work, flags=re.M)]


def decode(data: bytes, file: str) -> tuple[str, list[Diagnostic]]:
    """Bytes → text. Invalid UTF-8 becomes a diagnostic (at the first bad byte) and U+FFFD."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        text = data.decode("utf-8", errors="replace")
        offset = len(data[: exc.start].decode("utf-8", errors="replace"))
        return text, [error("E002", f"the file is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})",
                            Span(file, offset, offset + 1), "save the script as UTF-8")]
