"""The command line's start-up: light commands import only what they need, and declaring the
commands lazily changes no command's help.

``nyeshc.cli`` declares every command from its table of names and help strings and imports a
command's module (and adds its flags) only for the command that runs. These tests hold that:
``--version`` and ``check`` do not import the planner, the executor, the renderer, the
backends, numpy, Pillow or rich, and ``check`` of a script without syntax errors not even Lark
(the fast path's tables are kept between processes; Lark builds them the first time, and reads
a script with a syntax error); and ``nyeshc COMMAND
-h`` prints exactly what the parser with every command's flags prints (the form before the
change, when every module was imported up front; checked against the output of the commit
before it for every command). Times are measured by ``benchmarks/startup.py``, not here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nyeshc.cli import COMMANDS, build_parser, command_named

HEAVY = ("numpy", "PIL", "lark", "rich", "nyeshc.render", "nyeshc.execute", "nyeshc.backends", "nyeshc.plan",
         "nyeshc.export", "nyeshc.lsp", "torch")

CLEAN = """title: "Tiny"
canvas: 320x240, 24fps

SCENE 1 "One", 2s:
    caption: "Hello"
"""

BROKEN = """canvas: 8x8
"""

# runs ``main(argv)`` in a fresh interpreter, then prints the heavy modules it imported
_PROBE = """
import json, sys
import nyeshc.cli
try:
    code = nyeshc.cli.main(json.loads(sys.argv[1]))
except SystemExit as exc:
    code = exc.code
heavy = tuple(json.loads(sys.argv[2]))
print("MODULES", json.dumps(sorted({m.split(".")[0] if not m.startswith("nyeshc.") else ".".join(m.split(".")[:2])
                                     for m in sys.modules if m.startswith(heavy)})))
print("CODE", code)
"""


def imported(argv: list[str], cwd: Path, tables: Path | None = None) -> tuple[list[str], int]:
    """The heavy packages (see ``HEAVY``) imported by ``nyeshc ARGV``, and its exit code
    (``tables``: the folder the grammar's tables are kept in, ``$NYESHC_GRAMMAR_CACHE``)."""
    env = dict(os.environ, **({"NYESHC_GRAMMAR_CACHE": os.fspath(tables)} if tables is not None else {}))
    out = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(argv), json.dumps(HEAVY)],
                         capture_output=True, text=True, cwd=cwd, timeout=120, env=env)
    lines = dict(line.split(" ", 1) for line in out.stdout.splitlines() if line.startswith(("MODULES", "CODE")))
    assert "MODULES" in lines, out.stderr
    return json.loads(lines["MODULES"]), int(lines["CODE"])


def test_version_imports_nothing_heavy(tmp_path: Path) -> None:
    assert imported(["--version"], tmp_path) == ([], 0)


