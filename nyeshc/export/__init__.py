"""Interchange: the film in other tools' formats.

* :mod:`nyeshc.export.otio` — OpenTimelineIO timelines (``.otio``/``.otioz``) and, through the
  OTIO adapter plugins, FCP 7 XML (``.xml``) and CMX 3600 EDL (``.edl``); media the editor can
  read, at the canvas size and placed, are made from the cache's artifacts by
  :mod:`nyeshc.export.media`.
* :mod:`nyeshc.export.fountain` — the film as a Fountain screenplay that ``nyeshc import``
  (:mod:`nyeshc.syntax.fountain`, the front end's Fountain reader) reads back into the same film.
* :mod:`nyeshc.export.subtitles` — SRT/WebVTT alone.
* :mod:`nyeshc.export.conform` — the way back: an editor's cut of an exported timeline turned
  into edits of the script (``nyeshc conform``).
* :mod:`nyeshc.export.storyboard` — the film's shots as a storyboard, a PDF (fpdf2) or one HTML
  file (``nyeshc storyboard``).

Optional packages (``opentimelineio`` and the adapter plugins) are imported only when used.
"""

from __future__ import annotations

FORMATS: dict[str, str] = {
    ".otio": "OpenTimelineIO",
    ".otioz": "OpenTimelineIO bundle (timeline + media in one zip)",
    ".xml": "FCP 7 XML (Premiere Pro, DaVinci Resolve)",
    ".edl": "CMX 3600 EDL (one list per track)",
    ".fountain": "Fountain screenplay",
    ".srt": "SubRip subtitles",
    ".vtt": "WebVTT subtitles",
}

ALIASES: dict[str, str] = {"fcp": ".xml", "fcpxml": ".xml", "fcp7": ".xml", "cmx": ".edl", "cmx3600": ".edl",
                           "webvtt": ".vtt", "subrip": ".srt"}


def format_for(path: str, to: str | None = None) -> str | None:
    """The format suffix for ``--to`` (a name or suffix) or ``path``'s extension; None if unknown."""
    if to:
        t = to.lower().lstrip(".")
        suffix = ALIASES.get(t, "." + t)
    else:
        import os

        suffix = os.path.splitext(path)[1].lower()
    return suffix if suffix in FORMATS else None
