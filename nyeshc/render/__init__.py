"""The render stage: compositor (numpy), audio mixer, encoder (ffmpeg), subtitles, segments.

``render_film(timeline, cache, out)`` is the entry point; ``render_still`` and ``write_png``
serve ``nyeshc still``. Everything here reads artifacts from the cache and never runs a model.
"""

from __future__ import annotations

from nyeshc.render.compositor import Compositor, RenderError
from nyeshc.render.encoder import EncodeError, Encoder, Interrupted
from nyeshc.render.mixer import mix
from nyeshc.render.segments import render_film, render_still, spans, write_png
from nyeshc.render.subtitles import write_srt, write_vtt

__all__ = ["Compositor", "Encoder", "EncodeError", "Interrupted", "RenderError", "mix", "render_film",
           "render_still", "spans", "write_png", "write_srt", "write_vtt"]
