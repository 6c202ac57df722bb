"""Any screenplay put together from Fountain's elements (well formed or not) imports to a film
that checks clean, and its export imports back to the same text: the second round trip
changes no byte."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nyeshc.commands.common import load_and_check
from nyeshc.export.fountain import to_fountain
from nyeshc.syntax.fountain import read_fountain, translate

LINES = ["", "", "", "INT. HOUSE - DAY", "EXT. A, B: C - NIGHT #2#", ".FORCED", ".SCENE 3", "BOB", "@McBob",
         "ANNA (V.O.)", "ANNA (ON PHONE) (CONT'D) ^", "ANNA ^", "(softly)", "(beat)", "Hello there.", "  ", "~la la",
         "~", "> THE END <", "> X <", "CUT TO:", "> FADE TO:", "DISSOLVE TO:", "> Burn.", "FADE OUT.", "FADE IN:",
         "[[a note]]", "[[a note\nover lines]]", "# Act", "## Sub", "= syn", "===", "!FORCED ACTION",
         "Some *action* _here_.", "Title: T", "Author: A", "   indented value", "/* bone */", '"quoted" text \\ back',
         "A line with ]] and [[", "[[unclosed", "ALL CAPS LINE", "Transition TO:", "  indented", "\tTabbed", "SCENE",
         "CREDITS", "GO TO:"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(LINES), min_size=1, max_size=30))
def test_any_screenplay_imports_clean_and_round_trips(tmp_path_factory, lines: list[str]) -> None:  # noqa: ANN001
    folder: Path = tmp_path_factory.mktemp("prop")
    path = folder / "f.nysh"
    path.write_text(translate(read_fountain("\n".join(lines)), name="f").text, encoding="utf-8")
    checked = load_and_check(str(path))
    assert not [d for d in checked.diagnostics if d.is_error or d.code.startswith("W")], \
        [(d.code, d.message) for d in checked.diagnostics]
    first = to_fountain(checked.loaded.film)
    back = translate(read_fountain(first), name="f").text
    path.write_text(back, encoding="utf-8")
    again = load_and_check(str(path))
    assert not again.has_errors
    second = to_fountain(again.loaded.film)
    assert second == first
    assert translate(read_fountain(second), name="f").text == back
