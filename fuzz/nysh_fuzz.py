"""The fuzz target shared by the hypothesis tests, ``benchmarks/fuzz.py`` and the atheris
harness: one input (bytes) through ``check`` (load + decode + parse + lower + check, as
``nyeshc check`` runs it) and ``fmt`` (``format_source``), asserting the contract:

* neither raises;
* every diagnostic's span lies inside the text of the file it names, ``0 <= start <= end <= len``;
* every diagnostic code is a known one (``nyeshc.diagnostics.CODES``).

Plus cheap byte-level mutators (no hypothesis needed) for the long runs.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

from nyeshc.commands.common import load_and_check
from nyeshc.diagnostics import CODES, Diagnostic
from nyeshc.syntax.format import format_source
from nyeshc.syntax.parse import decode


class ContractBroken(AssertionError):
    pass


def _spans_ok(diagnostics: list[Diagnostic] | tuple[Diagnostic, ...], sources: dict[str, str]) -> None:
    for d in diagnostics:
        if d.code not in CODES:
            raise ContractBroken(f"unknown code {d.code}")
        text = sources.get(d.span.file)
        n = len(text) if text is not None else 0
        if not (0 <= d.span.start <= d.span.end <= n):
            raise ContractBroken(f"{d.code} span {d.span} outside [0, {n}] of {d.span.file!r}: {d.message}")
        for label in d.labels:
            t = sources.get(label.span.file)
            m = len(t) if t is not None else 0
            if not (0 <= label.span.start <= label.span.end <= m):
                raise ContractBroken(f"{d.code} label span {label.span} outside [0, {m}]")


def run_one(data: bytes, path: Path) -> tuple[int, int]:
    """Write ``data`` to ``path`` (a ``.nysh`` in a scratch project), check and format it.
    Returns (number of check diagnostics, number of fmt diagnostics); raises
    :class:`ContractBroken` (or whatever escaped) when the contract is broken."""
    path.write_bytes(data)
    checked = load_and_check(str(path))
    _spans_ok(checked.diagnostics, checked.loaded.sources)
    text, _ = decode(data, "<fmt>")
    result = format_source(text, "<fmt>")
    _spans_ok(result.diagnostics, {"<fmt>": text})
    if result.text is not None:  # the formatter is idempotent on what it accepts
        again = format_source(result.text, "<fmt>")
        if again.text is not None and again.text != result.text:
            raise ContractBroken("fmt is not idempotent")
    return len(checked.diagnostics), len(result.diagnostics)


# --------------------------------------------------------------------------- mutators

_TOKEN = re.compile(r"\S+")
NASTY = [b"(" * 200 + b")" * 200, b"(" * 5000, b"1" + b"0" * 30, b"9" * 400, b"-" + b"9" * 60,
         b"\xff\xfe", b"\xc3", b"\xed\xa0\x80", b"\x00", b"\t", b"\r", b"\r\n", b'"', b'"""', b"/*", b"*/",
         b"[[", b"]]", b"->", b"..", b"x" * 10_000, b" " * 10_000, b"include \"../../etc/passwd\"\n",
         b"include \"m.pkl\"\n", b"canvas: 99999999x99999999, 100000fps\n", b"SCENE 1, 99999999999h:\n",
         b"\xef\xbb\xbf", "\u202e\u200b\U0001F600".encode()]


def mutate(data: bytes, rng: random.Random, rounds: int | None = None) -> bytes:
    """A few random edits of ``data``: delete/duplicate/swap lines, swap tokens, insert random
    bytes or a nasty snippet (deep nesting, huge numbers, invalid UTF-8, very long lines), flip
    bytes, truncate."""
    for _ in range(rounds if rounds is not None else rng.randint(1, 4)):
        lines = data.split(b"\n")
        op = rng.randrange(9)
        if op == 0 and len(lines) > 1:
            del lines[rng.randrange(len(lines))]
            data = b"\n".join(lines)
        elif op == 1 and lines:
            i = rng.randrange(len(lines))
            lines.insert(i, lines[i])
            data = b"\n".join(lines)
        elif op == 2 and len(lines) > 1:
            i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
            data = b"\n".join(lines)
        elif op == 3:
            toks = list(_TOKEN.finditer(data.decode("latin-1")))
            if len(toks) > 1:
                a, b = sorted(rng.sample(range(len(toks)), 2))
                ta, tb = toks[a], toks[b]
                s = data
                data = (s[:ta.start()] + s[tb.start():tb.end()] + s[ta.end():tb.start()]
                        + s[ta.start():ta.end()] + s[tb.end():])
        elif op == 4:
            i = rng.randint(0, len(data))
            data = data[:i] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 8))) + data[i:]
        elif op == 5:
            i = rng.randint(0, len(data))
            data = data[:i] + rng.choice(NASTY) + data[i:]
        elif op == 6 and data:
            i = rng.randrange(len(data))
            data = data[:i] + bytes([data[i] ^ (1 << rng.randrange(8))]) + data[i + 1:]
        elif op == 7 and data:
            data = data[: rng.randint(0, len(data))]
        else:  # replace a number by a huge one
            nums = list(re.finditer(rb"\d+", data))
            if nums:
                m = rng.choice(nums)
                data = data[:m.start()] + rng.choice([b"1" + b"0" * 30, b"9" * 100, b"0" * 50]) + data[m.end():]
    return data
