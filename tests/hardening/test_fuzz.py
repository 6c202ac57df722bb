"""Mutation fuzzing of ``check`` and ``fmt`` (CI-sized; the long run is benchmarks/fuzz.py).

Valid scripts from ``tests/strategies.py`` are mutated (lines deleted, tokens swapped, random
bytes and invalid UTF-8 inserted, deep nesting, 10**30 numbers, 10,000-character lines) and run
through both: neither may raise, every diagnostic's span lies inside its text."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from strategies import scripts  # noqa: E402

from nysh_fuzz import NASTY, mutate, run_one  # noqa: E402

SETTINGS = settings(max_examples=60, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                           HealthCheck.data_too_large])


@SETTINGS
@given(text=scripts(), seed=st.integers(0, 2**32 - 1))
def test_mutated_scripts_never_break_check_or_fmt(tmp_path: Path, text: str, seed: int) -> None:
    run_one(mutate(text.encode(), random.Random(seed)), tmp_path / "f.nysh")


@SETTINGS
@given(text=scripts(), at=st.integers(0, 10**6), junk=st.sampled_from(NASTY) | st.binary(max_size=12))
def test_inserted_junk(tmp_path: Path, text: str, at: int, junk: bytes) -> None:
    data = text.encode()
    at %= len(data) + 1
    run_one(data[:at] + junk + data[at:], tmp_path / "f.nysh")


def test_extremes(tmp_path: Path) -> None:
    f = tmp_path / "f.nysh"
    cases = [
        b"",
        b"\xff" * 100,
        b'title: "' + b"x" * 10_000 + b'"\n',
        b"canvas: " + b"9" * 40 + b"x" + b"9" * 40 + b", " + b"1" + b"0" * 30 + b"fps\n",
        b"seed: " + b"1" + b"0" * 30 + b"\n",
        b"look A:\n    image: generate, seed " + b"1" + b"0" * 30 + b"\n",
        b"SCENE 1, " + b"9" * 50 + b"s:\n    backdrop: A\n",
        b"SCENE 1, 1s:\n" + b"    " * 2000 + b"x\n",
        b"\n" * 5000,
        b"/*" * 2000,
        b'"""' * 999,
        b"include \"" + b"../" * 500 + b"x.nysh\"\n",
        "SCENE 1 \"\u202e\U0001F600\", 1s:\n\tbackdrop: A\n".encode(),
        b"\xef\xbb\xbftitle: \"bom\"\n\xc3(",
    ]
    for data in cases:
        run_one(data, f)


def test_deep_nesting(tmp_path: Path) -> None:
    """Brackets nested beyond the limit are a syntax error (E001), not a crash of check or fmt."""
    from nyeshc.syntax import read
    from nyeshc.syntax.parse import MAX_NESTING

    run_one(b"look A:\n    image: " + b"f(" * 3000 + b")" * 3000 + b"\n", tmp_path / "f.nysh")
    deep = "look A:\n    image: " + "f(" * (MAX_NESTING + 1) + ")" * (MAX_NESTING + 1) + "\nlook B:\n    image: generate\n"
    film, diagnostics = read(deep)
    assert [d.code for d in diagnostics] == ["E001"] and "nested" in diagnostics[0].message
    assert [d.name for d in film.definitions] == ["B"]
    ok = "look A:\n    image: " + "f(" * MAX_NESTING + ")" * MAX_NESTING + "\n"
    assert read(ok)[1] == [] and read(ok, fast=False)[1] == []


def test_mutator_covers_its_operations() -> None:
    rng = random.Random(0)
    base = b'title: "x"\ncanvas: 64x36, 12fps\n\nSCENE 1 "a", 1s:\n    backdrop: SKY\n'
    outs = {mutate(base, rng, rounds=1) for _ in range(300)}
    assert len(outs) > 100
