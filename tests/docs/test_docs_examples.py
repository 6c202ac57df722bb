"""Every ```nysh block in the docs parses without syntax errors.

The blocks in ``docs/*.md`` (and the folders under ``docs/``) are what writers copy, so they
must be valid scripts as far as the parser is concerned: no ``E0xx`` diagnostic. A block that
is broken on purpose (to show an error) is fenced as ```nysh-error and skipped here. Checker
diagnostics (unknown names, missing assets) are not asserted: a fragment may refer to a
definition shown in another block.

Every ```toml block is a ``nysh.toml`` example: it must load with :mod:`tomllib` and be
accepted by :func:`nyeshc.config.parse_config` (backend ids are not resolved, so a sketch of
planned backends passes).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from nyeshc.config import parse_config
from nyeshc.syntax import read

DOCS = Path(__file__).resolve().parents[2] / "docs"

_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    lang: str
    text: str

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(DOCS).as_posix()}:{self.line}"


def blocks(text: str, path: Path) -> list[Block]:
    """The fenced code blocks of a Markdown text, with their info-string language.

    >>> [b.lang for b in blocks("```nysh\\nx: 1\\n```\\n~~~\\ny\\n~~~\\n", Path("x.md"))]
    ['nysh', '']
    """
    out: list[Block] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, indent = m.group("fence"), len(m.group("indent"))
        info = m.group("info").strip()
        lang = info.split()[0] if info else ""
        body: list[str] = []
        j = i + 1
        while j < len(lines):
            close = _FENCE.match(lines[j])
            if close and close.group("fence")[0] == fence[0] and len(close.group("fence")) >= len(fence) \
                    and not close.group("info").strip():
                break
            line = lines[j]
            # CommonMark: remove up to the opening fence's indentation from each content line
            strip = min(indent, len(line) - len(line.lstrip(" ")))
            body.append(line[strip:])
            j += 1
        out.append(Block(path, i + 1, lang, "\n".join(body) + "\n"))
        i = j + 1
    return out


def doc_files() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def blocks_of(lang: str) -> list[Block]:
    found: list[Block] = []
    for path in doc_files():
        found.extend(b for b in blocks(path.read_text(encoding="utf-8"), path) if b.lang == lang)
    return found


ALL = blocks_of("nysh")
TOML = blocks_of("toml")


def test_the_language_reference_has_examples() -> None:
    assert any(b.path.name == "language.md" for b in ALL), "docs/language.md has no ```nysh blocks"


@pytest.mark.parametrize("block", ALL, ids=[b.id for b in ALL])
def test_block_parses(block: Block) -> None:
    _, diagnostics = read(block.text, block.id)
    syntax = [d for d in diagnostics if d.code.startswith("E0")]
    assert not syntax, "\n".join(
        f"{block.id}: {d.code} {d.message} (block offset {d.span.start}: "
        f"{block.text[d.span.start:d.span.start + 40]!r}) {' '.join(d.hints)}"
        for d in syntax
    )


def test_fence_reader_skips_error_blocks() -> None:
    text = "```nysh-error\nSCENE 1 \"x\" 2s:\n```\n\n```nysh\ntitle: \"x\"\n```\n"
    found = blocks(text, DOCS / "x.md")
    assert [b.lang for b in found] == ["nysh-error", "nysh"]
    assert found[1].text == 'title: "x"\n'
    assert found[1].line == 5


@pytest.mark.parametrize("block", TOML, ids=[b.id for b in TOML])
def test_toml_block_is_a_valid_config(block: Block, tmp_path: Path) -> None:
    data = tomllib.loads(block.text)
    config = parse_config(data, tmp_path / "nysh.toml")
    assert "animatic" in config.profiles
    config.profile()  # the default profile exists
