"""The wheel ships the grammar and works outside the source tree; stages keep their layers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_installs_and_parses_examples(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)],
                   check=True, cwd=tmp_path)
    wheels = list(dist.glob("nyeshc-*.whl"))
    assert len(wheels) == 1
    # A fresh venv gets the wheel alone (installed by this interpreter's pip with --python, so
    # its console script lands in the venv, --no-deps); its dependencies are read from this
    # environment's site-packages, appended to the venv's path by a .pth line (whose own .pth
    # files, the editable install's finder among them, are not run). Installing every dependency
    # again took ~40 s; that they install is what the README's commands in a fresh venv, and CI's
    # `pip install -e .[test]`, show.
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    py = env_dir / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps", str(wheels[0])],
                   check=True, cwd=tmp_path)
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    ours = [p for p in map(Path, sys.path) if p.name == "site-packages" and p.is_dir()]
    (Path(site) / "outer-dependencies.pth").write_text("".join(f"{p}\n" for p in ours), encoding="utf-8")
    examples = tmp_path / "examples"
    shutil.copytree(ROOT / "examples", examples)
    code = (
        "import glob, nyeshc\n"
        "from importlib import resources\n"
        "from nyeshc.syntax import load\n"
        "assert 'site-packages' in nyeshc.__file__, nyeshc.__file__\n"
        "assert (resources.files('nyeshc') / 'grammar' / 'nysh.lark').is_file()\n"
        "assert (resources.files('nyeshc') / 'backends' / 'models' / 'manifest.toml').is_file()\n"
        "for f in sorted(glob.glob('examples/*.nysh')):\n"
        "    loaded = load(f)\n"
        "    assert not loaded.diagnostics, (f, loaded.diagnostics)\n"
        "    assert loaded.film.scenes, f\n"
        "print('ok')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([str(py), "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-3000:]
    # the console script is installed too
    version = subprocess.run([str(env_dir / "bin" / "nyeshc"), "--version"], capture_output=True, text=True, env=env)
    assert version.returncode == 0 and "nyeshc" in version.stdout


def test_stages_import_only_earlier_stages() -> None:
    """The import-linter contract in pyproject.toml: no stage imports a later one."""
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert exe, "import-linter is part of the test extra"
    result = subprocess.run([exe, "--config", str(ROOT / "pyproject.toml")], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ffmpeg_is_started_through_one_gate() -> None:
    """Only ``nyeshc.media`` finds and starts ffmpeg (and starts any child process at all):
    everything else calls its ``start``/``run``/``decode_video``, so every ffmpeg nyeshc runs is
    the bundled binary with the same quiet, keyboard-free arguments."""
    import ast

    starters = {"Popen", "run", "call", "check_call", "check_output", "getoutput", "getstatusoutput"}
    found = []
    for path in sorted((ROOT / "nyeshc").rglob("*.py")):
        if path == ROOT / "nyeshc" / "media.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
                if any(n and n.split(".")[0] == "imageio_ffmpeg" for n in names):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} imports imageio_ffmpeg")
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name) and node.func.value.id in {"subprocess", "os"}
                    and node.func.attr in starters | {"system", "popen", "spawnv", "execv"}):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} starts a process ({node.func.attr})")
    assert not found, found


def test_a_long_module_says_why_at_its_top() -> None:
    """No module in ``nyeshc/`` over 600 lines without a reason in its docstring ("This file is
    long (about N lines) on purpose: …"): a long file is either split or explained."""
    import ast

    unexplained = []
    for path in sorted((ROOT / "nyeshc").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > 600 and "This file is long" not in (ast.get_docstring(ast.parse(text)) or ""):
            unexplained.append(f"{path.relative_to(ROOT)} ({text.count(chr(10))} lines)")
    assert not unexplained, unexplained


def test_no_module_imports_another_modules_private_names() -> None:
    """``from nyeshc.x import _name`` and ``x._name`` on an imported nyeshc module, across
    modules: a private name is its module's business (shared code gets a public name)."""
    import ast

    found = []
    for path in sorted((ROOT / "nyeshc").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        modules: set[str] = set()  # local names bound to nyeshc modules
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("nyeshc"):
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        found.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {node.module}.{alias.name}")
                    modules.add(alias.asname or alias.name)  # may be a module (from nyeshc import media)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("nyeshc"):
                        modules.add(alias.asname or alias.name.split(".")[0])
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules
                    and node.attr.startswith("_") and not node.attr.startswith("__")):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} uses {node.value.id}.{node.attr}")
    assert not found, found
