"""The encoder: streams, atomic output, cleanup on failure; subtitles files."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from render_support import FPS, H, W, decode, sine, streams, video_pts

from nyeshc.plan.model import Subtitle
from nyeshc.render.encoder import EncodeError, Encoder
from nyeshc.render.subtitles import srt, timestamp, vtt, write_srt, write_vtt


def _frames(n: int) -> list[np.ndarray]:
    out = []
    for i in range(n):
        f = np.zeros((H, W, 3), np.uint8)
        f[..., 0] = 20 * i
        out.append(f)
    return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie counts as dead
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().split()[2] != "Z"


def test_encodes_h264_aac_with_exact_frames(tmp_path: Path) -> None:
    out = tmp_path / "a.mp4"
    with Encoder(out, W, H, FPS, audio=sine(1.0, channels=2), preset="ultrafast", crf=18) as enc:
        for f in _frames(12):
            enc.write(f)
    frames, meta = decode(out)
    assert len(frames) == 12 and video_pts(out) == list(range(12))
    assert streams(out) == ("h264", "aac 48000")
    assert abs(int(frames[5][10, 10, 0]) - 100) <= 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp4"]


def test_exception_mid_stream_leaves_nothing_and_kills_ffmpeg(tmp_path: Path) -> None:
    out = tmp_path / "b.mp4"
    pid = None
    with pytest.raises(RuntimeError, match="boom"):
        with Encoder(out, W, H, FPS, audio=sine(1.0), preset="ultrafast") as enc:
            pid = enc.pid
            for i, f in enumerate(_frames(12)):
                enc.write(f)
                if i == 5:
                    raise RuntimeError("boom")
    assert pid is not None and not _alive(pid)
    assert list(tmp_path.iterdir()) == []


def test_failure_keeps_the_existing_output(tmp_path: Path) -> None:
    out = tmp_path / "c.mp4"
    out.write_bytes(b"the old film")
    with pytest.raises(KeyboardInterrupt):
        with Encoder(out, W, H, FPS, preset="ultrafast") as enc:
            enc.write(_frames(1)[0])
            raise KeyboardInterrupt
    assert out.read_bytes() == b"the old film" and sorted(tmp_path.iterdir()) == [out]
    # an ffmpeg error: its stderr is quoted, the old file stays
    with pytest.raises(EncodeError, match="preset"):
        with Encoder(out, W, H, FPS, preset="no-such-preset") as enc:
            for f in _frames(3):
                enc.write(f)
    assert out.read_bytes() == b"the old film" and sorted(tmp_path.iterdir()) == [out]


def test_odd_canvas_is_padded(tmp_path: Path) -> None:
    out = tmp_path / "odd.mp4"
    with Encoder(out, 33, 21, Fraction(24), preset="ultrafast") as enc:
        for _ in range(3):
            enc.write(np.full((21, 33, 3), 128, np.uint8))
    frames, meta = decode(out)
    assert meta["size"] == (34, 22) and len(frames) == 3


SUBS = (Subtitle(Fraction(1, 3), Fraction(5, 2), "Nyeshkerh.", "NARRATOR"),
        Subtitle(Fraction(3725) + Fraction(1, 24), Fraction(3726), "a <b> & c\nline two", "GIRL"))


def test_srt_and_vtt(tmp_path: Path) -> None:
    assert timestamp(Fraction(1, 3)) == "00:00:00,333" and timestamp(Fraction(2, 3), ".") == "00:00:00.667"
    assert srt(SUBS) == ("1\n00:00:00,333 --> 00:00:02,500\nNyeshkerh.\n\n"
                         "2\n01:02:05,042 --> 01:02:06,000\na <b> & c\nline two\n")
    assert vtt(SUBS) == ("WEBVTT\n\n00:00:00.333 --> 00:00:02.500\n<v NARRATOR>Nyeshkerh.\n\n"
                         "01:02:05.042 --> 01:02:06.000\n<v GIRL>a &lt;b&gt; &amp; c\nline two\n")
    p = write_srt(SUBS, tmp_path / "x.srt")
    q = write_vtt(SUBS, tmp_path / "x.vtt")
    assert p.read_text() == srt(SUBS) and q.read_text() == vtt(SUBS)
    assert sorted(x.name for x in tmp_path.iterdir()) == ["x.srt", "x.vtt"]
