"""Content keys: canonical JSON and the SHA-256 of a job's identity.

Canonical JSON has sorted keys, no whitespace, UTF-8 text, ``Fraction``s as strings
(``"1/3"``), floats by their shortest round-trip ``repr`` (``-0.0`` becomes ``0.0``; integral
floats stay floats so ``1`` and ``1.0`` differ as Python says they do), tuples as lists. NaN and
infinities are refused: a key must never depend on them.

>>> canonical({"b": 1, "a": [0.5, Fraction(1, 3)]})
'{"a":[0.5,"1/3"],"b":1}'
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any


def normalise(obj: Any) -> Any:
    """Plain JSON data for ``obj`` with the rules above."""
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
    return json.dumps(normalise(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def sha256_hex(obj: Any) -> str:
    return hashlib.sha256(canonical(obj).encode("utf-8")).hexdigest()


def job_key(*, kind: str, backend: str, backend_version: str, settings: Mapping[str, Any],
            params: Mapping[str, Any], inputs: Sequence[str], seed: int, output: str) -> str:
    """``sha256(canonical_json({kind, backend, backend_version, settings, params, inputs, seed,
    output}))`` — what docs/dev/jobs.md promises. Names and cost estimates are not part of it."""
    return sha256_hex({"kind": kind, "backend": backend, "backend_version": backend_version,
                       "settings": settings, "params": params, "inputs": list(inputs),
                       "seed": int(seed), "output": output})
