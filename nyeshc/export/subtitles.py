"""Subtitles alone (``nyeshc export FILM.nysh -o FILM.srt``): the renderer's writers, from the
plan's timeline, without rendering anything."""

from __future__ import annotations

import os
from pathlib import Path

from nyeshc.plan.model import Timeline
from nyeshc.render.subtitles import write_srt, write_vtt


def write_subtitles(timeline: Timeline, path: str | os.PathLike[str], fmt: str = ".srt") -> Path:
    return write_vtt(timeline, path) if fmt == ".vtt" else write_srt(timeline, path)
