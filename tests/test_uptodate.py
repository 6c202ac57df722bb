"""``nyeshc build`` with nothing changed decides so before importing the front end (#22).

Each case builds a tiny film once the ordinary way (which leaves the note), then changes one
thing the film depends on — or nothing — and builds again: "up to date" only when nothing
changed; anything else takes the ordinary path (it prints ``wrote``). The files' times are set
in the past, as a writer's files are: the note is not left for a file changed in the two
seconds before the build ends (see :mod:`nyeshc.uptodate`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from nyeshc import uptodate
from nyeshc.cli import main
from nyeshc.commands import common

FILM = '''title: "Still here"
canvas: 64x36, 12fps

SCENE 1 "One", 1s:
    backdrop: "sky.png"
    caption: "first"
    sound: "tone.wav", at 0s
'''

pytestmark = pytest.mark.slow


def _past(*paths: Path) -> None:
    then = time.time() - 60
    for p in paths:
        os.utime(p, (then, then))


@pytest.fixture
def film(tmp_path: Path) -> Path:
    from PIL import Image

    Image.new("RGB", (64, 36), (40, 90, 160)).save(tmp_path / "sky.png")
    with wave.open(str(tmp_path / "tone.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(48_000)
        w.writeframes((np.sin(np.arange(24_000) * 0.06) * 6000).astype("<i2").tobytes())
    script = tmp_path / "film.nysh"
    script.write_text(FILM, encoding="utf-8")
    _past(script, tmp_path / "sky.png", tmp_path / "tone.wav")
    return script


def _build(script: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    capsys.readouterr()
    rc = main(["build", str(script), "-o", str(script.with_suffix(".mp4")), *extra])
    err = capsys.readouterr().err
    assert rc == 0, err
    return err


def _fresh(script: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> bool:
    err = _build(script, capsys, *extra)
    assert ("is up to date" in err) != ("wrote " in err), err
    return "is up to date" in err


def _first(script: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> None:
    assert not _fresh(script, capsys, *extra)
    assert _fresh(script, capsys, *extra)


def test_nothing_changed_is_up_to_date_and_writes_nothing(film: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = film.with_suffix(".mp4")
    assert not _fresh(film, capsys)
    notes = list((film.parent / ".nyeshc-cache" / "outputs").glob(f"*{uptodate.NOTE_SUFFIX}"))
    assert len(notes) == 1
    written = {p: p.stat().st_mtime_ns for p in (out, out.with_suffix(".srt"), out.with_suffix(".vtt"),
                                                  film.with_name("film.nysh.lock"), notes[0])}
    assert _fresh(film, capsys)
    assert _fresh(film, capsys, "-j", "1", "-v")  # options that do not change the film
    assert {p: p.stat().st_mtime_ns for p in written} == written
    assert _build(film, capsys, "-q") == ""


def test_it_imports_nothing_heavy(film: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _first(film, capsys)
    code = ("import sys; from nyeshc.cli import main; rc = main(['build', 'film.nysh', '-o', 'film.mp4', '-q']); "
            "print(rc, sorted(m for m in ('numpy', 'lark', 'nyeshc.pipeline', 'nyeshc.syntax', 'nyeshc.plan', "
            "'nyeshc.render', 'PIL') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=film.parent, capture_output=True, text=True, timeout=120)
    assert done.stdout.split(None, 1) == ["0", "[]\n"], (done.stdout, done.stderr)


def _edit_script(film: Path) -> None:  # same size, same times: only its bytes tell
    st = film.stat()
    film.write_text(FILM.replace("first", "fir5t"), encoding="utf-8")
    os.utime(film, ns=(st.st_atime_ns, st.st_mtime_ns))


def _touch(name: str) -> Callable[[Path], None]:
    return lambda film: os.utime(film.parent / name)


def _delete(name: str) -> Callable[[Path], None]:
    return lambda film: (film.parent / name).unlink()


def _new_image(film: Path) -> None:
    from PIL import Image

    st = (film.parent / "sky.png").stat()
    Image.new("RGB", (64, 36), (160, 90, 40)).save(film.parent / "sky.png")
    os.utime(film.parent / "sky.png", ns=(st.st_atime_ns, st.st_mtime_ns))  # a new inode or size tells


def _config(film: Path) -> None:
    (film.parent / "nysh.toml").write_text("[profile.animatic]\n", encoding="utf-8")


CHANGES: dict[str, Callable[[Path], None]] = {
    "the script's bytes": _edit_script,
    "the script touched": _touch("film.nysh"),
    "a picture replaced": _new_image,
    "a recording touched": _touch("tone.wav"),
    "a nysh.toml appears": _config,
    "the film touched": _touch("film.mp4"),
    "the film deleted": _delete("film.mp4"),
    "the subtitles deleted": _delete("film.srt"),
    "the lock deleted": _delete("film.nysh.lock"),
}


@pytest.mark.parametrize("change", CHANGES, ids=list(CHANGES))
def test_a_change_takes_the_ordinary_path(film: Path, capsys: pytest.CaptureFixture[str], change: str) -> None:
    _first(film, capsys)
    CHANGES[change](film)
    assert not _fresh(film, capsys)
    assert film.with_suffix(".mp4").stat().st_size > 0


def test_options_environment_and_code_count(film: Path, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    _first(film, capsys)
    assert not _fresh(film, capsys, "--crf", "30")  # another film: built, and noted in its turn
    assert not _fresh(film, capsys)  # back: the note was for --crf 30
    _past(*film.parent.glob("film.*"))
    monkeypatch.setenv("NYESHC_FRAME_CODEC", "raw")
    assert not _fresh(film, capsys)
    monkeypatch.delenv("NYESHC_FRAME_CODEC")
    real = uptodate._code
    _first(film, capsys)
    monkeypatch.setattr(uptodate, "_code", lambda: [*real(), ["nyeshc/new.py", [1, 2, 3]]])  # nyeshc upgraded
    assert not _fresh(film, capsys)
    monkeypatch.setattr(uptodate, "_libraries", lambda: ["numpy-9.9.dist-info"])  # a library upgraded
    assert not _fresh(film, capsys)


def test_no_note_for_parts_warnings_or_an_edit_during_the_build(film: Path, capsys: pytest.CaptureFixture[str],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    notes = film.parent / ".nyeshc-cache" / "outputs"
    assert not _fresh(film, capsys, "--scene", "1")
    assert not _fresh(film, capsys, "--no-cache")
    assert not list(notes.glob(f"*{uptodate.NOTE_SUFFIX}"))
    film.write_text(FILM.replace('caption: "first"', 'caption: "first", at 5s'), encoding="utf-8")  # W: past its end
    err = _build(film, capsys)
    assert "warning" in err and not list(notes.glob(f"*{uptodate.NOTE_SUFFIX}"))
    film.write_text(FILM, encoding="utf-8")
    _first(film, capsys)  # saved just before the build: noted (what was read is what is there)
    # saved while the build runs (after planning read it): the film is of the old text, so no note
    real = common.run_jobs
    for name, edit in (("film.nysh", lambda p: p.write_text(FILM.replace("first", "later"), encoding="utf-8")),
                       ("sky.png", lambda p: p.write_bytes(p.read_bytes() + b"\0")),
                       ("nysh.toml", lambda p: p.write_text("[profile.animatic]\n", encoding="utf-8"))):
        def during(*a: object, name: str = name, edit: Callable[[Path], None] = edit, **kw: object) -> object:
            done = real(*a, **kw)
            edit(film.parent / name)
            return done

        monkeypatch.setattr(common, "run_jobs", during)
        os.utime(film.with_suffix(".mp4"))  # so that this build takes the ordinary path
        assert not _fresh(film, capsys), name
        assert not list(notes.glob(f"*{uptodate.NOTE_SUFFIX}")), name
        monkeypatch.setattr(common, "run_jobs", real)
        _first(film, capsys)  # built again from what is there now, and noted


def test_the_parser_knows_the_pipelines_executors() -> None:
    from nyeshc import pipeline

    assert common.EXECUTORS == pipeline.EXECUTORS
