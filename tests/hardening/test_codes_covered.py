"""Every diagnostic code has a test with a malformed script.

``tests/check/test_suite.py::test_every_code_has_a_snippet`` checks the codes that a snippet
triggers (each snippet's annotations are then checked against what ``check`` reports). It
exempts the codes no snippet can reach (``COVERED_ELSEWHERE``: code → the test that covers
it) and those of later stages (``NOT_THE_CHECKERS``). This test closes the loop: each exempt
code must be asserted by a test that exists, so an exemption cannot hide an untested code."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from nyeshc.diagnostics import CODES

TESTS = Path(__file__).resolve().parents[1]
SUITE = TESTS / "check" / "test_suite.py"
# the later stages' codes and where their malformed scripts are
LATER_STAGES = {"E701": TESTS / "hardening" / "test_hostile.py",
                **{c: TESTS / "plan" / "test_accounting.py" for c in ("E702", "E703", "W211")},
                **{c: TESTS / "plan" / "test_music_time.py" for c in ("E704", "W705", "E706")}}


def _constant(name: str) -> object:
    tree = ast.parse(SUITE.read_text(encoding="utf-8"))
    for node in tree.body:
        targets = (node.targets if isinstance(node, ast.Assign)
                   else [node.target] if isinstance(node, ast.AnnAssign) else [])
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{name} is gone from {SUITE}")


def _function_source(path: Path, name: str) -> str:
    text = path.read_text(encoding="utf-8")
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return ast.get_source_segment(text, node) or ""
    raise AssertionError(f"{path.relative_to(TESTS.parent)} has no test {name}")


def _asserts(source: str, code: str) -> bool:
    return re.search(rf"\bassert\b[^\n]*{code}|{code}[^\n]*\bassert\b|\"{code}\"", source) is not None


def test_exempt_codes_are_tested_elsewhere() -> None:
    elsewhere = _constant("COVERED_ELSEWHERE")
    assert isinstance(elsewhere, dict)
    for code, where in elsewhere.items():
        assert code in CODES, code
        file, _, name = where.rpartition("::")
        path = TESTS.parent / file if file else SUITE
        assert _asserts(_function_source(path, name), code), f"{where} does not check {code}"


def test_later_stage_codes_are_tested() -> None:
    later = _constant("NOT_THE_CHECKERS")
    assert isinstance(later, set)
    assert later <= set(LATER_STAGES), f"add the test of {sorted(later - set(LATER_STAGES))} here"
    for code in later:
        text = LATER_STAGES[code].read_text(encoding="utf-8")
        tests = [n for n in ast.walk(ast.parse(text)) if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]
        assert any(_asserts(ast.get_source_segment(text, t) or "", code) for t in tests), code


def test_the_catalogue_is_fully_accounted_for() -> None:
    """Each code is a snippet's (the suite checks that), an exemption tested elsewhere, or a
    later stage's: nothing falls between."""
    exempt = set(_constant("COVERED_ELSEWHERE")) | set(_constant("NOT_THE_CHECKERS"))  # type: ignore[arg-type]
    annotated: set[str] = set()
    for p in (TESTS / "check" / "snippets").rglob("*.nysh"):
        annotated |= set(re.findall(r"#!?\s*\^*\s*([EW]\d{3})\b", p.read_text(encoding="utf-8", errors="replace")))
    missing = sorted(set(CODES) - exempt - annotated)
    assert missing == [], f"codes with no malformed-script test: {missing}"
