"""Assets: every file a script names exists, lies inside the project, and is what it claims to
be — judged by its first bytes (read through the World), never by its name.

The judging is :func:`nyeshc.media.sniff`, the same recognition the build uses to tell ffmpeg
which container to open: a file this check calls a WAV recording is decoded as WAV.

>>> sniff(b"\\x89PNG\\r\\n\\x1a\\n....")
('a PNG image', frozenset({'image'}))
>>> sniff(b"RIFF\\x24\\x00\\x00\\x00WAVEfmt ")
('a WAV recording', frozenset({'audio'}))
>>> sniff(b"title: a script")[0]
'text'
"""

from __future__ import annotations

from pathlib import Path

from nyeshc.check.context import Context
from nyeshc.diagnostics import Sink, error
from nyeshc.media import HEAD, sniff
from nyeshc.world import OutsideProject

__all__ = ["check_assets", "sniff"]

_CODES = {"image": "E502", "audio": "E503", "video": "E504"}
_WANTED = {"image": "an image (PNG, JPEG, GIF, WebP, BMP or TIFF)",
           "audio": "audio (WAV, FLAC, Ogg, MP3, AIFF or M4A)",
           "video": "a video (MP4, MOV, WebM, MKV, AVI or GIF)"}


def check_assets(ctx: Context, sink: Sink) -> None:
    """E505 a file outside the project, E501 a missing file, E502/E503/E504 a file that is not
    an image, audio or video by its content. Each file is read once (its first bytes only)."""
    world = ctx.world
    if world is None:
        return
    heads: dict[Path, tuple[str, frozenset[str]] | None] = {}
    for use in ctx.uses.assets:
        rel, span = use.path.text, use.path.span
        try:
            target = world.resolve(rel, ctx.base(span.file))
        except OutsideProject:
            sink.add(error("E505", f"{rel!r} is outside the project", span,
                           f"copy it into {world.display(world.root)}, or pass --allow-outside"))
            continue
        except (OSError, ValueError, RuntimeError) as exc:
            sink.add(error("E501", f"cannot find {rel!r}: {exc}", span))
            continue
        if target not in heads:
            try:
                heads[target] = sniff(world.head(target, HEAD)) if world.is_file(target) else None
            except OSError:
                heads[target] = None
        found = heads[target]
        if found is None:
            sink.add(error("E501", f"{rel!r} not found", span, f"looked for {world.display(target)}"))
            continue
        description, kinds = found
        if use.kind not in kinds:
            sink.add(error(_CODES[use.kind], f"{rel!r} is not {_WANTED[use.kind].split(' (')[0]}: it is {description}",
                           span, f"{use.what} needs {_WANTED[use.kind]}"))
