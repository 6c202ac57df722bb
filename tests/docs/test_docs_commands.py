"""The commands the README and the docs show run, and print what the docs say they print.

Every Markdown page (``README.md`` and ``docs/**/*.md``) with ```` ```console ```` blocks is run
top to bottom in one ``bash`` session, in a fresh temporary folder holding a copy of
``examples/`` (so it reads like a copy of the repository). The conventions, also in
``docs/dev/docs-tests.md``:

* ```` ```console ````: each line starting with ``$ `` is a command; the lines under it, up to
  the next ``$ ``, are what it prints (stdout and stderr together, as a terminal shows them,
  but not being a terminal: no colours, no job progress bars; the render's final progress
  line does print). A command that prints nothing has no lines under it.
* ```` ```console not-run ````: shown, never run (a long render, an install); the page says so.
* ```` ```nysh file=NAME ````: the block is written to ``NAME`` in the session's current folder
  when the run reaches it (the whole file, as the reader's editor would save it).
* an edit the reader makes by hand, as an HTML comment (invisible on GitHub)::

      <!-- docs-test: replace in NAME
      OLD LINES
      with
      NEW LINES
      -->

  ``OLD LINES`` must occur exactly once in ``NAME``. When a ```` ```nysh ```` block follows the
  comment (blank lines between at most), its text must occur in the edited file: what the
  page shows is what ran.

In a command's shown output, these stand for what differs from machine to machine:

==========  ==================================================  ===================
``<time>``  seconds measured on the machine (a duration)        ``in <time> s``
``<fps>``   frames per second measured in a progress bar        ``480/480 <fps> fps``
``<size>``  a size on disk: a number and a unit                 ``entries: 52, <size>``
``<id>``    a job id or another hash (hexadecimal, 6-64 digits)  ``<id>  alphabet GLOW``
``<dir>``   the folder the session started in                   ``cache: <dir>/lantern/…``
==========  ==================================================  ===================

A line that is just ``...`` stands for any number of lines (none included). Runs of spaces
inside a line match any run of spaces (columns shift as numbers grow); the indentation at
the start of a line must match.

Regenerate the outputs with ``pytest tests/docs --update-golden`` (the golden-file convention
of ``tests/plan``) and review the diff: a command whose output still matches keeps its lines
(placeholders and ``...`` included); in any other, the lines that still match and the ``...``
stay, and the rest becomes the program's output, with times, frame rates, sizes of ``nyeshc
cache``, job ids and the folder replaced by placeholders (see :func:`merge`).

The tutorial renders a 20 s film at 640x360 several times (about 2 minutes on 2 cores), so its
run is marked ``slow``; pages with only quick commands are not.
"""

from __future__ import annotations

import difflib
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
PAGES = [REPO / "README.md", *sorted(DOCS.rglob("*.md"))]
SLOW_PAGES = {"docs/tutorial.md"}  # renders: marked slow (they still run in CI)
COMMAND_TIMEOUT_S = 600

PLACEHOLDERS: dict[str, str] = {
    "<time>": r"\d+(?:\.\d+)?",
    "<fps>": r"\d+(?:\.\d+)?",
    "<size>": r"\d+(?:\.\d+)? (?:B|KiB|MiB|GiB|TiB|kB|KB|MB|GB|TB)",
    "<id>": r"[0-9a-f]{6,64}",
}
DIR = "<dir>"
ELLIPSIS = "..."

_FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
_EDIT = re.compile(r"^<!-- docs-test: replace in (?P<name>\S+)\s*$")


# --------------------------------------------------------------------------- reading a page


@dataclass
class Command:
    line: int  # 1-based line of the "$ " line
    text: str
    expected: list[str]


@dataclass
class Console:
    line: int  # 1-based line of the opening fence
    end: int  # 1-based line of the closing fence
    run: bool
    commands: list[Command]


@dataclass
class WriteFile:
    line: int
    name: str
    text: str


@dataclass
class Edit:
    line: int
    name: str
    old: str
    new: str
    shown: str | None = None  # the ```nysh block right after the comment


