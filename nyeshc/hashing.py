"""Content keys: the one SHA-256 of data that every cache key in nyeshc is made with.

A key is the SHA-256 (hex) of a JSON text of the data. Two JSON forms exist, because keys
already in users' caches must not change:

* **canonical** (the default; job keys, ``nyeshc.plan.keys``): sorted keys, no whitespace,
  UTF-8 text, ``Fraction``\\s as strings (``"1/3"``), floats by their shortest round-trip
  ``repr`` (``-0.0`` becomes ``0.0``; integral floats stay floats so ``1`` and ``1.0`` differ
  as Python says they do), tuples as lists, mapping keys as strings. NaN, infinities and any
  other type are refused: a key must never depend on them.
* **loose** (``loose=True``; the encoded segments' and the final mix's keys,
  ``nyeshc.render.segments`` and ``nyeshc.render.mixer``): ``json.dumps`` with sorted keys and
  no whitespace, ASCII escapes, and ``str()`` of anything JSON has no form for.

This module is at the bottom of the import layers: it imports no other part of nyeshc.

>>> canonical({"b": 1, "a": [0.5, Fraction(1, 3)]})
'{"a":[0.5,"1/3"],"b":1}'
>>> content_key({"a": 1}) == content_key({"a": 1}, loose=True)  # the same text here
True
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

__all__ = ["canonical", "content_key", "normalise"]


def normalise(obj: Any) -> Any:
    """Plain JSON data for ``obj`` with the canonical form's rules."""
    # the exact built-in types first, by identity (a plan keys thousands of nested params: the
    # ABC checks below cost ~3x more); anything else, subclasses included, takes the general path
    t = type(obj)
    if t is str or t is int or t is bool or obj is None:
        return obj
    if t is dict:
        return {k if type(k) is str else str(k): normalise(v) for k, v in obj.items()}
    if t is list or t is tuple:
        return [normalise(x) for x in obj]
    if t is float:
        if not math.isfinite(obj):
            raise ValueError(f"cannot key a non-finite number: {obj!r}")
        return 0.0 if obj == 0 else obj  # repr() round-trips: json writes the same digits
    return _normalise_other(obj)


def _normalise_other(obj: Any) -> Any:
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        if not math.isfinite(obj):
            raise ValueError(f"cannot key a non-finite number: {obj!r}")
        return 0.0 if obj == 0 else float(repr(obj))
    if isinstance(obj, Fraction):
        return str(obj)
    if isinstance(obj, Mapping):
        return {str(k): normalise(v) for k, v in obj.items()}
    if isinstance(obj, Sequence):
        return [normalise(x) for x in obj]
    raise TypeError(f"cannot key a {type(obj).__name__}: {obj!r}")


def canonical(obj: Any) -> str:
    """The canonical JSON text of ``obj``."""
    return json.dumps(normalise(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def content_key(obj: Any, *, loose: bool = False) -> str:
    """The SHA-256 (hex) of ``obj``'s canonical JSON, or of its loose JSON with ``loose``."""
    text = (json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str) if loose
            else canonical(obj))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
