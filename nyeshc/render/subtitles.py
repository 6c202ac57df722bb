"""SubRip (``.srt``) and WebVTT (``.vtt``) files from ``timeline.subtitles``.

Times are the timeline's exact fractions rounded once to the millisecond (half up), so a cue
starts on the millisecond nearest its frame boundary. Files are written atomically (temporary
name in the same folder, then renamed).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

from nyeshc.plan.model import Subtitle, Timeline
from nyeshc.world import atomic_write_text

__all__ = ["srt", "vtt", "write_srt", "write_vtt", "timestamp"]


def timestamp(t: Fraction, sep: str = ",") -> str:
    """``HH:MM:SS,mmm`` (``sep="."`` for WebVTT) of ``t`` seconds, to the nearest millisecond.

    >>> timestamp(Fraction(3725, 1) + Fraction(1, 24))
    '01:02:05,042'
    """
    ms = int(Fraction(max(t, Fraction(0))) * 1000 + Fraction(1, 2))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _cues(subs: Iterable[Subtitle]) -> list[Subtitle]:
    return sorted((s for s in subs if s.end > s.start and s.text.strip()), key=lambda s: (s.start, s.end))


def srt(subtitles: Iterable[Subtitle]) -> str:
    """The SubRip text: numbered cues, ``-->`` times, the text, a blank line."""
    out = []
    for i, s in enumerate(_cues(subtitles), 1):
        text = "\n".join(line.rstrip() for line in s.text.strip().splitlines())
        out.append(f"{i}\n{timestamp(s.start)} --> {timestamp(s.end)}\n{text}\n")
    return "\n".join(out)


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def vtt(subtitles: Iterable[Subtitle]) -> str:
    """The WebVTT text; each cue carries its speaker as a voice span (``<v NAME>``)."""
    out = ["WEBVTT\n"]
    for s in _cues(subtitles):
        lines = [_vtt_escape(line.rstrip()) for line in s.text.strip().splitlines()]
        if s.character:
            lines[0] = f"<v {_vtt_escape(s.character)}>{lines[0]}"
        out.append(f"{timestamp(s.start, '.')} --> {timestamp(s.end, '.')}\n" + "\n".join(lines) + "\n")
    return "\n".join(out)


def write_srt(timeline: Timeline | Iterable[Subtitle], path: str | os.PathLike[str]) -> Path:
    subs = timeline.subtitles if isinstance(timeline, Timeline) else timeline
    return atomic_write_text(path, srt(subs))


def write_vtt(timeline: Timeline | Iterable[Subtitle], path: str | os.PathLike[str]) -> Path:
    subs = timeline.subtitles if isinstance(timeline, Timeline) else timeline
    return atomic_write_text(path, vtt(subs))