Step = Console | WriteFile | Edit


def parse_console(body: list[str], first_line: int) -> list[Command]:
    """The commands of a console block's lines (``first_line``: the line of ``body[0]``).

    >>> [(c.text, c.expected) for c in parse_console(["$ a", "1", "", "$ b"], 2)]
    [('a', ['1']), ('b', [])]
    """
    commands: list[Command] = []
    for i, line in enumerate(body):
        if line.startswith("$ "):
            commands.append(Command(first_line + i, line[2:], []))
        elif commands:
            commands[-1].expected.append(line)
        elif line.strip():
            raise ValueError(f"line {first_line + i}: a console block starts with a '$ ' command")
    for c in commands:
        while c.expected and not c.expected[-1].strip():
            c.expected.pop()
    return commands


def parse_page(text: str) -> list[Step]:
    """The steps of a page in order: console blocks, files to write, edits.

    >>> steps = parse_page("```nysh file=f.nysh\\nx: 1\\n```\\n\\n```console\\n$ cat f.nysh\\nx: 1\\n```\\n")
    >>> [type(s).__name__ for s in steps]
    ['WriteFile', 'Console']
    >>> steps[1].commands[0].expected
    ['x: 1']
    """
    lines = text.split("\n")
    steps: list[Step] = []
    pending_edit: Edit | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        edit = _EDIT.match(line)
        if edit:
            j = i + 1
            old: list[str] = []
            while j < len(lines) and lines[j] != "with":
                old.append(lines[j])
                j += 1
            k = j + 1
            new: list[str] = []
            while k < len(lines) and lines[k] != "-->":
                new.append(lines[k])
                k += 1
            if j >= len(lines) or k >= len(lines):
                raise ValueError(f"line {i + 1}: a docs-test edit needs a 'with' line and a closing '-->'")
            pending_edit = Edit(i + 1, edit.group("name"), "\n".join(old) + "\n", "\n".join(new) + "\n")
            steps.append(pending_edit)
            i = k + 1
            continue
        m = _FENCE.match(line)
        if not m:
            if line.strip():
                pending_edit = None
            i += 1
            continue
        fence = m.group("fence")
        info = m.group("info").split()
        body: list[str] = []
        j = i + 1
        while j < len(lines):
            close = _FENCE.match(lines[j])
            if close and close.group("fence")[0] == fence[0] and len(close.group("fence")) >= len(fence) \
                    and not close.group("info").strip():
                break
            body.append(lines[j])
            j += 1
        lang = info[0] if info else ""
        attrs = dict(a.split("=", 1) if "=" in a else (a, "") for a in info[1:])
        text_of_block = "\n".join(body) + "\n"
        if lang == "console":
            steps.append(Console(i + 1, j + 1, "not-run" not in attrs, parse_console(body, i + 2)))
        elif lang == "nysh" and "file" in attrs:
            steps.append(WriteFile(i + 1, attrs["file"], text_of_block))
        elif lang == "nysh" and pending_edit is not None:
            pending_edit.shown = text_of_block
        pending_edit = None
        i = j + 1
    return steps


def consoles(steps: list[Step]) -> list[Console]:
    return [s for s in steps if isinstance(s, Console)]


# --------------------------------------------------------------------------- matching


def line_pattern(line: str) -> str:
    """A shown output line as a regular expression: placeholders become their patterns, runs
    of spaces inside the line match any run of spaces, everything else is literal.

    >>> bool(re.fullmatch(line_pattern("wrote a.mp4 in <time> s"), "wrote a.mp4 in 12.4 s"))
    True
    >>> bool(re.fullmatch(line_pattern("  a  <size>"), "  a   1.5 MiB"))
    True
    >>> bool(re.fullmatch(line_pattern("  a <size>"), " a 1.5 MiB"))
    False
    """
    indent = len(line) - len(line.lstrip(" "))
    out = [re.escape(line[:indent])]
    for part in re.split(r"( +|<time>|<fps>|<size>|<id>)", line[indent:]):
        if not part:
            continue
        if part in PLACEHOLDERS:
            out.append(PLACEHOLDERS[part])
        elif part.startswith(" "):
            out.append(" +")
        else:
            out.append(re.escape(part))
    return "".join(out)


