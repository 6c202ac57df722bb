"""Mutation fuzzing of ``check`` and ``fmt`` (CI-sized; the long run is benchmarks/fuzz.py).

Valid scripts from ``tests/strategies.py`` are mutated (lines deleted, tokens swapped, random
bytes and invalid UTF-8 inserted, deep nesting, 10**30 numbers, 10,000-character lines) and run
through both: neither may raise, every diagnostic's span lies inside its text."""

from __future__ import annotations

import random
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from nysh_fuzz import NASTY, mutate, run_one  # noqa: E402
from strategies import scripts  # noqa: E402

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


def test_includes_the_system_refuses_are_not_found(tmp_path: Path) -> None:
    """Found by the long run: an include naming a NUL byte (ValueError), a name longer than the
    system allows (OSError ENAMETOOLONG) or a symlink loop (RuntimeError) crashed the loader;
    each is E401 now."""
    from nyeshc.commands.common import load_and_check

    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    script = tmp_path / "f.nysh"
    for name in (b"\x00", b"x" * 300 + b".nysh", b" " * 260, b"a"):
        data = b'include "' + name + b'"\n'
        run_one(data, script)
        codes = [d.code for d in load_and_check(str(script)).diagnostics]
        assert codes == ["E401"], (name[:20], codes)


def test_numbers_beyond_a_float_in_messages(tmp_path: Path) -> None:
    """Found by the long run: a fractional number too large for a float (``duck: 9…9.5dB``)
    crashed the message that reports it out of range (OverflowError); now it is shown by its
    order of magnitude."""
    from nyeshc.commands.common import load_and_check

    big = b"9" * 400 + b".5"
    script = tmp_path / "f.nysh"
    cases = {b"duck: " + big + b"dB\n": "E604",
             b"look SKY:\n    image: generate, truncation " + big + b"\n": "E604",
             b'SCENE 1, 2s:\n    backdrop: A\n    caption: "hi", at ' + big + b"s\n": "W303"}
    for data, code in cases.items():
        run_one(data, script)
        found = [d for d in load_and_check(str(script)).diagnostics if d.code == code]
        assert found and "~1e+" in found[0].message, (data[:30], [(d.code, d.message) for d in found])
