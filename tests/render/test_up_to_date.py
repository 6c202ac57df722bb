"""A rebuild with nothing changed writes nothing: the assembled MP4 is left as it is.

``render_film`` notes in the cache (``outputs/``) which assembly each output file holds — the
keys of its segments, the mix, the audio encoding and the tags — together with the file's size,
modification time and inode. When all of them still match, the rebuild runs no ffmpeg; a file
touched, replaced or deleted since, or a film whose segments or tags changed, is assembled again.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

FILM = '''title: "Still here"
canvas: 64x36, 12fps

SCENE 1 "One", 1s:
    caption: "first"

CUT TO:

SCENE 2 "Two", 1s:
    caption: "second"
'''

pytestmark = pytest.mark.slow


def _build(folder: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "nyeshc.cli", "build", "film.nysh", "-o", "film.mp4", "-q"],
                         cwd=folder, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr


def _identity(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return st.st_ino, st.st_mtime_ns, st.st_size


def test_nothing_changed_leaves_the_file_and_a_touched_or_edited_film_is_assembled_again(tmp_path: Path) -> None:
    (tmp_path / "film.nysh").write_text(FILM, encoding="utf-8")
    out = tmp_path / "film.mp4"
    _build(tmp_path)
    first, data = _identity(out), out.read_bytes()
    notes = [p for p in (tmp_path / ".nyeshc-cache" / "outputs").glob("*.json")
             if not p.name.endswith(".built.json")]  # the build's own note: tests/test_uptodate.py
    assert len(notes) == 1

    _build(tmp_path)  # nothing changed: not even replaced by the same bytes
    assert _identity(out) == first

    os.utime(out, ns=(first[1] + 10**9, first[1] + 10**9))  # touched by someone else: assembled again
    _build(tmp_path)
    assert _identity(out)[0] != first[0]
    assert out.read_bytes() == data  # from the cached segments and mix: the same file

    moved = _identity(out)
    out.unlink()  # deleted: written again
    _build(tmp_path)
    assert out.read_bytes() == data
    assert _identity(out)[0] != moved[0] or _identity(out)[1] != moved[1]

    (tmp_path / "film.nysh").write_text(FILM.replace('title: "Still here"', 'title: "Renamed"'), encoding="utf-8")
    _build(tmp_path)  # only the tags changed: the segments are reused, the file is new
    assert out.read_bytes() != data
    assert b"Renamed" in out.read_bytes()
