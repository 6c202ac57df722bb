"""Content keys: canonical JSON and the SHA-256 of a job's identity.

The canonical form and the hash are :mod:`nyeshc.hashing`'s (the one content hasher, shared
with the render's segment and mix keys): sorted keys, no whitespace, UTF-8 text, ``Fraction``\\s
as strings (``"1/3"``), floats by their shortest round-trip ``repr`` (``-0.0`` becomes ``0.0``;
integral floats stay floats so ``1`` and ``1.0`` differ as Python says they do), tuples as
lists. NaN and infinities are refused: a key must never depend on them.

>>> canonical({"b": 1, "a": [0.5, Fraction(1, 3)]})
'{"a":[0.5,"1/3"],"b":1}'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

from nyeshc.hashing import canonical, normalise
from nyeshc.hashing import content_key as sha256_hex

__all__ = ["Fraction", "canonical", "job_key", "normalise", "sha256_hex"]


def job_key(*, kind: str, backend: str, backend_version: str, settings: Mapping[str, Any],
            params: Mapping[str, Any], inputs: Sequence[str], seed: int, output: str) -> str:
    """``sha256(canonical_json({kind, backend, backend_version, settings, params, inputs, seed,
    output}))`` — what docs/dev/jobs.md promises. Names and cost estimates are not part of it."""
    return sha256_hex({"kind": kind, "backend": backend, "backend_version": backend_version,
                       "settings": settings, "params": params, "inputs": list(inputs),
                       "seed": int(seed), "output": output})