def matches(expected: list[str], actual: list[str]) -> bool:
    """Whether ``actual`` (lines, trailing spaces removed) is what ``expected`` shows.

    >>> matches(["a", "...", "c"], ["a", "b", "b", "c"])
    True
    >>> matches(["a", "...", "c"], ["a", "c"])
    True
    >>> matches(["a"], ["a", "b"])
    False
    """
    pattern = "".join(r"(?:[^\n]*\n)*?" if e.strip() == ELLIPSIS else line_pattern(e.rstrip()) + r"\n"
                      for e in expected)
    return re.fullmatch(pattern, "".join(a + "\n" for a in actual)) is not None


_HEX = re.compile(r"\b(?=[0-9a-f]*[0-9])(?=[0-9a-f]*[a-f])[0-9a-f]{6,64}\b")
_SIZE = re.compile(r"\d+(?:\.\d+)? (?:B|KiB|MiB|GiB|TiB|kB|KB|MB|GB|TB)\b")


def mask(line: str, command: str) -> str:
    """``line`` of ``command``'s output with what varies between machines replaced by
    placeholders (for ``--update-golden``).

    >>> mask("wrote f.mp4 (20.00 s, 640x360 at 24 fps) in 12.4 s", "nyeshc f.nysh")
    'wrote f.mp4 (20.00 s, 640x360 at 24 fps) in <time> s'
    >>> mask("    0cde4fad3b  alphabet GLOW  ~0.25s cpu  cached", "nyeshc plan f.nysh")
    '    <id>  alphabet GLOW  ~0.25s cpu  cached'
    >>> mask("  overlap morph 1→2  frames 264–312 morph 4611771890", "nyeshc plan f.nysh")
    '  overlap morph 1→2  frames 264–312 morph <id>'
    """
    line = re.sub(r"^(wrote .*\bin )\d+(?:\.\d+)?( s)$", r"\1<time>\2", line)
    if line.startswith("  start ") and "check + plan" in line:
        line = re.sub(r"\d+(?:\.\d+)? s\b", "<time> s", line)
    line = re.sub(r"(\d+/\d+ +)\d+(?:\.\d+)?( fps)", r"\1<fps>\2", line)
    if re.search(r"\bnyeshc cache\b", command):
        line = _SIZE.sub("<size>", line)
    if re.search(r"\bnyeshc plan\b", command):  # its ids have 10 digits, and may have no letter
        line = re.sub(r"\b[0-9a-f]{10}\b", "<id>", line)
    return _HEX.sub("<id>", line)


def merge(expected: list[str], actual: list[str], command: str) -> list[str]:
    """The shown output updated to ``actual``, keeping what still holds: each shown line that
    matches its printed line stays (placeholders included), each ``...`` stays and goes on
    standing for the lines it covers, and the rest is the printed lines, masked. (The
    alignment with the fewest lines changed.)

    >>> merge(["a", "...", "disk: 1 MB"], ["a", "b", "c", "disk: 2 MB"], "nyeshc plan f.nysh")
    ['a', '...', 'disk: 2 MB']
    >>> merge(["x <time>", "y"], ["x 1.5", "z", "y"], "cmd")
    ['x <time>', 'z', 'y']
    """
    n, m = len(expected), len(actual)
    inf = float("inf")
    cost = [[inf] * (m + 1) for _ in range(n + 1)]
    step: dict[tuple[int, int], tuple[int, int, str]] = {}
    cost[0][0] = 0

    def relax(i: int, j: int, ni: int, nj: int, c: float, how: str) -> None:
        if ni <= n and nj <= m and cost[i][j] + c < cost[ni][nj]:
            cost[ni][nj] = cost[i][j] + c
            step[(ni, nj)] = (i, j, how)

    for i in range(n + 1):
        for j in range(m + 1):
            if cost[i][j] == inf:
                continue
            if i < n and expected[i].strip() == ELLIPSIS:
                relax(i, j, i, j + 1, 0, "absorb")
                relax(i, j, i + 1, j, 0, "keep")
                continue
            if i < n and j < m:
                same = re.fullmatch(line_pattern(expected[i].rstrip()), actual[j]) is not None
                relax(i, j, i + 1, j + 1, 0 if same else 1, "keep" if same else "replace")
            if i < n:
                relax(i, j, i + 1, j, 1, "drop")
            if j < m:
                relax(i, j, i, j + 1, 1, "add")
    out: list[str] = []
    i, j = n, m
    while (i, j) != (0, 0):
        pi, pj, how = step[(i, j)]
        if how == "keep":
            out.append(expected[pi])
        elif how in ("replace", "add"):
            out.append(mask(actual[pj], command))
        i, j = pi, pj
    return out[::-1]