def test_top_level_help_imports_no_command(tmp_path: Path) -> None:
    code = ("import sys, nyeshc.cli\n"
            "try:\n    nyeshc.cli.main(['-h'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith('nyeshc.commands.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_check_of_a_clean_script_needs_only_the_front_end(tmp_path: Path) -> None:
    (tmp_path / "tiny.nysh").write_text(CLEAN, encoding="utf-8")
    tables = tmp_path / "tables"
    # the first check builds the fast path's tables with Lark and keeps them; later ones read
    # them back and never import Lark
    assert imported(["check", "tiny.nysh"], tmp_path, tables) == (["lark"], 0)
    assert any(p.name.startswith("fast-") for p in tables.iterdir())
    assert imported(["check", "tiny.nysh"], tmp_path, tables) == ([], 0)
    # nowhere to keep them: built every time
    assert imported(["check", "tiny.nysh"], tmp_path, Path("")) == (["lark"], 0)


def test_a_syntax_error_takes_lark_to_report_it(tmp_path: Path) -> None:
    tables = tmp_path / "tables"
    (tmp_path / "tiny.nysh").write_text(CLEAN, encoding="utf-8")
    imported(["check", "tiny.nysh"], tmp_path, tables)
    (tmp_path / "tiny.nysh").write_text(CLEAN.replace('caption: "Hello"', 'caption: "Hello'), encoding="utf-8")
    assert imported(["check", "--format", "json", "tiny.nysh"], tmp_path, tables) == (["lark"], 1)


def test_check_with_errors_adds_only_rich_to_print_them(tmp_path: Path) -> None:
    (tmp_path / "tiny.nysh").write_text(BROKEN, encoding="utf-8")
    tables = tmp_path / "tables"
    imported(["check", "--format", "json", "tiny.nysh"], tmp_path, tables)
    assert imported(["check", "tiny.nysh"], tmp_path, tables) == (["rich"], 1)
    assert imported(["check", "--format", "json", "tiny.nysh"], tmp_path, tables) == ([], 1)


def test_check_imports_no_other_command(tmp_path: Path) -> None:
    (tmp_path / "tiny.nysh").write_text(CLEAN, encoding="utf-8")
    code = ("import sys, nyeshc.cli\n"
            "nyeshc.cli.main(['check', 'tiny.nysh'])\n"
            "print(sorted(m for m in sys.modules if m.startswith('nyeshc.commands.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "['nyeshc.commands.check', 'nyeshc.commands.common']"


@pytest.mark.parametrize(("argv", "command"), [
    (["--version"], None), (["-h"], None), (["check", "a.nysh"], "check"), (["build", "a.nysh"], "build"),
    (["-q", "plan", "a.nysh"], "plan"), (["--", "fmt"], "fmt"), (["film.nysh"], None), ([], None),
    (["cache", "gc", "check"], "cache"),
])
def test_command_named_reads_argv_as_argparse_does(argv: list[str], command: str | None) -> None:
    assert command_named(argv) == command


def _help(argv: list[str]) -> str:
    env = {**os.environ, "COLUMNS": "100"}
    out = subprocess.run([sys.executable, "-m", "nyeshc.cli", *argv], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_every_commands_help_is_what_the_full_parser_prints(monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """``nyeshc COMMAND -h`` (the command's module imported on demand) against the parser with
    every command's flags added up front, as ``build_parser()`` builds it by default."""
    monkeypatch.setenv("COLUMNS", "100")
    for name in ["", *COMMANDS]:
        argv = [name, "-h"] if name else ["-h"]
        with pytest.raises(SystemExit):
            build_parser().parse_args(argv)
        expected = capsys.readouterr().out
        assert expected.startswith("usage: nyeshc")
        assert _help(argv) == expected, name


#: what planning needs none of: scipy.signal alone takes ~1.4 s to import (it parses the
#: docstrings of scipy.stats), and a no-change rebuild should cost less than that in all
SIGNAL_PROCESSING = ("scipy.signal", "scipy.ndimage", "scipy.stats")


def test_planning_the_example_imports_no_signal_processing(tmp_path: Path) -> None:
    """The example loads every kind of procedural backend (music, voices, portraits, images,
    glyphs) to ask for ids, versions and settings; their filters are imported when a job runs."""
    example = Path(__file__).parent.parent / "examples" / "nyeshkerh.nysh"
    (tmp_path / "film.nysh").write_text(example.read_text(encoding="utf-8"), encoding="utf-8")
    code = ("import sys, nyeshc.cli\n"
            "code = nyeshc.cli.main(['plan', 'film.nysh'])\n"
            f"print('LOADED', sorted(m for m in sys.modules if m.startswith({SIGNAL_PROCESSING!r})))\n"
            "print('BACKENDS', sorted(m for m in sys.modules if m.startswith('nyeshc.backends.procedural.')))\n"
            "print('CODE', code)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    lines = dict(line.split(" ", 1) for line in out.stdout.splitlines() if line.startswith(("LOADED", "BACKENDS", "CODE")))
    assert lines.get("CODE") == "0", out.stderr
    backends = lines["BACKENDS"]
    for kind in ("music", "voice", "puppet", "image", "glyphs"):
        assert f"nyeshc.backends.procedural.{kind}'" in backends  # the test would prove nothing otherwise
    assert lines["LOADED"] == "[]"
