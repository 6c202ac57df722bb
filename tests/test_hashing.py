"""``nyeshc.hashing``: the one content hasher, in the two JSON forms that keys already in caches
were made with (job keys: canonical; segment and mix keys: loose). Each form must hash exactly
as the code it replaced did, or every user's cache would be rebuilt."""

from __future__ import annotations

import hashlib
import json
from fractions import Fraction

import pytest

from nyeshc.hashing import canonical, content_key

BODIES = [
    {"b": 1, "a": [0.5, Fraction(1, 3)], "t": (1, 2.0, -0.0), "s": "Grüße — 世界", "n": None, "f": True},
    {"v": "2", "samples": 48_000 * 3, "clips": [{"start": 0, "gain": -3.5, "fade": Fraction(1, 2)}]},
    {},
]


@pytest.mark.parametrize("body", BODIES)
def test_loose_form_is_what_segments_and_the_mix_hashed(body: dict) -> None:
    # render/segments.py's and render/mixer.py's own code before they called content_key
    blob = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode("utf-8")
    assert content_key(body, loose=True) == hashlib.sha256(blob).hexdigest()


@pytest.mark.parametrize("body", BODIES)
def test_canonical_form_is_what_job_keys_hashed(body: dict) -> None:
    # plan/keys.py's sha256_hex before it called content_key
    assert content_key(body) == hashlib.sha256(canonical(body).encode("utf-8")).hexdigest()


def test_the_two_forms_differ_where_they_always_did() -> None:
    body = {"s": "é", "z": -0.0}
    assert canonical(body) == '{"s":"é","z":0.0}'
    assert content_key(body) != content_key(body, loose=True)
    with pytest.raises(ValueError):
        content_key({"x": float("nan")})
    assert content_key({"x": float("nan")}, loose=True)  # the loose form never refused NaN


def _reference(obj: object) -> object:
    """normalise as it was written before its exact-type fast path (every job key in users'
    caches was made with it)."""
    import math
    from collections.abc import Mapping, Sequence

    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        if not math.isfinite(obj):
            raise ValueError(obj)
        return 0.0 if obj == 0 else float(repr(obj))
    if isinstance(obj, Fraction):
        return str(obj)
    if isinstance(obj, Mapping):
        return {str(k): _reference(v) for k, v in obj.items()}
    if isinstance(obj, Sequence):
        return [_reference(x) for x in obj]
    raise TypeError(obj)


def test_the_fast_path_writes_what_the_general_one_wrote() -> None:
    import enum
    from collections import OrderedDict
    from types import MappingProxyType

    class Word(str, enum.Enum):
        A = "a"

    odd = [0.1 + 0.2, 1e-7, 5e-324, 1.7976931348623157e308, -0.0, 2.0, 10**30, -(2**63), True, False]
    bodies = [*BODIES, {"x": odd, 3: (odd, [odd]), "m": OrderedDict(b=(1, -0.0), a=MappingProxyType({1: 0.5}))},
              {"w": Word.A, "nested": [[[{"k": Fraction(-7, 3)}]]], "i": 7}]
    for body in bodies:
        want = json.dumps(_reference(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert canonical(body) == want
