"""The annotated snippet suite: each ``.nysh`` under ``snippets/`` states its expected
diagnostics inline (see README.md); this runner checks it and compares code, file, line,
column (and span width, and message text, where the annotation gives them)."""

from __future__ import annotations

import re
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from nyeshc.commands.common import load_and_check
from nyeshc.diagnostics import CODES, Diagnostic, LineIndex

HERE = Path(__file__).parent
SNIPPETS = HERE / "snippets"

CARET = re.compile(r"^\s*#\s*(?P<carets>\^+)\s+(?P<code>[EW]\d{3})\b[ \t]*(?P<text>.*?)\s*$")
EXPLICIT = re.compile(r"^\s*#!\s*(?P<code>[EW]\d{3})(?:\s+(?P<line>\d+):(?P<col>\d+))?\b[ \t]*(?P<text>.*?)\s*$")

# Codes the suite cannot reach through a snippet file, and the test that covers each instead.
COVERED_ELSEWHERE = {"E006": "test_unreadable_script",
                     "E099": "tests/syntax/test_format.py::test_unfaithful_reprint_is_refused"}
# Codes that belong to later stages.
NOT_THE_CHECKERS = {"E701", "E702", "E703", "W211",  # the planner's (its ledger's audit)
                    "E704", "W705", "E706"}  # the planner's (music time: only it knows the grids)
# Snippets whose expectations the front end does not meet yet (strict: they fail when it does).
KNOWN_GAPS: dict[str, str] = {}


@dataclass(frozen=True)
class Expected:
    file: str
    line: int  # 1-based
    column: int  # 1-based
    code: str
    width: int | None  # the span's width when the annotation shows more than one caret
    text: str  # a fragment of the message or hints ("" for none)


def annotations(path: Path, name: str) -> list[Expected]:
    """The expectations written in one snippet file."""
    text = path.read_bytes().decode("utf-8", errors="replace")
    out: list[Expected] = []
    target = 0
    for i, line in enumerate(text.split("\n")):
        if m := CARET.match(line):
            carets = m["carets"]
            width = len(carets) if len(carets) > 1 else None
            out.append(Expected(name, target + 1, line.index("^") + 1, m["code"], width, m["text"]))
        elif m := EXPLICIT.match(line):
            if m["line"]:
                out.append(Expected(name, int(m["line"]), int(m["col"]), m["code"], None, m["text"]))
            else:  # no position: the first column of the line annotated
                out.append(Expected(name, target + 1, 1, m["code"], None, m["text"]))
        else:
            target = i
    return out


@dataclass(frozen=True)
class Case:
    name: str
    root: Path  # what is copied into the temporary project
    main: Path  # the script to check, inside root

    def files(self) -> list[Path]:
        return [self.root] if self.root.is_file() else sorted(self.root.rglob("*.nysh"))

    def expected(self) -> list[Expected]:
        out: list[Expected] = []
        for f in self.files():
            name = f.name if self.root.is_file() else f.relative_to(self.root).as_posix()
            out.extend(annotations(f, name))
        return out


def cases() -> list[Case]:
    out = [Case(p.name, p, p) for p in sorted(SNIPPETS.glob("*.nysh"))]
    for d in sorted(p for p in SNIPPETS.iterdir() if p.is_dir()):
        main = next(iter(sorted(d.rglob("main.nysh"))), None)
        if main is not None:
            out.append(Case(d.name + "/", d, main))
    return out


def populate(folder: Path, assets: dict[str, bytes]) -> None:
    (folder / "assets").mkdir(parents=True, exist_ok=True)
    for name, data in assets.items():
        (folder / "assets" / name).write_bytes(data)


# --------------------------------------------------------------------------- running


