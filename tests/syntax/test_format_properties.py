"""Property tests of the formatter over generated valid scripts (``tests/strategies.py``):

* every generated script parses without diagnostics (the strategy writes valid text);
* ``fmt(fmt(x)) == fmt(x)``;
* ``parse(fmt(x)) ≅ parse(x)``: the same IR ignoring spans, up to the canonical option order;
* every comment survives, in order.
"""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings

from nyeshc import ir
from nyeshc.syntax import read
from nyeshc.syntax.format import canonical_ir, comment_texts, format_source
from strategies import scripts  # tests/ is on sys.path (pytest adds the conftest folder)

CI = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _ir(text: str) -> str:
    film, diagnostics = read(text, "x.nysh")
    assert not diagnostics, [d.message for d in diagnostics]
    return ir.to_json(canonical_ir(film), spans=False)


@CI
@given(scripts())
def test_format_is_idempotent_and_keeps_meaning(source: str) -> None:
    result = format_source(source, "x.nysh")
    assert result.text is not None, [d.message for d in result.diagnostics]
    once = result.text
    assert format_source(once, "x.nysh").text == once
    assert _ir(once) == _ir(source)
    film, _ = read(once, "x.nysh")
    assert ir.to_json(film, spans=False) == _ir(once)  # options already in canonical order
    assert comment_texts(once) == comment_texts(source)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scripts())
def test_canonical_text_has_canonical_shape(source: str) -> None:
    out = format_source(source, "x.nysh").text
    assert out is not None
    if not out:
        return
    assert out.endswith("\n") and not out.endswith("\n\n")
    assert not out.startswith("\n")
    # blank lines inside a triple-quoted string are its text, kept as written
    assert "\n\n\n" not in re.sub(r'"""(?:.|\n)*?"""', '""', out)
    assert "\t" not in out.replace("\\t", "")