# --------------------------------------------------------------------------- running


class Shell:
    """One ``bash`` session: commands run one after another, sharing the folder and variables;
    each one's output (stdout and stderr, interleaved as written) and exit status."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(["bash", "--noprofile", "--norc"], cwd=cwd, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.cwd = cwd
        self.chunks: queue.Queue[bytes] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.buffer = b""

    def _read(self) -> None:
        assert self.proc.stdout is not None
        while chunk := self.proc.stdout.read1(65536):
            self.chunks.put(chunk)
        self.chunks.put(b"")

    def run(self, command: str, timeout: float = COMMAND_TIMEOUT_S) -> tuple[str, int]:
        """``command``'s output and exit status; the session's folder afterwards is ``self.cwd``."""
        assert self.proc.stdin is not None
        mark = f"__docs_test_{uuid.uuid4().hex}__"
        # stdin is /dev/null: a command must not read the session's own input
        script = (f"{{\n{command}\n}} </dev/null\n__docs_rc=$?; printf '\\n{mark} %s %s\\n' \"$__docs_rc\" \"$PWD\"; "
                  f"(exit $__docs_rc)\n")
        self.proc.stdin.write(script.encode())
        self.proc.stdin.flush()
        end = f"\n{mark} ".encode()
        deadline = time.monotonic() + timeout
        while end not in self.buffer or b"\n" not in self.buffer.split(end, 1)[1]:
            left = deadline - time.monotonic()
            if left <= 0:
                self.close()
                raise TimeoutError(f"{command!r} ran for more than {timeout:.0f} s")
            try:
                chunk = self.chunks.get(timeout=left)
            except queue.Empty:
                continue
            if not chunk:
                raise RuntimeError(f"the shell exited during {command!r}:\n{self.buffer.decode(errors='replace')}")
            self.buffer += chunk
        output, rest = self.buffer.split(end, 1)
        status_line, self.buffer = rest.split(b"\n", 1)
        rc, cwd = status_line.decode().split(" ", 1)
        self.cwd = Path(cwd)
        return output.decode("utf-8", errors="replace"), int(rc)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def session_env(home: Path, bin_dir: Path) -> dict[str, str]:
    """The environment of a page's session: this interpreter's nyeshc first on PATH, no
    terminal, fixed width, no colours, unbuffered, a home of its own."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "CLICOLOR_FORCE", "COLUMNS", "LINES",
                        "JUPYTER_COLUMNS", "PROMPT_COMMAND", "BASH_ENV", "ENV", "CDPATH"}}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", HOME=str(home), COLUMNS="80", LINES="24",
               TERM="dumb", NO_COLOR="1", PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8")
    return env


