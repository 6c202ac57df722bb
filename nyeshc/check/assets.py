"""Assets: every file a script names exists, lies inside the project, and is what it claims to
be — judged by its first bytes (read through the World), never by its name.

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
from nyeshc.world import OutsideProject

_IMAGE = frozenset({"image"})
_AUDIO = frozenset({"audio"})
_VIDEO = frozenset({"video"})
_AV = frozenset({"audio", "video"})
_NONE: frozenset[str] = frozenset()

_AUDIO_BRANDS = (b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B ")
_VIDEO_BRANDS = (b"qt  ",)


def sniff(head: bytes) -> tuple[str, frozenset[str]]:
    """What a file's first bytes say it is: a description and the kinds it can serve as."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "a PNG image", _IMAGE
    if head.startswith(b"\xff\xd8\xff"):
        return "a JPEG image", _IMAGE
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "a GIF", frozenset({"image", "video"})
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "a WebP image", _IMAGE
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "a WAV recording", _AUDIO
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "an AVI video", _VIDEO
    if head.startswith(b"BM") and len(head) >= 14:
        return "a BMP image", _IMAGE
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "a TIFF image", _IMAGE
    if head.startswith(b"fLaC"):
        return "a FLAC recording", _AUDIO
    if head.startswith(b"OggS"):
        return "an Ogg recording", _AUDIO
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "an AIFF recording", _AUDIO
    if head.startswith(b"ID3"):
        return "an MP3 recording", _AUDIO
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _AUDIO_BRANDS:
            return "an M4A recording", _AUDIO
        if brand in _VIDEO_BRANDS:
            return "a QuickTime movie", _AV
        return "an MP4 file", _AV
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "a WebM/Matroska file", _AV
    if len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0 and (head[1] & 0x06) != 0:
        return "an MP3 recording", _AUDIO
    if not head:
        return "an empty file", _NONE
    try:
        head.decode("utf-8")
        return "text", _NONE
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3 and exc.reason == "unexpected end of data":
            return "text", _NONE  # a character cut in two by the end of the sample
        return "data of an unknown format", _NONE


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
                heads[target] = sniff(world.head(target, 64)) if world.is_file(target) else None
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
