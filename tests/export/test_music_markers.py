"""Exports carry the music's grid (issue #19): beat and bar markers on the music clip in OTIO,
at the cue's own beat times."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from nyeshc.cli import main

otio = pytest.importorskip("opentimelineio")

FILM = """canvas: 128x72, 24fps
soundtrack: THEME

music THEME:
    source: generate, tempo 120bpm, meter 3/4, length 4s

SCENE 1, 3s:
    backdrop: seed 1
"""


def test_the_music_clip_carries_beat_and_bar_markers(tmp_path: Path) -> None:
    script = tmp_path / "film.nysh"
    script.write_text(FILM, encoding="utf-8")
    out = tmp_path / "film.otio"
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = main(["export", str(script), "-o", str(out), "--cache", str(tmp_path / "cache")])
    assert rc == 0, err.getvalue()
    timeline = otio.adapters.read_from_file(str(out))
    [music] = [c for t in timeline.audio_tracks() for c in t.find_clips() if c.name == "soundtrack THEME"]
    marks = [(m.name, m.marked_range.start_time.to_seconds()) for m in music.markers]
    # 3 s of a 120 bpm cue: beats every 0.5 s, a bar every 3 beats
    assert marks == [("bar 1", 0.0), ("beat 2", 0.5), ("beat 3", 1.0), ("bar 2", 1.5), ("beat 5", 2.0),
                     ("beat 6", 2.5)]
    assert [m.color for m in music.markers][:2] == [otio.schema.MarkerColor.RED, otio.schema.MarkerColor.GREEN]