def nyeshc_shim(bin_dir: Path) -> None:
    """``nyeshc`` on the session's PATH: the nyeshc this test imports, with this interpreter
    (the installed console script does the same: ``sys.exit(main())``)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    shim = bin_dir / "nyeshc"
    shim.write_text(f"#!/bin/sh\nexec '{sys.executable}' -c 'import sys; from nyeshc.cli import main; "
                    f"sys.exit(main())' \"$@\"\n", encoding="utf-8")
    shim.chmod(0o755)


@dataclass
class Outcome:
    console: Console
    command: Command
    actual: list[str]
    ok: bool


@dataclass
class Run:
    outcomes: list[Outcome] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def run_page(page: Path, steps: list[Step], tmp: Path) -> Run:
    """Every step of the page in order, in a fresh folder under ``tmp``."""
    work = tmp / "work"
    shutil.copytree(REPO / "examples", work / "examples",
                    ignore=shutil.ignore_patterns("*.lock", "*.srt", "*.vtt", "*.mp4", ".nyeshc-cache"))
    bin_dir = tmp / "bin"
    nyeshc_shim(bin_dir)
    (tmp / "home").mkdir()
    shell = Shell(work, session_env(tmp / "home", bin_dir))
    result = Run()
    where = page.relative_to(REPO).as_posix()
    try:
        for step in steps:
            if isinstance(step, WriteFile):
                (shell.cwd / step.name).write_text(step.text, encoding="utf-8")
            elif isinstance(step, Edit):
                target = shell.cwd / step.name
                text = target.read_text(encoding="utf-8") if target.exists() else ""
                if text.count(step.old) != 1:
                    result.problems.append(f"{where}:{step.line}: the edit's old text occurs "
                                           f"{text.count(step.old)} times in {step.name}, not once")
                    continue
                text = text.replace(step.old, step.new)
                target.write_text(text, encoding="utf-8")
                if step.shown is not None and step.shown not in text:
                    result.problems.append(f"{where}:{step.line}: the nysh block under the edit is not in "
                                           f"{step.name} after it")
            elif step.run:
                for command in step.commands:
                    output, _ = shell.run(command.text)
                    actual = [ln.rstrip() for ln in output.replace(str(work.resolve()), DIR)
                              .replace(str(work), DIR).split("\n")]
                    while actual and not actual[-1]:
                        actual.pop()
                    result.outcomes.append(Outcome(step, command, actual, matches(command.expected, actual)))
    finally:
        shell.close()
    return result


def updated_page(text: str, run: Run) -> str:
    """``text`` with the output of every command that ran replaced by what it printed (kept
    as it is where it still matches)."""
    lines = text.split("\n")
    by_console: dict[int, list[Outcome]] = {}
    for o in run.outcomes:
        by_console.setdefault(o.console.line, []).append(o)
    for start in sorted(by_console, reverse=True):
        outcomes = by_console[start]
        console = outcomes[0].console
        body: list[str] = []
        for o in outcomes:
            body.append(f"$ {o.command.text}")
            body.extend(o.command.expected if o.ok else merge(o.command.expected, o.actual, o.command.text))
        lines[console.line:console.end - 1] = body
    return "\n".join(lines)


def report(page: Path, run: Run) -> str:
    where = page.relative_to(REPO).as_posix()
    parts = list(run.problems)
    for o in run.outcomes:
        if o.ok:
            continue
        # the printed lines with times, ids... as placeholders: the diff shows what differs
        printed = [mask(a, o.command.text) for a in o.actual]
        diff = "\n".join(difflib.unified_diff(o.command.expected, printed, "shown", "printed", lineterm=""))
        parts.append(f"{where}:{o.command.line}: $ {o.command.text}\n{diff}")
    return "\n\n".join(parts)


# --------------------------------------------------------------------------- the tests


def pages_with_commands() -> Iterator[object]:
    for page in PAGES:
        steps = parse_page(page.read_text(encoding="utf-8"))
        if any(c.run for c in consoles(steps)):
            rel = page.relative_to(REPO).as_posix()
            marks = [pytest.mark.slow] if rel in SLOW_PAGES else []
            yield pytest.param(page, id=rel, marks=marks)


@pytest.mark.parametrize("page", list(pages_with_commands()))
def test_commands_print_what_the_page_shows(page: Path, tmp_path: Path, update_golden: bool) -> None:
    if shutil.which("bash") is None:
        pytest.skip("needs bash")
    text = page.read_text(encoding="utf-8")
    run = run_page(page, parse_page(text), tmp_path)
    if update_golden:
        new = updated_page(text, run)
        if new != text:
            page.write_text(new, encoding="utf-8")
        assert not run.problems, "\n".join(run.problems)
        return
    assert all(o.ok for o in run.outcomes) and not run.problems, (
        "a command printed something else than the page shows; rerun with --update-golden and review "
        "the diff\n\n" + report(page, run))


def test_the_tutorial_and_the_readme_run_commands() -> None:
    ran = {p.values[0].relative_to(REPO).as_posix() for p in pages_with_commands()}  # type: ignore[union-attr]
    assert {"README.md", "docs/tutorial.md"} <= ran


def test_a_command_and_its_output_are_one_console_block() -> None:
    """A ```sh block straight followed by a ```text (or ```diff) block is a command and its
    output that nothing checks: write it as one ```console block (or ```console not-run)."""
    found = []
    for page in PAGES:
        lines = page.read_text(encoding="utf-8").split("\n")
        previous = ""  # the language of the block just closed, while only blank lines follow it
        i = 0
        while i < len(lines):
            m = _FENCE.match(lines[i])
            if not m:
                if lines[i].strip():
                    previous = ""
                i += 1
                continue
            lang = (m.group("info").split() or [""])[0]
            if previous in {"sh", "bash", "shell"} and lang in {"text", "diff", ""}:
                found.append(f"{page.relative_to(REPO).as_posix()}:{i + 1}")
            j = i + 1
            while j < len(lines) and not (lines[j].startswith(m.group("fence")[:3]) and not lines[j].strip("`~ ")):
                j += 1
            previous = lang
            i = j + 1
    assert not found, "command blocks followed by their output (make them ```console blocks): " + ", ".join(found)


def test_a_changed_output_fails(tmp_path: Path) -> None:
    page = REPO / "README.md"
    good = parse_page("```console\n$ echo one; echo 'took 1.5 s'\none\ntook <time> s\n```\n")
    bad = parse_page("```console\n$ echo one; echo 'took 1.5 s'\ntwo\ntook <time> s\n```\n")
    assert all(o.ok for o in run_page(page, good, tmp_path / "good").outcomes)
    run = run_page(page, bad, tmp_path / "bad")
    assert not run.outcomes[0].ok
    assert "-two" in report(page, run) and "+one" in report(page, run)


def test_files_edits_folders_and_status_carry_over(tmp_path: Path) -> None:
    page = REPO / "README.md"
    text = (
        "```console\n$ mkdir d && cd d\n```\n\n"
        "```nysh file=f.nysh\nx: 1\ny: 2\n```\n\n"
        "<!-- docs-test: replace in f.nysh\ny: 2\nwith\ny: 3\n-->\n\n"
        "```nysh\ny: 3\n```\n\n"
        "```console\n$ cat f.nysh; false\nx: 1\ny: 3\n$ echo $? && pwd\n1\n<dir>/d\n```\n\n"
        "```console not-run\n$ exit 3\nnever\n```\n"
    )
    steps = parse_page(text)
    run = run_page(page, steps, tmp_path)
    assert not run.problems, run.problems
    assert [o.ok for o in run.outcomes] == [True, True, True], report(page, run)
    # what the comment says it shows must be what the edit made
    wrong = parse_page(text.replace("```nysh\ny: 3\n```", "```nysh\ny: 4\n```"))
    assert run_page(page, wrong, tmp_path / "wrong").problems


def test_update_keeps_matching_outputs_and_masks_new_ones(tmp_path: Path) -> None:
    page = REPO / "README.md"
    text = ("```console\n$ echo 'wrote f.mp4 (1.00 s, 8x8 at 8 fps) in 3.2 s'\nwrote f.mp4 (1.00 s, 8x8 at 8 fps) "
            "in <time> s\n$ echo 'ab12cd34ef new'\nold\n```\n")
    run = run_page(page, parse_page(text), tmp_path)
    assert updated_page(text, run) == ("```console\n$ echo 'wrote f.mp4 (1.00 s, 8x8 at 8 fps) in 3.2 s'\n"
                                       "wrote f.mp4 (1.00 s, 8x8 at 8 fps) in <time> s\n$ echo 'ab12cd34ef new'\n"
                                       "<id> new\n```\n")
