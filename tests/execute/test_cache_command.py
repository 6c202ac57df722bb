"""``nyeshc cache info|clear|gc`` through the command line."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from nyeshc.cli import main
from nyeshc.execute import Cache

K1, K2 = "ab" + "1" * 62, "cd" + "2" * 62


@pytest.fixture(autouse=True)
def _only_written_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    """The parser imports every command module; leave out those not written yet."""
    import importlib.util

    from nyeshc import cli

    present = {k: v for k, v in cli.COMMANDS.items() if importlib.util.find_spec(f"nyeshc.commands.{k}")}
    monkeypatch.setattr(cli, "COMMANDS", present)


def _filled(root: Path) -> Cache:
    cache = Cache(root)
    cache.put(K1, np.zeros((10, 10, 3), np.uint8), backend="image.procedural", kind="image.render")
    cache.put(K2, np.zeros((100, 1), np.float32), backend="", kind="voice.track")
    tmp = cache.objects / "ab" / ".ab1111111111-x.tmp"
    tmp.write_bytes(b"partial")
    kept = cache.memo / "face-states" / "0123" / "0.5000_0.0000_1.0000_0.0000.state"
    kept.parent.mkdir(parents=True)
    kept.write_bytes(b"NYFS" + bytes(1020))  # a backend's memo (its files are its own business)
    return cache


def test_info(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _filled(tmp_path / "c")
    assert main(["cache", "info", "--cache", str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out
    assert "entries: 2" in out and "image.procedural" in out and "built-in" in out
    assert "voice.track" in out and "stray temporary files: 1" in out
    assert "memo (the backends' shortcuts, made again when missing): 1 files, 1.0 KiB" in out


def test_info_default_dir_beside_the_film(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    film = tmp_path / "film.nysh"
    film.write_text("TITLE: x\n")
    _filled(tmp_path / ".nyeshc-cache")
    assert main(["cache", "info", str(film)]) == 0
    assert "entries: 2" in capsys.readouterr().out
    monkeypatch.chdir(tmp_path)
    assert main(["cache", "info"]) == 0
    assert str(tmp_path / ".nyeshc-cache") in capsys.readouterr().out


def test_clear(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _filled(tmp_path / "c")
    assert main(["cache", "clear", "--cache", str(tmp_path / "c")]) == 0
    assert not (tmp_path / "c").exists()
    out = capsys.readouterr().out
    assert "removed" in out and "2 entries" in out
    assert main(["cache", "clear", "--cache", str(tmp_path / "c")]) == 0
    assert "nothing to remove" in capsys.readouterr().out


def test_gc_without_a_plan_removes_stray_files_and_old_entries(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    cache = _filled(tmp_path / "c")
    assert main(["cache", "gc", "--cache", str(tmp_path / "c")]) == 0
    assert cache.stray_files() == [] and cache.has(K1) and cache.has(K2)
    assert not cache.memo.exists()  # made again by the jobs that need it
    assert "1 stray files (7 B) and the memo (1 files, 1.0 KiB)" in capsys.readouterr().out
    # make K1 look 10 days old
    meta = cache.objects / "ab" / f"{K1}.json"
    import json

    rec = json.loads(meta.read_text())
    rec["created"] = time.time() - 10 * 86400
    meta.write_text(json.dumps(rec))
    assert main(["cache", "gc", "--cache", str(tmp_path / "c"), "--older-than", "7"]) == 0
    assert not cache.has(K1) and cache.has(K2)
    assert "removed 1 entries" in capsys.readouterr().out


def test_clear_refuses_a_cache_in_use(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from nyeshc.execute.local import hold_cache

    cache = _filled(tmp_path / "c")
    pid = os.fork()
    if pid == 0:  # a "build" holding the cache in another process
        with hold_cache(cache):
            time.sleep(1.5)
        os._exit(0)
    try:
        time.sleep(0.4)
        assert main(["cache", "clear", "--cache", str(cache.root)]) == 3
        assert cache.root.exists()
    finally:
        os.waitpid(pid, 0)