def run_case(case: Case, tmp: Path, assets: dict[str, bytes]) -> tuple[list[Diagnostic], dict[Diagnostic, Expected]]:
    """Check ``case`` in a fresh copy under ``tmp``; the diagnostics and their positions."""
    if case.root.is_file():
        shutil.copy(case.root, tmp / case.root.name)
        main = tmp / case.root.name
        top = tmp
    else:
        top = tmp / case.root.name
        shutil.copytree(case.root, top)
        main = top / case.main.relative_to(case.root)
    populate(main.parent, assets)
    checked = load_and_check(str(main))
    positions: dict[Diagnostic, Expected] = {}
    indexes: dict[str, LineIndex] = {}
    for d in checked.diagnostics:
        real = checked.loaded.paths.get(d.span.file)
        name = real.relative_to(top.resolve()).as_posix() if real is not None else d.span.file
        source = checked.loaded.sources.get(d.span.file, "")
        index = indexes.setdefault(d.span.file, LineIndex(source))
        line, col = index.position(d.span.start)
        end_line, end_col = index.position(d.span.end)
        width = end_col - col if end_line == line else None
        positions[d] = Expected(name, line + 1, col + 1, d.code, width, "")
    return checked.diagnostics, positions


def _key(e: Expected) -> tuple[str, int, int, str]:
    return (e.file, e.line, e.column, e.code)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name, marks=[pytest.mark.xfail(
    reason=KNOWN_GAPS[c.name], strict=True)] if c.name in KNOWN_GAPS else []) for c in cases()])
def test_snippet(case: Case, tmp_path: Path, asset_bytes: dict[str, bytes]) -> None:
    diagnostics, positions = run_case(case, tmp_path, asset_bytes)
    expected = case.expected()
    got = Counter(_key(p) for p in positions.values())
    want = Counter(_key(e) for e in expected)
    missing = sorted(want - got)
    unexpected = sorted((got - want).elements())
    detail = "\n".join(f"  {f}:{ln}:{c}: {code}: {d.message}" for d in diagnostics
                       for (f, ln, c, code) in [_key(positions[d])] if (f, ln, c, code) in set(unexpected))
    assert not missing and not unexpected, (
        f"missing: {missing}\nunexpected: {unexpected}\n{detail}")
    by_key: dict[tuple[str, int, int, str], list[Diagnostic]] = {}
    for d in diagnostics:
        by_key.setdefault(_key(positions[d]), []).append(d)
    for e in expected:
        found = by_key[_key(e)]
        if e.width is not None:
            assert any(positions[d].width == e.width for d in found), \
                f"{_key(e)}: span width {[positions[d].width for d in found]}, annotation says {e.width}"
        if e.text:
            words = ["\n".join([d.message, *d.hints, *(lb.message for lb in d.labels)]) for d in found]
            assert any(e.text in w for w in words), f"{_key(e)}: {e.text!r} not in {words}"


def test_every_code_has_a_snippet() -> None:
    """Every code of the catalogue (but the planner's) is triggered by some snippet."""
    annotated = {e.code for c in cases() for e in c.expected()}
    wanted = set(CODES) - NOT_THE_CHECKERS - set(COVERED_ELSEWHERE)
    assert sorted(wanted - annotated) == []
    assert sorted(annotated - set(CODES)) == [], "annotations name codes the catalogue lacks"


def test_unreadable_script(tmp_path: Path) -> None:
    """E006: the script itself cannot be read (here: it is a folder)."""
    folder = tmp_path / "film.nysh"
    folder.mkdir()
    checked = load_and_check(str(folder))
    assert [d.code for d in checked.diagnostics] == ["E006"]
    assert checked.has_errors


def test_checkpoints_are_never_opened(tmp_path: Path, asset_bytes: dict[str, bytes],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """E209: a script naming a pickle gets an error, and the file is not read, not even its
    first bytes."""
    from nyeshc.world import World

    opened: list[str] = []
    real_head, real_read = World.head, World.read_bytes

    def head(self: World, path: object, n: int = 4096) -> bytes:
        opened.append(str(path))
        return real_head(self, path, n)  # type: ignore[arg-type]

    def read_bytes(self: World, path: object) -> bytes:
        opened.append(str(path))
        return real_read(self, path)  # type: ignore[arg-type]

    monkeypatch.setattr(World, "head", head)
    monkeypatch.setattr(World, "read_bytes", read_bytes)
    [case] = [c for c in cases() if c.name == "assets.nysh"]
    diagnostics, _ = run_case(case, tmp_path, asset_bytes)
    assert "E209" in {d.code for d in diagnostics}
    assert any(p.endswith("real.png") for p in opened)
    assert not [p for p in opened if p.endswith((".pkl", ".pt", ".py"))]
